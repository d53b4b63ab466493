/* Applying a read scst.conf: validate the plan against the core first (names,
 * references, duplicates, backing stores), then apply it with a journal; if a
 * step still fails, the journal undoes the steps before it. */
#include <errno.h>
#include <stdio.h>

#include "scst/scst_conf_internal.h"
#include "tcmu_ram/tcmu_ram.h"

#define NULLIO_DEFAULT_SIZE (1ull << 30)

struct journal {
    struct { char kind; char *a, *b; uint64_t lun; } *e;
    size_t n, cap;
};

static void journal_add(struct conf_plan *pl, struct journal *j, char kind, const char *a,
                        const char *b, uint64_t lun)
{
    if (j->n == j->cap) {
        j->cap = j->cap ? 2 * j->cap : 16;
        j->e = umc_realloc(pl->node, j->e, j->cap * sizeof(*j->e));
    }
    j->e[j->n].kind = kind;
    j->e[j->n].a = conf_strdup(pl, a);
    j->e[j->n].b = conf_strdup(pl, b);
    j->e[j->n].lun = lun;
    j->n++;
}

static void journal_undo(struct scst_core *core, struct conf_plan *pl, struct journal *j, bool undo)
{
    while (j->n) {
        j->n--;
        if (undo) {
            switch (j->e[j->n].kind) {
            case 'L': scst_lun_remove(core, j->e[j->n].a, j->e[j->n].b, j->e[j->n].lun); break;
            case 'G': scst_group_remove(core, j->e[j->n].a, j->e[j->n].b); break;
            case 'T': scst_target_remove(core, j->e[j->n].a); break;
            case 'D': scst_device_remove(core, j->e[j->n].a); break;
            default: break;
            }
        }
        umc_free(pl->node, j->e[j->n].a);
        umc_free(pl->node, j->e[j->n].b);
    }
    umc_free(pl->node, j->e);
    j->e = NULL;
}

/* ---- validation ------------------------------------------------------------------------------ */

static bool is_bdev_path(const char *f)
{
    return !strchr(f, '/') || strncmp(f, "/UMCfuse/dev/", 13) == 0 || strncmp(f, "/dev/", 5) == 0;
}

static const struct conf_device *plan_device(const struct conf_plan *pl, const char *name)
{
    for (size_t i = 0; i < pl->ndev; i++)
        if (strcmp(pl->dev[i].name, name) == 0)
            return &pl->dev[i];
    return NULL;
}

static bool plan_target(const struct conf_plan *pl, const char *name)
{
    for (size_t i = 0; i < pl->ntgt; i++)
        if (strcmp(pl->tgt[i].name, name) == 0)
            return true;
    return false;
}

static int validate_device(struct scst_core *core, struct conf_plan *pl, size_t i)
{
    struct conf_device *d = &pl->dev[i];
    for (size_t j = 0; j < i; j++)
        if (strcmp(pl->dev[j].name, d->name) == 0)
            return conf_error(pl, d->line, "duplicate device '%s'", d->name);
    if (scst_device_lookup(core, d->name))
        return conf_error(pl, d->line, "device '%s' already exists", d->name);
    bool nullio = strcmp(d->handler, "vdisk_nullio") == 0;
    if (!nullio && d->filename && is_bdev_path(d->filename)) {
        if (!umc_bdev_find(core->node, d->filename))
            return conf_error(pl, d->line, "device '%s': no such block device '%s'", d->name, d->filename);
        return 0;
    }
    uint32_t bs = d->block_size ? d->block_size : 512;
    if (!d->size && nullio)
        d->size = NULLIO_DEFAULT_SIZE;
    if (!d->size)
        return conf_error(pl, d->line, "device '%s': size needed for '%s'", d->name,
                          d->filename ? d->filename : "a memory device");
    if (d->size % bs || d->size < bs)
        return conf_error(pl, d->line, "device '%s': size %llu is not a multiple of the block size %u",
                          d->name, (unsigned long long)d->size, bs);
    return 0;
}

static bool group_declared(struct scst_core *core, const struct conf_plan *pl, const char *target,
                           const char *group)
{
    if (!group)
        return true;
    for (size_t i = 0; i < pl->nitem; i++) {
        const struct conf_item *it = &pl->item[i];
        if (it->kind == 'G' && strcmp(it->group, group) == 0 &&
            (pl->legacy || strcmp(it->target, target) == 0))
            return true;
    }
    struct scst_target *t = target ? scst_target_lookup(core, target) : NULL;
    return t && scst_group_lookup(t, group);
}

static bool same_group(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool lun_taken(struct scst_core *core, const struct conf_plan *pl, size_t upto,
                      const struct conf_item *it)
{
    for (size_t i = 0; i < upto; i++) {
        const struct conf_item *o = &pl->item[i];
        if (o->kind == 'L' && o->lun == it->lun && same_group(o->group, it->group) &&
            (pl->legacy || strcmp(o->target, it->target) == 0))
            return true;
    }
    for (struct scst_target *t = core->targets; t; t = t->next) {
        if (!pl->legacy && strcmp(t->name, it->target) != 0)
            continue;
        struct scst_group *g = scst_group_lookup(t, it->group);
        for (const struct scst_lun_map *m = g ? g->luns : NULL; m; m = m->next)
            if (m->lun == it->lun)
                return true;
    }
    return false;
}

static int validate_item(struct scst_core *core, struct conf_plan *pl, size_t i)
{
    const struct conf_item *it = &pl->item[i];
    bool target_known = pl->legacy || !it->target || plan_target(pl, it->target) ||
                        scst_target_lookup(core, it->target);
    if (!target_known)
        return conf_error(pl, it->line, "unknown target '%s'", it->target);
    switch (it->kind) {
    case 'L':
        if (!plan_device(pl, it->name) && !scst_device_lookup(core, it->name))
            return conf_error(pl, it->line, "unknown device '%s'", it->name);
        if (!group_declared(core, pl, it->target, it->group))
            return conf_error(pl, it->line, "unknown group '%s'", it->group);
        if (lun_taken(core, pl, i, it))
            return conf_error(pl, it->line, "duplicate LUN %llu", (unsigned long long)it->lun);
        return 0;
    case 'I':
        if (!group_declared(core, pl, it->target, it->group))
            return conf_error(pl, it->line, "unknown group '%s'", it->group);
        return 0;
    default:
        return 0;
    }
}

static int validate(struct scst_core *core, struct conf_plan *pl)
{
    for (size_t i = 0; i < pl->ndev; i++)
        if (validate_device(core, pl, i))
            return -EINVAL;
    for (size_t i = 0; i < pl->ntgt; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(pl->tgt[i].name, pl->tgt[j].name) == 0)
                return conf_error(pl, pl->tgt[i].line, "duplicate TARGET '%s'", pl->tgt[i].name);
    for (size_t i = 0; i < pl->nitem; i++)
        if (validate_item(core, pl, i))
            return -EINVAL;
    return 0;
}

/* ---- applying ------------------------------------------------------------------------------- */

static struct tcmu_host *tcmu_host(struct scst_core *core)
{
    struct tcmu_host *h = tcmu_host_of(core->node);
    if (!h) {
        h = tcmu_host_new(core->node);
        core->own_tcmu_host = true;
    }
    return h;
}

/* A file or memory device: a tcmu "ram" device of the given size. */
static const char *create_backing(struct scst_core *core, struct conf_plan *pl, const struct conf_device *d)
{
    char *cfg = umc_asprintf(core->node, "ram/%s", d->filename && !is_bdev_path(d->filename) ? d->filename : "");
    struct tcmu_dev_config tc = {.cfgstring = cfg, .size = d->size,
                                 .block_size = d->block_size ? d->block_size : 512};
    int err = 0;
    struct tcmu_device *t = tcmu_dev_add(tcmu_host(core), &tc, &err);
    umc_free(core->node, cfg);
    if (!t) {
        conf_error(pl, d->line, "device '%s': cannot create its backing store: %d", d->name, err);
        return NULL;
    }
    return tcmu_dev_name(t);
}

static int apply_device(struct scst_core *core, struct conf_plan *pl, struct journal *j,
                        const struct conf_device *d)
{
    bool nullio = strcmp(d->handler, "vdisk_nullio") == 0;
    bool existing = !nullio && d->filename && is_bdev_path(d->filename);
    const char *bdev = existing ? d->filename : create_backing(core, pl, d);
    if (!bdev)
        return -EINVAL;
    char owned[UMC_NAME_MAX];
    snprintf(owned, sizeof(owned), "%s", bdev);
    struct scst_device_opts o = {.name = d->name, .bdev = bdev, .block_size = d->block_size,
                                 .physical_block_size = d->physical_block_size,
                                 .read_only = d->read_only, .removable = d->removable, .thin = d->thin,
                                 .write_through = d->write_through, .t10_dev_id = d->t10_dev_id,
                                 .serial = d->usn};
    char msg[160];
    int rc = scst_device_add(core, &o, msg, sizeof(msg));
    if (rc) {
        if (!existing) {
            struct tcmu_device *t = tcmu_dev_find(tcmu_host(core), owned);
            if (t)
                tcmu_dev_remove(t);
        }
        return conf_error(pl, d->line, "%s", msg);
    }
    struct scst_device *dev = scst_device_lookup(core, d->name);
    dev->nv_cache = d->nv_cache;
    if (!existing)
        dev->owned_tcmu = umc_strdup(core->node, owned);
    journal_add(pl, j, 'D', d->name, NULL, 0);
    return 0;
}

static int apply_target(struct scst_core *core, struct conf_plan *pl, struct journal *j,
                        const struct conf_target *ct)
{
    if (!scst_target_lookup(core, ct->name)) {
        if (scst_target_add(core, ct->name))
            return conf_error(pl, ct->line, "invalid target name '%s'", ct->name);
        journal_add(pl, j, 'T', ct->name, NULL, 0);
    }
    if (ct->rel_tgt_id > 0)
        scst_target_lookup(core, ct->name)->rel_tgt_id = (uint16_t)ct->rel_tgt_id;
    return 0;
}

/* Nested: the item's own target.  Legacy: every target, and the template. */
static int apply_on_target(struct scst_core *core, struct conf_plan *pl, struct journal *j,
                           const struct conf_item *it, const char *target)
{
    int rc = 0;
    switch (it->kind) {
    case 'G':
        rc = scst_group_add(core, target, it->group);
        if (rc == 0)
            journal_add(pl, j, 'G', target, it->group, 0);
        return rc == -EEXIST ? 0 : rc ? conf_error(pl, it->line, "invalid group name '%s'", it->group) : 0;
    case 'I':
        rc = scst_group_add_initiator(core, target, it->group, it->name);
        return rc && rc != -EEXIST ? conf_error(pl, it->line, "invalid initiator name '%s'", it->name) : 0;
    case 'A':
        rc = scst_target_allow_initiator(core, target, it->name);
        return rc ? conf_error(pl, it->line, "invalid initiator name '%s'", it->name) : 0;
    case 'L':
        rc = scst_lun_add(core, target, it->group, it->lun, it->name, it->flag);
        if (rc)
            return conf_error(pl, it->line, "cannot map LUN %llu: %d", (unsigned long long)it->lun, rc);
        journal_add(pl, j, 'L', target, it->group, it->lun);
        return 0;
    default:
        return 0;
    }
}

static int apply_legacy_template(struct scst_core *core, struct conf_plan *pl, const struct conf_item *it)
{
    switch (it->kind) {
    case 'G': return scst_template_group_add(core, it->group) ? conf_error(pl, it->line, "bad group") : 0;
    case 'I': scst_template_initiator_add(core, it->group, it->name); return 0;
    case 'L': scst_template_lun_add(core, it->group, it->lun, scst_device_lookup(core, it->name)); return 0;
    default: return 0;
    }
}

static int apply_hook(struct conf_plan *pl, const struct conf_item *it, const struct scst_conf_hooks *hooks)
{
    char msg[160] = "";
    int rc = 0;
    if (it->kind == 'D' && hooks && hooks->driver_attr)
        rc = hooks->driver_attr(hooks->arg, it->driver, it->name, it->value, msg, sizeof(msg));
    else if (it->kind == 'T' && hooks && hooks->target_attr)
        rc = hooks->target_attr(hooks->arg, it->driver, it->target, it->name, it->value, msg, sizeof(msg));
    if (rc)
        return conf_error(pl, it->line, "%s", msg[0] ? msg : "attribute refused");
    return 0;
}

static int apply_item(struct scst_core *core, struct conf_plan *pl, struct journal *j,
                      const struct conf_item *it, const struct scst_conf_hooks *hooks)
{
    if (it->kind == 'D' || it->kind == 'T')
        return apply_hook(pl, it, hooks);
    if (it->kind == 'E') {
        if (!scst_target_lookup(core, it->target)) {
            if (scst_target_add(core, it->target))
                return conf_error(pl, it->line, "invalid target name '%s'", it->target);
            journal_add(pl, j, 'T', it->target, NULL, 0);
        }
        scst_target_enable(core, it->target, it->flag);
        return 0;
    }
    if (!pl->legacy)
        return apply_on_target(core, pl, j, it, it->target);
    if (apply_legacy_template(core, pl, it))
        return -EINVAL;
    for (struct scst_target *t = core->targets; t; t = t->next)
        if (apply_on_target(core, pl, j, it, t->name))
            return -EINVAL;
    return 0;
}

int conf_apply(struct scst_core *core, struct conf_plan *pl, const struct scst_conf_hooks *hooks)
{
    if (validate(core, pl))
        return -EINVAL;
    struct journal j = {0};
    int rc = 0;
    for (size_t i = 0; i < pl->ndev && !rc; i++)
        rc = apply_device(core, pl, &j, &pl->dev[i]);
    for (size_t i = 0; i < pl->ntgt && !rc; i++)
        rc = apply_target(core, pl, &j, &pl->tgt[i]);
    for (size_t i = 0; i < pl->nitem && !rc; i++)
        rc = apply_item(core, pl, &j, &pl->item[i], hooks);
    for (size_t i = 0; i < pl->ntgt && !rc; i++)
        if (pl->tgt[i].enabled >= 0)
            scst_target_enable(core, pl->tgt[i].name, pl->tgt[i].enabled);
    journal_undo(core, pl, &j, rc != 0);
    return rc;
}
