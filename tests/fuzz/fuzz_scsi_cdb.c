/* libFuzzer: arbitrary CDBs (and WRITE payloads) through the SCSI core.
 *
 * One node on a virtual-clock engine with two small ram LUs (thin, and
 * read-only removable) behind one target and one session.  Each input is
 *   byte 0      CDB length selector (6, 10, 12, 16 or 32) and LUN (bit 3)
 *   byte 1      expected direction (bits 0-1) and task attribute (bits 2-3)
 *   bytes 2-3   expected transfer length / 256 (capped at 1 MiB)
 *   then        the CDB, then the data the "initiator" sends for a WRITE
 * parsed, executed to completion (the engine runs until idle) and released.
 * Every command must complete exactly once, with a valid status and sense
 * that fits; the session's commands in flight must drain to zero; and parse
 * may not size a buffer far past what the initiator said it expects (more
 * than 4 MiB for an expected transfer of at most 1 MiB): an allocation
 * length alone must not make the target allocate gigabytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scst/scst.h"
#include "tcmu_ram/tcmu_ram.h"
#include "umc/umc.h"

#define LU_SIZE (4u << 20)
#define MAX_XFER (1u << 20)

struct fuzz_world {
    struct mte_engine *e;
    struct umc_node *n;
    struct tcmu_host *tcmu;
    struct scst_core *core;
    struct scst_session *sess;
};

static struct fuzz_world *world;

static void must(int rc, const char *what)
{
    if (rc) {
        fprintf(stderr, "fuzz_scsi_cdb: set-up failed at %s: %d\n", what, rc);
        abort();
    }
}

static void add_lu(struct fuzz_world *w, const char *name, bool ro, bool removable, bool thin)
{
    int err = 0;
    struct tcmu_dev_config c = {.cfgstring = "ram/", .size = LU_SIZE, .block_size = 512};
    struct tcmu_device *dev = tcmu_dev_add(w->tcmu, &c, &err);
    must(dev ? 0 : err ? err : -1, "tcmu_dev_add");
    char why[256] = "";
    struct scst_device_opts o = {.name = name, .bdev = tcmu_dev_name(dev), .read_only = ro,
                                 .removable = removable, .thin = thin};
    must(scst_device_add(w->core, &o, why, sizeof(why)), why);
}

static struct fuzz_world *world_new(void)
{
    struct fuzz_world *w = calloc(1, sizeof(*w));
    w->e = mte_engine_new(MTE_CLOCK_VIRTUAL, 1);
    struct umc_node_opts no = {.name = "fuzz", .seed = 2, .print_level = UMC_LOG_ERROR};
    w->n = umc_node_new(w->e, &no);
    w->tcmu = tcmu_host_new(w->n);
    w->core = scst_core_new(w->n);
    scst_core_set_state_dir(w->core, "/tmp/fuzz_scsi_cdb.state");
    add_lu(w, "thin", false, false, true);
    add_lu(w, "rorm", true, true, false);
    must(scst_target_add(w->core, "iqn.2026-11.local.fuzz:t"), "target");
    must(scst_lun_add(w->core, "iqn.2026-11.local.fuzz:t", NULL, 0, "thin", false), "lun 0");
    must(scst_lun_add(w->core, "iqn.2026-11.local.fuzz:t", NULL, 1, "rorm", false), "lun 1");
    must(scst_target_enable(w->core, "iqn.2026-11.local.fuzz:t", true), "enable");
    int err = 0;
    w->sess = scst_session_new(w->core, "iqn.2026-11.local.fuzz:t", "iqn.2026-11.local.fuzz:i",
                               "iqn.2026-11.local.fuzz:i,i,0x400000000001", 1, &err);
    must(w->sess ? 0 : err ? err : -1, "session");
    return w;
}

struct outcome {
    unsigned done_calls;
};

static void cmd_done(struct scsi_cmd *cmd)
{
    struct outcome *o = cmd->transport_priv;
    o->done_calls++;
}

static const unsigned cdb_lengths[] = {6, 10, 12, 16, 32};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!world)
        world = world_new();
    if (size < 4)
        return 0;
    unsigned cdb_len = cdb_lengths[(data[0] & 7) % 5];
    if (size < 4 + cdb_len)
        return 0;
    struct outcome out = {0};
    struct scsi_cmd cmd;
    memset(&cmd, 0, sizeof(cmd));
    cmd.sess = world->sess;
    cmd.lun = (data[0] >> 3) & 1;
    cmd.tag = 7;
    cmd.attr = (enum scsi_task_attr)((data[1] >> 2) & 3);
    cmd.expected_dir = (enum scsi_dir)(data[1] & 3);
    cmd.expected_len = ((uint32_t)data[2] << 8 | data[3]) * 256u;
    if (cmd.expected_len > MAX_XFER)
        cmd.expected_len = MAX_XFER;
    memcpy(cmd.cdb, data + 4, cdb_len);
    cmd.cdb_len = cdb_len;
    cmd.done = cmd_done;
    cmd.transport_priv = &out;
    const uint8_t *payload = data + 4 + cdb_len;
    size_t payload_len = size - 4 - cdb_len;

    if (scst_cmd_parse(&cmd) == 0) {
        if (cmd.data_len > MAX_XFER * 4u && cmd.expected_len <= MAX_XFER) {
            fprintf(stderr, "parse wants %u bytes for an expected %u\n", cmd.data_len,
                    cmd.expected_len);
            abort();
        }
        if (cmd.dir == SCSI_DIR_WRITE || cmd.dir == SCSI_DIR_BIDI) {
            size_t n = payload_len < cmd.data_len ? payload_len : cmd.data_len;
            if (n && cmd.buf)
                memcpy(cmd.buf, payload, n);
            cmd.received = (uint32_t)n;
        }
        scst_cmd_exec(&cmd);
        mte_run_until_idle(world->e);
        if (out.done_calls != 1) {
            fprintf(stderr, "done ran %u times\n", out.done_calls);
            abort();
        }
        if (cmd.sense_len > SCSI_SENSE_MAX || cmd.resp_len > cmd.data_len) {
            fprintf(stderr, "sense %u / resp %u of %u\n", cmd.sense_len, cmd.resp_len,
                    cmd.data_len);
            abort();
        }
        if (cmd.status == SAM_STAT_CHECK_CONDITION && cmd.sense_len < 8) {
            fprintf(stderr, "CHECK CONDITION without sense\n");
            abort();
        }
    } else if (cmd.status == SAM_STAT_GOOD) {
        fprintf(stderr, "parse failed but the status is GOOD\n");
        abort();
    }
    scst_cmd_release(&cmd);
    mte_run_until_idle(world->e);
    struct scst_lun_stats st;
    struct scst_device *dev = scst_device_find(world->core, cmd.lun ? "rorm" : "thin");
    scst_device_stats(dev, &st);
    if (st.in_flight) {
        fprintf(stderr, "%llu commands still in flight\n", (unsigned long long)st.in_flight);
        abort();
    }
    return 0;
}
