/* Requests that wait before they start: for a new data generation after a
 * peer was lost (made only while a quorum is there), while I/O is suspended
 * (no quorum under suspend-io), and while no data is reachable (a handshake
 * in progress, or on-no-data-accessible suspend-io).  Also the lists they
 * wait on and what resumes or fails them. */
#include "drbd/drbd_int.h"

static void uuid_rotated(void *arg, int rc)
{
    struct drbd_volume *v = arg;
    v->uuid_rotating = false;
    v->uuid_rotate_pending = false;
    drbd_req_resume_waiters(v, &v->uuid_wait);
}

/* A diskless primary has no meta-data to keep a UUID in: it names the new
 * generation, and the disks it writes to adopt it (each keeps the old one
 * for the peers that miss the writes, as a primary with a disk would). */
static void uuid_rotate(struct drbd_volume *v)
{
    if (v->have_md)
        drbd_uuid_new_current(v, false);
    else
        v->exposed_uuid = drbd_uuid_random(v);
    struct drbd_resource *r = v->res;
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_peer_dev *pd = &r->conns[i]->pds[v->idx];
        if (drbd_pd_replicating(pd))
            drbd_send_uuids(pd, pd->peer_disk == DRBD_D_UP_TO_DATE ? UUIDS_ADOPT : UUIDS_INFO);
    }
    if (v->have_md)
        drbd_md_sync(v, uuid_rotated, v);
    else
        uuid_rotated(v, 0);
}

/* A new generation waits for the first write after a peer was lost; if by
 * then every peer is back and in sync with us, none is needed.  (Made anyway,
 * it may race a peer's next disconnect: the peer never hears of it and comes
 * back to a full resync.) */
static void rotate_pending_recheck(struct drbd_volume *v)
{
    const struct drbd_resource *r = v->res;
    if (!v->uuid_rotate_pending || v->uuid_rotating)
        return;
    for (int i = 0; i < r->nconns; i++) {
        const struct drbd_peer_dev *pd = &r->conns[i]->pds[v->idx];
        const struct drbd_bitmap *bm = drbd_pd_bm(pd);
        if (!drbd_pd_replicating(pd) || pd->repl != DRBD_R_ESTABLISHED ||
            pd->peer_disk != DRBD_D_UP_TO_DATE || (bm && bm->set))
            return;
    }
    v->uuid_rotate_pending = false;
}

/* The first write after losing a peer starts a new data generation; the
 * write waits until the new UUIDs are on disk.  Under a quorum policy the
 * remaining peers are pinged first: a new generation is made only while a
 * quorum really is there (the other peers may be gone unnoticed yet). */
static bool req_wait_uuid(struct drbd_req *req)
{
    struct drbd_volume *v = req->v;
    rotate_pending_recheck(v);
    bool disk_ready = v->have_md && v->backing_open;
    bool client = !v->have_md && v->res->role == DRBD_ROLE_PRIMARY;
    if (!v->uuid_rotate_pending || !(disk_ready || client))
        return false;
    dl_add_tail(&v->uuid_wait, &req->wait_link);
    if (v->uuid_rotating)
        return true;
    v->uuid_rotating = true;
    if (drbd_quorum_needed(v->res))
        drbd_quorum_probe(v->res);
    else
        uuid_rotate(v);
    return true;
}

/* The probe ended: rotate where writes wait for it, or hold or fail them. */
void drbd_quorum_probe_done(struct drbd_resource *r)
{
    for (int i = 0; i < r->nvols; i++) {
        struct drbd_volume *v = r->vols[i];
        if (!v->uuid_rotating || dl_empty(&v->uuid_wait))
            continue;
        if (r->have_quorum) {
            uuid_rotate(v);
            continue;
        }
        v->uuid_rotating = false;
        if (r->cfg->opts.on_no_quorum == ONQ_IO_ERROR) {
            while (!dl_empty(&v->uuid_wait)) {
                struct drbd_req *req = dl_entry(v->uuid_wait.next, struct drbd_req, wait_link);
                dl_del(&req->wait_link);
                drbd_req_fail(req, -EIO);
            }
        } else {
            while (!dl_empty(&v->uuid_wait)) {
                struct drbd_link *l = v->uuid_wait.next;
                dl_del(l);
                dl_add_tail(&v->susp_wait, l);
            }
        }
    }
}

void drbd_req_resume_waiters(struct drbd_volume *v, struct drbd_link *list)
{
    struct drbd_link tmp;
    dl_init(&tmp);
    while (!dl_empty(list)) {
        struct drbd_link *l = list->next;
        dl_del(l);
        dl_add_tail(&tmp, l);
    }
    while (!dl_empty(&tmp)) {
        struct drbd_req *req = dl_entry(tmp.next, struct drbd_req, wait_link);
        dl_del(&req->wait_link);
        drbd_req_start(req);
    }
}

void drbd_vol_resume_suspended(struct drbd_volume *v)
{
    while (!dl_empty(&v->quorum_held)) {
        struct drbd_req *req = dl_entry(v->quorum_held.next, struct drbd_req, wait_link);
        dl_del(&req->wait_link);
        drbd_req_maybe_complete(req);
    }
    drbd_req_resume_waiters(v, &v->susp_wait);
}

void drbd_vol_fail_suspended(struct drbd_volume *v)
{
    while (!dl_empty(&v->susp_wait)) {
        struct drbd_req *req = dl_entry(v->susp_wait.next, struct drbd_req, wait_link);
        dl_del(&req->wait_link);
        drbd_req_fail(req, -EIO);
    }
    while (!dl_empty(&v->quorum_held)) {
        struct drbd_req *req = dl_entry(v->quorum_held.next, struct drbd_req, wait_link);
        dl_del(&req->wait_link);
        drbd_req_fail(req, -EIO);
    }
    while (!dl_empty(&v->uuid_wait) && !v->res->up) {
        struct drbd_req *req = dl_entry(v->uuid_wait.next, struct drbd_req, wait_link);
        dl_del(&req->wait_link);
        drbd_req_fail(req, -EIO);
    }
}

static bool io_suspended(const struct drbd_volume *v)
{
    return !v->res->have_quorum && v->res->cfg->opts.on_no_quorum == ONQ_SUSPEND_IO;
}

/* No local disk and no peer with data: wait rather than fail while a
 * handshake may bring a peer, or under on-no-data-accessible suspend-io. */
bool drbd_no_data_waits(const struct drbd_resource *r)
{
    if (!r->up || r->going_down)
        return false;
    if (r->cfg->opts.on_no_data == ONQ_SUSPEND_IO)
        return true;
    for (int i = 0; i < r->nconns; i++)
        if (r->conns[i]->sock && !r->conns[i]->handshake_done)
            return true;
    return false;
}

/* A write needs a place that holds the newest data: an UpToDate local disk
 * or an UpToDate peer it replicates to.  (A disk still attaching, with its
 * peer renegotiating, is not one: a write only there would be undone by the
 * resync that follows.) */
bool drbd_have_write_path(const struct drbd_volume *v)
{
    const struct drbd_resource *r = v->res;
    if (drbd_vol_writable_locally(v) && v->disk == DRBD_D_UP_TO_DATE)
        return true;
    for (int i = 0; i < r->nconns; i++) {
        const struct drbd_peer_dev *pd = &r->conns[i]->pds[v->idx];
        if (drbd_pd_replicating(pd) && pd->peer_disk == DRBD_D_UP_TO_DATE)
            return true;
    }
    return false;
}

/* Before a write starts.  true: it waits (or failed) and is taken care of. */
bool drbd_req_write_held(struct drbd_req *req)
{
    struct drbd_volume *v = req->v;
    if (io_suspended(v)) {
        dl_add_tail(&v->susp_wait, &req->wait_link);
        return true;
    }
    if (!v->res->have_quorum) {
        drbd_req_fail(req, -EIO);
        return true;
    }
    if (!drbd_have_write_path(v)) {
        if (drbd_no_data_waits(v->res))
            dl_add_tail(&v->susp_wait, &req->wait_link);
        else
            drbd_req_fail(req, -EIO);
        return true;
    }
    return req_wait_uuid(req);
}

/* A connection came up or went away, or a disk came: the waiting requests try
 * again (those that still cannot go wait again or fail). */
void drbd_data_path_changed(struct drbd_resource *r)
{
    for (int i = 0; i < r->nvols; i++)
        drbd_req_resume_waiters(r->vols[i], &r->vols[i]->susp_wait);
}
