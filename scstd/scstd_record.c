/* --record-io [BDEV=]FILE: every bio submitted to an exported bdev, written
 * as the simulator's I/O trace (sim/iotrace.h, scenarios/README.md: one
 * device per file, "iotrace v1 size=BYTES", then TIME_US OP OFFSET LENGTH
 * FLAGS lines), so `workload ... replay=FILE` plays a real run back.
 *
 * "Exported" = every registered bdev that is not the backing device of a
 * drbd volume (drbd1 is recorded, tcmu001 under it is not; a bdev no LUN
 * uses sees no bios and gets no file).  BDEV=FILE records that bdev into
 * FILE; a plain FILE takes the first exported bdev that sees a bio, and any
 * further one goes to FILE.BDEV.
 *
 * A bdev is recorded by swapping its ops for a shim that writes the line and
 * calls the device's own submit; open and release pass straight through.
 * Bdevs appear later (drbd up, scstctl device add), so the daemon rescans
 * after every configuration change.  With recording off nothing is wrapped. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scstd/scstd.h"
#include "sim/iotrace.h"

struct rec_bdev {
    struct umc_bdev *bdev;
    const struct umc_bdev_ops *orig;
    struct umc_bdev_ops ops;
    struct scstd_recorder *rec;
    struct iotrace_writer *w;    /* opened at the first bio */
    bool failed;
    struct rec_bdev *next;
};

struct rec_file {
    char bdev[UMC_NAME_MAX];     /* "" = the catch-all FILE */
    char path[4096];
    bool used;                   /* a trace was opened on path */
};

struct scstd_recorder {
    struct scstd *d;
    struct rec_file files[SCSTD_MAX_LIST];
    unsigned nfiles;
    struct rec_bdev *wrapped;
};

static struct rec_bdev *rec_of(struct umc_bdev *b)
{
    /* b->ops points at the ops member of its rec_bdev */
    return (struct rec_bdev *)((char *)b->ops - offsetof(struct rec_bdev, ops));
}

/* Where this bdev's trace goes: its own BDEV=FILE, else the catch-all. */
static bool trace_path(struct scstd_recorder *r, const char *bdev, char *path, size_t len)
{
    struct rec_file *all = NULL;
    for (unsigned i = 0; i < r->nfiles; i++) {
        if (strcmp(r->files[i].bdev, bdev) == 0) {
            snprintf(path, len, "%s", r->files[i].path);
            r->files[i].used = true;
            return true;
        }
        if (!r->files[i].bdev[0])
            all = &r->files[i];
    }
    if (!all)
        return false;
    if (!all->used)
        snprintf(path, len, "%s", all->path);
    else
        snprintf(path, len, "%s.%s", all->path, bdev);
    all->used = true;
    return true;
}

static void open_trace(struct rec_bdev *w)
{
    char path[4200];
    w->failed = true;
    if (!trace_path(w->rec, w->bdev->name, path, sizeof(path)))
        return;
    w->w = iotrace_writer_open(path, w->bdev->size);
    if (!w->w) {
        fprintf(stderr, "scstd: --record-io %s: %s\n", path, strerror(errno));
        return;
    }
    w->failed = false;
}

static void rec_submit(struct umc_bdev *b, struct umc_bio *bio)
{
    struct rec_bdev *w = rec_of(b);
    if (!w->w && !w->failed)
        open_trace(w);
    if (w->w)
        iotrace_write_bio(w->w, mte_now(w->rec->d->engine), bio);
    w->orig->submit(b, bio);
}

static int rec_open(struct umc_bdev *b, bool write)
{
    struct rec_bdev *w = rec_of(b);
    return w->orig->open ? w->orig->open(b, write) : 0;
}

static void rec_release(struct umc_bdev *b, bool write)
{
    struct rec_bdev *w = rec_of(b);
    if (w->orig->release)
        w->orig->release(b, write);
}

struct backing_scan {
    const char *name;
    bool found;
};

static void find_backing(void *arg, const struct drbd_volume_info *info)
{
    struct backing_scan *s = arg;
    if (strcmp(info->backing, s->name) == 0)
        s->found = true;
}

static bool is_drbd_backing(struct scstd *d, const struct umc_bdev *b)
{
    if (!d->drbd)
        return false;
    struct backing_scan s = {.name = b->name};
    drbd_foreach_volume(d->drbd, find_backing, &s);
    return s.found;
}

static bool registered(struct scstd *d, const struct umc_bdev *b)
{
    for (struct umc_bdev *x = umc_bdev_first(d->node); x; x = umc_bdev_next(x))
        if (x == b)
            return true;
    return false;
}

static void rec_bdev_free(struct rec_bdev *w)
{
    iotrace_writer_close(w->w);
    free(w);
}

/* Drop wrappers of bdevs that are gone or were re-made with other ops. */
static void prune(struct scstd_recorder *r)
{
    for (struct rec_bdev **pp = &r->wrapped; *pp;) {
        struct rec_bdev *w = *pp;
        if (!registered(r->d, w->bdev) || w->bdev->ops != &w->ops) {
            *pp = w->next;
            rec_bdev_free(w);
        } else {
            pp = &w->next;
        }
    }
}

void scstd_recorder_rescan(struct scstd_recorder *r)
{
    if (!r)
        return;
    prune(r);
    for (struct umc_bdev *b = umc_bdev_first(r->d->node); b; b = umc_bdev_next(b)) {
        bool done = false;
        for (struct rec_bdev *w = r->wrapped; w && !done; w = w->next)
            done = w->bdev == b;
        if (done || is_drbd_backing(r->d, b))
            continue;
        struct rec_bdev *w = calloc(1, sizeof(*w));
        w->bdev = b;
        w->orig = b->ops;
        w->rec = r;
        w->ops = (struct umc_bdev_ops){.submit = rec_submit,
                                       .open = b->ops->open ? rec_open : NULL,
                                       .release = b->ops->release ? rec_release : NULL};
        b->ops = &w->ops;
        w->next = r->wrapped;
        r->wrapped = w;
    }
}

struct scstd_recorder *scstd_recorder_new(struct scstd *d, const char *const *specs,
                                          unsigned nspecs, char *err, size_t errlen)
{
    struct scstd_recorder *r = calloc(1, sizeof(*r));
    r->d = d;
    for (unsigned i = 0; i < nspecs; i++) {
        struct rec_file *f = &r->files[r->nfiles++];
        const char *eq = strchr(specs[i], '=');
        const char *path = eq ? eq + 1 : specs[i];
        if ((eq && ((size_t)(eq - specs[i]) >= sizeof(f->bdev) || eq == specs[i])) || !*path ||
            strlen(path) >= sizeof(f->path)) {
            snprintf(err, errlen, "--record-io %s: wants [BDEV=]FILE", specs[i]);
            free(r);
            return NULL;
        }
        if (eq)
            memcpy(f->bdev, specs[i], (size_t)(eq - specs[i]));
        snprintf(f->path, sizeof(f->path), "%s", path);
        /* fail now, not at the first bio, if the file cannot be made */
        FILE *probe = fopen(path, "a");
        if (!probe) {
            snprintf(err, errlen, "--record-io %s: %s", path, strerror(errno));
            free(r);
            return NULL;
        }
        fclose(probe);
    }
    return r;
}

/* Give every still-registered bdev its own ops back, then close the files.
 * A file no bio reached still becomes a valid (empty) trace. */
void scstd_recorder_free(struct scstd_recorder *r)
{
    if (!r)
        return;
    prune(r);
    while (r->wrapped) {
        struct rec_bdev *w = r->wrapped;
        r->wrapped = w->next;
        w->bdev->ops = w->orig;
        rec_bdev_free(w);
    }
    for (unsigned i = 0; i < r->nfiles; i++)
        if (!r->files[i].used)
            iotrace_writer_close(iotrace_writer_open(r->files[i].path, 0));
    free(r);
}

void scstd_changed(struct scstd *d) { scstd_recorder_rescan(d->rec); }
