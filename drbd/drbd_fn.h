/* drbd internals: the functions the files of drbd/ call across (included by
 * drbd_int.h after the types). */
#ifndef DRBD_FN_H
#define DRBD_FN_H

/* ---- cross-file functions ------------------------------------------------------------- */

/* drbd_main.c */
struct drbd_resource *drbd_res_find(struct drbd *d, const char *name);
int drbd_res_up(struct drbd_resource *r, char *msg, size_t msglen);
void drbd_res_teardown(struct drbd_resource *r);
struct drbd_conn *drbd_conn_by_name(struct drbd_resource *r, const char *host);
struct drbd_conn *drbd_conn_by_id(struct drbd_resource *r, int node_id);
struct drbd_volume *drbd_vol_by_vnr(struct drbd_resource *r, int vnr);
bool drbd_res_open_for_write(const struct drbd_resource *r);
bool drbd_res_opened(const struct drbd_resource *r);
/* I/O from above finished: a demotion waiting for it may go now. */
void drbd_auto_demote_check(struct drbd_resource *r);
uint64_t drbd_pd_oos_bytes(const struct drbd_peer_dev *pd);
struct drbd_bitmap *drbd_pd_bm(const struct drbd_peer_dev *pd);
void drbd_vol_set_size(struct drbd_volume *v, uint64_t size);

/* drbd_md.c */
int drbd_vol_attach(struct drbd_volume *v, char *msg, size_t msglen,
                    void (*done)(void *arg, int rc, const char *msg), void *arg);
void drbd_vol_detach(struct drbd_volume *v, bool failed,
                     void (*done)(void *arg, int rc, const char *msg), void *arg);
int drbd_create_md(struct drbd_resource *r, const struct drbd_cfg_volume *cv, bool force,
                   char *msg, size_t msglen, void (*done)(void *arg, int rc, const char *msg),
                   void *arg);
void drbd_detach_check(struct drbd_volume *v);
void drbd_md_sync(struct drbd_volume *v, void (*done)(void *arg, int rc), void *arg);
void drbd_bm_writeback(struct drbd_volume *v, void (*done)(void *arg, int rc), void *arg);
void drbd_md_free(struct drbd_volume *v);
void drbd_uuid_new_current(struct drbd_volume *v, bool forced);
void drbd_uuid_push_history(struct drbd_volume *v, uint64_t uuid);
void drbd_uuid_set_bitmap(struct drbd_volume *v, int node_id, uint64_t uuid);
void drbd_md_set_flag(struct drbd_volume *v, uint32_t flag, bool on);
uint64_t drbd_uuid_random(struct drbd_volume *v);

/* drbd_al.c */
int drbd_al_init(struct drbd_volume *v, uint32_t cap);
void drbd_al_free(struct drbd_volume *v);
bool drbd_al_begin(struct drbd_volume *v, struct drbd_al_waiter *w);  /* true: extents active */
void drbd_al_complete(struct drbd_volume *v, uint64_t off, uint64_t len);
int drbd_al_read_apply(struct drbd_volume *v, const unsigned char *area, size_t len,
                       uint64_t *marked);
void drbd_al_write_clean(struct drbd_volume *v, void (*done)(void *arg, int rc), void *arg);
bool drbd_al_idle(const struct drbd_volume *v);

/* drbd_ival (drbd_req.c) */
void drbd_ival_submit(struct drbd_volume *v, struct drbd_ival *iv);
void drbd_ival_done(struct drbd_volume *v, struct drbd_ival *iv);

/* drbd_req.c */
void drbd_bdev_submit(struct umc_bdev *b, struct umc_bio *bio);
void drbd_req_net_acked(struct drbd_conn *c, uint64_t id, enum drbd_net_state st, int status);
void drbd_tl_barrier_acked(struct drbd_conn *c, uint32_t epoch);
void drbd_tl_conn_lost(struct drbd_conn *c);
void drbd_req_sent(struct drbd_conn *c, struct drbd_req *req);
void drbd_req_resume_waiters(struct drbd_volume *v, struct drbd_link *list);
void drbd_req_destroy(struct drbd_req *req);
void drbd_remote_read_reply(struct drbd_conn *c, uint64_t id, int status, const unsigned char *data,
                            uint32_t len);
void drbd_remote_reads_fail(struct drbd_conn *c);
void drbd_conn_close_epoch(struct drbd_conn *c);
void drbd_flush_waits_check(struct drbd_conn *c);
void drbd_set_out_of_sync_missing(struct drbd_volume *v, uint64_t off, uint64_t len,
                                  const struct drbd_conn *except);
bool drbd_pd_replicating(const struct drbd_peer_dev *pd);
void drbd_ko_check(struct drbd_conn *c);
void drbd_vol_resume_suspended(struct drbd_volume *v);
void drbd_quorum_probe(struct drbd_resource *r);
void drbd_quorum_probe_check(struct drbd_resource *r);
void drbd_quorum_probe_done(struct drbd_resource *r);
void drbd_vol_fail_suspended(struct drbd_volume *v);
void drbd_req_fail(struct drbd_req *req, int status);
void drbd_req_maybe_complete(struct drbd_req *req);
void drbd_req_start(struct drbd_req *req);
int drbd_quorum_needed(const struct drbd_resource *r);
bool drbd_vol_writable_locally(const struct drbd_volume *v);

/* drbd_req_read.c */
void drbd_req_start_read(struct drbd_req *req);

/* drbd_req_wait.c */
bool drbd_no_data_waits(const struct drbd_resource *r);
bool drbd_have_write_path(const struct drbd_volume *v);
bool drbd_req_write_held(struct drbd_req *req);
void drbd_data_path_changed(struct drbd_resource *r);

/* drbd_peer_req.c */
struct drbd_data_hdr {
    uint64_t id, off, seq;
    uint32_t flags, len, inc, mask;
};
void drbd_rx_data(struct drbd_conn *c, struct drbd_peer_dev *pd, const struct drbd_data_hdr *h,
                  unsigned char *buf);
void drbd_rx_barrier(struct drbd_conn *c, uint32_t epoch);
void drbd_rx_data_request(struct drbd_conn *c, struct drbd_peer_dev *pd, uint64_t id, uint64_t off,
                          uint32_t len);
void drbd_rx_conn_lost(struct drbd_conn *c);
bool drbd_rx_queue_behind_writes(struct drbd_conn *c, struct drbd_peer_req *pr);
void drbd_rs_read_admit(struct drbd_peer_req *pr);
bool drbd_rx_writes_pending(const struct drbd_conn *c);
/* A promotion waits for these: a late write of an old primary would land
 * over the new primary's data. */
bool drbd_peer_writes_landing(const struct drbd_resource *r);
void drbd_peer_write(struct drbd_peer_req *pr);
struct drbd_peer_req *drbd_peer_req_new(struct drbd_peer_dev *pd, enum drbd_preq_kind kind,
                                        uint64_t id, uint64_t off, uint64_t len);
void drbd_peer_req_free(struct drbd_peer_req *pr);
void drbd_peer_read(struct drbd_peer_req *pr, void (*done)(struct drbd_lio *lio));
/* In that done: release the read's lower I/O; its status, and whether the
 * session that asked is still the current one (worth answering). */
int drbd_peer_read_end(struct drbd_lio *lio, bool *current);

struct drbd_rbuf;
/* drbd_peers.c: which peers hold a write; resync between peers after losing a primary */
#define DRBD_DATA_HDR 40u              /* P_DATA: id, off, flags, len, seq, incarnation, mask */
bool drbd_pis_tracking(const struct drbd_resource *r);
void drbd_pis_send(struct drbd_req *req);
void drbd_pis_note_write(struct drbd_conn *c, struct drbd_peer_dev *pd, uint64_t seq, uint32_t inc,
                         uint32_t mask, uint64_t off, uint32_t len);
int drbd_rx_peers_in_sync(struct drbd_conn *c, struct drbd_rbuf *r);
int drbd_rx_reconcile(struct drbd_conn *c, struct drbd_rbuf *r);
void drbd_pis_conn_lost(struct drbd_conn *c);
void drbd_pis_conn_up(struct drbd_conn *c);
void drbd_pis_free(struct drbd_conn *c);
void drbd_peers_tick(struct drbd_resource *r);
#define DRBD_DAGTAG_LEN 13u            /* resync request prefix: node, incarnation, seq */
void drbd_rs_dagtag_put(const struct drbd_peer_dev *pd, unsigned char *p);
bool drbd_rs_dagtag_wait(struct drbd_peer_dev *pd, struct drbd_peer_req *pr, const unsigned char *p);

/* drbd_net.c */
void drbd_conn_start(struct drbd_conn *c);
void drbd_conn_stop(struct drbd_conn *c, enum drbd_conn_state final);
void drbd_conn_drop(struct drbd_conn *c, enum drbd_conn_state why, const char *reason);
void drbd_res_listen(struct drbd_resource *r);
void drbd_res_unlisten(struct drbd_resource *r);
void drbd_conn_free_session(struct drbd_conn *c);
bool drbd_conn_established(const struct drbd_conn *c);
void drbd_tx_push(struct drbd_conn *c);
/* One whole packet from the peer: dispatch it, give back a pooled payload
 * the handler did not keep, and drop the session on a protocol error
 * (returned as nonzero). */
int drbd_rx_packet(struct drbd_conn *c, unsigned type, unsigned vol, unsigned char *payload,
                   uint32_t len);

/* drbd_wire.c: packets */
enum drbd_ptype {
    P_HELLO = 1, P_HELLO_ACK, P_PING, P_PING_ACK, P_STATE, P_DECISION, P_STATE_UPDATE,
    P_UUIDS, P_DATA, P_RECV_ACK, P_WRITE_ACK, P_NEG_ACK, P_BARRIER, P_BARRIER_ACK,
    P_DATA_REQUEST, P_DATA_REPLY, P_BITMAP, P_SYNC_UUID, P_RS_REQUEST, P_RS_DATA,
    P_RS_WRITE_ACK, P_RS_CSUM_REQUEST, P_RS_CSUM_REPLY, P_RS_DONE, P_OV_START, P_OV_REQUEST,
    P_OV_REPLY, P_OV_DONE, P_START_SYNC, P_PAUSE, P_TWOPC_PREPARE, P_TWOPC_REPLY,
    P_TWOPC_COMMIT, P_TWOPC_ABORT, P_DISCONNECT, P_RS_CANCEL, P_OUT_OF_SYNC, P_PEERS_IN_SYNC,
    P_RECONCILE, P_TYPE_MAX,
};
/* P_DISCONNECT's flags: stay StandAlone; a Primary leaving gracefully
 * outdates the peer it leaves behind (DRBD 9 does: the peer cannot be
 * promoted without --force while the Primary goes on writing). */
enum { DISC_STANDALONE = 1u, DISC_OUTDATE_PEER = 2u, DISC_FLAGS = 3u };
#define DRBD_WIRE_MAGIC 0x64726d31u    /* "drm1" */
#define DRBD_WIRE_VERSION 2u
#define DRBD_HDR_SIZE 16u
#define DRBD_VOL_NONE 0xffffu

struct drbd_wbuf {
    unsigned char *p;
    size_t len, cap;
    bool overflow;
};
struct drbd_rbuf {
    const unsigned char *p;
    size_t len, pos;
    bool bad;
};

void drbd_put_u8(struct drbd_wbuf *w, uint8_t v);
void drbd_put_u16(struct drbd_wbuf *w, uint16_t v);
void drbd_put_u32(struct drbd_wbuf *w, uint32_t v);
void drbd_put_u64(struct drbd_wbuf *w, uint64_t v);
void drbd_put_bytes(struct drbd_wbuf *w, const void *p, size_t n);
void drbd_put_str(struct drbd_wbuf *w, const char *s);
uint8_t drbd_get_u8(struct drbd_rbuf *r);
uint16_t drbd_get_u16(struct drbd_rbuf *r);
uint32_t drbd_get_u32(struct drbd_rbuf *r);
uint64_t drbd_get_u64(struct drbd_rbuf *r);
const unsigned char *drbd_get_bytes(struct drbd_rbuf *r, size_t n);
void drbd_get_str(struct drbd_rbuf *r, char *out, size_t outlen);
bool drbd_rbuf_done(const struct drbd_rbuf *r);   /* consumed exactly, no error */
void drbd_put_be64(unsigned char *p, uint64_t v);
void drbd_put_be32(unsigned char *p, uint32_t v);
uint64_t drbd_get_be64(const unsigned char *p);
uint32_t drbd_get_be32(const unsigned char *p);
const char *drbd_ptype_name(unsigned t);
uint32_t drbd_ptype_max_len(unsigned t);
bool drbd_ptype_per_volume(unsigned t);

/* Queue a packet: payload (copied), plus optional data iovec (referenced until
 * sent; req, if given, is told when it was handed to the connection). */
void drbd_send(struct drbd_conn *c, unsigned type, int vol, const void *payload, size_t len,
               bool ctrl);
void drbd_send_data(struct drbd_conn *c, unsigned type, int vol, const void *payload, size_t len,
                    const struct iovec *iov, unsigned iovcnt, uint64_t datalen,
                    struct drbd_req *req, void *owned_buf, size_t owned_len);
void drbd_send_state(struct drbd_peer_dev *pd, unsigned type);
void drbd_send_state_all(struct drbd_resource *r);
enum { UUIDS_INFO, UUIDS_ADOPT, UUIDS_FINAL };
void drbd_send_uuids(struct drbd_peer_dev *pd, int kind);
void drbd_send_new_datagen(struct drbd_peer_dev *pd, uint64_t uuid);
void drbd_vol_lost_disk(struct drbd_volume *v, bool diverged);
void drbd_exposed_follow_peers(struct drbd_volume *v);
/* I/O suspension as status shows it: "no", "quorum" or "no-data". */
const char *drbd_susp_str(const struct drbd_resource *r);
void drbd_tx_free_all(struct drbd_conn *c);

/* drbd_receiver.c */
/* payload: *payloadp (len bytes); a handler that keeps it sets *payloadp = NULL.
 * Returns 0, or -EPROTO (bad peer input: the connection drops). */
int drbd_rx_dispatch(struct drbd_conn *c, unsigned type, unsigned vol, unsigned char **payloadp,
                     uint32_t len);
bool drbd_ptype_big(unsigned t);

/* drbd_uuid.c */
enum drbd_hg {
    HG_NONE = 0, HG_SOURCE_BM = 1, HG_SOURCE_FULL = 2, HG_TARGET_BM = -1, HG_TARGET_FULL = -2,
    HG_SPLIT_BRAIN_AUTO = 100, HG_SPLIT_BRAIN = -100, HG_UNRELATED = -1000,
};
struct drbd_uuid_side {
    uint64_t current;
    uint64_t bitmap;                   /* this side's bitmap UUID for the other */
    uint64_t history[DRBD_HISTORY];
    uint64_t others[DRBD_MAX_NODES];   /* its bitmap UUIDs for third nodes (0: none) */
    bool crashed_primary;
    bool primary;
    bool inconsistent;                 /* its disk is Inconsistent (a resync target) */
    bool fed;                          /* a secondary replicating from a connected primary */
    bool lost_quorum;                  /* lost quorum while primary since it was last in sync */
    uint64_t bits;                     /* out-of-sync bits toward the other */
};
int drbd_uuid_compare(const struct drbd_uuid_side *self, const struct drbd_uuid_side *peer,
                      bool self_lower_id, int *rule);
/* MAY_DEMOTE: call-pri-lost-after-sb; VIOLENT: violently-as0p, a losing primary
 * becomes SyncTarget even if it cannot step down. */
enum { DEC_SUPPRESSED = 1u << 0, DEC_MAY_DEMOTE = 1u << 1, DEC_VIOLENT = 1u << 2 };
struct drbd_decision {
    int hg;
    int rule;
    unsigned flags;                    /* DEC_* */
    bool drop;                         /* connection must go */
    bool standalone;                   /* ...and stay StandAlone */
    char why[160];
};
void drbd_sync_decide(struct drbd_peer_dev *pd, struct drbd_decision *out);
/* false: the decision cannot be carried out here (connection dropped). */
bool drbd_apply_decision(struct drbd_peer_dev *pd, int hg, int rule, unsigned flags);
void drbd_handshake_check(struct drbd_conn *c);
void drbd_pd_renegotiate(struct drbd_peer_dev *pd, bool initiator);

/* drbd_sync.c */
void drbd_sync_begin(struct drbd_peer_dev *pd, bool source, bool full);
void drbd_bm_send(struct drbd_peer_dev *pd);
int drbd_rx_bitmap(struct drbd_peer_dev *pd, const unsigned char *p, uint32_t len);
int drbd_rx_sync_uuid(struct drbd_peer_dev *pd, uint64_t uuid);
void drbd_sync_finish_source(struct drbd_peer_dev *pd);
void drbd_rx_uuids(struct drbd_peer_dev *pd, struct drbd_rbuf *r);
void drbd_sync_abort(struct drbd_peer_dev *pd);
void drbd_pd_conn_lost(struct drbd_peer_dev *pd);
int drbd_start_full_sync(struct drbd_peer_dev *pd, bool as_source, char *msg, size_t msglen);
enum { START_SYNC_PEER_IS_SOURCE = 1u, START_SYNC_BITMAP = 2u, START_SYNC_ALL = 3u };
void drbd_rx_start_sync(struct drbd_peer_dev *pd, unsigned flags);
bool drbd_start_bitmap_sync(struct drbd_peer_dev *pd, bool as_source);

/* drbd_resync.c */
void drbd_resync_tick(struct drbd_peer_dev *pd);
void drbd_resync_kick(struct drbd_peer_dev *pd);
void drbd_rx_rs_request(struct drbd_peer_dev *pd, unsigned type, struct drbd_rbuf *r);
int drbd_rx_rs_data(struct drbd_peer_dev *pd, unsigned type, struct drbd_rbuf *r,
                    unsigned char *payload, uint32_t len);
void drbd_rx_rs_write_ack(struct drbd_peer_dev *pd, uint64_t off, uint64_t len);
int drbd_rx_rs_done(struct drbd_peer_dev *pd, bool by_other, uint32_t oos_seen);
void drbd_send_rs_done(struct drbd_peer_dev *pd, bool by_other);
int drbd_verify_start(struct drbd_peer_dev *pd, uint64_t start, char *msg, size_t msglen);
void drbd_rx_ov_start(struct drbd_peer_dev *pd, uint64_t start);
void drbd_rx_ov_request(struct drbd_peer_dev *pd, struct drbd_rbuf *r);
int drbd_rx_ov_reply(struct drbd_peer_dev *pd, struct drbd_rbuf *r);
void drbd_rx_ov_done(struct drbd_peer_dev *pd);
void drbd_rs_ctl_reset(struct drbd_peer_dev *pd);
void drbd_resync_check_done(struct drbd_peer_dev *pd);
bool drbd_pd_syncing(const struct drbd_peer_dev *pd);
void drbd_rs_note_app_write(struct drbd_volume *v, uint64_t off, uint64_t len);
void drbd_rs_free_reqs(struct drbd_peer_dev *pd);
/* Our copy of [off, off+len) is current: UpToDate, or resynced already. */
bool drbd_range_current(const struct drbd_volume *v, uint64_t off, uint64_t len);
void drbd_rs_note_missed_write(struct drbd_peer_dev *pd, uint64_t off, uint64_t len);
/* Tell pd's peer that [off, off+len) is out of sync between us (P_OUT_OF_SYNC). */
void drbd_send_out_of_sync(struct drbd_peer_dev *pd, uint64_t off, uint64_t len);
/* Source: bits set for a target after our bitmap went out go to it as well. */
void drbd_rs_send_new_bits(struct drbd_peer_dev *pd, uint64_t off, uint64_t len);
void drbd_rx_out_of_sync(struct drbd_peer_dev *pd, uint64_t off, uint32_t len);
/* Target: [off, off+len) is a write the source did not get (owed to it). */
void drbd_rs_note_owed(struct drbd_peer_dev *pd, uint64_t off, uint64_t len);
void drbd_rs_owed_merge(struct drbd_peer_dev *pd);
void drbd_rs_dependents(struct drbd_volume *v, bool finished);
void drbd_rs_choose_active(struct drbd_peer_dev *pd);
struct drbd_peer_dev *drbd_rs_primary_dependent(const struct drbd_peer_dev *done);
void drbd_rs_resume_dependent(struct drbd_peer_dev *pd);

/* drbd_digest.c */
size_t drbd_digest_size(enum drbd_alg a);
void drbd_digest(enum drbd_alg a, const void *p, size_t len, unsigned char *out);

/* drbd_state.c */
bool drbd_conn_transition_ok(enum drbd_conn_state from, enum drbd_conn_state to);
bool drbd_repl_transition_ok(enum drbd_repl_state from, enum drbd_repl_state to);
bool drbd_disk_transition_ok(enum drbd_disk_state from, enum drbd_disk_state to);
bool drbd_set_cstate(struct drbd_conn *c, enum drbd_conn_state to);
bool drbd_set_repl(struct drbd_peer_dev *pd, enum drbd_repl_state to);
bool drbd_set_disk(struct drbd_volume *v, enum drbd_disk_state to);
void drbd_set_role(struct drbd_resource *r, enum drbd_role to);
void drbd_state_changed(struct drbd_resource *r);
void drbd_quorum_update(struct drbd_resource *r);
bool drbd_may_promote(struct drbd_resource *r, bool force, char *msg, size_t msglen);
void drbd_promote_now(struct drbd_resource *r, bool force);
void drbd_demote_now(struct drbd_resource *r);
bool drbd_fed_by_primary(const struct drbd_volume *v);
bool drbd_primary_reaches(const struct drbd_volume *v);
bool drbd_relayed_from(const struct drbd_peer_dev *pd);
bool drbd_have_uptodate_peer(const struct drbd_volume *v);
bool drbd_vol_readable_locally(const struct drbd_volume *v);

/* drbd_status.c */
void drbd_events_emit(struct drbd *d, const char *line);
void drbd_events_resource(struct drbd_resource *r, const char *action);
void drbd_events_diff(struct drbd_resource *r);

/* drbd_admin.c */
void drbd_twopc_rx_prepare(struct drbd_conn *c, uint64_t id, int node, int role);
void drbd_twopc_demote_check(struct drbd_conn *c);
void drbd_twopc_rx_reply(struct drbd_conn *c, uint64_t id, bool yes, const char *why);
void drbd_twopc_rx_commit(struct drbd_conn *c, uint64_t id, int node, int role);
void drbd_twopc_conn_lost(struct drbd_conn *c);
void drbd_cmd_waits_check(struct drbd_resource *r);
void drbd_cmds_teardown(struct drbd *d, struct drbd_resource *r);
void drbd_res_tick(void *arg);

#endif
