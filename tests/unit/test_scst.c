/* scst: the commands every initiator sends first (TEST UNIT READY, INQUIRY
 * and its VPD pages, READ CAPACITY, REPORT LUNS, MODE SENSE, REPORT
 * SUPPORTED OPERATION CODES, PRIN READ KEYS), READ/WRITE, sessions, ACLs,
 * LUN maps, unit attentions and a clean teardown. */
#include "tests/unit/test_scst_rig.h"

/* ---- sessions, ACLs, LUN maps ------------------------------------------------------------ */

static void sessions_and_acls(void **state)
{
    struct rig r;
    rig_up(&r, NULL);
    int err = 0;
    assert_null(scst_session_new(r.core, "iqn.nope", INI1, PORT1, 1, &err));
    assert_int_equal(err, -ENOENT);
    assert_int_equal(scst_target_allow_initiator(r.core, TGT, INI1), 0);
    assert_true(scst_target_visible(r.core, TGT, INI1));
    assert_false(scst_target_visible(r.core, TGT, INI2));
    assert_null(scst_session_new(r.core, TGT, INI2, PORT2, 1, &err));
    assert_int_equal(err, -EACCES);
    assert_int_equal(scst_target_enable(r.core, TGT, false), 0);
    assert_false(scst_target_visible(r.core, TGT, INI1));
    assert_null(scst_session_new(r.core, TGT, INI1, PORT1, 1, &err));
    assert_int_equal(err, -ENOENT);
    assert_string_equal(scst_session_initiator(r.s1), INI1);
    assert_string_equal(scst_session_target(r.s1), TGT);
    assert_int_equal(scst_target_add(r.core, TGT), -EEXIST);
    assert_int_equal(scst_device_remove(r.core, "disk0"), -EBUSY);
    rig_down(&r);
}

struct names { char v[8][96]; int n; };
static void collect_name(void *arg, const char *name)
{
    struct names *ns = arg;
    snprintf(ns->v[ns->n++], sizeof(ns->v[0]), "%s", name);
}
static void collect_lun(void *arg, const struct scst_lun_info *info)
{
    struct names *ns = arg;
    snprintf(ns->v[ns->n++], sizeof(ns->v[0]), "%s/%s/%llu/%s", info->target,
             info->group ? info->group : "-", (unsigned long long)info->lun, info->device);
}
static void collect_session(void *arg, const struct scst_session_info *info)
{
    struct names *ns = arg;
    snprintf(ns->v[ns->n++], sizeof(ns->v[0]), "%s", info->initiator_port);
}

static void enumeration_in_name_order(void **state)
{
    struct rig r;
    rig_up(&r, NULL);
    assert_int_equal(scst_target_add(r.core, "iqn.2024-01.test:a"), 0);
    struct names ns = {0};
    scst_foreach_target(r.core, collect_name, &ns);
    assert_int_equal(ns.n, 2);
    assert_string_equal(ns.v[0], "iqn.2024-01.test:a");
    assert_int_equal(scst_group_add(r.core, TGT, "g1"), 0);
    assert_int_equal(scst_lun_add(r.core, TGT, "g1", 3, "disk0", true), 0);
    assert_int_equal(scst_lun_add(r.core, TGT, "g1", 3, "disk0", true), -EEXIST);
    assert_int_equal(scst_lun_add(r.core, TGT, "nogroup", 3, "disk0", true), -ENOENT);
    assert_int_equal(scst_lun_add(r.core, TGT, NULL, 1, "nodev", true), -ENODEV);
    memset(&ns, 0, sizeof(ns));
    scst_foreach_lun(r.core, TGT, collect_lun, &ns);
    assert_int_equal(ns.n, 2);
    assert_string_equal(ns.v[0], TGT "/-/0/disk0");
    assert_string_equal(ns.v[1], TGT "/g1/3/disk0");
    memset(&ns, 0, sizeof(ns));
    scst_foreach_session(r.core, collect_session, &ns);
    assert_int_equal(ns.n, 2);
    assert_string_equal(ns.v[0], PORT1);
    rig_down(&r);
}

static void group_map_and_report_luns(void **state)
{
    struct rig r;
    rig_up(&r, NULL);
    assert_int_equal(scst_group_add(r.core, TGT, "g2"), 0);
    assert_int_equal(scst_lun_add(r.core, TGT, "g2", 5, "disk0", false), 0);
    assert_int_equal(scst_lun_add(r.core, TGT, "g2", 300, "disk0", false), 0);
    assert_int_equal(scst_group_add_initiator(r.core, TGT, "g2", INI2), 0);
    /* s2 moved to g2: REPORTED LUNS DATA HAS CHANGED (after the power-on one) */
    uint8_t rl[12] = {0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0};
    struct res res = run_cmd(&r, r.s2, 5, rl, 12, NULL, 0);
    assert_good(res);
    assert_int_equal(rd32(res.data), 16);
    assert_int_equal(res.data[9], 5);
    assert_int_equal(res.data[16], 0x41); /* flat addressing for 300 */
    assert_int_equal(res.data[17], 300 & 0xff);
    res_free(&res);
    /* LUN 0 is gone for s2: INQUIRY says PQ 3, other commands fail */
    uint8_t inq[6] = {0x12, 0, 0, 0, 96, 0};
    res = run_cmd(&r, r.s2, 0, inq, 6, NULL, 0);
    assert_good(res);
    assert_int_equal(res.data[0], 0x7f);
    res_free(&res);
    uint8_t tur[6] = {0};
    assert_sense(run_cmd(&r, r.s2, 0, tur, 6, NULL, 0), 0x5, 0x2500);
    /* REPORT LUNS allocation length under 16 is invalid */
    rl[8] = 0;
    rl[9] = 8;
    assert_sense(run_cmd(&r, r.s1, 0, rl, 12, NULL, 0), 0x5, 0x2400);
    rig_down(&r);
}

/* ---- unit attentions -------------------------------------------------------------------------- */

/* A new nexus starts without a UA; a pending one (here: the LUN reset of
 * another session) passes INQUIRY, is reported once by TEST UNIT READY, and is
 * returned and cleared by REQUEST SENSE in the format asked for. */
static void unit_attention_reporting(void **state)
{
    struct rig r;
    rig_up(&r, NULL);
    uint8_t tur[6] = {0};
    expect_good(run_cmd(&r, r.s1, 0, tur, 6, NULL, 0));
    expect_good(run_cmd(&r, r.s2, 0, tur, 6, NULL, 0));
    int resp = -1;
    scst_tmf(r.s1, SCST_TMF_LUN_RESET, 0, 0, tmf_cb, &resp);
    mte_run_until_idle(r.e);
    assert_int_equal(resp, SCST_TMF_COMPLETE);
    uint8_t inq[6] = {0x12, 0, 0, 0, 36, 0};
    struct res res = run_cmd(&r, r.s1, 0, inq, 6, NULL, 0);
    assert_good(res);
    res_free(&res);
    assert_sense(run_cmd(&r, r.s1, 0, tur, 6, NULL, 0), 0x6, 0x2903);
    expect_good(run_cmd(&r, r.s1, 0, tur, 6, NULL, 0));
    uint8_t rs[6] = {0x03, 0x01, 0, 0, 252, 0};
    res = run_cmd(&r, r.s2, 0, rs, 6, NULL, 0);
    assert_good(res);
    assert_int_equal(res.data[0], 0x72);
    assert_int_equal(res.data[1], 0x6);
    assert_int_equal(res.data[2], 0x29);
    res_free(&res);
    res = run_cmd(&r, r.s2, 0, rs, 6, NULL, 0);
    assert_int_equal(res.data[1], 0x0);
    res_free(&res);
    rig_down(&r);
}

/* ---- INQUIRY ----------------------------------------------------------------------------------- */

static void inquiry_standard(void **state)
{
    struct rig r;
    rig_up(&r, NULL);
    uint8_t c[6] = {0x12, 0, 0, 1, 4, 0}; /* 260 bytes */
    struct res res = run_cmd(&r, r.s1, 0, c, 6, NULL, 0);
    assert_good(res);
    assert_int_equal(res.len, 96);
    assert_int_equal(res.data[0], 0);
    assert_int_equal(res.data[2], 6);
    assert_int_equal(res.data[3] & 0x0f, 2);
    assert_int_equal(res.data[4], res.len - 5);
    assert_int_equal(res.data[5] & 0x30, 0x10);
    assert_memory_equal(res.data + 8, "SCST_USR", 8);
    int sbc3 = 0;
    for (int i = 0; i < 8; i++)
        sbc3 |= rd16(res.data + 58 + 2 * i) == 0x04c0;
    assert_true(sbc3);
    res_free(&res);
    /* allocation length truncates */
    for (int alloc = 0; alloc < 40; alloc += 7) {
        c[3] = 0;
        c[4] = (uint8_t)alloc;
        res = run_cmd(&r, r.s1, 0, c, 6, NULL, 0);
        assert_good(res);
        assert_int_equal(res.len, (uint32_t)alloc);
        res_free(&res);
    }
    /* EVPD=0 with a page code, CMDDT, unknown page */
    uint8_t bad[6] = {0x12, 0, 1, 0, 255, 0};
    assert_sense(run_cmd(&r, r.s1, 0, bad, 6, NULL, 0), 0x5, 0x2400);
    bad[1] = 0x02;
    bad[2] = 0;
    assert_sense(run_cmd(&r, r.s1, 0, bad, 6, NULL, 0), 0x5, 0x2400);
    bad[1] = 0x01;
    bad[2] = 0x99;
    assert_sense(run_cmd(&r, r.s1, 0, bad, 6, NULL, 0), 0x5, 0x2400);
    rig_down(&r);
}

static struct res vpd(struct rig *r, uint8_t page)
{
    uint8_t c[6] = {0x12, 1, page, 1, 0, 0};
    return run_cmd(r, r->s1, 0, c, 6, NULL, 0);
}

static int bl_wsnz(struct rig *r)
{
    struct res bl = vpd(r, 0xb0);
    int wsnz = bl.data[4] & 1;
    res_free(&bl);
    return wsnz;
}

static void inquiry_vpd_pages(void **state)
{
    struct rig r;
    struct rig_opts o = {.thin = true};
    rig_up(&r, &o);
    struct res sup = vpd(&r, 0x00);
    assert_good(sup);
    unsigned n = rd16(sup.data + 2);
    assert_true(n >= 7);
    for (unsigned i = 0; i < n; i++) {
        struct res page = vpd(&r, sup.data[4 + i]);
        assert_good(page);
        assert_int_equal(page.data[1], sup.data[4 + i]);
        assert_int_equal(rd16(page.data + 2) + 4u, page.len);
        res_free(&page);
    }
    res_free(&sup);
    struct res bl = vpd(&r, 0xb0);
    assert_int_equal(bl.data[3], 0x3c);
    assert_true(rd32(bl.data + 20) > 0 && rd32(bl.data + 20) <= 1024 * 1024); /* max unmap */
    assert_true(rd32(bl.data + 24) > 0);
    assert_true(rd32(bl.data + 44) >= 256); /* atomic */
    res_free(&bl);
    struct res lbp = vpd(&r, 0xb2);
    assert_int_equal(lbp.data[5] & 0xe4, 0xe4);
    res_free(&lbp);
    struct res id = vpd(&r, 0x83);
    assert_int_equal(id.data[4 + 1] & 0x0f, 3); /* NAA first */
    assert_int_equal(id.data[4 + 4] >> 4, 3);
    res_free(&id);
    struct res sn = vpd(&r, 0x80);
    assert_true(rd16(sn.data + 2) > 0);
    res_free(&sn);
    struct res bdc = vpd(&r, 0xb1);
    assert_int_equal(bdc.data[7], 0x50);          /* WABEREQ, WACEREQ: BLOCK ERASE on thin */
    assert_int_equal(bl_wsnz(&r), 0);
    res_free(&bdc);
    rig_down(&r);
    rig_up(&r, NULL);                             /* fully provisioned: no BLOCK ERASE */
    bdc = vpd(&r, 0xb1);
    assert_int_equal(bdc.data[7], 0x10);
    res_free(&bdc);
    rig_down(&r);
}

/* ---- READ CAPACITY, REPORT SUPPORTED OPCODES, MODE SENSE ------------------------------------- */

static void read_capacity(void **state)
{
    struct rig r;
    struct rig_opts o = {.thin = true};
    rig_up(&r, &o);
    clear_ua(&r, r.s1);
    uint8_t c10[10] = {0x25};
    struct res res = run_cmd(&r, r.s1, 0, c10, 10, NULL, 0);
    assert_good(res);
    assert_int_equal(rd32(res.data), r.nblocks - 1);
    assert_int_equal(rd32(res.data + 4), r.bs);
    res_free(&res);
    c10[5] = 1; /* LBA without PMI */
    assert_sense(run_cmd(&r, r.s1, 0, c10, 10, NULL, 0), 0x5, 0x2400);
    uint8_t c16[16] = {0x9e, 0x10};
    be32(c16 + 10, 32);
    res = run_cmd(&r, r.s1, 0, c16, 16, NULL, 0);
    assert_good(res);
    assert_int_equal(rd64(res.data), r.nblocks - 1);
    assert_int_equal(res.data[14] & 0xc0, 0xc0); /* LBPME, LBPRZ */
    assert_int_equal(res.data[13] & 0x0f, 0);    /* 4 KiB logical: one block per physical */
    res_free(&res);
    be32(c16 + 10, 8);
    res = run_cmd(&r, r.s1, 0, c16, 16, NULL, 0);
    assert_int_equal(res.len, 8);
    res_free(&res);
    rig_down(&r);
    o.block_size = 512;                           /* 512e: 8 logical per physical block */
    o.physical_block_size = 4096;
    rig_up(&r, &o);
    clear_ua(&r, r.s1);
    be32(c16 + 10, 32);
    res = run_cmd(&r, r.s1, 0, c16, 16, NULL, 0);
    assert_int_equal(res.data[13] & 0x0f, 3);
    res_free(&res);
    struct res bl = vpd(&r, 0xb0);
    assert_int_equal(rd32(bl.data + 28), 8);      /* optimal unmap granularity */
    res_free(&bl);
    struct scst_device_opts bad = {.name = "odd", .bdev = tcmu_dev_name(r.td), .block_size = 512,
                                   .physical_block_size = 1536};
    char msg[160];
    assert_int_equal(scst_device_add(r.core, &bad, msg, sizeof(msg)), -EINVAL);
    assert_non_null(strstr(msg, "physical block size 1536"));
    rig_down(&r);
}

static void rsoc_matches_the_table(void **state)
{
    struct rig r;
    rig_up(&r, NULL);
    clear_ua(&r, r.s1);
    uint8_t c[12] = {0xa3, 0x0c, 0x80, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0};
    struct res all = run_cmd(&r, r.s1, 0, c, 12, NULL, 0);
    assert_good(all);
    uint32_t len = rd32(all.data);
    assert_int_equal(len + 4, all.len);
    int seen_read10 = 0, seen_unmap = 0;
    for (uint32_t off = 4; off < all.len; off += 20) {
        const uint8_t *d = all.data + off;
        assert_true(d[5] & 0x02);                 /* CTDP */
        assert_int_equal(rd16(d + 8), 0x0a);      /* timeout descriptor length */
        if (!(d[5] & 0x01))
            assert_int_equal(rd16(d + 2), 0);     /* SA only with SERVACTV */
        seen_read10 |= d[0] == 0x28;
        seen_unmap |= d[0] == 0x42;
        /* one command: usage data starts with the opcode; options follow SERVACTV */
        uint8_t one[12] = {0xa3, 0x0c, (uint8_t)((d[5] & 1) ? 2 : 1), d[0], d[2], d[3], 0, 0, 1, 0, 0, 0};
        struct res o = run_cmd(&r, r.s1, 0, one, 12, NULL, 0);
        assert_good(o);
        assert_int_equal(o.data[1] & 0x07, 3);
        assert_true(rd16(o.data + 2) > 0);
        assert_int_equal(o.data[4], d[0]);
        res_free(&o);
        one[2] = (d[5] & 1) ? 1 : 2;
        assert_sense(run_cmd(&r, r.s1, 0, one, 12, NULL, 0), 0x5, 0x2400);
    }
    assert_true(seen_read10);
    assert_false(seen_unmap); /* not thin */
    res_free(&all);
    /* READ10's usage data has DPO and FUA */
    uint8_t one[12] = {0xa3, 0x0c, 1, 0x28, 0, 0, 0, 0, 1, 0, 0, 0};
    struct res o = run_cmd(&r, r.s1, 0, one, 12, NULL, 0);
    assert_int_equal(o.data[4 + 1] & 0x18, 0x18);
    res_free(&o);
    /* an unknown opcode is reported as not supported */
    one[3] = 0xee;
    o = run_cmd(&r, r.s1, 0, one, 12, NULL, 0);
    assert_good(o);
    assert_int_equal(o.data[1] & 0x07, 1);
    res_free(&o);
    rig_down(&r);
}

static void mode_sense_all_pages(void **state)
{
    struct rig r;
    rig_up(&r, NULL);
    clear_ua(&r, r.s1);
    uint8_t c[6] = {0x1a, 0, 0x3f, 0, 255, 0};
    struct res res = run_cmd(&r, r.s1, 0, c, 6, NULL, 0);
    assert_good(res);
    assert_int_equal(res.data[0] + 1u, res.len);
    assert_int_equal(res.data[2] & 0x90, 0x10); /* DPOFUA, not write protected */
    assert_int_equal(res.data[3], 8);
    bool control = false;
    for (uint32_t off = 4 + 8; off < res.len; off += res.data[off + 1] + 2u)
        control |= (res.data[off] & 0x3f) == 0x0a;
    assert_true(control);
    res_free(&res);
    c[4] = 4;
    res = run_cmd(&r, r.s1, 0, c, 6, NULL, 0);
    assert_int_equal(res.len, 4);
    res_free(&res);
    /* unknown page / subpage */
    uint8_t bad[6] = {0x1a, 0, 0x21, 0, 255, 0};
    assert_sense(run_cmd(&r, r.s1, 0, bad, 6, NULL, 0), 0x5, 0x2400);
    bad[2] = 0x08;
    bad[3] = 0x05;
    assert_sense(run_cmd(&r, r.s1, 0, bad, 6, NULL, 0), 0x5, 0x2400);
    /* MODE SENSE(10) with long LBA descriptor */
    uint8_t c10[10] = {0x5a, 0x10, 0x08, 0, 0, 0, 0, 1, 0, 0};
    res = run_cmd(&r, r.s1, 0, c10, 10, NULL, 0);
    assert_good(res);
    assert_int_equal(rd16(res.data + 6), 16);
    assert_int_equal(rd64(res.data + 8), r.nblocks);
    assert_int_equal(res.data[8 + 16], 0x88);
    res_free(&res);
    rig_down(&r);
}

/* ---- READ / WRITE ----------------------------------------------------------------------------- */

static void read_write_round_trip(void **state)
{
    struct rig r;
    rig_up(&r, NULL);
    clear_ua(&r, r.s1);
    uint8_t *buf = malloc(8 * r.bs);
    for (uint32_t i = 0; i < 8 * r.bs; i++)
        buf[i] = (uint8_t)(i * 7);
    expect_good(write16(&r, r.s1, 100, 8, buf));
    struct res res = read16(&r, r.s1, 100, 8);
    assert_good(res);
    assert_int_equal(res.len, 8 * r.bs);
    assert_memory_equal(res.data, buf, 8 * r.bs);
    res_free(&res);
    /* READ(10), READ(12), READ(6) of the same blocks */
    uint8_t c[16];
    cdb_rw10(c, 0x28, 101, 2, 0x18);
    res = run_cmd(&r, r.s1, 0, c, 10, NULL, 0);
    assert_good(res);
    assert_memory_equal(res.data, buf + r.bs, 2 * r.bs);
    res_free(&res);
    uint8_t c12[12] = {0xa8, 0, 0, 0, 0, 102, 0, 0, 0, 1, 0, 0};
    res = run_cmd(&r, r.s1, 0, c12, 12, NULL, 0);
    assert_memory_equal(res.data, buf + 2 * r.bs, r.bs);
    res_free(&res);
    uint8_t c6[6] = {0x08, 0, 0, 103, 1, 0};
    res = run_cmd(&r, r.s1, 0, c6, 6, NULL, 0);
    assert_memory_equal(res.data, buf + 3 * r.bs, r.bs);
    res_free(&res);
    /* WRITE(6) with transfer length 0 means 256 blocks; with EDTL 0 nothing
     * arrives and nothing is written (the transport reports the overflow) */
    uint8_t w6[6] = {0x0a, 0, 0, 0, 0, 0};
    struct tcmd t;
    assert_int_equal(tcmd_start(&t, r.s1, 0, w6, 6, NULL, 0, SCSI_TASK_SIMPLE), 0);
    assert_int_equal(t.cmd.data_len, 256 * r.bs);
    mte_run_until_idle(r.e);
    tcmd_finish(&t, &res);
    assert_good(res);
    res_free(&res);
    res = read16(&r, r.s1, 0, 1);
    assert_int_equal(res.data[0], 0);
    res_free(&res);
    free(buf);
    struct scst_lun_stats st;
    scst_device_stats(scst_device_find(r.core, "disk0"), &st);
    assert_true(st.reads >= 4 && st.writes >= 1 && st.read_bytes >= 8 * r.bs);
    rig_down(&r);
}

static void read_write_errors(void **state)
{
    struct rig r;
    rig_up(&r, NULL);
    clear_ua(&r, r.s1);
    uint8_t c[16];
    /* beyond the end, at the end, 0 blocks */
    cdb_rw16(c, 0x88, r.nblocks, 1, 0);
    assert_sense(run_cmd(&r, r.s1, 0, c, 16, NULL, 0), 0x5, 0x2100);
    cdb_rw16(c, 0x88, r.nblocks - 1, 2, 0);
    assert_sense(run_cmd(&r, r.s1, 0, c, 16, NULL, 0), 0x5, 0x2100);
    cdb_rw16(c, 0x88, ~0ull, 1, 0);
    assert_sense(run_cmd(&r, r.s1, 0, c, 16, NULL, 0), 0x5, 0x2100);
    cdb_rw16(c, 0x88, r.nblocks, 0, 0);
    expect_good(run_cmd(&r, r.s1, 0, c, 16, NULL, 0));
    cdb_rw16(c, 0x88, r.nblocks + 1, 0, 0);
    assert_sense(run_cmd(&r, r.s1, 0, c, 16, NULL, 0), 0x5, 0x2100);
    cdb_rw10(c, 0x2a, 0, 0, 0);
    expect_good(run_cmd(&r, r.s1, 0, c, 10, NULL, 0));
    /* RDPROTECT, reserved bits: INVALID FIELD IN CDB with a field pointer */
    cdb_rw10(c, 0x28, 0, 1, 0x20);
    struct res res = run_cmd(&r, r.s1, 0, c, 10, NULL, 0);
    assert_int_equal(res.sense[15], 0xc8 | 5); /* SKSV, C/D, BPV, bit 5 */
    assert_int_equal(rd16(res.sense + 16), 1);
    assert_sense(res, 0x5, 0x2400);
    /* NACA in the control byte */
    cdb_rw10(c, 0x28, 0, 1, 0);
    c[9] = 0x04;
    assert_sense(run_cmd(&r, r.s1, 0, c, 10, NULL, 0), 0x5, 0x2400);
    /* transfer beyond the maximum */
    cdb_rw16(c, 0x88, 0, 0x100000, 0);
    assert_sense(run_cmd(&r, r.s1, 0, c, 16, NULL, 0), 0x5, 0x2400);
    /* unknown opcode, unknown service action, unmapped LUN */
    uint8_t x[16] = {0xe7};
    assert_sense(run_cmd(&r, r.s1, 0, x, 16, NULL, 0), 0x5, 0x2000);
    uint8_t sa[16] = {0x9e, 0x1b};
    assert_sense(run_cmd(&r, r.s1, 0, sa, 16, NULL, 0), 0x5, 0x2400);
    assert_sense(run_cmd(&r, r.s1, 7, x, 16, NULL, 0), 0x5, 0x2500);
    /* data-out shorter than the CDB asks for: the whole blocks that arrive are
     * written; a partial block is refused; a longer one writes what the CDB says */
    uint8_t buf[2 * 4096];
    memset(buf, 'a', sizeof(buf));
    cdb_rw10(c, 0x2a, 0, 2, 0);
    expect_good(run_cmd(&r, r.s1, 0, c, 10, buf, 2 * r.bs));
    memset(buf, 'b', sizeof(buf));
    expect_good(run_cmd(&r, r.s1, 0, c, 10, buf, r.bs));
    struct res rd = read16(&r, r.s1, 0, 2);
    assert_int_equal(rd.data[r.bs - 1], 'b');
    assert_int_equal(rd.data[r.bs], 'a');
    res_free(&rd);
    assert_sense(run_cmd(&r, r.s1, 0, c, 10, buf, 200), 0x5, 0x0e03);
    memset(buf, 'c', sizeof(buf));
    cdb_rw10(c, 0x2a, 0, 1, 0);
    expect_good(run_cmd(&r, r.s1, 0, c, 10, buf, 2 * r.bs));
    rd = read16(&r, r.s1, 0, 2);
    assert_int_equal(rd.data[0], 'c');
    assert_int_equal(rd.data[r.bs], 'a');
    res_free(&rd);
    /* other data-out commands must match exactly */
    uint8_t ws[10] = {0x41, 0, 0, 0, 0, 0, 0, 0, 1, 0};
    assert_sense(run_cmd(&r, r.s1, 0, ws, 10, buf, 2 * r.bs), 0x5, 0x0e03);
    rig_down(&r);
}

static void descriptor_sense_when_d_sense(void **state)
{
    struct rig r;
    rig_up(&r, NULL);
    clear_ua(&r, r.s1);
    clear_ua(&r, r.s2);
    /* MODE SELECT the control page with D_SENSE */
    uint8_t c[6] = {0x1a, 0x08, 0x0a, 0, 255, 0};
    struct res ms = run_cmd(&r, r.s1, 0, c, 6, NULL, 0);
    assert_good(ms);
    uint8_t sel[4 + 12];
    memset(sel, 0, 4);
    memcpy(sel + 4, ms.data + 4, 12);
    sel[4] &= 0x3f;
    sel[4 + 2] |= 0x04;
    res_free(&ms);
    uint8_t msel[6] = {0x15, 0x10, 0, 0, sizeof(sel), 0};
    expect_good(run_cmd(&r, r.s1, 0, msel, 6, sel, sizeof(sel)));
    uint8_t rd[16];
    cdb_rw16(rd, 0x88, ~0ull, 1, 0);
    struct res res = run_cmd(&r, r.s1, 0, rd, 16, NULL, 0);
    assert_int_equal(res.sense[0], 0x72);
    assert_sense(res, 0x5, 0x2100);
    /* the other nexus hears MODE PARAMETERS CHANGED */
    uint8_t tur[6] = {0};
    assert_sense(run_cmd(&r, r.s2, 0, tur, 6, NULL, 0), 0x6, 0x2a01);
    rig_down(&r);
}

static void prin_read_keys_empty(void **state)
{
    struct rig r;
    rig_up(&r, NULL);
    clear_ua(&r, r.s1);
    uint8_t c[10] = {0x5e, 0x00, 0, 0, 0, 0, 0, 0x40, 0x00, 0};
    struct res res = run_cmd(&r, r.s1, 0, c, 10, NULL, 0);
    assert_good(res);
    assert_int_equal(res.len, 8);
    assert_int_equal(rd32(res.data + 4), 0);
    res_free(&res);
    rig_down(&r);
}

static void core_teardown_frees_everything(void **state)
{
    struct rig r;
    rig_up(&r, NULL);
    clear_ua(&r, r.s1);
    /* a core freed with sessions and in-use devices left over still cleans up */
    struct tcmd t;
    uint8_t c[16];
    cdb_rw16(c, 0x88, 0, 1, 0);
    assert_int_equal(tcmd_start(&t, r.s1, 0, c, 16, NULL, 0, SCSI_TASK_SIMPLE), 0);
    mte_run_until_idle(r.e);
    struct res res;
    tcmd_finish(&t, &res);
    res_free(&res);
    scst_core_free(r.core);
    tcmu_host_free(r.h);
    assert_int_equal(umc_node_free(r.n), 0);
    mte_engine_free(r.e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sessions_and_acls),
        cmocka_unit_test(enumeration_in_name_order),
        cmocka_unit_test(group_map_and_report_luns),
        cmocka_unit_test(unit_attention_reporting),
        cmocka_unit_test(inquiry_standard),
        cmocka_unit_test(inquiry_vpd_pages),
        cmocka_unit_test(read_capacity),
        cmocka_unit_test(rsoc_matches_the_table),
        cmocka_unit_test(mode_sense_all_pages),
        cmocka_unit_test(read_write_round_trip),
        cmocka_unit_test(read_write_errors),
        cmocka_unit_test(descriptor_sense_when_d_sense),
        cmocka_unit_test(prin_read_keys_empty),
        cmocka_unit_test(core_teardown_frees_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
