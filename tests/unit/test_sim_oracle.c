/* The simulator's checking core: self-describing payloads, the per-block
 * oracle (acknowledged, in flight, durable, failover prefix), and scenario
 * files that round-trip through the writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sim/iotrace.h"
#include "sim/oracle.h"
#include "sim/payload.h"
#include "sim/scenario.h"

#define UNIT 4096u
#define SPAN (64u * UNIT)


/* ---- payloads -------------------------------------------------------------------------- */

static void payload_names_itself(void **state)
{
    (void)state;
    unsigned char buf[2 * PAYLOAD_SECTOR];
    uint32_t id = 0;
    payload_fill(buf, 100, 2, 7, 42);
    assert_int_equal(payload_decode(buf, 100, 7, &id), PAYLOAD_OK);
    assert_int_equal(id, 42);
    assert_int_equal(payload_decode(buf + PAYLOAD_SECTOR, 101, 7, &id), PAYLOAD_OK);
    assert_int_equal(payload_decode(buf, 101, 7, &id), PAYLOAD_MISPLACED);
    assert_int_equal(payload_decode(buf, 100, 8, &id), PAYLOAD_FOREIGN);
    buf[300] ^= 1;
    assert_int_equal(payload_decode(buf, 100, 7, &id), PAYLOAD_CORRUPT);
    memset(buf, 0, sizeof(buf));
    assert_int_equal(payload_decode(buf, 100, 7, &id), PAYLOAD_ZERO);
}

static void payload_sectors_differ(void **state)
{
    (void)state;
    unsigned char a[PAYLOAD_SECTOR], b[PAYLOAD_SECTOR];
    payload_fill(a, 5, 1, 1, 9);
    payload_fill(b, 5, 1, 1, 10);
    assert_memory_not_equal(a, b, PAYLOAD_SECTOR);
}

/* ---- the oracle: a tiny device in memory ------------------------------------------------ */

struct dev {
    unsigned char data[SPAN];
};

static void dev_write(struct dev *d, struct oracle *o, uint64_t unit, uint32_t id)
{
    payload_fill(d->data + unit * UNIT, unit * UNIT / PAYLOAD_SECTOR, UNIT / PAYLOAD_SECTOR,
                 oracle_tag(o), id);
}

static bool dev_read_ok(struct dev *d, struct oracle *o, uint64_t unit, struct oracle_finding *f)
{
    uint32_t floors[1];
    oracle_read_floors(o, unit, 1, floors);
    return oracle_check(o, unit, 1, floors, d->data + unit * UNIT, f);
}

static void read_media(void *arg, uint64_t offset, void *buf, size_t len)
{
    memcpy(buf, ((struct dev *)arg)->data + offset, len);
}

static const struct oracle_image_check full = {.cutoff = UINT64_MAX};
static const struct oracle_image_check prefix = {.prefix_only = true};
static const struct oracle_image_check prefix_adopt = {.prefix_only = true, .adopt = true};

/* Protocol C after a disconnection: only writes acknowledged while the peer
 * was still replicating must be on it. */
static void image_check_cutoff(void **state)
{
    (void)state;
    static struct dev d;
    memset(&d, 0, sizeof(d));
    struct oracle *o = oracle_new(0, SPAN, UNIT, 3);
    struct oracle_finding f;
    uint32_t early = oracle_write_issue(o, 0, 1);
    dev_write(&d, o, 0, early);
    oracle_write_done(o, early, true, false, 100);
    uint32_t late = oracle_write_issue(o, 1, 1); /* acknowledged after the peer was lost */
    oracle_write_done(o, late, true, false, 300);
    /* a failover at the cutoff leaves the late write behind: the data diverged */
    assert_true(oracle_acked_since(o, 200));
    assert_true(oracle_acked_since(o, 300));
    assert_false(oracle_acked_since(o, 301));
    struct oracle_image_check until200 = {.cutoff = 200};
    assert_true(oracle_check_image(o, read_media, &d, &until200, &f));
    assert_false(oracle_check_image(o, read_media, &d, &full, &f));
    struct oracle_image_check until50 = {.cutoff = 50};
    memset(d.data, 0, UNIT);
    assert_true(oracle_check_image(o, read_media, &d, &until50, &f));
    assert_false(oracle_check_image(o, read_media, &d, &until200, &f));
    oracle_free(o);
}

static void acked_write_must_be_read(void **state)
{
    (void)state;
    static struct dev d;
    memset(&d, 0, sizeof(d));
    struct oracle *o = oracle_new(0, SPAN, UNIT, 3);
    struct oracle_finding f;
    assert_true(dev_read_ok(&d, o, 5, &f)); /* never written: zeros */
    uint32_t w1 = oracle_write_issue(o, 5, 1);
    assert_true(oracle_busy(o, 5, 1));
    dev_write(&d, o, 5, w1);
    oracle_write_done(o, w1, true, false, __LINE__ /* acknowledgement times: increasing in source order */);
    assert_false(oracle_busy(o, 5, 1));
    assert_true(dev_read_ok(&d, o, 5, &f));
    /* a second write acknowledged, but the device still holds the first */
    uint32_t w2 = oracle_write_issue(o, 5, 1);
    oracle_write_done(o, w2, true, false, __LINE__ /* acknowledgement times: increasing in source order */);
    assert_false(dev_read_ok(&d, o, 5, &f));
    assert_int_equal(f.verdict, ORACLE_LOST);
    assert_int_equal(f.found, w1);
    assert_int_equal(f.floor, w2);
    oracle_free(o);
}

static void in_flight_and_failed_writes_may_show(void **state)
{
    (void)state;
    static struct dev d;
    memset(&d, 0, sizeof(d));
    struct oracle *o = oracle_new(0, SPAN, UNIT, 3);
    struct oracle_finding f;
    uint32_t w1 = oracle_write_issue(o, 2, 1);
    oracle_write_done(o, w1, true, false, __LINE__ /* acknowledgement times: increasing in source order */);
    dev_write(&d, o, 2, w1);
    uint32_t w2 = oracle_write_issue(o, 2, 1);
    dev_write(&d, o, 2, w2);                 /* in flight: either is fine */
    assert_true(dev_read_ok(&d, o, 2, &f));
    oracle_write_done(o, w2, false, false, __LINE__ /* acknowledgement times: increasing in source order */);  /* failed: outcome unknown */
    assert_true(dev_read_ok(&d, o, 2, &f));
    dev_write(&d, o, 2, w1);
    assert_true(dev_read_ok(&d, o, 2, &f));
    oracle_free(o);
}

static void garbage_is_corrupt(void **state)
{
    (void)state;
    static struct dev d;
    memset(&d, 0, sizeof(d));
    struct oracle *o = oracle_new(0, SPAN, UNIT, 3);
    struct oracle_finding f;
    memset(d.data + 3 * UNIT, 0x5a, UNIT);
    assert_false(dev_read_ok(&d, o, 3, &f));
    assert_int_equal(f.verdict, ORACLE_CORRUPT);
    assert_int_equal(f.sector, 3 * UNIT / PAYLOAD_SECTOR);
    oracle_free(o);
}

static void crash_keeps_only_durable_writes(void **state)
{
    (void)state;
    static struct dev d;
    memset(&d, 0, sizeof(d));
    struct oracle *o = oracle_new(0, SPAN, UNIT, 3);
    struct oracle_finding f;
    uint32_t w1 = oracle_write_issue(o, 1, 1);
    dev_write(&d, o, 1, w1);
    oracle_write_done(o, w1, true, false, __LINE__ /* acknowledgement times: increasing in source order */);
    uint64_t token = oracle_flush_issue(o);
    oracle_flush_done(o, token, true);        /* w1 durable */
    uint32_t w2 = oracle_write_issue(o, 1, 1);
    oracle_write_done(o, w2, true, false, __LINE__ /* acknowledgement times: increasing in source order */);    /* acknowledged, not flushed */
    assert_false(dev_read_ok(&d, o, 1, &f));  /* w1 on the device: lost w2 */
    oracle_regress_to_durable(o);             /* the cache went with a power loss */
    assert_true(dev_read_ok(&d, o, 1, &f));
    /* but never older than the durable write */
    memset(d.data + UNIT, 0, UNIT);
    assert_false(dev_read_ok(&d, o, 1, &f));
    oracle_free(o);
}

static void fua_is_durable(void **state)
{
    (void)state;
    struct oracle *o = oracle_new(0, SPAN, UNIT, 3);
    static struct dev d;
    memset(&d, 0, sizeof(d));
    struct oracle_finding f;
    uint32_t w1 = oracle_write_issue(o, 0, 1);
    dev_write(&d, o, 0, w1);
    oracle_write_done(o, w1, true, true, __LINE__ /* acknowledgement times: increasing in source order */);
    oracle_regress_to_durable(o);
    memset(d.data, 0, UNIT);
    assert_false(dev_read_ok(&d, o, 0, &f));
    oracle_free(o);
}

/* Protocol C failover: the image must hold every acknowledged write. */
static void image_check_full(void **state)
{
    (void)state;
    static struct dev d;
    memset(&d, 0, sizeof(d));
    struct oracle *o = oracle_new(0, SPAN, UNIT, 3);
    struct oracle_finding f;
    for (uint64_t u = 0; u < 8; u++) {
        uint32_t id = oracle_write_issue(o, u, 1);
        dev_write(&d, o, u, id);
        oracle_write_done(o, id, true, false, __LINE__ /* acknowledgement times: increasing in source order */);
    }
    assert_true(oracle_check_image(o, read_media, &d, &full, &f));
    memset(d.data + 6 * UNIT, 0, UNIT);
    assert_false(oracle_check_image(o, read_media, &d, &full, &f));
    assert_int_equal(f.verdict, ORACLE_LOST);
    oracle_free(o);
}

/* Protocol A/B: a prefix in acknowledgement order passes; a hole does not. */
static void image_check_prefix(void **state)
{
    (void)state;
    static struct dev d;
    memset(&d, 0, sizeof(d));
    struct oracle *o = oracle_new(0, SPAN, UNIT, 3);
    struct oracle_finding f;
    uint32_t ids[6];
    for (uint64_t u = 0; u < 6; u++) {
        ids[u] = oracle_write_issue(o, u, 1);
        oracle_write_done(o, ids[u], true, false, __LINE__ /* acknowledgement times: increasing in source order */); /* each acked before the next is issued */
    }
    for (uint64_t u = 0; u < 4; u++)
        dev_write(&d, o, u, ids[u]);
    assert_true(oracle_check_image(o, read_media, &d, &prefix, &f)); /* writes 1..4: a prefix */
    memset(d.data + 1 * UNIT, 0, UNIT);                                 /* hole at write 2 */
    assert_false(oracle_check_image(o, read_media, &d, &prefix, &f));
    assert_int_equal(f.sector, 1 * UNIT / PAYLOAD_SECTOR);
    /* adopting a valid prefix makes it the truth */
    dev_write(&d, o, 1, ids[1]);
    assert_true(oracle_check_image(o, read_media, &d, &prefix_adopt, &f));
    assert_true(oracle_check_image(o, read_media, &d, &full, &f));
    oracle_free(o);
}

/* ---- scenario files ----------------------------------------------------------------------- */

static const char scenario_text[] =
    "scenario rt\nduration 12s\nnode a 10.0.0.1\nnode b 10.0.0.2\n"
    "disk a size=8M latency=150us cache=off\ndisk b size=8M\n"
    "link a b latency=1ms jitter=10us bandwidth=100M\n"
    "workload w node=a dev=tcmu000 read=25% flush=5% fua=0.1 bs=4K,8K iops=300 qd=4 span=4M\n"
    "expect io-latency within 2s\nexpect synced within 5s after restart b\n"
    "at 0s start w\nafter 1.5s partition a b dir=a-to-b for 250ms\nat 3s crash b kill\n"
    "at 3.000001s restart b --no-up\nevery 2s from 4s until 9s reset a b\n"
    "at 10s disk-error a ops=write rate=0.25 for 1s\nat 11s log \"hello there\"\n";

static void scenario_round_trip(void **state)
{
    (void)state;
    char err[512];
    struct scenario *s = scn_parse(scenario_text, "rt.scn", err, sizeof(err));
    assert_non_null(s);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    scn_write(f, s);
    fclose(f);
    struct scenario *t = scn_parse(buf, "rt2.scn", err, sizeof(err));
    if (!t)
        fail_msg("%s\n%s", err, buf);
    assert_int_equal(t->nactions, s->nactions);
    assert_int_equal(t->duration, s->duration);
    for (size_t i = 0; i < s->nactions; i++) {
        char a[512], b[512];
        scn_format_action(&s->actions[i], a, sizeof(a));
        scn_format_action(&t->actions[i], b, sizeof(b));
        assert_string_equal(a, b);
        assert_int_equal(s->actions[i].time, t->actions[i].time);
    }
    assert_true(t->workloads[0].fua == s->workloads[0].fua);
    assert_int_equal(t->disks[0].params.read_latency, 150000);
    free(buf);
    scn_free(s);
    scn_free(t);
}

static void time_format_is_exact(void **state)
{
    (void)state;
    const mte_time_t times[] = {0, 1, 999, 1000, 1500, 250 * MTE_MSEC, 3 * MTE_SEC,
                                12345678901ull, 3 * MTE_SEC + 1, 61 * MTE_SEC};
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        char buf[64], text[128], err[256];
        scn_format_time(times[i], buf, sizeof(buf));
        snprintf(text, sizeof(text), "duration %s\n", buf);
        struct scenario *s = scn_parse(text, "t.scn", err, sizeof(err));
        if (times[i] == 0) {
            assert_null(s); /* a zero duration is refused */
            continue;
        }
        assert_non_null(s);
        assert_int_equal(s->duration, times[i]);
        scn_free(s);
    }
}

static void errors_name_the_line(void **state)
{
    (void)state;
    char err[512];
    struct scenario *s = scn_parse("node a 10.0.0.1\n\nat 1s crsh a\n", "bad.scn", err, sizeof(err));
    assert_null(s);
    assert_non_null(strstr(err, "bad.scn:3: unknown action 'crsh'"));
    s = scn_parse("node a 10.0.0.1\nat 2s crash a\nat 1s restart a\n", "o.scn", err, sizeof(err));
    assert_null(s);
    assert_non_null(strstr(err, "o.scn:3:"));
}

static void realize_is_deterministic(void **state)
{
    (void)state;
    char err[256];
    struct scenario *s = scn_parse("duration 60s\nnode a 10.0.0.1\nnode b 10.0.0.2\ndisk a size=1M\n"
                                   "disk b size=1M\nfault partition rate=0.5/s duration=10ms..1s\n",
                                   "f.scn", err, sizeof(err));
    assert_non_null(s);
    struct scenario *r1 = scn_realize(s, 7, false), *r2 = scn_realize(s, 7, false);
    struct scenario *r3 = scn_realize(s, 8, false);
    assert_true(r1->nactions > 5);
    assert_int_equal(r1->nactions, r2->nactions);
    for (size_t i = 0; i < r1->nactions; i++)
        assert_int_equal(r1->actions[i].time, r2->actions[i].time);
    assert_true(r3->nactions != r1->nactions || r3->actions[0].time != r1->actions[0].time);
    scn_free(r1);
    scn_free(r2);
    scn_free(r3);
    scn_free(s);
}

/* ---- I/O traces -------------------------------------------------------------------------- */

static void iotrace_round_trip(void **state)
{
    (void)state;
    char path[] = "/tmp/test_sim_iotrace.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    struct iotrace_writer *w = iotrace_writer_open(path, 1 << 20);
    assert_non_null(w);
    struct iovec iov = {NULL, 0};
    struct umc_bio bios[] = {
        {.op = UMC_OP_WRITE, .offset = 4096, .length = 8192, .iov = &iov},
        {.op = UMC_OP_FLUSH},
        {.op = UMC_OP_WRITE, .flags = UMC_BIO_FUA | UMC_BIO_PREFLUSH, .offset = 0, .length = 512},
        {.op = UMC_OP_DISCARD, .offset = 65536, .length = 65536},
        {.op = UMC_OP_READ, .offset = 512, .length = 1024},
    };
    for (size_t i = 0; i < 5; i++)
        iotrace_write_bio(w, 1000000 + i * 2500, &bios[i]);
    assert_int_equal(iotrace_writer_close(w), 0);
    char err[256];
    struct iotrace *t = iotrace_load(path, err, sizeof(err));
    unlink(path);
    if (!t)
        fail_msg("%s", err);
    assert_int_equal(t->size, 1 << 20);
    assert_int_equal(t->nrecs, 5);
    assert_int_equal(t->recs[0].time_us, 0);
    assert_int_equal(t->recs[4].time_us, 10);
    assert_int_equal(t->recs[2].flags, UMC_BIO_FUA | UMC_BIO_PREFLUSH);
    assert_int_equal(t->recs[3].op, UMC_OP_DISCARD);
    assert_int_equal(t->recs[1].op, UMC_OP_FLUSH);
    assert_int_equal(iotrace_extent(t), 131072);
    iotrace_free(t);
}

static void iotrace_errors_name_the_line(void **state)
{
    (void)state;
    char path[] = "/tmp/test_sim_iotrace.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "iotrace v1 size=4096\n0 W 0 512 -\n5 X 0 512 -\n";
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
    close(fd);
    char err[512];
    assert_null(iotrace_load(path, err, sizeof(err)));
    unlink(path);
    assert_non_null(strstr(err, ":3: expected"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(payload_names_itself),
        cmocka_unit_test(payload_sectors_differ),
        cmocka_unit_test(acked_write_must_be_read),
        cmocka_unit_test(in_flight_and_failed_writes_may_show),
        cmocka_unit_test(garbage_is_corrupt),
        cmocka_unit_test(crash_keeps_only_durable_writes),
        cmocka_unit_test(fua_is_durable),
        cmocka_unit_test(image_check_full),
        cmocka_unit_test(image_check_prefix),
        cmocka_unit_test(image_check_cutoff),
        cmocka_unit_test(scenario_round_trip),
        cmocka_unit_test(time_format_is_exact),
        cmocka_unit_test(errors_name_the_line),
        cmocka_unit_test(realize_is_deterministic),
        cmocka_unit_test(iotrace_round_trip),
        cmocka_unit_test(iotrace_errors_name_the_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
