/* Handler "simdisk": the node's view of a simdisk_media (passed as
 * handler_arg).  Every call is asynchronous: the media decides at submission
 * whether it fails and when it completes, a write changes the image at once,
 * and a node timer delivers the completion.  Durability is settled at
 * completion (FUA write, write without cache, flush).  Everything here is node
 * memory, gone on a node crash; the media never points back into it. */
#include <errno.h>

#include "tcmu_ram/tcmu_ram_internal.h"

struct simdisk_io;

struct simdisk_dev {
    struct tcmu_device *dev;
    struct umc_node *node;
    struct simdisk_media *media;
    struct simdisk_io *inflight;
};

/* What to do to the media when the I/O completes. */
enum completion_effect { EFFECT_NONE, EFFECT_READ, EFFECT_DURABLE, EFFECT_FLUSH };

struct simdisk_io {
    struct mte_timer timer;
    struct simdisk_dev *sd;
    struct tcmulib_cmd *cmd;
    int status;
    enum completion_effect effect;
    uint64_t seq;                  /* the write's, or the flush's */
    struct iovec *iov;             /* a read's destination */
    size_t iov_cnt;
    uint64_t offset, length;
    struct simdisk_io *prev, *next;
};

static struct simdisk_dev *sd_of(struct tcmu_device *dev) { return tcmu_dev_get_private(dev); }

/* ---- in-flight I/O ----------------------------------------------------------------- */

static void io_unlink(struct simdisk_dev *sd, struct simdisk_io *io)
{
    if (io->prev)
        io->prev->next = io->next;
    else
        sd->inflight = io->next;
    if (io->next)
        io->next->prev = io->prev;
}

static void io_apply_effect(struct simdisk_dev *sd, struct simdisk_io *io)
{
    if (io->status)
        return;
    switch (io->effect) {
    case EFFECT_NONE: break;
    case EFFECT_READ:
        simdisk_media_read_iov(sd->media, io->offset, io->iov, io->iov_cnt, io->length);
        break;
    case EFFECT_DURABLE: simdisk_media_make_durable(sd->media, io->seq); break;
    case EFFECT_FLUSH: simdisk_media_flush_done(sd->media, io->seq); break;
    }
}

static void io_complete(void *arg)
{
    struct simdisk_io *io = arg;
    struct simdisk_dev *sd = io->sd;
    struct tcmulib_cmd *cmd = io->cmd;
    int status = io->status;
    io_apply_effect(sd, io);
    io_unlink(sd, io);
    umc_free(sd->node, io);
    tcmur_cmd_complete(sd->dev, cmd, status);
}

static struct simdisk_io *io_new(struct simdisk_dev *sd, struct tcmulib_cmd *cmd)
{
    struct simdisk_io *io = umc_alloc(sd->node, sizeof(*io));
    io->sd = sd;
    io->cmd = cmd;
    umc_timer_init(sd->node, &io->timer, io_complete, io);
    return io;
}

/* Queue the completion at the time the media says. */
static int io_schedule(struct simdisk_dev *sd, struct simdisk_io *io, enum simdisk_io_kind kind)
{
    io->next = sd->inflight;
    if (io->next)
        io->next->prev = io;
    sd->inflight = io;
    mte_time_t when = simdisk_media_completion_time(sd->media, kind, umc_now(sd->node));
    umc_timer_arm_at(sd->node, &io->timer, when);
    return TCMU_ASYNC_HANDLED;
}

/* ---- handler calls ----------------------------------------------------------------- */

static int simdisk_read_cmd(struct tcmu_device *dev, struct tcmulib_cmd *cmd, struct iovec *iov,
                            size_t iov_cnt, size_t length, uint64_t offset)
{
    struct simdisk_dev *sd = sd_of(dev);
    struct simdisk_io *io = io_new(sd, cmd);
    /* The data is read at completion: it reflects writes submitted meanwhile. */
    io->effect = EFFECT_READ;
    io->iov = iov;
    io->iov_cnt = iov_cnt;
    io->offset = offset;
    io->length = length;
    if (simdisk_media_io_fails(sd->media, SIMDISK_IO_READ, offset, length))
        io->status = -EIO;
    return io_schedule(sd, io, SIMDISK_IO_READ);
}

/* A failed write leaves the media untouched.  A write without a cache, or with
 * FUA, is durable once it completes; until then it is in the undo log. */
enum write_kind { WRITE_CACHED, WRITE_FUA, WRITE_DISCARD };

static int submit_write(struct tcmu_device *dev, struct tcmulib_cmd *cmd, const struct iovec *iov,
                        size_t iov_cnt, uint64_t length, uint64_t offset, enum write_kind kind)
{
    struct simdisk_dev *sd = sd_of(dev);
    struct simdisk_io *io = io_new(sd, cmd);
    if (simdisk_media_io_fails(sd->media, SIMDISK_IO_WRITE, offset, length)) {
        io->status = -EIO;
    } else {
        io->seq = kind == WRITE_DISCARD
                      ? simdisk_media_discard(sd->media, offset, length)
                      : simdisk_media_write(sd->media, offset, iov, iov_cnt, length);
        bool durable = kind == WRITE_FUA || !simdisk_media_params(sd->media)->write_cache;
        io->effect = durable ? EFFECT_DURABLE : EFFECT_NONE;
    }
    return io_schedule(sd, io, SIMDISK_IO_WRITE);
}

static int simdisk_write_cmd(struct tcmu_device *dev, struct tcmulib_cmd *cmd, struct iovec *iov,
                             size_t iov_cnt, size_t length, uint64_t offset)
{
    return submit_write(dev, cmd, iov, iov_cnt, length, offset, WRITE_CACHED);
}

static int simdisk_write_fua_cmd(struct tcmu_device *dev, struct tcmulib_cmd *cmd,
                                 struct iovec *iov, size_t iov_cnt, size_t length, uint64_t offset)
{
    return submit_write(dev, cmd, iov, iov_cnt, length, offset, WRITE_FUA);
}

/* A discard is a write of zeros: cached, and revertible by a crash. */
static int simdisk_unmap_cmd(struct tcmu_device *dev, struct tcmulib_cmd *cmd, uint64_t offset,
                             uint64_t length)
{
    return submit_write(dev, cmd, NULL, 0, length, offset, WRITE_DISCARD);
}

static int simdisk_flush_cmd(struct tcmu_device *dev, struct tcmulib_cmd *cmd)
{
    struct simdisk_dev *sd = sd_of(dev);
    struct simdisk_io *io = io_new(sd, cmd);
    io->effect = EFFECT_FLUSH;
    io->seq = simdisk_media_flush_start(sd->media);
    return io_schedule(sd, io, SIMDISK_IO_FLUSH);
}

/* ---- open and close ----------------------------------------------------------------- */

static int simdisk_open(struct tcmu_device *dev, bool reopen)
{
    struct simdisk_media *media = tcmu_dev_get_handler_arg(dev);
    if (!media)
        return -EINVAL;
    if (!dev->size)
        dev->size = simdisk_media_size(media) / dev->block_size * dev->block_size;
    if (dev->size > simdisk_media_size(media))
        return -EINVAL;
    struct simdisk_dev *sd = umc_alloc(tcmu_dev_get_node(dev), sizeof(*sd));
    sd->dev = dev;
    sd->node = tcmu_dev_get_node(dev);
    sd->media = media;
    tcmu_dev_set_write_cache_enabled(dev, simdisk_media_params(media)->write_cache);
    tcmu_dev_set_private(dev, sd);
    return 0;
}

/* I/O still in flight is dropped without completing: the device is going away
 * together with whoever submitted it. */
static void simdisk_close(struct tcmu_device *dev)
{
    struct simdisk_dev *sd = sd_of(dev);
    while (sd->inflight) {
        struct simdisk_io *io = sd->inflight;
        umc_timer_cancel(sd->node, &io->timer);
        io_unlink(sd, io);
        umc_free(sd->node, io);
    }
    umc_free(sd->node, sd);
    tcmu_dev_set_private(dev, NULL);
}

static const struct tcmur_handler simdisk_handler = {
    .name = "simulated disk (volatile cache, crash, latency, faults)",
    .subtype = "simdisk",
    .cfg_desc = "simdisk/ with the struct simdisk_media as handler_arg",
    .open = simdisk_open,
    .close = simdisk_close,
    .read = simdisk_read_cmd,
    .write = simdisk_write_cmd,
    .write_fua = simdisk_write_fua_cmd,
    .flush = simdisk_flush_cmd,
    .unmap = simdisk_unmap_cmd,
};

const struct tcmur_handler *tcmu_simdisk_handler(void) { return &simdisk_handler; }
