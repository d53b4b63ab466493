/* scst: thin provisioning (UNMAP, WRITE SAME with UNMAP/NDOB, GET LBA
 * STATUS), SANITIZE, EXTENDED COPY and RECEIVE COPY RESULTS. */
#include "tests/unit/test_scst_rig.h"

static struct rig *up(struct rig *r, const struct rig_opts *o)
{
    rig_up(r, o);
    clear_ua(r, r->s1);
    clear_ua(r, r->s2);
    return r;
}

static struct res lba_status(struct rig *r, uint64_t lba, uint32_t alloc)
{
    uint8_t c[16] = {0x9e, 0x12};
    be64(c + 2, lba);
    be32(c + 10, alloc);
    return run_cmd(r, r->s1, 0, c, 16, NULL, 0);
}

static struct res unmap(struct rig *r, const uint64_t *lba, const uint32_t *n, int count)
{
    uint8_t buf[8 + 16 * 300] = {0};
    be16(buf, (uint16_t)(6 + 16 * count));
    be16(buf + 2, (uint16_t)(16 * count));
    for (int i = 0; i < count; i++) {
        be64(buf + 8 + 16 * i, lba[i]);
        be32(buf + 8 + 16 * i + 8, n[i]);
    }
    uint8_t c[10] = {0x42};
    be16(c + 7, (uint16_t)(8 + 16 * count));
    return run_cmd(r, r->s1, 0, c, 10, buf, 8 + 16 * count);
}

static struct res write_same(struct rig *r, bool sixteen, uint64_t lba, uint32_t n, uint8_t flags,
                             const uint8_t *block)
{
    uint8_t c[16] = {0};
    c[0] = sixteen ? 0x93 : 0x41;
    c[1] = flags;
    if (sixteen) {
        be64(c + 2, lba);
        be32(c + 10, n);
    } else {
        be32(c + 2, (uint32_t)lba);
        be16(c + 7, (uint16_t)n);
    }
    return run_cmd(r, r->s1, 0, c, sixteen ? 16 : 10, block, block ? r->bs : 0);
}

/* ---- WRITE SAME ------------------------------------------------------------------------------------ */

static void write_same_pattern_and_unmap(void **state)
{
    struct rig r;
    struct rig_opts o = {.thin = true};
    up(&r, &o);
    uint8_t *blk = malloc(r.bs);
    for (uint32_t i = 0; i < r.bs; i++)
        blk[i] = (uint8_t)i;
    /* a pattern across more than one chunk */
    expect_good(write_same(&r, true, 1000, 600, 0, blk));
    struct res res = read16(&r, r.s1, 1000, 600);
    for (int b = 0; b < 600; b++)
        assert_memory_equal(res.data + b * r.bs, blk, r.bs);
    res_free(&res);
    /* zeros with UNMAP deallocate; GET LBA STATUS says so */
    uint8_t *zero = calloc(1, r.bs);
    expect_good(write_same(&r, false, 1000, 100, 0x08, zero));
    res = lba_status(&r, 1000, 64);
    assert_good(res);
    assert_int_equal(rd64(res.data + 8), 1000);
    assert_int_equal(rd32(res.data + 16), 100);
    assert_int_equal(res.data[20], 1);                /* deallocated */
    assert_int_equal(rd64(res.data + 24), 1100);
    assert_int_equal(res.data[36], 0);                /* mapped */
    res_free(&res);
    res = read16(&r, r.s1, 1000, 100);
    for (uint32_t i = 0; i < 100 * r.bs; i++)
        assert_int_equal(res.data[i], 0);
    res_free(&res);
    /* UNMAP deallocates whatever the pattern; the blocks read as zeros */
    expect_good(write16(&r, r.s1, 1050, 1, blk));
    expect_good(write_same(&r, true, 1050, 2, 0x08, blk));
    res = lba_status(&r, 1050, 24);
    assert_int_equal(res.data[20], 1);
    res_free(&res);
    res = read16(&r, r.s1, 1050, 1);
    assert_int_equal(res.data[7], 0);
    res_free(&res);
    /* without UNMAP a write maps them again */
    expect_good(write_same(&r, true, 1050, 2, 0, blk));
    res = lba_status(&r, 1050, 24);
    assert_int_equal(res.data[20], 0);
    res_free(&res);
    /* NDOB: zeros without a data-out buffer */
    expect_good(write_same(&r, true, 1200, 4, 0x09, NULL));
    res = lba_status(&r, 1200, 24);
    assert_int_equal(res.data[20], 1);
    res_free(&res);
    expect_good(write_same(&r, true, 1300, 4, 0x01, NULL));
    res = read16(&r, r.s1, 1300, 4);
    assert_int_equal(res.data[100], 0);
    res_free(&res);
    /* 0 blocks runs to the end (WSNZ 0); beyond the end, ANCHOR, bad data size */
    expect_good(write_same(&r, false, r.nblocks - 3, 0, 0, blk));
    res = read16(&r, r.s1, r.nblocks - 3, 3);
    assert_memory_equal(res.data + 2 * r.bs, blk, r.bs);
    res_free(&res);
    expect_good(write_same(&r, false, r.nblocks, 0, 0, blk));
    assert_sense(write_same(&r, false, r.nblocks + 1, 0, 0, blk), 0x5, 0x2100);
    assert_sense(write_same(&r, true, r.nblocks - 1, 2, 0, blk), 0x5, 0x2100);
    assert_sense(write_same(&r, false, 0, 1, 0x18, zero), 0x5, 0x2400);
    uint8_t c[10] = {0x41, 0x08, 0, 0, 0, 0, 0, 0, 1, 0};
    assert_sense(run_cmd(&r, r.s1, 0, c, 10, blk, r.bs / 2), 0x5, 0x0e03);
    /* writing maps again */
    expect_good(write16(&r, r.s1, 1000, 1, blk));
    res = lba_status(&r, 1000, 24);
    assert_int_equal(res.data[20], 0);
    assert_int_equal(rd32(res.data + 16), 1);
    res_free(&res);
    free(blk);
    free(zero);
    rig_down(&r);
}

/* ---- UNMAP, GET LBA STATUS -------------------------------------------------------------------------- */

static void unmap_and_lba_status(void **state)
{
    struct rig r;
    struct rig_opts o = {.thin = true};
    up(&r, &o);
    uint8_t *blk = malloc(r.bs);
    memset(blk, 0x77, r.bs);
    expect_good(write16(&r, r.s1, 10, 1, blk));
    uint64_t lba[4] = {10, 20, 30, 0};
    uint32_t n[4] = {5, 5, 0, 0};
    expect_good(unmap(&r, lba, n, 4));
    struct res res = read16(&r, r.s1, 10, 1);
    assert_int_equal(res.data[0], 0);
    res_free(&res);
    /* whole-LU status: mapped runs and deallocated runs, in order, covering it all */
    res = lba_status(&r, 0, 1024);
    uint64_t covered = 0;
    unsigned ndesc = (rd32(res.data) - 4) / 16;
    assert_int_equal(ndesc, 5);
    for (unsigned i = 0; i < ndesc; i++) {
        const uint8_t *d = res.data + 8 + 16 * i;
        assert_int_equal(rd64(d), covered);
        covered += rd32(d + 8);
    }
    assert_int_equal(covered, r.nblocks);
    res_free(&res);
    /* adjacent unmaps coalesce */
    lba[0] = 15;
    n[0] = 5;
    expect_good(unmap(&r, lba, n, 1));
    res = lba_status(&r, 10, 24);
    assert_int_equal(rd32(res.data + 16), 15);
    res_free(&res);
    /* no descriptors, zero-length list, end of LU with 0 blocks */
    expect_good(unmap(&r, lba, n, 0));
    uint8_t c[10] = {0x42};
    expect_good(run_cmd(&r, r.s1, 0, c, 10, NULL, 0));
    lba[0] = r.nblocks;
    n[0] = 0;
    expect_good(unmap(&r, lba, n, 1));
    /* errors */
    lba[0] = r.nblocks - 1;
    n[0] = 2;
    assert_sense(unmap(&r, lba, n, 1), 0x5, 0x2100);
    uint64_t many_lba[300] = {0};
    uint32_t many_n[300] = {0};
    assert_sense(unmap(&r, many_lba, many_n, 257), 0x5, 0x2600);
    be16(c + 7, 4);
    uint8_t four[4] = {0};
    assert_sense(run_cmd(&r, r.s1, 0, c, 10, four, 4), 0x5, 0x1a00);
    assert_sense(lba_status(&r, r.nblocks, 24), 0x5, 0x2100);
    uint8_t anchor[10] = {0x42, 0x01};
    assert_sense(run_cmd(&r, r.s1, 0, anchor, 10, NULL, 0), 0x5, 0x2400);
    free(blk);
    rig_down(&r);
}

static void not_thin_has_no_unmap(void **state)
{
    struct rig r;
    up(&r, NULL);
    uint64_t lba[1] = {0};
    uint32_t n[1] = {1};
    assert_sense(unmap(&r, lba, n, 1), 0x5, 0x2000);
    assert_sense(lba_status(&r, 0, 24), 0x5, 0x2400); /* service action not offered here */
    uint8_t *zero = calloc(1, r.bs);
    /* UNMAP needs LBPME: INVALID FIELD IN CDB, pointing at byte 1 bit 3 */
    assert_sense(write_same(&r, false, 0, 8, 0x08, zero), 0x5, 0x2400);
    struct res res = write_same(&r, true, 0, 8, 0x08, zero);
    assert_int_equal(res.sense[15], 0xc0 | 0x08 | 3);
    assert_int_equal(res.sense[17], 1);
    res_free(&res);
    expect_good(write_same(&r, false, 0, 8, 0, zero));
    free(zero);
    rig_down(&r);
}

/* ---- SANITIZE -------------------------------------------------------------------------------------- */

static struct res sanitize(struct rig *r, struct scst_session *s, uint8_t sa_flags, const uint8_t *param,
                           uint16_t len, bool short_run)
{
    uint8_t c[10] = {0x48, sa_flags};
    be16(c + 7, len);
    return short_run ? run_cmd_short(r, s, 0, c, 10, param, len) : run_cmd(r, s, 0, c, 10, param, len);
}

static void sanitize_overwrite(void **state)
{
    struct rig r;
    struct rig_opts o = {.size = 8 * MIB};
    up(&r, &o);
    uint8_t *p = calloc(1, r.bs + 8);
    p[0] = 0x01;
    be16(p + 2, 4);
    memcpy(p + 4, "\x11\x22\x33\x44", 4);
    expect_good(sanitize(&r, r.s1, 0x01, p, 8, false));
    struct res res = read16(&r, r.s1, r.nblocks - 1, 1);
    for (uint32_t i = 0; i < r.bs; i += 4)
        assert_memory_equal(res.data + i, "\x11\x22\x33\x44", 4);
    res_free(&res);
    /* two passes with INVERT: the second, inverted pass stays */
    p[0] = 0x82;
    expect_good(sanitize(&r, r.s1, 0x01, p, 8, false));
    res = read16(&r, r.s1, 0, 1);
    assert_int_equal(res.data[0], 0xee);
    res_free(&res);
    /* parameter errors */
    for (uint16_t len = 0; len < 5; len++)
        assert_sense(sanitize(&r, r.s1, 0x01, p, len, false), 0x5, 0x2400);
    assert_sense(sanitize(&r, r.s1, 0x01, p, (uint16_t)(r.bs + 5), false), 0x5, 0x2400);
    p[0] = 0x00; /* OVERWRITE COUNT 0 */
    assert_sense(sanitize(&r, r.s1, 0x01, p, 8, false), 0x5, 0x2600);
    p[0] = 0x01;
    be16(p + 2, 0);
    assert_sense(sanitize(&r, r.s1, 0x01, p, 8, false), 0x5, 0x2600);
    /* reserved bits and bytes, unknown service action, parameters where none go */
    uint8_t c[10] = {0x48, 0x43};
    assert_sense(run_cmd(&r, r.s1, 0, c, 10, NULL, 0), 0x5, 0x2400);
    c[1] = 0x03;
    c[4] = 1;
    assert_sense(run_cmd(&r, r.s1, 0, c, 10, NULL, 0), 0x5, 0x2400);
    c[4] = 0;
    c[1] = 0x05;
    assert_sense(run_cmd(&r, r.s1, 0, c, 10, NULL, 0), 0x5, 0x2400);
    assert_sense(sanitize(&r, r.s1, 0x1f, p, 8, false), 0x5, 0x2400);
    expect_good(sanitize(&r, r.s1, 0x1f, NULL, 0, false));
    free(p);
    rig_down(&r);
}

static void sanitize_in_progress(void **state)
{
    struct rig r;
    struct rig_opts o = {.size = 8 * MIB, .thin = true};
    up(&r, &o);
    /* IMMED: the command returns at once, the sanitize goes on */
    expect_good(sanitize(&r, r.s1, 0x82, NULL, 0, true));
    uint8_t tur[6] = {0};
    struct res res = run_cmd_short(&r, r.s1, 0, tur, 6, NULL, 0);
    assert_int_equal(res.sense[15], 0x80); /* progress indication */
    assert_sense(res, 0x2, 0x041b);
    assert_sense(run_cmd_short(&r, r.s2, 0, tur, 6, NULL, 0), 0x2, 0x041b);
    uint8_t inq[6] = {0x12, 0, 0, 0, 36, 0};
    expect_good(run_cmd_short(&r, r.s1, 0, inq, 6, NULL, 0));
    uint8_t rs[6] = {0x03, 0, 0, 0, 18, 0};
    res = run_cmd_short(&r, r.s1, 0, rs, 6, NULL, 0);
    assert_int_equal(res.data[2], 0x2);
    assert_int_equal(res.data[12], 0x04);
    res_free(&res);
    /* resets and the loss of the nexus do not stop it */
    int resp = -1;
    scst_tmf(r.s1, SCST_TMF_LUN_RESET, 0, 0, tmf_cb, &resp);
    mte_run_until(r.e, mte_now(r.e) + MTE_MSEC);
    assert_int_equal(resp, SCST_TMF_COMPLETE);
    assert_sense(run_cmd_short(&r, r.s1, 0, tur, 6, NULL, 0), 0x6, 0x2903);
    assert_sense(run_cmd_short(&r, r.s1, 0, tur, 6, NULL, 0), 0x2, 0x041b);
    mte_run_until_idle(r.e);
    expect_good(run_cmd(&r, r.s1, 0, tur, 6, NULL, 0));
    /* block erase deallocated everything */
    res = lba_status(&r, 0, 64);
    assert_int_equal(rd32(res.data), 4 + 16);
    assert_int_equal(rd32(res.data + 16), r.nblocks);
    assert_int_equal(res.data[20], 1);
    res_free(&res);
    rig_down(&r);
}

static void sanitize_aborted_command_keeps_running(void **state)
{
    struct rig r;
    struct rig_opts o = {.size = 8 * MIB};
    up(&r, &o);
    uint8_t c[10] = {0x48, 0x03};
    struct tcmd t;
    assert_int_equal(tcmd_start(&t, r.s1, 0, c, 10, NULL, 0, SCSI_TASK_SIMPLE), 0);
    t.cmd.tag = 0;
    mte_run_until(r.e, mte_now(r.e) + MTE_MSEC);
    assert_int_equal(t.done, 0);
    int resp = -1;
    scst_tmf(r.s1, SCST_TMF_ABORT_TASK, 0, 0, tmf_cb, &resp);
    mte_run_until(r.e, mte_now(r.e) + MTE_MSEC);
    assert_int_equal(resp, SCST_TMF_COMPLETE);
    assert_int_equal(t.done, 1);
    assert_true(t.cmd.aborted);
    struct res res;
    tcmd_finish(&t, &res);
    uint8_t tur[6] = {0};
    assert_sense(run_cmd_short(&r, r.s1, 0, tur, 6, NULL, 0), 0x2, 0x041b);
    mte_run_until_idle(r.e);
    expect_good(run_cmd(&r, r.s1, 0, tur, 6, NULL, 0));
    rig_down(&r);
}

static void sanitize_honours_reservations_and_protection(void **state)
{
    struct rig r;
    struct rig_opts o = {.size = 8 * MIB, .read_only = true};
    up(&r, &o);
    assert_sense(sanitize(&r, r.s1, 0x03, NULL, 0, false), 0x7, 0x2700);
    rig_down(&r);
    up(&r, NULL);
    uint8_t reserve[6] = {0x16};
    expect_good(run_cmd(&r, r.s2, 0, reserve, 6, NULL, 0));
    struct res res = sanitize(&r, r.s1, 0x03, NULL, 0, false);
    assert_int_equal(res.status, SAM_STAT_RESERVATION_CONFLICT);
    res_free(&res);
    rig_down(&r);
}

/* ---- EXTENDED COPY ---------------------------------------------------------------------------------- */

static size_t ident_target(struct rig *r, uint8_t *d, const char *dev, uint8_t nul, uint8_t luid)
{
    uint8_t c[6] = {0x12, 1, 0x83, 1, 0, 0};
    uint64_t lun = strcmp(dev, "disk0") == 0 ? 0 : 1;
    struct res id = run_cmd(r, r->s1, lun, c, 6, NULL, 0);
    memset(d, 0, 32);
    d[0] = 0xe4;
    d[1] = (uint8_t)(luid << 6 | nul << 5);
    memcpy(d + 4, id.data + 4, 12); /* the NAA designator comes first */
    d[29] = (uint8_t)(r->bs >> 16);
    d[30] = (uint8_t)(r->bs >> 8);
    d[31] = (uint8_t)r->bs;
    res_free(&id);
    return 32;
}

static size_t b2b_segment(uint8_t *d, uint16_t src, uint16_t dst, uint16_t blocks, uint64_t src_lba,
                          uint64_t dst_lba)
{
    memset(d, 0, 28);
    d[0] = 0x02;
    be16(d + 2, 24);
    be16(d + 4, src);
    be16(d + 6, dst);
    be16(d + 10, blocks);
    be64(d + 12, src_lba);
    be64(d + 20, dst_lba);
    return 28;
}

static struct res xcopy(struct rig *r, const uint8_t *list, uint32_t len)
{
    uint8_t c[16] = {0x83};
    be32(c + 10, len);
    return run_cmd(r, r->s1, 0, c, 16, list, len);
}

static void header(uint8_t *d, uint8_t list_id, uint8_t usage, size_t tdl, size_t sdl)
{
    memset(d, 0, 16);
    d[0] = list_id;
    d[1] = (uint8_t)(usage << 3);
    be16(d + 2, (uint16_t)tdl);
    be32(d + 8, (uint32_t)sdl);
}

static void extended_copy_between_lus(void **state)
{
    struct rig r;
    struct rig_opts o = {.size = 16 * MIB};
    rig_up(&r, &o);
    rig_add_device(&r, "disk1", &o, 1);
    clear_ua(&r, r.s1);
    uint8_t tur[6] = {0};
    for (int i = 0; i < 3; i++) {
        struct res res = run_cmd(&r, r.s1, 1, tur, 6, NULL, 0);
        res_free(&res);
    }
    uint32_t blocks = 300; /* more than one 1 MiB chunk */
    uint8_t *src = malloc(blocks * r.bs);
    for (uint32_t i = 0; i < blocks * r.bs; i++)
        src[i] = (uint8_t)(i / 7);
    expect_good(write16(&r, r.s1, 0, blocks, src));
    uint8_t list[16 + 64 + 56];
    size_t off = 16;
    off += ident_target(&r, list + off, "disk0", 0, 0);
    off += ident_target(&r, list + off, "disk1", 0, 0);
    off += b2b_segment(list + off, 0, 1, (uint16_t)blocks, 0, 100);
    header(list, 7, 0, 64, 28);
    expect_good(xcopy(&r, list, (uint32_t)off));
    uint8_t c[16];
    cdb_rw16(c, 0x88, 100, blocks, 0);
    struct res res = run_cmd(&r, r.s1, 1, c, 16, NULL, 0);
    assert_good(res);
    assert_memory_equal(res.data, src, blocks * r.bs);
    res_free(&res);
    /* COPY STATUS for list 7, once */
    uint8_t rcr[16] = {0x84, 0x00, 7};
    be32(rcr + 10, 64);
    res = run_cmd(&r, r.s1, 0, rcr, 16, NULL, 0);
    assert_good(res);
    assert_int_equal(res.data[4], 0x01);
    assert_int_equal(rd16(res.data + 5), 1);
    assert_int_equal(rd32(res.data + 8), blocks * r.bs);
    res_free(&res);
    assert_sense(run_cmd(&r, r.s1, 0, rcr, 16, NULL, 0), 0x5, 0x2400);
    /* OPERATING PARAMETERS */
    rcr[1] = 0x03;
    rcr[2] = 0;
    res = run_cmd(&r, r.s1, 0, rcr, 16, NULL, 0);
    assert_good(res);
    assert_int_equal(rd16(res.data + 8), 8);
    assert_int_equal(rd16(res.data + 10), 8);
    res_free(&res);
    free(src);
    rig_down(&r);
}

static void extended_copy_errors(void **state)
{
    struct rig r;
    up(&r, NULL);
    uint8_t list[16 + 9 * 32 + 9 * 28];
    size_t off = 16;
    off += ident_target(&r, list + off, "disk0", 0, 0);
    off += b2b_segment(list + off, 0, 0, 16, 0, r.nblocks - 16);
    header(list, 1, 2, 32, 28);
    expect_good(xcopy(&r, list, (uint32_t)off));
    /* zero-length list, truncated descriptors */
    expect_good(xcopy(&r, NULL, 0));
    assert_sense(xcopy(&r, list, 16 + 31), 0x5, 0x1a00);
    assert_sense(xcopy(&r, list, (uint32_t)off - 1), 0x5, 0x1a00);
    /* beyond the destination, an index with no descriptor, a NUL device; LU ID
     * TYPE is ignored (SPC-4) */
    b2b_segment(list + 48, 0, 0, 16, 0, r.nblocks - 1);
    assert_sense(xcopy(&r, list, (uint32_t)off), 0xa, 0x0000);
    b2b_segment(list + 48, 0, 1, 16, 0, 0);
    assert_sense(xcopy(&r, list, (uint32_t)off), 0xa, 0x0d02);
    b2b_segment(list + 48, 0, 0, 16, 0, 0);
    ident_target(&r, list + 16, "disk0", 1, 0);
    assert_sense(xcopy(&r, list, (uint32_t)off), 0xa, 0x0d02);
    ident_target(&r, list + 16, "disk0", 0, 3);
    expect_good(xcopy(&r, list, (uint32_t)off));
    /* unsupported descriptor types */
    ident_target(&r, list + 16, "disk0", 0, 0);
    list[16] = 0xe0;
    assert_sense(xcopy(&r, list, (uint32_t)off), 0x5, 0x2607);
    list[16] = 0xe4;
    list[48] = 0x03;
    assert_sense(xcopy(&r, list, (uint32_t)off), 0x5, 0x2609);
    /* too many target / segment descriptors, list too long */
    off = 16;
    for (int i = 0; i < 9; i++)
        off += ident_target(&r, list + off, "disk0", 0, 0);
    off += b2b_segment(list + off, 0, 0, 1, 0, 1);
    header(list, 2, 0, 9 * 32, 28);
    assert_sense(xcopy(&r, list, (uint32_t)off), 0x5, 0x2606);
    off = 16 + 32;
    for (int i = 0; i < 9; i++)
        off += b2b_segment(list + off, 0, 0, 1, 0, 1);
    header(list, 3, 0, 32, 9 * 28);
    assert_sense(xcopy(&r, list, (uint32_t)off), 0x5, 0x2608);
    header(list, 4, 0, 9 * 32, 9 * 28);
    assert_sense(xcopy(&r, list, 16 + 9 * 32 + 9 * 28), 0x5, 0x1a00);
    rig_down(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(write_same_pattern_and_unmap),
        cmocka_unit_test(unmap_and_lba_status),
        cmocka_unit_test(not_thin_has_no_unmap),
        cmocka_unit_test(sanitize_overwrite),
        cmocka_unit_test(sanitize_in_progress),
        cmocka_unit_test(sanitize_aborted_command_keeps_running),
        cmocka_unit_test(sanitize_honours_reservations_and_protection),
        cmocka_unit_test(extended_copy_between_lus),
        cmocka_unit_test(extended_copy_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
