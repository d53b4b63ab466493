/* tcmu_ram: backstores in the shape of tcmu-runner handlers, exposed as bdevs.
 *
 * A handler (struct tcmur_handler) implements open/close/read/write/flush/unmap
 * over iovecs.  Each call either finishes at once (returns 0 or -errno) or
 * returns TCMU_ASYNC_HANDLED and later calls tcmur_cmd_complete().  A device
 * (struct tcmu_device) has a size, a block size and a config string
 * "<subtype>/<handler config>", and appears in the node's bdev registry as
 * tcmu000, tcmu001, ... in the order devices are added (the glue between bios
 * and handler calls is the seed's bio_tcmu).  The glue: READ -> read; WRITE ->
 * [flush if PREFLUSH] write [flush if FUA] (write_fua instead when the handler
 * has it); DISCARD and WRITE_ZEROES -> [flush] unmap [flush if FUA]; FLUSH ->
 * flush.  Bios not aligned to the block size fail with -EINVAL.
 *
 * Built-in handlers:
 *   ram      "ram/" anonymous memory, or "ram/<path>": mmap(MAP_SHARED) of a
 *            file created or extended to the size; flush = msync.  Unmapped
 *            (discarded) ranges read back as zeros.
 *   simdisk  the simulator's disk: a simdisk_media (durable image + volatile
 *            write cache, owned by the simulator so it outlives node crashes)
 *            passed as handler_arg.  FLUSH and FUA make data durable; on a crash
 *            every unflushed write is dropped, kept or torn at 512-byte sector
 *            boundaries as the seed decides.  Latency, I/O errors and stalls
 *            can be injected.
 */
#ifndef TCMU_RAM_H
#define TCMU_RAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "umc/umc.h"

#define TCMU_ASYNC_HANDLED 1

struct tcmu_host;
struct tcmu_device;

struct tcmulib_cmd {
    struct iovec *iovec;
    size_t iov_cnt;
    uint64_t offset, length;   /* bytes */
    /* private to the glue */
    struct umc_bio *bio;
    struct tcmu_device *dev;
};

struct tcmur_handler {
    const char *name;      /* human name */
    const char *subtype;   /* the config string prefix: "ram", "simdisk" */
    const char *cfg_desc;
    int (*open)(struct tcmu_device *dev, bool reopen);
    void (*close)(struct tcmu_device *dev);
    int (*read)(struct tcmu_device *dev, struct tcmulib_cmd *cmd, struct iovec *iov, size_t iov_cnt,
                size_t length, uint64_t offset);
    int (*write)(struct tcmu_device *dev, struct tcmulib_cmd *cmd, struct iovec *iov,
                 size_t iov_cnt, size_t length, uint64_t offset);
    int (*flush)(struct tcmu_device *dev, struct tcmulib_cmd *cmd);
    /* optional: discard; the range then reads back as zeros */
    int (*unmap)(struct tcmu_device *dev, struct tcmulib_cmd *cmd, uint64_t offset,
                 uint64_t length);
    /* optional: a write that is durable when it completes (FUA).  Without it the
     * glue follows a FUA write with a flush. */
    int (*write_fua)(struct tcmu_device *dev, struct tcmulib_cmd *cmd, struct iovec *iov,
                     size_t iov_cnt, size_t length, uint64_t offset);
};

/* One host per node: the handler table and the devices. */
struct tcmu_host *tcmu_host_new(struct umc_node *n);   /* registers ram and simdisk */
void tcmu_host_free(struct tcmu_host *h);               /* removes every device */
struct tcmu_host *tcmu_host_of(struct umc_node *n);    /* from the node's slot */
int tcmu_register_handler(struct tcmu_host *h, const struct tcmur_handler *handler);

struct tcmu_dev_config {
    const char *cfgstring;   /* "ram/", "ram//tmp/cfg1", "simdisk/" */
    uint64_t size;           /* bytes, a multiple of block_size (simdisk: 0 = the media's) */
    uint32_t block_size;     /* 512 or 4096 (0 = 4096) */
    void *handler_arg;       /* simdisk: the struct simdisk_media */
    const char *name;        /* NULL: the next tcmuNNN */
    bool read_only;
};

/* -EINVAL bad config, -ENOENT no such handler, -EEXIST name taken, or the
 * handler's open error. */
struct tcmu_device *tcmu_dev_add(struct tcmu_host *h, const struct tcmu_dev_config *cfg, int *err);
int tcmu_dev_remove(struct tcmu_device *dev);          /* -EBUSY while the bdev is open */
struct tcmu_device *tcmu_dev_find(struct tcmu_host *h, const char *name);

/* Accessors in tcmu-runner's style, for handlers. */
void *tcmu_dev_get_private(struct tcmu_device *dev);
void tcmu_dev_set_private(struct tcmu_device *dev, void *priv);
uint64_t tcmu_dev_get_num_lbas(const struct tcmu_device *dev);
uint32_t tcmu_dev_get_block_size(const struct tcmu_device *dev);
uint64_t tcmu_dev_get_size(const struct tcmu_device *dev);
const char *tcmu_dev_get_cfgstring(const struct tcmu_device *dev);  /* after "<subtype>/" */
void *tcmu_dev_get_handler_arg(const struct tcmu_device *dev);
struct umc_node *tcmu_dev_get_node(const struct tcmu_device *dev);
/* A handler's open says whether writes sit in a volatile cache until a flush
 * (the bdev then advertises UMC_BDEV_VOLATILE_CACHE). */
void tcmu_dev_set_write_cache_enabled(struct tcmu_device *dev, bool enabled);
bool tcmu_dev_get_write_cache_enabled(const struct tcmu_device *dev);
struct umc_bdev *tcmu_dev_bdev(struct tcmu_device *dev);
const char *tcmu_dev_name(const struct tcmu_device *dev);

void tcmur_cmd_complete(struct tcmu_device *dev, struct tcmulib_cmd *cmd, int status);

/* ---- simdisk media (simulator side) --------------------------------------------- */

struct simdisk_media;

struct simdisk_params {
    mte_time_t read_latency, write_latency, flush_latency;  /* base */
    mte_time_t jitter;          /* extra uniform in [0, jitter], from the disk stream */
    double read_error_rate;     /* chance each read fails with -EIO */
    double write_error_rate;
    bool write_cache;           /* false: every write is durable at completion */
    uint64_t cache_size;        /* bytes of unflushed writes the cache holds before it
                                   writes the oldest back on its own; 0 = unbounded */
};

/* size bytes, sparse (unwritten blocks read as zeros); rng seeds tear decisions
 * and latency jitter; the media lives outside every node. */
struct simdisk_media *simdisk_media_new(const char *name, uint64_t size, uint64_t seed);
void simdisk_media_free(struct simdisk_media *m);
void simdisk_default_params(struct simdisk_params *p);
void simdisk_set_params(struct simdisk_media *m, const struct simdisk_params *p);
const struct simdisk_params *simdisk_media_params(const struct simdisk_media *m);
const char *simdisk_media_name(const struct simdisk_media *m);
uint64_t simdisk_media_size(const struct simdisk_media *m);

/* A debugging hook: fn runs after every change to the media's contents
 * (write, discard, poke, and each write a power loss undoes). */
typedef void (*simdisk_watch_fn)(void *arg, uint64_t offset, uint64_t length, const char *why);
void simdisk_watch(struct simdisk_media *m, simdisk_watch_fn fn, void *arg);

/* Every I/O submitted before until completes no earlier than until. */
void simdisk_stall_until(struct simdisk_media *m, mte_time_t until);
/* I/O touching [offset, offset+length) fails with -EIO (ops: 1 read, 2 write, 3 both). */
void simdisk_fail_range(struct simdisk_media *m, uint64_t offset, uint64_t length, unsigned ops);
/* Lift one failing range added by simdisk_fail_range, leaving the others. */
void simdisk_unfail_range(struct simdisk_media *m, uint64_t offset, uint64_t length, unsigned ops);
/* Lift every failing range and stall. */
void simdisk_clear_faults(struct simdisk_media *m);

/* Power loss: each unflushed write is dropped, kept or torn per sector. */
struct simdisk_crash_stats { uint64_t dropped, kept, torn; };
void simdisk_crash(struct simdisk_media *m, struct simdisk_crash_stats *st);
/* What reads return now (durable image plus the volatile cache). */
void simdisk_read(const struct simdisk_media *m, uint64_t offset, void *buf, size_t len);
/* Direct write into the durable image (tests, planting a difference). */
void simdisk_poke(struct simdisk_media *m, uint64_t offset, const void *buf, size_t len);
uint64_t simdisk_unflushed_writes(const struct simdisk_media *m);
/* Compare [offset, offset+length) of two media; returns the first differing byte
 * offset, or UINT64_MAX if identical. */
uint64_t simdisk_compare(const struct simdisk_media *a, const struct simdisk_media *b,
                         uint64_t offset, uint64_t length);

#endif
