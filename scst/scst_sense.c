/* Sense data: fixed format by default, descriptor format when the control
 * mode page's D_SENSE is set; INFORMATION and sense-key-specific fields
 * (field pointer, progress indication) in either. */
#include <errno.h>

#include "scst/scst_internal.h"

#define FIXED_SENSE_LEN 18

static unsigned build_fixed(uint8_t *out, uint8_t key, uint16_t asc, const uint64_t *info,
                            const uint8_t *sks)
{
    memset(out, 0, FIXED_SENSE_LEN);
    out[0] = 0x70;
    out[2] = key & 0x0f;
    if (info) {
        out[0] |= 0x80; /* VALID: INFORMATION holds a value */
        put_be32(out + 3, (uint32_t)*info);
    }
    out[7] = FIXED_SENSE_LEN - 8;
    out[12] = (uint8_t)(asc >> 8);
    out[13] = (uint8_t)asc;
    if (sks)
        memcpy(out + 15, sks, 3);
    return FIXED_SENSE_LEN;
}

static unsigned build_descriptor(uint8_t *out, uint8_t key, uint16_t asc, const uint64_t *info,
                                 const uint8_t *sks)
{
    unsigned len = 8;
    memset(out, 0, 8);
    out[0] = 0x72;
    out[1] = key & 0x0f;
    out[2] = (uint8_t)(asc >> 8);
    out[3] = (uint8_t)asc;
    if (info) {
        uint8_t *d = out + len;
        memset(d, 0, 12);
        d[0] = 0x00;       /* information descriptor */
        d[1] = 0x0a;
        d[2] = 0x80;       /* VALID */
        put_be64(d + 4, *info);
        len += 12;
    }
    if (sks) {
        uint8_t *d = out + len;
        memset(d, 0, 8);
        d[0] = 0x02;       /* sense key specific descriptor */
        d[1] = 0x06;
        memcpy(d + 4, sks, 3);
        len += 8;
    }
    out[7] = (uint8_t)(len - 8);
    return len;
}

unsigned scst_build_sense(uint8_t *out, bool descriptor, uint8_t key, uint16_t asc,
                          const uint64_t *info, const uint8_t *sks)
{
    return descriptor ? build_descriptor(out, key, asc, info, sks)
                      : build_fixed(out, key, asc, info, sks);
}

bool scst_dev_descriptor_sense(const struct scst_device *dev)
{
    return dev && dev->mode.d_sense;
}

static void fail_with(struct scst_cmd_private *p, uint8_t key, uint16_t asc, const uint64_t *info,
                      const uint8_t *sks)
{
    struct scsi_cmd *cmd = p->cmd;
    cmd->status = SAM_STAT_CHECK_CONDITION;
    cmd->sense_len = scst_build_sense(cmd->sense, scst_dev_descriptor_sense(p->dev), key, asc, info,
                                      sks);
    cmd->resp_len = 0;
}

void scst_fail(struct scst_cmd_private *p, uint8_t key, uint16_t asc)
{
    fail_with(p, key, asc, NULL, NULL);
}

void scst_fail_field(struct scst_cmd_private *p, uint8_t key, uint16_t asc, struct scst_field f)
{
    uint8_t sks[3];
    sks[0] = 0x80 | (f.in_cdb ? 0x40 : 0);
    if (f.bit >= 0)
        sks[0] |= 0x08 | (uint8_t)(f.bit & 7);
    put_be16(sks + 1, f.byte);
    fail_with(p, key, asc, NULL, sks);
}

void scst_fail_info(struct scst_cmd_private *p, uint8_t key, uint16_t asc, uint64_t info)
{
    fail_with(p, key, asc, &info, NULL);
}

void scst_fail_progress(struct scst_cmd_private *p, uint8_t key, uint16_t asc, uint16_t progress)
{
    uint8_t sks[3] = {0x80, 0, 0};
    put_be16(sks + 1, progress);
    fail_with(p, key, asc, NULL, sks);
}

void scst_fail_status(struct scst_cmd_private *p, uint8_t status)
{
    p->cmd->status = status;
    p->cmd->sense_len = 0;
    p->cmd->resp_len = 0;
}

int scst_invalid_cdb(struct scst_cmd_private *p, uint16_t byte, int bit)
{
    scst_fail_field(p, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB,
                    (struct scst_field){.in_cdb = true, .byte = byte, .bit = (int8_t)bit});
    return -1;
}

int scst_invalid_param(struct scst_cmd_private *p, uint16_t byte, int bit)
{
    scst_fail_field(p, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAMETER_LIST,
                    (struct scst_field){.in_cdb = false, .byte = byte, .bit = (int8_t)bit});
    return -1;
}

void scst_fail_errno(struct scst_cmd_private *p, int err, bool writing)
{
    switch (err) {
    case -EIO:
        scst_fail(p, SK_MEDIUM_ERROR, writing ? ASC_WRITE_ERROR : ASC_UNRECOVERED_READ_ERROR);
        break;
    case -EROFS:
    case -EPERM:
    case -EACCES:
        scst_fail(p, SK_DATA_PROTECT, ASC_WRITE_PROTECTED);
        break;
    case -ENOSPC:
        scst_fail(p, SK_DATA_PROTECT, ASC_SPACE_ALLOCATION_FAILED);
        break;
    case -EINVAL:
    case -ERANGE:
        scst_fail(p, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
        break;
    case -EOPNOTSUPP:
        scst_fail(p, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
        break;
    case -ENOMEDIUM:
        scst_fail(p, SK_NOT_READY, ASC_MEDIUM_NOT_PRESENT);
        break;
    case -ENODEV:
    case -ENXIO:
        scst_fail(p, SK_NOT_READY, ASC_NOT_READY);
        break;
    case -EBUSY:
    case -EAGAIN:
        scst_fail_status(p, SAM_STAT_BUSY);
        break;
    case -ETIMEDOUT:
        scst_fail(p, SK_ABORTED_COMMAND, ASC_NO_ADDITIONAL_SENSE);
        break;
    default:
        scst_fail(p, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
        break;
    }
}

/* The public helper: always fixed format (the transport has no device). */
void scst_set_sense(struct scsi_cmd *cmd, uint8_t key, uint8_t asc, uint8_t ascq)
{
    cmd->status = SAM_STAT_CHECK_CONDITION;
    cmd->sense_len = scst_build_sense(cmd->sense, false, key, (uint16_t)(asc << 8 | ascq), NULL, NULL);
    cmd->resp_len = 0;
}
