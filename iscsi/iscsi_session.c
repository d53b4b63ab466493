/* Target sessions: life cycle, the CmdSN window, and the task pool with its
 * ITT index. */
#include "iscsi/iscsi_target.h"

static void session_link(struct iscsi_server *srv, struct iscsi_session *s)
{
    s->prev = srv->sessions_tail;
    if (srv->sessions_tail)
        srv->sessions_tail->next = s;
    else
        srv->sessions = s;
    srv->sessions_tail = s;
}

static void session_unlink(struct iscsi_session *s)
{
    struct iscsi_server *srv = s->srv;
    if (s->prev)
        s->prev->next = s->next;
    else
        srv->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        srv->sessions_tail = s->prev;
    s->prev = s->next = NULL;
}

struct iscsi_session *iscsi_session_new(struct iscsi_server *srv, const struct iscsi_neg *neg,
                                        uint64_t isid, const struct iscsi_target_params *p)
{
    struct umc_node *n = srv->node;
    struct iscsi_session *s = umc_alloc(n, sizeof(*s));
    s->srv = srv;
    s->discovery = neg->discovery;
    s->initiator = umc_strdup(n, neg->initiator_name);
    s->target = umc_strdup(n, neg->discovery ? "" : neg->target_name);
    s->isid = isid;
    s->tsih = iscsi_server_new_tsih(srv);
    s->window = p->queued_commands;
    uint32_t buckets = 16;
    while (buckets < 2 * s->window)
        buckets *= 2;
    s->hash = umc_alloc(n, buckets * sizeof(*s->hash));
    s->hash_mask = buckets - 1;
    s->next_ttt = 1;
    srv->allocated_sessions++;
    session_link(srv, s);
    return s;
}

struct iscsi_session *iscsi_session_find(struct iscsi_server *srv, const char *initiator,
                                         const char *target, uint64_t isid, bool discovery)
{
    for (struct iscsi_session *s = srv->sessions; s; s = s->next)
        if (s->isid == isid && s->discovery == discovery && !strcmp(s->initiator, initiator) &&
            (discovery || !strcmp(s->target, target)))
            return s;
    return NULL;
}

struct iscsi_session *iscsi_session_by_tsih(struct iscsi_server *srv, uint16_t tsih)
{
    for (struct iscsi_session *s = srv->sessions; s; s = s->next)
        if (s->tsih == tsih)
            return s;
    return NULL;
}

/* ---- the window ------------------------------------------------------------------------------ */

/* MaxCmdSN admits as many new commands as free slots; it never moves back. */
uint32_t iscsi_session_max_cmdsn(struct iscsi_session *s)
{
    uint32_t room = s->window > s->active ? s->window - s->active : 0;
    uint32_t max = s->exp_cmdsn - 1 + room;
    if (iscsi_sn_lt(s->max_cmdsn, max))
        s->max_cmdsn = max;
    return s->max_cmdsn;
}

bool iscsi_session_cmdsn_ok(struct iscsi_session *s, const uint8_t *bhs)
{
    if (iscsi_hdr_immediate(bhs))
        return true;
    uint32_t cmdsn = iscsi_get32(bhs, ISCSI_OFF_CMDSN);
    if (!iscsi_sn_le(s->exp_cmdsn, cmdsn) || !iscsi_sn_le(cmdsn, iscsi_session_max_cmdsn(s)))
        return false;
    if (cmdsn == s->exp_cmdsn) {
        s->exp_cmdsn++;
        iscsi_admit_held(s);
    }
    return true;
}

/* A rejected command still uses up its CmdSN (ERL 0 never retries it), or the
 * window would stop at it for good. */
void iscsi_session_consume_cmdsn(struct iscsi_session *s, const uint8_t *bhs)
{
    unsigned op = iscsi_hdr_opcode(bhs);
    if (iscsi_hdr_immediate(bhs) || op == ISCSI_OP_DATA_OUT || op == ISCSI_OP_SNACK ||
        op > ISCSI_OP_LOGOUT_REQ)
        return;
    if (iscsi_get32(bhs, ISCSI_OFF_CMDSN) == s->exp_cmdsn) {
        s->exp_cmdsn++;
        iscsi_admit_held(s);
    }
}

/* ---- tasks ------------------------------------------------------------------------------------- */

static inline uint32_t itt_bucket(const struct iscsi_session *s, uint32_t itt)
{
    return (itt ^ (itt >> 12) ^ (itt >> 22)) & s->hash_mask;
}

struct iscsi_task *iscsi_task_get(struct iscsi_session *s)
{
    struct iscsi_task *t = s->free_tasks;
    if (t)
        s->free_tasks = t->next;
    else
        t = umc_alloc(s->srv->node, sizeof(*t));
    memset(t, 0, sizeof(*t));
    t->sess = s;
    t->epoch = s->epoch;
    t->prev = s->tasks_tail;
    if (s->tasks_tail)
        s->tasks_tail->next = t;
    else
        s->tasks = t;
    s->tasks_tail = t;
    return t;
}

void iscsi_task_hash_add(struct iscsi_task *t)
{
    struct iscsi_session *s = t->sess;
    uint32_t b = itt_bucket(s, t->itt);
    t->hash_next = s->hash[b];
    s->hash[b] = t;
    t->in_hash = true;
}

struct iscsi_task *iscsi_task_find(struct iscsi_session *s, uint32_t itt)
{
    for (struct iscsi_task *t = s->hash[itt_bucket(s, itt)]; t; t = t->hash_next)
        if (t->itt == itt)
            return t;
    return NULL;
}

static void hash_remove(struct iscsi_task *t)
{
    struct iscsi_session *s = t->sess;
    struct iscsi_task **pp = &s->hash[itt_bucket(s, t->itt)];
    while (*pp != t)
        pp = &(*pp)->hash_next;
    *pp = t->hash_next;
    t->in_hash = false;
}

void iscsi_task_uncount(struct iscsi_task *t)
{
    if (!t->counted)
        return;
    t->counted = false;
    if (t->immediate)
        t->sess->immediate_active--;
    else
        t->sess->active--;
}

/* A task ending with R2Ts unanswered gives their window back; the tasks
 * waiting for it are woken from a fresh event, not from inside whatever is
 * ending this one. */
static void release_r2ts(struct iscsi_task *t)
{
    struct iscsi_session *s = t->sess;
    if (!t->r2t_count)
        return;                                  /* the usual case: all answered */
    uint32_t freed = 0;
    for (unsigned i = 0; i < ISCSI_MAX_R2T; i++) {
        if (t->r2t[i].len)
            freed += t->r2t[i].len - t->r2t[i].got;
        t->r2t[i].len = 0;
    }
    t->r2t_count = 0;
    s->solicited -= freed;
    if (freed && s->r2t_blocked && s->conn && !mte_timer_armed(&s->conn->r2t_timer))
        umc_timer_arm_in(s->srv->node, &s->conn->r2t_timer, 0);
}

void iscsi_task_put(struct iscsi_task *t)
{
    struct iscsi_session *s = t->sess;
    release_r2ts(t);
    if (t->in_hash)
        hash_remove(t);
    iscsi_task_uncount(t);
    if (t->prev)
        t->prev->next = t->next;
    else
        s->tasks = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        s->tasks_tail = t->prev;
    t->next = s->free_tasks;
    s->free_tasks = t;
    if (s->ending)
        iscsi_session_maybe_free(s);
}

bool iscsi_itt_recently_aborted(struct iscsi_session *s, uint32_t itt)
{
    for (unsigned i = 0; i < ISCSI_ABORTED_RING; i++)
        if (s->aborted_itt[i] == itt && itt != ISCSI_RSVD_TAG)
            return true;
    return false;
}

static void remember_aborted(struct iscsi_session *s, uint32_t itt)
{
    s->aborted_itt[s->aborted_pos] = itt;
    s->aborted_pos = (s->aborted_pos + 1) % ISCSI_ABORTED_RING;
}

/* A task not (or no longer) in scst's hands.  One still waiting for its CmdSN
 * stays as a placeholder so the window can move past it. */
void iscsi_task_abort_local(struct iscsi_task *t)
{
    remember_aborted(t->sess, t->itt);
    if (t->parsed) {
        scst_cmd_release(&t->cmd);
        t->parsed = false;
    }
    t->aborted = true;
    if (t->in_hash)
        hash_remove(t);
    if (!t->held)
        iscsi_task_put(t);
}

/* ---- the end -------------------------------------------------------------------------------------- */

static void session_free(struct iscsi_session *s)
{
    struct umc_node *n = s->srv->node;
    struct iscsi_server *srv = s->srv;
    while (s->free_tasks) {
        struct iscsi_task *t = s->free_tasks;
        s->free_tasks = t->next;
        umc_free(n, t);
    }
    umc_free(n, s->hash);
    umc_free(n, s->initiator);
    umc_free(n, s->target);
    umc_free(n, s);
    iscsi_server_session_gone(srv);
}

void iscsi_session_maybe_free(struct iscsi_session *s)
{
    if (s->ending && s->scst_closed && !s->tasks && !s->tmfs_pending)
        session_free(s);
}

static void scst_closed(void *arg)
{
    struct iscsi_session *s = arg;
    s->scst_closed = true;
    iscsi_session_maybe_free(s);
}

/* Abort every task still gathering data or waiting for its CmdSN; the ones
 * scst is running finish on their own. */
static void abort_unstarted_tasks(struct iscsi_session *s)
{
    s->held = NULL;
    for (struct iscsi_task *t = s->tasks, *next; t; t = next) {
        next = t->next;
        if (!t->executing) {
            t->held = false;
            iscsi_task_abort_local(t);
        }
    }
}

void iscsi_session_end(struct iscsi_session *s)
{
    if (s->ending)
        return;
    s->ending = true;
    session_unlink(s);
    abort_unstarted_tasks(s);
    if (s->conn) {
        s->conn->sess = NULL;
        s->conn = NULL;
    }
    if (s->scst) {
        struct scst_session *ss = s->scst;
        s->scst = NULL;
        scst_session_close(ss, scst_closed, s);   /* may call back at once */
        return;
    }
    s->scst_closed = true;
    iscsi_session_maybe_free(s);
}

/* ---- connection reinstatement --------------------------------------------------------------- */

void iscsi_session_replace_conn(struct iscsi_session *s, struct iscsi_conn *conn, uint32_t cmdsn)
{
    struct iscsi_conn *old = s->conn;
    if (old) {
        old->sess = NULL;                /* so dropping it does not end the session */
        s->conn = NULL;
        iscsi_conn_drop(old, "connection reinstated by a new login");
    }
    s->epoch++;                          /* running tasks finish mute */
    abort_unstarted_tasks(s);
    s->r2t_blocked = s->r2t_waking = false;
    s->exp_cmdsn = cmdsn;                /* the initiator does not resend the dropped tasks */
    s->max_cmdsn = cmdsn - 1;
    iscsi_session_max_cmdsn(s);
    s->conn = conn;
    conn->sess = s;
}
