/* Split brain: detection (rules 10/11), every after-sb-0pri/1pri/2pri policy,
 * and connect --discard-my-data. */
#include "tests/unit/test_drbd_harness.h"

enum winner { UNRESOLVED, ALICE_WINS, BOB_WINS, PRIMARY_REFUSED };

struct sb_case {
    const char *name;
    const char *net;                   /* the net section */
    int alice_changes, bob_changes;    /* 0: only a new current UUID */
    bool alice_primary, bob_primary;   /* roles when they meet again */
    enum winner expect;
};

static const struct sb_case cases[] = {
    {"0pri disconnect", "after-sb-0pri disconnect;", 5, 20, false, false, UNRESOLVED},
    {"0pri discard-younger-primary", "after-sb-0pri discard-younger-primary;", 5, 20, false, false, ALICE_WINS},
    {"0pri discard-older-primary", "after-sb-0pri discard-older-primary;", 5, 20, false, false, BOB_WINS},
    {"0pri discard-zero-changes", "after-sb-0pri discard-zero-changes;", 0, 20, false, false, BOB_WINS},
    {"0pri discard-zero-changes, both changed", "after-sb-0pri discard-zero-changes;", 5, 20, false, false, UNRESOLVED},
    {"0pri discard-least-changes", "after-sb-0pri discard-least-changes;", 5, 20, false, false, BOB_WINS},
    {"0pri discard-least-changes other way", "after-sb-0pri discard-least-changes;", 30, 20, false, false, ALICE_WINS},
    {"0pri discard-node-bob", "after-sb-0pri discard-node-bob;", 30, 20, false, false, ALICE_WINS},
    {"1pri disconnect", "after-sb-1pri disconnect;", 5, 20, true, false, UNRESOLVED},
    {"1pri consensus agrees", "after-sb-0pri discard-least-changes; after-sb-1pri consensus;", 30, 20, true, false, ALICE_WINS},
    {"1pri consensus disagrees", "after-sb-0pri discard-least-changes; after-sb-1pri consensus;", 5, 20, true, false, UNRESOLVED},
    {"1pri discard-secondary", "after-sb-1pri discard-secondary;", 5, 20, true, false, ALICE_WINS},
    {"1pri violently-as0p", "after-sb-0pri discard-least-changes; after-sb-1pri violently-as0p;", 30, 20, true, false, ALICE_WINS},
    {"1pri violently-as0p, primary loses", "after-sb-0pri discard-least-changes; after-sb-1pri violently-as0p;", 5, 20, true, false, BOB_WINS},
    {"1pri call-pri-lost-after-sb", "after-sb-0pri discard-least-changes; after-sb-1pri call-pri-lost-after-sb;", 5, 20, true, false, BOB_WINS},
    {"2pri disconnect", "allow-two-primaries yes; after-sb-2pri disconnect;", 5, 20, true, true, UNRESOLVED},
    {"2pri violently-as0p", "allow-two-primaries yes; after-sb-0pri discard-least-changes; after-sb-2pri violently-as0p;", 5, 20, true, true, BOB_WINS},
    {"1pri disconnect, no policy for a losing primary", "after-sb-0pri discard-least-changes; after-sb-1pri consensus;", 5, 20, true, false, UNRESOLVED},
    {"2pri call-pri-lost-after-sb", "allow-two-primaries yes; after-sb-0pri discard-least-changes; after-sb-2pri call-pri-lost-after-sb;", 5, 20, true, true, BOB_WINS},
};

/* Both sides write while apart; returns with both StandAlone, about to meet. */
static void diverge(struct world *w, const struct sb_case *c)
{
    char res[512];
    snprintf(res, sizeof(res), "  disk { c-plan-ahead 0; resync-rate 0; }\n  net { %s }\n", c->net);
    world_init(w, 40, 2, 1, 64 * MIB, res, false);
    capture_trace(w);
    bring_up(w);
    run_for(w, MTE_SEC);
    assert_int_equal(cmd_full(w, 0, "primary", NULL, -1, true, false, NULL, 0), 0);
    assert_true(wait_in_sync(w, 0, 60 * MTE_SEC));
    /* the secondary leaves first: a primary leaving gracefully would outdate it */
    assert_int_equal(cmd(w, 1, "disconnect"), 0);
    assert_int_equal(cmd(w, 0, "disconnect"), 0);
    if (c->alice_changes) {
        assert_int_equal(open_dev(w, 0, 0, true), 0);
        assert_int_equal(write_blocks(w, 0, 0, 0, (uint64_t)c->alice_changes, 100), 0);
        close_dev(w, 0, 0, true);
    } else {
        assert_int_equal(cmd(w, 0, "new-current-uuid"), 0);
    }
    run_for(w, MTE_SEC); /* auto-demote after the close */
    if (!c->alice_primary)
        assert_int_equal(cmd(w, 0, "secondary"), 0);
    else
        assert_int_equal(cmd(w, 0, "primary"), 0);
    assert_int_equal(cmd(w, 1, "primary"), 0);
    assert_int_equal(open_dev(w, 1, 0, true), 0);
    assert_int_equal(write_blocks(w, 1, 0, 2000, (uint64_t)c->bob_changes, 200), 0);
    close_dev(w, 1, 0, true);
    run_for(w, MTE_SEC);
    if (!c->bob_primary)
        assert_int_equal(cmd(w, 1, "secondary"), 0);
    else
        assert_int_equal(cmd(w, 1, "primary"), 0);
}

static uint32_t tag_of_block(struct world *w, int node, uint64_t block)
{
    unsigned char b[4096];
    simdisk_read(w->media[node][0], block * 4096, b, sizeof(b));
    uint32_t tag;
    memcpy(&tag, b, 4);
    return tag;
}

static void run_case(const struct sb_case *c)
{
    struct world w;
    diverge(&w, c);
    assert_int_equal(cmd(&w, 0, "connect"), 0);
    assert_int_equal(cmd(&w, 1, "connect"), 0);
    run_for(&w, 30 * MTE_SEC);
    struct drbd_volume_info a = vinfo(&w, 0, 0), b = vinfo(&w, 1, 0);
    bool ok = true;
    switch (c->expect) {
    case UNRESOLVED:
    case PRIMARY_REFUSED:
        ok = a.peers[0].conn == DRBD_C_STANDALONE && b.peers[0].conn == DRBD_C_STANDALONE;
        ok = ok && traced(&w, c->expect == UNRESOLVED
                                  ? "Split-Brain detected but unresolved, dropping connection!"
                                  : "I shall become SyncTarget, but I am primary!");
        break;
    case ALICE_WINS:
    case BOB_WINS:
        ok = all_in_sync(&w, 0) && compare_media(&w, 0, 1, 0, a.size) == UINT64_MAX;
        ok = ok && traced(&w, "Split-Brain detected");
        if (c->expect == ALICE_WINS)
            ok = ok && tag_of_block(&w, 1, 2000) != 200 &&
                 (c->alice_changes == 0 || tag_of_block(&w, 1, 0) == 100);
        else
            ok = ok && tag_of_block(&w, 0, 2000) == 200 && tag_of_block(&w, 0, 0) != 100;
        break;
    }
    if (!ok) {
        fprintf(stderr, "split-brain case '%s' failed\n", c->name);
        dump_status(&w);
    }
    assert_true(ok);
    world_free(&w);
}

static void after_sb_policies(void **state)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(&cases[i]);
}

/* Unresolved, each side finds it by itself (as DRBD's nodes do): the higher
 * node id does not depend on the lower one's word, which a fault could lose
 * with the connection and leave it Connecting for ever. */
static void unresolved_found_by_both(void **state)
{
    struct world w;
    const struct sb_case c = {"both", "after-sb-0pri disconnect;", 5, 20, false, false, UNRESOLVED};
    diverge(&w, &c);
    assert_int_equal(cmd(&w, 0, "connect"), 0);
    assert_int_equal(cmd(&w, 1, "connect"), 0);
    run_for(&w, 20 * MTE_SEC);
    assert_true(traced(&w, "alice drbd: ERROR: drbd1 bob: Split-Brain detected but unresolved"));
    assert_true(traced(&w, "bob drbd: ERROR: drbd1 alice: Split-Brain detected but unresolved"));
    assert_int_equal(vinfo(&w, 1, 0).peers[0].conn, DRBD_C_STANDALONE);
    world_free(&w);
}

static void discard_my_data(void **state)
{
    struct world w;
    const struct sb_case c = {"manual", "after-sb-0pri disconnect;", 5, 20, false, false, UNRESOLVED};
    diverge(&w, &c);
    assert_int_equal(cmd(&w, 0, "connect"), 0);
    assert_int_equal(cmd(&w, 1, "connect"), 0);
    run_for(&w, 20 * MTE_SEC);
    assert_int_equal(vinfo(&w, 0, 0).peers[0].conn, DRBD_C_STANDALONE);
    assert_int_equal(vinfo(&w, 1, 0).peers[0].conn, DRBD_C_STANDALONE);
    /* bob gives up its changes */
    assert_int_equal(cmd_full(&w, 1, "connect", NULL, -1, false, true, NULL, 0), 0);
    assert_int_equal(cmd(&w, 0, "connect"), 0);
    assert_true(wait_in_sync(&w, 0, 60 * MTE_SEC));
    assert_true(traced(&w, "Split-Brain detected, manually solved. Sync from this node"));
    assert_int_equal(compare_media(&w, 0, 1, 0, vinfo(&w, 0, 0).size), UINT64_MAX);
    assert_int_equal(tag_of_block(&w, 1, 0), 100);
    assert_int_not_equal(tag_of_block(&w, 1, 2000), 200);
    world_free(&w);
}

/* Rule 11: no common bitmap UUID, only history: never auto-resolved. */
static void unrelated_data_refused(void **state)
{
    struct world w;
    world_init(&w, 41, 2, 1, 64 * MIB, "  disk { c-plan-ahead 0; resync-rate 0; }\n", false);
    capture_trace(&w);
    for (int i = 0; i < 2; i++)
        cmd_ok(&w, i, "create-md");
    /* both make their own data before ever meeting */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(cmd(&w, i, "up"), 0);
        assert_int_equal(cmd(&w, i, "disconnect"), 0);
        assert_int_equal(cmd_full(&w, i, "primary", NULL, -1, true, false, NULL, 0), 0);
        assert_int_equal(cmd(&w, i, "secondary"), 0);
    }
    assert_int_equal(cmd(&w, 0, "connect"), 0);
    assert_int_equal(cmd(&w, 1, "connect"), 0);
    run_for(&w, 20 * MTE_SEC);
    assert_true(traced(&w, "Unrelated data, aborting!"));
    assert_int_equal(vinfo(&w, 0, 0).peers[0].conn, DRBD_C_STANDALONE);
    world_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(after_sb_policies),
        cmocka_unit_test(unresolved_found_by_both),
        cmocka_unit_test(discard_my_data),
        cmocka_unit_test(unrelated_data_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
