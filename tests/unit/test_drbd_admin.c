/* drbd admin verbs in the simulator: every refusal with DRBD's wording, opens
 * and auto-promote, meta-data (bitmap, activity log, superblock) surviving a
 * restart through the backing device, status text and events2 lines. */
#include "tests/unit/test_drbd_harness.h"

#define FAST "  disk { c-plan-ahead 0; resync-rate 0; }\n"

static void pair_up(struct world *w, uint64_t seed, const char *extra, bool sync)
{
    char res[512];
    snprintf(res, sizeof(res), "%s%s", FAST, extra ? extra : "");
    world_init(w, seed, 2, 1, 64 * MIB, res, false);
    bring_up(w);
    run_for(w, MTE_SEC);
    if (sync) {
        assert_int_equal(cmd_full(w, 0, "primary", NULL, -1, true, false, NULL, 0), 0);
        assert_true(wait_in_sync(w, 0, 60 * MTE_SEC));
    }
}

static int run_cmd(struct world *w, int i, const char *verb, const char *peer, char *msg)
{
    return cmd_full(w, i, verb, peer, -1, false, false, msg, 256);
}

static void refusals(void **state)
{
    struct world w;
    char msg[256];
    pair_up(&w, 11, NULL, false);
    /* no UpToDate data anywhere yet */
    assert_int_not_equal(run_cmd(&w, 1, "primary", NULL, msg), 0);
    assert_string_equal(msg, "State change failed: (-2) Need access to UpToDate data");
    assert_int_equal(cmd_full(&w, 0, "primary", NULL, -1, true, false, NULL, 0), 0);
    assert_true(wait_in_sync(&w, 0, 60 * MTE_SEC));
    /* a second primary */
    assert_int_not_equal(run_cmd(&w, 1, "primary", NULL, msg), 0);
    assert_non_null(strstr(msg, "(-1) Multiple primaries not allowed by config"));
    /* a writer on the secondary: auto-promote is refused too */
    assert_int_equal(open_dev(&w, 1, 0, true), -EROFS);
    /* demotion while open for write */
    assert_int_equal(open_dev(&w, 0, 0, true), 0);
    assert_int_not_equal(run_cmd(&w, 0, "secondary", NULL, msg), 0);
    assert_non_null(strstr(msg, "device in use"));
    assert_non_null(strstr(msg, "(-12)"));
    assert_int_not_equal(run_cmd(&w, 0, "down", NULL, msg), 0);
    assert_non_null(strstr(msg, "(-12)"));
    close_dev(&w, 0, 0, true);
    /* verify needs verify-alg */
    assert_int_not_equal(run_cmd(&w, 0, "verify", NULL, msg), 0);
    assert_non_null(strstr(msg, "(-14) Need a verify algorithm"));
    /* outdate while connected */
    assert_int_not_equal(run_cmd(&w, 1, "outdate", NULL, msg), 0);
    assert_non_null(strstr(msg, "(-6) Refusing to be Outdated while Connected"));
    /* create-md on an attached device */
    assert_int_not_equal(run_cmd(&w, 1, "create-md", NULL, msg), 0);
    assert_non_null(strstr(msg, "attached"));
    /* disconnect a StandAlone connection */
    assert_int_equal(run_cmd(&w, 0, "disconnect", "bob", msg), 0);
    assert_int_not_equal(run_cmd(&w, 0, "disconnect", "bob", msg), 0);
    assert_non_null(strstr(msg, "(-9) Can not disconnect a StandAlone device"));
    /* resync and verify need a connection */
    assert_int_not_equal(run_cmd(&w, 0, "invalidate-remote", NULL, msg), 0);
    assert_non_null(strstr(msg, "(-15) Need a connection"));
    /* unknown things */
    assert_int_not_equal(run_cmd(&w, 0, "frobnicate", NULL, msg), 0);
    assert_non_null(strstr(msg, "unknown command"));
    struct drbd_cmd c = {.verb = "up", .resource = "nope", .volume = -1};
    struct cmd_result res = {0};
    drbd_command(w.nodes[0].d, &c, cmd_done, &res);
    run_for(&w, 10 * MTE_MSEC);
    assert_true(res.done);
    assert_int_equal(res.rc, -ENOENT);
    assert_non_null(strstr(res.msg, "No such resource"));
    assert_int_not_equal(run_cmd(&w, 0, "connect", "zed", msg), 0);
    world_free(&w);
}

/* `secondary` answers only once the peers know: a `primary` issued on the
 * peer the moment the answer arrives (no time for a state packet to land
 * on its own) must succeed. */
struct handover {
    struct world *w;
    int to;
    struct cmd_result demoted, promoted;
};

static void handover_demoted(void *arg, int rc, const char *msg)
{
    struct handover *h = arg;
    cmd_done(&h->demoted, rc, msg);
    struct drbd_cmd c = {.verb = "primary", .resource = "r0", .volume = -1};
    drbd_command(h->w->nodes[h->to].d, &c, cmd_done, &h->promoted);
}

static void secondary_then_peer_primary(void **state)
{
    struct world w;
    pair_up(&w, 12, NULL, true);
    for (int round = 0; round < 4; round++) {
        int from = round % 2, to = 1 - from;
        struct handover h = {.w = &w, .to = to};
        struct drbd_cmd c = {.verb = "secondary", .resource = "r0", .volume = -1};
        drbd_command(w.nodes[from].d, &c, handover_demoted, &h);
        run_for(&w, MTE_SEC);
        assert_true(h.demoted.done && h.promoted.done);
        assert_int_equal(h.demoted.rc, 0);
        if (h.promoted.rc)
            fprintf(stderr, "round %d: %s\n", round, h.promoted.msg);
        assert_int_equal(h.promoted.rc, 0);
    }
    world_free(&w);
}

/* Tear a node down (drbd, then its backstores) with I/O and an `up` still
 * in flight: nothing may leak and nothing may be touched after free. */
static void free_node_now(struct world *w, int i)
{
    struct hnode *h = &w->nodes[i];
    drbd_free(h->d);
    tcmu_host_free(h->h);
    assert_int_equal(umc_node_free(h->n), 0);
    h->alive = false;
}

static void free_with_io_in_flight(void **state)
{
    struct world w;
    pair_up(&w, 13, NULL, true);
    unsigned char buf[4096] = {1};
    struct io wr, rd;
    assert_int_equal(open_dev(&w, 0, 0, true), 0);
    io_start(&wr, dev_of(&w, 0, 0), UMC_OP_WRITE, 0, buf, sizeof(buf), 0);
    io_start(&rd, dev_of(&w, 0, 0), UMC_OP_READ, 8192, buf, sizeof(buf), 0);
    run_for(&w, 10 * MTE_USEC);
    close_dev(&w, 0, 0, true);
    free_node_now(&w, 0);
    /* the peer: down, then up again, freed while the attach reads meta-data */
    cmd_ok(&w, 1, "down");
    struct drbd_cmd c = {.verb = "up", .resource = "r0", .volume = -1};
    struct cmd_result res = {0};
    drbd_command(w.nodes[1].d, &c, cmd_done, &res);
    run_for(&w, 10 * MTE_USEC);
    free_node_now(&w, 1);
    world_free(&w);
}

static void auto_promote_and_read_only_opens(void **state)
{
    struct world w;
    pair_up(&w, 12, NULL, true);
    assert_int_equal(cmd(&w, 0, "secondary"), 0);
    run_for(&w, MTE_SEC);
    /* a read-only open of an UpToDate secondary is allowed and reads locally */
    assert_int_equal(open_dev(&w, 1, 0, false), 0);
    unsigned char buf[4096];
    struct io io;
    io_start(&io, dev_of(&w, 1, 0), UMC_OP_READ, 0, buf, 4096, 0);
    assert_int_equal(io_wait(&w, &io, MTE_SEC), 0);
    close_dev(&w, 1, 0, false);
    /* opening for write promotes once the peer agreed (the first open asks
     * it and fails with EAGAIN); unclaimed, the promotion is undone */
    assert_int_equal(open_dev(&w, 1, 0, true), -EAGAIN);
    assert_int_equal(vinfo(&w, 1, 0).role, DRBD_ROLE_SECONDARY);
    run_for(&w, 100 * MTE_MSEC);
    assert_int_equal(vinfo(&w, 1, 0).role, DRBD_ROLE_PRIMARY);
    run_for(&w, 3 * MTE_SEC);
    assert_int_equal(vinfo(&w, 1, 0).role, DRBD_ROLE_SECONDARY);
    assert_int_equal(open_dev(&w, 1, 0, true), -EAGAIN);
    run_for(&w, 100 * MTE_MSEC);
    assert_int_equal(open_dev(&w, 1, 0, true), 0);
    assert_int_equal(vinfo(&w, 1, 0).role, DRBD_ROLE_PRIMARY);
    run_for(&w, MTE_SEC);
    assert_int_equal(vinfo(&w, 0, 0).peers[0].role, DRBD_ROLE_PRIMARY);
    /* now alice may not open for write, nor read an Inconsistent... she is UpToDate: reads ok */
    assert_int_equal(open_dev(&w, 0, 0, true), -EROFS);
    assert_int_equal(write_blocks(&w, 1, 0, 10, 4, 3), 0);
    close_dev(&w, 1, 0, true);
    run_for(&w, MTE_SEC);
    assert_int_equal(vinfo(&w, 1, 0).role, DRBD_ROLE_SECONDARY);
    assert_int_equal(vinfo(&w, 0, 0).peers[0].role, DRBD_ROLE_SECONDARY);
    world_free(&w);
}

static void inconsistent_secondary_refuses_readers(void **state)
{
    struct world w;
    pair_up(&w, 13, NULL, false);
    assert_int_equal(open_dev(&w, 1, 0, false), -EMEDIUMTYPE);
    world_free(&w);
}

/* Bits for a disconnected peer survive a clean restart (bitmap on disk) and
 * a crash (activity log). */
static void bitmap_and_al_survive_restarts(void **state)
{
    struct world w;
    pair_up(&w, 14, NULL, true);
    assert_int_equal(cmd(&w, 1, "disconnect"), 0); /* bob stays away until asked */
    run_for(&w, MTE_SEC);
    assert_int_equal(open_dev(&w, 0, 0, true), 0);
    assert_int_equal(write_blocks(&w, 0, 0, 4096, 20, 5), 0);
    close_dev(&w, 0, 0, true);
    uint64_t oos = vinfo(&w, 0, 0).peers[0].out_of_sync;
    assert_int_equal(oos, 20 * 4096);
    /* clean: down, a new process, up */
    node_down_and_free(&w, 0);
    node_restart(&w, 0);
    assert_int_equal(cmd(&w, 0, "up"), 0);
    assert_int_equal(vinfo(&w, 0, 0).peers[0].out_of_sync, oos);
    assert_int_equal(vinfo(&w, 0, 0).disk, DRBD_D_CONSISTENT);
    /* crash while primary with writes in an unwritten bitmap page: the log covers them */
    assert_int_equal(cmd_full(&w, 0, "primary", NULL, -1, true, false, NULL, 0), 0);
    assert_int_equal(open_dev(&w, 0, 0, true), 0);
    assert_int_equal(write_blocks(&w, 0, 0, 8192, 3, 6), 0);
    node_crash(&w, 0, true);
    node_restart(&w, 0);
    assert_int_equal(cmd(&w, 0, "up"), 0);
    struct drbd_volume_info a = vinfo(&w, 0, 0);
    assert_true(a.peers[0].out_of_sync >= oos + 3 * 4096);
    /* and all of it goes to bob on connect */
    assert_int_equal(cmd(&w, 1, "connect"), 0);
    assert_true(wait_in_sync(&w, 0, 60 * MTE_SEC));
    assert_int_equal(compare_media(&w, 0, 1, 0, a.size), UINT64_MAX);
    world_free(&w);
}

/* A Primary that disconnects gracefully outdates the peer it leaves (DRBD 9):
 * the peer cannot be promoted without --force; connected again it is
 * UpToDate.  A Secondary leaving outdates nobody. */
static void primary_disconnect_outdates_peer(void **state)
{
    struct world w;
    char msg[256];
    pair_up(&w, 17, NULL, true);
    assert_int_equal(run_cmd(&w, 1, "disconnect", NULL, msg), 0);
    run_for(&w, MTE_SEC);
    assert_int_equal(vinfo(&w, 0, 0).disk, DRBD_D_UP_TO_DATE);
    assert_int_equal(vinfo(&w, 1, 0).disk, DRBD_D_UP_TO_DATE);
    assert_int_equal(run_cmd(&w, 1, "connect", NULL, msg), 0);
    assert_true(wait_in_sync(&w, 0, 30 * MTE_SEC));
    assert_int_equal(run_cmd(&w, 0, "disconnect", NULL, msg), 0);
    run_for(&w, MTE_SEC);
    assert_int_equal(vinfo(&w, 1, 0).disk, DRBD_D_OUTDATED);
    assert_int_not_equal(run_cmd(&w, 1, "primary", NULL, msg), 0);
    assert_non_null(strstr(msg, "Need access to UpToDate data"));
    assert_int_equal(run_cmd(&w, 0, "connect", NULL, msg), 0);
    assert_true(wait_in_sync(&w, 0, 30 * MTE_SEC));
    assert_int_equal(vinfo(&w, 1, 0).disk, DRBD_D_UP_TO_DATE);
    world_free(&w);
}

/* A clean detach writes the activity log empty and clears the primary mark:
 * attached again the disk resyncs only what its bitmap holds (not every AL
 * extent), and is no crashed primary. */
static void clean_detach_keeps_the_bitmap_exact(void **state)
{
    struct world w;
    pair_up(&w, 18, NULL, true);
    capture_trace(&w);
    assert_int_equal(open_dev(&w, 0, 0, true), 0);
    assert_int_equal(write_blocks(&w, 0, 0, 0, 64, 3), 0);       /* AL extents active */
    assert_int_equal(cmd(&w, 1, "disconnect"), 0);
    assert_int_equal(write_blocks(&w, 0, 0, 4096, 5, 4), 0);     /* 5 blocks bob misses */
    close_dev(&w, 0, 0, true);
    run_for(&w, MTE_SEC);
    /* the 5, and the last epoch bob had not acknowledged when it left */
    uint64_t oos = vinfo(&w, 0, 0).peers[0].out_of_sync;
    assert_true(oos >= 5 * 4096 && oos <= 21 * 4096);
    assert_int_equal(cmd(&w, 0, "secondary"), 0);
    assert_int_equal(cmd(&w, 0, "detach"), 0);
    assert_int_equal(cmd(&w, 0, "attach"), 0);
    assert_false(traced(&w, "based on AL"));
    assert_false(traced(&w, "crashed primary"));
    assert_int_equal(vinfo(&w, 0, 0).peers[0].out_of_sync, oos);
    assert_int_equal(cmd(&w, 1, "connect"), 0);
    assert_true(wait_in_sync(&w, 0, 30 * MTE_SEC));
    char want[64];
    snprintf(want, sizeof(want), "will sync %llu KiB", (unsigned long long)(oos >> 10));
    assert_true(traced(&w, want));
    world_free(&w);
}

static void damaged_superblock_on_device(void **state)
{
    struct world w;
    world_init(&w, 15, 2, 1, 64 * MIB, FAST, false);
    assert_int_equal(cmd(&w, 0, "create-md"), 0);
    unsigned char junk[64];
    memset(junk, 0xa5, sizeof(junk));
    simdisk_poke(w.media[0][0], 64 * MIB - 4096 + 200, junk, sizeof(junk));
    char msg[256];
    assert_int_not_equal(run_cmd(&w, 0, "up", NULL, msg), 0);
    assert_non_null(strstr(msg, "checksum mismatch"));
    assert_int_equal(vinfo(&w, 0, 0).disk, DRBD_D_DISKLESS);
    assert_int_equal(cmd(&w, 0, "down"), 0);
    memset(junk, 0, sizeof(junk));
    simdisk_poke(w.media[0][0], 64 * MIB - 4096, junk, sizeof(junk));
    assert_int_not_equal(run_cmd(&w, 0, "up", NULL, msg), 0);
    assert_non_null(strstr(msg, "no valid meta-data signature"));
    assert_int_equal(cmd(&w, 0, "down"), 0);
    /* create-md refuses to overwrite good meta-data unless forced */
    assert_int_equal(cmd(&w, 1, "create-md"), 0);
    assert_int_not_equal(run_cmd(&w, 1, "create-md", NULL, msg), 0);
    assert_non_null(strstr(msg, "--force"));
    assert_int_equal(cmd_full(&w, 1, "create-md", NULL, -1, true, false, NULL, 0), 0);
    world_free(&w);
}

/* ---- status and events -------------------------------------------------------------------- */

static char *status_of(struct world *w, int i, unsigned flags)
{
    char *s = drbd_status(w->nodes[i].d, NULL, flags);
    char *copy = strdup(s);
    umc_free(w->nodes[i].n, s);
    return copy;
}

static void status_layout(void **state)
{
    struct world w;
    pair_up(&w, 16, "  disk { c-plan-ahead 0; resync-rate 10M; }\n", false);
    char *s = status_of(&w, 0, 0);
    assert_string_equal(s, "r0 role:Secondary\n"
                           "  disk:Inconsistent\n"
                           "  bob role:Secondary\n"
                           "    peer-disk:Inconsistent\n"
                           "\n");
    free(s);
    assert_int_equal(cmd_full(&w, 0, "primary", NULL, -1, true, false, NULL, 0), 0);
    run_for(&w, 3 * MTE_SEC);
    s = status_of(&w, 0, 0);
    assert_memory_equal(s, "r0 role:Primary\n  disk:UpToDate\n  bob role:Secondary\n"
                           "    replication:SyncSource peer-disk:Inconsistent done:", 105);
    free(s);
    assert_true(wait_in_sync(&w, 0, 60 * MTE_SEC));
    assert_int_equal(cmd(&w, 1, "disconnect"), 0);
    run_for(&w, MTE_SEC);
    s = status_of(&w, 0, 0);
    assert_string_equal(s, "r0 role:Primary\n"
                           "  disk:UpToDate\n"
                           "  bob connection:Connecting\n"
                           "\n");
    free(s);
    s = status_of(&w, 1, DRBD_STATUS_VERBOSE | DRBD_STATUS_STATISTICS);
    assert_non_null(strstr(s, "r0 node-id:1 role:Secondary suspended:no\n    write-ordering:flush\n"));
    assert_non_null(strstr(s, "  volume:0 minor:1 disk:UpToDate"));
    assert_non_null(strstr(s, "\n      size:"));
    assert_non_null(strstr(s, "  alice node-id:0 connection:StandAlone role:Unknown congested:no\n"));
    assert_non_null(strstr(s, "    volume:0 replication:Off peer-disk:DUnknown resync-suspended:no\n"
                              "        received:"));
    free(s);
    world_free(&w);
}

struct ev_log {
    char lines[400][200];
    int n;
};

static void ev_line(void *arg, const char *line)
{
    struct ev_log *l = arg;
    if (l->n < 400)
        snprintf(l->lines[l->n++], 200, "%s", line);
}

static bool ev_has(const struct ev_log *l, const char *s)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->lines[i], s) == 0)
            return true;
    return false;
}

static void events2_stream(void **state)
{
    struct world w;
    world_init(&w, 17, 2, 1, 64 * MIB, FAST, false);
    struct ev_log *log = calloc(1, sizeof(*log));
    struct drbd_events *ev = drbd_events_open(w.nodes[0].d, true, ev_line, log);
    assert_int_equal(log->n, 1);
    assert_string_equal(log->lines[0], "exists -");
    bring_up(&w);
    run_for(&w, MTE_SEC);
    assert_true(ev_has(log, "create resource name:r0 role:Secondary suspended:no"));
    assert_true(ev_has(log, "create device name:r0 volume:0 minor:1 backing_dev:/UMCfuse/dev/tcmu000 "
                            "disk:Diskless client:no quorum:yes"));
    assert_true(ev_has(log, "create connection name:r0 peer-node-id:1 conn-name:bob "
                            "connection:StandAlone role:Unknown"));
    assert_true(ev_has(log, "change device name:r0 volume:0 minor:1 disk:Attaching"));
    assert_true(ev_has(log, "change device name:r0 volume:0 minor:1 disk:Inconsistent"));
    assert_true(ev_has(log, "change connection name:r0 peer-node-id:1 conn-name:bob connection:Connected"));
    assert_true(ev_has(log, "change peer-device name:r0 peer-node-id:1 conn-name:bob volume:0 "
                            "replication:Established peer-disk:Inconsistent"));
    assert_int_equal(cmd_full(&w, 0, "primary", NULL, -1, true, false, NULL, 0), 0);
    assert_true(wait_in_sync(&w, 0, 60 * MTE_SEC));
    assert_true(ev_has(log, "change resource name:r0 role:Primary"));
    assert_true(ev_has(log, "change peer-device name:r0 peer-node-id:1 conn-name:bob volume:0 "
                            "replication:SyncSource"));
    assert_true(ev_has(log, "change peer-device name:r0 peer-node-id:1 conn-name:bob volume:0 "
                            "replication:Established peer-disk:UpToDate"));
    /* a late listener gets the current state first */
    struct ev_log *late = calloc(1, sizeof(*late));
    struct drbd_events *ev2 = drbd_events_open(w.nodes[1].d, true, ev_line, late);
    assert_string_equal(late->lines[0], "exists resource name:r0 role:Secondary suspended:no");
    assert_true(ev_has(late, "exists peer-device name:r0 peer-node-id:0 conn-name:alice volume:0 "
                             "replication:Established peer-disk:UpToDate peer-client:no "
                             "resync-suspended:no"));
    assert_string_equal(late->lines[late->n - 1], "exists -");
    drbd_events_close(ev2);
    int before = log->n;
    assert_int_equal(cmd(&w, 0, "secondary"), 0);
    assert_int_equal(cmd(&w, 0, "down"), 0);
    assert_true(log->n > before);
    assert_true(ev_has(log, "destroy resource name:r0"));
    drbd_events_close(ev);
    free(log);
    free(late);
    world_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(refusals),
        cmocka_unit_test(secondary_then_peer_primary),
        cmocka_unit_test(free_with_io_in_flight),
        cmocka_unit_test(auto_promote_and_read_only_opens),
        cmocka_unit_test(inconsistent_secondary_refuses_readers),
        cmocka_unit_test(bitmap_and_al_survive_restarts),
        cmocka_unit_test(primary_disconnect_outdates_peer),
        cmocka_unit_test(clean_detach_keeps_the_bitmap_exact),
        cmocka_unit_test(damaged_superblock_on_device),
        cmocka_unit_test(status_layout),
        cmocka_unit_test(events2_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
