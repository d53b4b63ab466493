/* PERSISTENT RESERVE OUT: REGISTER (with SPEC_I_PT and ALL_TG_PT), RESERVE,
 * RELEASE, CLEAR, PREEMPT, PREEMPT AND ABORT, REGISTER AND IGNORE EXISTING
 * KEY, REGISTER AND MOVE; APTPL state is saved after every change. */
#include <stdio.h>

#include "scst/scst_internal.h"

enum { SA_REGISTER, SA_RESERVE, SA_RELEASE, SA_CLEAR, SA_PREEMPT, SA_PREEMPT_ABORT,
       SA_REGISTER_IGNORE, SA_REGISTER_MOVE };
enum { PR_WE = 1, PR_EA = 3, PR_WERO = 5, PR_EARO = 6, PR_WEAR = 7, PR_EAAR = 8 };

struct prout {
    uint64_t rk, sark;
    bool spec_i_pt, all_tg_pt, aptpl;
    uint8_t scope, type;
    struct scst_pr_reg *reg;      /* the issuing nexus' registration */
};

static bool valid_type(uint8_t t)
{
    return t == PR_WE || t == PR_EA || t == PR_WERO || t == PR_EARO || t == PR_WEAR || t == PR_EAAR;
}

static bool all_registrants(uint8_t t) { return t == PR_WEAR || t == PR_EAAR; }

int scst_parse_prout(struct scst_cmd_private *p)
{
    const uint8_t *cdb = p->cmd->cdb;
    uint8_t sa = cdb[1] & 0x1f;
    uint32_t len = get_be32(cdb + 5);
    bool longer_ok = sa == SA_REGISTER || sa == SA_REGISTER_IGNORE || sa == SA_REGISTER_MOVE;
    if (len < 24 || (!longer_ok && len != 24) || len > 8192) {
        scst_fail(p, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
        return -1;
    }
    if (sa == SA_RESERVE || sa == SA_RELEASE || sa == SA_PREEMPT || sa == SA_PREEMPT_ABORT ||
        sa == SA_REGISTER_MOVE) {
        if (cdb[2] >> 4)
            return scst_invalid_cdb(p, 2, 7);
        if (!valid_type(cdb[2] & 0x0f))
            return scst_invalid_cdb(p, 2, 3);
    }
    scst_cmd_set_data(p, SCSI_DIR_WRITE, len);
    return 0;
}

/* ---- registrations -------------------------------------------------------------------------- */

static struct scst_pr_reg *reg_add(struct scst_device *dev, const char *port, uint16_t tpid,
                                   uint64_t key, bool all_tg_pt)
{
    struct umc_node *n = dev->core->node;
    struct scst_pr_reg *r = umc_alloc(n, sizeof(*r));
    r->initiator_port = umc_strdup(n, port);
    r->tpid = tpid;
    r->key = key;
    r->all_tg_pt = all_tg_pt;
    struct scst_pr_reg **pp = &dev->pr.regs;
    while (*pp)
        pp = &(*pp)->next;
    *pp = r;
    dev->pr.nregs++;
    return r;
}

static void reg_free(struct scst_device *dev, struct scst_pr_reg *r)
{
    for (struct scst_pr_reg **pp = &dev->pr.regs; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            dev->pr.nregs--;
            break;
        }
    }
    if (dev->pr.holder == r)
        dev->pr.holder = NULL;
    umc_free(dev->core->node, r->initiator_port);
    umc_free(dev->core->node, r);
}

/* A unit attention for each nexus of dev registered as r (r NULL: under any
 * registration) but the issuer's: the I_T nexus the PERSISTENT RESERVE OUT
 * came through learns the outcome from its status (SPC-4 5.13.11). */
static void ua_registrants(struct scst_device *dev, const struct scst_pr_reg *r,
                           const struct scst_session *issuer, uint16_t asc)
{
    for (struct scst_nexus *nx = dev->nexus_head; nx; nx = nx->dev_next) {
        if (nx->sess == issuer)
            continue;
        struct scst_pr_reg *nr = scst_pr_find(dev, nx->sess->initiator_port, nx->sess->tpid);
        if (nr && (!r || nr == r))
            scst_ua_add(nx, asc);
    }
}

static void release_reservation(struct scst_device *dev, const struct scst_session *issuer)
{
    uint8_t type = dev->pr.type;
    dev->pr.reserved = false;
    dev->pr.holder = NULL;
    dev->pr.type = dev->pr.scope = 0;
    if (type != PR_WE && type != PR_EA)
        ua_registrants(dev, NULL, issuer, ASC_RESERVATIONS_RELEASED);
}

static void unregister(struct scst_device *dev, struct scst_pr_reg *r, const struct scst_session *issuer)
{
    bool holder = scst_pr_is_holder(dev, r);
    bool ar = all_registrants(dev->pr.type);
    reg_free(dev, r);
    if (!holder)
        return;
    if (!ar) {
        release_reservation(dev, issuer); /* RO types: RESERVATIONS RELEASED to the rest */
    } else if (!dev->pr.nregs) {
        dev->pr.reserved = false;
        dev->pr.type = dev->pr.scope = 0;
    }
}

/* ---- parameters --------------------------------------------------------------------------------- */

static void read_params(struct scst_cmd_private *p, struct prout *po)
{
    const uint8_t *d = p->cmd->buf;
    const uint8_t *cdb = p->cmd->cdb;
    po->rk = get_be64(d);
    po->sark = get_be64(d + 8);
    po->spec_i_pt = d[20] & 0x08;
    po->all_tg_pt = d[20] & 0x04;
    po->aptpl = d[20] & 0x01;
    po->scope = cdb[2] >> 4;
    po->type = cdb[2] & 0x0f;
    po->reg = scst_pr_find(p->dev, p->sess->initiator_port, p->sess->tpid);
}

static int conflict(struct scst_cmd_private *p)
{
    scst_fail_status(p, SAM_STAT_RESERVATION_CONFLICT);
    return -1;
}

/* Parse one iSCSI TransportID into port; returns its length or 0. */
static size_t parse_transport_id(const uint8_t *t, size_t avail, char *port, size_t portlen)
{
    if (avail < 4 || (t[0] & 0x0f) != 0x05 || (t[0] >> 6) > 1)
        return 0;
    size_t len = 4 + (size_t)get_be16(t + 2);
    if (len > avail || len < 5)
        return 0;
    size_t n = strnlen((const char *)t + 4, len - 4);
    if (n == 0 || n >= portlen || n == len - 4)
        return 0;
    memcpy(port, t + 4, n);
    port[n] = '\0';
    return len;
}

/* SPEC_I_PT: validate every TransportID, then register them all. */
static int register_spec_i_pt(struct scst_cmd_private *p, const struct prout *po)
{
    const uint8_t *d = p->cmd->buf;
    size_t len = p->cmd->data_len;
    if (len < 28) {
        scst_fail(p, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
        return -1;
    }
    size_t list = get_be32(d + 24);
    if (28 + list > len) {
        scst_fail(p, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
        return -1;
    }
    char port[256];
    size_t nids = 0;
    for (size_t off = 28; off < 28 + list; nids++) {
        size_t n = parse_transport_id(d + off, 28 + list - off, port, sizeof(port));
        if (!n)
            return scst_invalid_param(p, (uint16_t)off, 7);
        off += n;
    }
    if (p->dev->pr.nregs + nids + 1 > SCST_PR_MAX_REGISTRATIONS) {
        scst_fail(p, SK_ILLEGAL_REQUEST, ASC_INSUFFICIENT_REGISTRATION_RESOURCES);
        return -1;
    }
    for (size_t off = 28; off < 28 + list;) {
        size_t n = parse_transport_id(d + off, 28 + list - off, port, sizeof(port));
        if (!scst_pr_find(p->dev, port, p->sess->tpid))
            reg_add(p->dev, port, p->sess->tpid, po->sark, po->all_tg_pt);
        off += n;
    }
    return 0;
}

/* ---- service actions ------------------------------------------------------------------------------ */

static int do_register(struct scst_cmd_private *p, struct prout *po, bool ignore_key)
{
    struct scst_device *dev = p->dev;
    if (po->reg && !ignore_key && po->rk != po->reg->key)
        return conflict(p);
    if (!po->reg && !ignore_key && po->rk != 0)
        return conflict(p);
    if (po->spec_i_pt && (po->reg || ignore_key))
        return scst_invalid_param(p, 20, 3);
    if (!po->spec_i_pt && p->cmd->data_len != 24) {
        scst_fail(p, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
        return -1;
    }
    if (!po->reg && po->sark == 0)
        return 0; /* unregistering an unregistered nexus: nothing to do */
    if (po->reg && po->sark == 0) {
        unregister(dev, po->reg, p->sess);
    } else if (po->reg) {
        po->reg->key = po->sark;
    } else {
        if (dev->pr.nregs >= SCST_PR_MAX_REGISTRATIONS) {
            scst_fail(p, SK_ILLEGAL_REQUEST, ASC_INSUFFICIENT_REGISTRATION_RESOURCES);
            return -1;
        }
        if (po->spec_i_pt && register_spec_i_pt(p, po))
            return -1;
        reg_add(dev, p->sess->initiator_port, p->sess->tpid, po->sark, po->all_tg_pt);
    }
    dev->pr.aptpl = po->aptpl;
    dev->pr.generation++;
    return 0;
}

static int do_reserve(struct scst_cmd_private *p, struct prout *po)
{
    struct scst_device *dev = p->dev;
    if (!po->reg || po->rk != po->reg->key)
        return conflict(p);
    if (dev->pr.reserved) {
        if (scst_pr_is_holder(dev, po->reg) && dev->pr.type == po->type && dev->pr.scope == po->scope)
            return 0;
        return conflict(p);
    }
    dev->pr.reserved = true;
    dev->pr.type = po->type;
    dev->pr.scope = po->scope;
    dev->pr.holder = all_registrants(po->type) ? NULL : po->reg;
    return 0;
}

static int do_release(struct scst_cmd_private *p, struct prout *po)
{
    struct scst_device *dev = p->dev;
    if (!po->reg || po->rk != po->reg->key)
        return conflict(p);
    if (!dev->pr.reserved || !scst_pr_is_holder(dev, po->reg))
        return 0;
    if (dev->pr.type != po->type || dev->pr.scope != po->scope) {
        scst_fail(p, SK_ILLEGAL_REQUEST, ASC_INVALID_RELEASE_OF_PR);
        return -1;
    }
    release_reservation(dev, p->sess);
    return 0;
}

static int do_clear(struct scst_cmd_private *p, struct prout *po)
{
    struct scst_device *dev = p->dev;
    if (!po->reg || po->rk != po->reg->key)
        return conflict(p);
    ua_registrants(dev, NULL, p->sess, ASC_RESERVATIONS_PREEMPTED);
    scst_pr_free(dev->core, &dev->pr);
    dev->pr.generation++;
    return 0;
}

/* Mark registrations with key (except the issuer's) for removal; how many. */
static unsigned doom_key(struct scst_device *dev, uint64_t key, const struct scst_pr_reg *keep, bool any)
{
    unsigned n = 0;
    for (struct scst_pr_reg *r = dev->pr.regs; r; r = r->next) {
        r->doomed = r != keep && (any || r->key == key);
        n += r->doomed;
    }
    return n;
}

static void abort_doomed_tasks(struct scst_cmd_private *p)
{
    struct scst_device *dev = p->dev;
    for (struct scst_nexus *nx = dev->nexus_head; nx; nx = nx->dev_next) {
        struct scst_pr_reg *r = scst_pr_find(dev, nx->sess->initiator_port, nx->sess->tpid);
        if (r && r->doomed)
            scst_abort_dev_tasks(dev, nx->sess, p->sess, NULL);
    }
}

static void remove_doomed(struct scst_device *dev, const struct scst_session *issuer)
{
    for (struct scst_pr_reg *r = dev->pr.regs; r; r = r->next)
        if (r->doomed)
            ua_registrants(dev, r, issuer, ASC_REGISTRATIONS_PREEMPTED);
    struct scst_pr_reg *r = dev->pr.regs;
    while (r) {
        struct scst_pr_reg *next = r->next;
        if (r->doomed)
            reg_free(dev, r);
        r = next;
    }
}

static int do_preempt(struct scst_cmd_private *p, struct prout *po, bool abort)
{
    struct scst_device *dev = p->dev;
    if (!po->reg || po->rk != po->reg->key)
        return conflict(p);
    bool ar = dev->pr.reserved && all_registrants(dev->pr.type);
    bool takes_reservation = dev->pr.reserved &&
                             (ar ? po->sark == 0 : dev->pr.holder && dev->pr.holder->key == po->sark);
    if (po->sark == 0 && !ar)
        return scst_invalid_param(p, 8, 7);
    if (!doom_key(dev, po->sark, po->reg, ar && po->sark == 0) && !takes_reservation)
        return conflict(p);
    if (abort)
        abort_doomed_tasks(p);
    if (takes_reservation) {
        bool changed = dev->pr.type != po->type || dev->pr.scope != po->scope;
        dev->pr.type = po->type;
        dev->pr.scope = po->scope;
        dev->pr.holder = all_registrants(po->type) ? NULL : po->reg;
        if (changed)
            for (struct scst_pr_reg *r = dev->pr.regs; r; r = r->next)
                if (!r->doomed)
                    ua_registrants(dev, r, p->sess, ASC_RESERVATIONS_RELEASED);
    }
    remove_doomed(dev, p->sess);
    dev->pr.generation++;
    return 0;
}

static int do_register_move(struct scst_cmd_private *p, struct prout *po)
{
    struct scst_device *dev = p->dev;
    const uint8_t *d = p->cmd->buf;
    if (!po->reg || po->rk != po->reg->key || !scst_pr_is_holder(dev, po->reg) ||
        all_registrants(dev->pr.type))
        return conflict(p);
    if (po->sark == 0)
        return scst_invalid_param(p, 8, 7);
    size_t tid_len = get_be32(d + 20);
    char port[256];
    if (24 + tid_len > p->cmd->data_len ||
        !parse_transport_id(d + 24, tid_len, port, sizeof(port)))
        return scst_invalid_param(p, 24, 7);
    uint16_t tpid = get_be16(d + 18);
    if (strcmp(port, p->sess->initiator_port) == 0 && tpid == p->sess->tpid)
        return scst_invalid_param(p, 24, 7);
    struct scst_pr_reg *dst = scst_pr_find(dev, port, tpid);
    if (!dst)
        dst = reg_add(dev, port, tpid, po->sark, false);
    else
        dst->key = po->sark;
    dev->pr.holder = dst;
    dev->pr.type = po->type;
    dev->pr.scope = po->scope;
    if (d[17] & 0x02)
        reg_free(dev, po->reg);
    dev->pr.aptpl = d[17] & 0x01;
    dev->pr.generation++;
    return 0;
}

void scst_exec_prout(struct scst_cmd_private *p)
{
    struct prout po;
    read_params(p, &po);
    int rc;
    switch (p->cmd->cdb[1] & 0x1f) {
    case SA_REGISTER: rc = do_register(p, &po, false); break;
    case SA_RESERVE: rc = do_reserve(p, &po); break;
    case SA_RELEASE: rc = do_release(p, &po); break;
    case SA_CLEAR: rc = do_clear(p, &po); break;
    case SA_PREEMPT: rc = do_preempt(p, &po, false); break;
    case SA_PREEMPT_ABORT: rc = do_preempt(p, &po, true); break;
    case SA_REGISTER_IGNORE: rc = do_register(p, &po, true); break;
    default: rc = do_register_move(p, &po); break;
    }
    if (rc == 0)
        scst_pr_save(p->dev);
    scst_cmd_complete(p);
}
