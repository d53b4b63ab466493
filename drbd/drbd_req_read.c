/* The read path of a drbdN device: from the local disk when its data there
 * is good (not out of sync with a resync source), else through a peer with
 * UpToDate data (a diskless primary, or a block a resync has not brought
 * yet); a failed local read detaches (on-io-error detach) and goes to a peer. */
#include <stdio.h>

#include "drbd/drbd_int.h"

struct remote_read {
    struct drbd_link link;
    uint64_t id;
    struct drbd_req *req;
};

static bool range_synced_from_source(const struct drbd_volume *v, uint64_t off, uint64_t len)
{
    const struct drbd_resource *r = v->res;
    bool syncing = false;
    for (int i = 0; i < r->nconns; i++) {
        const struct drbd_peer_dev *pd = &r->conns[i]->pds[v->idx];
        if (pd->repl != DRBD_R_SYNC_TARGET && pd->repl != DRBD_R_PAUSED_SYNC_T)
            continue;
        syncing = true;
        if (drbd_bm_count_range(v->bm[r->conns[i]->peer_id], off >> DRBD_BLOCK_SHIFT,
                                (off + len - 1) >> DRBD_BLOCK_SHIFT))
            return false;
    }
    return syncing;
}

static bool read_locally(const struct drbd_volume *v, uint64_t off, uint64_t len)
{
    if (drbd_vol_readable_locally(v))
        return true;
    return v->backing_open && v->have_md && v->disk == DRBD_D_INCONSISTENT &&
           range_synced_from_source(v, off, len);
}

static struct drbd_conn *read_peer(struct drbd_volume *v)
{
    struct drbd_resource *r = v->res;
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_peer_dev *pd = &r->conns[i]->pds[v->idx];
        if (drbd_pd_replicating(pd) && pd->peer_disk == DRBD_D_UP_TO_DATE)
            return r->conns[i];
    }
    return NULL;
}

bool drbd_range_current(const struct drbd_volume *v, uint64_t off, uint64_t len)
{
    return read_locally(v, off, len);
}

int drbd_read_source(struct drbd *d, const char *resource, int volume, uint64_t off, char *peer,
                     size_t len)
{
    struct drbd_resource *r = drbd_res_find(d, resource);
    struct drbd_volume *v = r && r->up ? drbd_vol_by_vnr(r, volume) : NULL;
    if (!v)
        return -ENOENT;
    peer[0] = 0;
    if (read_locally(v, off / DRBD_BLOCK * DRBD_BLOCK, DRBD_BLOCK))
        return 0;
    struct drbd_conn *c = read_peer(v);
    if (!c)
        return -ENODATA;
    snprintf(peer, len, "%s", c->name);
    return 0;
}

static void req_remote_read(struct drbd_req *req)
{
    struct drbd_volume *v = req->v;
    struct drbd_conn *c = read_peer(v);
    if (!c || v->res->role != DRBD_ROLE_PRIMARY) {
        req->remote_read = false;
        if (!c && v->res->role == DRBD_ROLE_PRIMARY && drbd_no_data_waits(v->res))
            dl_add_tail(&v->susp_wait, &req->wait_link); /* until a peer with data is back */
        else
            drbd_req_fail(req, -EIO);
        return;
    }
    struct remote_read *rr = umc_alloc(c->res->node, sizeof(*rr));
    req->read_tries++;
    rr->id = ++c->next_read_id;
    rr->req = req;
    req->remote_read = true;
    dl_add_tail(&c->remote_reads, &rr->link);
    unsigned char p[20];
    drbd_put_be64(p, rr->id);
    drbd_put_be64(p + 8, req->off);
    drbd_put_be32(p + 16, (uint32_t)req->len);
    drbd_send(c, P_DATA_REQUEST, req->v->vnr, p, sizeof(p), false);
}

void drbd_remote_read_reply(struct drbd_conn *c, uint64_t id, int status, const unsigned char *data,
                            uint32_t len)
{
    for (struct drbd_link *l = c->remote_reads.next; l != &c->remote_reads; l = l->next) {
        struct remote_read *rr = dl_entry(l, struct remote_read, link);
        if (rr->id != id)
            continue;
        struct drbd_req *req = rr->req;
        dl_del(&rr->link);
        umc_free(c->res->node, rr);
        /* a peer that is no longer UpToDate (a resync began) or could not
         * read: ask another, as long as there are others to ask */
        if (status && req->read_tries <= c->res->nconns) {
            req_remote_read(req);
            return;
        }
        if (status || len != req->len) {
            req->remote_read = false;
            drbd_req_fail(req, status ? status : -EIO);
            return;
        }
        umc_iov_from_buf(req->iov, req->iovcnt, 0, data, len);
        req->v->read_bytes += len;
        req->remote_read = false;
        drbd_req_maybe_complete(req);
        return;
    }
}

/* The peer went away: try another one. */
void drbd_remote_reads_fail(struct drbd_conn *c)
{
    while (!dl_empty(&c->remote_reads)) {
        struct remote_read *rr = dl_entry(c->remote_reads.next, struct remote_read, link);
        dl_del(&rr->link);
        struct drbd_req *req = rr->req;
        umc_free(c->res->node, rr);
        if (c->res->going_down) {
            req->remote_read = false;
            drbd_req_fail(req, -EIO);
        } else {
            req_remote_read(req);
        }
    }
}

static void req_local_read_done(struct drbd_lio *lio)
{
    struct drbd_req *req = lio->ctx;
    struct drbd_volume *v = req->v;
    int status = lio->bio.status;
    drbd_lio_free(lio);
    req->lio = NULL;
    req->local_pending = false;
    v->lower_pending--;
    drbd_detach_check(v);
    if (!status) {
        v->read_bytes += req->len;
        drbd_req_maybe_complete(req);
        return;
    }
    if (v->res->cfg->disk.on_io_error == EP_PASS_ON) {
        drbd_req_fail(req, status);
        return;
    }
    drbd_vol_detach(v, true, NULL, NULL);
    req_remote_read(req);
}

void drbd_req_start_read(struct drbd_req *req)
{
    struct drbd_volume *v = req->v;
    v->app_io++;
    if (read_locally(v, req->off, req->len)) {
        req->local_pending = true;
        v->lower_pending++;
        req->lio = drbd_lio_new(v->res->d, req_local_read_done, req);
        drbd_lio_submit(req->lio, v->backing, UMC_OP_READ, 0, req->off, req->len, NULL, req->iov,
                        req->iovcnt);
        return;
    }
    req_remote_read(req);
}
