/* One run of a scenario for one seed: build the world, play the script until
 * the duration (or the first broken invariant), quiesce the workloads, run
 * the final checks, write the realized schedule, tear everything down. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_int.h"

#define SETTLE MTE_SEC
/* After drawn faults heal, connections come back within a few connect-int
 * periods: I/O failing meanwhile is not yet an availability failure. */
#define IO_ERROR_GRACE (5 * MTE_SEC)
/* Events at one virtual instant beyond which the run is a livelock. */
#define LIVELOCK_EVENTS 2000000u

struct sim_call {
    struct mte_timer timer;
    void (*fn)(void *arg);
    void *arg;
    struct sim_call *next;
};

/* ---- verdict and trace ----------------------------------------------------------------- */

static void vtrace(struct sim *s, const char *prefix, const char *fmt, va_list ap)
{
    char line[1024];
    mte_time_t t = mte_now(s->e);
    int n = snprintf(line, sizeof(line), "%llu.%06llu sim: %s", (unsigned long long)(t / MTE_SEC),
                     (unsigned long long)(t % MTE_SEC / MTE_USEC), prefix);
    if (n > 0 && (size_t)n < sizeof(line))
        vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    mte_trace(s->e, line);
    if (s->opts->verbose)
        fprintf(stderr, "%s\n", line);
}

void sim_trace(struct sim *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vtrace(s, "", fmt, ap);
    va_end(ap);
}

bool sim_watching(const struct sim *s, uint64_t offset, uint64_t length)
{
    uint64_t at = s->opts->watch_sector * 512;
    return s->opts->watch && offset <= at && at < offset + length;
}

void sim_watch(struct sim *s, const char *fmt, ...)
{
    FILE *f = s->opts->trace ? s->opts->trace : stderr;
    mte_time_t t = mte_now(s->e);
    fprintf(f, "%llu.%06llu watch: ", (unsigned long long)(t / MTE_SEC),
            (unsigned long long)(t % MTE_SEC / MTE_USEC));
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
}

void sim_info(struct sim *s, const char *fmt, ...)
{
    if (!s->opts->verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void sim_fail(struct sim *s, const char *invariant, const char *node, int64_t lba, const char *fmt, ...)
{
    if (sim_stopped(s) || (s->tearing && strcmp(invariant, "leak")))
        return;
    struct sim_result *r = s->res;
    s->failed = true;
    r->exit_code = SIM_EXIT_FAIL;
    snprintf(r->invariant, sizeof(r->invariant), "%s", invariant);
    r->fail_time = mte_now(s->e);
    snprintf(r->node, sizeof(r->node), "%s", node ? node : "");
    r->has_lba = lba >= 0;
    r->lba = lba >= 0 ? (uint64_t)lba : 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
    va_end(ap);
    /* the run hash takes the invariant, not the words: they name scenario
     * lines, which differ between a scenario and its realized schedule */
    sim_trace(s, "FAILED %s", invariant);
    if (s->opts->trace)
        fprintf(s->opts->trace, "%s\n", r->detail);
    mte_stop(s->e);
}

void sim_setup_error(struct sim *s, const char *fmt, ...)
{
    if (sim_stopped(s))
        return;
    s->setup_failed = true;
    s->res->exit_code = SIM_EXIT_USAGE;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->res->detail, sizeof(s->res->detail), fmt, ap);
    va_end(ap);
    mte_stop(s->e);
}

void sim_format_verdict(const struct scenario *scn, uint64_t seed, const struct sim_result *r,
                        char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s scenario=%s seed=%" PRIu64 " hash=%016" PRIx64 " virtual=%.3f events=%" PRIu64,
                     r->exit_code == SIM_EXIT_PASS ? "PASS" : "FAIL", scn->name, seed, r->hash,
                     (double)r->end_time / MTE_SEC, r->events);
    if (r->exit_code != SIM_EXIT_FAIL || n < 0 || (size_t)n >= len)
        return;
    n += snprintf(buf + n, len - (size_t)n, " invariant=%s t=%.6f", r->invariant,
                  (double)r->fail_time / MTE_SEC);
    if (r->node[0] && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, " node=%s", r->node);
    if (r->has_lba && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, " lba=%" PRIu64, r->lba);
}

static void livelock(void *arg)
{
    struct sim *s = arg;
    sim_fail(s, "livelock", NULL, -1, "%u events ran at virtual time %.6f without time moving on "
             "(something polls with deferred calls)", LIVELOCK_EVENTS,
             (double)mte_now(s->e) / MTE_SEC);
}

/* ---- harness calls at a virtual time ------------------------------------------------------- */

static void call_fire(void *arg)
{
    struct sim_call *c = arg;
    c->fn(c->arg);
}

void sim_schedule_call(struct sim *s, mte_time_t when, void (*fn)(void *arg), void *arg)
{
    struct sim_call *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    c->fn = fn;
    c->arg = arg;
    c->next = s->calls;
    s->calls = c;
    mte_timer_init(&c->timer, call_fire, c, s);
    mte_timer_arm(s->e, &c->timer, when);
}

static void free_calls(struct sim *s)
{
    while (s->calls) {
        struct sim_call *c = s->calls;
        s->calls = c->next;
        mte_timer_cancel(s->e, &c->timer);
        free(c);
    }
}

/* ---- expectations and the monitor ----------------------------------------------------------- */

static void resolve_expectations(struct sim *s)
{
    const struct scenario *scn = s->scn;
    const struct scn_expect *e;
    s->io_bound = 30 * MTE_SEC;
    s->stall_bound = 20 * MTE_SEC;
    s->check_lost = s->check_replicas = s->leak_check = true;
    if ((e = scn_expectation(scn, E_IO_LATENCY)))
        s->io_bound = e->off ? 365ull * 24 * 3600 * MTE_SEC : e->bound;
    if ((e = scn_expectation(scn, E_RESYNC_STALL)))
        s->stall_bound = e->off ? 0 : e->bound;
    if ((e = scn_expectation(scn, E_NO_LOST_WRITES)))
        s->check_lost = !e->off;
    if ((e = scn_expectation(scn, E_REPLICAS_IDENTICAL)))
        s->check_replicas = !e->off;
    if ((e = scn_expectation(scn, E_TWO_PRIMARIES_OK)))
        s->two_primaries_ok = !e->off;
    if ((e = scn_expectation(scn, E_NO_IO_ERRORS))) {
        s->no_io_errors = !e->off;
        s->io_error_grace = e->bound ? e->bound : IO_ERROR_GRACE;
    }
    if ((e = scn_expectation(scn, E_LEAK_CHECK)))
        s->leak_check = !e->off;
}

static void monitor_tick(void *arg)
{
    struct sim *s = arg;
    script_poll_waits(s);
    if (!sim_stopped(s))
        sdrbd_monitor(s);
    if (!sim_stopped(s))
        mte_timer_arm(s->e, &s->monitor, mte_now(s->e) + s->scn->monitor_period);
}

/* ---- trace sinks ------------------------------------------------------------------------------ */

#define TAIL_LINES 12

struct trace_mux {
    FILE *f;
    mte_trace_sink sink;
    void *arg;
    char tail[TAIL_LINES][160];        /* the last lines, for a failure's report */
    unsigned ntail;
};

static void trace_mux_line(void *arg, mte_time_t t, const char *line)
{
    struct trace_mux *m = arg;
    if (m->f)
        fprintf(m->f, "%s\n", line);
    if (m->sink)
        m->sink(m->arg, t, line);
    snprintf(m->tail[m->ntail++ % TAIL_LINES], sizeof(m->tail[0]), "%s", line);
}

static void keep_tail(const struct trace_mux *m, struct sim_result *r)
{
    size_t n = 0;
    unsigned first = m->ntail > TAIL_LINES ? m->ntail - TAIL_LINES : 0;
    for (unsigned i = first; i < m->ntail && n < sizeof(r->tail); i++) {
        int k = snprintf(r->tail + n, sizeof(r->tail) - n, "%s\n", m->tail[i % TAIL_LINES]);
        n += k > 0 ? (size_t)k : 0;
    }
}

/* ---- the realized schedule ---------------------------------------------------------------------- */

static void write_schedule(struct sim *s, const struct scenario *src, FILE *f)
{
    struct scenario copy = *s->scn;
    if (s->script_end > copy.duration)
        copy.duration = s->script_end; /* so a replay plays the script to its end too */
    copy.actions = script_schedule(s, &copy.nactions);
    copy.seed = s->seed;
    copy.bugs = s->bugs;
    copy.recorded = true;
    char verdict[512];
    sim_format_verdict(src, s->seed, s->res, verdict, sizeof(verdict));
    fprintf(f, "# realized schedule of %s, seed %" PRIu64 ": every action and drawn fault at the\n"
               "# virtual time it ran; replays without drawing (scstsim replay THIS_FILE)\n"
               "# verdict: %s\n", src->path, s->seed, verdict);
    if (s->res->exit_code == SIM_EXIT_FAIL)
        fprintf(f, "# %s\nrecorded invariant=%s\n", s->res->detail, s->res->invariant);
    else
        fprintf(f, "recorded\n");
    scn_write(f, &copy);
    free(copy.actions);
}

/* ---- the run ------------------------------------------------------------------------------------- */

/* After the duration: stop issuing and let what is in flight finish; a stuck
 * I/O is caught by its watchdog meanwhile. */
static void quiesce(struct sim *s)
{
    mte_time_t limit = mte_now(s->e) + s->io_bound + MTE_MSEC;
    s->ending = true;
    while (!sim_stopped(s) && !workloads_quiesce(s) && mte_now(s->e) < limit)
        mte_run_until(s->e, mte_now(s->e) + 10 * MTE_MSEC < limit ? mte_now(s->e) + 10 * MTE_MSEC : limit);
}

/* The --check-determinism test hook: one extra trace line, between events
 * and without a timer (arming one would draw from the scheduler stream). */
static mte_time_t perturb(struct sim *s, mte_time_t next)
{
    mte_time_t at = s->opts->perturb_at;
    if (!at || s->perturbed || at > next)
        return next;
    mte_run_until(s->e, at);
    if (mte_now(s->e) == at && !sim_stopped(s)) {
        sim_trace(s, "perturbed (a test of --check-determinism)");
        s->perturbed = true;
    }
    return next;
}

/* Run the engine up to each action's time, and the action between events. */
static void play_script(struct sim *s)
{
    mte_time_t end = s->scn->duration;
    while (!sim_stopped(s)) {
        mte_time_t next = perturb(s, script_next_time(s));
        /* a chain under way carries the run past its duration: the script
         * runs to its end (its waits' timeouts bound how long), as faults
         * drawn late may push its liveness waits past the duration */
        mte_time_t now = mte_now(s->e);
        if (next > end && now >= end && script_chain_open(s))
            end = next == MTE_TIME_NEVER ? now + s->scn->monitor_period : next;
        s->run_target = next < end ? next : end;
        mte_run_until(s->e, s->run_target);
        if (sim_stopped(s) || mte_now(s->e) < s->run_target)
            continue; /* failed, or an earlier action was queued meanwhile */
        if (next <= end)
            script_run_due(s);
        else if (!script_chain_open(s))
            break;
    }
    s->script_end = end;
    s->run_target = MTE_TIME_NEVER;
}

static void play(struct sim *s)
{
    mte_timer_init(&s->monitor, monitor_tick, s, s);
    mte_timer_arm(s->e, &s->monitor, s->scn->monitor_period);
    play_script(s);
    if (sim_stopped(s))
        return;
    quiesce(s);
    /* replication that lags its acknowledgements (protocol A) lands meanwhile */
    if (!sim_stopped(s) && s->scn->nresources)
        mte_run_until(s->e, mte_now(s->e) + SETTLE);
    /* a "synced within T" promise made late in the run is judged when due, not
     * at the end (the monitor drops the promises once all is in sync) */
    mte_time_t due = sdrbd_last_due(s);
    while (!sim_stopped(s) && s->deadlines && mte_now(s->e) < due)
        mte_run_until(s->e, mte_now(s->e) + s->scn->monitor_period);
    if (!sim_stopped(s))
        sdrbd_check_deadlines(s, true);
    if (!sim_stopped(s))
        workloads_final_check(s);
    if (!sim_stopped(s) && s->check_replicas)
        sdrbd_check_replicas(s, "", true);
}

/* Nodes stop before the harness frees what they may still complete. */
static void teardown(struct sim *s)
{
    s->tearing = true;
    mte_cancel_owner(s->e, s);
    workloads_detach(s);
    cluster_destroy(s);
    script_destroy(s);
    workloads_destroy(s);
    free_calls(s);
    sdrbd_run_free(s);
}

int sim_run(const struct scenario *src, const struct sim_opts *o, struct sim_result *r)
{
    memset(r, 0, sizeof(*r));
    struct scenario *scn = scn_realize(src, o->seed, o->swarm);
    struct sim s = {.scn = scn, .opts = o, .seed = o->seed, .bugs = scn->bugs | o->extra_bugs, .res = r};
    resolve_expectations(&s);
    s.e = mte_engine_new(MTE_CLOCK_VIRTUAL, o->seed);
    mte_set_livelock_limit(s.e, LIVELOCK_EVENTS, livelock, &s);
    struct trace_mux mux = {o->trace, o->sink, o->sink_arg, {{0}}, 0};
    mte_set_trace_sink(s.e, trace_mux_line, &mux);
    if (o->observer)
        mte_set_observer(s.e, o->observer, o->observer_arg);
    if (!cluster_create(&s) && !workloads_create(&s) && !script_create(&s))
        play(&s);
    if (o->verbose && s.wls)
        workloads_report(&s);
    r->hash = mte_hash(s.e);
    r->events = mte_events(s.e);
    if (r->exit_code == SIM_EXIT_FAIL)
        keep_tail(&mux, r);
    r->end_time = r->exit_code == SIM_EXIT_FAIL ? r->fail_time : mte_now(s.e);
    if (o->schedule_out && r->exit_code != SIM_EXIT_USAGE)
        write_schedule(&s, src, o->schedule_out);
    if (o->schedule_on_fail && r->exit_code == SIM_EXIT_FAIL) {
        FILE *f = fopen(o->schedule_on_fail, "w");
        if (f) {
            write_schedule(&s, src, f);
            fclose(f);
        }
    }
    teardown(&s);
    if (r->exit_code == SIM_EXIT_USAGE && !r->detail[0])
        snprintf(r->detail, sizeof(r->detail), "%s: the scenario does not apply", src->path);
    mte_engine_free(s.e);
    scn_free(scn);
    return r->exit_code;
}
