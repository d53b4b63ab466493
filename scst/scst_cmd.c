/* The life of a command: parse decides everything about the CDB (LUN, opcode,
 * reserved bits, unit attention, state checks, lengths, buffer); exec enters
 * the LU's task set; completion leaves it, applies task-management outcomes
 * and calls the transport's done; release returns the memory. */
#include <errno.h>

#include "scst/scst_internal.h"

#define PRIV_CACHE_MAX 1024

struct umc_node *scst_node_of(const struct scst_cmd_private *p) { return p->core->node; }

/* ---- private parts, recycled ---------------------------------------------------- */

static struct scst_cmd_private *priv_get(struct scst_core *core)
{
    struct scst_cmd_private *p = core->free_privs;
    if (!p)
        return umc_alloc(core->node, sizeof(*p));
    core->free_privs = p->free_next;
    core->nfree_privs--;
    memset(p, 0, sizeof(*p));
    return p;
}

static void priv_put(struct scst_core *core, struct scst_cmd_private *p)
{
    if (core->nfree_privs >= PRIV_CACHE_MAX) {
        umc_free(core->node, p);
        return;
    }
    p->free_next = core->free_privs;
    core->free_privs = p;
    core->nfree_privs++;
}

/* ---- the session's command list --------------------------------------------------- */

static void sess_link(struct scst_session *s, struct scst_cmd_private *p)
{
    p->sess_prev = NULL;
    p->sess_next = s->cmds;
    if (s->cmds)
        s->cmds->sess_prev = p;
    s->cmds = p;
}

static void sess_unlink(struct scst_session *s, struct scst_cmd_private *p)
{
    if (p->sess_prev)
        p->sess_prev->sess_next = p->sess_next;
    else
        s->cmds = p->sess_next;
    if (p->sess_next)
        p->sess_next->sess_prev = p->sess_prev;
    p->sess_prev = p->sess_next = NULL;
}

/* ---- data buffers ----------------------------------------------------------------------- */

void scst_cmd_set_data(struct scst_cmd_private *p, enum scsi_dir dir, uint32_t len)
{
    p->cmd->dir = len ? dir : SCSI_DIR_NONE;
    p->cmd->data_len = len;
}

/* An ALLOCATION LENGTH is how much the initiator can take, not how much to
 * set aside: the buffer waits for the answer (scst_respond). */
void scst_cmd_set_data_in(struct scst_cmd_private *p, uint32_t alloc, uint32_t max)
{
    scst_cmd_set_data(p, SCSI_DIR_READ, alloc < max ? alloc : max);
    p->flags |= CMDF_ANSWER;
}

/* Data-out (the transport receives into it) and medium reads (the bio fills
 * it) need the buffer before exec. */
static void alloc_data_buffer(struct scst_cmd_private *p)
{
    struct scsi_cmd *cmd = p->cmd;
    if (cmd->data_len && !cmd->buf && !(p->flags & CMDF_ANSWER))
        cmd->buf = scst_buf_get(p->core, cmd->data_len, &p->buf_cap);
}

void scst_respond(struct scst_cmd_private *p, const void *data, size_t len)
{
    struct scsi_cmd *cmd = p->cmd;
    size_t n = len < cmd->data_len ? len : cmd->data_len;
    if (n && !cmd->buf)
        cmd->buf = scst_buf_get(p->core, (uint32_t)n, &p->buf_cap);
    if (n && n > p->buf_cap)
        n = p->buf_cap; /* answered twice, the second time longer: keep to the buffer */
    if (n)
        memcpy(cmd->buf, data, n);
    cmd->resp_len = (uint32_t)n;
}

/* ---- parse ------------------------------------------------------------------------------ */

static int fail_lun_not_supported(struct scst_cmd_private *p)
{
    scst_fail(p, SK_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
    return -1;
}

/* INQUIRY, REPORT LUNS and REQUEST SENSE pass a pending unit attention. */
static int check_unit_attention(struct scst_cmd_private *p)
{
    uint16_t asc;
    uint8_t opcode = p->cmd->cdb[0];
    if (!p->nx || opcode == 0x12 || opcode == 0xa0 || opcode == 0x03)
        return 0;
    if (!p->nx->nua || !scst_ua_pop(p->nx, &asc))
        return 0;
    scst_fail(p, SK_UNIT_ATTENTION, asc);
    return -1;
}

/* Bits the usage mask does not claim are reserved: INVALID FIELD IN CDB. */
static int check_reserved_bits(struct scst_cmd_private *p)
{
    const struct scst_opdesc *op = p->op;
    const uint8_t *cdb = p->cmd->cdb;
    unsigned last = op->cdb_len - 1u;
    for (unsigned i = 1; i < last; i++) {
        uint8_t bad = cdb[i] & (uint8_t)~op->usage[i];
        if (bad) {
            int bit = 7;
            while (!(bad & (1u << bit)))
                bit--;
            return scst_invalid_cdb(p, (uint16_t)i, bit);
        }
    }
    if (cdb[last] & 0x05) /* NACA or LINK: ACA and linked commands are not supported */
        return scst_invalid_cdb(p, (uint16_t)last, (cdb[last] & 0x04) ? 2 : 0);
    return 0;
}

static int lookup_opcode(struct scst_cmd_private *p)
{
    const uint8_t *cdb = p->cmd->cdb;
    struct scst_core *core = p->core;
    bool has_sa = scst_opcode_has_sa(core, cdb[0]);
    p->op = scst_opcode_find(core, cdb[0], has_sa ? (cdb[1] & 0x1f) : 0);
    if (p->op && !scst_opcode_available(p->op, p->dev))
        p->op = NULL;
    if (p->op && p->cmd->cdb_len < p->op->cdb_len)
        p->op = NULL;
    if (p->op)
        return 0;
    if (has_sa && p->cmd->cdb_len >= 2)
        return scst_invalid_cdb(p, 1, 4);
    scst_fail(p, SK_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
    return -1;
}

static int check_medium(struct scst_cmd_private *p)
{
    struct scst_device *dev = p->dev;
    uint16_t progress;
    if (!dev)
        return 0;
    if (!(p->op->flags & OPF_SANITIZE_OK) && scst_sanitize_running(dev, &progress)) {
        scst_fail_progress(p, SK_NOT_READY, ASC_NOT_READY_SANITIZE, progress);
        return -1;
    }
    if (!(p->op->flags & OPF_MEDIUM))
        return 0;
    /* the bdev refused every open so far (a DRBD Secondary): try again */
    if (!dev->bdev && p->nx && !p->nx->opened && scst_device_open(dev) == 0)
        p->nx->opened = true;
    if (!dev->bdev) {
        scst_fail(p, SK_NOT_READY, ASC_NOT_READY);
        return -1;
    }
    if (!dev->medium_loaded) {
        scst_fail(p, SK_NOT_READY, ASC_MEDIUM_NOT_PRESENT);
        return -1;
    }
    if (dev->sanitize_failed && p->op->opcode != 0x48) {
        scst_fail(p, SK_MEDIUM_ERROR, ASC_SANITIZE_FAILED);
        return -1;
    }
    return 0;
}

static int check_write_protect(struct scst_cmd_private *p)
{
    if (!p->dev || !(p->op->flags & OPF_WRITE))
        return 0;
    if (!scst_device_write_protected(p->dev, p->nx))
        return 0;
    scst_fail(p, SK_DATA_PROTECT, p->dev->mode.swp ? ASC_SOFTWARE_WRITE_PROTECTED : ASC_WRITE_PROTECTED);
    return -1;
}

/* What the initiator sends should be what the CDB asks for.  Plain writes
 * run on the whole blocks that arrive (the transport reports the residual,
 * as libiscsi's residual tests expect); anything else, or a partial block,
 * is INVALID FIELD IN COMMAND INFORMATION UNIT with nothing written. */
static bool short_write_ok(const struct scst_cmd_private *p, uint32_t len)
{
    return (p->op->flags & OPF_SHORT_WRITE) && p->dev && (len & (p->dev->block_size - 1)) == 0;
}

static int check_data_out_length(struct scst_cmd_private *p)
{
    struct scsi_cmd *cmd = p->cmd;
    if (cmd->dir != SCSI_DIR_WRITE || cmd->expected_len == cmd->data_len)
        return 0;
    if (short_write_ok(p, cmd->expected_len < cmd->data_len ? cmd->expected_len : 0))
        return 0;
    scst_fail(p, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_IU);
    return -1;
}

/* Fewer bytes arrived than the CDB transfers: write only those blocks. */
static int trim_short_write(struct scst_cmd_private *p)
{
    struct scsi_cmd *cmd = p->cmd;
    if (!short_write_ok(p, cmd->received)) {
        scst_fail(p, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_IU);
        return -1;
    }
    p->nblocks = cmd->received >> p->dev->block_shift;
    return 0;
}

static int parse_steps(struct scst_cmd_private *p)
{
    struct scsi_cmd *cmd = p->cmd;
    if (cmd->cdb_len == 0 || cmd->cdb_len > SCSI_MAX_CDB) {
        scst_fail(p, SK_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
        return -1;
    }
    if (p->dev)
        scst_device_refresh_capacity(p->dev);
    if (!p->nx) {
        if (lookup_opcode(p))
            return p->op ? -1 : fail_lun_not_supported(p);
        if (!(p->op->flags & OPF_NO_LUN))
            return fail_lun_not_supported(p);
    } else {
        if (check_unit_attention(p))
            return -1;
        if (lookup_opcode(p))
            return -1;
    }
    if (check_reserved_bits(p) || p->op->parse(p))
        return -1;
    if (check_medium(p))
        return -1;
    if (p->dev && scst_reservation_conflict(p)) {
        scst_fail_status(p, SAM_STAT_RESERVATION_CONFLICT);
        return -1;
    }
    if (check_write_protect(p) || check_data_out_length(p))
        return -1;
    alloc_data_buffer(p);
    return 0;
}

int scst_cmd_parse(struct scsi_cmd *cmd)
{
    struct scst_session *s = cmd->sess;
    struct scst_core *core = s->core;
    struct scst_cmd_private *p = priv_get(core);
    p->cmd = cmd;
    p->core = core;
    p->sess = s;
    p->state = CMD_PARSED;
    cmd->priv = p;
    cmd->dir = SCSI_DIR_NONE;
    cmd->data_len = 0;
    cmd->buf = NULL;
    cmd->received = 0;
    cmd->status = SAM_STAT_GOOD;
    cmd->sense_len = 0;
    cmd->resp_len = 0;
    cmd->aborted = false;
    sess_link(s, p);
    s->commands++;
    struct scst_nexus *nx = scst_session_nexus(s, cmd->lun);
    if (nx && !nx->gone) {
        p->nx = nx;
        nx->refs++;
        p->dev = nx->dev;
    }
    if (s->closing) {
        scst_fail_status(p, SAM_STAT_BUSY);
        return -1;
    }
    if (p->dev)
        p->dev->stats.commands++;
    int rc = parse_steps(p);
    if (rc && p->dev)
        p->dev->stats.errors++;
    return rc;
}

/* ---- exec and completion ------------------------------------------------------------------- */

static void deferred_finish(void *arg);

/* TMFs waiting for this command answer after its done (which may release it). */
static void call_done(struct scst_cmd_private *p)
{
    struct scst_session *s = p->sess;
    struct scsi_cmd *cmd = p->cmd;
    struct scst_core *core = p->core;
    struct scst_tmf_wait *waiters = p->waiters;
    p->waiters = NULL;
    if (s && s->in_flight)
        s->in_flight--;
    if (s)
        scst_session_cmd_done(s); /* deferred: done may release the command */
    cmd->done(cmd);
    scst_tmf_notify_list(core, waiters);
}

static void apply_abort(struct scst_cmd_private *p)
{
    struct scsi_cmd *cmd = p->cmd;
    if (!p->abort_requested)
        return;
    cmd->resp_len = 0;
    cmd->sense_len = 0;
    if (p->abort_silent) {
        cmd->aborted = true;
        cmd->status = SAM_STAT_TASK_ABORTED;
    } else {
        cmd->status = SAM_STAT_TASK_ABORTED;
    }
}

void scst_cmd_complete(struct scst_cmd_private *p)
{
    if (p->state == CMD_DONE)
        return;
    bool was_running = p->state == CMD_ACTIVE || p->state == CMD_PENDING;
    if (was_running && p->dev)
        scst_taskset_leave(p);
    p->state = CMD_DONE;
    apply_abort(p);
    if (was_running && p->dev && p->cmd->status != SAM_STAT_GOOD && !p->abort_requested) {
        p->dev->stats.errors++;
        if (p->cmd->status == SAM_STAT_CHECK_CONDITION && p->dev->mode.qerr)
            scst_qerr_abort(p);
    }
    if (p->in_exec) {
        p->finish_deferred = true;
        return;
    }
    call_done(p);
}

static void deferred_finish(void *arg)
{
    call_done(arg);
}

void scst_cmd_exec(struct scsi_cmd *cmd)
{
    struct scst_cmd_private *p = cmd->priv;
    if (!p || p->state != CMD_PARSED) {
        if (p)
            umc_warn(p->core->node, SCST_COMPONENT, "command executed twice");
        return;
    }
    struct scst_session *s = p->sess;
    if (s)
        s->in_flight++;
    p->in_exec = true;
    if (cmd->status != SAM_STAT_GOOD || p->abort_requested || !s || !p->op) {
        if (!s && !p->abort_requested) {
            p->abort_requested = true; /* its session is gone: nobody to answer */
            p->abort_silent = true;
        }
        scst_cmd_complete(p);
    } else if (cmd->dir == SCSI_DIR_WRITE && cmd->received < cmd->data_len && trim_short_write(p)) {
        scst_cmd_complete(p);
    } else if (p->dev) {
        scst_taskset_enter(p);
    } else {
        p->state = CMD_ACTIVE;
        p->op->exec(p);
    }
    p->in_exec = false;
    scst_cmd_flush_deferred(p);
}

void scst_cmd_flush_deferred(struct scst_cmd_private *p)
{
    if (p->finish_deferred) {
        p->finish_deferred = false;
        umc_defer(p->core->node, deferred_finish, p);
    }
}

/* Run a command's exec with completions deferred (task set dispatch). */
void scst_cmd_dispatch(struct scst_cmd_private *p)
{
    scst_cmd_resume(p, p->op->exec);
}

void scst_cmd_release(struct scsi_cmd *cmd)
{
    struct scst_cmd_private *p = cmd->priv;
    if (!p)
        return;
    struct scst_core *core = p->core;
    if (p->state == CMD_PENDING || p->state == CMD_ACTIVE) {
        /* the contract is release after done; a running bio cannot be recalled */
        umc_warn(core->node, SCST_COMPONENT, "command released while running");
        if (p->state == CMD_PENDING)
            scst_taskset_leave(p);
        if (p->sess && p->sess->in_flight)
            p->sess->in_flight--;
    }
    if (p->state != CMD_DONE) {
        /* released without running to the end: it counts as finished for TMFs */
        p->state = CMD_DONE;
        scst_tmf_notify_finished(p);
    }
    if (p->sess)
        sess_unlink(p->sess, p);
    if (p->nx)
        scst_nexus_put(p->nx);
    if (cmd->buf)
        scst_buf_put(core, cmd->buf, p->buf_cap);
    if (p->aux)
        scst_buf_put(core, p->aux, p->aux_cap);
    if (p->opdata)
        umc_free(core->node, p->opdata);
    struct scst_session *s = p->sess;
    cmd->buf = NULL;
    cmd->priv = NULL;
    priv_put(core, p);
    if (s)
        scst_session_cmd_done(s);
}
