/* scst: the SBC command families beyond plain READ/WRITE: VERIFY, WRITE AND
 * VERIFY, COMPARE AND WRITE, ORWRITE, WRITE ATOMIC, SYNCHRONIZE CACHE,
 * PRE-FETCH, READ DEFECT DATA, removable media, write protection, MODE
 * SELECT, and bdev errors mapped to sense. */
#include "tests/unit/test_scst_rig.h"

static uint8_t *pattern(struct rig *r, uint32_t blocks, uint8_t seed)
{
    uint8_t *b = malloc(blocks * r->bs);
    for (uint32_t i = 0; i < blocks * r->bs; i++)
        b[i] = (uint8_t)(seed + i * 13);
    return b;
}

static struct rig *up(struct rig *r, const struct rig_opts *o)
{
    rig_up(r, o);
    clear_ua(r, r->s1);
    clear_ua(r, r->s2);
    return r;
}

/* ---- VERIFY, WRITE AND VERIFY ----------------------------------------------------------------- */

static void verify_bytchk(void **state)
{
    struct rig r;
    up(&r, NULL);
    uint8_t *b = pattern(&r, 4, 1);
    expect_good(write16(&r, r.s1, 10, 4, b));
    uint8_t c[16];
    cdb_rw16(c, 0x8f, 10, 4, 0x10);          /* BYTCHK 0, DPO: medium verify */
    expect_good(run_cmd(&r, r.s1, 0, c, 16, NULL, 0));
    cdb_rw16(c, 0x8f, 10, 4, 0x02);          /* BYTCHK 1 */
    expect_good(run_cmd(&r, r.s1, 0, c, 16, b, 4 * r.bs));
    b[2 * r.bs + 5] ^= 0xff;
    struct res res = run_cmd(&r, r.s1, 0, c, 16, b, 4 * r.bs);
    assert_int_equal(res.sense[0] & 0x80, 0x80);  /* VALID */
    assert_int_equal(rd32(res.sense + 3), 2 * r.bs + 5);
    assert_sense(res, 0xe, 0x1d00);
    /* BYTCHK 3: every block against the one sent */
    uint8_t *same = malloc(4 * r.bs);
    for (int i = 0; i < 4; i++)
        memcpy(same + i * r.bs, b, r.bs);
    expect_good(write16(&r, r.s1, 20, 4, same));
    cdb_rw16(c, 0x8f, 20, 4, 0x06);
    expect_good(run_cmd(&r, r.s1, 0, c, 16, b, r.bs));
    cdb_rw16(c, 0x8f, 20, 4, 0x04);          /* BYTCHK 2 is reserved */
    assert_sense(run_cmd(&r, r.s1, 0, c, 16, NULL, 0), 0x5, 0x2400);
    cdb_rw10(c, 0x2f, (uint32_t)r.nblocks, 1, 0);
    assert_sense(run_cmd(&r, r.s1, 0, c, 10, NULL, 0), 0x5, 0x2100);
    cdb_rw10(c, 0x2f, 0, 0, 0x02);           /* zero blocks */
    expect_good(run_cmd(&r, r.s1, 0, c, 10, NULL, 0));
    free(same);
    free(b);
    rig_down(&r);
}

static void write_and_verify(void **state)
{
    struct rig r;
    up(&r, NULL);
    uint8_t *b = pattern(&r, 3, 9);
    uint8_t c[16];
    cdb_rw16(c, 0x8e, 40, 3, 0x12);          /* DPO, BYTCHK */
    expect_good(run_cmd(&r, r.s1, 0, c, 16, b, 3 * r.bs));
    struct res res = read16(&r, r.s1, 40, 3);
    assert_memory_equal(res.data, b, 3 * r.bs);
    res_free(&res);
    uint8_t c12[12] = {0xae, 0, 0, 0, 0, 50, 0, 0, 0, 1, 0, 0};
    expect_good(run_cmd(&r, r.s1, 0, c12, 12, b, r.bs));
    free(b);
    rig_down(&r);
}

/* ---- COMPARE AND WRITE ------------------------------------------------------------------------ */

static struct res caw(struct rig *r, struct scst_session *s, uint64_t lba, uint8_t n, const uint8_t *cmp,
                      const uint8_t *wr)
{
    uint8_t c[16] = {0x89};
    be64(c + 2, lba);
    c[13] = n;
    uint8_t *buf = malloc(2 * n * r->bs + 1);
    memcpy(buf, cmp, n * r->bs);
    memcpy(buf + n * r->bs, wr, n * r->bs);
    struct res res = run_cmd(r, s, 0, c, 16, buf, 2 * n * r->bs);
    free(buf);
    return res;
}

static void compare_and_write(void **state)
{
    struct rig r;
    up(&r, NULL);
    uint8_t *a = pattern(&r, 2, 'A'), *b = pattern(&r, 2, 'B');
    expect_good(write16(&r, r.s1, 7, 2, a));
    expect_good(caw(&r, r.s1, 7, 2, a, b));
    struct res res = read16(&r, r.s1, 7, 2);
    assert_memory_equal(res.data, b, 2 * r.bs);
    res_free(&res);
    /* miscompare: INFORMATION is the offset of the first differing byte; nothing written */
    res = caw(&r, r.s1, 7, 2, a, a);
    assert_int_equal(rd32(res.sense + 3), 0);
    assert_sense(res, 0xe, 0x1d00);
    uint8_t *b2 = malloc(2 * r.bs);
    memcpy(b2, b, 2 * r.bs);
    b2[r.bs + 100] ^= 1;
    res = caw(&r, r.s1, 7, 2, b2, a);
    assert_int_equal(rd32(res.sense + 3), r.bs + 100);
    assert_sense(res, 0xe, 0x1d00);
    res = read16(&r, r.s1, 7, 2);
    assert_memory_equal(res.data, b, 2 * r.bs);
    res_free(&res);
    /* zero blocks, beyond the end, data size mismatch */
    uint8_t c[16] = {0x89};
    expect_good(run_cmd(&r, r.s1, 0, c, 16, NULL, 0));
    be64(c + 2, r.nblocks - 1);
    c[13] = 2;
    assert_sense(run_cmd(&r, r.s1, 0, c, 16, b, 4 * r.bs), 0x5, 0x2100);
    be64(c + 2, 0);
    c[13] = 1;
    assert_sense(run_cmd(&r, r.s1, 0, c, 16, b, 4 * r.bs), 0x5, 0x2400);
    /* 256 blocks wrap the one-byte field to 0: a bad CDB, not an empty command */
    c[13] = 0;
    assert_sense(run_cmd(&r, r.s1, 0, c, 16, b, 4 * r.bs), 0x5, 0x2400);
    free(a);
    free(b);
    free(b2);
    rig_down(&r);
}

/* Many COMPARE AND WRITEs racing overlapping writes on a slow disk: each
 * CAW either sees the value it expects and replaces it atomically, or
 * miscompares; the final value is consistent with one serial order. */
static void compare_and_write_atomic_under_concurrency(void **state)
{
    struct rig r;
    struct rig_opts o = {.simdisk = true, .latency = 100 * MTE_USEC, .size = 16 * MIB};
    up(&r, &o);
    uint8_t *blk = calloc(1, 2 * r.bs);
    expect_good(write16(&r, r.s1, 5, 1, blk));
    enum { N = 24 };
    struct tcmd *t = calloc(N, sizeof(*t));
    /* CAW k expects counter value k and writes k+1; plain writes of 0xee interleave */
    for (int k = 0; k < N; k++) {
        if (k % 3 == 2) {
            memset(blk, 0xee, r.bs);
            uint8_t c[16];
            cdb_rw16(c, 0x8a, 5, 1, 0);
            assert_int_equal(tcmd_start(&t[k], r.s2, 0, c, 16, blk, r.bs, SCSI_TASK_SIMPLE), 0);
            continue;
        }
        uint8_t c[16] = {0x89};
        be64(c + 2, 5);
        c[13] = 1;
        memset(blk, 0, 2 * r.bs);
        blk[0] = (uint8_t)k;
        blk[r.bs] = (uint8_t)(k + 1);
        if (k == 0)
            blk[0] = 0;
        assert_int_equal(tcmd_start(&t[k], r.s1, 0, c, 16, blk, 2 * r.bs, SCSI_TASK_SIMPLE), 0);
    }
    mte_run_until_idle(r.e);
    int good = 0;
    for (int k = 0; k < N; k++) {
        assert_int_equal(t[k].done, 1);
        struct res res;
        tcmd_finish(&t[k], &res);
        if (k % 3 != 2 && res.status == SAM_STAT_GOOD)
            good++;
        assert_true(res.status == SAM_STAT_GOOD || res.status == SAM_STAT_CHECK_CONDITION);
        res_free(&res);
    }
    assert_true(good >= 1);
    struct res res = read16(&r, r.s1, 5, 1);
    /* whatever won last wrote a whole block: a counter or the 0xee fill, never a mix */
    bool fill = res.data[0] == 0xee;
    for (uint32_t i = 1; i < r.bs; i++)
        assert_int_equal(res.data[i], fill ? 0xee : 0);
    res_free(&res);
    free(t);
    free(blk);
    rig_down(&r);
}

/* ---- ORWRITE, WRITE ATOMIC ------------------------------------------------------------------- */

static void orwrite_and_write_atomic(void **state)
{
    struct rig r;
    up(&r, NULL);
    uint8_t *b = calloc(1, 2 * r.bs);
    expect_good(write16(&r, r.s1, 30, 2, b));
    memset(b, 0xa5, 2 * r.bs);
    uint8_t c[16];
    cdb_rw16(c, 0x8b, 30, 2, 0x08);
    expect_good(run_cmd(&r, r.s1, 0, c, 16, b, 2 * r.bs));
    memset(b, 0x5a, 2 * r.bs);
    expect_good(run_cmd(&r, r.s1, 0, c, 16, b, 2 * r.bs));
    struct res res = read16(&r, r.s1, 30, 2);
    for (uint32_t i = 0; i < 2 * r.bs; i++)
        assert_int_equal(res.data[i], 0xff);
    res_free(&res);
    /* WRITE ATOMIC(16): length in bytes 12-13, boundary must be 0 */
    uint8_t wa[16] = {0x9c, 0x08};
    be64(wa + 2, 60);
    be16(wa + 12, 2);
    expect_good(run_cmd(&r, r.s1, 0, wa, 16, b, 2 * r.bs));
    res = read16(&r, r.s1, 60, 2);
    assert_memory_equal(res.data, b, 2 * r.bs);
    res_free(&res);
    wa[10] = 1;
    assert_sense(run_cmd(&r, r.s1, 0, wa, 16, b, 2 * r.bs), 0x5, 0x2400);
    free(b);
    rig_down(&r);
}

/* ---- cache, prefetch, defects ----------------------------------------------------------------- */

static void sync_cache_prefetch_defects(void **state)
{
    struct rig r;
    up(&r, NULL);
    uint8_t c[16];
    cdb_rw10(c, 0x35, 0, 0, 0x02);
    expect_good(run_cmd(&r, r.s1, 0, c, 10, NULL, 0));
    cdb_rw16(c, 0x91, 0, 1, 0);
    expect_good(run_cmd(&r, r.s1, 0, c, 16, NULL, 0));
    cdb_rw16(c, 0x91, r.nblocks, 1, 0);
    assert_sense(run_cmd(&r, r.s1, 0, c, 16, NULL, 0), 0x5, 0x2100);
    cdb_rw10(c, 0x34, 0, 8, 0x02);
    expect_good(run_cmd(&r, r.s1, 0, c, 10, NULL, 0));
    cdb_rw16(c, 0x90, r.nblocks - 1, 2, 0);
    assert_sense(run_cmd(&r, r.s1, 0, c, 16, NULL, 0), 0x5, 0x2100);
    uint8_t d10[10] = {0x37, 0, 0x18 | 0x05, 0, 0, 0, 0, 0, 8, 0};
    struct res res = run_cmd(&r, r.s1, 0, d10, 10, NULL, 0);
    assert_good(res);
    assert_int_equal(res.len, 4);
    assert_int_equal(res.data[1], 0x1d);
    assert_int_equal(rd16(res.data + 2), 0);
    res_free(&res);
    uint8_t d12[12] = {0xb7, 0x08 | 0x03, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0};
    res = run_cmd(&r, r.s1, 0, d12, 12, NULL, 0);
    assert_int_equal(res.len, 8);
    assert_int_equal(res.data[1], 0x0b);
    res_free(&res);
    struct scst_lun_stats st;
    scst_device_stats(scst_device_find(r.core, "disk0"), &st);
    assert_int_equal(st.flushes, 2);
    rig_down(&r);
}

/* ---- removable medium ------------------------------------------------------------------------- */

static struct res ssu(struct rig *r, struct scst_session *s, uint8_t b4)
{
    uint8_t c[6] = {0x1b, 0, 0, 0, b4, 0};
    return run_cmd(r, s, 0, c, 6, NULL, 0);
}

static struct res prevent(struct rig *r, struct scst_session *s, uint8_t v)
{
    uint8_t c[6] = {0x1e, 0, 0, 0, v, 0};
    return run_cmd(r, s, 0, c, 6, NULL, 0);
}

static void removable_medium(void **state)
{
    struct rig r;
    struct rig_opts o = {.removable = true};
    up(&r, &o);
    uint8_t inq[6] = {0x12, 0, 0, 0, 36, 0};
    struct res res = run_cmd(&r, r.s1, 0, inq, 6, NULL, 0);
    assert_int_equal(res.data[1], 0x80);
    res_free(&res);
    uint8_t tur[6] = {0};
    expect_good(ssu(&r, r.s1, 0x02));            /* eject */
    assert_sense(run_cmd(&r, r.s1, 0, tur, 6, NULL, 0), 0x2, 0x3a00);
    assert_sense(read16(&r, r.s1, 0, 1), 0x2, 0x3a00);
    uint8_t rc10[10] = {0x25};
    assert_sense(run_cmd(&r, r.s1, 0, rc10, 10, NULL, 0), 0x2, 0x3a00);
    expect_good(ssu(&r, r.s1, 0x02));            /* eject again: fine */
    expect_good(ssu(&r, r.s1, 0x03));            /* load */
    expect_good(run_cmd(&r, r.s1, 0, tur, 6, NULL, 0));
    /* the other nexus learns the medium may have changed */
    assert_sense(run_cmd(&r, r.s2, 0, tur, 6, NULL, 0), 0x6, 0x2800);
    /* power conditions and LOEJ=0 move nothing */
    for (int pc = 1; pc < 16; pc++)
        expect_good(ssu(&r, r.s1, (uint8_t)(pc << 4 | 0x02)));
    expect_good(ssu(&r, r.s1, 0x00));
    expect_good(run_cmd(&r, r.s1, 0, tur, 6, NULL, 0));
    /* PREVENT, from either nexus, blocks ejection until both allow */
    expect_good(prevent(&r, r.s1, 1));
    expect_good(prevent(&r, r.s2, 1));
    assert_sense(ssu(&r, r.s1, 0x02), 0x5, 0x5302);
    expect_good(prevent(&r, r.s1, 0));
    assert_sense(ssu(&r, r.s2, 0x02), 0x5, 0x5302);
    assert_sense(prevent(&r, r.s1, 2), 0x5, 0x2400);
    /* nexus loss releases s2's prevention */
    rig_close_session(&r, &r.s2);
    expect_good(ssu(&r, r.s1, 0x02));
    expect_good(ssu(&r, r.s1, 0x03));
    rig_down(&r);
}

static void not_removable(void **state)
{
    struct rig r;
    up(&r, NULL);
    assert_sense(ssu(&r, r.s1, 0x02), 0x5, 0x2400);
    expect_good(ssu(&r, r.s1, 0x01));
    expect_good(prevent(&r, r.s1, 1));
    expect_good(prevent(&r, r.s1, 0));
    rig_down(&r);
}

/* ---- write protection -------------------------------------------------------------------------- */

static uint8_t mode_dsp(struct rig *r, struct scst_session *s)
{
    uint8_t c[6] = {0x1a, 0x08, 0x3f, 0, 255, 0};
    struct res res = run_cmd(r, s, 0, c, 6, NULL, 0);
    uint8_t v = res.data[2];
    res_free(&res);
    return v;
}

static void read_only_lun(void **state)
{
    struct rig r;
    struct rig_opts o = {.read_only = true, .thin = true};
    up(&r, &o);
    assert_int_equal(mode_dsp(&r, r.s1) & 0x80, 0x80);
    uint8_t *b = pattern(&r, 1, 3);
    assert_sense(write16(&r, r.s1, 0, 1, b), 0x7, 0x2700);
    uint8_t ws[10] = {0x41, 0x08, 0, 0, 0, 0, 0, 0, 1, 0};
    assert_sense(run_cmd(&r, r.s1, 0, ws, 10, b, r.bs), 0x7, 0x2700);
    uint8_t um[10] = {0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0};
    assert_sense(run_cmd(&r, r.s1, 0, um, 10, b, 24), 0x7, 0x2700);
    uint8_t caw[16] = {0x89}, *two = pattern(&r, 2, 4);
    caw[13] = 1;
    assert_sense(run_cmd(&r, r.s1, 0, caw, 16, two, 2 * r.bs), 0x7, 0x2700);
    free(two);
    expect_good(read16(&r, r.s1, 0, 1));
    free(b);
    rig_down(&r);
}

/* The LUN map can make one nexus' view read-only. */
static void read_only_lun_mapping(void **state)
{
    struct rig r;
    up(&r, NULL);
    assert_int_equal(scst_lun_add(r.core, TGT, NULL, 1, "disk0", true), 0);
    uint8_t *b = pattern(&r, 1, 3);
    uint8_t c[16];
    cdb_rw16(c, 0x8a, 0, 1, 0);
    clear_ua(&r, r.s1);
    assert_sense(run_cmd(&r, r.s1, 1, c, 16, b, r.bs), 0x6, 0x3f0e); /* LUN inventory changed */
    assert_sense(run_cmd(&r, r.s1, 1, c, 16, b, r.bs), 0x7, 0x2700);
    assert_good(run_cmd(&r, r.s1, 0, c, 16, b, r.bs));
    free(b);
    rig_down(&r);
}

static struct res mode_select_control(struct rig *r, struct scst_session *s, uint8_t b2_set,
                                      uint8_t b4_set, bool save)
{
    uint8_t c[6] = {0x1a, 0x08, 0x0a, 0, 255, 0};
    struct res ms = run_cmd(r, s, 0, c, 6, NULL, 0);
    uint8_t sel[16] = {0};
    memcpy(sel + 4, ms.data + 4, 12);
    res_free(&ms);
    sel[4] &= 0x7f;
    sel[6] |= b2_set;
    sel[8] |= b4_set;
    uint8_t msel[6] = {0x15, (uint8_t)(0x10 | (save ? 1 : 0)), 0, 0, 16, 0};
    return run_cmd(r, s, 0, msel, 6, sel, 16);
}

static void software_write_protect(void **state)
{
    struct rig r;
    up(&r, NULL);
    expect_good(mode_select_control(&r, r.s2, 0, 0x08, false));
    assert_sense(read16(&r, r.s1, 0, 1), 0x6, 0x2a01);
    assert_int_equal(mode_dsp(&r, r.s1) & 0x80, 0x80);
    uint8_t *b = pattern(&r, 1, 3);
    assert_sense(write16(&r, r.s1, 0, 1, b), 0x7, 0x2702);
    expect_good(read16(&r, r.s1, 0, 1));
    /* clear it again (MODE SELECT is not write-protected) */
    uint8_t c[6] = {0x1a, 0x08, 0x0a, 0, 255, 0};
    struct res ms = run_cmd(&r, r.s1, 0, c, 6, NULL, 0);
    uint8_t sel[16] = {0};
    memcpy(sel + 4, ms.data + 4, 12);
    res_free(&ms);
    sel[4] &= 0x7f;
    sel[8] &= (uint8_t)~0x08;
    uint8_t msel[6] = {0x15, 0x10, 0, 0, 16, 0};
    expect_good(run_cmd(&r, r.s1, 0, msel, 6, sel, 16));
    expect_good(write16(&r, r.s1, 0, 1, b));
    free(b);
    rig_down(&r);
}

static void mode_select_errors(void **state)
{
    struct rig r;
    up(&r, NULL);
    /* changing a field that is not changeable: TST */
    struct res res = mode_select_control(&r, r.s1, 0x20, 0, false);
    assert_int_equal(rd16(res.sense + 16), 6);   /* parameter list byte */
    assert_int_equal(res.sense[15] & 0x40, 0);    /* C/D = 0: parameter list */
    assert_sense(res, 0x5, 0x2600);
    /* PF=0 */
    uint8_t msel[6] = {0x15, 0x00, 0, 0, 16, 0};
    assert_sense(run_cmd(&r, r.s1, 0, msel, 6, NULL, 0), 0x5, 0x2400);
    /* truncated page */
    uint8_t sel[8] = {0, 0, 0, 0, 0x0a, 0x0a, 0, 0};
    uint8_t ms8[6] = {0x15, 0x10, 0, 0, 8, 0};
    assert_sense(run_cmd(&r, r.s1, 0, ms8, 6, sel, 8), 0x5, 0x1a00);
    /* unknown page */
    uint8_t unk[16] = {0, 0, 0, 0, 0x19, 0x0a};
    uint8_t ms16[6] = {0x15, 0x10, 0, 0, 16, 0};
    assert_sense(run_cmd(&r, r.s1, 0, ms16, 6, unk, 16), 0x5, 0x2600);
    /* zero length: nothing */
    uint8_t zero[6] = {0x15, 0x10, 0, 0, 0, 0};
    expect_good(run_cmd(&r, r.s1, 0, zero, 6, NULL, 0));
    /* changeable values: SWP, D_SENSE, TAS, QERR */
    uint8_t chg[6] = {0x1a, 0x08, 0x4a, 0, 255, 0};
    res = run_cmd(&r, r.s1, 0, chg, 6, NULL, 0);
    assert_int_equal(res.data[4 + 4], 0x08);
    assert_int_equal(res.data[4 + 2], 0x04);
    res_free(&res);
    rig_down(&r);
}

static void mode_pages_saved_and_restored_on_lun_reset(void **state)
{
    struct rig r;
    up(&r, NULL);
    /* D_SENSE saved; SWP only current */
    expect_good(mode_select_control(&r, r.s1, 0x04, 0, true));
    expect_good(mode_select_control(&r, r.s1, 0, 0x08, false));
    uint8_t saved[6] = {0x1a, 0x08, 0xca, 0, 255, 0};
    struct res res = run_cmd(&r, r.s1, 0, saved, 6, NULL, 0);
    assert_int_equal(res.data[4 + 2] & 0x04, 0x04);
    assert_int_equal(res.data[4 + 4] & 0x08, 0);
    res_free(&res);
    int resp = -1;
    scst_tmf(r.s1, SCST_TMF_LUN_RESET, 0, 0, tmf_cb, &resp);
    mte_run_until_idle(r.e);
    assert_int_equal(resp, SCST_TMF_COMPLETE);
    clear_ua(&r, r.s1);
    assert_int_equal(mode_dsp(&r, r.s1) & 0x80, 0);
    rig_down(&r);
}

/* ---- bdev errors ------------------------------------------------------------------------------ */

static void bdev_errors_map_to_sense(void **state)
{
    struct rig r;
    struct rig_opts o = {.simdisk = true, .latency = 10 * MTE_USEC, .size = 16 * MIB};
    up(&r, &o);
    simdisk_fail_range(r.m, 8 * r.bs, r.bs, 3);
    uint8_t *b = pattern(&r, 1, 1);
    assert_sense(read16(&r, r.s1, 8, 1), 0x3, 0x1100);
    assert_sense(write16(&r, r.s1, 8, 1, b), 0x3, 0x0c00);
    simdisk_clear_faults(r.m);
    expect_good(write16(&r, r.s1, 8, 1, b));
    struct scst_lun_stats st;
    scst_device_stats(scst_device_find(r.core, "disk0"), &st);
    assert_true(st.errors >= 2);
    free(b);
    rig_down(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(verify_bytchk),
        cmocka_unit_test(write_and_verify),
        cmocka_unit_test(compare_and_write),
        cmocka_unit_test(compare_and_write_atomic_under_concurrency),
        cmocka_unit_test(orwrite_and_write_atomic),
        cmocka_unit_test(sync_cache_prefetch_defects),
        cmocka_unit_test(removable_medium),
        cmocka_unit_test(not_removable),
        cmocka_unit_test(read_only_lun),
        cmocka_unit_test(read_only_lun_mapping),
        cmocka_unit_test(software_write_protect),
        cmocka_unit_test(mode_select_errors),
        cmocka_unit_test(mode_pages_saved_and_restored_on_lun_reset),
        cmocka_unit_test(bdev_errors_map_to_sense),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
