/* `scstsim demo`: the foundation end to end, before any storage protocol.
 *
 * Two hosts on faultnet, each node with a simdisk.  alice writes
 * self-describing blocks to her disk and streams them to bob, who writes them
 * to his disk and acknowledges after a flush.  A clog and a power loss of bob
 * (with restart and reconnect) are scheduled; at the end every block bob
 * acknowledged must be on his disk.  Prints the run hash of the seed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultnet/faultnet.h"
#include "sim/demo.h"
#include "tcmu_ram/tcmu_ram.h"

#define DEMO_BLOCK 4096u
#define DEMO_BLOCKS 1024u
#define DEMO_PORT "7000"
#define DEMO_END (4 * MTE_SEC)
#define DEMO_ACK_TIMEOUT (300 * MTE_MSEC) /* alice gives up on a silent peer */

struct demo_msg { /* one replicated block on the wire: header, then data */
    uint64_t lba, write_id;
};

struct demo_node {
    struct demo *d;
    struct umc_node *n;
    struct tcmu_host *host;
    struct tcmu_device *dev;
    struct umc_listener *listener;
    struct umc_conn *conn;
    struct mte_timer tick;
    unsigned char rx[sizeof(struct demo_msg) + DEMO_BLOCK];
    size_t rx_len;
};

struct demo {
    struct mte_engine *e;
    struct faultnet *net;
    struct simdisk_media *media[2];
    struct demo_node *alice, *bob;
    struct mte_timer crash_timer, restart_timer;
    uint64_t next_write_id, sent, written_by_bob, acked, reconnects;
    uint64_t unacked;          /* alice: blocks sent on this connection, not yet acked */
    mte_time_t last_ack;       /* alice: when the last ack came */
    uint64_t acked_id[DEMO_BLOCKS]; /* per LBA: newest write id bob acknowledged */
};

/* ---- block I/O on a node's disk -------------------------------------------------- */

struct demo_io {
    struct demo_node *dn;
    struct umc_bio bio;
    struct iovec iov;
    unsigned char data[DEMO_BLOCK];
    uint64_t lba, write_id;
};

static void fill_block(unsigned char *buf, uint64_t lba, uint64_t write_id)
{
    for (size_t i = 0; i < DEMO_BLOCK; i += 16) {
        memcpy(buf + i, &lba, 8);
        memcpy(buf + i + 8, &write_id, 8);
    }
}

static void send_ack(struct demo_node *dn, uint64_t lba, uint64_t write_id)
{
    struct demo_msg ack = {lba, write_id};
    if (dn->conn)
        umc_conn_send_buf(dn->conn, &ack, sizeof(ack));
}

static void bob_write_done(struct umc_bio *bio)
{
    struct demo_io *io = bio->priv;
    struct umc_node *n = io->dn->n;
    if (bio->status == 0) {
        io->dn->d->written_by_bob++;
        send_ack(io->dn, io->lba, io->write_id);
    }
    umc_free(n, io);
}

static struct demo_io *demo_io_new(struct demo_node *dn, uint64_t lba, uint64_t write_id)
{
    struct demo_io *io = umc_alloc(dn->n, sizeof(*io));
    io->dn = dn;
    io->lba = lba;
    io->write_id = write_id;
    io->iov = (struct iovec){io->data, DEMO_BLOCK};
    io->bio = (struct umc_bio){.op = UMC_OP_WRITE, .offset = lba * DEMO_BLOCK, .length = DEMO_BLOCK,
                               .iov = &io->iov, .iovcnt = 1, .priv = io};
    return io;
}

/* bob makes each block durable (FUA) before acknowledging it */
static void bob_write(struct demo_node *dn, const struct demo_msg *m, const unsigned char *data)
{
    struct demo_io *io = demo_io_new(dn, m->lba, m->write_id);
    memcpy(io->data, data, DEMO_BLOCK);
    io->bio.flags = UMC_BIO_FUA;
    io->bio.done = bob_write_done;
    umc_bio_submit(tcmu_dev_bdev(dn->dev), &io->bio);
}

static void alice_write_done(struct umc_bio *bio) { umc_free(((struct demo_io *)bio->priv)->dn->n, bio->priv); }

/* ---- alice: the writer --------------------------------------------------------------- */

static void alice_reconnect(struct demo_node *dn);

static void alice_tick(void *arg)
{
    struct demo_node *dn = arg;
    struct demo *d = dn->d;
    struct mte_rng *rng = umc_rng(dn->n, "workload");
    if (dn->conn && d->unacked && umc_now(dn->n) - d->last_ack > DEMO_ACK_TIMEOUT) {
        umc_info(dn->n, "demo", "no ack for %llu ms: dropping the connection",
                 (unsigned long long)(DEMO_ACK_TIMEOUT / MTE_MSEC));
        umc_conn_abort(dn->conn);
        alice_reconnect(dn);
    }
    if (dn->conn && umc_conn_queued(dn->conn) < 256 * 1024) {
        struct demo_io *io = demo_io_new(dn, mte_rng_below(rng, DEMO_BLOCKS), ++d->next_write_id);
        fill_block(io->data, io->lba, io->write_id);
        struct demo_msg m = {io->lba, io->write_id};
        struct iovec iov[2] = {{&m, sizeof(m)}, {io->data, DEMO_BLOCK}};
        umc_conn_send(dn->conn, iov, 2);
        if (!d->unacked++)
            d->last_ack = umc_now(dn->n);
        d->sent++;
        io->bio.done = alice_write_done;
        umc_bio_submit(tcmu_dev_bdev(dn->dev), &io->bio);
    }
    umc_timer_arm_in(dn->n, &dn->tick, mte_rng_range(rng, 100, 2000) * MTE_USEC);
}

static void alice_readable(struct umc_conn *c, void *arg)
{
    struct demo_node *dn = arg;
    struct demo_msg ack;
    for (;;) {
        ssize_t r = umc_conn_read(c, dn->rx + dn->rx_len, sizeof(ack) - dn->rx_len);
        if (r <= 0)
            return;
        dn->rx_len += (size_t)r;
        if (dn->rx_len < sizeof(ack))
            continue;
        memcpy(&ack, dn->rx, sizeof(ack));
        dn->rx_len = 0;
        dn->d->acked++;
        dn->d->last_ack = umc_now(dn->n);
        if (dn->d->unacked)
            dn->d->unacked--;
        if (ack.lba < DEMO_BLOCKS && ack.write_id > dn->d->acked_id[ack.lba])
            dn->d->acked_id[ack.lba] = ack.write_id;
    }
}

static void alice_connect(struct demo_node *dn);

static void alice_closed(struct umc_conn *c, int err, void *arg)
{
    struct demo_node *dn = arg;
    umc_info(dn->n, "demo", "connection to bob closed (%d); reconnecting", err);
    umc_conn_close(c);
    alice_reconnect(dn);
}

static void alice_reconnect(struct demo_node *dn)
{
    dn->d->reconnects++;
    dn->d->unacked = 0;
    dn->rx_len = 0;
    alice_connect(dn);
}

static void alice_connected(struct umc_conn *c, void *arg)
{
    umc_info(((struct demo_node *)arg)->n, "demo", "connected to bob");
}

static const struct umc_conn_ops alice_ops = {
    .on_connect = alice_connected, .on_readable = alice_readable, .on_close = alice_closed};

static void alice_connect(struct demo_node *dn)
{
    dn->conn = umc_connect(dn->n, "bob:" DEMO_PORT, &alice_ops, dn);
}

/* ---- bob: the replica ------------------------------------------------------------------ */

static void bob_readable(struct umc_conn *c, void *arg)
{
    struct demo_node *dn = arg;
    for (;;) {
        ssize_t r = umc_conn_read(c, dn->rx + dn->rx_len, sizeof(dn->rx) - dn->rx_len);
        if (r <= 0)
            return;
        dn->rx_len += (size_t)r;
        if (dn->rx_len < sizeof(dn->rx))
            continue;
        struct demo_msg m;
        memcpy(&m, dn->rx, sizeof(m));
        bob_write(dn, &m, dn->rx + sizeof(m));
        dn->rx_len = 0;
    }
}

static void bob_closed(struct umc_conn *c, int err, void *arg)
{
    struct demo_node *dn = arg;
    umc_conn_close(c);
    if (dn->conn == c)
        dn->conn = NULL;
}

static const struct umc_conn_ops bob_ops = {.on_readable = bob_readable, .on_close = bob_closed};

static void bob_accept(struct umc_listener *l, struct umc_conn *c, void *arg)
{
    struct demo_node *dn = arg;
    if (dn->conn)
        umc_conn_abort(dn->conn);
    dn->conn = c;
    dn->rx_len = 0;
    umc_conn_set_ops(c, &bob_ops, dn);
}

/* ---- nodes ------------------------------------------------------------------------------ */

static struct demo_node *node_start(struct demo *d, const char *name, struct simdisk_media *m,
                                    uint64_t seed)
{
    struct umc_node_opts o = {.name = name, .seed = seed, .net = faultnet_backend(),
                              .net_ctx = faultnet_host_ctx(d->net, name),
                              .print_level = UMC_LOG_WARN};
    struct umc_node *n = umc_node_new(d->e, &o);
    struct demo_node *dn = umc_alloc(n, sizeof(*dn));
    dn->d = d;
    dn->n = n;
    dn->host = tcmu_host_new(n);
    struct tcmu_dev_config cfg = {.cfgstring = "simdisk/", .size = simdisk_media_size(m),
                                  .block_size = DEMO_BLOCK, .handler_arg = m};
    int err = 0;
    dn->dev = tcmu_dev_add(dn->host, &cfg, &err);
    if (!dn->dev) {
        fprintf(stderr, "demo: cannot add simdisk: %s\n", strerror(-err));
        exit(1);
    }
    umc_timer_init(n, &dn->tick, alice_tick, dn);
    return dn;
}

static void node_stop(struct demo_node *dn)
{
    struct umc_node *n = dn->n;
    if (dn->conn)
        umc_conn_close(dn->conn);
    if (dn->listener)
        umc_listener_close(dn->listener);
    umc_timer_cancel(n, &dn->tick);
    tcmu_host_free(dn->host);
    umc_free(n, dn);
    size_t leaks = umc_node_free(n);
    if (leaks)
        fprintf(stderr, "demo: %zu allocations leaked\n", leaks);
}

static void bob_listen(struct demo_node *dn)
{
    int err = 0;
    dn->listener = umc_listen(dn->n, "bob:" DEMO_PORT, bob_accept, dn, &err);
}

static void bob_crash(void *arg)
{
    struct demo *d = arg;
    struct simdisk_crash_stats st = {0};
    umc_info(d->bob->n, "demo", "power loss");
    faultnet_set_crash_mode(d->net, "bob", FAULTNET_CRASH_SILENT);
    umc_node_crash(d->bob->n);
    simdisk_crash(d->media[1], &st);
    d->bob = NULL;
    char line[128];
    snprintf(line, sizeof(line), "demo: bob crashed: %" PRIu64 " writes dropped, %" PRIu64
             " kept, %" PRIu64 " torn", st.dropped, st.kept, st.torn);
    mte_trace(d->e, line);
}

static void bob_restart(void *arg)
{
    struct demo *d = arg;
    d->bob = node_start(d, "bob", d->media[1], mte_seed(d->e) + 2);
    bob_listen(d->bob);
    umc_info(d->bob->n, "demo", "restarted");
}

/* Every block bob acknowledged (FUA) must be on his disk, or a newer one. */
static uint64_t check_acked(struct demo *d)
{
    uint64_t bad = 0;
    unsigned char buf[DEMO_BLOCK];
    for (uint64_t lba = 0; lba < DEMO_BLOCKS; lba++) {
        if (!d->acked_id[lba])
            continue;
        simdisk_read(d->media[1], lba * DEMO_BLOCK, buf, DEMO_BLOCK);
        uint64_t on_disk_lba, on_disk_id;
        memcpy(&on_disk_lba, buf, 8);
        memcpy(&on_disk_id, buf + 8, 8);
        if (on_disk_lba != lba || on_disk_id < d->acked_id[lba])
            bad++;
    }
    return bad;
}

int demo_main(uint64_t seed, FILE *trace)
{
    struct demo d = {0};
    d.e = mte_engine_new(MTE_CLOCK_VIRTUAL, seed);
    if (trace)
        sim_trace_to(d.e, trace);
    struct faultnet_params p;
    faultnet_default_params(&p);
    p.link = (struct faultnet_link){.latency = 100 * MTE_USEC, .jitter = 50 * MTE_USEC,
                                    .bandwidth = 1000000000};
    d.net = faultnet_new(d.e, seed, &p);
    faultnet_add_host(d.net, "alice", "10.0.0.1");
    faultnet_add_host(d.net, "bob", "10.0.0.2");
    d.media[0] = simdisk_media_new("alice-disk", DEMO_BLOCKS * DEMO_BLOCK, mte_seed_derive(seed, "alice-disk"));
    d.media[1] = simdisk_media_new("bob-disk", DEMO_BLOCKS * DEMO_BLOCK, mte_seed_derive(seed, "bob-disk"));
    d.alice = node_start(&d, "alice", d.media[0], seed + 1);
    d.bob = node_start(&d, "bob", d.media[1], seed + 2);
    bob_listen(d.bob);
    alice_connect(d.alice);
    umc_timer_arm_in(d.alice->n, &d.alice->tick, MTE_MSEC);

    struct faultnet_fault clog = {.kind = FAULTNET_CLOG, .a = "alice", .b = "bob",
                                  .dir = FAULTNET_BOTH, .at = MTE_SEC, .duration = 200 * MTE_MSEC};
    faultnet_schedule(d.net, &clog);
    mte_timer_init(&d.crash_timer, bob_crash, &d, &d);
    mte_timer_arm(d.e, &d.crash_timer, 2 * MTE_SEC + mte_seed_derive(seed, "crash") % MTE_SEC);
    mte_timer_init(&d.restart_timer, bob_restart, &d, &d);
    mte_timer_arm(d.e, &d.restart_timer, 3 * MTE_SEC + 500 * MTE_MSEC);

    mte_run_until(d.e, DEMO_END);
    uint64_t bad = check_acked(&d);
    printf("demo: sent=%" PRIu64 " written_by_bob=%" PRIu64 " acked=%" PRIu64 " reconnects=%" PRIu64
           " lost_acked=%" PRIu64 "\n", d.sent, d.written_by_bob, d.acked, d.reconnects, bad);
    printf("%s seed=%" PRIu64 " hash=%016" PRIx64 " virtual=%.3f events=%" PRIu64 "\n",
           bad ? "FAIL" : "PASS", seed, mte_hash(d.e), (double)mte_now(d.e) / MTE_SEC, mte_events(d.e));

    node_stop(d.alice);
    if (d.bob)
        node_stop(d.bob);
    faultnet_free(d.net);
    simdisk_media_free(d.media[0]);
    simdisk_media_free(d.media[1]);
    mte_engine_free(d.e);
    return bad ? 1 : 0;
}
