/* mte_sim: ordering, determinism per seed, timers, cancel, owners, streams. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mte_sim/mte_moderate.h"
#include "mte_sim/mte_sim.h"

#define N_TIMERS 64

struct order_log {
    struct mte_engine *e;
    int seen[N_TIMERS * 2];
    mte_time_t at[N_TIMERS * 2];
    int count;
};

struct tagged {
    struct order_log *log;
    int id;
    struct mte_timer t;
};

static void record(void *arg)
{
    struct tagged *tg = arg;
    tg->log->at[tg->log->count] = mte_now(tg->log->e);
    tg->log->seen[tg->log->count++] = tg->id;
}

/* 64 timers in 4 groups sharing a due time: ties are where seeds differ. */
static uint64_t run_ties(uint64_t seed, int *order_out)
{
    struct order_log log = {0};
    struct tagged tags[N_TIMERS];
    log.e = mte_engine_new(MTE_CLOCK_VIRTUAL, seed);
    for (int i = 0; i < N_TIMERS; i++) {
        tags[i] = (struct tagged){.log = &log, .id = i};
        mte_timer_init(&tags[i].t, record, &tags[i], NULL);
        mte_timer_arm(log.e, &tags[i].t, (mte_time_t)(i % 4) * MTE_MSEC);
    }
    mte_run_until_idle(log.e);
    assert_int_equal(log.count, N_TIMERS);
    if (order_out)
        memcpy(order_out, log.seen, sizeof(int) * N_TIMERS);
    uint64_t h = mte_hash(log.e);
    mte_engine_free(log.e);
    return h;
}

static void same_seed_same_order_and_hash(void **state)
{
    int a[N_TIMERS], b[N_TIMERS];
    uint64_t ha = run_ties(42, a), hb = run_ties(42, b);
    assert_memory_equal(a, b, sizeof(a));
    assert_int_equal(ha, hb);
}

static void other_seed_other_order(void **state)
{
    int a[N_TIMERS], b[N_TIMERS];
    uint64_t ha = run_ties(1, a), hb = run_ties(2, b);
    assert_memory_not_equal(a, b, sizeof(a));
    assert_int_not_equal(ha, hb);
}

static void timers_fire_in_time_order(void **state)
{
    struct order_log log = {0};
    struct tagged tags[N_TIMERS];
    log.e = mte_engine_new(MTE_CLOCK_VIRTUAL, 7);
    for (int i = 0; i < N_TIMERS; i++) {
        tags[i] = (struct tagged){.log = &log, .id = i};
        mte_timer_init(&tags[i].t, record, &tags[i], NULL);
        /* a scrambled but distinct due time per timer */
        mte_timer_arm(log.e, &tags[i].t, (mte_time_t)((i * 37) % N_TIMERS + 1) * MTE_USEC);
    }
    mte_run_until_idle(log.e);
    assert_int_equal(log.count, N_TIMERS);
    for (int i = 1; i < log.count; i++)
        assert_true(log.at[i - 1] < log.at[i]);
    assert_int_equal(mte_now(log.e), (mte_time_t)N_TIMERS * MTE_USEC);
    mte_engine_free(log.e);
}

static void cancel_and_rearm(void **state)
{
    struct order_log log = {0};
    struct tagged tags[8];
    log.e = mte_engine_new(MTE_CLOCK_VIRTUAL, 3);
    for (int i = 0; i < 8; i++) {
        tags[i] = (struct tagged){.log = &log, .id = i};
        mte_timer_init(&tags[i].t, record, &tags[i], NULL);
        mte_timer_arm(log.e, &tags[i].t, (mte_time_t)(i + 1) * MTE_SEC);
    }
    assert_true(mte_timer_cancel(log.e, &tags[2].t));
    assert_false(mte_timer_cancel(log.e, &tags[2].t));
    assert_false(mte_timer_armed(&tags[2].t));
    mte_timer_arm(log.e, &tags[5].t, 20 * MTE_SEC); /* re-arm moves it last */
    mte_run_until_idle(log.e);
    int expect[] = {0, 1, 3, 4, 6, 7, 5};
    assert_int_equal(log.count, 7);
    assert_memory_equal(log.seen, expect, sizeof(expect));
    mte_engine_free(log.e);
}

static void run_until_stops_at_time(void **state)
{
    struct order_log log = {0};
    struct tagged tags[3];
    log.e = mte_engine_new(MTE_CLOCK_VIRTUAL, 3);
    for (int i = 0; i < 3; i++) {
        tags[i] = (struct tagged){.log = &log, .id = i};
        mte_timer_init(&tags[i].t, record, &tags[i], NULL);
        mte_timer_arm(log.e, &tags[i].t, (mte_time_t)(i + 1) * MTE_SEC);
    }
    mte_run_until(log.e, 2 * MTE_SEC + 1);
    assert_int_equal(log.count, 2);
    assert_int_equal(mte_now(log.e), 2 * MTE_SEC + 1);
    assert_int_equal(mte_next_timer(log.e), 3 * MTE_SEC);
    mte_run_until_idle(log.e);
    assert_int_equal(log.count, 3);
    mte_engine_free(log.e);
}

static void deferred_calls_are_fifo_and_before_timers(void **state)
{
    struct order_log log = {0};
    struct tagged tags[5];
    log.e = mte_engine_new(MTE_CLOCK_VIRTUAL, 9);
    for (int i = 0; i < 5; i++)
        tags[i] = (struct tagged){.log = &log, .id = i};
    mte_timer_init(&tags[0].t, record, &tags[0], NULL);
    mte_timer_arm(log.e, &tags[0].t, 0);
    mte_defer_low(log.e, NULL, record, &tags[4]);
    mte_defer(log.e, NULL, record, &tags[1]);
    mte_defer(log.e, NULL, record, &tags[2]);
    mte_defer(log.e, NULL, record, &tags[3]);
    mte_run_until_idle(log.e);
    int expect[] = {1, 2, 3, 4, 0};
    assert_memory_equal(log.seen, expect, sizeof(expect));
    mte_engine_free(log.e);
}

static void cancel_owner_drops_everything(void **state)
{
    struct order_log log = {0};
    struct tagged tags[40];
    int owner_a, owner_b;
    log.e = mte_engine_new(MTE_CLOCK_VIRTUAL, 11);
    for (int i = 0; i < 40; i++) {
        tags[i] = (struct tagged){.log = &log, .id = i};
        mte_timer_init(&tags[i].t, record, &tags[i], i % 2 ? &owner_a : &owner_b);
        mte_timer_arm(log.e, &tags[i].t, (mte_time_t)(40 - i) * MTE_MSEC);
    }
    mte_defer(log.e, &owner_a, record, &tags[1]);
    mte_defer(log.e, &owner_b, record, &tags[0]);
    mte_cancel_owner(log.e, &owner_a);
    for (int i = 1; i < 40; i += 2)
        assert_false(mte_timer_armed(&tags[i].t));
    mte_run_until_idle(log.e);
    assert_int_equal(log.count, 21);
    for (int i = 0; i < log.count; i++)
        assert_int_equal(log.seen[i] % 2, 0);
    for (int i = 2; i < log.count; i++) /* timers still in time order */
        assert_true(log.at[i - 1] <= log.at[i]);
    mte_engine_free(log.e);
}

static void rng_streams_are_independent(void **state)
{
    struct mte_rng a1, a2, b;
    mte_rng_init(&a1, 5, "net");
    mte_rng_init(&a2, 5, "net");
    mte_rng_init(&b, 5, "disk");
    uint64_t first = mte_rng_next(&a1);
    assert_int_equal(first, mte_rng_next(&a2));
    /* draws from another stream do not shift this one */
    for (int i = 0; i < 100; i++)
        mte_rng_next(&b);
    assert_int_equal(mte_rng_next(&a1), mte_rng_next(&a2));
    assert_int_not_equal(first, mte_rng_next(&b));
    for (int i = 0; i < 1000; i++) {
        uint64_t v = mte_rng_below(&a1, 10);
        assert_true(v < 10);
        uint64_t r = mte_rng_range(&a1, 5, 7);
        assert_true(r >= 5 && r <= 7);
        double u = mte_rng_unit(&a1);
        assert_true(u >= 0.0 && u < 1.0);
    }
}

static void trace_lines_change_the_hash(void **state)
{
    struct mte_engine *a = mte_engine_new(MTE_CLOCK_VIRTUAL, 1);
    struct mte_engine *b = mte_engine_new(MTE_CLOCK_VIRTUAL, 1);
    assert_int_equal(mte_hash(a), mte_hash(b));
    mte_trace(a, "x");
    mte_trace(b, "y");
    assert_int_not_equal(mte_hash(a), mte_hash(b));
    mte_engine_free(a);
    mte_engine_free(b);
}

static void real_clock_timer_fires(void **state)
{
    struct order_log log = {0};
    struct tagged tag = {.log = &log, .id = 1};
    log.e = mte_engine_new(MTE_CLOCK_REAL, 1);
    mte_time_t start = mte_now(log.e);
    mte_timer_init(&tag.t, record, &tag, NULL);
    mte_timer_arm_in(log.e, &tag.t, 2 * MTE_MSEC);
    mte_run_until_idle(log.e);
    assert_int_equal(log.count, 1);
    assert_true(log.at[0] >= start + 2 * MTE_MSEC);
    mte_engine_free(log.e);
}

/* ---- poll moderation: the trials and the choice they lead to ---------- */

/* Advances 10 us of work at rate per second (fractions carry over). */
static uint64_t work_remainder;
static void tick(struct mte_moderator *m, mte_time_t *now, uint64_t rate)
{
    *now += 10 * MTE_USEC;
    work_remainder += rate;
    m->work += work_remainder / 100000;
    work_remainder %= 100000;
}

/* Runs one step of the cycle: work at rate per second, the moderator asked
 * every 10 us; returns whether it napped when asked. */
static bool moderator_step(struct mte_moderator *m, mte_time_t *now, uint64_t rate)
{
    unsigned step = m->step;
    bool napped = false;
    for (;;) {
        tick(m, now, rate);
        mte_time_t nap = mte_moderator_nap(m, *now, true);
        if (m->step != step)
            return napped;
        napped |= nap != 0;
    }
}

/* Plays a whole cycle with the given work rates while plain and while
 * napping; returns whether the exploit phase that follows naps. */
static bool moderator_cycle(struct mte_moderator *m, mte_time_t *now, uint64_t plain_rate,
                            uint64_t nap_rate)
{
    for (unsigned step = 0; step < 4 * MTE_MOD_PAIRS; step++) {
        bool trial_naps = m->phase == MTE_MOD_NAP_SETTLE || m->phase == MTE_MOD_NAP_TRIAL;
        bool napped = moderator_step(m, now, trial_naps ? nap_rate : plain_rate);
        assert_int_equal(napped, trial_naps);
    }
    assert_int_equal(m->phase, MTE_MOD_EXPLOIT);
    mte_time_t gap = mte_moderator_nap(m, *now, true);
    assert_int_equal(mte_moderator_nap(m, *now, false), 0); /* never when idle */
    moderator_step(m, now, plain_rate);
    assert_int_equal(m->phase, MTE_MOD_PLAIN_SETTLE); /* and round again */
    return gap != 0;
}

static void moderation_naps_only_where_it_does_more_work(void **state)
{
    (void)state;
    struct mte_moderator m;
    mte_time_t now = 5 * MTE_SEC;
    mte_moderator_init(&m, 100 * MTE_USEC, now);
    /* work per second */
    assert_true(moderator_cycle(&m, &now, 8000000, 9500000));  /* a deep, client-bound queue */
    assert_false(moderator_cycle(&m, &now, 5600000, 4200000)); /* a shallow one */
    assert_false(moderator_cycle(&m, &now, 8000000, 8100000)); /* within the margin */
    assert_false(moderator_cycle(&m, &now, 0, 0));             /* no work at all */
    assert_false(moderator_cycle(&m, &now, 10000, 20000));     /* too little work to tell */
    assert_true(moderator_cycle(&m, &now, 8000000, 9000000));
}

/* Runs the moderator for a while at one work rate. */
static void moderator_run(struct mte_moderator *m, mte_time_t *now, uint64_t rate, mte_time_t len)
{
    for (mte_time_t end = *now + len; *now < end;) {
        tick(m, now, rate);
        mte_moderator_nap(m, *now, true);
    }
}

static void moderation_exploits_longer_while_nothing_changes(void **state)
{
    (void)state;
    struct mte_moderator m;
    mte_time_t now = 0;
    mte_moderator_init(&m, 100 * MTE_USEC, now);
    mte_time_t len = MTE_MOD_EXPLOIT_MIN;
    for (int cycle = 0; cycle < 6; cycle++) {
        assert_true(moderator_cycle(&m, &now, 8000000, 9500000));
        assert_int_equal(m.exploit_len, len);
        if (len < MTE_MOD_EXPLOIT_MAX)
            len *= 2;
    }
    assert_int_equal(m.exploit_len, MTE_MOD_EXPLOIT_MAX);
    assert_false(moderator_cycle(&m, &now, 8000000, 6000000)); /* a new verdict starts short */
    assert_int_equal(m.exploit_len, MTE_MOD_EXPLOIT_MIN);
}

static void moderation_measures_again_when_the_load_changes(void **state)
{
    (void)state;
    struct mte_moderator m;
    mte_time_t now = 0;
    mte_moderator_init(&m, 100 * MTE_USEC, now);
    assert_true(moderator_cycle(&m, &now, 8000000, 9500000));
    assert_true(moderator_cycle(&m, &now, 8000000, 9500000));
    for (unsigned step = 0; step < 4 * MTE_MOD_PAIRS; step++)
        moderator_step(&m, &now, step % 4 < 2 ? 8000000 : 9500000);
    assert_int_equal(m.phase, MTE_MOD_EXPLOIT);
    moderator_run(&m, &now, 9000000, 100 * MTE_MSEC);  /* within a quarter: carry on */
    assert_int_equal(m.phase, MTE_MOD_EXPLOIT);
    moderator_run(&m, &now, 2000000, 2 * MTE_MOD_WATCH); /* the load dropped */
    assert_int_not_equal(m.phase, MTE_MOD_EXPLOIT);
    assert_int_equal(m.exploit_len, MTE_MOD_EXPLOIT_MIN);
}

static void moderation_off_never_naps(void **state)
{
    (void)state;
    struct mte_moderator m;
    mte_time_t now = 0;
    mte_moderator_init(&m, 0, now);
    for (int i = 0; i < 100000; i++) {
        now += 10 * MTE_USEC;
        m.work += 1;
        assert_int_equal(mte_moderator_nap(&m, now, true), 0);
    }
}

struct spinner {
    struct mte_engine *e;
    int spins, livelocks;
    mte_time_t at;
};

static void spin(void *arg)
{
    struct spinner *sp = arg;
    sp->spins++;
    mte_defer(sp->e, sp, spin, sp); /* polls for ever: time never moves on */
}

static void livelocked(void *arg)
{
    struct spinner *sp = arg;
    sp->livelocks++;
    sp->at = mte_now(sp->e);
    mte_stop(sp->e);
}

/* Something that polls with deferred calls never lets virtual time move on:
 * the engine reports it (once) instead of running for ever. */
static void livelock_is_reported(void **state)
{
    struct spinner sp = {.e = mte_engine_new(MTE_CLOCK_VIRTUAL, 5)};
    mte_set_livelock_limit(sp.e, 1000, livelocked, &sp);
    struct mte_timer t;
    mte_timer_init(&t, spin, &sp, &sp);
    mte_timer_arm(sp.e, &t, 3 * MTE_SEC);
    mte_run_until(sp.e, 10 * MTE_SEC);
    assert_int_equal(sp.livelocks, 1);
    assert_int_equal(sp.at, 3 * MTE_SEC);
    assert_true(sp.spins >= 998 && sp.spins <= 1000);
    mte_engine_free(sp.e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_seed_same_order_and_hash),
        cmocka_unit_test(other_seed_other_order),
        cmocka_unit_test(timers_fire_in_time_order),
        cmocka_unit_test(cancel_and_rearm),
        cmocka_unit_test(run_until_stops_at_time),
        cmocka_unit_test(deferred_calls_are_fifo_and_before_timers),
        cmocka_unit_test(cancel_owner_drops_everything),
        cmocka_unit_test(rng_streams_are_independent),
        cmocka_unit_test(trace_lines_change_the_hash),
        cmocka_unit_test(real_clock_timer_fires),
        cmocka_unit_test(moderation_naps_only_where_it_does_more_work),
        cmocka_unit_test(moderation_exploits_longer_while_nothing_changes),
        cmocka_unit_test(moderation_measures_again_when_the_load_changes),
        cmocka_unit_test(moderation_off_never_naps),
        cmocka_unit_test(livelock_is_reported),
    };
    return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
