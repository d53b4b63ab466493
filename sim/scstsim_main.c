/* scstsim: the deterministic simulator's command line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/cli.h"
#include "sim/demo.h"

static int usage(FILE *f)
{
    fprintf(f,
        "usage: scstsim COMMAND ...\n"
        "  run FILE [--seed N] [--trace FILE] [--schedule-out FILE] [--check-determinism]\n"
        "           [--inject-bug NAME]... [--swarm] [-v]\n"
        "      run a scenario for one seed; exit 0 pass, 1 an invariant failed, 2 bad usage/scenario\n"
        "  replay FILE [options of run]\n"
        "      run a recorded schedule (from --schedule-out) with the seed it records\n"
        "  shrink FILE -o OUT [--seed N]\n"
        "      delta-debug a failing schedule to a smaller one failing the same invariant\n"
        "  bisect FILE [--seed N]\n"
        "      for git bisect run: exit 0 good, 1 bad, 125 when the schedule no longer applies\n"
        "  swarm FILE --seeds A-B [-j N] [--shard K/N] [--out DIR]\n"
        "      many seeds, each with a random fault profile, in N worker processes\n"
        "  check [--print] FILE...\n"
        "      parse scenario files only; --print writes each back in canonical form\n"
        "  demo [--seed N] [--trace FILE]\n"
        "      the foundation demo (two nodes, a clog and a power loss)\n"
        "  --inject-bug list\n"
        "      the deliberate defects --inject-bug can switch on\n");
    return f == stderr ? 2 : 0;
}

static int cmd_demo(int argc, char **argv)
{
    uint64_t seed = 1;
    const char *trace_path = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            if (cli_parse_u64(argv[++i], &seed)) {
                fprintf(stderr, "scstsim: --seed needs a number, got '%s'\n", argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--trace") == 0 && i + 1 < argc) {
            trace_path = argv[++i];
        } else {
            fprintf(stderr, "scstsim demo: unknown argument '%s'\n", argv[i]);
            return usage(stderr);
        }
    }
    FILE *trace = NULL;
    if (trace_path && !(trace = fopen(trace_path, "w"))) {
        fprintf(stderr, "scstsim: cannot write %s: %s\n", trace_path, strerror(errno));
        return 2;
    }
    int rc = demo_main(seed, trace);
    if (trace)
        fclose(trace);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr);
    const char *cmd = argv[1];
    if (!strcmp(cmd, "demo"))
        return cmd_demo(argc - 2, argv + 2);
    if (!strcmp(cmd, "run"))
        return cmd_run(argc - 2, argv + 2, false);
    if (!strcmp(cmd, "replay"))
        return cmd_run(argc - 2, argv + 2, true);
    if (!strcmp(cmd, "check"))
        return cmd_check(argc - 2, argv + 2);
    if (!strcmp(cmd, "shrink"))
        return cmd_shrink(argc - 2, argv + 2);
    if (!strcmp(cmd, "bisect"))
        return cmd_bisect(argc - 2, argv + 2);
    if (!strcmp(cmd, "swarm"))
        return cmd_swarm(argc - 2, argv + 2);
    if (!strcmp(cmd, "--inject-bug") && argc == 3 && !strcmp(argv[2], "list"))
        return cmd_bugs();
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "help") || !strcmp(cmd, "-h"))
        return usage(stdout);
    fprintf(stderr, "scstsim: unknown command '%s'\n", cmd);
    return usage(stderr);
}
