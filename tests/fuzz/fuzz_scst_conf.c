/* libFuzzer: arbitrary scst.conf text through scst_config_apply, each input
 * on a fresh node (virtual clock) with two small ram backstores, tcmu000 and
 * tcmu001, and hooks standing in for the iSCSI transport (they accept a few
 * keys and refuse the rest with a message).
 *
 * Invariants: no crash or hang; a refusal names the file and a line
 * ("fuzz.conf:LINE: ...") within the error buffer; and after the core is
 * freed the node holds no allocation (umc_node_free returns 0), whether the
 * text was accepted or not. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scst/scst.h"
#include "tcmu_ram/tcmu_ram.h"
#include "umc/umc.h"

#define MAX_TEXT (64u << 10)

static int accept_key(const char *key, const char *value, char *err, size_t errlen)
{
    static const char *const known[] = {"QueuedCommands", "MaxRecvDataSegmentLength",
                                        "MaxBurstLength", "InitialR2T", "ImmediateData",
                                        "HeaderDigest", "IncomingUser", "enabled", NULL};
    for (unsigned i = 0; known[i]; i++)
        if (strcasecmp(key, known[i]) == 0)
            return value[0] ? 0 : (snprintf(err, errlen, "%s wants a value", key), -EINVAL);
    snprintf(err, errlen, "unknown attribute %s", key);
    return -EINVAL;
}

static int target_attr(void *arg, const char *driver, const char *target, const char *key,
                       const char *value, char *err, size_t errlen)
{
    if (strcmp(driver, "iscsi") != 0) {
        snprintf(err, errlen, "no driver %s", driver);
        return -EINVAL;
    }
    return accept_key(key, value, err, errlen);
}

static int driver_attr(void *arg, const char *driver, const char *key, const char *value,
                       char *err, size_t errlen)
{
    return target_attr(arg, driver, NULL, key, value, err, errlen);
}

static void add_backstore(struct tcmu_host *h)
{
    int err = 0;
    struct tcmu_dev_config c = {.cfgstring = "ram/", .size = 1u << 20, .block_size = 512};
    if (!tcmu_dev_add(h, &c, &err)) {
        fprintf(stderr, "fuzz_scst_conf: tcmu_dev_add: %d\n", err);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_TEXT)
        return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';

    struct mte_engine *e = mte_engine_new(MTE_CLOCK_VIRTUAL, 1);
    struct umc_node_opts no = {.name = "fuzz", .seed = 3, .print_level = UMC_LOG_ERROR};
    struct umc_node *n = umc_node_new(e, &no);
    struct tcmu_host *h = tcmu_host_new(n);
    add_backstore(h);
    add_backstore(h);
    struct scst_core *core = scst_core_new(n);
    scst_core_set_state_dir(core, "/tmp/fuzz_scst_conf.state");
    struct scst_conf_hooks hooks = {.target_attr = target_attr, .driver_attr = driver_attr};
    char err[512];
    memset(err, 0, sizeof(err));
    int rc = scst_config_apply(core, text, "fuzz.conf", &hooks, err, sizeof(err));
    if (rc && strncmp(err, "fuzz.conf:", 10) != 0) {
        fprintf(stderr, "refusal without FILE:LINE: rc %d '%s'\n", rc, err);
        abort();
    }
    if (!memchr(err, '\0', sizeof(err))) {
        fprintf(stderr, "error message not terminated\n");
        abort();
    }
    mte_run_until_idle(e);
    scst_core_free(core);
    tcmu_host_free(h);
    mte_run_until_idle(e);
    size_t leaks = umc_node_free(n);
    mte_engine_free(e);
    free(text);
    if (leaks) {
        fprintf(stderr, "%zu allocations left after scst_core_free (rc %d)\n", leaks, rc);
        abort();
    }
    return 0;
}
