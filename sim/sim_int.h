/* Private to the simulator's run: the world of one run and how its parts
 * (cluster, script, workloads, checkers, the drbd and iSCSI layers) reach
 * each other.  Everything hangs off struct sim: no globals. */
#ifndef SIM_SIM_INT_H
#define SIM_SIM_INT_H

#include <stdarg.h>

#include "faultnet/faultnet.h"
#include "sim/scenario.h"
#include "sim/sim.h"
#include "tcmu_ram/tcmu_ram.h"
#include "umc/umc.h"

struct sim_wl;
struct sim_script;
struct sdrbd_node;
struct sexport_node;
struct sdrbd_deadline;

/* A file of a node's crash-surviving store (umc_read_file/umc_write_file). */
struct sim_file {
    char *path;
    char *data;
    size_t len;
    struct sim_file *next;     /* in path order */
};

struct sim_disk {
    const struct scn_disk *decl;
    struct simdisk_media *media;   /* outlives the node */
};

struct sim_node {
    struct sim *sim;
    const struct scn_node *decl;
    struct umc_node *n;            /* NULL while down */
    unsigned incarnation;
    struct tcmu_host *tcmu;
    struct sim_disk *disks;
    size_t ndisks;
    struct sim_file *files;
    struct sdrbd_node *drbd;       /* the drbd layer's state of this node */
    struct sexport_node *exp;      /* the iSCSI layer's state of this node */
    uint64_t res_up;               /* bit per scenario resource: was brought up */
    bool in_resources;             /* some resource has an "on NODE" section */
    bool diverged;                 /* a failover away from it left writes it had
                                      acknowledged behind: a split brain with
                                      the new primary's data is real */
};

struct sim {
    const struct scenario *scn;    /* realized: no fault profiles left */
    const struct sim_opts *opts;
    uint64_t seed;
    uint64_t bugs;
    struct mte_engine *e;
    struct faultnet *net;
    struct sim_node *nodes;        /* scenario order */
    size_t nnodes;
    struct sim_wl **wls;           /* scenario order */
    size_t nwls;
    struct sim_script *script;
    struct mte_timer monitor;
    struct sim_result *res;
    bool failed, setup_failed, ending, tearing, perturbed;
    mte_time_t run_target;         /* the engine runs up to here now */
    mte_time_t script_end;         /* the script ran until here (past the duration, if a
                                      chain was under way then) */
    /* expectations, resolved with their defaults */
    mte_time_t io_bound, stall_bound;
    bool check_lost, check_replicas, two_primaries_ok, no_io_errors, leak_check;
    mte_time_t io_error_grace;     /* no-io-errors: failures still spared after the chaos window */
    /* the realized schedule: every action as executed, and which one it was */
    struct scn_action *log;
    size_t *log_index;
    size_t nlog;
    unsigned char *executed;       /* per scenario action */
    void *actions_state;           /* actions.c */
    struct sdrbd_deadline *deadlines; /* the drbd layer's "synced within" clocks */
    struct sim_call *calls;        /* sim_schedule_call */
};

/* ---- verdicts (run.c) --------------------------------------------------------------------- */

/* The first failure wins; it stops the engine.  lba < 0: none. */
void sim_fail(struct sim *s, const char *invariant, const char *node, int64_t lba, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* The scenario does not apply (exit 2). */
void sim_setup_error(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A harness trace line "<time> sim: ..." (in the run hash). */
void sim_trace(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* --watch: does [offset, offset+length) (bytes) cover the watched sector?
 * sim_watch prints a line to the trace (or stderr), outside the run hash. */
bool sim_watching(const struct sim *s, uint64_t offset, uint64_t length);
void sim_watch(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Printed with -v only. */
void sim_info(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline bool sim_stopped(const struct sim *s) { return s->failed || s->setup_failed; }
/* Call fn(arg) at virtual time when (harness work, not a node's). */
void sim_schedule_call(struct sim *s, mte_time_t when, void (*fn)(void *arg), void *arg);

/* ---- the cluster (cluster.c) --------------------------------------------------------------- */

int cluster_create(struct sim *s);             /* network, hosts, disks, nodes */
void cluster_destroy(struct sim *s);           /* clean shutdown of what runs, then free */
struct sim_node *sim_node_find(struct sim *s, const char *name);
struct sim_disk *sim_disk_find(struct sim_node *sn, const char *name);
int sim_node_start(struct sim_node *sn);       /* boot; 0 or -1 (setup error recorded) */
void sim_node_crash(struct sim_node *sn, bool power);
void sim_node_restart(struct sim_node *sn, bool bring_up);
int sim_resource_index(const struct sim *s, const char *name);   /* -1 if unknown */

/* Where the bytes of a device of a node live, for checks that read media
 * directly: the backing disk and the device's size (drbd: the usable size). */
struct sim_location {
    struct simdisk_media *media;
    uint64_t size;
    char protocol;           /* drbd: 'A', 'B', 'C'; 0 for a plain disk */
    bool consistent;         /* drbd: the local disk is UpToDate */
    struct sim *sim;         /* drbd: the device, for sdrbd_read_device */
    struct sim_node *node;
    int res, vnr;
};
int sim_device_location(struct sim *s, const char *node, const char *dev, struct sim_location *loc);

/* ---- the script of timed actions (script.c, actions.c) ------------------------------------ */

int script_create(struct sim *s);
mte_time_t script_next_time(const struct sim *s);  /* MTE_TIME_NEVER if none */
void script_run_due(struct sim *s);                /* run the actions due now */
void script_destroy(struct sim *s);
/* The realized schedule: what ran (as `at` lines at the time it ran), each
 * followed by the `after` lines chained to it that never ran, then the `at`
 * lines that never came; a failing run's schedule so replays all of the
 * scenario once the failure is fixed.  The caller frees it. */
struct scn_action *script_schedule(const struct sim *s, size_t *n);
/* An action finished (or was refused): the next 'after' action may start. */
void script_action_done(struct sim *s, size_t index);
/* Run an action now; done via script_action_done(s, index). */
void action_execute(struct sim *s, const struct scn_action *a, size_t index);
/* Conditions (wait-for / assert): true if it holds; why says what is not so. */
bool sim_cond_holds(struct sim *s, const struct scn_cond *c, char *why, size_t len);
/* The monitor tick: wait-for conditions are polled here. */
void script_poll_waits(struct sim *s);
/* A chain under way: an action not done yet (a command in flight, a
 * wait-for waiting), or the action due next is an `after` line of one that ran. */
bool script_chain_open(const struct sim *s);
void script_add_wait(struct sim *s, size_t index);
void actions_cleanup(struct sim *s);
void script_node_crashed(struct sim *s, struct sim_node *sn);

/* ---- workloads (workload.c) ---------------------------------------------------------------- */

int workloads_create(struct sim *s);
void workloads_detach(struct sim *s);            /* teardown, before the nodes stop */
void workloads_destroy(struct sim *s);
struct sim_wl *wl_find(struct sim *s, const char *name);
void wl_start(struct sim_wl *w, mte_time_t duration);
void wl_stop(struct sim_wl *w);
void wl_retarget(struct sim_wl *w, const char *node, const char *dev);
void wl_sweep(struct sim_wl *w);
/* Stopped, nothing in flight, the device closed (so drbd may demote). */
bool wl_stopped(const struct sim_wl *w, char *why, size_t len);
/* The workload's data was thrown away on purpose (a split-brain victim):
 * from now on any of its writes may be what a block holds. */
void wl_forget(struct sim_wl *w);
/* A node went down / came back: workloads there lose their I/O / resume. */
void workloads_node_crashed(struct sim *s, struct sim_node *sn, bool power);
void workloads_node_restarted(struct sim *s, struct sim_node *sn);
/* End of the run: stop issuing; true once nothing is in flight. */
bool workloads_quiesce(struct sim *s);
void workloads_final_check(struct sim *s);
void workloads_report(struct sim *s);          /* -v */

/* ---- the drbd layer (sim_drbd.c) ------------------------------------------------------------ */

int sdrbd_node_start(struct sim_node *sn);     /* drbd_new + the node's resources */
void sdrbd_node_stop(struct sim_node *sn);     /* clean */
void sdrbd_node_crashed(struct sim_node *sn);  /* forget node memory */
void sdrbd_bring_up(struct sim_node *sn);      /* after a restart: up what was up */
typedef void (*sdrbd_done_fn)(struct sim *s, size_t index, int rc, const char *msg);
/* Run a drbd verb on the action's node, the nodes listed after it (up, down,
 * create-md), or every node ("*"); done once every node answered. */
void sdrbd_command(struct sim *s, const struct scn_action *a, size_t index, sdrbd_done_fn done);
bool sdrbd_cond_holds(struct sim *s, const struct scn_cond *c, char *why, size_t len);
void sdrbd_monitor(struct sim *s);             /* safety and liveness checks, every tick */
void sdrbd_note_action(struct sim *s, const struct scn_action *a); /* verify/pause/... */
void sdrbd_check_replicas(struct sim *s, const char *res, bool at_end);
/* The role of the resource behind device dev on the node: 0 unknown or not
 * drbd, 1 secondary, 2 primary (enum drbd_role). */
int sdrbd_device_role(struct sim_node *sn, const char *dev);
int sdrbd_location(struct sim *s, struct sim_node *sn, const char *dev, struct sim_location *loc);
/* Read what the drbd device at loc (a struct sim_location *) serves now,
 * block by block from the disk drbd would read it from: the local one, or a
 * peer's (a SyncTarget's blocks not resynced yet); zeros if none. */
void sdrbd_read_device(void *loc, uint64_t offset, void *buf, size_t len);
void sdrbd_check_commands(struct sim *s);      /* a command drbd never answers */
void sdrbd_check_deadlines(struct sim *s, bool at_end); /* "synced within T after" */
/* The latest time a "synced within T after" promise still pending is due (0: none). */
mte_time_t sdrbd_last_due(const struct sim *s);
void sdrbd_run_free(struct sim *s);
/* Until when node from replicated to node to (MTE_TIME_NEVER: it still does,
 * or it crashed while it did; 0: never).  Not drbd: MTE_TIME_NEVER. */
mte_time_t sdrbd_replicated_until(struct sim *s, const char *from, const char *to);

/* ---- the iSCSI layer (sim_iscsi.c) ----------------------------------------------------------- */

int sexport_node_start(struct sim_node *sn);
void sexport_node_close(struct sim_node *sn);  /* shutdown: let go of sessions */
bool sexport_node_busy(struct sim_node *sn);   /* sessions still closing */
void sexport_node_stop(struct sim_node *sn);
void sexport_node_crashed(struct sim_node *sn);
/* Export what can be exported now (a drbd device appears after 'up'). */
void sexport_refresh(struct sim_node *sn);

#endif
