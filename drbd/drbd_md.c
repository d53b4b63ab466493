/* Internal meta-data: the layout at the end of the backing device, the
 * superblock codec (magic, version, flags, UUIDs, checksum, sanity checks),
 * serialized superblock and bitmap writes, and the generation-UUID helpers.
 *
 *   [data][bitmap slot 0 .. n-1][activity log: 2 x 256 KiB][superblock 4 KiB]
 */
#include <stdarg.h>
#include <stdio.h>

#include "drbd/drbd_int.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the on-disk bitmap is written straight from memory: little-endian hosts only"
#endif

#define SB_MAGIC 0x44524244554d4331ull /* "DRBDUMC1" */
#define SB_VERSION 1u
#define SB_CRC_OFF (DRBD_SB_SIZE - 4)

/* ---- layout ------------------------------------------------------------------------------ */

int drbd_layout_compute(uint64_t backing_size, uint32_t nslots, struct drbd_layout *l)
{
    memset(l, 0, sizeof(*l));
    uint64_t size = backing_size / DRBD_BLOCK * DRBD_BLOCK;
    if (nslots < 1 || nslots > DRBD_MAX_NODES)
        return -EINVAL;
    uint64_t bits = size / DRBD_BLOCK;
    uint64_t slot = (bits + 8 * DRBD_BLOCK - 1) / (8 * DRBD_BLOCK) * DRBD_BLOCK;
    uint64_t md = DRBD_SB_SIZE + 2ull * DRBD_AL_SLOT_BYTES + nslots * slot;
    if (size < md + 16 * DRBD_BLOCK)
        return -ENOSPC;
    l->backing_size = backing_size;
    l->nslots = nslots;
    l->sb_offset = size - DRBD_SB_SIZE;
    l->al_bytes = 2ull * DRBD_AL_SLOT_BYTES;
    l->al_offset = l->sb_offset - l->al_bytes;
    l->bm_slot_bytes = slot;
    l->bm_offset = l->al_offset - nslots * slot;
    l->data_size = l->bm_offset;
    return 0;
}

/* ---- superblock codec --------------------------------------------------------------------- */

void drbd_sb_encode(const struct drbd_md *md, const struct drbd_layout *l, unsigned char *b)
{
    memset(b, 0, DRBD_SB_SIZE);
    drbd_put_be64(b + 0, SB_MAGIC);
    drbd_put_be32(b + 8, SB_VERSION);
    drbd_put_be32(b + 12, DRBD_SB_SIZE);
    drbd_put_be32(b + 16, md->flags);
    drbd_put_be32(b + 20, (uint32_t)md->node_id);
    drbd_put_be32(b + 24, md->nslots);
    drbd_put_be64(b + 32, l->data_size);
    drbd_put_be64(b + 40, l->backing_size);
    drbd_put_be64(b + 48, l->bm_offset);
    drbd_put_be64(b + 56, l->al_offset);
    drbd_put_be32(b + 64, (uint32_t)l->al_bytes);
    drbd_put_be32(b + 68, md->al_extents);
    drbd_put_be64(b + 72, md->current_uuid);
    drbd_put_be64(b + 80, md->device_uuid);
    for (int i = 0; i < DRBD_HISTORY; i++)
        drbd_put_be64(b + 88 + 8 * i, md->history[i]);
    for (int i = 0; i < DRBD_MAX_NODES; i++) {
        drbd_put_be64(b + 152 + 8 * i, md->bitmap_uuid[i]);
        drbd_put_be32(b + 408 + 4 * i, md->peer_flags[i]);
    }
    drbd_put_be32(b + SB_CRC_OFF, umc_crc32c(b, SB_CRC_OFF));
}

static int sb_bad(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int sb_bad(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

int drbd_sb_decode(const unsigned char *b, uint64_t backing_size, struct drbd_md *md,
                   struct drbd_layout *l, char *why, size_t whylen)
{
    if (drbd_get_be64(b) != SB_MAGIC)
        return sb_bad(why, whylen, "no valid meta-data signature found (bad magic)");
    if (drbd_get_be32(b + SB_CRC_OFF) != umc_crc32c(b, SB_CRC_OFF))
        return sb_bad(why, whylen, "meta-data checksum mismatch (superblock damaged)");
    uint32_t version = drbd_get_be32(b + 8);
    if (version != SB_VERSION)
        return sb_bad(why, whylen, "unsupported meta-data version %u (expected %u)", version,
                      SB_VERSION);
    if (drbd_get_be32(b + 12) != DRBD_SB_SIZE)
        return sb_bad(why, whylen, "impossible superblock size %u", drbd_get_be32(b + 12));
    memset(md, 0, sizeof(*md));
    md->flags = drbd_get_be32(b + 16);
    md->node_id = (int32_t)drbd_get_be32(b + 20);
    md->nslots = drbd_get_be32(b + 24);
    if (md->flags & ~(uint32_t)MDF_ALL)
        return sb_bad(why, whylen, "unknown meta-data flags 0x%x", md->flags);
    if (md->nslots < 1 || md->nslots > DRBD_MAX_NODES)
        return sb_bad(why, whylen, "impossible number of bitmap slots %u", md->nslots);
    if (md->node_id < 0 || (uint32_t)md->node_id >= md->nslots)
        return sb_bad(why, whylen, "impossible node-id %d for %u slots", md->node_id,
                      md->nslots);
    if (drbd_layout_compute(backing_size, md->nslots, l))
        return sb_bad(why, whylen, "backing device of %llu bytes too small for the meta-data",
                      (unsigned long long)backing_size);
    uint64_t stored_backing = drbd_get_be64(b + 40);
    if (drbd_get_be64(b + 32) != l->data_size || drbd_get_be64(b + 48) != l->bm_offset ||
        drbd_get_be64(b + 56) != l->al_offset || drbd_get_be32(b + 64) != l->al_bytes ||
        stored_backing / DRBD_BLOCK != backing_size / DRBD_BLOCK)
        return sb_bad(why, whylen, "meta-data layout does not match the device (size %llu, was %llu)",
                      (unsigned long long)backing_size, (unsigned long long)stored_backing);
    md->data_size = l->data_size;
    md->backing_size = stored_backing;
    md->al_extents = drbd_get_be32(b + 68);
    md->current_uuid = drbd_get_be64(b + 72);
    md->device_uuid = drbd_get_be64(b + 80);
    for (int i = 0; i < DRBD_HISTORY; i++)
        md->history[i] = drbd_get_be64(b + 88 + 8 * i);
    for (int i = 0; i < DRBD_MAX_NODES; i++) {
        md->bitmap_uuid[i] = drbd_get_be64(b + 152 + 8 * i);
        md->peer_flags[i] = drbd_get_be32(b + 408 + 4 * i);
        if (md->peer_flags[i] & ~(uint32_t)MDF_PEER_ALL)
            return sb_bad(why, whylen, "unknown peer flags 0x%x in slot %d", md->peer_flags[i], i);
    }
    return 0;
}

/* ---- serialized superblock writes --------------------------------------------------------- */

struct md_waiter {
    struct drbd_link link;
    uint64_t need;
    void (*done)(void *arg, int rc);
    void *arg;
};

static void waiters_add(struct drbd_volume *v, struct drbd_link *list, uint64_t need,
                        void (*done)(void *, int), void *arg)
{
    struct md_waiter *w = umc_alloc(v->res->node, sizeof(*w));
    w->need = need;
    w->done = done;
    w->arg = arg;
    dl_add_tail(list, &w->link);
}

/* Wake, in order, every waiter a finished generation satisfies. */
static void waiters_wake(struct drbd_volume *v, struct drbd_link *list, uint64_t gen_done, int rc)
{
    struct drbd_link ready;
    dl_init(&ready);
    for (struct drbd_link *l = list->next, *nx; l != list; l = nx) {
        nx = l->next;
        struct md_waiter *w = dl_entry(l, struct md_waiter, link);
        if (w->need <= gen_done) {
            dl_del(&w->link);
            dl_add_tail(&ready, &w->link);
        }
    }
    while (!dl_empty(&ready)) {
        struct md_waiter *w = dl_entry(ready.next, struct md_waiter, link);
        dl_del(&w->link);
        void (*done)(void *, int) = w->done;
        void *arg = w->arg;
        umc_free(v->res->node, w);
        if (done)
            done(arg, rc);
    }
}

static void sb_write_start(struct drbd_volume *v);

static void sb_write_done(struct drbd_lio *lio)
{
    struct drbd_volume *v = lio->ctx;
    int rc = lio->bio.status;
    drbd_lio_free(lio);
    v->sb_lio = NULL;
    v->sb_busy = false;
    v->sb_gen_done = v->sb_gen_started;
    if (rc)
        umc_err(v->res->node, DRBD_COMP, "%s: meta-data write failed: %d", v->name, rc);
    if (v->sb_gen_wanted > v->sb_gen_done && v->backing_open)
        sb_write_start(v);
    waiters_wake(v, &v->sb_waiters, v->sb_gen_done, rc);
}

static void sb_write_start(struct drbd_volume *v)
{
    v->sb_busy = true;
    v->sb_gen_started = v->sb_gen_wanted;
    unsigned char *buf = umc_alloc(v->res->node, DRBD_SB_SIZE);
    drbd_sb_encode(&v->md, &v->layout, buf);
    struct drbd_lio *lio = drbd_lio_new(v->res->d, sb_write_done, v);
    lio->own[0] = buf;
    v->sb_lio = lio;
    drbd_lio_submit(lio, v->backing, UMC_OP_WRITE, v->res->cfg->disk.md_flushes ? UMC_BIO_FUA : 0,
                    v->layout.sb_offset, DRBD_SB_SIZE, buf, NULL, 0);
}

/* Write the superblock as it is now; done (optional) once a write that began
 * after this call is on disk. */
void drbd_md_sync(struct drbd_volume *v, void (*done)(void *arg, int rc), void *arg)
{
    if (!v->have_md || !v->backing_open) {
        if (done)
            done(arg, -ENODEV);
        return;
    }
    uint64_t need = ++v->sb_gen_wanted;
    if (done)
        waiters_add(v, &v->sb_waiters, need, done, arg);
    if (!v->sb_busy)
        sb_write_start(v);
}

/* ---- bitmap write-back ------------------------------------------------------------------ */

static void bmw_round_start(struct drbd_volume *v);

static void bmw_round_end(struct drbd_volume *v)
{
    int rc = v->bmw_status;
    v->bmw_busy = false;
    v->bmw_last = umc_now(v->res->node);
    uint64_t done_gen = v->bmw_gen_started;
    if (v->bmw_gen_wanted > done_gen && v->backing_open)
        bmw_round_start(v);
    waiters_wake(v, &v->bmw_waiters, done_gen, rc);
}

static void bmw_io_done(struct drbd_lio *lio)
{
    struct drbd_volume *v = lio->ctx;
    if (lio->bio.status && !v->bmw_status)
        v->bmw_status = lio->bio.status;
    drbd_lio_free(lio);
    if (--v->bmw_inflight == 0)
        bmw_round_end(v);
}

/* Pages are copied out, so the bitmap may change (and even go away) while the
 * write is in flight. */
static void bmw_issue(struct drbd_volume *v, uint64_t offset, const void *mem, uint64_t len)
{
    void *buf = umc_alloc(v->res->node, (size_t)len);
    memcpy(buf, mem, (size_t)len);
    struct drbd_lio *lio = drbd_lio_new(v->res->d, bmw_io_done, v);
    lio->own[0] = buf;
    v->bmw_inflight++;
    v->bm_writes++;
    drbd_lio_submit(lio, v->backing, UMC_OP_WRITE, v->res->cfg->disk.md_flushes ? UMC_BIO_FUA : 0,
                    offset, len, buf, NULL, 0);
}

/* One write per run of dirty pages, straight from the bitmap's memory. */
static void bmw_slot(struct drbd_volume *v, int slot)
{
    struct drbd_bitmap *bm = v->bm[slot];
    uint64_t base = v->layout.bm_offset + (uint64_t)slot * v->layout.bm_slot_bytes;
    uint64_t p = 0;
    while (p < bm->npages) {
        if (!bm->dirty[p]) {
            p++;
            continue;
        }
        uint64_t q = p;
        while (q < bm->npages && bm->dirty[q] && q - p < 256)
            bm->dirty[q++] = 0;
        bmw_issue(v, base + p * DRBD_BLOCK, (char *)bm->words + p * DRBD_BLOCK,
                  (q - p) * DRBD_BLOCK);
        p = q;
    }
}

static void bmw_round_start(struct drbd_volume *v)
{
    v->bmw_busy = true;
    v->bmw_status = 0;
    v->bmw_gen_started = v->bmw_gen_wanted;
    v->bmw_inflight = 1; /* held while issuing */
    for (int s = 0; s < DRBD_MAX_NODES; s++)
        if (v->bm[s] && (uint32_t)s < v->layout.nslots)
            bmw_slot(v, s);
    if (--v->bmw_inflight == 0)
        bmw_round_end(v);
}

/* Write every dirty bitmap page; done once a round that began after this call
 * finished. */
void drbd_bm_writeback(struct drbd_volume *v, void (*done)(void *arg, int rc), void *arg)
{
    if (!v->have_md || !v->backing_open) {
        if (done)
            done(arg, -ENODEV);
        return;
    }
    uint64_t need = ++v->bmw_gen_wanted;
    if (done)
        waiters_add(v, &v->bmw_waiters, need, done, arg);
    if (!v->bmw_busy)
        bmw_round_start(v);
}

void drbd_md_free(struct drbd_volume *v)
{
    struct umc_node *n = v->res->node;
    struct drbd_link *lists[2] = {&v->sb_waiters, &v->bmw_waiters};
    for (int i = 0; i < 2; i++)
        while (!dl_empty(lists[i])) {
            struct md_waiter *w = dl_entry(lists[i]->next, struct md_waiter, link);
            dl_del(&w->link);
            umc_free(n, w);
        }
    for (int s = 0; s < DRBD_MAX_NODES; s++) {
        drbd_bm_free(n, v->bm[s]);
        v->bm[s] = NULL;
    }
    drbd_al_free(v);
}

/* ---- generation UUIDs -------------------------------------------------------------------- */

uint64_t drbd_uuid_random(struct drbd_volume *v)
{
    struct mte_rng *rng = umc_rng(v->res->node, "drbd");
    uint64_t u;
    do
        u = mte_rng_next(rng) & ~3ull & ~(0xffffull << 48);
    while (u <= UUID_JUST_CREATED);
    return u;
}

void drbd_uuid_push_history(struct drbd_volume *v, uint64_t uuid)
{
    if ((uuid & ~UUID_PRIMARY) == 0 || uuid == UUID_JUST_CREATED)
        return;
    if ((v->md.history[0] & ~UUID_PRIMARY) == (uuid & ~UUID_PRIMARY))
        return;
    memmove(&v->md.history[1], &v->md.history[0], (DRBD_HISTORY - 1) * sizeof(uint64_t));
    v->md.history[0] = uuid;
}

void drbd_uuid_set_bitmap(struct drbd_volume *v, int node_id, uint64_t uuid)
{
    uint64_t old = v->md.bitmap_uuid[node_id];
    if (old == uuid)
        return;
    if (!uuid)
        drbd_uuid_push_history(v, old);
    v->md.bitmap_uuid[node_id] = uuid;
}

/* A new data generation: every peer that will miss writes from now on keeps the
 * old current UUID as its bitmap UUID (if it has none yet). */
void drbd_uuid_new_current(struct drbd_volume *v, bool forced)
{
    struct drbd_resource *r = v->res;
    uint64_t old = v->md.current_uuid;
    bool used = false;
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_peer_dev *pd = &r->conns[i]->pds[v->idx];
        int id = r->conns[i]->peer_id;
        if (drbd_pd_replicating(pd) && pd->peer_disk == DRBD_D_UP_TO_DATE && !forced)
            continue;
        if (!v->md.bitmap_uuid[id] && old != UUID_JUST_CREATED) {
            v->md.bitmap_uuid[id] = old;
            used = true;
        }
    }
    if (!used)
        drbd_uuid_push_history(v, old);
    v->md.current_uuid = drbd_uuid_random(v) | (r->role == DRBD_ROLE_PRIMARY ? UUID_PRIMARY : 0);
    umc_info(r->node, DRBD_COMP, "%s: new current UUID %016llX (was %016llX)", v->name,
             (unsigned long long)v->md.current_uuid, (unsigned long long)old);
}

void drbd_md_set_flag(struct drbd_volume *v, uint32_t flag, bool on)
{
    if (on)
        v->md.flags |= flag;
    else
        v->md.flags &= ~flag;
}
