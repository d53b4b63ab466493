"""scstctl's target, ACL and group verbs against a live scstd, checked with
real initiators: a new target is discovered, a disabled one is not and
refuses logins, `target allow` admits only the named initiators, and a LUN
added to a group is seen only by that group's initiators."""
import re

import pytest

from scstd_harness import DEFAULT_TARGET, INITIATOR, Scstd, need, run

OTHER = "iqn.2026-11.local.tests:other"
NEW = "iqn.2026-11.local.scstd:extra"


@pytest.fixture
def server(bins, tmp_path):
    s = Scstd(tmp_path).start()
    yield s
    s.kill()


def discovered(s, initiator=INITIATOR):
    out = run([need("iscsi-ls"), "-i", initiator, f"iscsi://127.0.0.1:{s.port}"], text=True).stdout
    return set(re.findall(r"Target:\s*(\S+)", out))


def luns_seen(s, target, initiator):
    """LUN numbers the initiator sees behind target (REPORT LUNS via iscsi-ls -s)."""
    p = run([need("iscsi-ls"), "-s", "-i", initiator, f"iscsi://127.0.0.1:{s.port}"],
            text=True, check=False)
    out = p.stdout
    # iscsi-ls prints each target, then its LUNs
    block = out.split(f"Target:{target}")[1].split("Target:")[0] if f"Target:{target}" in out else ""
    return {int(n) for n in re.findall(r"Lun:(\d+)", block)}


def can_login(s, target, initiator, lun=0):
    p = run([need("iscsi-inq"), "-i", initiator, s.url(lun=lun, target=target)], check=False,
            timeout=30)
    return p.returncode == 0


def test_target_add_disable_enable_remove(server):
    server.ctl("device", "add", "d_extra", "--size", "16M")
    server.ctl("target", "add", NEW)
    server.ctl("lun", "add", NEW, "0", "d_extra")
    assert NEW in server.ctl("targets").stdout
    assert {DEFAULT_TARGET, NEW} <= discovered(server)
    assert can_login(server, NEW, INITIATOR)

    server.ctl("target", "disable", NEW)
    assert NEW not in discovered(server)
    assert not can_login(server, NEW, INITIATOR)
    assert DEFAULT_TARGET in discovered(server)

    server.ctl("target", "enable", NEW)
    assert NEW in discovered(server)
    assert can_login(server, NEW, INITIATOR)

    server.ctl("lun", "remove", NEW, "0")
    server.ctl("target", "remove", NEW)
    assert NEW not in discovered(server)
    assert NEW not in server.ctl("targets").stdout
    p = server.ctl("target", "remove", NEW, check=False)
    assert p.returncode == 1 and "target remove" in p.stdout + p.stderr


def test_target_allow_admits_only_named_initiators(server):
    assert can_login(server, DEFAULT_TARGET, OTHER)
    server.ctl("target", "allow", DEFAULT_TARGET, INITIATOR)
    assert can_login(server, DEFAULT_TARGET, INITIATOR)
    assert not can_login(server, DEFAULT_TARGET, OTHER)
    # discovery shows a target only to initiators it would accept
    assert DEFAULT_TARGET in discovered(server, INITIATOR)
    assert DEFAULT_TARGET not in discovered(server, OTHER)


def test_group_lun_is_seen_only_by_its_initiators(server):
    server.ctl("device", "add", "d_group", "--size", "16M")
    server.ctl("group", "add", DEFAULT_TARGET, "g1")
    server.ctl("group", "initiator", DEFAULT_TARGET, "g1", OTHER)
    server.ctl("lun", "add", DEFAULT_TARGET, "0", "d_group", "--group", "g1")
    assert luns_seen(server, DEFAULT_TARGET, INITIATOR) == {0}
    assert luns_seen(server, DEFAULT_TARGET, OTHER) == {0}
    # same LUN number, different devices: the group's is 16 MiB, the default 1 GiB
    size = {}
    for ini in (INITIATOR, OTHER):
        out = run([need("iscsi-readcapacity16"), "-s", "-i", ini, server.url()], text=True).stdout
        size[ini] = int(out.strip())
    assert size[INITIATOR] == 1 << 30 and size[OTHER] == 16 << 20
    server.ctl("lun", "add", DEFAULT_TARGET, "5", "d_group", "--group", "g1", "--read-only")
    assert luns_seen(server, DEFAULT_TARGET, OTHER) == {0, 5}
    assert luns_seen(server, DEFAULT_TARGET, INITIATOR) == {0}
    p = server.ctl("group", "add", DEFAULT_TARGET, "g1", check=False)
    assert p.returncode == 1
    p = server.ctl("group", "initiator", DEFAULT_TARGET, "nosuch", OTHER, check=False)
    assert p.returncode == 1


def test_param_at_run_time_and_help_and_shutdown(server):
    server.ctl("param", DEFAULT_TARGET, "MaxRecvDataSegmentLength", "65536")
    server.ctl("param", "-", "QueuedCommands", "64")
    assert can_login(server, DEFAULT_TARGET, INITIATOR)
    p = server.ctl("param", "-", "NoSuchKey", "1", check=False)
    assert p.returncode == 1 and "NoSuchKey" in p.stdout + p.stderr
    help_text = server.ctl("help").stdout
    for verb in ("lun add", "device add", "target add", "group add", "param", "status", "events2"):
        assert verb in help_text, verb
    server.ctl("shutdown")
    assert server.proc.wait(timeout=30) == 0
