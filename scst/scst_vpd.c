/* INQUIRY vital product data pages: supported pages, unit serial number,
 * device identification, extended INQUIRY data, third-party copy, block
 * limits, block device characteristics, logical block provisioning. */
#include <stdio.h>

#include "scst/scst_internal.h"

static const uint8_t supported_pages[] = {0x00, 0x80, 0x83, 0x86, 0x8f, 0xb0, 0xb1, 0xb2};

static size_t vpd_supported(uint8_t *d)
{
    memcpy(d + 4, supported_pages, sizeof(supported_pages));
    return 4 + sizeof(supported_pages);
}

static size_t vpd_serial(const struct scst_device *dev, uint8_t *d)
{
    size_t n = strlen(dev->serial);
    memcpy(d + 4, dev->serial, n);
    return 4 + n;
}

/* A designation descriptor; returns its length. */
static size_t designator(uint8_t *d, uint8_t proto_codeset, uint8_t piv_assoc_type, const void *id,
                         size_t len)
{
    d[0] = proto_codeset;
    d[1] = piv_assoc_type;
    d[2] = 0;
    d[3] = (uint8_t)len;
    memcpy(d + 4, id, len);
    return 4 + len;
}

/* SCSI name string: NUL-terminated, padded to a multiple of four. */
static size_t name_designator(uint8_t *d, uint8_t assoc, const char *name)
{
    size_t n = strlen(name);
    if (n > 250)
        n = 250;
    size_t padded = (n + 4) & ~(size_t)3;
    uint8_t buf[256] = {0};
    memcpy(buf, name, n);
    return designator(d, 0x50 | 0x03, (uint8_t)(0x80 | assoc << 4 | 0x08), buf, padded);
}

size_t scst_vpd_designators(const struct scst_device *dev, const struct scst_session *s, uint8_t *out)
{
    size_t len = 0;
    char t10[8 + sizeof(dev->t10_dev_id)];
    snprintf(t10, sizeof(t10), "%-8.8s%s", "SCST_USR", dev->t10_dev_id);
    len += designator(out + len, 0x01, 0x03, dev->naa, sizeof(dev->naa));        /* NAA, LU */
    len += designator(out + len, 0x02, 0x01, t10, strlen(t10));                  /* T10, LU */
    if (!s)
        return len;
    uint8_t port[4] = {0, 0, (uint8_t)(s->tpid >> 8), (uint8_t)s->tpid};
    len += designator(out + len, 0x51, 0x80 | 0x10 | 0x04, port, 4);             /* rel. port */
    uint8_t tpg[4] = {0, 0, 0, 1};
    len += designator(out + len, 0x51, 0x80 | 0x10 | 0x05, tpg, 4);              /* port group */
    if (s->tgt) {
        char pname[260];
        snprintf(pname, sizeof(pname), "%s,t,0x%04x", s->tgt->name, s->tpid);
        len += name_designator(out + len, 1, pname);                             /* target port */
        len += name_designator(out + len, 2, s->tgt->name);                      /* target device */
    }
    return len;
}

static size_t vpd_device_id(const struct scst_cmd_private *p, uint8_t *d)
{
    return 4 + scst_vpd_designators(p->dev, p->sess, d + 4);
}

static size_t vpd_extended_inquiry(const struct scst_device *dev, uint8_t *d)
{
    memset(d + 4, 0, 0x3c);
    d[5] = 0x07;                          /* HEADSUP, ORDSUP, SIMPSUP */
    d[6] = dev->nv_cache ? 0x02 : 0x01;   /* NV_SUP or V_SUP */
    d[7] = 0x01;                          /* LUICLR */
    d[13] = SCSI_SENSE_MAX;
    return 4 + 0x3c;
}

static size_t vpd_block_limits(const struct scst_device *dev, uint8_t *d)
{
    uint32_t max_xfer = SCST_MAX_XFER_BYTES >> dev->block_shift;
    memset(d + 4, 0, 0x3c);
    d[4] = 0x00;                       /* WSNZ 0: WRITE SAME of 0 blocks runs to the end */
    d[5] = SCST_MAX_CAW_BLOCKS;
    put_be16(d + 6, (uint16_t)(1u << dev->lbppbe));   /* optimal transfer granularity */
    put_be32(d + 8, max_xfer);
    put_be32(d + 12, (1u << 20) >> dev->block_shift); /* optimal transfer: 1 MiB */
    put_be32(d + 16, max_xfer);                       /* maximum prefetch */
    if (dev->thin) {
        put_be32(d + 20, SCST_MAX_UNMAP_BLOCKS);
        put_be32(d + 24, SCST_MAX_UNMAP_DESCRIPTORS);
        put_be32(d + 28, 1u << dev->lbppbe);          /* optimal unmap granularity */
    }
    put_be64(d + 36, SCST_MAX_WS_BLOCKS);
    put_be32(d + 44, max_xfer);                       /* maximum atomic transfer length */
    return 4 + 0x3c;
}

static size_t vpd_block_characteristics(const struct scst_device *dev, uint8_t *d)
{
    memset(d + 4, 0, 0x3c);
    put_be16(d + 4, 0x0001);   /* non-rotating medium */
    /* WABEREQ/WACEREQ 01b: reads after a sanitize succeed.  BLOCK ERASE
     * exists only on thin LUs (it deallocates), so WABEREQ is 0 elsewhere. */
    d[7] = (uint8_t)((dev->thin ? 0x40 : 0) | 0x10);
    d[8] = 0x02 | 0x01;        /* FUAB, VBULS */
    return 4 + 0x3c;
}

static size_t vpd_provisioning(const struct scst_device *dev, uint8_t *d)
{
    memset(d + 4, 0, 4);
    if (dev->thin) {
        d[5] = 0x80 | 0x40 | 0x20 | 0x04;   /* LBPU, LBPWS, LBPWS10, LBPRZ */
        d[6] = 0x02;                        /* thin provisioned */
    }
    return 8;
}

static size_t build_vpd(const struct scst_cmd_private *p, uint8_t page, uint8_t *d)
{
    const struct scst_device *dev = p->dev;
    switch (page) {
    case 0x00: return vpd_supported(d);
    case 0x80: return vpd_serial(dev, d);
    case 0x83: return vpd_device_id(p, d);
    case 0x86: return vpd_extended_inquiry(dev, d);
    case 0x8f: return scst_vpd_third_party_copy(d);
    case 0xb0: return vpd_block_limits(dev, d);
    case 0xb1: return vpd_block_characteristics(dev, d);
    case 0xb2: return vpd_provisioning(dev, d);
    default: return 4;
    }
}

void scst_exec_vpd(struct scst_cmd_private *p)
{
    uint8_t page = p->cmd->cdb[2];
    uint8_t d[SCST_VPD_MAX];
    memset(d, 0, 4);
    size_t len = p->dev ? build_vpd(p, page, d) : 4;
    d[0] = p->dev ? 0x00 : 0x7f;
    d[1] = page;
    put_be16(d + 2, (uint16_t)(len - 4));
    scst_respond(p, d, len);
    scst_cmd_complete(p);
}
