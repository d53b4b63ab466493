/* Shared rig for the scst unit tests: an engine, a node, a tcmu host with a
 * ram (or simulated) disk, a core with one device exported by one target,
 * and sessions for two initiators.  Commands are driven through struct
 * scsi_cmd exactly as a transport would: parse, fill data, exec, run the
 * engine, read the result, release. */
#ifndef TEST_SCST_RIG_H
#define TEST_SCST_RIG_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scst/scst.h"
#include "tcmu_ram/tcmu_ram.h"

#define MIB (1024ull * 1024)
#define TGT "iqn.2024-01.test:target"
#define INI1 "iqn.2024-01.test:ini1"
#define INI2 "iqn.2024-01.test:ini2"
#define PORT1 INI1 ",i,0x230000000001"
#define PORT2 INI2 ",i,0x230000000002"

struct rig_opts {
    uint64_t size;
    uint32_t block_size, physical_block_size;
    bool thin, removable, read_only, write_through;
    bool simdisk;              /* a simulated disk with latency instead of ram */
    mte_time_t latency;
    const char *state_dir;
};

struct rig {
    struct mte_engine *e;
    struct umc_node *n;
    struct tcmu_host *h;
    struct scst_core *core;
    struct simdisk_media *m;
    struct scst_session *s1, *s2;
    struct tcmu_device *td;
    uint32_t bs;
    uint64_t nblocks;
};

struct res {
    int parse_rc;
    uint8_t status;
    uint8_t sense[SCSI_SENSE_MAX];
    unsigned sense_len;
    uint8_t *data;             /* resp_len bytes (malloc'd) */
    uint32_t len;
    uint32_t data_len;
    enum scsi_dir dir;
    bool aborted;
};

struct tcmd {
    struct scsi_cmd cmd;
    int done;
};

static inline void tcmd_done(struct scsi_cmd *cmd)
{
    struct tcmd *t = (struct tcmd *)cmd;
    t->done++;
}

static inline void rig_add_device(struct rig *r, const char *name, const struct rig_opts *o, int lun)
{
    struct tcmu_dev_config cfg = {.cfgstring = o->simdisk ? "simdisk/" : "ram/",
                                  .size = o->size, .block_size = o->block_size,
                                  .handler_arg = o->simdisk ? r->m : NULL};
    int err = 0;
    struct tcmu_device *td = tcmu_dev_add(r->h, &cfg, &err);
    assert_non_null(td);
    if (!r->td)
        r->td = td;
    struct scst_device_opts d = {.name = name, .bdev = tcmu_dev_name(td), .read_only = o->read_only,
                                 .removable = o->removable, .thin = o->thin,
                                 .write_through = o->write_through,
                                 .physical_block_size = o->physical_block_size};
    char msg[128];
    assert_int_equal(scst_device_add(r->core, &d, msg, sizeof(msg)), 0);
    if (lun >= 0)
        assert_int_equal(scst_lun_add(r->core, TGT, NULL, (uint64_t)lun, name, false), 0);
}

static inline void rig_up(struct rig *r, const struct rig_opts *opts)
{
    struct rig_opts o = opts ? *opts : (struct rig_opts){0};
    if (!o.size)
        o.size = 128 * MIB;
    if (!o.block_size)
        o.block_size = 4096;
    memset(r, 0, sizeof(*r));
    r->e = mte_engine_new(MTE_CLOCK_VIRTUAL, 1);
    struct umc_node_opts no = {.name = "n1", .seed = 1, .print_level = UMC_LOG_ERROR};
    r->n = umc_node_new(r->e, &no);
    r->h = tcmu_host_new(r->n);
    if (o.simdisk) {
        r->m = simdisk_media_new("d1", o.size, 7);
        struct simdisk_params p;
        simdisk_default_params(&p);
        p.read_latency = p.write_latency = p.flush_latency = o.latency;
        p.jitter = 0;
        simdisk_set_params(r->m, &p);
    }
    r->core = scst_core_new(r->n);
    scst_core_set_state_dir(r->core, o.state_dir ? o.state_dir : "/tmp/scst-test-nonexistent");
    assert_int_equal(scst_target_add(r->core, TGT), 0);
    assert_int_equal(scst_target_enable(r->core, TGT, true), 0);
    rig_add_device(r, "disk0", &o, 0);
    r->bs = o.block_size;
    r->nblocks = o.size / o.block_size;
    int err = 1;
    r->s1 = scst_session_new(r->core, TGT, INI1, PORT1, 1, &err);
    assert_non_null(r->s1);
    r->s2 = scst_session_new(r->core, TGT, INI2, PORT2, 1, &err);
    assert_non_null(r->s2);
}

static inline void closed_cb(void *arg) { (*(int *)arg)++; }
static inline void tmf_cb(void *arg, int response) { *(int *)arg = response; }

static inline void rig_close_session(struct rig *r, struct scst_session **s)
{
    if (!*s)
        return;
    int closed = 0;
    scst_session_close(*s, closed_cb, &closed);
    mte_run_until_idle(r->e);
    assert_int_equal(closed, 1);
    *s = NULL;
}

static inline void rig_down(struct rig *r)
{
    rig_close_session(r, &r->s1);
    rig_close_session(r, &r->s2);
    mte_run_until_idle(r->e);
    scst_core_free(r->core);
    tcmu_host_free(r->h);
    assert_int_equal(umc_node_free(r->n), 0);
    if (r->m)
        simdisk_media_free(r->m);
    mte_engine_free(r->e);
}

static inline void res_free(struct res *res)
{
    free(res->data);
    res->data = NULL;
}

/* Parse and, if that succeeds, fill the data-out buffer and exec (no run). */
static inline int tcmd_start(struct tcmd *t, struct scst_session *s, uint64_t lun, const uint8_t *cdb,
                      unsigned cdb_len, const void *out, uint32_t out_len, enum scsi_task_attr attr)
{
    memset(t, 0, sizeof(*t));
    t->cmd.sess = s;
    t->cmd.lun = lun;
    t->cmd.attr = attr;
    memcpy(t->cmd.cdb, cdb, cdb_len);
    t->cmd.cdb_len = cdb_len < 16 ? 16 : cdb_len;
    t->cmd.expected_len = out ? out_len : 0;
    t->cmd.expected_dir = out ? SCSI_DIR_WRITE : SCSI_DIR_READ;
    t->cmd.done = tcmd_done;
    int rc = scst_cmd_parse(&t->cmd);
    if (rc)
        return rc;
    if (t->cmd.dir == SCSI_DIR_WRITE) {
        uint32_t n = out_len < t->cmd.data_len ? out_len : t->cmd.data_len;
        if (n)
            memcpy(t->cmd.buf, out, n);
        t->cmd.received = n;
    }
    if (t->cmd.dir == SCSI_DIR_READ)
        t->cmd.expected_len = t->cmd.data_len;
    scst_cmd_exec(&t->cmd);
    return 0;
}

static inline void tcmd_finish(struct tcmd *t, struct res *res)
{
    struct scsi_cmd *c = &t->cmd;
    memset(res, 0, sizeof(*res));
    res->status = c->status;
    res->sense_len = c->sense_len;
    memcpy(res->sense, c->sense, sizeof(res->sense));
    res->aborted = c->aborted;
    res->data_len = c->data_len;
    res->dir = c->dir;
    if (c->resp_len && c->buf) {
        res->data = malloc(c->resp_len);
        memcpy(res->data, c->buf, c->resp_len);
        res->len = c->resp_len;
    }
    scst_cmd_release(c);
}

/* Run a command to its end (parse failures included). */
static inline struct res run_cmd_attr(struct rig *r, struct scst_session *s, uint64_t lun, const uint8_t *cdb,
                               unsigned cdb_len, const void *out, uint32_t out_len,
                               enum scsi_task_attr attr)
{
    struct tcmd *t = calloc(1, sizeof(*t));
    struct res res;
    int rc = tcmd_start(t, s, lun, cdb, cdb_len, out, out_len, attr);
    if (rc == 0) {
        assert_int_equal(t->done, 0); /* never inside exec */
        mte_run_until_idle(r->e);
        assert_int_equal(t->done, 1);
    }
    tcmd_finish(t, &res);
    res.parse_rc = rc;
    free(t);
    return res;
}

/* Like run_cmd, but advance virtual time only as far as the command needs
 * (background work such as a sanitize keeps running). */
static inline struct res run_cmd_short(struct rig *r, struct scst_session *s, uint64_t lun,
                                       const uint8_t *cdb, unsigned cdb_len, const void *out,
                                       uint32_t out_len)
{
    struct tcmd *t = calloc(1, sizeof(*t));
    struct res res;
    int rc = tcmd_start(t, s, lun, cdb, cdb_len, out, out_len, SCSI_TASK_SIMPLE);
    for (int i = 0; rc == 0 && !t->done && i < 100000; i++)
        mte_run_until(r->e, mte_now(r->e) + MTE_MSEC);
    if (rc == 0)
        assert_int_equal(t->done, 1);
    tcmd_finish(t, &res);
    res.parse_rc = rc;
    free(t);
    return res;
}

static inline struct res run_cmd(struct rig *r, struct scst_session *s, uint64_t lun, const uint8_t *cdb,
                          unsigned cdb_len, const void *out, uint32_t out_len)
{
    return run_cmd_attr(r, s, lun, cdb, cdb_len, out, out_len, SCSI_TASK_SIMPLE);
}

/* Sense key, ASC and ASCQ of a result in either sense format. */
static inline void sense_of(const struct res *res, uint8_t *key, uint16_t *asc)
{
    const uint8_t *s = res->sense;
    if ((s[0] & 0x7f) >= 0x72) {
        *key = s[1] & 0x0f;
        *asc = (uint16_t)(s[2] << 8 | s[3]);
    } else {
        *key = s[2] & 0x0f;
        *asc = (uint16_t)(s[12] << 8 | s[13]);
    }
}

#define assert_good(x) do { \
    struct res _r = (x); \
    if (_r.status != SAM_STAT_GOOD) { \
        uint8_t _k; uint16_t _a; sense_of(&_r, &_k, &_a); \
        fail_msg("status 0x%02x key 0x%x asc 0x%04x", _r.status, _k, _a); \
    } \
} while (0)
/* The same for a result nobody looks at afterwards: its data is freed. */
#define expect_good(x) do { struct res _e = (x); assert_good(_e); res_free(&_e); } while (0)

static inline void assert_sense_(const struct res *res, uint8_t key, uint16_t asc, const char *file, int line)
{
    uint8_t k;
    uint16_t a;
    if (res->status != SAM_STAT_CHECK_CONDITION)
        _fail(file, line);
    sense_of(res, &k, &a);
    if (k != key || a != asc) {
        print_error("sense key 0x%x asc 0x%04x, wanted 0x%x 0x%04x\n", k, a, key, asc);
        _fail(file, line);
    }
}
#define assert_sense(x, key, asc) do { struct res _r = (x); assert_sense_(&_r, key, asc, __FILE__, __LINE__); res_free(&_r); } while (0)

/* ---- CDB builders ---------------------------------------------------------------------------- */

static inline void be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void be32(uint8_t *p, uint32_t v) { be16(p, (uint16_t)(v >> 16)); be16(p + 2, (uint16_t)v); }
static inline void be64(uint8_t *p, uint64_t v) { be32(p, (uint32_t)(v >> 32)); be32(p + 4, (uint32_t)v); }
static inline uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static inline uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) << 32 | rd32(p + 4); }
static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static inline unsigned cdb_rw16(uint8_t *c, uint8_t op, uint64_t lba, uint32_t n, uint8_t flags)
{
    memset(c, 0, 16);
    c[0] = op;
    c[1] = flags;
    be64(c + 2, lba);
    be32(c + 10, n);
    return 16;
}

static inline unsigned cdb_rw10(uint8_t *c, uint8_t op, uint32_t lba, uint16_t n, uint8_t flags)
{
    memset(c, 0, 10);
    c[0] = op;
    c[1] = flags;
    be32(c + 2, lba);
    be16(c + 7, n);
    return 10;
}

static inline struct res write16(struct rig *r, struct scst_session *s, uint64_t lba, uint32_t n, const void *buf)
{
    uint8_t c[16];
    cdb_rw16(c, 0x8a, lba, n, 0);
    return run_cmd(r, s, 0, c, 16, buf, n * r->bs);
}

static inline struct res read16(struct rig *r, struct scst_session *s, uint64_t lba, uint32_t n)
{
    uint8_t c[16];
    cdb_rw16(c, 0x88, lba, n, 0);
    return run_cmd(r, s, 0, c, 16, NULL, 0);
}

/* Eat the power-on unit attentions of a fresh session. */
static inline void clear_ua(struct rig *r, struct scst_session *s)
{
    uint8_t tur[6] = {0};
    for (int i = 0; i < 10; i++) {
        struct res res = run_cmd(r, s, 0, tur, 6, NULL, 0);
        uint8_t k = 0;
        uint16_t a;
        if (res.status == SAM_STAT_CHECK_CONDITION)
            sense_of(&res, &k, &a);
        res_free(&res);
        if (k != 0x6)
            return;
    }
    fail_msg("unit attentions do not clear");
}

#endif
