/* The module: struct drbd per node, configuration, bringing a resource's
 * runtime objects up and tearing them down, lower I/O bookkeeping, the drbdN
 * bdevs and introspection. */
#include <stdio.h>

#include "drbd/drbd_int.h"

void drbd_res_cfg_free(struct umc_node *n, struct drbd_res_cfg *cfg);

/* ---- lower I/O -------------------------------------------------------------------------- */

struct drbd_lio *drbd_lio_new(struct drbd *d, void (*done)(struct drbd_lio *lio), void *ctx)
{
    struct drbd_lio *lio = umc_alloc(d->node, sizeof(*lio));
    lio->d = d;
    lio->node = d->node;
    lio->done = done;
    lio->ctx = ctx;
    dl_init(&lio->link);
    return lio;
}

void drbd_lio_free(struct drbd_lio *lio)
{
    struct umc_node *n = lio->node;
    for (int i = 0; i < 3; i++)
        umc_free(n, lio->own[i]);
    umc_free(n, lio);
}

void drbd_lio_orphan(struct drbd_lio *lio, void *buf0, void *buf1)
{
    void *bufs[2] = {buf0, buf1};
    lio->orphan = true;
    for (int b = 0; b < 2; b++)
        for (int i = 0; bufs[b] && i < 3; i++)
            if (!lio->own[i]) {
                lio->own[i] = bufs[b];
                break;
            }
}

static void lio_complete(struct umc_bio *bio)
{
    struct drbd_lio *lio = bio->priv;
    dl_del(&lio->link);
    if (lio->orphan) {
        for (int i = 0; i < 2; i++)
            umc_free(lio->node, lio->ctx_own[i]);
        drbd_lio_free(lio);
        return;
    }
    lio->done(lio);
}

void drbd_lio_submit(struct drbd_lio *lio, struct umc_bdev *b, enum umc_bio_op op, uint32_t flags,
                     uint64_t off, uint64_t len, void *buf, struct iovec *iov, unsigned iovcnt)
{
    if (!iov && op != UMC_OP_FLUSH) {
        lio->iov1 = (struct iovec){.iov_base = buf, .iov_len = (size_t)len};
        iov = &lio->iov1;
        iovcnt = 1;
    }
    lio->bio = (struct umc_bio){.op = op, .flags = flags, .offset = off, .length = len,
                                .iov = iov, .iovcnt = iovcnt, .done = lio_complete, .priv = lio};
    dl_add_tail(&lio->d->lios, &lio->link);
    umc_bio_submit(b, &lio->bio);
}

/* ---- data buffers ------------------------------------------------------------------------ */

#define POOL_MIN (64u << 10)

static bool pooled(size_t len) { return len > POOL_MIN && len <= DRBD_POOL_BUF; }

void *drbd_buf_get(struct drbd *d, size_t len)
{
    if (!pooled(len))
        return umc_alloc(d->node, len ? len : 1);
    if (d->npool)
        return d->pool[--d->npool];
    return umc_alloc(d->node, DRBD_POOL_BUF);
}

void drbd_buf_put(struct drbd *d, void *p, size_t len)
{
    if (!p)
        return;
    if (pooled(len) && d->npool < (int)(sizeof(d->pool) / sizeof(d->pool[0])) && !d->freeing)
        d->pool[d->npool++] = p;
    else
        umc_free(d->node, p);
}

/* ---- module life -------------------------------------------------------------------------- */

struct drbd *drbd_new(struct umc_node *n, const char *my_host)
{
    struct drbd *d = umc_alloc(n, sizeof(*d));
    d->node = n;
    snprintf(d->my_host, sizeof(d->my_host), "%s", my_host ? my_host : umc_node_name(n));
    dl_init(&d->lios);
    dl_init(&d->cmds);
    umc_node_set_slot(n, UMC_SLOT_DRBD, d);
    return d;
}

struct drbd *drbd_of(struct umc_node *n) { return umc_node_slot(n, UMC_SLOT_DRBD); }

void drbd_free(struct drbd *d)
{
    if (!d)
        return;
    struct umc_node *n = d->node;
    d->freeing = true;
    drbd_cmds_teardown(d, NULL);
    /* I/O still in flight below us completes into orphans only */
    while (!dl_empty(&d->lios)) {
        struct drbd_lio *lio = dl_entry(d->lios.next, struct drbd_lio, link);
        lio->orphan = true;
        dl_del(&lio->link);
    }
    for (int i = 0; i < d->nres; i++) {
        struct drbd_resource *r = d->res[i];
        if (r->up)
            drbd_res_teardown(r);
        drbd_res_cfg_free(n, r->cfg);
        umc_free(n, r);
    }
    umc_free(n, d->res);
    while (d->npool)
        umc_free(n, d->pool[--d->npool]);
    while (d->events) {
        struct drbd_events *ev = d->events;
        d->events = ev->next;
        umc_free(n, ev);
    }
    if (umc_node_slot(n, UMC_SLOT_DRBD) == d)
        umc_node_set_slot(n, UMC_SLOT_DRBD, NULL);
    umc_free(n, d);
}

/* ---- configuration ------------------------------------------------------------------------- */

struct drbd_resource *drbd_res_find(struct drbd *d, const char *name)
{
    for (int i = 0; name && i < d->nres; i++)
        if (strcmp(d->res[i]->cfg->name, name) == 0)
            return d->res[i];
    return NULL;
}

int drbd_add_config(struct drbd *d, const char *text, const char *filename, char *err, size_t errlen)
{
    struct drbd_cfg_file f;
    int rc = drbd_config_parse(d->node, text, filename, &f, err, errlen);
    if (rc)
        return rc;
    for (int i = 0; i < f.nres; i++) {
        if (drbd_res_find(d, f.res[i]->name)) {
            if (err && errlen)
                snprintf(err, errlen, "%s:%d: resource %s already defined", f.res[i]->file,
                         f.res[i]->line, f.res[i]->name);
            drbd_config_free(d->node, &f);
            return -EINVAL;
        }
    }
    for (int i = 0; i < f.nres; i++) {
        struct drbd_resource *r = umc_alloc(d->node, sizeof(*r));
        r->d = d;
        r->node = d->node;
        r->cfg = f.res[i];
        r->my_host = -1;
        for (int h = 0; h < r->cfg->nhosts; h++)
            if (strcmp(r->cfg->hosts[h].name, d->my_host) == 0)
                r->my_host = h;
        d->res = umc_realloc(d->node, d->res, (size_t)(d->nres + 1) * sizeof(*d->res));
        d->res[d->nres++] = r;
        f.res[i] = NULL;
    }
    umc_free(d->node, f.res);
    return 0;
}

int drbd_check_config(struct umc_node *n, const char *text, const char *filename, char *err,
                      size_t errlen)
{
    struct drbd_cfg_file f;
    int rc = drbd_config_parse(n, text, filename, &f, err, errlen);
    if (!rc)
        drbd_config_free(n, &f);
    return rc;
}

/* ---- lookups --------------------------------------------------------------------------- */

struct drbd_conn *drbd_conn_by_name(struct drbd_resource *r, const char *host)
{
    for (int i = 0; host && i < r->nconns; i++)
        if (strcmp(r->conns[i]->name, host) == 0)
            return r->conns[i];
    return NULL;
}

struct drbd_conn *drbd_conn_by_id(struct drbd_resource *r, int node_id)
{
    for (int i = 0; i < r->nconns; i++)
        if (r->conns[i]->peer_id == node_id)
            return r->conns[i];
    return NULL;
}

struct drbd_volume *drbd_vol_by_vnr(struct drbd_resource *r, int vnr)
{
    for (int i = 0; i < r->nvols; i++)
        if (r->vols[i]->vnr == vnr)
            return r->vols[i];
    return NULL;
}

bool drbd_res_open_for_write(const struct drbd_resource *r)
{
    for (int i = 0; i < r->nvols; i++)
        if (r->vols[i]->bdev->writers)
            return true;
    return false;
}

bool drbd_res_opened(const struct drbd_resource *r)
{
    for (int i = 0; i < r->nvols; i++)
        if (r->vols[i]->bdev->openers)
            return true;
    return false;
}

struct drbd_bitmap *drbd_pd_bm(const struct drbd_peer_dev *pd)
{
    return pd->v->bm[pd->c->peer_id];
}

uint64_t drbd_pd_oos_bytes(const struct drbd_peer_dev *pd)
{
    const struct drbd_bitmap *bm = drbd_pd_bm(pd);
    return bm ? bm->set * DRBD_BLOCK : 0;
}

void drbd_vol_set_size(struct drbd_volume *v, uint64_t size)
{
    size = size / v->bdev->block_size * v->bdev->block_size;
    if (v->bdev->size != size) {
        umc_info(v->res->node, DRBD_COMP, "%s: size = %llu KiB", v->name,
                 (unsigned long long)(size >> 10));
        v->bdev->size = size;
    }
}

/* ---- the drbdN bdev ------------------------------------------------------------------------ */

static int drbd_bdev_open(struct umc_bdev *b, bool write);
static void drbd_bdev_release(struct umc_bdev *b, bool write);

static const struct umc_bdev_ops drbd_bdev_ops = {
    .submit = drbd_bdev_submit,
    .open = drbd_bdev_open,
    .release = drbd_bdev_release,
};

/* What a drbdN left registered after its resource went away answers. */
static void dead_submit(struct umc_bdev *b, struct umc_bio *bio) { umc_bio_complete(bio, -ENODEV); }
static int dead_open(struct umc_bdev *b, bool write) { return -ENODEV; }
static const struct umc_bdev_ops dead_bdev_ops = {.submit = dead_submit, .open = dead_open};

/* Opens follow DRBD 9: a writer on a Secondary promotes (auto-promote) or is
 * refused; a read-only open of a Secondary is allowed while its data is
 * UpToDate (reads are then served locally). */
/* ---- auto-promote: asked of the peers, as `primary` is -------------------------------------- */

#define AUTO_PROMOTE_GRACE (2 * MTE_SEC)

struct auto_promote {
    struct drbd *d;
    char res[UMC_NAME_MAX];
};

static void auto_promote_unclaimed(void *arg);

static void auto_promote_done(void *arg, int rc, const char *msg)
{
    struct auto_promote *ap = arg;
    struct drbd_resource *r = drbd_res_find(ap->d, ap->res);
    umc_free(ap->d->node, ap);
    if (!r)
        return;
    r->auto_promoting = false;
    if (rc || r->role != DRBD_ROLE_PRIMARY)
        return;
    for (int i = 0; i < r->nvols; i++)
        r->vols[i]->auto_promoted = true;
    umc_timer_init(r->node, &r->auto_promote_timer, auto_promote_unclaimed, r);
    umc_timer_arm_in(r->node, &r->auto_promote_timer, AUTO_PROMOTE_GRACE);
}

static bool peers_to_ask(const struct drbd_resource *r)
{
    for (int i = 0; i < r->nconns; i++)
        if (drbd_conn_established(r->conns[i]))
            return true;
    return false;
}

/* An open for writing promotes a Secondary (auto-promote).  With no peer to
 * ask, at once; else the peers vote first, as for `primary` (one may still
 * see another Primary we already lost): this open fails with EAGAIN, and
 * the next one, once they agreed, finds the device Primary. */
static int auto_promote(struct drbd_resource *r)
{
    char msg[160];
    if (!r->cfg->opts.auto_promote || !drbd_may_promote(r, false, msg, sizeof(msg)) ||
        drbd_peer_writes_landing(r))
        return -EROFS;
    if (!peers_to_ask(r)) {
        drbd_promote_now(r, false);
        for (int i = 0; i < r->nvols; i++)
            r->vols[i]->auto_promoted = true;
        return 0;
    }
    if (!r->auto_promoting && !r->twopc_cmd) {
        struct auto_promote *ap = umc_alloc(r->d->node, sizeof(*ap));
        *ap = (struct auto_promote){.d = r->d};
        snprintf(ap->res, sizeof(ap->res), "%s", r->cfg->name);
        r->auto_promoting = true;
        struct drbd_cmd cmd = {.verb = "primary", .resource = r->cfg->name, .volume = -1};
        drbd_command(r->d, &cmd, auto_promote_done, ap);
    }
    return -EAGAIN;
}

static int drbd_bdev_open(struct umc_bdev *b, bool write)
{
    struct drbd_volume *v = b->priv;
    struct drbd_resource *r = v->res;
    if (!r->up || r->going_down)
        return -ENODEV;
    if (r->role == DRBD_ROLE_PRIMARY)
        return 0;
    if (!write)
        return drbd_vol_readable_locally(v) ? 0 : -EMEDIUMTYPE;
    return auto_promote(r);
}

static void auto_demote(void *arg)
{
    struct drbd_resource *r = arg;
    r->auto_demote_wanted = false;
    if (!r->up || r->role != DRBD_ROLE_PRIMARY || drbd_res_opened(r))
        return;
    for (int i = 0; i < r->nvols; i++) {
        if (!r->vols[i]->auto_promoted)
            return;
        if (r->vols[i]->upper_pending) {
            r->auto_demote_wanted = true; /* drbd_auto_demote_check, when it drains */
            return;
        }
    }
    drbd_demote_now(r);
}

/* Auto-promoted for an opener that never came back. */
static void auto_promote_unclaimed(void *arg) { auto_demote(arg); }

/* I/O from above finished: a demotion waiting for it may go now. */
void drbd_auto_demote_check(struct drbd_resource *r)
{
    for (int i = 0; i < r->nvols; i++)
        if (r->vols[i]->upper_pending)
            return;
    if (r->auto_demote_wanted) {
        r->auto_demote_wanted = false;
        umc_defer(r->node, auto_demote, r);
    }
}

static void drbd_bdev_release(struct umc_bdev *b, bool write)
{
    struct drbd_volume *v = b->priv;
    if (v->res->up && !b->openers && v->auto_promoted)
        umc_defer(v->res->node, auto_demote, v->res);
}

/* ---- bringing a resource up -------------------------------------------------------------- */

static struct drbd_volume *vol_new(struct drbd_resource *r, int idx, const struct drbd_cfg_volume *cv)
{
    struct drbd_volume *v = umc_alloc(r->node, sizeof(*v));
    v->res = r;
    v->idx = idx;
    v->vnr = cv->vnr;
    v->minor = cv->minor;
    v->cfg = cv;
    snprintf(v->name, sizeof(v->name), "%s", cv->device);
    v->disk = DRBD_D_DISKLESS;
    dl_init(&v->active);
    dl_init(&v->waiting);
    dl_init(&v->reqs);
    dl_init(&v->preqs);
    dl_init(&v->uuid_wait);
    dl_init(&v->susp_wait);
    dl_init(&v->quorum_held);
    dl_init(&v->sb_waiters);
    dl_init(&v->bmw_waiters);
    v->bdev = umc_alloc(r->node, sizeof(*v->bdev));
    snprintf(v->bdev->name, sizeof(v->bdev->name), "%s", cv->device);
    v->bdev->block_size = DRBD_BLOCK;
    v->bdev->ops = &drbd_bdev_ops;
    v->bdev->priv = v;
    v->bdev->flags = UMC_BDEV_VOLATILE_CACHE;
    return v;
}

static void peer_dev_init(struct drbd_conn *c, int i)
{
    struct drbd_peer_dev *pd = &c->pds[i];
    memset(pd, 0, sizeof(*pd));
    pd->c = c;
    pd->v = c->res->vols[i];
    pd->repl = DRBD_R_OFF;
    pd->peer_disk = DRBD_D_UNKNOWN;
    dl_init(&pd->rs_reqs);
    dl_init(&pd->rs_sent);
}

static struct drbd_conn *conn_new(struct drbd_resource *r, const struct drbd_cfg_conn *cc, int idx)
{
    const struct drbd_res_cfg *cfg = r->cfg;
    bool i_am_a = cc->a == r->my_host;
    int peer = i_am_a ? cc->b : cc->a;
    struct drbd_conn *c = umc_alloc(r->node, sizeof(*c));
    c->res = r;
    c->idx = idx;
    c->host_idx = peer;
    c->peer_id = cfg->hosts[peer].node_id;
    snprintf(c->name, sizeof(c->name), "%s", cfg->hosts[peer].name);
    const char *addr = i_am_a ? cc->addr_b : cc->addr_a;
    snprintf(c->peer_addr, sizeof(c->peer_addr), "%s", addr[0] ? addr : cfg->hosts[peer].address);
    c->net = cc->net;
    c->cstate = DRBD_C_STANDALONE;
    c->peer_role = DRBD_ROLE_UNKNOWN;
    dl_init(&c->tx_ctrl);
    dl_init(&c->tx_data);
    dl_init(&c->rx_queue);
    dl_init(&c->remote_reads);
    dl_init(&c->rs_deferred);
    dl_init(&c->flush_waits);
    for (int i = 0; i < r->nvols; i++)
        peer_dev_init(c, i);
    return c;
}

/* My address for this resource (what peers connect to). */
int drbd_res_up(struct drbd_resource *r, char *msg, size_t msglen)
{
    struct drbd *d = r->d;
    if (r->up) {
        snprintf(msg, msglen, "%s: resource is already up", r->cfg->name);
        return -EEXIST;
    }
    if (r->my_host < 0) {
        snprintf(msg, msglen, "%s:%d: resource %s has no 'on %s' section", r->cfg->file,
                 r->cfg->line, r->cfg->name, d->my_host);
        return -ENOENT;
    }
    const struct drbd_cfg_host *me = &r->cfg->hosts[r->my_host];
    for (int i = 0; i < me->nvols; i++)
        if (umc_bdev_find(r->node, me->vols[i].device)) {
            snprintf(msg, msglen, "%s: device %s already exists (minor %d in use)", r->cfg->name,
                     me->vols[i].device, me->vols[i].minor);
            return -EEXIST;
        }
    r->my_id = me->node_id;
    r->role = DRBD_ROLE_SECONDARY;
    r->have_quorum = true;
    dl_init(&r->pending_socks);
    dl_init(&r->cmd_waits);
    for (int i = 0; i < me->nvols; i++) {
        r->vols[r->nvols] = vol_new(r, r->nvols, &me->vols[i]);
        r->nvols++;
    }
    for (int i = 0; i < r->cfg->nconns; i++) {
        const struct drbd_cfg_conn *cc = &r->cfg->conns[i];
        if (cc->a == r->my_host || cc->b == r->my_host) {
            r->conns[r->nconns] = conn_new(r, cc, r->nconns);
            r->nconns++;
        }
    }
    for (int i = 0; i < r->nvols; i++) {
        struct drbd_volume *v = r->vols[i];
        int rc = umc_bdev_register(r->node, v->bdev);
        if (rc) {
            snprintf(msg, msglen, "%s: cannot register %s: %d", r->cfg->name, v->name, rc);
            drbd_res_teardown(r);
            return rc;
        }
        v->bdev_registered = true;
    }
    r->up = true;
    drbd_quorum_update(r);
    umc_timer_init(r->node, &r->tick_timer, drbd_res_tick, r);
    umc_timer_arm_in(r->node, &r->tick_timer, 100 * MTE_MSEC);
    drbd_events_resource(r, "create");
    return 0;
}

static void vol_free(struct drbd_volume *v)
{
    struct drbd_resource *r = v->res;
    struct umc_node *n = r->node;
    if (v->bdev_registered) {
        if (umc_bdev_unregister(n, v->bdev) == 0) {
            umc_free(n, v->bdev);
        } else {
            /* still open above us: leave a husk that refuses everything */
            umc_warn(n, DRBD_COMP, "%s: still open at teardown; it now fails all I/O", v->name);
            v->bdev->ops = &dead_bdev_ops;
            v->bdev->priv = NULL;
        }
    } else {
        umc_free(n, v->bdev);
    }
    if (v->backing_open)
        umc_bdev_close(v->backing, UMC_OPEN_WRITE | UMC_OPEN_EXCL);
    if (v->sb_lio)
        drbd_lio_orphan(v->sb_lio, NULL, NULL);
    if (v->al.lio)
        drbd_lio_orphan(v->al.lio, NULL, NULL);
    drbd_md_free(v);
    umc_free(n, v);
}

/* Immediate teardown (drbd_free, down after it drained): everything goes. */
void drbd_res_teardown(struct drbd_resource *r)
{
    struct umc_node *n = r->node;
    if (r->up)
        drbd_events_resource(r, "destroy");
    r->going_down = true;
    umc_timer_cancel(n, &r->tick_timer);
    umc_timer_cancel(n, &r->twopc_timer);
    umc_timer_cancel(n, &r->auto_promote_timer);
    umc_timer_cancel(n, &r->probe_timer);
    r->probe_active = false;
    drbd_res_unlisten(r);
    for (int i = 0; i < r->nconns; i++)
        drbd_conn_stop(r->conns[i], DRBD_C_STANDALONE);
    for (int i = 0; i < r->nvols; i++)
        drbd_vol_fail_suspended(r->vols[i]);
    drbd_cmds_teardown(r->d, r);
    for (int i = 0; i < r->nvols; i++) {
        struct drbd_volume *v = r->vols[i];
        while (!dl_empty(&v->reqs))
            drbd_req_destroy(dl_entry(v->reqs.next, struct drbd_req, live));
        while (!dl_empty(&v->preqs))
            drbd_peer_req_free(dl_entry(v->preqs.next, struct drbd_peer_req, live));
    }
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_conn *c = r->conns[i];
        for (int j = 0; j < r->nvols; j++) {
            drbd_rs_free_reqs(&c->pds[j]);
            drbd_bm_free(n, c->pds[j].owed);
        }
        umc_free(n, c->tl);
        drbd_pis_free(c);
        umc_free(n, c);
        r->conns[i] = NULL;
    }
    r->nconns = 0;
    for (int i = 0; i < r->nvols; i++) {
        vol_free(r->vols[i]);
        r->vols[i] = NULL;
    }
    r->nvols = 0;
    r->up = false;
    r->going_down = false;
    r->role = DRBD_ROLE_SECONDARY;
    memset(&r->shown, 0, sizeof(r->shown));
}

/* ---- introspection --------------------------------------------------------------------------- */

static void fill_info(struct drbd_volume *v, struct drbd_volume_info *out)
{
    struct drbd_resource *r = v->res;
    memset(out, 0, sizeof(*out));
    snprintf(out->resource, sizeof(out->resource), "%s", r->cfg->name);
    out->volume = v->vnr;
    out->minor = v->minor;
    snprintf(out->device, sizeof(out->device), "%s", v->name);
    if (v->backing)
        snprintf(out->backing, sizeof(out->backing), "%s", v->backing->name);
    out->role = r->role;
    out->disk = v->disk;
    out->quorum = r->have_quorum;
    out->client = !v->cfg->disk[0];
    out->suspended = strcmp(drbd_susp_str(r), "no") != 0; /* (new I/O would wait) */
    out->size = v->bdev->size;
    out->current_uuid = v->have_md ? v->md.current_uuid : 0;
    out->npeers = r->nconns;
    for (int i = 0; i < r->nconns && i < DRBD_MAX_PEERS; i++) {
        struct drbd_conn *c = r->conns[i];
        struct drbd_peer_dev *pd = &c->pds[v->idx];
        struct drbd_peer_info *p = &out->peers[i];
        snprintf(p->name, sizeof(p->name), "%s", c->name);
        p->node_id = c->peer_id;
        p->conn = c->cstate;
        p->role = c->peer_role;
        p->repl = pd->repl;
        p->disk = pd->peer_disk;
        p->out_of_sync = drbd_pd_oos_bytes(pd);
        p->resync_total = pd->rs_total;
        snprintf(p->last_drop, sizeof(p->last_drop), "%s", c->last_drop);
    }
}

void drbd_foreach_volume(struct drbd *d, drbd_volume_fn fn, void *arg)
{
    for (int i = 0; i < d->nres; i++) {
        struct drbd_resource *r = d->res[i];
        for (int j = 0; r->up && j < r->nvols; j++) {
            struct drbd_volume_info info;
            fill_info(r->vols[j], &info);
            fn(arg, &info);
        }
    }
}

int drbd_volume_info(struct drbd *d, const char *resource, int volume, struct drbd_volume_info *out)
{
    struct drbd_resource *r = drbd_res_find(d, resource);
    if (!r || !r->up)
        return -ENOENT;
    struct drbd_volume *v = drbd_vol_by_vnr(r, volume);
    if (!v)
        return -ENOENT;
    fill_info(v, out);
    return 0;
}
