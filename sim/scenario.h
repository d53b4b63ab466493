/* The scenario model: what a .scn file declares (see scenarios/README.md).
 *
 * A scenario is parsed once into this plain structure; a run never changes
 * it.  Fault profiles and `every` lines are realized into concrete timed
 * actions before a run (scn_realize), so the realized schedule of a run can
 * be written back out as a scenario file that no longer draws anything.
 */
#ifndef SIM_SCENARIO_H
#define SIM_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "faultnet/faultnet.h"
#include "mte_sim/mte_sim.h"
#include "tcmu_ram/tcmu_ram.h"

#define SCN_NAME 64
#define SCN_PATH 512
#define SCN_MAX_BS 8 /* block sizes a workload may mix */

struct scn_node {
    char name[SCN_NAME];
    char ip[32];
    int line;
};

struct scn_disk {
    char node[SCN_NAME];
    char name[SCN_NAME];     /* the bdev name: tcmu000, tcmu001, ... */
    uint64_t size;
    uint32_t block_size;
    struct simdisk_params params;
    int line;
};

struct scn_link {
    char a[SCN_NAME], b[SCN_NAME];
    struct faultnet_link link;
    int line;
};

struct scn_resource {
    char name[SCN_NAME];
    char *text;              /* .res text, padded with newlines so drbd's line numbers
                                are the scenario file's (or the .res file's) */
    char origin[SCN_PATH];   /* the file drbd should name in errors */
    int line;
};

/* An iSCSI export: a LUN over a bdev on a node, behind a portal. */
struct scn_export {
    char node[SCN_NAME];
    char dev[SCN_NAME];
    char iqn[128];
    unsigned port;
    uint64_t lun;
    int line;
};

enum scn_wl_kind { SCN_WL_RANDOM, SCN_WL_SEQUENTIAL, SCN_WL_REPLAY };
enum scn_wl_via { SCN_VIA_BDEV, SCN_VIA_ISCSI };

struct scn_workload {
    char name[SCN_NAME];
    char node[SCN_NAME];     /* where the I/O is issued (bdev) or the initiator host */
    char dev[SCN_NAME];      /* bdev name (bdev), or "" */
    enum scn_wl_via via;
    char target_node[SCN_NAME]; /* iscsi: the exporting node */
    enum scn_wl_kind kind;
    unsigned read_pct, flush_pct; /* of operations; writes are the rest */
    double fua;              /* chance a write is FUA */
    uint32_t bs[SCN_MAX_BS];
    unsigned nbs;
    uint32_t iops;           /* 0 = as fast as the queue depth allows */
    unsigned qd;
    uint64_t offset, span;   /* bytes on the device; span 0 = to the end */
    char trace[SCN_PATH];    /* replay: I/O trace file */
    double speed;            /* replay: time scale (2 = twice as fast) */
    int line;
};

/* A condition over drbd state, for wait-for and assert. */
enum scn_cond_kind { SCN_COND_STATE, SCN_COND_SYNCED, SCN_COND_CONNECTED, SCN_COND_NODE_UP,
                     SCN_COND_STOPPED, SCN_COND_HEALED };
#define SCN_COND_MAX_TERMS 6
struct scn_cond_term {
    char key[24];
    char value[32];
    char cmp;                /* '=' equal; '<' at most, '>' at least (sizes: num) */
    uint64_t num;
};
struct scn_cond {
    enum scn_cond_kind kind;
    char node[SCN_NAME];
    char res[SCN_NAME];
    char peer[SCN_NAME];
    struct scn_cond_term terms[SCN_COND_MAX_TERMS];
    unsigned nterms;
};

enum scn_verb {
    /* drbd admin verbs (drbd_command) */
    V_UP, V_DOWN, V_PRIMARY, V_SECONDARY, V_CONNECT, V_DISCONNECT, V_ATTACH, V_DETACH,
    V_INVALIDATE, V_INVALIDATE_REMOTE, V_VERIFY, V_PAUSE_SYNC, V_RESUME_SYNC, V_OUTDATE,
    V_CREATE_MD, V_NEW_CURRENT_UUID,
    /* nodes */
    V_CRASH, V_RESTART,
    /* network */
    V_PARTITION, V_HEAL, V_CLOG, V_BLACKHOLE, V_SLOW, V_RESET,
    /* disks */
    V_DISK_ERROR, V_DISK_STALL, V_DISK_HEAL, V_PLANT,
    /* workloads and checks */
    V_START, V_STOP, V_RETARGET, V_SWEEP, V_FORGET, V_CHECK_REPLICAS, V_PROBE_WRITE,
    V_WAIT_FOR, V_ASSERT, V_LOG,
    V__COUNT
};
#define V_LAST_DRBD V_NEW_CURRENT_UUID

enum {
    SCN_F_FORCE = 1u << 0,          /* primary --force */
    SCN_F_DISCARD = 1u << 1,        /* connect --discard-my-data */
    SCN_F_KILL = 1u << 2,           /* crash: process kill (else power loss) */
    SCN_F_NO_UP = 1u << 3,          /* restart: do not bring resources up */
    SCN_F_MAY_FAIL = 1u << 4,       /* a refusal is fine */
    SCN_F_EXPECT_REFUSED = 1u << 5, /* a success is a failure */
    SCN_F_GENERATED = 1u << 6,      /* drawn from a fault profile */
};

enum scn_anchor { SCN_AT, SCN_AFTER };

struct scn_action {
    enum scn_verb verb;
    enum scn_anchor anchor;
    mte_time_t time;         /* SCN_AT: absolute; SCN_AFTER: after the previous action */
    unsigned flags;
    char node[SCN_NAME];     /* subject node, host a, or workload */
    char peer[SCN_NAME];     /* peer node, host b, disk, or retarget node */
    char res[SCN_NAME];      /* resource, "" = every resource of the node */
    char dev[SCN_NAME];      /* probe-write / retarget device */
    enum faultnet_dir dir;
    mte_time_t duration;     /* "for D" */
    struct faultnet_link slow;
    uint64_t offset, length; /* disk-error, plant */
    unsigned ops;            /* disk-error: 1 read, 2 write, 3 both */
    double rate;             /* disk-error: chance per I/O (0 = the whole range fails) */
    char text[128];          /* log text, or the expected refusal's words */
    struct scn_cond cond;
    mte_time_t timeout;      /* wait-for */
    mte_time_t retry;        /* drbd verbs: a refusal is tried again for this long */
    int line;
};

/* A random fault process drawn from the "faults" stream (or "swarm"). */
enum scn_fault_kind {
    F_PARTITION, F_CLOG, F_BLACKHOLE, F_RESET, F_SLOW, F_DISCONNECT, F_CRASH, F_DISK_STALL,
    F_DISK_ERROR, F__COUNT
};
struct scn_fault {
    enum scn_fault_kind kind;
    double rate;                      /* per second */
    mte_time_t from, until;           /* window; until 0 = the scenario's duration */
    mte_time_t dur_min, dur_max;      /* fault duration (crash: downtime) */
    char nodes[8][SCN_NAME];          /* eligible nodes ("" = all with disks) */
    unsigned nnodes;
    mte_time_t lat_min, lat_max;      /* slow */
    unsigned crash_mode;              /* 0 power, 1 kill, 2 either */
    int line;
};

enum scn_expect_kind {
    E_NO_LOST_WRITES, E_REPLICAS_IDENTICAL, E_IO_LATENCY, E_TWO_PRIMARIES_OK,
    E_RESYNC_STALL, E_SYNCED_AFTER, E_NO_IO_ERRORS, E_LEAK_CHECK, E__COUNT
};
struct scn_expect {
    enum scn_expect_kind kind;
    bool off;
    mte_time_t bound;
    enum scn_verb after_verb;         /* E_SYNCED_AFTER: the action that starts the clock */
    char after_node[SCN_NAME];        /* "" = any node */
    int line;
};

struct scenario {
    char path[SCN_PATH];
    char name[SCN_NAME];
    uint64_t seed;
    bool has_seed;
    mte_time_t duration;
    mte_time_t monitor_period;
    uint64_t bugs;                    /* inject-bug lines */
    bool recorded;                    /* a realized schedule: nothing left to draw */
    char recorded_invariant[SCN_NAME];
    struct faultnet_params net;
    struct scn_node *nodes;   size_t nnodes;
    struct scn_disk *disks;   size_t ndisks;
    struct scn_link *links;   size_t nlinks;
    struct scn_resource *resources; size_t nresources;
    struct scn_export *exports; size_t nexports;
    struct scn_workload *workloads; size_t nworkloads;
    struct scn_action *actions; size_t nactions;
    struct scn_fault *faults; size_t nfaults;
    struct scn_expect *expects; size_t nexpects;
    bool swarm_declared;
    unsigned swarm_kinds;             /* bit per scn_fault_kind */
    mte_time_t swarm_from, swarm_until;
    /* The chaos window: from the first drawn fault (swarm or fault profile)
     * until every one has healed; until 0 when nothing is drawn.  Liveness
     * (wait-for timeouts, "synced within") is judged from its end on, and
     * `expect no-io-errors` spares I/O that was in flight during it. */
    mte_time_t chaos_from, chaos_until;
};

/* ---- parsing (scn_parse.c) --------------------------------------------------------- */

/* Parse path; NULL on error with "FILE:LINE: problem" in err. */
struct scenario *scn_load(const char *path, char *err, size_t errlen);
/* Parse text (path names it in errors and anchors relative file names). */
struct scenario *scn_parse(const char *text, const char *path, char *err, size_t errlen);
void scn_free(struct scenario *s);
struct scenario *scn_clone(const struct scenario *s);

const struct scn_node *scn_find_node(const struct scenario *s, const char *name);
const struct scn_disk *scn_find_disk(const struct scenario *s, const char *node, const char *name);
const struct scn_workload *scn_find_workload(const struct scenario *s, const char *name);
const struct scn_resource *scn_find_resource(const struct scenario *s, const char *name);
const struct scn_expect *scn_expectation(const struct scenario *s, enum scn_expect_kind kind);
/* Does resource text have an "on NODE" section? */
bool scn_resource_has_node(const struct scn_resource *r, const char *node);

/* ---- names and formatting (scn_format.c) ------------------------------------------- */

const char *scn_verb_name(enum scn_verb v);
int scn_verb_from_name(const char *name);         /* -1 if unknown */
const char *scn_fault_name(enum scn_fault_kind k);
int scn_fault_from_name(const char *name);
const char *scn_expect_name(enum scn_expect_kind k);
/* "1.5s", "250ms": exact, shortest unit that loses nothing. */
void scn_format_time(mte_time_t t, char *buf, size_t len);
void scn_format_size(uint64_t bytes, char *buf, size_t len);
/* An action's words after its time ("partition alice bob for 2s"). */
void scn_format_action(const struct scn_action *a, char *buf, size_t len);
/* The whole scenario as a file that parses back to the same thing. */
void scn_write(FILE *f, const struct scenario *s);

/* ---- realizing random faults (scn_realize.c) --------------------------------------- */

/* Turn fault profiles (and, with swarm, a profile drawn from the seed's
 * "swarm" stream) into concrete timed actions, sorted by time.  The returned
 * scenario has no fault lines left. */
struct scenario *scn_realize(const struct scenario *s, uint64_t seed, bool swarm);

/* When liveness is judged for a clock started at t with bound b: b after t,
 * or b after the chaos window if that ends later. */
mte_time_t scn_liveness_due(const struct scenario *s, mte_time_t t, mte_time_t b);

/* Time order of actions in the file: `after` is resolved at run time. */
bool scn_verb_is_drbd(enum scn_verb v);

#endif
