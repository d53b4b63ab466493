/* scstd: the real storage server.  One engine on the real clock, one umc node
 * on the TCP backend, and the product modules (tcmu_ram, scst, iscsi, drbd)
 * driven only through their public headers.
 *
 *   scstd.c          main: start-up, the run, the shutdown in order
 *   scstd_options.c  the command line
 *   scstd_config.c   backstores, scst.conf, iscsi-scstd.conf, .res files
 *   scstd_admin.c    the unix-socket line protocol for scstctl (framing)
 *   scstd_verbs.c    what the admin verbs do (SCST side)
 *   scstd_drbd.c     the drbd verbs, status and events2
 *   scstd_signal.c   SIGINT/SIGTERM through a signalfd on the engine
 *   scstd_record.c   --record-io: every bio to the exported bdevs, as sim I/O traces
 *   scstd_util.c     sizes, numbers, splitting words
 *   scstd_fuse.c     --fuse DIR: every bdev as a file DIR/dev/NAME
 *
 * This is a program, not product code: it may use files, signals and stdio.
 */
#ifndef SCSTD_H
#define SCSTD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "drbd/drbd.h"
#include "iscsi/iscsi.h"
#include "mte_sim/mte_sim.h"
#include "scst/scst.h"
#include "tcmu_ram/tcmu_ram.h"
#include "umc/umc.h"

#define SCSTD_DEFAULT_PORTAL "127.0.0.1:3260"
#define SCSTD_DEFAULT_TARGET "iqn.2026-11.local.scstd:ram0"
#define SCSTD_DEFAULT_DEVICE "ram0"
#define SCSTD_DEFAULT_SIZE (1ull << 30)
#define SCSTD_DEFAULT_ADMIN "/run/scstd.sock"
#define SCSTD_DEFAULT_STATE_DIR "/var/lib/scstd"
#define SCSTD_MAX_LIST 32
#define SCSTD_DEFAULT_POLL_NAP_US 100 /* --poll-nap-us: see mte_moderate.h */
#define SCSTD_MAX_POLL_NAP_US 1000
#define SCSTD_ERR 512

/* Exit codes of scstd and scstctl. */
enum { SCSTD_EXIT_OK = 0, SCSTD_EXIT_FAIL = 1, SCSTD_EXIT_USAGE = 2 };

struct scstd_options {
    const char *portals[SCSTD_MAX_LIST];
    unsigned nportals;
    const char *config;          /* scst.conf */
    const char *iscsi_config;    /* iscsi-scstd.conf */
    const char *drbd_configs[SCSTD_MAX_LIST];
    unsigned ndrbd_configs;
    const char *up[SCSTD_MAX_LIST];           /* resources to bring up at start */
    unsigned nup;
    const char *backstores[SCSTD_MAX_LIST]; /* NAME:SIZE[:FILE] */
    unsigned nbackstores;
    const char *node_name;       /* drbd "on NAME"; NULL: the host name */
    const char *admin;           /* unix socket path; "" or "none": no admin socket */
    const char *record_io[SCSTD_MAX_LIST];  /* [BDEV=]FILE */
    unsigned nrecord_io;
    const char *state_dir;
    const char *advertise;
    const char *fuse_dir;        /* --fuse: mount the device tree here; NULL: none */
    uint64_t seed;
    uint64_t poll_nap_us;        /* mte_set_poll_moderation gap; 0: off */
    bool have_seed;
    bool check_only;             /* load the configuration, then exit */
    int verbosity;               /* 0 warnings, 1 info, 2 debug */
};

struct scstd_admin;
struct scstd_drbd_job;
struct scstd_events;
struct scstd_fuse;
struct scstd_recorder;
struct scstd_signals;

/* One backstore scstd made (tcmu device), by name, so removal is symmetric. */
struct scstd_backstore {
    char name[UMC_NAME_MAX];
    char device[UMC_NAME_MAX];   /* the scst device over it, "" if none */
    struct tcmu_device *dev;
    struct scstd_backstore *next;
};

struct scstd {
    struct scstd_options opt;
    struct mte_engine *engine;
    struct umc_node *node;
    struct tcmu_host *tcmu;
    struct scst_core *core;
    struct iscsi_server *iscsi;
    struct drbd *drbd;           /* NULL without --drbd-config */
    struct scstd_admin *admin;
    struct scstd_recorder *rec;
    struct scstd_signals *sig;
    struct scstd_fuse *fuse;     /* NULL without --fuse */
    struct scstd_backstore *backstores;
    struct scstd_drbd_job *drbd_jobs;   /* drbd commands not yet answered */
    struct scstd_events *drbd_events;   /* events2 streams */
    char host_name[UMC_NAME_MAX];
    bool stopping;
    int exit_code;
};

/* scstd_options.c: 0, or SCSTD_EXIT_USAGE after printing why (or the help: -1). */
int scstd_parse_options(struct scstd_options *o, int argc, char **argv);
void scstd_usage(FILE *f, const char *prog);

/* scstd_config.c: each returns 0, or prints "FILE:LINE: problem" and
 * returns SCSTD_EXIT_USAGE (a bad configuration) or SCSTD_EXIT_FAIL. */
int scstd_add_backstore_spec(struct scstd *d, const char *spec, char *err, size_t errlen);
int scstd_load_default(struct scstd *d, char *err, size_t errlen);
int scstd_load_scst_conf(struct scstd *d, const char *path, char *err, size_t errlen);
int scstd_load_iscsi_conf(struct scstd *d, const char *path, char *err, size_t errlen);
int scstd_apply_iscsi_conf(struct scstd *d, const char *text, const char *path, char *err,
                           size_t errlen);
int scstd_load_drbd_conf(struct scstd *d, const char *path, char *err, size_t errlen);
/* Backstores: a tcmu ram device (anonymous, or mmap of file) named name
 * (NULL: the next tcmuNNN).  Returns the device or NULL with err. */
struct tcmu_device *scstd_backstore_add(struct scstd *d, const char *name, uint64_t size,
                                        uint32_t block_size, const char *file, char *err,
                                        size_t errlen);
int scstd_backstore_remove(struct scstd *d, const char *name, char *err, size_t errlen);
void scstd_backstores_free(struct scstd *d);
/* One iscsi-scstd.conf key (a parameter, or IncomingUser/OutgoingUser "USER
 * SECRET") for target, NULL = discovery and the defaults.  0 or -errno. */
int scstd_iscsi_key(struct scstd *d, const char *target, const char *key, const char *value,
                    char *err, size_t errlen);
struct scstd_backstore *scstd_backstore_find(struct scstd *d, const char *name);

/* scstd_admin.c */
struct scstd_admin *scstd_admin_start(struct scstd *d, const char *path, char *err, size_t errlen);
void scstd_admin_stop(struct scstd_admin *a);  /* close the socket and the clients */
void scstd_admin_free(struct scstd_admin *a);  /* after the modules are freed */

/* A request being answered.  Verbs write data lines with scstd_reply_line
 * and finish with scstd_reply_done exactly once (possibly later, from a
 * callback).  If the client went away the reply goes nowhere. */
struct scstd_reply;
void scstd_reply_line(struct scstd_reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void scstd_reply_text(struct scstd_reply *r, const char *text); /* one data line per line */
void scstd_reply_done(struct scstd_reply *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool scstd_reply_orphaned(const struct scstd_reply *r);
struct scstd *scstd_reply_daemon(const struct scstd_reply *r);
/* Streaming replies (events2): called when the client goes away. */
void scstd_reply_on_orphan(struct scstd_reply *r, void (*fn)(void *arg), void *arg);

/* scstd_verbs.c: run one request (argv[0] is the verb). */
void scstd_verb_run(struct scstd *d, struct scstd_reply *r, int argc, char **argv);
/* scstd_drbd.c: true if argv[0] is a drbd verb (and runs it). */
bool scstd_drbd_verb(struct scstd *d, struct scstd_reply *r, int argc, char **argv);
void scstd_drbd_help(struct scstd_reply *r);
/* --up RES|all at start-up: 0, or an exit code with err. */
int scstd_drbd_up_now(struct scstd *d, const char *res, char *err, size_t errlen);
void scstd_drbd_stop(struct scstd *d);     /* before drbd_free: end events2 streams */
/* A clean shutdown: every resource that is up goes down (demoted, its
 * meta-data written clean), so the next start resyncs only what the bitmap
 * holds; runs the engine until drbd answered or limit passed. */
void scstd_drbd_down_all(struct scstd *d, mte_time_t limit);
void scstd_drbd_cleanup(struct scstd *d);  /* after drbd_free: unanswered commands */

/* scstd_signal.c */
struct scstd_signals *scstd_signals_start(struct scstd *d);
void scstd_signals_stop(struct scstd_signals *s);

/* scstd_record.c */
struct scstd_recorder *scstd_recorder_new(struct scstd *d, const char *const *specs,
                                          unsigned nspecs, char *err, size_t errlen);
/* Wrap any exported bdev not yet wrapped (after configuration changes). */
void scstd_recorder_rescan(struct scstd_recorder *r);
void scstd_recorder_free(struct scstd_recorder *r);
/* After an admin change: rescan if recording. */
void scstd_changed(struct scstd *d);

/* scstd_fuse.c: mount the tree at dir (NULL with err), and the shutdown's
 * first step: answer what is in flight, close the devices, unmount, free. */
struct scstd_fuse *scstd_fuse_start(struct scstd *d, const char *dir, char *err, size_t errlen);
void scstd_fuse_stop(struct scstd_fuse *fs);

/* scstd_util.c */
/* "1G", "512M", "4096", "40000K": powers of 1024.  0, or -EINVAL. */
int scstd_parse_size(const char *s, uint64_t *out);
int scstd_parse_u64(const char *s, uint64_t *out);
/* Split a line into words: spaces separate, "double quotes" group, \ escapes
 * inside quotes.  Returns the count, or -1 (unbalanced quote, too many). */
int scstd_split_words(char *line, char **argv, int max);
const char *scstd_basename(const char *path);

#endif
