/* scst: SPC-2 RESERVE/RELEASE and persistent reservations across two
 * initiators: every PR OUT service action and reservation type, the access
 * matrix, unit attentions, and APTPL state surviving a core restart. */
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/test_scst_rig.h"

static struct rig *up(struct rig *r, const struct rig_opts *o)
{
    rig_up(r, o);
    clear_ua(r, r->s1);
    clear_ua(r, r->s2);
    return r;
}

static uint8_t status_of(struct res res)
{
    res_free(&res);
    return res.status;
}

/* ---- SPC-2 ------------------------------------------------------------------------------------- */

static struct res cmd6(struct rig *r, struct scst_session *s, uint8_t op)
{
    uint8_t c[6] = {op, 0, 0, 0, op == 0x1a ? 255 : 0, 0};
    if (op == 0x1a)
        c[2] = 0x3f;
    return run_cmd(r, s, 0, c, 6, NULL, 0);
}

static void reserve6_two_initiators(void **state)
{
    struct rig r;
    up(&r, NULL);
    expect_good(cmd6(&r, r.s1, 0x16));
    expect_good(cmd6(&r, r.s1, 0x16));
    assert_int_equal(status_of(cmd6(&r, r.s2, 0x16)), SAM_STAT_RESERVATION_CONFLICT);
    expect_good(cmd6(&r, r.s2, 0x17));                      /* a no-op */
    expect_good(cmd6(&r, r.s1, 0x1a));
    assert_int_equal(status_of(cmd6(&r, r.s2, 0x1a)), SAM_STAT_RESERVATION_CONFLICT);
    assert_int_equal(status_of(cmd6(&r, r.s2, 0x00)), SAM_STAT_RESERVATION_CONFLICT);
    assert_int_equal(status_of(read16(&r, r.s2, 0, 1)), SAM_STAT_RESERVATION_CONFLICT);
    uint8_t inq[6] = {0x12, 0, 0, 0, 36, 0};
    expect_good(run_cmd(&r, r.s2, 0, inq, 6, NULL, 0));
    uint8_t rl[12] = {0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0};
    expect_good(run_cmd(&r, r.s2, 0, rl, 12, NULL, 0));
    uint8_t read_keys[10] = {0x5e, 0, 0, 0, 0, 0, 0, 0, 64, 0};  /* PRIN reads through it */
    expect_good(run_cmd(&r, r.s2, 0, read_keys, 10, NULL, 0));
    uint8_t reg[10] = {0x5f, 0, 0, 0, 0, 0, 0, 0, 24, 0}, key[24] = {[15] = 1};
    assert_int_equal(status_of(run_cmd(&r, r.s2, 0, reg, 10, key, 24)),
                     SAM_STAT_RESERVATION_CONFLICT);
    expect_good(cmd6(&r, r.s1, 0x17));
    expect_good(cmd6(&r, r.s2, 0x16));
    /* the holder's nexus goes: the reservation with it */
    rig_close_session(&r, &r.s2);
    expect_good(cmd6(&r, r.s1, 0x16));
    /* LUN reset releases it too */
    int resp = -1;
    scst_tmf(r.s1, SCST_TMF_LUN_RESET, 0, 0, tmf_cb, &resp);
    mte_run_until_idle(r.e);
    int err;
    r.s2 = scst_session_new(r.core, TGT, INI2, PORT2, 1, &err);
    clear_ua(&r, r.s2);
    expect_good(cmd6(&r, r.s2, 0x16));
    /* and a target reset */
    scst_tmf(r.s1, SCST_TMF_TARGET_WARM_RESET, 0, 0, tmf_cb, &resp);
    mte_run_until_idle(r.e);
    clear_ua(&r, r.s1);
    expect_good(cmd6(&r, r.s1, 0x16));
    rig_down(&r);
}

/* ---- persistent reservations ---------------------------------------------------------------------- */

static struct res prout(struct rig *r, struct scst_session *s, uint8_t sa, uint8_t type, uint64_t rk,
                        uint64_t sark, uint8_t flags)
{
    uint8_t c[10] = {0x5f, sa, type};
    be32(c + 5, 24);
    uint8_t p[24] = {0};
    be64(p, rk);
    be64(p + 8, sark);
    p[20] = flags;
    return run_cmd(r, s, 0, c, 10, p, 24);
}

static struct res prin(struct rig *r, struct scst_session *s, uint8_t sa, uint16_t alloc)
{
    uint8_t c[10] = {0x5e, sa};
    be16(c + 7, alloc);
    return run_cmd(r, s, 0, c, 10, NULL, 0);
}

static uint32_t generation_via(struct rig *r, struct scst_session *s)
{
    struct res res = prin(r, s, 0, 1024);
    uint32_t g = rd32(res.data);
    res_free(&res);
    return g;
}

static unsigned nkeys_via(struct rig *r, struct scst_session *s)
{
    struct res res = prin(r, s, 0, 1024);
    unsigned n = rd32(res.data + 4) / 8;
    res_free(&res);
    return n;
}

static uint32_t generation(struct rig *r) { return generation_via(r, r->s1); }
static unsigned nkeys(struct rig *r) { return nkeys_via(r, r->s1); }

static void register_and_read_keys(void **state)
{
    struct rig r;
    up(&r, NULL);
    uint32_t g0 = generation(&r);
    expect_good(prout(&r, r.s1, 0, 0, 0, 0xabc, 0));
    assert_int_equal(generation(&r), g0 + 1);
    /* a registered nexus must name its key */
    assert_int_equal(status_of(prout(&r, r.s1, 0, 0, 0, 0xdef, 0)), SAM_STAT_RESERVATION_CONFLICT);
    expect_good(prout(&r, r.s1, 0, 0, 0xabc, 0xdef, 0));
    expect_good(prout(&r, r.s2, 6, 0, 0, 0x123, 0));        /* REGISTER AND IGNORE */
    struct res res = prin(&r, r.s1, 0, 1024);
    assert_int_equal(rd32(res.data + 4), 16);
    assert_int_equal(rd64(res.data + 8), 0xdef);
    assert_int_equal(rd64(res.data + 16), 0x123);
    res_free(&res);
    /* truncated: ADDITIONAL LENGTH still tells the whole */
    res = prin(&r, r.s1, 0, 8);
    assert_int_equal(res.len, 8);
    assert_int_equal(rd32(res.data + 4), 16);
    res_free(&res);
    /* unregister with SARK 0 */
    expect_good(prout(&r, r.s2, 0, 0, 0x123, 0, 0));
    assert_int_equal(nkeys(&r), 1);
    /* unregistering an unregistered nexus does nothing */
    expect_good(prout(&r, r.s2, 0, 0, 0, 0, 0));
    /* REPORT CAPABILITIES, service action range, parameter list length */
    res = prin(&r, r.s1, 2, 8);
    assert_int_equal(rd16(res.data), 8);
    assert_int_equal(res.data[4], 0xea);
    assert_int_equal(res.data[5], 0x01);
    assert_true(((res.data[3] >> 4) & 7) <= 5);
    res_free(&res);
    for (uint8_t sa = 4; sa < 0x20; sa++)
        assert_sense(prin(&r, r.s1, sa, 64), 0x5, 0x2400);
    uint8_t c[10] = {0x5f, 0x01, 0x01};
    be32(c + 5, 20);
    assert_sense(run_cmd(&r, r.s1, 0, c, 10, NULL, 0), 0x5, 0x1a00);
    rig_down(&r);
}

enum { WE = 1, EA = 3, WERO = 5, EARO = 6, WEAR = 7, EAAR = 8 };

static bool can_read(struct rig *r, struct scst_session *s)
{
    struct res res = read16(r, s, 1, 1);
    res_free(&res);
    return res.status == SAM_STAT_GOOD;
}

static bool can_write(struct rig *r, struct scst_session *s)
{
    uint8_t *b = calloc(1, r->bs);
    struct res res = write16(r, s, 1, 1, b);
    free(b);
    res_free(&res);
    if (res.status != SAM_STAT_GOOD)
        assert_int_equal(res.status, SAM_STAT_RESERVATION_CONFLICT);
    return res.status == SAM_STAT_GOOD;
}

/* libiscsi's access tests: both register (the same key), s1 reserves. */
static void access_matrix(void **state)
{
    static const struct { uint8_t type; bool reg_r, reg_w, unreg_r, unreg_w; } m[] = {
        {EA, 0, 0, 0, 0}, {WE, 1, 0, 1, 0}, {EARO, 1, 1, 0, 0},
        {WERO, 1, 1, 1, 0}, {EAAR, 1, 1, 0, 0}, {WEAR, 1, 1, 1, 0},
    };
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        struct rig r;
        up(&r, NULL);
        uint64_t k = 0x1234;
        expect_good(prout(&r, r.s1, 6, 0, 0, k, 0));
        expect_good(prout(&r, r.s2, 6, 0, 0, k, 0));
        expect_good(prout(&r, r.s1, 1, m[i].type, k, 0, 0));
        struct res rr = prin(&r, r.s2, 1, 64);
        assert_int_equal(rd32(rr.data + 4), 16);
        assert_int_equal(rd64(rr.data + 8), m[i].type >= WEAR ? 0 : k);
        assert_int_equal(rr.data[21], m[i].type);
        res_free(&rr);
        assert_true(can_read(&r, r.s1) && can_write(&r, r.s1));
        assert_int_equal(can_read(&r, r.s2), m[i].reg_r);
        assert_int_equal(can_write(&r, r.s2), m[i].reg_w);
        expect_good(prout(&r, r.s2, 0, 0, k, 0, 0));
        assert_int_equal(can_read(&r, r.s2), m[i].unreg_r);
        assert_int_equal(can_write(&r, r.s2), m[i].unreg_w);
        /* PR IN, INQUIRY and TEST UNIT READY are always allowed */
        struct res keys = prin(&r, r.s2, 0, 64);
        assert_good(keys);
        res_free(&keys);
        uint8_t tur[6] = {0};
        expect_good(run_cmd(&r, r.s2, 0, tur, 6, NULL, 0));
        /* SPC-2 reservations conflict with registrations */
        assert_int_equal(status_of(cmd6(&r, r.s1, 0x16)), SAM_STAT_RESERVATION_CONFLICT);
        expect_good(prout(&r, r.s1, 2, m[i].type, k, 0, 0));
        expect_good(prout(&r, r.s1, 0, 0, k, 0, 0));
        rig_down(&r);
    }
}

/* Unregistering the holder: registrants-only types release (with a unit
 * attention for the others), all-registrants types stay. */
static void ownership(void **state)
{
    static const uint8_t types[] = {EA, WE, EARO, WERO, EAAR, WEAR};
    for (size_t i = 0; i < sizeof(types); i++) {
        struct rig r;
        up(&r, NULL);
        uint8_t t = types[i];
        expect_good(prout(&r, r.s1, 6, 0, 0, 1, 0));
        expect_good(prout(&r, r.s2, 6, 0, 0, 2, 0));
        expect_good(prout(&r, r.s1, 1, t, 1, 0, 0));
        expect_good(prout(&r, r.s1, 0, 0, 1, 0, 0));
        struct res rr = prin(&r, r.s1, 1, 64);
        bool shared = t == EAAR || t == WEAR;
        assert_int_equal(rd32(rr.data + 4), shared ? 16 : 0);
        res_free(&rr);
        uint8_t tur[6] = {0};
        if (t == EARO || t == WERO)
            assert_sense(run_cmd(&r, r.s2, 0, tur, 6, NULL, 0), 0x6, 0x2a04);
        if (shared)
            expect_good(prout(&r, r.s2, 2, t, 2, 0, 0));
        expect_good(prout(&r, r.s2, 0, 0, 2, 0, 0));
        rig_down(&r);
    }
}

static void reserve_release_rules(void **state)
{
    struct rig r;
    up(&r, NULL);
    /* unregistered, wrong key */
    assert_int_equal(status_of(prout(&r, r.s1, 1, WE, 5, 0, 0)), SAM_STAT_RESERVATION_CONFLICT);
    expect_good(prout(&r, r.s1, 0, 0, 0, 5, 0));
    expect_good(prout(&r, r.s2, 0, 0, 0, 6, 0));
    assert_int_equal(status_of(prout(&r, r.s1, 1, WE, 6, 0, 0)), SAM_STAT_RESERVATION_CONFLICT);
    /* bad scope or type */
    assert_sense(prout(&r, r.s1, 1, 0x11, 5, 0, 0), 0x5, 0x2400);
    assert_sense(prout(&r, r.s1, 1, 2, 5, 0, 0), 0x5, 0x2400);
    expect_good(prout(&r, r.s1, 1, WE, 5, 0, 0));
    expect_good(prout(&r, r.s1, 1, WE, 5, 0, 0));          /* same again: fine */
    assert_int_equal(status_of(prout(&r, r.s1, 1, EA, 5, 0, 0)), SAM_STAT_RESERVATION_CONFLICT);
    assert_int_equal(status_of(prout(&r, r.s2, 1, WE, 6, 0, 0)), SAM_STAT_RESERVATION_CONFLICT);
    uint32_t g = generation(&r);
    expect_good(prout(&r, r.s2, 2, WE, 6, 0, 0));          /* not the holder: nothing */
    assert_sense(prout(&r, r.s1, 2, EA, 5, 0, 0), 0x5, 0x2604);
    expect_good(prout(&r, r.s1, 2, WE, 5, 0, 0));
    assert_int_equal(generation(&r), g);                   /* RESERVE/RELEASE keep it */
    /* CLEAR: everything goes, the others hear RESERVATIONS PREEMPTED */
    expect_good(prout(&r, r.s1, 1, WERO, 5, 0, 0));
    expect_good(prout(&r, r.s1, 3, 0, 5, 0, 0));
    assert_int_equal(nkeys(&r), 0);
    assert_int_equal(generation(&r), g + 1);
    uint8_t tur[6] = {0};
    assert_sense(run_cmd(&r, r.s2, 0, tur, 6, NULL, 0), 0x6, 0x2a03);
    rig_down(&r);
}

static void preempt(void **state)
{
    struct rig r;
    up(&r, NULL);
    /* libiscsi: both nexuses register the same key; s2 preempts it */
    uint64_t k = 0x77;
    expect_good(prout(&r, r.s1, 6, 0, 0, k, 0));
    expect_good(prout(&r, r.s2, 6, 0, 0, k, 0));
    uint32_t g = generation(&r);
    expect_good(prout(&r, r.s2, 4, EA, k, k, 0));
    assert_int_equal(generation_via(&r, r.s2), g + 1);
    assert_int_equal(nkeys_via(&r, r.s2), 1);
    uint8_t tur[6] = {0};
    assert_sense(run_cmd(&r, r.s1, 0, tur, 6, NULL, 0), 0x6, 0x2a05);
    /* preempting the holder takes the reservation */
    expect_good(prout(&r, r.s1, 0, 0, 0, 0x88, 0));
    expect_good(prout(&r, r.s1, 1, WE, 0x88, 0, 0));
    expect_good(prout(&r, r.s2, 4, EA, k, 0x88, 0));
    struct res rr = prin(&r, r.s2, 1, 64);
    assert_int_equal(rd64(rr.data + 8), k);
    assert_int_equal(rr.data[21], EA);
    res_free(&rr);
    assert_int_equal(nkeys_via(&r, r.s2), 1);
    /* nothing to preempt, SARK 0 without a reservation of all registrants */
    assert_int_equal(status_of(prout(&r, r.s2, 4, EA, k, 0x99, 0)), SAM_STAT_RESERVATION_CONFLICT);
    assert_sense(prout(&r, r.s2, 4, EA, k, 0, 0), 0x5, 0x2600);
    /* all registrants: SARK 0 preempts everyone else */
    expect_good(prout(&r, r.s2, 2, EA, k, 0, 0));
    clear_ua(&r, r.s1);
    expect_good(prout(&r, r.s1, 0, 0, 0, 0x55, 0));
    expect_good(prout(&r, r.s2, 1, WEAR, k, 0, 0));
    expect_good(prout(&r, r.s2, 4, WE, k, 0, 0));
    assert_int_equal(nkeys_via(&r, r.s2), 1);
    rr = prin(&r, r.s2, 1, 64);
    assert_int_equal(rr.data[21], WE);
    res_free(&rr);
    rig_down(&r);
}

static void preempt_and_abort(void **state)
{
    struct rig r;
    struct rig_opts o = {.simdisk = true, .latency = 5 * MTE_MSEC, .size = 16 * MIB};
    up(&r, &o);
    expect_good(prout(&r, r.s1, 0, 0, 0, 1, 0));
    expect_good(prout(&r, r.s2, 0, 0, 0, 2, 0));
    expect_good(prout(&r, r.s1, 1, WE, 1, 0, 0));
    /* s1 has reads queued behind an ORDERED one when s2 preempts and aborts */
    struct tcmd t[3];
    uint8_t c[16];
    cdb_rw16(c, 0x88, 0, 1, 0);
    assert_int_equal(tcmd_start(&t[0], r.s1, 0, c, 16, NULL, 0, SCSI_TASK_SIMPLE), 0);
    assert_int_equal(tcmd_start(&t[1], r.s1, 0, c, 16, NULL, 0, SCSI_TASK_ORDERED), 0);
    assert_int_equal(tcmd_start(&t[2], r.s1, 0, c, 16, NULL, 0, SCSI_TASK_SIMPLE), 0);
    uint8_t pc[10] = {0x5f, 0x05, EA};
    be32(pc + 5, 24);
    uint8_t p[24] = {0};
    be64(p, 2);
    be64(p + 8, 1);
    struct tcmd pa;
    assert_int_equal(tcmd_start(&pa, r.s2, 0, pc, 10, p, 24, SCSI_TASK_HEAD_OF_QUEUE), 0);
    mte_run_until_idle(r.e);
    struct res res;
    tcmd_finish(&pa, &res);
    assert_good(res);
    res_free(&res);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(t[i].done, 1);
        tcmd_finish(&t[i], &res);
        assert_true(res.aborted);
        res_free(&res);
    }
    /* TAS is 0: s1 learns its commands were cleared by another initiator */
    uint8_t tur[6] = {0};
    assert_sense(run_cmd(&r, r.s1, 0, tur, 6, NULL, 0), 0x6, 0x2f00);
    assert_sense(run_cmd(&r, r.s1, 0, tur, 6, NULL, 0), 0x6, 0x2a05);
    assert_int_equal(nkeys(&r), 1);
    rig_down(&r);
}

static void register_and_move_and_spec_i_pt(void **state)
{
    struct rig r;
    up(&r, NULL);
    /* SPEC_I_PT registers s2's port along with s1 */
    uint8_t c[10] = {0x5f, 0x00};
    uint8_t p[24 + 4 + 64] = {0};
    be64(p + 8, 0x10);
    p[20] = 0x08;
    size_t n = strlen(PORT2);
    uint8_t *tid = p + 28;
    tid[0] = 0x45;
    be16(tid + 2, 48);
    memcpy(tid + 4, PORT2, n);
    be32(p + 24, 52);
    be32(c + 5, 24 + 4 + 52);
    expect_good(run_cmd(&r, r.s1, 0, c, 10, p, 24 + 4 + 52));
    assert_int_equal(nkeys(&r), 2);
    struct res fs = prin(&r, r.s1, 3, 1024);     /* READ FULL STATUS */
    assert_good(fs);
    assert_int_equal(fs.data[8 + 24] & 0x0f, 0x05);
    res_free(&fs);
    expect_good(prout(&r, r.s2, 0, 0, 0x10, 0, 0)); /* s2 is registered: it can unregister */
    /* REGISTER AND MOVE the reservation to s2 */
    expect_good(prout(&r, r.s1, 1, WE, 0x10, 0, 0));
    uint8_t mc[10] = {0x5f, 0x07, WE};
    uint8_t mp[24 + 52] = {0};
    be64(mp, 0x10);
    be64(mp + 8, 0x20);
    mp[17] = 0x02;                                   /* UNREG */
    be16(mp + 18, 1);
    be32(mp + 20, 52);
    memcpy(mp + 24, tid, 52);
    be32(mc + 5, sizeof(mp));
    expect_good(run_cmd(&r, r.s1, 0, mc, 10, mp, sizeof(mp)));
    struct res rr = prin(&r, r.s2, 1, 64);
    assert_int_equal(rd64(rr.data + 8), 0x20);
    res_free(&rr);
    assert_int_equal(nkeys(&r), 1);
    assert_false(can_write(&r, r.s1));
    assert_true(can_write(&r, r.s2));
    rig_down(&r);
}

static void aptpl_survives_restart(void **state)
{
    char dir[] = "/tmp/scst-pr-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct rig r;
    struct rig_opts o = {.state_dir = dir};
    up(&r, &o);
    expect_good(prout(&r, r.s1, 0, 0, 0, 0xaa, 0x01));
    expect_good(prout(&r, r.s2, 0, 0, 0, 0xbb, 0x01));
    expect_good(prout(&r, r.s1, 1, WERO, 0xaa, 0, 0));
    uint32_t g = generation(&r);
    /* restart the core: same device, new sessions */
    rig_close_session(&r, &r.s1);
    rig_close_session(&r, &r.s2);
    scst_core_free(r.core);
    r.core = scst_core_new(r.n);
    scst_core_set_state_dir(r.core, dir);
    assert_int_equal(scst_target_add(r.core, TGT), 0);
    scst_target_enable(r.core, TGT, true);
    struct scst_device_opts d = {.name = "disk0", .bdev = tcmu_dev_name(r.td)};
    assert_int_equal(scst_device_add(r.core, &d, NULL, 0), 0);
    assert_int_equal(scst_lun_add(r.core, TGT, NULL, 0, "disk0", false), 0);
    int err;
    r.s1 = scst_session_new(r.core, TGT, INI1, PORT1, 1, &err);
    r.s2 = scst_session_new(r.core, TGT, INI2, PORT2, 1, &err);
    clear_ua(&r, r.s1);
    clear_ua(&r, r.s2);
    assert_int_equal(nkeys(&r), 2);
    assert_int_equal(generation(&r), g);
    struct res rr = prin(&r, r.s1, 1, 64);
    assert_int_equal(rd64(rr.data + 8), 0xaa);
    assert_int_equal(rr.data[21], WERO);
    res_free(&rr);
    rr = prin(&r, r.s1, 2, 8);
    assert_int_equal(rr.data[3] & 0x01, 0x01);     /* PTPL_A */
    res_free(&rr);
    assert_true(can_write(&r, r.s2));
    /* dropping APTPL forgets the state on the next restart */
    expect_good(prout(&r, r.s1, 0, 0, 0xaa, 0xaa, 0x00));
    rig_close_session(&r, &r.s1);
    rig_close_session(&r, &r.s2);
    scst_core_free(r.core);
    r.core = scst_core_new(r.n);
    scst_core_set_state_dir(r.core, dir);
    assert_int_equal(scst_target_add(r.core, TGT), 0);
    scst_target_enable(r.core, TGT, true);
    assert_int_equal(scst_device_add(r.core, &d, NULL, 0), 0);
    assert_int_equal(scst_lun_add(r.core, TGT, NULL, 0, "disk0", false), 0);
    r.s1 = scst_session_new(r.core, TGT, INI1, PORT1, 1, &err);
    clear_ua(&r, r.s1);
    assert_int_equal(nkeys(&r), 0);
    rig_close_session(&r, &r.s1);
    scst_core_free(r.core);
    r.core = NULL;
    tcmu_host_free(r.h);
    assert_int_equal(umc_node_free(r.n), 0);
    mte_engine_free(r.e);
    char path[128];
    snprintf(path, sizeof(path), "%s/pr_disk0", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/mode_disk0", dir);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reserve6_two_initiators),
        cmocka_unit_test(register_and_read_keys),
        cmocka_unit_test(access_matrix),
        cmocka_unit_test(ownership),
        cmocka_unit_test(reserve_release_rules),
        cmocka_unit_test(preempt),
        cmocka_unit_test(preempt_and_abort),
        cmocka_unit_test(register_and_move_and_spec_i_pt),
        cmocka_unit_test(aptpl_survives_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
