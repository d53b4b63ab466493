/* Private to workloads: one workload's state, its I/Os, and the backends that
 * carry them (a node's bdev, or the in-simulator iSCSI initiator). */
#ifndef SIM_WL_INT_H
#define SIM_WL_INT_H

#include "sim/iotrace.h"
#include "sim/oracle.h"
#include "sim/sim_int.h"

struct wl_io {
    struct sim_wl *wl;
    enum umc_bio_op op;       /* READ, WRITE or FLUSH */
    uint32_t flags;           /* UMC_BIO_FUA, UMC_BIO_PREFLUSH */
    uint64_t offset, length;  /* device bytes */
    uint64_t unit0;
    uint32_t nunits;
    uint32_t write_id;
    uint64_t flush_token;
    int role_at_issue;        /* drbd role of the target when issued */
    bool sweep;               /* a read of the sweep */
    mte_time_t issued;
    uint32_t *floors;         /* reads: per unit */
    unsigned char *buf;
    struct umc_bio bio;       /* the bdev backend's */
    struct iovec iov;
    void *be_priv;            /* the iSCSI backend's */
    struct wl_io *prev, *next;
};

struct wl_backend_ops {
    const char *name;
    size_t state_size;        /* the workload's be_state, zeroed */
    /* 0 ready now; 1 attaching (wl_attached follows); -errno refused for now */
    int (*attach)(struct sim_wl *w);
    void (*detach)(struct sim_wl *w);
    void (*submit)(struct sim_wl *w, struct wl_io *io);
    /* a node went down: drop what the backend holds there.  True if the
     * backend still completes the workload's in-flight I/O (an initiator on a
     * live node fails its commands itself). */
    bool (*node_crashed)(struct sim_wl *w, struct sim_node *sn);
    /* Detached, does anything of the workload still hold the device where it
     * lives (an iSCSI session the target has not closed yet)?  NULL: no. */
    bool (*still_held)(const struct sim_wl *w, char *why, size_t len);
};

enum wl_attach_state { WL_DETACHED, WL_ATTACHING, WL_ATTACHED };

struct sim_wl {
    struct sim *sim;
    const struct scn_workload *decl;
    const struct wl_backend_ops *be;
    void *be_state;
    struct oracle *oracle;
    struct mte_rng rng;
    uint32_t unit, max_bytes, max_units;
    char node[SCN_NAME];      /* bdev: the node issuing; iSCSI: the target */
    char dev[SCN_NAME];
    struct mte_timer tick, watchdog, stop_timer, retry;
    bool active;              /* started and not stopped */
    bool crash_stopped;       /* stopped by its node's crash: resumes on restart */
    bool regress_pending;     /* its node lost power: only durable data is certain */
    bool refusal_noted;
    enum wl_attach_state attach;
    mte_time_t next_issue;
    uint64_t seq_unit;
    /* the sweep: a read of every written unit */
    bool sweeping;
    uint64_t sweep_unit;
    /* replay */
    struct iotrace *trace;
    size_t trace_pos;
    mte_time_t trace_t0;
    /* in flight, oldest first */
    struct wl_io *head, *tail;
    unsigned inflight;
    struct wl_io *free_ios;
    uint64_t reads, writes, flushes, errors, lost;
};

/* Backends call these. */
void wl_io_done(struct wl_io *io, int status);
void wl_attached(struct sim_wl *w, int rc);
struct sim_node *wl_target_node(struct sim_wl *w);

const struct wl_backend_ops *wl_bdev_backend(void);
const struct wl_backend_ops *wl_iscsi_backend(void);   /* sim_iscsi.c */

/* Checks over a device's media (wl_check.c). */
void wl_check_failover(struct sim_wl *w, const char *new_node, const char *new_dev);
void wl_check_final(struct sim_wl *w);
void wl_check_read(struct sim_wl *w, struct wl_io *io);

#endif
