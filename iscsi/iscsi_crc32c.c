/* CRC32C for header and data digests: the SSE4.2 crc32 instruction when the
 * CPU has it (checked with cpuid through __builtin_cpu_supports, which reads
 * libgcc's already-initialised model, so no state of ours), else slicing-by-8
 * over the const tables in iscsi_crc32c_table.c. */
#include "iscsi/iscsi_proto.h"

extern const uint32_t iscsi_crc32c_table[8][256];

static inline uint64_t load64_le(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

uint32_t iscsi_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    const uint32_t(*t)[256] = iscsi_crc32c_table;
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

bool iscsi_crc32c_hw_available(void) { return __builtin_cpu_supports("sse4.2"); }

uint32_t iscsi_crc32c_update(uint32_t state, const void *buf, size_t len)
{
    if (__builtin_cpu_supports("sse4.2"))
        return crc32c_hw(state, buf, len);
    return iscsi_crc32c_sw(state, buf, len);
}

#else

bool iscsi_crc32c_hw_available(void) { return false; }

uint32_t iscsi_crc32c_update(uint32_t state, const void *buf, size_t len)
{
    return iscsi_crc32c_sw(state, buf, len);
}

#endif

uint32_t iscsi_crc32c(const void *buf, size_t len)
{
    return iscsi_crc32c_final(iscsi_crc32c_update(ISCSI_CRC32C_INIT, buf, len));
}
