/* Target connections: reading PDUs and dispatching them, transmitting
 * responses as one send of an iovec, liveness (NOP-In), and teardown. */
#include <errno.h>

#include "iscsi/iscsi_target.h"

static void conn_release(struct iscsi_conn *conn);

/* ---- transmit ------------------------------------------------------------------------------- */

#define TX_SLOT 64u   /* header + header digest + pad + data digest of one PDU */

void iscsi_tx_begin(struct iscsi_conn *conn, unsigned npdu)
{
    size_t need = (size_t)npdu * TX_SLOT;
    if (conn->tx_cap < need) {
        umc_free(conn->node, conn->tx);
        conn->tx = umc_alloc(conn->node, need);
        conn->tx_cap = need;
    }
    if (conn->iov_cap < 3 * npdu) {
        umc_free(conn->node, conn->iov);
        conn->iov = umc_alloc(conn->node, 3 * npdu * sizeof(struct iovec));
        conn->iov_cap = 3 * npdu;
    }
    conn->tx_used = 0;
    conn->iov_cnt = 0;
}

/* Append scratch bytes; contiguous scratch runs share one iovec. */
static uint8_t *tx_scratch(struct iscsi_conn *conn, size_t len)
{
    uint8_t *p = conn->tx + conn->tx_used;
    struct iovec *last = conn->iov_cnt ? &conn->iov[conn->iov_cnt - 1] : NULL;
    if (last && (uint8_t *)last->iov_base + last->iov_len == p)
        last->iov_len += len;
    else
        conn->iov[conn->iov_cnt++] = (struct iovec){p, len};
    conn->tx_used += len;
    return p;
}

void iscsi_tx_pdu(struct iscsi_conn *conn, uint8_t *bhs, const void *data, uint32_t dlen)
{
    if (conn->tx_used + TX_SLOT > conn->tx_cap || conn->iov_cnt + 3 > conn->iov_cap)
        iscsi_tx_send(conn);                     /* more PDUs than begun for: flush */
    iscsi_hdr_set_dlen(bhs, dlen);
    uint8_t *h = tx_scratch(conn, ISCSI_BHS_LEN + (conn->header_digest ? ISCSI_DIGEST_LEN : 0));
    memcpy(h, bhs, ISCSI_BHS_LEN);
    if (conn->header_digest)
        iscsi_put_digest(h + ISCSI_BHS_LEN, umc_crc32c(h, ISCSI_BHS_LEN));
    if (!dlen)
        return;
    conn->iov[conn->iov_cnt++] = (struct iovec){(void *)data, dlen};
    uint32_t pad = iscsi_pad4(dlen);
    if (!pad && !conn->data_digest)
        return;
    uint8_t *t = tx_scratch(conn, pad + (conn->data_digest ? ISCSI_DIGEST_LEN : 0));
    memset(t, 0, pad);
    if (conn->data_digest) {
        uint32_t crc = umc_crc32c_update(UMC_CRC32C_INIT, data, dlen);
        crc = umc_crc32c_update(crc, t, pad);
        iscsi_put_digest(t + pad, umc_crc32c_final(crc));
    }
}

void iscsi_tx_send(struct iscsi_conn *conn)
{
    unsigned cnt = conn->iov_cnt;
    conn->iov_cnt = 0;
    conn->tx_used = 0;
    if (!conn->uc || !cnt)
        return;
    umc_conn_send(conn->uc, conn->iov, cnt);
    if (!conn->paused && umc_conn_queued(conn->uc) > ISCSI_TX_HIGH) {
        conn->paused = true;             /* the initiator reads slower than it asks */
        umc_conn_pause_recv(conn->uc, true);
        conn->rx.stop = true;
    }
}

void iscsi_fill_sn(struct iscsi_conn *conn, uint8_t *bhs, bool advance_statsn)
{
    iscsi_put32(bhs, ISCSI_OFF_STATSN, advance_statsn ? conn->stat_sn++ : conn->stat_sn);
    struct iscsi_session *s = conn->sess;
    if (s) {
        iscsi_put32(bhs, ISCSI_OFF_EXPCMDSN, s->exp_cmdsn);
        iscsi_put32(bhs, ISCSI_OFF_MAXCMDSN, iscsi_session_max_cmdsn(s));
    }
}

void iscsi_send_pdu(struct iscsi_conn *conn, uint8_t *bhs, const void *data, uint32_t dlen)
{
    iscsi_tx_begin(conn, 1);
    iscsi_tx_pdu(conn, bhs, data, dlen);
    iscsi_tx_send(conn);
}

void iscsi_send_reject(struct iscsi_conn *conn, unsigned reason, const uint8_t *bad)
{
    uint8_t h[ISCSI_BHS_LEN];
    umc_info(conn->node, ISCSI_COMP, "reject %s from %s: reason 0x%02x",
             iscsi_opcode_name(iscsi_hdr_opcode(bad)), umc_conn_peer_addr(conn->uc), reason);
    iscsi_hdr_init(h, ISCSI_OP_REJECT, ISCSI_F);
    h[2] = (uint8_t)reason;
    iscsi_put32(h, ISCSI_OFF_ITT, ISCSI_RSVD_TAG);
    iscsi_fill_sn(conn, h, true);
    iscsi_send_pdu(conn, h, bad, ISCSI_BHS_LEN);
}

/* ---- dispatch --------------------------------------------------------------------------------- */

static int ffp_header(struct iscsi_conn *conn, const uint8_t *bhs)
{
    unsigned reason = iscsi_check_initiator_pdu(bhs, conn->max_recv_dsl);
    unsigned op = iscsi_hdr_opcode(bhs);
    if (!reason && op == ISCSI_OP_LOGIN_REQ)
        reason = ISCSI_REJECT_PROTOCOL;          /* login is over */
    if (!reason && conn->sess->discovery && (op == ISCSI_OP_SCSI_CMD || op == ISCSI_OP_TMF_REQ ||
                                             op == ISCSI_OP_DATA_OUT))
        reason = ISCSI_REJECT_PROTOCOL;          /* a discovery session has no LUNs */
    if (reason) {
        conn->rx_verdict = reason;               /* sent once the data is skipped */
        iscsi_rx_set_discard(&conn->rx);
        return 0;
    }
    if (op == ISCSI_OP_SCSI_CMD)
        return iscsi_scsi_cmd_header(conn, bhs);
    if (op == ISCSI_OP_DATA_OUT)
        return iscsi_data_out_header(conn, bhs);
    return 0;
}

static int on_header(void *owner, struct iscsi_rx *rx)
{
    struct iscsi_conn *conn = owner;
    umc_debug(conn->node, ISCSI_COMP, "rx %s flags 0x%02x itt 0x%x dlen %u sn %u/%u",
              iscsi_opcode_name(iscsi_hdr_opcode(rx->hdr)), rx->hdr[1], iscsi_hdr_itt(rx->hdr),
              rx->dlen, iscsi_get32(rx->hdr, ISCSI_OFF_CMDSN), iscsi_get32(rx->hdr, ISCSI_OFF_DATASN));
    conn->rx_task = NULL;
    conn->rx_r2t = NULL;
    conn->rx_verdict = 0;
    conn->rx_ignore = false;
    if (conn->state == CONN_LOGIN) {
        uint32_t dlen = iscsi_hdr_dlen(rx->hdr);
        if (iscsi_hdr_opcode(rx->hdr) != ISCSI_OP_LOGIN_REQ || dlen > ISCSI_LOGIN_DSL || rx->hdr[4]) {
            iscsi_login_reject_pdu(conn, rx->hdr);   /* answered, then dropped */
            return -1;
        }
        return 0;
    }
    if (conn->state != CONN_FFP) {
        iscsi_rx_set_discard(rx);                /* closing: drain quietly */
        conn->rx_ignore = true;
        return 0;
    }
    return ffp_header(conn, rx->hdr);
}

static int ffp_pdu(struct iscsi_conn *conn, const uint8_t *bhs, const uint8_t *data, bool data_ok)
{
    uint32_t dlen = iscsi_hdr_dlen(bhs);
    if (conn->rx_verdict) {
        iscsi_send_reject(conn, conn->rx_verdict, bhs);
        iscsi_session_consume_cmdsn(conn->sess, bhs);
        return 0;
    }
    switch (iscsi_hdr_opcode(bhs)) {
    case ISCSI_OP_SCSI_CMD: return iscsi_scsi_cmd_data(conn, data_ok);
    case ISCSI_OP_DATA_OUT: return iscsi_data_out_data(conn, bhs, data_ok);
    default: break;
    }
    if (!data_ok) {
        iscsi_send_reject(conn, ISCSI_REJECT_DATA_DIGEST, bhs);
        return 0;
    }
    switch (iscsi_hdr_opcode(bhs)) {
    case ISCSI_OP_NOP_OUT: return iscsi_nop_out(conn, bhs, data, dlen);
    case ISCSI_OP_TEXT_REQ: return iscsi_text_req(conn, bhs, data, dlen);
    case ISCSI_OP_LOGOUT_REQ: return iscsi_logout_req(conn, bhs);
    case ISCSI_OP_TMF_REQ: return iscsi_tmf_req(conn, bhs);
    default:
        iscsi_send_reject(conn, ISCSI_REJECT_NOT_SUPPORTED, bhs);
        return 0;
    }
}

static int on_pdu(void *owner, struct iscsi_rx *rx, const uint8_t *data, bool data_ok)
{
    struct iscsi_conn *conn = owner;
    if (conn->state == CONN_LOGIN) {
        if (!data_ok) {
            iscsi_conn_drop(conn, "login PDU with a bad data digest");
            return -1;
        }
        return iscsi_login_pdu(conn, rx->hdr, data, rx->dlen);
    }
    if (conn->rx_ignore || conn->state != CONN_FFP)
        return 0;
    int r = ffp_pdu(conn, rx->hdr, data, data_ok);
    if (r < 0)
        return r;
    if (conn->state != CONN_FFP)
        rx->stop = true;
    return 0;
}

static long on_read(void *owner, void *buf, size_t len)
{
    struct iscsi_conn *conn = owner;
    if (!conn->uc)
        return 0;
    return (long)umc_conn_read(conn->uc, buf, len);
}

static void *rx_alloc(void *owner, size_t size) { return umc_alloc(((struct iscsi_conn *)owner)->node, size); }
static void rx_free(void *owner, void *p) { umc_free(((struct iscsi_conn *)owner)->node, p); }

static const struct iscsi_rx_ops rx_ops = {
    .on_header = on_header, .on_pdu = on_pdu, .read = on_read, .alloc = rx_alloc, .free = rx_free,
};

/* ---- connection events ------------------------------------------------------------------------ */

static void conn_pump(struct iscsi_conn *conn)
{
    if (conn->state == CONN_DEAD || conn->paused)
        return;
    conn->in_rx++;
    int r = iscsi_rx_pump(&conn->rx);
    if (r == -EBADMSG)
        iscsi_conn_drop(conn, "header digest error");
    else if (r < 0 && conn->state != CONN_DEAD)
        iscsi_conn_drop(conn, "receive error");
    conn->in_rx--;
    if (conn->free_pending && !conn->in_rx)
        conn_release(conn);
}

static void on_readable(struct umc_conn *uc, void *arg) { conn_pump(arg); }

static void on_writable(struct umc_conn *uc, void *arg)
{
    struct iscsi_conn *conn = arg;
    if (!conn->paused)
        return;
    conn->paused = false;
    umc_conn_pause_recv(uc, false);
    if (iscsi_rx_has_buffered(&conn->rx))
        umc_timer_arm_in(conn->node, &conn->kick_timer, 0);
}

static void kick_fired(void *arg) { conn_pump(arg); }

static void r2t_timer_fired(void *arg)
{
    struct iscsi_conn *conn = arg;
    if (conn->sess && conn->state == CONN_FFP)
        iscsi_r2t_wake(conn->sess);
}

static void on_close(struct umc_conn *uc, int err, void *arg)
{
    struct iscsi_conn *conn = arg;
    iscsi_conn_drop(conn, err ? "connection reset" : "connection closed by the initiator");
}

static const struct umc_conn_ops conn_ops = {
    .on_readable = on_readable, .on_writable = on_writable, .on_close = on_close,
};

static void login_timed_out(void *arg)
{
    iscsi_conn_drop(arg, "login timed out");
}

void iscsi_conn_accept(struct iscsi_server *srv, struct umc_conn *uc)
{
    struct umc_node *n = srv->node;
    struct iscsi_conn *conn = umc_alloc(n, sizeof(*conn));
    conn->srv = srv;
    conn->node = n;
    conn->uc = uc;
    conn->state = CONN_LOGIN;
    conn->max_recv_dsl = ISCSI_LOGIN_DSL;
    conn->max_xmit_dsl = ISCSI_LOGIN_DSL;
    iscsi_rx_init(&conn->rx, &rx_ops, conn, conn->rxbuf);
    umc_timer_init(n, &conn->nop_timer, iscsi_nop_timer_fired, conn);
    umc_timer_init(n, &conn->login_timer, login_timed_out, conn);
    umc_timer_init(n, &conn->kick_timer, kick_fired, conn);
    umc_timer_init(n, &conn->r2t_timer, r2t_timer_fired, conn);
    conn->prev = srv->conns_tail;
    if (srv->conns_tail)
        srv->conns_tail->next = conn;
    else
        srv->conns = conn;
    srv->conns_tail = conn;
    conn->login = iscsi_login_new(conn);
    umc_timer_arm_in(n, &conn->login_timer, ISCSI_LOGIN_TIMEOUT);
    umc_debug(n, ISCSI_COMP, "connection from %s", umc_conn_peer_addr(uc));
    umc_conn_set_ops(uc, &conn_ops, conn);
}

void iscsi_conn_enter_ffp(struct iscsi_conn *conn)
{
    conn->state = CONN_FFP;
    conn->header_digest = conn->sess->header_digest;
    conn->data_digest = conn->sess->data_digest;
    umc_timer_cancel(conn->node, &conn->login_timer);
    conn->rx.header_digest = conn->header_digest;
    conn->rx.data_digest = conn->data_digest;
    if (conn->params.nop_in_interval && !conn->sess->discovery)
        umc_timer_arm_in(conn->node, &conn->nop_timer, conn->params.nop_in_interval * MTE_SEC);
}

static void conn_unlink(struct iscsi_conn *conn)
{
    struct iscsi_server *srv = conn->srv;
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        srv->conns = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    else
        srv->conns_tail = conn->prev;
    conn->prev = conn->next = NULL;
}

static void conn_release(struct iscsi_conn *conn)
{
    struct umc_node *n = conn->node;
    iscsi_rx_release(&conn->rx);
    umc_free(n, conn->tx);
    umc_free(n, conn->iov);
    umc_free(n, conn->text_req);
    umc_free(n, conn->text_rsp);
    umc_free(n, conn);
}

void iscsi_conn_drop(struct iscsi_conn *conn, const char *why)
{
    if (conn->state == CONN_DEAD)
        return;
    struct umc_node *n = conn->node;
    umc_info(n, ISCSI_COMP, "connection %s dropped: %s", conn->uc ? umc_conn_peer_addr(conn->uc) : "?",
             why);
    conn->state = CONN_DEAD;
    conn->rx.stop = true;
    umc_timer_cancel(n, &conn->nop_timer);
    umc_timer_cancel(n, &conn->login_timer);
    umc_timer_cancel(n, &conn->kick_timer);
    umc_timer_cancel(n, &conn->r2t_timer);
    if (conn->uc) {
        umc_conn_close(conn->uc);
        conn->uc = NULL;
    }
    iscsi_login_free(conn);
    conn_unlink(conn);
    struct iscsi_session *sess = conn->sess;
    conn->sess = NULL;
    if (sess) {
        sess->conn = NULL;
        iscsi_session_end(sess);
    }
    if (conn->in_rx)
        conn->free_pending = true;
    else
        conn_release(conn);
}

/* ---- target-initiated NOP-In ---------------------------------------------------------------------- */

void iscsi_nop_timer_fired(void *arg)
{
    struct iscsi_conn *conn = arg;
    if (conn->nop_waiting) {
        iscsi_conn_drop(conn, "no answer to NOP-In");
        return;
    }
    uint8_t h[ISCSI_BHS_LEN];
    iscsi_hdr_init(h, ISCSI_OP_NOP_IN, ISCSI_F);
    iscsi_put32(h, ISCSI_OFF_ITT, ISCSI_RSVD_TAG);
    conn->nop_ttt = (conn->nop_ttt + 1) & 0x7fffffff;
    iscsi_put32(h, ISCSI_OFF_TTT, conn->nop_ttt);
    iscsi_fill_sn(conn, h, false);
    iscsi_send_pdu(conn, h, NULL, 0);
    if (conn->params.nop_in_timeout) {
        conn->nop_waiting = true;
        umc_timer_arm_in(conn->node, &conn->nop_timer, conn->params.nop_in_timeout * MTE_SEC);
    } else {
        umc_timer_arm_in(conn->node, &conn->nop_timer, conn->params.nop_in_interval * MTE_SEC);
    }
}
