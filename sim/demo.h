/* The foundation demo and small helpers shared by scstsim's commands. */
#ifndef SIM_DEMO_H
#define SIM_DEMO_H

#include <stdint.h>
#include <stdio.h>

#include "mte_sim/mte_sim.h"

/* Run the two-node demo for seed; trace lines go to trace if not NULL. */
int demo_main(uint64_t seed, FILE *trace);
/* Write every trace line of e to f as "<seconds> <line>". */
void sim_trace_to(struct mte_engine *e, FILE *f);

#endif
