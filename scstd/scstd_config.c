/* scstd's configuration: backstores, the default LUN, scst.conf (through
 * scst_config_apply with the iSCSI server's hooks), iscsi-scstd.conf and
 * .res files.
 *
 * Every problem is reported as "FILE:LINE: problem" (or "FILE: problem"
 * when no line is to blame) in err; the caller prints it and exits 2. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "scstd/scstd.h"

/* ---- reading files ---------------------------------------------------------------- */

static char *read_text(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 1 >= cap) {
            if (cap >= (16u << 20)) {
                snprintf(err, errlen, "%s: larger than 16 MiB", path);
                free(buf);
                fclose(f);
                return NULL;
            }
            cap *= 2;
            buf = realloc(buf, cap);
        }
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "%s: read error", path);
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    if (strlen(buf) != len) {
        snprintf(err, errlen, "%s: contains a NUL byte (not a text file)", path);
        free(buf);
        return NULL;
    }
    return buf;
}

/* ---- backstores ------------------------------------------------------------------- */

struct scstd_backstore *scstd_backstore_find(struct scstd *d, const char *name)
{
    for (struct scstd_backstore *b = d->backstores; b; b = b->next)
        if (strcmp(b->name, name) == 0)
            return b;
    return NULL;
}

struct tcmu_device *scstd_backstore_add(struct scstd *d, const char *name, uint64_t size,
                                        uint32_t block_size, const char *file, char *err,
                                        size_t errlen)
{
    if (!block_size)
        block_size = 512;
    if (block_size != 512 && block_size != 4096) {
        snprintf(err, errlen, "block size %u: 512 or 4096", block_size);
        return NULL;
    }
    if (!size || size % block_size) {
        snprintf(err, errlen, "size %llu: not a positive multiple of %u",
                 (unsigned long long)size, block_size);
        return NULL;
    }
    if (name && umc_bdev_find(d->node, name)) {
        snprintf(err, errlen, "block device '%s' exists", name);
        return NULL;
    }
    char cfg[4200];
    if (snprintf(cfg, sizeof(cfg), "ram/%s", file ? file : "") >= (int)sizeof(cfg)) {
        snprintf(err, errlen, "file name too long");
        return NULL;
    }
    struct tcmu_dev_config c = {.cfgstring = cfg, .size = size, .block_size = block_size,
                                .name = name};
    int rc = 0;
    struct tcmu_device *dev = tcmu_dev_add(d->tcmu, &c, &rc);
    if (!dev) {
        snprintf(err, errlen, "cannot add ram backstore%s%s: %s", file ? " on " : "",
                 file ? file : "", strerror(-rc));
        return NULL;
    }
    struct scstd_backstore *b = calloc(1, sizeof(*b));
    snprintf(b->name, sizeof(b->name), "%s", tcmu_dev_name(dev));
    b->dev = dev;
    struct scstd_backstore **pp = &d->backstores;
    while (*pp)
        pp = &(*pp)->next;
    *pp = b;
    return dev;
}

int scstd_backstore_remove(struct scstd *d, const char *name, char *err, size_t errlen)
{
    for (struct scstd_backstore **pp = &d->backstores; *pp; pp = &(*pp)->next) {
        struct scstd_backstore *b = *pp;
        if (strcmp(b->name, name) != 0)
            continue;
        int rc = tcmu_dev_remove(b->dev);
        if (rc) {
            snprintf(err, errlen, "backstore %s: %s", name,
                     rc == -EBUSY ? "in use" : strerror(-rc));
            return rc;
        }
        *pp = b->next;
        free(b);
        return 0;
    }
    snprintf(err, errlen, "no backstore '%s' made by scstd", name);
    return -ENOENT;
}

void scstd_backstores_free(struct scstd *d)
{
    while (d->backstores) {
        struct scstd_backstore *b = d->backstores;
        d->backstores = b->next;
        free(b);
    }
}

/* NAME:SIZE[:FILE]: NAME empty = the next tcmuNNN; SIZE empty or 0 with a
 * FILE = the file's size. */
int scstd_add_backstore_spec(struct scstd *d, const char *spec, char *err, size_t errlen)
{
    char buf[4200];
    if (snprintf(buf, sizeof(buf), "%s", spec) >= (int)sizeof(buf)) {
        snprintf(err, errlen, "--backstore %.40s...: too long", spec);
        return SCSTD_EXIT_USAGE;
    }
    char *name = buf, *size_s = strchr(buf, ':'), *file = NULL;
    if (!size_s) {
        snprintf(err, errlen, "--backstore %s: wants NAME:SIZE[:FILE]", spec);
        return SCSTD_EXIT_USAGE;
    }
    *size_s++ = '\0';
    file = strchr(size_s, ':');
    if (file)
        *file++ = '\0';
    uint64_t size = 0;
    if (*size_s && scstd_parse_size(size_s, &size)) {
        snprintf(err, errlen, "--backstore %s: bad size '%s'", spec, size_s);
        return SCSTD_EXIT_USAGE;
    }
    if (!size && file) {
        struct stat st;
        if (stat(file, &st) == 0 && S_ISREG(st.st_mode))
            size = (uint64_t)st.st_size;
    }
    char why[SCSTD_ERR];
    if (!scstd_backstore_add(d, *name ? name : NULL, size, 512, file && *file ? file : NULL, why,
                             sizeof(why))) {
        snprintf(err, errlen, "--backstore %s: %s", spec, why);
        return SCSTD_EXIT_USAGE;
    }
    return 0;
}

/* ---- the default LUN ------------------------------------------------------------------ */

int scstd_load_default(struct scstd *d, char *err, size_t errlen)
{
    char why[SCSTD_ERR] = "";
    struct tcmu_device *dev =
        scstd_backstore_add(d, NULL, SCSTD_DEFAULT_SIZE, 512, NULL, why, sizeof(why));
    if (!dev) {
        snprintf(err, errlen, "default LUN: %s", why);
        return SCSTD_EXIT_FAIL;
    }
    struct scst_device_opts o = {.name = SCSTD_DEFAULT_DEVICE, .bdev = tcmu_dev_name(dev),
                                 .block_size = 512, .thin = true};
    int rc = scst_device_add(d->core, &o, why, sizeof(why));
    if (!rc)
        rc = scst_target_add(d->core, SCSTD_DEFAULT_TARGET);
    if (!rc)
        rc = scst_lun_add(d->core, SCSTD_DEFAULT_TARGET, NULL, 0, SCSTD_DEFAULT_DEVICE, false);
    if (!rc)
        rc = scst_target_enable(d->core, SCSTD_DEFAULT_TARGET, true);
    if (rc) {
        snprintf(err, errlen, "default LUN: %s", why[0] ? why : strerror(-rc));
        return SCSTD_EXIT_FAIL;
    }
    struct scstd_backstore *b = scstd_backstore_find(d, tcmu_dev_name(dev));
    snprintf(b->device, sizeof(b->device), "%s", SCSTD_DEFAULT_DEVICE);
    return 0;
}

/* ---- iSCSI target parameters -------------------------------------------------------- */

int scstd_iscsi_key(struct scstd *d, const char *target, const char *key, const char *value,
                    char *err, size_t errlen)
{
    if (target)
        return iscsi_conf_target_attr(d->iscsi, "iscsi", target, key, value, err, errlen);
    return iscsi_conf_driver_attr(d->iscsi, "iscsi", key, value, err, errlen);
}

/* ---- scst.conf ------------------------------------------------------------------------- */

int scstd_load_scst_conf(struct scstd *d, const char *path, char *err, size_t errlen)
{
    char *text = read_text(path, err, errlen);
    if (!text)
        return SCSTD_EXIT_USAGE;
    int rc = 0;
    /* TARGET_DRIVER iscsi attributes, iscsi-scstd.conf keys in TARGET blocks
     * and IncomingUser/OutgoingUser all go to the iSCSI server */
    struct scst_conf_hooks hooks = {.target_attr = iscsi_conf_target_attr,
                                    .driver_attr = iscsi_conf_driver_attr, .arg = d->iscsi};
    char why[SCSTD_ERR] = "";
    if (scst_config_apply(d->core, text, path, &hooks, why, sizeof(why))) {
        if (strncmp(why, path, strlen(path)) == 0)
            snprintf(err, errlen, "%s", why);
        else
            snprintf(err, errlen, "%s: %s", path, why);
        rc = SCSTD_EXIT_USAGE;
    }
    free(text);
    return rc;
}

/* ---- iscsi-scstd.conf ------------------------------------------------------------------- */

/* Target NAME starts a section; the Key Value lines after it (indented or
 * not) belong to it; lines before the first Target set discovery CHAP and the
 * defaults of every target.  # starts a comment at the start of a line. */
static int iscsi_conf_line(struct scstd *d, char *line, const char *path, int lineno,
                           char **target, char *err, size_t errlen)
{
    char *p = line;
    while (isspace((unsigned char)*p))
        p++;
    char *end = p + strlen(p);
    while (end > p && isspace((unsigned char)end[-1]))
        *--end = '\0';
    if (!*p || *p == '#')
        return 0;
    char *key = p;
    while (*p && !isspace((unsigned char)*p))
        p++;
    if (*p)
        *p++ = '\0';
    while (isspace((unsigned char)*p))
        p++;
    char *value = p;
    char why[SCSTD_ERR] = "";
    int rc = 0;
    if (strcasecmp(key, "Target") == 0) {
        if (!*value || strchr(value, ' ') || strchr(value, '\t')) {
            snprintf(err, errlen, "%s:%d: Target wants one name", path, lineno);
            return SCSTD_EXIT_USAGE;
        }
        free(*target);
        *target = strdup(value);
        rc = scst_target_add(d->core, value);
        if (rc == -EEXIST)
            return 0;
        if (!rc)
            rc = scst_target_enable(d->core, value, true);
        if (rc)
            snprintf(why, sizeof(why), "target %s: %s", value, strerror(-rc));
    } else if (!*value) {
        snprintf(why, sizeof(why), "%s has no value", key);
        rc = -EINVAL;
    } else if (strcasecmp(key, "Lun") == 0) {
        snprintf(why, sizeof(why), "Lun lines belong in scst.conf (LUN in a TARGET block)");
        rc = -EINVAL;
    } else {
        rc = scstd_iscsi_key(d, *target, key, value, why, sizeof(why));
    }
    if (rc) {
        snprintf(err, errlen, "%s:%d: %s", path, lineno, why[0] ? why : strerror(-rc));
        return SCSTD_EXIT_USAGE;
    }
    return 0;
}

int scstd_apply_iscsi_conf(struct scstd *d, const char *text, const char *path, char *err,
                           size_t errlen)
{
    char *target = NULL;
    int lineno = 0, rc = 0;
    for (const char *p = text; *p && !rc;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        lineno++;
        if (len >= 4096) {
            snprintf(err, errlen, "%s:%d: line too long", path, lineno);
            rc = SCSTD_EXIT_USAGE;
            break;
        }
        char buf[4096];
        memcpy(buf, p, len);
        buf[len] = '\0';
        rc = iscsi_conf_line(d, buf, path, lineno, &target, err, errlen);
        p += len + (nl ? 1 : 0);
    }
    free(target);
    return rc;
}

int scstd_load_iscsi_conf(struct scstd *d, const char *path, char *err, size_t errlen)
{
    char *text = read_text(path, err, errlen);
    if (!text)
        return SCSTD_EXIT_USAGE;
    int rc = scstd_apply_iscsi_conf(d, text, path, err, errlen);
    free(text);
    return rc;
}

/* ---- .res files ------------------------------------------------------------------------- */

int scstd_load_drbd_conf(struct scstd *d, const char *path, char *err, size_t errlen)
{
    char *text = read_text(path, err, errlen);
    if (!text)
        return SCSTD_EXIT_USAGE;
    char why[SCSTD_ERR] = "";
    int rc = 0;
    if (drbd_add_config(d->drbd, text, path, why, sizeof(why))) {
        if (strncmp(why, path, strlen(path)) == 0)
            snprintf(err, errlen, "%s", why);
        else
            snprintf(err, errlen, "%s: %s", path, why);
        rc = SCSTD_EXIT_USAGE;
    }
    free(text);
    return rc;
}
