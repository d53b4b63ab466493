/* Checks over drbd state: no two primaries (unless allowed), resync liveness
 * (a resync that should run makes progress and ends), "synced within T
 * after ACTION", conditions for wait-for/assert, and byte-identical replicas
 * whenever drbd says two disks are in sync. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim/payload.h"
#include "sim/sim_drbd.h"

/* ---- two primaries ------------------------------------------------------------------------ */

/* Connected and replicating: a connection still in its handshake (where a
 * split brain is found and dropped) has its replication Off. */
static bool peer_connected(const struct drbd_volume_info *v, const char *peer)
{
    for (int i = 0; i < v->npeers; i++)
        if (!strcmp(v->peers[i].name, peer))
            return v->peers[i].conn == DRBD_C_CONNECTED && v->peers[i].repl != DRBD_R_OFF;
    return false;
}

static void check_resource_roles(struct sim *s, const struct scn_resource *r)
{
    bool quorum = sdrbd_has_quorum_policy(r);
    struct drbd_volume_info a, b;
    for (size_t i = 0; i < s->nnodes; i++) {
        if (sdrbd_volume(s->nodes[i].drbd, r->name, 0, &a) || a.role != DRBD_ROLE_PRIMARY)
            continue;
        for (size_t j = i + 1; j < s->nnodes; j++) {
            if (sdrbd_volume(s->nodes[j].drbd, r->name, 0, &b) || b.role != DRBD_ROLE_PRIMARY)
                continue;
            const char *na = s->nodes[i].decl->name, *nb = s->nodes[j].decl->name;
            /* both must see the connection: a side that has not yet noticed
             * a partition still says Connected while the other, which has,
             * may be promoted (no fencing, no quorum: a split brain) */
            bool connected = peer_connected(&a, nb) && peer_connected(&b, na);
            bool both_quorate = quorum && a.quorum && b.quorum;
            if (connected || both_quorate)
                sim_fail(s, "two-primaries", nb, -1, "%s: %s and %s are both Primary%s", r->name, na, nb,
                         connected ? " and connected" : " and both have quorum");
        }
    }
}

void sdrbd_check_roles(struct sim *s)
{
    if (s->two_primaries_ok)
        return;
    for (size_t i = 0; i < s->scn->nresources && !sim_stopped(s); i++)
        if (!sdrbd_allows_two_primaries(&s->scn->resources[i]))
            check_resource_roles(s, &s->scn->resources[i]);
}

/* ---- resync liveness ----------------------------------------------------------------------- */

static bool resync_state(enum drbd_repl_state r)
{
    return r == DRBD_R_STARTING_SYNC_S || r == DRBD_R_STARTING_SYNC_T || r == DRBD_R_WF_BITMAP_S ||
           r == DRBD_R_WF_BITMAP_T || r == DRBD_R_WF_SYNC_UUID || r == DRBD_R_SYNC_SOURCE ||
           r == DRBD_R_SYNC_TARGET;
}

static bool has_data(enum drbd_disk_state d)
{
    return d == DRBD_D_INCONSISTENT || d == DRBD_D_OUTDATED || d == DRBD_D_CONSISTENT ||
           d == DRBD_D_UP_TO_DATE;
}

/* Connected, both disks there, and something to move (or moving). */
static bool needs_sync(const struct drbd_volume_info *v, const struct drbd_peer_info *p)
{
    if (p->conn != DRBD_C_CONNECTED || !has_data(v->disk) || !has_data(p->disk))
        return false;
    if (p->repl == DRBD_R_PAUSED_SYNC_S || p->repl == DRBD_R_PAUSED_SYNC_T ||
        p->repl == DRBD_R_VERIFY_S || p->repl == DRBD_R_VERIFY_T || p->repl == DRBD_R_AHEAD ||
        p->repl == DRBD_R_BEHIND)
        return false;
    return p->out_of_sync > 0 || resync_state(p->repl);
}

static struct sdrbd_sync_watch *watch_for(struct sdrbd_node *dn, const char *res, int vnr, const char *peer)
{
    for (size_t i = 0; i < dn->nwatch; i++)
        if (dn->watch[i].vnr == vnr && !strcmp(dn->watch[i].res, res) && !strcmp(dn->watch[i].peer, peer))
            return &dn->watch[i];
    if (dn->nwatch == dn->capwatch) {
        dn->capwatch = dn->capwatch ? dn->capwatch * 2 : 8;
        dn->watch = realloc(dn->watch, dn->capwatch * sizeof(*dn->watch));
        if (!dn->watch)
            abort();
    }
    struct sdrbd_sync_watch *w = &dn->watch[dn->nwatch++];
    memset(w, 0, sizeof(*w));
    snprintf(w->res, sizeof(w->res), "%s", res);
    snprintf(w->peer, sizeof(w->peer), "%s", peer);
    w->vnr = vnr;
    return w;
}

void sdrbd_watch_forget(struct sdrbd_node *dn) { dn->nwatch = 0; }

static void watch_peer(struct sim *s, struct sdrbd_node *dn, const struct drbd_volume_info *v,
                       const struct drbd_peer_info *p)
{
    struct sdrbd_sync_watch *w = watch_for(dn, v->resource, v->volume, p->name);
    mte_time_t now = mte_now(s->e);
    if (p->conn != DRBD_C_CONNECTED)
        w->verify_hold = false;
    bool need = needs_sync(v, p) && !w->verify_hold;
    if (!need) {
        w->needs_sync = false;
        return;
    }
    if (!w->needs_sync || p->out_of_sync < w->last_oos)
        w->progress_at = now;
    w->needs_sync = true;
    w->last_oos = p->out_of_sync;
    if (s->stall_bound && now - w->progress_at >= s->stall_bound) {
        char tb[32];
        scn_format_time(s->stall_bound, tb, sizeof(tb));
        sim_fail(s, "resync-stuck", dn->sn->decl->name, -1,
                 "%s/%d: %s is %s with %s, %llu bytes out of sync, no progress for %s", v->resource,
                 v->volume, dn->sn->decl->name, drbd_repl_name(p->repl), p->name,
                 (unsigned long long)p->out_of_sync, tb);
    }
}

static void watch_volume(void *arg, const struct drbd_volume_info *v)
{
    struct sdrbd_node *dn = arg;
    struct sim *s = dn->sn->sim;
    for (int i = 0; i < v->npeers && !sim_stopped(s); i++)
        watch_peer(s, dn, v, &v->peers[i]);
}

/* ---- synced -------------------------------------------------------------------------------- */

struct synced_ctx {
    const char *res;
    char *why;
    size_t len;
    bool ok;
    struct sim *s;
    const struct sim_node *self;
};

/* The peer's own view of res, if it runs it. */
static bool peer_running_with(struct sim *s, const char *peer, const char *res,
                              struct drbd_volume_info *out)
{
    struct sim_node *pn = sim_node_find(s, peer);
    return pn && pn->n && !sdrbd_volume(pn->drbd, res, 0, out);
}

/* DRBD leaves a split brain its after-sb policies cannot resolve
 * StandAlone.  One the scenario made (a failover away from a node that had
 * acknowledged writes the new primary lacks: both data sets are real) owes
 * no resync; any other StandAlone connection does. */
static bool split_brain_owes_nothing(const struct synced_ctx *c, const struct drbd_peer_info *p)
{
    if (p->conn != DRBD_C_STANDALONE || !strstr(p->last_drop, "Split-Brain detected but unresolved"))
        return false;
    const struct sim_node *pn = sim_node_find(c->s, p->name);
    return c->self->diverged || (pn && pn->diverged);
}

static void synced_volume(void *arg, const struct drbd_volume_info *v)
{
    struct synced_ctx *c = arg;
    if (!c->ok || (c->res[0] && strcmp(c->res, v->resource)))
        return;
    /* a diskless client is in sync once connected to every disk */
    if (v->disk != DRBD_D_UP_TO_DATE && !(v->client && v->disk == DRBD_D_DISKLESS)) {
        c->ok = false;
        snprintf(c->why, c->len, "%s is %s", v->resource, drbd_disk_name(v->disk));
        return;
    }
    for (int i = 0; i < v->npeers; i++) {
        const struct drbd_peer_info *p = &v->peers[i];
        struct drbd_volume_info pv;
        if (!peer_running_with(c->s, p->name, v->resource, &pv) || split_brain_owes_nothing(c, p))
            continue;
        bool disk_ok = p->disk == DRBD_D_UP_TO_DATE || (pv.client && p->disk == DRBD_D_DISKLESS);
        if (p->conn != DRBD_C_CONNECTED || p->repl != DRBD_R_ESTABLISHED || p->out_of_sync || !disk_ok) {
            c->ok = false;
            /* (why it is down tells one stall from another, for a shrink too) */
            bool down = p->conn != DRBD_C_CONNECTED && p->last_drop[0];
            snprintf(c->why, c->len, "%s with %s: %s %s peer-disk %s, %llu bytes out of sync%s%s%s",
                     v->resource, p->name, drbd_conn_name(p->conn), drbd_repl_name(p->repl),
                     drbd_disk_name(p->disk), (unsigned long long)p->out_of_sync,
                     down ? " (last dropped: " : "", down ? p->last_drop : "", down ? ")" : "");
            return;
        }
    }
}

bool sdrbd_all_synced(struct sim *s, const char *res, char *why, size_t len)
{
    for (size_t i = 0; i < s->nnodes; i++) {
        struct sdrbd_node *dn = s->nodes[i].drbd;
        if (!dn || !dn->d)
            continue;
        struct synced_ctx c = {res ? res : "", why, len, true, s, &s->nodes[i]};
        drbd_foreach_volume(dn->d, synced_volume, &c);
        if (!c.ok) {
            size_t n = strlen(why);
            snprintf(why + n, len - n, " (on %s)", s->nodes[i].decl->name);
            return false;
        }
    }
    return true;
}

/* ---- "synced within T after ACTION" --------------------------------------------------------- */

void sdrbd_note_action(struct sim *s, const struct scn_action *a)
{
    if (a->verb == V_VERIFY) {
        struct sim_node *sn = sim_node_find(s, a->node);
        struct sdrbd_node *dn = sn ? sn->drbd : NULL;
        for (size_t i = 0; dn && i < dn->nwatch; i++)
            if ((!a->res[0] || !strcmp(a->res, dn->watch[i].res)) &&
                (!a->peer[0] || !strcmp(a->peer, dn->watch[i].peer)))
                dn->watch[i].verify_hold = true;
    }
    for (size_t i = 0; i < s->scn->nexpects; i++) {
        const struct scn_expect *e = &s->scn->expects[i];
        if (e->kind != E_SYNCED_AFTER || e->off || e->after_verb != a->verb ||
            (e->after_node[0] && strcmp(e->after_node, a->node)))
            continue;
        struct sdrbd_deadline *d = calloc(1, sizeof(*d));
        if (!d)
            abort();
        d->due = scn_liveness_due(s->scn, mte_now(s->e), e->bound);
        d->line = e->line;
        scn_format_action(a, d->what, sizeof(d->what));
        d->next = s->deadlines;
        s->deadlines = d;
    }
}

mte_time_t sdrbd_last_due(const struct sim *s)
{
    mte_time_t last = 0;
    for (const struct sdrbd_deadline *d = s->deadlines; d; d = d->next)
        last = d->due > last ? d->due : last;
    return last;
}

/* at_end: the run is over, so a promise not kept yet is broken. */
void sdrbd_check_deadlines(struct sim *s, bool at_end)
{
    char why[384] = "";
    if (!s->deadlines || sdrbd_all_synced(s, "", why, sizeof(why))) {
        sdrbd_deadlines_free(s);
        return;
    }
    /* a cut the script left standing is the schedule's doing, not DRBD's:
     * say so (and a shrink that drops a heal is not the same failure) */
    const char *a, *b;
    char cut[160] = "";
    if (faultnet_first_cut(s->net, &a, &b))
        snprintf(cut, sizeof(cut), " (the link %s-%s is still cut)", a, b);
    for (struct sdrbd_deadline *d = s->deadlines; d; d = d->next) {
        if (mte_now(s->e) < d->due && !at_end)
            continue;
        sim_fail(s, "resync-done", NULL, -1, "%s:%d: not in sync %s %.3fs after '%s': %s%s",
                 s->scn->path, d->line, at_end ? "at the end of the run, due by" : "by",
                 (double)d->due / MTE_SEC, d->what, why, cut);
        return;
    }
}

void sdrbd_deadlines_free(struct sim *s)
{
    while (s->deadlines) {
        struct sdrbd_deadline *d = s->deadlines;
        s->deadlines = d->next;
        free(d);
    }
}

void sdrbd_monitor(struct sim *s)
{
    sdrbd_check_commands(s);
    sdrbd_check_roles(s);
    for (size_t i = 0; i < s->nnodes && !sim_stopped(s); i++) {
        struct sdrbd_node *dn = s->nodes[i].drbd;
        if (dn && dn->d)
            drbd_foreach_volume(dn->d, watch_volume, dn);
    }
    if (!sim_stopped(s))
        sdrbd_check_deadlines(s, false);
}

/* ---- conditions ------------------------------------------------------------------------------- */

static bool term_matches(const struct scn_cond_term *t, const struct drbd_volume_info *v,
                         const struct drbd_peer_info *p, char *seen, size_t len)
{
    const char *k = t->key;
    char buf[32];
    const char *have = NULL;
    if (!strcmp(k, "role")) have = drbd_role_name(v->role);
    else if (!strcmp(k, "disk")) have = drbd_disk_name(v->disk);
    else if (!strcmp(k, "quorum")) have = v->quorum ? "yes" : "no";
    else if (!strcmp(k, "suspended")) have = v->suspended ? "yes" : "no";
    else if (!strcmp(k, "connection")) have = p ? drbd_conn_name(p->conn) : "none";
    else if (!strcmp(k, "replication")) have = p ? drbd_repl_name(p->repl) : "none";
    else if (!strcmp(k, "peer-disk")) have = p ? drbd_disk_name(p->disk) : "none";
    else if (!strcmp(k, "peer-role")) have = p ? drbd_role_name(p->role) : "none";
    else if (!strcmp(k, "out-of-sync") || !strcmp(k, "resync-total")) {
        uint64_t n = !p ? 0 : !strcmp(k, "out-of-sync") ? p->out_of_sync : p->resync_total;
        snprintf(buf, sizeof(buf), "%llu", (unsigned long long)n);
        have = buf;
        bool ok = t->cmp == '<' ? n <= t->num : t->cmp == '>' ? n >= t->num : false;
        if (t->cmp != '=' || !strcmp(t->value, ">0")) {
            ok = ok || (!strcmp(t->value, ">0") && n > 0);
            if (!ok)
                snprintf(seen, len, "%s=%llu", k, (unsigned long long)n);
            return ok;
        }
    }
    if (have && !strcasecmp(have, t->value))
        return true;
    snprintf(seen, len, "%s=%s", k, have ? have : "?");
    return false;
}

static bool state_holds(struct sim *s, const struct scn_cond *c, char *why, size_t len)
{
    struct sim_node *sn = sim_node_find(s, c->node);
    if (!sn || !sn->n) {
        snprintf(why, len, "%s is down", c->node);
        return false;
    }
    const char *res = c->res[0] ? c->res : NULL;
    for (size_t i = 0; !res && i < s->scn->nresources; i++)
        if (scn_resource_has_node(&s->scn->resources[i], c->node))
            res = s->scn->resources[i].name;
    struct drbd_volume_info v;
    if (!res || sdrbd_volume(sn->drbd, res, 0, &v)) {
        snprintf(why, len, "%s: %s is not up", c->node, res ? res : "no resource");
        return false;
    }
    const struct drbd_peer_info *p = NULL;
    for (int i = 0; c->peer[0] && i < v.npeers; i++)
        if (!strcmp(v.peers[i].name, c->peer))
            p = &v.peers[i];
    for (unsigned i = 0; i < c->nterms; i++) {
        char seen[64];
        if (!term_matches(&c->terms[i], &v, p, seen, sizeof(seen))) {
            snprintf(why, len, "%s %s%s%s: wanted %s=%s, is %s", c->node, res, p ? " with " : "",
                     p ? c->peer : "", c->terms[i].key, c->terms[i].value, seen);
            return false;
        }
    }
    return true;
}

static bool all_connected(struct sim *s, const char *res, char *why, size_t len)
{
    struct drbd_volume_info v, pv;
    for (size_t i = 0; i < s->nnodes; i++) {
        for (size_t r = 0; r < s->scn->nresources; r++) {
            const char *name = s->scn->resources[r].name;
            if ((res[0] && strcmp(res, name)) || sdrbd_volume(s->nodes[i].drbd, name, 0, &v))
                continue;
            for (int k = 0; k < v.npeers; k++) {
                if (!peer_running_with(s, v.peers[k].name, name, &pv) ||
                    v.peers[k].conn == DRBD_C_CONNECTED)
                    continue;
                snprintf(why, len, "%s: %s with %s is %s", name, s->nodes[i].decl->name, v.peers[k].name,
                         drbd_conn_name(v.peers[k].conn));
                return false;
            }
        }
    }
    return true;
}

bool sdrbd_cond_holds(struct sim *s, const struct scn_cond *c, char *why, size_t len)
{
    switch (c->kind) {
    case SCN_COND_SYNCED: return sdrbd_all_synced(s, c->res, why, len);
    case SCN_COND_CONNECTED: return all_connected(s, c->res, why, len);
    default: return state_holds(s, c, why, len);
    }
}

/* ---- replicas ------------------------------------------------------------------------------------- */

/* In sync as both see it: connected, Established, nothing out of sync either way, UpToDate. */
static bool pair_in_sync(const struct drbd_volume_info *a, const struct drbd_volume_info *b,
                         const char *na, const char *nb)
{
    const struct drbd_peer_info *pa = NULL, *pb = NULL;
    for (int i = 0; i < a->npeers; i++)
        if (!strcmp(a->peers[i].name, nb))
            pa = &a->peers[i];
    for (int i = 0; i < b->npeers; i++)
        if (!strcmp(b->peers[i].name, na))
            pb = &b->peers[i];
    return pa && pb && a->disk == DRBD_D_UP_TO_DATE && b->disk == DRBD_D_UP_TO_DATE &&
           pa->conn == DRBD_C_CONNECTED && pb->conn == DRBD_C_CONNECTED &&
           pa->repl == DRBD_R_ESTABLISHED && pb->repl == DRBD_R_ESTABLISHED && !pa->out_of_sync &&
           !pb->out_of_sync;
}

static void compare_pair(struct sim *s, struct sim_node *x, struct sim_node *y,
                         const struct drbd_volume_info *a, const struct drbd_volume_info *b, bool at_end)
{
    const char *na = x->decl->name, *nb = y->decl->name;
    if (!pair_in_sync(a, b, na, nb)) {
        if (!at_end)
            sim_fail(s, "replicas-not-synced", nb, -1, "%s: %s and %s are not in sync", a->resource, na, nb);
        return;
    }
    struct sim_disk *da = sim_disk_find(x, a->backing), *db = sim_disk_find(y, b->backing);
    if (!da || !db)
        return;
    uint64_t size = a->size < b->size ? a->size : b->size;
    uint64_t off = simdisk_compare(da->media, db->media, 0, size);
    if (off != UINT64_MAX) {
        unsigned char sa[512], sb[512];
        char ha[80], hb[80];
        simdisk_read(da->media, off / 512 * 512, sa, sizeof(sa));
        simdisk_read(db->media, off / 512 * 512, sb, sizeof(sb));
        payload_describe(sa, ha, sizeof(ha));
        payload_describe(sb, hb, sizeof(hb));
        sim_fail(s, "replicas-differ", nb, (int64_t)(off / 512),
                 "%s: %s and %s say they are in sync, but their data differs at byte %llu (%s has %s, "
                 "%s has %s)", a->resource, na, nb, (unsigned long long)off, na, ha, nb, hb);
    }
    else
        sim_trace(s, "%s: %s and %s hold identical data (%llu bytes)", a->resource, na, nb,
                  (unsigned long long)size);
}

void sdrbd_check_replicas(struct sim *s, const char *res, bool at_end)
{
    struct drbd_volume_info a, b;
    for (size_t r = 0; r < s->scn->nresources && !sim_stopped(s); r++) {
        const char *name = s->scn->resources[r].name;
        if (res[0] && strcmp(res, name))
            continue;
        /* (a diskless client holds no replica) */
        for (size_t i = 0; i < s->nnodes && !sim_stopped(s); i++) {
            if (sdrbd_volume(s->nodes[i].drbd, name, 0, &a) || a.client)
                continue;
            for (size_t j = i + 1; j < s->nnodes && !sim_stopped(s); j++)
                if (!sdrbd_volume(s->nodes[j].drbd, name, 0, &b) && !b.client)
                    compare_pair(s, &s->nodes[i], &s->nodes[j], &a, &b, at_end);
        }
    }
}

void sdrbd_run_free(struct sim *s) { sdrbd_deadlines_free(s); }

