/* Adaptive poll moderation for a real-clock engine under load.
 *
 * A busy server that wakes on every arrival makes each client send pay for
 * a wake-up and sends its answers one by one.  Napping briefly before the
 * next poll lets arrivals gather, so one pass serves a batch and the client
 * gets a batch of answers per wake-up: clients that keep many requests
 * outstanding and are CPU-bound go faster.  Clients that wait on each answer
 * go slower, because the nap is added to their latency.
 *
 * The server cannot see a client's queue depth, so the moderator measures
 * instead.  A cycle times plain and napping trials in turn, then runs the
 * exploit: napping only if napping did more work per second by a clear
 * margin.  With a fixed number of requests outstanding, more work per second
 * also means less time per request, so napping is chosen only where it
 * lowers latency too.  The exploit doubles in length (up to a bound) while
 * the verdict stays the same, and ends early when the work per second strays
 * far from what the trials measured: the load changed, so measure again.
 * Work is whatever the caller counts (mte_note_work: block I/Os for scstd).
 *
 * Pure logic over the times it is given; the engine feeds it the real clock.
 */
#ifndef MTE_MODERATE_H
#define MTE_MODERATE_H

#include <stdbool.h>
#include <stdint.h>

#include "mte_sim/mte_sim.h"

/* Phases of one cycle: each trial settles first, so the clients have
 * adapted to the new pace before its work is counted. */
enum mte_mod_phase { MTE_MOD_PLAIN_SETTLE, MTE_MOD_PLAIN_TRIAL, MTE_MOD_NAP_SETTLE,
                     MTE_MOD_NAP_TRIAL, MTE_MOD_EXPLOIT };

#define MTE_MOD_PAIRS 2
#define MTE_MOD_SETTLE (2 * MTE_MSEC)
#define MTE_MOD_TRIAL (10 * MTE_MSEC)
#define MTE_MOD_EXPLOIT_MIN (200 * MTE_MSEC)
#define MTE_MOD_EXPLOIT_MAX (1600 * MTE_MSEC)
#define MTE_MOD_WATCH (10 * MTE_MSEC) /* the exploit's load check window */
#define MTE_MOD_MARGIN_PCT 3 /* napping must beat plain by this much */
#define MTE_MOD_MIN_WORK 500 /* ... over at least this much work in each mode's trials */

struct mte_moderator {
    mte_time_t gap;                /* nap length; 0: moderation off */
    unsigned step;                 /* within the cycle */
    enum mte_mod_phase phase;
    mte_time_t phase_start, phase_end;
    uint64_t work;                 /* running count, from mte_note_work */
    uint64_t phase_work;           /* work when the phase began */
    uint64_t plain_work, nap_work; /* this cycle's trials so far */
    mte_time_t plain_time, nap_time;
    bool nap_wins;                 /* the exploit naps */
    mte_time_t exploit_len;
    uint64_t expected_rate;        /* the winner's work per second in the trials */
    mte_time_t watch_start;        /* the exploit's current watch window */
    uint64_t watch_work;
};

void mte_moderator_init(struct mte_moderator *m, mte_time_t gap, mte_time_t now);
/* How long to nap before the next poll (0: poll at once).  loaded: the last
 * poll found work already waiting.  Advances the cycle as time passes. */
mte_time_t mte_moderator_nap(struct mte_moderator *m, mte_time_t now, bool loaded);

#endif
