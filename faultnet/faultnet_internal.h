/* Private to faultnet/: hosts, links, pipes (one per connection), their two
 * flows (one per direction) and the connection objects umc hands out.
 *
 * Ownership: hosts, links, pipes, flows and segments are faultnet memory
 * (malloc); connections and listeners are node memory (umc_conn_alloc).  A
 * pipe outlives the connection of an end that closed gracefully, so queued
 * bytes and the FIN still go out after the owner's close returned.
 *
 * No user callback ever runs from faultnet's own timers: network events only
 * update state and arm a timer embedded in the connection or listener, owned
 * by its node, which delivers one callback per firing and never touches the
 * object afterwards (the callback may free it).
 */
#ifndef FAULTNET_INTERNAL_H
#define FAULTNET_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "faultnet/faultnet.h"

#define FN_SEG_MAX (64u * 1024) /* largest segment on the wire */
#define FN_SEG_MIN (4u * 1024)  /* smallest send-queue chunk (small sends coalesce) */
#define FN_IP_MAX 16
#define FN_PORT_FIRST_EPHEMERAL 32768u
#define FN_PORT_LAST_EPHEMERAL 60999u

struct fn_pipe;
struct fn_conn;
struct fn_listener;

/* ---- segments ------------------------------------------------------------------ */

enum fn_seg_kind { FN_SEG_DATA, FN_SEG_SYN, FN_SEG_SYNACK, FN_SEG_FIN, FN_SEG_RST };

struct fn_seg {
    struct fn_seg *next;
    enum fn_seg_kind kind;
    bool doomed;            /* left into a blackhole: lost on arrival */
    mte_time_t arrival;
    size_t len, cap, off;   /* payload is data[off, len) */
    char data[];
};

/* A FIFO of segments; bytes counts DATA payload only. */
struct fn_seg_list {
    struct fn_seg *head, *tail;
    size_t bytes;
};

/* ---- hosts and links ------------------------------------------------------------- */

struct fn_host {
    struct faultnet *fn;
    char name[UMC_NAME_MAX];
    char ip[FN_IP_MAX];
    enum faultnet_crash crash_mode;
    bool down;                 /* lost power: SYNs get no answer until a node is back */
    uint32_t next_port;        /* next ephemeral port */
    struct fn_listener *listeners, *listeners_tail; /* in listen order */
    struct fn_host *next;
};

/* One direction between two hosts. */
struct fn_link {
    struct faultnet *fn;
    struct fn_host *src, *dst;
    struct faultnet_link params;
    struct faultnet_link slow;         /* the latest slow fault's parameters */
    /* Faults are counted, not flagged: a timed fault that ends lifts only
     * itself, never another one (a permanent partition) on the same link. */
    unsigned partitions, blackholes, slows;
    bool clogged;
    uint64_t heals;            /* heals by hand: a timed fault applied before one is gone */
    mte_time_t busy_until;     /* serialization: when the wire is free again */
    struct mte_timer clog_timer;
    struct fn_link *next;
};

/* ---- pipes and flows ------------------------------------------------------------- */

/* One direction of a stream: the sender's queue, the wire, the receiver's buffer. */
struct fn_flow {
    struct fn_pipe *pipe;
    struct fn_link *link;
    int from;                  /* index of the sending end in the pipe */
    struct fn_seg_list queue;  /* accepted, waiting for window */
    struct fn_seg_list air;    /* on the wire, arrival times ascending */
    struct fn_seg_list rx;     /* arrived, unread */
    size_t stuck;              /* lost bytes: never acknowledged, they keep the window full */
    mte_time_t last_arrival;
    bool open;                 /* handshake done on the sending side: data may leave */
    bool fin_queued, fin_sent, fin_arrived;
    bool held;                 /* head is due but the link is partitioned */
    bool lost;                 /* lost a segment: never delivers again */
    struct mte_timer timer;    /* next arrival; owned by the faultnet */
};

enum fn_end_state { FN_END_PENDING, FN_END_OPEN, FN_END_GONE };

struct fn_end {
    struct fn_host *host;
    uint32_t port;
    enum fn_end_state state;   /* PENDING: the acceptor before the SYN arrived */
    struct fn_conn *conn;      /* set while OPEN */
    struct fn_flow out;        /* what this end sends */
};

struct fn_pipe {
    struct faultnet *fn;
    struct fn_end end[2];      /* 0: connector, 1: acceptor */
    struct fn_pipe *prev, *next;
};

/* How an end leaves its pipe. */
enum fn_detach {
    FN_DETACH_GRACEFUL, /* owner close: queued bytes then FIN still go out */
    FN_DETACH_ABORT,    /* owner abort, process crash, timeout: drop, RST the peer */
    FN_DETACH_SILENT,   /* power loss: drop, say nothing, what comes in is lost */
    FN_DETACH_RESET,    /* a reset reached this end: everything is dropped */
};

/* ---- connections and listeners --------------------------------------------------- */

enum { FN_EV_CONNECT = 1u << 0, FN_EV_READABLE = 1u << 1, FN_EV_WRITABLE = 1u << 2,
       FN_EV_CLOSE = 1u << 3 };

struct fn_conn {
    struct umc_conn base;
    struct fn_pipe *pipe;      /* NULL once detached from the network */
    int side;
    int err;                   /* what read/send report once detached */
    bool connecting, paused, eof_posted;
    struct fn_listener *backlog;  /* set while waiting in a listener's backlog */
    struct fn_conn *backlog_next;
    unsigned events;           /* FN_EV_* waiting for delivery */
    int close_err;
    struct mte_timer event_timer;    /* owned by the node */
    struct mte_timer connect_timer;  /* owned by the node */
};

struct fn_listener {
    struct umc_listener base;
    struct fn_host *host;      /* NULL once unhooked */
    uint32_t port;
    struct fn_conn *backlog_head, *backlog_tail;  /* accepted, not yet handed over */
    struct mte_timer accept_timer;                /* owned by the node */
    struct fn_listener *prev, *next;              /* the host's listeners */
};

/* ---- scheduled faults and the network ------------------------------------------- */

struct fn_sched {
    struct faultnet *fn;
    struct faultnet_fault fault;
    struct mte_timer apply_timer, heal_timer;  /* owned by the faultnet */
    uint64_t heals[2];         /* the links' heal counts when applied */
    struct fn_sched *prev, *next;
};

struct faultnet {
    struct mte_engine *e;
    struct faultnet_params params;
    struct mte_rng rng;        /* "net": jitter */
    struct fn_host *hosts, *hosts_tail;
    struct fn_link *links, *links_tail;
    struct fn_pipe *pipes, *pipes_tail;
    struct fn_sched *scheds;
    struct faultnet_stats stats;
};

/* faultnet.c */
void *fn_xmalloc(size_t size);
void *fn_xcalloc(size_t size);
struct fn_host *fn_host_find(struct faultnet *fn, const char *name_or_ip);
int fn_parse_addr(struct fn_host *self, const char *addr, struct fn_host **host, uint32_t *port);
struct fn_link *fn_link_get(struct faultnet *fn, struct fn_host *src, struct fn_host *dst);
const struct faultnet_link *fn_link_params(const struct fn_link *l);
bool fn_link_blocked(const struct fn_link *l);
void fn_trace(struct faultnet *fn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* faultnet_flow.c */
struct fn_pipe *fn_pipe_new(struct faultnet *fn, struct fn_host *h0, uint32_t port0,
                            struct fn_host *h1, uint32_t port1);
void fn_pipe_free(struct fn_pipe *p);
void fn_pipe_maybe_free(struct fn_pipe *p);
struct fn_flow *fn_flow_in(struct fn_pipe *p, int side);
void fn_flow_send(struct fn_flow *f, const struct iovec *iov, unsigned iovcnt);
void fn_flow_send_ctrl(struct fn_flow *f, enum fn_seg_kind kind);
void fn_flow_push(struct fn_flow *f);
size_t fn_flow_read(struct fn_flow *f, void *buf, size_t len);
void fn_flow_drop_queue(struct fn_flow *f);
void fn_flow_drop_air(struct fn_flow *f);
void fn_flow_drop_rx(struct fn_flow *f);
void fn_flow_release(struct fn_flow *f);
void fn_release_held_on(struct faultnet *fn, struct fn_link *l);

/* faultnet_conn.c: the backend, and what arrivals do to connections */
extern const struct umc_net_backend faultnet_backend_ops;
void fn_on_syn(struct fn_pipe *p);
void fn_on_synack(struct fn_pipe *p);
void fn_on_rst(struct fn_pipe *p, int side);
void fn_conn_data_arrived(struct fn_conn *c);
void fn_conn_check_eof(struct fn_conn *c);
void fn_conn_queue_drained(struct fn_conn *c);
void fn_end_detach(struct fn_pipe *p, int side, enum fn_detach how, int err);
void fn_listener_unhook(struct fn_listener *l);

#endif
