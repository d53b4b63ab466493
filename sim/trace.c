/* Trace sinks: every trace line of a run, to a file. */
#include <inttypes.h>

#include "sim/demo.h"

static void write_line(void *arg, mte_time_t t, const char *line)
{
    (void)t; /* the line starts with its own virtual time */
    fprintf(arg, "%s\n", line);
}

void sim_trace_to(struct mte_engine *e, FILE *f) { mte_set_trace_sink(e, write_line, f); }
