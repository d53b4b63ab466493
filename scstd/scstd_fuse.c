/* --fuse DIR: every block device of the node (the umc bdev registry) as a
 * regular file DIR/dev/NAME, so mkfs, dd and cmp work on tcmu000 or drbd1
 * as the seed's /UMCfuse/dev/ tree allowed.
 *
 * The session fd is one more fd on the engine: libfuse's low-level API reads
 * one request per readable event and every answer comes from the same
 * thread, later, when the bio completes.  Files are direct_io so the kernel
 * page cache never hides what iSCSI or drbd changed underneath.
 *
 * Byte ranges that do not cover whole blocks are written by reading the edge
 * blocks first (read-modify-write); overlapping writes to one device are
 * started in arrival order, one at a time, so such a merge never writes
 * back stale bytes of a neighbour's write.
 *
 * The directory consults the registry on every lookup and readdir; inode
 * numbers are given to device names on first sight and kept until unmount,
 * so a device that comes back under its old name gets its old inode. */
#define FUSE_USE_VERSION 35

#include <errno.h>
#include <fcntl.h>
#include <fuse3/fuse_lowlevel.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "scstd/scstd.h"

#define ROOT_INO FUSE_ROOT_ID
#define DEV_DIR_INO 2
#define FIRST_DEV_INO 3
#define ATTR_TIMEOUT 1.0           /* seconds: sizes and device lists stay fresh */
#define REQUESTS_PER_EVENT 64      /* then let iSCSI and drbd have the engine */
#define STOP_WAIT (5 * MTE_SEC)    /* for bios in flight at shutdown */

/* One device name ever seen; its inode is FIRST_DEV_INO + index. */
struct dev_node {
    char name[UMC_NAME_MAX];
    struct fuse_op *writing;       /* writes started, not yet done */
    struct fuse_op *waiting;       /* writes overlapping an earlier one, in arrival order */
};

/* One open file: holds the bdev open like an open block device would, so a
 * drbd Secondary refuses writers and a backstore cannot vanish under us. */
struct fuse_handle {
    struct scstd_fuse *fs;
    struct dev_node *node;
    struct umc_bdev *bdev;
    unsigned mode;                 /* UMC_OPEN_* */
    unsigned refs;                 /* the open itself, plus one per request */
    struct fuse_handle *prev, *next;
};

enum op_kind { OP_READ, OP_WRITE, OP_FLUSH };

/* One read, write or flush request between its arrival and its answer. */
struct fuse_op {
    enum op_kind kind;
    struct scstd_fuse *fs;         /* NULL once orphaned by the shutdown */
    fuse_req_t req;                /* NULL once answered */
    struct fuse_handle *h;
    uint64_t off, len;             /* the caller's bytes, within the device */
    uint64_t astart, alen;         /* the whole blocks covering them */
    char *buf;                     /* alen bytes */
    char *data;                    /* partial-block write: the caller's bytes until merged */
    bool merging;                  /* edge blocks being read */
    int status;
    unsigned bios_out;
    struct umc_bio bio[2];
    struct iovec iov[2];
    struct fuse_op *next_in_node;  /* dev_node's writing or waiting list */
    struct fuse_op *prev, *next;   /* every op of the file system */
};

struct scstd_fuse {
    struct scstd *d;
    struct fuse_session *se;
    struct mte_fd *watch;
    struct fuse_buf buf;           /* one request at a time: one buffer */
    struct dev_node **nodes;
    unsigned nnodes, cap;
    struct fuse_handle *handles;
    struct fuse_op *ops;
    time_t mounted_at;
};

static struct scstd_fuse *fs_of(fuse_req_t req) { return fuse_req_userdata(req); }

/* ---- names and inodes ------------------------------------------------------------- */

static struct dev_node *node_of_ino(struct scstd_fuse *fs, fuse_ino_t ino)
{
    if (ino < FIRST_DEV_INO || ino - FIRST_DEV_INO >= fs->nnodes)
        return NULL;
    return fs->nodes[ino - FIRST_DEV_INO];
}

static fuse_ino_t ino_of_name(struct scstd_fuse *fs, const char *name)
{
    for (unsigned i = 0; i < fs->nnodes; i++)
        if (strcmp(fs->nodes[i]->name, name) == 0)
            return FIRST_DEV_INO + i;
    if (fs->nnodes == fs->cap) {
        fs->cap = fs->cap ? 2 * fs->cap : 16;
        fs->nodes = realloc(fs->nodes, fs->cap * sizeof(*fs->nodes));
    }
    struct dev_node *n = calloc(1, sizeof(*n));
    snprintf(n->name, sizeof(n->name), "%s", name);
    fs->nodes[fs->nnodes++] = n;
    return FIRST_DEV_INO + fs->nnodes - 1;
}

/* The registry decides what exists: a name is only a file while a bdev of
 * that name is registered. */
static struct umc_bdev *bdev_of_ino(struct scstd_fuse *fs, fuse_ino_t ino)
{
    struct dev_node *n = node_of_ino(fs, ino);
    return n ? umc_bdev_find(fs->d->node, n->name) : NULL;
}

/* Still the device this handle opened?  A drbd volume taken down under an
 * open file leaves an unregistered husk; its I/O must fail, not reach it. */
static bool handle_live(const struct fuse_handle *h)
{
    return umc_bdev_find(h->fs->d->node, h->node->name) == h->bdev;
}

static uint64_t grain_of(const struct umc_bdev *b)
{
    return b->block_size > UMC_SECTOR ? b->block_size : UMC_SECTOR;
}

static void dir_attr(struct scstd_fuse *fs, fuse_ino_t ino, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_ino = ino;
    st->st_mode = S_IFDIR | 0755;
    st->st_nlink = 2;
    st->st_mtime = st->st_ctime = st->st_atime = fs->mounted_at;
}

static void dev_attr(struct scstd_fuse *fs, fuse_ino_t ino, const struct umc_bdev *b,
                     struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_ino = ino;
    st->st_mode = S_IFREG | ((b->flags & UMC_BDEV_READ_ONLY) ? 0444 : 0644);
    st->st_nlink = 1;
    st->st_size = (off_t)b->size;
    st->st_blksize = (blksize_t)grain_of(b);
    st->st_blocks = (blkcnt_t)(b->size / 512);
    st->st_mtime = st->st_ctime = st->st_atime = fs->mounted_at;
}

/* 0 with the attributes of ino, or ENOENT. */
static int attr_of(struct scstd_fuse *fs, fuse_ino_t ino, struct stat *st)
{
    if (ino == ROOT_INO || ino == DEV_DIR_INO) {
        dir_attr(fs, ino, st);
        return 0;
    }
    struct umc_bdev *b = bdev_of_ino(fs, ino);
    if (!b)
        return ENOENT;
    dev_attr(fs, ino, b, st);
    return 0;
}

/* ---- the directory ------------------------------------------------------------------- */

static void reply_entry(fuse_req_t req, fuse_ino_t ino)
{
    struct fuse_entry_param e = {.ino = ino, .attr_timeout = ATTR_TIMEOUT,
                                 .entry_timeout = ATTR_TIMEOUT};
    int err = attr_of(fs_of(req), ino, &e.attr);
    if (err)
        fuse_reply_err(req, err);
    else
        fuse_reply_entry(req, &e);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct scstd_fuse *fs = fs_of(req);
    if (parent == ROOT_INO && strcmp(name, "dev") == 0) {
        reply_entry(req, DEV_DIR_INO);
        return;
    }
    struct umc_bdev *b = parent == DEV_DIR_INO ? umc_bdev_find(fs->d->node, name) : NULL;
    if (!b || strcmp(b->name, name) != 0) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    reply_entry(req, ino_of_name(fs, b->name));
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct stat st;
    int err = attr_of(fs_of(req), ino, &st);
    if (err)
        fuse_reply_err(req, err);
    else
        fuse_reply_attr(req, &st, ATTR_TIMEOUT);
}

/* A block device cannot be truncated or chmod-ed: O_TRUNC (dd without
 * conv=notrunc) and touch succeed and change nothing, as on /dev/sdX. */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                       struct fuse_file_info *fi)
{
    op_getattr(req, ino, fi);
}

/* The index-th entry of directory ino (after "." and ".."), or false past the end. */
static bool dir_entry(struct scstd_fuse *fs, fuse_ino_t ino, unsigned index, const char **name,
                      fuse_ino_t *child)
{
    if (ino == ROOT_INO) {
        *name = "dev";
        *child = DEV_DIR_INO;
        return index == 0;
    }
    struct umc_bdev *b = umc_bdev_first(fs->d->node);
    for (unsigned i = 0; b && i < index; i++)
        b = umc_bdev_next(b);
    if (!b)
        return false;
    *name = b->name;
    *child = ino_of_name(fs, b->name);
    return true;
}

/* Entry k of the listing: 0 ".", 1 "..", then the children.  The offset
 * handed to the kernel is the number of the next entry. */
static bool listing_entry(struct scstd_fuse *fs, fuse_ino_t ino, off_t k, const char **name,
                          struct stat *st)
{
    fuse_ino_t child = k == 1 ? ROOT_INO : ino;
    if (k < 2)
        *name = k == 0 ? "." : "..";
    else if (!dir_entry(fs, ino, (unsigned)(k - 2), name, &child))
        return false;
    memset(st, 0, sizeof(*st));
    st->st_ino = child;
    st->st_mode = child < FIRST_DEV_INO ? S_IFDIR : S_IFREG;
    return true;
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
    struct scstd_fuse *fs = fs_of(req);
    if (ino != ROOT_INO && ino != DEV_DIR_INO) {
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    char *buf = malloc(size ? size : 1);
    size_t used = 0;
    const char *name;
    struct stat st;
    for (off_t k = off; listing_entry(fs, ino, k, &name, &st); k++) {
        size_t need = fuse_add_direntry(req, buf + used, size - used, name, &st, k + 1);
        if (need > size - used)
            break;
        used += need;
    }
    fuse_reply_buf(req, buf, used);
    free(buf);
}

/* ---- open files ---------------------------------------------------------------------- */

static void handle_put(struct fuse_handle *h)
{
    if (--h->refs)
        return;
    /* A bdev that left the registry is not ours to touch any more. */
    if (handle_live(h))
        umc_bdev_close(h->bdev, h->mode);
    if (h->prev)
        h->prev->next = h->next;
    else
        h->fs->handles = h->next;
    if (h->next)
        h->next->prev = h->prev;
    free(h);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct scstd_fuse *fs = fs_of(req);
    if (ino < FIRST_DEV_INO) {
        fuse_reply_err(req, EISDIR);
        return;
    }
    struct umc_bdev *b = bdev_of_ino(fs, ino);
    if (!b) {
        fuse_reply_err(req, ENODEV);
        return;
    }
    unsigned mode = (fi->flags & O_ACCMODE) == O_RDONLY ? 0 : UMC_OPEN_WRITE;
    int rc = umc_bdev_open(b, mode);  /* a drbd Secondary says EROFS here */
    if (rc) {
        fuse_reply_err(req, -rc);
        return;
    }
    struct fuse_handle *h = calloc(1, sizeof(*h));
    *h = (struct fuse_handle){.fs = fs, .node = node_of_ino(fs, ino), .bdev = b, .mode = mode,
                              .refs = 1, .next = fs->handles};
    if (h->next)
        h->next->prev = h;
    fs->handles = h;
    fi->fh = (uintptr_t)h;
    fi->direct_io = 1;
    fi->keep_cache = 0;
    if (fuse_reply_open(req, fi) == -ENOENT)
        handle_put(h);  /* the open was interrupted: no release will come */
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    handle_put((struct fuse_handle *)(uintptr_t)fi->fh);
    fuse_reply_err(req, 0);
}

/* ---- requests in flight ------------------------------------------------------------ */

static struct fuse_op *op_new(fuse_req_t req, struct fuse_handle *h, enum op_kind kind)
{
    struct fuse_op *op = calloc(1, sizeof(*op));
    op->kind = kind;
    op->fs = h->fs;
    op->req = req;
    op->h = h;
    h->refs++;
    op->next = op->fs->ops;
    if (op->next)
        op->next->prev = op;
    op->fs->ops = op;
    return op;
}

static void op_unlink(struct fuse_op *op)
{
    if (op->prev)
        op->prev->next = op->next;
    else
        op->fs->ops = op->next;
    if (op->next)
        op->next->prev = op->prev;
    op->prev = op->next = NULL;
}

static void op_free(struct fuse_op *op)
{
    if (op->fs) {
        op_unlink(op);
        handle_put(op->h);
    }
    free(op->buf);
    free(op->data);
    free(op);
}

/* Answer the caller (unless the shutdown already did) and free. */
static void op_answer(struct fuse_op *op)
{
    fuse_req_t req = op->req;
    op->req = NULL;
    if (req && op->status)
        fuse_reply_err(req, -op->status);
    else if (req && op->kind == OP_READ)
        fuse_reply_buf(req, op->buf + (op->off - op->astart), op->len);
    else if (req && op->kind == OP_WRITE)
        fuse_reply_write(req, op->len);
    else if (req)
        fuse_reply_err(req, 0);
    op_free(op);
}

static void write_done(struct fuse_op *op);
static void merge_done(struct fuse_op *op);

static void on_bio_done(struct umc_bio *bio)
{
    struct fuse_op *op = bio->priv;
    if (bio->status && !op->status)
        op->status = bio->status;
    if (--op->bios_out)
        return;
    if (!op->fs)
        op_free(op);  /* orphaned at shutdown: already answered */
    else if (op->kind == OP_WRITE && op->merging)
        merge_done(op);
    else if (op->kind == OP_WRITE)
        write_done(op);
    else
        op_answer(op);
}

static void submit(struct fuse_op *op, unsigned slot, enum umc_bio_op kind, uint64_t offset,
                   char *mem, uint64_t len)
{
    op->iov[slot] = (struct iovec){.iov_base = mem, .iov_len = len};
    op->bio[slot] = (struct umc_bio){.op = kind, .offset = offset, .length = len,
                                     .iov = mem ? &op->iov[slot] : NULL, .iovcnt = mem ? 1 : 0,
                                     .done = on_bio_done, .priv = op};
    op->bios_out++;
    umc_bio_submit(op->h->bdev, &op->bio[slot]);
}

/* The handle behind a request, if its device is still there; else answers. */
static struct fuse_handle *live_handle(fuse_req_t req, struct fuse_file_info *fi)
{
    struct fuse_handle *h = (struct fuse_handle *)(uintptr_t)fi->fh;
    if (handle_live(h))
        return h;
    fuse_reply_err(req, ENODEV);
    return NULL;
}

/* Clamp [off, off+size) to the device and find the blocks covering it. */
static void op_range(struct fuse_op *op, uint64_t off, uint64_t size)
{
    uint64_t dev = op->h->bdev->size, grain = grain_of(op->h->bdev);
    op->off = off;
    op->len = size < dev - off ? size : dev - off;
    op->astart = off / grain * grain;
    uint64_t aend = (off + op->len + grain - 1) / grain * grain;
    op->alen = aend - op->astart;
    op->buf = malloc(op->alen ? op->alen : 1);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    struct fuse_handle *h = live_handle(req, fi);
    if (!h)
        return;
    if (off < 0 || (uint64_t)off >= h->bdev->size || !size) {
        fuse_reply_buf(req, NULL, 0);  /* end of file */
        return;
    }
    struct fuse_op *op = op_new(req, h, OP_READ);
    op_range(op, (uint64_t)off, size);
    submit(op, 0, UMC_OP_READ, op->astart, op->buf, op->alen);
}

static void flush_start(fuse_req_t req, struct fuse_file_info *fi)
{
    struct fuse_handle *h = live_handle(req, fi);
    if (h)
        submit(op_new(req, h, OP_FLUSH), 0, UMC_OP_FLUSH, 0, NULL, 0);
}

/* close(): a writer's data reaches stable storage, as a block device's
 * final blkdev_put flushes it; a reader has nothing to flush. */
static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct fuse_handle *h = (struct fuse_handle *)(uintptr_t)fi->fh;
    if (h->mode & UMC_OPEN_WRITE)
        flush_start(req, fi);
    else
        fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
    flush_start(req, fi);
}

/* ---- writes ------------------------------------------------------------------------- */

static bool overlap(const struct fuse_op *a, const struct fuse_op *b)
{
    return a->astart < b->astart + b->alen && b->astart < a->astart + a->alen;
}

static bool overlaps_any(const struct fuse_op *list, const struct fuse_op *stop,
                         const struct fuse_op *op)
{
    for (; list && list != stop; list = list->next_in_node)
        if (overlap(list, op))
            return true;
    return false;
}

static void append(struct fuse_op **list, struct fuse_op *op)
{
    while (*list)
        list = &(*list)->next_in_node;
    op->next_in_node = NULL;
    *list = op;
}

static void unlink_from(struct fuse_op **list, struct fuse_op *op)
{
    for (; *list; list = &(*list)->next_in_node) {
        if (*list == op) {
            *list = op->next_in_node;
            op->next_in_node = NULL;
            return;
        }
    }
}

static void write_blocks(struct fuse_op *op)
{
    submit(op, 0, UMC_OP_WRITE, op->astart, op->buf, op->alen);
}

/* Whole blocks go straight out; a partial first or last block is read
 * first so the bytes around the caller's survive. */
static void write_start(struct fuse_op *op)
{
    uint64_t grain = grain_of(op->h->bdev), aend = op->astart + op->alen;
    bool head = op->off != op->astart, tail = op->off + op->len != aend;
    if (!head && !tail) {
        write_blocks(op);
        return;
    }
    op->merging = true;
    if (head)
        submit(op, 0, UMC_OP_READ, op->astart, op->buf, grain);
    if (tail && !(head && op->alen == grain))
        submit(op, 1, UMC_OP_READ, aend - grain, op->buf + op->alen - grain, grain);
}

static void merge_done(struct fuse_op *op)
{
    op->merging = false;
    if (op->status) {
        write_done(op);
        return;
    }
    memcpy(op->buf + (op->off - op->astart), op->data, op->len);
    free(op->data);
    op->data = NULL;
    write_blocks(op);
}

/* Start, in arrival order, every waiting write that overlaps neither a
 * running one nor an earlier waiting one. */
static void node_pump(struct dev_node *n)
{
    struct fuse_op *op = n->waiting;
    while (op) {
        struct fuse_op *next = op->next_in_node;
        if (!overlaps_any(n->writing, NULL, op) && !overlaps_any(n->waiting, op, op)) {
            unlink_from(&n->waiting, op);
            append(&n->writing, op);
            write_start(op);
        }
        op = next;
    }
}

static void write_done(struct fuse_op *op)
{
    struct dev_node *n = op->h->node;
    unlink_from(&n->writing, op);
    op_answer(op);
    node_pump(n);
}

/* The caller's buffer is only ours during this call: copy it now. */
static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
    struct fuse_handle *h = live_handle(req, fi);
    if (!h)
        return;
    if (!size) {
        fuse_reply_write(req, 0);
        return;
    }
    if (off < 0 || (uint64_t)off >= h->bdev->size) {
        fuse_reply_err(req, ENOSPC);  /* past the end of a device */
        return;
    }
    struct fuse_op *op = op_new(req, h, OP_WRITE);
    op_range(op, (uint64_t)off, size);
    if (op->off == op->astart && op->len == op->alen) {
        memcpy(op->buf, buf, op->len);
    } else {
        op->data = malloc(op->len);
        memcpy(op->data, buf, op->len);
    }
    append(&h->node->waiting, op);
    node_pump(h->node);
}

/* ---- the session -------------------------------------------------------------------- */

/* Splice would move pages through a pipe and a thread-local buffer;
 * one copy per request is fine.  No writeback cache: direct_io decides. */
static void op_init(void *userdata, struct fuse_conn_info *conn)
{
    conn->want &= ~(unsigned)(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
                              FUSE_CAP_SPLICE_MOVE | FUSE_CAP_WRITEBACK_CACHE);
}

static const struct fuse_lowlevel_ops fuse_ops = {
    .init = op_init,
    .lookup = op_lookup,
    .getattr = op_getattr,
    .setattr = op_setattr,
    .readdir = op_readdir,
    .open = op_open,
    .read = op_read,
    .write = op_write,
    .flush = op_flush,
    .fsync = op_fsync,
    .release = op_release,
};

static void stop_watching(struct scstd_fuse *fs)
{
    if (fs->watch)
        mte_fd_unwatch(fs->d->engine, fs->watch);
    fs->watch = NULL;
}

static void on_readable(void *arg, uint32_t events)
{
    struct scstd_fuse *fs = arg;
    for (int i = 0; i < REQUESTS_PER_EVENT && fs->watch; i++) {
        int n = fuse_session_receive_buf(fs->se, &fs->buf);
        if (n == -EAGAIN || n == -EINTR)
            return;
        if (n <= 0 || fuse_session_exited(fs->se)) {
            /* fusermount -u (or an abort) from outside: nothing more will come */
            fprintf(stderr, "scstd: the FUSE tree was unmounted from outside\n");
            stop_watching(fs);
            return;
        }
        fuse_session_process_buf(fs->se, &fs->buf);
    }
}

static struct scstd_fuse *start_failed(struct scstd_fuse *fs, char *err, size_t errlen,
                                       const char *dir, const char *what)
{
    snprintf(err, errlen, "--fuse %s: %s", dir, what);
    if (fs->se)
        fuse_session_destroy(fs->se);
    free(fs);
    return NULL;
}

struct scstd_fuse *scstd_fuse_start(struct scstd *d, const char *dir, char *err, size_t errlen)
{
    struct scstd_fuse *fs = calloc(1, sizeof(*fs));
    fs->d = d;
    fs->mounted_at = time(NULL);
    char *argv[] = {"scstd", "-o", "fsname=scstd,subtype=scstd,allow_other", NULL};
    struct fuse_args args = FUSE_ARGS_INIT(3, argv);
    fs->se = fuse_session_new(&args, &fuse_ops, sizeof(fuse_ops), fs);
    fuse_opt_free_args(&args);
    if (!fs->se)
        return start_failed(fs, err, errlen, dir, "cannot create the FUSE session");
    if (fuse_session_mount(fs->se, dir) != 0)
        return start_failed(fs, err, errlen, dir, "cannot mount (see above)");
    int fd = fuse_session_fd(fs->se);
    /* the engine tells us when to read; a read must never block it */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fs->watch = mte_fd_watch(d->engine, fs, fd, MTE_FD_READ, on_readable, fs);
    if (!fs->watch) {
        fuse_session_unmount(fs->se);
        return start_failed(fs, err, errlen, dir, "cannot watch the FUSE device");
    }
    return fs;
}

/* ---- shutdown ------------------------------------------------------------------------ */

static bool bios_in_flight(const struct scstd_fuse *fs)
{
    for (const struct fuse_op *op = fs->ops; op; op = op->next)
        if (op->bios_out)
            return true;
    return false;
}

/* What did not finish in time is answered EIO now; a bio still out frees
 * its op when it completes (the op no longer points at us). */
static void orphan_ops(struct scstd_fuse *fs)
{
    while (fs->ops) {
        struct fuse_op *op = fs->ops;
        if (op->kind == OP_WRITE) {
            unlink_from(&op->h->node->writing, op);
            unlink_from(&op->h->node->waiting, op);
        }
        op->status = -EIO;
        if (!op->bios_out) {
            op_answer(op);
            continue;
        }
        fuse_reply_err(op->req, EIO);
        op->req = NULL;
        op_unlink(op);
        handle_put(op->h);
        op->fs = NULL;
    }
}

/* First thing in the shutdown, while every device still exists: answer or
 * abandon what is in flight, close the devices, unmount and free. */
void scstd_fuse_stop(struct scstd_fuse *fs)
{
    if (!fs)
        return;
    stop_watching(fs);
    struct mte_engine *e = fs->d->engine;
    mte_time_t deadline = mte_now(e) + STOP_WAIT;
    while (bios_in_flight(fs) && mte_now(e) < deadline)
        mte_run_until(e, mte_now(e) + 10 * MTE_MSEC);
    orphan_ops(fs);
    while (fs->handles) {
        fs->handles->refs = 1;  /* the kernel sends no release after unmount */
        handle_put(fs->handles);
    }
    fuse_session_unmount(fs->se);
    fuse_session_destroy(fs->se);
    free(fs->buf.mem);
    for (unsigned i = 0; i < fs->nnodes; i++)
        free(fs->nodes[i]);
    free(fs->nodes);
    free(fs);
}
