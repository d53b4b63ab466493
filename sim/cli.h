/* scstsim's commands (each in its own file) and what they share: options
 * parsing, loading a scenario, printing a verdict. */
#ifndef SIM_CLI_H
#define SIM_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sim/scenario.h"
#include "sim/sim.h"

struct cli_opts {
    const char *file;
    uint64_t seed;
    bool has_seed;
    const char *trace_path;
    const char *schedule_out;
    const char *out;             /* shrink -o, swarm --out */
    bool check_determinism;
    bool swarm_profile;          /* run --swarm: draw a fault profile too */
    uint64_t bugs;
    int verbose;
    uint64_t seed_lo, seed_hi;   /* swarm --seeds A-B */
    unsigned jobs;               /* swarm -j */
    unsigned shard_k, shard_n;   /* swarm --shard K/N */
    mte_time_t perturb_at;       /* --perturb-second-run T (tests only) */
    bool watch;                  /* --watch SECTOR */
    uint64_t watch_sector;
};

/* Parse argv after the command word; prints the problem and returns 2 on error. */
int cli_parse(int argc, char **argv, const char *cmd, struct cli_opts *o);
/* Load o->file; prints "FILE:LINE: ..." and returns NULL on error. */
struct scenario *cli_load(const struct cli_opts *o);
uint64_t cli_seed(const struct cli_opts *o, const struct scenario *s);
int cli_parse_u64(const char *s, uint64_t *out);

int cmd_run(int argc, char **argv, bool replay);
int cmd_check(int argc, char **argv);
int cmd_shrink(int argc, char **argv);
int cmd_bisect(int argc, char **argv);
int cmd_swarm(int argc, char **argv);
int cmd_bugs(void);

/* --check-determinism: run twice in this process; 0 if they agree, 1 (with a
 * report on stdout) where they part.  *first is the first run's result. */
int sim_check_determinism(const struct scenario *s, const struct sim_opts *o, struct sim_result *first);

/* Run one seed in a child process (a crash of the code under test is then a
 * failure, not the end of the harness).  Fills r; returns r->exit_code. */
int sim_run_in_child(const struct scenario *s, const struct sim_opts *o, struct sim_result *r);

#endif
