/* Scenario parsing: workloads, fault profiles, swarm, and the checks that
 * need the whole file (every name used is declared). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/scn_parse_internal.h"

/* ---- files ------------------------------------------------------------------------- */

void scn_relative_path(const char *scenario_path, const char *file, char *out, size_t len)
{
    const char *slash = strrchr(scenario_path, '/');
    if (file[0] == '/' || !slash)
        snprintf(out, len, "%s", file);
    else
        snprintf(out, len, "%.*s/%s", (int)(slash - scenario_path), scenario_path, file);
}

char *scn_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, used = 0;
    char *buf = malloc(cap);
    if (!buf)
        abort();
    for (;;) {
        size_t n = fread(buf + used, 1, cap - used - 1, f);
        used += n;
        if (used + 1 < cap)
            break;
        cap *= 2;
        buf = realloc(buf, cap);
        if (!buf)
            abort();
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    buf[used] = '\0';
    *len = used;
    return buf;
}

/* ---- workloads ---------------------------------------------------------------------- */

static int parse_bs_list(struct scn_ctx *c, struct scn_workload *w, char *v)
{
    w->nbs = 0;
    for (char *p = strtok(v, ","); p; p = strtok(NULL, ",")) {
        uint64_t bs;
        if (lex_size(c, p, &bs))
            return -1;
        if (!bs || bs % 512 || bs > 1024 * 1024)
            return scn_error(c, "workload: block size %s must be a multiple of 512 up to 1M", p);
        if (w->nbs == SCN_MAX_BS)
            return scn_error(c, "workload: at most %d block sizes", SCN_MAX_BS);
        w->bs[w->nbs++] = (uint32_t)bs;
    }
    return w->nbs ? 0 : scn_error(c, "workload: bs= needs at least one size");
}

static int workload_kv(struct scn_ctx *c, struct scn_workload *w, char *k, char *v)
{
    double d;
    uint64_t u;
    if (!strcmp(k, "node"))
        return lex_name(c, v, w->node, sizeof(w->node), "a node name");
    if (!strcmp(k, "dev"))
        return lex_name(c, v, w->dev, sizeof(w->dev), "a device name");
    if (!strcmp(k, "target"))
        return lex_name(c, v, w->target_node, sizeof(w->target_node), "a node name");
    if (!strcmp(k, "via")) {
        if (strcmp(v, "bdev") && strcmp(v, "iscsi"))
            return scn_error(c, "workload: expected via=bdev or via=iscsi, got '%s'", v);
        w->via = !strcmp(v, "iscsi") ? SCN_VIA_ISCSI : SCN_VIA_BDEV;
        return 0;
    }
    if (!strcmp(k, "pattern")) {
        if (strcmp(v, "random") && strcmp(v, "seq"))
            return scn_error(c, "workload: expected pattern=random or pattern=seq, got '%s'", v);
        w->kind = !strcmp(v, "seq") ? SCN_WL_SEQUENTIAL : SCN_WL_RANDOM;
        return 0;
    }
    if (!strcmp(k, "read") || !strcmp(k, "flush")) {
        if (lex_percent(c, v, &d))
            return -1;
        *(!strcmp(k, "read") ? &w->read_pct : &w->flush_pct) = (unsigned)(d * 100 + 0.5);
        return 0;
    }
    if (!strcmp(k, "fua"))
        return lex_percent(c, v, &w->fua);
    if (!strcmp(k, "bs"))
        return parse_bs_list(c, w, v);
    if (!strcmp(k, "iops") || !strcmp(k, "qd")) {
        if (lex_u64(c, v, &u))
            return -1;
        if (u > 1000000 || (!strcmp(k, "qd") && (u == 0 || u > 1024)))
            return scn_error(c, "workload: %s=%s is out of range", k, v);
        if (!strcmp(k, "iops"))
            w->iops = (uint32_t)u;
        else
            w->qd = (unsigned)u;
        return 0;
    }
    if (!strcmp(k, "offset"))
        return lex_size(c, v, &w->offset);
    if (!strcmp(k, "span"))
        return lex_size(c, v, &w->span);
    if (!strcmp(k, "replay")) {
        scn_relative_path(c->path, v, w->trace, sizeof(w->trace));
        w->kind = SCN_WL_REPLAY;
        return 0;
    }
    if (!strcmp(k, "speed")) {
        if (lex_double(c, v, &w->speed))
            return -1;
        return w->speed > 0 ? 0 : scn_error(c, "workload: speed must be above 0");
    }
    return scn_error(c, "workload: unknown setting '%s' (expected node dev via target pattern read "
                     "flush fua bs iops qd offset span replay speed)", k);
}

int scn_d_workload(struct scn_ctx *c, struct tokens *t)
{
    struct scenario *s = c->s;
    if (t->n < 3)
        return scn_error(c, "expected: workload NAME node=NODE dev=DEV [pattern=random|seq] [read=P] "
                         "[bs=SIZES] [iops=N] [qd=N] [span=SIZE] ... or replay=FILE");
    if (scn_find_workload(s, t->tok[1]))
        return scn_error(c, "workload '%s' is declared twice", t->tok[1]);
    s->workloads = lex_push(s->workloads, &s->nworkloads, sizeof(*s->workloads));
    struct scn_workload *w = &s->workloads[s->nworkloads - 1];
    w->line = c->line;
    w->bs[0] = 4096;
    w->nbs = 1;
    w->qd = 8;
    w->speed = 1.0;
    if (lex_name(c, t->tok[1], w->name, sizeof(w->name), "a workload name"))
        return -1;
    for (unsigned i = 2; i < t->n; i++) {
        char *k, *v;
        if (!lex_kv(t->tok[i], &k, &v))
            return scn_error(c, "workload: expected key=value, got '%s'", t->tok[i]);
        if (workload_kv(c, w, k, v))
            return -1;
    }
    if (!w->node[0])
        return scn_error(c, "workload: node=NODE is needed");
    if (w->via == SCN_VIA_ISCSI && !w->target_node[0])
        return scn_error(c, "workload: via=iscsi needs target=NODE (the node exporting dev)");
    if (!w->dev[0])
        return scn_error(c, "workload: dev=DEV is needed");
    if (w->read_pct + w->flush_pct > 100)
        return scn_error(c, "workload: read and flush add up to more than 100%%");
    uint32_t unit = w->bs[0];
    for (unsigned i = 1; i < w->nbs; i++)
        if (w->bs[i] < unit)
            unit = w->bs[i];
    if (w->offset % unit || w->span % unit)
        return scn_error(c, "workload: offset and span must be multiples of the smallest block size");
    return 0;
}

/* ---- fault profiles ----------------------------------------------------------------- */

static int parse_node_list(struct scn_ctx *c, char *v, char nodes[][SCN_NAME], unsigned *n)
{
    *n = 0;
    for (char *p = strtok(v, ","); p; p = strtok(NULL, ",")) {
        if (*n == 8)
            return scn_error(c, "at most 8 nodes in a list");
        if (lex_name(c, p, nodes[(*n)++], SCN_NAME, "a node name"))
            return -1;
    }
    return 0;
}

static int fault_kv(struct scn_ctx *c, struct scn_fault *f, char *k, char *v)
{
    if (!strcmp(k, "rate"))
        return lex_rate(c, v, &f->rate);
    if (!strcmp(k, "duration") || !strcmp(k, "downtime"))
        return lex_time_range(c, v, &f->dur_min, &f->dur_max);
    if (!strcmp(k, "nodes"))
        return parse_node_list(c, v, f->nodes, &f->nnodes);
    if (!strcmp(k, "latency") && f->kind == F_SLOW)
        return lex_time_range(c, v, &f->lat_min, &f->lat_max);
    if (!strcmp(k, "mode") && f->kind == F_CRASH) {
        f->crash_mode = !strcmp(v, "power") ? 0 : !strcmp(v, "kill") ? 1 : !strcmp(v, "any") ? 2 : 3;
        return f->crash_mode < 3 ? 0 : scn_error(c, "fault crash: expected mode=power, kill or any");
    }
    return scn_error(c, "fault %s: unknown setting '%s' (expected rate duration nodes%s%s)",
                     scn_fault_name(f->kind), k, f->kind == F_SLOW ? " latency" : "",
                     f->kind == F_CRASH ? " mode" : "");
}

static void fault_defaults(struct scn_fault *f)
{
    f->dur_min = 100 * MTE_MSEC;
    f->dur_max = 2 * MTE_SEC;
    if (f->kind == F_CRASH) {
        f->dur_min = MTE_SEC;
        f->dur_max = 5 * MTE_SEC;
    }
    f->lat_min = 5 * MTE_MSEC;
    f->lat_max = 50 * MTE_MSEC;
}

int scn_d_fault(struct scn_ctx *c, struct tokens *t)
{
    struct scenario *s = c->s;
    if (t->n < 3)
        return scn_error(c, "expected: fault KIND [from T] [until T] rate=R/s [duration=A..B] [nodes=A,B]");
    int kind = scn_fault_from_name(t->tok[1]);
    if (kind < 0)
        return scn_error(c, "unknown fault kind '%s' (expected partition, clog, blackhole, reset, "
                         "slow, disconnect, crash, disk-stall or disk-error)", t->tok[1]);
    s->faults = lex_push(s->faults, &s->nfaults, sizeof(*s->faults));
    struct scn_fault *f = &s->faults[s->nfaults - 1];
    f->kind = (enum scn_fault_kind)kind;
    f->line = c->line;
    fault_defaults(f);
    for (unsigned i = 2; i < t->n; i++) {
        if ((!strcmp(t->tok[i], "from") || !strcmp(t->tok[i], "until")) && i + 1 < t->n) {
            if (lex_time(c, t->tok[i + 1], !strcmp(t->tok[i], "from") ? &f->from : &f->until))
                return -1;
            i++;
            continue;
        }
        char *k, *v;
        if (!lex_kv(t->tok[i], &k, &v))
            return scn_error(c, "fault: expected key=value, got '%s'", t->tok[i]);
        if (fault_kv(c, f, k, v))
            return -1;
    }
    if (f->rate <= 0)
        return scn_error(c, "fault %s: rate=R/s is needed (above 0)", t->tok[1]);
    if (f->until && f->until <= f->from)
        return scn_error(c, "fault: 'until' must be after 'from'");
    return 0;
}

int scn_d_swarm(struct scn_ctx *c, struct tokens *t)
{
    struct scenario *s = c->s;
    s->swarm_declared = true;
    for (unsigned i = 1; i < t->n; i++) {
        if ((!strcmp(t->tok[i], "from") || !strcmp(t->tok[i], "until")) && i + 1 < t->n) {
            if (lex_time(c, t->tok[i + 1], !strcmp(t->tok[i], "from") ? &s->swarm_from : &s->swarm_until))
                return -1;
            i++;
            continue;
        }
        char *k, *v;
        if (!lex_kv(t->tok[i], &k, &v) || strcmp(k, "kinds"))
            return scn_error(c, "swarm: expected kinds=A,B,... or from/until, got '%s'", t->tok[i]);
        for (char *p = strtok(v, ","); p; p = strtok(NULL, ",")) {
            int kind = scn_fault_from_name(p);
            if (kind < 0)
                return scn_error(c, "swarm: unknown fault kind '%s'", p);
            s->swarm_kinds |= 1u << kind;
        }
    }
    return 0;
}

/* ---- references --------------------------------------------------------------------- */

bool scn_resource_has_node(const struct scn_resource *r, const char *node)
{
    /* a word "on" followed by the node's name, outside comments */
    const char *p = r->text;
    size_t nlen = strlen(node);
    bool prev_on = false;
    while (*p) {
        if (*p == '#') {
            while (*p && *p != '\n')
                p++;
            continue;
        }
        if (strchr(" \t\r\n{};", *p)) {
            p++;
            continue;
        }
        const char *w = p;
        while (*p && !strchr(" \t\r\n{};#", *p))
            p++;
        size_t len = (size_t)(p - w);
        if (prev_on && len == nlen && !strncmp(w, node, nlen))
            return true;
        prev_on = len == 2 && !strncmp(w, "on", 2);
    }
    return false;
}

static int need_node(struct scn_ctx *c, const char *name, int line, const char *what)
{
    c->line = line;
    if (!strcmp(name, "*") || scn_find_node(c->s, name))
        return 0;
    return scn_error(c, "%s '%s' is not a declared node", what, name);
}

static const struct scn_disk *first_disk(const struct scenario *s, const char *node)
{
    for (size_t i = 0; i < s->ndisks; i++)
        if (!strcmp(s->disks[i].node, node))
            return &s->disks[i];
    return NULL;
}

/* up/down NODE NODE... [RES]: the names after the first wait in text; keep
 * the nodes there and move the resource to res. */
static int resolve_up_down_names(struct scn_ctx *c, struct scn_action *a)
{
    char words[sizeof(a->text)], nodes[sizeof(a->text)] = "";
    memcpy(words, a->text, sizeof(words));
    a->text[0] = '\0';
    for (char *w = strtok(words, " "); w; w = strtok(NULL, " ")) {
        if (scn_find_node(c->s, w)) {
            size_t len = strlen(nodes);
            snprintf(nodes + len, sizeof(nodes) - len, "%s%s", len ? " " : "", w);
        } else if (scn_find_resource(c->s, w) && !a->res[0]) {
            snprintf(a->res, sizeof(a->res), "%s", w);
        } else {
            return scn_error(c, "'%s' is neither a node nor a resource", w);
        }
    }
    memcpy(a->text, nodes, sizeof(nodes));
    return 0;
}

/* drbd verbs: the second and third names may be a peer or a resource */
static int resolve_drbd_names(struct scn_ctx *c, struct scn_action *a)
{
    if (need_node(c, a->node, a->line, "node"))
        return -1;
    if (a->verb == V_UP || a->verb == V_DOWN || a->verb == V_CREATE_MD)
        return resolve_up_down_names(c, a);
    if (a->peer[0] && !scn_find_node(c->s, a->peer)) {
        if (!scn_find_resource(c->s, a->peer))
            return scn_error(c, "'%s' is neither a node nor a resource", a->peer);
        if (a->res[0])
            return scn_error(c, "two resources named ('%s', '%s')", a->peer, a->res);
        memcpy(a->res, a->peer, SCN_NAME);
        a->peer[0] = '\0';
    }
    if (a->res[0] && !scn_find_resource(c->s, a->res))
        return scn_error(c, "'%s' is not a declared resource", a->res);
    if (a->verb == V_INVALIDATE_REMOTE && !a->peer[0])
        return scn_error(c, "invalidate-remote needs the peer's name");
    return 0;
}

static int check_disk_action(struct scn_ctx *c, struct scn_action *a)
{
    if (need_node(c, a->node, a->line, "node"))
        return -1;
    const struct scn_disk *d = a->peer[0] ? scn_find_disk(c->s, a->node, a->peer)
                                          : first_disk(c->s, a->node);
    if (!d)
        return scn_error(c, "node '%s' has no disk%s%s", a->node, a->peer[0] ? " " : "", a->peer);
    memcpy(a->peer, d->name, SCN_NAME);
    if (a->offset + a->length > d->size)
        return scn_error(c, "%s: offset+length is beyond disk %s (%llu bytes)", scn_verb_name(a->verb),
                         d->name, (unsigned long long)d->size);
    return 0;
}

static int check_cond(struct scn_ctx *c, const struct scn_cond *cond, int line)
{
    if (cond->kind == SCN_COND_STOPPED) {
        c->line = line;
        return scn_find_workload(c->s, cond->node) ? 0
               : scn_error(c, "'%s' is not a declared workload", cond->node);
    }
    if (cond->node[0] && need_node(c, cond->node, line, "condition node"))
        return -1;
    if (cond->peer[0] && need_node(c, cond->peer, line, "condition peer"))
        return -1;
    c->line = line;
    if (cond->res[0] && !scn_find_resource(c->s, cond->res))
        return scn_error(c, "'%s' is not a declared resource", cond->res);
    return 0;
}

static int check_action(struct scn_ctx *c, struct scn_action *a)
{
    c->line = a->line;
    if (scn_verb_is_drbd(a->verb))
        return resolve_drbd_names(c, a);
    switch (a->verb) {
    case V_CRASH: case V_RESTART: case V_PROBE_WRITE:
        return need_node(c, a->node, a->line, "node");
    case V_PARTITION: case V_HEAL: case V_CLOG: case V_BLACKHOLE: case V_SLOW: case V_RESET:
        if (need_node(c, a->node, a->line, "node"))
            return -1;
        return a->peer[0] ? need_node(c, a->peer, a->line, "node") : 0;
    case V_DISK_ERROR: case V_DISK_STALL: case V_DISK_HEAL: case V_PLANT:
        return check_disk_action(c, a);
    case V_START: case V_STOP: case V_RETARGET: case V_SWEEP: case V_FORGET:
        if (!scn_find_workload(c->s, a->node))
            return scn_error(c, "'%s' is not a declared workload", a->node);
        return a->verb == V_RETARGET ? need_node(c, a->peer, a->line, "node") : 0;
    case V_CHECK_REPLICAS:
        if (a->res[0] && !scn_find_resource(c->s, a->res))
            return scn_error(c, "'%s' is not a declared resource", a->res);
        return 0;
    case V_WAIT_FOR: case V_ASSERT:
        return check_cond(c, &a->cond, a->line);
    default:
        return 0;
    }
}

static int check_workload(struct scn_ctx *c, const struct scn_workload *w)
{
    if (need_node(c, w->node, w->line, "workload node"))
        return -1;
    if (w->via == SCN_VIA_ISCSI) {
        if (need_node(c, w->target_node, w->line, "workload target"))
            return -1;
        bool found = false;
        for (size_t i = 0; i < c->s->nexports; i++)
            found |= !strcmp(c->s->exports[i].node, w->target_node) &&
                     !strcmp(c->s->exports[i].dev, w->dev);
        if (!found)
            return scn_error(c, "workload %s: node '%s' exports no '%s' (add: export %s %s)", w->name,
                             w->target_node, w->dev, w->target_node, w->dev);
    }
    const struct scn_disk *d = scn_find_disk(c->s, w->node, w->dev);
    if (d && w->via == SCN_VIA_BDEV && w->offset + w->span > d->size)
        return scn_error(c, "workload %s: offset+span is beyond disk %s", w->name, w->dev);
    return 0;
}

int scn_check_references(struct scn_ctx *c)
{
    struct scenario *s = c->s;
    for (size_t i = 0; i < s->ndisks; i++)
        if (need_node(c, s->disks[i].node, s->disks[i].line, "disk of"))
            return -1;
    for (size_t i = 0; i < s->nlinks; i++)
        if (need_node(c, s->links[i].a, s->links[i].line, "link end") ||
            need_node(c, s->links[i].b, s->links[i].line, "link end"))
            return -1;
    for (size_t i = 0; i < s->nexports; i++)
        if (need_node(c, s->exports[i].node, s->exports[i].line, "export node"))
            return -1;
    for (size_t i = 0; i < s->nresources; i++) {
        bool any = false;
        for (size_t j = 0; j < s->nnodes; j++)
            any |= scn_resource_has_node(&s->resources[i], s->nodes[j].name);
        c->line = s->resources[i].line;
        if (!any)
            return scn_error(c, "resource %s has no 'on NODE' section for a declared node",
                             s->resources[i].name);
    }
    for (size_t i = 0; i < s->nworkloads; i++)
        if (check_workload(c, &s->workloads[i]))
            return -1;
    for (size_t i = 0; i < s->nfaults; i++)
        for (unsigned j = 0; j < s->faults[i].nnodes; j++)
            if (need_node(c, s->faults[i].nodes[j], s->faults[i].line, "fault node"))
                return -1;
    for (size_t i = 0; i < s->nexpects; i++)
        if (s->expects[i].after_node[0] &&
            need_node(c, s->expects[i].after_node, s->expects[i].line, "expectation node"))
            return -1;
    for (size_t i = 0; i < s->nactions; i++)
        if (check_action(c, &s->actions[i]))
            return -1;
    return 0;
}

/* Nothing to fill in yet: kept as the place for defaults that need the whole file. */
int scn_expand_after_parse(struct scn_ctx *c)
{
    (void)c;
    return 0;
}
