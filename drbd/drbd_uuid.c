/* The generation-UUID handshake: which side has the good data, and whether the
 * resync can use the bitmap or must copy everything (rules 1-12 of
 * drbd_uuid_compare in drbd9-semantics.md); split-brain policies; and the
 * decision each connection makes per volume after the state exchange.
 *
 * The node with the lower id decides and tells the other side, so both always
 * agree; each side then checks what the decision asks of it.
 *
 * Results: 0 no sync, 1/2 this side is source (bitmap/full), -1/-2 target,
 * 100 split brain (auto-recoverable), -100 split brain, -1000 unrelated. */
#include <stdio.h>
#include <stdlib.h>

#include "drbd/drbd_int.h"

#define U(x) ((x) & ~UUID_PRIMARY)

static bool in_list(const uint64_t *list, int n, uint64_t u)
{
    for (int i = 0; u && i < n; i++)
        if (U(list[i]) == u)
            return true;
    return false;
}

static bool in_history(const uint64_t *hist, uint64_t u)
{
    for (int i = 0; u && i < DRBD_HISTORY; i++)
        if (U(hist[i]) == u)
            return true;
    return false;
}

/* Rule numbers follow the reference: 1-3 just created, 4 (4x sub-rules) equal
 * current UUIDs, 5-8 bitmap UUIDs, 9 history, 10-11 split brain, 12 unrelated. */
int drbd_uuid_compare(const struct drbd_uuid_side *self, const struct drbd_uuid_side *peer,
                      bool self_lower_id, int *rule)
{
    uint64_t s = U(self->current), p = U(peer->current);
    uint64_t sb = U(self->bitmap), pb = U(peer->bitmap);

    *rule = 1;
    if (s == UUID_JUST_CREATED && p == UUID_JUST_CREATED)
        return HG_NONE;
    *rule = 2;
    if ((s == UUID_JUST_CREATED || s == 0) && p != UUID_JUST_CREATED)
        return HG_TARGET_FULL;
    *rule = 3;
    if (s != UUID_JUST_CREATED && (p == UUID_JUST_CREATED || p == 0))
        return HG_SOURCE_FULL;
    if (s == p) {
        /* 41/42: a resync finished on one side only; it repeats from the
         * bitmap, from the side with the bitmap UUID - unless the other one is
         * primary now: nothing was written since (same current UUID), and a
         * primary is no resync target (but one Inconsistent still needs
         * its resync: it is one) */
        bool self_only_primary = self->primary && !peer->primary && !self->inconsistent;
        bool peer_only_primary = peer->primary && !self->primary && !peer->inconsistent;
        *rule = 41;
        if (sb && !pb)
            return peer_only_primary ? HG_TARGET_BM : HG_SOURCE_BM;
        *rule = 42;
        if (!sb && pb)
            return self_only_primary ? HG_SOURCE_BM : HG_TARGET_BM;
        /* 43: a crashed primary has the newer data (its activity log is in the bitmap) */
        *rule = 43;
        int rct = (self->crashed_primary ? 1 : 0) + (peer->crashed_primary ? 2 : 0);
        if (rct == 1)
            return HG_SOURCE_BM;
        if (rct == 2)
            return HG_TARGET_BM;
        if (rct == 3)
            return self_lower_id ? HG_SOURCE_BM : HG_TARGET_BM;
        /* 44: same data generation but blocks marked out of sync.  Bits on
         * one side only were set by that side's own writes the peer missed
         * (a primary that lost the connection with writes in flight, a
         * bitmap resync cut short): that side has the data.  Bits on both
         * sides come from online verify: either copy will do. */
        *rule = 44;
        if (self->bits || peer->bits) {
            /* A primary is the source when it has bits too, or when both
             * left one generation (equal bitmap UUIDs) and reached this one
             * by different paths; bits on a secondary alone with no such
             * common departure are writes the primary never saw: that
             * secondary is the source (and the primary will not be a target) */
            bool converged = sb && sb == pb;
            bool primary_bits = self->primary ? self->bits : peer->bits;
            if (self->primary != peer->primary && (primary_bits || converged))
                return self->primary ? HG_SOURCE_BM : HG_TARGET_BM;
            /* two secondaries: one replicating from a connected primary has
             * the primary's data (the other's bits may only say its own copy
             * is uncertain, as after a crash its activity log does); if both
             * are, the primary resyncs each of them and they nothing */
            *rule = 45;
            if (!self->primary && !peer->primary && (self->fed || peer->fed)) {
                if (self->fed && peer->fed)
                    return HG_NONE;
                return self->fed ? HG_SOURCE_BM : HG_TARGET_BM;
            }
            *rule = 44;
            if (self->bits && !peer->bits)
                return HG_SOURCE_BM;
            if (!self->bits && peer->bits)
                return HG_TARGET_BM;
            return self_lower_id ? HG_SOURCE_BM : HG_TARGET_BM;
        }
        *rule = 4;
        return HG_NONE;
    }
    *rule = 5;
    if (pb == s)
        return HG_TARGET_BM;
    /* 6: the peer began a resync to me (rotated its bitmap UUID) or finished one
     * (pushed it into its history) and I missed the message */
    *rule = 6;
    if ((pb && U(pb - UUID_NEW_BM_OFFSET) == s) || (!pb && U(peer->history[0]) == s))
        return HG_TARGET_BM;
    *rule = 7;
    if (sb == p)
        return HG_SOURCE_BM;
    *rule = 8;
    if ((sb && U(sb - UUID_NEW_BM_OFFSET) == p) || (!sb && U(self->history[0]) == p))
        return HG_SOURCE_BM;
    /* 9: one side's current is an ancestor of the other's data: in its
     * history, or the generation a third node left it at (its bitmap UUID
     * for that node; a rotation that raced this peer's disconnect can leave
     * the peer's generation only there) */
    *rule = 9;
    if (in_history(peer->history, s) || in_list(peer->others, DRBD_MAX_NODES, s))
        return HG_TARGET_FULL;
    if (in_history(self->history, p) || in_list(self->others, DRBD_MAX_NODES, p))
        return HG_SOURCE_FULL;
    /* 10/11 split brain; 50/51: unless one side is a primary that lost
     * quorum: the majority went on without it, its writes since failed */
    bool one_lost = self->lost_quorum != peer->lost_quorum;
    bool split = sb && sb == pb, common = false;
    for (int i = -1; i < DRBD_HISTORY; i++) {
        uint64_t mine = U(i < 0 ? self->bitmap : self->history[i]);
        common |= mine && (mine == pb || in_history(peer->history, mine));
    }
    *rule = split ? 10 : 11;
    if ((split || common) && one_lost) {
        *rule += 40;
        int hg = split ? HG_TARGET_BM : HG_TARGET_FULL;
        return self->lost_quorum ? hg : -hg;
    }
    if (split)
        return HG_SPLIT_BRAIN_AUTO;
    if (common)
        return HG_SPLIT_BRAIN;
    *rule = 12;
    return HG_UNRELATED;
}

/* ---- split-brain recovery policies ----------------------------------------------------------- */

struct sb_view {
    struct drbd_conn *c;
    bool self_primary, peer_primary;
    bool self_was_pri, peer_was_pri;   /* primary when the data diverged */
    uint64_t ch_self, ch_peer;         /* blocks changed since */
    bool self_lower;
    bool demote_self, demote_peer;     /* call-pri-lost-after-sb: the loser steps down */
    bool violent;                      /* violently-as0p decided */
};

static int tie(const struct sb_view *sv) { return sv->self_lower ? 1 : -1; }

static int least_changes(const struct sb_view *sv)
{
    if (sv->ch_self != sv->ch_peer)
        return sv->ch_self < sv->ch_peer ? -1 : 1;
    return tie(sv);
}

static int asb_0p(struct sb_view *sv)
{
    const struct drbd_net_opts *net = &sv->c->net;
    struct umc_node *n = sv->c->res->node;
    switch (net->after_sb_0pri) {
    case ASB_DISCARD_YOUNGER_PRI:
    case ASB_DISCARD_OLDER_PRI:
        if (sv->self_was_pri != sv->peer_was_pri) {
            bool self_older = sv->self_was_pri;
            bool discard_self = net->after_sb_0pri == ASB_DISCARD_YOUNGER_PRI ? !self_older : self_older;
            return discard_self ? -1 : 1;
        }
        umc_warn(n, DRBD_COMP, "%s: discard younger/older primary did not find a decision, "
                 "using discard-least-changes instead", sv->c->res->cfg->name);
        return least_changes(sv);
    case ASB_DISCARD_ZERO_CHG:
        if (!sv->ch_self && !sv->ch_peer)
            return tie(sv);
        if (!sv->ch_peer)
            return 1;
        if (!sv->ch_self)
            return -1;
        return HG_SPLIT_BRAIN;
    case ASB_DISCARD_LEAST_CHG: return least_changes(sv);
    case ASB_DISCARD_LOCAL: return -1;
    case ASB_DISCARD_REMOTE: return 1;
    case ASB_DISCARD_NODE: {
        const struct drbd_resource *r = sv->c->res;
        if (strcmp(net->discard_node, r->cfg->hosts[r->my_host].name) == 0)
            return -1;
        if (strcmp(net->discard_node, sv->c->name) == 0)
            return 1;
        return HG_SPLIT_BRAIN;
    }
    default: return HG_SPLIT_BRAIN;
    }
}

/* call-pri-lost-after-sb: honor 0pri; a primary that loses gives up its role. */
static int pri_lost(struct sb_view *sv)
{
    int hg = asb_0p(sv);
    if (hg == -1 && sv->self_primary)
        sv->demote_self = true;
    if (hg == 1 && sv->peer_primary)
        sv->demote_peer = true;
    return hg;
}

static int asb_1p(struct sb_view *sv)
{
    int hg;
    switch (sv->c->net.after_sb_1pri) {
    case ASB_CONSENSUS:
        hg = asb_0p(sv);
        if ((hg == -1 && !sv->self_primary) || (hg == 1 && sv->self_primary))
            return hg;
        return HG_SPLIT_BRAIN;
    case ASB_VIOLENTLY:
        sv->violent = true;
        return asb_0p(sv);
    case ASB_DISCARD_SECONDARY: return sv->self_primary ? 1 : -1;
    case ASB_CALL_HELPER: return pri_lost(sv);
    default: return HG_SPLIT_BRAIN;
    }
}

static int asb_2p(struct sb_view *sv)
{
    switch (sv->c->net.after_sb_2pri) {
    case ASB_VIOLENTLY:
        sv->violent = true;
        return asb_0p(sv);
    case ASB_CALL_HELPER: return pri_lost(sv);
    default: return HG_SPLIT_BRAIN;
    }
}

static int split_brain_policy(struct sb_view *sv)
{
    int pcount = sv->self_primary + sv->peer_primary;
    return pcount == 0 ? asb_0p(sv) : pcount == 1 ? asb_1p(sv) : asb_2p(sv);
}

/* ---- the decision ------------------------------------------------------------------------------ */

static void side_self(const struct drbd_peer_dev *pd, struct drbd_uuid_side *s)
{
    const struct drbd_volume *v = pd->v;
    memset(s, 0, sizeof(*s));
    s->current = v->md.current_uuid;
    s->bitmap = v->md.bitmap_uuid[pd->c->peer_id];
    memcpy(s->history, v->md.history, sizeof(s->history));
    for (int i = 0; i < DRBD_MAX_NODES; i++)
        if (i != pd->c->peer_id && i != v->res->my_id)
            s->others[i] = v->md.bitmap_uuid[i];
    s->crashed_primary = v->md.flags & MDF_CRASHED_PRIMARY;
    s->primary = v->res->role == DRBD_ROLE_PRIMARY;
    s->inconsistent = v->disk <= DRBD_D_INCONSISTENT;
    s->fed = drbd_fed_by_primary(v);
    s->lost_quorum = v->md.flags & MDF_LOST_QUORUM;
    const struct drbd_bitmap *bm = drbd_pd_bm(pd);
    s->bits = bm ? bm->set : 0;
}

static void side_peer(const struct drbd_peer_dev *pd, struct drbd_uuid_side *s)
{
    const struct drbd_peer_state *ps = &pd->ps;
    memset(s, 0, sizeof(*s));
    s->current = ps->current_uuid;
    s->bitmap = ps->bitmap_uuid[pd->c->res->my_id];
    memcpy(s->history, ps->history, sizeof(s->history));
    for (int i = 0; i < DRBD_MAX_NODES; i++)
        if (i != pd->c->res->my_id && i != pd->c->peer_id)
            s->others[i] = ps->bitmap_uuid[i];
    s->crashed_primary = ps->flags & PSF_CRASHED_PRIMARY;
    s->primary = ps->role == DRBD_ROLE_PRIMARY;
    s->inconsistent = ps->disk <= DRBD_D_INCONSISTENT;
    s->fed = ps->flags & PSF_FED_BY_PRIMARY;
    s->lost_quorum = ps->flags & PSF_LOST_QUORUM;
    s->bits = ps->bits;
}

static void decide_drop(struct drbd_decision *d, bool standalone, const char *why)
{
    d->drop = true;
    d->standalone = standalone;
    snprintf(d->why, sizeof(d->why), "%s", why);
}

/* Sync by disk states: one side Inconsistent, the other not.  Not a primary
 * that is Inconsistent: it is resyncing from a source that holds its writes,
 * which are the newest there are; made the target of another node it would
 * read that node's older blocks (it waits until it is UpToDate instead). */
static int by_disk_states(struct drbd_peer_dev *pd, int hg)
{
    enum drbd_disk_state mine = pd->v->disk, peer = pd->ps.disk;
    if (!((mine == DRBD_D_INCONSISTENT && peer > DRBD_D_INCONSISTENT) ||
          (peer == DRBD_D_INCONSISTENT && mine > DRBD_D_INCONSISTENT)))
        return hg;
    bool inconsistent_primary = mine == DRBD_D_INCONSISTENT ? pd->v->res->role == DRBD_ROLE_PRIMARY
                                                            : pd->ps.role == DRBD_ROLE_PRIMARY;
    if (inconsistent_primary)
        return hg;
    bool full = hg == HG_SPLIT_BRAIN || abs(hg) == 2;
    int nhg = mine > DRBD_D_INCONSISTENT ? 1 : -1;
    umc_info(pd->c->res->node, DRBD_COMP, "%s %s: becoming sync %s due to disk states",
             pd->v->name, pd->c->name, nhg > 0 ? "source" : "target");
    return full ? nhg * 2 : nhg;
}

static int resolve_split_brain(struct drbd_peer_dev *pd, int hg, struct drbd_decision *d)
{
    struct drbd_conn *c = pd->c;
    struct umc_node *n = c->res->node;
    bool forced = hg == HG_SPLIT_BRAIN;
    if (hg == HG_SPLIT_BRAIN_AUTO || (forced && c->net.always_asbp)) {
        struct drbd_uuid_side self, peer;
        side_self(pd, &self);
        side_peer(pd, &peer);
        struct sb_view sv = {.c = c, .self_primary = self.primary, .peer_primary = peer.primary,
                             .self_was_pri = self.bitmap & UUID_PRIMARY,
                             .peer_was_pri = peer.bitmap & UUID_PRIMARY,
                             .ch_self = self.bits, .ch_peer = peer.bits,
                             .self_lower = c->res->my_id < c->peer_id};
        int rv = split_brain_policy(&sv);
        if (abs(rv) < 100) {
            umc_warn(n, DRBD_COMP, "%s %s: Split-Brain detected, %d primaries, automatically "
                     "solved. Sync from %s node", pd->v->name, c->name,
                     sv.self_primary + sv.peer_primary, rv > 0 ? "this" : "peer");
            if (sv.demote_self)
                d->flags |= DEC_MAY_DEMOTE;
            if (sv.demote_peer)
                d->flags |= DEC_MAY_DEMOTE;
            if (sv.violent)
                d->flags |= DEC_VIOLENT;
            return forced ? rv * 2 : rv;
        }
    }
    bool mine = c->discard_my_data, theirs = pd->ps.flags & PSF_DISCARD_MY_DATA;
    if (mine != theirs) {
        int rv = mine ? -1 : 1;
        umc_warn(n, DRBD_COMP, "%s %s: Split-Brain detected, manually solved. Sync from %s node",
                 pd->v->name, c->name, rv > 0 ? "this" : "peer");
        return forced ? rv * 2 : rv;
    }
    return HG_SPLIT_BRAIN;
}

/* A diskless Primary (either side) connects only to a disk holding the data
 * generation it has exposed: any other would hand its users older data. */
static bool exposed_data_differs(const struct drbd_peer_dev *pd, uint64_t *want)
{
    const struct drbd_volume *v = pd->v;
    uint64_t have;
    if (!v->have_md && v->res->role == DRBD_ROLE_PRIMARY && pd->ps.disk >= DRBD_D_INCONSISTENT) {
        *want = v->exposed_uuid;
        have = pd->ps.current_uuid;
    } else if (v->have_md && pd->ps.disk < DRBD_D_INCONSISTENT && pd->ps.role == DRBD_ROLE_PRIMARY) {
        *want = pd->ps.current_uuid;
        have = v->md.current_uuid;
    } else {
        return false;
    }
    return U(*want) && U(*want) != U(have);
}

void drbd_sync_decide(struct drbd_peer_dev *pd, struct drbd_decision *d)
{
    struct drbd_conn *c = pd->c;
    struct drbd_volume *v = pd->v;
    struct umc_node *n = c->res->node;
    memset(d, 0, sizeof(*d));
    uint64_t want;
    if (exposed_data_differs(pd, &want)) {
        /* not sticky: the primary's disk may come back, or the peer catch up */
        char why[96];
        snprintf(why, sizeof(why), "Can only connect to data with current UUID=%016llX",
                 (unsigned long long)U(want));
        decide_drop(d, false, why);
        return;
    }
    if (!v->have_md || pd->ps.disk <= DRBD_D_FAILED || v->disk <= DRBD_D_FAILED)
        return; /* a diskless side: nothing to sync */
    if (pd->ps.size / DRBD_BLOCK != v->layout.data_size / DRBD_BLOCK) {
        char why[160];
        snprintf(why, sizeof(why), "%s: the peer's disk size differs (mine %llu KiB, peer %llu KiB)",
                 v->name, (unsigned long long)(v->layout.data_size >> 10),
                 (unsigned long long)(pd->ps.size >> 10));
        decide_drop(d, true, why);
        return;
    }
    struct drbd_uuid_side self, peer;
    side_self(pd, &self);
    side_peer(pd, &peer);
    int hg = drbd_uuid_compare(&self, &peer, c->res->my_id < c->peer_id, &d->rule);
    umc_info(n, DRBD_COMP, "%s %s: uuid_compare()=%d by rule %d (self %016llX:%016llX bits:%llu "
             "peer %016llX:%016llX bits:%llu)", v->name, c->name, hg, d->rule,
             (unsigned long long)self.current, (unsigned long long)self.bitmap,
             (unsigned long long)self.bits, (unsigned long long)peer.current,
             (unsigned long long)peer.bitmap, (unsigned long long)peer.bits);
    if (hg != HG_NONE && v->disk <= DRBD_D_INCONSISTENT && pd->ps.disk <= DRBD_D_INCONSISTENT) {
        /* two resync targets, each with its source's sync UUID: neither a
         * split brain nor unrelated data (a write that reached only an
         * Inconsistent disk is never acknowledged), but no source either;
         * not sticky: once one of them is UpToDate the next attempt decides */
        decide_drop(d, false, "Both sides are Inconsistent: no resync between them yet");
        return;
    }
    if (hg == HG_UNRELATED) {
        decide_drop(d, true, "Unrelated data, aborting!");
        return;
    }
    hg = by_disk_states(pd, hg);
    if (abs(hg) == 100)
        hg = resolve_split_brain(pd, hg, d);
    if (abs(hg) == 100) {
        decide_drop(d, true, "Split-Brain detected but unresolved, dropping connection!");
        return;
    }
    if ((hg > 0 && v->disk <= DRBD_D_INCONSISTENT) || (hg < 0 && pd->ps.disk <= DRBD_D_INCONSISTENT)) {
        /* not sticky: once a resync with another peer makes us consistent, the
         * next attempt (after connect-int) goes through */
        decide_drop(d, false, hg > 0 ? "I shall become SyncSource, but I am inconsistent!"
                                     : "The peer shall become SyncSource, but it is inconsistent!");
        return;
    }
    bool fresh = v->fresh_attach || (pd->ps.flags & PSF_FRESH_ATTACH);
    bool bug = umc_bug(n, UMC_BUG_RESYNC_NO_RESTART) || (pd->ps.flags & PSF_BUG_NO_RESTART);
    if (hg && fresh && bug) {
        d->flags |= DEC_SUPPRESSED; /* the injected defect: the resync that should start does not */
        hg = HG_NONE;
    }
    d->hg = hg;
}

/* Both primary without allow-two-primaries: the connection is refused. */
static bool two_primaries_refused(const struct drbd_conn *c)
{
    return c->res->role == DRBD_ROLE_PRIMARY && c->peer_role == DRBD_ROLE_PRIMARY &&
           !c->net.allow_two_primaries;
}

/* Carry out a decision on this side (hg from this side's point of view). */
bool drbd_apply_decision(struct drbd_peer_dev *pd, int hg, int rule, unsigned flags)
{
    struct drbd_conn *c = pd->c;
    struct drbd_resource *r = c->res;
    struct drbd_volume *v = pd->v;
    pd->decided = true;
    pd->peer_disk = pd->ps.disk;
    struct drbd_bitmap *client_bm = pd->ps.flags & PSF_CLIENT ? drbd_pd_bm(pd) : NULL;
    if (client_bm && client_bm->set)
        drbd_bm_clear_all(client_bm); /* marked before we knew it has no disk */
    if (hg >= 0 && v->have_md && (v->md.flags & MDF_LOST_QUORUM)) {
        drbd_md_set_flag(v, MDF_LOST_QUORUM, false); /* our data stands */
        drbd_md_sync(v, NULL, NULL);
    }
    if (hg < 0 && r->role == DRBD_ROLE_PRIMARY && v->disk >= DRBD_D_CONSISTENT) {
        if ((flags & (DEC_MAY_DEMOTE | DEC_VIOLENT)) && !drbd_res_open_for_write(r)) {
            umc_warn(r->node, DRBD_COMP, "%s: Successfully gave up primary role.", r->cfg->name);
            drbd_demote_now(r);
        } else if ((flags & DEC_VIOLENT) && !two_primaries_refused(c)) {
            umc_warn(r->node, DRBD_COMP, "%s: Becoming SyncTarget, violating the stable-data "
                     "assumption", v->name);
        } else {
            if (flags & DEC_MAY_DEMOTE)
                umc_warn(r->node, DRBD_COMP, "%s: calling the pri-lost-after-sb handler",
                         r->cfg->name);
            /* not sticky: once the primary steps down the next attempt resyncs it
             * (and no Inconsistent primary for a connection refused anyway) */
            const char *why = (flags & DEC_VIOLENT) ? "Multiple primaries not allowed by config"
                                                    : "I shall become SyncTarget, but I am primary!";
            unsigned char buf[96];
            struct drbd_wbuf w = {.p = buf, .cap = sizeof(buf)};
            drbd_put_u8(&w, 0);
            drbd_put_str(&w, why);
            drbd_send(c, P_DISCONNECT, -1, buf, w.len, true);
            drbd_conn_drop(c, DRBD_C_TEAR_DOWN, why);
            return false;
        }
    }
    if (hg == HG_NONE) {
        drbd_set_repl(pd, DRBD_R_ESTABLISHED);
        struct drbd_bitmap *bm = drbd_pd_bm(pd);
        if (!(flags & DEC_SUPPRESSED) && v->have_md &&
            (v->disk == DRBD_D_CONSISTENT || v->disk == DRBD_D_OUTDATED) &&
            (pd->peer_disk == DRBD_D_UP_TO_DATE || pd->peer_disk == DRBD_D_CONSISTENT) &&
            !drbd_relayed_from(pd))
            drbd_set_disk(v, DRBD_D_UP_TO_DATE);
        if (bm && bm->set)
            umc_info(r->node, DRBD_COMP, "%s %s: no resync, but %llu bits in bitmap!", v->name,
                     c->name, (unsigned long long)bm->set);
        return true;
    }
    /* the handshake found this side's data the newest: it is UpToDate */
    if (hg > 0 && (v->disk == DRBD_D_CONSISTENT || v->disk == DRBD_D_OUTDATED))
        drbd_set_disk(v, DRBD_D_UP_TO_DATE);
    drbd_sync_begin(pd, hg > 0, hg == 2 || hg == -2);
    return true;
}

/* Refuse the connection as decided: tell the peer, and drop it. */
static void refuse_connection(struct drbd_peer_dev *pd, const struct drbd_decision *d)
{
    struct drbd_conn *c = pd->c;
    unsigned char buf[200];
    struct drbd_wbuf w = {.p = buf, .cap = sizeof(buf)};
    drbd_put_u8(&w, d->standalone);
    drbd_put_str(&w, d->why);
    drbd_send(c, P_DISCONNECT, -1, buf, w.len, true);
    if (d->standalone)
        c->want_standalone = true;
    snprintf(c->refuse_reason, sizeof(c->refuse_reason), "%s", d->why);
    umc_err(c->res->node, DRBD_COMP, "%s %s: %s", pd->v->name, c->name, d->why);
    drbd_conn_drop(c, DRBD_C_TEAR_DOWN, d->why);
}

/* The higher node id waits for the lower one's decision, but a refusal that
 * leaves both StandAlone (split brain unresolved, unrelated data, another
 * size) it finds by itself, as DRBD's nodes both do: had the lower one's
 * word been lost with the connection, it would go on connecting to a peer
 * that no longer listens.  Once, on the states as exchanged: a losing
 * primary's step down that follows must not change the verdict. */
static bool refused_by_both(struct drbd_conn *c)
{
    if (c->own_verdict_done)
        return false;
    c->own_verdict_done = true;
    for (int i = 0; i < c->res->nvols; i++) {
        struct drbd_peer_dev *pd = &c->pds[i];
        if (pd->decided)
            continue;
        struct drbd_decision d;
        drbd_sync_decide(pd, &d);
        if (d.drop && d.standalone) {
            refuse_connection(pd, &d);
            return true;
        }
    }
    return false;
}

/* After the state exchange: the lower node id decides each volume. */
void drbd_handshake_check(struct drbd_conn *c)
{
    struct drbd_resource *r = c->res;
    if (c->handshake_done || !c->sock)
        return;
    for (int i = 0; i < r->nvols; i++)
        if (!c->pds[i].got_state)
            return;
    if (r->my_id > c->peer_id && refused_by_both(c))
        return;
    if (r->my_id < c->peer_id) {
        for (int i = 0; i < r->nvols; i++) {
            struct drbd_peer_dev *pd = &c->pds[i];
            if (pd->decided)
                continue;
            struct drbd_decision d;
            drbd_sync_decide(pd, &d);
            if (d.drop) {
                refuse_connection(pd, &d);
                return;
            }
            /* a losing primary steps down before the peer hears the decision */
            if (d.hg < 0 && r->role == DRBD_ROLE_PRIMARY &&
                (d.flags & (DEC_MAY_DEMOTE | DEC_VIOLENT)) && !drbd_res_open_for_write(r)) {
                umc_warn(r->node, DRBD_COMP, "%s: Successfully gave up primary role.", r->cfg->name);
                drbd_demote_now(r);
            }
            unsigned char p[9];
            drbd_put_be32(p, (uint32_t)d.hg);
            drbd_put_be32(p + 4, (uint32_t)d.rule);
            p[8] = (unsigned char)d.flags;
            drbd_send(c, P_DECISION, pd->v->vnr, p, sizeof(p), false);
            if (!drbd_apply_decision(pd, d.hg, d.rule, d.flags))
                return;
        }
    }
    for (int i = 0; i < r->nvols; i++)
        if (!c->pds[i].decided)
            return;
    /* split brain was settled above; two primaries are refused only now, by
     * the higher node id (it stepped down or it refuses); the lower one waits
     * for its word, so two primaries never show as Connected */
    if (two_primaries_refused(c)) {
        if (r->my_id < c->peer_id)
            return;
        unsigned char buf[96];
        struct drbd_wbuf w = {.p = buf, .cap = sizeof(buf)};
        drbd_put_u8(&w, 0);
        drbd_put_str(&w, "Multiple primaries not allowed by config");
        drbd_send(c, P_DISCONNECT, -1, buf, w.len, true);
        drbd_conn_drop(c, DRBD_C_PROTOCOL_ERROR, "Multiple primaries not allowed by config");
        return;
    }
    c->handshake_done = true;
    drbd_set_cstate(c, DRBD_C_CONNECTED);
    drbd_pis_conn_up(c);
    umc_timer_cancel(r->node, &c->hs_timer);
    for (int i = 0; i < r->nvols; i++)
        r->vols[i]->fresh_attach = false;
    drbd_quorum_update(r);
    drbd_data_path_changed(r);
    drbd_state_changed(r);
}

/* Decide a volume again while connected (its disk came or went): both sides
 * exchange their state once more and the lower node id decides. */
void drbd_pd_renegotiate(struct drbd_peer_dev *pd, bool initiator)
{
    struct drbd_conn *c = pd->c;
    if (!c->sock)
        return;
    /* (undecided first: no state update goes out ahead of our P_STATE) */
    pd->decided = false;
    if (drbd_pd_syncing(pd))
        drbd_sync_abort(pd);
    if (pd->repl != DRBD_R_OFF)
        drbd_set_repl(pd, DRBD_R_OFF);
    pd->got_state = false;
    c->handshake_done = false;
    c->own_verdict_done = false;
    umc_timer_arm_in(c->res->node, &c->hs_timer, 2 * (mte_time_t)c->net.timeout * 100 * MTE_MSEC);
    drbd_send_state(pd, P_STATE);
    if (initiator)
        umc_info(c->res->node, DRBD_COMP, "%s %s: renegotiating after a disk change", pd->v->name,
                 c->name);
}
