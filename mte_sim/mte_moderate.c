/* Adaptive poll moderation: paired plain and napping trials, then the winner
 * until the trials are due again or the load changes. */
#include "mte_sim/mte_moderate.h"

#define CYCLE_TRIAL_STEPS (4 * MTE_MOD_PAIRS)

/* The steps of a cycle: settle and trial, plain then napping, MTE_MOD_PAIRS
 * times; then the exploit. */
static enum mte_mod_phase step_phase(unsigned step)
{
    return step >= CYCLE_TRIAL_STEPS ? MTE_MOD_EXPLOIT : (enum mte_mod_phase)(step % 4);
}

static mte_time_t phase_length(const struct mte_moderator *m, enum mte_mod_phase p)
{
    switch (p) {
    case MTE_MOD_PLAIN_SETTLE:
    case MTE_MOD_NAP_SETTLE: return MTE_MOD_SETTLE;
    case MTE_MOD_PLAIN_TRIAL:
    case MTE_MOD_NAP_TRIAL: return MTE_MOD_TRIAL;
    default: return m->exploit_len;
    }
}

static void begin_step(struct mte_moderator *m, unsigned step, mte_time_t now)
{
    m->step = step;
    m->phase = step_phase(step);
    m->phase_start = m->watch_start = now;
    m->phase_end = now + phase_length(m, m->phase);
    m->phase_work = m->watch_work = m->work;
}

void mte_moderator_init(struct mte_moderator *m, mte_time_t gap, mte_time_t now)
{
    *m = (struct mte_moderator){.gap = gap, .exploit_len = MTE_MOD_EXPLOIT_MIN};
    begin_step(m, 0, now);
}

static uint64_t per_second(uint64_t work, mte_time_t took)
{
    return took ? work * MTE_SEC / took : 0;
}

/* After the last trial: napping wins only by a clear margin, over enough
 * work to tell (a few dozen 1 MiB writes cannot).  The same verdict again
 * lengthens the exploit (fewer trials while nothing changes); a new one
 * starts it short. */
static void decide(struct mte_moderator *m)
{
    uint64_t plain = per_second(m->plain_work, m->plain_time);
    uint64_t nap = per_second(m->nap_work, m->nap_time);
    bool enough = m->plain_work >= MTE_MOD_MIN_WORK && m->nap_work >= MTE_MOD_MIN_WORK;
    bool nap_wins = enough && nap * 100 > plain * (100 + MTE_MOD_MARGIN_PCT);
    if (nap_wins != m->nap_wins)
        m->exploit_len = MTE_MOD_EXPLOIT_MIN;
    else if (m->exploit_len < MTE_MOD_EXPLOIT_MAX)
        m->exploit_len *= 2;
    m->nap_wins = nap_wins;
    m->expected_rate = nap_wins ? nap : plain;
    m->plain_work = m->plain_time = m->nap_work = m->nap_time = 0;
}

static void end_step(struct mte_moderator *m, mte_time_t now)
{
    uint64_t work = m->work - m->phase_work;
    mte_time_t took = now - m->phase_start;
    if (m->phase == MTE_MOD_PLAIN_TRIAL) {
        m->plain_work += work;
        m->plain_time += took;
    } else if (m->phase == MTE_MOD_NAP_TRIAL) {
        m->nap_work += work;
        m->nap_time += took;
    }
    unsigned next = (m->step + 1) % (CYCLE_TRIAL_STEPS + 1);
    if (next == CYCLE_TRIAL_STEPS)
        decide(m);
    begin_step(m, next, now);
}

/* During the exploit: a watch window whose work per second strays far from
 * what the trials measured means the load changed, so the trials run again
 * now (and the next exploit starts short). */
static void watch_load(struct mte_moderator *m, mte_time_t now)
{
    if (now - m->watch_start < MTE_MOD_WATCH)
        return;
    uint64_t rate = per_second(m->work - m->watch_work, now - m->watch_start);
    m->watch_start = now;
    m->watch_work = m->work;
    uint64_t want = m->expected_rate;
    if (rate * 2 < want || rate > want * 2) {
        m->exploit_len = MTE_MOD_EXPLOIT_MIN;
        begin_step(m, 0, now);
    }
}

static bool phase_naps(const struct mte_moderator *m)
{
    switch (m->phase) {
    case MTE_MOD_NAP_SETTLE:
    case MTE_MOD_NAP_TRIAL: return true;
    case MTE_MOD_EXPLOIT: return m->nap_wins;
    default: return false;
    }
}

mte_time_t mte_moderator_nap(struct mte_moderator *m, mte_time_t now, bool loaded)
{
    if (!m->gap)
        return 0;
    if (now >= m->phase_end)
        end_step(m, now);
    else if (m->phase == MTE_MOD_EXPLOIT)
        watch_load(m, now);
    return loaded && phase_naps(m) ? m->gap : 0;
}
