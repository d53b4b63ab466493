/* libFuzzer: the iSCSI PDU reader and header checks on raw bytes, then the
 * whole target (login, session, SCSI path) fed the same bytes as a TCP stream
 * inside the simulator.  The first input byte picks the mode: digests on the
 * reader, and whether a valid login comes first so the bytes reach the full
 * feature phase.  Any crash, sanitizer report or leaked node memory fails. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "faultnet/faultnet.h"
#include "iscsi/iscsi.h"
#include "iscsi/iscsi_proto.h"
#include "tcmu_ram/tcmu_ram.h"

/* ---- the reader alone --------------------------------------------------------------- */

struct feed {
    const uint8_t *data;
    size_t len, pos, chunk;
    uint8_t direct[4096];
    unsigned pdus;
};

static long feed_read(void *owner, void *buf, size_t len)
{
    struct feed *f = owner;
    size_t n = f->len - f->pos;
    n = n < len ? n : len;
    n = n < f->chunk ? n : f->chunk;
    memcpy(buf, f->data + f->pos, n);
    f->pos += n;
    return (long)n;
}

static int feed_header(void *owner, struct iscsi_rx *rx)
{
    struct feed *f = owner;
    unsigned a = iscsi_check_initiator_pdu(rx->hdr, 65536);
    unsigned b = iscsi_check_target_pdu(rx->hdr, 65536);
    if (rx->dlen > 65536)
        iscsi_rx_set_discard(rx);
    else if ((a ^ b ^ rx->hdr[1]) & 1)
        iscsi_rx_set_direct(rx, f->direct, sizeof(f->direct));
    (void)iscsi_lun_decode(iscsi_get64(rx->hdr, ISCSI_OFF_LUN));
    return 0;
}

static int feed_pdu(void *owner, struct iscsi_rx *rx, const uint8_t *data, bool ok)
{
    struct feed *f = owner;
    f->pdus++;
    if (data && rx->dlen) {
        struct iscsi_text_iter it;
        const char *k, *v;
        iscsi_text_iter_init(&it, (const char *)data, rx->dlen);
        while (iscsi_text_next(&it, &k, &v) > 0)
            (void)iscsi_key_lookup(k);
    }
    return f->pdus > 4096 ? -1 : 0;
}

static void *feed_alloc(void *o, size_t n) { return malloc(n); }
static void feed_free(void *o, void *p) { free(p); }

static void fuzz_reader(const uint8_t *data, size_t size, uint8_t mode)
{
    static const struct iscsi_rx_ops ops = {feed_header, feed_pdu, feed_read, feed_alloc, feed_free};
    struct feed f = {.data = data, .len = size, .chunk = 1 + (mode >> 4) * 97};
    uint8_t *buf = malloc(ISCSI_RX_BUF);
    struct iscsi_rx rx;
    iscsi_rx_init(&rx, &ops, &f, buf);
    rx.header_digest = mode & 1;
    rx.data_digest = mode & 2;
    while (f.pos < f.len) {                       /* pump reads until the input runs dry */
        size_t before = f.pos;
        if (iscsi_rx_pump(&rx) < 0 || f.pos == before)
            break;
    }
    iscsi_rx_release(&rx);
    free(buf);
}

/* ---- the target over the simulated network ------------------------------------------------ */

#define TGT "iqn.2026-11.local.fuzz:t"

struct client {
    bool connected, closed;
};

static void c_connect(struct umc_conn *c, void *arg) { ((struct client *)arg)->connected = true; }
static void c_readable(struct umc_conn *c, void *arg)
{
    uint8_t sink[65536];
    while (umc_conn_read(c, sink, sizeof(sink)) > 0)
        ;
}
static void c_close(struct umc_conn *c, int err, void *arg) { ((struct client *)arg)->closed = true; }

static const struct umc_conn_ops client_ops = {c_connect, c_readable, NULL, c_close};

static struct umc_node *node_on(struct mte_engine *e, struct faultnet *fn, const char *host)
{
    struct umc_node_opts o = {.name = host, .seed = 7, .net = faultnet_backend(),
                              .net_ctx = faultnet_host_ctx(fn, host), .print_level = UMC_LOG_ERROR};
    return umc_node_new(e, &o);
}

/* A login that reaches the full feature phase (security, then operational). */
static void send_login(struct umc_conn *c)
{
    static const char sec[] = "InitiatorName=iqn.2026-11.local.fuzz:i\0TargetName=" TGT
                              "\0SessionType=Normal\0AuthMethod=None";
    static const char op[] = "ImmediateData=Yes\0InitialR2T=No\0MaxRecvDataSegmentLength=65536";
    uint8_t h[ISCSI_BHS_LEN], pad[4] = {0};
    iscsi_hdr_init(h, ISCSI_OP_LOGIN_REQ | ISCSI_OP_IMMEDIATE, ISCSI_LOGIN_T | ISCSI_STAGE_OPERATIONAL);
    iscsi_hdr_set_isid_tsih(h, 0x800000000001ull, 0);
    iscsi_put32(h, ISCSI_OFF_CMDSN, 1);
    iscsi_hdr_set_dlen(h, sizeof(sec));
    umc_conn_send_buf(c, h, ISCSI_BHS_LEN);
    umc_conn_send_buf(c, sec, sizeof(sec));
    umc_conn_send_buf(c, pad, iscsi_pad4(sizeof(sec)));
    h[1] = ISCSI_LOGIN_T | ISCSI_STAGE_OPERATIONAL << 2 | ISCSI_STAGE_FFP;
    iscsi_hdr_set_dlen(h, sizeof(op));
    umc_conn_send_buf(c, h, ISCSI_BHS_LEN);
    umc_conn_send_buf(c, op, sizeof(op));
    umc_conn_send_buf(c, pad, iscsi_pad4(sizeof(op)));
}

static void fuzz_target(const uint8_t *data, size_t size, bool login)
{
    struct mte_engine *e = mte_engine_new(MTE_CLOCK_VIRTUAL, 1);
    struct faultnet *fn = faultnet_new(e, 1, NULL);
    faultnet_add_host(fn, "t", "10.0.0.1");
    faultnet_add_host(fn, "i", "10.0.0.2");
    struct umc_node *tn = node_on(e, fn, "t"), *in = node_on(e, fn, "i");
    struct tcmu_host *th = tcmu_host_new(tn);
    struct tcmu_dev_config cfg = {.cfgstring = "ram/", .size = 1 << 20, .block_size = 512};
    int err = 0;
    tcmu_dev_add(th, &cfg, &err);
    struct scst_core *core = scst_core_new(tn);
    char msg[128];
    struct scst_device_opts d = {.name = "d0", .bdev = "tcmu000"};
    scst_device_add(core, &d, msg, sizeof(msg));
    scst_target_add(core, TGT);
    scst_lun_add(core, TGT, NULL, 0, "d0", false);
    scst_target_enable(core, TGT, true);
    struct iscsi_server *srv = iscsi_server_new(tn, core);
    iscsi_server_add_portal(srv, "10.0.0.1:3260");

    struct client cl = {0};
    struct umc_conn *c = umc_connect(in, "10.0.0.1:3260", &client_ops, &cl);
    mte_run_until(e, 10 * MTE_MSEC);
    if (cl.connected && !cl.closed) {
        if (login)
            send_login(c);
        umc_conn_send_buf(c, data, size);
    }
    mte_run_until(e, mte_now(e) + 500 * MTE_MSEC);
    umc_conn_close(c);
    mte_run_until(e, mte_now(e) + MTE_SEC);
    iscsi_server_free(srv);
    mte_run_until(e, mte_now(e) + MTE_SEC);
    scst_core_free(core);
    tcmu_host_free(th);
    if (umc_node_free(tn) || umc_node_free(in))
        abort();                                  /* the target leaked */
    faultnet_free(fn);
    mte_engine_free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size || size > 300000)
        return 0;
    uint8_t mode = data[0];
    fuzz_reader(data + 1, size - 1, mode);
    fuzz_target(data + 1, size - 1, mode & 4);
    return 0;
}
