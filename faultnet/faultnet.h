/* faultnet: TCP-like byte streams between simulated hosts, with faults.
 *
 * Hosts have a name ("alice") and an IPv4 address ("10.0.0.1"); either works as
 * the host part of a "host:port" address.  A umc node runs on a host by
 * passing faultnet_backend() and faultnet_host_ctx() in its umc_node_opts.
 *
 * While a link is healthy a stream is in order and reliable.  Each segment
 * leaves after the link's serialization delay (bandwidth) and arrives after
 * latency plus a jitter drawn from the "net" stream, never before the previous
 * segment of its stream.  A receiver that does not read fills its window; the
 * sender's queue then grows and umc_conn_queued reports it (backpressure).
 *
 * Faults, per direction between two hosts:
 *   partition  nothing crosses (bytes and connection attempts are held, as TCP
 *              would keep retransmitting); heal lets them through
 *   clog       like a partition that lifts by itself after a duration
 *   blackhole  bytes vanish; a stream that lost bytes never delivers again
 *              (its ends learn only by their own timeouts)
 *   reset      every connection between the hosts is reset now
 *   slow       other link parameters (latency, bandwidth) until healed
 * Faults can be applied now or scheduled at a virtual time for a duration.
 */
#ifndef FAULTNET_H
#define FAULTNET_H

#include <stdbool.h>
#include <stdint.h>

#include "mte_sim/mte_sim.h"
#include "umc/umc.h"

struct faultnet;

struct faultnet_link {
    mte_time_t latency;   /* one way */
    mte_time_t jitter;    /* extra delay uniform in [0, jitter] */
    uint64_t bandwidth;   /* bytes per second, 0 = unlimited */
};

struct faultnet_params {
    struct faultnet_link link;      /* default for every pair of hosts */
    uint32_t window;                /* receive window per stream direction, bytes */
    mte_time_t connect_timeout;     /* a connection attempt that gets no answer */
};

/* p NULL: the defaults.  Free the nodes running on the hosts before the
 * faultnet (connections still open when it goes report -ENETDOWN). */
struct faultnet *faultnet_new(struct mte_engine *e, uint64_t seed, const struct faultnet_params *p);
void faultnet_free(struct faultnet *fn);
/* 100 us one way, no jitter, 1.25 GB/s, 4 MiB window, 3 s connect timeout. */
void faultnet_default_params(struct faultnet_params *p);

/* ---- hosts -------------------------------------------------------------------- */

int faultnet_add_host(struct faultnet *fn, const char *name, const char *ip); /* -EEXIST */
/* The net_ctx for umc_node_opts of the node running on host (NULL if unknown). */
void *faultnet_host_ctx(struct faultnet *fn, const char *host);
const struct umc_net_backend *faultnet_backend(void);

/* What the peers of a crashing node see: the process died and its kernel
 * resets the connections, or the machine lost power and goes silent. */
enum faultnet_crash { FAULTNET_CRASH_RESET, FAULTNET_CRASH_SILENT };
void faultnet_set_crash_mode(struct faultnet *fn, const char *host, enum faultnet_crash mode);

/* ---- links and faults ----------------------------------------------------------- */

enum faultnet_dir { FAULTNET_BOTH, FAULTNET_A_TO_B, FAULTNET_B_TO_A };

/* Both directions; -ENOENT for an unknown host (so do the faults). */
int faultnet_set_link(struct faultnet *fn, const char *a, const char *b,
                      const struct faultnet_link *link);
int faultnet_partition(struct faultnet *fn, const char *a, const char *b, enum faultnet_dir dir);
int faultnet_clog(struct faultnet *fn, const char *a, const char *b, enum faultnet_dir dir,
                  mte_time_t duration);
int faultnet_blackhole(struct faultnet *fn, const char *a, const char *b, enum faultnet_dir dir);
int faultnet_slow(struct faultnet *fn, const char *a, const char *b, const struct faultnet_link *slow);
int faultnet_reset(struct faultnet *fn, const char *a, const char *b);
/* Lift partition, clog, blackhole and slow between a and b (both directions). */
int faultnet_heal(struct faultnet *fn, const char *a, const char *b);
void faultnet_heal_all(struct faultnet *fn);

enum faultnet_fault_kind {
    FAULTNET_PARTITION, FAULTNET_CLOG, FAULTNET_BLACKHOLE, FAULTNET_SLOW, FAULTNET_RESET
};
struct faultnet_fault {
    enum faultnet_fault_kind kind;
    char a[UMC_NAME_MAX], b[UMC_NAME_MAX];
    enum faultnet_dir dir;
    mte_time_t at;        /* virtual time to apply */
    mte_time_t duration;  /* healed after this; 0 = until healed by hand (RESET: unused) */
    struct faultnet_link slow;
};
/* Apply f at f->at (or now, if that has passed).  -ENOENT for an unknown host. */
int faultnet_schedule(struct faultnet *fn, const struct faultnet_fault *f);

/* A link on which nothing gets through now (a partition, clog or blackhole
 * in either direction): its two hosts in *a and *b.  false if none. */
bool faultnet_first_cut(const struct faultnet *fn, const char **a, const char **b);

/* ---- statistics ------------------------------------------------------------------ */

/* connects: attempts that reached the network; refused, timeouts: how some
 * ended; resets: connection ends that got -ECONNRESET.  Bytes are counted when
 * put on the wire (sent), into a reader's buffer (delivered), into a blackhole
 * or a silent host (lost); segments are the data segments put on the wire. */
struct faultnet_stats {
    uint64_t connects, refused, timeouts, resets;
    uint64_t bytes_sent, bytes_delivered, bytes_lost;
    uint64_t segments;
};
void faultnet_get_stats(const struct faultnet *fn, struct faultnet_stats *st);

#endif
