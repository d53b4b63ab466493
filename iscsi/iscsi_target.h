/* iscsi_target: the target's private structures.
 *
 *   server   portals, per-target configuration (parameters, CHAP), sessions
 *   conn     one TCP connection: PDU reader, login, numbering, transmit scratch
 *   session  an I_T nexus (one connection, ERL 0): CmdSN window, tasks, scst session
 *   task     one SCSI command, an embedded struct scsi_cmd, pooled per session
 */
#ifndef ISCSI_TARGET_H
#define ISCSI_TARGET_H

#include <sys/uio.h>

#include "iscsi/iscsi.h"
#include "iscsi/iscsi_proto.h"

#define ISCSI_COMP "iscsi"
#define ISCSI_TPGT 1u
#define ISCSI_MAX_R2T 8u               /* R2Ts we keep outstanding per task */
#define ISCSI_SOLICIT_MIN (1536u << 10) /* least solicit window of a session (iscsi_scsi.c) */
#define ISCSI_ABORTED_RING 16u         /* recently aborted ITTs whose Data-Out we drop */
#define ISCSI_TX_HIGH (32u << 20)      /* queued bytes that pause reading new commands */
#define ISCSI_TEXT_MAX 65536u          /* longest accumulated Login/Text request */
#define ISCSI_LOGIN_TIMEOUT (30 * MTE_SEC)

/* ---- configuration ---------------------------------------------------------------------- */

struct iscsi_chap_cfg {
    char *user, *secret;               /* the initiator authenticates as these */
    char *mutual_user, *mutual_secret; /* the target answers as these */
};

struct iscsi_tgt_cfg {
    struct iscsi_tgt_cfg *next;
    char *name;
    struct iscsi_target_params params; /* fields named in set_mask override the defaults */
    uint32_t set_mask;
    struct iscsi_chap_cfg chap;
};

struct iscsi_portal {
    struct iscsi_portal *next;
    struct umc_listener *listener;
    char addr[UMC_ADDR_MAX];
};

struct iscsi_conn;
struct iscsi_session;

struct iscsi_server {
    struct umc_node *node;
    struct scst_core *core;
    struct iscsi_portal *portals;
    char *advertised;
    struct iscsi_target_params defaults;
    struct iscsi_tgt_cfg *targets;
    struct iscsi_chap_cfg discovery_chap;
    struct iscsi_conn *conns, *conns_tail;          /* every connection, in accept order */
    struct iscsi_session *sessions, *sessions_tail; /* live sessions, in login order */
    unsigned allocated_sessions;                    /* including those still draining */
    uint16_t next_tsih;
    bool freeing;
};

/* ---- tasks -------------------------------------------------------------------------------- */

struct iscsi_r2t {
    uint32_t ttt, offset, len, got, next_datasn;
};

struct iscsi_task {
    struct scsi_cmd cmd;
    struct iscsi_session *sess;
    struct iscsi_task *hash_next;
    struct iscsi_task *prev, *next;    /* session list, arrival order; free list */
    struct iscsi_task *held_next;      /* waiting for its CmdSN */
    uint32_t itt, cmdsn, edtl;
    uint64_t lun_raw;
    uint8_t pdu_flags;                 /* R / W / F of the command PDU */
    bool immediate, held, in_hash, counted, parsed;
    bool executing, aborted, admitted;
    bool failed;                       /* fail with sense after the data phase */
    uint32_t epoch;                    /* the session's connection it came on */
    uint32_t need;                     /* bytes of cmd->buf the command needs */
    uint32_t unsol_len;                /* immediate + unsolicited Data-Out bytes */
    uint32_t unsol_got;                /* of them, arrived */
    uint32_t unsol_datasn;
    bool unsol_done;
    uint32_t r2t_offset, r2t_end;      /* solicited range still to request */
    uint32_t r2tsn;
    unsigned r2t_count;
    struct iscsi_r2t r2t[ISCSI_MAX_R2T];
};

/* ---- connections and sessions ---------------------------------------------------------------- */

enum iscsi_conn_state { CONN_LOGIN, CONN_FFP, CONN_CLOSING, CONN_DEAD };

struct iscsi_login;

struct iscsi_conn {
    struct iscsi_server *srv;
    struct umc_node *node;
    struct umc_conn *uc;
    struct iscsi_session *sess;
    struct iscsi_conn *prev, *next;
    enum iscsi_conn_state state;
    struct iscsi_login *login;
    struct iscsi_target_params params; /* of the target logged in to */
    uint16_t cid;
    uint32_t stat_sn;
    uint32_t max_recv_dsl;             /* we receive */
    uint32_t max_xmit_dsl;             /* we send */
    bool header_digest, data_digest;
    /* the PDU being read */
    struct iscsi_rx rx;
    struct iscsi_task *rx_task;        /* Data-Out / immediate data destination */
    struct iscsi_r2t *rx_r2t;          /* the R2T a Data-Out answers, NULL: unsolicited */
    unsigned rx_verdict;               /* a Reject to send once the data is consumed */
    bool rx_ignore;                    /* consume and drop this PDU */
    /* transmit scratch: headers, pads and digests of one response */
    uint8_t *tx;
    size_t tx_cap, tx_used;
    struct iovec *iov;
    unsigned iov_cap, iov_cnt;
    /* text (SendTargets) continuation */
    char *text_req;
    size_t text_req_len;
    char *text_rsp;
    size_t text_rsp_len, text_rsp_off;
    uint32_t text_ttt;
    /* liveness */
    struct mte_timer nop_timer, login_timer, kick_timer;
    struct mte_timer r2t_timer;        /* a task's end freed solicit window */
    uint32_t nop_ttt;
    bool nop_waiting;
    unsigned in_rx;                    /* inside the reader: free later */
    bool free_pending, paused, close_after_send;
    uint8_t rxbuf[ISCSI_RX_BUF];
};

struct iscsi_session {
    struct iscsi_server *srv;
    struct iscsi_session *prev, *next;
    char *target, *initiator;
    uint64_t isid;
    uint16_t tsih;
    bool discovery;
    struct scst_session *scst;
    struct iscsi_conn *conn;
    uint32_t epoch;                    /* +1 per connection reinstatement: older tasks are mute */
    /* negotiated */
    bool initial_r2t, immediate_data, header_digest, data_digest;
    uint32_t first_burst, max_burst, max_outstanding_r2t, time2wait, time2retain;
    uint32_t window;
    /* numbering */
    uint32_t exp_cmdsn, max_cmdsn;
    unsigned active, immediate_active;
    /* tasks */
    struct iscsi_task **hash;
    uint32_t hash_mask;
    struct iscsi_task *tasks, *tasks_tail;
    struct iscsi_task *free_tasks;
    struct iscsi_task *held;           /* sorted by CmdSN */
    uint32_t next_ttt;
    uint32_t solicited;                /* bytes asked for by R2Ts, not yet arrived */
    bool r2t_blocked, r2t_waking;      /* a task waits for solicit window; it is being given */
    uint32_t aborted_itt[ISCSI_ABORTED_RING];
    unsigned aborted_pos;
    unsigned tmfs_pending;
    bool ending, scst_closed;
    uint64_t commands, bytes_in, bytes_out;
};

/* ---- server (iscsi_server.c) ---------------------------------------------------------------------- */

void iscsi_resolve_params(struct iscsi_server *srv, const char *target, struct iscsi_target_params *p);
const struct iscsi_chap_cfg *iscsi_chap_for(struct iscsi_server *srv, const char *target);
bool iscsi_target_exists(struct iscsi_server *srv, const char *target);
/* TargetAddress values for SendTargets answered on conn. */
void iscsi_add_target_addresses(struct iscsi_conn *conn, struct iscsi_text *t);
void iscsi_server_session_gone(struct iscsi_server *srv);
uint16_t iscsi_server_new_tsih(struct iscsi_server *srv);
void *iscsi_text_grow(void *node, void *old, size_t size);

/* ---- connections (iscsi_conn.c) ----------------------------------------------------------------------- */

void iscsi_conn_accept(struct iscsi_server *srv, struct umc_conn *uc);
/* Drop the connection (graceful: queued responses still leave). */
void iscsi_conn_drop(struct iscsi_conn *conn, const char *why);
void iscsi_conn_enter_ffp(struct iscsi_conn *conn);
/* Transmit: begin a response of up to npdu PDUs, add PDUs, send. */
void iscsi_tx_begin(struct iscsi_conn *conn, unsigned npdu);
void iscsi_tx_pdu(struct iscsi_conn *conn, uint8_t *bhs, const void *data, uint32_t dlen);
void iscsi_tx_send(struct iscsi_conn *conn);
/* One PDU at once; fills StatSN (advancing it if status), ExpCmdSN, MaxCmdSN. */
void iscsi_send_pdu(struct iscsi_conn *conn, uint8_t *bhs, const void *data, uint32_t dlen);
void iscsi_fill_sn(struct iscsi_conn *conn, uint8_t *bhs, bool advance_statsn);
void iscsi_send_reject(struct iscsi_conn *conn, unsigned reason, const uint8_t *bhs);

/* ---- login (iscsi_login.c) ------------------------------------------------------------------------- */

struct iscsi_login *iscsi_login_new(struct iscsi_conn *conn);
void iscsi_login_free(struct iscsi_conn *conn);
/* A Login Request PDU while in the login phase; < 0 when the connection went. */
int iscsi_login_pdu(struct iscsi_conn *conn, const uint8_t *bhs, const uint8_t *data, uint32_t dlen);
/* Any other PDU during login. */
void iscsi_login_reject_pdu(struct iscsi_conn *conn, const uint8_t *bhs);

/* ---- sessions (iscsi_session.c) ----------------------------------------------------------------------- */

struct iscsi_session *iscsi_session_new(struct iscsi_server *srv, const struct iscsi_neg *neg,
                                        uint64_t isid, const struct iscsi_target_params *p);
struct iscsi_session *iscsi_session_find(struct iscsi_server *srv, const char *initiator,
                                         const char *target, uint64_t isid, bool discovery);
struct iscsi_session *iscsi_session_by_tsih(struct iscsi_server *srv, uint16_t tsih);
/* The connection is gone: abort what waits for data, close the nexus, free when drained. */
void iscsi_session_end(struct iscsi_session *sess);
/* Connection reinstatement (RFC 7143 6.3.4, ERL 0): conn takes the place of
 * the session's connection, whose tasks end without a word; the nexus and
 * its state stay.  cmdsn: the login's, where numbering resumes. */
void iscsi_session_replace_conn(struct iscsi_session *sess, struct iscsi_conn *conn, uint32_t cmdsn);
void iscsi_session_maybe_free(struct iscsi_session *sess);
uint32_t iscsi_session_max_cmdsn(struct iscsi_session *sess);
/* Non-immediate PDUs other than SCSI commands: advance ExpCmdSN when in order.
 * False if the CmdSN is outside the window (the PDU is to be ignored). */
bool iscsi_session_cmdsn_ok(struct iscsi_session *sess, const uint8_t *bhs);
void iscsi_session_consume_cmdsn(struct iscsi_session *sess, const uint8_t *bhs);
struct iscsi_task *iscsi_task_get(struct iscsi_session *sess);
struct iscsi_task *iscsi_task_find(struct iscsi_session *sess, uint32_t itt);
void iscsi_task_hash_add(struct iscsi_task *t);
/* The task stops counting against the window (it is answered). */
void iscsi_task_uncount(struct iscsi_task *t);
void iscsi_task_put(struct iscsi_task *t);
/* A task that never reached scst (or finished there) goes away quietly. */
void iscsi_task_abort_local(struct iscsi_task *t);
bool iscsi_itt_recently_aborted(struct iscsi_session *sess, uint32_t itt);

/* ---- SCSI commands (iscsi_scsi.c) --------------------------------------------------------------------- */

/* on_header of a SCSI Command / Data-Out: sets the data destination. */
int iscsi_scsi_cmd_header(struct iscsi_conn *conn, const uint8_t *bhs);
int iscsi_scsi_cmd_data(struct iscsi_conn *conn, bool data_ok);
int iscsi_data_out_header(struct iscsi_conn *conn, const uint8_t *bhs);
int iscsi_data_out_data(struct iscsi_conn *conn, const uint8_t *bhs, bool data_ok);
/* ExpCmdSN moved: admit held commands that are now in order. */
void iscsi_admit_held(struct iscsi_session *sess);
/* Solicit window freed: tasks waiting for it send their R2Ts, in turn. */
void iscsi_r2t_wake(struct iscsi_session *sess);

/* ---- management PDUs (iscsi_mgmt.c) ------------------------------------------------------------------- */

int iscsi_nop_out(struct iscsi_conn *conn, const uint8_t *bhs, const uint8_t *data, uint32_t dlen);
int iscsi_text_req(struct iscsi_conn *conn, const uint8_t *bhs, const uint8_t *data, uint32_t dlen);
int iscsi_logout_req(struct iscsi_conn *conn, const uint8_t *bhs);
int iscsi_tmf_req(struct iscsi_conn *conn, const uint8_t *bhs);
void iscsi_nop_timer_fired(void *arg);

#endif
