/* SPC commands answered from memory: INQUIRY (standard data; VPD pages are
 * in scst_vpd.c), REQUEST SENSE, REPORT LUNS, TEST UNIT READY, REPORT TARGET
 * PORT GROUPS, REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS. */
#include <stdio.h>

#include "scst/scst_internal.h"

#define STD_INQUIRY_LEN 96
#define RTPG_MAX_PORTS 64
#define RTPG_MAX_LEN (8 + 8 + 4 * RTPG_MAX_PORTS) /* extended header, one group */
#define REPORT_TMFS_LEN 16
#define VENDOR_ID "SCST_USR"

static void complete_good(struct scst_cmd_private *p)
{
    scst_cmd_complete(p);
}

int scst_parse_none(struct scst_cmd_private *p)
{
    scst_cmd_set_data(p, SCSI_DIR_NONE, 0);
    return 0;
}

void scst_exec_test_unit_ready(struct scst_cmd_private *p)
{
    complete_good(p);
}

/* ---- INQUIRY ----------------------------------------------------------------------------- */

static bool vpd_page_supported(uint8_t page)
{
    switch (page) {
    case 0x00: case 0x80: case 0x83: case 0x86: case 0x8f: case 0xb0: case 0xb1: case 0xb2:
        return true;
    default:
        return false;
    }
}

int scst_parse_inquiry(struct scst_cmd_private *p)
{
    const uint8_t *cdb = p->cmd->cdb;
    bool evpd = cdb[1] & 0x01;
    if (!evpd && cdb[2])
        return scst_invalid_cdb(p, 2, 7);
    if (evpd && p->nx && !vpd_page_supported(cdb[2]))
        return scst_invalid_cdb(p, 2, 7);
    scst_cmd_set_data_in(p, get_be16(cdb + 3), evpd ? SCST_VPD_MAX : STD_INQUIRY_LEN);
    return 0;
}

static void pad_copy(uint8_t *dst, const char *src, size_t width)
{
    size_t n = strlen(src);
    memset(dst, ' ', width);
    memcpy(dst, src, n < width ? n : width);
}

static size_t build_std_inquiry(const struct scst_cmd_private *p, uint8_t *d)
{
    const struct scst_device *dev = p->dev;
    memset(d, 0, STD_INQUIRY_LEN);
    d[0] = dev ? 0x00 : 0x7f;          /* direct access; PQ 3 for an unmapped LUN */
    d[1] = dev && dev->removable ? 0x80 : 0;
    d[2] = 0x06;                        /* SPC-4 */
    d[3] = 0x12;                        /* HISUP, response data format 2 */
    d[4] = STD_INQUIRY_LEN - 5;
    d[5] = 0x10 | 0x08;                 /* TPGS implicit ALUA, 3PC */
    d[7] = 0x02;                        /* CMDQUE */
    pad_copy(d + 8, VENDOR_ID, 8);
    pad_copy(d + 16, dev ? dev->name : "", 16);
    pad_copy(d + 32, "0300", 4);
    static const uint16_t versions[] = {0x00a0 /* SAM-5 */, 0x0960 /* iSCSI */,
                                        0x0460 /* SPC-4 */, 0x04c0 /* SBC-3 */};
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
        put_be16(d + 58 + 2 * i, versions[i]);
    return STD_INQUIRY_LEN;
}

void scst_exec_inquiry(struct scst_cmd_private *p)
{
    if (p->cmd->cdb[1] & 0x01) {
        scst_exec_vpd(p);
        return;
    }
    uint8_t d[STD_INQUIRY_LEN];
    scst_respond(p, d, build_std_inquiry(p, d));
    complete_good(p);
}

/* ---- REQUEST SENSE ------------------------------------------------------------------------ */

int scst_parse_request_sense(struct scst_cmd_private *p)
{
    scst_cmd_set_data_in(p, p->cmd->cdb[4], SCSI_SENSE_MAX);
    return 0;
}

/* The sense a REQUEST SENSE reports: a pending unit attention (consumed), a
 * sanitize in progress, no medium, or nothing. */
static unsigned current_sense(struct scst_cmd_private *p, uint8_t *out, bool desc)
{
    uint16_t asc, progress;
    uint8_t sks[3] = {0x80, 0, 0};
    if (!p->nx)
        return scst_build_sense(out, desc, SK_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED, NULL, NULL);
    if (scst_ua_pop(p->nx, &asc))
        return scst_build_sense(out, desc, SK_UNIT_ATTENTION, asc, NULL, NULL);
    if (scst_sanitize_running(p->dev, &progress)) {
        put_be16(sks + 1, progress);
        return scst_build_sense(out, desc, SK_NOT_READY, ASC_NOT_READY_SANITIZE, NULL, sks);
    }
    if (!p->dev->medium_loaded)
        return scst_build_sense(out, desc, SK_NOT_READY, ASC_MEDIUM_NOT_PRESENT, NULL, NULL);
    return scst_build_sense(out, desc, SK_NO_SENSE, ASC_NO_ADDITIONAL_SENSE, NULL, NULL);
}

void scst_exec_request_sense(struct scst_cmd_private *p)
{
    uint8_t sense[SCSI_SENSE_MAX];
    unsigned len = current_sense(p, sense, p->cmd->cdb[1] & 0x01);
    scst_respond(p, sense, len);
    complete_good(p);
}

/* ---- REPORT LUNS ---------------------------------------------------------------------------- */

int scst_parse_report_luns(struct scst_cmd_private *p)
{
    const uint8_t *cdb = p->cmd->cdb;
    uint32_t alloc = get_be32(cdb + 6);
    if (cdb[2] != 0x00 && cdb[2] != 0x01 && cdb[2] != 0x02)
        return scst_invalid_cdb(p, 2, 7);
    if (alloc < 16)
        return scst_invalid_cdb(p, 6, 7);
    scst_cmd_set_data_in(p, alloc, 8 + 8 * SCST_MAX_LUNS);
    return 0;
}

/* SAM: peripheral addressing below 256, flat addressing above. */
static void encode_lun(uint8_t *d, uint64_t lun)
{
    memset(d, 0, 8);
    if (lun < 256) {
        d[1] = (uint8_t)lun;
    } else {
        d[0] = (uint8_t)(0x40 | ((lun >> 8) & 0x3f));
        d[1] = (uint8_t)lun;
    }
}

void scst_exec_report_luns(struct scst_cmd_private *p)
{
    struct scst_session *s = p->sess;
    bool well_known_only = p->cmd->cdb[2] == 0x01;
    size_t count = well_known_only ? 0 : s->nnexus;
    size_t len = 8 + 8 * count;
    uint8_t *d = umc_alloc(p->core->node, len);
    put_be32(d, (uint32_t)(8 * count));
    for (size_t i = 0; i < count; i++)
        encode_lun(d + 8 + 8 * i, s->nexus[i]->lun);
    scst_respond(p, d, len);
    umc_free(p->core->node, d);
    if (p->nx) {
        /* the initiator has seen the new inventory */
        uint16_t keep[SCST_UA_MAX];
        unsigned n = 0;
        for (unsigned i = 0; i < p->nx->nua; i++)
            if (p->nx->ua[i] != ASC_REPORTED_LUNS_CHANGED)
                keep[n++] = p->nx->ua[i];
        memcpy(p->nx->ua, keep, n * sizeof(keep[0]));
        p->nx->nua = n;
    }
    complete_good(p);
}

/* ---- MAINTENANCE IN: REPORT TARGET PORT GROUPS, REPORT SUPPORTED TMFs ------------------------ */

int scst_parse_maint_in(struct scst_cmd_private *p)
{
    const uint8_t *cdb = p->cmd->cdb;
    uint32_t alloc = get_be32(cdb + 6);
    if ((cdb[1] & 0x1f) == 0x0a && (cdb[1] >> 5) > 1)
        return scst_invalid_cdb(p, 1, 7);
    if ((cdb[1] & 0x1f) == 0x0d && alloc < 4)
        return scst_invalid_cdb(p, 6, 7);
    scst_cmd_set_data_in(p, alloc, (cdb[1] & 0x1f) == 0x0a ? RTPG_MAX_LEN : REPORT_TMFS_LEN);
    return 0;
}

/* The relative target ports of the target: those its sessions came through. */
static size_t target_ports(const struct scst_cmd_private *p, uint16_t *ports, size_t max)
{
    size_t n = 0;
    ports[n++] = p->sess->tpid;
    for (const struct scst_session *s = p->core->sessions; s; s = s->next) {
        if (s->tgt != p->sess->tgt)
            continue;
        bool seen = false;
        for (size_t i = 0; i < n; i++)
            seen |= ports[i] == s->tpid;
        if (!seen && n < max)
            ports[n++] = s->tpid;
    }
    for (size_t i = 1; i < n; i++) /* insertion sort: ports in ascending order */
        for (size_t j = i; j > 0 && ports[j - 1] > ports[j]; j--) {
            uint16_t t = ports[j];
            ports[j] = ports[j - 1];
            ports[j - 1] = t;
        }
    return n;
}

void scst_exec_rtpg(struct scst_cmd_private *p)
{
    uint16_t ports[RTPG_MAX_PORTS];
    size_t nports = target_ports(p, ports, RTPG_MAX_PORTS);
    bool extended = (p->cmd->cdb[1] >> 5) == 1;
    size_t hdr = extended ? 8 : 4;
    size_t len = hdr + 8 + 4 * nports;
    uint8_t d[RTPG_MAX_LEN];
    memset(d, 0, len);
    put_be32(d, (uint32_t)(len - 4));
    if (extended)
        d[4] = 0x10; /* format type 1 */
    uint8_t *g = d + hdr;
    g[0] = 0x80;     /* PREF, active/optimized */
    g[1] = 0x01;     /* AO_SUP */
    put_be16(g + 2, 1);
    g[7] = (uint8_t)nports;
    for (size_t i = 0; i < nports; i++)
        put_be16(g + 8 + 4 * i + 2, ports[i]);
    scst_respond(p, d, len);
    complete_good(p);
}

void scst_exec_report_tmfs(struct scst_cmd_private *p)
{
    uint8_t d[REPORT_TMFS_LEN] = {0};
    bool reptd = p->cmd->cdb[2] & 0x80;
    d[0] = 0x80 | 0x40 | 0x10 | 0x08 | 0x02; /* ABORT TASK (SET), CLEAR TASK SET, LU and target reset */
    if (reptd)
        d[3] = 0x0c;
    scst_respond(p, d, reptd ? 16 : 4);
    complete_good(p);
}
