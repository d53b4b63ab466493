/* Thin provisioning and WRITE SAME: UNMAP, WRITE SAME (10/16) with UNMAP and
 * NDOB, GET LBA STATUS, and the set of deallocated extents behind them (a
 * fresh LU counts as mapped; UNMAP and zero WRITE SAME+UNMAP deallocate,
 * writes map again). */
#include "scst/scst_internal.h"

#define WS_CHUNK_BYTES (1u << 20)
#define LBA_STATUS_MAX_DESCRIPTORS 1024u

/* ---- the extent set ------------------------------------------------------------------------ */

/* Index of the first extent ending after lba. */
static size_t extent_search(const struct scst_extents *x, uint64_t lba)
{
    size_t lo = 0, hi = x->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (x->v[mid].lba + x->v[mid].count <= lba)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void extent_insert_at(struct umc_node *n, struct scst_extents *x, size_t at, struct scst_extent e)
{
    if (x->n == x->cap) {
        x->cap = x->cap ? 2 * x->cap : 8;
        x->v = umc_realloc(n, x->v, x->cap * sizeof(*x->v));
    }
    memmove(x->v + at + 1, x->v + at, (x->n - at) * sizeof(*x->v));
    x->v[at] = e;
    x->n++;
}

static void extent_remove_range(struct scst_extents *x, size_t from, size_t to)
{
    if (from == to)
        return; /* also keeps memmove away from an empty (NULL) array */
    memmove(x->v + from, x->v + to, (x->n - to) * sizeof(*x->v));
    x->n -= to - from;
}

void scst_extents_mark_unmapped(struct scst_device *dev, uint64_t lba, uint64_t count)
{
    struct scst_extents *x = &dev->unmapped;
    if (!count)
        return;
    uint64_t end = lba + count;
    /* merge with every extent touching [lba, end) */
    size_t i = lba ? extent_search(x, lba - 1) : 0;
    size_t j = i;
    while (j < x->n && x->v[j].lba <= end) {
        if (x->v[j].lba < lba)
            lba = x->v[j].lba;
        if (x->v[j].lba + x->v[j].count > end)
            end = x->v[j].lba + x->v[j].count;
        j++;
    }
    extent_remove_range(x, i, j);
    extent_insert_at(dev->core->node, x, i, (struct scst_extent){lba, end - lba});
}

void scst_extents_mark_mapped(struct scst_device *dev, uint64_t lba, uint64_t count)
{
    struct scst_extents *x = &dev->unmapped;
    uint64_t end = lba + count;
    size_t i = extent_search(x, lba);
    while (i < x->n && x->v[i].lba < end) {
        struct scst_extent e = x->v[i];
        uint64_t e_end = e.lba + e.count;
        if (e.lba < lba && e_end > end) { /* split */
            x->v[i].count = lba - e.lba;
            extent_insert_at(dev->core->node, x, i + 1, (struct scst_extent){end, e_end - end});
            return;
        }
        if (e.lba < lba) {
            x->v[i].count = lba - e.lba;
            i++;
        } else if (e_end > end) {
            x->v[i] = (struct scst_extent){end, e_end - end};
            return;
        } else {
            extent_remove_range(x, i, i + 1);
        }
    }
}

bool scst_extents_is_unmapped(const struct scst_device *dev, uint64_t lba, uint64_t *run)
{
    const struct scst_extents *x = &dev->unmapped;
    size_t i = extent_search(x, lba);
    if (i < x->n && x->v[i].lba <= lba) {
        *run = x->v[i].lba + x->v[i].count - lba;
        return true;
    }
    uint64_t next = i < x->n ? x->v[i].lba : dev->nblocks;
    *run = next > lba ? next - lba : 1;
    return false;
}

void scst_extents_free(struct scst_core *core, struct scst_extents *x)
{
    umc_free(core->node, x->v);
    *x = (struct scst_extents){0};
}

/* Deallocate on the bdev: DISCARD, or zeroing when it cannot discard. */
static enum umc_bio_op dealloc_op(const struct scst_device *dev)
{
    return (dev->bdev && (dev->bdev->flags & UMC_BDEV_DISCARD)) ? UMC_OP_DISCARD : UMC_OP_WRITE_ZEROES;
}

/* ---- WRITE SAME ------------------------------------------------------------------------------ */

int scst_parse_write_same(struct scst_cmd_private *p)
{
    const uint8_t *cdb = p->cmd->cdb;
    bool sixteen = cdb[0] == 0x93;
    uint64_t lba = sixteen ? get_be64(cdb + 2) : get_be32(cdb + 2);
    uint64_t n = sixteen ? get_be32(cdb + 10) : get_be16(cdb + 7);
    if ((cdb[1] & 0x08) && !p->dev->thin)        /* UNMAP on a fully provisioned LU */
        return scst_invalid_cdb(p, 1, 3);
    if (scst_parse_lba_range(p, lba, n))
        return -1;
    if (n == 0)                                  /* WSNZ 0: to the last LBA */
        n = p->dev->nblocks - lba;
    if (n > SCST_MAX_WS_BLOCKS)
        return scst_invalid_cdb(p, sixteen ? 10 : 7, 7);
    p->lba = lba;
    p->nblocks = n;
    p->flags |= CMDF_WRITES;
    if (cdb[1] & 0x08)
        p->flags |= CMDF_UNMAP;
    if (sixteen && (cdb[1] & 0x01))
        p->flags |= CMDF_NDOB;
    scst_cmd_set_data(p, SCSI_DIR_WRITE, (p->flags & CMDF_NDOB) ? 0 : p->dev->block_size);
    return 0;
}

static bool all_zero(const uint8_t *b, size_t len)
{
    return len == 0 || (b[0] == 0 && memcmp(b, b + 1, len - 1) == 0);
}

static void ws_finish(struct scst_cmd_private *p)
{
    struct scst_device *dev = p->dev;
    if (!p->bio.status) {
        if (p->flags & CMDF_DEALLOC) {
            scst_extents_mark_unmapped(dev, p->lba, p->nblocks);
            dev->stats.unmaps++;
        } else if (dev->unmapped.n) {
            scst_extents_mark_mapped(dev, p->lba, p->nblocks);
        }
        dev->stats.writes++;
    }
    scst_io_finish(p);
}

static void ws_next_chunk(struct scst_cmd_private *p)
{
    uint64_t chunk = (p->aux_len >> p->dev->block_shift);
    if (p->bio.status || p->abort_requested || p->pos >= p->nblocks) {
        if (p->pos >= p->nblocks || p->bio.status)
            ws_finish(p);
        else
            scst_cmd_complete(p);
        return;
    }
    uint64_t n = p->nblocks - p->pos < chunk ? p->nblocks - p->pos : chunk;
    uint64_t lba = p->lba + p->pos;
    p->pos += n;
    p->dev->stats.write_bytes += n << p->dev->block_shift;
    scst_io_submit(p, UMC_OP_WRITE, scst_write_flags(p), lba, n, p->aux, ws_next_chunk);
}

/* Replicate the one block into a chunk buffer and write it chunk by chunk. */
static void ws_write_pattern(struct scst_cmd_private *p)
{
    uint32_t bs = p->dev->block_size;
    uint64_t chunk_blocks = WS_CHUNK_BYTES / bs;
    if (chunk_blocks > p->nblocks)
        chunk_blocks = p->nblocks;
    uint8_t *aux = scst_aux_alloc(p, chunk_blocks * bs);
    for (uint64_t b = 0; b < chunk_blocks; b++)
        memcpy(aux + b * bs, p->cmd->buf, bs);
    p->pos = 0;
    p->bio.status = 0;
    ws_next_chunk(p);
}

void scst_exec_write_same(struct scst_cmd_private *p)
{
    struct scst_device *dev = p->dev;
    if (!p->nblocks) {                           /* "to the end" from the end */
        scst_cmd_complete(p);
        return;
    }
    bool zero = (p->flags & CMDF_NDOB) || all_zero(p->cmd->buf, dev->block_size);
    /* UNMAP on a thin LU deallocates whatever the pattern (as LIO and SCST
     * do, and libiscsi's UnmapUntilEnd expects): they then read as zeros. */
    if ((p->flags & CMDF_UNMAP) && dev->thin) {
        p->flags |= CMDF_DEALLOC;
        scst_io_submit(p, dealloc_op(dev), scst_write_flags(p), p->lba, p->nblocks, NULL, ws_finish);
        return;
    }
    if (zero) {
        scst_io_submit(p, UMC_OP_WRITE_ZEROES, scst_write_flags(p), p->lba, p->nblocks, NULL, ws_finish);
        return;
    }
    ws_write_pattern(p);
}

/* ---- UNMAP ------------------------------------------------------------------------------------ */

int scst_parse_unmap(struct scst_cmd_private *p)
{
    uint32_t len = get_be16(p->cmd->cdb + 7);
    if (len && len < 8) {
        scst_fail(p, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
        return -1;
    }
    p->lba = 0;
    p->nblocks = p->dev->nblocks;
    p->flags |= CMDF_WRITES;
    scst_cmd_set_data(p, SCSI_DIR_WRITE, len);
    return 0;
}

static size_t unmap_descriptors(struct scst_cmd_private *p)
{
    const uint8_t *d = p->cmd->buf;
    size_t len = p->cmd->data_len;
    size_t bd_len = get_be16(d + 2);
    if (bd_len > len - 8)
        bd_len = len - 8;
    return bd_len / 16;
}

static int unmap_validate(struct scst_cmd_private *p, size_t count)
{
    const uint8_t *d = p->cmd->buf + 8;
    if (count > SCST_MAX_UNMAP_DESCRIPTORS)
        return scst_invalid_param(p, 2, 7);
    for (size_t i = 0; i < count; i++) {
        uint64_t lba = get_be64(d + 16 * i);
        uint32_t n = get_be32(d + 16 * i + 8);
        if (n > SCST_MAX_UNMAP_BLOCKS)
            return scst_invalid_param(p, (uint16_t)(8 + 16 * i + 8), 7);
        if (lba > p->dev->nblocks || n > p->dev->nblocks - lba) {
            scst_fail(p, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
            return -1;
        }
    }
    return 0;
}

/* One descriptor per bio; pos is the next descriptor. */
static void unmap_next(struct scst_cmd_private *p)
{
    struct scst_device *dev = p->dev;
    const uint8_t *d = p->cmd->buf + 8;
    size_t count = unmap_descriptors(p);
    if (p->bio.status) {
        scst_io_finish(p);
        return;
    }
    if (p->pos > 0) {
        const uint8_t *prev = d + 16 * (p->pos - 1);
        scst_extents_mark_unmapped(dev, get_be64(prev), get_be32(prev + 8));
    }
    while (p->pos < count && get_be32(d + 16 * p->pos + 8) == 0)
        p->pos++;
    if (p->pos >= count || p->abort_requested) {
        dev->stats.unmaps++;
        scst_cmd_complete(p);
        return;
    }
    const uint8_t *e = d + 16 * p->pos++;
    scst_io_submit(p, dealloc_op(dev), 0, get_be64(e), get_be32(e + 8), NULL, unmap_next);
}

void scst_exec_unmap(struct scst_cmd_private *p)
{
    if (!p->cmd->data_len || unmap_validate(p, unmap_descriptors(p))) {
        scst_cmd_complete(p);
        return;
    }
    p->pos = 0;
    p->bio.status = 0;
    unmap_next(p);
}

/* ---- GET LBA STATUS ---------------------------------------------------------------------------- */

int scst_parse_get_lba_status(struct scst_cmd_private *p)
{
    const uint8_t *cdb = p->cmd->cdb;
    uint64_t lba = get_be64(cdb + 2);
    if (lba >= p->dev->nblocks) {
        scst_fail(p, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
        return -1;
    }
    p->lba = lba;
    scst_cmd_set_data_in(p, get_be32(cdb + 10), 8 + 16 * LBA_STATUS_MAX_DESCRIPTORS);
    return 0;
}

void scst_exec_get_lba_status(struct scst_cmd_private *p)
{
    const struct scst_device *dev = p->dev;
    size_t max = p->cmd->data_len > 24 ? (p->cmd->data_len - 8) / 16 : 1;
    if (max > LBA_STATUS_MAX_DESCRIPTORS)
        max = LBA_STATUS_MAX_DESCRIPTORS;
    size_t len = 8;
    uint8_t *d = umc_alloc(p->core->node, 8 + 16 * max);
    uint64_t lba = p->lba;
    for (size_t i = 0; i < max && lba < dev->nblocks; i++) {
        uint64_t run;
        bool unmapped = scst_extents_is_unmapped(dev, lba, &run);
        if (run > dev->nblocks - lba)
            run = dev->nblocks - lba;
        if (run > 0xffffffffull)
            run = 0xffffffffull;
        uint8_t *e = d + len;
        put_be64(e, lba);
        put_be32(e + 8, (uint32_t)run);
        e[12] = unmapped ? 0x01 : 0x00;
        len += 16;
        lba += run;
    }
    put_be32(d, (uint32_t)(len - 4));
    scst_respond(p, d, len);
    umc_free(p->core->node, d);
    scst_cmd_complete(p);
}
