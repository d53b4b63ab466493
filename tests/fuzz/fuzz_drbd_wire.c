/* libFuzzer: arbitrary packets from a connected peer.  Each input builds a
 * fresh pair on faultnet (virtual clock), alice Primary and bob Secondary,
 * connected and in sync over ram backstores; then alice receives the input
 * as packets from bob, through the same dispatch the socket reader uses:
 *   [type u8][volume u8][length u16 big-endian][payload] ...
 * and the pair runs on for two virtual seconds.
 *
 * Invariants: no crash, hang or sanitizer report; a packet refused as a
 * protocol error drops the connection (nothing more is fed to it); after
 * both nodes are freed, neither holds an allocation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drbd/drbd_int.h"
#include "faultnet/faultnet.h"
#include "tcmu_ram/tcmu_ram.h"

static const char *const names[2] = {"alice", "bob"};
static const char *const ips[2] = {"10.0.0.1", "10.0.0.2"};

static const char res_text[] =
    "resource r0 {\n"
    "  net { protocol C; ping-int 1; ping-timeout 5; connect-int 1; }\n"
    "  disk { c-plan-ahead 0; resync-rate 0; c-max-rate 0; }\n"
    "  on alice { node-id 0; address 10.0.0.1:7788;\n"
    "             volume 0 { device drbd1 minor 1; disk tcmu000; meta-disk internal; } }\n"
    "  on bob   { node-id 1; address 10.0.0.2:7788;\n"
    "             volume 0 { device drbd1 minor 1; disk tcmu000; meta-disk internal; } }\n"
    "}\n";

struct pair {
    struct mte_engine *e;
    struct faultnet *fn;
    struct umc_node *n[2];
    struct tcmu_host *h[2];
    struct drbd *d[2];
};

static void die(const char *what)
{
    fprintf(stderr, "fuzz_drbd_wire: %s\n", what);
    abort();
}

struct result {
    bool done;
    int rc;
};

static void cmd_done(void *arg, int rc, const char *msg)
{
    struct result *r = arg;
    r->done = true;
    r->rc = rc;
}

static void command(struct pair *p, int i, const char *verb, bool force)
{
    struct drbd_cmd c = {.verb = verb, .resource = "r0", .volume = -1, .force = force};
    struct result r = {0};
    drbd_command(p->d[i], &c, cmd_done, &r);
    for (int k = 0; k < 1000 && !r.done; k++)
        mte_run_until(p->e, mte_now(p->e) + 10 * MTE_MSEC);
    if (!r.done || r.rc)
        die(verb);
}

static bool in_sync(struct pair *p)
{
    struct drbd_volume_info vi;
    if (drbd_volume_info(p->d[0], "r0", 0, &vi) || vi.npeers != 1)
        return false;
    return vi.peers[0].conn == DRBD_C_CONNECTED && vi.peers[0].repl == DRBD_R_ESTABLISHED &&
           vi.peers[0].disk == DRBD_D_UP_TO_DATE && vi.disk == DRBD_D_UP_TO_DATE;
}

static void pair_up(struct pair *p)
{
    p->e = mte_engine_new(MTE_CLOCK_VIRTUAL, 1);
    p->fn = faultnet_new(p->e, 1, NULL);
    for (int i = 0; i < 2; i++) {
        if (faultnet_add_host(p->fn, names[i], ips[i]))
            die("faultnet_add_host");
        struct umc_node_opts o = {.name = names[i], .seed = 7 + (uint64_t)i, .net = faultnet_backend(),
                                  .net_ctx = faultnet_host_ctx(p->fn, names[i]),
                                  .print_level = UMC_LOG_ERROR};
        p->n[i] = umc_node_new(p->e, &o);
        p->h[i] = tcmu_host_new(p->n[i]);
        int err = 0;
        struct tcmu_dev_config cfg = {.cfgstring = "ram/", .size = 4u << 20, .block_size = 4096};
        if (!tcmu_dev_add(p->h[i], &cfg, &err))
            die("tcmu_dev_add");
        p->d[i] = drbd_new(p->n[i], names[i]);
        char msg[256];
        if (drbd_add_config(p->d[i], res_text, "r0.res", msg, sizeof(msg)))
            die(msg);
    }
    for (int i = 0; i < 2; i++) {
        command(p, i, "create-md", false);
        command(p, i, "up", false);
    }
    command(p, 0, "primary", true);
    for (int k = 0; k < 3000 && !in_sync(p); k++)
        mte_run_until(p->e, mte_now(p->e) + 10 * MTE_MSEC);
    if (!in_sync(p))
        die("the pair did not sync");
}

static void pair_free(struct pair *p)
{
    for (int i = 0; i < 2; i++)
        drbd_free(p->d[i]);
    for (int i = 0; i < 2; i++)
        tcmu_host_free(p->h[i]);
    mte_run_until_idle(p->e);
    size_t leaks = 0;
    for (int i = 0; i < 2; i++)
        leaks += umc_node_free(p->n[i]);
    faultnet_free(p->fn);
    mte_engine_free(p->e);
    if (leaks)
        die("allocations left after drbd_free");
}

/* One packet to alice from bob, as the socket reader hands it over. */
static bool feed(struct pair *p, struct drbd_conn *c, unsigned type, unsigned vol,
                 const uint8_t *data, uint32_t len)
{
    unsigned char *payload = drbd_buf_get(p->d[0], len);
    memcpy(payload, data, len);
    return drbd_rx_packet(c, type, vol, payload, len) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (256u << 10))
        return 0;
    struct pair p;
    memset(&p, 0, sizeof(p));
    pair_up(&p);
    struct drbd_resource *r = drbd_res_find(p.d[0], "r0");
    struct drbd_conn *c = r ? drbd_conn_by_name(r, "bob") : NULL;
    if (!c)
        die("no connection to bob");
    size_t at = 0;
    while (at + 4 <= size && c->sock) {
        unsigned type = data[at], vol = data[at + 1] == 0xff ? DRBD_VOL_NONE : data[at + 1];
        uint32_t len = (uint32_t)data[at + 2] << 8 | data[at + 3];
        at += 4;
        if (len > size - at)
            len = (uint32_t)(size - at);
        bool ok = feed(&p, c, type, vol, data + at, len);
        at += len;
        if (!ok)
            break;
        mte_run_until(p.e, mte_now(p.e) + MTE_MSEC);
    }
    mte_run_until(p.e, mte_now(p.e) + 2 * MTE_SEC);
    pair_free(&p);
    return 0;
}
