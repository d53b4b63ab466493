/* Role changes, agreed with every connected peer in two phases: prepare (each
 * peer votes), then commit or abort.  A promotion may be refused by a peer; a
 * demotion never is, but it still waits for the peers' replies so that when
 * `secondary` returns every peer already knows, and `primary` there succeeds. */
#include <stdio.h>

#include "drbd/drbd_admin_int.h"

static void twopc_packet(const struct drbd_resource *r, unsigned char p[10])
{
    drbd_put_be64(p, r->twopc_id);
    p[8] = (unsigned char)r->my_id;
    p[9] = (unsigned char)r->twopc_role;
}

static void twopc_end(struct drbd_resource *r, bool commit)
{
    struct drbd_cmd_ctx *x = r->twopc_cmd;
    r->twopc_cmd = NULL;
    umc_timer_cancel(r->node, &r->twopc_timer);
    unsigned char p[10];
    twopc_packet(r, p);
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_conn *c = r->conns[i];
        if (c->twopc_id != r->twopc_id)
            continue;
        c->twopc_id = 0;
        if (commit)
            drbd_send(c, P_TWOPC_COMMIT, -1, p, 10, false);
        else
            drbd_send(c, P_TWOPC_ABORT, -1, p, 8, false);
    }
    if (commit && r->twopc_role == DRBD_ROLE_PRIMARY) {
        char msg[160];
        if (drbd_may_promote(r, x->cmd.force, msg, sizeof(msg)))
            drbd_promote_now(r, x->cmd.force);
        else
            x->rc = -EIO, snprintf(x->msg, sizeof(x->msg), "%s", msg);
    }
    drbd_cmd_finish(x);
}

static void twopc_timeout(void *arg)
{
    struct drbd_resource *r = arg;
    struct drbd_cmd_ctx *x = r->twopc_cmd;
    if (!x)
        return;
    if (r->twopc_role == DRBD_ROLE_SECONDARY) {
        /* we are Secondary already; a silent peer learns it when it reconnects */
        umc_warn(r->node, DRBD_COMP, "%s: a peer did not confirm the demotion in time", r->cfg->name);
        twopc_end(r, true);
        return;
    }
    x->rc = -ETIMEDOUT;
    snprintf(x->msg, sizeof(x->msg), "State change failed: (-23) Timeout in operation");
    twopc_end(r, false);
}

static void twopc_check(struct drbd_resource *r)
{
    if (!r->twopc_cmd)
        return;
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_conn *c = r->conns[i];
        if (c->twopc_id != r->twopc_id)
            continue;
        if (c->twopc_vote < 0) {
            twopc_end(r, false);
            return;
        }
        if (c->twopc_vote == 0)
            return;
    }
    twopc_end(r, true);
}

/* Phase one: ask every connected peer; twopc_check ends it when all voted. */
static void twopc_start(struct drbd_cmd_ctx *x, enum drbd_role role)
{
    struct drbd_resource *r = x->r;
    r->twopc_cmd = x;
    r->twopc_role = role;
    r->twopc_id = (++r->next_twopc << 8) | (uint64_t)r->my_id;
    unsigned char p[10];
    twopc_packet(r, p);
    for (int i = 0; i < r->nconns; i++) {
        struct drbd_conn *c = r->conns[i];
        if (!drbd_conn_established(c))
            continue;
        c->twopc_id = r->twopc_id;
        c->twopc_vote = 0;
        drbd_send(c, P_TWOPC_PREPARE, -1, p, sizeof(p), false);
    }
    umc_timer_init(r->node, &r->twopc_timer, twopc_timeout, r);
    mte_time_t t = r->nconns ? (mte_time_t)r->conns[0]->net.timeout * 100 * MTE_MSEC : MTE_SEC;
    umc_timer_arm_in(r->node, &r->twopc_timer, t);
    twopc_check(r);
}

void drbd_cmd_primary(struct drbd_cmd_ctx *x)
{
    struct drbd_resource *r = x->r;
    char msg[160];
    if (r->role == DRBD_ROLE_PRIMARY) {
        drbd_cmd_reply(x, 0, "");
        return;
    }
    if (r->twopc_cmd) {
        drbd_cmd_reply(x, -EBUSY, "State change failed: (-19) Concurrent state changes detected "
                       "and aborted");
        return;
    }
    if (!drbd_may_promote(r, x->cmd.force, msg, sizeof(msg))) {
        drbd_cmd_reply(x, -EIO, msg);
        return;
    }
    if (drbd_peer_writes_landing(r)) {
        x->wait = WAIT_PROMOTE; /* drbd_cmd_waits_check runs us again */
        dl_add_tail(&r->cmd_waits, &x->link);
        return;
    }
    twopc_start(x, DRBD_ROLE_PRIMARY);
}

void drbd_cmd_secondary(struct drbd_cmd_ctx *x)
{
    struct drbd_resource *r = x->r;
    if (r->role != DRBD_ROLE_PRIMARY) {
        drbd_cmd_reply(x, 0, "");
        return;
    }
    if (drbd_res_open_for_write(r)) {
        drbd_cmd_reply(x, -EBUSY, DRBD_MSG_IN_USE);
        return;
    }
    x->wait = WAIT_SECONDARY;
    dl_add_tail(&r->cmd_waits, &x->link);
    drbd_cmd_waits_check(r);
}

/* Writes from above have drained (drbd_cmd_waits_check): demote, then tell
 * the peers and answer once they confirmed. */
void drbd_cmd_demote_when_idle(struct drbd_cmd_ctx *x)
{
    struct drbd_resource *r = x->r;
    dl_del(&x->link);
    if (drbd_res_open_for_write(r)) {
        x->rc = -EBUSY;
        snprintf(x->msg, sizeof(x->msg), "%s", DRBD_MSG_IN_USE);
        drbd_cmd_finish(x);
        return;
    }
    bool was_primary = r->role == DRBD_ROLE_PRIMARY;
    drbd_demote_now(r);
    if (!was_primary || r->twopc_cmd)
        drbd_cmd_finish(x); /* someone else demoted us, or a vote is running */
    else
        twopc_start(x, DRBD_ROLE_SECONDARY);
}

static void peer_role_is(struct drbd_conn *c, enum drbd_role role)
{
    if (c->peer_role != role) {
        c->peer_role = role;
        drbd_state_changed(c->res);
    }
}

/* A demoting peer's writes went out before its prepare, on the same stream:
 * we agree (and so stop seeing it as Primary) only once every one of them is
 * on our disk, or a primary here could read or overwrite older data and then
 * have a late write from the old primary land over its own. */
void drbd_twopc_demote_check(struct drbd_conn *c)
{
    if (!c->demote_pending || drbd_rx_writes_pending(c))
        return;
    c->demote_pending = false;
    drbd_twopc_rx_prepare(c, c->demote_twopc_id, c->peer_id, DRBD_ROLE_SECONDARY);
}

void drbd_twopc_rx_prepare(struct drbd_conn *c, uint64_t id, int node, int role)
{
    struct drbd_resource *r = c->res;
    const char *why = NULL;
    if (role == DRBD_ROLE_SECONDARY && node == c->peer_id && drbd_rx_writes_pending(c)) {
        c->demote_pending = true;
        c->demote_twopc_id = id;
        return;
    }
    if (role == DRBD_ROLE_SECONDARY)
        peer_role_is(c, DRBD_ROLE_SECONDARY); /* nothing to refuse: it already is */
    else if (r->role == DRBD_ROLE_PRIMARY && !c->net.allow_two_primaries)
        why = "State change failed: (-1) Multiple primaries not allowed by config";
    else if (r->twopc_cmd && r->twopc_role == DRBD_ROLE_PRIMARY && r->my_id < node)
        why = "State change failed: (-19) Concurrent state changes detected and aborted";
    for (int i = 0; !why && role == DRBD_ROLE_PRIMARY && i < r->nconns; i++) {
        struct drbd_conn *o = r->conns[i];
        if (o != c && o->cstate == DRBD_C_CONNECTED && o->peer_role == DRBD_ROLE_PRIMARY &&
            !o->net.allow_two_primaries)
            why = "State change failed: (-1) Multiple primaries not allowed by config";
    }
    unsigned char buf[160];
    struct drbd_wbuf w = {.p = buf, .cap = sizeof(buf)};
    drbd_put_u64(&w, id);
    drbd_put_u8(&w, why == NULL);
    drbd_put_str(&w, why ? why : "");
    drbd_send(c, P_TWOPC_REPLY, -1, buf, w.len, false);
}

void drbd_twopc_rx_reply(struct drbd_conn *c, uint64_t id, bool yes, const char *why)
{
    struct drbd_resource *r = c->res;
    if (!r->twopc_cmd || r->twopc_id != id || c->twopc_id != id)
        return;
    c->twopc_vote = yes ? 1 : -1;
    if (!yes && !r->twopc_cmd->rc) {
        r->twopc_cmd->rc = -EIO;
        snprintf(r->twopc_cmd->msg, sizeof(r->twopc_cmd->msg), "%s",
                 why[0] ? why : "State change failed: (-10) State change was refused by peer node");
    }
    twopc_check(r);
}

/* role < 0: abort. */
void drbd_twopc_rx_commit(struct drbd_conn *c, uint64_t id, int node, int role)
{
    (void)id;
    if (role < 0 || node != c->peer_id)
        return;
    peer_role_is(c, (enum drbd_role)role);
}

/* A peer that went away cannot vote against: it no longer holds us up. */
static void twopc_recheck(void *arg) { twopc_check(arg); }

void drbd_twopc_conn_lost(struct drbd_conn *c)
{
    struct drbd_resource *r = c->res;
    if (r->twopc_cmd && c->twopc_id == r->twopc_id && c->twopc_vote == 0) {
        c->twopc_id = 0;
        umc_defer(r->node, twopc_recheck, r);
    }
}
