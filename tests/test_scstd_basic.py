"""scstd with real clients: the default LUN, discovery, INQUIRY, a 64 MiB
round trip through qemu-img, the admin client and its exit codes, I/O
recording, and a clean SIGTERM."""
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from scstd_harness import (BIN, DEFAULT_TARGET, INITIATOR, Scstd, free_port, inquiry_ok, need,
                           run, wait_for)


@pytest.fixture
def server(bins, tmp_path):
    s = Scstd(tmp_path).start()
    yield s
    s.kill()


def test_default_prints_url_and_serves_target(server):
    assert server.stdout().splitlines()[0] == \
        f"iscsi://127.0.0.1:{server.port}/{DEFAULT_TARGET}/0"
    out = run([need("iscsi-ls"), "-i", INITIATOR, f"iscsi://127.0.0.1:{server.port}"],
              text=True).stdout
    assert f"Target:{DEFAULT_TARGET}" in out.replace(" ", "")
    assert "127.0.0.1" in out


def test_iscsi_ls_shows_the_lun(server):
    out = run([need("iscsi-ls"), "-s", "-i", INITIATOR, f"iscsi://127.0.0.1:{server.port}"],
              text=True).stdout
    m = re.search(r"Lun:0\s+Type:DIRECT_ACCESS.*\(Size:(\d+\w)\)", out)
    assert m, out
    # iscsi-ls sizes a LUN from its last LBA: 1 GiB shows as 1023M (tgt too)
    assert m.group(1) == "1023M", out
    url = f"iscsi://127.0.0.1:{server.port}/{DEFAULT_TARGET}/0"
    size = run([need("iscsi-readcapacity16"), "-s", "-i", INITIATOR, url], text=True).stdout
    assert int(size.strip()) == 1 << 30, size


def test_iscsi_inq_standard_and_vpd(server):
    inq = need("iscsi-inq")
    out = run([inq, "-i", INITIATOR, server.url()], text=True).stdout
    assert "Peripheral Device Type:DIRECT_ACCESS" in out, out
    assert "Removable:0" in out, out
    pages = run([inq, "-e", "1", "-i", INITIATOR, server.url()], text=True).stdout
    for page in ("0x80 UNIT_SERIAL_NUMBER", "0x83 DEVICE_IDENTIFICATION", "0xb0 BLOCK_LIMITS",
                 "0xb2 LOGICAL_BLOCK_PROVISIONING"):
        assert f"Page:{page}" in pages, pages
    ident = run([inq, "-e", "1", "-c", "131", "-i", INITIATOR, server.url()], text=True).stdout
    assert "DEVICE DESIGNATOR #0" in ident, ident
    cap = run([need("iscsi-readcapacity16"), "-i", INITIATOR, server.url()], text=True).stdout
    assert "LOGICAL BLOCK LENGTH IN BYTES:512" in cap, cap
    assert "Total size:1073741824" in cap, cap
    assert "LBPME:1" in cap, "the default LUN is thin provisioned"


def test_qemu_img_round_trip_64mib(server, tmp_path):
    src, back = tmp_path / "src.img", tmp_path / "back.img"
    data = os.urandom(64 << 20)
    src.write_bytes(data)
    qemu = need("qemu-img")
    run([qemu, "convert", "-n", "-f", "raw", "-O", "raw", str(src), server.url()], timeout=300)
    run([qemu, "convert", "-f", "raw", "-O", "raw", server.url(), str(back)], timeout=300)
    got = back.read_bytes()
    assert len(got) == 1 << 30
    assert got[:len(data)] == data
    assert got[len(data):len(data) + (1 << 20)] == bytes(1 << 20)


def test_sigterm_exits_cleanly(bins, tmp_path):
    s = Scstd(tmp_path).start()
    assert inquiry_ok(s.url())
    assert s.stop(signal.SIGTERM) == 0, s.stderr()
    assert "still live" not in s.stderr()
    assert not os.path.exists(s.admin), "the admin socket should be removed"


def test_sigint_exits_cleanly(bins, tmp_path):
    s = Scstd(tmp_path).start()
    assert s.stop(signal.SIGINT) == 0, s.stderr()


def test_portal_in_use_fails(bins, tmp_path):
    a = Scstd(tmp_path / "a").start()
    try:
        p = subprocess.run([str(BIN / "scstd"), "--portal", f"127.0.0.1:{a.port}", "--admin",
                            str(tmp_path / "b.sock")], capture_output=True, text=True, timeout=20)
        assert p.returncode == 1, p.stderr
        assert "Address already in use" in p.stderr
    finally:
        a.kill()


def test_admin_socket_of_a_live_server_is_not_taken(bins, tmp_path):
    a = Scstd(tmp_path).start()
    try:
        p = subprocess.run([str(BIN / "scstd"), "--portal", f"127.0.0.1:{free_port()}",
                            "--admin", a.admin], capture_output=True, text=True, timeout=20)
        assert p.returncode == 1 and "another server" in p.stderr, p.stderr
        assert a.ctl("ping").returncode == 0
    finally:
        a.kill()


@pytest.mark.parametrize("args, words", [
    (["--portal"], "needs a value"),
    (["--portal", "nonsense"], "HOST:PORT"),
    (["--bogus"], "unknown option"),
    (["extra"], "unexpected argument"),
    (["--seed", "x"], "--seed"),
    (["--backstore", "tcmu009"], "NAME:SIZE"),
    (["--backstore", "x:12Q"], "bad size"),
    (["--poll-nap-us", "5000"], "--poll-nap-us wants 0 to 1000"),
    (["--poll-nap-us", "-1"], "--poll-nap-us"),
])
def test_usage_errors_exit_2(bins, args, words):
    p = subprocess.run([str(BIN / "scstd"), *args], capture_output=True, text=True, timeout=20)
    assert p.returncode == 2, (args, p.stderr)
    assert words in p.stderr


def test_help(bins):
    p = subprocess.run([str(BIN / "scstd"), "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "--record-io" in p.stdout and "--drbd-config" in p.stdout
    p = subprocess.run([str(BIN / "scstctl"), "--help"], capture_output=True, text=True)
    assert p.returncode == 0
    for verb in ("lun add", "device add", "stats", "primary", "connect", "invalidate-remote",
                 "pause-sync", "create-md", "status", "events2"):
        assert verb in p.stdout, verb


# ---- scstctl ---------------------------------------------------------------------------

def test_scstctl_list(server):
    out = server.ctl("list").stdout
    assert f"target:{DEFAULT_TARGET}" in out
    assert re.search(r"^\s+target:\S+ lun:0 device:ram0", out, re.M), out
    assert server.ctl("targets").stdout.strip() == f"target:{DEFAULT_TARGET}"
    assert "bdev:tcmu000 size:1073741824 block_size:512" in server.ctl("bdevs").stdout


def test_scstctl_sessions_shows_a_live_session(server):
    import iscsi_raw
    c = iscsi_raw.Conn("127.0.0.1", server.port)
    try:
        c.login(INITIATOR, DEFAULT_TARGET)
        out = server.ctl("sessions").stdout
        assert f"initiator:{INITIATOR}" in out, out
        assert f"target:{DEFAULT_TARGET}" in out
    finally:
        c.close()
    wait_for(lambda: INITIATOR not in server.ctl("sessions").stdout, 10, "the session to end")


def test_scstctl_device_and_lun_add_remove(server):
    server.ctl("device", "add", "extra", "--size", "64M")
    server.ctl("lun", "add", DEFAULT_TARGET, "3", "extra")
    assert re.search(r"lun:3 device:extra", server.ctl("luns").stdout)
    out = run([need("iscsi-readcapacity16"), "-i", INITIATOR, server.url(3)], text=True).stdout
    assert "Total size:67108864" in out, out
    # a device in a LUN map cannot go; the LUN can
    p = server.ctl("device", "remove", "extra", check=False)
    assert p.returncode == 1 and "in use" in p.stderr
    server.ctl("lun", "remove", DEFAULT_TARGET, "3")
    assert "lun:3" not in server.ctl("luns").stdout
    assert not inquiry_ok(server.url(3))
    server.ctl("device", "remove", "extra")
    assert "extra" not in server.ctl("bdevs").stdout


def test_scstctl_device_on_a_file(server, tmp_path):
    f = tmp_path / "disk.img"
    pattern = os.urandom(1 << 20)
    f.write_bytes(pattern + bytes(15 << 20))
    server.ctl("device", "add", "filedev", "--size", "16M", "--file", str(f))
    server.ctl("lun", "add", DEFAULT_TARGET, "1", "filedev")
    back = tmp_path / "back.img"
    run([need("qemu-img"), "convert", "-f", "raw", "-O", "raw", server.url(1), str(back)])
    assert back.read_bytes()[:1 << 20] == pattern


def test_scstctl_stats_count_io(server, tmp_path):
    def counts():
        line = [l for l in server.ctl("stats").stdout.splitlines() if "lun:0" in l][0]
        return {k: int(v) for k, v in re.findall(r"(\w+):(\d+)", line) if k != "lun"}
    before = counts()
    src = tmp_path / "x.img"
    src.write_bytes(os.urandom(4 << 20))
    run([need("qemu-img"), "convert", "-n", "-f", "raw", "-O", "raw", str(src), server.url()])
    after = counts()
    assert after["writes"] > before["writes"]
    assert after["write_bytes"] - before["write_bytes"] >= 4 << 20
    assert after["commands"] > before["commands"]
    assert after["in_flight"] == 0


@pytest.mark.parametrize("args, code, words", [
    ([], 2, "usage"),
    (["nosuchverb"], 2, "unknown command"),
    (["lun", "add", DEFAULT_TARGET, "x", "ram0"], 2, "LUN"),
    (["lun", "add", DEFAULT_TARGET, "5"], 2, "usage"),
    (["lun", "add", DEFAULT_TARGET, "5", "nodev"], 1, "no such device"),
    (["lun", "add", "iqn.nosuch:x", "5", "ram0"], 1, "lun add"),
    (["lun", "remove", DEFAULT_TARGET, "9"], 1, "lun remove"),
    (["device", "add", "d1"], 2, "usage"),
    (["device", "add", "d1", "--size", "1G", "--bdev", "tcmu000"], 2, "usage"),
    (["device", "add", "d1", "--size", "100", "--block-size", "512"], 1, "multiple"),
    (["device", "add", "ram0", "--bdev", "tcmu000"], 1, "exists"),
    (["device", "remove", "nosuch"], 1, "not found"),
    (["list", "frobs"], 2, "usage"),
    (["stats", "iqn.nosuch:x"], 1, "no such target"),
    (["primary", "r0"], 1, "no drbd"),
    (["param", DEFAULT_TARGET, "MaxBurstLength", "banana"], 1, "MaxBurstLength"),
])
def test_scstctl_exit_codes(server, args, code, words):
    p = server.ctl(*args, check=False)
    assert p.returncode == code, (args, p.stdout, p.stderr)
    assert words.lower() in (p.stderr + p.stdout).lower(), (args, p.stderr)
    assert server.ctl("ping").returncode == 0


def test_scstctl_without_server(bins, tmp_path):
    p = subprocess.run([str(BIN / "scstctl"), "--admin", str(tmp_path / "none.sock"), "list"],
                       capture_output=True, text=True)
    assert p.returncode == 1 and "cannot reach scstd" in p.stderr


def raw_admin(path, payload, read_timeout=5):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(read_timeout)
    s.connect(path)
    s.sendall(payload)
    out = b""
    try:
        while not re.search(rb"(^|\n)S \d[^\n]*\n", out):
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        pass
    s.close()
    return out


@pytest.mark.parametrize("payload, expect", [
    (b"\n", rb"^S 2 empty request"),
    (b"list \"unbalanced\n", rb"^S 2 unbalanced"),
    (b"li\x01st\n", rb"^S 2 request has control"),
    (b"list\0\n", rb"^S 2 request has a NUL"),
    (b"x" * 9000 + b"\n", rb"^S 2 request line longer"),
    (b"\xff\xfe\xfd\n", rb"^S 2 unknown command"),
    (b" ".join([b"w"] * 100) + b"\n", rb"^S 2 unbalanced quote or more than"),
    (b"lun add a b c d e f g h\n", rb"^S 2 "),
])
def test_admin_protocol_rejects_malformed_requests(server, payload, expect):
    out = raw_admin(server.admin, payload)
    assert re.search(expect, out, re.M), out[:200]
    assert server.alive()
    assert server.ctl("ping").returncode == 0


def test_admin_protocol_pipelined_requests(server):
    out = raw_admin(server.admin, b"ping\ntargets\nping\n")
    # the helper stops at the first status line; ask for all three
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(server.admin)
    s.sendall(b"ping\ntargets\nping\n")
    got = b""
    while got.count(b"\nS ") + got.startswith(b"S ") < 3:
        chunk = s.recv(65536)
        assert chunk, got
        got += chunk
    s.close()
    statuses = re.findall(rb"^S (\d)", got, re.M)
    assert statuses == [b"0", b"0", b"0"], got
    assert f"D target:{DEFAULT_TARGET}".encode() in got
    assert out.startswith(b"D scstd")


def test_admin_client_hanging_up_mid_stream(server):
    for _ in range(20):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(server.admin)
        s.sendall(b"list\nlist\nlist\n")
        s.close()
    assert server.ctl("ping").returncode == 0


def read_trace(path):
    """The simulator's I/O trace format (sim/iotrace.h)."""
    lines = [l for l in path.read_text().splitlines() if l and not l.startswith("#")]
    m = re.fullmatch(r"iotrace v1 size=(\d+)", lines[0])
    assert m, lines[:2]
    return int(m.group(1)), [l.split() for l in lines[1:]]


def test_record_io_trace(bins, tmp_path):
    trace = tmp_path / "io.trace"
    s = Scstd(tmp_path, args=["--record-io", str(trace)]).start()
    try:
        src = tmp_path / "p.img"
        src.write_bytes(os.urandom(1 << 20))
        run([need("qemu-img"), "convert", "-n", "-f", "raw", "-O", "raw", str(src), s.url()])
        s.ctl("device", "add", "other", "--size", "8M")
        s.ctl("lun", "add", DEFAULT_TARGET, "1", "other")
        run([need("qemu-img"), "convert", "-n", "-f", "raw", "-O", "raw", str(src), s.url(1)])
    finally:
        assert s.stop() == 0, s.stderr()
    size, recs = read_trace(trace)
    assert size == 1 << 30
    writes = [r for r in recs if r[1] == "W"]
    assert sum(int(r[3]) for r in writes) >= 1 << 20
    assert any(int(r[2]) == 0 for r in writes)
    times = [int(r[0]) for r in recs]
    assert times == sorted(times) and times[0] == 0
    for r in recs:
        assert len(r) == 5, r
        assert r[1] in "RWFDZ" and int(r[2]) % 512 == 0 and int(r[3]) % 512 == 0
        assert r[4] in ("-", "FUA", "PREFLUSH", "FUA,PREFLUSH")
    # the device added later got a trace of its own
    size2, recs2 = read_trace(tmp_path / "io.trace.tcmu001")
    assert size2 == 8 << 20
    assert sum(int(r[3]) for r in recs2 if r[1] == "W") >= 1 << 20


def test_record_io_named_bdev(bins, tmp_path):
    trace = tmp_path / "named.trace"
    s = Scstd(tmp_path, args=["--record-io", f"tcmu000={trace}"]).start()
    try:
        import iscsi_raw
        c = iscsi_raw.Conn("127.0.0.1", s.port)
        c.login(INITIATOR, DEFAULT_TARGET)
        status, _, _ = c.scsi(iscsi_raw.write10(64, 8), write=os.urandom(4096))
        assert status == 0
        status, data, _ = c.scsi(iscsi_raw.read10(1000, 2), read_len=1024)
        assert status == 0 and data == bytes(1024)
        c.logout()
        c.close()
    finally:
        assert s.stop() == 0, s.stderr()
    size, recs = read_trace(trace)
    assert size == 1 << 30
    assert ["W", str(64 * 512), "4096"] in [r[1:4] for r in recs], recs
    assert ["R", str(1000 * 512), "1024"] in [r[1:4] for r in recs], recs
