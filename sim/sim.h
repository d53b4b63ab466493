/* Running one scenario: the public face of the simulator's harness, used by
 * scstsim's commands (run, replay, shrink, bisect, swarm). */
#ifndef SIM_SIM_H
#define SIM_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mte_sim/mte_sim.h"
#include "sim/scenario.h"

#define SIM_EXIT_PASS 0
#define SIM_EXIT_FAIL 1
#define SIM_EXIT_USAGE 2

struct sim_result {
    int exit_code;               /* SIM_EXIT_* */
    char invariant[64];          /* first broken invariant */
    mte_time_t fail_time;
    char node[SCN_NAME];         /* where it broke, if a node is involved */
    bool has_lba;
    uint64_t lba;                /* 512-byte sector */
    char detail[512];            /* what was seen; or the scenario error (exit 2) */
    char tail[2048];             /* a failure: the last trace lines before it */
    uint64_t hash, events;
    mte_time_t end_time;
};

struct sim_opts {
    uint64_t seed;
    bool swarm;                  /* draw a fault profile from the seed's "swarm" stream */
    uint64_t extra_bugs;         /* --inject-bug (umc bug mask) */
    int verbose;                 /* 0 warnings, 1 info (node logs), 2 debug */
    FILE *trace;                 /* every trace line, or NULL */
    FILE *schedule_out;          /* the realized schedule as a scenario, or NULL */
    const char *schedule_on_fail; /* write the realized schedule here if the run fails */
    mte_observer observer;       /* --check-determinism */
    void *observer_arg;
    mte_trace_sink sink;         /* an extra trace sink (determinism report) */
    void *sink_arg;
    mte_time_t perturb_at;       /* tests of --check-determinism: an extra trace line then */
    bool watch;                  /* --watch: trace what touches one sector (not in the hash) */
    uint64_t watch_sector;
};

/* Run s for one seed; fills r (also for a scenario error).  Returns r->exit_code. */
int sim_run(const struct scenario *s, const struct sim_opts *o, struct sim_result *r);

/* The verdict line: PASS/FAIL scenario=... seed=... hash=... virtual=... events=...
 * [invariant=... t=... [node=...] [lba=...]] */
void sim_format_verdict(const struct scenario *s, uint64_t seed, const struct sim_result *r,
                        char *buf, size_t len);

#endif
