/* iscsi key negotiation: every key's rule from the responder's side and the
 * proposer's side, illegal values, duplicates, NotUnderstood, Irrelevant,
 * stage and direction rules (RFC 7143 6 and 13). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "iscsi/iscsi_proto.h"

/* "a=1\nb=2" -> "a=1\0b=2\0" */
static size_t to_wire(const char *in, char *out)
{
    size_t n = strlen(in);
    for (size_t i = 0; i < n; i++)
        out[i] = in[i] == '\n' ? '\0' : in[i];
    out[n] = '\0';
    return n + 1;
}

static void from_wire(const struct iscsi_text *t, char *out)
{
    size_t n = t->len;
    for (size_t i = 0; i < n; i++)
        out[i] = t->buf[i] == '\0' ? '\n' : t->buf[i];
    if (n && out[n - 1] == '\n')
        n--;
    out[n] = '\0';
}

static int special_calls;
static int special_hook(void *arg, struct iscsi_neg *neg, enum iscsi_key_id key, const char *v,
                        struct iscsi_text *reply)
{
    special_calls++;
    if (key == ISCSI_KEY_AUTH_METHOD)
        iscsi_text_add(reply, "AuthMethod", "None");
    return 0;
}

/* A target with limits like the server's defaults. */
static void target_neg(struct iscsi_neg *n)
{
    iscsi_neg_init(n, true);
    n->local[ISCSI_KEY_HEADER_DIGEST] = ISCSI_DIGEST_CRC32C | ISCSI_DIGEST_NONE;
    n->local[ISCSI_KEY_DATA_DIGEST] = ISCSI_DIGEST_NONE;
    n->local[ISCSI_KEY_INITIAL_R2T] = 0;
    n->local[ISCSI_KEY_MAX_BURST] = 262144;
    n->local[ISCSI_KEY_MAX_OUTSTANDING_R2T] = 4;
    n->local[ISCSI_KEY_PROTOCOL_LEVEL] = 1;
    n->special = special_hook;
}

struct resp_case {
    const char *in;       /* what the initiator sends */
    const char *reply;    /* what the target answers */
    int err;
};

static const struct resp_case responder_cases[] = {
    /* list: the first of the offer's values we accept */
    {"HeaderDigest=CRC32C,None", "HeaderDigest=CRC32C", 0},
    {"HeaderDigest=None,CRC32C", "HeaderDigest=None", 0},
    {"HeaderDigest=MD5,CRC32C", "HeaderDigest=CRC32C", 0},
    {"HeaderDigest=MD5", "HeaderDigest=Reject", 0},
    {"DataDigest=CRC32C", "DataDigest=Reject", 0},
    {"DataDigest=None", "DataDigest=None", 0},
    /* minimum */
    {"MaxConnections=4", "MaxConnections=1", 0},
    {"MaxConnections=0", "MaxConnections=Reject", 0},
    {"MaxConnections=65536", "MaxConnections=Reject", 0},
    {"MaxConnections=two", "MaxConnections=Reject", 0},
    {"MaxBurstLength=1048576", "MaxBurstLength=262144", 0},
    {"MaxBurstLength=4096", "MaxBurstLength=4096", 0},
    {"MaxBurstLength=0x1000", "MaxBurstLength=4096", 0},
    {"MaxBurstLength=511", "MaxBurstLength=Reject", 0},
    {"MaxBurstLength=16777216", "MaxBurstLength=Reject", 0},
    {"FirstBurstLength=262144", "FirstBurstLength=65536", 0},
    {"DefaultTime2Retain=0", "DefaultTime2Retain=0", 0},
    {"DefaultTime2Retain=3601", "DefaultTime2Retain=Reject", 0},
    {"MaxOutstandingR2T=16", "MaxOutstandingR2T=4", 0},
    {"MaxOutstandingR2T=0", "MaxOutstandingR2T=Reject", 0},
    {"ErrorRecoveryLevel=2", "ErrorRecoveryLevel=0", 0},
    {"ErrorRecoveryLevel=3", "ErrorRecoveryLevel=Reject", 0},
    {"iSCSIProtocolLevel=2", "iSCSIProtocolLevel=1", 0},
    /* maximum */
    {"DefaultTime2Wait=0", "DefaultTime2Wait=2", 0},
    {"DefaultTime2Wait=10", "DefaultTime2Wait=10", 0},
    {"DefaultTime2Wait=3601", "DefaultTime2Wait=Reject", 0},
    /* OR (target says No) */
    {"InitialR2T=No", "InitialR2T=No", 0},
    {"InitialR2T=Yes", "InitialR2T=Yes", 0},
    {"InitialR2T=yes", "InitialR2T=Reject", 0},
    {"DataPDUInOrder=No", "DataPDUInOrder=Yes", 0},
    {"DataSequenceInOrder=No", "DataSequenceInOrder=Yes", 0},
    /* AND (target says Yes, markers No) */
    {"ImmediateData=Yes", "ImmediateData=Yes", 0},
    {"ImmediateData=No", "ImmediateData=No", 0},
    {"ImmediateData=1", "ImmediateData=Reject", 0},
    {"OFMarker=Yes", "OFMarker=No", 0},
    {"IFMarker=No", "IFMarker=No", 0},
    {"RDMAExtensions=Yes", "RDMAExtensions=No", 0},
    {"OFMarkInt=2048~8192", "OFMarkInt=Irrelevant", 0},
    {"TaskReporting=RFC3720,FastAbort", "TaskReporting=RFC3720", 0},
    {"TaskReporting=FastAbort", "TaskReporting=Reject", 0},
    /* declarations: no answer */
    {"MaxRecvDataSegmentLength=4096", "", 0},
    {"MaxRecvDataSegmentLength=100", "MaxRecvDataSegmentLength=Reject", 0},
    {"InitiatorName=iqn.2026-11.test:a\nInitiatorAlias=host a", "", 0},
    {"SessionType=Normal", "", 0},
    {"SessionType=Bogus", "SessionType=Reject", ISCSI_NEG_REJECTED},
    /* unknown keys */
    {"X-com.example.Foo=1", "X-com.example.Foo=NotUnderstood", 0},
    {"sENDtARGETS=aLL", "sENDtARGETS=NotUnderstood", 0},
    {"MaxConnections=1\nFoo=bar\nImmediateData=No",
     "MaxConnections=1\nFoo=NotUnderstood\nImmediateData=No", 0},
    /* each key once */
    {"MaxBurstLength=1000\nMaxBurstLength=2000", "MaxBurstLength=1000", ISCSI_NEG_DUPLICATE},
    {"InitiatorName=a\nInitiatorName=a", "", ISCSI_NEG_DUPLICATE},
    /* the wrong side, the wrong stage, garbage */
    {"TargetAlias=x", "", ISCSI_NEG_NOT_ALLOWED},
    {"TargetPortalGroupTag=1", "", ISCSI_NEG_NOT_ALLOWED},
    {"SendTargets=All", "", ISCSI_NEG_NOT_ALLOWED},
    {"CHAP_A=5", "", ISCSI_NEG_NOT_ALLOWED},       /* operational stage */
    {"MaxConnections", "", ISCSI_NEG_MALFORMED},
    {"=1", "", ISCSI_NEG_MALFORMED},
};

static void test_responder_rules(void **state)
{
    for (size_t i = 0; i < sizeof(responder_cases) / sizeof(responder_cases[0]); i++) {
        const struct resp_case *c = &responder_cases[i];
        struct iscsi_neg n;
        char in[512], out_buf[512], got[512];
        struct iscsi_text out = {.buf = out_buf, .cap = sizeof(out_buf)};
        target_neg(&n);
        size_t len = to_wire(c->in, in);
        int err = iscsi_neg_recv(&n, ISCSI_STAGE_OPERATIONAL, in, len, &out);
        from_wire(&out, got);
        if (err != c->err || strcmp(got, c->reply))
            fail_msg("case %zu \"%s\": err %d reply \"%s\", expected err %d reply \"%s\"", i, c->in,
                     err, got, c->err, c->reply);
    }
}

static void test_responder_values(void **state)
{
    struct iscsi_neg n;
    char in[512], out_buf[512];
    struct iscsi_text out = {.buf = out_buf, .cap = sizeof(out_buf)};
    target_neg(&n);
    size_t len = to_wire("HeaderDigest=CRC32C\nMaxBurstLength=65536\nFirstBurstLength=131072\n"
                         "InitialR2T=No\nImmediateData=Yes\nMaxRecvDataSegmentLength=32768\n"
                         "InitiatorName=iqn.x:y\nTargetName=iqn.t:z",
                         in);
    assert_int_equal(iscsi_neg_recv(&n, ISCSI_STAGE_OPERATIONAL, in, len, &out), 0);
    iscsi_neg_finish(&n);
    assert_int_equal(n.value[ISCSI_KEY_HEADER_DIGEST], ISCSI_DIGEST_CRC32C);
    assert_int_equal(n.value[ISCSI_KEY_DATA_DIGEST], ISCSI_DIGEST_NONE);
    assert_int_equal(n.value[ISCSI_KEY_MAX_BURST], 65536);
    assert_int_equal(n.value[ISCSI_KEY_FIRST_BURST], 65536);    /* clamped to MaxBurstLength */
    assert_int_equal(n.value[ISCSI_KEY_INITIAL_R2T], 0);
    assert_int_equal(n.value[ISCSI_KEY_IMMEDIATE_DATA], 1);
    assert_int_equal(n.peer_max_recv_dsl, 32768);
    assert_string_equal(n.initiator_name, "iqn.x:y");
    assert_string_equal(n.target_name, "iqn.t:z");
    assert_false(iscsi_neg_waiting(&n));
    /* declared once, across rounds too */
    out.len = 0;
    n.local[ISCSI_KEY_MAX_RECV_DSL] = 1048576;
    iscsi_neg_declare_mrdsl(&n, &out);
    iscsi_neg_declare_mrdsl(&n, &out);
    char got[128];
    from_wire(&out, got);
    assert_string_equal(got, "MaxRecvDataSegmentLength=1048576");
    /* a key of an earlier round is still a duplicate */
    out.len = 0;
    len = to_wire("MaxBurstLength=4096", in);
    assert_int_equal(iscsi_neg_recv(&n, ISCSI_STAGE_OPERATIONAL, in, len, &out), ISCSI_NEG_DUPLICATE);
    assert_string_equal(n.error_key, "MaxBurstLength");
}

static void test_digest_required_but_refused(void **state)
{
    struct iscsi_neg n;
    char in[64], out_buf[128];
    struct iscsi_text out = {.buf = out_buf, .cap = sizeof(out_buf)};
    target_neg(&n);
    n.local[ISCSI_KEY_HEADER_DIGEST] = ISCSI_DIGEST_CRC32C;
    size_t len = to_wire("HeaderDigest=None", in);
    assert_int_equal(iscsi_neg_recv(&n, ISCSI_STAGE_OPERATIONAL, in, len, &out), ISCSI_NEG_REJECTED);
}

static void test_discovery_makes_keys_irrelevant(void **state)
{
    struct iscsi_neg n;
    char in[512], out_buf[512], got[512];
    struct iscsi_text out = {.buf = out_buf, .cap = sizeof(out_buf)};
    target_neg(&n);
    size_t len = to_wire("SessionType=Discovery\nMaxBurstLength=4096\nInitialR2T=No\n"
                         "MaxConnections=1\nHeaderDigest=None\nErrorRecoveryLevel=0", in);
    assert_int_equal(iscsi_neg_recv(&n, ISCSI_STAGE_SECURITY, in, len, &out), 0);
    from_wire(&out, got);
    assert_string_equal(got, "MaxBurstLength=Irrelevant\nInitialR2T=Irrelevant\n"
                             "MaxConnections=Irrelevant\nHeaderDigest=None\nErrorRecoveryLevel=0");
    assert_true(n.discovery);
}

/* A login joining a live session (non-leading): its session-wide keys stand,
 * the connection's own are negotiated. */
static void test_non_leading_login_keeps_session_keys(void **state)
{
    struct iscsi_neg n;
    char in[512], out_buf[512], got[512];
    struct iscsi_text out = {.buf = out_buf, .cap = sizeof(out_buf)};
    target_neg(&n);
    n.non_leading = true;
    size_t len = to_wire("MaxBurstLength=4096\nInitialR2T=No\nErrorRecoveryLevel=0\n"
                         "DefaultTime2Wait=0\nHeaderDigest=None", in);
    assert_int_equal(iscsi_neg_recv(&n, ISCSI_STAGE_OPERATIONAL, in, len, &out), 0);
    from_wire(&out, got);
    assert_string_equal(got, "MaxBurstLength=Irrelevant\nInitialR2T=Irrelevant\n"
                             "ErrorRecoveryLevel=Irrelevant\nDefaultTime2Wait=Irrelevant\n"
                             "HeaderDigest=None");
}

static void test_security_keys_go_to_the_hook(void **state)
{
    struct iscsi_neg n;
    char in[128], out_buf[128], got[128];
    struct iscsi_text out = {.buf = out_buf, .cap = sizeof(out_buf)};
    target_neg(&n);
    special_calls = 0;
    size_t len = to_wire("AuthMethod=CHAP,None\nCHAP_A=5", in);
    assert_int_equal(iscsi_neg_recv(&n, ISCSI_STAGE_SECURITY, in, len, &out), 0);
    assert_int_equal(special_calls, 2);
    from_wire(&out, got);
    assert_string_equal(got, "AuthMethod=None");
    n.special = NULL;                                  /* nobody to take them */
    iscsi_neg_init(&n, true);
    len = to_wire("CHAP_N=x", in);
    assert_int_equal(iscsi_neg_recv(&n, ISCSI_STAGE_SECURITY, in, len, &out), ISCSI_NEG_SPECIAL);
}

/* ---- the proposer's side: answers must stay inside what was offered ---------------------------- */

struct answer_case {
    enum iscsi_key_id key;
    uint32_t offered;
    const char *answer;
    int err;
    uint32_t value;       /* the result when err is 0 */
};

static const struct answer_case answer_cases[] = {
    {ISCSI_KEY_HEADER_DIGEST, ISCSI_DIGEST_CRC32C, "CRC32C", 0, ISCSI_DIGEST_CRC32C},
    {ISCSI_KEY_HEADER_DIGEST, ISCSI_DIGEST_CRC32C, "None", ISCSI_NEG_BAD_ANSWER, 0},
    {ISCSI_KEY_HEADER_DIGEST, ISCSI_DIGEST_CRC32C, "Reject", 0, ISCSI_DIGEST_NONE},
    {ISCSI_KEY_HEADER_DIGEST, ISCSI_DIGEST_CRC32C | ISCSI_DIGEST_NONE, "None", 0, ISCSI_DIGEST_NONE},
    {ISCSI_KEY_HEADER_DIGEST, ISCSI_DIGEST_CRC32C | ISCSI_DIGEST_NONE, "CRC32C,None", ISCSI_NEG_BAD_ANSWER, 0},
    {ISCSI_KEY_MAX_BURST, 262144, "65536", 0, 65536},
    {ISCSI_KEY_MAX_BURST, 262144, "262144", 0, 262144},
    {ISCSI_KEY_MAX_BURST, 262144, "1048576", ISCSI_NEG_BAD_ANSWER, 0},
    {ISCSI_KEY_MAX_BURST, 262144, "100", ISCSI_NEG_BAD_ANSWER, 0},
    {ISCSI_KEY_MAX_BURST, 262144, "NotUnderstood", 0, 262144},   /* the default stays */
    {ISCSI_KEY_TIME2WAIT, 2, "1", ISCSI_NEG_BAD_ANSWER, 0},
    {ISCSI_KEY_TIME2WAIT, 2, "20", 0, 20},
    {ISCSI_KEY_INITIAL_R2T, 1, "No", ISCSI_NEG_BAD_ANSWER, 0},
    {ISCSI_KEY_INITIAL_R2T, 0, "Yes", 0, 1},
    {ISCSI_KEY_INITIAL_R2T, 0, "No", 0, 0},
    {ISCSI_KEY_IMMEDIATE_DATA, 0, "Yes", ISCSI_NEG_BAD_ANSWER, 0},
    {ISCSI_KEY_IMMEDIATE_DATA, 1, "No", 0, 0},
    {ISCSI_KEY_IMMEDIATE_DATA, 1, "Maybe", ISCSI_NEG_BAD_ANSWER, 0},
    {ISCSI_KEY_ERL, 0, "1", ISCSI_NEG_BAD_ANSWER, 0},
    {ISCSI_KEY_MAX_OUTSTANDING_R2T, 8, "1", 0, 1},
    {ISCSI_KEY_FIRST_BURST, 65536, "Irrelevant", 0, 65536},
};

static void test_proposer_checks_answers(void **state)
{
    for (size_t i = 0; i < sizeof(answer_cases) / sizeof(answer_cases[0]); i++) {
        const struct answer_case *c = &answer_cases[i];
        struct iscsi_neg n;
        char offer_buf[128], in[128], out_buf[128];
        struct iscsi_text offer = {.buf = offer_buf, .cap = sizeof(offer_buf)};
        struct iscsi_text out = {.buf = out_buf, .cap = sizeof(out_buf)};
        iscsi_neg_init(&n, false);
        n.local[c->key] = c->offered;
        iscsi_neg_offer(&n, c->key, &offer);
        assert_true(iscsi_neg_waiting(&n));
        snprintf(in, sizeof(in), "%s=%s", iscsi_key_name(c->key), c->answer);
        int err = iscsi_neg_recv(&n, ISCSI_STAGE_OPERATIONAL, in, strlen(in) + 1, &out);
        if (err != c->err || (!err && n.value[c->key] != c->value))
            fail_msg("case %zu %s: err %d value %u", i, in, err, n.value[c->key]);
        assert_false(iscsi_neg_waiting(&n));
        assert_int_equal(out.len, 0);                  /* an answer is not answered */
    }
}

static void test_offer_text(void **state)
{
    struct iscsi_neg n;
    char buf[256], got[256];
    struct iscsi_text t = {.buf = buf, .cap = sizeof(buf)};
    iscsi_neg_init(&n, false);
    n.local[ISCSI_KEY_HEADER_DIGEST] = ISCSI_DIGEST_CRC32C | ISCSI_DIGEST_NONE;
    n.local[ISCSI_KEY_INITIAL_R2T] = 0;
    n.local[ISCSI_KEY_MAX_BURST] = 65536;
    iscsi_neg_offer(&n, ISCSI_KEY_HEADER_DIGEST, &t);
    iscsi_neg_offer(&n, ISCSI_KEY_INITIAL_R2T, &t);
    iscsi_neg_offer(&n, ISCSI_KEY_MAX_BURST, &t);
    iscsi_neg_offer(&n, ISCSI_KEY_MAX_BURST, &t);      /* once */
    from_wire(&t, got);
    assert_string_equal(got, "HeaderDigest=CRC32C,None\nInitialR2T=No\nMaxBurstLength=65536");
}

static void test_initiator_takes_target_declarations(void **state)
{
    struct iscsi_neg n;
    char in[256], out_buf[128], got[128];
    struct iscsi_text out = {.buf = out_buf, .cap = sizeof(out_buf)};
    iscsi_neg_init(&n, false);
    size_t len = to_wire("TargetPortalGroupTag=7\nTargetAlias=disk\nMaxRecvDataSegmentLength=65536\n"
                         "MaxConnections=1", in);
    assert_int_equal(iscsi_neg_recv(&n, ISCSI_STAGE_OPERATIONAL, in, len, &out), 0);
    assert_int_equal(n.tpgt, 7);
    assert_string_equal(n.target_alias, "disk");
    assert_int_equal(n.peer_max_recv_dsl, 65536);
    from_wire(&out, got);
    assert_string_equal(got, "MaxConnections=1");       /* the target's offer answered */
    len = to_wire("TargetName=iqn.x", in);
    out.len = 0;
    assert_int_equal(iscsi_neg_recv(&n, ISCSI_STAGE_OPERATIONAL, in, len, &out), ISCSI_NEG_NOT_ALLOWED);
}

static void test_key_table(void **state)
{
    for (int k = 0; k < ISCSI_KEY_COUNT; k++)
        assert_int_equal(iscsi_key_lookup(iscsi_key_name((enum iscsi_key_id)k)), k);
    assert_int_equal(iscsi_key_lookup("maxburstlength"), ISCSI_KEY_UNKNOWN);   /* case matters */
    assert_int_equal(iscsi_key_lookup(""), ISCSI_KEY_UNKNOWN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_responder_rules),
        cmocka_unit_test(test_responder_values),
        cmocka_unit_test(test_digest_required_but_refused),
        cmocka_unit_test(test_discovery_makes_keys_irrelevant),
        cmocka_unit_test(test_non_leading_login_keeps_session_keys),
        cmocka_unit_test(test_security_keys_go_to_the_hook),
        cmocka_unit_test(test_proposer_checks_answers),
        cmocka_unit_test(test_offer_text),
        cmocka_unit_test(test_initiator_takes_target_declarations),
        cmocka_unit_test(test_key_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
