/* iscsi_proto: what the target and the initiator share.  The wire format
 * (RFC 7143 basic header segment accessors, checks, LUN encoding, serial
 * number arithmetic), CRC32C, MD5 and CHAP, key=value text and the key
 * negotiation engine, and the PDU reader that cuts PDUs out of a byte stream.
 *
 * Nothing here allocates except through caller-supplied hooks, so the
 * parsers link standalone (unit tests, fuzzers).
 */
#ifndef ISCSI_PROTO_H
#define ISCSI_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "umc/umc.h"

/* ---- the basic header segment ------------------------------------------------------- */

#define ISCSI_BHS_LEN 48u
#define ISCSI_DIGEST_LEN 4u
#define ISCSI_AHS_MAX (255u * 4u)
#define ISCSI_HDR_MAX (ISCSI_BHS_LEN + ISCSI_AHS_MAX + ISCSI_DIGEST_LEN)
#define ISCSI_DSL_MAX 0xffffffu            /* DataSegmentLength is 24 bits */
#define ISCSI_RSVD_TAG 0xffffffffu
#define ISCSI_LOGIN_DSL 8192u              /* MaxRecvDataSegmentLength before negotiation */
#define ISCSI_NAME_MAX 224u                /* iSCSI names are at most 223 bytes */

enum iscsi_opcode {
    ISCSI_OP_NOP_OUT = 0x00,
    ISCSI_OP_SCSI_CMD = 0x01,
    ISCSI_OP_TMF_REQ = 0x02,
    ISCSI_OP_LOGIN_REQ = 0x03,
    ISCSI_OP_TEXT_REQ = 0x04,
    ISCSI_OP_DATA_OUT = 0x05,
    ISCSI_OP_LOGOUT_REQ = 0x06,
    ISCSI_OP_SNACK = 0x10,
    ISCSI_OP_NOP_IN = 0x20,
    ISCSI_OP_SCSI_RSP = 0x21,
    ISCSI_OP_TMF_RSP = 0x22,
    ISCSI_OP_LOGIN_RSP = 0x23,
    ISCSI_OP_TEXT_RSP = 0x24,
    ISCSI_OP_DATA_IN = 0x25,
    ISCSI_OP_LOGOUT_RSP = 0x26,
    ISCSI_OP_R2T = 0x31,
    ISCSI_OP_ASYNC = 0x32,
    ISCSI_OP_REJECT = 0x3f,
};

#define ISCSI_OP_IMMEDIATE 0x40u
#define ISCSI_OPCODE_MASK 0x3fu

/* byte 1 flags */
#define ISCSI_F 0x80u          /* final */
#define ISCSI_CMD_R 0x40u
#define ISCSI_CMD_W 0x20u
#define ISCSI_CMD_ATTR 0x07u
#define ISCSI_DIN_A 0x40u
#define ISCSI_FLAG_O 0x04u     /* residual overflow (Data-In, SCSI Response) */
#define ISCSI_FLAG_U 0x02u     /* residual underflow */
#define ISCSI_DIN_S 0x01u      /* status in this Data-In */
#define ISCSI_TEXT_C 0x40u     /* continue (Text and Login) */
#define ISCSI_LOGIN_T 0x80u
#define ISCSI_LOGIN_CSG(f) (((f) >> 2) & 3u)
#define ISCSI_LOGIN_NSG(f) ((f) & 3u)
#define ISCSI_TMF_FUNC 0x7fu
#define ISCSI_LOGOUT_REASON 0x7fu

enum iscsi_stage { ISCSI_STAGE_SECURITY = 0, ISCSI_STAGE_OPERATIONAL = 1, ISCSI_STAGE_FFP = 3 };

/* Field offsets inside the 48-byte header, named by meaning. */
enum {
    ISCSI_OFF_LUN = 8,          /* or ISID (6) + TSIH (2) in Login */
    ISCSI_OFF_ITT = 16,
    ISCSI_OFF_EDTL = 20,        /* SCSI Command */
    ISCSI_OFF_TTT = 20,         /* Data, R2T, NOP, Text */
    ISCSI_OFF_REF_ITT = 20,     /* TMF request */
    ISCSI_OFF_CID = 20,         /* Login, Logout (16 bits) */
    ISCSI_OFF_CMDSN = 24,       /* initiator PDUs */
    ISCSI_OFF_STATSN = 24,      /* target PDUs */
    ISCSI_OFF_EXPSTATSN = 28,
    ISCSI_OFF_EXPCMDSN = 28,
    ISCSI_OFF_MAXCMDSN = 32,
    ISCSI_OFF_REF_CMDSN = 32,   /* TMF request */
    ISCSI_OFF_CDB = 32,         /* SCSI Command, 16 bytes */
    ISCSI_OFF_DATASN = 36,      /* also R2TSN, ExpDataSN */
    ISCSI_OFF_LOGIN_STATUS = 36,
    ISCSI_OFF_OFFSET = 40,      /* buffer offset */
    ISCSI_OFF_TIME2WAIT = 40,   /* Logout response (16 bits) */
    ISCSI_OFF_TIME2RETAIN = 42,
    ISCSI_OFF_BIDI_RESID = 40,
    ISCSI_OFF_RESIDUAL = 44,
    ISCSI_OFF_DESIRED_LEN = 44, /* R2T */
};

static inline uint32_t iscsi_get32(const uint8_t *h, unsigned off)
{
    return (uint32_t)h[off] << 24 | (uint32_t)h[off + 1] << 16 | (uint32_t)h[off + 2] << 8 | h[off + 3];
}
static inline void iscsi_put32(uint8_t *h, unsigned off, uint32_t v)
{
    h[off] = (uint8_t)(v >> 24);
    h[off + 1] = (uint8_t)(v >> 16);
    h[off + 2] = (uint8_t)(v >> 8);
    h[off + 3] = (uint8_t)v;
}
static inline uint16_t iscsi_get16(const uint8_t *h, unsigned off)
{
    return (uint16_t)(h[off] << 8 | h[off + 1]);
}
static inline void iscsi_put16(uint8_t *h, unsigned off, uint16_t v)
{
    h[off] = (uint8_t)(v >> 8);
    h[off + 1] = (uint8_t)v;
}
static inline uint64_t iscsi_get64(const uint8_t *h, unsigned off)
{
    return (uint64_t)iscsi_get32(h, off) << 32 | iscsi_get32(h, off + 4);
}
static inline void iscsi_put64(uint8_t *h, unsigned off, uint64_t v)
{
    iscsi_put32(h, off, (uint32_t)(v >> 32));
    iscsi_put32(h, off + 4, (uint32_t)v);
}

static inline unsigned iscsi_hdr_opcode(const uint8_t *h) { return h[0] & ISCSI_OPCODE_MASK; }
static inline bool iscsi_hdr_immediate(const uint8_t *h) { return (h[0] & ISCSI_OP_IMMEDIATE) != 0; }
static inline unsigned iscsi_hdr_ahs_len(const uint8_t *h) { return h[4] * 4u; }
static inline uint32_t iscsi_hdr_dlen(const uint8_t *h)
{
    return (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
}
static inline void iscsi_hdr_set_dlen(uint8_t *h, uint32_t len)
{
    h[5] = (uint8_t)(len >> 16);
    h[6] = (uint8_t)(len >> 8);
    h[7] = (uint8_t)len;
}
static inline uint32_t iscsi_hdr_itt(const uint8_t *h) { return iscsi_get32(h, ISCSI_OFF_ITT); }
static inline uint32_t iscsi_pad4(uint32_t len) { return (4u - (len & 3u)) & 3u; }

/* A zeroed header with opcode (plus ISCSI_OP_IMMEDIATE) and byte 1 set. */
void iscsi_hdr_init(uint8_t *h, unsigned opcode, uint8_t flags);
const char *iscsi_opcode_name(unsigned opcode);

/* Login: ISID (48 bits) and TSIH share bytes 8..15. */
static inline uint64_t iscsi_hdr_isid(const uint8_t *h) { return iscsi_get64(h, 8) >> 16; }
static inline uint16_t iscsi_hdr_tsih(const uint8_t *h) { return iscsi_get16(h, 14); }
static inline void iscsi_hdr_set_isid_tsih(uint8_t *h, uint64_t isid, uint16_t tsih)
{
    iscsi_put64(h, 8, (isid & 0xffffffffffffull) << 16 | tsih);
}

/* Reject reasons (RFC 7143 11.17.1). */
enum iscsi_reject_reason {
    ISCSI_REJECT_DATA_DIGEST = 0x02,
    ISCSI_REJECT_SNACK = 0x03,
    ISCSI_REJECT_PROTOCOL = 0x04,
    ISCSI_REJECT_NOT_SUPPORTED = 0x05,
    ISCSI_REJECT_IMMEDIATE = 0x06,
    ISCSI_REJECT_TASK_IN_PROGRESS = 0x07,
    ISCSI_REJECT_INVALID_DATA_ACK = 0x08,
    ISCSI_REJECT_INVALID_FIELD = 0x09,
    ISCSI_REJECT_LONG_OP = 0x0a,
    ISCSI_REJECT_WAITING_LOGOUT = 0x0c,
};

/* Login status (class << 8 | detail). */
enum iscsi_login_status {
    ISCSI_LOGIN_OK = 0x0000,
    ISCSI_LOGIN_INITIATOR_ERROR = 0x0200,
    ISCSI_LOGIN_AUTH_FAILED = 0x0201,
    ISCSI_LOGIN_FORBIDDEN = 0x0202,
    ISCSI_LOGIN_NOT_FOUND = 0x0203,
    ISCSI_LOGIN_TARGET_REMOVED = 0x0204,
    ISCSI_LOGIN_UNSUPPORTED_VERSION = 0x0205,
    ISCSI_LOGIN_TOO_MANY_CONNECTIONS = 0x0206,
    ISCSI_LOGIN_MISSING_PARAMETER = 0x0207,
    ISCSI_LOGIN_CANT_INCLUDE = 0x0208,
    ISCSI_LOGIN_SESSION_TYPE = 0x0209,
    ISCSI_LOGIN_NO_SESSION = 0x020a,
    ISCSI_LOGIN_INVALID_DURING_LOGIN = 0x020b,
    ISCSI_LOGIN_TARGET_ERROR = 0x0300,
    ISCSI_LOGIN_UNAVAILABLE = 0x0301,
    ISCSI_LOGIN_OUT_OF_RESOURCES = 0x0302,
};
const char *iscsi_login_status_name(unsigned status);

enum iscsi_logout_reason { ISCSI_LOGOUT_SESSION = 0, ISCSI_LOGOUT_CONNECTION = 1, ISCSI_LOGOUT_RECOVERY = 2 };

/* Static checks of a PDU an initiator sent, before any state is looked at:
 * returns 0 or the Reject reason.  max_dlen is the receiver's
 * MaxRecvDataSegmentLength. */
unsigned iscsi_check_initiator_pdu(const uint8_t *bhs, uint32_t max_dlen);
/* The same for a PDU a target sent (the initiator drops the connection). */
unsigned iscsi_check_target_pdu(const uint8_t *bhs, uint32_t max_dlen);

/* ---- LUNs and serial numbers ----------------------------------------------------------- */

#define ISCSI_LUN_INVALID UINT64_MAX
/* SAM 8-byte LUN (peripheral or flat space addressing, one level) to the LUN
 * number; anything else is ISCSI_LUN_INVALID. */
uint64_t iscsi_lun_decode(uint64_t sam);
uint64_t iscsi_lun_encode(uint64_t lun);

/* RFC 1982 serial number arithmetic on 32 bits. */
static inline bool iscsi_sn_lt(uint32_t a, uint32_t b)
{
    return a != b && (uint32_t)(b - a) < 0x80000000u;
}
static inline bool iscsi_sn_le(uint32_t a, uint32_t b) { return a == b || iscsi_sn_lt(a, b); }

/* ---- CRC32C digests on the wire ----------------------------------------------------------------------- */

/* CRC32C digests are umc_crc32c* (umc/umc.h). */
/* Digests go on the wire least significant byte first. */
static inline void iscsi_put_digest(uint8_t *p, uint32_t crc)
{
    p[0] = (uint8_t)crc;
    p[1] = (uint8_t)(crc >> 8);
    p[2] = (uint8_t)(crc >> 16);
    p[3] = (uint8_t)(crc >> 24);
}
static inline uint32_t iscsi_get_digest(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}


/* ---- CHAP (RFC 1994 with MD5, as RFC 7143 uses it) ---------------------------------------- */

#define ISCSI_CHAP_MD5 5
#define ISCSI_CHAP_BIN_MAX 1024u   /* longest challenge or response we accept */
#define ISCSI_CHAP_CHALLENGE_LEN 16u

/* response = MD5(id || secret || challenge) */
void iscsi_chap_response(uint8_t id, const char *secret, const uint8_t *challenge, size_t clen,
                         uint8_t out[16]);
/* Decode a binary value "0x<hex>" or "0b<base64>"; -1 if malformed or longer
 * than cap, else the length. */
int iscsi_chap_decode(const char *text, uint8_t *out, size_t cap);
/* Encode as "0x<hex>" into out (2 * len + 3 bytes). */
void iscsi_chap_encode_hex(const uint8_t *bin, size_t len, char *out);

/* ---- key=value text ------------------------------------------------------------------------- */

#define ISCSI_KEY_NAME_MAX 63u
#define ISCSI_KEY_VALUE_MAX 8192u

/* An output buffer for key=value pairs.  With grow set it grows; without it a
 * full buffer sets overflow and drops what does not fit. */
struct iscsi_text {
    char *buf;
    size_t len, cap;
    bool overflow;
    void *(*grow)(void *ctx, void *old, size_t size);
    void *grow_ctx;
};
void iscsi_text_add(struct iscsi_text *t, const char *key, const char *value);
void iscsi_text_add_num(struct iscsi_text *t, const char *key, uint32_t value);

/* Iterate the pairs of a data segment: NUL-terminated "key=value" strings; empty
 * strings (padding) are skipped.  Returns 1 with key and value pointing into a
 * copy in scratch, 0 at the end, -1 on a malformed pair (no '=', bad key name,
 * oversize or unterminated). */
struct iscsi_text_iter {
    const char *data;
    size_t len, pos;
    char key[ISCSI_KEY_NAME_MAX + 1];
    char value[ISCSI_KEY_VALUE_MAX + 1];
};
void iscsi_text_iter_init(struct iscsi_text_iter *it, const char *data, size_t len);
int iscsi_text_next(struct iscsi_text_iter *it, const char **key, const char **value);

/* Is item one of the values of a comma-separated list? */
bool iscsi_list_has(const char *list, const char *item);
/* A Text request of the full feature phase: only "SendTargets=<value>", once.
 * Copies the value (All, a target name, or empty) into what; false if the
 * request is anything else. */
bool iscsi_parse_send_targets(const char *data, size_t len, char *what, size_t cap);
/* Numbers: decimal or 0x hex; false if malformed or above max. */
bool iscsi_parse_number(const char *s, uint64_t max, uint64_t *out);

/* ---- key negotiation (RFC 7143 section 6 and 13) ---------------------------------------------- */

enum iscsi_key_id {
    ISCSI_KEY_HEADER_DIGEST,
    ISCSI_KEY_DATA_DIGEST,
    ISCSI_KEY_MAX_CONNECTIONS,
    ISCSI_KEY_INITIAL_R2T,
    ISCSI_KEY_IMMEDIATE_DATA,
    ISCSI_KEY_MAX_RECV_DSL,
    ISCSI_KEY_MAX_BURST,
    ISCSI_KEY_FIRST_BURST,
    ISCSI_KEY_TIME2WAIT,
    ISCSI_KEY_TIME2RETAIN,
    ISCSI_KEY_MAX_OUTSTANDING_R2T,
    ISCSI_KEY_DATA_PDU_IN_ORDER,
    ISCSI_KEY_DATA_SEQ_IN_ORDER,
    ISCSI_KEY_ERL,
    ISCSI_KEY_OFMARKER,
    ISCSI_KEY_IFMARKER,
    ISCSI_KEY_OFMARKINT,
    ISCSI_KEY_IFMARKINT,
    ISCSI_KEY_PROTOCOL_LEVEL,
    ISCSI_KEY_TASK_REPORTING,
    ISCSI_KEY_RDMA_EXTENSIONS,
    ISCSI_KEY_SESSION_TYPE,
    ISCSI_KEY_INITIATOR_NAME,
    ISCSI_KEY_TARGET_NAME,
    ISCSI_KEY_INITIATOR_ALIAS,
    ISCSI_KEY_TARGET_ALIAS,
    ISCSI_KEY_TARGET_ADDRESS,
    ISCSI_KEY_TPGT,
    ISCSI_KEY_AUTH_METHOD,
    ISCSI_KEY_CHAP_A,
    ISCSI_KEY_CHAP_I,
    ISCSI_KEY_CHAP_C,
    ISCSI_KEY_CHAP_N,
    ISCSI_KEY_CHAP_R,
    ISCSI_KEY_SEND_TARGETS,
    ISCSI_KEY_COUNT,
    ISCSI_KEY_UNKNOWN = -1,
};

/* Digest choices are a bit mask; an offer lists CRC32C before None when both. */
#define ISCSI_DIGEST_NONE 1u
#define ISCSI_DIGEST_CRC32C 2u

/* Negotiation outcome / failure codes (negative). */
enum iscsi_neg_error {
    ISCSI_NEG_OK = 0,
    ISCSI_NEG_MALFORMED = -1,     /* text not key=value */
    ISCSI_NEG_DUPLICATE = -2,     /* a key sent twice */
    ISCSI_NEG_BAD_ANSWER = -3,    /* an answer outside what was offered */
    ISCSI_NEG_NOT_ALLOWED = -4,   /* a key in the wrong stage or from the wrong side */
    ISCSI_NEG_REJECTED = -5,      /* a required key was refused */
    ISCSI_NEG_SPECIAL = -6,       /* the special-key hook failed */
};

struct iscsi_neg;
/* Keys negotiation leaves to its user (AuthMethod, CHAP_*, SendTargets):
 * return 0, or an iscsi_neg_error to stop. */
typedef int (*iscsi_neg_special_fn)(void *arg, struct iscsi_neg *neg, enum iscsi_key_id key,
                                    const char *value, struct iscsi_text *reply);

enum iscsi_neg_state { ISCSI_NEG_IDLE, ISCSI_NEG_OFFERED, ISCSI_NEG_DONE };

struct iscsi_neg {
    bool is_target;
    bool discovery;                     /* SessionType=Discovery seen */
    bool session_type_seen;
    bool non_leading;                   /* joins a live session: its session-wide keys stand */
    uint8_t state[ISCSI_KEY_COUNT];
    bool peer_sent[ISCSI_KEY_COUNT];    /* the peer used the key (offer, answer or declaration) */
    bool declared[ISCSI_KEY_COUNT];     /* we declared it */
    uint32_t local[ISCSI_KEY_COUNT];    /* our limit or preference (digest: mask) */
    uint32_t value[ISCSI_KEY_COUNT];    /* the result (digest: ISCSI_DIGEST_*) */
    uint32_t peer_max_recv_dsl;         /* what the peer declared it receives */
    char initiator_name[ISCSI_NAME_MAX], target_name[ISCSI_NAME_MAX];
    char initiator_alias[ISCSI_NAME_MAX], target_alias[ISCSI_NAME_MAX];
    char target_address[256];
    uint32_t tpgt;
    bool tpgt_seen;
    iscsi_neg_special_fn special;
    void *special_arg;
    const char *error_key;              /* the key that failed, for messages */
};

/* Defaults everywhere; local limits equal to the RFC defaults until set. */
void iscsi_neg_init(struct iscsi_neg *neg, bool is_target);
enum iscsi_key_id iscsi_key_lookup(const char *name);
const char *iscsi_key_name(enum iscsi_key_id key);
/* Process the peer's pairs for the given stage (security or operational, or
 * ISCSI_STAGE_FFP for Text), answering into reply. */
int iscsi_neg_recv(struct iscsi_neg *neg, enum iscsi_stage stage, const char *data, size_t len,
                   struct iscsi_text *reply);
/* Offer our value of key (from local[]) and wait for the answer. */
void iscsi_neg_offer(struct iscsi_neg *neg, enum iscsi_key_id key, struct iscsi_text *reply);
/* Declare our MaxRecvDataSegmentLength (local) once. */
void iscsi_neg_declare_mrdsl(struct iscsi_neg *neg, struct iscsi_text *reply);
bool iscsi_neg_waiting(const struct iscsi_neg *neg);   /* offers without an answer */
/* After the operational stage: derived rules (FirstBurstLength <= MaxBurstLength). */
void iscsi_neg_finish(struct iscsi_neg *neg);

/* ---- the PDU reader ------------------------------------------------------------------------------ */

/* Cuts PDUs out of a byte stream.  Headers are copied into hdr; a data segment
 * goes where the owner's on_header says: into the reader's own buffer
 * (inline, the default), straight into the owner's memory (direct, for SCSI
 * data), or nowhere (discard).  Digests are checked as bytes land. */
#define ISCSI_RX_BUF 65536u
#define ISCSI_RX_INLINE_MAX 32768u

enum iscsi_rx_dest { ISCSI_RX_INLINE, ISCSI_RX_DIRECT, ISCSI_RX_DISCARD };

struct iscsi_rx;
struct iscsi_rx_ops {
    /* A complete header is in rx->hdr (digest checked).  Return 0, or < 0 to
     * stop reading (the connection is being dropped). */
    int (*on_header)(void *owner, struct iscsi_rx *rx);
    /* The data segment is complete (data: inline bytes, or NULL for direct and
     * discard).  data_ok is false on a data digest mismatch. */
    int (*on_pdu)(void *owner, struct iscsi_rx *rx, const uint8_t *data, bool data_ok);
    /* Read up to len bytes: > 0, 0 when nothing is there, < 0 on error. */
    long (*read)(void *owner, void *buf, size_t len);
    /* Memory for inline segments too large for the buffer. */
    void *(*alloc)(void *owner, size_t size);
    void (*free)(void *owner, void *p);
};

struct iscsi_rx {
    const struct iscsi_rx_ops *ops;
    void *owner;
    uint8_t *buf;                  /* ISCSI_RX_BUF bytes, the owner's */
    size_t start, end;             /* buffered bytes */
    bool header_digest, data_digest;
    bool in_data;                  /* reading the data segment of hdr */
    uint8_t hdr[ISCSI_HDR_MAX];
    uint32_t hdr_len;              /* BHS + AHS (without digest) */
    uint32_t dlen;                 /* data segment length of the current PDU */
    uint32_t got;                  /* data bytes that landed */
    uint32_t tail_got;             /* pad + digest bytes that landed */
    uint8_t tail[8];
    uint32_t crc;
    enum iscsi_rx_dest dest;
    uint8_t *direct;               /* direct: the first direct_len bytes go here */
    uint32_t direct_len;
    uint8_t *big;                  /* inline segments above ISCSI_RX_INLINE_MAX */
    bool stop;                     /* the owner asked to stop after this PDU */
    uint64_t pdus, bytes;
};

void iscsi_rx_init(struct iscsi_rx *rx, const struct iscsi_rx_ops *ops, void *owner, uint8_t *buf);
void iscsi_rx_release(struct iscsi_rx *rx);     /* frees a big buffer if any */
/* In on_header: send the data segment to p (first len bytes; the rest is
 * discarded), or discard all of it. */
void iscsi_rx_set_direct(struct iscsi_rx *rx, uint8_t *p, uint32_t len);
void iscsi_rx_set_discard(struct iscsi_rx *rx);
/* Read and dispatch until no more bytes, an error (< 0 returned) or stop.
 * Returns 0, or the first negative value of a callback or read. */
int iscsi_rx_pump(struct iscsi_rx *rx);
/* Process only what is already buffered (after a pause). */
bool iscsi_rx_has_buffered(const struct iscsi_rx *rx);

#endif
