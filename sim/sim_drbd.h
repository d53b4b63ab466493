/* Private to the simulator's drbd layer (sim_drbd.c, sim_drbd_check.c). */
#ifndef SIM_SIM_DRBD_H
#define SIM_SIM_DRBD_H

#include "drbd/drbd.h"
#include "sim/sim_int.h"

#define SDRBD_MAX_RES 16
#define SDRBD_MAX_DEVS 32

struct sdrbd_cmd;

/* A device of the node: which resource and volume it belongs to. */
struct sdrbd_dev {
    char name[UMC_NAME_MAX];
    int res;                       /* scenario resource index */
    int vnr;
};

/* Liveness bookkeeping of one peer-device, as one node sees it. */
struct sdrbd_sync_watch {
    char res[SCN_NAME];
    int vnr;
    char peer[UMC_NAME_MAX];
    bool needs_sync;
    uint64_t last_oos;
    mte_time_t progress_at;        /* when out-of-sync last went down, or the need began */
    bool verify_hold;              /* verify found differences: no resync until reconnect */
};

/* Whether this node replicates to a peer (connected, replication past the
 * handshake), and when that last stopped: writes it acknowledged after that
 * never reached the peer. */
struct sdrbd_link {
    char res[SCN_NAME];
    char peer[UMC_NAME_MAX];
    bool replicating;
    mte_time_t lost_at;
};
#define SDRBD_MAX_LINKS 32

struct sdrbd_node {
    struct sim_node *sn;
    struct drbd *d;                /* node memory: NULL once crashed */
    struct drbd_events *events;
    struct sdrbd_cmd *cmds;        /* commands waiting for drbd's answer */
    int role[SDRBD_MAX_RES];       /* per scenario resource, refreshed on state changes */
    struct sdrbd_dev devs[SDRBD_MAX_DEVS];
    int ndevs;
    struct sdrbd_sync_watch *watch;
    size_t nwatch, capwatch;
    struct sdrbd_link links[SDRBD_MAX_LINKS];
    int nlinks;
};

/* Per run, for expectations "synced within T after ACTION". */
struct sdrbd_deadline {
    mte_time_t due;
    int line;
    char what[96];
    struct sdrbd_deadline *next;
};

/* sim_drbd.c */
void sdrbd_refresh_roles(struct sdrbd_node *dn);
char sdrbd_protocol(const struct scn_resource *r);
bool sdrbd_allows_two_primaries(const struct scn_resource *r);
bool sdrbd_has_quorum_policy(const struct scn_resource *r);
/* Resources of the scenario the node plays, by index; fn stops on nonzero. */
int sdrbd_volume(struct sdrbd_node *dn, const char *res, int vnr, struct drbd_volume_info *out);

/* sim_drbd_check.c */
void sdrbd_check_roles(struct sim *s);
bool sdrbd_all_synced(struct sim *s, const char *res, char *why, size_t len);
void sdrbd_watch_forget(struct sdrbd_node *dn);
void sdrbd_deadlines_free(struct sim *s);

#endif
