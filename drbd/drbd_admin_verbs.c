/* The connection and disk verbs of drbdadm: connect, disconnect, attach,
 * detach, create-md, invalidate[-remote], verify, pause-/resume-sync,
 * new-current-uuid, outdate.  Each refuses with DRBD's wording or answers
 * once its parts settled (drbd_admin_int.h). */
#include <stdio.h>
#include <string.h>

#include "drbd/drbd_admin_int.h"

/* ---- connections --------------------------------------------------------------------------- */

void drbd_cmd_connect(struct drbd_cmd_ctx *x)
{
    struct drbd_resource *r = x->r;
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_conn *c = r->conns[i];
        if (!drbd_cmd_conn_selected(x, c))
            continue;
        if (c->cstate == DRBD_C_STANDALONE) {
            c->discard_my_data = x->cmd.discard_my_data;
            c->refuse_reason[0] = 0;
            drbd_conn_start(c);
        } else if (x->cmd.discard_my_data) {
            c->discard_my_data = true;
        }
    }
    drbd_cmd_reply(x, 0, "");
}

void drbd_cmd_disconnect(struct drbd_cmd_ctx *x)
{
    struct drbd_resource *r = x->r;
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_conn *c = r->conns[i];
        if (!drbd_cmd_conn_selected(x, c))
            continue;
        if (c->cstate == DRBD_C_STANDALONE) {
            if (x->peer[0])
                drbd_cmd_refuse(x, -EALREADY, "State change failed: (-9) Can not disconnect a StandAlone "
                       "device");
            continue;
        }
        drbd_conn_stop(c, DRBD_C_STANDALONE);
    }
    drbd_cmd_reply(x, 0, "");
}

/* ---- disks ------------------------------------------------------------------------------------ */

void drbd_cmd_attach(struct drbd_cmd_ctx *x)
{
    struct drbd_resource *r = x->r;
    char msg[256];
    x->pending = 1;
    for (int i = 0; i < r->nvols; i++) {
        struct drbd_volume *v = r->vols[i];
        if (!drbd_cmd_vol_selected(x, v) || v->backing_open || !v->cfg->disk[0])
            continue;
        x->pending++;
        int rc = drbd_vol_attach(v, msg, sizeof(msg), drbd_cmd_part_done, x);
        if (rc)
            drbd_cmd_part_done(x, rc, msg);
    }
    drbd_cmd_part_done(x, 0, "");
}

void drbd_cmd_detach(struct drbd_cmd_ctx *x)
{
    struct drbd_resource *r = x->r;
    for (int i = 0; i < r->nvols; i++) {
        struct drbd_volume *v = r->vols[i];
        if (drbd_cmd_vol_selected(x, v) && r->role == DRBD_ROLE_PRIMARY && v->disk == DRBD_D_UP_TO_DATE &&
            !drbd_have_uptodate_peer(v) && !x->cmd.force) {
            drbd_cmd_refuse(x, -EIO, "State change failed: (-2) Need access to UpToDate data");
            return;
        }
    }
    x->pending = 1;
    for (int i = 0; i < r->nvols; i++) {
        struct drbd_volume *v = r->vols[i];
        if (!drbd_cmd_vol_selected(x, v) || !v->backing_open)
            continue;
        x->pending++;
        drbd_vol_detach(v, false, drbd_cmd_part_done, x);
    }
    drbd_cmd_part_done(x, 0, "");
}

void drbd_cmd_create_md(struct drbd_cmd_ctx *x)
{
    struct drbd_resource *r = x->r;
    if (r->my_host < 0) {
        drbd_cmd_refuse(x, -ENOENT, "%s: no host section for this node", r->cfg->name);
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
            drbd_cmd_part_done(x, -EBUSY, "create-md: the device is attached; detach it (or down) first");
            continue;
        }
        x->pending++;
        int rc = drbd_create_md(r, cv, x->cmd.force, msg, sizeof(msg), drbd_cmd_part_done, x);
        if (rc)
            drbd_cmd_part_done(x, rc, msg);
    }
    drbd_cmd_part_done(x, 0, "");
}

static void invalidate(struct drbd_cmd_ctx *x, bool remote)
{
    struct drbd_resource *r = x->r;
    char msg[160];
    for (int i = 0; i < r->nvols; i++) {
        struct drbd_volume *v = r->vols[i];
        if (!drbd_cmd_vol_selected(x, v))
            continue;
        if (!v->have_md) {
            drbd_cmd_refuse(x, -ENODEV, "State change failed: (-11) Device is diskless, the requested "
                   "operation requires a disk");
            return;
        }
        struct drbd_peer_dev *best = NULL;
        bool busy = false;
        for (int j = 0; j < r->nconns && !best; j++) {
            struct drbd_peer_dev *pd = &r->conns[j]->pds[i];
            if (drbd_cmd_conn_selected(x, r->conns[j]) && pd->repl == DRBD_R_ESTABLISHED &&
                (remote || pd->peer_disk == DRBD_D_UP_TO_DATE))
                best = pd;
            busy |= drbd_cmd_conn_selected(x, r->conns[j]) && pd->repl > DRBD_R_ESTABLISHED;
        }
        if (remote && v->disk != DRBD_D_UP_TO_DATE) {
            drbd_cmd_refuse(x, -EIO, "State change failed: (-2) Need access to UpToDate data");
            return;
        }
        if (!best && remote) {
            drbd_cmd_refuse(x, busy ? -EBUSY : -ENOTCONN,
                   busy ? "State change failed: (-8) Can not start OV/resync since it is already "
                          "active"
                        : "State change failed: (-15) Need a connection to start verify or resync");
            return;
        }
        if (!best) {
            /* nobody to sync from now: mark everything and sync when a peer comes */
            if (r->role == DRBD_ROLE_PRIMARY) {
                drbd_cmd_refuse(x, -EIO, "State change failed: (-2) Need access to UpToDate data");
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
            drbd_cmd_refuse(x, rc, "%s", msg);
            return;
        }
    }
    drbd_cmd_reply(x, 0, "");
}

static void per_peer_device(struct drbd_cmd_ctx *x, const char *verb)
{
    struct drbd_resource *r = x->r;
    char msg[200];
    int done = 0;
    for (int j = 0; j < r->nconns; j++) {
        struct drbd_conn *c = r->conns[j];
        if (!drbd_cmd_conn_selected(x, c))
            continue;
        for (int i = 0; i < r->nvols; i++) {
            struct drbd_peer_dev *pd = &c->pds[i];
            if (!drbd_cmd_vol_selected(x, pd->v))
                continue;
            if (strcmp(verb, "verify") == 0) {
                if (!drbd_conn_established(c) && !x->peer[0])
                    continue;
                int rc = drbd_verify_start(pd, 0, msg, sizeof(msg));
                if (rc) {
                    drbd_cmd_refuse(x, rc, "%s", msg);
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
        drbd_cmd_refuse(x, -ENOTCONN, "State change failed: (-15) Need a connection to start verify or "
               "resync");
        return;
    }
    drbd_cmd_reply(x, 0, "");
}

static void md_part_done(void *arg, int rc)
{
    drbd_cmd_part_done(arg, rc, rc ? "meta-data write failed" : "");
}

void drbd_cmd_new_current_uuid(struct drbd_cmd_ctx *x)
{
    struct drbd_resource *r = x->r;
    x->pending = 1;
    for (int i = 0; i < r->nvols; i++) {
        struct drbd_volume *v = r->vols[i];
        if (!drbd_cmd_vol_selected(x, v) || !v->have_md)
            continue;
        drbd_uuid_new_current(v, false);
        x->pending++;
        drbd_md_sync(v, md_part_done, x);
    }
    drbd_cmd_part_done(x, 0, "");
}

void drbd_cmd_outdate(struct drbd_cmd_ctx *x)
{
    struct drbd_resource *r = x->r;
    for (int i = 0; i < r->nconns; i++)
        if (drbd_conn_established(r->conns[i])) {
            drbd_cmd_refuse(x, -EBUSY, "State change failed: (-6) Refusing to be Outdated while Connected");
            return;
        }
    if (r->role == DRBD_ROLE_PRIMARY) {
        drbd_cmd_refuse(x, -EBUSY, "State change failed: (-2) Need access to UpToDate data");
        return;
    }
    for (int i = 0; i < r->nvols; i++) {
        struct drbd_volume *v = r->vols[i];
        if (!drbd_cmd_vol_selected(x, v))
            continue;
        if (v->disk < DRBD_D_OUTDATED) {
            drbd_cmd_refuse(x, -EINVAL, "State change failed: (-16) Disk state is lower than outdated");
            return;
        }
        drbd_set_disk(v, DRBD_D_OUTDATED);
    }
    drbd_cmd_reply(x, 0, "");
}

void drbd_cmd_invalidate(struct drbd_cmd_ctx *x) { invalidate(x, false); }
void drbd_cmd_invalidate_remote(struct drbd_cmd_ctx *x) { invalidate(x, true); }
void drbd_cmd_verify(struct drbd_cmd_ctx *x) { per_peer_device(x, "verify"); }
void drbd_cmd_pause_sync(struct drbd_cmd_ctx *x) { per_peer_device(x, "pause-sync"); }
void drbd_cmd_resume_sync(struct drbd_cmd_ctx *x) { per_peer_device(x, "resume-sync"); }
