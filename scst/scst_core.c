/* The core of a node: its devices, targets and sessions, the opcode index,
 * and the caches that keep the per-command path free of allocations. */
#include <errno.h>
#include <stdio.h>

#include "scst/scst_internal.h"
#include "tcmu_ram/tcmu_ram.h"

#define DEFAULT_STATE_DIR "/var/lib/scstd"

struct scst_core *scst_core_new(struct umc_node *n)
{
    struct scst_core *core = umc_alloc(n, sizeof(*core));
    core->node = n;
    core->state_dir = umc_strdup(n, DEFAULT_STATE_DIR);
    scst_opcodes_index(core);
    umc_node_set_slot(n, UMC_SLOT_SCST, core);
    return core;
}

struct scst_core *scst_core_of(struct umc_node *n) { return umc_node_slot(n, UMC_SLOT_SCST); }

void scst_core_set_state_dir(struct scst_core *core, const char *dir)
{
    umc_free(core->node, core->state_dir);
    core->state_dir = umc_strdup(core->node, dir && dir[0] ? dir : DEFAULT_STATE_DIR);
}

char *scst_state_path(struct scst_core *core, const char *prefix, const char *devname)
{
    char *path = umc_asprintf(core->node, "%s/%s_%s", core->state_dir, prefix, devname);
    for (char *c = path + strlen(core->state_dir) + 1; *c; c++)
        if (*c == '/')
            *c = '_';
    return path;
}

/* ---- data buffers, recycled by power-of-two class --------------------------------------- */

/* The class holding len bytes (4 KiB << class), or -1 above the largest. */
static inline int buf_class(uint32_t len)
{
    if (len <= (1u << SCST_BUF_MIN_SHIFT))
        return 0;
    int c = 32 - __builtin_clz(len - 1) - SCST_BUF_MIN_SHIFT; /* ceil(log2(len)) - 12 */
    return c < SCST_BUF_CLASSES ? c : -1;
}

/* Not zeroed: a cached buffer holds an earlier command's bytes.  Every user
 * overwrites what it exposes: a READ's bio fills all of it before resp_len
 * covers it, answers built in memory are copied with their exact length
 * (scst_respond), data-out is used only as far as it was received (short
 * writes run on the whole blocks that arrived), and scratch (aux) buffers
 * are read into or filled before use. */
void *scst_buf_get(struct scst_core *core, uint32_t len, uint32_t *cap)
{
    int c = buf_class(len);
    if (c < 0) {
        *cap = len;
        return umc_alloc(core->node, len);
    }
    *cap = 1u << (SCST_BUF_MIN_SHIFT + c);
    struct scst_buf *b = core->buf_cache[c];
    if (!b)
        return umc_alloc(core->node, *cap);
    core->buf_cache[c] = b->next;
    core->buf_cache_bytes -= *cap;
    return b;
}

void scst_buf_put(struct scst_core *core, void *buf, uint32_t cap)
{
    int c = buf_class(cap);
    if (c < 0 || (1u << (SCST_BUF_MIN_SHIFT + c)) != cap ||
        core->buf_cache_bytes + cap > SCST_BUF_CACHE_BYTES) {
        umc_free(core->node, buf);
        return;
    }
    struct scst_buf *b = buf;
    b->next = core->buf_cache[c];
    core->buf_cache[c] = b;
    core->buf_cache_bytes += cap;
}

static void free_caches(struct scst_core *core)
{
    for (int c = 0; c < SCST_BUF_CLASSES; c++) {
        while (core->buf_cache[c]) {
            struct scst_buf *b = core->buf_cache[c];
            core->buf_cache[c] = b->next;
            umc_free(core->node, b);
        }
    }
    core->buf_cache_bytes = 0;
    while (core->free_privs) {
        struct scst_cmd_private *p = core->free_privs;
        core->free_privs = p->free_next;
        umc_free(core->node, p);
    }
    core->nfree_privs = 0;
}

/* ---- teardown ------------------------------------------------------------------------------ */

/* The tcmu host scst.conf created goes when no device is left on it. */
static void release_tcmu_host(struct scst_core *core)
{
    struct tcmu_host *h = tcmu_host_of(core->node);
    if (!core->own_tcmu_host || !h)
        return;
    for (struct umc_bdev *b = umc_bdev_first(core->node); b; b = umc_bdev_next(b))
        if (tcmu_dev_find(h, b->name))
            return;
    tcmu_host_free(h);
}

void scst_core_free(struct scst_core *core)
{
    if (!core)
        return;
    struct umc_node *n = core->node;
    if (core->sessions) {
        umc_warn(n, SCST_COMPONENT, "core freed with sessions still open");
        scst_sessions_free_all(core);
    }
    scst_targets_free(core);
    scst_devices_free(core);
    release_tcmu_host(core);
    free_caches(core);
    scst_lost_nexus_free_all(core);
    if (umc_node_slot(n, UMC_SLOT_SCST) == core)
        umc_node_set_slot(n, UMC_SLOT_SCST, NULL);
    umc_free(n, core->state_dir);
    umc_free(n, core);
}
