/* The glue between bios and handler calls (the seed's bio_tcmu).
 *
 * Each bio becomes a short sequence of handler calls:
 *   READ                      read
 *   WRITE                     [flush if PREFLUSH] write [flush if FUA]
 *   DISCARD, WRITE_ZEROES     [flush if PREFLUSH] unmap [flush if FUA]
 *   FLUSH                     flush
 * A FUA write goes to the handler's write_fua instead, when it has one.
 * Every call either finishes at once or returns TCMU_ASYNC_HANDLED and ends in
 * tcmur_cmd_complete(); the first error ends the sequence. */
#include <errno.h>
#include <stddef.h>

#include "tcmu_ram/tcmu_ram_internal.h"

enum glue_step { STEP_PREFLUSH, STEP_MAIN, STEP_POSTFLUSH, STEP_DONE };

struct glue_cmd {
    struct tcmulib_cmd cmd;     /* what the handler sees */
    enum glue_step step;
    bool in_handler;            /* inside a handler call: completions are queued */
    bool completed_early;       /* the handler completed before returning */
    int early_status;
    struct glue_cmd *prev, *next;
};

static struct glue_cmd *glue_of(struct tcmulib_cmd *cmd)
{
    return (struct glue_cmd *)((char *)cmd - offsetof(struct glue_cmd, cmd));
}

static struct umc_node *dev_node(const struct tcmu_device *dev) { return dev->host->node; }

/* ---- in-flight list --------------------------------------------------------- */

static void track(struct tcmu_device *dev, struct glue_cmd *g)
{
    g->next = dev->inflight;
    if (g->next)
        g->next->prev = g;
    dev->inflight = g;
}

static void untrack(struct tcmu_device *dev, struct glue_cmd *g)
{
    if (g->prev)
        g->prev->next = g->next;
    else
        dev->inflight = g->next;
    if (g->next)
        g->next->prev = g->prev;
}

bool tcmu_glue_busy(const struct tcmu_device *dev) { return dev->inflight != NULL; }



/* ---- the step machine --------------------------------------------------------- */

static bool wants_preflush(const struct umc_bio *bio)
{
    return bio->op != UMC_OP_FLUSH && bio->op != UMC_OP_READ && (bio->flags & UMC_BIO_PREFLUSH);
}

static bool wants_postflush(const struct tcmu_device *dev, const struct umc_bio *bio)
{
    if (bio->op == UMC_OP_FLUSH || bio->op == UMC_OP_READ || !(bio->flags & UMC_BIO_FUA))
        return false;
    return !(bio->op == UMC_OP_WRITE && dev->handler->write_fua);
}

static bool step_needed(const struct tcmu_device *dev, const struct umc_bio *bio, enum glue_step s)
{
    switch (s) {
    case STEP_PREFLUSH: return wants_preflush(bio);
    case STEP_MAIN: return true;
    case STEP_POSTFLUSH: return wants_postflush(dev, bio);
    case STEP_DONE: return true;
    }
    return true;
}

static int call_flush(struct tcmu_device *dev, struct tcmulib_cmd *cmd)
{
    return dev->handler->flush ? dev->handler->flush(dev, cmd) : 0;
}

static int call_main(struct tcmu_device *dev, struct tcmulib_cmd *cmd)
{
    const struct tcmur_handler *h = dev->handler;
    struct umc_bio *bio = cmd->bio;
    switch (bio->op) {
    case UMC_OP_READ:
        return h->read(dev, cmd, cmd->iovec, cmd->iov_cnt, cmd->length, cmd->offset);
    case UMC_OP_WRITE:
        if ((bio->flags & UMC_BIO_FUA) && h->write_fua)
            return h->write_fua(dev, cmd, cmd->iovec, cmd->iov_cnt, cmd->length, cmd->offset);
        return h->write(dev, cmd, cmd->iovec, cmd->iov_cnt, cmd->length, cmd->offset);
    case UMC_OP_FLUSH:
        return call_flush(dev, cmd);
    case UMC_OP_DISCARD:
    case UMC_OP_WRITE_ZEROES: /* unmapped ranges read back as zeros */
        return h->unmap ? h->unmap(dev, cmd, cmd->offset, cmd->length) : -EOPNOTSUPP;
    }
    return -EINVAL;
}

static int call_step(struct tcmu_device *dev, struct glue_cmd *g)
{
    return g->step == STEP_MAIN ? call_main(dev, &g->cmd) : call_flush(dev, &g->cmd);
}

static void finish(struct tcmu_device *dev, struct glue_cmd *g, int status)
{
    struct umc_bio *bio = g->cmd.bio;
    untrack(dev, g);
    umc_free(dev_node(dev), g);
    umc_bio_complete(bio, status);
}

/* The device goes away under its bios: like a yanked disk, each fails with
 * ENODEV, so whoever waits (or left an orphan behind) can let go of it. */
void tcmu_glue_fail_inflight(struct tcmu_device *dev)
{
    while (dev->inflight)
        finish(dev, dev->inflight, -ENODEV);
}

/* Move past the step that just ended; true when the bio is finished. */
static bool advance(struct tcmu_device *dev, struct glue_cmd *g, int status)
{
    if (status) {
        finish(dev, g, status);
        return true;
    }
    do
        g->step++;
    while (!step_needed(dev, g->cmd.bio, g->step));
    if (g->step == STEP_DONE) {
        finish(dev, g, 0);
        return true;
    }
    return false;
}

/* Issue steps until one goes asynchronous or the bio is finished. */
static void run_steps(struct tcmu_device *dev, struct glue_cmd *g)
{
    for (;;) {
        g->in_handler = true;
        g->completed_early = false;
        int rc = call_step(dev, g);
        g->in_handler = false;
        if (rc == TCMU_ASYNC_HANDLED && !g->completed_early)
            return;
        if (rc == TCMU_ASYNC_HANDLED)
            rc = g->early_status;
        if (rc > 0)
            rc = -EIO; /* a handler's positive value that is not ASYNC_HANDLED */
        if (advance(dev, g, rc))
            return;
    }
}

void tcmur_cmd_complete(struct tcmu_device *dev, struct tcmulib_cmd *cmd, int status)
{
    struct glue_cmd *g = glue_of(cmd);
    if (g->in_handler) {
        g->completed_early = true;
        g->early_status = status;
        return;
    }
    if (!advance(dev, g, status))
        run_steps(dev, g);
}

/* umc checks 512-byte alignment; a 4096-byte device wants whole blocks. */
static bool misaligned(const struct tcmu_device *dev, const struct umc_bio *bio)
{
    return bio->op != UMC_OP_FLUSH && (bio->offset % dev->block_size || bio->length % dev->block_size);
}

static void glue_submit(struct umc_bdev *b, struct umc_bio *bio)
{
    struct tcmu_device *dev = b->priv;
    if (misaligned(dev, bio)) {
        umc_bio_complete(bio, -EINVAL);
        return;
    }
    struct glue_cmd *g = umc_alloc(dev_node(dev), sizeof(*g));
    g->cmd = (struct tcmulib_cmd){.iovec = bio->iov, .iov_cnt = bio->iovcnt, .offset = bio->offset,
                                  .length = bio->length, .bio = bio, .dev = dev};
    g->step = STEP_PREFLUSH;
    track(dev, g);
    if (!step_needed(dev, bio, g->step) && advance(dev, g, 0))
        return;
    run_steps(dev, g);
}

static const struct umc_bdev_ops glue_ops = {.submit = glue_submit};

const struct umc_bdev_ops *tcmu_glue_ops(void) { return &glue_ops; }
