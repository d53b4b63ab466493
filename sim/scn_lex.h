/* Private to the scenario parser: one line's tokens, values with units, and
 * error reporting that names the file and line. */
#ifndef SIM_SCN_LEX_H
#define SIM_SCN_LEX_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/scenario.h"

#define LEX_MAX_TOKENS 48

struct scn_ctx {
    struct scenario *s;
    const char *path;
    int line;
    char *err;
    size_t errlen;
    bool failed;
};

struct tokens {
    char *tok[LEX_MAX_TOKENS];
    bool quoted[LEX_MAX_TOKENS];    /* the word had a "quoted" part: never a keyword or marker */
    unsigned n;
};

/* Report "PATH:LINE: message" (first error wins); always returns -1. */
int scn_error(struct scn_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Split line in place: whitespace separated, "double quoted" words, # comments. */
int lex_split(struct scn_ctx *c, char *line, struct tokens *t);

/* Values: 0 on success, else an error naming what was expected. */
int lex_time(struct scn_ctx *c, const char *s, mte_time_t *out);        /* 1.5s 250ms 10us 2min */
int lex_size(struct scn_ctx *c, const char *s, uint64_t *out);          /* 64M 4K 512 1G */
int lex_u64(struct scn_ctx *c, const char *s, uint64_t *out);
int lex_double(struct scn_ctx *c, const char *s, double *out);
int lex_percent(struct scn_ctx *c, const char *s, double *out);         /* 30% or 0.3 */
int lex_rate(struct scn_ctx *c, const char *s, double *out);            /* 0.5/s, 2/min */
int lex_bool(struct scn_ctx *c, const char *s, bool *out);              /* on off yes no */
int lex_time_range(struct scn_ctx *c, const char *s, mte_time_t *lo, mte_time_t *hi); /* A..B */
int lex_name(struct scn_ctx *c, const char *s, char *out, size_t len, const char *what);
/* Split "key=value" (value points into s); false if there is no '='. */
bool lex_kv(char *s, char **key, char **value);

/* Growable arrays of the scenario: an array of count elements has room for
 * lex_capacity(count). */
size_t lex_capacity(size_t count);
void *lex_push(void *array, size_t *count, size_t elem);

#endif
