/* libFuzzer: the login key parser and negotiation (both sides, every stage),
 * CHAP value decoding, numbers, and the SendTargets text parser.  The first
 * byte picks the side, the stage and whether we offered every key first. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iscsi/iscsi_proto.h"

static void *grow(void *ctx, void *old, size_t size) { return realloc(old, size); }

static int hook(void *arg, struct iscsi_neg *neg, enum iscsi_key_id key, const char *value,
                struct iscsi_text *reply)
{
    uint8_t bin[ISCSI_CHAP_BIN_MAX], rsp[16];
    uint64_t n;
    switch (key) {
    case ISCSI_KEY_CHAP_C: case ISCSI_KEY_CHAP_R: {
        int len = iscsi_chap_decode(value, bin, sizeof(bin));
        if (len < 0)
            return ISCSI_NEG_SPECIAL;
        iscsi_chap_response(1, "secret", bin, (size_t)len, rsp);
        char hex[2 * 16 + 3];
        iscsi_chap_encode_hex(rsp, 16, hex);
        iscsi_text_add(reply, "CHAP_R", hex);
        return 0;
    }
    case ISCSI_KEY_CHAP_I:
        return iscsi_parse_number(value, 255, &n) ? 0 : ISCSI_NEG_SPECIAL;
    case ISCSI_KEY_AUTH_METHOD:
        iscsi_text_add(reply, "AuthMethod", iscsi_list_has(value, "None") ? "None" : "Reject");
        return 0;
    default:
        return 0;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size || size > 100000)
        return 0;
    uint8_t mode = data[0];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;

    struct iscsi_neg neg;
    struct iscsi_text reply = {.grow = grow};
    iscsi_neg_init(&neg, mode & 1);
    neg.special = hook;
    neg.local[ISCSI_KEY_HEADER_DIGEST] = (mode >> 1) & 3 ? (mode >> 1) & 3 : ISCSI_DIGEST_NONE;
    if (mode & 8)                                  /* we offered everything first */
        for (int k = 0; k < ISCSI_KEY_COUNT; k++)
            iscsi_neg_offer(&neg, (enum iscsi_key_id)k, &reply);
    iscsi_neg_declare_mrdsl(&neg, &reply);
    enum iscsi_stage stage = (mode & 16) ? ISCSI_STAGE_SECURITY : ISCSI_STAGE_OPERATIONAL;
    if (iscsi_neg_recv(&neg, stage, text, len, &reply) == 0)
        (void)iscsi_neg_recv(&neg, ISCSI_STAGE_OPERATIONAL, text, len, &reply); /* duplicates */
    iscsi_neg_finish(&neg);
    (void)iscsi_neg_waiting(&neg);
    free(reply.buf);

    char what[ISCSI_NAME_MAX];
    (void)iscsi_parse_send_targets(text, len, what, sizeof(what));

    struct iscsi_text_iter it;
    const char *k, *v;
    uint64_t n;
    uint8_t bin[64];
    iscsi_text_iter_init(&it, text, len);
    while (iscsi_text_next(&it, &k, &v) > 0) {
        (void)iscsi_parse_number(v, UINT64_MAX, &n);
        (void)iscsi_chap_decode(v, bin, sizeof(bin));
        (void)iscsi_list_has(v, k);
    }
    return 0;
}
