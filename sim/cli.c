/* scstsim's shared option parsing, and the run, replay, check and bug-list
 * commands. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim/cli.h"
#include "sim/sim_bugs.h"

int cli_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

static int bad(const char *cmd, const char *what, const char *arg)
{
    fprintf(stderr, "scstsim %s: %s%s%s%s\n", cmd, what, arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
    return 2;
}

static int parse_range(const char *s, uint64_t *lo, uint64_t *hi)
{
    char buf[64];
    const char *dash = strchr(s, '-');
    if (!dash || (size_t)(dash - s) >= sizeof(buf))
        return cli_parse_u64(s, lo) ? -1 : (*hi = *lo, 0);
    memcpy(buf, s, (size_t)(dash - s));
    buf[dash - s] = '\0';
    return cli_parse_u64(buf, lo) || cli_parse_u64(dash + 1, hi) || *hi < *lo ? -1 : 0;
}

static int parse_shard(const char *s, unsigned *k, unsigned *n)
{
    unsigned a, b;
    char extra;
    if (sscanf(s, "%u/%u%c", &a, &b, &extra) != 2 || !b || !a || a > b)
        return -1;
    *k = a;
    *n = b;
    return 0;
}

static int add_bug(const char *cmd, const char *name, struct cli_opts *o)
{
    const struct sim_bug *b = sim_bug_find(name);
    if (!b)
        return bad(cmd, "unknown bug (scstsim --inject-bug list shows them):", name);
    o->bugs |= 1ull << b->id;
    return 0;
}

/* One option with a value; returns 1 if it was not one of these. */
static int value_option(const char *cmd, const char *opt, const char *val, struct cli_opts *o)
{
    if (!strcmp(opt, "--seed")) {
        o->has_seed = true;
        return cli_parse_u64(val, &o->seed) ? bad(cmd, "--seed needs a number, got", val) : 0;
    }
    if (!strcmp(opt, "--trace"))
        return o->trace_path = val, 0;
    if (!strcmp(opt, "--schedule-out"))
        return o->schedule_out = val, 0;
    if (!strcmp(opt, "-o") || !strcmp(opt, "--out"))
        return o->out = val, 0;
    if (!strcmp(opt, "--inject-bug"))
        return add_bug(cmd, val, o);
    if (!strcmp(opt, "--seeds"))
        return parse_range(val, &o->seed_lo, &o->seed_hi) ? bad(cmd, "--seeds needs A-B, got", val) : 0;
    if (!strcmp(opt, "-j")) {
        uint64_t j;
        if (cli_parse_u64(val, &j) || !j || j > 256)
            return bad(cmd, "-j needs a number of workers (1..256), got", val);
        o->jobs = (unsigned)j;
        return 0;
    }
    if (!strcmp(opt, "--perturb-second-run")) {
        /* a test hook: --check-determinism's second run gets one extra
         * trace line at virtual second val, so the report can be tested */
        uint64_t secs;
        if (cli_parse_u64(val, &secs))
            return bad(cmd, "--perturb-second-run needs whole seconds, got", val);
        o->perturb_at = secs * MTE_SEC;
        return 0;
    }
    if (!strcmp(opt, "--watch")) {
        o->watch = true;
        return cli_parse_u64(val, &o->watch_sector) ? bad(cmd, "--watch needs a sector, got", val) : 0;
    }
    if (!strcmp(opt, "--shard"))
        return parse_shard(val, &o->shard_k, &o->shard_n) ? bad(cmd, "--shard needs K/N, got", val) : 0;
    return 1;
}

int cli_parse(int argc, char **argv, const char *cmd, struct cli_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->seed = 1;
    o->jobs = 1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--check-determinism")) {
            o->check_determinism = true;
        } else if (!strcmp(a, "--swarm")) {
            o->swarm_profile = true;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            o->verbose++;
        } else if (!strcmp(a, "-vv")) {
            o->verbose += 2;
        } else if (a[0] == '-' && a[1]) {
            if (i + 1 >= argc)
                return bad(cmd, "option needs a value:", a);
            int rc = value_option(cmd, a, argv[i + 1], o);
            if (rc == 1)
                return bad(cmd, "unknown option", a);
            if (rc)
                return rc;
            i++;
        } else if (!o->file) {
            o->file = a;
        } else {
            return bad(cmd, "unexpected argument", a);
        }
    }
    if (!o->file)
        return bad(cmd, "needs a scenario FILE", NULL);
    return 0;
}

struct scenario *cli_load(const struct cli_opts *o)
{
    char err[1024];
    struct scenario *s = scn_load(o->file, err, sizeof(err));
    if (!s)
        fprintf(stderr, "scstsim: %s\n", err);
    return s;
}

uint64_t cli_seed(const struct cli_opts *o, const struct scenario *s)
{
    return o->has_seed ? o->seed : s->has_seed ? s->seed : 1;
}

int cmd_bugs(void)
{
    for (size_t i = 0; i < sim_bug_count(); i++)
        printf("%-20s %s\n", sim_bug_at(i)->name, sim_bug_at(i)->description);
    return 0;
}

/* ---- run and replay ------------------------------------------------------------------- */

static FILE *open_out(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        fprintf(stderr, "scstsim: cannot write %s: %s\n", path, strerror(errno));
    return f;
}

static int report(const struct scenario *s, uint64_t seed, const struct sim_result *r)
{
    if (r->exit_code == SIM_EXIT_USAGE) {
        fprintf(stderr, "scstsim: %s\n", r->detail);
        return SIM_EXIT_USAGE;
    }
    if (r->exit_code == SIM_EXIT_FAIL)
        printf("scstsim: %s broken at t=%.6f: %s\n", r->invariant, (double)r->fail_time / MTE_SEC,
               r->detail);
    char verdict[512];
    sim_format_verdict(s, seed, r, verdict, sizeof(verdict));
    printf("%s\n", verdict);
    return r->exit_code;
}

int cmd_run(int argc, char **argv, bool replay)
{
    const char *cmd = replay ? "replay" : "run";
    if (argc == 2 && !strcmp(argv[0], "--inject-bug") && !strcmp(argv[1], "list"))
        return cmd_bugs();
    struct cli_opts o;
    int rc = cli_parse(argc, argv, cmd, &o);
    if (rc)
        return rc;
    struct scenario *s = cli_load(&o);
    if (!s)
        return 2;
    if (replay && !s->recorded)
        fprintf(stderr, "scstsim replay: note: %s is not a recorded schedule; running it as a scenario\n",
                o.file);
    struct sim_opts so = {.seed = cli_seed(&o, s), .swarm = o.swarm_profile, .extra_bugs = o.bugs,
                          .verbose = o.verbose};
    FILE *trace = NULL, *sched = NULL;
    if ((o.trace_path && !(trace = so.trace = open_out(o.trace_path))) ||
        (o.schedule_out && !(sched = so.schedule_out = open_out(o.schedule_out)))) {
        if (trace)
            fclose(trace);
        scn_free(s);
        return 2;
    }
    struct sim_result r;
    so.perturb_at = o.check_determinism ? o.perturb_at : 0;
    so.watch = o.watch;
    so.watch_sector = o.watch_sector;
    if (o.check_determinism)
        rc = sim_check_determinism(s, &so, &r);
    else
        rc = sim_run(s, &so, &r);
    if (trace)
        fclose(trace);
    if (sched)
        fclose(sched);
    rc = report(s, so.seed, &r) == SIM_EXIT_USAGE ? SIM_EXIT_USAGE : rc;
    scn_free(s);
    return rc;
}

/* check [--print] FILE...: parse only; --print writes each scenario back in
 * canonical form ('every' expanded, defaults spelled out) instead. */
int cmd_check(int argc, char **argv)
{
    int rc = 0;
    bool print = argc && !strcmp(argv[0], "--print");
    if (print)
        argc--, argv++;
    if (!argc) {
        fprintf(stderr, "scstsim check: needs scenario files\n");
        return 2;
    }
    for (int i = 0; i < argc; i++) {
        char err[1024];
        struct scenario *s = scn_load(argv[i], err, sizeof(err));
        if (!s) {
            fprintf(stderr, "scstsim: %s\n", err);
            rc = 2;
            continue;
        }
        if (print)
            scn_write(stdout, s);
        else
            printf("%s: ok (%zu nodes, %zu actions, %zu workloads)\n", argv[i], s->nnodes,
                   s->nactions, s->nworkloads);
        scn_free(s);
    }
    return rc;
}
