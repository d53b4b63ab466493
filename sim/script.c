/* The script: the scenario's timed actions in one queue ordered by (time,
 * order of arrival), so actions due at the same instant run in file order.
 * `at` actions are queued at the start; an `after` action is queued when the
 * one before it finishes.  Every executed action is logged with its virtual
 * time: that log is the realized schedule (--schedule-out).
 *
 * The run loop (run.c) runs the engine up to the next action's time and then
 * runs the action between events, instead of arming a timer: arming draws a
 * tiebreak from the scheduler stream, and a replay (where every action is an
 * `at` line, and actions after the end are gone) would draw differently. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/scn_lex.h"
#include "sim/sim_int.h"

struct queued {
    mte_time_t when;
    uint64_t seq;
    size_t index;
};

struct wait {
    size_t index;
    mte_time_t deadline;
};

struct sim_script {
    struct sim *s;
    struct queued *q;              /* sorted by (when, seq) */
    size_t nq, capq;
    uint64_t seq;
    struct wait *waits;
    size_t nwaits, capw;
    size_t running;                /* actions started, not done (commands, waits) */
};

/* ---- the queue -------------------------------------------------------------------------- */

static void enqueue(struct sim_script *sc, size_t index, mte_time_t when)
{
    if (sc->nq == sc->capq) {
        sc->capq = sc->capq ? sc->capq * 2 : 64;
        sc->q = realloc(sc->q, sc->capq * sizeof(*sc->q));
        if (!sc->q)
            abort();
    }
    struct queued e = {when, sc->seq++, index};
    size_t pos = sc->nq;
    while (pos > 0 && sc->q[pos - 1].when > when)
        pos--;
    memmove(&sc->q[pos + 1], &sc->q[pos], (sc->nq - pos) * sizeof(*sc->q));
    sc->q[pos] = e;
    sc->nq++;
    /* the engine is running towards a later time: hand control back */
    if (when < sc->s->run_target)
        mte_stop(sc->s->e);
}

mte_time_t script_next_time(const struct sim *s)
{
    return s->script && s->script->nq ? s->script->q[0].when : MTE_TIME_NEVER;
}

static void log_action(struct sim *s, const struct scn_action *a, size_t index)
{
    size_t n = s->nlog;
    s->log_index = realloc(s->log_index, (n + 1) * sizeof(*s->log_index));
    if (!s->log_index)
        abort();
    s->log_index[n] = index;
    s->executed[index] = 1;
    s->log = lex_push(s->log, &s->nlog, sizeof(*s->log));
    struct scn_action *l = &s->log[n];
    *l = *a;
    l->anchor = SCN_AT;
    l->time = mte_now(s->e);
}

/* Append the action at index and the `after` lines chained to it that never
 * ran, as the scenario has them. */
static void push_unrun_chain(const struct sim *s, size_t index, struct scn_action **out, size_t *n)
{
    const struct scenario *scn = s->scn;
    for (size_t i = index; i < scn->nactions && !s->executed[i]; i++) {
        if (i > index && scn->actions[i].anchor != SCN_AFTER)
            break;
        *out = lex_push(*out, n, sizeof(**out));
        (*out)[*n - 1] = scn->actions[i];
    }
}

struct scn_action *script_schedule(const struct sim *s, size_t *n)
{
    const struct scenario *scn = s->scn;
    struct scn_action *out = NULL;
    *n = 0;
    for (size_t k = 0; k < s->nlog; k++) {
        out = lex_push(out, n, sizeof(*out));
        out[*n - 1] = s->log[k];
        size_t next = s->log_index[k] + 1;
        if (next < scn->nactions && scn->actions[next].anchor == SCN_AFTER)
            push_unrun_chain(s, next, &out, n);
    }
    for (size_t i = 0; i < scn->nactions; i++)
        if (!s->executed[i] && (scn->actions[i].anchor == SCN_AT || i == 0))
            push_unrun_chain(s, i, &out, n);
    return out;
}

void script_run_due(struct sim *s)
{
    struct sim_script *sc = s->script;
    mte_time_t now = mte_now(s->e);
    while (sc->nq && sc->q[0].when <= now && !sim_stopped(s)) {
        size_t index = sc->q[0].index;
        memmove(&sc->q[0], &sc->q[1], (sc->nq - 1) * sizeof(*sc->q));
        sc->nq--;
        const struct scn_action *a = &s->scn->actions[index];
        log_action(s, a, index);
        sc->running++;
        action_execute(s, a, index);
        /* what it set off at this instant (a command's deferred answer, which
         * may queue its `after` line) runs before the next action: in a
         * replay, where that line is an `at` one, as in the run */
        if (!sim_stopped(s))
            mte_run_until(s->e, now);
    }
}

void script_action_done(struct sim *s, size_t index)
{
    const struct scenario *scn = s->scn;
    if (s->script->running)
        s->script->running--;
    if (index + 1 < scn->nactions && scn->actions[index + 1].anchor == SCN_AFTER)
        enqueue(s->script, index + 1, mte_now(s->e) + scn->actions[index + 1].time);
}

/* ---- waits --------------------------------------------------------------------------------- */

void script_add_wait(struct sim *s, size_t index)
{
    struct sim_script *sc = s->script;
    if (sc->nwaits == sc->capw) {
        sc->capw = sc->capw ? sc->capw * 2 : 8;
        sc->waits = realloc(sc->waits, sc->capw * sizeof(*sc->waits));
        if (!sc->waits)
            abort();
    }
    mte_time_t due = scn_liveness_due(s->scn, mte_now(s->e), s->scn->actions[index].timeout);
    sc->waits[sc->nwaits++] = (struct wait){index, due};
}

/* Polled every monitor tick: a wait ends when its condition holds, or fails
 * the run at its deadline. */
void script_poll_waits(struct sim *s)
{
    struct sim_script *sc = s->script;
    for (size_t i = 0; i < sc->nwaits && !sim_stopped(s);) {
        const struct scn_action *a = &s->scn->actions[sc->waits[i].index];
        char why[256] = "";
        size_t index = sc->waits[i].index;
        bool holds = sim_cond_holds(s, &a->cond, why, sizeof(why));
        if (!holds && mte_now(s->e) < sc->waits[i].deadline) {
            i++;
            continue;
        }
        sc->waits[i] = sc->waits[--sc->nwaits];
        if (holds) {
            char text[512];
            scn_format_action(a, text, sizeof(text));
            sim_trace(s, "holds: %s", text);
            script_action_done(s, index);
        } else {
            char tb[32];
            scn_format_time(a->timeout, tb, sizeof(tb));
            sim_fail(s, "wait-timeout", a->cond.node[0] ? a->cond.node : NULL, -1,
                     "%s:%d: wait-for did not hold within %s: %s", s->scn->path, a->line, tb, why);
        }
    }
}

bool script_chain_open(const struct sim *s)
{
    const struct sim_script *sc = s->script;
    return sc->running || (sc->nq && s->scn->actions[sc->q[0].index].anchor == SCN_AFTER);
}

/* ---- life ---------------------------------------------------------------------------------- */

int script_create(struct sim *s)
{
    struct sim_script *sc = calloc(1, sizeof(*sc));
    if (!sc)
        abort();
    sc->s = s;
    s->script = sc;
    s->executed = calloc(s->scn->nactions + 1, 1);
    if (!s->executed)
        abort();
    const struct scenario *scn = s->scn;
    for (size_t i = 0; i < scn->nactions; i++) {
        const struct scn_action *a = &scn->actions[i];
        if (a->anchor == SCN_AT)
            enqueue(sc, i, a->time);
        else if (i == 0)
            enqueue(sc, i, a->time);
    }
    return 0;
}

void script_destroy(struct sim *s)
{
    struct sim_script *sc = s->script;
    if (!sc)
        return;
    actions_cleanup(s);
    free(sc->q);
    free(sc->waits);
    free(sc);
    s->script = NULL;
    free(s->log);
    s->log = NULL;
    free(s->log_index);
    s->log_index = NULL;
    s->nlog = 0;
    free(s->executed);
    s->executed = NULL;
}
