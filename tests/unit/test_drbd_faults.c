/* drbd under faults and special operations: online verify, checksum resync,
 * invalidate, pause/resume, the rate controller, a diskless primary, ko-count,
 * protocol A/B write-order prefix after a partition and failover, the two
 * injected defects, and determinism. */
#include "tests/unit/test_drbd_harness.h"

#define FAST "  disk { c-plan-ahead 0; resync-rate 0; }\n"

static void pair(struct world *w, uint64_t seed, const char *extra)
{
    char res[600];
    snprintf(res, sizeof(res), "%s", extra ? extra : FAST);
    world_init(w, seed, 2, 1, 64 * MIB, res, false);
    capture_trace(w);
    bring_up(w);
    run_for(w, MTE_SEC);
    assert_int_equal(cmd_full(w, 0, "primary", NULL, -1, true, false, NULL, 0), 0);
    bool ok = wait_in_sync(w, 0, 120 * MTE_SEC);
    if (!ok)
        dump_status(w);
    assert_true(ok);
}

static uint64_t status_number(struct world *w, int i, const char *key)
{
    char *s = drbd_status(w->nodes[i].d, NULL, DRBD_STATUS_STATISTICS | DRBD_STATUS_VERBOSE);
    const char *p = strstr(s, key);
    uint64_t v = p ? strtoull(p + strlen(key), NULL, 10) : UINT64_MAX;
    umc_free(w->nodes[i].n, s);
    return v;
}

/* ---- verify, checksums, invalidate, pause --------------------------------------------------- */

static void verify_finds_planted_difference(void **state)
{
    struct world w;
    pair(&w, 51, "  disk { c-plan-ahead 0; resync-rate 0; }\n  net { verify-alg crc32c; }\n");
    unsigned char junk[4096];
    memset(junk, 0x77, sizeof(junk));
    simdisk_poke(w.media[1][0], 1234 * 4096, junk, sizeof(junk));
    simdisk_poke(w.media[1][0], 7000 * 4096 + 512, junk, 512);
    assert_int_equal(cmd(&w, 0, "verify"), 0);
    run_for(&w, 10 * MTE_SEC);
    struct drbd_volume_info a = vinfo(&w, 0, 0), b = vinfo(&w, 1, 0);
    assert_int_equal(a.peers[0].repl, DRBD_R_ESTABLISHED);
    assert_int_equal(a.peers[0].out_of_sync, 2 * 4096);
    assert_int_equal(b.peers[0].out_of_sync, 2 * 4096);
    assert_true(traced(&w, "Online verify found 2 4k blocks out of sync!"));
    /* verify does not fix */
    assert_int_not_equal(compare_media(&w, 0, 1, 0, a.size), UINT64_MAX);
    assert_int_equal(cmd(&w, 0, "disconnect"), 0);
    assert_int_equal(cmd(&w, 0, "connect"), 0);
    assert_true(wait_in_sync(&w, 0, 60 * MTE_SEC));
    assert_int_equal(compare_media(&w, 0, 1, 0, a.size), UINT64_MAX);
    world_free(&w);
}

static void checksum_resync_moves_only_differing_blocks(void **state)
{
    struct world w;
    pair(&w, 52, "  disk { c-plan-ahead 0; resync-rate 0; }\n  net { csums-alg sha1; }\n");
    unsigned char junk[4096];
    memset(junk, 0x31, sizeof(junk));
    simdisk_poke(w.media[1][0], 300 * 4096, junk, sizeof(junk));
    simdisk_poke(w.media[1][0], 301 * 4096, junk, sizeof(junk));
    simdisk_poke(w.media[1][0], 9999 * 4096, junk, sizeof(junk));
    uint64_t before = status_number(&w, 1, "received:");
    assert_int_equal(cmd(&w, 0, "invalidate-remote"), 0);
    assert_true(wait_in_sync(&w, 0, 60 * MTE_SEC));
    uint64_t moved = status_number(&w, 1, "received:") - before; /* KiB */
    assert_int_equal(moved, 3 * 4);
    assert_int_equal(compare_media(&w, 0, 1, 0, vinfo(&w, 0, 0).size), UINT64_MAX);
    world_free(&w);
}

static void invalidate_and_pause_resume(void **state)
{
    struct world w;
    pair(&w, 53, "  disk { c-plan-ahead 0; resync-rate 8M; }\n");
    unsigned char junk[4096];
    memset(junk, 0x42, sizeof(junk));
    simdisk_poke(w.media[1][0], 42 * 4096, junk, sizeof(junk));
    assert_int_equal(cmd(&w, 1, "invalidate"), 0);
    run_for(&w, 2 * MTE_SEC);
    struct drbd_volume_info b = vinfo(&w, 1, 0);
    assert_int_equal(b.disk, DRBD_D_INCONSISTENT);
    assert_int_equal(b.peers[0].repl, DRBD_R_SYNC_TARGET);
    assert_int_equal(cmd(&w, 1, "pause-sync"), 0);
    run_for(&w, MTE_SEC);
    uint64_t left = vinfo(&w, 1, 0).peers[0].out_of_sync;
    assert_int_equal(vinfo(&w, 1, 0).peers[0].repl, DRBD_R_PAUSED_SYNC_T);
    assert_int_equal(vinfo(&w, 0, 0).peers[0].repl, DRBD_R_PAUSED_SYNC_S);
    char *s = drbd_status(w.nodes[0].d, NULL, 0);
    assert_non_null(strstr(s, "replication:PausedSyncS peer-disk:Inconsistent done:"));
    assert_non_null(strstr(s, "resync-suspended:peer"));
    umc_free(w.nodes[0].n, s);
    run_for(&w, 3 * MTE_SEC);
    assert_int_equal(vinfo(&w, 1, 0).peers[0].out_of_sync, left); /* no progress while paused */
    assert_int_equal(cmd(&w, 1, "resume-sync"), 0);
    assert_true(wait_in_sync(&w, 0, 60 * MTE_SEC));
    assert_int_equal(compare_media(&w, 0, 1, 0, b.size), UINT64_MAX);
    world_free(&w);
}

/* ---- the rate controller --------------------------------------------------------------------- */

static uint64_t synced_bytes(struct world *w)
{
    struct drbd_volume_info b = vinfo(w, 1, 0);
    return b.peers[0].resync_total - b.peers[0].out_of_sync;
}

static void fixed_rate_within_ten_percent(void **state)
{
    struct world w;
    world_init(&w, 54, 2, 1, 64 * MIB, "  disk { c-plan-ahead 0; resync-rate 4M; }\n", false);
    bring_up(&w);
    run_for(&w, MTE_SEC);
    assert_int_equal(cmd_full(&w, 0, "primary", NULL, -1, true, false, NULL, 0), 0);
    run_for(&w, 2 * MTE_SEC);
    uint64_t b0 = synced_bytes(&w);
    run_for(&w, 10 * MTE_SEC);
    uint64_t rate = (synced_bytes(&w) - b0) / 10;
    double want = 4.0 * 1024 * 1024;
    if (rate < want * 0.9 || rate > want * 1.1)
        fprintf(stderr, "fixed rate: %llu B/s\n", (unsigned long long)rate);
    assert_true(rate >= want * 0.9 && rate <= want * 1.1);
    world_free(&w);
}

static void plan_ahead_respects_max_and_min_rate(void **state)
{
    struct world w;
    world_init(&w, 55, 2, 1, 64 * MIB,
               "  disk { c-plan-ahead 20; c-fill-target 2M; c-max-rate 6M; c-min-rate 1M; }\n", false);
    bring_up(&w);
    run_for(&w, MTE_SEC);
    assert_int_equal(cmd_full(&w, 0, "primary", NULL, -1, true, false, NULL, 0), 0);
    run_for(&w, 3 * MTE_SEC);
    uint64_t b0 = synced_bytes(&w);
    run_for(&w, 5 * MTE_SEC);
    uint64_t rate = (synced_bytes(&w) - b0) / 5;
    assert_true(rate <= 6.0 * 1024 * 1024 * 1.1);
    assert_true(rate >= 3.0 * 1024 * 1024);
    /* application I/O: the resync yields down to c-min-rate */
    assert_int_equal(open_dev(&w, 0, 0, true), 0);
    b0 = synced_bytes(&w);
    mte_time_t t0 = now_of(&w);
    for (int k = 0; k < 400; k++)
        assert_int_equal(write_blocks(&w, 0, 0, (uint64_t)k % 64, 1, 9), 0);
    run_for(&w, 0);
    double secs = (double)(now_of(&w) - t0) / 1e9;
    if (secs > 0.5) {
        double r2 = (double)(synced_bytes(&w) - b0) / secs;
        assert_true(r2 <= 1.0 * 1024 * 1024 * 1.3);
    }
    close_dev(&w, 0, 0, true);
    assert_true(wait_in_sync(&w, 0, 120 * MTE_SEC));
    world_free(&w);
}

/* ---- a primary without a disk ---------------------------------------------------------------- */

static void diskless_primary_uses_peer(void **state)
{
    struct world w;
    pair(&w, 56, NULL);
    assert_int_equal(open_dev(&w, 0, 0, true), 0);
    assert_int_equal(write_blocks(&w, 0, 0, 0, 8, 61), 0);
    char msg[256];
    assert_int_equal(cmd_full(&w, 0, "detach", NULL, -1, false, false, msg, sizeof(msg)), 0);
    assert_int_equal(vinfo(&w, 0, 0).disk, DRBD_D_DISKLESS);
    run_for(&w, MTE_SEC);
    assert_int_equal(vinfo(&w, 1, 0).peers[0].disk, DRBD_D_DISKLESS);
    /* writes and reads go through bob */
    assert_int_equal(write_blocks(&w, 0, 0, 100, 8, 62), 0);
    unsigned char buf[8 * 4096], want[4096];
    struct io io;
    io_start(&io, dev_of(&w, 0, 0), UMC_OP_READ, 100 * 4096, buf, sizeof(buf), 0);
    assert_int_equal(io_wait(&w, &io, 10 * MTE_SEC), 0);
    for (int k = 0; k < 8; k++) {
        fill_block(want, 62, 100 + (uint64_t)k);
        assert_memory_equal(buf + k * 4096, want, 4096);
    }
    unsigned char onbob[4096];
    simdisk_read(w.media[1][0], 103 * 4096, onbob, sizeof(onbob));
    fill_block(want, 62, 103);
    assert_memory_equal(onbob, want, 4096);
    /* attach again: alice gets what she missed */
    assert_int_equal(cmd(&w, 0, "attach"), 0);
    assert_true(wait_in_sync(&w, 0, 60 * MTE_SEC));
    assert_int_equal(compare_media(&w, 0, 1, 0, vinfo(&w, 0, 0).size), UINT64_MAX);
    close_dev(&w, 0, 0, true);
    world_free(&w);
}

static void io_error_detaches_and_peer_serves(void **state)
{
    struct world w;
    pair(&w, 57, NULL);
    assert_int_equal(open_dev(&w, 0, 0, true), 0);
    simdisk_fail_range(w.media[0][0], 50 * 4096, 4096, 3);
    assert_int_equal(write_blocks(&w, 0, 0, 50, 1, 71), 0); /* the peer has it */
    run_for(&w, MTE_SEC);
    assert_int_equal(vinfo(&w, 0, 0).disk, DRBD_D_DISKLESS);
    unsigned char buf[4096], want[4096];
    struct io io;
    io_start(&io, dev_of(&w, 0, 0), UMC_OP_READ, 50 * 4096, buf, 4096, 0);
    assert_int_equal(io_wait(&w, &io, 10 * MTE_SEC), 0);
    fill_block(want, 71, 50);
    assert_memory_equal(buf, want, 4096);
    close_dev(&w, 0, 0, true);
    world_free(&w);
}

/* on-no-data-accessible suspend-io: a diskless primary that loses its only
 * peer holds I/O (also the write in flight to it) until the peer is back. */
static void no_data_accessible_suspends_io(void **state)
{
    struct world w;
    pair(&w, 59, FAST "  net { ping-int 1; ping-timeout 5; }\n"
                       "  options { on-no-data-accessible suspend-io; }\n");
    assert_int_equal(open_dev(&w, 0, 0, true), 0);
    assert_int_equal(cmd(&w, 0, "detach"), 0);
    run_for(&w, MTE_SEC);
    faultnet_partition(w.fn, "alice", "bob", FAULTNET_BOTH);
    unsigned char buf[4096], want[4096];
    fill_block(buf, 91, 9);
    struct io wr, rd;
    io_start(&wr, dev_of(&w, 0, 0), UMC_OP_WRITE, 9 * 4096, buf, 4096, 0);
    run_for(&w, 10 * MTE_SEC);
    assert_false(wr.done);
    unsigned char back[4096];
    io_start(&rd, dev_of(&w, 0, 0), UMC_OP_READ, 9 * 4096, back, 4096, 0);
    run_for(&w, MTE_SEC);
    assert_false(rd.done);
    assert_true(vinfo(&w, 0, 0).suspended);
    char *s = drbd_status(w.nodes[0].d, NULL, 0);
    assert_non_null(strstr(s, "suspended:no-data"));
    umc_free(w.nodes[0].n, s);
    faultnet_heal(w.fn, "alice", "bob");
    assert_int_equal(io_wait(&w, &wr, 60 * MTE_SEC), 0);
    assert_int_equal(io_wait(&w, &rd, 60 * MTE_SEC), 0);
    fill_block(want, 91, 9);
    assert_memory_equal(back, want, 4096);
    simdisk_read(w.media[1][0], 9 * 4096, back, sizeof(back));
    assert_memory_equal(back, want, 4096);
    assert_false(vinfo(&w, 0, 0).suspended);
    close_dev(&w, 0, 0, true);
    world_free(&w);
}

/* ---- timeouts -------------------------------------------------------------------------------- */

static void ko_count_drops_a_stuck_peer(void **state)
{
    struct world w;
    pair(&w, 58, "  disk { c-plan-ahead 0; resync-rate 0; }\n  net { timeout 10; ko-count 3; }\n");
    assert_int_equal(open_dev(&w, 0, 0, true), 0);
    simdisk_stall_until(w.media[1][0], now_of(&w) + 3600 * MTE_SEC);
    unsigned char buf[4096];
    fill_block(buf, 81, 5);
    struct io io;
    mte_time_t t0 = now_of(&w);
    io_start(&io, dev_of(&w, 0, 0), UMC_OP_WRITE, 5 * 4096, buf, 4096, 0);
    assert_int_equal(io_wait(&w, &io, 60 * MTE_SEC), 0);
    mte_time_t took = now_of(&w) - t0;
    /* held until timeout x ko-count (3 s), then bob is dropped and the write completes */
    assert_true(took >= 3 * MTE_SEC && took < 6 * MTE_SEC);
    assert_true(traced(&w, "ko-count"));
    assert_true(vinfo(&w, 0, 0).peers[0].out_of_sync >= 4096);
    close_dev(&w, 0, 0, true);
    node_crash(&w, 1, false); /* its disk answers in an hour */
    world_free(&w);
}

static void partition_and_heal_resyncs(void **state)
{
    struct world w;
    pair(&w, 59, NULL);
    assert_int_equal(open_dev(&w, 0, 0, true), 0);
    faultnet_partition(w.fn, "alice", "bob", FAULTNET_BOTH);
    /* protocol C: held until the ping finds bob gone, then it completes */
    assert_int_equal(write_blocks(&w, 0, 0, 10, 4, 91), 0);
    assert_int_not_equal(vinfo(&w, 0, 0).peers[0].conn, DRBD_C_CONNECTED);
    assert_int_equal(write_blocks(&w, 0, 0, 20, 4, 92), 0);
    faultnet_heal(w.fn, "alice", "bob");
    assert_true(wait_in_sync(&w, 0, 120 * MTE_SEC));
    assert_int_equal(compare_media(&w, 0, 1, 0, vinfo(&w, 0, 0).size), UINT64_MAX);
    close_dev(&w, 0, 0, true);
    world_free(&w);
}

/* drbd freed (no `down`) while a resync's start waits for its meta-data
 * write: the node's memory is all accounted for. */
static void freed_while_a_resync_starts(void **state)
{
    struct world w;
    pair(&w, 62, NULL);
    assert_int_equal(open_dev(&w, 0, 0, true), 0);
    assert_int_equal(cmd(&w, 1, "disconnect"), 0);
    assert_int_equal(write_blocks(&w, 0, 0, 10, 4, 93), 0);
    close_dev(&w, 0, 0, true);
    /* bob's disk holds its writes: the start's meta-data write stays in flight */
    simdisk_stall_until(w.media[1][0], mte_now(w.e) + 60 * MTE_SEC);
    assert_int_equal(cmd(&w, 1, "connect"), 0);
    run_for(&w, 5 * MTE_SEC);
    assert_int_equal(vinfo(&w, 1, 0).peers[0].repl, DRBD_R_WF_BITMAP_T);
    for (int i = 0; i < w.nn; i++) {
        struct hnode *h = &w.nodes[i];
        drbd_free(h->d);
        tcmu_host_free(h->h);
        assert_int_equal(umc_node_free(h->n), 0);
        h->alive = false;
    }
    world_free(&w);
}

/* ---- protocol A/B: what survives on the peer is a prefix in write order ---------------------- */

static void prefix_after_failover(char proto, uint64_t seed)
{
    struct world w;
    char res[256];
    snprintf(res, sizeof(res), "  disk { c-plan-ahead 0; resync-rate 0; }\n  net { protocol %c; }\n", proto);
    pair(&w, seed, res);
    assert_int_equal(open_dev(&w, 0, 0, true), 0);
    struct faultnet_link slow = {.latency = 2 * MTE_MSEC, .bandwidth = 2 * MIB};
    faultnet_slow(w.fn, "alice", "bob", &slow);
    /* dependent writes: each completes before the next is issued */
    const uint64_t n = 400;
    for (uint64_t k = 0; k < n; k++) {
        if (k == 250) /* what is on its way from now on never arrives */
            faultnet_blackhole(w.fn, "alice", "bob", FAULTNET_BOTH);
        assert_int_equal(write_blocks(&w, 0, 0, 500 + k, 1, 1000 + (uint32_t)k), 0);
    }
    node_crash(&w, 0, true);
    faultnet_heal(w.fn, "alice", "bob");
    run_for(&w, 30 * MTE_SEC);
    assert_int_equal(cmd(&w, 1, "primary"), 0); /* failover */
    /* bob holds writes 0..p-1 and none after */
    uint64_t p = 0;
    unsigned char b[4096];
    while (p < n) {
        simdisk_read(w.media[1][0], (500 + p) * 4096, b, sizeof(b));
        uint32_t tag;
        memcpy(&tag, b, 4);
        if (tag != 1000 + p)
            break;
        p++;
    }
    for (uint64_t k = p; k < n; k++) {
        simdisk_read(w.media[1][0], (500 + k) * 4096, b, sizeof(b));
        uint32_t tag;
        memcpy(&tag, b, 4);
        assert_true(tag < 1000 || tag >= 1000 + n);
    }
    assert_true(p > 0);
    if (proto != 'C')
        assert_true(p < n); /* the partition cost acknowledged writes */
    world_free(&w);
}

static void protocol_a_keeps_a_prefix(void **state) { prefix_after_failover('A', 60); }
static void protocol_b_keeps_a_prefix(void **state) { prefix_after_failover('B', 61); }

/* ---- the injected defects -------------------------------------------------------------------- */

static void bug_resync_does_not_restart(void **state)
{
    struct world w;
    pair(&w, 62, NULL);
    for (int i = 0; i < 2; i++)
        umc_set_bugs(w.nodes[i].n, 1ull << UMC_BUG_RESYNC_NO_RESTART);
    assert_int_equal(open_dev(&w, 0, 0, true), 0);
    node_crash(&w, 1, false);
    assert_int_equal(write_blocks(&w, 0, 0, 0, 64, 111), 0);
    node_restart(&w, 1);
    umc_set_bugs(w.nodes[1].n, 1ull << UMC_BUG_RESYNC_NO_RESTART);
    assert_int_equal(cmd(&w, 1, "up"), 0);
    run_for(&w, 60 * MTE_SEC);
    /* connected, Established, bits out of sync, no progress: the seed's defect */
    struct drbd_volume_info a = vinfo(&w, 0, 0);
    assert_int_equal(a.peers[0].conn, DRBD_C_CONNECTED);
    assert_int_equal(a.peers[0].repl, DRBD_R_ESTABLISHED);
    assert_int_equal(a.peers[0].out_of_sync, 64 * 4096);
    /* a second reconnect (no fresh attach) resyncs */
    assert_int_equal(cmd(&w, 0, "disconnect"), 0);
    assert_int_equal(cmd(&w, 0, "connect"), 0);
    assert_true(wait_in_sync(&w, 0, 60 * MTE_SEC));
    assert_int_equal(compare_media(&w, 0, 1, 0, a.size), UINT64_MAX);
    close_dev(&w, 0, 0, true);
    world_free(&w);
}

static void bug_lost_barrier_ack_hangs_until_reconnect(void **state)
{
    struct world w;
    pair(&w, 63, NULL);
    for (int i = 0; i < 2; i++)
        umc_set_bugs(w.nodes[i].n, 1ull << UMC_BUG_LOST_BARRIER_ACK);
    assert_int_equal(open_dev(&w, 0, 0, true), 0);
    struct umc_bdev *b = dev_of(&w, 0, 0);
    unsigned char buf[4096];
    struct io io;
    int stuck_at = -1;
    for (int k = 0; k < 200 && stuck_at < 0; k++) {
        fill_block(buf, 121, (uint64_t)k);
        io_start(&io, b, UMC_OP_WRITE, (uint64_t)k * 4096, buf, 4096, 0);
        if (io_wait(&w, &io, 120 * MTE_SEC) == -ETIMEDOUT)
            stuck_at = k;
    }
    assert_true(stuck_at >= 0); /* mkfs "hangs near the end" */
    assert_false(io.done);
    /* disconnecting and reconnecting lets it finish */
    assert_int_equal(cmd(&w, 0, "disconnect"), 0);
    assert_int_equal(io_wait(&w, &io, 10 * MTE_SEC), 0);
    assert_int_equal(cmd(&w, 0, "connect"), 0);
    assert_true(wait_in_sync(&w, 0, 60 * MTE_SEC));
    assert_int_equal(compare_media(&w, 0, 1, 0, vinfo(&w, 0, 0).size), UINT64_MAX);
    close_dev(&w, 0, 0, true);
    world_free(&w);
}

/* ---- determinism ---------------------------------------------------------------------------- */

static uint64_t scenario_hash(uint64_t seed)
{
    struct world w;
    pair(&w, seed, "  disk { c-plan-ahead 0; resync-rate 20M; }\n");
    assert_int_equal(open_dev(&w, 0, 0, true), 0);
    assert_int_equal(write_blocks(&w, 0, 0, 0, 100, 5), 0);
    faultnet_partition(w.fn, "alice", "bob", FAULTNET_BOTH);
    assert_int_equal(write_blocks(&w, 0, 0, 200, 10, 6), 0);
    faultnet_heal(w.fn, "alice", "bob");
    assert_true(wait_in_sync(&w, 0, 120 * MTE_SEC));
    close_dev(&w, 0, 0, true);
    uint64_t h = mte_hash(w.e);
    world_free(&w);
    return h;
}

static void same_seed_same_hash(void **state)
{
    uint64_t a = scenario_hash(70), b = scenario_hash(70), c = scenario_hash(71);
    assert_int_equal(a, b);
    assert_int_not_equal(a, c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(verify_finds_planted_difference),
        cmocka_unit_test(checksum_resync_moves_only_differing_blocks),
        cmocka_unit_test(invalidate_and_pause_resume),
        cmocka_unit_test(fixed_rate_within_ten_percent),
        cmocka_unit_test(plan_ahead_respects_max_and_min_rate),
        cmocka_unit_test(diskless_primary_uses_peer),
        cmocka_unit_test(io_error_detaches_and_peer_serves),
        cmocka_unit_test(no_data_accessible_suspends_io),
        cmocka_unit_test(ko_count_drops_a_stuck_peer),
        cmocka_unit_test(partition_and_heal_resyncs),
        cmocka_unit_test(freed_while_a_resync_starts),
        cmocka_unit_test(protocol_a_keeps_a_prefix),
        cmocka_unit_test(protocol_b_keeps_a_prefix),
        cmocka_unit_test(bug_resync_does_not_restart),
        cmocka_unit_test(bug_lost_barrier_ack_hangs_until_reconnect),
        cmocka_unit_test(same_seed_same_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
