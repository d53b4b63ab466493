/* libFuzzer: arbitrary scenario text through scn_parse.
 *
 * Invariants: no crash or hang; a refusal says "FILE:LINE: problem" (or
 * names the file); an accepted scenario, written back with scn_write,
 * parses again and writes back to the very same text (what `scstsim
 * shrink` and recorded schedules rely on). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/scenario.h"

#define MAX_TEXT (32u << 10)

static char *written(const struct scenario *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    scn_write(f, s);
    fclose(f);
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_TEXT || memchr(data, '\0', size))
        return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    char err[512];
    memset(err, 0, sizeof(err));
    struct scenario *s = scn_parse(text, "fuzz.scn", err, sizeof(err));
    if (!s && strncmp(err, "fuzz.scn", 8) != 0) {
        fprintf(stderr, "refusal without the file name: '%s'\n", err);
        abort();
    }
    if (s) {
        char *once = written(s);
        struct scenario *again = scn_parse(once, "fuzz.scn", err, sizeof(err));
        if (!again) {
            fprintf(stderr, "written scenario does not parse: %s\n---\n%s---\n", err, once);
            abort();
        }
        char *twice = written(again);
        if (strcmp(once, twice) != 0) {
            fprintf(stderr, "written scenario changes on a round trip\n---\n%s---\n%s---\n", once, twice);
            abort();
        }
        free(twice);
        free(once);
        scn_free(again);
        scn_free(s);
    }
    free(text);
    return 0;
}
