/* scstd's command line. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "scstd/scstd.h"

void scstd_usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s [options]\n"
            "The usermode iSCSI storage server.  With no options it serves target\n"
            SCSTD_DEFAULT_TARGET " with LUN 0 = a 1 GiB thin ram LUN on " SCSTD_DEFAULT_PORTAL "\n"
            "and prints its iSCSI URL.\n\n"
            "  --portal HOST:PORT       listen here (repeatable; default " SCSTD_DEFAULT_PORTAL ")\n"
            "  --advertise HOST:PORT    the address SendTargets names for a 0.0.0.0 portal\n"
            "  --config FILE            scst.conf (nested or legacy [HANDLER vdisk] form)\n"
            "  --iscsi-config FILE      iscsi-scstd.conf (Target NAME, then Key Value lines)\n"
            "  --drbd-config FILE       a .res file (repeatable); needs --node or the host name\n"
            "  --node NAME              the \"on NAME\" section this server plays\n"
            "  --up RES|all             bring drbd resources up before --config is read, so\n"
            "                           scst.conf can export drbdN (repeatable)\n"
            "  --backstore NAME:SIZE[:FILE]\n"
            "                           a ram backstore bdev NAME (anonymous, or mmap of FILE)\n"
            "                           before the configuration is read (repeatable)\n"
            "  --admin PATH             scstctl's unix socket (default $SCSTD_ADMIN or\n"
            "                           " SCSTD_DEFAULT_ADMIN "; \"none\" for no socket)\n"
            "  --record-io [BDEV=]FILE  record every bio to an exported bdev as an I/O trace the\n"
            "                           simulator replays (sim/iotrace.h); a plain FILE takes\n"
            "                           the first bdev used, others go to FILE.BDEV (repeatable)\n"
            "  --fuse DIR               mount every block device as a file DIR/dev/NAME\n"
            "                           (tcmu000, drbd1, ...) for mkfs, dd and cmp\n"
            "  --state-dir DIR          persistent reservations (default " SCSTD_DEFAULT_STATE_DIR ")\n"
            "  --poll-nap-us N          under load, nap N microseconds before each poll when\n"
            "                           trials show it serves more I/O (default %d; 0: off)\n"
            "  --seed N                 the engine's seed (default: from getrandom)\n"
            "  --check                  load the configuration, report, and exit\n"
            "  -v, --verbose            log more (twice: debug)\n"
            "  -h, --help               this text\n"
            "Exit: 0 clean shutdown, 1 failure, 2 bad usage or configuration.\n",
            prog, SCSTD_DEFAULT_POLL_NAP_US);
}

enum {
    OPT_PORTAL = 256, OPT_ADVERTISE, OPT_CONFIG, OPT_ISCSI_CONFIG, OPT_DRBD_CONFIG, OPT_NODE,
    OPT_BACKSTORE, OPT_UP, OPT_ADMIN, OPT_RECORD, OPT_STATE_DIR, OPT_SEED, OPT_CHECK,
    OPT_FUSE, OPT_POLL_NAP_US,
};

static const struct option long_opts[] = {
    {"portal", required_argument, NULL, OPT_PORTAL},
    {"advertise", required_argument, NULL, OPT_ADVERTISE},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"iscsi-config", required_argument, NULL, OPT_ISCSI_CONFIG},
    {"drbd-config", required_argument, NULL, OPT_DRBD_CONFIG},
    {"node", required_argument, NULL, OPT_NODE},
    {"backstore", required_argument, NULL, OPT_BACKSTORE},
    {"up", required_argument, NULL, OPT_UP},
    {"admin", required_argument, NULL, OPT_ADMIN},
    {"record-io", required_argument, NULL, OPT_RECORD},
    {"state-dir", required_argument, NULL, OPT_STATE_DIR},
    {"seed", required_argument, NULL, OPT_SEED},
    {"check", no_argument, NULL, OPT_CHECK},
    {"fuse", required_argument, NULL, OPT_FUSE},
    {"poll-nap-us", required_argument, NULL, OPT_POLL_NAP_US},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int add_to(const char **list, unsigned *n, const char *value, const char *what)
{
    if (*n == SCSTD_MAX_LIST) {
        fprintf(stderr, "scstd: at most %d %s options\n", SCSTD_MAX_LIST, what);
        return SCSTD_EXIT_USAGE;
    }
    list[(*n)++] = value;
    return 0;
}

static bool valid_portal(const char *p)
{
    const char *colon = strrchr(p, ':');
    uint64_t port;
    return colon && colon != p && scstd_parse_u64(colon + 1, &port) == 0 && port <= 65535;
}

int scstd_parse_options(struct scstd_options *o, int argc, char **argv)
{
    memset(o, 0, sizeof(*o));
    const char *env_admin = getenv("SCSTD_ADMIN");
    o->admin = env_admin && *env_admin ? env_admin : SCSTD_DEFAULT_ADMIN;
    o->state_dir = SCSTD_DEFAULT_STATE_DIR;
    o->poll_nap_us = SCSTD_DEFAULT_POLL_NAP_US;
    opterr = 0;
    int c, rc = 0;
    while (!rc && (c = getopt_long(argc, argv, ":vh", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_PORTAL:
            if (!valid_portal(optarg)) {
                fprintf(stderr, "scstd: --portal wants HOST:PORT, not '%s'\n", optarg);
                return SCSTD_EXIT_USAGE;
            }
            rc = add_to(o->portals, &o->nportals, optarg, "--portal");
            break;
        case OPT_ADVERTISE: o->advertise = optarg; break;
        case OPT_CONFIG: o->config = optarg; break;
        case OPT_ISCSI_CONFIG: o->iscsi_config = optarg; break;
        case OPT_DRBD_CONFIG:
            rc = add_to(o->drbd_configs, &o->ndrbd_configs, optarg, "--drbd-config");
            break;
        case OPT_NODE: o->node_name = optarg; break;
        case OPT_BACKSTORE:
            rc = add_to(o->backstores, &o->nbackstores, optarg, "--backstore");
            break;
        case OPT_UP:
            rc = add_to(o->up, &o->nup, optarg, "--up");
            break;
        case OPT_ADMIN: o->admin = optarg; break;
        case OPT_RECORD:
            rc = add_to(o->record_io, &o->nrecord_io, optarg, "--record-io");
            break;
        case OPT_STATE_DIR: o->state_dir = optarg; break;
        case OPT_SEED:
            if (scstd_parse_u64(optarg, &o->seed)) {
                fprintf(stderr, "scstd: --seed wants a number, not '%s'\n", optarg);
                return SCSTD_EXIT_USAGE;
            }
            o->have_seed = true;
            break;
        case OPT_CHECK: o->check_only = true; break;
        case OPT_FUSE: o->fuse_dir = optarg; break;
        case OPT_POLL_NAP_US:
            if (scstd_parse_u64(optarg, &o->poll_nap_us) || o->poll_nap_us > SCSTD_MAX_POLL_NAP_US) {
                fprintf(stderr, "scstd: --poll-nap-us wants 0 to %d, not '%s'\n",
                        SCSTD_MAX_POLL_NAP_US, optarg);
                return SCSTD_EXIT_USAGE;
            }
            break;
        case 'v': o->verbosity++; break;
        case 'h': scstd_usage(stdout, argv[0]); return -1;
        case ':':
            fprintf(stderr, "scstd: %s needs a value (see --help)\n", argv[optind - 1]);
            return SCSTD_EXIT_USAGE;
        default:
            fprintf(stderr, "scstd: unknown option '%s' (see --help)\n", argv[optind - 1]);
            return SCSTD_EXIT_USAGE;
        }
    }
    if (rc)
        return rc;
    if (optind < argc) {
        fprintf(stderr, "scstd: unexpected argument '%s' (see --help)\n", argv[optind]);
        return SCSTD_EXIT_USAGE;
    }
    if (o->nup && !o->ndrbd_configs) {
        fprintf(stderr, "scstd: --up needs --drbd-config\n");
        return SCSTD_EXIT_USAGE;
    }
    if (!o->nportals)
        o->portals[o->nportals++] = SCSTD_DEFAULT_PORTAL;
    if (strcmp(o->admin, "none") == 0)
        o->admin = "";
    return 0;
}
