/* drbdadm / drbdsetup verbs, asynchronous: each settles (or is refused with
 * DRBD's wording) and then calls done once.  Promotion asks every connected
 * peer first (two-phase: prepare, then commit or abort).  Also the 100 ms
 * resource tick that drives resync pacing, ko-count and periodic write-back. */
#include <stdarg.h>
#include <stdio.h>

#include "drbd/drbd_int.h"

enum cmd_wait { WAIT_NONE, WAIT_DOWN_DRAIN, WAIT_DOWN_MD, WAIT_DOWN_FINAL, WAIT_SECONDARY };

struct drbd_cmd_ctx {
    struct drbd *d;
    struct drbd_resource *r;
    drbd_done_fn done;
    void *arg;
    struct drbd_cmd cmd;
    char peer[UMC_NAME_MAX];
    int pending;
    int rc;
    char msg[256];
    enum cmd_wait wait;
    bool finishing;                    /* tearing its resource down itself */
    struct drbd_link link;             /* in the resource's cmd_waits */
    struct drbd_link all;              /* in drbd->cmds */
    struct mte_timer defer_timer;
};

/* ---- finishing a command --------------------------------------------------------------------- */

static void ctx_finish(struct drbd_cmd_ctx *x);

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
        ctx_finish(x);
        nx = d->cmds.next; /* a callback may have changed the list */
    }
}

static void ctx_finish(struct drbd_cmd_ctx *x)
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

static void finish_deferred(void *arg) { ctx_finish(arg); }

/* Results known at once are still delivered from the event loop. */
static void ctx_reply(struct drbd_cmd_ctx *x, int rc, const char *msg)
{
    if (rc && !x->rc) {
        x->rc = rc;
        snprintf(x->msg, sizeof(x->msg), "%s", msg ? msg : "");
    }
    umc_timer_arm_in(x->d->node, &x->defer_timer, 0);
}

static void ctx_part_done(void *arg, int rc, const char *msg)
{
    struct drbd_cmd_ctx *x = arg;
    if (rc && !x->rc) {
        x->rc = rc;
        snprintf(x->msg, sizeof(x->msg), "%s", msg ? msg : "");
    }
    if (--x->pending == 0)
        ctx_finish(x);
}

static int refuse(struct drbd_cmd_ctx *x, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(struct drbd_cmd_ctx *x, int rc, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ctx_reply(x, rc, msg);
    return rc;
}

/* ---- volumes and connections a command names ------------------------------------------------ */

static bool vol_selected(const struct drbd_cmd_ctx *x, const struct drbd_volume *v)
{
    return x->cmd.volume < 0 || x->cmd.volume == v->vnr;
}

static bool conn_selected(const struct drbd_cmd_ctx *x, const struct drbd_conn *c)
{
    return !x->peer[0] || strcmp(x->peer, c->name) == 0;
}

static int check_selection(struct drbd_cmd_ctx *x)
{
    struct drbd_resource *r = x->r;
    if (x->peer[0] && !drbd_conn_by_name(r, x->peer))
        return refuse(x, -ENOENT, "%s: no connection to %s", r->cfg->name, x->peer);
    if (x->cmd.volume >= 0 && !drbd_vol_by_vnr(r, x->cmd.volume))
        return refuse(x, -ENOENT, "%s: no volume %d", r->cfg->name, x->cmd.volume);
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
    ctx_finish(x);
}

static void cmd_up(struct drbd_cmd_ctx *x)
{
    struct drbd_resource *r = x->r;
    char msg[256];
    int rc = drbd_res_up(r, msg, sizeof(msg));
    if (rc) {
        ctx_reply(x, rc, msg);
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
    ctx_finish(x);
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
        ctx_reply(x, 0, "");
        return;
    }
    if (r->role == DRBD_ROLE_PRIMARY) {
        if (drbd_res_open_for_write(r)) {
            refuse(x, -EBUSY, "State change failed: (-12) Device is held open by someone (device in use)");
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

/* ---- roles ------------------------------------------------------------------------------------ */

static void twopc_end(struct drbd_resource *r, bool commit)
{
    struct drbd_cmd_ctx *x = r->twopc_cmd;
    r->twopc_cmd = NULL;
    umc_timer_cancel(r->node, &r->twopc_timer);
    unsigned char p[10];
    drbd_put_be64(p, r->twopc_id);
    p[8] = (unsigned char)r->my_id;
    p[9] = DRBD_ROLE_PRIMARY;
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_conn *c = r->conns[i];
        if (c->twopc_id != r->twopc_id)
            continue;
        c->twopc_id = 0;
        if (commit)
            drbd_send(c, P_TWOPC_COMMIT, -1, p, 10, false);
        else
            drbd_send(c, P_TWOPC_ABORT, -1, p, 8, false);
    }
    if (commit) {
        char msg[160];
        if (drbd_may_promote(r, x->cmd.force, msg, sizeof(msg)))
            drbd_promote_now(r, x->cmd.force);
        else
            x->rc = -EIO, snprintf(x->msg, sizeof(x->msg), "%s", msg);
    }
    ctx_finish(x);
}

static void twopc_timeout(void *arg)
{
    struct drbd_resource *r = arg;
    if (!r->twopc_cmd)
        return;
    r->twopc_cmd->rc = -ETIMEDOUT;
    snprintf(r->twopc_cmd->msg, sizeof(r->twopc_cmd->msg), "State change failed: (-23) Timeout in "
             "operation");
    twopc_end(r, false);
}

static void twopc_check(struct drbd_resource *r)
{
    if (!r->twopc_cmd)
        return;
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_conn *c = r->conns[i];
        if (c->twopc_id != r->twopc_id)
            continue;
        if (c->twopc_vote < 0) {
            twopc_end(r, false);
            return;
        }
        if (c->twopc_vote == 0)
            return;
    }
    twopc_end(r, true);
}

static void cmd_primary(struct drbd_cmd_ctx *x)
{
    struct drbd_resource *r = x->r;
    char msg[160];
    if (r->role == DRBD_ROLE_PRIMARY) {
        ctx_reply(x, 0, "");
        return;
    }
    if (!drbd_may_promote(r, x->cmd.force, msg, sizeof(msg))) {
        ctx_reply(x, -EIO, msg);
        return;
    }
    /* ask every connected peer first */
    r->twopc_cmd = x;
    r->twopc_id = (++r->next_twopc << 8) | (uint64_t)r->my_id;
    unsigned char p[10];
    drbd_put_be64(p, r->twopc_id);
    p[8] = (unsigned char)r->my_id;
    p[9] = DRBD_ROLE_PRIMARY;
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_conn *c = r->conns[i];
        if (!drbd_conn_established(c))
            continue;
        c->twopc_id = r->twopc_id;
        c->twopc_vote = 0;
        drbd_send(c, P_TWOPC_PREPARE, -1, p, sizeof(p), false);
    }
    umc_timer_init(r->node, &r->twopc_timer, twopc_timeout, r);
    mte_time_t t = r->nconns ? (mte_time_t)r->conns[0]->net.timeout * 100 * MTE_MSEC : MTE_SEC;
    umc_timer_arm_in(r->node, &r->twopc_timer, t);
    twopc_check(r);
}

void drbd_twopc_rx_prepare(struct drbd_conn *c, uint64_t id, int node, int role)
{
    struct drbd_resource *r = c->res;
    const char *why = NULL;
    if (role == DRBD_ROLE_PRIMARY && r->role == DRBD_ROLE_PRIMARY && !c->net.allow_two_primaries)
        why = "State change failed: (-1) Multiple primaries not allowed by config";
    else if (r->twopc_cmd && r->my_id < node)
        why = "State change failed: (-19) Concurrent state changes detected and aborted";
    for (int i = 0; !why && i < r->nconns; i++) {
        struct drbd_conn *o = r->conns[i];
        if (o != c && o->cstate == DRBD_C_CONNECTED && o->peer_role == DRBD_ROLE_PRIMARY &&
            !o->net.allow_two_primaries)
            why = "State change failed: (-1) Multiple primaries not allowed by config";
    }
    unsigned char buf[160];
    struct drbd_wbuf w = {.p = buf, .cap = sizeof(buf)};
    drbd_put_u64(&w, id);
    drbd_put_u8(&w, why == NULL);
    drbd_put_str(&w, why ? why : "");
    drbd_send(c, P_TWOPC_REPLY, -1, buf, w.len, false);
}

void drbd_twopc_rx_reply(struct drbd_conn *c, uint64_t id, bool yes, const char *why)
{
    struct drbd_resource *r = c->res;
    if (!r->twopc_cmd || r->twopc_id != id || c->twopc_id != id)
        return;
    c->twopc_vote = yes ? 1 : -1;
    if (!yes && !r->twopc_cmd->rc) {
        r->twopc_cmd->rc = -EIO;
        snprintf(r->twopc_cmd->msg, sizeof(r->twopc_cmd->msg), "%s",
                 why[0] ? why : "State change failed: (-10) State change was refused by peer node");
    }
    twopc_check(r);
}

/* role < 0: abort. */
void drbd_twopc_rx_commit(struct drbd_conn *c, uint64_t id, int node, int role)
{
    if (role < 0 || node != c->peer_id)
        return;
    if (c->peer_role != (enum drbd_role)role) {
        c->peer_role = (enum drbd_role)role;
        drbd_state_changed(c->res);
    }
}

/* A peer that went away cannot vote against: it no longer holds us up. */
static void twopc_recheck(void *arg) { twopc_check(arg); }

void drbd_twopc_conn_lost(struct drbd_conn *c)
{
    struct drbd_resource *r = c->res;
    if (r->twopc_cmd && c->twopc_id == r->twopc_id && c->twopc_vote == 0) {
        c->twopc_id = 0;
        umc_defer(r->node, twopc_recheck, r);
    }
}

static void cmd_secondary(struct drbd_cmd_ctx *x)
{
    struct drbd_resource *r = x->r;
    if (r->role != DRBD_ROLE_PRIMARY) {
        ctx_reply(x, 0, "");
        return;
    }
    if (drbd_res_open_for_write(r)) {
        refuse(x, -EBUSY, "State change failed: (-12) Device is held open by someone (device in use)");
        return;
    }
    x->wait = WAIT_SECONDARY;
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
            dl_del(&x->link);
            if (drbd_res_open_for_write(r))
                x->rc = -EBUSY, snprintf(x->msg, sizeof(x->msg), "State change failed: (-12) "
                                         "Device is held open by someone (device in use)");
            else
                drbd_demote_now(r);
            ctx_finish(x);
            return; /* the list may have changed */
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

/* ---- connections --------------------------------------------------------------------------- */

static void cmd_connect(struct drbd_cmd_ctx *x)
{
    struct drbd_resource *r = x->r;
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_conn *c = r->conns[i];
        if (!conn_selected(x, c))
            continue;
        if (c->cstate == DRBD_C_STANDALONE) {
            c->discard_my_data = x->cmd.discard_my_data;
            c->refuse_reason[0] = 0;
            drbd_conn_start(c);
        } else if (x->cmd.discard_my_data) {
            c->discard_my_data = true;
        }
    }
    ctx_reply(x, 0, "");
}

static void cmd_disconnect(struct drbd_cmd_ctx *x)
{
    struct drbd_resource *r = x->r;
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_conn *c = r->conns[i];
        if (!conn_selected(x, c))
            continue;
        if (c->cstate == DRBD_C_STANDALONE) {
            if (x->peer[0])
                refuse(x, -EALREADY, "State change failed: (-9) Can not disconnect a StandAlone "
                       "device");
            continue;
        }
        drbd_conn_stop(c, DRBD_C_STANDALONE);
    }
    ctx_reply(x, 0, "");
}

/* ---- disks ------------------------------------------------------------------------------------ */

static void cmd_attach(struct drbd_cmd_ctx *x)
{
    struct drbd_resource *r = x->r;
    char msg[256];
    x->pending = 1;
    for (int i = 0; i < r->nvols; i++) {
        struct drbd_volume *v = r->vols[i];
        if (!vol_selected(x, v) || v->backing_open || !v->cfg->disk[0])
            continue;
        x->pending++;
        int rc = drbd_vol_attach(v, msg, sizeof(msg), ctx_part_done, x);
        if (rc)
            ctx_part_done(x, rc, msg);
    }
    ctx_part_done(x, 0, "");
}

static void cmd_detach(struct drbd_cmd_ctx *x)
{
    struct drbd_resource *r = x->r;
    for (int i = 0; i < r->nvols; i++) {
        struct drbd_volume *v = r->vols[i];
        if (vol_selected(x, v) && r->role == DRBD_ROLE_PRIMARY && v->disk == DRBD_D_UP_TO_DATE &&
            !drbd_have_uptodate_peer(v) && !x->cmd.force) {
            refuse(x, -EIO, "State change failed: (-2) Need access to UpToDate data");
            return;
        }
    }
    x->pending = 1;
    for (int i = 0; i < r->nvols; i++) {
        struct drbd_volume *v = r->vols[i];
        if (!vol_selected(x, v) || !v->backing_open)
            continue;
        x->pending++;
        drbd_vol_detach(v, false, ctx_part_done, x);
    }
    ctx_part_done(x, 0, "");
}

static void create_md_part(void *arg, int rc, const char *msg) { ctx_part_done(arg, rc, msg); }

static void cmd_create_md(struct drbd_cmd_ctx *x)
{
    struct drbd_resource *r = x->r;
    if (r->my_host < 0) {
        refuse(x, -ENOENT, "%s: no host section for this node", r->cfg->name);
        return;
    }
    const struct drbd_cfg_host *me = &r->cfg->hosts[r->my_host];
    char msg[256];
    x->pending = 1;
    for (int i = 0; i < me->nvols; i++) {
        const struct drbd_cfg_volume *cv = &me->vols[i];
        if (x->cmd.volume >= 0 && cv->vnr != x->cmd.volume)
            continue;
        struct drbd_volume *v = r->up ? drbd_vol_by_vnr(r, cv->vnr) : NULL;
        if (v && v->backing_open) {
            x->pending++;
            ctx_part_done(x, -EBUSY, "create-md: the device is attached; detach it (or down) first");
            continue;
        }
        x->pending++;
        int rc = drbd_create_md(r, cv, x->cmd.force, msg, sizeof(msg), create_md_part, x);
        if (rc)
            ctx_part_done(x, rc, msg);
    }
    ctx_part_done(x, 0, "");
}

static void cmd_invalidate(struct drbd_cmd_ctx *x, bool remote)
{
    struct drbd_resource *r = x->r;
    char msg[160];
    for (int i = 0; i < r->nvols; i++) {
        struct drbd_volume *v = r->vols[i];
        if (!vol_selected(x, v))
            continue;
        if (!v->have_md) {
            refuse(x, -ENODEV, "State change failed: (-11) Device is diskless, the requested "
                   "operation requires a disk");
            return;
        }
        struct drbd_peer_dev *best = NULL;
        bool busy = false;
        for (int j = 0; j < r->nconns && !best; j++) {
            struct drbd_peer_dev *pd = &r->conns[j]->pds[i];
            if (conn_selected(x, r->conns[j]) && pd->repl == DRBD_R_ESTABLISHED &&
                (remote || pd->peer_disk == DRBD_D_UP_TO_DATE))
                best = pd;
            busy |= conn_selected(x, r->conns[j]) && pd->repl > DRBD_R_ESTABLISHED;
        }
        if (remote && v->disk != DRBD_D_UP_TO_DATE) {
            refuse(x, -EIO, "State change failed: (-2) Need access to UpToDate data");
            return;
        }
        if (!best && remote) {
            refuse(x, busy ? -EBUSY : -ENOTCONN,
                   busy ? "State change failed: (-8) Can not start OV/resync since it is already "
                          "active"
                        : "State change failed: (-15) Need a connection to start verify or resync");
            return;
        }
        if (!best) {
            /* nobody to sync from now: mark everything and sync when a peer comes */
            if (r->role == DRBD_ROLE_PRIMARY) {
                refuse(x, -EIO, "State change failed: (-2) Need access to UpToDate data");
                return;
            }
            for (int s = 0; s < DRBD_MAX_NODES; s++)
                if (v->bm[s])
                    drbd_bm_set_all(v->bm[s]);
            drbd_set_disk(v, DRBD_D_INCONSISTENT);
            drbd_bm_writeback(v, NULL, NULL);
            continue;
        }
        int rc = drbd_start_full_sync(best, remote, msg, sizeof(msg));
        if (rc) {
            refuse(x, rc, "%s", msg);
            return;
        }
    }
    ctx_reply(x, 0, "");
}

static void cmd_per_peer_device(struct drbd_cmd_ctx *x, const char *verb)
{
    struct drbd_resource *r = x->r;
    char msg[200];
    int done = 0;
    for (int j = 0; j < r->nconns; j++) {
        struct drbd_conn *c = r->conns[j];
        if (!conn_selected(x, c))
            continue;
        for (int i = 0; i < r->nvols; i++) {
            struct drbd_peer_dev *pd = &c->pds[i];
            if (!vol_selected(x, pd->v))
                continue;
            if (strcmp(verb, "verify") == 0) {
                if (!drbd_conn_established(c) && !x->peer[0])
                    continue;
                int rc = drbd_verify_start(pd, 0, msg, sizeof(msg));
                if (rc) {
                    refuse(x, rc, "%s", msg);
                    return;
                }
            } else {
                bool pause = strcmp(verb, "pause-sync") == 0;
                pd->pause_user = pause;
                unsigned char p = pause;
                if (drbd_conn_established(c))
                    drbd_send(c, P_PAUSE, pd->v->vnr, &p, 1, false);
                drbd_resync_kick(pd);
                drbd_state_changed(r);
            }
            done++;
        }
    }
    if (!done && strcmp(verb, "verify") == 0) {
        refuse(x, -ENOTCONN, "State change failed: (-15) Need a connection to start verify or "
               "resync");
        return;
    }
    ctx_reply(x, 0, "");
}

static void md_part_done(void *arg, int rc)
{
    ctx_part_done(arg, rc, rc ? "meta-data write failed" : "");
}

static void cmd_new_current_uuid(struct drbd_cmd_ctx *x)
{
    struct drbd_resource *r = x->r;
    x->pending = 1;
    for (int i = 0; i < r->nvols; i++) {
        struct drbd_volume *v = r->vols[i];
        if (!vol_selected(x, v) || !v->have_md)
            continue;
        drbd_uuid_new_current(v, false);
        x->pending++;
        drbd_md_sync(v, md_part_done, x);
    }
    ctx_part_done(x, 0, "");
}

static void cmd_outdate(struct drbd_cmd_ctx *x)
{
    struct drbd_resource *r = x->r;
    for (int i = 0; i < r->nconns; i++)
        if (drbd_conn_established(r->conns[i])) {
            refuse(x, -EBUSY, "State change failed: (-6) Refusing to be Outdated while Connected");
            return;
        }
    if (r->role == DRBD_ROLE_PRIMARY) {
        refuse(x, -EBUSY, "State change failed: (-2) Need access to UpToDate data");
        return;
    }
    for (int i = 0; i < r->nvols; i++) {
        struct drbd_volume *v = r->vols[i];
        if (!vol_selected(x, v))
            continue;
        if (v->disk < DRBD_D_OUTDATED) {
            refuse(x, -EINVAL, "State change failed: (-16) Disk state is lower than outdated");
            return;
        }
        drbd_set_disk(v, DRBD_D_OUTDATED);
    }
    ctx_reply(x, 0, "");
}

/* ---- dispatch ------------------------------------------------------------------------------- */

void drbd_command(struct drbd *d, const struct drbd_cmd *cmd, drbd_done_fn done, void *arg)
{
    struct drbd_cmd_ctx *x = umc_alloc(d->node, sizeof(*x));
    x->d = d;
    x->done = done;
    x->arg = arg;
    x->cmd = *cmd;
    x->cmd.verb = NULL;
    x->cmd.resource = NULL;
    x->cmd.peer = NULL;
    dl_init(&x->link);
    dl_add_tail(&d->cmds, &x->all);
    umc_timer_init(d->node, &x->defer_timer, finish_deferred, x);
    const char *verb = cmd->verb ? cmd->verb : "";
    x->cmd.verb = verb; /* the verbs are string constants of the caller or ours: copy below */
    static const char *const verbs[] = {
        "up", "down", "primary", "secondary", "connect", "disconnect", "attach", "detach",
        "invalidate", "invalidate-remote", "verify", "pause-sync", "resume-sync", "create-md",
        "new-current-uuid", "outdate",
    };
    int v = -1;
    for (int i = 0; i < (int)(sizeof(verbs) / sizeof(verbs[0])); i++)
        if (strcmp(verbs[i], verb) == 0)
            v = i;
    x->cmd.verb = v >= 0 ? verbs[v] : "?";
    if (cmd->peer)
        snprintf(x->peer, sizeof(x->peer), "%s", cmd->peer);
    if (v < 0) {
        refuse(x, -EINVAL, "unknown command '%s'", verb);
        return;
    }
    x->r = drbd_res_find(d, cmd->resource);
    if (!x->r) {
        refuse(x, -ENOENT, "%s: No such resource", cmd->resource ? cmd->resource : "(none)");
        return;
    }
    bool needs_up = v != 0 && v != 1 && v != 13;
    if (needs_up && !x->r->up) {
        refuse(x, -ENODEV, "%s: resource is not up", x->r->cfg->name);
        return;
    }
    if (x->r->up && check_selection(x))
        return;
    d->in_command++;
    switch (v) {
    case 0: cmd_up(x); break;
    case 1: cmd_down(x); break;
    case 2: cmd_primary(x); break;
    case 3: cmd_secondary(x); break;
    case 4: cmd_connect(x); break;
    case 5: cmd_disconnect(x); break;
    case 6: cmd_attach(x); break;
    case 7: cmd_detach(x); break;
    case 8: cmd_invalidate(x, false); break;
    case 9: cmd_invalidate(x, true); break;
    case 10: case 11: case 12: cmd_per_peer_device(x, verbs[v]); break;
    case 13: cmd_create_md(x); break;
    case 14: cmd_new_current_uuid(x); break;
    default: cmd_outdate(x); break;
    }
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
