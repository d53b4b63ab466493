/* umc: the platform every product layer (iscsi/, scst/, drbd/, tcmu_ram/) is
 * written against.  Product code touches the world only through this header:
 * clock, timers, deferred calls, seeded random streams, logging and trace,
 * memory, the block layer (bio + bdev registry) and stream connections.
 *
 * A struct umc_node is one storage server.  It owns everything the node
 * allocates: memory (umc_alloc), timers, deferred calls, connections, bdevs.
 * In the simulator many nodes share one engine; umc_node_crash() drops all of a
 * node's pending work and frees its memory in one step, keeping only what its
 * simulated disks made durable.  umc_node_free() is the clean shutdown and
 * reports any allocation a component forgot to free.
 */
#ifndef UMC_H
#define UMC_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "mte_sim/mte_sim.h"

#define UMC_NAME_MAX 64
#define UMC_ADDR_MAX 128
#define UMC_SECTOR 512u

struct umc_node;
struct umc_net_backend;
struct umc_fs_backend;

/* ---- node ----------------------------------------------------------------- */

enum umc_log_level { UMC_LOG_ERROR, UMC_LOG_WARN, UMC_LOG_INFO, UMC_LOG_DEBUG };

struct umc_node_opts {
    const char *name;                     /* unique within the engine */
    uint64_t seed;                        /* root of the node's random streams */
    const struct umc_net_backend *net;    /* umc_tcp_backend() or a faultnet one */
    void *net_ctx;                        /* backend's per-node context */
    const struct umc_fs_backend *fs;      /* NULL: the real file system */
    void *fs_ctx;
    enum umc_log_level print_level;       /* lines at or below this go to stderr */
};

struct umc_node *umc_node_new(struct mte_engine *e, const struct umc_node_opts *opts);
/* Clean shutdown: components must already have freed what they own.  Returns
 * the number of allocations that were still live (each is logged and freed). */
size_t umc_node_free(struct umc_node *n);
/* Simulated crash: cancel all pending work, drop connections without a word to
 * the peers' sockets unless the backend says otherwise, free all memory. */
void umc_node_crash(struct umc_node *n);

const char *umc_node_name(const struct umc_node *n);
struct mte_engine *umc_engine(const struct umc_node *n);
void umc_node_set_print_level(struct umc_node *n, enum umc_log_level level);

/* Per-node slots where modules hang their root state (no globals anywhere). */
enum umc_slot { UMC_SLOT_TCMU, UMC_SLOT_SCST, UMC_SLOT_ISCSI, UMC_SLOT_DRBD, UMC_SLOT_ADMIN,
                UMC_SLOT_APP, UMC_SLOT_MAX };
void umc_node_set_slot(struct umc_node *n, enum umc_slot slot, void *state);
void *umc_node_slot(const struct umc_node *n, enum umc_slot slot);

/* Hooks run (in registration order) by umc_node_crash before memory is freed,
 * for resources outside the node (a simulated disk's volatile cache). */
typedef void (*umc_crash_fn)(void *arg);
void umc_on_crash(struct umc_node *n, umc_crash_fn fn, void *arg);

/* ---- memory ----------------------------------------------------------------- */

/* All product allocations go through these; they abort on exhaustion. */
void *umc_alloc(struct umc_node *n, size_t size);  /* zeroed */
void *umc_realloc(struct umc_node *n, void *p, size_t size);
void umc_free(struct umc_node *n, void *p);
char *umc_strdup(struct umc_node *n, const char *s);
char *umc_asprintf(struct umc_node *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t umc_live_allocs(const struct umc_node *n);
size_t umc_live_bytes(const struct umc_node *n);

/* Large zeroed regions (ram disks): anonymous mappings, pages faulted in lazily. */
void *umc_map_anon(struct umc_node *n, size_t size);
void umc_unmap_anon(struct umc_node *n, void *p, size_t size);

/* ---- time, timers, deferred calls ------------------------------------------- */

mte_time_t umc_now(const struct umc_node *n);
void umc_timer_init(struct umc_node *n, struct mte_timer *t, mte_fn fn, void *arg);
void umc_timer_arm_in(struct umc_node *n, struct mte_timer *t, mte_time_t delay);
void umc_timer_arm_at(struct umc_node *n, struct mte_timer *t, mte_time_t when);
bool umc_timer_cancel(struct umc_node *n, struct mte_timer *t);
void umc_defer(struct umc_node *n, mte_fn fn, void *arg);
void umc_defer_low(struct umc_node *n, mte_fn fn, void *arg);

/* ---- randomness ----------------------------------------------------------- */

/* A named stream of the node, created on first use from the node's seed. */
struct mte_rng *umc_rng(struct umc_node *n, const char *stream);

/* ---- logging and trace ------------------------------------------------------- */

/* A log line is "<time> <node> <component>: <message>".  ERROR..INFO lines are
 * trace events (folded into the run hash); DEBUG lines are only printed. */
void umc_log(struct umc_node *n, enum umc_log_level level, const char *component,
             const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void umc_vlog(struct umc_node *n, enum umc_log_level level, const char *component,
              const char *fmt, va_list ap);
/* A trace event that is never printed unless tracing to a file. */
void umc_trace(struct umc_node *n, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool umc_debug_enabled(const struct umc_node *n);

#define umc_err(n, comp, ...) umc_log((n), UMC_LOG_ERROR, (comp), __VA_ARGS__)
#define umc_warn(n, comp, ...) umc_log((n), UMC_LOG_WARN, (comp), __VA_ARGS__)
#define umc_info(n, comp, ...) umc_log((n), UMC_LOG_INFO, (comp), __VA_ARGS__)
#define umc_debug(n, comp, ...)                                                   \
    do {                                                                          \
        if (umc_debug_enabled(n))                                                 \
            umc_log((n), UMC_LOG_DEBUG, (comp), __VA_ARGS__);                     \
    } while (0)

/* ---- deliberate defects (simulator --inject-bug) ----------------------------- */

/* Product code asks "is bug X switched on?" to reproduce a known defect on
 * demand.  Never on unless the simulator sets it. */
void umc_set_bugs(struct umc_node *n, uint64_t mask);
bool umc_bug(const struct umc_node *n, unsigned bug);
enum umc_bug_id { UMC_BUG_RESYNC_NO_RESTART, UMC_BUG_LOST_BARRIER_ACK, UMC_BUG_MAX = 63 };

/* ---- block layer ------------------------------------------------------------- */

enum umc_bio_op { UMC_OP_READ, UMC_OP_WRITE, UMC_OP_FLUSH, UMC_OP_DISCARD, UMC_OP_WRITE_ZEROES };
enum {
    UMC_BIO_FUA = 1u << 0,      /* write is durable when it completes */
    UMC_BIO_PREFLUSH = 1u << 1, /* flush the cache before this write */
};

struct umc_bio;
typedef void (*umc_bio_done_fn)(struct umc_bio *bio);

struct umc_bio {
    enum umc_bio_op op;
    uint32_t flags;
    uint64_t offset;         /* bytes, multiple of 512 */
    uint64_t length;         /* bytes, multiple of 512; 0 for FLUSH */
    struct iovec *iov;       /* READ/WRITE: buffers summing to length */
    unsigned iovcnt;
    int status;              /* 0 or -errno, valid in done */
    umc_bio_done_fn done;
    void *priv;              /* the submitter's */
    /* private to the block layer */
    struct umc_bdev *bdev;
    bool in_submit;
};

const char *umc_bio_op_name(enum umc_bio_op op);
size_t umc_iov_total(const struct iovec *iov, unsigned iovcnt);
/* Copy between a flat buffer and an iovec starting at byte skip of the iovec. */
void umc_iov_to_buf(const struct iovec *iov, unsigned iovcnt, size_t skip, void *buf, size_t len);
void umc_iov_from_buf(const struct iovec *iov, unsigned iovcnt, size_t skip, const void *buf,
                      size_t len);
void umc_iov_zero(const struct iovec *iov, unsigned iovcnt, size_t skip, size_t len);

struct umc_bdev;
struct umc_bdev_ops {
    void (*submit)(struct umc_bdev *b, struct umc_bio *bio);
    /* optional: refuse or note an open (drbd: a Secondary refuses writers) */
    int (*open)(struct umc_bdev *b, bool write);
    void (*release)(struct umc_bdev *b, bool write);
};

enum {
    UMC_BDEV_READ_ONLY = 1u << 0,
    UMC_BDEV_DISCARD = 1u << 1,      /* DISCARD supported (thin) */
    UMC_BDEV_WRITE_ZEROES = 1u << 2, /* WRITE_ZEROES supported natively */
    UMC_BDEV_VOLATILE_CACHE = 1u << 3,
};

struct umc_bdev {
    char name[UMC_NAME_MAX];
    uint64_t size;           /* bytes */
    uint32_t block_size;     /* logical block size: 512 or 4096 */
    uint32_t flags;
    const struct umc_bdev_ops *ops;
    void *priv;
    /* maintained by the registry */
    struct umc_node *node;
    unsigned openers, writers;
    bool exclusive;
    struct umc_bdev *next;
};

/* Registry, one per node, kept in name order. */
int umc_bdev_register(struct umc_node *n, struct umc_bdev *b);   /* -EEXIST, -EINVAL */
int umc_bdev_unregister(struct umc_node *n, struct umc_bdev *b);     /* -EBUSY while open */
/* Accepts "tcmu001" or a path whose last component is the name ("/UMCfuse/dev/tcmu001"). */
struct umc_bdev *umc_bdev_find(struct umc_node *n, const char *name);
struct umc_bdev *umc_bdev_first(struct umc_node *n);
struct umc_bdev *umc_bdev_next(struct umc_bdev *b);

enum { UMC_OPEN_WRITE = 1u << 0, UMC_OPEN_EXCL = 1u << 1 };
/* -EBUSY if held exclusively (or opened at all, for an exclusive open), -EROFS
 * for a writable open of a read-only device, or the device's own refusal. */
int umc_bdev_open(struct umc_bdev *b, unsigned mode);
void umc_bdev_close(struct umc_bdev *b, unsigned mode);

/* Checks the bio (bounds, alignment, read-only) then hands it to the device.
 * done is never called before umc_bio_submit returns. */
void umc_bio_submit(struct umc_bdev *b, struct umc_bio *bio);
/* For bdev implementations: finish a bio (deferred if still inside submit). */
void umc_bio_complete(struct umc_bio *bio, int status);

/* ---- stream connections ---------------------------------------------------- */

struct umc_conn;
struct umc_listener;

/* Callbacks of a connection.  After on_close no other callback comes; the owner
 * still calls umc_conn_close (it may do so inside on_close). */
struct umc_conn_ops {
    void (*on_connect)(struct umc_conn *c, void *arg);           /* outgoing only */
    void (*on_readable)(struct umc_conn *c, void *arg);          /* data to read */
    void (*on_writable)(struct umc_conn *c, void *arg);          /* queue drained */
    void (*on_close)(struct umc_conn *c, int err, void *arg);    /* 0 = EOF, else -errno */
};

typedef void (*umc_accept_fn)(struct umc_listener *l, struct umc_conn *c, void *arg);

/* Addresses are "host:port" (host a name or an IPv4 address) or "unix:/path". */
struct umc_listener *umc_listen(struct umc_node *n, const char *addr, umc_accept_fn fn, void *arg,
                                int *err);
void umc_listener_close(struct umc_listener *l);
/* The address actually bound (port filled in when 0 was asked for). */
const char *umc_listener_addr(const struct umc_listener *l);

/* Asynchronous: on_connect or on_close(-ECONNREFUSED/-ETIMEDOUT/...) follows. */
struct umc_conn *umc_connect(struct umc_node *n, const char *addr, const struct umc_conn_ops *ops,
                             void *arg);
void umc_conn_set_ops(struct umc_conn *c, const struct umc_conn_ops *ops, void *arg);

/* Read up to len bytes: > 0 bytes read, 0 nothing available now, < 0 -errno
 * (the connection is gone; on_close says why). */
ssize_t umc_conn_read(struct umc_conn *c, void *buf, size_t len);
/* Queue bytes for sending; never blocks.  0 or -errno if the connection is dead. */
int umc_conn_send(struct umc_conn *c, const struct iovec *iov, unsigned iovcnt);
int umc_conn_send_buf(struct umc_conn *c, const void *buf, size_t len);
/* The TCP congestion control of a connection (Linux's TCP_CONGESTION, e.g.
 * "cubic"): 0, or -errno (-ENOENT: the kernel has no such algorithm).  Set it
 * before the connection is established (right after umc_connect): an
 * algorithm that paces leaves pacing on behind it.  Accepted connections take
 * their listener's.  Backends without one (the simulated network) accept any
 * name. */
int umc_conn_set_congestion(struct umc_conn *c, const char *algo);
int umc_listener_set_congestion(struct umc_listener *l, const char *algo);
/* Bytes accepted but not yet handed to the network: the backpressure signal. */
size_t umc_conn_queued(const struct umc_conn *c);
/* Stop / resume on_readable (the peer then sees a full window). */
void umc_conn_pause_recv(struct umc_conn *c, bool paused);
/* Close gracefully: queued bytes still go out, then EOF.  Frees the connection;
 * no callback runs afterwards. */
void umc_conn_close(struct umc_conn *c);
/* Close with a reset: queued bytes are dropped, the peer sees -ECONNRESET. */
void umc_conn_abort(struct umc_conn *c);
const char *umc_conn_peer_addr(const struct umc_conn *c);
const char *umc_conn_local_addr(const struct umc_conn *c);
struct umc_node *umc_conn_node(const struct umc_conn *c);

/* ---- for network backends ----------------------------------------------------- */

/* The common head of every connection; a backend embeds it first in its own. */
struct umc_conn {
    const struct umc_net_backend *be;
    struct umc_node *node;
    const struct umc_conn_ops *ops;
    void *arg;
    char peer[UMC_ADDR_MAX];
    char local[UMC_ADDR_MAX];
    bool closed_by_owner;  /* umc_conn_close/abort was called */
    bool dead;             /* on_close has been (or is being) delivered */
    struct umc_conn *node_prev, *node_next;
};

struct umc_listener {
    const struct umc_net_backend *be;
    struct umc_node *node;
    umc_accept_fn fn;
    void *arg;
    char addr[UMC_ADDR_MAX];
    struct umc_listener *node_prev, *node_next;
};

struct umc_net_backend {
    const char *name;
    struct umc_listener *(*listen)(struct umc_node *n, const char *addr, int *err);
    struct umc_conn *(*connect)(struct umc_node *n, const char *addr);
    void (*listener_close)(struct umc_listener *l);
    ssize_t (*read)(struct umc_conn *c, void *buf, size_t len);
    int (*send)(struct umc_conn *c, const struct iovec *iov, unsigned iovcnt);
    size_t (*queued)(const struct umc_conn *c);
    int (*set_congestion)(struct umc_conn *c, const char *algo);            /* optional */
    int (*listener_set_congestion)(struct umc_listener *l, const char *algo); /* optional */
    void (*pause_recv)(struct umc_conn *c, bool paused);
    void (*close)(struct umc_conn *c, bool abort); /* must eventually umc_conn_release */
    /* node crash: drop everything of this node at once (memory is freed after) */
    void (*node_crash)(struct umc_node *n);
};

/* Backends allocate connections and listeners through these (node-owned). */
void *umc_conn_alloc(struct umc_node *n, const struct umc_net_backend *be, size_t size);
void umc_conn_release(struct umc_conn *c);
void *umc_listener_alloc(struct umc_node *n, const struct umc_net_backend *be, size_t size);
void umc_listener_release(struct umc_listener *l);
/* Event delivery helpers for backends (they skip dead/closed connections). */
void umc_conn_event_connect(struct umc_conn *c);
void umc_conn_event_readable(struct umc_conn *c);
void umc_conn_event_writable(struct umc_conn *c);
void umc_conn_event_close(struct umc_conn *c, int err);
void umc_listener_event_accept(struct umc_listener *l, struct umc_conn *c);
void *umc_net_ctx(const struct umc_node *n);

/* The real backend: TCP and unix sockets on the engine's epoll (real clock). */
const struct umc_net_backend *umc_tcp_backend(void);

/* ---- digests ------------------------------------------------------------------------ */

/* CRC32C (Castagnoli): incremental on a running state (start UMC_CRC32C_INIT,
 * finish with umc_crc32c_final); the SSE4.2 instruction when the CPU has it. */
#define UMC_CRC32C_INIT 0xffffffffu
uint32_t umc_crc32c_update(uint32_t state, const void *buf, size_t len);
static inline uint32_t umc_crc32c_final(uint32_t state) { return state ^ 0xffffffffu; }
uint32_t umc_crc32c(const void *buf, size_t len);
uint32_t umc_crc32c_sw(uint32_t state, const void *buf, size_t len); /* table version */
bool umc_crc32c_hw_available(void);

struct umc_md5 {
    uint32_t state[4];
    uint64_t bytes;
    uint8_t block[64];
};
void umc_md5_init(struct umc_md5 *m);
void umc_md5_update(struct umc_md5 *m, const void *data, size_t len);
void umc_md5_final(struct umc_md5 *m, uint8_t digest[16]);
void umc_md5(const void *data, size_t len, uint8_t digest[16]);
void umc_sha1(const void *data, size_t len, uint8_t digest[20]);

/* ---- files --------------------------------------------------------------------- */

/* Small state files (persistent reservations, ...).  On the real file system
 * by default; the simulator plugs in a store that survives node crashes. */
struct umc_fs_backend {
    int (*read)(void *ctx, const char *path, char **data, size_t *len, struct umc_node *n);
    int (*write)(void *ctx, const char *path, const void *data, size_t len);
};

/* Map a file of size bytes, creating or extending it; NULL and *err on failure.
 * Only with the real file system (-ENOTSUP in the simulator). */
void *umc_map_file(struct umc_node *n, const char *path, size_t size, int *err);
int umc_sync_file(struct umc_node *n, void *p, size_t size);   /* msync */
void umc_unmap_file(struct umc_node *n, void *p, size_t size);
/* Read a whole (small) file into a node allocation, NUL-terminated; NULL and
 * *err (-ENOENT, ...) on failure.  Writes replace the file atomically. */
char *umc_read_file(struct umc_node *n, const char *path, size_t *len, int *err);
int umc_write_file(struct umc_node *n, const char *path, const void *data, size_t len);

#endif
