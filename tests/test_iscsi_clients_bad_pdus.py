"""Malformed PDUs from a raw socket.  Each gets a Reject or a dropped
connection (never silence, never a crash), and scstd keeps serving: a
session opened before the bad one still answers a NOP, and iscsi-inq works
after each."""
import os
import socket
import struct
import time

import pytest

import iscsi_raw
from iscsi_raw import OP_REJECT, bhs
from scstd_harness import DEFAULT_TARGET, INITIATOR, Scstd, inquiry_ok


@pytest.fixture(scope="module")
def server(bins, tmp_path_factory):
    s = Scstd(tmp_path_factory.mktemp("badpdu")).start()
    yield s
    s.kill()


@pytest.fixture
def bystander(server):
    """A healthy session that must survive every bad neighbour."""
    c = iscsi_raw.Conn("127.0.0.1", server.port)
    c.login("iqn.2026-11.local.tests:bystander", DEFAULT_TARGET)
    yield c
    assert server.alive(), server.stderr()
    rsp = c.nop(b"still-here")
    assert rsp.opcode == iscsi_raw.OP_NOP_IN and rsp.data == b"still-here"
    c.close()
    assert inquiry_ok(server.url()), "scstd stopped serving new sessions"


def logged_in(server):
    c = iscsi_raw.Conn("127.0.0.1", server.port, timeout=5)
    c.login(INITIATOR, DEFAULT_TARGET)
    assert c.scsi(iscsi_raw.TEST_UNIT_READY)[0] == 0  # clears the new nexus's unit attention
    return c


def reject_or_drop(c, reasons=None, in_login=False):
    """The next thing from the target is a Reject (with one of reasons), or
    (in_login) a Login Response with an error status, or the connection
    closing.  Returns the PDU or None."""
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            pdu = c.recv_pdu()
        except iscsi_raw.Closed:
            return None
        except socket.timeout:
            raise AssertionError("no Reject and no drop: the target went silent")
        if pdu.opcode == iscsi_raw.OP_NOP_IN:
            continue
        if in_login and pdu.opcode == iscsi_raw.OP_LOGIN_RSP:
            status = struct.unpack_from(">H", pdu.hdr, 36)[0]
            assert status >> 8 in (2, 3), f"a login response that is not an error: {status:#x}"
            return pdu
        assert pdu.opcode == OP_REJECT, f"expected a Reject, got {pdu}"
        if reasons:
            assert pdu.hdr[2] in reasons, f"reject reason 0x{pdu.hdr[2]:02x}"
        assert len(pdu.data) >= 48, "a Reject carries the offending header"
        return pdu
    raise AssertionError("nothing came back")


def test_unknown_opcode(server, bystander):
    c = logged_in(server)
    h = bhs(0x1c, 0x80, itt=0x77, f24=c.cmdsn, f28=c.expstatsn)
    c.send_pdu(h)
    pdu = reject_or_drop(c, reasons={0x04, 0x05, 0x09})
    if pdu is not None:  # still usable after a Reject
        assert pdu.data[:48][0] & 0x3f == 0x1c
        assert c.nop(b"x").opcode == iscsi_raw.OP_NOP_IN
    c.close()


def test_data_segment_over_max_recv(server, bystander):
    c = logged_in(server)
    limit = int(c.params.get("MaxRecvDataSegmentLength", "8192"))
    too_long = limit + 4096
    h = bhs(iscsi_raw.OP_NOP_OUT, 0x80, dlen=too_long, itt=0x55, f20=0xffffffff, f24=c.cmdsn,
            f28=c.expstatsn, immediate=True)
    c.send_pdu(h, b"z" * too_long)
    reject_or_drop(c, reasons={0x04, 0x09})
    c.close()


def test_lengths_past_the_buffer(server, bystander):
    """A header that promises AHS and data the connection never brings."""
    c = logged_in(server)
    h = bhs(iscsi_raw.OP_SCSI_CMD, 0x80 | 0x20, dlen=0xfffff0, itt=0x66, f20=0xfffffff0,
            f24=c.cmdsn, f28=c.expstatsn, ahs_len=255,
            f32=iscsi_raw.write10(0, 0xffff) + bytes(6))
    c.send_raw(bytes(h) + b"\1" * 100)
    c.sock.shutdown(socket.SHUT_WR)
    reject_or_drop(c)
    c.close()


def test_huge_expected_length_small_lun_read(server, bystander):
    """READ past the end of the LUN with an expected length of 4 GiB-1."""
    c = logged_in(server)
    # READ(16) at LBA 2^63 for 0xffffffff blocks
    cdb = struct.pack(">BBQIBB", 0x88, 0, 1 << 63, 0xffffffff, 0, 0)
    h = bhs(iscsi_raw.OP_SCSI_CMD, 0x80 | 0x40 | 1, itt=0x99, f20=0xffffffff, f24=c.cmdsn,
            f28=c.expstatsn, f32=cdb)
    c.cmdsn += 1
    c.send_pdu(h)
    pdu = c.recv_pdu()
    assert pdu.opcode == iscsi_raw.OP_SCSI_RSP, pdu
    assert pdu.hdr[3] == 0x02, "CHECK CONDITION expected"
    sense = pdu.data[2:]
    assert sense[2] & 0xf == 0x05, f"ILLEGAL REQUEST expected, sense {sense.hex()}"
    assert sense[12] in (0x21, 0x24), f"LBA out of range or invalid field: {sense.hex()}"
    assert c.nop(b"after").opcode == iscsi_raw.OP_NOP_IN
    c.close()


def test_data_out_for_unknown_task(server, bystander):
    c = logged_in(server)
    h = bhs(iscsi_raw.OP_DATA_OUT, 0x80, dlen=512, itt=0xabcdef, f20=0x12345678,
            f28=c.expstatsn, f32=struct.pack(">IIII", 0, 0, 0, 0))
    c.send_pdu(h, b"d" * 512)
    pdu = reject_or_drop(c, reasons={0x04, 0x09})
    if pdu is not None:  # a Reject leaves the session usable
        assert c.nop(b"y").opcode == iscsi_raw.OP_NOP_IN
    c.close()


@pytest.mark.parametrize("opcode", [iscsi_raw.OP_SCSI_CMD, iscsi_raw.OP_NOP_OUT,
                                    iscsi_raw.OP_TEXT, iscsi_raw.OP_DATA_OUT,
                                    iscsi_raw.OP_TMF, iscsi_raw.OP_LOGOUT])
def test_full_feature_pdu_before_login(server, bystander, opcode):
    c = iscsi_raw.Conn("127.0.0.1", server.port, timeout=5)
    h = bhs(opcode, 0x80, itt=1, f20=0xffffffff, f24=1,
            f32=bytes(iscsi_raw.INQUIRY) + bytes(10))
    c.send_pdu(h)
    pdu = reject_or_drop(c, in_login=True)
    if pdu is not None:
        # a target may Reject first; the session must still not be usable
        with pytest.raises((iscsi_raw.Closed, AssertionError, socket.timeout)):
            rsp = c.nop(b"q")
            assert rsp.opcode != iscsi_raw.OP_NOP_IN
    c.close()


def test_scsi_command_during_login(server, bystander):
    """Login half done (security stage answered, not transitioned)."""
    c = iscsi_raw.Conn("127.0.0.1", server.port, timeout=5)
    keys = iscsi_raw.text_keys({"InitiatorName": INITIATOR, "TargetName": DEFAULT_TARGET,
                                "SessionType": "Normal", "AuthMethod": "None"})
    h = bhs(iscsi_raw.OP_LOGIN, 0x01, dlen=len(keys), itt=1, immediate=True)  # CSG 0 NSG 1, no T
    struct.pack_into(">Q", h, 8, (0x400000000001 << 16))
    c.send_pdu(h, keys)
    rsp = c.recv_pdu()
    assert rsp.opcode == iscsi_raw.OP_LOGIN_RSP
    h = bhs(iscsi_raw.OP_SCSI_CMD, 0x80 | 0x40, itt=2, f20=96, f24=1,
            f32=bytes(iscsi_raw.INQUIRY) + bytes(10))
    c.send_pdu(h)
    reject_or_drop(c, in_login=True)
    c.close()


@pytest.mark.parametrize("seed", range(6))
def test_garbage(server, bystander, seed):
    import random
    rnd = random.Random(seed)
    c = iscsi_raw.Conn("127.0.0.1", server.port, timeout=5)
    blob = bytes(rnd.getrandbits(8) for _ in range(48 * rnd.randint(1, 40)))
    try:
        c.send_raw(blob)
        c.sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # already dropped
    try:
        while True:
            pdu = c.recv_pdu()
            assert pdu.opcode in (OP_REJECT, iscsi_raw.OP_LOGIN_RSP), pdu
    except (iscsi_raw.Closed, socket.timeout, ConnectionError):
        pass
    c.close()


def test_garbage_after_login(server, bystander):
    c = logged_in(server)
    c.send_raw(os.urandom(48 * 20))
    try:
        while True:
            pdu = c.recv_pdu()
            assert pdu.opcode in (OP_REJECT, iscsi_raw.OP_NOP_IN, iscsi_raw.OP_SCSI_RSP,
                                  iscsi_raw.OP_TEXT_RSP, iscsi_raw.OP_TMF_RSP,
                                  iscsi_raw.OP_LOGOUT_RSP, iscsi_raw.OP_R2T,
                                  iscsi_raw.OP_DATA_IN), pdu
    except (iscsi_raw.Closed, socket.timeout):
        pass
    c.close()


def test_bad_header_digest_drops(server, bystander):
    c = iscsi_raw.Conn("127.0.0.1", server.port, timeout=5)
    c.login(INITIATOR, DEFAULT_TARGET, header_digest=True)
    h = bhs(iscsi_raw.OP_NOP_OUT, 0x80, itt=5, f20=0xffffffff, f24=c.cmdsn, f28=c.expstatsn,
            immediate=True)
    c.send_raw(bytes(h) + b"\0\0\0\0")
    with pytest.raises(iscsi_raw.Closed):  # RFC 7143: the length cannot be trusted
        while True:
            assert c.recv_pdu().opcode != iscsi_raw.OP_NOP_IN, "a bad header digest was accepted"
    c.close()


def test_many_half_open_connections(server, bystander):
    socks = []
    for _ in range(50):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"\x03" + bytes(20))
        socks.append(s)
    for s in socks:
        s.close()
