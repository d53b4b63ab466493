/* scstsim shrink: delta-debug a failing schedule.  The scenario is first
 * realized (every drawn fault and `after` time made explicit) by one run;
 * then ddmin drops chunks of actions, durations are halved, the run is cut
 * after the failure and workloads slowed, keeping only changes that still
 * fail the same invariant.  Each try runs in a child process.
 *
 * scstsim bisect (for git bisect run) lives here too: it replays a schedule
 * and maps the verdict to git's exit codes. */
#include <stdlib.h>
#include <string.h>

#include "sim/cli.h"

struct shrinker {
    const struct cli_opts *o;
    uint64_t seed;
    char invariant[64];
    char shape[512];                   /* the failure's words, numbers left out */
    bool keep_script;                  /* a check of the script: drop only faults */
    unsigned runs;
    mte_time_t fail_time;
};

/* A failure's identity beyond its invariant: what it says, with every number
 * (times, sectors, write ids, line numbers) left out.  So a lost write at a
 * failover never shrinks into one found by the final read-back, nor a
 * command's refusal into another refusal. */
static void failure_shape(const char *detail, char *out, size_t len)
{
    size_t n = 0;
    for (const char *p = detail; *p && n + 1 < len; p++) {
        if (*p >= '0' && *p <= '9') {
            if (!n || out[n - 1] != '#')
                out[n++] = '#';
            continue;
        }
        out[n++] = *p;
    }
    out[n] = 0;
}

/* Does candidate still fail the same way? */
static bool still_fails(struct shrinker *sh, const struct scenario *cand)
{
    struct sim_opts so = {.seed = sh->seed, .extra_bugs = sh->o->bugs};
    struct sim_result r;
    sh->runs++;
    sim_run_in_child(cand, &so, &r);
    char shape[sizeof(sh->shape)];
    failure_shape(r.detail, shape, sizeof(shape));
    bool same = r.exit_code == SIM_EXIT_FAIL && !strcmp(r.invariant, sh->invariant) &&
                !strcmp(shape, sh->shape);
    if (same)
        sh->fail_time = r.fail_time;
    return same;
}

/* The realized schedule of s for the seed, parsed back. */
static struct scenario *realize_by_running(const struct scenario *s, uint64_t seed, uint64_t bugs,
                                           struct sim_result *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem)
        return NULL;
    struct sim_opts so = {.seed = seed, .extra_bugs = bugs, .schedule_out = mem};
    sim_run(s, &so, r);
    fclose(mem);
    char err[1024];
    struct scenario *out = r->exit_code == SIM_EXIT_USAGE ? NULL : scn_parse(buf, s->path, err, sizeof(err));
    if (!out && r->exit_code != SIM_EXIT_USAGE)
        fprintf(stderr, "scstsim shrink: the realized schedule does not parse: %s\n", err);
    free(buf);
    return out;
}

/* What an assert, a wait or a command checks is the script's own premise:
 * from such a failure only the faults around it (actions that may fail:
 * the drawn ones, and scripted faults marked expect=any) are dropped. */
static bool script_check(const char *invariant)
{
    static const char *const names[] = {"assert", "wait-timeout", "command-failed",
                                        "command-not-refused", "command-refused-differently",
                                        "command-hang", "replicas-not-synced"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(invariant, names[i]))
            return true;
    return false;
}

static bool droppable(const struct shrinker *sh, const struct scn_action *a)
{
    return !sh->keep_script || (a->flags & SCN_F_MAY_FAIL);
}

/* s without the droppable actions from the first-th to the last-th (exclusive). */
static struct scenario *without(const struct shrinker *sh, const struct scenario *s, size_t first,
                                size_t last)
{
    struct scenario *c = scn_clone(s);
    size_t k = 0, n = 0;
    for (size_t i = 0; i < s->nactions; i++) {
        bool drop = droppable(sh, &s->actions[i]) && k >= first && k < last;
        k += droppable(sh, &s->actions[i]);
        if (!drop)
            c->actions[n++] = s->actions[i];
    }
    c->nactions = n;
    return c;
}

static size_t count_droppable(const struct shrinker *sh, const struct scenario *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nactions; i++)
        n += droppable(sh, &s->actions[i]);
    return n;
}

/* ddmin over the (droppable) actions: try dropping each of n chunks. */
static struct scenario *drop_actions(struct shrinker *sh, struct scenario *s)
{
    size_t n = 2;
    while (count_droppable(sh, s) >= 1) {
        size_t len = count_droppable(sh, s), chunk = (len + n - 1) / n;
        bool reduced = false;
        for (size_t start = 0; start < len; start += chunk) {
            size_t end = start + chunk < len ? start + chunk : len;
            struct scenario *cand = without(sh, s, start, end);
            if (still_fails(sh, cand)) {
                printf("shrink: %zu actions -> %zu (dropped %zu) [%u runs]\n", s->nactions,
                       cand->nactions, end - start, sh->runs);
                fflush(stdout);
                scn_free(s);
                s = cand;
                reduced = true;
                break;
            }
            scn_free(cand);
        }
        if (reduced) {
            n = n > 2 ? n - 1 : 2;
        } else if (n < len) {
            n = n * 2 < len ? n * 2 : len;
        } else {
            break;
        }
    }
    return s;
}

/* Halve each action's duration while it still fails. */
static void shorten_durations(struct shrinker *sh, struct scenario *s)
{
    for (size_t i = 0; i < s->nactions; i++) {
        while (droppable(sh, &s->actions[i]) && s->actions[i].duration >= 2 * MTE_MSEC) {
            mte_time_t old = s->actions[i].duration;
            s->actions[i].duration = old / 2 / MTE_MSEC * MTE_MSEC;
            if (still_fails(sh, s)) {
                char a[32], b[32];
                scn_format_time(old, a, sizeof(a));
                scn_format_time(s->actions[i].duration, b, sizeof(b));
                printf("shrink: line %d: %s %s -> %s [%u runs]\n", s->actions[i].line,
                       scn_verb_name(s->actions[i].verb), a, b, sh->runs);
                fflush(stdout);
                continue;
            }
            s->actions[i].duration = old;
            break;
        }
    }
}

/* End the run soon after the failure; slow the workloads down. */
static void cut_workloads(struct shrinker *sh, struct scenario *s)
{
    mte_time_t cut = (sh->fail_time / MTE_SEC + 1) * MTE_SEC;
    if (cut < s->duration) {
        mte_time_t old = s->duration;
        s->duration = cut;
        if (still_fails(sh, s))
            printf("shrink: duration %.3fs -> %.3fs [%u runs]\n", (double)old / MTE_SEC,
                   (double)cut / MTE_SEC, sh->runs);
        else
            s->duration = old;
    }
    for (size_t i = 0; i < s->nworkloads; i++) {
        struct scn_workload *w = &s->workloads[i];
        while (w->iops >= 20) {
            uint32_t old = w->iops;
            w->iops = old / 2;
            if (!still_fails(sh, s)) {
                w->iops = old;
                break;
            }
            printf("shrink: workload %s iops %u -> %u [%u runs]\n", w->name, old, w->iops, sh->runs);
        }
    }
    fflush(stdout);
}

static int write_out(const char *path, const struct scenario *s, const struct shrinker *sh)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 2;
    }
    fprintf(f, "# shrunk by scstsim shrink from %s: still fails %s with seed %llu\n# as: %s\n",
            s->path, sh->invariant, (unsigned long long)sh->seed, sh->shape);
    fprintf(f, "recorded invariant=%s\n", sh->invariant);
    scn_write(f, s);
    return fclose(f) ? 2 : 0;
}

int cmd_shrink(int argc, char **argv)
{
    struct cli_opts o;
    int rc = cli_parse(argc, argv, "shrink", &o);
    if (rc)
        return rc;
    if (!o.out) {
        fprintf(stderr, "scstsim shrink: needs -o OUT\n");
        return 2;
    }
    struct scenario *src = cli_load(&o);
    if (!src)
        return 2;
    struct shrinker sh = {.o = &o, .seed = cli_seed(&o, src)};
    struct sim_result r;
    struct scenario *s = realize_by_running(src, sh.seed, o.bugs, &r);
    scn_free(src);
    if (!s || r.exit_code != SIM_EXIT_FAIL) {
        fprintf(stderr, "scstsim shrink: %s with seed %llu %s\n", o.file, (unsigned long long)sh.seed,
                r.exit_code == SIM_EXIT_PASS ? "passes: nothing to shrink" : r.detail);
        scn_free(s);
        return 2;
    }
    snprintf(sh.invariant, sizeof(sh.invariant), "%s", r.invariant);
    sh.keep_script = script_check(r.invariant);
    failure_shape(r.detail, sh.shape, sizeof(sh.shape));
    sh.fail_time = r.fail_time;
    size_t before = s->nactions;
    printf("shrink: %s seed %llu fails %s at t=%.6f with %zu actions\n", o.file,
           (unsigned long long)sh.seed, sh.invariant, (double)r.fail_time / MTE_SEC, before);
    fflush(stdout);
    s = drop_actions(&sh, s);
    shorten_durations(&sh, s);
    cut_workloads(&sh, s);
    rc = write_out(o.out, s, &sh);
    printf("shrink: %zu actions -> %zu, %u runs; wrote %s\n", before, s->nactions, sh.runs, o.out);
    scn_free(s);
    return rc;
}

/* ---- bisect ---------------------------------------------------------------------------- */

#define BISECT_SKIP 125

int cmd_bisect(int argc, char **argv)
{
    struct cli_opts o;
    if (cli_parse(argc, argv, "bisect", &o))
        return BISECT_SKIP;
    char err[1024];
    struct scenario *s = scn_load(o.file, err, sizeof(err));
    if (!s) {
        printf("bisect: the schedule no longer applies: %s\n", err);
        return BISECT_SKIP;
    }
    struct sim_opts so = {.seed = cli_seed(&o, s), .extra_bugs = o.bugs};
    struct sim_result r;
    sim_run_in_child(s, &so, &r);
    char verdict[512];
    sim_format_verdict(s, so.seed, &r, verdict, sizeof(verdict));
    int rc;
    if (r.exit_code == SIM_EXIT_USAGE) {
        printf("bisect: the schedule no longer applies: %s\n", r.detail);
        rc = BISECT_SKIP;
    } else if (r.exit_code == SIM_EXIT_PASS) {
        printf("bisect: good\n%s\n", verdict);
        rc = 0;
    } else {
        bool same = s->recorded_invariant[0] && !strcmp(s->recorded_invariant, r.invariant);
        printf("bisect: bad (%s%s%s)\n%s\n", r.invariant,
               s->recorded_invariant[0] ? (same ? ", as recorded" : ", recorded was ") : "",
               s->recorded_invariant[0] && !same ? s->recorded_invariant : "", verdict);
        rc = 1;
    }
    scn_free(s);
    return rc;
}
