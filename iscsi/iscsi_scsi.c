/* The SCSI command path of the target: SCSI Command PDUs into scst commands,
 * immediate / unsolicited / solicited (R2T) data straight into cmd->buf with
 * DataSN and offset checks, and the response as Data-In PDUs (status in the
 * last) or a SCSI Response, with residuals, in one send. */
#include "iscsi/iscsi_target.h"

#define SENSE_ABORTED_COMMAND 0x0b
#define ASCQ_DATA_PHASE 0x00       /* DATA PHASE ERROR (ASC 0x4b) */
#define ASCQ_TOO_MUCH_DATA 0x02    /* TOO MUCH WRITE DATA */
#define ASCQ_DATA_OFFSET 0x05      /* DATA OFFSET ERROR */

static void task_progress(struct iscsi_task *t);

/* ---- the command PDU ------------------------------------------------------------------------- */

static enum scsi_task_attr task_attr(uint8_t flags)
{
    switch (flags & ISCSI_CMD_ATTR) {
    case 2: return SCSI_TASK_ORDERED;
    case 3: return SCSI_TASK_HEAD_OF_QUEUE;
    case 4: return SCSI_TASK_ACA;
    default: return SCSI_TASK_SIMPLE;   /* untagged and simple */
    }
}

static enum scsi_dir expected_dir(uint8_t flags)
{
    bool r = flags & ISCSI_CMD_R, w = flags & ISCSI_CMD_W;
    return r && w ? SCSI_DIR_BIDI : r ? SCSI_DIR_READ : w ? SCSI_DIR_WRITE : SCSI_DIR_NONE;
}

/* The CDB length its group code implies (variable-length ones come in an AHS). */
static unsigned cdb_len_of(uint8_t opcode)
{
    switch (opcode >> 5) {
    case 0: return 6;
    case 1: case 2: return 10;
    case 5: return 12;
    default: return 16;
    }
}

/* CDB bytes past 16 come in an extended-CDB AHS (type 1); 0 or a Reject reason. */
static unsigned take_cdb(struct iscsi_task *t, const uint8_t *bhs)
{
    memcpy(t->cmd.cdb, bhs + ISCSI_OFF_CDB, 16);
    t->cmd.cdb_len = cdb_len_of(bhs[ISCSI_OFF_CDB]);
    const uint8_t *ahs = bhs + ISCSI_BHS_LEN, *end = ahs + iscsi_hdr_ahs_len(bhs);
    while (ahs + 4 <= end) {
        uint16_t len = iscsi_get16(ahs, 0);
        if (ahs + 4 + len > end + 3)
            return ISCSI_REJECT_INVALID_FIELD;
        if (ahs[2] == 1) {                       /* extended CDB: one reserved byte first */
            if (len < 1 || 16 + len - 1u > SCSI_MAX_CDB)
                return ISCSI_REJECT_INVALID_FIELD;
            memcpy(t->cmd.cdb + 16, ahs + 4, len - 1u);
            t->cmd.cdb_len = 16 + len - 1u;
        }
        ahs += 4 + ((len + 3u) & ~3u);
    }
    return 0;
}

static void task_done(struct scsi_cmd *cmd);

static void setup_cmd(struct iscsi_task *t, const uint8_t *bhs)
{
    struct scsi_cmd *c = &t->cmd;
    c->sess = t->sess->scst;
    c->lun = iscsi_lun_decode(t->lun_raw);
    c->tag = t->itt;
    c->attr = task_attr(t->pdu_flags);
    c->expected_dir = expected_dir(t->pdu_flags);
    c->expected_len = t->edtl;
    c->done = task_done;
    c->transport_priv = t;
}

/* Before the command runs: what buffer it needs, and whether it fails anyway. */
static void plan_data(struct iscsi_task *t)
{
    struct scsi_cmd *c = &t->cmd;
    if (scst_cmd_parse(c)) {
        t->failed = true;                        /* status and sense are set */
        return;
    }
    if (c->dir != SCSI_DIR_WRITE)
        return;
    /* What the initiator sends: scst decides whether a short write (overflow)
     * runs on what arrived; the residual reports the difference either way. */
    uint32_t offered = (t->pdu_flags & ISCSI_CMD_W) ? t->edtl : 0;
    t->need = offered < c->data_len ? offered : c->data_len;
}

static void hold_task(struct iscsi_session *s, struct iscsi_task *t)
{
    struct iscsi_task **pp = &s->held;
    while (*pp && iscsi_sn_lt((*pp)->cmdsn, t->cmdsn))
        pp = &(*pp)->held_next;
    t->held_next = *pp;
    *pp = t;
    t->held = true;
}

static unsigned check_admission(struct iscsi_conn *conn, const uint8_t *bhs, bool *ignore)
{
    struct iscsi_session *s = conn->sess;
    uint32_t cmdsn = iscsi_get32(bhs, ISCSI_OFF_CMDSN), dlen = iscsi_hdr_dlen(bhs);
    *ignore = false;
    if (iscsi_hdr_immediate(bhs)) {
        if (s->immediate_active >= s->window)
            return ISCSI_REJECT_IMMEDIATE;
    } else if (!iscsi_sn_le(s->exp_cmdsn, cmdsn) || !iscsi_sn_le(cmdsn, iscsi_session_max_cmdsn(s))) {
        *ignore = true;                          /* outside the window: silently dropped */
        return 0;
    }
    if (iscsi_task_find(s, iscsi_hdr_itt(bhs)))
        return ISCSI_REJECT_TASK_IN_PROGRESS;
    if (dlen && (!s->immediate_data || dlen > s->first_burst))
        return ISCSI_REJECT_PROTOCOL;
    if (!(bhs[1] & ISCSI_F) && s->initial_r2t)
        return ISCSI_REJECT_PROTOCOL;            /* unsolicited Data-Out not allowed */
    return 0;
}

static void admit(struct iscsi_session *s, struct iscsi_task *t)
{
    if (t->immediate) {
        t->admitted = true;
    } else if (t->cmdsn == s->exp_cmdsn) {
        t->admitted = true;
        s->exp_cmdsn++;
    } else {
        hold_task(s, t);
    }
}

int iscsi_scsi_cmd_header(struct iscsi_conn *conn, const uint8_t *bhs)
{
    struct iscsi_session *s = conn->sess;
    bool ignore;
    unsigned reason = check_admission(conn, bhs, &ignore);
    if (reason || ignore) {
        if (ignore)
            umc_debug(conn->node, ISCSI_COMP, "CmdSN %u outside [%u, %u]: ignored",
                      iscsi_get32(bhs, ISCSI_OFF_CMDSN), s->exp_cmdsn, s->max_cmdsn);
        conn->rx_verdict = reason;
        conn->rx_ignore = ignore;
        iscsi_rx_set_discard(&conn->rx);
        return 0;
    }
    struct iscsi_task *t = iscsi_task_get(s);
    t->itt = iscsi_hdr_itt(bhs);
    t->cmdsn = iscsi_get32(bhs, ISCSI_OFF_CMDSN);
    t->edtl = iscsi_get32(bhs, ISCSI_OFF_EDTL);
    t->lun_raw = iscsi_get64(bhs, ISCSI_OFF_LUN);
    t->pdu_flags = bhs[1];
    t->immediate = iscsi_hdr_immediate(bhs);
    if ((reason = take_cdb(t, bhs))) {
        iscsi_task_put(t);
        conn->rx_verdict = reason;
        iscsi_rx_set_discard(&conn->rx);
        return 0;
    }
    t->counted = true;
    if (t->immediate)
        s->immediate_active++;
    else
        s->active++;
    iscsi_task_hash_add(t);
    setup_cmd(t, bhs);
    plan_data(t);
    t->parsed = true;
    uint32_t dlen = iscsi_hdr_dlen(bhs);
    uint32_t unsol_cap = s->first_burst < t->edtl ? s->first_burst : t->edtl;
    t->unsol_done = bhs[1] & ISCSI_F;
    t->unsol_len = t->unsol_done ? dlen : unsol_cap;
    t->r2t_offset = t->unsol_len;
    t->r2t_end = t->need > t->unsol_len ? t->need : t->unsol_len;
    if (dlen && t->need && t->cmd.buf)
        iscsi_rx_set_direct(&conn->rx, t->cmd.buf, t->need);
    else if (dlen)
        iscsi_rx_set_discard(&conn->rx);
    conn->rx_task = t;
    admit(s, t);
    return 0;
}

int iscsi_scsi_cmd_data(struct iscsi_conn *conn, bool data_ok)
{
    struct iscsi_task *t = conn->rx_task;
    if (!t)
        return 0;
    struct iscsi_session *s = t->sess;
    uint32_t dlen = conn->rx.dlen;
    s->bytes_in += dlen;
    if (!data_ok) {                              /* the command is refused as a whole */
        iscsi_send_reject(conn, ISCSI_REJECT_DATA_DIGEST, conn->rx.hdr);
        bool in_order = t->admitted;
        iscsi_task_abort_local(t);
        if (in_order)
            iscsi_admit_held(s);
        return 0;
    }
    t->unsol_got = dlen;
    if (t->unsol_got >= t->unsol_len)
        t->unsol_done = true;
    if (t->admitted)
        task_progress(t);
    iscsi_admit_held(s);
    return 0;
}

/* ---- Data-Out --------------------------------------------------------------------------------- */

static struct iscsi_r2t *find_r2t(struct iscsi_task *t, uint32_t ttt)
{
    for (unsigned i = 0; i < ISCSI_MAX_R2T; i++)
        if (t->r2t[i].len && t->r2t[i].ttt == ttt)
            return &t->r2t[i];
    return NULL;
}

/* DataSN and offset must continue the sequence exactly (in-order data):
 * -1, or the ASCQ of DATA PHASE ERROR that says what broke. */
static int sequence_error(struct iscsi_task *t, struct iscsi_r2t *r, const uint8_t *bhs)
{
    uint32_t datasn = iscsi_get32(bhs, ISCSI_OFF_DATASN), off = iscsi_get32(bhs, ISCSI_OFF_OFFSET);
    uint32_t dlen = iscsi_hdr_dlen(bhs);
    uint32_t next_sn = r ? r->next_datasn : t->unsol_datasn;
    uint32_t next_off = r ? r->offset + r->got : t->unsol_got;
    uint32_t room = r ? r->len - r->got : t->unsol_len - t->unsol_got;
    if (!r && t->unsol_done)
        return ASCQ_TOO_MUCH_DATA;
    if (datasn != next_sn)
        return ASCQ_DATA_PHASE;
    if (off != next_off)
        return ASCQ_DATA_OFFSET;
    return dlen > room ? ASCQ_TOO_MUCH_DATA : -1;
}

static void send_response(struct iscsi_task *t);

/* A broken Data-Out sequence fails the WRITE at once (CHECK CONDITION, DATA
 * PHASE ERROR); the connection stays, and the rest of its data is dropped. */
static void fail_data_phase(struct iscsi_task *t, uint8_t ascq)
{
    struct iscsi_session *s = t->sess;
    umc_info(s->srv->node, ISCSI_COMP, "task 0x%x: Data-Out out of sequence (0x4b/0x%02x)", t->itt, ascq);
    scst_set_sense(&t->cmd, SENSE_ABORTED_COMMAND, 0x4b, ascq);
    t->failed = true;
    s->commands++;
    iscsi_task_uncount(t);
    send_response(t);
    iscsi_task_abort_local(t);
}

int iscsi_data_out_header(struct iscsi_conn *conn, const uint8_t *bhs)
{
    struct iscsi_session *s = conn->sess;
    struct iscsi_task *t = iscsi_task_find(s, iscsi_hdr_itt(bhs));
    uint32_t ttt = iscsi_get32(bhs, ISCSI_OFF_TTT);
    iscsi_rx_set_discard(&conn->rx);
    if (!t || t->executing) {
        if (!t && iscsi_itt_recently_aborted(s, iscsi_hdr_itt(bhs)))
            conn->rx_ignore = true;              /* in flight when the task was aborted */
        else
            conn->rx_verdict = ISCSI_REJECT_INVALID_FIELD;
        return 0;
    }
    struct iscsi_r2t *r = NULL;
    if (ttt != ISCSI_RSVD_TAG && !(r = find_r2t(t, ttt))) {
        conn->rx_verdict = ISCSI_REJECT_INVALID_FIELD;
        return 0;
    }
    int bad = sequence_error(t, r, bhs);
    if (bad >= 0) {
        fail_data_phase(t, (uint8_t)bad);
        conn->rx_ignore = true;
        return 0;
    }
    uint32_t off = iscsi_get32(bhs, ISCSI_OFF_OFFSET);
    if (off < t->need && t->cmd.buf && !t->failed)
        iscsi_rx_set_direct(&conn->rx, t->cmd.buf + off, t->need - off);
    conn->rx_task = t;
    conn->rx_r2t = r;
    return 0;
}

int iscsi_data_out_data(struct iscsi_conn *conn, const uint8_t *bhs, bool data_ok)
{
    struct iscsi_task *t = conn->rx_task;
    struct iscsi_r2t *r = conn->rx_r2t;
    if (!t)
        return 0;
    uint32_t dlen = iscsi_hdr_dlen(bhs);
    bool final = bhs[1] & ISCSI_F;
    t->sess->bytes_in += dlen;
    if (!data_ok) {
        iscsi_send_reject(conn, ISCSI_REJECT_DATA_DIGEST, bhs);
        if (!t->failed)
            scst_set_sense(&t->cmd, SENSE_ABORTED_COMMAND, 0x47, 0x05); /* CRC error */
        t->failed = true;
    }
    if (r) {
        uint32_t landed = r->len - r->got < dlen ? r->len - r->got : dlen;
        t->sess->solicited -= landed;
        r->got += dlen;
        r->next_datasn++;
        if (final && r->got != r->len) {
            fail_data_phase(t, ASCQ_DATA_OFFSET);   /* the sequence ended short of its R2T */
            return 0;
        }
        if (r->got == r->len) {
            r->len = 0;                          /* the slot is free */
            t->r2t_count--;
        }
    } else {
        t->unsol_got += dlen;
        t->unsol_datasn++;
        if (final || t->unsol_got == t->unsol_len) {
            t->unsol_done = true;
            t->unsol_len = t->unsol_got;         /* an early F ends the burst there */
            t->r2t_offset = t->unsol_len;
            t->r2t_end = t->need > t->unsol_len ? t->need : t->unsol_len;
        }
    }
    struct iscsi_session *s = t->sess;
    if (t->admitted)
        task_progress(t);
    if (r)
        iscsi_r2t_wake(s);
    return 0;
}

/* ---- progress: R2Ts, then execution ---------------------------------------------------------------- */

/* Solicited data in flight is bounded per session: an R2T goes out while the
 * bytes asked for and not yet arrived stay within the window (one is always
 * allowed), and tasks take their turns in arrival order.  The initiator then
 * sends the commands' data roughly one after another rather than all
 * interleaved, so each command starts executing as soon as its own data is
 * in: a replicated LUN forwards the first while the next still arrives. */
static uint32_t solicit_window(const struct iscsi_session *s)
{
    uint32_t w = s->max_burst + s->max_burst / 2;
    return w > ISCSI_SOLICIT_MIN ? w : ISCSI_SOLICIT_MIN;
}

static uint32_t next_r2t_len(const struct iscsi_task *t)
{
    uint32_t left = t->r2t_end - t->r2t_offset;
    return left < t->sess->max_burst ? left : t->sess->max_burst;
}

static bool may_solicit(struct iscsi_session *s, uint32_t len)
{
    if (s->r2t_blocked && !s->r2t_waking)
        return false;                            /* earlier tasks wait: keep their turn */
    if (s->solicited && s->solicited + len > solicit_window(s)) {
        s->r2t_blocked = true;
        return false;
    }
    return true;
}

static void send_r2t(struct iscsi_task *t)
{
    struct iscsi_session *s = t->sess;
    struct iscsi_r2t *r = NULL;
    for (unsigned i = 0; i < ISCSI_MAX_R2T && !r; i++)
        if (!t->r2t[i].len)
            r = &t->r2t[i];
    if (s->next_ttt == ISCSI_RSVD_TAG)
        s->next_ttt = 1;
    *r = (struct iscsi_r2t){.ttt = s->next_ttt++, .offset = t->r2t_offset, .len = next_r2t_len(t)};
    t->r2t_offset += r->len;
    t->r2t_count++;
    s->solicited += r->len;
    uint8_t h[ISCSI_BHS_LEN];
    iscsi_hdr_init(h, ISCSI_OP_R2T, ISCSI_F);
    iscsi_put64(h, ISCSI_OFF_LUN, t->lun_raw);
    iscsi_put32(h, ISCSI_OFF_ITT, t->itt);
    iscsi_put32(h, ISCSI_OFF_TTT, r->ttt);
    iscsi_fill_sn(s->conn, h, false);
    iscsi_put32(h, ISCSI_OFF_DATASN, t->r2tsn++);
    iscsi_put32(h, ISCSI_OFF_OFFSET, r->offset);
    iscsi_put32(h, ISCSI_OFF_DESIRED_LEN, r->len);
    iscsi_send_pdu(s->conn, h, NULL, 0);
}

static void execute(struct iscsi_task *t)
{
    struct iscsi_session *s = t->sess;
    s->commands++;
    if (t->failed) {
        iscsi_task_uncount(t);
        send_response(t);
        if (t->parsed)
            scst_cmd_release(&t->cmd);
        iscsi_task_put(t);
        return;
    }
    t->cmd.received = t->need;
    t->executing = true;
    scst_cmd_exec(&t->cmd);
}

static void task_progress(struct iscsi_task *t)
{
    struct iscsi_session *s = t->sess;
    if (t->aborted || t->executing || !t->unsol_done || !s->conn)
        return;
    unsigned max = s->max_outstanding_r2t < ISCSI_MAX_R2T ? s->max_outstanding_r2t : ISCSI_MAX_R2T;
    while (t->r2t_offset < t->r2t_end && t->r2t_count < max && may_solicit(s, next_r2t_len(t)))
        send_r2t(t);
    if (t->r2t_offset == t->r2t_end && !t->r2t_count)
        execute(t);
}

static bool waits_for_r2t(const struct iscsi_task *t)
{
    return t->admitted && t->unsol_done && !t->executing && !t->aborted &&
           t->r2t_offset < t->r2t_end;
}

void iscsi_r2t_wake(struct iscsi_session *s)
{
    if (!s->r2t_blocked || s->r2t_waking || !s->conn)
        return;
    s->r2t_blocked = false;
    s->r2t_waking = true;
    /* only R2Ts go out here (no task has all its data): the list holds still */
    for (struct iscsi_task *t = s->tasks; t && !s->r2t_blocked; t = t->next)
        if (waits_for_r2t(t))
            task_progress(t);
    s->r2t_waking = false;
}

void iscsi_admit_held(struct iscsi_session *s)
{
    while (s->held && s->held->cmdsn == s->exp_cmdsn) {
        struct iscsi_task *t = s->held;
        s->held = t->held_next;
        t->held = false;
        t->admitted = true;
        s->exp_cmdsn++;
        if (t->aborted)
            iscsi_task_put(t);
        else
            task_progress(t);
    }
}

/* ---- the response ----------------------------------------------------------------------------------- */

static void residual_of(const struct iscsi_task *t, uint8_t *flags, uint32_t *residual)
{
    const struct scsi_cmd *c = &t->cmd;
    uint32_t actual = c->dir == SCSI_DIR_READ ? c->resp_len : c->dir == SCSI_DIR_WRITE ? c->data_len : 0;
    *flags = 0;
    *residual = 0;
    if (actual > t->edtl) {
        *flags = ISCSI_FLAG_O;
        *residual = actual - t->edtl;
    } else if (actual < t->edtl) {
        *flags = ISCSI_FLAG_U;
        *residual = t->edtl - actual;
    }
}

static void data_in_header(struct iscsi_conn *conn, struct iscsi_task *t, uint8_t *h, uint32_t datasn,
                           uint32_t off, bool final)
{
    iscsi_hdr_init(h, ISCSI_OP_DATA_IN, final ? ISCSI_F : 0);
    iscsi_put32(h, ISCSI_OFF_ITT, t->itt);
    iscsi_put32(h, ISCSI_OFF_TTT, ISCSI_RSVD_TAG);
    iscsi_fill_sn(conn, h, false);
    iscsi_put32(h, ISCSI_OFF_STATSN, 0);
    iscsi_put32(h, ISCSI_OFF_DATASN, datasn);
    iscsi_put32(h, ISCSI_OFF_OFFSET, off);
}

static void send_response(struct iscsi_task *t)
{
    struct iscsi_session *s = t->sess;
    struct iscsi_conn *conn = s->conn;
    struct scsi_cmd *c = &t->cmd;
    uint8_t rflags, h[ISCSI_BHS_LEN];
    uint32_t residual, send = 0, datasn = 0;
    residual_of(t, &rflags, &residual);
    umc_debug(conn->node, ISCSI_COMP, "itt 0x%x cdb %02x edtl %u: status 0x%02x residual %s%u",
              t->itt, c->cdb[0], t->edtl, c->status,
              rflags & ISCSI_FLAG_O ? "over " : rflags & ISCSI_FLAG_U ? "under " : "", residual);
    if (c->dir == SCSI_DIR_READ && (t->pdu_flags & ISCSI_CMD_R) && c->buf && !t->failed)
        send = c->resp_len < t->edtl ? c->resp_len : t->edtl;
    bool collapse = send && !c->sense_len &&
                    (c->status == SAM_STAT_GOOD || c->status == SAM_STAT_CONDITION_MET);
    uint32_t seg = conn->max_xmit_dsl, burst = s->max_burst ? s->max_burst : seg;
    uint32_t step = seg < burst ? seg : burst;
    iscsi_tx_begin(conn, (send + step - 1) / step + (send + burst - 1) / burst + 1);
    for (uint32_t off = 0; off < send;) {
        uint32_t in_burst = burst - off % burst, n = send - off;
        n = n < seg ? n : seg;
        n = n < in_burst ? n : in_burst;
        bool last = off + n == send;
        data_in_header(conn, t, h, datasn++, off, last || n == in_burst);
        if (last && collapse) {
            h[1] |= ISCSI_DIN_S | rflags;
            h[3] = c->status;
            iscsi_fill_sn(conn, h, true);
            iscsi_put32(h, ISCSI_OFF_RESIDUAL, residual);
        }
        iscsi_tx_pdu(conn, h, c->buf + off, n);
        off += n;
    }
    uint8_t sense[2 + SCSI_SENSE_MAX];
    if (!collapse) {
        iscsi_hdr_init(h, ISCSI_OP_SCSI_RSP, ISCSI_F | rflags);
        h[3] = c->status;
        iscsi_put32(h, ISCSI_OFF_ITT, t->itt);
        iscsi_fill_sn(conn, h, true);
        iscsi_put32(h, ISCSI_OFF_DATASN, send ? datasn : t->r2tsn);
        iscsi_put32(h, ISCSI_OFF_RESIDUAL, residual);
        uint32_t slen = c->sense_len > SCSI_SENSE_MAX ? SCSI_SENSE_MAX : c->sense_len;
        iscsi_put16(sense, 0, (uint16_t)slen);
        memcpy(sense + 2, c->sense, slen);
        iscsi_tx_pdu(conn, h, sense, slen ? slen + 2 : 0);
    }
    iscsi_tx_send(conn);
    s->bytes_out += send;
}

static void task_done(struct scsi_cmd *cmd)
{
    struct iscsi_task *t = cmd->transport_priv;
    struct iscsi_session *s = t->sess;
    t->executing = false;
    iscsi_task_uncount(t);                       /* the window opens in this response */
    if (!cmd->aborted && s->conn && !s->ending && t->epoch == s->epoch)
        send_response(t);
    scst_cmd_release(cmd);
    t->parsed = false;
    iscsi_task_put(t);
}
