/* Runs in child processes (see child.c). */
#ifndef SIM_CHILD_H
#define SIM_CHILD_H

#include <sys/types.h>

#include "sim/sim.h"

/* Fork a child running s; its result comes through *result_fd.  -1 on error. */
pid_t child_start(const struct scenario *s, const struct sim_opts *o, int *result_fd);
/* After waitpid gave the child's status: read its result (or make one from
 * how it died).  Returns r->exit_code. */
int child_finish(int result_fd, int status, struct sim_result *r);

#endif
