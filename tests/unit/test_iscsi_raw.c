/* The target against a raw client that writes PDUs byte by byte: the CmdSN
 * window, Data-Out sequence errors, malformed and unsupported PDUs, digest
 * errors, login failures, NOP-In timeouts.  Each bad PDU must get a Reject or
 * a dropped connection, and a second, well-behaved session keeps working. */
#include "tests/unit/test_iscsi_rig.h"

struct raw {
    struct rig *r;
    struct umc_conn *c;
    bool connected, closed;
    uint8_t *in;
    size_t len, cap;
    bool hd, dd;
    uint16_t tsih;                     /* 0 until logged in; a login with it joins that session */
    uint16_t cid;
    uint32_t itt, cmdsn, exp_statsn, max_cmdsn;
};

static void raw_on_connect(struct umc_conn *c, void *arg) { ((struct raw *)arg)->connected = true; }

static void raw_on_readable(struct umc_conn *c, void *arg)
{
    struct raw *x = arg;
    for (;;) {
        if (x->cap - x->len < 65536) {
            x->cap = x->cap * 2 + 65536;
            x->in = realloc(x->in, x->cap);
        }
        ssize_t n = umc_conn_read(c, x->in + x->len, x->cap - x->len);
        if (n <= 0)
            return;
        x->len += (size_t)n;
    }
}

static void raw_on_close(struct umc_conn *c, int err, void *arg) { ((struct raw *)arg)->closed = true; }

static const struct umc_conn_ops raw_ops = {raw_on_connect, raw_on_readable, NULL, raw_on_close};

static void raw_open(struct rig *r, struct raw *x)
{
    memset(x, 0, sizeof(*x));
    x->r = r;
    x->itt = 0x100;
    x->cmdsn = 1;
    x->c = umc_connect(r->in, PORTAL, &raw_ops, x);
    assert_true(rig_wait(r, &x->connected, 5 * MTE_SEC));
}

static void raw_close(struct raw *x)
{
    if (x->c)
        umc_conn_close(x->c);
    x->c = NULL;
    free(x->in);
    x->in = NULL;
}

static void raw_bytes(struct raw *x, const void *p, size_t n)
{
    assert_int_equal(umc_conn_send_buf(x->c, p, n), 0);
}

/* Send one PDU; corrupt_hd / corrupt_dd spoil a digest. */
static void raw_send_ex(struct raw *x, uint8_t *h, const void *data, uint32_t dlen, bool corrupt_hd,
                        bool corrupt_dd)
{
    uint8_t d[4], zeros[4] = {0};
    iscsi_hdr_set_dlen(h, dlen);
    raw_bytes(x, h, ISCSI_BHS_LEN);
    if (x->hd) {
        iscsi_put_digest(d, umc_crc32c(h, ISCSI_BHS_LEN) ^ corrupt_hd);
        raw_bytes(x, d, 4);
    }
    if (!dlen)
        return;
    raw_bytes(x, data, dlen);
    raw_bytes(x, zeros, iscsi_pad4(dlen));
    if (x->dd) {
        uint32_t crc = umc_crc32c_update(UMC_CRC32C_INIT, data, dlen);
        crc = umc_crc32c_update(crc, zeros, iscsi_pad4(dlen));
        iscsi_put_digest(d, umc_crc32c_final(crc) ^ corrupt_dd);
        raw_bytes(x, d, 4);
    }
}

static void raw_send(struct raw *x, uint8_t *h, const void *data, uint32_t dlen)
{
    raw_send_ex(x, h, data, dlen, false, false);
}

/* The next PDU from the target within max; false if none (or the connection closed). */
static bool raw_recv(struct raw *x, uint8_t *h, uint8_t *data, uint32_t *dlen, mte_time_t max)
{
    mte_time_t end = mte_now(x->r->e) + max;
    for (;;) {
        size_t hl = ISCSI_BHS_LEN + (x->hd ? 4 : 0);
        if (x->len >= hl) {
            uint32_t n = iscsi_hdr_dlen(x->in);
            size_t total = hl + n + iscsi_pad4(n) + (x->dd && n ? 4 : 0);
            if (x->len >= total) {
                memcpy(h, x->in, ISCSI_BHS_LEN);
                if (data)
                    memcpy(data, x->in + hl, n);
                if (dlen)
                    *dlen = n;
                memmove(x->in, x->in + total, x->len - total);
                x->len -= total;
                uint32_t max_cmdsn = iscsi_get32(h, ISCSI_OFF_MAXCMDSN);
                if (iscsi_sn_lt(x->max_cmdsn, max_cmdsn))
                    x->max_cmdsn = max_cmdsn;
                x->exp_statsn = iscsi_get32(h, ISCSI_OFF_STATSN) + 1;
                return true;
            }
        }
        if (x->closed || mte_now(x->r->e) >= end)
            return false;
        mte_run_until(x->r->e, mte_now(x->r->e) + MTE_MSEC);
    }
}

static bool raw_wait_closed(struct raw *x, mte_time_t max)
{
    return rig_wait(x->r, &x->closed, max);
}

/* ---- login --------------------------------------------------------------------------------------- */

static void login_hdr(struct raw *x, uint8_t *h, uint8_t flags)
{
    iscsi_hdr_init(h, ISCSI_OP_LOGIN_REQ | ISCSI_OP_IMMEDIATE, flags);
    iscsi_hdr_set_isid_tsih(h, 0x800000001234ull, x->tsih);
    iscsi_put16(h, ISCSI_OFF_CID, x->cid);
    iscsi_put32(h, ISCSI_OFF_ITT, 1);
    iscsi_put32(h, ISCSI_OFF_CMDSN, x->cmdsn);
}

static size_t text_of(const char *lines, char *out)
{
    size_t n = strlen(lines);
    for (size_t i = 0; i < n; i++)
        out[i] = lines[i] == '\n' ? '\0' : lines[i];
    out[n] = '\0';
    return n + 1;
}

/* One login request; returns the response status (-1: no response). */
static int login_step(struct raw *x, uint8_t flags, const char *lines, uint8_t *rsp)
{
    uint8_t h[ISCSI_BHS_LEN];
    char text[2048];
    login_hdr(x, h, flags);
    raw_send(x, h, text, (uint32_t)text_of(lines, text));
    if (!raw_recv(x, rsp, NULL, NULL, 5 * MTE_SEC))
        return -1;
    assert_int_equal(iscsi_hdr_opcode(rsp), ISCSI_OP_LOGIN_RSP);
    return iscsi_get16(rsp, ISCSI_OFF_LOGIN_STATUS);
}

#define SEC_TO_OP (ISCSI_LOGIN_T | ISCSI_STAGE_OPERATIONAL)
#define OP_TO_FFP (ISCSI_LOGIN_T | ISCSI_STAGE_OPERATIONAL << 2 | ISCSI_STAGE_FFP)

#define LOGIN_NAMES \
    "InitiatorName=iqn.2026-11.local.test:raw\nTargetName=" TGT "\nSessionType=Normal\nAuthMethod=None"

/* Both login stages on an open connection, ending in full feature phase. */
static void login_steps(struct raw *x, const char *op_keys)
{
    uint8_t rsp[ISCSI_BHS_LEN];
    assert_int_equal(login_step(x, SEC_TO_OP, LOGIN_NAMES, rsp), 0);
    assert_true(rsp[1] & ISCSI_LOGIN_T);
    assert_int_equal(login_step(x, OP_TO_FFP, op_keys, rsp), 0);
    assert_int_equal(rsp[1], OP_TO_FFP);
    assert_int_not_equal(iscsi_hdr_tsih(rsp), 0);
    x->tsih = iscsi_hdr_tsih(rsp);
    x->max_cmdsn = iscsi_get32(rsp, ISCSI_OFF_MAXCMDSN);
    assert_int_equal(iscsi_get32(rsp, ISCSI_OFF_EXPCMDSN), x->cmdsn);
}

/* Log in with the given operational keys (ImmediateData=No, InitialR2T=Yes by default). */
static void raw_login_with(struct rig *r, struct raw *x, const char *op_keys)
{
    raw_open(r, x);
    login_steps(x, op_keys);
}

static void send_tur(struct raw *x, uint32_t cmdsn, bool immediate);

/* Take the new nexus' unit attention with a TEST UNIT READY. */
static void raw_clear_ua(struct raw *x)
{
    uint8_t h[ISCSI_BHS_LEN];
    send_tur(x, x->cmdsn, false);
    assert_true(raw_recv(x, h, NULL, NULL, 2 * MTE_SEC));
    assert_int_equal(iscsi_hdr_opcode(h), ISCSI_OP_SCSI_RSP);
    x->cmdsn++;
}

static void raw_login(struct rig *r, struct raw *x)
{
    raw_login_with(r, x, "ImmediateData=No\nInitialR2T=Yes\nMaxBurstLength=65536\n"
                         "MaxRecvDataSegmentLength=65536");
}

/* ---- PDUs ------------------------------------------------------------------------------------------- */

static void scsi_hdr(struct raw *x, uint8_t *h, uint8_t flags, uint32_t edtl, const uint8_t *cdb,
                     unsigned cdb_len)
{
    iscsi_hdr_init(h, ISCSI_OP_SCSI_CMD, flags);
    iscsi_put32(h, ISCSI_OFF_ITT, ++x->itt);
    iscsi_put32(h, ISCSI_OFF_EDTL, edtl);
    iscsi_put32(h, ISCSI_OFF_CMDSN, x->cmdsn);
    iscsi_put32(h, ISCSI_OFF_EXPSTATSN, x->exp_statsn);
    memcpy(h + ISCSI_OFF_CDB, cdb, cdb_len);
}

static void send_tur(struct raw *x, uint32_t cmdsn, bool immediate)
{
    uint8_t h[ISCSI_BHS_LEN], cdb[6] = {0};
    scsi_hdr(x, h, ISCSI_F, 0, cdb, 6);
    iscsi_put32(h, ISCSI_OFF_CMDSN, cmdsn);
    if (immediate)
        h[0] |= ISCSI_OP_IMMEDIATE;
    raw_send(x, h, NULL, 0);
}

static void send_nop(struct raw *x, uint8_t flags, uint32_t itt, const void *data, uint32_t dlen)
{
    uint8_t h[ISCSI_BHS_LEN];
    iscsi_hdr_init(h, ISCSI_OP_NOP_OUT | ISCSI_OP_IMMEDIATE, flags);
    iscsi_put32(h, ISCSI_OFF_ITT, itt);
    iscsi_put32(h, ISCSI_OFF_TTT, ISCSI_RSVD_TAG);
    iscsi_put32(h, ISCSI_OFF_CMDSN, x->cmdsn);
    raw_send(x, h, data, dlen);
}

/* An immediate ABORT TASK (ITT 0x900) for the task ref_itt. */
static void send_abort_task(struct raw *x, uint32_t ref_itt, uint32_t cmdsn)
{
    uint8_t h[ISCSI_BHS_LEN];
    iscsi_hdr_init(h, ISCSI_OP_TMF_REQ | ISCSI_OP_IMMEDIATE, ISCSI_F | SCST_TMF_ABORT_TASK);
    iscsi_put32(h, ISCSI_OFF_ITT, 0x900);
    iscsi_put32(h, ISCSI_OFF_REF_ITT, ref_itt);
    iscsi_put32(h, ISCSI_OFF_CMDSN, cmdsn);
    raw_send(x, h, NULL, 0);
}

/* A ping that must come back: the connection is alive and in step. */
static void expect_alive(struct raw *x)
{
    uint8_t h[ISCSI_BHS_LEN];
    send_nop(x, ISCSI_F, 0x7777, "ping", 4);
    for (;;) {
        assert_true(raw_recv(x, h, NULL, NULL, 5 * MTE_SEC));
        if (iscsi_hdr_opcode(h) == ISCSI_OP_NOP_IN && iscsi_hdr_itt(h) == 0x7777)
            return;
    }
}

static void expect_reject(struct raw *x, unsigned reason, unsigned rejected_op)
{
    uint8_t h[ISCSI_BHS_LEN], data[ISCSI_BHS_LEN + 16];
    uint32_t dlen;
    assert_true(raw_recv(x, h, data, &dlen, 5 * MTE_SEC));
    if (iscsi_hdr_opcode(h) != ISCSI_OP_REJECT || h[2] != reason)
        fail_msg("expected a Reject 0x%02x, got %s reason 0x%02x", reason,
                 iscsi_opcode_name(iscsi_hdr_opcode(h)), h[2]);
    assert_int_equal(dlen, ISCSI_BHS_LEN);                /* the rejected header comes back */
    assert_int_equal(iscsi_hdr_opcode(data), rejected_op);
    assert_int_equal(iscsi_hdr_itt(h), ISCSI_RSVD_TAG);
}

/* A well-behaved session next to the raw one: it must keep working. */
static void second_session_works(struct rig *r)
{
    struct iscsi_ini_opts o = ini_defaults();
    struct iscsi_ini *ini = ini_ready(r, &o);
    uint8_t buf[8192];
    pattern(buf, sizeof(buf), 77);
    rw(r, ini, true, 2048, buf, sizeof(buf));
    rw(r, ini, false, 2048, buf, sizeof(buf));
    ini_logout_free(r, ini);
}

/* ---- the CmdSN window ------------------------------------------------------------------------------- */

static void test_cmdsn_outside_window_ignored(void **state)
{
    struct rig r;
    rig_up(&r);
    struct raw x;
    raw_login(&r, &x);
    raw_clear_ua(&x);
    uint8_t h[ISCSI_BHS_LEN];
    send_tur(&x, x.max_cmdsn + 1, false);                /* too high */
    assert_false(raw_recv(&x, h, NULL, NULL, 2 * MTE_SEC));
    send_tur(&x, x.cmdsn - 1, false);                    /* too low */
    assert_false(raw_recv(&x, h, NULL, NULL, 2 * MTE_SEC));
    send_tur(&x, x.cmdsn, false);                        /* the right one */
    assert_true(raw_recv(&x, h, NULL, NULL, 2 * MTE_SEC));
    assert_int_equal(iscsi_hdr_opcode(h), ISCSI_OP_SCSI_RSP);
    assert_int_equal(iscsi_get32(h, ISCSI_OFF_EXPCMDSN), x.cmdsn + 1);
    x.cmdsn++;
    send_tur(&x, 12345, true);                           /* immediate: no window check */
    assert_true(raw_recv(&x, h, NULL, NULL, 2 * MTE_SEC));
    assert_int_equal(iscsi_hdr_opcode(h), ISCSI_OP_SCSI_RSP);
    assert_int_equal(iscsi_get32(h, ISCSI_OFF_EXPCMDSN), x.cmdsn);
    send_tur(&x, x.cmdsn + 1, false);                    /* ahead: held until the gap fills */
    assert_false(raw_recv(&x, h, NULL, NULL, MTE_SEC));
    send_tur(&x, x.cmdsn, false);
    assert_true(raw_recv(&x, h, NULL, NULL, 2 * MTE_SEC));
    assert_true(raw_recv(&x, h, NULL, NULL, 2 * MTE_SEC));
    assert_int_equal(iscsi_get32(h, ISCSI_OFF_EXPCMDSN), x.cmdsn + 2);
    raw_close(&x);
    rig_run(&r, MTE_SEC);
    rig_down(&r);
}

/* ---- Data-Out sequence errors (libiscsi iSCSIDataSnInvalid): the WRITE fails with
 * CHECK CONDITION and the connection stays (dropping it would let libiscsi's
 * reconnect renegotiate ImmediateData and send the next test's data unchecked). */

/* WRITE(10) of two blocks, data solicited: returns the R2T's TTT. */
static uint32_t start_write(struct raw *x, uint8_t *cmd)
{
    uint8_t cdb[10], h[ISCSI_BHS_LEN];
    cdb_rw10(cdb, true, 100, 2);
    scsi_hdr(x, cmd, ISCSI_F | ISCSI_CMD_W, 1024, cdb, 10);
    raw_send(x, cmd, NULL, 0);
    x->cmdsn++;
    for (;;) {
        assert_true(raw_recv(x, h, NULL, NULL, 5 * MTE_SEC));
        if (iscsi_hdr_opcode(h) == ISCSI_OP_R2T)
            break;
    }
    assert_int_equal(iscsi_hdr_itt(h), iscsi_hdr_itt(cmd));
    assert_int_equal(iscsi_get32(h, ISCSI_OFF_OFFSET), 0);
    assert_int_equal(iscsi_get32(h, ISCSI_OFF_DESIRED_LEN), 1024);
    return iscsi_get32(h, ISCSI_OFF_TTT);
}

static void data_out(struct raw *x, const uint8_t *cmd, uint32_t ttt, uint32_t datasn, uint32_t off,
                     uint32_t len, bool final)
{
    static uint8_t payload[65536];
    uint8_t h[ISCSI_BHS_LEN];
    iscsi_hdr_init(h, ISCSI_OP_DATA_OUT, final ? ISCSI_F : 0);
    iscsi_put32(h, ISCSI_OFF_ITT, iscsi_hdr_itt(cmd));
    iscsi_put32(h, ISCSI_OFF_TTT, ttt);
    iscsi_put32(h, ISCSI_OFF_DATASN, datasn);
    iscsi_put32(h, ISCSI_OFF_OFFSET, off);
    raw_send(x, h, payload, len);
}

static void test_datasn_errors_fail_the_write(void **state)
{
    /* {DataSN of the first PDU, of the second}: duplicate, gapped, -1, reversed */
    static const uint32_t sn[][2] = {{0, 0}, {27, 28}, {0xffffffff, 0}, {1, 0}};
    struct rig r;
    rig_up(&r);
    for (size_t i = 0; i < sizeof(sn) / sizeof(sn[0]); i++) {
        struct raw x;
        uint8_t cmd[ISCSI_BHS_LEN], h[ISCSI_BHS_LEN];
        raw_login(&r, &x);
        raw_clear_ua(&x);
        uint32_t ttt = start_write(&x, cmd);
        uint8_t sense[64];
        uint32_t dlen;
        data_out(&x, cmd, ttt, sn[i][0], 0, 512, false);
        data_out(&x, cmd, ttt, sn[i][1], 512, 512, true);
        assert_true(raw_recv(&x, h, sense, &dlen, 2 * MTE_SEC));   /* the WRITE fails */
        assert_int_equal(iscsi_hdr_opcode(h), ISCSI_OP_SCSI_RSP);
        assert_int_equal(iscsi_hdr_itt(h), iscsi_hdr_itt(cmd));
        assert_int_equal(h[3], SAM_STAT_CHECK_CONDITION);
        assert_true(dlen >= 2 + 14);
        assert_int_equal(sense[2 + 2] & 15, 0x0b);        /* ABORTED COMMAND */
        assert_int_equal(sense[2 + 12], 0x4b);            /* DATA PHASE ERROR */
        expect_alive(&x);                                 /* late Data-Out dropped quietly */
        raw_close(&x);
    }
    struct raw x;                                        /* the right DataSNs do work */
    uint8_t cmd[ISCSI_BHS_LEN], h[ISCSI_BHS_LEN];
    raw_login(&r, &x);
    raw_clear_ua(&x);
    uint32_t ttt = start_write(&x, cmd);
    data_out(&x, cmd, ttt, 0, 0, 512, false);
    data_out(&x, cmd, ttt, 1, 512, 512, true);
    assert_true(raw_recv(&x, h, NULL, NULL, 2 * MTE_SEC));
    assert_int_equal(iscsi_hdr_opcode(h), ISCSI_OP_SCSI_RSP);
    assert_int_equal(iscsi_get32(h, ISCSI_OFF_DATASN), 1);   /* ExpDataSN: one R2T */
    raw_close(&x);
    second_session_works(&r);
    rig_down(&r);
}

static void test_data_out_offsets_and_unknown_tasks(void **state)
{
    struct rig r;
    rig_up(&r);
    struct raw x;
    uint8_t cmd[ISCSI_BHS_LEN];
    raw_login(&r, &x);
    uint8_t fake[ISCSI_BHS_LEN] = {0};
    iscsi_put32(fake, ISCSI_OFF_ITT, 0xabcdef);
    data_out(&x, fake, ISCSI_RSVD_TAG, 0, 0, 512, true); /* no such task */
    expect_reject(&x, ISCSI_REJECT_INVALID_FIELD, ISCSI_OP_DATA_OUT);
    raw_clear_ua(&x);
    uint32_t ttt = start_write(&x, cmd);
    data_out(&x, cmd, ttt ^ 0x55, 0, 0, 512, false);     /* a TTT we never gave */
    expect_reject(&x, ISCSI_REJECT_INVALID_FIELD, ISCSI_OP_DATA_OUT);
    expect_alive(&x);
    uint8_t h[ISCSI_BHS_LEN], sense[64];
    data_out(&x, cmd, ttt, 0, 512, 512, false);          /* a gap in the offsets */
    assert_true(raw_recv(&x, h, sense, NULL, 2 * MTE_SEC));
    assert_int_equal(h[3], SAM_STAT_CHECK_CONDITION);
    assert_int_equal(sense[2 + 13], 0x05);                /* DATA OFFSET ERROR */
    ttt = start_write(&x, cmd);
    data_out(&x, cmd, ttt, 0, 0, 2048, true);            /* past the R2T */
    assert_true(raw_recv(&x, h, sense, NULL, 2 * MTE_SEC));
    assert_int_equal(h[3], SAM_STAT_CHECK_CONDITION);
    assert_int_equal(sense[2 + 13], 0x02);                /* TOO MUCH WRITE DATA */
    ttt = start_write(&x, cmd);
    data_out(&x, cmd, ttt, 0, 0, 512, true);             /* F before the R2T is done */
    assert_true(raw_recv(&x, h, sense, NULL, 2 * MTE_SEC));
    assert_int_equal(h[3], SAM_STAT_CHECK_CONDITION);
    expect_alive(&x);
    raw_close(&x);
    second_session_works(&r);
    rig_down(&r);
}

/* ---- malformed PDUs ------------------------------------------------------------------------------------ */

static void test_malformed_pdus_rejected(void **state)
{
    struct rig r;
    rig_up(&r);
    char err[64];
    assert_int_equal(iscsi_target_set_param(r.srv, NULL, "MaxRecvDataSegmentLength", "8192", err,
                                            sizeof(err)), 0);
    struct raw x;
    raw_login(&r, &x);
    uint8_t h[ISCSI_BHS_LEN];
    static uint8_t big[9000];

    iscsi_hdr_init(h, 0x07, ISCSI_F);                    /* unknown opcode */
    iscsi_put32(h, ISCSI_OFF_ITT, 5);
    raw_send(&x, h, "abcd", 4);
    expect_reject(&x, ISCSI_REJECT_NOT_SUPPORTED, 0x07);

    iscsi_hdr_init(h, ISCSI_OP_SNACK, ISCSI_F);          /* ERL 0: no SNACK */
    raw_send(&x, h, NULL, 0);
    expect_reject(&x, ISCSI_REJECT_PROTOCOL, ISCSI_OP_SNACK);

    iscsi_hdr_init(h, ISCSI_OP_SCSI_RSP, ISCSI_F);       /* a target's opcode */
    raw_send(&x, h, NULL, 0);
    expect_reject(&x, ISCSI_REJECT_PROTOCOL, ISCSI_OP_SCSI_RSP);

    send_nop(&x, 0, 9, NULL, 0);                         /* NOP-Out without F */
    expect_reject(&x, ISCSI_REJECT_INVALID_FIELD, ISCSI_OP_NOP_OUT);

    send_nop(&x, ISCSI_F, 9, big, sizeof(big));          /* over MaxRecvDataSegmentLength */
    expect_reject(&x, ISCSI_REJECT_PROTOCOL, ISCSI_OP_NOP_OUT);

    uint8_t cdb[10];                                     /* immediate data longer than EDTL */
    cdb_rw10(cdb, true, 0, 1);
    scsi_hdr(&x, h, ISCSI_F | ISCSI_CMD_W, 512, cdb, 10);
    raw_send(&x, h, big, 1024);
    expect_reject(&x, ISCSI_REJECT_INVALID_FIELD, ISCSI_OP_SCSI_CMD);
    x.cmdsn++;                                           /* a rejected command uses its CmdSN */

    scsi_hdr(&x, h, ISCSI_F | ISCSI_CMD_W, 512, cdb, 10); /* ImmediateData=No was agreed */
    raw_send(&x, h, big, 512);
    expect_reject(&x, ISCSI_REJECT_PROTOCOL, ISCSI_OP_SCSI_CMD);
    x.cmdsn++;
    send_tur(&x, x.cmdsn, false);                        /* the window moved past both */
    uint8_t rsp[ISCSI_BHS_LEN];
    assert_true(raw_recv(&x, rsp, NULL, NULL, 2 * MTE_SEC));
    assert_int_equal(iscsi_hdr_opcode(rsp), ISCSI_OP_SCSI_RSP);
    x.cmdsn++;

    iscsi_hdr_init(h, ISCSI_OP_TEXT_REQ | ISCSI_OP_IMMEDIATE, ISCSI_F | ISCSI_TEXT_C);
    iscsi_put32(h, ISCSI_OFF_ITT, 11);
    raw_send(&x, h, NULL, 0);
    expect_reject(&x, ISCSI_REJECT_INVALID_FIELD, ISCSI_OP_TEXT_REQ);

    iscsi_hdr_init(h, ISCSI_OP_TMF_REQ | ISCSI_OP_IMMEDIATE, ISCSI_F | 1);
    iscsi_put32(h, ISCSI_OFF_ITT, 12);                   /* TMF with data */
    raw_send(&x, h, "xxxx", 4);
    expect_reject(&x, ISCSI_REJECT_INVALID_FIELD, ISCSI_OP_TMF_REQ);

    iscsi_hdr_init(h, ISCSI_OP_NOP_OUT | ISCSI_OP_IMMEDIATE, ISCSI_F);
    h[4] = 1;                                            /* an AHS on a NOP */
    iscsi_hdr_set_dlen(h, 0);
    raw_bytes(&x, h, ISCSI_BHS_LEN);
    raw_bytes(&x, "\0\0\0\0", 4);
    expect_reject(&x, ISCSI_REJECT_INVALID_FIELD, ISCSI_OP_NOP_OUT);

    login_hdr(&x, h, SEC_TO_OP);                         /* login again in full feature phase */
    raw_send(&x, h, NULL, 0);
    expect_reject(&x, ISCSI_REJECT_PROTOCOL, ISCSI_OP_LOGIN_REQ);
    expect_alive(&x);

    raw_bytes(&x, "this is not an iSCSI PDU at all, just bytes....", 48);
    raw_bytes(&x, big, 4096);                            /* whatever it is, nothing crashes */
    rig_run(&r, MTE_SEC);
    raw_close(&x);
    second_session_works(&r);
    rig_down(&r);
}

static void test_text_and_logout(void **state)
{
    struct rig r;
    rig_up(&r);
    struct raw x;
    raw_login(&r, &x);
    static const char *const bad[] = {"SendTargetsPlease=All", "SendTargets=Alle", "SendTargets=A",
                                      "sENDtARGETS=aLL", "SendTargets=All\nSendTargets=All"};
    uint8_t h[ISCSI_BHS_LEN], data[4096];
    char text[256];
    uint32_t dlen;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        iscsi_hdr_init(h, ISCSI_OP_TEXT_REQ | ISCSI_OP_IMMEDIATE, ISCSI_F);
        iscsi_put32(h, ISCSI_OFF_ITT, 20 + (uint32_t)i);
        iscsi_put32(h, ISCSI_OFF_TTT, ISCSI_RSVD_TAG);
        raw_send(&x, h, text, (uint32_t)text_of(bad[i], text));
        expect_reject(&x, ISCSI_REJECT_INVALID_FIELD, ISCSI_OP_TEXT_REQ);
    }
    iscsi_put32(h, ISCSI_OFF_ITT, 30);
    raw_send(&x, h, text, (uint32_t)text_of("SendTargets=All", text));
    assert_true(raw_recv(&x, h, data, &dlen, 2 * MTE_SEC));
    assert_int_equal(iscsi_hdr_opcode(h), ISCSI_OP_TEXT_RSP);
    assert_int_equal(h[1], ISCSI_F);
    assert_int_equal(iscsi_get32(h, ISCSI_OFF_TTT), ISCSI_RSVD_TAG);
    assert_string_equal((char *)data, "TargetName=" TGT);

    iscsi_hdr_init(h, ISCSI_OP_TEXT_REQ | ISCSI_OP_IMMEDIATE, ISCSI_TEXT_C); /* in two pieces */
    iscsi_put32(h, ISCSI_OFF_ITT, 31);
    iscsi_put32(h, ISCSI_OFF_TTT, ISCSI_RSVD_TAG);
    raw_send(&x, h, "SendTarg", 8);
    assert_true(raw_recv(&x, h, data, &dlen, 2 * MTE_SEC));
    assert_int_equal(iscsi_hdr_opcode(h), ISCSI_OP_TEXT_RSP);
    assert_int_equal(dlen, 0);
    assert_int_equal(h[1] & (ISCSI_F | ISCSI_TEXT_C), 0);
    uint32_t ttt = iscsi_get32(h, ISCSI_OFF_TTT);
    assert_int_not_equal(ttt, ISCSI_RSVD_TAG);
    iscsi_hdr_init(h, ISCSI_OP_TEXT_REQ | ISCSI_OP_IMMEDIATE, ISCSI_F);
    iscsi_put32(h, ISCSI_OFF_ITT, 31);
    iscsi_put32(h, ISCSI_OFF_TTT, ttt);
    raw_send(&x, h, "ets=\0", 5);                       /* empty: this session's target */
    assert_true(raw_recv(&x, h, data, &dlen, 2 * MTE_SEC));
    assert_int_equal(h[1], ISCSI_F);
    assert_string_equal((char *)data, "TargetName=" TGT);

    send_nop(&x, ISCSI_F, 40, "echo-me", 7);             /* ping data comes back */
    assert_true(raw_recv(&x, h, data, &dlen, 2 * MTE_SEC));
    assert_int_equal(iscsi_hdr_opcode(h), ISCSI_OP_NOP_IN);
    assert_int_equal(iscsi_hdr_itt(h), 40);
    assert_int_equal(iscsi_get32(h, ISCSI_OFF_TTT), ISCSI_RSVD_TAG);
    assert_int_equal(dlen, 7);
    assert_memory_equal(data, "echo-me", 7);

    struct { uint8_t reason; uint16_t cid; uint8_t response; } lo[] = {{2, 0, 2}, {1, 9, 1}, {0, 0, 0}};
    for (size_t i = 0; i < 3; i++) {
        iscsi_hdr_init(h, ISCSI_OP_LOGOUT_REQ | ISCSI_OP_IMMEDIATE, ISCSI_F | lo[i].reason);
        iscsi_put32(h, ISCSI_OFF_ITT, 50 + (uint32_t)i);
        iscsi_put16(h, ISCSI_OFF_CID, lo[i].cid);
        iscsi_put32(h, ISCSI_OFF_CMDSN, x.cmdsn);
        raw_send(&x, h, NULL, 0);
        assert_true(raw_recv(&x, h, NULL, NULL, 2 * MTE_SEC));
        assert_int_equal(iscsi_hdr_opcode(h), ISCSI_OP_LOGOUT_RSP);
        assert_int_equal(h[2], lo[i].response);
    }
    assert_true(raw_wait_closed(&x, 2 * MTE_SEC));
    raw_close(&x);
    rig_run(&r, MTE_SEC);
    assert_int_equal(session_count(&r), 0);
    rig_down(&r);
}

/* ---- digests ------------------------------------------------------------------------------------------ */

static void test_digest_errors(void **state)
{
    struct rig r;
    rig_up(&r);
    struct raw x;
    uint8_t h[ISCSI_BHS_LEN], data[64];
    uint32_t dlen;
    raw_login_with(&r, &x, "HeaderDigest=CRC32C\nDataDigest=CRC32C");
    x.hd = x.dd = true;
    send_nop(&x, ISCSI_F, 60, "good", 4);
    assert_true(raw_recv(&x, h, data, &dlen, 2 * MTE_SEC));
    assert_int_equal(iscsi_hdr_opcode(h), ISCSI_OP_NOP_IN);
    assert_memory_equal(data, "good", 4);
    iscsi_hdr_init(h, ISCSI_OP_NOP_OUT | ISCSI_OP_IMMEDIATE, ISCSI_F);
    iscsi_put32(h, ISCSI_OFF_ITT, 61);
    iscsi_put32(h, ISCSI_OFF_TTT, ISCSI_RSVD_TAG);
    raw_send_ex(&x, h, "bad!", 4, false, true);          /* data digest: Reject, go on */
    expect_reject(&x, ISCSI_REJECT_DATA_DIGEST, ISCSI_OP_NOP_OUT);
    expect_alive(&x);
    raw_send_ex(&x, h, "bad!", 4, true, false);          /* header digest: dropped */
    assert_true(raw_wait_closed(&x, 2 * MTE_SEC));
    raw_close(&x);
    second_session_works(&r);
    rig_down(&r);
}

/* ---- login failures ---------------------------------------------------------------------------------------- */

static int login_once(struct rig *r, uint8_t flags, const char *lines, void (*tweak)(uint8_t *h))
{
    struct raw x;
    uint8_t h[ISCSI_BHS_LEN], rsp[ISCSI_BHS_LEN];
    char text[2048];
    raw_open(r, &x);
    login_hdr(&x, h, flags);
    if (tweak)
        tweak(h);
    raw_send(&x, h, text, (uint32_t)text_of(lines, text));
    int status = raw_recv(&x, rsp, NULL, NULL, 3 * MTE_SEC) ? iscsi_get16(rsp, ISCSI_OFF_LOGIN_STATUS) : -1;
    if (status > 0)
        assert_true(raw_wait_closed(&x, 2 * MTE_SEC));
    raw_close(&x);
    return status;
}

static void version_1(uint8_t *h)
{
    h[2] = 1;
    h[3] = 1;
}
static void not_immediate(uint8_t *h) { h[0] &= ~ISCSI_OP_IMMEDIATE; }
static void old_tsih(uint8_t *h) { iscsi_hdr_set_isid_tsih(h, 0x800000001234ull, 999); }

static void test_login_failures(void **state)
{
    struct rig r;
    rig_up(&r);
    const char *ok = "InitiatorName=iqn.2026-11.local.test:raw\nTargetName=" TGT "\nAuthMethod=None";
    assert_int_equal(login_once(&r, SEC_TO_OP, ok, version_1), ISCSI_LOGIN_UNSUPPORTED_VERSION);
    assert_int_equal(login_once(&r, SEC_TO_OP, "TargetName=" TGT, NULL), ISCSI_LOGIN_MISSING_PARAMETER);
    assert_int_equal(login_once(&r, SEC_TO_OP, "InitiatorName=iqn.x:y", NULL), ISCSI_LOGIN_MISSING_PARAMETER);
    assert_int_equal(login_once(&r, SEC_TO_OP, "InitiatorName=iqn.x:y\nTargetName=iqn.nobody", NULL),
                     ISCSI_LOGIN_NOT_FOUND);
    assert_int_equal(login_once(&r, SEC_TO_OP, "InitiatorName=iqn.x:y\nInitiatorName=iqn.x:y\nTargetName=" TGT,
                                NULL), ISCSI_LOGIN_INITIATOR_ERROR);
    assert_int_equal(login_once(&r, SEC_TO_OP, "InitiatorName=iqn.x:y\nSessionType=Bogus", NULL),
                     ISCSI_LOGIN_SESSION_TYPE);
    assert_int_equal(login_once(&r, SEC_TO_OP, ok, not_immediate), ISCSI_LOGIN_INITIATOR_ERROR);
    assert_int_equal(login_once(&r, SEC_TO_OP | ISCSI_TEXT_C, ok, NULL), ISCSI_LOGIN_INITIATOR_ERROR);
    assert_int_equal(login_once(&r, OP_TO_FFP, "InitiatorName=iqn.x:y\nTargetName=" TGT "\nCHAP_A=5", NULL),
                     ISCSI_LOGIN_INITIATOR_ERROR);       /* a security key in the operational stage */
    assert_int_equal(login_once(&r, OP_TO_FFP, ok, old_tsih), ISCSI_LOGIN_INITIATOR_ERROR);
    assert_int_equal(login_once(&r, OP_TO_FFP, "InitiatorName=iqn.x:y\nTargetName=" TGT, old_tsih),
                     ISCSI_LOGIN_NO_SESSION);
    assert_int_equal(scst_target_allow_initiator(r.core, TGT, INI_NAME), 0);
    assert_int_equal(login_once(&r, SEC_TO_OP, "InitiatorName=iqn.x:y\nTargetName=" TGT, NULL),
                     ISCSI_LOGIN_FORBIDDEN);

    struct raw x;                                        /* full feature PDUs before login */
    raw_open(&r, &x);
    send_tur(&x, 1, false);
    assert_true(raw_wait_closed(&x, 2 * MTE_SEC));
    raw_close(&x);
    raw_open(&r, &x);                                    /* or in its middle */
    uint8_t rsp[ISCSI_BHS_LEN];
    assert_int_equal(login_step(&x, 0, "InitiatorName=" INI_NAME "\nTargetName=" TGT
                                       "\nAuthMethod=CHAP,None", rsp), 0);
    send_tur(&x, 1, false);
    assert_true(raw_recv(&x, rsp, NULL, NULL, 2 * MTE_SEC));
    assert_int_equal(iscsi_get16(rsp, ISCSI_OFF_LOGIN_STATUS), ISCSI_LOGIN_INVALID_DURING_LOGIN);
    assert_true(raw_wait_closed(&x, 2 * MTE_SEC));
    raw_close(&x);
    raw_open(&r, &x);                                    /* a login PDU longer than 8192 */
    static char big[9000];
    memset(big, 'a', sizeof(big));
    uint8_t h[ISCSI_BHS_LEN];
    login_hdr(&x, h, SEC_TO_OP);
    raw_send(&x, h, big, sizeof(big));
    assert_true(raw_wait_closed(&x, 2 * MTE_SEC));
    raw_close(&x);
    rig_run(&r, MTE_SEC);
    assert_int_equal(session_count(&r), 0);
    second_session_works(&r);
    rig_down(&r);
}

/* The login text may come in pieces (C bit): the target asks for the rest. */
static void test_login_text_in_pieces(void **state)
{
    struct rig r;
    rig_up(&r);
    struct raw x;
    uint8_t h[ISCSI_BHS_LEN], rsp[ISCSI_BHS_LEN];
    char text[256];
    raw_open(&r, &x);
    size_t n = text_of("InitiatorName=iqn.2026-11.local.test:raw\nTargetName=" TGT "\nAuthMethod=None", text);
    login_hdr(&x, h, ISCSI_TEXT_C);
    raw_send(&x, h, text, 20);                           /* cut in the middle of a pair */
    assert_true(raw_recv(&x, rsp, NULL, NULL, 2 * MTE_SEC));
    assert_int_equal(iscsi_get16(rsp, ISCSI_OFF_LOGIN_STATUS), 0);
    assert_int_equal(iscsi_hdr_dlen(rsp), 0);
    login_hdr(&x, h, SEC_TO_OP);
    raw_send(&x, h, text + 20, (uint32_t)(n - 20));
    assert_true(raw_recv(&x, rsp, NULL, NULL, 2 * MTE_SEC));
    assert_int_equal(iscsi_get16(rsp, ISCSI_OFF_LOGIN_STATUS), 0);
    assert_true(rsp[1] & ISCSI_LOGIN_T);
    assert_int_equal(login_step(&x, OP_TO_FFP, "MaxRecvDataSegmentLength=8192", rsp), 0);
    assert_int_equal(rsp[1], OP_TO_FFP);
    expect_alive(&x);
    raw_close(&x);
    rig_down(&r);
}

/* ---- task management on tasks waiting for Data-Out ---------------------------------------------------- */

static void test_abort_task_waiting_for_data(void **state)
{
    struct rig r;
    rig_up(&r);
    struct raw x;
    uint8_t cmd[ISCSI_BHS_LEN], h[ISCSI_BHS_LEN];
    raw_login(&r, &x);
    raw_clear_ua(&x);
    uint32_t ttt = start_write(&x, cmd);
    send_abort_task(&x, iscsi_hdr_itt(cmd), x.cmdsn);
    assert_true(raw_recv(&x, h, NULL, NULL, 2 * MTE_SEC));
    assert_int_equal(iscsi_hdr_opcode(h), ISCSI_OP_TMF_RSP);
    assert_int_equal(h[2], SCST_TMF_COMPLETE);
    data_out(&x, cmd, ttt, 0, 0, 1024, true);            /* late data: dropped quietly */
    expect_alive(&x);
    send_tur(&x, x.cmdsn, false);                        /* the window moved on */
    assert_true(raw_recv(&x, h, NULL, NULL, 2 * MTE_SEC));
    assert_int_equal(iscsi_hdr_opcode(h), ISCSI_OP_SCSI_RSP);
    x.cmdsn++;
    raw_close(&x);
    rig_run(&r, MTE_SEC);
    rig_down(&r);
}

/* ---- connection reinstatement ---------------------------------------------------------------------- */

/* A login with the session's TSIH and CID replaces its connection: the old one
 * closes, its tasks (one waiting for data, one in a slow backstore, an ABORT
 * TASK of that one) end without a word on the new one, numbering resumes at the login's CmdSN, and
 * the nexus goes on without a unit attention. */
static void test_connection_reinstatement(void **state)
{
    struct rig r;
    rig_up_with(&r, 5, 100 * MTE_MSEC);
    struct raw old, fresh;
    uint8_t cmd[ISCSI_BHS_LEN], h[ISCSI_BHS_LEN], cdb[10];
    raw_login(&r, &old);
    raw_clear_ua(&old);
    start_write(&old, cmd);                              /* waits for Data-Out */
    cdb_rw10(cdb, false, 0, 1);
    scsi_hdr(&old, h, ISCSI_F | ISCSI_CMD_R, BLOCK, cdb, 10);
    raw_send(&old, h, NULL, 0);                          /* runs for 100 ms */
    uint32_t read_itt = iscsi_hdr_itt(h);
    send_abort_task(&old, read_itt, old.cmdsn + 2);      /* waits for the READ to stop */
    old.cmdsn += 5;                                      /* and three that never arrive */
    rig_run(&r, 10 * MTE_MSEC);

    raw_open(&r, &fresh);
    fresh.tsih = old.tsih;
    fresh.cmdsn = old.cmdsn;
    login_steps(&fresh, "HeaderDigest=None\nMaxRecvDataSegmentLength=65536");
    assert_int_equal(fresh.tsih, old.tsih);
    assert_true(raw_wait_closed(&old, MTE_SEC));
    rig_run(&r, 300 * MTE_MSEC);                         /* the READ is done by now */
    send_nop(&fresh, ISCSI_F, 0x7777, "ping", 4);
    assert_true(raw_recv(&fresh, h, NULL, NULL, 2 * MTE_SEC));
    assert_int_equal(iscsi_hdr_opcode(h), ISCSI_OP_NOP_IN); /* nothing of the old tasks came first */
    assert_int_equal(iscsi_hdr_itt(h), 0x7777);
    send_tur(&fresh, fresh.cmdsn, false);
    assert_true(raw_recv(&fresh, h, NULL, NULL, 2 * MTE_SEC));
    assert_int_equal(iscsi_hdr_opcode(h), ISCSI_OP_SCSI_RSP);
    assert_int_equal(h[3], SAM_STAT_GOOD);               /* in the window, and no unit attention */
    fresh.cmdsn++;

    struct raw other;                                    /* another CID: a second connection */
    uint8_t rsp[ISCSI_BHS_LEN];
    raw_open(&r, &other);
    other.tsih = old.tsih;
    other.cid = 1;
    other.cmdsn = fresh.cmdsn;
    assert_int_equal(login_step(&other, SEC_TO_OP, LOGIN_NAMES, rsp), 0);
    assert_int_equal(login_step(&other, OP_TO_FFP, "HeaderDigest=None", rsp),
                     ISCSI_LOGIN_TOO_MANY_CONNECTIONS);
    raw_close(&other);
    expect_alive(&fresh);
    raw_close(&fresh);
    raw_close(&old);
    rig_run(&r, MTE_SEC);
    assert_int_equal(session_count(&r), 0);
    rig_down(&r);
}

/* ---- the session's solicit window ------------------------------------------------------------------- */

struct r2t_seen {
    uint32_t itt, ttt, offset, len;
};

/* Read PDUs until the target is quiet: R2Ts join the queue, responses are counted (GOOD). */
static void collect(struct raw *x, struct r2t_seen *q, unsigned *nq, unsigned *responses)
{
    uint8_t h[ISCSI_BHS_LEN];
    while (raw_recv(x, h, NULL, NULL, 200 * MTE_MSEC)) {
        if (iscsi_hdr_opcode(h) == ISCSI_OP_R2T) {
            q[(*nq)++] = (struct r2t_seen){iscsi_hdr_itt(h), iscsi_get32(h, ISCSI_OFF_TTT),
                                           iscsi_get32(h, ISCSI_OFF_OFFSET),
                                           iscsi_get32(h, ISCSI_OFF_DESIRED_LEN)};
        } else {
            assert_int_equal(iscsi_hdr_opcode(h), ISCSI_OP_SCSI_RSP);
            assert_int_equal(h[3], SAM_STAT_GOOD);
            (*responses)++;
        }
    }
}

static uint32_t solicited_in(const struct r2t_seen *q, unsigned from, unsigned to)
{
    uint32_t sum = 0;
    for (unsigned i = from; i < to; i++)
        sum += q[i].len;
    return sum;
}

/* Ten 512 KiB writes at once: R2Ts go out for at most 1.5 MiB of data not
 * yet arrived, to the commands in their order; an aborted command's share
 * goes to the next; every other write completes. */
static void test_solicit_window(void **state)
{
    enum { CMDS = 10, CMD_LEN = 512 << 10, BURST = 256 << 10, WINDOW = 1536 << 10, PIECE = 65536 };
    struct rig r;
    rig_up(&r);
    struct raw x;
    raw_login_with(&r, &x, "ImmediateData=No\nInitialR2T=Yes\nMaxBurstLength=262144\n"
                           "MaxOutstandingR2T=8\nMaxRecvDataSegmentLength=65536");
    raw_clear_ua(&x);
    uint8_t cmd[CMDS][ISCSI_BHS_LEN], cdb[10];
    for (unsigned i = 0; i < CMDS; i++) {
        cdb_rw10(cdb, true, i * (CMD_LEN / BLOCK), CMD_LEN / BLOCK);
        scsi_hdr(&x, cmd[i], ISCSI_F | ISCSI_CMD_W, CMD_LEN, cdb, 10);
        raw_send(&x, cmd[i], NULL, 0);
        x.cmdsn++;
    }
    struct r2t_seen q[64];
    unsigned nq = 0, head = 0, responses = 0;
    collect(&x, q, &nq, &responses);
    assert_int_equal(solicited_in(q, 0, nq), WINDOW);      /* the first three, whole */
    for (unsigned i = 0; i < nq; i++) {
        assert_int_equal(q[i].itt, iscsi_hdr_itt(cmd[i / 2]));
        assert_int_equal(q[i].len, BURST);
    }
    /* abort the first: its two R2Ts' window goes to the fourth */
    uint8_t h[ISCSI_BHS_LEN];
    send_abort_task(&x, iscsi_hdr_itt(cmd[0]), x.cmdsn);
    assert_true(raw_recv(&x, h, NULL, NULL, 2 * MTE_SEC));
    assert_int_equal(iscsi_hdr_opcode(h), ISCSI_OP_TMF_RSP);
    assert_int_equal(h[2], SCST_TMF_COMPLETE);
    head = 2;
    collect(&x, q, &nq, &responses);
    assert_int_equal(nq, 8);
    assert_int_equal(q[6].itt, iscsi_hdr_itt(cmd[3]));
    assert_int_equal(q[7].itt, iscsi_hdr_itt(cmd[3]));
    /* answer the R2Ts in order; the window is never exceeded */
    while (head < nq) {
        struct r2t_seen *t = &q[head++];
        for (uint32_t off = 0, sn = 0; off < t->len; off += PIECE, sn++) {
            uint8_t fake[ISCSI_BHS_LEN] = {0};
            iscsi_put32(fake, ISCSI_OFF_ITT, t->itt);
            data_out(&x, fake, t->ttt, sn, t->offset + off, PIECE, off + PIECE == t->len);
        }
        collect(&x, q, &nq, &responses);
        assert_true(nq <= 64);
        assert_true(solicited_in(q, head, nq) <= WINDOW);
    }
    assert_int_equal(nq, 2 * (CMDS - 1) + 2);               /* the aborted one's two, early */
    assert_int_equal(responses, CMDS - 1);
    expect_alive(&x);
    raw_close(&x);
    rig_run(&r, MTE_SEC);
    rig_down(&r);
}

/* ---- liveness ------------------------------------------------------------------------------------------- */

static void test_silent_initiator_dropped(void **state)
{
    struct rig r;
    rig_up(&r);
    char err[64];
    assert_int_equal(iscsi_target_set_param(r.srv, TGT, "NopInInterval", "1", err, sizeof(err)), 0);
    assert_int_equal(iscsi_target_set_param(r.srv, TGT, "NopInTimeout", "1", err, sizeof(err)), 0);
    struct raw x;
    raw_login(&r, &x);
    uint8_t h[ISCSI_BHS_LEN];
    assert_true(raw_recv(&x, h, NULL, NULL, 3 * MTE_SEC));
    assert_int_equal(iscsi_hdr_opcode(h), ISCSI_OP_NOP_IN);
    assert_int_equal(iscsi_hdr_itt(h), ISCSI_RSVD_TAG);
    assert_int_not_equal(iscsi_get32(h, ISCSI_OFF_TTT), ISCSI_RSVD_TAG);
    assert_true(raw_wait_closed(&x, 3 * MTE_SEC));       /* never answered: dropped */
    raw_close(&x);
    rig_run(&r, MTE_SEC);
    assert_int_equal(session_count(&r), 0);
    rig_run(&r, MTE_SEC);
    rig_down(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmdsn_outside_window_ignored),
        cmocka_unit_test(test_datasn_errors_fail_the_write),
        cmocka_unit_test(test_data_out_offsets_and_unknown_tasks),
        cmocka_unit_test(test_malformed_pdus_rejected),
        cmocka_unit_test(test_text_and_logout),
        cmocka_unit_test(test_digest_errors),
        cmocka_unit_test(test_login_failures),
        cmocka_unit_test(test_login_text_in_pieces),
        cmocka_unit_test(test_abort_task_waiting_for_data),
        cmocka_unit_test(test_connection_reinstatement),
        cmocka_unit_test(test_solicit_window),
        cmocka_unit_test(test_silent_initiator_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
