/* The receiving side of replication: writes from a primary are applied in
 * epochs (every write of an epoch done and the disk flushed before the barrier
 * ack; writes of the next epoch wait until then: write-order fidelity), acked
 * per protocol (B on receipt, C when on disk); reads for a diskless primary. */
#include <stdio.h>

#include "drbd/drbd_int.h"

/* ---- peer requests ------------------------------------------------------------------------ */

struct drbd_peer_req *drbd_peer_req_new(struct drbd_peer_dev *pd, enum drbd_preq_kind kind,
                                        uint64_t id, uint64_t off, uint64_t len)
{
    struct drbd_peer_req *pr = umc_alloc(pd->c->res->node, sizeof(*pr));
    pr->pd = pd;
    pr->gen = pd->c->gen;
    pr->kind = kind;
    pr->id = id;
    pr->off = off;
    pr->len = len;
    dl_init(&pr->link);
    dl_init(&pr->ival.link);
    dl_init(&pr->alw.link);
    dl_add_tail(&pd->v->preqs, &pr->live);
    return pr;
}

void drbd_peer_req_free(struct drbd_peer_req *pr)
{
    struct umc_node *n = pr->pd->c->res->node;
    dl_del(&pr->live);
    dl_del(&pr->link);
    dl_del(&pr->ival.link);
    dl_del(&pr->alw.link);
    if (pr->lio) {
        drbd_lio_orphan(pr->lio, pr->buf, pr->digests);
    } else {
        drbd_buf_put(pr->pd->c->res->d, pr->buf, pr->buf_len);
        umc_free(n, pr->digests);
    }
    umc_free(n, pr->mask);
    umc_free(n, pr);
}

static bool same_session(const struct drbd_peer_req *pr)
{
    return pr->pd->c->sock && pr->gen == pr->pd->c->gen;
}

/* ---- writing for a peer -------------------------------------------------------------------- */

static void peer_write_done(struct drbd_lio *lio)
{
    struct drbd_peer_req *pr = lio->ctx;
    struct drbd_volume *v = pr->pd->v;
    pr->status = lio->bio.status;
    drbd_lio_free(lio);
    pr->lio = NULL;
    v->lower_pending--;
    if (v->al.ext)
        drbd_al_complete(v, pr->off, pr->len);
    drbd_ival_done(v, &pr->ival);
    if (pr->status && v->res->cfg->disk.on_io_error != EP_PASS_ON)
        drbd_vol_detach(v, true, NULL, NULL);
    drbd_detach_check(v);
    pr->done(pr);
}

static void peer_write_issue(struct drbd_peer_req *pr)
{
    struct drbd_volume *v = pr->pd->v;
    if (!v->backing_open || v->disk < DRBD_D_INCONSISTENT) {
        drbd_ival_done(v, &pr->ival);
        pr->status = -EIO;
        pr->done(pr);
        return;
    }
    v->lower_pending++;
    pr->lio = drbd_lio_new(v->res->d, peer_write_done, pr);
    drbd_lio_submit(pr->lio, v->backing, UMC_OP_WRITE, pr->flags, pr->off, pr->len, pr->data, NULL,
                    0);
}

static void peer_write_al_resume(struct drbd_al_waiter *w)
{
    peer_write_issue(dl_entry(w, struct drbd_peer_req, alw));
}

static void peer_write_ival_started(struct drbd_ival *iv)
{
    struct drbd_peer_req *pr = dl_entry(iv, struct drbd_peer_req, ival);
    struct drbd_volume *v = pr->pd->v;
    if (v->al.ext && v->backing_open) {
        pr->alw = (struct drbd_al_waiter){.off = pr->off, .len = pr->len,
                                          .resume = peer_write_al_resume};
        if (!drbd_al_begin(v, &pr->alw))
            return;
    }
    peer_write_issue(pr);
}

/* Write pr->data to [off, off+len) after overlapping writes and through the
 * activity log; pr->done runs when it is on the disk (or failed). */
void drbd_peer_write(struct drbd_peer_req *pr)
{
    pr->ival = (struct drbd_ival){.off = pr->off, .len = pr->len, .kind = IVAL_WRITE,
                                  .start = peer_write_ival_started};
    drbd_ival_submit(pr->pd->v, &pr->ival);
}

void drbd_peer_read(struct drbd_peer_req *pr, void (*done)(struct drbd_lio *lio))
{
    struct drbd_volume *v = pr->pd->v;
    if (!pr->buf) {
        pr->buf = drbd_buf_get(v->res->d, (size_t)pr->len);
        pr->buf_len = (size_t)pr->len;
    }
    pr->data = pr->buf;
    v->lower_pending++;
    pr->lio = drbd_lio_new(v->res->d, done, pr);
    drbd_lio_submit(pr->lio, v->backing, UMC_OP_READ, 0, pr->off, pr->len, pr->buf, NULL, 0);
}

int drbd_peer_read_end(struct drbd_lio *lio, bool *current)
{
    struct drbd_peer_req *pr = lio->ctx;
    struct drbd_volume *v = pr->pd->v;
    int status = lio->bio.status;
    drbd_lio_free(lio);
    pr->lio = NULL;
    v->lower_pending--;
    drbd_detach_check(v);
    *current = same_session(pr);
    return status;
}

/* ---- epochs ---------------------------------------------------------------------------------- */

static void rx_process_queue(struct drbd_conn *c);

static void send_ack(struct drbd_conn *c, unsigned type, int vnr, uint64_t id)
{
    unsigned char p[8];
    drbd_put_be64(p, id);
    drbd_send(c, type, vnr, p, sizeof(p), true);
}

static void barrier_ack_send(struct drbd_conn *c)
{
    struct drbd_rx_epoch *e = &c->rx_closing;
    if (c->lost_ack_armed && c->lost_ack_at == e->number) {
        /* the injected defect: this barrier ack never leaves */
        c->lost_ack_armed = false;
    } else {
        unsigned char p[8];
        drbd_put_be32(p, e->number);
        drbd_put_be32(p + 4, e->writes);
        drbd_send(c, P_BARRIER_ACK, -1, p, sizeof(p), true);
    }
    e->closed = false;
    c->rx_gate = false;
    rx_process_queue(c);
}

struct epoch_flush {
    struct drbd_conn *c;
    struct drbd_volume *v;
    uint64_t gen;
};

static void epoch_flushed(struct drbd_lio *lio)
{
    struct epoch_flush *ef = lio->ctx;
    struct drbd_conn *c = ef->c;
    bool current = c->sock && c->gen == ef->gen;
    struct drbd_volume *v = ef->v;
    v->lower_pending--;
    drbd_lio_free(lio);
    drbd_detach_check(v);
    if (current)
        barrier_ack_send(c);
}

/* Every write of the closed epoch is done: flush each backing disk, then ack. */
static void epoch_maybe_finish(struct drbd_conn *c)
{
    struct drbd_rx_epoch *e = &c->rx_closing;
    if (!e->closed || e->pending)
        return;
    struct drbd_resource *r = c->res;
    struct drbd_volume *flush_vol = NULL;
    for (int i = 0; i < r->nvols && !flush_vol; i++)
        if (r->vols[i]->backing_open && r->vols[i]->disk >= DRBD_D_INCONSISTENT)
            flush_vol = r->vols[i];
    if (!e->writes || !r->cfg->disk.disk_flushes || !flush_vol) {
        barrier_ack_send(c);
        return;
    }
    /* one flush per volume would be exact; the volumes of a resource share the
     * write order, so flush each and ack after the last */
    struct epoch_flush *ef = umc_alloc(r->node, sizeof(*ef));
    ef->c = c;
    ef->v = flush_vol;
    ef->gen = c->gen;
    struct drbd_lio *lio = drbd_lio_new(r->d, epoch_flushed, ef);
    lio->own[0] = ef;
    flush_vol->lower_pending++;
    for (int i = 0; i < r->nvols; i++) {
        struct drbd_volume *v = r->vols[i];
        if (v != flush_vol && v->backing_open && v->disk >= DRBD_D_INCONSISTENT) {
            struct drbd_lio *l2 = drbd_lio_new(r->d, NULL, NULL);
            l2->orphan = true; /* fire and forget: ordered before the last flush below */
            drbd_lio_submit(l2, v->backing, UMC_OP_FLUSH, 0, 0, 0, NULL, NULL, 0);
        }
    }
    drbd_lio_submit(lio, flush_vol->backing, UMC_OP_FLUSH, 0, 0, 0, NULL, NULL, 0);
}

static void app_write_done(struct drbd_peer_req *pr)
{
    struct drbd_conn *c = pr->pd->c;
    struct drbd_volume *v = pr->pd->v;
    /* every peer that did not get this write from its source misses it, and so
     * does the source itself when it has no disk of its own */
    if (!pr->status)
        drbd_set_out_of_sync_missing(v, pr->off, pr->len,
                                     pr->pd->peer_disk >= DRBD_D_INCONSISTENT ? c : NULL);
    if (same_session(pr)) {
        if (pr->status)
            send_ack(c, P_NEG_ACK, v->vnr, pr->id);
        else if (c->net.protocol == 'C' && !pr->drop_ack)
            send_ack(c, P_WRITE_ACK, v->vnr, pr->id);
        struct drbd_rx_epoch *e = pr->in_closing ? &c->rx_closing : &c->rx_cur;
        if (e->pending)
            e->pending--;
        if (pr->in_closing)
            epoch_maybe_finish(c);
    }
    bool session = same_session(pr);
    drbd_peer_req_free(pr);
    if (session)
        drbd_twopc_demote_check(c);
    drbd_cmd_waits_check(v->res);
}

/* Writes of this peer's session not yet on our disk: queued behind an epoch
 * or in flight. */
bool drbd_rx_writes_pending(const struct drbd_conn *c)
{
    if (!dl_empty(&c->rx_queue))
        return true;
    for (int i = 0; i < c->res->nvols; i++) {
        const struct drbd_volume *v = c->res->vols[i];
        for (const struct drbd_link *l = v->preqs.next; l != &v->preqs; l = l->next) {
            const struct drbd_peer_req *pr = dl_entry(l, struct drbd_peer_req, live);
            if (pr->pd->c == c && pr->kind == PR_APP_WRITE && pr->gen == c->gen)
                return true;
        }
    }
    return false;
}

/* Writes some primary sent us, of any session, still landing here. */
bool drbd_peer_writes_landing(const struct drbd_resource *r)
{
    for (int i = 0; i < r->nvols; i++) {
        const struct drbd_volume *v = r->vols[i];
        for (const struct drbd_link *l = v->preqs.next; l != &v->preqs; l = l->next)
            if (dl_entry(l, struct drbd_peer_req, live)->kind == PR_APP_WRITE)
                return true;
    }
    return false;
}

static void rx_apply_data(struct drbd_conn *c, struct drbd_peer_req *pr)
{
    /* protocol B acks what is on its way to our disk: a write still queued
     * behind an epoch is dropped if the connection goes */
    if (c->net.protocol == 'B')
        send_ack(c, P_RECV_ACK, pr->pd->v->vnr, pr->id);
    drbd_rs_note_app_write(pr->pd->v, pr->off, pr->len);
    c->rx_cur.writes++;
    c->rx_cur.pending++;
    pr->in_closing = false;
    pr->done = app_write_done;
    struct drbd_peer_dev *pd = pr->pd;
    uint64_t seq = pr->seq, off = pr->off;
    uint32_t inc = pr->inc, mask = pr->peer_mask, len = (uint32_t)pr->len;
    drbd_peer_write(pr);
    /* after the write holds its blocks: a resync read that waited for it
     * (drbd_peers.c) queues behind it instead of reading what it replaces */
    drbd_pis_note_write(c, pd, seq, inc, mask, off, len);
}

static void rx_apply_barrier(struct drbd_conn *c, uint32_t nr)
{
    /* every write in flight now belongs to the closing epoch */
    c->rx_closing = c->rx_cur;
    c->rx_closing.number = nr;
    c->rx_closing.closed = true;
    memset(&c->rx_cur, 0, sizeof(c->rx_cur));
    for (int i = 0; i < c->res->nvols; i++) {
        struct drbd_volume *v = c->res->vols[i];
        for (struct drbd_link *l = v->preqs.next; l != &v->preqs; l = l->next) {
            struct drbd_peer_req *pr = dl_entry(l, struct drbd_peer_req, live);
            if (pr->pd->c == c && pr->kind == PR_APP_WRITE && pr->gen == c->gen &&
                !dl_linked(&pr->link))
                pr->in_closing = true;
        }
    }
    c->rx_gate = true;
    epoch_maybe_finish(c);
}

static void rx_process_queue(struct drbd_conn *c)
{
    while (!c->rx_gate && !dl_empty(&c->rx_queue)) {
        struct drbd_peer_req *pr = dl_entry(c->rx_queue.next, struct drbd_peer_req, link);
        dl_del(&pr->link);
        if (pr->barrier) {
            uint32_t nr = pr->barrier_nr;
            drbd_peer_req_free(pr);
            rx_apply_barrier(c, nr);
        } else if (pr->kind == PR_APP_WRITE) {
            rx_apply_data(c, pr);
        } else {
            drbd_rs_read_admit(pr);
        }
    }
}

/* A request that must not overtake writes received before it: queued
 * behind them while they wait for an epoch barrier.  False: none waits. */
bool drbd_rx_queue_behind_writes(struct drbd_conn *c, struct drbd_peer_req *pr)
{
    if (!c->rx_gate && dl_empty(&c->rx_queue))
        return false;
    dl_add_tail(&c->rx_queue, &pr->link);
    return true;
}

/* The lost-barrier-ack defect: pick, once per connection, the Nth write; its
 * write ack and its epoch's barrier ack are never sent. */
static void maybe_pick_lost_ack(struct drbd_conn *c, struct drbd_peer_req *pr)
{
    if (!umc_bug(c->res->node, UMC_BUG_LOST_BARRIER_ACK) || c->lost_ack_countdown == UINT64_MAX)
        return;
    if (!c->lost_ack_countdown)
        c->lost_ack_countdown = 20 + mte_rng_below(umc_rng(c->res->node, "drbd"), 80);
    if (--c->lost_ack_countdown)
        return;
    c->lost_ack_countdown = UINT64_MAX;
    pr->drop_ack = true;
    c->lost_ack_armed = true;
    c->lost_ack_at = 0; /* set when this write's epoch is closed */
    umc_debug(c->res->node, DRBD_COMP, "%s %s: injected defect: losing the ack of write %llu",
              c->res->cfg->name, c->name, (unsigned long long)pr->id);
}

void drbd_rx_data(struct drbd_conn *c, struct drbd_peer_dev *pd, const struct drbd_data_hdr *h,
                  unsigned char *buf)
{
    struct drbd_peer_req *pr = drbd_peer_req_new(pd, PR_APP_WRITE, h->id, h->off, h->len);
    pr->buf = buf;
    pr->buf_len = (size_t)h->len + DRBD_DATA_HDR;
    pr->data = buf + DRBD_DATA_HDR;
    pr->flags = h->flags & (UMC_BIO_FUA | UMC_BIO_PREFLUSH);
    pr->seq = h->seq;
    pr->inc = h->inc;
    pr->peer_mask = h->mask;
    pd->recv_bytes += h->len;
    pd->v->written_bytes += h->len;
    pd->v->app_io++;
    maybe_pick_lost_ack(c, pr);
    if (c->rx_gate || !dl_empty(&c->rx_queue))
        dl_add_tail(&c->rx_queue, &pr->link);
    else
        rx_apply_data(c, pr);
}

void drbd_rx_barrier(struct drbd_conn *c, uint32_t nr)
{
    if (c->lost_ack_armed && !c->lost_ack_at)
        c->lost_ack_at = nr;
    if (c->rx_gate || !dl_empty(&c->rx_queue)) {
        struct drbd_peer_req *pr = drbd_peer_req_new(&c->pds[0], PR_APP_WRITE, 0, 0, 0);
        dl_del(&pr->live); /* a marker, not a request */
        dl_init(&pr->live);
        pr->barrier = true;
        pr->barrier_nr = nr;
        dl_add_tail(&c->rx_queue, &pr->link);
        return;
    }
    rx_apply_barrier(c, nr);
}

/* ---- reads for a diskless primary -------------------------------------------------------------- */

static void data_read_done(struct drbd_lio *lio)
{
    struct drbd_peer_req *pr = lio->ctx;
    struct drbd_volume *v = pr->pd->v;
    bool current;
    int status = drbd_peer_read_end(lio, &current);
    if (current) {
        unsigned char p[12];
        drbd_put_be64(p, pr->id);
        drbd_put_be32(p + 8, (uint32_t)status);
        struct iovec iov = {.iov_base = pr->buf, .iov_len = (size_t)pr->len};
        drbd_send_data(pr->pd->c, P_DATA_REPLY, v->vnr, p, sizeof(p), &iov, 1,
                       status ? 0 : pr->len, NULL, pr->buf, pr->buf_len);
        pr->buf = NULL; /* the send queue owns it now */
        v->read_bytes += pr->len;
    }
    drbd_peer_req_free(pr);
}

void drbd_rx_data_request(struct drbd_conn *c, struct drbd_peer_dev *pd, uint64_t id, uint64_t off,
                          uint32_t len)
{
    struct drbd_volume *v = pd->v;
    if (!drbd_vol_readable_locally(v)) {
        unsigned char p[12];
        drbd_put_be64(p, id);
        drbd_put_be32(p + 8, (uint32_t)-EIO);
        drbd_send(c, P_DATA_REPLY, v->vnr, p, sizeof(p), false);
        return;
    }
    struct drbd_peer_req *pr = drbd_peer_req_new(pd, PR_APP_READ, id, off, len);
    drbd_peer_read(pr, data_read_done);
}

/* ---- the connection went away ------------------------------------------------------------------ */

void drbd_rx_conn_lost(struct drbd_conn *c)
{
    while (!dl_empty(&c->rx_queue)) {
        struct drbd_peer_req *pr = dl_entry(c->rx_queue.next, struct drbd_peer_req, link);
        dl_del(&pr->link);
        drbd_peer_req_free(pr);
    }
    memset(&c->rx_cur, 0, sizeof(c->rx_cur));
    memset(&c->rx_closing, 0, sizeof(c->rx_closing));
    c->rx_gate = false;
    c->lost_ack_armed = false;
    c->demote_pending = false;
}
