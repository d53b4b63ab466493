/* drbdadm / drbdsetup verbs, asynchronous: each settles (or is refused with
 * DRBD's wording) and then calls done once.  This file: a command's life,
 * up/down and dispatch; role changes are in drbd_admin_roles.c, the other
 * verbs in drbd_admin_verbs.c.  Also the 100 ms resource tick that drives
 * resync pacing, ko-count and periodic write-back. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "drbd/drbd_admin_int.h"

/* ---- finishing a command --------------------------------------------------------------------- */

static void ctx_free(struct drbd_cmd_ctx *x)
{
    struct umc_node *n = x->d->node;
    umc_timer_cancel(n, &x->defer_timer);
    dl_del(&x->link);
    dl_del(&x->all);
    if (x->r && x->r->twopc_cmd == x)
        x->r->twopc_cmd = NULL;
    if (x->r && x->r->down_cmd == x)
        x->r->down_cmd = NULL;
    umc_free(n, x);
}

/* The resource goes away (or the whole module): commands still waiting on it end. */
void drbd_cmds_teardown(struct drbd *d, struct drbd_resource *r)
{
    for (struct drbd_link *l = d->cmds.next, *nx; l != &d->cmds; l = nx) {
        nx = l->next;
        struct drbd_cmd_ctx *x = dl_entry(l, struct drbd_cmd_ctx, all);
        if (r && x->r != r)
            continue;
        if (r && (x->finishing || x->wait == WAIT_DOWN_MD || mte_timer_armed(&x->defer_timer)))
            continue; /* finishing anyway */
        if (d->freeing || !x->done) {
            ctx_free(x);
            continue;
        }
        x->rc = x->rc ? x->rc : -ENODEV;
        if (!x->msg[0])
            snprintf(x->msg, sizeof(x->msg), "%s: resource went down", r ? r->cfg->name : "drbd");
        drbd_cmd_finish(x);
        nx = d->cmds.next; /* a callback may have changed the list */
    }
}

void drbd_cmd_finish(struct drbd_cmd_ctx *x)
{
    if (x->d->in_command) {
        /* never answer from inside drbd_command itself */
        umc_timer_arm_in(x->d->node, &x->defer_timer, 0);
        return;
    }
    drbd_done_fn done = x->done;
    void *arg = x->arg;
    int rc = x->rc;
    char msg[256];
    snprintf(msg, sizeof(msg), "%s", x->msg);
    if (rc)
        umc_warn(x->d->node, DRBD_COMP, "%s %s: %s", x->cmd.verb, x->r ? x->r->cfg->name : "-", msg);
    ctx_free(x);
    if (done)
        done(arg, rc, msg);
}

static void finish_deferred(void *arg) { drbd_cmd_finish(arg); }

/* Results known at once are still delivered from the event loop. */
void drbd_cmd_reply(struct drbd_cmd_ctx *x, int rc, const char *msg)
{
    if (rc && !x->rc) {
        x->rc = rc;
        snprintf(x->msg, sizeof(x->msg), "%s", msg ? msg : "");
    }
    umc_timer_arm_in(x->d->node, &x->defer_timer, 0);
}

void drbd_cmd_part_done(void *arg, int rc, const char *msg)
{
    struct drbd_cmd_ctx *x = arg;
    if (rc && !x->rc) {
        x->rc = rc;
        snprintf(x->msg, sizeof(x->msg), "%s", msg ? msg : "");
    }
    if (--x->pending == 0)
        drbd_cmd_finish(x);
}

int drbd_cmd_refuse(struct drbd_cmd_ctx *x, int rc, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    drbd_cmd_reply(x, rc, msg);
    return rc;
}

/* ---- volumes and connections a command names ------------------------------------------------ */

bool drbd_cmd_vol_selected(const struct drbd_cmd_ctx *x, const struct drbd_volume *v)
{
    return x->cmd.volume < 0 || x->cmd.volume == v->vnr;
}

bool drbd_cmd_conn_selected(const struct drbd_cmd_ctx *x, const struct drbd_conn *c)
{
    return !x->peer[0] || strcmp(x->peer, c->name) == 0;
}

static int check_selection(struct drbd_cmd_ctx *x)
{
    struct drbd_resource *r = x->r;
    if (x->peer[0] && !drbd_conn_by_name(r, x->peer))
        return drbd_cmd_refuse(x, -ENOENT, "%s: no connection to %s", r->cfg->name, x->peer);
    if (x->cmd.volume >= 0 && !drbd_vol_by_vnr(r, x->cmd.volume))
        return drbd_cmd_refuse(x, -ENOENT, "%s: no volume %d", r->cfg->name, x->cmd.volume);
    return 0;
}

/* ---- up / down -------------------------------------------------------------------------------- */

static void up_attached(void *arg, int rc, const char *msg)
{
    struct drbd_cmd_ctx *x = arg;
    if (rc && !x->rc) {
        x->rc = rc;
        snprintf(x->msg, sizeof(x->msg), "%s", msg);
    }
    if (--x->pending)
        return;
    struct drbd_resource *r = x->r;
    for (int i = 0; r->up && i < r->nconns; i++)
        drbd_conn_start(r->conns[i]);
    drbd_cmd_finish(x);
}

static void cmd_up(struct drbd_cmd_ctx *x)
{
    struct drbd_resource *r = x->r;
    char msg[256];
    int rc = drbd_res_up(r, msg, sizeof(msg));
    if (rc) {
        drbd_cmd_reply(x, rc, msg);
        return;
    }
    x->pending = 1;
    for (int i = 0; i < r->nvols; i++) {
        struct drbd_volume *v = r->vols[i];
        if (!v->cfg->disk[0])
            continue;
        x->pending++;
        rc = drbd_vol_attach(v, msg, sizeof(msg), up_attached, x);
        if (rc) {
            umc_err(r->node, DRBD_COMP, "%s", msg);
            up_attached(x, rc, msg);
        }
    }
    up_attached(x, 0, "");
}

static bool volumes_idle(const struct drbd_resource *r)
{
    for (int i = 0; i < r->nvols; i++) {
        const struct drbd_volume *v = r->vols[i];
        if (v->upper_pending || v->lower_pending || v->sb_busy || v->bmw_busy || v->al.busy ||
            v->detach_done || !dl_empty(&v->preqs))
            return false;
    }
    return true;
}

/* Every volume's meta-data is written: tear down once nothing is in flight. */
static void down_md_written(void *arg, int rc)
{
    struct drbd_cmd_ctx *x = arg;
    if (--x->pending)
        return;
    x->wait = WAIT_DOWN_FINAL;
    drbd_cmd_waits_check(x->r);
}

static void down_final(struct drbd_cmd_ctx *x)
{
    struct drbd_resource *r = x->r;
    dl_del(&x->link);
    r->down_cmd = NULL;
    x->finishing = true;
    drbd_res_teardown(r);
    drbd_cmd_finish(x);
}

static void down_vol_written(void *arg, int rc)
{
    struct drbd_volume *v = arg;
    down_md_written(v->res->down_cmd, rc);
}

/* The bitmap first, then an empty activity log (which also writes the
 * superblock with AL_CLEAN set and PRIMARY_IND clear). */
static void down_vol_bm_written(void *arg, int rc)
{
    struct drbd_volume *v = arg;
    drbd_md_set_flag(v, MDF_PRIMARY_IND, false);
    if (v->al.ext)
        drbd_al_write_clean(v, down_vol_written, v);
    else
        drbd_md_sync(v, down_vol_written, v);
}

static void down_write_md(struct drbd_cmd_ctx *x)
{
    struct drbd_resource *r = x->r;
    x->wait = WAIT_DOWN_MD;
    x->pending = 1;
    r->down_cmd = x;
    for (int i = 0; i < r->nvols; i++) {
        struct drbd_volume *v = r->vols[i];
        if (!v->have_md || !v->backing_open)
            continue;
        x->pending++;
        drbd_bm_writeback(v, down_vol_bm_written, v);
    }
    down_md_written(x, 0);
}

static void cmd_down(struct drbd_cmd_ctx *x)
{
    struct drbd_resource *r = x->r;
    if (!r->up) {
        drbd_cmd_reply(x, 0, "");
        return;
    }
    if (r->role == DRBD_ROLE_PRIMARY) {
        if (drbd_res_open_for_write(r)) {
            drbd_cmd_reply(x, -EBUSY, DRBD_MSG_IN_USE);
            return;
        }
        drbd_demote_now(r);
    }
    r->going_down = true;
    for (int i = 0; i < r->nconns; i++)
        drbd_conn_stop(r->conns[i], DRBD_C_STANDALONE);
    x->wait = WAIT_DOWN_DRAIN;
    dl_add_tail(&r->cmd_waits, &x->link);
    drbd_cmd_waits_check(r);
}

/* ---- waiting commands ----------------------------------------------------------------------- */

void drbd_cmd_waits_check(struct drbd_resource *r)
{
    if (!r->cmd_waits.next || dl_empty(&r->cmd_waits))
        return;
    for (struct drbd_link *l = r->cmd_waits.next, *nx; l != &r->cmd_waits; l = nx) {
        nx = l->next;
        struct drbd_cmd_ctx *x = dl_entry(l, struct drbd_cmd_ctx, link);
        if (x->wait == WAIT_SECONDARY) {
            bool idle = true;
            for (int i = 0; i < r->nvols; i++)
                idle &= !r->vols[i]->upper_pending;
            if (!idle)
                continue;
            drbd_cmd_demote_when_idle(x);
            return; /* the list may have changed */
        }
        if (x->wait == WAIT_PROMOTE && !drbd_peer_writes_landing(r)) {
            dl_del(&x->link);
            x->wait = WAIT_NONE;
            drbd_cmd_primary(x);
            return;
        }
        if (x->wait == WAIT_DOWN_DRAIN && volumes_idle(r)) {
            down_write_md(x);
            return;
        }
        if (x->wait == WAIT_DOWN_FINAL && volumes_idle(r)) {
            down_final(x);
            return;
        }
    }
}

/* ---- dispatch ------------------------------------------------------------------------------- */

static const struct verb {
    const char *name;
    void (*run)(struct drbd_cmd_ctx *x);
    bool needs_up;                     /* refused while the resource is down */
} verbs[] = {
    {"up", cmd_up, false},
    {"down", cmd_down, false},
    {"create-md", drbd_cmd_create_md, false},
    {"primary", drbd_cmd_primary, true},
    {"secondary", drbd_cmd_secondary, true},
    {"connect", drbd_cmd_connect, true},
    {"disconnect", drbd_cmd_disconnect, true},
    {"attach", drbd_cmd_attach, true},
    {"detach", drbd_cmd_detach, true},
    {"invalidate", drbd_cmd_invalidate, true},
    {"invalidate-remote", drbd_cmd_invalidate_remote, true},
    {"verify", drbd_cmd_verify, true},
    {"pause-sync", drbd_cmd_pause_sync, true},
    {"resume-sync", drbd_cmd_resume_sync, true},
    {"new-current-uuid", drbd_cmd_new_current_uuid, true},
    {"outdate", drbd_cmd_outdate, true},
};

static const struct verb *verb_find(const char *name)
{
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (strcmp(verbs[i].name, name) == 0)
            return &verbs[i];
    return NULL;
}

static struct drbd_cmd_ctx *ctx_new(struct drbd *d, const struct drbd_cmd *cmd, drbd_done_fn done,
                                    void *arg)
{
    struct drbd_cmd_ctx *x = umc_alloc(d->node, sizeof(*x));
    x->d = d;
    x->done = done;
    x->arg = arg;
    x->cmd = *cmd;
    x->cmd.resource = NULL; /* the caller's strings do not outlive this call */
    x->cmd.peer = NULL;
    if (cmd->peer)
        snprintf(x->peer, sizeof(x->peer), "%s", cmd->peer);
    dl_init(&x->link);
    dl_add_tail(&d->cmds, &x->all);
    umc_timer_init(d->node, &x->defer_timer, finish_deferred, x);
    return x;
}

void drbd_command(struct drbd *d, const struct drbd_cmd *cmd, drbd_done_fn done, void *arg)
{
    struct drbd_cmd_ctx *x = ctx_new(d, cmd, done, arg);
    const char *name = cmd->verb ? cmd->verb : "";
    const struct verb *verb = verb_find(name);
    x->cmd.verb = verb ? verb->name : "?";
    if (!verb) {
        drbd_cmd_refuse(x, -EINVAL, "unknown command '%s'", name);
        return;
    }
    x->r = drbd_res_find(d, cmd->resource);
    if (!x->r) {
        drbd_cmd_refuse(x, -ENOENT, "%s: No such resource", cmd->resource ? cmd->resource : "(none)");
        return;
    }
    if (verb->needs_up && !x->r->up) {
        drbd_cmd_refuse(x, -ENODEV, "%s: resource is not up", x->r->cfg->name);
        return;
    }
    if (x->r->up && check_selection(x))
        return;
    d->in_command++;
    verb->run(x);
    d->in_command--;
}

/* ---- the resource tick -------------------------------------------------------------------- */

void drbd_res_tick(void *arg)
{
    struct drbd_resource *r = arg;
    r->ticks++;
    for (int i = 0; i < r->nconns; i++)
        for (int j = 0; j < r->nvols; j++)
            drbd_resync_tick(&r->conns[i]->pds[j]);
    drbd_peers_tick(r);
    if (r->ticks % 10 == 0) {
        for (int i = 0; i < r->nconns; i++)
            drbd_ko_check(r->conns[i]);
        if (!r->listener && r->nconns && !r->going_down)
            drbd_res_listen(r);
    }
    if (r->ticks % 50 == 0)
        for (int j = 0; j < r->nvols; j++) {
            struct drbd_volume *v = r->vols[j];
            bool syncing = false;
            for (int i = 0; i < r->nconns; i++)
                syncing |= drbd_pd_syncing(&r->conns[i]->pds[j]);
            if (syncing && v->have_md && v->backing_open)
                drbd_bm_writeback(v, NULL, NULL); /* resync progress survives a crash */
        }
    drbd_cmd_waits_check(r);
    if (r->up)
        umc_timer_arm_in(r->node, &r->tick_timer, 100 * MTE_MSEC);
}

