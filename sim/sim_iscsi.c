/* The simulator's iSCSI layer.  Target side: a node with `export` lines runs
 * the SCSI core and the iSCSI target, and exports each device as a LUN once
 * the device exists (a drbd device appears after `up`).  Initiator side: the
 * workload backend that carries a workload's I/O as SCSI commands (READ(16),
 * WRITE(16) with FUA, SYNCHRONIZE CACHE(16)) through the in-simulator
 * initiator, logging in again when a session dies. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iscsi/iscsi.h"
#include "scst/scst.h"
#include "sim/wl_int.h"

#define MAX_EXPORTS 32

struct sexport_node {
    struct scst_core *core;        /* node memory */
    struct iscsi_server *srv;
    bool added[MAX_EXPORTS];       /* per scenario export */
};

static bool node_exports(const struct scenario *scn, const char *node)
{
    for (size_t i = 0; i < scn->nexports; i++)
        if (!strcmp(scn->exports[i].node, node))
            return true;
    return false;
}

/* ---- target side ---------------------------------------------------------------------- */

static int add_portals(struct sim_node *sn)
{
    const struct scenario *scn = sn->sim->scn;
    for (size_t i = 0; i < scn->nexports; i++) {
        const struct scn_export *x = &scn->exports[i];
        bool seen = false;
        for (size_t j = 0; j < i; j++)
            seen |= !strcmp(scn->exports[j].node, x->node) && scn->exports[j].port == x->port;
        if (strcmp(x->node, sn->decl->name) || seen)
            continue;
        char addr[64];
        snprintf(addr, sizeof(addr), "%s:%u", sn->decl->ip, x->port);
        int rc = iscsi_server_add_portal(sn->exp->srv, addr);
        if (rc) {
            sim_setup_error(sn->sim, "%s:%d: export on %s: portal %s: %s", scn->path, x->line,
                            sn->decl->name, addr, strerror(-rc));
            return -1;
        }
    }
    return 0;
}

int sexport_node_start(struct sim_node *sn)
{
    const struct scenario *scn = sn->sim->scn;
    if (scn->nexports > MAX_EXPORTS || !node_exports(scn, sn->decl->name))
        return 0;
    struct sexport_node *x = sn->exp;
    if (!x) {
        x = sn->exp = calloc(1, sizeof(*x));
        if (!x)
            abort();
    }
    memset(x->added, 0, sizeof(x->added));
    x->core = scst_core_new(sn->n);
    x->srv = iscsi_server_new(sn->n, x->core);
    if (add_portals(sn))
        return -1;
    sexport_refresh(sn);
    return 0;
}

static void add_export(struct sim_node *sn, size_t i)
{
    const struct scn_export *e = &sn->sim->scn->exports[i];
    struct sexport_node *x = sn->exp;
    char err[256];
    struct scst_device_opts d = {.name = e->dev, .bdev = e->dev};
    int rc = scst_device_add(x->core, &d, err, sizeof(err));
    if (rc && rc != -EEXIST) {
        sim_trace(sn->sim, "%s: export %s: %s", sn->decl->name, e->dev, err);
        return;
    }
    rc = scst_target_add(x->core, e->iqn);
    if (rc && rc != -EEXIST) {
        sim_trace(sn->sim, "%s: target %s: %s", sn->decl->name, e->iqn, strerror(-rc));
        return;
    }
    rc = scst_lun_add(x->core, e->iqn, NULL, e->lun, e->dev, false);
    if (!rc)
        rc = scst_target_enable(x->core, e->iqn, true);
    if (rc) {
        sim_trace(sn->sim, "%s: LUN %llu of %s: %s", sn->decl->name, (unsigned long long)e->lun,
                  e->iqn, strerror(-rc));
        return;
    }
    x->added[i] = true;
    sim_trace(sn->sim, "%s: exports %s as LUN %llu of %s", sn->decl->name, e->dev,
              (unsigned long long)e->lun, e->iqn);
}

void sexport_refresh(struct sim_node *sn)
{
    const struct scenario *scn = sn->sim->scn;
    struct sexport_node *x = sn->exp;
    if (!x || !x->core || !sn->n)
        return;
    for (size_t i = 0; i < scn->nexports; i++)
        if (!x->added[i] && !strcmp(scn->exports[i].node, sn->decl->name) &&
            umc_bdev_find(sn->n, scn->exports[i].dev))
            add_export(sn, i);
}

/* Shutdown, first step: the target lets go of its sessions (they finish
 * asynchronously, as their commands complete). */
void sexport_node_close(struct sim_node *sn)
{
    struct sexport_node *x = sn->exp;
    if (x && x->srv)
        iscsi_server_free(x->srv);
    if (x)
        x->srv = NULL;
}

static void count_session(void *arg, const struct scst_session_info *info)
{
    (void)info;
    (*(unsigned *)arg)++;
}

bool sexport_node_busy(struct sim_node *sn)
{
    unsigned n = 0;
    if (sn->exp && sn->exp->core)
        scst_foreach_session(sn->exp->core, count_session, &n);
    return n > 0;
}

void sexport_node_stop(struct sim_node *sn)
{
    struct sexport_node *x = sn->exp;
    if (!x)
        return;
    sexport_node_close(sn);
    if (x->core)
        scst_core_free(x->core);
    free(x);
    sn->exp = NULL;
}

void sexport_node_crashed(struct sim_node *sn)
{
    if (sn->exp)
        sn->exp->core = NULL, sn->exp->srv = NULL;
}

/* ---- the initiator backend ------------------------------------------------------------------ */

#define MAX_DEAD 4

/* The initiator of a workload.  A session whose commands are still pending is
 * only freed once they have ended (the initiator must not be freed with
 * commands in flight). */
struct ini_state {
    struct umc_node *node;         /* the initiator's incarnation */
    struct iscsi_ini *ini;
    struct iscsi_ini *dead[MAX_DEAD]; /* broken sessions to free when idle */
    const struct scn_export *exp;
    uint32_t block_size;
    uint8_t capacity[32];
    char initiator[SCN_NAME + 32];
    unsigned ua_retries;
};

static const struct scn_export *find_export(struct sim *s, const char *node, const char *dev)
{
    for (size_t i = 0; i < s->scn->nexports; i++)
        if (!strcmp(s->scn->exports[i].node, node) && !strcmp(s->scn->exports[i].dev, dev))
            return &s->scn->exports[i];
    return NULL;
}

/* Put the current session aside; it is freed once nothing is in flight. */
static void retire_session(struct ini_state *st)
{
    for (int i = 0; st->ini && i < MAX_DEAD; i++) {
        if (!st->dead[i]) {
            st->dead[i] = st->ini;
            st->ini = NULL;
        }
    }
    if (st->ini) { /* no room: cannot happen with at most one attach in flight */
        iscsi_ini_free(st->ini);
        st->ini = NULL;
    }
}

static void free_idle_sessions(struct sim_wl *w)
{
    struct ini_state *st = w->be_state;
    if (w->inflight)
        return;
    for (int i = 0; i < MAX_DEAD; i++) {
        if (st->dead[i])
            iscsi_ini_free(st->dead[i]);
        st->dead[i] = NULL;
    }
}

static void capacity_done(void *arg, const struct iscsi_ini_result *r);

static void read_capacity(struct sim_wl *w)
{
    struct ini_state *st = w->be_state;
    uint8_t cdb[16] = {0x9e, 0x10};  /* READ CAPACITY(16) */
    cdb[13] = sizeof(st->capacity);
    iscsi_ini_command(st->ini, st->exp->lun, cdb, sizeof(cdb), SCSI_DIR_READ, st->capacity,
                      sizeof(st->capacity), capacity_done, w);
}

static void capacity_done(void *arg, const struct iscsi_ini_result *r)
{
    struct sim_wl *w = arg;
    struct ini_state *st = w->be_state;
    if (r->rc >= 0 && r->status == SAM_STAT_CHECK_CONDITION && r->sense_len > 2 &&
        (r->sense[2] & 0x0f) == 6 && st->ua_retries++ < 3) {
        read_capacity(w); /* a unit attention after login: ask again */
        return;
    }
    if (r->rc < 0 || r->status != SAM_STAT_GOOD || r->data_len < 12) {
        sim_trace(w->sim, "workload %s: READ CAPACITY failed: rc %d status 0x%x", w->decl->name, r->rc,
                  r->status);
        retire_session(st);
        wl_attached(w, r->rc < 0 ? r->rc : -EIO);
        return;
    }
    const uint8_t *c = st->capacity;
    st->block_size = (uint32_t)c[8] << 24 | (uint32_t)c[9] << 16 | (uint32_t)c[10] << 8 | c[11];
    if (!st->block_size || w->unit % st->block_size) {
        sim_setup_error(w->sim, "workload %s: LUN block size %u does not divide its unit %u",
                        w->decl->name, st->block_size, w->unit);
        return;
    }
    sim_trace(w->sim, "workload %s: logged in to %s on %s", w->decl->name, st->exp->iqn, w->node);
    wl_attached(w, 0);
}

static void login_done(void *arg, int rc, const char *msg)
{
    struct sim_wl *w = arg;
    struct ini_state *st = w->be_state;
    if (rc) {
        sim_trace(w->sim, "workload %s: login to %s failed: %s", w->decl->name, w->node, msg ? msg : "");
        retire_session(st);
        wl_attached(w, rc);
        return;
    }
    st->ua_retries = 0;
    read_capacity(w);
}

static int ini_attach(struct sim_wl *w)
{
    struct ini_state *st = w->be_state;
    struct sim_node *in = sim_node_find(w->sim, w->decl->node);
    struct sim_node *tn = sim_node_find(w->sim, w->node);
    if (w->inflight)
        return -EBUSY; /* commands of an old session are still ending */
    retire_session(st);
    free_idle_sessions(w);
    if (!in || !in->n || !tn)
        return -EHOSTDOWN;
    st->exp = find_export(w->sim, w->node, w->dev);
    if (!st->exp)
        return -ENODEV;
    char portal[64];
    snprintf(portal, sizeof(portal), "%s:%u", tn->decl->ip, st->exp->port);
    snprintf(st->initiator, sizeof(st->initiator), "iqn.2026-01.sim.initiator:%s", w->decl->name);
    struct iscsi_ini_opts o = {.portal = portal, .target = st->exp->iqn, .initiator = st->initiator,
                               .want_immediate_data = true,
                               /* later than the I/O bound: a stuck command is the watchdog's to report */
                               .timeout = 2 * w->sim->io_bound + MTE_SEC};
    st->node = in->n;
    st->ini = iscsi_ini_new(in->n, &o);
    iscsi_ini_login(st->ini, login_done, w);
    return 1;
}

static void ini_detach(struct sim_wl *w)
{
    struct ini_state *st = w->be_state;
    struct sim_node *in = sim_node_find(w->sim, w->decl->node);
    if (!in || in->n != st->node || !st->node) {
        memset(st->dead, 0, sizeof(st->dead)); /* gone with the initiator's node */
        st->ini = NULL;
        return;
    }
    retire_session(st);
    if (!w->inflight) {
        free_idle_sessions(w);
    } else if (w->sim->tearing) {
        /* commands still pending at the end (the run has failed): the node's
         * memory sweep takes the sessions */
        memset(st->dead, 0, sizeof(st->dead));
    }
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void command_done(void *arg, const struct iscsi_ini_result *r)
{
    struct wl_io *io = arg;
    struct sim_wl *w = io->wl;
    int status = r->rc < 0 ? r->rc : r->status != SAM_STAT_GOOD ? -EIO : 0;
    if (!status && io->op == UMC_OP_READ && r->data_len != io->length)
        status = -EIO;
    struct ini_state *st = w->be_state;
    if (r->rc < 0 && io->be_priv == st->ini) {
        /* the session is gone: log in again on a later tick */
        retire_session(st);
        if (w->attach == WL_ATTACHED)
            wl_attached(w, r->rc);
    }
    wl_io_done(io, status);
}

static void ini_submit(struct sim_wl *w, struct wl_io *io)
{
    struct ini_state *st = w->be_state;
    uint8_t cdb[16] = {0};
    enum scsi_dir dir = SCSI_DIR_NONE;
    if (!st->ini) {
        wl_io_done(io, -ENOTCONN);
        return;
    }
    if (io->op == UMC_OP_FLUSH) {
        cdb[0] = 0x91; /* SYNCHRONIZE CACHE(16): the whole LUN */
    } else {
        cdb[0] = io->op == UMC_OP_READ ? 0x88 : 0x8a;
        if (io->flags & UMC_BIO_FUA)
            cdb[1] = 0x08;
        put_be64(cdb + 2, io->offset / st->block_size);
        put_be32(cdb + 10, (uint32_t)(io->length / st->block_size));
        dir = io->op == UMC_OP_READ ? SCSI_DIR_READ : SCSI_DIR_WRITE;
    }
    io->be_priv = st->ini;
    iscsi_ini_command(st->ini, st->exp->lun, cdb, sizeof(cdb), dir, io->buf, (uint32_t)io->length,
                      command_done, io);
}

/* The initiator's node crashed: its sessions went with its memory.  The
 * target's node crashed: the initiator's connections to it are reset now, so
 * it fails what is in flight at once instead of at its timeout (the
 * simulator's model: a target's crash is noticed). */
static bool ini_node_crashed(struct sim_wl *w, struct sim_node *sn)
{
    struct ini_state *st = w->be_state;
    if (!st->node)
        return false;
    if (sn->n == st->node) {
        st->ini = NULL;
        memset(st->dead, 0, sizeof(st->dead));
        st->node = NULL;
        return false;
    }
    if (strcmp(sn->decl->name, w->node))
        return false;
    faultnet_reset(w->sim->net, w->decl->node, w->node);
    return true;
}

struct session_of {
    const char *initiator;
    bool found;
};

static void match_session(void *arg, const struct scst_session_info *info)
{
    struct session_of *m = arg;
    m->found |= !strcmp(info->initiator, m->initiator);
}

/* The initiator logged out or dropped its connection; the target closes the
 * session (and lets go of the device) only when it has seen that. */
static bool ini_still_held(const struct sim_wl *w, char *why, size_t len)
{
    const struct ini_state *st = w->be_state;
    struct sim_node *tn = sim_node_find(w->sim, w->node);
    struct session_of m = {.initiator = st->initiator};
    if (st->initiator[0] && tn && tn->n && tn->exp && tn->exp->core)
        scst_foreach_session(tn->exp->core, match_session, &m);
    if (m.found)
        snprintf(why, len, "workload %s: %s still has its session open", w->decl->name, w->node);
    return m.found;
}

static const struct wl_backend_ops iscsi_ops = {
    .still_held = ini_still_held,
    .name = "iscsi",
    .state_size = sizeof(struct ini_state),
    .attach = ini_attach,
    .detach = ini_detach,
    .submit = ini_submit,
    .node_crashed = ini_node_crashed,
};

const struct wl_backend_ops *wl_iscsi_backend(void) { return &iscsi_ops; }

