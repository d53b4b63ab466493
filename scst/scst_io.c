/* Bios for commands: one bio at a time per command, the continuation runs
 * straight from the bio's completion. */
#include <errno.h>

#include "scst/scst_internal.h"

static void io_done(struct umc_bio *bio)
{
    struct scst_cmd_private *p = bio->priv;
    scst_cmd_resume(p, p->step);
}

static void io_fail_deferred(void *arg)
{
    struct scst_cmd_private *p = arg;
    io_done(&p->bio);
}

void scst_io_submit(struct scst_cmd_private *p, enum umc_bio_op op, uint32_t flags, uint64_t lba,
                    uint64_t nblocks, void *buf, scst_step_fn step)
{
    scst_io_submit_dev(p, p->dev, op, flags, lba, nblocks, buf, step);
}

void scst_io_submit_dev(struct scst_cmd_private *p, struct scst_device *dev, enum umc_bio_op op,
                        uint32_t flags, uint64_t lba, uint64_t nblocks, void *buf, scst_step_fn step)
{
    unsigned shift = dev->block_shift;
    p->step = step;
    p->iov.iov_base = buf;
    p->iov.iov_len = (size_t)(nblocks << shift);
    p->bio = (struct umc_bio){.op = op, .flags = flags, .offset = lba << shift,
                              .length = nblocks << shift, .iov = &p->iov, .iovcnt = buf ? 1 : 0,
                              .done = io_done, .priv = p};
    if (!dev->bdev) {
        /* not open (a nexus always has it open): fail like a vanished device */
        p->bio.status = -ENODEV;
        umc_defer(p->core->node, io_fail_deferred, p);
        return;
    }
    umc_bio_submit(dev->bdev, &p->bio);
}

void scst_io_finish(struct scst_cmd_private *p)
{
    int err = p->bio.status;
    if (err)
        scst_fail_errno(p, err, p->bio.op != UMC_OP_READ);
    scst_cmd_complete(p);
}

/* FUA when the initiator asks, or when the write cache is off (WCE=0). */
uint32_t scst_write_flags(const struct scst_cmd_private *p)
{
    const struct scst_device *dev = p->dev;
    if (dev->nv_cache)
        return 0;
    if ((p->flags & CMDF_FUA) || !dev->mode.wce)
        return UMC_BIO_FUA;
    return 0;
}

/* Scratch for read-modify-write and chunked commands, from the buffer cache:
 * not zeroed, every user reads into it or fills it before using it. */
void *scst_aux_alloc(struct scst_cmd_private *p, size_t len)
{
    if (p->aux && p->aux_cap >= len) {
        p->aux_len = len;
        return p->aux;
    }
    if (p->aux)
        scst_buf_put(p->core, p->aux, p->aux_cap);
    p->aux = scst_buf_get(p->core, len ? (uint32_t)len : 1u, &p->aux_cap);
    p->aux_len = len;
    return p->aux;
}
