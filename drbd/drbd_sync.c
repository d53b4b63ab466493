/* Starting and finishing a resync: the bitmap exchange (run-length coded; each
 * side ORs the other's bits into its own), the sync UUID the source rotates at
 * the start, the end (the target takes over the source's UUIDs and becomes
 * UpToDate), full syncs asked for by invalidate / invalidate-remote, UUID
 * updates between peers in sync, and what a lost connection ends. */
#include <stdio.h>

#include "drbd/drbd_int.h"

#define BM_CHUNK 65536u

bool drbd_pd_syncing(const struct drbd_peer_dev *pd)
{
    switch (pd->repl) {
    case DRBD_R_SYNC_SOURCE: case DRBD_R_SYNC_TARGET: case DRBD_R_PAUSED_SYNC_S:
    case DRBD_R_PAUSED_SYNC_T: case DRBD_R_WF_BITMAP_S: case DRBD_R_WF_BITMAP_T:
    case DRBD_R_WF_SYNC_UUID: case DRBD_R_STARTING_SYNC_S: case DRBD_R_STARTING_SYNC_T:
        return true;
    default:
        return false;
    }
}

/* ---- the bitmap exchange ------------------------------------------------------------------- */

static void bitmap_exchange_check(struct drbd_peer_dev *pd);

void drbd_bm_send(struct drbd_peer_dev *pd)
{
    struct drbd_bitmap *bm = drbd_pd_bm(pd);
    struct umc_node *n = pd->c->res->node;
    unsigned char *buf = umc_alloc(n, BM_CHUNK + 32);
    uint64_t pos = 0;
    uint64_t nbits = bm ? bm->nbits : 0;
    do {
        uint64_t start = pos;
        size_t len = bm ? drbd_bm_rle_encode(bm, &pos, buf + 17, BM_CHUNK) : 0;
        if (!bm)
            pos = 0;
        drbd_put_be64(buf, start);
        drbd_put_be64(buf + 8, pos - start);
        buf[16] = pos >= nbits;
        drbd_send(pd->c, P_BITMAP, pd->v->vnr, buf, 17 + len, false);
    } while (pos < nbits);
    umc_free(n, buf);
    pd->bm_sent = true;
    bitmap_exchange_check(pd);
}

int drbd_rx_bitmap(struct drbd_peer_dev *pd, const unsigned char *p, uint32_t len)
{
    struct drbd_bitmap *bm = drbd_pd_bm(pd);
    if (len < 17 || pd->bm_received || !bm ||
        (pd->repl != DRBD_R_WF_BITMAP_S && pd->repl != DRBD_R_WF_BITMAP_T))
        return -EPROTO;
    uint64_t start = drbd_get_be64(p), nbits = drbd_get_be64(p + 8);
    bool last = p[16] != 0;
    if (start != pd->bm_rx_pos || p[16] > 1)
        return -EPROTO;
    if (drbd_bm_rle_decode(bm, start, nbits, p + 17, len - 17))
        return -EPROTO;
    pd->bm_rx_pos = start + nbits;
    if (!last)
        return 0;
    if (pd->bm_rx_pos != bm->nbits)
        return -EPROTO;
    pd->bm_received = true;
    bitmap_exchange_check(pd);
    return 0;
}

static void rs_stats_start(struct drbd_peer_dev *pd)
{
    struct drbd_bitmap *bm = drbd_pd_bm(pd);
    pd->rs_total = bm ? bm->set * DRBD_BLOCK : 0;
    pd->rs_done = 0;
    pd->rs_same_csum = 0;
    pd->rs_start = umc_now(pd->c->res->node);
    pd->rs_paused_total = 0;
    drbd_rs_ctl_reset(pd);
}

static void bitmap_exchange_check(struct drbd_peer_dev *pd)
{
    if (!pd->bm_sent || !pd->bm_received)
        return;
    struct drbd_volume *v = pd->v;
    struct drbd_resource *r = v->res;
    if (pd->repl == DRBD_R_WF_BITMAP_T) {
        drbd_set_repl(pd, DRBD_R_WF_SYNC_UUID);
        return;
    }
    if (pd->repl != DRBD_R_WF_BITMAP_S)
        return;
    /* the source marks this sync with a new bitmap UUID the target takes as its
     * current; not a resync between peers of one data generation (0: the
     * target keeps its UUIDs until the end, so the primary still knows it) */
    int id = pd->c->peer_id;
    uint64_t uuid = 0;
    if (!pd->keep_uuids) {
        uuid = v->md.bitmap_uuid[id];
        if (uuid && uuid != UUID_JUST_CREATED)
            uuid += UUID_NEW_BM_OFFSET;
        else
            uuid = drbd_uuid_random(v);
        uuid &= ~UUID_PRIMARY;
        v->md.bitmap_uuid[id] = uuid;
        drbd_md_sync(v, NULL, NULL);
    }
    unsigned char p[8];
    drbd_put_be64(p, uuid);
    drbd_send(pd->c, P_SYNC_UUID, v->vnr, p, sizeof(p), false);
    rs_stats_start(pd);
    bool paused = pd->pause_user || pd->pause_peer;
    drbd_set_repl(pd, paused ? DRBD_R_PAUSED_SYNC_S : DRBD_R_SYNC_SOURCE);
    umc_info(r->node, DRBD_COMP, "%s %s: began resync as SyncSource (will sync %llu KiB [%llu bits "
             "set])", v->name, pd->c->name, (unsigned long long)(pd->rs_total >> 10),
             (unsigned long long)(pd->rs_total / DRBD_BLOCK));
    drbd_resync_check_done(pd);
}

/* This node's data is to be known by a peer's UUID now (a resync from it
 * starts or ends, or it made a new generation we follow).  The UUID it
 * replaces must not vanish: every peer not replicating with us that has no
 * bitmap UUID keeps it as one (what it misses since then is in its bitmap);
 * if none does, it goes into the history.  Else a node that was away meets
 * UUIDs that share nothing with its own and sees a split brain where there is
 * none.  peer_id: the node whose UUID we take (-1: none). */
static void keep_replaced_current(struct drbd_volume *v, int peer_id)
{
    struct drbd_resource *r = v->res;
    uint64_t old = v->md.current_uuid & ~UUID_PRIMARY;
    bool kept = false;
    if (!old || old == UUID_JUST_CREATED)
        return;
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_conn *c = r->conns[i];
        if (c->peer_id == peer_id || drbd_pd_replicating(&c->pds[v->idx]))
            continue;
        if (!v->md.bitmap_uuid[c->peer_id]) {
            v->md.bitmap_uuid[c->peer_id] = old;
            kept = true;
        }
    }
    if (!kept)
        drbd_uuid_push_history(v, old);
}

int drbd_rx_sync_uuid(struct drbd_peer_dev *pd, uint64_t uuid)
{
    struct drbd_volume *v = pd->v;
    if (pd->repl != DRBD_R_WF_SYNC_UUID || !v->have_md)
        return -EPROTO;
    if (uuid) {
        keep_replaced_current(v, pd->c->peer_id);
        v->md.current_uuid = uuid & ~UUID_PRIMARY;
        v->md.bitmap_uuid[pd->c->peer_id] = 0;
        drbd_md_sync(v, NULL, NULL);
    }
    rs_stats_start(pd);
    drbd_rs_choose_active(pd);
    bool paused = pd->pause_user || pd->pause_peer || pd->pause_dep;
    drbd_set_repl(pd, paused ? DRBD_R_PAUSED_SYNC_T : DRBD_R_SYNC_TARGET);
    umc_info(v->res->node, DRBD_COMP, "%s %s: began resync as SyncTarget (will sync %llu KiB [%llu "
             "bits set])", v->name, pd->c->name, (unsigned long long)(pd->rs_total >> 10),
             (unsigned long long)(pd->rs_total / DRBD_BLOCK));
    drbd_resync_kick(pd);
    return 0;
}

/* Our bitmap goes out once the meta-data of this resync's start (a target:
 * Inconsistent) is on disk.  A call for an earlier start, of an earlier
 * session, finds the latest one's meta-data on disk or waits for its own.
 * (No heap reference: a volume torn down drops its meta-data waiters.) */
static void sync_begin_md_written(void *arg, int rc)
{
    struct drbd_peer_dev *pd = arg;
    if (pd->c->sock && pd->v->sb_gen_done >= pd->bm_md_gen && !pd->bm_sent &&
        (pd->repl == DRBD_R_WF_BITMAP_S || pd->repl == DRBD_R_WF_BITMAP_T))
        drbd_bm_send(pd);
}

/* Enter WFBitMapS/T; the target is marked Inconsistent on disk before any
 * resync data can land. */
void drbd_sync_begin(struct drbd_peer_dev *pd, bool source, bool full)
{
    struct drbd_volume *v = pd->v;
    struct drbd_bitmap *bm = drbd_pd_bm(pd);
    /* a target already Inconsistent (an earlier resync did not finish) also
     * lacks what the other bitmaps say: take them all in */
    if (!source && !full && bm && v->disk == DRBD_D_INCONSISTENT)
        for (int i = 0; i < DRBD_MAX_NODES; i++)
            if (v->bm[i] && v->bm[i] != bm && v->bm[i]->set)
                drbd_bm_or_words(bm, 0, v->bm[i]->words, v->bm[i]->nwords);
    pd->full_sync = full;
    pd->keep_uuids = false;
    pd->pause_peer = false; /* the peer says again if it waits for another resync */
    pd->bm_sent = pd->bm_received = false;
    pd->bm_rx_pos = 0;
    pd->rs_done_sent = false;
    pd->rs_oos_sent = pd->rs_oos_seen = 0;
    if (full && bm)
        drbd_bm_set_all(bm);
    if (!source)
        drbd_set_disk(v, DRBD_D_INCONSISTENT);
    drbd_set_repl(pd, source ? DRBD_R_WF_BITMAP_S : DRBD_R_WF_BITMAP_T);
    pd->bm_md_gen = v->sb_gen_wanted + 1;
    drbd_md_sync(v, sync_begin_md_written, pd);
}

/* ---- the end ---------------------------------------------------------------------------------- */

static void resync_done_log(struct drbd_peer_dev *pd)
{
    mte_time_t now = umc_now(pd->c->res->node);
    uint64_t secs = (now - pd->rs_start - pd->rs_paused_total) / MTE_SEC;
    uint64_t rate = secs ? (pd->rs_total >> 10) / secs : (pd->rs_total >> 10);
    umc_info(pd->c->res->node, DRBD_COMP, "%s %s: Resync done (total %llu sec; paused %llu sec; "
             "%llu K/sec)", pd->v->name, pd->c->name, (unsigned long long)secs,
             (unsigned long long)(pd->rs_paused_total / MTE_SEC), (unsigned long long)rate);
}

/* The target has every block: forget the sync's bitmap UUID and tell it our
 * UUIDs, which it takes over. */
void drbd_sync_finish_source(struct drbd_peer_dev *pd)
{
    struct drbd_volume *v = pd->v;
    struct drbd_bitmap *bm = drbd_pd_bm(pd);
    if (pd->repl != DRBD_R_SYNC_SOURCE && pd->repl != DRBD_R_PAUSED_SYNC_S)
        return;
    if (v->disk != DRBD_D_UP_TO_DATE) {
        /* we became a resync target meanwhile: our UUIDs name no data the
         * target could take over; the next handshake decides again */
        drbd_conn_drop(pd->c, DRBD_C_NETWORK_FAILURE,
                       "the resync source is no longer UpToDate itself");
        return;
    }
    resync_done_log(pd);
    /* bits set while we synced (writes of a primary the target does not get,
     * answers such a write overtook) stay for the next resync, at the next
     * tick, whoever is primary by then */
    if (bm && bm->set && !pd->rs_new_bits)
        drbd_bm_clear_all(bm);
    else if (bm && bm->set)
        pd->rc_source = true;
    pd->rs_new_bits = false;
    drbd_uuid_set_bitmap(v, pd->c->peer_id, 0);
    drbd_md_set_flag(v, MDF_CRASHED_PRIMARY, false);
    drbd_bm_writeback(v, NULL, NULL);
    drbd_md_sync(v, NULL, NULL);
    pd->peer_disk = DRBD_D_UP_TO_DATE;
    drbd_set_repl(pd, DRBD_R_ESTABLISHED);
    drbd_send_uuids(pd, UUIDS_FINAL);
    drbd_state_changed(v->res);
}

/* The source's bitmap UUIDs name generations its data descends from (a peer
 * that missed its writes since); ours does now too.  In our history a node
 * still at one of them finds it is behind us (rule 9: a full resync), not a
 * split brain.  Second in the history, where the generations to come push
 * them out last; never first: rule 6 would read one there as a resync we
 * began to that node and trust our bitmap, which lacks the source's bits. */
static void inherit_ancestors(struct drbd_volume *v, const struct drbd_peer_state *src)
{
    uint64_t *h = v->md.history;
    for (int i = 0; i < DRBD_MAX_NODES; i++) {
        uint64_t u = src->bitmap_uuid[i] & ~UUID_PRIMARY;
        bool known = !u || i == v->res->my_id || u == (src->current_uuid & ~UUID_PRIMARY);
        for (int k = 0; k < DRBD_HISTORY && !known; k++)
            known = (h[k] & ~UUID_PRIMARY) == u;
        if (known)
            continue;
        memmove(&h[2], &h[1], (DRBD_HISTORY - 2) * sizeof(*h));
        h[1] = u;
    }
}

static void target_finish(struct drbd_peer_dev *pd, const struct drbd_peer_state *src)
{
    struct drbd_volume *v = pd->v;
    struct drbd_bitmap *bm = drbd_pd_bm(pd);
    resync_done_log(pd);
    uint64_t replaced = v->md.current_uuid;
    memcpy(v->md.history, src->history, sizeof(v->md.history));
    inherit_ancestors(v, src);
    if ((replaced & ~UUID_PRIMARY) != (src->current_uuid & ~UUID_PRIMARY))
        keep_replaced_current(v, pd->c->peer_id);
    v->md.current_uuid = (src->current_uuid & ~UUID_PRIMARY) |
                         (v->res->role == DRBD_ROLE_PRIMARY ? UUID_PRIMARY : 0);
    v->md.bitmap_uuid[pd->c->peer_id] = 0;
    bool was_dependent = pd->pause_dep;
    /* ended by another source of this data generation: what we fetched from
     * that one and what we wrote ourselves may differ from this source, and
     * are newer; the bits stay, we are their source now (the next tick) */
    if (bm && bm->set && !was_dependent)
        drbd_bm_clear_all(bm);
    else if (bm && bm->set)
        pd->rc_source = true;
    drbd_rs_owed_merge(pd);
    drbd_md_set_flag(v, MDF_CRASHED_PRIMARY, false);
    drbd_md_set_flag(v, MDF_LOST_QUORUM, false);
    pd->pause_dep = false;
    drbd_set_repl(pd, DRBD_R_ESTABLISHED);
    struct drbd_peer_dev *next = was_dependent ? NULL : drbd_rs_primary_dependent(pd);
    if (!next && drbd_relayed_from(pd))
        umc_info(v->res->node, DRBD_COMP, "%s %s: its primary does not reach us: Outdated", v->name,
                 pd->c->name);
    if (!next)
        drbd_set_disk(v, drbd_relayed_from(pd) ? DRBD_D_OUTDATED : DRBD_D_UP_TO_DATE);
    drbd_bm_writeback(v, NULL, NULL);
    drbd_md_sync(v, NULL, NULL);
    if (next)
        drbd_rs_resume_dependent(next);
    else if (!was_dependent)
        drbd_rs_dependents(v, true);
}

/* A peer in sync with us made a new current UUID: follow it, keeping the old
 * one as the bitmap UUID of every peer that misses what comes next. */
static void adopt_current(struct drbd_peer_dev *pd, uint64_t uuid)
{
    struct drbd_volume *v = pd->v;
    struct drbd_resource *r = v->res;
    /* (also the source of the peer's resync: its writes reach us all the same,
     * and a UUID that did not follow them would hide our newer data) */
    bool follows = pd->repl == DRBD_R_ESTABLISHED || pd->repl == DRBD_R_SYNC_SOURCE ||
                   pd->repl == DRBD_R_PAUSED_SYNC_S;
    if (!v->have_md || v->disk != DRBD_D_UP_TO_DATE || !follows ||
        (v->md.current_uuid & ~UUID_PRIMARY) == (uuid & ~UUID_PRIMARY))
        return;
    /* the sender has the new data unless it has no disk (a new generation
     * because it lost it): then it misses what comes next too */
    keep_replaced_current(v, pd->peer_disk >= DRBD_D_INCONSISTENT ? pd->c->peer_id : -1);
    v->md.current_uuid = (uuid & ~UUID_PRIMARY) | (r->role == DRBD_ROLE_PRIMARY ? UUID_PRIMARY : 0);
    drbd_md_sync(v, NULL, NULL);
}

void drbd_rx_uuids(struct drbd_peer_dev *pd, struct drbd_rbuf *r)
{
    unsigned kind = drbd_get_u8(r);
    struct drbd_peer_state ps = pd->ps;
    ps.current_uuid = drbd_get_u64(r);
    for (int i = 0; i < DRBD_MAX_NODES; i++)
        ps.bitmap_uuid[i] = drbd_get_u64(r);
    for (int i = 0; i < DRBD_HISTORY; i++)
        ps.history[i] = drbd_get_u64(r);
    if (!drbd_rbuf_done(r) || kind > UUIDS_FINAL) {
        r->bad = true;
        return;
    }
    pd->ps = ps;
    if (!pd->v->have_md && pd->v->res->role == DRBD_ROLE_PRIMARY)
        drbd_exposed_follow_peers(pd->v);
    if (kind == UUIDS_ADOPT)
        adopt_current(pd, ps.current_uuid);
    else if (kind == UUIDS_FINAL && (pd->repl == DRBD_R_SYNC_TARGET || pd->repl == DRBD_R_PAUSED_SYNC_T))
        target_finish(pd, &ps);
}

/* ---- starting a full sync while connected (invalidate, invalidate-remote, forced primary) -------- */

int drbd_start_full_sync(struct drbd_peer_dev *pd, bool as_source, char *msg, size_t msglen)
{
    struct drbd_volume *v = pd->v;
    if (pd->repl != DRBD_R_ESTABLISHED || !drbd_conn_established(pd->c)) {
        bool busy = pd->repl > DRBD_R_ESTABLISHED;
        snprintf(msg, msglen, busy ? "State change failed: (-8) Can not start OV/resync since it is "
                                     "already active"
                                   : "State change failed: (-15) Need a connection to start verify "
                                     "or resync");
        return busy ? -EBUSY : -ENOTCONN;
    }
    if (!v->have_md) {
        snprintf(msg, msglen, "State change failed: (-4) Can not resync without local disk");
        return -ENODEV;
    }
    if (pd->peer_disk < DRBD_D_INCONSISTENT) {
        snprintf(msg, msglen, "State change failed: (-5) Can not resync without remote disk");
        return -ENODEV;
    }
    unsigned char p = as_source;
    drbd_set_repl(pd, as_source ? DRBD_R_STARTING_SYNC_S : DRBD_R_STARTING_SYNC_T);
    drbd_send(pd->c, P_START_SYNC, v->vnr, &p, 1, false);
    drbd_sync_begin(pd, as_source, true);
    return 0;
}

/* A bitmap-based resync between peers of one data generation: bits a lost
 * primary left, bits a primary holds for a connected peer, or a target whose
 * resync lost its source.  Either side may start one; the states settle
 * starts that cross (below). */
static bool bitmap_sync_ok(const struct drbd_peer_dev *pd, bool as_source)
{
    const struct drbd_volume *v = pd->v;
    if (pd->repl != DRBD_R_ESTABLISHED || !drbd_conn_established(pd->c) || !v->have_md)
        return false;
    if (as_source)
        return v->disk == DRBD_D_UP_TO_DATE && pd->peer_disk >= DRBD_D_INCONSISTENT;
    /* as target: from an UpToDate peer when Inconsistent or Outdated, or from a primary */
    return pd->peer_disk == DRBD_D_UP_TO_DATE &&
           (v->disk == DRBD_D_INCONSISTENT || v->disk == DRBD_D_OUTDATED ||
            (pd->c->peer_role == DRBD_ROLE_PRIMARY && v->disk >= DRBD_D_OUTDATED &&
             v->res->role != DRBD_ROLE_PRIMARY));
}

bool drbd_start_bitmap_sync(struct drbd_peer_dev *pd, bool as_source)
{
    struct drbd_volume *v = pd->v;
    if (!bitmap_sync_ok(pd, as_source))
        return false;
    unsigned char p = (as_source ? START_SYNC_PEER_IS_SOURCE : 0) | START_SYNC_BITMAP;
    umc_info(v->res->node, DRBD_COMP, "%s %s: %s", v->name, pd->c->name,
             as_source ? "resyncing the blocks it may miss" : "resyncing from it");
    drbd_set_repl(pd, as_source ? DRBD_R_STARTING_SYNC_S : DRBD_R_STARTING_SYNC_T);
    drbd_send(pd->c, P_START_SYNC, v->vnr, &p, 1, false);
    drbd_sync_begin(pd, as_source, false);
    pd->keep_uuids = true;
    return true;
}

/* Both sides started one at once.  Same direction: nothing to do, the
 * exchange goes on.  Both as source: the higher node id yields (its bitmap
 * may be out already; the peer's cannot have arrived, it follows the peer's
 * START_SYNC on the same stream).  Both as target: the handshake decides. */
static void bitmap_sync_crossed(struct drbd_peer_dev *pd, bool peer_is_source)
{
    struct drbd_resource *r = pd->v->res;
    bool me_source = pd->repl == DRBD_R_STARTING_SYNC_S || pd->repl == DRBD_R_WF_BITMAP_S;
    bool me_target = pd->repl == DRBD_R_STARTING_SYNC_T || pd->repl == DRBD_R_WF_BITMAP_T;
    if (me_target && !peer_is_source) {
        drbd_conn_drop(pd->c, DRBD_C_PROTOCOL_ERROR, "both sides want to be resync target");
        return;
    }
    if (!me_source || !peer_is_source || pd->bm_received || r->my_id < pd->c->peer_id)
        return;
    drbd_set_disk(pd->v, DRBD_D_INCONSISTENT);
    drbd_set_repl(pd, DRBD_R_WF_BITMAP_T);
    drbd_md_sync(pd->v, NULL, NULL);
}

void drbd_rx_start_sync(struct drbd_peer_dev *pd, unsigned flags)
{
    bool peer_is_source = flags & START_SYNC_PEER_IS_SOURCE;
    bool bitmap = flags & START_SYNC_BITMAP;
    if (bitmap && pd->repl != DRBD_R_ESTABLISHED) {
        bitmap_sync_crossed(pd, peer_is_source);
        return;
    }
    if (pd->repl != DRBD_R_ESTABLISHED || !pd->v->have_md ||
        (bitmap && !peer_is_source && pd->v->disk != DRBD_D_UP_TO_DATE)) {
        drbd_conn_drop(pd->c, DRBD_C_PROTOCOL_ERROR, "resync requested in the wrong state");
        return;
    }
    drbd_set_repl(pd, peer_is_source ? DRBD_R_STARTING_SYNC_T : DRBD_R_STARTING_SYNC_S);
    drbd_sync_begin(pd, !peer_is_source, !bitmap);
    pd->keep_uuids = bitmap;
}

/* ---- ending ------------------------------------------------------------------------------------ */

void drbd_sync_abort(struct drbd_peer_dev *pd)
{
    umc_warn(pd->c->res->node, DRBD_COMP, "%s %s: resync aborted", pd->v->name, pd->c->name);
    if (pd->repl == DRBD_R_SYNC_SOURCE || pd->repl == DRBD_R_SYNC_TARGET ||
        pd->repl == DRBD_R_PAUSED_SYNC_S || pd->repl == DRBD_R_PAUSED_SYNC_T) {
        drbd_rs_ctl_reset(pd);
        drbd_set_repl(pd, DRBD_R_ESTABLISHED);
        return;
    }
    drbd_conn_drop(pd->c, DRBD_C_NETWORK_FAILURE, "resync aborted during its start");
}

void drbd_pd_conn_lost(struct drbd_peer_dev *pd)
{
    if (drbd_pd_syncing(pd) && pd->repl != DRBD_R_WF_BITMAP_S && pd->repl != DRBD_R_WF_BITMAP_T)
        umc_info(pd->c->res->node, DRBD_COMP, "%s %s: resync interrupted (%llu KiB left)",
                 pd->v->name, pd->c->name, (unsigned long long)(drbd_pd_oos_bytes(pd) >> 10));
    bool active_target = !pd->pause_dep &&
                         (pd->repl == DRBD_R_SYNC_TARGET || pd->repl == DRBD_R_PAUSED_SYNC_T);
    drbd_rs_ctl_reset(pd);
    pd->decided = pd->got_state = false;
    pd->pause_dep = false;
    pd->ov_left = 0;
    drbd_set_repl(pd, DRBD_R_OFF);
    if (pd->peer_disk != DRBD_D_UNKNOWN) {
        pd->peer_disk = DRBD_D_UNKNOWN;
        drbd_state_changed(pd->c->res);
    }
    if (active_target)
        drbd_rs_dependents(pd->v, false);
}
