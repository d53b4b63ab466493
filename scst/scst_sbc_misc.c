/* SBC commands around the data path: READ CAPACITY (10/16), SYNCHRONIZE
 * CACHE and PRE-FETCH (10/16), START STOP UNIT (removable medium load and
 * eject), PREVENT ALLOW MEDIUM REMOVAL, READ DEFECT DATA (10/12). */
#include "scst/scst_internal.h"

#define READ_CAPACITY16_LEN 32
#define DEFECT10_HEADER_LEN 4
#define DEFECT12_HEADER_LEN 8

/* ---- READ CAPACITY ------------------------------------------------------------------------ */

int scst_parse_read_capacity10(struct scst_cmd_private *p)
{
    const uint8_t *cdb = p->cmd->cdb;
    if (!(cdb[8] & 0x01) && get_be32(cdb + 2))
        return scst_invalid_cdb(p, 2, 7); /* an LBA needs PMI */
    scst_cmd_set_data_in(p, 8, 8);
    return 0;
}

void scst_exec_read_capacity10(struct scst_cmd_private *p)
{
    const struct scst_device *dev = p->dev;
    uint8_t d[8];
    uint64_t last = dev->nblocks - 1;
    put_be32(d, last > 0xffffffffull ? 0xffffffffu : (uint32_t)last);
    put_be32(d + 4, dev->block_size);
    scst_respond(p, d, sizeof(d));
    scst_cmd_complete(p);
}

int scst_parse_read_capacity16(struct scst_cmd_private *p)
{
    scst_cmd_set_data_in(p, get_be32(p->cmd->cdb + 10), READ_CAPACITY16_LEN);
    return 0;
}

void scst_exec_read_capacity16(struct scst_cmd_private *p)
{
    const struct scst_device *dev = p->dev;
    uint8_t d[READ_CAPACITY16_LEN] = {0};
    put_be64(d, dev->nblocks - 1);
    put_be32(d + 8, dev->block_size);
    d[13] = (uint8_t)(dev->lbppbe & 0x0f);
    if (dev->thin)
        d[14] = 0x80 | 0x40; /* LBPME, LBPRZ */
    scst_respond(p, d, sizeof(d));
    scst_cmd_complete(p);
}

/* ---- SYNCHRONIZE CACHE, PRE-FETCH ------------------------------------------------------------ */

static int parse_range_nodata(struct scst_cmd_private *p)
{
    const uint8_t *cdb = p->cmd->cdb;
    bool sixteen = cdb[0] >= 0x80;
    uint64_t lba = sixteen ? get_be64(cdb + 2) : get_be32(cdb + 2);
    uint64_t n = sixteen ? get_be32(cdb + 10) : get_be16(cdb + 7);
    if (scst_parse_lba_range(p, lba, n))
        return -1;
    p->lba = lba;
    p->nblocks = n;
    if (cdb[1] & 0x02)
        p->flags |= CMDF_IMMED;
    scst_cmd_set_data(p, SCSI_DIR_NONE, 0);
    return 0;
}

int scst_parse_sync_cache(struct scst_cmd_private *p) { return parse_range_nodata(p); }
int scst_parse_prefetch(struct scst_cmd_private *p) { return parse_range_nodata(p); }

static void flush_done(struct scst_cmd_private *p)
{
    if (!p->bio.status)
        p->dev->stats.flushes++;
    scst_io_finish(p);
}

void scst_exec_sync_cache(struct scst_cmd_private *p)
{
    if (p->dev->nv_cache) {
        scst_cmd_complete(p);
        return;
    }
    scst_io_submit(p, UMC_OP_FLUSH, 0, 0, 0, NULL, flush_done);
}

/* Nothing to stage in a cache we do not have: GOOD (not CONDITION MET). */
void scst_exec_prefetch(struct scst_cmd_private *p)
{
    scst_cmd_complete(p);
}

/* ---- START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL ---------------------------------------------- */

int scst_parse_start_stop(struct scst_cmd_private *p)
{
    const uint8_t *cdb = p->cmd->cdb;
    uint8_t pc = cdb[4] >> 4;
    if (pc == 0 && (cdb[4] & 0x02) && !p->dev->removable)
        return scst_invalid_cdb(p, 4, 1);
    scst_cmd_set_data(p, SCSI_DIR_NONE, 0);
    return 0;
}

static void eject_flushed(struct scst_cmd_private *p)
{
    if (p->bio.status) {
        scst_io_finish(p);
        return;
    }
    p->dev->medium_loaded = false;
    scst_cmd_complete(p);
}

void scst_exec_start_stop(struct scst_cmd_private *p)
{
    struct scst_device *dev = p->dev;
    const uint8_t *cdb = p->cmd->cdb;
    bool loej = cdb[4] & 0x02, start = cdb[4] & 0x01, no_flush = cdb[4] & 0x04;
    if ((cdb[4] >> 4) != 0 || !loej) {
        /* power conditions and START without LOEJ: nothing to move */
        scst_cmd_complete(p);
        return;
    }
    if (dev->prevent_count) {
        scst_fail(p, SK_ILLEGAL_REQUEST, ASC_MEDIUM_REMOVAL_PREVENTED);
        scst_cmd_complete(p);
        return;
    }
    if (start) {
        if (!dev->medium_loaded) {
            dev->medium_loaded = true;
            scst_ua_dev(dev, 0x2800, p->sess); /* NOT READY TO READY CHANGE */
        }
        scst_cmd_complete(p);
        return;
    }
    if (!dev->medium_loaded || no_flush || !dev->bdev) {
        dev->medium_loaded = false;
        scst_cmd_complete(p);
        return;
    }
    scst_io_submit(p, UMC_OP_FLUSH, 0, 0, 0, NULL, eject_flushed);
}

int scst_parse_prevent_allow(struct scst_cmd_private *p)
{
    if ((p->cmd->cdb[4] & 0x03) > 1)
        return scst_invalid_cdb(p, 4, 1);
    scst_cmd_set_data(p, SCSI_DIR_NONE, 0);
    return 0;
}

void scst_exec_prevent_allow(struct scst_cmd_private *p)
{
    struct scst_nexus *nx = p->nx;
    bool prevent = p->cmd->cdb[4] & 0x01;
    if (prevent && !nx->prevent) {
        nx->prevent = true;
        p->dev->prevent_count++;
    } else if (!prevent && nx->prevent) {
        nx->prevent = false;
        p->dev->prevent_count--;
    }
    scst_cmd_complete(p);
}

/* ---- READ DEFECT DATA -------------------------------------------------------------------------- */

int scst_parse_read_defect(struct scst_cmd_private *p)
{
    const uint8_t *cdb = p->cmd->cdb;
    bool twelve = cdb[0] == 0xb7;
    /* the list is always empty: the header is all there is to send */
    if (twelve)
        scst_cmd_set_data_in(p, get_be32(cdb + 6), DEFECT12_HEADER_LEN);
    else
        scst_cmd_set_data_in(p, get_be16(cdb + 7), DEFECT10_HEADER_LEN);
    return 0;
}

/* No defects: an empty list in the format asked for. */
void scst_exec_read_defect(struct scst_cmd_private *p)
{
    const uint8_t *cdb = p->cmd->cdb;
    uint8_t d[DEFECT12_HEADER_LEN] = {0};
    bool twelve = cdb[0] == 0xb7;
    d[1] = (uint8_t)((twelve ? cdb[1] : cdb[2]) & 0x1f);
    scst_respond(p, d, twelve ? DEFECT12_HEADER_LEN : DEFECT10_HEADER_LEN);
    scst_cmd_complete(p);
}
