/* The block layer: bio checks and completion, the per-node bdev registry. */
#include <errno.h>
#include <string.h>

#include "umc/umc.h"
#include "umc/umc_internal.h"

const char *umc_bio_op_name(enum umc_bio_op op)
{
    switch (op) {
    case UMC_OP_READ: return "READ";
    case UMC_OP_WRITE: return "WRITE";
    case UMC_OP_FLUSH: return "FLUSH";
    case UMC_OP_DISCARD: return "DISCARD";
    case UMC_OP_WRITE_ZEROES: return "WRITE_ZEROES";
    }
    return "?";
}

/* ---- iovec helpers ------------------------------------------------------------ */

size_t umc_iov_total(const struct iovec *iov, unsigned iovcnt)
{
    size_t total = 0;
    for (unsigned i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    return total;
}

/* Walk len bytes of iov starting at skip, calling fn on each contiguous piece. */
static void iov_walk(const struct iovec *iov, unsigned iovcnt, size_t skip, size_t len,
                     void (*fn)(void *piece, size_t n, size_t done, void *ctx), void *ctx)
{
    size_t done = 0;
    for (unsigned i = 0; i < iovcnt && done < len; i++) {
        if (skip >= iov[i].iov_len) {
            skip -= iov[i].iov_len;
            continue;
        }
        size_t n = iov[i].iov_len - skip;
        if (n > len - done)
            n = len - done;
        fn((char *)iov[i].iov_base + skip, n, done, ctx);
        done += n;
        skip = 0;
    }
}

static void piece_to_buf(void *piece, size_t n, size_t done, void *buf) { memcpy((char *)buf + done, piece, n); }
static void piece_from_buf(void *piece, size_t n, size_t done, void *buf) { memcpy(piece, (const char *)buf + done, n); }
static void piece_zero(void *piece, size_t n, size_t done, void *unused) { memset(piece, 0, n); }

void umc_iov_to_buf(const struct iovec *iov, unsigned iovcnt, size_t skip, void *buf, size_t len)
{
    iov_walk(iov, iovcnt, skip, len, piece_to_buf, buf);
}

void umc_iov_from_buf(const struct iovec *iov, unsigned iovcnt, size_t skip, const void *buf, size_t len)
{
    iov_walk(iov, iovcnt, skip, len, piece_from_buf, (void *)buf);
}

void umc_iov_zero(const struct iovec *iov, unsigned iovcnt, size_t skip, size_t len)
{
    iov_walk(iov, iovcnt, skip, len, piece_zero, NULL);
}

/* ---- registry ------------------------------------------------------------------ */

static const char *basename_of(const char *name)
{
    const char *slash = strrchr(name, '/');
    return slash ? slash + 1 : name;
}

int umc_bdev_register(struct umc_node *n, struct umc_bdev *b)
{
    if (!b->name[0] || strchr(b->name, '/') || !b->ops || !b->ops->submit || !b->block_size ||
        b->block_size % UMC_SECTOR || b->size % b->block_size)
        return -EINVAL;
    struct umc_bdev **pp = &n->bdevs;
    while (*pp && strcmp((*pp)->name, b->name) < 0)
        pp = &(*pp)->next;
    if (*pp && strcmp((*pp)->name, b->name) == 0)
        return -EEXIST;
    b->node = n;
    b->openers = b->writers = 0;
    b->exclusive = false;
    b->next = *pp;
    *pp = b;
    return 0;
}

int umc_bdev_unregister(struct umc_node *n, struct umc_bdev *b)
{
    if (b->openers)
        return -EBUSY;
    for (struct umc_bdev **pp = &n->bdevs; *pp; pp = &(*pp)->next) {
        if (*pp == b) {
            *pp = b->next;
            b->next = NULL;
            return 0;
        }
    }
    return -ENOENT;
}

struct umc_bdev *umc_bdev_find(struct umc_node *n, const char *name)
{
    const char *base = basename_of(name);
    for (struct umc_bdev *b = n->bdevs; b; b = b->next)
        if (strcmp(b->name, base) == 0)
            return b;
    return NULL;
}

struct umc_bdev *umc_bdev_first(struct umc_node *n) { return n->bdevs; }
struct umc_bdev *umc_bdev_next(struct umc_bdev *b) { return b->next; }

int umc_bdev_open(struct umc_bdev *b, unsigned mode)
{
    bool write = mode & UMC_OPEN_WRITE;
    if (b->exclusive || ((mode & UMC_OPEN_EXCL) && b->openers))
        return -EBUSY;
    if (write && (b->flags & UMC_BDEV_READ_ONLY))
        return -EROFS;
    if (b->ops->open) {
        int rc = b->ops->open(b, write);
        if (rc)
            return rc;
    }
    b->openers++;
    if (write)
        b->writers++;
    if (mode & UMC_OPEN_EXCL)
        b->exclusive = true;
    return 0;
}

void umc_bdev_close(struct umc_bdev *b, unsigned mode)
{
    bool write = mode & UMC_OPEN_WRITE;
    if (!b->openers)
        return;
    b->openers--;
    if (write && b->writers)
        b->writers--;
    if (mode & UMC_OPEN_EXCL)
        b->exclusive = false;
    if (b->ops->release)
        b->ops->release(b, write);
}

/* ---- bios ------------------------------------------------------------------------ */

static void bio_call_done(void *arg)
{
    struct umc_bio *bio = arg;
    bio->done(bio);
}

void umc_bio_complete(struct umc_bio *bio, int status)
{
    bio->status = status;
    if (bio->in_submit)
        umc_defer(bio->bdev->node, bio_call_done, bio);
    else
        bio->done(bio);
}

static bool is_write_op(enum umc_bio_op op)
{
    return op == UMC_OP_WRITE || op == UMC_OP_DISCARD || op == UMC_OP_WRITE_ZEROES;
}

static int bio_check(const struct umc_bdev *b, const struct umc_bio *bio)
{
    if (bio->op > UMC_OP_WRITE_ZEROES)
        return -EINVAL;
    if (is_write_op(bio->op) && (b->flags & UMC_BDEV_READ_ONLY))
        return -EROFS;
    if (bio->op == UMC_OP_FLUSH)
        return 0;
    if (bio->offset % UMC_SECTOR || bio->length % UMC_SECTOR || bio->offset > b->size ||
        bio->length > b->size - bio->offset)
        return -EINVAL;
    if (bio->op == UMC_OP_DISCARD && !(b->flags & UMC_BDEV_DISCARD))
        return -EOPNOTSUPP;
    if ((bio->op == UMC_OP_READ || bio->op == UMC_OP_WRITE) &&
        umc_iov_total(bio->iov, bio->iovcnt) < bio->length)
        return -EINVAL;
    return 0;
}

/* WRITE_ZEROES on a device without it: one WRITE of a zeroed buffer per chunk. */
struct zero_emul {
    struct umc_bio *orig;
    struct umc_bio chunk;
    struct iovec iov;
    uint64_t next;
};
#define ZERO_CHUNK (1u << 20)

static void zero_emul_step(struct umc_bio *chunk);

static void zero_emul_issue(struct zero_emul *z)
{
    struct umc_bio *orig = z->orig;
    uint64_t end = orig->offset + orig->length;
    uint64_t len = end - z->next < ZERO_CHUNK ? end - z->next : ZERO_CHUNK;
    z->chunk = (struct umc_bio){.op = UMC_OP_WRITE, .flags = orig->flags, .offset = z->next,
                                .length = len, .iov = &z->iov, .iovcnt = 1,
                                .done = zero_emul_step, .priv = z};
    z->iov.iov_len = len;
    z->next += len;
    umc_bio_submit(orig->bdev, &z->chunk);
}

static void zero_emul_step(struct umc_bio *chunk)
{
    struct zero_emul *z = chunk->priv;
    struct umc_bio *orig = z->orig;
    if (chunk->status || z->next >= orig->offset + orig->length) {
        struct umc_node *n = orig->bdev->node;
        int status = chunk->status;
        umc_free(n, z->iov.iov_base);
        umc_free(n, z);
        umc_bio_complete(orig, status);
        return;
    }
    zero_emul_issue(z);
}

static void zero_emul_start(struct umc_bdev *b, struct umc_bio *bio)
{
    struct zero_emul *z = umc_alloc(b->node, sizeof(*z));
    z->orig = bio;
    z->next = bio->offset;
    z->iov.iov_base = umc_alloc(b->node, bio->length < ZERO_CHUNK ? bio->length : ZERO_CHUNK);
    zero_emul_issue(z);
}

void umc_bio_submit(struct umc_bdev *b, struct umc_bio *bio)
{
    bio->bdev = b;
    bio->status = 0;
    bio->in_submit = true;
    mte_note_work(umc_engine(b->node), 1); /* what poll moderation measures */
    int rc = bio_check(b, bio);
    if (rc)
        umc_bio_complete(bio, rc);
    else if ((bio->op == UMC_OP_READ || is_write_op(bio->op)) && bio->length == 0)
        umc_bio_complete(bio, 0);
    else if (bio->op == UMC_OP_WRITE_ZEROES && !(b->flags & UMC_BDEV_WRITE_ZEROES))
        zero_emul_start(b, bio);
    else
        b->ops->submit(b, bio);
    bio->in_submit = false;
}
