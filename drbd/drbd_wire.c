/* The wire format: a 16-byte header (magic, type, volume, payload length,
 * zero) and a big-endian payload; packet limits; the send queue of a
 * connection (control packets before data, so acks and pings never wait
 * behind megabytes of resync data we still hold).  Data payloads are sent
 * straight from the request's buffers. */
#include <stdio.h>

#include "drbd/drbd_int.h"

/* ---- byte order ------------------------------------------------------------------------- */

void drbd_put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (56 - 8 * i));
}

void drbd_put_be32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (24 - 8 * i));
}

uint64_t drbd_get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

uint32_t drbd_get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- building payloads ------------------------------------------------------------------ */

static unsigned char *wspace(struct drbd_wbuf *w, size_t n)
{
    if (w->overflow || w->cap - w->len < n) {
        w->overflow = true;
        return NULL;
    }
    unsigned char *p = w->p + w->len;
    w->len += n;
    return p;
}

void drbd_put_u8(struct drbd_wbuf *w, uint8_t v)
{
    unsigned char *p = wspace(w, 1);
    if (p)
        *p = v;
}

void drbd_put_u16(struct drbd_wbuf *w, uint16_t v)
{
    unsigned char *p = wspace(w, 2);
    if (p) {
        p[0] = (unsigned char)(v >> 8);
        p[1] = (unsigned char)v;
    }
}

void drbd_put_u32(struct drbd_wbuf *w, uint32_t v)
{
    unsigned char *p = wspace(w, 4);
    if (p)
        drbd_put_be32(p, v);
}

void drbd_put_u64(struct drbd_wbuf *w, uint64_t v)
{
    unsigned char *p = wspace(w, 8);
    if (p)
        drbd_put_be64(p, v);
}

void drbd_put_bytes(struct drbd_wbuf *w, const void *src, size_t n)
{
    unsigned char *p = wspace(w, n);
    if (p && n)
        memcpy(p, src, n);
}

void drbd_put_str(struct drbd_wbuf *w, const char *s)
{
    size_t n = strlen(s);
    if (n > 255)
        n = 255;
    drbd_put_u8(w, (uint8_t)n);
    drbd_put_bytes(w, s, n);
}

/* ---- reading payloads: every read is bounds-checked; a short packet marks bad --------------- */

static const unsigned char *rtake(struct drbd_rbuf *r, size_t n)
{
    if (r->bad || r->len - r->pos < n) {
        r->bad = true;
        return NULL;
    }
    const unsigned char *p = r->p + r->pos;
    r->pos += n;
    return p;
}

uint8_t drbd_get_u8(struct drbd_rbuf *r)
{
    const unsigned char *p = rtake(r, 1);
    return p ? *p : 0;
}

uint16_t drbd_get_u16(struct drbd_rbuf *r)
{
    const unsigned char *p = rtake(r, 2);
    return p ? (uint16_t)(p[0] << 8 | p[1]) : 0;
}

uint32_t drbd_get_u32(struct drbd_rbuf *r)
{
    const unsigned char *p = rtake(r, 4);
    return p ? drbd_get_be32(p) : 0;
}

uint64_t drbd_get_u64(struct drbd_rbuf *r)
{
    const unsigned char *p = rtake(r, 8);
    return p ? drbd_get_be64(p) : 0;
}

const unsigned char *drbd_get_bytes(struct drbd_rbuf *r, size_t n) { return rtake(r, n); }

void drbd_get_str(struct drbd_rbuf *r, char *out, size_t outlen)
{
    size_t n = drbd_get_u8(r);
    const unsigned char *p = rtake(r, n);
    if (!p || n >= outlen) {
        r->bad = true;
        out[0] = 0;
        return;
    }
    memcpy(out, p, n);
    out[n] = 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] == 0x7f)
            out[i] = '?';
}

bool drbd_rbuf_done(const struct drbd_rbuf *r) { return !r->bad && r->pos == r->len; }

/* ---- packet types ------------------------------------------------------------------------ */

struct ptype_desc {
    const char *name;
    uint32_t max_len;
    bool per_volume;
};

#define SMALL 512u
#define SEG (DRBD_MAX_SEGMENT + 64u)
#define DIGESTS ((DRBD_RS_MAX_REQ / DRBD_BLOCK) * 20u + 64u)

static const struct ptype_desc ptypes[P_TYPE_MAX] = {
    [P_HELLO] = {"HELLO", SMALL, false},
    [P_HELLO_ACK] = {"HELLO_ACK", SMALL, false},
    [P_PING] = {"PING", 0, false},
    [P_PING_ACK] = {"PING_ACK", 0, false},
    [P_STATE] = {"STATE", SMALL, true},
    [P_DECISION] = {"DECISION", SMALL, true},
    [P_STATE_UPDATE] = {"STATE_UPDATE", SMALL, true},
    [P_UUIDS] = {"UUIDS", SMALL, true},
    [P_DATA] = {"DATA", SEG, true},
    [P_RECV_ACK] = {"RECV_ACK", 16, true},
    [P_WRITE_ACK] = {"WRITE_ACK", 16, true},
    [P_NEG_ACK] = {"NEG_ACK", 16, true},
    [P_BARRIER] = {"BARRIER", 8, false},
    [P_BARRIER_ACK] = {"BARRIER_ACK", 8, false},
    [P_DATA_REQUEST] = {"DATA_REQUEST", 32, true},
    [P_DATA_REPLY] = {"DATA_REPLY", SEG, true},
    [P_BITMAP] = {"BITMAP", 65536u + 64u, true},
    [P_SYNC_UUID] = {"SYNC_UUID", 8, true},
    [P_RS_REQUEST] = {"RS_REQUEST", 32, true},
    [P_RS_DATA] = {"RS_DATA", SEG, true},
    [P_RS_WRITE_ACK] = {"RS_WRITE_ACK", 16, true},
    [P_RS_CSUM_REQUEST] = {"RS_CSUM_REQUEST", DIGESTS, true},
    [P_RS_CSUM_REPLY] = {"RS_CSUM_REPLY", SEG + 64u, true},
    [P_RS_DONE] = {"RS_DONE", 5, true},
    [P_OV_START] = {"OV_START", 8, true},
    [P_OV_REQUEST] = {"OV_REQUEST", DIGESTS, true},
    [P_OV_REPLY] = {"OV_REPLY", 128, true},
    [P_OV_DONE] = {"OV_DONE", 0, true},
    [P_START_SYNC] = {"START_SYNC", 8, true},
    [P_PAUSE] = {"PAUSE", 8, true},
    [P_TWOPC_PREPARE] = {"TWOPC_PREPARE", 16, false},
    [P_TWOPC_REPLY] = {"TWOPC_REPLY", SMALL, false},
    [P_TWOPC_COMMIT] = {"TWOPC_COMMIT", 16, false},
    [P_TWOPC_ABORT] = {"TWOPC_ABORT", 8, false},
    [P_DISCONNECT] = {"DISCONNECT", SMALL, false},
    [P_RS_CANCEL] = {"RS_CANCEL", 16, true},
    [P_OUT_OF_SYNC] = {"OUT_OF_SYNC", 12, true},
    [P_PEERS_IN_SYNC] = {"PEERS_IN_SYNC", 12, false},
    [P_RECONCILE] = {"RECONCILE", 16, false},
};

const char *drbd_ptype_name(unsigned t)
{
    return t > 0 && t < P_TYPE_MAX && ptypes[t].name ? ptypes[t].name : "?";
}

uint32_t drbd_ptype_max_len(unsigned t) { return t > 0 && t < P_TYPE_MAX ? ptypes[t].max_len : 0; }
bool drbd_ptype_per_volume(unsigned t) { return t > 0 && t < P_TYPE_MAX && ptypes[t].per_volume; }

/* ---- the send queue ------------------------------------------------------------------------ */

struct drbd_tx {
    struct drbd_link link;
    size_t hlen;                       /* header + payload in buf */
    struct iovec *iov;                 /* data pieces (the iovec copied, the bytes referenced) */
    unsigned iovcnt;
    uint64_t datalen;
    struct drbd_req *req;
    void *owned;                       /* freed once sent */
    size_t owned_len;
    unsigned char buf[];
};

/* Keep at most this much in the connection's own queue: what is beyond stays
 * in ours, where control packets can still overtake it. */
#define TX_HIGH_WATER (1u << 20)
#define TX_LOW_WATER (64u << 10)
#define TX_MAX_IOV 64

static struct drbd_tx *tx_new(struct drbd_conn *c, unsigned type, int vol, const void *payload,
                              size_t len, uint64_t datalen, unsigned iovcnt)
{
    size_t hl = (DRBD_HDR_SIZE + len + 7) / 8 * 8;
    struct drbd_tx *tx = umc_alloc(c->res->node, sizeof(*tx) + hl + iovcnt * sizeof(struct iovec));
    tx->iov = (struct iovec *)(tx->buf + hl);
    unsigned char *h = tx->buf;
    drbd_put_be32(h, DRBD_WIRE_MAGIC);
    h[4] = (unsigned char)(type >> 8);
    h[5] = (unsigned char)type;
    uint16_t v = vol < 0 ? DRBD_VOL_NONE : (uint16_t)vol;
    h[6] = (unsigned char)(v >> 8);
    h[7] = (unsigned char)v;
    drbd_put_be32(h + 8, (uint32_t)(len + datalen));
    drbd_put_be32(h + 12, 0);
    if (len)
        memcpy(h + DRBD_HDR_SIZE, payload, len);
    tx->hlen = DRBD_HDR_SIZE + len;
    tx->datalen = datalen;
    dl_init(&tx->link);
    return tx;
}

static void tx_free(struct drbd_conn *c, struct drbd_tx *tx)
{
    dl_del(&tx->link);
    drbd_buf_put(c->res->d, tx->owned, tx->owned_len);
    umc_free(c->res->node, tx);
}

void drbd_send(struct drbd_conn *c, unsigned type, int vol, const void *payload, size_t len,
               bool ctrl)
{
    if (!c->sock)
        return;
    struct drbd_tx *tx = tx_new(c, type, vol, payload, len, 0, 0);
    dl_add_tail(ctrl ? &c->tx_ctrl : &c->tx_data, &tx->link);
    c->tx_queued_bytes += tx->hlen;
    drbd_tx_push(c);
}

void drbd_send_data(struct drbd_conn *c, unsigned type, int vol, const void *payload, size_t len,
                    const struct iovec *iov, unsigned iovcnt, uint64_t datalen,
                    struct drbd_req *req, void *owned_buf, size_t owned_len)
{
    if (!c->sock) {
        drbd_buf_put(c->res->d, owned_buf, owned_len);
        return;
    }
    struct drbd_tx *tx = tx_new(c, type, vol, payload, len, datalen, iovcnt);
    if (iovcnt)
        memcpy(tx->iov, iov, iovcnt * sizeof(*iov));
    tx->iovcnt = iovcnt;
    tx->req = req;
    tx->owned = owned_buf;
    tx->owned_len = owned_len;
    dl_add_tail(&c->tx_data, &tx->link);
    c->tx_queued_bytes += tx->hlen + datalen;
    drbd_tx_push(c);
}

/* The iovec of a packet: header+payload, then up to TX_MAX_IOV-1 data pieces;
 * longer data iovecs go out in slices. */
static int tx_write(struct drbd_conn *c, struct drbd_tx *tx)
{
    struct iovec v[TX_MAX_IOV];
    unsigned n = 0;
    v[n++] = (struct iovec){.iov_base = tx->buf, .iov_len = tx->hlen};
    uint64_t left = tx->datalen;
    for (unsigned i = 0; i < tx->iovcnt && left; i++) {
        size_t piece = tx->iov[i].iov_len < left ? tx->iov[i].iov_len : (size_t)left;
        if (!piece)
            continue;
        if (n == TX_MAX_IOV) {
            int rc = umc_conn_send(c->sock, v, n);
            if (rc)
                return rc;
            n = 0;
        }
        v[n++] = (struct iovec){.iov_base = tx->iov[i].iov_base, .iov_len = piece};
        left -= piece;
    }
    return umc_conn_send(c->sock, v, n);
}

/* Control packets go whenever the connection's own queue is short; data only
 * when it is nearly empty, so big payloads go straight to the socket instead
 * of being copied into a queue behind earlier ones. */
void drbd_tx_push(struct drbd_conn *c)
{
    while (c->sock) {
        size_t queued = umc_conn_queued(c->sock);
        struct drbd_link *l = NULL;
        if (!dl_empty(&c->tx_ctrl) && queued < TX_HIGH_WATER)
            l = c->tx_ctrl.next;
        else if (!dl_empty(&c->tx_data) && queued < TX_LOW_WATER)
            l = c->tx_data.next;
        if (!l)
            return;
        struct drbd_tx *tx = dl_entry(l, struct drbd_tx, link);
        dl_del(&tx->link);
        c->tx_queued_bytes -= tx->hlen + tx->datalen;
        int rc = tx_write(c, tx);
        struct drbd_req *req = tx->req;
        tx->req = NULL;
        tx_free(c, tx);
        if (rc) {
            drbd_conn_drop(c, DRBD_C_BROKEN_PIPE, "send failed");
            return;
        }
        if (req)
            drbd_req_sent(c, req);
    }
}

void drbd_tx_free_all(struct drbd_conn *c)
{
    struct drbd_link *lists[2] = {&c->tx_ctrl, &c->tx_data};
    for (int i = 0; i < 2; i++)
        while (!dl_empty(lists[i]))
            tx_free(c, dl_entry(lists[i]->next, struct drbd_tx, link));
    c->tx_queued_bytes = 0;
}

/* ---- state and UUID packets ---------------------------------------------------------------- */

static void put_uuid_set(struct drbd_wbuf *w, const struct drbd_volume *v)
{
    /* a diskless primary: the generation it exposes */
    bool exposing = !v->have_md && v->res->role == DRBD_ROLE_PRIMARY;
    drbd_put_u64(w, v->have_md ? v->md.current_uuid : exposing ? v->exposed_uuid : 0);
    for (int i = 0; i < DRBD_MAX_NODES; i++)
        drbd_put_u64(w, v->have_md ? v->md.bitmap_uuid[i] : 0);
    for (int i = 0; i < DRBD_HISTORY; i++)
        drbd_put_u64(w, v->have_md ? v->md.history[i] : 0);
}

static uint32_t my_state_flags(const struct drbd_peer_dev *pd)
{
    const struct drbd_volume *v = pd->v;
    uint32_t f = 0;
    if (v->have_md && (v->md.flags & MDF_CRASHED_PRIMARY))
        f |= PSF_CRASHED_PRIMARY;
    if (pd->c->discard_my_data)
        f |= PSF_DISCARD_MY_DATA;
    if (v->fresh_attach)
        f |= PSF_FRESH_ATTACH;
    if (umc_bug(v->res->node, UMC_BUG_RESYNC_NO_RESTART))
        f |= PSF_BUG_NO_RESTART;
    if (v->have_md && (v->md.current_uuid & UUID_PRIMARY))
        f |= PSF_WAS_PRIMARY;
    if (drbd_fed_by_primary(v))
        f |= PSF_FED_BY_PRIMARY;
    if (!v->cfg->disk[0])
        f |= PSF_CLIENT;
    if (v->have_md && (v->md.flags & MDF_LOST_QUORUM))
        f |= PSF_LOST_QUORUM;
    return f;
}

void drbd_send_state(struct drbd_peer_dev *pd, unsigned type)
{
    unsigned char buf[SMALL];
    struct drbd_wbuf w = {.p = buf, .cap = sizeof(buf)};
    struct drbd_volume *v = pd->v;
    drbd_put_u8(&w, (uint8_t)v->res->role);
    drbd_put_u8(&w, (uint8_t)v->disk);
    drbd_put_u32(&w, my_state_flags(pd));
    if (type == P_STATE) {
        drbd_put_u64(&w, v->have_md ? v->md.data_size : v->bdev->size);
        struct drbd_bitmap *bm = drbd_pd_bm(pd);
        drbd_put_u64(&w, bm ? bm->set : 0);
        put_uuid_set(&w, v);
    }
    drbd_send(pd->c, type, v->vnr, buf, w.len, false);
}

void drbd_send_state_all(struct drbd_resource *r)
{
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_conn *c = r->conns[i];
        if (!c->sock)
            continue;
        for (int j = 0; j < r->nvols; j++)
            drbd_send_state(&c->pds[j], P_STATE_UPDATE);
    }
}

/* A primary that lost its disk starts a new data generation on its peers:
 * they keep their old current UUID as its bitmap UUID and track what it misses. */
void drbd_send_new_datagen(struct drbd_peer_dev *pd, uint64_t uuid)
{
    unsigned char buf[SMALL];
    struct drbd_wbuf w = {.p = buf, .cap = sizeof(buf)};
    drbd_put_u8(&w, UUIDS_ADOPT);
    drbd_put_u64(&w, uuid);
    for (int i = 0; i < DRBD_MAX_NODES + DRBD_HISTORY; i++)
        drbd_put_u64(&w, 0);
    drbd_send(pd->c, P_UUIDS, pd->v->vnr, buf, w.len, false);
}

/* kind: 0 information, 1 adopt this new current UUID (we are in sync), 2 resync
 * finished: take over all of it. */
void drbd_send_uuids(struct drbd_peer_dev *pd, int kind)
{
    unsigned char buf[SMALL];
    struct drbd_wbuf w = {.p = buf, .cap = sizeof(buf)};
    drbd_put_u8(&w, (uint8_t)kind);
    put_uuid_set(&w, pd->v);
    drbd_send(pd->c, P_UUIDS, pd->v->vnr, buf, w.len, false);
}
