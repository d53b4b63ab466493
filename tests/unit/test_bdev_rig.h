/* Shared by the tcmu_ram tests: a node with a host and one device, bios, and
 * data whose every sector names the write and the sector it came from. */
#ifndef TEST_BDEV_RIG_H
#define TEST_BDEV_RIG_H

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

static inline void rig_node(struct rig *r, uint64_t seed)
{
    if (!r->e)
        r->e = mte_engine_new(MTE_CLOCK_VIRTUAL, seed);
    struct umc_node_opts opts = {.name = "n1", .seed = seed, .print_level = UMC_LOG_ERROR};
    r->n = umc_node_new(r->e, &opts);
    r->h = tcmu_host_new(r->n);
}

static inline struct tcmu_device *add_dev(struct rig *r, const char *cfgstring, uint64_t size,
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

static inline void rig_ram(struct rig *r, uint64_t size, uint32_t block_size)
{
    rig_node(r, 1);
    r->dev = add_dev(r, "ram/", size, block_size, NULL);
    r->b = tcmu_dev_bdev(r->dev);
}

/* A simdisk with the given parameters (NULL: defaults). */
static inline void rig_simdisk(struct rig *r, uint64_t seed, uint64_t size, uint32_t block_size,
                        const struct simdisk_params *p)
{
    rig_node(r, seed);
    r->m = simdisk_media_new("d1", size, seed);
    if (p)
        simdisk_set_params(r->m, p);
    r->dev = add_dev(r, "simdisk/", size, block_size, r->m);
    r->b = tcmu_dev_bdev(r->dev);
}

static inline void rig_free(struct rig *r)
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

static inline void io_done(struct umc_bio *bio)
{
    struct io *io = bio->priv;
    assert_false(io->done);
    io->done = true;
    io->done_at = mte_now(io->e);
}

/* Submit without running the engine.  pieces > 1 splits buf into that many
 * uneven iovecs. */
static inline void io_start_split(struct io *io, struct rig *r, enum umc_bio_op op, uint32_t flags,
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

static inline void io_start(struct io *io, struct rig *r, enum umc_bio_op op, uint32_t flags, uint64_t off,
                     void *buf, uint64_t len)
{
    io_start_split(io, r, op, flags, off, buf, len, 1);
}

static inline int io_wait(struct rig *r, struct io *io)
{
    mte_run_until_idle(r->e);
    assert_true(io->done);
    return io->bio.status;
}

static inline int do_io(struct rig *r, enum umc_bio_op op, uint32_t flags, uint64_t off, void *buf,
                 uint64_t len)
{
    struct io io;
    io_start(&io, r, op, flags, off, buf, len);
    return io_wait(r, &io);
}

static inline int do_flush(struct rig *r) { return do_io(r, UMC_OP_FLUSH, 0, 0, NULL, 0); }

/* ---- data that names itself: every sector says which write and which sector -------- */

static inline void fill_sector(unsigned char *s, uint32_t tag, uint64_t sector)
{
    for (unsigned i = 0; i < SECTOR; i++)
        s[i] = (unsigned char)(tag * 131 + sector * 7 + i * 13 + (i >> 5));
    memcpy(s, &tag, sizeof(tag));
    memcpy(s + 4, &sector, sizeof(sector));
}

static inline void fill(unsigned char *buf, uint64_t len, uint32_t tag, uint64_t off)
{
    for (uint64_t i = 0; i < len / SECTOR; i++)
        fill_sector(buf + i * SECTOR, tag, off / SECTOR + i);
}

/* The tag of a sector whose every byte is intact, else -1.  Tag 0 is zeros. */
static inline int64_t sector_tag(const unsigned char *s, uint64_t sector)
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

static inline unsigned char *xmalloc(size_t len)
{
    unsigned char *p = malloc(len);
    assert_non_null(p);
    return p;
}

/* Tag of every sector of [off, off+len) as the media now holds it. */
static inline void media_tags(struct simdisk_media *m, uint64_t off, uint64_t len, int64_t *tags)
{
    unsigned char *buf = xmalloc((size_t)len);
    simdisk_read(m, off, buf, (size_t)len);
    for (uint64_t i = 0; i < len / SECTOR; i++) {
        tags[i] = sector_tag(buf + i * SECTOR, off / SECTOR + i);
        assert_true(tags[i] >= 0); /* no sector is a mix of two writes */
    }
    free(buf);
}

static inline void poke_tagged(struct simdisk_media *m, uint32_t tag, uint64_t off, uint64_t len)
{
    unsigned char *buf = xmalloc((size_t)len);
    fill(buf, len, tag, off);
    simdisk_poke(m, off, buf, (size_t)len);
    free(buf);
}

static inline int write_tagged(struct rig *r, uint32_t tag, uint32_t flags, uint64_t off, uint64_t len)
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

static inline void batch_write(struct rig *r, struct batch *bt, uint32_t tag, uint32_t flags, uint64_t off,
                        uint64_t len)
{
    unsigned i = bt->count++;
    bt->buf[i] = xmalloc((size_t)len);
    fill(bt->buf[i], len, tag, off);
    io_start(&bt->io[i], r, UMC_OP_WRITE, flags, off, bt->buf[i], len);
}

static inline void batch_flush(struct rig *r, struct batch *bt)
{
    unsigned i = bt->count++;
    bt->buf[i] = NULL;
    io_start(&bt->io[i], r, UMC_OP_FLUSH, 0, 0, NULL, 0);
}

static inline void batch_finish(struct rig *r, struct batch *bt)
{
    mte_run_until_idle(r->e);
    for (unsigned i = 0; i < bt->count; i++) {
        assert_true(bt->io[i].done);
        assert_int_equal(bt->io[i].bio.status, 0);
        free(bt->buf[i]);
    }
    bt->count = 0;
}

static inline bool tag_in(int64_t tag, const int64_t *allowed, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (allowed[i] == tag)
            return true;
    return false;
}

/* Every sector of [off, off+len) carries one of the allowed tags; returns a
 * bitmask of the tags seen. */
static inline unsigned check_tags(struct simdisk_media *m, uint64_t off, uint64_t len,
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


#endif
