"""scstd --fuse DIR: every block device of the node as a file DIR/dev/NAME.
Sizes, byte-exact I/O at odd offsets agreeing with what iSCSI sees (both
ways), mkfs.ext4 + e2fsck, partial-block writes, devices appearing live, drbd
refusing a writer on a Secondary, and SIGTERM unmounting (also under
valgrind: no leak).  Every test unmounts in its teardown, even on failure."""
import errno
import os
import random
import re
import signal
import subprocess

import pytest

from scstd_harness import (DEFAULT_TARGET, INITIATOR, Scstd, need, run,
                           sanitized_build, two_node_res)

import iscsi_raw

MiB = 1 << 20


def mounted(path):
    with open("/proc/mounts") as f:
        return any(line.split()[1] == str(path) for line in f)


def unmount(path):
    if mounted(path):
        subprocess.run([need("fusermount3"), "-u", "-z", str(path)], capture_output=True)


@pytest.fixture
def fuse_server(bins, tmp_path):
    """Start scstd with --fuse (plus extra args); stops, kills and unmounts after."""
    servers = []

    def start(*args, valgrind=False, name="scstd"):
        mnt = tmp_path / f"{name}-fuse"
        mnt.mkdir()
        s = Scstd(tmp_path, name=name, valgrind=valgrind, args=["--fuse", str(mnt), *args])
        s.mnt = mnt
        servers.append(s)
        s.start()
        assert mounted(mnt), f"{mnt} is not mounted:\n{s.stderr()}"
        return s

    yield start
    for s in servers:
        s.kill()
        unmount(s.mnt)


def lun0_bdev(s):
    """The bdev under the default LUN (device ram0), from `scstctl list bdevs`."""
    out = s.ctl("list", "bdevs").stdout
    m = re.search(r"bdev:(\S+) .*device:ram0\b", out)
    assert m, out
    return m.group(1)


def iscsi_read(s, offset, length):
    """Bytes [offset, offset+length) of LUN 0 read through iSCSI by qemu-img."""
    out = s.dir / "iscsi.read"
    first, last = offset // 512, (offset + length + 511) // 512
    if out.exists():
        out.unlink()
    # qemu-img dd's count ends the copy at that block of the input, skip included
    run([need("qemu-img"), "dd", "-f", "raw", "-O", "raw", "bs=512", f"skip={first}",
         f"count={last}", f"if={s.url()}", f"of={out}"], timeout=300)
    data = out.read_bytes()
    assert len(data) == (last - first) * 512, len(data)
    return data[offset - first * 512:][:length]


def pwrite_all(path, data, offset):
    fd = os.open(path, os.O_RDWR)
    try:
        assert os.pwrite(fd, data, offset) == len(data)
        os.fsync(fd)
    finally:
        os.close(fd)


def pread_all(path, length, offset):
    with open(path, "rb", buffering=0) as f:
        f.seek(offset)
        return f.read(length)


def close_after_unmount(fd):
    """close() of a file whose server went away: the kernel's flush says ENOTCONN."""
    try:
        os.close(fd)
    except OSError as e:
        assert e.errno == errno.ENOTCONN, e


def test_devices_sizes_and_io_agree_with_iscsi(fuse_server):
    s = fuse_server("--backstore", "tcmu000:64M")
    dev = s.mnt / "dev"
    assert os.listdir(s.mnt) == ["dev"]
    lun_dev = lun0_bdev(s)
    names = sorted(os.listdir(dev))
    assert names == sorted({"tcmu000", lun_dev}), names
    assert (dev / "tcmu000").stat().st_size == 64 * MiB
    assert (dev / lun_dev).stat().st_size == 1 << 30
    path = dev / lun_dev
    # a block-aligned 1 MiB and an unaligned one, read back through both views
    for offset in (4096 * 3 + 512, 5 * MiB + 1001):
        pattern = os.urandom(MiB)
        pwrite_all(path, pattern, offset)
        assert pread_all(path, MiB, offset) == pattern
        assert iscsi_read(s, offset, MiB) == pattern, f"iSCSI disagrees at {offset}"
    # and the other way: written through iSCSI, read through the file
    conn = iscsi_raw.Conn("127.0.0.1", s.port, timeout=60)
    try:
        conn.login(INITIATOR, DEFAULT_TARGET)
        bs = iscsi_raw.block_size(conn)
        data = os.urandom(64 * 1024)
        status, _, sense = conn.scsi(iscsi_raw.write10(20000, len(data) // bs), write=data)
        assert status == 0, sense.hex()
        conn.logout()
    finally:
        conn.close()
    assert pread_all(path, len(data), 20000 * bs) == data


def test_mkfs_ext4_and_fsck_clean(fuse_server):
    s = fuse_server("--backstore", "tcmu000:128M")
    path = s.mnt / "dev" / "tcmu000"
    run([need("mkfs.ext4"), "-F", "-q", str(path)], timeout=300)
    run([need("e2fsck"), "-fn", str(path)], timeout=300)  # exit 0: nothing to fix
    # dd with an odd block size into a file system image region and back
    pattern = os.urandom(3 * 333 * 7)
    src = s.dir / "pattern"
    src.write_bytes(pattern)
    run([need("dd"), f"if={src}", f"of={path}", "bs=333", "seek=1000001", "oflag=seek_bytes",
         "conv=notrunc"])
    run([need("cmp"), "-n", str(len(pattern)), "-i", "0:1000001", str(src), str(path)])


def test_unaligned_small_writes(fuse_server):
    s = fuse_server("--backstore", "tcmu000:8M")
    path = s.mnt / "dev" / "tcmu000"
    size = 8 * MiB
    region = 3 * 4096
    model = bytearray(pread_all(path, region, 0))
    rnd = random.Random(7)
    fd = os.open(path, os.O_RDWR)
    try:
        writes = [(7, 100), (0, 1), (511, 2), (1023, 1026), (4000, 200)]
        writes += [(rnd.randrange(region - 700), rnd.randrange(1, 700)) for _ in range(60)]
        for off, n in writes:
            data = bytes(rnd.randrange(256) for _ in range(n))
            assert os.pwrite(fd, data, off) == n
            model[off:off + n] = data
            assert os.pread(fd, n, off) == data
        assert os.pread(fd, region, 0) == bytes(model)
        # the end of the device: a short write, then no space; reads end there
        assert os.pwrite(fd, b"z" * 1000, size - 10) == 10
        with pytest.raises(OSError) as e:
            os.pwrite(fd, b"z", size)
        assert e.value.errno == errno.ENOSPC
        assert os.pread(fd, 100, size - 10) == b"z" * 10
        assert os.pread(fd, 100, size) == b""
    finally:
        os.close(fd)


def test_concurrent_partial_writes_to_shared_blocks(fuse_server):
    """Writers that share 512-byte blocks but not bytes: no update is lost.
    (The kernel takes the inode lock around each direct write to one file,
    so plain pwrite cannot put two of them in flight at once; scstd orders
    overlapping writes itself for async direct I/O, which this cannot reach.)"""
    import threading
    s = fuse_server("--backstore", "tcmu000:8M")
    path = s.mnt / "dev" / "tcmu000"
    nthreads, slot, rounds = 8, 37, 40
    final = {}

    def writer(t):
        fd = os.open(path, os.O_RDWR)
        try:
            for r in range(rounds):
                for k in range(16):
                    off = (k * nthreads + t) * slot
                    data = bytes([(t * 31 + r + k) % 256]) * slot
                    assert os.pwrite(fd, data, off) == slot
                    final[off] = data
        finally:
            os.close(fd)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(nthreads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    got = pread_all(path, 16 * nthreads * slot, 0)
    for off, data in final.items():
        assert got[off:off + slot] == data, f"lost update at {off}"


def test_devices_appear_live_and_busy_while_open(fuse_server):
    s = fuse_server("--backstore", "tcmu000:8M")
    dev = s.mnt / "dev"
    s.ctl("device", "add", "later", "--size", "16M")
    out = s.ctl("list", "bdevs").stdout
    name = re.search(r"bdev:(\S+) .*device:later\b", out).group(1)
    assert name in os.listdir(dev)
    assert (dev / name).stat().st_size == 16 * MiB
    with pytest.raises(FileNotFoundError):
        (dev / "nosuch").stat()
    pwrite_all(dev / name, b"hello", 12345)
    assert pread_all(dev / name, 5, 12345) == b"hello"
    s.ctl("device", "remove", "later")
    assert name not in os.listdir(dev)
    with pytest.raises(FileNotFoundError):
        (dev / name).stat()


def test_device_remove_while_its_file_is_open(fuse_server):
    """An open file holds the backstore: the SCSI device goes, the bdev stays
    (and says so), still readable, and a new device can take it."""
    s = fuse_server("--backstore", "tcmu000:8M")
    dev = s.mnt / "dev"
    s.ctl("device", "add", "held", "--size", "16M")
    name = re.search(r"bdev:(\S+) .*device:held\b", s.ctl("list", "bdevs").stdout).group(1)
    pwrite_all(dev / name, b"hello", 12345)
    fd = os.open(dev / name, os.O_RDWR)
    try:
        p = s.ctl("device", "remove", "held", check=False)
        assert p.returncode != 0 and f"it stays as bdev {name}" in p.stdout + p.stderr
        out = s.ctl("list", "bdevs").stdout
        assert not re.search(r"device:held\b", out), out
        assert os.pread(fd, 5, 12345) == b"hello"
    finally:
        os.close(fd)
    s.ctl("device", "add", "again", "--bdev", name)
    s.ctl("device", "remove", "again")
    assert name in os.listdir(dev)


def test_drbd_secondary_refuses_a_writer(fuse_server, tmp_path):
    """alpha alone (beta never starts): drbd1 appears when r0 comes up; as an
    Inconsistent Secondary it refuses a writer (EROFS, DRBD's answer); once
    forced Primary the file reads back what was written."""
    s = fuse_server("--drbd-config", str(two_node_res(tmp_path)), "--node", "alpha",
                    "--backstore", "tcmu001:16M", name="alpha")
    dev = s.mnt / "dev"
    assert "drbd1" not in os.listdir(dev)
    s.ctl("create-md", "r0")
    s.ctl("up", "r0")
    assert "drbd1" in os.listdir(dev)
    with pytest.raises(OSError) as e:
        os.open(dev / "drbd1", os.O_RDWR)
    assert e.value.errno == errno.EROFS, e.value
    s.ctl("primary", "--force", "r0")
    data = os.urandom(10000)
    pwrite_all(dev / "drbd1", data, 777)  # drbd1 has 4096-byte blocks
    assert pread_all(dev / "drbd1", len(data), 777) == data
    # an open file holds the device like any opener: no demotion, no down
    fd = os.open(dev / "drbd1", os.O_RDWR)
    try:
        for verb in ("secondary", "down"):
            p = s.ctl(verb, "r0", check=False)
            assert p.returncode == 1 and "held open" in p.stderr, p.stderr
        assert os.pwrite(fd, b"still", 5) == 5
    finally:
        os.close(fd)
    s.ctl("secondary", "r0")
    s.ctl("down", "r0")
    assert "drbd1" not in os.listdir(dev)


def test_sigterm_unmounts_and_exits_0(fuse_server):
    s = fuse_server("--backstore", "tcmu000:8M")
    held = os.open(s.mnt / "dev" / "tcmu000", os.O_RDWR)  # still open at the signal
    try:
        os.pwrite(held, b"x" * 100, 3)
        rc = s.stop(signal.SIGTERM, timeout=60)
    finally:
        close_after_unmount(held)
    assert rc == 0, s.stderr()
    assert not mounted(s.mnt), "the FUSE tree is still mounted"


def test_sigterm_under_valgrind_no_leak(fuse_server):
    s = fuse_server("--backstore", "tcmu000:8M", valgrind=True)
    path = s.mnt / "dev" / "tcmu000"
    pwrite_all(path, os.urandom(70000), 4097)
    assert len(pread_all(path, 70000, 4097)) == 70000
    os.listdir(s.mnt / "dev")
    held = os.open(path, os.O_RDONLY)
    try:
        rc = s.stop(signal.SIGTERM, timeout=300)
    finally:
        close_after_unmount(held)
    err = s.stderr()
    assert rc == 0, f"exit {rc} (99 = valgrind found leaks or errors):\n{err}"
    if not sanitized_build():
        assert "definitely lost" not in err and "Invalid" not in err, err
    assert not mounted(s.mnt)
