/* Private to the scenario parser: the directive handlers spread over files. */
#ifndef SIM_SCN_PARSE_INTERNAL_H
#define SIM_SCN_PARSE_INTERNAL_H

#include "sim/scn_lex.h"

int scn_d_resource(struct scn_ctx *c, struct tokens *t, const char *heredoc, size_t heredoc_len,
                   int heredoc_line);
int scn_d_workload(struct scn_ctx *c, struct tokens *t);
int scn_d_timed(struct scn_ctx *c, struct tokens *t);   /* at / after */
int scn_d_every(struct scn_ctx *c, struct tokens *t);
int scn_d_fault(struct scn_ctx *c, struct tokens *t);
int scn_d_swarm(struct scn_ctx *c, struct tokens *t);

/* After the whole file: every name an action or workload uses is declared. */
int scn_check_references(struct scn_ctx *c);
/* After the checks: fill in defaults that need the whole file. */
int scn_expand_after_parse(struct scn_ctx *c);

/* Parse the words of one action (tok[0] is the verb) into a. */
int scn_parse_action(struct scn_ctx *c, struct tokens *t, unsigned first, struct scn_action *a);
int scn_parse_cond(struct scn_ctx *c, struct tokens *t, unsigned first, unsigned end,
                   struct scn_cond *cond);

/* Files, relative to the scenario's folder. */
void scn_relative_path(const char *scenario_path, const char *file, char *out, size_t len);
char *scn_read_file(const char *path, size_t *len);   /* malloc'd, NUL-terminated */

int scn_expect_from_name(const char *name);
int scn_bug_from_name(const char *name);

#endif
