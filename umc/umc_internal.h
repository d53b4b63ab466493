/* Private to umc/: the node structure and cross-file helpers. */
#ifndef UMC_INTERNAL_H
#define UMC_INTERNAL_H

#include "umc/umc.h"

struct alloc_list {
    struct alloc_list *prev, *next;
    size_t size;
    uint64_t magic;
};

struct umc_node {
    struct mte_engine *engine;
    char name[UMC_NAME_MAX];
    uint64_t seed;
    const struct umc_net_backend *net;
    void *net_ctx;
    const struct umc_fs_backend *fs;
    void *fs_ctx;
    enum umc_log_level print_level;
    mte_time_t started;
    uint64_t bugs;
    void *slots[UMC_SLOT_MAX];
    /* sentinel of the allocation list: same layout as alloc_hdr */
    struct alloc_list allocs;
    size_t live_allocs, live_bytes;
    struct anon_map *maps;
    struct rng_stream *rngs;
    struct crash_hook *crash_hooks;
    struct umc_bdev *bdevs;          /* registry, in name order */
    struct umc_conn *conns;          /* every live connection */
    struct umc_listener *listeners;
};

void umc_track_mapping(struct umc_node *n, void *p, size_t size);
void umc_unmap_tracked(struct umc_node *n, void *p, size_t size);

/* Drop every connection and listener of the node (crash: silently, as the
 * backend's node_crash decides; clean free: aborting what is left). */
void umc_net_node_teardown(struct umc_node *n, bool crash);

#endif
