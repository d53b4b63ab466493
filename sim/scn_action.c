/* Scenario parsing: timed actions (at / after / every) and the words of each
 * action.  Names that may be declared later in the file (nodes, resources,
 * workloads) are checked by scn_check_references. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/scn_parse_internal.h"

struct verb_syntax {
    const char *usage;
    int (*parse)(struct scn_ctx *c, struct tokens *t, unsigned i, struct scn_action *a);
};

/* ---- options shared by several verbs ------------------------------------------------- */

static int parse_dir(struct scn_ctx *c, const char *v, enum faultnet_dir *dir)
{
    if (!strcmp(v, "both"))
        *dir = FAULTNET_BOTH;
    else if (!strcmp(v, "a-to-b") || !strcmp(v, "->"))
        *dir = FAULTNET_A_TO_B;
    else if (!strcmp(v, "b-to-a") || !strcmp(v, "<-"))
        *dir = FAULTNET_B_TO_A;
    else
        return scn_error(c, "expected dir=both, dir=a-to-b or dir=b-to-a, got '%s'", v);
    return 0;
}

/* "for T" anywhere after the fixed words */
static int take_for(struct scn_ctx *c, struct tokens *t, unsigned *i, struct scn_action *a)
{
    if (strcmp(t->tok[*i], "for"))
        return 1;
    if (*i + 1 >= t->n)
        return scn_error(c, "expected a time after 'for'");
    if (lex_time(c, t->tok[*i + 1], &a->duration))
        return -1;
    if (!a->duration)
        return scn_error(c, "'for' needs a time above 0");
    *i += 2;
    return 0;
}

static int take_expect(struct scn_ctx *c, const char *k, const char *v, struct scn_action *a)
{
    if (!strcmp(k, "expect")) {
        if (!strcmp(v, "refused"))
            a->flags |= SCN_F_EXPECT_REFUSED;
        else if (!strcmp(v, "any"))
            a->flags |= SCN_F_MAY_FAIL;
        else if (strcmp(v, "ok"))
            return scn_error(c, "expected expect=ok, expect=refused or expect=any, got '%s'", v);
        return 0;
    }
    if (!strcmp(k, "msg")) {
        if (strlen(v) >= sizeof(a->text))
            return scn_error(c, "msg is too long");
        snprintf(a->text, sizeof(a->text), "%s", v);
        return 0;
    }
    return 1;
}

static int name_into(struct scn_ctx *c, char *dst, const char *src, const char *what)
{
    return lex_name(c, src, dst, SCN_NAME, what);
}

/* ---- drbd verbs: VERB NODE [PEER] [RES] [--force] [--discard-my-data] [expect=...] ---------- */

static int parse_drbd(struct scn_ctx *c, struct tokens *t, unsigned i, struct scn_action *a)
{
    unsigned positional = 0;
    for (; i < t->n; i++) {
        const char *w = t->tok[i];
        char *k, *v;
        if (!strcmp(w, "--force") && (a->verb == V_PRIMARY || a->verb == V_CREATE_MD)) {
            a->flags |= SCN_F_FORCE;
        } else if (!strcmp(w, "--discard-my-data") && a->verb == V_CONNECT) {
            a->flags |= SCN_F_DISCARD;
        } else if (w[0] == '-') {
            return scn_error(c, "%s: unknown option '%s'", scn_verb_name(a->verb), w);
        } else if (lex_kv(t->tok[i], &k, &v)) {
            if (!strcmp(k, "retry")) {
                /* as a cluster manager would: the refusal may be a fault's */
                if (lex_time(c, v, &a->retry))
                    return -1;
                continue;
            }
            int rc = take_expect(c, k, v, a);
            if (rc > 0)
                return scn_error(c, "%s: unknown setting '%s' (expected expect=, msg= or retry=)",
                                 scn_verb_name(a->verb), k);
            if (rc < 0)
                return -1;
        } else {
            /* NODE, then PEER or RES (told apart once the file is read), then RES;
             * up and down take any number of nodes (the rest wait in text) */
            if (positional >= 1 && (a->verb == V_UP || a->verb == V_DOWN || a->verb == V_CREATE_MD)) {
                size_t len = strlen(a->text);
                if (len + strlen(w) + 2 > sizeof(a->text))
                    return scn_error(c, "%s: too many names", scn_verb_name(a->verb));
                snprintf(a->text + len, sizeof(a->text) - len, "%s%s", len ? " " : "", w);
                positional++;
                continue;
            }
            char *slot = positional == 0 ? a->node : positional == 1 ? a->peer : a->res;
            if (positional > 2)
                return scn_error(c, "%s: too many names (expected NODE [PEER] [RESOURCE])",
                                 scn_verb_name(a->verb));
            if (positional == 0 && !strcmp(w, "all"))
                snprintf(a->node, sizeof(a->node), "*"); /* every node with resources */
            else if (name_into(c, slot, w, "a name"))
                return -1;
            positional++;
        }
    }
    if (!positional)
        return scn_error(c, "%s: expected a node name", scn_verb_name(a->verb));
    return 0;
}

/* ---- nodes ---------------------------------------------------------------------------- */

static int parse_crash(struct scn_ctx *c, struct tokens *t, unsigned i, struct scn_action *a)
{
    if (i >= t->n || name_into(c, a->node, t->tok[i++], "a node name"))
        return scn_error(c, "expected: crash NODE [power|kill]");
    if (i < t->n) {
        if (!strcmp(t->tok[i], "kill"))
            a->flags |= SCN_F_KILL;
        else if (strcmp(t->tok[i], "power"))
            return scn_error(c, "crash: expected power or kill, got '%s'", t->tok[i]);
        i++;
    }
    if (i < t->n)
        return scn_error(c, "crash: unexpected '%s'", t->tok[i]);
    return 0;
}

static int parse_restart(struct scn_ctx *c, struct tokens *t, unsigned i, struct scn_action *a)
{
    if (i >= t->n || name_into(c, a->node, t->tok[i++], "a node name"))
        return scn_error(c, "expected: restart NODE [--no-up]");
    if (i < t->n && !strcmp(t->tok[i], "--no-up")) {
        a->flags |= SCN_F_NO_UP;
        i++;
    }
    if (i < t->n)
        return scn_error(c, "restart: unexpected '%s'", t->tok[i]);
    return 0;
}

/* ---- network: VERB A B [dir=..] [for T] [latency=..] --------------------------------- */

static int parse_net(struct scn_ctx *c, struct tokens *t, unsigned i, struct scn_action *a)
{
    const char *verb = scn_verb_name(a->verb);
    if (a->verb == V_HEAL && i < t->n && !strcmp(t->tok[i], "all")) {
        snprintf(a->node, sizeof(a->node), "*");
        i++;
    } else {
        if (i + 1 >= t->n)
            return scn_error(c, "%s: expected two node names", verb);
        if (name_into(c, a->node, t->tok[i], "a node name") ||
            name_into(c, a->peer, t->tok[i + 1], "a node name"))
            return -1;
        i += 2;
    }
    a->slow = (struct faultnet_link){0};
    while (i < t->n) {
        int rc = take_for(c, t, &i, a);
        if (rc <= 0) {
            if (rc < 0)
                return -1;
            if (a->verb == V_HEAL || a->verb == V_RESET)
                return scn_error(c, "%s takes no duration", verb);
            continue;
        }
        char *k, *v;
        if (!lex_kv(t->tok[i], &k, &v))
            return scn_error(c, "%s: unexpected '%s'", verb, t->tok[i]);
        i++;
        if (!strcmp(k, "dir") && a->verb != V_SLOW && a->verb != V_HEAL && a->verb != V_RESET)
            rc = parse_dir(c, v, &a->dir);
        else if (!strcmp(k, "latency") && a->verb == V_SLOW)
            rc = lex_time(c, v, &a->slow.latency);
        else if (!strcmp(k, "jitter") && a->verb == V_SLOW)
            rc = lex_time(c, v, &a->slow.jitter);
        else if (!strcmp(k, "bandwidth") && a->verb == V_SLOW)
            rc = lex_size(c, v, &a->slow.bandwidth);
        else
            return scn_error(c, "%s: unknown setting '%s'", verb, k);
        if (rc)
            return -1;
    }
    if (a->verb == V_CLOG && !a->duration)
        return scn_error(c, "clog needs 'for TIME'");
    if (a->verb == V_SLOW && !a->slow.latency && !a->slow.bandwidth)
        return scn_error(c, "slow needs latency=T and/or bandwidth=SIZE");
    return 0;
}

/* ---- disks: VERB NODE [DISK] [settings] [for T] ---------------------------------------- */

static int disk_kv(struct scn_ctx *c, struct scn_action *a, const char *k, const char *v)
{
    if (!strcmp(k, "offset"))
        return lex_size(c, v, &a->offset);
    if (!strcmp(k, "length"))
        return lex_size(c, v, &a->length);
    if (!strcmp(k, "rate") && a->verb == V_DISK_ERROR)
        return lex_percent(c, v, &a->rate);
    if (!strcmp(k, "ops") && a->verb == V_DISK_ERROR) {
        a->ops = !strcmp(v, "read") ? 1 : !strcmp(v, "write") ? 2 : !strcmp(v, "rw") ? 3 : 0;
        return a->ops ? 0 : scn_error(c, "expected ops=read, ops=write or ops=rw, got '%s'", v);
    }
    return scn_error(c, "%s: unknown setting '%s'", scn_verb_name(a->verb), k);
}

static int parse_disk(struct scn_ctx *c, struct tokens *t, unsigned i, struct scn_action *a)
{
    if (i >= t->n || name_into(c, a->node, t->tok[i++], "a node name"))
        return scn_error(c, "%s: expected a node name", scn_verb_name(a->verb));
    if (i < t->n && !strchr(t->tok[i], '=') && strcmp(t->tok[i], "for"))
        if (name_into(c, a->peer, t->tok[i++], "a disk name"))
            return -1;
    a->ops = 3;
    while (i < t->n) {
        int rc = take_for(c, t, &i, a);
        if (rc < 0)
            return -1;
        if (rc == 0)
            continue;
        char *k, *v;
        if (!lex_kv(t->tok[i], &k, &v))
            return scn_error(c, "%s: unexpected '%s'", scn_verb_name(a->verb), t->tok[i]);
        i++;
        if (disk_kv(c, a, k, v))
            return -1;
    }
    if (a->verb == V_DISK_STALL && !a->duration)
        return scn_error(c, "disk-stall needs 'for TIME'");
    if (a->verb == V_PLANT && !a->length)
        a->length = 4096;
    if (a->offset % 512 || a->length % 512)
        return scn_error(c, "%s: offset and length must be multiples of 512", scn_verb_name(a->verb));
    return 0;
}

/* ---- workloads and checks -------------------------------------------------------------- */

static int parse_workload_verb(struct scn_ctx *c, struct tokens *t, unsigned i, struct scn_action *a)
{
    const char *verb = scn_verb_name(a->verb);
    if (i >= t->n || name_into(c, a->node, t->tok[i++], "a workload name"))
        return scn_error(c, "%s: expected a workload name", verb);
    if (a->verb == V_RETARGET) {
        if (i >= t->n || name_into(c, a->peer, t->tok[i++], "a node name"))
            return scn_error(c, "expected: retarget WORKLOAD NODE [dev=DEV]");
    }
    while (i < t->n) {
        int rc = a->verb == V_START ? take_for(c, t, &i, a) : 1;
        if (rc < 0)
            return -1;
        if (rc == 0)
            continue;
        char *k, *v;
        if (a->verb == V_RETARGET && lex_kv(t->tok[i], &k, &v) && !strcmp(k, "dev")) {
            if (name_into(c, a->dev, v, "a device name"))
                return -1;
            i++;
            continue;
        }
        return scn_error(c, "%s: unexpected '%s'", verb, t->tok[i]);
    }
    return 0;
}

static int parse_check_replicas(struct scn_ctx *c, struct tokens *t, unsigned i, struct scn_action *a)
{
    if (i < t->n && name_into(c, a->res, t->tok[i++], "a resource name"))
        return -1;
    if (i < t->n)
        return scn_error(c, "check-replicas: unexpected '%s'", t->tok[i]);
    return 0;
}

static int parse_probe(struct scn_ctx *c, struct tokens *t, unsigned i, struct scn_action *a)
{
    if (i >= t->n || name_into(c, a->node, t->tok[i++], "a node name"))
        return scn_error(c, "expected: probe-write NODE [dev=DEV]");
    for (; i < t->n; i++) {
        char *k, *v;
        if (!lex_kv(t->tok[i], &k, &v) || strcmp(k, "dev"))
            return scn_error(c, "probe-write: unexpected '%s' (expected dev=DEV)", t->tok[i]);
        if (name_into(c, a->dev, v, "a device name"))
            return -1;
    }
    return 0;
}

static int parse_wait(struct scn_ctx *c, struct tokens *t, unsigned i, struct scn_action *a)
{
    unsigned end = t->n;
    if (a->verb == V_WAIT_FOR) {
        a->timeout = 60 * MTE_SEC;
        for (unsigned j = i; j < t->n; j++) {
            if (!strncmp(t->tok[j], "timeout=", 8)) {
                if (j != t->n - 1)
                    return scn_error(c, "wait-for: timeout= must come last");
                if (lex_time(c, t->tok[j] + 8, &a->timeout))
                    return -1;
                end = j;
            }
        }
    }
    return scn_parse_cond(c, t, i, end, &a->cond);
}

static int parse_log(struct scn_ctx *c, struct tokens *t, unsigned i, struct scn_action *a)
{
    size_t len = 0;
    for (; i < t->n; i++) {
        int n = snprintf(a->text + len, sizeof(a->text) - len, "%s%s", len ? " " : "", t->tok[i]);
        if (n < 0 || (size_t)n >= sizeof(a->text) - len)
            return scn_error(c, "log: the text is too long (at most %zu characters)",
                             sizeof(a->text) - 1);
        len += (size_t)n;
    }
    return 0;
}

static const struct verb_syntax syntax[V__COUNT] = {
    [V_UP] = {"up NODE [RESOURCE]", parse_drbd},
    [V_DOWN] = {"down NODE [RESOURCE]", parse_drbd},
    [V_PRIMARY] = {"primary NODE [RESOURCE] [--force]", parse_drbd},
    [V_SECONDARY] = {"secondary NODE [RESOURCE]", parse_drbd},
    [V_CONNECT] = {"connect NODE [PEER] [RESOURCE] [--discard-my-data]", parse_drbd},
    [V_DISCONNECT] = {"disconnect NODE [PEER] [RESOURCE]", parse_drbd},
    [V_ATTACH] = {"attach NODE [RESOURCE]", parse_drbd},
    [V_DETACH] = {"detach NODE [RESOURCE]", parse_drbd},
    [V_INVALIDATE] = {"invalidate NODE [RESOURCE]", parse_drbd},
    [V_INVALIDATE_REMOTE] = {"invalidate-remote NODE PEER [RESOURCE]", parse_drbd},
    [V_VERIFY] = {"verify NODE [PEER] [RESOURCE]", parse_drbd},
    [V_PAUSE_SYNC] = {"pause-sync NODE [PEER] [RESOURCE]", parse_drbd},
    [V_RESUME_SYNC] = {"resume-sync NODE [PEER] [RESOURCE]", parse_drbd},
    [V_OUTDATE] = {"outdate NODE [RESOURCE]", parse_drbd},
    [V_CREATE_MD] = {"create-md NODE... [RESOURCE] [--force]", parse_drbd},
    [V_NEW_CURRENT_UUID] = {"new-current-uuid NODE [RESOURCE]", parse_drbd},
    [V_CRASH] = {"crash NODE [power|kill]", parse_crash},
    [V_RESTART] = {"restart NODE [--no-up]", parse_restart},
    [V_PARTITION] = {"partition A B [dir=both|a-to-b|b-to-a] [for T]", parse_net},
    [V_HEAL] = {"heal A B | heal all", parse_net},
    [V_CLOG] = {"clog A B [dir=...] for T", parse_net},
    [V_BLACKHOLE] = {"blackhole A B [dir=...] [for T]", parse_net},
    [V_SLOW] = {"slow A B latency=T [jitter=T] [bandwidth=SIZE] [for T]", parse_net},
    [V_RESET] = {"reset A B", parse_net},
    [V_DISK_ERROR] = {"disk-error NODE [DISK] [ops=read|write|rw] [offset=S] [length=S] [rate=P] [for T]",
                      parse_disk},
    [V_DISK_STALL] = {"disk-stall NODE [DISK] for T", parse_disk},
    [V_DISK_HEAL] = {"disk-heal NODE [DISK]", parse_disk},
    [V_PLANT] = {"plant NODE [DISK] offset=S [length=S]", parse_disk},
    [V_START] = {"start WORKLOAD [for T]", parse_workload_verb},
    [V_STOP] = {"stop WORKLOAD", parse_workload_verb},
    [V_RETARGET] = {"retarget WORKLOAD NODE [dev=DEV]", parse_workload_verb},
    [V_SWEEP] = {"sweep WORKLOAD", parse_workload_verb},
    [V_FORGET] = {"forget WORKLOAD", parse_workload_verb},
    [V_CHECK_REPLICAS] = {"check-replicas [RESOURCE]", parse_check_replicas},
    [V_PROBE_WRITE] = {"probe-write NODE [dev=DEV]", parse_probe},
    [V_WAIT_FOR] = {"wait-for CONDITION [timeout=T]", parse_wait},
    [V_ASSERT] = {"assert CONDITION", parse_wait},
    [V_LOG] = {"log TEXT", parse_log},
};

static void list_verbs(char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int v = 0; v < V__COUNT && used < len; v++) {
        int n = snprintf(buf + used, len - used, "%s%s", v ? ", " : "", scn_verb_name((enum scn_verb)v));
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

int scn_parse_action(struct scn_ctx *c, struct tokens *t, unsigned first, struct scn_action *a)
{
    if (first >= t->n)
        return scn_error(c, "expected an action after the time");
    int v = scn_verb_from_name(t->tok[first]);
    if (v < 0) {
        char verbs[800];
        list_verbs(verbs, sizeof(verbs));
        return scn_error(c, "unknown action '%s' (expected one of: %s)", t->tok[first], verbs);
    }
    a->verb = (enum scn_verb)v;
    a->line = c->line;
    /* expect=ok|refused|any (and msg=) may end any action but a log line */
    while (a->verb != V_LOG && t->n > first + 1 &&
           (!strncmp(t->tok[t->n - 1], "expect=", 7) || !strncmp(t->tok[t->n - 1], "msg=", 4))) {
        char *k, *val;
        lex_kv(t->tok[t->n - 1], &k, &val);
        if (take_expect(c, k, val, a))
            return -1;
        t->n--;
    }
    if (syntax[v].parse(c, t, first + 1, a)) {
        /* add the verb's usage to a message that does not have it yet */
        size_t len = strlen(c->err);
        if (len + 20 < c->errlen && !strstr(c->err, "expected:"))
            snprintf(c->err + len, c->errlen - len, " (usage: %s)", syntax[v].usage);
        return -1;
    }
    return 0;
}

/* ---- at / after / every ------------------------------------------------------------------ */

static struct scn_action *push_action(struct scenario *s)
{
    s->actions = lex_push(s->actions, &s->nactions, sizeof(*s->actions));
    return &s->actions[s->nactions - 1];
}

int scn_d_timed(struct scn_ctx *c, struct tokens *t)
{
    struct scenario *s = c->s;
    bool after = !strcmp(t->tok[0], "after");
    if (t->n < 3)
        return scn_error(c, "expected: %s TIME ACTION ...", t->tok[0]);
    mte_time_t when;
    if (lex_time(c, t->tok[1], &when))
        return -1;
    if (!after) {
        for (size_t i = s->nactions; i-- > 0;) {
            if (s->actions[i].anchor == SCN_AT) {
                if (s->actions[i].time > when)
                    return scn_error(c, "at %s is before the previous 'at' (line %d): keep 'at' "
                                     "lines in time order", t->tok[1], s->actions[i].line);
                break;
            }
        }
    }
    struct scn_action *a = push_action(s);
    a->anchor = after ? SCN_AFTER : SCN_AT;
    a->time = when;
    return scn_parse_action(c, t, 2, a);
}

/* every PERIOD [from T] [until T] ACTION: expanded here into 'at' actions. */
int scn_d_every(struct scn_ctx *c, struct tokens *t)
{
    struct scenario *s = c->s;
    mte_time_t period, from = 0, until = 0;
    bool has_until = false;
    if (t->n < 3 || lex_time(c, t->tok[1], &period))
        return c->failed ? -1 : scn_error(c, "expected: every PERIOD [from T] [until T] ACTION ...");
    if (period < MTE_MSEC)
        return scn_error(c, "every: the period must be at least 1ms");
    unsigned i = 2;
    while (i + 1 < t->n && (!strcmp(t->tok[i], "from") || !strcmp(t->tok[i], "until"))) {
        bool is_from = !strcmp(t->tok[i], "from");
        if (lex_time(c, t->tok[i + 1], is_from ? &from : &until))
            return -1;
        has_until |= !is_from;
        i += 2;
    }
    struct scn_action tmpl = {0};
    if (scn_parse_action(c, t, i, &tmpl))
        return -1;
    if (!has_until)
        until = s->duration;
    if (until <= from)
        return scn_error(c, "every: 'until' must be after 'from' (or after the duration line)");
    if ((until - from) / period > 100000)
        return scn_error(c, "every: more than 100000 repetitions");
    for (mte_time_t when = from; when < until; when += period) {
        struct scn_action *a = push_action(s);
        *a = tmpl;
        a->anchor = SCN_AT;
        a->time = when;
    }
    return 0;
}

/* ---- conditions: synced [RES] | connected [RES] | up NODE | NODE [RES] [peer=P] k=v ... ---- */

static const char *const cond_keys[] = {
    "role", "disk", "quorum", "suspended", "connection", "replication", "peer-disk",
    "peer-role", "out-of-sync", "resync-total", NULL,
};

/* Keys holding a size, which may be compared: out-of-sync<=8M. */
static bool size_key(const char *k) { return !strcmp(k, "out-of-sync") || !strcmp(k, "resync-total"); }

static bool known_cond_key(const char *k)
{
    for (int i = 0; cond_keys[i]; i++)
        if (!strcmp(cond_keys[i], k))
            return true;
    return false;
}

int scn_parse_cond(struct scn_ctx *c, struct tokens *t, unsigned i, unsigned end, struct scn_cond *cond)
{
    if (i >= end)
        return scn_error(c, "expected a condition: synced [RES], connected [RES], up NODE, down NODE, "
                         "stopped WORKLOAD, healed, or NODE [RES] [peer=PEER] key=value ...");
    const char *w = t->tok[i];
    if (!strcmp(w, "synced") || !strcmp(w, "connected")) {
        cond->kind = !strcmp(w, "synced") ? SCN_COND_SYNCED : SCN_COND_CONNECTED;
        if (i + 1 < end && name_into(c, cond->res, t->tok[i + 1], "a resource name"))
            return -1;
        return i + 2 < end ? scn_error(c, "unexpected '%s' after the condition", t->tok[i + 2]) : 0;
    }
    if (!strcmp(w, "healed")) {
        cond->kind = SCN_COND_HEALED;
        return i + 1 < end ? scn_error(c, "unexpected '%s' after the condition", t->tok[i + 1]) : 0;
    }
    if (!strcmp(w, "stopped")) {
        cond->kind = SCN_COND_STOPPED;
        if (i + 1 >= end || name_into(c, cond->node, t->tok[i + 1], "a workload name"))
            return scn_error(c, "expected: stopped WORKLOAD");
        return i + 2 < end ? scn_error(c, "unexpected '%s' after the condition", t->tok[i + 2]) : 0;
    }
    if (!strcmp(w, "up") || !strcmp(w, "down")) {
        cond->kind = SCN_COND_NODE_UP;
        if (i + 1 >= end || name_into(c, cond->node, t->tok[i + 1], "a node name"))
            return scn_error(c, "expected: %s NODE", w);
        snprintf(cond->terms[0].value, sizeof(cond->terms[0].value), "%s", w);
        cond->nterms = 1;
        return i + 2 < end ? scn_error(c, "unexpected '%s' after the condition", t->tok[i + 2]) : 0;
    }
    cond->kind = SCN_COND_STATE;
    if (name_into(c, cond->node, w, "a node name"))
        return -1;
    for (i++; i < end; i++) {
        char *k, *v;
        if (!lex_kv(t->tok[i], &k, &v)) {
            if (cond->res[0] || cond->nterms)
                return scn_error(c, "expected key=value, got '%s'", t->tok[i]);
            if (name_into(c, cond->res, t->tok[i], "a resource name"))
                return -1;
            continue;
        }
        if (!strcmp(k, "peer")) {
            if (name_into(c, cond->peer, v, "a node name"))
                return -1;
            continue;
        }
        char cmp = '=';
        size_t kl = strlen(k);
        if (kl && (k[kl - 1] == '<' || k[kl - 1] == '>')) {
            cmp = k[kl - 1];
            k[kl - 1] = 0;
        }
        if (!known_cond_key(k))
            return scn_error(c, "unknown state key '%s' (expected role, disk, quorum, suspended, "
                             "connection, replication, peer-disk, peer-role, out-of-sync or "
                             "resync-total)", k);
        if (cmp != '=' && !size_key(k))
            return scn_error(c, "'%s' is not a size: only out-of-sync and resync-total compare", k);
        if (cond->nterms == SCN_COND_MAX_TERMS)
            return scn_error(c, "at most %d key=value terms", SCN_COND_MAX_TERMS);
        struct scn_cond_term *term = &cond->terms[cond->nterms++];
        if (strlen(v) >= sizeof(term->value) || !v[0])
            return scn_error(c, "bad value for %s: '%s'", k, v);
        snprintf(term->key, sizeof(term->key), "%s", k);
        snprintf(term->value, sizeof(term->value), "%s", v);
        term->cmp = cmp;
        if (cmp != '=' && lex_size(c, v, &term->num))
            return -1;
        bool peer_key = strcmp(k, "connection") == 0 || strcmp(k, "replication") == 0 ||
                        strncmp(k, "peer-", 5) == 0 || size_key(k);
        if (peer_key && !cond->peer[0])
            return scn_error(c, "'%s' is a connection's state: name the peer first (peer=NODE)", k);
    }
    if (!cond->nterms)
        return scn_error(c, "expected at least one key=value after the node");
    return 0;
}
