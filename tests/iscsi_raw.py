"""A small iSCSI initiator over a raw socket, for tests that need to send
exactly the PDUs they want (bad input, data digests, which libiscsi cannot
do).  Written from RFC 7143; only what the tests need."""
import hashlib
import socket
import struct

OP_NOP_OUT, OP_SCSI_CMD, OP_TMF, OP_LOGIN, OP_TEXT, OP_DATA_OUT, OP_LOGOUT = 0, 1, 2, 3, 4, 5, 6
OP_NOP_IN, OP_SCSI_RSP, OP_TMF_RSP, OP_LOGIN_RSP, OP_TEXT_RSP = 0x20, 0x21, 0x22, 0x23, 0x24
OP_DATA_IN, OP_LOGOUT_RSP, OP_R2T, OP_ASYNC, OP_REJECT = 0x25, 0x26, 0x31, 0x32, 0x3f
IMMEDIATE = 0x40
RSVD = 0xffffffff


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data):
    c = 0xffffffff
    t = _TABLE
    for b in data:
        c = t[(c ^ b) & 0xff] ^ (c >> 8)
    return c ^ 0xffffffff


def pad4(n):
    return (4 - n % 4) % 4


def bhs(opcode, flags=0, dlen=0, lun=0, itt=0, f20=0, f24=0, f28=0, f32=b"\0" * 16,
        ahs_len=0, immediate=False):
    """A 48-byte basic header: byte 0 opcode, 1 flags, 4 AHS length, 5..7
    data length, 8..15 LUN, 16 ITT, then four words and 16 more bytes."""
    h = bytearray(48)
    h[0] = opcode | (IMMEDIATE if immediate else 0)
    h[1] = flags
    h[4] = ahs_len
    h[5:8] = dlen.to_bytes(3, "big")
    h[8:16] = struct.pack(">Q", lun)
    struct.pack_into(">IIII", h, 16, itt, f20, f24, f28)
    h[32:48] = f32
    return h


def lun_field(lun):
    return (lun << 48) if lun < 256 else ((0x40 | (lun >> 8)) << 56 | (lun & 0xff) << 48)


def text_keys(keys):
    return b"".join(f"{k}={v}".encode() + b"\0" for k, v in keys.items())


def parse_keys(data):
    out = {}
    for item in data.split(b"\0"):
        if b"=" in item:
            k, v = item.split(b"=", 1)
            out[k.decode()] = v.decode()
    return out


class Closed(Exception):
    """The target dropped the connection."""


class LoginFailed(Exception):
    def __init__(self, status, keys):
        super().__init__(f"login status 0x{status:04x} {keys}")
        self.status = status


class Pdu:
    def __init__(self, hdr, data):
        self.hdr = hdr
        self.data = data

    @property
    def opcode(self):
        return self.hdr[0] & 0x3f

    @property
    def flags(self):
        return self.hdr[1]

    def word(self, off):
        return struct.unpack_from(">I", self.hdr, off)[0]

    def __repr__(self):
        return f"Pdu(op=0x{self.opcode:02x}, flags=0x{self.flags:02x}, dlen={len(self.data)})"


class Conn:
    def __init__(self, host, port, timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.hdigest = self.ddigest = False
        self.itt = 0x1000
        self.cmdsn = 1
        self.expstatsn = 0
        self.isid = 0x400000000000 | (id(self) & 0xffffff)
        self.tsih = 0
        self.cid = 0
        self.params = {}
        self.target_mrdsl = 8192

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # ---- bytes -------------------------------------------------------------------
    def send_raw(self, data):
        self.sock.sendall(data)

    def send_pdu(self, hdr, data=b""):
        out = bytes(hdr)
        if self.hdigest:
            out += struct.pack("<I", crc32c(hdr))
        if data:
            body = bytes(data) + b"\0" * pad4(len(data))
            out += body
            if self.ddigest:
                out += struct.pack("<I", crc32c(body))
        self.sock.sendall(out)

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            try:
                chunk = self.sock.recv(n - len(buf))
            except (ConnectionResetError, BrokenPipeError) as e:
                raise Closed(str(e))
            if not chunk:
                raise Closed("EOF")
            buf += chunk
        return buf

    def recv_pdu(self):
        hdr = self._recv_exact(48)
        ahs = hdr[4] * 4
        if ahs:
            self._recv_exact(ahs)
        if self.hdigest:
            got = struct.unpack("<I", self._recv_exact(4))[0]
            assert got == crc32c(hdr), "bad header digest from the target"
        dlen = int.from_bytes(hdr[5:8], "big")
        data = b""
        if dlen:
            body = self._recv_exact(dlen + pad4(dlen))
            if self.ddigest:
                got = struct.unpack("<I", self._recv_exact(4))[0]
                assert got == crc32c(body), "bad data digest from the target"
            data = body[:dlen]
        pdu = Pdu(hdr, data)
        if pdu.opcode in (OP_NOP_IN, OP_SCSI_RSP, OP_TMF_RSP, OP_TEXT_RSP, OP_LOGOUT_RSP,
                          OP_LOGIN_RSP, OP_REJECT, OP_ASYNC) or \
                (pdu.opcode == OP_DATA_IN and pdu.flags & 0x01):
            statsn = pdu.word(24)
            self.expstatsn = (statsn + 1) & 0xffffffff
        return pdu

    def next_itt(self):
        self.itt += 1
        return self.itt

    # ---- login --------------------------------------------------------------------
    def _login_pdu(self, csg, nsg, transit, keys, itt):
        flags = (0x80 if transit else 0) | (csg << 2) | nsg
        h = bhs(OP_LOGIN, flags, dlen=len(keys), itt=itt, f20=self.cid << 16, f24=self.cmdsn,
                f28=self.expstatsn, immediate=True)
        h[2], h[3] = 0, 0  # version max, min
        struct.pack_into(">Q", h, 8, (self.isid << 16) | self.tsih)
        self.send_pdu(h, keys)
        rsp = self.recv_pdu()
        if rsp.opcode != OP_LOGIN_RSP:
            raise AssertionError(f"expected a login response, got {rsp}")
        status = struct.unpack_from(">H", rsp.hdr, 36)[0]
        got = parse_keys(rsp.data)
        if status:
            raise LoginFailed(status, got)
        self.tsih = struct.unpack_from(">H", rsp.hdr, 14)[0]
        return rsp, got

    def login(self, initiator, target=None, chap=None, header_digest=False, data_digest=False,
              extra=None, mrdsl=262144):
        """Log in; returns the target's operational keys."""
        itt = self.next_itt()
        sec = {"InitiatorName": initiator}
        if target:
            sec["TargetName"] = target
            sec["SessionType"] = "Normal"
        else:
            sec["SessionType"] = "Discovery"
        sec["AuthMethod"] = "CHAP,None" if chap else "None"
        rsp, got = self._login_pdu(0, 1, not chap, text_keys(sec), itt)
        if chap:
            assert got.get("AuthMethod") == "CHAP", got
            rsp, got = self._login_pdu(0, 1, False, text_keys({"CHAP_A": "5"}), itt)
            ident = int(got["CHAP_I"])
            challenge = bytes.fromhex(got["CHAP_C"][2:])
            user, secret = chap
            resp = hashlib.md5(bytes([ident]) + secret.encode() + challenge).hexdigest()
            rsp, got = self._login_pdu(0, 1, True, text_keys({"CHAP_N": user,
                                                              "CHAP_R": "0x" + resp}), itt)
        ops = {"HeaderDigest": "CRC32C" if header_digest else "None",
               "DataDigest": "CRC32C" if data_digest else "None",
               "ImmediateData": "Yes", "InitialR2T": "No",
               "MaxRecvDataSegmentLength": str(mrdsl),
               "MaxBurstLength": "262144", "FirstBurstLength": "65536",
               "ErrorRecoveryLevel": "0", "MaxConnections": "1",
               "DefaultTime2Wait": "0", "DefaultTime2Retain": "0",
               "MaxOutstandingR2T": "1", "DataPDUInOrder": "Yes", "DataSequenceInOrder": "Yes"}
        if extra:
            ops.update(extra)
        params = {}
        keys = text_keys(ops)
        for _ in range(8):
            rsp, got = self._login_pdu(1, 3, True, keys, itt)
            params.update(got)
            if rsp.flags & 0x80 and (rsp.flags & 3) == 3:
                break
            keys = b""
        else:
            raise AssertionError("login never reached full feature phase")
        self.params = params
        self.hdigest = params.get("HeaderDigest") == "CRC32C"
        self.ddigest = params.get("DataDigest") == "CRC32C"
        self.target_mrdsl = int(params.get("MaxRecvDataSegmentLength", "8192"))
        self.cmdsn += 0  # login is immediate
        return params

    # ---- full feature phase -------------------------------------------------------------
    def nop(self, payload=b""):
        itt = self.next_itt()
        h = bhs(OP_NOP_OUT, 0x80, dlen=len(payload), itt=itt, f20=RSVD, f24=self.cmdsn,
                f28=self.expstatsn, immediate=True)
        self.send_pdu(h, payload)
        rsp = self.recv_pdu()
        return rsp

    def scsi(self, cdb, lun=0, read_len=0, write=None, immediate_limit=None, retry_ua=True):
        """Run one command; returns (status, data-in bytes, sense bytes).  A
        UNIT ATTENTION (a new nexus sees POWER ON first) is retried."""
        for _ in range(4):
            status, data, sense = self.scsi_once(cdb, lun, read_len, write, immediate_limit)
            if not (retry_ua and status == 2 and len(sense) > 2 and sense[2] & 0xf == 6):
                break
        return status, data, sense

    def scsi_once(self, cdb, lun=0, read_len=0, write=None, immediate_limit=None):
        itt = self.next_itt()
        flags = 0x80 | 0x01  # F, SIMPLE
        edtl = 0
        if read_len:
            flags |= 0x40
            edtl = read_len
        first = b""
        if write is not None:
            flags |= 0x20
            edtl = len(write)
            limit = min(int(self.params.get("FirstBurstLength", "65536")), self.target_mrdsl)
            if self.params.get("ImmediateData", "Yes") == "Yes":
                first = write[:limit if immediate_limit is None else immediate_limit]
        cdb16 = bytes(cdb) + b"\0" * (16 - len(cdb))
        h = bhs(OP_SCSI_CMD, flags, dlen=len(first), lun=lun_field(lun), itt=itt, f20=edtl,
                f24=self.cmdsn, f28=self.expstatsn, f32=cdb16)
        self.cmdsn = (self.cmdsn + 1) & 0xffffffff
        self.send_pdu(h, first)
        sent = len(first)
        if write is not None and sent < len(write) and self.params.get("InitialR2T") == "No":
            burst = min(int(self.params.get("FirstBurstLength", "65536")), len(write))
            sent = self._data_out(itt, RSVD, write, sent, burst - sent, 0)
        data = bytearray()
        while True:
            pdu = self.recv_pdu()
            if pdu.opcode == OP_R2T:
                ttt, off, length = pdu.word(20), pdu.word(40), pdu.word(44)
                self._data_out(itt, ttt, write, off, length, 0)
            elif pdu.opcode == OP_DATA_IN:
                off = pdu.word(40)
                if len(data) < off + len(pdu.data):
                    data.extend(b"\0" * (off + len(pdu.data) - len(data)))
                data[off:off + len(pdu.data)] = pdu.data
                if pdu.flags & 0x01:
                    return pdu.hdr[3], bytes(data), b""
            elif pdu.opcode == OP_SCSI_RSP:
                status = pdu.hdr[3]
                sense = b""
                if pdu.data and len(pdu.data) >= 2:
                    slen = struct.unpack(">H", pdu.data[:2])[0]
                    sense = pdu.data[2:2 + slen]
                return status, bytes(data), sense
            elif pdu.opcode == OP_NOP_IN:
                continue
            else:
                raise AssertionError(f"unexpected {pdu} during a command")

    def _data_out(self, itt, ttt, buf, offset, length, datasn):
        end = offset + length
        while offset < end:
            n = min(self.target_mrdsl, end - offset)
            final = 0x80 if offset + n >= end else 0
            h = bhs(OP_DATA_OUT, final, dlen=n, itt=itt, f20=ttt, f28=self.expstatsn,
                    f32=struct.pack(">IIII", 0, datasn, offset, 0))
            self.send_pdu(h, buf[offset:offset + n])
            offset += n
            datasn += 1
        return offset

    def logout(self):
        itt = self.next_itt()
        h = bhs(OP_LOGOUT, 0x80, itt=itt, f24=self.cmdsn, f28=self.expstatsn, immediate=True)
        self.send_pdu(h)
        rsp = self.recv_pdu()
        assert rsp.opcode == OP_LOGOUT_RSP, rsp
        return rsp.hdr[2]


def read10(lba, blocks):
    return struct.pack(">BBIBHB", 0x28, 0, lba, 0, blocks, 0)


def write10(lba, blocks):
    return struct.pack(">BBIBHB", 0x2a, 0, lba, 0, blocks, 0)


INQUIRY = bytes([0x12, 0, 0, 0, 96, 0])
TEST_UNIT_READY = bytes(6)


def block_size(conn, lun=0):
    """READ CAPACITY(10): the LU's logical block size."""
    status, data, sense = conn.scsi(bytes([0x25]) + bytes(9), lun=lun, read_len=8)
    assert status == 0, sense.hex()
    return struct.unpack(">II", data)[1]
