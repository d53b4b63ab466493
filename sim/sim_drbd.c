/* The simulator's drbd layer: each node's struct drbd with the scenario's
 * resources, drbd commands from the script, roles kept current from the
 * events2 stream, and where a drbd device's data lives on its backing disk.
 * The checks (two primaries, resync liveness, replicas) are in
 * sim_drbd_check.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_drbd.h"

/* A command waiting for drbd's answer.  Commands of an action on every node
 * ("*") or every resource share one group; the action is done when all are. */
struct sdrbd_group {
    struct sim *s;
    size_t index;
    sdrbd_done_fn done;
    unsigned pending;
    int rc;
    char msg[200];
    bool issued_all;
};

struct sdrbd_cmd {
    struct sdrbd_node *dn;
    struct sdrbd_group *g;
    char verb[24], res[SCN_NAME];
    mte_time_t issued;
    struct sdrbd_cmd *next;
};

#define COMMAND_HANG (120 * MTE_SEC)

/* ---- resource text ---------------------------------------------------------------------- */

/* The word after the first "key" outside comments, or "" (a crude scan of
 * .res text for the few settings the checkers need). */
static void res_setting(const struct scn_resource *r, const char *key, char *out, size_t len)
{
    const char *p = r->text;
    size_t klen = strlen(key);
    out[0] = '\0';
    while (*p) {
        if (*p == '#') {
            p += strcspn(p, "\n");
            continue;
        }
        if (strchr(" \t\r\n{};", *p)) {
            p++;
            continue;
        }
        const char *w = p;
        p += strcspn(p, " \t\r\n{};#");
        if ((size_t)(p - w) != klen || strncmp(w, key, klen))
            continue;
        p += strspn(p, " \t");
        size_t n = strcspn(p, " \t\r\n{};#");
        snprintf(out, len, "%.*s", (int)n, p);
        return;
    }
}

char sdrbd_protocol(const struct scn_resource *r)
{
    char v[16];
    res_setting(r, "protocol", v, sizeof(v));
    return v[0] == 'A' || v[0] == 'B' ? v[0] : 'C';
}

bool sdrbd_allows_two_primaries(const struct scn_resource *r)
{
    char v[16];
    res_setting(r, "allow-two-primaries", v, sizeof(v));
    return !strcmp(v, "yes");
}

bool sdrbd_has_quorum_policy(const struct scn_resource *r)
{
    char v[16];
    res_setting(r, "quorum", v, sizeof(v));
    return v[0] && strcmp(v, "off");
}

/* ---- roles and devices ----------------------------------------------------------------------- */

int sdrbd_volume(struct sdrbd_node *dn, const char *res, int vnr, struct drbd_volume_info *out)
{
    if (!dn || !dn->d)
        return -ENOENT;
    return drbd_volume_info(dn->d, res, vnr, out);
}

static void note_volume(void *arg, const struct drbd_volume_info *info)
{
    struct sdrbd_node *dn = arg;
    int res = sim_resource_index(dn->sn->sim, info->resource);
    if (res < 0 || res >= SDRBD_MAX_RES)
        return;
    dn->role[res] = info->role;
    for (int i = 0; i < dn->ndevs; i++)
        if (!strcmp(dn->devs[i].name, info->device))
            return;
    if (dn->ndevs < SDRBD_MAX_DEVS) {
        struct sdrbd_dev *d = &dn->devs[dn->ndevs++];
        snprintf(d->name, sizeof(d->name), "%s", info->device);
        d->res = res;
        d->vnr = info->volume;
    }
}

void sdrbd_refresh_roles(struct sdrbd_node *dn)
{
    if (!dn || !dn->d)
        return;
    for (int i = 0; i < SDRBD_MAX_RES; i++)
        dn->role[i] = DRBD_ROLE_UNKNOWN;
    drbd_foreach_volume(dn->d, note_volume, dn);
}

int sdrbd_device_role(struct sim_node *sn, const char *dev)
{
    struct sdrbd_node *dn = sn->drbd;
    if (!dn || !dn->d)
        return 0;
    for (int i = 0; i < dn->ndevs; i++)
        if (!strcmp(dn->devs[i].name, dev))
            return dn->role[dn->devs[i].res];
    return 0;
}

int sdrbd_location(struct sim *s, struct sim_node *sn, const char *dev, struct sim_location *loc)
{
    struct sdrbd_node *dn = sn->drbd;
    if (!dn || !dn->d)
        return -ENOENT;
    sdrbd_refresh_roles(dn);
    for (int i = 0; i < dn->ndevs; i++) {
        if (strcmp(dn->devs[i].name, dev))
            continue;
        const struct scn_resource *r = &s->scn->resources[dn->devs[i].res];
        struct drbd_volume_info info;
        if (drbd_volume_info(dn->d, r->name, dn->devs[i].vnr, &info))
            return -ENOENT;
        struct sim_disk *disk = sim_disk_find(sn, info.backing);
        if (!disk)
            return -ENOENT;
        *loc = (struct sim_location){disk->media, info.size, sdrbd_protocol(r),
                                     info.disk == DRBD_D_UP_TO_DATE, s, sn, dn->devs[i].res,
                                     dn->devs[i].vnr};
        return 0;
    }
    return -ENOENT;
}

/* The media of peer's backing disk of the resource (NULL if it runs none). */
static struct simdisk_media *peer_media(struct sim *s, const char *peer, const char *res, int vnr)
{
    struct sim_node *pn = sim_node_find(s, peer);
    struct drbd_volume_info info;
    if (!pn || !pn->n || !pn->drbd || !pn->drbd->d || drbd_volume_info(pn->drbd->d, res, vnr, &info))
        return NULL;
    struct sim_disk *disk = sim_disk_find(pn, info.backing);
    return disk ? disk->media : NULL;
}

void sdrbd_read_device(void *arg, uint64_t offset, void *buf, size_t len)
{
    const struct sim_location *loc = arg;
    const char *res = loc->sim->scn->resources[loc->res].name;
    for (size_t done = 0; done < len;) {
        uint64_t off = offset + done;
        size_t n = 4096 - off % 4096; /* drbd's block */
        n = n < len - done ? n : len - done;
        char peer[UMC_NAME_MAX];
        struct simdisk_media *m = NULL;
        if (drbd_read_source(loc->node->drbd->d, res, loc->vnr, off, peer, sizeof(peer)) == 0)
            m = peer[0] ? peer_media(loc->sim, peer, res, loc->vnr) : loc->media;
        if (m)
            simdisk_read(m, off, (char *)buf + done, n);
        else
            memset((char *)buf + done, 0, n);
        done += n;
    }
}

/* ---- replication links --------------------------------------------------------------------- */

static struct sdrbd_link *link_for(struct sdrbd_node *dn, const char *res, const char *peer)
{
    for (int i = 0; i < dn->nlinks; i++)
        if (!strcmp(dn->links[i].res, res) && !strcmp(dn->links[i].peer, peer))
            return &dn->links[i];
    if (dn->nlinks == SDRBD_MAX_LINKS)
        return NULL;
    struct sdrbd_link *l = &dn->links[dn->nlinks++];
    snprintf(l->res, sizeof(l->res), "%s", res);
    snprintf(l->peer, sizeof(l->peer), "%s", peer);
    l->lost_at = 0;
    return l;
}

static void note_links(void *arg, const struct drbd_volume_info *v)
{
    struct sdrbd_node *dn = arg;
    mte_time_t now = mte_now(dn->sn->sim->e);
    for (int i = 0; i < v->npeers; i++) {
        struct sdrbd_link *l = link_for(dn, v->resource, v->peers[i].name);
        bool on = v->peers[i].conn == DRBD_C_CONNECTED && v->peers[i].repl != DRBD_R_OFF;
        if (l && l->replicating && !on)
            l->lost_at = now;
        if (l)
            l->replicating = on;
    }
}

static void links_down(struct sdrbd_node *dn)
{
    for (int i = 0; i < dn->nlinks; i++) {
        if (dn->links[i].replicating)
            dn->links[i].lost_at = mte_now(dn->sn->sim->e);
        dn->links[i].replicating = false;
    }
}

mte_time_t sdrbd_replicated_until(struct sim *s, const char *from, const char *to)
{
    struct sim_node *sn = sim_node_find(s, from);
    struct sdrbd_node *dn = sn ? sn->drbd : NULL;
    if (!dn)
        return MTE_TIME_NEVER;
    if (dn->d)
        drbd_foreach_volume(dn->d, note_links, dn);
    mte_time_t until = 0;
    bool any = false;
    for (int i = 0; i < dn->nlinks; i++) {
        const struct sdrbd_link *l = &dn->links[i];
        if (strcmp(l->peer, to))
            continue;
        mte_time_t t = l->replicating ? MTE_TIME_NEVER : l->lost_at;
        until = !any || t < until ? t : until;
        any = true;
    }
    return any ? until : 0;
}

/* ---- events2: every state change refreshes the roles and checks them ------------------------- */

static void on_event(void *arg, const char *line)
{
    struct sdrbd_node *dn = arg;
    struct sim *s = dn->sn->sim;
    if (s->tearing || !dn->d)
        return;
    drbd_foreach_volume(dn->d, note_links, dn);
    if (!strstr(line, "role:"))
        return;
    sdrbd_refresh_roles(dn);
    sdrbd_check_roles(s);
}

/* ---- node life --------------------------------------------------------------------------------- */

int sdrbd_node_start(struct sim_node *sn)
{
    struct sim *s = sn->sim;
    if (!sn->in_resources)
        return 0;
    struct sdrbd_node *dn = sn->drbd;
    if (!dn) {
        dn = sn->drbd = calloc(1, sizeof(*dn));
        if (!dn)
            abort();
        dn->sn = sn;
    }
    dn->d = drbd_new(sn->n, sn->decl->name);
    dn->ndevs = 0;
    for (size_t i = 0; i < s->scn->nresources; i++) {
        const struct scn_resource *r = &s->scn->resources[i];
        char err[512];
        if (!scn_resource_has_node(r, sn->decl->name))
            continue;
        if (drbd_add_config(dn->d, r->text, r->origin, err, sizeof(err))) {
            sim_setup_error(s, "resource %s on %s: %s", r->name, sn->decl->name, err);
            return -1;
        }
    }
    dn->events = drbd_events_open(dn->d, false, on_event, dn);
    return 0;
}

static void finish_cmd(struct sdrbd_cmd *c, int rc, const char *msg);

/* Commands drbd will never answer now: they end as failed. */
static void cancel_cmds(struct sdrbd_node *dn, const char *why)
{
    while (dn->cmds)
        finish_cmd(dn->cmds, -ECANCELED, why);
}

void sdrbd_node_stop(struct sim_node *sn)
{
    struct sdrbd_node *dn = sn->drbd;
    if (!dn)
        return;
    if (dn->d) {
        if (dn->events)
            drbd_events_close(dn->events);
        drbd_free(dn->d);
    }
    dn->d = NULL;
    dn->events = NULL;
    cancel_cmds(dn, "the node shut down");
    sdrbd_watch_forget(dn);
    free(dn->watch);
    free(dn);
    sn->drbd = NULL;
}

void sdrbd_node_crashed(struct sim_node *sn)
{
    struct sdrbd_node *dn = sn->drbd;
    if (!dn)
        return;
    if (dn->d)
        drbd_foreach_volume(dn->d, note_links, dn);
    links_down(dn);
    dn->d = NULL;           /* freed with the node's memory */
    dn->events = NULL;
    dn->ndevs = 0;
    cancel_cmds(dn, "the node crashed before drbd answered");
    sdrbd_watch_forget(dn);
}

/* ---- commands ----------------------------------------------------------------------------------- */

static void group_settle(struct sdrbd_group *g)
{
    if (g->pending || !g->issued_all)
        return;
    g->done(g->s, g->index, g->rc, g->msg);
    free(g);
}

static void finish_cmd(struct sdrbd_cmd *c, int rc, const char *msg)
{
    struct sdrbd_node *dn = c->dn;
    struct sim *s = dn->sn->sim;
    for (struct sdrbd_cmd **pp = &dn->cmds; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    int res = sim_resource_index(s, c->res);
    if (!rc && res >= 0 && !strcmp(c->verb, "up"))
        dn->sn->res_up |= 1ull << res;
    if (!rc && res >= 0 && !strcmp(c->verb, "down"))
        dn->sn->res_up &= ~(1ull << res);
    sim_trace(s, "%s: %s %s: %s", dn->sn->decl->name, c->verb, c->res, rc ? (msg ? msg : "failed") : "ok");
    if (!s->tearing && dn->d) {
        sdrbd_refresh_roles(dn);
        if (!rc && !strcmp(c->verb, "up"))
            sexport_refresh(dn->sn);
    }
    struct sdrbd_group *g = c->g;
    if (rc && !g->rc) {
        g->rc = rc;
        snprintf(g->msg, sizeof(g->msg), "%s", msg ? msg : "failed");
    }
    g->pending--;
    free(c);
    group_settle(g);
}

static void drbd_answered(void *arg, int rc, const char *msg) { finish_cmd(arg, rc, msg); }

static void issue(struct sdrbd_group *g, struct sdrbd_node *dn, const struct scn_action *a,
                  const char *verb, const char *res)
{
    struct sdrbd_cmd *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    c->dn = dn;
    c->g = g;
    c->issued = mte_now(dn->sn->sim->e);
    snprintf(c->verb, sizeof(c->verb), "%s", verb);
    snprintf(c->res, sizeof(c->res), "%s", res);
    c->next = dn->cmds;
    dn->cmds = c;
    g->pending++;
    struct drbd_cmd cmd = {.verb = c->verb, .resource = c->res,
                           .peer = a && a->peer[0] ? a->peer : NULL, .volume = -1,
                           .force = a && (a->flags & SCN_F_FORCE),
                           .discard_my_data = a && (a->flags & SCN_F_DISCARD)};
    drbd_command(dn->d, &cmd, drbd_answered, c);
}

/* The node's resources the action names (all of its resources if none). */
static void issue_on_node(struct sdrbd_group *g, struct sim_node *sn, const struct scn_action *a)
{
    struct sim *s = sn->sim;
    struct sdrbd_node *dn = sn ? sn->drbd : NULL;
    if (!dn || !dn->d) {
        if (!g->rc && sn) {
            g->rc = -ENOENT;
            snprintf(g->msg, sizeof(g->msg), "%s %s", sn->decl->name, sn->n ? "has no resources" : "is down");
        }
        return;
    }
    for (size_t i = 0; i < s->scn->nresources; i++) {
        const struct scn_resource *r = &s->scn->resources[i];
        if ((a->res[0] && strcmp(a->res, r->name)) || !scn_resource_has_node(r, sn->decl->name))
            continue;
        issue(g, dn, a, scn_verb_name(a->verb), r->name);
    }
}

/* up/down/create-md keep the nodes after the first in the action's text. */
static void issue_on_listed(struct sdrbd_group *g, struct sim *s, const struct scn_action *a)
{
    char words[sizeof(a->text)];
    issue_on_node(g, sim_node_find(s, a->node), a);
    if (a->verb != V_UP && a->verb != V_DOWN && a->verb != V_CREATE_MD)
        return;
    snprintf(words, sizeof(words), "%s", a->text);
    for (char *save = NULL, *w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save))
        issue_on_node(g, sim_node_find(s, w), a);
}

void sdrbd_command(struct sim *s, const struct scn_action *a, size_t index, sdrbd_done_fn done)
{
    struct sdrbd_group *g = calloc(1, sizeof(*g));
    if (!g)
        abort();
    *g = (struct sdrbd_group){.s = s, .index = index, .done = done};
    if (strcmp(a->node, "*")) {
        issue_on_listed(g, s, a);
    } else {
        for (size_t i = 0; i < s->nnodes; i++)
            if (s->nodes[i].n && s->nodes[i].drbd)
                issue_on_node(g, &s->nodes[i], a);
    }
    g->issued_all = true;
    group_settle(g);
}

static void bring_up_done(struct sim *s, size_t index, int rc, const char *msg)
{
    (void)index;
    if (rc)
        sim_fail(s, "command-failed", NULL, -1, "bringing resources up after a restart: %s", msg);
}

void sdrbd_bring_up(struct sim_node *sn)
{
    struct sdrbd_node *dn = sn->drbd;
    struct sim *s = sn->sim;
    if (!dn || !dn->d || !sn->res_up)
        return;
    struct sdrbd_group *g = calloc(1, sizeof(*g));
    if (!g)
        abort();
    *g = (struct sdrbd_group){.s = s, .index = SIZE_MAX, .done = bring_up_done};
    for (size_t i = 0; i < s->scn->nresources && i < 64; i++)
        if (sn->res_up >> i & 1)
            issue(g, dn, NULL, "up", s->scn->resources[i].name);
    g->issued_all = true;
    group_settle(g);
}

/* A command drbd never answers is a hang of its own. */
void sdrbd_check_commands(struct sim *s)
{
    mte_time_t now = mte_now(s->e);
    for (size_t i = 0; i < s->nnodes; i++) {
        struct sdrbd_node *dn = s->nodes[i].drbd;
        for (struct sdrbd_cmd *c = dn ? dn->cmds : NULL; c; c = c->next) {
            if (now - c->issued < COMMAND_HANG)
                continue;
            sim_fail(s, "command-hang", s->nodes[i].decl->name, -1, "%s %s issued at %.3fs never finished",
                     c->verb, c->res, (double)c->issued / MTE_SEC);
            return;
        }
    }
}

