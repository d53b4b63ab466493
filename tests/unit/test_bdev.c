/* tcmu_ram: the host and bio glue, the ram handler, the simulated disk and its
 * durability model (flush, FUA, crash with drops and tears), faults, latency. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tcmu_ram/tcmu_ram.h"

#define KIB 1024ull
#define MIB (1024ull * 1024)
#define SECTOR 512u

/* ---- a node with a host and one device ----------------------------------------- */

struct rig {
    struct mte_engine *e;
    struct umc_node *n;
    struct tcmu_host *h;
    struct simdisk_media *m;   /* owned by the rig unless shared */
    struct tcmu_device *dev;
    struct umc_bdev *b;
};

static void rig_node(struct rig *r, uint64_t seed)
{
    if (!r->e)
        r->e = mte_engine_new(MTE_CLOCK_VIRTUAL, seed);
    struct umc_node_opts opts = {.name = "n1", .seed = seed, .print_level = UMC_LOG_ERROR};
    r->n = umc_node_new(r->e, &opts);
    r->h = tcmu_host_new(r->n);
}

static struct tcmu_device *add_dev(struct rig *r, const char *cfgstring, uint64_t size,
                                   uint32_t block_size, void *arg)
{
    struct tcmu_dev_config cfg = {.cfgstring = cfgstring, .size = size, .block_size = block_size,
                                  .handler_arg = arg};
    int err = 1;
    struct tcmu_device *dev = tcmu_dev_add(r->h, &cfg, &err);
    assert_non_null(dev);
    assert_int_equal(err, 0);
    return dev;
}

static void rig_ram(struct rig *r, uint64_t size, uint32_t block_size)
{
    rig_node(r, 1);
    r->dev = add_dev(r, "ram/", size, block_size, NULL);
    r->b = tcmu_dev_bdev(r->dev);
}

/* A simdisk with the given parameters (NULL: defaults). */
static void rig_simdisk(struct rig *r, uint64_t seed, uint64_t size, uint32_t block_size,
                        const struct simdisk_params *p)
{
    rig_node(r, seed);
    r->m = simdisk_media_new("d1", size, seed);
    if (p)
        simdisk_set_params(r->m, p);
    r->dev = add_dev(r, "simdisk/", size, block_size, r->m);
    r->b = tcmu_dev_bdev(r->dev);
}

static void rig_free(struct rig *r)
{
    if (r->n) {
        tcmu_host_free(r->h);
        assert_int_equal(umc_node_free(r->n), 0);
    }
    simdisk_media_free(r->m);
    mte_engine_free(r->e);
}

/* ---- bios --------------------------------------------------------------------------- */

struct io {
    struct umc_bio bio;
    struct iovec iov[3];
    struct mte_engine *e;
    bool done;
    mte_time_t done_at;
};

static void io_done(struct umc_bio *bio)
{
    struct io *io = bio->priv;
    assert_false(io->done);
    io->done = true;
    io->done_at = mte_now(io->e);
}

/* Submit without running the engine.  pieces > 1 splits buf into that many
 * uneven iovecs. */
static void io_start_split(struct io *io, struct rig *r, enum umc_bio_op op, uint32_t flags,
                           uint64_t off, void *buf, uint64_t len, unsigned pieces)
{
    *io = (struct io){.e = r->e};
    size_t cut1 = pieces > 1 ? (size_t)len / 3 + 7 : (size_t)len;
    size_t cut2 = pieces > 2 ? (size_t)len / 3 : 0;
    if (cut1 > len)
        cut1 = (size_t)len;
    io->iov[0] = (struct iovec){buf, cut1};
    io->iov[1] = (struct iovec){(char *)buf + cut1, cut2};
    io->iov[2] = (struct iovec){(char *)buf + cut1 + cut2, (size_t)len - cut1 - cut2};
    io->bio = (struct umc_bio){.op = op, .flags = flags, .offset = off, .length = len,
                               .iov = io->iov, .iovcnt = pieces > 1 ? 3 : 1, .done = io_done,
                               .priv = io};
    umc_bio_submit(r->b, &io->bio);
    assert_false(io->done); /* never before submit returns */
}

static void io_start(struct io *io, struct rig *r, enum umc_bio_op op, uint32_t flags, uint64_t off,
                     void *buf, uint64_t len)
{
    io_start_split(io, r, op, flags, off, buf, len, 1);
}

static int io_wait(struct rig *r, struct io *io)
{
    mte_run_until_idle(r->e);
    assert_true(io->done);
    return io->bio.status;
}

static int do_io(struct rig *r, enum umc_bio_op op, uint32_t flags, uint64_t off, void *buf,
                 uint64_t len)
{
    struct io io;
    io_start(&io, r, op, flags, off, buf, len);
    return io_wait(r, &io);
}

static int do_flush(struct rig *r) { return do_io(r, UMC_OP_FLUSH, 0, 0, NULL, 0); }

/* ---- data that names itself: every sector says which write and which sector -------- */

static void fill_sector(unsigned char *s, uint32_t tag, uint64_t sector)
{
    for (unsigned i = 0; i < SECTOR; i++)
        s[i] = (unsigned char)(tag * 131 + sector * 7 + i * 13 + (i >> 5));
    memcpy(s, &tag, sizeof(tag));
    memcpy(s + 4, &sector, sizeof(sector));
}

static void fill(unsigned char *buf, uint64_t len, uint32_t tag, uint64_t off)
{
    for (uint64_t i = 0; i < len / SECTOR; i++)
        fill_sector(buf + i * SECTOR, tag, off / SECTOR + i);
}

/* The tag of a sector whose every byte is intact, else -1.  Tag 0 is zeros. */
static int64_t sector_tag(const unsigned char *s, uint64_t sector)
{
    unsigned char expect[SECTOR];
    uint32_t tag;
    memcpy(&tag, s, sizeof(tag));
    if (tag == 0) {
        for (unsigned i = 0; i < SECTOR; i++)
            if (s[i])
                return -1;
        return 0;
    }
    fill_sector(expect, tag, sector);
    return memcmp(expect, s, SECTOR) == 0 ? (int64_t)tag : -1;
}

static unsigned char *xmalloc(size_t len)
{
    unsigned char *p = malloc(len);
    assert_non_null(p);
    return p;
}

/* Tag of every sector of [off, off+len) as the media now holds it. */
static void media_tags(struct simdisk_media *m, uint64_t off, uint64_t len, int64_t *tags)
{
    unsigned char *buf = xmalloc((size_t)len);
    simdisk_read(m, off, buf, (size_t)len);
    for (uint64_t i = 0; i < len / SECTOR; i++) {
        tags[i] = sector_tag(buf + i * SECTOR, off / SECTOR + i);
        assert_true(tags[i] >= 0); /* no sector is a mix of two writes */
    }
    free(buf);
}

static void poke_tagged(struct simdisk_media *m, uint32_t tag, uint64_t off, uint64_t len)
{
    unsigned char *buf = xmalloc((size_t)len);
    fill(buf, len, tag, off);
    simdisk_poke(m, off, buf, (size_t)len);
    free(buf);
}

static int write_tagged(struct rig *r, uint32_t tag, uint32_t flags, uint64_t off, uint64_t len)
{
    unsigned char *buf = xmalloc((size_t)len);
    fill(buf, len, tag, off);
    int rc = do_io(r, UMC_OP_WRITE, flags, off, buf, len);
    free(buf);
    return rc;
}

/* Several writes in flight at once; bufs[i] must live until they finish. */
struct batch {
    struct io io[16];
    unsigned char *buf[16];
    unsigned count;
};

static void batch_write(struct rig *r, struct batch *bt, uint32_t tag, uint32_t flags, uint64_t off,
                        uint64_t len)
{
    unsigned i = bt->count++;
    bt->buf[i] = xmalloc((size_t)len);
    fill(bt->buf[i], len, tag, off);
    io_start(&bt->io[i], r, UMC_OP_WRITE, flags, off, bt->buf[i], len);
}

static void batch_flush(struct rig *r, struct batch *bt)
{
    unsigned i = bt->count++;
    bt->buf[i] = NULL;
    io_start(&bt->io[i], r, UMC_OP_FLUSH, 0, 0, NULL, 0);
}

static void batch_finish(struct rig *r, struct batch *bt)
{
    mte_run_until_idle(r->e);
    for (unsigned i = 0; i < bt->count; i++) {
        assert_true(bt->io[i].done);
        assert_int_equal(bt->io[i].bio.status, 0);
        free(bt->buf[i]);
    }
    bt->count = 0;
}

static bool tag_in(int64_t tag, const int64_t *allowed, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (allowed[i] == tag)
            return true;
    return false;
}

/* Every sector of [off, off+len) carries one of the allowed tags; returns a
 * bitmask of the tags seen. */
static unsigned check_tags(struct simdisk_media *m, uint64_t off, uint64_t len,
                           const int64_t *allowed, unsigned n)
{
    int64_t tags[256];
    assert_true(len / SECTOR <= 256);
    media_tags(m, off, len, tags);
    unsigned seen = 0;
    for (uint64_t i = 0; i < len / SECTOR; i++) {
        if (!tag_in(tags[i], allowed, n))
            fail_msg("sector %llu has tag %lld", (unsigned long long)(off / SECTOR + i),
                     (long long)tags[i]);
        seen |= 1u << tags[i];
    }
    return seen;
}

/* ---- read after write ------------------------------------------------------------ */

static void read_after_write(struct rig *r, uint32_t bs)
{
    uint64_t off = 3 * bs, len = 8 * bs;
    unsigned char *in = xmalloc((size_t)len), *out = xmalloc((size_t)len);
    fill(in, len, 7, off);
    struct io io;
    io_start_split(&io, r, UMC_OP_WRITE, 0, off, in, len, 3);
    assert_int_equal(io_wait(r, &io), 0);
    memset(out, 0xee, (size_t)len);
    io_start_split(&io, r, UMC_OP_READ, 0, off, out, len, 3);
    assert_int_equal(io_wait(r, &io), 0);
    assert_memory_equal(in, out, (size_t)len);
    /* never-written blocks read as zeros */
    assert_int_equal(do_io(r, UMC_OP_READ, 0, 0, out, bs), 0);
    for (uint32_t i = 0; i < bs; i++)
        assert_int_equal(out[i], 0);
    free(in);
    free(out);
}

static void ram_read_after_write(void **state)
{
    uint32_t sizes[] = {512, 4096};
    for (int i = 0; i < 2; i++) {
        struct rig r = {0};
        rig_ram(&r, 1 * MIB, sizes[i]);
        assert_int_equal(r.b->block_size, sizes[i]);
        assert_int_equal(tcmu_dev_get_num_lbas(r.dev), MIB / sizes[i]);
        read_after_write(&r, sizes[i]);
        rig_free(&r);
    }
}

static void simdisk_read_after_write(void **state)
{
    uint32_t sizes[] = {512, 4096};
    for (int i = 0; i < 2; i++) {
        struct rig r = {0};
        rig_simdisk(&r, 5, 4 * MIB, sizes[i], NULL);
        assert_true(r.b->flags & UMC_BDEV_VOLATILE_CACHE);
        read_after_write(&r, sizes[i]);
        rig_free(&r);
    }
}

/* 1 GiB of anonymous memory: only touched pages are ever faulted in. */
static void ram_large_device_is_lazy(void **state)
{
    struct rig r = {0};
    rig_ram(&r, 1024 * MIB, 4096);
    unsigned char in[4096], out[4096];
    fill(in, sizeof(in), 9, 1024 * MIB - 4096);
    assert_int_equal(do_io(&r, UMC_OP_WRITE, 0, 1024 * MIB - 4096, in, 4096), 0);
    assert_int_equal(do_io(&r, UMC_OP_READ, 0, 1024 * MIB - 4096, out, 4096), 0);
    assert_memory_equal(in, out, sizeof(in));
    rig_free(&r);
}

/* ---- host, names, configuration ----------------------------------------------- */

static void names_in_order_and_found(void **state)
{
    struct rig r = {0};
    rig_node(&r, 1);
    assert_ptr_equal(tcmu_host_of(r.n), r.h);
    struct tcmu_device *d0 = add_dev(&r, "ram/", 64 * KIB, 512, NULL);
    struct tcmu_device *d1 = add_dev(&r, "ram/", 64 * KIB, 4096, NULL);
    assert_string_equal(tcmu_dev_name(d0), "tcmu000");
    assert_string_equal(tcmu_dev_name(d1), "tcmu001");
    assert_ptr_equal(umc_bdev_find(r.n, "tcmu001"), tcmu_dev_bdev(d1));
    assert_ptr_equal(umc_bdev_find(r.n, "/UMCfuse/dev/tcmu001"), tcmu_dev_bdev(d1));
    assert_ptr_equal(umc_bdev_find(r.n, "tcmu000"), tcmu_dev_bdev(d0));
    assert_ptr_equal(tcmu_dev_find(r.h, "tcmu000"), d0);
    assert_ptr_equal(tcmu_dev_find(r.h, "/UMCfuse/dev/tcmu001"), d1);
    assert_string_equal(tcmu_dev_get_cfgstring(d0), "");
    assert_true(tcmu_dev_bdev(d0)->flags & UMC_BDEV_DISCARD);
    assert_false(tcmu_dev_bdev(d0)->flags & UMC_BDEV_VOLATILE_CACHE);
    /* a named device, then the lowest free number is reused */
    struct tcmu_dev_config cfg = {.cfgstring = "ram/", .size = 64 * KIB, .name = "scratch"};
    int err;
    assert_non_null(tcmu_dev_add(r.h, &cfg, &err));
    assert_null(tcmu_dev_add(r.h, &cfg, &err));
    assert_int_equal(err, -EEXIST);
    assert_int_equal(tcmu_dev_remove(d0), 0);
    assert_null(umc_bdev_find(r.n, "tcmu000"));
    struct tcmu_device *again = add_dev(&r, "ram/", 64 * KIB, 512, NULL);
    assert_string_equal(tcmu_dev_name(again), "tcmu000");
    struct tcmu_device *d2 = add_dev(&r, "ram/", 64 * KIB, 512, NULL);
    assert_string_equal(tcmu_dev_name(d2), "tcmu002");
    rig_free(&r);
}

static void bad_configs_refused(void **state)
{
    struct rig r = {0};
    rig_node(&r, 1);
    struct simdisk_media *m = simdisk_media_new("d", 1 * MIB, 1);
    struct {
        struct tcmu_dev_config cfg;
        int err;
    } cases[] = {
        {{.cfgstring = "ram", .size = 4096}, -EINVAL},          /* no slash */
        {{.cfgstring = NULL, .size = 4096}, -EINVAL},
        {{.cfgstring = "nosuch/", .size = 4096}, -ENOENT},
        {{.cfgstring = "ram/", .size = 4096, .block_size = 1024}, -EINVAL},
        {{.cfgstring = "ram/", .size = 4096 + 512}, -EINVAL},   /* not whole 4 KiB blocks */
        {{.cfgstring = "ram/", .size = 0}, -EINVAL},
        {{.cfgstring = "ram/", .size = 4096, .name = "a/b"}, -EINVAL},
        {{.cfgstring = "simdisk/", .size = 4096}, -EINVAL},     /* no media */
        {{.cfgstring = "simdisk/", .size = 2 * MIB, .handler_arg = m}, -EINVAL}, /* too big */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int err = 0;
        assert_null(tcmu_dev_add(r.h, &cases[i].cfg, &err));
        assert_int_equal(err, cases[i].err);
    }
    assert_null(umc_bdev_first(r.n));
    /* simdisk with size 0 takes the media's */
    struct tcmu_device *d = add_dev(&r, "simdisk/", 0, 512, m);
    assert_int_equal(tcmu_dev_get_size(d), 1 * MIB);
    rig_free(&r);
    simdisk_media_free(m);
}

static void out_of_range_and_misaligned_bios_fail(void **state)
{
    struct rig r = {0};
    rig_ram(&r, 64 * KIB, 4096);
    unsigned char buf[8192] = {0};
    assert_int_equal(do_io(&r, UMC_OP_READ, 0, 64 * KIB, buf, 4096), -EINVAL);
    assert_int_equal(do_io(&r, UMC_OP_WRITE, 0, 60 * KIB, buf, 8192), -EINVAL);
    assert_int_equal(do_io(&r, UMC_OP_WRITE, 0, 100, buf, 512), -EINVAL);
    assert_int_equal(do_io(&r, UMC_OP_WRITE, 0, 512, buf, 4096), -EINVAL); /* not a block */
    assert_int_equal(do_io(&r, UMC_OP_READ, 0, 0, buf, 512), -EINVAL);
    assert_int_equal(do_io(&r, UMC_OP_DISCARD, 0, 4096, NULL, 512), -EINVAL);
    assert_int_equal(do_io(&r, UMC_OP_WRITE, 0, 60 * KIB, buf, 4096), 0);
    rig_free(&r);
}

static void read_only_refuses_writes(void **state)
{
    struct rig r = {0};
    rig_node(&r, 1);
    struct tcmu_dev_config cfg = {.cfgstring = "ram/", .size = 64 * KIB, .read_only = true};
    int err;
    r.dev = tcmu_dev_add(r.h, &cfg, &err);
    assert_non_null(r.dev);
    r.b = tcmu_dev_bdev(r.dev);
    assert_true(r.b->flags & UMC_BDEV_READ_ONLY);
    unsigned char buf[4096] = {0};
    assert_int_equal(do_io(&r, UMC_OP_WRITE, 0, 0, buf, 4096), -EROFS);
    assert_int_equal(do_io(&r, UMC_OP_DISCARD, 0, 0, NULL, 4096), -EROFS);
    assert_int_equal(do_io(&r, UMC_OP_READ, 0, 0, buf, 4096), 0);
    assert_int_equal(umc_bdev_open(r.b, UMC_OPEN_WRITE), -EROFS);
    assert_int_equal(umc_bdev_open(r.b, 0), 0);
    umc_bdev_close(r.b, 0);
    rig_free(&r);
}

static void exclusive_open(void **state)
{
    struct rig r = {0};
    rig_ram(&r, 64 * KIB, 4096);
    assert_int_equal(umc_bdev_open(r.b, UMC_OPEN_WRITE | UMC_OPEN_EXCL), 0);
    assert_int_equal(umc_bdev_open(r.b, 0), -EBUSY);
    assert_int_equal(umc_bdev_open(r.b, UMC_OPEN_EXCL), -EBUSY);
    umc_bdev_close(r.b, UMC_OPEN_WRITE | UMC_OPEN_EXCL);
    assert_int_equal(umc_bdev_open(r.b, 0), 0);
    assert_int_equal(umc_bdev_open(r.b, UMC_OPEN_EXCL), -EBUSY);
    assert_int_equal(umc_bdev_open(r.b, UMC_OPEN_WRITE), 0);
    umc_bdev_close(r.b, UMC_OPEN_WRITE);
    umc_bdev_close(r.b, 0);
    rig_free(&r);
}

static void remove_refused_while_open_or_busy(void **state)
{
    struct rig r = {0};
    rig_simdisk(&r, 3, 1 * MIB, 4096, NULL);
    assert_int_equal(umc_bdev_open(r.b, UMC_OPEN_WRITE), 0);
    assert_int_equal(tcmu_dev_remove(r.dev), -EBUSY);
    umc_bdev_close(r.b, UMC_OPEN_WRITE);
    unsigned char buf[4096] = {0};
    struct io io;
    io_start(&io, &r, UMC_OP_WRITE, 0, 0, buf, sizeof(buf));
    assert_int_equal(tcmu_dev_remove(r.dev), -EBUSY); /* a bio in flight */
    assert_int_equal(io_wait(&r, &io), 0);
    assert_int_equal(tcmu_dev_remove(r.dev), 0);
    assert_null(umc_bdev_find(r.n, "tcmu000"));
    rig_free(&r);
}

/* Teardown with a device still open and a bio in flight leaks nothing. */
static void host_free_removes_everything(void **state)
{
    struct rig r = {0};
    rig_simdisk(&r, 3, 1 * MIB, 4096, NULL);
    add_dev(&r, "ram/", 64 * KIB, 512, NULL);
    assert_int_equal(umc_bdev_open(r.b, UMC_OPEN_WRITE), 0);
    unsigned char buf[4096] = {0};
    struct io io;
    io_start(&io, &r, UMC_OP_WRITE, 0, 0, buf, sizeof(buf));
    tcmu_host_free(r.h);
    assert_null(tcmu_host_of(r.n));
    assert_null(umc_bdev_first(r.n));
    mte_run_until_idle(r.e);
    assert_false(io.done);
    assert_int_equal(umc_node_free(r.n), 0);
    r.n = NULL;
    rig_free(&r);
}

/* ---- the glue's call sequences, with a recording handler ------------------------ */

struct recorder {
    char calls[32];
    int ncalls;
    int mode;                 /* 0 sync, 1 async (test completes), 2 complete inside the call */
    int fail_on;              /* a call letter that fails with -EIO */
    struct tcmulib_cmd *pending;
};

static int rec_call(struct tcmu_device *dev, struct tcmulib_cmd *cmd, char what)
{
    struct recorder *rc = tcmu_dev_get_handler_arg(dev);
    rc->calls[rc->ncalls++] = what;
    int status = what == rc->fail_on ? -EIO : 0;
    if (rc->mode == 0)
        return status;
    if (rc->mode == 2) {
        tcmur_cmd_complete(dev, cmd, status);
        return TCMU_ASYNC_HANDLED;
    }
    rc->pending = cmd;
    return TCMU_ASYNC_HANDLED;
}

static int rec_open(struct tcmu_device *dev, bool reopen) { return 0; }
static int rec_rw(struct tcmu_device *dev, struct tcmulib_cmd *cmd, struct iovec *iov,
                  size_t iov_cnt, size_t length, uint64_t offset)
{
    return rec_call(dev, cmd, iov_cnt ? 'W' : '?');
}
static int rec_read(struct tcmu_device *dev, struct tcmulib_cmd *cmd, struct iovec *iov,
                    size_t iov_cnt, size_t length, uint64_t offset)
{
    return rec_call(dev, cmd, 'R');
}
static int rec_flush(struct tcmu_device *dev, struct tcmulib_cmd *cmd) { return rec_call(dev, cmd, 'F'); }
static int rec_unmap(struct tcmu_device *dev, struct tcmulib_cmd *cmd, uint64_t o, uint64_t l)
{
    return rec_call(dev, cmd, 'U');
}

static const struct tcmur_handler recorder_handler = {
    .name = "recorder", .subtype = "rec", .open = rec_open, .read = rec_read,
    .write = rec_rw, .flush = rec_flush, .unmap = rec_unmap,
};

static void expect_calls(struct rig *r, struct recorder *rc, enum umc_bio_op op, uint32_t flags,
                         const char *calls, int status)
{
    unsigned char buf[4096] = {0};
    rc->ncalls = 0;
    memset(rc->calls, 0, sizeof(rc->calls));
    struct io io;
    bool data = op == UMC_OP_READ || op == UMC_OP_WRITE;
    io_start(&io, r, op, flags, 0, data ? buf : NULL, op == UMC_OP_FLUSH ? 0 : sizeof(buf));
    while (rc->mode == 1 && rc->pending) {
        struct tcmulib_cmd *cmd = rc->pending;
        rc->pending = NULL;
        mte_run_until_idle(r->e);
        assert_false(io.done); /* not before the handler finished */
        tcmur_cmd_complete(r->dev, cmd, rc->calls[rc->ncalls - 1] == rc->fail_on ? -EIO : 0);
    }
    assert_int_equal(io_wait(r, &io), status);
    assert_string_equal(rc->calls, calls);
}

static void glue_call_sequences(void **state)
{
    for (int mode = 0; mode < 3; mode++) {
        struct rig r = {0};
        struct recorder rc = {.mode = mode};
        rig_node(&r, 1);
        assert_int_equal(tcmu_register_handler(r.h, &recorder_handler), 0);
        assert_int_equal(tcmu_register_handler(r.h, &recorder_handler), -EEXIST);
        r.dev = add_dev(&r, "rec/x", 64 * KIB, 4096, &rc);
        r.b = tcmu_dev_bdev(r.dev);
        assert_string_equal(tcmu_dev_get_cfgstring(r.dev), "x");
        assert_true(r.b->flags & UMC_BDEV_WRITE_ZEROES);
        expect_calls(&r, &rc, UMC_OP_READ, 0, "R", 0);
        expect_calls(&r, &rc, UMC_OP_WRITE, 0, "W", 0);
        expect_calls(&r, &rc, UMC_OP_WRITE, UMC_BIO_FUA, "WF", 0);
        expect_calls(&r, &rc, UMC_OP_WRITE, UMC_BIO_PREFLUSH, "FW", 0);
        expect_calls(&r, &rc, UMC_OP_WRITE, UMC_BIO_PREFLUSH | UMC_BIO_FUA, "FWF", 0);
        expect_calls(&r, &rc, UMC_OP_FLUSH, 0, "F", 0);
        expect_calls(&r, &rc, UMC_OP_DISCARD, 0, "U", 0);
        expect_calls(&r, &rc, UMC_OP_WRITE_ZEROES, UMC_BIO_FUA, "UF", 0);
        rc.fail_on = 'F'; /* a failed preflush stops the write */
        expect_calls(&r, &rc, UMC_OP_WRITE, UMC_BIO_PREFLUSH | UMC_BIO_FUA, "F", -EIO);
        rc.fail_on = 'W';
        expect_calls(&r, &rc, UMC_OP_WRITE, UMC_BIO_FUA, "W", -EIO);
        rig_free(&r);
    }
}

/* ---- durability: flush, FUA, crash ------------------------------------------------- */

static void flushed_data_survives_crash(void **state)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        struct rig r = {0};
        rig_simdisk(&r, seed, 1 * MIB, 512, NULL);
        assert_int_equal(write_tagged(&r, 1, 0, 0, 64 * KIB), 0);
        assert_int_equal(write_tagged(&r, 2, 0, 32 * KIB, 64 * KIB), 0);
        assert_int_equal(simdisk_unflushed_writes(r.m), 2);
        assert_int_equal(do_flush(&r), 0);
        assert_int_equal(simdisk_unflushed_writes(r.m), 0);
        struct simdisk_crash_stats st;
        simdisk_crash(r.m, &st);
        assert_int_equal(st.dropped + st.kept + st.torn, 0);
        int64_t one = 1, two = 2;
        check_tags(r.m, 0, 32 * KIB, &one, 1);
        check_tags(r.m, 32 * KIB, 64 * KIB, &two, 1);
        rig_free(&r);
    }
}

/* A FUA write is durable on its own; it does not flush the writes before it. */
static void fua_write_survives_crash(void **state)
{
    unsigned lost_other = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        struct rig r = {0};
        rig_simdisk(&r, seed, 1 * MIB, 4096, NULL);
        assert_int_equal(write_tagged(&r, 1, 0, 0, 32 * KIB), 0);
        assert_int_equal(write_tagged(&r, 2, UMC_BIO_FUA, 64 * KIB, 32 * KIB), 0);
        assert_int_equal(simdisk_unflushed_writes(r.m), 1);
        simdisk_crash(r.m, NULL);
        int64_t two = 2, maybe[] = {0, 1};
        check_tags(r.m, 64 * KIB, 32 * KIB, &two, 1);
        if (check_tags(r.m, 0, 32 * KIB, maybe, 2) & 1u)
            lost_other++;
        rig_free(&r);
    }
    assert_true(lost_other > 0);
}

static void unflushed_write_may_be_lost(void **state)
{
    unsigned kept = 0, lost = 0;
    for (uint64_t seed = 1; seed <= 64; seed++) {
        struct rig r = {0};
        rig_simdisk(&r, seed, 1 * MIB, 512, NULL);
        poke_tagged(r.m, 1, 0, 4 * KIB);
        assert_int_equal(write_tagged(&r, 2, 0, 0, 512), 0); /* one sector: never torn */
        struct simdisk_crash_stats st;
        simdisk_crash(r.m, &st);
        assert_int_equal(st.torn, 0);
        assert_int_equal(st.kept + st.dropped, 1);
        int64_t allowed[] = {1, 2};
        unsigned seen = check_tags(r.m, 0, 512, allowed, 2);
        kept += !!(seen & 4u);
        lost += !!(seen & 2u);
        assert_int_equal(simdisk_unflushed_writes(r.m), 0);
        rig_free(&r);
    }
    assert_true(kept > 0);
    assert_true(lost > 0);
}

static void tears_only_at_sector_boundaries(void **state)
{
    unsigned torn = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        struct rig r = {0};
        rig_simdisk(&r, seed, 1 * MIB, 4096, NULL);
        poke_tagged(r.m, 1, 0, 64 * KIB);
        assert_int_equal(write_tagged(&r, 2, 0, 0, 64 * KIB), 0);
        struct simdisk_crash_stats st;
        simdisk_crash(r.m, &st);
        int64_t allowed[] = {1, 2};
        unsigned seen = check_tags(r.m, 0, 64 * KIB, allowed, 2); /* whole sectors only */
        if (st.torn) {
            assert_int_equal(seen, 6u); /* a tear keeps some sectors and drops others */
            torn++;
        }
        rig_free(&r);
    }
    assert_true(torn > 0);
    /* a torn two-sector write keeps exactly one of them */
    torn = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        struct rig r = {0};
        rig_simdisk(&r, seed, 1 * MIB, 512, NULL);
        poke_tagged(r.m, 1, 0, 4 * KIB);
        assert_int_equal(write_tagged(&r, 2, 0, 512, 1024), 0);
        struct simdisk_crash_stats st;
        simdisk_crash(r.m, &st);
        int64_t tags[2];
        media_tags(r.m, 512, 1024, tags);
        if (st.torn) {
            assert_int_not_equal(tags[0], tags[1]);
            torn++;
        }
        rig_free(&r);
    }
    assert_true(torn > 0);
}

/* Random overlapping writes, some in flight together, some flushed: after a
 * crash every sector holds its flushed value or a later write covering it. */
static void overlapping_writes_end_consistent(void **state)
{
    for (uint64_t seed = 1; seed <= 60; seed++) {
        struct rig r = {0};
        rig_simdisk(&r, seed, 1 * MIB, 512, NULL);
        struct mte_rng wl;
        mte_rng_init(&wl, seed, "workload");
        poke_tagged(r.m, 1, 0, 64 * KIB);
        int64_t durable[128], allowed[128][16];
        unsigned nallowed[128];
        for (int s = 0; s < 128; s++) {
            durable[s] = 1;
            nallowed[s] = 0;
        }
        struct batch bt = {0};
        for (uint32_t tag = 2; tag < 14; tag++) {
            uint64_t first = mte_rng_below(&wl, 120), count = 1 + mte_rng_below(&wl, 128 - first);
            bool fua = mte_rng_chance(&wl, 0.2);
            batch_write(&r, &bt, tag, fua ? UMC_BIO_FUA : 0, first * SECTOR, count * SECTOR);
            for (uint64_t s = first; s < first + count; s++)
                allowed[s][nallowed[s]++] = tag;
            if (mte_rng_chance(&wl, 0.3))
                batch_finish(&r, &bt); /* sometimes wait before the next */
            if (fua) { /* wait: then the FUA write is durable, and settles its sectors */
                batch_finish(&r, &bt);
                for (uint64_t s = first; s < first + count; s++) {
                    durable[s] = tag;
                    nallowed[s] = 0;
                }
            }
        }
        batch_finish(&r, &bt);
        simdisk_crash(r.m, NULL);
        for (int s = 0; s < 128; s++) {
            allowed[s][nallowed[s]++] = durable[s];
            check_tags(r.m, (uint64_t)s * SECTOR, SECTOR, allowed[s], nallowed[s]);
        }
        rig_free(&r);
    }
}

/* Without tears each write is wholly kept or wholly dropped, so the image must
 * be explained by one keep/drop choice per write: walking newest to oldest, a
 * write's sectors not claimed by a newer kept write show all its tag (kept:
 * claim them) or none of it (dropped), and what nobody claims is the old data. */
static void explain_by_keep_or_drop(const int64_t *tags, const uint64_t *first,
                                    const uint64_t *count, unsigned nw)
{
    bool claimed[128] = {false};
    for (unsigned w = nw; w-- > 0;) {
        unsigned shown = 0, unclaimed = 0;
        for (uint64_t s = first[w]; s < first[w] + count[w]; s++) {
            unclaimed += !claimed[s];
            shown += !claimed[s] && tags[s] == (int64_t)(2 + w);
        }
        if (shown != 0 && shown != unclaimed)
            fail_msg("write %u kept on %u of its %u free sectors", w, shown, unclaimed);
        for (uint64_t s = first[w]; shown && s < first[w] + count[w]; s++)
            claimed[s] = true;
    }
    for (int s = 0; s < 128; s++)
        if (!claimed[s])
            assert_int_equal(tags[s], 1);
}

static void crash_is_a_keep_or_drop_choice(void **state)
{
    unsigned untorn = 0;
    for (uint64_t seed = 1; seed <= 300; seed++) {
        struct rig r = {0};
        rig_simdisk(&r, seed, 1 * MIB, 512, NULL);
        struct mte_rng wl;
        mte_rng_init(&wl, seed, "workload");
        poke_tagged(r.m, 1, 0, 64 * KIB);
        uint64_t first[5], count[5];
        for (unsigned w = 0; w < 5; w++) {
            first[w] = mte_rng_below(&wl, 100);
            count[w] = 2 + mte_rng_below(&wl, 128 - first[w] - 1);
            assert_int_equal(write_tagged(&r, 2 + w, 0, first[w] * SECTOR, count[w] * SECTOR), 0);
        }
        struct simdisk_crash_stats st;
        simdisk_crash(r.m, &st);
        if (st.torn == 0) {
            int64_t tags[128];
            media_tags(r.m, 0, 64 * KIB, tags);
            explain_by_keep_or_drop(tags, first, count, 5);
            untorn++;
        }
        rig_free(&r);
    }
    assert_true(untorn >= 10);
}

/* W1 cached, W2 FUA over part of it, W3 cached over both: sectors W2 made
 * durable can never go back to W1 or to the old data. */
static void durable_write_settles_older_overlaps(void **state)
{
    unsigned saw_base = 0;
    for (uint64_t seed = 1; seed <= 60; seed++) {
        struct rig r = {0};
        rig_simdisk(&r, seed, 1 * MIB, 512, NULL);
        poke_tagged(r.m, 1, 0, 64 * KIB);
        assert_int_equal(write_tagged(&r, 2, 0, 0, 32 * KIB), 0);
        assert_int_equal(write_tagged(&r, 3, UMC_BIO_FUA, 16 * KIB, 32 * KIB), 0);
        assert_int_equal(write_tagged(&r, 4, 0, 8 * KIB, 16 * KIB), 0);
        simdisk_crash(r.m, NULL);
        int64_t a[] = {1, 2}, b[] = {1, 2, 4}, c[] = {3, 4}, d[] = {3}, e[] = {1};
        saw_base |= check_tags(r.m, 0, 8 * KIB, a, 2) & 2u;
        check_tags(r.m, 8 * KIB, 8 * KIB, b, 3);
        check_tags(r.m, 16 * KIB, 8 * KIB, c, 2);
        check_tags(r.m, 24 * KIB, 24 * KIB, d, 1);
        check_tags(r.m, 48 * KIB, 16 * KIB, e, 1);
        rig_free(&r);
    }
    assert_true(saw_base);
}

/* W1, then a flush, then W2 are submitted together: the flush makes W1
 * durable but not W2, though W2 completes before the flush does. */
static void flush_covers_only_writes_submitted_before_it(void **state)
{
    unsigned w2_lost = 0;
    struct simdisk_params p;
    simdisk_default_params(&p);
    p.flush_latency = 5 * MTE_MSEC;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        struct rig r = {0};
        rig_simdisk(&r, seed, 1 * MIB, 512, &p);
        poke_tagged(r.m, 1, 0, 64 * KIB);
        struct batch bt = {0};
        batch_write(&r, &bt, 2, 0, 0, 32 * KIB);
        batch_flush(&r, &bt);
        batch_write(&r, &bt, 3, 0, 16 * KIB, 32 * KIB);
        batch_finish(&r, &bt);
        assert_int_equal(simdisk_unflushed_writes(r.m), 1);
        simdisk_crash(r.m, NULL);
        int64_t a[] = {2}, b[] = {2, 3}, c[] = {1, 3}, d[] = {1};
        check_tags(r.m, 0, 16 * KIB, a, 1);
        w2_lost += !!(check_tags(r.m, 16 * KIB, 16 * KIB, b, 2) & 4u);
        check_tags(r.m, 32 * KIB, 16 * KIB, c, 2);
        check_tags(r.m, 48 * KIB, 16 * KIB, d, 1);
        rig_free(&r);
    }
    assert_true(w2_lost > 0);
}

static void preflush_makes_earlier_writes_durable(void **state)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        struct rig r = {0};
        rig_simdisk(&r, seed, 1 * MIB, 512, NULL);
        assert_int_equal(write_tagged(&r, 1, 0, 0, 32 * KIB), 0);
        assert_int_equal(write_tagged(&r, 2, UMC_BIO_PREFLUSH, 32 * KIB, 32 * KIB), 0);
        assert_int_equal(simdisk_unflushed_writes(r.m), 1);
        simdisk_crash(r.m, NULL);
        int64_t one = 1, maybe[] = {0, 2};
        check_tags(r.m, 0, 32 * KIB, &one, 1);
        check_tags(r.m, 32 * KIB, 32 * KIB, maybe, 2);
        rig_free(&r);
    }
}

/* Without a write cache a completed write is durable; one in flight is not. */
static void write_through_is_durable_at_completion(void **state)
{
    struct simdisk_params p;
    simdisk_default_params(&p);
    p.write_cache = false;
    unsigned inflight_lost = 0;
    for (uint64_t seed = 1; seed <= 30; seed++) {
        struct rig r = {0};
        rig_simdisk(&r, seed, 1 * MIB, 512, &p);
        assert_false(r.b->flags & UMC_BDEV_VOLATILE_CACHE);
        assert_int_equal(write_tagged(&r, 1, 0, 0, 32 * KIB), 0);
        assert_int_equal(simdisk_unflushed_writes(r.m), 0);
        unsigned char buf[512];
        fill(buf, sizeof(buf), 2, 32 * KIB);
        struct io io;
        io_start(&io, &r, UMC_OP_WRITE, 0, 32 * KIB, buf, sizeof(buf));
        assert_int_equal(simdisk_unflushed_writes(r.m), 1);
        simdisk_crash(r.m, NULL);
        int64_t one = 1, maybe[] = {0, 2};
        check_tags(r.m, 0, 32 * KIB, &one, 1);
        inflight_lost += !!(check_tags(r.m, 32 * KIB, 512, maybe, 2) & 1u);
        io_wait(&r, &io);
        rig_free(&r);
    }
    assert_true(inflight_lost > 0);
}

static void cache_writes_back_when_full(void **state)
{
    struct simdisk_params p;
    simdisk_default_params(&p);
    p.cache_size = 64 * KIB;
    struct rig r = {0};
    rig_simdisk(&r, 1, 1 * MIB, 4096, &p);
    for (uint32_t i = 0; i < 16; i++)
        assert_int_equal(write_tagged(&r, 1 + i, 0, i * 8 * KIB, 8 * KIB), 0);
    assert_int_equal(simdisk_unflushed_writes(r.m), 8);
    simdisk_crash(r.m, NULL);
    for (uint32_t i = 0; i < 8; i++) { /* the oldest half was written back */
        int64_t tag = 1 + i;
        check_tags(r.m, i * 8 * KIB, 8 * KIB, &tag, 1);
    }
    rig_free(&r);
}

static void same_seed_same_crash(void **state)
{
    struct simdisk_crash_stats st[2];
    unsigned char *img[2];
    for (int run = 0; run < 2; run++) {
        struct rig r = {0};
        rig_simdisk(&r, 77, 1 * MIB, 512, NULL);
        for (uint32_t i = 0; i < 10; i++)
            assert_int_equal(write_tagged(&r, 1 + i, 0, i * 3 * KIB, 16 * KIB), 0);
        simdisk_crash(r.m, &st[run]);
        img[run] = xmalloc(64 * KIB);
        simdisk_read(r.m, 0, img[run], 64 * KIB);
        rig_free(&r);
    }
    assert_memory_equal(&st[0], &st[1], sizeof(st[0]));
    assert_int_equal(st[0].dropped + st[0].kept + st[0].torn, 10);
    assert_memory_equal(img[0], img[1], 64 * KIB);
    free(img[0]);
    free(img[1]);
}

/* ---- discard, errors, stalls, latency --------------------------------------------- */

static void discard_reads_zeros(struct rig *r, enum umc_bio_op op, uint32_t bs)
{
    unsigned char *buf = xmalloc(64 * KIB), *out = xmalloc(64 * KIB);
    fill(buf, 64 * KIB, 5, 0);
    assert_int_equal(do_io(r, UMC_OP_WRITE, 0, 0, buf, 64 * KIB), 0);
    /* one block inside a page, then whole pages plus a partial one */
    assert_int_equal(do_io(r, op, 0, bs, NULL, bs), 0);
    assert_int_equal(do_io(r, op, 0, 8 * KIB, NULL, 24 * KIB + bs), 0);
    assert_int_equal(do_io(r, UMC_OP_READ, 0, 0, out, 64 * KIB), 0);
    memset(buf + bs, 0, bs);
    memset(buf + 8 * KIB, 0, 24 * KIB + bs);
    assert_memory_equal(buf, out, 64 * KIB);
    free(buf);
    free(out);
}

static void discard_reads_back_zeros(void **state)
{
    enum umc_bio_op ops[] = {UMC_OP_DISCARD, UMC_OP_WRITE_ZEROES};
    uint32_t sizes[] = {512, 4096};
    for (int o = 0; o < 2; o++) {
        for (int s = 0; s < 2; s++) {
            struct rig r = {0};
            rig_ram(&r, 1 * MIB, sizes[s]);
            assert_true(r.b->flags & UMC_BDEV_WRITE_ZEROES);
            discard_reads_zeros(&r, ops[o], sizes[s]);
            rig_free(&r);
            r = (struct rig){0};
            rig_simdisk(&r, 2, 1 * MIB, sizes[s], NULL);
            discard_reads_zeros(&r, ops[o], sizes[s]);
            rig_free(&r);
        }
    }
}

/* A dropped discard brings the old data back; a flushed one stays. */
static void discard_is_cached_like_a_write(void **state)
{
    unsigned came_back = 0;
    for (uint64_t seed = 1; seed <= 30; seed++) {
        struct rig r = {0};
        rig_simdisk(&r, seed, 1 * MIB, 4096, NULL);
        poke_tagged(r.m, 1, 0, 64 * KIB);
        /* FUA on a discard is unmap then flush: it flushes what came before too */
        assert_int_equal(do_io(&r, UMC_OP_DISCARD, UMC_BIO_FUA, 32 * KIB, NULL, 32 * KIB), 0);
        assert_int_equal(do_io(&r, UMC_OP_DISCARD, 0, 0, NULL, 32 * KIB), 0);
        assert_int_equal(simdisk_unflushed_writes(r.m), 1);
        simdisk_crash(r.m, NULL);
        int64_t maybe[] = {0, 1}, zero = 0;
        came_back += !!(check_tags(r.m, 0, 32 * KIB, maybe, 2) & 2u);
        check_tags(r.m, 32 * KIB, 32 * KIB, &zero, 1);
        rig_free(&r);
    }
    assert_true(came_back > 0);
}

static void injected_errors_leave_data_unchanged(void **state)
{
    struct rig r = {0};
    rig_simdisk(&r, 4, 1 * MIB, 4096, NULL);
    assert_int_equal(write_tagged(&r, 1, 0, 0, 64 * KIB), 0);
    simdisk_fail_range(r.m, 16 * KIB, 4 * KIB, 2);
    assert_int_equal(write_tagged(&r, 2, 0, 12 * KIB, 8 * KIB), -EIO);
    assert_int_equal(write_tagged(&r, 2, UMC_BIO_FUA, 16 * KIB, 4 * KIB), -EIO);
    assert_int_equal(do_io(&r, UMC_OP_DISCARD, 0, 16 * KIB, NULL, 4 * KIB), -EIO);
    assert_int_equal(write_tagged(&r, 3, 0, 32 * KIB, 4 * KIB), 0); /* outside the range */
    unsigned char buf[4096];
    assert_int_equal(do_io(&r, UMC_OP_READ, 0, 16 * KIB, buf, sizeof(buf)), 0); /* write-only fault */
    int64_t one = 1, three = 3;
    check_tags(r.m, 0, 32 * KIB, &one, 1);
    check_tags(r.m, 32 * KIB, 4 * KIB, &three, 1);
    simdisk_fail_range(r.m, 0, 4 * KIB, 1);
    assert_int_equal(do_io(&r, UMC_OP_READ, 0, 0, buf, sizeof(buf)), -EIO);
    assert_int_equal(do_flush(&r), 0);
    simdisk_clear_faults(r.m);
    assert_int_equal(do_io(&r, UMC_OP_READ, 0, 0, buf, sizeof(buf)), 0);
    assert_int_equal(write_tagged(&r, 2, 0, 16 * KIB, 4 * KIB), 0);
    /* error rates */
    struct simdisk_params p;
    simdisk_default_params(&p);
    p.write_error_rate = 1.0;
    simdisk_set_params(r.m, &p);
    assert_int_equal(write_tagged(&r, 4, 0, 0, 4 * KIB), -EIO);
    check_tags(r.m, 0, 4 * KIB, &one, 1);
    p.write_error_rate = 0;
    p.read_error_rate = 1.0;
    simdisk_set_params(r.m, &p);
    assert_int_equal(do_io(&r, UMC_OP_READ, 0, 0, buf, sizeof(buf)), -EIO);
    rig_free(&r);
}

static void stall_delays_completion(void **state)
{
    struct simdisk_params p;
    simdisk_default_params(&p);
    p.jitter = 0;
    struct rig r = {0};
    rig_simdisk(&r, 4, 1 * MIB, 4096, &p);
    unsigned char buf[4096] = {0};
    mte_time_t t0 = mte_now(r.e), until = t0 + 50 * MTE_MSEC;
    simdisk_stall_until(r.m, until);
    struct io w, rd, f;
    io_start(&w, &r, UMC_OP_WRITE, 0, 0, buf, sizeof(buf));
    io_start(&rd, &r, UMC_OP_READ, 0, 8 * KIB, buf, sizeof(buf));
    io_start(&f, &r, UMC_OP_FLUSH, 0, 0, NULL, 0);
    mte_run_until(r.e, until - 1);
    assert_false(w.done || rd.done || f.done);
    mte_run_until_idle(r.e);
    assert_int_equal(w.done_at, until);
    assert_int_equal(rd.done_at, until);
    assert_int_equal(f.done_at, until);
    /* after the stall, the plain latency again */
    io_start(&w, &r, UMC_OP_WRITE, 0, 0, buf, sizeof(buf));
    io_wait(&r, &w);
    assert_int_equal(w.done_at, until + p.write_latency);
    rig_free(&r);
}

static void latency_respected(void **state)
{
    struct simdisk_params p;
    simdisk_default_params(&p);
    p.read_latency = 1 * MTE_MSEC;
    p.write_latency = 2 * MTE_MSEC;
    p.flush_latency = 3 * MTE_MSEC;
    p.jitter = 0;
    struct rig r = {0};
    rig_simdisk(&r, 4, 1 * MIB, 4096, &p);
    unsigned char buf[4096] = {0};
    struct io io;
    mte_time_t t0 = mte_now(r.e);
    io_start(&io, &r, UMC_OP_READ, 0, 0, buf, sizeof(buf));
    io_wait(&r, &io);
    assert_int_equal(io.done_at - t0, p.read_latency);
    t0 = mte_now(r.e);
    io_start(&io, &r, UMC_OP_WRITE, 0, 0, buf, sizeof(buf));
    io_wait(&r, &io);
    assert_int_equal(io.done_at - t0, p.write_latency);
    t0 = mte_now(r.e);
    io_start(&io, &r, UMC_OP_FLUSH, 0, 0, NULL, 0);
    io_wait(&r, &io);
    assert_int_equal(io.done_at - t0, p.flush_latency);
    /* PREFLUSH + FUA write: flush, then a durable write */
    t0 = mte_now(r.e);
    io_start(&io, &r, UMC_OP_WRITE, UMC_BIO_PREFLUSH | UMC_BIO_FUA, 0, buf, sizeof(buf));
    io_wait(&r, &io);
    assert_int_equal(io.done_at - t0, p.flush_latency + p.write_latency);
    /* with jitter: within [latency, latency + jitter], and not always the same */
    p.jitter = 500 * MTE_USEC;
    simdisk_set_params(r.m, &p);
    mte_time_t first = 0;
    bool varied = false;
    for (int i = 0; i < 20; i++) {
        t0 = mte_now(r.e);
        io_start(&io, &r, UMC_OP_READ, 0, 0, buf, sizeof(buf));
        io_wait(&r, &io);
        mte_time_t d = io.done_at - t0;
        assert_true(d >= p.read_latency && d <= p.read_latency + p.jitter);
        if (i == 0)
            first = d;
        varied |= d != first;
    }
    assert_true(varied);
    rig_free(&r);
}

/* ---- file-backed ram ------------------------------------------------------------- */

static void file_backed_ram_persists(void **state)
{
    char path[64], cfgstring[80];
    snprintf(path, sizeof(path), "/tmp/test_bdev_%d.img", (int)getpid());
    snprintf(cfgstring, sizeof(cfgstring), "ram/%s", path);
    unlink(path);
    unsigned char in[8192], out[8192];
    fill(in, sizeof(in), 3, 4096);
    for (int round = 0; round < 2; round++) {
        struct rig r = {0};
        rig_node(&r, 1);
        r.dev = add_dev(&r, cfgstring, 256 * KIB, 4096, NULL);
        r.b = tcmu_dev_bdev(r.dev);
        assert_true(r.b->flags & UMC_BDEV_VOLATILE_CACHE);
        if (round == 0) {
            assert_int_equal(do_io(&r, UMC_OP_WRITE, UMC_BIO_FUA, 4096, in, sizeof(in)), 0);
            assert_int_equal(do_flush(&r), 0);
        } else { /* a second device on the same file sees the bytes */
            assert_int_equal(do_io(&r, UMC_OP_READ, 0, 4096, out, sizeof(out)), 0);
            assert_memory_equal(in, out, sizeof(out));
        }
        rig_free(&r);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        assert_int_equal(fseek(f, 0, SEEK_END), 0);
        assert_int_equal(ftell(f), (long)(256 * KIB));
        assert_int_equal(fseek(f, 4096, SEEK_SET), 0);
        assert_int_equal(fread(out, 1, sizeof(out), f), sizeof(out));
        fclose(f);
        assert_memory_equal(in, out, sizeof(out));
    }
    unlink(path);
}

/* ---- node crash and reopen ------------------------------------------------------- */

static void node_crash_then_reopen_sees_durable_data(void **state)
{
    unsigned lost = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        struct rig r = {0};
        rig_simdisk(&r, seed, 1 * MIB, 512, NULL);
        assert_int_equal(write_tagged(&r, 1, 0, 0, 64 * KIB), 0);
        assert_int_equal(do_flush(&r), 0);
        struct batch bt = {0};
        batch_write(&r, &bt, 2, 0, 32 * KIB, 64 * KIB); /* in flight at the crash */
        batch_flush(&r, &bt);
        batch_write(&r, &bt, 3, UMC_BIO_FUA, 128 * KIB, 4 * KIB);
        umc_node_crash(r.n);
        r.n = NULL;
        mte_run_until_idle(r.e); /* nothing of the dead node runs */
        for (unsigned i = 0; i < bt.count; i++) {
            assert_false(bt.io[i].done);
            free(bt.buf[i]);
        }
        simdisk_crash(r.m, NULL);
        assert_int_equal(simdisk_unflushed_writes(r.m), 0);
        unsigned char *expect = xmalloc(256 * KIB), *got = xmalloc(256 * KIB);
        simdisk_read(r.m, 0, expect, 256 * KIB);
        int64_t one = 1, a[] = {1, 2}, b[] = {0, 2}, c[] = {0, 3};
        check_tags(r.m, 0, 32 * KIB, &one, 1);
        lost += !!(check_tags(r.m, 32 * KIB, 32 * KIB, a, 2) & 2u);
        check_tags(r.m, 64 * KIB, 32 * KIB, b, 2);
        check_tags(r.m, 128 * KIB, 4 * KIB, c, 2);
        /* a new node on the same media reads exactly that */
        rig_node(&r, seed + 1000);
        r.dev = add_dev(&r, "simdisk/", 1 * MIB, 512, r.m);
        r.b = tcmu_dev_bdev(r.dev);
        assert_int_equal(do_io(&r, UMC_OP_READ, 0, 0, got, 256 * KIB), 0);
        assert_memory_equal(expect, got, 256 * KIB);
        free(expect);
        free(got);
        rig_free(&r);
    }
    assert_true(lost > 0);
}

/* ---- media helpers ------------------------------------------------------------------ */

static void compare_and_poke(void **state)
{
    struct simdisk_media *a = simdisk_media_new("a", 1024 * MIB, 1);
    struct simdisk_media *b = simdisk_media_new("b", 1024 * MIB, 2);
    assert_string_equal(simdisk_media_name(a), "a");
    assert_int_equal(simdisk_media_size(a), 1024 * MIB);
    assert_int_equal(simdisk_compare(a, b, 0, 1024 * MIB), UINT64_MAX);
    unsigned char x[3] = {1, 2, 3}, y[3] = {1, 9, 3}, z[3] = {0};
    simdisk_poke(a, 700 * MIB + 5, x, 3);
    assert_int_equal(simdisk_compare(a, b, 0, 1024 * MIB), 700 * MIB + 5);
    simdisk_poke(b, 700 * MIB + 5, y, 3);
    assert_int_equal(simdisk_compare(a, b, 0, 1024 * MIB), 700 * MIB + 6);
    assert_int_equal(simdisk_compare(a, b, 700 * MIB + 7, 100), UINT64_MAX);
    simdisk_poke(b, 700 * MIB + 5, x, 3);
    assert_int_equal(simdisk_compare(a, b, 0, 1024 * MIB), UINT64_MAX);
    simdisk_poke(a, 700 * MIB + 5, z, 3); /* zeros written equal zeros never written */
    simdisk_poke(b, 700 * MIB + 5, z, 3);
    assert_int_equal(simdisk_compare(a, b, 0, 1024 * MIB), UINT64_MAX);
    unsigned char back[3];
    simdisk_read(a, 700 * MIB + 5, back, 3);
    assert_memory_equal(back, z, 3);
    assert_int_equal(simdisk_unflushed_writes(a), 0);
    simdisk_media_free(a);
    simdisk_media_free(b);
}

/* A poke is durable: it settles cached writes beneath it. */
static void poke_over_cached_write_survives(void **state)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        struct rig r = {0};
        rig_simdisk(&r, seed, 1 * MIB, 512, NULL);
        assert_int_equal(write_tagged(&r, 2, 0, 0, 16 * KIB), 0);
        poke_tagged(r.m, 3, 4 * KIB, 4 * KIB);
        simdisk_crash(r.m, NULL);
        int64_t three = 3, maybe[] = {0, 2};
        check_tags(r.m, 4 * KIB, 4 * KIB, &three, 1);
        check_tags(r.m, 0, 4 * KIB, maybe, 2);
        check_tags(r.m, 8 * KIB, 8 * KIB, maybe, 2);
        rig_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ram_read_after_write),
        cmocka_unit_test(simdisk_read_after_write),
        cmocka_unit_test(ram_large_device_is_lazy),
        cmocka_unit_test(names_in_order_and_found),
        cmocka_unit_test(bad_configs_refused),
        cmocka_unit_test(out_of_range_and_misaligned_bios_fail),
        cmocka_unit_test(read_only_refuses_writes),
        cmocka_unit_test(exclusive_open),
        cmocka_unit_test(remove_refused_while_open_or_busy),
        cmocka_unit_test(host_free_removes_everything),
        cmocka_unit_test(glue_call_sequences),
        cmocka_unit_test(flushed_data_survives_crash),
        cmocka_unit_test(fua_write_survives_crash),
        cmocka_unit_test(unflushed_write_may_be_lost),
        cmocka_unit_test(tears_only_at_sector_boundaries),
        cmocka_unit_test(overlapping_writes_end_consistent),
        cmocka_unit_test(crash_is_a_keep_or_drop_choice),
        cmocka_unit_test(durable_write_settles_older_overlaps),
        cmocka_unit_test(flush_covers_only_writes_submitted_before_it),
        cmocka_unit_test(preflush_makes_earlier_writes_durable),
        cmocka_unit_test(write_through_is_durable_at_completion),
        cmocka_unit_test(cache_writes_back_when_full),
        cmocka_unit_test(same_seed_same_crash),
        cmocka_unit_test(discard_reads_back_zeros),
        cmocka_unit_test(discard_is_cached_like_a_write),
        cmocka_unit_test(injected_errors_leave_data_unchanged),
        cmocka_unit_test(stall_delays_completion),
        cmocka_unit_test(latency_respected),
        cmocka_unit_test(file_backed_ram_persists),
        cmocka_unit_test(node_crash_then_reopen_sees_durable_data),
        cmocka_unit_test(compare_and_poke),
        cmocka_unit_test(poke_over_cached_write_survives),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
