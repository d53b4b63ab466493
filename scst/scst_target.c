/* Targets, their LUN maps (the default map and named initiator groups) and
 * ACLs.  Everything is kept in name / LUN order so enumeration and REPORT
 * LUNS never depend on pointers. */
#include <errno.h>
#include <stdio.h>

#include "scst/scst_internal.h"

/* ---- sorted name lists ---------------------------------------------------------------- */

bool scst_name_list_has(const struct scst_name *list, const char *name)
{
    for (; list; list = list->next)
        if (strcmp(list->name, name) == 0)
            return true;
    return false;
}

int scst_name_list_add(struct umc_node *n, struct scst_name **list, const char *name)
{
    struct scst_name **pp = list;
    while (*pp && strcmp((*pp)->name, name) < 0)
        pp = &(*pp)->next;
    if (*pp && strcmp((*pp)->name, name) == 0)
        return -EEXIST;
    size_t len = strlen(name);
    struct scst_name *e = umc_alloc(n, sizeof(*e) + len + 1);
    memcpy(e->name, name, len + 1);
    e->next = *pp;
    *pp = e;
    return 0;
}

void scst_name_list_free(struct umc_node *n, struct scst_name **list)
{
    while (*list) {
        struct scst_name *e = *list;
        *list = e->next;
        umc_free(n, e);
    }
}

static bool valid_name(const char *s)
{
    if (!s || !s[0] || strlen(s) > 223) /* iSCSI names are at most 223 bytes */
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == '{' || *s == '}' || *s == ';' || *s == ',')
            return false;
    return true;
}

/* ---- lookups -------------------------------------------------------------------------- */

struct scst_target *scst_target_lookup(struct scst_core *core, const char *name)
{
    if (!name)
        return NULL;
    for (struct scst_target *t = core->targets; t; t = t->next)
        if (strcmp(t->name, name) == 0)
            return t;
    return NULL;
}

struct scst_group *scst_group_lookup(struct scst_target *tgt, const char *group)
{
    if (!group)
        return &tgt->default_group;
    for (struct scst_group *g = tgt->groups; g; g = g->next)
        if (strcmp(g->name, group) == 0)
            return g;
    return NULL;
}

/* The first group (in name order) naming the initiator, else the default map. */
struct scst_group *scst_group_for_initiator(struct scst_target *tgt, const char *initiator)
{
    for (struct scst_group *g = tgt->groups; g; g = g->next)
        if (scst_name_list_has(g->initiators, initiator))
            return g;
    return &tgt->default_group;
}

/* ---- targets -------------------------------------------------------------------------------- */

static struct scst_target *target_new(struct scst_core *core, const char *name)
{
    struct scst_target *t = umc_alloc(core->node, sizeof(*t));
    t->core = core;
    t->name = umc_strdup(core->node, name);
    return t;
}

static void group_free_contents(struct scst_core *core, struct scst_group *g)
{
    struct umc_node *n = core->node;
    while (g->luns) {
        struct scst_lun_map *m = g->luns;
        g->luns = m->next;
        m->dev->lun_refs--;
        umc_free(n, m);
    }
    scst_name_list_free(n, &g->initiators);
    umc_free(n, g->name);
    g->name = NULL;
}

static void target_free(struct scst_core *core, struct scst_target *t)
{
    struct umc_node *n = core->node;
    while (t->groups) {
        struct scst_group *g = t->groups;
        t->groups = g->next;
        group_free_contents(core, g);
        umc_free(n, g);
    }
    group_free_contents(core, &t->default_group);
    scst_name_list_free(n, &t->allowed);
    umc_free(n, t->name);
    umc_free(n, t);
}

static int group_add(struct scst_core *core, struct scst_target *t, const char *group);
static int lun_add(struct scst_core *core, struct scst_target *t, struct scst_group *g, uint64_t lun,
                   struct scst_device *dev, bool read_only);

/* Copy the legacy [GROUP]/[ASSIGNMENT] template into a new target. */
static void apply_template(struct scst_core *core, struct scst_target *t)
{
    const struct scst_target *tpl = core->legacy_template;
    if (!tpl)
        return;
    for (const struct scst_lun_map *m = tpl->default_group.luns; m; m = m->next)
        lun_add(core, t, &t->default_group, m->lun, m->dev, m->read_only);
    for (const struct scst_group *tg = tpl->groups; tg; tg = tg->next) {
        group_add(core, t, tg->name);
        struct scst_group *g = scst_group_lookup(t, tg->name);
        for (const struct scst_name *i = tg->initiators; i; i = i->next)
            scst_name_list_add(core->node, &g->initiators, i->name);
        for (const struct scst_lun_map *m = tg->luns; m; m = m->next)
            lun_add(core, t, g, m->lun, m->dev, m->read_only);
    }
}

int scst_target_add(struct scst_core *core, const char *name)
{
    if (!valid_name(name))
        return -EINVAL;
    if (scst_target_lookup(core, name))
        return -EEXIST;
    struct scst_target *t = target_new(core, name);
    uint16_t id = 1;
    for (struct scst_target *o = core->targets; o; o = o->next)
        if (o->rel_tgt_id >= id)
            id = (uint16_t)(o->rel_tgt_id + 1);
    t->rel_tgt_id = id;
    struct scst_target **pp = &core->targets;
    while (*pp && strcmp((*pp)->name, name) < 0)
        pp = &(*pp)->next;
    t->next = *pp;
    *pp = t;
    apply_template(core, t);
    umc_info(core->node, SCST_COMPONENT, "target %s added", name);
    return 0;
}

int scst_target_remove(struct scst_core *core, const char *name)
{
    struct scst_target **pp = &core->targets;
    while (*pp && strcmp((*pp)->name, name) != 0)
        pp = &(*pp)->next;
    struct scst_target *t = *pp;
    if (!t)
        return -ENOENT;
    scst_target_orphan_sessions(t);
    *pp = t->next;
    target_free(core, t);
    umc_info(core->node, SCST_COMPONENT, "target %s removed", name);
    return 0;
}

int scst_target_enable(struct scst_core *core, const char *name, bool enabled)
{
    struct scst_target *t = scst_target_lookup(core, name);
    if (!t)
        return -ENOENT;
    t->enabled = enabled;
    return 0;
}

int scst_target_allow_initiator(struct scst_core *core, const char *target, const char *initiator)
{
    struct scst_target *t = scst_target_lookup(core, target);
    if (!t)
        return -ENOENT;
    if (!valid_name(initiator))
        return -EINVAL;
    int rc = scst_name_list_add(core->node, &t->allowed, initiator);
    return rc == -EEXIST ? 0 : rc;
}

bool scst_target_visible(struct scst_core *core, const char *target, const char *initiator)
{
    struct scst_target *t = scst_target_lookup(core, target);
    if (!t || !t->enabled || !initiator)
        return false;
    return !t->allowed || scst_name_list_has(t->allowed, initiator);
}

/* ---- groups and LUNs -------------------------------------------------------------------------- */

static int group_add(struct scst_core *core, struct scst_target *t, const char *group)
{
    if (!valid_name(group))
        return -EINVAL;
    struct scst_group **pp = &t->groups;
    while (*pp && strcmp((*pp)->name, group) < 0)
        pp = &(*pp)->next;
    if (*pp && strcmp((*pp)->name, group) == 0)
        return -EEXIST;
    struct scst_group *g = umc_alloc(core->node, sizeof(*g));
    g->name = umc_strdup(core->node, group);
    g->next = *pp;
    *pp = g;
    return 0;
}

int scst_group_add(struct scst_core *core, const char *target, const char *group)
{
    struct scst_target *t = scst_target_lookup(core, target);
    if (!t)
        return -ENOENT;
    if (!group)
        return 0; /* the default map always exists */
    return group_add(core, t, group);
}

int scst_group_add_initiator(struct scst_core *core, const char *target, const char *group,
                             const char *initiator)
{
    struct scst_target *t = scst_target_lookup(core, target);
    struct scst_group *g = t && group ? scst_group_lookup(t, group) : NULL;
    if (!g)
        return -ENOENT;
    if (!valid_name(initiator))
        return -EINVAL;
    int rc = scst_name_list_add(core->node, &g->initiators, initiator);
    if (rc == 0)
        scst_sessions_remap(core, t);
    return rc;
}

static int lun_add(struct scst_core *core, struct scst_target *t, struct scst_group *g, uint64_t lun,
                   struct scst_device *dev, bool read_only)
{
    struct scst_lun_map **pp = &g->luns;
    while (*pp && (*pp)->lun < lun)
        pp = &(*pp)->next;
    if (*pp && (*pp)->lun == lun)
        return -EEXIST;
    struct scst_lun_map *m = umc_alloc(core->node, sizeof(*m));
    m->lun = lun;
    m->dev = dev;
    m->read_only = read_only;
    m->next = *pp;
    *pp = m;
    dev->lun_refs++;
    return 0;
}

int scst_lun_add(struct scst_core *core, const char *target, const char *group, uint64_t lun,
                 const char *device, bool read_only)
{
    struct scst_target *t = scst_target_lookup(core, target);
    struct scst_group *g = t ? scst_group_lookup(t, group) : NULL;
    if (!g)
        return -ENOENT;
    struct scst_device *dev = scst_device_find(core, device);
    if (!dev)
        return -ENODEV;
    if (lun >= 16384) /* flat and peripheral addressing reach 16383 */
        return -ERANGE;
    int rc = lun_add(core, t, g, lun, dev, read_only);
    if (rc == 0)
        scst_sessions_remap(core, t);
    return rc;
}

int scst_lun_remove(struct scst_core *core, const char *target, const char *group, uint64_t lun)
{
    struct scst_target *t = scst_target_lookup(core, target);
    struct scst_group *g = t ? scst_group_lookup(t, group) : NULL;
    if (!g)
        return -ENOENT;
    struct scst_lun_map **pp = &g->luns;
    while (*pp && (*pp)->lun != lun)
        pp = &(*pp)->next;
    struct scst_lun_map *m = *pp;
    if (!m)
        return -ENOENT;
    *pp = m->next;
    m->dev->lun_refs--;
    umc_free(core->node, m);
    scst_sessions_remap(core, t);
    return 0;
}

/* Undo of scst_group_add (scst.conf rollback): the group and its LUNs go. */
int scst_group_remove(struct scst_core *core, const char *target, const char *group)
{
    struct scst_target *t = scst_target_lookup(core, target);
    if (!t || !group)
        return -ENOENT;
    for (struct scst_group **pp = &t->groups; *pp; pp = &(*pp)->next) {
        struct scst_group *g = *pp;
        if (strcmp(g->name, group) != 0)
            continue;
        *pp = g->next;
        group_free_contents(core, g);
        umc_free(core->node, g);
        scst_sessions_remap(core, t);
        return 0;
    }
    return -ENOENT;
}

/* ---- legacy template (scst.conf's [GROUP]/[ASSIGNMENT] without target names) ------------------ */

struct scst_target *scst_legacy_template(struct scst_core *core)
{
    if (!core->legacy_template)
        core->legacy_template = target_new(core, "");
    return core->legacy_template;
}

int scst_template_group_add(struct scst_core *core, const char *group)
{
    struct scst_target *t = scst_legacy_template(core);
    int rc = group_add(core, t, group);
    return rc == -EEXIST ? 0 : rc;
}

int scst_template_lun_add(struct scst_core *core, const char *group, uint64_t lun,
                          struct scst_device *dev)
{
    struct scst_target *t = scst_legacy_template(core);
    struct scst_group *g = scst_group_lookup(t, group);
    return g ? lun_add(core, t, g, lun, dev, false) : -ENOENT;
}

int scst_template_initiator_add(struct scst_core *core, const char *group, const char *initiator)
{
    struct scst_group *g = scst_group_lookup(scst_legacy_template(core), group);
    if (!g)
        return -ENOENT;
    int rc = scst_name_list_add(core->node, &g->initiators, initiator);
    return rc == -EEXIST ? 0 : rc;
}

/* ---- enumeration ------------------------------------------------------------------------------ */

void scst_foreach_target(struct scst_core *core, scst_name_fn fn, void *arg)
{
    for (struct scst_target *t = core->targets; t; t = t->next)
        fn(arg, t->name);
}

static void foreach_group_lun(struct scst_target *t, const struct scst_group *g, scst_lun_fn fn,
                              void *arg)
{
    for (const struct scst_lun_map *m = g->luns; m; m = m->next) {
        struct scst_lun_info info = {.target = t->name, .group = g->name, .lun = m->lun,
                                     .device = m->dev->name, .read_only = m->read_only};
        fn(arg, &info);
    }
}

void scst_foreach_lun(struct scst_core *core, const char *target, scst_lun_fn fn, void *arg)
{
    struct scst_target *t = scst_target_lookup(core, target);
    if (!t)
        return;
    foreach_group_lun(t, &t->default_group, fn, arg);
    for (const struct scst_group *g = t->groups; g; g = g->next)
        foreach_group_lun(t, g, fn, arg);
}

void scst_targets_free(struct scst_core *core)
{
    while (core->targets) {
        struct scst_target *t = core->targets;
        scst_target_orphan_sessions(t);
        core->targets = t->next;
        target_free(core, t);
    }
    if (core->legacy_template) {
        target_free(core, core->legacy_template);
        core->legacy_template = NULL;
    }
}
