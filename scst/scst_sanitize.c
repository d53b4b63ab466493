/* SANITIZE: OVERWRITE (a pattern, OVERWRITE COUNT passes, INVERT), BLOCK
 * ERASE (thin LUs: deallocate everything), CRYPTO ERASE (the data becomes
 * unreadable: zeros), EXIT FAILURE MODE.
 *
 * A sanitize is a job of the device, not of the command: it survives aborts,
 * resets and the loss of the nexus that started it.  While it runs, commands
 * other than INQUIRY, REPORT LUNS, REQUEST SENSE and the like get NOT READY,
 * SANITIZE IN PROGRESS with a progress indication.  It lasts at least
 * SCST_SANITIZE_MIN_NS, as a real medium's would, so initiators can watch it. */
#include <errno.h>

#include "scst/scst_internal.h"

#define SAN_OVERWRITE 0x01
#define SAN_BLOCK_ERASE 0x02
#define SAN_CRYPTO_ERASE 0x03
#define SAN_EXIT_FAILURE 0x1f
#define SAN_CHUNK_BYTES (1u << 20)

struct scst_sanitize {
    struct scst_device *dev;
    uint8_t action;
    uint8_t *chunk;               /* OVERWRITE: the pattern, replicated */
    size_t chunk_len;
    uint64_t pos;                 /* next block */
    bool io_done, failed;
    mte_time_t started, ends;
    struct mte_timer timer;
    struct umc_bio bio;
    struct iovec iov;
    struct scst_cmd_private *waiter;  /* the command, unless IMMED or aborted */
};

bool scst_sanitize_running(const struct scst_device *dev, uint16_t *progress)
{
    const struct scst_sanitize *job = dev ? dev->sanitize : NULL;
    if (!job)
        return false;
    mte_time_t now = umc_now(dev->core->node);
    mte_time_t total = job->ends > job->started ? job->ends - job->started : 1;
    mte_time_t done = now > job->started ? now - job->started : 0;
    if (done > total)
        done = total;
    *progress = (uint16_t)((done * 65535u) / total);
    return true;
}

/* ---- parse ---------------------------------------------------------------------------------- */

int scst_parse_sanitize(struct scst_cmd_private *p)
{
    const uint8_t *cdb = p->cmd->cdb;
    uint8_t action = cdb[1] & 0x1f;
    uint32_t len = get_be16(cdb + 7);
    if (action == SAN_OVERWRITE) {
        if (len < 5 || len > p->dev->block_size + 4)
            return scst_invalid_cdb(p, 7, 7);
    } else if (len) {
        return scst_invalid_cdb(p, 7, 7);
    }
    if (cdb[1] & 0x80)
        p->flags |= CMDF_IMMED;
    scst_cmd_set_data(p, SCSI_DIR_WRITE, len);
    return 0;
}

/* ---- the job --------------------------------------------------------------------------------- */

static void job_free(struct scst_sanitize *job)
{
    struct umc_node *n = job->dev->core->node;
    umc_timer_cancel(n, &job->timer);
    umc_free(n, job->chunk);
    umc_free(n, job);
}

void scst_sanitize_free(struct scst_device *dev)
{
    if (dev->sanitize)
        job_free(dev->sanitize);
    dev->sanitize = NULL;
}

static void job_end(struct scst_sanitize *job)
{
    struct scst_device *dev = job->dev;
    struct scst_cmd_private *p = job->waiter;
    dev->sanitize = NULL;
    dev->sanitize_failed = job->failed;
    if (!job->failed && job->action == SAN_BLOCK_ERASE) {
        scst_extents_free(dev->core, &dev->unmapped);
        scst_extents_mark_unmapped(dev, 0, dev->nblocks);
    } else if (!job->failed && job->action == SAN_OVERWRITE) {
        scst_extents_free(dev->core, &dev->unmapped);
    }
    umc_info(dev->core->node, SCST_COMPONENT, "device %s: sanitize %s", dev->name,
             job->failed ? "failed" : "done");
    job_free(job);
    if (p) {
        p->cancel = NULL;
        if (dev->sanitize_failed)
            scst_fail(p, SK_MEDIUM_ERROR, ASC_SANITIZE_FAILED);
        scst_cmd_resume(p, scst_cmd_complete);
    }
}

static void job_timer(void *arg)
{
    struct scst_sanitize *job = arg;
    if (job->io_done)
        job_end(job);
}

static void job_io_finished(struct scst_sanitize *job)
{
    job->io_done = true;
    mte_time_t now = umc_now(job->dev->core->node);
    if (job->failed || now >= job->ends)
        job_end(job);
    else
        umc_timer_arm_at(job->dev->core->node, &job->timer, job->ends);
}

static void job_step(struct umc_bio *bio);

static void job_submit(struct scst_sanitize *job, enum umc_bio_op op, uint64_t lba, uint64_t n, void *buf)
{
    struct scst_device *dev = job->dev;
    job->iov = (struct iovec){buf, (size_t)(n << dev->block_shift)};
    job->bio = (struct umc_bio){.op = op, .flags = UMC_BIO_FUA, .offset = lba << dev->block_shift,
                                .length = n << dev->block_shift, .iov = &job->iov,
                                .iovcnt = buf ? 1 : 0, .done = job_step, .priv = job};
    if (!dev->bdev) {
        job->failed = true;
        job_io_finished(job);
        return;
    }
    umc_bio_submit(dev->bdev, &job->bio);
}

static void job_step(struct umc_bio *bio)
{
    struct scst_sanitize *job = bio->priv;
    struct scst_device *dev = job->dev;
    if (bio->status) {
        job->failed = true;
        job_io_finished(job);
        return;
    }
    if (job->action != SAN_OVERWRITE || job->pos >= dev->nblocks) {
        job_io_finished(job);
        return;
    }
    uint64_t chunk = job->chunk_len >> dev->block_shift;
    uint64_t n = dev->nblocks - job->pos < chunk ? dev->nblocks - job->pos : chunk;
    uint64_t lba = job->pos;
    job->pos += n;
    job_submit(job, UMC_OP_WRITE, lba, n, job->chunk);
}

static void job_start(struct scst_sanitize *job)
{
    struct scst_device *dev = job->dev;
    switch (job->action) {
    case SAN_OVERWRITE:
        job->bio.status = 0;
        job->bio.priv = job;
        job_step(&job->bio);
        break;
    case SAN_BLOCK_ERASE:
        job_submit(job, (dev->bdev && (dev->bdev->flags & UMC_BDEV_DISCARD)) ? UMC_OP_DISCARD
                                                                             : UMC_OP_WRITE_ZEROES,
                   0, dev->nblocks, NULL);
        break;
    default: /* crypto erase: the old data must not come back */
        job_submit(job, UMC_OP_WRITE_ZEROES, 0, dev->nblocks, NULL);
        break;
    }
}

/* The pattern, inverted on even passes, replicated across a chunk. */
static int build_overwrite(struct scst_cmd_private *p, struct scst_sanitize *job)
{
    const uint8_t *d = p->cmd->buf;
    uint32_t bs = p->dev->block_size;
    uint8_t count = d[0] & 0x1f;
    bool invert = d[0] & 0x80;
    uint16_t plen = get_be16(d + 2);
    if (count == 0)
        return scst_invalid_param(p, 0, 4);
    if (plen == 0 || plen > bs)
        return scst_invalid_param(p, 2, 7);
    if ((size_t)plen + 4 > p->cmd->data_len) {
        scst_fail(p, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
        return -1;
    }
    uint64_t blocks = SAN_CHUNK_BYTES / bs < p->dev->nblocks ? SAN_CHUNK_BYTES / bs : p->dev->nblocks;
    job->chunk_len = (size_t)blocks * bs;
    job->chunk = umc_alloc(p->core->node, job->chunk_len);
    bool flip = invert && count % 2 == 0; /* the last pass decides what stays */
    for (size_t i = 0; i < job->chunk_len; i++) {
        uint8_t b = d[4 + (i % bs) % plen];
        job->chunk[i] = flip ? (uint8_t)~b : b;
    }
    return 0;
}

static void sanitize_detach(struct scst_cmd_private *p)
{
    if (p->dev->sanitize && p->dev->sanitize->waiter == p)
        p->dev->sanitize->waiter = NULL;
    p->cancel = NULL;
}

void scst_exec_sanitize(struct scst_cmd_private *p)
{
    struct scst_device *dev = p->dev;
    uint8_t action = p->cmd->cdb[1] & 0x1f;
    if (action == SAN_EXIT_FAILURE) {
        dev->sanitize_failed = false;
        scst_cmd_complete(p);
        return;
    }
    struct umc_node *n = p->core->node;
    struct scst_sanitize *job = umc_alloc(n, sizeof(*job));
    job->dev = dev;
    job->action = action;
    if (action == SAN_OVERWRITE && build_overwrite(p, job)) {
        umc_free(n, job->chunk);
        umc_free(n, job);
        scst_cmd_complete(p);
        return;
    }
    job->started = umc_now(n);
    job->ends = job->started + SCST_SANITIZE_MIN_NS;
    umc_timer_init(n, &job->timer, job_timer, job);
    dev->sanitize = job;
    dev->sanitize_failed = false;
    umc_info(n, SCST_COMPONENT, "device %s: sanitize %u started", dev->name, action);
    if (p->flags & CMDF_IMMED) {
        scst_cmd_complete(p);
    } else {
        job->waiter = p;
        p->cancel = sanitize_detach;
    }
    job_start(job);
}
