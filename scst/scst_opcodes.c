/* The opcode table: one row per (opcode, service action) this server
 * implements.  Parse uses it to decide everything generic about a CDB (which
 * LUs have it, reserved bits via the usage mask, unit attention, reservation
 * classes, medium) and REPORT SUPPORTED OPERATION CODES reports the very same
 * rows, so the two cannot disagree. */
#include "scst/scst_internal.h"

#define M OPF_MEDIUM
#define W OPF_WRITE
#define D OPF_DATA_OUT
#define R OPF_PR_READ
#define A OPF_PR_ANY
#define S2 OPF_SPC2_OK
#define SAN OPF_SANITIZE_OK
#define NU OPF_NO_UA
#define NL OPF_NO_LUN
#define SA OPF_SA
#define ORD OPF_ORDERED
#define SW OPF_SHORT_WRITE

/* Usage masks, by CDB layout.  Byte 1 of READ/WRITE: DPO, FUA, FUA_NV. */
#define RW6(op) {op, 0x1f, 0xff, 0xff, 0xff, 0x00}
#define RW10(op, b1) {op, b1, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0x00}
#define RW12(op, b1) {op, b1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00}
#define RW16(op, b1) {op, b1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00}
#define ALLOC16(op, sa) {op, sa, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0}

static const struct scst_opdesc op_table[] = {
    {0x00, 0, 6, AVAIL_ALL, M | A, 30, {0x00, 0, 0, 0, 0, 0},
     scst_parse_none, scst_exec_test_unit_ready},
    {0x03, 0, 6, AVAIL_ALL, NU | NL | A | S2 | SAN, 30, {0x03, 0x01, 0, 0, 0xff, 0},
     scst_parse_request_sense, scst_exec_request_sense},
    {0x08, 0, 6, AVAIL_ALL, M | R, 30, RW6(0x08), scst_parse_rw, scst_exec_read},
    {0x0a, 0, 6, AVAIL_ALL, M | W | D | SW, 30, RW6(0x0a), scst_parse_rw, scst_exec_write},
    {0x12, 0, 6, AVAIL_ALL, NU | NL | A | S2 | SAN, 30, {0x12, 0x01, 0xff, 0xff, 0xff, 0},
     scst_parse_inquiry, scst_exec_inquiry},
    {0x15, 0, 6, AVAIL_ALL, D, 30, {0x15, 0x11, 0, 0, 0xff, 0},
     scst_parse_mode_select, scst_exec_mode_select},
    {0x16, 0, 6, AVAIL_ALL, 0, 30, {0x16, 0, 0, 0, 0, 0}, scst_parse_reserve, scst_exec_reserve},
    {0x17, 0, 6, AVAIL_ALL, S2, 30, {0x17, 0, 0, 0, 0, 0}, scst_parse_reserve, scst_exec_release},
    {0x1a, 0, 6, AVAIL_ALL, R, 30, {0x1a, 0x08, 0xff, 0xff, 0xff, 0},
     scst_parse_mode_sense, scst_exec_mode_sense},
    {0x1b, 0, 6, AVAIL_ALL, 0, 60, {0x1b, 0x01, 0, 0x0f, 0xf7, 0},
     scst_parse_start_stop, scst_exec_start_stop},
    {0x1e, 0, 6, AVAIL_ALL, 0, 30, {0x1e, 0, 0, 0, 0x03, 0},
     scst_parse_prevent_allow, scst_exec_prevent_allow},
    {0x25, 0, 10, AVAIL_ALL, M | A, 30, {0x25, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0x01, 0},
     scst_parse_read_capacity10, scst_exec_read_capacity10},
    {0x28, 0, 10, AVAIL_ALL, M | R, 30, RW10(0x28, 0x1a), scst_parse_rw, scst_exec_read},
    {0x2a, 0, 10, AVAIL_ALL, M | W | D | SW, 30, RW10(0x2a, 0x1a), scst_parse_rw, scst_exec_write},
    {0x2e, 0, 10, AVAIL_ALL, M | W | D | SW, 30, RW10(0x2e, 0x12),
     scst_parse_write_verify, scst_exec_write_verify},
    {0x2f, 0, 10, AVAIL_ALL, M | R | D, 30, RW10(0x2f, 0x16), scst_parse_verify, scst_exec_verify},
    {0x34, 0, 10, AVAIL_ALL, M | R, 30, RW10(0x34, 0x02), scst_parse_prefetch, scst_exec_prefetch},
    {0x35, 0, 10, AVAIL_ALL, M, 60, RW10(0x35, 0x06), scst_parse_sync_cache, scst_exec_sync_cache},
    {0x37, 0, 10, AVAIL_ALL, R, 30, {0x37, 0, 0x1f, 0, 0, 0, 0, 0xff, 0xff, 0},
     scst_parse_read_defect, scst_exec_read_defect},
    {0x41, 0, 10, AVAIL_ALL, M | W | D, 120, RW10(0x41, 0x08),
     scst_parse_write_same, scst_exec_write_same},
    {0x42, 0, 10, AVAIL_THIN, M | W | D, 120, {0x42, 0, 0, 0, 0, 0, 0x1f, 0xff, 0xff, 0},
     scst_parse_unmap, scst_exec_unmap},
    {0x48, 0x01, 10, AVAIL_ALL, SA | M | W | D, 3600, {0x48, 0xbf, 0, 0, 0, 0, 0, 0xff, 0xff, 0},
     scst_parse_sanitize, scst_exec_sanitize},
    {0x48, 0x02, 10, AVAIL_THIN, SA | M | W, 3600, {0x48, 0xbf, 0, 0, 0, 0, 0, 0xff, 0xff, 0},
     scst_parse_sanitize, scst_exec_sanitize},
    {0x48, 0x03, 10, AVAIL_ALL, SA | M | W, 3600, {0x48, 0xbf, 0, 0, 0, 0, 0, 0xff, 0xff, 0},
     scst_parse_sanitize, scst_exec_sanitize},
    {0x48, 0x1f, 10, AVAIL_ALL, SA, 60, {0x48, 0xbf, 0, 0, 0, 0, 0, 0xff, 0xff, 0},
     scst_parse_sanitize, scst_exec_sanitize},
    {0x55, 0, 10, AVAIL_ALL, D, 30, {0x55, 0x11, 0, 0, 0, 0, 0, 0xff, 0xff, 0},
     scst_parse_mode_select, scst_exec_mode_select},
    {0x56, 0, 10, AVAIL_ALL, 0, 30, {0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0},
     scst_parse_reserve, scst_exec_reserve},
    {0x57, 0, 10, AVAIL_ALL, S2, 30, {0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0},
     scst_parse_reserve, scst_exec_release},
    {0x5a, 0, 10, AVAIL_ALL, R, 30, {0x5a, 0x18, 0xff, 0xff, 0, 0, 0, 0xff, 0xff, 0},
     scst_parse_mode_sense, scst_exec_mode_sense},
    /* PRIN only reports state: not conflicted by an SPC-2 reservation either,
     * so any path of a multipath host can read the keys */
    {0x5e, 0x00, 10, AVAIL_ALL, SA | A | S2, 30, {0x5e, 0x1f, 0, 0, 0, 0, 0, 0xff, 0xff, 0},
     scst_parse_prin, scst_exec_prin},
    {0x5e, 0x01, 10, AVAIL_ALL, SA | A | S2, 30, {0x5e, 0x1f, 0, 0, 0, 0, 0, 0xff, 0xff, 0},
     scst_parse_prin, scst_exec_prin},
    {0x5e, 0x02, 10, AVAIL_ALL, SA | A | S2, 30, {0x5e, 0x1f, 0, 0, 0, 0, 0, 0xff, 0xff, 0},
     scst_parse_prin, scst_exec_prin},
    {0x5e, 0x03, 10, AVAIL_ALL, SA | A | S2, 30, {0x5e, 0x1f, 0, 0, 0, 0, 0, 0xff, 0xff, 0},
     scst_parse_prin, scst_exec_prin},
#define PROUT(sa) {0x5f, sa, 10, AVAIL_ALL, SA | A | D, 30, {0x5f, 0x1f, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0}, scst_parse_prout, scst_exec_prout}
    PROUT(0x00), PROUT(0x01), PROUT(0x02), PROUT(0x03), PROUT(0x04), PROUT(0x05), PROUT(0x06),
    PROUT(0x07),
#undef PROUT
    {0x83, 0x00, 16, AVAIL_ALL, SA | M | D, 120, ALLOC16(0x83, 0x1f), scst_parse_xcopy, scst_exec_xcopy},
    {0x84, 0x00, 16, AVAIL_ALL, SA | R, 30, {0x84, 0x1f, 0xff, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0},
     scst_parse_rcr, scst_exec_rcr},
    {0x84, 0x03, 16, AVAIL_ALL, SA | R, 30, ALLOC16(0x84, 0x1f), scst_parse_rcr, scst_exec_rcr},
    {0x88, 0, 16, AVAIL_ALL, M | R, 30, RW16(0x88, 0x1a), scst_parse_rw, scst_exec_read},
    {0x89, 0, 16, AVAIL_ALL, M | W | D, 30,
     {0x89, 0x1a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0xff, 0x1f, 0},
     scst_parse_caw, scst_exec_caw},
    {0x8a, 0, 16, AVAIL_ALL, M | W | D | SW, 30, RW16(0x8a, 0x1a), scst_parse_rw, scst_exec_write},
    {0x8b, 0, 16, AVAIL_ALL, M | W | D, 30, RW16(0x8b, 0x1a), scst_parse_orwrite, scst_exec_orwrite},
    {0x8e, 0, 16, AVAIL_ALL, M | W | D | SW, 30, RW16(0x8e, 0x12),
     scst_parse_write_verify, scst_exec_write_verify},
    {0x8f, 0, 16, AVAIL_ALL, M | R | D, 30, RW16(0x8f, 0x16), scst_parse_verify, scst_exec_verify},
    {0x90, 0, 16, AVAIL_ALL, M | R, 30, RW16(0x90, 0x02), scst_parse_prefetch, scst_exec_prefetch},
    {0x91, 0, 16, AVAIL_ALL, M, 60, RW16(0x91, 0x06), scst_parse_sync_cache, scst_exec_sync_cache},
    {0x93, 0, 16, AVAIL_ALL, M | W | D, 120, RW16(0x93, 0x09),
     scst_parse_write_same, scst_exec_write_same},
    {0x9c, 0, 16, AVAIL_ALL, M | W | D, 30,
     {0x9c, 0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0xff, 0xff, 0x1f, 0},
     scst_parse_write_atomic, scst_exec_write_atomic},
    {0x9e, 0x10, 16, AVAIL_ALL, SA | M | A, 30, ALLOC16(0x9e, 0x1f),
     scst_parse_read_capacity16, scst_exec_read_capacity16},
    {0x9e, 0x12, 16, AVAIL_THIN, SA | M | R, 30,
     {0x9e, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0},
     scst_parse_get_lba_status, scst_exec_get_lba_status},
    {0xa0, 0, 12, AVAIL_ALL, NU | NL | A | S2 | SAN, 30,
     {0xa0, 0, 0xff, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0},
     scst_parse_report_luns, scst_exec_report_luns},
    {0xa3, 0x0a, 12, AVAIL_ALL, SA | A | S2 | SAN, 30,
     {0xa3, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0}, scst_parse_maint_in, scst_exec_rtpg},
    {0xa3, 0x0c, 12, AVAIL_ALL, SA | A | S2 | SAN, 30,
     {0xa3, 0x1f, 0x87, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0}, scst_parse_rsoc, scst_exec_rsoc},
    {0xa3, 0x0d, 12, AVAIL_ALL, SA | A | S2 | SAN, 30,
     {0xa3, 0x1f, 0x80, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0},
     scst_parse_maint_in, scst_exec_report_tmfs},
    {0xa8, 0, 12, AVAIL_ALL, M | R, 30, RW12(0xa8, 0x1a), scst_parse_rw, scst_exec_read},
    {0xaa, 0, 12, AVAIL_ALL, M | W | D | SW, 30, RW12(0xaa, 0x1a), scst_parse_rw, scst_exec_write},
    {0xae, 0, 12, AVAIL_ALL, M | W | D | SW, 30, RW12(0xae, 0x12),
     scst_parse_write_verify, scst_exec_write_verify},
    {0xaf, 0, 12, AVAIL_ALL, M | R | D, 30, RW12(0xaf, 0x16), scst_parse_verify, scst_exec_verify},
    {0xb7, 0, 12, AVAIL_ALL, R, 30, {0xb7, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0},
     scst_parse_read_defect, scst_exec_read_defect},
};

const struct scst_opdesc *scst_opcode_table(size_t *n)
{
    *n = sizeof(op_table) / sizeof(op_table[0]);
    return op_table;
}

/* The table is in (opcode, service action) order; remember where each opcode starts. */
void scst_opcodes_index(struct scst_core *core)
{
    memset(core->op_index, 0, sizeof(core->op_index));
    size_t n = sizeof(op_table) / sizeof(op_table[0]);
    for (size_t i = n; i-- > 0;)
        core->op_index[op_table[i].opcode] = (uint16_t)(i + 1);
}

const struct scst_opdesc *scst_opcode_find(const struct scst_core *core, uint8_t opcode, uint8_t sa)
{
    uint16_t first = core->op_index[opcode];
    if (!first)
        return NULL;
    size_t n = sizeof(op_table) / sizeof(op_table[0]);
    for (size_t i = first - 1u; i < n && op_table[i].opcode == opcode; i++) {
        if (!(op_table[i].flags & OPF_SA) || op_table[i].sa == sa)
            return &op_table[i];
    }
    return NULL;
}

bool scst_opcode_has_sa(const struct scst_core *core, uint8_t opcode)
{
    uint16_t first = core->op_index[opcode];
    return first && (op_table[first - 1u].flags & OPF_SA);
}

bool scst_opcode_available(const struct scst_opdesc *op, const struct scst_device *dev)
{
    switch (op->avail) {
    case AVAIL_THIN: return dev && dev->thin;
    case AVAIL_REMOVABLE: return dev && dev->removable;
    default: return true;
    }
}
