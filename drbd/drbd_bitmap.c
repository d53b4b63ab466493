/* The in-memory bitmap of one peer slot: one bit per 4 KiB block, word
 * operations, a running count of set bits, and a dirty flag per 4 KiB page of
 * its on-disk copy so write-back touches only what changed.  Run-length coding
 * for the bitmap exchange. */
#include "drbd/drbd_int.h"

#define BITS_PER_PAGE (DRBD_BLOCK * 8ull)

struct drbd_bitmap *drbd_bm_new(struct umc_node *n, uint64_t nbits)
{
    struct drbd_bitmap *bm = umc_alloc(n, sizeof(*bm));
    bm->nbits = nbits;
    bm->nwords = (nbits + 63) / 64;
    bm->npages = (nbits + BITS_PER_PAGE - 1) / BITS_PER_PAGE;
    /* whole on-disk pages, so write-back can go straight from this memory */
    bm->words = umc_alloc(n, (size_t)(bm->npages ? bm->npages : 1) * DRBD_BLOCK);
    bm->dirty = umc_alloc(n, (size_t)(bm->npages ? bm->npages : 1));
    return bm;
}

void drbd_bm_free(struct umc_node *n, struct drbd_bitmap *bm)
{
    if (!bm)
        return;
    umc_free(n, bm->words);
    umc_free(n, bm->dirty);
    umc_free(n, bm);
}

static void mark_dirty(struct drbd_bitmap *bm, uint64_t first, uint64_t last)
{
    for (uint64_t pg = first / BITS_PER_PAGE; pg <= last / BITS_PER_PAGE && pg < bm->npages; pg++)
        bm->dirty[pg] = 1;
}

void drbd_bm_mark_all_dirty(struct drbd_bitmap *bm)
{
    if (bm->npages)
        memset(bm->dirty, 1, (size_t)bm->npages);
}

static uint64_t word_mask(uint64_t w, uint64_t first, uint64_t last)
{
    uint64_t lo = w * 64 < first ? first - w * 64 : 0;
    uint64_t hi = w * 64 + 63 > last ? last - w * 64 : 63;
    uint64_t m = hi == 63 ? ~0ull : (1ull << (hi + 1)) - 1;
    return m & ~((1ull << lo) - 1);
}

/* Set bits [first, last] (clamped); returns how many were newly set. */
uint64_t drbd_bm_set_range(struct drbd_bitmap *bm, uint64_t first, uint64_t last)
{
    if (!bm || first >= bm->nbits || first > last)
        return 0;
    if (last >= bm->nbits)
        last = bm->nbits - 1;
    uint64_t added = 0;
    for (uint64_t w = first / 64; w <= last / 64; w++) {
        uint64_t m = word_mask(w, first, last);
        added += (uint64_t)__builtin_popcountll(m & ~bm->words[w]);
        bm->words[w] |= m;
    }
    bm->set += added;
    if (added)
        mark_dirty(bm, first, last);
    return added;
}

uint64_t drbd_bm_clear_range(struct drbd_bitmap *bm, uint64_t first, uint64_t last)
{
    if (!bm || first >= bm->nbits || first > last)
        return 0;
    if (last >= bm->nbits)
        last = bm->nbits - 1;
    uint64_t removed = 0;
    for (uint64_t w = first / 64; w <= last / 64; w++) {
        uint64_t m = word_mask(w, first, last);
        removed += (uint64_t)__builtin_popcountll(m & bm->words[w]);
        bm->words[w] &= ~m;
    }
    bm->set -= removed;
    if (removed)
        mark_dirty(bm, first, last);
    return removed;
}

void drbd_bm_set_all(struct drbd_bitmap *bm)
{
    if (bm->nbits)
        drbd_bm_set_range(bm, 0, bm->nbits - 1);
    drbd_bm_mark_all_dirty(bm);
}

void drbd_bm_clear_all(struct drbd_bitmap *bm)
{
    memset(bm->words, 0, (size_t)bm->nwords * sizeof(uint64_t));
    bm->set = 0;
    drbd_bm_mark_all_dirty(bm);
}

bool drbd_bm_test(const struct drbd_bitmap *bm, uint64_t bit)
{
    return bm && bit < bm->nbits && (bm->words[bit / 64] >> (bit % 64)) & 1;
}

uint64_t drbd_bm_find_next(const struct drbd_bitmap *bm, uint64_t from)
{
    if (from >= bm->nbits)
        return bm->nbits;
    uint64_t w = from / 64;
    uint64_t cur = bm->words[w] & (~0ull << (from % 64));
    for (;;) {
        if (cur) {
            uint64_t bit = w * 64 + (uint64_t)__builtin_ctzll(cur);
            return bit < bm->nbits ? bit : bm->nbits;
        }
        if (++w >= bm->nwords)
            return bm->nbits;
        cur = bm->words[w];
    }
}

uint64_t drbd_bm_find_next_zero(const struct drbd_bitmap *bm, uint64_t from)
{
    if (from >= bm->nbits)
        return bm->nbits;
    uint64_t w = from / 64;
    uint64_t cur = ~bm->words[w] & (~0ull << (from % 64));
    for (;;) {
        if (cur) {
            uint64_t bit = w * 64 + (uint64_t)__builtin_ctzll(cur);
            return bit < bm->nbits ? bit : bm->nbits;
        }
        if (++w >= bm->nwords)
            return bm->nbits;
        cur = ~bm->words[w];
    }
}

uint64_t drbd_bm_count_range(const struct drbd_bitmap *bm, uint64_t first, uint64_t last)
{
    if (!bm || first >= bm->nbits || first > last)
        return 0;
    if (last >= bm->nbits)
        last = bm->nbits - 1;
    uint64_t n = 0;
    for (uint64_t w = first / 64; w <= last / 64; w++)
        n += (uint64_t)__builtin_popcountll(bm->words[w] & word_mask(w, first, last));
    return n;
}

void drbd_bm_recount(struct drbd_bitmap *bm)
{
    /* bits past the end must never count */
    if (bm->nbits % 64)
        bm->words[bm->nwords - 1] &= (1ull << (bm->nbits % 64)) - 1;
    uint64_t n = 0;
    for (uint64_t w = 0; w < bm->nwords; w++)
        n += (uint64_t)__builtin_popcountll(bm->words[w]);
    bm->set = n;
}

void drbd_bm_or_words(struct drbd_bitmap *dst, uint64_t first_word, const uint64_t *w, uint64_t n)
{
    for (uint64_t i = 0; i < n && first_word + i < dst->nwords; i++)
        dst->words[first_word + i] |= w[i];
    drbd_bm_recount(dst);
    drbd_bm_mark_all_dirty(dst);
}

/* ---- run-length coding ------------------------------------------------------------------ */

static size_t put_varint(unsigned char *out, size_t cap, uint64_t v)
{
    size_t n = 0;
    do {
        if (n >= cap)
            return 0;
        unsigned char b = v & 0x7f;
        v >>= 7;
        out[n++] = (unsigned char)(b | (v ? 0x80 : 0));
    } while (v);
    return n;
}

static bool get_varint(const unsigned char *in, size_t len, size_t *pos, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*pos >= len)
            return false;
        unsigned char b = in[(*pos)++];
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return true;
        }
    }
    return false;
}

/* Encode runs from *pos; stops when the buffer cannot take another pair. */
size_t drbd_bm_rle_encode(const struct drbd_bitmap *bm, uint64_t *pos, unsigned char *out,
                          size_t cap)
{
    size_t used = 0;
    uint64_t at = *pos;
    while (at < bm->nbits) {
        uint64_t set_at = drbd_bm_find_next(bm, at);
        uint64_t clear_at = drbd_bm_find_next_zero(bm, set_at);
        unsigned char tmp[24];
        size_t a = put_varint(tmp, sizeof(tmp), set_at - at);
        size_t b = put_varint(tmp + a, sizeof(tmp) - a, clear_at - set_at);
        if (used + a + b > cap)
            break;
        memcpy(out + used, tmp, a + b);
        used += a + b;
        at = clear_at;
    }
    *pos = at;
    return used;
}

/* The runs must cover exactly [start, start+nbits); -EPROTO otherwise. */
int drbd_bm_rle_decode(struct drbd_bitmap *bm, uint64_t start, uint64_t nbits,
                       const unsigned char *in, size_t len)
{
    if (start > bm->nbits || nbits > bm->nbits - start)
        return -EPROTO;
    uint64_t at = start, end = start + nbits;
    size_t pos = 0;
    bool set = false;
    while (pos < len) {
        uint64_t run;
        if (!get_varint(in, len, &pos, &run) || run > end - at)
            return -EPROTO;
        if (set && run)
            drbd_bm_set_range(bm, at, at + run - 1);
        at += run;
        set = !set;
    }
    return at == end ? 0 : -EPROTO;
}
