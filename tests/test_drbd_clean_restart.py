"""A clean stop keeps drbd's meta-data clean, as DRBD's does: two real scstd,
a 1 GiB replicated device with a few MiB out of sync.  A SIGTERM of the
Primary (and a detach/attach) leaves an empty activity log and no "primary"
mark, so after the restart the resync moves only the blocks the bitmap holds,
not every extent of the log.  And a Primary that disconnects gracefully
leaves its peer Outdated (DRBD 9): promoting it then takes --force."""
import os
import re

import pytest

from scstd_harness import Scstd, free_port, need, run, wait_for

GIB = 1 << 30
TARGET = "iqn.2026-11.local.scstd:ram0"
OUT_OF_SYNC = 6 << 20            # what the primary writes while its peer is away
RES = """\
resource r0 {{
    net {{ protocol C; }}
    disk {{ c-plan-ahead 0; resync-rate 400M; c-min-rate 0k; }}
    on alpha {{ node-id 0; address 127.0.0.1:{pa};
        volume 0 {{ device drbd1 minor 1; disk tcmu001; meta-disk internal; }} }}
    on beta {{ node-id 1; address 127.0.0.1:{pb};
        volume 0 {{ device drbd1 minor 1; disk tcmu001; meta-disk internal; }} }}
}}
"""


class Node:
    def __init__(self, name, work, res):
        self.name = name
        self.work = work
        self.args = ["--drbd-config", str(res), "--node", name,
                     "--backstore", f"tcmu001:{GIB}:{work / (name + '.img')}", "-v"]
        self.port = free_port()
        self.server = None
        self.runs = 0

    def start(self):
        self.runs += 1
        self.server = Scstd(self.work, args=self.args, port=self.port, name=f"{self.name}{self.runs}")
        self.server.start()
        return self

    def ctl(self, *args, check=True):
        return self.server.ctl(*args, check=check)

    def status(self):
        return self.ctl("status", "r0", "--verbose", "--statistics").stdout

    def log(self):
        return self.server.stdout() + self.server.stderr()


def field(status, key, peer=None):
    """A key:value of the status text, in the peer's block if peer is given."""
    text = status
    if peer:
        text = status[status.index(f"  {peer} "):]
    m = re.search(rf"\b{key}:(\S+)", text)
    return m.group(1) if m else None


def synced(a, b):
    for n, p in ((a, b), (b, a)):
        st = n.status()
        if field(st, "disk") != "UpToDate" or field(st, "peer-disk", p.name) != "UpToDate":
            return False
        if field(st, "replication", p.name) not in (None, "Established"):
            return False
        if field(st, "connection", p.name) not in (None, "Connected"):
            return False
    return True


def will_sync_kib(log):
    sizes = re.findall(r"began resync as SyncSource \(will sync (\d+) KiB", log)
    return int(sizes[-1]) if sizes else None


@pytest.fixture
def pair(bins, tmp_path):
    res = tmp_path / "r0.res"
    res.write_text(RES.format(pa=free_port(), pb=free_port()))
    a, b = Node("alpha", tmp_path, res).start(), Node("beta", tmp_path, res).start()
    for n in (a, b):
        n.ctl("create-md", "r0")
        n.ctl("up", "r0")
    a.ctl("primary", "--force", "r0")
    wait_for(lambda: synced(a, b), 180, "the initial 1 GiB sync")
    yield a, b
    for n in (a, b):
        n.server.kill()


def write_while_peer_away(a, b, tmp_path):
    """beta leaves (a Secondary: nobody is outdated); alpha writes OUT_OF_SYNC
    bytes through iSCSI; returns the out-of-sync KiB alpha reports."""
    b.ctl("disconnect", "r0")
    a.ctl("device", "add", "d1", "--bdev", "drbd1")
    a.ctl("lun", "add", TARGET, "1", "d1")
    src = tmp_path / "burst.img"
    src.write_bytes(os.urandom(OUT_OF_SYNC))
    run([need("qemu-img"), "convert", "-n", "-f", "raw", "-O", "raw", str(src),
         a.server.url(1, TARGET)], timeout=120)
    a.ctl("lun", "del", TARGET, "1")
    a.ctl("device", "del", "d1")
    oos = int(field(a.status(), "out-of-sync", "beta"))
    assert OUT_OF_SYNC >> 10 <= oos <= (OUT_OF_SYNC >> 10) + 4096, a.status()
    return oos


def test_sigterm_of_a_primary_resyncs_only_the_bitmap(pair, tmp_path):
    a, b = pair
    oos = write_while_peer_away(a, b, tmp_path)
    assert field(a.status(), "role") == "Primary"
    assert a.server.stop() == 0, a.server.stderr()
    a.start()
    a.ctl("up", "r0")
    log = a.log()
    assert "crashed primary" not in log, log[-3000:]
    assert "out-of-sync based on AL" not in log, log[-3000:]
    assert int(field(a.status(), "out-of-sync", "beta")) == oos
    b.ctl("connect", "r0")
    wait_for(lambda: synced(a, b), 120, "the resync after the restart")
    assert will_sync_kib(a.log()) == oos, a.log()[-3000:]


def test_detach_attach_keeps_the_bitmap_exact(pair, tmp_path):
    a, b = pair
    oos = write_while_peer_away(a, b, tmp_path)
    a.ctl("secondary", "r0")
    a.ctl("detach", "r0")
    a.ctl("attach", "r0")
    assert "out-of-sync based on AL" not in a.log(), a.log()[-3000:]
    assert int(field(a.status(), "out-of-sync", "beta")) == oos
    b.ctl("connect", "r0")
    wait_for(lambda: synced(a, b), 120, "the resync after the attach")
    assert will_sync_kib(a.log()) == oos, a.log()[-3000:]


def test_graceful_disconnect_of_the_primary_outdates_the_peer(pair):
    a, b = pair
    a.ctl("disconnect", "r0")
    wait_for(lambda: field(b.status(), "disk") == "Outdated", 10, "beta to be Outdated")
    p = b.ctl("primary", "r0", check=False)
    assert p.returncode == 1 and "UpToDate" in p.stderr, p.stderr
    a.ctl("connect", "r0")
    wait_for(lambda: synced(a, b), 60, "beta UpToDate again")
