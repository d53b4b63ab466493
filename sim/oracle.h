/* The per-block oracle of one workload.
 *
 * The workload never has two writes in flight on one unit (its smallest block
 * size), so the writes to a unit are totally ordered by write id.  Per unit
 * the oracle keeps three ids: the last acknowledged write, the last durable
 * one (acknowledged and then flushed, or FUA), and the last issued.  A sector
 * may then hold exactly the writes in [floor, last], where floor is the last
 * write acknowledged before the reader looked: the acknowledged value, or one
 * whose outcome is unknown (in flight, failed, lost in a crash).  12 bytes a
 * unit: 3 MiB for a 1 GiB span of 4 KiB units.
 *
 * For protocols A and B a failover keeps a prefix: a write log (unit range and
 * acknowledgements seen when issued) lets the oracle check write-order
 * fidelity on the new primary's disk.
 */
#ifndef SIM_ORACLE_H
#define SIM_ORACLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct oracle;

/* A verdict on one sector. */
enum oracle_verdict {
    ORACLE_OK,
    ORACLE_LOST,      /* older than a write acknowledged before the read */
    ORACLE_CORRUPT,   /* not a valid sector of this workload for this LBA */
    ORACLE_PHANTOM,   /* a write id never issued to this unit */
};

struct oracle_finding {
    enum oracle_verdict verdict;
    uint64_t sector;          /* device LBA in 512-byte sectors */
    uint32_t found, floor, last;
    const char *what;         /* payload state name */
};

/* span bytes starting at device offset base, in units of unit bytes. */
struct oracle *oracle_new(uint64_t base, uint64_t span, uint32_t unit, uint32_t tag);
void oracle_free(struct oracle *o);
uint32_t oracle_unit(const struct oracle *o);
uint64_t oracle_units(const struct oracle *o);
uint64_t oracle_base(const struct oracle *o);
uint32_t oracle_tag(const struct oracle *o);
bool oracle_written(const struct oracle *o, uint64_t unit);   /* ever written */

/* ---- writes --------------------------------------------------------------------------- */

bool oracle_busy(const struct oracle *o, uint64_t unit0, uint32_t n); /* a write in flight there */
uint32_t oracle_write_issue(struct oracle *o, uint64_t unit0, uint32_t n);
/* ok: acknowledged at virtual time now (durable with fua); else its outcome
 * stays unknown. */
void oracle_write_done(struct oracle *o, uint32_t id, bool ok, bool fua, uint64_t now);

/* ---- flushes -------------------------------------------------------------------------- */

uint64_t oracle_flush_issue(const struct oracle *o);            /* a token */
void oracle_flush_done(struct oracle *o, uint64_t token, bool ok);

/* ---- reads ---------------------------------------------------------------------------- */

/* The floors a read issued now must respect (n units from unit0). */
void oracle_read_floors(const struct oracle *o, uint64_t unit0, uint32_t n, uint32_t *floors);
/* Check sectors of a read (buf holds n units from unit0).  Returns false and
 * fills *bad for the first bad sector. */
bool oracle_check(const struct oracle *o, uint64_t unit0, uint32_t n, const uint32_t *floors,
                  const unsigned char *buf, struct oracle_finding *bad);

/* ---- crashes and failover --------------------------------------------------------------- */

/* Nothing is certain any more: a block may hold any write issued to it, or zeros. */
void oracle_forget(struct oracle *o);
/* The writer lost its volatile cache: only durable writes are certain now. */
void oracle_regress_to_durable(struct oracle *o);

/* How to judge a whole replica image. */
struct oracle_image_check {
    /* protocols A, B: acknowledged writes may be missing as long as what is
     * there is a prefix in acknowledgement order */
    bool prefix_only;
    /* otherwise every write acknowledged before cutoff (virtual time) must be
     * there; UINT64_MAX: every acknowledged write */
    uint64_t cutoff;
    /* afterwards what the image holds is the truth */
    bool adopt;
};
/* Check an image read through read_fn (device bytes).  Returns false with
 * *bad on a violation. */
typedef void (*oracle_read_fn)(void *arg, uint64_t offset, void *buf, size_t len);
bool oracle_check_image(struct oracle *o, oracle_read_fn read_fn, void *arg,
                        const struct oracle_image_check *how, struct oracle_finding *bad);

struct oracle_stats {
    uint64_t writes_issued, writes_acked, writes_unknown, flushes;
    uint64_t units_written;
};
void oracle_get_stats(const struct oracle *o, struct oracle_stats *st);
/* A write was acknowledged at or after t (virtual time). */
bool oracle_acked_since(const struct oracle *o, uint64_t t);

#endif
