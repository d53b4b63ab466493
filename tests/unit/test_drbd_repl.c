/* drbd in the simulator, two nodes: initial full sync, protocol C replication,
 * bitmap resync after a disconnect, crashes and restarts. */
#include "tests/unit/test_drbd_harness.h"

#define FAST "  disk { c-plan-ahead 0; resync-rate 0; }\n"

/* Two nodes up, alice primary (forced), the initial full sync done. */
static void synced_pair(struct world *w, uint64_t seed, const char *extra)
{
    char res[512];
    snprintf(res, sizeof(res), "%s%s", FAST, extra ? extra : "");
    world_init(w, seed, 2, 1, 64 * MIB, res, false);
    bring_up(w);
    run_for(w, MTE_SEC);
    assert_int_equal(cmd_full(w, 0, "primary", NULL, -1, true, false, NULL, 0), 0);
    bool ok = wait_in_sync(w, 0, 60 * MTE_SEC);
    if (!ok)
        dump_status(w);
    assert_true(ok);
}

static void assert_same_data(struct world *w)
{
    struct drbd_volume_info a = vinfo(w, 0, 0);
    uint64_t diff = compare_media(w, 0, 1, 0, a.size);
    if (diff != UINT64_MAX)
        fprintf(stderr, "media differ at %llu\n", (unsigned long long)diff);
    assert_int_equal(diff, UINT64_MAX);
}

static void initial_full_sync(void **state)
{
    struct world w;
    world_init(&w, 1, 2, 1, 64 * MIB, FAST, false);
    bring_up(&w);
    run_for(&w, 2 * MTE_SEC);
    struct drbd_volume_info a = vinfo(&w, 0, 0);
    assert_int_equal(a.disk, DRBD_D_INCONSISTENT);
    assert_int_equal(a.peers[0].conn, DRBD_C_CONNECTED);
    char msg[256];
    assert_int_not_equal(cmd_full(&w, 0, "primary", NULL, -1, false, false, msg, sizeof(msg)), 0);
    assert_non_null(strstr(msg, "Need access to UpToDate data"));
    assert_int_equal(cmd_full(&w, 0, "primary", NULL, -1, true, false, msg, sizeof(msg)), 0);
    assert_true(wait_in_sync(&w, 0, 60 * MTE_SEC));
    assert_same_data(&w);
    world_free(&w);
}

static void protocol_c_writes_replicated(void **state)
{
    struct world w;
    synced_pair(&w, 2, NULL);
    assert_int_equal(open_dev(&w, 0, 0, true), 0);
    assert_int_equal(write_blocks(&w, 0, 0, 0, 300, 7), 0);
    assert_int_equal(write_blocks(&w, 0, 0, 5000, 64, 8), 0);
    assert_int_equal(write_blocks(&w, 0, 0, 100, 10, 9), 0); /* overwrite */
    /* protocol C: completed means on bob's disk already */
    assert_same_data(&w);
    struct drbd_volume_info b = vinfo(&w, 1, 0);
    assert_int_equal(b.role, DRBD_ROLE_SECONDARY);
    assert_int_equal(b.peers[0].role, DRBD_ROLE_PRIMARY);
    /* a write on the secondary is refused */
    assert_int_equal(open_dev(&w, 1, 0, true), -EROFS);
    unsigned char buf[4096] = {0};
    struct io io;
    io_start(&io, dev_of(&w, 1, 0), UMC_OP_WRITE, 0, buf, 4096, 0);
    assert_int_equal(io_wait(&w, &io, MTE_SEC), -EROFS);
    /* a flush goes through */
    io_start(&io, dev_of(&w, 0, 0), UMC_OP_FLUSH, 0, NULL, 0, 0);
    assert_int_equal(io_wait(&w, &io, 10 * MTE_SEC), 0);
    close_dev(&w, 0, 0, true);
    world_free(&w);
}

static void disconnect_writes_reconnect_bitmap_resync(void **state)
{
    struct world w;
    synced_pair(&w, 3, NULL);
    assert_int_equal(open_dev(&w, 0, 0, true), 0);
    assert_int_equal(cmd_full(&w, 0, "disconnect", NULL, -1, false, false, NULL, 0), 0);
    run_for(&w, MTE_SEC);
    assert_int_equal(vinfo(&w, 0, 0).peers[0].conn, DRBD_C_STANDALONE);
    assert_int_equal(write_blocks(&w, 0, 0, 1000, 37, 11), 0);
    assert_int_equal(write_blocks(&w, 0, 0, 9000, 5, 12), 0);
    struct drbd_volume_info a = vinfo(&w, 0, 0);
    assert_int_equal(a.peers[0].out_of_sync, 42 * 4096);
    assert_int_equal(cmd(&w, 0, "connect"), 0);
    assert_true(wait_in_sync(&w, 0, 60 * MTE_SEC));
    a = vinfo(&w, 0, 0);
    /* only the dirty blocks moved */
    assert_int_equal(a.peers[0].resync_total, 42 * 4096);
    assert_same_data(&w);
    close_dev(&w, 0, 0, true);
    world_free(&w);
}

static void secondary_crash_and_restart(void **state)
{
    struct world w;
    synced_pair(&w, 4, NULL);
    assert_int_equal(open_dev(&w, 0, 0, true), 0);
    assert_int_equal(write_blocks(&w, 0, 0, 0, 100, 21), 0);
    /* bob loses power in the middle of writes */
    struct umc_bdev *b = dev_of(&w, 0, 0);
    static unsigned char buf[8][65536];
    struct io ios[8];
    for (int k = 0; k < 8; k++) {
        for (int j = 0; j < 16; j++)
            fill_block(buf[k] + j * 4096, 22, 200 + (uint64_t)k * 16 + (uint64_t)j);
        io_start(&ios[k], b, UMC_OP_WRITE, (200 + (uint64_t)k * 16) * 4096, buf[k], 65536, 0);
    }
    run_for(&w, 150 * MTE_USEC);
    node_crash(&w, 1, true);
    for (int k = 0; k < 8; k++)
        assert_int_equal(io_wait(&w, &ios[k], 60 * MTE_SEC), 0);
    assert_int_equal(write_blocks(&w, 0, 0, 3000, 20, 23), 0);
    node_restart(&w, 1);
    cmd_ok(&w, 1, "up");
    assert_true(wait_in_sync(&w, 0, 120 * MTE_SEC));
    assert_same_data(&w);
    close_dev(&w, 0, 0, true);
    world_free(&w);
}

static void primary_crash_al_resync(void **state)
{
    struct world w;
    synced_pair(&w, 5, NULL);
    assert_int_equal(open_dev(&w, 0, 0, true), 0);
    assert_int_equal(write_blocks(&w, 0, 0, 0, 50, 31), 0);
    struct umc_bdev *b = dev_of(&w, 0, 0);
    static unsigned char buf[8][65536];
    struct io ios[8];
    for (int k = 0; k < 8; k++) {
        for (int j = 0; j < 16; j++)
            fill_block(buf[k] + j * 4096, 32, 2048 + (uint64_t)k * 1024 + (uint64_t)j);
        io_start(&ios[k], b, UMC_OP_WRITE, (2048 + (uint64_t)k * 1024) * 4096, buf[k], 65536, 0);
    }
    run_for(&w, 120 * MTE_USEC);
    node_crash(&w, 0, true);
    run_for(&w, 30 * MTE_SEC);
    node_restart(&w, 0);
    cmd_ok(&w, 0, "up");
    struct drbd_volume_info a = vinfo(&w, 0, 0);
    assert_true(a.peers[0].out_of_sync > 0); /* the activity log's extents */
    bool ok = wait_in_sync(&w, 0, 120 * MTE_SEC);
    if (!ok)
        dump_status(&w);
    assert_true(ok);
    assert_same_data(&w);
    world_free(&w);
}

static void assert_block(struct world *w, int node, uint64_t block, uint32_t tag)
{
    unsigned char got[4096], want[4096];
    struct io io;
    io_start(&io, dev_of(w, node, 0), UMC_OP_READ, block * 4096, got, 4096, 0);
    assert_int_equal(io_wait(w, &io, 10 * MTE_SEC), 0);
    fill_block(want, tag, block);
    assert_memory_equal(got, want, 4096);
}

/* Protocol A acknowledges a write once it is sent.  A planned switchover
 * right after (secondary here, primary there) must not let the new primary
 * read older data, nor have the old primary's write land over its own, while
 * that write is still on its way to its disk: here bob's flushes stall, so
 * the later epochs wait behind the first one's barrier. */
static void protocol_a_switchover_waits_for_late_writes(void **state)
{
    struct world w;
    synced_pair(&w, 6, "  net { protocol A; }\n");
    simdisk_stall_until(w.media[1][0], now_of(&w) + 500 * MTE_MSEC);
    assert_int_equal(open_dev(&w, 0, 0, true), 0);
    for (uint64_t b = 10; b < 13; b++) /* one epoch each */
        assert_int_equal(write_blocks(&w, 0, 0, b, 1, 21), 0);
    mte_time_t acked = now_of(&w);
    close_dev(&w, 0, 0, true);
    assert_int_equal(cmd(&w, 0, "secondary"), 0);
    assert_true(now_of(&w) >= acked + 400 * MTE_MSEC); /* bob confirmed once they landed */
    assert_int_equal(cmd(&w, 1, "primary"), 0);
    for (uint64_t b = 10; b < 13; b++)
        assert_block(&w, 1, b, 21);
    assert_int_equal(open_dev(&w, 1, 0, true), 0);
    assert_int_equal(write_blocks(&w, 1, 0, 12, 1, 22), 0);
    run_for(&w, MTE_SEC);
    assert_block(&w, 1, 12, 22);
    close_dev(&w, 1, 0, true);
    world_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(initial_full_sync),
        cmocka_unit_test(protocol_c_writes_replicated),
        cmocka_unit_test(disconnect_writes_reconnect_bitmap_resync),
        cmocka_unit_test(secondary_crash_and_restart),
        cmocka_unit_test(primary_crash_al_resync),
        cmocka_unit_test(protocol_a_switchover_waits_for_late_writes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
