/* I/O traces: what `scstd --record-io FILE` writes and `workload ... replay=FILE`
 * plays back (format in scenarios/README.md).  A text file, one I/O a line:
 *
 *   iotrace v1 size=67108864
 *   # time_us op offset length flags
 *   0 W 0 4096 -
 *   130 F 0 0 -
 *   140 W 1024 512 FUA,PREFLUSH
 *
 * time_us is when the I/O was submitted, in microseconds from the start of
 * the recording; op is R W F (flush) D (discard) Z (write zeroes); offset and
 * length are bytes (multiples of 512).  Data is not recorded: a replay writes
 * self-describing payloads instead.
 */
#ifndef SIM_IOTRACE_H
#define SIM_IOTRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "umc/umc.h"

struct iotrace_rec {
    uint64_t time_us;
    enum umc_bio_op op;
    uint32_t flags;          /* UMC_BIO_FUA, UMC_BIO_PREFLUSH */
    uint64_t offset, length;
};

struct iotrace {
    uint64_t size;           /* the recorded device's size (0 if unknown) */
    struct iotrace_rec *recs;
    size_t nrecs;
};

/* Read a trace; NULL with "FILE:LINE: problem" in err. */
struct iotrace *iotrace_load(const char *path, char *err, size_t errlen);
void iotrace_free(struct iotrace *t);
/* The highest byte any record touches. */
uint64_t iotrace_extent(const struct iotrace *t);

/* ---- the recorder (for scstd --record-io) ---------------------------------------- */

struct iotrace_writer;
/* NULL with errno set on failure. */
struct iotrace_writer *iotrace_writer_open(const char *path, uint64_t device_size);
/* t is the submission time in nanoseconds; the first record's time is zero. */
void iotrace_write(struct iotrace_writer *w, uint64_t t_ns, enum umc_bio_op op, uint32_t flags,
                   uint64_t offset, uint64_t length);
/* Record a bio as it is submitted. */
void iotrace_write_bio(struct iotrace_writer *w, uint64_t t_ns, const struct umc_bio *bio);
int iotrace_writer_close(struct iotrace_writer *w);   /* 0 or -errno */

#endif
