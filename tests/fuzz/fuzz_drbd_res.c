/* libFuzzer: arbitrary .res text through drbd_add_config, each input on a
 * fresh node (virtual clock) whose host is "alice".
 *
 * Invariants: no crash or hang; a refusal names the file ("fuzz.res...")
 * within a terminated error buffer; after drbd_free the node holds no
 * allocation, whether the text was accepted or not. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drbd/drbd.h"
#include "umc/umc.h"

#define MAX_TEXT (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_TEXT)
        return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';

    struct mte_engine *e = mte_engine_new(MTE_CLOCK_VIRTUAL, 1);
    struct umc_node_opts no = {.name = "alice", .seed = 5, .print_level = UMC_LOG_ERROR};
    struct umc_node *n = umc_node_new(e, &no);
    struct drbd *d = drbd_new(n, "alice");
    char err[512];
    memset(err, 0, sizeof(err));
    int rc = drbd_add_config(d, text, "fuzz.res", err, sizeof(err));
    if (!memchr(err, '\0', sizeof(err))) {
        fprintf(stderr, "error message not terminated\n");
        abort();
    }
    if (rc && strncmp(err, "fuzz.res", 8) != 0) {
        fprintf(stderr, "refusal without the file name: rc %d '%s'\n", rc, err);
        abort();
    }
    mte_run_until_idle(e);
    drbd_free(d);
    mte_run_until_idle(e);
    size_t leaks = umc_node_free(n);
    mte_engine_free(e);
    free(text);
    if (leaks) {
        fprintf(stderr, "%zu allocations left after drbd_free (rc %d)\n", leaks, rc);
        abort();
    }
    return 0;
}
