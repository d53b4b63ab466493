/* EXTENDED COPY (LID1) with identification-descriptor CSCD descriptors (0xE4,
 * naming LUs of this server by their VPD 0x83 NAA or T10 designators) and
 * block-to-block segment descriptors (0x02); RECEIVE COPY RESULTS (COPY
 * STATUS, OPERATING PARAMETERS); the third-party copy VPD page.  Segments run
 * one after another, 1 MiB at a time: read the source, write the destination. */
#include <stdio.h>

#include "scst/scst_internal.h"

#define XC_MAX_TARGETS 8
#define XC_MAX_SEGMENTS 8
#define XC_MAX_DESC_LIST 512
#define XC_MAX_SEGMENT_BYTES (256u << 20)
#define XC_CHUNK_BYTES (1u << 20)
#define XC_MAX_RESULTS 16
#define TGT_DESC_LEN 32
#define B2B_DESC_LEN 28
#define RCR_MAX_LEN 64 /* COPY STATUS: 12 bytes, OPERATING PARAMETERS: 46 */

enum { COPY_IN_PROGRESS = 0x00, COPY_OK = 0x01, COPY_FAILED = 0x02 };

struct scst_copy_result {
    uint8_t list_id;
    uint8_t status;
    uint16_t segments;
    uint64_t bytes;
    struct scst_copy_result *next;
};

struct xc_target {
    struct scst_device *dev;      /* NULL: no LU of ours matches */
    bool nul;
    bool opened;
};

struct xc_segment {
    uint16_t src, dst;
    uint16_t blocks;
    bool dc;
    uint64_t src_lba, dst_lba;
};

struct xc_state {
    struct xc_target tgt[XC_MAX_TARGETS];
    unsigned ntgt;
    struct xc_segment seg[XC_MAX_SEGMENTS];
    unsigned nseg, cur;
    uint64_t done_blocks;         /* of the current segment, in source blocks */
    uint64_t chunk_blocks;
    struct scst_copy_result *result;
};

/* ---- parse ---------------------------------------------------------------------------------- */

int scst_parse_xcopy(struct scst_cmd_private *p)
{
    uint32_t len = get_be32(p->cmd->cdb + 10);
    if (len > 16 + XC_MAX_DESC_LIST * 2) {
        scst_fail(p, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
        return -1;
    }
    scst_cmd_set_data(p, SCSI_DIR_WRITE, len);
    return 0;
}

/* ---- descriptors ---------------------------------------------------------------------------- */

static struct scst_device *match_designator(struct scst_core *core, const uint8_t *d)
{
    uint8_t type = d[1] & 0x0f, len = d[3];
    const uint8_t *id = d + 4;
    if (len > 20)
        return NULL;
    for (struct scst_device *dev = core->devices; dev; dev = dev->next) {
        if (type == 3 && len == sizeof(dev->naa) && memcmp(id, dev->naa, len) == 0)
            return dev;
        if (type == 1) {
            char t10[8 + sizeof(dev->t10_dev_id)];
            snprintf(t10, sizeof(t10), "%-8.8s%s", "SCST_USR", dev->t10_dev_id);
            if (strlen(t10) == len && memcmp(id, t10, len) == 0)
                return dev;
        }
    }
    return NULL;
}

static int parse_targets(struct scst_cmd_private *p, struct xc_state *xs, const uint8_t *d, size_t tdl)
{
    for (size_t off = 0; off < tdl; off += TGT_DESC_LEN) {
        const uint8_t *t = d + off;
        if (t[0] != 0xe4) {
            scst_fail(p, SK_ILLEGAL_REQUEST, ASC_UNSUPPORTED_TARGET_DESCRIPTOR_TYPE);
            return -1;
        }
        if (tdl - off < TGT_DESC_LEN) {
            scst_fail(p, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
            return -1;
        }
        /* LU ID TYPE (byte 1 bits 7-6) is ignored: the designator names the LU */
        struct xc_target *xt = &xs->tgt[xs->ntgt++];
        xt->nul = t[1] & 0x20;
        xt->dev = (t[1] & 0x1f) == 0 ? match_designator(p->core, t + 4) : NULL;
        if (xt->dev && get_be24(t + 29) != xt->dev->block_size)
            xt->dev = NULL;
    }
    return 0;
}

static int parse_segments(struct scst_cmd_private *p, struct xc_state *xs, const uint8_t *d, size_t sdl,
                          size_t base)
{
    for (size_t off = 0; off < sdl;) {
        const uint8_t *s = d + off;
        if (sdl - off < 4) {
            scst_fail(p, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
            return -1;
        }
        if (s[0] != 0x02) {
            scst_fail(p, SK_ILLEGAL_REQUEST, ASC_UNSUPPORTED_SEGMENT_DESCRIPTOR_TYPE);
            return -1;
        }
        if (get_be16(s + 2) != B2B_DESC_LEN - 4)
            return scst_invalid_param(p, (uint16_t)(base + off + 2), 7);
        if (sdl - off < B2B_DESC_LEN) {
            scst_fail(p, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
            return -1;
        }
        struct xc_segment *g = &xs->seg[xs->nseg++];
        g->dc = s[1] & 0x02;
        g->src = get_be16(s + 4);
        g->dst = get_be16(s + 6);
        g->blocks = get_be16(s + 10);
        g->src_lba = get_be64(s + 12);
        g->dst_lba = get_be64(s + 20);
        off += B2B_DESC_LEN;
    }
    return 0;
}

/* Count before parsing so that TOO MANY ... wins over the contents. */
static unsigned count_segments(const uint8_t *d, size_t sdl)
{
    unsigned n = 0;
    for (size_t off = 0; off + 4 <= sdl; n++)
        off += 4 + (size_t)get_be16(d + off + 2);
    return n;
}

static int validate_header(struct scst_cmd_private *p, size_t *tdl, size_t *sdl)
{
    const uint8_t *d = p->cmd->buf;
    size_t len = p->cmd->data_len;
    if (len < 16) {
        scst_fail(p, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
        return -1;
    }
    *tdl = get_be16(d + 2);
    *sdl = get_be32(d + 8);
    uint32_t inline_len = get_be32(d + 12);
    if (((d[1] >> 3) & 3) == 3)
        return scst_invalid_param(p, 1, 4);
    if (*tdl + *sdl > XC_MAX_DESC_LIST || 16 + *tdl + *sdl + inline_len > len) {
        scst_fail(p, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
        return -1;
    }
    if (inline_len)
        return scst_invalid_param(p, 12, 7);
    if (*tdl / TGT_DESC_LEN > XC_MAX_TARGETS) {
        scst_fail(p, SK_ILLEGAL_REQUEST, ASC_TOO_MANY_TARGET_DESCRIPTORS);
        return -1;
    }
    if (count_segments(d + 16 + *tdl, *sdl) > XC_MAX_SEGMENTS) {
        scst_fail(p, SK_ILLEGAL_REQUEST, ASC_TOO_MANY_SEGMENT_DESCRIPTORS);
        return -1;
    }
    return 0;
}

/* ---- copy results ------------------------------------------------------------------------------- */

static struct scst_copy_result *result_find(struct scst_session *s, uint8_t list_id)
{
    for (struct scst_copy_result *r = s->copy_results; r; r = r->next)
        if (r->list_id == list_id)
            return r;
    return NULL;
}

static void result_unlink(struct scst_session *s, struct scst_copy_result *r)
{
    for (struct scst_copy_result **pp = &s->copy_results; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            umc_free(s->core->node, r);
            return;
        }
    }
}

static struct scst_copy_result *result_new(struct scst_session *s, uint8_t list_id)
{
    struct scst_copy_result *old = result_find(s, list_id);
    if (old)
        result_unlink(s, old);
    unsigned n = 0;
    struct scst_copy_result **pp = &s->copy_results;
    while (*pp) {
        if (++n >= XC_MAX_RESULTS) { /* forget the oldest */
            umc_free(s->core->node, *pp);
            *pp = NULL;
            break;
        }
        pp = &(*pp)->next;
    }
    struct scst_copy_result *r = umc_alloc(s->core->node, sizeof(*r));
    r->list_id = list_id;
    r->next = s->copy_results;
    s->copy_results = r;
    return r;
}

void scst_copy_results_free(struct scst_session *s)
{
    while (s->copy_results)
        result_unlink(s, s->copy_results);
}

/* ---- running the copy ------------------------------------------------------------------------------ */

static void xc_end(struct scst_cmd_private *p, bool ok)
{
    struct xc_state *xs = p->opdata;
    for (unsigned i = 0; i < xs->ntgt; i++)
        if (xs->tgt[i].opened)
            scst_device_close(xs->tgt[i].dev);
    if (xs->result)
        xs->result->status = ok ? COPY_OK : COPY_FAILED;
    scst_cmd_complete(p);
}

static void xc_abort(struct scst_cmd_private *p, uint16_t asc)
{
    scst_fail_info(p, SK_COPY_ABORTED, asc, ((struct xc_state *)p->opdata)->cur);
    xc_end(p, false);
}

static struct scst_device *xc_device(struct scst_cmd_private *p, unsigned index)
{
    struct xc_state *xs = p->opdata;
    if (index >= xs->ntgt || xs->tgt[index].nul || !xs->tgt[index].dev)
        return NULL;
    struct xc_target *t = &xs->tgt[index];
    if (!t->opened && scst_device_open(t->dev) == 0)
        t->opened = true;
    return t->opened && t->dev->bdev && t->dev->medium_loaded ? t->dev : NULL;
}

static void xc_segment_step(struct scst_cmd_private *p);

static void xc_written(struct scst_cmd_private *p)
{
    struct xc_state *xs = p->opdata;
    if (p->bio.status) {
        scst_fail_errno(p, p->bio.status, true);
        xc_end(p, false);
        return;
    }
    xs->done_blocks += xs->chunk_blocks;
    if (xs->result)
        xs->result->bytes += p->bio.length;
    xc_segment_step(p);
}

static void xc_read(struct scst_cmd_private *p)
{
    struct xc_state *xs = p->opdata;
    const struct xc_segment *g = &xs->seg[xs->cur];
    if (p->bio.status) {
        scst_fail_errno(p, p->bio.status, false);
        xc_end(p, false);
        return;
    }
    struct scst_device *src = xs->tgt[g->src].dev, *dst = xs->tgt[g->dst].dev;
    uint64_t bytes = xs->chunk_blocks << src->block_shift;
    uint64_t dst_lba = g->dst_lba + ((xs->done_blocks << src->block_shift) >> dst->block_shift);
    scst_io_submit_dev(p, dst, UMC_OP_WRITE, 0, dst_lba, bytes >> dst->block_shift, p->aux, xc_written);
}

static int xc_check_segment(struct scst_cmd_private *p, const struct xc_segment *g)
{
    struct scst_device *src = xc_device(p, g->src), *dst = xc_device(p, g->dst);
    if (!src || !dst) {
        xc_abort(p, ASC_COPY_TARGET_UNREACHABLE);
        return -1;
    }
    uint64_t bytes = (uint64_t)g->blocks << (g->dc ? dst->block_shift : src->block_shift);
    if (bytes % src->block_size || bytes % dst->block_size || bytes > XC_MAX_SEGMENT_BYTES) {
        xc_abort(p, ASC_NO_ADDITIONAL_SENSE);
        return -1;
    }
    uint64_t sn = bytes >> src->block_shift, dn = bytes >> dst->block_shift;
    if (g->src_lba > src->nblocks || sn > src->nblocks - g->src_lba || g->dst_lba > dst->nblocks ||
        dn > dst->nblocks - g->dst_lba) {
        xc_abort(p, ASC_NO_ADDITIONAL_SENSE);
        return -1;
    }
    if (scst_device_write_protected(dst, dst == p->dev ? p->nx : NULL)) {
        scst_fail(p, SK_DATA_PROTECT, ASC_WRITE_PROTECTED);
        xc_end(p, false);
        return -1;
    }
    return 0;
}

static void xc_segment_step(struct scst_cmd_private *p)
{
    struct xc_state *xs = p->opdata;
    for (;;) {
        if (p->abort_requested) {
            xc_end(p, false);
            return;
        }
        if (xs->cur >= xs->nseg) {
            xc_end(p, true);
            return;
        }
        const struct xc_segment *g = &xs->seg[xs->cur];
        if (xs->done_blocks == 0 && xc_check_segment(p, g))
            return;
        struct scst_device *src = xs->tgt[g->src].dev, *dst = xs->tgt[g->dst].dev;
        uint64_t total = ((uint64_t)g->blocks << (g->dc ? dst->block_shift : src->block_shift)) >>
                         src->block_shift;
        if (xs->done_blocks < total) {
            uint64_t left = total - xs->done_blocks, max = XC_CHUNK_BYTES >> src->block_shift;
            xs->chunk_blocks = left < max ? left : max;
            void *aux = scst_aux_alloc(p, XC_CHUNK_BYTES);
            scst_io_submit_dev(p, src, UMC_OP_READ, 0, g->src_lba + xs->done_blocks, xs->chunk_blocks,
                               aux, xc_read);
            return;
        }
        xs->cur++;
        xs->done_blocks = 0;
        if (xs->result)
            xs->result->segments = (uint16_t)xs->cur;
    }
}

void scst_exec_xcopy(struct scst_cmd_private *p)
{
    size_t tdl, sdl;
    if (!p->cmd->data_len || validate_header(p, &tdl, &sdl)) {
        scst_cmd_complete(p);
        return;
    }
    struct xc_state *xs = umc_alloc(p->core->node, sizeof(*xs));
    p->opdata = xs;
    const uint8_t *d = p->cmd->buf;
    if (parse_targets(p, xs, d + 16, tdl) || parse_segments(p, xs, d + 16 + tdl, sdl, 16 + tdl)) {
        scst_cmd_complete(p);
        return;
    }
    uint8_t usage = (d[1] >> 3) & 3;
    if (usage != 2)
        xs->result = result_new(p->sess, d[0]);
    xc_segment_step(p);
}

/* ---- RECEIVE COPY RESULTS -------------------------------------------------------------------------- */

int scst_parse_rcr(struct scst_cmd_private *p)
{
    scst_cmd_set_data_in(p, get_be32(p->cmd->cdb + 10), RCR_MAX_LEN);
    return 0;
}

static size_t operating_parameters(uint8_t *d)
{
    static const uint8_t codes[] = {0x02, 0xe4};
    memset(d, 0, 44 + sizeof(codes));
    put_be32(d, 44 + sizeof(codes) - 4);
    d[4] = 0x01; /* SNLID */
    put_be16(d + 8, XC_MAX_TARGETS);
    put_be16(d + 10, XC_MAX_SEGMENTS);
    put_be32(d + 12, XC_MAX_DESC_LIST);
    put_be32(d + 16, XC_MAX_SEGMENT_BYTES);
    put_be16(d + 34, 1);  /* total concurrent copies */
    d[36] = 1;
    d[37] = 9;            /* data segment granularity: 512 bytes */
    d[38] = 9;
    d[39] = 9;
    d[43] = sizeof(codes);
    memcpy(d + 44, codes, sizeof(codes));
    return 44 + sizeof(codes);
}

void scst_exec_rcr(struct scst_cmd_private *p)
{
    uint8_t d[RCR_MAX_LEN] = {0};
    size_t len;
    if ((p->cmd->cdb[1] & 0x1f) == 0x03) {
        len = operating_parameters(d);
    } else {
        struct scst_copy_result *r = result_find(p->sess, p->cmd->cdb[2]);
        if (!r) {
            scst_invalid_cdb(p, 2, 7);
            scst_cmd_complete(p);
            return;
        }
        put_be32(d, 8);
        d[4] = r->status;
        put_be16(d + 5, r->segments);
        d[7] = 0x00; /* transfer count in bytes */
        put_be32(d + 8, r->bytes > 0xffffffffull ? 0xffffffffu : (uint32_t)r->bytes);
        len = 12;
        if (r->status != COPY_IN_PROGRESS)
            result_unlink(p->sess, r);
    }
    scst_respond(p, d, len);
    scst_cmd_complete(p);
}

/* ---- VPD 0x8F --------------------------------------------------------------------------------------- */

size_t scst_vpd_third_party_copy(uint8_t *d)
{
    size_t len = 4;
    /* supported commands: EXTENDED COPY (LID1), RECEIVE COPY RESULTS */
    static const uint8_t cmds[] = {0x83, 1, 0x00, 0x84, 2, 0x00, 0x03};
    uint8_t *e = d + len;
    memset(e, 0, 12);
    put_be16(e, 0x0001);
    put_be16(e + 2, 8);
    e[4] = sizeof(cmds);
    memcpy(e + 5, cmds, sizeof(cmds));
    len += 12;
    /* parameter data */
    e = d + len;
    memset(e, 0, 32);
    put_be16(e, 0x0004);
    put_be16(e + 2, 0x1c);
    put_be16(e + 8, XC_MAX_TARGETS);
    put_be16(e + 10, XC_MAX_SEGMENTS);
    put_be32(e + 12, XC_MAX_DESC_LIST);
    len += 32;
    /* supported descriptors */
    e = d + len;
    memset(e, 0, 8);
    put_be16(e, 0x0008);
    put_be16(e + 2, 4);
    e[4] = 2;
    e[5] = 0x02;
    e[6] = 0xe4;
    len += 8;
    /* general copy operations */
    e = d + len;
    memset(e, 0, 32);
    put_be16(e, 0x8001);
    put_be16(e + 2, 0x1c);
    put_be32(e + 4, 1);
    put_be32(e + 8, 1);
    put_be32(e + 12, XC_MAX_SEGMENT_BYTES);
    e[16] = 9;
    e[17] = 9;
    len += 32;
    return len;
}
