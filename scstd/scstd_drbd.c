/* The drbdadm/drbdsetup-like admin verbs: state changes through
 * drbd_command, `status` from drbd_status, and `events2` streaming the lines
 * of drbd_events_open until the client hangs up (or, with --now, up to the
 * "exists -" line that ends the current state). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scstd/scstd.h"

#define MAX_RESOURCES 64

/* A verb run on one resource, or on each in turn for "all". */
struct scstd_drbd_job {
    struct scstd *d;
    struct scstd_reply *r;
    struct drbd_cmd cmd;
    char verb[32];
    char peer[UMC_NAME_MAX];
    char res[MAX_RESOURCES][UMC_NAME_MAX];
    int nres, next;
    int rc;
    char msg[SCSTD_ERR];
    struct scstd_drbd_job *link;
};

struct scstd_events {
    struct scstd *d;
    struct scstd_reply *r;
    struct drbd_events *ev;
    bool now, ended;
    struct scstd_events *link;
};

static const char *const state_verbs[] = {
    "up", "down", "primary", "secondary", "connect", "disconnect", "attach", "detach",
    "invalidate", "invalidate-remote", "verify", "pause-sync", "resume-sync", "create-md",
    "new-current-uuid", "outdate", NULL,
};

static bool is_state_verb(const char *v)
{
    for (unsigned i = 0; state_verbs[i]; i++)
        if (strcmp(v, state_verbs[i]) == 0)
            return true;
    return false;
}

void scstd_drbd_help(struct scstd_reply *r)
{
    scstd_reply_line(r, "up|down|primary [--force]|secondary|attach|detach RES[/VOL]|all");
    scstd_reply_line(r, "connect [--discard-my-data]|disconnect RES [PEER]");
    scstd_reply_line(r, "invalidate|invalidate-remote|verify|pause-sync|resume-sync RES[/VOL] [PEER]");
    scstd_reply_line(r, "create-md [--force]|new-current-uuid|outdate RES[/VOL]");
    scstd_reply_line(r, "status [RES] [--verbose] [--statistics]      drbdsetup status");
    scstd_reply_line(r, "events2 [--now]                              drbdsetup events2");
}

/* ---- the job list (freed after drbd_free if drbd never answered) ------------------ */

static void job_unlink(struct scstd_drbd_job *j)
{
    for (struct scstd_drbd_job **pp = &j->d->drbd_jobs; *pp; pp = &(*pp)->link) {
        if (*pp == j) {
            *pp = j->link;
            return;
        }
    }
}

static void job_run_next(struct scstd_drbd_job *j);

static void job_done(void *arg, int rc, const char *msg)
{
    struct scstd_drbd_job *j = arg;
    if (rc && !j->rc) {
        j->rc = rc;
        snprintf(j->msg, sizeof(j->msg), "%s%s%s", j->nres > 1 ? j->res[j->next - 1] : "",
                 j->nres > 1 ? ": " : "", msg && *msg ? msg : strerror(rc < 0 ? -rc : rc));
    } else if (!rc && msg && *msg && !j->rc) {
        scstd_reply_line(j->r, "%s", msg);
    }
    if (j->next < j->nres) {
        job_run_next(j);
        return;
    }
    struct scstd *d = j->d;
    struct scstd_reply *r = j->r;
    int jrc = j->rc;
    char text[SCSTD_ERR];
    snprintf(text, sizeof(text), "%s", j->msg);
    job_unlink(j);
    free(j);
    scstd_changed(d);
    if (jrc)
        scstd_reply_done(r, SCSTD_EXIT_FAIL, "%s", text);
    else
        scstd_reply_done(r, SCSTD_EXIT_OK, "ok");
}

static void job_run_next(struct scstd_drbd_job *j)
{
    j->cmd.resource = j->res[j->next++];
    drbd_command(j->d->drbd, &j->cmd, job_done, j);
}

static void collect_resource(void *arg, const struct drbd_volume_info *info)
{
    struct scstd_drbd_job *j = arg;
    for (int i = 0; i < j->nres; i++)
        if (strcmp(j->res[i], info->resource) == 0)
            return;
    if (j->nres < MAX_RESOURCES)
        snprintf(j->res[j->nres++], UMC_NAME_MAX, "%s", info->resource);
}

static void state_verb(struct scstd *d, struct scstd_reply *r, int argc, char **argv)
{
    struct scstd_drbd_job *j = calloc(1, sizeof(*j));
    j->d = d;
    j->r = r;
    snprintf(j->verb, sizeof(j->verb), "%s", argv[0]);
    j->cmd.verb = j->verb;
    j->cmd.volume = -1;
    char *pos[4];
    int npos = 0;
    bool bad = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0 &&
            (strcmp(j->verb, "primary") == 0 || strcmp(j->verb, "create-md") == 0))
            j->cmd.force = true;
        else if (strcmp(argv[i], "--discard-my-data") == 0 && strcmp(j->verb, "connect") == 0)
            j->cmd.discard_my_data = true;
        else if (argv[i][0] == '-' || npos == 2)
            bad = true;
        else
            pos[npos++] = argv[i];
    }
    if (bad || npos < 1) {
        free(j);
        scstd_reply_done(r, SCSTD_EXIT_USAGE, "usage: %s%s RES[/VOL]|all [PEER]", argv[0],
                         strcmp(argv[0], "primary") == 0 ? " [--force]"
                         : strcmp(argv[0], "connect") == 0 ? " [--discard-my-data]" : "");
        return;
    }
    char *slash = strchr(pos[0], '/');
    if (slash) {
        uint64_t vol;
        *slash = '\0';
        if (scstd_parse_u64(slash + 1, &vol) || vol >= DRBD_MAX_VOLUMES) {
            free(j);
            scstd_reply_done(r, SCSTD_EXIT_USAGE, "volume '%s': 0..%d", slash + 1,
                             DRBD_MAX_VOLUMES - 1);
            return;
        }
        j->cmd.volume = (int)vol;
    }
    if (npos == 2) {
        snprintf(j->peer, sizeof(j->peer), "%s", pos[1]);
        j->cmd.peer = j->peer;
    }
    if (strcmp(pos[0], "all") == 0)
        drbd_foreach_volume(d->drbd, collect_resource, j);
    else
        snprintf(j->res[j->nres++], UMC_NAME_MAX, "%s", pos[0]);
    if (!j->nres) {
        free(j);
        scstd_reply_done(r, SCSTD_EXIT_FAIL, "no resources configured");
        return;
    }
    j->link = d->drbd_jobs;
    d->drbd_jobs = j;
    job_run_next(j);
}

/* ---- status ------------------------------------------------------------------------ */

static bool resource_exists(struct scstd *d, const char *res)
{
    struct scstd_drbd_job names = {.d = d};
    drbd_foreach_volume(d->drbd, collect_resource, &names);
    for (int i = 0; i < names.nres; i++)
        if (strcmp(names.res[i], res) == 0)
            return true;
    return false;
}

static void status_verb(struct scstd *d, struct scstd_reply *r, int argc, char **argv)
{
    unsigned flags = 0;
    const char *res = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0) {
            flags |= DRBD_STATUS_VERBOSE;
        } else if (strcmp(argv[i], "--statistics") == 0 || strcmp(argv[i], "-s") == 0) {
            flags |= DRBD_STATUS_STATISTICS;
        } else if (argv[i][0] != '-' && !res) {
            res = argv[i];
        } else {
            scstd_reply_done(r, SCSTD_EXIT_USAGE, "usage: status [RES] [--verbose] [--statistics]");
            return;
        }
    }
    if (res && strcmp(res, "all") == 0)
        res = NULL;
    if (res && !resource_exists(d, res)) {
        scstd_reply_done(r, SCSTD_EXIT_FAIL, "%s: No such resource", res);
        return;
    }
    char *text = drbd_status(d->drbd, res, flags);
    if (!text) {
        scstd_reply_done(r, SCSTD_EXIT_FAIL, "%s: No such resource", res ? res : "all");
        return;
    }
    scstd_reply_text(r, text);
    umc_free(d->node, text);
    scstd_reply_done(r, SCSTD_EXIT_OK, "ok");
}

/* ---- events2 ------------------------------------------------------------------------ */

static void events_unlink(struct scstd_events *s)
{
    for (struct scstd_events **pp = &s->d->drbd_events; *pp; pp = &(*pp)->link) {
        if (*pp == s) {
            *pp = s->link;
            return;
        }
    }
}

/* End a stream: stop the events, finish the reply, free. */
static void events_end(struct scstd_events *s)
{
    mte_cancel_owner(s->d->engine, s);
    if (s->ev)
        drbd_events_close(s->ev);
    events_unlink(s);
    struct scstd_reply *r = s->r;
    free(s);
    scstd_reply_done(r, SCSTD_EXIT_OK, "events ended");
}

static void events_end_deferred(void *arg) { events_end(arg); }
static void events_orphaned(void *arg) { events_end(arg); }

static void on_event(void *arg, const char *line)
{
    struct scstd_events *s = arg;
    if (s->ended)
        return;
    scstd_reply_line(s->r, "%s", line);
    if (s->now && strcmp(line, "exists -") == 0) {
        /* not from inside drbd's own callback */
        s->ended = true;
        mte_defer(s->d->engine, s, events_end_deferred, s);
    }
}

static void events_verb(struct scstd *d, struct scstd_reply *r, int argc, char **argv)
{
    bool now = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--now") == 0) {
            now = true;
        } else if (strcmp(argv[i], "all") != 0 && strcmp(argv[i], "--timestamps") != 0) {
            scstd_reply_done(r, SCSTD_EXIT_USAGE, "usage: events2 [--now]");
            return;
        }
    }
    struct scstd_events *s = calloc(1, sizeof(*s));
    s->d = d;
    s->r = r;
    s->now = now;
    s->link = d->drbd_events;
    d->drbd_events = s;
    scstd_reply_on_orphan(r, events_orphaned, s);
    s->ev = drbd_events_open(d->drbd, true, on_event, s);
    if (!s->ev && !s->ended) {
        events_unlink(s);
        free(s);
        scstd_reply_done(r, SCSTD_EXIT_FAIL, "cannot open the event stream");
    }
}

/* ---- entry points ---------------------------------------------------------------------- */

bool scstd_drbd_verb(struct scstd *d, struct scstd_reply *r, int argc, char **argv)
{
    const char *v = argv[0];
    bool status = strcmp(v, "status") == 0, events = strcmp(v, "events2") == 0;
    if (!status && !events && !is_state_verb(v))
        return false;
    if (!d->drbd) {
        scstd_reply_done(r, SCSTD_EXIT_FAIL,
                         "no drbd resources here (start scstd with --drbd-config FILE)");
        return true;
    }
    if (status)
        status_verb(d, r, argc, argv);
    else if (events)
        events_verb(d, r, argc, argv);
    else
        state_verb(d, r, argc, argv);
    return true;
}

/* ---- start-up: --up RES ------------------------------------------------------------------ */

struct sync_cmd {
    bool done;
    int rc;
    char msg[SCSTD_ERR];
};

static void sync_done(void *arg, int rc, const char *msg)
{
    struct sync_cmd *s = arg;
    s->done = true;
    s->rc = rc;
    snprintf(s->msg, sizeof(s->msg), "%s", msg ? msg : "");
}

/* Bring a resource (or "all") up before the SCSI configuration is read, so
 * scst.conf can export drbdN: the engine runs until drbd answers. */
int scstd_drbd_up_now(struct scstd *d, const char *res, char *err, size_t errlen)
{
    struct scstd_drbd_job names = {.d = d};
    if (strcmp(res, "all") == 0)
        drbd_foreach_volume(d->drbd, collect_resource, &names);
    else
        snprintf(names.res[names.nres++], UMC_NAME_MAX, "%s", res);
    for (int i = 0; i < names.nres; i++) {
        struct sync_cmd s = {0};
        struct drbd_cmd cmd = {.verb = "up", .resource = names.res[i], .volume = -1};
        drbd_command(d->drbd, &cmd, sync_done, &s);
        mte_time_t deadline = mte_now(d->engine) + 30 * MTE_SEC;
        while (!s.done && mte_now(d->engine) < deadline)
            mte_run_until(d->engine, mte_now(d->engine) + 10 * MTE_MSEC);
        if (!s.done || s.rc) {
            snprintf(err, errlen, "--up %s: %s", names.res[i],
                     s.done ? (s.msg[0] ? s.msg : strerror(-s.rc)) : "no answer within 30 s");
            return s.done ? SCSTD_EXIT_USAGE : SCSTD_EXIT_FAIL;
        }
    }
    return 0;
}

/* Before drbd_free: end every event stream. */
void scstd_drbd_stop(struct scstd *d)
{
    while (d->drbd_events)
        events_end(d->drbd_events);
}

struct down_all {
    char res[MAX_RESOURCES][UMC_NAME_MAX];
    int nres, pending;
};

static void collect_up(void *arg, const struct drbd_volume_info *info)
{
    struct down_all *a = arg;
    for (int i = 0; i < a->nres; i++)
        if (strcmp(a->res[i], info->resource) == 0)
            return;
    if (a->nres < MAX_RESOURCES)
        snprintf(a->res[a->nres++], UMC_NAME_MAX, "%s", info->resource);
}

static void down_answered(void *arg, int rc, const char *msg)
{
    struct down_all *a = arg;
    if (rc)
        fprintf(stderr, "scstd: shutdown: down: %s\n", msg && *msg ? msg : strerror(-rc));
    a->pending--;
}

void scstd_drbd_down_all(struct scstd *d, mte_time_t limit)
{
    struct down_all a = {.nres = 0};
    drbd_foreach_volume(d->drbd, collect_up, &a);
    a.pending = a.nres;
    for (int i = 0; i < a.nres; i++) {
        struct drbd_cmd cmd = {.verb = "down", .resource = a.res[i], .volume = -1};
        drbd_command(d->drbd, &cmd, down_answered, &a);
    }
    mte_time_t deadline = mte_now(d->engine) + limit;
    while (a.pending > 0 && mte_now(d->engine) < deadline)
        mte_run_until(d->engine, mte_now(d->engine) + 10 * MTE_MSEC);
    if (a.pending > 0)
        fprintf(stderr, "scstd: shutdown: %d resources did not go down in time\n", a.pending);
}

/* After drbd_free: commands drbd never answered. */
void scstd_drbd_cleanup(struct scstd *d)
{
    while (d->drbd_jobs) {
        struct scstd_drbd_job *j = d->drbd_jobs;
        d->drbd_jobs = j->link;
        scstd_reply_done(j->r, SCSTD_EXIT_FAIL, "shutting down");
        free(j);
    }
}
