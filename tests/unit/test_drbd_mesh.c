/* drbd with three nodes in a connection mesh: replication to every peer,
 * bitmap resync of the one that was away, failover after a primary crash,
 * quorum loss with on-no-quorum io-error and suspend-io, what the secondaries
 * know about each other's writes and their resync after losing the primary. */
#include "tests/unit/test_drbd_harness.h"

static void trio(struct world *w, uint64_t seed, const char *extra)
{
    char res[600];
    snprintf(res, sizeof(res), "  disk { c-plan-ahead 0; resync-rate 0; }\n%s", extra ? extra : "");
    world_init(w, seed, 3, 1, 64 * MIB, res, true);
    capture_trace(w);
    bring_up(w);
    run_for(w, MTE_SEC);
    assert_int_equal(cmd_full(w, 0, "primary", NULL, -1, true, false, NULL, 0), 0);
    bool ok = wait_in_sync(w, 0, 120 * MTE_SEC);
    if (!ok)
        dump_status(w);
    assert_true(ok);
}

static void all_same(struct world *w)
{
    uint64_t size = vinfo(w, 0, 0).size;
    assert_int_equal(compare_media(w, 0, 1, 0, size), UINT64_MAX);
    assert_int_equal(compare_media(w, 0, 2, 0, size), UINT64_MAX);
}

static void three_nodes_replicate(void **state)
{
    struct world w;
    trio(&w, 81, NULL);
    assert_int_equal(open_dev(&w, 0, 0, true), 0);
    assert_int_equal(write_blocks(&w, 0, 0, 0, 200, 1), 0);
    all_same(&w);
    run_for(&w, MTE_SEC); /* every epoch barrier-acked: nothing in flight is marked */
    /* carol goes away; alice and bob both remember what carol misses */
    assert_int_equal(cmd(&w, 2, "disconnect"), 0);
    run_for(&w, MTE_SEC);
    assert_int_equal(write_blocks(&w, 0, 0, 1000, 30, 2), 0);
    assert_int_equal(vinfo(&w, 0, 0).peers[1].out_of_sync, 30 * 4096);
    assert_int_equal(vinfo(&w, 1, 0).peers[1].out_of_sync, 30 * 4096);
    assert_int_equal(cmd(&w, 2, "connect"), 0);
    assert_true(wait_in_sync(&w, 0, 60 * MTE_SEC));
    all_same(&w);
    close_dev(&w, 0, 0, true);
    world_free(&w);
}

static void primary_crash_failover(void **state)
{
    struct world w;
    trio(&w, 82, NULL);
    assert_int_equal(open_dev(&w, 0, 0, true), 0);
    assert_int_equal(write_blocks(&w, 0, 0, 0, 100, 11), 0);
    node_crash(&w, 0, true);
    run_for(&w, 30 * MTE_SEC);
    /* bob takes over and writes; carol follows bob */
    assert_int_equal(cmd(&w, 1, "primary"), 0);
    assert_int_equal(open_dev(&w, 1, 0, true), 0);
    assert_int_equal(write_blocks(&w, 1, 0, 500, 40, 12), 0);
    assert_int_equal(compare_media(&w, 1, 2, 0, vinfo(&w, 1, 0).size), UINT64_MAX);
    /* alice returns and takes bob's data */
    node_restart(&w, 0);
    assert_int_equal(cmd(&w, 0, "up"), 0);
    bool ok = wait_in_sync(&w, 0, 120 * MTE_SEC);
    if (!ok)
        dump_status(&w);
    assert_true(ok);
    all_same(&w);
    close_dev(&w, 1, 0, true);
    world_free(&w);
}

static void isolate_alice(struct world *w)
{
    faultnet_partition(w->fn, "alice", "bob", FAULTNET_BOTH);
    faultnet_partition(w->fn, "alice", "carol", FAULTNET_BOTH);
}

static void heal_alice(struct world *w)
{
    faultnet_heal(w->fn, "alice", "bob");
    faultnet_heal(w->fn, "alice", "carol");
}

static void quorum_loss_io_error(void **state)
{
    struct world w;
    trio(&w, 83, "  options { quorum majority; on-no-quorum io-error; }\n");
    assert_int_equal(open_dev(&w, 0, 0, true), 0);
    assert_int_equal(write_blocks(&w, 0, 0, 0, 10, 21), 0);
    isolate_alice(&w);
    run_for(&w, 15 * MTE_SEC);
    struct drbd_volume_info a = vinfo(&w, 0, 0);
    assert_false(a.quorum);
    assert_int_equal(write_blocks(&w, 0, 0, 100, 1, 22), -EIO);
    char *s = drbd_status(w.nodes[0].d, NULL, 0);
    assert_non_null(strstr(s, "quorum:no"));
    umc_free(w.nodes[0].n, s);
    /* the other two still have a majority: bob may take over */
    assert_true(vinfo(&w, 1, 0).quorum);
    assert_int_equal(cmd(&w, 1, "primary"), 0);
    assert_int_equal(open_dev(&w, 1, 0, true), 0);
    assert_int_equal(write_blocks(&w, 1, 0, 200, 5, 23), 0);
    close_dev(&w, 1, 0, true);
    assert_int_equal(cmd(&w, 1, "secondary"), 0);
    close_dev(&w, 0, 0, true);
    assert_int_equal(cmd(&w, 0, "secondary"), 0);
    heal_alice(&w);
    assert_true(wait_in_sync(&w, 0, 120 * MTE_SEC));
    all_same(&w);
    world_free(&w);
}

static void quorum_loss_suspend_io(void **state)
{
    struct world w;
    trio(&w, 84, "  options { quorum majority; on-no-quorum suspend-io; }\n");
    assert_int_equal(open_dev(&w, 0, 0, true), 0);
    isolate_alice(&w);
    run_for(&w, 15 * MTE_SEC);
    assert_false(vinfo(&w, 0, 0).quorum);
    assert_true(vinfo(&w, 0, 0).suspended); /* before any I/O waits: new I/O would */
    unsigned char buf[4096];
    fill_block(buf, 31, 7);
    struct io io;
    io_start(&io, dev_of(&w, 0, 0), UMC_OP_WRITE, 7 * 4096, buf, 4096, 0);
    run_for(&w, 20 * MTE_SEC);
    assert_false(io.done); /* suspended, not failed */
    assert_true(vinfo(&w, 0, 0).suspended);
    char *s = drbd_status(w.nodes[0].d, NULL, 0);
    assert_non_null(strstr(s, "suspended:quorum"));
    umc_free(w.nodes[0].n, s);
    heal_alice(&w);
    assert_int_equal(io_wait(&w, &io, 60 * MTE_SEC), 0);
    assert_true(wait_in_sync(&w, 0, 60 * MTE_SEC));
    all_same(&w);
    close_dev(&w, 0, 0, true);
    world_free(&w);
}

static bool bob_carol_in_sync(struct world *w, enum drbd_disk_state bob_disk)
{
    struct drbd_volume_info b = vinfo(w, 1, 0), c = vinfo(w, 2, 0);
    const struct drbd_peer_info *bc = pinfo(&b, "carol"), *cb = pinfo(&c, "bob");
    return b.disk == bob_disk && c.disk == DRBD_D_UP_TO_DATE && bc && cb &&
           bc->repl == DRBD_R_ESTABLISHED && cb->repl == DRBD_R_ESTABLISHED && !bc->out_of_sync &&
           !cb->out_of_sync;
}

static bool pred_bob_carol_in_sync(struct world *w, void *arg)
{
    return bob_carol_in_sync(w, DRBD_D_UP_TO_DATE);
}

/* bob has all carol has, but the primary carol replicates does not reach
 * bob: it may write more any moment, so bob is Outdated */
static bool pred_bob_relayed_by_carol(struct world *w, void *arg)
{
    return bob_carol_in_sync(w, DRBD_D_OUTDATED);
}

/* The primary loses bob first and completes writes with carol only, then
 * loses carol too.  Bob and carol compare the last write of alice each
 * applied: carol has more and resyncs bob, before anyone is promoted. */
static void lost_primary_reconcile(void **state)
{
    struct world w;
    trio(&w, 85, "  net { ping-int 1; ping-timeout 5; }\n");
    assert_int_equal(open_dev(&w, 0, 0, true), 0);
    assert_int_equal(write_blocks(&w, 0, 0, 0, 50, 41), 0);
    run_for(&w, MTE_SEC);
    faultnet_partition(w.fn, "alice", "bob", FAULTNET_BOTH);
    assert_int_equal(write_blocks(&w, 0, 0, 100, 20, 42), 0); /* on alice and carol only */
    faultnet_partition(w.fn, "alice", "carol", FAULTNET_BOTH);
    run_for(&w, 10 * MTE_SEC);
    assert_true(traced(&w, "r0 bob: both lost alice"));
    assert_true(traced(&w, "r0 carol: both lost alice"));
    assert_true(traced(&w, "drbd1 bob: resyncing the blocks it may miss"));
    assert_true(wait_for(&w, pred_bob_carol_in_sync, NULL, 30 * MTE_SEC));
    all_same(&w);
    /* bob takes over with every write alice acknowledged */
    assert_int_equal(cmd(&w, 1, "primary"), 0);
    close_dev(&w, 0, 0, true);
    assert_int_equal(cmd(&w, 0, "secondary"), 0);
    heal_alice(&w);
    assert_true(wait_in_sync(&w, 0, 60 * MTE_SEC));
    all_same(&w);
    world_free(&w);
}

/* Writes of the primary that bob does not get (the primary lost it, bob and
 * carol are still connected) are marked on carol, and carol, fed by the
 * primary, resyncs them to bob; bob ends Outdated until the primary reaches
 * it again. */
static void secondary_relays_to_unreachable_peer(void **state)
{
    struct world w;
    trio(&w, 86, "  net { ping-int 1; ping-timeout 5; }\n");
    assert_int_equal(open_dev(&w, 0, 0, true), 0);
    assert_int_equal(write_blocks(&w, 0, 0, 0, 20, 51), 0);
    run_for(&w, MTE_SEC);
    /* confirmed by both: nothing marked on the secondaries */
    struct drbd_volume_info c = vinfo(&w, 2, 0);
    assert_int_equal(pinfo(&c, "bob")->out_of_sync, 0);
    faultnet_partition(w.fn, "alice", "bob", FAULTNET_BOTH);
    assert_int_equal(write_blocks(&w, 0, 0, 300, 8, 52), 0);
    run_for(&w, 2 * MTE_SEC);
    assert_true(traced(&w, "drbd1 bob: resyncing the blocks it may miss"));
    assert_true(wait_for(&w, pred_bob_relayed_by_carol, NULL, 30 * MTE_SEC));
    assert_true(traced(&w, "drbd1 carol: its primary does not reach us: Outdated"));
    all_same(&w);
    assert_int_equal(vinfo(&w, 0, 0).peers[0].out_of_sync >= 8 * 4096, 1); /* alice still owes bob */
    close_dev(&w, 0, 0, true);
    faultnet_heal(w.fn, "alice", "bob");
    assert_true(wait_in_sync(&w, 0, 60 * MTE_SEC));
    all_same(&w);
    world_free(&w);
}

/* bob and carol left alice at different data generations; they resync from
 * alice at once, each with its own sync UUID, while cut off from each other.
 * When they meet mid-way, both Inconsistent, they are no split brain: the
 * handshake waits until one is UpToDate, and all three end in sync. */
static void two_resync_targets_meet(void **state)
{
    struct world w;
    world_init(&w, 86, 3, 1, 32 * MIB, "  disk { c-plan-ahead 0; resync-rate 2M; }\n"
               "  net { connect-int 1; ping-int 1; ping-timeout 5; }\n", true);
    capture_trace(&w);
    bring_up(&w);
    run_for(&w, MTE_SEC);
    assert_int_equal(cmd_full(&w, 0, "primary", NULL, -1, true, false, NULL, 0), 0);
    assert_true(wait_in_sync(&w, 0, 120 * MTE_SEC));
    assert_int_equal(open_dev(&w, 0, 0, true), 0);
    assert_int_equal(cmd(&w, 1, "disconnect"), 0);
    assert_int_equal(write_blocks(&w, 0, 0, 0, 1000, 21), 0);
    assert_int_equal(cmd(&w, 2, "disconnect"), 0);
    assert_int_equal(write_blocks(&w, 0, 0, 2000, 2000, 22), 0);
    faultnet_partition(w.fn, "bob", "carol", FAULTNET_BOTH);
    assert_int_equal(cmd(&w, 1, "connect"), 0);
    assert_int_equal(cmd(&w, 2, "connect"), 0);
    run_for(&w, 500 * MTE_MSEC);
    assert_int_equal(vinfo(&w, 1, 0).disk, DRBD_D_INCONSISTENT);
    assert_int_equal(vinfo(&w, 2, 0).disk, DRBD_D_INCONSISTENT);
    faultnet_heal(w.fn, "bob", "carol");
    assert_true(wait_in_sync(&w, 0, 60 * MTE_SEC));
    assert_false(traced(&w, "Split-Brain detected"));
    all_same(&w);
    close_dev(&w, 0, 0, true);
    world_free(&w);
}

/* A Primary that is a SyncTarget (Inconsistent, resyncing from carol) meets
 * alice, who lost quorum as Primary and is behind, but UpToDate: she has not
 * met carol yet.  "By disk states" must not make the Inconsistent Primary
 * the target of stale alice (that resync would carry alice's old copies of
 * bob's new blocks over them): the handshake waits until bob is UpToDate,
 * then alice resyncs from bob. */
static void inconsistent_primary_not_target_of_stale_node(void **state)
{
    struct world w;
    world_init(&w, 87, 3, 1, 32 * MIB, "  disk { c-plan-ahead 0; resync-rate 2M; }\n"
               "  net { connect-int 1; ping-int 1; ping-timeout 5; }\n"
               "  options { quorum majority; on-no-quorum io-error; }\n", true);
    capture_trace(&w);
    bring_up(&w);
    run_for(&w, MTE_SEC);
    assert_int_equal(cmd_full(&w, 0, "primary", NULL, -1, true, false, NULL, 0), 0);
    assert_true(wait_in_sync(&w, 0, 120 * MTE_SEC));
    isolate_alice(&w);
    run_for(&w, 10 * MTE_SEC);
    assert_false(vinfo(&w, 0, 0).quorum);
    assert_int_equal(cmd(&w, 0, "secondary"), 0);
    /* bob throws its data away and resyncs from carol; promoted meanwhile */
    assert_int_equal(cmd(&w, 1, "invalidate"), 0);
    run_for(&w, 200 * MTE_MSEC);
    assert_int_equal(vinfo(&w, 1, 0).disk, DRBD_D_INCONSISTENT);
    assert_int_equal(cmd(&w, 1, "primary"), 0);
    assert_int_equal(open_dev(&w, 1, 0, true), 0);
    assert_int_equal(write_blocks(&w, 1, 0, 300, 4, 31), 0);
    faultnet_heal(w.fn, "alice", "bob");
    run_for(&w, 3 * MTE_SEC);
    assert_int_equal(vinfo(&w, 0, 0).disk, DRBD_D_UP_TO_DATE);
    /* alice is behind bob, but bob cannot be a source yet: no resync */
    assert_true(traced(&w, "alice drbd: ERROR: drbd1 bob: The peer shall become SyncSource, but it is inconsistent!"));
    assert_false(traced(&w, "due to disk states"));
    struct drbd_volume_info a = vinfo(&w, 0, 0);
    assert_string_equal(a.peers[0].name, "bob");
    assert_string_equal(a.peers[0].last_drop, "The peer shall become SyncSource, but it is inconsistent!");
    assert_int_equal(vinfo(&w, 1, 0).disk, DRBD_D_INCONSISTENT);
    unsigned char got[4096], want[4096];
    fill_block(want, 31, 301);
    struct io io;
    io_start(&io, dev_of(&w, 1, 0), UMC_OP_READ, 301 * 4096, got, 4096, 0);
    assert_int_equal(io_wait(&w, &io, 10 * MTE_SEC), 0);
    assert_memory_equal(got, want, 4096);
    close_dev(&w, 1, 0, true);
    faultnet_heal(w.fn, "alice", "carol");
    assert_true(wait_in_sync(&w, 0, 120 * MTE_SEC));
    all_same(&w);
    world_free(&w);
}

/* carol lost alice, the Primary, but bob has not noticed yet: an open for
 * write on carol asks the peers, and bob, still connected to a Primary,
 * refuses; carol stays Secondary until bob lets alice go too. */
static void auto_promote_asks_the_peers(void **state)
{
    struct world w;
    trio(&w, 88, "  net { ping-int 1; ping-timeout 5; }\n");
    faultnet_partition(w.fn, "alice", "carol", FAULTNET_BOTH);
    run_for(&w, 3 * MTE_SEC);
    assert_int_not_equal(vinfo(&w, 2, 0).peers[0].conn, DRBD_C_CONNECTED);
    assert_int_equal(vinfo(&w, 1, 0).peers[0].role, DRBD_ROLE_PRIMARY);
    assert_int_equal(open_dev(&w, 2, 0, true), -EAGAIN);
    run_for(&w, 200 * MTE_MSEC);
    assert_int_equal(vinfo(&w, 2, 0).role, DRBD_ROLE_SECONDARY);
    assert_true(traced(&w, "Multiple primaries not allowed by config"));
    assert_int_not_equal(open_dev(&w, 2, 0, true), 0);
    world_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(three_nodes_replicate),
        cmocka_unit_test(primary_crash_failover),
        cmocka_unit_test(quorum_loss_io_error),
        cmocka_unit_test(quorum_loss_suspend_io),
        cmocka_unit_test(lost_primary_reconcile),
        cmocka_unit_test(two_resync_targets_meet),
        cmocka_unit_test(inconsistent_primary_not_target_of_stale_node),
        cmocka_unit_test(secondary_relays_to_unreachable_peer),
        cmocka_unit_test(auto_promote_asks_the_peers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
