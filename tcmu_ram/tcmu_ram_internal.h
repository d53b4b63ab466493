/* Private to tcmu_ram/: the host and device structures, the built-in handlers,
 * and the interface between the node-side simdisk handler and its media. */
#ifndef TCMU_RAM_INTERNAL_H
#define TCMU_RAM_INTERNAL_H

#include "tcmu_ram/tcmu_ram.h"

#define TCMU_COMPONENT "tcmu"

struct glue_cmd;

struct tcmu_device {
    struct tcmu_host *host;
    const struct tcmur_handler *handler;
    struct umc_bdev bdev;
    char *cfgstring;            /* after "<subtype>/" */
    uint64_t size;
    uint32_t block_size;
    void *handler_arg;
    void *priv;                 /* the handler's */
    bool write_cache;
    bool opened;                /* handler->open succeeded: close on removal */
    struct glue_cmd *inflight;  /* bios handed to the handler, not yet done */
    struct tcmu_device *next;   /* host's list, in add order */
};

struct tcmu_host {
    struct umc_node *node;
    const struct tcmur_handler **handlers;
    size_t nr_handlers;
    struct tcmu_device *devices;
};

/* bio_tcmu.c: the bdev side of a device. */
const struct umc_bdev_ops *tcmu_glue_ops(void);
/* Teardown: bios still in flight fail with -ENODEV (submitters that went
 * away first must have orphaned theirs, as drbd does). */
void tcmu_glue_fail_inflight(struct tcmu_device *dev);
bool tcmu_glue_busy(const struct tcmu_device *dev);

/* The built-in handlers fill in their tables. */
const struct tcmur_handler *tcmu_ram_handler(void);
const struct tcmur_handler *tcmu_simdisk_handler(void);

/* ---- simdisk media, as the node-side handler sees it ---------------------------- */

enum simdisk_io_kind { SIMDISK_IO_READ, SIMDISK_IO_WRITE, SIMDISK_IO_FLUSH };

/* Whether an I/O fails with -EIO: a failed range or the error rate decides. */
bool simdisk_media_io_fails(struct simdisk_media *m, enum simdisk_io_kind kind, uint64_t offset,
                            uint64_t length);
/* When an I/O submitted at now completes: latency, jitter, stall. */
mte_time_t simdisk_media_completion_time(struct simdisk_media *m, enum simdisk_io_kind kind,
                                         mte_time_t now);
/* Apply a write (or a discard: zeros) to the image at once, keeping an undo
 * record until it is durable.  Returns the write's sequence number. */
uint64_t simdisk_media_write(struct simdisk_media *m, uint64_t offset, const struct iovec *iov,
                             size_t iov_cnt, uint64_t length);
uint64_t simdisk_media_discard(struct simdisk_media *m, uint64_t offset, uint64_t length);
void simdisk_media_read_iov(const struct simdisk_media *m, uint64_t offset,
                            const struct iovec *iov, size_t iov_cnt, uint64_t length);
/* A write completed with FUA or without a write cache: it is durable now. */
void simdisk_media_make_durable(struct simdisk_media *m, uint64_t seq);
/* A flush takes a sequence number when submitted; when it completes, every
 * write with a smaller one is durable. */
uint64_t simdisk_media_flush_start(struct simdisk_media *m);
void simdisk_media_flush_done(struct simdisk_media *m, uint64_t flush_seq);

#endif
