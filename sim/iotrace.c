/* I/O traces: reading for replay, writing for scstd --record-io. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim/iotrace.h"

static const char op_letters[] = "RWFDZ"; /* indexed by enum umc_bio_op */

static int op_from_letter(char c)
{
    const char *p = strchr(op_letters, c);
    return c && p ? (int)(p - op_letters) : -1;
}

static int parse_flags(const char *s, uint32_t *flags)
{
    *flags = 0;
    if (!strcmp(s, "-"))
        return 0;
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", s);
    for (char *save = NULL, *p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        if (!strcmp(p, "FUA"))
            *flags |= UMC_BIO_FUA;
        else if (!strcmp(p, "PREFLUSH"))
            *flags |= UMC_BIO_PREFLUSH;
        else
            return -1;
    }
    return 0;
}

static int fail(char *err, size_t errlen, const char *path, int line, const char *msg)
{
    snprintf(err, errlen, "%s:%d: %s", path, line, msg);
    return -1;
}

static int parse_record(char *line, struct iotrace_rec *r)
{
    char op[8], flags[64];
    uint64_t t, off, len;
    if (sscanf(line, "%" SCNu64 " %7s %" SCNu64 " %" SCNu64 " %63s", &t, op, &off, &len, flags) != 5)
        return -1;
    int o = op_from_letter(op[0]);
    if (o < 0 || op[1] || parse_flags(flags, &r->flags) || off % 512 || len % 512)
        return -1;
    if ((o == UMC_OP_FLUSH) != (len == 0))
        return -1;
    *r = (struct iotrace_rec){t, (enum umc_bio_op)o, r->flags, off, len};
    return 0;
}

static int parse_header(char *line, struct iotrace *t)
{
    return sscanf(line, "iotrace v1 size=%" SCNu64, &t->size) == 1 ? 0 : -1;
}

struct iotrace *iotrace_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s:0: cannot read the I/O trace: %s", path, strerror(errno));
        return NULL;
    }
    struct iotrace *t = calloc(1, sizeof(*t));
    if (!t)
        abort();
    size_t cap = 0;
    char line[256];
    int lineno = 0, rc = 0;
    bool header = false;
    uint64_t prev_time = 0;
    while (!rc && fgets(line, sizeof(line), f)) {
        lineno++;
        char *p = line + strspn(line, " \t");
        if (*p == '#' || *p == '\n' || !*p)
            continue;
        if (!header) {
            rc = parse_header(p, t) ? fail(err, errlen, path, lineno, "expected 'iotrace v1 size=BYTES'") : 0;
            header = true;
            continue;
        }
        if (t->nrecs == cap) {
            cap = cap ? cap * 2 : 1024;
            t->recs = realloc(t->recs, cap * sizeof(*t->recs));
            if (!t->recs)
                abort();
        }
        struct iotrace_rec *r = &t->recs[t->nrecs];
        if (parse_record(p, r))
            rc = fail(err, errlen, path, lineno,
                      "expected 'TIME_US OP OFFSET LENGTH FLAGS' (OP one of R W F D Z, FLAGS - or FUA,PREFLUSH)");
        else if (r->time_us < prev_time)
            rc = fail(err, errlen, path, lineno, "time goes backwards");
        else
            prev_time = r->time_us, t->nrecs++;
    }
    fclose(f);
    if (!rc && !header)
        rc = fail(err, errlen, path, lineno, "empty trace: expected 'iotrace v1 size=BYTES'");
    if (rc) {
        iotrace_free(t);
        return NULL;
    }
    return t;
}

void iotrace_free(struct iotrace *t)
{
    if (!t)
        return;
    free(t->recs);
    free(t);
}

uint64_t iotrace_extent(const struct iotrace *t)
{
    uint64_t end = 0;
    for (size_t i = 0; i < t->nrecs; i++)
        if (t->recs[i].offset + t->recs[i].length > end)
            end = t->recs[i].offset + t->recs[i].length;
    return end;
}

/* ---- the recorder ------------------------------------------------------------------- */

struct iotrace_writer {
    FILE *f;
    bool started;
    uint64_t t0;
};

struct iotrace_writer *iotrace_writer_open(const char *path, uint64_t device_size)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return NULL;
    struct iotrace_writer *w = calloc(1, sizeof(*w));
    if (!w)
        abort();
    w->f = f;
    fprintf(f, "iotrace v1 size=%" PRIu64 "\n# time_us op offset length flags\n", device_size);
    return w;
}

void iotrace_write(struct iotrace_writer *w, uint64_t t_ns, enum umc_bio_op op, uint32_t flags,
                   uint64_t offset, uint64_t length)
{
    if (!w->started) {
        w->started = true;
        w->t0 = t_ns;
    }
    const char *fl = (flags & UMC_BIO_FUA) && (flags & UMC_BIO_PREFLUSH) ? "FUA,PREFLUSH"
                     : flags & UMC_BIO_FUA ? "FUA" : flags & UMC_BIO_PREFLUSH ? "PREFLUSH" : "-";
    fprintf(w->f, "%" PRIu64 " %c %" PRIu64 " %" PRIu64 " %s\n", (t_ns - w->t0) / 1000,
            op <= UMC_OP_WRITE_ZEROES ? op_letters[op] : '?', offset,
            op == UMC_OP_FLUSH ? 0 : length, fl);
}

void iotrace_write_bio(struct iotrace_writer *w, uint64_t t_ns, const struct umc_bio *bio)
{
    iotrace_write(w, t_ns, bio->op, bio->flags, bio->op == UMC_OP_FLUSH ? 0 : bio->offset,
                  bio->length);
}

int iotrace_writer_close(struct iotrace_writer *w)
{
    if (!w)
        return 0;
    int rc = fclose(w->f) ? -errno : 0;
    free(w);
    return rc;
}
