/* The event engine: run queues, timer heap, virtual or real clock, epoll. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "mte_sim/mte_moderate.h"
#include "mte_sim/mte_sim.h"

struct mte_call {
    mte_fn fn; /* NULL: cancelled */
    void *arg;
    const void *owner;
};

/* A growable FIFO ring of deferred calls. */
struct mte_queue {
    struct mte_call *ring;
    size_t cap, head, count; /* cap is a power of two */
};

struct mte_fd {
    int fd;
    uint32_t events;
    mte_fd_fn fn;
    void *arg;
    const void *owner;
    bool dead;
    struct mte_fd *next; /* all watches, and the graveyard */
};

struct mte_engine {
    enum mte_clock clock;
    uint64_t seed;
    mte_time_t now;          /* virtual clock; cached real time */
    struct mte_rng sched;    /* "scheduler" stream: same-instant tiebreaks */
    struct mte_queue runq, lowq;
    struct mte_timer **heap; /* min-heap on (when, tiebreak, seq) */
    size_t heap_len, heap_cap;
    uint64_t timer_seq;
    bool stop;
    uint64_t events;
    uint64_t hash;
    mte_trace_sink sink;
    void *sink_arg;
    mte_observer observer;
    void *observer_arg;
    uint64_t livelock_limit, instant_events;
    mte_time_t instant;                /* the virtual instant instant_events counts */
    void (*livelock_fn)(void *arg);
    void *livelock_arg;
    int epfd;
    struct mte_fd *fds, *graveyard;
    size_t nfds;
    struct mte_moderator mod; /* real clock: napping under load */
    bool loaded;              /* the last poll found events already waiting */
    mte_time_t pass_start;    /* when it returned */
};

static void *xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size);
    if (!q && size) {
        fprintf(stderr, "mte_sim: out of memory (%zu bytes)\n", size);
        abort();
    }
    return q;
}

static mte_time_t real_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (mte_time_t)ts.tv_sec * MTE_SEC + (mte_time_t)ts.tv_nsec;
}

uint64_t mte_wall_ns(void) { return real_now(); }

/* ---- hashing ---------------------------------------------------------------- */

static inline uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

static inline void fold_word(struct mte_engine *e, uint64_t w) { e->hash = mix64(e->hash ^ w) + w; }

void mte_hash_fold(struct mte_engine *e, const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    fold_word(e, h ^ len);
}

uint64_t mte_hash(const struct mte_engine *e) { return e->hash; }
uint64_t mte_events(const struct mte_engine *e) { return e->events; }

/* Code addresses move with ASLR but offsets within the binary do not. */
static uint64_t fn_identity(mte_fn fn) { return (uint64_t)((uintptr_t)fn - (uintptr_t)&mte_engine_new); }

void mte_trace(struct mte_engine *e, const char *line)
{
    fold_word(e, e->now);
    mte_hash_fold(e, line, strlen(line));
    if (e->sink)
        e->sink(e->sink_arg, e->now, line);
}

void mte_set_trace_sink(struct mte_engine *e, mte_trace_sink sink, void *arg)
{
    e->sink = sink;
    e->sink_arg = arg;
}

void mte_set_livelock_limit(struct mte_engine *e, uint64_t limit, void (*fn)(void *arg), void *arg)
{
    e->livelock_limit = limit;
    e->livelock_fn = fn;
    e->livelock_arg = arg;
}

void mte_set_observer(struct mte_engine *e, mte_observer fn, void *arg)
{
    e->observer = fn;
    e->observer_arg = arg;
}

/* ---- run queues --------------------------------------------------------------- */

static void queue_push(struct mte_queue *q, mte_fn fn, void *arg, const void *owner)
{
    if (q->count == q->cap) {
        size_t ncap = q->cap ? q->cap * 2 : 256;
        struct mte_call *nr = xrealloc(NULL, ncap * sizeof(*nr));
        for (size_t i = 0; i < q->count; i++)
            nr[i] = q->ring[(q->head + i) & (q->cap - 1)];
        free(q->ring);
        q->ring = nr;
        q->cap = ncap;
        q->head = 0;
    }
    q->ring[(q->head + q->count) & (q->cap - 1)] = (struct mte_call){fn, arg, owner};
    q->count++;
}

static bool queue_pop(struct mte_queue *q, struct mte_call *out)
{
    if (!q->count)
        return false;
    *out = q->ring[q->head];
    q->head = (q->head + 1) & (q->cap - 1);
    q->count--;
    return true;
}

static void queue_cancel_owner(struct mte_queue *q, const void *owner)
{
    for (size_t i = 0; i < q->count; i++) {
        struct mte_call *c = &q->ring[(q->head + i) & (q->cap - 1)];
        if (c->owner == owner)
            c->fn = NULL;
    }
}

void mte_defer(struct mte_engine *e, const void *owner, mte_fn fn, void *arg)
{
    queue_push(&e->runq, fn, arg, owner);
}

void mte_defer_low(struct mte_engine *e, const void *owner, mte_fn fn, void *arg)
{
    queue_push(&e->lowq, fn, arg, owner);
}

/* ---- timer heap ----------------------------------------------------------------- */

static bool timer_before(const struct mte_timer *a, const struct mte_timer *b)
{
    if (a->when != b->when)
        return a->when < b->when;
    if (a->tiebreak != b->tiebreak)
        return a->tiebreak < b->tiebreak;
    return a->seq < b->seq;
}

static void heap_place(struct mte_engine *e, size_t i, struct mte_timer *t)
{
    e->heap[i] = t;
    t->heap_slot = (uint32_t)(i + 1);
}

static void heap_sift_up(struct mte_engine *e, size_t i)
{
    struct mte_timer *t = e->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!timer_before(t, e->heap[parent]))
            break;
        heap_place(e, i, e->heap[parent]);
        i = parent;
    }
    heap_place(e, i, t);
}

static void heap_sift_down(struct mte_engine *e, size_t i)
{
    struct mte_timer *t = e->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= e->heap_len)
            break;
        if (child + 1 < e->heap_len && timer_before(e->heap[child + 1], e->heap[child]))
            child++;
        if (!timer_before(e->heap[child], t))
            break;
        heap_place(e, i, e->heap[child]);
        i = child;
    }
    heap_place(e, i, t);
}

static void heap_remove_at(struct mte_engine *e, size_t i)
{
    struct mte_timer *t = e->heap[i];
    t->heap_slot = 0;
    e->heap_len--;
    if (i == e->heap_len)
        return;
    heap_place(e, i, e->heap[e->heap_len]);
    heap_sift_down(e, i);
    heap_sift_up(e, (size_t)e->heap[i]->heap_slot - 1);
}

void mte_timer_init(struct mte_timer *t, mte_fn fn, void *arg, const void *owner)
{
    memset(t, 0, sizeof(*t));
    t->fn = fn;
    t->arg = arg;
    t->owner = owner;
}

void mte_timer_arm(struct mte_engine *e, struct mte_timer *t, mte_time_t when)
{
    if (t->heap_slot)
        heap_remove_at(e, t->heap_slot - 1);
    if (e->heap_len == e->heap_cap) {
        e->heap_cap = e->heap_cap ? e->heap_cap * 2 : 256;
        e->heap = xrealloc(e->heap, e->heap_cap * sizeof(*e->heap));
    }
    t->when = when;
    t->tiebreak = e->clock == MTE_CLOCK_VIRTUAL ? mte_rng_next(&e->sched) : 0;
    t->seq = e->timer_seq++;
    heap_place(e, e->heap_len++, t);
    heap_sift_up(e, e->heap_len - 1);
}

void mte_timer_arm_in(struct mte_engine *e, struct mte_timer *t, mte_time_t delay)
{
    mte_time_t now = mte_now(e);
    mte_timer_arm(e, t, delay > MTE_TIME_NEVER - now ? MTE_TIME_NEVER : now + delay);
}

bool mte_timer_cancel(struct mte_engine *e, struct mte_timer *t)
{
    if (!t->heap_slot)
        return false;
    heap_remove_at(e, t->heap_slot - 1);
    return true;
}

mte_time_t mte_next_timer(const struct mte_engine *e)
{
    return e->heap_len ? e->heap[0]->when : MTE_TIME_NEVER;
}

/* ---- engine life ----------------------------------------------------------------- */

struct mte_engine *mte_engine_new(enum mte_clock clock, uint64_t seed)
{
    struct mte_engine *e = xrealloc(NULL, sizeof(*e));
    memset(e, 0, sizeof(*e));
    e->clock = clock;
    e->seed = seed;
    e->epfd = -1;
    mte_rng_init(&e->sched, seed, "scheduler");
    e->hash = mix64(seed ^ 0x6d74655f73696dull);
    if (clock == MTE_CLOCK_REAL) {
        e->now = real_now();
        e->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (e->epfd < 0) {
            perror("mte_sim: epoll_create1");
            abort();
        }
    }
    return e;
}

static void free_fd_list(struct mte_fd *w)
{
    while (w) {
        struct mte_fd *next = w->next;
        free(w);
        w = next;
    }
}

void mte_engine_free(struct mte_engine *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->heap_len; i++)
        e->heap[i]->heap_slot = 0;
    free(e->heap);
    free(e->runq.ring);
    free(e->lowq.ring);
    free_fd_list(e->fds);
    free_fd_list(e->graveyard);
    if (e->epfd >= 0)
        close(e->epfd);
    free(e);
}

enum mte_clock mte_clock_kind(const struct mte_engine *e) { return e->clock; }
uint64_t mte_seed(const struct mte_engine *e) { return e->seed; }

mte_time_t mte_now(const struct mte_engine *e)
{
    return e->clock == MTE_CLOCK_REAL ? real_now() : e->now;
}

void mte_stop(struct mte_engine *e) { e->stop = true; }
bool mte_stopped(const struct mte_engine *e) { return e->stop; }

bool mte_idle(const struct mte_engine *e)
{
    return e->runq.count == 0 && e->lowq.count == 0 && e->heap_len == 0;
}

void mte_cancel_owner(struct mte_engine *e, const void *owner)
{
    queue_cancel_owner(&e->runq, owner);
    queue_cancel_owner(&e->lowq, owner);
    size_t kept = 0;
    for (size_t i = 0; i < e->heap_len; i++) {
        if (e->heap[i]->owner == owner)
            e->heap[i]->heap_slot = 0;
        else
            heap_place(e, kept++, e->heap[i]);
    }
    e->heap_len = kept;
    for (size_t i = kept / 2; i-- > 0;)
        heap_sift_down(e, i);
    struct mte_fd *w = e->fds;
    while (w) {
        struct mte_fd *next = w->next; /* unwatch moves w to the graveyard */
        if (w->owner == owner)
            mte_fd_unwatch(e, w);
        w = next;
    }
}

/* ---- running ------------------------------------------------------------------- */

static void count_instant(struct mte_engine *e)
{
    if (e->now != e->instant) {
        e->instant = e->now;
        e->instant_events = 0;
    }
    if (++e->instant_events == e->livelock_limit && e->livelock_fn)
        e->livelock_fn(e->livelock_arg);
}

static void run_call(struct mte_engine *e, mte_fn fn, void *arg)
{
    e->events++;
    if (e->clock == MTE_CLOCK_VIRTUAL) {
        fold_word(e, e->now);
        fold_word(e, fn_identity(fn));
        count_instant(e);
    }
    fn(arg);
    if (e->observer)
        e->observer(e->observer_arg, e->events, e->now, e->hash);
}

static bool run_one_queued(struct mte_engine *e, struct mte_queue *q)
{
    struct mte_call c;
    while (queue_pop(q, &c)) {
        if (c.fn) {
            run_call(e, c.fn, c.arg);
            return true;
        }
    }
    return false;
}

static void fire_timer(struct mte_engine *e)
{
    struct mte_timer *t = e->heap[0];
    heap_remove_at(e, 0);
    run_call(e, t->fn, t->arg);
}

/* Virtual clock: run everything due at or before limit, in order. */
static uint64_t run_virtual(struct mte_engine *e, mte_time_t limit)
{
    uint64_t start = e->events;
    while (!e->stop) {
        if (run_one_queued(e, &e->runq) || run_one_queued(e, &e->lowq))
            continue;
        if (!e->heap_len || e->heap[0]->when > limit)
            break;
        if (e->heap[0]->when > e->now)
            e->now = e->heap[0]->when;
        fire_timer(e);
    }
    if (!e->stop && limit != MTE_TIME_NEVER && limit > e->now)
        e->now = limit;
    return e->events - start;
}

static void reap_graveyard(struct mte_engine *e)
{
    free_fd_list(e->graveyard);
    e->graveyard = NULL;
}

/* An epoll_wait that returns within this found its events already waiting. */
#define LOADED_WAIT_MAX (5 * MTE_USEC)

static void poll_fds(struct mte_engine *e, int timeout_ms)
{
    struct epoll_event evs[64];
    if (!e->nfds && timeout_ms < 0)
        return;
    mte_time_t asked = e->now;
    int n = epoll_wait(e->epfd, evs, 64, timeout_ms);
    if (n < 0 && errno != EINTR) {
        perror("mte_sim: epoll_wait");
        abort();
    }
    e->pass_start = real_now();
    e->loaded = n > 0 && (timeout_ms == 0 || e->pass_start - asked < LOADED_WAIT_MAX);
    for (int i = 0; i < n; i++) {
        struct mte_fd *w = evs[i].data.ptr;
        if (w->dead)
            continue;
        uint32_t ev = 0;
        if (evs[i].events & (EPOLLIN | EPOLLRDHUP))
            ev |= MTE_FD_READ;
        if (evs[i].events & EPOLLOUT)
            ev |= MTE_FD_WRITE;
        if (evs[i].events & (EPOLLERR | EPOLLHUP))
            ev |= MTE_FD_ERROR;
        e->events++;
        w->fn(w->arg, ev);
    }
    reap_graveyard(e);
}

void mte_set_poll_moderation(struct mte_engine *e, mte_time_t gap)
{
    mte_moderator_init(&e->mod, gap, mte_now(e));
    if (gap && e->clock == MTE_CLOCK_REAL)
        prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0); /* the default 50 us would dwarf the nap */
}

void mte_note_work(struct mte_engine *e, uint64_t units) { e->mod.work += units; }

/* Before a blocking poll: nap if the moderator says so and the pass just
 * served was quicker than the nap (otherwise serving is the bottleneck).
 * Never naps past the next timer.  Returns the poll's timeout. */
static int moderate(struct mte_engine *e, mte_time_t wake, int timeout_ms)
{
    if (timeout_ms == 0)
        return 0;
    bool loaded = e->loaded && e->now - e->pass_start < e->mod.gap;
    mte_time_t nap = mte_moderator_nap(&e->mod, e->now, loaded);
    if (!nap)
        return timeout_ms;
    if (wake != MTE_TIME_NEVER && wake - e->now < nap)  /* wake > now: else timeout_ms is 0 */
        nap = wake - e->now;
    struct timespec ts = {(time_t)(nap / MTE_SEC), (long)(nap % MTE_SEC)};
    nanosleep(&ts, NULL);
    e->now = real_now();
    return 0;
}

static int ms_until(mte_time_t now, mte_time_t when)
{
    if (when == MTE_TIME_NEVER)
        return -1;
    if (when <= now)
        return 0;
    mte_time_t ms = (when - now + MTE_MSEC - 1) / MTE_MSEC;
    return ms > 60000 ? 60000 : (int)ms;
}

/* Real clock: queued calls (a bounded batch, so fds are not starved), due
 * timers, then epoll with a timeout up to the next timer. */
static uint64_t run_real(struct mte_engine *e, mte_time_t limit, bool until_idle)
{
    uint64_t start = e->events;
    while (!e->stop) {
        for (size_t n = e->runq.count; n > 0 && !e->stop; n--)
            run_one_queued(e, &e->runq);
        e->now = real_now();
        while (!e->stop && e->heap_len && e->heap[0]->when <= e->now)
            fire_timer(e);
        if (!e->runq.count)
            for (size_t n = e->lowq.count; n > 0 && !e->stop; n--)
                run_one_queued(e, &e->lowq);
        if (e->stop)
            break;
        e->now = real_now();
        bool busy = e->runq.count || e->lowq.count;
        if (until_idle && !busy && !e->heap_len)
            break;
        if (!busy && e->now >= limit)
            break;
        mte_time_t wake = mte_next_timer(e);
        if (limit < wake)
            wake = limit;
        int timeout = busy ? 0 : ms_until(e->now, wake);
        if (!e->nfds && !busy && timeout < 0)
            break; /* nothing could ever wake us */
        if (!e->nfds && timeout > 0) {
            struct timespec ts = {timeout / 1000, (long)(timeout % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        } else {
            poll_fds(e, moderate(e, wake, timeout));
        }
    }
    return e->events - start;
}

uint64_t mte_run_until_idle(struct mte_engine *e)
{
    e->stop = false;
    if (e->clock == MTE_CLOCK_VIRTUAL)
        return run_virtual(e, MTE_TIME_NEVER);
    return run_real(e, MTE_TIME_NEVER, true);
}

uint64_t mte_run_until(struct mte_engine *e, mte_time_t t)
{
    e->stop = false;
    if (e->clock == MTE_CLOCK_VIRTUAL)
        return run_virtual(e, t);
    return run_real(e, t, false);
}

uint64_t mte_run_forever(struct mte_engine *e)
{
    e->stop = false;
    if (e->clock == MTE_CLOCK_VIRTUAL)
        return run_virtual(e, MTE_TIME_NEVER);
    return run_real(e, MTE_TIME_NEVER, false);
}

/* ---- file descriptors ------------------------------------------------------------ */

static uint32_t epoll_bits(uint32_t events)
{
    uint32_t ev = EPOLLRDHUP;
    if (events & MTE_FD_READ)
        ev |= EPOLLIN;
    if (events & MTE_FD_WRITE)
        ev |= EPOLLOUT;
    return ev;
}

struct mte_fd *mte_fd_watch(struct mte_engine *e, const void *owner, int fd, uint32_t events,
                            mte_fd_fn fn, void *arg)
{
    if (e->clock != MTE_CLOCK_REAL)
        return NULL;
    struct mte_fd *w = xrealloc(NULL, sizeof(*w));
    *w = (struct mte_fd){.fd = fd, .events = events, .fn = fn, .arg = arg, .owner = owner};
    struct epoll_event ev = {.events = epoll_bits(events), .data.ptr = w};
    if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        free(w);
        return NULL;
    }
    w->next = e->fds;
    e->fds = w;
    e->nfds++;
    return w;
}

void mte_fd_modify(struct mte_engine *e, struct mte_fd *w, uint32_t events)
{
    if (w->dead || w->events == events)
        return;
    w->events = events;
    struct epoll_event ev = {.events = epoll_bits(events), .data.ptr = w};
    epoll_ctl(e->epfd, EPOLL_CTL_MOD, w->fd, &ev);
}

/* The watch may still appear in the epoll batch being dispatched, so it is
 * freed only after the batch. */
void mte_fd_unwatch(struct mte_engine *e, struct mte_fd *w)
{
    if (!w || w->dead)
        return;
    epoll_ctl(e->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    w->dead = true;
    for (struct mte_fd **pp = &e->fds; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    }
    w->next = e->graveyard;
    e->graveyard = w;
    e->nfds--;
}
