/* Moving the data: the SyncTarget requests out-of-sync runs in LBA order (up to
 * 1 MiB each), the source reads and answers, the target writes and clears its
 * bits and acks so the source clears its own.  With csums-alg the target sends
 * a digest per 4 KiB block first and only differing blocks travel.  Online
 * verify compares digests and marks differences without fixing them.  A rate
 * controller, run every 100 ms, decides how much may be requested per slot. */
#include <stdio.h>

#include "drbd/drbd_int.h"

#define RS_INFLIGHT_MAX (16u << 20)
#define SLOTS_PER_SEC 10

/* A resync request, from asking until its answer is on our disk: until then
 * nothing asks for its blocks again (a second answer, read before an app
 * write that came meanwhile, would land after that write). */
struct rs_req {
    struct drbd_link link;
    uint64_t off, len;
    bool stale;                        /* older than what came since: on its way, a
                                          newer app write (drop the answer); landing,
                                          the source marked its blocks again (their
                                          bits stay) */
    bool arrived;                      /* answered; its write is landing */
};

/* An answer the source read and sent: its bits clear when the target says
 * the data landed, unless a write the target does not get changed the
 * blocks after the read (the answer is older than that write). */
struct rs_sent {
    struct drbd_link link;
    uint64_t off, len;
    bool overtaken;
};

/* Most resync packets begin with the range they are about: be64 offset,
 * be32 length. */
enum { RANGE_LEN = 12 };

static void put_range(unsigned char *p, uint64_t off, uint64_t len)
{
    drbd_put_be64(p, off);
    drbd_put_be32(p + 8, (uint32_t)len);
}

static void send_range(struct drbd_peer_dev *pd, unsigned type, uint64_t off, uint64_t len, bool ctrl)
{
    unsigned char p[RANGE_LEN];
    put_range(p, off, len);
    drbd_send(pd->c, type, pd->v->vnr, p, sizeof(p), ctrl);
}

/* ---- the rate controller -------------------------------------------------------------------- */

void drbd_rs_ctl_reset(struct drbd_peer_dev *pd)
{
    drbd_rs_free_reqs(pd);
    memset(&pd->rs, 0, sizeof(pd->rs));
}

void drbd_rs_free_reqs(struct drbd_peer_dev *pd)
{
    if (!pd->rs_reqs.next)
        dl_init(&pd->rs_reqs);
    while (!dl_empty(&pd->rs_reqs)) {
        struct rs_req *q = dl_entry(pd->rs_reqs.next, struct rs_req, link);
        dl_del(&q->link);
        umc_free(pd->c->res->node, q);
    }
    if (!pd->rs_sent.next)
        dl_init(&pd->rs_sent);
    while (!dl_empty(&pd->rs_sent)) {
        struct rs_sent *e = dl_entry(pd->rs_sent.next, struct rs_sent, link);
        dl_del(&e->link);
        umc_free(pd->c->res->node, e);
    }
}

/* A write pd's peer will not get marked [off, off+len) for it: answers
 * already read for those blocks carry older data. */
void drbd_rs_note_missed_write(struct drbd_peer_dev *pd, uint64_t off, uint64_t len)
{
    if (!pd->rs_sent.next)
        return;
    for (struct drbd_link *l = pd->rs_sent.next; l != &pd->rs_sent; l = l->next) {
        struct rs_sent *e = dl_entry(l, struct rs_sent, link);
        if (e->off < off + len && off < e->off + e->len)
            e->overtaken = true;
    }
}

/* DRBD's plan-ahead controller: keep c-fill-target bytes in flight (or what
 * arrives in c-delay-target), spreading corrections over c-plan-ahead slots. */
static int64_t plan_ahead_budget(struct drbd_peer_dev *pd)
{
    const struct drbd_disk_opts *d = &pd->c->res->cfg->disk;
    struct drbd_rs_ctl *rs = &pd->rs;
    uint32_t steps = d->c_plan_ahead < 64 ? d->c_plan_ahead : 64;
    int64_t in = (int64_t)rs->received_slot;
    int64_t max_slot = d->c_max_rate ? (int64_t)(d->c_max_rate / SLOTS_PER_SEC) : INT64_MAX / 4;
    rs->received_slot = 0;
    if (rs->plan_len != steps) {
        memset(rs->plan, 0, sizeof(rs->plan));
        rs->plan_len = steps;
        rs->plan_head = 0;
        rs->plan_total = 0;
    }
    int64_t want;
    if (!rs->inflight && !in)
        want = d->c_max_rate ? max_slot * steps : (int64_t)RS_INFLIGHT_MAX;
    else if (d->c_fill_target)
        want = (int64_t)d->c_fill_target;
    else
        want = in * d->c_delay_target;
    int64_t correction = want - (int64_t)rs->inflight - rs->plan_total;
    int64_t cps = correction / (int64_t)steps;
    for (uint32_t i = 0; i < steps; i++)
        rs->plan[i] += cps;
    rs->plan_total += cps * (int64_t)steps;
    int64_t curr = rs->plan[rs->plan_head];
    rs->plan[rs->plan_head] = 0;
    rs->plan_head = (rs->plan_head + 1) % steps;
    rs->plan_total -= curr;
    int64_t req = in + curr;
    if (req < 0)
        req = 0;
    return req > max_slot ? max_slot : req;
}

/* Bytes this 100 ms slot may request; INT64_MAX: no limit but the window. */
static int64_t slot_budget(struct drbd_peer_dev *pd)
{
    const struct drbd_disk_opts *d = &pd->c->res->cfg->disk;
    struct drbd_volume *v = pd->v;
    int64_t budget;
    if (!d->c_plan_ahead)
        budget = d->resync_rate ? (int64_t)(d->resync_rate / SLOTS_PER_SEC) : INT64_MAX;
    else
        budget = plan_ahead_budget(pd);
    /* application I/O under way: resync yields, down to c-min-rate */
    bool app_busy = v->app_io != pd->rs.app_io_mark;
    pd->rs.app_io_mark = v->app_io;
    if (d->c_min_rate && app_busy && budget > (int64_t)(d->c_min_rate / SLOTS_PER_SEC))
        budget = (int64_t)(d->c_min_rate / SLOTS_PER_SEC);
    return budget;
}

/* ---- pausing ---------------------------------------------------------------------------------- */

static void follow_pause(struct drbd_peer_dev *pd)
{
    bool paused = pd->pause_user || pd->pause_peer || pd->pause_dep;
    struct umc_node *n = pd->c->res->node;
    enum drbd_repl_state to = pd->repl;
    if (paused && pd->repl == DRBD_R_SYNC_SOURCE)
        to = DRBD_R_PAUSED_SYNC_S;
    else if (paused && pd->repl == DRBD_R_SYNC_TARGET)
        to = DRBD_R_PAUSED_SYNC_T;
    else if (!paused && pd->repl == DRBD_R_PAUSED_SYNC_S)
        to = DRBD_R_SYNC_SOURCE;
    else if (!paused && pd->repl == DRBD_R_PAUSED_SYNC_T)
        to = DRBD_R_SYNC_TARGET;
    if (to == pd->repl)
        return;
    if (paused)
        pd->rs_paused_at = umc_now(n);
    else if (pd->rs_paused_at)
        pd->rs_paused_total += umc_now(n) - pd->rs_paused_at;
    drbd_set_repl(pd, to);
}

/* ---- one resync target at a time per volume ---------------------------------------------------- */

static void tell_pause(struct drbd_peer_dev *pd, bool paused)
{
    unsigned char p = paused;
    drbd_send(pd->c, P_PAUSE, pd->v->vnr, &p, 1, false);
}

/* The peer already feeding this volume, if any. */
static struct drbd_peer_dev *active_target(const struct drbd_peer_dev *pd)
{
    const struct drbd_resource *r = pd->v->res;
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_peer_dev *o = &r->conns[i]->pds[pd->v->idx];
        if (o != pd && !o->pause_dep &&
            (o->repl == DRBD_R_SYNC_TARGET || o->repl == DRBD_R_PAUSED_SYNC_T))
            return o;
    }
    return NULL;
}

static void wait_dependency(struct drbd_peer_dev *pd)
{
    pd->pause_dep = true;
    tell_pause(pd, true);
    umc_info(pd->c->res->node, DRBD_COMP, "%s %s: resync waits for the other one of this volume",
             pd->v->name, pd->c->name);
    follow_pause(pd);
}

/* One resync target at a time per volume.  A primary source goes first: a
 * secondary may lag behind the primary's latest writes, the primary cannot. */
void drbd_rs_choose_active(struct drbd_peer_dev *pd)
{
    struct drbd_peer_dev *o = active_target(pd);
    if (!o)
        return;
    if (pd->c->peer_role == DRBD_ROLE_PRIMARY && o->c->peer_role != DRBD_ROLE_PRIMARY)
        wait_dependency(o);
    else
        wait_dependency(pd);
}

/* A resync from a secondary ended while one from a primary waits: that one
 * runs too (the secondary may have lagged), and the volume stays Inconsistent. */
struct drbd_peer_dev *drbd_rs_primary_dependent(const struct drbd_peer_dev *done)
{
    const struct drbd_resource *r = done->v->res;
    if (done->c->peer_role == DRBD_ROLE_PRIMARY)
        return NULL;
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_peer_dev *o = &r->conns[i]->pds[done->v->idx];
        if (o != done && o->pause_dep && o->c->peer_role == DRBD_ROLE_PRIMARY &&
            (o->repl == DRBD_R_SYNC_TARGET || o->repl == DRBD_R_PAUSED_SYNC_T))
            return o;
    }
    return NULL;
}

void drbd_rs_resume_dependent(struct drbd_peer_dev *pd)
{
    pd->pause_dep = false;
    tell_pause(pd, false);
    drbd_resync_kick(pd);
}

/* The active resync of v ended.  finished: the volume is UpToDate now, so the
 * waiting ones whose sources hold the same data (current UUID) end too; one
 * whose source is at another generation (the active source moved on while it
 * waited) is no longer a resync in that direction: the handshake decides
 * again.  Not finished: the first waiting one starts. */
void drbd_rs_dependents(struct drbd_volume *v, bool finished)
{
    struct drbd_resource *r = v->res;
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_peer_dev *pd = &r->conns[i]->pds[v->idx];
        if (!pd->pause_dep)
            continue;
        if (pd->repl != DRBD_R_PAUSED_SYNC_T && pd->repl != DRBD_R_SYNC_TARGET) {
            pd->pause_dep = false;
            continue;
        }
        if (finished && (pd->ps.current_uuid & ~UUID_PRIMARY) != (v->md.current_uuid & ~UUID_PRIMARY)) {
            pd->pause_dep = false;
            drbd_conn_drop(pd->c, DRBD_C_NETWORK_FAILURE,
                           "the waiting resync's source holds another data generation now");
            continue;
        }
        if (finished) {
            pd->rs_done_sent = true;
            drbd_send_rs_done(pd, true);
            continue;
        }
        drbd_rs_resume_dependent(pd);
        return;
    }
}

/* ---- the target's requests ------------------------------------------------------------------ */

static struct drbd_bitmap *pd_bitmap(struct drbd_peer_dev *pd) { return drbd_pd_bm(pd); }

static void rs_req_track(struct drbd_peer_dev *pd, uint64_t off, uint64_t len)
{
    struct rs_req *q = umc_alloc(pd->c->res->node, sizeof(*q));
    q->off = off;
    q->len = len;
    dl_add_tail(&pd->rs_reqs, &q->link);
    pd->rs.inflight += len;
    pd->rs.inflight_reqs++;
    pd->rs.credit -= (int64_t)len;
}

static struct rs_req *rs_req_find(struct drbd_peer_dev *pd, uint64_t off, uint64_t len, bool arrived)
{
    for (struct drbd_link *l = pd->rs_reqs.next; l != &pd->rs_reqs; l = l->next) {
        struct rs_req *q = dl_entry(l, struct rs_req, link);
        if (q->off == off && q->len == len && q->arrived == arrived)
            return q;
    }
    return NULL;
}

static void rs_req_forget(struct drbd_peer_dev *pd, struct rs_req *q)
{
    if (q->arrived)
        pd->rs.landing--;
    dl_del(&q->link);
    umc_free(pd->c->res->node, q);
}

/* The answer for [off, len) arrived; false if nothing asked for it.  A stale
 * answer is forgotten at once, any other when its write has landed. */
static bool rs_req_arrived(struct drbd_peer_dev *pd, uint64_t off, uint64_t len, bool *stale)
{
    struct rs_req *q = rs_req_find(pd, off, len, false);
    if (!q)
        return false;
    pd->rs.inflight -= len;
    pd->rs.inflight_reqs--;
    *stale = q->stale;
    q->arrived = true;
    pd->rs.landing++;
    if (*stale)
        rs_req_forget(pd, q);
    return true;
}

/* false: the source marked the blocks again while they landed (the answer
 * is older than a write we did not get): their bits stay */
static bool rs_req_landed(struct drbd_peer_dev *pd, uint64_t off, uint64_t len)
{
    struct rs_req *q = rs_req_find(pd, off, len, true);
    bool current = !q || !q->stale;
    if (q)
        rs_req_forget(pd, q);
    return current;
}

/* The answers for [off, off+len) that are landing (landing) or still on
 * their way (!landing) are older than what came now. */
static void answers_stale(struct drbd_peer_dev *pd, uint64_t off, uint64_t len, bool landing)
{
    if (!pd->rs_reqs.next)
        return;
    for (struct drbd_link *l = pd->rs_reqs.next; l != &pd->rs_reqs; l = l->next) {
        struct rs_req *q = dl_entry(l, struct rs_req, link);
        if (q->arrived == landing && q->off < off + len && off < q->off + q->len)
            q->stale = true;
    }
}

static bool pd_is_target(const struct drbd_peer_dev *pd)
{
    return pd->repl == DRBD_R_SYNC_TARGET || pd->repl == DRBD_R_PAUSED_SYNC_T;
}

/* An app write reaches a resync target: answers in flight for it are stale,
 * and the blocks it covers whole are current here; fetching them from the
 * source later could bring back older data (a source that is not the
 * primary may not have this write yet). */
void drbd_rs_note_app_write(struct drbd_volume *v, uint64_t off, uint64_t len)
{
    struct drbd_resource *r = v->res;
    uint64_t first = (off + DRBD_BLOCK - 1) / DRBD_BLOCK, end = (off + len) / DRBD_BLOCK;
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_peer_dev *pd = &r->conns[i]->pds[v->idx];
        struct drbd_bitmap *bm = pd_bitmap(pd);
        if (bm && end > first && pd_is_target(pd))
            drbd_bm_clear_range(bm, first, end - 1);
        /* (one already landing was queued before this write: it lands first) */
        answers_stale(pd, off, len, false);
    }
}

/* An answer from one source lands: the other resyncs this volume is a target
 * of (one waits for this one) may hold other data there.  Their answers on
 * the way are stale, and the blocks are to fetch again should one of them
 * run after all (this source went away). */
static void note_answer_lands(struct drbd_peer_dev *from, uint64_t off, uint64_t len)
{
    struct drbd_resource *r = from->v->res;
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_peer_dev *pd = &r->conns[i]->pds[from->v->idx];
        struct drbd_bitmap *bm = pd_bitmap(pd);
        if (pd == from || !pd_is_target(pd))
            continue;
        if (bm)
            drbd_bm_set_range(bm, off / DRBD_BLOCK, (off + len - 1) / DRBD_BLOCK);
        answers_stale(pd, off, len, false);
    }
}

static void digests_of(enum drbd_alg alg, const unsigned char *data, size_t nblk, unsigned char *out)
{
    size_t ds = drbd_digest_size(alg);
    for (size_t b = 0; b < nblk; b++)
        drbd_digest(alg, data + b * DRBD_BLOCK, DRBD_BLOCK, out + b * ds);
}

static void csum_prep_done(struct drbd_lio *lio)
{
    struct drbd_peer_req *pr = lio->ctx;
    struct drbd_peer_dev *pd = pr->pd;
    struct drbd_volume *v = pd->v;
    bool current;
    int status = drbd_peer_read_end(lio, &current);
    if (current) {
        enum drbd_alg alg = pd->c->net.csums_alg;
        size_t ds = drbd_digest_size(alg), nblk = (size_t)(pr->len / DRBD_BLOCK);
        const size_t h = DRBD_DAGTAG_LEN + RANGE_LEN;
        unsigned char *p = umc_alloc(v->res->node, h + nblk * ds);
        drbd_rs_dagtag_put(pd, p);
        put_range(p + DRBD_DAGTAG_LEN, pr->off, pr->len);
        if (status)
            memset(p + h, 0, nblk * ds); /* unreadable here: let the source send the data */
        else
            digests_of(alg, pr->buf, nblk, p + h);
        drbd_send(pd->c, P_RS_CSUM_REQUEST, v->vnr, p, h + nblk * ds, false);
        umc_free(v->res->node, p);
    }
    drbd_peer_req_free(pr);
}

static void rs_request(struct drbd_peer_dev *pd, uint64_t off, uint64_t len)
{
    rs_req_track(pd, off, len);
    if (pd->c->net.csums_alg != ALG_NONE && pd->v->backing_open) {
        struct drbd_peer_req *pr = drbd_peer_req_new(pd, PR_CSUM_PREP, 0, off, len);
        drbd_peer_read(pr, csum_prep_done);
        return;
    }
    unsigned char p[DRBD_DAGTAG_LEN + RANGE_LEN];
    drbd_rs_dagtag_put(pd, p);
    put_range(p + DRBD_DAGTAG_LEN, off, len);
    drbd_send(pd->c, P_RS_REQUEST, pd->v->vnr, p, sizeof(p), false);
}

/* Issue requests for runs of set bits from the cursor while budget and window allow. */
static void rs_issue(struct drbd_peer_dev *pd)
{
    struct drbd_bitmap *bm = pd_bitmap(pd);
    if (!bm)
        return;
    while (pd->rs.credit > 0 && pd->rs.inflight < RS_INFLIGHT_MAX && pd->c->sock) {
        uint64_t bit = drbd_bm_find_next(bm, pd->rs.cursor);
        if (bit >= bm->nbits) {
            /* wrap: bits left behind by stale answers get another pass */
            if (pd->rs.inflight || pd->rs.landing || !bm->set || !pd->rs.cursor)
                return;
            pd->rs.cursor = 0;
            continue;
        }
        uint64_t max_bits = DRBD_RS_MAX_REQ / DRBD_BLOCK;
        if (pd->rs.credit < (int64_t)DRBD_RS_MAX_REQ)
            max_bits = (uint64_t)(pd->rs.credit + DRBD_BLOCK - 1) / DRBD_BLOCK;
        uint64_t end = drbd_bm_find_next_zero(bm, bit);
        if (end - bit > max_bits)
            end = bit + max_bits;
        /* do not ask twice for what is already on its way */
        bool busy = false;
        for (struct drbd_link *l = pd->rs_reqs.next; l != &pd->rs_reqs; l = l->next) {
            struct rs_req *q = dl_entry(l, struct rs_req, link);
            busy |= q->off < end * DRBD_BLOCK && bit * DRBD_BLOCK < q->off + q->len;
        }
        pd->rs.cursor = end;
        if (!busy)
            rs_request(pd, bit * DRBD_BLOCK, (end - bit) * DRBD_BLOCK);
    }
}

/* ---- verify requests (VerifyS) ------------------------------------------------------------------ */

static void ov_read_done(struct drbd_lio *lio);

static void ov_issue(struct drbd_peer_dev *pd)
{
    uint64_t size = pd->v->layout.data_size;
    while (pd->rs.credit > 0 && pd->rs.inflight < RS_INFLIGHT_MAX && pd->ov_pos < size &&
           pd->c->sock) {
        uint64_t len = size - pd->ov_pos < DRBD_RS_MAX_REQ ? size - pd->ov_pos : DRBD_RS_MAX_REQ;
        if (pd->rs.credit < (int64_t)len)
            len = ((uint64_t)pd->rs.credit + DRBD_BLOCK - 1) / DRBD_BLOCK * DRBD_BLOCK;
        struct drbd_peer_req *pr = drbd_peer_req_new(pd, PR_OV_READ_S, 0, pd->ov_pos, len);
        pd->ov_pos += len;
        pd->rs.inflight += len;
        pd->rs.credit -= (int64_t)len;
        drbd_peer_read(pr, ov_read_done);
    }
    if (pd->ov_pos >= size && !pd->rs.inflight && pd->repl == DRBD_R_VERIFY_S) {
        drbd_send(pd->c, P_OV_DONE, pd->v->vnr, NULL, 0, false);
        drbd_rx_ov_done(pd);
    }
}

/* A new slot: what may be requested until the next tick. */
static void grant_slot(struct drbd_peer_dev *pd)
{
    int64_t budget = slot_budget(pd);
    pd->rs.started = true;
    if (budget == INT64_MAX)
        pd->rs.credit = INT64_MAX / 2;
    else
        pd->rs.credit = (pd->rs.credit > 0 ? 0 : pd->rs.credit) + budget;
}

void drbd_resync_kick(struct drbd_peer_dev *pd)
{
    follow_pause(pd);
    /* a resync or verify starts at once, not at the next tick */
    if (!pd->rs.started && (pd->repl == DRBD_R_SYNC_TARGET || pd->repl == DRBD_R_VERIFY_S))
        grant_slot(pd);
    if (pd->repl == DRBD_R_SYNC_TARGET)
        rs_issue(pd);
    else if (pd->repl == DRBD_R_VERIFY_S)
        ov_issue(pd);
    drbd_resync_check_done(pd);
}

void drbd_resync_tick(struct drbd_peer_dev *pd)
{
    if (pd->repl != DRBD_R_SYNC_TARGET && pd->repl != DRBD_R_VERIFY_S) {
        follow_pause(pd);
        return;
    }
    grant_slot(pd);
    drbd_resync_kick(pd);
}

void drbd_resync_check_done(struct drbd_peer_dev *pd)
{
    struct drbd_bitmap *bm = pd_bitmap(pd);
    if (pd->repl != DRBD_R_SYNC_TARGET && pd->repl != DRBD_R_PAUSED_SYNC_T)
        return;
    if (pd->rs_done_sent || pd->rs.inflight || pd->rs.landing || (bm && bm->set))
        return;
    pd->rs_done_sent = true;
    drbd_send_rs_done(pd, false);
}

/* ---- blocks that go out of sync while a resync runs ----------------------------------------- */

static bool source_side(const struct drbd_peer_dev *pd)
{
    return pd->repl == DRBD_R_WF_BITMAP_S || pd->repl == DRBD_R_SYNC_SOURCE ||
           pd->repl == DRBD_R_PAUSED_SYNC_S;
}

static bool target_side(const struct drbd_peer_dev *pd)
{
    return pd->repl == DRBD_R_WF_BITMAP_T || pd->repl == DRBD_R_WF_SYNC_UUID ||
           pd->repl == DRBD_R_SYNC_TARGET || pd->repl == DRBD_R_PAUSED_SYNC_T;
}

void drbd_send_out_of_sync(struct drbd_peer_dev *pd, uint64_t off, uint64_t len)
{
    if (!pd->c->sock || !len)
        return;
    send_range(pd, P_OUT_OF_SYNC, off, len, false);
    /* (counted: the target's P_RS_DONE says how many it had taken) */
    if (source_side(pd))
        pd->rs_oos_sent++;
}

/* A write the target does not get, marked after our bitmap went out: the
 * target fetches it in this resync, or it would call itself UpToDate
 * without it (a later resync would come too late for a reader meanwhile). */
void drbd_rs_send_new_bits(struct drbd_peer_dev *pd, uint64_t off, uint64_t len)
{
    if (source_side(pd) && pd->bm_sent)
        drbd_send_out_of_sync(pd, off, len);
}

void drbd_rx_out_of_sync(struct drbd_peer_dev *pd, uint64_t off, uint32_t len)
{
    struct drbd_bitmap *bm = pd_bitmap(pd);
    if (bm)
        drbd_bm_set_range(bm, off / DRBD_BLOCK, (off + len - 1) / DRBD_BLOCK);
    if (!target_side(pd))
        return;
    /* (an answer landing now was sent before this: it is older; one on its
     * way was sent after, once the source had the write) */
    answers_stale(pd, off, len, true);
    pd->rs_oos_seen++;
    pd->rs_done_sent = false;
    if (pd->repl == DRBD_R_SYNC_TARGET)
        drbd_resync_kick(pd);
}

/* A P_RS_DONE sent before the target took all our P_OUT_OF_SYNC is stale:
 * another follows once it has fetched those blocks too. */
int drbd_rx_rs_done(struct drbd_peer_dev *pd, bool by_other, uint32_t oos_seen)
{
    if (source_side(pd) && oos_seen > pd->rs_oos_sent)
        return -EPROTO; /* more than we sent */
    if (source_side(pd) && oos_seen < pd->rs_oos_sent)
        return 0;
    if (by_other)
        pd->rs_new_bits = false;
    drbd_sync_finish_source(pd);
    return 0;
}

void drbd_send_rs_done(struct drbd_peer_dev *pd, bool by_other)
{
    unsigned char p[5];
    p[0] = by_other ? 1 : 0;
    drbd_put_be32(p + 1, pd->rs_oos_seen);
    drbd_send(pd->c, P_RS_DONE, pd->v->vnr, p, sizeof(p), false);
}

/* ---- what the source misses while we are its target ------------------------------------------ */

/* A write of a primary the source did not get, applied here while we are its
 * target: our bitmap for it says what we fetch (setting the bit there would
 * fetch the older copy over this one), so the block is kept apart. */
void drbd_rs_note_owed(struct drbd_peer_dev *pd, uint64_t off, uint64_t len)
{
    struct drbd_bitmap *bm = pd_bitmap(pd);
    if (!bm || !len)
        return;
    if (!pd->owed)
        pd->owed = drbd_bm_new(pd->c->res->node, bm->nbits);
    drbd_bm_set_range(pd->owed, off / DRBD_BLOCK, (off + len - 1) / DRBD_BLOCK);
}

/* The resync ended or broke off: the owed blocks join our bitmap for the
 * source (we resync them to it, or the next handshake does). */
void drbd_rs_owed_merge(struct drbd_peer_dev *pd)
{
    struct drbd_bitmap *bm = pd_bitmap(pd), *owed = pd->owed;
    if (!owed)
        return;
    pd->owed = NULL;
    if (bm && owed->set) {
        drbd_bm_or_words(bm, 0, owed->words, owed->nwords);
        pd->rc_source = true;
    }
    drbd_bm_free(pd->c->res->node, owed);
}

/* ---- the source answers ------------------------------------------------------------------------ */

static void rs_read_done(struct drbd_lio *lio)
{
    struct drbd_peer_req *pr = lio->ctx;
    struct drbd_peer_dev *pd = pr->pd;
    struct drbd_volume *v = pd->v;
    bool current;
    int status = drbd_peer_read_end(lio, &current);
    if (current && !status && !drbd_range_current(v, pr->off, pr->len)) {
        /* we are a resync target ourselves now and lack these blocks: an
         * answer without data, the target keeps its bits for a later pass */
        send_range(pd, P_RS_DATA, pr->off, pr->len, false);
    } else if (current && !status) {
        if (pr->kind == PR_CSUM_READ) {
            enum drbd_alg alg = pd->c->net.csums_alg;
            size_t ds = drbd_digest_size(alg), nblk = (size_t)(pr->len / DRBD_BLOCK);
            size_t mlen = (nblk + 7) / 8, w = 0;
            unsigned char *p = umc_alloc(v->res->node, RANGE_LEN + mlen);
            memset(p + RANGE_LEN, 0, mlen);
            for (size_t b = 0; b < nblk; b++) {
                unsigned char dg[32];
                drbd_digest(alg, pr->buf + b * DRBD_BLOCK, DRBD_BLOCK, dg);
                if (memcmp(dg, pr->digests + b * ds, ds) == 0) {
                    pd->rs_same_csum++;
                    continue;
                }
                p[RANGE_LEN + b / 8] |= (unsigned char)(1u << (b % 8));
                memmove(pr->buf + w * DRBD_BLOCK, pr->buf + b * DRBD_BLOCK, DRBD_BLOCK);
                w++;
            }
            put_range(p, pr->off, pr->len);
            struct iovec iov = {.iov_base = pr->buf, .iov_len = w * DRBD_BLOCK};
            drbd_send_data(pd->c, P_RS_CSUM_REPLY, v->vnr, p, RANGE_LEN + mlen, &iov, 1, w * DRBD_BLOCK,
                           NULL, pr->buf, pr->buf_len);
            umc_free(v->res->node, p);
        } else {
            unsigned char p[RANGE_LEN];
            put_range(p, pr->off, pr->len);
            struct iovec iov = {.iov_base = pr->buf, .iov_len = (size_t)pr->len};
            drbd_send_data(pd->c, P_RS_DATA, v->vnr, p, sizeof(p), &iov, 1, pr->len, NULL, pr->buf,
                           pr->buf_len);
        }
        pd->sent_bytes += pr->len;
        pr->buf = NULL; /* the send queue owns it */
        struct rs_sent *e = umc_alloc(v->res->node, sizeof(*e));
        *e = (struct rs_sent){.off = pr->off, .len = pr->len};
        dl_add_tail(&pd->rs_sent, &e->link);
    }
    drbd_ival_done(v, &pr->ival);
    drbd_peer_req_free(pr);
}

static void rs_read_start(struct drbd_ival *iv)
{
    struct drbd_peer_req *pr = dl_entry(iv, struct drbd_peer_req, ival);
    drbd_peer_read(pr, rs_read_done);
}

void drbd_rx_rs_request(struct drbd_peer_dev *pd, unsigned type, struct drbd_rbuf *r)
{
    const unsigned char *dagtag = drbd_get_bytes(r, DRBD_DAGTAG_LEN);
    uint64_t off = drbd_get_u64(r);
    uint32_t len = drbd_get_u32(r);
    struct drbd_volume *v = pd->v;
    size_t ds = drbd_digest_size(pd->c->net.csums_alg);
    size_t nblk = len / DRBD_BLOCK;
    if (r->bad || (dagtag[0] >= DRBD_MAX_NODES && dagtag[0] != 0xff) || !len ||
        len > DRBD_RS_MAX_REQ || off % DRBD_BLOCK || len % DRBD_BLOCK ||
        !v->have_md || off > v->layout.data_size || len > v->layout.data_size - off ||
        (pd->repl != DRBD_R_SYNC_SOURCE && pd->repl != DRBD_R_PAUSED_SYNC_S) ||
        (type == P_RS_CSUM_REQUEST && (!ds || r->len - r->pos != nblk * ds)) ||
        (type == P_RS_REQUEST && r->pos != r->len)) {
        r->bad = true;
        return;
    }
    struct drbd_peer_req *pr = drbd_peer_req_new(pd, type == P_RS_REQUEST ? PR_RS_READ : PR_CSUM_READ,
                                                 0, off, len);
    if (type == P_RS_CSUM_REQUEST) {
        pr->digests = umc_alloc(v->res->node, nblk * ds);
        memcpy(pr->digests, drbd_get_bytes(r, nblk * ds), nblk * ds);
    }
    /* a resync read waits for overlapping writes in flight, and they for it */
    pr->ival = (struct drbd_ival){.off = off, .len = len, .kind = IVAL_RS_READ,
                                  .start = rs_read_start};
    memcpy(pr->dagtag, dagtag, DRBD_DAGTAG_LEN);
    /* and for the target's own writes that came before it on this stream
     * but still wait behind an epoch barrier: read before them, the answer
     * would carry older data than the target already wrote */
    if (!drbd_rx_queue_behind_writes(pd->c, pr))
        drbd_rs_read_admit(pr);
}

_Static_assert(sizeof(((struct drbd_peer_req *)0)->dagtag) == DRBD_DAGTAG_LEN, "dagtag size");

/* Not before we have what the target got from the primary (drbd_peers.c). */
void drbd_rs_read_admit(struct drbd_peer_req *pr)
{
    if (!drbd_rs_dagtag_wait(pr->pd, pr, pr->dagtag))
        drbd_ival_submit(pr->pd->v, &pr->ival);
}

void drbd_rx_rs_write_ack(struct drbd_peer_dev *pd, uint64_t off, uint64_t len)
{
    struct drbd_bitmap *bm = pd_bitmap(pd);
    bool overtaken = false;
    for (struct drbd_link *l = pd->rs_sent.next; l != &pd->rs_sent; l = l->next) {
        struct rs_sent *e = dl_entry(l, struct rs_sent, link);
        if (e->off == off && e->len == len) {
            overtaken = e->overtaken;
            dl_del(&e->link);
            umc_free(pd->c->res->node, e);
            break;
        }
    }
    /* (an overtaken answer leaves its bits for the next resync) */
    if (bm && !overtaken)
        drbd_bm_clear_range(bm, off / DRBD_BLOCK, (off + len - 1) / DRBD_BLOCK);
    pd->rs_done += len;
}


/* ---- the target writes what came ---------------------------------------------------------------- */

struct csum_apply {
    struct drbd_peer_dev *pd;
    uint64_t gen, off, len;
    int pending, status;
};

static void rs_landed(struct drbd_peer_dev *pd, uint64_t gen, uint64_t off, uint64_t len, int status)
{
    if (gen != pd->c->gen || !pd->c->sock)
        return;
    bool current = rs_req_landed(pd, off, len);
    struct drbd_bitmap *bm = pd_bitmap(pd);
    if (!status) {
        if (bm && current)
            drbd_bm_clear_range(bm, off / DRBD_BLOCK, (off + len - 1) / DRBD_BLOCK);
        send_range(pd, P_RS_WRITE_ACK, off, len, true);
        pd->rs_done += len;
    }
    pd->rs.received_slot += len;
    drbd_resync_kick(pd);
}

static void rs_write_done(struct drbd_peer_req *pr)
{
    struct drbd_peer_dev *pd = pr->pd;
    uint64_t gen = pr->gen, off = pr->off, len = pr->len;
    int status = pr->status;
    drbd_peer_req_free(pr);
    rs_landed(pd, gen, off, len, status);
}

static void csum_piece_done(struct drbd_peer_req *pr)
{
    struct csum_apply *ca = pr->ctx;
    if (pr->status)
        ca->status = pr->status;
    drbd_peer_req_free(pr);
    if (--ca->pending)
        return;
    struct drbd_peer_dev *pd = ca->pd;
    uint64_t gen = ca->gen, off = ca->off, len = ca->len;
    int status = ca->status;
    umc_free(pd->c->res->node, ca);
    rs_landed(pd, gen, off, len, status);
}

/* Only the blocks whose digests differed came: write each run of them. */
static int apply_csum_reply(struct drbd_peer_dev *pd, uint64_t off, uint32_t len,
                            const unsigned char *mask, size_t mlen, unsigned char *data, size_t dlen)
{
    struct umc_node *n = pd->c->res->node;
    size_t nblk = len / DRBD_BLOCK, ndiff = 0;
    for (size_t b = 0; b < nblk; b++)
        ndiff += (mask[b / 8] >> (b % 8)) & 1;
    if (mlen != (nblk + 7) / 8 || dlen != ndiff * DRBD_BLOCK)
        return -EPROTO;
    struct csum_apply *ca = umc_alloc(n, sizeof(*ca));
    *ca = (struct csum_apply){.pd = pd, .gen = pd->c->gen, .off = off, .len = len, .pending = 1};
    size_t w = 0;
    for (size_t b = 0; b < nblk;) {
        if (!((mask[b / 8] >> (b % 8)) & 1)) {
            b++;
            continue;
        }
        size_t e = b;
        while (e < nblk && ((mask[e / 8] >> (e % 8)) & 1))
            e++;
        struct drbd_peer_req *pr = drbd_peer_req_new(pd, PR_RS_WRITE, 0, off + b * DRBD_BLOCK,
                                                     (e - b) * DRBD_BLOCK);
        pr->buf_len = (e - b) * DRBD_BLOCK;
        pr->buf = drbd_buf_get(pd->c->res->d, pr->buf_len);
        memcpy(pr->buf, data + w * DRBD_BLOCK, (e - b) * DRBD_BLOCK);
        pr->data = pr->buf;
        pr->ctx = ca;
        pr->done = csum_piece_done;
        ca->pending++;
        w += e - b;
        drbd_peer_write(pr);
        b = e;
    }
    pd->rs_same_csum += nblk - ndiff;
    if (--ca->pending == 0) {
        umc_free(n, ca);
        rs_landed(pd, pd->c->gen, off, len, 0);
    }
    return 0;
}

int drbd_rx_rs_data(struct drbd_peer_dev *pd, unsigned type, struct drbd_rbuf *r,
                    unsigned char *payload, uint32_t plen)
{
    uint64_t off = drbd_get_u64(r);
    uint32_t len = drbd_get_u32(r);
    bool stale = false;
    if (r->bad || (pd->repl != DRBD_R_SYNC_TARGET && pd->repl != DRBD_R_PAUSED_SYNC_T) ||
        !rs_req_arrived(pd, off, len, &stale))
        return -EPROTO;
    size_t mlen = type == P_RS_CSUM_REPLY ? (len / DRBD_BLOCK + 7) / 8 : 0;
    if (plen < RANGE_LEN + mlen || (type == P_RS_DATA && plen - RANGE_LEN != len)) {
        if (!stale)
            rs_req_landed(pd, off, len); /* nothing to write: its bits stay for another pass */
        drbd_buf_put(pd->c->res->d, payload, plen);
        return 0;
    }
    pd->recv_bytes += plen - RANGE_LEN - mlen;
    if (stale) {
        /* an app write overlapped: the bits stay, a later pass fetches it again */
        drbd_buf_put(pd->c->res->d, payload, plen);
        pd->rs.received_slot += len;
        drbd_resync_kick(pd);
        return 0;
    }
    note_answer_lands(pd, off, len);
    if (type == P_RS_CSUM_REPLY) {
        int rc = apply_csum_reply(pd, off, len, payload + RANGE_LEN, mlen, payload + RANGE_LEN + mlen,
                                  plen - RANGE_LEN - mlen);
        drbd_buf_put(pd->c->res->d, payload, plen);
        return rc;
    }
    struct drbd_peer_req *pr = drbd_peer_req_new(pd, PR_RS_WRITE, 0, off, len);
    pr->buf = payload;
    pr->buf_len = plen;
    pr->data = payload + RANGE_LEN;
    pr->done = rs_write_done;
    drbd_peer_write(pr);
    return 0;
}

/* ---- online verify ------------------------------------------------------------------------------ */

static void ov_stats_start(struct drbd_peer_dev *pd, uint64_t start)
{
    pd->ov_start = start / DRBD_BLOCK * DRBD_BLOCK;
    pd->ov_pos = pd->ov_start;
    pd->ov_left = (pd->v->layout.data_size - pd->ov_start) / DRBD_BLOCK;
    pd->ov_found = 0;
    pd->rs_total = pd->v->layout.data_size - pd->ov_start;
    pd->rs_done = 0;
    pd->rs_start = umc_now(pd->c->res->node);
    pd->rs_paused_total = 0;
    memset(&pd->rs, 0, sizeof(pd->rs));
}

int drbd_verify_start(struct drbd_peer_dev *pd, uint64_t start, char *msg, size_t msglen)
{
    if (pd->c->net.verify_alg == ALG_NONE) {
        snprintf(msg, msglen, "State change failed: (-14) Need a verify algorithm to start online "
                 "verify");
        return -EINVAL;
    }
    if (pd->repl != DRBD_R_ESTABLISHED || !drbd_conn_established(pd->c)) {
        snprintf(msg, msglen, pd->repl > DRBD_R_ESTABLISHED
                                  ? "State change failed: (-8) Can not start OV/resync since it is "
                                    "already active"
                                  : "State change failed: (-15) Need a connection to start verify "
                                    "or resync");
        return -EBUSY;
    }
    if (!pd->v->have_md || pd->peer_disk < DRBD_D_INCONSISTENT) {
        snprintf(msg, msglen, "State change failed: (-11) Device is diskless, the requested "
                 "operation requires a disk");
        return -ENODEV;
    }
    ov_stats_start(pd, start);
    unsigned char p[8];
    drbd_put_be64(p, pd->ov_start);
    drbd_send(pd->c, P_OV_START, pd->v->vnr, p, sizeof(p), false);
    drbd_set_repl(pd, DRBD_R_VERIFY_S);
    umc_info(pd->c->res->node, DRBD_COMP, "%s %s: Online Verify start sector: %llu", pd->v->name,
             pd->c->name, (unsigned long long)(pd->ov_start / UMC_SECTOR));
    return 0;
}

void drbd_rx_ov_start(struct drbd_peer_dev *pd, uint64_t start)
{
    if (pd->repl != DRBD_R_ESTABLISHED || !pd->v->have_md ||
        pd->c->net.verify_alg == ALG_NONE) {
        drbd_conn_drop(pd->c, DRBD_C_PROTOCOL_ERROR, "online verify requested in the wrong state");
        return;
    }
    ov_stats_start(pd, start);
    drbd_set_repl(pd, DRBD_R_VERIFY_T);
}

static void ov_read_done(struct drbd_lio *lio)
{
    struct drbd_peer_req *pr = lio->ctx;
    struct drbd_peer_dev *pd = pr->pd;
    struct drbd_volume *v = pd->v;
    bool current;
    int status = drbd_peer_read_end(lio, &current);
    if (current) {
        enum drbd_alg alg = pd->c->net.verify_alg;
        size_t ds = drbd_digest_size(alg), nblk = (size_t)(pr->len / DRBD_BLOCK);
        if (pr->kind == PR_OV_READ_S) {
            unsigned char *p = umc_alloc(v->res->node, RANGE_LEN + nblk * ds);
            put_range(p, pr->off, pr->len);
            if (status)
                memset(p + RANGE_LEN, 0, nblk * ds);
            else
                digests_of(alg, pr->buf, nblk, p + RANGE_LEN);
            drbd_send(pd->c, P_OV_REQUEST, v->vnr, p, RANGE_LEN + nblk * ds, false);
            umc_free(v->res->node, p);
        } else {
            size_t mlen = (nblk + 7) / 8;
            unsigned char p[RANGE_LEN + DRBD_RS_MAX_REQ / DRBD_BLOCK / 8];
            memset(p, 0, sizeof(p));
            unsigned char dg[32];
            uint64_t found = 0;
            for (size_t b = 0; b < nblk; b++) {
                if (!status)
                    drbd_digest(alg, pr->buf + b * DRBD_BLOCK, DRBD_BLOCK, dg);
                if (status || memcmp(dg, pr->digests + b * ds, ds)) {
                    p[RANGE_LEN + b / 8] |= (unsigned char)(1u << (b % 8));
                    drbd_bm_set_range(drbd_pd_bm(pd), pr->off / DRBD_BLOCK + b, pr->off / DRBD_BLOCK + b);
                    pd->ov_marked = true;
                    found++;
                }
            }
            pd->ov_found += found;
            pd->rs_done += pr->len;
            put_range(p, pr->off, pr->len);
            drbd_send(pd->c, P_OV_REPLY, v->vnr, p, RANGE_LEN + mlen, false);
        }
    }
    drbd_peer_req_free(pr);
}

void drbd_rx_ov_request(struct drbd_peer_dev *pd, struct drbd_rbuf *r)
{
    uint64_t off = drbd_get_u64(r);
    uint32_t len = drbd_get_u32(r);
    size_t ds = drbd_digest_size(pd->c->net.verify_alg), nblk = len / DRBD_BLOCK;
    struct drbd_volume *v = pd->v;
    if (r->bad || pd->repl != DRBD_R_VERIFY_T || !len || len > DRBD_RS_MAX_REQ ||
        off % DRBD_BLOCK || len % DRBD_BLOCK || off > v->layout.data_size ||
        len > v->layout.data_size - off || r->len - r->pos != nblk * ds) {
        r->bad = true;
        return;
    }
    struct drbd_peer_req *pr = drbd_peer_req_new(pd, PR_OV_READ_T, 0, off, len);
    pr->digests = umc_alloc(v->res->node, nblk * ds);
    memcpy(pr->digests, drbd_get_bytes(r, nblk * ds), nblk * ds);
    drbd_peer_read(pr, ov_read_done);
}

int drbd_rx_ov_reply(struct drbd_peer_dev *pd, struct drbd_rbuf *r)
{
    uint64_t off = drbd_get_u64(r);
    uint32_t len = drbd_get_u32(r);
    size_t nblk = len / DRBD_BLOCK, mlen = (nblk + 7) / 8;
    if (r->bad || pd->repl != DRBD_R_VERIFY_S || !len || len % DRBD_BLOCK ||
        len > pd->rs.inflight || r->len - r->pos != mlen)
        return -EPROTO;
    const unsigned char *mask = drbd_get_bytes(r, mlen);
    for (size_t b = 0; b < nblk; b++)
        if ((mask[b / 8] >> (b % 8)) & 1) {
            pd->ov_marked = true;
            drbd_bm_set_range(drbd_pd_bm(pd), off / DRBD_BLOCK + b, off / DRBD_BLOCK + b);
            pd->ov_found++;
        }
    pd->rs.inflight -= len;
    pd->rs.received_slot += len;
    pd->rs_done += len;
    pd->ov_left = pd->ov_left > nblk ? pd->ov_left - nblk : 0;
    drbd_resync_kick(pd);
    return 0;
}

void drbd_rx_ov_done(struct drbd_peer_dev *pd)
{
    if (pd->repl != DRBD_R_VERIFY_S && pd->repl != DRBD_R_VERIFY_T)
        return;
    struct umc_node *n = pd->c->res->node;
    uint64_t secs = (umc_now(n) - pd->rs_start) / MTE_SEC;
    umc_info(n, DRBD_COMP, "%s %s: Online verify done (total %llu sec; paused 0 sec; %llu K/sec)",
             pd->v->name, pd->c->name, (unsigned long long)secs,
             (unsigned long long)((pd->rs_done >> 10) / (secs ? secs : 1)));
    if (pd->ov_found)
        umc_warn(n, DRBD_COMP, "%s %s: Online verify found %llu 4k blocks out of sync!",
                 pd->v->name, pd->c->name, (unsigned long long)pd->ov_found);
    pd->ov_left = 0;
    drbd_bm_writeback(pd->v, NULL, NULL);
    drbd_set_repl(pd, DRBD_R_ESTABLISHED);
}
