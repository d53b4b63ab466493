/* Login key negotiation, shared by target and initiator (RFC 7143 6 and 13).
 *
 * Each key has a type that says how an offer is answered and how an answer
 * is checked: list (digests), minimum, maximum, AND, OR, a declaration, or a
 * special key the login layer handles (AuthMethod, CHAP_*).  Every key may be
 * sent once per login by each side; unknown keys get NotUnderstood, values
 * that do not parse get Reject, keys that do not apply get Irrelevant.
 */
#include <stdio.h>

#include "iscsi/iscsi_proto.h"

enum key_type {
    KT_DIGEST, KT_MIN, KT_MAX, KT_AND, KT_OR,
    KT_DECL_NUM,    /* MaxRecvDataSegmentLength: each side declares its own */
    KT_NAME,        /* declared strings: names and aliases */
    KT_SESSION_TYPE,
    KT_TPGT,
    KT_ADDRESS,
    KT_IRRELEVANT,  /* marker intervals: markers are never on */
    KT_TASK_REPORTING,
    KT_SPECIAL,     /* AuthMethod, CHAP_*, SendTargets */
};

enum {
    KF_SECURITY = 1u << 0,     /* only in the security stage */
    KF_FFP = 1u << 1,          /* only in full feature phase (Text) */
    KF_DISC_IRRELEVANT = 1u << 2,
    KF_FROM_INITIATOR = 1u << 3,
    KF_FROM_TARGET = 1u << 4,
    KF_LEADING_ONLY = 1u << 5, /* session-wide: only the session's first login sets it */
};
#define KF_SESSION (KF_DISC_IRRELEVANT | KF_LEADING_ONLY)

struct key_def {
    const char *name;
    uint8_t type, flags;
    uint32_t min, max, def;
};

#define MAX_DSL 16777215u

static const struct key_def keys[ISCSI_KEY_COUNT] = {
    [ISCSI_KEY_HEADER_DIGEST] = {"HeaderDigest", KT_DIGEST, 0, 0, 0, ISCSI_DIGEST_NONE},
    [ISCSI_KEY_DATA_DIGEST] = {"DataDigest", KT_DIGEST, 0, 0, 0, ISCSI_DIGEST_NONE},
    [ISCSI_KEY_MAX_CONNECTIONS] = {"MaxConnections", KT_MIN, KF_SESSION, 1, 65535, 1},
    [ISCSI_KEY_INITIAL_R2T] = {"InitialR2T", KT_OR, KF_SESSION, 0, 1, 1},
    [ISCSI_KEY_IMMEDIATE_DATA] = {"ImmediateData", KT_AND, KF_SESSION, 0, 1, 1},
    [ISCSI_KEY_MAX_RECV_DSL] = {"MaxRecvDataSegmentLength", KT_DECL_NUM, 0, 512, MAX_DSL, 8192},
    [ISCSI_KEY_MAX_BURST] = {"MaxBurstLength", KT_MIN, KF_SESSION, 512, MAX_DSL, 262144},
    [ISCSI_KEY_FIRST_BURST] = {"FirstBurstLength", KT_MIN, KF_SESSION, 512, MAX_DSL, 65536},
    [ISCSI_KEY_TIME2WAIT] = {"DefaultTime2Wait", KT_MAX, KF_LEADING_ONLY, 0, 3600, 2},
    [ISCSI_KEY_TIME2RETAIN] = {"DefaultTime2Retain", KT_MIN, KF_LEADING_ONLY, 0, 3600, 20},
    [ISCSI_KEY_MAX_OUTSTANDING_R2T] = {"MaxOutstandingR2T", KT_MIN, KF_SESSION, 1, 65535, 1},
    [ISCSI_KEY_DATA_PDU_IN_ORDER] = {"DataPDUInOrder", KT_OR, KF_SESSION, 0, 1, 1},
    [ISCSI_KEY_DATA_SEQ_IN_ORDER] = {"DataSequenceInOrder", KT_OR, KF_SESSION, 0, 1, 1},
    [ISCSI_KEY_ERL] = {"ErrorRecoveryLevel", KT_MIN, KF_LEADING_ONLY, 0, 2, 0},
    [ISCSI_KEY_OFMARKER] = {"OFMarker", KT_AND, 0, 0, 1, 0},
    [ISCSI_KEY_IFMARKER] = {"IFMarker", KT_AND, 0, 0, 1, 0},
    [ISCSI_KEY_OFMARKINT] = {"OFMarkInt", KT_IRRELEVANT, 0, 0, 0, 0},
    [ISCSI_KEY_IFMARKINT] = {"IFMarkInt", KT_IRRELEVANT, 0, 0, 0, 0},
    [ISCSI_KEY_PROTOCOL_LEVEL] = {"iSCSIProtocolLevel", KT_MIN, KF_LEADING_ONLY, 0, 31, 0},
    [ISCSI_KEY_TASK_REPORTING] = {"TaskReporting", KT_TASK_REPORTING, KF_LEADING_ONLY, 0, 0, 0},
    [ISCSI_KEY_RDMA_EXTENSIONS] = {"RDMAExtensions", KT_AND, 0, 0, 1, 0},
    [ISCSI_KEY_SESSION_TYPE] = {"SessionType", KT_SESSION_TYPE, KF_FROM_INITIATOR, 0, 0, 0},
    [ISCSI_KEY_INITIATOR_NAME] = {"InitiatorName", KT_NAME, KF_FROM_INITIATOR, 0, 0, 0},
    [ISCSI_KEY_TARGET_NAME] = {"TargetName", KT_NAME, KF_FROM_INITIATOR, 0, 0, 0},
    [ISCSI_KEY_INITIATOR_ALIAS] = {"InitiatorAlias", KT_NAME, KF_FROM_INITIATOR, 0, 0, 0},
    [ISCSI_KEY_TARGET_ALIAS] = {"TargetAlias", KT_NAME, KF_FROM_TARGET, 0, 0, 0},
    [ISCSI_KEY_TARGET_ADDRESS] = {"TargetAddress", KT_ADDRESS, KF_FROM_TARGET, 0, 0, 0},
    [ISCSI_KEY_TPGT] = {"TargetPortalGroupTag", KT_TPGT, KF_FROM_TARGET, 0, 65535, 0},
    [ISCSI_KEY_AUTH_METHOD] = {"AuthMethod", KT_SPECIAL, KF_SECURITY, 0, 0, 0},
    [ISCSI_KEY_CHAP_A] = {"CHAP_A", KT_SPECIAL, KF_SECURITY, 0, 0, 0},
    [ISCSI_KEY_CHAP_I] = {"CHAP_I", KT_SPECIAL, KF_SECURITY, 0, 0, 0},
    [ISCSI_KEY_CHAP_C] = {"CHAP_C", KT_SPECIAL, KF_SECURITY, 0, 0, 0},
    [ISCSI_KEY_CHAP_N] = {"CHAP_N", KT_SPECIAL, KF_SECURITY, 0, 0, 0},
    [ISCSI_KEY_CHAP_R] = {"CHAP_R", KT_SPECIAL, KF_SECURITY, 0, 0, 0},
    [ISCSI_KEY_SEND_TARGETS] = {"SendTargets", KT_SPECIAL, KF_FFP, 0, 0, 0},
};

enum iscsi_key_id iscsi_key_lookup(const char *name)
{
    for (int k = 0; k < ISCSI_KEY_COUNT; k++)
        if (strcmp(keys[k].name, name) == 0)
            return (enum iscsi_key_id)k;
    return ISCSI_KEY_UNKNOWN;
}

const char *iscsi_key_name(enum iscsi_key_id key)
{
    return key >= 0 && key < ISCSI_KEY_COUNT ? keys[key].name : "?";
}

void iscsi_neg_init(struct iscsi_neg *neg, bool is_target)
{
    memset(neg, 0, sizeof(*neg));
    neg->is_target = is_target;
    for (int k = 0; k < ISCSI_KEY_COUNT; k++) {
        neg->local[k] = keys[k].def;
        neg->value[k] = keys[k].def;
    }
    neg->peer_max_recv_dsl = keys[ISCSI_KEY_MAX_RECV_DSL].def;
}

/* ---- values ---------------------------------------------------------------------------- */

static int parse_bool(const char *v)
{
    if (strcmp(v, "Yes") == 0)
        return 1;
    if (strcmp(v, "No") == 0)
        return 0;
    return -1;
}

static const char *bool_text(uint32_t v) { return v ? "Yes" : "No"; }

static unsigned digest_token(const char *tok, size_t len)
{
    if (len == 4 && memcmp(tok, "None", 4) == 0)
        return ISCSI_DIGEST_NONE;
    if (len == 6 && memcmp(tok, "CRC32C", 6) == 0)
        return ISCSI_DIGEST_CRC32C;
    return 0;
}

/* The first value of a comma list that mask accepts, or 0. */
static unsigned digest_pick(const char *list, unsigned mask)
{
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        unsigned d = digest_token(p, len);
        if (d & mask)
            return d;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

static void digest_offer_text(unsigned mask, char *out, size_t size)
{
    if (mask == (ISCSI_DIGEST_CRC32C | ISCSI_DIGEST_NONE))
        snprintf(out, size, "CRC32C,None");
    else
        snprintf(out, size, "%s", mask == ISCSI_DIGEST_CRC32C ? "CRC32C" : "None");
}

static bool parse_ranged(const struct key_def *d, const char *v, uint32_t *out)
{
    uint64_t n;
    if (!iscsi_parse_number(v, d->max, &n) || n < d->min)
        return false;
    *out = (uint32_t)n;
    return true;
}

/* ---- answering an offer ----------------------------------------------------------------- */

static void reply_value(struct iscsi_text *reply, enum iscsi_key_id k, uint32_t v)
{
    const struct key_def *d = &keys[k];
    if (d->type == KT_AND || d->type == KT_OR)
        iscsi_text_add(reply, d->name, bool_text(v));
    else
        iscsi_text_add_num(reply, d->name, v);
}

static int answer_digest(struct iscsi_neg *neg, enum iscsi_key_id k, const char *v,
                         struct iscsi_text *reply)
{
    unsigned pick = digest_pick(v, neg->local[k]);
    if (!pick) {
        iscsi_text_add(reply, keys[k].name, "Reject");
        neg->state[k] = ISCSI_NEG_DONE;
        if (!(neg->local[k] & ISCSI_DIGEST_NONE)) {
            neg->error_key = keys[k].name;
            return ISCSI_NEG_REJECTED;       /* we insist on a digest the peer lacks */
        }
        return 0;
    }
    neg->value[k] = pick;
    iscsi_text_add(reply, keys[k].name, pick == ISCSI_DIGEST_CRC32C ? "CRC32C" : "None");
    return 0;
}

static uint32_t combine(const struct key_def *d, uint32_t offered, uint32_t local)
{
    switch (d->type) {
    case KT_MIN: return offered < local ? offered : local;
    case KT_MAX: return offered > local ? offered : local;
    case KT_AND: return offered && local;
    default: return offered || local;   /* KT_OR */
    }
}

static int answer_offer(struct iscsi_neg *neg, enum iscsi_key_id k, const char *v,
                        struct iscsi_text *reply)
{
    const struct key_def *d = &keys[k];
    uint32_t offered;
    neg->state[k] = ISCSI_NEG_DONE;
    if (d->type == KT_DIGEST)
        return answer_digest(neg, k, v, reply);
    if (d->type == KT_IRRELEVANT) {
        iscsi_text_add(reply, d->name, "Irrelevant");
        return 0;
    }
    if (d->type == KT_TASK_REPORTING) {
        iscsi_text_add(reply, d->name, iscsi_list_has(v, "RFC3720") ? "RFC3720" : "Reject");
        return 0;
    }
    if (d->type == KT_AND || d->type == KT_OR) {
        int b = parse_bool(v);
        if (b < 0) {
            iscsi_text_add(reply, d->name, "Reject");
            return 0;
        }
        offered = (uint32_t)b;
    } else if (!parse_ranged(d, v, &offered)) {
        iscsi_text_add(reply, d->name, "Reject");
        return 0;
    }
    neg->value[k] = combine(d, offered, neg->local[k]);
    reply_value(reply, k, neg->value[k]);
    return 0;
}

/* ---- checking an answer to our offer -------------------------------------------------------- */

static int bad_answer(struct iscsi_neg *neg, enum iscsi_key_id k)
{
    neg->error_key = keys[k].name;
    return ISCSI_NEG_BAD_ANSWER;
}

static int take_answer(struct iscsi_neg *neg, enum iscsi_key_id k, const char *v)
{
    const struct key_def *d = &keys[k];
    uint32_t offered = neg->local[k], got;
    neg->state[k] = ISCSI_NEG_DONE;
    if (!strcmp(v, "Reject") || !strcmp(v, "Irrelevant") || !strcmp(v, "NotUnderstood"))
        return 0;                                       /* the default stays */
    switch (d->type) {
    case KT_DIGEST:
        got = digest_token(v, strlen(v));
        if (!(got & offered))
            return bad_answer(neg, k);
        break;
    case KT_AND: case KT_OR: {
        int b = parse_bool(v);
        if (b < 0 || (d->type == KT_AND && !offered && b) || (d->type == KT_OR && offered && !b))
            return bad_answer(neg, k);
        got = (uint32_t)b;
        break;
    }
    case KT_MIN: case KT_MAX:
        if (!parse_ranged(d, v, &got) || (d->type == KT_MIN ? got > offered : got < offered))
            return bad_answer(neg, k);
        break;
    case KT_TASK_REPORTING:
        return 0;
    default:
        return bad_answer(neg, k);
    }
    neg->value[k] = got;
    return 0;
}

/* ---- declarations ------------------------------------------------------------------------------ */

static int store_name(struct iscsi_neg *neg, enum iscsi_key_id k, const char *v)
{
    char *dst = k == ISCSI_KEY_INITIATOR_NAME ? neg->initiator_name
              : k == ISCSI_KEY_TARGET_NAME    ? neg->target_name
              : k == ISCSI_KEY_INITIATOR_ALIAS ? neg->initiator_alias
                                               : neg->target_alias;
    size_t len = strlen(v);
    if (len >= ISCSI_NAME_MAX || (len == 0 && k != ISCSI_KEY_INITIATOR_ALIAS &&
                                  k != ISCSI_KEY_TARGET_ALIAS)) {
        neg->error_key = keys[k].name;
        return ISCSI_NEG_MALFORMED;
    }
    memcpy(dst, v, len + 1);
    return 0;
}

static int take_declaration(struct iscsi_neg *neg, enum iscsi_key_id k, const char *v,
                            struct iscsi_text *reply)
{
    const struct key_def *d = &keys[k];
    uint32_t n;
    switch (d->type) {
    case KT_DECL_NUM:
        if (!parse_ranged(d, v, &n)) {
            iscsi_text_add(reply, d->name, "Reject");
            return 0;
        }
        neg->peer_max_recv_dsl = n;
        return 0;
    case KT_NAME:
        return store_name(neg, k, v);
    case KT_SESSION_TYPE:
        neg->session_type_seen = true;
        if (strcmp(v, "Discovery") && strcmp(v, "Normal")) {
            iscsi_text_add(reply, d->name, "Reject");
            neg->error_key = d->name;
            return ISCSI_NEG_REJECTED;
        }
        neg->discovery = strcmp(v, "Discovery") == 0;
        return 0;
    case KT_TPGT:
        if (!parse_ranged(d, v, &n))
            return bad_answer(neg, k);
        neg->tpgt = n;
        neg->tpgt_seen = true;
        return 0;
    default: /* KT_ADDRESS */
        snprintf(neg->target_address, sizeof(neg->target_address), "%s", v);
        return 0;
    }
}

static bool is_declaration(const struct key_def *d)
{
    return d->type == KT_DECL_NUM || d->type == KT_NAME || d->type == KT_SESSION_TYPE ||
           d->type == KT_TPGT || d->type == KT_ADDRESS;
}

/* ---- one pair ---------------------------------------------------------------------------------- */

static bool allowed_here(const struct iscsi_neg *neg, const struct key_def *d, enum iscsi_stage stage)
{
    if ((d->flags & KF_SECURITY) && stage != ISCSI_STAGE_SECURITY)
        return false;
    if ((d->flags & KF_FFP) && stage != ISCSI_STAGE_FFP)
        return false;
    if (!(d->flags & KF_FFP) && stage == ISCSI_STAGE_FFP)
        return false;
    if ((d->flags & KF_FROM_INITIATOR) && !neg->is_target)
        return false;
    if ((d->flags & KF_FROM_TARGET) && neg->is_target)
        return false;
    return true;
}

static int handle_pair(struct iscsi_neg *neg, enum iscsi_stage stage, const char *key,
                       const char *v, struct iscsi_text *reply)
{
    enum iscsi_key_id k = iscsi_key_lookup(key);
    if (k == ISCSI_KEY_UNKNOWN) {
        if (!strcmp(v, "NotUnderstood") || !strcmp(v, "Irrelevant") || !strcmp(v, "Reject"))
            return 0;                         /* the peer's verdict on something of ours */
        iscsi_text_add(reply, key, "NotUnderstood");
        return 0;
    }
    const struct key_def *d = &keys[k];
    if (neg->peer_sent[k]) {
        neg->error_key = d->name;
        return ISCSI_NEG_DUPLICATE;
    }
    neg->peer_sent[k] = true;
    if (!allowed_here(neg, d, stage)) {
        neg->error_key = d->name;
        return ISCSI_NEG_NOT_ALLOWED;
    }
    if (d->type == KT_SPECIAL)
        return neg->special ? neg->special(neg->special_arg, neg, k, v, reply) : ISCSI_NEG_SPECIAL;
    if (neg->state[k] == ISCSI_NEG_OFFERED)
        return take_answer(neg, k, v);
    if (is_declaration(d))
        return take_declaration(neg, k, v, reply);
    if ((neg->discovery && (d->flags & KF_DISC_IRRELEVANT)) ||
        (neg->non_leading && (d->flags & KF_LEADING_ONLY))) {
        neg->state[k] = ISCSI_NEG_DONE;
        iscsi_text_add(reply, d->name, "Irrelevant");
        return 0;
    }
    return answer_offer(neg, k, v, reply);
}

int iscsi_neg_recv(struct iscsi_neg *neg, enum iscsi_stage stage, const char *data, size_t len,
                   struct iscsi_text *reply)
{
    struct iscsi_text_iter *it, iter;
    const char *key, *value;
    int r;
    it = &iter;
    iscsi_text_iter_init(it, data, len);
    while ((r = iscsi_text_next(it, &key, &value)) > 0) {
        int err = handle_pair(neg, stage, key, value, reply);
        if (err)
            return err;
    }
    return r < 0 ? ISCSI_NEG_MALFORMED : 0;
}

void iscsi_neg_offer(struct iscsi_neg *neg, enum iscsi_key_id k, struct iscsi_text *reply)
{
    const struct key_def *d = &keys[k];
    if (neg->state[k] != ISCSI_NEG_IDLE || neg->peer_sent[k])
        return;
    if (d->type == KT_DIGEST) {
        char list[32];
        digest_offer_text(neg->local[k], list, sizeof(list));
        iscsi_text_add(reply, d->name, list);
    } else {
        reply_value(reply, k, neg->local[k]);
    }
    neg->state[k] = ISCSI_NEG_OFFERED;
}

void iscsi_neg_declare_mrdsl(struct iscsi_neg *neg, struct iscsi_text *reply)
{
    if (neg->declared[ISCSI_KEY_MAX_RECV_DSL])
        return;
    neg->declared[ISCSI_KEY_MAX_RECV_DSL] = true;
    iscsi_text_add_num(reply, keys[ISCSI_KEY_MAX_RECV_DSL].name, neg->local[ISCSI_KEY_MAX_RECV_DSL]);
}

bool iscsi_neg_waiting(const struct iscsi_neg *neg)
{
    for (int k = 0; k < ISCSI_KEY_COUNT; k++)
        if (neg->state[k] == ISCSI_NEG_OFFERED)
            return true;
    return false;
}

void iscsi_neg_finish(struct iscsi_neg *neg)
{
    if (neg->value[ISCSI_KEY_FIRST_BURST] > neg->value[ISCSI_KEY_MAX_BURST])
        neg->value[ISCSI_KEY_FIRST_BURST] = neg->value[ISCSI_KEY_MAX_BURST];
}
