/* The initiator library: connection, login (security with CHAP, operational
 * negotiation), PDU reading and transmit.  Commands live in iscsi_ini_io.c. */
#include <errno.h>
#include <stdio.h>

#include "iscsi/iscsi_ini_internal.h"

static void login_send(struct iscsi_ini *ini, bool transit, unsigned nsg, const struct iscsi_text *t);

/* ---- transmit ---------------------------------------------------------------------------- */

#define TX_SLOT 64u

void ini_tx_begin(struct iscsi_ini *ini, unsigned npdu)
{
    size_t need = (size_t)npdu * TX_SLOT;
    if (ini->tx_cap < need) {
        umc_free(ini->node, ini->tx);
        ini->tx = umc_alloc(ini->node, need);
        ini->tx_cap = need;
    }
    if (ini->iov_cap < 3 * npdu) {
        umc_free(ini->node, ini->iov);
        ini->iov = umc_alloc(ini->node, 3 * npdu * sizeof(struct iovec));
        ini->iov_cap = 3 * npdu;
    }
    ini->tx_used = 0;
    ini->iov_cnt = 0;
}

static uint8_t *tx_scratch(struct iscsi_ini *ini, size_t len)
{
    uint8_t *p = ini->tx + ini->tx_used;
    struct iovec *last = ini->iov_cnt ? &ini->iov[ini->iov_cnt - 1] : NULL;
    if (last && (uint8_t *)last->iov_base + last->iov_len == p)
        last->iov_len += len;
    else
        ini->iov[ini->iov_cnt++] = (struct iovec){p, len};
    ini->tx_used += len;
    return p;
}

void ini_tx_pdu(struct iscsi_ini *ini, uint8_t *bhs, const void *data, uint32_t dlen)
{
    if (ini->tx_used + TX_SLOT > ini->tx_cap || ini->iov_cnt + 3 > ini->iov_cap)
        ini_tx_send(ini);                        /* more PDUs than begun for: flush */
    bool hd = ini->digests_on && ini->header_digest;
    bool dd = ini->digests_on && ini->data_digest;
    iscsi_hdr_set_dlen(bhs, dlen);
    uint8_t *h = tx_scratch(ini, ISCSI_BHS_LEN + (hd ? ISCSI_DIGEST_LEN : 0));
    memcpy(h, bhs, ISCSI_BHS_LEN);
    if (hd)
        iscsi_put_digest(h + ISCSI_BHS_LEN, umc_crc32c(h, ISCSI_BHS_LEN));
    if (!dlen)
        return;
    ini->iov[ini->iov_cnt++] = (struct iovec){(void *)data, dlen};
    uint32_t pad = iscsi_pad4(dlen);
    if (!pad && !dd)
        return;
    uint8_t *t = tx_scratch(ini, pad + (dd ? ISCSI_DIGEST_LEN : 0));
    memset(t, 0, pad);
    if (dd) {
        uint32_t crc = umc_crc32c_update(UMC_CRC32C_INIT, data, dlen);
        crc = umc_crc32c_update(crc, t, pad);
        iscsi_put_digest(t + pad, umc_crc32c_final(crc));
    }
}

void ini_tx_send(struct iscsi_ini *ini)
{
    if (ini->uc && ini->iov_cnt)
        umc_conn_send(ini->uc, ini->iov, ini->iov_cnt);
    ini->iov_cnt = 0;
    ini->tx_used = 0;
}

/* ---- login outcome -------------------------------------------------------------------------- */

static int status_errno(unsigned status)
{
    switch (status) {
    case ISCSI_LOGIN_AUTH_FAILED: case ISCSI_LOGIN_FORBIDDEN: return -EACCES;
    case ISCSI_LOGIN_NOT_FOUND: case ISCSI_LOGIN_TARGET_REMOVED: return -ENOENT;
    case ISCSI_LOGIN_UNSUPPORTED_VERSION: return -EPROTONOSUPPORT;
    default: return (status >> 8) == 3 ? -EAGAIN : -EPROTO;
    }
}

static void close_conn(struct iscsi_ini *ini)
{
    if (ini->uc) {
        umc_conn_close(ini->uc);
        ini->uc = NULL;
    }
    umc_free(ini->node, ini->login_rsp);
    ini->login_rsp = NULL;
    ini->login_rsp_len = 0;
}

static void login_finish(struct iscsi_ini *ini, int rc, const char *msg)
{
    iscsi_ini_login_fn done = ini->login_done;
    void *arg = ini->login_arg;
    umc_timer_cancel(ini->node, &ini->login_timer);
    ini->login_done = NULL;
    if (rc) {
        umc_warn(ini->node, INI_COMP, "login to %s failed: %s", ini->portal, msg);
        close_conn(ini);
        ini->state = INI_IDLE;
    }
    if (done)
        done(arg, rc, msg);
}

static void login_failf(struct iscsi_ini *ini, int rc, const char *fmt, const char *what)
{
    char msg[160];
    snprintf(msg, sizeof(msg), fmt, what);
    login_finish(ini, rc, msg);
}

/* Any failure of the connection: login fails, or every task fails. */
void ini_fail_connection(struct iscsi_ini *ini, int err, const char *why)
{
    if (ini->state == INI_LOGIN || ini->state == INI_CONNECTING) {
        login_failf(ini, err, "%s", why);
        return;
    }
    if (ini->state == INI_DEAD || ini->state == INI_IDLE)
        return;
    umc_info(ini->node, INI_COMP, "connection to %s lost: %s", ini->portal, why);
    ini->state = INI_DEAD;
    close_conn(ini);
    ini_fail_all(ini, err);
}

/* ---- login: keys we send ------------------------------------------------------------------------ */

static void set_local_limits(struct iscsi_ini *ini)
{
    uint32_t *loc = ini->neg.local;
    loc[ISCSI_KEY_HEADER_DIGEST] = ini->want_header_digest ? ISCSI_DIGEST_CRC32C : ISCSI_DIGEST_NONE;
    loc[ISCSI_KEY_DATA_DIGEST] = ini->want_data_digest ? ISCSI_DIGEST_CRC32C : ISCSI_DIGEST_NONE;
    loc[ISCSI_KEY_MAX_RECV_DSL] = ini->my_max_recv_dsl;
    loc[ISCSI_KEY_MAX_BURST] = ini->my_max_burst;
    loc[ISCSI_KEY_FIRST_BURST] = ini->my_first_burst;
    loc[ISCSI_KEY_INITIAL_R2T] = ini->want_initial_r2t;
    loc[ISCSI_KEY_IMMEDIATE_DATA] = ini->want_immediate_data;
    loc[ISCSI_KEY_MAX_OUTSTANDING_R2T] = 8;
    loc[ISCSI_KEY_TIME2RETAIN] = 0;
}

static void offer_operational(struct iscsi_ini *ini, struct iscsi_text *t)
{
    static const enum iscsi_key_id normal_keys[] = {
        ISCSI_KEY_INITIAL_R2T, ISCSI_KEY_IMMEDIATE_DATA, ISCSI_KEY_MAX_BURST, ISCSI_KEY_FIRST_BURST,
        ISCSI_KEY_MAX_CONNECTIONS, ISCSI_KEY_MAX_OUTSTANDING_R2T, ISCSI_KEY_DATA_PDU_IN_ORDER,
        ISCSI_KEY_DATA_SEQ_IN_ORDER,
    };
    iscsi_neg_offer(&ini->neg, ISCSI_KEY_HEADER_DIGEST, t);
    iscsi_neg_offer(&ini->neg, ISCSI_KEY_DATA_DIGEST, t);
    iscsi_neg_declare_mrdsl(&ini->neg, t);
    iscsi_neg_offer(&ini->neg, ISCSI_KEY_TIME2WAIT, t);
    iscsi_neg_offer(&ini->neg, ISCSI_KEY_TIME2RETAIN, t);
    iscsi_neg_offer(&ini->neg, ISCSI_KEY_ERL, t);
    if (!ini->target)
        return;                                  /* the rest is irrelevant to discovery */
    for (size_t i = 0; i < sizeof(normal_keys) / sizeof(normal_keys[0]); i++)
        iscsi_neg_offer(&ini->neg, normal_keys[i], t);
}

static void start_operational(struct iscsi_ini *ini, const struct iscsi_text *answers)
{
    char buf[2048];
    struct iscsi_text t = {.buf = buf, .cap = sizeof(buf)};
    if (answers && answers->len) {
        memcpy(buf, answers->buf, answers->len);
        t.len = answers->len;
    }
    ini->stage = ISCSI_STAGE_OPERATIONAL;
    offer_operational(ini, &t);
    login_send(ini, true, ISCSI_STAGE_FFP, &t);
}

static void send_chap_response(struct iscsi_ini *ini, struct iscsi_text *t)
{
    uint8_t rsp[16];
    char hex[2 * ISCSI_CHAP_BIN_MAX + 3];
    iscsi_chap_response(ini->chap_id, ini->chap_secret, ini->chap_challenge,
                        (size_t)ini->chap_challenge_len, rsp);
    iscsi_chap_encode_hex(rsp, 16, hex);
    iscsi_text_add(t, "CHAP_N", ini->chap_user);
    iscsi_text_add(t, "CHAP_R", hex);
    if (ini->mutual_user) {
        struct mte_rng *rng = umc_rng(ini->node, "iscsi");
        ini->my_chap_id = (uint8_t)mte_rng_next(rng);
        for (unsigned i = 0; i < ISCSI_CHAP_CHALLENGE_LEN; i++)
            ini->my_challenge[i] = (uint8_t)mte_rng_next(rng);
        iscsi_text_add_num(t, "CHAP_I", ini->my_chap_id);
        iscsi_chap_encode_hex(ini->my_challenge, ISCSI_CHAP_CHALLENGE_LEN, hex);
        iscsi_text_add(t, "CHAP_C", hex);
    }
    ini->chap_answered = true;
}

static int chap_check(struct iscsi_ini *ini, enum iscsi_key_id key, const char *v);

/* The target's CHAP and AuthMethod keys; a bad one names itself. */
static int chap_hook(void *arg, struct iscsi_neg *neg, enum iscsi_key_id key, const char *v,
                     struct iscsi_text *reply)
{
    int r = chap_check(arg, key, v);
    if (r)
        neg->error_key = iscsi_key_name(key);
    return r;
}

static int chap_check(struct iscsi_ini *ini, enum iscsi_key_id key, const char *v)
{
    uint64_t n;
    uint8_t got[ISCSI_CHAP_BIN_MAX], expect[16];
    switch (key) {
    case ISCSI_KEY_AUTH_METHOD:
        if (!strcmp(v, "None") && !ini->chap_user)
            ini->auth_ok = true;
        else if (strcmp(v, "CHAP") || !ini->chap_user)
            return ISCSI_NEG_BAD_ANSWER;
        return 0;
    case ISCSI_KEY_CHAP_A:
        return strcmp(v, "5") ? ISCSI_NEG_BAD_ANSWER : 0;
    case ISCSI_KEY_CHAP_I:
        if (!iscsi_parse_number(v, 255, &n))
            return ISCSI_NEG_BAD_ANSWER;
        ini->chap_id = (uint8_t)n;
        return 0;
    case ISCSI_KEY_CHAP_C:
        ini->chap_challenge_len = iscsi_chap_decode(v, ini->chap_challenge, sizeof(ini->chap_challenge));
        ini->have_chap_challenge = ini->chap_challenge_len > 0;
        return ini->have_chap_challenge ? 0 : ISCSI_NEG_BAD_ANSWER;
    case ISCSI_KEY_CHAP_N:
        return ini->mutual_user && !strcmp(v, ini->mutual_user) ? 0 : ISCSI_NEG_BAD_ANSWER;
    case ISCSI_KEY_CHAP_R:
        if (!ini->mutual_user || iscsi_chap_decode(v, got, sizeof(got)) != 16)
            return ISCSI_NEG_BAD_ANSWER;
        iscsi_chap_response(ini->my_chap_id, ini->mutual_secret, ini->my_challenge,
                            ISCSI_CHAP_CHALLENGE_LEN, expect);
        if (memcmp(got, expect, 16))
            return ISCSI_NEG_BAD_ANSWER;
        ini->mutual_checked = true;
        return 0;
    default:
        return ISCSI_NEG_NOT_ALLOWED;
    }
}

static void start_security(struct iscsi_ini *ini)
{
    char buf[1024];
    struct iscsi_text t = {.buf = buf, .cap = sizeof(buf)};
    iscsi_text_add(&t, "InitiatorName", ini->initiator);
    if (ini->target) {
        iscsi_text_add(&t, "TargetName", ini->target);
        iscsi_text_add(&t, "SessionType", "Normal");
    } else {
        iscsi_text_add(&t, "SessionType", "Discovery");
    }
    iscsi_text_add(&t, "AuthMethod", ini->chap_user ? "CHAP" : "None");
    ini->stage = ISCSI_STAGE_SECURITY;
    login_send(ini, true, ISCSI_STAGE_OPERATIONAL, &t);
}

/* ---- login: PDUs ------------------------------------------------------------------------------- */

static void login_send(struct iscsi_ini *ini, bool transit, unsigned nsg, const struct iscsi_text *t)
{
    uint8_t h[ISCSI_BHS_LEN];
    iscsi_hdr_init(h, ISCSI_OP_LOGIN_REQ | ISCSI_OP_IMMEDIATE,
                   (uint8_t)((transit ? ISCSI_LOGIN_T | nsg : 0) | ini->stage << 2));
    iscsi_hdr_set_isid_tsih(h, ini->isid, ini->tsih);
    iscsi_put32(h, ISCSI_OFF_ITT, ini->login_itt);
    iscsi_put16(h, ISCSI_OFF_CID, ini->cid);
    iscsi_put32(h, ISCSI_OFF_CMDSN, ini->cmdsn);
    iscsi_put32(h, ISCSI_OFF_EXPSTATSN, ini->exp_statsn);
    ini_tx_begin(ini, 1);
    ini_tx_pdu(ini, h, t ? t->buf : NULL, t ? (uint32_t)t->len : 0);
    ini_tx_send(ini);
}

static void enter_ffp(struct iscsi_ini *ini, const uint8_t *bhs)
{
    const uint32_t *v = ini->neg.value;
    iscsi_neg_finish(&ini->neg);
    ini->tsih = iscsi_hdr_tsih(bhs);
    ini->header_digest = v[ISCSI_KEY_HEADER_DIGEST] == ISCSI_DIGEST_CRC32C;
    ini->data_digest = v[ISCSI_KEY_DATA_DIGEST] == ISCSI_DIGEST_CRC32C;
    if (ini->header_digest != ini->want_header_digest || ini->data_digest != ini->want_data_digest) {
        login_failf(ini, -EPROTO, "%s", "the target refused the digests asked for");
        return;
    }
    ini->immediate_data = v[ISCSI_KEY_IMMEDIATE_DATA];
    ini->initial_r2t = v[ISCSI_KEY_INITIAL_R2T];
    ini->first_burst = v[ISCSI_KEY_FIRST_BURST];
    ini->max_burst = v[ISCSI_KEY_MAX_BURST];
    ini->max_outstanding_r2t = v[ISCSI_KEY_MAX_OUTSTANDING_R2T];
    ini->max_xmit_dsl = ini->neg.peer_max_recv_dsl;
    ini->state = INI_FFP;
    ini->digests_on = true;
    ini->rx.header_digest = ini->header_digest;
    ini->rx.data_digest = ini->data_digest;
    umc_info(ini->node, INI_COMP, "logged in to %s at %s (tsih %u)",
             ini->target ? ini->target : "discovery", ini->portal, ini->tsih);
    login_finish(ini, 0, NULL);
    ini_send_queued(ini);
}

static void security_next(struct iscsi_ini *ini, const struct iscsi_text *answers)
{
    char buf[4096];
    struct iscsi_text t = {.buf = buf, .cap = sizeof(buf)};
    if (answers->len) {
        memcpy(buf, answers->buf, answers->len);
        t.len = answers->len;
    }
    bool transit = true;
    if (ini->chap_user && !ini->chap_sent_a) {
        iscsi_text_add(&t, "CHAP_A", "5");
        ini->chap_sent_a = true;
        transit = false;
    } else if (ini->have_chap_challenge && !ini->chap_answered) {
        send_chap_response(ini, &t);
    }
    login_send(ini, transit, ISCSI_STAGE_OPERATIONAL, &t);
}

/* A complete response text (after any continuation) of the current stage. */
static void login_step(struct iscsi_ini *ini, const uint8_t *bhs, const char *text, size_t len)
{
    char buf[4096];
    struct iscsi_text answers = {.buf = buf, .cap = sizeof(buf)};
    int err = iscsi_neg_recv(&ini->neg, (enum iscsi_stage)ini->stage, text, len, &answers);
    if (err) {
        for (size_t i = 0; i < len; i += strlen(text + i) + 1)
            umc_debug(ini->node, INI_COMP, "login answer: %s", text + i);
        char what[96];
        snprintf(what, sizeof(what), "%s, error %d", ini->neg.error_key ? ini->neg.error_key : "keys",
                 err);
        login_failf(ini, -EPROTO, "bad answer from the target (%s)", what);
        return;
    }
    if (++ini->login_rounds > 16) {
        login_failf(ini, -EPROTO, "%s", "login does not converge");
        return;
    }
    bool transit = bhs[1] & ISCSI_LOGIN_T;
    unsigned nsg = ISCSI_LOGIN_NSG(bhs[1]);
    if (transit && nsg == ISCSI_STAGE_FFP) {
        if (ini->mutual_user && !ini->mutual_checked)
            login_failf(ini, -EACCES, "%s", "the target did not authenticate itself");
        else
            enter_ffp(ini, bhs);
        return;
    }
    if (ini->stage == ISCSI_STAGE_SECURITY && transit) {
        if (ini->mutual_user && !ini->mutual_checked) {
            login_failf(ini, -EACCES, "%s", "the target did not authenticate itself");
            return;
        }
        start_operational(ini, &answers);
        return;
    }
    if (ini->stage == ISCSI_STAGE_SECURITY)
        security_next(ini, &answers);
    else
        login_send(ini, true, ISCSI_STAGE_FFP, &answers);
}

static void login_response(struct iscsi_ini *ini, const uint8_t *bhs, const uint8_t *data, uint32_t dlen)
{
    unsigned status = iscsi_get16(bhs, ISCSI_OFF_LOGIN_STATUS);
    if (status) {
        char msg[128];
        snprintf(msg, sizeof(msg), "login refused: status 0x%04x (%s)", status,
                 iscsi_login_status_name(status));
        login_finish(ini, status_errno(status), msg);
        return;
    }
    if (iscsi_hdr_itt(bhs) != ini->login_itt || iscsi_hdr_isid(bhs) != ini->isid ||
        ISCSI_LOGIN_CSG(bhs[1]) != ini->stage) {
        login_failf(ini, -EPROTO, "%s", "login response does not match the request");
        return;
    }
    ini->exp_statsn = iscsi_get32(bhs, ISCSI_OFF_STATSN) + 1;
    ini->exp_cmdsn = iscsi_get32(bhs, ISCSI_OFF_EXPCMDSN);
    ini->max_cmdsn = iscsi_get32(bhs, ISCSI_OFF_MAXCMDSN);
    if (dlen) {
        ini->login_rsp = umc_realloc(ini->node, ini->login_rsp, ini->login_rsp_len + dlen);
        memcpy(ini->login_rsp + ini->login_rsp_len, data, dlen);
        ini->login_rsp_len += dlen;
    }
    if (bhs[1] & ISCSI_TEXT_C) {               /* more of the answer: ask for it */
        if (ini->login_rsp_len > 65536u) {
            login_failf(ini, -EPROTO, "%s", "login answer too long");
            return;
        }
        login_send(ini, false, 0, NULL);
        return;
    }
    char *text = ini->login_rsp;
    size_t len = ini->login_rsp_len;
    ini->login_rsp = NULL;
    ini->login_rsp_len = 0;
    login_step(ini, bhs, text ? text : "", len);
    umc_free(ini->node, text);
}

/* ---- reading ---------------------------------------------------------------------------------------- */

static int on_header(void *owner, struct iscsi_rx *rx)
{
    struct iscsi_ini *ini = owner;
    uint32_t max = ini->state == INI_LOGIN ? ISCSI_LOGIN_DSL : ini->my_max_recv_dsl;
    if (iscsi_check_target_pdu(rx->hdr, max)) {
        ini_fail_connection(ini, -EPROTO, "malformed PDU from the target");
        return -1;
    }
    if (ini->state == INI_LOGIN)
        return iscsi_hdr_opcode(rx->hdr) == ISCSI_OP_LOGIN_RSP ? 0 : -1;
    return ini_header(ini, rx->hdr);
}

static int on_pdu(void *owner, struct iscsi_rx *rx, const uint8_t *data, bool data_ok)
{
    struct iscsi_ini *ini = owner;
    if (ini->state == INI_LOGIN) {
        login_response(ini, rx->hdr, data, rx->dlen);
        return ini->state == INI_LOGIN || ini->state == INI_FFP ? 0 : -1;
    }
    if (ini->state != INI_FFP && ini->state != INI_LOGGING_OUT)
        return -1;
    return ini_pdu(ini, rx->hdr, data, data_ok);
}

static long on_read(void *owner, void *buf, size_t len)
{
    struct iscsi_ini *ini = owner;
    return ini->uc ? (long)umc_conn_read(ini->uc, buf, len) : 0;
}

static void *rx_alloc(void *owner, size_t size) { return umc_alloc(((struct iscsi_ini *)owner)->node, size); }
static void rx_free(void *owner, void *p) { umc_free(((struct iscsi_ini *)owner)->node, p); }

static const struct iscsi_rx_ops rx_ops = {
    .on_header = on_header, .on_pdu = on_pdu, .read = on_read, .alloc = rx_alloc, .free = rx_free,
};

static void on_readable(struct umc_conn *uc, void *arg)
{
    struct iscsi_ini *ini = arg;
    ini->in_rx++;
    int r = iscsi_rx_pump(&ini->rx);
    ini->in_rx--;
    if (r == -EBADMSG)
        ini_fail_connection(ini, -EIO, "header digest error");
    else if (r < 0 && ini->uc)
        ini_fail_connection(ini, -EPROTO, "protocol error");
    if (ini->free_pending && !ini->in_rx)
        ini_release(ini);
}

static void on_connect(struct umc_conn *uc, void *arg)
{
    struct iscsi_ini *ini = arg;
    ini->state = INI_LOGIN;
    iscsi_rx_init(&ini->rx, &rx_ops, ini, ini->rxbuf);
    start_security(ini);
}

static void on_close(struct umc_conn *uc, int err, void *arg)
{
    struct iscsi_ini *ini = arg;
    if (ini->state == INI_LOGGING_OUT) {
        close_conn(ini);
        ini->state = INI_IDLE;
        ini_fail_all(ini, 0);                    /* the logout itself completes */
        return;
    }
    ini_fail_connection(ini, err ? err : -ECONNRESET, err ? "connection reset" : "connection closed");
}

static const struct umc_conn_ops conn_ops = {
    .on_connect = on_connect, .on_readable = on_readable, .on_close = on_close,
};

/* ---- the public life cycle --------------------------------------------------------------------------- */

static char *dup_opt(struct umc_node *n, const char *s) { return s ? umc_strdup(n, s) : NULL; }

static void login_timer_fired(void *arg)
{
    struct iscsi_ini *ini = arg;
    int rc = ini->login_pending_rc;
    ini->login_pending_rc = 0;
    if (rc)
        login_finish(ini, rc, "a session is already open");
    else
        ini_fail_connection(ini, -ETIMEDOUT, "login timed out");
}

struct iscsi_ini *iscsi_ini_new(struct umc_node *n, const struct iscsi_ini_opts *o)
{
    struct iscsi_ini *ini = umc_alloc(n, sizeof(*ini));
    ini->node = n;
    ini->portal = dup_opt(n, o->portal);
    ini->target = dup_opt(n, o->target);
    ini->initiator = dup_opt(n, o->initiator ? o->initiator : "iqn.2026-11.local.sim:initiator");
    ini->chap_user = dup_opt(n, o->chap_user);
    ini->chap_secret = dup_opt(n, o->chap_secret ? o->chap_secret : "");
    ini->mutual_user = o->chap_user ? dup_opt(n, o->mutual_user) : NULL;
    ini->mutual_secret = dup_opt(n, o->mutual_secret ? o->mutual_secret : "");
    ini->want_header_digest = o->header_digest;
    ini->want_data_digest = o->data_digest;
    ini->want_immediate_data = o->want_immediate_data;
    ini->want_initial_r2t = o->want_initial_r2t;
    ini->my_max_recv_dsl = o->max_recv_data_segment_length ? o->max_recv_data_segment_length : 262144;
    ini->my_max_burst = o->max_burst_length ? o->max_burst_length : 16776192;
    ini->my_first_burst = o->first_burst_length ? o->first_burst_length : 262144;
    ini->timeout = o->timeout ? o->timeout : 30 * MTE_SEC;
    ini->isid = o->isid;
    if (!ini->isid) /* type 10b (random): A reserved, B and C random, D qualifier 0 */
        ini->isid = 0x800000000000ull | (mte_rng_next(umc_rng(n, "iscsi")) & 0xffffff) << 16;
    ini->next_itt = 1;
    umc_timer_init(n, &ini->login_timer, login_timer_fired, ini);
    return ini;
}

void iscsi_ini_login(struct iscsi_ini *ini, iscsi_ini_login_fn done, void *arg)
{
    ini->login_done = done;
    ini->login_arg = arg;
    if (ini->state != INI_IDLE && ini->state != INI_DEAD) {
        ini->login_pending_rc = -EALREADY;
        umc_timer_arm_in(ini->node, &ini->login_timer, 0);
        return;
    }
    ini_tasks_free(ini);
    iscsi_neg_init(&ini->neg, false);
    ini->neg.special = chap_hook;
    ini->neg.special_arg = ini;
    set_local_limits(ini);
    ini->chap_sent_a = ini->chap_answered = ini->auth_ok = false;
    ini->have_chap_challenge = ini->mutual_checked = false;
    ini->login_rounds = 0;
    ini->digests_on = false;
    ini->tsih = 0;
    ini->login_itt = ini->next_itt++;
    ini->cmdsn = ini->exp_cmdsn = 1;
    ini->max_cmdsn = 1;
    ini->exp_statsn = 0;
    ini->state = INI_CONNECTING;
    ini->uc = umc_connect(ini->node, ini->portal, &conn_ops, ini);
    umc_timer_arm_in(ini->node, &ini->login_timer, ini->timeout);
}

bool iscsi_ini_logged_in(const struct iscsi_ini *ini) { return ini->state == INI_FFP; }
uint32_t iscsi_ini_next_itt(const struct iscsi_ini *ini) { return ini->next_itt; }

void iscsi_ini_negotiated(const struct iscsi_ini *ini, struct iscsi_ini_negotiated *out)
{
    *out = (struct iscsi_ini_negotiated){
        .header_digest = ini->header_digest, .data_digest = ini->data_digest,
        .initial_r2t = ini->initial_r2t, .immediate_data = ini->immediate_data,
        .max_burst_length = ini->max_burst, .first_burst_length = ini->first_burst,
        .max_outstanding_r2t = ini->max_outstanding_r2t,
        .target_max_recv_data_segment_length = ini->max_xmit_dsl,
        .max_recv_data_segment_length = ini->my_max_recv_dsl, .tsih = ini->tsih,
    };
}

void ini_release(struct iscsi_ini *ini)
{
    struct umc_node *n = ini->node;
    ini_tasks_free(ini);
    iscsi_rx_release(&ini->rx);
    umc_free(n, ini->tx);
    umc_free(n, ini->iov);
    umc_free(n, ini->portal);
    umc_free(n, ini->target);
    umc_free(n, ini->initiator);
    umc_free(n, ini->chap_user);
    umc_free(n, ini->chap_secret);
    umc_free(n, ini->mutual_user);
    umc_free(n, ini->mutual_secret);
    umc_free(n, ini);
}

void iscsi_ini_free(struct iscsi_ini *ini)
{
    if (!ini || ini->free_pending)
        return;
    umc_timer_cancel(ini->node, &ini->login_timer);
    ini->login_done = NULL;
    close_conn(ini);
    ini->state = INI_DEAD;
    ini->free_pending = true;
    /* Held like a callback frame: finishing the last task must not release
     * the initiator under our feet; whoever leaves the last frame does. */
    ini->in_rx++;
    ini_fail_all(ini, -ECANCELED);
    ini->in_rx--;
    if (!ini->in_rx)
        ini_release(ini);
}
