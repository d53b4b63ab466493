/* Workloads: random or sequential read/write/flush mixes at a rate and queue
 * depth, or the replay of an I/O trace.  Writes carry self-describing
 * payloads; every completion goes through the oracle; a watchdog fails the
 * run when an I/O has not completed within its bound. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/payload.h"
#include "sim/wl_int.h"

#define RETRY_ATTACH (500 * MTE_MSEC)

static void wl_tick(void *arg);
static void schedule_tick(struct sim_wl *w, mte_time_t when);

/* ---- I/O pool and the in-flight list ---------------------------------------------------- */

static struct wl_io *io_get(struct sim_wl *w)
{
    struct wl_io *io = w->free_ios;
    if (io) {
        w->free_ios = io->next;
    } else {
        io = calloc(1, sizeof(*io));
        if (!io)
            abort();
        io->wl = w;
        io->buf = aligned_alloc(4096, (w->max_bytes + 4095) / 4096 * 4096);
        io->floors = calloc(w->max_units, sizeof(*io->floors));
        if (!io->buf || !io->floors)
            abort();
    }
    io->prev = io->next = NULL;
    io->be_priv = NULL;
    io->sweep = false;
    io->flags = 0;
    return io;
}

static void io_put(struct sim_wl *w, struct wl_io *io)
{
    io->next = w->free_ios;
    w->free_ios = io;
}

static void io_link(struct sim_wl *w, struct wl_io *io)
{
    io->prev = w->tail;
    io->next = NULL;
    if (w->tail)
        w->tail->next = io;
    else
        w->head = io;
    w->tail = io;
    w->inflight++;
}

static void io_unlink(struct sim_wl *w, struct wl_io *io)
{
    if (io->prev)
        io->prev->next = io->next;
    else
        w->head = io->next;
    if (io->next)
        io->next->prev = io->prev;
    else
        w->tail = io->prev;
    w->inflight--;
}

/* ---- the watchdog: every I/O completes within the bound ---------------------------------- */

static void watchdog_fire(void *arg)
{
    struct sim_wl *w = arg;
    struct wl_io *io = w->head;
    if (!io)
        return;
    mte_time_t due = io->issued + w->sim->io_bound;
    if (mte_now(w->sim->e) < due) {
        mte_timer_arm(w->sim->e, &w->watchdog, due);
        return;
    }
    char tb[32];
    scn_format_time(w->sim->io_bound, tb, sizeof(tb));
    sim_fail(w->sim, "io-timeout", w->node, io->op == UMC_OP_FLUSH ? -1 : (int64_t)(io->offset / 512),
             "workload %s: %s of %llu bytes at offset %llu issued at %.6fs did not complete within %s",
             w->decl->name, umc_bio_op_name(io->op), (unsigned long long)io->length,
             (unsigned long long)io->offset, (double)io->issued / MTE_SEC, tb);
}

static void watchdog_arm(struct sim_wl *w, const struct wl_io *io)
{
    if (!mte_timer_armed(&w->watchdog))
        mte_timer_arm(w->sim->e, &w->watchdog, io->issued + w->sim->io_bound);
}

/* ---- issuing -------------------------------------------------------------------------------- */

static void watch_io(struct sim_wl *w, const struct wl_io *io, const char *what, int status)
{
    if (io->op == UMC_OP_FLUSH || !sim_watching(w->sim, io->offset, io->length))
        return;
    char id[32] = "";
    if (io->op == UMC_OP_WRITE)
        snprintf(id, sizeof(id), " id %u", io->write_id);
    sim_watch(w->sim, "workload %s: %s%s [%llu, +%llu) on %s %s%s%s", w->decl->name,
              umc_bio_op_name(io->op), id, (unsigned long long)(io->offset / 512),
              (unsigned long long)(io->length / 512), w->node, what, status ? ": " : "",
              status ? strerror(-status) : "");
}

static void io_submit(struct sim_wl *w, struct wl_io *io)
{
    watch_io(w, io, "issued", 0);
    io->issued = mte_now(w->sim->e);
    struct sim_node *sn = wl_target_node(w);
    io->role_at_issue = sn && io->op == UMC_OP_WRITE ? sdrbd_device_role(sn, w->dev) : 0;
    io_link(w, io);
    watchdog_arm(w, io);
    w->be->submit(w, io);
}

static void issue_write(struct sim_wl *w, uint64_t unit0, uint32_t n, uint32_t flags)
{
    struct wl_io *io = io_get(w);
    io->op = UMC_OP_WRITE;
    io->flags = flags;
    io->unit0 = unit0;
    io->nunits = n;
    io->offset = oracle_base(w->oracle) + unit0 * w->unit;
    io->length = (uint64_t)n * w->unit;
    io->write_id = oracle_write_issue(w->oracle, unit0, n);
    payload_fill(io->buf, io->offset / 512, (uint32_t)(io->length / 512), oracle_tag(w->oracle),
                 io->write_id);
    w->writes++;
    io_submit(w, io);
}

static void issue_read(struct sim_wl *w, uint64_t unit0, uint32_t n, bool sweep)
{
    struct wl_io *io = io_get(w);
    io->op = UMC_OP_READ;
    io->unit0 = unit0;
    io->nunits = n;
    io->sweep = sweep;
    io->offset = oracle_base(w->oracle) + unit0 * w->unit;
    io->length = (uint64_t)n * w->unit;
    oracle_read_floors(w->oracle, unit0, n, io->floors);
    w->reads++;
    io_submit(w, io);
}

static void issue_flush(struct sim_wl *w)
{
    struct wl_io *io = io_get(w);
    io->op = UMC_OP_FLUSH;
    io->offset = io->length = 0;
    io->flush_token = oracle_flush_issue(w->oracle);
    w->flushes++;
    io_submit(w, io);
}

/* One I/O of the mix; false if none could be issued now (overlap). */
static bool issue_random(struct sim_wl *w)
{
    const struct scn_workload *d = w->decl;
    unsigned pick = (unsigned)mte_rng_below(&w->rng, 100);
    if (pick >= d->read_pct && pick < d->read_pct + d->flush_pct) {
        issue_flush(w);
        return true;
    }
    bool is_read = pick < d->read_pct;
    uint32_t n = d->bs[mte_rng_below(&w->rng, d->nbs)] / w->unit;
    uint64_t units = oracle_units(w->oracle);
    if (n > units)
        n = (uint32_t)units;
    for (int attempt = 0; attempt < 4; attempt++) {
        uint64_t unit0;
        if (d->kind == SCN_WL_SEQUENTIAL) {
            if (w->seq_unit + n > units)
                w->seq_unit = 0;
            unit0 = w->seq_unit;
        } else {
            unit0 = mte_rng_below(&w->rng, units - n + 1);
        }
        if (is_read) {
            issue_read(w, unit0, n, false);
        } else {
            if (oracle_busy(w->oracle, unit0, n))
                continue;
            uint32_t flags = d->fua > 0 && mte_rng_chance(&w->rng, d->fua) ? UMC_BIO_FUA : 0;
            issue_write(w, unit0, n, flags);
        }
        if (d->kind == SCN_WL_SEQUENTIAL)
            w->seq_unit = unit0 + n;
        return true;
    }
    return false;
}

/* The sweep: one read of up to 16 written units in a row; false when done. */
static bool issue_sweep(struct sim_wl *w)
{
    uint64_t units = oracle_units(w->oracle);
    while (w->sweep_unit < units && !oracle_written(w->oracle, w->sweep_unit))
        w->sweep_unit++;
    if (w->sweep_unit >= units)
        return false;
    uint64_t u = w->sweep_unit;
    uint32_t n = 1;
    while (n < w->max_units && n < 16 && u + n < units && oracle_written(w->oracle, u + n))
        n++;
    w->sweep_unit = u + n;
    issue_read(w, u, n, true);
    return true;
}

/* Replay: issue every record that is due; false if the head must wait. */
static bool issue_replay(struct sim_wl *w, mte_time_t now)
{
    const struct iotrace_rec *r = &w->trace->recs[w->trace_pos];
    mte_time_t due = w->trace_t0 + (mte_time_t)((double)r->time_us * MTE_USEC / w->decl->speed);
    if (due > now) {
        schedule_tick(w, due);
        return false;
    }
    if (r->op == UMC_OP_FLUSH) {
        issue_flush(w);
    } else {
        uint64_t unit0 = r->offset / w->unit;
        uint32_t n = (uint32_t)(r->length / w->unit);
        if (r->op == UMC_OP_READ) {
            issue_read(w, unit0, n, false);
        } else {
            /* discards and write-zeroes are replayed as writes of payloads */
            if (oracle_busy(w->oracle, unit0, n))
                return false;
            issue_write(w, unit0, n, r->flags);
        }
    }
    w->trace_pos++;
    return true;
}

/* ---- the tick: attach, then issue what the rate and queue depth allow ------------------- */

static void schedule_tick(struct sim_wl *w, mte_time_t when)
{
    if (!mte_timer_armed(&w->tick) || w->tick.when > when)
        mte_timer_arm(w->sim->e, &w->tick, when);
}

static bool try_attach(struct sim_wl *w)
{
    if (w->attach == WL_ATTACHED)
        return true;
    if (w->attach == WL_ATTACHING)
        return false;
    int rc = w->be->attach(w);
    if (rc == 0) {
        w->attach = WL_ATTACHED;
        w->refusal_noted = false;
        return true;
    }
    if (rc > 0) {
        w->attach = WL_ATTACHING;
        return false;
    }
    if (!w->refusal_noted)
        sim_trace(w->sim, "workload %s: %s on %s not available (%s); retrying", w->decl->name,
                  w->dev, w->node, strerror(-rc));
    w->refusal_noted = true;
    mte_timer_arm(w->sim->e, &w->retry, mte_now(w->sim->e) + RETRY_ATTACH);
    return false;
}

static void issue_mix(struct sim_wl *w, mte_time_t now)
{
    const struct scn_workload *d = w->decl;
    if (!d->iops) {
        while (w->inflight < d->qd && issue_random(w))
            ;
        return;
    }
    /* open loop at the rate; an I/O due while the queue is full is skipped */
    mte_time_t interval = MTE_SEC / d->iops;
    if (!w->next_issue)
        w->next_issue = now;
    while (w->next_issue <= now) {
        if (w->inflight < d->qd)
            issue_random(w);
        w->next_issue += interval;
    }
    schedule_tick(w, w->next_issue);
}

static void detach_if_idle(struct sim_wl *w);

static void wl_tick(void *arg)
{
    struct sim_wl *w = arg;
    mte_time_t now = mte_now(w->sim->e);
    if (sim_stopped(w->sim) || (!w->active && !w->sweeping) || !try_attach(w))
        return;
    if (w->sweeping) {
        while (w->inflight < w->decl->qd && issue_sweep(w))
            ;
        if (w->sweep_unit >= oracle_units(w->oracle) && !w->inflight) {
            w->sweeping = false;
            sim_trace(w->sim, "workload %s: sweep done", w->decl->name);
            detach_if_idle(w); /* a stopped workload lets go of the device again */
        }
        if (w->sweeping || !w->active)
            return;
    }
    if (w->trace) {
        while (w->trace_pos < w->trace->nrecs && w->inflight < w->decl->qd && issue_replay(w, now))
            ;
        if (w->trace_pos == w->trace->nrecs && !w->inflight && w->active) {
            sim_trace(w->sim, "workload %s: replay done (%zu I/Os)", w->decl->name, w->trace->nrecs);
            wl_stop(w);
        }
        return;
    }
    issue_mix(w, now);
}

static void retry_fire(void *arg)
{
    struct sim_wl *w = arg;
    schedule_tick(w, mte_now(w->sim->e));
}

void wl_attached(struct sim_wl *w, int rc)
{
    w->attach = rc == 0 ? WL_ATTACHED : WL_DETACHED;
    if (rc) {
        if (!w->refusal_noted)
            sim_trace(w->sim, "workload %s: attach failed (%d); retrying", w->decl->name, rc);
        w->refusal_noted = true;
        mte_timer_arm(w->sim->e, &w->retry, mte_now(w->sim->e) + RETRY_ATTACH);
        return;
    }
    schedule_tick(w, mte_now(w->sim->e));
}

/* ---- completion ------------------------------------------------------------------------------- */

static void detach_if_idle(struct sim_wl *w)
{
    if (!w->active && !w->sweeping && !w->inflight && w->attach != WL_DETACHED) {
        w->be->detach(w);
        w->attach = WL_DETACHED;
    }
}

static void write_done(struct sim_wl *w, struct wl_io *io, int status)
{
    bool ok = status == 0;
    oracle_write_done(w->oracle, io->write_id, ok, io->flags & UMC_BIO_FUA, mte_now(w->sim->e));
    if (ok && io->role_at_issue == 1)
        sim_fail(w->sim, "secondary-write", w->node, (int64_t)(io->offset / 512),
                 "workload %s: a write to %s succeeded while %s was Secondary", w->decl->name,
                 w->dev, w->node);
}

void wl_io_done(struct wl_io *io, int status)
{
    struct sim_wl *w = io->wl;
    watch_io(w, io, status ? "failed" : "done", status);
    io_unlink(w, io);
    if (w->sim->tearing) {
        io_put(w, io);
        return;
    }
    if (status) {
        w->errors++;
        /* availability is not promised while drawn faults are about (a
         * failed disk cut off from its peer fails I/O): only afterwards */
        const struct scenario *scn = w->sim->scn;
        bool chaos = scn->chaos_until && io->issued <= scn->chaos_until + w->sim->io_error_grace &&
                     mte_now(w->sim->e) >= scn->chaos_from;
        if (w->sim->no_io_errors && !chaos)
            sim_fail(w->sim, "io-error", w->node, io->op == UMC_OP_FLUSH ? -1 : (int64_t)(io->offset / 512),
                     "workload %s: %s at offset %llu failed: %s", w->decl->name,
                     umc_bio_op_name(io->op), (unsigned long long)io->offset, strerror(-status));
    }
    switch (io->op) {
    case UMC_OP_WRITE:
        write_done(w, io, status);
        break;
    case UMC_OP_READ:
        if (!status)
            wl_check_read(w, io);
        break;
    default:
        oracle_flush_done(w->oracle, io->flush_token, status == 0);
        break;
    }
    io_put(w, io);
    if (sim_stopped(w->sim))
        return;
    if (w->active || w->sweeping)
        schedule_tick(w, mte_now(w->sim->e));
    detach_if_idle(w);
}

/* ---- life ------------------------------------------------------------------------------------- */

struct sim_node *wl_target_node(struct sim_wl *w) { return sim_node_find(w->sim, w->node); }

static void stop_fire(void *arg) { wl_stop(arg); }

void wl_start(struct sim_wl *w, mte_time_t duration)
{
    struct sim_node *sn = wl_target_node(w);
    if (w->regress_pending && sn && sn->n) {
        oracle_regress_to_durable(w->oracle);
        w->regress_pending = false;
    }
    w->active = true;
    w->crash_stopped = false;
    w->next_issue = 0;
    if (w->trace) {
        w->trace_pos = 0;
        w->trace_t0 = mte_now(w->sim->e);
    }
    if (duration)
        mte_timer_arm(w->sim->e, &w->stop_timer, mte_now(w->sim->e) + duration);
    schedule_tick(w, mte_now(w->sim->e));
}

void wl_stop(struct sim_wl *w)
{
    w->active = false;
    mte_timer_cancel(w->sim->e, &w->stop_timer);
    mte_timer_cancel(w->sim->e, &w->tick);
    detach_if_idle(w);
}

bool wl_stopped(const struct sim_wl *w, char *why, size_t len)
{
    if (!w->active && !w->sweeping && !w->inflight && w->attach == WL_DETACHED)
        return !w->be->still_held || !w->be->still_held(w, why, len);
    snprintf(why, len, "workload %s is %s with %u I/Os in flight", w->decl->name,
             w->active ? "running" : "stopping", w->inflight);
    return false;
}

void wl_sweep(struct sim_wl *w)
{
    w->sweeping = true;
    w->sweep_unit = 0;
    schedule_tick(w, mte_now(w->sim->e));
}

void wl_forget(struct sim_wl *w)
{
    oracle_forget(w->oracle);
    sim_trace(w->sim, "workload %s: its data may be gone; only its validity is checked", w->decl->name);
}

void wl_retarget(struct sim_wl *w, const char *node, const char *dev)
{
    char new_dev[SCN_NAME];
    snprintf(new_dev, sizeof(new_dev), "%s", dev && dev[0] ? dev : w->dev);
    if (strcmp(node, w->node) != 0)
        wl_check_failover(w, node, new_dev);
    if (w->attach != WL_DETACHED) {
        /* I/O still in flight on the old target completes there */
        w->be->detach(w);
        w->attach = WL_DETACHED;
    }
    snprintf(w->node, sizeof(w->node), "%s", node);
    snprintf(w->dev, sizeof(w->dev), "%s", new_dev);
    w->regress_pending = false;
    if (w->crash_stopped) /* the application fails over with its data */
        wl_start(w, 0);
    else if (w->active)
        schedule_tick(w, mte_now(w->sim->e));
}

/* The node under the workload crashed: what was in flight is lost (its
 * outcome unknown), and the workload waits for the node to come back. */
static void lose_inflight(struct sim_wl *w)
{
    while (w->head) {
        struct wl_io *io = w->head;
        io_unlink(w, io);
        if (io->op == UMC_OP_WRITE)
            oracle_write_done(w->oracle, io->write_id, false, false, 0);
        w->lost++;
        io_put(w, io);
    }
}

void workloads_node_crashed(struct sim *s, struct sim_node *sn, bool power)
{
    for (size_t i = 0; i < s->nwls; i++) {
        struct sim_wl *w = s->wls[i];
        bool issuer = !strcmp(w->decl->node, sn->decl->name);
        bool target = !strcmp(w->node, sn->decl->name);
        bool completes_itself = w->be->node_crashed && w->be->node_crashed(w, sn);
        if (!issuer && !target)
            continue;
        if (!completes_itself)
            lose_inflight(w);
        w->attach = WL_DETACHED;
        if (target && power)
            w->regress_pending = true;
        if (w->active) {
            w->crash_stopped = true;
            wl_stop(w);
        }
        w->sweeping = false;
    }
}

void workloads_node_restarted(struct sim *s, struct sim_node *sn)
{
    for (size_t i = 0; i < s->nwls; i++) {
        struct sim_wl *w = s->wls[i];
        if (w->crash_stopped && (!strcmp(w->node, sn->decl->name) ||
                                 !strcmp(w->decl->node, sn->decl->name))) {
            sim_trace(s, "workload %s: resumes after %s restarted", w->decl->name, sn->decl->name);
            wl_start(w, 0);
        }
    }
}

/* ---- creation -------------------------------------------------------------------------------- */

static uint32_t smallest_bs(const struct scn_workload *d)
{
    uint32_t u = d->bs[0];
    for (unsigned i = 1; i < d->nbs; i++)
        if (d->bs[i] < u)
            u = d->bs[i];
    return u;
}

static int load_trace(struct sim *s, struct sim_wl *w)
{
    char err[600];
    w->trace = iotrace_load(w->decl->trace, err, sizeof(err));
    if (!w->trace) {
        sim_setup_error(s, "workload %s: %s", w->decl->name, err);
        return -1;
    }
    /* the unit: the largest power of two up to 4K that every I/O is aligned to */
    w->unit = 4096;
    for (size_t i = 0; i < w->trace->nrecs; i++)
        while ((w->trace->recs[i].offset | w->trace->recs[i].length) % w->unit)
            w->unit /= 2;
    w->max_bytes = w->unit;
    for (size_t i = 0; i < w->trace->nrecs; i++) {
        if (w->trace->recs[i].length > 1024 * 1024) {
            sim_setup_error(s, "workload %s: %s has an I/O of more than 1 MiB", w->decl->name,
                            w->decl->trace);
            return -1;
        }
        if (w->trace->recs[i].length > w->max_bytes)
            w->max_bytes = (uint32_t)w->trace->recs[i].length;
    }
    return 0;
}

/* The span needs the device's size: known for disks; drbd devices learn it
 * when they come up, so a span of 0 there is taken from the backing disk. */
static uint64_t workload_span(struct sim *s, struct sim_wl *w)
{
    const struct scn_workload *d = w->decl;
    if (d->span)
        return d->span;
    if (w->trace)
        return w->trace->size ? w->trace->size : iotrace_extent(w->trace);
    const struct scn_disk *disk = scn_find_disk(s->scn, d->via == SCN_VIA_ISCSI ? d->target_node : d->node, d->dev);
    return disk && disk->size > d->offset ? disk->size - d->offset : 0;
}

static struct sim_wl *wl_new(struct sim *s, const struct scn_workload *d)
{
    struct sim_wl *w = calloc(1, sizeof(*w));
    if (!w)
        abort();
    w->sim = s;
    w->decl = d;
    w->be = d->via == SCN_VIA_ISCSI ? wl_iscsi_backend() : wl_bdev_backend();
    snprintf(w->node, sizeof(w->node), "%s", d->via == SCN_VIA_ISCSI ? d->target_node : d->node);
    snprintf(w->dev, sizeof(w->dev), "%s", d->dev);
    char stream[SCN_NAME + 16];
    snprintf(stream, sizeof(stream), "workload/%s", d->name);
    mte_rng_init(&w->rng, s->seed, stream);
    w->unit = smallest_bs(d);
    w->max_bytes = 0;
    for (unsigned i = 0; i < d->nbs; i++)
        if (d->bs[i] > w->max_bytes)
            w->max_bytes = d->bs[i];
    w->be_state = calloc(1, w->be->state_size ? w->be->state_size : 1);
    if (!w->be_state)
        abort();
    mte_timer_init(&w->tick, wl_tick, w, w);
    mte_timer_init(&w->watchdog, watchdog_fire, w, w);
    mte_timer_init(&w->stop_timer, stop_fire, w, w);
    mte_timer_init(&w->retry, retry_fire, w, w);
    return w;
}

int workloads_create(struct sim *s)
{
    s->nwls = s->scn->nworkloads;
    s->wls = calloc(s->nwls ? s->nwls : 1, sizeof(*s->wls));
    if (!s->wls)
        abort();
    for (size_t i = 0; i < s->nwls; i++) {
        const struct scn_workload *d = &s->scn->workloads[i];
        struct sim_wl *w = s->wls[i] = wl_new(s, d);
        if (d->kind == SCN_WL_REPLAY && load_trace(s, w))
            return -1;
        uint64_t span = workload_span(s, w);
        if (w->trace && iotrace_extent(w->trace) > span) {
            sim_setup_error(s, "workload %s: the trace reaches beyond its span", d->name);
            return -1;
        }
        if (span < w->max_bytes || span % w->unit) {
            sim_setup_error(s, "workload %s: span=%llu must be a multiple of %u and hold its largest "
                            "I/O (declare span=SIZE for a drbd or iSCSI device)", d->name,
                            (unsigned long long)span, w->unit);
            return -1;
        }
        w->max_units = w->max_bytes / w->unit;
        w->oracle = oracle_new(d->offset, span, w->unit, (uint32_t)i + 1);
    }
    return 0;
}

void workloads_detach(struct sim *s)
{
    for (size_t i = 0; i < s->nwls; i++) {
        struct sim_wl *w = s->wls[i];
        if (!w)
            continue;
        mte_cancel_owner(s->e, w);
        w->be->detach(w);
        w->attach = WL_DETACHED;
    }
}

void workloads_destroy(struct sim *s)
{
    for (size_t i = 0; i < s->nwls; i++) {
        struct sim_wl *w = s->wls[i];
        if (!w)
            continue;
        /* what is still in flight belongs to nodes being torn down */
        while (w->head) {
            struct wl_io *io = w->head;
            io_unlink(w, io);
            io_put(w, io);
        }
        while (w->free_ios) {
            struct wl_io *io = w->free_ios;
            w->free_ios = io->next;
            free(io->buf);
            free(io->floors);
            free(io);
        }
        oracle_free(w->oracle);
        iotrace_free(w->trace);
        free(w->be_state);
        free(w);
    }
    free(s->wls);
    s->wls = NULL;
}

struct sim_wl *wl_find(struct sim *s, const char *name)
{
    for (size_t i = 0; i < s->nwls; i++)
        if (!strcmp(s->wls[i]->decl->name, name))
            return s->wls[i];
    return NULL;
}

/* -v: what each workload did. */
void workloads_report(struct sim *s)
{
    for (size_t i = 0; i < s->nwls; i++) {
        const struct sim_wl *w = s->wls[i];
        struct oracle_stats st;
        oracle_get_stats(w->oracle, &st);
        sim_info(s, "workload %s: %llu writes (%llu acknowledged, %llu with open outcome), %llu reads, "
                 "%llu flushes, %llu errors, %llu lost in crashes, %llu blocks written",
                 w->decl->name, (unsigned long long)st.writes_issued, (unsigned long long)st.writes_acked,
                 (unsigned long long)st.writes_unknown, (unsigned long long)w->reads,
                 (unsigned long long)w->flushes, (unsigned long long)w->errors,
                 (unsigned long long)w->lost, (unsigned long long)st.units_written);
    }
}

bool workloads_quiesce(struct sim *s)
{
    bool idle = true;
    for (size_t i = 0; i < s->nwls; i++) {
        struct sim_wl *w = s->wls[i];
        if (w->active)
            wl_stop(w);
        w->sweeping = false;
        idle &= w->inflight == 0;
    }
    return idle;
}
