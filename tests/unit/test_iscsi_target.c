/* iSCSI end to end in the simulator: the target over scst and a ram (or
 * simdisk) backstore, driven by the initiator library over faultnet. */
#include "tests/unit/test_iscsi_rig.h"

/* ---- login and basic commands ---------------------------------------------------------- */

static void test_login_inquiry_capacity(void **state)
{
    struct rig r;
    rig_up(&r);
    struct iscsi_ini_opts o = ini_defaults();
    struct iscsi_ini *ini = ini_login_ok(&r, &o);
    assert_true(iscsi_ini_logged_in(ini));
    assert_int_equal(session_count(&r), 1);

    uint8_t inq[96], cdb[16] = {0x12, 0, 0, 0, 96, 0};
    struct cmd_wait w = run_cmd(&r, ini, cdb, 6, SCSI_DIR_READ, inq, sizeof(inq));
    assert_int_equal(w.r.rc, 0);
    assert_int_equal(w.r.status, 0);
    assert_true(w.r.data_len >= 36);
    assert_int_equal(inq[0] & 0x1f, 0);                  /* a direct-access block device */

    clear_ua(&r, ini);
    uint8_t cap[8];
    memset(cdb, 0, sizeof(cdb));
    cdb[0] = 0x25;
    w = run_cmd(&r, ini, cdb, 10, SCSI_DIR_READ, cap, sizeof(cap));
    assert_int_equal(w.r.status, 0);
    uint32_t last = (uint32_t)cap[0] << 24 | cap[1] << 16 | cap[2] << 8 | cap[3];
    uint32_t bs = (uint32_t)cap[4] << 24 | cap[5] << 16 | cap[6] << 8 | cap[7];
    assert_int_equal(last, DISK_SIZE / BLOCK - 1);
    assert_int_equal(bs, BLOCK);

    memset(cdb, 0, sizeof(cdb));                         /* TEST UNIT READY, no data */
    w = run_cmd(&r, ini, cdb, 6, SCSI_DIR_NONE, NULL, 0);
    assert_int_equal(w.r.rc, 0);
    assert_int_equal(w.r.status, 0);

    ini_logout_free(&r, ini);
    assert_int_equal(session_count(&r), 0);
    rig_down(&r);
}

static void test_write_read_back(void **state)
{
    struct rig r;
    rig_up(&r);
    struct iscsi_ini_opts o = ini_defaults();
    struct iscsi_ini *ini = ini_ready(&r, &o);
    static const uint32_t sizes[] = {512, 4096, 65536, 65536 + 512, 262144, 1048576 + 4096};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint8_t *out = malloc(sizes[i]), *in = malloc(sizes[i]);
        pattern(out, sizes[i], (uint32_t)i);
        rw(&r, ini, true, (uint32_t)(i * 4096), out, sizes[i]);
        memset(in, 0, sizes[i]);
        rw(&r, ini, false, (uint32_t)(i * 4096), in, sizes[i]);
        assert_memory_equal(in, out, sizes[i]);
        free(out);
        free(in);
    }
    ini_logout_free(&r, ini);
    rig_down(&r);
}

/* ---- CHAP ------------------------------------------------------------------------------- */

static void test_chap_one_way_and_mutual(void **state)
{
    struct rig r;
    rig_up(&r);
    assert_int_equal(iscsi_target_set_chap(r.srv, TGT, "alice", "alicesecret12", "target",
                                           "targetsecret9"), 0);
    struct iscsi_ini_opts o = ini_defaults();
    struct login_wait w;

    assert_null(ini_login(&r, &o, &w));                  /* no CHAP offered: refused */
    assert_int_equal(w.rc, -EACCES);
    assert_non_null(strstr(w.msg, "0x0201"));

    o.chap_user = "alice";
    o.chap_secret = "wrong-secret";
    assert_null(ini_login(&r, &o, &w));
    assert_int_equal(w.rc, -EACCES);
    assert_non_null(strstr(w.msg, "0x0201"));

    o.chap_user = "mallory";
    o.chap_secret = "alicesecret12";
    assert_null(ini_login(&r, &o, &w));
    assert_non_null(strstr(w.msg, "0x0201"));

    o.chap_user = "alice";                               /* one-way */
    o.chap_secret = "alicesecret12";
    struct iscsi_ini *ini = ini_ready(&r, &o);
    ini_logout_free(&r, ini);

    o.mutual_user = "target";                            /* mutual */
    o.mutual_secret = "targetsecret9";
    ini = ini_ready(&r, &o);
    ini_logout_free(&r, ini);

    o.mutual_secret = "not-the-target";                  /* the target fails our check */
    assert_null(ini_login(&r, &o, &w));
    assert_int_equal(w.rc, -EPROTO);

    o.mutual_secret = "targetsecret9";                   /* the target has no mutual account */
    assert_int_equal(iscsi_target_set_chap(r.srv, TGT, "alice", "alicesecret12", NULL, NULL), 0);
    assert_null(ini_login(&r, &o, &w));
    assert_non_null(strstr(w.msg, "0x0201"));
    rig_run(&r, MTE_SEC);
    assert_int_equal(session_count(&r), 0);
    rig_down(&r);
}

/* ---- discovery ------------------------------------------------------------------------------- */

struct text_wait {
    bool done;
    int rc;
    char text[65536];
    size_t len;
};

static void text_cb(void *arg, int rc, const char *text, size_t len)
{
    struct text_wait *w = arg;
    w->done = true;
    w->rc = rc;
    w->len = len < sizeof(w->text) ? len : sizeof(w->text);
    memcpy(w->text, text, w->len);
}

static unsigned count_pairs(const struct text_wait *w, const char *prefix)
{
    unsigned n = 0;
    for (size_t i = 0; i < w->len; i += strlen(w->text + i) + 1)
        n += !strncmp(w->text + i, prefix, strlen(prefix));
    return n;
}

static bool has_pair(const struct text_wait *w, const char *pair)
{
    for (size_t i = 0; i < w->len; i += strlen(w->text + i) + 1)
        if (!strcmp(w->text + i, pair))
            return true;
    return false;
}

static void send_targets(struct rig *r, struct iscsi_ini *ini, struct text_wait *w)
{
    memset(w, 0, sizeof(*w));
    iscsi_ini_send_targets(ini, text_cb, w);
    assert_true(rig_wait(r, &w->done, 30 * MTE_SEC));
}

static void test_discovery_and_send_targets(void **state)
{
    struct rig r;
    rig_up(&r);
    assert_int_equal(scst_target_add(r.core, TGT2), 0);
    assert_int_equal(scst_target_enable(r.core, TGT2, true), 0);
    assert_int_equal(scst_target_add(r.core, "iqn.2026-11.local.test:hidden"), 0);
    assert_int_equal(scst_target_enable(r.core, "iqn.2026-11.local.test:hidden", true), 0);
    assert_int_equal(scst_target_allow_initiator(r.core, "iqn.2026-11.local.test:hidden",
                                                 "iqn.someone.else"), 0);
    struct iscsi_ini_opts o = ini_defaults();
    o.target = NULL;                                     /* a discovery session */
    struct iscsi_ini *ini = ini_login_ok(&r, &o);
    struct text_wait *w = malloc(sizeof(*w));
    send_targets(&r, ini, w);
    assert_int_equal(w->rc, 0);
    assert_int_equal(count_pairs(w, "TargetName="), 2);
    assert_true(has_pair(w, "TargetName=" TGT));
    assert_true(has_pair(w, "TargetName=" TGT2));
    assert_true(has_pair(w, "TargetAddress=" PORTAL ",1"));
    struct count_sessions c = {0};
    iscsi_foreach_session(r.srv, count_cb, &c);
    assert_int_equal(c.discovery, 1);
    uint8_t tur[6] = {0};                                /* no SCSI in discovery: rejected */
    struct cmd_wait cw = run_cmd(&r, ini, tur, 6, SCSI_DIR_NONE, NULL, 0);
    assert_int_equal(cw.r.rc, -EPROTO);
    ini_logout_free(&r, ini);

    o.target = TGT;                                      /* SendTargets in a normal session */
    ini = ini_ready(&r, &o);
    send_targets(&r, ini, w);
    assert_int_equal(w->rc, 0);
    assert_int_equal(count_pairs(w, "TargetName="), 2);
    rw(&r, ini, true, 0, w->text, 4096);                 /* the session still works */
    ini_logout_free(&r, ini);
    free(w);
    rig_down(&r);
}

/* A long SendTargets answer comes in pieces with the C bit. */
static void test_send_targets_continues(void **state)
{
    struct rig r;
    rig_up(&r);
    char name[256];
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof(name), "iqn.2026-11.local.test:%0180d", i);
        assert_int_equal(scst_target_add(r.core, name), 0);
        assert_int_equal(scst_target_enable(r.core, name, true), 0);
    }
    struct iscsi_ini_opts o = ini_defaults();
    o.target = NULL;
    o.max_recv_data_segment_length = 512;
    struct iscsi_ini *ini = ini_login_ok(&r, &o);
    struct text_wait *w = malloc(sizeof(*w));
    send_targets(&r, ini, w);
    assert_int_equal(w->rc, 0);
    assert_true(w->len > 40 * 200);
    assert_int_equal(count_pairs(w, "TargetName="), 41);
    assert_int_equal(count_pairs(w, "TargetAddress="), 41);
    free(w);
    ini_logout_free(&r, ini);
    rig_down(&r);
}

/* ---- data movement under every negotiation -------------------------------------------------- */

static void check_transfers(struct rig *r, struct iscsi_ini *ini, uint32_t seed)
{
    static const uint32_t sizes[] = {512, 4096 + 512, 65536, 200704, 1048576};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint8_t *out = malloc(sizes[i]), *in = malloc(sizes[i]);
        pattern(out, sizes[i], seed + (uint32_t)i);
        uint32_t lba = (uint32_t)(i * 4096 + seed);
        rw(r, ini, true, lba, out, sizes[i]);
        memset(in, 0xee, sizes[i]);
        rw(r, ini, false, lba, in, sizes[i]);
        if (memcmp(in, out, sizes[i]))
            fail_msg("data mismatch, size %u seed %u", sizes[i], seed);
        free(out);
        free(in);
    }
}

static void test_transfer_matrix(void **state)
{
    struct rig r;
    rig_up(&r);
    char err[128];
    assert_int_equal(iscsi_target_set_param(r.srv, TGT, "MaxRecvDataSegmentLength", "2048", err,
                                            sizeof(err)), 0);
    assert_int_equal(iscsi_target_set_param(r.srv, TGT, "FirstBurstLength", "8192", err, sizeof(err)), 0);
    assert_int_equal(iscsi_target_set_param(r.srv, TGT, "MaxBurstLength", "16384", err, sizeof(err)), 0);
    assert_int_equal(iscsi_target_set_param(r.srv, TGT, "MaxOutstandingR2T", "3", err, sizeof(err)), 0);
    for (int mode = 0; mode < 8; mode++) {
        struct iscsi_ini_opts o = ini_defaults();
        o.want_immediate_data = mode & 1;
        o.want_initial_r2t = mode & 2;
        if (mode & 4) {                                  /* the initiator is smaller still */
            o.max_recv_data_segment_length = 1024;
            o.max_burst_length = 4096;
            o.first_burst_length = 2048;
        }
        struct iscsi_ini *ini = ini_ready(&r, &o);
        struct iscsi_ini_negotiated ng;
        iscsi_ini_negotiated(ini, &ng);
        assert_int_equal(ng.immediate_data, o.want_immediate_data);
        assert_int_equal(ng.initial_r2t, o.want_initial_r2t);   /* the target says No */
        assert_int_equal(ng.target_max_recv_data_segment_length, 2048);
        assert_int_equal(ng.max_burst_length, mode & 4 ? 4096 : 16384);
        assert_int_equal(ng.first_burst_length, mode & 4 ? 2048 : 8192);
        assert_int_equal(ng.max_outstanding_r2t, 3);
        check_transfers(&r, ini, (uint32_t)mode * 7);
        ini_logout_free(&r, ini);
    }
    rig_down(&r);
}

static void test_digests(void **state)
{
    struct rig r;
    rig_up(&r);
    for (int mode = 1; mode < 4; mode++) {
        struct iscsi_ini_opts o = ini_defaults();
        o.header_digest = mode & 1;
        o.data_digest = mode & 2;
        struct iscsi_ini *ini = ini_ready(&r, &o);
        struct iscsi_ini_negotiated ng;
        iscsi_ini_negotiated(ini, &ng);
        assert_int_equal(ng.header_digest, o.header_digest);
        assert_int_equal(ng.data_digest, o.data_digest);
        check_transfers(&r, ini, (uint32_t)mode);
        ini_logout_free(&r, ini);
    }
    char err[128];                                       /* a target that insists */
    assert_int_equal(iscsi_target_set_param(r.srv, NULL, "DataDigest", "CRC32C", err, sizeof(err)), 0);
    struct iscsi_ini_opts o = ini_defaults();
    struct login_wait w;
    assert_null(ini_login(&r, &o, &w));
    assert_non_null(strstr(w.msg, "0x0200"));
    rig_down(&r);
}

/* ---- NOP ------------------------------------------------------------------------------------------ */

struct nop_wait {
    bool done;
    int rc;
    uint8_t data[4096];
    uint32_t len;
};

static void nop_cb(void *arg, int rc, const void *data, uint32_t len)
{
    struct nop_wait *w = arg;
    w->done = true;
    w->rc = rc;
    w->len = len;
    memcpy(w->data, data, len < sizeof(w->data) ? len : sizeof(w->data));
}

static void test_nop_ping_and_target_nop_in(void **state)
{
    struct rig r;
    rig_up(&r);
    char err[128];
    assert_int_equal(iscsi_target_set_param(r.srv, NULL, "NopInInterval", "1", err, sizeof(err)), 0);
    assert_int_equal(iscsi_target_set_param(r.srv, NULL, "NopInTimeout", "2", err, sizeof(err)), 0);
    struct iscsi_ini_opts o = ini_defaults();
    struct iscsi_ini *ini = ini_ready(&r, &o);
    struct nop_wait w = {0};
    uint8_t ping[1000];
    pattern(ping, sizeof(ping), 9);
    iscsi_ini_nop(ini, ping, sizeof(ping), nop_cb, &w);
    assert_true(rig_wait(&r, &w.done, 10 * MTE_SEC));
    assert_int_equal(w.rc, 0);
    assert_int_equal(w.len, sizeof(ping));
    assert_memory_equal(w.data, ping, sizeof(ping));
    rig_run(&r, 10 * MTE_SEC);                           /* ten target pings, all answered */
    assert_true(iscsi_ini_logged_in(ini));
    assert_int_equal(session_count(&r), 1);
    rw(&r, ini, false, 0, ping, 512);
    ini_logout_free(&r, ini);
    rig_down(&r);
}

/* ---- many commands at once ------------------------------------------------------------------------ */

static void test_fifty_concurrent_commands(void **state)
{
    struct rig r;
    rig_up_with(&r, 3, 2 * MTE_MSEC);
    struct iscsi_ini_opts o = ini_defaults();
    struct iscsi_ini *ini = ini_ready(&r, &o);
    enum { N = 50, LEN = 8192 };
    uint8_t *out = malloc(N * LEN), *in = malloc(N * LEN);
    struct cmd_wait *w = calloc(N, sizeof(*w));
    pattern(out, N * LEN, 5);
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < N; i++) {
            uint8_t cdb[10];
            cdb_rw10(cdb, pass == 0, (uint32_t)(i * 64), LEN / BLOCK);
            w[i].done = false;
            iscsi_ini_command(ini, 0, cdb, 10, pass == 0 ? SCSI_DIR_WRITE : SCSI_DIR_READ,
                              (pass == 0 ? out : in) + i * LEN, LEN, cmd_cb, &w[i]);
        }
        for (int i = 0; i < N; i++) {
            assert_true(rig_wait(&r, &w[i].done, 60 * MTE_SEC));
            assert_int_equal(w[i].r.rc, 0);
            assert_int_equal(w[i].r.status, 0);
        }
    }
    assert_memory_equal(in, out, N * LEN);
    free(out);
    free(in);
    free(w);
    ini_logout_free(&r, ini);
    rig_down(&r);
}

/* ---- task management ---------------------------------------------------------------------------- */

struct tmf_wait {
    bool done;
    int response;
};

static void tmf_cb(void *arg, int response)
{
    struct tmf_wait *w = arg;
    w->done = true;
    w->response = response;
}

static int run_tmf(struct rig *r, struct iscsi_ini *ini, enum scst_tmf fn, uint32_t ref)
{
    struct tmf_wait w = {0};
    iscsi_ini_tmf(ini, fn, 0, ref, tmf_cb, &w);
    assert_true(rig_wait(r, &w.done, 30 * MTE_SEC));
    return w.response;
}

static void test_abort_task_in_flight(void **state)
{
    struct rig r;
    rig_up_with(&r, 5, 300 * MTE_MSEC);
    struct iscsi_ini_opts o = ini_defaults();
    struct iscsi_ini *ini = ini_ready(&r, &o);
    uint8_t buf[4096], cdb[10];
    cdb_rw10(cdb, false, 8, 8);
    struct cmd_wait w = {0};
    uint32_t itt = iscsi_ini_next_itt(ini);
    iscsi_ini_command(ini, 0, cdb, 10, SCSI_DIR_READ, buf, sizeof(buf), cmd_cb, &w);
    rig_run(&r, 50 * MTE_MSEC);                          /* it is on the disk now */
    assert_false(w.done);
    assert_int_equal(run_tmf(&r, ini, SCST_TMF_ABORT_TASK, itt), 0);
    assert_true(w.done);
    assert_int_equal(w.r.rc, -ECANCELED);
    rig_run(&r, MTE_SEC);                                /* and no late answer appears */
    assert_int_equal(run_tmf(&r, ini, SCST_TMF_ABORT_TASK, itt), SCST_TMF_NO_TASK);
    rw(&r, ini, false, 0, buf, 4096);                    /* the session goes on */
    ini_logout_free(&r, ini);
    rig_down(&r);
}

/* Freeing the initiator from outside its callbacks while commands are in
 * flight: each command fails once with -ECANCELED and the initiator is
 * released exactly once (the simulator hit a double free here). */
static void test_free_with_commands_in_flight(void **state)
{
    struct rig r;
    rig_up_with(&r, 9, 300 * MTE_MSEC);
    struct iscsi_ini_opts o = ini_defaults();
    struct iscsi_ini *ini = ini_ready(&r, &o);
    uint8_t buf[3][4096], cdb[10];
    struct cmd_wait w[3] = {{0}};
    for (int i = 0; i < 3; i++) {
        cdb_rw10(cdb, i == 1, (uint32_t)(8 * i), 8);
        iscsi_ini_command(ini, 0, cdb, 10, i == 1 ? SCSI_DIR_WRITE : SCSI_DIR_READ, buf[i],
                          sizeof(buf[i]), cmd_cb, &w[i]);
    }
    rig_run(&r, 50 * MTE_MSEC);
    iscsi_ini_free(ini);
    for (int i = 0; i < 3; i++) {
        assert_true(w[i].done);
        assert_int_equal(w[i].r.rc, -ECANCELED);
    }
    rig_run(&r, MTE_SEC);
    rig_down(&r);
}

static void test_lun_reset_and_task_sets(void **state)
{
    struct rig r;
    rig_up_with(&r, 6, 200 * MTE_MSEC);
    struct iscsi_ini_opts o = ini_defaults();
    struct iscsi_ini *ini = ini_ready(&r, &o);
    static const enum scst_tmf fns[] = {SCST_TMF_ABORT_TASK_SET, SCST_TMF_CLEAR_TASK_SET,
                                        SCST_TMF_LUN_RESET, SCST_TMF_TARGET_WARM_RESET};
    uint8_t buf[4][4096];
    for (size_t f = 0; f < sizeof(fns) / sizeof(fns[0]); f++) {
        struct cmd_wait w[4] = {0};
        for (int i = 0; i < 4; i++) {
            uint8_t cdb[10];
            cdb_rw10(cdb, i & 1, (uint32_t)(i * 8), 8);
            iscsi_ini_command(ini, 0, cdb, 10, i & 1 ? SCSI_DIR_WRITE : SCSI_DIR_READ, buf[i], 4096,
                              cmd_cb, &w[i]);
        }
        rig_run(&r, 20 * MTE_MSEC);
        assert_int_equal(run_tmf(&r, ini, fns[f], 0), 0);
        for (int i = 0; i < 4; i++) {
            assert_true(w[i].done);
            assert_int_equal(w[i].r.rc, -ECANCELED);
        }
        if (fns[f] == SCST_TMF_LUN_RESET || fns[f] == SCST_TMF_TARGET_WARM_RESET)
            clear_ua(&r, ini);                           /* the reset's unit attention */
        rw(&r, ini, false, 0, buf[0], 4096);
    }
    ini_logout_free(&r, ini);
    rig_down(&r);
}

static void test_cold_reset_drops_the_connection(void **state)
{
    struct rig r;
    rig_up(&r);
    struct iscsi_ini_opts o = ini_defaults();
    struct iscsi_ini *ini = ini_ready(&r, &o);
    assert_int_equal(run_tmf(&r, ini, SCST_TMF_TARGET_COLD_RESET, 0), 0);
    rig_run(&r, MTE_SEC);
    assert_false(iscsi_ini_logged_in(ini));
    assert_int_equal(session_count(&r), 0);
    iscsi_ini_free(ini);
    ini = ini_ready(&r, &o);                             /* a new session is fine */
    ini_logout_free(&r, ini);
    rig_down(&r);
}

/* ---- sessions -------------------------------------------------------------------------------------- */

static void test_session_reinstatement(void **state)
{
    struct rig r;
    rig_up(&r);
    struct iscsi_ini_opts o = ini_defaults();
    o.isid = 0x80000000abcdull;
    struct iscsi_ini *old = ini_ready(&r, &o);
    struct iscsi_ini *ini = ini_ready(&r, &o);           /* same ISID and name, TSIH 0 */
    rig_run(&r, MTE_SEC);
    assert_false(iscsi_ini_logged_in(old));
    assert_true(iscsi_ini_logged_in(ini));
    assert_int_equal(session_count(&r), 1);
    iscsi_ini_free(old);
    o.isid = 0x80000000abceull;                          /* another ISID: a second session */
    struct iscsi_ini *other = ini_ready(&r, &o);
    assert_int_equal(session_count(&r), 2);
    uint8_t buf[4096];
    rw(&r, ini, false, 0, buf, sizeof(buf));
    rw(&r, other, false, 0, buf, sizeof(buf));
    ini_logout_free(&r, other);
    ini_logout_free(&r, ini);
    rig_down(&r);
}

static void test_connection_reset_mid_command(void **state)
{
    struct rig r;
    rig_up_with(&r, 7, 100 * MTE_MSEC);
    struct iscsi_ini_opts o = ini_defaults();
    o.want_initial_r2t = true;                           /* so a write waits for R2Ts too */
    o.want_immediate_data = false;
    struct iscsi_ini *ini = ini_ready(&r, &o);
    static uint8_t buf[3][262144];
    struct cmd_wait w[3] = {0};
    for (int i = 0; i < 3; i++) {
        uint8_t cdb[10];
        cdb_rw10(cdb, i != 1, (uint32_t)(i * 1024), 512);
        iscsi_ini_command(ini, 0, cdb, 10, i != 1 ? SCSI_DIR_WRITE : SCSI_DIR_READ, buf[i],
                          sizeof(buf[i]), cmd_cb, &w[i]);
    }
    rig_run(&r, 2 * MTE_MSEC);
    assert_int_equal(faultnet_reset(r.fn, "target", "ini"), 0);
    rig_run(&r, 2 * MTE_SEC);
    for (int i = 0; i < 3; i++) {
        assert_true(w[i].done);
        assert_true(w[i].r.rc < 0);
    }
    assert_int_equal(session_count(&r), 0);              /* the target cleaned up */
    iscsi_ini_free(ini);
    ini = ini_ready(&r, &o);
    ini_logout_free(&r, ini);
    rig_down(&r);
}

/* ---- residuals (libiscsi's iSCSIResiduals) ---------------------------------------------------------- */

static struct cmd_wait rw_len(struct rig *r, struct iscsi_ini *ini, bool write, uint16_t blocks,
                              uint32_t len, uint8_t *buf)
{
    uint8_t cdb[10];
    cdb_rw10(cdb, write, 100, blocks);
    return run_cmd(r, ini, cdb, 10, write ? SCSI_DIR_WRITE : SCSI_DIR_READ, buf, len);
}

/* The transport reports what the initiator's expected length and the CDB's
 * length differ by; a WRITE runs on the whole blocks that arrived. */
static void test_residuals(void **state)
{
    struct rig r;
    rig_up(&r);
    struct iscsi_ini_opts o = ini_defaults();
    struct iscsi_ini *ini = ini_ready(&r, &o);
    static uint8_t buf[20000], back[1024];
    struct { bool write; uint16_t blocks; uint32_t len; uint8_t status; bool over, under;
             uint32_t residual, data, written; } v[] = {
        {false, 1, 0, 0, true, false, 512, 0, 0},
        {false, 1, 10000, 0, false, true, 10000 - 512, 512, 0},
        {false, 1, 200, 0, true, false, 312, 200, 0},
        {false, 2, 512, 0, true, false, 512, 512, 0},
        {false, 1, 512, 0, false, false, 0, 512, 0},
        {true, 1, 0, 0, true, false, 512, 0, 0},
        {true, 1, 1024, 0, false, true, 512, 0, 1},
        {true, 2, 512, 0, true, false, 512, 0, 1},
        {true, 1, 10000, 0, false, true, 10000 - 512, 0, 1},
        {true, 1, 200, SAM_STAT_CHECK_CONDITION, true, false, 312, 0, 0},
        {true, 1, 512, 0, false, false, 0, 0, 1},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        memset(buf, 'a', 1024);
        if (v[i].write)
            assert_int_equal(rw_len(&r, ini, true, 2, 1024, buf).r.status, 0);
        memset(buf, 'b', sizeof(buf));
        struct cmd_wait w = rw_len(&r, ini, v[i].write, v[i].blocks, v[i].len, buf);
        if (w.r.rc || w.r.status != v[i].status || w.r.overflow != v[i].over ||
            w.r.underflow != v[i].under || w.r.residual != v[i].residual ||
            (!v[i].write && w.r.data_len != v[i].data))
            fail_msg("case %zu: rc %d status %u over %d under %d residual %u data %u", i, w.r.rc,
                     w.r.status, w.r.overflow, w.r.underflow, w.r.residual, w.r.data_len);
        if (v[i].status == SAM_STAT_CHECK_CONDITION) {  /* INVALID FIELD IN INFORMATION UNIT */
            assert_int_equal(w.sense[2] & 15, 5);
            assert_int_equal(w.sense[12], 0x0e);
            assert_int_equal(w.sense[13], 0x03);
        }
        if (!v[i].write)
            continue;
        assert_int_equal(rw_len(&r, ini, false, 2, 1024, back).r.status, 0);
        for (uint32_t b = 0; b < 2; b++)           /* only the blocks that came were written */
            if (back[b * 512] != (b < v[i].written ? 'b' : 'a') || back[b * 512 + 511] != back[b * 512])
                fail_msg("case %zu: block %u holds '%c'", i, b, back[b * 512]);
    }
    ini_logout_free(&r, ini);
    rig_down(&r);
}

/* ---- configuration --------------------------------------------------------------------------------- */

static void test_parameters_and_conf_hooks(void **state)
{
    struct rig r;
    rig_up(&r);
    char err[160];
    assert_int_equal(iscsi_target_set_param(r.srv, NULL, "MaxBurstLength", "100", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "MaxBurstLength"));
    assert_int_equal(iscsi_target_set_param(r.srv, NULL, "Bogus", "1", err, sizeof(err)), -EINVAL);
    assert_int_equal(iscsi_target_set_param(r.srv, NULL, "InitialR2T", "maybe", err, sizeof(err)), -EINVAL);
    assert_int_equal(iscsi_target_set_param(r.srv, NULL, "ErrorRecoveryLevel", "1", err, sizeof(err)), -EINVAL);
    assert_int_equal(iscsi_target_set_param(r.srv, NULL, "HeaderDigest", "CRC32C,None", err, sizeof(err)), 0);
    assert_int_equal(iscsi_target_set_param(r.srv, NULL, "HeaderDigest", "MD5", err, sizeof(err)), -EINVAL);
    assert_int_equal(iscsi_conf_target_attr(r.srv, "iscsi", TGT, "IncomingUser", "joe joesecret12",
                                            err, sizeof(err)), 0);
    assert_int_equal(iscsi_conf_target_attr(r.srv, "iscsi", TGT, "OutgoingUser", "tgt tgtsecret123",
                                            err, sizeof(err)), 0);
    assert_int_equal(iscsi_conf_target_attr(r.srv, "iscsi", TGT, "IncomingUser", "nosecret",
                                            err, sizeof(err)), -EINVAL);
    assert_int_equal(iscsi_conf_target_attr(r.srv, "iscsi", TGT, "QueuedCommands", "64",
                                            err, sizeof(err)), 0);
    assert_int_equal(iscsi_conf_target_attr(r.srv, "iscsi", TGT, "rel_tgt_id", "3", err, sizeof(err)), 0);
    assert_int_equal(iscsi_conf_target_attr(r.srv, "fcoe", TGT, "enabled", "1", err, sizeof(err)), -EINVAL);
    assert_int_equal(iscsi_conf_driver_attr(r.srv, "iscsi", "enabled", "1", err, sizeof(err)), 0);
    assert_int_equal(iscsi_conf_driver_attr(r.srv, "iscsi", "MaxSessions", "1", err, sizeof(err)), 0);
    struct iscsi_ini_opts o = ini_defaults();
    o.chap_user = "joe";
    o.chap_secret = "joesecret12";
    o.mutual_user = "tgt";
    o.mutual_secret = "tgtsecret123";
    o.isid = 1;
    struct iscsi_ini *ini = ini_ready(&r, &o);
    o.isid = 2;                                          /* MaxSessions 1 */
    struct login_wait w;
    assert_null(ini_login(&r, &o, &w));
    assert_non_null(strstr(w.msg, "0x0302"));
    ini_logout_free(&r, ini);
    rig_down(&r);
}

/* ---- determinism: one seed, one run hash ------------------------------------------------------------ */

static uint64_t one_run(uint64_t seed)
{
    struct rig r;
    rig_up_with(&r, seed, 3 * MTE_MSEC);
    struct iscsi_ini_opts o = ini_defaults();
    o.header_digest = true;
    struct iscsi_ini *ini = ini_ready(&r, &o);
    uint8_t buf[3][65536];
    struct cmd_wait w[3] = {0};
    for (int i = 0; i < 3; i++) {
        uint8_t cdb[10];
        pattern(buf[i], sizeof(buf[i]), (uint32_t)i);
        cdb_rw10(cdb, i != 2, (uint32_t)(i * 128), 128);
        iscsi_ini_command(ini, 0, cdb, 10, i != 2 ? SCSI_DIR_WRITE : SCSI_DIR_READ, buf[i],
                          sizeof(buf[i]), cmd_cb, &w[i]);
    }
    for (int i = 0; i < 3; i++)
        assert_true(rig_wait(&r, &w[i].done, 10 * MTE_SEC));
    ini_logout_free(&r, ini);
    uint64_t h = mte_hash(r.e);
    rig_down(&r);
    return h;
}

static void test_same_seed_same_hash(void **state)
{
    uint64_t a = one_run(11), b = one_run(11);
    assert_int_equal(a, b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_login_inquiry_capacity),
        cmocka_unit_test(test_write_read_back),
        cmocka_unit_test(test_chap_one_way_and_mutual),
        cmocka_unit_test(test_discovery_and_send_targets),
        cmocka_unit_test(test_send_targets_continues),
        cmocka_unit_test(test_transfer_matrix),
        cmocka_unit_test(test_digests),
        cmocka_unit_test(test_nop_ping_and_target_nop_in),
        cmocka_unit_test(test_fifty_concurrent_commands),
        cmocka_unit_test(test_abort_task_in_flight),
        cmocka_unit_test(test_free_with_commands_in_flight),
        cmocka_unit_test(test_lun_reset_and_task_sets),
        cmocka_unit_test(test_cold_reset_drops_the_connection),
        cmocka_unit_test(test_session_reinstatement),
        cmocka_unit_test(test_connection_reset_mid_command),
        cmocka_unit_test(test_residuals),
        cmocka_unit_test(test_parameters_and_conf_hooks),
        cmocka_unit_test(test_same_seed_same_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
