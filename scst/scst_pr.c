/* Persistent reservations: registrations per I_T nexus (initiator port name +
 * relative target port), the conflict rules of each reservation type, and
 * PERSISTENT RESERVE IN (READ KEYS, READ RESERVATION, REPORT CAPABILITIES,
 * READ FULL STATUS).  PERSISTENT RESERVE OUT is in scst_pr_out.c. */
#include <stdio.h>

#include "scst/scst_internal.h"

enum { PR_WE = 1, PR_EA = 3, PR_WERO = 5, PR_EARO = 6, PR_WEAR = 7, PR_EAAR = 8 };

static bool type_all_registrants(uint8_t t) { return t == PR_WEAR || t == PR_EAAR; }
static bool type_registrants(uint8_t t) { return t == PR_WERO || t == PR_EARO || type_all_registrants(t); }
static bool type_exclusive_access(uint8_t t) { return t == PR_EA || t == PR_EARO || t == PR_EAAR; }

/* A registration made with a name-only TransportID covers every ISID. */
static bool port_matches(const char *reg_port, const char *port)
{
    if (strcmp(reg_port, port) == 0)
        return true;
    size_t n = strlen(reg_port);
    return !strstr(reg_port, ",i,0x") && strncmp(port, reg_port, n) == 0 &&
           strncmp(port + n, ",i,0x", 5) == 0;
}

struct scst_pr_reg *scst_pr_find(struct scst_device *dev, const char *port, uint16_t tpid)
{
    for (struct scst_pr_reg *r = dev->pr.regs; r; r = r->next)
        if ((r->tpid == tpid || r->all_tg_pt) && port_matches(r->initiator_port, port))
            return r;
    return NULL;
}

bool scst_pr_is_holder(const struct scst_device *dev, const struct scst_pr_reg *reg)
{
    if (!dev->pr.reserved || !reg)
        return false;
    return type_all_registrants(dev->pr.type) || dev->pr.holder == reg;
}

void scst_pr_free(struct scst_core *core, struct scst_pr_state *pr)
{
    while (pr->regs) {
        struct scst_pr_reg *r = pr->regs;
        pr->regs = r->next;
        umc_free(core->node, r->initiator_port);
        umc_free(core->node, r);
    }
    pr->nregs = 0;
    pr->reserved = false;
    pr->holder = NULL;
}

/* SPC-4 5.13: who may run what while a persistent reservation exists. */
bool scst_pr_conflict(struct scst_cmd_private *p)
{
    struct scst_device *dev = p->dev;
    const struct scst_opdesc *op = p->op;
    uint8_t opcode = op->opcode;
    if (opcode == 0x16 || opcode == 0x17 || opcode == 0x56 || opcode == 0x57)
        return dev->pr.nregs > 0; /* CRH=0: RESERVE/RELEASE conflict with registrations */
    if (!dev->pr.reserved || (op->flags & OPF_PR_ANY))
        return false;
    struct scst_pr_reg *reg = scst_pr_find(dev, p->sess->initiator_port, p->sess->tpid);
    if (scst_pr_is_holder(dev, reg))
        return false;
    uint8_t type = dev->pr.type;
    if (reg && type_registrants(type))
        return false;
    if (type_exclusive_access(type))
        return true;
    return !(op->flags & OPF_PR_READ);
}

/* ---- TransportIDs (iSCSI) ------------------------------------------------------------------- */

/* Format 01b ("name,i,0x<ISID>") when the port has an ISID, else 00b. */
size_t scst_transport_id(const char *initiator_port, uint8_t *out, size_t max)
{
    size_t n = strlen(initiator_port);
    size_t padded = (n + 1 + 3) & ~(size_t)3;
    if (padded < 20)
        padded = 20;
    if (4 + padded > max)
        return 0;
    memset(out, 0, 4 + padded);
    out[0] = (uint8_t)((strstr(initiator_port, ",i,0x") ? 0x40 : 0x00) | 0x05);
    put_be16(out + 2, (uint16_t)padded);
    memcpy(out + 4, initiator_port, n);
    return 4 + padded;
}

/* ---- PERSISTENT RESERVE IN ------------------------------------------------------------------ */

/* A READ FULL STATUS descriptor: 24 bytes and a TransportID (name of at
 * most 255 bytes and its NUL, padded to four, behind a 4-byte header). */
#define PRIN_FULL_EACH (24 + 4 + 260)

/* The longest answer of each service action, with every registration made. */
static uint32_t prin_max_len(uint8_t sa)
{
    switch (sa) {
    case 0: return 8 + 8 * SCST_PR_MAX_REGISTRATIONS;
    case 1: return 24;
    case 2: return 8;
    default: return 8 + SCST_PR_MAX_REGISTRATIONS * PRIN_FULL_EACH;
    }
}

int scst_parse_prin(struct scst_cmd_private *p)
{
    const uint8_t *cdb = p->cmd->cdb;
    scst_cmd_set_data_in(p, get_be16(cdb + 7), prin_max_len(cdb[1] & 0x1f));
    return 0;
}

static size_t prin_read_keys(const struct scst_device *dev, uint8_t *d)
{
    size_t len = 8;
    put_be32(d, dev->pr.generation);
    for (const struct scst_pr_reg *r = dev->pr.regs; r; r = r->next, len += 8)
        put_be64(d + len, r->key);
    put_be32(d + 4, (uint32_t)(len - 8));
    return len;
}

static size_t prin_read_reservation(const struct scst_device *dev, uint8_t *d)
{
    memset(d, 0, 24);
    put_be32(d, dev->pr.generation);
    if (!dev->pr.reserved)
        return 8;
    put_be32(d + 4, 16);
    if (dev->pr.holder)
        put_be64(d + 8, dev->pr.holder->key);
    d[21] = (uint8_t)(dev->pr.scope << 4 | dev->pr.type);
    return 24;
}

static size_t prin_report_capabilities(const struct scst_device *dev, uint8_t *d)
{
    memset(d, 0, 8);
    put_be16(d, 8);
    d[2] = 0x08 | 0x04 | 0x01;            /* SIP_C, ATP_C, PTPL_C */
    d[3] = (uint8_t)(0x80 | (dev->pr.aptpl ? 0x01 : 0)); /* TMV, PTPL_A */
    d[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02; /* WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC, WR_EX */
    d[5] = 0x01;                          /* EX_AC_AR */
    return 8;
}

static size_t prin_full_status(const struct scst_device *dev, uint8_t *d, size_t max)
{
    size_t len = 8;
    put_be32(d, dev->pr.generation);
    for (const struct scst_pr_reg *r = dev->pr.regs; r; r = r->next) {
        if (len + PRIN_FULL_EACH > max)
            break;
        uint8_t *e = d + len;
        memset(e, 0, 24);
        put_be64(e, r->key);
        e[12] = (uint8_t)((r->all_tg_pt ? 0x02 : 0) | (scst_pr_is_holder(dev, r) ? 0x01 : 0));
        if (scst_pr_is_holder(dev, r))
            e[13] = (uint8_t)(dev->pr.scope << 4 | dev->pr.type);
        put_be16(e + 18, r->tpid);
        size_t tid = scst_transport_id(r->initiator_port, e + 24, max - len - 24);
        put_be32(e + 20, (uint32_t)tid);
        len += 24 + tid;
    }
    put_be32(d + 4, (uint32_t)(len - 8));
    return len;
}

void scst_exec_prin(struct scst_cmd_private *p)
{
    const struct scst_device *dev = p->dev;
    size_t max = 8 + (size_t)(dev->pr.nregs + 1) * PRIN_FULL_EACH;
    uint8_t *d = umc_alloc(p->core->node, max);
    size_t len;
    switch (p->cmd->cdb[1] & 0x1f) {
    case 0: len = prin_read_keys(dev, d); break;
    case 1: len = prin_read_reservation(dev, d); break;
    case 2: len = prin_report_capabilities(dev, d); break;
    default: len = prin_full_status(dev, d, max); break;
    }
    scst_respond(p, d, len);
    umc_free(p->core->node, d);
    scst_cmd_complete(p);
}
