/* Requests from above on a drbdN device: writes (conflict order, new current
 * UUID after losing a peer, activity log, local write, one DATA packet per
 * replicating peer, completion per protocol A/B/C), reads (local, or through
 * a peer with UpToDate data) and the per-connection transfer log and epochs.
 *
 * A request stays in a peer's transfer log until the barrier ack of its epoch
 * (and, for B/C, its own ack); when the connection drops, every request not
 * covered by a barrier ack is marked out of sync for that peer. */
#include <stdio.h>

#include "drbd/drbd_int.h"

/* ---- intervals: overlapping writes go in arrival order ----------------------------------- */

static bool ival_conflict(const struct drbd_ival *a, const struct drbd_ival *b)
{
    if (a->kind == IVAL_RS_READ && b->kind == IVAL_RS_READ)
        return false;
    return a->off < b->off + b->len && b->off < a->off + a->len;
}

/* Does anything in list before stop conflict with iv? */
static bool ival_blocked(const struct drbd_link *list, const struct drbd_ival *iv,
                         const struct drbd_link *stop)
{
    for (const struct drbd_link *l = list->next; l != list && l != stop; l = l->next)
        if (ival_conflict(dl_entry(l, struct drbd_ival, link), iv))
            return true;
    return false;
}

void drbd_ival_submit(struct drbd_volume *v, struct drbd_ival *iv)
{
    dl_init(&iv->ready_link);
    if (ival_blocked(&v->active, iv, NULL) || ival_blocked(&v->waiting, iv, NULL)) {
        iv->active = false;
        dl_add_tail(&v->waiting, &iv->link);
        return;
    }
    iv->active = true;
    dl_add_tail(&v->active, &iv->link);
    iv->start(iv);
}

void drbd_ival_done(struct drbd_volume *v, struct drbd_ival *iv)
{
    if (!dl_linked(&iv->link))
        return;
    dl_del(&iv->link);
    iv->active = false;
    struct drbd_link ready;
    dl_init(&ready);
    for (struct drbd_link *l = v->waiting.next, *nx; l != &v->waiting; l = nx) {
        nx = l->next;
        struct drbd_ival *w = dl_entry(l, struct drbd_ival, link);
        if (ival_blocked(&v->active, w, NULL) || ival_blocked(&v->waiting, w, l))
            continue;
        dl_del(&w->link);
        w->active = true;
        dl_add_tail(&v->active, &w->link);
        dl_add_tail(&ready, &w->ready_link);
    }
    /* started after the scan: a start may finish (and call us) at once */
    while (!dl_empty(&ready)) {
        struct drbd_ival *w = dl_entry(ready.next, struct drbd_ival, ready_link);
        dl_del(&w->ready_link);
        w->start(w);
    }
}

/* ---- the transfer log of a connection ------------------------------------------------------- */

static void tl_grow(struct drbd_conn *c)
{
    uint64_t cap = c->tl_cap ? c->tl_cap * 2 : 256;
    struct drbd_req **nt = umc_alloc(c->res->node, (size_t)cap * sizeof(*nt));
    for (uint64_t id = c->tl_base; id < c->tl_next; id++)
        nt[id & (cap - 1)] = c->tl[id & (c->tl_cap - 1)];
    umc_free(c->res->node, c->tl);
    c->tl = nt;
    c->tl_cap = cap;
}

static uint64_t tl_add(struct drbd_conn *c, struct drbd_req *req)
{
    if (c->tl_next - c->tl_base >= c->tl_cap)
        tl_grow(c);
    uint64_t id = c->tl_next++;
    c->tl[id & (c->tl_cap - 1)] = req;
    return id;
}

static struct drbd_req *tl_get(const struct drbd_conn *c, uint64_t id)
{
    if (id < c->tl_base || id >= c->tl_next)
        return NULL;
    return c->tl[id & (c->tl_cap - 1)];
}

static bool net_protocol_done(const struct drbd_conn *c, const struct drbd_req_net *n)
{
    if (n->state == RQ_DONE || n->state == RQ_NONE)
        return true;
    switch (c->net.protocol) {
    case 'A': return n->state >= RQ_SENT;
    case 'B': return n->state >= RQ_RECV_ACKED;
    default: return n->state >= RQ_WRITE_ACKED;
    }
}

static void req_maybe_free(struct drbd_req *req);

/* Release requests from the head of the log once their epoch is acked and
 * their own ack is in. */
static void tl_release(struct drbd_conn *c)
{
    while (c->tl_base < c->tl_next) {
        struct drbd_req *req = c->tl[c->tl_base & (c->tl_cap - 1)];
        struct drbd_req_net *n = &req->net[c->idx];
        if (!n->barrier_acked || !net_protocol_done(c, n))
            return;
        n->state = RQ_DONE;
        n->confirmed = !n->failed;
        c->tl_base++;
        req_maybe_free(req);
    }
}

void drbd_conn_close_epoch(struct drbd_conn *c)
{
    if (!c->tx_epoch_writes || !c->sock)
        return;
    unsigned char p[4];
    drbd_put_be32(p, c->tx_epoch);
    drbd_send(c, P_BARRIER, -1, p, 4, false);
    c->tx_epoch++;
    c->tx_epoch_writes = 0;
}

/* ---- flushes waiting for barrier acks -------------------------------------------------------- */

struct flush_wait {
    struct drbd_link link;
    uint32_t epoch;
    struct drbd_req *req;
};

static void req_maybe_free(struct drbd_req *req);

void drbd_flush_waits_check(struct drbd_conn *c)
{
    for (struct drbd_link *l = c->flush_waits.next, *nx; l != &c->flush_waits; l = nx) {
        nx = l->next;
        struct flush_wait *w = dl_entry(l, struct flush_wait, link);
        if (c->sock && c->acked_barrier < w->epoch)
            continue;
        dl_del(&w->link);
        struct drbd_req *req = w->req;
        umc_free(c->res->node, w);
        req->peers_pending--;
        drbd_req_maybe_complete(req);
    }
}

bool drbd_vol_writable_locally(const struct drbd_volume *v)
{
    return v->backing_open && v->disk >= DRBD_D_INCONSISTENT && v->disk != DRBD_D_UNKNOWN;
}

static void flush_local_done(struct drbd_lio *lio)
{
    struct drbd_req *req = lio->ctx;
    req->local_status = lio->bio.status;
    req->status = lio->bio.status;
    req->v->lower_pending--;
    drbd_lio_free(lio);
    req->lio = NULL;
    req->local_pending = false;
    drbd_detach_check(req->v);
    drbd_req_maybe_complete(req);
}

/* Durable here (a local FLUSH) and on every peer (its barrier ack for the last
 * epoch that held a write). */
static void req_start_flush(struct drbd_req *req)
{
    struct drbd_volume *v = req->v;
    struct drbd_resource *r = v->res;
    if (drbd_vol_writable_locally(v)) {
        req->local_pending = true;
        v->lower_pending++;
        req->lio = drbd_lio_new(r->d, flush_local_done, req);
        drbd_lio_submit(req->lio, v->backing, UMC_OP_FLUSH, 0, 0, 0, NULL, NULL, 0);
    }
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_conn *c = r->conns[i];
        if (!c->sock || !c->handshake_done)
            continue;
        uint32_t target = c->tx_epoch_writes ? c->tx_epoch : c->tx_epoch - 1;
        drbd_conn_close_epoch(c);
        if (c->acked_barrier >= target)
            continue;
        struct flush_wait *w = umc_alloc(r->node, sizeof(*w));
        w->epoch = target;
        w->req = req;
        req->peers_pending++;
        dl_add_tail(&c->flush_waits, &w->link);
    }
    drbd_req_maybe_complete(req);
}

/* ---- request life ---------------------------------------------------------------------------- */

static struct drbd_req *req_new(struct drbd_volume *v, struct umc_bio *upper, enum umc_bio_op op,
                                uint64_t off, uint64_t len)
{
    struct drbd_resource *r = v->res;
    struct drbd_req *req = umc_alloc(r->node, sizeof(*req) + (size_t)r->nconns * sizeof(req->net[0]));
    req->v = v;
    req->upper = upper;
    req->op = op;
    req->flags = upper ? upper->flags : 0;
    req->off = off;
    req->len = len;
    req->nnet = r->nconns;
    req->start = umc_now(r->node);
    req->refs = 1; /* until completed upward */
    dl_init(&req->wait_link);
    dl_add_tail(&v->reqs, &req->live);
    return req;
}

/* The part [skip, skip+len) of the upper iovec. */
static void req_slice_iov(struct drbd_req *req, uint64_t skip)
{
    const struct umc_bio *b = req->upper;
    if (skip == 0 && req->len == b->length) {
        req->iov = b->iov;
        req->iovcnt = b->iovcnt;
        return;
    }
    unsigned n = 0, first = 0;
    uint64_t pos = 0;
    for (unsigned i = 0; i < b->iovcnt; i++) {
        uint64_t end = pos + b->iov[i].iov_len;
        if (end > skip && pos < skip + req->len) {
            if (!n)
                first = i;
            n++;
        }
        pos = end;
    }
    req->iov_alloc = umc_alloc(req->v->res->node, (size_t)(n ? n : 1) * sizeof(struct iovec));
    pos = 0;
    unsigned k = 0;
    for (unsigned i = first; i < b->iovcnt && k < n; i++) {
        uint64_t start = pos, end = pos + b->iov[i].iov_len;
        pos = end;
        if (end <= skip || start >= skip + req->len)
            continue;
        uint64_t lo = start < skip ? skip - start : 0;
        uint64_t hi = end > skip + req->len ? skip + req->len - start : b->iov[i].iov_len;
        req->iov_alloc[k++] = (struct iovec){.iov_base = (char *)b->iov[i].iov_base + lo,
                                             .iov_len = (size_t)(hi - lo)};
    }
    req->iov = req->iov_alloc;
    req->iovcnt = k;
}

static void req_maybe_free(struct drbd_req *req)
{
    if (req->refs || req->local_pending || req->lio || req->peers_pending)
        return;
    for (int i = 0; i < req->nnet; i++)
        if (req->net[i].state != RQ_NONE && req->net[i].state != RQ_DONE)
            return;
    struct umc_node *n = req->v->res->node;
    drbd_pis_send(req);
    dl_del(&req->live);
    umc_free(n, req->iov_alloc);
    umc_free(n, req);
}

/* Teardown: the request goes whatever its state; I/O still below us keeps
 * the iovec it writes from. */
void drbd_req_destroy(struct drbd_req *req)
{
    struct umc_node *n = req->v->res->node;
    dl_del(&req->live);
    dl_del(&req->wait_link);
    dl_del(&req->ival.link);
    dl_del(&req->alw.link);
    if (req->lio)
        drbd_lio_orphan(req->lio, req->iov_alloc, NULL);
    else
        umc_free(n, req->iov_alloc);
    if (req->split && !req->completed && --req->split->pending == 0)
        umc_free(n, req->split);
    umc_free(n, req);
}

static void split_done(struct drbd_split *s, struct umc_node *n, int status)
{
    if (status && !s->status)
        s->status = status;
    if (--s->pending == 0) {
        umc_bio_complete(s->upper, s->status);
        umc_free(n, s);
    }
}

/* Hand the result up (once) and close the peers' epochs this write was in. */
static void req_complete_upward(struct drbd_req *req, int status)
{
    struct drbd_volume *v = req->v;
    struct drbd_resource *r = v->res;
    req->completed = true;
    v->upper_pending--;
    if (r->auto_demote_wanted)
        drbd_auto_demote_check(r);
    if (r->d->freeing)
        ; /* the node is going away: nobody is left to tell */
    else if (req->split)
        split_done(req->split, r->node, status);
    else if (req->upper)
        umc_bio_complete(req->upper, status);
    drbd_cmd_waits_check(r);
    if (req->op == UMC_OP_WRITE)
        for (int i = 0; i < req->nnet && i < r->nconns; i++) {
            struct drbd_conn *c = r->conns[i];
            struct drbd_req_net *nt = &req->net[i];
            if (nt->state != RQ_NONE && nt->state != RQ_DONE && nt->epoch == c->tx_epoch)
                drbd_conn_close_epoch(c);
        }
    req->refs--;
}

/* Complete upward if everything it waits for is in; may free req. */
static void req_try_complete(struct drbd_req *req);

void drbd_req_maybe_complete(struct drbd_req *req)
{
    req_try_complete(req);
    req_maybe_free(req);
}

/* Nodes a write must reach to count under the quorum option (0: no option). */
int drbd_quorum_needed(const struct drbd_resource *r)
{
    int q = r->cfg->opts.quorum, total = r->nconns + 1;
    return q == QUORUM_OFF ? 0 : q == QUORUM_MAJORITY ? total / 2 + 1 : q == QUORUM_ALL ? total : q;
}

/* Without quorum a write that did not reach enough nodes is not acknowledged:
 * it fails (io-error) or waits for quorum to return (suspend-io). */
static bool quorum_holds_back(struct drbd_req *req, int *status)
{
    struct drbd_resource *r = req->v->res;
    int reached = (req->local_done && !req->local_status) + req->peers_ok;
    if (req->op != UMC_OP_WRITE || r->have_quorum || reached >= drbd_quorum_needed(r) ||
        !drbd_quorum_needed(r))
        return false;
    if (r->cfg->opts.on_no_quorum == ONQ_IO_ERROR) {
        *status = -EIO;
        return false;
    }
    if (!dl_linked(&req->wait_link))
        dl_add_tail(&req->v->quorum_held, &req->wait_link);
    return true;
}

/* A write that reached no disk while no data is accessible (the peer it went
 * to was lost) is issued again once data is back (on-no-data-accessible
 * suspend-io).  It is parked before its interval is released, so a later
 * overlapping write queues up behind it. */
static void req_retry_later(struct drbd_req *req)
{
    for (int i = 0; i < req->nnet; i++)
        req->net[i] = (struct drbd_req_net){.state = RQ_NONE};
    req->peers_ok = req->peers_uptodate_ok = 0;
    req->seq = 0;
    req->local_done = false;
    req->local_status = 0;
    dl_add_tail(&req->v->susp_wait, &req->wait_link);
    drbd_ival_done(req->v, &req->ival);
}

static void req_try_complete(struct drbd_req *req)
{
    if (req->completed || req->local_pending || req->remote_read || req->peers_pending)
        return;
    struct drbd_resource *r = req->v->res;
    for (int i = 0; i < req->nnet; i++) {
        struct drbd_req_net *nt = &req->net[i];
        if (nt->state == RQ_QUEUED)
            return; /* the send queue still points at the data */
        if (nt->needed && !net_protocol_done(r->conns[i], nt))
            return;
    }
    int status = req->status;
    if (req->op == UMC_OP_WRITE && !status) {
        /* an Inconsistent disk (a resync target, here or a peer) does not
         * keep a write for good on its own: whichever way the next resync
         * runs, it is lost (overwritten by the source, or left among stale
         * blocks) unless an UpToDate disk took it too */
        bool local_ok = req->local_done && !req->local_status &&
                        req->v->disk == DRBD_D_UP_TO_DATE;
        bool hide_local_error = !req->local_status || r->cfg->disk.on_io_error != EP_PASS_ON;
        bool kept = local_ok || req->peers_uptodate_ok;
        if (!kept && hide_local_error && drbd_no_data_waits(r)) {
            req_retry_later(req);
            return;
        }
        if (!kept)
            status = req->local_status ? req->local_status : -EIO;
        else if (!local_ok && r->cfg->disk.on_io_error == EP_PASS_ON && req->local_status)
            status = req->local_status;
        if (!status && quorum_holds_back(req, &status))
            return;
    }
    req_complete_upward(req, status);
}

void drbd_req_fail(struct drbd_req *req, int status)
{
    req->status = status;
    if (!req->completed)
        req_complete_upward(req, status);
    req_maybe_free(req);
}

/* ---- marking what peers miss ----------------------------------------------------------------- */

bool drbd_pd_replicating(const struct drbd_peer_dev *pd)
{
    return pd->c->cstate == DRBD_C_CONNECTED && pd->decided && pd->repl >= DRBD_R_ESTABLISHED &&
           pd->repl != DRBD_R_AHEAD && pd->peer_disk >= DRBD_D_INCONSISTENT &&
           pd->peer_disk != DRBD_D_UNKNOWN;
}

static void set_bits(struct drbd_bitmap *bm, uint64_t off, uint64_t len)
{
    if (bm && len)
        drbd_bm_set_range(bm, off >> DRBD_BLOCK_SHIFT, (off + len - 1) >> DRBD_BLOCK_SHIFT);
}

void drbd_set_out_of_sync_missing(struct drbd_volume *v, uint64_t off, uint64_t len,
                                  const struct drbd_conn *except)
{
    struct drbd_resource *r = v->res;
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_conn *c = r->conns[i];
        struct drbd_peer_dev *pd = &c->pds[v->idx];
        if (c == except || drbd_pd_replicating(pd) || (pd->ps.flags & PSF_CLIENT))
            continue; /* (a diskless client holds no copy to be out of sync) */
        set_bits(v->bm[c->peer_id], off, len);
        if (drbd_pd_syncing(pd))
            pd->rs_new_bits = true;
        drbd_rs_send_new_bits(pd, off, len);
    }
}

/* ---- the write path -------------------------------------------------------------------------- */

static void req_local_write_done(struct drbd_lio *lio)
{
    struct drbd_req *req = lio->ctx;
    struct drbd_volume *v = req->v;
    int status = lio->bio.status;
    drbd_lio_free(lio);
    req->lio = NULL;
    req->local_pending = false;
    req->local_done = true;
    req->local_status = status;
    v->lower_pending--;
    drbd_al_complete(v, req->off, req->len);
    if (status) {
        /* the data did not land here: the peers that have it must send it back later */
        struct drbd_resource *r = v->res;
        for (int i = 0; i < req->nnet && i < r->nconns; i++)
            if (req->net[i].state != RQ_NONE)
                drbd_send_out_of_sync(&r->conns[i]->pds[v->idx], req->off, req->len);
        if (r->cfg->disk.on_io_error != EP_PASS_ON)
            drbd_vol_detach(v, true, NULL, NULL);
    }
    drbd_ival_done(v, &req->ival);
    drbd_detach_check(v);
    drbd_req_maybe_complete(req);
}

static void req_send_to_peer(struct drbd_req *req, struct drbd_conn *c, uint32_t mask)
{
    struct drbd_req_net *nt = &req->net[c->idx];
    if (c->tx_epoch_writes >= c->net.max_epoch_size)
        drbd_conn_close_epoch(c);
    nt->id = tl_add(c, req);
    nt->epoch = c->tx_epoch;
    nt->state = RQ_QUEUED;
    nt->needed = true;
    nt->sent_at = umc_now(c->res->node);
    c->tx_epoch_writes++;
    unsigned char p[DRBD_DATA_HDR];
    drbd_put_be64(p, nt->id);
    drbd_put_be64(p + 8, req->off);
    drbd_put_be32(p + 16, req->flags & (UMC_BIO_FUA | UMC_BIO_PREFLUSH));
    drbd_put_be32(p + 20, (uint32_t)req->len);
    drbd_put_be64(p + 24, req->seq);
    drbd_put_be32(p + 32, c->res->incarnation);
    drbd_put_be32(p + 36, mask);
    c->pds[req->v->idx].sent_bytes += req->len;
    drbd_send_data(c, P_DATA, req->v->vnr, p, sizeof(p), req->iov, req->iovcnt, req->len, req, NULL,
                   0);
}

static void req_issue_write(struct drbd_req *req)
{
    struct drbd_volume *v = req->v;
    struct drbd_resource *r = v->res;
    v->written_bytes += req->len;
    v->app_io++;
    drbd_set_out_of_sync_missing(v, req->off, req->len, NULL);
    drbd_rs_note_app_write(v, req->off, req->len);
    /* the peers learn which nodes this write goes to (see drbd_peers.c) */
    bool local = drbd_vol_writable_locally(v) && v->have_md;
    uint32_t mask = local ? 1u << r->my_id : 0;
    for (int i = 0; i < r->nconns; i++)
        if (drbd_pd_replicating(&r->conns[i]->pds[v->idx]))
            mask |= 1u << r->conns[i]->peer_id;
    if (mask & ~(1u << r->my_id)) {
        if (!r->incarnation)
            r->incarnation = (uint32_t)mte_rng_next(umc_rng(r->node, "drbd")) | 1u;
        req->seq = ++r->write_seq;
    }
    for (int i = 0; i < r->nconns; i++)
        if (drbd_pd_replicating(&r->conns[i]->pds[v->idx]))
            req_send_to_peer(req, r->conns[i], mask);
    if (local) {
        req->local_pending = true;
        v->lower_pending++;
        req->lio = drbd_lio_new(r->d, req_local_write_done, req);
        drbd_lio_submit(req->lio, v->backing, UMC_OP_WRITE, req->flags, req->off, req->len, NULL,
                        req->iov, req->iovcnt);
    } else {
        drbd_ival_done(v, &req->ival);
    }
    drbd_req_maybe_complete(req);
}

static void req_al_resume(struct drbd_al_waiter *w)
{
    struct drbd_req *req = dl_entry(w, struct drbd_req, alw);
    req_issue_write(req);
}

static void req_ival_started(struct drbd_ival *iv)
{
    struct drbd_req *req = dl_entry(iv, struct drbd_req, ival);
    struct drbd_volume *v = req->v;
    if (drbd_vol_writable_locally(v) && v->have_md && v->al.ext) {
        req->alw.off = req->off;
        req->alw.len = req->len;
        req->alw.resume = req_al_resume;
        if (!drbd_al_begin(v, &req->alw))
            return;
    }
    req_issue_write(req);
}

static void req_start_write(struct drbd_req *req)
{
    if (drbd_req_write_held(req))
        return;
    req->ival = (struct drbd_ival){.off = req->off, .len = req->len, .kind = IVAL_WRITE,
                                   .start = req_ival_started};
    drbd_ival_submit(req->v, &req->ival);
}

void drbd_req_start(struct drbd_req *req)
{
    if (req->op == UMC_OP_WRITE)
        req_start_write(req);
    else if (req->op == UMC_OP_FLUSH)
        req_start_flush(req);
    else
        drbd_req_start_read(req);
}

/* ---- entry from the block layer --------------------------------------------------------------- */

static int admit(struct drbd_volume *v, const struct umc_bio *bio)
{
    struct drbd_resource *r = v->res;
    if (!r->up || r->going_down)
        return -ENODEV;
    bool write = bio->op == UMC_OP_WRITE;
    if (write && r->role != DRBD_ROLE_PRIMARY)
        return -EROFS;
    if (!write && r->role != DRBD_ROLE_PRIMARY && !drbd_vol_readable_locally(v))
        return -EIO;
    if (write && !drbd_have_write_path(v) && !drbd_no_data_waits(r))
        return -EIO;
    return 0;
}

void drbd_bdev_submit(struct umc_bdev *b, struct umc_bio *bio)
{
    struct drbd_volume *v = b->priv;
    if (bio->op != UMC_OP_READ && bio->op != UMC_OP_WRITE && bio->op != UMC_OP_FLUSH) {
        umc_bio_complete(bio, -EOPNOTSUPP);
        return;
    }
    int rc = admit(v, bio);
    if (rc) {
        umc_bio_complete(bio, rc);
        return;
    }
    v->upper_pending++;
    if (bio->op == UMC_OP_FLUSH) {
        drbd_req_start(req_new(v, bio, UMC_OP_FLUSH, 0, 0));
        return;
    }
    uint64_t nseg = (bio->length + DRBD_MAX_SEGMENT - 1) / DRBD_MAX_SEGMENT;
    struct drbd_split *split = NULL;
    if (nseg > 1) {
        /* the count covers every piece first, so an early finish cannot end the bio */
        split = umc_alloc(v->res->node, sizeof(*split));
        split->upper = bio;
        split->pending = (int)nseg;
        v->upper_pending += (uint32_t)nseg - 1;
    }
    uint64_t length = bio->length, offset = bio->offset;
    for (uint64_t s = 0; s < nseg; s++) {
        uint64_t off = s * DRBD_MAX_SEGMENT;
        uint64_t len = length - off < DRBD_MAX_SEGMENT ? length - off : DRBD_MAX_SEGMENT;
        struct drbd_req *req = req_new(v, bio, bio->op, offset + off, len);
        req->split = split;
        req_slice_iov(req, off);
        drbd_req_start(req);
    }
}

/* ---- acks from peers --------------------------------------------------------------------------- */

static void peer_took_it(struct drbd_conn *c, struct drbd_req *req)
{
    req->peers_ok++;
    if (c->pds[req->v->idx].peer_disk == DRBD_D_UP_TO_DATE)
        req->peers_uptodate_ok++;
}

void drbd_req_sent(struct drbd_conn *c, struct drbd_req *req)
{
    struct drbd_req_net *nt = &req->net[c->idx];
    if (nt->state == RQ_QUEUED) {
        nt->state = RQ_SENT;
        nt->sent_at = umc_now(c->res->node);
        if (c->net.protocol == 'A')
            peer_took_it(c, req);
    }
    drbd_req_maybe_complete(req);
}

void drbd_req_net_acked(struct drbd_conn *c, uint64_t id, enum drbd_net_state st, int status)
{
    struct drbd_req *req = tl_get(c, id);
    if (!req)
        return;
    struct drbd_req_net *nt = &req->net[c->idx];
    if (nt->state == RQ_DONE)
        return;
    bool was_done = net_protocol_done(c, nt);
    if (status) {
        /* the peer could not write it: it is out of sync there */
        set_bits(req->v->bm[c->peer_id], req->off, req->len);
        nt->state = RQ_WRITE_ACKED;
        nt->barrier_acked = true;
        nt->failed = true;
    } else if (st > nt->state) {
        nt->state = (uint8_t)st;
    }
    if (!was_done && net_protocol_done(c, nt) && !status)
        peer_took_it(c, req);
    drbd_req_maybe_complete(req);
    tl_release(c);
}

/* Barrier acks are cumulative: every epoch up to this one is on the peer's disk. */
void drbd_tl_barrier_acked(struct drbd_conn *c, uint32_t epoch)
{
    if (epoch > c->acked_barrier)
        c->acked_barrier = epoch;
    for (uint64_t id = c->tl_base; id < c->tl_next; id++) {
        struct drbd_req *req = c->tl[id & (c->tl_cap - 1)];
        struct drbd_req_net *nt = &req->net[c->idx];
        if (nt->epoch > epoch)
            break;
        nt->barrier_acked = true;
    }
    tl_release(c);
    drbd_flush_waits_check(c);
}

/* The connection is gone: what was not barrier-acked is out of sync there. */
void drbd_tl_conn_lost(struct drbd_conn *c)
{
    drbd_tx_free_all(c);
    uint64_t marked = 0;
    for (uint64_t id = c->tl_base; id < c->tl_next; id++) {
        struct drbd_req *req = c->tl[id & (c->tl_cap - 1)];
        struct drbd_req_net *nt = &req->net[c->idx];
        if (!nt->barrier_acked) {
            set_bits(req->v->bm[c->peer_id], req->off, req->len);
            marked += req->len;
        }
        nt->state = RQ_DONE;
        nt->needed = false;
    }
    uint64_t first = c->tl_base, last = c->tl_next;
    c->tl_base = c->tl_next;
    for (uint64_t id = first; id < last; id++)
        drbd_req_maybe_complete(c->tl[id & (c->tl_cap - 1)]);
    if (marked)
        umc_info(c->res->node, DRBD_COMP, "%s %s: %llu KiB in flight marked out of sync",
                 c->res->cfg->name, c->name, (unsigned long long)(marked >> 10));
    c->tx_epoch_writes = 0;
    c->acked_barrier = c->tx_epoch;
    drbd_flush_waits_check(c);
    drbd_remote_reads_fail(c);
}

/* A request older than timeout x ko-count drops the peer. */
void drbd_ko_check(struct drbd_conn *c)
{
    if (!c->net.ko_count || c->cstate != DRBD_C_CONNECTED || c->tl_base == c->tl_next)
        return;
    if (umc_bug(c->res->node, UMC_BUG_LOST_BARRIER_ACK))
        return; /* the defect's stuck write must stay stuck */
    mte_time_t limit = (mte_time_t)c->net.timeout * c->net.ko_count * 100 * MTE_MSEC;
    mte_time_t now = umc_now(c->res->node);
    for (uint64_t id = c->tl_base; id < c->tl_next; id++) {
        struct drbd_req *req = c->tl[id & (c->tl_cap - 1)];
        struct drbd_req_net *nt = &req->net[c->idx];
        if (net_protocol_done(c, nt) && nt->barrier_acked)
            continue;
        if (nt->state >= RQ_SENT && now - nt->sent_at > limit) {
            char why[160];
            snprintf(why, sizeof(why), "remote failed to finish a request within %llu ms > "
                     "ko-count (%u) * timeout (%u * 0.1s)",
                     (unsigned long long)((now - nt->sent_at) / MTE_MSEC), c->net.ko_count,
                     c->net.timeout);
            drbd_conn_drop(c, DRBD_C_TIMEOUT, why);
        }
        return;
    }
}
