/* Self-describing payloads: every 512-byte sector a workload writes names
 * itself (workload tag, LBA, write id) and carries a checksum, so any read can
 * be checked without keeping the data. */
#ifndef SIM_PAYLOAD_H
#define SIM_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#define PAYLOAD_SECTOR 512u

enum payload_state {
    PAYLOAD_OK,       /* a valid sector of this workload for this LBA */
    PAYLOAD_ZERO,     /* all zeros: never written */
    PAYLOAD_CORRUPT,  /* checksum does not match */
    PAYLOAD_MISPLACED,/* valid, but written for another LBA */
    PAYLOAD_FOREIGN,  /* valid, but another workload's */
};

/* Fill nsectors sectors starting at lba (in 512-byte sectors). */
void payload_fill(void *buf, uint64_t lba, uint32_t nsectors, uint32_t tag, uint32_t write_id);
/* Decode one sector expected at lba; *write_id is set for PAYLOAD_OK. */
enum payload_state payload_decode(const void *sector, uint64_t lba, uint32_t tag, uint32_t *write_id);
const char *payload_state_name(enum payload_state st);
/* What a sector holds, for messages: "write 12 of workload 1 for lba 80",
 * "zeros", "not a payload". */
void payload_describe(const void *sector, char *buf, size_t len);

#endif
