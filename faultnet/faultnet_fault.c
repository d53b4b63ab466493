/* Faults: partition, clog, blackhole, slow, reset, heal, and faults
 * scheduled at a virtual time (their timers are owned by the faultnet). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "faultnet/faultnet.h"
#include "faultnet/faultnet_internal.h"

/* The links a fault touches: a->b, b->a, or both.  Returns how many, or -errno. */
static int links_for(struct faultnet *fn, const char *a, const char *b, enum faultnet_dir dir,
                     struct fn_link *out[2])
{
    struct fn_host *ha = fn_host_find(fn, a), *hb = fn_host_find(fn, b);
    int n = 0;
    if (!ha || !hb)
        return -ENOENT;
    if (dir == FAULTNET_BOTH || dir == FAULTNET_A_TO_B)
        out[n++] = fn_link_get(fn, ha, hb);
    if (dir == FAULTNET_BOTH || dir == FAULTNET_B_TO_A)
        out[n++] = fn_link_get(fn, hb, ha);
    return n ? n : -EINVAL;
}

int faultnet_partition(struct faultnet *fn, const char *a, const char *b, enum faultnet_dir dir)
{
    struct fn_link *l[2];
    int n = links_for(fn, a, b, dir, l);
    for (int i = 0; i < n; i++) {
        l[i]->partitions++;
        fn_trace(fn, "partition %s->%s", l[i]->src->name, l[i]->dst->name);
    }
    return n < 0 ? n : 0;
}

int faultnet_clog(struct faultnet *fn, const char *a, const char *b, enum faultnet_dir dir,
                  mte_time_t duration)
{
    struct fn_link *l[2];
    int n = links_for(fn, a, b, dir, l);
    for (int i = 0; i < n; i++) {
        /* overlapping clogs: the link clears when the last one ends */
        mte_time_t until = mte_now(fn->e) + duration;
        if (!l[i]->clogged || until > l[i]->clog_timer.when)
            mte_timer_arm(fn->e, &l[i]->clog_timer, until);
        l[i]->clogged = true;
        fn_trace(fn, "clog %s->%s for %lluns", l[i]->src->name, l[i]->dst->name,
                 (unsigned long long)duration);
    }
    return n < 0 ? n : 0;
}

int faultnet_blackhole(struct faultnet *fn, const char *a, const char *b, enum faultnet_dir dir)
{
    struct fn_link *l[2];
    int n = links_for(fn, a, b, dir, l);
    for (int i = 0; i < n; i++) {
        l[i]->blackholes++;
        fn_trace(fn, "blackhole %s->%s", l[i]->src->name, l[i]->dst->name);
    }
    return n < 0 ? n : 0;
}

int faultnet_slow(struct faultnet *fn, const char *a, const char *b, const struct faultnet_link *slow)
{
    struct fn_link *l[2];
    int n = links_for(fn, a, b, FAULTNET_BOTH, l);
    for (int i = 0; i < n; i++) {
        l[i]->slows++;
        l[i]->slow = *slow;
    }
    if (n > 0)
        fn_trace(fn, "slow %s<->%s latency %lluns bandwidth %llu", a, b,
                 (unsigned long long)slow->latency, (unsigned long long)slow->bandwidth);
    return n < 0 ? n : 0;
}

static bool pipe_between(const struct fn_pipe *p, const struct fn_host *a, const struct fn_host *b)
{
    const struct fn_host *h0 = p->end[0].host, *h1 = p->end[1].host;
    return (h0 == a && h1 == b) || (h0 == b && h1 == a);
}

int faultnet_reset(struct faultnet *fn, const char *a, const char *b)
{
    struct fn_host *ha = fn_host_find(fn, a), *hb = fn_host_find(fn, b);
    if (!ha || !hb)
        return -ENOENT;
    fn_trace(fn, "reset %s<->%s", ha->name, hb->name);
    struct fn_pipe *p = fn->pipes, *next;
    for (; p; p = next) {
        next = p->next;
        if (!pipe_between(p, ha, hb))
            continue;
        for (int side = 0; side < 2; side++) {
            if (p->end[side].state == FN_END_OPEN) {
                fn->stats.resets++;
                fn_end_detach(p, side, FN_DETACH_RESET, -ECONNRESET);
            }
        }
        fn_pipe_maybe_free(p);
    }
    return 0;
}

static void link_heal(struct fn_link *l)
{
    if (!l->partitions && !l->clogged && !l->blackholes && !l->slows)
        return;
    l->partitions = l->blackholes = l->slows = 0;
    l->clogged = false;
    l->heals++;
    mte_timer_cancel(l->fn->e, &l->clog_timer);
    fn_trace(l->fn, "heal %s->%s", l->src->name, l->dst->name);
    fn_release_held_on(l->fn, l);
}

int faultnet_heal(struct faultnet *fn, const char *a, const char *b)
{
    struct fn_link *l[2];
    int n = links_for(fn, a, b, FAULTNET_BOTH, l);
    for (int i = 0; i < n; i++)
        link_heal(l[i]);
    return n < 0 ? n : 0;
}

void faultnet_heal_all(struct faultnet *fn)
{
    for (struct fn_link *l = fn->links; l; l = l->next)
        link_heal(l);
}

/* ---- scheduled faults ------------------------------------------------------------- */

/* Undo one scheduled fault only, leaving other faults on the links alone. */
static void lift_fault(struct faultnet *fn, const struct faultnet_fault *f, const uint64_t heals[2])
{
    struct fn_link *l[2];
    int n = links_for(fn, f->a, f->b, f->kind == FAULTNET_SLOW ? FAULTNET_BOTH : f->dir, l);
    for (int i = 0; i < n; i++) {
        /* a heal by hand meanwhile already lifted it */
        unsigned *count = f->kind == FAULTNET_PARTITION ? &l[i]->partitions
                          : f->kind == FAULTNET_BLACKHOLE ? &l[i]->blackholes
                                                          : &l[i]->slows;
        if (l[i]->heals != heals[i] || !*count)
            continue;
        --*count;
        fn_trace(fn, "lift scheduled fault %s->%s", l[i]->src->name, l[i]->dst->name);
        fn_release_held_on(fn, l[i]);
    }
}

static void apply_fault(struct faultnet *fn, const struct faultnet_fault *f)
{
    switch (f->kind) {
    case FAULTNET_PARTITION:
        faultnet_partition(fn, f->a, f->b, f->dir);
        break;
    case FAULTNET_CLOG:
        faultnet_clog(fn, f->a, f->b, f->dir, f->duration);
        break;
    case FAULTNET_BLACKHOLE:
        faultnet_blackhole(fn, f->a, f->b, f->dir);
        break;
    case FAULTNET_SLOW:
        faultnet_slow(fn, f->a, f->b, &f->slow);
        break;
    case FAULTNET_RESET:
        faultnet_reset(fn, f->a, f->b);
        break;
    }
}

static bool needs_lift(const struct faultnet_fault *f)
{
    return f->duration && f->kind != FAULTNET_CLOG && f->kind != FAULTNET_RESET;
}

static void sched_done(struct fn_sched *s)
{
    struct faultnet *fn = s->fn;
    if (s->prev)
        s->prev->next = s->next;
    else
        fn->scheds = s->next;
    if (s->next)
        s->next->prev = s->prev;
    free(s);
}

static void sched_lift_fired(void *arg)
{
    struct fn_sched *s = arg;
    lift_fault(s->fn, &s->fault, s->heals);
    sched_done(s);
}

static void sched_apply_fired(void *arg)
{
    struct fn_sched *s = arg;
    struct fn_link *l[2];
    int n = links_for(s->fn, s->fault.a, s->fault.b,
                      s->fault.kind == FAULTNET_SLOW ? FAULTNET_BOTH : s->fault.dir, l);
    for (int i = 0; i < n; i++)
        s->heals[i] = l[i]->heals;
    apply_fault(s->fn, &s->fault);
    if (needs_lift(&s->fault))
        mte_timer_arm_in(s->fn->e, &s->heal_timer, s->fault.duration);
    else
        sched_done(s);
}

int faultnet_schedule(struct faultnet *fn, const struct faultnet_fault *f)
{
    if (!memchr(f->a, '\0', sizeof(f->a)) || !memchr(f->b, '\0', sizeof(f->b)))
        return -EINVAL;
    if (!fn_host_find(fn, f->a) || !fn_host_find(fn, f->b))
        return -ENOENT;
    if (f->kind > FAULTNET_RESET || f->dir > FAULTNET_B_TO_A)
        return -EINVAL;
    struct fn_sched *s = fn_xcalloc(sizeof(*s));
    s->fn = fn;
    s->fault = *f;
    mte_timer_init(&s->apply_timer, sched_apply_fired, s, fn);
    mte_timer_init(&s->heal_timer, sched_lift_fired, s, fn);
    s->next = fn->scheds;
    if (fn->scheds)
        fn->scheds->prev = s;
    fn->scheds = s;
    mte_time_t now = mte_now(fn->e);
    mte_timer_arm(fn->e, &s->apply_timer, f->at > now ? f->at : now);
    return 0;
}
