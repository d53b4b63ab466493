/* scst.conf: the entry point, the plan both formats fill, and the values
 * they share (numbers, booleans, vdisk device attributes).  Every error reads
 * "FILE:LINE: problem". */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "scst/scst_conf_internal.h"

int conf_error(struct conf_plan *pl, int line, const char *fmt, ...)
{
    if (pl->failed)
        return -EINVAL; /* the first error is the one reported */
    pl->failed = true;
    int n = snprintf(pl->err, pl->errlen, "%s:%d: ", pl->file, line);
    if (n >= 0 && (size_t)n < pl->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(pl->err + n, pl->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

char *conf_strdup(struct conf_plan *pl, const char *s) { return s ? umc_strdup(pl->node, s) : NULL; }

static void *grow(struct conf_plan *pl, void *v, size_t *cap, size_t n, size_t each)
{
    if (n < *cap)
        return v;
    *cap = *cap ? 2 * *cap : 8;
    v = umc_realloc(pl->node, v, *cap * each);
    memset((char *)v + n * each, 0, (*cap - n) * each);
    return v;
}

struct conf_device *conf_add_device(struct conf_plan *pl, int line, const char *name, const char *handler)
{
    pl->dev = grow(pl, pl->dev, &pl->capdev, pl->ndev, sizeof(*pl->dev));
    struct conf_device *d = &pl->dev[pl->ndev++];
    d->line = line;
    d->name = conf_strdup(pl, name);
    d->handler = conf_strdup(pl, handler);
    return d;
}

struct conf_target *conf_add_target(struct conf_plan *pl, int line, const char *driver, const char *name)
{
    pl->tgt = grow(pl, pl->tgt, &pl->captgt, pl->ntgt, sizeof(*pl->tgt));
    struct conf_target *t = &pl->tgt[pl->ntgt++];
    t->line = line;
    t->driver = conf_strdup(pl, driver);
    t->name = conf_strdup(pl, name);
    t->enabled = -1;
    t->rel_tgt_id = -1;
    return t;
}

struct conf_item *conf_add_item(struct conf_plan *pl, int line, char kind)
{
    pl->item = grow(pl, pl->item, &pl->capitem, pl->nitem, sizeof(*pl->item));
    struct conf_item *it = &pl->item[pl->nitem++];
    it->line = line;
    it->kind = kind;
    return it;
}

static void plan_free(struct conf_plan *pl)
{
    struct umc_node *n = pl->node;
    for (size_t i = 0; i < pl->ndev; i++) {
        struct conf_device *d = &pl->dev[i];
        umc_free(n, d->name);
        umc_free(n, d->handler);
        umc_free(n, d->filename);
        umc_free(n, d->t10_dev_id);
        umc_free(n, d->usn);
    }
    for (size_t i = 0; i < pl->ntgt; i++) {
        umc_free(n, pl->tgt[i].driver);
        umc_free(n, pl->tgt[i].name);
    }
    for (size_t i = 0; i < pl->nitem; i++) {
        struct conf_item *it = &pl->item[i];
        umc_free(n, it->driver);
        umc_free(n, it->target);
        umc_free(n, it->group);
        umc_free(n, it->name);
        umc_free(n, it->value);
    }
    umc_free(n, pl->dev);
    umc_free(n, pl->tgt);
    umc_free(n, pl->item);
}

/* ---- values ----------------------------------------------------------------------------------- */

/* Decimal or 0x hex, with an optional K/M/G/T (binary) suffix. */
int conf_number(struct conf_plan *pl, int line, const char *what, const char *s, uint64_t max,
                uint64_t *out)
{
    uint64_t v = 0;
    const char *c = s;
    unsigned base = 10;
    if (!s || !*s)
        return conf_error(pl, line, "missing value for %s", what);
    if (c[0] == '0' && (c[1] == 'x' || c[1] == 'X')) {
        base = 16;
        c += 2;
    }
    const char *digits = c;
    for (; *c; c++) {
        unsigned d;
        if (*c >= '0' && *c <= '9')
            d = (unsigned)(*c - '0');
        else if (base == 16 && ((*c | 0x20) >= 'a' && (*c | 0x20) <= 'f'))
            d = (unsigned)((*c | 0x20) - 'a' + 10);
        else
            break;
        if (v > (UINT64_MAX - d) / base)
            return conf_error(pl, line, "bad number '%s' for %s", s, what);
        v = v * base + d;
    }
    if (c == digits)
        return conf_error(pl, line, "bad number '%s' for %s", s, what);
    unsigned shift = 0;
    if (*c && base == 10) {
        const char *units = "KMGT";
        const char *u = strchr(units, *c & ~0x20);
        if (!u || c[1])
            return conf_error(pl, line, "bad number '%s' for %s", s, what);
        shift = 10u * (unsigned)(u - units + 1);
        c++;
    }
    if (*c || (shift && v > (UINT64_MAX >> shift)) || (v << shift) > max)
        return conf_error(pl, line, "bad number '%s' for %s", s, what);
    *out = v << shift;
    return 0;
}

int conf_bool(struct conf_plan *pl, int line, const char *what, const char *s, bool *out)
{
    if (!s || strcmp(s, "1") == 0 || strcmp(s, "yes") == 0 || strcmp(s, "Yes") == 0 ||
        strcmp(s, "true") == 0 || strcmp(s, "TRUE") == 0) {
        *out = true;
        return 0;
    }
    if (strcmp(s, "0") == 0 || strcmp(s, "no") == 0 || strcmp(s, "No") == 0 ||
        strcmp(s, "false") == 0 || strcmp(s, "FALSE") == 0) {
        *out = false;
        return 0;
    }
    return conf_error(pl, line, "bad value '%s' for %s (0 or 1)", s, what);
}

/* Attributes scstadmin writes that change nothing here. */
static const char *const ignored_device_attrs[] = {
    "o_direct", "rotational", "cluster_mode", "threads_num", "threads_pool_type", "async",
    "zero_copy", "t10_vend_id", "vend_specific_id", "prod_id", "prod_rev_lvl", "active",
    "numa_node_id", "tst", "expl_alua", "lb_per_pb_exp", "dif_mode", "dif_type", NULL,
};

static int string_attr(struct conf_plan *pl, int line, const char *key, const char *value, char **out)
{
    if (!value || !*value)
        return conf_error(pl, line, "missing value for %s", key);
    umc_free(pl->node, *out);
    *out = conf_strdup(pl, value);
    return 0;
}

int conf_device_attr(struct conf_plan *pl, struct conf_device *d, int line, const char *key,
                     const char *value)
{
    uint64_t v;
    if (strcmp(key, "filename") == 0)
        return string_attr(pl, line, key, value, &d->filename);
    if (strcmp(key, "t10_dev_id") == 0)
        return string_attr(pl, line, key, value, &d->t10_dev_id);
    if (strcmp(key, "usn") == 0)
        return string_attr(pl, line, key, value, &d->usn);
    if (strcmp(key, "size") == 0)
        return conf_number(pl, line, key, value, UINT64_MAX >> 1, &d->size);
    if (strcmp(key, "size_mb") == 0) {
        if (conf_number(pl, line, key, value, UINT64_MAX >> 21, &v))
            return -EINVAL;
        d->size = v << 20;
        return 0;
    }
    if (strcmp(key, "blocksize") == 0) {
        if (conf_number(pl, line, key, value, 4096, &v))
            return -EINVAL;
        if (v != 512 && v != 1024 && v != 2048 && v != 4096)
            return conf_error(pl, line, "bad block size '%s' (512, 1024, 2048 or 4096)", value);
        d->block_size = (uint32_t)v;
        return 0;
    }
    if (strcmp(key, "physical_blocksize") == 0) {
        if (conf_number(pl, line, key, value, 1u << 24, &v))
            return -EINVAL;
        d->physical_block_size = (uint32_t)v;
        return 0;
    }
    if (strcmp(key, "read_only") == 0)
        return conf_bool(pl, line, key, value, &d->read_only);
    if (strcmp(key, "removable") == 0)
        return conf_bool(pl, line, key, value, &d->removable);
    if (strcmp(key, "thin_provisioned") == 0)
        return conf_bool(pl, line, key, value, &d->thin);
    if (strcmp(key, "nv_cache") == 0)
        return conf_bool(pl, line, key, value, &d->nv_cache);
    if (strcmp(key, "write_through") == 0)
        return conf_bool(pl, line, key, value, &d->write_through);
    for (const char *const *a = ignored_device_attrs; *a; a++)
        if (strcmp(key, *a) == 0)
            return 0;
    return conf_error(pl, line, "unknown device attribute '%s'", key);
}

/* ---- entry ------------------------------------------------------------------------------------ */

static bool looks_legacy(const char *text)
{
    for (const char *c = text; *c;) {
        while (*c == ' ' || *c == '\t' || *c == '\r' || *c == '\n')
            c++;
        if (*c == '#') {
            while (*c && *c != '\n')
                c++;
            continue;
        }
        return *c == '[';
    }
    return false;
}

int scst_config_apply(struct scst_core *core, const char *text, const char *filename,
                      const struct scst_conf_hooks *hooks, char *err, size_t errlen)
{
    char dummy[8];
    struct conf_plan pl = {.file = filename && *filename ? filename : "scst.conf",
                           .err = err ? err : dummy, .errlen = err ? errlen : sizeof(dummy),
                           .node = core->node};
    if (pl.errlen)
        pl.err[0] = '\0';
    if (!text)
        text = "";
    int rc = looks_legacy(text) ? conf_read_legacy(&pl, text) : conf_read_nested(&pl, text);
    if (rc == 0 && !pl.failed)
        rc = conf_apply(core, &pl, hooks);
    if (pl.failed && rc == 0)
        rc = -EINVAL;
    plan_free(&pl);
    if (rc)
        umc_warn(core->node, SCST_COMPONENT, "config: %s", pl.err);
    return rc ? -EINVAL : 0;
}
