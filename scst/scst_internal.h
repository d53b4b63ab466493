/* Private to scst/: the core's structures and the helpers its files share.
 *
 * Ownership: the core owns devices, targets and sessions.  A session holds one
 * struct scst_nexus per LUN it sees (an I_T_L nexus: unit attentions, PREVENT),
 * linked into its device's nexus list.  A command's private part (struct
 * scst_cmd_private) lives from parse to release; while it runs it sits on its
 * device's task set (active list or pending FIFO) and on its session's list.
 */
#ifndef SCST_INTERNAL_H
#define SCST_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "scst/scst.h"

#define SCST_COMPONENT "scst"

/* ---- big-endian field access -------------------------------------------------- */

static inline uint16_t get_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t get_be24(const uint8_t *p) { return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]; }
static inline uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t get_be64(const uint8_t *p) { return (uint64_t)get_be32(p) << 32 | get_be32(p + 4); }
static inline void put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void put_be24(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 16); p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)v;
}
static inline void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void put_be64(uint8_t *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

/* ---- sense keys and additional sense codes (ASC << 8 | ASCQ) --------------------- */

enum {
    SK_NO_SENSE = 0x0, SK_RECOVERED_ERROR = 0x1, SK_NOT_READY = 0x2, SK_MEDIUM_ERROR = 0x3,
    SK_HARDWARE_ERROR = 0x4, SK_ILLEGAL_REQUEST = 0x5, SK_UNIT_ATTENTION = 0x6,
    SK_DATA_PROTECT = 0x7, SK_COPY_ABORTED = 0xa, SK_ABORTED_COMMAND = 0xb, SK_MISCOMPARE = 0xe,
};

enum {
    ASC_NO_ADDITIONAL_SENSE = 0x0000,
    ASC_NOT_READY_BECOMING_READY = 0x0401,
    ASC_NOT_READY_SANITIZE = 0x041b,
    ASC_WRITE_ERROR = 0x0c00,
    ASC_COPY_TARGET_UNREACHABLE = 0x0d02,
    ASC_UNRECOVERED_READ_ERROR = 0x1100,
    ASC_PARAMETER_LIST_LENGTH_ERROR = 0x1a00,
    ASC_MISCOMPARE_DURING_VERIFY = 0x1d00,
    ASC_INVALID_OPCODE = 0x2000,
    ASC_LBA_OUT_OF_RANGE = 0x2100,
    ASC_INVALID_FIELD_IN_CDB = 0x2400,
    ASC_LUN_NOT_SUPPORTED = 0x2500,
    ASC_INVALID_FIELD_IN_PARAMETER_LIST = 0x2600,
    ASC_INVALID_RELEASE_OF_PR = 0x2604,
    ASC_TOO_MANY_TARGET_DESCRIPTORS = 0x2606,
    ASC_UNSUPPORTED_TARGET_DESCRIPTOR_TYPE = 0x2607,
    ASC_TOO_MANY_SEGMENT_DESCRIPTORS = 0x2608,
    ASC_UNSUPPORTED_SEGMENT_DESCRIPTOR_TYPE = 0x2609,
    ASC_INSUFFICIENT_REGISTRATION_RESOURCES = 0x5504,
    ASC_WRITE_PROTECTED = 0x2700,
    ASC_SOFTWARE_WRITE_PROTECTED = 0x2702,
    ASC_POWER_ON_OCCURRED = 0x2901,
    ASC_BUS_RESET_OCCURRED = 0x2902,
    ASC_BUS_DEVICE_RESET = 0x2903,
    ASC_NEXUS_LOSS = 0x2907,
    ASC_MODE_PARAMETERS_CHANGED = 0x2a01,
    ASC_RESERVATIONS_PREEMPTED = 0x2a03,
    ASC_RESERVATIONS_RELEASED = 0x2a04,
    ASC_REGISTRATIONS_PREEMPTED = 0x2a05,
    ASC_CAPACITY_CHANGED = 0x2a09,
    ASC_COMMANDS_CLEARED_BY_ANOTHER = 0x2f00,
    ASC_SAVING_PARAMS_NOT_SUPPORTED = 0x3900,
    ASC_MEDIUM_NOT_PRESENT = 0x3a00,
    ASC_MEDIUM_REMOVAL_PREVENTED = 0x5302,
    ASC_REPORTED_LUNS_CHANGED = 0x3f0e,
    ASC_INVALID_FIELD_IN_IU = 0x0e03,
    ASC_INTERNAL_TARGET_FAILURE = 0x4400,
    ASC_NOT_READY = 0x0400,
    ASC_SPACE_ALLOCATION_FAILED = 0x2707,
    ASC_SANITIZE_FAILED = 0x3103,
};

/* Where an INVALID FIELD points: a byte (and bit) of the CDB or the parameter list. */
struct scst_field { bool in_cdb; uint16_t byte; int8_t bit; /* -1: whole byte */ };

/* ---- configuration limits ------------------------------------------------------------ */

#define SCST_MAX_XFER_BYTES (32u << 20)   /* MAXIMUM TRANSFER LENGTH, in bytes */
#define SCST_MAX_CAW_BLOCKS 255u
#define SCST_MAX_WS_BLOCKS (1ull << 16)
#define SCST_MAX_UNMAP_BLOCKS (1u << 20)
#define SCST_MAX_UNMAP_DESCRIPTORS 256u
#define SCST_UA_MAX 8
#define SCST_LOST_NEXUS_MAX 64     /* lost I_T nexuses remembered for I_T NEXUS LOSS OCCURRED */
#define SCST_MAX_LUNS 16384u       /* LUN numbers 0..16383 (peripheral and flat addressing) */
#define SCST_VPD_MAX 1024u         /* the longest VPD page built */
#define SCST_PR_MAX_REGISTRATIONS 128
#define SCST_SANITIZE_MIN_NS (10ull * MTE_SEC) /* a sanitize runs at least this long */

/* ---- names ---------------------------------------------------------------------------- */

struct scst_name {
    struct scst_name *next;
    char name[];
};

/* ---- devices -------------------------------------------------------------------------- */

struct scst_cmd_private;
struct scst_nexus;

/* Mode parameters the initiator can change (current, and the saved copy). */
struct scst_mode_params {
    bool wce;        /* caching page */
    bool d_sense;    /* control page */
    bool swp;
    bool tas;
    uint8_t qerr;
    bool dexcpt;     /* informational exceptions */
    uint8_t mrie;
};

/* A range of LBAs held by COMPARE AND WRITE / WRITE ATOMIC while they run. */
struct scst_range_lock {
    uint64_t lba, count;
    uint64_t seq;                       /* writes started before it are waited for */
    unsigned drain;                     /* overlapping earlier writes still running */
    bool granted;
    struct scst_cmd_private *owner;
    struct scst_range_lock *prev, *next;
};

/* Deallocated (unmapped) extents of a thin LU: sorted, disjoint, coalesced. */
struct scst_extent { uint64_t lba, count; };
struct scst_extents {
    struct scst_extent *v;
    size_t n, cap;
};

/* A persistent reservation registration: an I_T nexus and its key. */
struct scst_pr_reg {
    char *initiator_port;   /* "iqn...,i,0x<ISID>" */
    uint16_t tpid;          /* relative target port id */
    bool all_tg_pt;         /* registered through every target port */
    bool doomed;            /* scratch: being preempted */
    uint64_t key;
    struct scst_pr_reg *next;
};

struct scst_pr_state {
    struct scst_pr_reg *regs;     /* in registration order */
    unsigned nregs;
    uint32_t generation;
    bool reserved;
    uint8_t type, scope;
    struct scst_pr_reg *holder;   /* NULL for all-registrants types */
    bool aptpl;
    bool on_disk;                 /* the state file holds APTPL state to keep current */
};

struct scst_sanitize;

struct scst_device {
    struct scst_core *core;
    char *name;
    char *bdev_name;
    struct umc_bdev *bdev;        /* while open */
    unsigned open_refs;           /* nexuses that have it open */
    unsigned open_mode;           /* UMC_OPEN_* used for the open */
    bool ro_fallback;             /* the write open was refused: read-only */
    uint32_t block_size;
    unsigned block_shift;
    unsigned lbppbe;              /* logical blocks per physical block exponent */
    uint64_t nblocks;
    bool read_only, removable, thin, nv_cache;
    char t10_dev_id[32];
    char serial[32];
    uint8_t naa[8];               /* NAA locally assigned designator */
    char *owned_tcmu;             /* a ram device scst.conf created for it */
    unsigned lun_refs;            /* LUN map entries naming it */
    /* medium */
    bool medium_loaded;
    unsigned prevent_count;       /* nexuses holding PREVENT MEDIUM REMOVAL */
    /* mode pages */
    struct scst_mode_params mode, mode_saved;
    /* task set */
    struct scst_cmd_private *active_head, *active_tail;
    struct scst_cmd_private *pend_head, *pend_tail;
    unsigned nactive, nordered_active;
    uint64_t write_seq;
    struct scst_range_lock *locks;
    struct scst_cmd_private *parked_head, *parked_tail; /* writes waiting for a range lock */
    unsigned npending;
    /* reservations */
    struct scst_session *spc2_holder;
    struct scst_pr_state pr;
    /* thin provisioning */
    struct scst_extents unmapped;
    struct scst_sanitize *sanitize;
    bool sanitize_failed;
    /* nexuses seeing this device */
    struct scst_nexus *nexus_head;
    struct scst_lun_stats stats;
    struct scst_device *next;     /* core's list, in name order */
};

/* ---- targets --------------------------------------------------------------------------- */

struct scst_lun_map {
    uint64_t lun;
    struct scst_device *dev;
    bool read_only;
    struct scst_lun_map *next;    /* in LUN order */
};

struct scst_group {
    char *name;                   /* NULL: the default map */
    struct scst_name *initiators; /* in name order */
    struct scst_lun_map *luns;
    struct scst_group *next;      /* target's groups, in name order */
};

struct scst_target {
    struct scst_core *core;
    char *name;
    bool enabled;
    uint16_t rel_tgt_id;
    struct scst_name *allowed;    /* ACL; empty = everyone */
    struct scst_group default_group;
    struct scst_group *groups;
    struct scst_target *next;     /* core's list, in name order */
};

/* ---- sessions --------------------------------------------------------------------------- */

/* One LUN as a session sees it: the I_T_L nexus. */
struct scst_nexus {
    struct scst_session *sess;
    struct scst_device *dev;
    uint64_t lun;
    bool read_only;
    bool prevent;                 /* this nexus holds PREVENT MEDIUM REMOVAL */
    bool gone;                    /* unmapped; freed when the last command lets go */
    bool kept;                    /* scratch while the map is rebuilt */
    bool opened;                  /* holds an open of the device's bdev */
    unsigned refs;                /* commands pointing here */
    uint16_t ua[SCST_UA_MAX];
    unsigned nua;
    struct scst_nexus *dev_prev, *dev_next;
};

struct scst_copy_result;

struct scst_session {
    struct scst_core *core;
    struct scst_target *tgt;
    struct scst_group *group;
    char *initiator, *initiator_port;
    uint16_t tpid;
    struct scst_nexus **nexus;    /* sorted by LUN */
    size_t nnexus;
    struct scst_cmd_private *cmds;    /* parsed and not released */
    uint64_t commands, in_flight;
    bool closing;
    bool close_check_pending;
    bool closed_called;
    void (*closed)(void *arg);
    void *closed_arg;
    struct scst_copy_result *copy_results;
    struct scst_session *next;    /* core's list, in creation order */
};

/* ---- commands ----------------------------------------------------------------------------- */

enum scst_cmd_state { CMD_PARSED, CMD_PENDING, CMD_ACTIVE, CMD_DONE };

struct scst_opdesc;
struct scst_tmf_wait;
typedef void (*scst_step_fn)(struct scst_cmd_private *p);

enum {
    CMDF_FUA = 1u << 0,
    CMDF_DPO = 1u << 1,
    CMDF_IMMED = 1u << 2,
    CMDF_UNMAP = 1u << 3,
    CMDF_NDOB = 1u << 4,
    CMDF_WRITES = 1u << 5,        /* modifies the medium: counts for range locks */
    CMDF_DEALLOC = 1u << 6,       /* deallocates its range on success */
    CMDF_ANSWER = 1u << 7,        /* data-in built in memory: buf is allocated by scst_respond */
};

struct scst_cmd_private {
    struct scsi_cmd *cmd;
    struct scst_core *core;
    struct scst_session *sess;
    struct scst_nexus *nx;        /* NULL for an unmapped LUN */
    struct scst_device *dev;
    const struct scst_opdesc *op;
    enum scst_cmd_state state;
    bool in_exec;                 /* inside scst_cmd_exec: completions are deferred */
    bool finish_deferred;
    bool abort_requested;         /* a TMF ended it */
    bool abort_silent;            /* no response (the issuing nexus, or TAS=0) */
    uint32_t flags;               /* CMDF_* */
    uint64_t lba;
    uint64_t nblocks;
    uint32_t buf_cap;             /* capacity of buf (cached buffer classes) */
    uint64_t write_seq;           /* for range locks, when CMDF_WRITES */
    struct scst_range_lock lock;
    struct scst_tmf_wait *waiters;
    struct scst_cmd_private *sess_prev, *sess_next;
    struct scst_cmd_private *set_prev, *set_next;
    struct scst_cmd_private *park_prev, *park_next;
    bool parked;                  /* a write waiting for a range lock */
    bool write_started;           /* counted by range locks created after it */
    /* I/O */
    struct umc_bio bio;
    struct iovec iov;
    uint8_t *aux;                 /* scratch buffer of multi-step commands (not zeroed) */
    size_t aux_len;
    uint32_t aux_cap;             /* capacity of aux (cached buffer classes) */
    uint64_t pos;                 /* progress of chunked commands */
    scst_step_fn step;            /* continuation after the current bio */
    void *opdata;                 /* per-command state of complex commands */
    scst_step_fn cancel;          /* ends a command whose work goes on without it */
    struct scst_cmd_private *free_next;
};

/* ---- the core ------------------------------------------------------------------------------- */

/* Data buffers are recycled per core by power-of-two class, 4 KiB << 0 ..
 * 4 KiB << (SCST_BUF_CLASSES - 1) = 2 MiB, up to SCST_BUF_CACHE_BYTES held
 * idle: a 1 MiB READ then costs no allocation and no page faults.  Cached
 * buffers are not zeroed (see scst_buf_get). */
#define SCST_BUF_MIN_SHIFT 12
#define SCST_BUF_CLASSES 10
#define SCST_BUF_CACHE_BYTES (64u << 20)

struct scst_buf {
    struct scst_buf *next;
};

/* An I_T nexus that was lost (its session closed), remembered so that the
 * same nexus logging in again is told I_T NEXUS LOSS OCCURRED. */
struct scst_lost_nexus {
    char *target, *initiator_port;
    uint16_t tpid;
    struct scst_lost_nexus *next;  /* oldest first */
};

struct scst_core {
    struct umc_node *node;
    char *state_dir;
    struct scst_device *devices;
    struct scst_target *targets;
    struct scst_session *sessions;
    struct scst_target *legacy_template;   /* [GROUP]/[ASSIGNMENT] applied to new targets */
    bool own_tcmu_host;
    uint16_t op_index[256];       /* first table entry + 1 for each opcode, 0 = none */
    struct scst_cmd_private *free_privs;
    unsigned nfree_privs;
    struct scst_buf *buf_cache[SCST_BUF_CLASSES];
    size_t buf_cache_bytes;
    struct scst_lost_nexus *lost;  /* at most SCST_LOST_NEXUS_MAX, oldest first */
    unsigned nlost;
};

/* ---- the opcode table (scst_opcodes.c) ---------------------------------------------------- */

enum {
    OPF_SA = 1u << 0,             /* has service actions (byte 1, bits 4-0) */
    OPF_NO_UA = 1u << 1,          /* not stopped by a unit attention */
    OPF_NO_LUN = 1u << 2,         /* works on an unmapped LUN */
    OPF_MEDIUM = 1u << 3,         /* needs the medium (NOT READY when ejected) */
    OPF_WRITE = 1u << 4,          /* modifies the medium: write protection applies */
    OPF_SPC2_OK = 1u << 5,        /* allowed under another nexus' RESERVE(6/10) */
    OPF_PR_ANY = 1u << 6,         /* allowed under any persistent reservation */
    OPF_PR_READ = 1u << 7,        /* allowed for non-holders of Write Exclusive types */
    OPF_SANITIZE_OK = 1u << 8,    /* allowed while a sanitize runs */
    OPF_DATA_OUT = 1u << 9,       /* the data length must match what the initiator sends */
    OPF_ORDERED = 1u << 10,       /* runs alone on the LU, like an ORDERED task */
    OPF_SHORT_WRITE = 1u << 11,   /* runs on whole blocks of a short data-out (EDTL < TL) */
};

/* Which LUs have the command. */
enum { AVAIL_ALL, AVAIL_THIN, AVAIL_REMOVABLE };

struct scst_opdesc {
    uint8_t opcode;
    uint8_t sa;
    uint8_t cdb_len;
    uint8_t avail;
    uint16_t flags;
    uint16_t timeout;             /* nominal seconds, for RCTD */
    uint8_t usage[16];            /* CDB usage data: the bits this server looks at */
    int (*parse)(struct scst_cmd_private *p);
    void (*exec)(struct scst_cmd_private *p);
};

void scst_opcodes_index(struct scst_core *core);
/* The table entry for (opcode, service action), whatever the LU. */
const struct scst_opdesc *scst_opcode_find(const struct scst_core *core, uint8_t opcode,
                                           uint8_t sa);
bool scst_opcode_has_sa(const struct scst_core *core, uint8_t opcode);
bool scst_opcode_available(const struct scst_opdesc *op, const struct scst_device *dev);
const struct scst_opdesc *scst_opcode_table(size_t *n);

/* ---- sense and completion (scst_sense.c, scst_cmd.c) ------------------------------------- */

void scst_fail(struct scst_cmd_private *p, uint8_t key, uint16_t asc);
void scst_fail_field(struct scst_cmd_private *p, uint8_t key, uint16_t asc, struct scst_field f);
void scst_fail_info(struct scst_cmd_private *p, uint8_t key, uint16_t asc, uint64_t info);
void scst_fail_progress(struct scst_cmd_private *p, uint8_t key, uint16_t asc, uint16_t progress);
void scst_fail_status(struct scst_cmd_private *p, uint8_t status);
int scst_invalid_cdb(struct scst_cmd_private *p, uint16_t byte, int bit);
int scst_invalid_param(struct scst_cmd_private *p, uint16_t byte, int bit);
/* Build sense into out (fixed or descriptor); returns its length. */
unsigned scst_build_sense(uint8_t *out, bool descriptor, uint8_t key, uint16_t asc,
                          const uint64_t *info, const uint8_t *sks);
bool scst_dev_descriptor_sense(const struct scst_device *dev);
/* Map a bio error to sense. */
void scst_fail_errno(struct scst_cmd_private *p, int err, bool writing);

/* The command is finished (status and sense set): leave the task set, notify, done. */
void scst_cmd_complete(struct scst_cmd_private *p);
/* Copy a built response to the data-in buffer (allocated here, for the bytes
 * sent), truncated to the allocation length. */
void scst_respond(struct scst_cmd_private *p, const void *data, size_t len);
/* The command transfers len bytes in direction dir (parse only; the buffer
 * is allocated when parse succeeds). */
void scst_cmd_set_data(struct scst_cmd_private *p, enum scsi_dir dir, uint32_t len);
/* Data-in answered from memory: alloc is the CDB's ALLOCATION LENGTH, max
 * the longest answer the command can build; data_len is the smaller, and the
 * buffer is only allocated by scst_respond, for what the answer holds. */
void scst_cmd_set_data_in(struct scst_cmd_private *p, uint32_t alloc, uint32_t max);
struct umc_node *scst_node_of(const struct scst_cmd_private *p);

/* ---- I/O helpers (scst_io.c) --------------------------------------------------------------- */

/* Submit one bio for the command; step runs when it completes (bio.status set). */
void scst_io_submit(struct scst_cmd_private *p, enum umc_bio_op op, uint32_t flags, uint64_t lba,
                    uint64_t nblocks, void *buf, scst_step_fn step);
/* The same on another device (EXTENDED COPY). */
void scst_io_submit_dev(struct scst_cmd_private *p, struct scst_device *dev, enum umc_bio_op op,
                        uint32_t flags, uint64_t lba, uint64_t nblocks, void *buf, scst_step_fn step);
/* Finish with GOOD, or with the sense for the bio's error. */
void scst_io_finish(struct scst_cmd_private *p);
uint32_t scst_write_flags(const struct scst_cmd_private *p);
bool scst_range_lock_acquire(struct scst_cmd_private *p, uint64_t lba, uint64_t count);
void scst_range_lock_release(struct scst_cmd_private *p);
/* Must a write wait for a held range lock?  Then it is parked and false is returned. */
bool scst_range_write_may_start(struct scst_cmd_private *p);
void scst_range_write_done(struct scst_cmd_private *p);
void *scst_aux_alloc(struct scst_cmd_private *p, size_t len);

/* ---- devices and the core (scst_core.c, scst_device.c) ----------------------------------- */

struct scst_device *scst_device_lookup(struct scst_core *core, const char *name);
void scst_devices_free(struct scst_core *core);
int scst_device_open(struct scst_device *dev);
void scst_device_close(struct scst_device *dev);
bool scst_device_write_protected(const struct scst_device *dev, const struct scst_nexus *nx);
void scst_device_refresh_capacity(struct scst_device *dev);
void scst_device_mode_load(struct scst_device *dev);
void scst_device_mode_save(struct scst_device *dev);
char *scst_state_path(struct scst_core *core, const char *prefix, const char *devname);
/* A buffer of at least len bytes (its capacity in *cap), NOT zeroed: the
 * caller overwrites what it exposes.  Back with scst_buf_put(buf, cap). */
void *scst_buf_get(struct scst_core *core, uint32_t len, uint32_t *cap);
void scst_buf_put(struct scst_core *core, void *buf, uint32_t cap);

/* ---- sessions and unit attentions (scst_session.c) --------------------------------------- */

/* Who gets a unit attention: see the rule at the top of scst_session.c. */
void scst_ua_add(struct scst_nexus *nx, uint16_t asc);
/* Every nexus of dev except skip's, the session whose own command caused
 * the event (NULL: every nexus, as for a reset). */
void scst_ua_dev(struct scst_device *dev, uint16_t asc, const struct scst_session *skip);
void scst_ua_clear(struct scst_nexus *nx);
bool scst_ua_pop(struct scst_nexus *nx, uint16_t *asc);
struct scst_nexus *scst_session_nexus(struct scst_session *s, uint64_t lun);
void scst_session_cmd_done(struct scst_session *s);
void scst_sessions_remap(struct scst_core *core, struct scst_target *tgt);
void scst_nexus_put(struct scst_nexus *nx);
/* The target goes: its sessions stay valid for the transport but see no LUN. */
void scst_target_orphan_sessions(struct scst_target *tgt);
void scst_sessions_free_all(struct scst_core *core);
void scst_lost_nexus_free_all(struct scst_core *core);

/* ---- targets (scst_target.c) --------------------------------------------------------------- */

struct scst_target *scst_target_lookup(struct scst_core *core, const char *name);
struct scst_group *scst_group_lookup(struct scst_target *tgt, const char *group);
struct scst_group *scst_group_for_initiator(struct scst_target *tgt, const char *initiator);
bool scst_name_list_has(const struct scst_name *list, const char *name);
int scst_name_list_add(struct umc_node *n, struct scst_name **list, const char *name);
void scst_name_list_free(struct umc_node *n, struct scst_name **list);
void scst_targets_free(struct scst_core *core);
struct scst_target *scst_legacy_template(struct scst_core *core);
int scst_group_remove(struct scst_core *core, const char *target, const char *group);
int scst_template_group_add(struct scst_core *core, const char *group);
int scst_template_lun_add(struct scst_core *core, const char *group, uint64_t lun,
                          struct scst_device *dev);
int scst_template_initiator_add(struct scst_core *core, const char *group, const char *initiator);

/* ---- the task set and task management (scst_taskset.c, scst_tmf.c) ------------------------ */

/* Enter the task set: runs now, or waits behind ORDERED tasks. */
void scst_taskset_enter(struct scst_cmd_private *p);
void scst_taskset_leave(struct scst_cmd_private *p);
void scst_tmf_notify_finished(struct scst_cmd_private *p);
struct scst_tmf_wait;
void scst_tmf_notify_list(struct scst_core *core, struct scst_tmf_wait *w);
/* Abort the commands of dev (all nexuses, or only sess's) as by issuer. */
struct scst_tmf_req;
/* Abort the commands of dev (of every nexus, or only of sessions matching
 * only) on behalf of issuer; req (may be NULL) waits for them. */
void scst_abort_dev_tasks(struct scst_device *dev, const struct scst_session *only,
                          const struct scst_session *issuer, struct scst_tmf_req *req);
void scst_qerr_abort(struct scst_cmd_private *failed);
/* Run exec (or a continuation) with completions deferred past it. */
void scst_cmd_dispatch(struct scst_cmd_private *p);
void scst_cmd_resume(struct scst_cmd_private *p, scst_step_fn fn);
void scst_cmd_flush_deferred(struct scst_cmd_private *p);
/* Drop a parked write or a waiting range lock (abort). */
void scst_range_forget(struct scst_cmd_private *p);

/* ---- command families --------------------------------------------------------------------- */

/* scst_spc.c */
int scst_parse_none(struct scst_cmd_private *p);
int scst_parse_alloc_len16_at3(struct scst_cmd_private *p);
int scst_parse_inquiry(struct scst_cmd_private *p);
void scst_exec_inquiry(struct scst_cmd_private *p);
int scst_parse_request_sense(struct scst_cmd_private *p);
void scst_exec_request_sense(struct scst_cmd_private *p);
int scst_parse_report_luns(struct scst_cmd_private *p);
void scst_exec_report_luns(struct scst_cmd_private *p);
void scst_exec_test_unit_ready(struct scst_cmd_private *p);
int scst_parse_maint_in(struct scst_cmd_private *p);
void scst_exec_rtpg(struct scst_cmd_private *p);
void scst_exec_report_tmfs(struct scst_cmd_private *p);
/* scst_vpd.c */
void scst_exec_vpd(struct scst_cmd_private *p);
size_t scst_vpd_designators(const struct scst_device *dev, const struct scst_session *s, uint8_t *out);
/* scst_rsoc.c */
int scst_parse_rsoc(struct scst_cmd_private *p);
void scst_exec_rsoc(struct scst_cmd_private *p);
/* scst_mode.c */
int scst_parse_mode_sense(struct scst_cmd_private *p);
void scst_exec_mode_sense(struct scst_cmd_private *p);
int scst_parse_mode_select(struct scst_cmd_private *p);
void scst_exec_mode_select(struct scst_cmd_private *p);
/* scst_sbc.c */
int scst_parse_rw(struct scst_cmd_private *p);
void scst_exec_read(struct scst_cmd_private *p);
void scst_exec_write(struct scst_cmd_private *p);
int scst_parse_verify(struct scst_cmd_private *p);
void scst_exec_verify(struct scst_cmd_private *p);
int scst_parse_write_verify(struct scst_cmd_private *p);
void scst_exec_write_verify(struct scst_cmd_private *p);
int scst_parse_caw(struct scst_cmd_private *p);
void scst_exec_caw(struct scst_cmd_private *p);
int scst_parse_orwrite(struct scst_cmd_private *p);
void scst_exec_orwrite(struct scst_cmd_private *p);
int scst_parse_write_atomic(struct scst_cmd_private *p);
void scst_exec_write_atomic(struct scst_cmd_private *p);
int scst_parse_lba_range(struct scst_cmd_private *p, uint64_t lba, uint64_t count);
/* scst_sbc_misc.c */
int scst_parse_read_capacity10(struct scst_cmd_private *p);
void scst_exec_read_capacity10(struct scst_cmd_private *p);
int scst_parse_read_capacity16(struct scst_cmd_private *p);
void scst_exec_read_capacity16(struct scst_cmd_private *p);
int scst_parse_sync_cache(struct scst_cmd_private *p);
void scst_exec_sync_cache(struct scst_cmd_private *p);
int scst_parse_prefetch(struct scst_cmd_private *p);
void scst_exec_prefetch(struct scst_cmd_private *p);
int scst_parse_start_stop(struct scst_cmd_private *p);
void scst_exec_start_stop(struct scst_cmd_private *p);
int scst_parse_prevent_allow(struct scst_cmd_private *p);
void scst_exec_prevent_allow(struct scst_cmd_private *p);
int scst_parse_read_defect(struct scst_cmd_private *p);
void scst_exec_read_defect(struct scst_cmd_private *p);
/* scst_thin.c */
int scst_parse_write_same(struct scst_cmd_private *p);
void scst_exec_write_same(struct scst_cmd_private *p);
int scst_parse_unmap(struct scst_cmd_private *p);
void scst_exec_unmap(struct scst_cmd_private *p);
int scst_parse_get_lba_status(struct scst_cmd_private *p);
void scst_exec_get_lba_status(struct scst_cmd_private *p);
void scst_extents_mark_mapped(struct scst_device *dev, uint64_t lba, uint64_t count);
void scst_extents_mark_unmapped(struct scst_device *dev, uint64_t lba, uint64_t count);
bool scst_extents_is_unmapped(const struct scst_device *dev, uint64_t lba, uint64_t *run);
void scst_extents_free(struct scst_core *core, struct scst_extents *x);
/* scst_sanitize.c */
int scst_parse_sanitize(struct scst_cmd_private *p);
void scst_exec_sanitize(struct scst_cmd_private *p);
bool scst_sanitize_running(const struct scst_device *dev, uint16_t *progress);
void scst_sanitize_free(struct scst_device *dev);
/* scst_resv.c */
int scst_parse_reserve(struct scst_cmd_private *p);
void scst_exec_reserve(struct scst_cmd_private *p);
void scst_exec_release(struct scst_cmd_private *p);
bool scst_reservation_conflict(struct scst_cmd_private *p);
void scst_spc2_release_session(struct scst_device *dev, struct scst_session *s);
/* scst_pr.c, scst_pr_out.c, scst_pr_store.c */
int scst_parse_prin(struct scst_cmd_private *p);
void scst_exec_prin(struct scst_cmd_private *p);
int scst_parse_prout(struct scst_cmd_private *p);
void scst_exec_prout(struct scst_cmd_private *p);
struct scst_pr_reg *scst_pr_find(struct scst_device *dev, const char *port, uint16_t tpid);
bool scst_pr_is_holder(const struct scst_device *dev, const struct scst_pr_reg *reg);
bool scst_pr_conflict(struct scst_cmd_private *p);
void scst_pr_free(struct scst_core *core, struct scst_pr_state *pr);
void scst_pr_load(struct scst_device *dev);
void scst_pr_save(struct scst_device *dev);
size_t scst_transport_id(const char *initiator_port, uint8_t *out, size_t max);
/* scst_xcopy.c */
int scst_parse_xcopy(struct scst_cmd_private *p);
void scst_exec_xcopy(struct scst_cmd_private *p);
int scst_parse_rcr(struct scst_cmd_private *p);
void scst_exec_rcr(struct scst_cmd_private *p);
size_t scst_vpd_third_party_copy(uint8_t *out);
void scst_copy_results_free(struct scst_session *s);

/* ---- TMF bookkeeping ------------------------------------------------------------------------- */

struct scst_tmf_wait {
    struct scst_tmf_req *req;
    struct scst_tmf_wait *next;
};

#endif
