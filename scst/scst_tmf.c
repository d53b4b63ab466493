/* Task management: ABORT TASK, ABORT TASK SET, CLEAR TASK SET, LOGICAL UNIT
 * RESET, TARGET WARM/COLD RESET; and the QErr rule of the control page.
 *
 * Aborting a command that has not started (parsed, or waiting in the task set
 * or for a range lock) ends it at once; one with a bio in flight ends when the
 * bio does (multi-step commands stop at their next step).  Commands of the
 * issuing I_T nexus end silently; others get TASK ABORTED if TAS is set, else
 * end silently and their nexus gets COMMANDS CLEARED BY ANOTHER INITIATOR.
 * A reset establishes its unit attention on every I_T nexus of each LU it
 * resets, the issuer's included (the rule is in scst_session.c).
 * The TMF answers after every affected command's done. */
#include <errno.h>

#include "scst/scst_internal.h"

struct scst_tmf_req {
    struct scst_core *core;
    unsigned pending;
    int response;
    void (*done)(void *arg, int response);
    void *arg;
};

static void tmf_answer(void *arg)
{
    struct scst_tmf_req *req = arg;
    struct scst_core *core = req->core;
    if (req->done)
        req->done(req->arg, req->response);
    umc_free(core->node, req);
}

static void tmf_put(struct scst_tmf_req *req)
{
    if (--req->pending == 0)
        umc_defer(req->core->node, tmf_answer, req);
}

void scst_tmf_notify_list(struct scst_core *core, struct scst_tmf_wait *w)
{
    while (w) {
        struct scst_tmf_wait *next = w->next;
        tmf_put(w->req);
        umc_free(core->node, w);
        w = next;
    }
}

void scst_tmf_notify_finished(struct scst_cmd_private *p)
{
    struct scst_tmf_wait *w = p->waiters;
    p->waiters = NULL;
    scst_tmf_notify_list(p->core, w);
}

/* ---- aborting one command -------------------------------------------------------------- */

static void add_waiter(struct scst_cmd_private *p, struct scst_tmf_req *req)
{
    if (!req)
        return;
    struct scst_tmf_wait *w = umc_alloc(p->core->node, sizeof(*w));
    w->req = req;
    w->next = p->waiters;
    p->waiters = w;
    req->pending++;
}

/* Mark p aborted; true if it has not started running I/O and can end now. */
static bool mark_aborted(struct scst_cmd_private *p, const struct scst_session *issuer,
                         struct scst_tmf_req *req)
{
    if (p->state == CMD_DONE || p->abort_requested)
        return false;
    bool other = p->sess != issuer;
    bool tas = p->dev && p->dev->mode.tas;
    p->abort_requested = true;
    p->abort_silent = !other || !tas;
    if (other && !tas && p->nx && !p->nx->gone)
        scst_ua_add(p->nx, ASC_COMMANDS_CLEARED_BY_ANOTHER);
    add_waiter(p, req);
    return p->state == CMD_PENDING || p->parked || (p->lock.owner && !p->lock.granted) ||
           (p->state == CMD_ACTIVE && p->cancel);
}

static void finish_now(struct scst_cmd_private *p)
{
    if (p->state == CMD_ACTIVE && (p->parked || p->lock.owner))
        scst_range_forget(p);
    if (p->state == CMD_ACTIVE && p->cancel)
        p->cancel(p);
    scst_cmd_complete(p);
}

static void end_marked(struct scst_cmd_private *p)
{
    scst_cmd_resume(p, finish_now);
}

/* Commands of dev that have not reached the task set: found via the nexuses. */
static void mark_parsed(struct scst_device *dev, const struct scst_session *only,
                        const struct scst_session *issuer, struct scst_tmf_req *req)
{
    for (struct scst_nexus *nx = dev->nexus_head; nx; nx = nx->dev_next) {
        if (only && nx->sess != only)
            continue;
        for (struct scst_cmd_private *p = nx->sess->cmds; p; p = p->sess_next)
            if (p->dev == dev && p->state == CMD_PARSED)
                mark_aborted(p, issuer, req);
    }
}

static struct scst_cmd_private *next_endable(struct scst_device *dev)
{
    for (struct scst_cmd_private *p = dev->pend_head; p; p = p->set_next)
        if (p->abort_requested)
            return p;
    for (struct scst_cmd_private *p = dev->active_head; p; p = p->set_next)
        if (p->abort_requested && (p->parked || (p->lock.owner && !p->lock.granted) || p->cancel))
            return p;
    return NULL;
}

void scst_abort_dev_tasks(struct scst_device *dev, const struct scst_session *only,
                          const struct scst_session *issuer, struct scst_tmf_req *req)
{
    mark_parsed(dev, only, issuer, req);
    for (struct scst_cmd_private *p = dev->pend_head; p; p = p->set_next)
        if (!only || p->sess == only)
            mark_aborted(p, issuer, req);
    for (struct scst_cmd_private *p = dev->active_head; p; p = p->set_next)
        if (!only || p->sess == only)
            mark_aborted(p, issuer, req);
    /* ending one may start others from the FIFO: rescan each time */
    struct scst_cmd_private *p;
    while ((p = next_endable(dev)))
        end_marked(p);
}

void scst_qerr_abort(struct scst_cmd_private *failed)
{
    struct scst_device *dev = failed->dev;
    const struct scst_session *only = dev->mode.qerr == 3 ? failed->sess : NULL;
    scst_abort_dev_tasks(dev, only, failed->sess, NULL);
}

/* ---- resets -------------------------------------------------------------------------------- */

static void reset_device(struct scst_device *dev, const struct scst_session *issuer,
                         struct scst_tmf_req *req, uint16_t ua)
{
    scst_abort_dev_tasks(dev, NULL, issuer, req);
    dev->spc2_holder = NULL;
    for (struct scst_nexus *nx = dev->nexus_head; nx; nx = nx->dev_next)
        nx->prevent = false;
    dev->prevent_count = 0;
    dev->mode = dev->mode_saved;
    /* every I_T nexus, the issuer's too: SAM-5 6.3 (scst_session.c) */
    scst_ua_dev(dev, ua, NULL);
}

static void reset_target(struct scst_session *s, struct scst_tmf_req *req, uint16_t ua)
{
    /* every LU this I_T nexus' target maps, each once (via the core's device list) */
    for (struct scst_device *dev = s->core->devices; dev; dev = dev->next) {
        bool mapped = false;
        for (struct scst_nexus *nx = dev->nexus_head; nx && !mapped; nx = nx->dev_next)
            mapped = nx->sess->tgt == s->tgt;
        if (mapped)
            reset_device(dev, s, req, ua);
    }
}

static struct scst_cmd_private *find_task(struct scst_session *s, uint64_t lun, uint64_t tag)
{
    for (struct scst_cmd_private *p = s->cmds; p; p = p->sess_next)
        if (p->cmd->tag == tag && p->cmd->lun == lun)
            return p;
    for (struct scst_cmd_private *p = s->cmds; p; p = p->sess_next)
        if (p->cmd->tag == tag)
            return p;
    return NULL;
}

static int abort_task(struct scst_session *s, uint64_t lun, uint64_t tag, struct scst_tmf_req *req)
{
    struct scst_cmd_private *p = find_task(s, lun, tag);
    if (!p)
        return SCST_TMF_NO_TASK;
    if (mark_aborted(p, s, req))
        end_marked(p);
    return SCST_TMF_COMPLETE;
}

static int run_tmf(struct scst_session *s, enum scst_tmf fn, uint64_t lun, uint64_t ref_tag,
                   struct scst_tmf_req *req)
{
    struct scst_nexus *nx = scst_session_nexus(s, lun);
    switch (fn) {
    case SCST_TMF_ABORT_TASK:
        return abort_task(s, lun, ref_tag, req);
    case SCST_TMF_ABORT_TASK_SET:
        if (!nx)
            return SCST_TMF_NO_LUN;
        scst_abort_dev_tasks(nx->dev, s, s, req);
        return SCST_TMF_COMPLETE;
    case SCST_TMF_CLEAR_TASK_SET:
        if (!nx)
            return SCST_TMF_NO_LUN;
        scst_abort_dev_tasks(nx->dev, NULL, s, req);
        return SCST_TMF_COMPLETE;
    case SCST_TMF_LUN_RESET:
        if (!nx)
            return SCST_TMF_NO_LUN;
        reset_device(nx->dev, s, req, ASC_BUS_DEVICE_RESET);
        return SCST_TMF_COMPLETE;
    case SCST_TMF_TARGET_WARM_RESET:
        reset_target(s, req, ASC_BUS_RESET_OCCURRED);
        return SCST_TMF_COMPLETE;
    case SCST_TMF_TARGET_COLD_RESET:
        reset_target(s, req, ASC_POWER_ON_OCCURRED);
        return SCST_TMF_COMPLETE;
    case SCST_TMF_CLEAR_ACA: /* NACA is refused in every CDB: no ACA can exist */
        return SCST_TMF_NOT_SUPPORTED;
    }
    return SCST_TMF_NOT_SUPPORTED;
}

void scst_tmf(struct scst_session *s, enum scst_tmf fn, uint64_t lun, uint64_t ref_tag,
              void (*done)(void *arg, int response), void *arg)
{
    struct scst_core *core = s->core;
    struct scst_tmf_req *req = umc_alloc(core->node, sizeof(*req));
    req->core = core;
    req->done = done;
    req->arg = arg;
    req->pending = 1; /* held until every affected command is marked */
    req->response = s->closing ? SCST_TMF_REJECTED : run_tmf(s, fn, lun, ref_tag, req);
    umc_info(core->node, SCST_COMPONENT, "%s: TMF %d lun %llu -> %d (%u waiting)", s->initiator_port,
             (int)fn, (unsigned long long)lun, req->response, req->pending - 1);
    tmf_put(req);
}
