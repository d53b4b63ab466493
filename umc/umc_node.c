/* A node: memory it owns, its timers and deferred calls, random streams, log. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "umc/umc.h"
#include "umc/umc_internal.h"

#define ALLOC_MAGIC 0x756d63616c6c6f63ull /* "umcalloc" */

/* Every allocation carries a struct alloc_list header, linked into its node's
 * list, so a crash frees a node's memory in one sweep and a clean shutdown
 * finds what a component forgot to free. */

struct rng_stream {
    char name[32];
    struct mte_rng rng;
    struct rng_stream *next;
};

struct crash_hook {
    umc_crash_fn fn;
    void *arg;
    struct crash_hook *next;
};

struct anon_map {
    void *p;
    size_t size;
    struct anon_map *next;
};

static void fatal_oom(size_t size)
{
    fprintf(stderr, "umc: out of memory allocating %zu bytes\n", size);
    abort();
}

struct umc_node *umc_node_new(struct mte_engine *e, const struct umc_node_opts *opts)
{
    struct umc_node *n = calloc(1, sizeof(*n));
    if (!n)
        fatal_oom(sizeof(*n));
    n->engine = e;
    snprintf(n->name, sizeof(n->name), "%s", opts->name ? opts->name : "node");
    n->seed = opts->seed;
    n->net = opts->net ? opts->net : umc_tcp_backend();
    n->net_ctx = opts->net_ctx;
    n->fs = opts->fs;
    n->fs_ctx = opts->fs_ctx;
    n->print_level = opts->print_level;
    n->allocs.prev = n->allocs.next = &n->allocs;
    n->started = mte_now(e);
    return n;
}

const char *umc_node_name(const struct umc_node *n) { return n->name; }
struct mte_engine *umc_engine(const struct umc_node *n) { return n->engine; }
void umc_node_set_print_level(struct umc_node *n, enum umc_log_level level) { n->print_level = level; }
void *umc_net_ctx(const struct umc_node *n) { return n->net_ctx; }

void umc_node_set_slot(struct umc_node *n, enum umc_slot slot, void *state) { n->slots[slot] = state; }
void *umc_node_slot(const struct umc_node *n, enum umc_slot slot) { return n->slots[slot]; }

void umc_on_crash(struct umc_node *n, umc_crash_fn fn, void *arg)
{
    struct crash_hook *h = umc_alloc(n, sizeof(*h));
    h->fn = fn;
    h->arg = arg;
    struct crash_hook **pp = &n->crash_hooks;
    while (*pp)
        pp = &(*pp)->next;
    *pp = h;
}

void umc_set_bugs(struct umc_node *n, uint64_t mask) { n->bugs = mask; }
bool umc_bug(const struct umc_node *n, unsigned bug) { return bug < 64 && (n->bugs >> bug) & 1; }

/* ---- memory ---------------------------------------------------------------- */

static struct alloc_list *hdr_of(void *p)
{
    struct alloc_list *h = (struct alloc_list *)p - 1;
    if (h->magic != ALLOC_MAGIC) {
        fprintf(stderr, "umc: bad pointer %p freed or resized (not from umc_alloc, or freed twice)\n", p);
        abort();
    }
    return h;
}

static void link_alloc(struct umc_node *n, struct alloc_list *h)
{
    h->magic = ALLOC_MAGIC;
    h->next = n->allocs.next;
    h->prev = &n->allocs;
    h->next->prev = h;
    n->allocs.next = h;
    n->live_allocs++;
    n->live_bytes += h->size;
}

static void unlink_alloc(struct umc_node *n, struct alloc_list *h)
{
    h->prev->next = h->next;
    h->next->prev = h->prev;
    h->magic = 0;
    n->live_allocs--;
    n->live_bytes -= h->size;
}

void *umc_alloc(struct umc_node *n, size_t size)
{
    struct alloc_list *h = calloc(1, sizeof(*h) + size);
    if (!h)
        fatal_oom(size);
    h->size = size;
    link_alloc(n, h);
    return h + 1;
}

void *umc_realloc(struct umc_node *n, void *p, size_t size)
{
    if (!p)
        return umc_alloc(n, size);
    struct alloc_list *h = hdr_of(p);
    size_t old = h->size;
    unlink_alloc(n, h);
    struct alloc_list *nh = realloc(h, sizeof(*nh) + size);
    if (!nh)
        fatal_oom(size);
    if (size > old)
        memset((char *)(nh + 1) + old, 0, size - old);
    nh->size = size;
    link_alloc(n, nh);
    return nh + 1;
}

void umc_free(struct umc_node *n, void *p)
{
    if (!p)
        return;
    struct alloc_list *h = hdr_of(p);
    unlink_alloc(n, h);
    free(h);
}

char *umc_strdup(struct umc_node *n, const char *s)
{
    size_t len = strlen(s);
    char *d = umc_alloc(n, len + 1);
    memcpy(d, s, len);
    return d;
}

char *umc_asprintf(struct umc_node *n, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = umc_alloc(n, (size_t)(len < 0 ? 0 : len) + 1);
    if (len > 0)
        vsnprintf(s, (size_t)len + 1, fmt, ap2);
    va_end(ap2);
    return s;
}

size_t umc_live_allocs(const struct umc_node *n) { return n->live_allocs; }
size_t umc_live_bytes(const struct umc_node *n) { return n->live_bytes; }

/* Mappings (anonymous or of files) are tracked so crash and free unmap them. */
void umc_track_mapping(struct umc_node *n, void *p, size_t size)
{
    struct anon_map *m = calloc(1, sizeof(*m));
    if (!m)
        fatal_oom(sizeof(*m));
    m->p = p;
    m->size = size;
    m->next = n->maps;
    n->maps = m;
}

void umc_unmap_tracked(struct umc_node *n, void *p, size_t size)
{
    for (struct anon_map **pp = &n->maps; *pp; pp = &(*pp)->next) {
        struct anon_map *m = *pp;
        if (m->p == p) {
            *pp = m->next;
            size = m->size;
            free(m);
            break;
        }
    }
    munmap(p, size);
}

void *umc_map_anon(struct umc_node *n, size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    umc_track_mapping(n, p, size);
    return p;
}

void umc_unmap_anon(struct umc_node *n, void *p, size_t size) { umc_unmap_tracked(n, p, size); }

/* ---- teardown ---------------------------------------------------------------- */

static void free_node_memory(struct umc_node *n, bool report)
{
    size_t leaks = 0;
    while (n->allocs.next != &n->allocs) {
        struct alloc_list *h = n->allocs.next;
        if (report && leaks++ < 20)
            fprintf(stderr, "umc: %s: leaked %zu bytes at %p\n", n->name, h->size, (void *)(h + 1));
        unlink_alloc(n, h);
        free(h);
    }
    while (n->maps) {
        struct anon_map *m = n->maps;
        n->maps = m->next;
        munmap(m->p, m->size);
        free(m);
    }
    while (n->rngs) {
        struct rng_stream *r = n->rngs;
        n->rngs = r->next;
        free(r);
    }
}

size_t umc_node_free(struct umc_node *n)
{
    if (!n)
        return 0;
    umc_net_node_teardown(n, false);
    mte_cancel_owner(n->engine, n);
    n->crash_hooks = NULL; /* their memory is in the node's list */
    size_t leaks = n->live_allocs;
    free_node_memory(n, true);
    free(n);
    return leaks;
}

void umc_node_crash(struct umc_node *n)
{
    for (struct crash_hook *h = n->crash_hooks; h; h = h->next)
        h->fn(h->arg);
    umc_net_node_teardown(n, true);
    mte_cancel_owner(n->engine, n);
    free_node_memory(n, false);
    free(n);
}

/* ---- time and scheduling ------------------------------------------------------ */

mte_time_t umc_now(const struct umc_node *n) { return mte_now(n->engine); }

void umc_timer_init(struct umc_node *n, struct mte_timer *t, mte_fn fn, void *arg)
{
    mte_timer_init(t, fn, arg, n);
}

void umc_timer_arm_in(struct umc_node *n, struct mte_timer *t, mte_time_t delay)
{
    mte_timer_arm_in(n->engine, t, delay);
}

void umc_timer_arm_at(struct umc_node *n, struct mte_timer *t, mte_time_t when)
{
    mte_timer_arm(n->engine, t, when);
}

bool umc_timer_cancel(struct umc_node *n, struct mte_timer *t) { return mte_timer_cancel(n->engine, t); }
void umc_defer(struct umc_node *n, mte_fn fn, void *arg) { mte_defer(n->engine, n, fn, arg); }
void umc_defer_low(struct umc_node *n, mte_fn fn, void *arg) { mte_defer_low(n->engine, n, fn, arg); }

/* ---- randomness --------------------------------------------------------------- */

struct mte_rng *umc_rng(struct umc_node *n, const char *stream)
{
    for (struct rng_stream *r = n->rngs; r; r = r->next)
        if (strcmp(r->name, stream) == 0)
            return &r->rng;
    struct rng_stream *r = calloc(1, sizeof(*r));
    if (!r)
        fatal_oom(sizeof(*r));
    snprintf(r->name, sizeof(r->name), "%s", stream);
    char full[UMC_NAME_MAX + 40];
    snprintf(full, sizeof(full), "%s/%s", n->name, stream);
    mte_rng_init(&r->rng, n->seed, full);
    r->next = n->rngs;
    n->rngs = r;
    return &r->rng;
}

/* ---- logging ------------------------------------------------------------------- */

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

bool umc_debug_enabled(const struct umc_node *n) { return n->print_level >= UMC_LOG_DEBUG; }

static size_t format_prefix(const struct umc_node *n, char *buf, size_t size, const char *component)
{
    mte_time_t t = umc_now(n);
    if (mte_clock_kind(n->engine) == MTE_CLOCK_REAL)
        t -= n->started;
    int len = snprintf(buf, size, "%llu.%06llu %s %s: ", (unsigned long long)(t / MTE_SEC),
                       (unsigned long long)(t % MTE_SEC / MTE_USEC), n->name, component);
    return len < 0 ? 0 : (size_t)len >= size ? size - 1 : (size_t)len;
}

void umc_vlog(struct umc_node *n, enum umc_log_level level, const char *component, const char *fmt,
              va_list ap)
{
    char line[1024];
    size_t len = format_prefix(n, line, sizeof(line), component);
    if (level < UMC_LOG_INFO)
        len += (size_t)snprintf(line + len, sizeof(line) - len, "%s: ", level_names[level]);
    if (len < sizeof(line))
        vsnprintf(line + len, sizeof(line) - len, fmt, ap);
    if (level <= UMC_LOG_INFO)
        mte_trace(n->engine, line);
    if (level <= n->print_level)
        fprintf(stderr, "%s\n", line);
}

void umc_log(struct umc_node *n, enum umc_log_level level, const char *component, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    umc_vlog(n, level, component, fmt, ap);
    va_end(ap);
}

void umc_trace(struct umc_node *n, const char *component, const char *fmt, ...)
{
    char line[1024];
    size_t len = format_prefix(n, line, sizeof(line), component);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + len, sizeof(line) - len, fmt, ap);
    va_end(ap);
    mte_trace(n->engine, line);
}
