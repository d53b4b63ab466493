/* The real network backend: non-blocking TCP and unix sockets on epoll.
 *
 * Small sends are copied into a per-connection queue and written with one
 * writev when the engine finishes its current batch of events, so the many
 * responses one wakeup produces leave in one system call (the seed's
 * "Adaptive Nagle").  Large sends go out at once, copying only what the
 * kernel does not take.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "umc/umc.h"
#include "umc/umc_internal.h"

#define CHUNK_SIZE (64u * 1024)
#define DIRECT_SEND_MIN (64u * 1024)
#define MAX_IOV 64

struct tcp_chunk {
    struct tcp_chunk *next;
    size_t cap, len, off;
    char data[];
};

struct tcp_conn {
    struct umc_conn base;
    int fd;
    struct mte_fd *watch;
    bool connecting, eof, paused, failed;
    int pending_err;                /* for the deferred close event */
    struct mte_timer flush_timer;   /* coalesced write at the end of the batch */
    struct mte_timer event_timer;   /* deferred connect/close delivery */
    struct tcp_chunk *head, *tail;
    struct tcp_chunk *spares;       /* drained chunks kept for reuse */
    unsigned nr_spares;
    size_t queued;
};

struct tcp_listener {
    struct umc_listener base;
    int fd;
    struct mte_fd *watch;
    char unix_path[108];
};

static const struct umc_net_backend tcp_backend;

/* ---- addresses ----------------------------------------------------------------- */

static int parse_inet(const char *addr, struct sockaddr_storage *ss, socklen_t *len, bool passive)
{
    char host[UMC_ADDR_MAX];
    const char *colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= sizeof(host))
        return -EINVAL;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    char *h = host;
    if (h[0] == '[') { /* [v6]:port */
        h++;
        char *end = strchr(h, ']');
        if (end)
            *end = '\0';
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = passive ? AI_PASSIVE : 0};
    struct addrinfo *res = NULL;
    bool any = !h[0] || strcmp(h, "*") == 0;
    if (getaddrinfo(any ? NULL : h, colon + 1, &hints, &res) || !res)
        return -EADDRNOTAVAIL;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len, bool passive)
{
    memset(ss, 0, sizeof(*ss));
    if (strncmp(addr, "unix:", 5) == 0) {
        struct sockaddr_un *un = (struct sockaddr_un *)ss;
        if (strlen(addr + 5) >= sizeof(un->sun_path) || !addr[5])
            return -ENAMETOOLONG;
        un->sun_family = AF_UNIX;
        strcpy(un->sun_path, addr + 5);
        *len = sizeof(*un);
        return 0;
    }
    return parse_inet(addr, ss, len, passive);
}

static void format_addr(const struct sockaddr_storage *ss, char *out, size_t size)
{
    char host[64] = "?";
    if (ss->ss_family == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)ss;
        snprintf(out, size, "unix:%.*s", (int)sizeof(un->sun_path), un->sun_path);
        return;
    }
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        snprintf(out, size, "%s:%u", host, ntohs(in->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        snprintf(out, size, "[%s]:%u", host, ntohs(in6->sin6_port));
    } else {
        snprintf(out, size, "?");
    }
}

static void fill_names(struct tcp_conn *t)
{
    struct sockaddr_storage ss = {0}; /* an unnamed unix peer leaves the path unset */
    socklen_t len = sizeof(ss);
    if (getpeername(t->fd, (struct sockaddr *)&ss, &len) == 0)
        format_addr(&ss, t->base.peer, sizeof(t->base.peer));
    memset(&ss, 0, sizeof(ss));
    len = sizeof(ss);
    if (getsockname(t->fd, (struct sockaddr *)&ss, &len) == 0)
        format_addr(&ss, t->base.local, sizeof(t->base.local));
}

static void tune_socket(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* fails harmlessly on unix */
}

/* ---- connection state ------------------------------------------------------------ */

static void conn_fd_event(void *arg, uint32_t events);
static void flush_timer_fired(void *arg);
static void event_timer_fired(void *arg);

static void update_interest(struct tcp_conn *t)
{
    if (!t->watch)
        return;
    uint32_t ev = 0;
    if (t->connecting || t->queued)
        ev |= MTE_FD_WRITE;
    if (!t->connecting && !t->paused && !t->eof && !t->failed && !t->base.closed_by_owner)
        ev |= MTE_FD_READ;
    mte_fd_modify(umc_engine(t->base.node), t->watch, ev);
}

static struct tcp_conn *conn_new(struct umc_node *n, int fd, bool connecting)
{
    struct tcp_conn *t = umc_conn_alloc(n, &tcp_backend, sizeof(*t));
    t->fd = fd;
    t->connecting = connecting;
    umc_timer_init(n, &t->flush_timer, flush_timer_fired, t);
    umc_timer_init(n, &t->event_timer, event_timer_fired, t);
    t->watch = mte_fd_watch(umc_engine(n), n, fd, connecting ? MTE_FD_WRITE : MTE_FD_READ,
                            conn_fd_event, t);
    return t;
}

static void free_chunks(struct umc_node *n, struct tcp_conn *t)
{
    while (t->head) {
        struct tcp_chunk *c = t->head;
        t->head = c->next;
        umc_free(n, c);
    }
    t->tail = NULL;
    t->queued = 0;
    while (t->spares) {
        struct tcp_chunk *c = t->spares;
        t->spares = c->next;
        umc_free(n, c);
    }
    t->nr_spares = 0;
}

/* Drained chunks of the standard size are kept for later sends: the hot
 * path then neither allocates nor zeroes 64 KiB per flush. */
#define MAX_SPARES 8

static void chunk_retire(struct umc_node *n, struct tcp_conn *t, struct tcp_chunk *c)
{
    if (t->nr_spares < MAX_SPARES && c->cap == CHUNK_SIZE) {
        c->len = c->off = 0;
        c->next = t->spares;
        t->spares = c;
        t->nr_spares++;
        return;
    }
    umc_free(n, c);
}

static struct tcp_chunk *chunk_get(struct umc_node *n, struct tcp_conn *t, size_t cap)
{
    struct tcp_chunk *c;
    if (cap == CHUNK_SIZE && t->spares) {
        c = t->spares;
        t->spares = c->next;
        c->next = NULL;
        t->nr_spares--;
        return c;
    }
    c = umc_alloc(n, sizeof(*c) + cap);
    c->cap = cap;
    return c;
}

static void conn_destroy(struct tcp_conn *t, bool reset)
{
    struct umc_node *n = t->base.node;
    umc_timer_cancel(n, &t->flush_timer);
    umc_timer_cancel(n, &t->event_timer);
    if (t->watch)
        mte_fd_unwatch(umc_engine(n), t->watch);
    if (t->fd >= 0) {
        if (reset) {
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            setsockopt(t->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        close(t->fd);
    }
    free_chunks(n, t);
    umc_conn_release(&t->base);
}

/* Report an error (or EOF, err 0) to the owner from a fresh event. */
static void conn_fail(struct tcp_conn *t, int err)
{
    if (t->failed)
        return;
    t->failed = true;
    t->pending_err = err;
    update_interest(t);
    if (t->base.closed_by_owner) {
        conn_destroy(t, true);
        return;
    }
    umc_timer_arm_in(t->base.node, &t->event_timer, 0);
}

static void event_timer_fired(void *arg)
{
    struct tcp_conn *t = arg;
    if (t->failed)
        umc_conn_event_close(&t->base, t->pending_err);
    else
        umc_conn_event_connect(&t->base);
}

/* ---- sending ---------------------------------------------------------------------- */

/* Write as much of the queue as the kernel takes.  Returns false on error. */
static bool flush_queue(struct tcp_conn *t)
{
    struct umc_node *n = t->base.node;
    while (t->head) {
        struct iovec iov[MAX_IOV];
        int cnt = 0;
        for (struct tcp_chunk *c = t->head; c && cnt < MAX_IOV; c = c->next, cnt++)
            iov[cnt] = (struct iovec){c->data + c->off, c->len - c->off};
        ssize_t w = writev(t->fd, iov, cnt);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR)
                continue;
            conn_fail(t, -errno);
            return false;
        }
        t->queued -= (size_t)w;
        while (w > 0) {
            struct tcp_chunk *c = t->head;
            size_t left = c->len - c->off;
            if ((size_t)w < left) {
                c->off += (size_t)w;
                break;
            }
            w -= (ssize_t)left;
            t->head = c->next;
            if (!t->head)
                t->tail = NULL;
            chunk_retire(n, t, c);
        }
    }
    return true;
}

static void queue_bytes(struct tcp_conn *t, const char *p, size_t len)
{
    struct umc_node *n = t->base.node;
    while (len) {
        struct tcp_chunk *c = t->tail;
        if (!c || c->len == c->cap) {
            size_t cap = len > CHUNK_SIZE ? len : CHUNK_SIZE;
            c = chunk_get(n, t, cap);
            if (t->tail)
                t->tail->next = c;
            else
                t->head = c;
            t->tail = c;
        }
        size_t take = c->cap - c->len < len ? c->cap - c->len : len;
        memcpy(c->data + c->len, p, take);
        c->len += take;
        t->queued += take;
        p += take;
        len -= take;
    }
}

static void queue_iov(struct tcp_conn *t, const struct iovec *iov, unsigned iovcnt, size_t skip)
{
    for (unsigned i = 0; i < iovcnt; i++) {
        if (skip >= iov[i].iov_len) {
            skip -= iov[i].iov_len;
            continue;
        }
        queue_bytes(t, (const char *)iov[i].iov_base + skip, iov[i].iov_len - skip);
        skip = 0;
    }
}

static void after_flush(struct tcp_conn *t, size_t before)
{
    if (t->base.closed_by_owner) {
        if (!t->queued)
            conn_destroy(t, false);
        return;
    }
    update_interest(t);
    if (before && !t->queued)
        umc_conn_event_writable(&t->base);
}

static void flush_timer_fired(void *arg)
{
    struct tcp_conn *t = arg;
    size_t before = t->queued;
    if (!t->failed && !t->connecting && flush_queue(t))
        after_flush(t, before);
}

/* Write a large send at once, copying only what the kernel does not take. */
static void send_direct(struct tcp_conn *t, const struct iovec *iov, unsigned iovcnt, size_t total)
{
    size_t sent = 0;
    if (!t->connecting && iovcnt <= MAX_IOV) {
        ssize_t w = writev(t->fd, iov, (int)iovcnt);
        if (w > 0)
            sent = (size_t)w;
        else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            conn_fail(t, -errno);
            return;
        }
    }
    if (sent < total) {
        queue_iov(t, iov, iovcnt, sent);
        update_interest(t);
    }
}

static int tcp_send(struct umc_conn *c, const struct iovec *iov, unsigned iovcnt)
{
    struct tcp_conn *t = (struct tcp_conn *)c;
    if (t->failed)
        return -EPIPE;
    size_t total = umc_iov_total(iov, iovcnt);
    if (total >= DIRECT_SEND_MIN) {
        if (t->queued && !t->connecting && !flush_queue(t))
            return -EPIPE;
        if (!t->queued) {
            send_direct(t, iov, iovcnt, total);
            return t->failed ? -EPIPE : 0;
        }
    }
    queue_iov(t, iov, iovcnt, 0);
    if (!mte_timer_armed(&t->flush_timer))
        umc_timer_arm_in(c->node, &t->flush_timer, 0);
    return 0;
}

static int set_congestion(int fd, const char *algo)
{
    if (setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, algo, (socklen_t)strlen(algo)) < 0)
        return -errno;
    return 0;
}

static int tcp_set_congestion(struct umc_conn *c, const char *algo)
{
    return set_congestion(((struct tcp_conn *)c)->fd, algo);
}

static size_t tcp_queued(const struct umc_conn *c) { return ((const struct tcp_conn *)c)->queued; }

/* ---- receiving and events --------------------------------------------------------- */

static ssize_t tcp_read(struct umc_conn *c, void *buf, size_t len)
{
    struct tcp_conn *t = (struct tcp_conn *)c;
    if (t->failed)
        return t->pending_err ? t->pending_err : 0;
    if (t->connecting || t->eof)
        return 0;
    for (;;) {
        ssize_t r = recv(t->fd, buf, len, 0);
        if (r > 0)
            return r;
        if (r == 0) {
            t->eof = true;
            conn_fail(t, 0);
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        int err = -errno;
        conn_fail(t, err);
        return err;
    }
}

static void finish_connect(struct tcp_conn *t)
{
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
        conn_fail(t, -err);
        return;
    }
    t->connecting = false;
    fill_names(t);
    update_interest(t);
    umc_conn_event_connect(&t->base);
}

static void conn_fd_event(void *arg, uint32_t events)
{
    struct tcp_conn *t = arg;
    if (t->connecting) {
        finish_connect(t);
        return;
    }
    if (events & MTE_FD_WRITE) {
        size_t before = t->queued;
        if (!flush_queue(t))
            return;
        after_flush(t, before);
        return; /* t may be gone; a read event comes again (level-triggered) */
    }
    if ((events & MTE_FD_ERROR) && t->paused) {
        /* epoll reports hang-ups even when reading is paused: fail now */
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        conn_fail(t, err ? -err : -ECONNRESET);
        return;
    }
    if (events & (MTE_FD_READ | MTE_FD_ERROR))
        umc_conn_event_readable(&t->base);
}

static void tcp_pause_recv(struct umc_conn *c, bool paused)
{
    struct tcp_conn *t = (struct tcp_conn *)c;
    t->paused = paused;
    update_interest(t);
}

static void tcp_close(struct umc_conn *c, bool abort)
{
    struct tcp_conn *t = (struct tcp_conn *)c;
    umc_timer_cancel(c->node, &t->event_timer);
    if (abort || t->failed || t->connecting) {
        conn_destroy(t, abort);
        return;
    }
    if (t->queued && !flush_queue(t))
        return; /* conn_fail destroyed it */
    if (!t->queued) {
        conn_destroy(t, false);
        return;
    }
    update_interest(t); /* keep writing; destroyed when drained */
}

static struct umc_conn *tcp_connect(struct umc_node *n, const char *addr)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int err = parse_addr(addr, &ss, &len, false);
    int fd = -1;
    if (!err) {
        fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            err = -errno;
    }
    if (!err) {
        tune_socket(fd);
        if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS)
            err = -errno;
    }
    struct tcp_conn *t = conn_new(n, fd, true);
    snprintf(t->base.peer, sizeof(t->base.peer), "%s", addr);
    if (err)
        conn_fail(t, err);
    return &t->base;
}

/* ---- listening -------------------------------------------------------------------- */

static void listener_fd_event(void *arg, uint32_t events)
{
    struct tcp_listener *l = arg;
    struct umc_node *n = l->base.node;
    for (int i = 0; i < 64; i++) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        tune_socket(fd);
        struct tcp_conn *t = conn_new(n, fd, false);
        fill_names(t);
        t->paused = true; /* until the owner sets its ops */
        update_interest(t);
        umc_listener_event_accept(&l->base, &t->base);
    }
}

static struct umc_listener *tcp_listen(struct umc_node *n, const char *addr, int *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    *err = parse_addr(addr, &ss, &len, true);
    if (*err)
        return NULL;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = -errno;
        return NULL;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss.ss_family == AF_UNIX)
        unlink(((struct sockaddr_un *)&ss)->sun_path);
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 128) < 0) {
        *err = -errno;
        close(fd);
        return NULL;
    }
    struct tcp_listener *l = umc_listener_alloc(n, &tcp_backend, sizeof(*l));
    l->fd = fd;
    if (ss.ss_family == AF_UNIX)
        snprintf(l->unix_path, sizeof(l->unix_path), "%s", ((struct sockaddr_un *)&ss)->sun_path);
    len = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &len);
    format_addr(&ss, l->base.addr, sizeof(l->base.addr));
    l->watch = mte_fd_watch(umc_engine(n), n, fd, MTE_FD_READ, listener_fd_event, l);
    return &l->base;
}

static int tcp_listener_set_congestion(struct umc_listener *base, const char *algo)
{
    return set_congestion(((struct tcp_listener *)base)->fd, algo);
}

static void tcp_listener_close(struct umc_listener *base)
{
    struct tcp_listener *l = (struct tcp_listener *)base;
    mte_fd_unwatch(umc_engine(base->node), l->watch);
    close(l->fd);
    if (l->unix_path[0])
        unlink(l->unix_path);
    umc_listener_release(base);
}

/* A crash: close every socket of the node; the kernel resets the peers. */
static void tcp_node_crash(struct umc_node *n)
{
    for (struct umc_conn *c = n->conns; c; c = c->node_next) {
        struct tcp_conn *t = (struct tcp_conn *)c;
        mte_fd_unwatch(umc_engine(n), t->watch);
        if (t->fd >= 0)
            close(t->fd);
    }
    for (struct umc_listener *b = n->listeners; b; b = b->node_next) {
        struct tcp_listener *l = (struct tcp_listener *)b;
        mte_fd_unwatch(umc_engine(n), l->watch);
        close(l->fd);
    }
}

static const struct umc_net_backend tcp_backend = {
    .name = "tcp",
    .listen = tcp_listen,
    .connect = tcp_connect,
    .listener_close = tcp_listener_close,
    .read = tcp_read,
    .send = tcp_send,
    .queued = tcp_queued,
    .set_congestion = tcp_set_congestion,
    .listener_set_congestion = tcp_listener_set_congestion,
    .pause_recv = tcp_pause_recv,
    .close = tcp_close,
    .node_crash = tcp_node_crash,
};

const struct umc_net_backend *umc_tcp_backend(void) { return &tcp_backend; }
