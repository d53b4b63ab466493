/* The tcmu host of a node: its handler table and its devices, each exposed as
 * a bdev named tcmuNNN (or as configured). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tcmu_ram/tcmu_ram_internal.h"

#define TCMU_AUTO_NAME_MAX 1000 /* tcmu000 .. tcmu999 */

/* ---- host and handlers -------------------------------------------------------- */

struct tcmu_host *tcmu_host_new(struct umc_node *n)
{
    struct tcmu_host *h = umc_alloc(n, sizeof(*h));
    h->node = n;
    tcmu_register_handler(h, tcmu_ram_handler());
    tcmu_register_handler(h, tcmu_simdisk_handler());
    umc_node_set_slot(n, UMC_SLOT_TCMU, h);
    return h;
}

struct tcmu_host *tcmu_host_of(struct umc_node *n) { return umc_node_slot(n, UMC_SLOT_TCMU); }

static const struct tcmur_handler *handler_by_subtype(const struct tcmu_host *h, const char *subtype,
                                                      size_t len)
{
    for (size_t i = 0; i < h->nr_handlers; i++) {
        const char *s = h->handlers[i]->subtype;
        if (strlen(s) == len && memcmp(s, subtype, len) == 0)
            return h->handlers[i];
    }
    return NULL;
}

int tcmu_register_handler(struct tcmu_host *h, const struct tcmur_handler *handler)
{
    if (!handler || !handler->subtype || !handler->subtype[0] || strchr(handler->subtype, '/') ||
        !handler->open || !handler->read || !handler->write)
        return -EINVAL;
    if (handler_by_subtype(h, handler->subtype, strlen(handler->subtype)))
        return -EEXIST;
    h->handlers = umc_realloc(h->node, h->handlers, (h->nr_handlers + 1) * sizeof(*h->handlers));
    h->handlers[h->nr_handlers++] = handler;
    return 0;
}

/* ---- device lifetime ----------------------------------------------------------- */

static int check_config(const struct tcmu_dev_config *cfg)
{
    if (!cfg->cfgstring || !strchr(cfg->cfgstring, '/'))
        return -EINVAL;
    uint32_t bs = cfg->block_size ? cfg->block_size : 4096;
    if (bs != 512 && bs != 4096)
        return -EINVAL;
    if (cfg->size % bs)
        return -EINVAL;
    if (cfg->name && (!cfg->name[0] || strlen(cfg->name) >= UMC_NAME_MAX || strchr(cfg->name, '/')))
        return -EINVAL;
    return 0;
}

/* The lowest tcmuNNN not yet in the node's registry. */
static int pick_name(struct tcmu_host *h, const struct tcmu_dev_config *cfg, char *name)
{
    if (cfg->name) {
        snprintf(name, UMC_NAME_MAX, "%s", cfg->name);
        return umc_bdev_find(h->node, name) ? -EEXIST : 0;
    }
    for (unsigned i = 0; i < TCMU_AUTO_NAME_MAX; i++) {
        snprintf(name, UMC_NAME_MAX, "tcmu%03u", i);
        if (!umc_bdev_find(h->node, name))
            return 0;
    }
    return -ENOSPC;
}

static struct tcmu_device *device_new(struct tcmu_host *h, const struct tcmur_handler *handler,
                                      const struct tcmu_dev_config *cfg, const char *rest)
{
    struct tcmu_device *dev = umc_alloc(h->node, sizeof(*dev));
    dev->host = h;
    dev->handler = handler;
    dev->cfgstring = umc_strdup(h->node, rest);
    dev->size = cfg->size;
    dev->block_size = cfg->block_size ? cfg->block_size : 4096;
    dev->handler_arg = cfg->handler_arg;
    dev->bdev.ops = tcmu_glue_ops();
    dev->bdev.priv = dev;
    return dev;
}

static void device_destroy(struct tcmu_device *dev)
{
    struct umc_node *n = dev->host->node;
    if (dev->opened && dev->handler->close)
        dev->handler->close(dev);
    tcmu_glue_fail_inflight(dev);
    umc_free(n, dev->cfgstring);
    umc_free(n, dev);
}

static uint32_t bdev_flags(const struct tcmu_device *dev, const struct tcmu_dev_config *cfg)
{
    uint32_t flags = 0;
    if (dev->handler->unmap)
        flags |= UMC_BDEV_DISCARD | UMC_BDEV_WRITE_ZEROES; /* unmapped ranges read as zeros */
    if (cfg->read_only)
        flags |= UMC_BDEV_READ_ONLY;
    if (dev->write_cache)
        flags |= UMC_BDEV_VOLATILE_CACHE;
    return flags;
}

/* The handler may fix the size at open (simdisk: the media's, when 0 was asked). */
static int open_device(struct tcmu_device *dev)
{
    int rc = dev->handler->open(dev, false);
    if (rc)
        return rc;
    dev->opened = true;
    if (!dev->size || dev->size % dev->block_size)
        return -EINVAL;
    return 0;
}

static void link_device(struct tcmu_host *h, struct tcmu_device *dev)
{
    struct tcmu_device **pp = &h->devices;
    while (*pp)
        pp = &(*pp)->next;
    *pp = dev;
}

struct tcmu_device *tcmu_dev_add(struct tcmu_host *h, const struct tcmu_dev_config *cfg, int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    *err = check_config(cfg);
    if (*err)
        return NULL;
    const char *slash = strchr(cfg->cfgstring, '/');
    const struct tcmur_handler *handler =
        handler_by_subtype(h, cfg->cfgstring, (size_t)(slash - cfg->cfgstring));
    if (!handler) {
        *err = -ENOENT;
        return NULL;
    }
    char name[UMC_NAME_MAX];
    *err = pick_name(h, cfg, name);
    if (*err)
        return NULL;
    struct tcmu_device *dev = device_new(h, handler, cfg, slash + 1);
    *err = open_device(dev);
    if (!*err) {
        memcpy(dev->bdev.name, name, sizeof(dev->bdev.name));
        dev->bdev.size = dev->size;
        dev->bdev.block_size = dev->block_size;
        dev->bdev.flags = bdev_flags(dev, cfg);
        *err = umc_bdev_register(h->node, &dev->bdev);
    }
    if (*err) {
        umc_warn(h->node, TCMU_COMPONENT, "add %s (%s) failed: %d", name, cfg->cfgstring, *err);
        device_destroy(dev);
        return NULL;
    }
    link_device(h, dev);
    umc_info(h->node, TCMU_COMPONENT, "%s: %s, %llu bytes, block %u", name, cfg->cfgstring,
             (unsigned long long)dev->size, dev->block_size);
    return dev;
}

static void unlink_device(struct tcmu_device *dev)
{
    for (struct tcmu_device **pp = &dev->host->devices; *pp; pp = &(*pp)->next) {
        if (*pp == dev) {
            *pp = dev->next;
            return;
        }
    }
}

int tcmu_dev_remove(struct tcmu_device *dev)
{
    if (dev->bdev.openers || tcmu_glue_busy(dev))
        return -EBUSY;
    int rc = umc_bdev_unregister(dev->host->node, &dev->bdev);
    if (rc)
        return rc;
    umc_info(dev->host->node, TCMU_COMPONENT, "%s: removed", dev->bdev.name);
    unlink_device(dev);
    device_destroy(dev);
    return 0;
}

/* Teardown wins over users that forgot to close: drop their opens. */
static void force_remove(struct tcmu_device *dev)
{
    struct umc_bdev *b = &dev->bdev;
    if (b->openers || tcmu_glue_busy(dev))
        umc_warn(dev->host->node, TCMU_COMPONENT, "%s: removed while open or busy", b->name);
    b->openers = b->writers = 0;
    b->exclusive = false;
    umc_bdev_unregister(dev->host->node, b);
    unlink_device(dev);
    device_destroy(dev);
}

void tcmu_host_free(struct tcmu_host *h)
{
    if (!h)
        return;
    struct umc_node *n = h->node;
    while (h->devices)
        force_remove(h->devices);
    if (umc_node_slot(n, UMC_SLOT_TCMU) == h)
        umc_node_set_slot(n, UMC_SLOT_TCMU, NULL);
    umc_free(n, h->handlers);
    umc_free(n, h);
}

struct tcmu_device *tcmu_dev_find(struct tcmu_host *h, const char *name)
{
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    for (struct tcmu_device *dev = h->devices; dev; dev = dev->next)
        if (strcmp(dev->bdev.name, base) == 0)
            return dev;
    return NULL;
}

/* ---- accessors ----------------------------------------------------------------- */

void *tcmu_dev_get_private(struct tcmu_device *dev) { return dev->priv; }
void tcmu_dev_set_private(struct tcmu_device *dev, void *priv) { dev->priv = priv; }
uint64_t tcmu_dev_get_num_lbas(const struct tcmu_device *dev) { return dev->size / dev->block_size; }
uint32_t tcmu_dev_get_block_size(const struct tcmu_device *dev) { return dev->block_size; }
uint64_t tcmu_dev_get_size(const struct tcmu_device *dev) { return dev->size; }
const char *tcmu_dev_get_cfgstring(const struct tcmu_device *dev) { return dev->cfgstring; }
void *tcmu_dev_get_handler_arg(const struct tcmu_device *dev) { return dev->handler_arg; }
struct umc_node *tcmu_dev_get_node(const struct tcmu_device *dev) { return dev->host->node; }
struct umc_bdev *tcmu_dev_bdev(struct tcmu_device *dev) { return &dev->bdev; }
const char *tcmu_dev_name(const struct tcmu_device *dev) { return dev->bdev.name; }

void tcmu_dev_set_write_cache_enabled(struct tcmu_device *dev, bool enabled)
{
    dev->write_cache = enabled;
}

bool tcmu_dev_get_write_cache_enabled(const struct tcmu_device *dev) { return dev->write_cache; }
