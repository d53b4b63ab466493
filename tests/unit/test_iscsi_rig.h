/* A simulated world for the iSCSI end-to-end tests: a virtual clock, faultnet
 * with two hosts, a target node (ram or simdisk backstore, scst core, one
 * target with LUN 0, the iSCSI server on 10.0.0.1:3260) and an initiator node.
 * Included by the test_iscsi_*.c files that need it. */
#ifndef TEST_ISCSI_RIG_H
#define TEST_ISCSI_RIG_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "faultnet/faultnet.h"
#include "iscsi/iscsi.h"
#include "iscsi/iscsi_proto.h"
#include "tcmu_ram/tcmu_ram.h"

#define TGT "iqn.2026-11.local.test:disk0"
#define TGT2 "iqn.2026-11.local.test:disk1"
#define INI_NAME "iqn.2026-11.local.test:ini"
#define PORTAL "10.0.0.1:3260"
#define DISK_SIZE (128ull << 20)
#define BLOCK 512u

struct rig {
    struct mte_engine *e;
    struct faultnet *fn;
    struct umc_node *tn, *in;
    struct tcmu_host *th;
    struct scst_core *core;
    struct iscsi_server *srv;
    struct simdisk_media *media;
};

static inline struct umc_node *rig_node(struct rig *r, const char *host, uint64_t seed)
{
    struct umc_node_opts o = {.name = host, .seed = seed, .net = faultnet_backend(),
                              .net_ctx = faultnet_host_ctx(r->fn, host),
                              .print_level = getenv("ISCSI_TEST_LOG") ? UMC_LOG_DEBUG : UMC_LOG_ERROR};
    return umc_node_new(r->e, &o);
}

/* latency > 0: a simdisk with that read/write latency instead of ram. */
static inline void rig_up_with(struct rig *r, uint64_t seed, mte_time_t latency)
{
    memset(r, 0, sizeof(*r));
    r->e = mte_engine_new(MTE_CLOCK_VIRTUAL, seed);
    r->fn = faultnet_new(r->e, seed, NULL);
    assert_int_equal(faultnet_add_host(r->fn, "target", "10.0.0.1"), 0);
    assert_int_equal(faultnet_add_host(r->fn, "ini", "10.0.0.2"), 0);
    r->tn = rig_node(r, "target", seed);
    r->in = rig_node(r, "ini", seed + 1);
    r->th = tcmu_host_new(r->tn);
    struct tcmu_dev_config cfg = {.cfgstring = "ram/", .size = DISK_SIZE, .block_size = BLOCK};
    if (latency) {
        r->media = simdisk_media_new("disk0", DISK_SIZE, seed);
        struct simdisk_params p;
        simdisk_default_params(&p);
        p.read_latency = p.write_latency = latency;
        p.jitter = 0;
        simdisk_set_params(r->media, &p);
        cfg.cfgstring = "simdisk/";
        cfg.handler_arg = r->media;
    }
    int err = 0;
    assert_non_null(tcmu_dev_add(r->th, &cfg, &err));
    r->core = scst_core_new(r->tn);
    char msg[128];
    struct scst_device_opts d = {.name = "disk0", .bdev = "tcmu000"};
    assert_int_equal(scst_device_add(r->core, &d, msg, sizeof(msg)), 0);
    assert_int_equal(scst_target_add(r->core, TGT), 0);
    assert_int_equal(scst_lun_add(r->core, TGT, NULL, 0, "disk0", false), 0);
    assert_int_equal(scst_target_enable(r->core, TGT, true), 0);
    r->srv = iscsi_server_new(r->tn, r->core);
    assert_int_equal(iscsi_server_add_portal(r->srv, PORTAL), 0);
}

static inline void rig_up(struct rig *r) { rig_up_with(r, 1, 0); }

static inline void rig_run(struct rig *r, mte_time_t d) { mte_run_until(r->e, mte_now(r->e) + d); }

/* Run until *flag is set (or the virtual deadline passes). */
static inline bool rig_wait(struct rig *r, const bool *flag, mte_time_t max)
{
    mte_time_t end = mte_now(r->e) + max;
    while (!*flag && mte_now(r->e) < end)
        mte_run_until(r->e, mte_now(r->e) + MTE_MSEC);
    return *flag;
}

static inline void rig_down(struct rig *r)
{
    iscsi_server_free(r->srv);
    rig_run(r, MTE_SEC);
    scst_core_free(r->core);
    tcmu_host_free(r->th);
    rig_run(r, MTE_SEC);
    assert_int_equal(umc_node_free(r->tn), 0);
    assert_int_equal(umc_node_free(r->in), 0);
    faultnet_free(r->fn);
    if (r->media)
        simdisk_media_free(r->media);
    mte_engine_free(r->e);
}

/* ---- the initiator, synchronously ------------------------------------------------------- */

struct login_wait {
    bool done;
    int rc;
    char msg[160];
};

static inline void login_cb(void *arg, int rc, const char *msg)
{
    struct login_wait *w = arg;
    w->done = true;
    w->rc = rc;
    snprintf(w->msg, sizeof(w->msg), "%s", msg ? msg : "");
}

static inline struct iscsi_ini_opts ini_defaults(void)
{
    struct iscsi_ini_opts o = {.portal = PORTAL, .target = TGT, .initiator = INI_NAME,
                               .want_immediate_data = true, .want_initial_r2t = false};
    return o;
}

/* Log in; returns the initiator (freed on failure) and the outcome in w. */
static inline struct iscsi_ini *ini_login(struct rig *r, const struct iscsi_ini_opts *o,
                                          struct login_wait *w)
{
    struct iscsi_ini *ini = iscsi_ini_new(r->in, o);
    memset(w, 0, sizeof(*w));
    iscsi_ini_login(ini, login_cb, w);
    assert_true(rig_wait(r, &w->done, 60 * MTE_SEC));
    if (w->rc) {
        iscsi_ini_free(ini);
        return NULL;
    }
    return ini;
}

static inline struct iscsi_ini *ini_login_ok(struct rig *r, const struct iscsi_ini_opts *o)
{
    struct login_wait w;
    struct iscsi_ini *ini = ini_login(r, o, &w);
    if (!ini)
        fail_msg("login failed: %d %s", w.rc, w.msg);
    return ini;
}

static inline void cmd_cb(void *arg, const struct iscsi_ini_result *res);

struct cmd_wait {
    bool done;
    struct iscsi_ini_result r;
    uint8_t sense[SCSI_SENSE_MAX];
};

static inline void cmd_cb(void *arg, const struct iscsi_ini_result *res)
{
    struct cmd_wait *w = arg;
    w->done = true;
    w->r = *res;
    if (res->sense_len)
        memcpy(w->sense, res->sense, res->sense_len);
    w->r.sense = w->sense;
}

static inline struct cmd_wait run_cmd(struct rig *r, struct iscsi_ini *ini, const uint8_t *cdb,
                                      unsigned cdb_len, enum scsi_dir dir, void *buf, uint32_t len)
{
    struct cmd_wait w = {0};
    iscsi_ini_command(ini, 0, cdb, cdb_len, dir, buf, len, cmd_cb, &w);
    assert_true(rig_wait(r, &w.done, 120 * MTE_SEC));
    return w;
}

/* A new nexus starts with a unit attention (power on, reset): take it. */
static inline void clear_ua(struct rig *r, struct iscsi_ini *ini)
{
    uint8_t tur[6] = {0};
    for (int i = 0; i < 4; i++) {
        struct cmd_wait w = run_cmd(r, ini, tur, 6, SCSI_DIR_NONE, NULL, 0);
        assert_int_equal(w.r.rc, 0);
        if (w.r.status == 0)
            return;
    }
    fail_msg("unit attention does not clear");
}

/* Log in and take the unit attention. */
static inline struct iscsi_ini *ini_ready(struct rig *r, const struct iscsi_ini_opts *o)
{
    struct iscsi_ini *ini = ini_login_ok(r, o);
    clear_ua(r, ini);
    return ini;
}

static inline void cdb_rw10(uint8_t *cdb, bool write, uint32_t lba, uint16_t blocks)
{
    memset(cdb, 0, 10);
    cdb[0] = write ? 0x2a : 0x28;
    cdb[2] = (uint8_t)(lba >> 24);
    cdb[3] = (uint8_t)(lba >> 16);
    cdb[4] = (uint8_t)(lba >> 8);
    cdb[5] = (uint8_t)lba;
    cdb[7] = (uint8_t)(blocks >> 8);
    cdb[8] = (uint8_t)blocks;
}

/* WRITE(10) or READ(10) of len bytes at lba, expecting GOOD. */
static inline void rw(struct rig *r, struct iscsi_ini *ini, bool write, uint32_t lba, void *buf,
                      uint32_t len)
{
    uint8_t cdb[10];
    cdb_rw10(cdb, write, lba, (uint16_t)(len / BLOCK));
    struct cmd_wait w = run_cmd(r, ini, cdb, 10, write ? SCSI_DIR_WRITE : SCSI_DIR_READ, buf, len);
    if (w.r.rc || w.r.status)
        fail_msg("%s lba %u len %u: rc %d status 0x%02x sense %02x/%02x/%02x", write ? "write" : "read",
                 lba, len, w.r.rc, w.r.status, w.r.sense_len ? w.sense[2] & 15 : 0,
                 w.r.sense_len > 12 ? w.sense[12] : 0, w.r.sense_len > 13 ? w.sense[13] : 0);
}

static inline void pattern(uint8_t *buf, size_t len, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
}

struct logout_wait {
    bool done;
    int rc;
};

static inline void logout_cb(void *arg, int rc, const char *msg)
{
    struct logout_wait *w = arg;
    w->done = true;
    w->rc = rc;
}

static inline void ini_logout_free(struct rig *r, struct iscsi_ini *ini)
{
    struct logout_wait w = {0};
    iscsi_ini_logout(ini, logout_cb, &w);
    assert_true(rig_wait(r, &w.done, 30 * MTE_SEC));
    assert_int_equal(w.rc, 0);
    iscsi_ini_free(ini);
    rig_run(r, 100 * MTE_MSEC);
}

struct count_sessions {
    unsigned n, discovery;
};

static inline void count_cb(void *arg, const struct iscsi_session_info *info)
{
    struct count_sessions *c = arg;
    c->n++;
    c->discovery += info->discovery;
}

static inline unsigned session_count(struct rig *r)
{
    struct count_sessions c = {0};
    iscsi_foreach_session(r->srv, count_cb, &c);
    return c.n;
}

#endif
