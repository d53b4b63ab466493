/* scst: what one CDB may make the target allocate, and the data buffer cache.
 *
 * An ALLOCATION LENGTH says how much the initiator can take, not how much the
 * target must set aside: every command answered from memory sizes its buffer
 * by the longest answer it can build (the fuzzer's READ DEFECT DATA(12) asked
 * for 4 GB).  A TRANSFER LENGTH above the MAXIMUM TRANSFER LENGTH of VPD page
 * B0h is INVALID FIELD IN CDB before anything is allocated.  Data buffers come
 * from a per-core cache by power-of-two class and never show an earlier
 * command's bytes. */
#include "tests/unit/test_scst_rig.h"

#include "umc/umc.h"

#define BIG32 0xffffffffu

struct sized {
    struct res res;
    uint32_t data_len;     /* what parse sized the data-in buffer to */
    size_t grew;           /* node memory held by the command while it ran */
};

/* Parse and exec a data-in command with a huge allocation length, noting
 * what parse asked for and how much memory the node gained meanwhile. */
static struct sized run_sized(struct rig *r, struct scst_session *s, uint64_t lun, const uint8_t *cdb,
                              unsigned cdb_len)
{
    struct sized out;
    memset(&out, 0, sizeof(out));
    struct tcmd *t = calloc(1, sizeof(*t));
    size_t before = umc_live_bytes(r->n);
    int rc = tcmd_start(t, s, lun, cdb, cdb_len, NULL, 0, SCSI_TASK_SIMPLE);
    size_t during = umc_live_bytes(r->n);
    out.grew = during > before ? during - before : 0;
    out.data_len = t->cmd.data_len;
    if (rc == 0) {
        mte_run_until_idle(r->e);
        assert_int_equal(t->done, 1);
    }
    tcmd_finish(t, &out.res);
    out.res.parse_rc = rc;
    free(t);
    return out;
}

/* GOOD, at most max bytes set aside, and an answer of exactly want bytes. */
static void expect_capped(struct sized z, uint32_t max, uint32_t want)
{
    assert_good(z.res);
    assert_true(z.data_len <= max);
    assert_true(z.grew < 256 * 1024);
    assert_int_equal(z.res.len, want);
    res_free(&z.res);
}

static struct rig *up(struct rig *r, bool thin)
{
    struct rig_opts o = {.thin = thin, .size = 64 * MIB};
    rig_up(r, &o);
    clear_ua(r, r->s1);
    clear_ua(r, r->s2);
    return r;
}

/* ---- allocation lengths, family by family ---------------------------------------------------- */

/* The fuzzer's input: READ DEFECT DATA(12) with an allocation length of 4 GB. */
static void read_defect_data_fuzz_reproducer(void **state)
{
    struct rig r;
    up(&r, false);
    uint8_t rdd12[12] = {0xb7, 0x00, 0x00, 0x00, 0x00, 0x08, 0xf7, 0xff, 0x00, 0x01, 0x00, 0x00};
    struct sized z = run_sized(&r, r.s1, 0, rdd12, 12);
    assert_int_equal(z.data_len, 8); /* the header: the list is empty */
    assert_int_equal(rd32(z.res.data + 4), 0);
    expect_capped(z, 8, 8);
    uint8_t rdd10[10] = {0x37, 0, 0x18, 0, 0, 0, 0, 0xff, 0xff, 0};
    z = run_sized(&r, r.s1, 0, rdd10, 10);
    assert_int_equal(z.res.data[1], 0x18);
    expect_capped(z, 4, 4);
    rig_down(&r);
}

static void inquiry_and_vpd(void **state)
{
    struct rig r;
    up(&r, false);
    uint8_t inq[6] = {0x12, 0, 0, 0xff, 0xff, 0};
    expect_capped(run_sized(&r, r.s1, 0, inq, 6), 96, 96);
    static const uint8_t pages[] = {0x00, 0x80, 0x83, 0x86, 0x8f, 0xb0, 0xb1, 0xb2};
    for (size_t i = 0; i < sizeof(pages); i++) {
        uint8_t vpd[6] = {0x12, 0x01, pages[i], 0xff, 0xff, 0};
        struct sized z = run_sized(&r, r.s1, 0, vpd, 6);
        assert_non_null(z.res.data);
        uint32_t page_len = 4u + rd16(z.res.data + 2);
        expect_capped(z, 1024, page_len);
    }
    /* an unmapped LUN answers too, with the same bound */
    expect_capped(run_sized(&r, r.s1, 5, inq, 6), 96, 96);
    uint8_t rs[6] = {0x03, 0, 0, 0, 0xff, 0};
    struct sized z = run_sized(&r, r.s1, 0, rs, 6);
    assert_true(z.data_len <= SCSI_SENSE_MAX);
    assert_good(z.res);
    res_free(&z.res);
    rig_down(&r);
}

static void mode_sense(void **state)
{
    struct rig r;
    up(&r, false);
    uint8_t ms10[10] = {0x5a, 0x10, 0x3f, 0xff, 0, 0, 0, 0xff, 0xff, 0};
    struct sized z = run_sized(&r, r.s1, 0, ms10, 10);
    assert_non_null(z.res.data);
    expect_capped(z, 512, 2u + rd16(z.res.data));
    uint8_t ms6[6] = {0x1a, 0, 0x3f, 0xff, 0xff, 0};
    z = run_sized(&r, r.s1, 0, ms6, 6);
    assert_non_null(z.res.data);
    expect_capped(z, 512, 1u + z.res.data[0]);
    rig_down(&r);
}

static void report_luns_rsoc_maintenance_in(void **state)
{
    struct rig r;
    up(&r, false);
    uint8_t rl[12] = {0xa0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0};
    struct sized z = run_sized(&r, r.s1, 0, rl, 12);
    assert_true(z.data_len <= 8 + 8 * 16384);
    expect_capped(z, 8 + 8 * 16384, 16);
    uint8_t rsoc[12] = {0xa3, 0x0c, 0x80, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0};
    z = run_sized(&r, r.s1, 0, rsoc, 12);
    assert_non_null(z.res.data);
    expect_capped(z, 64 * 1024, 4 + rd32(z.res.data));
    uint8_t rsoc1[12] = {0xa3, 0x0c, 0x01, 0x28, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0};
    expect_capped(run_sized(&r, r.s1, 0, rsoc1, 12), 32, 4 + 10);
    uint8_t rtpg[12] = {0xa3, 0x0a, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0};
    z = run_sized(&r, r.s1, 0, rtpg, 12);
    assert_non_null(z.res.data);
    expect_capped(z, 8 + 8 + 4 * 64, 4 + rd32(z.res.data));
    uint8_t tmfs[12] = {0xa3, 0x0d, 0x80, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0};
    expect_capped(run_sized(&r, r.s1, 0, tmfs, 12), 16, 16);
    rig_down(&r);
}

static void read_capacity_and_lba_status(void **state)
{
    struct rig r;
    up(&r, true);
    uint8_t rc16[16] = {0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0};
    expect_capped(run_sized(&r, r.s1, 0, rc16, 16), 32, 32);
    uint8_t gls[16] = {0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0};
    struct sized z = run_sized(&r, r.s1, 0, gls, 16);
    assert_non_null(z.res.data);
    expect_capped(z, 8 + 16 * 1024, 4 + rd32(z.res.data));
    rig_down(&r);
}

static void copy_results_and_prin(void **state)
{
    struct rig r;
    up(&r, false);
    uint8_t op[16] = {0x84, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0};
    struct sized z = run_sized(&r, r.s1, 0, op, 16);
    assert_non_null(z.res.data);
    expect_capped(z, 64, 4 + rd32(z.res.data));
    /* register one key, then each PRIN service action with the largest allocation length */
    uint8_t reg[10] = {0x5f, 0x00, 0, 0, 0, 0, 0, 0, 24, 0};
    uint8_t param[24] = {0};
    be64(param + 8, 0x1234);
    expect_good(run_cmd(&r, r.s1, 0, reg, 10, param, 24));
    static const uint32_t want[] = {8 + 8, 8, 8, 0};
    for (uint8_t sa = 0; sa < 4; sa++) {
        uint8_t prin[10] = {0x5e, sa, 0, 0, 0, 0, 0, 0xff, 0xff, 0};
        z = run_sized(&r, r.s1, 0, prin, 10);
        assert_non_null(z.res.data);
        uint32_t len = sa == 2 ? rd16(z.res.data) : 8 + rd32(z.res.data + 4);
        if (want[sa])
            assert_int_equal(len, want[sa]);
        expect_capped(z, 8 + 128 * (24 + 4 + 260), len);
    }
    rig_down(&r);
}

/* ---- transfer lengths ---------------------------------------------------------------------------- */

/* MAXIMUM TRANSFER LENGTH from VPD B0h. */
static uint32_t max_transfer_blocks(struct rig *r)
{
    uint8_t b0[6] = {0x12, 0x01, 0xb0, 0, 64, 0};
    struct res res = run_cmd(r, r->s1, 0, b0, 6, NULL, 0);
    assert_good(res);
    uint32_t max = rd32(res.data + 8);
    res_free(&res);
    return max;
}

static void transfer_length_for(uint32_t bs)
{
    struct rig r;
    struct rig_opts o = {.size = 128 * MIB, .block_size = bs};
    rig_up(&r, &o);
    clear_ua(&r, r.s1);
    uint32_t max = max_transfer_blocks(&r);
    assert_true(max > 0 && (uint64_t)max * bs <= 64 * MIB && max < r.nblocks);
    /* READ/WRITE/VERIFY/WRITE AND VERIFY/ORWRITE (16) with max + 1 blocks: byte 10 is wrong */
    static const uint8_t ops16[] = {0x88, 0x8a, 0x8f, 0x8e, 0x8b};
    for (size_t i = 0; i < sizeof(ops16); i++) {
        uint8_t c[16];
        cdb_rw16(c, ops16[i], 0, max + 1, ops16[i] == 0x8f ? 0x02 : 0);
        size_t before = umc_live_bytes(r.n);
        struct sized z = run_sized(&r, r.s1, 0, c, 16);
        assert_int_not_equal(z.res.parse_rc, 0);
        assert_sense_(&z.res, 0x5, 0x2400, __FILE__, __LINE__);
        assert_int_equal(z.res.sense[15], 0x80 | 0x40 | 0x08 | 7); /* SKSV, C/D, BPV, bit 7 */
        assert_int_equal(rd16(z.res.sense + 16), 10);              /* the TRANSFER LENGTH field */
        assert_true(z.grew < 64 * 1024);
        assert_true(umc_live_bytes(r.n) <= before + 64 * 1024);
        res_free(&z.res);
    }
    /* READ(12) with the largest transfer length: nothing is allocated for it */
    uint8_t r12[12] = {0xa8, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0};
    struct sized z = run_sized(&r, r.s1, 0, r12, 12);
    assert_sense_(&z.res, 0x5, 0x2400, __FILE__, __LINE__);
    assert_int_equal(rd16(z.res.sense + 16), 6);
    assert_true(z.grew < 64 * 1024);
    res_free(&z.res);
    /* WRITE ATOMIC(16): the length is at byte 12 */
    if (max + 1 <= 0xffff) {
        uint8_t wa[16] = {0x9c};
        be16(wa + 12, (uint16_t)(max + 1));
        z = run_sized(&r, r.s1, 0, wa, 16);
        assert_sense_(&z.res, 0x5, 0x2400, __FILE__, __LINE__);
        assert_int_equal(rd16(z.res.sense + 16), 12);
        res_free(&z.res);
    }
    /* exactly the limit is fine */
    struct res res = read16(&r, r.s1, 0, max);
    assert_good(res);
    assert_int_equal(res.len, max * bs);
    res_free(&res);
    rig_down(&r);
}

static void transfer_length_above_the_limit(void **state)
{
    transfer_length_for(512);
    transfer_length_for(4096);
}

/* ---- the buffer cache --------------------------------------------------------------------------- */

/* A second 1 MiB READ reuses the first one's buffer: no new allocation. */
static void buffers_are_recycled(void **state)
{
    struct rig r;
    up(&r, false);
    uint32_t n = (uint32_t)(MIB / r.bs);
    struct res res = read16(&r, r.s1, 0, n);
    assert_good(res);
    res_free(&res);
    size_t allocs = umc_live_allocs(r.n), bytes = umc_live_bytes(r.n);
    for (int i = 0; i < 4; i++) {
        res = read16(&r, r.s1, (uint64_t)i * n, n);
        assert_good(res);
        assert_int_equal(res.len, MIB);
        res_free(&res);
        assert_int_equal(umc_live_allocs(r.n), allocs);
        assert_int_equal(umc_live_bytes(r.n), bytes);
    }
    rig_down(&r); /* umc_node_free reports no leak: the cache went with the core */
}

/* Many buffers at once: what stays cached afterwards is bounded. */
static void cache_budget_is_bounded(void **state)
{
    struct rig r;
    up(&r, false);
    enum { N = 80 };
    uint32_t n = (uint32_t)(MIB / r.bs);
    struct tcmd *t = calloc(N, sizeof(*t));
    size_t base = umc_live_bytes(r.n);
    for (int i = 0; i < N; i++) {
        uint8_t c[16];
        cdb_rw16(c, 0x88, (uint64_t)(i % 32) * n, n, 0);
        assert_int_equal(tcmd_start(&t[i], r.s1, 0, c, 16, NULL, 0, SCSI_TASK_SIMPLE), 0);
    }
    mte_run_until_idle(r.e);
    for (int i = 0; i < N; i++) {
        struct res res;
        assert_int_equal(t[i].done, 1);
        tcmd_finish(&t[i], &res);
        assert_good(res);
        res_free(&res);
    }
    free(t);
    size_t kept = umc_live_bytes(r.n) - base;
    assert_true(kept <= (64u << 20) + 64 * 1024);
    assert_true(kept >= (32u << 20)); /* and it does keep buffers */
    rig_down(&r);
}

/* A short WRITE runs on the blocks that arrived: the rest of a recycled
 * buffer (another command's data) never reaches the medium, and a failed
 * or short READ sends nothing it did not read. */
static void recycled_buffers_never_leak_data(void **state)
{
    struct rig r;
    up(&r, false);
    uint32_t bs = r.bs;
    uint8_t *secret = malloc(2 * bs);
    memset(secret, 0xa5, 2 * bs);
    expect_good(write16(&r, r.s1, 100, 2, secret)); /* an 8 KiB buffer full of 0xa5 is cached */
    uint8_t *mine = calloc(1, bs);
    memset(mine, 0x11, bs);
    uint8_t c[16];
    cdb_rw16(c, 0x8a, 10, 2, 0);                 /* two blocks announced, one sent */
    struct res res = run_cmd(&r, r.s2, 0, c, 16, mine, bs);
    assert_good(res);
    res_free(&res);
    res = read16(&r, r.s2, 10, 2);
    assert_good(res);
    assert_memory_equal(res.data, mine, bs);
    for (uint32_t i = 0; i < bs; i++)
        assert_int_equal(res.data[bs + i], 0);   /* untouched, not 0xa5 */
    res_free(&res);
    /* a READ past the end fails with nothing to send */
    res = read16(&r, r.s2, r.nblocks - 1, 2);
    assert_int_equal(res.status, SAM_STAT_CHECK_CONDITION);
    assert_int_equal(res.len, 0);
    res_free(&res);
    /* an answer built in memory is exactly its length, whatever the buffer held */
    uint8_t inq[6] = {0x12, 0, 0, 0x10, 0x00, 0};
    res = run_cmd(&r, r.s2, 0, inq, 6, NULL, 0);
    assert_good(res);
    assert_int_equal(res.len, 96);
    res_free(&res);
    free(mine);
    free(secret);
    rig_down(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(read_defect_data_fuzz_reproducer),
        cmocka_unit_test(inquiry_and_vpd),
        cmocka_unit_test(mode_sense),
        cmocka_unit_test(report_luns_rsoc_maintenance_in),
        cmocka_unit_test(read_capacity_and_lba_status),
        cmocka_unit_test(copy_results_and_prin),
        cmocka_unit_test(transfer_length_above_the_limit),
        cmocka_unit_test(buffers_are_recycled),
        cmocka_unit_test(cache_budget_is_bounded),
        cmocka_unit_test(recycled_buffers_never_leak_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
