/* Scenario lexing: tokens of one line and values with units.  Numbers are
 * parsed with integer arithmetic so a time written out by scn_format_time
 * reads back to the same nanosecond. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/scn_lex.h"

int scn_error(struct scn_ctx *c, const char *fmt, ...)
{
    if (c->failed)
        return -1;
    c->failed = true;
    int len = snprintf(c->err, c->errlen, "%s:%d: ", c->path, c->line);
    if (len < 0 || (size_t)len >= c->errlen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + len, c->errlen - (size_t)len, fmt, ap);
    va_end(ap);
    return -1;
}

int lex_split(struct scn_ctx *c, char *line, struct tokens *t)
{
    t->n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r')
            p++;
        if (!*p || *p == '#')
            return 0;
        if (t->n == LEX_MAX_TOKENS)
            return scn_error(c, "too many words on one line (at most %d)", LEX_MAX_TOKENS);
        t->quoted[t->n] = false;
        t->tok[t->n++] = p;
        /* a word; a quoted part ("...") may contain blanks and is unquoted in place */
        char *out = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r') {
            if (*p == '"') {
                t->quoted[t->n - 1] = true;
                p++;
                while (*p && *p != '"')
                    *out++ = *p++;
                if (*p != '"')
                    return scn_error(c, "unterminated quote: expected a closing '\"'");
                p++;
            } else {
                *out++ = *p++;
            }
        }
        bool end = !*p;
        *out = '\0';
        if (end)
            return 0;
        p++;
    }
}

/* A decimal number with up to 9 fraction digits, as an integer scaled by 1e9. */
static int parse_fixed(const char *s, const char **rest, uint64_t *scaled)
{
    uint64_t whole = 0, frac = 0, scale = 1000000000ull;
    const char *p = s;
    if (!isdigit((unsigned char)*p))
        return -1;
    while (isdigit((unsigned char)*p)) {
        if (whole > UINT64_MAX / 10 / 1000000000ull)
            return -1;
        whole = whole * 10 + (uint64_t)(*p++ - '0');
    }
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        while (isdigit((unsigned char)*p)) {
            if (scale > 1) {
                scale /= 10;
                frac += (uint64_t)(*p - '0') * scale;
            }
            p++;
        }
    }
    *scaled = whole * 1000000000ull + frac;
    *rest = p;
    return 0;
}

struct unit {
    const char *suffix;
    uint64_t mult;
};

static const struct unit time_units[] = {
    {"ns", 1}, {"us", 1000}, {"ms", 1000000}, {"s", 1000000000ull}, {"sec", 1000000000ull},
    {"min", 60000000000ull}, {"h", 3600000000000ull},
};

/* value (scaled by 1e9) times a unit, exactly: the product must be whole */
static int apply_unit(uint64_t scaled, uint64_t mult, uint64_t *out)
{
    uint64_t whole = scaled / 1000000000ull, frac = scaled % 1000000000ull;
    if (mult && whole > UINT64_MAX / mult)
        return -1;
    uint64_t v = whole * mult;
    /* frac * mult / 1e9 without overflow: mult <= 3.6e12 and frac < 1e9 */
    __uint128_t f = (__uint128_t)frac * mult;
    if (f % 1000000000ull)
        return -1;
    v += (uint64_t)(f / 1000000000ull);
    *out = v;
    return 0;
}

int lex_time(struct scn_ctx *c, const char *s, mte_time_t *out)
{
    uint64_t scaled;
    const char *rest;
    if (parse_fixed(s, &rest, &scaled) == 0) {
        for (size_t i = 0; i < sizeof(time_units) / sizeof(time_units[0]); i++)
            if (strcmp(rest, time_units[i].suffix) == 0 &&
                apply_unit(scaled, time_units[i].mult, out) == 0)
                return 0;
    }
    return scn_error(c, "expected a time like 10s, 1.5s, 250ms or 100us, got '%s'", s);
}

int lex_size(struct scn_ctx *c, const char *s, uint64_t *out)
{
    static const struct unit size_units[] = {
        {"", 1}, {"B", 1}, {"K", 1ull << 10}, {"KiB", 1ull << 10}, {"M", 1ull << 20},
        {"MiB", 1ull << 20}, {"G", 1ull << 30}, {"GiB", 1ull << 30}, {"T", 1ull << 40},
        {"k", 1ull << 10}, {"m", 1ull << 20}, {"g", 1ull << 30},
    };
    uint64_t scaled;
    const char *rest;
    if (parse_fixed(s, &rest, &scaled) == 0) {
        for (size_t i = 0; i < sizeof(size_units) / sizeof(size_units[0]); i++)
            if (strcmp(rest, size_units[i].suffix) == 0 &&
                apply_unit(scaled, size_units[i].mult, out) == 0)
                return 0;
    }
    return scn_error(c, "expected a size like 64M, 4K or 4096 (K, M, G are powers of 1024), got '%s'", s);
}

int lex_u64(struct scn_ctx *c, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || !isdigit((unsigned char)s[0]))
        return scn_error(c, "expected a whole number, got '%s'", s);
    *out = v;
    return 0;
}

int lex_double(struct scn_ctx *c, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < 0 || !isdigit((unsigned char)s[0]))
        return scn_error(c, "expected a number, got '%s'", s);
    *out = v;
    return 0;
}

int lex_percent(struct scn_ctx *c, const char *s, double *out)
{
    char buf[64];
    size_t len = strlen(s);
    if (len && len < sizeof(buf) && s[len - 1] == '%') {
        memcpy(buf, s, len - 1);
        buf[len - 1] = '\0';
        if (lex_double(c, buf, out))
            return -1;
        *out /= 100.0;
    } else if (lex_double(c, s, out)) {
        return -1;
    }
    if (*out > 1.0)
        return scn_error(c, "expected a fraction between 0 and 1 or a percentage, got '%s'", s);
    return 0;
}

int lex_rate(struct scn_ctx *c, const char *s, double *out)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    double per = 1.0;
    if (slash) {
        if (strcmp(slash, "/s") == 0)
            per = 1.0;
        else if (strcmp(slash, "/min") == 0)
            per = 60.0;
        else
            return scn_error(c, "expected a rate like 0.5/s or 2/min, got '%s'", s);
    }
    size_t len = slash ? (size_t)(slash - s) : strlen(s);
    if (len >= sizeof(buf))
        return scn_error(c, "expected a rate like 0.5/s, got '%s'", s);
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (lex_double(c, buf, out))
        return -1;
    *out /= per;
    return 0;
}

int lex_bool(struct scn_ctx *c, const char *s, bool *out)
{
    if (!strcmp(s, "on") || !strcmp(s, "yes") || !strcmp(s, "true"))
        *out = true;
    else if (!strcmp(s, "off") || !strcmp(s, "no") || !strcmp(s, "false"))
        *out = false;
    else
        return scn_error(c, "expected on or off, got '%s'", s);
    return 0;
}

int lex_time_range(struct scn_ctx *c, const char *s, mte_time_t *lo, mte_time_t *hi)
{
    char buf[64];
    const char *dots = strstr(s, "..");
    if (!dots) {
        if (lex_time(c, s, lo))
            return -1;
        *hi = *lo;
        return 0;
    }
    size_t len = (size_t)(dots - s);
    if (len >= sizeof(buf))
        return scn_error(c, "expected a time range like 1s..5s, got '%s'", s);
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (lex_time(c, buf, lo) || lex_time(c, dots + 2, hi))
        return -1;
    if (*hi < *lo)
        return scn_error(c, "time range '%s' ends before it starts", s);
    return 0;
}

int lex_name(struct scn_ctx *c, const char *s, char *out, size_t len, const char *what)
{
    if (!s[0])
        return scn_error(c, "expected %s, got nothing", what);
    if (strlen(s) >= len)
        return scn_error(c, "%s '%s' is too long (at most %zu characters)", what, s, len - 1);
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("-_.:/", *p))
            return scn_error(c, "%s '%s' may only have letters, digits and - _ . : /", what, s);
    memcpy(out, s, strlen(s) + 1);
    return 0;
}

bool lex_kv(char *s, char **key, char **value)
{
    char *eq = strchr(s, '=');
    if (!eq || eq == s)
        return false;
    *eq = '\0';
    *key = s;
    *value = eq + 1;
    return true;
}

size_t lex_capacity(size_t n)
{
    size_t cap = 4;
    if (n == 0)
        return 0;
    while (cap < n)
        cap *= 2;
    return cap;
}

void *lex_push(void *array, size_t *count, size_t elem)
{
    /* capacity is lex_capacity(count): it grows when count reaches it */
    size_t n = *count;
    if (n == lex_capacity(n)) {
        array = realloc(array, lex_capacity(n + 1) * elem);
        if (!array)
            abort();
    }
    memset((char *)array + n * elem, 0, elem);
    (*count)++;
    return array;
}
