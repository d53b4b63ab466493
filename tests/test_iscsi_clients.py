"""Real iSCSI clients against scstd: CHAP (one-way and mutual) with libiscsi's
URL conventions, header digests through libiscsi and qemu, data digests
through the raw client (libiscsi never negotiates DataDigest)."""
import os
import re
import subprocess
import threading

import pytest

import iscsi_raw
from scstd_harness import DEFAULT_TARGET, INITIATOR, Scstd, need, run, wait_for

USER, SECRET = "joe", "secretsecret12"
TUSER, TSECRET = "target-joe", "targetsecret34"


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.fixture
def chap_server(bins, tmp_path):
    conf = write(tmp_path, "iscsi.conf",
                 f"Target {DEFAULT_TARGET}\n\tIncomingUser {USER} {SECRET}\n")
    s = Scstd(tmp_path, args=["--iscsi-config", conf]).start()
    yield s
    s.kill()


def inq(url):
    return run([need("iscsi-inq"), "-i", INITIATOR, url], check=False, timeout=30)


def test_chap_right_secret_accepted(chap_server):
    p = inq(chap_server.url(user=USER, secret=SECRET))
    assert p.returncode == 0, p.stderr
    assert b"DIRECT_ACCESS" in p.stdout


def test_chap_wrong_secret_refused(chap_server):
    p = inq(chap_server.url(user=USER, secret="wrongsecret99"))
    assert p.returncode != 0
    assert b"DIRECT_ACCESS" not in p.stdout
    p = inq(chap_server.url(user="mallory", secret=SECRET))
    assert p.returncode != 0


def test_chap_required(chap_server):
    p = inq(chap_server.url())
    assert p.returncode != 0, "a login without CHAP must be refused"


def test_chap_with_qemu(chap_server, tmp_path):
    src, back = tmp_path / "a.img", tmp_path / "b.img"
    src.write_bytes(os.urandom(4 << 20))
    url = chap_server.url(user=USER, secret=SECRET)
    run([need("qemu-img"), "convert", "-n", "-f", "raw", "-O", "raw", str(src), url])
    run([need("qemu-img"), "convert", "-f", "raw", "-O", "raw", url, str(back)], timeout=300)
    assert back.read_bytes()[:4 << 20] == src.read_bytes()


def test_chap_raw_client_and_environment(chap_server):
    c = iscsi_raw.Conn("127.0.0.1", chap_server.port)
    c.login(INITIATOR, DEFAULT_TARGET, chap=(USER, SECRET))
    status, data, _ = c.scsi(iscsi_raw.INQUIRY, read_len=96)
    assert status == 0 and data[0] & 0x1f == 0
    c.close()
    c = iscsi_raw.Conn("127.0.0.1", chap_server.port)
    with pytest.raises(iscsi_raw.LoginFailed) as e:
        c.login(INITIATOR, DEFAULT_TARGET, chap=(USER, "nope-nope-nope"))
    assert e.value.status == 0x0201  # authentication failure
    c.close()
    env = dict(os.environ, LIBISCSI_CHAP_USERNAME=USER, LIBISCSI_CHAP_PASSWORD=SECRET)
    p = subprocess.run([need("iscsi-inq"), "-i", INITIATOR, chap_server.url()], env=env,
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr


def test_mutual_chap(bins, tmp_path):
    conf = write(tmp_path, "iscsi.conf",
                 f"Target {DEFAULT_TARGET}\n\tIncomingUser {USER} {SECRET}\n"
                 f"\tOutgoingUser {TUSER} {TSECRET}\n")
    s = Scstd(tmp_path, args=["--iscsi-config", conf]).start()
    try:
        ok = inq(s.url(user=USER, secret=SECRET,
                       query=f"?target_user={TUSER}&target_password={TSECRET}"))
        assert ok.returncode == 0, ok.stderr
        bad = inq(s.url(user=USER, secret=SECRET,
                        query=f"?target_user={TUSER}&target_password=notthetarget"))
        assert bad.returncode != 0, "the initiator must refuse a target with the wrong secret"
    finally:
        assert s.stop() == 0, s.stderr()


def test_chap_set_at_run_time(bins, tmp_path):
    s = Scstd(tmp_path).start()
    try:
        assert inq(s.url()).returncode == 0
        s.ctl("param", DEFAULT_TARGET, "IncomingUser", f"{USER} {SECRET}")
        assert inq(s.url()).returncode != 0
        assert inq(s.url(user=USER, secret=SECRET)).returncode == 0
    finally:
        s.kill()


def test_discovery_chap(bins, tmp_path):
    conf = write(tmp_path, "iscsi.conf", f"IncomingUser {USER} {SECRET}\n")
    s = Scstd(tmp_path, args=["--iscsi-config", conf]).start()
    try:
        ls = need("iscsi-ls")
        bad = run([ls, "-i", INITIATOR, f"iscsi://127.0.0.1:{s.port}"], check=False)
        assert bad.returncode != 0 or DEFAULT_TARGET.encode() not in bad.stdout
        good = run([ls, "-i", INITIATOR, f"iscsi://{USER}%{SECRET}@127.0.0.1:{s.port}"])
        assert DEFAULT_TARGET.encode() in good.stdout
    finally:
        s.kill()


# ---- digests ----------------------------------------------------------------------------

@pytest.fixture
def server(bins, tmp_path):
    s = Scstd(tmp_path).start()
    yield s
    s.kill()


def test_header_digest_libiscsi(server):
    p = inq(server.url(query="?header_digest=crc32c"))
    assert p.returncode == 0, p.stderr


def test_header_digest_qemu_round_trip_is_in_use(server, tmp_path):
    """qemu-img moves 64 MiB with CRC32C header digests (qemu takes them as a
    block option; its URL form crashes qemu 7.2 even against tgt); while it
    runs the session is seen with the digest on."""
    src, back = tmp_path / "a.img", tmp_path / "b.img"
    src.write_bytes(os.urandom(64 << 20))
    opts = (f"driver=iscsi,transport=tcp,portal=127.0.0.1:{server.port},"
            f"target={DEFAULT_TARGET},lun=0,initiator-name={INITIATOR},header-digest=crc32c")
    seen = []

    def watch():
        for _ in range(400):
            out = server.ctl("sessions", check=False).stdout
            if "header_digest:CRC32C" in out:
                seen.append(out)
                return
            threading.Event().wait(0.05)

    t = threading.Thread(target=watch)
    t.start()
    run([need("qemu-img"), "convert", "-n", "-f", "raw", "--target-image-opts", str(src), opts],
        timeout=300)
    t.join()
    assert seen, "no session with header_digest:CRC32C was seen during the copy"
    run([need("qemu-img"), "convert", "--image-opts", opts, "-O", "raw", str(back)], timeout=300)
    assert back.read_bytes()[:64 << 20] == src.read_bytes()


def test_target_requiring_header_digest(bins, tmp_path):
    conf = write(tmp_path, "iscsi.conf", f"Target {DEFAULT_TARGET}\n\tHeaderDigest CRC32C\n")
    s = Scstd(tmp_path, args=["--iscsi-config", conf]).start()
    try:
        c = iscsi_raw.Conn("127.0.0.1", s.port)
        params = c.login(INITIATOR, DEFAULT_TARGET, header_digest=True)
        assert params["HeaderDigest"] == "CRC32C"
        status, data, _ = c.scsi(iscsi_raw.INQUIRY, read_len=96)
        assert status == 0
        c.close()
        # offering only None to a target that insists on CRC32C cannot work
        c = iscsi_raw.Conn("127.0.0.1", s.port)
        with pytest.raises((iscsi_raw.LoginFailed, iscsi_raw.Closed, AssertionError)):
            p = c.login(INITIATOR, DEFAULT_TARGET, header_digest=False)
            assert p.get("HeaderDigest") != "None", p
        c.close()
    finally:
        s.kill()


@pytest.mark.parametrize("hd", [False, True])
def test_data_digest_raw_client(server, hd):
    c = iscsi_raw.Conn("127.0.0.1", server.port)
    params = c.login(INITIATOR, DEFAULT_TARGET, header_digest=hd, data_digest=True,
                     extra={"InitialR2T": "Yes", "ImmediateData": "No"})
    assert params["DataDigest"] == "CRC32C", params
    out = server.ctl("sessions").stdout
    assert "data_digest:CRC32C" in out, out
    pattern = os.urandom(128 << 10)  # R2T'd Data-Out, several Data-In
    status, _, sense = c.scsi(iscsi_raw.write10(2048, len(pattern) // 512), write=pattern)
    assert status == 0, sense
    status, data, _ = c.scsi(iscsi_raw.read10(2048, len(pattern) // 512), read_len=len(pattern))
    assert status == 0 and data == pattern
    assert c.logout() == 0
    c.close()


def test_bad_data_digest_is_caught(server):
    """A Data-Out whose data digest is wrong: Reject (data digest error) or a
    dropped connection, never silently written."""
    c = iscsi_raw.Conn("127.0.0.1", server.port)
    c.login(INITIATOR, DEFAULT_TARGET, data_digest=True,
            extra={"InitialR2T": "Yes", "ImmediateData": "No"})
    assert c.scsi(iscsi_raw.TEST_UNIT_READY)[0] == 0  # the new nexus's unit attention
    itt = c.next_itt()
    data = b"\xee" * 4096
    h = iscsi_raw.bhs(iscsi_raw.OP_SCSI_CMD, 0x80 | 0x20 | 1, itt=itt, f20=4096, f24=c.cmdsn,
                      f28=c.expstatsn, f32=iscsi_raw.write10(4096, 8) + bytes(6))
    c.cmdsn += 1
    c.send_pdu(h)
    r2t = c.recv_pdu()
    assert r2t.opcode == iscsi_raw.OP_R2T, r2t
    out = iscsi_raw.bhs(iscsi_raw.OP_DATA_OUT, 0x80, dlen=4096, itt=itt, f20=r2t.word(20),
                        f28=c.expstatsn)
    c.send_raw(bytes(out) + data + b"\0\0\0\0")  # digest 0: wrong
    try:
        pdu = c.recv_pdu()
        assert pdu.opcode == iscsi_raw.OP_REJECT and pdu.hdr[2] == 0x02, pdu
    except iscsi_raw.Closed:
        pass
    c.close()
    c = iscsi_raw.Conn("127.0.0.1", server.port)
    c.login(INITIATOR, DEFAULT_TARGET)
    status, got, _ = c.scsi(iscsi_raw.read10(4096, 8), read_len=4096)
    assert status == 0 and got != data, "data with a bad digest reached the disk"
    c.close()


def test_sendtargets_in_normal_session(server):
    c = iscsi_raw.Conn("127.0.0.1", server.port)
    c.login(INITIATOR, DEFAULT_TARGET)
    itt = c.next_itt()
    body = b"SendTargets=All\0"
    h = iscsi_raw.bhs(iscsi_raw.OP_TEXT, 0x80, dlen=len(body), itt=itt, f20=0xffffffff,
                      f24=c.cmdsn, f28=c.expstatsn, immediate=True)
    c.send_pdu(h, body)
    rsp = c.recv_pdu()
    assert rsp.opcode == iscsi_raw.OP_TEXT_RSP
    assert f"TargetName={DEFAULT_TARGET}".encode() in rsp.data
    assert re.search(rb"TargetAddress=127\.0\.0\.1:\d+,1", rsp.data), rsp.data
    c.close()
