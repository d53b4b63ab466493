/* Realizing random faults: fault profiles (and a swarm profile) become
 * concrete timed actions before a run starts, drawn from the seed's "faults"
 * (and "swarm") streams.  Drawing everything up front means the faults of a
 * seed do not depend on what the code under test does, and the realized
 * schedule replays without any draws. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/scn_parse_internal.h"

#define QUANTUM MTE_MSEC /* drawn times are whole milliseconds: readable schedules */

static mte_time_t quantize(mte_time_t t) { return t / QUANTUM * QUANTUM; }

static mte_time_t draw_exp(struct mte_rng *rng, double rate)
{
    double u = mte_rng_unit(rng);
    double secs = -log(1.0 - u) / rate;
    if (secs > 1e6)
        secs = 1e6;
    return quantize((mte_time_t)(secs * (double)MTE_SEC)) + QUANTUM;
}

static mte_time_t draw_between(struct mte_rng *rng, mte_time_t lo, mte_time_t hi)
{
    return quantize(lo + mte_rng_below(rng, hi - lo + 1));
}

static struct scn_action *add(struct scenario *s, enum scn_verb v, mte_time_t at)
{
    s->actions = lex_push(s->actions, &s->nactions, sizeof(*s->actions));
    struct scn_action *a = &s->actions[s->nactions - 1];
    a->verb = v;
    a->anchor = SCN_AT;
    a->time = at;
    a->flags = SCN_F_GENERATED | SCN_F_MAY_FAIL;
    return a;
}

/* ---- picking nodes --------------------------------------------------------------------- */

static bool node_has_disk(const struct scenario *s, const char *node)
{
    for (size_t i = 0; i < s->ndisks; i++)
        if (!strcmp(s->disks[i].node, node))
            return true;
    return false;
}

/* The fault's eligible nodes, or every node with a disk. */
static unsigned eligible(const struct scenario *s, const struct scn_fault *f, const char **out, unsigned max)
{
    unsigned n = 0;
    if (f->nnodes) {
        for (unsigned i = 0; i < f->nnodes && n < max; i++)
            out[n++] = f->nodes[i];
        return n;
    }
    for (size_t i = 0; i < s->nnodes && n < max; i++)
        if (node_has_disk(s, s->nodes[i].name))
            out[n++] = s->nodes[i].name;
    return n;
}

static const char *pick_node(struct mte_rng *rng, const struct scenario *s, const struct scn_fault *f)
{
    const char *names[64];
    unsigned n = eligible(s, f, names, 64);
    return n ? names[mte_rng_below(rng, n)] : NULL;
}

/* Two distinct nodes: from the list if it has two, else one of it and any other. */
static bool pick_pair(struct mte_rng *rng, const struct scenario *s, const struct scn_fault *f,
                      const char **a, const char **b)
{
    const char *names[64];
    unsigned n = f->nnodes >= 2 ? eligible(s, f, names, 64) : 0;
    if (n < 2) {
        n = 0;
        for (size_t i = 0; i < s->nnodes && n < 64; i++)
            names[n++] = s->nodes[i].name;
    }
    if (n < 2)
        return false;
    unsigned i = (unsigned)mte_rng_below(rng, n);
    unsigned j = (unsigned)mte_rng_below(rng, n - 1);
    if (f->nnodes == 1) {
        *a = f->nodes[0];
        do
            *b = names[mte_rng_below(rng, n)];
        while (!strcmp(*a, *b));
        return true;
    }
    *a = names[i];
    *b = names[j >= i ? j + 1 : j];
    return true;
}

static const char *first_disk(const struct scenario *s, const char *node)
{
    for (size_t i = 0; i < s->ndisks; i++)
        if (!strcmp(s->disks[i].node, node))
            return s->disks[i].name;
    return NULL;
}

static bool node_in_resource(const struct scenario *s, const char *node)
{
    for (size_t i = 0; i < s->nresources; i++)
        if (scn_resource_has_node(&s->resources[i], node))
            return true;
    return false;
}

/* ---- one fault event ------------------------------------------------------------------------ */

static void copy_name(char *dst, const char *src) { snprintf(dst, SCN_NAME, "%s", src); }

static void emit_net(struct scenario *s, struct mte_rng *rng, const struct scn_fault *f,
                     mte_time_t at, mte_time_t dur)
{
    static const enum scn_verb verbs[F__COUNT] = {
        [F_PARTITION] = V_PARTITION, [F_CLOG] = V_CLOG, [F_BLACKHOLE] = V_BLACKHOLE,
        [F_RESET] = V_RESET, [F_SLOW] = V_SLOW,
    };
    const char *a, *b;
    if (!pick_pair(rng, s, f, &a, &b))
        return;
    struct scn_action *x = add(s, verbs[f->kind], at);
    copy_name(x->node, a);
    copy_name(x->peer, b);
    if (f->kind != F_RESET)
        x->duration = dur;
    if (f->kind == F_PARTITION || f->kind == F_CLOG)
        x->dir = (enum faultnet_dir)mte_rng_below(rng, 3);
    if (f->kind == F_SLOW)
        x->slow.latency = draw_between(rng, f->lat_min, f->lat_max);
}

static void emit_disconnect(struct scenario *s, struct mte_rng *rng, const struct scn_fault *f,
                            mte_time_t at, mte_time_t dur)
{
    const char *a, *b;
    if (!pick_pair(rng, s, f, &a, &b) || !node_in_resource(s, a) || !node_in_resource(s, b))
        return;
    struct scn_action *x = add(s, V_DISCONNECT, at);
    copy_name(x->node, a);
    copy_name(x->peer, b);
    x = add(s, V_CONNECT, at + dur);
    copy_name(x->node, a);
    copy_name(x->peer, b);
}

static void emit_crash(struct scenario *s, struct mte_rng *rng, const struct scn_fault *f,
                       mte_time_t at, mte_time_t dur)
{
    const char *n = pick_node(rng, s, f);
    if (!n)
        return;
    struct scn_action *x = add(s, V_CRASH, at);
    copy_name(x->node, n);
    bool kill = f->crash_mode == 1 || (f->crash_mode == 2 && mte_rng_below(rng, 2));
    if (kill)
        x->flags |= SCN_F_KILL;
    x = add(s, V_RESTART, at + dur);
    copy_name(x->node, n);
}

static void emit_disk(struct scenario *s, struct mte_rng *rng, const struct scn_fault *f,
                      mte_time_t at, mte_time_t dur)
{
    const char *n = pick_node(rng, s, f);
    const char *disk = n ? first_disk(s, n) : NULL;
    if (!disk)
        return;
    struct scn_action *x = add(s, f->kind == F_DISK_STALL ? V_DISK_STALL : V_DISK_ERROR, at);
    copy_name(x->node, n);
    copy_name(x->peer, disk);
    x->duration = dur;
    x->ops = 3;
    if (f->kind == F_DISK_ERROR && node_in_resource(s, n)) {
        /* drbd detaches a failing disk; bring it back once the disk heals */
        x = add(s, V_ATTACH, at + dur + QUANTUM);
        copy_name(x->node, n);
    }
}

static void emit(struct scenario *s, struct mte_rng *rng, const struct scn_fault *f, mte_time_t at,
                 mte_time_t dur)
{
    switch (f->kind) {
    case F_PARTITION: case F_CLOG: case F_BLACKHOLE: case F_RESET: case F_SLOW:
        emit_net(s, rng, f, at, dur);
        break;
    case F_DISCONNECT:
        emit_disconnect(s, rng, f, at, dur);
        break;
    case F_CRASH:
        emit_crash(s, rng, f, at, dur);
        break;
    case F_DISK_STALL: case F_DISK_ERROR:
        emit_disk(s, rng, f, at, dur);
        break;
    default:
        break;
    }
}

/* A Poisson process over the fault's window; faults of one profile do not overlap. */
static void realize_fault(struct scenario *s, struct mte_rng *rng, const struct scn_fault *f)
{
    mte_time_t until = f->until ? f->until : s->duration;
    mte_time_t t = f->from + draw_exp(rng, f->rate);
    while (t < until) {
        mte_time_t dur = draw_between(rng, f->dur_min, f->dur_max);
        if (!dur)
            dur = QUANTUM;
        emit(s, rng, f, t, dur);
        t += (f->kind == F_RESET ? 0 : dur) + draw_exp(rng, f->rate);
    }
}

/* ---- swarm ------------------------------------------------------------------------------------ */

static const unsigned default_swarm_kinds =
    1u << F_PARTITION | 1u << F_CLOG | 1u << F_RESET | 1u << F_SLOW | 1u << F_DISK_STALL;

/* Which kinds are on and how often, drawn from the seed's "swarm" stream. */
static void draw_swarm_profile(struct scenario *s, uint64_t seed)
{
    struct mte_rng rng;
    mte_rng_init(&rng, seed, "swarm");
    unsigned kinds = s->swarm_declared && s->swarm_kinds ? s->swarm_kinds : default_swarm_kinds;
    mte_time_t from = s->swarm_from ? s->swarm_from : s->duration / 10;
    mte_time_t until = s->swarm_until ? s->swarm_until : s->duration * 6 / 10;
    if (until <= from)
        return;
    for (int k = 0; k < F__COUNT; k++) {
        if (!(kinds >> k & 1) || !mte_rng_chance(&rng, 0.5))
            continue;
        s->faults = lex_push(s->faults, &s->nfaults, sizeof(*s->faults));
        struct scn_fault *f = &s->faults[s->nfaults - 1];
        f->kind = (enum scn_fault_kind)k;
        f->from = from;
        f->until = until;
        /* log-uniform between one per 50 s and one per 2 s */
        f->rate = 0.02 * pow(25.0, mte_rng_unit(&rng));
        f->dur_min = 50 * MTE_MSEC;
        f->dur_max = draw_between(&rng, 200 * MTE_MSEC, 4 * MTE_SEC);
        if (k == F_CRASH) {
            f->dur_min = MTE_SEC;
            f->dur_max = 5 * MTE_SEC;
        }
        f->lat_min = MTE_MSEC;
        f->lat_max = draw_between(&rng, 2 * MTE_MSEC, 100 * MTE_MSEC);
    }
}

/* The end of the chaos window: when the last drawn fault has healed (a
 * restart, connect or attach that undoes one is itself drawn). */
static void mark_chaos_window(struct scenario *s)
{
    for (size_t i = 0; i < s->nactions; i++) {
        const struct scn_action *a = &s->actions[i];
        if (!(a->flags & SCN_F_GENERATED))
            continue;
        if (!s->chaos_until || a->time < s->chaos_from)
            s->chaos_from = a->time;
        if (a->time + a->duration > s->chaos_until)
            s->chaos_until = a->time + a->duration;
    }
}

mte_time_t scn_liveness_due(const struct scenario *s, mte_time_t t, mte_time_t b)
{
    return (t > s->chaos_until ? t : s->chaos_until) + b;
}

struct scenario *scn_realize(const struct scenario *src, uint64_t seed, bool swarm)
{
    struct scenario *s = scn_clone(src);
    if (swarm)
        draw_swarm_profile(s, seed);
    struct mte_rng rng;
    mte_rng_init(&rng, seed, "faults");
    for (size_t i = 0; i < s->nfaults; i++)
        realize_fault(s, &rng, &s->faults[i]);
    free(s->faults);
    s->faults = NULL;
    s->nfaults = 0;
    mark_chaos_window(s);
    return s;
}
