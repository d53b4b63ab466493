/* scst: who gets a unit attention (the rule is at the top of scst_session.c).
 *
 * A command that changes shared state (MODE SELECT, a medium load, PERSISTENT
 * RESERVE OUT) is answered by its own status: every other I_T nexus of the LU
 * gets the unit attention, be it another initiator or the same initiator
 * through another session (ISID).  A reset (LOGICAL UNIT RESET, TARGET
 * WARM/COLD RESET) gives every I_T nexus one, its issuer's included.  A lost
 * I_T nexus that logs in again is told I_T NEXUS LOSS OCCURRED. */
#include "tests/unit/test_scst_rig.h"

#define PORT1B INI1 ",i,0x230000000003" /* the first initiator through a second session */

static const uint8_t tur[6] = {0};

static struct scst_session *session(struct rig *r, const char *ini, const char *port)
{
    int err = 1;
    struct scst_session *s = scst_session_new(r->core, TGT, ini, port, 1, &err);
    assert_non_null(s);
    assert_int_equal(err, 0);
    return s;
}

/* Two initiators, plus the first one again through a second session. */
static void up3(struct rig *r, const struct rig_opts *o, struct scst_session **s1b)
{
    rig_up(r, o);
    *s1b = session(r, INI1, PORT1B);
    clear_ua(r, r->s1);
    clear_ua(r, r->s2);
    clear_ua(r, *s1b);
}

static void down3(struct rig *r, struct scst_session **s1b)
{
    rig_close_session(r, s1b);
    rig_down(r);
}

static void expect_ua(struct rig *r, struct scst_session *s, uint64_t lun, uint16_t asc)
{
    assert_sense(run_cmd(r, s, lun, tur, 6, NULL, 0), 0x6, asc);
}

static void expect_no_ua(struct rig *r, struct scst_session *s, uint64_t lun)
{
    expect_good(run_cmd(r, s, lun, tur, 6, NULL, 0));
}

static void clear_ua_lun(struct rig *r, struct scst_session *s, uint64_t lun)
{
    for (int i = 0; i < 10; i++) {
        struct res res = run_cmd(r, s, lun, tur, 6, NULL, 0);
        bool good = res.status == SAM_STAT_GOOD;
        res_free(&res);
        if (good)
            return;
    }
    fail_msg("unit attentions do not clear");
}

static int tmf(struct rig *r, struct scst_session *s, enum scst_tmf fn, uint64_t lun)
{
    int resp = -1;
    scst_tmf(s, fn, lun, 0, tmf_cb, &resp);
    mte_run_until_idle(r->e);
    return resp;
}

/* MODE SELECT(6) of the control page with SWP (byte 4 bit 3) as given. */
static struct res select_swp(struct rig *r, struct scst_session *s, bool swp)
{
    uint8_t ms[6] = {0x1a, 0x08, 0x0a, 0, 255, 0};
    struct res cur = run_cmd(r, s, 0, ms, 6, NULL, 0);
    assert_good(cur);
    uint8_t sel[16] = {0};
    memcpy(sel + 4, cur.data + 4, 12);
    res_free(&cur);
    sel[4] &= 0x7f;
    sel[4 + 4] = (uint8_t)((sel[4 + 4] & ~0x08) | (swp ? 0x08 : 0));
    uint8_t msel[6] = {0x15, 0x10, 0, 0, 16, 0};
    return run_cmd(r, s, 0, msel, 6, sel, 16);
}

/* ---- resets ----------------------------------------------------------------------------------- */

static void lun_reset_reaches_every_nexus(void **state)
{
    struct rig r;
    struct scst_session *s1b;
    up3(&r, NULL, &s1b);
    assert_int_equal(tmf(&r, r.s1, SCST_TMF_LUN_RESET, 0), SCST_TMF_COMPLETE);
    expect_ua(&r, r.s1, 0, 0x2903);            /* the issuer too (SAM-5 6.3.3) */
    expect_ua(&r, r.s2, 0, 0x2903);            /* another initiator */
    expect_ua(&r, s1b, 0, 0x2903);             /* the same initiator, another I_T nexus */
    expect_no_ua(&r, r.s1, 0);
    expect_no_ua(&r, r.s2, 0);
    expect_no_ua(&r, s1b, 0);
    down3(&r, &s1b);
}

/* A reset supersedes what was pending, on every nexus. */
static void reset_supersedes_pending_unit_attentions(void **state)
{
    struct rig r;
    struct scst_session *s1b;
    up3(&r, NULL, &s1b);
    expect_good(select_swp(&r, r.s2, true));   /* s1 and s1b: MODE PARAMETERS CHANGED pending */
    assert_int_equal(tmf(&r, r.s1, SCST_TMF_LUN_RESET, 0), SCST_TMF_COMPLETE);
    struct scst_session *all[] = {r.s1, r.s2, s1b};
    for (int i = 0; i < 3; i++) {
        expect_ua(&r, all[i], 0, 0x2903);
        expect_no_ua(&r, all[i], 0);
    }
    /* the reset put SWP back to its saved value (off) */
    uint8_t ms[6] = {0x1a, 0x08, 0x0a, 0, 255, 0};
    struct res cur = run_cmd(&r, r.s1, 0, ms, 6, NULL, 0);
    assert_good(cur);
    assert_int_equal(cur.data[4 + 4] & 0x08, 0);
    res_free(&cur);
    down3(&r, &s1b);
}

static void target_resets_reach_every_lu_and_nexus(void **state)
{
    struct rig r;
    struct scst_session *s1b;
    struct rig_opts o = {0};
    rig_up(&r, &o);
    rig_add_device(&r, "disk1", &(struct rig_opts){.size = 16 * MIB, .block_size = 4096}, 1);
    s1b = session(&r, INI1, PORT1B);
    struct scst_session *all[] = {r.s1, r.s2, s1b};
    for (uint64_t lun = 0; lun < 2; lun++)
        for (int i = 0; i < 3; i++)
            clear_ua_lun(&r, all[i], lun);
    assert_int_equal(tmf(&r, r.s2, SCST_TMF_TARGET_WARM_RESET, 0), SCST_TMF_COMPLETE);
    for (uint64_t lun = 0; lun < 2; lun++)
        for (int i = 0; i < 3; i++) {
            expect_ua(&r, all[i], lun, 0x2902);
            expect_no_ua(&r, all[i], lun);
        }
    assert_int_equal(tmf(&r, s1b, SCST_TMF_TARGET_COLD_RESET, 0), SCST_TMF_COMPLETE);
    for (uint64_t lun = 0; lun < 2; lun++)
        for (int i = 0; i < 3; i++)
            expect_ua(&r, all[i], lun, 0x2901);
    down3(&r, &s1b);
}

/* ---- MODE SELECT ---------------------------------------------------------------------------------- */

static void mode_select_requester_vs_others(void **state)
{
    struct rig r;
    struct scst_session *s1b;
    up3(&r, NULL, &s1b);
    expect_good(select_swp(&r, r.s1, true));
    expect_no_ua(&r, r.s1, 0);
    expect_ua(&r, r.s2, 0, 0x2a01);
    expect_ua(&r, s1b, 0, 0x2a01);
    /* selecting the values already current changes nothing: nobody is told */
    expect_good(select_swp(&r, r.s2, true));
    expect_no_ua(&r, r.s1, 0);
    expect_no_ua(&r, s1b, 0);
    expect_good(select_swp(&r, s1b, false));
    expect_no_ua(&r, s1b, 0);
    expect_ua(&r, r.s1, 0, 0x2a01);
    expect_ua(&r, r.s2, 0, 0x2a01);
    down3(&r, &s1b);
}

/* ---- removable medium ----------------------------------------------------------------------------- */

static struct res start_stop(struct rig *r, struct scst_session *s, bool load)
{
    uint8_t c[6] = {0x1b, 0, 0, 0, (uint8_t)(0x02 | (load ? 0x01 : 0)), 0};
    return run_cmd(r, s, 0, c, 6, NULL, 0);
}

static void medium_load_and_eject(void **state)
{
    struct rig r;
    struct scst_session *s1b;
    struct rig_opts o = {.removable = true};
    up3(&r, &o, &s1b);
    /* eject: no unit attention, the others find the medium gone */
    expect_good(start_stop(&r, r.s1, false));
    assert_sense(run_cmd(&r, r.s1, 0, tur, 6, NULL, 0), 0x2, 0x3a00);
    assert_sense(run_cmd(&r, r.s2, 0, tur, 6, NULL, 0), 0x2, 0x3a00);
    assert_sense(run_cmd(&r, s1b, 0, tur, 6, NULL, 0), 0x2, 0x3a00);
    /* load: NOT READY TO READY CHANGE for every nexus but the loader */
    expect_good(start_stop(&r, r.s1, true));
    expect_no_ua(&r, r.s1, 0);
    expect_ua(&r, r.s2, 0, 0x2800);
    expect_ua(&r, s1b, 0, 0x2800);
    expect_no_ua(&r, r.s2, 0);
    /* loading a loaded medium is no event */
    expect_good(start_stop(&r, r.s2, true));
    expect_no_ua(&r, r.s1, 0);
    expect_no_ua(&r, s1b, 0);
    down3(&r, &s1b);
}

/* ---- persistent reservations ------------------------------------------------------------------------ */

static struct res prout(struct rig *r, struct scst_session *s, uint8_t sa, uint8_t type, uint64_t rk,
                        uint64_t sark)
{
    uint8_t c[10] = {0x5f, sa, type, 0, 0, 0, 0, 0, 24, 0};
    uint8_t param[24] = {0};
    be64(param, rk);
    be64(param + 8, sark);
    return run_cmd(r, s, 0, c, 10, param, 24);
}

static void pr_clear_requester_vs_registrants(void **state)
{
    struct rig r;
    struct scst_session *s1b;
    up3(&r, NULL, &s1b);
    expect_good(prout(&r, r.s1, 0x00, 0, 0, 0xa1));
    expect_good(prout(&r, r.s2, 0x00, 0, 0, 0xb2));
    expect_good(prout(&r, s1b, 0x00, 0, 0, 0xa3));
    expect_good(prout(&r, r.s1, 0x01, 0x05, 0xa1, 0)); /* WRITE EXCLUSIVE, REGISTRANTS ONLY */
    expect_good(prout(&r, r.s1, 0x03, 0, 0xa1, 0));    /* CLEAR */
    expect_no_ua(&r, r.s1, 0);
    expect_ua(&r, r.s2, 0, 0x2a03);
    expect_ua(&r, s1b, 0, 0x2a03);
    down3(&r, &s1b);
}

/* ---- I_T nexus loss ----------------------------------------------------------------------------------- */

static void nexus_loss_and_return(void **state)
{
    struct rig r;
    struct scst_session *s1b;
    struct rig_opts o = {.removable = true};
    up3(&r, &o, &s1b);
    uint8_t prevent[6] = {0x1e, 0, 0, 0, 1, 0};
    expect_good(run_cmd(&r, s1b, 0, prevent, 6, NULL, 0));
    assert_sense(start_stop(&r, r.s2, false), 0x5, 0x5302);
    rig_close_session(&r, &s1b);
    /* the others are told nothing; the lost nexus' PREVENT is gone */
    expect_no_ua(&r, r.s1, 0);
    expect_no_ua(&r, r.s2, 0);
    expect_good(start_stop(&r, r.s2, false));
    expect_good(start_stop(&r, r.s2, true));
    clear_ua(&r, r.s1);
    /* the same I_T nexus again: I_T NEXUS LOSS OCCURRED, once */
    s1b = session(&r, INI1, PORT1B);
    expect_ua(&r, s1b, 0, 0x2907);
    expect_no_ua(&r, s1b, 0);
    rig_close_session(&r, &s1b);
    /* another ISID is another I_T nexus: a new one starts without a UA */
    s1b = session(&r, INI1, INI1 ",i,0x230000000009");
    expect_no_ua(&r, s1b, 0);
    rig_close_session(&r, &s1b);
    /* and another target port too */
    int err = 1;
    s1b = scst_session_new(r.core, TGT, INI1, PORT1B, 2, &err);
    assert_non_null(s1b);
    expect_no_ua(&r, s1b, 0);
    down3(&r, &s1b);
}

/* Only the newest SCST_LOST_NEXUS_MAX (64) lost nexuses are remembered. */
static void lost_nexus_memory_is_bounded(void **state)
{
    struct rig r;
    struct scst_session *s1b;
    up3(&r, NULL, &s1b);
    char port[96];
    for (int i = 0; i < 70; i++) {
        snprintf(port, sizeof(port), INI1 ",i,0x2400000000%02x", i);
        struct scst_session *s = session(&r, INI1, port);
        rig_close_session(&r, &s);
    }
    snprintf(port, sizeof(port), INI1 ",i,0x2400000000%02x", 0); /* forgotten: new */
    struct scst_session *s = session(&r, INI1, port);
    expect_no_ua(&r, s, 0);
    rig_close_session(&r, &s);
    snprintf(port, sizeof(port), INI1 ",i,0x2400000000%02x", 69); /* remembered */
    s = session(&r, INI1, port);
    expect_ua(&r, s, 0, 0x2907);
    rig_close_session(&r, &s);
    down3(&r, &s1b); /* the memory goes with the core: no leak */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lun_reset_reaches_every_nexus),
        cmocka_unit_test(reset_supersedes_pending_unit_attentions),
        cmocka_unit_test(target_resets_reach_every_lu_and_nexus),
        cmocka_unit_test(mode_select_requester_vs_others),
        cmocka_unit_test(medium_load_and_eject),
        cmocka_unit_test(pr_clear_requester_vs_registrants),
        cmocka_unit_test(nexus_loss_and_return),
        cmocka_unit_test(lost_nexus_memory_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
