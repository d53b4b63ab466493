/* drbd: DRBD 9-style replicated block devices, behaviour-compatible with
 * kernel DRBD 9 (its states, generation UUIDs and commands), our own wire format.
 *
 * A node's struct drbd holds the resources of its .res configuration.  Each
 * volume of a resource is a bdev "drbd<minor>" stacked on a backing bdev
 * (tcmu001, found in the node's registry) with internal meta-data at the end
 * of the backing device.  Peers talk over umc connections, so the same code
 * runs between scstd processes over TCP and inside scstsim over faultnet.
 */
#ifndef DRBD_H
#define DRBD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "umc/umc.h"

#define DRBD_MAX_PEERS 31
#define DRBD_MAX_VOLUMES 16

struct drbd;
struct drbd_events;

/* ---- module life and configuration -------------------------------------------------- */

/* my_host: the "on NAME" section this node plays. Stored in UMC_SLOT_DRBD. */
struct drbd *drbd_new(struct umc_node *n, const char *my_host);
void drbd_free(struct drbd *d);          /* takes every resource down */
struct drbd *drbd_of(struct umc_node *n);

/* Parse .res text and add its resources (not yet up).  0, or -EINVAL with
 * "FILE:LINE: problem" in err. */
int drbd_add_config(struct drbd *d, const char *text, const char *filename, char *err, size_t errlen);
/* Check .res text without a node's state (scstctl, scenario files). */
int drbd_check_config(struct umc_node *n, const char *text, const char *filename, char *err,
                      size_t errlen);

/* ---- admin verbs ------------------------------------------------------------------------ */

/* drbdadm/drbdsetup verbs: up, down, primary, secondary, connect, disconnect,
 * attach, detach, invalidate, invalidate-remote, verify, pause-sync,
 * resume-sync, create-md, new-current-uuid, outdate. */
struct drbd_cmd {
    const char *verb;
    const char *resource;
    const char *peer;        /* connection verbs: one peer host, NULL = all */
    int volume;              /* -1 = every volume */
    bool force;              /* primary --force, create-md --force */
    bool discard_my_data;    /* connect --discard-my-data */
};

/* Asynchronous: done(arg, rc, msg) once the state change has settled or was
 * refused.  rc 0, or negative with DRBD's wording in msg, e.g.
 * "State change failed: (-2) Need access to UpToDate data". */
typedef void (*drbd_done_fn)(void *arg, int rc, const char *msg);
void drbd_command(struct drbd *d, const struct drbd_cmd *cmd, drbd_done_fn done, void *arg);

/* ---- status and events ------------------------------------------------------------------ */

enum { DRBD_STATUS_VERBOSE = 1u << 0, DRBD_STATUS_STATISTICS = 1u << 1 };
/* `drbdsetup status [RES] [--verbose] [--statistics]` text; umc_alloc'd. */
char *drbd_status(struct drbd *d, const char *resource, unsigned flags);

/* `drbdsetup events2` lines ("change peer-device name:r0 peer-node-id:1
 * conn-name:bob volume:0 replication:SyncSource").  With now, the current
 * state first as "exists" lines and an "exists -" line. */
typedef void (*drbd_event_fn)(void *arg, const char *line);
struct drbd_events *drbd_events_open(struct drbd *d, bool now, drbd_event_fn fn, void *arg);
void drbd_events_close(struct drbd_events *ev);

/* ---- introspection (simulator checkers, tests) ------------------------------------------ */

enum drbd_role { DRBD_ROLE_UNKNOWN, DRBD_ROLE_SECONDARY, DRBD_ROLE_PRIMARY };
enum drbd_conn_state {
    DRBD_C_STANDALONE, DRBD_C_DISCONNECTING, DRBD_C_UNCONNECTED, DRBD_C_TIMEOUT,
    DRBD_C_BROKEN_PIPE, DRBD_C_NETWORK_FAILURE, DRBD_C_PROTOCOL_ERROR, DRBD_C_TEAR_DOWN,
    DRBD_C_CONNECTING, DRBD_C_CONNECTED,
};
enum drbd_repl_state {
    DRBD_R_OFF, DRBD_R_ESTABLISHED, DRBD_R_STARTING_SYNC_S, DRBD_R_STARTING_SYNC_T,
    DRBD_R_WF_BITMAP_S, DRBD_R_WF_BITMAP_T, DRBD_R_WF_SYNC_UUID, DRBD_R_SYNC_SOURCE,
    DRBD_R_SYNC_TARGET, DRBD_R_VERIFY_S, DRBD_R_VERIFY_T, DRBD_R_PAUSED_SYNC_S,
    DRBD_R_PAUSED_SYNC_T, DRBD_R_AHEAD, DRBD_R_BEHIND,
};
enum drbd_disk_state {
    DRBD_D_DISKLESS, DRBD_D_ATTACHING, DRBD_D_DETACHING, DRBD_D_FAILED, DRBD_D_NEGOTIATING,
    DRBD_D_INCONSISTENT, DRBD_D_OUTDATED, DRBD_D_UNKNOWN, DRBD_D_CONSISTENT, DRBD_D_UP_TO_DATE,
};
const char *drbd_role_name(enum drbd_role r);
const char *drbd_conn_name(enum drbd_conn_state c);
const char *drbd_repl_name(enum drbd_repl_state r);
const char *drbd_disk_name(enum drbd_disk_state d);

struct drbd_peer_info {
    char name[UMC_NAME_MAX];
    int node_id;
    enum drbd_conn_state conn;
    enum drbd_role role;
    enum drbd_repl_state repl;   /* of this volume */
    enum drbd_disk_state disk;   /* the peer's disk, as we know it */
    uint64_t out_of_sync;        /* bytes marked out of sync for this peer */
    uint64_t resync_total;       /* bytes this resync set out to move */
    char last_drop[96];          /* why the connection last went down ("" never) */
};

struct drbd_volume_info {
    char resource[UMC_NAME_MAX];
    int volume, minor;
    char device[UMC_NAME_MAX];   /* "drbd1" */
    char backing[UMC_NAME_MAX];  /* "tcmu001" */
    enum drbd_role role;         /* the resource's */
    enum drbd_disk_state disk;
    bool quorum, suspended;
    bool client;                 /* configured without a disk ("disk none") */
    uint64_t size;               /* usable bytes */
    uint64_t current_uuid;
    int npeers;
    struct drbd_peer_info peers[DRBD_MAX_PEERS];
};

/* Call fn for every volume of every resource, in configuration order. */
typedef void (*drbd_volume_fn)(void *arg, const struct drbd_volume_info *info);
void drbd_foreach_volume(struct drbd *d, drbd_volume_fn fn, void *arg);
/* 0, or -ENOENT. */
int drbd_volume_info(struct drbd *d, const char *resource, int volume, struct drbd_volume_info *out);
/* Where a read of the 4 KiB block at off would be served from now: peer ""
 * for the local disk, else the peer's name (a diskless node; a SyncTarget's
 * block not resynced yet).  -ENODATA: from nowhere. */
int drbd_read_source(struct drbd *d, const char *resource, int volume, uint64_t off, char *peer,
                     size_t len);

#endif
