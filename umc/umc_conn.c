/* Connections: the backend-independent half (ownership, event delivery). */
#include <errno.h>
#include <string.h>

#include "umc/umc.h"
#include "umc/umc_internal.h"

void *umc_conn_alloc(struct umc_node *n, const struct umc_net_backend *be, size_t size)
{
    struct umc_conn *c = umc_alloc(n, size);
    c->be = be;
    c->node = n;
    c->node_next = n->conns;
    if (n->conns)
        n->conns->node_prev = c;
    n->conns = c;
    return c;
}

void umc_conn_release(struct umc_conn *c)
{
    struct umc_node *n = c->node;
    if (c->node_prev)
        c->node_prev->node_next = c->node_next;
    else
        n->conns = c->node_next;
    if (c->node_next)
        c->node_next->node_prev = c->node_prev;
    umc_free(n, c);
}

void *umc_listener_alloc(struct umc_node *n, const struct umc_net_backend *be, size_t size)
{
    struct umc_listener *l = umc_alloc(n, size);
    l->be = be;
    l->node = n;
    l->node_next = n->listeners;
    if (n->listeners)
        n->listeners->node_prev = l;
    n->listeners = l;
    return l;
}

void umc_listener_release(struct umc_listener *l)
{
    struct umc_node *n = l->node;
    if (l->node_prev)
        l->node_prev->node_next = l->node_next;
    else
        n->listeners = l->node_next;
    if (l->node_next)
        l->node_next->node_prev = l->node_prev;
    umc_free(n, l);
}

static bool deliverable(const struct umc_conn *c) { return !c->closed_by_owner && !c->dead && c->ops; }

void umc_conn_event_connect(struct umc_conn *c)
{
    if (deliverable(c) && c->ops->on_connect)
        c->ops->on_connect(c, c->arg);
}

void umc_conn_event_readable(struct umc_conn *c)
{
    if (deliverable(c) && c->ops->on_readable)
        c->ops->on_readable(c, c->arg);
}

void umc_conn_event_writable(struct umc_conn *c)
{
    if (deliverable(c) && c->ops->on_writable)
        c->ops->on_writable(c, c->arg);
}

void umc_conn_event_close(struct umc_conn *c, int err)
{
    if (c->closed_by_owner || c->dead)
        return;
    c->dead = true;
    if (c->ops && c->ops->on_close)
        c->ops->on_close(c, err, c->arg);
}

void umc_listener_event_accept(struct umc_listener *l, struct umc_conn *c)
{
    l->fn(l, c, l->arg);
}

/* ---- the public API ------------------------------------------------------------ */

struct umc_listener *umc_listen(struct umc_node *n, const char *addr, umc_accept_fn fn, void *arg,
                                int *err)
{
    int dummy;
    struct umc_listener *l = n->net->listen(n, addr, err ? err : &dummy);
    if (l) {
        l->fn = fn;
        l->arg = arg;
    }
    return l;
}

void umc_listener_close(struct umc_listener *l)
{
    if (l)
        l->be->listener_close(l);
}

const char *umc_listener_addr(const struct umc_listener *l) { return l->addr; }

struct umc_conn *umc_connect(struct umc_node *n, const char *addr, const struct umc_conn_ops *ops,
                             void *arg)
{
    struct umc_conn *c = n->net->connect(n, addr);
    if (c) {
        c->ops = ops;
        c->arg = arg;
    }
    return c;
}

void umc_conn_set_ops(struct umc_conn *c, const struct umc_conn_ops *ops, void *arg)
{
    c->ops = ops;
    c->arg = arg;
    c->be->pause_recv(c, false); /* data that came before the owner did */
}

ssize_t umc_conn_read(struct umc_conn *c, void *buf, size_t len)
{
    if (c->closed_by_owner)
        return -EBADF;
    return c->be->read(c, buf, len);
}

int umc_conn_send(struct umc_conn *c, const struct iovec *iov, unsigned iovcnt)
{
    if (c->closed_by_owner)
        return -EBADF;
    if (c->dead)
        return -EPIPE;
    return c->be->send(c, iov, iovcnt);
}

int umc_conn_send_buf(struct umc_conn *c, const void *buf, size_t len)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    return umc_conn_send(c, &iov, 1);
}

int umc_conn_set_congestion(struct umc_conn *c, const char *algo)
{
    if (c->closed_by_owner)
        return -EBADF;
    return c->be->set_congestion ? c->be->set_congestion(c, algo) : 0;
}

int umc_listener_set_congestion(struct umc_listener *l, const char *algo)
{
    return l->be->listener_set_congestion ? l->be->listener_set_congestion(l, algo) : 0;
}

size_t umc_conn_queued(const struct umc_conn *c) { return c->be->queued(c); }

void umc_conn_pause_recv(struct umc_conn *c, bool paused)
{
    if (!c->closed_by_owner)
        c->be->pause_recv(c, paused);
}

void umc_conn_close(struct umc_conn *c)
{
    if (!c || c->closed_by_owner)
        return;
    c->closed_by_owner = true;
    c->be->close(c, false);
}

void umc_conn_abort(struct umc_conn *c)
{
    if (!c || c->closed_by_owner)
        return;
    c->closed_by_owner = true;
    c->be->close(c, true);
}

const char *umc_conn_peer_addr(const struct umc_conn *c) { return c->peer; }
const char *umc_conn_local_addr(const struct umc_conn *c) { return c->local; }
struct umc_node *umc_conn_node(const struct umc_conn *c) { return c->node; }

void umc_net_node_teardown(struct umc_node *n, bool crash)
{
    if (crash && n->net->node_crash) {
        n->net->node_crash(n);
        n->conns = NULL;
        n->listeners = NULL;
        return;
    }
    while (n->listeners)
        n->listeners->be->listener_close(n->listeners);
    while (n->conns) {
        struct umc_conn *c = n->conns;
        if (!c->closed_by_owner && !crash)
            umc_warn(n, "umc", "connection to %s still open at shutdown", c->peer);
        c->closed_by_owner = true;
        c->be->close(c, true);
        if (n->conns == c) /* a backend that releases later: force it */
            umc_conn_release(c);
    }
}
