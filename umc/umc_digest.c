/* Digests shared by the product modules: CRC32C (iSCSI header/data digests,
 * drbd meta-data and csums/verify), MD5 (CHAP, drbd csums) and SHA-1 (drbd
 * csums), written from RFC 3720 B.4, RFC 1321 and FIPS 180-1.
 *
 * CRC32C uses the SSE4.2 crc32 instruction when the CPU has it (checked
 * with __builtin_cpu_supports, which reads libgcc's already-initialised CPU
 * model, so no state of ours), else slicing-by-8 over the const tables in
 * umc_crc32c_table.c. */
#include <string.h>

#include "umc/umc.h"

extern const uint32_t umc_crc32c_table[8][256];

static inline uint64_t load64_le(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

uint32_t umc_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    const uint32_t(*t)[256] = umc_crc32c_table;
    while (len && ((uintptr_t)p & 7)) {
        crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
        len--;
    }
    while (len >= 8) {
        uint64_t v = load64_le(p) ^ crc;
        crc = t[7][v & 0xff] ^ t[6][(v >> 8) & 0xff] ^ t[5][(v >> 16) & 0xff] ^
              t[4][(v >> 24) & 0xff] ^ t[3][(v >> 32) & 0xff] ^ t[2][(v >> 40) & 0xff] ^
              t[1][(v >> 48) & 0xff] ^ t[0][v >> 56];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

#if defined(__x86_64__)

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p,
                                                             size_t len)
{
    while (len && ((uintptr_t)p & 7)) {
        crc = __builtin_ia32_crc32qi(crc, *p++);
        len--;
    }
    uint64_t c = crc;
    while (len >= 8) {
        c = __builtin_ia32_crc32di(c, load64_le(p));
        p += 8;
        len -= 8;
    }
    crc = (uint32_t)c;
    while (len--)
        crc = __builtin_ia32_crc32qi(crc, *p++);
    return crc;
}

bool umc_crc32c_hw_available(void) { return __builtin_cpu_supports("sse4.2"); }

uint32_t umc_crc32c_update(uint32_t state, const void *buf, size_t len)
{
    if (__builtin_cpu_supports("sse4.2"))
        return crc32c_hw(state, buf, len);
    return umc_crc32c_sw(state, buf, len);
}

#else

bool umc_crc32c_hw_available(void) { return false; }

uint32_t umc_crc32c_update(uint32_t state, const void *buf, size_t len)
{
    return umc_crc32c_sw(state, buf, len);
}

#endif

uint32_t umc_crc32c(const void *buf, size_t len)
{
    return umc_crc32c_final(umc_crc32c_update(UMC_CRC32C_INIT, buf, len));
}

/* ---- MD5 ------------------------------------------------------------------------------ */

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

void umc_md5_init(struct umc_md5 *m)
{
    m->state[0] = 0x67452301;
    m->state[1] = 0xefcdab89;
    m->state[2] = 0x98badcfe;
    m->state[3] = 0x10325476;
    m->bytes = 0;
}

void umc_md5_update(struct umc_md5 *m, const void *data, size_t len)
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

void umc_md5_final(struct umc_md5 *m, uint8_t digest[16])
{
    uint64_t bits = m->bytes * 8;
    uint8_t pad[72] = {0x80};
    size_t have = m->bytes & 63;
    size_t padlen = have < 56 ? 56 - have : 120 - have;
    for (int i = 0; i < 8; i++)
        pad[padlen + i] = (uint8_t)(bits >> (8 * i));
    umc_md5_update(m, pad, padlen + 8);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            digest[4 * i + j] = (uint8_t)(m->state[i] >> (8 * j));
}

void umc_md5(const void *data, size_t len, uint8_t digest[16])
{
    struct umc_md5 m;
    umc_md5_init(&m);
    umc_md5_update(&m, data, len);
    umc_md5_final(&m, digest);
}

/* ---- SHA-1 ------------------------------------------------------------------------------ */

static void sha1_block(uint32_t h[5], const unsigned char *blk)
{
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)blk[i * 4] << 24 | (uint32_t)blk[i * 4 + 1] << 16 |
               (uint32_t)blk[i * 4 + 2] << 8 | (uint32_t)blk[i * 4 + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5a827999;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ed9eba1;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8f1bbcdc;
        } else {
            f = b ^ c ^ d;
            k = 0xca62c1d6;
        }
        uint32_t t = rotl(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rotl(b, 30);
        b = a;
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void umc_sha1(const void *data, size_t len, uint8_t out[20])
{
    const unsigned char *p = data;
    uint32_t h[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
    size_t full = len / 64 * 64;
    for (size_t off = 0; off < full; off += 64)
        sha1_block(h, p + off);
    /* the padding: 0x80, zeros, the length in bits big-endian; one or two blocks */
    unsigned char tail[128] = {0};
    size_t rest = len - full;
    memcpy(tail, p + full, rest);
    tail[rest] = 0x80;
    size_t tlen = rest + 1 + 8 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++)
        tail[tlen - 8 + i] = (unsigned char)(bits >> (56 - 8 * i));
    sha1_block(h, tail);
    if (tlen == 128)
        sha1_block(h, tail + 64);
    for (int i = 0; i < 20; i++)
        out[i] = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
}
