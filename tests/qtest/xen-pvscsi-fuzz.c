/*
 * A seeded-random hostile vscsiif frontend against xen-pvscsi
 *
 * It plays a guest's xen-scsifront under the xen-qtest-hv emulation, as the
 * conformance suite does, but with random requests: mostly well-formed
 * commands to the LUNs (disks on null-co and on a file, a CD, a LUN with a
 * latency, a LUN hot-plugged over QMP now and then), a share of them mutated
 * field by field or bit by bit, TMFs, indirect pages (rewritten while the
 * request is in flight), grants revoked and granted again, request
 * producers that overflow or run backwards, spurious xenstore states, and
 * reconnects with requests in flight.  Every response is checked: one per
 * request, for a request that is pending, with a defined result, sense and
 * residual within bounds and no stale bytes; pages the guest never offered
 * and pages it offered read-only keep their contents.
 *
 * The run is cut into epochs, each a QEMU of its own, run in a child
 * process with the seed FUZZ_SEED + epoch: a crash, a sanitizer report, a
 * hang (a response or state change that does not come within 10 s) or a
 * failed check ends that epoch only, is counted, and its log is kept.
 * Seeds with bit 0 set run the device in an IOThread, those with bit 1 set
 * move the data in the guest's mapped pages (grant-map-threshold=512)
 * instead of grant copies.
 *
 *   FUZZ_REQUESTS=N  requests in all (default 2000000)
 *   FUZZ_EPOCH_REQUESTS=N  per epoch (default 100000)
 *   FUZZ_SEED=S      base seed (default 1)
 *   FUZZ_EPOCH=E     run epoch E only, in this process (reproduction)
 *   FUZZ_OUT=DIR     where failed epochs' logs go (default: fuzz-out)
 *
 * It ends with "fuzz: N requests, N responses checked, N crashes" and
 * exits non-zero if any epoch failed.
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "libqos/xen-vscsifront.h"
#include <sys/wait.h>

#define DOMID           1
#define RING            QVSCSI_RING_SIZE
#define NR_DATA         48          /* rw data pages */
#define NR_RO           8           /* read-only granted pages */
#define NR_IND          RING        /* indirect pages, one per ring slot */
#define NR_CANARY       2           /* never granted */
#define RO_BYTE         0x5a
#define CANARY_BYTE     0xa5
#define WAIT_MS         10000
#define NR_RQID         64          /* rqids in use, as Linux: < ring size */

/* The LUNs, as channel:id:lun */
typedef struct Lun {
    int channel, id, lun;
    bool cd;
} Lun;

static const Lun luns[] = {
    { 0, 0, 0, false },     /* scsi-hd on null-co */
    { 0, 0, 1, false },     /* scsi-hd on a file */
    { 0, 1, 0, true },      /* scsi-cd on the file, read-only */
    { 0, 2, 0, false },     /* scsi-hd on null-co with a latency */
    { 0, 3, 0, false },     /* hot-plugged now and then */
};

typedef struct Fuzz {
    QXen *x;
    QVscsiFront f;
    GRand *rand;
    bool iothread;
    bool map;                   /* data in mapped guest pages, not copied */
    char *img;
    uint64_t data_gpa, ro_gpa, ind_gpa, canary_gpa;
    uint32_t data_ref[NR_DATA], ro_ref[NR_RO], ind_ref[NR_IND];
    bool revoked[NR_DATA];
    bool hotplugged;
    /* per rqid: requests pending, guest buffer of the last one (or ~0) */
    uint16_t pending[65536];
    uint32_t buflen[65536];
    uint8_t act[65536];
    unsigned int nr_pending;    /* on this ring */
    /* counts */
    uint64_t requests, responses, mutated, rings_broken, reconnects;
    GHashTable *outcomes;
} Fuzz;

static uint32_t rnd(Fuzz *z, uint32_t n)
{
    return n ? g_rand_int_range(z->rand, 0, n) : 0;
}

static bool chance(Fuzz *z, unsigned int per_mille)
{
    return rnd(z, 1000) < per_mille;
}

G_GNUC_PRINTF(1, 2) G_NORETURN
static void fail(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "fuzz: CHECK FAILED: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(3);
}

/* ---------------------------------------------------------------------- */
/* Setup                                                                   */

static void grant_pool(Fuzz *z)
{
    QXen *x = z->x;
    g_autofree uint8_t *page = g_malloc(QXEN_PAGE_SIZE);

    z->data_gpa = qxen_alloc_pages(x, NR_DATA);
    z->ro_gpa = qxen_alloc_pages(x, NR_RO);
    z->ind_gpa = qxen_alloc_pages(x, NR_IND);
    z->canary_gpa = qxen_alloc_pages(x, NR_CANARY);
    for (int i = 0; i < NR_DATA; i++) {
        z->data_ref[i] = qxen_grant(x, z->data_gpa + i * QXEN_PAGE_SIZE,
                                    false);
        z->revoked[i] = false;
    }
    memset(page, RO_BYTE, QXEN_PAGE_SIZE);
    for (int i = 0; i < NR_RO; i++) {
        qtest_memwrite(x->qts, z->ro_gpa + i * QXEN_PAGE_SIZE, page,
                       QXEN_PAGE_SIZE);
        z->ro_ref[i] = qxen_grant(x, z->ro_gpa + i * QXEN_PAGE_SIZE, true);
    }
    for (int i = 0; i < NR_IND; i++) {
        z->ind_ref[i] = qxen_grant(x, z->ind_gpa + i * QXEN_PAGE_SIZE, true);
    }
    memset(page, CANARY_BYTE, QXEN_PAGE_SIZE);
    for (int i = 0; i < NR_CANARY; i++) {
        qtest_memwrite(x->qts, z->canary_gpa + i * QXEN_PAGE_SIZE, page,
                       QXEN_PAGE_SIZE);
    }
}

/* Pages the backend must never have written keep their contents. */
static void check_pages(Fuzz *z)
{
    g_autofree uint8_t *buf = g_malloc(NR_RO * QXEN_PAGE_SIZE);

    qtest_memread(z->x->qts, z->ro_gpa, buf, NR_RO * QXEN_PAGE_SIZE);
    for (size_t i = 0; i < NR_RO * QXEN_PAGE_SIZE; i++) {
        if (buf[i] != RO_BYTE) {
            fail("read-only granted page %zu written at %zu",
                 i / QXEN_PAGE_SIZE, i % QXEN_PAGE_SIZE);
        }
    }
    qtest_memread(z->x->qts, z->canary_gpa, buf, NR_CANARY * QXEN_PAGE_SIZE);
    for (size_t i = 0; i < NR_CANARY * QXEN_PAGE_SIZE; i++) {
        if (buf[i] != CANARY_BYTE) {
            fail("page never offered written at %zu", i);
        }
    }
}

static void start(Fuzz *z)
{
    int fd = g_file_open_tmp("xen-pvscsi-fuzz-XXXXXX.img", &z->img, NULL);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, 8 * 1024 * 1024), ==, 0);
    close(fd);
    z->x = qxen_start(DOMID,
        "%s"
        "-blockdev driver=null-co,node-name=n0,size=67108864,read-zeroes=on "
        "-blockdev driver=file,node-name=f1,filename=%s,locking=off "
        "-blockdev driver=raw,node-name=d1,file=f1 "
        "-blockdev driver=file,node-name=f2,filename=%s,read-only=on,"
        "locking=off "
        "-blockdev driver=raw,node-name=d2,file=f2,read-only=on "
        "-blockdev driver=null-co,node-name=n3,size=67108864,"
        "read-zeroes=on,latency-ns=200000 "
        "-blockdev driver=null-co,node-name=hp,size=1048576,read-zeroes=on "
        "-device xen-pvscsi,id=vscsi0,devid=0%s%s "
        "-device scsi-hd,bus=vscsi0.0,channel=0,scsi-id=0,lun=0,drive=n0 "
        "-device scsi-hd,bus=vscsi0.0,channel=0,scsi-id=0,lun=1,drive=d1 "
        "-device scsi-cd,bus=vscsi0.0,channel=0,scsi-id=1,lun=0,drive=d2 "
        "-device scsi-hd,bus=vscsi0.0,channel=0,scsi-id=2,lun=0,drive=n3",
        z->iothread ? "-object iothread,id=io0 " : "",
        z->img, z->img,
        z->iothread ? ",iothread=io0" : "",
        z->map ? ",grant-map-threshold=512" : "");
    qvscsi_init(&z->f, z->x, 0);
    grant_pool(z);
    qvscsi_connect(&z->f);
}

static void stop(Fuzz *z)
{
    qvscsi_free(&z->f);
    qxen_stop(z->x);
    unlink(z->img);
    g_free(z->img);
}

/* ---------------------------------------------------------------------- */
/* Responses                                                               */

static bool valid_status(uint8_t s)
{
    switch (s) {
    case 0x00: case 0x02: case 0x04: case 0x08: case 0x10: case 0x14:
    case 0x18: case 0x22: case 0x28: case 0x30: case 0x40:
        return true;
    }
    return false;
}

static void check_response(Fuzz *z, const vscsiif_response_t *rsp)
{
    uint16_t id = rsp->rqid;
    uint32_t host = (rsp->rslt >> 16) & 0xff;
    uint8_t key = 0, asc = 0, ascq = 0;
    char outcome[64];

    if (!z->pending[id]) {
        fail("response for rqid %u, which is not pending", id);
    }
    z->pending[id]--;
    z->nr_pending--;
    z->responses++;
    if (rsp->sense_len > VSCSIIF_SENSE_BUFFERSIZE) {
        fail("rqid %u: sense_len %u", id, rsp->sense_len);
    }
    for (unsigned int i = rsp->sense_len; i < VSCSIIF_SENSE_BUFFERSIZE; i++) {
        if (rsp->sense_buffer[i]) {
            fail("rqid %u: stale sense byte %u", id, i);
        }
    }
    if (rsp->rslt != XEN_VSCSIIF_RSLT_RESET_SUCCESS &&
        rsp->rslt != XEN_VSCSIIF_RSLT_RESET_FAILED &&
        ((rsp->rslt & 0xff00ff00) || host > XEN_VSCSIIF_RSLT_HOST_LAST ||
         !valid_status(rsp->rslt & 0xff))) {
        fail("rqid %u: undefined rslt 0x%x", id, rsp->rslt);
    }
    if (z->buflen[id] != UINT32_MAX && rsp->residual_len > z->buflen[id]) {
        fail("rqid %u: residual %u for a buffer of %u", id,
             rsp->residual_len, z->buflen[id]);
    }
    if (rsp->sense_len >= 14) {
        key = rsp->sense_buffer[2] & 0xf;
        asc = rsp->sense_buffer[12];
        ascq = rsp->sense_buffer[13];
    }
    snprintf(outcome, sizeof(outcome), "act%u/rslt%x/%x-%02x-%02x",
             z->act[id], rsp->rslt, key, asc, ascq);
    if (!g_hash_table_contains(z->outcomes, outcome)) {
        g_hash_table_add(z->outcomes, g_strdup(outcome));
    }
}

/* Consume the responses on the ring; with @want, wait for that many. */
static void collect(Fuzz *z, unsigned int want)
{
    QXenRing *r = &z->f.ring;
    gint64 deadline = g_get_monotonic_time() + WAIT_MS * 1000LL;
    vscsiif_response_t rsp[RING];

    for (int spins = 0;; spins++) {
        uint32_t prod = qxen_ring_rsp_prod(z->x, r);
        uint32_t n = prod - r->rsp_cons;

        if (n > RING) {
            fail("response producer %u runs %u ahead", prod, n);
        }
        if (n) {
            uint32_t first = r->rsp_cons % RING;
            uint32_t n1 = MIN(n, RING - first);

            qtest_memread(z->x->qts, qxen_ring_slot(r, r->rsp_cons), rsp,
                          n1 * sizeof(rsp[0]));
            if (n > n1) {
                qtest_memread(z->x->qts, qxen_ring_slot(r, 0), rsp + n1,
                              (n - n1) * sizeof(rsp[0]));
            }
            r->rsp_cons = prod;
            qtest_writel(z->x->qts, r->gpa + QXEN_RING_RSP_EVENT, prod + 1);
            for (uint32_t i = 0; i < n; i++) {
                check_response(z, &rsp[i]);
            }
            want = n >= want ? 0 : want - n;
        }
        if (!want) {
            return;
        }
        if (g_get_monotonic_time() > deadline) {
            fail("HANG: %u responses missing after %d ms (%u pending)", want,
                 WAIT_MS, z->nr_pending);
        }
        if (spins > 20) {
            g_usleep(50);
        }
    }
}

static void drain(Fuzz *z)
{
    collect(z, z->nr_pending);
}

/* ---------------------------------------------------------------------- */
/* Requests                                                                */

typedef struct Cdb {
    uint8_t op;
    uint8_t len;
    int dir;                    /* VSCSIIF_DMA_* */
} Cdb;

static const Cdb cdbs[] = {
    { 0x00, 6, VSCSIIF_DMA_NONE },          /* TEST UNIT READY */
    { 0x03, 6, VSCSIIF_DMA_FROM_DEVICE },   /* REQUEST SENSE */
    { 0x12, 6, VSCSIIF_DMA_FROM_DEVICE },   /* INQUIRY */
    { 0x1a, 6, VSCSIIF_DMA_FROM_DEVICE },   /* MODE SENSE (6) */
    { 0x5a, 10, VSCSIIF_DMA_FROM_DEVICE },  /* MODE SENSE (10) */
    { 0x25, 10, VSCSIIF_DMA_FROM_DEVICE },  /* READ CAPACITY (10) */
    { 0x9e, 16, VSCSIIF_DMA_FROM_DEVICE },  /* SERVICE ACTION IN (16) */
    { 0xa0, 12, VSCSIIF_DMA_FROM_DEVICE },  /* REPORT LUNS */
    { 0x08, 6, VSCSIIF_DMA_FROM_DEVICE },   /* READ (6) */
    { 0x28, 10, VSCSIIF_DMA_FROM_DEVICE },  /* READ (10) */
    { 0x88, 16, VSCSIIF_DMA_FROM_DEVICE },  /* READ (16) */
    { 0x0a, 6, VSCSIIF_DMA_TO_DEVICE },     /* WRITE (6) */
    { 0x2a, 10, VSCSIIF_DMA_TO_DEVICE },    /* WRITE (10) */
    { 0x8a, 16, VSCSIIF_DMA_TO_DEVICE },    /* WRITE (16) */
    { 0x2e, 10, VSCSIIF_DMA_TO_DEVICE },    /* WRITE AND VERIFY (10) */
    { 0x2f, 10, VSCSIIF_DMA_NONE },         /* VERIFY (10) */
    { 0x35, 10, VSCSIIF_DMA_NONE },         /* SYNCHRONIZE CACHE (10) */
    { 0x41, 10, VSCSIIF_DMA_TO_DEVICE },    /* WRITE SAME (10) */
    { 0x93, 16, VSCSIIF_DMA_TO_DEVICE },    /* WRITE SAME (16) */
    { 0x42, 10, VSCSIIF_DMA_TO_DEVICE },    /* UNMAP */
    { 0x1b, 6, VSCSIIF_DMA_NONE },          /* START STOP UNIT */
    { 0x1e, 6, VSCSIIF_DMA_NONE },          /* PREVENT ALLOW REMOVAL */
    { 0x43, 10, VSCSIIF_DMA_FROM_DEVICE },  /* READ TOC */
    { 0x46, 10, VSCSIIF_DMA_FROM_DEVICE },  /* GET CONFIGURATION */
    { 0x4a, 10, VSCSIIF_DMA_FROM_DEVICE },  /* GET EVENT STATUS */
    { 0x51, 10, VSCSIIF_DMA_FROM_DEVICE },  /* READ DISC INFORMATION */
    { 0xa3, 12, VSCSIIF_DMA_FROM_DEVICE },  /* MAINTENANCE IN */
    { 0x5e, 10, VSCSIIF_DMA_FROM_DEVICE },  /* PERSISTENT RESERVE IN */
    { 0x4d, 10, VSCSIIF_DMA_FROM_DEVICE },  /* LOG SENSE */
};

/* A free rqid (none pending), as a well-behaved frontend uses. */
static uint16_t free_rqid(Fuzz *z)
{
    uint16_t id = rnd(z, NR_RQID);

    for (int i = 0; i < NR_RQID && z->pending[id]; i++) {
        id = (id + 1) % NR_RQID;
    }
    return id;
}

static uint16_t pending_rqid(Fuzz *z)
{
    uint16_t id = rnd(z, NR_RQID);

    for (int i = 0; i < NR_RQID && !z->pending[id]; i++) {
        id = (id + 1) % NR_RQID;
    }
    return id;
}

/* Data segments over the pool, @bytes in all; returns their total. */
static uint32_t make_segments(Fuzz *z, vscsiif_segment_t *segs,
                              unsigned int *nr, unsigned int max,
                              uint32_t bytes, bool from_dev)
{
    uint32_t total = 0;
    unsigned int n = 0;

    while (total < bytes && n < max) {
        uint32_t off = chance(z, 700) ? 0 : rnd(z, 8) * 512;
        uint32_t len = MIN(bytes - total, QXEN_PAGE_SIZE - off);
        bool ro = !from_dev && chance(z, 300);

        segs[n].gref = ro ? z->ro_ref[rnd(z, NR_RO)] :
                       z->data_ref[rnd(z, NR_DATA)];
        segs[n].offset = off;
        segs[n].length = len;
        total += len;
        n++;
    }
    *nr = n;
    return total;
}

static void fill_cdb(Fuzz *z, vscsiif_request_t *rq, const Cdb *c,
                     uint32_t *bytes)
{
    uint32_t blocks = rnd(z, 8) ? 1 + rnd(z, 32) : rnd(z, 256);
    uint64_t lba = chance(z, 950) ? rnd(z, 16384) :
                   ((uint64_t)g_rand_int(z->rand) << 32) | g_rand_int(z->rand);
    uint32_t alloc = rnd(z, 4) ? 36 + rnd(z, 256) : rnd(z, 0x10000);

    memset(rq->cmnd, 0, sizeof(rq->cmnd));
    rq->cmnd[0] = c->op;
    rq->cmd_len = c->len;
    *bytes = 0;
    switch (c->op) {
    case 0x08: case 0x0a:
        rq->cmnd[1] = (lba >> 16) & 0x1f;
        rq->cmnd[2] = lba >> 8;
        rq->cmnd[3] = lba;
        blocks &= 0xff;
        rq->cmnd[4] = blocks;
        *bytes = (blocks ? blocks : 256) * 512;
        break;
    case 0x28: case 0x2a: case 0x2e: case 0x2f: case 0x41:
        stl_be_p(rq->cmnd + 2, lba);
        stw_be_p(rq->cmnd + 7, blocks);
        *bytes = c->op == 0x41 ? 512 : c->op == 0x2f ? 0 : blocks * 512;
        break;
    case 0x88: case 0x8a: case 0x93:
        stq_be_p(rq->cmnd + 2, lba);
        stl_be_p(rq->cmnd + 10, blocks);
        *bytes = c->op == 0x93 ? 512 : blocks * 512;
        break;
    case 0x35:
        stl_be_p(rq->cmnd + 2, lba);
        stw_be_p(rq->cmnd + 7, blocks);
        break;
    case 0x42:
        *bytes = 24;
        stw_be_p(rq->cmnd + 7, *bytes);
        break;
    case 0x12:
        if (chance(z, 400)) {
            static const uint8_t pages[] = { 0x00, 0x80, 0x83, 0xb0, 0xb1,
                                             0xb2, 0x7f };
            rq->cmnd[1] = 1;
            rq->cmnd[2] = pages[rnd(z, sizeof(pages))];
        }
        alloc &= 0xff;
        rq->cmnd[4] = alloc;
        *bytes = alloc;
        break;
    case 0x03: case 0x1a:
        rq->cmnd[2] = rnd(z, 0x40);
        alloc &= 0xff;
        rq->cmnd[4] = alloc;
        *bytes = alloc;
        break;
    case 0x5a: case 0x43: case 0x46: case 0x4a: case 0x51: case 0x5e:
    case 0x4d:
        rq->cmnd[1] = rnd(z, 4);
        rq->cmnd[2] = rnd(z, 0x40);
        if (c->op == 0x4a) {
            rq->cmnd[1] = 1;
            rq->cmnd[4] = rnd(z, 0x80);
        }
        alloc = MIN(alloc, 8192);
        stw_be_p(rq->cmnd + 7, alloc);
        *bytes = alloc;
        break;
    case 0x25:
        *bytes = 8;
        break;
    case 0x9e:
        rq->cmnd[1] = rnd(z, 4) ? 0x10 : rnd(z, 0x20);
        alloc = MIN(alloc, 8192);
        stl_be_p(rq->cmnd + 10, alloc);
        *bytes = alloc;
        break;
    case 0xa0: case 0xa3:
        if (c->op == 0xa3) {
            rq->cmnd[1] = rnd(z, 4) ? 0x0c : rnd(z, 0x20);
        }
        alloc = MAX(alloc, 16);
        alloc = MIN(alloc, 8192);
        stl_be_p(rq->cmnd + 6, alloc);
        *bytes = alloc;
        break;
    case 0x1b: case 0x1e:
        rq->cmnd[4] = rnd(z, 4);
        break;
    }
}

/* Forget what we know of the pending requests' buffers. */
static void buffers_unknown(Fuzz *z)
{
    for (int i = 0; i < 65536; i++) {
        if (z->pending[i]) {
            z->buflen[i] = UINT32_MAX;
        }
    }
}

/*
 * Build one request into @rq, for ring slot @slot (whose indirect page it
 * may use).  Returns the guest buffer's length if the request is
 * well-formed, UINT32_MAX if it was mutated.
 */
static uint32_t make_request(Fuzz *z, vscsiif_request_t *rq, uint32_t slot,
                             bool hostile)
{
    const Lun *l = &luns[rnd(z, z->hotplugged ? 5 : 4)];
    const Cdb *c = &cdbs[rnd(z, ARRAY_SIZE(cdbs))];
    uint32_t bytes = 0, total = 0;
    unsigned int nr = 0;
    unsigned int r = rnd(z, 1000);
    bool mutated = false;

    memset(rq, 0, sizeof(*rq));
    rq->rqid = free_rqid(z);
    rq->channel = l->channel;
    rq->id = l->id;
    rq->lun = l->lun;
    if (r < 930 || !z->nr_pending) {
        rq->act = VSCSIIF_ACT_SCSI_CDB;
        fill_cdb(z, rq, c, &bytes);
        bytes = MIN(bytes, 128 * QXEN_PAGE_SIZE);
        rq->sc_data_direction = bytes ? c->dir : VSCSIIF_DMA_NONE;
        if (rq->sc_data_direction == VSCSIIF_DMA_NONE) {
            bytes = 0;
        }
        if (bytes > VSCSIIF_SG_TABLESIZE * QXEN_PAGE_SIZE / 2 ||
            (bytes && chance(z, 150))) {
            /* Indirect: descriptors in the indirect pages */
            vscsiif_segment_t *segs = g_new0(vscsiif_segment_t, 128);
            unsigned int npages;

            total = make_segments(z, segs, &nr, 128, bytes,
                                  c->dir == VSCSIIF_DMA_FROM_DEVICE);
            npages = DIV_ROUND_UP(nr, VSCSIIF_SG_PER_PAGE);
            g_assert_cmpuint(npages, ==, 1);
            for (unsigned int p = 0; p < npages; p++) {
                unsigned int k = MIN(nr - p * VSCSIIF_SG_PER_PAGE,
                                     VSCSIIF_SG_PER_PAGE);
                unsigned int ind = slot % NR_IND;

                qtest_memwrite(z->x->qts, z->ind_gpa + ind * QXEN_PAGE_SIZE,
                               segs + p * VSCSIIF_SG_PER_PAGE,
                               k * sizeof(*segs));
                rq->seg[p].gref = z->ind_ref[ind];
                rq->seg[p].offset = 0;
                rq->seg[p].length = k * sizeof(*segs);
            }
            rq->nr_segments = VSCSIIF_SG_GRANT | npages;
            g_free(segs);
        } else {
            total = make_segments(z, rq->seg, &nr, VSCSIIF_SG_TABLESIZE,
                                  bytes, c->dir == VSCSIIF_DMA_FROM_DEVICE);
            rq->nr_segments = nr;
        }
    } else if (r < 970) {
        rq->act = VSCSIIF_ACT_SCSI_ABORT;
        rq->ref_rqid = chance(z, 800) ? pending_rqid(z) : rnd(z, 0x10000);
        rq->sc_data_direction = VSCSIIF_DMA_NONE;
    } else {
        rq->act = VSCSIIF_ACT_SCSI_RESET;
        rq->sc_data_direction = VSCSIIF_DMA_NONE;
    }

    if (hostile) {
        unsigned int n = 1 + rnd(z, 4);

        mutated = true;
        for (unsigned int i = 0; i < n; i++) {
            switch (rnd(z, 16)) {
            case 0:     /* a bit anywhere */
                ((uint8_t *)rq)[rnd(z, sizeof(*rq))] ^= 1 << rnd(z, 8);
                break;
            case 1:
                rq->act = rnd(z, 256);
                break;
            case 2:
                rq->cmd_len = rnd(z, 256);
                break;
            case 3:
                rq->cmnd[rnd(z, 16)] = rnd(z, 256);
                break;
            case 4:
                rq->cmnd[0] = rnd(z, 256);
                break;
            case 5:
                rq->nr_segments = rnd(z, 256);
                break;
            case 6:
                rq->seg[rnd(z, VSCSIIF_SG_TABLESIZE)].gref =
                    chance(z, 500) ? rnd(z, 1 << 16) : g_rand_int(z->rand);
                break;
            case 7:
                rq->seg[rnd(z, VSCSIIF_SG_TABLESIZE)].offset = rnd(z, 8192);
                break;
            case 8:
                rq->seg[rnd(z, VSCSIIF_SG_TABLESIZE)].length =
                    rnd(z, 2) ? rnd(z, 8192) : 0xffff;
                break;
            case 9:
                rq->sc_data_direction = rnd(z, 256);
                break;
            case 10:
                rq->channel = rnd(z, 2) ? rnd(z, 16) : rnd(z, 0x10000);
                rq->id = rnd(z, 2) ? rnd(z, 80) : rnd(z, 0x10000);
                rq->lun = rnd(z, 2) ? rnd(z, 300) : rnd(z, 0x10000);
                break;
            case 11:    /* an rqid in flight */
                if (z->nr_pending) {
                    rq->rqid = pending_rqid(z);
                }
                break;
            case 12:
                rq->rqid = rnd(z, 0x10000);
                break;
            case 13:    /* from-device into a read-only page */
                rq->seg[0].gref = z->ro_ref[rnd(z, NR_RO)];
                break;
            case 14:    /* a grant reference never granted, or past the table */
                rq->seg[0].gref = z->x->nr_grefs - 1 - rnd(z, 64) +
                                  (rnd(z, 2) ? 128 : 0);
                break;
            case 15:    /* this slot's indirect descriptors: junk */
                qtest_memset(z->x->qts, z->ind_gpa +
                             (slot % NR_IND) * QXEN_PAGE_SIZE +
                             rnd(z, QXEN_PAGE_SIZE / 8) * 8,
                             rnd(z, 256), 8);
                break;
            }
        }
        /*
         * The ring page is the guest's, granted writable: a segment on it
         * is legal, and would have the backend write into the ring under
         * our feet.  Keep them off it.
         */
        for (unsigned int i = 0; i < VSCSIIF_SG_TABLESIZE; i++) {
            if (rq->seg[i].gref == z->f.ring.ref) {
                rq->seg[i].gref = z->x->nr_grefs + 1;
            }
        }
    }
    return mutated ? UINT32_MAX : total;
}

/* Put @n requests on the ring (at most the free slots) and kick. */
static void send_batch(Fuzz *z, unsigned int n, unsigned int hostile_pm)
{
    QXenRing *r = &z->f.ring;
    vscsiif_request_t rq[RING];
    uint32_t first, n1;

    n = MIN(n, RING - (r->req_prod_pvt - r->rsp_cons));
    if (!n) {
        return;
    }
    for (unsigned int i = 0; i < n; i++) {
        bool hostile = chance(z, hostile_pm);
        uint32_t len = make_request(z, &rq[i], r->req_prod_pvt + i, hostile);

        z->pending[rq[i].rqid]++;
        z->buflen[rq[i].rqid] = z->pending[rq[i].rqid] > 1 ? UINT32_MAX : len;
        /* Which of two requests with one rqid an answer is for is open */
        z->act[rq[i].rqid] = z->pending[rq[i].rqid] > 1 ? 0xff : rq[i].act;
        z->nr_pending++;
        z->requests++;
        z->mutated += hostile;
    }
    first = r->req_prod_pvt % RING;
    n1 = MIN(n, RING - first);
    qtest_memwrite(z->x->qts, qxen_ring_slot(r, r->req_prod_pvt), rq,
                   n1 * sizeof(rq[0]));
    if (n > n1) {
        qtest_memwrite(z->x->qts, qxen_ring_slot(r, 0), rq + n1,
                       (n - n1) * sizeof(rq[0]));
    }
    r->req_prod_pvt += n;
    qvscsi_push(&z->f);
}

/* ---------------------------------------------------------------------- */
/* Connection-level events                                                 */

/*
 * Unbind and bind again, as Linux's xen-scsifront does on rmmod/modprobe:
 * from any state, Closed, then a new ring.  Requests pending are dropped:
 * nothing of them may come back on the new ring.
 */
static void rebind(Fuzz *z)
{
    g_autofree char *fe_state = g_strdup_printf("%s/state", z->f.fe);

    qxs_write(z->x->xs, fe_state, "6");
    qvscsi_wait_closed(&z->f);
    qvscsi_release(&z->f);
    memset(z->pending, 0, sizeof(z->pending));
    z->nr_pending = 0;
    qvscsi_connect(&z->f);
    z->reconnects++;
}

/*
 * A request producer that overflows, runs backwards, or is random (after
 * the ring is idle, so that what the backend has read is known).
 */
static void break_ring(Fuzz *z)
{
    QXenRing *r = &z->f.ring;
    g_autofree char *state = qvscsi_be_key(&z->f, "state");
    uint32_t prod;

    drain(z);
    switch (rnd(z, 3)) {
    case 0:
        prod = r->rsp_cons + RING + 1 + rnd(z, 1000);
        break;
    case 1:
        /* behind what the backend has read */
        prod = r->req_prod_pvt - 1 - rnd(z, RING);
        if (r->req_prod_pvt == r->rsp_cons) {
            prod = r->rsp_cons - 1 - rnd(z, 1000);
        }
        break;
    default:
        prod = g_rand_int(z->rand);
        break;
    }
    qtest_writel(z->x->qts, r->gpa + QXEN_RING_REQ_PROD, prod);
    qxen_evtchn_kick(z->x, z->f.port);
    /*
     * A producer within the ring's bounds may be taken as requests; any
     * other one must be a broken ring, answered by Closing.
     */
    if ((uint32_t)(prod - r->rsp_cons) > RING ||
        (uint32_t)(prod - r->req_prod_pvt) > RING) {
        qxs_wait_state(z->x, z->x->xs, state, 5);
        z->rings_broken++;
    }
    rebind(z);
}

/* Frontend states and keys a guest should not write now. */
static void xenstore_junk(Fuzz *z)
{
    g_autofree char *fe_state = g_strdup_printf("%s/state", z->f.fe);
    g_autofree char *fe_ref = g_strdup_printf("%s/ring-ref", z->f.fe);
    g_autofree char *fe_port = g_strdup_printf("%s/event-channel", z->f.fe);
    static const char *junk[] = { "7", "8", "3", "4", "1", "0", "9", "x",
                                  "-1", "4294967297", "" };

    switch (rnd(z, 3)) {
    case 0:
        qxs_write(z->x->xs, fe_state, junk[rnd(z, ARRAY_SIZE(junk))]);
        break;
    case 1:
        qxs_printf(z->x->xs, fe_ref, "%u", g_rand_int(z->rand));
        qxs_write(z->x->xs, fe_state, "3");
        break;
    default:
        qxs_printf(z->x->xs, fe_port, "%u", g_rand_int(z->rand));
        qxs_write(z->x->xs, fe_state, "3");
        break;
    }
    g_usleep(2000);
    rebind(z);
}

/*
 * Revoke a data grant (requests may use it: they get an error), or give
 * one back.  The reference stays ours (a new ring must not take it).
 */
static void toggle_grant(Fuzz *z)
{
    int i = rnd(z, NR_DATA);

    if (z->revoked[i]) {
        qxen_grant_at(z->x, z->data_ref[i],
                      z->data_gpa + i * QXEN_PAGE_SIZE, false);
        z->revoked[i] = false;
    } else if (!qxen_grant_in_use(z->x, z->data_ref[i])) {
        qtest_writew(z->x->qts, QXEN_GNTTAB_BASE + z->data_ref[i] * 8ULL, 0);
        z->revoked[i] = true;
    }
}

static void hotplug(Fuzz *z)
{
    unsigned int added, removed;
    g_autofree char *state = qvscsi_be_key(&z->f, "state");

    /* Only on a connected, settled backend */
    drain(z);
    if (qxs_read_int(z->x->xs, state, -1) != 4) {
        return;
    }
    if (!z->hotplugged) {
        qtest_qmp_device_add(z->x->qts, "scsi-hd", "hp0",
                             "{'bus': 'vscsi0.0', 'channel': 0, "
                             "'scsi-id': 3, 'lun': 0, 'drive': 'hp'}");
        qvscsi_reconfigure(&z->f, &added, &removed);
        if (added != 1 || removed) {
            fail("hot-add: %u added, %u removed", added, removed);
        }
        z->hotplugged = true;
    } else {
        qtest_qmp_device_del_send(z->x->qts, "hp0");
        qvscsi_reconfigure(&z->f, &added, &removed);
        if (added || removed != 1) {
            fail("hot-remove: %u added, %u removed", added, removed);
        }
        qtest_qmp_eventwait(z->x->qts, "DEVICE_DELETED");
        z->hotplugged = false;
    }
}

/* ---------------------------------------------------------------------- */
/* An epoch                                                                */

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *v = getenv(name);

    return v && *v ? g_ascii_strtoull(v, NULL, 0) : dflt;
}

static void epoch(Fuzz *z, uint64_t nreq)
{
    qxen_watchdog_arm("fuzz epoch", env_u64("FUZZ_EPOCH_TIMEOUT", 900));
    start(z);
    while (z->requests < nreq) {
        unsigned int r = rnd(z, 1000);

        if (r < 900) {
            send_batch(z, 1 + rnd(z, RING), r < 100 ? 1000 : 150);
            collect(z, z->f.ring.req_prod_pvt - z->f.ring.rsp_cons == RING ?
                       1 : 0);
        } else if (r < 960) {
            drain(z);
        } else if (r < 975) {
            toggle_grant(z);
        } else if (r < 980) {
            /* an indirect page rewritten under a request in flight */
            send_batch(z, 4, 0);
            qtest_memset(z->x->qts, z->ind_gpa + rnd(z, NR_IND) *
                         QXEN_PAGE_SIZE, rnd(z, 256), QXEN_PAGE_SIZE);
            buffers_unknown(z);
        } else if (r < 984) {
            break_ring(z);
        } else if (r < 988) {
            rebind(z);          /* with requests in flight */
        } else if (r < 991) {
            xenstore_junk(z);
        } else if (r < 993) {
            hotplug(z);
        } else {
            drain(z);
            check_pages(z);
        }
    }
    drain(z);
    check_pages(z);
    /* Idle: no grant of the pool may still be in use */
    for (int i = 0; i < NR_DATA; i++) {
        if (!z->revoked[i] && qxen_grant_in_use(z->x, z->data_ref[i])) {
            fail("data grant %u still in use when idle", z->data_ref[i]);
        }
    }
    qvscsi_close(&z->f);
    stop(z);
    qxen_watchdog_disarm();
}

/* Run one epoch in this process; print its counts on @out. */
static int run_epoch(uint64_t seed, uint64_t nreq, FILE *out)
{
    Fuzz *z = g_new0(Fuzz, 1);
    GHashTableIter it;
    gpointer key;

    z->rand = g_rand_new_with_seed(seed);
    z->iothread = seed & 1;
    z->map = seed & 2;          /* grant mapping in every other pair */
    z->outcomes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                        NULL);
    epoch(z, nreq);
    fprintf(out, "counts %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
            " %" PRIu64 "\n", z->requests, z->responses, z->mutated,
            z->rings_broken, z->reconnects);
    g_hash_table_iter_init(&it, z->outcomes);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        fprintf(out, "outcome %s\n", (char *)key);
    }
    fflush(out);
    g_hash_table_destroy(z->outcomes);
    g_rand_free(z->rand);
    g_free(z);
    return 0;
}

/* Does the log show a sanitizer's report? */
static bool sanitizer_report(const char *log)
{
    g_autofree char *text = NULL;

    if (!g_file_get_contents(log, &text, NULL, NULL)) {
        return false;
    }
    return strstr(text, "ERROR: AddressSanitizer") ||
           strstr(text, "ERROR: LeakSanitizer") ||
           strstr(text, "runtime error:");
}

int main(int argc, char **argv)
{
    uint64_t total = env_u64("FUZZ_REQUESTS", 2000000);
    uint64_t per = env_u64("FUZZ_EPOCH_REQUESTS", 100000);
    uint64_t seed = env_u64("FUZZ_SEED", 1);
    const char *only = getenv("FUZZ_EPOCH");
    const char *outdir = getenv("FUZZ_OUT") ?: "fuzz-out";
    uint64_t requests = 0, responses = 0, mutated = 0, broken = 0;
    uint64_t reconnects = 0, crashes = 0, hangs = 0, checks = 0, reports = 0;
    uint64_t epochs = 0;
    g_autoptr(GHashTable) outcomes =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    gint64 t0 = g_get_monotonic_time();

    g_test_init(&argc, &argv, NULL);
    if (only) {
        uint64_t e = g_ascii_strtoull(only, NULL, 0);

        printf("fuzz: epoch %" PRIu64 " (seed %" PRIu64 "), %" PRIu64
               " requests\n", e, seed + e, per);
        return run_epoch(seed + e, per, stdout);
    }
    g_mkdir_with_parents(outdir, 0755);
    printf("fuzz: %" PRIu64 " requests in epochs of %" PRIu64
           ", seed %" PRIu64 "\n", total, per, seed);
    for (uint64_t e = 0; requests < total; e++) {
        g_autofree char *log = g_strdup_printf("%s/epoch-%" PRIu64 ".log",
                                               outdir, e);
        uint64_t want = MIN(per, total - requests);
        int pfd[2], status;
        pid_t pid;
        FILE *in;
        char line[256];
        bool counted = false;

        g_assert_cmpint(pipe(pfd), ==, 0);
        fflush(stdout);
        pid = fork();
        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
            FILE *out;
            int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

            close(pfd[0]);
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
            out = fdopen(pfd[1], "w");
            _exit(run_epoch(seed + e, want, out));
        }
        close(pfd[1]);
        in = fdopen(pfd[0], "r");
        while (fgets(line, sizeof(line), in)) {
            uint64_t c[5];

            g_strchomp(line);
            if (sscanf(line, "counts %" SCNu64 " %" SCNu64 " %" SCNu64 " %"
                       SCNu64 " %" SCNu64, &c[0], &c[1], &c[2], &c[3],
                       &c[4]) == 5) {
                requests += c[0];
                responses += c[1];
                mutated += c[2];
                broken += c[3];
                reconnects += c[4];
                counted = true;
            } else if (g_str_has_prefix(line, "outcome ") &&
                       !g_hash_table_contains(outcomes, line + 8)) {
                g_hash_table_add(outcomes, g_strdup(line + 8));
            }
        }
        fclose(in);
        g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
        epochs++;
        if (!counted) {
            /* The epoch's requests count as sent: move on. */
            requests += want;
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && counted &&
            !sanitizer_report(log)) {
            unlink(log);
        } else {
            g_autofree char *text = NULL;
            const char *what;

            g_file_get_contents(log, &text, NULL, NULL);
            if (sanitizer_report(log)) {
                what = "sanitizer report";
                reports++;
            } else if (text && (strstr(text, "CHECK FAILED: HANG") ||
                                strstr(text, "watchdog:") ||
                                strstr(text, "expected state"))) {
                what = "hang";
                hangs++;
            } else if (text && strstr(text, "CHECK FAILED")) {
                what = "failed check";
                checks++;
            } else {
                what = "crash";
                crashes++;
            }
            printf("fuzz: epoch %" PRIu64 " (FUZZ_SEED=%" PRIu64
                   " FUZZ_EPOCH=%" PRIu64 " FUZZ_EPOCH_REQUESTS=%" PRIu64
                   "): %s; log in %s\n", e, seed, e, want, what, log);
        }
        if (epochs % 10 == 0) {
            printf("fuzz: %" PRIu64 " requests after %" PRId64 " s\n",
                   requests, (g_get_monotonic_time() - t0) / 1000000);
            fflush(stdout);
        }
    }
    printf("fuzz: %" PRIu64 " epochs, %" PRIu64 " mutated requests, %"
           PRIu64 " broken rings, %" PRIu64 " reconnects, %u unique "
           "outcomes, %" PRIu64 " hangs, %" PRIu64 " failed checks, %"
           PRIu64 " sanitizer reports, %" PRId64 " s\n", epochs, mutated,
           broken, reconnects, g_hash_table_size(outcomes), hangs, checks,
           reports, (g_get_monotonic_time() - t0) / 1000000);
    printf("fuzz: %" PRIu64 " requests, %" PRIu64 " responses checked, %"
           PRIu64 " crashes\n", requests, responses,
           crashes + hangs + checks + reports);
    return crashes + hangs + checks + reports ? 1 : 0;
}
