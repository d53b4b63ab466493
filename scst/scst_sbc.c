/* The SBC data path: READ and WRITE (6/10/12/16), VERIFY and WRITE AND
 * VERIFY (10/12/16), COMPARE AND WRITE, ORWRITE and WRITE ATOMIC.  READ and
 * WRITE are one bio straight into the command's buffer, completed from the
 * bio callback; the read-modify-write commands hold a range lock. */
#include "scst/scst_internal.h"

/* ---- decoding ----------------------------------------------------------------------------- */

struct lba_len { uint64_t lba; uint64_t len; unsigned len_byte; };

static struct lba_len decode_lba_len(const uint8_t *cdb)
{
    switch (cdb[0] >> 5) {
    case 0: /* 6-byte */
        return (struct lba_len){get_be24(cdb + 1) & 0x1fffff, cdb[4] ? cdb[4] : 256u, 4};
    case 1: /* 10-byte */
    case 2:
        return (struct lba_len){get_be32(cdb + 2), get_be16(cdb + 7), 7};
    case 5: /* 12-byte */
        return (struct lba_len){get_be32(cdb + 2), get_be32(cdb + 6), 6};
    default: /* 16-byte */
        return (struct lba_len){get_be64(cdb + 2), get_be32(cdb + 10), 10};
    }
}

int scst_parse_lba_range(struct scst_cmd_private *p, uint64_t lba, uint64_t count)
{
    uint64_t cap = p->dev->nblocks;
    if (lba > cap || count > cap - lba) {
        scst_fail(p, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
        return -1;
    }
    return 0;
}

static uint64_t max_xfer_blocks(const struct scst_device *dev)
{
    return SCST_MAX_XFER_BYTES >> dev->block_shift;
}

/* LBA range, transfer limit, DPO/FUA: common to the commands of this file. */
static int parse_common(struct scst_cmd_private *p, struct lba_len ll)
{
    const uint8_t *cdb = p->cmd->cdb;
    if (ll.len > max_xfer_blocks(p->dev))
        return scst_invalid_cdb(p, (uint16_t)ll.len_byte, 7);
    if (scst_parse_lba_range(p, ll.lba, ll.len))
        return -1;
    p->lba = ll.lba;
    p->nblocks = ll.len;
    if (cdb[0] >> 5) {
        if (cdb[1] & 0x08)
            p->flags |= CMDF_FUA;
        if (cdb[1] & 0x10)
            p->flags |= CMDF_DPO;
    }
    return 0;
}

static uint32_t bytes_of(const struct scst_cmd_private *p, uint64_t blocks)
{
    return (uint32_t)(blocks << p->dev->block_shift);
}

static bool stop_if_aborted(struct scst_cmd_private *p)
{
    if (!p->abort_requested)
        return false;
    scst_range_lock_release(p);
    scst_cmd_complete(p);
    return true;
}

/* ---- READ / WRITE -------------------------------------------------------------------------- */

int scst_parse_rw(struct scst_cmd_private *p)
{
    const uint8_t *cdb = p->cmd->cdb;
    bool write = cdb[0] == 0x0a || cdb[0] == 0x2a || cdb[0] == 0xaa || cdb[0] == 0x8a;
    if (parse_common(p, decode_lba_len(cdb)))
        return -1;
    if (write)
        p->flags |= CMDF_WRITES;
    scst_cmd_set_data(p, write ? SCSI_DIR_WRITE : SCSI_DIR_READ, bytes_of(p, p->nblocks));
    return 0;
}

static void read_done(struct scst_cmd_private *p)
{
    struct scsi_cmd *cmd = p->cmd;
    if (!p->bio.status) {
        cmd->resp_len = cmd->data_len;
        p->dev->stats.reads++;
        p->dev->stats.read_bytes += cmd->data_len;
    }
    scst_io_finish(p);
}

void scst_exec_read(struct scst_cmd_private *p)
{
    if (!p->nblocks) {
        scst_cmd_complete(p);
        return;
    }
    scst_io_submit(p, UMC_OP_READ, 0, p->lba, p->nblocks, p->cmd->buf, read_done);
}

static void write_done(struct scst_cmd_private *p)
{
    struct scst_device *dev = p->dev;
    if (!p->bio.status) {
        dev->stats.writes++;
        dev->stats.write_bytes += p->bio.length;
        if (dev->unmapped.n)
            scst_extents_mark_mapped(dev, p->lba, p->nblocks);
    }
    scst_io_finish(p);
}

void scst_exec_write(struct scst_cmd_private *p)
{
    if (!p->nblocks) {
        scst_cmd_complete(p);
        return;
    }
    scst_io_submit(p, UMC_OP_WRITE, scst_write_flags(p), p->lba, p->nblocks, p->cmd->buf, write_done);
}

/* ---- VERIFY --------------------------------------------------------------------------------- */

int scst_parse_verify(struct scst_cmd_private *p)
{
    const uint8_t *cdb = p->cmd->cdb;
    uint8_t bytchk = (cdb[1] >> 1) & 3;
    if (bytchk == 2)
        return scst_invalid_cdb(p, 1, 2);
    if (parse_common(p, decode_lba_len(cdb)))
        return -1;
    p->opdata = NULL;
    uint64_t blocks = bytchk == 0 ? 0 : bytchk == 3 ? (p->nblocks ? 1 : 0) : p->nblocks;
    scst_cmd_set_data(p, SCSI_DIR_WRITE, bytes_of(p, blocks));
    return 0;
}

/* First differing byte, or -1. */
static int64_t first_difference(const uint8_t *a, const uint8_t *b, size_t len)
{
    if (memcmp(a, b, len) == 0)
        return -1;
    size_t i = 0;
    while (a[i] == b[i])
        i++;
    return (int64_t)i;
}

/* Compare what was read (aux) with the data-out buffer; BYTCHK 3 compares
 * every block with the single block sent. */
static int64_t verify_compare(struct scst_cmd_private *p, uint8_t bytchk)
{
    const uint8_t *medium = p->aux, *want = p->cmd->buf;
    size_t bs = p->dev->block_size;
    if (bytchk == 1)
        return first_difference(medium, want, bytes_of(p, p->nblocks));
    for (uint64_t b = 0; b < p->nblocks; b++) {
        int64_t d = first_difference(medium + b * bs, want, bs);
        if (d >= 0)
            return (int64_t)(b * bs) + d;
    }
    return -1;
}

static void verify_read_done(struct scst_cmd_private *p)
{
    uint8_t bytchk = (p->cmd->cdb[1] >> 1) & 3;
    if (p->bio.status) {
        scst_io_finish(p);
        return;
    }
    if (bytchk) {
        int64_t off = verify_compare(p, bytchk);
        if (off >= 0)
            scst_fail_info(p, SK_MISCOMPARE, ASC_MISCOMPARE_DURING_VERIFY, (uint64_t)off);
    }
    scst_cmd_complete(p);
}

void scst_exec_verify(struct scst_cmd_private *p)
{
    if (!p->nblocks) {
        scst_cmd_complete(p);
        return;
    }
    void *aux = scst_aux_alloc(p, bytes_of(p, p->nblocks));
    scst_io_submit(p, UMC_OP_READ, 0, p->lba, p->nblocks, aux, verify_read_done);
}

/* ---- WRITE AND VERIFY --------------------------------------------------------------------- */

int scst_parse_write_verify(struct scst_cmd_private *p)
{
    if (parse_common(p, decode_lba_len(p->cmd->cdb)))
        return -1;
    p->flags |= CMDF_WRITES;
    scst_cmd_set_data(p, SCSI_DIR_WRITE, bytes_of(p, p->nblocks));
    return 0;
}

static void write_verify_read_done(struct scst_cmd_private *p)
{
    if (p->bio.status) {
        scst_io_finish(p);
        return;
    }
    bool bytchk = p->cmd->cdb[1] & 0x02;
    int64_t off = bytchk ? first_difference(p->aux, p->cmd->buf, bytes_of(p, p->nblocks)) : -1;
    if (off >= 0)
        scst_fail_info(p, SK_MISCOMPARE, ASC_MISCOMPARE_DURING_VERIFY, (uint64_t)off);
    scst_cmd_complete(p);
}

static void write_verify_written(struct scst_cmd_private *p)
{
    if (p->bio.status || p->abort_requested) {
        scst_io_finish(p);
        return;
    }
    p->dev->stats.writes++;
    p->dev->stats.write_bytes += p->bio.length;
    if (p->dev->unmapped.n)
        scst_extents_mark_mapped(p->dev, p->lba, p->nblocks);
    void *aux = scst_aux_alloc(p, bytes_of(p, p->nblocks));
    scst_io_submit(p, UMC_OP_READ, 0, p->lba, p->nblocks, aux, write_verify_read_done);
}

void scst_exec_write_verify(struct scst_cmd_private *p)
{
    if (!p->nblocks) {
        scst_cmd_complete(p);
        return;
    }
    /* the write must reach the medium before it is read back */
    scst_io_submit(p, UMC_OP_WRITE, UMC_BIO_FUA, p->lba, p->nblocks, p->cmd->buf, write_verify_written);
}

/* ---- COMPARE AND WRITE -------------------------------------------------------------------- */

int scst_parse_caw(struct scst_cmd_private *p)
{
    const uint8_t *cdb = p->cmd->cdb;
    struct lba_len ll = {get_be64(cdb + 2), cdb[13], 13};
    if (ll.len > SCST_MAX_CAW_BLOCKS)
        return scst_invalid_cdb(p, 13, 7);
    if (parse_common(p, ll))
        return -1;
    /* The data-out must be exactly the verify and write instances: a length
     * that wrapped in the one-byte field is a bad CDB, not an empty command. */
    uint32_t len = 2 * bytes_of(p, p->nblocks);
    if (p->cmd->expected_len != len)
        return scst_invalid_cdb(p, 13, 7);
    scst_cmd_set_data(p, SCSI_DIR_WRITE, len);
    return 0;
}

static void locked_write_done(struct scst_cmd_private *p)
{
    struct scst_device *dev = p->dev;
    if (!p->bio.status) {
        dev->stats.writes++;
        dev->stats.write_bytes += p->bio.length;
        if (dev->unmapped.n)
            scst_extents_mark_mapped(dev, p->lba, p->nblocks);
    }
    scst_range_lock_release(p);
    scst_io_finish(p);
}

/* COMPARE AND WRITE and ORWRITE read the locked range first.  After that
 * read: false when it failed (the command is finished) or was aborted. */
static bool locked_read_ok(struct scst_cmd_private *p)
{
    if (p->bio.status) {
        scst_range_lock_release(p);
        scst_io_finish(p);
        return false;
    }
    return !stop_if_aborted(p);
}

static void read_locked_range(struct scst_cmd_private *p, scst_step_fn then)
{
    if (stop_if_aborted(p))
        return;
    void *aux = scst_aux_alloc(p, bytes_of(p, p->nblocks));
    scst_io_submit(p, UMC_OP_READ, 0, p->lba, p->nblocks, aux, then);
}

static void caw_compare(struct scst_cmd_private *p)
{
    if (!locked_read_ok(p))
        return;
    uint32_t half = bytes_of(p, p->nblocks);
    int64_t off = first_difference(p->aux, p->cmd->buf, half);
    if (off >= 0) {
        scst_fail_info(p, SK_MISCOMPARE, ASC_MISCOMPARE_DURING_VERIFY, (uint64_t)off);
        scst_range_lock_release(p);
        scst_cmd_complete(p);
        return;
    }
    scst_io_submit(p, UMC_OP_WRITE, scst_write_flags(p), p->lba, p->nblocks, p->cmd->buf + half,
                   locked_write_done);
}

static void caw_locked(struct scst_cmd_private *p) { read_locked_range(p, caw_compare); }

/* Take the range lock, then run step (now, or when the lock is granted);
 * a command of no blocks just completes. */
static void with_range_lock(struct scst_cmd_private *p, scst_step_fn step)
{
    if (!p->nblocks) {
        scst_cmd_complete(p);
        return;
    }
    p->step = step;
    if (scst_range_lock_acquire(p, p->lba, p->nblocks))
        step(p);
}

void scst_exec_caw(struct scst_cmd_private *p) { with_range_lock(p, caw_locked); }

/* ---- ORWRITE ----------------------------------------------------------------------------------- */

int scst_parse_orwrite(struct scst_cmd_private *p)
{
    if (parse_common(p, decode_lba_len(p->cmd->cdb)))
        return -1;
    scst_cmd_set_data(p, SCSI_DIR_WRITE, bytes_of(p, p->nblocks));
    return 0;
}

static void orwrite_merge(struct scst_cmd_private *p)
{
    if (!locked_read_ok(p))
        return;
    uint8_t *medium = p->aux;
    const uint8_t *in = p->cmd->buf;
    uint32_t len = bytes_of(p, p->nblocks);
    for (uint32_t i = 0; i < len; i++)
        medium[i] |= in[i];
    scst_io_submit(p, UMC_OP_WRITE, scst_write_flags(p), p->lba, p->nblocks, medium, locked_write_done);
}

static void orwrite_locked(struct scst_cmd_private *p) { read_locked_range(p, orwrite_merge); }

void scst_exec_orwrite(struct scst_cmd_private *p) { with_range_lock(p, orwrite_locked); }

/* ---- WRITE ATOMIC (16) ------------------------------------------------------------------------- */

int scst_parse_write_atomic(struct scst_cmd_private *p)
{
    const uint8_t *cdb = p->cmd->cdb;
    struct lba_len ll = {get_be64(cdb + 2), get_be16(cdb + 12), 12};
    if (parse_common(p, ll))
        return -1;
    scst_cmd_set_data(p, SCSI_DIR_WRITE, bytes_of(p, p->nblocks));
    return 0;
}

static void atomic_locked(struct scst_cmd_private *p)
{
    if (stop_if_aborted(p))
        return;
    scst_io_submit(p, UMC_OP_WRITE, scst_write_flags(p), p->lba, p->nblocks, p->cmd->buf,
                   locked_write_done);
}

void scst_exec_write_atomic(struct scst_cmd_private *p) { with_range_lock(p, atomic_locked); }
