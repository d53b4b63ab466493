/* The legacy (/proc era) scst.conf of the seed:
 *
 *   [OPTIONS]            KEEP_CONFIG TRUE / ISSUE_LIP FALSE
 *   [HANDLER vdisk]      DEVICE <name>,<path>[,<options>[,<block size>[,<t10 id>]]]
 *   [GROUP <name>]       USER <initiator name>
 *   [ASSIGNMENT <group>] DEVICE <name>,<lun>
 *   [TARGETS enable]     HOST <target name>
 *
 * Groups name no target: they apply to every target (and to targets added
 * later); the group "Default" is a target's default LUN map. */
#include <errno.h>
#include <stdio.h>

#include "scst/scst_conf_internal.h"

#define LINE_MAX_LEN 1024

enum section { SEC_NONE, SEC_OPTIONS, SEC_HANDLER, SEC_GROUP, SEC_ASSIGNMENT, SEC_TARGETS };

struct legacy {
    struct conf_plan *pl;
    enum section sec;
    char arg[LINE_MAX_LEN];       /* the section's argument: handler, group, enable */
    int line;
};

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* Split at the first run of blanks: key and the rest. */
static char *split_key(char *s)
{
    char *sp = s;
    while (*sp && *sp != ' ' && *sp != '\t')
        sp++;
    if (!*sp)
        return NULL;
    *sp++ = '\0';
    return trim(sp);
}

static int section_header(struct legacy *lg, char *s)
{
    size_t n = strlen(s);
    if (s[n - 1] != ']')
        return conf_error(lg->pl, lg->line, "missing ']' in section header");
    s[n - 1] = '\0';
    char *name = trim(s + 1);
    char *arg = split_key(name);
    snprintf(lg->arg, sizeof(lg->arg), "%s", arg ? arg : "");
    if (strcmp(name, "OPTIONS") == 0)
        lg->sec = SEC_OPTIONS;
    else if (strcmp(name, "HANDLER") == 0)
        lg->sec = SEC_HANDLER;
    else if (strcmp(name, "GROUP") == 0)
        lg->sec = SEC_GROUP;
    else if (strcmp(name, "ASSIGNMENT") == 0)
        lg->sec = SEC_ASSIGNMENT;
    else if (strcmp(name, "TARGETS") == 0)
        lg->sec = SEC_TARGETS;
    else
        return conf_error(lg->pl, lg->line, "unknown section '[%s]'", name);
    if (lg->sec != SEC_OPTIONS && !lg->arg[0])
        return conf_error(lg->pl, lg->line, "section [%s] needs a name", name);
    if (lg->sec == SEC_HANDLER && strcmp(lg->arg, "vdisk") != 0 && strncmp(lg->arg, "vdisk_", 6) != 0)
        return conf_error(lg->pl, lg->line, "unsupported handler '%s'", lg->arg);
    if (lg->sec == SEC_TARGETS && strcmp(lg->arg, "enable") != 0 && strcmp(lg->arg, "disable") != 0)
        return conf_error(lg->pl, lg->line, "[TARGETS %s]: expected enable or disable", lg->arg);
    if (lg->sec == SEC_GROUP) {
        struct conf_item *it = conf_add_item(lg->pl, lg->line, 'G');
        it->group = conf_strdup(lg->pl, lg->arg);
    }
    return 0;
}

/* Fields of a comma-separated list, trimmed; returns how many. */
static int split_fields(char *s, char **f, int max)
{
    int n = 0;
    while (n < max) {
        char *comma = strchr(s, ',');
        if (comma)
            *comma = '\0';
        f[n++] = trim(s);
        if (!comma)
            break;
        s = comma + 1;
    }
    return strchr(f[n - 1], ',') ? max + 1 : n;
}

static int device_options(struct legacy *lg, struct conf_device *d, char *opts)
{
    for (char *o = opts; o && *o;) {
        char *sep = o + strcspn(o, "| ");
        char saved = *sep;
        *sep = '\0';
        if (strcmp(o, "READ_ONLY") == 0)
            d->read_only = true;
        else if (strcmp(o, "REMOVABLE") == 0)
            d->removable = true;
        else if (strcmp(o, "NV_CACHE") == 0)
            d->nv_cache = true;
        else if (strcmp(o, "WRITE_THROUGH") == 0)
            d->write_through = true;
        else if (strcmp(o, "THIN_PROVISIONED") == 0)
            d->thin = true;
        else if (strcmp(o, "NULLIO") == 0) {
            umc_free(lg->pl->node, d->handler);
            d->handler = conf_strdup(lg->pl, "vdisk_nullio");
        } else if (strcmp(o, "BLOCKIO") != 0 && strcmp(o, "FILEIO") != 0 && strcmp(o, "O_DIRECT") != 0 &&
                   o[0])
            return conf_error(lg->pl, lg->line, "unknown device option '%s'", o);
        o = saved ? sep + 1 : sep;
    }
    return 0;
}

static int handler_line(struct legacy *lg, char *key, char *rest)
{
    if (strcmp(key, "DEVICE") != 0 || !rest)
        return conf_error(lg->pl, lg->line, "expected 'DEVICE <name>,<path>,...'");
    char *f[5];
    int n = split_fields(rest, f, 5);
    if (n > 5)
        return conf_error(lg->pl, lg->line, "too many fields in DEVICE line");
    if (!f[0][0])
        return conf_error(lg->pl, lg->line, "missing device name");
    struct conf_device *d = conf_add_device(lg->pl, lg->line, f[0], "vdisk_blockio");
    if (n > 1 && f[1][0])
        d->filename = conf_strdup(lg->pl, f[1]);
    if (n > 2 && device_options(lg, d, f[2]))
        return -EINVAL;
    if (n > 3 && f[3][0] && conf_device_attr(lg->pl, d, lg->line, "blocksize", f[3]))
        return -EINVAL;
    if (n > 4 && f[4][0])
        d->t10_dev_id = conf_strdup(lg->pl, f[4]);
    return 0;
}

static const char *group_of(const struct legacy *lg)
{
    return strcmp(lg->arg, "Default") == 0 ? NULL : lg->arg;
}

static int assignment_line(struct legacy *lg, char *key, char *rest)
{
    if (strcmp(key, "DEVICE") != 0 || !rest)
        return conf_error(lg->pl, lg->line, "expected 'DEVICE <name>,<lun>'");
    char *f[2];
    if (split_fields(rest, f, 2) != 2 || !f[0][0])
        return conf_error(lg->pl, lg->line, "expected 'DEVICE <name>,<lun>'");
    uint64_t lun;
    if (conf_number(lg->pl, lg->line, "LUN", f[1], 16383, &lun))
        return -EINVAL;
    struct conf_item *it = conf_add_item(lg->pl, lg->line, 'L');
    it->group = conf_strdup(lg->pl, group_of(lg));
    it->name = conf_strdup(lg->pl, f[0]);
    it->lun = lun;
    return 0;
}

static int body_line(struct legacy *lg, char *s)
{
    char *rest = split_key(s);
    switch (lg->sec) {
    case SEC_NONE:
        return conf_error(lg->pl, lg->line, "'%s' outside of a section", s);
    case SEC_OPTIONS:
        if (strcmp(s, "KEEP_CONFIG") != 0 && strcmp(s, "ISSUE_LIP") != 0)
            return conf_error(lg->pl, lg->line, "unknown option '%s'", s);
        return 0;
    case SEC_HANDLER:
        return handler_line(lg, s, rest);
    case SEC_GROUP:
        if (strcmp(s, "USER") != 0 || !rest)
            return conf_error(lg->pl, lg->line, "expected 'USER <initiator name>'");
        if (!group_of(lg))
            return conf_error(lg->pl, lg->line, "the Default group takes no USER");
        struct conf_item *it = conf_add_item(lg->pl, lg->line, 'I');
        it->group = conf_strdup(lg->pl, lg->arg);
        it->name = conf_strdup(lg->pl, rest);
        return 0;
    case SEC_ASSIGNMENT:
        return assignment_line(lg, s, rest);
    case SEC_TARGETS:
        if (strcmp(s, "HOST") != 0 || !rest)
            return conf_error(lg->pl, lg->line, "expected 'HOST <target name>'");
        struct conf_item *e = conf_add_item(lg->pl, lg->line, 'E');
        e->target = conf_strdup(lg->pl, rest);
        e->flag = strcmp(lg->arg, "enable") == 0;
        return 0;
    }
    return 0;
}

int conf_read_legacy(struct conf_plan *pl, const char *text)
{
    struct legacy lg = {.pl = pl};
    pl->legacy = true;
    char buf[LINE_MAX_LEN];
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        lg.line++;
        if (n >= sizeof(buf))
            return conf_error(pl, lg.line, "line too long");
        memcpy(buf, p, n);
        buf[n] = '\0';
        p += n + (nl ? 1 : 0);
        char *s = trim(buf);
        if (!*s || *s == '#')
            continue;
        int rc = *s == '[' ? section_header(&lg, s) : body_line(&lg, s);
        if (rc)
            return rc;
    }
    return 0;
}
