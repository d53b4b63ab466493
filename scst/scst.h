/* scst: the SCSI target core.
 *
 * Devices ("vdisk" LUs over a bdev), targets with LUN maps and initiator
 * groups, sessions (I_T nexuses), and SPC-4/SBC-3 emulation running commands
 * asynchronously, many in flight per LU.  A transport (iscsi/) embeds a
 * struct scsi_cmd in its own task and drives it:
 *
 *   scst_cmd_parse(cmd)  the CDB is decoded: direction, data length, buffer.
 *                        Nonzero: the command already failed (status and sense
 *                        are set); the transport reports it without running it.
 *   (WRITE: the transport fills cmd->buf with the data, sets cmd->received)
 *   scst_cmd_exec(cmd)   runs it; cmd->done(cmd) follows, never inside exec.
 *   scst_cmd_release(cmd) after the response is sent (frees the buffer).
 *
 * Every SCSI rule lives here (reservations, unit attentions, sense); the
 * transport only moves bytes and maps residuals.
 */
#ifndef SCST_H
#define SCST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "umc/umc.h"

#define SCSI_MAX_CDB 32
#define SCSI_SENSE_MAX 96

/* SAM status codes */
enum {
    SAM_STAT_GOOD = 0x00,
    SAM_STAT_CHECK_CONDITION = 0x02,
    SAM_STAT_CONDITION_MET = 0x04,
    SAM_STAT_BUSY = 0x08,
    SAM_STAT_RESERVATION_CONFLICT = 0x18,
    SAM_STAT_TASK_SET_FULL = 0x28,
    SAM_STAT_TASK_ABORTED = 0x40,
};

enum scsi_dir { SCSI_DIR_NONE, SCSI_DIR_READ /* to the initiator */, SCSI_DIR_WRITE, SCSI_DIR_BIDI };
enum scsi_task_attr { SCSI_TASK_SIMPLE, SCSI_TASK_ORDERED, SCSI_TASK_HEAD_OF_QUEUE, SCSI_TASK_ACA };

struct scst_core;
struct scst_session;
struct scst_device;
struct scst_cmd_private;

struct scsi_cmd {
    /* set by the transport before scst_cmd_parse */
    struct scst_session *sess;
    uint64_t lun;                /* LUN number (the transport decodes SAM's 8-byte form) */
    uint64_t tag;                /* the transport's task tag, for ABORT TASK */
    enum scsi_task_attr attr;
    uint8_t cdb[SCSI_MAX_CDB];
    unsigned cdb_len;
    enum scsi_dir expected_dir;  /* what the initiator said it will transfer */
    uint32_t expected_len;       /* expected data transfer length */
    void (*done)(struct scsi_cmd *cmd);
    void *transport_priv;

    /* set by scst_cmd_parse */
    enum scsi_dir dir;           /* what the CDB transfers */
    uint32_t data_len;           /* bytes the CDB transfers (an ALLOCATION LENGTH is
                                    capped at the longest answer the command has) */
    uint8_t *buf;                /* owned by scst: data_len bytes for a WRITE or a
                                    medium READ; an answer built in memory (INQUIRY,
                                    MODE SENSE, ...) gets one when it is built, for
                                    resp_len bytes (NULL when nothing is sent) */
    /* set by the transport for WRITE: bytes of buf actually received */
    uint32_t received;

    /* results, valid in done */
    uint8_t status;
    uint8_t sense[SCSI_SENSE_MAX];
    unsigned sense_len;
    uint32_t resp_len;           /* READ: bytes of buf to send (<= data_len) */
    bool aborted;                /* ended by task management: send no response */

    struct scst_cmd_private *priv; /* scst's */
};

/* ---- the core -------------------------------------------------------------------- */

struct scst_core *scst_core_new(struct umc_node *n);  /* stored in UMC_SLOT_SCST */
void scst_core_free(struct scst_core *core);           /* no session may remain */
struct scst_core *scst_core_of(struct umc_node *n);
/* Where persistent state (APTPL reservations) is kept: a directory path for
 * umc_read_file/umc_write_file.  Default "/var/lib/scstd". */
void scst_core_set_state_dir(struct scst_core *core, const char *dir);

/* ---- devices -------------------------------------------------------------------- */

struct scst_device_opts {
    const char *name;          /* "disk01" */
    const char *bdev;          /* "tcmu000" or "/UMCfuse/dev/drbd1" */
    uint32_t block_size;       /* logical block size, 512 or 4096; 0 = the bdev's */
    /* Reported physical block (READ CAPACITY(16) LBPPBE, optimal granularities):
     * a power-of-two multiple of block_size; 0 = the logical block size. */
    uint32_t physical_block_size;
    bool read_only;            /* write-protected LU */
    bool removable;            /* removable medium (START STOP UNIT, PREVENT ALLOW) */
    bool thin;                 /* thin provisioned: UNMAP, LBPU/LBPWS, GET LBA STATUS */
    bool write_through;        /* no volatile cache: WCE=0, every write FUA */
    const char *t10_dev_id;    /* VPD 0x83 T10 vendor id (default: the name) */
    const char *serial;        /* VPD 0x80 (default: derived from the name) */
};

/* 0, or -errno with a message in err ("no such block device 'tcmu009'"). */
int scst_device_add(struct scst_core *core, const struct scst_device_opts *opts, char *err,
                    size_t errlen);
int scst_device_remove(struct scst_core *core, const char *name); /* -EBUSY while in a LUN map */
struct scst_device *scst_device_find(struct scst_core *core, const char *name);
const char *scst_device_name(const struct scst_device *dev);

struct scst_lun_stats {
    uint64_t commands, reads, writes, read_bytes, write_bytes, errors, in_flight;
    uint64_t unmaps, flushes;
};
void scst_device_stats(const struct scst_device *dev, struct scst_lun_stats *st);

/* ---- targets, LUN maps, groups ------------------------------------------------- */

int scst_target_add(struct scst_core *core, const char *name);      /* -EEXIST */
int scst_target_remove(struct scst_core *core, const char *name);   /* closes its sessions */
int scst_target_enable(struct scst_core *core, const char *name, bool enabled);
/* group NULL: the target's default LUN map, seen by initiators in no group. */
int scst_group_add(struct scst_core *core, const char *target, const char *group);
int scst_group_add_initiator(struct scst_core *core, const char *target, const char *group,
                             const char *initiator);
int scst_lun_add(struct scst_core *core, const char *target, const char *group, uint64_t lun,
                 const char *device, bool read_only);
int scst_lun_remove(struct scst_core *core, const char *target, const char *group, uint64_t lun);
/* Restrict a target to named initiators (an ACL).  Empty = everyone. */
int scst_target_allow_initiator(struct scst_core *core, const char *target, const char *initiator);
/* Is target enabled and may this initiator log in to it? */
bool scst_target_visible(struct scst_core *core, const char *target, const char *initiator);

/* Enumeration, for SendTargets and the admin client: callbacks in name order. */
typedef void (*scst_name_fn)(void *arg, const char *name);
void scst_foreach_target(struct scst_core *core, scst_name_fn fn, void *arg);
struct scst_lun_info {
    const char *target, *group; /* group NULL = default map */
    uint64_t lun;
    const char *device;
    bool read_only;
};
typedef void (*scst_lun_fn)(void *arg, const struct scst_lun_info *info);
void scst_foreach_lun(struct scst_core *core, const char *target, scst_lun_fn fn, void *arg);

/* ---- sessions -------------------------------------------------------------------- */

/* An I_T nexus.  initiator_port is the SCSI initiator port name
 * ("iqn...,i,0x<ISID>"); target_port_id the relative target port.
 * NULL with *err = -ENOENT (no such target) or -EACCES (not allowed). */
struct scst_session *scst_session_new(struct scst_core *core, const char *target,
                                      const char *initiator, const char *initiator_port,
                                      uint16_t target_port_id, int *err);
/* End the nexus: commands still running complete (their done is still
 * called); then closed(arg) runs and the session is freed. */
void scst_session_close(struct scst_session *s, void (*closed)(void *arg), void *arg);
const char *scst_session_initiator(const struct scst_session *s);
const char *scst_session_target(const struct scst_session *s);
struct scst_session_info {
    const char *target, *initiator, *initiator_port;
    uint64_t commands, in_flight;
};
typedef void (*scst_session_fn)(void *arg, const struct scst_session_info *info);
void scst_foreach_session(struct scst_core *core, scst_session_fn fn, void *arg);

/* ---- commands -------------------------------------------------------------------- */

int scst_cmd_parse(struct scsi_cmd *cmd);
void scst_cmd_exec(struct scsi_cmd *cmd);
void scst_cmd_release(struct scsi_cmd *cmd);

/* Fill cmd's status and sense (fixed format) with a CHECK CONDITION. */
void scst_set_sense(struct scsi_cmd *cmd, uint8_t key, uint8_t asc, uint8_t ascq);

/* ---- task management ------------------------------------------------------------- */

enum scst_tmf {
    SCST_TMF_ABORT_TASK = 1,
    SCST_TMF_ABORT_TASK_SET = 2,
    SCST_TMF_CLEAR_ACA = 3,
    SCST_TMF_CLEAR_TASK_SET = 4,
    SCST_TMF_LUN_RESET = 5,
    SCST_TMF_TARGET_WARM_RESET = 6,
    SCST_TMF_TARGET_COLD_RESET = 7,
};
enum scst_tmf_response {
    SCST_TMF_COMPLETE = 0,
    SCST_TMF_NO_TASK = 1,
    SCST_TMF_NO_LUN = 2,
    SCST_TMF_NOT_SUPPORTED = 5,
    SCST_TMF_REJECTED = 255,
};
/* done(arg, response) runs once every affected command has finished (each
 * aborted command's done runs first, with cmd->aborted set). */
void scst_tmf(struct scst_session *s, enum scst_tmf fn, uint64_t lun, uint64_t ref_tag,
              void (*done)(void *arg, int response), void *arg);

/* ---- configuration (scst.conf) ------------------------------------------------------ */

/* A transport's attributes inside TARGET_DRIVER blocks ("MaxBurstLength 65536")
 * are handed to it: return 0 or -EINVAL with a message in err. */
struct scst_conf_hooks {
    int (*target_attr)(void *arg, const char *driver, const char *target, const char *key,
                       const char *value, char *err, size_t errlen);
    int (*driver_attr)(void *arg, const char *driver, const char *key, const char *value,
                       char *err, size_t errlen);
    void *arg;
};
/* Apply scst.conf text (the nested HANDLER/DEVICE/TARGET_DRIVER/TARGET/LUN/GROUP
 * form, or the legacy [HANDLER vdisk] form).  On error returns -EINVAL with
 * "FILE:LINE: problem" in err. */
int scst_config_apply(struct scst_core *core, const char *text, const char *filename,
                      const struct scst_conf_hooks *hooks, char *err, size_t errlen);

#endif
