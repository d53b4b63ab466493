/* Private to the scst.conf parser: the plan both formats are read into.
 * Reading never touches the core; the plan is validated against the core,
 * then applied with a journal so a failure undoes what was done. */
#ifndef SCST_CONF_INTERNAL_H
#define SCST_CONF_INTERNAL_H

#include "scst/scst_internal.h"

struct conf_device {
    int line;
    char *name, *handler, *filename, *t10_dev_id, *usn;
    uint64_t size;
    uint32_t block_size, physical_block_size;
    bool read_only, removable, thin, nv_cache, write_through;
};

struct conf_target {
    int line;
    char *driver, *name;
    int enabled;                  /* -1: not said */
    int rel_tgt_id;               /* -1: not said */
};

/* kind: 'G' group, 'I' initiator in a group, 'A' ACL entry, 'L' LUN,
 *       'D' driver attribute, 'T' target attribute, 'E' legacy enable/disable */
struct conf_item {
    int line;
    char kind;
    char *driver, *target, *group, *name, *value;
    uint64_t lun;
    bool flag;
};

struct conf_plan {
    const char *file;
    char *err;
    size_t errlen;
    bool failed;
    bool legacy;                  /* groups/LUNs go to every target (and the template) */
    struct conf_device *dev;
    size_t ndev, capdev;
    struct conf_target *tgt;
    size_t ntgt, captgt;
    struct conf_item *item;
    size_t nitem, capitem;
    struct umc_node *node;
};

int conf_error(struct conf_plan *pl, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
char *conf_strdup(struct conf_plan *pl, const char *s);
struct conf_device *conf_add_device(struct conf_plan *pl, int line, const char *name, const char *handler);
struct conf_target *conf_add_target(struct conf_plan *pl, int line, const char *driver, const char *name);
struct conf_item *conf_add_item(struct conf_plan *pl, int line, char kind);
int conf_number(struct conf_plan *pl, int line, const char *what, const char *s, uint64_t max,
                uint64_t *out);
int conf_bool(struct conf_plan *pl, int line, const char *what, const char *s, bool *out);
int conf_device_attr(struct conf_plan *pl, struct conf_device *d, int line, const char *key,
                     const char *value);

/* The two formats (scst_conf_nested.c, scst_conf_legacy.c). */
int conf_read_nested(struct conf_plan *pl, const char *text);
int conf_read_legacy(struct conf_plan *pl, const char *text);

/* Validate and apply (scst_conf_apply.c). */
int conf_apply(struct scst_core *core, struct conf_plan *pl, const struct scst_conf_hooks *hooks);

#endif
