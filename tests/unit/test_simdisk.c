/* tcmu_ram's simulated disk: its durability model (flush, FUA, crash with
 * drops and tears), node crash and reopen, and the media helpers. */
#include "test_bdev_rig.h"

/* ---- durability: flush, FUA, crash ------------------------------------------------- */

static void flushed_data_survives_crash(void **state)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        struct rig r = {0};
        rig_simdisk(&r, seed, 1 * MIB, 512, NULL);
        assert_int_equal(write_tagged(&r, 1, 0, 0, 64 * KIB), 0);
        assert_int_equal(write_tagged(&r, 2, 0, 32 * KIB, 64 * KIB), 0);
        assert_int_equal(simdisk_unflushed_writes(r.m), 2);
        assert_int_equal(do_flush(&r), 0);
        assert_int_equal(simdisk_unflushed_writes(r.m), 0);
        struct simdisk_crash_stats st;
        simdisk_crash(r.m, &st);
        assert_int_equal(st.dropped + st.kept + st.torn, 0);
        int64_t one = 1, two = 2;
        check_tags(r.m, 0, 32 * KIB, &one, 1);
        check_tags(r.m, 32 * KIB, 64 * KIB, &two, 1);
        rig_free(&r);
    }
}

/* A FUA write is durable on its own; it does not flush the writes before it. */
static void fua_write_survives_crash(void **state)
{
    unsigned lost_other = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        struct rig r = {0};
        rig_simdisk(&r, seed, 1 * MIB, 4096, NULL);
        assert_int_equal(write_tagged(&r, 1, 0, 0, 32 * KIB), 0);
        assert_int_equal(write_tagged(&r, 2, UMC_BIO_FUA, 64 * KIB, 32 * KIB), 0);
        assert_int_equal(simdisk_unflushed_writes(r.m), 1);
        simdisk_crash(r.m, NULL);
        int64_t two = 2, maybe[] = {0, 1};
        check_tags(r.m, 64 * KIB, 32 * KIB, &two, 1);
        if (check_tags(r.m, 0, 32 * KIB, maybe, 2) & 1u)
            lost_other++;
        rig_free(&r);
    }
    assert_true(lost_other > 0);
}

static void unflushed_write_may_be_lost(void **state)
{
    unsigned kept = 0, lost = 0;
    for (uint64_t seed = 1; seed <= 64; seed++) {
        struct rig r = {0};
        rig_simdisk(&r, seed, 1 * MIB, 512, NULL);
        poke_tagged(r.m, 1, 0, 4 * KIB);
        assert_int_equal(write_tagged(&r, 2, 0, 0, 512), 0); /* one sector: never torn */
        struct simdisk_crash_stats st;
        simdisk_crash(r.m, &st);
        assert_int_equal(st.torn, 0);
        assert_int_equal(st.kept + st.dropped, 1);
        int64_t allowed[] = {1, 2};
        unsigned seen = check_tags(r.m, 0, 512, allowed, 2);
        kept += !!(seen & 4u);
        lost += !!(seen & 2u);
        assert_int_equal(simdisk_unflushed_writes(r.m), 0);
        rig_free(&r);
    }
    assert_true(kept > 0);
    assert_true(lost > 0);
}

static void tears_only_at_sector_boundaries(void **state)
{
    unsigned torn = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        struct rig r = {0};
        rig_simdisk(&r, seed, 1 * MIB, 4096, NULL);
        poke_tagged(r.m, 1, 0, 64 * KIB);
        assert_int_equal(write_tagged(&r, 2, 0, 0, 64 * KIB), 0);
        struct simdisk_crash_stats st;
        simdisk_crash(r.m, &st);
        int64_t allowed[] = {1, 2};
        unsigned seen = check_tags(r.m, 0, 64 * KIB, allowed, 2); /* whole sectors only */
        if (st.torn) {
            assert_int_equal(seen, 6u); /* a tear keeps some sectors and drops others */
            torn++;
        }
        rig_free(&r);
    }
    assert_true(torn > 0);
    /* a torn two-sector write keeps exactly one of them */
    torn = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        struct rig r = {0};
        rig_simdisk(&r, seed, 1 * MIB, 512, NULL);
        poke_tagged(r.m, 1, 0, 4 * KIB);
        assert_int_equal(write_tagged(&r, 2, 0, 512, 1024), 0);
        struct simdisk_crash_stats st;
        simdisk_crash(r.m, &st);
        int64_t tags[2];
        media_tags(r.m, 512, 1024, tags);
        if (st.torn) {
            assert_int_not_equal(tags[0], tags[1]);
            torn++;
        }
        rig_free(&r);
    }
    assert_true(torn > 0);
}

/* Random overlapping writes, some in flight together, some flushed: after a
 * crash every sector holds its flushed value or a later write covering it. */
static void overlapping_writes_end_consistent(void **state)
{
    for (uint64_t seed = 1; seed <= 60; seed++) {
        struct rig r = {0};
        rig_simdisk(&r, seed, 1 * MIB, 512, NULL);
        struct mte_rng wl;
        mte_rng_init(&wl, seed, "workload");
        poke_tagged(r.m, 1, 0, 64 * KIB);
        int64_t durable[128], allowed[128][16];
        unsigned nallowed[128];
        for (int s = 0; s < 128; s++) {
            durable[s] = 1;
            nallowed[s] = 0;
        }
        struct batch bt = {0};
        for (uint32_t tag = 2; tag < 14; tag++) {
            uint64_t first = mte_rng_below(&wl, 120), count = 1 + mte_rng_below(&wl, 128 - first);
            bool fua = mte_rng_chance(&wl, 0.2);
            batch_write(&r, &bt, tag, fua ? UMC_BIO_FUA : 0, first * SECTOR, count * SECTOR);
            for (uint64_t s = first; s < first + count; s++)
                allowed[s][nallowed[s]++] = tag;
            if (mte_rng_chance(&wl, 0.3))
                batch_finish(&r, &bt); /* sometimes wait before the next */
            if (fua) { /* wait: then the FUA write is durable, and settles its sectors */
                batch_finish(&r, &bt);
                for (uint64_t s = first; s < first + count; s++) {
                    durable[s] = tag;
                    nallowed[s] = 0;
                }
            }
        }
        batch_finish(&r, &bt);
        simdisk_crash(r.m, NULL);
        for (int s = 0; s < 128; s++) {
            allowed[s][nallowed[s]++] = durable[s];
            check_tags(r.m, (uint64_t)s * SECTOR, SECTOR, allowed[s], nallowed[s]);
        }
        rig_free(&r);
    }
}

/* Without tears each write is wholly kept or wholly dropped, so the image must
 * be explained by one keep/drop choice per write: walking newest to oldest, a
 * write's sectors not claimed by a newer kept write show all its tag (kept:
 * claim them) or none of it (dropped), and what nobody claims is the old data. */
static void explain_by_keep_or_drop(const int64_t *tags, const uint64_t *first,
                                    const uint64_t *count, unsigned nw)
{
    bool claimed[128] = {false};
    for (unsigned w = nw; w-- > 0;) {
        unsigned shown = 0, unclaimed = 0;
        for (uint64_t s = first[w]; s < first[w] + count[w]; s++) {
            unclaimed += !claimed[s];
            shown += !claimed[s] && tags[s] == (int64_t)(2 + w);
        }
        if (shown != 0 && shown != unclaimed)
            fail_msg("write %u kept on %u of its %u free sectors", w, shown, unclaimed);
        for (uint64_t s = first[w]; shown && s < first[w] + count[w]; s++)
            claimed[s] = true;
    }
    for (int s = 0; s < 128; s++)
        if (!claimed[s])
            assert_int_equal(tags[s], 1);
}

static void crash_is_a_keep_or_drop_choice(void **state)
{
    unsigned untorn = 0;
    for (uint64_t seed = 1; seed <= 300; seed++) {
        struct rig r = {0};
        rig_simdisk(&r, seed, 1 * MIB, 512, NULL);
        struct mte_rng wl;
        mte_rng_init(&wl, seed, "workload");
        poke_tagged(r.m, 1, 0, 64 * KIB);
        uint64_t first[5], count[5];
        for (unsigned w = 0; w < 5; w++) {
            first[w] = mte_rng_below(&wl, 100);
            count[w] = 2 + mte_rng_below(&wl, 128 - first[w] - 1);
            assert_int_equal(write_tagged(&r, 2 + w, 0, first[w] * SECTOR, count[w] * SECTOR), 0);
        }
        struct simdisk_crash_stats st;
        simdisk_crash(r.m, &st);
        if (st.torn == 0) {
            int64_t tags[128];
            media_tags(r.m, 0, 64 * KIB, tags);
            explain_by_keep_or_drop(tags, first, count, 5);
            untorn++;
        }
        rig_free(&r);
    }
    assert_true(untorn >= 10);
}

/* W1 cached, W2 FUA over part of it, W3 cached over both: sectors W2 made
 * durable can never go back to W1 or to the old data. */
static void durable_write_settles_older_overlaps(void **state)
{
    unsigned saw_base = 0;
    for (uint64_t seed = 1; seed <= 60; seed++) {
        struct rig r = {0};
        rig_simdisk(&r, seed, 1 * MIB, 512, NULL);
        poke_tagged(r.m, 1, 0, 64 * KIB);
        assert_int_equal(write_tagged(&r, 2, 0, 0, 32 * KIB), 0);
        assert_int_equal(write_tagged(&r, 3, UMC_BIO_FUA, 16 * KIB, 32 * KIB), 0);
        assert_int_equal(write_tagged(&r, 4, 0, 8 * KIB, 16 * KIB), 0);
        simdisk_crash(r.m, NULL);
        int64_t a[] = {1, 2}, b[] = {1, 2, 4}, c[] = {3, 4}, d[] = {3}, e[] = {1};
        saw_base |= check_tags(r.m, 0, 8 * KIB, a, 2) & 2u;
        check_tags(r.m, 8 * KIB, 8 * KIB, b, 3);
        check_tags(r.m, 16 * KIB, 8 * KIB, c, 2);
        check_tags(r.m, 24 * KIB, 24 * KIB, d, 1);
        check_tags(r.m, 48 * KIB, 16 * KIB, e, 1);
        rig_free(&r);
    }
    assert_true(saw_base);
}

/* W1, then a flush, then W2 are submitted together: the flush makes W1
 * durable but not W2, though W2 completes before the flush does. */
static void flush_covers_only_writes_submitted_before_it(void **state)
{
    unsigned w2_lost = 0;
    struct simdisk_params p;
    simdisk_default_params(&p);
    p.flush_latency = 5 * MTE_MSEC;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        struct rig r = {0};
        rig_simdisk(&r, seed, 1 * MIB, 512, &p);
        poke_tagged(r.m, 1, 0, 64 * KIB);
        struct batch bt = {0};
        batch_write(&r, &bt, 2, 0, 0, 32 * KIB);
        batch_flush(&r, &bt);
        batch_write(&r, &bt, 3, 0, 16 * KIB, 32 * KIB);
        batch_finish(&r, &bt);
        assert_int_equal(simdisk_unflushed_writes(r.m), 1);
        simdisk_crash(r.m, NULL);
        int64_t a[] = {2}, b[] = {2, 3}, c[] = {1, 3}, d[] = {1};
        check_tags(r.m, 0, 16 * KIB, a, 1);
        w2_lost += !!(check_tags(r.m, 16 * KIB, 16 * KIB, b, 2) & 4u);
        check_tags(r.m, 32 * KIB, 16 * KIB, c, 2);
        check_tags(r.m, 48 * KIB, 16 * KIB, d, 1);
        rig_free(&r);
    }
    assert_true(w2_lost > 0);
}

static void preflush_makes_earlier_writes_durable(void **state)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        struct rig r = {0};
        rig_simdisk(&r, seed, 1 * MIB, 512, NULL);
        assert_int_equal(write_tagged(&r, 1, 0, 0, 32 * KIB), 0);
        assert_int_equal(write_tagged(&r, 2, UMC_BIO_PREFLUSH, 32 * KIB, 32 * KIB), 0);
        assert_int_equal(simdisk_unflushed_writes(r.m), 1);
        simdisk_crash(r.m, NULL);
        int64_t one = 1, maybe[] = {0, 2};
        check_tags(r.m, 0, 32 * KIB, &one, 1);
        check_tags(r.m, 32 * KIB, 32 * KIB, maybe, 2);
        rig_free(&r);
    }
}

/* Without a write cache a completed write is durable; one in flight is not. */
static void write_through_is_durable_at_completion(void **state)
{
    struct simdisk_params p;
    simdisk_default_params(&p);
    p.write_cache = false;
    unsigned inflight_lost = 0;
    for (uint64_t seed = 1; seed <= 30; seed++) {
        struct rig r = {0};
        rig_simdisk(&r, seed, 1 * MIB, 512, &p);
        assert_false(r.b->flags & UMC_BDEV_VOLATILE_CACHE);
        assert_int_equal(write_tagged(&r, 1, 0, 0, 32 * KIB), 0);
        assert_int_equal(simdisk_unflushed_writes(r.m), 0);
        unsigned char buf[512];
        fill(buf, sizeof(buf), 2, 32 * KIB);
        struct io io;
        io_start(&io, &r, UMC_OP_WRITE, 0, 32 * KIB, buf, sizeof(buf));
        assert_int_equal(simdisk_unflushed_writes(r.m), 1);
        simdisk_crash(r.m, NULL);
        int64_t one = 1, maybe[] = {0, 2};
        check_tags(r.m, 0, 32 * KIB, &one, 1);
        inflight_lost += !!(check_tags(r.m, 32 * KIB, 512, maybe, 2) & 1u);
        io_wait(&r, &io);
        rig_free(&r);
    }
    assert_true(inflight_lost > 0);
}

static void cache_writes_back_when_full(void **state)
{
    struct simdisk_params p;
    simdisk_default_params(&p);
    p.cache_size = 64 * KIB;
    struct rig r = {0};
    rig_simdisk(&r, 1, 1 * MIB, 4096, &p);
    for (uint32_t i = 0; i < 16; i++)
        assert_int_equal(write_tagged(&r, 1 + i, 0, i * 8 * KIB, 8 * KIB), 0);
    assert_int_equal(simdisk_unflushed_writes(r.m), 8);
    simdisk_crash(r.m, NULL);
    for (uint32_t i = 0; i < 8; i++) { /* the oldest half was written back */
        int64_t tag = 1 + i;
        check_tags(r.m, i * 8 * KIB, 8 * KIB, &tag, 1);
    }
    rig_free(&r);
}

static void same_seed_same_crash(void **state)
{
    struct simdisk_crash_stats st[2];
    unsigned char *img[2];
    for (int run = 0; run < 2; run++) {
        struct rig r = {0};
        rig_simdisk(&r, 77, 1 * MIB, 512, NULL);
        for (uint32_t i = 0; i < 10; i++)
            assert_int_equal(write_tagged(&r, 1 + i, 0, i * 3 * KIB, 16 * KIB), 0);
        simdisk_crash(r.m, &st[run]);
        img[run] = xmalloc(64 * KIB);
        simdisk_read(r.m, 0, img[run], 64 * KIB);
        rig_free(&r);
    }
    assert_memory_equal(&st[0], &st[1], sizeof(st[0]));
    assert_int_equal(st[0].dropped + st[0].kept + st[0].torn, 10);
    assert_memory_equal(img[0], img[1], 64 * KIB);
    free(img[0]);
    free(img[1]);
}

/* ---- node crash and reopen ------------------------------------------------------- */

static void node_crash_then_reopen_sees_durable_data(void **state)
{
    unsigned lost = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        struct rig r = {0};
        rig_simdisk(&r, seed, 1 * MIB, 512, NULL);
        assert_int_equal(write_tagged(&r, 1, 0, 0, 64 * KIB), 0);
        assert_int_equal(do_flush(&r), 0);
        struct batch bt = {0};
        batch_write(&r, &bt, 2, 0, 32 * KIB, 64 * KIB); /* in flight at the crash */
        batch_flush(&r, &bt);
        batch_write(&r, &bt, 3, UMC_BIO_FUA, 128 * KIB, 4 * KIB);
        umc_node_crash(r.n);
        r.n = NULL;
        mte_run_until_idle(r.e); /* nothing of the dead node runs */
        for (unsigned i = 0; i < bt.count; i++) {
            assert_false(bt.io[i].done);
            free(bt.buf[i]);
        }
        simdisk_crash(r.m, NULL);
        assert_int_equal(simdisk_unflushed_writes(r.m), 0);
        unsigned char *expect = xmalloc(256 * KIB), *got = xmalloc(256 * KIB);
        simdisk_read(r.m, 0, expect, 256 * KIB);
        int64_t one = 1, a[] = {1, 2}, b[] = {0, 2}, c[] = {0, 3};
        check_tags(r.m, 0, 32 * KIB, &one, 1);
        lost += !!(check_tags(r.m, 32 * KIB, 32 * KIB, a, 2) & 2u);
        check_tags(r.m, 64 * KIB, 32 * KIB, b, 2);
        check_tags(r.m, 128 * KIB, 4 * KIB, c, 2);
        /* a new node on the same media reads exactly that */
        rig_node(&r, seed + 1000);
        r.dev = add_dev(&r, "simdisk/", 1 * MIB, 512, r.m);
        r.b = tcmu_dev_bdev(r.dev);
        assert_int_equal(do_io(&r, UMC_OP_READ, 0, 0, got, 256 * KIB), 0);
        assert_memory_equal(expect, got, 256 * KIB);
        free(expect);
        free(got);
        rig_free(&r);
    }
    assert_true(lost > 0);
}

/* ---- media helpers ------------------------------------------------------------------ */

static void compare_and_poke(void **state)
{
    struct simdisk_media *a = simdisk_media_new("a", 1024 * MIB, 1);
    struct simdisk_media *b = simdisk_media_new("b", 1024 * MIB, 2);
    assert_string_equal(simdisk_media_name(a), "a");
    assert_int_equal(simdisk_media_size(a), 1024 * MIB);
    assert_int_equal(simdisk_compare(a, b, 0, 1024 * MIB), UINT64_MAX);
    unsigned char x[3] = {1, 2, 3}, y[3] = {1, 9, 3}, z[3] = {0};
    simdisk_poke(a, 700 * MIB + 5, x, 3);
    assert_int_equal(simdisk_compare(a, b, 0, 1024 * MIB), 700 * MIB + 5);
    simdisk_poke(b, 700 * MIB + 5, y, 3);
    assert_int_equal(simdisk_compare(a, b, 0, 1024 * MIB), 700 * MIB + 6);
    assert_int_equal(simdisk_compare(a, b, 700 * MIB + 7, 100), UINT64_MAX);
    simdisk_poke(b, 700 * MIB + 5, x, 3);
    assert_int_equal(simdisk_compare(a, b, 0, 1024 * MIB), UINT64_MAX);
    simdisk_poke(a, 700 * MIB + 5, z, 3); /* zeros written equal zeros never written */
    simdisk_poke(b, 700 * MIB + 5, z, 3);
    assert_int_equal(simdisk_compare(a, b, 0, 1024 * MIB), UINT64_MAX);
    unsigned char back[3];
    simdisk_read(a, 700 * MIB + 5, back, 3);
    assert_memory_equal(back, z, 3);
    assert_int_equal(simdisk_unflushed_writes(a), 0);
    simdisk_media_free(a);
    simdisk_media_free(b);
}

/* A poke is durable: it settles cached writes beneath it. */
static void poke_over_cached_write_survives(void **state)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        struct rig r = {0};
        rig_simdisk(&r, seed, 1 * MIB, 512, NULL);
        assert_int_equal(write_tagged(&r, 2, 0, 0, 16 * KIB), 0);
        poke_tagged(r.m, 3, 4 * KIB, 4 * KIB);
        simdisk_crash(r.m, NULL);
        int64_t three = 3, maybe[] = {0, 2};
        check_tags(r.m, 4 * KIB, 4 * KIB, &three, 1);
        check_tags(r.m, 0, 4 * KIB, maybe, 2);
        check_tags(r.m, 8 * KIB, 8 * KIB, maybe, 2);
        rig_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(flushed_data_survives_crash),
        cmocka_unit_test(fua_write_survives_crash),
        cmocka_unit_test(unflushed_write_may_be_lost),
        cmocka_unit_test(tears_only_at_sector_boundaries),
        cmocka_unit_test(overlapping_writes_end_consistent),
        cmocka_unit_test(crash_is_a_keep_or_drop_choice),
        cmocka_unit_test(durable_write_settles_older_overlaps),
        cmocka_unit_test(flush_covers_only_writes_submitted_before_it),
        cmocka_unit_test(preflush_makes_earlier_writes_durable),
        cmocka_unit_test(write_through_is_durable_at_completion),
        cmocka_unit_test(cache_writes_back_when_full),
        cmocka_unit_test(same_seed_same_crash),
        cmocka_unit_test(node_crash_then_reopen_sees_durable_data),
        cmocka_unit_test(compare_and_poke),
        cmocka_unit_test(poke_over_cached_write_survives),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
