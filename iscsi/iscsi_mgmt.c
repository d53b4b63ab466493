/* The target's management PDUs: NOP-Out, Text (SendTargets), Logout and task
 * management (mapped to scst_tmf). */
#include <stdio.h>

#include "iscsi/iscsi_target.h"

/* ---- NOP ------------------------------------------------------------------------------------ */

int iscsi_nop_out(struct iscsi_conn *conn, const uint8_t *bhs, const uint8_t *data, uint32_t dlen)
{
    if (!iscsi_session_cmdsn_ok(conn->sess, bhs))
        return 0;
    uint32_t itt = iscsi_hdr_itt(bhs), ttt = iscsi_get32(bhs, ISCSI_OFF_TTT);
    if (itt == ISCSI_RSVD_TAG) {                 /* no answer wanted */
        if (ttt == conn->nop_ttt && conn->nop_waiting) {
            conn->nop_waiting = false;
            umc_timer_arm_in(conn->node, &conn->nop_timer, conn->params.nop_in_interval * MTE_SEC);
        }
        return 0;
    }
    uint8_t h[ISCSI_BHS_LEN];
    iscsi_hdr_init(h, ISCSI_OP_NOP_IN, ISCSI_F);
    iscsi_put64(h, ISCSI_OFF_LUN, iscsi_get64(bhs, ISCSI_OFF_LUN));
    iscsi_put32(h, ISCSI_OFF_ITT, itt);
    iscsi_put32(h, ISCSI_OFF_TTT, ISCSI_RSVD_TAG);
    iscsi_fill_sn(conn, h, true);
    iscsi_send_pdu(conn, h, data, dlen < conn->max_xmit_dsl ? dlen : conn->max_xmit_dsl);
    return 0;
}

/* ---- Text: SendTargets ------------------------------------------------------------------------- */

struct send_targets {
    struct iscsi_conn *conn;
    struct iscsi_text *out;
    const char *only;                            /* NULL: every visible target */
    const char *initiator;
};

static void add_target(void *arg, const char *name)
{
    struct send_targets *st = arg;
    struct iscsi_server *srv = st->conn->srv;
    if (st->only && strcmp(st->only, name))
        return;
    if (!scst_target_visible(srv->core, name, st->initiator))
        return;
    iscsi_text_add(st->out, "TargetName", name);
    iscsi_add_target_addresses(st->conn, st->out);
}

/* The answer to the request's pairs; false if the request is invalid. */
static bool answer_text(struct iscsi_conn *conn, const char *req, size_t len, struct iscsi_text *out)
{
    struct iscsi_session *s = conn->sess;
    char what[ISCSI_NAME_MAX];
    if (!iscsi_parse_send_targets(req, len, what, sizeof(what)))
        return false;
    struct send_targets st = {conn, out, NULL, s->initiator};
    if (!strcmp(what, "All"))
        st.only = NULL;
    else if (!what[0] && !s->discovery)
        st.only = s->target;
    else if (what[0] && iscsi_target_exists(conn->srv, what))
        st.only = what;
    else
        return false;
    scst_foreach_target(conn->srv->core, add_target, &st);
    return true;
}

static uint32_t new_text_ttt(struct iscsi_conn *conn)
{
    conn->text_ttt = (conn->text_ttt + 1) & 0x7fffffff;
    return conn->text_ttt | 0x80000000u;         /* never the reserved tag, never 0 */
}

static void text_header(struct iscsi_conn *conn, const uint8_t *req, uint8_t *h, uint8_t flags,
                        uint32_t ttt)
{
    iscsi_hdr_init(h, ISCSI_OP_TEXT_RSP, flags);
    iscsi_put64(h, ISCSI_OFF_LUN, iscsi_get64(req, ISCSI_OFF_LUN));
    iscsi_put32(h, ISCSI_OFF_ITT, iscsi_hdr_itt(req));
    iscsi_put32(h, ISCSI_OFF_TTT, ttt);
    iscsi_fill_sn(conn, h, true);
}

/* The next piece of a pending answer; C and a TTT while more remain. */
static void send_text_chunk(struct iscsi_conn *conn, const uint8_t *req)
{
    size_t left = conn->text_rsp_len - conn->text_rsp_off;
    uint32_t n = left > conn->max_xmit_dsl ? conn->max_xmit_dsl : (uint32_t)left;
    bool more = left > n;
    uint8_t h[ISCSI_BHS_LEN];
    text_header(conn, req, h, more ? ISCSI_TEXT_C : ISCSI_F,
                more ? new_text_ttt(conn) : ISCSI_RSVD_TAG);
    iscsi_send_pdu(conn, h, conn->text_rsp + conn->text_rsp_off, n);
    conn->text_rsp_off += n;
    if (!more) {
        umc_free(conn->node, conn->text_rsp);
        conn->text_rsp = NULL;
        conn->text_rsp_len = conn->text_rsp_off = 0;
    }
}

static int text_continue(struct iscsi_conn *conn, const uint8_t *bhs, const uint8_t *data,
                         uint32_t dlen)
{
    uint32_t ttt = iscsi_get32(bhs, ISCSI_OFF_TTT);
    if (ttt != (conn->text_ttt | 0x80000000u) || (!conn->text_rsp && !conn->text_req_len)) {
        iscsi_send_reject(conn, ISCSI_REJECT_INVALID_FIELD, bhs);
        return 1;
    }
    if (conn->text_rsp) {
        send_text_chunk(conn, bhs);
        return 1;
    }
    return 0;                                    /* more of a continued request */
}

int iscsi_text_req(struct iscsi_conn *conn, const uint8_t *bhs, const uint8_t *data, uint32_t dlen)
{
    if (!iscsi_session_cmdsn_ok(conn->sess, bhs))
        return 0;
    if (iscsi_get32(bhs, ISCSI_OFF_TTT) != ISCSI_RSVD_TAG && text_continue(conn, bhs, data, dlen))
        return 0;
    umc_free(conn->node, conn->text_rsp);       /* a new request ends an old answer */
    conn->text_rsp = NULL;
    conn->text_rsp_len = conn->text_rsp_off = 0;
    if (conn->text_req_len + dlen > ISCSI_TEXT_MAX) {
        iscsi_send_reject(conn, ISCSI_REJECT_PROTOCOL, bhs);
        umc_free(conn->node, conn->text_req);
        conn->text_req = NULL;
        conn->text_req_len = 0;
        return 0;
    }
    conn->text_req = umc_realloc(conn->node, conn->text_req, conn->text_req_len + dlen + 1);
    memcpy(conn->text_req + conn->text_req_len, data, dlen);
    conn->text_req_len += dlen;
    uint8_t h[ISCSI_BHS_LEN];
    if (bhs[1] & ISCSI_TEXT_C) {                 /* ask for the rest of the request */
        text_header(conn, bhs, h, 0, new_text_ttt(conn));
        iscsi_send_pdu(conn, h, NULL, 0);
        return 0;
    }
    struct iscsi_text out = {.grow = iscsi_text_grow, .grow_ctx = conn->node};
    bool ok = answer_text(conn, conn->text_req, conn->text_req_len, &out);
    umc_free(conn->node, conn->text_req);
    conn->text_req = NULL;
    conn->text_req_len = 0;
    if (!ok) {
        umc_free(conn->node, out.buf);
        iscsi_send_reject(conn, ISCSI_REJECT_INVALID_FIELD, bhs);
        return 0;
    }
    conn->text_rsp = out.buf;
    conn->text_rsp_len = out.len;
    conn->text_rsp_off = 0;
    send_text_chunk(conn, bhs);
    return 0;
}

/* ---- Logout ---------------------------------------------------------------------------------------- */

int iscsi_logout_req(struct iscsi_conn *conn, const uint8_t *bhs)
{
    struct iscsi_session *s = conn->sess;
    if (!iscsi_session_cmdsn_ok(s, bhs))
        return 0;
    unsigned reason = bhs[1] & ISCSI_LOGOUT_REASON, response = 0;
    uint16_t cid = iscsi_get16(bhs, ISCSI_OFF_CID);
    if (reason == ISCSI_LOGOUT_RECOVERY)
        response = 2;                            /* ErrorRecoveryLevel 0: no recovery */
    else if (reason == ISCSI_LOGOUT_CONNECTION && cid != conn->cid)
        response = 1;                            /* CID not found */
    uint8_t h[ISCSI_BHS_LEN];
    iscsi_hdr_init(h, ISCSI_OP_LOGOUT_RSP, ISCSI_F);
    h[2] = (uint8_t)response;
    iscsi_put32(h, ISCSI_OFF_ITT, iscsi_hdr_itt(bhs));
    iscsi_fill_sn(conn, h, true);
    iscsi_put16(h, ISCSI_OFF_TIME2WAIT, (uint16_t)s->time2wait);
    iscsi_put16(h, ISCSI_OFF_TIME2RETAIN, 0);
    iscsi_send_pdu(conn, h, NULL, 0);
    if (response)
        return 0;
    umc_info(conn->node, ISCSI_COMP, "logout of %s (reason %u)", s->initiator, reason);
    iscsi_conn_drop(conn, "logged out");
    return -1;
}

/* ---- task management ------------------------------------------------------------------------------------- */

struct tmf_ctx {
    struct iscsi_session *sess;
    uint32_t itt, epoch;
    uint64_t lun_raw;
    unsigned function;
};

enum { TMF_REASSIGN_NOT_SUPPORTED = 4 };

static void send_tmf_response(struct iscsi_conn *conn, uint32_t itt, unsigned response)
{
    uint8_t h[ISCSI_BHS_LEN];
    iscsi_hdr_init(h, ISCSI_OP_TMF_RSP, ISCSI_F);
    h[2] = (uint8_t)response;
    iscsi_put32(h, ISCSI_OFF_ITT, itt);
    iscsi_fill_sn(conn, h, true);
    iscsi_send_pdu(conn, h, NULL, 0);
}

/* Tasks still gathering data never reached scst: abort them here.  scope:
 * this session only, or every session of the target; lun UINT64_MAX = all. */
static void abort_receiving(struct iscsi_session *self, bool whole_target, uint64_t lun)
{
    for (struct iscsi_session *s = self->srv->sessions; s; s = s->next) {
        if (s != self && (!whole_target || s->discovery || strcmp(s->target, self->target)))
            continue;
        for (struct iscsi_task *t = s->tasks, *next; t; t = next) {
            next = t->next;
            if (!t->executing && !t->aborted && (lun == UINT64_MAX || t->cmd.lun == lun))
                iscsi_task_abort_local(t);
        }
    }
}

static void drop_target_connections(struct iscsi_server *srv, const char *target)
{
    for (struct iscsi_session *s = srv->sessions, *next; s; s = next) {
        next = s->next;
        if (!s->discovery && !strcmp(s->target, target) && s->conn)
            iscsi_conn_drop(s->conn, "target cold reset");
    }
}

static void tmf_done(void *arg, int response)
{
    struct tmf_ctx *x = arg;
    struct iscsi_session *s = x->sess;
    struct umc_node *n = s->srv->node;
    s->tmfs_pending--;
    if (s->conn && !s->ending && x->epoch == s->epoch) {
        send_tmf_response(s->conn, x->itt, (unsigned)response);
        if (x->function == SCST_TMF_TARGET_COLD_RESET)
            drop_target_connections(s->srv, s->target);
    }
    umc_free(n, x);
    iscsi_session_maybe_free(s);
}

static void start_tmf(struct iscsi_conn *conn, const uint8_t *bhs, unsigned function, uint64_t lun)
{
    struct iscsi_session *s = conn->sess;
    struct tmf_ctx *x = umc_alloc(conn->node, sizeof(*x));
    x->sess = s;
    x->itt = iscsi_hdr_itt(bhs);
    x->epoch = s->epoch;
    x->lun_raw = iscsi_get64(bhs, ISCSI_OFF_LUN);
    x->function = function;
    s->tmfs_pending++;
    scst_tmf(s->scst, (enum scst_tmf)function, lun, iscsi_get32(bhs, ISCSI_OFF_REF_ITT), tmf_done, x);
}

static void abort_task(struct iscsi_conn *conn, const uint8_t *bhs, uint64_t lun)
{
    struct iscsi_task *t = iscsi_task_find(conn->sess, iscsi_get32(bhs, ISCSI_OFF_REF_ITT));
    if (!t) {
        send_tmf_response(conn, iscsi_hdr_itt(bhs), SCST_TMF_NO_TASK);
        return;
    }
    if (!t->executing) {
        iscsi_task_abort_local(t);
        send_tmf_response(conn, iscsi_hdr_itt(bhs), SCST_TMF_COMPLETE);
        return;
    }
    start_tmf(conn, bhs, SCST_TMF_ABORT_TASK, lun);
}

int iscsi_tmf_req(struct iscsi_conn *conn, const uint8_t *bhs)
{
    struct iscsi_session *s = conn->sess;
    if (!iscsi_session_cmdsn_ok(s, bhs))
        return 0;
    unsigned function = bhs[1] & ISCSI_TMF_FUNC;
    uint64_t lun = iscsi_lun_decode(iscsi_get64(bhs, ISCSI_OFF_LUN));
    umc_info(conn->node, ISCSI_COMP, "task management function %u from %s", function, s->initiator);
    switch (function) {
    case SCST_TMF_ABORT_TASK:
        abort_task(conn, bhs, lun);
        return 0;
    case SCST_TMF_ABORT_TASK_SET:
        abort_receiving(s, false, lun);
        break;
    case SCST_TMF_CLEAR_TASK_SET: case SCST_TMF_LUN_RESET:
        abort_receiving(s, true, lun);
        break;
    case SCST_TMF_TARGET_WARM_RESET: case SCST_TMF_TARGET_COLD_RESET:
        abort_receiving(s, true, UINT64_MAX);
        break;
    case SCST_TMF_CLEAR_ACA:
        break;
    case 8:                                      /* TASK REASSIGN needs ERL 2 */
        send_tmf_response(conn, iscsi_hdr_itt(bhs), TMF_REASSIGN_NOT_SUPPORTED);
        return 0;
    default:
        send_tmf_response(conn, iscsi_hdr_itt(bhs), SCST_TMF_NOT_SUPPORTED);
        return 0;
    }
    start_tmf(conn, bhs, function, lun);
    return 0;
}
