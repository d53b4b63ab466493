"""A clean shutdown under valgrind: SIGTERM with sessions open, an admin
client attached and I/O done, and the process exits 0 with no leak and no
memory error (valgrind's exit code 99 otherwise; umc_node_free's count of
live allocations makes scstd itself exit 1).  On an ASan build (make asan)
the same runs without valgrind: LeakSanitizer fails the exit code instead."""
import os
import signal
import socket

from scstd_harness import DEFAULT_TARGET, INITIATOR, Scstd, need, run

import iscsi_raw


def test_sigterm_under_valgrind_with_live_sessions(bins, tmp_path):
    s = Scstd(tmp_path, valgrind=True, args=["--record-io", str(tmp_path / "io.trace")]).start()
    try:
        src = tmp_path / "a.img"
        src.write_bytes(os.urandom(2 << 20))
        run([need("qemu-img"), "convert", "-n", "-f", "raw", "-O", "raw", str(src), s.url()],
            timeout=600)
        s.ctl("device", "add", "extra", "--size", "16M")
        s.ctl("lun", "add", DEFAULT_TARGET, "1", "extra")
        # a session left logged in, one mid-login, an admin client mid-request
        live = iscsi_raw.Conn("127.0.0.1", s.port, timeout=60)
        live.login(INITIATOR, DEFAULT_TARGET)
        status, _, _ = live.scsi(iscsi_raw.write10(8, 8), write=b"\x11" * 4096, lun=1)
        assert status == 0
        half = socket.create_connection(("127.0.0.1", s.port))
        half.sendall(bytes([0x43, 0x81]) + bytes(30))
        admin = socket.socket(socket.AF_UNIX)
        admin.connect(s.admin)
        admin.sendall(b"list")  # no newline: a request still arriving
        rc = s.stop(signal.SIGTERM, timeout=300)
        live.close()
        half.close()
        admin.close()
    finally:
        s.kill()
    err = s.stderr()
    assert rc == 0, f"exit {rc} (99 = valgrind found leaks or errors):\n{err}"
    assert "definitely lost" not in err and "Invalid" not in err, err


def test_drbd_pair_shutdown_under_valgrind(bins, tmp_path):
    """Two servers replicating r0, an events2 stream open, I/O done through
    drbd1: SIGTERM to both, no leak, no memory error."""
    import subprocess
    from scstd_harness import BIN, two_node_res
    res = two_node_res(tmp_path)
    nodes = []
    for name in ("alpha", "beta"):
        s = Scstd(tmp_path, name=name, valgrind=True,
                  args=["--drbd-config", res, "--node", name,
                        "--backstore", f"tcmu001:16M:{tmp_path / name}.img"]).start()
        nodes.append(s)
    a, b = nodes
    events = None
    try:
        for s in nodes:
            s.ctl("create-md", "r0")
            s.ctl("up", "r0")
        a.ctl("primary", "--force", "r0")
        events = subprocess.Popen([str(BIN / "scstctl"), "--admin", b.admin, "events2"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        a.ctl("device", "add", "d1", "--bdev", "drbd1")
        a.ctl("lun", "add", DEFAULT_TARGET, "1", "d1")
        c = iscsi_raw.Conn("127.0.0.1", a.port, timeout=60)
        c.login(INITIATOR, DEFAULT_TARGET)
        bs = iscsi_raw.block_size(c, lun=1)
        st, _, sense = c.scsi(iscsi_raw.write10(0, 32768 // bs), write=os.urandom(32768), lun=1)
        assert st == 0, sense.hex()
        c.logout()
        c.close()
        rcs = [s.stop(signal.SIGTERM, timeout=300) for s in nodes]
    finally:
        if events:
            events.kill()
        for s in nodes:
            s.kill()
    for s, rc in zip(nodes, rcs):
        assert rc == 0, f"{s.name}: exit {rc} (99 = valgrind found leaks or errors):\n{s.stderr()}"


def test_sigterm_during_io_under_valgrind(bins, tmp_path):
    """SIGTERM while qemu-img is writing: commands in flight finish or are
    dropped, the shutdown still frees everything."""
    import subprocess
    import time
    s = Scstd(tmp_path, valgrind=True).start()
    src = tmp_path / "big.img"
    src.write_bytes(os.urandom(64 << 20))
    writer = subprocess.Popen([need("qemu-img"), "convert", "-n", "-r", "8M", "-f", "raw", "-O",
                               "raw", str(src), s.url()], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        was_running = writer.poll() is None
        rc = s.stop(signal.SIGTERM, timeout=300)
    finally:
        writer.kill()
        writer.wait()
        s.kill()
    assert was_running, "the copy finished before the signal; nothing was in flight"
    assert rc == 0, f"exit {rc} (99 = valgrind found leaks or errors):\n{s.stderr()}"
