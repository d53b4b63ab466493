/* umc: node memory and crash, the block layer, the registry, digests, real sockets. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "umc/umc.h"

static struct umc_node *new_node(struct mte_engine *e, const char *name)
{
    struct umc_node_opts o = {.name = name, .seed = 1, .print_level = UMC_LOG_WARN};
    return umc_node_new(e, &o);
}

/* ---- memory ------------------------------------------------------------------- */

static void alloc_counts_and_frees(void **state)
{
    struct mte_engine *e = mte_engine_new(MTE_CLOCK_VIRTUAL, 1);
    struct umc_node *n = new_node(e, "a");
    char *p = umc_alloc(n, 100);
    for (int i = 0; i < 100; i++)
        assert_int_equal(p[i], 0);
    char *s = umc_strdup(n, "hello");
    char *f = umc_asprintf(n, "%s-%d", s, 42);
    assert_string_equal(f, "hello-42");
    assert_int_equal(umc_live_allocs(n), 3);
    p = umc_realloc(n, p, 10000);
    assert_int_equal(p[9999], 0);
    assert_int_equal(umc_live_bytes(n), 10000 + 6 + 9);
    umc_free(n, p);
    umc_free(n, s);
    umc_free(n, f);
    assert_int_equal(umc_live_allocs(n), 0);
    assert_int_equal(umc_node_free(n), 0);
    mte_engine_free(e);
}

static void node_free_reports_leaks(void **state)
{
    struct mte_engine *e = mte_engine_new(MTE_CLOCK_VIRTUAL, 1);
    struct umc_node *n = new_node(e, "leaky");
    umc_alloc(n, 10);
    umc_alloc(n, 20);
    assert_int_equal(umc_node_free(n), 2);
    mte_engine_free(e);
}

struct counter {
    int fired;
    struct mte_timer t;
};

static void bump(void *arg) { ((struct counter *)arg)->fired++; }

static void crash_cancels_work_and_frees_memory(void **state)
{
    struct mte_engine *e = mte_engine_new(MTE_CLOCK_VIRTUAL, 1);
    struct umc_node *a = new_node(e, "a"), *b = new_node(e, "b");
    struct counter *ca = umc_alloc(a, sizeof(*ca));
    struct counter cb = {0};
    umc_timer_init(a, &ca->t, bump, ca);
    umc_timer_arm_in(a, &ca->t, MTE_SEC);
    umc_defer(a, bump, ca);
    umc_timer_init(b, &cb.t, bump, &cb);
    umc_timer_arm_in(b, &cb.t, 2 * MTE_SEC);
    umc_map_anon(a, 1 << 20);
    umc_node_crash(a); /* a's timer, deferred call and memory all go */
    mte_run_until_idle(e);
    assert_int_equal(cb.fired, 1);
    assert_int_equal(mte_now(e), 2 * MTE_SEC);
    assert_int_equal(umc_node_free(b), 0);
    mte_engine_free(e);
}

static void crash_hooks_run_in_order(void **state)
{
    struct mte_engine *e = mte_engine_new(MTE_CLOCK_VIRTUAL, 1);
    struct umc_node *n = new_node(e, "a");
    struct counter c1 = {0}, c2 = {0};
    umc_on_crash(n, bump, &c1);
    umc_on_crash(n, bump, &c2);
    umc_node_crash(n);
    assert_int_equal(c1.fired, 1);
    assert_int_equal(c2.fired, 1);
    mte_engine_free(e);
}

static void node_streams_depend_on_seed_and_name(void **state)
{
    struct mte_engine *e = mte_engine_new(MTE_CLOCK_VIRTUAL, 1);
    struct umc_node_opts o1 = {.name = "a", .seed = 5}, o2 = {.name = "b", .seed = 5},
                         o3 = {.name = "a", .seed = 5};
    struct umc_node *a = umc_node_new(e, &o1), *b = umc_node_new(e, &o2), *a2 = umc_node_new(e, &o3);
    uint64_t va = mte_rng_next(umc_rng(a, "drbd"));
    assert_int_equal(va, mte_rng_next(umc_rng(a2, "drbd")));
    assert_int_not_equal(va, mte_rng_next(umc_rng(b, "drbd")));
    assert_ptr_equal(umc_rng(a, "drbd"), umc_rng(a, "drbd"));
    umc_node_free(a);
    umc_node_free(b);
    umc_node_free(a2);
    mte_engine_free(e);
}

static void bugs_are_off_unless_set(void **state)
{
    struct mte_engine *e = mte_engine_new(MTE_CLOCK_VIRTUAL, 1);
    struct umc_node *n = new_node(e, "a");
    assert_false(umc_bug(n, UMC_BUG_LOST_BARRIER_ACK));
    umc_set_bugs(n, 1ull << UMC_BUG_LOST_BARRIER_ACK);
    assert_true(umc_bug(n, UMC_BUG_LOST_BARRIER_ACK));
    assert_false(umc_bug(n, UMC_BUG_RESYNC_NO_RESTART));
    umc_node_free(n);
    mte_engine_free(e);
}

/* ---- block layer with a trivial memory bdev --------------------------------------- */

struct membdev {
    struct umc_bdev bdev;
    unsigned char data[64 * 1024];
    int submits;
    bool complete_inline;
};

static void mem_submit(struct umc_bdev *b, struct umc_bio *bio)
{
    struct membdev *m = b->priv;
    m->submits++;
    if (bio->op == UMC_OP_READ)
        umc_iov_from_buf(bio->iov, bio->iovcnt, 0, m->data + bio->offset, bio->length);
    else if (bio->op == UMC_OP_WRITE)
        umc_iov_to_buf(bio->iov, bio->iovcnt, 0, m->data + bio->offset, bio->length);
    umc_bio_complete(bio, 0); /* inline: the layer must still defer done */
}

static const struct umc_bdev_ops mem_ops = {.submit = mem_submit};

static struct membdev *mem_new(struct umc_node *n, const char *name, uint32_t flags)
{
    struct membdev *m = umc_alloc(n, sizeof(*m));
    snprintf(m->bdev.name, sizeof(m->bdev.name), "%s", name);
    m->bdev.size = sizeof(m->data);
    m->bdev.block_size = 512;
    m->bdev.flags = flags;
    m->bdev.ops = &mem_ops;
    m->bdev.priv = m;
    assert_int_equal(umc_bdev_register(n, &m->bdev), 0);
    return m;
}

struct bio_result {
    int done;
    int status;
    bool during_submit;
    bool submitting;
};

static void bio_done(struct umc_bio *bio)
{
    struct bio_result *r = bio->priv;
    r->done++;
    r->status = bio->status;
    r->during_submit = r->submitting;
}

static int run_bio(struct mte_engine *e, struct umc_bdev *b, enum umc_bio_op op, uint64_t off,
                   void *buf, size_t len)
{
    struct iovec iov[2] = {{buf, len / 2}, {(char *)buf + len / 2, len - len / 2}};
    struct bio_result r = {0};
    struct umc_bio bio = {.op = op, .offset = off, .length = len, .iov = iov, .iovcnt = 2,
                          .done = bio_done, .priv = &r};
    r.submitting = true;
    umc_bio_submit(b, &bio);
    r.submitting = false;
    mte_run_until_idle(e);
    assert_int_equal(r.done, 1);
    assert_false(r.during_submit);
    return r.status;
}

static void bio_checks_and_completes_after_submit(void **state)
{
    struct mte_engine *e = mte_engine_new(MTE_CLOCK_VIRTUAL, 1);
    struct umc_node *n = new_node(e, "a");
    struct membdev *m = mem_new(n, "mem0", 0);
    unsigned char w[4096], r[4096];
    for (size_t i = 0; i < sizeof(w); i++)
        w[i] = (unsigned char)(i * 7);
    assert_int_equal(run_bio(e, &m->bdev, UMC_OP_WRITE, 8192, w, sizeof(w)), 0);
    assert_int_equal(run_bio(e, &m->bdev, UMC_OP_READ, 8192, r, sizeof(r)), 0);
    assert_memory_equal(w, r, sizeof(w));
    assert_int_equal(run_bio(e, &m->bdev, UMC_OP_READ, 100, r, 512), -EINVAL);
    assert_int_equal(run_bio(e, &m->bdev, UMC_OP_READ, 64 * 1024 - 512, r, 1024), -EINVAL);
    assert_int_equal(run_bio(e, &m->bdev, UMC_OP_DISCARD, 0, r, 512), -EOPNOTSUPP);
    assert_int_equal(m->submits, 2);
    umc_bdev_unregister(n, &m->bdev);
    umc_free(n, m);
    assert_int_equal(umc_node_free(n), 0);
    mte_engine_free(e);
}

static void read_only_and_write_zeroes_emulation(void **state)
{
    struct mte_engine *e = mte_engine_new(MTE_CLOCK_VIRTUAL, 1);
    struct umc_node *n = new_node(e, "a");
    struct membdev *ro = mem_new(n, "ro", UMC_BDEV_READ_ONLY);
    struct membdev *rw = mem_new(n, "rw", 0);
    unsigned char buf[2048];
    memset(buf, 0xab, sizeof(buf));
    assert_int_equal(run_bio(e, &ro->bdev, UMC_OP_WRITE, 0, buf, 512), -EROFS);
    assert_int_equal(umc_bdev_open(&ro->bdev, UMC_OPEN_WRITE), -EROFS);
    assert_int_equal(run_bio(e, &rw->bdev, UMC_OP_WRITE, 0, buf, sizeof(buf)), 0);
    assert_int_equal(run_bio(e, &rw->bdev, UMC_OP_WRITE_ZEROES, 512, NULL, 1024), 0);
    assert_int_equal(rw->data[511], 0xab);
    assert_int_equal(rw->data[512], 0);
    assert_int_equal(rw->data[1535], 0);
    assert_int_equal(rw->data[1536], 0xab);
    umc_bdev_unregister(n, &ro->bdev);
    umc_bdev_unregister(n, &rw->bdev);
    umc_free(n, ro);
    umc_free(n, rw);
    assert_int_equal(umc_node_free(n), 0);
    mte_engine_free(e);
}

static void registry_order_find_and_opens(void **state)
{
    struct mte_engine *e = mte_engine_new(MTE_CLOCK_VIRTUAL, 1);
    struct umc_node *n = new_node(e, "a");
    struct membdev *b1 = mem_new(n, "tcmu001", 0);
    struct membdev *b0 = mem_new(n, "tcmu000", 0);
    struct membdev dup = *b0;
    assert_int_equal(umc_bdev_register(n, &dup.bdev), -EEXIST);
    assert_ptr_equal(umc_bdev_first(n), &b0->bdev);
    assert_ptr_equal(umc_bdev_next(&b0->bdev), &b1->bdev);
    assert_ptr_equal(umc_bdev_find(n, "/UMCfuse/dev/tcmu001"), &b1->bdev);
    assert_null(umc_bdev_find(n, "tcmu002"));
    assert_int_equal(umc_bdev_open(&b0->bdev, UMC_OPEN_WRITE | UMC_OPEN_EXCL), 0);
    assert_int_equal(umc_bdev_open(&b0->bdev, 0), -EBUSY);
    assert_int_equal(umc_bdev_unregister(n, &b0->bdev), -EBUSY);
    umc_bdev_close(&b0->bdev, UMC_OPEN_WRITE | UMC_OPEN_EXCL);
    assert_int_equal(umc_bdev_open(&b0->bdev, 0), 0);
    assert_int_equal(umc_bdev_open(&b0->bdev, UMC_OPEN_EXCL), -EBUSY);
    umc_bdev_close(&b0->bdev, 0);
    assert_int_equal(umc_bdev_unregister(n, &b0->bdev), 0);
    assert_int_equal(umc_bdev_unregister(n, &b1->bdev), 0);
    umc_free(n, b0);
    umc_free(n, b1);
    assert_int_equal(umc_node_free(n), 0);
    mte_engine_free(e);
}

static void iov_helpers_cross_boundaries(void **state)
{
    char a[3], b[5], out[8];
    struct iovec iov[2] = {{a, 3}, {b, 5}};
    umc_iov_from_buf(iov, 2, 1, "abcdef", 6);
    assert_memory_equal(a + 1, "ab", 2);
    assert_memory_equal(b, "cdef", 4);
    umc_iov_to_buf(iov, 2, 2, out, 4);
    assert_memory_equal(out, "bcde", 4);
    umc_iov_zero(iov, 2, 2, 2);
    assert_int_equal(a[2], 0);
    assert_int_equal(b[0], 0);
    assert_int_equal(b[1], 'd');
    assert_int_equal(umc_iov_total(iov, 2), 8);
}

/* ---- digests ------------------------------------------------------------------------- */

static void hex_of(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

/* ---- CRC32C (RFC 3720 B.4) --------------------------------------------------------- */

static void crc32c_vectors(void **state)
{
    uint8_t buf[32];
    memset(buf, 0, 32);
    assert_int_equal(umc_crc32c(buf, 32), 0x8a9136aa);
    memset(buf, 0xff, 32);
    assert_int_equal(umc_crc32c(buf, 32), 0x62a8ab43);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    assert_int_equal(umc_crc32c(buf, 32), 0x46dd794e);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    assert_int_equal(umc_crc32c(buf, 32), 0x113fdb5c);
    assert_int_equal(umc_crc32c("123456789", 9), 0xe3069283);
}

static void crc32c_sw_matches_hw_and_is_incremental(void **state)
{
    uint8_t buf[4099];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 7 + (i >> 3));
    for (size_t off = 0; off < 9; off++) {
        for (size_t len = 0; len < 300; len += 13) {
            uint32_t sw = umc_crc32c_final(umc_crc32c_sw(UMC_CRC32C_INIT, buf + off, len));
            assert_int_equal(sw, umc_crc32c(buf + off, len));
        }
    }
    uint32_t whole = umc_crc32c(buf, sizeof(buf));
    uint32_t st = UMC_CRC32C_INIT;
    for (size_t pos = 0; pos < sizeof(buf); pos += 1000)
        st = umc_crc32c_update(st, buf + pos, sizeof(buf) - pos < 1000 ? sizeof(buf) - pos : 1000);
    assert_int_equal(umc_crc32c_final(st), whole);
    print_message("crc32c: hardware instruction %s\n", umc_crc32c_hw_available() ? "used" : "absent");
}

/* ---- MD5 (RFC 1321 A.5) ------------------------------------------------------------- */

static void md5_vectors(void **state)
{
    static const struct { const char *in, *hex; } v[] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
         "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint8_t d[16];
        char hex[33];
        umc_md5(v[i].in, strlen(v[i].in), d);
        hex_of(d, 16, hex);
        assert_string_equal(hex, v[i].hex);
        /* the same bytes fed one at a time */
        struct umc_md5 m;
        umc_md5_init(&m);
        for (const char *p = v[i].in; *p; p++)
            umc_md5_update(&m, p, 1);
        umc_md5_final(&m, d);
        hex_of(d, 16, hex);
        assert_string_equal(hex, v[i].hex);
    }
}

/* ---- SHA-1 (FIPS 180-1 appendix A, B, C) --------------------------------------------- */

static void sha1_vectors(void **state)
{
    char hex[41];
    uint8_t d[20];
    umc_sha1("abc", 3, d);
    hex_of(d, 20, hex);
    assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    umc_sha1(two, strlen(two), d);
    hex_of(d, 20, hex);
    assert_string_equal(hex, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    static char million[1000000];
    memset(million, 'a', sizeof(million));
    umc_sha1(million, sizeof(million), d);
    hex_of(d, 20, hex);
    assert_string_equal(hex, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

/* ---- real sockets ------------------------------------------------------------------ */

#define PAYLOAD (3u * 1024 * 1024 + 77)

struct echo_test {
    struct mte_engine *e;
    struct umc_node *n;
    struct umc_conn *client, *server;
    unsigned char *sent, *got;
    size_t got_len, sent_len;
    int client_closed, server_closed, connected;
    int close_err;
};

static void server_readable(struct umc_conn *c, void *arg)
{
    struct echo_test *t = arg;
    unsigned char buf[100000];
    ssize_t r;
    while ((r = umc_conn_read(c, buf, sizeof(buf))) > 0) {
        assert_true(t->got_len + (size_t)r <= PAYLOAD);
        memcpy(t->got + t->got_len, buf, (size_t)r);
        t->got_len += (size_t)r;
    }
}

static void server_close(struct umc_conn *c, int err, void *arg)
{
    struct echo_test *t = arg;
    t->server_closed++;
    t->close_err = err;
    umc_conn_close(c);
    mte_stop(t->e);
}

static const struct umc_conn_ops server_ops = {.on_readable = server_readable, .on_close = server_close};

static void on_accept(struct umc_listener *l, struct umc_conn *c, void *arg)
{
    struct echo_test *t = arg;
    t->server = c;
    umc_conn_set_ops(c, &server_ops, t);
}

static void client_connected(struct umc_conn *c, void *arg)
{
    struct echo_test *t = arg;
    t->connected++;
    /* many small sends (coalesced) and a few large ones (direct) */
    size_t off = 0, step = 1;
    while (off < PAYLOAD) {
        size_t n = step > PAYLOAD - off ? PAYLOAD - off : step;
        assert_int_equal(umc_conn_send_buf(c, t->sent + off, n), 0);
        off += n;
        step = step < 300000 ? step * 3 : 1;
    }
    umc_conn_close(c); /* graceful: everything still goes out */
    t->client = NULL;
}

static const struct umc_conn_ops client_ops = {.on_connect = client_connected};

static void stream_over(const char *listen_addr)
{
    struct echo_test t = {0};
    t.e = mte_engine_new(MTE_CLOCK_REAL, 1);
    t.n = new_node(t.e, "real");
    t.sent = umc_alloc(t.n, PAYLOAD);
    t.got = umc_alloc(t.n, PAYLOAD);
    for (size_t i = 0; i < PAYLOAD; i++)
        t.sent[i] = (unsigned char)(i ^ (i >> 8) ^ (i >> 16));
    int err = 0;
    struct umc_listener *l = umc_listen(t.n, listen_addr, on_accept, &t, &err);
    assert_non_null(l);
    assert_int_equal(err, 0);
    t.client = umc_connect(t.n, umc_listener_addr(l), &client_ops, &t);
    assert_non_null(t.client);
    mte_run_until(t.e, mte_now(t.e) + 20 * MTE_SEC);
    assert_int_equal(t.connected, 1);
    assert_int_equal(t.got_len, PAYLOAD);
    assert_memory_equal(t.sent, t.got, PAYLOAD);
    assert_int_equal(t.server_closed, 1);
    assert_int_equal(t.close_err, 0);
    umc_listener_close(l);
    umc_free(t.n, t.sent);
    umc_free(t.n, t.got);
    assert_int_equal(umc_node_free(t.n), 0);
    mte_engine_free(t.e);
}

static void tcp_stream_intact_then_eof(void **state) { stream_over("127.0.0.1:0"); }

static void unix_stream_intact_then_eof(void **state)
{
    char path[64];
    snprintf(path, sizeof(path), "unix:/tmp/umc-test-%d.sock", (int)getpid());
    stream_over(path);
}

static void refused_close(struct umc_conn *c, int err, void *arg)
{
    *(int *)arg = err;
    mte_stop(umc_engine(umc_conn_node(c)));
    umc_conn_close(c);
}

static void connect_refused_reports_error(void **state)
{
    struct mte_engine *e = mte_engine_new(MTE_CLOCK_REAL, 1);
    struct umc_node *n = new_node(e, "real");
    int err = 0;
    /* bind then close a listener to find a port nobody listens on */
    struct umc_listener *l = umc_listen(n, "127.0.0.1:0", on_accept, NULL, &err);
    char addr[UMC_ADDR_MAX];
    snprintf(addr, sizeof(addr), "%s", umc_listener_addr(l));
    umc_listener_close(l);
    static const struct umc_conn_ops ops = {.on_close = refused_close};
    umc_connect(n, addr, &ops, &err);
    mte_run_until(e, mte_now(e) + 5 * MTE_SEC);
    assert_int_equal(err, -ECONNREFUSED);
    assert_int_equal(umc_node_free(n), 0);
    mte_engine_free(e);
}

static void files_round_trip(void **state)
{
    struct mte_engine *e = mte_engine_new(MTE_CLOCK_REAL, 1);
    struct umc_node *n = new_node(e, "real");
    char path[64];
    snprintf(path, sizeof(path), "/tmp/umc-test-file-%d", (int)getpid());
    assert_int_equal(umc_write_file(n, path, "state 1\n", 8), 0);
    size_t len = 0;
    int err = 0;
    char *data = umc_read_file(n, path, &len, &err);
    assert_int_equal(err, 0);
    assert_int_equal(len, 8);
    assert_string_equal(data, "state 1\n");
    umc_free(n, data);
    unlink(path);
    assert_null(umc_read_file(n, path, &len, &err));
    assert_int_equal(err, -ENOENT);
    assert_int_equal(umc_node_free(n), 0);
    mte_engine_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(alloc_counts_and_frees),
        cmocka_unit_test(node_free_reports_leaks),
        cmocka_unit_test(crash_cancels_work_and_frees_memory),
        cmocka_unit_test(crash_hooks_run_in_order),
        cmocka_unit_test(node_streams_depend_on_seed_and_name),
        cmocka_unit_test(bugs_are_off_unless_set),
        cmocka_unit_test(bio_checks_and_completes_after_submit),
        cmocka_unit_test(read_only_and_write_zeroes_emulation),
        cmocka_unit_test(registry_order_find_and_opens),
        cmocka_unit_test(iov_helpers_cross_boundaries),
        cmocka_unit_test(crc32c_vectors),
        cmocka_unit_test(crc32c_sw_matches_hw_and_is_incremental),
        cmocka_unit_test(md5_vectors),
        cmocka_unit_test(sha1_vectors),
        cmocka_unit_test(tcp_stream_intact_then_eof),
        cmocka_unit_test(unix_stream_intact_then_eof),
        cmocka_unit_test(connect_refused_reports_error),
        cmocka_unit_test(files_round_trip),
    };
    return cmocka_run_group_tests_name("umc", tests, NULL, NULL);
}
