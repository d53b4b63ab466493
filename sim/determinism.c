/* --check-determinism: run the seed twice in this process, fully torn down
 * in between, and name the first event where the run hashes part: its event
 * number, virtual time, and the trace lines around it from both runs.
 *
 * The first run keeps the hash after every event (8 bytes an event) and its
 * trace lines, tagged with their event number, in a temporary file.  The
 * second run compares as it goes and stops a few events after it parts. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim/cli.h"

#define CONTEXT_LINES 8

struct tagged_line {
    uint64_t event;
    mte_time_t t;
    char text[240];
};

struct det_run {
    /* first run */
    uint64_t *hashes;
    size_t nhashes, cap;
    FILE *lines;
    /* second run */
    const struct det_run *first;
    uint64_t parted_at;          /* 0 = not yet */
    mte_time_t parted_time;
    uint64_t last_event;
    struct tagged_line ring[2 * CONTEXT_LINES];
    size_t nring;
};

/* The observer runs after every event; the sink sees each trace line (its
 * event is the one running, counted before it runs). */
static uint64_t current_event(const struct det_run *d) { return d->last_event + 1; }

static void first_observe(void *arg, uint64_t event_no, mte_time_t t, uint64_t hash)
{
    struct det_run *d = arg;
    (void)t;
    if (d->nhashes == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 1 << 16;
        d->hashes = realloc(d->hashes, d->cap * sizeof(*d->hashes));
        if (!d->hashes)
            abort();
    }
    d->hashes[d->nhashes++] = hash;
    d->last_event = event_no;
}

static void first_line(void *arg, mte_time_t t, const char *line)
{
    struct det_run *d = arg;
    fprintf(d->lines, "%" PRIu64 " %" PRIu64 " %s\n", current_event(d), (uint64_t)t, line);
}

static void keep_line(struct det_run *d, uint64_t event, mte_time_t t, const char *line)
{
    if (d->nring == 2 * CONTEXT_LINES) {
        if (d->parted_at)
            return; /* enough after the parting */
        memmove(&d->ring[0], &d->ring[1], (2 * CONTEXT_LINES - 1) * sizeof(d->ring[0]));
        d->nring--;
    }
    struct tagged_line *l = &d->ring[d->nring++];
    l->event = event;
    l->t = t;
    snprintf(l->text, sizeof(l->text), "%s", line);
}

static void second_observe(void *arg, uint64_t event_no, mte_time_t t, uint64_t hash)
{
    struct det_run *d = arg;
    d->last_event = event_no;
    const struct det_run *f = d->first;
    if (d->parted_at)
        return;
    if (event_no <= f->nhashes && f->hashes[event_no - 1] == hash)
        return;
    d->parted_at = event_no;
    d->parted_time = t;
    /* keep the lines before (and of) this event; the rest of the ring is for after */
    if (d->nring > CONTEXT_LINES) {
        memmove(&d->ring[0], &d->ring[d->nring - CONTEXT_LINES], CONTEXT_LINES * sizeof(d->ring[0]));
        d->nring = CONTEXT_LINES;
    }
}

static void second_line(void *arg, mte_time_t t, const char *line)
{
    struct det_run *d = arg;
    if (!d->parted_at || d->nring < 2 * CONTEXT_LINES)
        keep_line(d, current_event(d), t, line);
}

/* The first run's lines around the parting event, from its temporary file. */
static void print_first_lines(FILE *f, uint64_t around)
{
    struct tagged_line ring[CONTEXT_LINES];
    size_t n = 0, after = 0;
    char buf[1200];
    rewind(f);
    while (fgets(buf, sizeof(buf), f)) {
        uint64_t ev, t;
        int off = 0;
        if (sscanf(buf, "%" SCNu64 " %" SCNu64 " %n", &ev, &t, &off) < 2)
            continue;
        buf[strcspn(buf, "\n")] = '\0';
        if (ev < around) {
            if (n == CONTEXT_LINES) {
                memmove(&ring[0], &ring[1], (CONTEXT_LINES - 1) * sizeof(ring[0]));
                n--;
            }
            ring[n].event = ev;
            snprintf(ring[n++].text, sizeof(ring[0].text), "%s", buf + off);
            continue;
        }
        if (after++ == 0)
            for (size_t i = 0; i < n; i++)
                printf("  [event %" PRIu64 "] %s\n", ring[i].event, ring[i].text);
        printf("  [event %" PRIu64 "]%s %s\n", ev, ev == around ? " >>" : "", buf + off);
        if (after >= CONTEXT_LINES)
            return;
    }
    if (!after)
        for (size_t i = 0; i < n; i++)
            printf("  [event %" PRIu64 "] %s\n", ring[i].event, ring[i].text);
}

static void print_report(const struct det_run *a, const struct det_run *b)
{
    printf("determinism: the runs part at event %" PRIu64 " (virtual time %.6f s); first run had %zu "
           "events\n", b->parted_at, (double)b->parted_time / MTE_SEC, a->nhashes);
    printf("first run, around event %" PRIu64 ":\n", b->parted_at);
    print_first_lines(a->lines, b->parted_at);
    printf("second run, around event %" PRIu64 ":\n", b->parted_at);
    for (size_t i = 0; i < b->nring; i++)
        printf("  [event %" PRIu64 "]%s %s\n", b->ring[i].event,
               b->ring[i].event == b->parted_at ? " >>" : "", b->ring[i].text);
}

int sim_check_determinism(const struct scenario *s, const struct sim_opts *o, struct sim_result *first)
{
    struct det_run a = {0}, b = {0};
    a.lines = tmpfile();
    if (!a.lines) {
        perror("scstsim: tmpfile");
        first->exit_code = SIM_EXIT_USAGE;
        return SIM_EXIT_USAGE;
    }
    struct sim_opts o1 = *o, o2 = *o;
    o1.perturb_at = 0; /* the test hook only touches the second run */
    o1.observer = first_observe;
    o1.observer_arg = &a;
    o1.sink = first_line;
    o1.sink_arg = &a;
    int rc = sim_run(s, &o1, first);
    if (rc == SIM_EXIT_USAGE) {
        fclose(a.lines);
        free(a.hashes);
        return rc;
    }
    b.first = &a;
    o2.trace = NULL;
    o2.schedule_out = NULL;
    o2.observer = second_observe;
    o2.observer_arg = &b;
    o2.sink = second_line;
    o2.sink_arg = &b;
    struct sim_result second;
    sim_run(s, &o2, &second);
    if (!b.parted_at && (second.events != first->events || second.hash != first->hash)) {
        b.parted_at = (second.events < first->events ? second.events : first->events) + 1;
        b.parted_time = second.end_time;
    }
    if (b.parted_at) {
        print_report(&a, &b);
        first->exit_code = SIM_EXIT_FAIL;
        snprintf(first->invariant, sizeof(first->invariant), "determinism");
        first->fail_time = b.parted_time;
        first->node[0] = '\0';
        first->has_lba = false;
        snprintf(first->detail, sizeof(first->detail), "two runs of seed %" PRIu64
                 " part at event %" PRIu64, o->seed, b.parted_at);
        rc = SIM_EXIT_FAIL;
    } else {
        printf("determinism: both runs agree (%" PRIu64 " events, hash %016" PRIx64 ")\n",
               first->events, first->hash);
    }
    fclose(a.lines);
    free(a.hashes);
    return rc;
}
