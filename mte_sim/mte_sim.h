/* mte_sim: the single-threaded event engine everything runs on.
 *
 * One engine = one thread of control: a FIFO run queue of deferred calls, a
 * low-priority queue run when the normal one is empty (used to coalesce work
 * such as socket writes), and a heap of timers.  Two clocks:
 *
 *   MTE_CLOCK_VIRTUAL  time stands still while events run and jumps to the next
 *                      timer when the queues are empty.  Timers due at the same
 *                      instant run in an order drawn from the seed's
 *                      "scheduler" stream, so different seeds explore
 *                      different interleavings and one seed replays exactly.
 *   MTE_CLOCK_REAL     CLOCK_MONOTONIC; file descriptors are polled with epoll.
 *
 * Every executed event and every trace line is folded into a run hash.
 * Timers are embedded in their owner's structs (no allocation per timer).
 * Every timer, deferred call and fd watch carries an owner tag so a simulated
 * node crash can drop all of a node's pending work at once (mte_cancel_owner).
 */
#ifndef MTE_SIM_H
#define MTE_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t mte_time_t; /* nanoseconds */
#define MTE_NSEC 1ull
#define MTE_USEC 1000ull
#define MTE_MSEC 1000000ull
#define MTE_SEC 1000000000ull
#define MTE_TIME_NEVER UINT64_MAX

enum mte_clock { MTE_CLOCK_VIRTUAL, MTE_CLOCK_REAL };

struct mte_engine;
typedef void (*mte_fn)(void *arg);

/* ---- random streams ---------------------------------------------------- */

/* xoshiro256** seeded from (root seed, stream name) through splitmix64, so each
 * named stream is independent: a new draw in one never shifts another. */
struct mte_rng {
    uint64_t s[4];
};

void mte_rng_init(struct mte_rng *rng, uint64_t root_seed, const char *name);
uint64_t mte_rng_next(struct mte_rng *rng);
uint64_t mte_rng_below(struct mte_rng *rng, uint64_t n); /* uniform in [0, n); 0 if n == 0 */
uint64_t mte_rng_range(struct mte_rng *rng, uint64_t lo, uint64_t hi); /* [lo, hi] */
double mte_rng_unit(struct mte_rng *rng);                /* [0, 1) */
bool mte_rng_chance(struct mte_rng *rng, double p);      /* true with probability p */
uint64_t mte_seed_derive(uint64_t root_seed, const char *name);

/* ---- timers ------------------------------------------------------------- */

struct mte_timer {
    mte_time_t when;
    uint64_t tiebreak;   /* drawn from the scheduler stream when armed */
    uint64_t seq;        /* arming order: final tiebreak */
    mte_fn fn;
    void *arg;
    const void *owner;
    uint32_t heap_slot;  /* 0 = not armed, else index + 1 */
};

void mte_timer_init(struct mte_timer *t, mte_fn fn, void *arg, const void *owner);
void mte_timer_arm(struct mte_engine *e, struct mte_timer *t, mte_time_t when); /* re-arms if armed */
void mte_timer_arm_in(struct mte_engine *e, struct mte_timer *t, mte_time_t delay);
bool mte_timer_cancel(struct mte_engine *e, struct mte_timer *t); /* true if it was armed */
static inline bool mte_timer_armed(const struct mte_timer *t) { return t->heap_slot != 0; }

/* ---- the engine --------------------------------------------------------- */

struct mte_engine *mte_engine_new(enum mte_clock clock, uint64_t seed);
void mte_engine_free(struct mte_engine *e);
enum mte_clock mte_clock_kind(const struct mte_engine *e);
uint64_t mte_seed(const struct mte_engine *e);
mte_time_t mte_now(const struct mte_engine *e);

void mte_defer(struct mte_engine *e, const void *owner, mte_fn fn, void *arg);
void mte_defer_low(struct mte_engine *e, const void *owner, mte_fn fn, void *arg);
/* Drop every pending timer, deferred call and fd watch of owner. */
void mte_cancel_owner(struct mte_engine *e, const void *owner);

/* Run until nothing is queued and no timer is armed (fd watches do not count).
 * Returns the number of events run. */
uint64_t mte_run_until_idle(struct mte_engine *e);
/* Run every event due at or before t, then set the clock to t (virtual) or
 * wait until t (real). Stops early on mte_stop. */
uint64_t mte_run_until(struct mte_engine *e, mte_time_t t);
/* Run until mte_stop is called. */
uint64_t mte_run_forever(struct mte_engine *e);
void mte_stop(struct mte_engine *e);
bool mte_stopped(const struct mte_engine *e);
bool mte_idle(const struct mte_engine *e);
mte_time_t mte_next_timer(const struct mte_engine *e); /* MTE_TIME_NEVER if none */

/* ---- file descriptors (real clock only) -------------------------------- */

enum { MTE_FD_READ = 1u << 0, MTE_FD_WRITE = 1u << 1, MTE_FD_ERROR = 1u << 2 };
struct mte_fd;
typedef void (*mte_fd_fn)(void *arg, uint32_t events);

struct mte_fd *mte_fd_watch(struct mte_engine *e, const void *owner, int fd, uint32_t events,
                            mte_fd_fn fn, void *arg);
void mte_fd_modify(struct mte_engine *e, struct mte_fd *w, uint32_t events);
void mte_fd_unwatch(struct mte_engine *e, struct mte_fd *w);
/* Napping up to gap before a poll when under load, if measured to do more
 * work per second (see mte_moderate.h); 0, the default, turns it off.  Real
 * clock only; it also sets the thread's timer slack to 1 us. */
void mte_set_poll_moderation(struct mte_engine *e, mte_time_t gap);
/* Counts units of work done (the measure mte_set_poll_moderation uses). */
void mte_note_work(struct mte_engine *e, uint64_t units);

/* ---- run hash, trace and observation ----------------------------------- */

void mte_hash_fold(struct mte_engine *e, const void *data, size_t len);
uint64_t mte_hash(const struct mte_engine *e);
uint64_t mte_events(const struct mte_engine *e); /* events executed so far */

/* A trace line: folded into the hash and handed to the sink, if any. */
void mte_trace(struct mte_engine *e, const char *line);
typedef void (*mte_trace_sink)(void *arg, mte_time_t t, const char *line);
void mte_set_trace_sink(struct mte_engine *e, mte_trace_sink sink, void *arg);

/* Called after every executed event with the hash so far: lets the simulator
 * find the first event where two runs of one seed part. */
typedef void (*mte_observer)(void *arg, uint64_t event_no, mte_time_t t, uint64_t hash);
void mte_set_observer(struct mte_engine *e, mte_observer fn, void *arg);

/* Virtual clock: fn runs (once) when more than limit events run at one
 * instant without time moving on: a livelock (something polling with
 * deferred calls) would otherwise hang the run, where a real clock would
 * only spin.  fn should stop the engine. */
void mte_set_livelock_limit(struct mte_engine *e, uint64_t limit, void (*fn)(void *arg), void *arg);

/* Wall clock for harness code (benchmarks, progress); never for product code. */
uint64_t mte_wall_ns(void);

#endif
