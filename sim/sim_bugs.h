/* Deliberate defects the simulator can switch on in product code
 * (scstsim --inject-bug NAME; umc_set_bugs on every node). */
#ifndef SIM_BUGS_H
#define SIM_BUGS_H

#include <stddef.h>

#include "umc/umc.h"

struct sim_bug {
    const char *name;
    unsigned id;          /* enum umc_bug_id */
    const char *description;
};

size_t sim_bug_count(void);
const struct sim_bug *sim_bug_at(size_t i);
const struct sim_bug *sim_bug_find(const char *name);
const char *sim_bug_name(unsigned id);

#endif
