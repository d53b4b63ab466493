/* REPORT SUPPORTED OPERATION CODES, straight from the opcode table: every
 * row available on this LU, or one command with its CDB usage data, with or
 * without command timeouts descriptors (RCTD). */
#include "scst/scst_internal.h"

#define TIMEOUT_DESC_LEN 12

int scst_parse_rsoc(struct scst_cmd_private *p)
{
    const uint8_t *cdb = p->cmd->cdb;
    uint8_t options = cdb[2] & 0x07;
    if (options > 3)
        return scst_invalid_cdb(p, 2, 2);
    if (options == 0 && (cdb[3] || cdb[4] || cdb[5]))
        return scst_invalid_cdb(p, cdb[3] ? 3 : 4, 7);
    if (options == 1 && (cdb[4] || cdb[5]))
        return scst_invalid_cdb(p, 4, 7);
    size_t n;
    scst_opcode_table(&n);
    uint32_t max = options == 0 ? (uint32_t)(4 + n * (8 + TIMEOUT_DESC_LEN))
                                : 4 + 16 + TIMEOUT_DESC_LEN;
    scst_cmd_set_data_in(p, get_be32(cdb + 6), max);
    return 0;
}

static size_t put_timeouts(uint8_t *d, const struct scst_opdesc *op)
{
    memset(d, 0, TIMEOUT_DESC_LEN);
    put_be16(d, 0x0a);
    put_be32(d + 4, op->timeout);
    put_be32(d + 8, op->timeout);
    return TIMEOUT_DESC_LEN;
}

static void report_all(struct scst_cmd_private *p, bool rctd)
{
    size_t n;
    const struct scst_opdesc *table = scst_opcode_table(&n);
    size_t each = 8 + (rctd ? TIMEOUT_DESC_LEN : 0);
    uint8_t *d = umc_alloc(p->core->node, 4 + n * each);
    size_t len = 4;
    for (size_t i = 0; i < n; i++) {
        const struct scst_opdesc *op = &table[i];
        if (!scst_opcode_available(op, p->dev))
            continue;
        uint8_t *e = d + len;
        e[0] = op->opcode;
        put_be16(e + 2, (op->flags & OPF_SA) ? op->sa : 0);
        e[5] = (uint8_t)((rctd ? 0x02 : 0) | ((op->flags & OPF_SA) ? 0x01 : 0));
        put_be16(e + 6, op->cdb_len);
        len += 8;
        if (rctd)
            len += put_timeouts(d + len, op);
    }
    put_be32(d, (uint32_t)(len - 4));
    scst_respond(p, d, len);
    umc_free(p->core->node, d);
}

static void report_one(struct scst_cmd_private *p, bool rctd, uint8_t options)
{
    const uint8_t *cdb = p->cmd->cdb;
    uint8_t opcode = cdb[3];
    uint16_t sa = get_be16(cdb + 4);
    bool has_sa = scst_opcode_has_sa(p->core, opcode);
    if ((options == 1 && has_sa) || (options == 2 && !has_sa)) {
        scst_invalid_cdb(p, 3, 7);
        return;
    }
    const struct scst_opdesc *op = NULL;
    if (!has_sa || sa <= 0x1f)
        op = scst_opcode_find(p->core, opcode, (uint8_t)sa);
    if (op && !scst_opcode_available(op, p->dev))
        op = NULL;
    uint8_t d[4 + 16 + TIMEOUT_DESC_LEN] = {0};
    size_t len = 4;
    if (!op) {
        d[1] = 0x01; /* not supported */
    } else {
        d[1] = (uint8_t)((rctd ? 0x80 : 0) | 0x03);
        put_be16(d + 2, op->cdb_len);
        memcpy(d + 4, op->usage, op->cdb_len);
        len += op->cdb_len;
        if (rctd)
            len += put_timeouts(d + len, op);
    }
    scst_respond(p, d, len);
}

void scst_exec_rsoc(struct scst_cmd_private *p)
{
    const uint8_t *cdb = p->cmd->cdb;
    bool rctd = cdb[2] & 0x80;
    uint8_t options = cdb[2] & 0x07;
    if (options == 0)
        report_all(p, rctd);
    else
        report_one(p, rctd, options);
    scst_cmd_complete(p);
}
