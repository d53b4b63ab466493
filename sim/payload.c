/* Self-describing sectors: 64 words of 8 bytes.
 *   w0 magic ^ tag, w1 lba, w2 write id, w3..w62 filler from (lba, id), w63 checksum
 * The filler makes every sector's bytes differ (a stale or misdirected
 * sector cannot pass for another); the checksum catches torn or flipped bytes.
 * Both are cheap on purpose: a workload fills every sector it writes. */
#include <stdio.h>
#include <string.h>

#include "sim/payload.h"

#define WORDS (PAYLOAD_SECTOR / 8)
#define MAGIC 0x5343535453494d31ull /* "SCSTSIM1" */
#define STEP 0x9e3779b97f4a7c15ull

static uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ull;
    x ^= x >> 27;
    x *= 0x81dadef4bc2dd44dull;
    return x ^ (x >> 33);
}

static inline uint64_t rotl(uint64_t x, unsigned r) { return (x << r) | (x >> ((64 - r) & 63)); }

/* Each word rotated by its position and folded: independent operations the
 * compiler can run in parallel; any single changed bit changes the sum. */
static uint64_t checksum(const uint64_t *w)
{
    uint64_t h = 0;
    for (unsigned i = 0; i < WORDS - 1; i++)
        h ^= rotl(w[i], i);
    return mix(h ^ STEP);
}

static void fill_sector(uint64_t *w, uint64_t lba, uint32_t tag, uint32_t id)
{
    w[0] = MAGIC ^ tag;
    w[1] = lba;
    w[2] = id;
    uint64_t base = mix(lba * STEP ^ ((uint64_t)id << 32 | tag));
    for (unsigned i = 3; i < WORDS - 1; i++)
        w[i] = base + i * STEP;
    w[WORDS - 1] = checksum(w);
}

void payload_fill(void *buf, uint64_t lba, uint32_t nsectors, uint32_t tag, uint32_t write_id)
{
    unsigned char *p = buf;
    for (uint32_t i = 0; i < nsectors; i++) {
        if ((uintptr_t)p % 8 == 0) {
            fill_sector((uint64_t *)(void *)(p + (size_t)i * PAYLOAD_SECTOR), lba + i, tag, write_id);
        } else {
            uint64_t w[WORDS];
            fill_sector(w, lba + i, tag, write_id);
            memcpy(p + (size_t)i * PAYLOAD_SECTOR, w, PAYLOAD_SECTOR);
        }
    }
}

enum payload_state payload_decode(const void *sector, uint64_t lba, uint32_t tag, uint32_t *write_id)
{
    uint64_t w[WORDS];
    memcpy(w, sector, PAYLOAD_SECTOR);
    uint64_t any = 0;
    for (unsigned i = 0; i < WORDS; i++)
        any |= w[i];
    if (!any)
        return PAYLOAD_ZERO;
    if ((w[0] & ~0xffffffffull) != (MAGIC & ~0xffffffffull) || w[WORDS - 1] != checksum(w) ||
        w[2] > UINT32_MAX)
        return PAYLOAD_CORRUPT;
    if ((w[0] ^ MAGIC) != tag)
        return PAYLOAD_FOREIGN;
    if (w[1] != lba)
        return PAYLOAD_MISPLACED;
    *write_id = (uint32_t)w[2];
    return PAYLOAD_OK;
}

const char *payload_state_name(enum payload_state st)
{
    static const char *const names[] = {"ok", "zero", "corrupt", "misplaced", "foreign"};
    return st <= PAYLOAD_FOREIGN ? names[st] : "?";
}

void payload_describe(const void *sector, char *buf, size_t len)
{
    uint64_t w[WORDS];
    memcpy(w, sector, PAYLOAD_SECTOR);
    uint64_t any = 0;
    for (unsigned i = 0; i < WORDS; i++)
        any |= w[i];
    if (!any)
        snprintf(buf, len, "zeros");
    else if ((w[0] & ~0xffffffffull) != (MAGIC & ~0xffffffffull) || w[WORDS - 1] != checksum(w))
        snprintf(buf, len, "not a payload");
    else
        snprintf(buf, len, "write %llu of workload %llu for lba %llu", (unsigned long long)w[2],
                 (unsigned long long)(w[0] ^ MAGIC), (unsigned long long)w[1]);
}
