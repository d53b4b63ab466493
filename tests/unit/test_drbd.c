/* drbd units: the .res parser, the generation-UUID rules, the bitmap and its
 * run-length coding, the superblock codec, state transitions. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "drbd/drbd_int.h"

static struct mte_engine *eng;
static struct umc_node *node;

static int setup(void **state)
{
    eng = mte_engine_new(MTE_CLOCK_VIRTUAL, 1);
    struct umc_node_opts o = {.name = "t", .seed = 1, .print_level = UMC_LOG_ERROR};
    node = umc_node_new(eng, &o);
    return 0;
}

static int teardown(void **state)
{
    assert_int_equal(umc_node_free(node), 0);
    mte_engine_free(eng);
    return 0;
}

/* ---- the .res parser ------------------------------------------------------------------------ */

/* The seed's r0.res, byte for byte (tabs, comments, the stray indent). */
static const char seed_r0[] =
    "# /etc/drbd.d/r0.res\n"
    "\n"
    "resource r0 {\n"
    "    on blackbox {\n"
    "\tnode-id\t\t\t0;\n"
    "\taddress\t\t\t172.28.128.1:7788;\n"
    "\tvolume 0 {\n"
    "\t    device\t\tdrbd1 minor 1;\n"
    "\t    disk\t\t\"/UMCfuse/dev/tcmu001\";\n"
    "\t    meta-disk\t\tinternal;\n"
    "\t}\n"
    "    }\n"
    "\n"
    "    on vagrant {\n"
    "\tnode-id\t\t\t1;\n"
    "\taddress\t\t\t172.28.128.3:7788;\n"
    "\tvolume 0 {\n"
    "\t    device\t\tdrbd1 minor 1;\n"
    "            disk\t\t\"/UMCfuse/dev/tcmu001\";\n"
    "\t    meta-disk\t\tinternal;\n"
    "\t }\n"
    "    }\n"
    "\n"
    "    disk {\n"
    "\t# Put the \"c-plan-ahead 0\" line first or the others will be silently ignored\n"
    "\tc-plan-ahead\t\t0;\t\t\t# do not use plan-ahead algorithm\n"
    "\tresync-rate\t\t40000K;\t\t\t# max bytes/second for resync\n"
    "\tc-min-rate\t\t0k;\t\t\t# min bytes/second for app\n"
    "    }\n"
    "}\n";

static void seed_r0_parses(void **state)
{
    struct drbd_cfg_file f;
    char err[256] = "";
    assert_int_equal(drbd_config_parse(node, seed_r0, "r0.res", &f, err, sizeof(err)), 0);
    assert_int_equal(f.nres, 1);
    const struct drbd_res_cfg *r = f.res[0];
    assert_string_equal(r->name, "r0");
    assert_int_equal(r->nhosts, 2);
    assert_string_equal(r->hosts[0].name, "blackbox");
    assert_int_equal(r->hosts[0].node_id, 0);
    assert_string_equal(r->hosts[0].address, "172.28.128.1:7788");
    assert_string_equal(r->hosts[1].name, "vagrant");
    assert_int_equal(r->hosts[1].node_id, 1);
    assert_int_equal(r->hosts[1].nvols, 1);
    assert_int_equal(r->hosts[1].vols[0].minor, 1);
    assert_string_equal(r->hosts[1].vols[0].device, "drbd1");
    assert_string_equal(r->hosts[1].vols[0].disk, "/UMCfuse/dev/tcmu001");
    assert_true(r->hosts[1].vols[0].meta_internal);
    assert_int_equal(r->disk.c_plan_ahead, 0);
    assert_int_equal(r->disk.resync_rate, 40000ull * 1024);
    assert_int_equal(r->disk.c_min_rate, 0);
    /* the defaults DRBD 9 documents */
    assert_int_equal(r->net.protocol, 'C');
    assert_int_equal(r->net.ping_int, 10);
    assert_int_equal(r->net.ping_timeout, 5);
    assert_int_equal(r->net.timeout, 60);
    assert_int_equal(r->net.connect_int, 10);
    assert_int_equal(r->net.ko_count, 7);
    assert_int_equal(r->net.max_epoch_size, 2048);
    assert_int_equal(r->disk.al_extents, 1237);
    assert_int_equal(r->disk.c_max_rate, 100ull * 1024 * 1024);
    assert_int_equal(r->opts.quorum, QUORUM_OFF);
    assert_true(r->opts.auto_promote);
    assert_int_equal(r->net.after_sb_0pri, ASB_DISCONNECT);
    assert_int_equal(r->nconns, 1);
    drbd_config_free(node, &f);
}

static const char mesh3[] =
    "common { net { ping-int 5; } }\n"
    "resource r1 {\n"
    "  net { protocol A; after-sb-0pri discard-least-changes; after-sb-1pri discard-secondary;\n"
    "        after-sb-2pri call-pri-lost-after-sb; verify-alg crc32c; csums-alg sha1;\n"
    "        allow-two-primaries no; max-epoch-size 100; ko-count 3; timeout 40;\n"
    "        tcp-congestion-control reno; }\n"
    "  disk { c-plan-ahead 20; c-fill-target 1M; c-max-rate 1G; c-min-rate 4M; al-extents 64;\n"
    "         on-io-error pass_on; }\n"
    "  options { quorum majority; on-no-quorum io-error; auto-promote no; }\n"
    "  volume 0 { device minor 10; disk /dev/a; meta-disk internal; }\n"
    "  volume 1 { device /dev/drbd11 minor 11; disk \"/dev/b\"; meta-disk internal; }\n"
    "  on a { node-id 0; address ipv4 10.0.0.1:7000; }\n"
    "  on b { node-id 1; address 10.0.0.2:7000; volume 1 { disk /dev/bb; } }\n"
    "  on c { node-id 2; address 10.0.0.3:7000; }\n"
    "  connection-mesh { hosts a b c; net { protocol C; } }\n"
    "  connection { host a address 10.0.1.1:7001; host c port 7002; net { ko-count 9; } }\n"
    "}\n";

static const struct drbd_cfg_conn *find_conn(const struct drbd_res_cfg *r, int a, int b)
{
    for (int i = 0; i < r->nconns; i++)
        if ((r->conns[i].a == a && r->conns[i].b == b) || (r->conns[i].a == b && r->conns[i].b == a))
            return &r->conns[i];
    return NULL;
}

static void mesh_of_three_parses(void **state)
{
    struct drbd_cfg_file f;
    char err[256] = "";
    int rc = drbd_config_parse(node, mesh3, "mesh.res", &f, err, sizeof(err));
    if (rc)
        fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, 0);
    const struct drbd_res_cfg *r = f.res[0];
    assert_int_equal(r->nhosts, 3);
    assert_int_equal(r->nconns, 3);
    assert_int_equal(r->net.protocol, 'A');
    assert_int_equal(r->net.ping_int, 5); /* from common */
    assert_int_equal(r->net.after_sb_0pri, ASB_DISCARD_LEAST_CHG);
    assert_int_equal(r->net.after_sb_1pri, ASB_DISCARD_SECONDARY);
    assert_int_equal(r->net.after_sb_2pri, ASB_CALL_HELPER);
    assert_int_equal(r->net.verify_alg, ALG_CRC32C);
    assert_int_equal(r->net.csums_alg, ALG_SHA1);
    assert_string_equal(r->net.tcp_congestion, "reno");
    assert_int_equal(r->disk.c_fill_target, (1024ull * 1024));
    assert_int_equal(r->disk.c_max_rate, 1024ull * 1024 * 1024);
    assert_int_equal(r->disk.on_io_error, EP_PASS_ON);
    assert_int_equal(r->opts.quorum, QUORUM_MAJORITY);
    assert_int_equal(r->opts.on_no_quorum, ONQ_IO_ERROR);
    assert_false(r->opts.auto_promote);
    assert_int_equal(r->hosts[0].nvols, 2);
    assert_int_equal(r->hosts[0].vols[0].minor, 10);
    assert_string_equal(r->hosts[0].vols[0].device, "drbd10");
    assert_string_equal(r->hosts[0].vols[1].device, "drbd11");
    assert_string_equal(r->hosts[1].vols[1].disk, "/dev/bb");
    assert_string_equal(r->hosts[2].vols[1].disk, "/dev/b");
    const struct drbd_cfg_conn *ac = find_conn(r, 0, 2);
    assert_non_null(ac);
    assert_int_equal(ac->net.ko_count, 9);
    assert_string_equal(ac->net.tcp_congestion, "reno");
    assert_int_equal(ac->net.protocol, 'C'); /* mesh net over resource net */
    assert_string_equal(ac->a == 0 ? ac->addr_a : ac->addr_b, "10.0.1.1:7001");
    assert_string_equal(ac->a == 2 ? ac->addr_a : ac->addr_b, "10.0.0.3:7002");
    const struct drbd_cfg_conn *ab = find_conn(r, 0, 1);
    assert_non_null(ab);
    assert_int_equal(ab->net.ko_count, 3);
    assert_int_equal(ab->net.protocol, 'C');
    drbd_config_free(node, &f);
}

struct bad_case {
    const char *text;
    const char *expect; /* substring of the error, which starts with "bad.res:LINE:" */
    int line;
};

#define HOSTS2                                                                                  \
    "  on a { node-id 0; address 10.0.0.1:7000; volume 0 { device drbd1 minor 1; disk /d; "     \
    "meta-disk internal; } }\n"                                                                 \
    "  on b { node-id 1; address 10.0.0.2:7000; volume 0 { device drbd1 minor 1; disk /d; "     \
    "meta-disk internal; } }\n"

static const struct bad_case bad_cases[] = {
    {"resource r0 {\n  on a {\n    node-id 0\n    address 1.2.3.4:1;\n  }\n}\n",
     "expected ';' after node-id", 4},
    {"resource r0 {\n  frobnicate yes;\n}\n", "unknown keyword 'frobnicate'", 2},
    {"resource r0 {\n  on a {\n    volume 0 { disk \"/dev/x; }\n", "unterminated string", 3},
    {"resource r0 {\n" HOSTS2, "missing '}'", 4},
    {"resource r0 {\n" HOSTS2 "  on c { node-id 1; address 10.0.0.3:7000; volume 0 { device drbd1 minor 1; disk /d; meta-disk internal; } }\n}\n",
     "node-id 1 used by", 4},
    {"resource r0 {\n  net { protocol D; }\n" HOSTS2 "}\n", "protocol must be A, B or C", 2},
    {"resource r0 {\n  disk {\n    resync-rate 40000X;\n  }\n" HOSTS2 "}\n", "bad unit", 3},
    {"resource r0 {\n  disk { resync-rate 99999999999999999999999; }\n" HOSTS2 "}\n",
     "expected a number", 2},
    {"resource r0 {\n  net {\n\n    no-such-option 1;\n  }\n" HOSTS2 "}\n",
     "unknown net option 'no-such-option'", 4},
    {"resource r0 {\n" HOSTS2 "  on c { node-id 2; address 10.0.0.3:7000; volume 0 { device drbd1 minor 1; disk /d; meta-disk internal; } }\n}\n",
     "connection-mesh", 1},
    {"resource r0 {\n" HOSTS2 "  connection-mesh {\n    hosts a x;\n  }\n}\n", "unknown host 'x'", 4},
    {"resource r0 {\n  on a { node-id 0; address 1.2.3.4:5;\n    volume 0 { meta-disk /dev/md0; } } }\n",
     "only 'meta-disk internal'", 3},
    {"resource r0 {\n  on a {\n    address 10.0.0.1;\n  }\n}\n", "invalid address", 3},
    {"resource r0 {\n  net {\n    after-sb-1pri discard-zero-changes;\n  }\n" HOSTS2 "}\n",
     "invalid policy", 3},
    {"resource r0 {\n  net { ping-int 0; }\n" HOSTS2 "}\n", "out of range", 2},
    {"resource r0 {\n  net {\n tcp-congestion-control Cubic; }\n" HOSTS2 "}\n",
     "'Cubic' is not an algorithm name", 3},
    {"resource r0 {\n  net { tcp-congestion-control a_very_long_name; }\n" HOSTS2 "}\n",
     "is not an algorithm name", 2},
    {"resource r0 {\n  on a { node-id 0; address 1.2.3.4:5; }\n}\n", "has no volumes", 2},
    {"resource r0 {\n  on a \001 { }\n}\n", "invalid character", 2},
    {"resource r0 {\n" HOSTS2 "}\nresource r0 {\n" HOSTS2 "}\n", "defined twice", 5},
    {"include \"/etc/drbd.d/*.res\";\n", "include is not supported", 1},
    {"resource r0 {\n  net { after-sb-0pri discard-node-zed; }\n" HOSTS2 "}\n",
     "discard-node-zed: no such host", 1},
};

static void malformed_inputs_name_file_and_line(void **state)
{
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        struct drbd_cfg_file f;
        char err[256] = "";
        int rc = drbd_config_parse(node, bad_cases[i].text, "bad.res", &f, err, sizeof(err));
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "bad.res:%d: ", bad_cases[i].line);
        if (rc != -EINVAL || strncmp(err, prefix, strlen(prefix)) != 0 ||
            !strstr(err, bad_cases[i].expect))
            fprintf(stderr, "case %zu: rc %d err '%s' (want %s...%s)\n", i, rc, err, prefix,
                    bad_cases[i].expect);
        assert_int_equal(rc, -EINVAL);
        assert_memory_equal(err, prefix, strlen(prefix));
        assert_non_null(strstr(err, bad_cases[i].expect));
        assert_int_equal(f.nres, 0);
    }
}

/* Mutated versions of a good file: the parser answers, never crashes. */
static void parser_survives_mutations(void **state)
{
    struct mte_rng rng;
    mte_rng_init(&rng, 7, "mutate");
    size_t len = strlen(seed_r0);
    char *buf = malloc(len + 64);
    int ok = 0, bad = 0;
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(buf, seed_r0, len + 1);
        size_t cur = len;
        int edits = 1 + (int)mte_rng_below(&rng, 4);
        for (int e = 0; e < edits && cur > 1; e++) {
            size_t pos = (size_t)mte_rng_below(&rng, cur);
            switch (mte_rng_below(&rng, 3)) {
            case 0: buf[pos] = (char)mte_rng_below(&rng, 256); break;
            case 1: memmove(buf + pos, buf + pos + 1, cur - pos); cur--; break;
            default: {
                static const char ins[] = "{};\"#\n x9Kresourceon";
                if (cur + 1 < len + 60) {
                    memmove(buf + pos + 1, buf + pos, cur - pos + 1);
                    buf[pos] = ins[mte_rng_below(&rng, sizeof(ins) - 1)];
                    cur++;
                }
            }
            }
        }
        buf[cur] = 0;
        struct drbd_cfg_file f;
        char err[256] = "";
        if (drbd_config_parse(node, buf, "m.res", &f, err, sizeof(err)) == 0) {
            ok++;
            drbd_config_free(node, &f);
        } else {
            bad++;
            assert_memory_equal(err, "m.res:", 6);
        }
    }
    free(buf);
    assert_true(ok > 0 && bad > 0);
}

/* ---- generation UUIDs --------------------------------------------------------------------------- */

#define A 0x1111000000000000ull
#define B 0x2222000000000000ull
#define C 0x3333000000000000ull
#define D 0x4444000000000000ull
#define E 0x5555000000000000ull
#define JC UUID_JUST_CREATED

struct uuid_case {
    const char *name;
    struct drbd_uuid_side self, peer;
    bool self_lower;
    int hg, rule;
};

static const struct uuid_case uuid_cases[] = {
    {"1 both just created", {.current = JC}, {.current = JC}, true, HG_NONE, 1},
    {"2 self just created", {.current = JC}, {.current = A}, true, HG_TARGET_FULL, 2},
    {"2 self zero", {.current = 0}, {.current = A}, true, HG_TARGET_FULL, 2},
    {"3 peer just created", {.current = A}, {.current = JC}, true, HG_SOURCE_FULL, 3},
    {"41 resync end missed by peer", {.current = A, .bitmap = B}, {.current = A}, true, HG_SOURCE_BM, 41},
    {"42 resync end missed here", {.current = A}, {.current = A, .bitmap = B}, true, HG_TARGET_BM, 42},
    {"42 an Inconsistent primary still takes its resync", {.current = A, .primary = true, .inconsistent = true},
     {.current = A, .bitmap = B}, true, HG_TARGET_BM, 42},
    {"41 but the peer is primary now", {.current = A, .bitmap = B}, {.current = A, .primary = true}, true,
     HG_TARGET_BM, 41},
    {"42 but I am primary now", {.current = A, .primary = true}, {.current = A, .bitmap = B}, true,
     HG_SOURCE_BM, 42},
    {"43 crashed primary here", {.current = A, .crashed_primary = true}, {.current = A}, false, HG_SOURCE_BM, 43},
    {"43 crashed primary there", {.current = A}, {.current = A, .crashed_primary = true}, true, HG_TARGET_BM, 43},
    {"43 both crashed, lower id", {.current = A, .crashed_primary = true},
     {.current = A, .crashed_primary = true}, true, HG_SOURCE_BM, 43},
    {"43 both crashed, higher id", {.current = A, .crashed_primary = true},
     {.current = A, .crashed_primary = true}, false, HG_TARGET_BM, 43},
    {"44 verify bits, primary here", {.current = A, .bits = 3, .primary = true}, {.current = A, .bits = 3},
     false, HG_SOURCE_BM, 44},
    {"44 verify bits, secondaries", {.current = A, .bits = 1}, {.current = A, .bits = 2}, false,
     HG_TARGET_BM, 44},
    /* the old primary's writes the peer missed: the side with the bits has
     * the data, whatever the node ids (07-failover-protocol-c seed 62) */
    {"44 bits on this side only", {.current = A, .bits = 44}, {.current = A}, false, HG_SOURCE_BM, 44},
    {"44 bits on the peer only", {.current = A}, {.current = A, .bits = 44}, true, HG_TARGET_BM, 44},
    /* a primary with no bits against a secondary with bits it never saw:
     * the secondary is the source (a primary is refused as target) */
    {"44 bits on a secondary, primary here", {.current = A, .primary = true},
     {.current = A, .bits = 7}, true, HG_TARGET_BM, 44},
    /* ...unless both left one generation and converged on this one */
    {"44 converged, primary here", {.current = A, .bitmap = B, .primary = true},
     {.current = A, .bitmap = B, .bits = 7}, true, HG_SOURCE_BM, 44},
    /* a secondary fed by a connected primary holds its data; the other one's
     * bits may only mean its copy is uncertain (its log after a crash) */
    {"45 fed by a primary here", {.current = A, .bits = 14, .fed = true}, {.current = A, .bits = 8059},
     false, HG_SOURCE_BM, 45},
    {"45 both fed: the primary resyncs each", {.current = A, .bits = 14, .fed = true},
     {.current = A, .bits = 8059, .fed = true}, true, HG_NONE, 45},
    {"4 same data", {.current = A}, {.current = A}, true, HG_NONE, 4},
    {"4 primary bit ignored", {.current = A | UUID_PRIMARY}, {.current = A}, true, HG_NONE, 4},
    {"5 peer's bitmap is my current", {.current = A}, {.current = B, .bitmap = A}, true, HG_TARGET_BM, 5},
    {"6 peer rotated its bitmap for a sync", {.current = A},
     {.current = B, .bitmap = A + UUID_NEW_BM_OFFSET}, true, HG_TARGET_BM, 6},
    {"6 peer finished a sync I missed", {.current = A}, {.current = B, .history = {A}}, true, HG_TARGET_BM, 6},
    {"7 my bitmap is peer's current", {.current = B, .bitmap = A}, {.current = A}, true, HG_SOURCE_BM, 7},
    {"8 I rotated for a sync", {.current = B, .bitmap = A + UUID_NEW_BM_OFFSET}, {.current = A}, true,
     HG_SOURCE_BM, 8},
    {"8 I finished a sync peer missed", {.current = B, .history = {A}}, {.current = A}, true, HG_SOURCE_BM, 8},
    {"9 my current in peer's history", {.current = A}, {.current = B, .bitmap = C, .history = {D, A}}, true,
     HG_TARGET_FULL, 9},
    {"9 peer current in my history", {.current = B, .bitmap = C, .history = {D, A}}, {.current = A}, true,
     HG_SOURCE_FULL, 9},
    /* a third node's bitmap UUID is an ancestor too (a rotation raced a disconnect) */
    {"9 peer current is my bitmap UUID for a third node", {.current = B, .bitmap = C, .others = {[2] = A}},
     {.current = A}, true, HG_SOURCE_FULL, 9},
    {"9 my current is the peer's bitmap UUID for a third node", {.current = A},
     {.current = B, .bitmap = C, .others = {[3] = A}}, true, HG_TARGET_FULL, 9},
    {"10 split brain, same bitmap", {.current = B, .bitmap = A}, {.current = C, .bitmap = A}, true,
     HG_SPLIT_BRAIN_AUTO, 10},
    {"11 split brain, common history", {.current = B, .bitmap = D, .history = {E, A}},
     {.current = C, .bitmap = E}, true, HG_SPLIT_BRAIN, 11},
    /* a primary that lost quorum since: the majority went on, it is discarded */
    {"50 split brain, here lost quorum", {.current = B, .bitmap = A, .lost_quorum = true},
     {.current = C, .bitmap = A}, true, HG_TARGET_BM, 50},
    {"51 split brain, the peer lost quorum", {.current = B, .bitmap = D, .history = {E, A}},
     {.current = C, .bitmap = E, .lost_quorum = true}, true, HG_SOURCE_FULL, 51},
    {"12 unrelated", {.current = B, .bitmap = D}, {.current = C, .bitmap = E}, true, HG_UNRELATED, 12},
};

static void uuid_rules_table(void **state)
{
    for (size_t i = 0; i < sizeof(uuid_cases) / sizeof(uuid_cases[0]); i++) {
        const struct uuid_case *uc = &uuid_cases[i];
        int rule = -1;
        int hg = drbd_uuid_compare(&uc->self, &uc->peer, uc->self_lower, &rule);
        if (hg != uc->hg || rule != uc->rule)
            fprintf(stderr, "rule case '%s': got hg %d rule %d, want %d by %d\n", uc->name, hg, rule,
                    uc->hg, uc->rule);
        assert_int_equal(hg, uc->hg);
        assert_int_equal(rule, uc->rule);
        /* seen from the other side, every decision mirrors */
        int rule2 = -1;
        int hg2 = drbd_uuid_compare(&uc->peer, &uc->self, !uc->self_lower, &rule2);
        if (abs(hg) < 100)
            assert_int_equal(hg2, -hg);
        else
            assert_int_equal(hg2, hg);
    }
}

/* ---- bitmap ---------------------------------------------------------------------------------- */

static void bitmap_ranges_and_search(void **state)
{
    struct drbd_bitmap *bm = drbd_bm_new(node, 100000);
    assert_int_equal(drbd_bm_set_range(bm, 10, 20), 11);
    assert_int_equal(drbd_bm_set_range(bm, 15, 70), 50);
    assert_int_equal(bm->set, 61);
    assert_int_equal(drbd_bm_count_range(bm, 0, 99999), 61);
    assert_int_equal(drbd_bm_find_next(bm, 0), 10);
    assert_int_equal(drbd_bm_find_next_zero(bm, 10), 71);
    assert_int_equal(drbd_bm_clear_range(bm, 60, 200), 11);
    assert_true(drbd_bm_test(bm, 59));
    assert_false(drbd_bm_test(bm, 60));
    assert_int_equal(drbd_bm_set_range(bm, 99990, 200000), 10); /* clamped */
    assert_int_equal(drbd_bm_find_next(bm, 60), 99990);
    assert_int_equal(drbd_bm_find_next(bm, 100000), 100000);
    drbd_bm_set_all(bm);
    assert_int_equal(bm->set, 100000);
    drbd_bm_clear_all(bm);
    assert_int_equal(bm->set, 0);
    assert_int_equal(drbd_bm_find_next(bm, 0), 100000);
    drbd_bm_free(node, bm);
}

static void bitmap_rle_round_trip(void **state)
{
    struct mte_rng rng;
    mte_rng_init(&rng, 3, "bm");
    for (int iter = 0; iter < 20; iter++) {
        uint64_t nbits = 1 + mte_rng_below(&rng, 300000);
        struct drbd_bitmap *a = drbd_bm_new(node, nbits), *b = drbd_bm_new(node, nbits);
        int runs = (int)mte_rng_below(&rng, 200);
        for (int k = 0; k < runs; k++) {
            uint64_t s = mte_rng_below(&rng, nbits);
            drbd_bm_set_range(a, s, s + mte_rng_below(&rng, 3000));
        }
        if (iter == 1)
            drbd_bm_set_all(a);
        unsigned char buf[512];
        uint64_t pos = 0;
        while (pos < nbits) {
            uint64_t start = pos;
            size_t len = drbd_bm_rle_encode(a, &pos, buf, sizeof(buf));
            assert_int_equal(drbd_bm_rle_decode(b, start, pos - start, buf, len), 0);
        }
        assert_int_equal(b->set, a->set);
        assert_memory_equal(a->words, b->words, (size_t)a->nwords * 8);
        drbd_bm_free(node, a);
        drbd_bm_free(node, b);
    }
}

static void bitmap_rle_rejects_garbage(void **state)
{
    struct drbd_bitmap *bm = drbd_bm_new(node, 1000);
    const unsigned char too_long[] = {0x90, 0x10};            /* a run of 2064 > 1000 */
    const unsigned char short_runs[] = {5, 5};                /* covers 10 of 1000 */
    const unsigned char endless[] = {0xff, 0xff, 0xff};       /* varint never ends */
    assert_int_equal(drbd_bm_rle_decode(bm, 0, 1000, too_long, sizeof(too_long)), -EPROTO);
    assert_int_equal(drbd_bm_rle_decode(bm, 0, 1000, short_runs, sizeof(short_runs)), -EPROTO);
    assert_int_equal(drbd_bm_rle_decode(bm, 0, 1000, endless, sizeof(endless)), -EPROTO);
    assert_int_equal(drbd_bm_rle_decode(bm, 900, 200, short_runs, sizeof(short_runs)), -EPROTO);
    drbd_bm_free(node, bm);
}

/* ---- superblock --------------------------------------------------------------------------------- */

static void make_md(struct drbd_md *md, struct drbd_layout *l, uint64_t size)
{
    memset(md, 0, sizeof(*md));
    assert_int_equal(drbd_layout_compute(size, 4, l), 0);
    md->flags = MDF_CONSISTENT | MDF_WAS_UP_TO_DATE;
    md->node_id = 2;
    md->nslots = 4;
    md->current_uuid = A | 1;
    md->bitmap_uuid[1] = B;
    md->history[0] = C;
    md->history[7] = D;
    md->al_extents = 1237;
}

static void superblock_round_trip(void **state)
{
    struct drbd_md md, back;
    struct drbd_layout l, l2;
    uint64_t size = 64 * (1024ull * 1024);
    make_md(&md, &l, size);
    assert_true(l.data_size < size && l.data_size % 4096 == 0);
    assert_int_equal(l.bm_offset, l.data_size);
    assert_int_equal(l.sb_offset, size - 4096);
    unsigned char buf[4096];
    drbd_sb_encode(&md, &l, buf);
    char why[160];
    assert_int_equal(drbd_sb_decode(buf, size, &back, &l2, why, sizeof(why)), 0);
    assert_int_equal(back.flags, md.flags);
    assert_int_equal(back.node_id, 2);
    assert_int_equal(back.current_uuid, md.current_uuid);
    assert_int_equal(back.bitmap_uuid[1], B);
    assert_int_equal(back.history[7], D);
    assert_int_equal(l2.data_size, l.data_size);
}

static void resign(unsigned char *buf) { drbd_put_be32(buf + 4092, umc_crc32c(buf, 4092)); }

static void damaged_superblock_refused(void **state)
{
    struct drbd_md md, back;
    struct drbd_layout l, l2;
    uint64_t size = 64 * (1024ull * 1024);
    make_md(&md, &l, size);
    unsigned char good[4096], buf[4096];
    char why[160];
    drbd_sb_encode(&md, &l, good);

    memcpy(buf, good, sizeof(buf));
    buf[0] ^= 1;
    assert_int_equal(drbd_sb_decode(buf, size, &back, &l2, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "no valid meta-data signature"));

    memcpy(buf, good, sizeof(buf));
    buf[100] ^= 0x40; /* a flipped bit anywhere */
    assert_int_equal(drbd_sb_decode(buf, size, &back, &l2, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "checksum"));

    memcpy(buf, good, sizeof(buf));
    drbd_put_be32(buf + 8, 9); /* version */
    resign(buf);
    assert_int_equal(drbd_sb_decode(buf, size, &back, &l2, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "version"));

    memcpy(buf, good, sizeof(buf));
    drbd_put_be32(buf + 24, 99); /* slots */
    resign(buf);
    assert_int_equal(drbd_sb_decode(buf, size, &back, &l2, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "slots"));

    memcpy(buf, good, sizeof(buf));
    drbd_put_be32(buf + 20, 7); /* node id beyond the slots */
    resign(buf);
    assert_int_equal(drbd_sb_decode(buf, size, &back, &l2, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "node-id"));

    memcpy(buf, good, sizeof(buf));
    drbd_put_be64(buf + 32, 12345); /* data size */
    resign(buf);
    assert_int_equal(drbd_sb_decode(buf, size, &back, &l2, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "layout"));

    memcpy(buf, good, sizeof(buf));
    drbd_put_be32(buf + 16, 0x80000000u); /* flags */
    resign(buf);
    assert_int_equal(drbd_sb_decode(buf, size, &back, &l2, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "flags"));

    /* the same superblock on a device of another size */
    assert_int_equal(drbd_sb_decode(good, size * 2, &back, &l2, why, sizeof(why)), -EINVAL);
}

static void digests_known_answers(void **state)
{
    const char *abc = "abc";
    unsigned char out[20];
    /* RFC 3720 / RFC 1321 / FIPS 180-1 test vectors, through drbd's dispatch */
    drbd_digest(ALG_CRC32C, "123456789", 9, out);
    assert_int_equal(drbd_get_be32(out), 0xe3069283u);
    drbd_digest(ALG_MD5, abc, 3, out);
    const unsigned char md5_abc[16] = {0x90, 0x01, 0x50, 0x98, 0x3c, 0xd2, 0x4f, 0xb0,
                                       0xd6, 0x96, 0x3f, 0x7d, 0x28, 0xe1, 0x7f, 0x72};
    assert_memory_equal(out, md5_abc, 16);
    drbd_digest(ALG_SHA1, abc, 3, out);
    const unsigned char sha1_abc[20] = {0xa9, 0x99, 0x3e, 0x36, 0x47, 0x06, 0x81, 0x6a, 0xba, 0x3e,
                                        0x25, 0x71, 0x78, 0x50, 0xc2, 0x6c, 0x9c, 0xd0, 0xd8, 0x9d};
    assert_memory_equal(out, sha1_abc, 20);
    assert_int_equal(drbd_digest_size(ALG_SHA1), 20);
}

/* ---- transitions ------------------------------------------------------------------------------- */

static void conn_transitions(void **state)
{
    /* the normal path and the ways out */
    assert_true(drbd_conn_transition_ok(DRBD_C_STANDALONE, DRBD_C_UNCONNECTED));
    assert_true(drbd_conn_transition_ok(DRBD_C_UNCONNECTED, DRBD_C_CONNECTING));
    assert_true(drbd_conn_transition_ok(DRBD_C_CONNECTING, DRBD_C_CONNECTED));
    assert_true(drbd_conn_transition_ok(DRBD_C_CONNECTED, DRBD_C_NETWORK_FAILURE));
    assert_true(drbd_conn_transition_ok(DRBD_C_NETWORK_FAILURE, DRBD_C_UNCONNECTED));
    assert_true(drbd_conn_transition_ok(DRBD_C_PROTOCOL_ERROR, DRBD_C_DISCONNECTING));
    assert_true(drbd_conn_transition_ok(DRBD_C_DISCONNECTING, DRBD_C_STANDALONE));
    /* every refused one */
    int refused = 0;
    for (int f = DRBD_C_STANDALONE; f <= DRBD_C_CONNECTED; f++)
        for (int t = DRBD_C_STANDALONE; t <= DRBD_C_CONNECTED; t++) {
            bool ok = drbd_conn_transition_ok(f, t);
            if (f == DRBD_C_STANDALONE)
                assert_int_equal(ok, t == DRBD_C_UNCONNECTED);
            if (f == DRBD_C_DISCONNECTING)
                assert_int_equal(ok, t == DRBD_C_STANDALONE);
            if (f >= DRBD_C_TIMEOUT && f <= DRBD_C_TEAR_DOWN)
                assert_int_equal(ok, t == DRBD_C_UNCONNECTED || t == DRBD_C_DISCONNECTING);
            if (t == DRBD_C_CONNECTED)
                assert_int_equal(ok, f == DRBD_C_CONNECTING);
            refused += !ok;
        }
    assert_true(refused > 60);
    assert_false(drbd_conn_transition_ok(DRBD_C_CONNECTED, (enum drbd_conn_state)42));
}

static void repl_transitions(void **state)
{
    assert_true(drbd_repl_transition_ok(DRBD_R_OFF, DRBD_R_ESTABLISHED));
    assert_true(drbd_repl_transition_ok(DRBD_R_WF_BITMAP_S, DRBD_R_SYNC_SOURCE));
    assert_true(drbd_repl_transition_ok(DRBD_R_WF_BITMAP_T, DRBD_R_WF_SYNC_UUID));
    assert_true(drbd_repl_transition_ok(DRBD_R_WF_SYNC_UUID, DRBD_R_SYNC_TARGET));
    assert_true(drbd_repl_transition_ok(DRBD_R_SYNC_TARGET, DRBD_R_ESTABLISHED));
    assert_true(drbd_repl_transition_ok(DRBD_R_ESTABLISHED, DRBD_R_VERIFY_S));
    assert_true(drbd_repl_transition_ok(DRBD_R_SYNC_SOURCE, DRBD_R_PAUSED_SYNC_S));
    /* refused */
    assert_false(drbd_repl_transition_ok(DRBD_R_OFF, DRBD_R_SYNC_SOURCE));
    assert_false(drbd_repl_transition_ok(DRBD_R_OFF, DRBD_R_SYNC_TARGET));
    assert_false(drbd_repl_transition_ok(DRBD_R_WF_BITMAP_T, DRBD_R_SYNC_TARGET));
    assert_false(drbd_repl_transition_ok(DRBD_R_WF_BITMAP_S, DRBD_R_ESTABLISHED));
    assert_false(drbd_repl_transition_ok(DRBD_R_SYNC_SOURCE, DRBD_R_SYNC_TARGET));
    assert_false(drbd_repl_transition_ok(DRBD_R_VERIFY_S, DRBD_R_SYNC_SOURCE));
    assert_false(drbd_repl_transition_ok(DRBD_R_ESTABLISHED, DRBD_R_SYNC_SOURCE));
    assert_false(drbd_repl_transition_ok(DRBD_R_PAUSED_SYNC_T, DRBD_R_SYNC_SOURCE));
    /* losing the connection is allowed from everywhere */
    for (int f = DRBD_R_OFF; f <= DRBD_R_BEHIND; f++)
        assert_true(drbd_repl_transition_ok(f, DRBD_R_OFF));
}

static void disk_transitions(void **state)
{
    assert_true(drbd_disk_transition_ok(DRBD_D_DISKLESS, DRBD_D_ATTACHING));
    assert_true(drbd_disk_transition_ok(DRBD_D_ATTACHING, DRBD_D_CONSISTENT));
    assert_true(drbd_disk_transition_ok(DRBD_D_CONSISTENT, DRBD_D_UP_TO_DATE));
    assert_true(drbd_disk_transition_ok(DRBD_D_UP_TO_DATE, DRBD_D_INCONSISTENT));
    assert_true(drbd_disk_transition_ok(DRBD_D_INCONSISTENT, DRBD_D_UP_TO_DATE));
    /* a resync from a peer whose primary does not reach us */
    assert_true(drbd_disk_transition_ok(DRBD_D_INCONSISTENT, DRBD_D_OUTDATED));
    assert_true(drbd_disk_transition_ok(DRBD_D_UP_TO_DATE, DRBD_D_FAILED));
    assert_true(drbd_disk_transition_ok(DRBD_D_FAILED, DRBD_D_DISKLESS));
    /* refused */
    assert_false(drbd_disk_transition_ok(DRBD_D_DISKLESS, DRBD_D_UP_TO_DATE));
    assert_false(drbd_disk_transition_ok(DRBD_D_INCONSISTENT, DRBD_D_CONSISTENT));
    assert_false(drbd_disk_transition_ok(DRBD_D_UP_TO_DATE, DRBD_D_DISKLESS));
    assert_false(drbd_disk_transition_ok(DRBD_D_FAILED, DRBD_D_UP_TO_DATE));
    assert_false(drbd_disk_transition_ok(DRBD_D_UP_TO_DATE, DRBD_D_CONSISTENT));
    for (int f = DRBD_D_DISKLESS; f <= DRBD_D_UP_TO_DATE; f++)
        assert_false(drbd_disk_transition_ok(f, DRBD_D_UNKNOWN)); /* only peers are DUnknown */
}

static void state_names(void **state)
{
    assert_string_equal(drbd_role_name(DRBD_ROLE_PRIMARY), "Primary");
    assert_string_equal(drbd_conn_name(DRBD_C_NETWORK_FAILURE), "NetworkFailure");
    assert_string_equal(drbd_repl_name(DRBD_R_WF_BITMAP_S), "WFBitMapS");
    assert_string_equal(drbd_repl_name(DRBD_R_PAUSED_SYNC_T), "PausedSyncT");
    assert_string_equal(drbd_disk_name(DRBD_D_UNKNOWN), "DUnknown");
    assert_string_equal(drbd_disk_name(DRBD_D_UP_TO_DATE), "UpToDate");
    assert_string_equal(drbd_disk_name((enum drbd_disk_state)77), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seed_r0_parses),
        cmocka_unit_test(mesh_of_three_parses),
        cmocka_unit_test(malformed_inputs_name_file_and_line),
        cmocka_unit_test(parser_survives_mutations),
        cmocka_unit_test(uuid_rules_table),
        cmocka_unit_test(bitmap_ranges_and_search),
        cmocka_unit_test(bitmap_rle_round_trip),
        cmocka_unit_test(bitmap_rle_rejects_garbage),
        cmocka_unit_test(superblock_round_trip),
        cmocka_unit_test(damaged_superblock_refused),
        cmocka_unit_test(digests_known_answers),
        cmocka_unit_test(conn_transitions),
        cmocka_unit_test(repl_transitions),
        cmocka_unit_test(disk_transitions),
        cmocka_unit_test(state_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
