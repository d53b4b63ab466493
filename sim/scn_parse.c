/* Scenario parsing: the declarations (nodes, disks, links, resources,
 * exports, workloads, fault profiles, expectations).  Timed actions are in
 * scn_action.c; cross references are checked once the whole file is read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/scn_lex.h"
#include "sim/scn_parse_internal.h"

/* ---- small helpers --------------------------------------------------------------- */

static int want_args(struct scn_ctx *c, const struct tokens *t, unsigned min, const char *usage)
{
    if (t->n < min)
        return scn_error(c, "expected: %s", usage);
    return 0;
}

static int unknown_key(struct scn_ctx *c, const char *directive, const char *key, const char *keys)
{
    return scn_error(c, "%s: unknown setting '%s' (expected one of: %s)", directive, key, keys);
}

static int split_kv(struct scn_ctx *c, char *tok, char **k, char **v, const char *directive)
{
    if (!lex_kv(tok, k, v))
        return scn_error(c, "%s: expected key=value, got '%s'", directive, tok);
    return 0;
}

/* ---- header directives ------------------------------------------------------------- */

static int d_scenario(struct scn_ctx *c, struct tokens *t)
{
    if (want_args(c, t, 2, "scenario NAME"))
        return -1;
    return lex_name(c, t->tok[1], c->s->name, sizeof(c->s->name), "a scenario name");
}

static int d_seed(struct scn_ctx *c, struct tokens *t)
{
    if (want_args(c, t, 2, "seed N") || lex_u64(c, t->tok[1], &c->s->seed))
        return -1;
    c->s->has_seed = true;
    return 0;
}

static int d_duration(struct scn_ctx *c, struct tokens *t)
{
    if (want_args(c, t, 2, "duration TIME") || lex_time(c, t->tok[1], &c->s->duration))
        return -1;
    if (!c->s->duration)
        return scn_error(c, "duration must be more than 0");
    return 0;
}

static int d_monitor(struct scn_ctx *c, struct tokens *t)
{
    if (want_args(c, t, 2, "monitor TIME") || lex_time(c, t->tok[1], &c->s->monitor_period))
        return -1;
    if (c->s->monitor_period < MTE_MSEC)
        return scn_error(c, "monitor period must be at least 1ms");
    return 0;
}

static int d_inject_bug(struct scn_ctx *c, struct tokens *t)
{
    if (want_args(c, t, 2, "inject-bug NAME"))
        return -1;
    int id = scn_bug_from_name(t->tok[1]);
    if (id < 0)
        return scn_error(c, "unknown bug '%s' (scstsim --inject-bug list shows them)", t->tok[1]);
    c->s->bugs |= 1ull << id;
    return 0;
}

static int d_recorded(struct scn_ctx *c, struct tokens *t)
{
    c->s->recorded = true;
    for (unsigned i = 1; i < t->n; i++) {
        char *k, *v;
        if (split_kv(c, t->tok[i], &k, &v, "recorded"))
            return -1;
        if (strcmp(k, "invariant") != 0)
            return unknown_key(c, "recorded", k, "invariant");
        if (lex_name(c, v, c->s->recorded_invariant, sizeof(c->s->recorded_invariant), "an invariant"))
            return -1;
    }
    return 0;
}

/* chaos from A until B: written into realized schedules, so a replay judges
 * liveness and availability as the run that drew the faults did. */
static int d_chaos(struct scn_ctx *c, struct tokens *t)
{
    if (t->n != 5 || strcmp(t->tok[1], "from") || strcmp(t->tok[3], "until"))
        return scn_error(c, "expected: chaos from TIME until TIME");
    if (lex_time(c, t->tok[2], &c->s->chaos_from) || lex_time(c, t->tok[4], &c->s->chaos_until))
        return -1;
    if (c->s->chaos_until < c->s->chaos_from)
        return scn_error(c, "chaos: 'until' must not be before 'from'");
    return 0;
}

static int d_net(struct scn_ctx *c, struct tokens *t)
{
    struct faultnet_params *p = &c->s->net;
    for (unsigned i = 1; i < t->n; i++) {
        char *k, *v;
        uint64_t size;
        if (split_kv(c, t->tok[i], &k, &v, "net"))
            return -1;
        if (!strcmp(k, "latency")) {
            if (lex_time(c, v, &p->link.latency))
                return -1;
        } else if (!strcmp(k, "jitter")) {
            if (lex_time(c, v, &p->link.jitter))
                return -1;
        } else if (!strcmp(k, "bandwidth")) {
            if (lex_size(c, v, &p->link.bandwidth))
                return -1;
        } else if (!strcmp(k, "window")) {
            if (lex_size(c, v, &size))
                return -1;
            if (size < 4096 || size > UINT32_MAX)
                return scn_error(c, "net: window must be between 4K and 4G");
            p->window = (uint32_t)size;
        } else if (!strcmp(k, "connect-timeout")) {
            if (lex_time(c, v, &p->connect_timeout))
                return -1;
        } else {
            return unknown_key(c, "net", k, "latency jitter bandwidth window connect-timeout");
        }
    }
    return 0;
}

/* ---- nodes, disks, links ------------------------------------------------------------- */

static int d_node(struct scn_ctx *c, struct tokens *t)
{
    struct scenario *s = c->s;
    if (want_args(c, t, 3, "node NAME IPV4"))
        return -1;
    if (scn_find_node(s, t->tok[1]))
        return scn_error(c, "node '%s' is declared twice", t->tok[1]);
    s->nodes = lex_push(s->nodes, &s->nnodes, sizeof(*s->nodes));
    struct scn_node *n = &s->nodes[s->nnodes - 1];
    n->line = c->line;
    if (lex_name(c, t->tok[1], n->name, sizeof(n->name), "a node name") ||
        lex_name(c, t->tok[2], n->ip, sizeof(n->ip), "an IPv4 address"))
        return -1;
    unsigned a, b, cc, d;
    char extra;
    if (sscanf(n->ip, "%u.%u.%u.%u%c", &a, &b, &cc, &d, &extra) != 4 || a > 255 || b > 255 ||
        cc > 255 || d > 255)
        return scn_error(c, "expected an IPv4 address like 10.0.0.1, got '%s'", n->ip);
    for (size_t i = 0; i + 1 < s->nnodes; i++)
        if (!strcmp(s->nodes[i].ip, n->ip))
            return scn_error(c, "address %s is already node '%s's", n->ip, s->nodes[i].name);
    if (t->n > 3)
        return scn_error(c, "node: unexpected '%s' after the address", t->tok[3]);
    return 0;
}

static int disk_setting(struct scn_ctx *c, struct scn_disk *d, const char *k, const char *v)
{
    struct simdisk_params *p = &d->params;
    uint64_t size;
    if (!strcmp(k, "size"))
        return lex_size(c, v, &d->size);
    if (!strcmp(k, "block")) {
        if (lex_size(c, v, &size))
            return -1;
        if (size != 512 && size != 4096)
            return scn_error(c, "disk: block must be 512 or 4K");
        d->block_size = (uint32_t)size;
        return 0;
    }
    if (!strcmp(k, "latency")) {
        if (lex_time(c, v, &p->write_latency))
            return -1;
        p->read_latency = p->write_latency;
        return 0;
    }
    if (!strcmp(k, "read-latency"))
        return lex_time(c, v, &p->read_latency);
    if (!strcmp(k, "write-latency"))
        return lex_time(c, v, &p->write_latency);
    if (!strcmp(k, "flush-latency"))
        return lex_time(c, v, &p->flush_latency);
    if (!strcmp(k, "jitter"))
        return lex_time(c, v, &p->jitter);
    if (!strcmp(k, "cache"))
        return lex_bool(c, v, &p->write_cache);
    if (!strcmp(k, "cache-size"))
        return lex_size(c, v, &p->cache_size);
    if (!strcmp(k, "read-errors"))
        return lex_percent(c, v, &p->read_error_rate);
    if (!strcmp(k, "write-errors"))
        return lex_percent(c, v, &p->write_error_rate);
    return unknown_key(c, "disk", k,
                       "size block latency read-latency write-latency flush-latency jitter cache "
                       "cache-size read-errors write-errors");
}

static int d_disk(struct scn_ctx *c, struct tokens *t)
{
    struct scenario *s = c->s;
    if (want_args(c, t, 3, "disk NODE [NAME] size=SIZE [latency=T] [cache=on|off] ..."))
        return -1;
    s->disks = lex_push(s->disks, &s->ndisks, sizeof(*s->disks));
    struct scn_disk *d = &s->disks[s->ndisks - 1];
    d->line = c->line;
    simdisk_default_params(&d->params);
    d->block_size = 4096;
    if (lex_name(c, t->tok[1], d->node, sizeof(d->node), "a node name"))
        return -1;
    unsigned i = 2;
    if (!strchr(t->tok[2], '=')) {
        if (lex_name(c, t->tok[2], d->name, sizeof(d->name), "a disk name"))
            return -1;
        i = 3;
    } else {
        unsigned nth = 0;
        for (size_t j = 0; j + 1 < s->ndisks; j++)
            nth += !strcmp(s->disks[j].node, d->node);
        snprintf(d->name, sizeof(d->name), "tcmu%03u", nth);
    }
    for (size_t j = 0; j + 1 < s->ndisks; j++)
        if (!strcmp(s->disks[j].node, d->node) && !strcmp(s->disks[j].name, d->name))
            return scn_error(c, "node '%s' already has a disk '%s'", d->node, d->name);
    for (; i < t->n; i++) {
        char *k, *v;
        if (split_kv(c, t->tok[i], &k, &v, "disk") || disk_setting(c, d, k, v))
            return -1;
    }
    if (!d->size || d->size % d->block_size)
        return scn_error(c, "disk: size=SIZE is needed, a multiple of the block size (%u)",
                         d->block_size);
    return 0;
}

static int d_link(struct scn_ctx *c, struct tokens *t)
{
    struct scenario *s = c->s;
    if (want_args(c, t, 3, "link A B [latency=T] [jitter=T] [bandwidth=SIZE]"))
        return -1;
    s->links = lex_push(s->links, &s->nlinks, sizeof(*s->links));
    struct scn_link *l = &s->links[s->nlinks - 1];
    l->line = c->line;
    l->link = s->net.link;
    if (lex_name(c, t->tok[1], l->a, sizeof(l->a), "a node name") ||
        lex_name(c, t->tok[2], l->b, sizeof(l->b), "a node name"))
        return -1;
    for (unsigned i = 3; i < t->n; i++) {
        char *k, *v;
        if (split_kv(c, t->tok[i], &k, &v, "link"))
            return -1;
        int rc;
        if (!strcmp(k, "latency"))
            rc = lex_time(c, v, &l->link.latency);
        else if (!strcmp(k, "jitter"))
            rc = lex_time(c, v, &l->link.jitter);
        else if (!strcmp(k, "bandwidth"))
            rc = lex_size(c, v, &l->link.bandwidth);
        else
            rc = unknown_key(c, "link", k, "latency jitter bandwidth");
        if (rc)
            return -1;
    }
    return 0;
}

/* ---- resources ------------------------------------------------------------------------- */

/* The .res text, padded with first_line - 1 newlines so line numbers in
 * drbd's messages are those of the file the text came from. */
static char *padded_text(const char *text, size_t len, int first_line)
{
    size_t pad = first_line > 1 ? (size_t)(first_line - 1) : 0;
    char *out = malloc(pad + len + 2);
    if (!out)
        abort();
    memset(out, '\n', pad);
    memcpy(out + pad, text, len);
    out[pad + len] = '\n';
    out[pad + len + 1] = '\0';
    return out;
}

static int resource_from_file(struct scn_ctx *c, struct scn_resource *r, const char *file)
{
    char path[SCN_PATH];
    scn_relative_path(c->path, file, path, sizeof(path));
    size_t len;
    char *text = scn_read_file(path, &len);
    if (!text)
        return scn_error(c, "resource %s: cannot read %s: %s", r->name, path, strerror(errno));
    r->text = padded_text(text, len, 1);
    free(text);
    snprintf(r->origin, sizeof(r->origin), "%s", path);
    return 0;
}

int scn_d_resource(struct scn_ctx *c, struct tokens *t, const char *heredoc, size_t heredoc_len,
                   int heredoc_line)
{
    struct scenario *s = c->s;
    if (want_args(c, t, heredoc ? 2 : 3,
                  "resource NAME <<END (then the .res text, then END) or resource NAME file=PATH"))
        return -1;
    if (scn_find_resource(s, t->tok[1]))
        return scn_error(c, "resource '%s' is declared twice", t->tok[1]);
    s->resources = lex_push(s->resources, &s->nresources, sizeof(*s->resources));
    struct scn_resource *r = &s->resources[s->nresources - 1];
    r->line = c->line;
    if (lex_name(c, t->tok[1], r->name, sizeof(r->name), "a resource name"))
        return -1;
    if (heredoc) {
        r->text = padded_text(heredoc, heredoc_len, heredoc_line);
        snprintf(r->origin, sizeof(r->origin), "%s", c->path);
        return 0;
    }
    char *k, *v;
    if (split_kv(c, t->tok[2], &k, &v, "resource") )
        return -1;
    if (strcmp(k, "file") != 0)
        return unknown_key(c, "resource", k, "file, or <<END for inline text");
    return resource_from_file(c, r, v);
}

/* ---- exports ----------------------------------------------------------------------------- */

static int d_export(struct scn_ctx *c, struct tokens *t)
{
    struct scenario *s = c->s;
    if (want_args(c, t, 3, "export NODE DEV [lun=N] [iqn=IQN] [port=N]"))
        return -1;
    s->exports = lex_push(s->exports, &s->nexports, sizeof(*s->exports));
    struct scn_export *x = &s->exports[s->nexports - 1];
    x->line = c->line;
    x->port = 3260;
    if (lex_name(c, t->tok[1], x->node, sizeof(x->node), "a node name") ||
        lex_name(c, t->tok[2], x->dev, sizeof(x->dev), "a device name"))
        return -1;
    snprintf(x->iqn, sizeof(x->iqn), "iqn.2026-01.sim.%s:%s", x->node, x->dev);
    for (unsigned i = 3; i < t->n; i++) {
        char *k, *v;
        uint64_t u;
        if (split_kv(c, t->tok[i], &k, &v, "export"))
            return -1;
        if (!strcmp(k, "lun")) {
            if (lex_u64(c, v, &x->lun))
                return -1;
        } else if (!strcmp(k, "iqn")) {
            if (lex_name(c, v, x->iqn, sizeof(x->iqn), "an iqn"))
                return -1;
        } else if (!strcmp(k, "port")) {
            if (lex_u64(c, v, &u))
                return -1;
            if (!u || u > 65535)
                return scn_error(c, "export: port must be 1..65535");
            x->port = (unsigned)u;
        } else {
            return unknown_key(c, "export", k, "lun iqn port");
        }
    }
    return 0;
}

/* ---- expectations -------------------------------------------------------------------------- */

static int d_expect(struct scn_ctx *c, struct tokens *t)
{
    struct scenario *s = c->s;
    static const char usage[] =
        "expect no-lost-writes | replicas-identical | io-latency within T | two-primaries allowed | "
        "resync-stall within T | synced within T after ACTION [NODE] | no-io-errors [within T] | leak-check "
        "(any of them followed by 'off' to switch a default off)";
    if (want_args(c, t, 2, usage))
        return -1;
    int kind = scn_expect_from_name(t->tok[1]);
    if (kind < 0)
        return scn_error(c, "unknown expectation '%s'; expected: %s", t->tok[1], usage);
    s->expects = lex_push(s->expects, &s->nexpects, sizeof(*s->expects));
    struct scn_expect *e = &s->expects[s->nexpects - 1];
    e->kind = (enum scn_expect_kind)kind;
    e->line = c->line;
    unsigned i = 2;
    if (i < t->n && !strcmp(t->tok[i], "off")) {
        e->off = true;
        i++;
    } else if (kind == E_TWO_PRIMARIES_OK) {
        if (i >= t->n || strcmp(t->tok[i], "allowed"))
            return scn_error(c, "expected: expect two-primaries allowed");
        i++;
    } else if (kind == E_IO_LATENCY || kind == E_RESYNC_STALL || kind == E_SYNCED_AFTER) {
        if (i + 1 >= t->n || strcmp(t->tok[i], "within"))
            return scn_error(c, "expected: expect %s within TIME", t->tok[1]);
        if (lex_time(c, t->tok[i + 1], &e->bound))
            return -1;
        i += 2;
    } else if (kind == E_NO_IO_ERRORS && i + 1 < t->n && !strcmp(t->tok[i], "within")) {
        /* how long after drawn faults heal I/O may still fail (reconnects) */
        if (lex_time(c, t->tok[i + 1], &e->bound))
            return -1;
        i += 2;
    }
    if (kind == E_SYNCED_AFTER && !e->off) {
        if (i + 1 >= t->n || strcmp(t->tok[i], "after"))
            return scn_error(c, "expected: expect synced within T after ACTION [NODE]");
        int v = scn_verb_from_name(t->tok[i + 1]);
        if (v < 0)
            return scn_error(c, "unknown action '%s' after 'after'", t->tok[i + 1]);
        e->after_verb = (enum scn_verb)v;
        i += 2;
        if (i < t->n && lex_name(c, t->tok[i++], e->after_node, sizeof(e->after_node), "a node name"))
            return -1;
    }
    if (i < t->n)
        return scn_error(c, "expect %s: unexpected '%s'", t->tok[1], t->tok[i]);
    return 0;
}

/* ---- the directive table --------------------------------------------------------------------- */

struct directive {
    const char *name;
    int (*fn)(struct scn_ctx *c, struct tokens *t);
};

static const struct directive directives[] = {
    {"scenario", d_scenario}, {"seed", d_seed}, {"duration", d_duration},
    {"monitor", d_monitor}, {"inject-bug", d_inject_bug}, {"recorded", d_recorded},
    {"chaos", d_chaos},
    {"net", d_net}, {"node", d_node}, {"disk", d_disk}, {"link", d_link},
    {"export", d_export}, {"workload", scn_d_workload}, {"at", scn_d_timed},
    {"after", scn_d_timed}, {"every", scn_d_every}, {"fault", scn_d_fault},
    {"swarm", scn_d_swarm}, {"expect", d_expect},
};

static const char directive_list[] =
    "scenario seed duration monitor inject-bug recorded chaos net node disk link resource export "
    "workload at after every fault swarm expect";

/* A line ending in <<WORD (bare, not quoted) starts inline text that ends at
 * a line WORD. */
static const char *heredoc_tag(const struct tokens *t)
{
    if (t->n < 2 || t->quoted[t->n - 1])
        return NULL;
    const char *last = t->tok[t->n - 1];
    return strncmp(last, "<<", 2) == 0 && last[2] ? last + 2 : NULL;
}

struct line_reader {
    char *text;
    char *pos;
    int line;
};

static char *next_line(struct line_reader *r)
{
    if (!*r->pos)
        return NULL;
    char *start = r->pos;
    char *nl = strchr(start, '\n');
    if (nl) {
        *nl = '\0';
        r->pos = nl + 1;
    } else {
        r->pos = start + strlen(start);
    }
    r->line++;
    return start;
}

static bool is_tag_line(const char *line, const char *tag)
{
    while (*line == ' ' || *line == '\t')
        line++;
    size_t n = strlen(tag);
    if (strncmp(line, tag, n))
        return false;
    line += n;
    while (*line == ' ' || *line == '\t' || *line == '\r')
        line++;
    return !*line;
}

static int parse_heredoc(struct scn_ctx *c, struct line_reader *r, struct tokens *t, const char *tag)
{
    char tagbuf[64];
    snprintf(tagbuf, sizeof(tagbuf), "%s", tag);
    int start_line = c->line;
    t->n--; /* drop the <<TAG word */
    if (strcmp(t->tok[0], "resource") != 0)
        return scn_error(c, "only 'resource' takes inline text (<<%s)", tagbuf);
    char *body = r->pos, *line;
    size_t len = 0;
    while ((line = next_line(r))) {
        if (is_tag_line(line, tagbuf)) {
            int rc = scn_d_resource(c, t, body, len, start_line + 1);
            c->line = r->line;
            return rc;
        }
        len = (size_t)(r->pos - body);
        /* next_line put a NUL where the newline was: put it back for the text */
        if (r->pos > body && r->pos[-1] == '\0')
            r->pos[-1] = '\n';
    }
    return scn_error(c, "inline text started here never ends: expected a line '%s'", tagbuf);
}

static int parse_line(struct scn_ctx *c, struct line_reader *r, char *line)
{
    struct tokens t;
    if (lex_split(c, line, &t))
        return -1;
    if (!t.n)
        return 0;
    const char *tag = heredoc_tag(&t);
    if (tag)
        return parse_heredoc(c, r, &t, tag);
    if (!strcmp(t.tok[0], "resource"))
        return scn_d_resource(c, &t, NULL, 0, 0);
    for (size_t i = 0; i < sizeof(directives) / sizeof(directives[0]); i++)
        if (!strcmp(t.tok[0], directives[i].name))
            return directives[i].fn(c, &t);
    return scn_error(c, "unknown directive '%s' (expected one of: %s)", t.tok[0], directive_list);
}

static void set_defaults(struct scenario *s, const char *path)
{
    snprintf(s->path, sizeof(s->path), "%s", path);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(s->name, sizeof(s->name), "%s", base);
    char *dot = strrchr(s->name, '.');
    if (dot && dot != s->name)
        *dot = '\0';
    s->seed = 1;
    s->duration = 30 * MTE_SEC;
    s->monitor_period = 100 * MTE_MSEC;
    faultnet_default_params(&s->net);
}

struct scenario *scn_parse(const char *text, const char *path, char *err, size_t errlen)
{
    struct scenario *s = calloc(1, sizeof(*s));
    if (!s)
        abort();
    set_defaults(s, path);
    struct scn_ctx c = {.s = s, .path = path, .err = err, .errlen = errlen};
    struct line_reader r = {.text = strdup(text)};
    if (!r.text)
        abort();
    r.pos = r.text;
    char *line;
    int rc = 0;
    while (!rc && (line = next_line(&r))) {
        c.line = r.line;
        rc = parse_line(&c, &r, line);
    }
    free(r.text);
    if (!rc)
        rc = scn_check_references(&c);
    if (!rc)
        rc = scn_expand_after_parse(&c);
    if (rc) {
        scn_free(s);
        return NULL;
    }
    return s;
}

struct scenario *scn_load(const char *path, char *err, size_t errlen)
{
    size_t len;
    char *text = scn_read_file(path, &len);
    if (!text) {
        snprintf(err, errlen, "%s:0: cannot read the scenario: %s", path, strerror(errno));
        return NULL;
    }
    if (strlen(text) != len) {
        snprintf(err, errlen, "%s:0: not a text file (it has a NUL byte)", path);
        free(text);
        return NULL;
    }
    struct scenario *s = scn_parse(text, path, err, errlen);
    free(text);
    return s;
}
