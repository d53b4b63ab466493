/* Checking a workload's data: each read as it completes, the new primary's
 * disk at a failover, and the final image at the end of the run. */
#include <string.h>

#include "sim/wl_int.h"

static const char *verdict_invariant(enum oracle_verdict v, bool prefix)
{
    if (v == ORACLE_LOST)
        return prefix ? "write-order" : "lost-write";
    return "corrupt-read";
}

static void report(struct sim_wl *w, const char *node, const struct oracle_finding *f, bool prefix,
                   const char *where)
{
    char what[160];
    switch (f->verdict) {
    case ORACLE_LOST:
        if (prefix)
            snprintf(what, sizeof(what), "holds write %u where write %u was acknowledged before "
                     "write %u (present there) was issued: not a prefix", f->found, f->floor, f->last);
        else
            snprintf(what, sizeof(what), "holds write %u, but write %u was acknowledged (last issued %u)",
                     f->found, f->floor, f->last);
        break;
    case ORACLE_PHANTOM:
        snprintf(what, sizeof(what), "holds write %u, never issued there (last issued %u)", f->found, f->last);
        break;
    default:
        snprintf(what, sizeof(what), "holds a %s sector (acknowledged %u, last issued %u)", f->what,
                 f->floor, f->last);
        break;
    }
    sim_fail(w->sim, verdict_invariant(f->verdict, prefix), node, (int64_t)f->sector,
             "workload %s: %s: sector %llu %s", w->decl->name, where, (unsigned long long)f->sector, what);
}

void wl_check_read(struct sim_wl *w, struct wl_io *io)
{
    struct oracle_finding f;
    if (!w->sim->check_lost || oracle_check(w->oracle, io->unit0, io->nunits, io->floors, io->buf, &f))
        return;
    report(w, w->node, &f, false, io->sweep ? "sweep read" : "read");
}

static void read_media(void *arg, uint64_t offset, void *buf, size_t len)
{
    simdisk_read(arg, offset, buf, len);
}

/* Switching to new_node: under protocol C it holds every write acknowledged
 * while the old node replicated to it (all of them, unless they were cut off
 * before); under A and B a prefix of them.  What it holds becomes the truth. */
void wl_check_failover(struct sim_wl *w, const char *new_node, const char *new_dev)
{
    struct sim_location loc;
    if (!w->sim->check_lost || sim_device_location(w->sim, new_node, new_dev, &loc)) {
        sim_trace(w->sim, "workload %s: no failover check on %s (its data is not reachable)",
                  w->decl->name, new_node);
        return;
    }
    bool prefix = loc.protocol == 'A' || loc.protocol == 'B';
    mte_time_t cutoff = sdrbd_replicated_until(w->sim, w->node, new_node);
    struct sim_node *old = sim_node_find(w->sim, w->node);
    if (old && cutoff != MTE_TIME_NEVER && oracle_acked_since(w->oracle, cutoff))
        old->diverged = true;
    struct oracle_image_check how = {.prefix_only = prefix, .cutoff = cutoff, .adopt = true};
    struct oracle_finding f;
    char where[SCN_NAME + 40];
    snprintf(where, sizeof(where), "failover to %s", new_node);
    /* what the new primary's device serves: a SyncTarget's blocks not
     * resynced yet come from its source */
    bool ok = loc.protocol ? oracle_check_image(w->oracle, sdrbd_read_device, &loc, &how, &f)
                           : oracle_check_image(w->oracle, read_media, loc.media, &how, &f);
    if (!ok) {
        report(w, new_node, &f, prefix, where);
        return;
    }
    if (prefix)
        sim_trace(w->sim, "workload %s: failover to %s: its disk holds a prefix of the acknowledged "
                  "writes", w->decl->name, new_node);
    else if (cutoff == MTE_TIME_NEVER)
        sim_trace(w->sim, "workload %s: failover to %s: its disk holds every acknowledged write",
                  w->decl->name, new_node);
    else
        sim_trace(w->sim, "workload %s: failover to %s: its disk holds every write acknowledged "
                  "before %s stopped replicating to it at %.6fs", w->decl->name, new_node, w->node,
                  (double)cutoff / MTE_SEC);
}

void wl_check_final(struct sim_wl *w)
{
    struct sim_location loc;
    if (!w->sim->check_lost || sim_device_location(w->sim, w->node, w->dev, &loc))
        return;
    if (!loc.consistent) {
        sim_trace(w->sim, "workload %s: no final check: %s on %s is not UpToDate", w->decl->name,
                  w->dev, w->node);
        return;
    }
    if (w->regress_pending) {
        oracle_regress_to_durable(w->oracle);
        w->regress_pending = false;
    }
    struct oracle_finding f;
    struct oracle_image_check how = {.cutoff = UINT64_MAX};
    if (!oracle_check_image(w->oracle, read_media, loc.media, &how, &f))
        report(w, w->node, &f, false, "final image");
}

void workloads_final_check(struct sim *s)
{
    for (size_t i = 0; i < s->nwls && !sim_stopped(s); i++)
        wl_check_final(s->wls[i]);
}
