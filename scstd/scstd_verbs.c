/* The admin verbs on the SCSI side: listing, LUNs, devices, targets,
 * statistics, iSCSI parameters.  drbd's verbs are in scstd_drbd.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scstd/scstd.h"

/* ---- arguments ---------------------------------------------------------------------- */

/* Remove a flag from argv; true if it was there. */
static bool take_flag(int *argc, char **argv, const char *flag)
{
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], flag) == 0) {
            memmove(&argv[i], &argv[i + 1], sizeof(*argv) * (size_t)(*argc - i));
            (*argc)--;
            return true;
        }
    }
    return false;
}

/* Remove "--opt VALUE" (or "--opt=VALUE"); 1 found, 0 absent, -1 no value. */
static int take_opt(int *argc, char **argv, const char *opt, const char **value)
{
    size_t olen = strlen(opt);
    for (int i = 1; i < *argc; i++) {
        int drop;
        if (strcmp(argv[i], opt) == 0) {
            if (i + 1 >= *argc)
                return -1;
            *value = argv[i + 1];
            drop = 2;
        } else if (strncmp(argv[i], opt, olen) == 0 && argv[i][olen] == '=') {
            *value = argv[i] + olen + 1;
            drop = 1;
        } else {
            continue;
        }
        memmove(&argv[i], &argv[i + drop], sizeof(*argv) * (size_t)(*argc - i - drop + 1));
        *argc -= drop;
        return 1;
    }
    return 0;
}

/* After the known options are taken, anything left that looks like one is a
 * usage error; so is a wrong number of positional words. */
static bool check_args(struct scstd_reply *r, int argc, char **argv, int min, int max,
                       const char *usage)
{
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) == 0) {
            scstd_reply_done(r, SCSTD_EXIT_USAGE, "unknown option %s; usage: %s", argv[i], usage);
            return false;
        }
    }
    if (argc - 1 < min || argc - 1 > max) {
        scstd_reply_done(r, SCSTD_EXIT_USAGE, "usage: %s", usage);
        return false;
    }
    return true;
}

static void done_rc(struct scstd_reply *r, int rc, const char *what, const char *why)
{
    if (rc)
        scstd_reply_done(r, SCSTD_EXIT_FAIL, "%s: %s", what, why && *why ? why : strerror(-rc));
    else
        scstd_reply_done(r, SCSTD_EXIT_OK, "ok");
}

static const char *rc_words(int rc)
{
    switch (rc) {
    case -ENOENT: return "not found";
    case -EEXIST: return "already exists";
    case -EBUSY: return "in use";
    default: return strerror(-rc);
    }
}

/* ---- listing ------------------------------------------------------------------------- */

struct list_ctx {
    struct scstd *d;
    struct scstd_reply *r;
    const char *target;
    bool nested, stats;
    unsigned count;
};

static void show_lun(void *arg, const struct scst_lun_info *li)
{
    struct list_ctx *x = arg;
    char group[UMC_NAME_MAX + 8] = "";
    if (li->group)
        snprintf(group, sizeof(group), " group:%s", li->group);
    x->count++;
    if (!x->stats) {
        scstd_reply_line(x->r, "%starget:%s lun:%" PRIu64 " device:%s%s%s", x->nested ? "  " : "",
                         li->target, li->lun, li->device, li->read_only ? " read-only" : "", group);
        return;
    }
    struct scst_device *dev = scst_device_find(x->d->core, li->device);
    struct scst_lun_stats st = {0};
    if (dev)
        scst_device_stats(dev, &st);
    scstd_reply_line(x->r,
                     "target:%s lun:%" PRIu64 " device:%s%s commands:%" PRIu64 " reads:%" PRIu64
                     " writes:%" PRIu64 " read_bytes:%" PRIu64 " write_bytes:%" PRIu64
                     " errors:%" PRIu64 " in_flight:%" PRIu64 " unmaps:%" PRIu64 " flushes:%" PRIu64,
                     li->target, li->lun, li->device, group, st.commands, st.reads, st.writes,
                     st.read_bytes, st.write_bytes, st.errors, st.in_flight, st.unmaps, st.flushes);
}

static void show_session(void *arg, const struct iscsi_session_info *si)
{
    struct list_ctx *x = arg;
    if (x->target && (!si->target || strcmp(si->target, x->target) != 0))
        return;
    x->count++;
    scstd_reply_line(x->r,
                     "%starget:%s initiator:%s isid:0x%012" PRIx64 " tsih:%u connections:%u%s"
                     " header_digest:%s data_digest:%s commands:%" PRIu64 " bytes_in:%" PRIu64
                     " bytes_out:%" PRIu64,
                     x->nested ? "  " : "", si->target ? si->target : "-",
                     si->initiator ? si->initiator : "-", si->isid, si->tsih, si->connections,
                     si->discovery ? " discovery" : "", si->header_digest ? "CRC32C" : "None",
                     si->data_digest ? "CRC32C" : "None", si->commands, si->bytes_in,
                     si->bytes_out);
}

/* Per target: its name, then (nested) its LUNs and sessions, or only its
 * LUNs (luns, stats). */
enum target_show { SHOW_NAME, SHOW_NESTED, SHOW_LUNS };

struct target_ctx {
    struct list_ctx *x;
    enum target_show how;
};

static void show_target(void *arg, const char *name)
{
    struct target_ctx *t = arg;
    struct list_ctx *x = t->x;
    if (x->target && strcmp(x->target, name) != 0)
        return;
    x->count++;
    if (t->how != SHOW_LUNS)
        scstd_reply_line(x->r, "target:%s", name);
    if (t->how == SHOW_NAME)
        return;
    struct list_ctx inner = {.d = x->d, .r = x->r, .target = name,
                             .nested = t->how == SHOW_NESTED, .stats = x->stats};
    scst_foreach_lun(x->d->core, name, show_lun, &inner);
    if (t->how == SHOW_NESTED)
        iscsi_foreach_session(x->d->iscsi, show_session, &inner);
}

static void show_bdevs(struct scstd *d, struct scstd_reply *r)
{
    for (struct umc_bdev *b = umc_bdev_first(d->node); b; b = umc_bdev_next(b)) {
        struct scstd_backstore *bs = scstd_backstore_find(d, b->name);
        scstd_reply_line(r, "bdev:%s size:%" PRIu64 " block_size:%u openers:%u writers:%u%s%s%s%s",
                         b->name, b->size, b->block_size, b->openers, b->writers,
                         (b->flags & UMC_BDEV_READ_ONLY) ? " read-only" : "",
                         (b->flags & UMC_BDEV_DISCARD) ? " discard" : "",
                         bs && bs->device[0] ? " device:" : "", bs ? bs->device : "");
    }
}

static void verb_list(struct scstd *d, struct scstd_reply *r, int argc, char **argv)
{
    const char *usage = "list [all|targets|luns|sessions|bdevs] [TARGET]";
    if (!check_args(r, argc, argv, 0, 2, usage))
        return;
    const char *what = argc > 1 ? argv[1] : "all";
    struct list_ctx x = {.d = d, .r = r, .target = argc > 2 ? argv[2] : NULL};
    struct target_ctx t = {.x = &x};
    if (strcmp(what, "all") == 0) {
        t.how = SHOW_NESTED;
        scst_foreach_target(d->core, show_target, &t);
    } else if (strcmp(what, "targets") == 0) {
        t.how = SHOW_NAME;
        scst_foreach_target(d->core, show_target, &t);
    } else if (strcmp(what, "luns") == 0) {
        t.how = SHOW_LUNS;
        scst_foreach_target(d->core, show_target, &t);
    } else if (strcmp(what, "sessions") == 0) {
        iscsi_foreach_session(d->iscsi, show_session, &x);
        scstd_reply_done(r, SCSTD_EXIT_OK, "%u session%s", x.count, x.count == 1 ? "" : "s");
        return;
    } else if (strcmp(what, "bdevs") == 0 && !x.target) {
        show_bdevs(d, r);
        scstd_reply_done(r, SCSTD_EXIT_OK, "ok");
        return;
    } else {
        scstd_reply_done(r, SCSTD_EXIT_USAGE, "usage: %s", usage);
        return;
    }
    if (x.target && !x.count) {
        scstd_reply_done(r, SCSTD_EXIT_FAIL, "no such target '%s'", x.target);
        return;
    }
    scstd_reply_done(r, SCSTD_EXIT_OK, "ok");
}

static void verb_stats(struct scstd *d, struct scstd_reply *r, int argc, char **argv)
{
    if (!check_args(r, argc, argv, 0, 1, "stats [TARGET]"))
        return;
    struct list_ctx x = {.d = d, .r = r, .target = argc > 1 ? argv[1] : NULL, .stats = true};
    struct target_ctx t = {.x = &x, .how = SHOW_LUNS};
    scst_foreach_target(d->core, show_target, &t);
    if (x.target && !x.count)
        scstd_reply_done(r, SCSTD_EXIT_FAIL, "no such target '%s'", x.target);
    else
        scstd_reply_done(r, SCSTD_EXIT_OK, "ok");
}

/* ---- LUNs ---------------------------------------------------------------------------- */

static bool parse_lun(struct scstd_reply *r, const char *s, uint64_t *lun)
{
    if (scstd_parse_u64(s, lun) || *lun >= 16384) {
        scstd_reply_done(r, SCSTD_EXIT_USAGE, "LUN '%s': a number 0..16383", s);
        return false;
    }
    return true;
}

static void verb_lun(struct scstd *d, struct scstd_reply *r, int argc, char **argv)
{
    const char *add_usage = "lun add TARGET LUN DEVICE [--group GROUP] [--read-only]";
    const char *rm_usage = "lun remove TARGET LUN [--group GROUP]";
    const char *group = NULL;
    if (take_opt(&argc, argv, "--group", &group) < 0) {
        scstd_reply_done(r, SCSTD_EXIT_USAGE, "--group needs a name");
        return;
    }
    bool ro = take_flag(&argc, argv, "--read-only");
    const char *sub = argc > 1 ? argv[1] : "";
    uint64_t lun;
    int rc;
    if (strcmp(sub, "add") == 0) {
        if (!check_args(r, argc - 1, argv + 1, 3, 3, add_usage) || !parse_lun(r, argv[3], &lun))
            return;
        if (!scst_device_find(d->core, argv[4])) {
            scstd_reply_done(r, SCSTD_EXIT_FAIL, "no such device '%s'", argv[4]);
            return;
        }
        rc = scst_lun_add(d->core, argv[2], group, lun, argv[4], ro);
    } else if (strcmp(sub, "remove") == 0 || strcmp(sub, "del") == 0) {
        if (!check_args(r, argc - 1, argv + 1, 2, 2, rm_usage) || !parse_lun(r, argv[3], &lun))
            return;
        rc = scst_lun_remove(d->core, argv[2], group, lun);
    } else {
        scstd_reply_done(r, SCSTD_EXIT_USAGE, "usage: %s | %s", add_usage, rm_usage);
        return;
    }
    scstd_changed(d);
    char what[256];
    snprintf(what, sizeof(what), "lun %s %s %s", sub, argv[2], argv[3]);
    done_rc(r, rc, what, rc_words(rc));
}

/* ---- devices ------------------------------------------------------------------------- */

static void device_add(struct scstd *d, struct scstd_reply *r, int argc, char **argv)
{
    const char *usage = "device add NAME (--size SIZE [--file PATH] | --bdev BDEV) "
                        "[--block-size 512|4096] [--read-only] [--removable] [--no-thin] "
                        "[--write-through] [--t10-id ID] [--serial SERIAL]";
    const char *size_s = NULL, *file = NULL, *bdev = NULL, *bs_s = NULL, *t10 = NULL,
               *serial = NULL;
    if (take_opt(&argc, argv, "--size", &size_s) < 0 || take_opt(&argc, argv, "--file", &file) < 0 ||
        take_opt(&argc, argv, "--bdev", &bdev) < 0 ||
        take_opt(&argc, argv, "--block-size", &bs_s) < 0 ||
        take_opt(&argc, argv, "--t10-id", &t10) < 0 || take_opt(&argc, argv, "--serial", &serial) < 0) {
        scstd_reply_done(r, SCSTD_EXIT_USAGE, "an option lacks its value; usage: %s", usage);
        return;
    }
    struct scst_device_opts o = {
        .read_only = take_flag(&argc, argv, "--read-only"),
        .removable = take_flag(&argc, argv, "--removable"),
        .thin = !take_flag(&argc, argv, "--no-thin"),
        .write_through = take_flag(&argc, argv, "--write-through"),
        .t10_dev_id = t10,
        .serial = serial,
    };
    take_flag(&argc, argv, "--thin");
    if (!check_args(r, argc - 1, argv + 1, 1, 1, usage))
        return;
    o.name = argv[2];
    uint64_t size = 0, bs = 0;
    if ((size_s && scstd_parse_size(size_s, &size)) || (bs_s && scstd_parse_u64(bs_s, &bs)) ||
        (bs && bs != 512 && bs != 4096) || (!bdev == !size_s) || (bdev && file)) {
        scstd_reply_done(r, SCSTD_EXIT_USAGE, "usage: %s", usage);
        return;
    }
    if (scst_device_find(d->core, o.name)) {
        scstd_reply_done(r, SCSTD_EXIT_FAIL, "device '%s' exists", o.name);
        return;
    }
    o.block_size = (uint32_t)bs;
    char why[SCSTD_ERR] = "";
    struct tcmu_device *tdev = NULL;
    if (!bdev) {
        tdev = scstd_backstore_add(d, NULL, size, o.block_size ? o.block_size : 512, file, why,
                                   sizeof(why));
        if (!tdev) {
            scstd_reply_done(r, SCSTD_EXIT_FAIL, "device %s: %s", o.name, why);
            return;
        }
        bdev = tcmu_dev_name(tdev);
    }
    o.bdev = bdev;
    int rc = scst_device_add(d->core, &o, why, sizeof(why));
    if (rc) {
        char ignore[SCSTD_ERR];
        if (tdev)
            scstd_backstore_remove(d, tcmu_dev_name(tdev), ignore, sizeof(ignore));
        scstd_reply_done(r, SCSTD_EXIT_FAIL, "device %s: %s", o.name, why[0] ? why : rc_words(rc));
        return;
    }
    if (tdev)
        snprintf(scstd_backstore_find(d, tcmu_dev_name(tdev))->device, UMC_NAME_MAX, "%s", o.name);
    scstd_changed(d);
    scstd_reply_line(r, "device:%s bdev:%s", o.name, bdev);
    scstd_reply_done(r, SCSTD_EXIT_OK, "ok");
}

static void device_remove(struct scstd *d, struct scstd_reply *r, int argc, char **argv)
{
    if (!check_args(r, argc - 1, argv + 1, 1, 1, "device remove NAME"))
        return;
    const char *name = argv[2];
    int rc = scst_device_remove(d->core, name);
    if (rc) {
        scstd_reply_done(r, SCSTD_EXIT_FAIL, "device %s: %s", name,
                         rc == -EBUSY ? "in use by a LUN" : rc_words(rc));
        return;
    }
    /* the backstore scstd made for it goes too */
    for (struct scstd_backstore *b = d->backstores; b; b = b->next) {
        if (strcmp(b->device, name) == 0) {
            char why[SCSTD_ERR];
            char bname[UMC_NAME_MAX];
            snprintf(bname, sizeof(bname), "%s", b->name);
            if (scstd_backstore_remove(d, bname, why, sizeof(why))) {
                /* held open elsewhere (a --fuse file): it stays, as a plain bdev
                 * that `device add NAME --bdev` can take again */
                b->device[0] = '\0';
                scstd_changed(d);
                scstd_reply_done(r, SCSTD_EXIT_FAIL, "device %s removed, but %s; it stays as bdev %s",
                                 name, why, bname);
                return;
            }
            break;
        }
    }
    scstd_changed(d);
    scstd_reply_done(r, SCSTD_EXIT_OK, "ok");
}

static void verb_device(struct scstd *d, struct scstd_reply *r, int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";
    if (strcmp(sub, "add") == 0)
        device_add(d, r, argc, argv);
    else if (strcmp(sub, "remove") == 0 || strcmp(sub, "del") == 0)
        device_remove(d, r, argc, argv);
    else
        scstd_reply_done(r, SCSTD_EXIT_USAGE,
                         "usage: device add NAME --size SIZE [--file PATH] ... | device remove NAME");
}

/* ---- targets, groups, iSCSI parameters --------------------------------------------------- */

static void verb_target(struct scstd *d, struct scstd_reply *r, int argc, char **argv)
{
    const char *usage = "target add|remove|enable|disable NAME | target allow NAME INITIATOR";
    const char *sub = argc > 1 ? argv[1] : "";
    int rc;
    if (strcmp(sub, "allow") == 0) {
        if (!check_args(r, argc - 1, argv + 1, 2, 2, usage))
            return;
        rc = scst_target_allow_initiator(d->core, argv[2], argv[3]);
    } else {
        if (!check_args(r, argc - 1, argv + 1, 1, 1, usage))
            return;
        if (strcmp(sub, "add") == 0) {
            rc = scst_target_add(d->core, argv[2]);
            if (!rc)
                rc = scst_target_enable(d->core, argv[2], true);
        } else if (strcmp(sub, "remove") == 0 || strcmp(sub, "del") == 0) {
            rc = scst_target_remove(d->core, argv[2]);
        } else if (strcmp(sub, "enable") == 0 || strcmp(sub, "disable") == 0) {
            rc = scst_target_enable(d->core, argv[2], strcmp(sub, "enable") == 0);
        } else {
            scstd_reply_done(r, SCSTD_EXIT_USAGE, "usage: %s", usage);
            return;
        }
    }
    char what[300];
    snprintf(what, sizeof(what), "target %s %s", sub, argv[2]);
    done_rc(r, rc, what, rc_words(rc));
}

static void verb_group(struct scstd *d, struct scstd_reply *r, int argc, char **argv)
{
    const char *usage = "group add TARGET GROUP | group initiator TARGET GROUP INITIATOR";
    const char *sub = argc > 1 ? argv[1] : "";
    int rc;
    if (strcmp(sub, "add") == 0) {
        if (!check_args(r, argc - 1, argv + 1, 2, 2, usage))
            return;
        rc = scst_group_add(d->core, argv[2], argv[3]);
    } else if (strcmp(sub, "initiator") == 0) {
        if (!check_args(r, argc - 1, argv + 1, 3, 3, usage))
            return;
        rc = scst_group_add_initiator(d->core, argv[2], argv[3], argv[4]);
    } else {
        scstd_reply_done(r, SCSTD_EXIT_USAGE, "usage: %s", usage);
        return;
    }
    done_rc(r, rc, "group", rc_words(rc));
}

/* param TARGET|- KEY VALUE: one iscsi-scstd.conf line at run time. */
static void verb_param(struct scstd *d, struct scstd_reply *r, int argc, char **argv)
{
    if (!check_args(r, argc, argv, 3, 3, "param TARGET|- KEY VALUE"))
        return;
    char line[1024];
    const char *target = strcmp(argv[1], "-") == 0 ? NULL : argv[1];
    char why[SCSTD_ERR] = "";
    int rc = scstd_iscsi_key(d, target, argv[2], argv[3], why, sizeof(why));
    snprintf(line, sizeof(line), "%s %s", argv[2], argv[3]);
    done_rc(r, rc, line, why);
}

/* ---- the rest ------------------------------------------------------------------------- */

static const char *const verb_help[] = {
    "list [all|targets|luns|sessions|bdevs] [TARGET]   targets with their LUNs and sessions",
    "stats [TARGET]                                     per-LUN statistics",
    "lun add TARGET LUN DEVICE [--group G] [--read-only]",
    "lun remove TARGET LUN [--group G]",
    "device add NAME --size SIZE [--file PATH] [--block-size N] [--read-only] [--removable]",
    "           [--no-thin] [--write-through] [--t10-id ID] [--serial S]   (a ram LU)",
    "device add NAME --bdev BDEV [...]                  an LU over an existing bdev (drbd1)",
    "device remove NAME",
    "target add|remove|enable|disable NAME, target allow NAME INITIATOR",
    "group add TARGET GROUP, group initiator TARGET GROUP INITIATOR",
    "param TARGET|- KEY VALUE                           an iscsi-scstd.conf key at run time",
    "ping, shutdown",
    NULL,
};

static void verb_helptext(struct scstd *d, struct scstd_reply *r)
{
    for (unsigned i = 0; verb_help[i]; i++)
        scstd_reply_line(r, "%s", verb_help[i]);
    scstd_drbd_help(r);
    scstd_reply_done(r, SCSTD_EXIT_OK, "ok");
}

void scstd_verb_run(struct scstd *d, struct scstd_reply *r, int argc, char **argv)
{
    const char *verb = argv[0];
    if (strcmp(verb, "help") == 0) {
        verb_helptext(d, r);
    } else if (strcmp(verb, "ping") == 0) {
        scstd_reply_line(r, "scstd pid:%ld node:%s", (long)getpid(), umc_node_name(d->node));
        scstd_reply_done(r, SCSTD_EXIT_OK, "pong");
    } else if (strcmp(verb, "list") == 0) {
        verb_list(d, r, argc, argv);
    } else if (strcmp(verb, "targets") == 0 || strcmp(verb, "sessions") == 0 ||
               strcmp(verb, "luns") == 0 || strcmp(verb, "bdevs") == 0) {
        if (argc > 2) {
            scstd_reply_done(r, SCSTD_EXIT_USAGE, "usage: %s [TARGET]", verb);
            return;
        }
        char list[] = "list";
        char *v[4] = {list, argv[0], argc > 1 ? argv[1] : NULL, NULL};
        verb_list(d, r, argc + 1, v);
    } else if (strcmp(verb, "stats") == 0) {
        verb_stats(d, r, argc, argv);
    } else if (strcmp(verb, "lun") == 0) {
        verb_lun(d, r, argc, argv);
    } else if (strcmp(verb, "device") == 0) {
        verb_device(d, r, argc, argv);
    } else if (strcmp(verb, "target") == 0) {
        verb_target(d, r, argc, argv);
    } else if (strcmp(verb, "group") == 0) {
        verb_group(d, r, argc, argv);
    } else if (strcmp(verb, "param") == 0) {
        verb_param(d, r, argc, argv);
    } else if (strcmp(verb, "shutdown") == 0) {
        d->stopping = true;
        mte_stop(d->engine);
        scstd_reply_done(r, SCSTD_EXIT_OK, "shutting down");
    } else if (!scstd_drbd_verb(d, r, argc, argv)) {
        scstd_reply_done(r, SCSTD_EXIT_USAGE, "unknown command '%.64s' (try help)", verb);
    }
}
