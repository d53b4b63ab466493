/* The umc network backend over faultnet: listeners, connections, events,
 * closing, and what a node crash does to the network. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "faultnet/faultnet.h"
#include "faultnet/faultnet_internal.h"

/* ---- event delivery --------------------------------------------------------------- */

/* Queue an event; it is delivered from the connection's own (node-owned) timer,
 * never from inside faultnet's work, and not before the listener handed the
 * connection to its owner. */
static void conn_post(struct fn_conn *c, unsigned ev)
{
    c->events |= ev;
    if (!c->backlog && !mte_timer_armed(&c->event_timer))
        umc_timer_arm_in(c->base.node, &c->event_timer, 0);
}

static size_t conn_unread(const struct fn_conn *c)
{
    return c->pipe && !c->connecting ? fn_flow_in(c->pipe, c->side)->rx.bytes : 0;
}

static unsigned take_next_event(struct fn_conn *c)
{
    for (unsigned ev = FN_EV_CONNECT; ev <= FN_EV_CLOSE; ev <<= 1) {
        if (c->events & ev) {
            c->events &= ~ev;
            return ev;
        }
    }
    return 0;
}

/* One callback per firing: the callback may free the connection. */
static void conn_event_fired(void *arg)
{
    struct fn_conn *c = arg;
    unsigned ev = take_next_event(c);
    if (c->events)
        umc_timer_arm_in(c->base.node, &c->event_timer, 0);
    switch (ev) {
    case FN_EV_CONNECT:
        umc_conn_event_connect(&c->base);
        break;
    case FN_EV_READABLE:
        if (conn_unread(c) && !c->paused)
            umc_conn_event_readable(&c->base);
        break;
    case FN_EV_WRITABLE:
        umc_conn_event_writable(&c->base);
        break;
    case FN_EV_CLOSE:
        umc_conn_event_close(&c->base, c->close_err);
        break;
    }
}

static void conn_post_close(struct fn_conn *c, int err)
{
    c->close_err = err;
    conn_post(c, FN_EV_CLOSE);
}

void fn_conn_data_arrived(struct fn_conn *c)
{
    if (!c->paused)
        conn_post(c, FN_EV_READABLE);
}

/* EOF once the FIN arrived and every byte before it was read. */
void fn_conn_check_eof(struct fn_conn *c)
{
    if (!c->pipe || c->paused || c->eof_posted)
        return;
    struct fn_flow *in = fn_flow_in(c->pipe, c->side);
    if (in->fin_arrived && !in->rx.bytes) {
        c->eof_posted = true;
        conn_post_close(c, 0);
    }
}

void fn_conn_queue_drained(struct fn_conn *c) { conn_post(c, FN_EV_WRITABLE); }

/* ---- connection objects ------------------------------------------------------------- */

static void connect_timed_out(void *arg);

static struct fn_conn *conn_new(struct umc_node *n)
{
    struct fn_conn *c = umc_conn_alloc(n, &faultnet_backend_ops, sizeof(*c));
    umc_timer_init(n, &c->event_timer, conn_event_fired, c);
    umc_timer_init(n, &c->connect_timer, connect_timed_out, c);
    return c;
}

static void conn_attach(struct fn_conn *c, struct fn_pipe *p, int side)
{
    struct fn_end *me = &p->end[side], *peer = &p->end[1 - side];
    me->state = FN_END_OPEN;
    me->conn = c;
    c->pipe = p;
    c->side = side;
    snprintf(c->base.local, sizeof(c->base.local), "%s:%u", me->host->ip, me->port);
    snprintf(c->base.peer, sizeof(c->base.peer), "%s:%u", peer->host->ip, peer->port);
}

static void detach_flows(struct fn_end *me, struct fn_end *peer, enum fn_detach how)
{
    struct fn_flow *out = &me->out, *in = &peer->out;
    switch (how) {
    case FN_DETACH_GRACEFUL: /* queued bytes and the FIN still leave */
        out->fin_queued = true;
        fn_flow_drop_rx(in);
        break;
    case FN_DETACH_ABORT:
        fn_flow_drop_queue(out);
        fn_flow_drop_air(out);
        fn_flow_drop_rx(in);
        if (peer->state == FN_END_OPEN)
            fn_flow_send_ctrl(out, FN_SEG_RST);
        break;
    case FN_DETACH_SILENT: /* what is on the wire lands; nothing is acknowledged again */
        fn_flow_drop_queue(out);
        in->stuck += in->rx.bytes;
        fn_flow_drop_rx(in);
        in->lost = true;
        break;
    case FN_DETACH_RESET:
        fn_flow_drop_queue(out);
        fn_flow_drop_air(out);
        fn_flow_drop_rx(in);
        fn_flow_drop_air(in);
        break;
    }
}

/* Take the end out of its pipe, as `how` says; err != 0 tells the owner. */
void fn_end_detach(struct fn_pipe *p, int side, enum fn_detach how, int err)
{
    struct fn_end *me = &p->end[side], *peer = &p->end[1 - side];
    struct fn_conn *c = me->conn;
    detach_flows(me, peer, how);
    me->state = FN_END_GONE;
    me->conn = NULL;
    if (c) {
        c->pipe = NULL;
        c->err = err ? err : -EPIPE;
        c->events &= ~(FN_EV_CONNECT | FN_EV_READABLE | FN_EV_WRITABLE);
        umc_timer_cancel(c->base.node, &c->connect_timer);
        if (err)
            conn_post_close(c, err);
    }
    /* pushed only now, so no writable is posted to the leaving connection */
    if (how == FN_DETACH_GRACEFUL)
        fn_flow_push(&me->out);
    else if (how == FN_DETACH_ABORT)
        fn_flow_push(&peer->out); /* its window opened; what comes is dropped */
}

/* A connection that failed before reaching the network. */
static void conn_fail_early(struct fn_conn *c, const char *addr, int err)
{
    snprintf(c->base.peer, sizeof(c->base.peer), "%s", addr);
    c->err = err;
    conn_post_close(c, err);
}

static void connect_timed_out(void *arg)
{
    struct fn_conn *c = arg;
    struct fn_pipe *p = c->pipe;
    if (!p || !c->connecting)
        return;
    p->fn->stats.timeouts++;
    fn_end_detach(p, c->side, FN_DETACH_ABORT, -ETIMEDOUT);
    fn_pipe_maybe_free(p);
}

/* ---- listeners ---------------------------------------------------------------------- */

static struct fn_listener *listener_find(struct fn_host *h, uint32_t port)
{
    for (struct fn_listener *l = h->listeners; l; l = l->next)
        if (l->port == port)
            return l;
    return NULL;
}

static uint32_t next_ephemeral_port(struct fn_host *h)
{
    uint32_t port = h->next_port;
    h->next_port = port >= FN_PORT_LAST_EPHEMERAL ? FN_PORT_FIRST_EPHEMERAL : port + 1;
    return port;
}

static uint32_t free_listen_port(struct fn_host *h)
{
    for (uint32_t tries = FN_PORT_FIRST_EPHEMERAL; tries <= FN_PORT_LAST_EPHEMERAL; tries++) {
        uint32_t port = next_ephemeral_port(h);
        if (!listener_find(h, port))
            return port;
    }
    return 0;
}

static void accept_fired(void *arg);

static struct umc_listener *fn_listen(struct umc_node *n, const char *addr, int *err)
{
    struct fn_host *self = umc_net_ctx(n), *h;
    uint32_t port;
    *err = self ? fn_parse_addr(self, addr, &h, &port) : -ENETDOWN;
    if (!*err && h != self)
        *err = -EADDRNOTAVAIL;
    if (!*err && !port && !(port = free_listen_port(self)))
        *err = -EADDRINUSE;
    if (!*err && listener_find(self, port))
        *err = -EADDRINUSE;
    if (*err)
        return NULL;
    struct fn_listener *l = umc_listener_alloc(n, &faultnet_backend_ops, sizeof(*l));
    l->host = self;
    l->port = port;
    umc_timer_init(n, &l->accept_timer, accept_fired, l);
    snprintf(l->base.addr, sizeof(l->base.addr), "%s:%u", self->ip, port);
    l->prev = self->listeners_tail;
    if (self->listeners_tail)
        self->listeners_tail->next = l;
    else
        self->listeners = l;
    self->listeners_tail = l;
    self->down = false;
    return &l->base;
}

void fn_listener_unhook(struct fn_listener *l)
{
    struct fn_host *h = l->host;
    if (!h)
        return;
    if (l->prev)
        l->prev->next = l->next;
    else
        h->listeners = l->next;
    if (l->next)
        l->next->prev = l->prev;
    else
        h->listeners_tail = l->prev;
    l->prev = l->next = NULL;
    l->host = NULL;
}

static struct fn_conn *backlog_pop(struct fn_listener *l)
{
    struct fn_conn *c = l->backlog_head;
    if (c) {
        l->backlog_head = c->backlog_next;
        if (!l->backlog_head)
            l->backlog_tail = NULL;
        c->backlog_next = NULL;
        c->backlog = NULL;
    }
    return c;
}

static void backlog_remove(struct fn_conn *c)
{
    struct fn_listener *l = c->backlog;
    struct fn_conn **pp = &l->backlog_head, *prev = NULL;
    while (*pp != c) {
        prev = *pp;
        pp = &(*pp)->backlog_next;
    }
    *pp = c->backlog_next;
    if (l->backlog_tail == c)
        l->backlog_tail = prev;
    c->backlog_next = NULL;
    c->backlog = NULL;
}

static void backlog_push(struct fn_listener *l, struct fn_conn *c)
{
    c->backlog = l;
    if (l->backlog_tail)
        l->backlog_tail->backlog_next = c;
    else
        l->backlog_head = c;
    l->backlog_tail = c;
    if (!mte_timer_armed(&l->accept_timer))
        umc_timer_arm_in(l->base.node, &l->accept_timer, 0);
}

/* Hand one connection to the owner per firing (the callback may close l). */
static void accept_fired(void *arg)
{
    struct fn_listener *l = arg;
    struct fn_conn *c = backlog_pop(l);
    if (!c)
        return;
    if (l->backlog_head)
        umc_timer_arm_in(l->base.node, &l->accept_timer, 0);
    if (c->events)
        umc_timer_arm_in(c->base.node, &c->event_timer, 0);
    umc_listener_event_accept(&l->base, &c->base);
}

static void fn_close(struct umc_conn *base, bool abort);

static void fn_listener_close(struct umc_listener *base)
{
    struct fn_listener *l = (struct fn_listener *)base;
    struct fn_conn *c;
    umc_timer_cancel(base->node, &l->accept_timer);
    while ((c = backlog_pop(l))) { /* never handed over: the kernel resets them */
        c->base.closed_by_owner = true;
        fn_close(&c->base, true);
    }
    fn_listener_unhook(l);
    umc_listener_release(base);
}

/* ---- arrivals that change a connection's state ------------------------------------- */

void fn_on_syn(struct fn_pipe *p)
{
    struct fn_end *srv = &p->end[1];
    struct fn_listener *l = listener_find(srv->host, srv->port);
    if (!l) {
        srv->state = FN_END_GONE;
        fn_flow_send_ctrl(&srv->out, FN_SEG_RST);
        return;
    }
    struct fn_conn *c = conn_new(l->base.node);
    conn_attach(c, p, 1);
    c->paused = true; /* until the owner sets its ops */
    srv->out.open = true;
    fn_flow_send_ctrl(&srv->out, FN_SEG_SYNACK);
    backlog_push(l, c);
}

void fn_on_synack(struct fn_pipe *p)
{
    struct fn_conn *c = p->end[0].conn;
    if (!c->connecting)
        return;
    c->connecting = false;
    umc_timer_cancel(c->base.node, &c->connect_timer);
    p->end[0].out.open = true;
    conn_post(c, FN_EV_CONNECT);
    fn_flow_push(&p->end[0].out);
}

void fn_on_rst(struct fn_pipe *p, int side)
{
    struct fn_conn *c = p->end[side].conn;
    if (p->end[side].state != FN_END_OPEN)
        return;
    int err = c->connecting ? -ECONNREFUSED : -ECONNRESET;
    if (c->connecting)
        p->fn->stats.refused++;
    else
        p->fn->stats.resets++;
    fn_end_detach(p, side, FN_DETACH_RESET, err);
}

/* ---- the backend operations -------------------------------------------------------- */

static struct umc_conn *fn_connect(struct umc_node *n, const char *addr)
{
    struct fn_host *self = umc_net_ctx(n), *dst;
    struct fn_conn *c = conn_new(n);
    uint32_t port;
    int err = self ? fn_parse_addr(self, addr, &dst, &port) : -ENETDOWN;
    if (err) {
        conn_fail_early(c, addr, err);
        return &c->base;
    }
    struct faultnet *fn = self->fn;
    fn->stats.connects++;
    self->down = false;
    struct fn_pipe *p = fn_pipe_new(fn, self, next_ephemeral_port(self), dst, port);
    conn_attach(c, p, 0);
    c->connecting = true;
    fn_flow_send_ctrl(&p->end[0].out, FN_SEG_SYN);
    if (fn->params.connect_timeout)
        umc_timer_arm_in(n, &c->connect_timer, fn->params.connect_timeout);
    return &c->base;
}

static ssize_t fn_read(struct umc_conn *base, void *buf, size_t len)
{
    struct fn_conn *c = (struct fn_conn *)base;
    if (!c->pipe)
        return c->err;
    if (c->connecting)
        return 0;
    struct fn_flow *in = fn_flow_in(c->pipe, c->side);
    size_t n = fn_flow_read(in, buf, len);
    if (n)
        fn_flow_push(in); /* the window opened for the peer */
    if (!in->rx.bytes)
        c->events &= ~FN_EV_READABLE;
    else if (n && !c->paused) /* progress made, more waiting: say so again */
        conn_post(c, FN_EV_READABLE);
    fn_conn_check_eof(c);
    return (ssize_t)n;
}

static int fn_send(struct umc_conn *base, const struct iovec *iov, unsigned iovcnt)
{
    struct fn_conn *c = (struct fn_conn *)base;
    if (!c->pipe)
        return c->err;
    fn_flow_send(&c->pipe->end[c->side].out, iov, iovcnt);
    return 0;
}

static size_t fn_queued(const struct umc_conn *base)
{
    const struct fn_conn *c = (const struct fn_conn *)base;
    return c->pipe ? c->pipe->end[c->side].out.queue.bytes : 0;
}

static void fn_pause_recv(struct umc_conn *base, bool paused)
{
    struct fn_conn *c = (struct fn_conn *)base;
    c->paused = paused;
    if (paused) {
        c->events &= ~FN_EV_READABLE;
        return;
    }
    if (conn_unread(c))
        conn_post(c, FN_EV_READABLE);
    fn_conn_check_eof(c);
}

/* Always released now: a graceful close leaves its queue and FIN to the pipe. */
static void fn_close(struct umc_conn *base, bool abort)
{
    struct fn_conn *c = (struct fn_conn *)base;
    struct fn_pipe *p = c->pipe;
    if (c->backlog)
        backlog_remove(c);
    if (p) {
        bool graceful = !abort && !c->connecting;
        fn_end_detach(p, c->side, graceful ? FN_DETACH_GRACEFUL : FN_DETACH_ABORT, 0);
        fn_pipe_maybe_free(p);
    }
    umc_timer_cancel(base->node, &c->event_timer);
    umc_timer_cancel(base->node, &c->connect_timer);
    umc_conn_release(base);
}

/* Unhook every end of node n; its memory (connections included) is freed
 * after this returns, and none of its callbacks may run. */
static void crash_pipe_ends(struct faultnet *fn, struct umc_node *n, struct fn_host *h, bool silent)
{
    struct fn_pipe *p = fn->pipes, *next;
    for (; p; p = next) {
        next = p->next;
        for (int side = 0; side < 2; side++) {
            struct fn_end *e = &p->end[side];
            if (e->conn && e->conn->base.node == n) {
                umc_timer_cancel(n, &e->conn->event_timer);
                umc_timer_cancel(n, &e->conn->connect_timer);
                fn_end_detach(p, side, silent ? FN_DETACH_SILENT : FN_DETACH_ABORT, 0);
            } else if (silent && e->host == h && e->state == FN_END_GONE) {
                fn_flow_drop_queue(&e->out); /* the kernel's leftovers die with it */
            }
        }
        fn_pipe_maybe_free(p);
    }
}

static void fn_node_crash(struct umc_node *n)
{
    struct fn_host *h = umc_net_ctx(n);
    if (!h)
        return;
    bool silent = h->crash_mode == FAULTNET_CRASH_SILENT;
    fn_trace(h->fn, "%s on %s crashed (%s)", umc_node_name(n), h->name, silent ? "silent" : "reset");
    struct fn_listener *l = h->listeners, *next;
    for (; l; l = next) {
        next = l->next;
        if (l->base.node == n) {
            umc_timer_cancel(n, &l->accept_timer);
            fn_listener_unhook(l);
        }
    }
    crash_pipe_ends(h->fn, n, h, silent);
    if (silent)
        h->down = true;
}

const struct umc_net_backend faultnet_backend_ops = {
    .name = "faultnet",
    .listen = fn_listen,
    .connect = fn_connect,
    .listener_close = fn_listener_close,
    .read = fn_read,
    .send = fn_send,
    .queued = fn_queued,
    .pause_recv = fn_pause_recv,
    .close = fn_close,
    .node_crash = fn_node_crash,
};

const struct umc_net_backend *faultnet_backend(void) { return &faultnet_backend_ops; }
