/* What users see: `drbdsetup status` text (plain, --verbose, --statistics),
 * `drbdsetup events2` lines, and the kernel-style log line of every state
 * change ("r0 bob: conn( Connecting -> Connected )").  Both come from one
 * comparison of each object's state with what was last reported. */
#include <stdarg.h>
#include <stdio.h>

#include "drbd/drbd_int.h"

/* ---- a growing string ---------------------------------------------------------------------- */

struct sbuf {
    struct umc_node *n;
    char *p;
    size_t len, cap;
    bool line_start;
    int indent;
};

static void sb_vadd(struct sbuf *s, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int need = vsnprintf(NULL, 0, fmt, ap);
    if (need < 0) {
        va_end(ap2);
        return;
    }
    if (s->len + (size_t)need + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap < s->len + (size_t)need + 1)
            cap *= 2;
        s->p = umc_realloc(s->n, s->p, cap);
        s->cap = cap;
    }
    vsnprintf(s->p + s->len, s->cap - s->len, fmt, ap2);
    s->len += (size_t)need;
    va_end(ap2);
}

static void sb_add(struct sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(struct sbuf *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sb_vadd(s, fmt, ap);
    va_end(ap);
}

/* drbdsetup's layout: a word starting a line gets `indent` spaces instead of its
 * leading blank; "\n" ends the line. */
static void word(struct sbuf *s, int indent, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void word(struct sbuf *s, int indent, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (strcmp(tmp, "\n") == 0) {
        sb_add(s, "\n");
        s->line_start = true;
        return;
    }
    if (s->line_start) {
        sb_add(s, "%*s%s", indent, "", tmp[0] == ' ' ? tmp + 1 : tmp);
        s->line_start = false;
    } else {
        sb_add(s, "%s", tmp);
    }
}

/* ---- drbdsetup status ----------------------------------------------------------------------- */

const char *drbd_susp_str(const struct drbd_resource *r)
{
    if (!r->have_quorum && r->cfg->opts.on_no_quorum == ONQ_SUSPEND_IO &&
        r->role == DRBD_ROLE_PRIMARY)
        return "quorum";
    for (int i = 0; i < r->nvols; i++)
        if (!dl_empty(&r->vols[i]->susp_wait))
            return "no-data";
    return "no";
}

static const char *resync_susp_str(const struct drbd_peer_dev *pd)
{
    static const char *const strs[] = {"no", "user", "peer", "user,peer", "dependency",
                                       "user,dependency", "peer,dependency", "user,peer,dependency"};
    return strs[(pd->pause_user ? 1 : 0) | (pd->pause_peer ? 2 : 0) | (pd->pause_dep ? 4 : 0)];
}

static bool show_done(const struct drbd_peer_dev *pd, double *done)
{
    bool verify = pd->repl == DRBD_R_VERIFY_S || pd->repl == DRBD_R_VERIFY_T;
    if (!verify && (pd->repl < DRBD_R_SYNC_SOURCE || pd->repl > DRBD_R_PAUSED_SYNC_T))
        return false;
    if (!pd->rs_total)
        return false;
    uint64_t left = verify ? pd->ov_left * DRBD_BLOCK : drbd_pd_oos_bytes(pd);
    if (left > pd->rs_total)
        left = pd->rs_total;
    *done = 100.0 * (double)(pd->rs_total - left) / (double)pd->rs_total;
    return true;
}

static void status_resource(struct sbuf *s, const struct drbd_resource *r, bool verbose, bool stats)
{
    word(s, 0, "%s", r->cfg->name);
    if (verbose)
        word(s, 4, " node-id:%d", r->my_id);
    word(s, 4, " role:%s", drbd_role_name(r->role));
    const char *susp = drbd_susp_str(r);
    if (verbose || strcmp(susp, "no") != 0)
        word(s, 4, " suspended:%s", susp);
    if (stats && verbose) {
        word(s, 4, "\n");
        word(s, 4, " write-ordering:%s", r->cfg->disk.disk_flushes ? "flush" : "none");
    }
    word(s, 0, "\n");
}

static void status_device(struct sbuf *s, const struct drbd_volume *v, bool single, bool verbose,
                          bool stats)
{
    int indent = 2;
    if (verbose || !(single && v->vnr == 0)) {
        word(s, indent, "volume:%d", v->vnr);
        indent = 6;
        if (verbose)
            word(s, indent, " minor:%d", v->minor);
    }
    word(s, indent, " disk:%s", drbd_disk_name(v->disk));
    if (v->disk == DRBD_D_DISKLESS)
        word(s, indent, " client:%s", v->cfg->disk[0] ? "no" : "yes");
    if (verbose)
        word(s, indent, " backing_dev:%s", v->cfg->disk[0] ? v->cfg->disk : "none");
    if (verbose || !v->res->have_quorum)
        word(s, indent, " quorum:%s", v->res->have_quorum ? "yes" : "no");
    if (verbose)
        word(s, indent, " open:%s", v->bdev->openers ? "yes" : "no");
    indent = 6;
    if (stats) {
        word(s, indent, "\n");
        if (verbose)
            word(s, indent, " size:%llu", (unsigned long long)(v->bdev->size >> 10));
        word(s, indent, " read:%llu", (unsigned long long)(v->read_bytes >> 10));
        word(s, indent, " written:%llu", (unsigned long long)(v->written_bytes >> 10));
        if (verbose) {
            word(s, indent, " al-writes:%llu", (unsigned long long)v->al_writes);
            word(s, indent, " bm-writes:%llu", (unsigned long long)v->bm_writes);
            word(s, indent, " upper-pending:%u", v->upper_pending);
            word(s, indent, " lower-pending:%u", v->lower_pending);
            word(s, indent, " al-suspended:no");
        }
    }
    if (verbose)
        word(s, indent, " blocked:no");
    word(s, indent, "\n");
}

static uint32_t pd_pending(const struct drbd_peer_dev *pd)
{
    const struct drbd_conn *c = pd->c;
    return (uint32_t)(c->tl_next - c->tl_base);
}

static void status_peer_device(struct sbuf *s, const struct drbd_peer_dev *pd, bool single,
                               bool verbose, bool stats)
{
    int indent = 4;
    if (verbose || !(single && pd->v->vnr == 0)) {
        word(s, indent, "volume:%d", pd->v->vnr);
        indent = 8;
    }
    if (verbose || pd->repl > DRBD_R_ESTABLISHED) {
        word(s, indent, " replication:%s", drbd_repl_name(pd->repl));
        indent = 8;
    }
    if (verbose || stats || pd->repl != DRBD_R_OFF || pd->peer_disk != DRBD_D_UNKNOWN) {
        word(s, indent, " peer-disk:%s", drbd_disk_name(pd->peer_disk));
        if (pd->peer_disk == DRBD_D_DISKLESS)
            word(s, indent, " peer-client:no");
        indent = 8;
        double done;
        if (show_done(pd, &done))
            word(s, indent, " done:%.2f", done);
        if (verbose || pd->pause_user || pd->pause_peer || pd->pause_dep)
            word(s, indent, " resync-suspended:%s", resync_susp_str(pd));
        if (stats) {
            word(s, indent, "\n");
            word(s, indent, " received:%llu", (unsigned long long)(pd->recv_bytes >> 10));
            word(s, indent, " sent:%llu", (unsigned long long)(pd->sent_bytes >> 10));
            uint64_t oos = drbd_pd_oos_bytes(pd);
            if (verbose || oos)
                word(s, indent, " out-of-sync:%llu", (unsigned long long)(oos >> 10));
            if (verbose) {
                word(s, indent, " pending:%u", pd_pending(pd));
                word(s, indent, " unacked:0");
            }
        }
    }
    word(s, 0, "\n");
}

static void status_connection(struct sbuf *s, const struct drbd_conn *c, bool single, bool verbose,
                              bool stats)
{
    word(s, 2, "%s", c->name);
    if (verbose)
        word(s, 6, " node-id:%d", c->peer_id);
    if (verbose || c->cstate != DRBD_C_CONNECTED)
        word(s, 6, " connection:%s", drbd_conn_name(c->cstate));
    if (verbose || c->cstate == DRBD_C_CONNECTED)
        word(s, 6, " role:%s", drbd_role_name(c->peer_role));
    if (verbose)
        word(s, 6, " congested:no");
    word(s, 0, "\n");
    if (verbose || stats || c->cstate == DRBD_C_CONNECTED)
        for (int i = 0; i < c->res->nvols; i++)
            status_peer_device(s, &c->pds[i], single, verbose, stats);
}

char *drbd_status(struct drbd *d, const char *resource, unsigned flags)
{
    struct sbuf s = {.n = d->node, .line_start = true};
    bool verbose = flags & DRBD_STATUS_VERBOSE, stats = flags & DRBD_STATUS_STATISTICS;
    bool found = false;
    for (int i = 0; i < d->nres; i++) {
        const struct drbd_resource *r = d->res[i];
        if (resource && strcmp(resource, r->cfg->name) != 0)
            continue;
        if (!r->up)
            continue;
        found = true;
        bool single = r->nvols == 1;
        status_resource(&s, r, verbose, stats);
        for (int j = 0; j < r->nvols; j++)
            status_device(&s, r->vols[j], single, verbose, stats);
        for (int j = 0; j < r->nconns; j++)
            status_connection(&s, r->conns[j], single, verbose, stats);
        word(&s, 0, "\n");
    }
    if (!found && resource)
        sb_add(&s, "%s: No such resource\n", resource);
    if (!s.p)
        sb_add(&s, "%s", "");
    return s.p;
}

/* ---- events2 ----------------------------------------------------------------------------------- */

struct drbd_events *drbd_events_open(struct drbd *d, bool now, drbd_event_fn fn, void *arg)
{
    struct drbd_events *ev = umc_alloc(d->node, sizeof(*ev));
    ev->d = d;
    ev->fn = fn;
    ev->arg = arg;
    struct drbd_events **pp = &d->events;
    while (*pp)
        pp = &(*pp)->next;
    *pp = ev;
    if (now) {
        for (int i = 0; i < d->nres; i++)
            if (d->res[i]->up)
                drbd_events_resource(d->res[i], "exists"); /* only to this one? see below */
        fn(arg, "exists -");
    }
    return ev;
}

void drbd_events_close(struct drbd_events *ev)
{
    if (!ev)
        return;
    struct drbd *d = ev->d;
    for (struct drbd_events **pp = &d->events; *pp; pp = &(*pp)->next)
        if (*pp == ev) {
            *pp = ev->next;
            break;
        }
    umc_free(d->node, ev);
}

void drbd_events_emit(struct drbd *d, const char *line)
{
    for (struct drbd_events *ev = d->events, *next; ev; ev = next) {
        next = ev->next; /* a listener may close itself */
        ev->fn(ev->arg, line);
    }
}

static void emit(struct drbd_resource *r, struct drbd_events *only, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void emit(struct drbd_resource *r, struct drbd_events *only, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (only)
        only->fn(only->arg, line);
    else
        drbd_events_emit(r->d, line);
}

static const char *quorum_str(const struct drbd_resource *r) { return r->have_quorum ? "yes" : "no"; }

static void full_lines(struct drbd_resource *r, const char *action, struct drbd_events *only)
{
    const char *name = r->cfg->name;
    bool destroy = strcmp(action, "destroy") == 0;
    if (destroy) {
        for (int i = 0; i < r->nconns; i++)
            for (int j = 0; j < r->nvols; j++)
                emit(r, only, "destroy peer-device name:%s peer-node-id:%d conn-name:%s volume:%d",
                     name, r->conns[i]->peer_id, r->conns[i]->name, r->vols[j]->vnr);
        for (int i = 0; i < r->nconns; i++)
            emit(r, only, "destroy connection name:%s peer-node-id:%d conn-name:%s", name,
                 r->conns[i]->peer_id, r->conns[i]->name);
        for (int j = 0; j < r->nvols; j++)
            emit(r, only, "destroy device name:%s volume:%d", name, r->vols[j]->vnr);
        emit(r, only, "destroy resource name:%s", name);
        return;
    }
    emit(r, only, "%s resource name:%s role:%s suspended:%s", action, name, drbd_role_name(r->role),
         drbd_susp_str(r));
    for (int j = 0; j < r->nvols; j++) {
        const struct drbd_volume *v = r->vols[j];
        emit(r, only, "%s device name:%s volume:%d minor:%d backing_dev:%s disk:%s client:%s "
             "quorum:%s", action, name, v->vnr, v->minor, v->cfg->disk[0] ? v->cfg->disk : "none",
             drbd_disk_name(v->disk), v->cfg->disk[0] ? "no" : "yes", quorum_str(r));
    }
    for (int i = 0; i < r->nconns; i++) {
        const struct drbd_conn *c = r->conns[i];
        emit(r, only, "%s connection name:%s peer-node-id:%d conn-name:%s connection:%s role:%s",
             action, name, c->peer_id, c->name, drbd_conn_name(c->cstate),
             drbd_role_name(c->peer_role));
    }
    for (int i = 0; i < r->nconns; i++)
        for (int j = 0; j < r->nvols; j++) {
            const struct drbd_peer_dev *pd = &r->conns[i]->pds[j];
            emit(r, only, "%s peer-device name:%s peer-node-id:%d conn-name:%s volume:%d "
                 "replication:%s peer-disk:%s peer-client:no resync-suspended:%s", action, name,
                 pd->c->peer_id, pd->c->name, pd->v->vnr, drbd_repl_name(pd->repl),
                 drbd_disk_name(pd->peer_disk), resync_susp_str(pd));
        }
}

static void remember_all(struct drbd_resource *r)
{
    r->shown.valid = true;
    r->shown.role = r->role;
    r->shown.susp = drbd_susp_str(r);
    for (int j = 0; j < r->nvols; j++) {
        struct drbd_volume *v = r->vols[j];
        v->shown.valid = true;
        v->shown.disk = v->disk;
        v->shown.quorum = r->have_quorum;
    }
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_conn *c = r->conns[i];
        c->shown.valid = true;
        c->shown.cstate = c->cstate;
        c->shown.role = c->peer_role;
        for (int j = 0; j < r->nvols; j++) {
            struct drbd_peer_dev *pd = &c->pds[j];
            pd->shown.valid = true;
            pd->shown.repl = pd->repl;
            pd->shown.peer_disk = pd->peer_disk;
            pd->shown.susp_user = pd->pause_user;
            pd->shown.susp_peer = pd->pause_peer;
            pd->shown.susp_dep = pd->pause_dep;
        }
    }
}

/* "create"/"destroy" to everyone; "exists" goes to the newest listener only. */
void drbd_events_resource(struct drbd_resource *r, const char *action)
{
    struct drbd_events *only = NULL;
    if (strcmp(action, "exists") == 0)
        for (only = r->d->events; only && only->next; only = only->next)
            ;
    full_lines(r, action, only);
    if (strcmp(action, "create") == 0)
        remember_all(r);
}

/* ---- the diff: one log line and one events2 line per changed object -------------------------- */

struct change {
    char log[256], ev[256];
    size_t llen, elen;
};

static void change_add(struct change *ch, const char *key, const char *logkey, const char *from,
                       const char *to)
{
    int n = snprintf(ch->log + ch->llen, sizeof(ch->log) - ch->llen, " %s( %s -> %s )", logkey,
                     from, to);
    if (n > 0 && ch->llen + (size_t)n < sizeof(ch->log))
        ch->llen += (size_t)n;
    n = snprintf(ch->ev + ch->elen, sizeof(ch->ev) - ch->elen, " %s:%s", key, to);
    if (n > 0 && ch->elen + (size_t)n < sizeof(ch->ev))
        ch->elen += (size_t)n;
}

static void change_flush(struct drbd_resource *r, struct change *ch, const char *who,
                         const char *evhead)
{
    if (!ch->llen)
        return;
    umc_info(r->node, DRBD_COMP, "%s:%s", who, ch->log);
    emit(r, NULL, "change %s%s", evhead, ch->ev);
}

static void diff_resource(struct drbd_resource *r)
{
    struct change ch = {0};
    const char *susp = drbd_susp_str(r);
    if (r->shown.role != r->role)
        change_add(&ch, "role", "role", drbd_role_name(r->shown.role), drbd_role_name(r->role));
    if (!r->shown.susp || strcmp(r->shown.susp, susp) != 0)
        change_add(&ch, "suspended", "susp", r->shown.susp ? r->shown.susp : "no", susp);
    r->shown.role = r->role;
    r->shown.susp = susp;
    char head[128];
    snprintf(head, sizeof(head), "resource name:%s", r->cfg->name);
    change_flush(r, &ch, r->cfg->name, head);
}

static void diff_volume(struct drbd_resource *r, struct drbd_volume *v)
{
    struct change ch = {0};
    if (v->shown.disk != v->disk)
        change_add(&ch, "disk", "disk", drbd_disk_name(v->shown.disk), drbd_disk_name(v->disk));
    if (v->shown.quorum != r->have_quorum)
        change_add(&ch, "quorum", "quorum", v->shown.quorum ? "yes" : "no", quorum_str(r));
    v->shown.disk = v->disk;
    v->shown.quorum = r->have_quorum;
    char who[128], head[160];
    snprintf(who, sizeof(who), "%s/%d %s", r->cfg->name, v->vnr, v->name);
    snprintf(head, sizeof(head), "device name:%s volume:%d minor:%d", r->cfg->name, v->vnr, v->minor);
    change_flush(r, &ch, who, head);
}

static void diff_conn(struct drbd_resource *r, struct drbd_conn *c)
{
    struct change ch = {0};
    if (c->shown.cstate != c->cstate)
        change_add(&ch, "connection", "conn", drbd_conn_name(c->shown.cstate),
                   drbd_conn_name(c->cstate));
    if (c->shown.role != c->peer_role)
        change_add(&ch, "role", "peer", drbd_role_name(c->shown.role), drbd_role_name(c->peer_role));
    c->shown.cstate = c->cstate;
    c->shown.role = c->peer_role;
    char who[128], head[192];
    snprintf(who, sizeof(who), "%s %s", r->cfg->name, c->name);
    snprintf(head, sizeof(head), "connection name:%s peer-node-id:%d conn-name:%s", r->cfg->name,
             c->peer_id, c->name);
    change_flush(r, &ch, who, head);
}

static void diff_peer_device(struct drbd_resource *r, struct drbd_peer_dev *pd)
{
    struct change ch = {0};
    if (pd->shown.repl != pd->repl)
        change_add(&ch, "replication", "repl", drbd_repl_name(pd->shown.repl),
                   drbd_repl_name(pd->repl));
    if (pd->shown.peer_disk != pd->peer_disk)
        change_add(&ch, "peer-disk", "pdsk", drbd_disk_name(pd->shown.peer_disk),
                   drbd_disk_name(pd->peer_disk));
    if (pd->shown.susp_user != pd->pause_user || pd->shown.susp_peer != pd->pause_peer ||
        pd->shown.susp_dep != pd->pause_dep) {
        struct drbd_peer_dev old = *pd;
        old.pause_user = pd->shown.susp_user;
        old.pause_peer = pd->shown.susp_peer;
        old.pause_dep = pd->shown.susp_dep;
        change_add(&ch, "resync-suspended", "resync-susp", resync_susp_str(&old),
                   resync_susp_str(pd));
    }
    pd->shown.repl = pd->repl;
    pd->shown.peer_disk = pd->peer_disk;
    pd->shown.susp_user = pd->pause_user;
    pd->shown.susp_peer = pd->pause_peer;
    pd->shown.susp_dep = pd->pause_dep;
    char who[160], head[224];
    snprintf(who, sizeof(who), "%s/%d %s %s", r->cfg->name, pd->v->vnr, pd->v->name, pd->c->name);
    snprintf(head, sizeof(head), "peer-device name:%s peer-node-id:%d conn-name:%s volume:%d",
             r->cfg->name, pd->c->peer_id, pd->c->name, pd->v->vnr);
    change_flush(r, &ch, who, head);
}

void drbd_events_diff(struct drbd_resource *r)
{
    if (!r->up || !r->shown.valid)
        return;
    diff_resource(r);
    for (int i = 0; i < r->nconns; i++)
        diff_conn(r, r->conns[i]);
    for (int j = 0; j < r->nvols; j++)
        diff_volume(r, r->vols[j]);
    for (int i = 0; i < r->nconns; i++)
        for (int j = 0; j < r->nvols; j++)
            diff_peer_device(r, &r->conns[i]->pds[j]);
}
