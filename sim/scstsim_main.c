/* scstsim: the deterministic simulator's command line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/demo.h"

static int usage(FILE *f)
{
    fprintf(f, "usage: scstsim demo [--seed N] [--trace FILE]\n"
               "  demo   two nodes on faultnet with simulated disks, a clog and a power\n"
               "         loss; prints PASS/FAIL and the run hash of the seed\n");
    return f == stderr ? 2 : 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

static int cmd_demo(int argc, char **argv)
{
    uint64_t seed = 1;
    const char *trace_path = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            if (parse_u64(argv[++i], &seed)) {
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
    if (strcmp(argv[1], "demo") == 0)
        return cmd_demo(argc - 2, argv + 2);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)
        return usage(stdout);
    fprintf(stderr, "scstsim: unknown command '%s'\n", argv[1]);
    return usage(stderr);
}
