/* MODE SENSE / MODE SELECT (6 and 10): read-write error recovery,
 * disconnect-reconnect, format device, rigid disk geometry, caching, control
 * (and its extension subpage) and informational exceptions control pages,
 * with current / changeable / default / saved values.  Changeable: WCE,
 * D_SENSE, QERR, SWP, TAS, DEXCPT, MRIE.  Saved values persist in the state
 * directory and come back at LU reset. */
#include <stdio.h>
#include <stdlib.h>

#include "scst/scst_internal.h"

enum { PC_CURRENT, PC_CHANGEABLE, PC_DEFAULT, PC_SAVED };

#define MODE_SENSE_MAX 512 /* header, long LBA block descriptor and every page fit */

struct mode_page {
    uint8_t code, subpage;
    size_t (*build)(const struct scst_device *dev, const struct scst_mode_params *mp, bool mask,
                    uint8_t *out);
};

static size_t page_rw_recovery(const struct scst_device *dev, const struct scst_mode_params *mp,
                               bool mask, uint8_t *d)
{
    memset(d, 0, 12);
    d[0] = 0x01;
    d[1] = 0x0a;
    if (!mask)
        d[2] = 0xc0; /* AWRE, ARRE */
    return 12;
}

static size_t page_disconnect(const struct scst_device *dev, const struct scst_mode_params *mp,
                              bool mask, uint8_t *d)
{
    memset(d, 0, 16);
    d[0] = 0x02;
    d[1] = 0x0e;
    return 16;
}

#define GEOM_HEADS 64
#define GEOM_SECTORS 32

static size_t page_format(const struct scst_device *dev, const struct scst_mode_params *mp,
                          bool mask, uint8_t *d)
{
    memset(d, 0, 24);
    d[0] = 0x03;
    d[1] = 0x16;
    if (!mask) {
        put_be16(d + 10, GEOM_SECTORS);
        put_be16(d + 12, (uint16_t)dev->block_size);
        put_be16(d + 14, 1);
        d[20] = (uint8_t)(0x40 | (dev->removable ? 0x20 : 0)); /* HSEC, RMB */
    }
    return 24;
}

static size_t page_geometry(const struct scst_device *dev, const struct scst_mode_params *mp,
                            bool mask, uint8_t *d)
{
    memset(d, 0, 24);
    d[0] = 0x04;
    d[1] = 0x16;
    if (!mask) {
        uint64_t cyl = dev->nblocks / (GEOM_HEADS * GEOM_SECTORS);
        put_be24(d + 2, cyl > 0xffffff ? 0xffffff : (uint32_t)cyl);
        d[5] = GEOM_HEADS;
        put_be16(d + 20, 0x0001); /* non-rotating */
    }
    return 24;
}

static size_t page_caching(const struct scst_device *dev, const struct scst_mode_params *mp,
                           bool mask, uint8_t *d)
{
    memset(d, 0, 20);
    d[0] = 0x88; /* PS */
    d[1] = 0x12;
    if (mask)
        d[2] = 0x04;
    else if (mp->wce)
        d[2] = 0x04;
    return 20;
}

static size_t page_control(const struct scst_device *dev, const struct scst_mode_params *mp,
                           bool mask, uint8_t *d)
{
    memset(d, 0, 12);
    d[0] = 0x8a; /* PS */
    d[1] = 0x0a;
    if (mask) {
        d[2] = 0x04;  /* D_SENSE */
        d[3] = 0x06;  /* QERR */
        d[4] = 0x08;  /* SWP */
        d[5] = 0x40;  /* TAS */
        return 12;
    }
    d[2] = (uint8_t)(0x02 | (mp->d_sense ? 0x04 : 0));  /* GLTSD */
    d[3] = (uint8_t)(0x10 | (mp->qerr & 3) << 1);       /* unrestricted reordering */
    d[4] = mp->swp ? 0x08 : 0;
    d[5] = mp->tas ? 0x40 : 0;
    put_be16(d + 8, 0xffff);                            /* busy timeout: unlimited */
    return 12;
}

static size_t page_control_ext(const struct scst_device *dev, const struct scst_mode_params *mp,
                               bool mask, uint8_t *d)
{
    memset(d, 0, 32);
    d[0] = 0x4a; /* SPF */
    d[1] = 0x01;
    put_be16(d + 2, 0x1c);
    if (!mask)
        d[6] = SCSI_SENSE_MAX;
    return 32;
}

static size_t page_iec(const struct scst_device *dev, const struct scst_mode_params *mp, bool mask,
                       uint8_t *d)
{
    memset(d, 0, 12);
    d[0] = 0x9c; /* PS */
    d[1] = 0x0a;
    if (mask) {
        d[2] = 0x08;
        d[3] = 0x0f;
        return 12;
    }
    d[2] = mp->dexcpt ? 0x08 : 0;
    d[3] = mp->mrie & 0x0f;
    return 12;
}

static const struct mode_page pages[] = {
    {0x01, 0x00, page_rw_recovery}, {0x02, 0x00, page_disconnect}, {0x03, 0x00, page_format},
    {0x04, 0x00, page_geometry},    {0x08, 0x00, page_caching},    {0x0a, 0x00, page_control},
    {0x0a, 0x01, page_control_ext}, {0x1c, 0x00, page_iec},
};
#define NPAGES (sizeof(pages) / sizeof(pages[0]))

static bool page_selected(const struct mode_page *pg, uint8_t code, uint8_t sub)
{
    if (code == 0x3f)
        return sub == 0xff || pg->subpage == 0;
    return pg->code == code && (sub == 0xff || pg->subpage == sub);
}

static bool any_page_selected(uint8_t code, uint8_t sub)
{
    if (code == 0x3f)
        return sub == 0x00 || sub == 0xff;
    for (size_t i = 0; i < NPAGES; i++)
        if (page_selected(&pages[i], code, sub))
            return true;
    return false;
}

static struct scst_mode_params default_params(const struct scst_device *dev)
{
    struct scst_mode_params d = {.wce = dev->mode_saved.wce, .dexcpt = true};
    return d;
}

/* ---- MODE SENSE -------------------------------------------------------------------------- */

int scst_parse_mode_sense(struct scst_cmd_private *p)
{
    const uint8_t *cdb = p->cmd->cdb;
    uint8_t code = cdb[2] & 0x3f;
    if (!any_page_selected(code, cdb[3]))
        return scst_invalid_cdb(p, any_page_selected(code, 0) ? 3 : 2, 7);
    uint32_t alloc = cdb[0] == 0x1a ? cdb[4] : get_be16(cdb + 7);
    scst_cmd_set_data_in(p, alloc, MODE_SENSE_MAX);
    return 0;
}

static uint8_t device_specific(const struct scst_cmd_private *p)
{
    return (uint8_t)((scst_device_write_protected(p->dev, p->nx) ? 0x80 : 0) | 0x10); /* WP, DPOFUA */
}

static size_t block_descriptor(const struct scst_device *dev, bool longlba, bool zero, uint8_t *d)
{
    size_t len = longlba ? 16 : 8;
    memset(d, 0, len);
    if (zero)
        return len;
    if (longlba) {
        put_be64(d, dev->nblocks);
        put_be32(d + 12, dev->block_size);
    } else {
        put_be32(d, dev->nblocks > 0xffffffffull ? 0xffffffffu : (uint32_t)dev->nblocks);
        put_be24(d + 5, dev->block_size);
    }
    return len;
}

void scst_exec_mode_sense(struct scst_cmd_private *p)
{
    const uint8_t *cdb = p->cmd->cdb;
    const struct scst_device *dev = p->dev;
    bool ten = cdb[0] == 0x5a;
    bool dbd = cdb[1] & 0x08;
    bool longlba = ten && (cdb[1] & 0x10);
    uint8_t pc = cdb[2] >> 6, code = cdb[2] & 0x3f, sub = cdb[3];
    struct scst_mode_params def = default_params(dev);
    const struct scst_mode_params *mp = pc == PC_SAVED ? &dev->mode_saved
                                      : pc == PC_DEFAULT ? &def : &dev->mode;
    uint8_t d[MODE_SENSE_MAX];
    size_t hdr = ten ? 8 : 4;
    size_t len = hdr;
    memset(d, 0, hdr);
    if (!dbd)
        len += block_descriptor(dev, longlba, pc == PC_CHANGEABLE, d + len);
    size_t bdlen = len - hdr;
    for (size_t i = 0; i < NPAGES; i++)
        if (page_selected(&pages[i], code, sub))
            len += pages[i].build(dev, mp, pc == PC_CHANGEABLE, d + len);
    if (ten) {
        put_be16(d, (uint16_t)(len - 2));
        d[3] = device_specific(p);
        d[4] = longlba && !dbd ? 0x01 : 0;
        put_be16(d + 6, (uint16_t)bdlen);
    } else {
        d[0] = (uint8_t)(len - 1);
        d[2] = device_specific(p);
        d[3] = (uint8_t)bdlen;
    }
    scst_respond(p, d, len);
    scst_cmd_complete(p);
}

/* ---- MODE SELECT ------------------------------------------------------------------------- */

int scst_parse_mode_select(struct scst_cmd_private *p)
{
    const uint8_t *cdb = p->cmd->cdb;
    if (!(cdb[1] & 0x10))
        return scst_invalid_cdb(p, 1, 4); /* PF: only the SPC page format */
    uint32_t len = cdb[0] == 0x15 ? cdb[4] : get_be16(cdb + 7);
    scst_cmd_set_data(p, SCSI_DIR_WRITE, len);
    return 0;
}

static const struct mode_page *find_page(uint8_t code, uint8_t sub)
{
    for (size_t i = 0; i < NPAGES; i++)
        if (pages[i].code == code && pages[i].subpage == sub)
            return &pages[i];
    return NULL;
}

/* Take the changeable fields of one page into np. */
static void take_fields(uint8_t code, uint8_t sub, const uint8_t *pg, struct scst_mode_params *np)
{
    if (code == 0x08)
        np->wce = pg[2] & 0x04;
    if (code == 0x0a && sub == 0) {
        np->d_sense = pg[2] & 0x04;
        np->qerr = (pg[3] >> 1) & 3;
        np->swp = pg[4] & 0x08;
        np->tas = pg[5] & 0x40;
    }
    if (code == 0x1c) {
        np->dexcpt = pg[2] & 0x08;
        np->mrie = pg[3] & 0x0f;
    }
}

/* Non-changeable bits must equal the current values. */
static int check_page(struct scst_cmd_private *p, const struct mode_page *pg, const uint8_t *in,
                      size_t len, size_t off, struct scst_mode_params *np)
{
    uint8_t cur[64], mask[64];
    size_t n = pg->build(p->dev, &p->dev->mode, false, cur);
    pg->build(p->dev, &p->dev->mode, true, mask);
    if (len != n)
        return scst_invalid_param(p, (uint16_t)(off + 1), 7);
    for (size_t i = 0; i < n; i++) {
        uint8_t fixed = (uint8_t)~mask[i];
        if (i == 0)
            fixed &= 0x7f; /* PS is reserved in MODE SELECT */
        if (i == 1 || (pg->subpage && (i == 2 || i == 3)))
            continue;
        uint8_t bad = (uint8_t)((in[i] ^ cur[i]) & fixed);
        if (bad) {
            int bit = 7;
            while (!(bad & (1u << bit)))
                bit--;
            return scst_invalid_param(p, (uint16_t)(off + i), bit);
        }
    }
    take_fields(pg->code, pg->subpage, in, np);
    if (np->qerr == 2)
        return scst_invalid_param(p, (uint16_t)(off + 3), 2);
    if (np->mrie > 6)
        return scst_invalid_param(p, (uint16_t)(off + 3), 3);
    return 0;
}

static int check_block_descriptors(struct scst_cmd_private *p, const uint8_t *bd, size_t bdlen,
                                   bool longlba, size_t off)
{
    size_t each = longlba ? 16 : 8;
    if (bdlen % each)
        return scst_invalid_param(p, (uint16_t)(off - 1), 7);
    for (size_t i = 0; i < bdlen; i += each) {
        uint32_t bs = longlba ? get_be32(bd + i + 12) : get_be24(bd + i + 5);
        if (bs != p->dev->block_size)
            return scst_invalid_param(p, (uint16_t)(off + i + (longlba ? 12 : 5)), 7);
    }
    return 0;
}

static int parse_pages(struct scst_cmd_private *p, const uint8_t *d, size_t len, size_t off,
                       struct scst_mode_params *np)
{
    while (off < len) {
        if (len - off < 2)
            goto short_list;
        uint8_t code = d[off] & 0x3f;
        bool spf = d[off] & 0x40;
        if (spf && len - off < 4)
            goto short_list;
        uint8_t sub = spf ? d[off + 1] : 0;
        size_t plen = spf ? (size_t)get_be16(d + off + 2) + 4 : (size_t)d[off + 1] + 2;
        if (plen > len - off)
            goto short_list;
        const struct mode_page *pg = find_page(code, sub);
        if (!pg)
            return scst_invalid_param(p, (uint16_t)off, 5);
        if (check_page(p, pg, d + off, plen, off, np))
            return -1;
        off += plen;
    }
    return 0;
short_list:
    scst_fail(p, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
    return -1;
}

void scst_exec_mode_select(struct scst_cmd_private *p)
{
    struct scsi_cmd *cmd = p->cmd;
    struct scst_device *dev = p->dev;
    bool ten = cmd->cdb[0] == 0x55;
    size_t len = cmd->data_len, hdr = ten ? 8 : 4;
    const uint8_t *d = cmd->buf;
    struct scst_mode_params np = dev->mode;
    if (len == 0)
        goto done;
    if (len < hdr) {
        scst_fail(p, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
        goto done;
    }
    size_t bdlen = ten ? get_be16(d + 6) : d[3];
    bool longlba = ten && (d[4] & 0x01);
    if (hdr + bdlen > len) {
        scst_fail(p, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
        goto done;
    }
    if (check_block_descriptors(p, d + hdr, bdlen, longlba, hdr) ||
        parse_pages(p, d, len, hdr + bdlen, &np))
        goto done;
    bool changed = memcmp(&np, &dev->mode, sizeof(np)) != 0;
    dev->mode = np;
    if (cmd->cdb[1] & 0x01) {
        dev->mode_saved = np;
        scst_device_mode_save(dev);
    }
    if (changed)
        scst_ua_dev(dev, ASC_MODE_PARAMETERS_CHANGED, p->sess);
done:
    scst_cmd_complete(p);
}

/* ---- saved values ------------------------------------------------------------------------- */

void scst_device_mode_save(struct scst_device *dev)
{
    struct umc_node *n = dev->core->node;
    const struct scst_mode_params *m = &dev->mode_saved;
    char *path = scst_state_path(dev->core, "mode", dev->name);
    char *text = umc_asprintf(n, "wce %d\nd_sense %d\nswp %d\ntas %d\nqerr %d\ndexcpt %d\nmrie %d\n",
                              m->wce, m->d_sense, m->swp, m->tas, m->qerr, m->dexcpt, m->mrie);
    int rc = umc_write_file(n, path, text, strlen(text));
    if (rc)
        umc_warn(n, SCST_COMPONENT, "device %s: cannot save mode pages to %s: %d", dev->name, path, rc);
    umc_free(n, text);
    umc_free(n, path);
}

static void mode_set_field(struct scst_mode_params *m, const char *key, long v)
{
    if (strcmp(key, "wce") == 0) m->wce = v != 0;
    else if (strcmp(key, "d_sense") == 0) m->d_sense = v != 0;
    else if (strcmp(key, "swp") == 0) m->swp = v != 0;
    else if (strcmp(key, "tas") == 0) m->tas = v != 0;
    else if (strcmp(key, "qerr") == 0 && (v == 0 || v == 1 || v == 3)) m->qerr = (uint8_t)v;
    else if (strcmp(key, "dexcpt") == 0) m->dexcpt = v != 0;
    else if (strcmp(key, "mrie") == 0 && v >= 0 && v <= 6) m->mrie = (uint8_t)v;
}

void scst_device_mode_load(struct scst_device *dev)
{
    struct umc_node *n = dev->core->node;
    char *path = scst_state_path(dev->core, "mode", dev->name);
    int err = 0;
    size_t len = 0;
    char *text = umc_read_file(n, path, &len, &err);
    umc_free(n, path);
    if (!text)
        return;
    struct scst_mode_params m = dev->mode_saved;
    for (char *line = text; line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char key[16];
        long v;
        if (sscanf(line, "%15s %ld", key, &v) == 2)
            mode_set_field(&m, key, v);
        line = next;
    }
    umc_free(n, text);
    dev->mode_saved = m;
    dev->mode = m;
}
