/* The admin socket: scstctl's line protocol over a unix socket (umc_listen
 * "unix:PATH").
 *
 *   request   one line: words separated by blanks, "double quotes" group
 *             words, \ escapes inside quotes; at most 8 KiB; printable text
 *   response  zero or more data lines "D <text>", then one status line
 *             "S <code> <message>": code 0 ok, 1 the command failed (message
 *             in the module's words), 2 bad request (usage)
 *
 * A connection carries any number of requests, one at a time (requests sent
 * ahead wait their turn).  A malformed request gets "S 2 ..."; a line longer
 * than the limit gets "S 2 ..." and the connection is closed.  A streaming
 * request (events2) sends data lines until the client hangs up. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "scstd/scstd.h"

#define ADMIN_LINE_MAX 8192
#define ADMIN_MAX_WORDS 64
#define ADMIN_QUEUE_MAX (16u << 20) /* a client that stops reading is dropped */

struct admin_client;

struct scstd_reply {
    struct scstd *d;
    struct admin_client *cl;       /* NULL once the client has gone */
    void (*on_orphan)(void *arg);
    void *orphan_arg;
    struct scstd_reply *next;      /* the admin's list of replies not yet done */
};

struct admin_client {
    struct scstd_admin *a;
    struct umc_conn *conn;
    char in[ADMIN_LINE_MAX + 1];
    size_t inlen;
    struct scstd_reply *busy;      /* the request being answered */
    bool in_loop, closing, overflowed;
    struct admin_client *next;
};

struct scstd_admin {
    struct scstd *d;
    struct umc_listener *listener;
    struct admin_client *clients;
    struct scstd_reply *replies;
};

static void client_process(struct admin_client *cl);
static void client_close(struct admin_client *cl);

/* ---- replies ------------------------------------------------------------------------ */

static void overflow_close(void *arg) { client_close(arg); }

static void send_line(struct admin_client *cl, char tag, const char *text, size_t len)
{
    if (!cl || cl->closing || cl->overflowed)
        return;
    if (umc_conn_queued(cl->conn) > ADMIN_QUEUE_MAX) {
        /* not from here: the verb sending this line still holds its reply */
        cl->overflowed = true;
        mte_defer(cl->a->d->engine, cl, overflow_close, cl);
        return;
    }
    char head[2] = {tag, ' '};
    struct iovec iov[3] = {{head, 2}, {(void *)text, len}, {"\n", 1}};
    umc_conn_send(cl->conn, iov, 3);
}

void scstd_reply_line(struct scstd_reply *r, const char *fmt, ...)
{
    if (!r->cl)
        return;
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    scstd_reply_text(r, buf);
}

void scstd_reply_text(struct scstd_reply *r, const char *text)
{
    if (!r->cl)
        return;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        send_line(r->cl, 'D', p, len);
        p += len + (nl ? 1 : 0);
    }
}

static void reply_unlink(struct scstd_reply *r)
{
    struct scstd_admin *a = r->d->admin;
    for (struct scstd_reply **pp = &a->replies; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            return;
        }
    }
}

void scstd_reply_done(struct scstd_reply *r, int code, const char *fmt, ...)
{
    struct admin_client *cl = r->cl;
    if (cl) {
        char buf[2048];
        int n = snprintf(buf, sizeof(buf), "%d ", code);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
        va_end(ap);
        for (char *p = buf; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
        send_line(cl, 'S', buf, strlen(buf));
        cl->busy = NULL;
    }
    reply_unlink(r);
    free(r);
    if (cl && !cl->in_loop)
        client_process(cl);
}

bool scstd_reply_orphaned(const struct scstd_reply *r) { return r->cl == NULL; }
struct scstd *scstd_reply_daemon(const struct scstd_reply *r) { return r->d; }

void scstd_reply_on_orphan(struct scstd_reply *r, void (*fn)(void *arg), void *arg)
{
    r->on_orphan = fn;
    r->orphan_arg = arg;
}

/* The client went away while r was running: nothing more reaches it.  A
 * streaming reply is told, and ends itself (scstd_reply_done). */
static void reply_orphan(struct scstd_reply *r)
{
    r->cl = NULL;
    if (r->on_orphan) {
        void (*fn)(void *) = r->on_orphan;
        r->on_orphan = NULL;
        fn(r->orphan_arg);
    }
}

/* ---- requests ----------------------------------------------------------------------- */

static bool printable(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

static void run_request(struct admin_client *cl, char *line, size_t len)
{
    struct scstd_reply *r = calloc(1, sizeof(*r));
    r->d = cl->a->d;
    r->cl = cl;
    r->next = cl->a->replies;
    cl->a->replies = r;
    cl->busy = r;
    if (len && line[len - 1] == '\r')
        line[--len] = '\0';
    if (!printable(line, len)) {
        scstd_reply_done(r, SCSTD_EXIT_USAGE, "request has control characters");
        return;
    }
    char *argv[ADMIN_MAX_WORDS + 1];
    int argc = scstd_split_words(line, argv, ADMIN_MAX_WORDS);
    if (argc < 0) {
        scstd_reply_done(r, SCSTD_EXIT_USAGE, "unbalanced quote or more than %d words",
                         ADMIN_MAX_WORDS);
        return;
    }
    if (argc == 0) {
        scstd_reply_done(r, SCSTD_EXIT_USAGE, "empty request (try help)");
        return;
    }
    argv[argc] = NULL;
    scstd_verb_run(cl->a->d, r, argc, argv);
}

/* Run the complete lines received, one request at a time. */
static void client_process(struct admin_client *cl)
{
    cl->in_loop = true;
    while (!cl->busy && !cl->closing) {
        char *nl = memchr(cl->in, '\n', cl->inlen);
        if (!nl) {
            if (cl->inlen >= ADMIN_LINE_MAX) {
                const char *msg = "2 request line longer than 8192 bytes";
                send_line(cl, 'S', msg, strlen(msg));
                cl->in_loop = false;
                client_close(cl);
                return;
            }
            break;
        }
        size_t len = (size_t)(nl - cl->in);
        char line[ADMIN_LINE_MAX + 1];
        memcpy(line, cl->in, len);
        line[len] = '\0';
        memmove(cl->in, nl + 1, cl->inlen - len - 1);
        cl->inlen -= len + 1;
        if (memchr(line, '\0', len)) {
            const char *msg = "2 request has a NUL byte";
            send_line(cl, 'S', msg, strlen(msg));
            continue;
        }
        run_request(cl, line, len);
    }
    cl->in_loop = false;
    if (!cl->busy && !cl->closing)
        umc_conn_pause_recv(cl->conn, false);
}

static void on_readable(struct umc_conn *c, void *arg)
{
    struct admin_client *cl = arg;
    while (!cl->closing && cl->inlen < ADMIN_LINE_MAX) {
        ssize_t n = umc_conn_read(c, cl->in + cl->inlen, ADMIN_LINE_MAX - cl->inlen);
        if (n <= 0)
            break;
        cl->inlen += (size_t)n;
    }
    if (cl->busy) {
        /* wait for the running request; keep the socket's window closed */
        if (cl->inlen >= ADMIN_LINE_MAX)
            umc_conn_pause_recv(c, true);
        return;
    }
    client_process(cl);
}

static void client_free(struct admin_client *cl)
{
    struct scstd_admin *a = cl->a;
    for (struct admin_client **pp = &a->clients; *pp; pp = &(*pp)->next) {
        if (*pp == cl) {
            *pp = cl->next;
            break;
        }
    }
    free(cl);
}

static void client_close(struct admin_client *cl)
{
    if (cl->closing)
        return;
    cl->closing = true;
    mte_cancel_owner(cl->a->d->engine, cl);
    struct scstd_reply *busy = cl->busy;
    cl->busy = NULL;
    umc_conn_close(cl->conn);
    if (busy)
        reply_orphan(busy);
    client_free(cl);
}

static void on_close(struct umc_conn *c, int err, void *arg) { client_close(arg); }

static const struct umc_conn_ops client_ops = {
    .on_readable = on_readable,
    .on_close = on_close,
};

static void on_accept(struct umc_listener *l, struct umc_conn *c, void *arg)
{
    struct scstd_admin *a = arg;
    struct admin_client *cl = calloc(1, sizeof(*cl));
    cl->a = a;
    cl->conn = c;
    cl->next = a->clients;
    a->clients = cl;
    umc_conn_set_ops(c, &client_ops, cl);
    umc_conn_pause_recv(c, false);
}

struct scstd_admin *scstd_admin_start(struct scstd *d, const char *path, char *err, size_t errlen)
{
    struct scstd_admin *a = calloc(1, sizeof(*a));
    a->d = d;
    d->admin = a;
    if (!path || !*path)
        return a; /* no socket: the reply machinery still works for tests */
    char addr[UMC_ADDR_MAX];
    if (snprintf(addr, sizeof(addr), "unix:%s", path) >= (int)sizeof(addr)) {
        snprintf(err, errlen, "admin socket path too long: %s", path);
        free(a);
        d->admin = NULL;
        return NULL;
    }
    int rc = 0;
    a->listener = umc_listen(d->node, addr, on_accept, a, &rc);
    if (!a->listener) {
        snprintf(err, errlen, "admin socket %s: %s", path, strerror(-rc));
        free(a);
        d->admin = NULL;
        return NULL;
    }
    return a;
}

/* Close the socket and every client; running requests become orphans. */
void scstd_admin_stop(struct scstd_admin *a)
{
    if (!a)
        return;
    if (a->listener) {
        umc_listener_close(a->listener);
        a->listener = NULL;
    }
    while (a->clients)
        client_close(a->clients);
}

/* After the modules are gone: no callback can finish a reply any more. */
void scstd_admin_free(struct scstd_admin *a)
{
    if (!a)
        return;
    scstd_admin_stop(a);
    while (a->replies) {
        struct scstd_reply *r = a->replies;
        a->replies = r->next;
        free(r);
    }
    a->d->admin = NULL;
    free(a);
}
