/* The .res grammar: resource, on, volume, net, disk, options, connection-mesh,
 * connection, common; then the checks a resource must pass (node ids, volumes,
 * addresses, connections).  Never crashes on any input; the first problem is
 * reported as "FILE:LINE: problem". */
#include <stdio.h>

#include "drbd/drbd_cfg_int.h"

struct pvol {
    int vnr, minor, line;
    bool has_minor, has_device, has_disk, has_meta, meta_internal;
    char device[UMC_NAME_MAX];
    char disk[256];
};

struct phost {
    char name[UMC_NAME_MAX];
    int node_id, line, addr_line;
    bool has_id;
    char address[UMC_ADDR_MAX];
    struct pvol vols[DRBD_MAX_VOLUMES];
    int nvols;
};

struct pconn {
    char a[UMC_NAME_MAX], b[UMC_NAME_MAX];
    char addr_a[UMC_ADDR_MAX], addr_b[UMC_ADDR_MAX];
    int line, nhosts;
    struct opt_set net;
};

struct pres {
    char name[UMC_NAME_MAX];
    int line;
    struct opt_set opts;
    struct pvol defvols[DRBD_MAX_VOLUMES];
    int ndef;
    struct phost hosts[DRBD_MAX_NODES];
    int nhosts;
    bool have_mesh;
    char mesh[DRBD_MAX_NODES][UMC_NAME_MAX];
    int nmesh, mesh_line;
    struct opt_set mesh_net;
    struct pconn conns[DRBD_MAX_NODES];
    int nconns;
};

struct parser {
    struct lexer lx;
    struct umc_node *n;
    struct opt_set common;
    struct pres **res;
    int nres;
};

/* ---- small pieces ---------------------------------------------------------------------- */

static bool expect_semi(struct lexer *lx, const char *after)
{
    if (lex_peek(lx) == TK_SEMI) {
        lex_next(lx);
        return true;
    }
    lex_next(lx);
    if (lx->failed)
        return false;
    return lex_error(lx, lx->tok_line, "expected ';' after %s", after);
}

static bool parse_int(struct lexer *lx, const char *what, int max, int *out)
{
    if (!lex_word(lx, what))
        return false;
    uint64_t v;
    if (!lex_parse_u64(lx, lx->tok, &v) || v > (uint64_t)max)
        return lex_error(lx, lx->tok_line, "%s: expected a number 0..%d, found '%s'", what, max,
                         lx->tok);
    *out = (int)v;
    return true;
}

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (!n || n >= UMC_NAME_MAX)
        return false;
    for (; *s; s++)
        if (*s == '/' || *s == ':' || (unsigned char)*s <= ' ')
            return false;
    return true;
}

/* "10.1.1.31:7788" (an optional address family word before it). */
static bool parse_address(struct lexer *lx, char *out, size_t outlen)
{
    if (!lex_word(lx, "an address"))
        return false;
    if (strcmp(lx->tok, "ipv4") == 0) {
        if (!lex_word(lx, "an address"))
            return false;
    } else if (strcmp(lx->tok, "ipv6") == 0 || strcmp(lx->tok, "ssocks") == 0 ||
               strcmp(lx->tok, "sdp") == 0) {
        return lex_error(lx, lx->tok_line, "address family '%s' is not supported", lx->tok);
    }
    const char *colon = strrchr(lx->tok, ':');
    uint64_t port;
    if (!colon || colon == lx->tok || strchr(lx->tok, '[') ||
        !lex_parse_u64(lx, colon + 1, &port) || port == 0 || port > 65535)
        return lex_error(lx, lx->tok_line, "invalid address '%s' (expected IP:PORT)", lx->tok);
    if (strlen(lx->tok) >= outlen)
        return lex_error(lx, lx->tok_line, "address too long");
    snprintf(out, outlen, "%s", lx->tok);
    return true;
}

static struct pvol *vol_slot(struct lexer *lx, struct pvol *vols, int *n, int vnr, int line)
{
    for (int i = 0; i < *n; i++)
        if (vols[i].vnr == vnr)
            return &vols[i];
    if (*n >= DRBD_MAX_VOLUMES) {
        lex_error(lx, line, "too many volumes (at most %d)", DRBD_MAX_VOLUMES);
        return NULL;
    }
    struct pvol *v = &vols[(*n)++];
    memset(v, 0, sizeof(*v));
    v->vnr = vnr;
    v->line = line;
    return v;
}

/* device drbd1 minor 1; | device /dev/drbd1; | device minor 1; */
static bool parse_device(struct lexer *lx, struct pvol *v)
{
    int line = lx->tok_line;
    if (!lex_word(lx, "a device name or 'minor'"))
        return false;
    if (strcmp(lx->tok, "minor") != 0) {
        const char *base = strrchr(lx->tok, '/');
        base = base ? base + 1 : lx->tok;
        if (!valid_name(base))
            return lex_error(lx, line, "invalid device name '%s'", lx->tok);
        snprintf(v->device, sizeof(v->device), "%s", base);
        v->has_device = true;
        if (lex_peek(lx) == TK_WORD && strcmp(lx->ptok, "minor") == 0)
            lex_next(lx);
        else if (strncmp(v->device, "drbd", 4) == 0 && v->device[4]) {
            uint64_t m;
            if (lex_parse_u64(lx, v->device + 4, &m) && m < 1048576) {
                v->minor = (int)m;
                v->has_minor = true;
            }
            return expect_semi(lx, "device");
        } else {
            return expect_semi(lx, "device");
        }
        if (lx->failed)
            return false;
    }
    if (!parse_int(lx, "minor", 1048575, &v->minor))
        return false;
    v->has_minor = true;
    if (!v->has_device) {
        snprintf(v->device, sizeof(v->device), "drbd%d", v->minor);
        v->has_device = true;
    }
    return expect_semi(lx, "minor");
}

static bool parse_volume_item(struct lexer *lx, struct pvol *v)
{
    int line = lx->tok_line;
    if (strcmp(lx->tok, "device") == 0)
        return parse_device(lx, v);
    if (strcmp(lx->tok, "disk") == 0) {
        if (!lex_word(lx, "a disk path"))
            return false;
        if (strlen(lx->tok) >= sizeof(v->disk))
            return lex_error(lx, lx->tok_line, "disk path too long");
        snprintf(v->disk, sizeof(v->disk), "%s", strcmp(lx->tok, "none") == 0 ? "" : lx->tok);
        v->has_disk = true;
        return expect_semi(lx, "disk");
    }
    if (strcmp(lx->tok, "meta-disk") == 0) {
        if (!lex_word(lx, "internal"))
            return false;
        if (strcmp(lx->tok, "internal") != 0)
            return lex_error(lx, lx->tok_line, "only 'meta-disk internal' is supported");
        v->has_meta = v->meta_internal = true;
        return expect_semi(lx, "meta-disk");
    }
    return lex_error(lx, line, "unknown volume keyword '%s'", lx->tok);
}

static bool is_volume_item(const char *w)
{
    return strcmp(w, "device") == 0 || strcmp(w, "disk") == 0 || strcmp(w, "meta-disk") == 0;
}

static bool parse_volume_block(struct lexer *lx, struct pvol *vols, int *nvols)
{
    int line = lx->tok_line, vnr;
    if (!parse_int(lx, "volume number", 65534, &vnr))
        return false;
    struct pvol *v = vol_slot(lx, vols, nvols, vnr, line);
    if (!v || !lex_expect(lx, TK_LBRACE, "after the volume number"))
        return false;
    char where[32];
    snprintf(where, sizeof(where), "volume %d", vnr);
    for (;;) {
        enum lex_item it = lex_block_item(lx, where);
        if (it != LEX_ITEM)
            return it == LEX_END;
        if (strcmp(lx->tok, "disk") == 0 && lex_peek(lx) == TK_LBRACE) {
            lex_next(lx); /* per-volume disk options: accepted, not used */
            if (!lex_skip_section(lx))
                return false;
            continue;
        }
        if (!parse_volume_item(lx, v))
            return false;
    }
}

/* ---- on HOST { ... } --------------------------------------------------------------------- */

static bool parse_on(struct parser *p, struct pres *r)
{
    struct lexer *lx = &p->lx;
    int line = lx->tok_line;
    if (!lex_word(lx, "a host name"))
        return false;
    if (!valid_name(lx->tok))
        return lex_error(lx, lx->tok_line, "invalid host name '%s'", lx->tok);
    for (int i = 0; i < r->nhosts; i++)
        if (strcmp(r->hosts[i].name, lx->tok) == 0)
            return lex_error(lx, lx->tok_line, "host '%s' defined twice", lx->tok);
    if (r->nhosts >= DRBD_MAX_NODES)
        return lex_error(lx, line, "too many hosts (at most %d)", DRBD_MAX_NODES);
    struct phost *h = &r->hosts[r->nhosts++];
    memset(h, 0, sizeof(*h));
    snprintf(h->name, sizeof(h->name), "%s", lx->tok);
    h->line = line;
    if (!lex_expect(lx, TK_LBRACE, "after the host name"))
        return false;
    char where[UMC_NAME_MAX + 8];
    snprintf(where, sizeof(where), "'on %s'", h->name);
    for (;;) {
        enum lex_item it = lex_block_item(lx, where);
        if (it != LEX_ITEM)
            return it == LEX_END;
        int kline = lx->tok_line;
        if (strcmp(lx->tok, "node-id") == 0) {
            if (!parse_int(lx, "node-id", DRBD_MAX_NODES - 1, &h->node_id) ||
                !expect_semi(lx, "node-id"))
                return false;
            h->has_id = true;
        } else if (strcmp(lx->tok, "address") == 0) {
            h->addr_line = kline;
            if (!parse_address(lx, h->address, sizeof(h->address)) || !expect_semi(lx, "address"))
                return false;
        } else if (strcmp(lx->tok, "volume") == 0) {
            if (!parse_volume_block(lx, h->vols, &h->nvols))
                return false;
        } else if (is_volume_item(lx->tok)) {
            struct pvol *v = vol_slot(lx, h->vols, &h->nvols, 0, kline);
            if (!v || !parse_volume_item(lx, v))
                return false;
        } else {
            return lex_error(lx, kline, "unknown keyword '%s' in 'on %s'", lx->tok, h->name);
        }
    }
}

/* ---- connections ---------------------------------------------------------------------------- */

static bool parse_mesh(struct parser *p, struct pres *r)
{
    struct lexer *lx = &p->lx;
    r->mesh_line = lx->tok_line;
    if (r->have_mesh)
        return lex_error(lx, lx->tok_line, "connection-mesh defined twice");
    r->have_mesh = true;
    if (!lex_expect(lx, TK_LBRACE, "after connection-mesh"))
        return false;
    for (;;) {
        enum lex_item it = lex_block_item(lx, "connection-mesh");
        if (it != LEX_ITEM)
            return it == LEX_END;
        if (strcmp(lx->tok, "net") == 0) {
            if (!opt_parse_section(lx, SECT_NET, &r->mesh_net))
                return false;
        } else if (strcmp(lx->tok, "hosts") == 0) {
            while (lex_peek(lx) == TK_WORD) {
                lex_next(lx);
                if (r->nmesh >= DRBD_MAX_NODES)
                    return lex_error(lx, lx->tok_line, "too many hosts in connection-mesh");
                snprintf(r->mesh[r->nmesh++], UMC_NAME_MAX, "%s", lx->tok);
            }
            if (!expect_semi(lx, "hosts"))
                return false;
        } else {
            return lex_error(lx, lx->tok_line, "unknown keyword '%s' in connection-mesh", lx->tok);
        }
    }
}

/* host NAME [address [af] IP:PORT] [port N]; */
static bool parse_conn_host(struct lexer *lx, struct pconn *c)
{
    if (c->nhosts >= 2)
        return lex_error(lx, lx->tok_line, "a connection names exactly two hosts");
    char *name = c->nhosts ? c->b : c->a;
    char *addr = c->nhosts ? c->addr_b : c->addr_a;
    c->nhosts++;
    if (!lex_word(lx, "a host name"))
        return false;
    snprintf(name, UMC_NAME_MAX, "%s", lx->tok);
    while (lex_peek(lx) == TK_WORD) {
        lex_next(lx);
        if (strcmp(lx->tok, "address") == 0) {
            if (!parse_address(lx, addr, UMC_ADDR_MAX))
                return false;
        } else if (strcmp(lx->tok, "port") == 0) {
            int port;
            if (!parse_int(lx, "port", 65535, &port))
                return false;
            snprintf(addr, UMC_ADDR_MAX, ":%d", port); /* the host's IP is filled in later */
        } else {
            return lex_error(lx, lx->tok_line, "unexpected '%s' in host statement", lx->tok);
        }
    }
    return expect_semi(lx, "host");
}

static bool parse_connection(struct parser *p, struct pres *r)
{
    struct lexer *lx = &p->lx;
    if (r->nconns >= DRBD_MAX_NODES)
        return lex_error(lx, lx->tok_line, "too many connection sections");
    struct pconn *c = &r->conns[r->nconns++];
    memset(c, 0, sizeof(*c));
    c->line = lx->tok_line;
    if (lex_peek(lx) == TK_WORD)
        lex_next(lx); /* an optional connection name */
    if (!lex_expect(lx, TK_LBRACE, "after connection"))
        return false;
    for (;;) {
        enum lex_item it = lex_block_item(lx, "connection");
        if (it == LEX_FAIL)
            return false;
        if (it == LEX_END)
            break;
        if (strcmp(lx->tok, "host") == 0) {
            if (!parse_conn_host(lx, c))
                return false;
        } else if (strcmp(lx->tok, "net") == 0) {
            if (!opt_parse_section(lx, SECT_NET, &c->net))
                return false;
        } else if (strcmp(lx->tok, "path") == 0 || strcmp(lx->tok, "disk") == 0 ||
                   strcmp(lx->tok, "volume") == 0) {
            if (strcmp(lx->tok, "volume") == 0 && lex_peek(lx) == TK_WORD)
                lex_next(lx);
            if (strcmp(lx->tok, "path") == 0) {
                /* a path restates the host addresses: take it as such */
                if (!lex_expect(lx, TK_LBRACE, "after path"))
                    return false;
                c->nhosts = 0;
                while (lex_peek(lx) == TK_WORD && strcmp(lx->ptok, "host") == 0) {
                    lex_next(lx);
                    if (!parse_conn_host(lx, c))
                        return false;
                }
                if (!lex_expect(lx, TK_RBRACE, "to close path"))
                    return false;
            } else if (!lex_expect(lx, TK_LBRACE, "after the keyword") || !lex_skip_section(lx)) {
                return false;
            }
        } else {
            return lex_error(lx, lx->tok_line, "unknown keyword '%s' in connection", lx->tok);
        }
    }
    if (c->nhosts != 2)
        return lex_error(lx, c->line, "a connection names exactly two hosts");
    return true;
}

/* ---- resource NAME { ... } ------------------------------------------------------------------ */

static bool parse_resource_item(struct parser *p, struct pres *r)
{
    struct lexer *lx = &p->lx;
    const char *w = lx->tok;
    int line = lx->tok_line;
    if (strcmp(w, "on") == 0)
        return parse_on(p, r);
    if (strcmp(w, "net") == 0)
        return opt_parse_section(lx, SECT_NET, &r->opts);
    if (strcmp(w, "options") == 0)
        return opt_parse_section(lx, SECT_OPTS, &r->opts);
    if (strcmp(w, "disk") == 0 && lex_peek(lx) == TK_LBRACE)
        return opt_parse_section(lx, SECT_DISK, &r->opts);
    if (strcmp(w, "connection-mesh") == 0)
        return parse_mesh(p, r);
    if (strcmp(w, "connection") == 0)
        return parse_connection(p, r);
    if (strcmp(w, "volume") == 0)
        return parse_volume_block(lx, r->defvols, &r->ndef);
    if (is_volume_item(w)) {
        struct pvol *v = vol_slot(lx, r->defvols, &r->ndef, 0, line);
        return v && parse_volume_item(lx, v);
    }
    if (strcmp(w, "handlers") == 0 || strcmp(w, "startup") == 0 || strcmp(w, "syncer") == 0) {
        return lex_expect(lx, TK_LBRACE, "after the section name") && lex_skip_section(lx);
    }
    if (strcmp(w, "floating") == 0 || strcmp(w, "stacked-on-top-of") == 0)
        return lex_error(lx, line, "'%s' sections are not supported", w);
    return lex_error(lx, line, "unknown keyword '%s' in resource %s", w, r->name);
}

static bool parse_resource(struct parser *p)
{
    struct lexer *lx = &p->lx;
    int line = lx->tok_line;
    if (!lex_word(lx, "a resource name"))
        return false;
    if (!valid_name(lx->tok))
        return lex_error(lx, lx->tok_line, "invalid resource name '%s'", lx->tok);
    for (int i = 0; i < p->nres; i++)
        if (strcmp(p->res[i]->name, lx->tok) == 0)
            return lex_error(lx, lx->tok_line, "resource %s defined twice", lx->tok);
    struct pres *r = umc_alloc(p->n, sizeof(*r));
    p->res = umc_realloc(p->n, p->res, (size_t)(p->nres + 1) * sizeof(*p->res));
    p->res[p->nres++] = r;
    snprintf(r->name, sizeof(r->name), "%s", lx->tok);
    r->line = line;
    if (!lex_expect(lx, TK_LBRACE, "after the resource name"))
        return false;
    char where[UMC_NAME_MAX + 16];
    snprintf(where, sizeof(where), "resource %s", r->name);
    for (;;) {
        enum lex_item it = lex_block_item(lx, where);
        if (it != LEX_ITEM)
            return it == LEX_END;
        if (!parse_resource_item(p, r))
            return false;
    }
}

static bool parse_common(struct parser *p)
{
    struct lexer *lx = &p->lx;
    if (!lex_expect(lx, TK_LBRACE, "after common"))
        return false;
    for (;;) {
        enum lex_item it = lex_block_item(lx, "common");
        if (it != LEX_ITEM)
            return it == LEX_END;
        const char *w = lx->tok;
        bool ok;
        if (strcmp(w, "net") == 0)
            ok = opt_parse_section(lx, SECT_NET, &p->common);
        else if (strcmp(w, "disk") == 0)
            ok = opt_parse_section(lx, SECT_DISK, &p->common);
        else if (strcmp(w, "options") == 0)
            ok = opt_parse_section(lx, SECT_OPTS, &p->common);
        else if (strcmp(w, "handlers") == 0 || strcmp(w, "startup") == 0)
            ok = lex_expect(lx, TK_LBRACE, "after the section name") && lex_skip_section(lx);
        else
            ok = lex_error(lx, lx->tok_line, "unknown section '%s' in common", w);
        if (!ok)
            return false;
    }
}

static bool parse_top(struct parser *p)
{
    struct lexer *lx = &p->lx;
    for (;;) {
        enum tok_kind k = lex_next(lx);
        if (k == TK_EOF)
            return true;
        if (k == TK_ERROR)
            return false;
        if (k != TK_WORD)
            return lex_error(lx, lx->tok_line, "expected 'resource', found '%s'", lx->tok);
        bool ok;
        if (strcmp(lx->tok, "resource") == 0)
            ok = parse_resource(p);
        else if (strcmp(lx->tok, "common") == 0)
            ok = parse_common(p);
        else if (strcmp(lx->tok, "global") == 0)
            ok = lex_expect(lx, TK_LBRACE, "after global") && lex_skip_section(lx);
        else if (strcmp(lx->tok, "include") == 0)
            ok = lex_error(lx, lx->tok_line, "include is not supported; pass each file on its own");
        else
            ok = lex_error(lx, lx->tok_line, "unknown top-level keyword '%s'", lx->tok);
        if (!ok)
            return false;
    }
}

/* ---- checks and the final form ------------------------------------------------------------- */

static int host_index(const struct pres *r, const char *name)
{
    for (int i = 0; i < r->nhosts; i++)
        if (strcmp(r->hosts[i].name, name) == 0)
            return i;
    return -1;
}

/* A host's volume with the resource-level defaults under it. */
static bool final_volume(struct lexer *lx, const struct pres *r, const struct phost *h,
                         const struct pvol *hv, int vnr, struct drbd_cfg_volume *out)
{
    struct pvol v = {.vnr = vnr, .line = h->line};
    for (int i = 0; i < r->ndef; i++)
        if (r->defvols[i].vnr == vnr)
            v = r->defvols[i];
    if (hv) {
        v.line = hv->line;
        if (hv->has_device) {
            memcpy(v.device, hv->device, sizeof(v.device));
            v.has_device = true;
            v.minor = hv->minor;
            v.has_minor = hv->has_minor;
        }
        if (hv->has_disk) {
            memcpy(v.disk, hv->disk, sizeof(v.disk));
            v.has_disk = true;
        }
        if (hv->has_meta)
            v.has_meta = v.meta_internal = true;
    }
    if (!v.has_device || !v.has_minor)
        return lex_error(lx, v.line, "volume %d of host %s has no device minor", vnr, h->name);
    if (!v.has_disk)
        return lex_error(lx, v.line, "volume %d of host %s has no disk", vnr, h->name);
    if (v.disk[0] && !v.has_meta)
        return lex_error(lx, v.line, "volume %d of host %s has no meta-disk", vnr, h->name);
    *out = (struct drbd_cfg_volume){.vnr = vnr, .minor = v.minor, .meta_internal = v.meta_internal,
                                    .line = v.line};
    memcpy(out->device, v.device, sizeof(out->device));
    memcpy(out->disk, v.disk, sizeof(out->disk));
    return true;
}

static bool check_host(struct lexer *lx, const struct pres *r, int hi, struct drbd_cfg_host *out)
{
    const struct phost *h = &r->hosts[hi];
    if (!h->has_id)
        return lex_error(lx, h->line, "missing node-id for host %s", h->name);
    if (!h->address[0] && r->nhosts > 1)
        return lex_error(lx, h->line, "missing address for host %s", h->name);
    for (int j = 0; j < hi; j++) {
        if (r->hosts[j].node_id == h->node_id)
            return lex_error(lx, h->line, "node-id %d used by %s and %s", h->node_id,
                             r->hosts[j].name, h->name);
        if (h->address[0] && strcmp(r->hosts[j].address, h->address) == 0)
            return lex_error(lx, h->addr_line, "address %s used by %s and %s", h->address,
                             r->hosts[j].name, h->name);
    }
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", h->name);
    memcpy(out->address, h->address, sizeof(out->address));
    out->node_id = h->node_id;
    out->line = h->line;
    /* the volume numbers: the host's and the resource-level ones */
    int vnrs[DRBD_MAX_VOLUMES], nv = 0;
    for (int i = 0; i < r->ndef; i++)
        vnrs[nv++] = r->defvols[i].vnr;
    for (int i = 0; i < h->nvols; i++) {
        bool seen = false;
        for (int j = 0; j < nv; j++)
            seen |= vnrs[j] == h->vols[i].vnr;
        if (!seen) {
            if (nv >= DRBD_MAX_VOLUMES)
                return lex_error(lx, h->vols[i].line, "too many volumes");
            vnrs[nv++] = h->vols[i].vnr;
        }
    }
    if (!nv)
        return lex_error(lx, h->line, "host %s has no volumes", h->name);
    for (int i = 0; i < nv; i++) {
        const struct pvol *hv = NULL;
        for (int j = 0; j < h->nvols; j++)
            if (h->vols[j].vnr == vnrs[i])
                hv = &h->vols[j];
        if (!final_volume(lx, r, h, hv, vnrs[i], &out->vols[i]))
            return false;
        for (int j = 0; j < i; j++)
            if (out->vols[j].minor == out->vols[i].minor ||
                strcmp(out->vols[j].device, out->vols[i].device) == 0)
                return lex_error(lx, out->vols[i].line, "minor %d / device %s used twice on %s",
                                 out->vols[i].minor, out->vols[i].device, h->name);
    }
    out->nvols = nv;
    return true;
}

static bool add_conn(struct lexer *lx, struct parser *p, struct drbd_res_cfg *cfg, const struct pres *r,
                     const char *a, const char *b, const char *addr_a, const char *addr_b,
                     const struct opt_set *net, int line)
{
    int ia = host_index(r, a), ib = host_index(r, b);
    if (ia < 0)
        return lex_error(lx, line, "connection names unknown host '%s'", a);
    if (ib < 0)
        return lex_error(lx, line, "connection names unknown host '%s'", b);
    if (ia == ib)
        return lex_error(lx, line, "connection from host %s to itself", a);
    for (int i = 0; i < cfg->nconns; i++)
        if ((cfg->conns[i].a == ia && cfg->conns[i].b == ib) ||
            (cfg->conns[i].a == ib && cfg->conns[i].b == ia))
            return lex_error(lx, line, "connection %s - %s defined twice", a, b);
    cfg->conns = umc_realloc(p->n, cfg->conns, (size_t)(cfg->nconns + 1) * sizeof(*cfg->conns));
    struct drbd_cfg_conn *c = &cfg->conns[cfg->nconns++];
    memset(c, 0, sizeof(*c));
    c->a = ia;
    c->b = ib;
    c->line = line;
    const char *addrs[2] = {addr_a, addr_b};
    char *outs[2] = {c->addr_a, c->addr_b};
    int idx[2] = {ia, ib};
    for (int k = 0; k < 2; k++) {
        const char *ad = addrs[k] ? addrs[k] : "";
        if (ad[0] == ':') { /* port only: the host's IP */
            const char *host_addr = r->hosts[idx[k]].address;
            const char *colon = strrchr(host_addr, ':');
            int iplen = colon ? (int)(colon - host_addr) : (int)strlen(host_addr);
            snprintf(outs[k], UMC_ADDR_MAX, "%.*s%s", iplen, host_addr, ad);
        } else {
            snprintf(outs[k], UMC_ADDR_MAX, "%s", ad);
        }
        if (!outs[k][0] && !r->hosts[idx[k]].address[0])
            return lex_error(lx, line, "no address for host %s", r->hosts[idx[k]].name);
    }
    struct opt_set merged = *net;
    opt_merge(&merged, &r->opts);
    c->net = merged.net;
    return true;
}

static bool build_conns(struct parser *p, struct pres *r, struct drbd_res_cfg *cfg)
{
    struct lexer *lx = &p->lx;
    for (int i = 0; i < r->nconns; i++) {
        struct pconn *c = &r->conns[i];
        struct opt_set net = c->net;
        if (r->have_mesh)
            opt_merge(&net, &r->mesh_net);
        if (!add_conn(lx, p, cfg, r, c->a, c->b, c->addr_a, c->addr_b, &net, c->line))
            return false;
    }
    if (r->have_mesh) {
        for (int i = 0; i < r->nmesh; i++)
            for (int j = i + 1; j < r->nmesh; j++) {
                bool explicit_conn = false;
                int ia = host_index(r, r->mesh[i]), ib = host_index(r, r->mesh[j]);
                for (int k = 0; k < cfg->nconns; k++)
                    explicit_conn |= (cfg->conns[k].a == ia && cfg->conns[k].b == ib) ||
                                     (cfg->conns[k].a == ib && cfg->conns[k].b == ia);
                if (explicit_conn && ia >= 0 && ib >= 0)
                    continue;
                if (!add_conn(lx, p, cfg, r, r->mesh[i], r->mesh[j], NULL, NULL, &r->mesh_net,
                              r->mesh_line))
                    return false;
            }
    } else if (!r->nconns && r->nhosts == 2) {
        struct opt_set none;
        memset(&none, 0, sizeof(none));
        if (!add_conn(lx, p, cfg, r, r->hosts[0].name, r->hosts[1].name, NULL, NULL, &none, r->line))
            return false;
    } else if (!r->nconns && r->nhosts > 2) {
        return lex_error(lx, r->line, "resource %s: more than two hosts need connection-mesh or "
                                      "connection sections", r->name);
    }
    return true;
}

static struct drbd_res_cfg *finalize(struct parser *p, struct pres *r)
{
    struct lexer *lx = &p->lx;
    opt_merge(&r->opts, &p->common);
    struct opt_set defaults;
    opt_set_defaults(&defaults);
    defaults.mask[0] = defaults.mask[1] = defaults.mask[2] = ~0ull;
    opt_merge(&r->opts, &defaults);
    if (!r->nhosts) {
        lex_error(lx, r->line, "resource %s has no 'on' sections", r->name);
        return NULL;
    }
    struct drbd_res_cfg *cfg = umc_alloc(p->n, sizeof(*cfg));
    snprintf(cfg->name, sizeof(cfg->name), "%s", r->name);
    snprintf(cfg->file, sizeof(cfg->file), "%s", lx->file);
    cfg->line = r->line;
    cfg->net = r->opts.net;
    cfg->disk = r->opts.disk;
    cfg->opts = r->opts.opts;
    cfg->hosts = umc_alloc(p->n, (size_t)r->nhosts * sizeof(*cfg->hosts));
    cfg->nhosts = r->nhosts;
    bool ok = true;
    for (int i = 0; ok && i < r->nhosts; i++)
        ok = check_host(lx, r, i, &cfg->hosts[i]);
    for (int i = 1; ok && i < r->nhosts; i++)
        for (int v = 0; ok && v < cfg->hosts[i].nvols; v++)
            if (cfg->hosts[i].vols[v].vnr != cfg->hosts[0].vols[v].vnr ||
                cfg->hosts[i].nvols != cfg->hosts[0].nvols)
                ok = lex_error(lx, cfg->hosts[i].line, "hosts %s and %s have different volumes",
                               cfg->hosts[0].name, cfg->hosts[i].name);
    if (ok && cfg->net.after_sb_0pri == ASB_DISCARD_NODE && host_index(r, cfg->net.discard_node) < 0)
        ok = lex_error(lx, r->line, "after-sb-0pri discard-node-%s: no such host",
                       cfg->net.discard_node);
    if (ok)
        ok = build_conns(p, r, cfg);
    if (!ok) {
        umc_free(p->n, cfg->hosts);
        umc_free(p->n, cfg->conns);
        umc_free(p->n, cfg);
        return NULL;
    }
    return cfg;
}

int drbd_config_parse(struct umc_node *n, const char *text, const char *filename,
                      struct drbd_cfg_file *out, char *err, size_t errlen)
{
    struct parser *p = umc_alloc(n, sizeof(*p));
    p->n = n;
    lex_init(&p->lx, text, filename, err, errlen);
    memset(&p->common, 0, sizeof(p->common));
    memset(out, 0, sizeof(*out));
    if (err && errlen)
        err[0] = 0;
    bool ok = parse_top(p);
    for (int i = 0; ok && i < p->nres; i++) {
        struct drbd_res_cfg *cfg = finalize(p, p->res[i]);
        if (!cfg) {
            ok = false;
            break;
        }
        out->res = umc_realloc(n, out->res, (size_t)(out->nres + 1) * sizeof(*out->res));
        out->res[out->nres++] = cfg;
    }
    for (int i = 0; i < p->nres; i++)
        umc_free(n, p->res[i]);
    umc_free(n, p->res);
    umc_free(n, p);
    if (!ok) {
        drbd_config_free(n, out);
        return -EINVAL;
    }
    return 0;
}

void drbd_res_cfg_free(struct umc_node *n, struct drbd_res_cfg *cfg);
void drbd_res_cfg_free(struct umc_node *n, struct drbd_res_cfg *cfg)
{
    if (!cfg)
        return;
    umc_free(n, cfg->hosts);
    umc_free(n, cfg->conns);
    umc_free(n, cfg);
}

void drbd_config_free(struct umc_node *n, struct drbd_cfg_file *f)
{
    for (int i = 0; i < f->nres; i++)
        drbd_res_cfg_free(n, f->res[i]);
    umc_free(n, f->res);
    f->res = NULL;
    f->nres = 0;
}
