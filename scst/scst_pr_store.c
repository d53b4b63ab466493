/* Persist-through-power-loss: with APTPL set, the persistent reservation
 * state of a device is written to <state dir>/pr_<device> after every change
 * and read back when the device is added (after a restart). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "scst/scst_internal.h"

#define PR_FILE_MAGIC "scst-pr 1"

static char *pr_text(const struct scst_device *dev)
{
    struct umc_node *n = dev->core->node;
    const struct scst_pr_state *pr = &dev->pr;
    char *text = umc_asprintf(n, "%s\naptpl %d\ngeneration %" PRIu32 "\n", PR_FILE_MAGIC,
                              pr->aptpl ? 1 : 0, pr->generation);
    if (!pr->aptpl)
        return text;
    int holder = -1, i = 0;
    for (const struct scst_pr_reg *r = pr->regs; r; r = r->next, i++) {
        char *more = umc_asprintf(n, "%sreg %016" PRIx64 " %u %d %s\n", text, r->key, r->tpid,
                                  r->all_tg_pt ? 1 : 0, r->initiator_port);
        umc_free(n, text);
        text = more;
        if (r == pr->holder)
            holder = i;
    }
    if (pr->reserved) {
        char *more = umc_asprintf(n, "%sreservation %u %u %d\n", text, pr->type, pr->scope, holder);
        umc_free(n, text);
        text = more;
    }
    return text;
}

void scst_pr_save(struct scst_device *dev)
{
    if (!dev->pr.aptpl && !dev->pr.on_disk)
        return;
    struct umc_node *n = dev->core->node;
    char *path = scst_state_path(dev->core, "pr", dev->name);
    char *text = pr_text(dev);
    int rc = umc_write_file(n, path, text, strlen(text));
    if (rc)
        umc_warn(n, SCST_COMPONENT, "device %s: cannot save reservations to %s: %d", dev->name, path, rc);
    else
        dev->pr.on_disk = dev->pr.aptpl;
    umc_free(n, text);
    umc_free(n, path);
}

static struct scst_pr_reg *load_reg(struct scst_device *dev, const char *line)
{
    unsigned long long key;
    unsigned tpid;
    int all, used = 0;
    if (sscanf(line, "reg %llx %u %d %n", &key, &tpid, &all, &used) < 3 || !used || tpid > 0xffff)
        return NULL;
    const char *port = line + used;
    if (!port[0] || strchr(port, ' '))
        return NULL;
    struct umc_node *n = dev->core->node;
    struct scst_pr_reg *r = umc_alloc(n, sizeof(*r));
    r->initiator_port = umc_strdup(n, port);
    r->tpid = (uint16_t)tpid;
    r->all_tg_pt = all != 0;
    r->key = key;
    return r;
}

static void append_reg(struct scst_pr_state *pr, struct scst_pr_reg *r)
{
    struct scst_pr_reg **pp = &pr->regs;
    while (*pp)
        pp = &(*pp)->next;
    *pp = r;
    pr->nregs++;
}

static struct scst_pr_reg *reg_at(struct scst_pr_state *pr, int index)
{
    struct scst_pr_reg *r = pr->regs;
    while (r && index-- > 0)
        r = r->next;
    return r;
}

/* One line of the file; false on a malformed line (the whole file is dropped). */
static bool load_line(struct scst_device *dev, const char *line, int *aptpl)
{
    struct scst_pr_state *pr = &dev->pr;
    unsigned a, b;
    int h;
    if (strcmp(line, PR_FILE_MAGIC) == 0 || !line[0])
        return true;
    if (sscanf(line, "aptpl %d", aptpl) == 1)
        return true;
    if (sscanf(line, "generation %u", &a) == 1) {
        pr->generation = a;
        return true;
    }
    if (strncmp(line, "reg ", 4) == 0) {
        struct scst_pr_reg *r = load_reg(dev, line);
        if (r)
            append_reg(pr, r);
        return r != NULL;
    }
    if (sscanf(line, "reservation %u %u %d", &a, &b, &h) == 3 && a <= 8 && b <= 15) {
        pr->reserved = true;
        pr->type = (uint8_t)a;
        pr->scope = (uint8_t)b;
        pr->holder = h >= 0 ? reg_at(pr, h) : NULL;
        return h < 0 || pr->holder != NULL;
    }
    return false;
}

void scst_pr_load(struct scst_device *dev)
{
    struct umc_node *n = dev->core->node;
    char *path = scst_state_path(dev->core, "pr", dev->name);
    int err = 0, aptpl = 0;
    char *text = umc_read_file(n, path, NULL, &err);
    bool ok = text != NULL;
    for (char *line = text; ok && line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        ok = load_line(dev, line, &aptpl);
        line = next;
    }
    if (text && (!ok || !aptpl)) {
        if (!ok)
            umc_warn(n, SCST_COMPONENT, "device %s: ignoring malformed %s", dev->name, path);
        uint32_t gen = dev->pr.generation;
        scst_pr_free(dev->core, &dev->pr);
        dev->pr.generation = ok ? gen : 0;
    } else if (text) {
        dev->pr.aptpl = true;
        dev->pr.on_disk = true;
        umc_info(n, SCST_COMPONENT, "device %s: %u registrations restored from %s", dev->name,
                 dev->pr.nregs, path);
    }
    umc_free(n, text);
    umc_free(n, path);
}
