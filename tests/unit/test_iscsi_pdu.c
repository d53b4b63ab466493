/* iscsi shared codec: digest wire order, CHAP, header accessors and checks, LUNs,
 * serial numbers, key=value text and the PDU reader. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "iscsi/iscsi_proto.h"

static void hex_of(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

/* ---- digests on the wire ----------------------------------------------------------- */

static void test_digest_wire_order(void **state)
{
    /* the digest goes on the wire least significant byte first: aa 36 91 8a */
    uint8_t wire[4];
    iscsi_put_digest(wire, 0x8a9136aa);
    assert_int_equal(wire[0], 0xaa);
    assert_int_equal(wire[3], 0x8a);
    assert_int_equal(iscsi_get_digest(wire), 0x8a9136aa);
}

/* ---- CHAP ------------------------------------------------------------------------------ */

/* Expected values computed independently: hashlib.md5(bytes([id]) + secret + challenge). */
static void test_chap_responses(void **state)
{
    uint8_t ch[32], d[16];
    char hex[40];
    for (int i = 0; i < 16; i++)
        ch[i] = (uint8_t)i;
    iscsi_chap_response(1, "secretsecret", ch, 16, d);
    hex_of(d, 16, hex);
    assert_string_equal(hex, "226dc576c33f04ff9c3a200ffe35f442");
    assert_int_equal(iscsi_chap_decode("0xa0b1c2d3e4f5061728394a5b6c7d8e9f", ch, sizeof(ch)), 16);
    iscsi_chap_response(0xef, "abcdefghijkl", ch, 16, d);
    hex_of(d, 16, hex);
    assert_string_equal(hex, "f82305ccc3a0613e2ec9456031063723");
    ch[0] = 0;
    iscsi_chap_response(0, "", ch, 1, d);
    hex_of(d, 16, hex);
    assert_string_equal(hex, "c4103f122d27677c9db144cae1394a66");
    memset(ch, 0xff, 32);
    iscsi_chap_response(255, "mutualsecret99", ch, 32, d);
    hex_of(d, 16, hex);
    assert_string_equal(hex, "9d9b2b06f068fe30b8979e8a82f5c887");
}

static void test_chap_encodings(void **state)
{
    uint8_t a[64], b[64];
    char text[200];
    assert_int_equal(iscsi_chap_decode("0xA0B1c2d3e4f5061728394a5b6c7d8e9f", a, sizeof(a)), 16);
    assert_int_equal(iscsi_chap_decode("0boLHC0+T1BhcoOUpbbH2Onw==", b, sizeof(b)), 16);
    assert_memory_equal(a, b, 16);
    iscsi_chap_encode_hex(a, 16, text);
    assert_string_equal(text, "0xa0b1c2d3e4f5061728394a5b6c7d8e9f");
    assert_int_equal(iscsi_chap_decode("0xabc", a, sizeof(a)), 2); /* odd: leading zero */
    assert_int_equal(a[0], 0x0a);
    assert_int_equal(a[1], 0xbc);
    static const char *const bad[] = {"", "0x", "0b", "abc", "0xzz", "0x12g4", "0b@@@@",
                                      "0bAA=A", "1x00", "0q00"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(iscsi_chap_decode(bad[i], a, sizeof(a)), -1);
    assert_int_equal(iscsi_chap_decode("0x000102030405", a, 5), -1); /* longer than the room */
}

/* ---- headers ---------------------------------------------------------------------------- */

static void test_header_accessors_round_trip(void **state)
{
    uint8_t h[ISCSI_BHS_LEN];
    iscsi_hdr_init(h, ISCSI_OP_SCSI_CMD | ISCSI_OP_IMMEDIATE, ISCSI_F | ISCSI_CMD_R | 1);
    iscsi_hdr_set_dlen(h, 0x123456);
    iscsi_put64(h, ISCSI_OFF_LUN, iscsi_lun_encode(5));
    iscsi_put32(h, ISCSI_OFF_ITT, 0xdeadbeef);
    iscsi_put32(h, ISCSI_OFF_EDTL, 4096);
    iscsi_put32(h, ISCSI_OFF_CMDSN, 77);
    iscsi_put32(h, ISCSI_OFF_EXPSTATSN, 78);
    h[ISCSI_OFF_CDB] = 0x28;
    static const uint8_t wire[16] = {0x41, 0xc1, 0, 0, 0, 0x12, 0x34, 0x56,
                                     0, 5, 0, 0, 0, 0, 0, 0};
    assert_memory_equal(h, wire, 16);                       /* RFC 7143 11.3 layout */
    assert_int_equal(h[16], 0xde);
    assert_int_equal(iscsi_hdr_opcode(h), ISCSI_OP_SCSI_CMD);
    assert_true(iscsi_hdr_immediate(h));
    assert_int_equal(iscsi_hdr_dlen(h), 0x123456);
    assert_int_equal(iscsi_hdr_itt(h), 0xdeadbeef);
    assert_int_equal(iscsi_get32(h, ISCSI_OFF_EDTL), 4096);
    assert_int_equal(iscsi_get32(h, ISCSI_OFF_CMDSN), 77);
    assert_int_equal(iscsi_lun_decode(iscsi_get64(h, ISCSI_OFF_LUN)), 5);
    iscsi_hdr_set_isid_tsih(h, 0x80123456789aull, 0x4321);
    assert_int_equal(iscsi_hdr_isid(h), 0x80123456789aull);
    assert_int_equal(iscsi_hdr_tsih(h), 0x4321);
    assert_int_equal(h[8], 0x80);
    assert_int_equal(h[15], 0x21);
    iscsi_put16(h, ISCSI_OFF_CID, 0xabcd);
    assert_int_equal(iscsi_get16(h, ISCSI_OFF_CID), 0xabcd);
    assert_int_equal(iscsi_pad4(0), 0);
    assert_int_equal(iscsi_pad4(1), 3);
    assert_int_equal(iscsi_pad4(4), 0);
    assert_int_equal(iscsi_pad4(7), 1);
    assert_string_equal(iscsi_opcode_name(ISCSI_OP_R2T), "R2T");
    assert_string_equal(iscsi_login_status_name(0x0201), "authentication failed");
}

static void make(uint8_t *h, unsigned op, uint8_t flags, uint32_t itt, uint32_t dlen)
{
    iscsi_hdr_init(h, op, flags);
    iscsi_put32(h, ISCSI_OFF_ITT, itt);
    iscsi_hdr_set_dlen(h, dlen);
}

static void test_initiator_pdu_checks(void **state)
{
    uint8_t h[ISCSI_BHS_LEN];
    struct { unsigned op; uint8_t flags; uint32_t itt, dlen, f20; uint8_t ahs; unsigned expect; } v[] = {
        {ISCSI_OP_NOP_OUT, ISCSI_F, 1, 0, ISCSI_RSVD_TAG, 0, 0},
        {ISCSI_OP_NOP_OUT, 0, 1, 0, ISCSI_RSVD_TAG, 0, ISCSI_REJECT_INVALID_FIELD},   /* no F */
        {ISCSI_OP_NOP_OUT, ISCSI_F, 1, 0, 7, 0, ISCSI_REJECT_INVALID_FIELD},          /* ITT and TTT */
        {ISCSI_OP_SCSI_CMD, ISCSI_F | ISCSI_CMD_R, 1, 0, 512, 0, 0},
        {ISCSI_OP_SCSI_CMD, ISCSI_F | ISCSI_CMD_R, ISCSI_RSVD_TAG, 0, 512, 0, ISCSI_REJECT_INVALID_FIELD},
        {ISCSI_OP_SCSI_CMD, ISCSI_F | ISCSI_CMD_R, 1, 8, 512, 0, ISCSI_REJECT_INVALID_FIELD}, /* data, no W */
        {ISCSI_OP_SCSI_CMD, ISCSI_CMD_R, 1, 0, 512, 0, ISCSI_REJECT_INVALID_FIELD},   /* F=0 without W */
        {ISCSI_OP_SCSI_CMD, ISCSI_F | ISCSI_CMD_W, 1, 1024, 512, 0, ISCSI_REJECT_INVALID_FIELD},
        {ISCSI_OP_SCSI_CMD, ISCSI_CMD_W, 1, 512, 4096, 1, 0},                       /* AHS ok here */
        {ISCSI_OP_TMF_REQ, ISCSI_F | 1, 1, 0, 5, 0, 0},
        {ISCSI_OP_TMF_REQ, ISCSI_F | 1, 1, 4, 5, 0, ISCSI_REJECT_INVALID_FIELD},      /* data */
        {ISCSI_OP_TEXT_REQ, ISCSI_F | ISCSI_TEXT_C, 1, 0, ISCSI_RSVD_TAG, 0, ISCSI_REJECT_INVALID_FIELD},
        {ISCSI_OP_TEXT_REQ, ISCSI_F, 1, 16, ISCSI_RSVD_TAG, 0, 0},
        {ISCSI_OP_TEXT_REQ, ISCSI_F, 1, 16, ISCSI_RSVD_TAG, 2, ISCSI_REJECT_INVALID_FIELD}, /* AHS */
        {ISCSI_OP_DATA_OUT, ISCSI_F, ISCSI_RSVD_TAG, 512, 3, 0, ISCSI_REJECT_INVALID_FIELD},
        {ISCSI_OP_LOGOUT_REQ, ISCSI_F | 3, 1, 0, 0, 0, ISCSI_REJECT_INVALID_FIELD},   /* reason 3 */
        {ISCSI_OP_LOGOUT_REQ, ISCSI_F | 1, 1, 0, 0, 0, 0},
        {ISCSI_OP_SNACK, ISCSI_F, 1, 0, 0, 0, ISCSI_REJECT_PROTOCOL},
        {0x07, ISCSI_F, 1, 0, 0, 0, ISCSI_REJECT_NOT_SUPPORTED},
        {0x1c, ISCSI_F, 1, 0, 0, 0, ISCSI_REJECT_NOT_SUPPORTED},
        {ISCSI_OP_SCSI_RSP, ISCSI_F, 1, 0, 0, 0, ISCSI_REJECT_PROTOCOL},               /* target opcode */
        {ISCSI_OP_NOP_OUT, ISCSI_F, 1, 8193, ISCSI_RSVD_TAG, 0, ISCSI_REJECT_PROTOCOL}, /* too long */
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        make(h, v[i].op, v[i].flags, v[i].itt, v[i].dlen);
        iscsi_put32(h, 20, v[i].f20);
        h[4] = v[i].ahs;
        unsigned got = iscsi_check_initiator_pdu(h, 8192);
        if (got != v[i].expect)
            fail_msg("case %zu (%s): reason 0x%02x, expected 0x%02x", i, iscsi_opcode_name(v[i].op),
                     got, v[i].expect);
    }
}

static void test_target_pdu_checks(void **state)
{
    uint8_t h[ISCSI_BHS_LEN];
    make(h, ISCSI_OP_DATA_IN, ISCSI_F, 1, 512);
    assert_int_equal(iscsi_check_target_pdu(h, 8192), 0);
    make(h, ISCSI_OP_NOP_OUT, ISCSI_F, 1, 0);
    assert_int_equal(iscsi_check_target_pdu(h, 8192), ISCSI_REJECT_NOT_SUPPORTED);
    make(h, ISCSI_OP_R2T, ISCSI_F, 1, 0);
    assert_int_equal(iscsi_check_target_pdu(h, 8192), ISCSI_REJECT_INVALID_FIELD); /* length 0 */
    iscsi_put32(h, ISCSI_OFF_DESIRED_LEN, 4096);
    assert_int_equal(iscsi_check_target_pdu(h, 8192), 0);
    make(h, ISCSI_OP_REJECT, ISCSI_F, ISCSI_RSVD_TAG, 20);
    assert_int_equal(iscsi_check_target_pdu(h, 8192), ISCSI_REJECT_INVALID_FIELD);
    make(h, ISCSI_OP_TEXT_RSP, ISCSI_F, 1, 9000);
    assert_int_equal(iscsi_check_target_pdu(h, 8192), ISCSI_REJECT_PROTOCOL);
    make(h, ISCSI_OP_SCSI_RSP, ISCSI_F, 1, 0);
    h[4] = 1;
    assert_int_equal(iscsi_check_target_pdu(h, 8192), ISCSI_REJECT_INVALID_FIELD);
}

static void test_lun_encoding(void **state)
{
    assert_int_equal(iscsi_lun_encode(0), 0);
    assert_int_equal(iscsi_lun_encode(1), 0x0001000000000000ull);
    assert_int_equal(iscsi_lun_encode(255), 0x00ff000000000000ull);
    assert_int_equal(iscsi_lun_encode(256), 0x4100000000000000ull);   /* flat space */
    assert_int_equal(iscsi_lun_encode(16383), 0x7fff000000000000ull);
    for (uint64_t l = 0; l < 16384; l += 37)
        assert_int_equal(iscsi_lun_decode(iscsi_lun_encode(l)), l);
    assert_int_equal(iscsi_lun_decode(0x4005000000000000ull), 5);    /* flat space, small */
    assert_int_equal(iscsi_lun_decode(0x0101000000000000ull), ISCSI_LUN_INVALID); /* bus 1 */
    assert_int_equal(iscsi_lun_decode(0x0001000000000001ull), ISCSI_LUN_INVALID); /* two levels */
    assert_int_equal(iscsi_lun_decode(0x8001000000000000ull), ISCSI_LUN_INVALID); /* logical unit */
    assert_int_equal(iscsi_lun_decode(0xc001000000000000ull), ISCSI_LUN_INVALID); /* extended */
}

static void test_serial_numbers(void **state)
{
    assert_true(iscsi_sn_lt(1, 2));
    assert_false(iscsi_sn_lt(2, 2));
    assert_true(iscsi_sn_le(2, 2));
    assert_true(iscsi_sn_lt(0xffffffff, 0));                 /* wraps */
    assert_true(iscsi_sn_lt(0xfffffff0, 0x10));
    assert_false(iscsi_sn_lt(0x10, 0xfffffff0));
    assert_false(iscsi_sn_lt(0, 0x80000000));                /* undefined distance: not less */
    assert_true(iscsi_sn_lt(0, 0x7fffffff));
}

/* ---- text -------------------------------------------------------------------------------- */

static void test_text_iterator(void **state)
{
    static const char data[] = "A=1\0B.c-d=x=y\0\0\0Empty=\0Last=no-nul";
    struct iscsi_text_iter it;
    const char *k, *v;
    iscsi_text_iter_init(&it, data, sizeof(data) - 1);
    assert_int_equal(iscsi_text_next(&it, &k, &v), 1);
    assert_string_equal(k, "A");
    assert_string_equal(v, "1");
    assert_int_equal(iscsi_text_next(&it, &k, &v), 1);
    assert_string_equal(k, "B.c-d");
    assert_string_equal(v, "x=y");
    assert_int_equal(iscsi_text_next(&it, &k, &v), 1);
    assert_string_equal(k, "Empty");
    assert_string_equal(v, "");
    assert_int_equal(iscsi_text_next(&it, &k, &v), 1);
    assert_string_equal(v, "no-nul");
    assert_int_equal(iscsi_text_next(&it, &k, &v), 0);
    static const char *const bad[] = {"novalue", "=x", "sp ace=1", "k\x01=1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        iscsi_text_iter_init(&it, bad[i], strlen(bad[i]) + 1);
        assert_int_equal(iscsi_text_next(&it, &k, &v), -1);
    }
    char longkey[80];
    memset(longkey, 'k', 64);
    strcpy(longkey + 64, "=1");
    iscsi_text_iter_init(&it, longkey, strlen(longkey) + 1);
    assert_int_equal(iscsi_text_next(&it, &k, &v), -1);      /* key over 63 bytes */
}

static void test_text_builder_and_numbers(void **state)
{
    char buf[24];
    struct iscsi_text t = {.buf = buf, .cap = sizeof(buf)};
    iscsi_text_add(&t, "Key", "Value");
    iscsi_text_add_num(&t, "N", 42);
    assert_int_equal(t.len, 10 + 5);
    assert_memory_equal(buf, "Key=Value\0N=42\0", 15);
    iscsi_text_add(&t, "TooLong", "xxxxxxxxxxxx");
    assert_true(t.overflow);
    assert_int_equal(t.len, 15);
    uint64_t n;
    assert_true(iscsi_parse_number("262144", 16777215, &n));
    assert_int_equal(n, 262144);
    assert_true(iscsi_parse_number("0x10", 100, &n));
    assert_int_equal(n, 16);
    assert_false(iscsi_parse_number("16777216", 16777215, &n));
    assert_false(iscsi_parse_number("", 10, &n));
    assert_false(iscsi_parse_number("12a", 100, &n));
    assert_false(iscsi_parse_number("0x", 100, &n));
    assert_false(iscsi_parse_number("-1", 100, &n));
    assert_false(iscsi_parse_number("99999999999999999999999", UINT64_MAX, &n));
    assert_true(iscsi_list_has("CHAP,None", "None"));
    assert_false(iscsi_list_has("CHAP,Nonesuch", "None"));
}

/* ---- the PDU reader ------------------------------------------------------------------------ */

struct stream {
    uint8_t data[200000];
    size_t len, pos, chunk;      /* at most chunk bytes per read */
    uint8_t direct[70000];
    int headers, pdus;
    bool go_direct, data_ok[64];
    uint32_t dlen[64];
    uint8_t first[64];
};

static long s_read(void *owner, void *buf, size_t len)
{
    struct stream *s = owner;
    size_t n = s->len - s->pos;
    if (n > len)
        n = len;
    if (n > s->chunk)
        n = s->chunk;
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
    return (long)n;
}

static int s_header(void *owner, struct iscsi_rx *rx)
{
    struct stream *s = owner;
    s->headers++;
    if (s->go_direct)
        iscsi_rx_set_direct(rx, s->direct, sizeof(s->direct));
    return 0;
}

static int s_pdu(void *owner, struct iscsi_rx *rx, const uint8_t *data, bool ok)
{
    struct stream *s = owner;
    int i = s->pdus++;
    s->data_ok[i] = ok;
    s->dlen[i] = rx->dlen;
    s->first[i] = rx->dlen ? (data ? data[0] : s->direct[0]) : 0;
    return 0;
}

static void *s_alloc(void *o, size_t n) { return malloc(n); }
static void s_free(void *o, void *p) { free(p); }

static const struct iscsi_rx_ops s_ops = {s_header, s_pdu, s_read, s_alloc, s_free};

static void put_pdu(struct stream *s, uint32_t dlen, uint8_t fill, bool hd, bool dd, bool corrupt)
{
    uint8_t *h = s->data + s->len;
    make(h, ISCSI_OP_NOP_IN, ISCSI_F, 1, dlen);
    s->len += ISCSI_BHS_LEN;
    if (hd) {
        iscsi_put_digest(s->data + s->len, umc_crc32c(h, ISCSI_BHS_LEN));
        s->len += 4;
    }
    uint8_t *d = s->data + s->len;
    memset(d, fill, dlen);
    memset(d + dlen, 0, iscsi_pad4(dlen));
    s->len += dlen + iscsi_pad4(dlen);
    if (dd && dlen) {
        iscsi_put_digest(s->data + s->len, umc_crc32c(d, dlen + iscsi_pad4(dlen)) ^ corrupt);
        s->len += 4;
    }
}

static void run_stream(struct stream *s, bool hd, bool dd, size_t chunk, bool direct)
{
    uint8_t *buf = malloc(ISCSI_RX_BUF);
    struct iscsi_rx rx;
    iscsi_rx_init(&rx, &s_ops, s, buf);
    rx.header_digest = hd;
    rx.data_digest = dd;
    s->chunk = chunk;
    s->go_direct = direct;
    while (s->pos < s->len || iscsi_rx_has_buffered(&rx))
        assert_int_equal(iscsi_rx_pump(&rx), 0);
    assert_int_equal(iscsi_rx_pump(&rx), 0);
    iscsi_rx_release(&rx);
    free(buf);
}

static void test_rx_cuts_pdus_in_every_mode(void **state)
{
    static const uint32_t sizes[] = {0, 1, 3, 4, 513, 8192, 40000, 65536};
    for (int mode = 0; mode < 8; mode++) {
        bool hd = mode & 1, dd = mode & 2, direct = mode & 4;
        for (size_t chunk = 1; chunk < 100000; chunk = chunk * 7 + 5) {
            struct stream *s = calloc(1, sizeof(*s));
            for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
                put_pdu(s, sizes[i], (uint8_t)(i + 1), hd, dd, i == 5);
            run_stream(s, hd, dd, chunk, direct);
            assert_int_equal(s->pdus, (int)(sizeof(sizes) / sizeof(sizes[0])));
            for (int i = 0; i < s->pdus; i++) {
                assert_int_equal(s->dlen[i], sizes[i]);
                if (sizes[i])
                    assert_int_equal(s->first[i], i + 1);
                assert_true(s->data_ok[i] == !(dd && i == 5));
            }
            free(s);
        }
    }
}

static void test_rx_header_digest_error_stops(void **state)
{
    struct stream *s = calloc(1, sizeof(*s));
    put_pdu(s, 10, 1, true, false, false);
    s->data[3] ^= 1;                                  /* corrupt the header */
    uint8_t *buf = malloc(ISCSI_RX_BUF);
    struct iscsi_rx rx;
    iscsi_rx_init(&rx, &s_ops, s, buf);
    rx.header_digest = true;
    s->chunk = 1000;
    assert_int_equal(iscsi_rx_pump(&rx), -EBADMSG);
    assert_int_equal(s->headers, 0);
    free(buf);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digest_wire_order),
        cmocka_unit_test(test_chap_responses),
        cmocka_unit_test(test_chap_encodings),
        cmocka_unit_test(test_header_accessors_round_trip),
        cmocka_unit_test(test_initiator_pdu_checks),
        cmocka_unit_test(test_target_pdu_checks),
        cmocka_unit_test(test_lun_encoding),
        cmocka_unit_test(test_serial_numbers),
        cmocka_unit_test(test_text_iterator),
        cmocka_unit_test(test_text_builder_and_numbers),
        cmocka_unit_test(test_rx_cuts_pdus_in_every_mode),
        cmocka_unit_test(test_rx_header_digest_error_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
