/* scstd: the real storage server.  Start-up builds the node bottom up
 * (backstores, SCSI core, iSCSI server, drbd), loads the configuration,
 * opens the portals, the admin socket and the FUSE tree and prints the
 * iSCSI URLs; then one engine runs everything until SIGINT/SIGTERM (or
 * `scstctl shutdown`), and the shutdown unmounts the tree, frees every module
 * top down and checks the node for leaks. */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "scstd/scstd.h"

#define DRAIN_LIMIT (10 * MTE_SEC)
#define DRAIN_QUIET (100 * MTE_MSEC)

static uint64_t fresh_seed(void)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
        seed = mte_wall_ns() ^ ((uint64_t)getpid() << 32);
    return seed;
}

static void count_session(void *arg, const struct scst_session_info *info) { ++*(unsigned *)arg; }

static bool sessions_left(struct scstd *d)
{
    unsigned n = 0;
    if (d->core)
        scst_foreach_session(d->core, count_session, &n);
    return n > 0;
}

/* Run the engine while the node is still letting go of things (sessions
 * closing, queued bytes leaving): until nothing is queued or armed, or no
 * SCSI session is left and the node's allocations have stayed put for
 * DRAIN_QUIET (a module's periodic timer, drbd's tick, keeps the engine
 * from ever being idle); at most DRAIN_LIMIT. */
static void drain(struct scstd *d)
{
    mte_time_t now = mte_now(d->engine), deadline = now + DRAIN_LIMIT, quiet_since = now;
    size_t allocs = umc_live_allocs(d->node);
    while (!mte_idle(d->engine) && now < deadline &&
           (now - quiet_since < DRAIN_QUIET || sessions_left(d))) {
        mte_run_until(d->engine, now + 10 * MTE_MSEC);
        now = mte_now(d->engine);
        size_t a = umc_live_allocs(d->node);
        if (a != allocs) {
            allocs = a;
            quiet_since = now;
        }
    }
    if (sessions_left(d))
        fprintf(stderr, "scstd: SCSI sessions still closing after %llu s\n",
                (unsigned long long)(DRAIN_LIMIT / MTE_SEC));
}

/* mkdir -p, quietly: a missing state directory only matters for APTPL. */
static void make_dirs(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
        return;
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0755);
            *p = '/';
        }
    }
    mkdir(buf, 0755);
}

/* Is another server answering on the admin socket?  Then we must not take
 * its path away (binding unlinks a stale socket file). */
static bool admin_in_use(const char *path)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(un.sun_path))
        return false;
    strcpy(un.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool live = connect(fd, (struct sockaddr *)&un, sizeof(un)) == 0;
    close(fd);
    return live;
}

/* ---- the URLs ---------------------------------------------------------------------- */

struct url_ctx {
    struct scstd *d;
    const char *target;
    uint64_t last_lun;
    bool any;
};

static const char *url_host_port(struct scstd *d)
{
    const char *p = d->opt.portals[0];
    if (strncmp(p, "0.0.0.0:", 8) == 0 || p[0] == ':' || strncmp(p, "*:", 2) == 0)
        return d->opt.advertise ? d->opt.advertise : p;
    return p;
}

static void print_lun_url(void *arg, const struct scst_lun_info *li)
{
    struct url_ctx *u = arg;
    if (u->any && li->lun == u->last_lun)
        return; /* the same LUN in another group */
    u->any = true;
    u->last_lun = li->lun;
    printf("iscsi://%s/%s/%llu\n", url_host_port(u->d), li->target, (unsigned long long)li->lun);
}

static void print_target_urls(void *arg, const char *name)
{
    struct url_ctx *u = arg;
    struct url_ctx per = {.d = u->d, .target = name};
    scst_foreach_lun(u->d->core, name, print_lun_url, &per);
    if (!per.any)
        printf("iscsi://%s/%s (no LUNs)\n", url_host_port(u->d), name);
}

static void print_urls(struct scstd *d)
{
    struct url_ctx u = {.d = d};
    scst_foreach_target(d->core, print_target_urls, &u);
    fflush(stdout);
}

/* ---- start-up ------------------------------------------------------------------------- */

/* Command buffers (up to MaxBurstLength, 1 MiB and more) are allocated and
 * freed per command.  Past glibc's default mmap threshold each one would be
 * a fresh mapping: page faults, zeroed pages and an munmap per command.
 * Keep them on the heap, and keep the heap from shrinking back each time. */
static void tune_malloc(void)
{
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

static int start_modules(struct scstd *d)
{
    struct scstd_options *o = &d->opt;
    tune_malloc();
    uint64_t seed = o->have_seed ? o->seed : fresh_seed();
    d->engine = mte_engine_new(MTE_CLOCK_REAL, seed);
    if (!d->engine) {
        fprintf(stderr, "scstd: cannot create the event engine\n");
        return SCSTD_EXIT_FAIL;
    }
    mte_set_poll_moderation(d->engine, o->poll_nap_us * MTE_USEC);
    if (o->node_name)
        snprintf(d->host_name, sizeof(d->host_name), "%s", o->node_name);
    else if (gethostname(d->host_name, sizeof(d->host_name)) != 0 || !d->host_name[0])
        snprintf(d->host_name, sizeof(d->host_name), "scstd");
    d->host_name[sizeof(d->host_name) - 1] = '\0';
    enum umc_log_level level = o->verbosity >= 2   ? UMC_LOG_DEBUG
                               : o->verbosity == 1 ? UMC_LOG_INFO
                                                   : UMC_LOG_WARN;
    struct umc_node_opts no = {.name = d->host_name, .seed = mte_seed_derive(seed, "scstd"),
                               .net = umc_tcp_backend(), .print_level = level};
    d->node = umc_node_new(d->engine, &no);
    d->tcmu = tcmu_host_new(d->node);
    d->core = scst_core_new(d->node);
    scst_core_set_state_dir(d->core, o->state_dir);
    d->iscsi = iscsi_server_new(d->node, d->core);
    if (o->advertise)
        iscsi_server_set_advertised_addr(d->iscsi, o->advertise);
    if (o->ndrbd_configs)
        d->drbd = drbd_new(d->node, d->host_name);
    if (!d->tcmu || !d->core || !d->iscsi || (o->ndrbd_configs && !d->drbd)) {
        fprintf(stderr, "scstd: a module failed to start\n");
        return SCSTD_EXIT_FAIL;
    }
    return 0;
}

static int load_configuration(struct scstd *d)
{
    struct scstd_options *o = &d->opt;
    char err[SCSTD_ERR * 2] = "";
    int rc = 0;
    for (unsigned i = 0; !rc && i < o->ndrbd_configs; i++)
        rc = scstd_load_drbd_conf(d, o->drbd_configs[i], err, sizeof(err));
    for (unsigned i = 0; !rc && i < o->nbackstores; i++)
        rc = scstd_add_backstore_spec(d, o->backstores[i], err, sizeof(err));
    for (unsigned i = 0; !rc && i < o->nup; i++)
        rc = scstd_drbd_up_now(d, o->up[i], err, sizeof(err));
    if (!rc)
        rc = o->config ? scstd_load_scst_conf(d, o->config, err, sizeof(err))
                       : scstd_load_default(d, err, sizeof(err));
    if (!rc && o->iscsi_config)
        rc = scstd_load_iscsi_conf(d, o->iscsi_config, err, sizeof(err));
    if (rc)
        fprintf(stderr, "scstd: %s\n", err);
    return rc;
}

static int open_endpoints(struct scstd *d)
{
    struct scstd_options *o = &d->opt;
    char err[SCSTD_ERR] = "";
    if (o->nrecord_io) {
        d->rec = scstd_recorder_new(d, o->record_io, o->nrecord_io, err, sizeof(err));
        if (!d->rec) {
            fprintf(stderr, "scstd: %s\n", err);
            return SCSTD_EXIT_FAIL;
        }
        scstd_recorder_rescan(d->rec);
    }
    for (unsigned i = 0; i < o->nportals; i++) {
        int rc = iscsi_server_add_portal(d->iscsi, o->portals[i]);
        if (rc) {
            fprintf(stderr, "scstd: portal %s: %s\n", o->portals[i], strerror(-rc));
            return SCSTD_EXIT_FAIL;
        }
    }
    if (o->admin[0] && admin_in_use(o->admin)) {
        fprintf(stderr, "scstd: another server answers on the admin socket %s (see --admin)\n",
                o->admin);
        return SCSTD_EXIT_FAIL;
    }
    if (!scstd_admin_start(d, o->admin, err, sizeof(err))) {
        fprintf(stderr, "scstd: %s\n", err);
        return SCSTD_EXIT_FAIL;
    }
    d->sig = scstd_signals_start(d);
    if (!d->sig)
        return SCSTD_EXIT_FAIL;
    /* last: every configured device exists, and a SIGTERM can unmount */
    if (o->fuse_dir && !(d->fuse = scstd_fuse_start(d, o->fuse_dir, err, sizeof(err)))) {
        fprintf(stderr, "scstd: %s\n", err);
        return SCSTD_EXIT_FAIL;
    }
    return 0;
}

/* ---- shutdown ------------------------------------------------------------------------- */

/* Top down: no new requests, no sessions, then the core, replication and
 * backstores; the node must come back empty. */
static int shutdown_all(struct scstd *d)
{
    int rc = 0;
    /* first: the files hold devices open that the modules below will free */
    scstd_fuse_stop(d->fuse);
    d->fuse = NULL;
    if (d->admin)
        scstd_admin_stop(d->admin);
    if (d->drbd)
        scstd_drbd_stop(d);
    if (d->iscsi) {
        iscsi_server_free(d->iscsi);
        d->iscsi = NULL;
        drain(d);
    }
    scstd_recorder_free(d->rec);
    d->rec = NULL;
    if (d->core) {
        scst_core_free(d->core);
        d->core = NULL;
        drain(d);
    }
    if (d->drbd)
        scstd_drbd_down_all(d, DRAIN_LIMIT);
    if (d->drbd) {
        drbd_free(d->drbd);
        d->drbd = NULL;
        drain(d);
    }
    scstd_drbd_cleanup(d);
    if (d->tcmu) {
        tcmu_host_free(d->tcmu);
        d->tcmu = NULL;
    }
    scstd_backstores_free(d);
    scstd_admin_free(d->admin);
    scstd_signals_stop(d->sig);
    d->sig = NULL;
    if (d->node) {
        size_t leaks = umc_node_free(d->node);
        d->node = NULL;
        if (leaks) {
            fprintf(stderr, "scstd: %zu allocations were still live at shutdown\n", leaks);
            rc = SCSTD_EXIT_FAIL;
        }
    }
    mte_engine_free(d->engine);
    d->engine = NULL;
    return rc;
}

int main(int argc, char **argv)
{
    struct scstd d;
    memset(&d, 0, sizeof(d));
    int rc = scstd_parse_options(&d.opt, argc, argv);
    if (rc)
        return rc < 0 ? SCSTD_EXIT_OK : rc;
    rc = start_modules(&d);
    if (!rc)
        rc = load_configuration(&d);
    if (!rc && d.opt.check_only) {
        print_urls(&d);
        fprintf(stderr, "scstd: configuration ok\n");
    } else if (!rc) {
        if (d.opt.state_dir[0])
            make_dirs(d.opt.state_dir);
        rc = open_endpoints(&d);
        if (!rc) {
            print_urls(&d);
            while (!d.stopping)
                mte_run_forever(d.engine);
        }
    }
    int down = d.engine ? shutdown_all(&d) : 0;
    return rc ? rc : down;
}
