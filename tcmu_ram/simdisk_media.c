/* The simulated disk's media: it lives outside every node (so it outlives node
 * crashes) and therefore allocates from the C heap, not from a node.  The
 * determinism guard exempts this one object from its heap check only.
 *
 * The image is sparse: a two-level table of 4 KiB pages, allocated on first
 * write; a missing page reads as zeros.  The volatile write cache is an undo
 * log: a write changes the image at once (reads see it) and leaves an undo
 * record holding the bytes it replaced, until the write is durable.  A record
 * knows which of its sectors it could still revert (its live runs): when a
 * newer write becomes durable, or survives a crash, the sectors it covers are
 * trimmed from every older record, because their value is settled. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcmu_ram/tcmu_ram_internal.h"

#define PAGE_BYTES 4096u
#define SECTORS_PER_PAGE (PAGE_BYTES / UMC_SECTOR)
#define LEAF_PAGES 512u            /* one leaf table maps 2 MiB */
#define TEAR_CHUNKS_MAX 1024u      /* a torn write is decided in at most this many pieces */

struct sector_run {
    uint64_t start, end;           /* sectors [start, end) */
};

struct page_snap {
    uint64_t page;
    unsigned char *data;           /* the whole page before the write */
};

/* A write not yet durable.  Pages that were unallocated have no snapshot. */
struct undo_rec {
    uint64_t seq;
    uint64_t first_sector, nr_sectors;
    struct sector_run *runs;       /* sectors still revertible, sorted */
    size_t nr_runs, cap_runs;
    struct page_snap *snaps;       /* ascending page order */
    size_t nr_snaps, cap_snaps;
    struct undo_rec *older, *newer;
};

struct fail_range {
    uint64_t start, end;
    unsigned ops;                  /* 1 read, 2 write */
};

struct simdisk_media {
    char name[UMC_NAME_MAX];
    uint64_t size, nr_pages, nr_leaves;
    unsigned char ***leaves;
    struct simdisk_params params;
    struct mte_rng crash_rng;      /* tear decisions */
    struct mte_rng io_rng;         /* latency jitter and error rates */
    mte_time_t stall_until;
    simdisk_watch_fn watch;
    void *watch_arg;
    struct fail_range *fails;
    size_t nr_fails;
    struct undo_rec *oldest, *newest;
    uint64_t nr_undo, cached_bytes, next_seq;
};

/* Where a write's bytes come from. */
struct data_src {
    const struct iovec *iov;       /* an iovec, */
    size_t iov_cnt;
    const unsigned char *buf;      /* or a flat buffer, */
    bool zeros;                    /* or zeros (discard) */
};

/* ---- heap ----------------------------------------------------------------------- */

static void *xalloc(size_t size, bool zeroed)
{
    void *p = zeroed ? calloc(1, size) : malloc(size);
    if (!p)
        abort();
    return p;
}

static void *xgrow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t cap2 = *cap ? *cap * 2 : 4;
    while (cap2 < need)
        cap2 *= 2;
    p = realloc(p, cap2 * elem);
    if (!p)
        abort();
    *cap = cap2;
    return p;
}

/* ---- the sparse image -------------------------------------------------------- */

static unsigned char *page_get(const struct simdisk_media *m, uint64_t page)
{
    unsigned char **leaf = m->leaves[page / LEAF_PAGES];
    return leaf ? leaf[page % LEAF_PAGES] : NULL;
}

static unsigned char **page_slot(struct simdisk_media *m, uint64_t page)
{
    unsigned char ***leaf = &m->leaves[page / LEAF_PAGES];
    if (!*leaf)
        *leaf = xalloc(LEAF_PAGES * sizeof(**leaf), true);
    return &(*leaf)[page % LEAF_PAGES];
}

static unsigned char *page_dup(const unsigned char *p)
{
    unsigned char *d = xalloc(PAGE_BYTES, false);
    memcpy(d, p, PAGE_BYTES);
    return d;
}

/* Call fn for each piece of [offset, offset+len) that lies within one page. */
typedef void (*page_piece_fn)(void *ctx, uint64_t page, size_t in_page, size_t n, size_t done);

static void for_each_page_piece(uint64_t offset, uint64_t len, page_piece_fn fn, void *ctx)
{
    uint64_t done = 0;
    while (done < len) {
        uint64_t pos = offset + done;
        size_t in_page = (size_t)(pos % PAGE_BYTES);
        size_t n = PAGE_BYTES - in_page;
        if (n > len - done)
            n = (size_t)(len - done);
        fn(ctx, pos / PAGE_BYTES, in_page, n, (size_t)done);
        done += n;
    }
}

static void copy_from_src(const struct data_src *src, size_t skip, unsigned char *dst, size_t n)
{
    if (src->zeros)
        memset(dst, 0, n);
    else if (src->buf)
        memcpy(dst, src->buf + skip, n);
    else
        umc_iov_to_buf(src->iov, (unsigned)src->iov_cnt, skip, dst, n);
}

/* ---- undo records ---------------------------------------------------------------- */

static void snap_add(struct undo_rec *rec, uint64_t page, unsigned char *data)
{
    rec->snaps = xgrow(rec->snaps, &rec->cap_snaps, rec->nr_snaps + 1, sizeof(*rec->snaps));
    rec->snaps[rec->nr_snaps++] = (struct page_snap){.page = page, .data = data};
}

static const unsigned char *snap_find(const struct undo_rec *rec, uint64_t page)
{
    size_t lo = 0, hi = rec->nr_snaps;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (rec->snaps[mid].page < page)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < rec->nr_snaps && rec->snaps[lo].page == page ? rec->snaps[lo].data : NULL;
}

static struct undo_rec *rec_new(struct simdisk_media *m, uint64_t offset, uint64_t length)
{
    struct undo_rec *rec = xalloc(sizeof(*rec), true);
    rec->seq = m->next_seq++;
    rec->first_sector = offset / UMC_SECTOR;
    rec->nr_sectors = length / UMC_SECTOR;
    rec->runs = xgrow(NULL, &rec->cap_runs, 1, sizeof(*rec->runs));
    rec->runs[0] = (struct sector_run){rec->first_sector, rec->first_sector + rec->nr_sectors};
    rec->nr_runs = 1;
    rec->older = m->newest;
    if (m->newest)
        m->newest->newer = rec;
    else
        m->oldest = rec;
    m->newest = rec;
    m->nr_undo++;
    m->cached_bytes += length;
    return rec;
}

static void rec_free(struct simdisk_media *m, struct undo_rec *rec)
{
    if (rec->older)
        rec->older->newer = rec->newer;
    else
        m->oldest = rec->newer;
    if (rec->newer)
        rec->newer->older = rec->older;
    else
        m->newest = rec->older;
    m->nr_undo--;
    m->cached_bytes -= rec->nr_sectors * UMC_SECTOR;
    for (size_t i = 0; i < rec->nr_snaps; i++)
        free(rec->snaps[i].data);
    free(rec->snaps);
    free(rec->runs);
    free(rec);
}

/* The record's sectors in [s0, s1) are settled: it may no longer revert them. */
static void runs_remove(struct undo_rec *rec, uint64_t s0, uint64_t s1)
{
    size_t i = 0;
    while (i < rec->nr_runs && rec->runs[i].end <= s0)
        i++;
    size_t j = i;
    while (j < rec->nr_runs && rec->runs[j].start < s1)
        j++;
    if (i == j)
        return; /* no run overlaps */
    struct sector_run keep[2];
    size_t nk = 0;
    if (rec->runs[i].start < s0)
        keep[nk++] = (struct sector_run){rec->runs[i].start, s0};
    if (rec->runs[j - 1].end > s1)
        keep[nk++] = (struct sector_run){s1, rec->runs[j - 1].end};
    size_t tail = rec->nr_runs - j;
    rec->runs = xgrow(rec->runs, &rec->cap_runs, i + nk + tail, sizeof(*rec->runs));
    memmove(&rec->runs[i + nk], &rec->runs[j], tail * sizeof(*rec->runs));
    memcpy(&rec->runs[i], keep, nk * sizeof(*keep));
    rec->nr_runs = i + nk + tail;
}

static uint64_t live_sectors(const struct undo_rec *rec)
{
    uint64_t n = 0;
    for (size_t i = 0; i < rec->nr_runs; i++)
        n += rec->runs[i].end - rec->runs[i].start;
    return n;
}

/* Settle [s0, s1) in rec and every older record. */
static void trim_from(struct undo_rec *rec, uint64_t s0, uint64_t s1)
{
    for (; rec; rec = rec->older)
        if (rec->first_sector < s1 && s0 < rec->first_sector + rec->nr_sectors)
            runs_remove(rec, s0, s1);
}

static struct undo_rec *rec_find(const struct simdisk_media *m, uint64_t seq)
{
    for (struct undo_rec *rec = m->newest; rec; rec = rec->older)
        if (rec->seq == seq)
            return rec;
    return NULL;
}

static void watch(const struct simdisk_media *m, uint64_t offset, uint64_t length, const char *why);

/* Put back what rec replaced in sectors [s0, s1). */
static void rec_restore(struct simdisk_media *m, const struct undo_rec *rec, uint64_t s0, uint64_t s1)
{
    while (s0 < s1) {
        uint64_t page = s0 / SECTORS_PER_PAGE;
        uint64_t stop = (page + 1) * SECTORS_PER_PAGE < s1 ? (page + 1) * SECTORS_PER_PAGE : s1;
        size_t at = (size_t)(s0 % SECTORS_PER_PAGE) * UMC_SECTOR;
        size_t n = (size_t)(stop - s0) * UMC_SECTOR;
        const unsigned char *old = snap_find(rec, page);
        unsigned char *cur = page_get(m, page);
        if (old) {
            unsigned char **slot = page_slot(m, page);
            if (!*slot)
                *slot = xalloc(PAGE_BYTES, true);
            memcpy(*slot + at, old + at, n);
        } else if (cur) {
            memset(cur + at, 0, n);
        }
        s0 = stop;
    }
}

/* The cache is full: the disk writes the oldest records back on its own. */
static void cache_write_back(struct simdisk_media *m)
{
    while (m->params.cache_size && m->cached_bytes > m->params.cache_size && m->oldest)
        rec_free(m, m->oldest);
}

/* ---- applying writes ----------------------------------------------------------- */

struct apply_ctx {
    struct simdisk_media *m;
    struct undo_rec *rec;          /* NULL: a direct, durable write */
    const struct data_src *src;
};

/* Snapshot (when undoable) and replace one page's piece.  A fully covered page
 * moves into the snapshot instead of being copied. */
static void apply_page_piece(void *arg, uint64_t page, size_t in_page, size_t n, size_t done)
{
    struct apply_ctx *c = arg;
    bool full = n == PAGE_BYTES;
    unsigned char *cur = page_get(c->m, page);
    if (!cur && c->src->zeros)
        return;
    unsigned char **slot = page_slot(c->m, page);
    if (cur && full) {
        if (c->rec)
            snap_add(c->rec, page, cur);
        else if (c->src->zeros)
            free(cur);
        *slot = (c->rec || c->src->zeros) ? NULL : cur;
    } else if (cur && c->rec) {
        snap_add(c->rec, page, page_dup(cur));
    }
    if (c->src->zeros && full)
        return; /* the page is gone: reads see zeros */
    if (!*slot)
        *slot = xalloc(PAGE_BYTES, !full);
    copy_from_src(c->src, done, *slot + in_page, n);
}

static void watch(const struct simdisk_media *m, uint64_t offset, uint64_t length, const char *why)
{
    if (m->watch)
        m->watch(m->watch_arg, offset, length, why);
}

void simdisk_watch(struct simdisk_media *m, simdisk_watch_fn fn, void *arg)
{
    m->watch = fn;
    m->watch_arg = arg;
}

static uint64_t apply_undoable(struct simdisk_media *m, uint64_t offset, uint64_t length,
                               const struct data_src *src)
{
    struct undo_rec *rec = rec_new(m, offset, length);
    uint64_t seq = rec->seq;
    struct apply_ctx c = {.m = m, .rec = rec, .src = src};
    for_each_page_piece(offset, length, apply_page_piece, &c);
    cache_write_back(m);
    watch(m, offset, length, src->zeros ? "discard" : "write");
    return seq;
}

uint64_t simdisk_media_write(struct simdisk_media *m, uint64_t offset, const struct iovec *iov,
                             size_t iov_cnt, uint64_t length)
{
    struct data_src src = {.iov = iov, .iov_cnt = iov_cnt};
    return apply_undoable(m, offset, length, &src);
}

uint64_t simdisk_media_discard(struct simdisk_media *m, uint64_t offset, uint64_t length)
{
    struct data_src src = {.zeros = true};
    return apply_undoable(m, offset, length, &src);
}

void simdisk_poke(struct simdisk_media *m, uint64_t offset, const void *buf, size_t len)
{
    if (offset >= m->size)
        return;
    if (len > m->size - offset)
        len = (size_t)(m->size - offset);
    struct data_src src = {.buf = buf};
    struct apply_ctx c = {.m = m, .src = &src};
    for_each_page_piece(offset, len, apply_page_piece, &c);
    /* Durable at once: no cached write may revert a sector it touched. */
    uint64_t s0 = offset / UMC_SECTOR, s1 = (offset + len + UMC_SECTOR - 1) / UMC_SECTOR;
    trim_from(m->newest, s0, s1);
    watch(m, offset, len, "poke");
}

/* ---- durability ------------------------------------------------------------------ */

void simdisk_media_make_durable(struct simdisk_media *m, uint64_t seq)
{
    struct undo_rec *rec = rec_find(m, seq);
    if (!rec)
        return; /* already durable: a flush or a write-back got there first */
    trim_from(rec->older, rec->first_sector, rec->first_sector + rec->nr_sectors);
    rec_free(m, rec);
}

uint64_t simdisk_media_flush_start(struct simdisk_media *m) { return m->next_seq++; }

/* Records are in sequence order: the older ones sit at the old end.  Newer
 * records already hold the flushed data as their undo bytes. */
void simdisk_media_flush_done(struct simdisk_media *m, uint64_t flush_seq)
{
    while (m->oldest && m->oldest->seq < flush_seq)
        rec_free(m, m->oldest);
}

uint64_t simdisk_unflushed_writes(const struct simdisk_media *m) { return m->nr_undo; }

/* ---- power loss -------------------------------------------------------------------- */

enum fate { FATE_DROP, FATE_KEEP, FATE_TEAR };

/* Settle sectors [s0, s1) of rec: kept ones bind older records, dropped ones
 * get their undo bytes back. */
static void settle(struct simdisk_media *m, struct undo_rec *rec, uint64_t s0, uint64_t s1, bool keep)
{
    if (keep) {
        trim_from(rec->older, s0, s1);
        return;
    }
    rec_restore(m, rec, s0, s1);
    watch(m, s0 * UMC_SECTOR, (s1 - s0) * UMC_SECTOR, "power loss undid");
}

/* Draw keep/drop per chunk, with at least one of each. */
static void draw_tear(struct mte_rng *rng, bool *keep, size_t nr_chunks)
{
    size_t kept = 0;
    for (size_t i = 0; i < nr_chunks; i++)
        kept += keep[i] = mte_rng_chance(rng, 0.5);
    if (kept == 0 || kept == nr_chunks) {
        size_t flip = (size_t)mte_rng_below(rng, nr_chunks);
        keep[flip] = !keep[flip];
    }
}

/* Tear rec: its live sectors split into chunks, each kept or dropped. */
static void tear(struct simdisk_media *m, struct undo_rec *rec, uint64_t nr_live)
{
    bool keep[TEAR_CHUNKS_MAX];
    uint64_t chunk = (nr_live + TEAR_CHUNKS_MAX - 1) / TEAR_CHUNKS_MAX;
    size_t nr_chunks = (size_t)((nr_live + chunk - 1) / chunk);
    draw_tear(&m->crash_rng, keep, nr_chunks);
    uint64_t index = 0; /* among live sectors */
    for (size_t r = 0; r < rec->nr_runs; r++) {
        struct sector_run run = rec->runs[r];
        for (uint64_t s = run.start; s < run.end;) {
            uint64_t stop = s + (chunk - index % chunk);
            if (stop > run.end)
                stop = run.end;
            settle(m, rec, s, stop, keep[index / chunk]);
            index += stop - s;
            s = stop;
        }
    }
}

static enum fate draw_fate(struct mte_rng *rng, uint64_t nr_live)
{
    return (enum fate)mte_rng_below(rng, nr_live > 1 ? 3 : 2);
}

void simdisk_crash(struct simdisk_media *m, struct simdisk_crash_stats *st)
{
    struct simdisk_crash_stats local = {0};
    while (m->newest) {
        struct undo_rec *rec = m->newest;
        uint64_t nr_live = live_sectors(rec);
        enum fate f = draw_fate(&m->crash_rng, nr_live);
        if (f == FATE_TEAR) {
            tear(m, rec, nr_live);
            local.torn++;
        } else {
            for (size_t r = 0; r < rec->nr_runs; r++)
                settle(m, rec, rec->runs[r].start, rec->runs[r].end, f == FATE_KEEP);
            if (f == FATE_KEEP)
                local.kept++;
            else
                local.dropped++;
        }
        rec_free(m, rec);
    }
    if (st)
        *st = local;
}

/* ---- reading and comparing ------------------------------------------------------- */

struct read_ctx {
    const struct simdisk_media *m;
    unsigned char *buf;
    const struct iovec *iov;
    size_t iov_cnt;
};

static void read_page_piece(void *arg, uint64_t page, size_t in_page, size_t n, size_t done)
{
    struct read_ctx *c = arg;
    const unsigned char *p = page < c->m->nr_pages ? page_get(c->m, page) : NULL;
    if (c->buf && p)
        memcpy(c->buf + done, p + in_page, n);
    else if (c->buf)
        memset(c->buf + done, 0, n);
    else if (p)
        umc_iov_from_buf(c->iov, (unsigned)c->iov_cnt, done, p + in_page, n);
    else
        umc_iov_zero(c->iov, (unsigned)c->iov_cnt, done, n);
}

void simdisk_read(const struct simdisk_media *m, uint64_t offset, void *buf, size_t len)
{
    struct read_ctx c = {.m = m, .buf = buf};
    for_each_page_piece(offset, len, read_page_piece, &c);
}

void simdisk_media_read_iov(const struct simdisk_media *m, uint64_t offset,
                            const struct iovec *iov, size_t iov_cnt, uint64_t length)
{
    struct read_ctx c = {.m = m, .iov = iov, .iov_cnt = iov_cnt};
    for_each_page_piece(offset, length, read_page_piece, &c);
}

static const unsigned char *page_or_null(const struct simdisk_media *m, uint64_t page)
{
    return page < m->nr_pages ? page_get(m, page) : NULL;
}

static bool leaf_empty(const struct simdisk_media *m, uint64_t page)
{
    return page >= m->nr_pages || !m->leaves[page / LEAF_PAGES];
}

/* First differing byte in [0, n) of two pieces (NULL = zeros), or n. */
static size_t first_difference(const unsigned char *a, const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((a ? a[i] : 0) != (b ? b[i] : 0))
            return i;
    return n;
}

uint64_t simdisk_compare(const struct simdisk_media *a, const struct simdisk_media *b,
                         uint64_t offset, uint64_t length)
{
    uint64_t pos = offset, end = offset + length;
    while (pos < end) {
        uint64_t page = pos / PAGE_BYTES;
        if (pos % (PAGE_BYTES * LEAF_PAGES) == 0 && leaf_empty(a, page) && leaf_empty(b, page)) {
            pos += PAGE_BYTES * LEAF_PAGES; /* 2 MiB of zeros on both sides */
            continue;
        }
        size_t in_page = (size_t)(pos % PAGE_BYTES);
        size_t n = PAGE_BYTES - in_page;
        if (n > end - pos)
            n = (size_t)(end - pos);
        const unsigned char *pa = page_or_null(a, page), *pb = page_or_null(b, page);
        if ((pa || pb) && (!pa || !pb || memcmp(pa + in_page, pb + in_page, n) != 0)) {
            size_t d = first_difference(pa ? pa + in_page : NULL, pb ? pb + in_page : NULL, n);
            if (d < n)
                return pos + d;
        }
        pos += n;
    }
    return UINT64_MAX;
}

/* ---- faults, latency, parameters ------------------------------------------------ */

bool simdisk_media_io_fails(struct simdisk_media *m, enum simdisk_io_kind kind, uint64_t offset,
                            uint64_t length)
{
    if (kind == SIMDISK_IO_FLUSH)
        return false;
    unsigned op = kind == SIMDISK_IO_READ ? 1u : 2u;
    for (size_t i = 0; i < m->nr_fails; i++) {
        const struct fail_range *f = &m->fails[i];
        if ((f->ops & op) && offset < f->end && f->start < offset + length)
            return true;
    }
    double rate = kind == SIMDISK_IO_READ ? m->params.read_error_rate : m->params.write_error_rate;
    return rate > 0 && mte_rng_chance(&m->io_rng, rate);
}

mte_time_t simdisk_media_completion_time(struct simdisk_media *m, enum simdisk_io_kind kind,
                                         mte_time_t now)
{
    const struct simdisk_params *p = &m->params;
    mte_time_t t = now + (kind == SIMDISK_IO_READ    ? p->read_latency
                          : kind == SIMDISK_IO_WRITE ? p->write_latency
                                                     : p->flush_latency);
    if (p->jitter)
        t += mte_rng_range(&m->io_rng, 0, p->jitter);
    if (now < m->stall_until && t < m->stall_until)
        t = m->stall_until;
    return t;
}

/* Overlapping stalls: the disk is back when the last one ends. */
void simdisk_stall_until(struct simdisk_media *m, mte_time_t until)
{
    if (until > m->stall_until)
        m->stall_until = until;
}

void simdisk_fail_range(struct simdisk_media *m, uint64_t offset, uint64_t length, unsigned ops)
{
    size_t cap = m->nr_fails;
    m->fails = xgrow(m->fails, &cap, m->nr_fails + 1, sizeof(*m->fails));
    m->fails[m->nr_fails++] = (struct fail_range){offset, offset + length, ops};
}

void simdisk_unfail_range(struct simdisk_media *m, uint64_t offset, uint64_t length, unsigned ops)
{
    for (size_t i = 0; i < m->nr_fails; i++) {
        const struct fail_range *f = &m->fails[i];
        if (f->start != offset || f->end != offset + length || f->ops != ops)
            continue;
        memmove(&m->fails[i], &m->fails[i + 1], (m->nr_fails - i - 1) * sizeof(*m->fails));
        m->nr_fails--;
        return;
    }
}

void simdisk_clear_faults(struct simdisk_media *m)
{
    m->stall_until = 0;
    free(m->fails);
    m->fails = NULL;
    m->nr_fails = 0;
}

void simdisk_default_params(struct simdisk_params *p)
{
    *p = (struct simdisk_params){
        .read_latency = 100 * MTE_USEC,
        .write_latency = 100 * MTE_USEC,
        .flush_latency = 1 * MTE_MSEC,
        .jitter = 20 * MTE_USEC,
        .write_cache = true,
        .cache_size = 64ull << 20,
    };
}

void simdisk_set_params(struct simdisk_media *m, const struct simdisk_params *p)
{
    m->params = *p;
    cache_write_back(m);
}

const struct simdisk_params *simdisk_media_params(const struct simdisk_media *m) { return &m->params; }
const char *simdisk_media_name(const struct simdisk_media *m) { return m->name; }
uint64_t simdisk_media_size(const struct simdisk_media *m) { return m->size; }

/* ---- lifetime -------------------------------------------------------------------- */

struct simdisk_media *simdisk_media_new(const char *name, uint64_t size, uint64_t seed)
{
    struct simdisk_media *m = xalloc(sizeof(*m), true);
    snprintf(m->name, sizeof(m->name), "%s", name ? name : "simdisk");
    m->size = size;
    m->nr_pages = (size + PAGE_BYTES - 1) / PAGE_BYTES;
    m->nr_leaves = (m->nr_pages + LEAF_PAGES - 1) / LEAF_PAGES;
    m->leaves = xalloc((m->nr_leaves ? m->nr_leaves : 1) * sizeof(*m->leaves), true);
    simdisk_default_params(&m->params);
    mte_rng_init(&m->crash_rng, seed, "disk");
    mte_rng_init(&m->io_rng, seed, "disk-io");
    return m;
}

void simdisk_media_free(struct simdisk_media *m)
{
    if (!m)
        return;
    while (m->oldest)
        rec_free(m, m->oldest);
    for (uint64_t l = 0; l < m->nr_leaves; l++) {
        if (!m->leaves[l])
            continue;
        for (unsigned i = 0; i < LEAF_PAGES; i++)
            free(m->leaves[l][i]);
        free(m->leaves[l]);
    }
    free(m->leaves);
    free(m->fails);
    free(m);
}
