/* The wire format: header helpers, static PDU checks, LUN encoding, names. */
#include "iscsi/iscsi_proto.h"

void iscsi_hdr_init(uint8_t *h, unsigned opcode, uint8_t flags)
{
    memset(h, 0, ISCSI_BHS_LEN);
    h[0] = (uint8_t)opcode;
    h[1] = flags;
}

const char *iscsi_opcode_name(unsigned opcode)
{
    switch (opcode & ISCSI_OPCODE_MASK) {
    case ISCSI_OP_NOP_OUT: return "NOP-Out";
    case ISCSI_OP_SCSI_CMD: return "SCSI Command";
    case ISCSI_OP_TMF_REQ: return "TMF Request";
    case ISCSI_OP_LOGIN_REQ: return "Login Request";
    case ISCSI_OP_TEXT_REQ: return "Text Request";
    case ISCSI_OP_DATA_OUT: return "Data-Out";
    case ISCSI_OP_LOGOUT_REQ: return "Logout Request";
    case ISCSI_OP_SNACK: return "SNACK";
    case ISCSI_OP_NOP_IN: return "NOP-In";
    case ISCSI_OP_SCSI_RSP: return "SCSI Response";
    case ISCSI_OP_TMF_RSP: return "TMF Response";
    case ISCSI_OP_LOGIN_RSP: return "Login Response";
    case ISCSI_OP_TEXT_RSP: return "Text Response";
    case ISCSI_OP_DATA_IN: return "Data-In";
    case ISCSI_OP_LOGOUT_RSP: return "Logout Response";
    case ISCSI_OP_R2T: return "R2T";
    case ISCSI_OP_ASYNC: return "Async Message";
    case ISCSI_OP_REJECT: return "Reject";
    default: return "unknown";
    }
}

const char *iscsi_login_status_name(unsigned status)
{
    switch (status) {
    case ISCSI_LOGIN_OK: return "success";
    case ISCSI_LOGIN_INITIATOR_ERROR: return "initiator error";
    case ISCSI_LOGIN_AUTH_FAILED: return "authentication failed";
    case ISCSI_LOGIN_FORBIDDEN: return "authorization failure";
    case ISCSI_LOGIN_NOT_FOUND: return "target not found";
    case ISCSI_LOGIN_TARGET_REMOVED: return "target removed";
    case ISCSI_LOGIN_UNSUPPORTED_VERSION: return "unsupported version";
    case ISCSI_LOGIN_TOO_MANY_CONNECTIONS: return "too many connections";
    case ISCSI_LOGIN_MISSING_PARAMETER: return "missing parameter";
    case ISCSI_LOGIN_CANT_INCLUDE: return "cannot include in session";
    case ISCSI_LOGIN_SESSION_TYPE: return "session type not supported";
    case ISCSI_LOGIN_NO_SESSION: return "session does not exist";
    case ISCSI_LOGIN_INVALID_DURING_LOGIN: return "invalid request during login";
    case ISCSI_LOGIN_TARGET_ERROR: return "target error";
    case ISCSI_LOGIN_UNAVAILABLE: return "service unavailable";
    case ISCSI_LOGIN_OUT_OF_RESOURCES: return "out of resources";
    default: return (status >> 8) == 1 ? "redirect" : "unknown status";
    }
}

/* ---- static checks ---------------------------------------------------------------- */

static bool final_set(const uint8_t *h) { return (h[1] & ISCSI_F) != 0; }

static unsigned check_scsi_cmd(const uint8_t *h)
{
    bool w = h[1] & ISCSI_CMD_W;
    if (iscsi_hdr_itt(h) == ISCSI_RSVD_TAG)
        return ISCSI_REJECT_INVALID_FIELD;
    if (!w && iscsi_hdr_dlen(h))
        return ISCSI_REJECT_INVALID_FIELD;       /* data without the W bit */
    if (!w && !final_set(h))
        return ISCSI_REJECT_INVALID_FIELD;       /* unsolicited data promised for a read */
    if (iscsi_hdr_dlen(h) > iscsi_get32(h, ISCSI_OFF_EDTL))
        return ISCSI_REJECT_INVALID_FIELD;       /* more immediate data than expected */
    return 0;
}

static unsigned check_nop_out(const uint8_t *h)
{
    if (!final_set(h))
        return ISCSI_REJECT_INVALID_FIELD;
    if (iscsi_hdr_itt(h) != ISCSI_RSVD_TAG && iscsi_get32(h, ISCSI_OFF_TTT) != ISCSI_RSVD_TAG)
        return ISCSI_REJECT_INVALID_FIELD;       /* a ping carries no target tag */
    return 0;
}

static unsigned check_tmf(const uint8_t *h)
{
    if (!final_set(h) || iscsi_hdr_itt(h) == ISCSI_RSVD_TAG || iscsi_hdr_dlen(h))
        return ISCSI_REJECT_INVALID_FIELD;
    return 0;
}

static unsigned check_text(const uint8_t *h)
{
    if (iscsi_hdr_itt(h) == ISCSI_RSVD_TAG)
        return ISCSI_REJECT_INVALID_FIELD;
    if ((h[1] & ISCSI_F) && (h[1] & ISCSI_TEXT_C))
        return ISCSI_REJECT_INVALID_FIELD;       /* final and continued at once */
    return 0;
}

static unsigned check_logout(const uint8_t *h)
{
    if (!final_set(h) || iscsi_hdr_itt(h) == ISCSI_RSVD_TAG || iscsi_hdr_dlen(h))
        return ISCSI_REJECT_INVALID_FIELD;
    if ((h[1] & ISCSI_LOGOUT_REASON) > ISCSI_LOGOUT_RECOVERY)
        return ISCSI_REJECT_INVALID_FIELD;
    return 0;
}

unsigned iscsi_check_initiator_pdu(const uint8_t *h, uint32_t max_dlen)
{
    unsigned op = iscsi_hdr_opcode(h);
    if (op >= ISCSI_OP_NOP_IN)
        return ISCSI_REJECT_PROTOCOL;            /* a target opcode */
    if (op > ISCSI_OP_LOGOUT_REQ && op != ISCSI_OP_SNACK)
        return ISCSI_REJECT_NOT_SUPPORTED;       /* reserved or vendor specific */
    if (op == ISCSI_OP_SNACK)
        return ISCSI_REJECT_PROTOCOL;            /* ErrorRecoveryLevel 0 has no SNACK */
    if (h[4] && op != ISCSI_OP_SCSI_CMD)
        return ISCSI_REJECT_INVALID_FIELD;       /* AHS only extend SCSI commands */
    if (iscsi_hdr_dlen(h) > max_dlen)
        return ISCSI_REJECT_PROTOCOL;
    switch (op) {
    case ISCSI_OP_NOP_OUT: return check_nop_out(h);
    case ISCSI_OP_SCSI_CMD: return check_scsi_cmd(h);
    case ISCSI_OP_TMF_REQ: return check_tmf(h);
    case ISCSI_OP_TEXT_REQ: return check_text(h);
    case ISCSI_OP_DATA_OUT:
        return iscsi_hdr_itt(h) == ISCSI_RSVD_TAG ? ISCSI_REJECT_INVALID_FIELD : 0;
    case ISCSI_OP_LOGOUT_REQ: return check_logout(h);
    default: return 0;                           /* Login: its state machine checks */
    }
}

unsigned iscsi_check_target_pdu(const uint8_t *h, uint32_t max_dlen)
{
    unsigned op = iscsi_hdr_opcode(h);
    switch (op) {
    case ISCSI_OP_NOP_IN: case ISCSI_OP_SCSI_RSP: case ISCSI_OP_TMF_RSP: case ISCSI_OP_LOGIN_RSP:
    case ISCSI_OP_TEXT_RSP: case ISCSI_OP_DATA_IN: case ISCSI_OP_LOGOUT_RSP: case ISCSI_OP_R2T:
    case ISCSI_OP_ASYNC: case ISCSI_OP_REJECT:
        break;
    default:
        return ISCSI_REJECT_NOT_SUPPORTED;
    }
    if (h[4])
        return ISCSI_REJECT_INVALID_FIELD;
    if (iscsi_hdr_dlen(h) > max_dlen)
        return ISCSI_REJECT_PROTOCOL;
    if (op == ISCSI_OP_R2T && (iscsi_hdr_dlen(h) || !iscsi_get32(h, ISCSI_OFF_DESIRED_LEN)))
        return ISCSI_REJECT_INVALID_FIELD;
    if (op == ISCSI_OP_REJECT && iscsi_hdr_dlen(h) < ISCSI_BHS_LEN)
        return ISCSI_REJECT_INVALID_FIELD;
    return 0;
}

/* ---- LUNs ------------------------------------------------------------------------------ */

uint64_t iscsi_lun_decode(uint64_t sam)
{
    unsigned method = (unsigned)(sam >> 62);
    uint64_t first = (sam >> 48) & 0x3fff;       /* 14 bits after the method */
    if (sam & 0xffffffffffffull)
        return ISCSI_LUN_INVALID;                /* more than one level */
    if (method == 0)                             /* peripheral: bus 0 only */
        return first <= 0xff ? first : ISCSI_LUN_INVALID;
    if (method == 1)                             /* flat space */
        return first;
    return ISCSI_LUN_INVALID;                    /* logical unit / extended */
}

uint64_t iscsi_lun_encode(uint64_t lun)
{
    if (lun <= 0xff)
        return lun << 48;
    if (lun <= 0x3fff)
        return (0x4000ull | lun) << 48;
    return 0xffffffffffffffffull;                /* not addressable: no such LUN */
}
