/* iscsi: an RFC 7143 target over the scst core, and an initiator library.
 *
 * Target: portals (umc listeners), login with security and operational
 * negotiation, CHAP (one-way and mutual), discovery and normal sessions, the
 * CmdSN window, immediate/unsolicited data and R2T, Data-In with status,
 * NOP-In/Out, task management, Logout, Reject, CRC32C digests, session and
 * connection reinstatement, ERL 0, one connection per session.  SCSI semantics live in scst/; this layer moves PDUs.
 *
 * Initiator: the same PDU code from the other side, written against umc, so
 * the simulator and the tests drive the target with real PDUs.
 */
#ifndef ISCSI_H
#define ISCSI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scst/scst.h"
#include "umc/umc.h"

/* ---- target ---------------------------------------------------------------------------- */

struct iscsi_server;

/* Per-target operational parameters: the keys of iscsi-scstd.conf. */
struct iscsi_target_params {
    uint32_t queued_commands;            /* CmdSN window (MaxCmdSN - ExpCmdSN + 1) */
    uint32_t max_recv_data_segment_length;
    uint32_t max_xmit_data_segment_length;
    uint32_t max_burst_length, first_burst_length;
    uint32_t max_outstanding_r2t;
    uint32_t default_time2wait, default_time2retain;
    uint32_t max_connections, max_sessions;  /* max_sessions 0 = unlimited */
    uint32_t error_recovery_level;
    bool initial_r2t, immediate_data, data_pdu_in_order, data_sequence_in_order;
    bool header_digest_crc32c, header_digest_none;  /* what the target accepts */
    bool data_digest_crc32c, data_digest_none;
    uint32_t nop_in_interval, nop_in_timeout, rsp_timeout; /* seconds, 0 = off */
};
void iscsi_default_params(struct iscsi_target_params *p);

struct iscsi_server *iscsi_server_new(struct umc_node *n, struct scst_core *core);
void iscsi_server_free(struct iscsi_server *srv); /* closes portals and sessions */
struct iscsi_server *iscsi_server_of(struct umc_node *n); /* UMC_SLOT_ISCSI */

/* Listen on "host:port"; 0 or -errno. */
int iscsi_server_add_portal(struct iscsi_server *srv, const char *addr);
/* The address SendTargets advertises for portal addresses like 0.0.0.0. */
void iscsi_server_set_advertised_addr(struct iscsi_server *srv, const char *addr);

/* Set one iscsi-scstd.conf key for target ("MaxBurstLength", "65536");
 * target NULL = the defaults for every target.  0, or -EINVAL with a message. */
int iscsi_target_set_param(struct iscsi_server *srv, const char *target, const char *key,
                           const char *value, char *err, size_t errlen);
/* CHAP: the initiator must authenticate as user/secret (incoming); with
 * mutual set the target answers as mutual_user/mutual_secret (outgoing).
 * target NULL = discovery sessions. */
int iscsi_target_set_chap(struct iscsi_server *srv, const char *target, const char *user,
                          const char *secret, const char *mutual_user, const char *mutual_secret);

struct iscsi_session_info {
    const char *target, *initiator;
    uint64_t isid;
    uint16_t tsih;
    unsigned connections;
    bool discovery;
    bool header_digest, data_digest;
    uint64_t commands, bytes_in, bytes_out;
};
typedef void (*iscsi_session_fn)(void *arg, const struct iscsi_session_info *info);
void iscsi_foreach_session(struct iscsi_server *srv, iscsi_session_fn fn, void *arg);

/* scst.conf TARGET_DRIVER iscsi attributes go here (as scst_conf_hooks). */
int iscsi_conf_target_attr(void *srv, const char *driver, const char *target, const char *key,
                           const char *value, char *err, size_t errlen);
int iscsi_conf_driver_attr(void *srv, const char *driver, const char *key, const char *value,
                           char *err, size_t errlen);

/* ---- initiator ---------------------------------------------------------------------------- */

struct iscsi_ini;

struct iscsi_ini_opts {
    const char *portal;           /* "host:port" */
    const char *target;           /* NULL: a discovery session */
    const char *initiator;        /* initiator name */
    uint64_t isid;                /* 0: derived from the node's random stream */
    bool header_digest, data_digest;
    const char *chap_user, *chap_secret;            /* NULL: no CHAP */
    const char *mutual_user, *mutual_secret;        /* NULL: one-way */
    bool want_immediate_data, want_initial_r2t;     /* our proposals */
    uint32_t max_recv_data_segment_length;          /* 0: 262144 */
    uint32_t max_burst_length, first_burst_length;  /* 0: 16776192, 262144 */
    mte_time_t timeout;           /* a command or login with no answer fails; 0: 30 s */
};

/* rc 0, or -errno; login failures carry the status class/detail in msg. */
typedef void (*iscsi_ini_login_fn)(void *arg, int rc, const char *msg);
/* The outcome of a SCSI command. rc < 0: it never completed (connection lost,
 * timeout, aborted); else status, sense, the bytes read and the residual. */
struct iscsi_ini_result {
    int rc;
    uint8_t status;
    const uint8_t *sense;
    unsigned sense_len;
    uint32_t data_len;            /* READ: bytes placed in the buffer */
    uint32_t residual;
    bool overflow, underflow;
};
typedef void (*iscsi_ini_cmd_fn)(void *arg, const struct iscsi_ini_result *r);

struct iscsi_ini *iscsi_ini_new(struct umc_node *n, const struct iscsi_ini_opts *opts);
void iscsi_ini_free(struct iscsi_ini *ini);   /* drops the connection; pending commands fail */
void iscsi_ini_login(struct iscsi_ini *ini, iscsi_ini_login_fn done, void *arg);
bool iscsi_ini_logged_in(const struct iscsi_ini *ini);
/* Issue a SCSI command.  dir READ: up to len bytes land in buf; WRITE: len
 * bytes of buf are sent (immediate, unsolicited and R2T'd as negotiated). */
void iscsi_ini_command(struct iscsi_ini *ini, uint64_t lun, const uint8_t *cdb, unsigned cdb_len,
                       enum scsi_dir dir, void *buf, uint32_t len, iscsi_ini_cmd_fn done,
                       void *arg);
/* Task management; done(arg, response) with the TMF response code or -errno. */
void iscsi_ini_tmf(struct iscsi_ini *ini, enum scst_tmf fn, uint64_t lun, uint64_t ref_tag,
                   void (*done)(void *arg, int response), void *arg);
/* SendTargets=All on a discovery (or normal) session; text is the raw
 * key=value list, NUL-separated, for the callback's duration. */
void iscsi_ini_send_targets(struct iscsi_ini *ini,
                            void (*done)(void *arg, int rc, const char *text, size_t len), void *arg);
void iscsi_ini_logout(struct iscsi_ini *ini, iscsi_ini_login_fn done, void *arg);
/* The task tag the next command will use (for ABORT TASK in tests). */
uint32_t iscsi_ini_next_itt(const struct iscsi_ini *ini);
/* NOP-Out ping with data; done(arg, rc, echoed data, len) when the NOP-In
 * comes back (rc 0) or the ping failed (-errno). */
void iscsi_ini_nop(struct iscsi_ini *ini, const void *data, uint32_t len,
                   void (*done)(void *arg, int rc, const void *data, uint32_t len), void *arg);
/* What login negotiated (valid after a successful login). */
struct iscsi_ini_negotiated {
    bool header_digest, data_digest, initial_r2t, immediate_data;
    uint32_t max_burst_length, first_burst_length, max_outstanding_r2t;
    uint32_t target_max_recv_data_segment_length;   /* what we may send */
    uint32_t max_recv_data_segment_length;          /* what we declared */
    uint16_t tsih;
};
void iscsi_ini_negotiated(const struct iscsi_ini *ini, struct iscsi_ini_negotiated *out);

#endif
