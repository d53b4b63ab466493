/* MD5 (RFC 1321) and the CHAP pieces iSCSI needs (RFC 1994, RFC 7143 12.1.3):
 * the MD5 response, and the binary encodings of CHAP_C / CHAP_R values. */
#include "iscsi/iscsi_proto.h"

/* ---- MD5 --------------------------------------------------------------------------- */

/* K[i] = floor(|sin(i + 1)| * 2^32) */
static const uint32_t md5_k[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};
/* per-round left rotations, four per round */
static const uint8_t md5_r[16] = {7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21};

static inline uint32_t rotl(uint32_t x, unsigned c) { return x << c | x >> (32 - c); }

static void md5_block(uint32_t st[4], const uint8_t *p)
{
    uint32_t m[16];
    for (int i = 0; i < 16; i++)
        m[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
               (uint32_t)p[4 * i + 3] << 24;
    uint32_t a = st[0], b = st[1], c = st[2], d = st[3];
    for (unsigned i = 0; i < 64; i++) {
        uint32_t f;
        unsigned g, round = i / 16;
        if (round == 0) {
            f = (b & c) | (~b & d);
            g = i;
        } else if (round == 1) {
            f = (d & b) | (~d & c);
            g = (5 * i + 1) & 15;
        } else if (round == 2) {
            f = b ^ c ^ d;
            g = (3 * i + 5) & 15;
        } else {
            f = c ^ (b | ~d);
            g = (7 * i) & 15;
        }
        uint32_t next = b + rotl(a + f + md5_k[i] + m[g], md5_r[round * 4 + (i & 3)]);
        a = d;
        d = c;
        c = b;
        b = next;
    }
    st[0] += a;
    st[1] += b;
    st[2] += c;
    st[3] += d;
}

void iscsi_md5_init(struct iscsi_md5 *m)
{
    m->state[0] = 0x67452301;
    m->state[1] = 0xefcdab89;
    m->state[2] = 0x98badcfe;
    m->state[3] = 0x10325476;
    m->bytes = 0;
}

void iscsi_md5_update(struct iscsi_md5 *m, const void *data, size_t len)
{
    const uint8_t *p = data;
    size_t have = m->bytes & 63;
    m->bytes += len;
    if (have) {
        size_t take = 64 - have < len ? 64 - have : len;
        memcpy(m->block + have, p, take);
        p += take;
        len -= take;
        if (have + take < 64)
            return;
        md5_block(m->state, m->block);
    }
    for (; len >= 64; p += 64, len -= 64)
        md5_block(m->state, p);
    memcpy(m->block, p, len);
}

void iscsi_md5_final(struct iscsi_md5 *m, uint8_t digest[16])
{
    uint64_t bits = m->bytes * 8;
    uint8_t pad[72] = {0x80};
    size_t have = m->bytes & 63;
    size_t padlen = have < 56 ? 56 - have : 120 - have;
    for (int i = 0; i < 8; i++)
        pad[padlen + i] = (uint8_t)(bits >> (8 * i));
    iscsi_md5_update(m, pad, padlen + 8);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            digest[4 * i + j] = (uint8_t)(m->state[i] >> (8 * j));
}

void iscsi_md5(const void *data, size_t len, uint8_t digest[16])
{
    struct iscsi_md5 m;
    iscsi_md5_init(&m);
    iscsi_md5_update(&m, data, len);
    iscsi_md5_final(&m, digest);
}

/* ---- CHAP ---------------------------------------------------------------------------- */

void iscsi_chap_response(uint8_t id, const char *secret, const uint8_t *challenge, size_t clen,
                         uint8_t out[16])
{
    struct iscsi_md5 m;
    iscsi_md5_init(&m);
    iscsi_md5_update(&m, &id, 1);
    iscsi_md5_update(&m, secret, strlen(secret));
    iscsi_md5_update(&m, challenge, clen);
    iscsi_md5_final(&m, out);
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int decode_hex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = strlen(s), len = (n + 1) / 2;
    if (!n || len > cap)
        return -1;
    size_t i = 0, o = 0;
    if (n & 1) { /* an odd count has an implied leading zero */
        int d = hex_digit(s[i++]);
        if (d < 0)
            return -1;
        out[o++] = (uint8_t)d;
    }
    for (; i < n; i += 2) {
        int hi = hex_digit(s[i]), lo = hex_digit(s[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[o++] = (uint8_t)(hi << 4 | lo);
    }
    return (int)o;
}

static int b64_digit(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

static int decode_base64(const char *s, uint8_t *out, size_t cap)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    bool padding = false;
    for (; *s; s++) {
        if (*s == '=') {
            padding = true;
            continue;
        }
        int d = b64_digit(*s);
        if (d < 0 || padding)
            return -1;
        acc = acc << 6 | (uint32_t)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap)
                return -1;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    return o ? (int)o : -1;
}

int iscsi_chap_decode(const char *text, uint8_t *out, size_t cap)
{
    if (text[0] != '0')
        return -1;
    if (text[1] == 'x' || text[1] == 'X')
        return decode_hex(text + 2, out, cap);
    if (text[1] == 'b' || text[1] == 'B')
        return decode_base64(text + 2, out, cap);
    return -1;
}

void iscsi_chap_encode_hex(const uint8_t *bin, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    *out++ = '0';
    *out++ = 'x';
    for (size_t i = 0; i < len; i++) {
        *out++ = digits[bin[i] >> 4];
        *out++ = digits[bin[i] & 15];
    }
    *out = '\0';
}
