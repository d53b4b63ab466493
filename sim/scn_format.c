/* Writing a scenario back out: the realized schedule of a run (--schedule-out)
 * and shrunk schedules.  Everything written parses back to the same values:
 * times and sizes exactly, fractions with 17 significant digits. */
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/scn_parse_internal.h"
#include "sim/sim_bugs.h"

void scn_format_time(mte_time_t t, char *buf, size_t len)
{
    if (t % MTE_SEC == 0)
        snprintf(buf, len, "%" PRIu64 "s", (uint64_t)(t / MTE_SEC));
    else if (t < MTE_SEC && t % MTE_MSEC == 0)
        snprintf(buf, len, "%" PRIu64 "ms", (uint64_t)(t / MTE_MSEC));
    else if (t < MTE_MSEC && t % MTE_USEC == 0)
        snprintf(buf, len, "%" PRIu64 "us", (uint64_t)(t / MTE_USEC));
    else if (t < MTE_USEC)
        snprintf(buf, len, "%" PRIu64 "ns", t);
    else {
        /* decimal seconds, trailing zeros trimmed: exact */
        int n = snprintf(buf, len, "%" PRIu64 ".%09" PRIu64, (uint64_t)(t / MTE_SEC),
                         (uint64_t)(t % MTE_SEC));
        while (n > 0 && (size_t)n < len && buf[n - 1] == '0')
            buf[--n] = '\0';
        if ((size_t)n + 1 < len)
            snprintf(buf + n, len - (size_t)n, "s");
    }
}

void scn_format_size(uint64_t bytes, char *buf, size_t len)
{
    static const char suffix[] = "TGMK";
    for (int i = 0; i < 4; i++) {
        uint64_t unit = 1ull << (10 * (4 - i));
        if (bytes && bytes % unit == 0) {
            snprintf(buf, len, "%" PRIu64 "%c", bytes / unit, suffix[i]);
            return;
        }
    }
    snprintf(buf, len, "%" PRIu64, bytes);
}

/* ---- a growing line ----------------------------------------------------------------- */

struct line {
    char *buf;
    size_t len, used;
};

static void put(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct line *l, const char *fmt, ...)
{
    if (l->used >= l->len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->buf + l->used, l->len - l->used, fmt, ap);
    va_end(ap);
    if (n > 0)
        l->used = l->used + (size_t)n < l->len ? l->used + (size_t)n : l->len;
}

static void put_time(struct line *l, const char *prefix, mte_time_t t)
{
    char tb[40];
    scn_format_time(t, tb, sizeof(tb));
    put(l, "%s%s", prefix, tb);
}

static void put_size(struct line *l, const char *prefix, uint64_t bytes)
{
    char sb[40];
    scn_format_size(bytes, sb, sizeof(sb));
    put(l, "%s%s", prefix, sb);
}

static void put_quoted(struct line *l, const char *prefix, const char *text)
{
    put(l, "%s\"%s\"", prefix, text);
}

/* ---- actions ------------------------------------------------------------------------ */

static const char *dir_name(enum faultnet_dir d)
{
    return d == FAULTNET_A_TO_B ? "a-to-b" : d == FAULTNET_B_TO_A ? "b-to-a" : "both";
}

static void put_drbd(struct line *l, const struct scn_action *a)
{
    put(l, " %s", strcmp(a->node, "*") ? a->node : "all");
    if (a->verb == V_UP || a->verb == V_DOWN || a->verb == V_CREATE_MD) {
        if (a->text[0])
            put(l, " %s", a->text);  /* more nodes */
        if (a->res[0])
            put(l, " %s", a->res);
        if (a->flags & SCN_F_FORCE)
            put(l, " --force");
        return;
    }
    if (a->peer[0])
        put(l, " %s", a->peer);
    if (a->res[0])
        put(l, " %s", a->res);
    if (a->flags & SCN_F_FORCE)
        put(l, " --force");
    if (a->flags & SCN_F_DISCARD)
        put(l, " --discard-my-data");
}

static void put_expect(struct line *l, const struct scn_action *a)
{
    if (a->retry)
        put_time(l, " retry=", a->retry);
    if (a->flags & SCN_F_EXPECT_REFUSED)
        put(l, " expect=refused");
    else if (a->flags & SCN_F_MAY_FAIL)
        put(l, " expect=any");
    if (a->text[0] && scn_verb_is_drbd(a->verb) && a->verb != V_UP && a->verb != V_DOWN &&
        a->verb != V_CREATE_MD)
        put_quoted(l, " msg=", a->text);
}

static void put_net(struct line *l, const struct scn_action *a)
{
    if (!strcmp(a->node, "*")) {
        put(l, " all");
        return;
    }
    put(l, " %s %s", a->node, a->peer);
    if (a->dir != FAULTNET_BOTH)
        put(l, " dir=%s", dir_name(a->dir));
    if (a->verb == V_SLOW) {
        put_time(l, " latency=", a->slow.latency);
        if (a->slow.jitter)
            put_time(l, " jitter=", a->slow.jitter);
        if (a->slow.bandwidth)
            put_size(l, " bandwidth=", a->slow.bandwidth);
    }
    if (a->duration)
        put_time(l, " for ", a->duration);
}

static void put_disk(struct line *l, const struct scn_action *a)
{
    put(l, " %s %s", a->node, a->peer);
    if (a->verb == V_DISK_ERROR) {
        static const char *const ops[] = {"rw", "read", "write", "rw"};
        put(l, " ops=%s", ops[a->ops & 3]);
        if (a->rate > 0)
            put(l, " rate=%.17g", a->rate);
    }
    if (a->offset || a->verb == V_PLANT)
        put_size(l, " offset=", a->offset);
    if (a->length)
        put_size(l, " length=", a->length);
    if (a->duration)
        put_time(l, " for ", a->duration);
}

static void put_cond(struct line *l, const struct scn_cond *c)
{
    switch (c->kind) {
    case SCN_COND_SYNCED:
    case SCN_COND_CONNECTED:
        put(l, " %s", c->kind == SCN_COND_SYNCED ? "synced" : "connected");
        if (c->res[0])
            put(l, " %s", c->res);
        return;
    case SCN_COND_NODE_UP:
        put(l, " %s %s", c->terms[0].value, c->node);
        return;
    case SCN_COND_STOPPED:
        put(l, " stopped %s", c->node);
        return;
    case SCN_COND_HEALED:
        put(l, " healed");
        return;
    case SCN_COND_STATE:
        put(l, " %s", c->node);
        if (c->res[0])
            put(l, " %s", c->res);
        if (c->peer[0])
            put(l, " peer=%s", c->peer);
        for (unsigned i = 0; i < c->nterms; i++) {
            const struct scn_cond_term *t = &c->terms[i];
            put(l, " %s%s=%s", t->key, t->cmp == '<' ? "<" : t->cmp == '>' ? ">" : "", t->value);
        }
        return;
    }
}

void scn_format_action(const struct scn_action *a, char *buf, size_t len)
{
    struct line l = {buf, len, 0};
    buf[0] = '\0';
    put(&l, "%s", scn_verb_name(a->verb));
    if (scn_verb_is_drbd(a->verb)) {
        put_drbd(&l, a);
        put_expect(&l, a);
        return;
    }
    switch (a->verb) {
    case V_CRASH:
        put(&l, " %s %s", a->node, a->flags & SCN_F_KILL ? "kill" : "power");
        break;
    case V_RESTART:
        put(&l, " %s%s", a->node, a->flags & SCN_F_NO_UP ? " --no-up" : "");
        break;
    case V_PARTITION: case V_HEAL: case V_CLOG: case V_BLACKHOLE: case V_SLOW: case V_RESET:
        put_net(&l, a);
        break;
    case V_DISK_ERROR: case V_DISK_STALL: case V_DISK_HEAL: case V_PLANT:
        put_disk(&l, a);
        break;
    case V_START: case V_STOP: case V_SWEEP: case V_FORGET:
        put(&l, " %s", a->node);
        if (a->duration)
            put_time(&l, " for ", a->duration);
        break;
    case V_RETARGET:
        put(&l, " %s %s", a->node, a->peer);
        if (a->dev[0])
            put(&l, " dev=%s", a->dev);
        break;
    case V_CHECK_REPLICAS:
        if (a->res[0])
            put(&l, " %s", a->res);
        break;
    case V_PROBE_WRITE:
        put(&l, " %s", a->node);
        if (a->dev[0])
            put(&l, " dev=%s", a->dev);
        break;
    case V_WAIT_FOR: case V_ASSERT:
        put_cond(&l, &a->cond);
        if (a->verb == V_WAIT_FOR)
            put_time(&l, " timeout=", a->timeout);
        break;
    case V_LOG:
        put_quoted(&l, " ", a->text);
        return;
    default:
        break;
    }
    put_expect(&l, a);
}

/* ---- declarations --------------------------------------------------------------------- */

static void write_disk(FILE *f, const struct scn_disk *d)
{
    char buf[512];
    struct line l = {buf, sizeof(buf), 0};
    const struct simdisk_params *p = &d->params;
    put(&l, "disk %s %s", d->node, d->name);
    put_size(&l, " size=", d->size);
    put_size(&l, " block=", d->block_size);
    put_time(&l, " read-latency=", p->read_latency);
    put_time(&l, " write-latency=", p->write_latency);
    put_time(&l, " flush-latency=", p->flush_latency);
    put_time(&l, " jitter=", p->jitter);
    put(&l, " cache=%s", p->write_cache ? "on" : "off");
    if (p->cache_size)
        put_size(&l, " cache-size=", p->cache_size);
    if (p->read_error_rate > 0)
        put(&l, " read-errors=%.17g", p->read_error_rate);
    if (p->write_error_rate > 0)
        put(&l, " write-errors=%.17g", p->write_error_rate);
    fprintf(f, "%s\n", buf);
}

static void write_link(FILE *f, const char *head, const struct faultnet_link *k)
{
    char buf[256];
    struct line l = {buf, sizeof(buf), 0};
    put(&l, "%s", head);
    put_time(&l, " latency=", k->latency);
    put_time(&l, " jitter=", k->jitter);
    put_size(&l, " bandwidth=", k->bandwidth);
    fprintf(f, "%s", buf);
}

static void write_workload(FILE *f, const struct scn_workload *w)
{
    char buf[1024];
    struct line l = {buf, sizeof(buf), 0};
    put(&l, "workload %s node=%s dev=%s", w->name, w->node, w->dev);
    if (w->via == SCN_VIA_ISCSI)
        put(&l, " via=iscsi target=%s", w->target_node);
    if (w->kind == SCN_WL_REPLAY) {
        char abs[PATH_MAX];
        put_quoted(&l, " replay=", realpath(w->trace, abs) ? abs : w->trace);
        put(&l, " speed=%.17g", w->speed);
    } else {
        put(&l, " pattern=%s read=%u%% flush=%u%%", w->kind == SCN_WL_SEQUENTIAL ? "seq" : "random",
            w->read_pct, w->flush_pct);
        if (w->fua > 0)
            put(&l, " fua=%.17g", w->fua);
        put(&l, " bs=");
        for (unsigned i = 0; i < w->nbs; i++)
            put_size(&l, i ? "," : "", w->bs[i]);
        put(&l, " iops=%u", w->iops);
    }
    put(&l, " qd=%u", w->qd);
    put_size(&l, " offset=", w->offset);
    put_size(&l, " span=", w->span);
    fprintf(f, "%s\n", buf);
}

static void write_expect(FILE *f, const struct scn_expect *e)
{
    char tb[40];
    fprintf(f, "expect %s", scn_expect_name(e->kind));
    if (e->off) {
        fprintf(f, " off\n");
        return;
    }
    if (e->kind == E_TWO_PRIMARIES_OK)
        fprintf(f, " allowed");
    if (e->kind == E_IO_LATENCY || e->kind == E_RESYNC_STALL || e->kind == E_SYNCED_AFTER ||
        (e->kind == E_NO_IO_ERRORS && e->bound)) {
        scn_format_time(e->bound, tb, sizeof(tb));
        fprintf(f, " within %s", tb);
    }
    if (e->kind == E_SYNCED_AFTER)
        fprintf(f, " after %s%s%s", scn_verb_name(e->after_verb), e->after_node[0] ? " " : "",
                e->after_node);
    fprintf(f, "\n");
}

static void write_resource(FILE *f, const struct scn_resource *r)
{
    const char *text = r->text;
    while (*text == '\n')
        text++;
    size_t len = strlen(text);
    while (len && text[len - 1] == '\n')
        len--;
    fprintf(f, "resource %s <<END_OF_RES\n%.*s\nEND_OF_RES\n", r->name, (int)len, text);
}

static void write_header(FILE *f, const struct scenario *s)
{
    char tb[40];
    fprintf(f, "scenario %s\nseed %" PRIu64 "\n", s->name, s->seed);
    scn_format_time(s->duration, tb, sizeof(tb));
    fprintf(f, "duration %s\n", tb);
    scn_format_time(s->monitor_period, tb, sizeof(tb));
    fprintf(f, "monitor %s\n", tb);
    for (unsigned b = 0; b < 64; b++)
        if ((s->bugs >> b) & 1 && sim_bug_name(b))
            fprintf(f, "inject-bug %s\n", sim_bug_name(b));
    if (s->chaos_until) {
        char ub[40];
        scn_format_time(s->chaos_from, tb, sizeof(tb));
        scn_format_time(s->chaos_until, ub, sizeof(ub));
        fprintf(f, "chaos from %s until %s\n", tb, ub);
    }
    write_link(f, "net", &s->net.link);
    fprintf(f, " window=%" PRIu32, s->net.window);
    scn_format_time(s->net.connect_timeout, tb, sizeof(tb));
    fprintf(f, " connect-timeout=%s\n", tb);
}

/* Shortest decimal that reads back as the same double. */
static void write_rate(FILE *f, double rate)
{
    char buf[40];
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, rate);
        if (strtod(buf, NULL) == rate)
            break;
    }
    fprintf(f, " rate=%s/s", buf);
}

static void write_range(FILE *f, const char *key, mte_time_t lo, mte_time_t hi)
{
    char a[40], b[40];
    scn_format_time(lo, a, sizeof(a));
    scn_format_time(hi, b, sizeof(b));
    fprintf(f, " %s=%s..%s", key, a, b);
}

static void write_window(FILE *f, mte_time_t from, mte_time_t until)
{
    char tb[40];
    if (from) {
        scn_format_time(from, tb, sizeof(tb));
        fprintf(f, " from %s", tb);
    }
    if (until) {
        scn_format_time(until, tb, sizeof(tb));
        fprintf(f, " until %s", tb);
    }
}

static void write_fault(FILE *f, const struct scn_fault *x)
{
    static const char *const modes[] = {"power", "kill", "any"};
    fprintf(f, "fault %s", scn_fault_name(x->kind));
    write_window(f, x->from, x->until);
    write_rate(f, x->rate);
    write_range(f, "duration", x->dur_min, x->dur_max);
    for (unsigned i = 0; i < x->nnodes; i++)
        fprintf(f, "%s%s", i ? "," : " nodes=", x->nodes[i]);
    if (x->kind == F_SLOW)
        write_range(f, "latency", x->lat_min, x->lat_max);
    if (x->kind == F_CRASH && x->crash_mode < 3)
        fprintf(f, " mode=%s", modes[x->crash_mode]);
    fprintf(f, "\n");
}

static void write_swarm(FILE *f, const struct scenario *s)
{
    fprintf(f, "swarm");
    for (unsigned k = 0, n = 0; k < F__COUNT; k++)
        if (s->swarm_kinds >> k & 1)
            fprintf(f, "%s%s", n++ ? "," : " kinds=", scn_fault_name((enum scn_fault_kind)k));
    write_window(f, s->swarm_from, s->swarm_until);
    fprintf(f, "\n");
}

/* A run of actions: one 'at' and the 'after' lines chained to it. */
struct segment {
    size_t first, end;
    mte_time_t at;
};

static int segment_cmp(const void *pa, const void *pb)
{
    const struct segment *a = pa, *b = pb;
    if (a->at != b->at)
        return a->at < b->at ? -1 : 1;
    return a->first < b->first ? -1 : a->first > b->first; /* stable */
}

/* 'every' lines expand to 'at' actions after those of the lines before them;
 * the file wants 'at' lines in time order, and the runner keys each 'after'
 * to the action before it.  So whole segments are sorted by their 'at' time
 * (a leading 'after' segment, anchored at 0, stays first). */
static void write_actions(FILE *f, const struct scenario *s)
{
    struct segment *seg = calloc(s->nactions + 1, sizeof(*seg));
    size_t n = 0;
    for (size_t i = 0; i < s->nactions; i++) {
        if (i == 0 || s->actions[i].anchor == SCN_AT)
            seg[n++] = (struct segment){i, i, s->actions[i].anchor == SCN_AT ? s->actions[i].time : 0};
        seg[n - 1].end = i + 1;
    }
    qsort(seg, n, sizeof(*seg), segment_cmp);
    for (size_t k = 0; k < n; k++)
        for (size_t i = seg[k].first; i < seg[k].end; i++) {
            char tb[40], ab[1024];
            const struct scn_action *a = &s->actions[i];
            scn_format_time(a->time, tb, sizeof(tb));
            scn_format_action(a, ab, sizeof(ab));
            fprintf(f, "%s %s %s\n", a->anchor == SCN_AT ? "at" : "after", tb, ab);
        }
    free(seg);
}

void scn_write(FILE *f, const struct scenario *s)
{
    write_header(f, s);
    for (size_t i = 0; i < s->nnodes; i++)
        fprintf(f, "node %s %s\n", s->nodes[i].name, s->nodes[i].ip);
    for (size_t i = 0; i < s->ndisks; i++)
        write_disk(f, &s->disks[i]);
    for (size_t i = 0; i < s->nlinks; i++) {
        char head[2 * SCN_NAME + 8];
        snprintf(head, sizeof(head), "link %s %s", s->links[i].a, s->links[i].b);
        write_link(f, head, &s->links[i].link);
        fprintf(f, "\n");
    }
    for (size_t i = 0; i < s->nresources; i++)
        write_resource(f, &s->resources[i]);
    for (size_t i = 0; i < s->nexports; i++)
        fprintf(f, "export %s %s lun=%" PRIu64 " iqn=%s port=%u\n", s->exports[i].node,
                s->exports[i].dev, s->exports[i].lun, s->exports[i].iqn, s->exports[i].port);
    for (size_t i = 0; i < s->nworkloads; i++)
        write_workload(f, &s->workloads[i]);
    for (size_t i = 0; i < s->nexpects; i++)
        write_expect(f, &s->expects[i]);
    for (size_t i = 0; i < s->nfaults; i++)
        write_fault(f, &s->faults[i]);
    if (s->swarm_declared)
        write_swarm(f, s);
    write_actions(f, s);
}
