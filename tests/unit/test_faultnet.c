/* faultnet: streams, timing, windows, close, faults, crashes, determinism. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "faultnet/faultnet.h"
#include "mte_sim/mte_sim.h"
#include "umc/umc.h"

#define MAX_PEERS 8
#define MAX_TIMES 4096
#define PORT ":7788"

enum { ALICE, BOB, CAROL, NHOSTS };
static const char *const host_names[NHOSTS] = {"alice", "bob", "carol"};
static const char *const host_ips[NHOSTS] = {"10.0.0.1", "10.0.0.2", "10.0.0.3"};

/* One end of a connection as the test sees it. */
struct peer {
    struct world *w;
    struct umc_conn *c;
    bool hold;                 /* do not read on on_readable */
    bool abort_on_read;        /* abort from inside on_readable */
    unsigned char *rx;
    size_t rx_len, rx_cap;
    mte_time_t rx_at[MAX_TIMES]; /* time of each on_readable that got bytes */
    size_t rx_events;
    bool connected;
    mte_time_t connect_at;
    int writables, closes, close_err;
    mte_time_t close_at;
};

struct world {
    struct mte_engine *e;
    struct faultnet *fn;
    struct umc_node *node[NHOSTS];
    struct umc_listener *l;
    struct peer peers[MAX_PEERS];
    int npeers;
    int accepts;
    bool close_listener_on_accept;
};

static uint8_t pattern(size_t i) { return (uint8_t)(i * 131u + (i >> 9) * 7u + 3u); }
static mte_time_t now(struct world *w) { return mte_now(w->e); }

/* ---- the world -------------------------------------------------------------------- */

static struct umc_node *node_on(struct world *w, int host)
{
    struct umc_node_opts o = {.name = host_names[host], .seed = 1, .net = faultnet_backend(),
                              .net_ctx = faultnet_host_ctx(w->fn, host_names[host])};
    return umc_node_new(w->e, &o);
}

static void world_init(struct world *w, uint64_t seed, const struct faultnet_params *p)
{
    memset(w, 0, sizeof(*w));
    w->e = mte_engine_new(MTE_CLOCK_VIRTUAL, seed);
    w->fn = faultnet_new(w->e, seed, p);
    for (int h = 0; h < NHOSTS; h++) {
        assert_int_equal(faultnet_add_host(w->fn, host_names[h], host_ips[h]), 0);
        w->node[h] = node_on(w, h);
    }
}

static struct faultnet_params params_with(mte_time_t latency, uint64_t bandwidth, uint32_t window)
{
    struct faultnet_params p;
    faultnet_default_params(&p);
    p.link.latency = latency;
    p.link.bandwidth = bandwidth;
    if (window)
        p.window = window;
    return p;
}

static void peer_close(struct peer *p)
{
    if (p->c) {
        umc_conn_close(p->c);
        p->c = NULL;
    }
}

static void world_fini(struct world *w)
{
    for (int i = 0; i < w->npeers; i++) {
        peer_close(&w->peers[i]);
        free(w->peers[i].rx);
    }
    umc_listener_close(w->l);
    mte_run_until_idle(w->e);
    for (int h = 0; h < NHOSTS; h++)
        if (w->node[h])
            assert_int_equal(umc_node_free(w->node[h]), 0);
    faultnet_free(w->fn);
    mte_engine_free(w->e);
}

/* ---- peers ------------------------------------------------------------------------ */

static void on_connect(struct umc_conn *c, void *arg)
{
    struct peer *p = arg;
    p->connected = true;
    p->connect_at = now(p->w);
}

static void take_bytes(struct peer *p)
{
    unsigned char buf[16384];
    ssize_t r;
    bool got = false;
    while (p->c && (r = umc_conn_read(p->c, buf, sizeof(buf))) > 0) {
        if (p->rx_len + (size_t)r > p->rx_cap) {
            p->rx_cap = (p->rx_len + (size_t)r) * 2;
            p->rx = realloc(p->rx, p->rx_cap);
        }
        memcpy(p->rx + p->rx_len, buf, (size_t)r);
        p->rx_len += (size_t)r;
        got = true;
    }
    if (got && p->rx_events < MAX_TIMES)
        p->rx_at[p->rx_events++] = now(p->w);
}

static void on_readable(struct umc_conn *c, void *arg)
{
    struct peer *p = arg;
    if (p->abort_on_read) {
        umc_conn_abort(c);
        p->c = NULL;
        return;
    }
    if (!p->hold)
        take_bytes(p);
}

static void on_writable(struct umc_conn *c, void *arg) { ((struct peer *)arg)->writables++; }

static void on_close(struct umc_conn *c, int err, void *arg)
{
    struct peer *p = arg;
    p->closes++;
    p->close_err = err;
    p->close_at = now(p->w);
    peer_close(p);
}

static const struct umc_conn_ops peer_ops = {on_connect, on_readable, on_writable, on_close};

static struct peer *new_peer(struct world *w)
{
    assert_true(w->npeers < MAX_PEERS);
    struct peer *p = &w->peers[w->npeers++];
    p->w = w;
    return p;
}

static void on_accept(struct umc_listener *l, struct umc_conn *c, void *arg)
{
    struct world *w = arg;
    struct peer *p = new_peer(w);
    w->accepts++;
    p->c = c;
    p->connected = true;
    p->connect_at = now(w);
    umc_conn_set_ops(c, &peer_ops, p);
    if (w->close_listener_on_accept) {
        umc_listener_close(l);
        w->l = NULL;
    }
}

static void listen_on(struct world *w, int host, const char *addr)
{
    int err = 0;
    w->l = umc_listen(w->node[host], addr, on_accept, w, &err);
    assert_int_equal(err, 0);
    assert_non_null(w->l);
}

static struct peer *dial(struct world *w, int host, const char *addr)
{
    struct peer *p = new_peer(w);
    p->c = umc_connect(w->node[host], addr, &peer_ops, p);
    assert_non_null(p->c);
    return p;
}

/* alice dials bob and both sides are up: returns alice's end; bob's is *server. */
static struct peer *connect_pair(struct world *w, struct peer **server)
{
    listen_on(w, BOB, "0.0.0.0" PORT);
    int before = w->accepts;
    struct peer *a = dial(w, ALICE, "bob" PORT);
    mte_run_until(w->e, now(w) + MTE_SEC);
    assert_true(a->connected);
    assert_int_equal(w->accepts, before + 1);
    *server = &w->peers[w->npeers - 1];
    return a;
}

static void send_pattern(struct peer *p, size_t *offset, size_t len)
{
    unsigned char *buf = malloc(len);
    for (size_t i = 0; i < len; i++)
        buf[i] = pattern(*offset + i);
    assert_int_equal(umc_conn_send_buf(p->c, buf, len), 0);
    *offset += len;
    free(buf);
}

static void assert_pattern(const struct peer *p, size_t len)
{
    assert_int_equal(p->rx_len, len);
    for (size_t i = 0; i < len; i++)
        if (p->rx[i] != pattern(i))
            fail_msg("byte %zu is %u, expected %u", i, p->rx[i], pattern(i));
}

/* ---- streams, timing, windows ---------------------------------------------------- */

static void bytes_arrive_in_order_and_intact(void **state)
{
    struct world w;
    world_init(&w, 1, NULL);
    struct peer *b, *a = connect_pair(&w, &b);
    size_t sent_a = 0, sent_b = 0;
    for (size_t i = 0; i < 300; i++) {
        send_pattern(a, &sent_a, (i * 7919) % 40000 + 1);
        if (i % 3 == 0)
            send_pattern(b, &sent_b, (i * 104729) % 70000 + 1);
        if (i % 17 == 0)
            mte_run_until(w.e, now(&w) + 50 * MTE_USEC);
    }
    mte_run_until_idle(w.e);
    assert_pattern(b, sent_a);
    assert_pattern(a, sent_b);
    struct faultnet_stats st;
    faultnet_get_stats(w.fn, &st);
    assert_int_equal(st.bytes_delivered, sent_a + sent_b);
    assert_int_equal(st.bytes_lost, 0);
    assert_true(st.segments >= 400);
    world_fini(&w);
}

static void latency_and_bandwidth_set_arrival(void **state)
{
    struct world w;
    struct faultnet_params p = params_with(MTE_MSEC, 1000000, 0); /* 1 ms, 1 MB/s */
    world_init(&w, 2, &p);
    listen_on(&w, BOB, "bob" PORT);
    mte_time_t t0 = now(&w);
    struct peer *a = dial(&w, ALICE, "10.0.0.2" PORT);
    mte_run_until_idle(w.e);
    assert_int_equal(a->connect_at, t0 + 2 * MTE_MSEC);  /* SYN there, SYN-ACK back */
    struct peer *b = &w.peers[1];
    assert_int_equal(b->connect_at, t0 + MTE_MSEC);
    size_t off = 0;
    mte_time_t t1 = now(&w);
    send_pattern(a, &off, 1000); /* 1 ms on the wire + 1 ms latency */
    mte_run_until_idle(w.e);
    assert_int_equal(b->rx_at[0], t1 + 2 * MTE_MSEC);
    mte_time_t t2 = now(&w);
    send_pattern(a, &off, 100000); /* two segments back to back: 100 ms + 1 ms */
    mte_run_until_idle(w.e);
    assert_int_equal(b->rx_at[b->rx_events - 1], t2 + 101 * MTE_MSEC);
    assert_pattern(b, off);
    world_fini(&w);
}

static void paused_reader_backpressures_sender(void **state)
{
    struct world w;
    struct faultnet_params p = params_with(100 * MTE_USEC, 0, 65536);
    world_init(&w, 3, &p);
    struct peer *b, *a = connect_pair(&w, &b);
    umc_conn_pause_recv(b->c, true);
    size_t off = 0;
    send_pattern(a, &off, 1 << 20);
    mte_run_until(w.e, now(&w) + 100 * MTE_MSEC);
    assert_int_equal(b->rx_len, 0);
    assert_int_equal(umc_conn_queued(a->c), (1 << 20) - 65536);
    send_pattern(a, &off, 1000);
    assert_int_equal(umc_conn_queued(a->c), (1 << 20) - 65536 + 1000);
    assert_int_equal(a->writables, 0);
    umc_conn_pause_recv(b->c, false);
    mte_run_until_idle(w.e);
    assert_pattern(b, off);
    assert_int_equal(umc_conn_queued(a->c), 0);
    assert_int_equal(a->writables, 1);
    world_fini(&w);
}

static void graceful_close_delivers_all_then_eof(void **state)
{
    struct world w;
    struct faultnet_params p = params_with(200 * MTE_USEC, 50000000, 65536);
    world_init(&w, 4, &p);
    struct peer *b, *a = connect_pair(&w, &b);
    size_t off = 0;
    send_pattern(a, &off, 500000);
    assert_true(umc_conn_queued(a->c) > 0);
    peer_close(a); /* the queue still goes out, then EOF */
    mte_run_until_idle(w.e);
    assert_pattern(b, off);
    assert_int_equal(b->closes, 1);
    assert_int_equal(b->close_err, 0);
    assert_true(b->close_at >= b->rx_at[b->rx_events - 1]);
    assert_int_equal(a->closes, 0); /* no callback after the owner's close */
    world_fini(&w);
}

/* ---- resets and refusals ---------------------------------------------------------- */

static void reset_fault_kills_both_ends(void **state)
{
    struct world w;
    struct faultnet_params p = params_with(MTE_MSEC, 100000000, 0);
    world_init(&w, 5, &p);
    struct peer *b, *a = connect_pair(&w, &b);
    size_t off = 0;
    send_pattern(a, &off, 1 << 20); /* 10 ms on the wire */
    mte_run_until(w.e, now(&w) + 3 * MTE_MSEC);
    size_t got = b->rx_len;
    assert_true(got > 0 && got < off);
    mte_time_t t = now(&w);
    assert_int_equal(faultnet_reset(w.fn, "alice", "bob"), 0);
    mte_run_until_idle(w.e);
    assert_int_equal(b->rx_len, got);
    assert_int_equal(a->close_err, -ECONNRESET);
    assert_int_equal(b->close_err, -ECONNRESET);
    assert_int_equal(a->close_at, t);
    assert_int_equal(b->close_at, t);
    struct faultnet_stats st;
    faultnet_get_stats(w.fn, &st);
    assert_int_equal(st.resets, 2);
    world_fini(&w);
}

static void abort_resets_peer_after_latency(void **state)
{
    struct world w;
    struct faultnet_params p = params_with(MTE_MSEC, 0, 0);
    world_init(&w, 6, &p);
    struct peer *b, *a = connect_pair(&w, &b);
    size_t off = 0;
    send_pattern(a, &off, 5000);
    mte_time_t t = now(&w);
    umc_conn_abort(a->c);
    a->c = NULL;
    mte_run_until_idle(w.e);
    assert_int_equal(b->rx_len, 0); /* in-flight bytes died with the reset */
    assert_int_equal(b->close_err, -ECONNRESET);
    assert_int_equal(b->close_at, t + MTE_MSEC);
    assert_int_equal(a->closes, 0);
    world_fini(&w);
}

static void connect_refused_without_listener(void **state)
{
    struct world w;
    struct faultnet_params p = params_with(MTE_MSEC, 0, 0);
    world_init(&w, 7, &p);
    mte_time_t t = now(&w);
    struct peer *a = dial(&w, ALICE, "bob:9999");
    mte_run_until_idle(w.e);
    assert_false(a->connected);
    assert_int_equal(a->close_err, -ECONNREFUSED);
    assert_int_equal(a->close_at, t + 2 * MTE_MSEC);
    struct peer *x = dial(&w, ALICE, "nowhere:1");
    mte_run_until_idle(w.e);
    assert_int_equal(x->close_err, -EHOSTUNREACH);
    struct faultnet_stats st;
    faultnet_get_stats(w.fn, &st);
    assert_int_equal(st.refused, 1);
    world_fini(&w);
}

static void listen_addresses_and_conflicts(void **state)
{
    struct world w;
    world_init(&w, 8, NULL);
    listen_on(&w, BOB, "0.0.0.0" PORT);
    assert_string_equal(umc_listener_addr(w.l), "10.0.0.2:7788");
    int err = 0;
    assert_null(umc_listen(w.node[BOB], "bob" PORT, on_accept, &w, &err));
    assert_int_equal(err, -EADDRINUSE);
    assert_null(umc_listen(w.node[BOB], "alice:7000", on_accept, &w, &err));
    assert_int_equal(err, -EADDRNOTAVAIL);
    struct umc_listener *any = umc_listen(w.node[BOB], "10.0.0.2:0", on_accept, &w, &err);
    assert_non_null(any);
    assert_string_equal(umc_listener_addr(any), "10.0.0.2:32768");
    umc_listener_close(any);
    struct peer *a = dial(&w, ALICE, "10.0.0.2" PORT);
    mte_run_until_idle(w.e);
    assert_true(a->connected);
    struct peer *b = &w.peers[1];
    assert_string_equal(umc_conn_peer_addr(a->c), "10.0.0.2:7788");
    assert_string_equal(umc_conn_local_addr(a->c), "10.0.0.1:32768");
    assert_string_equal(umc_conn_peer_addr(b->c), "10.0.0.1:32768");
    assert_int_equal(faultnet_add_host(w.fn, "alice", "10.9.9.9"), -EEXIST);
    assert_int_equal(faultnet_add_host(w.fn, "dave", "10.0.0.1"), -EEXIST);
    assert_null(faultnet_host_ctx(w.fn, "dave"));
    world_fini(&w);
}

/* ---- partitions, clogs, blackholes ------------------------------------------------ */

static void partition_holds_until_heal(void **state)
{
    struct world w;
    struct faultnet_params p = params_with(MTE_MSEC, 0, 0);
    world_init(&w, 9, &p);
    struct peer *b, *a = connect_pair(&w, &b);
    assert_int_equal(faultnet_partition(w.fn, "alice", "bob", FAULTNET_BOTH), 0);
    size_t off = 0;
    for (int i = 0; i < 20; i++)
        send_pattern(a, &off, 30000);
    mte_run_until(w.e, now(&w) + MTE_SEC);
    assert_int_equal(b->rx_len, 0);
    mte_time_t healed = now(&w);
    assert_int_equal(faultnet_heal(w.fn, "alice", "bob"), 0);
    mte_run_until_idle(w.e);
    assert_pattern(b, off);
    assert_true(b->rx_at[0] >= healed + MTE_MSEC);
    assert_int_equal(b->closes, 0);
    world_fini(&w);
}

static void one_way_partition_blocks_one_direction(void **state)
{
    struct world w;
    world_init(&w, 10, NULL);
    struct peer *b, *a = connect_pair(&w, &b);
    assert_int_equal(faultnet_partition(w.fn, "alice", "bob", FAULTNET_A_TO_B), 0);
    size_t off_a = 0, off_b = 0;
    send_pattern(a, &off_a, 10000);
    send_pattern(b, &off_b, 10000);
    mte_run_until(w.e, now(&w) + MTE_SEC);
    assert_int_equal(b->rx_len, 0);
    assert_pattern(a, off_b);
    faultnet_heal_all(w.fn);
    mte_run_until_idle(w.e);
    assert_pattern(b, off_a);
    world_fini(&w);
}

static void clog_lifts_by_itself(void **state)
{
    struct world w;
    struct faultnet_params p = params_with(MTE_MSEC, 0, 0);
    world_init(&w, 11, &p);
    struct peer *b, *a = connect_pair(&w, &b);
    mte_time_t t = now(&w);
    assert_int_equal(faultnet_clog(w.fn, "bob", "alice", FAULTNET_B_TO_A, 50 * MTE_MSEC), 0);
    size_t off = 0;
    send_pattern(a, &off, 20000);
    mte_run_until(w.e, t + 49 * MTE_MSEC);
    assert_int_equal(b->rx_len, 0);
    mte_run_until_idle(w.e);
    assert_pattern(b, off);
    assert_int_equal(b->rx_at[0], t + 51 * MTE_MSEC); /* lifted at 50, one latency later */
    world_fini(&w);
}

/* The harness asks which link is cut (a stall it can blame on the schedule). */
static void first_cut_names_a_cut_link(void **state)
{
    struct world w;
    struct faultnet_params p = params_with(MTE_MSEC, 0, 0);
    world_init(&w, 12, &p);
    const char *a = NULL, *b = NULL;
    assert_false(faultnet_first_cut(w.fn, &a, &b));
    assert_int_equal(faultnet_slow(w.fn, "alice", "bob", &p.link), 0);
    assert_false(faultnet_first_cut(w.fn, &a, &b)); /* slow is not cut */
    assert_int_equal(faultnet_blackhole(w.fn, "bob", "alice", FAULTNET_A_TO_B), 0);
    assert_true(faultnet_first_cut(w.fn, &a, &b));
    assert_string_equal(a, "bob");
    assert_string_equal(b, "alice");
    assert_int_equal(faultnet_heal(w.fn, "alice", "bob"), 0);
    assert_int_equal(faultnet_clog(w.fn, "alice", "bob", FAULTNET_BOTH, 50 * MTE_MSEC), 0);
    assert_true(faultnet_first_cut(w.fn, &a, &b));
    mte_run_until(w.e, now(&w) + 51 * MTE_MSEC);
    assert_false(faultnet_first_cut(w.fn, &a, &b));
    assert_int_equal(faultnet_partition(w.fn, "alice", "bob", FAULTNET_BOTH), 0);
    assert_true(faultnet_first_cut(w.fn, &a, &b));
    faultnet_heal_all(w.fn);
    assert_false(faultnet_first_cut(w.fn, &a, &b));
    world_fini(&w);
}

static void blackhole_loses_stream_but_new_connection_works(void **state)
{
    struct world w;
    world_init(&w, 12, NULL);
    struct peer *b, *a = connect_pair(&w, &b);
    assert_int_equal(faultnet_blackhole(w.fn, "alice", "bob", FAULTNET_A_TO_B), 0);
    size_t off = 0, back = 0;
    send_pattern(a, &off, 1000);
    send_pattern(b, &back, 700); /* the other way still works */
    mte_run_until(w.e, now(&w) + 100 * MTE_MSEC);
    assert_int_equal(faultnet_heal(w.fn, "alice", "bob"), 0);
    send_pattern(a, &off, 1000); /* this stream lost bytes: it never delivers again */
    mte_run_until(w.e, now(&w) + 10 * MTE_SEC);
    assert_int_equal(b->rx_len, 0);
    assert_pattern(a, back);
    assert_int_equal(a->closes + b->closes, 0); /* nobody is told */
    struct faultnet_stats st;
    faultnet_get_stats(w.fn, &st);
    assert_int_equal(st.bytes_lost, 2000);
    struct peer *a2 = dial(&w, ALICE, "bob" PORT);
    mte_run_until(w.e, now(&w) + MTE_SEC);
    assert_true(a2->connected);
    struct peer *b2 = &w.peers[w.npeers - 1];
    size_t off2 = 0;
    send_pattern(a2, &off2, 5000);
    mte_run_until(w.e, now(&w) + MTE_SEC);
    assert_pattern(b2, off2);
    world_fini(&w);
}

static void connect_times_out_into_blackhole(void **state)
{
    struct world w;
    world_init(&w, 13, NULL);
    listen_on(&w, BOB, "bob" PORT);
    faultnet_blackhole(w.fn, "alice", "bob", FAULTNET_BOTH);
    mte_time_t t = now(&w);
    struct peer *a = dial(&w, ALICE, "bob" PORT);
    mte_run_until_idle(w.e);
    assert_int_equal(a->close_err, -ETIMEDOUT);
    assert_int_equal(a->close_at, t + 3 * MTE_SEC);
    assert_int_equal(w.accepts, 0);
    struct faultnet_stats st;
    faultnet_get_stats(w.fn, &st);
    assert_int_equal(st.timeouts, 1);
    assert_int_equal(st.connects, 1);
    world_fini(&w);
}

static void connect_waits_out_a_partition(void **state)
{
    struct world w;
    world_init(&w, 14, NULL);
    listen_on(&w, BOB, "bob" PORT);
    faultnet_partition(w.fn, "alice", "bob", FAULTNET_BOTH);
    struct peer *a = dial(&w, ALICE, "bob" PORT);
    mte_run_until(w.e, now(&w) + MTE_SEC);
    assert_false(a->connected);
    faultnet_heal(w.fn, "bob", "alice");
    mte_run_until_idle(w.e);
    assert_true(a->connected);
    assert_int_equal(a->closes, 0);
    world_fini(&w);
}

/* A timed fault that ends lifts only itself: a permanent partition on the
 * same link stays, and overlapping clogs hold until the last one ends. */
static void timed_fault_ends_only_itself(void **state)
{
    struct world w;
    struct faultnet_params p = params_with(MTE_MSEC, 0, 0);
    world_init(&w, 16, &p);
    struct peer *b, *a = connect_pair(&w, &b);
    mte_time_t t = now(&w);
    assert_int_equal(faultnet_partition(w.fn, "alice", "bob", FAULTNET_BOTH), 0);
    struct faultnet_fault f = {.kind = FAULTNET_PARTITION, .a = "alice", .b = "bob",
                               .dir = FAULTNET_A_TO_B, .at = t, .duration = 100 * MTE_MSEC};
    assert_int_equal(faultnet_schedule(w.fn, &f), 0);
    f.kind = FAULTNET_CLOG;
    assert_int_equal(faultnet_schedule(w.fn, &f), 0);
    size_t off = 0;
    send_pattern(a, &off, 1000);
    mte_run_until(w.e, t + 2 * MTE_SEC);
    assert_int_equal(b->rx_len, 0); /* the permanent partition still holds */
    assert_int_equal(faultnet_heal(w.fn, "alice", "bob"), 0);
    mte_run_until_idle(w.e);
    assert_pattern(b, off);
    /* a long clog and a short one: the short one's end does not lift the long */
    t = now(&w);
    assert_int_equal(faultnet_clog(w.fn, "alice", "bob", FAULTNET_A_TO_B, 300 * MTE_MSEC), 0);
    assert_int_equal(faultnet_clog(w.fn, "alice", "bob", FAULTNET_A_TO_B, 50 * MTE_MSEC), 0);
    size_t ev = b->rx_events;
    send_pattern(a, &off, 1000);
    mte_run_until_idle(w.e);
    assert_int_equal(b->rx_at[ev], t + 301 * MTE_MSEC);
    /* a heal by hand, then a new partition: the old timed fault's end leaves it */
    t = now(&w);
    f = (struct faultnet_fault){.kind = FAULTNET_PARTITION, .a = "alice", .b = "bob",
                                .dir = FAULTNET_A_TO_B, .at = t, .duration = 100 * MTE_MSEC};
    assert_int_equal(faultnet_schedule(w.fn, &f), 0);
    mte_run_until(w.e, t + 10 * MTE_MSEC);
    faultnet_heal_all(w.fn);
    assert_int_equal(faultnet_partition(w.fn, "alice", "bob", FAULTNET_A_TO_B), 0);
    send_pattern(a, &off, 1000);
    mte_run_until(w.e, t + MTE_SEC);
    assert_int_equal(b->rx_len, off - 1000);
    faultnet_heal_all(w.fn);
    mte_run_until_idle(w.e);
    assert_pattern(b, off);
    world_fini(&w);
}

static void slow_link_until_healed(void **state)
{
    struct world w;
    struct faultnet_params p = params_with(MTE_MSEC, 0, 0);
    world_init(&w, 15, &p);
    struct peer *b, *a = connect_pair(&w, &b);
    struct faultnet_link slow = {.latency = 40 * MTE_MSEC};
    assert_int_equal(faultnet_slow(w.fn, "alice", "bob", &slow), 0);
    size_t off = 0;
    mte_time_t t = now(&w);
    send_pattern(a, &off, 100);
    mte_run_until_idle(w.e);
    assert_int_equal(b->rx_at[0], t + 40 * MTE_MSEC);
    faultnet_heal(w.fn, "alice", "bob");
    t = now(&w);
    send_pattern(a, &off, 100);
    mte_run_until_idle(w.e);
    assert_int_equal(b->rx_at[1], t + MTE_MSEC);
    world_fini(&w);
}

/* ---- crashes and restarts ---------------------------------------------------------- */

static void crash_with_reset_mode_resets_peers(void **state)
{
    struct world w;
    struct faultnet_params p = params_with(MTE_MSEC, 0, 0);
    world_init(&w, 16, &p);
    struct peer *b, *a = connect_pair(&w, &b);
    size_t off = 0;
    send_pattern(b, &off, 3000);
    mte_time_t t = now(&w);
    umc_node_crash(w.node[BOB]);
    w.node[BOB] = NULL;
    b->c = NULL; /* freed with its node */
    mte_run_until_idle(w.e);
    assert_int_equal(a->close_err, -ECONNRESET);
    assert_int_equal(a->close_at, t + MTE_MSEC);
    assert_int_equal(a->rx_len, 0);
    w.l = NULL;
    world_fini(&w);
}

static void crash_silent_mode_goes_quiet(void **state)
{
    struct world w;
    struct faultnet_params p = params_with(MTE_MSEC, 0, 65536);
    world_init(&w, 17, &p);
    struct peer *b, *a = connect_pair(&w, &b);
    faultnet_set_crash_mode(w.fn, "bob", FAULTNET_CRASH_SILENT);
    umc_node_crash(w.node[BOB]);
    w.node[BOB] = NULL;
    w.l = NULL;
    b->c = NULL;
    size_t off = 0;
    send_pattern(a, &off, 200000);
    mte_run_until(w.e, now(&w) + 10 * MTE_SEC);
    assert_int_equal(a->closes, 0);  /* nothing is heard */
    assert_int_equal(umc_conn_queued(a->c), 200000 - 65536); /* never acknowledged */
    struct peer *a2 = dial(&w, ALICE, "bob" PORT); /* the host is off: no refusal */
    mte_run_until_idle(w.e);
    assert_int_equal(a2->close_err, -ETIMEDOUT);
    umc_conn_abort(a->c);
    a->c = NULL;
    world_fini(&w);
}

static void restart_on_same_host_works(void **state)
{
    struct world w;
    world_init(&w, 18, NULL);
    struct peer *b, *a = connect_pair(&w, &b);
    faultnet_set_crash_mode(w.fn, "bob", FAULTNET_CRASH_SILENT);
    umc_node_crash(w.node[BOB]);
    b->c = NULL;
    w.node[BOB] = node_on(&w, BOB);
    listen_on(&w, BOB, "bob" PORT); /* same port again */
    struct peer *a2 = dial(&w, ALICE, "bob" PORT);
    mte_run_until(w.e, now(&w) + MTE_SEC);
    assert_true(a2->connected);
    struct peer *b2 = &w.peers[w.npeers - 1];
    size_t off = 0;
    send_pattern(b2, &off, 64000);
    mte_run_until(w.e, now(&w) + MTE_SEC);
    assert_pattern(a2, off);
    assert_int_equal(a->closes, 0); /* the old connection never heard of it */
    world_fini(&w);
}

static void node_free_aborts_leftovers(void **state)
{
    struct world w;
    world_init(&w, 19, NULL);
    struct peer *b, *a = connect_pair(&w, &b);
    size_t off = 0;
    send_pattern(a, &off, 1 << 20);
    assert_int_equal(umc_node_free(w.node[ALICE]), 0); /* with its connection still open */
    w.node[ALICE] = NULL;
    a->c = NULL;
    mte_run_until_idle(w.e);
    assert_int_equal(b->close_err, -ECONNRESET);
    world_fini(&w);
}

static void closing_inside_callbacks_is_safe(void **state)
{
    struct world w;
    world_init(&w, 21, NULL);
    listen_on(&w, BOB, "bob" PORT);
    w.close_listener_on_accept = true;
    struct peer *a1 = dial(&w, ALICE, "bob" PORT);
    struct peer *a2 = dial(&w, CAROL, "bob" PORT); /* same instant: waits in the backlog */
    mte_run_until_idle(w.e);
    assert_int_equal(w.accepts, 1);
    assert_true(a1->connected != a2->connected);
    struct peer *won = a1->connected ? a1 : a2, *lost = a1->connected ? a2 : a1;
    assert_true(lost->close_err == -ECONNRESET || lost->close_err == -ECONNREFUSED);
    struct peer *b1 = &w.peers[2];
    b1->abort_on_read = true;
    size_t off = 0;
    send_pattern(won, &off, 100000);
    send_pattern(won, &off, 100000);
    mte_run_until_idle(w.e);
    assert_null(b1->c);
    assert_int_equal(won->close_err, -ECONNRESET);
    world_fini(&w);
}

static void faultnet_freed_before_nodes_is_safe(void **state)
{
    struct world w;
    world_init(&w, 22, NULL);
    struct peer *b, *a = connect_pair(&w, &b);
    size_t off = 0;
    send_pattern(a, &off, 1 << 20);
    faultnet_free(w.fn);
    w.fn = NULL;
    assert_int_equal(umc_conn_send_buf(a->c, "x", 1), -ENETDOWN);
    char buf[8];
    assert_int_equal(umc_conn_read(b->c, buf, sizeof(buf)), -ENETDOWN);
    world_fini(&w);
}

/* ---- scheduled faults and determinism ---------------------------------------------- */

static void scheduled_faults_apply_at_their_time(void **state)
{
    struct world w;
    struct faultnet_params p = params_with(MTE_MSEC, 0, 0);
    world_init(&w, 20, &p);
    struct peer *b, *a = connect_pair(&w, &b);
    mte_time_t t = now(&w);
    struct faultnet_fault part = {.kind = FAULTNET_PARTITION, .a = "alice", .b = "bob",
                                  .dir = FAULTNET_BOTH, .at = t + 10 * MTE_MSEC,
                                  .duration = 20 * MTE_MSEC};
    struct faultnet_fault reset = {.kind = FAULTNET_RESET, .a = "bob", .b = "alice",
                                   .at = t + 100 * MTE_MSEC};
    struct faultnet_fault bad = {.kind = FAULTNET_RESET, .a = "bob", .b = "zed"};
    assert_int_equal(faultnet_schedule(w.fn, &part), 0);
    assert_int_equal(faultnet_schedule(w.fn, &reset), 0);
    assert_int_equal(faultnet_schedule(w.fn, &bad), -ENOENT);
    mte_run_until(w.e, t + 15 * MTE_MSEC);
    size_t off = 0;
    send_pattern(a, &off, 1000);
    mte_run_until(w.e, t + 29 * MTE_MSEC);
    assert_int_equal(b->rx_len, 0);
    mte_run_until_idle(w.e);
    assert_int_equal(b->rx_at[0], t + 31 * MTE_MSEC);
    assert_int_equal(a->close_err, -ECONNRESET);
    assert_int_equal(a->close_at, t + 100 * MTE_MSEC);
    assert_int_equal(b->close_at, t + 100 * MTE_MSEC);
    world_fini(&w);
}

struct run_result {
    mte_time_t times[MAX_TIMES];
    size_t n;
    uint64_t hash;
};

static void jittery_run(uint64_t seed, struct run_result *r)
{
    struct world w;
    struct faultnet_params p = params_with(MTE_MSEC, 100000000, 0);
    p.link.jitter = 500 * MTE_USEC;
    world_init(&w, seed, &p);
    struct peer *b, *a = connect_pair(&w, &b);
    size_t off = 0, back = 0;
    for (int i = 0; i < 50; i++) {
        send_pattern(a, &off, 3000 + (size_t)i * 11);
        send_pattern(b, &back, 200);
        mte_run_until(w.e, now(&w) + 300 * MTE_USEC);
    }
    mte_run_until_idle(w.e);
    assert_pattern(b, off);
    assert_pattern(a, back);
    r->n = b->rx_events;
    memcpy(r->times, b->rx_at, sizeof(r->times));
    r->hash = mte_hash(w.e);
    world_fini(&w);
}

static void same_seed_same_run_other_seed_differs(void **state)
{
    struct run_result *x = calloc(3, sizeof(*x));
    jittery_run(42, &x[0]);
    jittery_run(42, &x[1]);
    jittery_run(43, &x[2]);
    assert_int_equal(x[0].n, x[1].n);
    assert_memory_equal(x[0].times, x[1].times, sizeof(x[0].times));
    assert_int_equal(x[0].hash, x[1].hash);
    assert_int_not_equal(x[0].hash, x[2].hash);
    assert_memory_not_equal(x[0].times, x[2].times, sizeof(x[0].times));
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bytes_arrive_in_order_and_intact),
        cmocka_unit_test(latency_and_bandwidth_set_arrival),
        cmocka_unit_test(paused_reader_backpressures_sender),
        cmocka_unit_test(graceful_close_delivers_all_then_eof),
        cmocka_unit_test(reset_fault_kills_both_ends),
        cmocka_unit_test(abort_resets_peer_after_latency),
        cmocka_unit_test(connect_refused_without_listener),
        cmocka_unit_test(listen_addresses_and_conflicts),
        cmocka_unit_test(partition_holds_until_heal),
        cmocka_unit_test(one_way_partition_blocks_one_direction),
        cmocka_unit_test(clog_lifts_by_itself),
        cmocka_unit_test(first_cut_names_a_cut_link),
        cmocka_unit_test(blackhole_loses_stream_but_new_connection_works),
        cmocka_unit_test(connect_times_out_into_blackhole),
        cmocka_unit_test(connect_waits_out_a_partition),
        cmocka_unit_test(slow_link_until_healed),
        cmocka_unit_test(timed_fault_ends_only_itself),
        cmocka_unit_test(crash_with_reset_mode_resets_peers),
        cmocka_unit_test(crash_silent_mode_goes_quiet),
        cmocka_unit_test(restart_on_same_host_works),
        cmocka_unit_test(node_free_aborts_leftovers),
        cmocka_unit_test(closing_inside_callbacks_is_safe),
        cmocka_unit_test(faultnet_freed_before_nodes_is_safe),
        cmocka_unit_test(scheduled_faults_apply_at_their_time),
        cmocka_unit_test(same_seed_same_run_other_seed_differs),
    };
    return cmocka_run_group_tests_name("faultnet", tests, NULL, NULL);
}
