/* Devices: a "vdisk" logical unit over a bdev.  The bdev is opened when the
 * first nexus that sees the LU appears and closed with the last one, so a
 * logout lets DRBD become Secondary; a refused write open falls back to a
 * read-only open (writes then fail with DATA PROTECT) and is retried when a
 * write arrives. */
#include <errno.h>
#include <stdio.h>

#include "scst/scst_internal.h"
#include "tcmu_ram/tcmu_ram.h"

static uint64_t fnv1a64(const char *s, uint64_t h)
{
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

static unsigned log2_of(uint32_t v)
{
    unsigned s = 0;
    while ((1u << s) < v)
        s++;
    return s;
}

static bool valid_device_name(const char *name)
{
    if (!name || !name[0] || strlen(name) >= UMC_NAME_MAX)
        return false;
    for (const char *c = name; *c; c++)
        if (*c <= ' ' || *c == '/' || *c == '{' || *c == '}' || *c == ',' || *c == ';' || *c > '~')
            return false;
    return true;
}

struct scst_device *scst_device_lookup(struct scst_core *core, const char *name)
{
    for (struct scst_device *d = core->devices; d; d = d->next)
        if (strcmp(d->name, name) == 0)
            return d;
    return NULL;
}

struct scst_device *scst_device_find(struct scst_core *core, const char *name)
{
    return name ? scst_device_lookup(core, name) : NULL;
}

const char *scst_device_name(const struct scst_device *dev) { return dev->name; }

static void set_identity(struct scst_device *dev, const struct scst_device_opts *o)
{
    snprintf(dev->t10_dev_id, sizeof(dev->t10_dev_id), "%s",
             o->t10_dev_id && o->t10_dev_id[0] ? o->t10_dev_id : o->name);
    if (o->serial && o->serial[0])
        snprintf(dev->serial, sizeof(dev->serial), "%s", o->serial);
    else
        snprintf(dev->serial, sizeof(dev->serial), "%016llx",
                 (unsigned long long)fnv1a64(o->name, 0xcbf29ce484222325ull));
    /* NAA 3 (locally assigned): stable for a given identity, so two nodes that
     * export the same replicated device under the same names agree. */
    uint64_t h = fnv1a64(dev->serial, fnv1a64(dev->t10_dev_id, 0xcbf29ce484222325ull));
    put_be64(dev->naa, (h & 0x0fffffffffffffffull) | 0x3000000000000000ull);
}

static int check_geometry(const struct scst_device_opts *o, const struct umc_bdev *b, uint32_t *bs,
                          char *err, size_t errlen)
{
    *bs = o->block_size ? o->block_size : b->block_size;
    if (*bs != 512 && *bs != 1024 && *bs != 2048 && *bs != 4096) {
        snprintf(err, errlen, "device '%s': unsupported block size %u", o->name, *bs);
        return -EINVAL;
    }
    if (*bs < b->block_size || *bs % b->block_size) {
        snprintf(err, errlen, "device '%s': block size %u is smaller than %s's %u", o->name, *bs,
                 b->name, b->block_size);
        return -EINVAL;
    }
    uint32_t pbs = o->physical_block_size;
    if (pbs && (pbs < *bs || pbs % *bs || ((pbs / *bs) & (pbs / *bs - 1)) || pbs / *bs > 32768)) {
        snprintf(err, errlen, "device '%s': physical block size %u is not a power-of-two multiple of %u",
                 o->name, pbs, *bs);
        return -EINVAL;
    }
    if (b->size < *bs) {
        snprintf(err, errlen, "device '%s': %s is empty", o->name, b->name);
        return -EINVAL;
    }
    return 0;
}

static void link_device(struct scst_core *core, struct scst_device *dev)
{
    struct scst_device **pp = &core->devices;
    while (*pp && strcmp((*pp)->name, dev->name) < 0)
        pp = &(*pp)->next;
    dev->next = *pp;
    *pp = dev;
}

static void init_mode(struct scst_device *dev, const struct scst_device_opts *o, const struct umc_bdev *b)
{
    dev->mode.wce = !o->write_through;
    dev->mode.dexcpt = true;
    dev->mode_saved = dev->mode;
}

int scst_device_add(struct scst_core *core, const struct scst_device_opts *o, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = '\0';
    if (!o || !valid_device_name(o->name)) {
        snprintf(err, errlen, "invalid device name '%s'", o && o->name ? o->name : "");
        return -EINVAL;
    }
    if (scst_device_lookup(core, o->name)) {
        snprintf(err, errlen, "device '%s' already exists", o->name);
        return -EEXIST;
    }
    struct umc_bdev *b = o->bdev ? umc_bdev_find(core->node, o->bdev) : NULL;
    if (!b) {
        snprintf(err, errlen, "no such block device '%s'", o->bdev ? o->bdev : "");
        return -ENODEV;
    }
    uint32_t bs;
    int rc = check_geometry(o, b, &bs, err, errlen);
    if (rc)
        return rc;
    struct umc_node *n = core->node;
    struct scst_device *dev = umc_alloc(n, sizeof(*dev));
    dev->core = core;
    dev->name = umc_strdup(n, o->name);
    dev->bdev_name = umc_strdup(n, b->name);
    dev->block_size = bs;
    dev->block_shift = log2_of(bs);
    /* An alignment hint to initiators; the optimal UNMAP granularity follows it */
    dev->lbppbe = o->physical_block_size ? log2_of(o->physical_block_size / bs) : 0;
    dev->nblocks = b->size / bs;
    dev->read_only = o->read_only || (b->flags & UMC_BDEV_READ_ONLY);
    dev->removable = o->removable;
    dev->thin = o->thin;
    dev->medium_loaded = true;
    set_identity(dev, o);
    init_mode(dev, o, b);
    link_device(core, dev);
    scst_device_mode_load(dev);
    scst_pr_load(dev);
    umc_info(n, SCST_COMPONENT, "device %s on %s: %llu blocks of %u%s%s%s", dev->name, b->name,
             (unsigned long long)dev->nblocks, bs, dev->read_only ? ", read-only" : "",
             dev->removable ? ", removable" : "", dev->thin ? ", thin" : "");
    return 0;
}

static void remove_owned_tcmu(struct scst_core *core, struct scst_device *dev)
{
    struct tcmu_host *h = tcmu_host_of(core->node);
    struct tcmu_device *t = h ? tcmu_dev_find(h, dev->owned_tcmu) : NULL;
    if (t && tcmu_dev_remove(t))
        umc_warn(core->node, SCST_COMPONENT, "device %s: cannot remove %s", dev->name, dev->owned_tcmu);
    umc_free(core->node, dev->owned_tcmu);
    dev->owned_tcmu = NULL;
}

static void device_destroy(struct scst_core *core, struct scst_device *dev)
{
    struct umc_node *n = core->node;
    scst_sanitize_free(dev);
    scst_pr_free(core, &dev->pr);
    scst_extents_free(core, &dev->unmapped);
    if (dev->bdev && dev->open_refs)
        umc_bdev_close(dev->bdev, dev->open_mode);
    if (dev->owned_tcmu)
        remove_owned_tcmu(core, dev);
    umc_info(n, SCST_COMPONENT, "device %s removed", dev->name);
    umc_free(n, dev->bdev_name);
    umc_free(n, dev->name);
    umc_free(n, dev);
}

static struct scst_device **device_slot(struct scst_core *core, const char *name)
{
    struct scst_device **pp = &core->devices;
    while (*pp && strcmp((*pp)->name, name) != 0)
        pp = &(*pp)->next;
    return pp;
}

int scst_device_remove(struct scst_core *core, const char *name)
{
    struct scst_device **pp = device_slot(core, name);
    struct scst_device *dev = *pp;
    if (!dev)
        return -ENOENT;
    if (dev->lun_refs || dev->open_refs || dev->nexus_head || dev->sanitize)
        return -EBUSY;
    *pp = dev->next;
    device_destroy(core, dev);
    return 0;
}

/* Teardown: whatever still refers to the devices is going away with them. */
void scst_devices_free(struct scst_core *core)
{
    while (core->devices) {
        struct scst_device *dev = core->devices;
        core->devices = dev->next;
        device_destroy(core, dev);
    }
}

void scst_device_stats(const struct scst_device *dev, struct scst_lun_stats *st)
{
    *st = dev->stats;
    st->in_flight = dev->nactive + dev->npending;
}

/* ---- open and close ----------------------------------------------------------------------- */

static int open_bdev(struct scst_device *dev, struct umc_bdev *b)
{
    unsigned mode = dev->read_only ? 0 : UMC_OPEN_WRITE;
    int rc = umc_bdev_open(b, mode);
    if (rc && mode) {
        int rc_ro = umc_bdev_open(b, 0);
        if (rc_ro == 0) {
            umc_warn(dev->core->node, SCST_COMPONENT,
                     "device %s: %s refused a writer (%d); serving it read-only", dev->name,
                     b->name, rc);
            dev->ro_fallback = true;
            mode = 0;
            rc = 0;
        }
    }
    if (rc)
        return rc;
    dev->bdev = b;
    dev->open_mode = mode;
    return 0;
}

int scst_device_open(struct scst_device *dev)
{
    if (dev->open_refs++ > 0)
        return 0;
    struct umc_bdev *b = umc_bdev_find(dev->core->node, dev->bdev_name);
    int rc = b ? open_bdev(dev, b) : -ENODEV;
    if (rc) {
        dev->open_refs--;
        umc_warn(dev->core->node, SCST_COMPONENT, "device %s: cannot open %s: %d", dev->name,
                 dev->bdev_name, rc);
        return rc;
    }
    scst_device_refresh_capacity(dev);
    return 0;
}

void scst_device_close(struct scst_device *dev)
{
    if (!dev->open_refs || --dev->open_refs)
        return;
    if (dev->bdev)
        umc_bdev_close(dev->bdev, dev->open_mode);
    dev->bdev = NULL;
    dev->ro_fallback = false;
}

/* A Secondary that became Primary: take the write open now. */
static void try_write_upgrade(const struct scst_device *cdev)
{
    struct scst_device *dev = (struct scst_device *)cdev;
    if (!dev->bdev || umc_bdev_open(dev->bdev, UMC_OPEN_WRITE) != 0)
        return;
    umc_bdev_close(dev->bdev, 0);
    dev->open_mode = UMC_OPEN_WRITE;
    dev->ro_fallback = false;
    umc_info(dev->core->node, SCST_COMPONENT, "device %s: writable again", dev->name);
}

bool scst_device_write_protected(const struct scst_device *dev, const struct scst_nexus *nx)
{
    if (dev->ro_fallback)
        try_write_upgrade(dev);
    return dev->read_only || dev->ro_fallback || dev->mode.swp || (nx && nx->read_only);
}

void scst_device_refresh_capacity(struct scst_device *dev)
{
    if (!dev->bdev)
        return;
    uint64_t n = dev->bdev->size >> dev->block_shift;
    if (n == dev->nblocks)
        return;
    umc_info(dev->core->node, SCST_COMPONENT, "device %s: capacity %llu -> %llu blocks", dev->name,
             (unsigned long long)dev->nblocks, (unsigned long long)n);
    dev->nblocks = n;
    scst_ua_dev(dev, ASC_CAPACITY_CHANGED, NULL);
}
