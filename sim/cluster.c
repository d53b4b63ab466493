/* The cluster of a run: the simulated network, one host and one umc node per
 * scenario node, simdisk media that outlive node crashes, and a file store
 * per node that survives them too.  Nodes boot, crash (power loss or process
 * kill) and restart here; the drbd and iSCSI layers hang their per-node state
 * on struct sim_node. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/payload.h"
#include "sim/sim_int.h"

/* ---- the crash-surviving file store -------------------------------------------------- */

static struct sim_file **file_slot(struct sim_node *sn, const char *path)
{
    struct sim_file **pp = &sn->files;
    while (*pp && strcmp((*pp)->path, path) < 0)
        pp = &(*pp)->next;
    return pp;
}

static int fs_read(void *ctx, const char *path, char **data, size_t *len, struct umc_node *n)
{
    struct sim_file *f = *file_slot(ctx, path);
    if (!f || strcmp(f->path, path))
        return -ENOENT;
    *data = umc_alloc(n, f->len + 1);
    memcpy(*data, f->data, f->len);
    if (len)
        *len = f->len;
    return 0;
}

static int fs_write(void *ctx, const char *path, const void *data, size_t len)
{
    struct sim_file **pp = file_slot(ctx, path), *f = *pp;
    if (!f || strcmp(f->path, path)) {
        f = calloc(1, sizeof(*f));
        if (!f || !(f->path = strdup(path)))
            abort();
        f->next = *pp;
        *pp = f;
    }
    free(f->data);
    f->data = malloc(len ? len : 1);
    if (!f->data)
        abort();
    memcpy(f->data, data, len);
    f->len = len;
    return 0;
}

static const struct umc_fs_backend sim_fs = {.read = fs_read, .write = fs_write};

static void free_files(struct sim_node *sn)
{
    while (sn->files) {
        struct sim_file *f = sn->files;
        sn->files = f->next;
        free(f->path);
        free(f->data);
        free(f);
    }
}

/* ---- lookups ------------------------------------------------------------------------------ */

struct sim_node *sim_node_find(struct sim *s, const char *name)
{
    for (size_t i = 0; i < s->nnodes; i++)
        if (!strcmp(s->nodes[i].decl->name, name))
            return &s->nodes[i];
    return NULL;
}

struct sim_disk *sim_disk_find(struct sim_node *sn, const char *name)
{
    for (size_t i = 0; i < sn->ndisks; i++)
        if (!strcmp(sn->disks[i].decl->name, name))
            return &sn->disks[i];
    return NULL;
}

int sim_resource_index(const struct sim *s, const char *name)
{
    for (size_t i = 0; i < s->scn->nresources; i++)
        if (!strcmp(s->scn->resources[i].name, name))
            return (int)i;
    return -1;
}

int sim_device_location(struct sim *s, const char *node, const char *dev, struct sim_location *loc)
{
    struct sim_node *sn = sim_node_find(s, node);
    if (!sn)
        return -ENOENT;
    struct sim_disk *d = sim_disk_find(sn, dev);
    if (d) {
        *loc = (struct sim_location){.media = d->media, .size = d->decl->size, .consistent = true};
        return 0;
    }
    return sdrbd_location(s, sn, dev, loc);
}

/* ---- booting a node -------------------------------------------------------------------------- */

static int add_disks(struct sim_node *sn)
{
    sn->tcmu = tcmu_host_new(sn->n);
    for (size_t i = 0; i < sn->ndisks; i++) {
        const struct scn_disk *d = sn->disks[i].decl;
        struct tcmu_dev_config cfg = {.cfgstring = "simdisk/", .size = d->size,
                                      .block_size = d->block_size,
                                      .handler_arg = sn->disks[i].media, .name = d->name};
        int err = 0;
        if (!tcmu_dev_add(sn->tcmu, &cfg, &err)) {
            sim_setup_error(sn->sim, "%s:%d: disk %s of %s: %s", sn->sim->scn->path, d->line, d->name,
                            sn->decl->name, strerror(-err));
            return -1;
        }
    }
    return 0;
}

static enum umc_log_level print_level(const struct sim *s)
{
    return s->opts->verbose >= 2 ? UMC_LOG_DEBUG : s->opts->verbose == 1 ? UMC_LOG_INFO : UMC_LOG_ERROR;
}

int sim_node_start(struct sim_node *sn)
{
    struct sim *s = sn->sim;
    char stream[SCN_NAME + 32];
    snprintf(stream, sizeof(stream), "node/%s#%u", sn->decl->name, sn->incarnation);
    struct umc_node_opts o = {.name = sn->decl->name, .seed = mte_seed_derive(s->seed, stream),
                              .net = faultnet_backend(),
                              .net_ctx = faultnet_host_ctx(s->net, sn->decl->name),
                              .fs = &sim_fs, .fs_ctx = sn, .print_level = print_level(s)};
    sn->n = umc_node_new(s->e, &o);
    umc_set_bugs(sn->n, s->bugs);
    if (add_disks(sn) || sdrbd_node_start(sn) || sexport_node_start(sn))
        return -1;
    return 0;
}

/* Clean shutdown at the end of the run: every layer frees what it owns; what
 * the node still holds then is a leak. */
static void node_stop(struct sim_node *sn)
{
    struct sim *s = sn->sim;
    if (!sn->n)
        return;
    sexport_node_stop(sn);
    sdrbd_node_stop(sn);
    if (sn->tcmu)
        tcmu_host_free(sn->tcmu);
    sn->tcmu = NULL;
    size_t leaks = umc_node_free(sn->n);
    sn->n = NULL;
    if (leaks && s->leak_check && !sim_stopped(s))
        sim_fail(s, "leak", sn->decl->name, -1, "%zu allocations were still live at shutdown", leaks);
}

/* ---- crash and restart ---------------------------------------------------------------------- */

void sim_node_crash(struct sim_node *sn, bool power)
{
    struct sim *s = sn->sim;
    sim_trace(s, "%s: %s", sn->decl->name, power ? "power loss" : "process killed");
    /* the harness lets go of the node's memory before it is freed */
    workloads_node_crashed(s, sn, power);
    script_node_crashed(s, sn);
    sdrbd_node_crashed(sn);
    sexport_node_crashed(sn);
    faultnet_set_crash_mode(s->net, sn->decl->name, power ? FAULTNET_CRASH_SILENT : FAULTNET_CRASH_RESET);
    umc_node_crash(sn->n);
    sn->n = NULL;
    sn->tcmu = NULL;
    if (!power)
        return;
    for (size_t i = 0; i < sn->ndisks; i++) {
        struct simdisk_crash_stats st = {0};
        simdisk_crash(sn->disks[i].media, &st);
        sim_trace(s, "%s: disk %s lost its cache: %llu writes dropped, %llu kept, %llu torn",
                  sn->decl->name, sn->disks[i].decl->name, (unsigned long long)st.dropped,
                  (unsigned long long)st.kept, (unsigned long long)st.torn);
    }
}

void sim_node_restart(struct sim_node *sn, bool bring_up)
{
    struct sim *s = sn->sim;
    sn->incarnation++;
    sim_trace(s, "%s: restart (boot %u)", sn->decl->name, sn->incarnation + 1);
    if (sim_node_start(sn))
        return;
    if (bring_up)
        sdrbd_bring_up(sn);
    workloads_node_restarted(s, sn);
}

/* ---- the cluster ------------------------------------------------------------------------------ */

/* --watch: what the watched sector of a disk holds after each change. */
static void media_watched(void *arg, uint64_t offset, uint64_t length, const char *why)
{
    struct sim_node *sn = arg;
    struct sim *s = sn->sim;
    if (!sim_watching(s, offset, length))
        return;
    for (size_t i = 0; i < sn->ndisks; i++) {
        unsigned char sector[512];
        char what[96];
        simdisk_read(sn->disks[i].media, s->opts->watch_sector * 512, sector, sizeof(sector));
        payload_describe(sector, what, sizeof(what));
        sim_watch(s, "%s %s: %s [%llu, +%llu): holds %s", sn->decl->name, sn->disks[i].decl->name,
                  why, (unsigned long long)(offset / 512), (unsigned long long)(length / 512), what);
    }
}

static void create_media(struct sim *s, struct sim_node *sn)
{
    const struct scenario *scn = s->scn;
    for (size_t i = 0; i < scn->ndisks; i++)
        sn->ndisks += !strcmp(scn->disks[i].node, sn->decl->name);
    sn->disks = calloc(sn->ndisks ? sn->ndisks : 1, sizeof(*sn->disks));
    if (!sn->disks)
        abort();
    size_t k = 0;
    for (size_t i = 0; i < scn->ndisks; i++) {
        const struct scn_disk *d = &scn->disks[i];
        if (strcmp(d->node, sn->decl->name))
            continue;
        char name[2 * SCN_NAME + 8];
        snprintf(name, sizeof(name), "disk/%s/%s", d->node, d->name);
        struct simdisk_media *m = simdisk_media_new(name, d->size, mte_seed_derive(s->seed, name));
        simdisk_set_params(m, &d->params);
        if (s->opts->watch)
            simdisk_watch(m, media_watched, sn);
        sn->disks[k++] = (struct sim_disk){d, m};
    }
}

static int create_network(struct sim *s)
{
    const struct scenario *scn = s->scn;
    s->net = faultnet_new(s->e, mte_seed_derive(s->seed, "net"), &scn->net);
    for (size_t i = 0; i < scn->nnodes; i++) {
        int rc = faultnet_add_host(s->net, scn->nodes[i].name, scn->nodes[i].ip);
        if (rc) {
            sim_setup_error(s, "%s:%d: node %s: %s", scn->path, scn->nodes[i].line, scn->nodes[i].name,
                            rc == -EEXIST ? "name or address taken" : "bad name or address");
            return -1;
        }
    }
    for (size_t i = 0; i < scn->nlinks; i++)
        faultnet_set_link(s->net, scn->links[i].a, scn->links[i].b, &scn->links[i].link);
    return 0;
}

int cluster_create(struct sim *s)
{
    const struct scenario *scn = s->scn;
    if (create_network(s))
        return -1;
    s->nnodes = scn->nnodes;
    s->nodes = calloc(s->nnodes ? s->nnodes : 1, sizeof(*s->nodes));
    if (!s->nodes)
        abort();
    for (size_t i = 0; i < s->nnodes; i++) {
        struct sim_node *sn = &s->nodes[i];
        sn->sim = s;
        sn->decl = &scn->nodes[i];
        for (size_t r = 0; r < scn->nresources; r++)
            sn->in_resources |= scn_resource_has_node(&scn->resources[r], sn->decl->name);
        create_media(s, sn);
    }
    for (size_t i = 0; i < s->nnodes; i++)
        if (sim_node_start(&s->nodes[i]))
            return -1;
    return 0;
}

/* Targets end their sessions asynchronously: give them virtual time. */
static void close_targets(struct sim *s)
{
    for (size_t i = 0; i < s->nnodes; i++)
        if (s->nodes[i].n)
            sexport_node_close(&s->nodes[i]);
    for (int step = 0; step < 500; step++) {
        bool busy = false;
        for (size_t i = 0; i < s->nnodes; i++)
            busy |= s->nodes[i].n && sexport_node_busy(&s->nodes[i]);
        if (!busy)
            return;
        mte_run_until(s->e, mte_now(s->e) + 10 * MTE_MSEC);
    }
}

void cluster_destroy(struct sim *s)
{
    if (s->e && s->nodes)
        close_targets(s);
    for (size_t i = 0; i < s->nnodes; i++)
        node_stop(&s->nodes[i]);
    if (s->net)
        faultnet_free(s->net);
    s->net = NULL;
    for (size_t i = 0; i < s->nnodes; i++) {
        struct sim_node *sn = &s->nodes[i];
        for (size_t k = 0; k < sn->ndisks; k++)
            simdisk_media_free(sn->disks[k].media);
        free(sn->disks);
        free_files(sn);
    }
    free(s->nodes);
    s->nodes = NULL;
    s->nnodes = 0;
}
