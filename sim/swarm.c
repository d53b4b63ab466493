/* scstsim swarm: many seeds of one scenario, each with a fault profile drawn
 * from its "swarm" stream on top of the scenario's own faults, in N worker
 * processes (fork).  Results are gathered by seed, so the summary does not
 * depend on which worker finished first.  Wall-clock progress uses
 * mte_wall_ns (the harness never reads clocks itself). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "sim/child.h"
#include "sim/cli.h"

#define PROGRESS_NS (5ull * 1000000000ull)

struct worker {
    pid_t pid;
    int fd;
    size_t slot;          /* index into the seed list */
};

struct swarm {
    const struct cli_opts *o;
    const struct scenario *s;
    uint64_t *seeds;
    size_t nseeds;
    struct sim_result *results;
    unsigned char *done;
    size_t finished, failed;
    uint64_t started_ns, last_progress_ns;
};

/* mkdir -p: --out may name a folder whose parents do not exist yet. */
static int mkdir_p(const char *path)
{
    char buf[1024];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0777) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0777) < 0 && errno != EEXIST ? -1 : 0;
}

static void seed_list(struct swarm *sw)
{
    const struct cli_opts *o = sw->o;
    size_t total = (size_t)(o->seed_hi - o->seed_lo + 1);
    sw->seeds = calloc(total, sizeof(*sw->seeds));
    if (!sw->seeds)
        abort();
    for (size_t idx = 0; idx < total; idx++)
        if (!o->shard_n || idx % o->shard_n == o->shard_k - 1)
            sw->seeds[sw->nseeds++] = o->seed_lo + idx;
    sw->results = calloc(sw->nseeds ? sw->nseeds : 1, sizeof(*sw->results));
    sw->done = calloc(sw->nseeds ? sw->nseeds : 1, 1);
    if (!sw->results || !sw->done)
        abort();
}

static void schedule_path(const struct swarm *sw, uint64_t seed, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s-seed%" PRIu64 ".scn", sw->o->out, sw->s->name, seed);
}

static bool start_worker(struct swarm *sw, struct worker *w, size_t slot)
{
    char path[1024];
    struct sim_opts so = {.seed = sw->seeds[slot], .swarm = true, .extra_bugs = sw->o->bugs};
    if (sw->o->out) {
        schedule_path(sw, sw->seeds[slot], path, sizeof(path));
        so.schedule_on_fail = path;
    }
    w->slot = slot;
    w->pid = child_start(sw->s, &so, &w->fd);
    return w->pid > 0;
}

static void progress(struct swarm *sw, bool force)
{
    uint64_t now = mte_wall_ns();
    if (!force && now - sw->last_progress_ns < PROGRESS_NS)
        return;
    sw->last_progress_ns = now;
    printf("swarm: %zu/%zu done, %zu failed, %.1f s\n", sw->finished, sw->nseeds, sw->failed,
           (double)(now - sw->started_ns) / 1e9);
    fflush(stdout);
}

static void collect(struct swarm *sw, struct worker *w, int status)
{
    struct sim_result *r = &sw->results[w->slot];
    child_finish(w->fd, status, r);
    sw->done[w->slot] = 1;
    sw->finished++;
    if (r->exit_code != SIM_EXIT_PASS) {
        sw->failed++;
        char verdict[512];
        sim_format_verdict(sw->s, sw->seeds[w->slot], r, verdict, sizeof(verdict));
        printf("%s\n  %s\n", verdict, r->detail);
        /* the last trace lines, indented, so the failure reads without a replay */
        for (const char *l = r->tail; *l;) {
            const char *e = strchr(l, '\n');
            int len = e ? (int)(e - l) : (int)strlen(l);
            printf("    | %.*s\n", len, l);
            l += len + (e != NULL);
        }
        fflush(stdout);
    }
    w->pid = 0;
}

static int run_all(struct swarm *sw, unsigned jobs)
{
    struct worker *workers = calloc(jobs, sizeof(*workers));
    if (!workers)
        abort();
    size_t next = 0, running = 0;
    int rc = 0;
    while (next < sw->nseeds || running) {
        for (unsigned i = 0; i < jobs && next < sw->nseeds; i++) {
            if (workers[i].pid)
                continue;
            if (!start_worker(sw, &workers[i], next)) {
                fprintf(stderr, "scstsim swarm: cannot fork: %s\n", strerror(errno));
                rc = 2;
                next = sw->nseeds;
                break;
            }
            next++;
            running++;
        }
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (unsigned i = 0; i < jobs; i++) {
            if (workers[i].pid == pid) {
                collect(sw, &workers[i], status);
                running--;
            }
        }
        progress(sw, false);
    }
    free(workers);
    return rc;
}

/* Per invariant: how many seeds broke it, and which. */
static void summary(struct swarm *sw)
{
    char seen[64][64];
    size_t nseen = 0;
    for (size_t i = 0; i < sw->nseeds; i++) {
        const struct sim_result *r = &sw->results[i];
        if (!sw->done[i] || r->exit_code == SIM_EXIT_PASS)
            continue;
        const char *inv = r->exit_code == SIM_EXIT_USAGE ? "scenario-error" : r->invariant;
        bool known = false;
        for (size_t k = 0; k < nseen; k++)
            known |= !strcmp(seen[k], inv);
        if (known || nseen == 64)
            continue;
        snprintf(seen[nseen++], sizeof(seen[0]), "%s", inv);
        size_t count = 0;
        for (size_t j = i; j < sw->nseeds; j++) {
            const struct sim_result *q = &sw->results[j];
            const char *qi = q->exit_code == SIM_EXIT_USAGE ? "scenario-error" : q->invariant;
            count += sw->done[j] && q->exit_code != SIM_EXIT_PASS && !strcmp(qi, inv);
        }
        printf("swarm: invariant %s: %zu seeds\n", inv, count);
        for (size_t j = i; j < sw->nseeds; j++) {
            const struct sim_result *q = &sw->results[j];
            const char *qi = q->exit_code == SIM_EXIT_USAGE ? "scenario-error" : q->invariant;
            if (!sw->done[j] || q->exit_code == SIM_EXIT_PASS || strcmp(qi, inv))
                continue;
            char path[1024];
            if (sw->o->out && q->exit_code == SIM_EXIT_FAIL)
                schedule_path(sw, sw->seeds[j], path, sizeof(path));
            else
                snprintf(path, sizeof(path), "scstsim run %s --seed %" PRIu64 " --swarm", sw->s->path,
                         sw->seeds[j]);
            printf("  seed %" PRIu64 " t=%.6f %s\n", sw->seeds[j], (double)q->fail_time / MTE_SEC, path);
        }
    }
}

int cmd_swarm(int argc, char **argv)
{
    struct cli_opts o;
    int rc = cli_parse(argc, argv, "swarm", &o);
    if (rc)
        return rc;
    if (!o.seed_hi && !o.seed_lo) {
        fprintf(stderr, "scstsim swarm: needs --seeds A-B\n");
        return 2;
    }
    if (o.out && mkdir_p(o.out) < 0) {
        fprintf(stderr, "scstsim swarm: cannot create %s: %s\n", o.out, strerror(errno));
        return 2;
    }
    struct scenario *s = cli_load(&o);
    if (!s)
        return 2;
    struct swarm sw = {.o = &o, .s = s};
    seed_list(&sw);
    sw.started_ns = sw.last_progress_ns = mte_wall_ns();
    printf("swarm: %s, %zu seeds (%" PRIu64 "-%" PRIu64 "%s), %u workers\n", s->path, sw.nseeds,
           o.seed_lo, o.seed_hi, o.shard_n ? ", sharded" : "", o.jobs);
    fflush(stdout);
    rc = run_all(&sw, o.jobs);
    progress(&sw, true);
    summary(&sw);
    printf("swarm: %zu passed, %zu failed\n", sw.finished - sw.failed, sw.failed);
    free(sw.seeds);
    free(sw.results);
    free(sw.done);
    scn_free(s);
    return rc ? rc : sw.failed ? 1 : 0;
}
