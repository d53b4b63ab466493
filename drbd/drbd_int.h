/* drbd/: private types shared by the module's files.
 *
 * Object model (as in DRBD 9): a struct drbd per node holds resources; a
 * resource has volumes (struct drbd_volume: the drbdN bdev, its backing device,
 * meta-data, bitmaps, activity log) and connections (struct drbd_conn, one per
 * peer node); a volume seen through a connection is a peer device
 * (struct drbd_peer_dev).  Requests from above are struct drbd_req; writes and
 * reads arriving from peers are struct drbd_peer_req.
 */
#ifndef DRBD_INT_H
#define DRBD_INT_H

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "drbd/drbd.h"

#define DRBD_COMP "drbd"
#define DRBD_BLOCK 4096u                 /* one bitmap bit */
#define DRBD_BLOCK_SHIFT 12
#define DRBD_AL_EXTENT (4u << 20)        /* one activity-log extent */
#define DRBD_AL_EXTENT_SHIFT 22
#define DRBD_MAX_NODES 32                /* node ids 0..31: the bitmap slots */
#define DRBD_HISTORY 8
#define DRBD_MAX_SEGMENT (1u << 20)      /* requests are split into pieces this big */
#define DRBD_RS_MAX_REQ (1u << 20)       /* largest resync request */

#define UUID_JUST_CREATED 4ull
#define UUID_PRIMARY 1ull
#define UUID_NEW_BM_OFFSET (1ull << 48)

/* ---- intrusive lists (insertion order: deterministic) -------------------------- */

struct drbd_link {
    struct drbd_link *prev, *next;
};

static inline void dl_init(struct drbd_link *h) { h->prev = h->next = h; }
static inline bool dl_empty(const struct drbd_link *h) { return h->next == h; }
static inline bool dl_linked(const struct drbd_link *e) { return e->next && e->next != e; }
static inline void dl_add_tail(struct drbd_link *h, struct drbd_link *e)
{
    e->prev = h->prev;
    e->next = h;
    h->prev->next = e;
    h->prev = e;
}
static inline void dl_del(struct drbd_link *e)
{
    if (!e->next)
        return;
    e->prev->next = e->next;
    e->next->prev = e->prev;
    e->prev = e->next = e;
}
#define dl_entry(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* ---- configuration (parsed .res) ------------------------------------------------- */

enum drbd_asb {
    ASB_DISCONNECT, ASB_DISCARD_YOUNGER_PRI, ASB_DISCARD_OLDER_PRI, ASB_DISCARD_ZERO_CHG,
    ASB_DISCARD_LEAST_CHG, ASB_DISCARD_LOCAL, ASB_DISCARD_REMOTE, ASB_DISCARD_NODE,
    ASB_CONSENSUS, ASB_VIOLENTLY, ASB_DISCARD_SECONDARY, ASB_CALL_HELPER,
};
enum drbd_io_error_policy { EP_DETACH, EP_PASS_ON, EP_CALL_HELPER };
enum drbd_on_no_quorum { ONQ_SUSPEND_IO, ONQ_IO_ERROR };
enum drbd_alg { ALG_NONE, ALG_CRC32C, ALG_MD5, ALG_SHA1 };
#define QUORUM_OFF 0
#define QUORUM_MAJORITY (-1)
#define QUORUM_ALL (-2)

#define DRBD_TCP_CC_MAX 16                /* Linux's TCP_CA_NAME_MAX */

struct drbd_net_opts {
    char protocol;                     /* 'A', 'B', 'C' */
    enum drbd_asb after_sb_0pri, after_sb_1pri, after_sb_2pri;
    char discard_node[UMC_NAME_MAX];   /* after-sb-0pri discard-node-NAME */
    bool allow_two_primaries, always_asbp;
    enum drbd_alg verify_alg, csums_alg;
    uint32_t ping_int;                 /* seconds */
    uint32_t ping_timeout;             /* 0.1 s */
    uint32_t timeout;                  /* 0.1 s */
    uint32_t connect_int;              /* seconds */
    uint32_t ko_count;
    uint32_t max_epoch_size;
    uint32_t max_buffers;
    char tcp_congestion[DRBD_TCP_CC_MAX]; /* tcp-congestion-control; "": the system's */
};

struct drbd_disk_opts {
    uint32_t c_plan_ahead;             /* 0.1 s; 0 = fixed resync-rate */
    uint64_t resync_rate;              /* bytes/s; 0 (with plan-ahead 0) = unlimited */
    uint64_t c_fill_target;            /* bytes in flight */
    uint32_t c_delay_target;           /* 0.1 s */
    uint64_t c_min_rate, c_max_rate;   /* bytes/s; max 0 = unlimited */
    uint32_t al_extents;
    enum drbd_io_error_policy on_io_error;
    bool disk_flushes, md_flushes;
};

struct drbd_res_opts {
    int quorum;                        /* QUORUM_OFF, _MAJORITY, _ALL or a count */
    enum drbd_on_no_quorum on_no_quorum;
    enum drbd_on_no_quorum on_no_data; /* on-no-data-accessible (same two policies) */
    bool auto_promote;
};

struct drbd_cfg_volume {
    int vnr, minor;
    char device[UMC_NAME_MAX];         /* "drbd1" */
    char disk[256];                    /* "/UMCfuse/dev/tcmu001", "" = none */
    bool meta_internal;
    int line;
};

struct drbd_cfg_host {
    char name[UMC_NAME_MAX];
    int node_id;
    char address[UMC_ADDR_MAX];
    struct drbd_cfg_volume vols[DRBD_MAX_VOLUMES];
    int nvols;
    int line;
};

struct drbd_cfg_conn {
    int a, b;                          /* host indexes */
    char addr_a[UMC_ADDR_MAX], addr_b[UMC_ADDR_MAX];  /* "" = the host's address */
    struct drbd_net_opts net;
    int line;
};

struct drbd_res_cfg {
    char name[UMC_NAME_MAX];
    char file[128];
    int line;
    struct drbd_cfg_host *hosts;       /* umc_alloc'd arrays */
    int nhosts;
    struct drbd_cfg_conn *conns;
    int nconns;
    struct drbd_net_opts net;
    struct drbd_disk_opts disk;
    struct drbd_res_opts opts;
};

/* A parsed file: resources in file order. */
struct drbd_cfg_file {
    struct drbd_res_cfg **res;
    int nres;
};

int drbd_config_parse(struct umc_node *n, const char *text, const char *filename,
                      struct drbd_cfg_file *out, char *err, size_t errlen);
void drbd_config_free(struct umc_node *n, struct drbd_cfg_file *f);
void drbd_net_defaults(struct drbd_net_opts *o);
void drbd_disk_defaults(struct drbd_disk_opts *o);
const char *drbd_alg_name(enum drbd_alg a);
const char *drbd_asb_name(enum drbd_asb a);

/* ---- meta-data ------------------------------------------------------------------- */

enum {
    MDF_CONSISTENT = 1u << 0,
    MDF_PRIMARY_IND = 1u << 1,
    MDF_WAS_UP_TO_DATE = 1u << 2,
    MDF_CRASHED_PRIMARY = 1u << 3,
    MDF_AL_CLEAN = 1u << 4,
    MDF_LOST_QUORUM = 1u << 5,         /* lost quorum while primary: its last writes failed */
    MDF_ALL = (1u << 6) - 1,
};
enum { MDF_PEER_FULL_SYNC = 1u << 0, MDF_PEER_ALL = 1u };

struct drbd_md {
    uint32_t flags;
    int32_t node_id;
    uint32_t nslots;
    uint64_t data_size, backing_size;
    uint32_t al_extents;
    uint64_t current_uuid, device_uuid;
    uint64_t history[DRBD_HISTORY];
    uint64_t bitmap_uuid[DRBD_MAX_NODES];
    uint32_t peer_flags[DRBD_MAX_NODES];
};

/* [data][bitmaps][activity log][superblock] */
struct drbd_layout {
    uint64_t backing_size, data_size;
    uint64_t bm_offset, bm_slot_bytes;
    uint64_t al_offset, al_bytes;
    uint64_t sb_offset;
    uint32_t nslots;
};

#define DRBD_SB_SIZE 4096u
#define DRBD_AL_SLOT_BYTES (256u << 10)
#define DRBD_AL_MAX_EXTENTS ((DRBD_AL_SLOT_BYTES - 32) / 4)

int drbd_layout_compute(uint64_t backing_size, uint32_t nslots, struct drbd_layout *l);
void drbd_sb_encode(const struct drbd_md *md, const struct drbd_layout *l, unsigned char *buf);
int drbd_sb_decode(const unsigned char *buf, uint64_t backing_size, struct drbd_md *md,
                   struct drbd_layout *l, char *why, size_t whylen);

/* ---- bitmap ------------------------------------------------------------------------ */

struct drbd_bitmap {
    uint64_t *words;
    uint64_t nbits, nwords;
    uint64_t set;                      /* bits set */
    unsigned char *dirty;              /* per 4 KiB page of the on-disk bitmap */
    uint64_t npages;
};

struct drbd_bitmap *drbd_bm_new(struct umc_node *n, uint64_t nbits);
void drbd_bm_free(struct umc_node *n, struct drbd_bitmap *bm);
uint64_t drbd_bm_set_range(struct drbd_bitmap *bm, uint64_t first, uint64_t last);  /* bits */
uint64_t drbd_bm_clear_range(struct drbd_bitmap *bm, uint64_t first, uint64_t last);
void drbd_bm_set_all(struct drbd_bitmap *bm);
void drbd_bm_clear_all(struct drbd_bitmap *bm);
bool drbd_bm_test(const struct drbd_bitmap *bm, uint64_t bit);
uint64_t drbd_bm_find_next(const struct drbd_bitmap *bm, uint64_t from);  /* nbits if none */
uint64_t drbd_bm_find_next_zero(const struct drbd_bitmap *bm, uint64_t from);
uint64_t drbd_bm_count_range(const struct drbd_bitmap *bm, uint64_t first, uint64_t last);
void drbd_bm_recount(struct drbd_bitmap *bm);
void drbd_bm_or_words(struct drbd_bitmap *dst, uint64_t first_word, const uint64_t *w, uint64_t n);
void drbd_bm_mark_all_dirty(struct drbd_bitmap *bm);
/* Run-length coding: alternating clear/set runs as LEB128 varints, starting
 * with a (possibly empty) clear run.  encode returns bytes written and the bit
 * where it stopped (buffer full); decode ORs the set runs into bm. */
size_t drbd_bm_rle_encode(const struct drbd_bitmap *bm, uint64_t *pos, unsigned char *out,
                          size_t cap);
int drbd_bm_rle_decode(struct drbd_bitmap *bm, uint64_t start, uint64_t nbits,
                       const unsigned char *in, size_t len);

/* ---- lower I/O ------------------------------------------------------------------- */

/* Every bio we send to a backing device lives in its own allocation.  If its
 * owner goes away while it is in flight (drbd_free during I/O), the owner hands
 * over the buffers the bio still uses (drbd_lio_orphan); the completion then
 * frees only those and the lio.  Owners known only to their lio (attach,
 * create-md) name their context in ctx_own up front. */
struct drbd_lio {
    struct umc_bio bio;
    struct iovec iov1;
    struct drbd_link link;             /* in drbd->lios while in flight */
    struct drbd *d;                    /* gone when orphan: use node */
    struct umc_node *node;
    void (*done)(struct drbd_lio *lio);
    void *ctx;
    void *own[3];
    void *ctx_own[2];                  /* the owner's context: freed with an orphan only */
    bool orphan;
};

/* Data buffers: those between 64 KiB and a segment come from a pool (no
 * zeroing, no page faults); put() needs the length get() was asked for. */
#define DRBD_POOL_BUF (DRBD_MAX_SEGMENT + 256u)
void *drbd_buf_get(struct drbd *d, size_t len);
void drbd_buf_put(struct drbd *d, void *p, size_t len);

struct drbd_lio *drbd_lio_new(struct drbd *d, void (*done)(struct drbd_lio *lio), void *ctx);
/* One buffer, or iov (referenced) when given. */
void drbd_lio_submit(struct drbd_lio *lio, struct umc_bdev *b, enum umc_bio_op op, uint32_t flags,
                     uint64_t off, uint64_t len, void *buf, struct iovec *iov, unsigned iovcnt);
void drbd_lio_free(struct drbd_lio *lio);
void drbd_lio_orphan(struct drbd_lio *lio, void *buf0, void *buf1);

/* ---- activity-log waits ------------------------------------------------------------ */

/* A write that needs its 4 MiB extents active before it may be issued. */
struct drbd_al_waiter {
    struct drbd_link link;
    uint64_t off, len;
    void (*resume)(struct drbd_al_waiter *w);
};

/* ---- requests ---------------------------------------------------------------------- */

/* Overlapping writes (and resync reads against writes) are serialized: a new
 * interval waits for every overlapping active one, in arrival order. */
enum drbd_ival_kind { IVAL_WRITE, IVAL_RS_READ };
struct drbd_ival {
    uint64_t off, len;
    enum drbd_ival_kind kind;
    struct drbd_link link;             /* in the volume's active or waiting list */
    struct drbd_link ready_link;       /* briefly: became active, start pending */
    bool active;
    void (*start)(struct drbd_ival *iv);
};

enum drbd_net_state {
    RQ_NONE,            /* not replicated to this peer (bits set instead) */
    RQ_QUEUED,          /* waiting in the send queue */
    RQ_SENT,            /* handed to the connection */
    RQ_RECV_ACKED,
    RQ_WRITE_ACKED,
    RQ_DONE,            /* released from this peer's transfer log */
};

struct drbd_req_net {
    uint64_t id;
    uint32_t epoch;
    uint8_t state;
    bool needed;        /* completion waits on this peer */
    bool barrier_acked;
    bool failed;        /* the peer could not write it */
    bool confirmed;     /* on the peer's disk: its epoch and its own ack are in */
    mte_time_t sent_at;
};

struct drbd_split;

struct drbd_req {
    struct drbd_volume *v;
    struct drbd_link live;             /* in the volume's list of requests */
    struct umc_bio *upper;
    struct drbd_split *split;
    enum umc_bio_op op;
    uint32_t flags;
    uint64_t off, len;
    struct iovec *iov;
    unsigned iovcnt;
    struct drbd_ival ival;
    struct drbd_lio *lio;              /* the local write or read in flight */
    struct iovec *iov_alloc;           /* our slice of the upper iovec, if any */
    struct drbd_link wait_link;        /* uuid / suspend waits */
    struct drbd_al_waiter alw;
    mte_time_t start;
    int status;
    int local_status;
    bool local_pending, local_done, completed, remote_read;
    uint8_t read_tries;                /* peers asked for this read so far */
    int peers_pending;                 /* peers completion still waits for */
    int peers_ok;                      /* peers that took the write */
    int peers_uptodate_ok;             /* of them, peers whose disk was UpToDate */
    int refs;
    uint64_t seq;                      /* write order among all peers (0: not replicated) */
    int nnet;
    struct drbd_req_net net[];
};

struct drbd_split {
    struct umc_bio *upper;
    int pending;
    int status;
};

/* ---- peer requests (writes and reads on behalf of a peer) ------------------------------- */

enum drbd_preq_kind { PR_APP_WRITE, PR_RS_WRITE, PR_APP_READ, PR_RS_READ, PR_CSUM_READ,
                      PR_OV_READ_S, PR_OV_READ_T, PR_CSUM_PREP };

struct drbd_peer_req {
    struct drbd_peer_dev *pd;
    struct drbd_link live;             /* in the volume's list of peer requests */
    uint64_t gen;                      /* the connection session it belongs to */
    enum drbd_preq_kind kind;
    uint64_t id, off, len;
    uint32_t flags;
    unsigned char *buf;                /* owned: the received payload or a read buffer */
    size_t buf_len;                    /* what drbd_buf_get was asked for */
    unsigned char *data;               /* where the block data starts in buf */
    unsigned char *digests;            /* csum/verify: the peer's digests */
    uint32_t ndigests;
    unsigned char *mask;               /* csum reply: blocks that differ */
    uint64_t seq;                      /* app write: the primary's write sequence number */
    uint32_t inc, peer_mask;           /* its incarnation; the nodes the write went to */
    struct drbd_ival ival;
    struct drbd_al_waiter alw;
    struct drbd_lio *lio;
    struct drbd_link link;             /* rx queue / epoch */
    bool in_closing;                   /* counted in the closing epoch */
    bool drop_ack;                     /* the lost-barrier-ack defect picked this one */
    bool barrier;                      /* a queued BARRIER, not a write */
    uint32_t barrier_nr;
    unsigned char dagtag[13];          /* resync read: the primary's write it waits for */
    int status;
    void *ctx;
    void (*done)(struct drbd_peer_req *pr);
};

/* ---- peer devices ----------------------------------------------------------------------- */

/* What a peer told us about its side of a volume. */
struct drbd_peer_state {
    enum drbd_role role;
    enum drbd_disk_state disk;
    uint64_t current_uuid;
    uint64_t bitmap_uuid[DRBD_MAX_NODES];
    uint64_t history[DRBD_HISTORY];
    uint32_t flags;                    /* PSF_* */
    uint64_t size;
    uint64_t bits;                     /* its out-of-sync bits toward us */
};

/* A write received from a primary whose other peers may not have it yet. */
struct drbd_pis_ent {
    uint64_t seq;
    uint64_t off;
    uint32_t len;
    uint8_t vol;
    bool confirmed;
};

/* What a peer or this node knows about the writes of a primary it lost. */
struct drbd_lost_primary {
    bool valid;
    bool has_bits;                     /* peer: it has bits for us */
    uint32_t inc;                      /* the primary's incarnation */
    uint64_t seq;                      /* the last write from it that was applied */
};
enum {
    PSF_CRASHED_PRIMARY = 1u << 0,
    PSF_DISCARD_MY_DATA = 1u << 1,
    PSF_FRESH_ATTACH = 1u << 2,
    PSF_BUG_NO_RESTART = 1u << 3,
    PSF_WAS_PRIMARY = 1u << 4,         /* current UUID made while primary */
    PSF_FED_BY_PRIMARY = 1u << 5,      /* replicating from a connected primary */
    PSF_LOST_QUORUM = 1u << 6,         /* MDF_LOST_QUORUM */
    PSF_CLIENT = 1u << 7,              /* configured without a disk: never has data */
    PSF_ALL = (1u << 8) - 1,
};

enum drbd_sync_kind { SYNC_NONE, SYNC_SOURCE, SYNC_TARGET };

struct drbd_rs_ctl {
    uint64_t cursor;                   /* next bit to look at */
    uint64_t inflight;                 /* bytes requested, not yet answered */
    uint32_t inflight_reqs;
    uint32_t landing;                  /* answers being written */
    int64_t credit;                    /* bytes this slot may still request */
    uint64_t received_slot;            /* bytes that arrived in the last slot */
    int64_t plan[64];                  /* plan-ahead fifo (bytes per slot) */
    uint32_t plan_len, plan_head;
    int64_t plan_total;
    uint64_t app_io_mark;              /* the volume's app I/O count at the last tick */
    bool started;                      /* the first slot was granted */
};

struct drbd_peer_dev {
    struct drbd_conn *c;
    struct drbd_volume *v;
    enum drbd_repl_state repl;
    enum drbd_disk_state peer_disk;
    struct drbd_peer_state ps;
    bool got_state, decided;
    bool pause_user, pause_peer;       /* resync-suspended */
    bool pause_dep;                    /* waits for another resync of this volume */
    bool bm_sent, bm_received;
    uint64_t bm_rx_pos;
    bool full_sync;
    bool seen_sync_uuid;
    /* resync / verify bookkeeping */
    struct drbd_rs_ctl rs;
    uint64_t rs_total;                 /* bytes this sync set out to move */
    uint64_t rs_done;                  /* bytes moved (or verified) */
    uint64_t rs_same_csum;             /* blocks skipped by checksum */
    mte_time_t rs_start, rs_paused_at, rs_paused_total;
    uint64_t ov_start, ov_pos, ov_left, ov_found;
    struct drbd_link rs_reqs;          /* target: resync requests in flight */
    struct drbd_link rs_sent;          /* source: answers read, not yet acknowledged */
    uint64_t bm_md_gen;                /* the meta-data write our bitmap waits for */
    uint64_t rs_next_id;
    bool rs_done_sent;
    uint32_t rs_oos_sent;              /* source: P_OUT_OF_SYNC sent in this resync */
    uint32_t rs_oos_seen;              /* target: P_OUT_OF_SYNC taken in this resync */
    struct drbd_bitmap *owed;          /* target: blocks the source misses (writes it
                                          did not get), kept apart from what we fetch */
    bool ov_marked;                    /* verify set bits: they wait for a reconnect */
    bool rs_new_bits;                  /* source: bits came that the target does not know */
    bool rc_source;                    /* we are to resync it (after a lost primary, or
                                          the bits a waiting resync left us) */
    bool keep_uuids;                   /* a bitmap resync between peers: no sync UUID */
    /* statistics */
    uint64_t sent_bytes, recv_bytes;
    /* last state reported to events2 */
    struct {
        bool valid;
        enum drbd_repl_state repl;
        enum drbd_disk_state peer_disk;
        bool susp_user, susp_peer, susp_dep;
    } shown;
};

/* ---- connections ------------------------------------------------------------------------- */

struct drbd_tx;
struct drbd_rx_epoch {
    uint32_t number;
    uint32_t writes;
    uint32_t pending;
    bool closed;
};

struct drbd_conn {
    struct drbd_resource *res;
    int idx;
    int peer_id;
    int host_idx;
    char name[UMC_NAME_MAX];
    char peer_addr[UMC_ADDR_MAX];
    struct drbd_net_opts net;
    enum drbd_conn_state cstate;
    enum drbd_role peer_role;
    bool want_standalone;              /* admin disconnect: stay StandAlone */
    char last_drop[96];                /* why the connection last went down */
    bool discard_my_data;              /* connect --discard-my-data */
    bool handshake_done;               /* HELLO exchanged and every volume decided */
    bool own_verdict_done;             /* the higher id checked for a refusal itself */
    char refuse_reason[160];
    /* the session */
    struct umc_conn *sock;
    uint64_t gen;
    struct umc_conn *out;              /* outgoing attempt before the handshake */
    bool out_connected;
    struct mte_timer connect_timer, ping_timer, ping_timeout_timer, ko_timer, hs_timer;
    mte_time_t last_rx, ping_sent_at;
    mte_time_t accept_after;           /* after a refused session: no new one before */
    bool ping_outstanding;
    /* receive framing */
    unsigned char rx_hdr[16];
    size_t rx_hdr_got;
    bool rx_in_payload;
    uint16_t rx_type, rx_vol;
    uint32_t rx_len, rx_got;
    unsigned char *rx_buf;
    unsigned char rx_small[1024];
    bool rx_busy;                      /* inside on_readable */
    /* send queues: control first */
    struct drbd_link tx_ctrl, tx_data;
    uint64_t tx_queued_bytes;
    /* transfer log: requests by id */
    struct drbd_req **tl;
    uint64_t tl_base, tl_next;         /* ids [tl_base, tl_next) */
    uint64_t tl_cap;
    uint32_t tx_epoch, tx_epoch_writes;
    uint32_t acked_barrier;
    int barrier_waiters;
    struct drbd_link flush_waits;
    /* receiver-side epochs and the queue behind a barrier */
    struct drbd_rx_epoch rx_cur, rx_closing;
    bool rx_gate;
    struct drbd_link rx_queue;
    uint32_t barriers_seen;            /* for the lost-barrier-ack defect */
    uint32_t lost_ack_at;
    uint64_t lost_ack_countdown;
    bool lost_ack_armed;
    /* writes from this peer (a primary) the others may miss, oldest first */
    struct drbd_pis_ent *pis;
    uint32_t pis_cap, pis_head, pis_count;
    bool rx_seq_valid;
    uint32_t rx_inc;                   /* the peer's incarnation */
    uint64_t rx_seq;                   /* its last write applied here */
    uint32_t rx_mask;                  /* the nodes its last write went to */
    struct drbd_lost_primary lost;             /* we lost this peer while it was primary */
    struct drbd_lost_primary peer_lost[DRBD_MAX_NODES]; /* this peer lost node N */
    struct drbd_link rs_deferred;      /* resync reads waiting for a write of this peer */
    /* peer reads for a diskless primary */
    struct drbd_link remote_reads;
    uint64_t next_read_id;
    /* two-phase commit in progress with this peer */
    uint64_t twopc_id;
    int twopc_vote;                    /* 0 waiting, 1 yes, -1 no */
    bool demote_pending;               /* its demotion waits for its writes to land */
    uint64_t demote_twopc_id;
    struct drbd_peer_dev pds[DRBD_MAX_VOLUMES];
    struct {
        bool valid;
        enum drbd_conn_state cstate;
        enum drbd_role role;
    } shown;
};

/* ---- activity log ---------------------------------------------------------------------- */

struct drbd_al_ext {
    uint32_t extent;
    uint32_t refs;
    struct drbd_link lru;
};

struct drbd_al {
    uint32_t cap;
    struct drbd_al_ext *ext;           /* cap entries */
    uint32_t *free;                    /* stack of unused entries */
    uint32_t nfree;
    int32_t *hash;                     /* open addressing: extent -> entry, -1 empty */
    uint32_t hash_mask;
    struct drbd_link lru;              /* most recent first */
    struct drbd_link waiting;          /* writes waiting for extents */
    uint32_t *pending;                 /* extents the next transaction adds */
    uint32_t npending;
    uint32_t *adding;                  /* extents of the transaction in flight */
    uint32_t nadding;
    bool busy;
    uint64_t seq;
    struct drbd_lio *lio;
    void (*clean_done)(void *arg, int rc);
    void *clean_arg;
};

/* ---- volumes ------------------------------------------------------------------------- */

struct drbd_md_waiter;

struct drbd_volume {
    struct drbd_resource *res;
    int idx, vnr, minor;
    const struct drbd_cfg_volume *cfg;
    char name[UMC_NAME_MAX];           /* "drbd1" */
    struct umc_bdev *bdev;             /* own allocation: may outlive us if left open */
    bool bdev_registered;
    struct umc_bdev *backing;
    bool backing_open;
    enum drbd_disk_state disk;
    bool have_md;                      /* meta-data read and valid */
    /* A Primary without a disk: the data generation its users have seen (0:
     * none).  It connects only to a peer holding that generation, or it
     * would serve older data than it already has (DRBD's exposed data UUID). */
    uint64_t exposed_uuid;
    bool fresh_attach;
    bool fed_told;                     /* PSF_FED_BY_PRIMARY as last sent to the peers */
    struct drbd_md md;
    struct drbd_layout layout;
    struct drbd_bitmap *bm[DRBD_MAX_NODES];
    struct drbd_al al;
    struct drbd_link active, waiting;  /* intervals */
    struct drbd_link reqs, preqs;      /* live requests and peer requests */
    struct drbd_link uuid_wait, susp_wait;
    struct drbd_link quorum_held;      /* done, but not on a quorum of nodes: held */
    bool uuid_rotate_pending, uuid_rotating;
    /* superblock writes */
    bool sb_busy;
    uint64_t sb_gen_started, sb_gen_done, sb_gen_wanted;
    struct drbd_link sb_waiters;
    struct drbd_lio *sb_lio;
    /* bitmap writeback */
    bool bmw_busy;
    uint64_t bmw_gen_started, bmw_gen_wanted;
    struct drbd_link bmw_waiters;
    int bmw_inflight;
    int bmw_status;
    mte_time_t bmw_last;
    /* statistics */
    uint64_t read_bytes, written_bytes, al_writes, bm_writes;
    uint32_t upper_pending, lower_pending;
    uint64_t app_io;                   /* app I/O count: c-min-rate throttle */
    bool auto_promoted;
    void (*detach_done)(void *arg, int rc, const char *msg);
    void *detach_arg;
    bool detach_writing;
    struct {
        bool valid;
        enum drbd_disk_state disk;
        bool quorum, open;
    } shown;
};

/* ---- resources ------------------------------------------------------------------------ */

struct drbd_pending_sock;
struct drbd_cmd_ctx;

struct drbd_resource {
    struct drbd *d;
    struct umc_node *node;
    struct drbd_res_cfg *cfg;
    int my_host;                       /* index into cfg->hosts, -1: not ours */
    int my_id;
    bool up, going_down;
    enum drbd_role role;
    bool have_quorum;
    struct drbd_volume *vols[DRBD_MAX_VOLUMES];
    int nvols;
    struct drbd_conn *conns[DRBD_MAX_NODES];
    int nconns;
    struct umc_listener *listener;
    struct drbd_link pending_socks;
    struct mte_timer tick_timer;       /* 100 ms: resync controller, ko-count, writeback */
    struct mte_timer probe_timer;      /* quorum probe before a new data generation */
    bool probe_active;
    mte_time_t probe_start;
    uint64_t ticks;
    uint32_t incarnation;              /* random per drbd_new: tells write sequences apart */
    uint64_t write_seq;                /* last sequence number given to a replicated write */
    /* a role change being agreed with the peers (drbd_admin_roles.c) */
    struct drbd_cmd_ctx *twopc_cmd;
    enum drbd_role twopc_role;
    struct drbd_cmd_ctx *down_cmd;
    uint64_t twopc_id;
    struct mte_timer twopc_timer;
    uint64_t next_twopc;
    struct drbd_link cmd_waits;        /* commands waiting for I/O to drain */
    bool auto_demote_wanted;           /* the last opener left; I/O still drains */
    bool auto_promoting;               /* an open asked the peers to let us promote */
    struct mte_timer auto_promote_timer; /* undo an auto-promotion nobody came back for */
    struct {
        bool valid;
        enum drbd_role role;
        const char *susp;              /* a string constant from susp_str */
    } shown;
};

struct drbd_events {
    struct drbd *d;
    drbd_event_fn fn;
    void *arg;
    struct drbd_events *next;
};

struct drbd {
    struct umc_node *node;
    char my_host[UMC_NAME_MAX];
    struct drbd_resource **res;
    int nres;
    struct drbd_events *events;
    struct drbd_link lios;             /* lower I/O in flight */
    struct drbd_link cmds;             /* admin commands not yet answered */
    void *pool[48];                    /* spare data buffers of DRBD_POOL_BUF bytes */
    int npool;
    int in_command;                    /* inside drbd_command */
    bool freeing;
};

#include "drbd/drbd_fn.h"

#endif
