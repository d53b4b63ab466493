/* The per-block oracle (see oracle.h for the model). */
#include <stdlib.h>
#include <string.h>

#include "sim/oracle.h"
#include "sim/payload.h"

struct unit_state {
    uint32_t acked, durable, last;
    uint32_t base;            /* acked when the acknowledgement log was last cleared */
};

/* What the log keeps of each write, indexed by write id. */
struct write_rec {
    uint32_t unit0, n;
    uint32_t acks_at_issue;   /* acknowledgements seen when it was issued */
};

struct ack_ent {
    uint32_t id;
    uint32_t ack_no;
    uint64_t time;            /* virtual time of the acknowledgement */
};

struct oracle {
    uint64_t base;
    uint32_t unit, sectors_per_unit, tag;
    uint64_t nunits;
    struct unit_state *u;
    uint8_t *busy;                 /* bit per unit: a write in flight */
    uint32_t next_id;
    struct write_rec *writes;      /* [id] */
    size_t writes_cap;
    uint32_t acks;                 /* acknowledgements so far */
    struct ack_ent *ack_log;       /* acknowledgements since the last adopt, in order */
    size_t ack_len, ack_cap;
    struct ack_ent *pending;       /* acknowledged, not yet durable, in ack order */
    size_t pend_head, pend_len, pend_cap;
    struct oracle_stats stats;
};

static void *xrealloc(void *p, size_t size)
{
    p = realloc(p, size);
    if (!p && size)
        abort();
    return p;
}

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    *cap = c;
    return xrealloc(p, c * elem);
}

struct oracle *oracle_new(uint64_t base, uint64_t span, uint32_t unit, uint32_t tag)
{
    struct oracle *o = calloc(1, sizeof(*o));
    if (!o)
        abort();
    o->base = base;
    o->unit = unit;
    o->sectors_per_unit = unit / PAYLOAD_SECTOR;
    o->tag = tag;
    o->nunits = span / unit;
    o->u = calloc(o->nunits ? o->nunits : 1, sizeof(*o->u));
    o->busy = calloc(o->nunits / 8 + 1, 1);
    if (!o->u || !o->busy)
        abort();
    o->next_id = 1;
    return o;
}

void oracle_free(struct oracle *o)
{
    if (!o)
        return;
    free(o->u);
    free(o->busy);
    free(o->writes);
    free(o->ack_log);
    free(o->pending);
    free(o);
}

uint32_t oracle_unit(const struct oracle *o) { return o->unit; }
uint64_t oracle_units(const struct oracle *o) { return o->nunits; }
uint64_t oracle_base(const struct oracle *o) { return o->base; }
uint32_t oracle_tag(const struct oracle *o) { return o->tag; }
bool oracle_written(const struct oracle *o, uint64_t unit) { return o->u[unit].last != 0; }

/* ---- writes ------------------------------------------------------------------------------ */

static bool busy_bit(const struct oracle *o, uint64_t i) { return o->busy[i / 8] >> (i % 8) & 1; }

static void set_busy(struct oracle *o, uint64_t unit0, uint32_t n, bool on)
{
    for (uint64_t i = unit0; i < unit0 + n; i++) {
        if (on)
            o->busy[i / 8] |= (uint8_t)(1u << (i % 8));
        else
            o->busy[i / 8] &= (uint8_t)~(1u << (i % 8));
    }
}

bool oracle_busy(const struct oracle *o, uint64_t unit0, uint32_t n)
{
    for (uint64_t i = unit0; i < unit0 + n; i++)
        if (busy_bit(o, i))
            return true;
    return false;
}

uint32_t oracle_write_issue(struct oracle *o, uint64_t unit0, uint32_t n)
{
    uint32_t id = o->next_id++;
    o->writes = grow(o->writes, &o->writes_cap, (size_t)id + 1, sizeof(*o->writes));
    o->writes[id] = (struct write_rec){(uint32_t)unit0, n, o->acks};
    for (uint64_t i = unit0; i < unit0 + n; i++)
        o->u[i].last = id;
    set_busy(o, unit0, n, true);
    o->stats.writes_issued++;
    return id;
}

static void push_ack(struct ack_ent **arr, size_t *len, size_t *cap, struct ack_ent e)
{
    *arr = grow(*arr, cap, *len + 1, sizeof(**arr));
    (*arr)[(*len)++] = e;
}

static void mark_durable(struct oracle *o, uint32_t id)
{
    const struct write_rec *w = &o->writes[id];
    for (uint64_t i = w->unit0; i < (uint64_t)w->unit0 + w->n; i++)
        if (o->u[i].durable < id && o->u[i].acked >= id)
            o->u[i].durable = id;
}

void oracle_write_done(struct oracle *o, uint32_t id, bool ok, bool fua, uint64_t now)
{
    const struct write_rec *w = &o->writes[id];
    set_busy(o, w->unit0, w->n, false);
    if (!ok) {
        o->stats.writes_unknown++;
        return;
    }
    o->stats.writes_acked++;
    for (uint64_t i = w->unit0; i < (uint64_t)w->unit0 + w->n; i++)
        if (o->u[i].acked < id)
            o->u[i].acked = id;
    struct ack_ent e = {id, o->acks++, now};
    push_ack(&o->ack_log, &o->ack_len, &o->ack_cap, e);
    if (fua) {
        mark_durable(o, id);
        return;
    }
    /* compact the pending queue when its dead head is half of it */
    if (o->pend_head > 1024 && o->pend_head * 2 > o->pend_len) {
        memmove(o->pending, o->pending + o->pend_head, (o->pend_len - o->pend_head) * sizeof(*o->pending));
        o->pend_len -= o->pend_head;
        o->pend_head = 0;
    }
    push_ack(&o->pending, &o->pend_len, &o->pend_cap, e);
}

/* ---- flushes ----------------------------------------------------------------------------- */

uint64_t oracle_flush_issue(const struct oracle *o) { return o->acks; }

void oracle_flush_done(struct oracle *o, uint64_t token, bool ok)
{
    if (!ok)
        return;
    o->stats.flushes++;
    while (o->pend_head < o->pend_len && o->pending[o->pend_head].ack_no < token)
        mark_durable(o, o->pending[o->pend_head++].id);
}

/* ---- reads ------------------------------------------------------------------------------- */

void oracle_read_floors(const struct oracle *o, uint64_t unit0, uint32_t n, uint32_t *floors)
{
    for (uint32_t i = 0; i < n; i++)
        floors[i] = o->u[unit0 + i].acked;
}

/* One sector against [floor, last]. */
static bool check_sector(const struct oracle *o, uint64_t unit, uint32_t floor, const unsigned char *sec,
                         uint64_t lba, struct oracle_finding *f)
{
    uint32_t id = 0;
    enum payload_state st = payload_decode(sec, lba, o->tag, &id);
    *f = (struct oracle_finding){ORACLE_OK, lba, id, floor, o->u[unit].last, payload_state_name(st)};
    if (st != PAYLOAD_OK && st != PAYLOAD_ZERO) {
        f->verdict = ORACLE_CORRUPT;
        return false;
    }
    if (id < floor) {
        f->verdict = ORACLE_LOST;
        return false;
    }
    if (id > o->u[unit].last) {
        f->verdict = ORACLE_PHANTOM;
        return false;
    }
    return true;
}

bool oracle_check(const struct oracle *o, uint64_t unit0, uint32_t n, const uint32_t *floors,
                  const unsigned char *buf, struct oracle_finding *bad)
{
    uint64_t lba0 = (o->base + unit0 * o->unit) / PAYLOAD_SECTOR;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t s = 0; s < o->sectors_per_unit; s++) {
            size_t k = (size_t)i * o->sectors_per_unit + s;
            if (!check_sector(o, unit0 + i, floors[i], buf + k * PAYLOAD_SECTOR, lba0 + k, bad))
                return false;
        }
    return true;
}

/* ---- crashes and failover ----------------------------------------------------------------- */

/* The acknowledgements so far are settled: acked becomes every unit's base. */
static void settle_log(struct oracle *o)
{
    for (uint64_t i = 0; i < o->nunits; i++)
        o->u[i].base = o->u[i].acked;
    o->ack_len = 0;
    o->pend_head = o->pend_len = 0;
}

void oracle_forget(struct oracle *o)
{
    for (uint64_t i = 0; i < o->nunits; i++)
        o->u[i].acked = o->u[i].durable = 0;
    settle_log(o);
}

void oracle_regress_to_durable(struct oracle *o)
{
    for (uint64_t i = 0; i < o->nunits; i++)
        o->u[i].acked = o->u[i].durable;
    settle_log(o);
}

/* Per unit: the last write acknowledged before cutoff. */
static void floors_at(const struct oracle *o, uint64_t cutoff, uint32_t *floors)
{
    for (uint64_t i = 0; i < o->nunits; i++)
        floors[i] = cutoff == UINT64_MAX ? o->u[i].acked : o->u[i].base;
    if (cutoff == UINT64_MAX)
        return;
    for (size_t k = 0; k < o->ack_len && o->ack_log[k].time < cutoff; k++) {
        const struct write_rec *w = &o->writes[o->ack_log[k].id];
        for (uint64_t i = w->unit0; i < (uint64_t)w->unit0 + w->n; i++)
            if (floors[i] < o->ack_log[k].id)
                floors[i] = o->ack_log[k].id;
    }
}

/* Per unit: the smallest write id any of its sectors holds.  Checks every
 * sector against [floor, last] (no floors: 0). */
static bool scan_image(struct oracle *o, oracle_read_fn read_fn, void *arg, const uint32_t *floors,
                       uint32_t *min_found, uint32_t *max_found, struct oracle_finding *bad)
{
    unsigned char *buf = malloc(o->unit);
    if (!buf)
        abort();
    bool ok = true;
    *max_found = 0;
    for (uint64_t i = 0; i < o->nunits && ok; i++) {
        min_found[i] = 0;
        if (!o->u[i].last)
            continue;
        read_fn(arg, o->base + i * o->unit, buf, o->unit);
        uint32_t floor = floors ? floors[i] : 0;
        uint32_t lo = UINT32_MAX;
        uint64_t lba0 = (o->base + i * o->unit) / PAYLOAD_SECTOR;
        for (uint32_t s = 0; s < o->sectors_per_unit && ok; s++) {
            ok = check_sector(o, i, floor, buf + (size_t)s * PAYLOAD_SECTOR, lba0 + s, bad);
            if (bad->found < lo)
                lo = bad->found;
            if (bad->found > *max_found)
                *max_found = bad->found;
        }
        min_found[i] = lo;
    }
    free(buf);
    return ok;
}

/* Write-order fidelity: every write acknowledged before the newest write on
 * the image was issued must be on the image (or overwritten there). */
static bool check_prefix(struct oracle *o, const uint32_t *min_found, uint32_t newest,
                         struct oracle_finding *bad)
{
    if (!newest)
        return true;
    uint32_t acks_before = o->writes[newest].acks_at_issue;
    uint32_t *required = calloc(o->nunits ? o->nunits : 1, sizeof(*required));
    if (!required)
        abort();
    for (size_t k = 0; k < o->ack_len && o->ack_log[k].ack_no < acks_before; k++) {
        const struct write_rec *w = &o->writes[o->ack_log[k].id];
        for (uint64_t i = w->unit0; i < (uint64_t)w->unit0 + w->n; i++)
            if (required[i] < o->ack_log[k].id)
                required[i] = o->ack_log[k].id;
    }
    bool ok = true;
    for (uint64_t i = 0; i < o->nunits && ok; i++) {
        if (min_found[i] >= required[i])
            continue;
        ok = false;
        *bad = (struct oracle_finding){ORACLE_LOST, (o->base + i * o->unit) / PAYLOAD_SECTOR,
                                       min_found[i], required[i], newest, "not a prefix"};
    }
    free(required);
    return ok;
}

static void adopt_image(struct oracle *o, const uint32_t *min_found)
{
    for (uint64_t i = 0; i < o->nunits; i++) {
        if (!o->u[i].last)
            continue;
        o->u[i].acked = min_found[i];
        if (o->u[i].durable > min_found[i])
            o->u[i].durable = min_found[i];
    }
    settle_log(o); /* acknowledgements before this point are settled by the image */
}

bool oracle_check_image(struct oracle *o, oracle_read_fn read_fn, void *arg,
                        const struct oracle_image_check *how, struct oracle_finding *bad)
{
    size_t n = o->nunits ? o->nunits : 1;
    uint32_t *min_found = calloc(n, sizeof(*min_found));
    uint32_t *floors = how->prefix_only ? NULL : calloc(n, sizeof(*floors));
    if (!min_found || (!how->prefix_only && !floors))
        abort();
    if (floors)
        floors_at(o, how->cutoff, floors);
    uint32_t newest = 0;
    *bad = (struct oracle_finding){0};
    bool ok = scan_image(o, read_fn, arg, floors, min_found, &newest, bad);
    if (ok && how->prefix_only)
        ok = check_prefix(o, min_found, newest, bad);
    if (ok && how->adopt)
        adopt_image(o, min_found);
    free(min_found);
    free(floors);
    return ok;
}

void oracle_get_stats(const struct oracle *o, struct oracle_stats *st)
{
    *st = o->stats;
    st->units_written = 0;
    for (uint64_t i = 0; i < o->nunits; i++)
        st->units_written += o->u[i].last != 0;
}

bool oracle_acked_since(const struct oracle *o, uint64_t t)
{
    return o->ack_len && o->ack_log[o->ack_len - 1].time >= t;
}
