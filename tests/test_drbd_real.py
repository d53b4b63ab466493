"""Replication between two real scstd processes (issue 4's acceptance), on
loopback and again across two network namespaces joined by a veth pair.

Each server has resource r0 on a file-backed ram backstore; the primary
exports drbd1 over iSCSI.  The stages run in order on one pair:
  initial full sync, write through iSCSI, switch primaries (the peer's LUN
  returns the same bytes), kill -9 the secondary during writes and restart
  it (resync runs and finishes; the backing files' data regions are
  identical), split brain (detected, resolved with --discard-my-data, data
  converges)."""
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from scstd_harness import BIN, INITIATOR, NetNs, Scstd, free_port, need, run, wait_for

TARGET = "iqn.2026-11.local.scstd:ram0"
LUN = 1
SIZE = 64 << 20
RES = """\
resource r0 {{
    net {{ protocol C; tcp-congestion-control reno; }}
    disk {{ c-plan-ahead 0; resync-rate 400M; c-min-rate 0k; }}
    on alpha {{
        node-id 0;
        address {a};
        volume 0 {{ device drbd1 minor 1; disk "/UMCfuse/dev/tcmu001"; meta-disk internal; }}
    }}
    on beta {{
        node-id 1;
        address {b};
        volume 0 {{ device drbd1 minor 1; disk "/UMCfuse/dev/tcmu001"; meta-disk internal; }}
    }}
}}
"""


def parse_status(text):
    """drbdsetup status text -> {"role":..., "disk":..., "peers": {name: {...}}}."""
    out = {"peers": {}}
    peer = None
    for line in text.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        words = line.split()
        if indent == 0:
            out["resource"] = words[0]
            target, peer = out, None
            words = words[1:]
        elif indent == 2 and not words[0].count(":"):
            peer = words[0]
            out["peers"][peer] = {}
            target = out["peers"][peer]
            words = words[1:]
        elif indent == 2:
            target, peer = out, None
        else:
            target = out["peers"][peer] if peer else out
        for w in words:
            if ":" in w:
                k, v = w.split(":", 1)
                target[k] = v
    return out


class Node:
    def __init__(self, name, workdir, res_path, host, iscsi_port, netns=None):
        self.name = name
        self.backing = workdir / f"{name}.img"
        self.args = ["--drbd-config", str(res_path), "--node", name,
                     "--backstore", f"tcmu001:{SIZE}:{self.backing}", "-v"]
        self.server = Scstd(workdir, args=self.args, host=host, port=iscsi_port, name=name,
                            netns=netns)
        self.netns = netns

    def start(self):
        self.server.start()
        return self

    def restart(self):
        self.server = Scstd(self.server.dir, args=self.args, host=self.server.host,
                            port=self.server.port, name=self.name, netns=self.netns)
        return self.start()

    def ctl(self, *args, check=True):
        return self.server.ctl(*args, check=check)

    def status(self):
        return parse_status(self.ctl("status", "r0").stdout)

    def url(self, lun=LUN):
        return self.server.url(lun, TARGET)

    def export(self):
        if "device:d1" not in self.ctl("luns").stdout:
            self.ctl("device", "add", "d1", "--bdev", "drbd1")
            self.ctl("lun", "add", TARGET, LUN, "d1")

    def qemu(self, *args, timeout=300, check=True):
        return run([need("qemu-img"), *args], timeout=timeout, check=check, netns=self.netns)


def synced(a, b):
    sa, sb = a.status(), b.status()
    for me, peer, st in ((a, b, sa), (b, a, sb)):
        p = st["peers"].get(peer.name, {})
        if st.get("disk") != "UpToDate" or p.get("peer-disk") != "UpToDate":
            return False
        if p.get("connection", "Connected") != "Connected":
            return False
        if p.get("replication", "Established") != "Established":
            return False
    return (sa, sb)


def data_region_identical(a, b, size):
    with open(a.backing, "rb") as fa, open(b.backing, "rb") as fb:
        off = 0
        while off < size:
            n = min(4 << 20, size - off)
            x, y = fa.read(n), fb.read(n)
            if x != y:
                diff = next(i for i in range(len(x)) if x[i] != y[i])
                return f"first difference at byte {off + diff}"
            off += n
    return True


def lun_size(node):
    out = run([need("iscsi-readcapacity16"), "-i", INITIATOR, node.url()], text=True,
              netns=node.netns).stdout
    return int(re.search(r"Total size:(\d+)", out).group(1))


@pytest.fixture(scope="module", params=["loopback", "netns"])
def pair(request, bins, tmp_path_factory):
    work = tmp_path_factory.mktemp(f"drbd-{request.param}")
    spaces = []
    if request.param == "loopback":
        ha = hb = "127.0.0.1"
        pa, pb = free_port(), free_port()
        res = RES.format(a=f"127.0.0.1:{free_port()}", b=f"127.0.0.1:{free_port()}")
        nsa = nsb = None
    else:
        need("ip")
        (nsa, ha), (nsb, hb) = NetNs.pair(str(os.getpid() % 1000))
        spaces = [nsa, nsb]
        pa = pb = 3260
        res = RES.format(a=f"{ha}:7789", b=f"{hb}:7789")
    res_path = work / "r0.res"
    res_path.write_text(res)
    a = Node("alpha", work, res_path, ha, pa, nsa).start()
    b = Node("beta", work, res_path, hb, pb, nsb).start()
    yield a, b
    for n in (a, b):
        n.server.kill()
    NetNs.remove(*spaces)


def test_1_initial_full_sync(pair):
    a, b = pair
    for n in (a, b):
        n.ctl("create-md", "r0")
        n.ctl("up", "r0")
    wait_for(lambda: all(n.status()["peers"].get(p.name, {}).get("connection", "Connected")
                         == "Connected" for n, p in ((a, b), (b, a))), 30, "the peers to connect")
    st = a.status()
    assert st["disk"] == "Inconsistent", st
    # promoting without up-to-date data is refused, in drbd's words
    p = a.ctl("primary", "r0", check=False)
    assert p.returncode == 1 and "UpToDate" in p.stderr, p.stderr
    a.ctl("primary", "--force", "r0")
    wait_for(lambda: synced(a, b), 120, "the initial sync")
    assert a.status()["role"] == "Primary" and b.status()["role"] == "Secondary"
    out = a.ctl("status", "r0", "--verbose", "--statistics").stdout
    assert "r0" in out and "beta" in out
    now = a.ctl("events2", "--now").stdout.splitlines()
    assert now[-1] == "exists -", now
    assert any(l.startswith("exists resource name:r0") and "role:Primary" in l for l in now), now
    assert any(l.startswith("exists connection name:r0") and "conn-name:beta" in l for l in now)


def test_1b_replication_link_uses_configured_congestion_control(pair):
    """tcp-congestion-control reno: both ends of the replication link run
    reno (this machine's default is another), as `ss -ti` shows."""
    a, b = pair
    res = Path(a.args[1]).read_text()
    ports = set(re.findall(r"address [\d.]+:(\d+);", res))
    for n in (a, b):
        out = run([need("ss"), "-Htin", "state", "established"], text=True,
                  netns=n.netns).stdout.splitlines()
        algos = []
        for line, info in zip(out, out[1:]):
            ends = re.findall(r":(\d+)\s", line + " ")
            if not line[:1].isspace() and ports & set(ends):
                algos.append(info.split()[0])
        assert algos and all(x == "reno" for x in algos), (n.name, algos, out)


def test_2_write_through_primary(pair, tmp_path):
    a, b = pair
    a.export()
    pattern = tmp_path / "pattern.img"
    pattern.write_bytes(os.urandom(16 << 20))
    a.qemu("convert", "-n", "-f", "raw", "-O", "raw", str(pattern), a.url())
    back = tmp_path / "back.img"
    a.qemu("convert", "-f", "raw", "-O", "raw", a.url(), str(back))
    assert back.read_bytes()[:16 << 20] == pattern.read_bytes()
    # a secondary's drbd1 refuses writers
    b.export()
    p = b.qemu("convert", "-n", "-f", "raw", "-O", "raw", str(pattern), b.url(), check=False)
    assert p.returncode != 0, "a write through the secondary must fail"
    (tmp_path.parent / "pattern-kept.img").write_bytes(pattern.read_bytes())


def test_3_switch_primary(pair, tmp_path):
    a, b = pair
    pattern = (tmp_path.parent / "pattern-kept.img").read_bytes()
    # no iSCSI session is left (qemu-img logged out); demote A, promote B
    p = b.ctl("primary", "r0", check=False)
    assert p.returncode == 1, "two primaries without allow-two-primaries"
    a.ctl("secondary", "r0")
    b.ctl("primary", "r0")
    assert b.status()["role"] == "Primary"
    back = tmp_path / "from-b.img"
    b.qemu("convert", "-f", "raw", "-O", "raw", b.url(), str(back))
    assert back.read_bytes()[:len(pattern)] == pattern


def test_4_kill_secondary_during_writes_then_resync(pair, tmp_path):
    a, b = pair  # b is primary now, a secondary
    data = os.urandom(32 << 20)
    src = tmp_path / "big.img"
    src.write_bytes(data)
    # rate-limited so the kill lands in the middle of the copy
    writer = subprocess.Popen(
        (["ip", "netns", "exec", b.netns] if b.netns else []) +
        [need("qemu-img"), "convert", "-n", "-r", "12M", "-f", "raw", "-O", "raw", str(src),
         b.url()], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.0)
    assert writer.poll() is None, "the writer finished before the kill"
    a.server.proc.send_signal(signal.SIGKILL)
    a.server.proc.wait(timeout=30)
    out, err = writer.communicate(timeout=300)
    assert writer.returncode == 0, err
    st = b.status()
    assert st["peers"]["alpha"].get("connection", "Connected") != "Connected", st
    a.restart()
    a.ctl("up", "r0")
    wait_for(lambda: synced(a, b), 180, "the resync after the restart")
    size = lun_size(b)
    assert size >= 32 << 20
    assert data_region_identical(a, b, size) is True
    with open(a.backing, "rb") as f:
        assert f.read(len(data)) == data, "the restarted secondary lacks acknowledged writes"


def test_5_split_brain_detected_and_resolved(pair, tmp_path):
    a, b = pair  # b primary, a secondary, connected
    a.export()
    events_proc = subprocess.Popen([str(BIN / "scstctl"), "--admin", b.server.admin, "events2"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    t = threading.Thread(target=lambda: lines.extend(events_proc.stdout))
    t.start()
    for n in (a, b):
        n.ctl("disconnect", "r0")
    x = os.urandom(1 << 20)
    y = os.urandom(1 << 20)
    (tmp_path / "x.img").write_bytes(x)
    (tmp_path / "y.img").write_bytes(y)
    b.qemu("convert", "-n", "-f", "raw", "-O", "raw", str(tmp_path / "x.img"), b.url())
    a.ctl("primary", "r0")
    a.qemu("convert", "-n", "-f", "raw", "-O", "raw", str(tmp_path / "y.img"), a.url())
    a.ctl("secondary", "r0")
    for n in (a, b):
        n.ctl("connect", "r0")

    def standalone():
        return any(n.status()["peers"].get(p.name, {}).get("connection") == "StandAlone"
                   for n, p in ((a, b), (b, a)))
    wait_for(standalone, 30, "split brain to be detected (StandAlone)")
    time.sleep(0.5)
    events_proc.terminate()
    events_proc.wait(timeout=10)
    t.join(timeout=10)
    assert any("StandAlone" in l or "split" in l.lower() for l in lines), lines[-20:]
    assert any(l.startswith("exists") for l in lines), "events2 starts with the current state"
    # resolve: alpha throws its changes away
    a.ctl("connect", "--discard-my-data", "r0")
    if b.status()["peers"]["alpha"].get("connection") == "StandAlone":
        b.ctl("connect", "r0")
    wait_for(lambda: synced(a, b), 120, "the resync after --discard-my-data")
    assert data_region_identical(a, b, lun_size(b)) is True
    with open(a.backing, "rb") as f:
        assert f.read(len(x)) == x, "alpha kept its discarded data"


@pytest.mark.parametrize("args, code, words", [
    (["primary"], 2, "usage"),
    (["primary", "--force", "--force"], 2, "usage"),
    (["connect", "--bogus", "r0"], 2, "usage"),
    (["up", "r0/99"], 2, "volume"),
    (["status", "nosuch"], 1, "nosuch"),
    (["primary", "nosuch"], 1, "nosuch"),
    (["connect", "r0", "nosuchpeer"], 1, ""),
    (["outdate", "r0"], 1, ""),  # refused while connected
])
def test_6_cli_errors(pair, args, code, words):
    a, b = pair
    p = a.ctl(*args, check=False)
    assert p.returncode == code, (args, p.returncode, p.stdout, p.stderr)
    assert words in p.stderr, p.stderr
    assert p.stderr.startswith("scstctl: ") and len(p.stderr.strip()) > len("scstctl: ")
    assert synced(a, b), "a refused command changed the state"


def test_7_clean_shutdown(pair):
    a, b = pair
    b.ctl("secondary", "r0")
    for n in (a, b):
        assert n.server.stop() == 0, n.server.stderr()


@pytest.mark.parametrize("form", ["nested", "legacy"])
def test_scst_conf_exports_drbd1_at_start(bins, tmp_path, form):
    """--up r0 brings the resource up before scst.conf is read, so the
    config can name /UMCfuse/dev/drbd1 (nested form) or drbd1 (legacy)."""
    res = tmp_path / "r0.res"
    res.write_text(RES.format(a=f"127.0.0.1:{free_port()}", b=f"127.0.0.1:{free_port()}"))
    backing = tmp_path / "alpha.img"
    base = ["--drbd-config", str(res), "--node", "alpha", "--backstore", f"tcmu001:{SIZE}:{backing}"]
    first = Scstd(tmp_path / "1", args=base, name="alpha").start()
    first.ctl("create-md", "r0")
    assert first.stop() == 0, first.stderr()
    if form == "nested":
        conf = ("HANDLER vdisk_blockio {\n\tDEVICE rep {\n\t\tfilename /UMCfuse/dev/drbd1\n\t}\n}\n"
                "TARGET_DRIVER iscsi {\n\tTARGET iqn.2026-11.local.scstd:rep {\n"
                "\t\tLUN 0 rep\n\t\tenabled 1\n\t}\n}\n")
    else:
        conf = ("[HANDLER vdisk]\nDEVICE rep,drbd1,BLOCKIO,4096,rep\n\n[GROUP Default]\n\n"
                "[ASSIGNMENT Default]\nDEVICE rep,0\n")
    (tmp_path / "scst.conf").write_text(conf)
    target = "iqn.2026-11.local.scstd:rep"
    extra = ["--up", "r0", "--config", str(tmp_path / "scst.conf")]
    if form == "legacy":
        (tmp_path / "iscsi.conf").write_text(f"Target {target}\n")
        extra += ["--iscsi-config", str(tmp_path / "iscsi.conf")]
    s = Scstd(tmp_path / "2", args=base + extra, name="alpha").start()
    try:
        assert f"/{target}/0" in s.stdout()
        s.ctl("primary", "--force", "r0")
        data = os.urandom(1 << 20)
        (tmp_path / "d.img").write_bytes(data)
        url = s.url(0, target)
        run([need("qemu-img"), "convert", "-n", "-f", "raw", "-O", "raw", str(tmp_path / "d.img"),
             url])
        back = tmp_path / "back.img"
        run([need("qemu-img"), "convert", "-f", "raw", "-O", "raw", url, str(back)])
        assert back.read_bytes()[:len(data)] == data
        assert "device:rep" in s.ctl("luns").stdout
    finally:
        assert s.stop() == 0, s.stderr()
    with open(backing, "rb") as f:
        assert f.read(len(data)) == data
