/* Target login: stages, key negotiation, CHAP (one-way and mutual), session
 * creation and reinstatement (RFC 7143 6 and 11.12-11.13). */
#include <errno.h>
#include <stdio.h>

#include "iscsi/iscsi_target.h"

enum chap_state { CHAP_NONE, CHAP_WAIT_A, CHAP_WAIT_R, CHAP_DONE };

struct iscsi_login {
    struct iscsi_neg neg;
    enum iscsi_stage stage;          /* the CSG the next request must carry */
    bool started, setup_done, sent_tpgt;
    uint64_t isid;
    uint16_t tsih, cid;
    uint32_t itt, cmdsn, window;
    struct iscsi_target_params params;
    /* authentication */
    const struct iscsi_chap_cfg *chap;
    bool auth_required, auth_done;
    enum chap_state chap_state;
    uint8_t chap_id, challenge[ISCSI_CHAP_CHALLENGE_LEN];
    char chap_n[256];
    uint8_t chap_r[ISCSI_CHAP_BIN_MAX], peer_c[ISCSI_CHAP_BIN_MAX];
    int chap_r_len, peer_c_len;
    bool has_n, has_r, has_peer_i;
    uint8_t peer_i;
    unsigned fail_status;            /* set by the CHAP hook */
    /* multi-PDU text in both directions */
    char *req;
    size_t req_len;
    struct iscsi_text rsp;
    size_t rsp_off;
    uint8_t rsp_flags;               /* T/CSG/NSG of the last chunk */
};

static int chap_hook(void *arg, struct iscsi_neg *neg, enum iscsi_key_id key, const char *value,
                     struct iscsi_text *reply);

struct iscsi_login *iscsi_login_new(struct iscsi_conn *conn)
{
    struct iscsi_login *l = umc_alloc(conn->node, sizeof(*l));
    iscsi_neg_init(&l->neg, true);
    l->neg.special = chap_hook;
    l->neg.special_arg = conn;
    l->rsp.grow = iscsi_text_grow;
    l->rsp.grow_ctx = conn->node;
    return l;
}

void iscsi_login_free(struct iscsi_conn *conn)
{
    struct iscsi_login *l = conn->login;
    if (!l)
        return;
    umc_free(conn->node, l->req);
    umc_free(conn->node, l->rsp.buf);
    umc_free(conn->node, l);
    conn->login = NULL;
}

/* ---- responses ----------------------------------------------------------------------------- */

static void login_header(struct iscsi_conn *conn, uint8_t *h, uint8_t flags, unsigned status)
{
    struct iscsi_login *l = conn->login;
    iscsi_hdr_init(h, ISCSI_OP_LOGIN_RSP, flags);
    iscsi_hdr_set_isid_tsih(h, l->isid, l->tsih);
    iscsi_put32(h, ISCSI_OFF_ITT, l->itt);
    iscsi_put32(h, ISCSI_OFF_STATSN, conn->stat_sn++);
    iscsi_put32(h, ISCSI_OFF_EXPCMDSN, l->cmdsn);
    iscsi_put32(h, ISCSI_OFF_MAXCMDSN, l->cmdsn + l->window - 1);
    h[ISCSI_OFF_LOGIN_STATUS] = (uint8_t)(status >> 8);
    h[ISCSI_OFF_LOGIN_STATUS + 1] = (uint8_t)status;
}

static int login_fail(struct iscsi_conn *conn, unsigned status, const char *why)
{
    uint8_t h[ISCSI_BHS_LEN];
    umc_warn(conn->node, ISCSI_COMP, "login from %s refused (0x%04x %s): %s",
             umc_conn_peer_addr(conn->uc), status, iscsi_login_status_name(status), why);
    login_header(conn, h, 0, status);
    iscsi_send_pdu(conn, h, NULL, 0);
    iscsi_conn_drop(conn, "login failed");
    return -1;
}

/* Send what is left of the response text; all of it carries C but the last. */
static void send_rsp_chunk(struct iscsi_conn *conn)
{
    struct iscsi_login *l = conn->login;
    size_t left = l->rsp.len - l->rsp_off;
    uint32_t max = l->neg.peer_sent[ISCSI_KEY_MAX_RECV_DSL] ? l->neg.peer_max_recv_dsl : ISCSI_LOGIN_DSL;
    uint32_t n = left > max ? max : (uint32_t)left;
    uint8_t h[ISCSI_BHS_LEN];
    bool more = left > n;
    uint8_t flags = more ? (uint8_t)((l->rsp_flags & 0x0c) | ISCSI_TEXT_C) : l->rsp_flags;
    login_header(conn, h, flags, ISCSI_LOGIN_OK);
    iscsi_send_pdu(conn, h, l->rsp.buf + l->rsp_off, n);
    l->rsp_off += n;
}

/* ---- CHAP ------------------------------------------------------------------------------------ */

static int chap_refuse(struct iscsi_login *l, struct iscsi_text *reply, const char *key)
{
    if (key)
        iscsi_text_add(reply, key, "Reject");
    l->fail_status = ISCSI_LOGIN_AUTH_FAILED;
    return ISCSI_NEG_SPECIAL;
}

static int chap_auth_method(struct iscsi_conn *conn, const char *v, struct iscsi_text *reply)
{
    struct iscsi_login *l = conn->login;
    if (l->auth_required) {
        if (!iscsi_list_has(v, "CHAP"))
            return chap_refuse(l, reply, "AuthMethod");
        iscsi_text_add(reply, "AuthMethod", "CHAP");
        l->chap_state = CHAP_WAIT_A;
        return 0;
    }
    if (!iscsi_list_has(v, "None"))
        return chap_refuse(l, reply, "AuthMethod");
    iscsi_text_add(reply, "AuthMethod", "None");
    l->auth_done = true;
    return 0;
}

static bool list_has_md5(const char *v)
{
    char num[4];
    snprintf(num, sizeof(num), "%d", ISCSI_CHAP_MD5);
    return iscsi_list_has(v, num);
}

static int chap_algorithm(struct iscsi_conn *conn, const char *v, struct iscsi_text *reply)
{
    struct iscsi_login *l = conn->login;
    if (l->chap_state != CHAP_WAIT_A || !list_has_md5(v))
        return chap_refuse(l, reply, "CHAP_A");
    struct mte_rng *rng = umc_rng(conn->node, "iscsi");
    l->chap_id = (uint8_t)mte_rng_next(rng);
    for (unsigned i = 0; i < ISCSI_CHAP_CHALLENGE_LEN; i++)
        l->challenge[i] = (uint8_t)mte_rng_next(rng);
    char hex[2 * ISCSI_CHAP_CHALLENGE_LEN + 3];
    iscsi_chap_encode_hex(l->challenge, ISCSI_CHAP_CHALLENGE_LEN, hex);
    iscsi_text_add_num(reply, "CHAP_A", ISCSI_CHAP_MD5);
    iscsi_text_add_num(reply, "CHAP_I", l->chap_id);
    iscsi_text_add(reply, "CHAP_C", hex);
    l->chap_state = CHAP_WAIT_R;
    return 0;
}

static int chap_hook(void *arg, struct iscsi_neg *neg, enum iscsi_key_id key, const char *v,
                     struct iscsi_text *reply)
{
    struct iscsi_conn *conn = arg;
    struct iscsi_login *l = conn->login;
    uint64_t n;
    if (key == ISCSI_KEY_AUTH_METHOD)
        return chap_auth_method(conn, v, reply);
    if (key == ISCSI_KEY_CHAP_A)
        return chap_algorithm(conn, v, reply);
    if (l->chap_state != CHAP_WAIT_R)
        return chap_refuse(l, reply, NULL);
    switch (key) {
    case ISCSI_KEY_CHAP_N:
        if (strlen(v) >= sizeof(l->chap_n))
            return chap_refuse(l, reply, NULL);
        snprintf(l->chap_n, sizeof(l->chap_n), "%s", v);
        l->has_n = true;
        return 0;
    case ISCSI_KEY_CHAP_R:
        l->chap_r_len = iscsi_chap_decode(v, l->chap_r, sizeof(l->chap_r));
        l->has_r = true;
        return 0;
    case ISCSI_KEY_CHAP_I:
        if (!iscsi_parse_number(v, 255, &n))
            return chap_refuse(l, reply, NULL);
        l->peer_i = (uint8_t)n;
        l->has_peer_i = true;
        return 0;
    case ISCSI_KEY_CHAP_C:
        l->peer_c_len = iscsi_chap_decode(v, l->peer_c, sizeof(l->peer_c));
        return l->peer_c_len > 0 ? 0 : chap_refuse(l, reply, NULL);
    default:
        return chap_refuse(l, reply, NULL);
    }
}

/* CHAP_N / CHAP_R arrived: check them, and answer the initiator's challenge. */
static unsigned chap_verify(struct iscsi_conn *conn, struct iscsi_text *reply)
{
    struct iscsi_login *l = conn->login;
    const struct iscsi_chap_cfg *c = l->chap;
    uint8_t expect[16];
    if (!l->has_n || !l->has_r || l->chap_r_len != 16)
        return ISCSI_LOGIN_AUTH_FAILED;
    iscsi_chap_response(l->chap_id, c->secret, l->challenge, ISCSI_CHAP_CHALLENGE_LEN, expect);
    if (strcmp(l->chap_n, c->user) || memcmp(expect, l->chap_r, 16))
        return ISCSI_LOGIN_AUTH_FAILED;
    if (l->has_peer_i != (l->peer_c_len > 0))
        return ISCSI_LOGIN_AUTH_FAILED;
    if (l->has_peer_i) {
        if (!c->mutual_user || (l->peer_c_len == ISCSI_CHAP_CHALLENGE_LEN &&
                                !memcmp(l->peer_c, l->challenge, ISCSI_CHAP_CHALLENGE_LEN)))
            return ISCSI_LOGIN_AUTH_FAILED;   /* no mutual account, or our own challenge reflected */
        uint8_t rsp[16];
        char hex[2 * 16 + 3];
        iscsi_chap_response(l->peer_i, c->mutual_secret, l->peer_c, (size_t)l->peer_c_len, rsp);
        iscsi_chap_encode_hex(rsp, 16, hex);
        iscsi_text_add(reply, "CHAP_N", c->mutual_user);
        iscsi_text_add(reply, "CHAP_R", hex);
    }
    l->chap_state = CHAP_DONE;
    l->auth_done = true;
    return 0;
}

/* ---- the first request: who logs in to what ----------------------------------------------------- */

static void prescan(const uint8_t *data, size_t len, char *target, char *type)
{
    struct iscsi_text_iter it;
    const char *k, *v;
    iscsi_text_iter_init(&it, (const char *)data, len);
    while (iscsi_text_next(&it, &k, &v) > 0) {
        if (!strcmp(k, "TargetName") && !target[0])
            snprintf(target, ISCSI_NAME_MAX, "%s", v);
        else if (!strcmp(k, "SessionType") && !type[0])
            snprintf(type, 16, "%s", v);
    }
}

static void set_local_limits(struct iscsi_login *l)
{
    const struct iscsi_target_params *p = &l->params;
    uint32_t *loc = l->neg.local;
    loc[ISCSI_KEY_HEADER_DIGEST] = (p->header_digest_crc32c ? ISCSI_DIGEST_CRC32C : 0) |
                                   (p->header_digest_none ? ISCSI_DIGEST_NONE : 0);
    loc[ISCSI_KEY_DATA_DIGEST] = (p->data_digest_crc32c ? ISCSI_DIGEST_CRC32C : 0) |
                                 (p->data_digest_none ? ISCSI_DIGEST_NONE : 0);
    loc[ISCSI_KEY_MAX_CONNECTIONS] = p->max_connections;
    loc[ISCSI_KEY_INITIAL_R2T] = p->initial_r2t;
    loc[ISCSI_KEY_IMMEDIATE_DATA] = p->immediate_data;
    loc[ISCSI_KEY_MAX_RECV_DSL] = p->max_recv_data_segment_length;
    loc[ISCSI_KEY_MAX_BURST] = p->max_burst_length;
    loc[ISCSI_KEY_FIRST_BURST] = p->first_burst_length;
    loc[ISCSI_KEY_TIME2WAIT] = p->default_time2wait;
    loc[ISCSI_KEY_TIME2RETAIN] = p->default_time2retain;
    loc[ISCSI_KEY_MAX_OUTSTANDING_R2T] = p->max_outstanding_r2t;
    loc[ISCSI_KEY_DATA_PDU_IN_ORDER] = 1;
    loc[ISCSI_KEY_DATA_SEQ_IN_ORDER] = 1;
    loc[ISCSI_KEY_ERL] = 0;
    loc[ISCSI_KEY_PROTOCOL_LEVEL] = 1;
}

static void login_start(struct iscsi_conn *conn, const uint8_t *bhs)
{
    struct iscsi_login *l = conn->login;
    l->started = true;
    l->isid = iscsi_hdr_isid(bhs);
    l->tsih = iscsi_hdr_tsih(bhs);
    l->cid = iscsi_get16(bhs, ISCSI_OFF_CID);
    l->cmdsn = iscsi_get32(bhs, ISCSI_OFF_CMDSN);
    l->neg.non_leading = l->tsih != 0;
    l->stage = ISCSI_LOGIN_CSG(bhs[1]);
    conn->stat_sn = (uint32_t)mte_rng_next(umc_rng(conn->node, "iscsi"));
}

/* The first complete request text: which target, which limits, which CHAP. */
static int login_setup(struct iscsi_conn *conn, const char *data, size_t dlen)
{
    struct iscsi_login *l = conn->login;
    struct iscsi_server *srv = conn->srv;
    char target[ISCSI_NAME_MAX] = "", type[16] = "";
    l->setup_done = true;
    prescan((const uint8_t *)data, dlen, target, type);
    bool discovery = !strcmp(type, "Discovery");
    if (type[0] && !discovery && strcmp(type, "Normal"))
        return login_fail(conn, ISCSI_LOGIN_SESSION_TYPE, type);
    if (!discovery && !target[0])
        return login_fail(conn, ISCSI_LOGIN_MISSING_PARAMETER, "no TargetName");
    iscsi_resolve_params(srv, discovery ? NULL : target, &l->params);
    l->window = l->params.queued_commands;
    set_local_limits(l);
    l->chap = iscsi_chap_for(srv, discovery ? NULL : target);
    l->auth_required = l->chap && l->chap->user;
    return 0;
}

/* After the first request's keys: the initiator's name and the target's visibility. */
static int check_names(struct iscsi_conn *conn)
{
    struct iscsi_login *l = conn->login;
    if (!l->neg.initiator_name[0])
        return login_fail(conn, ISCSI_LOGIN_MISSING_PARAMETER, "no InitiatorName");
    if (l->neg.discovery)
        return 0;
    if (!iscsi_target_exists(conn->srv, l->neg.target_name))
        return login_fail(conn, ISCSI_LOGIN_NOT_FOUND, l->neg.target_name);
    if (!scst_target_visible(conn->srv->core, l->neg.target_name, l->neg.initiator_name))
        return login_fail(conn, ISCSI_LOGIN_FORBIDDEN, l->neg.target_name);
    return 0;
}

/* ---- completing the login ------------------------------------------------------------------------- */

static unsigned count_target_sessions(struct iscsi_server *srv, const char *target)
{
    unsigned n = 0;
    for (struct iscsi_session *s = srv->sessions; s; s = s->next)
        n += !s->discovery && !strcmp(s->target, target);
    return n;
}

/* A login naming a live session (TSIH != 0): with the CID of the session's
 * connection it replaces that connection (RFC 7143 6.3.4, which targets
 * SHOULD support at ERL 0); any other CID would be a second connection,
 * and MaxConnections is 1.  0 or a login status. */
static unsigned join_session(struct iscsi_conn *conn, const char *target, const char **why)
{
    struct iscsi_login *l = conn->login;
    struct iscsi_session *s = iscsi_session_by_tsih(conn->srv, l->tsih);
    *why = "no session with that TSIH";
    if (!s || s->ending || !s->conn || s->isid != l->isid || s->discovery != l->neg.discovery ||
        strcmp(s->initiator, l->neg.initiator_name) || (target && strcmp(s->target, target)))
        return ISCSI_LOGIN_NO_SESSION;
    *why = "the session has its one connection (MaxConnections=1)";
    if (s->conn->cid != l->cid)
        return ISCSI_LOGIN_TOO_MANY_CONNECTIONS;
    umc_info(conn->node, ISCSI_COMP, "session %u of %s: connection %u reinstated", s->tsih,
             s->initiator, l->cid);
    iscsi_session_replace_conn(s, conn, l->cmdsn);
    return 0;
}

/* Find or make the session this connection leads; 0 or a login status. */
static unsigned attach_session(struct iscsi_conn *conn, const char **why)
{
    struct iscsi_login *l = conn->login;
    struct iscsi_server *srv = conn->srv;
    const char *target = l->neg.discovery ? NULL : l->neg.target_name;
    if (l->tsih)
        return join_session(conn, target, why);
    struct iscsi_session *old =
        iscsi_session_find(srv, l->neg.initiator_name, target, l->isid, l->neg.discovery);
    if (old && old->conn)
        iscsi_conn_drop(old->conn, "session reinstated");
    if (target && l->params.max_sessions &&
        count_target_sessions(srv, target) >= l->params.max_sessions) {
        *why = "MaxSessions reached";
        return ISCSI_LOGIN_OUT_OF_RESOURCES;
    }
    struct iscsi_session *s = iscsi_session_new(srv, &l->neg, l->isid, &l->params);
    if (!target)
        goto attached;
    char port[ISCSI_NAME_MAX + 32];
    int err = 0;
    snprintf(port, sizeof(port), "%s,i,0x%012llx", l->neg.initiator_name,
             (unsigned long long)l->isid);
    s->scst = scst_session_new(srv->core, target, l->neg.initiator_name, port, ISCSI_TPGT, &err);
    if (!s->scst) {
        iscsi_session_end(s);
        *why = "the SCSI core refused the nexus";
        return err == -ENOENT ? ISCSI_LOGIN_NOT_FOUND
             : err == -EACCES ? ISCSI_LOGIN_FORBIDDEN : ISCSI_LOGIN_TARGET_ERROR;
    }
attached:
    s->exp_cmdsn = l->cmdsn;
    s->max_cmdsn = l->cmdsn + s->window - 1;
    s->conn = conn;
    conn->sess = s;
    l->tsih = s->tsih;
    return 0;
}

static void apply_negotiated(struct iscsi_conn *conn)
{
    struct iscsi_login *l = conn->login;
    struct iscsi_session *s = conn->sess;
    const uint32_t *v = l->neg.value;
    conn->params = l->params;
    conn->cid = l->cid;
    conn->max_recv_dsl = l->params.max_recv_data_segment_length;
    conn->max_xmit_dsl = l->neg.peer_max_recv_dsl < l->params.max_xmit_data_segment_length
                             ? l->neg.peer_max_recv_dsl
                             : l->params.max_xmit_data_segment_length;
    s->header_digest = v[ISCSI_KEY_HEADER_DIGEST] == ISCSI_DIGEST_CRC32C;   /* from the next PDU on */
    s->data_digest = v[ISCSI_KEY_DATA_DIGEST] == ISCSI_DIGEST_CRC32C;
    if (l->neg.non_leading)
        return;                          /* the session-wide values were set by its first login */
    s->initial_r2t = v[ISCSI_KEY_INITIAL_R2T];
    s->immediate_data = v[ISCSI_KEY_IMMEDIATE_DATA];
    s->max_burst = v[ISCSI_KEY_MAX_BURST];
    s->first_burst = v[ISCSI_KEY_FIRST_BURST];
    s->max_outstanding_r2t = v[ISCSI_KEY_MAX_OUTSTANDING_R2T];
    s->time2wait = v[ISCSI_KEY_TIME2WAIT];
    s->time2retain = v[ISCSI_KEY_TIME2RETAIN];
}

static int login_complete(struct iscsi_conn *conn)
{
    const char *why = "";
    unsigned status = attach_session(conn, &why);
    if (status)
        return login_fail(conn, status, why);
    iscsi_neg_finish(&conn->login->neg);
    apply_negotiated(conn);
    struct iscsi_session *s = conn->sess;
    umc_info(conn->node, ISCSI_COMP, "%s session %u of %s to %s (digests %s/%s)",
             s->discovery ? "discovery" : "normal", s->tsih, s->initiator,
             s->discovery ? "discovery" : s->target, s->header_digest ? "crc32c" : "none",
             s->data_digest ? "crc32c" : "none");
    return 0;
}

/* ---- one request ------------------------------------------------------------------------------------ */

static unsigned neg_error_status(struct iscsi_login *l, int err)
{
    if (err == ISCSI_NEG_SPECIAL && l->fail_status)
        return l->fail_status;
    if (err == ISCSI_NEG_REJECTED && l->neg.error_key && !strcmp(l->neg.error_key, "SessionType"))
        return ISCSI_LOGIN_SESSION_TYPE;
    return ISCSI_LOGIN_INITIATOR_ERROR;
}

static bool may_transit(struct iscsi_login *l, unsigned csg)
{
    if (csg == ISCSI_STAGE_SECURITY)
        return l->auth_done || (!l->auth_required && l->chap_state == CHAP_NONE);
    return !iscsi_neg_waiting(&l->neg);
}

/* Negotiate the complete request text and answer it. */
static int login_answer(struct iscsi_conn *conn, const uint8_t *bhs, const char *text, size_t len)
{
    struct iscsi_login *l = conn->login;
    unsigned csg = ISCSI_LOGIN_CSG(bhs[1]), nsg = ISCSI_LOGIN_NSG(bhs[1]);
    bool first = !l->setup_done;
    if (first && login_setup(conn, text, len) < 0)
        return -1;
    l->rsp.len = 0;
    l->rsp_off = 0;
    int err = iscsi_neg_recv(&l->neg, (enum iscsi_stage)csg, text, len, &l->rsp);
    if (err)
        return login_fail(conn, neg_error_status(l, err), l->neg.error_key ? l->neg.error_key : "keys");
    if (first && check_names(conn) < 0)
        return -1;
    if (csg == ISCSI_STAGE_SECURITY && l->chap_state == CHAP_WAIT_R && (l->has_n || l->has_r)) {
        unsigned st = chap_verify(conn, &l->rsp);
        if (st)
            return login_fail(conn, st, "CHAP response");
    }
    if (csg == ISCSI_STAGE_OPERATIONAL && l->auth_required && !l->auth_done)
        return login_fail(conn, ISCSI_LOGIN_AUTH_FAILED, "authentication skipped");
    if (!l->sent_tpgt && !l->neg.discovery) {
        iscsi_text_add_num(&l->rsp, "TargetPortalGroupTag", ISCSI_TPGT);
        l->sent_tpgt = true;
    }
    bool transit = (bhs[1] & ISCSI_LOGIN_T) && may_transit(l, csg);
    if (csg == ISCSI_STAGE_OPERATIONAL || (transit && nsg == ISCSI_STAGE_FFP))
        iscsi_neg_declare_mrdsl(&l->neg, &l->rsp);
    l->rsp_flags = (uint8_t)(csg << 2 | (transit ? ISCSI_LOGIN_T | nsg : 0));
    if (transit && nsg == ISCSI_STAGE_FFP && login_complete(conn) < 0)
        return -1;
    if (transit)
        l->stage = (enum iscsi_stage)nsg;
    send_rsp_chunk(conn);
    if (transit && nsg == ISCSI_STAGE_FFP && l->rsp_off == l->rsp.len) {
        iscsi_login_free(conn);
        iscsi_conn_enter_ffp(conn);
    }
    return 0;
}

static int check_request(struct iscsi_conn *conn, const uint8_t *bhs)
{
    struct iscsi_login *l = conn->login;
    unsigned csg = ISCSI_LOGIN_CSG(bhs[1]), nsg = ISCSI_LOGIN_NSG(bhs[1]);
    bool transit = bhs[1] & ISCSI_LOGIN_T, cont = bhs[1] & ISCSI_TEXT_C;
    if (!iscsi_hdr_immediate(bhs))
        return login_fail(conn, ISCSI_LOGIN_INITIATOR_ERROR, "login request without the I bit");
    if (csg == 2 || csg == ISCSI_STAGE_FFP || csg != l->stage)
        return login_fail(conn, ISCSI_LOGIN_INITIATOR_ERROR, "wrong current stage");
    if (transit && (cont || nsg == 2 || nsg <= csg))
        return login_fail(conn, ISCSI_LOGIN_INITIATOR_ERROR, "invalid stage transition");
    if (iscsi_hdr_isid(bhs) != l->isid || iscsi_hdr_tsih(bhs) != l->tsih)
        return login_fail(conn, ISCSI_LOGIN_INITIATOR_ERROR, "ISID or TSIH changed during login");
    return 0;
}

/* Keep a continued (C bit) request until its last PDU. */
static int accumulate(struct iscsi_conn *conn, const uint8_t *data, uint32_t dlen)
{
    struct iscsi_login *l = conn->login;
    if (l->req_len + dlen > ISCSI_TEXT_MAX)
        return login_fail(conn, ISCSI_LOGIN_INITIATOR_ERROR, "login text too long");
    l->req = umc_realloc(conn->node, l->req, l->req_len + dlen + 1);
    memcpy(l->req + l->req_len, data, dlen);
    l->req_len += dlen;
    return 0;
}

int iscsi_login_pdu(struct iscsi_conn *conn, const uint8_t *bhs, const uint8_t *data, uint32_t dlen)
{
    struct iscsi_login *l = conn->login;
    bool first = !l->started;
    if (first) {
        login_start(conn, bhs);
        if (bhs[3] > 0 || bhs[2] < bhs[3])       /* VersionMin above 0: we speak only 0 */
            return login_fail(conn, ISCSI_LOGIN_UNSUPPORTED_VERSION, "version");
    }
    l->itt = iscsi_hdr_itt(bhs);
    if (check_request(conn, bhs) < 0)
        return -1;
    if (!first && l->rsp_off < l->rsp.len) {         /* the initiator asks for more of ours */
        if (dlen)
            return login_fail(conn, ISCSI_LOGIN_INITIATOR_ERROR, "text while our answer continues");
        send_rsp_chunk(conn);
        if (l->rsp_off == l->rsp.len && l->stage == ISCSI_STAGE_FFP) {
            iscsi_login_free(conn);
            iscsi_conn_enter_ffp(conn);
        }
        return 0;
    }
    if (bhs[1] & ISCSI_TEXT_C) {
        if (accumulate(conn, data, dlen) < 0)
            return -1;
        uint8_t h[ISCSI_BHS_LEN];
        login_header(conn, h, (uint8_t)(ISCSI_LOGIN_CSG(bhs[1]) << 2), ISCSI_LOGIN_OK);
        iscsi_send_pdu(conn, h, NULL, 0);
        return 0;
    }
    if (l->req_len) {
        if (accumulate(conn, data, dlen) < 0)
            return -1;
        int r = login_answer(conn, bhs, l->req, l->req_len);
        if (conn->login) {
            umc_free(conn->node, l->req);
            l->req = NULL;
            l->req_len = 0;
        }
        return r;
    }
    return login_answer(conn, bhs, (const char *)data, dlen);
}

void iscsi_login_reject_pdu(struct iscsi_conn *conn, const uint8_t *bhs)
{
    struct iscsi_login *l = conn->login;
    if (!l->started) {       /* not even a login: nothing to answer to */
        iscsi_conn_drop(conn, "PDU before login");
        return;
    }
    if (iscsi_hdr_opcode(bhs) == ISCSI_OP_LOGIN_REQ)   /* too long, or with an AHS */
        login_fail(conn, ISCSI_LOGIN_INITIATOR_ERROR, "malformed login request");
    else
        login_fail(conn, ISCSI_LOGIN_INVALID_DURING_LOGIN, iscsi_opcode_name(iscsi_hdr_opcode(bhs)));
}
