/* Attaching a backing device (read and check the superblock, load the bitmaps,
 * replay the activity log after a crash), detaching it, and create-md. */
#include <stdio.h>

#include "drbd/drbd_int.h"

typedef void (*drbd_msg_fn)(void *arg, int rc, const char *msg);

static uint32_t cfg_nslots(const struct drbd_res_cfg *cfg)
{
    int max = 1;
    for (int i = 0; i < cfg->nhosts; i++)
        if (cfg->hosts[i].node_id > max)
            max = cfg->hosts[i].node_id;
    return (uint32_t)max + 1;
}

/* ---- attach ------------------------------------------------------------------------------- */

struct attach_ctx {
    struct drbd_volume *v;
    drbd_msg_fn done;
    void *arg;
    unsigned char *sb;
    struct drbd_md md;
    struct drbd_layout layout;
    char msg[200];
};

/* Should drbd go away while the read is in flight, the context goes too. */
static void attach_owns(struct drbd_lio *lio, struct attach_ctx *a)
{
    lio->ctx_own[0] = a;
    lio->ctx_own[1] = a->sb;
}

static void attach_fail(struct attach_ctx *a, int rc)
{
    struct drbd_volume *v = a->v;
    struct umc_node *n = v->res->node;
    umc_err(n, DRBD_COMP, "%s", a->msg);
    if (v->backing_open)
        umc_bdev_close(v->backing, UMC_OPEN_WRITE | UMC_OPEN_EXCL);
    v->backing_open = false;
    v->backing = NULL;
    drbd_set_disk(v, DRBD_D_DISKLESS);
    drbd_msg_fn done = a->done;
    void *arg = a->arg;
    char msg[200];
    snprintf(msg, sizeof(msg), "%s", a->msg);
    umc_free(n, a->sb);
    umc_free(n, a);
    if (done)
        done(arg, rc, msg);
}

static enum drbd_disk_state disk_from_flags(const struct drbd_volume *v)
{
    if (!(v->md.flags & MDF_CONSISTENT) || v->md.current_uuid == UUID_JUST_CREATED)
        return DRBD_D_INCONSISTENT;
    /* a primary went on writing without this disk: it is behind its peers */
    if (!(v->md.flags & MDF_WAS_UP_TO_DATE) || v->res->role == DRBD_ROLE_PRIMARY)
        return DRBD_D_OUTDATED;
    /* nobody could be newer than the only node */
    return v->res->nconns ? DRBD_D_CONSISTENT : DRBD_D_UP_TO_DATE;
}

static void load_bitmaps(struct attach_ctx *a, const unsigned char *area)
{
    struct drbd_volume *v = a->v;
    struct drbd_resource *r = v->res;
    uint64_t nbits = v->layout.data_size / DRBD_BLOCK;
    for (int i = 0; i < r->nconns; i++) {
        int id = r->conns[i]->peer_id;
        struct drbd_bitmap *bm = drbd_bm_new(r->node, nbits);
        memcpy(bm->words, area + (uint64_t)id * v->layout.bm_slot_bytes,
               (size_t)(bm->npages * DRBD_BLOCK));
        drbd_bm_recount(bm);
        v->bm[id] = bm;
    }
}

static void attach_finished(void *arg, int rc)
{
    struct attach_ctx *a = arg;
    drbd_msg_fn done = a->done;
    void *darg = a->arg;
    umc_free(a->v->res->node, a->sb);
    umc_free(a->v->res->node, a);
    if (done)
        done(darg, 0, "");
}

static void attach_after_area(struct drbd_lio *lio)
{
    struct attach_ctx *a = lio->ctx;
    struct drbd_volume *v = a->v;
    struct drbd_resource *r = v->res;
    const unsigned char *area = lio->own[0];
    if (lio->bio.status) {
        snprintf(a->msg, sizeof(a->msg), "%s: attach: reading the bitmap failed (%d)", v->name,
                 lio->bio.status);
        drbd_lio_free(lio);
        attach_fail(a, -EIO);
        return;
    }
    v->md = a->md;
    v->layout = a->layout;
    v->have_md = true;
    load_bitmaps(a, area);
    drbd_al_init(v, r->cfg->disk.al_extents);
    uint64_t marked = 0;
    uint64_t al_len = v->layout.al_bytes;
    drbd_al_read_apply(v, area + (v->layout.al_offset - v->layout.bm_offset), (size_t)al_len, &marked);
    drbd_lio_free(lio);
    bool dirty = marked > 0;
    if (v->md.flags & MDF_PRIMARY_IND) {
        umc_info(r->node, DRBD_COMP, "%s: was primary when it went down: crashed primary", v->name);
        v->md.flags = (v->md.flags & ~MDF_PRIMARY_IND) | MDF_CRASHED_PRIMARY;
        dirty = true;
    }
    if (marked)
        umc_info(r->node, DRBD_COMP, "%s: marked additional %llu KiB as out-of-sync based on AL",
                 v->name, (unsigned long long)(marked * DRBD_BLOCK >> 10));
    if (r->role == DRBD_ROLE_PRIMARY) {
        /* attached to a primary: a crash from now on is a crashed primary's */
        v->md.flags |= MDF_PRIMARY_IND;
        dirty = true;
    }
    v->md.al_extents = v->al.cap;
    v->fresh_attach = true;
    drbd_vol_set_size(v, v->layout.data_size);
    umc_info(r->node, DRBD_COMP, "%s: attached to UUIDs %016llX:%016llX:%016llX", v->name,
             (unsigned long long)v->md.current_uuid,
             (unsigned long long)(r->nconns ? v->md.bitmap_uuid[r->conns[0]->peer_id] : 0),
             (unsigned long long)v->md.history[0]);
    drbd_set_disk(v, disk_from_flags(v));
    for (int i = 0; i < r->nconns; i++)
        if (r->conns[i]->sock && r->conns[i]->pds[v->idx].decided)
            drbd_pd_renegotiate(&r->conns[i]->pds[v->idx], true);
    drbd_data_path_changed(r);
    if (dirty) {
        drbd_bm_writeback(v, NULL, NULL);
        drbd_md_sync(v, attach_finished, a);
    } else {
        attach_finished(a, 0);
    }
}

static void attach_after_sb(struct drbd_lio *lio)
{
    struct attach_ctx *a = lio->ctx;
    struct drbd_volume *v = a->v;
    struct drbd_resource *r = v->res;
    int status = lio->bio.status;
    drbd_lio_free(lio);
    if (status) {
        snprintf(a->msg, sizeof(a->msg), "%s: attach: reading the superblock of %s failed (%d)",
                 v->name, v->backing->name, status);
        attach_fail(a, -EIO);
        return;
    }
    char why[160];
    if (drbd_sb_decode(a->sb, v->backing->size, &a->md, &a->layout, why, sizeof(why))) {
        snprintf(a->msg, sizeof(a->msg), "%s: attach %s refused: %s; use create-md", v->name,
                 v->backing->name, why);
        attach_fail(a, -EINVAL);
        return;
    }
    if (a->md.node_id != r->my_id) {
        snprintf(a->msg, sizeof(a->msg), "%s: attach %s refused: meta-data belongs to node-id %d, "
                 "this node is %d", v->name, v->backing->name, a->md.node_id, r->my_id);
        attach_fail(a, -EINVAL);
        return;
    }
    for (int i = 0; i < r->nconns; i++)
        if ((uint32_t)r->conns[i]->peer_id >= a->md.nslots) {
            snprintf(a->msg, sizeof(a->msg), "%s: attach %s refused: no bitmap slot for node-id %d "
                     "(meta-data has %u); re-create the meta-data", v->name, v->backing->name,
                     r->conns[i]->peer_id, a->md.nslots);
            attach_fail(a, -EINVAL);
            return;
        }
    uint64_t len = a->layout.sb_offset - a->layout.bm_offset;
    unsigned char *area = umc_alloc(r->node, (size_t)len);
    struct drbd_lio *l2 = drbd_lio_new(r->d, attach_after_area, a);
    l2->own[0] = area;
    attach_owns(l2, a);
    drbd_lio_submit(l2, v->backing, UMC_OP_READ, 0, a->layout.bm_offset, len, area, NULL, 0);
}

int drbd_vol_attach(struct drbd_volume *v, char *msg, size_t msglen, drbd_msg_fn done, void *arg)
{
    struct drbd_resource *r = v->res;
    if (v->backing_open || v->disk != DRBD_D_DISKLESS) {
        snprintf(msg, msglen, "%s: already attached", v->name);
        return -EEXIST;
    }
    if (!v->cfg->disk[0]) {
        snprintf(msg, msglen, "%s: configured diskless (disk none)", v->name);
        return -ENODEV;
    }
    struct umc_bdev *b = umc_bdev_find(r->node, v->cfg->disk);
    if (!b) {
        snprintf(msg, msglen, "%s: attach: cannot open backing device %s: no such device", v->name,
                 v->cfg->disk);
        return -ENOENT;
    }
    int rc = umc_bdev_open(b, UMC_OPEN_WRITE | UMC_OPEN_EXCL);
    if (rc) {
        snprintf(msg, msglen, "%s: attach: backing device %s is already claimed (%d)", v->name,
                 b->name, rc);
        return rc;
    }
    v->backing = b;
    v->backing_open = true;
    drbd_set_disk(v, DRBD_D_ATTACHING);
    struct attach_ctx *a = umc_alloc(r->node, sizeof(*a));
    a->v = v;
    a->done = done;
    a->arg = arg;
    unsigned char *sb = umc_alloc(r->node, DRBD_SB_SIZE);
    a->sb = sb;
    struct drbd_lio *lio = drbd_lio_new(r->d, attach_after_sb, a);
    attach_owns(lio, a);
    drbd_lio_submit(lio, b, UMC_OP_READ, 0, b->size / DRBD_BLOCK * DRBD_BLOCK - DRBD_SB_SIZE,
                    DRBD_SB_SIZE, sb, NULL, 0);
    return 0;
}

/* ---- detach ----------------------------------------------------------------------------------- */

/* Does a peer we are not connected to miss writes we completed (bits for
 * it) that no new data generation stands for yet?  (The generation changes
 * lazily, at the first write after losing a peer.) */
static bool lost_peer_misses_writes(const struct drbd_volume *v)
{
    const struct drbd_resource *r = v->res;
    if (!v->uuid_rotate_pending)
        return false;
    for (int i = 0; i < r->nconns; i++) {
        const struct drbd_peer_dev *pd = &r->conns[i]->pds[v->idx];
        const struct drbd_bitmap *bm = v->bm[r->conns[i]->peer_id];
        if (!drbd_pd_replicating(pd) && bm && bm->set)
            return true;
    }
    return false;
}

/* A primary without its disk writes only to its peers: they start a new data
 * generation, so when the disk comes back the UUIDs say it is behind.  What
 * it exposes from then on is that generation; or, with no peer connected,
 * its disk's generation, unless a lost peer misses writes of it: then a new
 * one no stale disk holds. */
void drbd_vol_lost_disk(struct drbd_volume *v, bool diverged)
{
    struct drbd_resource *r = v->res;
    if (r->role != DRBD_ROLE_PRIMARY)
        return;
    uint64_t uuid = drbd_uuid_random(v) | UUID_PRIMARY;
    bool sent = false;
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_peer_dev *pd = &r->conns[i]->pds[v->idx];
        if (drbd_conn_established(pd->c) && pd->peer_disk == DRBD_D_UP_TO_DATE) {
            drbd_send_new_datagen(pd, uuid);
            sent = true;
        }
    }
    v->exposed_uuid = (sent || diverged ? uuid : v->md.current_uuid) & ~UUID_PRIMARY;
}

static void detach_closed(struct drbd_volume *v)
{
    struct drbd_resource *r = v->res;
    bool diverged = lost_peer_misses_writes(v);
    if (v->backing_open)
        umc_bdev_close(v->backing, UMC_OPEN_WRITE | UMC_OPEN_EXCL);
    v->backing_open = false;
    v->backing = NULL;
    v->have_md = false;
    for (int s = 0; s < DRBD_MAX_NODES; s++) {
        drbd_bm_free(r->node, v->bm[s]);
        v->bm[s] = NULL;
    }
    drbd_al_free(v);
    drbd_set_disk(v, DRBD_D_DISKLESS);
    drbd_vol_lost_disk(v, diverged);
    drbd_msg_fn done = v->detach_done;
    void *arg = v->detach_arg;
    v->detach_done = NULL;
    v->detach_writing = false;
    if (done)
        done(arg, 0, "");
}

static void detach_md_written(void *arg, int rc)
{
    struct drbd_volume *v = arg;
    if (v->sb_busy || v->bmw_busy) {
        drbd_md_sync(v, detach_md_written, v);
        return;
    }
    detach_closed(v);
}

/* A clean detach leaves clean meta-data, as `down` does: an empty activity
 * log (the next attach resyncs only what the bitmap holds) and no "primary"
 * mark (it is not a crashed primary). */
static void detach_bm_written(void *arg, int rc)
{
    struct drbd_volume *v = arg;
    drbd_md_set_flag(v, MDF_PRIMARY_IND, false);
    if (v->al.ext)
        drbd_al_write_clean(v, detach_md_written, v);
    else
        drbd_md_sync(v, detach_md_written, v);
}

/* Called whenever local I/O finishes: a detach waits for the device to drain. */
void drbd_detach_check(struct drbd_volume *v)
{
    if ((v->disk != DRBD_D_DETACHING && v->disk != DRBD_D_FAILED) || v->detach_writing)
        return;
    if (v->lower_pending || !drbd_al_idle(v))
        return;
    v->detach_writing = true;
    if (v->disk == DRBD_D_FAILED || !v->have_md) {
        detach_closed(v);
        return;
    }
    drbd_bm_writeback(v, detach_bm_written, v);
}

void drbd_vol_detach(struct drbd_volume *v, bool failed, drbd_msg_fn done, void *arg)
{
    if (!v->backing_open) {
        if (done)
            done(arg, 0, "");
        return;
    }
    if (v->detach_done || v->disk == DRBD_D_DETACHING || v->disk == DRBD_D_FAILED) {
        if (done)
            done(arg, -EBUSY, "State change failed: (-18) In transient state, retry after next "
                              "state change");
        return;
    }
    v->detach_done = done;
    v->detach_arg = arg;
    if (failed)
        umc_err(v->res->node, DRBD_COMP, "%s: local I/O error: detaching the backing device",
                v->name);
    drbd_set_disk(v, failed ? DRBD_D_FAILED : DRBD_D_DETACHING);
    drbd_detach_check(v);
}

/* ---- create-md --------------------------------------------------------------------------- */

struct create_ctx {
    struct drbd_resource *r;
    struct umc_bdev *b;
    bool force;
    drbd_msg_fn done;
    void *arg;
    struct drbd_layout layout;
    unsigned char *sb;
    char msg[200];
};

static void create_owns(struct drbd_lio *lio, struct create_ctx *c)
{
    lio->ctx_own[0] = c;
    lio->ctx_own[1] = c->sb;
}

static void create_finish(struct create_ctx *c, int rc)
{
    struct umc_node *n = c->r->node;
    umc_bdev_close(c->b, UMC_OPEN_WRITE | UMC_OPEN_EXCL);
    if (rc)
        umc_err(n, DRBD_COMP, "%s", c->msg);
    else
        umc_info(n, DRBD_COMP, "%s: new meta-data written on %s (%llu KiB usable)", c->r->cfg->name,
                 c->b->name, (unsigned long long)(c->layout.data_size >> 10));
    drbd_msg_fn done = c->done;
    void *arg = c->arg;
    char msg[200];
    snprintf(msg, sizeof(msg), "%s", rc ? c->msg : "");
    umc_free(n, c->sb);
    umc_free(n, c);
    if (done)
        done(arg, rc, msg);
}

static void create_sb_written(struct drbd_lio *lio)
{
    struct create_ctx *c = lio->ctx;
    int rc = lio->bio.status;
    drbd_lio_free(lio);
    if (rc)
        snprintf(c->msg, sizeof(c->msg), "%s: create-md: writing the superblock failed (%d)",
                 c->r->cfg->name, rc);
    create_finish(c, rc);
}

static void create_zeroed(struct drbd_lio *lio)
{
    struct create_ctx *c = lio->ctx;
    int rc = lio->bio.status;
    drbd_lio_free(lio);
    if (rc) {
        snprintf(c->msg, sizeof(c->msg), "%s: create-md: clearing the bitmap failed (%d)",
                 c->r->cfg->name, rc);
        create_finish(c, rc);
        return;
    }
    struct drbd_md md;
    memset(&md, 0, sizeof(md));
    md.node_id = c->r->cfg->hosts[c->r->my_host].node_id;
    md.nslots = c->layout.nslots;
    md.data_size = c->layout.data_size;
    md.backing_size = c->layout.backing_size;
    md.al_extents = c->r->cfg->disk.al_extents;
    md.current_uuid = UUID_JUST_CREATED;
    md.device_uuid = mte_rng_next(umc_rng(c->r->node, "drbd"));
    md.flags = MDF_AL_CLEAN;
    drbd_sb_encode(&md, &c->layout, c->sb);
    struct drbd_lio *l2 = drbd_lio_new(c->r->d, create_sb_written, c);
    create_owns(l2, c);
    drbd_lio_submit(l2, c->b, UMC_OP_WRITE, UMC_BIO_FUA, c->layout.sb_offset, DRBD_SB_SIZE, c->sb,
                    NULL, 0);
}

static void create_after_read(struct drbd_lio *lio)
{
    struct create_ctx *c = lio->ctx;
    int rc = lio->bio.status;
    drbd_lio_free(lio);
    struct drbd_md old;
    struct drbd_layout ol;
    char why[160];
    if (!rc && !c->force && !drbd_sb_decode(c->sb, c->b->size, &old, &ol, why, sizeof(why))) {
        snprintf(c->msg, sizeof(c->msg), "%s: create-md: valid meta-data already present on %s "
                 "(use --force to overwrite)", c->r->cfg->name, c->b->name);
        create_finish(c, -EEXIST);
        return;
    }
    struct drbd_lio *l2 = drbd_lio_new(c->r->d, create_zeroed, c);
    create_owns(l2, c);
    drbd_lio_submit(l2, c->b, UMC_OP_WRITE_ZEROES, 0, c->layout.bm_offset,
                    c->layout.sb_offset - c->layout.bm_offset, NULL, NULL, 0);
}

int drbd_create_md(struct drbd_resource *r, const struct drbd_cfg_volume *cv, bool force,
                   char *msg, size_t msglen, drbd_msg_fn done, void *arg)
{
    if (!cv->disk[0]) {
        snprintf(msg, msglen, "%s: volume %d is diskless: no meta-data to create", r->cfg->name,
                 cv->vnr);
        return -ENODEV;
    }
    struct umc_bdev *b = umc_bdev_find(r->node, cv->disk);
    if (!b) {
        snprintf(msg, msglen, "%s: create-md: no such device %s", r->cfg->name, cv->disk);
        return -ENOENT;
    }
    struct drbd_layout l;
    if (drbd_layout_compute(b->size, cfg_nslots(r->cfg), &l)) {
        snprintf(msg, msglen, "%s: create-md: %s is too small for the meta-data", r->cfg->name,
                 b->name);
        return -ENOSPC;
    }
    int rc = umc_bdev_open(b, UMC_OPEN_WRITE | UMC_OPEN_EXCL);
    if (rc) {
        snprintf(msg, msglen, "%s: create-md: %s is in use (attached?); detach first",
                 r->cfg->name, b->name);
        return rc;
    }
    struct create_ctx *c = umc_alloc(r->node, sizeof(*c));
    c->r = r;
    c->b = b;
    c->force = force;
    c->done = done;
    c->arg = arg;
    c->layout = l;
    c->sb = umc_alloc(r->node, DRBD_SB_SIZE);
    struct drbd_lio *lio = drbd_lio_new(r->d, create_after_read, c);
    create_owns(lio, c);
    drbd_lio_submit(lio, b, UMC_OP_READ, 0, l.sb_offset, DRBD_SB_SIZE, c->sb, NULL, 0);
    return 0;
}
