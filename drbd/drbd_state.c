/* States and the transitions between them (drbd9-semantics.md section 1):
 * every change goes through a setter that refuses transitions DRBD does not
 * make, persists what the meta-data records, tells the peers, and reports the
 * change (INFO log line + events2).  Quorum and the promotion rules live here
 * too. */
#include <stdio.h>

#include "drbd/drbd_int.h"

/* ---- names ---------------------------------------------------------------------------- */

static const char *const role_names[] = {"Unknown", "Secondary", "Primary"};
static const char *const conn_names[] = {"StandAlone", "Disconnecting", "Unconnected", "Timeout",
                                         "BrokenPipe", "NetworkFailure", "ProtocolError",
                                         "TearDown", "Connecting", "Connected"};
static const char *const repl_names[] = {"Off", "Established", "StartingSyncS", "StartingSyncT",
                                         "WFBitMapS", "WFBitMapT", "WFSyncUUID", "SyncSource",
                                         "SyncTarget", "VerifyS", "VerifyT", "PausedSyncS",
                                         "PausedSyncT", "Ahead", "Behind"};
static const char *const disk_names[] = {"Diskless", "Attaching", "Detaching", "Failed",
                                         "Negotiating", "Inconsistent", "Outdated", "DUnknown",
                                         "Consistent", "UpToDate"};

#define NAME_OF(tab, i) ((unsigned)(i) < sizeof(tab) / sizeof(tab[0]) ? tab[i] : "?")

const char *drbd_role_name(enum drbd_role r) { return NAME_OF(role_names, r); }
const char *drbd_conn_name(enum drbd_conn_state c) { return NAME_OF(conn_names, c); }
const char *drbd_repl_name(enum drbd_repl_state r) { return NAME_OF(repl_names, r); }
const char *drbd_disk_name(enum drbd_disk_state d) { return NAME_OF(disk_names, d); }

/* ---- allowed transitions ----------------------------------------------------------------- */

#define B(x) (1u << (x))

bool drbd_conn_transition_ok(enum drbd_conn_state from, enum drbd_conn_state to)
{
    const uint32_t errors = B(DRBD_C_TIMEOUT) | B(DRBD_C_BROKEN_PIPE) | B(DRBD_C_NETWORK_FAILURE) |
                            B(DRBD_C_PROTOCOL_ERROR) | B(DRBD_C_TEAR_DOWN);
    uint32_t ok;
    switch (from) {
    case DRBD_C_STANDALONE: ok = B(DRBD_C_UNCONNECTED); break;
    case DRBD_C_DISCONNECTING: ok = B(DRBD_C_STANDALONE); break;
    case DRBD_C_UNCONNECTED: ok = B(DRBD_C_CONNECTING) | B(DRBD_C_DISCONNECTING); break;
    case DRBD_C_CONNECTING: ok = B(DRBD_C_CONNECTED) | B(DRBD_C_DISCONNECTING); break;
    case DRBD_C_CONNECTED: ok = errors | B(DRBD_C_DISCONNECTING); break;
    case DRBD_C_TIMEOUT: case DRBD_C_BROKEN_PIPE: case DRBD_C_NETWORK_FAILURE:
    case DRBD_C_PROTOCOL_ERROR: case DRBD_C_TEAR_DOWN:
        ok = B(DRBD_C_UNCONNECTED) | B(DRBD_C_DISCONNECTING);
        break;
    default: return false;
    }
    return (unsigned)to <= DRBD_C_CONNECTED && (ok & B(to));
}

bool drbd_repl_transition_ok(enum drbd_repl_state from, enum drbd_repl_state to)
{
    uint32_t ok;
    switch (from) {
    case DRBD_R_OFF: ok = B(DRBD_R_ESTABLISHED) | B(DRBD_R_WF_BITMAP_S) | B(DRBD_R_WF_BITMAP_T); break;
    case DRBD_R_ESTABLISHED:
        ok = B(DRBD_R_STARTING_SYNC_S) | B(DRBD_R_STARTING_SYNC_T) | B(DRBD_R_WF_BITMAP_S) |
             B(DRBD_R_WF_BITMAP_T) | B(DRBD_R_VERIFY_S) | B(DRBD_R_VERIFY_T) | B(DRBD_R_AHEAD) |
             B(DRBD_R_BEHIND);
        break;
    case DRBD_R_STARTING_SYNC_S: ok = B(DRBD_R_WF_BITMAP_S); break;
    case DRBD_R_STARTING_SYNC_T: ok = B(DRBD_R_WF_BITMAP_T); break;
    case DRBD_R_WF_BITMAP_S: ok = B(DRBD_R_SYNC_SOURCE) | B(DRBD_R_PAUSED_SYNC_S); break;
    case DRBD_R_WF_BITMAP_T: ok = B(DRBD_R_WF_SYNC_UUID); break;
    case DRBD_R_WF_SYNC_UUID: ok = B(DRBD_R_SYNC_TARGET) | B(DRBD_R_PAUSED_SYNC_T); break;
    case DRBD_R_SYNC_SOURCE: ok = B(DRBD_R_PAUSED_SYNC_S) | B(DRBD_R_ESTABLISHED); break;
    case DRBD_R_SYNC_TARGET: ok = B(DRBD_R_PAUSED_SYNC_T) | B(DRBD_R_ESTABLISHED); break;
    case DRBD_R_PAUSED_SYNC_S: ok = B(DRBD_R_SYNC_SOURCE) | B(DRBD_R_ESTABLISHED); break;
    case DRBD_R_PAUSED_SYNC_T: ok = B(DRBD_R_SYNC_TARGET) | B(DRBD_R_ESTABLISHED); break;
    case DRBD_R_VERIFY_S: case DRBD_R_VERIFY_T: ok = B(DRBD_R_ESTABLISHED); break;
    case DRBD_R_AHEAD: ok = B(DRBD_R_ESTABLISHED) | B(DRBD_R_SYNC_SOURCE); break;
    case DRBD_R_BEHIND: ok = B(DRBD_R_ESTABLISHED) | B(DRBD_R_SYNC_TARGET); break;
    default: return false;
    }
    /* losing the connection ends any replication state */
    ok |= B(DRBD_R_OFF);
    return (unsigned)to <= DRBD_R_BEHIND && (ok & B(to));
}

bool drbd_disk_transition_ok(enum drbd_disk_state from, enum drbd_disk_state to)
{
    const uint32_t leave = B(DRBD_D_FAILED) | B(DRBD_D_DETACHING);
    uint32_t ok;
    switch (from) {
    case DRBD_D_DISKLESS: ok = B(DRBD_D_ATTACHING); break;
    case DRBD_D_ATTACHING:
        ok = B(DRBD_D_NEGOTIATING) | B(DRBD_D_INCONSISTENT) | B(DRBD_D_OUTDATED) |
             B(DRBD_D_CONSISTENT) | B(DRBD_D_UP_TO_DATE) | B(DRBD_D_FAILED) | B(DRBD_D_DISKLESS);
        break;
    case DRBD_D_DETACHING: case DRBD_D_FAILED: ok = B(DRBD_D_DISKLESS); break;
    case DRBD_D_NEGOTIATING:
        ok = B(DRBD_D_INCONSISTENT) | B(DRBD_D_OUTDATED) | B(DRBD_D_UP_TO_DATE) | leave;
        break;
    case DRBD_D_INCONSISTENT:
        /* (Outdated: resynced from a peer whose primary does not reach us) */
        ok = B(DRBD_D_UP_TO_DATE) | B(DRBD_D_OUTDATED) | leave;
        break;
    case DRBD_D_OUTDATED: ok = B(DRBD_D_INCONSISTENT) | B(DRBD_D_UP_TO_DATE) | leave; break;
    case DRBD_D_CONSISTENT:
        ok = B(DRBD_D_INCONSISTENT) | B(DRBD_D_OUTDATED) | B(DRBD_D_UP_TO_DATE) | leave;
        break;
    case DRBD_D_UP_TO_DATE: ok = B(DRBD_D_INCONSISTENT) | B(DRBD_D_OUTDATED) | leave; break;
    default: return false;
    }
    return (unsigned)to <= DRBD_D_UP_TO_DATE && to != DRBD_D_UNKNOWN && (ok & B(to));
}

/* ---- setters --------------------------------------------------------------------------- */

static void illegal(struct drbd_resource *r, const char *what, const char *from, const char *to)
{
    umc_err(r->node, DRBD_COMP, "%s: refusing illegal %s transition %s -> %s", r->cfg->name, what,
            from, to);
}

bool drbd_set_cstate(struct drbd_conn *c, enum drbd_conn_state to)
{
    if (c->cstate == to)
        return true;
    if (!drbd_conn_transition_ok(c->cstate, to)) {
        illegal(c->res, "connection", drbd_conn_name(c->cstate), drbd_conn_name(to));
        return false;
    }
    c->cstate = to;
    if (to != DRBD_C_CONNECTED)
        c->peer_role = DRBD_ROLE_UNKNOWN;
    drbd_quorum_update(c->res);
    drbd_state_changed(c->res);
    return true;
}

bool drbd_set_repl(struct drbd_peer_dev *pd, enum drbd_repl_state to)
{
    if (pd->repl == to)
        return true;
    if (!drbd_repl_transition_ok(pd->repl, to)) {
        illegal(pd->c->res, "replication", drbd_repl_name(pd->repl), drbd_repl_name(to));
        return false;
    }
    pd->repl = to;
    drbd_state_changed(pd->c->res);
    return true;
}

/* What the superblock flags say about each disk state. */
static void disk_flags_follow(struct drbd_volume *v, enum drbd_disk_state to)
{
    uint32_t before = v->md.flags;
    switch (to) {
    case DRBD_D_UP_TO_DATE: v->md.flags |= MDF_CONSISTENT | MDF_WAS_UP_TO_DATE; break;
    case DRBD_D_OUTDATED:
        v->md.flags |= MDF_CONSISTENT;
        v->md.flags &= ~MDF_WAS_UP_TO_DATE;
        break;
    case DRBD_D_INCONSISTENT: v->md.flags &= ~(MDF_CONSISTENT | MDF_WAS_UP_TO_DATE); break;
    default: break;
    }
    if (v->md.flags != before && v->have_md && v->backing_open)
        drbd_md_sync(v, NULL, NULL);
}

bool drbd_set_disk(struct drbd_volume *v, enum drbd_disk_state to)
{
    if (v->disk == to)
        return true;
    if (!drbd_disk_transition_ok(v->disk, to)) {
        illegal(v->res, "disk", drbd_disk_name(v->disk), drbd_disk_name(to));
        return false;
    }
    v->disk = to;
    disk_flags_follow(v, to);
    struct drbd_resource *r = v->res;
    for (int i = 0; i < r->nconns; i++)
        if (r->conns[i]->sock)
            drbd_send_state(&r->conns[i]->pds[v->idx], P_STATE_UPDATE);
    drbd_state_changed(r);
    return true;
}

void drbd_set_role(struct drbd_resource *r, enum drbd_role to)
{
    if (r->role == to)
        return;
    r->role = to;
    drbd_send_state_all(r);
    drbd_state_changed(r);
}

/* Peers judge a resync source by whether a primary feeds it: they hear
 * when that changes. */
static void fed_flag_follow(struct drbd_resource *r)
{
    for (int i = 0; i < r->nvols; i++) {
        struct drbd_volume *v = r->vols[i];
        bool fed = drbd_fed_by_primary(v);
        if (fed == v->fed_told)
            continue;
        v->fed_told = fed;
        /* (a handshake under way sends the flag in its own P_STATE) */
        for (int j = 0; j < r->nconns; j++)
            if (r->conns[j]->sock && r->conns[j]->pds[i].decided)
                drbd_send_state(&r->conns[j]->pds[i], P_STATE_UPDATE);
    }
}

void drbd_state_changed(struct drbd_resource *r)
{
    fed_flag_follow(r);
    drbd_events_diff(r);
}

/* ---- quorum -------------------------------------------------------------------------- */

/* Votes: this node and every peer connected to it, out of every node of the
 * resource.  majority: more than half; all: everyone; N: at least N. */
void drbd_quorum_update(struct drbd_resource *r)
{
    bool had = r->have_quorum;
    int q = r->cfg->opts.quorum;
    int total = r->nconns + 1, present = 1;
    /* a peer counts once the handshake accepted it (not while it may still be
     * refused, e.g. a primary from the other side of a partition) */
    for (int i = 0; i < r->nconns; i++)
        present += drbd_conn_established(r->conns[i]);
    bool have = q == QUORUM_OFF ? true
                : q == QUORUM_MAJORITY ? 2 * present > total
                : q == QUORUM_ALL ? present == total
                : present >= q;
    r->have_quorum = have;
    if (had == have)
        return;
    if (r->up)
        umc_info(r->node, DRBD_COMP, "%s: quorum %s (%d of %d nodes)", r->cfg->name,
                 have ? "regained" : "lost", present, total);
    for (int i = 0; i < r->nvols; i++) {
        struct drbd_volume *v = r->vols[i];
        /* its writes from now on fail or wait: should the majority promote
         * another node, this one is the one to discard (DRBD's lost-quorum
         * rule); it stays marked until it is in sync with a peer again */
        if (!have && r->role == DRBD_ROLE_PRIMARY && v->have_md && v->backing_open &&
            !(v->md.flags & MDF_LOST_QUORUM)) {
            drbd_md_set_flag(v, MDF_LOST_QUORUM, true);
            drbd_md_sync(v, NULL, NULL);
        }
        if (have)
            drbd_vol_resume_suspended(v);
        else if (r->cfg->opts.on_no_quorum == ONQ_IO_ERROR)
            drbd_vol_fail_suspended(v);
    }
}

/* ---- is the quorum still there? ------------------------------------------------------- */

static void probe_timeout(void *arg)
{
    struct drbd_resource *r = arg;
    if (!r->probe_active)
        return;
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_conn *c = r->conns[i];
        if (drbd_conn_established(c) && c->last_rx < r->probe_start)
            drbd_conn_drop(c, DRBD_C_NETWORK_FAILURE, "PingAck did not arrive in time.");
    }
    r->probe_active = false;
    drbd_quorum_update(r);
    drbd_quorum_probe_done(r);
}

/* Ping every connected peer; the probe succeeds once enough of them answered. */
void drbd_quorum_probe(struct drbd_resource *r)
{
    if (r->probe_active)
        return;
    r->probe_active = true;
    r->probe_start = umc_now(r->node);
    mte_time_t timeout = 5 * 100 * MTE_MSEC;
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_conn *c = r->conns[i];
        if (!drbd_conn_established(c))
            continue;
        drbd_send(c, P_PING, -1, NULL, 0, true);
        timeout = (mte_time_t)c->net.ping_timeout * 100 * MTE_MSEC;
    }
    umc_timer_init(r->node, &r->probe_timer, probe_timeout, r);
    umc_timer_arm_in(r->node, &r->probe_timer, timeout);
    drbd_quorum_probe_check(r);
}

/* Called when bytes arrive from a peer. */
void drbd_quorum_probe_check(struct drbd_resource *r)
{
    if (!r->probe_active)
        return;
    int q = r->cfg->opts.quorum, total = r->nconns + 1, alive = 1;
    int needed = q == QUORUM_MAJORITY ? total / 2 + 1 : q == QUORUM_ALL ? total : q;
    for (int i = 0; i < r->nconns; i++)
        alive += drbd_conn_established(r->conns[i]) && r->conns[i]->last_rx >= r->probe_start;
    if (alive < needed)
        return;
    r->probe_active = false;
    umc_timer_cancel(r->node, &r->probe_timer);
    drbd_quorum_probe_done(r);
}

/* ---- promotion rules ----------------------------------------------------------------- */

/* A secondary replicating from a connected primary: its data is the primary's. */
bool drbd_fed_by_primary(const struct drbd_volume *v)
{
    return v->disk == DRBD_D_UP_TO_DATE && drbd_primary_reaches(v);
}

/* pd's peer replicates a primary (not us) whose writes do not reach us:
 * what we get from it may be overtaken any moment by writes we never see. */
bool drbd_relayed_from(const struct drbd_peer_dev *pd)
{
    return (pd->ps.flags & PSF_FED_BY_PRIMARY) && pd->v->res->role != DRBD_ROLE_PRIMARY &&
           !drbd_primary_reaches(pd->v);
}

/* The writes of a connected primary reach this secondary (its disk may be
 * anything from Inconsistent up). */
bool drbd_primary_reaches(const struct drbd_volume *v)
{
    const struct drbd_resource *r = v->res;
    if (r->role == DRBD_ROLE_PRIMARY)
        return false;
    for (int i = 0; i < r->nconns; i++) {
        const struct drbd_peer_dev *pd = &r->conns[i]->pds[v->idx];
        /* (also while we resync it, or it has no disk: its writes reach us
         * all the same) */
        bool writes_reach_us = pd->c->cstate == DRBD_C_CONNECTED && pd->decided &&
                               pd->repl >= DRBD_R_ESTABLISHED && pd->repl != DRBD_R_AHEAD;
        if (r->conns[i]->peer_role == DRBD_ROLE_PRIMARY && writes_reach_us)
            return true;
    }
    return false;
}

/* A diskless primary serves the generation of the UpToDate peers it reads from. */
void drbd_exposed_follow_peers(struct drbd_volume *v)
{
    const struct drbd_resource *r = v->res;
    for (int i = 0; i < r->nconns; i++) {
        const struct drbd_peer_dev *pd = &r->conns[i]->pds[v->idx];
        if (drbd_pd_replicating(pd) && pd->peer_disk == DRBD_D_UP_TO_DATE && pd->ps.current_uuid) {
            v->exposed_uuid = pd->ps.current_uuid & ~UUID_PRIMARY;
            return;
        }
    }
}

bool drbd_have_uptodate_peer(const struct drbd_volume *v)
{
    const struct drbd_resource *r = v->res;
    for (int i = 0; i < r->nconns; i++) {
        const struct drbd_peer_dev *pd = &r->conns[i]->pds[v->idx];
        if (drbd_pd_replicating(pd) && pd->peer_disk == DRBD_D_UP_TO_DATE)
            return true;
    }
    return false;
}

bool drbd_vol_readable_locally(const struct drbd_volume *v)
{
    return v->backing_open && v->disk == DRBD_D_UP_TO_DATE;
}

static bool refuse(char *msg, size_t len, int code, const char *text)
{
    snprintf(msg, len, "State change failed: (%d) %s", code, text);
    return false;
}

bool drbd_may_promote(struct drbd_resource *r, bool force, char *msg, size_t msglen)
{
    if (r->twopc_cmd)
        return refuse(msg, msglen, -19, "Concurrent state changes detected and aborted");
    for (int i = 0; i < r->nconns; i++) {
        const struct drbd_conn *c = r->conns[i];
        if (c->cstate == DRBD_C_CONNECTED && c->peer_role == DRBD_ROLE_PRIMARY &&
            !c->net.allow_two_primaries)
            return refuse(msg, msglen, -1, "Multiple primaries not allowed by config");
    }
    if (!r->have_quorum)
        return refuse(msg, msglen, -25, "No quorum");
    for (int i = 0; i < r->nvols; i++) {
        const struct drbd_volume *v = r->vols[i];
        if (v->disk == DRBD_D_UP_TO_DATE || drbd_have_uptodate_peer(v))
            continue;
        if (force && v->backing_open && v->disk >= DRBD_D_INCONSISTENT)
            continue;
        return refuse(msg, msglen, -2, "Need access to UpToDate data");
    }
    return true;
}

void drbd_promote_now(struct drbd_resource *r, bool force)
{
    if (force)
        umc_info(r->node, DRBD_COMP, "%s: forced promotion", r->cfg->name);
    r->role = DRBD_ROLE_PRIMARY;
    for (int i = 0; i < r->nvols; i++) {
        struct drbd_volume *v = r->vols[i];
        if (!v->have_md) {
            drbd_exposed_follow_peers(v);
            for (int j = 0; j < r->nconns; j++)
                v->uuid_rotate_pending |= !drbd_pd_replicating(&r->conns[j]->pds[i]);
        }
        if (!v->have_md || !v->backing_open)
            continue;
        bool forced_up = force && v->disk != DRBD_D_UP_TO_DATE && !drbd_have_uptodate_peer(v);
        bool all_connected = true;
        for (int j = 0; j < r->nconns; j++)
            all_connected &= drbd_pd_replicating(&r->conns[j]->pds[i]);
        if (forced_up) {
            drbd_set_disk(v, DRBD_D_UP_TO_DATE);
            drbd_uuid_new_current(v, true);
        } else if (all_connected) {
            /* the primary bit marks the generation; a missing peer gets a new one
             * at the first write, which carries the bit (the old one stays clean:
             * it tells a younger primary from an older one after a split brain) */
            v->md.current_uuid |= UUID_PRIMARY;
        } else {
            v->uuid_rotate_pending = true;
        }
        drbd_md_set_flag(v, MDF_PRIMARY_IND, true);
        drbd_md_sync(v, NULL, NULL);
        for (int j = 0; forced_up && j < r->nconns; j++) {
            struct drbd_peer_dev *pd = &r->conns[j]->pds[i];
            char why[128];
            if (pd->repl == DRBD_R_ESTABLISHED && pd->peer_disk <= DRBD_D_OUTDATED &&
                pd->peer_disk >= DRBD_D_INCONSISTENT)
                drbd_start_full_sync(pd, true, why, sizeof(why));
            else if (pd->repl == DRBD_R_ESTABLISHED)
                drbd_send_uuids(pd, UUIDS_INFO);
        }
    }
    drbd_send_state_all(r);
    drbd_state_changed(r);
}

void drbd_demote_now(struct drbd_resource *r)
{
    if (r->role != DRBD_ROLE_PRIMARY)
        return;
    r->role = DRBD_ROLE_SECONDARY;
    for (int i = 0; i < r->nvols; i++) {
        struct drbd_volume *v = r->vols[i];
        v->uuid_rotate_pending = false;
        v->auto_promoted = false;
        if (!v->have_md || !v->backing_open)
            continue;
        drbd_md_set_flag(v, MDF_PRIMARY_IND, false);
        drbd_bm_writeback(v, NULL, NULL);
        drbd_md_sync(v, NULL, NULL);
    }
    drbd_send_state_all(r);
    drbd_state_changed(r);
}
