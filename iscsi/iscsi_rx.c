/* The PDU reader: large reads into a buffer, PDUs cut out of it, big data
 * segments read straight into their final place.  Shared by target and
 * initiator. */
#include <errno.h>

#include "iscsi/iscsi_proto.h"

void iscsi_rx_init(struct iscsi_rx *rx, const struct iscsi_rx_ops *ops, void *owner, uint8_t *buf)
{
    memset(rx, 0, sizeof(*rx));
    rx->ops = ops;
    rx->owner = owner;
    rx->buf = buf;
}

void iscsi_rx_release(struct iscsi_rx *rx)
{
    if (rx->big) {
        rx->ops->free(rx->owner, rx->big);
        rx->big = NULL;
    }
}

void iscsi_rx_set_direct(struct iscsi_rx *rx, uint8_t *p, uint32_t len)
{
    rx->dest = ISCSI_RX_DIRECT;
    rx->direct = p;
    rx->direct_len = len < rx->dlen ? len : rx->dlen;
}

void iscsi_rx_set_discard(struct iscsi_rx *rx)
{
    rx->dest = ISCSI_RX_DISCARD;
    rx->direct = NULL;
    rx->direct_len = 0;
}

bool iscsi_rx_has_buffered(const struct iscsi_rx *rx) { return rx->end > rx->start; }

static size_t avail(const struct iscsi_rx *rx) { return rx->end - rx->start; }

/* Read more into the buffer, making room for need bytes from start.
 * > 0 bytes read, 0 nothing there, < 0 error. */
static long fill(struct iscsi_rx *rx, size_t need)
{
    if (rx->start == rx->end)
        rx->start = rx->end = 0;
    else if (ISCSI_RX_BUF - rx->start < need || rx->end == ISCSI_RX_BUF) {
        memmove(rx->buf, rx->buf + rx->start, avail(rx));
        rx->end -= rx->start;
        rx->start = 0;
    }
    long r = rx->ops->read(rx->owner, rx->buf + rx->end, ISCSI_RX_BUF - rx->end);
    if (r > 0) {
        rx->end += (size_t)r;
        rx->bytes += (uint64_t)r;
    }
    return r;
}

static uint32_t tail_len(const struct iscsi_rx *rx)
{
    if (!rx->dlen)
        return 0;
    return iscsi_pad4(rx->dlen) + (rx->data_digest ? ISCSI_DIGEST_LEN : 0);
}

static int step_header(struct iscsi_rx *rx)
{
    size_t need = ISCSI_BHS_LEN;
    if (avail(rx) >= ISCSI_BHS_LEN)
        need += iscsi_hdr_ahs_len(rx->buf + rx->start) + (rx->header_digest ? ISCSI_DIGEST_LEN : 0);
    if (avail(rx) < need) {
        long r = fill(rx, need);
        return r > 0 ? 1 : (int)r;
    }
    const uint8_t *p = rx->buf + rx->start;
    rx->hdr_len = ISCSI_BHS_LEN + iscsi_hdr_ahs_len(p);
    memcpy(rx->hdr, p, rx->hdr_len);
    if (rx->header_digest &&
        umc_crc32c(p, rx->hdr_len) != iscsi_get_digest(p + rx->hdr_len))
        return -EBADMSG;                 /* the length cannot be trusted: drop */
    rx->start += need;
    rx->dlen = iscsi_hdr_dlen(rx->hdr);
    rx->got = rx->tail_got = 0;
    rx->crc = UMC_CRC32C_INIT;
    rx->dest = ISCSI_RX_INLINE;
    rx->direct = NULL;
    rx->direct_len = 0;
    rx->in_data = true;
    int r = rx->ops->on_header(rx->owner, rx);
    if (r < 0)
        return r;
    if (rx->dest == ISCSI_RX_INLINE && rx->dlen > ISCSI_RX_INLINE_MAX) {
        rx->big = rx->ops->alloc(rx->owner, rx->dlen);
        rx->direct = rx->big;
        rx->direct_len = rx->dlen;
    }
    return 1;
}

static int finish(struct iscsi_rx *rx, const uint8_t *data, bool ok)
{
    rx->in_data = false;
    rx->pdus++;
    int r = rx->ops->on_pdu(rx->owner, rx, data, ok);
    iscsi_rx_release(rx);
    return r < 0 ? r : 1;
}

/* A small segment: wait until it is whole in the buffer, hand it over in place. */
static int step_inline(struct iscsi_rx *rx)
{
    size_t total = rx->dlen + tail_len(rx);
    if (avail(rx) < total) {
        long r = fill(rx, total);
        return r > 0 ? 1 : (int)r;
    }
    const uint8_t *data = rx->buf + rx->start;
    bool ok = true;
    if (rx->data_digest && rx->dlen) {
        uint32_t padded = rx->dlen + iscsi_pad4(rx->dlen);
        ok = umc_crc32c(data, padded) == iscsi_get_digest(data + padded);
    }
    rx->start += total;
    return finish(rx, data, ok);
}

/* Bytes of the segment arrived at src: copy the part that has a home. */
static void land(struct iscsi_rx *rx, const uint8_t *src, uint32_t n)
{
    if (rx->got < rx->direct_len) {
        uint32_t take = rx->direct_len - rx->got < n ? rx->direct_len - rx->got : n;
        if (rx->direct + rx->got != src)
            memcpy(rx->direct + rx->got, src, take);
    }
    if (rx->data_digest)
        rx->crc = umc_crc32c_update(rx->crc, src, n);
    rx->got += n;
}

static int step_stream(struct iscsi_rx *rx)
{
    if (rx->got < rx->dlen) {
        uint32_t want = rx->dlen - rx->got;
        if (avail(rx)) {
            uint32_t n = avail(rx) < want ? (uint32_t)avail(rx) : want;
            land(rx, rx->buf + rx->start, n);
            rx->start += n;
            return 1;
        }
        if (rx->got < rx->direct_len) { /* straight into place, exactly this segment */
            uint8_t *dst = rx->direct + rx->got;
            long r = rx->ops->read(rx->owner, dst, rx->direct_len - rx->got);
            if (r <= 0)
                return (int)r;
            rx->bytes += (uint64_t)r;
            land(rx, dst, (uint32_t)r);
            return 1;
        }
        long r = fill(rx, 1);
        return r > 0 ? 1 : (int)r;
    }
    uint32_t tl = tail_len(rx);
    while (rx->tail_got < tl) {
        if (!avail(rx)) {
            long r = fill(rx, tl - rx->tail_got);
            return r > 0 ? 1 : (int)r;
        }
        rx->tail[rx->tail_got++] = rx->buf[rx->start++];
    }
    bool ok = true;
    if (rx->data_digest && rx->dlen) {
        uint32_t pad = iscsi_pad4(rx->dlen);
        uint32_t crc = umc_crc32c_update(rx->crc, rx->tail, pad);
        ok = umc_crc32c_final(crc) == iscsi_get_digest(rx->tail + pad);
    }
    return finish(rx, rx->big, ok);
}

int iscsi_rx_pump(struct iscsi_rx *rx)
{
    rx->stop = false;
    for (;;) {
        int r;
        if (!rx->in_data)
            r = rx->stop ? 0 : step_header(rx);
        else if (rx->dest == ISCSI_RX_INLINE && !rx->big)
            r = step_inline(rx);
        else
            r = step_stream(rx);
        if (r <= 0)
            return r;
    }
}
