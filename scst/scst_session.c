/* Sessions (I_T nexuses), their LUNs (I_T_L nexuses) and unit attentions.
 *
 * A session sees the LUN map of the first group naming its initiator, else
 * the target's default map; map changes are applied to live sessions at once
 * (REPORTED LUNS DATA HAS CHANGED).  A nexus holds its device open.  Closing a
 * session aborts what has not started, lets running commands finish, calls
 * closed() and frees the session. */
#include <errno.h>

#include "scst/scst_internal.h"

/* ---- unit attentions --------------------------------------------------------------- */

/* Who gets a unit attention.  A UA tells an I_T nexus of an event it may not
 * otherwise learn of; every I_T nexus counts on its own: another initiator, or
 * the same initiator through another session (ISID) or target port.
 *
 * A command that changes shared state is answered by its own status, so its
 * I_T nexus gets no UA; every other I_T nexus of the LU does (SPC-4 says so
 * for MODE SELECT and for PERSISTENT RESERVE OUT; a medium load follows suit):
 *
 *   MODE SELECT changing a parameter     MODE PARAMETERS CHANGED
 *   START STOP UNIT loading the medium   NOT READY TO READY CHANGE
 *   PERSISTENT RESERVE OUT               RESERVATIONS PREEMPTED / RELEASED,
 *                                        REGISTRATIONS PREEMPTED (registrants only)
 *   commands aborted by another nexus    COMMANDS CLEARED BY ANOTHER INITIATOR
 *     (TMF, QErr, PREEMPT AND ABORT)     (TAS=0; only nexuses that lost commands)
 *
 * A reset is not such a command: LOGICAL UNIT RESET and TARGET WARM/COLD
 * RESET put the LU back to its initial state (SPC-2 reservation, PREVENT,
 * mode pages, tasks), and SAM-5 (6.3) has that establish a UA for every
 * I_T nexus, the one that asked for it included: BUS DEVICE RESET FUNCTION
 * OCCURRED, SCSI BUS RESET OCCURRED, POWER ON OCCURRED.  The TMF response
 * says the function completed; the UA is what reaches the command path of
 * each nexus (LIO and SCST do the same, and libiscsi's MultipathIO.Reset
 * expects the UA on every path).  A reset supersedes what was pending.
 *
 * Events no nexus asked for go to every nexus concerned: a LUN map change
 * (REPORTED LUNS DATA HAS CHANGED), a capacity change (CAPACITY DATA HAS
 * CHANGED).  A brand-new I_T nexus starts with no UA: the LU's power-on
 * happened before the nexus existed (tgt and LIO do the same, and initiators
 * such as libiscsi's tools treat a UA on their first command as a failure).
 *
 * I_T nexus loss (the session ends: logout, connection loss, reinstatement):
 * the nexus' PREVENT and SPC-2 reservation go and its tasks are aborted at
 * once; other nexuses are told nothing (SAM-5 6.3.4).  If the same I_T nexus
 * (initiator port name with its ISID, same relative target port) logs in
 * again, it is told I_T NEXUS LOSS OCCURRED (a new one is told nothing): the
 * last SCST_LOST_NEXUS_MAX lost nexuses are remembered for that. */

static bool is_reset_ua(uint16_t asc) { return (asc >> 8) == 0x29; }

void scst_ua_add(struct scst_nexus *nx, uint16_t asc)
{
    for (unsigned i = 0; i < nx->nua; i++)
        if (nx->ua[i] == asc)
            return;
    if (is_reset_ua(asc))
        nx->nua = 0; /* a reset supersedes what was pending */
    if (nx->nua == SCST_UA_MAX) {
        memmove(nx->ua, nx->ua + 1, (SCST_UA_MAX - 1) * sizeof(nx->ua[0]));
        nx->nua--;
    }
    nx->ua[nx->nua++] = asc;
}

bool scst_ua_pop(struct scst_nexus *nx, uint16_t *asc)
{
    if (!nx->nua)
        return false;
    *asc = nx->ua[0];
    nx->nua--;
    memmove(nx->ua, nx->ua + 1, nx->nua * sizeof(nx->ua[0]));
    return true;
}

void scst_ua_clear(struct scst_nexus *nx) { nx->nua = 0; }

void scst_ua_dev(struct scst_device *dev, uint16_t asc, const struct scst_session *skip)
{
    for (struct scst_nexus *nx = dev->nexus_head; nx; nx = nx->dev_next)
        if (nx->sess != skip)
            scst_ua_add(nx, asc);
}

/* ---- nexuses ------------------------------------------------------------------------- */

static struct scst_nexus *nexus_new(struct scst_session *s, const struct scst_lun_map *m)
{
    struct scst_nexus *nx = umc_alloc(s->core->node, sizeof(*nx));
    nx->sess = s;
    nx->dev = m->dev;
    nx->lun = m->lun;
    nx->read_only = m->read_only;
    struct scst_device *dev = m->dev;
    nx->dev_next = dev->nexus_head;
    if (dev->nexus_head)
        dev->nexus_head->dev_prev = nx;
    dev->nexus_head = nx;
    nx->opened = scst_device_open(dev) == 0;
    return nx;
}

static void nexus_free(struct scst_nexus *nx)
{
    struct scst_device *dev = nx->dev;
    if (nx->opened)
        scst_device_close(dev);
    umc_free(dev->core->node, nx);
}

/* Unmapped: no more unit attentions or new commands; freed when idle. */
static void nexus_retire(struct scst_nexus *nx)
{
    struct scst_device *dev = nx->dev;
    if (nx->prevent) {
        nx->prevent = false;
        dev->prevent_count--;
    }
    if (dev->spc2_holder == nx->sess) {
        bool other = false;
        for (struct scst_nexus *o = dev->nexus_head; o; o = o->dev_next)
            other |= o != nx && o->sess == nx->sess;
        if (!other)
            dev->spc2_holder = NULL;
    }
    if (nx->dev_prev)
        nx->dev_prev->dev_next = nx->dev_next;
    else
        dev->nexus_head = nx->dev_next;
    if (nx->dev_next)
        nx->dev_next->dev_prev = nx->dev_prev;
    nx->dev_prev = nx->dev_next = NULL;
    nx->gone = true;
    if (!nx->refs)
        nexus_free(nx);
}

void scst_nexus_put(struct scst_nexus *nx)
{
    if (nx->refs)
        nx->refs--;
    if (nx->gone && !nx->refs)
        nexus_free(nx);
}

struct scst_nexus *scst_session_nexus(struct scst_session *s, uint64_t lun)
{
    size_t lo = 0, hi = s->nnexus;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t l = s->nexus[mid]->lun;
        if (l == lun)
            return s->nexus[mid];
        if (l < lun)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static size_t count_luns(const struct scst_group *g)
{
    size_t n = 0;
    for (const struct scst_lun_map *m = g ? g->luns : NULL; m; m = m->next)
        n++;
    return n;
}

#define NO_UA 0xffffu

/* Rebuild the nexus array from the group's map, keeping nexuses that did
 * not change; new ones get first_ua (0: a remap, REPORTED LUNS DATA HAS
 * CHANGED; NO_UA: none).  Returns true if the LUN inventory changed. */
static bool session_map(struct scst_session *s, struct scst_group *g, uint16_t first_ua)
{
    struct umc_node *n = s->core->node;
    size_t count = count_luns(g);
    struct scst_nexus **v = count ? umc_alloc(n, count * sizeof(*v)) : NULL;
    bool changed = false;
    size_t i = 0;
    for (const struct scst_lun_map *m = g ? g->luns : NULL; m; m = m->next, i++) {
        struct scst_nexus *old = scst_session_nexus(s, m->lun);
        if (old && old->dev == m->dev) {
            old->read_only = m->read_only;
            old->kept = true;
            v[i] = old;
            continue;
        }
        v[i] = nexus_new(s, m);
        if (first_ua != NO_UA)
            scst_ua_add(v[i], first_ua ? first_ua : ASC_REPORTED_LUNS_CHANGED);
        changed = true;
    }
    for (size_t j = 0; j < s->nnexus; j++) {
        struct scst_nexus *old = s->nexus[j];
        if (old->kept) {
            old->kept = false;
            continue;
        }
        nexus_retire(old);
        changed = true;
    }
    umc_free(n, s->nexus);
    s->nexus = v;
    s->nnexus = count;
    return changed;
}

void scst_sessions_remap(struct scst_core *core, struct scst_target *tgt)
{
    for (struct scst_session *s = core->sessions; s; s = s->next) {
        if (s->tgt != tgt || s->closing)
            continue;
        s->group = scst_group_for_initiator(tgt, s->initiator);
        if (session_map(s, s->group, 0))
            for (size_t i = 0; i < s->nnexus; i++)
                scst_ua_add(s->nexus[i], ASC_REPORTED_LUNS_CHANGED);
    }
}

/* ---- lost I_T nexuses ------------------------------------------------------------------ */

static bool lost_nexus_matches(const struct scst_lost_nexus *l, const struct scst_session *s)
{
    return l->tpid == s->tpid && strcmp(l->target, s->tgt->name) == 0 &&
           strcmp(l->initiator_port, s->initiator_port) == 0;
}

static void lost_nexus_free(struct scst_core *core, struct scst_lost_nexus *l)
{
    umc_free(core->node, l->target);
    umc_free(core->node, l->initiator_port);
    umc_free(core->node, l);
}

/* Was s's I_T nexus lost before?  Then it is forgotten and true returned. */
static bool lost_nexus_take(struct scst_core *core, const struct scst_session *s)
{
    for (struct scst_lost_nexus **pp = &core->lost; *pp; pp = &(*pp)->next) {
        struct scst_lost_nexus *l = *pp;
        if (lost_nexus_matches(l, s)) {
            *pp = l->next;
            core->nlost--;
            lost_nexus_free(core, l);
            return true;
        }
    }
    return false;
}

static void lost_nexus_remember(struct scst_core *core, const struct scst_session *s)
{
    if (!s->tgt)
        return;
    struct umc_node *n = core->node;
    lost_nexus_take(core, s); /* once each, the newest loss last */
    if (core->nlost == SCST_LOST_NEXUS_MAX) {
        struct scst_lost_nexus *oldest = core->lost;
        core->lost = oldest->next;
        core->nlost--;
        lost_nexus_free(core, oldest);
    }
    struct scst_lost_nexus *l = umc_alloc(n, sizeof(*l));
    l->target = umc_strdup(n, s->tgt->name);
    l->initiator_port = umc_strdup(n, s->initiator_port);
    l->tpid = s->tpid;
    struct scst_lost_nexus **pp = &core->lost;
    while (*pp)
        pp = &(*pp)->next;
    *pp = l;
    core->nlost++;
}

void scst_lost_nexus_free_all(struct scst_core *core)
{
    while (core->lost) {
        struct scst_lost_nexus *l = core->lost;
        core->lost = l->next;
        lost_nexus_free(core, l);
    }
    core->nlost = 0;
}

/* ---- sessions -------------------------------------------------------------------------- */

struct scst_session *scst_session_new(struct scst_core *core, const char *target,
                                      const char *initiator, const char *initiator_port,
                                      uint16_t target_port_id, int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    struct scst_target *t = scst_target_lookup(core, target);
    if (!t || !t->enabled) {
        *err = -ENOENT;
        return NULL;
    }
    if (!initiator || !initiator[0] || (t->allowed && !scst_name_list_has(t->allowed, initiator))) {
        *err = -EACCES;
        return NULL;
    }
    struct umc_node *n = core->node;
    struct scst_session *s = umc_alloc(n, sizeof(*s));
    s->core = core;
    s->tgt = t;
    s->initiator = umc_strdup(n, initiator);
    s->initiator_port = umc_strdup(n, initiator_port && initiator_port[0] ? initiator_port : initiator);
    s->tpid = target_port_id;
    s->group = scst_group_for_initiator(t, initiator);
    session_map(s, s->group, lost_nexus_take(core, s) ? ASC_NEXUS_LOSS : NO_UA);
    struct scst_session **pp = &core->sessions;
    while (*pp)
        pp = &(*pp)->next;
    *pp = s;
    *err = 0;
    umc_info(n, SCST_COMPONENT, "session %s -> %s (%zu LUNs)", s->initiator_port, t->name, s->nnexus);
    return s;
}

const char *scst_session_initiator(const struct scst_session *s) { return s->initiator; }
const char *scst_session_target(const struct scst_session *s) { return s->tgt ? s->tgt->name : ""; }

void scst_foreach_session(struct scst_core *core, scst_session_fn fn, void *arg)
{
    for (struct scst_session *s = core->sessions; s; s = s->next) {
        struct scst_session_info info = {.target = scst_session_target(s), .initiator = s->initiator,
                                         .initiator_port = s->initiator_port,
                                         .commands = s->commands, .in_flight = s->in_flight};
        fn(arg, &info);
    }
}

static void unlink_session(struct scst_core *core, struct scst_session *s)
{
    for (struct scst_session **pp = &core->sessions; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            return;
        }
    }
}

/* Commands the transport still holds keep working memory but lose the session. */
static void detach_commands(struct scst_session *s)
{
    while (s->cmds) {
        struct scst_cmd_private *p = s->cmds;
        s->cmds = p->sess_next;
        p->sess_prev = p->sess_next = NULL;
        p->sess = NULL;
        if (p->nx) {
            scst_nexus_put(p->nx);
            p->nx = NULL;
        }
    }
}

static void session_free(struct scst_session *s)
{
    struct umc_node *n = s->core->node;
    detach_commands(s);
    for (size_t i = 0; i < s->nnexus; i++)
        nexus_retire(s->nexus[i]);
    umc_free(n, s->nexus);
    scst_copy_results_free(s);
    unlink_session(s->core, s);
    umc_info(n, SCST_COMPONENT, "session %s closed", s->initiator_port);
    umc_free(n, s->initiator);
    umc_free(n, s->initiator_port);
    umc_free(n, s);
}

static void close_check(void *arg)
{
    struct scst_session *s = arg;
    s->close_check_pending = false;
    if (s->in_flight || s->closed_called)
        return;
    s->closed_called = true;
    if (s->closed)
        s->closed(s->closed_arg);
    session_free(s);
}

void scst_session_cmd_done(struct scst_session *s)
{
    if (!s->closing || s->close_check_pending || s->closed_called)
        return;
    s->close_check_pending = true;
    umc_defer(s->core->node, close_check, s);
}

/* Nexus loss: SPC-2 reservations and PREVENT go, queued commands are aborted. */
static void drop_nexus_state(struct scst_session *s)
{
    for (size_t i = 0; i < s->nnexus; i++) {
        struct scst_nexus *nx = s->nexus[i];
        struct scst_device *dev = nx->dev;
        if (nx->prevent) {
            nx->prevent = false;
            dev->prevent_count--;
        }
        scst_spc2_release_session(dev, s);
        scst_abort_dev_tasks(dev, s, s, NULL);
    }
    for (struct scst_cmd_private *p = s->cmds; p; p = p->sess_next) {
        if (p->state == CMD_PARSED) {
            p->abort_requested = true;
            p->abort_silent = true;
        }
    }
}

void scst_session_close(struct scst_session *s, void (*closed)(void *arg), void *arg)
{
    if (s->closing) {
        if (closed && !s->closed) {
            s->closed = closed;
            s->closed_arg = arg;
        }
        return;
    }
    s->closing = true;
    s->closed = closed;
    s->closed_arg = arg;
    lost_nexus_remember(s->core, s);
    drop_nexus_state(s);
    s->close_check_pending = true;
    umc_defer(s->core->node, close_check, s);
}

void scst_target_orphan_sessions(struct scst_target *tgt)
{
    for (struct scst_session *s = tgt->core->sessions; s; s = s->next) {
        if (s->tgt != tgt)
            continue;
        drop_nexus_state(s);
        session_map(s, NULL, 0);
        s->tgt = NULL;
        s->group = NULL;
    }
}

/* Core teardown with sessions left over: free them without ceremony. */
void scst_sessions_free_all(struct scst_core *core)
{
    while (core->sessions) {
        struct scst_session *s = core->sessions;
        s->closing = true;
        s->closed_called = true;
        session_free(s);
    }
}
