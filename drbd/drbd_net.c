/* Connections to peers: listening, connecting (both sides try; when two
 * sockets meet, the one opened by the lower node id stays), the HELLO
 * handshake that names resource, node ids and volumes, receive framing with
 * validation, keep-alive (ping-int / ping-timeout), and what losing a
 * connection means (out-of-sync marking, replication Off, reconnect loop). */
#include <stdio.h>

#include "drbd/drbd_int.h"

#define HELLO_MAX 512u

/* ---- HELLO --------------------------------------------------------------------------------- */

static size_t hello_build(struct drbd_conn *c, unsigned char *buf)
{
    struct drbd_resource *r = c->res;
    struct drbd_wbuf w = {.p = buf, .cap = HELLO_MAX};
    drbd_put_u32(&w, DRBD_WIRE_VERSION);
    drbd_put_str(&w, r->cfg->name);
    drbd_put_u8(&w, (uint8_t)r->my_id);
    drbd_put_u8(&w, (uint8_t)c->peer_id);
    drbd_put_u8(&w, (uint8_t)r->nvols);
    for (int i = 0; i < r->nvols; i++)
        drbd_put_u16(&w, (uint16_t)r->vols[i]->vnr);
    drbd_put_u8(&w, (uint8_t)c->net.protocol);
    drbd_put_u8(&w, c->net.allow_two_primaries);
    return w.len;
}

static void hello_send(struct drbd_conn *c, struct umc_conn *sock, unsigned type)
{
    unsigned char buf[DRBD_HDR_SIZE + HELLO_MAX];
    size_t len = hello_build(c, buf + DRBD_HDR_SIZE);
    drbd_put_be32(buf, DRBD_WIRE_MAGIC);
    buf[4] = 0;
    buf[5] = (unsigned char)type;
    buf[6] = buf[7] = 0xff;
    drbd_put_be32(buf + 8, (uint32_t)len);
    drbd_put_be32(buf + 12, 0);
    umc_conn_send_buf(sock, buf, DRBD_HDR_SIZE + len);
}

struct hello {
    uint32_t version;
    char resource[UMC_NAME_MAX];
    int from, to, nvols;
    uint16_t vnrs[DRBD_MAX_VOLUMES];
    char protocol;
    bool two_primaries;
};

static bool hello_parse(const unsigned char *p, size_t len, struct hello *h)
{
    struct drbd_rbuf r = {.p = p, .len = len};
    h->version = drbd_get_u32(&r);
    drbd_get_str(&r, h->resource, sizeof(h->resource));
    h->from = drbd_get_u8(&r);
    h->to = drbd_get_u8(&r);
    h->nvols = drbd_get_u8(&r);
    if (h->nvols > DRBD_MAX_VOLUMES)
        return false;
    for (int i = 0; i < h->nvols; i++)
        h->vnrs[i] = drbd_get_u16(&r);
    h->protocol = (char)drbd_get_u8(&r);
    h->two_primaries = drbd_get_u8(&r) != 0;
    return drbd_rbuf_done(&r);
}

/* Does the peer's HELLO describe this connection?  Explains why not. */
static bool hello_matches(struct drbd_conn *c, const struct hello *h, char *why, size_t len)
{
    struct drbd_resource *r = c->res;
    if (h->version != DRBD_WIRE_VERSION)
        snprintf(why, len, "peer speaks protocol version %u, we speak %u", h->version,
                 DRBD_WIRE_VERSION);
    else if (h->to != r->my_id || h->from != c->peer_id)
        snprintf(why, len, "node ids do not match (peer says %d -> %d)", h->from, h->to);
    else if (h->nvols != r->nvols)
        snprintf(why, len, "peer has %d volumes, we have %d", h->nvols, r->nvols);
    else if (h->protocol != c->net.protocol)
        snprintf(why, len, "incompatible replication protocols (peer %c, we %c)", h->protocol,
                 c->net.protocol);
    else if (h->two_primaries != c->net.allow_two_primaries)
        snprintf(why, len, "incompatible setting of the allow-two-primaries option");
    else {
        for (int i = 0; i < h->nvols; i++)
            if (h->vnrs[i] != r->vols[i]->vnr) {
                snprintf(why, len, "volume numbers differ");
                return false;
            }
        return true;
    }
    return false;
}

/* Read one small framed packet (a HELLO) into buf; 1 when complete, 0 when more
 * is needed, -1 when the bytes are not a HELLO of the expected type. */
static int read_hello_frame(struct umc_conn *sock, unsigned char *buf, size_t *got, unsigned type,
                            uint32_t *len)
{
    for (;;) {
        size_t need = DRBD_HDR_SIZE;
        if (*got >= DRBD_HDR_SIZE) {
            if (drbd_get_be32(buf) != DRBD_WIRE_MAGIC || buf[4] || buf[5] != type ||
                drbd_get_be32(buf + 8) > HELLO_MAX || drbd_get_be32(buf + 12))
                return -1;
            *len = drbd_get_be32(buf + 8);
            need = DRBD_HDR_SIZE + *len;
            if (*got == need)
                return 1;
        }
        ssize_t n = umc_conn_read(sock, buf + *got, need - *got);
        if (n <= 0)
            return n < 0 ? -1 : 0;
        *got += (size_t)n;
    }
}

/* ---- session ---------------------------------------------------------------------------------- */

static const struct umc_conn_ops session_ops;
static void session_start(struct drbd_conn *c, struct umc_conn *sock);

/* tcp-congestion-control: a replication link wants its write bursts at line
 * rate; a pacing algorithm (bbr without fq) spaces them out instead.  Set
 * before the connection is established, on our connects and on the listener
 * (from the resource's net section); one the kernel lacks leaves the system's,
 * with a warning. */
static void warn_congestion(struct drbd_resource *r, const char *algo, int rc)
{
    if (rc)
        umc_warn(r->node, DRBD_COMP, "%s: tcp-congestion-control %s: %s; the system's is used",
                 r->cfg->name, algo, strerror(-rc));
}
static void ping_fired(void *arg);
static void ping_timeout_fired(void *arg);
static void hs_timeout_fired(void *arg);
static void connect_fired(void *arg);

bool drbd_conn_established(const struct drbd_conn *c)
{
    return c->cstate == DRBD_C_CONNECTED && c->handshake_done;
}

static void timers_init(struct drbd_conn *c)
{
    struct umc_node *n = c->res->node;
    if (c->connect_timer.fn)
        return;
    umc_timer_init(n, &c->connect_timer, connect_fired, c);
    umc_timer_init(n, &c->ping_timer, ping_fired, c);
    umc_timer_init(n, &c->ping_timeout_timer, ping_timeout_fired, c);
    umc_timer_init(n, &c->hs_timer, hs_timeout_fired, c);
}

static void out_abort(struct drbd_conn *c)
{
    if (!c->out)
        return;
    umc_conn_abort(c->out);
    c->out = NULL;
    c->out_connected = false;
    c->rx_hdr_got = 0;
}

static void schedule_connect(struct drbd_conn *c, mte_time_t delay)
{
    if (c->cstate == DRBD_C_CONNECTING)
        umc_timer_arm_in(c->res->node, &c->connect_timer, delay);
}

/* ---- outgoing attempts ------------------------------------------------------------------------- */

static void out_on_connect(struct umc_conn *sock, void *arg)
{
    struct drbd_conn *c = arg;
    c->out_connected = true;
    hello_send(c, sock, P_HELLO);
    umc_timer_arm_in(c->res->node, &c->hs_timer, (mte_time_t)c->net.timeout * 100 * MTE_MSEC);
}

static void out_on_readable(struct umc_conn *sock, void *arg)
{
    struct drbd_conn *c = arg;
    uint32_t len = 0;
    int rc = read_hello_frame(sock, c->rx_small, &c->rx_hdr_got, P_HELLO_ACK, &len);
    if (rc == 0)
        return;
    struct hello h;
    char why[160];
    if (rc < 0 || !hello_parse(c->rx_small + DRBD_HDR_SIZE, len, &h)) {
        umc_warn(c->res->node, DRBD_COMP, "%s %s: bad handshake reply", c->res->cfg->name, c->name);
        out_abort(c);
        schedule_connect(c, (mte_time_t)c->net.connect_int * MTE_SEC);
        return;
    }
    if (!hello_matches(c, &h, why, sizeof(why)) || strcmp(h.resource, c->res->cfg->name) != 0) {
        umc_err(c->res->node, DRBD_COMP, "%s %s: handshake refused: %s", c->res->cfg->name,
                c->name, why);
        out_abort(c);
        schedule_connect(c, (mte_time_t)c->net.connect_int * MTE_SEC);
        return;
    }
    c->out = NULL;
    c->out_connected = false;
    c->rx_hdr_got = 0;
    session_start(c, sock);
}

static void out_on_close(struct umc_conn *sock, int err, void *arg)
{
    struct drbd_conn *c = arg;
    umc_conn_close(sock);
    if (c->out == sock) {
        c->out = NULL;
        c->out_connected = false;
        c->rx_hdr_got = 0;
        umc_timer_cancel(c->res->node, &c->hs_timer);
        schedule_connect(c, (mte_time_t)c->net.connect_int * MTE_SEC);
    }
}

static const struct umc_conn_ops out_ops = {
    .on_connect = out_on_connect,
    .on_readable = out_on_readable,
    .on_close = out_on_close,
};

static void connect_fired(void *arg)
{
    struct drbd_conn *c = arg;
    if (c->cstate != DRBD_C_CONNECTING || c->sock || c->out)
        return;
    if (!c->res->listener)
        drbd_res_listen(c->res);
    c->rx_hdr_got = 0;
    c->out = umc_connect(c->res->node, c->peer_addr, &out_ops, c);
    if (!c->out) {
        schedule_connect(c, (mte_time_t)c->net.connect_int * MTE_SEC);
        return;
    }
    if (c->net.tcp_congestion[0])
        warn_congestion(c->res, c->net.tcp_congestion,
                        umc_conn_set_congestion(c->out, c->net.tcp_congestion));
}

/* ---- incoming sockets, before their HELLO names the peer ------------------------------------------ */

struct drbd_pending_sock {
    struct drbd_link link;
    struct drbd_resource *r;
    struct umc_conn *sock;
    struct mte_timer timer;
    size_t got;
    unsigned char buf[DRBD_HDR_SIZE + HELLO_MAX];
};

static void pending_free(struct drbd_pending_sock *ps, bool close_sock)
{
    struct umc_node *n = ps->r->node;
    umc_timer_cancel(n, &ps->timer);
    dl_del(&ps->link);
    if (close_sock && ps->sock)
        umc_conn_abort(ps->sock);
    umc_free(n, ps);
}

static void pending_timeout(void *arg) { pending_free(arg, true); }

/* Two sockets for one peer: the one the lower node id opened is kept. */
static bool accept_wins(struct drbd_conn *c)
{
    if (c->cstate != DRBD_C_CONNECTING || c->sock || umc_now(c->res->node) < c->accept_after)
        return false;
    return !c->out || c->res->my_id > c->peer_id;
}

static void pending_on_readable(struct umc_conn *sock, void *arg)
{
    struct drbd_pending_sock *ps = arg;
    struct drbd_resource *r = ps->r;
    uint32_t len = 0;
    int rc = read_hello_frame(sock, ps->buf, &ps->got, P_HELLO, &len);
    if (rc == 0)
        return;
    struct hello h;
    if (rc < 0 || !hello_parse(ps->buf + DRBD_HDR_SIZE, len, &h) ||
        strcmp(h.resource, r->cfg->name) != 0) {
        umc_warn(r->node, DRBD_COMP, "%s: dropping a connection from %s: not a valid handshake",
                 r->cfg->name, umc_conn_peer_addr(sock));
        pending_free(ps, true);
        return;
    }
    struct drbd_conn *c = drbd_conn_by_id(r, h.from);
    char why[160];
    if (!c || !hello_matches(c, &h, why, sizeof(why))) {
        umc_err(r->node, DRBD_COMP, "%s: refusing connection from node-id %d: %s", r->cfg->name,
                h.from, c ? why : "no such peer in the configuration");
        pending_free(ps, true);
        return;
    }
    if (!accept_wins(c)) {
        pending_free(ps, true);
        return;
    }
    out_abort(c);
    umc_timer_cancel(r->node, &c->hs_timer);
    ps->sock = NULL;
    pending_free(ps, false);
    hello_send(c, sock, P_HELLO_ACK);
    session_start(c, sock);
}

static void pending_on_close(struct umc_conn *sock, int err, void *arg)
{
    struct drbd_pending_sock *ps = arg;
    ps->sock = NULL;
    umc_conn_close(sock);
    pending_free(ps, false);
}

static const struct umc_conn_ops pending_ops = {
    .on_readable = pending_on_readable,
    .on_close = pending_on_close,
};

static void on_accept(struct umc_listener *l, struct umc_conn *sock, void *arg)
{
    struct drbd_resource *r = arg;
    struct drbd_pending_sock *ps = umc_alloc(r->node, sizeof(*ps));
    ps->r = r;
    ps->sock = sock;
    dl_add_tail(&r->pending_socks, &ps->link);
    umc_timer_init(r->node, &ps->timer, pending_timeout, ps);
    mte_time_t t = r->nconns ? (mte_time_t)r->conns[0]->net.timeout * 100 * MTE_MSEC : 6 * MTE_SEC;
    umc_timer_arm_in(r->node, &ps->timer, t);
    umc_conn_set_ops(sock, &pending_ops, ps);
}

void drbd_res_listen(struct drbd_resource *r)
{
    if (r->listener || !r->nconns)
        return;
    const char *addr = r->cfg->hosts[r->my_host].address;
    for (int i = 0; i < r->cfg->nconns; i++) { /* a connection may name another local address */
        const struct drbd_cfg_conn *cc = &r->cfg->conns[i];
        if (cc->a == r->my_host && cc->addr_a[0])
            addr = cc->addr_a;
        else if (cc->b == r->my_host && cc->addr_b[0])
            addr = cc->addr_b;
    }
    int err = 0;
    r->listener = umc_listen(r->node, addr, on_accept, r, &err);
    if (!r->listener)
        umc_err(r->node, DRBD_COMP, "%s: cannot listen on %s: %d", r->cfg->name, addr, err);
    else if (r->cfg->net.tcp_congestion[0])
        warn_congestion(r, r->cfg->net.tcp_congestion,
                        umc_listener_set_congestion(r->listener, r->cfg->net.tcp_congestion));
}

void drbd_res_unlisten(struct drbd_resource *r)
{
    if (r->listener)
        umc_listener_close(r->listener);
    r->listener = NULL;
    while (!dl_empty(&r->pending_socks))
        pending_free(dl_entry(r->pending_socks.next, struct drbd_pending_sock, link), true);
}

/* ---- the established session -------------------------------------------------------------------- */

static void session_reset_state(struct drbd_conn *c)
{
    c->gen++;
    c->tx_epoch = 1;
    c->tx_epoch_writes = 0;
    c->acked_barrier = 0;
    c->tl_base = c->tl_next;
    c->rx_hdr_got = 0;
    c->rx_in_payload = false;
    c->handshake_done = false;
    c->ping_outstanding = false;
    memset(&c->rx_cur, 0, sizeof(c->rx_cur));
    memset(&c->rx_closing, 0, sizeof(c->rx_closing));
    c->rx_gate = false;
    for (int i = 0; i < c->res->nvols; i++) {
        struct drbd_peer_dev *pd = &c->pds[i];
        pd->got_state = pd->decided = false;
        pd->bm_sent = pd->bm_received = false;
        pd->bm_rx_pos = 0;
        pd->pause_peer = false;
        pd->rs_done_sent = false;
        pd->rs_oos_sent = pd->rs_oos_seen = 0;
        drbd_rs_owed_merge(pd);
        pd->ov_marked = pd->rs_new_bits = pd->rc_source = false;
    }
}

static void session_start(struct drbd_conn *c, struct umc_conn *sock)
{
    struct drbd_resource *r = c->res;
    c->sock = sock;
    umc_conn_set_ops(sock, &session_ops, c);
    session_reset_state(c);
    c->last_rx = umc_now(r->node);
    umc_info(r->node, DRBD_COMP, "%s %s: handshake successful (node-id %d, protocol %c)",
             r->cfg->name, c->name, c->peer_id, c->net.protocol);
    umc_timer_cancel(r->node, &c->connect_timer);
    umc_timer_arm_in(r->node, &c->ping_timer, (mte_time_t)c->net.ping_int * MTE_SEC);
    umc_timer_arm_in(r->node, &c->hs_timer, 2 * (mte_time_t)c->net.timeout * 100 * MTE_MSEC);
    for (int i = 0; i < r->nvols; i++)
        drbd_send_state(&c->pds[i], P_STATE);
}

/* Did this peer take our writes in the session now ending?  (Not a peer
 * still starting a resync: nothing of this session reached it.) */
static bool pd_had_our_writes(const struct drbd_peer_dev *pd)
{
    switch (pd->repl) {
    case DRBD_R_WF_BITMAP_S: case DRBD_R_WF_BITMAP_T: case DRBD_R_WF_SYNC_UUID:
    case DRBD_R_STARTING_SYNC_S: case DRBD_R_STARTING_SYNC_T:
        return false;
    default:
        return pd->decided && pd->repl >= DRBD_R_ESTABLISHED &&
               pd->peer_disk >= DRBD_D_INCONSISTENT && pd->peer_disk != DRBD_D_UNKNOWN;
    }
}

/* Everything that ends with the session: done here, in this order. */
void drbd_conn_free_session(struct drbd_conn *c)
{
    struct drbd_resource *r = c->res;
    struct umc_node *n = r->node;
    umc_timer_cancel(n, &c->ping_timer);
    umc_timer_cancel(n, &c->ping_timeout_timer);
    umc_timer_cancel(n, &c->hs_timer);
    if (c->sock)
        umc_conn_close(c->sock);
    c->sock = NULL;
    drbd_buf_put(r->d, c->rx_buf, c->rx_len);
    c->rx_buf = NULL;
    c->handshake_done = false;
    c->own_verdict_done = false;
    bool was_replicating[DRBD_MAX_VOLUMES];
    for (int i = 0; i < r->nvols; i++)
        was_replicating[i] = pd_had_our_writes(&c->pds[i]);
    for (int i = 0; i < r->nvols; i++)
        drbd_pd_conn_lost(&c->pds[i]);
    drbd_tl_conn_lost(c);
    drbd_pis_conn_lost(c);
    drbd_rx_conn_lost(c);
    drbd_twopc_conn_lost(c);
    c->peer_role = DRBD_ROLE_UNKNOWN;
    for (int i = 0; i < r->nvols; i++) {
        struct drbd_volume *v = r->vols[i];
        /* a peer that had our data misses what comes next: a new data
         * generation (a diskless primary names it for the disks it writes to) */
        if (r->role == DRBD_ROLE_PRIMARY && was_replicating[i])
            v->uuid_rotate_pending = true;
        if (v->have_md && v->backing_open && !r->going_down)
            drbd_bm_writeback(v, NULL, NULL);
    }
}

/* Lose the connection: an error state, then reconnect (or StandAlone when the
 * administrator or a split brain said so).  A session still in its handshake
 * was never Connected: it stays Connecting. */
void drbd_conn_drop(struct drbd_conn *c, enum drbd_conn_state why, const char *reason)
{
    struct drbd_resource *r = c->res;
    if (!c->sock) {
        out_abort(c);
        return;
    }
    umc_warn(r->node, DRBD_COMP, "%s %s: %s", r->cfg->name, c->name, reason);
    snprintf(c->last_drop, sizeof(c->last_drop), "%s", reason);
    /* a session the handshake ended (refused, or the peer did) is retried
     * after connect-int, not at once: both sides would just refuse again */
    bool refused = !c->handshake_done;
    if (c->cstate == DRBD_C_CONNECTED)
        drbd_set_cstate(c, why);
    drbd_conn_free_session(c);
    if (c->want_standalone || r->going_down) {
        drbd_set_cstate(c, DRBD_C_DISCONNECTING);
        drbd_set_cstate(c, DRBD_C_STANDALONE);
    } else {
        if (c->cstate != DRBD_C_CONNECTING) {
            drbd_set_cstate(c, DRBD_C_UNCONNECTED);
            drbd_set_cstate(c, DRBD_C_CONNECTING);
        }
        mte_time_t delay = refused ? (mte_time_t)c->net.connect_int * MTE_SEC : 0;
        c->accept_after = umc_now(r->node) + delay;
        schedule_connect(c, delay);
    }
    drbd_quorum_update(r);
    drbd_data_path_changed(r);
    drbd_cmd_waits_check(r);
}

void drbd_conn_start(struct drbd_conn *c)
{
    timers_init(c);
    c->want_standalone = false;
    if (c->cstate == DRBD_C_STANDALONE)
        drbd_set_cstate(c, DRBD_C_UNCONNECTED);
    if (c->cstate == DRBD_C_UNCONNECTED) {
        drbd_set_cstate(c, DRBD_C_CONNECTING);
        drbd_res_listen(c->res);
        schedule_connect(c, 0);
    }
}

/* Administrative disconnect (or teardown): end in `final` (StandAlone). */
void drbd_conn_stop(struct drbd_conn *c, enum drbd_conn_state final)
{
    struct drbd_resource *r = c->res;
    timers_init(c);
    c->want_standalone = true;
    umc_timer_cancel(r->node, &c->connect_timer);
    out_abort(c);
    if (c->sock) {
        unsigned char buf[64];
        struct drbd_wbuf w = {.p = buf, .cap = sizeof(buf)};
        drbd_put_u8(&w, r->role == DRBD_ROLE_PRIMARY && c->handshake_done ? DISC_OUTDATE_PEER : 0);
        drbd_put_str(&w, "disconnect");
        drbd_send(c, P_DISCONNECT, -1, buf, w.len, true);
        drbd_set_cstate(c, DRBD_C_DISCONNECTING);
        drbd_conn_free_session(c);
    } else if (c->cstate != DRBD_C_STANDALONE) {
        drbd_set_cstate(c, DRBD_C_DISCONNECTING);
    }
    drbd_set_cstate(c, final);
    umc_timer_cancel(r->node, &c->hs_timer);
    drbd_quorum_update(r);
}

/* ---- receiving ---------------------------------------------------------------------------------- */

static int rx_header(struct drbd_conn *c)
{
    const unsigned char *h = c->rx_hdr;
    unsigned type = (unsigned)h[4] << 8 | h[5];
    unsigned vol = (unsigned)h[6] << 8 | h[7];
    uint32_t len = drbd_get_be32(h + 8);
    if (drbd_get_be32(h) != DRBD_WIRE_MAGIC || drbd_get_be32(h + 12) != 0)
        return -EPROTO;
    if (type == 0 || type >= P_TYPE_MAX || type == P_HELLO || type == P_HELLO_ACK ||
        len > drbd_ptype_max_len(type))
        return -EPROTO;
    if (drbd_ptype_per_volume(type) ? !drbd_vol_by_vnr(c->res, (int)vol) : vol != DRBD_VOL_NONE)
        return -EPROTO;
    c->rx_type = (uint16_t)type;
    c->rx_vol = (uint16_t)vol;
    c->rx_len = len;
    c->rx_got = 0;
    c->rx_in_payload = true;
    if (len > sizeof(c->rx_small) || drbd_ptype_big(type))
        c->rx_buf = drbd_buf_get(c->res->d, len);
    return 0;
}

/* Read what is there; dispatch every complete packet.  Stops when the
 * session ends underneath. */
static void session_on_readable(struct umc_conn *sock, void *arg)
{
    struct drbd_conn *c = arg;
    uint64_t gen = c->gen;
    while (c->sock == sock && c->gen == gen) {
        ssize_t n;
        if (!c->rx_in_payload) {
            n = umc_conn_read(sock, c->rx_hdr + c->rx_hdr_got, DRBD_HDR_SIZE - c->rx_hdr_got);
            if (n <= 0)
                return;
            c->last_rx = umc_now(c->res->node);
            drbd_quorum_probe_check(c->res);
            c->rx_hdr_got += (size_t)n;
            if (c->rx_hdr_got < DRBD_HDR_SIZE)
                continue;
            c->rx_hdr_got = 0;
            if (rx_header(c)) {
                drbd_conn_drop(c, DRBD_C_PROTOCOL_ERROR, "protocol error: bad packet header");
                return;
            }
        }
        unsigned char *dst = c->rx_buf ? c->rx_buf : c->rx_small;
        if (c->rx_got < c->rx_len) {
            n = umc_conn_read(sock, dst + c->rx_got, c->rx_len - c->rx_got);
            if (n <= 0)
                return;
            c->last_rx = umc_now(c->res->node);
            c->rx_got += (uint32_t)n;
            if (c->rx_got < c->rx_len)
                continue;
        }
        c->rx_in_payload = false;
        c->rx_buf = NULL;
        if (drbd_rx_packet(c, c->rx_type, c->rx_vol, dst, c->rx_len))
            return;
    }
}

int drbd_rx_packet(struct drbd_conn *c, unsigned type, unsigned vol, unsigned char *payload,
                   uint32_t len)
{
    struct umc_conn *sock = c->sock;
    uint64_t gen = c->gen;
    int rc = drbd_rx_dispatch(c, type, vol, &payload, len);
    if (payload && payload != c->rx_small)
        drbd_buf_put(c->res->d, payload, len);
    if (rc && c->sock == sock && c->gen == gen) {
        char why[96];
        snprintf(why, sizeof(why), "protocol error in %s packet", drbd_ptype_name(type));
        drbd_conn_drop(c, DRBD_C_PROTOCOL_ERROR, why);
    }
    return rc;
}

static void session_on_writable(struct umc_conn *sock, void *arg)
{
    struct drbd_conn *c = arg;
    if (c->sock == sock)
        drbd_tx_push(c);
}

static void session_on_close(struct umc_conn *sock, int err, void *arg)
{
    struct drbd_conn *c = arg;
    if (c->sock != sock)
        return;
    drbd_conn_drop(c, err ? DRBD_C_NETWORK_FAILURE : DRBD_C_BROKEN_PIPE,
                   err ? "connection reset by peer" : "connection closed by peer");
}

static const struct umc_conn_ops session_ops = {
    .on_readable = session_on_readable,
    .on_writable = session_on_writable,
    .on_close = session_on_close,
};

/* ---- keep-alive ---------------------------------------------------------------------------------- */

static void ping_fired(void *arg)
{
    struct drbd_conn *c = arg;
    if (!c->sock)
        return;
    mte_time_t now = umc_now(c->res->node);
    mte_time_t interval = (mte_time_t)c->net.ping_int * MTE_SEC;
    if (now - c->last_rx < interval) {
        /* heard from the peer recently: check again ping-int after that */
        umc_timer_arm_at(c->res->node, &c->ping_timer, c->last_rx + interval);
        return;
    }
    if (!mte_timer_armed(&c->ping_timeout_timer)) {
        c->ping_sent_at = now;
        drbd_send(c, P_PING, -1, NULL, 0, true);
        umc_timer_arm_in(c->res->node, &c->ping_timeout_timer,
                         (mte_time_t)c->net.ping_timeout * 100 * MTE_MSEC);
    }
    umc_timer_arm_in(c->res->node, &c->ping_timer, interval);
}

/* Any byte from the peer proves it alive: a ping answer may be queued behind data. */
static void ping_timeout_fired(void *arg)
{
    struct drbd_conn *c = arg;
    if (c->sock && c->last_rx < c->ping_sent_at)
        drbd_conn_drop(c, DRBD_C_NETWORK_FAILURE, "PingAck did not arrive in time.");
}

static void hs_timeout_fired(void *arg)
{
    struct drbd_conn *c = arg;
    if (c->out && !c->sock) {
        out_abort(c);
        schedule_connect(c, (mte_time_t)c->net.connect_int * MTE_SEC);
        return;
    }
    if (c->sock && !c->handshake_done)
        drbd_conn_drop(c, DRBD_C_NETWORK_FAILURE, "handshake did not finish in time");
}
