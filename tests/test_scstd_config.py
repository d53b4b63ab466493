"""scstd's configuration files: the seed's legacy scst.conf and
iscsi-scstd.conf (adapted to backstores that exist), the nested scst.conf
scstadmin writes, and bad files, each refused with FILE:LINE and exit 2."""
import re
import subprocess
import textwrap

import pytest

from scstd_harness import BIN, INITIATOR, Scstd, inquiry_ok, need, run

SEED_ISCSI_CONF = """\
Target iqn.2001-04.com.example.blackbox:1
\tQueuedCommands 2048
\tRspTimeout 90
\tNOPInInterval 30
\tNOPInTimeout 30
\tMaxSessions 0
\tInitialR2T No
\tImmediateData Yes
\tMaxConnections 1
\tMaxRecvDataSegmentLength 16773120
\tMaxXmitDataSegmentLength 16773120
\tMaxBurstLength 16773120
\tFirstBurstLength 16773120
\tDefaultTime2Wait 0
\tDefaultTime2Retain 0
\tMaxOutstandingR2T 8
\tDataPDUInOrder Yes
\tDataSequenceInOrder Yes
\tErrorRecoveryLevel 0
\tHeaderDigest None
\tDataDigest None
"""

# The seed's scst.conf with the drbd device swapped for a second ram
# backstore, and the initiator of the [GROUP blackbox] made ours.
SEED_SCST_CONF = f"""\
# /etc/scst.conf
# Comments must start a line (no comments at end of line after commands)
# (This is the ancient format of the SCST config file used with /proc in version 2.6.24)

[OPTIONS]
KEEP_CONFIG TRUE
ISSUE_LIP FALSE

[HANDLER vdisk]
#DEVICE <vdisk name>,<device path>,<options>,<block size>,<t10 device id>

# Connection from SCST VDISK through bio_tcmu to a TCMU handler storage backend
DEVICE disk_ram000,/UMCfuse/dev/tcmu000,BLOCKIO,4096,tcmu000

# (the seed's second device is /UMCfuse/dev/drbd1; here a plain backstore)
DEVICE disk_ram001,/UMCfuse/dev/tcmu001,BLOCKIO,4096,tcmu001

[GROUP Default]

[GROUP blackbox]
USER {INITIATOR}

[ASSIGNMENT blackbox]
DEVICE disk_ram000,0
DEVICE disk_ram001,1

[TARGETS enable]
#HOST <wwn identifier>

[TARGETS disable]
#HOST <wwn identifier>
"""

SEED_TARGET = "iqn.2001-04.com.example.blackbox:1"


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_seed_legacy_config(bins, tmp_path):
    scst = write(tmp_path, "scst.conf", SEED_SCST_CONF)
    iscsi = write(tmp_path, "iscsi-scstd.conf", SEED_ISCSI_CONF)
    s = Scstd(tmp_path, args=["--backstore", "tcmu000:64M", "--backstore", "tcmu001:32M",
                              "--config", scst, "--iscsi-config", iscsi]).start()
    try:
        assert f"iscsi://127.0.0.1:{s.port}/{SEED_TARGET}/0" in s.stdout()
        assert f"iscsi://127.0.0.1:{s.port}/{SEED_TARGET}/1" in s.stdout()
        for lun, size in ((0, 64 << 20), (1, 32 << 20)):
            cap = run([need("iscsi-readcapacity16"), "-i", INITIATOR, s.url(lun, SEED_TARGET)],
                      text=True).stdout
            assert "LOGICAL BLOCK LENGTH IN BYTES:4096" in cap, cap
            assert f"Total size:{size}" in cap, cap
        # [GROUP blackbox] names our initiator: another initiator sees no LUN 1
        p = run([need("iscsi-inq"), "-i", "iqn.2026-11.local.tests:stranger",
                 s.url(1, SEED_TARGET)], check=False)
        assert p.returncode != 0
        assert "device:disk_ram001" in s.ctl("luns", SEED_TARGET).stdout
    finally:
        assert s.stop() == 0, s.stderr()


NESTED = """\
HANDLER vdisk_blockio {
\tDEVICE disk01 {
\t\tfilename /UMCfuse/dev/tcmu000
\t\tblocksize 512
\t\tthin_provisioned 1
\t}
\tDEVICE disk02 {
\t\tfilename /UMCfuse/dev/tcmu001
\t\tread_only 1
\t}
}

HANDLER vdisk_fileio {
\tDEVICE filedisk {
\t\tfilename FILE
\t\tsize 8388608
\t\tremovable 1
\t}
}

TARGET_DRIVER iscsi {
\tenabled 1

\tTARGET iqn.2026-11.local.test:nested {
\t\tQueuedCommands 64
\t\tMaxRecvDataSegmentLength 65536
\t\tImmediateData Yes
\t\tLUN 0 disk01
\t\tLUN 1 disk02
\t\tLUN 2 filedisk

\t\tGROUP special {
\t\t\tLUN 0 disk02
\t\t\tINITIATOR iqn.2026-11.local.tests:special
\t\t}

\t\tenabled 1
\t}
}
"""


def test_nested_config(bins, tmp_path):
    img = tmp_path / "file.img"
    img.write_bytes(b"\x5a" * 4096 + bytes((8 << 20) - 4096))
    conf = write(tmp_path, "scst.conf", NESTED.replace("FILE", str(img)))
    s = Scstd(tmp_path, args=["--backstore", "tcmu000:64M", "--backstore", "tcmu001:16M",
                              "--config", conf]).start()
    target = "iqn.2026-11.local.test:nested"
    try:
        inq = need("iscsi-inq")
        cap = run([need("iscsi-readcapacity16"), "-i", INITIATOR, s.url(0, target)],
                  text=True).stdout
        assert "Total size:67108864" in cap and "LBPME:1" in cap, cap
        # LUN 0 of group "special" is disk02 (16 MiB)
        cap = run([need("iscsi-readcapacity16"), "-i", "iqn.2026-11.local.tests:special",
                   s.url(0, target)], text=True).stdout
        assert "Total size:16777216" in cap, cap
        # read-only: a write fails with DATA PROTECT
        small = tmp_path / "small.img"
        small.write_bytes(b"\1" * 65536)
        p = run([need("qemu-img"), "convert", "-n", "-f", "raw", "-O", "raw", str(small),
                 s.url(1, target)], check=False)
        assert p.returncode != 0, "a write to a read-only LUN must fail"
        # removable, backed by the file: its bytes come through
        out = run([inq, "-i", INITIATOR, s.url(2, target)], text=True).stdout
        assert "Removable:1" in out, out
        back = tmp_path / "back.img"
        run([need("qemu-img"), "convert", "-f", "raw", "-O", "raw", s.url(2, target), str(back)])
        assert back.read_bytes()[:4096] == b"\x5a" * 4096
    finally:
        assert s.stop() == 0, s.stderr()


def test_check_mode(bins, tmp_path):
    conf = write(tmp_path, "scst.conf", NESTED.replace("FILE", "/UMCfuse/dev/tcmu001"))
    p = subprocess.run([str(BIN / "scstd"), "--check", "--backstore", "tcmu000:64M",
                        "--backstore", "tcmu001:16M", "--config", str(conf), "--admin", "none"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert "iscsi://127.0.0.1:3260/iqn.2026-11.local.test:nested/0" in p.stdout


def test_iscsi_config_applies_to_the_default_target(bins, tmp_path):
    conf = write(tmp_path, "iscsi.conf",
                 "# defaults\nMaxBurstLength 65536\n\nTarget iqn.2026-11.local.scstd:ram0\n"
                 "  MaxRecvDataSegmentLength 65536\n  FirstBurstLength 32768\n")
    s = Scstd(tmp_path, args=["--iscsi-config", conf]).start()
    try:
        import iscsi_raw
        c = iscsi_raw.Conn("127.0.0.1", s.port)
        params = c.login(INITIATOR, "iqn.2026-11.local.scstd:ram0",
                         extra={"MaxBurstLength": "262144", "FirstBurstLength": "262144"})
        assert params["MaxBurstLength"] == "65536", params
        assert params["FirstBurstLength"] == "32768", params
        assert params["MaxRecvDataSegmentLength"] == "65536", params
        c.close()
    finally:
        assert s.stop() == 0, s.stderr()


# (file name, text, the line the error must name, words in the message)
BAD_SCST = [
    ("unknown_handler", "HANDLER frobnicator {\n\tDEVICE d {\n\t}\n}\n", 1, ""),
    ("missing_bdev", "HANDLER vdisk_blockio {\n\tDEVICE d {\n\t\tfilename /UMCfuse/dev/tcmu077\n"
     "\t}\n}\n", None, "tcmu077"),
    ("bad_blocksize", "HANDLER vdisk_blockio {\n\tDEVICE d {\n\t\tfilename tcmu000\n"
     "\t\tblocksize 1000\n\t}\n}\n", 4, ""),
    ("unknown_device_attr", "HANDLER vdisk_blockio {\n\tDEVICE d {\n\t\tfilename tcmu000\n"
     "\t\tcolour blue\n\t}\n}\n", 4, "colour"),
    ("lun_unknown_device", "TARGET_DRIVER iscsi {\n\tTARGET iqn.2026-11.x:t {\n"
     "\t\tLUN 0 nodevice\n\t}\n}\n", 3, "nodevice"),
    ("lun_not_a_number", "HANDLER vdisk_blockio {\n\tDEVICE d {\n\t\tfilename tcmu000\n\t}\n}\n"
     "TARGET_DRIVER iscsi {\n\tTARGET iqn.2026-11.x:t {\n\t\tLUN zero d\n\t}\n}\n", 8, ""),
    ("unknown_driver", "TARGET_DRIVER fcst {\n\tTARGET x {\n\t\tQueuedCommands 8\n\t}\n}\n",
     3, "fcst"),
    ("bad_iscsi_param", "TARGET_DRIVER iscsi {\n\tTARGET iqn.2026-11.x:t {\n"
     "\t\tMaxRecvDataSegmentLength 100\n\t}\n}\n", 3, "MaxRecvDataSegmentLength"),
    ("unclosed_brace", "HANDLER vdisk_blockio {\n\tDEVICE d {\n\t\tfilename tcmu000\n", None, ""),
    ("stray_brace", "}\n", 1, ""),
    ("legacy_missing_bdev", "[HANDLER vdisk]\nDEVICE disk,/UMCfuse/dev/tcmu055,BLOCKIO,4096,x\n",
     2, "tcmu055"),
    ("legacy_unknown_section", "[HANDLER vdisk]\n[FROB x]\n", 2, ""),
    ("legacy_bad_assignment", "[HANDLER vdisk]\nDEVICE disk,/UMCfuse/dev/tcmu000,BLOCKIO,512,x\n"
     "[GROUP g]\n[ASSIGNMENT g]\nDEVICE nodisk,0\n", 5, "nodisk"),
]

BAD_ISCSI = [
    ("target_without_name", "Target\n", 1, "Target"),
    ("unknown_key", "Target iqn.2026-11.x:t\n\tFrobnication Yes\n", 2, "Frobnication"),
    ("bad_bool", "Target iqn.2026-11.x:t\n\tImmediateData Maybe\n", 2, "ImmediateData"),
    ("bad_number", "Target iqn.2026-11.x:t\n\tMaxBurstLength lots\n", 2, "MaxBurstLength"),
    ("chap_without_secret", "Target iqn.2026-11.x:t\n\tIncomingUser joe\n", 2, "IncomingUser"),
    ("lun_line", "Target iqn.2026-11.x:t\n\tLun 0 Path=/dev/sda\n", 2, "scst.conf"),
    ("key_without_value", "\n\nTarget iqn.2026-11.x:t\n\tHeaderDigest\n", 4, "no value"),
]


def run_bad(tmp_path, args):
    return subprocess.run([str(BIN / "scstd"), "--check", "--admin", "none",
                           "--backstore", "tcmu000:16M", *map(str, args)],
                          capture_output=True, text=True, timeout=30)


def check_error(p, path, line, words):
    assert p.returncode == 2, (path.name, p.returncode, p.stderr)
    m = re.search(re.escape(str(path)) + r":(\d+): (.+)", p.stderr)
    assert m, f"{path.name}: no FILE:LINE in {p.stderr!r}"
    if line is not None:
        assert int(m.group(1)) == line, (path.name, p.stderr)
    assert words.lower() in m.group(2).lower(), (path.name, p.stderr)
    assert p.stderr.count("\n") <= 3, "one clear message, not a cascade"


@pytest.mark.parametrize("name, text, line, words", BAD_SCST, ids=[b[0] for b in BAD_SCST])
def test_bad_scst_conf(bins, tmp_path, name, text, line, words):
    path = write(tmp_path, f"{name}.conf", text)
    check_error(run_bad(tmp_path, ["--config", path]), path, line, words)


@pytest.mark.parametrize("name, text, line, words", BAD_ISCSI, ids=[b[0] for b in BAD_ISCSI])
def test_bad_iscsi_conf(bins, tmp_path, name, text, line, words):
    path = write(tmp_path, f"{name}.conf", text)
    check_error(run_bad(tmp_path, ["--iscsi-config", path]), path, line, words)


def test_bad_res_file(bins, tmp_path):
    path = write(tmp_path, "r0.res", textwrap.dedent("""\
        resource r0 {
            on alpha {
                node-id 0;
                address 127.0.0.1:7788;
                volume 0 { device drbd1 minor 1; disk "tcmu000"; meta-disk internal; }
            }
            frobnicate yes;
        }
        """))
    p = run_bad(tmp_path, ["--drbd-config", path, "--node", "alpha"])
    check_error(p, path, 7, "")


def test_missing_config_file(bins, tmp_path):
    p = run_bad(tmp_path, ["--config", tmp_path / "nope.conf"])
    assert p.returncode == 2 and "nope.conf: cannot open" in p.stderr


def test_server_survives_nothing_when_config_is_bad(bins, tmp_path):
    """A bad config never leaves a half-started server behind."""
    path = write(tmp_path, "bad.conf", "}\n")
    s = Scstd(tmp_path, args=["--config", path])
    p = subprocess.run(s.command(), capture_output=True, text=True, timeout=30)
    assert p.returncode == 2
    assert not inquiry_ok(s.url())


SEED_RES = """\
resource r0 {
    on blackbox {
\tnode-id\t\t\t0;
\taddress\t\t\t172.28.128.1:7788;
\tvolume 0 {
\t    device\t\tdrbd1 minor 1;
\t    disk\t\t"/UMCfuse/dev/tcmu001";
\t    meta-disk\t\tinternal;
\t}
    }

    on vagrant {
\tnode-id\t\t\t1;
\taddress\t\t\t172.28.128.3:7788;
\tvolume 0 {
\t    device\t\tdrbd1 minor 1;
            disk\t\t"/UMCfuse/dev/tcmu001";
\t    meta-disk\t\tinternal;
\t }
    }

    disk {
\t# Put the "c-plan-ahead 0" line first or the others will be silently ignored
\tc-plan-ahead\t\t0;\t\t\t# do not use plan-ahead algorithm
\tresync-rate\t\t40000K;\t\t\t# max bytes/second for resync
\tc-min-rate\t\t0k;\t\t\t# min bytes/second for app
    }
}
"""


def test_seed_res_file_parses(bins, tmp_path):
    path = write(tmp_path, "r0.res", SEED_RES)
    p = subprocess.run([str(BIN / "scstd"), "--check", "--admin", "none", "--drbd-config",
                        str(path), "--node", "blackbox"], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    # a node the file does not name cannot bring r0 up
    p = subprocess.run([str(BIN / "scstd"), "--check", "--admin", "none", "--drbd-config",
                        str(path), "--node", "nosuchhost", "--up", "r0",
                        "--backstore", "tcmu001:64M"], capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and "nosuchhost" in p.stderr, p.stderr
