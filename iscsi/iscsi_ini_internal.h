/* The initiator library's private structures, shared by iscsi_ini.c (connection,
 * login, PDU dispatch) and iscsi_ini_io.c (commands, TMF, text, logout, NOP). */
#ifndef ISCSI_INI_INTERNAL_H
#define ISCSI_INI_INTERNAL_H

#include <sys/uio.h>

#include "iscsi/iscsi.h"
#include "iscsi/iscsi_proto.h"

#define INI_COMP "iscsi-ini"
#define INI_HASH 256u

enum ini_state { INI_IDLE, INI_CONNECTING, INI_LOGIN, INI_FFP, INI_LOGGING_OUT, INI_DEAD };
enum ini_kind { INI_SCSI, INI_TMF, INI_TEXT, INI_LOGOUT, INI_NOP };

struct iscsi_ini;

struct ini_task {
    struct iscsi_ini *ini;
    enum ini_kind kind;
    struct ini_task *hash_next, *prev, *next, *wait_next;
    uint32_t itt, cmdsn;
    bool in_hash, sent, waiting, doomed;
    struct mte_timer timer;         /* timeout, or a failure reported from the loop */
    int pending_rc;
    /* SCSI */
    uint64_t lun;
    uint8_t cdb[SCSI_MAX_CDB];
    unsigned cdb_len;
    enum scsi_dir dir;
    uint8_t *buf;
    uint32_t len, got;              /* READ: bytes landed */
    iscsi_ini_cmd_fn done;
    void *arg;
    uint8_t status;
    uint8_t sense[SCSI_SENSE_MAX];
    unsigned sense_len;
    uint32_t residual;
    bool overflow, underflow;
    /* TMF */
    unsigned function;
    uint32_t ref_itt;
    void (*tmf_done)(void *arg, int response);
    /* Text and NOP */
    char *text;
    size_t text_len;
    void (*text_done)(void *arg, int rc, const char *text, size_t len);
    void (*nop_done)(void *arg, int rc, const void *data, uint32_t len);
    /* Logout */
    iscsi_ini_login_fn logout_done;
};

struct iscsi_ini {
    struct umc_node *node;
    char *portal, *target, *initiator, *chap_user, *chap_secret, *mutual_user, *mutual_secret;
    bool want_header_digest, want_data_digest, want_immediate_data, want_initial_r2t;
    uint32_t my_max_recv_dsl, my_max_burst, my_first_burst;
    mte_time_t timeout;
    uint64_t isid;
    struct umc_conn *uc;
    enum ini_state state;
    /* login */
    iscsi_ini_login_fn login_done;
    void *login_arg;
    struct iscsi_neg neg;
    unsigned stage;
    bool chap_sent_a, chap_answered, auth_ok;
    uint8_t my_chap_id, my_challenge[ISCSI_CHAP_CHALLENGE_LEN];
    uint8_t chap_id, chap_challenge[ISCSI_CHAP_BIN_MAX];
    int chap_challenge_len;
    bool have_chap_challenge, mutual_checked;
    char *login_rsp;                /* a continued response, accumulated */
    size_t login_rsp_len;
    uint32_t login_itt;
    struct mte_timer login_timer;   /* timeout, or a refusal reported from the loop */
    int login_pending_rc;
    unsigned login_rounds;
    /* numbering */
    uint16_t tsih, cid;
    uint32_t next_itt, cmdsn, exp_cmdsn, max_cmdsn, exp_statsn;
    /* negotiated */
    bool header_digest, data_digest, immediate_data, initial_r2t;
    bool digests_on;                /* from the first PDU after login */
    uint32_t first_burst, max_burst, max_xmit_dsl, max_outstanding_r2t;
    /* tasks */
    struct ini_task *hash[INI_HASH];
    struct ini_task *tasks, *tasks_tail, *free_tasks;
    struct ini_task *wait_head, *wait_tail;     /* SCSI commands waiting for the window */
    /* the PDU being read */
    struct iscsi_rx rx;
    struct ini_task *rx_task;
    /* transmit */
    uint8_t *tx;
    size_t tx_cap, tx_used;
    struct iovec *iov;
    unsigned iov_cap, iov_cnt;
    unsigned in_rx;
    bool free_pending;
    uint8_t rxbuf[ISCSI_RX_BUF];
};

/* iscsi_ini.c */
void ini_tx_begin(struct iscsi_ini *ini, unsigned npdu);
void ini_tx_pdu(struct iscsi_ini *ini, uint8_t *bhs, const void *data, uint32_t dlen);
void ini_tx_send(struct iscsi_ini *ini);
void ini_fail_connection(struct iscsi_ini *ini, int err, const char *why);
void ini_release(struct iscsi_ini *ini);

/* iscsi_ini_io.c */
struct ini_task *ini_task_new(struct iscsi_ini *ini, enum ini_kind kind);
struct ini_task *ini_task_find(struct iscsi_ini *ini, uint32_t itt);
/* Complete a task: rc < 0 fails it; the task is freed. */
void ini_task_finish(struct ini_task *t, int rc);
void ini_fail_all(struct iscsi_ini *ini, int rc);
void ini_send_queued(struct iscsi_ini *ini);
void ini_update_sn(struct iscsi_ini *ini, const uint8_t *bhs);
int ini_header(struct iscsi_ini *ini, const uint8_t *bhs);
int ini_pdu(struct iscsi_ini *ini, const uint8_t *bhs, const uint8_t *data, bool data_ok);
void ini_tasks_free(struct iscsi_ini *ini);

#endif
