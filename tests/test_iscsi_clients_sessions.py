"""Many sessions at once against a real scstd, and what happens to a session
when its initiator logs in again (RFC 7143 6.3.5: session reinstatement) or
tries to add a second connection (MC/S, which scstd refuses)."""
import struct
import threading

import pytest

import iscsi_raw
from scstd_harness import DEFAULT_TARGET, Scstd, inquiry_ok, wait_for

SESSIONS = 48
REGION = 512 * 1024  # bytes of the LUN each session owns


@pytest.fixture(scope="module")
def server(bins, tmp_path_factory):
    s = Scstd(tmp_path_factory.mktemp("sessions")).start()
    yield s
    s.kill()


def open_session(server, initiator, isid=None):
    c = iscsi_raw.Conn("127.0.0.1", server.port, timeout=30)
    if isid is not None:
        c.isid = isid
    c.login(initiator, DEFAULT_TARGET)
    assert c.scsi(iscsi_raw.TEST_UNIT_READY)[0] == 0
    return c


def pattern(session, length):
    stamp = struct.pack(">I", session)
    return bytes((stamp[i % 4] ^ (i // 4)) & 0xff for i in range(length))


def write_then_read_region(server, n, started, errors):
    """Session n fills its own region (4 KiB immediate-data writes and
    256 KiB writes that need R2Ts) and reads it back."""
    try:
        c = open_session(server, f"iqn.2026-11.local.tests:many-{n}")
        started.wait(timeout=60)  # every session is logged in before any I/O
        bs = iscsi_raw.block_size(c)
        base = n * REGION // bs
        data = pattern(n, REGION)
        small, big = 4096, 256 * 1024
        for off in range(0, big, small):
            st, _, sense = c.scsi(iscsi_raw.write10(base + off // bs, small // bs),
                                  write=data[off:off + small])
            assert st == 0, f"4 KiB write: status {st} sense {sense.hex()}"
        for off in range(big, REGION, big):
            st, _, sense = c.scsi(iscsi_raw.write10(base + off // bs, big // bs),
                                  write=data[off:off + big])
            assert st == 0, f"256 KiB write: status {st} sense {sense.hex()}"
        st, got, sense = c.scsi(iscsi_raw.read10(base, REGION // bs), read_len=REGION)
        assert st == 0, f"read: status {st} sense {sense.hex()}"
        assert got == data, f"session {n} read back other bytes than it wrote"
        assert c.logout() == 0
        c.close()
    except BaseException as e:  # collected: a thread's assert would be lost
        errors.append(f"session {n}: {e!r}")
        started.abort()


def test_many_sessions_write_and_read_their_own_regions(server):
    errors = []
    started = threading.Barrier(SESSIONS + 1)
    threads = [threading.Thread(target=write_then_read_region, args=(server, n, started, errors))
               for n in range(SESSIONS)]
    for t in threads:
        t.start()
    try:
        started.wait(timeout=60)
        listed = server.ctl("sessions").stdout
        assert listed.count("initiator:iqn.2026-11.local.tests:many-") == SESSIONS, listed
    except threading.BrokenBarrierError:
        pass  # a session failed to start: its error says why
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a session hung"
    assert not errors, "\n".join(errors)
    wait_for(lambda: "many-" not in server.ctl("sessions").stdout, 10, "the sessions to end")
    assert server.alive(), server.stderr()


def test_login_with_the_same_isid_reinstates_the_session(server):
    """The old session's connection is closed, the new one works, and data
    written through the old one is still there."""
    initiator = "iqn.2026-11.local.tests:reinstate"
    old = open_session(server, initiator, isid=0x400000123456)
    bs = iscsi_raw.block_size(old)
    data = pattern(7, 8192)
    assert old.scsi(iscsi_raw.write10(100, len(data) // bs), write=data)[0] == 0

    new = open_session(server, initiator, isid=0x400000123456)
    assert new.tsih != 0
    with pytest.raises(iscsi_raw.Closed):
        old.sock.settimeout(10)
        old.recv_pdu()  # the target closes the reinstated session's connection
    st, got, _ = new.scsi(iscsi_raw.read10(100, len(data) // bs), read_len=len(data))
    assert st == 0 and got == data
    listed = server.ctl("sessions").stdout
    assert listed.count(f"initiator:{initiator}") == 1, listed
    new.close()
    old.close()


def test_a_different_isid_is_a_second_session(server):
    initiator = "iqn.2026-11.local.tests:two-isids"
    a = open_session(server, initiator, isid=0x400000000001)
    b = open_session(server, initiator, isid=0x400000000002)
    assert a.tsih != b.tsih
    assert a.nop(b"a").data == b"a" and b.nop(b"b").data == b"b"
    assert server.ctl("sessions").stdout.count(f"initiator:{initiator}") == 2
    a.close()
    b.close()


def second_connection(server, first, cid):
    """A connection logging in to first's session (its ISID and TSIH)."""
    c = iscsi_raw.Conn("127.0.0.1", server.port, timeout=10)
    c.isid, c.tsih, c.cid, c.cmdsn = first.isid, first.tsih, cid, first.cmdsn
    return c


def test_second_connection_to_a_session_is_refused(server):
    """MaxConnections is 1: another CID in a live session fails with Too
    many connections (0x0206), and the session carries on."""
    initiator = "iqn.2026-11.local.tests:mcs"
    first = open_session(server, initiator, isid=0x400000000abc)
    second = second_connection(server, first, cid=1)
    with pytest.raises(iscsi_raw.LoginFailed) as failed:
        second.login(initiator, DEFAULT_TARGET)
    assert failed.value.status == 0x0206, f"status {failed.value.status:#06x}"
    second.close()
    assert first.nop(b"alive").data == b"alive"
    first.close()


def test_login_naming_no_live_session_is_refused(server):
    """A TSIH of no session, or of another initiator's: Session does not exist (0x020a)."""
    other = open_session(server, "iqn.2026-11.local.tests:owner", isid=0x400000000bcd)
    for tsih, isid in ((0xfffe, 0x400000000bcd), (other.tsih, 0x400000000bce)):
        c = iscsi_raw.Conn("127.0.0.1", server.port, timeout=10)
        c.isid, c.tsih = isid, tsih
        with pytest.raises(iscsi_raw.LoginFailed) as failed:
            c.login("iqn.2026-11.local.tests:intruder", DEFAULT_TARGET)
        assert failed.value.status == 0x020a, f"status {failed.value.status:#06x}"
        c.close()
    assert other.nop(b"mine").data == b"mine"
    other.close()


RESERVE6 = bytes([0x16, 0, 0, 0, 0, 0])
RELEASE6 = bytes([0x17, 0, 0, 0, 0, 0])


def test_connection_reinstatement_keeps_the_session(server):
    """Logging in again with the session's TSIH and the same CID replaces the
    connection (RFC 7143 6.3.4): the old one is closed, its unfinished task
    never answers, and the session goes on with its nexus: the RESERVE(6)
    it holds stays, and no unit attention reports a lost nexus."""
    initiator = "iqn.2026-11.local.tests:reconnect"
    old = open_session(server, initiator, isid=0x400000000cde)
    other = open_session(server, "iqn.2026-11.local.tests:bystander")
    bs = iscsi_raw.block_size(old)
    data = pattern(11, 8192)
    assert old.scsi(iscsi_raw.write10(300, len(data) // bs), write=data)[0] == 0
    assert old.scsi(RESERVE6)[0] == 0
    # a WRITE that waits for an R2T's data the old connection never sends
    stuck_itt = old.next_itt()
    old.send_pdu(iscsi_raw.bhs(iscsi_raw.OP_SCSI_CMD, 0x80 | 0x20 | 0x01, itt=stuck_itt,
                               f20=256 * 1024, f24=old.cmdsn, f28=old.expstatsn,
                               f32=bytes(iscsi_raw.write10(0, 256 * 1024 // bs)) + bytes(6)))
    old.cmdsn += 1
    assert old.recv_pdu().opcode == iscsi_raw.OP_R2T

    new = second_connection(server, old, cid=0)
    params = new.login(initiator, DEFAULT_TARGET, header_digest=True)
    assert new.tsih == old.tsih, "a reinstated connection joins the same session"
    assert params.get("InitialR2T") == "Irrelevant", params  # session-wide: set by the first login
    assert params.get("HeaderDigest") == "CRC32C", params    # per connection: negotiated anew
    with pytest.raises(iscsi_raw.Closed):
        old.recv_pdu()

    status, got, sense = new.scsi_once(iscsi_raw.read10(300, len(data) // bs), read_len=len(data))
    assert status == 0, f"first command after reinstatement: status {status} sense {sense.hex()}"
    assert got == data
    st, _, _ = other.scsi(iscsi_raw.write10(300, 1), write=bytes(bs))
    assert st == 0x18, f"the reservation went with the old connection (status {st:#x})"
    assert new.scsi_once(RELEASE6)[0] == 0
    assert other.scsi(iscsi_raw.write10(300, 1), write=bytes(bs))[0] == 0
    assert new.nop(b"only-mine").data == b"only-mine"  # nothing for the stuck task came first
    listed = server.ctl("sessions").stdout
    assert listed.count(f"initiator:{initiator}") == 1, listed
    for c in (new, other, old):
        c.close()
