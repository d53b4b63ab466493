/* Which peers hold a write, and the resyncs between peers that no handshake
 * starts (three or more nodes).
 *
 * A secondary cannot tell from its own connections whether its other peers
 * got a write of the primary: the primary tells it.  Every P_DATA carries the
 * primary's write sequence number and the nodes the write went to; once the
 * write is on the disks of its peers (barrier acks in) the primary sends
 * P_PEERS_IN_SYNC naming the nodes that confirmed it.  A secondary keeps the
 * writes not yet confirmed; a peer that misses one gets its blocks marked.
 *
 * When a secondary loses the primary, an unconfirmed write may be on some
 * peers only.  Each peer applies the primary's writes in order, so the one
 * that applied the later sequence number holds all the other one does: the
 * two tell each other (P_RECONCILE) and that one becomes the source of a
 * bitmap resync.  A secondary still fed by a primary resyncs a peer the
 * primary does not reach; a primary resyncs bits it holds for a connected
 * peer (bits marked while that peer was not yet replicating), and a
 * secondary with bits for a primary asks it to; an Inconsistent volume whose
 * resync source went away asks another UpToDate peer.
 *
 * A resync source that is not the primary may lag behind its target: the
 * primary's write can reach the target first.  So a target fed by a primary
 * names in each resync request the last write of that primary it applied,
 * and the source answers only once it has applied that write too. */
#include <stdio.h>

#include "drbd/drbd_int.h"

bool drbd_pis_tracking(const struct drbd_resource *r) { return r->nconns >= 2; }

static struct drbd_conn *conn_of_node(struct drbd_resource *r, int node_id)
{
    for (int i = 0; i < r->nconns; i++)
        if (r->conns[i]->peer_id == node_id)
            return r->conns[i];
    return NULL;
}

/* ---- the primary: tell the peers who has a write ------------------------------------------- */

void drbd_pis_send(struct drbd_req *req)
{
    struct drbd_resource *r = req->v->res;
    if (!req->seq || !drbd_pis_tracking(r))
        return;
    uint32_t mask = 0;
    for (int i = 0; i < req->nnet && i < r->nconns; i++)
        if (req->net[i].confirmed)
            mask |= 1u << r->conns[i]->peer_id;
    unsigned char p[12];
    drbd_put_be64(p, req->seq);
    drbd_put_be32(p + 8, mask);
    for (int i = 0; i < req->nnet && i < r->nconns; i++)
        if (req->net[i].confirmed && r->conns[i]->sock)
            drbd_send(r->conns[i], P_PEERS_IN_SYNC, -1, p, sizeof(p), false);
}

/* ---- resync requests that wait for a write of the primary ---------------------------------- */

void drbd_rs_dagtag_put(const struct drbd_peer_dev *pd, unsigned char *p)
{
    const struct drbd_resource *r = pd->c->res;
    memset(p, 0, DRBD_DAGTAG_LEN);
    p[0] = 0xff;
    if (pd->c->peer_role == DRBD_ROLE_PRIMARY)
        return;
    for (int i = 0; i < r->nconns; i++) {
        const struct drbd_conn *f = r->conns[i];
        /* (only if the primary sends its writes to the source too) */
        if (f != pd->c && drbd_conn_established(f) && f->peer_role == DRBD_ROLE_PRIMARY &&
            f->rx_seq_valid && (f->rx_mask & (1u << pd->c->peer_id))) {
            p[0] = (unsigned char)f->peer_id;
            drbd_put_be32(p + 1, f->rx_inc);
            drbd_put_be64(p + 5, f->rx_seq);
            return;
        }
    }
}

bool drbd_rs_dagtag_wait(struct drbd_peer_dev *pd, struct drbd_peer_req *pr, const unsigned char *p)
{
    struct drbd_conn *f = p[0] == 0xff ? NULL : conn_of_node(pd->c->res, p[0]);
    uint32_t inc = drbd_get_be32(p + 1);
    uint64_t seq = drbd_get_be64(p + 5);
    if (!f || f == pd->c || !f->sock || !f->rx_seq_valid || f->rx_inc != inc || f->rx_seq >= seq)
        return false;
    pr->seq = seq;
    dl_add_tail(&f->rs_deferred, &pr->link);
    return true;
}

/* The reads go once their write is here (or the primary is gone: then
 * there is nothing to wait for). */
static void deferred_release(struct drbd_conn *f, bool all)
{
    struct drbd_link go;
    dl_init(&go);
    for (struct drbd_link *l = f->rs_deferred.next, *nx; l != &f->rs_deferred; l = nx) {
        nx = l->next;
        struct drbd_peer_req *pr = dl_entry(l, struct drbd_peer_req, link);
        if (all || pr->seq <= f->rx_seq) {
            dl_del(&pr->link);
            dl_add_tail(&go, &pr->link);
        }
    }
    while (!dl_empty(&go)) {
        struct drbd_peer_req *pr = dl_entry(go.next, struct drbd_peer_req, link);
        dl_del(&pr->link);
        drbd_ival_submit(pr->pd->v, &pr->ival);
    }
}

/* The requester went away: its waiting reads go with it. */
static void deferred_drop_for(struct drbd_conn *c)
{
    struct drbd_resource *r = c->res;
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_conn *f = r->conns[i];
        for (struct drbd_link *l = f->rs_deferred.next, *nx; l != &f->rs_deferred; l = nx) {
            nx = l->next;
            struct drbd_peer_req *pr = dl_entry(l, struct drbd_peer_req, link);
            if (pr->pd->c == c)
                drbd_peer_req_free(pr);
        }
    }
}

/* ---- a secondary: marking what a peer misses ------------------------------------------------ */

/* A peer lacks [off, off+len).  Not while it is our resync source: there the
 * bits say what we fetch from it, and we hold the newer data. */
static void mark_missing(struct drbd_volume *v, struct drbd_conn *q, uint64_t off, uint64_t len)
{
    struct drbd_peer_dev *pd = &q->pds[v->idx];
    struct drbd_bitmap *bm = v->bm[q->peer_id];
    if (!bm || !len || (pd->ps.flags & PSF_CLIENT))
        return;
    if (pd->repl == DRBD_R_WF_BITMAP_T || pd->repl == DRBD_R_WF_SYNC_UUID ||
        pd->repl == DRBD_R_SYNC_TARGET || pd->repl == DRBD_R_PAUSED_SYNC_T ||
        pd->repl == DRBD_R_STARTING_SYNC_T) {
        drbd_rs_note_owed(pd, off, len);
        return;
    }
    drbd_bm_set_range(bm, off >> DRBD_BLOCK_SHIFT, (off + len - 1) >> DRBD_BLOCK_SHIFT);
    if (drbd_pd_syncing(pd))
        pd->rs_new_bits = true;
    drbd_rs_note_missed_write(pd, off, len);
    drbd_rs_send_new_bits(pd, off, len);
}

static void ring_push(struct drbd_conn *c, const struct drbd_pis_ent *e)
{
    struct umc_node *n = c->res->node;
    if (c->pis_count == c->pis_cap) {
        uint32_t cap = c->pis_cap ? c->pis_cap * 2 : 64;
        struct drbd_pis_ent *ne = umc_alloc(n, (size_t)cap * sizeof(*ne));
        for (uint32_t i = 0; i < c->pis_count; i++)
            ne[i] = c->pis[(c->pis_head + i) % c->pis_cap];
        umc_free(n, c->pis);
        c->pis = ne;
        c->pis_cap = cap;
        c->pis_head = 0;
    }
    c->pis[(c->pis_head + c->pis_count) % c->pis_cap] = *e;
    c->pis_count++;
}

static struct drbd_pis_ent *ring_at(struct drbd_conn *c, uint32_t i)
{
    return &c->pis[(c->pis_head + i) % c->pis_cap];
}

/* The entries are in sequence order: binary search. */
static struct drbd_pis_ent *ring_find(struct drbd_conn *c, uint64_t seq)
{
    uint32_t lo = 0, hi = c->pis_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        struct drbd_pis_ent *e = ring_at(c, mid);
        if (e->seq == seq)
            return e;
        if (e->seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

void drbd_pis_note_write(struct drbd_conn *c, struct drbd_peer_dev *pd, uint64_t seq, uint32_t inc,
                         uint32_t mask, uint64_t off, uint32_t len)
{
    struct drbd_resource *r = c->res;
    c->rx_seq_valid = true;
    c->rx_inc = inc;
    c->rx_seq = seq;
    c->rx_mask = mask;
    if (!drbd_pis_tracking(r) || !seq)
        return;
    /* peers the primary does not send this write to miss it for sure */
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_conn *q = r->conns[i];
        if (q != c && !(mask & (1u << q->peer_id)))
            mark_missing(pd->v, q, off, len);
    }
    if (!dl_empty(&c->rs_deferred))
        deferred_release(c, false);
    struct drbd_pis_ent e = {.seq = seq, .off = off, .len = len, .vol = (uint8_t)pd->v->idx};
    if (c->pis_count && ring_at(c, c->pis_count - 1)->seq >= seq)
        return; /* out of order: cannot be (one stream); keep the ring sorted */
    ring_push(c, &e);
}

static void mark_entry_missing(struct drbd_conn *c, const struct drbd_pis_ent *e, uint32_t have)
{
    struct drbd_resource *r = c->res;
    if (e->vol >= r->nvols)
        return;
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_conn *q = r->conns[i];
        if (q != c && !(have & (1u << q->peer_id)))
            mark_missing(r->vols[e->vol], q, e->off, e->len);
    }
}

int drbd_rx_peers_in_sync(struct drbd_conn *c, struct drbd_rbuf *r)
{
    uint64_t seq = drbd_get_u64(r);
    uint32_t mask = drbd_get_u32(r);
    if (!drbd_rbuf_done(r))
        return -EPROTO;
    struct drbd_pis_ent *e = c->pis_count ? ring_find(c, seq) : NULL;
    if (!e || e->confirmed)
        return 0;
    e->confirmed = true;
    mark_entry_missing(c, e, mask);
    while (c->pis_count && ring_at(c, 0)->confirmed) {
        c->pis_head = (c->pis_head + 1) % c->pis_cap;
        c->pis_count--;
    }
    return 0;
}

/* ---- losing a primary: who of the rest has more of its writes ------------------------------ */

static bool have_bits_for(const struct drbd_resource *r, const struct drbd_conn *q)
{
    for (int i = 0; i < r->nvols; i++) {
        const struct drbd_bitmap *bm = r->vols[i]->bm[q->peer_id];
        if (bm && bm->set)
            return true;
    }
    return false;
}

static void send_reconcile(struct drbd_conn *q, const struct drbd_conn *lost)
{
    struct drbd_resource *r = q->res;
    unsigned char p[14];
    p[0] = (uint8_t)lost->peer_id;
    p[1] = (uint8_t)((lost->lost.valid ? 1u : 0u) | (have_bits_for(r, q) ? 2u : 0u));
    drbd_put_be32(p + 2, lost->lost.inc);
    drbd_put_be64(p + 6, lost->lost.seq);
    drbd_send(q, P_RECONCILE, -1, p, sizeof(p), false);
}

/* Both of us lost primary P: the one that applied the later write of P is the
 * source; one that applied none of P's writes (incarnation 0) never is (a
 * tie: the lower node id; the data is the same). */
static void reconcile_try(struct drbd_conn *q, struct drbd_conn *p)
{
    struct drbd_resource *r = q->res;
    struct drbd_lost_primary *theirs = &q->peer_lost[p->peer_id];
    if (!p->lost.valid || !theirs->valid || !drbd_conn_established(q))
        return;
    theirs->valid = false;
    bool mine_any = p->lost.inc != 0, theirs_any = theirs->inc != 0;
    bool same = p->lost.inc == theirs->inc;
    bool source = mine_any != theirs_any               ? mine_any
                  : same && p->lost.seq != theirs->seq ? p->lost.seq > theirs->seq
                                                       : r->my_id < q->peer_id;
    umc_info(r->node, DRBD_COMP, "%s %s: both lost %s (last write applied here %llu, there %llu): "
             "%s", r->cfg->name, q->name, p->name, (unsigned long long)p->lost.seq,
             (unsigned long long)theirs->seq, source ? "resync source" : "resync target");
    if (!source || r->role == DRBD_ROLE_PRIMARY || q->peer_role == DRBD_ROLE_PRIMARY)
        return;
    for (int i = 0; i < r->nvols; i++) {
        struct drbd_bitmap *bm = r->vols[i]->bm[q->peer_id];
        if ((bm && bm->set) || theirs->has_bits)
            q->pds[i].rc_source = !drbd_start_bitmap_sync(&q->pds[i], true);
    }
}

static void ring_flush_missing(struct drbd_conn *c)
{
    for (uint32_t i = 0; i < c->pis_count; i++) {
        struct drbd_pis_ent *e = ring_at(c, i);
        if (!e->confirmed)
            mark_entry_missing(c, e, 0);
    }
    c->pis_count = 0;
    c->pis_head = 0;
}

void drbd_pis_conn_lost(struct drbd_conn *c)
{
    struct drbd_resource *r = c->res;
    ring_flush_missing(c);
    memset(c->peer_lost, 0, sizeof(c->peer_lost));
    deferred_drop_for(c);
    deferred_release(c, true);
    bool was_feeding = c->peer_role == DRBD_ROLE_PRIMARY || c->rx_seq_valid;
    if (drbd_pis_tracking(r) && was_feeding && r->role != DRBD_ROLE_PRIMARY && !r->going_down) {
        c->lost = (struct drbd_lost_primary){.valid = true, .inc = c->rx_seq_valid ? c->rx_inc : 0,
                                             .seq = c->rx_seq_valid ? c->rx_seq : 0};
        for (int i = 0; i < r->nconns; i++) {
            struct drbd_conn *q = r->conns[i];
            if (q != c && drbd_conn_established(q)) {
                send_reconcile(q, c);
                reconcile_try(q, c);
            }
        }
    }
    c->rx_seq_valid = false;
}

/* A primary we had lost is back: the others forget what we told them.  (A
 * peer that connects later settles our differences in its handshake.) */
void drbd_pis_conn_up(struct drbd_conn *c)
{
    struct drbd_resource *r = c->res;
    if (!drbd_pis_tracking(r) || !c->lost.valid)
        return;
    c->lost.valid = false;
    for (int i = 0; i < r->nconns; i++)
        if (r->conns[i] != c && drbd_conn_established(r->conns[i]))
            send_reconcile(r->conns[i], c);
}

int drbd_rx_reconcile(struct drbd_conn *q, struct drbd_rbuf *rb)
{
    struct drbd_resource *r = q->res;
    unsigned node = drbd_get_u8(rb), flags = drbd_get_u8(rb);
    uint32_t inc = drbd_get_u32(rb);
    uint64_t seq = drbd_get_u64(rb);
    if (!drbd_rbuf_done(rb) || node >= DRBD_MAX_NODES || (int)node == r->my_id ||
        (int)node == q->peer_id || (flags & ~3u))
        return -EPROTO;
    q->peer_lost[node] = (struct drbd_lost_primary){.valid = flags & 1u, .has_bits = flags & 2u,
                                                    .inc = inc, .seq = seq};
    struct drbd_conn *p = conn_of_node(r, (int)node);
    if (p)
        reconcile_try(q, p);
    return 0;
}

void drbd_pis_free(struct drbd_conn *c)
{
    umc_free(c->res->node, c->pis);
    c->pis = NULL;
    c->pis_cap = c->pis_count = c->pis_head = 0;
}

/* ---- resyncs no handshake starts ------------------------------------------------------------- */

/* An Inconsistent volume no resync feeds (its source went away) asks a
 * connected UpToDate peer, a primary first; so does an Outdated one (it
 * resynced from a peer whose primary did not reach it), from a peer whose
 * writes all reach it now. */
static void resync_orphan_target(struct drbd_resource *r, struct drbd_volume *v)
{
    struct drbd_peer_dev *best = NULL;
    bool outdated = v->disk == DRBD_D_OUTDATED;
    if (!v->have_md || (v->disk != DRBD_D_INCONSISTENT && !outdated) ||
        (outdated && r->role == DRBD_ROLE_PRIMARY))
        return;
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_peer_dev *pd = &r->conns[i]->pds[v->idx];
        if (drbd_pd_syncing(pd) || (pd->ps.flags & PSF_BUG_NO_RESTART))
            return;
        if (pd->repl != DRBD_R_ESTABLISHED || pd->peer_disk != DRBD_D_UP_TO_DATE ||
            !drbd_conn_established(pd->c) || (outdated && drbd_relayed_from(pd)))
            continue;
        if (!best || (pd->c->peer_role == DRBD_ROLE_PRIMARY &&
                      best->c->peer_role != DRBD_ROLE_PRIMARY))
            best = pd;
    }
    if (best)
        drbd_start_bitmap_sync(best, false);
}

/* Every 100 ms: a primary resyncs the bits it holds for a connected peer; a
 * secondary fed by a primary resyncs the bits it holds for another secondary
 * (writes the primary does not get to it); a reconcile source that could not
 * start retries; an Inconsistent volume without a source finds one.  Not
 * verify's bits (they wait for a reconnect) and not under the injected
 * no-restart defect. */
void drbd_peers_tick(struct drbd_resource *r)
{
    if (!r->up || r->going_down || umc_bug(r->node, UMC_BUG_RESYNC_NO_RESTART))
        return;
    bool primary = r->role == DRBD_ROLE_PRIMARY, fed = false;
    for (int i = 0; i < r->nconns; i++)
        fed |= drbd_conn_established(r->conns[i]) && r->conns[i]->peer_role == DRBD_ROLE_PRIMARY;
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_conn *q = r->conns[i];
        if (!drbd_conn_established(q))
            continue;
        bool q_primary = q->peer_role == DRBD_ROLE_PRIMARY;
        for (int j = 0; j < r->nvols; j++) {
            struct drbd_peer_dev *pd = &q->pds[j];
            struct drbd_bitmap *bm = r->vols[j]->bm[q->peer_id];
            if (pd->repl != DRBD_R_ESTABLISHED || pd->ov_marked ||
                (pd->ps.flags & PSF_BUG_NO_RESTART))
                continue;
            if (q_primary && !primary && bm && bm->set)
                drbd_start_bitmap_sync(pd, false); /* bits for a primary: it is the source */
            else if (!q_primary && (pd->rc_source || (bm && bm->set && (primary || fed))))
                pd->rc_source = !drbd_start_bitmap_sync(pd, true) && pd->rc_source;
        }
    }
    for (int j = 0; j < r->nvols; j++)
        resync_orphan_target(r, r->vols[j]);
}
