/* scst: task management with commands really in flight (a simulated disk
 * with latency), task attributes, QErr and TAS, session close, and the
 * bdev open/close lifecycle (a device that refuses writers). */
#include "tests/unit/test_scst_rig.h"

static struct rig *up_slow(struct rig *r, mte_time_t latency)
{
    struct rig_opts o = {.simdisk = true, .latency = latency, .size = 16 * MIB};
    rig_up(r, &o);
    clear_ua(r, r->s1);
    clear_ua(r, r->s2);
    return r;
}

/* tcmd_start clears the tag: set it before exec by hand. */
static void start_tagged(struct rig *r, struct tcmd *t, struct scst_session *s, uint64_t lba,
                         uint64_t tag, enum scsi_task_attr attr)
{
    uint8_t c[16];
    cdb_rw16(c, 0x88, lba, 1, 0);
    memset(t, 0, sizeof(*t));
    t->cmd.sess = s;
    t->cmd.tag = tag;
    t->cmd.attr = attr;
    memcpy(t->cmd.cdb, c, 16);
    t->cmd.cdb_len = 16;
    t->cmd.done = tcmd_done;
    assert_int_equal(scst_cmd_parse(&t->cmd), 0);
    t->cmd.expected_len = t->cmd.data_len;
    scst_cmd_exec(&t->cmd);
}

static void start_read(struct rig *r, struct tcmd *t, struct scst_session *s, uint64_t lba, uint64_t tag,
                       enum scsi_task_attr attr)
{
    start_tagged(r, t, s, lba, tag, attr);
}

static bool finished_aborted(struct tcmd *t)
{
    struct res res;
    assert_int_equal(t->done, 1);
    tcmd_finish(t, &res);
    res_free(&res);
    return res.aborted;
}

static uint8_t finished_status(struct tcmd *t)
{
    struct res res;
    assert_int_equal(t->done, 1);
    tcmd_finish(t, &res);
    res_free(&res);
    return res.status;
}

/* ---- ABORT TASK, ABORT TASK SET, CLEAR TASK SET --------------------------------------------- */

static void abort_task_in_flight(void **state)
{
    struct rig r;
    up_slow(&r, 10 * MTE_MSEC);
    struct tcmd a, b;
    start_tagged(&r, &a, r.s1, 1, 11, SCSI_TASK_SIMPLE);
    start_tagged(&r, &b, r.s1, 2, 12, SCSI_TASK_SIMPLE);
    int resp = -1;
    scst_tmf(r.s1, SCST_TMF_ABORT_TASK, 0, 12, tmf_cb, &resp);
    mte_run_until(r.e, mte_now(r.e) + MTE_MSEC);
    assert_int_equal(resp, -1);              /* waits for the bio */
    assert_int_equal(b.done, 0);
    mte_run_until_idle(r.e);
    assert_int_equal(resp, SCST_TMF_COMPLETE);
    assert_false(finished_aborted(&a));
    assert_true(finished_aborted(&b));
    scst_tmf(r.s1, SCST_TMF_ABORT_TASK, 0, 99, tmf_cb, &resp);
    mte_run_until_idle(r.e);
    assert_int_equal(resp, SCST_TMF_NO_TASK);
    scst_tmf(r.s1, SCST_TMF_ABORT_TASK_SET, 9, 0, tmf_cb, &resp);
    mte_run_until_idle(r.e);
    assert_int_equal(resp, SCST_TMF_NO_LUN);
    scst_tmf(r.s1, SCST_TMF_CLEAR_ACA, 0, 0, tmf_cb, &resp);
    mte_run_until_idle(r.e);
    assert_int_equal(resp, SCST_TMF_NOT_SUPPORTED);
    rig_down(&r);
}

static void abort_task_before_exec(void **state)
{
    struct rig r;
    up_slow(&r, 10 * MTE_MSEC);
    /* parsed, data not yet received: the abort lands when exec (or release) comes */
    uint8_t c[16];
    cdb_rw16(c, 0x8a, 0, 1, 0);
    struct tcmd t;
    memset(&t, 0, sizeof(t));
    t.cmd.sess = r.s1;
    t.cmd.tag = 5;
    memcpy(t.cmd.cdb, c, 16);
    t.cmd.cdb_len = 16;
    t.cmd.expected_len = r.bs;
    t.cmd.done = tcmd_done;
    assert_int_equal(scst_cmd_parse(&t.cmd), 0);
    int resp = -1;
    scst_tmf(r.s1, SCST_TMF_ABORT_TASK, 0, 5, tmf_cb, &resp);
    mte_run_until_idle(r.e);
    assert_int_equal(resp, -1);
    t.cmd.received = t.cmd.data_len;
    scst_cmd_exec(&t.cmd);
    mte_run_until_idle(r.e);
    assert_int_equal(resp, SCST_TMF_COMPLETE);
    assert_true(finished_aborted(&t));
    rig_down(&r);
}

static void abort_task_set_and_clear_task_set(void **state)
{
    struct rig r;
    up_slow(&r, 10 * MTE_MSEC);
    struct tcmd t[4];
    start_read(&r, &t[0], r.s1, 1, 1, SCSI_TASK_SIMPLE);
    start_read(&r, &t[1], r.s1, 2, 2, SCSI_TASK_ORDERED); /* queued behind t[0] */
    start_read(&r, &t[2], r.s2, 3, 3, SCSI_TASK_SIMPLE);  /* queued behind the ORDERED one */
    int resp = -1;
    scst_tmf(r.s1, SCST_TMF_ABORT_TASK_SET, 0, 0, tmf_cb, &resp);
    mte_run_until_idle(r.e);
    assert_int_equal(resp, SCST_TMF_COMPLETE);
    assert_true(finished_aborted(&t[0]));
    assert_true(finished_aborted(&t[1]));
    assert_false(finished_aborted(&t[2]));               /* another nexus: untouched */
    /* CLEAR TASK SET with TAS=0: s2's commands end silently, s2 hears about it */
    start_read(&r, &t[0], r.s2, 1, 1, SCSI_TASK_SIMPLE);
    scst_tmf(r.s1, SCST_TMF_CLEAR_TASK_SET, 0, 0, tmf_cb, &resp);
    mte_run_until_idle(r.e);
    assert_true(finished_aborted(&t[0]));
    uint8_t tur[6] = {0};
    assert_sense(run_cmd(&r, r.s2, 0, tur, 6, NULL, 0), 0x6, 0x2f00);
    /* TAS=1: TASK ABORTED status instead */
    uint8_t ms[6] = {0x1a, 0x08, 0x0a, 0, 255, 0};
    struct res cur = run_cmd(&r, r.s1, 0, ms, 6, NULL, 0);
    uint8_t sel[16] = {0};
    memcpy(sel + 4, cur.data + 4, 12);
    res_free(&cur);
    sel[4] &= 0x7f;
    sel[4 + 5] |= 0x40;
    uint8_t msel[6] = {0x15, 0x10, 0, 0, 16, 0};
    expect_good(run_cmd(&r, r.s1, 0, msel, 6, sel, 16));
    clear_ua(&r, r.s2);
    start_read(&r, &t[0], r.s2, 1, 1, SCSI_TASK_SIMPLE);
    start_read(&r, &t[1], r.s1, 1, 2, SCSI_TASK_SIMPLE);
    scst_tmf(r.s1, SCST_TMF_CLEAR_TASK_SET, 0, 0, tmf_cb, &resp);
    mte_run_until_idle(r.e);
    assert_int_equal(finished_status(&t[0]), SAM_STAT_TASK_ABORTED);
    assert_true(finished_aborted(&t[1]));
    rig_down(&r);
}

/* ---- resets ------------------------------------------------------------------------------------ */

static void lun_reset_and_target_resets(void **state)
{
    struct rig r;
    up_slow(&r, 10 * MTE_MSEC);
    struct tcmd t[2];
    start_read(&r, &t[0], r.s1, 1, 1, SCSI_TASK_SIMPLE);
    start_read(&r, &t[1], r.s2, 1, 2, SCSI_TASK_SIMPLE);
    int resp = -1;
    scst_tmf(r.s1, SCST_TMF_LUN_RESET, 0, 0, tmf_cb, &resp);
    mte_run_until_idle(r.e);
    assert_int_equal(resp, SCST_TMF_COMPLETE);
    assert_true(finished_aborted(&t[0]));
    assert_true(finished_aborted(&t[1]));
    uint8_t tur[6] = {0};
    assert_sense(run_cmd(&r, r.s1, 0, tur, 6, NULL, 0), 0x6, 0x2903);
    assert_sense(run_cmd(&r, r.s2, 0, tur, 6, NULL, 0), 0x6, 0x2903);
    expect_good(run_cmd(&r, r.s1, 0, tur, 6, NULL, 0));
    scst_tmf(r.s2, SCST_TMF_TARGET_WARM_RESET, 0, 0, tmf_cb, &resp);
    mte_run_until_idle(r.e);
    assert_sense(run_cmd(&r, r.s1, 0, tur, 6, NULL, 0), 0x6, 0x2902);
    scst_tmf(r.s2, SCST_TMF_TARGET_COLD_RESET, 0, 0, tmf_cb, &resp);
    mte_run_until_idle(r.e);
    assert_sense(run_cmd(&r, r.s1, 0, tur, 6, NULL, 0), 0x6, 0x2901);
    rig_down(&r);
}

/* ---- task attributes ----------------------------------------------------------------------------- */

static void ordered_waits_and_blocks(void **state)
{
    struct rig r;
    up_slow(&r, 10 * MTE_MSEC);
    struct tcmd t[5];
    start_read(&r, &t[0], r.s1, 1, 1, SCSI_TASK_SIMPLE);
    start_read(&r, &t[1], r.s2, 2, 2, SCSI_TASK_SIMPLE);
    start_read(&r, &t[2], r.s1, 3, 3, SCSI_TASK_ORDERED);
    start_read(&r, &t[3], r.s2, 4, 4, SCSI_TASK_SIMPLE);
    start_read(&r, &t[4], r.s1, 5, 5, SCSI_TASK_HEAD_OF_QUEUE);
    struct scst_lun_stats st;
    scst_device_stats(scst_device_find(r.core, "disk0"), &st);
    assert_int_equal(st.in_flight, 5);
    /* one latency: the two SIMPLE and the HEAD OF QUEUE ones */
    mte_run_until(r.e, mte_now(r.e) + 10 * MTE_MSEC + 1);
    assert_int_equal(t[0].done + t[1].done + t[4].done, 3);
    assert_int_equal(t[2].done + t[3].done, 0);
    /* the ORDERED one ran alone, then the SIMPLE one after it */
    mte_run_until(r.e, mte_now(r.e) + 10 * MTE_MSEC);
    assert_int_equal(t[2].done, 1);
    assert_int_equal(t[3].done, 0);
    mte_run_until_idle(r.e);
    for (int i = 0; i < 5; i++)
        assert_int_equal(finished_status(&t[i]), SAM_STAT_GOOD);
    rig_down(&r);
}

static void many_in_flight(void **state)
{
    struct rig r;
    up_slow(&r, 1 * MTE_MSEC);
    enum { N = 128 };
    struct tcmd *t = calloc(N, sizeof(*t));
    uint8_t *buf = malloc(r.bs);
    for (int i = 0; i < N; i++) {
        uint8_t c[16];
        memset(buf, i, r.bs);
        cdb_rw16(c, (i & 1) ? 0x88 : 0x8a, (uint64_t)i, 1, 0);
        assert_int_equal(tcmd_start(&t[i], i % 3 ? r.s1 : r.s2, 0, c, 16, (i & 1) ? NULL : buf,
                                    r.bs, SCSI_TASK_SIMPLE), 0);
    }
    mte_time_t t0 = mte_now(r.e);
    mte_run_until_idle(r.e);
    assert_true(mte_now(r.e) - t0 < 10 * MTE_MSEC); /* concurrent, not one after another */
    for (int i = 0; i < N; i++)
        assert_int_equal(finished_status(&t[i]), SAM_STAT_GOOD);
    struct res res = read16(&r, r.s1, 64, 1);
    assert_int_equal(res.data[0], 64);
    res_free(&res);
    free(buf);
    free(t);
    rig_down(&r);
}

/* QErr=01: a CHECK CONDITION aborts the rest of the task set. */
static void qerr_aborts_on_check_condition(void **state)
{
    struct rig r;
    up_slow(&r, 10 * MTE_MSEC);
    uint8_t ms[6] = {0x1a, 0x08, 0x0a, 0, 255, 0};
    struct res cur = run_cmd(&r, r.s1, 0, ms, 6, NULL, 0);
    uint8_t sel[16] = {0};
    memcpy(sel + 4, cur.data + 4, 12);
    res_free(&cur);
    sel[4] &= 0x7f;
    sel[4 + 3] = (uint8_t)((sel[4 + 3] & ~0x06) | 0x02);
    uint8_t msel[6] = {0x15, 0x10, 0, 0, 16, 0};
    expect_good(run_cmd(&r, r.s1, 0, msel, 6, sel, 16));
    clear_ua(&r, r.s2);
    simdisk_fail_range(r.m, 0, r.bs, 1);
    struct tcmd t[2];
    start_read(&r, &t[0], r.s1, 0, 1, SCSI_TASK_SIMPLE);  /* fails */
    start_read(&r, &t[1], r.s1, 5, 2, SCSI_TASK_ORDERED); /* queued: aborted by QErr */
    mte_run_until_idle(r.e);
    assert_int_equal(finished_status(&t[0]), SAM_STAT_CHECK_CONDITION);
    assert_true(finished_aborted(&t[1]));
    rig_down(&r);
}

/* ---- session close --------------------------------------------------------------------------------- */

static void session_close_with_commands_in_flight(void **state)
{
    struct rig r;
    up_slow(&r, 10 * MTE_MSEC);
    struct tcmd t[3];
    start_read(&r, &t[0], r.s1, 1, 1, SCSI_TASK_SIMPLE);
    start_read(&r, &t[1], r.s1, 2, 2, SCSI_TASK_ORDERED);
    /* a third one parsed, still waiting for data when the nexus goes */
    uint8_t c[16];
    cdb_rw16(c, 0x8a, 0, 1, 0);
    memset(&t[2], 0, sizeof(t[2]));
    t[2].cmd.sess = r.s1;
    memcpy(t[2].cmd.cdb, c, 16);
    t[2].cmd.cdb_len = 16;
    t[2].cmd.expected_len = r.bs;
    t[2].cmd.done = tcmd_done;
    assert_int_equal(scst_cmd_parse(&t[2].cmd), 0);
    int closed = 0;
    scst_session_close(r.s1, closed_cb, &closed);
    r.s1 = NULL;
    mte_run_until(r.e, mte_now(r.e) + MTE_MSEC);
    assert_int_equal(closed, 0);               /* the read is still on the disk */
    assert_int_equal(t[1].done, 1);            /* the queued one ended at once */
    mte_run_until_idle(r.e);
    assert_int_equal(closed, 1);
    assert_int_equal(t[0].done, 1);
    struct res res;
    tcmd_finish(&t[0], &res);
    res_free(&res);
    tcmd_finish(&t[1], &res);
    res_free(&res);
    scst_cmd_release(&t[2].cmd);               /* after the session is gone */
    rig_down(&r);
}

/* ---- the bdev lifecycle ----------------------------------------------------------------------------- */

struct fake {
    struct umc_bdev b;
    bool refuse_writers;
    bool refuse_all;           /* e.g. a drbd device that is Secondary and diskless */
    uint8_t *data;
};

static void fake_submit(struct umc_bdev *b, struct umc_bio *bio)
{
    struct fake *f = b->priv;
    if (bio->op == UMC_OP_READ)
        umc_iov_from_buf(bio->iov, bio->iovcnt, 0, f->data + bio->offset, bio->length);
    else if (bio->op == UMC_OP_WRITE)
        umc_iov_to_buf(bio->iov, bio->iovcnt, 0, f->data + bio->offset, bio->length);
    umc_bio_complete(bio, 0);
}

static int fake_open(struct umc_bdev *b, bool write)
{
    struct fake *f = b->priv;
    if (f->refuse_all)
        return -EMEDIUMTYPE;
    return write && f->refuse_writers ? -EROFS : 0;
}

static const struct umc_bdev_ops fake_ops = {.submit = fake_submit, .open = fake_open};

static void device_opens_with_sessions_and_falls_back_read_only(void **state)
{
    struct rig r;
    rig_up(&r, NULL);
    struct umc_bdev *ram = tcmu_dev_bdev(r.td);
    assert_int_equal(ram->openers, 1);         /* two sessions, one open */
    assert_int_equal(ram->writers, 1);
    rig_close_session(&r, &r.s1);
    assert_int_equal(ram->openers, 1);
    rig_close_session(&r, &r.s2);
    assert_int_equal(ram->openers, 0);         /* the last session closed it */
    /* a Secondary-like device: read-only until it takes writers */
    struct fake f = {.refuse_writers = true, .data = calloc(1, 1 * MIB)};
    snprintf(f.b.name, sizeof(f.b.name), "drbd1");
    f.b.size = 1 * MIB;
    f.b.block_size = 512;
    f.b.ops = &fake_ops;
    f.b.priv = &f;
    assert_int_equal(umc_bdev_register(r.n, &f.b), 0);
    struct scst_device_opts d = {.name = "rep", .bdev = "/UMCfuse/dev/drbd1"};
    assert_int_equal(scst_device_add(r.core, &d, NULL, 0), 0);
    assert_int_equal(scst_lun_add(r.core, TGT, NULL, 1, "rep", false), 0);
    int err;
    r.s1 = scst_session_new(r.core, TGT, INI1, PORT1, 1, &err);
    clear_ua(&r, r.s1);
    assert_int_equal(f.b.openers, 1);
    assert_int_equal(f.b.writers, 0);
    uint8_t w[16], buf[512] = {1};
    cdb_rw16(w, 0x8a, 0, 1, 0);
    uint8_t tur[6] = {0};
    struct res res = run_cmd(&r, r.s1, 1, tur, 6, NULL, 0);
    res_free(&res);
    assert_sense(run_cmd(&r, r.s1, 1, w, 16, buf, 512), 0x7, 0x2700);
    uint8_t rd[16];
    cdb_rw16(rd, 0x88, 0, 1, 0);
    expect_good(run_cmd(&r, r.s1, 1, rd, 16, NULL, 0));
    /* promoted: the next write takes the write open */
    f.refuse_writers = false;
    expect_good(run_cmd(&r, r.s1, 1, w, 16, buf, 512));
    assert_int_equal(f.b.writers, 1);
    rig_close_session(&r, &r.s1);
    assert_int_equal(f.b.openers, 0);
    assert_int_equal(scst_lun_remove(r.core, TGT, NULL, 1), 0);
    assert_int_equal(scst_device_remove(r.core, "rep"), 0);
    assert_int_equal(umc_bdev_unregister(r.n, &f.b), 0);
    free(f.data);
    rig_down(&r);
}

/* A bdev refusing every open: the LU reports NOT READY (no crash), and
 * comes up as soon as the bdev accepts an open. */
static void device_refusing_every_open_is_not_ready(void **state)
{
    struct rig r;
    rig_up(&r, NULL);
    struct fake f = {.refuse_all = true, .data = calloc(1, 1 * MIB)};
    snprintf(f.b.name, sizeof(f.b.name), "drbd2");
    f.b.size = 1 * MIB;
    f.b.block_size = 512;
    f.b.ops = &fake_ops;
    f.b.priv = &f;
    assert_int_equal(umc_bdev_register(r.n, &f.b), 0);
    struct scst_device_opts d = {.name = "down", .bdev = "drbd2"};
    assert_int_equal(scst_device_add(r.core, &d, NULL, 0), 0);
    assert_int_equal(scst_lun_add(r.core, TGT, NULL, 1, "down", false), 0);
    clear_ua(&r, r.s1);
    uint8_t tur[6] = {0};
    assert_sense(run_cmd(&r, r.s1, 1, tur, 6, NULL, 0), 0x6, 0x3f0e); /* the new LUN */
    assert_sense(run_cmd(&r, r.s1, 1, tur, 6, NULL, 0), 0x2, 0x0400);
    uint8_t rd[16];
    cdb_rw16(rd, 0x88, 0, 1, 0);
    assert_sense(run_cmd(&r, r.s1, 1, rd, 16, NULL, 0), 0x2, 0x0400);
    uint8_t inq[6] = {0x12, 0, 0, 0, 96, 0};
    expect_good(run_cmd(&r, r.s1, 1, inq, 6, NULL, 0));   /* INQUIRY still answers */
    assert_int_equal(f.b.openers, 0);
    f.refuse_all = false;
    expect_good(run_cmd(&r, r.s1, 1, tur, 6, NULL, 0));
    expect_good(run_cmd(&r, r.s1, 1, rd, 16, NULL, 0));
    assert_int_equal(f.b.openers, 1);
    rig_close_session(&r, &r.s1);
    rig_close_session(&r, &r.s2);
    assert_int_equal(f.b.openers, 0);
    assert_int_equal(scst_lun_remove(r.core, TGT, NULL, 1), 0);
    assert_int_equal(scst_device_remove(r.core, "down"), 0);
    assert_int_equal(umc_bdev_unregister(r.n, &f.b), 0);
    free(f.data);
    rig_down(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(abort_task_in_flight),
        cmocka_unit_test(abort_task_before_exec),
        cmocka_unit_test(abort_task_set_and_clear_task_set),
        cmocka_unit_test(lun_reset_and_target_resets),
        cmocka_unit_test(ordered_waits_and_blocks),
        cmocka_unit_test(many_in_flight),
        cmocka_unit_test(qerr_aborts_on_check_condition),
        cmocka_unit_test(session_close_with_commands_in_flight),
        cmocka_unit_test(device_opens_with_sessions_and_falls_back_read_only),
        cmocka_unit_test(device_refusing_every_open_is_not_ready),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
