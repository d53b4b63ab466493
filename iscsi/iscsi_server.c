/* The target's server: portals, parameters per target (iscsi-scstd.conf keys),
 * CHAP accounts, scst.conf hooks, and session enumeration. */
#include <errno.h>
#include <stdio.h>
#include <strings.h>

#include "iscsi/iscsi_target.h"

void iscsi_default_params(struct iscsi_target_params *p)
{
    *p = (struct iscsi_target_params){
        .queued_commands = 128,
        .max_recv_data_segment_length = 1048576,
        .max_xmit_data_segment_length = 1048576,
        .max_burst_length = 1048576,
        .first_burst_length = 65536,
        .max_outstanding_r2t = 32,
        .default_time2wait = 2,
        .default_time2retain = 20,
        .max_connections = 1,
        .max_sessions = 0,
        .error_recovery_level = 0,
        .initial_r2t = false,
        .immediate_data = true,
        .data_pdu_in_order = true,
        .data_sequence_in_order = true,
        .header_digest_crc32c = true,
        .header_digest_none = true,
        .data_digest_crc32c = true,
        .data_digest_none = true,
        .nop_in_interval = 30,
        .nop_in_timeout = 30,
        .rsp_timeout = 90,
    };
}

/* ---- the parameter table ------------------------------------------------------------------ */

enum param_kind { PK_U32, PK_BOOL, PK_YES_ONLY, PK_ZERO_ONLY, PK_HDIGEST, PK_DDIGEST };

struct param_def {
    const char *name;
    enum param_kind kind;
    size_t off;
    uint32_t min, max;
};

#define U32(name, field, lo, hi) {name, PK_U32, offsetof(struct iscsi_target_params, field), lo, hi}
#define BOOLP(name, field, kind) {name, kind, offsetof(struct iscsi_target_params, field), 0, 1}

static const struct param_def params[] = {
    U32("QueuedCommands", queued_commands, 1, 4096),
    U32("MaxRecvDataSegmentLength", max_recv_data_segment_length, 512, 16777215),
    U32("MaxXmitDataSegmentLength", max_xmit_data_segment_length, 512, 16777215),
    U32("MaxBurstLength", max_burst_length, 512, 16777215),
    U32("FirstBurstLength", first_burst_length, 512, 16777215),
    U32("MaxOutstandingR2T", max_outstanding_r2t, 1, 65535),
    U32("DefaultTime2Wait", default_time2wait, 0, 3600),
    U32("DefaultTime2Retain", default_time2retain, 0, 3600),
    U32("MaxConnections", max_connections, 1, 65535),
    U32("MaxSessions", max_sessions, 0, 65535),
    {"ErrorRecoveryLevel", PK_ZERO_ONLY, offsetof(struct iscsi_target_params, error_recovery_level), 0, 0},
    BOOLP("InitialR2T", initial_r2t, PK_BOOL),
    BOOLP("ImmediateData", immediate_data, PK_BOOL),
    BOOLP("DataPDUInOrder", data_pdu_in_order, PK_YES_ONLY),
    BOOLP("DataSequenceInOrder", data_sequence_in_order, PK_YES_ONLY),
    {"HeaderDigest", PK_HDIGEST, 0, 0, 0},
    {"DataDigest", PK_DDIGEST, 0, 0, 0},
    U32("NopInInterval", nop_in_interval, 0, 3600),
    U32("NopInTimeout", nop_in_timeout, 0, 3600),
    U32("RspTimeout", rsp_timeout, 0, 65535),
};
#define NPARAMS (sizeof(params) / sizeof(params[0]))

static int parse_bool_value(const char *v)
{
    if (!strcasecmp(v, "Yes") || !strcmp(v, "1"))
        return 1;
    if (!strcasecmp(v, "No") || !strcmp(v, "0"))
        return 0;
    return -1;
}

/* "None", "CRC32C" or a comma list of both. */
static int parse_digest_value(const char *v, bool *crc, bool *none)
{
    *crc = *none = false;
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", v);
    for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        if (!strcasecmp(tok, "CRC32C"))
            *crc = true;
        else if (!strcasecmp(tok, "None"))
            *none = true;
        else
            return -1;
    }
    return *crc || *none ? 0 : -1;
}

static int set_one(struct iscsi_target_params *p, const struct param_def *d, const char *value,
                   char *err, size_t errlen)
{
    uint64_t n;
    int b;
    switch (d->kind) {
    case PK_U32: case PK_ZERO_ONLY:
        if (!iscsi_parse_number(value, d->max, &n) || n < d->min) {
            snprintf(err, errlen, "%s: '%s' is not a number in %u..%u", d->name, value, d->min, d->max);
            return -EINVAL;
        }
        *(uint32_t *)((char *)p + d->off) = (uint32_t)n;
        return 0;
    case PK_BOOL: case PK_YES_ONLY:
        b = parse_bool_value(value);
        if (b < 0 || (d->kind == PK_YES_ONLY && !b)) {
            snprintf(err, errlen, "%s: '%s' is not %s", d->name, value,
                     d->kind == PK_YES_ONLY ? "Yes (the only supported value)" : "Yes or No");
            return -EINVAL;
        }
        *(bool *)((char *)p + d->off) = b;
        return 0;
    default: {
        bool crc, none;
        if (parse_digest_value(value, &crc, &none)) {
            snprintf(err, errlen, "%s: '%s' is not None, CRC32C or a list of them", d->name, value);
            return -EINVAL;
        }
        if (d->kind == PK_HDIGEST) {
            p->header_digest_crc32c = crc;
            p->header_digest_none = none;
        } else {
            p->data_digest_crc32c = crc;
            p->data_digest_none = none;
        }
        return 0;
    }
    }
}

/* Copy the field (or digest pair) d names from src to dst. */
static void copy_one(struct iscsi_target_params *dst, const struct iscsi_target_params *src,
                     const struct param_def *d)
{
    if (d->kind == PK_HDIGEST) {
        dst->header_digest_crc32c = src->header_digest_crc32c;
        dst->header_digest_none = src->header_digest_none;
    } else if (d->kind == PK_DDIGEST) {
        dst->data_digest_crc32c = src->data_digest_crc32c;
        dst->data_digest_none = src->data_digest_none;
    } else if (d->kind == PK_BOOL || d->kind == PK_YES_ONLY) {
        *(bool *)((char *)dst + d->off) = *(const bool *)((const char *)src + d->off);
    } else {
        *(uint32_t *)((char *)dst + d->off) = *(const uint32_t *)((const char *)src + d->off);
    }
}

static struct iscsi_tgt_cfg *cfg_find(struct iscsi_server *srv, const char *target, bool create)
{
    struct iscsi_tgt_cfg **pp = &srv->targets;
    for (; *pp; pp = &(*pp)->next)
        if (!strcmp((*pp)->name, target))
            return *pp;
    if (!create)
        return NULL;
    struct iscsi_tgt_cfg *c = umc_alloc(srv->node, sizeof(*c));
    c->name = umc_strdup(srv->node, target);
    *pp = c;
    return c;
}

int iscsi_target_set_param(struct iscsi_server *srv, const char *target, const char *key,
                           const char *value, char *err, size_t errlen)
{
    for (unsigned i = 0; i < NPARAMS; i++) {
        if (strcasecmp(params[i].name, key))
            continue;
        if (!target)
            return set_one(&srv->defaults, &params[i], value, err, errlen);
        struct iscsi_tgt_cfg *c = cfg_find(srv, target, true);
        if (!c->set_mask)
            c->params = srv->defaults;
        int r = set_one(&c->params, &params[i], value, err, errlen);
        if (!r)
            c->set_mask |= 1u << i;
        return r;
    }
    snprintf(err, errlen, "unknown iSCSI parameter '%s'", key);
    return -EINVAL;
}

void iscsi_resolve_params(struct iscsi_server *srv, const char *target, struct iscsi_target_params *p)
{
    *p = srv->defaults;
    struct iscsi_tgt_cfg *c = target ? cfg_find(srv, target, false) : NULL;
    for (unsigned i = 0; c && i < NPARAMS; i++)
        if (c->set_mask & (1u << i))
            copy_one(p, &c->params, &params[i]);
}

/* ---- CHAP accounts ------------------------------------------------------------------------ */

static void chap_clear(struct umc_node *n, struct iscsi_chap_cfg *chap)
{
    umc_free(n, chap->user);
    umc_free(n, chap->secret);
    umc_free(n, chap->mutual_user);
    umc_free(n, chap->mutual_secret);
    memset(chap, 0, sizeof(*chap));
}

static char *dup_or_null(struct umc_node *n, const char *s) { return s ? umc_strdup(n, s) : NULL; }

int iscsi_target_set_chap(struct iscsi_server *srv, const char *target, const char *user,
                          const char *secret, const char *mutual_user, const char *mutual_secret)
{
    if ((user && !secret) || (mutual_user && !mutual_secret) || (mutual_user && !user))
        return -EINVAL;
    struct iscsi_chap_cfg *chap = target ? &cfg_find(srv, target, true)->chap : &srv->discovery_chap;
    chap_clear(srv->node, chap);
    chap->user = dup_or_null(srv->node, user);
    chap->secret = dup_or_null(srv->node, secret);
    chap->mutual_user = dup_or_null(srv->node, mutual_user);
    chap->mutual_secret = dup_or_null(srv->node, mutual_secret);
    return 0;
}

const struct iscsi_chap_cfg *iscsi_chap_for(struct iscsi_server *srv, const char *target)
{
    if (!target)
        return &srv->discovery_chap;
    struct iscsi_tgt_cfg *c = cfg_find(srv, target, false);
    return c ? &c->chap : NULL;
}

/* "user secret" of IncomingUser / OutgoingUser. */
static int split_account(const char *value, char *user, char *secret, size_t size)
{
    const char *sp = strchr(value, ' ');
    if (!sp || (size_t)(sp - value) >= size || strlen(sp + 1) >= size || !sp[1])
        return -EINVAL;
    memcpy(user, value, (size_t)(sp - value));
    user[sp - value] = '\0';
    while (*sp == ' ')
        sp++;
    snprintf(secret, size, "%s", sp);
    return secret[0] ? 0 : -EINVAL;
}

static int set_account(struct iscsi_server *srv, const char *target, bool outgoing,
                       const char *value, char *err, size_t errlen)
{
    char user[256], secret[256];
    if (split_account(value, user, secret, sizeof(user))) {
        snprintf(err, errlen, "%s: expected \"user secret\"", outgoing ? "OutgoingUser" : "IncomingUser");
        return -EINVAL;
    }
    const struct iscsi_chap_cfg *old = iscsi_chap_for(srv, target);
    char *in_user = old && old->user ? umc_strdup(srv->node, old->user) : NULL;
    char *in_secret = old && old->secret ? umc_strdup(srv->node, old->secret) : NULL;
    char *out_user = old && old->mutual_user ? umc_strdup(srv->node, old->mutual_user) : NULL;
    char *out_secret = old && old->mutual_secret ? umc_strdup(srv->node, old->mutual_secret) : NULL;
    int r;
    if (outgoing)
        r = iscsi_target_set_chap(srv, target, in_user, in_secret, user, secret);
    else
        r = iscsi_target_set_chap(srv, target, user, secret, out_user, out_secret);
    if (r)
        snprintf(err, errlen, "OutgoingUser needs an IncomingUser first");
    umc_free(srv->node, in_user);
    umc_free(srv->node, in_secret);
    umc_free(srv->node, out_user);
    umc_free(srv->node, out_secret);
    return r;
}

/* ---- scst.conf hooks ------------------------------------------------------------------------- */

static bool ignorable_attr(const char *key)
{
    static const char *const ignored[] = {"allowed_portal", "rel_tgt_id", "per_portal_acl",
                                          "redirect", "iSNSServer", "iSNSAccessControl",
                                          "link_local", "internal_portal", "trace_level",
                                          "forward_dst", "addr_method", "io_grouping_type",
                                          "cpu_mask", "tid"};
    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
        if (!strcasecmp(key, ignored[i]))
            return true;
    return false;
}

int iscsi_conf_target_attr(void *arg, const char *driver, const char *target, const char *key,
                           const char *value, char *err, size_t errlen)
{
    struct iscsi_server *srv = arg;
    if (strcmp(driver, "iscsi")) {
        snprintf(err, errlen, "no target driver '%s' (only iscsi)", driver);
        return -EINVAL;
    }
    if (!strcmp(key, "IncomingUser") || !strcmp(key, "OutgoingUser"))
        return set_account(srv, target, key[0] == 'O', value, err, errlen);
    if (!strcmp(key, "enabled")) {
        int b = parse_bool_value(value);
        if (b < 0) {
            snprintf(err, errlen, "enabled: '%s' is not 0 or 1", value);
            return -EINVAL;
        }
        return scst_target_enable(srv->core, target, b);
    }
    if (ignorable_attr(key))
        return 0;
    return iscsi_target_set_param(srv, target, key, value, err, errlen);
}

int iscsi_conf_driver_attr(void *arg, const char *driver, const char *key, const char *value,
                           char *err, size_t errlen)
{
    struct iscsi_server *srv = arg;
    if (strcmp(driver, "iscsi")) {
        snprintf(err, errlen, "no target driver '%s' (only iscsi)", driver);
        return -EINVAL;
    }
    if (!strcmp(key, "IncomingUser") || !strcmp(key, "OutgoingUser"))
        return set_account(srv, NULL, key[0] == 'O', value, err, errlen);
    if (!strcmp(key, "enabled") || ignorable_attr(key))
        return 0;
    return iscsi_target_set_param(srv, NULL, key, value, err, errlen);
}

/* ---- targets and portals ---------------------------------------------------------------------- */

struct exists_ctx {
    const char *name;
    bool found;
};

static void exists_cb(void *arg, const char *name)
{
    struct exists_ctx *x = arg;
    if (!strcmp(x->name, name))
        x->found = true;
}

bool iscsi_target_exists(struct iscsi_server *srv, const char *target)
{
    struct exists_ctx x = {target, false};
    scst_foreach_target(srv->core, exists_cb, &x);
    return x.found;
}

static void on_accept(struct umc_listener *l, struct umc_conn *c, void *arg)
{
    iscsi_conn_accept(arg, c);
}

int iscsi_server_add_portal(struct iscsi_server *srv, const char *addr)
{
    int err = 0;
    struct umc_listener *l = umc_listen(srv->node, addr, on_accept, srv, &err);
    if (!l)
        return err ? err : -EINVAL;
    struct iscsi_portal *p = umc_alloc(srv->node, sizeof(*p)), **pp = &srv->portals;
    p->listener = l;
    snprintf(p->addr, sizeof(p->addr), "%s", umc_listener_addr(l));
    while (*pp)
        pp = &(*pp)->next;
    *pp = p;
    umc_info(srv->node, ISCSI_COMP, "portal %s", p->addr);
    return 0;
}

void iscsi_server_set_advertised_addr(struct iscsi_server *srv, const char *addr)
{
    umc_free(srv->node, srv->advertised);
    srv->advertised = addr ? umc_strdup(srv->node, addr) : NULL;
}

static bool wildcard_host(const char *addr)
{
    return !strncmp(addr, "0.0.0.0:", 8) || !strncmp(addr, "[::]:", 5) || addr[0] == ':' ||
           !strncmp(addr, "*:", 2);
}

/* TargetAddress=host:port,tpgt for every portal; a wildcard portal is named by
 * the advertised address or the address the initiator reached us on. */
void iscsi_add_target_addresses(struct iscsi_conn *conn, struct iscsi_text *t)
{
    struct iscsi_server *srv = conn->srv;
    char value[UMC_ADDR_MAX + 16];
    for (struct iscsi_portal *p = srv->portals; p; p = p->next) {
        const char *addr = p->addr;
        char local[UMC_ADDR_MAX];
        if (wildcard_host(addr)) {
            const char *port = strrchr(addr, ':');
            const char *host = srv->advertised ? srv->advertised : umc_conn_local_addr(conn->uc);
            const char *hcolon = strrchr(host, ':');
            int hlen = hcolon && !srv->advertised ? (int)(hcolon - host) : (int)strlen(host);
            snprintf(local, sizeof(local), "%.*s%s", hlen, host, port);
            addr = local;
        }
        snprintf(value, sizeof(value), "%s,%u", addr, ISCSI_TPGT);
        iscsi_text_add(t, "TargetAddress", value);
    }
}

void *iscsi_text_grow(void *node, void *old, size_t size) { return umc_realloc(node, old, size); }

uint16_t iscsi_server_new_tsih(struct iscsi_server *srv)
{
    for (;;) {
        uint16_t tsih = srv->next_tsih++;
        if (!tsih)
            continue;
        if (!iscsi_session_by_tsih(srv, tsih))
            return tsih;
    }
}

/* ---- the server ------------------------------------------------------------------------------ */

struct iscsi_server *iscsi_server_new(struct umc_node *n, struct scst_core *core)
{
    struct iscsi_server *srv = umc_alloc(n, sizeof(*srv));
    srv->node = n;
    srv->core = core;
    srv->next_tsih = 1;
    iscsi_default_params(&srv->defaults);
    umc_node_set_slot(n, UMC_SLOT_ISCSI, srv);
    return srv;
}

struct iscsi_server *iscsi_server_of(struct umc_node *n) { return umc_node_slot(n, UMC_SLOT_ISCSI); }

static void server_release(struct iscsi_server *srv)
{
    struct umc_node *n = srv->node;
    while (srv->targets) {
        struct iscsi_tgt_cfg *c = srv->targets;
        srv->targets = c->next;
        chap_clear(n, &c->chap);
        umc_free(n, c->name);
        umc_free(n, c);
    }
    chap_clear(n, &srv->discovery_chap);
    umc_free(n, srv->advertised);
    umc_free(n, srv);
}

void iscsi_server_free(struct iscsi_server *srv)
{
    if (!srv)
        return;
    struct umc_node *n = srv->node;
    if (umc_node_slot(n, UMC_SLOT_ISCSI) == srv)
        umc_node_set_slot(n, UMC_SLOT_ISCSI, NULL);
    while (srv->portals) {
        struct iscsi_portal *p = srv->portals;
        srv->portals = p->next;
        umc_listener_close(p->listener);
        umc_free(n, p);
    }
    srv->freeing = true;
    while (srv->conns)
        iscsi_conn_drop(srv->conns, "server shutting down");
    if (!srv->allocated_sessions)
        server_release(srv);
}

/* A session's memory went; the last one of a freed server takes the server along. */
void iscsi_server_session_gone(struct iscsi_server *srv)
{
    srv->allocated_sessions--;
    if (srv->freeing && !srv->allocated_sessions)
        server_release(srv);
}

void iscsi_foreach_session(struct iscsi_server *srv, iscsi_session_fn fn, void *arg)
{
    for (struct iscsi_session *s = srv->sessions; s; s = s->next) {
        struct iscsi_session_info info = {
            .target = s->target, .initiator = s->initiator, .isid = s->isid, .tsih = s->tsih,
            .connections = s->conn ? 1 : 0, .discovery = s->discovery,
            .header_digest = s->header_digest, .data_digest = s->data_digest,
            .commands = s->commands, .bytes_in = s->bytes_in, .bytes_out = s->bytes_out,
        };
        fn(arg, &info);
    }
}
