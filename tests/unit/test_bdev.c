/* tcmu_ram: the host and bio glue, the ram handler, discard, injected errors,
 * stalls and latency.  The simulated disk's durability model is in
 * test_simdisk.c. */
#include "test_bdev_rig.h"

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

/* Teardown with a device still open and a bio in flight leaks nothing; the
 * bio fails with ENODEV, as on a yanked disk, so its submitter can let go. */
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
    assert_true(io.done);
    assert_int_equal(io.bio.status, -ENODEV);
    mte_run_until_idle(r.e);
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
        cmocka_unit_test(discard_reads_back_zeros),
        cmocka_unit_test(discard_is_cached_like_a_write),
        cmocka_unit_test(injected_errors_leave_data_unchanged),
        cmocka_unit_test(stall_delays_completion),
        cmocka_unit_test(latency_respected),
        cmocka_unit_test(file_backed_ram_persists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
