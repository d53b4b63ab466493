/* Handler "ram": the device is one mapping, anonymous ("ram/") or of a file
 * ("ram/<path>", MAP_SHARED, created or extended to the size).  Every call is
 * a copy (large writes stream past the cache) and finishes at once; flush is
 * msync for a file. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "tcmu_ram/tcmu_ram_internal.h"

#define RAM_ZERO_CHUNK 4096u

struct ram_state {
    unsigned char *map;
    size_t size;
    bool file_backed;
};

static struct ram_state *ram_of(struct tcmu_device *dev) { return tcmu_dev_get_private(dev); }

static int ram_open(struct tcmu_device *dev, bool reopen)
{
    struct umc_node *n = tcmu_dev_get_node(dev);
    uint64_t size = tcmu_dev_get_size(dev);
    if (!size || size > SIZE_MAX)
        return -EINVAL;
    const char *path = tcmu_dev_get_cfgstring(dev);
    struct ram_state *rs = umc_alloc(n, sizeof(*rs));
    rs->size = (size_t)size;
    rs->file_backed = path[0] != '\0';
    int err = -ENOMEM;
    rs->map = rs->file_backed ? umc_map_file(n, path, rs->size, &err) : umc_map_anon(n, rs->size);
    if (!rs->map) {
        umc_err(n, TCMU_COMPONENT, "ram: cannot map %s: %d", rs->file_backed ? path : "memory", err);
        umc_free(n, rs);
        return err;
    }
    /* A file's pages reach the disk only on msync. */
    tcmu_dev_set_write_cache_enabled(dev, rs->file_backed);
    tcmu_dev_set_private(dev, rs);
    return 0;
}

static void ram_close(struct tcmu_device *dev)
{
    struct umc_node *n = tcmu_dev_get_node(dev);
    struct ram_state *rs = ram_of(dev);
    if (rs->file_backed)
        umc_unmap_file(n, rs->map, rs->size);
    else
        umc_unmap_anon(n, rs->map, rs->size);
    umc_free(n, rs);
    tcmu_dev_set_private(dev, NULL);
}

static int ram_read(struct tcmu_device *dev, struct tcmulib_cmd *cmd, struct iovec *iov,
                    size_t iov_cnt, size_t length, uint64_t offset)
{
    umc_iov_from_buf(iov, (unsigned)iov_cnt, 0, ram_of(dev)->map + offset, length);
    return 0;
}

#if defined(__SSE2__)
/* writes from this size on bypass the cache */
#define RAM_STREAM_MIN (64u << 10)
/* Copy with non-temporal stores: a large write lands in memory nobody reads
 * soon, so skipping the read-for-ownership of every destination line and
 * leaving the cache to the caller's buffers is about a third cheaper. */
static void stream_copy(unsigned char *dst, const unsigned char *src, size_t len)
{
    while (len && ((uintptr_t)dst & 15)) {
        *dst++ = *src++;
        len--;
    }
    for (; len >= 64; len -= 64, dst += 64, src += 64) {
        const __m128i *s = (const __m128i *)src;
        __m128i a = _mm_loadu_si128(s), b = _mm_loadu_si128(s + 1);
        __m128i c = _mm_loadu_si128(s + 2), d = _mm_loadu_si128(s + 3);
        _mm_stream_si128((__m128i *)dst, a);
        _mm_stream_si128((__m128i *)dst + 1, b);
        _mm_stream_si128((__m128i *)dst + 2, c);
        _mm_stream_si128((__m128i *)dst + 3, d);
    }
    _mm_sfence();
    memcpy(dst, src, len);
}

static void copy_in(unsigned char *dst, const struct iovec *iov, size_t iov_cnt, size_t length)
{
    /* small writes: the line is likely cached or read back soon */
    if (length < RAM_STREAM_MIN) {
        umc_iov_to_buf(iov, (unsigned)iov_cnt, 0, dst, length);
        return;
    }
    for (size_t i = 0; i < iov_cnt && length; i++) {
        size_t n = iov[i].iov_len < length ? iov[i].iov_len : length;
        stream_copy(dst, iov[i].iov_base, n);
        dst += n;
        length -= n;
    }
}
#else
static void copy_in(unsigned char *dst, const struct iovec *iov, size_t iov_cnt, size_t length)
{
    umc_iov_to_buf(iov, (unsigned)iov_cnt, 0, dst, length);
}
#endif

static int ram_write(struct tcmu_device *dev, struct tcmulib_cmd *cmd, struct iovec *iov,
                     size_t iov_cnt, size_t length, uint64_t offset)
{
    copy_in(ram_of(dev)->map + offset, iov, iov_cnt, length);
    return 0;
}

static int ram_flush(struct tcmu_device *dev, struct tcmulib_cmd *cmd)
{
    struct ram_state *rs = ram_of(dev);
    return rs->file_backed ? umc_sync_file(tcmu_dev_get_node(dev), rs->map, rs->size) : 0;
}

static bool is_zero(const unsigned char *p, size_t len)
{
    return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
}

/* Zero a range without touching pages that are already zero: reading an
 * untouched anonymous page maps the shared zero page, writing would fault in
 * a real one. */
static int ram_unmap(struct tcmu_device *dev, struct tcmulib_cmd *cmd, uint64_t offset,
                     uint64_t length)
{
    unsigned char *p = ram_of(dev)->map;
    uint64_t end = offset + length;
    while (offset < end) {
        uint64_t chunk_end = (offset / RAM_ZERO_CHUNK + 1) * RAM_ZERO_CHUNK;
        if (chunk_end > end)
            chunk_end = end;
        size_t len = (size_t)(chunk_end - offset);
        if (!is_zero(p + offset, len))
            memset(p + offset, 0, len);
        offset = chunk_end;
    }
    return 0;
}

static const struct tcmur_handler ram_handler = {
    .name = "RAM disk (anonymous memory or mmap of a file)",
    .subtype = "ram",
    .cfg_desc = "ram/ for anonymous memory, ram/<path> for a file",
    .open = ram_open,
    .close = ram_close,
    .read = ram_read,
    .write = ram_write,
    .flush = ram_flush,
    .unmap = ram_unmap,
};

const struct tcmur_handler *tcmu_ram_handler(void) { return &ram_handler; }
