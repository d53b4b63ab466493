/* faultnet: the network object, hosts, addresses, links, statistics. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultnet/faultnet.h"
#include "faultnet/faultnet_internal.h"

void *fn_xmalloc(size_t size)
{
    void *p = malloc(size);
    if (!p) {
        fprintf(stderr, "faultnet: out of memory allocating %zu bytes\n", size);
        abort();
    }
    return p;
}

void *fn_xcalloc(size_t size)
{
    void *p = fn_xmalloc(size);
    memset(p, 0, size);
    return p;
}

/* A 10 GbE LAN: 100 us one way, TCP-like window, a patient connect. */
void faultnet_default_params(struct faultnet_params *p)
{
    *p = (struct faultnet_params){
        .link = {.latency = 100 * MTE_USEC, .jitter = 0, .bandwidth = 1250000000ull},
        .window = 4u << 20,
        .connect_timeout = 3 * MTE_SEC,
    };
}

struct faultnet *faultnet_new(struct mte_engine *e, uint64_t seed, const struct faultnet_params *p)
{
    struct faultnet *fn = fn_xcalloc(sizeof(*fn));
    fn->e = e;
    if (p)
        fn->params = *p;
    else
        faultnet_default_params(&fn->params);
    mte_rng_init(&fn->rng, seed, "net");
    return fn;
}

/* Connections still open when the network goes lose it: their ends report
 * -ENETDOWN and never hear from faultnet again. */
static void orphan_nodes_objects(struct faultnet *fn)
{
    for (struct fn_pipe *p = fn->pipes; p; p = p->next) {
        for (int side = 0; side < 2; side++) {
            struct fn_conn *c = p->end[side].conn;
            if (c) {
                c->pipe = NULL;
                c->err = -ENETDOWN;
            }
        }
    }
    for (struct fn_host *h = fn->hosts; h; h = h->next)
        while (h->listeners)
            fn_listener_unhook(h->listeners);
}

void faultnet_free(struct faultnet *fn)
{
    if (!fn)
        return;
    orphan_nodes_objects(fn);
    mte_cancel_owner(fn->e, fn);
    while (fn->pipes)
        fn_pipe_free(fn->pipes);
    while (fn->scheds) {
        struct fn_sched *s = fn->scheds;
        fn->scheds = s->next;
        free(s);
    }
    while (fn->links) {
        struct fn_link *l = fn->links;
        fn->links = l->next;
        free(l);
    }
    while (fn->hosts) {
        struct fn_host *h = fn->hosts;
        fn->hosts = h->next;
        free(h);
    }
    free(fn);
}

void faultnet_get_stats(const struct faultnet *fn, struct faultnet_stats *st) { *st = fn->stats; }

void fn_trace(struct faultnet *fn, const char *fmt, ...)
{
    char line[256];
    mte_time_t t = mte_now(fn->e);
    int len = snprintf(line, sizeof(line), "%llu.%06llu faultnet: ",
                       (unsigned long long)(t / MTE_SEC), (unsigned long long)(t % MTE_SEC / MTE_USEC));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + len, sizeof(line) - (size_t)len, fmt, ap);
    va_end(ap);
    mte_trace(fn->e, line);
}

/* ---- hosts ---------------------------------------------------------------------- */

struct fn_host *fn_host_find(struct faultnet *fn, const char *name_or_ip)
{
    for (struct fn_host *h = fn->hosts; h; h = h->next)
        if (strcmp(h->name, name_or_ip) == 0 || strcmp(h->ip, name_or_ip) == 0)
            return h;
    return NULL;
}

static bool valid_ipv4(const char *ip)
{
    struct in_addr a;
    return inet_pton(AF_INET, ip, &a) == 1;
}

int faultnet_add_host(struct faultnet *fn, const char *name, const char *ip)
{
    if (!name[0] || strlen(name) >= UMC_NAME_MAX || strlen(ip) >= FN_IP_MAX || !valid_ipv4(ip) ||
        valid_ipv4(name))
        return -EINVAL;
    if (fn_host_find(fn, name) || fn_host_find(fn, ip))
        return -EEXIST;
    struct fn_host *h = fn_xcalloc(sizeof(*h));
    h->fn = fn;
    snprintf(h->name, sizeof(h->name), "%s", name);
    snprintf(h->ip, sizeof(h->ip), "%s", ip);
    h->crash_mode = FAULTNET_CRASH_RESET;
    h->next_port = FN_PORT_FIRST_EPHEMERAL;
    if (fn->hosts_tail)
        fn->hosts_tail->next = h;
    else
        fn->hosts = h;
    fn->hosts_tail = h;
    return 0;
}

void *faultnet_host_ctx(struct faultnet *fn, const char *host) { return fn_host_find(fn, host); }

void faultnet_set_crash_mode(struct faultnet *fn, const char *host, enum faultnet_crash mode)
{
    struct fn_host *h = fn_host_find(fn, host);
    if (h)
        h->crash_mode = mode;
}

static bool means_self(const char *host)
{
    return !host[0] || strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0 ||
           strcmp(host, "localhost") == 0 || strcmp(host, "127.0.0.1") == 0;
}

static int parse_port(const char *s, uint32_t *port)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -EINVAL;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || v > 65535)
        return -EINVAL;
    *port = (uint32_t)v;
    return 0;
}

/* "host:port" with host a name, an IPv4 address, or empty/0.0.0.0 for self. */
int fn_parse_addr(struct fn_host *self, const char *addr, struct fn_host **host, uint32_t *port)
{
    char name[UMC_ADDR_MAX];
    const char *colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= sizeof(name))
        return -EINVAL;
    memcpy(name, addr, (size_t)(colon - addr));
    name[colon - addr] = '\0';
    int err = parse_port(colon + 1, port);
    if (err)
        return err;
    *host = means_self(name) ? self : fn_host_find(self->fn, name);
    return *host ? 0 : -EHOSTUNREACH;
}

/* ---- links ---------------------------------------------------------------------- */

static void clog_lifted(void *arg)
{
    struct fn_link *l = arg;
    l->clogged = false;
    fn_trace(l->fn, "clog %s->%s lifted", l->src->name, l->dst->name);
    fn_release_held_on(l->fn, l);
}

/* The link src->dst, created with the default parameters on first use. */
struct fn_link *fn_link_get(struct faultnet *fn, struct fn_host *src, struct fn_host *dst)
{
    for (struct fn_link *l = fn->links; l; l = l->next)
        if (l->src == src && l->dst == dst)
            return l;
    struct fn_link *l = fn_xcalloc(sizeof(*l));
    l->fn = fn;
    l->src = src;
    l->dst = dst;
    l->params = fn->params.link;
    mte_timer_init(&l->clog_timer, clog_lifted, l, fn);
    if (fn->links_tail)
        fn->links_tail->next = l;
    else
        fn->links = l;
    fn->links_tail = l;
    return l;
}

const struct faultnet_link *fn_link_params(const struct fn_link *l)
{
    return l->slows ? &l->slow : &l->params;
}

bool fn_link_blocked(const struct fn_link *l) { return l->partitions || l->clogged; }

bool faultnet_first_cut(const struct faultnet *fn, const char **a, const char **b)
{
    for (const struct fn_link *l = fn->links; l; l = l->next)
        if (fn_link_blocked(l) || l->blackholes) {
            *a = l->src->name;
            *b = l->dst->name;
            return true;
        }
    return false;
}

int faultnet_set_link(struct faultnet *fn, const char *a, const char *b,
                      const struct faultnet_link *link)
{
    struct fn_host *ha = fn_host_find(fn, a), *hb = fn_host_find(fn, b);
    if (!ha || !hb)
        return -ENOENT;
    fn_link_get(fn, ha, hb)->params = *link;
    fn_link_get(fn, hb, ha)->params = *link;
    return 0;
}
