/* The bdev backend: a workload's I/O as bios on a node's block device
 * (tcmu000, or drbd1), held open for writing while attached. */
#include <errno.h>
#include <string.h>

#include "sim/wl_int.h"

struct bdev_state {
    struct umc_node *node;     /* the incarnation the device belongs to */
    struct umc_bdev *bdev;
};

static int bdev_attach(struct sim_wl *w)
{
    struct sim_node *sn = wl_target_node(w);
    struct bdev_state *st = w->be_state;
    if (!sn || !sn->n)
        return -EHOSTDOWN;
    struct umc_bdev *b = umc_bdev_find(sn->n, w->dev);
    if (!b)
        return -ENODEV;
    int rc = umc_bdev_open(b, UMC_OPEN_WRITE);
    if (rc)
        return rc;
    st->node = sn->n;
    st->bdev = b;
    sim_trace(w->sim, "workload %s: opened %s on %s", w->decl->name, w->dev, w->node);
    return 0;
}

static void bdev_detach(struct sim_wl *w)
{
    struct bdev_state *st = w->be_state;
    struct sim_node *sn = wl_target_node(w);
    /* close only if the incarnation that opened it still runs */
    if (st->bdev && sn && sn->n == st->node)
        umc_bdev_close(st->bdev, UMC_OPEN_WRITE);
    st->bdev = NULL;
    st->node = NULL;
}

static void bio_done(struct umc_bio *bio) { wl_io_done(bio->priv, bio->status); }

static void bdev_submit(struct sim_wl *w, struct wl_io *io)
{
    struct bdev_state *st = w->be_state;
    io->iov = (struct iovec){io->buf, io->length};
    io->bio = (struct umc_bio){.op = io->op, .flags = io->flags, .offset = io->offset,
                               .length = io->length, .iov = &io->iov, .iovcnt = io->length ? 1 : 0,
                               .done = bio_done, .priv = io};
    umc_bio_submit(st->bdev, &io->bio);
}

static bool bdev_node_crashed(struct sim_wl *w, struct sim_node *sn)
{
    struct bdev_state *st = w->be_state;
    if (st->node == sn->n) {
        st->bdev = NULL;
        st->node = NULL;
    }
    return false;
}

static const struct wl_backend_ops bdev_ops = {
    .name = "bdev",
    .state_size = sizeof(struct bdev_state),
    .attach = bdev_attach,
    .detach = bdev_detach,
    .submit = bdev_submit,
    .node_crashed = bdev_node_crashed,
};

const struct wl_backend_ops *wl_bdev_backend(void) { return &bdev_ops; }
