/* Executing one action of the script: drbd commands (through the drbd
 * layer), node crashes and restarts, network and disk faults, workload
 * control, checks and waits. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_int.h"

/* A write probe: one unopened write to a device; on a Secondary it must fail. */
struct probe {
    struct sim *s;
    struct sim_node *sn;
    struct umc_node *n;            /* the incarnation it was sent to */
    int role_at_issue;
    bool done;
    struct umc_bio bio;
    struct iovec iov;
    unsigned char buf[4096];
    char dev[SCN_NAME];
    struct probe *next;
};

/* The end of one timed disk-error fault: it lifts only itself. */
struct disk_lift {
    struct sim_disk *d;
    uint64_t offset, length;
    unsigned ops;
    double rate;                   /* > 0: an error rate, else the range */
    struct disk_lift *next;
};

/* A refused command to run again (retry=T). */
struct retry {
    struct sim *s;
    size_t index;
    struct retry *next;
};

#define RETRY_EVERY (500 * MTE_MSEC)

struct actions_state {
    struct probe *probes;
    struct disk_lift *lifts;
    struct retry *retries;
    mte_time_t *first_try;         /* per scenario action: its first run, for retry= */
};

static struct actions_state *state(struct sim *s)
{
    /* kept beside the script: created on first use */
    if (!s->actions_state) {
        s->actions_state = calloc(1, sizeof(struct actions_state));
        if (!s->actions_state)
            abort();
    }
    return s->actions_state;
}

void actions_cleanup(struct sim *s)
{
    struct actions_state *st = s->actions_state;
    if (!st)
        return;
    while (st->probes) {
        struct probe *p = st->probes;
        st->probes = p->next;
        free(p);
    }
    while (st->lifts) {
        struct disk_lift *l = st->lifts;
        st->lifts = l->next;
        free(l);
    }
    while (st->retries) {
        struct retry *r = st->retries;
        st->retries = r->next;
        free(r);
    }
    free(st->first_try);
    free(st);
    s->actions_state = NULL;
}

void script_node_crashed(struct sim *s, struct sim_node *sn)
{
    struct actions_state *st = s->actions_state;
    for (struct probe *p = st ? st->probes : NULL; p; p = p->next)
        if (p->sn == sn && p->n == sn->n)
            p->done = true; /* its completion died with the node */
}

/* ---- helpers -------------------------------------------------------------------------- */

static bool refuse(struct sim *s, const struct scn_action *a, size_t index, const char *fmt,
                   const char *name)
{
    if (a->flags & (SCN_F_MAY_FAIL | SCN_F_EXPECT_REFUSED)) {
        sim_trace(s, "%s skipped: %s %s", scn_verb_name(a->verb), name, fmt);
        script_action_done(s, index);
        return true;
    }
    sim_fail(s, "command-failed", name, -1, "%s:%d: %s: %s %s", s->scn->path, a->line,
             scn_verb_name(a->verb), name, fmt);
    return true;
}

static struct sim_node *running_node(struct sim *s, const struct scn_action *a, size_t index)
{
    struct sim_node *sn = sim_node_find(s, a->node);
    if (sn && sn->n)
        return sn;
    refuse(s, a, index, "is down", a->node);
    return NULL;
}

/* ---- drbd commands ---------------------------------------------------------------------- */

static void drbd_done(struct sim *s, size_t index, int rc, const char *msg);

static void retry_fire(void *arg)
{
    struct retry *r = arg;
    if (!sim_stopped(r->s))
        sdrbd_command(r->s, &r->s->scn->actions[r->index], r->index, drbd_done);
}

/* retry=T: a refused command runs again every RETRY_EVERY until T after the
 * later of its first run and the end of the chaos window. */
static bool retry_later(struct sim *s, const struct scn_action *a, size_t index, const char *msg)
{
    struct actions_state *st = state(s);
    if (!a->retry || (a->flags & SCN_F_EXPECT_REFUSED))
        return false;
    if (!st->first_try) {
        st->first_try = calloc(s->scn->nactions + 1, sizeof(*st->first_try));
        if (!st->first_try)
            abort();
    }
    mte_time_t now = mte_now(s->e);
    if (!st->first_try[index])
        st->first_try[index] = now;
    if (now >= scn_liveness_due(s->scn, st->first_try[index], a->retry))
        return false;
    sim_trace(s, "%s %s refused (%s): again in %llu ms", scn_verb_name(a->verb), a->node, msg ? msg : "",
              (unsigned long long)(RETRY_EVERY / MTE_MSEC));
    struct retry *r = malloc(sizeof(*r));
    if (!r)
        abort();
    *r = (struct retry){s, index, st->retries};
    st->retries = r;
    sim_schedule_call(s, now + RETRY_EVERY, retry_fire, r);
    return true;
}

static void drbd_done(struct sim *s, size_t index, int rc, const char *msg)
{
    const struct scn_action *a = &s->scn->actions[index];
    if (rc && retry_later(s, a, index, msg))
        return;
    if (a->flags & SCN_F_EXPECT_REFUSED) {
        if (!rc)
            sim_fail(s, "command-not-refused", a->node, -1, "%s:%d: %s %s succeeded, expected a refusal",
                     s->scn->path, a->line, scn_verb_name(a->verb), a->node);
        else if (a->text[0] && !strstr(msg ? msg : "", a->text))
            sim_fail(s, "command-refused-differently", a->node, -1,
                     "%s:%d: %s was refused with \"%s\", expected words \"%s\"", s->scn->path, a->line,
                     scn_verb_name(a->verb), msg ? msg : "", a->text);
    } else if (rc && !(a->flags & SCN_F_MAY_FAIL)) {
        sim_fail(s, "command-failed", a->node, -1, "%s:%d: %s %s: %s", s->scn->path, a->line,
                 scn_verb_name(a->verb), a->node, msg ? msg : "failed");
    }
    if (!sim_stopped(s))
        script_action_done(s, index);
}

/* The action's nodes ("*" = every node with resources) in one command group. */
static void exec_drbd(struct sim *s, const struct scn_action *a, size_t index)
{
    if (strcmp(a->node, "*") && !running_node(s, a, index))
        return;
    sdrbd_command(s, a, index, drbd_done);
}

/* ---- nodes ------------------------------------------------------------------------------- */

static void exec_crash(struct sim *s, const struct scn_action *a, size_t index)
{
    struct sim_node *sn = running_node(s, a, index);
    if (!sn)
        return;
    sim_node_crash(sn, !(a->flags & SCN_F_KILL));
    script_action_done(s, index);
}

static void exec_restart(struct sim *s, const struct scn_action *a, size_t index)
{
    struct sim_node *sn = sim_node_find(s, a->node);
    if (sn->n) {
        refuse(s, a, index, "is already running", a->node);
        return;
    }
    sim_node_restart(sn, !(a->flags & SCN_F_NO_UP));
    if (!sim_stopped(s))
        script_action_done(s, index);
}

/* ---- network ------------------------------------------------------------------------------- */

static void exec_net(struct sim *s, const struct scn_action *a)
{
    static const enum faultnet_fault_kind kinds[V__COUNT] = {
        [V_PARTITION] = FAULTNET_PARTITION, [V_CLOG] = FAULTNET_CLOG,
        [V_BLACKHOLE] = FAULTNET_BLACKHOLE, [V_SLOW] = FAULTNET_SLOW, [V_RESET] = FAULTNET_RESET,
    };
    if (a->verb == V_HEAL) {
        if (!strcmp(a->node, "*"))
            faultnet_heal_all(s->net);
        else
            faultnet_heal(s->net, a->node, a->peer);
        return;
    }
    struct faultnet_fault f = {.kind = kinds[a->verb], .dir = a->dir, .at = mte_now(s->e),
                               .duration = a->duration, .slow = a->slow};
    snprintf(f.a, sizeof(f.a), "%s", a->node);
    snprintf(f.b, sizeof(f.b), "%s", a->peer);
    if (f.kind == FAULTNET_SLOW && !f.slow.bandwidth)
        f.slow.bandwidth = s->scn->net.link.bandwidth;
    faultnet_schedule(s->net, &f);
}

/* ---- disks --------------------------------------------------------------------------------- */

/* disk-heal: the disk is as declared again. */
static void disk_heal(struct sim_disk *d)
{
    simdisk_set_params(d->media, &d->decl->params);
    simdisk_clear_faults(d->media);
}

/* The error rate of a timed fault ends: the declared rate comes back, unless
 * another fault has set a rate of its own since. */
static void disk_lift_fire(void *arg)
{
    struct disk_lift *l = arg;
    if (l->rate <= 0) {
        simdisk_unfail_range(l->d->media, l->offset, l->length, l->ops);
        return;
    }
    struct simdisk_params p = *simdisk_media_params(l->d->media);
    if ((l->ops & 1) && p.read_error_rate == l->rate)
        p.read_error_rate = l->d->decl->params.read_error_rate;
    if ((l->ops & 2) && p.write_error_rate == l->rate)
        p.write_error_rate = l->d->decl->params.write_error_rate;
    simdisk_set_params(l->d->media, &p);
}

static void exec_disk(struct sim *s, const struct scn_action *a)
{
    struct sim_disk *d = sim_disk_find(sim_node_find(s, a->node), a->peer);
    mte_time_t now = mte_now(s->e);
    uint64_t length = a->length ? a->length : d->decl->size - a->offset;
    switch (a->verb) {
    case V_DISK_STALL:
        simdisk_stall_until(d->media, now + a->duration);
        return;
    case V_DISK_HEAL:
        disk_heal(d);
        return;
    case V_PLANT: {
        unsigned char junk[512];
        for (size_t i = 0; i < sizeof(junk); i++)
            junk[i] = (unsigned char)("planted difference "[i % 19]);
        for (uint64_t off = a->offset; off < a->offset + length; off += sizeof(junk))
            simdisk_poke(d->media, off, junk, sizeof(junk));
        return;
    }
    default:
        break;
    }
    if (a->rate > 0) {
        struct simdisk_params p = *simdisk_media_params(d->media);
        if (a->ops & 1)
            p.read_error_rate = a->rate;
        if (a->ops & 2)
            p.write_error_rate = a->rate;
        simdisk_set_params(d->media, &p);
    } else {
        simdisk_fail_range(d->media, a->offset, length, a->ops);
    }
    if (!a->duration)
        return;
    struct actions_state *st = state(s);
    struct disk_lift *l = calloc(1, sizeof(*l));
    if (!l)
        abort();
    *l = (struct disk_lift){.d = d, .offset = a->offset, .length = length, .ops = a->ops,
                            .rate = a->rate, .next = st->lifts};
    st->lifts = l;
    sim_schedule_call(s, now + a->duration, disk_lift_fire, l);
}

/* ---- workloads and checks ------------------------------------------------------------------- */

static void probe_done(struct umc_bio *bio)
{
    struct probe *p = bio->priv;
    struct sim *s = p->s;
    p->done = true;
    sim_trace(s, "probe-write on %s %s: %s", p->sn->decl->name, p->dev,
              bio->status ? strerror(-bio->status) : "accepted");
    if (!bio->status && p->role_at_issue == 1)
        sim_fail(s, "secondary-write", p->sn->decl->name, 0,
                 "a write to %s succeeded while %s was Secondary", p->dev, p->sn->decl->name);
}

static void exec_probe(struct sim *s, const struct scn_action *a, size_t index)
{
    struct sim_node *sn = running_node(s, a, index);
    if (!sn)
        return;
    const char *dev = a->dev[0] ? a->dev : "drbd1";
    struct umc_bdev *b = umc_bdev_find(sn->n, dev);
    if (!b) {
        refuse(s, a, index, "has no such device", a->node);
        return;
    }
    struct probe *p = calloc(1, sizeof(*p));
    if (!p)
        abort();
    struct actions_state *st = state(s);
    *p = (struct probe){.s = s, .sn = sn, .n = sn->n, .next = st->probes};
    st->probes = p;
    snprintf(p->dev, sizeof(p->dev), "%s", dev);
    memset(p->buf, 0x5a, sizeof(p->buf));
    p->role_at_issue = sdrbd_device_role(sn, dev);
    p->iov = (struct iovec){p->buf, sizeof(p->buf)};
    p->bio = (struct umc_bio){.op = UMC_OP_WRITE, .offset = 0, .length = sizeof(p->buf),
                              .iov = &p->iov, .iovcnt = 1, .done = probe_done, .priv = p};
    umc_bio_submit(b, &p->bio);
    script_action_done(s, index);
}

static void exec_workload(struct sim *s, const struct scn_action *a)
{
    struct sim_wl *w = wl_find(s, a->node);
    switch (a->verb) {
    case V_START: wl_start(w, a->duration); break;
    case V_STOP: wl_stop(w); break;
    case V_RETARGET: wl_retarget(w, a->peer, a->dev); break;
    case V_SWEEP: wl_sweep(w); break;
    case V_FORGET: wl_forget(w); break;
    default: break;
    }
}

static void exec_wait(struct sim *s, const struct scn_action *a, size_t index)
{
    char why[256] = "";
    bool holds = sim_cond_holds(s, &a->cond, why, sizeof(why));
    if (a->verb == V_ASSERT) {
        if (!holds)
            sim_fail(s, "assert", a->cond.node[0] ? a->cond.node : NULL, -1, "%s:%d: %s",
                     s->scn->path, a->line, why);
        else
            script_action_done(s, index);
        return;
    }
    if (holds)
        script_action_done(s, index);
    else
        script_add_wait(s, index);
}

bool sim_cond_holds(struct sim *s, const struct scn_cond *c, char *why, size_t len)
{
    if (c->kind == SCN_COND_STOPPED)
        return wl_stopped(wl_find(s, c->node), why, len);
    if (c->kind == SCN_COND_HEALED) {
        mte_time_t until = s->scn->chaos_until;
        if (mte_now(s->e) < until)
            snprintf(why, len, "drawn faults are active until %.3fs", (double)until / MTE_SEC);
        return mte_now(s->e) >= until;
    }
    if (c->kind == SCN_COND_NODE_UP) {
        struct sim_node *sn = sim_node_find(s, c->node);
        bool want_up = !strcmp(c->terms[0].value, "up");
        bool up = sn && sn->n;
        if (up != want_up)
            snprintf(why, len, "%s is %s", c->node, up ? "up" : "down");
        return up == want_up;
    }
    return sdrbd_cond_holds(s, c, why, len);
}

void action_execute(struct sim *s, const struct scn_action *a, size_t index)
{
    char text[1024];
    scn_format_action(a, text, sizeof(text));
    sim_trace(s, "action: %s", text);
    sdrbd_note_action(s, a);
    if (scn_verb_is_drbd(a->verb)) {
        exec_drbd(s, a, index);
        return;
    }
    switch (a->verb) {
    case V_CRASH: exec_crash(s, a, index); return;
    case V_RESTART: exec_restart(s, a, index); return;
    case V_PROBE_WRITE: exec_probe(s, a, index); return;
    case V_WAIT_FOR: case V_ASSERT: exec_wait(s, a, index); return;
    case V_PARTITION: case V_HEAL: case V_CLOG: case V_BLACKHOLE: case V_SLOW: case V_RESET:
        exec_net(s, a);
        break;
    case V_DISK_ERROR: case V_DISK_STALL: case V_DISK_HEAL: case V_PLANT:
        exec_disk(s, a);
        break;
    case V_START: case V_STOP: case V_RETARGET: case V_SWEEP: case V_FORGET:
        exec_workload(s, a);
        break;
    case V_CHECK_REPLICAS:
        sdrbd_check_replicas(s, a->res, false);
        break;
    case V_LOG:
        sim_trace(s, "log: %s", a->text);
        break;
    default:
        break;
    }
    if (!sim_stopped(s))
        script_action_done(s, index);
}
