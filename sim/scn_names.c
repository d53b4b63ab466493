/* Names of verbs, fault kinds, expectations and injectable bugs; finding
 * declarations; copying and freeing a scenario. */
#include <stdlib.h>
#include <string.h>

#include "sim/scn_parse_internal.h"
#include "sim/sim_bugs.h"

static const char *const verb_names[V__COUNT] = {
    [V_UP] = "up", [V_DOWN] = "down", [V_PRIMARY] = "primary", [V_SECONDARY] = "secondary",
    [V_CONNECT] = "connect", [V_DISCONNECT] = "disconnect", [V_ATTACH] = "attach",
    [V_DETACH] = "detach", [V_INVALIDATE] = "invalidate",
    [V_INVALIDATE_REMOTE] = "invalidate-remote", [V_VERIFY] = "verify",
    [V_PAUSE_SYNC] = "pause-sync", [V_RESUME_SYNC] = "resume-sync", [V_OUTDATE] = "outdate",
    [V_CREATE_MD] = "create-md", [V_NEW_CURRENT_UUID] = "new-current-uuid",
    [V_CRASH] = "crash", [V_RESTART] = "restart", [V_PARTITION] = "partition", [V_HEAL] = "heal",
    [V_CLOG] = "clog", [V_BLACKHOLE] = "blackhole", [V_SLOW] = "slow", [V_RESET] = "reset",
    [V_DISK_ERROR] = "disk-error", [V_DISK_STALL] = "disk-stall", [V_DISK_HEAL] = "disk-heal",
    [V_PLANT] = "plant", [V_START] = "start", [V_STOP] = "stop", [V_RETARGET] = "retarget",
    [V_SWEEP] = "sweep", [V_FORGET] = "forget", [V_CHECK_REPLICAS] = "check-replicas", [V_PROBE_WRITE] = "probe-write",
    [V_WAIT_FOR] = "wait-for", [V_ASSERT] = "assert", [V_LOG] = "log",
};

static const char *const fault_names[F__COUNT] = {
    [F_PARTITION] = "partition", [F_CLOG] = "clog", [F_BLACKHOLE] = "blackhole",
    [F_RESET] = "reset", [F_SLOW] = "slow", [F_DISCONNECT] = "disconnect", [F_CRASH] = "crash",
    [F_DISK_STALL] = "disk-stall", [F_DISK_ERROR] = "disk-error",
};

static const char *const expect_names[E__COUNT] = {
    [E_NO_LOST_WRITES] = "no-lost-writes", [E_REPLICAS_IDENTICAL] = "replicas-identical",
    [E_IO_LATENCY] = "io-latency", [E_TWO_PRIMARIES_OK] = "two-primaries",
    [E_RESYNC_STALL] = "resync-stall", [E_SYNCED_AFTER] = "synced",
    [E_NO_IO_ERRORS] = "no-io-errors", [E_LEAK_CHECK] = "leak-check",
};

static const struct sim_bug bugs[] = {
    {"resync-no-restart", UMC_BUG_RESYNC_NO_RESTART,
     "after a node restarts, resync does not start when it reconnects (seed: \"resync doesn't "
     "start after restart\")"},
    {"lost-barrier-ack", UMC_BUG_LOST_BARRIER_ACK,
     "a barrier ack is lost, so the epoch never closes and a flush hangs (seed: \"mkfs hangs "
     "near the end\")"},
};

static int lookup(const char *const *names, int count, const char *name)
{
    for (int i = 0; i < count; i++)
        if (names[i] && !strcmp(names[i], name))
            return i;
    return -1;
}

const char *scn_verb_name(enum scn_verb v) { return v < V__COUNT ? verb_names[v] : "?"; }
int scn_verb_from_name(const char *name) { return lookup(verb_names, V__COUNT, name); }
const char *scn_fault_name(enum scn_fault_kind k) { return k < F__COUNT ? fault_names[k] : "?"; }
int scn_fault_from_name(const char *name) { return lookup(fault_names, F__COUNT, name); }
const char *scn_expect_name(enum scn_expect_kind k) { return k < E__COUNT ? expect_names[k] : "?"; }
int scn_expect_from_name(const char *name) { return lookup(expect_names, E__COUNT, name); }
bool scn_verb_is_drbd(enum scn_verb v) { return v <= V_LAST_DRBD; }

size_t sim_bug_count(void) { return sizeof(bugs) / sizeof(bugs[0]); }
const struct sim_bug *sim_bug_at(size_t i) { return i < sim_bug_count() ? &bugs[i] : NULL; }

const struct sim_bug *sim_bug_find(const char *name)
{
    for (size_t i = 0; i < sim_bug_count(); i++)
        if (!strcmp(bugs[i].name, name))
            return &bugs[i];
    return NULL;
}

int scn_bug_from_name(const char *name)
{
    const struct sim_bug *b = sim_bug_find(name);
    return b ? (int)b->id : -1;
}

const char *sim_bug_name(unsigned id)
{
    for (size_t i = 0; i < sim_bug_count(); i++)
        if (bugs[i].id == id)
            return bugs[i].name;
    return NULL;
}

/* ---- lookups ---------------------------------------------------------------------------- */

const struct scn_node *scn_find_node(const struct scenario *s, const char *name)
{
    for (size_t i = 0; i < s->nnodes; i++)
        if (!strcmp(s->nodes[i].name, name))
            return &s->nodes[i];
    return NULL;
}

const struct scn_disk *scn_find_disk(const struct scenario *s, const char *node, const char *name)
{
    for (size_t i = 0; i < s->ndisks; i++)
        if (!strcmp(s->disks[i].node, node) && !strcmp(s->disks[i].name, name))
            return &s->disks[i];
    return NULL;
}

const struct scn_workload *scn_find_workload(const struct scenario *s, const char *name)
{
    for (size_t i = 0; i < s->nworkloads; i++)
        if (!strcmp(s->workloads[i].name, name))
            return &s->workloads[i];
    return NULL;
}

const struct scn_resource *scn_find_resource(const struct scenario *s, const char *name)
{
    for (size_t i = 0; i < s->nresources; i++)
        if (!strcmp(s->resources[i].name, name))
            return &s->resources[i];
    return NULL;
}

/* The last line about kind wins, so a later line can switch a default off. */
const struct scn_expect *scn_expectation(const struct scenario *s, enum scn_expect_kind kind)
{
    const struct scn_expect *found = NULL;
    for (size_t i = 0; i < s->nexpects; i++)
        if (s->expects[i].kind == kind && kind != E_SYNCED_AFTER)
            found = &s->expects[i];
    return found;
}

/* ---- copy and free -------------------------------------------------------------------- */

static void *dup_array(const void *src, size_t count, size_t elem)
{
    size_t cap = lex_capacity(count);
    if (!cap)
        return NULL;
    void *p = malloc(cap * elem);
    if (!p)
        abort();
    memcpy(p, src, count * elem);
    return p;
}

struct scenario *scn_clone(const struct scenario *s)
{
    struct scenario *c = malloc(sizeof(*c));
    if (!c)
        abort();
    *c = *s;
    c->nodes = dup_array(s->nodes, s->nnodes, sizeof(*s->nodes));
    c->disks = dup_array(s->disks, s->ndisks, sizeof(*s->disks));
    c->links = dup_array(s->links, s->nlinks, sizeof(*s->links));
    c->resources = dup_array(s->resources, s->nresources, sizeof(*s->resources));
    for (size_t i = 0; i < c->nresources; i++) {
        c->resources[i].text = strdup(s->resources[i].text);
        if (!c->resources[i].text)
            abort();
    }
    c->exports = dup_array(s->exports, s->nexports, sizeof(*s->exports));
    c->workloads = dup_array(s->workloads, s->nworkloads, sizeof(*s->workloads));
    c->actions = dup_array(s->actions, s->nactions, sizeof(*s->actions));
    c->faults = dup_array(s->faults, s->nfaults, sizeof(*s->faults));
    c->expects = dup_array(s->expects, s->nexpects, sizeof(*s->expects));
    return c;
}

void scn_free(struct scenario *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nresources; i++)
        free(s->resources[i].text);
    free(s->nodes);
    free(s->disks);
    free(s->links);
    free(s->resources);
    free(s->exports);
    free(s->workloads);
    free(s->actions);
    free(s->faults);
    free(s->expects);
    free(s);
}
