/* drbd over real TCP (loopback) on the real clock: two processes, each one
 * node, ram backing devices.  A full initial resync and protocol C writes.
 * DRBD_BENCH_MIB sets the device size (default 64); with 1024 it is the
 * "1 GiB at >= 1 GB/s" measurement, printed with the write throughput. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "drbd/drbd.h"
#include "tcmu_ram/tcmu_ram.h"

#define MIB (1024ull * 1024)

struct proc {
    struct mte_engine *e;
    struct umc_node *n;
    struct tcmu_host *h;
    struct drbd *d;
    uint64_t size;
};

struct answer {
    bool done;
    int rc;
};

static void answered(void *arg, int rc, const char *msg)
{
    struct answer *a = arg;
    a->done = true;
    a->rc = rc;
    if (rc)
        fprintf(stderr, "drbd: %s\n", msg);
}

static int run_cmd(struct proc *p, const char *verb, bool force)
{
    struct drbd_cmd c = {.verb = verb, .resource = "r0", .volume = -1, .force = force};
    struct answer a = {0};
    drbd_command(p->d, &c, answered, &a);
    uint64_t deadline = mte_now(p->e) + 30 * MTE_SEC;
    while (!a.done && mte_now(p->e) < deadline)
        mte_run_until(p->e, mte_now(p->e) + MTE_MSEC);
    return a.done ? a.rc : -ETIMEDOUT;
}

static void fill_done(struct umc_bio *bio) { *(bool *)bio->priv = true; }

/* Write the whole ram device once, as a real disk would be: the measurement is
 * then about replication, not first-touch page faults of anonymous memory. */
static void prefault(struct proc *p, uint64_t size)
{
    struct umc_bdev *b = umc_bdev_find(p->n, "tcmu000");
    static unsigned char chunk[4 << 20];
    memset(chunk, 0x5a, sizeof(chunk));
    for (uint64_t off = 0; off < size; off += sizeof(chunk)) {
        struct iovec iov = {.iov_base = chunk, .iov_len = sizeof(chunk)};
        bool done = false;
        struct umc_bio bio = {.op = UMC_OP_WRITE, .offset = off, .length = sizeof(chunk), .iov = &iov,
                              .iovcnt = 1, .done = fill_done, .priv = &done};
        umc_bio_submit(b, &bio);
        while (!done)
            mte_run_until(p->e, mte_now(p->e) + MTE_USEC);
    }
}

static void proc_start(struct proc *p, const char *me, const char *res, uint64_t size)
{
    p->e = mte_engine_new(MTE_CLOCK_REAL, 1);
    struct umc_node_opts o = {.name = me, .seed = 1, .net = umc_tcp_backend(),
                              .print_level = UMC_LOG_ERROR};
    p->n = umc_node_new(p->e, &o);
    p->h = tcmu_host_new(p->n);
    struct tcmu_dev_config cfg = {.cfgstring = "ram/", .size = size, .block_size = 4096};
    int err = 0;
    assert_non_null(tcmu_dev_add(p->h, &cfg, &err));
    prefault(p, size);
    p->d = drbd_new(p->n, me);
    char msg[256];
    assert_int_equal(drbd_add_config(p->d, res, "r0.res", msg, sizeof(msg)), 0);
    p->size = size;
}

static void proc_stop(struct proc *p)
{
    run_cmd(p, "down", false);
    drbd_free(p->d);
    tcmu_host_free(p->h);
    assert_int_equal(umc_node_free(p->n), 0);
    mte_engine_free(p->e);
}

static bool in_sync(struct proc *p)
{
    struct drbd_volume_info vi;
    if (drbd_volume_info(p->d, "r0", 0, &vi))
        return false;
    return vi.disk == DRBD_D_UP_TO_DATE && vi.npeers == 1 && vi.peers[0].repl == DRBD_R_ESTABLISHED &&
           vi.peers[0].disk == DRBD_D_UP_TO_DATE && !vi.peers[0].out_of_sync;
}

static void wait_sync(struct proc *p, uint64_t timeout)
{
    uint64_t deadline = mte_now(p->e) + timeout;
    while (!in_sync(p) && mte_now(p->e) < deadline)
        mte_run_until(p->e, mte_now(p->e) + MTE_MSEC);
    assert_true(in_sync(p));
}

static void make_res(char *res, size_t len, int port)
{
    snprintf(res, len,
             "resource r0 {\n"
             "  net { protocol C; }\n"
             "  disk { c-plan-ahead 0; resync-rate 0; c-min-rate 0; disk-flushes no; md-flushes no; }\n"
             "  on alice { node-id 0; address 127.0.0.1:%d;\n"
             "    volume 0 { device drbd1 minor 1; disk tcmu000; meta-disk internal; } }\n"
             "  on bob { node-id 1; address 127.0.0.1:%d;\n"
             "    volume 0 { device drbd1 minor 1; disk tcmu000; meta-disk internal; } }\n"
             "}\n",
             port, port + 1);
}

/* bob: a secondary that stays until alice is done (it sees the connection go). */
static void run_bob(const char *res, uint64_t size)
{
    struct proc p;
    proc_start(&p, "bob", res, size);
    if (run_cmd(&p, "create-md", false) || run_cmd(&p, "up", false))
        _exit(2);
    uint64_t deadline = mte_now(p.e) + 600 * MTE_SEC;
    bool was_synced = false;
    while (mte_now(p.e) < deadline) {
        mte_run_until(p.e, mte_now(p.e) + 10 * MTE_MSEC);
        struct drbd_volume_info vi;
        drbd_volume_info(p.d, "r0", 0, &vi);
        was_synced |= vi.disk == DRBD_D_UP_TO_DATE;
        if (was_synced && vi.peers[0].conn != DRBD_C_CONNECTED)
            break;
    }
    proc_stop(&p);
    _exit(was_synced ? 0 : 3);
}

static double now_s(void) { return (double)mte_wall_ns() / 1e9; }

static void bio_done(struct umc_bio *bio) { *(bool *)bio->priv = false; }

static void full_resync_and_writes_over_tcp(void **state)
{
    const char *env = getenv("DRBD_BENCH_MIB");
    uint64_t size = (env ? strtoull(env, NULL, 10) : 64) * MIB;
    int port = 20000 + (int)(getpid() % 20000);
    char res[1024];
    make_res(res, sizeof(res), port);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0)
        run_bob(res, size);
    struct proc p;
    proc_start(&p, "alice", res, size);
    assert_int_equal(run_cmd(&p, "create-md", false), 0);
    assert_int_equal(run_cmd(&p, "up", false), 0);
    /* wait for bob, then the initial full sync */
    uint64_t deadline = mte_now(p.e) + 20 * MTE_SEC;
    struct drbd_volume_info vi;
    do {
        mte_run_until(p.e, mte_now(p.e) + MTE_MSEC);
        drbd_volume_info(p.d, "r0", 0, &vi);
    } while (vi.peers[0].repl != DRBD_R_ESTABLISHED && mte_now(p.e) < deadline);
    assert_int_equal(vi.peers[0].repl, DRBD_R_ESTABLISHED);
    double t0 = now_s();
    assert_int_equal(run_cmd(&p, "primary", true), 0);
    wait_sync(&p, 300 * MTE_SEC);
    double t_sync = now_s() - t0;
    drbd_volume_info(p.d, "r0", 0, &vi);
    double rate = (double)vi.size / t_sync / 1e9;
    /* protocol C, 1 MiB sequential writes, 8 in flight */
    struct umc_bdev *b = umc_bdev_find(p.n, "drbd1");
    assert_int_equal(umc_bdev_open(b, UMC_OPEN_WRITE), 0);
    enum { QD = 8 };
    static unsigned char bufs[QD][1 << 20];
    struct umc_bio bios[QD];
    memset(bios, 0, sizeof(bios));
    struct iovec iovs[QD];
    bool busy[QD] = {false};
    int errors = 0;
    uint64_t next = 0, total = vi.size / MIB * MIB, done_bytes = 0;
    double t1 = now_s();
    while (done_bytes < total) {
        for (int q = 0; q < QD && next < total; q++) {
            if (busy[q] || bios[q].length)
                continue;
            memset(bufs[q], (int)(next >> 20), 64);
            iovs[q] = (struct iovec){.iov_base = bufs[q], .iov_len = 1 << 20};
            bios[q] = (struct umc_bio){.op = UMC_OP_WRITE, .offset = next, .length = 1 << 20,
                                       .iov = &iovs[q], .iovcnt = 1, .done = bio_done,
                                       .priv = &busy[q]};
            busy[q] = true;
            next += 1 << 20;
            umc_bio_submit(b, &bios[q]);
        }
        mte_run_until(p.e, mte_now(p.e) + 10 * MTE_USEC);
        for (int q = 0; q < QD; q++)
            if (!busy[q] && bios[q].length) {
                errors += bios[q].status != 0;
                done_bytes += bios[q].length;
                bios[q].length = 0;
            }
    }
    double t_write = now_s() - t1;
    umc_bdev_close(b, UMC_OPEN_WRITE);
    assert_int_equal(errors, 0);
    fprintf(stderr, "tcp: %llu MiB full resync in %.3f s = %.2f GB/s; protocol C 1 MiB writes "
            "(QD %d) %.2f GB/s\n", (unsigned long long)(vi.size / MIB), t_sync, rate, QD,
            (double)total / t_write / 1e9);
    proc_stop(&p);
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_resync_and_writes_over_tcp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
