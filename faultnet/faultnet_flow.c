/* Pipes and flows: segments on the wire, bandwidth, latency, jitter, windows,
 * and what happens when a segment arrives (or cannot). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "faultnet/faultnet.h"
#include "faultnet/faultnet_internal.h"

static mte_time_t max_time(mte_time_t a, mte_time_t b) { return a > b ? a : b; }
static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* ---- segments ------------------------------------------------------------------ */

static struct fn_seg *seg_new(enum fn_seg_kind kind, size_t cap)
{
    struct fn_seg *s = fn_xmalloc(sizeof(*s) + cap);
    *s = (struct fn_seg){.kind = kind, .cap = cap};
    return s;
}

static size_t seg_bytes(const struct fn_seg *s) { return s->kind == FN_SEG_DATA ? s->len - s->off : 0; }

static void seg_list_append(struct fn_seg_list *l, struct fn_seg *s)
{
    s->next = NULL;
    if (l->tail)
        l->tail->next = s;
    else
        l->head = s;
    l->tail = s;
    l->bytes += seg_bytes(s);
}

static struct fn_seg *seg_list_pop(struct fn_seg_list *l)
{
    struct fn_seg *s = l->head;
    if (!s)
        return NULL;
    l->head = s->next;
    if (!l->head)
        l->tail = NULL;
    l->bytes -= seg_bytes(s);
    return s;
}

static void seg_list_free(struct fn_seg_list *l)
{
    struct fn_seg *s;
    while ((s = seg_list_pop(l)))
        free(s);
}

/* ---- pipes --------------------------------------------------------------------- */

static void flow_timer_fired(void *arg);

static void flow_init(struct fn_pipe *p, int from)
{
    struct fn_flow *f = &p->end[from].out;
    f->pipe = p;
    f->from = from;
    f->link = fn_link_get(p->fn, p->end[from].host, p->end[1 - from].host);
    mte_timer_init(&f->timer, flow_timer_fired, f, p->fn);
}

struct fn_pipe *fn_pipe_new(struct faultnet *fn, struct fn_host *h0, uint32_t port0,
                            struct fn_host *h1, uint32_t port1)
{
    struct fn_pipe *p = fn_xcalloc(sizeof(*p));
    p->fn = fn;
    p->end[0] = (struct fn_end){.host = h0, .port = port0, .state = FN_END_OPEN};
    p->end[1] = (struct fn_end){.host = h1, .port = port1, .state = FN_END_PENDING};
    flow_init(p, 0);
    flow_init(p, 1);
    p->prev = fn->pipes_tail;
    if (fn->pipes_tail)
        fn->pipes_tail->next = p;
    else
        fn->pipes = p;
    fn->pipes_tail = p;
    return p;
}

static void flow_free(struct fn_flow *f)
{
    mte_timer_cancel(f->pipe->fn->e, &f->timer);
    seg_list_free(&f->queue);
    seg_list_free(&f->air);
    seg_list_free(&f->rx);
}

void fn_pipe_free(struct fn_pipe *p)
{
    struct faultnet *fn = p->fn;
    flow_free(&p->end[0].out);
    flow_free(&p->end[1].out);
    if (p->prev)
        p->prev->next = p->next;
    else
        fn->pipes = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        fn->pipes_tail = p->prev;
    free(p);
}

/* Nobody can send or receive on a pipe without an open end. */
void fn_pipe_maybe_free(struct fn_pipe *p)
{
    if (p->end[0].state != FN_END_OPEN && p->end[1].state != FN_END_OPEN)
        fn_pipe_free(p);
}

struct fn_flow *fn_flow_in(struct fn_pipe *p, int side) { return &p->end[1 - side].out; }

/* ---- leaving: window, serialization, latency ----------------------------------- */

static size_t flow_window_avail(const struct fn_flow *f)
{
    size_t window = f->pipe->fn->params.window ? f->pipe->fn->params.window : SIZE_MAX;
    size_t used = f->air.bytes + f->rx.bytes + f->stuck;
    return used >= window ? 0 : window - used;
}

static mte_time_t serialization(size_t bytes, uint64_t bandwidth)
{
    if (!bandwidth)
        return 0;
    return (mte_time_t)(((uint64_t)bytes * MTE_SEC + bandwidth - 1) / bandwidth);
}

static void flow_arm(struct fn_flow *f)
{
    if (f->air.head && !f->held && !mte_timer_armed(&f->timer))
        mte_timer_arm(f->pipe->fn->e, &f->timer, f->air.head->arrival);
}

/* Put a segment on the wire: it leaves when the link is free, takes its
 * serialization time, then latency and jitter; never overtakes its stream. */
static void flow_launch(struct fn_flow *f, struct fn_seg *s)
{
    struct faultnet *fn = f->pipe->fn;
    struct fn_link *l = f->link;
    const struct faultnet_link *lp = fn_link_params(l);
    size_t bytes = seg_bytes(s);
    mte_time_t depart = max_time(mte_now(fn->e), l->busy_until);
    mte_time_t wire = serialization(bytes, lp->bandwidth);
    mte_time_t jitter = lp->jitter ? mte_rng_range(&fn->rng, 0, lp->jitter) : 0;
    l->busy_until = depart + wire;
    s->arrival = max_time(depart + wire + lp->latency + jitter, f->last_arrival);
    s->doomed = l->blackholes > 0;
    f->last_arrival = s->arrival;
    seg_list_append(&f->air, s);
    if (s->kind == FN_SEG_DATA) {
        fn->stats.bytes_sent += bytes;
        fn->stats.segments++;
    }
    flow_arm(f);
}

void fn_flow_send_ctrl(struct fn_flow *f, enum fn_seg_kind kind) { flow_launch(f, seg_new(kind, 0)); }

static void launch_copy(struct fn_flow *f, const struct iovec *iov, unsigned iovcnt, size_t skip,
                        size_t n)
{
    struct fn_seg *s = seg_new(FN_SEG_DATA, n);
    umc_iov_to_buf(iov, iovcnt, skip, s->data, n);
    s->len = n;
    flow_launch(f, s);
}

static void queue_copy(struct fn_flow *f, const struct iovec *iov, unsigned iovcnt, size_t skip,
                       size_t total)
{
    while (skip < total) {
        struct fn_seg *t = f->queue.tail;
        if (!t || t->len == t->cap) {
            size_t cap = total - skip < FN_SEG_MIN ? FN_SEG_MIN : total - skip;
            t = seg_new(FN_SEG_DATA, min_size(cap, FN_SEG_MAX));
            seg_list_append(&f->queue, t);
        }
        size_t n = min_size(t->cap - t->len, total - skip);
        umc_iov_to_buf(iov, iovcnt, skip, t->data + t->len, n);
        t->len += n;
        f->queue.bytes += n;
        skip += n;
    }
}

/* What the window takes leaves now; the rest waits in the sender's queue. */
void fn_flow_send(struct fn_flow *f, const struct iovec *iov, unsigned iovcnt)
{
    size_t total = umc_iov_total(iov, iovcnt), skip = 0;
    if (f->open && !f->queue.head) {
        size_t avail;
        while (skip < total && (avail = flow_window_avail(f)) > 0) {
            size_t n = min_size(min_size(total - skip, avail), FN_SEG_MAX);
            launch_copy(f, iov, iovcnt, skip, n);
            skip += n;
        }
    }
    queue_copy(f, iov, iovcnt, skip, total);
}

/* Take up to avail bytes off the head of the queue as one segment. */
static struct fn_seg *queue_take(struct fn_flow *f, size_t avail)
{
    struct fn_seg *q = f->queue.head;
    size_t n = min_size(seg_bytes(q), min_size(avail, FN_SEG_MAX));
    if (n == seg_bytes(q))
        return seg_list_pop(&f->queue);
    struct fn_seg *s = seg_new(FN_SEG_DATA, n);
    memcpy(s->data, q->data + q->off, n);
    s->len = n;
    q->off += n;
    f->queue.bytes -= n;
    return s;
}

/* Move queued bytes onto the wire as far as the window allows; the FIN of a
 * closed end follows its last byte. */
void fn_flow_push(struct fn_flow *f)
{
    if (!f->open)
        return;
    bool had_queue = f->queue.head != NULL;
    size_t avail;
    while (f->queue.head && (avail = flow_window_avail(f)) > 0)
        flow_launch(f, queue_take(f, avail));
    if (f->queue.head)
        return;
    if (f->fin_queued && !f->fin_sent) {
        f->fin_sent = true;
        fn_flow_send_ctrl(f, FN_SEG_FIN);
    }
    struct fn_end *sender = &f->pipe->end[f->from];
    if (had_queue && sender->conn)
        fn_conn_queue_drained(sender->conn);
}

/* ---- dropping and releasing ----------------------------------------------------- */

void fn_flow_drop_queue(struct fn_flow *f)
{
    seg_list_free(&f->queue);
    f->fin_queued = false;
}

void fn_flow_drop_air(struct fn_flow *f)
{
    mte_timer_cancel(f->pipe->fn->e, &f->timer);
    seg_list_free(&f->air);
    f->held = false;
    f->last_arrival = 0;
}

void fn_flow_drop_rx(struct fn_flow *f) { seg_list_free(&f->rx); }

/* The link let go: held segments cross now, one latency after the heal
 * (as a retransmission would), still in order. */
void fn_flow_release(struct fn_flow *f)
{
    if (!f->held || fn_link_blocked(f->link))
        return;
    f->held = false;
    mte_time_t earliest = mte_now(f->pipe->fn->e) + fn_link_params(f->link)->latency;
    mte_time_t prev = 0;
    for (struct fn_seg *s = f->air.head; s; s = s->next) {
        s->arrival = max_time(max_time(s->arrival, earliest), prev);
        prev = s->arrival;
    }
    f->last_arrival = max_time(f->last_arrival, prev);
    flow_arm(f);
}

void fn_release_held_on(struct faultnet *fn, struct fn_link *l)
{
    for (struct fn_pipe *p = fn->pipes; p; p = p->next)
        for (int side = 0; side < 2; side++)
            if (p->end[side].out.link == l)
                fn_flow_release(&p->end[side].out);
}

/* ---- reading -------------------------------------------------------------------- */

size_t fn_flow_read(struct fn_flow *f, void *buf, size_t len)
{
    size_t done = 0;
    while (done < len && f->rx.head) {
        struct fn_seg *s = f->rx.head;
        size_t n = min_size(s->len - s->off, len - done);
        memcpy((char *)buf + done, s->data + s->off, n);
        s->off += n;
        f->rx.bytes -= n;
        done += n;
        if (s->off == s->len)
            free(seg_list_pop(&f->rx));
    }
    return done;
}

/* ---- arriving ------------------------------------------------------------------- */

/* Lost bytes are never acknowledged: they stay in the window. */
static void flow_lose(struct fn_flow *f, struct fn_seg *s)
{
    size_t bytes = seg_bytes(s);
    f->lost = true;
    f->stuck += bytes;
    f->pipe->fn->stats.bytes_lost += bytes;
    free(s);
}

static void deliver_data(struct fn_flow *f, struct fn_seg *s, struct fn_end *to)
{
    if (to->state != FN_END_OPEN) { /* the reader is gone: dropped, but acknowledged */
        free(s);
        fn_flow_push(f);
        return;
    }
    f->pipe->fn->stats.bytes_delivered += seg_bytes(s);
    seg_list_append(&f->rx, s);
    fn_conn_data_arrived(to->conn);
}

static void deliver_fin(struct fn_flow *f, struct fn_end *to)
{
    f->fin_arrived = true;
    if (to->state == FN_END_OPEN)
        fn_conn_check_eof(to->conn);
}

/* Hand one arrived segment to the receiving end.  Never frees the pipe. */
static void flow_deliver(struct fn_flow *f, struct fn_seg *s)
{
    struct fn_pipe *p = f->pipe;
    int to = 1 - f->from;
    switch (s->kind) {
    case FN_SEG_DATA:
        deliver_data(f, s, &p->end[to]);
        return;
    case FN_SEG_FIN:
        deliver_fin(f, &p->end[to]);
        break;
    case FN_SEG_SYN:
        if (p->end[to].state == FN_END_PENDING)
            fn_on_syn(p);
        break;
    case FN_SEG_SYNACK:
        if (p->end[to].state == FN_END_OPEN)
            fn_on_synack(p);
        break;
    case FN_SEG_RST:
        fn_on_rst(p, to);
        break;
    }
    free(s);
}

static bool flow_loses(const struct fn_flow *f, const struct fn_seg *s)
{
    const struct fn_host *dst = f->pipe->end[1 - f->from].host;
    return f->lost || s->doomed || f->link->blackholes || (s->kind == FN_SEG_SYN && dst->down);
}

/* Every segment due by now crosses, unless the link holds or loses it. */
static void flow_deliver_due(struct fn_flow *f)
{
    mte_time_t now = mte_now(f->pipe->fn->e);
    while (f->air.head && f->air.head->arrival <= now) {
        if (fn_link_blocked(f->link)) {
            f->held = true;
            return;
        }
        struct fn_seg *s = seg_list_pop(&f->air);
        if (flow_loses(f, s))
            flow_lose(f, s);
        else
            flow_deliver(f, s);
    }
    flow_arm(f);
}

static void flow_timer_fired(void *arg)
{
    struct fn_flow *f = arg;
    struct fn_pipe *p = f->pipe;
    flow_deliver_due(f);
    fn_pipe_maybe_free(p);
}
