/* Shared by the drbd test binaries: a small cluster on one virtual-clock
 * engine: faultnet hosts, nodes with simdisk backing devices (media owned here,
 * so they survive crashes), drbd configured from .res text, and helpers to run
 * commands, do I/O and wait for states. */
#ifndef TEST_DRBD_HARNESS_H
#define TEST_DRBD_HARNESS_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "drbd/drbd.h"
#include "faultnet/faultnet.h"
#include "tcmu_ram/tcmu_ram.h"

#define MIB (1024ull * 1024)
#define KIB 1024ull
#define MAX_NODES 4
#define MAX_VOLS 2

static const char *const host_names[MAX_NODES] = {"alice", "bob", "carol", "dave"};
static const char *const host_ips[MAX_NODES] = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"};

struct hnode {
    struct umc_node *n;
    struct tcmu_host *h;
    struct drbd *d;
    bool alive;
    int restarts;
};

struct world {
    struct mte_engine *e;
    struct faultnet *fn;
    struct hnode nodes[MAX_NODES];
    struct simdisk_media *media[MAX_NODES][MAX_VOLS];
    int nn, nvols;
    uint64_t media_size;
    char res[4096];
    uint64_t seed;
    enum umc_log_level print;
    char *trace;                       /* every trace line, when captured */
    size_t trace_len, trace_cap;
};

static inline void trace_sink(void *arg, mte_time_t t, const char *line)
{
    struct world *w = arg;
    size_t n = strlen(line);
    if (w->trace_len + n + 2 > w->trace_cap) {
        w->trace_cap = (w->trace_cap + n + 2) * 2;
        w->trace = realloc(w->trace, w->trace_cap);
    }
    memcpy(w->trace + w->trace_len, line, n);
    w->trace[w->trace_len + n] = '\n';
    w->trace_len += n + 1;
    w->trace[w->trace_len] = 0;
}

static inline void capture_trace(struct world *w) { mte_set_trace_sink(w->e, trace_sink, w); }

/* How many captured lines contain s. */
static inline int traced(const struct world *w, const char *s)
{
    int n = 0;
    for (const char *p = w->trace; p && (p = strstr(p, s)); p += strlen(s))
        n++;
    return n;
}

/* ---- the .res text ------------------------------------------------------------------------ */

/* extra: lines placed inside the resource (net/disk/options sections). */
static inline void make_res(struct world *w, const char *extra, bool mesh)
{
    char *p = w->res;
    size_t left = sizeof(w->res);
    int k = snprintf(p, left, "resource r0 {\n%s\n", extra ? extra : "");
    p += k;
    left -= (size_t)k;
    for (int i = 0; i < w->nn; i++) {
        k = snprintf(p, left, "  on %s {\n    node-id %d;\n    address %s:7788;\n", host_names[i], i,
                     host_ips[i]);
        p += k;
        left -= (size_t)k;
        for (int v = 0; v < w->nvols; v++) {
            k = snprintf(p, left, "    volume %d { device drbd%d minor %d; disk \"/UMCfuse/dev/tcmu%03d\"; "
                         "meta-disk internal; }\n", v, v + 1, v + 1, v);
            p += k;
            left -= (size_t)k;
        }
        k = snprintf(p, left, "  }\n");
        p += k;
        left -= (size_t)k;
    }
    if (mesh) {
        k = snprintf(p, left, "  connection-mesh { hosts");
        p += k;
        left -= (size_t)k;
        for (int i = 0; i < w->nn; i++) {
            k = snprintf(p, left, " %s", host_names[i]);
            p += k;
            left -= (size_t)k;
        }
        k = snprintf(p, left, "; }\n");
        p += k;
        left -= (size_t)k;
    }
    snprintf(p, left, "}\n");
}

/* ---- nodes ---------------------------------------------------------------------------------- */

static inline void node_boot(struct world *w, int i)
{
    struct hnode *h = &w->nodes[i];
    struct umc_node_opts o = {.name = host_names[i], .seed = w->seed * 31 + (uint64_t)i * 7 + (uint64_t)h->restarts,
                              .net = faultnet_backend(), .net_ctx = faultnet_host_ctx(w->fn, host_names[i]),
                              .print_level = w->print};
    h->n = umc_node_new(w->e, &o);
    h->h = tcmu_host_new(h->n);
    for (int v = 0; v < w->nvols; v++) {
        struct tcmu_dev_config cfg = {.cfgstring = "simdisk/", .block_size = 4096,
                                      .handler_arg = w->media[i][v]};
        int err = 0;
        assert_non_null(tcmu_dev_add(h->h, &cfg, &err));
    }
    h->d = drbd_new(h->n, host_names[i]);
    char err[256];
    int rc = drbd_add_config(h->d, w->res, "r0.res", err, sizeof(err));
    if (rc)
        fprintf(stderr, "config: %s\n", err);
    assert_int_equal(rc, 0);
    h->alive = true;
}

static inline void world_init(struct world *w, uint64_t seed, int nn, int nvols, uint64_t media_size,
                       const char *extra, bool mesh)
{
    memset(w, 0, sizeof(*w));
    w->seed = seed;
    w->nn = nn;
    w->nvols = nvols;
    w->media_size = media_size;
    w->print = getenv("DRBD_TEST_VERBOSE") ? UMC_LOG_INFO : UMC_LOG_ERROR;
    w->e = mte_engine_new(MTE_CLOCK_VIRTUAL, seed);
    w->fn = faultnet_new(w->e, seed, NULL);
    make_res(w, extra, mesh);
    for (int i = 0; i < nn; i++) {
        assert_int_equal(faultnet_add_host(w->fn, host_names[i], host_ips[i]), 0);
        for (int v = 0; v < nvols; v++) {
            char name[32];
            snprintf(name, sizeof(name), "%s-d%d", host_names[i], v);
            w->media[i][v] = simdisk_media_new(name, media_size, seed * 13 + (uint64_t)i * 101 + (uint64_t)v);
        }
        node_boot(w, i);
    }
}

/* ---- commands --------------------------------------------------------------------------------- */

struct cmd_result {
    bool done;
    int rc;
    char msg[256];
};

static inline void cmd_done(void *arg, int rc, const char *msg)
{
    struct cmd_result *res = arg;
    res->done = true;
    res->rc = rc;
    snprintf(res->msg, sizeof(res->msg), "%s", msg ? msg : "");
}

static inline mte_time_t now_of(struct world *w) { return mte_now(w->e); }

static inline void run_for(struct world *w, mte_time_t t) { mte_run_until(w->e, mte_now(w->e) + t); }

/* Run a verb on node i; returns rc (msg into out, if given). */
static inline int cmd_full(struct world *w, int i, const char *verb, const char *peer, int vol, bool force,
                    bool discard, char *out, size_t outlen)
{
    struct drbd_cmd c = {.verb = verb, .resource = "r0", .peer = peer, .volume = vol, .force = force,
                         .discard_my_data = discard};
    struct cmd_result res = {0};
    drbd_command(w->nodes[i].d, &c, cmd_done, &res);
    mte_time_t deadline = now_of(w) + 60 * MTE_SEC;
    while (!res.done && now_of(w) < deadline)
        run_for(w, 10 * MTE_MSEC);
    assert_true(res.done);
    if (out)
        snprintf(out, outlen, "%s", res.msg);
    return res.rc;
}

static inline int cmd(struct world *w, int i, const char *verb)
{
    return cmd_full(w, i, verb, NULL, -1, false, false, NULL, 0);
}

static inline void cmd_ok(struct world *w, int i, const char *verb)
{
    char msg[256];
    int rc = cmd_full(w, i, verb, NULL, -1, false, false, msg, sizeof(msg));
    if (rc)
        fprintf(stderr, "%s on %s: %d %s\n", verb, host_names[i], rc, msg);
    assert_int_equal(rc, 0);
}

/* ---- introspection ------------------------------------------------------------------------------ */

static inline struct drbd_volume_info vinfo(struct world *w, int i, int vol)
{
    struct drbd_volume_info info;
    memset(&info, 0, sizeof(info));
    drbd_volume_info(w->nodes[i].d, "r0", vol, &info);
    return info;
}

static inline const struct drbd_peer_info *pinfo(const struct drbd_volume_info *vi, const char *peer)
{
    for (int k = 0; k < vi->npeers; k++)
        if (strcmp(vi->peers[k].name, peer) == 0)
            return &vi->peers[k];
    return NULL;
}

/* Every alive node: every peer connected, Established, no bits out of sync. */
static inline bool all_in_sync(struct world *w, int vol)
{
    for (int i = 0; i < w->nn; i++) {
        if (!w->nodes[i].alive)
            continue;
        struct drbd_volume_info vi = vinfo(w, i, vol);
        if (vi.disk != DRBD_D_UP_TO_DATE)
            return false;
        for (int k = 0; k < vi.npeers; k++) {
            const struct drbd_peer_info *p = &vi.peers[k];
            int j = -1;
            for (int x = 0; x < w->nn; x++)
                if (strcmp(host_names[x], p->name) == 0)
                    j = x;
            if (j >= 0 && !w->nodes[j].alive)
                continue;
            if (p->conn != DRBD_C_CONNECTED || p->repl != DRBD_R_ESTABLISHED || p->out_of_sync ||
                p->disk != DRBD_D_UP_TO_DATE)
                return false;
        }
    }
    return true;
}

static inline bool wait_for(struct world *w, bool (*pred)(struct world *w, void *arg), void *arg,
                     mte_time_t timeout)
{
    mte_time_t deadline = now_of(w) + timeout;
    while (now_of(w) < deadline) {
        if (pred(w, arg))
            return true;
        run_for(w, 100 * MTE_MSEC);
    }
    return pred(w, arg);
}

static inline bool pred_in_sync(struct world *w, void *arg) { return all_in_sync(w, (int)(intptr_t)arg); }

static inline bool wait_in_sync(struct world *w, int vol, mte_time_t timeout)
{
    return wait_for(w, pred_in_sync, (void *)(intptr_t)vol, timeout);
}

static inline void dump_status(struct world *w)
{
    for (int i = 0; i < w->nn; i++) {
        if (!w->nodes[i].alive)
            continue;
        char *s = drbd_status(w->nodes[i].d, NULL, DRBD_STATUS_VERBOSE | DRBD_STATUS_STATISTICS);
        fprintf(stderr, "--- %s @%.3f\n%s", host_names[i], (double)now_of(w) / 1e9, s);
        umc_free(w->nodes[i].n, s);
    }
}

/* ---- data ------------------------------------------------------------------------------------------ */

/* A 4 KiB block that names itself: (tag, block). */
static inline void fill_block(unsigned char *b, uint32_t tag, uint64_t block)
{
    for (unsigned i = 0; i < 4096; i += 8) {
        uint64_t x = (uint64_t)tag * 0x9e3779b97f4a7c15ull ^ (block + i) * 0xbf58476d1ce4e5b9ull;
        memcpy(b + i, &x, 8);
    }
    memcpy(b, &tag, 4);
    memcpy(b + 4, &block, 8);
}

struct io {
    struct umc_bio bio;
    struct iovec iov;
    bool done;
    int status;
};

static inline void io_done(struct umc_bio *bio)
{
    struct io *io = bio->priv;
    io->done = true;
    io->status = bio->status;
}

static inline struct umc_bdev *dev_of(struct world *w, int i, int vol)
{
    char name[16];
    snprintf(name, sizeof(name), "drbd%d", vol + 1);
    return umc_bdev_find(w->nodes[i].n, name);
}

static inline void io_start(struct io *io, struct umc_bdev *b, enum umc_bio_op op, uint64_t off, void *buf,
                     uint64_t len, uint32_t flags)
{
    memset(io, 0, sizeof(*io));
    io->iov = (struct iovec){.iov_base = buf, .iov_len = (size_t)len};
    io->bio = (struct umc_bio){.op = op, .flags = flags, .offset = off, .length = len,
                               .iov = &io->iov, .iovcnt = buf ? 1 : 0, .done = io_done, .priv = io};
    umc_bio_submit(b, &io->bio);
}

static inline int io_wait(struct world *w, struct io *io, mte_time_t timeout)
{
    mte_time_t deadline = now_of(w) + timeout;
    while (!io->done && now_of(w) < deadline)
        run_for(w, MTE_MSEC);
    return io->done ? io->status : -ETIMEDOUT;
}

/* Write `count` tagged 4 KiB blocks starting at block `first`, each its own bio. */
static inline int write_blocks(struct world *w, int i, int vol, uint64_t first, uint64_t count, uint32_t tag)
{
    struct umc_bdev *b = dev_of(w, i, vol);
    unsigned char *buf = malloc(4096 * 16);
    int rc = 0;
    for (uint64_t k = 0; k < count && !rc; k += 16) {
        uint64_t n = count - k < 16 ? count - k : 16;
        for (uint64_t j = 0; j < n; j++)
            fill_block(buf + j * 4096, tag, first + k + j);
        struct io io;
        io_start(&io, b, UMC_OP_WRITE, (first + k) * 4096, buf, n * 4096, 0);
        rc = io_wait(w, &io, 120 * MTE_SEC);
    }
    free(buf);
    return rc;
}

static inline int open_dev(struct world *w, int i, int vol, bool write)
{
    return umc_bdev_open(dev_of(w, i, vol), write ? UMC_OPEN_WRITE : 0);
}

static inline void close_dev(struct world *w, int i, int vol, bool write)
{
    umc_bdev_close(dev_of(w, i, vol), write ? UMC_OPEN_WRITE : 0);
}

/* Data regions (the first `size` bytes) of every alive node's media agree. */
static inline uint64_t compare_media(struct world *w, int a, int b, int vol, uint64_t size)
{
    return simdisk_compare(w->media[a][vol], w->media[b][vol], 0, size);
}

/* ---- life and death ------------------------------------------------------------------------------- */

static inline void node_down_and_free(struct world *w, int i)
{
    struct hnode *h = &w->nodes[i];
    if (!h->alive)
        return;
    struct drbd_volume_info vi;
    if (drbd_volume_info(h->d, "r0", 0, &vi) == 0)
        cmd(w, i, "down");
    drbd_free(h->d);
    tcmu_host_free(h->h);
    size_t leaks = umc_node_free(h->n);
    assert_int_equal(leaks, 0);
    h->alive = false;
}

/* Power loss: unflushed writes dropped/kept/torn, the process gone. */
static inline void node_crash(struct world *w, int i, bool power_loss)
{
    struct hnode *h = &w->nodes[i];
    if (power_loss)
        faultnet_set_crash_mode(w->fn, host_names[i], FAULTNET_CRASH_SILENT);
    else
        faultnet_set_crash_mode(w->fn, host_names[i], FAULTNET_CRASH_RESET);
    umc_node_crash(h->n);
    if (power_loss)
        for (int v = 0; v < w->nvols; v++)
            simdisk_crash(w->media[i][v], NULL);
    h->alive = false;
}

static inline void node_restart(struct world *w, int i)
{
    w->nodes[i].restarts++;
    node_boot(w, i);
}

static inline void world_free(struct world *w)
{
    for (int i = 0; i < w->nn; i++)
        node_down_and_free(w, i);
    faultnet_free(w->fn);
    for (int i = 0; i < w->nn; i++)
        for (int v = 0; v < w->nvols; v++)
            simdisk_media_free(w->media[i][v]);
    mte_engine_free(w->e);
    free(w->trace);
}

/* create-md + up on every node, then primary --force on node 0 and a full sync. */
static inline void bring_up(struct world *w)
{
    for (int i = 0; i < w->nn; i++)
        cmd_ok(w, i, "create-md");
    for (int i = 0; i < w->nn; i++)
        cmd_ok(w, i, "up");
}

#endif
