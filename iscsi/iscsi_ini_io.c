/* The initiator's tasks: SCSI commands (immediate, unsolicited and R2T-driven
 * Data-Out; Data-In reassembly straight into the caller's buffer), task
 * management, SendTargets, Logout and NOP, with timeouts and the CmdSN window. */
#include <errno.h>

#include "iscsi/iscsi_ini_internal.h"

/* ---- tasks ------------------------------------------------------------------------------- */

static void task_timer_fired(void *arg)
{
    struct ini_task *t = arg;
    ini_task_finish(t, t->pending_rc ? t->pending_rc : -ETIMEDOUT);
}

struct ini_task *ini_task_new(struct iscsi_ini *ini, enum ini_kind kind)
{
    struct ini_task *t = ini->free_tasks;
    if (t)
        ini->free_tasks = t->next;
    else
        t = umc_alloc(ini->node, sizeof(*t));
    memset(t, 0, sizeof(*t));
    t->ini = ini;
    t->kind = kind;
    umc_timer_init(ini->node, &t->timer, task_timer_fired, t);
    if (ini->next_itt == ISCSI_RSVD_TAG)
        ini->next_itt = 1;
    t->itt = ini->next_itt++;
    t->prev = ini->tasks_tail;
    if (ini->tasks_tail)
        ini->tasks_tail->next = t;
    else
        ini->tasks = t;
    ini->tasks_tail = t;
    t->next = NULL;
    uint32_t b = t->itt % INI_HASH;
    t->hash_next = ini->hash[b];
    ini->hash[b] = t;
    t->in_hash = true;
    return t;
}

struct ini_task *ini_task_find(struct iscsi_ini *ini, uint32_t itt)
{
    for (struct ini_task *t = ini->hash[itt % INI_HASH]; t; t = t->hash_next)
        if (t->itt == itt)
            return t;
    return NULL;
}

static void task_unlink(struct ini_task *t)
{
    struct iscsi_ini *ini = t->ini;
    if (t->in_hash) {
        struct ini_task **pp = &ini->hash[t->itt % INI_HASH];
        while (*pp != t)
            pp = &(*pp)->hash_next;
        *pp = t->hash_next;
        t->in_hash = false;
    }
    if (t->waiting) {
        struct ini_task **pp = &ini->wait_head, *prev = NULL;
        while (*pp != t) {
            prev = *pp;
            pp = &(*pp)->wait_next;
        }
        *pp = t->wait_next;
        if (ini->wait_tail == t)
            ini->wait_tail = prev;
        t->waiting = false;
    }
    if (t->prev)
        t->prev->next = t->next;
    else
        ini->tasks = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        ini->tasks_tail = t->prev;
}

static void call_back(struct ini_task *t, int rc)
{
    switch (t->kind) {
    case INI_SCSI: {
        struct iscsi_ini_result r = {
            .rc = rc, .status = t->status, .sense = t->sense, .sense_len = t->sense_len,
            .data_len = t->got, .residual = t->residual, .overflow = t->overflow,
            .underflow = t->underflow,
        };
        if (t->done)
            t->done(t->arg, &r);
        break;
    }
    case INI_TMF:
        if (t->tmf_done)
            t->tmf_done(t->arg, rc < 0 ? rc : (int)t->status);
        break;
    case INI_TEXT:
        if (t->text_done)
            t->text_done(t->arg, rc, t->text, rc ? 0 : t->text_len);
        break;
    case INI_NOP:
        if (t->nop_done)
            t->nop_done(t->arg, rc, t->text, rc ? 0 : (uint32_t)t->text_len);
        break;
    case INI_LOGOUT:
        if (t->logout_done)
            t->logout_done(t->arg, rc, rc ? "logout failed" : NULL);
        break;
    }
}

void ini_task_finish(struct ini_task *t, int rc)
{
    struct iscsi_ini *ini = t->ini;
    umc_timer_cancel(ini->node, &t->timer);
    task_unlink(t);
    ini->in_rx++;                                /* the callback may free the initiator */
    call_back(t, rc);
    ini->in_rx--;
    umc_free(ini->node, t->text);
    t->text = NULL;
    t->next = ini->free_tasks;
    ini->free_tasks = t;
    if (ini->free_pending && !ini->in_rx)
        ini_release(ini);
}

/* Finish the doomed tasks, in list order; callbacks may add or end others. */
static void finish_doomed(struct iscsi_ini *ini, int rc)
{
    for (;;) {
        struct ini_task *t = ini->tasks;
        while (t && !t->doomed)
            t = t->next;
        if (!t)
            return;
        t->doomed = false;
        bool last = ini->free_pending && ini->tasks == t && !t->next;
        ini_task_finish(t, t->kind == INI_LOGOUT ? rc : rc ? rc : -ECONNRESET);
        if (last)
            return;                              /* the initiator may be gone */
    }
}

void ini_fail_all(struct iscsi_ini *ini, int rc)
{
    for (struct ini_task *t = ini->tasks; t; t = t->next)
        t->doomed = true;
    finish_doomed(ini, rc);
}

void ini_tasks_free(struct iscsi_ini *ini)
{
    while (ini->free_tasks) {
        struct ini_task *t = ini->free_tasks;
        ini->free_tasks = t->next;
        umc_free(ini->node, t);
    }
}

static void fail_later(struct ini_task *t, int rc)
{
    t->pending_rc = rc;
    umc_timer_arm_in(t->ini->node, &t->timer, 0);
}

static bool can_send(struct ini_task *t)
{
    if (t->ini->state == INI_FFP)
        return true;
    fail_later(t, -ENOTCONN);
    return false;
}

/* ---- numbering ------------------------------------------------------------------------------ */

void ini_update_sn(struct iscsi_ini *ini, const uint8_t *bhs)
{
    uint32_t exp = iscsi_get32(bhs, ISCSI_OFF_EXPCMDSN), max = iscsi_get32(bhs, ISCSI_OFF_MAXCMDSN);
    if (iscsi_sn_le(exp - 1, max)) {             /* else the window fields are invalid */
        if (iscsi_sn_lt(ini->max_cmdsn, max))
            ini->max_cmdsn = max;
        if (iscsi_sn_lt(ini->exp_cmdsn, exp))
            ini->exp_cmdsn = exp;
    }
    uint32_t statsn = iscsi_get32(bhs, ISCSI_OFF_STATSN);
    if (iscsi_sn_le(ini->exp_statsn, statsn))
        ini->exp_statsn = statsn + 1;
}

static void put_common(struct iscsi_ini *ini, uint8_t *h, struct ini_task *t, uint64_t lun)
{
    iscsi_put64(h, ISCSI_OFF_LUN, iscsi_lun_encode(lun));
    iscsi_put32(h, ISCSI_OFF_ITT, t ? t->itt : ISCSI_RSVD_TAG);
    iscsi_put32(h, ISCSI_OFF_CMDSN, ini->cmdsn);
    iscsi_put32(h, ISCSI_OFF_EXPSTATSN, ini->exp_statsn);
}

/* ---- SCSI commands --------------------------------------------------------------------------- */

static uint32_t min3(uint32_t a, uint32_t b, uint32_t c)
{
    uint32_t m = a < b ? a : b;
    return m < c ? m : c;
}

/* Data-Out PDUs for [off, off + len) of t's buffer, one sequence. */
static void add_data_out(struct iscsi_ini *ini, struct ini_task *t, uint32_t ttt, uint64_t lun_raw,
                         uint32_t off, uint32_t len)
{
    uint32_t datasn = 0, end = off + len;
    while (off < end) {
        uint32_t n = end - off < ini->max_xmit_dsl ? end - off : ini->max_xmit_dsl;
        uint8_t h[ISCSI_BHS_LEN];
        iscsi_hdr_init(h, ISCSI_OP_DATA_OUT, off + n == end ? ISCSI_F : 0);
        iscsi_put64(h, ISCSI_OFF_LUN, lun_raw);
        iscsi_put32(h, ISCSI_OFF_ITT, t->itt);
        iscsi_put32(h, ISCSI_OFF_TTT, ttt);
        iscsi_put32(h, ISCSI_OFF_EXPSTATSN, ini->exp_statsn);
        iscsi_put32(h, ISCSI_OFF_DATASN, datasn++);
        iscsi_put32(h, ISCSI_OFF_OFFSET, off);
        ini_tx_pdu(ini, h, t->buf + off, n);
        off += n;
    }
}

static void send_scsi(struct iscsi_ini *ini, struct ini_task *t)
{
    uint32_t imm = 0, unsol = 0;
    if (t->dir == SCSI_DIR_WRITE) {
        if (ini->immediate_data)
            imm = min3(t->len, ini->first_burst, ini->max_xmit_dsl);
        unsol = ini->initial_r2t ? imm : (t->len < ini->first_burst ? t->len : ini->first_burst);
    }
    uint8_t h[ISCSI_BHS_LEN];
    uint8_t flags = (uint8_t)((unsol == imm ? ISCSI_F : 0) | 1 /* simple */ |
                              (t->dir == SCSI_DIR_READ ? ISCSI_CMD_R : 0) |
                              (t->dir == SCSI_DIR_WRITE ? ISCSI_CMD_W : 0));
    t->cmdsn = ini->cmdsn;
    iscsi_hdr_init(h, ISCSI_OP_SCSI_CMD, flags);
    put_common(ini, h, t, t->lun);
    iscsi_put32(h, ISCSI_OFF_EDTL, t->len);
    memcpy(h + ISCSI_OFF_CDB, t->cdb, t->cdb_len);
    ini->cmdsn++;
    t->sent = true;
    uint32_t seg = ini->max_xmit_dsl;
    ini_tx_begin(ini, 1 + (unsol - imm + seg - 1) / seg);
    ini_tx_pdu(ini, h, t->buf, imm);
    if (unsol > imm)
        add_data_out(ini, t, ISCSI_RSVD_TAG, iscsi_lun_encode(t->lun), imm, unsol - imm);
    ini_tx_send(ini);
}

void ini_send_queued(struct iscsi_ini *ini)
{
    while (ini->wait_head && ini->state == INI_FFP && iscsi_sn_le(ini->cmdsn, ini->max_cmdsn)) {
        struct ini_task *t = ini->wait_head;
        ini->wait_head = t->wait_next;
        if (!ini->wait_head)
            ini->wait_tail = NULL;
        t->waiting = false;
        send_scsi(ini, t);
    }
}

void iscsi_ini_command(struct iscsi_ini *ini, uint64_t lun, const uint8_t *cdb, unsigned cdb_len,
                       enum scsi_dir dir, void *buf, uint32_t len, iscsi_ini_cmd_fn done, void *arg)
{
    struct ini_task *t = ini_task_new(ini, INI_SCSI);
    t->lun = lun;
    t->dir = len ? dir : SCSI_DIR_NONE;
    t->buf = buf;
    t->len = t->dir == SCSI_DIR_NONE ? 0 : len;
    t->done = done;
    t->arg = arg;
    if (!cdb_len || cdb_len > 16 || dir == SCSI_DIR_BIDI || (len && !buf)) {
        fail_later(t, -EINVAL);
        return;
    }
    memcpy(t->cdb, cdb, cdb_len);
    t->cdb_len = cdb_len;
    if (!can_send(t))
        return;
    t->waiting = true;
    if (ini->wait_tail)
        ini->wait_tail->wait_next = t;
    else
        ini->wait_head = t;
    ini->wait_tail = t;
    umc_timer_arm_in(ini->node, &t->timer, ini->timeout);
    ini_send_queued(ini);
}

static int on_r2t(struct iscsi_ini *ini, struct ini_task *t, const uint8_t *bhs)
{
    uint32_t off = iscsi_get32(bhs, ISCSI_OFF_OFFSET), len = iscsi_get32(bhs, ISCSI_OFF_DESIRED_LEN);
    if (t->dir != SCSI_DIR_WRITE || off > t->len || len > t->len - off) {
        ini_fail_connection(ini, -EPROTO, "R2T outside the command's data");
        return -1;
    }
    uint32_t seg = ini->max_xmit_dsl;
    ini_tx_begin(ini, (len + seg - 1) / seg);
    add_data_out(ini, t, iscsi_get32(bhs, ISCSI_OFF_TTT), iscsi_get64(bhs, ISCSI_OFF_LUN), off, len);
    ini_tx_send(ini);
    return 0;
}

static void take_status(struct ini_task *t, const uint8_t *bhs)
{
    t->status = bhs[3];
    t->overflow = bhs[1] & ISCSI_FLAG_O;
    t->underflow = bhs[1] & ISCSI_FLAG_U;
    t->residual = t->overflow || t->underflow ? iscsi_get32(bhs, ISCSI_OFF_RESIDUAL) : 0;
}

static void on_scsi_response(struct ini_task *t, const uint8_t *bhs, const uint8_t *data)
{
    uint32_t dlen = iscsi_hdr_dlen(bhs);
    take_status(t, bhs);
    if (dlen >= 2) {
        unsigned slen = iscsi_get16(data, 0);
        if (slen > dlen - 2)
            slen = dlen - 2;
        t->sense_len = slen < SCSI_SENSE_MAX ? slen : SCSI_SENSE_MAX;
        memcpy(t->sense, data + 2, t->sense_len);
    }
    ini_task_finish(t, bhs[2] ? -EIO : 0);       /* response != 0: the target failed it */
}

/* ---- other responses ----------------------------------------------------------------------------- */

/* After a successful abort, the aborted commands end here (the target stays silent). */
static void cancel_aborted(struct iscsi_ini *ini, struct ini_task *tmf)
{
    bool all_luns = tmf->function == SCST_TMF_TARGET_WARM_RESET ||
                    tmf->function == SCST_TMF_TARGET_COLD_RESET;
    for (struct ini_task *t = ini->tasks; t; t = t->next)
        if (t->kind == INI_SCSI && t->sent &&
            (tmf->function == SCST_TMF_ABORT_TASK ? t->itt == tmf->ref_itt
                                                  : all_luns || t->lun == tmf->lun))
            t->doomed = true;
    finish_doomed(ini, -ECANCELED);
}

static void on_text_response(struct iscsi_ini *ini, struct ini_task *t, const uint8_t *bhs,
                             const uint8_t *data)
{
    uint32_t dlen = iscsi_hdr_dlen(bhs);
    if (t->text_len + dlen > 1u << 20) {
        ini_task_finish(t, -E2BIG);
        return;
    }
    t->text = umc_realloc(ini->node, t->text, t->text_len + dlen + 1);
    memcpy(t->text + t->text_len, data, dlen);
    t->text_len += dlen;
    t->text[t->text_len] = '\0';
    if (bhs[1] & ISCSI_F) {
        ini_task_finish(t, 0);
        return;
    }
    uint8_t h[ISCSI_BHS_LEN];                    /* continue: an empty request with the TTT */
    iscsi_hdr_init(h, ISCSI_OP_TEXT_REQ | ISCSI_OP_IMMEDIATE, ISCSI_F);
    put_common(ini, h, t, 0);
    iscsi_put32(h, ISCSI_OFF_TTT, iscsi_get32(bhs, ISCSI_OFF_TTT));
    ini_tx_begin(ini, 1);
    ini_tx_pdu(ini, h, NULL, 0);
    ini_tx_send(ini);
}

static void on_nop_in(struct iscsi_ini *ini, const uint8_t *bhs, const uint8_t *data)
{
    uint32_t itt = iscsi_hdr_itt(bhs), dlen = iscsi_hdr_dlen(bhs);
    if (itt != ISCSI_RSVD_TAG) {
        struct ini_task *t = ini_task_find(ini, itt);
        if (t && t->kind == INI_NOP) {
            t->text = umc_alloc(ini->node, dlen + 1);
            memcpy(t->text, data, dlen);
            t->text_len = dlen;
            ini_task_finish(t, 0);
        }
        return;
    }
    if (iscsi_get32(bhs, ISCSI_OFF_TTT) == ISCSI_RSVD_TAG)
        return;
    uint8_t h[ISCSI_BHS_LEN];                    /* the target pings: answer */
    iscsi_hdr_init(h, ISCSI_OP_NOP_OUT | ISCSI_OP_IMMEDIATE, ISCSI_F);
    iscsi_put64(h, ISCSI_OFF_LUN, iscsi_get64(bhs, ISCSI_OFF_LUN));
    iscsi_put32(h, ISCSI_OFF_ITT, ISCSI_RSVD_TAG);
    iscsi_put32(h, ISCSI_OFF_TTT, iscsi_get32(bhs, ISCSI_OFF_TTT));
    iscsi_put32(h, ISCSI_OFF_CMDSN, ini->cmdsn);
    iscsi_put32(h, ISCSI_OFF_EXPSTATSN, ini->exp_statsn);
    ini_tx_begin(ini, 1);
    ini_tx_pdu(ini, h, NULL, 0);
    ini_tx_send(ini);
}

static void on_logout_response(struct iscsi_ini *ini, struct ini_task *t, const uint8_t *bhs)
{
    if (bhs[2]) {
        ini->state = INI_FFP;
        ini_task_finish(t, -EPROTO);
        return;
    }
    umc_info(ini->node, INI_COMP, "logged out of %s", ini->target ? ini->target : "discovery");
    if (ini->uc) {
        umc_conn_close(ini->uc);
        ini->uc = NULL;
    }
    ini->state = INI_IDLE;
    ini_task_finish(t, 0);
    ini_fail_all(ini, -ECONNRESET);
}

/* ---- dispatch --------------------------------------------------------------------------------------- */

int ini_header(struct iscsi_ini *ini, const uint8_t *bhs)
{
    ini->rx_task = NULL;
    if (iscsi_hdr_opcode(bhs) != ISCSI_OP_DATA_IN)
        return 0;
    struct ini_task *t = ini_task_find(ini, iscsi_hdr_itt(bhs));
    uint32_t off = iscsi_get32(bhs, ISCSI_OFF_OFFSET), dlen = iscsi_hdr_dlen(bhs);
    iscsi_rx_set_discard(&ini->rx);
    if (!t || t->kind != INI_SCSI)
        return 0;                                /* late: the command timed out */
    if (t->dir != SCSI_DIR_READ || off > t->len || dlen > t->len - off) {
        ini_fail_connection(ini, -EPROTO, "Data-In outside the command's buffer");
        return -1;
    }
    iscsi_rx_set_direct(&ini->rx, t->buf + off, dlen);
    ini->rx_task = t;
    return 0;
}

static int on_data_in(struct iscsi_ini *ini, const uint8_t *bhs, bool data_ok)
{
    struct ini_task *t = ini->rx_task;
    if (!t)
        return 0;
    if (!data_ok) {
        ini_fail_connection(ini, -EIO, "Data-In digest error");
        return -1;
    }
    uint32_t end = iscsi_get32(bhs, ISCSI_OFF_OFFSET) + iscsi_hdr_dlen(bhs);
    if (end > t->got)
        t->got = end;
    if (bhs[1] & ISCSI_DIN_S) {
        take_status(t, bhs);
        ini_task_finish(t, 0);
    }
    return 0;
}

static int on_reject(struct iscsi_ini *ini, const uint8_t *bhs, const uint8_t *data)
{
    umc_info(ini->node, INI_COMP, "target rejected a %s: reason 0x%02x",
             iscsi_opcode_name(iscsi_hdr_opcode(data)), bhs[2]);
    struct ini_task *t = ini_task_find(ini, iscsi_hdr_itt(data));
    if (t)
        ini_task_finish(t, -EPROTO);
    return 0;
}

int ini_pdu(struct iscsi_ini *ini, const uint8_t *bhs, const uint8_t *data, bool data_ok)
{
    unsigned op = iscsi_hdr_opcode(bhs);
    ini_update_sn(ini, bhs);
    if (op == ISCSI_OP_DATA_IN)
        return on_data_in(ini, bhs, data_ok);
    if (!data_ok) {
        ini_fail_connection(ini, -EIO, "data digest error");
        return -1;
    }
    if (op == ISCSI_OP_NOP_IN) {
        on_nop_in(ini, bhs, data);
    } else if (op == ISCSI_OP_REJECT) {
        on_reject(ini, bhs, data);
    } else if (op == ISCSI_OP_ASYNC) {
        umc_info(ini->node, INI_COMP, "async event %u from the target", bhs[36]);
    } else {
        struct ini_task *t = ini_task_find(ini, iscsi_hdr_itt(bhs));
        if (!t)
            return 0;
        if (op == ISCSI_OP_SCSI_RSP && t->kind == INI_SCSI)
            on_scsi_response(t, bhs, data);
        else if (op == ISCSI_OP_R2T && t->kind == INI_SCSI)
            return on_r2t(ini, t, bhs);
        else if (op == ISCSI_OP_TMF_RSP && t->kind == INI_TMF) {
            t->status = bhs[2];
            if (!bhs[2])
                cancel_aborted(ini, t);
            ini_task_finish(t, 0);
        } else if (op == ISCSI_OP_TEXT_RSP && t->kind == INI_TEXT)
            on_text_response(ini, t, bhs, data);
        else if (op == ISCSI_OP_LOGOUT_RSP && t->kind == INI_LOGOUT)
            on_logout_response(ini, t, bhs);
        else {
            ini_fail_connection(ini, -EPROTO, "response of the wrong kind");
            return -1;
        }
    }
    ini_send_queued(ini);
    return ini->state == INI_FFP || ini->state == INI_LOGGING_OUT ? 0 : -1;
}

/* ---- management requests ----------------------------------------------------------------------------- */

static void send_immediate(struct iscsi_ini *ini, struct ini_task *t, uint8_t *h, const void *data,
                           uint32_t dlen)
{
    h[0] |= ISCSI_OP_IMMEDIATE;
    t->sent = true;
    ini_tx_begin(ini, 1);
    ini_tx_pdu(ini, h, data, dlen);
    ini_tx_send(ini);
    umc_timer_arm_in(ini->node, &t->timer, ini->timeout);
}

void iscsi_ini_tmf(struct iscsi_ini *ini, enum scst_tmf fn, uint64_t lun, uint64_t ref_tag,
                   void (*done)(void *arg, int response), void *arg)
{
    struct ini_task *t = ini_task_new(ini, INI_TMF);
    t->tmf_done = done;
    t->arg = arg;
    t->function = fn;
    t->lun = lun;
    t->ref_itt = (uint32_t)ref_tag;
    if (!can_send(t))
        return;
    struct ini_task *ref = ini_task_find(ini, t->ref_itt);
    uint8_t h[ISCSI_BHS_LEN];
    iscsi_hdr_init(h, ISCSI_OP_TMF_REQ, (uint8_t)(ISCSI_F | fn));
    put_common(ini, h, t, lun);
    iscsi_put32(h, ISCSI_OFF_REF_ITT, fn == SCST_TMF_ABORT_TASK ? t->ref_itt : ISCSI_RSVD_TAG);
    iscsi_put32(h, ISCSI_OFF_REF_CMDSN, ref && ref->sent ? ref->cmdsn : ini->cmdsn);
    send_immediate(ini, t, h, NULL, 0);
}

void iscsi_ini_send_targets(struct iscsi_ini *ini,
                            void (*done)(void *arg, int rc, const char *text, size_t len), void *arg)
{
    static const char request[] = "SendTargets=All";
    struct ini_task *t = ini_task_new(ini, INI_TEXT);
    t->text_done = done;
    t->arg = arg;
    if (!can_send(t))
        return;
    uint8_t h[ISCSI_BHS_LEN];
    iscsi_hdr_init(h, ISCSI_OP_TEXT_REQ, ISCSI_F);
    put_common(ini, h, t, 0);
    iscsi_put32(h, ISCSI_OFF_TTT, ISCSI_RSVD_TAG);
    send_immediate(ini, t, h, request, sizeof(request));
}

void iscsi_ini_logout(struct iscsi_ini *ini, iscsi_ini_login_fn done, void *arg)
{
    struct ini_task *t = ini_task_new(ini, INI_LOGOUT);
    t->logout_done = done;
    t->arg = arg;
    if (!can_send(t))
        return;
    uint8_t h[ISCSI_BHS_LEN];
    iscsi_hdr_init(h, ISCSI_OP_LOGOUT_REQ, ISCSI_F | ISCSI_LOGOUT_SESSION);
    put_common(ini, h, t, 0);
    iscsi_put64(h, ISCSI_OFF_LUN, 0);
    iscsi_put16(h, ISCSI_OFF_CID, ini->cid);
    ini->state = INI_LOGGING_OUT;
    send_immediate(ini, t, h, NULL, 0);
}

void iscsi_ini_nop(struct iscsi_ini *ini, const void *data, uint32_t len,
                   void (*done)(void *arg, int rc, const void *data, uint32_t len), void *arg)
{
    struct ini_task *t = ini_task_new(ini, INI_NOP);
    t->nop_done = done;
    t->arg = arg;
    if (!can_send(t))
        return;
    if (len > ini->max_xmit_dsl) {
        fail_later(t, -EMSGSIZE);
        return;
    }
    uint8_t h[ISCSI_BHS_LEN];
    iscsi_hdr_init(h, ISCSI_OP_NOP_OUT, ISCSI_F);
    put_common(ini, h, t, 0);
    iscsi_put32(h, ISCSI_OFF_TTT, ISCSI_RSVD_TAG);
    send_immediate(ini, t, h, data, len);
}
