/* The activity log: the set of 4 MiB extents that may hold writes in flight.
 * A write to an extent outside the set waits until a transaction naming the
 * extent is durable (FUA); when the set is full the least recently used idle
 * extent is evicted, after the bitmap pages it covers are written.  After a
 * crash every extent of the last transaction is marked out of sync.
 *
 * On disk: two slots of 256 KiB used alternately; a transaction is
 * [magic][n][seq][crc32c] followed by the n active extents. */
#include "drbd/drbd_int.h"

#define AL_MAGIC 0x414c5452u /* "ALTR" */
#define AL_HDR 32u

/* ---- the extent table ------------------------------------------------------------------ */

static uint32_t ext_hash(uint32_t e) { return e * 2654435761u; }

static int32_t al_find(const struct drbd_al *al, uint32_t e)
{
    for (uint32_t i = ext_hash(e) & al->hash_mask;; i = (i + 1) & al->hash_mask) {
        int32_t x = al->hash[i];
        if (x < 0)
            return -1;
        if (al->ext[x].extent == e)
            return x;
    }
}

static void al_insert(struct drbd_al *al, uint32_t e)
{
    uint32_t x = al->free[--al->nfree];
    al->ext[x] = (struct drbd_al_ext){.extent = e};
    uint32_t i = ext_hash(e) & al->hash_mask;
    while (al->hash[i] >= 0)
        i = (i + 1) & al->hash_mask;
    al->hash[i] = (int32_t)x;
    dl_add_tail(&al->lru, &al->ext[x].lru);
}

/* Remove with backward shifting, so probes never cross a hole wrongly. */
static void al_remove(struct drbd_al *al, uint32_t x)
{
    uint32_t i = ext_hash(al->ext[x].extent) & al->hash_mask;
    while (al->hash[i] != (int32_t)x)
        i = (i + 1) & al->hash_mask;
    for (uint32_t j = i;;) {
        j = (j + 1) & al->hash_mask;
        if (al->hash[j] < 0)
            break;
        uint32_t home = ext_hash(al->ext[al->hash[j]].extent) & al->hash_mask;
        bool movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            al->hash[i] = al->hash[j];
            i = j;
        }
    }
    al->hash[i] = -1;
    dl_del(&al->ext[x].lru);
    al->free[al->nfree++] = x;
}

static uint32_t al_used(const struct drbd_al *al) { return al->cap - al->nfree; }

int drbd_al_init(struct drbd_volume *v, uint32_t cap)
{
    struct umc_node *n = v->res->node;
    struct drbd_al *al = &v->al;
    drbd_al_free(v);
    if (cap < 7)
        cap = 7;
    if (cap > DRBD_AL_MAX_EXTENTS)
        cap = DRBD_AL_MAX_EXTENTS;
    al->cap = cap;
    al->ext = umc_alloc(n, cap * sizeof(*al->ext));
    al->free = umc_alloc(n, cap * sizeof(*al->free));
    for (uint32_t i = 0; i < cap; i++)
        al->free[i] = cap - 1 - i;
    al->nfree = cap;
    uint32_t hc = 16;
    while (hc < 2 * cap)
        hc *= 2;
    al->hash = umc_alloc(n, hc * sizeof(*al->hash));
    memset(al->hash, 0xff, hc * sizeof(*al->hash));
    al->hash_mask = hc - 1;
    al->pending = umc_alloc(n, cap * sizeof(*al->pending));
    al->adding = umc_alloc(n, cap * sizeof(*al->adding));
    dl_init(&al->lru);
    dl_init(&al->waiting);
    return 0;
}

void drbd_al_free(struct drbd_volume *v)
{
    struct umc_node *n = v->res->node;
    struct drbd_al *al = &v->al;
    if (!al->ext)
        return;
    umc_free(n, al->ext);
    umc_free(n, al->free);
    umc_free(n, al->hash);
    umc_free(n, al->pending);
    umc_free(n, al->adding);
    memset(al, 0, sizeof(*al));
}

bool drbd_al_idle(const struct drbd_volume *v) { return !v->al.busy && dl_empty(&v->al.waiting); }

/* ---- beginning and ending writes ------------------------------------------------------------ */

static void extent_range(uint64_t off, uint64_t len, uint32_t *first, uint32_t *last)
{
    *first = (uint32_t)(off >> DRBD_AL_EXTENT_SHIFT);
    *last = (uint32_t)((off + (len ? len : 1) - 1) >> DRBD_AL_EXTENT_SHIFT);
}

static bool pending_has(const struct drbd_al *al, uint32_t e)
{
    for (uint32_t i = 0; i < al->npending; i++)
        if (al->pending[i] == e)
            return true;
    return false;
}

static void al_transaction_start(struct drbd_volume *v);

bool drbd_al_begin(struct drbd_volume *v, struct drbd_al_waiter *w)
{
    struct drbd_al *al = &v->al;
    uint32_t first, last;
    extent_range(w->off, w->len, &first, &last);
    bool all = true;
    for (uint32_t e = first; e <= last; e++) {
        if (al_find(al, e) >= 0)
            continue;
        all = false;
        if (!pending_has(al, e) && al->npending < al->cap)
            al->pending[al->npending++] = e;
    }
    if (all) {
        for (uint32_t e = first; e <= last; e++) {
            struct drbd_al_ext *x = &al->ext[al_find(al, e)];
            x->refs++;
            dl_del(&x->lru);
            dl_add_tail(&al->lru, &x->lru); /* tail = most recent */
        }
        return true;
    }
    dl_add_tail(&al->waiting, &w->link);
    if (!al->busy)
        al_transaction_start(v);
    return false;
}

void drbd_al_complete(struct drbd_volume *v, uint64_t off, uint64_t len)
{
    struct drbd_al *al = &v->al;
    if (!al->ext)
        return;
    uint32_t first, last;
    extent_range(off, len, &first, &last);
    for (uint32_t e = first; e <= last; e++) {
        int32_t x = al_find(al, e);
        if (x >= 0 && al->ext[x].refs)
            al->ext[x].refs--;
    }
    if (!dl_empty(&al->waiting) && !al->busy)
        al_transaction_start(v);
}

/* ---- transactions ----------------------------------------------------------------------- */

static bool needed_by_waiter(const struct drbd_al *al, uint32_t e)
{
    for (const struct drbd_link *l = al->waiting.next; l != &al->waiting; l = l->next) {
        const struct drbd_al_waiter *w = dl_entry(l, struct drbd_al_waiter, link);
        uint32_t first, last;
        extent_range(w->off, w->len, &first, &last);
        if (e >= first && e <= last)
            return true;
    }
    return false;
}

/* The least recently used extent nobody is writing to or waiting for. */
static int32_t al_victim(const struct drbd_al *al)
{
    for (const struct drbd_link *l = al->lru.next; l != &al->lru; l = l->next) {
        const struct drbd_al_ext *x = dl_entry(l, struct drbd_al_ext, lru);
        if (!x->refs && !needed_by_waiter(al, x->extent))
            return (int32_t)(x - al->ext);
    }
    return -1;
}

static size_t al_encode(struct drbd_volume *v, uint64_t seq, unsigned char **out)
{
    struct drbd_al *al = &v->al;
    size_t cap = (AL_HDR + 4 * (size_t)al->cap + DRBD_BLOCK - 1) / DRBD_BLOCK * DRBD_BLOCK;
    unsigned char *b = umc_alloc(v->res->node, cap);
    uint32_t n = 0;
    for (const struct drbd_link *l = al->lru.next; l != &al->lru; l = l->next)
        drbd_put_be32(b + AL_HDR + 4 * n++, dl_entry(l, struct drbd_al_ext, lru)->extent);
    for (uint32_t i = 0; i < al->nadding; i++)
        drbd_put_be32(b + AL_HDR + 4 * n++, al->adding[i]);
    drbd_put_be32(b, AL_MAGIC);
    drbd_put_be32(b + 4, n);
    drbd_put_be64(b + 8, seq);
    drbd_put_be32(b + 16, umc_crc32c(b, AL_HDR + 4 * (size_t)n));
    *out = b;
    return (AL_HDR + 4 * (size_t)n + DRBD_BLOCK - 1) / DRBD_BLOCK * DRBD_BLOCK;
}

static void al_write_done(struct drbd_lio *lio);

static void al_write(struct drbd_volume *v)
{
    struct drbd_al *al = &v->al;
    uint64_t seq = ++al->seq;
    unsigned char *buf;
    size_t len = al_encode(v, seq, &buf);
    struct drbd_lio *lio = drbd_lio_new(v->res->d, al_write_done, v);
    lio->own[0] = buf;
    al->lio = lio;
    v->al_writes++;
    drbd_lio_submit(lio, v->backing, UMC_OP_WRITE, UMC_BIO_FUA,
                    v->layout.al_offset + (seq % 2) * DRBD_AL_SLOT_BYTES, len, buf, NULL, 0);
}

static void al_after_bitmap(void *arg, int rc)
{
    struct drbd_volume *v = arg;
    if (!v->backing_open) {
        v->al.busy = false;
        return;
    }
    al_write(v);
}

static void al_transaction_start(struct drbd_volume *v)
{
    struct drbd_al *al = &v->al;
    if (!v->backing_open || al->busy || (!al->npending && !al->clean_done))
        return;
    bool evicted = false;
    al->nadding = 0;
    uint32_t keep = 0;
    for (uint32_t i = 0; i < al->npending; i++) {
        uint32_t e = al->pending[i];
        if (al_find(al, e) >= 0)
            continue;
        if (al_used(al) + al->nadding >= al->cap) {
            int32_t x = al_victim(al);
            if (x < 0) {
                al->pending[keep++] = e; /* no room yet: a later transaction */
                continue;
            }
            al_remove(al, (uint32_t)x);
            evicted = true;
        }
        al->adding[al->nadding++] = e;
    }
    al->npending = keep;
    if (!al->nadding && !al->clean_done)
        return;
    al->busy = true;
    if (al->nadding && (v->md.flags & MDF_AL_CLEAN)) {
        drbd_md_set_flag(v, MDF_AL_CLEAN, false);
        drbd_md_sync(v, NULL, NULL);
    }
    /* an evicted extent's out-of-sync bits must be on disk before the log forgets it */
    if (evicted)
        drbd_bm_writeback(v, al_after_bitmap, v);
    else
        al_write(v);
}

static void al_resume_waiters(struct drbd_volume *v)
{
    struct drbd_al *al = &v->al;
    struct drbd_link list;
    dl_init(&list);
    while (!dl_empty(&al->waiting)) {
        struct drbd_link *l = al->waiting.next;
        dl_del(l);
        dl_add_tail(&list, l);
    }
    while (!dl_empty(&list)) {
        struct drbd_al_waiter *w = dl_entry(list.next, struct drbd_al_waiter, link);
        dl_del(&w->link);
        if (drbd_al_begin(v, w))
            w->resume(w);
    }
}

static void al_write_done(struct drbd_lio *lio)
{
    struct drbd_volume *v = lio->ctx;
    struct drbd_al *al = &v->al;
    int rc = lio->bio.status;
    drbd_lio_free(lio);
    al->lio = NULL;
    al->busy = false;
    if (rc)
        umc_err(v->res->node, DRBD_COMP, "%s: activity log write failed: %d", v->name, rc);
    for (uint32_t i = 0; i < al->nadding; i++)
        if (al_find(al, al->adding[i]) < 0 && al->nfree)
            al_insert(al, al->adding[i]);
    al->nadding = 0;
    if (al->clean_done) {
        void (*done)(void *, int) = al->clean_done;
        void *arg = al->clean_arg;
        al->clean_done = NULL;
        drbd_md_set_flag(v, MDF_AL_CLEAN, true);
        drbd_md_sync(v, done, arg);
    }
    al_resume_waiters(v);
    if (!al->busy && (al->npending || !dl_empty(&al->waiting)))
        al_transaction_start(v);
}

/* Clean shutdown: forget every idle extent and write an empty log. */
void drbd_al_write_clean(struct drbd_volume *v, void (*done)(void *arg, int rc), void *arg)
{
    struct drbd_al *al = &v->al;
    if (!al->ext || al->busy || !v->backing_open) {
        if (done)
            done(arg, al->busy ? -EBUSY : 0);
        return;
    }
    for (struct drbd_link *l = al->lru.next, *nx; l != &al->lru; l = nx) {
        nx = l->next;
        struct drbd_al_ext *x = dl_entry(l, struct drbd_al_ext, lru);
        if (!x->refs)
            al_remove(al, (uint32_t)(x - al->ext));
    }
    al->clean_done = done;
    al->clean_arg = arg;
    al->busy = true;
    al->nadding = 0;
    al_write(v);
}

/* ---- after a crash --------------------------------------------------------------------------- */

static bool al_slot_parse(const unsigned char *p, size_t len, uint64_t *seq, uint32_t *n)
{
    if (len < AL_HDR || drbd_get_be32(p) != AL_MAGIC)
        return false;
    uint32_t cnt = drbd_get_be32(p + 4);
    if (cnt > DRBD_AL_MAX_EXTENTS || AL_HDR + 4 * (size_t)cnt > len)
        return false;
    unsigned char hdr[AL_HDR];
    memcpy(hdr, p, AL_HDR);
    memset(hdr + 16, 0, 4);
    uint32_t crc = umc_crc32c_update(UMC_CRC32C_INIT, hdr, AL_HDR);
    crc = umc_crc32c_final(umc_crc32c_update(crc, p + AL_HDR, 4 * (size_t)cnt));
    if (crc != drbd_get_be32(p + 16))
        return false;
    *seq = drbd_get_be64(p + 8);
    *n = cnt;
    return true;
}

/* Mark every extent of the newest valid transaction out of sync toward every
 * peer; returns -EINVAL if neither slot holds a transaction (fresh meta-data). */
int drbd_al_read_apply(struct drbd_volume *v, const unsigned char *area, size_t len,
                       uint64_t *marked)
{
    *marked = 0;
    uint64_t best_seq = 0;
    int best = -1;
    uint32_t best_n = 0;
    for (int s = 0; s < 2; s++) {
        uint64_t seq;
        uint32_t n;
        if ((size_t)(s + 1) * DRBD_AL_SLOT_BYTES > len)
            break;
        if (al_slot_parse(area + (size_t)s * DRBD_AL_SLOT_BYTES, DRBD_AL_SLOT_BYTES, &seq, &n) &&
            (best < 0 || seq > best_seq)) {
            best = s;
            best_seq = seq;
            best_n = n;
        }
    }
    if (best < 0)
        return -EINVAL;
    v->al.seq = best_seq;
    const unsigned char *ext = area + (size_t)best * DRBD_AL_SLOT_BYTES + AL_HDR;
    uint64_t bits_per_ext = DRBD_AL_EXTENT / DRBD_BLOCK;
    for (uint32_t i = 0; i < best_n; i++) {
        uint64_t e = drbd_get_be32(ext + 4 * i);
        for (int s = 0; s < DRBD_MAX_NODES; s++)
            if (v->bm[s])
                *marked += drbd_bm_set_range(v->bm[s], e * bits_per_ext,
                                             e * bits_per_ext + bits_per_ext - 1);
    }
    return 0;
}
