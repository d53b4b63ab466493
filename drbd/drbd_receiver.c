/* Packet dispatch: every field a peer sends is checked here (ranges, sizes,
 * states in which the packet may come) before any handler sees it.  Bad input
 * is a protocol error: the connection drops, nothing else happens. */
#include <stdio.h>

#include "drbd/drbd_int.h"

bool drbd_ptype_big(unsigned t)
{
    return t == P_DATA || t == P_RS_DATA || t == P_RS_CSUM_REPLY || t == P_DATA_REPLY;
}

static uint64_t vol_size(const struct drbd_volume *v)
{
    return v->have_md ? v->layout.data_size : v->bdev->size;
}

/* A block range on this volume: sector aligned, inside the device, bounded. */
static bool range_ok(const struct drbd_volume *v, uint64_t off, uint64_t len, uint64_t max)
{
    return len && len <= max && off % UMC_SECTOR == 0 && len % UMC_SECTOR == 0 &&
           off <= vol_size(v) && len <= vol_size(v) - off;
}

static int rx_state(struct drbd_conn *c, struct drbd_peer_dev *pd, struct drbd_rbuf *r, bool full)
{
    struct drbd_peer_state *ps = &pd->ps;
    unsigned role = drbd_get_u8(r), disk = drbd_get_u8(r);
    uint32_t flags = drbd_get_u32(r);
    if (role != DRBD_ROLE_SECONDARY && role != DRBD_ROLE_PRIMARY)
        return -EPROTO;
    if (disk > DRBD_D_UP_TO_DATE || disk == DRBD_D_UNKNOWN || (flags & ~(uint32_t)PSF_ALL))
        return -EPROTO;
    if (full) {
        ps->size = drbd_get_u64(r);
        ps->bits = drbd_get_u64(r);
        ps->current_uuid = drbd_get_u64(r);
        for (int i = 0; i < DRBD_MAX_NODES; i++)
            ps->bitmap_uuid[i] = drbd_get_u64(r);
        for (int i = 0; i < DRBD_HISTORY; i++)
            ps->history[i] = drbd_get_u64(r);
    }
    if (!drbd_rbuf_done(r))
        return -EPROTO;
    ps->role = (enum drbd_role)role;
    ps->disk = (enum drbd_disk_state)disk;
    ps->flags = flags;
    return 0;
}

/* A diskless client exposes the size of its peers' disks: the first one to
 * tell sets it (disks of different sizes refuse each other's connection). */
static void client_learns_size(struct drbd_peer_dev *pd)
{
    struct drbd_volume *v = pd->v;
    if (!v->have_md && !v->bdev->size && pd->ps.size && pd->ps.disk >= DRBD_D_INCONSISTENT)
        drbd_vol_set_size(v, pd->ps.size);
}

static void peer_role_seen(struct drbd_conn *c, enum drbd_role role)
{
    if (c->peer_role == role)
        return;
    c->peer_role = role;
    drbd_state_changed(c->res);
}

static int rx_state_update(struct drbd_conn *c, struct drbd_peer_dev *pd, struct drbd_rbuf *r)
{
    if (!pd->got_state || rx_state(c, pd, r, false))
        return -EPROTO;
    struct drbd_resource *res = c->res;
    if (pd->ps.role == DRBD_ROLE_PRIMARY && res->role == DRBD_ROLE_PRIMARY &&
        !c->net.allow_two_primaries) {
        drbd_conn_drop(c, DRBD_C_PROTOCOL_ERROR, "Multiple primaries not allowed by config");
        return 0;
    }
    peer_role_seen(c, pd->ps.role);
    if (!c->handshake_done)
        drbd_handshake_check(c); /* a primary peer stepped down */
    if (pd->decided && pd->peer_disk != pd->ps.disk) {
        pd->peer_disk = pd->ps.disk;
        if (pd->peer_disk < DRBD_D_INCONSISTENT && drbd_pd_syncing(pd))
            drbd_sync_abort(pd);
        drbd_state_changed(res);
    }
    return 0;
}

static int rx_data(struct drbd_conn *c, struct drbd_peer_dev *pd, unsigned char **payloadp,
                   uint32_t len)
{
    struct drbd_rbuf r = {.p = *payloadp, .len = len};
    struct drbd_data_hdr h;
    h.id = drbd_get_u64(&r);
    h.off = drbd_get_u64(&r);
    h.flags = drbd_get_u32(&r);
    h.len = drbd_get_u32(&r);
    h.seq = drbd_get_u64(&r);
    h.inc = drbd_get_u32(&r);
    h.mask = drbd_get_u32(&r);
    if (r.bad || h.len != len - DRBD_DATA_HDR || !range_ok(pd->v, h.off, h.len, DRBD_MAX_SEGMENT))
        return -EPROTO;
    if (!pd->decided || (c->res->role == DRBD_ROLE_PRIMARY && !c->net.allow_two_primaries))
        return -EPROTO;
    drbd_rx_data(c, pd, &h, *payloadp);
    *payloadp = NULL;
    return 0;
}

static int rx_ack(struct drbd_conn *c, unsigned type, struct drbd_rbuf *r)
{
    uint64_t id = drbd_get_u64(r);
    if (!drbd_rbuf_done(r) || id >= c->tl_next)
        return -EPROTO;
    if (type == P_RECV_ACK)
        drbd_req_net_acked(c, id, RQ_RECV_ACKED, 0);
    else if (type == P_WRITE_ACK)
        drbd_req_net_acked(c, id, RQ_WRITE_ACKED, 0);
    else
        drbd_req_net_acked(c, id, RQ_WRITE_ACKED, -EIO);
    return 0;
}

static int rx_barrier_ack(struct drbd_conn *c, struct drbd_rbuf *r)
{
    uint32_t epoch = drbd_get_u32(r);
    drbd_get_u32(r); /* writes in it */
    if (!drbd_rbuf_done(r) || epoch == 0 || epoch >= c->tx_epoch)
        return -EPROTO;
    drbd_tl_barrier_acked(c, epoch);
    return 0;
}

static int rx_data_request(struct drbd_conn *c, struct drbd_peer_dev *pd, struct drbd_rbuf *r)
{
    uint64_t id = drbd_get_u64(r), off = drbd_get_u64(r);
    uint32_t len = drbd_get_u32(r);
    if (!drbd_rbuf_done(r) || !range_ok(pd->v, off, len, DRBD_MAX_SEGMENT) || !pd->decided)
        return -EPROTO;
    drbd_rx_data_request(c, pd, id, off, len);
    return 0;
}

static int rx_data_reply(struct drbd_conn *c, struct drbd_rbuf *r, uint32_t len)
{
    uint64_t id = drbd_get_u64(r);
    int32_t status = (int32_t)drbd_get_u32(r);
    if (r->bad || (status && len != 12) || status > 0 || status < -4095)
        return -EPROTO;
    drbd_remote_read_reply(c, id, status, r->p + 12, len - 12);
    return 0;
}

static int rx_decision(struct drbd_conn *c, struct drbd_peer_dev *pd, struct drbd_rbuf *r)
{
    int32_t hg = (int32_t)drbd_get_u32(r), rule = (int32_t)drbd_get_u32(r);
    unsigned flags = drbd_get_u8(r);
    if (!drbd_rbuf_done(r) || pd->decided || !pd->got_state || c->res->my_id < c->peer_id)
        return -EPROTO;
    if ((hg != 0 && hg != 1 && hg != -1 && hg != 2 && hg != -2) ||
        (flags & ~(unsigned)(DEC_SUPPRESSED | DEC_MAY_DEMOTE | DEC_VIOLENT)))
        return -EPROTO;
    if (drbd_apply_decision(pd, -hg, rule, flags))
        drbd_handshake_check(c);
    return 0;
}

static int rx_twopc(struct drbd_conn *c, unsigned type, struct drbd_rbuf *r)
{
    uint64_t id = drbd_get_u64(r);
    if (type == P_TWOPC_ABORT) {
        if (!drbd_rbuf_done(r))
            return -EPROTO;
        drbd_twopc_rx_commit(c, id, -1, -1);
        return 0;
    }
    if (type == P_TWOPC_REPLY) {
        bool yes = drbd_get_u8(r) != 0;
        char why[128];
        drbd_get_str(r, why, sizeof(why));
        if (!drbd_rbuf_done(r))
            return -EPROTO;
        drbd_twopc_rx_reply(c, id, yes, why);
        return 0;
    }
    int node = drbd_get_u8(r), role = drbd_get_u8(r);
    if (!drbd_rbuf_done(r) || node != c->peer_id ||
        (role != DRBD_ROLE_PRIMARY && role != DRBD_ROLE_SECONDARY))
        return -EPROTO;
    if (type == P_TWOPC_PREPARE)
        drbd_twopc_rx_prepare(c, id, node, role);
    else
        drbd_twopc_rx_commit(c, id, node, role);
    return 0;
}

/* A Primary left us gracefully and goes on writing: our data is outdated. */
static void outdate_by_leaving_primary(struct drbd_conn *c)
{
    struct drbd_resource *r = c->res;
    for (int i = 0; i < r->nvols; i++) {
        struct drbd_volume *v = r->vols[i];
        if (v->disk != DRBD_D_UP_TO_DATE && v->disk != DRBD_D_CONSISTENT)
            continue;
        umc_info(r->node, DRBD_COMP, "%s %s: the Primary disconnected: outdating my disk", v->name,
                 c->name);
        drbd_set_disk(v, DRBD_D_OUTDATED);
    }
}

static int rx_disconnect(struct drbd_conn *c, struct drbd_rbuf *r)
{
    unsigned flags = drbd_get_u8(r);
    bool standalone = flags & DISC_STANDALONE;
    char why[200];
    drbd_get_str(r, why, sizeof(why));
    if (!drbd_rbuf_done(r) || (flags & ~DISC_FLAGS))
        return -EPROTO;
    if ((flags & DISC_OUTDATE_PEER) && c->peer_role == DRBD_ROLE_PRIMARY &&
        c->res->role != DRBD_ROLE_PRIMARY)
        outdate_by_leaving_primary(c);
    if (standalone) {
        c->want_standalone = true;
        snprintf(c->refuse_reason, sizeof(c->refuse_reason), "%s", why);
        umc_err(c->res->node, DRBD_COMP, "%s %s: %s", c->res->cfg->name, c->name, why);
    }
    char msg[240];
    snprintf(msg, sizeof(msg), "peer closed the connection (%s)", why);
    drbd_conn_drop(c, DRBD_C_TEAR_DOWN, msg);
    return 0;
}

/* Packets of the resync and verify machinery, per volume. */
static int rx_sync_packet(struct drbd_conn *c, struct drbd_peer_dev *pd, unsigned type,
                          unsigned char **payloadp, uint32_t len)
{
    struct drbd_rbuf r = {.p = *payloadp, .len = len};
    if (!pd || !pd->decided)
        return -EPROTO;
    switch (type) {
    case P_BITMAP: return drbd_rx_bitmap(pd, *payloadp, len);
    case P_SYNC_UUID: {
        uint64_t uuid = drbd_get_u64(&r);
        return drbd_rbuf_done(&r) ? drbd_rx_sync_uuid(pd, uuid) : -EPROTO;
    }
    case P_RS_REQUEST: case P_RS_CSUM_REQUEST:
        drbd_rx_rs_request(pd, type, &r);
        return r.bad ? -EPROTO : 0;
    case P_RS_DATA: case P_RS_CSUM_REPLY: {
        int rc = drbd_rx_rs_data(pd, type, &r, *payloadp, len);
        if (!rc)
            *payloadp = NULL;
        return rc;
    }
    case P_RS_WRITE_ACK: {
        uint64_t off = drbd_get_u64(&r);
        uint32_t rlen = drbd_get_u32(&r);
        if (!drbd_rbuf_done(&r) || !range_ok(pd->v, off, rlen, DRBD_RS_MAX_REQ))
            return -EPROTO;
        drbd_rx_rs_write_ack(pd, off, rlen);
        return 0;
    }
    case P_RS_DONE: {
        /* by_other 1: another resync completed the volume; the source may
         * forget its bits.  Then how many P_OUT_OF_SYNC the target had taken. */
        unsigned by_other = drbd_get_u8(&r);
        uint32_t oos_seen = drbd_get_u32(&r);
        if (!drbd_rbuf_done(&r) || by_other > 1)
            return -EPROTO;
        return drbd_rx_rs_done(pd, by_other, oos_seen);
    }
    case P_OV_START: {
        uint64_t start = drbd_get_u64(&r);
        if (!drbd_rbuf_done(&r) || start > vol_size(pd->v))
            return -EPROTO;
        drbd_rx_ov_start(pd, start);
        return 0;
    }
    case P_OV_REQUEST: drbd_rx_ov_request(pd, &r); return r.bad ? -EPROTO : 0;
    case P_OV_REPLY: return drbd_rx_ov_reply(pd, &r);
    case P_OV_DONE: drbd_rx_ov_done(pd); return 0;
    case P_OUT_OF_SYNC: {
        /* the peer could not write this itself: it is out of sync there */
        uint64_t off = drbd_get_u64(&r);
        uint32_t olen = drbd_get_u32(&r);
        if (!drbd_rbuf_done(&r) || !range_ok(pd->v, off, olen, DRBD_MAX_SEGMENT))
            return -EPROTO;
        drbd_rx_out_of_sync(pd, off, olen);
        return 0;
    }
    case P_START_SYNC: {
        unsigned flags = drbd_get_u8(&r);
        if (!drbd_rbuf_done(&r) || (flags & ~START_SYNC_ALL))
            return -EPROTO;
        drbd_rx_start_sync(pd, flags);
        return 0;
    }
    case P_PAUSE: {
        bool paused = drbd_get_u8(&r) != 0;
        if (!drbd_rbuf_done(&r))
            return -EPROTO;
        pd->pause_peer = paused;
        drbd_resync_kick(pd);
        return 0;
    }
    default: return -EPROTO;
    }
}

int drbd_rx_dispatch(struct drbd_conn *c, unsigned type, unsigned vol, unsigned char **payloadp,
                     uint32_t len)
{
    struct drbd_volume *v = drbd_ptype_per_volume(type) ? drbd_vol_by_vnr(c->res, (int)vol) : NULL;
    struct drbd_peer_dev *pd = v ? &c->pds[v->idx] : NULL;
    struct drbd_rbuf r = {.p = *payloadp, .len = len};
    if (drbd_ptype_per_volume(type) && !pd)
        return -EPROTO;
    switch (type) {
    case P_PING:
        drbd_send(c, P_PING_ACK, -1, NULL, 0, true);
        return 0;
    case P_PING_ACK: return 0;
    case P_STATE: {
        /* after the handshake: the peer renegotiates this volume (it attached) */
        bool renegotiate = pd->decided;
        if ((pd->got_state && !pd->decided) || rx_state(c, pd, &r, true))
            return -EPROTO;
        client_learns_size(pd);
        if (renegotiate)
            drbd_pd_renegotiate(pd, false);
        pd->got_state = true;
        peer_role_seen(c, pd->ps.role);
        drbd_handshake_check(c);
        return 0;
    }
    case P_STATE_UPDATE: return rx_state_update(c, pd, &r);
    case P_DECISION: return rx_decision(c, pd, &r);
    case P_UUIDS:
        if (!pd->decided)
            return -EPROTO;
        drbd_rx_uuids(pd, &r);
        return r.bad ? -EPROTO : 0;
    case P_DATA: return rx_data(c, pd, payloadp, len);
    case P_RECV_ACK: case P_WRITE_ACK: case P_NEG_ACK: return rx_ack(c, type, &r);
    case P_BARRIER: {
        uint32_t nr = drbd_get_u32(&r);
        if (!drbd_rbuf_done(&r) || nr == 0)
            return -EPROTO;
        drbd_rx_barrier(c, nr);
        return 0;
    }
    case P_BARRIER_ACK: return rx_barrier_ack(c, &r);
    case P_DATA_REQUEST: return rx_data_request(c, pd, &r);
    case P_DATA_REPLY: return rx_data_reply(c, &r, len);
    case P_TWOPC_PREPARE: case P_TWOPC_REPLY: case P_TWOPC_COMMIT: case P_TWOPC_ABORT:
        return rx_twopc(c, type, &r);
    case P_DISCONNECT: return rx_disconnect(c, &r);
    case P_PEERS_IN_SYNC: return drbd_rx_peers_in_sync(c, &r);
    case P_RECONCILE: return drbd_rx_reconcile(c, &r);
    default: return rx_sync_packet(c, pd, type, payloadp, len);
    }
}
