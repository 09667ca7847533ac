/*
 * qtest conformance cases for xen-pvscsi, playing xen-scsifront
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qemu/bswap.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "libqos/xen-vscsifront.h"

#define DOMID           1
#define IMG_SIZE        (4 * MiB)

#define RSLT_NO_CONNECT (XEN_VSCSIIF_RSLT_HOST_NO_CONNECT << 16)
#define RSLT_ERROR      (XEN_VSCSIIF_RSLT_HOST_ERROR << 16)

static char *img[2];

/* Set per case: run the HBA (and so its LUNs) in an iothread. */
static bool use_iothread;

static void make_images(void)
{
    g_autofree char *buf = g_malloc(IMG_SIZE);

    for (int n = 0; n < 2; n++) {
        if (!img[n]) {
            int fd = g_file_open_tmp("xen-pvscsi-XXXXXX.img", &img[n], NULL);

            g_assert_cmpint(fd, >=, 0);
            close(fd);
        }
        for (size_t i = 0; i < IMG_SIZE; i++) {
            buf[i] = (i / 512) ^ (n << 7);
        }
        g_assert_true(g_file_set_contents(img[n], buf, IMG_SIZE, NULL));
    }
}

/*
 * Host 0 with three LUNs: scsi-hd at 0:0:0 (image 0), scsi-hd at 0:2:3
 * (image 1), scsi-cd at 1:1:0 (image 1, read-only).  With @throttle, LUN
 * 0:0:0 is throttled to one request per second of the qtest clock, which
 * only moves when the test steps it: requests to it stay in flight until
 * then.  (The throttle group must be made after the accelerator, or it
 * runs on the real-time clock: hence QMP rather than the command line.)
 * @extra is appended to the command line.  start_dom() serves guest
 * @domid, and with !@fresh keeps the images as they are (a second QEMU on
 * the first one's disks).
 */
static QXen *start_dom(unsigned int domid, bool fresh, bool throttle,
                       const char *extra)
{
    QXen *x;

    if (fresh) {
        make_images();
    }
    x = qxen_start(domid,
        "%s"
        "-blockdev driver=file,node-name=f0,filename=%s "
        "-blockdev driver=raw,node-name=d0,file=f0 "
        "-blockdev driver=file,node-name=f1,filename=%s "
        "-blockdev driver=raw,node-name=d1,file=f1 "
        "-blockdev driver=file,node-name=f2,filename=%s,read-only=on,"
        "locking=off "
        "-blockdev driver=raw,node-name=d2,file=f2,read-only=on "
        "-device xen-pvscsi,id=vscsi0,devid=0%s "
        "-device scsi-hd,id=lun0,bus=vscsi0.0,channel=0,scsi-id=0,lun=0,"
        "drive=d0 "
        "-device scsi-hd,bus=vscsi0.0,channel=0,scsi-id=2,lun=3,drive=d1 "
        "-device scsi-cd,bus=vscsi0.0,channel=1,scsi-id=1,lun=0,drive=d2"
        "%s",
        use_iothread ? "-object iothread,id=io0 " : "",
        img[0], img[1], img[1],
        use_iothread ? ",iothread=io0" : "",
        extra);
    if (throttle) {
        QDict *rsp = qtest_qmp(x->qts,
            "{'execute': 'block_set_io_throttle', 'arguments': {"
            "'id': 'lun0', 'iops': 1, 'iops_rd': 0, 'iops_wr': 0,"
            "'bps': 0, 'bps_rd': 0, 'bps_wr': 0 } }");

        g_assert_true(qdict_haskey(rsp, "return"));
        qobject_unref(rsp);
    }
    return x;
}

static QXen *start_with(bool throttle, const char *extra)
{
    return start_dom(DOMID, true, throttle, extra);
}

static QXen *start(void)
{
    return start_with(false, "");
}

/* TEST UNIT READY until the power-on unit attention is gone. */
static void clear_ua(QVscsiFront *f, int channel, int id, int lun)
{
    static const uint8_t tur[6] = { 0x00 };
    QVscsiCmd c;

    qvscsi_cmd_init(&c, channel, id, lun, tur, 6, VSCSIIF_DMA_NONE, NULL, 0);
    qvscsi_cmd(f, &c);
    g_assert_cmphex(c.rslt, ==, 0x02);              /* CHECK CONDITION */
    g_assert_cmpuint(c.sense_len, >=, 14);
    g_assert_cmphex(c.sense[2] & 0xf, ==, 0x6);     /* UNIT ATTENTION */
    g_assert_cmphex(c.sense[12], ==, 0x29);         /* POWER ON/RESET */
    qvscsi_cmd(f, &c);
    g_assert_cmphex(c.rslt, ==, 0);
}

static void check_lun_states(QVscsiFront *f, int state)
{
    for (int n = 0; n < 3; n++) {
        g_autofree char *k = qvscsi_be_key(f, "vscsi-devs/dev-%d/state", n);

        g_assert_cmpint(qxs_read_int(f->x->xs, k, -1), ==, state);
    }
}

static void test_connect(void)
{
    QXen *x = start();
    QVscsiFront f;
    static const char *const vdevs[] = { "0:0:0:0", "0:0:2:3", "0:1:1:0" };
    g_autofree char *sg = NULL;
    g_autofree char *sg_key = NULL;

    qvscsi_init(&f, x, 0);
    {
        g_autofree char *k = qvscsi_be_key(&f, "state");
        qxs_wait_state(x, x->xs, k, 2);
    }
    sg_key = qvscsi_be_key(&f, "feature-sg-grant");
    sg = qxs_read(x->xs, sg_key);
    g_assert_cmpstr(sg, ==, "128");
    for (int n = 0; n < 3; n++) {
        g_autofree char *k = qvscsi_be_key(&f, "vscsi-devs/dev-%d/v-dev", n);
        g_autofree char *v = qxs_read(x->xs, k);
        g_autofree char *pk = qvscsi_be_key(&f, "vscsi-devs/dev-%d/p-dev", n);
        g_autofree char *p = qxs_read(x->xs, pk);

        g_assert_cmpstr(v, ==, vdevs[n]);
        g_assert_nonnull(p);
        g_assert_true(g_str_has_prefix(p, n == 2 ? "scsi-cd:" : "scsi-hd:"));
    }
    check_lun_states(&f, 1);
    qvscsi_connect(&f);
    /* After the frontend's Connected, every LUN is in use. */
    for (int n = 0; n < 3; n++) {
        g_autofree char *k = qvscsi_be_key(&f, "vscsi-devs/dev-%d/state", n);
        g_assert_true(qxs_wait_value(x, x->xs, k, "4", QXEN_TIMEOUT_MS));
    }
    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

static void test_inquiry_capacity(void)
{
    QXen *x = start();
    QVscsiFront f;
    uint8_t inq_cdb[6] = { 0x12, 0, 0, 0, 96, 0 };
    uint8_t cap_cdb[10] = { 0x25 };
    uint8_t buf[96];
    QVscsiCmd c;

    qvscsi_init(&f, x, 0);
    qvscsi_connect(&f);

    qvscsi_cmd_init(&c, 0, 0, 0, inq_cdb, 6, VSCSIIF_DMA_FROM_DEVICE, buf, 96);
    qvscsi_cmd(&f, &c);
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmphex(buf[0] & 0x1f, ==, 0x00);       /* direct access */
    g_assert_cmpmem(buf + 8, 4, "QEMU", 4);
    qvscsi_cmd_init(&c, 1, 1, 0, inq_cdb, 6, VSCSIIF_DMA_FROM_DEVICE, buf, 96);
    qvscsi_cmd(&f, &c);
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmphex(buf[0] & 0x1f, ==, 0x05);       /* CD/DVD */

    clear_ua(&f, 0, 2, 3);
    qvscsi_cmd_init(&c, 0, 2, 3, cap_cdb, 10, VSCSIIF_DMA_FROM_DEVICE, buf, 8);
    qvscsi_cmd(&f, &c);
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmpuint(ldl_be_p(buf), ==, IMG_SIZE / 512 - 1);
    g_assert_cmpuint(ldl_be_p(buf + 4), ==, 512);
    g_assert_cmpuint(c.residual, ==, 0);

    /* A missing LUN of an existing target: peripheral qualifier 3 */
    qvscsi_cmd_init(&c, 0, 2, 5, inq_cdb, 6, VSCSIIF_DMA_FROM_DEVICE, buf, 96);
    qvscsi_cmd(&f, &c);
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmphex(buf[0], ==, 0x7f);
    /* A missing target: no connect */
    qvscsi_cmd_init(&c, 0, 9, 0, inq_cdb, 6, VSCSIIF_DMA_FROM_DEVICE, buf, 96);
    qvscsi_cmd(&f, &c);
    g_assert_cmphex(c.rslt, ==, RSLT_NO_CONNECT);

    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

static void rw10(QVscsiFront *f, int id, int lun, bool write, uint32_t lba,
                 void *buf, size_t len, bool indirect, int32_t *rslt)
{
    uint8_t cdb[10] = { write ? 0x2a : 0x28 };
    QVscsiCmd c;

    stl_be_p(cdb + 2, lba);
    stw_be_p(cdb + 7, len / 512);
    qvscsi_cmd_init(&c, 0, id, lun, cdb, 10,
                    write ? VSCSIIF_DMA_TO_DEVICE : VSCSIIF_DMA_FROM_DEVICE,
                    buf, len);
    c.indirect = indirect;
    qvscsi_cmd(f, &c);
    *rslt = c.rslt;
    if (c.rslt == 0) {
        g_assert_cmpuint(c.residual, ==, 0);
    }
}

static void check_image(int n, uint64_t off, const void *data, size_t len)
{
    g_autofree char *contents = NULL;
    gsize size;

    g_assert_true(g_file_get_contents(img[n], &contents, &size, NULL));
    g_assert_cmpmem(contents + off, len, data, len);
}

static void do_test_read_write_with(size_t len, bool indirect,
                                    const char *extra)
{
    QXen *x = start_with(false, extra);
    QVscsiFront f;
    g_autofree uint8_t *wbuf = g_malloc(len);
    g_autofree uint8_t *rbuf = g_malloc0(len);
    int32_t rslt;

    qvscsi_init(&f, x, 0);
    qvscsi_connect(&f);
    clear_ua(&f, 0, 0, 0);

    /* Read what the image holds */
    rw10(&f, 0, 0, false, 16, rbuf, len, indirect, &rslt);
    g_assert_cmphex(rslt, ==, 0);
    for (size_t i = 0; i < len; i++) {
        g_assert_cmpuint(rbuf[i], ==, (uint8_t)(16 + i / 512));
    }
    /* Write a pattern, find it in the file, read it back */
    for (size_t i = 0; i < len; i++) {
        wbuf[i] = g_test_rand_int();
    }
    rw10(&f, 0, 0, true, 100, wbuf, len, indirect, &rslt);
    g_assert_cmphex(rslt, ==, 0);
    check_image(0, 100 * 512, wbuf, len);
    memset(rbuf, 0, len);
    rw10(&f, 0, 0, false, 100, rbuf, len, indirect, &rslt);
    g_assert_cmphex(rslt, ==, 0);
    g_assert_cmpmem(rbuf, len, wbuf, len);

    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/*
 * A LUN on a file opened with aio=io_uring (QEMU is built with liburing):
 * 256 KiB written through indirect segments land in the image, and read
 * back.
 */
static void test_rw_io_uring(void)
{
    g_autofree char *extra = NULL;
    g_autofree uint8_t *wbuf = g_malloc(256 * KiB);
    g_autofree uint8_t *rbuf = g_malloc0(256 * KiB);
    QXen *x;
    QVscsiFront f;
    int32_t rslt;

    make_images();
    extra = g_strdup_printf(" -blockdev driver=file,node-name=fu,filename=%s,"
                            "aio=io_uring,locking=off "
                            "-blockdev driver=raw,node-name=du,file=fu "
                            "-device scsi-hd,bus=vscsi0.0,scsi-id=4,drive=du",
                            img[1]);
    x = start_with(false, extra);
    qvscsi_init(&f, x, 0);
    qvscsi_connect(&f);
    clear_ua(&f, 0, 4, 0);
    for (size_t i = 0; i < 256 * KiB; i++) {
        wbuf[i] = i * 7 + 3;
    }
    rw10(&f, 4, 0, true, 64, wbuf, 256 * KiB, true, &rslt);
    g_assert_cmphex(rslt, ==, 0);
    check_image(1, 64 * 512, wbuf, 256 * KiB);
    rw10(&f, 4, 0, false, 64, rbuf, 256 * KiB, true, &rslt);
    g_assert_cmphex(rslt, ==, 0);
    g_assert_cmpmem(rbuf, 256 * KiB, wbuf, 256 * KiB);
    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/*
 * Below grant-map-threshold (0, i.e. never, by default) the data moves
 * through the HBA's buffer and grant copies; from it up, in the guest's
 * pages, mapped.  The frontend checks, at each response, that none of the
 * request's grants is still mapped.
 */
static void do_test_read_write(size_t len, bool indirect)
{
    do_test_read_write_with(len, indirect, "");
}

static void test_rw_small(void)
{
    do_test_read_write(4096, false);
}

static void test_rw_map_512k(void)
{
    do_test_read_write_with(512 * KiB, true,
                            " -global xen-pvscsi.grant-map-threshold=64k");
}

static void test_rw_map_8k(void)
{
    do_test_read_write_with(8 * KiB, false,
                            " -global xen-pvscsi.grant-map-threshold=4k");
}

static void test_rw_direct_max(void)
{
    do_test_read_write(26 * 4096, false);
}

static void test_rw_sg_grant(void)
{
    do_test_read_write(256 * KiB, false);
}

static void test_rw_sg_grant_512k(void)
{
    do_test_read_write(512 * KiB, true);
}

static void test_cdrom_write_protect(void)
{
    QXen *x = start();
    QVscsiFront f;
    uint8_t buf[2048] = { 0 };
    uint8_t cdb[10] = { 0x2a, 0, 0, 0, 0, 5, 0, 0, 1, 0 };
    QVscsiCmd c;

    qvscsi_init(&f, x, 0);
    qvscsi_connect(&f);
    clear_ua(&f, 1, 1, 0);

    /* READ(10) of 2048-byte block 5: bytes 10240.. of image 1 */
    cdb[0] = 0x28;
    qvscsi_cmd_init(&c, 1, 1, 0, cdb, 10, VSCSIIF_DMA_FROM_DEVICE, buf,
                    sizeof(buf));
    qvscsi_cmd(&f, &c);
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmpuint(c.residual, ==, 0);
    for (size_t i = 0; i < sizeof(buf); i++) {
        g_assert_cmpuint(buf[i], ==, (uint8_t)((5 * 2048 + i) / 512 ^ 0x80));
    }

    cdb[0] = 0x2a;
    qvscsi_cmd_init(&c, 1, 1, 0, cdb, 10, VSCSIIF_DMA_TO_DEVICE, buf,
                    sizeof(buf));
    qvscsi_cmd(&f, &c);
    g_assert_cmphex(c.rslt, ==, 0x02);
    g_assert_cmphex(c.sense[2] & 0xf, ==, 0x7);     /* DATA PROTECT */
    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/*
 * Send @rq raw and wait for its single response into @rsp: for that rqid,
 * with result @expected, and no second response behind it.
 */
static void send_expect(QXen *x, QVscsiFront *f, const vscsiif_request_t *rq,
                        int32_t expected, vscsiif_response_t *rsp)
{
    qvscsi_put_raw(f, rq);
    qvscsi_push(f);
    g_assert_true(qvscsi_get_response(f, rsp, QXEN_TIMEOUT_MS));
    g_assert_cmpuint(rsp->rqid, ==, rq->rqid);
    g_assert_cmphex(rsp->rslt, ==, expected);
    g_assert_cmpuint(qxen_ring_rsp_prod(x, &f->ring), ==, f->ring.rsp_cons);
}

/*
 * A transfer large enough to be mapped (grant-map-threshold=64k) with one bad
 * grant among 20: a READ into a page granted read-only, or with a grant
 * the guest revoked, is answered with host status ERROR; nothing of the
 * guest's is written or stays mapped.  A WRITE needs only read access.
 */
static void test_map_bad_grant(void)
{
    enum { N = 20 };
    QXen *x = start_with(false,
                         " -global xen-pvscsi.grant-map-threshold=64k");
    QVscsiFront f;
    vscsiif_request_t rq;
    vscsiif_response_t rsp;
    uint64_t pages;
    uint32_t refs[N];
    g_autofree uint8_t *buf = g_malloc(N * 4096);
    g_autofree uint8_t *pattern = g_malloc(N * 4096);

    qvscsi_init(&f, x, 0);
    qvscsi_connect(&f);
    clear_ua(&f, 0, 0, 0);
    pages = qxen_alloc_pages(x, N);
    for (int i = 0; i < N * 4096; i++) {
        pattern[i] = i * 13 + 5;
    }
    qtest_memwrite(x->qts, pages, pattern, N * 4096);
    for (int i = 0; i < N; i++) {
        refs[i] = qxen_grant(x, pages + i * 4096, i == 10);
    }

#define MAP_RQ(id, write) do {                                          \
        memset(&rq, 0, sizeof(rq));                                     \
        rq.rqid = (id);                                                 \
        rq.act = VSCSIIF_ACT_SCSI_CDB;                                  \
        rq.cmd_len = 10;                                                \
        rq.cmnd[0] = (write) ? 0x2a : 0x28;                             \
        rq.cmnd[5] = 200;                                               \
        rq.cmnd[8] = N * 8;                                             \
        rq.sc_data_direction = (write) ? VSCSIIF_DMA_TO_DEVICE :        \
                                         VSCSIIF_DMA_FROM_DEVICE;       \
        rq.nr_segments = N;                                             \
        for (int i = 0; i < N; i++) {                                   \
            rq.seg[i].gref = refs[i];                                   \
            rq.seg[i].length = 4096;                                    \
        }                                                               \
    } while (0)
#define MAP_SEND(expected) do {                                         \
        send_expect(x, &f, &rq, (expected), &rsp);                      \
        for (int i = 0; i < N; i++) {                                   \
            g_assert_false(qxen_grant_in_use(x, refs[i]));              \
        }                                                               \
    } while (0)

    /* page 10 is read-only: no READ into it, nothing written anywhere */
    MAP_RQ(1, false);
    MAP_SEND(RSLT_ERROR);
    qtest_memread(x->qts, pages, buf, N * 4096);
    g_assert_cmpmem(buf, N * 4096, pattern, N * 4096);

    /* but a WRITE from it is fine: the pattern lands at block 200 */
    MAP_RQ(2, true);
    MAP_SEND(0);
    g_assert_cmpuint(rsp.residual_len, ==, 0);
    check_image(0, 200 * 512, pattern, N * 4096);

    /* page 10's grant revoked: both directions fail */
    qxen_ungrant(x, refs[10]);
    MAP_RQ(3, false);
    MAP_SEND(RSLT_ERROR);
    MAP_RQ(4, true);
    MAP_SEND(RSLT_ERROR);
    qtest_memread(x->qts, pages, buf, N * 4096);
    g_assert_cmpmem(buf, N * 4096, pattern, N * 4096);

    /* granted again, writable: the READ brings the blocks back */
    refs[10] = qxen_grant(x, pages + 10 * 4096, false);
    qtest_memset(x->qts, pages, 0, N * 4096);
    MAP_RQ(5, false);
    MAP_SEND(0);
    qtest_memread(x->qts, pages, buf, N * 4096);
    g_assert_cmpmem(buf, N * 4096, pattern, N * 4096);
#undef MAP_SEND
#undef MAP_RQ

    for (int i = 0; i < N; i++) {
        qxen_ungrant(x, refs[i]);
    }
    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/* @rsp carries fixed-format sense with this key, ASC and ASCQ */
static void check_fixed_sense(const vscsiif_response_t *rsp, uint8_t key,
                              uint8_t asc, uint8_t ascq)
{
    g_assert_cmpuint(rsp->sense_len, >=, 14);
    g_assert_cmphex(rsp->sense_buffer[0] & 0x7f, ==, 0x70);
    g_assert_cmphex(rsp->sense_buffer[2] & 0xf, ==, key);
    g_assert_cmphex(rsp->sense_buffer[12], ==, asc);
    g_assert_cmphex(rsp->sense_buffer[13], ==, ascq);
}

/* Hostile requests: each gets exactly one error response. */
static void test_bad_requests(void)
{
    QXen *x = start();
    QVscsiFront f;
    vscsiif_request_t rq;
    vscsiif_response_t rsp;
    uint64_t page;
    uint32_t ref;
    int32_t rslt;
    uint8_t buf[512];
    uint16_t rqid = 0;

    qvscsi_init(&f, x, 0);
    qvscsi_connect(&f);
    clear_ua(&f, 0, 0, 0);
    page = qxen_alloc_pages(x, 1);
    ref = qxen_grant(x, page, false);

#define SEND_EXPECT(expected) send_expect(x, &f, &rq, (expected), &rsp)

    /* a valid READ(10) of one block as the template */
#define RESET_RQ() do {                                                 \
        memset(&rq, 0, sizeof(rq));                                     \
        rq.rqid = rqid++ % 16;                                          \
        rq.act = VSCSIIF_ACT_SCSI_CDB;                                  \
        rq.cmd_len = 10;                                                \
        rq.cmnd[0] = 0x28;                                              \
        rq.cmnd[8] = 1;                                                 \
        rq.sc_data_direction = VSCSIIF_DMA_FROM_DEVICE;                 \
        rq.nr_segments = 1;                                             \
        rq.seg[0].gref = ref;                                           \
        rq.seg[0].length = 512;                                         \
    } while (0)

    RESET_RQ();
    SEND_EXPECT(0);

    RESET_RQ();
    rq.cmd_len = 17;
    SEND_EXPECT(RSLT_ERROR);

    RESET_RQ();
    rq.act = 0;
    SEND_EXPECT(RSLT_ERROR);
    RESET_RQ();
    rq.act = VSCSIIF_ACT_SCSI_SG_PRESET;
    SEND_EXPECT(RSLT_ERROR);
    RESET_RQ();
    rq.act = 200;
    SEND_EXPECT(RSLT_ERROR);

    RESET_RQ();
    rq.nr_segments = 27;
    SEND_EXPECT(RSLT_ERROR);

    RESET_RQ();
    rq.nr_segments = VSCSIIF_SG_GRANT | 27;
    SEND_EXPECT(RSLT_ERROR);

    RESET_RQ();
    rq.seg[0].offset = 4000;                        /* 4000 + 512 > 4096 */
    SEND_EXPECT(RSLT_ERROR);

    RESET_RQ();
    rq.seg[0].offset = 4096;
    rq.seg[0].length = 0;
    SEND_EXPECT(RSLT_ERROR);

    RESET_RQ();
    rq.seg[0].gref = 60000;                         /* not in the table */
    SEND_EXPECT(RSLT_ERROR);

    RESET_RQ();
    rq.sc_data_direction = VSCSIIF_DMA_TO_DEVICE;   /* READ with data out */
    SEND_EXPECT(RSLT_ERROR);

    RESET_RQ();
    rq.sc_data_direction = VSCSIIF_DMA_BIDIRECTIONAL;    /* the CDB's */
    SEND_EXPECT(0);

    RESET_RQ();
    rq.sc_data_direction = 9;
    SEND_EXPECT(RSLT_ERROR);

    /*
     * A buffer shorter than the CDB's transfer, or none, either way: a
     * SCSI answer, INVALID FIELD IN CDB, nothing transferred
     */
    RESET_RQ();
    memset(buf, 0x5a, sizeof(buf));
    qtest_memwrite(x->qts, page, buf, sizeof(buf));
    rq.seg[0].length = 256;
    SEND_EXPECT(0x02);                           /* CHECK CONDITION */
    check_fixed_sense(&rsp, 0x5, 0x24, 0x00);   /* INVALID FIELD */
    g_assert_cmpuint(rsp.residual_len, ==, 256);
    qtest_memread(x->qts, page, buf, sizeof(buf));
    for (size_t i = 0; i < sizeof(buf); i++) {
        g_assert_cmpuint(buf[i], ==, 0x5a);
    }
    RESET_RQ();
    rq.cmnd[0] = 0x2a;                              /* WRITE(10) */
    rq.sc_data_direction = VSCSIIF_DMA_TO_DEVICE;
    rq.seg[0].length = 256;
    SEND_EXPECT(0x02);                           /* CHECK CONDITION */
    check_fixed_sense(&rsp, 0x5, 0x24, 0x00);   /* INVALID FIELD */
    RESET_RQ();
    rq.sc_data_direction = VSCSIIF_DMA_NONE;
    rq.nr_segments = 0;
    SEND_EXPECT(0x02);                           /* CHECK CONDITION */
    check_fixed_sense(&rsp, 0x5, 0x24, 0x00);   /* INVALID FIELD */
    g_assert_cmpuint(rsp.residual_len, ==, 0);

    /* an indirect page whose length is not a multiple of 8 */
    RESET_RQ();
    rq.nr_segments = VSCSIIF_SG_GRANT | 1;
    rq.seg[0].length = 12;
    SEND_EXPECT(RSLT_ERROR);

    /* After all that, I/O still works and no grant was left mapped. */
    g_assert_false(qxen_grant_in_use(x, ref));
    rw10(&f, 0, 0, false, 1, buf, sizeof(buf), false, &rslt);
    g_assert_cmphex(rslt, ==, 0);
    g_assert_cmpuint(buf[0], ==, 1);

    qxen_ungrant(x, ref);
    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/*
 * Direction 0, as Windows' GPLPV xenscsi sends a request of unspecified
 * direction (its buffer serves both ways): the CDB's own direction and
 * length, on an emulated LUN.
 */
static void test_direction_unspecified(void)
{
    QXen *x = start();
    QVscsiFront f;
    QVscsiCmd c;
    uint8_t cdb[10] = { 0x2a };     /* WRITE(10), LBA 100, 2 blocks */
    uint8_t wbuf[1024], rbuf[1024];
    static const uint8_t tur[6] = { 0x00 };
    static const uint8_t vendor[10] = { 0xc5 };
    int32_t rslt;

    qvscsi_init(&f, x, 0);
    qvscsi_connect(&f);
    clear_ua(&f, 0, 0, 0);
    for (size_t i = 0; i < sizeof(wbuf); i++) {
        wbuf[i] = i * 13 + 7;
    }
    stl_be_p(cdb + 2, 100);
    stw_be_p(cdb + 7, 2);
    qvscsi_cmd_init(&c, 0, 0, 0, cdb, 10, VSCSIIF_DMA_BIDIRECTIONAL, wbuf,
                    sizeof(wbuf));
    qvscsi_cmd(&f, &c);
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmpuint(c.residual, ==, 0);
    check_image(0, 100 * 512, wbuf, sizeof(wbuf));

    /* READ(10) of the same blocks, direction 0: the data comes back */
    cdb[0] = 0x28;
    memset(rbuf, 0, sizeof(rbuf));
    qvscsi_cmd_init(&c, 0, 0, 0, cdb, 10, VSCSIIF_DMA_BIDIRECTIONAL, rbuf,
                    sizeof(rbuf));
    qvscsi_cmd(&f, &c);
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmpmem(rbuf, sizeof(rbuf), wbuf, sizeof(wbuf));

    /* a buffer larger than the transfer: the rest is residual */
    stw_be_p(cdb + 7, 1);
    qvscsi_cmd_init(&c, 0, 0, 0, cdb, 10, VSCSIIF_DMA_BIDIRECTIONAL, rbuf,
                    sizeof(rbuf));
    qvscsi_cmd(&f, &c);
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmpuint(c.residual, ==, 512);

    /* one smaller than the transfer: INVALID FIELD IN CDB, as one-way */
    cdb[0] = 0x2a;
    stw_be_p(cdb + 7, 4);
    qvscsi_cmd_init(&c, 0, 0, 0, cdb, 10, VSCSIIF_DMA_BIDIRECTIONAL, wbuf,
                    sizeof(wbuf));
    qvscsi_cmd(&f, &c);
    g_assert_cmphex(c.rslt, ==, 0x02);
    g_assert_cmphex(c.sense[2] & 0xf, ==, 0x5);
    g_assert_cmphex(c.sense[12], ==, 0x24);
    check_image(0, 100 * 512, wbuf, sizeof(wbuf));

    /* no data: TEST UNIT READY with a buffer moves nothing */
    memset(rbuf, 0x5a, sizeof(rbuf));
    qvscsi_cmd_init(&c, 0, 0, 0, tur, 6, VSCSIIF_DMA_BIDIRECTIONAL, rbuf,
                    512);
    qvscsi_cmd(&f, &c);
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmpuint(c.residual, ==, 512);
    g_assert_cmphex(rbuf[0], ==, 0x5a);

    /* a vendor opcode QEMU cannot size: no direction, a host error */
    qvscsi_cmd_init(&c, 0, 0, 0, vendor, 10, VSCSIIF_DMA_BIDIRECTIONAL,
                    rbuf, 512);
    qvscsi_cmd(&f, &c);
    g_assert_cmphex(c.rslt, ==, RSLT_ERROR);

    /* and the LUN goes on */
    rw10(&f, 0, 0, false, 100, rbuf, 512, false, &rslt);
    g_assert_cmphex(rslt, ==, 0);
    g_assert_cmpmem(rbuf, 512, wbuf, 512);
    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

static int32_t send_tmf(QVscsiFront *f, uint8_t act, int channel, int id,
                        int lun, uint16_t ref_rqid)
{
    vscsiif_request_t rq = {
        .rqid = 9,
        .act = act,
        .channel = channel,
        .id = id,
        .lun = lun,
        .ref_rqid = ref_rqid,
    };
    vscsiif_response_t rsp;

    qvscsi_put_raw(f, &rq);
    qvscsi_push(f);
    g_assert_true(qvscsi_get_response(f, &rsp, QXEN_TIMEOUT_MS));
    g_assert_cmpuint(rsp.rqid, ==, 9);
    g_assert_cmpuint(qxen_ring_rsp_prod(f->x, &f->ring), ==, f->ring.rsp_cons);
    return rsp.rslt;
}

/* Task management without I/O in flight. */
static void test_tmf_idle(void)
{
    QXen *x = start();
    QVscsiFront f;
    static const uint8_t tur[6] = { 0x00 };
    QVscsiCmd c;

    qvscsi_init(&f, x, 0);
    qvscsi_connect(&f);
    clear_ua(&f, 0, 0, 0);
    clear_ua(&f, 0, 2, 3);

    /* Aborting a request that is not in flight fails, as with LIO */
    g_assert_cmphex(send_tmf(&f, VSCSIIF_ACT_SCSI_ABORT, 0, 0, 0, 5), ==,
                    XEN_VSCSIIF_RSLT_RESET_FAILED);
    /* LUN reset: success, and the LUN reports the reset ... */
    g_assert_cmphex(send_tmf(&f, VSCSIIF_ACT_SCSI_RESET, 0, 0, 0, 0), ==,
                    XEN_VSCSIIF_RSLT_RESET_SUCCESS);
    qvscsi_cmd_init(&c, 0, 0, 0, tur, 6, VSCSIIF_DMA_NONE, NULL, 0);
    qvscsi_cmd(&f, &c);
    g_assert_cmphex(c.rslt, ==, 0x02);
    g_assert_cmphex(c.sense[2] & 0xf, ==, 0x6);     /* UNIT ATTENTION */
    g_assert_cmphex(c.sense[12], ==, 0x29);         /* reset occurred */
    /* ... while another LUN was not reset */
    qvscsi_cmd_init(&c, 0, 2, 3, tur, 6, VSCSIIF_DMA_NONE, NULL, 0);
    qvscsi_cmd(&f, &c);
    g_assert_cmphex(c.rslt, ==, 0);
    /* No device at the address */
    g_assert_cmphex(send_tmf(&f, VSCSIIF_ACT_SCSI_RESET, 0, 9, 0, 0), ==,
                    RSLT_NO_CONNECT);
    g_assert_cmphex(send_tmf(&f, VSCSIIF_ACT_SCSI_RESET, 0, 2, 7, 0), ==,
                    RSLT_NO_CONNECT);
    g_assert_cmphex(send_tmf(&f, VSCSIIF_ACT_SCSI_ABORT, 0, 9, 0, 1), ==,
                    RSLT_NO_CONNECT);

    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/*
 * A producer index that overflows the ring: this device disconnects, a
 * second xen-pvscsi in the same QEMU keeps working.
 */
static void test_ring_overflow(void)
{
    g_autofree char *opts = NULL;
    QXen *x;
    QVscsiFront f, g;
    g_autofree char *state = NULL;
    uint8_t buf[512];
    int32_t rslt;

    make_images();
    opts = g_strdup_printf(" -blockdev driver=file,node-name=f3,filename=%s,"
                           "locking=off "
                           "-blockdev driver=raw,node-name=d3,file=f3 "
                           "-device xen-pvscsi,id=vscsi1,devid=1%s "
                           "-device scsi-hd,bus=vscsi1.0,scsi-id=0,drive=d3",
                           img[1], use_iothread ? ",iothread=io0" : "");
    x = start_with(false, opts);
    qvscsi_init(&f, x, 0);
    qvscsi_init(&g, x, 1);
    qvscsi_connect(&f);
    qvscsi_connect(&g);
    clear_ua(&g, 0, 0, 0);

    /* req_prod 100 entries ahead of what the backend answered */
    qtest_writel(x->qts, f.ring.gpa, 100);
    qxen_evtchn_kick(x, f.port);
    state = qvscsi_be_key(&f, "state");
    qxs_wait_state(x, x->xs, state, 5);

    rw10(&g, 0, 0, false, 2, buf, sizeof(buf), false, &rslt);
    g_assert_cmphex(rslt, ==, 0);
    g_assert_cmpuint(buf[0], ==, (uint8_t)(2 ^ 0x80));

    qvscsi_close(&g);
    qvscsi_free(&f);
    qvscsi_free(&g);
    qxen_stop(x);
}

/*
 * The frontend closes and connects again on a new ring: either through
 * Closing and then Initialising, or as Linux's xen-scsifront does when it
 * is unbound and bound again (rmmod, modprobe): from Connected straight to
 * Closed, then straight to Initialised.  An online backend is InitWait
 * again once the frontend has closed, so that the rebound frontend, which
 * reads the backend's state only after writing Initialised, never finds it
 * Closed.
 */
static void reconnect(bool rebind)
{
    QXen *x = start();
    QVscsiFront f;
    uint8_t buf[512];
    int32_t rslt;
    g_autofree char *fe_state = NULL;
    g_autofree char *be_state = NULL;

    qvscsi_init(&f, x, 0);
    fe_state = g_strdup_printf("%s/state", f.fe);
    be_state = qvscsi_be_key(&f, "state");
    qvscsi_connect(&f);
    clear_ua(&f, 0, 0, 0);
    if (rebind) {
        qxs_write(x->xs, fe_state, "6");
        qxs_wait_state(x, x->xs, be_state, 2);
        qvscsi_release(&f);
    } else {
        qvscsi_close(&f);
        qxs_write(x->xs, fe_state, "1");
        qxs_wait_state(x, x->xs, be_state, 2);
    }
    qvscsi_connect(&f);
    rw10(&f, 0, 0, false, 7, buf, sizeof(buf), false, &rslt);
    g_assert_cmphex(rslt, ==, 0);
    g_assert_cmpuint(buf[0], ==, 7);
    check_lun_states(&f, 4);
    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

static void test_reconnect(void)
{
    reconnect(false);
}

static void test_rebind(void)
{
    reconnect(true);
}

/* ---------------------------------------------------------------------- */
/* More CDBs                                                               */

static void test_report_luns(void)
{
    QXen *x = start();
    QVscsiFront f;
    uint8_t cdb[12] = { 0xa0 };
    uint8_t inq_cdb[6] = { 0x12, 0, 0, 0, 96, 0 };
    uint8_t buf[64];
    QVscsiCmd c;

    qvscsi_init(&f, x, 0);
    qvscsi_connect(&f);
    clear_ua(&f, 0, 0, 0);

    /* Target 0 has LUN 0 only */
    stl_be_p(cdb + 6, sizeof(buf));
    memset(buf, 0xee, sizeof(buf));
    qvscsi_cmd_init(&c, 0, 0, 0, cdb, 12, VSCSIIF_DMA_FROM_DEVICE, buf,
                    sizeof(buf));
    qvscsi_cmd(&f, &c);
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmpuint(ldl_be_p(buf), ==, 8);
    g_assert_cmpuint(ldq_be_p(buf + 8), ==, 0);
    g_assert_cmpuint(c.residual, ==, sizeof(buf) - 16);

    /*
     * Target 2 has LUN 3 only.  Asked at LUN 3, and at LUN 0 where nothing
     * is attached, the list is LUN 0 (SAM's well-known LUN, which QEMU's
     * SCSI bus always reports) and LUN 3.
     */
    for (int lun = 3; lun >= 0; lun -= 3) {
        memset(buf, 0xee, sizeof(buf));
        qvscsi_cmd_init(&c, 0, 2, lun, cdb, 12, VSCSIIF_DMA_FROM_DEVICE, buf,
                        sizeof(buf));
        qvscsi_cmd(&f, &c);
        g_assert_cmphex(c.rslt, ==, 0);
        g_assert_cmpuint(ldl_be_p(buf), ==, 16);
        g_assert_cmpuint(ldq_be_p(buf + 8), ==, 0);
        g_assert_cmpuint(buf[16], ==, 0x00);        /* peripheral addressing */
        g_assert_cmpuint(buf[17], ==, 3);
        g_assert_cmpuint(c.residual, ==, sizeof(buf) - 24);
    }
    /* An allocation length of 16 gets the header and the first LUN */
    stl_be_p(cdb + 6, 16);
    memset(buf, 0xee, sizeof(buf));
    qvscsi_cmd_init(&c, 0, 2, 3, cdb, 12, VSCSIIF_DMA_FROM_DEVICE, buf, 16);
    qvscsi_cmd(&f, &c);
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmpuint(ldl_be_p(buf), ==, 16);    /* the whole list's length */
    g_assert_cmpuint(c.residual, ==, 0);

    /*
     * REQUEST SENSE at LUN 3 after a CHECK CONDITION there: the sense data
     * the LUN kept (LBA OUT OF RANGE), not LOGICAL UNIT NOT SUPPORTED
     * (patches/0007)
     */
    {
        uint8_t rd_cdb[10] = { 0x28 };
        uint8_t rs_cdb[6] = { 0x03, 0, 0, 0, 18, 0 };
        g_autofree uint8_t *blk = g_malloc(512);

        clear_ua(&f, 0, 2, 3);
        stl_be_p(rd_cdb + 2, 0xfffffff0);
        stw_be_p(rd_cdb + 7, 1);
        qvscsi_cmd_init(&c, 0, 2, 3, rd_cdb, 10, VSCSIIF_DMA_FROM_DEVICE,
                        blk, 512);
        qvscsi_cmd(&f, &c);
        g_assert_cmphex(c.rslt, ==, 0x02);
        g_assert_cmphex(c.sense[12], ==, 0x21);
        memset(buf, 0xee, sizeof(buf));
        qvscsi_cmd_init(&c, 0, 2, 3, rs_cdb, 6, VSCSIIF_DMA_FROM_DEVICE,
                        buf, 18);
        qvscsi_cmd(&f, &c);
        g_assert_cmphex(c.rslt, ==, 0);
        g_assert_cmphex(buf[0] & 0x7f, ==, 0x70);
        g_assert_cmphex(buf[2] & 0xf, ==, 0x5);     /* ILLEGAL REQUEST */
        g_assert_cmphex(buf[12], ==, 0x21);         /* LBA OUT OF RANGE */
    }

    /* LUN 0 of target 2: qualifier 1 (not connected), no device type */
    qvscsi_cmd_init(&c, 0, 2, 0, inq_cdb, 6, VSCSIIF_DMA_FROM_DEVICE, buf, 64);
    inq_cdb[4] = 64;
    memcpy(c.cdb, inq_cdb, 6);
    qvscsi_cmd(&f, &c);
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmphex(buf[0], ==, 0x3f);

    /* No target at all: no connect */
    stl_be_p(cdb + 6, sizeof(buf));
    qvscsi_cmd_init(&c, 0, 5, 0, cdb, 12, VSCSIIF_DMA_FROM_DEVICE, buf,
                    sizeof(buf));
    qvscsi_cmd(&f, &c);
    g_assert_cmphex(c.rslt, ==, RSLT_NO_CONNECT);
    g_assert_cmpuint(c.residual, ==, 0);
    g_assert_cmpuint(c.sense_len, ==, 0);

    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/*
 * CD drives without a medium: one that never had one, and one whose tray
 * the host opens.  A READ gets NOT READY, MEDIUM NOT PRESENT (checked once
 * per command: patches/0008), and the drive works again with its medium.
 */
static void test_cd_no_medium(void)
{
    g_autofree char *extra = NULL;
    static const uint8_t tur[6] = { 0x00 };
    uint8_t cdb[10] = { 0x28 };
    g_autofree uint8_t *buf = g_malloc(2048);
    QXen *x;
    QVscsiFront f;
    QVscsiCmd c;
    QDict *rsp;

    make_images();
    extra = g_strdup_printf(
        " -device scsi-cd,id=cdx,bus=vscsi0.0,channel=1,scsi-id=2,lun=0"
        " -blockdev driver=file,node-name=f9,filename=%s,read-only=on,"
        "locking=off"
        " -blockdev driver=raw,node-name=d9,file=f9,read-only=on"
        " -device scsi-cd,id=cdm,bus=vscsi0.0,channel=1,scsi-id=3,lun=0,"
        "drive=d9", img[1]);
    x = start_with(false, extra);
    qvscsi_init(&f, x, 0);
    qvscsi_connect(&f);

    /* Never had a medium: the power-on UA, then NOT READY for a READ */
    qvscsi_cmd_init(&c, 1, 2, 0, tur, 6, VSCSIIF_DMA_NONE, NULL, 0);
    qvscsi_cmd(&f, &c);
    g_assert_cmphex(c.rslt, ==, 0x02);
    g_assert_cmphex(c.sense[2] & 0xf, ==, 0x6);
    stw_be_p(cdb + 7, 1);
    qvscsi_cmd_init(&c, 1, 2, 0, cdb, 10, VSCSIIF_DMA_FROM_DEVICE, buf, 2048);
    qvscsi_cmd(&f, &c);
    g_assert_cmphex(c.rslt, ==, 0x02);
    g_assert_cmphex(c.sense[2] & 0xf, ==, 0x2);     /* NOT READY */
    g_assert_cmphex(c.sense[12], ==, 0x3a);         /* MEDIUM NOT PRESENT */

    /* With a medium it reads; with its tray opened by the host it does not */
    clear_ua(&f, 1, 3, 0);
    qvscsi_cmd_init(&c, 1, 3, 0, cdb, 10, VSCSIIF_DMA_FROM_DEVICE, buf, 2048);
    qvscsi_cmd(&f, &c);
    g_assert_cmphex(c.rslt, ==, 0);
    rsp = qtest_qmp(x->qts, "{'execute': 'blockdev-open-tray', "
                    "'arguments': {'id': 'cdm', 'force': true}}");
    g_assert_true(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
    qvscsi_cmd(&f, &c);
    if (c.rslt == 0x02 && (c.sense[2] & 0xf) == 0x6) {
        qvscsi_cmd(&f, &c);         /* the medium-change UA first */
    }
    g_assert_cmphex(c.rslt, ==, 0x02);
    g_assert_cmphex(c.sense[2] & 0xf, ==, 0x2);
    g_assert_cmphex(c.sense[12], ==, 0x3a);
    rsp = qtest_qmp(x->qts, "{'execute': 'blockdev-close-tray', "
                    "'arguments': {'id': 'cdm'}}");
    g_assert_true(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
    for (int i = 0; i < 3; i++) {
        qvscsi_cmd(&f, &c);
        if (!c.rslt) {
            break;
        }
        g_assert_cmphex(c.sense[2] & 0xf, ==, 0x6);   /* medium changed */
    }
    g_assert_cmphex(c.rslt, ==, 0);

    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/* READ/WRITE (6), (10) and (16) at several sizes, checked in the image. */
static void rw_cdb(QVscsiFront *f, int cdb_size, bool write, uint64_t lba,
                   void *buf, size_t len)
{
    uint8_t cdb[16] = { 0 };
    uint32_t blocks = len / 512;
    QVscsiCmd c;

    switch (cdb_size) {
    case 6:
        g_assert_cmpuint(blocks, <=, 256);
        cdb[0] = write ? 0x0a : 0x08;
        cdb[1] = (lba >> 16) & 0x1f;
        cdb[2] = lba >> 8;
        cdb[3] = lba;
        cdb[4] = blocks == 256 ? 0 : blocks;        /* 0 means 256 */
        break;
    case 10:
        cdb[0] = write ? 0x2a : 0x28;
        stl_be_p(cdb + 2, lba);
        stw_be_p(cdb + 7, blocks);
        break;
    case 16:
        cdb[0] = write ? 0x8a : 0x88;
        stq_be_p(cdb + 2, lba);
        stl_be_p(cdb + 10, blocks);
        break;
    default:
        g_assert_not_reached();
    }
    qvscsi_cmd_init(&c, 0, 0, 0, cdb, cdb_size,
                    write ? VSCSIIF_DMA_TO_DEVICE : VSCSIIF_DMA_FROM_DEVICE,
                    buf, len);
    qvscsi_cmd(f, &c);
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmpuint(c.residual, ==, 0);
}

static void test_rw_6_10_16(void)
{
    static const int cdb_sizes[] = { 6, 10, 16 };
    static const size_t lens[] = { 512, 8 * KiB, 128 * KiB };
    QXen *x = start();
    QVscsiFront f;
    uint64_t lba = 40;

    qvscsi_init(&f, x, 0);
    qvscsi_connect(&f);
    clear_ua(&f, 0, 0, 0);

    for (int i = 0; i < ARRAY_SIZE(cdb_sizes); i++) {
        for (int j = 0; j < ARRAY_SIZE(lens); j++) {
            size_t len = lens[j];
            g_autofree uint8_t *wbuf = g_malloc(len);
            g_autofree uint8_t *rbuf = g_malloc0(len);

            /* What the image holds */
            rw_cdb(&f, cdb_sizes[i], false, lba, rbuf, len);
            for (size_t k = 0; k < len; k++) {
                g_assert_cmpuint(rbuf[k], ==, (uint8_t)(lba + k / 512));
            }
            for (size_t k = 0; k < len; k++) {
                wbuf[k] = g_test_rand_int();
            }
            rw_cdb(&f, cdb_sizes[i], true, lba, wbuf, len);
            check_image(0, lba * 512, wbuf, len);
            memset(rbuf, 0, len);
            rw_cdb(&f, cdb_sizes[i], false, lba, rbuf, len);
            g_assert_cmpmem(rbuf, len, wbuf, len);
            lba += len / 512;
        }
    }
    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/* READ CAPACITY (16) and a read past the end */
static void test_capacity16(void)
{
    QXen *x = start();
    QVscsiFront f;
    uint8_t cdb[16] = { 0x9e, 0x10 };
    uint8_t buf[32];
    QVscsiCmd c;

    qvscsi_init(&f, x, 0);
    qvscsi_connect(&f);
    clear_ua(&f, 0, 0, 0);

    stl_be_p(cdb + 10, sizeof(buf));
    qvscsi_cmd_init(&c, 0, 0, 0, cdb, 16, VSCSIIF_DMA_FROM_DEVICE, buf,
                    sizeof(buf));
    qvscsi_cmd(&f, &c);
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmpuint(ldq_be_p(buf), ==, IMG_SIZE / 512 - 1);
    g_assert_cmpuint(ldl_be_p(buf + 8), ==, 512);

    /* READ(16) of the block after the last one: LBA OUT OF RANGE */
    memset(cdb, 0, sizeof(cdb));
    cdb[0] = 0x88;
    stq_be_p(cdb + 2, IMG_SIZE / 512);
    stl_be_p(cdb + 10, 1);
    qvscsi_cmd_init(&c, 0, 0, 0, cdb, 16, VSCSIIF_DMA_FROM_DEVICE, buf, 512);
    {
        g_autofree uint8_t *big = g_malloc(512);

        c.data = big;
        qvscsi_cmd(&f, &c);
    }
    g_assert_cmphex(c.rslt, ==, 0x02);
    g_assert_cmpuint(c.sense_len, ==, MIN(8 + c.sense[7], 96));
    g_assert_cmphex(c.sense[2] & 0xf, ==, 0x5);     /* ILLEGAL REQUEST */
    g_assert_cmphex(c.sense[12], ==, 0x21);         /* LBA out of range */
    g_assert_cmpuint(c.residual, ==, 512);

    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/* ---------------------------------------------------------------------- */
/* Requests in flight (LUN 0:0:0 throttled on the qtest clock)             */

static void read_start(QVscsiFront *f, QVscsiCmd *c, int id, int lun,
                       uint32_t lba, void *buf, size_t len)
{
    uint8_t cdb[10] = { 0x28 };

    stl_be_p(cdb + 2, lba);
    stw_be_p(cdb + 7, len / 512);
    qvscsi_cmd_init(c, 0, id, lun, cdb, 10, VSCSIIF_DMA_FROM_DEVICE, buf, len);
    qvscsi_cmd_start(f, c);
}

static void check_read(QVscsiCmd *c, int n, uint32_t lba)
{
    const uint8_t *buf = c->data;

    g_assert_cmphex(c->rslt, ==, 0);
    for (size_t i = 0; i < c->len; i++) {
        g_assert_cmpuint(buf[i], ==, (uint8_t)((lba + i / 512) ^ (n << 7)));
    }
}

/*
 * Connect and use up the throttle's allowance, so that the next request to
 * LUN 0:0:0 waits for the clock.
 */
static void connect_throttled(QXen *x, QVscsiFront *f)
{
    uint8_t buf[512];
    QVscsiCmd c;

    qvscsi_init(f, x, 0);
    qvscsi_connect(f);
    clear_ua(f, 0, 0, 0);
    clear_ua(f, 0, 2, 3);
    read_start(f, &c, 0, 0, 0, buf, sizeof(buf));
    qvscsi_push(f);
    qvscsi_cmd_wait(f, &c);
    check_read(&c, 0, 0);
}

/* Step the qtest clock until every pending command is answered. */
static void run_clock_until_idle(QXen *x, QVscsiFront *f)
{
    /*
     * The throttle lets one request through per expiry of its timer, and
     * arms the timer again only once that request has run: a step of the
     * clock per request.
     */
    for (int i = 0; f->nr_pending && i < 200; i++) {
        qtest_clock_step(x->qts, 2000000000LL);
        while (qvscsi_poll(f, 20)) {
            /* collect */
        }
    }
    g_assert_cmpuint(f->nr_pending, ==, 0);
}

/* Nothing answered (yet): the ring holds no unconsumed response. */
static void assert_no_response(QXen *x, QVscsiFront *f)
{
    g_usleep(50 * 1000);
    g_assert_cmpuint(qxen_ring_rsp_prod(x, &f->ring), ==, f->ring.rsp_cons);
}

/*
 * 16 requests in flight fill the ring; the backend keeps serving while
 * requests wait, and answers all of them once the clock moves.
 */
static void test_ring_full(void)
{
    QXen *x = start_with(true, "");
    QVscsiFront f;
    QVscsiCmd c[16], fast;
    uint8_t buf[16][1024], fbuf[512];

    connect_throttled(x, &f);

    for (int i = 0; i < 15; i++) {
        read_start(&f, &c[i], 0, 0, 100 + i * 2, buf[i], sizeof(buf[i]));
    }
    qvscsi_push(&f);
    g_assert_true(qxen_ring_wait_consumed(x, &f.ring, QXEN_TIMEOUT_MS));
    assert_no_response(x, &f);

    /* With 15 in flight, the last slot still serves another LUN */
    read_start(&f, &fast, 2, 3, 9, fbuf, sizeof(fbuf));
    qvscsi_push(&f);
    qvscsi_cmd_wait(&f, &fast);
    check_read(&fast, 1, 9);
    g_assert_cmpuint(f.nr_pending, ==, 15);

    /* 16 in flight: the ring is full, the backend consumed all of it */
    read_start(&f, &c[15], 0, 0, 130, buf[15], sizeof(buf[15]));
    qvscsi_push(&f);
    g_assert_cmpuint(f.ring.req_prod_pvt - f.ring.rsp_cons, ==, 16);
    g_assert_true(qxen_ring_wait_consumed(x, &f.ring, QXEN_TIMEOUT_MS));
    assert_no_response(x, &f);

    run_clock_until_idle(x, &f);
    for (int i = 0; i < 16; i++) {
        check_read(&c[i], 0, 100 + i * 2);
    }
    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/*
 * ABORT of an in-flight command: the command is answered with host ABORT,
 * then the ABORT with SUCCESS.
 */
static void test_abort_inflight(void)
{
    QXen *x = start_with(true, "");
    QVscsiFront f;
    QVscsiCmd victim, other, abort;
    uint8_t buf[2048], obuf[2048];

    connect_throttled(x, &f);

    read_start(&f, &victim, 0, 0, 50, buf, sizeof(buf));
    read_start(&f, &other, 0, 0, 60, obuf, sizeof(obuf));
    qvscsi_push(&f);
    g_assert_true(qxen_ring_wait_consumed(x, &f.ring, QXEN_TIMEOUT_MS));

    qvscsi_cmd_init(&abort, 0, 0, 0, victim.cdb, 10, VSCSIIF_DMA_FROM_DEVICE,
                    NULL, 0);
    abort.act = VSCSIIF_ACT_SCSI_ABORT;
    abort.dir = VSCSIIF_DMA_NONE;
    abort.ref_rqid = victim.rqid;
    qvscsi_cmd_start(&f, &abort);
    qvscsi_push(&f);

    run_clock_until_idle(x, &f);
    g_assert_cmphex(victim.rslt, ==, XEN_VSCSIIF_RSLT_HOST_ABORT << 16);
    g_assert_cmpuint(victim.sense_len, ==, 0);
    g_assert_cmphex(abort.rslt, ==, XEN_VSCSIIF_RSLT_RESET_SUCCESS);
    g_assert_cmpuint(victim.seq, <, abort.seq);
    /* The other command was not touched */
    check_read(&other, 0, 60);

    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/*
 * LUN RESET with commands in flight on that LUN: each is answered with
 * host RESET before the RESET itself; another LUN is not affected.
 */
static void test_reset_inflight(void)
{
    QXen *x = start_with(true, "");
    QVscsiFront f;
    QVscsiCmd r[3], reset, tur;
    uint8_t buf[3][1024], fbuf[512];
    static const uint8_t tur_cdb[6] = { 0x00 };

    connect_throttled(x, &f);

    read_start(&f, &r[0], 0, 0, 10, buf[0], sizeof(buf[0]));
    read_start(&f, &r[1], 0, 0, 20, buf[1], sizeof(buf[1]));
    qvscsi_push(&f);
    g_assert_true(qxen_ring_wait_consumed(x, &f.ring, QXEN_TIMEOUT_MS));

    qvscsi_cmd_init(&reset, 0, 0, 0, tur_cdb, 6, VSCSIIF_DMA_NONE, NULL, 0);
    reset.act = VSCSIIF_ACT_SCSI_RESET;
    qvscsi_cmd_start(&f, &reset);
    read_start(&f, &r[2], 2, 3, 30, fbuf, sizeof(fbuf));
    qvscsi_push(&f);

    /*
     * The reset waits for the cancelled commands, which the throttle still
     * holds, without holding up anything else: another LUN is served, and
     * a new command to this one is told to retry.
     */
    qvscsi_cmd_wait(&f, &r[2]);
    check_read(&r[2], 1, 30);
    qvscsi_cmd_init(&tur, 0, 0, 0, tur_cdb, 6, VSCSIIF_DMA_NONE, NULL, 0);
    qvscsi_cmd(&f, &tur);
    g_assert_cmphex(tur.rslt, ==, XEN_VSCSIIF_RSLT_HOST_BUS_BUSY << 16);
    g_assert_false(reset.done || r[0].done || r[1].done);

    /* Once the commands end, the reset is done */
    run_clock_until_idle(x, &f);
    for (int i = 0; i < 2; i++) {
        g_assert_cmphex(r[i].rslt, ==, XEN_VSCSIIF_RSLT_HOST_RESET << 16);
        g_assert_cmpuint(r[i].seq, <, reset.seq);
    }
    g_assert_cmphex(reset.rslt, ==, XEN_VSCSIIF_RSLT_RESET_SUCCESS);

    /* The LUN reports the reset, LUN 0:2:3 does not */
    qvscsi_cmd_init(&tur, 0, 0, 0, tur_cdb, 6, VSCSIIF_DMA_NONE, NULL, 0);
    qvscsi_cmd(&f, &tur);
    g_assert_cmphex(tur.rslt, ==, 0x02);
    g_assert_cmphex(tur.sense[2] & 0xf, ==, 0x6);
    g_assert_cmphex(tur.sense[12], ==, 0x29);
    qvscsi_cmd_init(&tur, 0, 2, 3, tur_cdb, 6, VSCSIIF_DMA_NONE, NULL, 0);
    qvscsi_cmd(&f, &tur);
    g_assert_cmphex(tur.rslt, ==, 0);

    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/*
 * The frontend closes with commands in flight: the backend reaches Closed
 * without waiting for them, having released every grant, and nothing of
 * the old ring is ever answered on the new one.
 */
static void test_close_inflight(void)
{
    QXen *x = start_with(true, "");
    QVscsiFront f;
    QVscsiCmd r[3], c;
    uint8_t buf[3][4096], wbuf[4096], nbuf[4096];
    uint8_t wcdb[10] = { 0x2a, 0, 0, 0, 0, 80, 0, 0, 8 };

    connect_throttled(x, &f);

    read_start(&f, &r[0], 0, 0, 10, buf[0], sizeof(buf[0]));
    read_start(&f, &r[1], 0, 0, 20, buf[1], sizeof(buf[1]));
    memset(wbuf, 0x5a, sizeof(wbuf));
    qvscsi_cmd_init(&r[2], 0, 0, 0, wcdb, 10, VSCSIIF_DMA_TO_DEVICE, wbuf,
                    sizeof(wbuf));
    qvscsi_cmd_start(&f, &r[2]);
    qvscsi_push(&f);
    g_assert_true(qxen_ring_wait_consumed(x, &f.ring, QXEN_TIMEOUT_MS));
    g_assert_cmpuint(f.nr_pending, ==, 3);

    /* Close (asserts Closed and that no grant is still mapped) */
    qvscsi_close(&f);
    for (int i = 0; i < 3; i++) {
        g_assert_false(r[i].done);
    }
    {
        g_autofree char *fe_state = g_strdup_printf("%s/state", f.fe);
        g_autofree char *be_state = qvscsi_be_key(&f, "state");

        qxs_write(x->xs, fe_state, "1");
        qxs_wait_state(x, x->xs, be_state, 2);
    }
    /* A new ring, reusing the same rqids */
    f.next_rqid = 0;
    qvscsi_connect(&f);
    check_lun_states(&f, 4);

    /* The old commands finish now; their answers go nowhere */
    read_start(&f, &c, 0, 0, 40, nbuf, sizeof(nbuf));
    qvscsi_push(&f);
    g_assert_cmpuint(c.rqid, ==, 0);
    run_clock_until_idle(x, &f);
    check_read(&c, 0, 40);
    assert_no_response(x, &f);

    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/*
 * device_del of the HBA with commands in flight: the backend goes Closing,
 * the frontend closes, the device and its LUNs go away (their requests are
 * ended by the LUNs' unrealize) and no grant stays mapped.
 */
static void test_hba_unplug(void)
{
    QXen *x = start_with(true, "");
    QVscsiFront f;
    QVscsiCmd r[2];
    uint8_t buf[2][4096];
    g_autofree char *fe_state = NULL;
    g_autofree char *be_state = NULL;

    connect_throttled(x, &f);
    read_start(&f, &r[0], 0, 0, 10, buf[0], sizeof(buf[0]));
    read_start(&f, &r[1], 0, 0, 20, buf[1], sizeof(buf[1]));
    qvscsi_push(&f);
    g_assert_true(qxen_ring_wait_consumed(x, &f.ring, QXEN_TIMEOUT_MS));

    qtest_qmp_device_del_send(x->qts, "vscsi0");
    be_state = qvscsi_be_key(&f, "state");
    qxs_wait_state(x, x->xs, be_state, 5);
    fe_state = g_strdup_printf("%s/state", f.fe);
    qxs_write(x->xs, fe_state, "5");
    qxs_write(x->xs, fe_state, "6");
    qtest_qmp_eventwait(x->qts, "DEVICE_DELETED");
    g_assert_true(qxs_wait_value(x, x->xs, f.be, NULL, QXEN_TIMEOUT_MS));
    g_assert_false(r[0].done || r[1].done);
    qvscsi_release(&f);

    qvscsi_free(&f);
    qxen_stop(x);
}

/*
 * Drained sections (here: blockdev-reopen of a LUN's node) while commands
 * come and go: the ring stops being read during the drain and is read
 * again after it, nothing is lost.
 */
static void test_drain(void)
{
    QXen *x = start();
    QVscsiFront f;

    qvscsi_init(&f, x, 0);
    qvscsi_connect(&f);
    clear_ua(&f, 0, 2, 3);

    for (int i = 0; i < 20; i++) {
        QVscsiCmd r[4];
        uint8_t buf[4][2048];
        QDict *rsp;

        for (int j = 0; j < 4; j++) {
            read_start(&f, &r[j], 2, 3, i * 8 + j * 4, buf[j],
                       sizeof(buf[j]));
        }
        qvscsi_push(&f);
        rsp = qtest_qmp(x->qts, "{'execute': 'blockdev-reopen', "
                        "'arguments': {'options': [{'driver': 'raw', "
                        "'node-name': 'd1', 'file': 'f1'}]}}");
        g_assert_true(qdict_haskey(rsp, "return"));
        qobject_unref(rsp);
        for (int j = 0; j < 4; j++) {
            qvscsi_cmd_wait(&f, &r[j]);
            check_read(&r[j], 1, i * 8 + j * 4);
        }
    }
    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/* ---------------------------------------------------------------------- */
/* LUN hotplug over QMP                                                    */

/* Host 0 as usual, plus node "d3" (image 1) free for hot-added LUNs. */
static QXen *start_hotplug(bool throttle)
{
    g_autofree char *extra = NULL;

    make_images();
    extra = g_strdup_printf(" -blockdev driver=file,node-name=f3,"
                            "filename=%s,locking=off "
                            "-blockdev driver=raw,node-name=d3,file=f3",
                            img[1]);
    return start_with(throttle, extra);
}

static int lun_state(QVscsiFront *f, int n)
{
    g_autofree char *k = qvscsi_be_key(f, "vscsi-devs/dev-%d/state", n);

    return qxs_read_int(f->x->xs, k, -1);
}

static void add_lun(QXen *x, const char *id, int target)
{
    qtest_qmp_device_add(x->qts, "scsi-hd", id,
                         "{'bus': 'vscsi0.0', 'channel': 0, 'scsi-id': %d, "
                         "'lun': 0, 'drive': 'd3'}", target);
}

/* Add then remove a LUN with the guest connected and idle. */
static void test_hotplug_idle(void)
{
    QXen *x = start_hotplug(false);
    QVscsiFront f;
    QVscsiCmd c;
    uint8_t buf[1024];
    unsigned int added, removed;

    qvscsi_init(&f, x, 0);
    qvscsi_connect(&f);

    add_lun(x, "hot0", 5);
    qvscsi_reconfigure(&f, &added, &removed);
    g_assert_cmpuint(added, ==, 1);
    g_assert_cmpuint(removed, ==, 0);
    {
        g_autofree char *k = qvscsi_be_key(&f, "vscsi-devs/dev-3/v-dev");
        g_autofree char *v = qxs_read(x->xs, k);

        g_assert_cmpstr(v, ==, "0:0:5:0");
    }
    g_assert_cmpint(lun_state(&f, 3), ==, 4);
    clear_ua(&f, 0, 5, 0);
    read_start(&f, &c, 5, 0, 33, buf, sizeof(buf));
    qvscsi_push(&f);
    qvscsi_cmd_wait(&f, &c);
    check_read(&c, 1, 33);

    qtest_qmp_device_del_send(x->qts, "hot0");
    qvscsi_reconfigure(&f, &added, &removed);
    g_assert_cmpuint(added, ==, 0);
    g_assert_cmpuint(removed, ==, 1);
    qtest_qmp_eventwait(x->qts, "DEVICE_DELETED");
    g_assert_cmpint(lun_state(&f, 3), ==, 6);
    g_assert_cmphex(qvscsi_tur(&f, 0, 5, 0), ==, RSLT_NO_CONNECT);
    /* The others are untouched */
    for (int n = 0; n < 3; n++) {
        g_assert_cmpint(lun_state(&f, n), ==, 4);
    }

    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/*
 * Remove a LUN with commands in flight on it and on another LUN: all of
 * them complete normally, then the LUN goes.
 */
static void test_hotplug_remove_inflight(void)
{
    QXen *x = start_hotplug(true);
    QVscsiFront f;
    QVscsiCmd r[2], other;
    uint8_t buf[2][2048], obuf[512];

    connect_throttled(x, &f);
    read_start(&f, &r[0], 0, 0, 70, buf[0], sizeof(buf[0]));
    read_start(&f, &r[1], 0, 0, 80, buf[1], sizeof(buf[1]));
    qvscsi_push(&f);
    g_assert_true(qxen_ring_wait_consumed(x, &f.ring, QXEN_TIMEOUT_MS));

    qtest_qmp_device_del_send(x->qts, "lun0");
    read_start(&f, &other, 2, 3, 44, obuf, sizeof(obuf));
    qvscsi_push(&f);
    qvscsi_reconfigure(&f, NULL, NULL);
    qtest_qmp_eventwait(x->qts, "DEVICE_DELETED");
    /* Removal waited for them; they completed with their data */
    qvscsi_cmd_wait(&f, &r[0]);
    qvscsi_cmd_wait(&f, &r[1]);
    qvscsi_cmd_wait(&f, &other);
    check_read(&r[0], 0, 70);
    check_read(&r[1], 0, 80);
    check_read(&other, 1, 44);
    g_assert_cmpint(lun_state(&f, 0), ==, 6);
    g_assert_cmphex(qvscsi_tur(&f, 0, 0, 0), ==, RSLT_NO_CONNECT);

    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/* Before the frontend connects: adds are picked up, removals immediate. */
static void test_hotplug_before_connect(void)
{
    QXen *x = start_hotplug(false);
    QVscsiFront f;
    g_autofree char *be_state = NULL;

    qvscsi_init(&f, x, 0);
    be_state = qvscsi_be_key(&f, "state");
    qxs_wait_state(x, x->xs, be_state, 2);

    add_lun(x, "hot0", 6);
    g_assert_cmpint(lun_state(&f, 3), ==, 1);
    qtest_qmp_device_del_send(x->qts, "lun0");
    qtest_qmp_eventwait(x->qts, "DEVICE_DELETED");
    g_assert_cmpint(lun_state(&f, 0), ==, 6);

    qvscsi_connect(&f);
    {
        g_autofree char *k = qvscsi_be_key(&f, "vscsi-devs/dev-3/state");

        g_assert_true(qxs_wait_value(x, x->xs, k, "4", QXEN_TIMEOUT_MS));
    }
    g_assert_cmpint(lun_state(&f, 0), ==, 6);
    clear_ua(&f, 0, 6, 0);
    g_assert_cmphex(qvscsi_tur(&f, 0, 0, 0), ==, RSLT_NO_CONNECT);

    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/*
 * A LUN hot-plugged into a restored or migrated guest's new QEMU before the
 * guest reconnects: Linux's frontend, reconnecting after its resume, adds
 * no LUN at connect; the backend offers the one it did not acknowledge
 * again, through a reconfiguration.  The LUNs from the command line, which
 * the guest kept, are Connected without one.
 */
static void test_hotplug_after_resume(void)
{
    QXen *x = start_hotplug(false);
    QVscsiFront f;
    g_autofree char *be_state = NULL;
    unsigned int added, removed;

    qvscsi_init(&f, x, 0);
    be_state = qvscsi_be_key(&f, "state");
    qxs_wait_state(x, x->xs, be_state, 2);
    add_lun(x, "hot0", 6);
    g_assert_cmpint(lun_state(&f, 3), ==, 1);

    qvscsi_connect_resumed(&f);
    qvscsi_reconfigure(&f, &added, &removed);
    g_assert_cmpuint(added, ==, 1);
    g_assert_cmpuint(removed, ==, 0);
    g_assert_cmpint(lun_state(&f, 3), ==, 4);
    for (int n = 0; n < 3; n++) {
        g_assert_cmpint(lun_state(&f, n), ==, 4);
    }
    clear_ua(&f, 0, 6, 0);
    g_assert_cmphex(qvscsi_tur(&f, 0, 6, 0), ==, 0);

    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/* Several changes back to back: one reconfiguration at a time. */
static void test_hotplug_several(void)
{
    QXen *x = start_hotplug(false);
    QVscsiFront f;
    unsigned int added = 0, removed = 0, a, r;
    int rounds = 0;
    g_autofree char *be_state = NULL;

    qvscsi_init(&f, x, 0);
    qvscsi_connect(&f);
    be_state = qvscsi_be_key(&f, "state");

    add_lun(x, "hot0", 5);
    /* A second CD on the read-only node of the first */
    qtest_qmp_device_add(x->qts, "scsi-cd", "hot1",
                         "{'bus': 'vscsi0.0', 'channel': 1, 'scsi-id': 7, "
                         "'lun': 2, 'drive': 'd2'}");
    qtest_qmp_device_del_send(x->qts, "lun0");
    /* Only one Reconfiguring at a time, until nothing is left to do */
    while (added < 2 || removed < 1) {
        qvscsi_reconfigure(&f, &a, &r);
        added += a;
        removed += r;
        g_assert_cmpint(++rounds, <=, 3);
    }
    g_assert_cmpuint(added, ==, 2);
    g_assert_cmpuint(removed, ==, 1);
    qtest_qmp_eventwait(x->qts, "DEVICE_DELETED");
    g_assert_cmpint(lun_state(&f, 0), ==, 6);
    g_assert_cmpint(lun_state(&f, 3), ==, 4);
    g_assert_cmpint(lun_state(&f, 4), ==, 4);
    g_assert_cmpint(qxs_read_int(x->xs, be_state, -1), ==, 4);
    clear_ua(&f, 0, 5, 0);
    clear_ua(&f, 1, 7, 2);

    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/*
 * A guest that never acknowledges: the LUN stays (and works), a second
 * device_del is refused, and the removal completes when the frontend goes.
 */
static void test_hotplug_no_ack(void)
{
    QXen *x = start_hotplug(false);
    QVscsiFront f;
    g_autofree char *be_state = NULL;
    QDict *rsp;

    qvscsi_init(&f, x, 0);
    qvscsi_connect(&f);
    be_state = qvscsi_be_key(&f, "state");
    clear_ua(&f, 0, 2, 3);

    qtest_qmp_device_del_send(x->qts, "lun0");
    qxs_wait_state(x, x->xs, be_state, 7);
    g_assert_cmpint(lun_state(&f, 0), ==, 5);
    clear_ua(&f, 0, 0, 0);
    rsp = qtest_qmp(x->qts, "{'execute': 'device_del', "
                    "'arguments': {'id': 'lun0'}}");
    g_assert_true(qdict_haskey(rsp, "error"));
    qobject_unref(rsp);
    g_assert_cmpint(qxs_read_int(x->xs, be_state, -1), ==, 7);

    qvscsi_close(&f);
    qtest_qmp_eventwait(x->qts, "DEVICE_DELETED");
    g_assert_cmpint(lun_state(&f, 0), ==, 6);
    g_assert_cmpint(lun_state(&f, 1), ==, 4);
    qvscsi_free(&f);
    qxen_stop(x);
}


/*
 * A frontend that never answers Reconfiguring, as Windows' GPLPV xenscsi
 * (which takes no part in hot-plug), with reconfigure-timeout=1: a
 * device_add or device_del holds up neither the host nor the next one.
 * The removal is not carried out and DEVICE_UNPLUG_GUEST_ERROR says so;
 * the LUN added is offered at the next connect.  A late answer (a slow
 * Linux guest) is still taken.
 */
static void test_hotplug_unanswered(void)
{
    g_autofree char *extra = NULL;
    QXen *x;
    QVscsiFront f;
    g_autofree char *be_state = NULL;
    unsigned int added, removed;
    QDict *rsp, *ev;

    make_images();
    extra = g_strdup_printf(
        " -blockdev driver=file,node-name=f3,filename=%s,locking=off "
        "-blockdev driver=raw,node-name=d3,file=f3 "
        "-blockdev driver=file,node-name=f4,filename=%s,locking=off "
        "-blockdev driver=raw,node-name=d4,file=f4 "
        "-blockdev driver=file,node-name=f5,filename=%s,locking=off "
        "-blockdev driver=raw,node-name=d5,file=f5 "
        "-global xen-pvscsi.reconfigure-timeout=1", img[1], img[1], img[1]);
    x = start_with(false, extra);
    qvscsi_init(&f, x, 0);
    f.gplpv = true;
    qvscsi_connect(&f);
    be_state = qvscsi_be_key(&f, "state");
    clear_ua(&f, 0, 0, 0);

    /* device_add: offered, unanswered, given up; no new round by itself */
    add_lun(x, "hot0", 5);
    qxs_wait_state(x, x->xs, be_state, 7);
    qxs_wait_state(x, x->xs, be_state, 4);
    g_assert_cmpint(lun_state(&f, 3), ==, 1);
    g_usleep(1500 * 1000);
    g_assert_cmpint(qxs_read_int(x->xs, be_state, -1), ==, 4);
    g_assert_cmphex(qvscsi_tur(&f, 0, 0, 0), ==, 0);

    /* device_del: the guest keeps the LUN, QMP says so, a retry is taken */
    for (int i = 0; i < 2; i++) {
        rsp = qtest_qmp(x->qts, "{'execute': 'device_del', "
                        "'arguments': {'id': 'lun0'}}");
        g_assert_true(qdict_haskey(rsp, "return"));
        qobject_unref(rsp);
        qxs_wait_state(x, x->xs, be_state, 7);
        g_assert_cmpint(lun_state(&f, 0), ==, 5);
        ev = qtest_qmp_eventwait_ref(x->qts, "DEVICE_UNPLUG_GUEST_ERROR");
        g_assert_cmpstr(qdict_get_str(qdict_get_qdict(ev, "data"), "device"),
                        ==, "lun0");
        qobject_unref(ev);
        qxs_wait_state(x, x->xs, be_state, 4);
        g_assert_cmpint(lun_state(&f, 0), ==, 4);
        g_assert_cmphex(qvscsi_tur(&f, 0, 0, 0), ==, 0);
    }

    /*
     * As a slow Linux guest would: the answer comes after the backend gave
     * up.  Nothing is removed (the removal was called off), the LUN still
     * waiting to be added is added.
     */
    f.gplpv = false;
    qtest_qmp_device_del_send(x->qts, "lun0");
    qxs_wait_state(x, x->xs, be_state, 7);
    qtest_qmp_eventwait(x->qts, "DEVICE_UNPLUG_GUEST_ERROR");
    qvscsi_reconfigure_late(&f, &added, &removed);
    g_assert_cmpuint(removed, ==, 0);
    g_assert_cmpuint(added, ==, 1);
    qxs_wait_state(x, x->xs, be_state, 4);
    g_assert_cmpint(lun_state(&f, 3), ==, 4);
    clear_ua(&f, 0, 5, 0);
    g_assert_cmphex(qvscsi_tur(&f, 0, 0, 0), ==, 0);

    /* and the next round, answered in time, works as ever */
    qtest_qmp_device_add(x->qts, "scsi-hd", "hot1",
                         "{'bus': 'vscsi0.0', 'scsi-id': 6, 'drive': 'd4'}");
    qvscsi_reconfigure(&f, &added, &removed);
    g_assert_cmpuint(added, ==, 1);
    qtest_qmp_device_del_send(x->qts, "hot0");
    qvscsi_reconfigure(&f, &added, &removed);
    g_assert_cmpuint(removed, ==, 1);
    qtest_qmp_eventwait(x->qts, "DEVICE_DELETED");
    g_assert_cmpint(lun_state(&f, 3), ==, 6);

    /* GPLPV again, reconnecting (a reboot): an unanswered add is offered */
    f.gplpv = true;
    qtest_qmp_device_add(x->qts, "scsi-hd", "hot2",
                         "{'bus': 'vscsi0.0', 'scsi-id': 7, 'drive': 'd5'}");
    qxs_wait_state(x, x->xs, be_state, 7);
    qxs_wait_state(x, x->xs, be_state, 4);
    qvscsi_close(&f);
    qvscsi_connect(&f);
    g_assert_cmpint(lun_state(&f, 5), ==, 4);
    clear_ua(&f, 0, 7, 0);

    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}


/* ---------------------------------------------------------------------- */
/* Introspection: query-xen-pvscsi                                         */

static QDict *query_host(QXen *x, unsigned int devid)
{
    QDict *rsp = qtest_qmp(x->qts, "{'execute': 'query-xen-pvscsi'}");
    QList *hosts;
    QListEntry *e;
    QDict *found = NULL;

    g_assert_true(qdict_haskey(rsp, "return"));
    hosts = qdict_get_qlist(rsp, "return");
    QLIST_FOREACH_ENTRY(hosts, e) {
        QDict *h = qobject_to(QDict, qlist_entry_obj(e));

        if (qdict_get_int(h, "devid") == devid) {
            g_assert_null(found);
            found = h;
            qobject_ref(found);
        }
    }
    qobject_unref(rsp);
    g_assert_nonnull(found);
    return found;
}

/* The LUN at C:T:L in a query-xen-pvscsi host record, or NULL */
static QDict *find_lun(QDict *host, int channel, int target, int lun)
{
    QListEntry *e;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(host, "luns"), e) {
        QDict *l = qobject_to(QDict, qlist_entry_obj(e));

        if (qdict_get_int(l, "channel") == channel &&
            qdict_get_int(l, "target") == target &&
            qdict_get_int(l, "lun") == lun) {
            return l;
        }
    }
    return NULL;
}

static void check_lun_info(QDict *l, int index, const char *state,
                           const char *pdev, const char *id,
                           const char *type, const char *node,
                           const char *filename, int ptype,
                           const char *model, int in_flight)
{
    g_autofree char *vdev = g_strdup_printf("0:%" PRId64 ":%" PRId64
                                            ":%" PRId64,
                                            qdict_get_int(l, "channel"),
                                            qdict_get_int(l, "target"),
                                            qdict_get_int(l, "lun"));

    g_assert_cmpstr(qdict_get_str(l, "vdev"), ==, vdev);
    g_assert_cmpint(qdict_get_int(l, "index"), ==, index);
    g_assert_cmpstr(qdict_get_str(l, "state"), ==, state);
    g_assert_cmpstr(qdict_get_str(l, "pdev"), ==, pdev);
    if (id) {
        g_autofree char *qdev = g_strdup_printf("/machine/peripheral/%s", id);

        g_assert_cmpstr(qdict_get_try_str(l, "id"), ==, id);
        g_assert_cmpstr(qdict_get_str(l, "qdev"), ==, qdev);
    } else {
        g_assert_false(qdict_haskey(l, "id"));
        g_assert_true(g_str_has_prefix(qdict_get_str(l, "qdev"),
                                       "/machine/"));
    }
    g_assert_cmpstr(qdict_get_str(l, "type"), ==, type);
    g_assert_cmpstr(qdict_get_try_str(l, "node-name"), ==, node);
    g_assert_cmpstr(qdict_get_try_str(l, "filename"), ==, filename);
    g_assert_cmpint(qdict_get_int(l, "peripheral-type"), ==, ptype);
    g_assert_cmpint(qdict_get_int(l, "scsi-level"), ==, 5);
    g_assert_cmpstr(qdict_get_str(l, "vendor"), ==, "QEMU");
    g_assert_cmpstr(qdict_get_str(l, "model"), ==, model);
    g_assert_cmpstr(qdict_get_str(l, "revision"), ==, "2.5+");
    g_assert_cmpint(qdict_get_int(l, "in-flight"), ==, in_flight);
}

/*
 * request-timeout (set as a -global, as for hosts a toolstack creates):
 * reads held by the throttle are failed with TRANSPORT_FAILFAST once the
 * timeout passes; they stay with the LUN (abandoned) until the clock lets
 * them end, and the ring goes on working meanwhile and after.
 */
static void test_request_timeout(void)
{
    QXen *x = start_with(true, " -global xen-pvscsi.request-timeout=1");
    QVscsiFront f;
    QVscsiCmd c[2], other;
    uint8_t buf[2][1024], obuf[512];
    QDict *h;
    int64_t abandoned = -1;

    connect_throttled(x, &f);
    for (int i = 0; i < 2; i++) {
        read_start(&f, &c[i], 0, 0, 50 + i, buf[i], sizeof(buf[i]));
    }
    qvscsi_push(&f);
    g_assert_true(qxen_ring_wait_consumed(x, &f.ring, QXEN_TIMEOUT_MS));
    h = query_host(x, 0);
    g_assert_cmpint(qdict_get_int(h, "request-timeout"), ==, 1);
    g_assert_cmpint(qdict_get_int(h, "in-flight"), ==, 2);
    g_assert_cmpint(qdict_get_int(h, "abandoned"), ==, 0);
    qobject_unref(h);

    /* No clock step: only the timeout can answer them */
    for (int i = 0; i < 2; i++) {
        qvscsi_cmd_wait(&f, &c[i]);
        g_assert_cmphex(c[i].rslt, ==,
                        XEN_VSCSIIF_RSLT_HOST_TRANSPORT_FAILFAST << 16);
        g_assert_cmpuint(c[i].sense_len, ==, 0);
    }
    h = query_host(x, 0);
    g_assert_cmpint(qdict_get_int(h, "in-flight"), ==, 0);
    g_assert_cmpint(qdict_get_int(h, "abandoned"), ==, 2);
    qobject_unref(h);

    /* The other LUNs are served meanwhile */
    read_start(&f, &other, 2, 3, 60, obuf, sizeof(obuf));
    qvscsi_push(&f);
    qvscsi_cmd_wait(&f, &other);
    check_read(&other, 1, 60);

    /* The throttle lets them end: nothing more reaches the ring */
    for (int i = 0; i < 20 && abandoned; i++) {
        qtest_clock_step(x->qts, 2000000000LL);
        h = query_host(x, 0);
        abandoned = qdict_get_int(h, "abandoned");
        qobject_unref(h);
    }
    g_assert_cmpint(abandoned, ==, 0);
    assert_no_response(x, &f);

    /* And the LUN answers new requests as before */
    read_start(&f, &c[0], 0, 0, 70, buf[0], sizeof(buf[0]));
    qvscsi_push(&f);
    run_clock_until_idle(x, &f);
    check_read(&c[0], 0, 70);

    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/*
 * query-xen-pvscsi field by field, before and after connect, with requests
 * in flight.
 */
static void test_query(void)
{
    QXen *x = start_with(true, "");
    QVscsiFront f;
    QVscsiCmd c[3];
    uint8_t buf[3][512];
    QDict *h;
    g_autofree char *be = g_strdup_printf("/local/domain/0/backend/qvscsi/"
                                          "%d/0", DOMID);
    g_autofree char *fe = g_strdup_printf("/local/domain/%d/device/vscsi/0",
                                          DOMID);
    unsigned int done = 0;

    h = query_host(x, 0);
    g_assert_cmpstr(qdict_get_str(h, "qdev"), ==, "/machine/peripheral/vscsi0");
    g_assert_cmpstr(qdict_get_str(h, "id"), ==, "vscsi0");
    g_assert_cmpint(qdict_get_int(h, "frontend-id"), ==, DOMID);
    g_assert_cmpstr(qdict_get_str(h, "backend"), ==, be);
    g_assert_cmpstr(qdict_get_str(h, "frontend"), ==, fe);
    g_assert_cmpstr(qdict_get_str(h, "state"), ==, "init-wait");
    g_assert_cmpstr(qdict_get_str(h, "frontend-state"), ==, "initialising");
    g_assert_cmpint(qdict_get_int(h, "max-sg-grant"), ==, 128);
    g_assert_cmpstr(qdict_get_try_str(h, "iothread"), ==,
                    use_iothread ? "io0" : NULL);
    g_assert_cmpint(qdict_get_int(h, "request-timeout"), ==, 0);
    g_assert_cmpint(qdict_get_int(h, "in-flight"), ==, 0);
    g_assert_cmpint(qdict_get_int(h, "abandoned"), ==, 0);
    g_assert_cmpint(qlist_size(qdict_get_qlist(h, "luns")), ==, 3);
    check_lun_info(find_lun(h, 0, 0, 0), 0, "initialising", "scsi-hd:d0",
                   "lun0", "scsi-hd", "d0", img[0], 0, "QEMU HARDDISK", 0);
    qobject_unref(h);

    connect_throttled(x, &f);
    /* Three reads to the throttled LUN: all wait for the clock. */
    for (int i = 0; i < 3; i++) {
        read_start(&f, &c[i], 0, 0, 40 + i, buf[i], sizeof(buf[i]));
    }
    qvscsi_push(&f);
    g_assert_true(qxen_ring_wait_consumed(x, &f.ring, QXEN_TIMEOUT_MS));
    assert_no_response(x, &f);

    h = query_host(x, 0);
    g_assert_cmpstr(qdict_get_str(h, "state"), ==, "connected");
    g_assert_cmpstr(qdict_get_str(h, "frontend-state"), ==, "connected");
    g_assert_cmpint(qdict_get_int(h, "in-flight"), ==, 3);
    check_lun_info(find_lun(h, 0, 0, 0), 0, "connected", "scsi-hd:d0",
                   "lun0", "scsi-hd", "d0", img[0], 0, "QEMU HARDDISK", 3);
    check_lun_info(find_lun(h, 0, 2, 3), 1, "connected", "scsi-hd:d1",
                   NULL, "scsi-hd", "d1", img[1], 0, "QEMU HARDDISK", 0);
    check_lun_info(find_lun(h, 1, 1, 0), 2, "connected", "scsi-cd:d2",
                   NULL, "scsi-cd", "d2", img[1], 5, "QEMU CD-ROM", 0);
    g_assert_null(find_lun(h, 0, 0, 1));
    qobject_unref(h);

    run_clock_until_idle(x, &f);
    for (int i = 0; i < 3; i++) {
        check_read(&c[i], 0, 40 + i);
        done += c[i].done;
    }
    g_assert_cmpuint(done, ==, 3);
    h = query_host(x, 0);
    g_assert_cmpint(qdict_get_int(h, "in-flight"), ==, 0);
    g_assert_cmpint(qdict_get_int(find_lun(h, 0, 0, 0), "in-flight"), ==, 0);
    qobject_unref(h);

    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/* ---------------------------------------------------------------------- */
/* Hostile frontends: the work and the memory a guest can make QEMU spend  */

/* The host's "abandoned" and "in-flight" counts from query-xen-pvscsi */
static void query_counts(QXen *x, int64_t *in_flight, int64_t *abandoned)
{
    QDict *h = query_host(x, 0);

    *in_flight = qdict_get_int(h, "in-flight");
    *abandoned = qdict_get_int(h, "abandoned");
    qobject_unref(h);
}

/*
 * With a request in flight, the frontend fills the ring with junk and moves
 * its request producer back behind what the backend has read (but not
 * behind the responses).  A backend that only checks for overflow reads
 * junk, rejecting each at once, until req_cons wraps at 2^32 (minutes of a
 * frozen main loop or IOThread).  It must take this for a broken ring: this
 * device goes Closing at once, QMP and a second device keep working, and
 * the frontend can close (which waits for the ring's context).
 */
static void test_ring_backwards(void)
{
    g_autofree char *opts = NULL;
    g_autofree char *state = NULL;
    QXen *x;
    QVscsiFront f, g;
    QVscsiCmd c;
    uint8_t buf[512], gbuf[512];
    uint32_t req_cons;
    int64_t in_flight, abandoned;
    int32_t rslt;

    make_images();
    opts = g_strdup_printf(" -blockdev driver=file,node-name=f3,filename=%s,"
                           "locking=off "
                           "-blockdev driver=raw,node-name=d3,file=f3 "
                           "-device xen-pvscsi,id=vscsi1,devid=1%s "
                           "-device scsi-hd,bus=vscsi1.0,scsi-id=0,drive=d3",
                           img[1], use_iothread ? ",iothread=io0" : "");
    x = start_with(true, opts);
    connect_throttled(x, &f);
    qvscsi_init(&g, x, 1);
    qvscsi_connect(&g);
    clear_ua(&g, 0, 0, 0);

    /* One read held by the throttle */
    read_start(&f, &c, 0, 0, 5, buf, sizeof(buf));
    qvscsi_push(&f);
    g_assert_true(qxen_ring_wait_consumed(x, &f.ring, QXEN_TIMEOUT_MS));
    req_cons = f.ring.req_prod_pvt;
    g_assert_cmpuint(qxen_ring_rsp_prod(x, &f.ring), ==, req_cons - 1);

    /* Junk in every slot (act 0xff), and req_prod one behind req_cons */
    for (unsigned int i = 0; i < f.ring.nr_ents; i++) {
        qtest_memset(x->qts, qxen_ring_slot(&f.ring, i), 0xff,
                     sizeof(vscsiif_request_t));
    }
    qtest_writel(x->qts, f.ring.gpa, req_cons - 1);
    qxen_evtchn_kick(x, f.port);

    state = qvscsi_be_key(&f, "state");
    qxs_wait_state(x, x->xs, state, 5);
    /* Nothing of the junk was answered */
    g_assert_cmpuint(qxen_ring_rsp_prod(x, &f.ring), ==, req_cons - 1);
    query_counts(x, &in_flight, &abandoned);
    g_assert_cmpint(in_flight, <=, 1);

    /* The other device works */
    rw10(&g, 0, 0, false, 3, gbuf, sizeof(gbuf), false, &rslt);
    g_assert_cmphex(rslt, ==, 0);
    g_assert_cmpuint(gbuf[0], ==, (uint8_t)(3 ^ 0x80));

    /* The frontend closes; the held read ends later, answered nowhere */
    qvscsi_close(&f);
    for (int i = 0; i < 20; i++) {
        qtest_clock_step(x->qts, 2000000000LL);
        query_counts(x, &in_flight, &abandoned);
        if (!abandoned) {
            break;
        }
    }
    g_assert_cmpint(abandoned, ==, 0);

    qvscsi_close(&g);
    qvscsi_free(&f);
    qvscsi_free(&g);
    qxen_stop(x);
}

/*
 * A frontend waits for its backend's state over and over (each wait is a
 * watch on a path xen-bus watches too, then an unwatch).  Every watch must
 * go with its unwatch: a guest has 128 watches at most (QEMU's xenstore
 * could not remove a watch second on its path: patches/0001).
 */
static void test_watch_many(void)
{
    QXen *x = start();
    QVscsiFront f;
    g_autofree char *state = NULL;

    qvscsi_init(&f, x, 0);
    state = qvscsi_be_key(&f, "state");
    for (int i = 0; i < 300; i++) {
        qxs_wait_state(x, x->xs, state, 2);
    }
    qvscsi_connect(&f);
    clear_ua(&f, 0, 0, 0);
    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/* Fill the ring with reads to the throttled LUN 0:0:0 and push them. */
static void fill_ring_throttled(QVscsiFront *f, QVscsiCmd *c,
                                uint8_t (*buf)[512], uint32_t lba)
{
    for (int i = 0; i < QVSCSI_RING_SIZE; i++) {
        read_start(f, &c[i], 0, 0, lba + i, buf[i], sizeof(buf[i]));
    }
    qvscsi_push(f);
}

/* Connect again on a new ring after qvscsi_close(), rqids from 0. */
static void reconnect_after_close(QXen *x, QVscsiFront *f)
{
    g_autofree char *fe_state = g_strdup_printf("%s/state", f->fe);
    g_autofree char *be_state = qvscsi_be_key(f, "state");

    qxs_write(x->xs, fe_state, "1");
    qxs_wait_state(x, x->xs, be_state, 2);
    f->next_rqid = 0;
    qvscsi_connect(f);
}

/*
 * A frontend that fills the ring with requests to a slow LUN, closes, and
 * connects again, over and over, leaves the old rings' requests with the
 * SCSI layer.  QEMU keeps at most a ring's worth of them: beyond that, the
 * new ring is not read until they end.  Then everything is served.
 */
static void test_reconnect_abandoned(void)
{
    QXen *x = start_with(true, "");
    QVscsiFront f;
    QVscsiCmd c[QVSCSI_RING_SIZE], other;
    uint8_t buf[QVSCSI_RING_SIZE][512], obuf[512];
    int64_t in_flight, abandoned;
    uint32_t lba = 100;

    connect_throttled(x, &f);
    fill_ring_throttled(&f, c, buf, lba);
    g_assert_true(qxen_ring_wait_consumed(x, &f.ring, QXEN_TIMEOUT_MS));
    query_counts(x, &in_flight, &abandoned);
    g_assert_cmpint(in_flight, ==, QVSCSI_RING_SIZE);

    for (int cycle = 0; cycle < 8; cycle++) {
        qvscsi_close(&f);
        query_counts(x, &in_flight, &abandoned);
        g_assert_cmpint(in_flight, ==, 0);
        g_assert_cmpint(abandoned, ==, QVSCSI_RING_SIZE);
        reconnect_after_close(x, &f);
        lba += QVSCSI_RING_SIZE;
        fill_ring_throttled(&f, c, buf, lba);
        /* Not read: a ring's worth is abandoned already */
        assert_no_response(x, &f);
        query_counts(x, &in_flight, &abandoned);
        g_assert_cmpint(in_flight, ==, 0);
        g_assert_cmpint(abandoned, ==, QVSCSI_RING_SIZE);
    }

    /*
     * The abandoned reads end as the clock moves; then the ring is read:
     * the last ring's reads are answered with their data.
     */
    run_clock_until_idle(x, &f);
    for (int i = 0; i < QVSCSI_RING_SIZE; i++) {
        check_read(&c[i], 0, lba + i);
    }
    query_counts(x, &in_flight, &abandoned);
    g_assert_cmpint(in_flight, ==, 0);
    g_assert_cmpint(abandoned, ==, 0);

    /* And another LUN at once */
    read_start(&f, &other, 2, 3, 9, obuf, sizeof(obuf));
    qvscsi_push(&f);
    qvscsi_cmd_wait(&f, &other);
    check_read(&other, 1, 9);

    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/*
 * The same bound within one connection: requests answered by
 * request-timeout stay with the LUN; once a ring's worth is kept, the ring
 * is not read until they end (the guest sees its new requests wait).
 */
static void test_timeout_abandoned(void)
{
    QXen *x = start_with(true, " -global xen-pvscsi.request-timeout=1");
    QVscsiFront f;
    QVscsiCmd c[QVSCSI_RING_SIZE];
    uint8_t buf[QVSCSI_RING_SIZE][512];
    int64_t in_flight, abandoned;

    connect_throttled(x, &f);
    fill_ring_throttled(&f, c, buf, 200);
    /* No clock step: only the timeout answers them */
    for (int i = 0; i < QVSCSI_RING_SIZE; i++) {
        qvscsi_cmd_wait(&f, &c[i]);
        g_assert_cmphex(c[i].rslt, ==,
                        XEN_VSCSIIF_RSLT_HOST_TRANSPORT_FAILFAST << 16);
    }
    query_counts(x, &in_flight, &abandoned);
    g_assert_cmpint(abandoned, ==, QVSCSI_RING_SIZE);

    /* A ring's worth more: not read, so they do not time out either */
    fill_ring_throttled(&f, c, buf, 200 + QVSCSI_RING_SIZE);
    g_usleep(1500 * 1000);
    assert_no_response(x, &f);
    query_counts(x, &in_flight, &abandoned);
    g_assert_cmpint(in_flight, ==, 0);
    g_assert_cmpint(abandoned, ==, QVSCSI_RING_SIZE);

    /* Once the abandoned reads end, the waiting ones run */
    run_clock_until_idle(x, &f);
    for (int i = 0; i < QVSCSI_RING_SIZE; i++) {
        g_assert_true(c[i].done);
        if (c[i].rslt == 0) {
            check_read(&c[i], 0, 200 + QVSCSI_RING_SIZE + i);
        } else {
            /* held by the throttle past the timeout again */
            g_assert_cmphex(c[i].rslt, ==,
                            XEN_VSCSIIF_RSLT_HOST_TRANSPORT_FAILFAST << 16);
        }
    }
    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/*
 * An ABORT names its victim's LUN: an ABORT of an in-flight command sent to
 * another LUN finds no such task (FAILED) and leaves the command alone.
 */
static void test_abort_wrong_lun(void)
{
    QXen *x = start_with(true, "");
    QVscsiFront f;
    QVscsiCmd victim, abort;
    uint8_t buf[1024];

    connect_throttled(x, &f);
    read_start(&f, &victim, 0, 0, 50, buf, sizeof(buf));
    qvscsi_push(&f);
    g_assert_true(qxen_ring_wait_consumed(x, &f.ring, QXEN_TIMEOUT_MS));

    qvscsi_cmd_init(&abort, 0, 2, 3, victim.cdb, 10, VSCSIIF_DMA_NONE,
                    NULL, 0);
    abort.act = VSCSIIF_ACT_SCSI_ABORT;
    abort.ref_rqid = victim.rqid;
    qvscsi_cmd(&f, &abort);
    g_assert_cmphex(abort.rslt, ==, XEN_VSCSIIF_RSLT_RESET_FAILED);
    g_assert_false(victim.done);

    run_clock_until_idle(x, &f);
    check_read(&victim, 0, 50);
    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/* ---------------------------------------------------------------------- */
/* Backends and LUNs written into xenstore by a toolstack                  */

/* A LUN as the libxl pvscsi patches write it (plus our qemu-device). */
static void ts_write_lun(struct xs_handle *tool, QVscsiFront *f, int n,
                         const char *pdev, const char *vdev,
                         const char *model)
{
    g_autofree char *kp = qvscsi_be_key(f, "vscsi-devs/dev-%d/p-dev", n);
    g_autofree char *kv = qvscsi_be_key(f, "vscsi-devs/dev-%d/v-dev", n);
    g_autofree char *km = qvscsi_be_key(f, "vscsi-devs/dev-%d/qemu-device",
                                        n);
    g_autofree char *ks = qvscsi_be_key(f, "vscsi-devs/dev-%d/state", n);

    qxs_write(tool, kp, pdev);
    qxs_write(tool, kv, vdev);
    if (model) {
        qxs_write(tool, km, model);
    }
    qxs_write(tool, ks, "1");
}

static void ts_write(struct xs_handle *tool, QVscsiFront *f, const char *key,
                     const char *val)
{
    g_autofree char *k = qvscsi_be_key(f, "%s", key);

    qxs_write(tool, k, val);
}

static char *lun_error(QVscsiFront *f, int n)
{
    g_autofree char *k = qvscsi_be_key(f, "vscsi-devs/dev-%d/error", n);

    return qxs_read(f->x->xs, k);
}

static bool qom_exists(QXen *x, const char *path)
{
    QDict *rsp = qtest_qmp(x->qts, "{'execute': 'qom-list', 'arguments': "
                           "{'path': %s}}", path);
    bool ok = qdict_haskey(rsp, "return");

    qobject_unref(rsp);
    return ok;
}

/* Whether query-named-block-nodes lists node @name */
static bool node_exists(QXen *x, const char *name)
{
    QDict *rsp = qtest_qmp(x->qts, "{'execute': 'query-named-block-nodes', "
                           "'arguments': {'flat': true}}");
    QListEntry *e;
    bool found = false;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(rsp, "return"), e) {
        QDict *n = qobject_to(QDict, qlist_entry_obj(e));

        found |= !strcmp(qdict_get_str(n, "node-name"), name);
    }
    qobject_unref(rsp);
    return found;
}

/*
 * A node made for a LUN is deleted once its device is freed, which QEMU
 * does after an RCU grace period: give it 5 s.
 */
static bool node_gone(QXen *x, const char *name)
{
    for (int i = 0; i < 500; i++) {
        if (!node_exists(x, name)) {
            return true;
        }
        g_usleep(10 * 1000);
    }
    return false;
}

/* READ (10) at LUN 0:id:lun, waited for */
static void read10(QVscsiFront *f, int id, int lun, uint32_t lba, void *buf,
                   size_t len, QVscsiCmd *c)
{
    read_start(f, c, id, lun, lba, buf, len);
    qvscsi_push(f);
    qvscsi_cmd_wait(f, c);
}

/*
 * A toolstack creates host 3 with six LUNs of different p-dev kinds (a
 * node name, an image file, a drive id as a CD, and three that cannot
 * work); the good ones work, the bad ones are Closed with their reason;
 * one added before the guest connected is picked up at connect; the
 * toolstack's teardown removes the host and its IOThread.
 */
static void test_toolstack_create(void)
{
    QXen *x;
    QVscsiFront f;
    QVscsiCmd c;
    struct xs_handle *tool;
    uint8_t buf[4096], inq[96];
    g_autofree char *err = NULL;
    g_autofree char *fe = NULL;
    QDict *h, *l;
    unsigned int readers[] = { DOMID };
    static const uint8_t inquiry[6] = { 0x12, 0, 0, 0, 96, 0 };

    make_images();
    x = qxen_start(DOMID,
        "-blockdev driver=file,node-name=f0,filename=%s "
        "-blockdev driver=raw,node-name=d0,file=f0 "
        "-drive if=none,id=cd0,format=raw,file=%s,readonly=on,"
        "file.locking=off "
        "-blockdev driver=file,node-name=f3,filename=%s,locking=off "
        "-blockdev driver=raw,node-name=d3,file=f3",
        img[0], img[0], img[0]);
    tool = x->xs_priv;
    qvscsi_init(&f, x, 3);

    /* The guest cannot create backends. */
    g_assert_false(qxs_try_write(x->xs, f.be, "x"));

    qxs_mkdir(tool, f.be);
    qxs_set_perms(tool, f.be, 0, readers, 1);
    ts_write(tool, &f, "frontend", f.fe);
    ts_write(tool, &f, "frontend-id", "1");
    ts_write(tool, &f, "feature-host", "0");
    ts_write_lun(tool, &f, 0, "d0", "3:0:0:0", NULL);
    ts_write_lun(tool, &f, 1, img[1], "3:0:1:2", NULL);
    ts_write_lun(tool, &f, 2, "cd0", "3:1:0:0", "scsi-cd");
    ts_write_lun(tool, &f, 3, "/nonexistent/disk.img", "3:0:2:0", NULL);
    ts_write_lun(tool, &f, 4, "9:9:9:9", "3:0:3:0", NULL);
    ts_write_lun(tool, &f, 5, "d0", "3:0:64:0", NULL);
    /* Credentials in xenstore (the guest reads its backend), a bad URL */
    ts_write_lun(tool, &f, 7, "iscsi://u%p@127.0.0.1/iqn.2026-11.x:t/0",
                 "3:0:6:0", NULL);
    ts_write_lun(tool, &f, 8, "iscsi://127.0.0.1/iqn.2026-11.x:t",
                 "3:0:7:0", NULL);
    ts_write_lun(tool, &f, 9, "iscsi://127.0.0.1//0", "3:0:8:0", NULL);
    ts_write(tool, &f, "online", "1");
    ts_write(tool, &f, "state", "1");
    {
        g_autofree char *k = qvscsi_be_key(&f, "state");

        qxs_wait_state(x, x->xs, k, 2);
    }

    g_assert_cmpint(lun_state(&f, 0), ==, 1);
    g_assert_cmpint(lun_state(&f, 1), ==, 1);
    g_assert_cmpint(lun_state(&f, 2), ==, 1);
    for (int n = 3; n <= 5; n++) {
        g_assert_cmpint(lun_state(&f, n), ==, 6);
    }
    err = lun_error(&f, 3);
    g_assert_nonnull(strstr(err, "/nonexistent/disk.img"));
    g_assert_nonnull(strstr(err, "No such file or directory"));
    g_free(err);
    err = lun_error(&f, 4);
    g_assert_cmpstr(err, ==, "p-dev '9:9:9:9': no such SCSI device on this "
                    "host");
    g_free(err);
    err = lun_error(&f, 5);
    g_assert_nonnull(strstr(err, "v-dev '3:0:64:0'"));
    g_free(err);
    g_assert_cmpint(lun_state(&f, 7), ==, 6);
    err = lun_error(&f, 7);
    g_assert_nonnull(strstr(err, "no credentials in p-dev"));
    g_free(err);
    g_assert_cmpint(lun_state(&f, 8), ==, 6);
    err = lun_error(&f, 8);
    g_assert_nonnull(strstr(err, "is not iscsi://<host>[:<port>]/"));
    g_free(err);
    g_assert_cmpint(lun_state(&f, 9), ==, 6);
    err = lun_error(&f, 9);
    g_assert_nonnull(strstr(err, "is not iscsi://<host>[:<port>]/"));
    g_free(err);
    /* The image's node, made as blockdev-add does: QMP lists it */
    g_assert_true(node_exists(x, "xen-pvscsi3-dev1"));
    g_assert_false(node_exists(x, "xen-pvscsi3-dev7"));
    {
        g_autofree char *k = qvscsi_be_key(&f, "error");

        err = qxs_read(x->xs, k);
        g_assert_true(g_str_has_prefix(err, "dev-"));
    }
    g_assert_null(lun_error(&f, 0));

    /* Added while the backend waits for the guest: offered at connect */
    ts_write_lun(tool, &f, 6, "d3", "3:0:5:0", NULL);

    qvscsi_connect(&f);
    for (int n = 0; n <= 2; n++) {
        g_assert_cmpint(lun_state(&f, n), ==, 4);
    }
    g_assert_cmpint(lun_state(&f, 6), ==, 4);
    for (int n = 3; n <= 5; n++) {
        g_assert_cmpint(lun_state(&f, n), ==, 6);
    }

    /* Node d0 (image 0), the image file (image 1), d3 (image 0) */
    clear_ua(&f, 0, 0, 0);
    read10(&f, 0, 0, 17, buf, sizeof(buf), &c);
    check_read(&c, 0, 17);
    clear_ua(&f, 0, 1, 2);
    read10(&f, 1, 2, 21, buf, sizeof(buf), &c);
    check_read(&c, 1, 21);
    clear_ua(&f, 0, 5, 0);
    read10(&f, 5, 0, 3, buf, 512, &c);
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmpuint(buf[0], ==, 3);
    {
        uint8_t cdb[10] = { 0x2a };
        uint8_t data[1024];

        memset(data, 0xa5, sizeof(data));
        stl_be_p(cdb + 2, 200);
        stw_be_p(cdb + 7, 2);
        qvscsi_cmd_init(&c, 0, 1, 2, cdb, 10, VSCSIIF_DMA_TO_DEVICE, data,
                        sizeof(data));
        qvscsi_cmd(&f, &c);
        g_assert_cmphex(c.rslt, ==, 0);
        check_image(1, 200 * 512, data, sizeof(data));
    }
    /* The drive as a CD */
    qvscsi_cmd_init(&c, 1, 0, 0, inquiry, 6, VSCSIIF_DMA_FROM_DEVICE, inq,
                    sizeof(inq));
    qvscsi_cmd(&f, &c);
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmphex(inq[0], ==, 0x05);
    /* The bad ones do not exist for the guest */
    g_assert_cmphex(qvscsi_tur(&f, 0, 2, 0), ==, RSLT_NO_CONNECT);
    g_assert_cmphex(qvscsi_tur(&f, 0, 3, 0), ==, RSLT_NO_CONNECT);

    h = query_host(x, 3);
    g_assert_false(qdict_haskey(h, "id"));
    g_assert_cmpstr(qdict_get_str(h, "iothread"), ==, "xen-pvscsi3-iothread");
    g_assert_cmpint(qlist_size(qdict_get_qlist(h, "luns")), ==, 4);
    l = find_lun(h, 0, 1, 2);
    g_assert_cmpstr(qdict_get_str(l, "vdev"), ==, "3:0:1:2");
    g_assert_cmpint(qdict_get_int(l, "index"), ==, 1);
    g_assert_cmpstr(qdict_get_str(l, "pdev"), ==, img[1]);
    g_assert_cmpstr(qdict_get_str(l, "type"), ==, "scsi-hd");
    g_assert_cmpstr(qdict_get_str(l, "node-name"), ==, "xen-pvscsi3-dev1");
    g_assert_cmpstr(qdict_get_str(l, "filename"), ==, img[1]);
    g_assert_true(g_str_has_prefix(qdict_get_str(l, "qdev"),
                                   "/machine/unattached/device["));
    g_assert_true(g_str_has_suffix(qdict_get_str(l, "qdev"), "]/dev-1"));
    l = find_lun(h, 1, 0, 0);
    g_assert_cmpstr(qdict_get_str(l, "type"), ==, "scsi-cd");
    g_assert_cmpstr(qdict_get_str(l, "pdev"), ==, "cd0");
    g_assert_cmpint(qdict_get_int(l, "peripheral-type"), ==, 5);
    l = find_lun(h, 0, 0, 0);
    g_assert_cmpstr(qdict_get_str(l, "node-name"), ==, "d0");
    qobject_unref(h);
    g_assert_true(qom_exists(x, "/objects/xen-pvscsi3-iothread"));

    /* Teardown as libxl does it: offline, Closing; the guest closes. */
    ts_write(tool, &f, "online", "0");
    ts_write(tool, &f, "state", "5");
    {
        g_autofree char *k = qvscsi_be_key(&f, "state");

        qxs_wait_state(x, x->xs, k, 5);
    }
    fe = g_strdup_printf("%s/state", f.fe);
    qxs_write(x->xs, fe, "6");
    for (int i = 0; qxs_exists(tool, f.be) && i < 500; i++) {
        g_usleep(10 * 1000);
    }
    g_assert_false(qxs_exists(tool, f.be));
    qvscsi_release(&f);
    g_assert_false(qom_exists(x, "/objects/xen-pvscsi3-iothread"));
    /* The nodes made for the LUNs are gone; the user's are not. */
    g_assert_true(node_gone(x, "xen-pvscsi3-dev1"));
    g_assert_true(node_exists(x, "d0"));
    g_assert_true(node_exists(x, "d3"));
    qvscsi_free(&f);
    qxen_stop(x);
}

/*
 * Hot add and remove driven by the toolstack (dev-N state 1 or 5, then
 * backend state 7) on a connected host: a good and a bad LUN added in one
 * round, then the new LUN and one of the command line's removed.
 */
static void test_toolstack_hotplug(void)
{
    QXen *x = start_hotplug(false);
    struct xs_handle *tool = x->xs_priv;
    QVscsiFront f;
    QVscsiCmd c;
    uint8_t buf[512];
    unsigned int added, removed;
    g_autofree char *err = NULL;
    g_autofree char *img6 = NULL;
    int fd = g_file_open_tmp("xen-pvscsi-XXXXXX.img", &img6, NULL);
    QDict *ev;

    /* An image of its own for dev-6 (the others are locked by their nodes) */
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, 1024 * 1024), ==, 0);
    close(fd);
    qvscsi_init(&f, x, 0);
    qvscsi_connect(&f);

    ts_write_lun(tool, &f, 3, "d3", "0:0:7:1", NULL);
    ts_write_lun(tool, &f, 4, "no-such-node", "0:0:8:0", NULL);
    ts_write_lun(tool, &f, 6, img6, "0:0:11:0", NULL);
    ts_write(tool, &f, "state", "7");
    qvscsi_reconfigure(&f, &added, &removed);
    g_assert_cmpuint(added, ==, 2);
    g_assert_cmpuint(removed, ==, 0);
    g_assert_cmpint(lun_state(&f, 3), ==, 4);
    g_assert_cmpint(lun_state(&f, 4), ==, 6);
    g_assert_cmpint(lun_state(&f, 6), ==, 4);
    g_assert_true(node_exists(x, "xen-pvscsi0-dev6"));
    err = lun_error(&f, 4);
    g_assert_nonnull(strstr(err, "no-such-node"));
    clear_ua(&f, 0, 7, 1);
    read10(&f, 7, 1, 8, buf, sizeof(buf), &c);
    check_read(&c, 1, 8);

    /* A LUN added by device_add now takes the next free dev-N */
    qtest_qmp_assert_success(x->qts,
        "{'execute': 'blockdev-add', 'arguments': {"
        "'driver': 'raw', 'node-name': 'd4', 'file': {"
        "'driver': 'file', 'filename': %s, 'locking': 'off'}}}", img[1]);
    qtest_qmp_device_add(x->qts, "scsi-hd", "hot0",
                         "{'bus': 'vscsi0.0', 'scsi-id': 9, 'drive': 'd4'}");
    {
        QDict *rsp = qtest_qmp(x->qts, "{'execute': 'device_add', "
                               "'arguments': {'driver': 'scsi-hd', "
                               "'id': 'hot1', 'bus': 'vscsi0.0', "
                               "'scsi-id': 10, 'drive': 'd1'}}");

        /* d1 is in use by 0:2:3: refused, nothing published */
        g_assert_true(qdict_haskey(rsp, "error"));
        qobject_unref(rsp);
    }
    qvscsi_reconfigure(&f, &added, &removed);
    g_assert_cmpuint(added, ==, 1);
    {
        g_autofree char *k = qvscsi_be_key(&f, "vscsi-devs/dev-7/v-dev");
        g_autofree char *v = qxs_read(x->xs, k);

        g_assert_cmpstr(v, ==, "0:0:9:0");
    }

    /* Remove the toolstack's LUNs and the command line's 0:2:3 */
    {
        g_autofree char *k3 = qvscsi_be_key(&f, "vscsi-devs/dev-3/state");
        g_autofree char *k1 = qvscsi_be_key(&f, "vscsi-devs/dev-1/state");
        g_autofree char *k6 = qvscsi_be_key(&f, "vscsi-devs/dev-6/state");

        qxs_write(tool, k3, "5");
        qxs_write(tool, k1, "5");
        qxs_write(tool, k6, "5");
    }
    ts_write(tool, &f, "state", "7");
    qvscsi_reconfigure(&f, &added, &removed);
    g_assert_cmpuint(added, ==, 0);
    g_assert_cmpuint(removed, ==, 3);
    g_assert_cmpint(lun_state(&f, 3), ==, 6);
    g_assert_cmpint(lun_state(&f, 1), ==, 6);
    g_assert_cmpint(lun_state(&f, 6), ==, 6);
    /* The node made for dev-6 goes with it, the user's d3 stays */
    g_assert_true(node_gone(x, "xen-pvscsi0-dev6"));
    g_assert_true(node_exists(x, "d3"));
    for (int i = 0; i < 3; i++) {
        ev = qtest_qmp_eventwait_ref(x->qts, "DEVICE_DELETED");
        qobject_unref(ev);
    }
    g_assert_cmphex(qvscsi_tur(&f, 0, 7, 1), ==, RSLT_NO_CONNECT);
    g_assert_cmphex(qvscsi_tur(&f, 0, 2, 3), ==, RSLT_NO_CONNECT);
    g_assert_cmpint(lun_state(&f, 0), ==, 4);
    clear_ua(&f, 0, 0, 0);

    /* The toolstack deletes the nodes; the node is free for a new LUN. */
    {
        g_autofree char *k = qvscsi_be_key(&f, "vscsi-devs/dev-3");

        qxs_rm(tool, k);
    }
    ts_write_lun(tool, &f, 3, "d3", "0:0:7:1", NULL);
    ts_write(tool, &f, "state", "7");
    qvscsi_reconfigure(&f, &added, &removed);
    g_assert_cmpuint(added, ==, 1);
    g_assert_cmpint(lun_state(&f, 3), ==, 4);

    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
    unlink(img6);
}

/* Whether query-xen-pvscsi lists host @devid */
static bool host_exists(QXen *x, unsigned int devid)
{
    QDict *rsp = qtest_qmp(x->qts, "{'execute': 'query-xen-pvscsi'}");
    QListEntry *e;
    bool found = false;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(rsp, "return"), e) {
        QDict *h = qobject_to(QDict, qlist_entry_obj(e));

        found |= qdict_get_int(h, "devid") == devid;
    }
    qobject_unref(rsp);
    return found;
}

/*
 * A host as SUSE's libxl (libxl_vscsi.c) writes it for "vscsi = [ ... ]":
 * backend type vscsi, frontend-id, online, state, libxl_ctrl_index,
 * feature-host, and per LUN p-dev (H:C:T:L, or naa.<WWN>:<LUN> for a LIO
 * target), p-devname (the name the admin gave), v-dev and state; the
 * frontend's backend, backend-id and state.
 */
static void suse_write_host(struct xs_handle *tool, QVscsiFront *f,
                            const char *feature_host)
{
    unsigned int guest[] = { DOMID };
    unsigned int dom0[] = { 0 };
    g_autofree char *fe_be = g_strdup_printf("%s/backend", f->fe);
    g_autofree char *fe_beid = g_strdup_printf("%s/backend-id", f->fe);
    g_autofree char *fe_state = g_strdup_printf("%s/state", f->fe);
    g_autofree char *idx = g_strdup_printf("%u", f->devid);

    qxs_mkdir(tool, f->be);
    qxs_set_perms(tool, f->be, 0, guest, 1);
    qxs_mkdir(tool, f->fe);
    qxs_set_perms(tool, f->fe, DOMID, dom0, 1);
    qxs_write(tool, fe_be, f->be);
    qxs_write(tool, fe_beid, "0");
    qxs_write(tool, fe_state, "1");
    ts_write(tool, f, "frontend", f->fe);
    ts_write(tool, f, "frontend-id", "1");
    ts_write(tool, f, "libxl_ctrl_index", idx);
    ts_write(tool, f, "feature-host", feature_host);
}

static void suse_write_lun(struct xs_handle *tool, QVscsiFront *f, int n,
                           const char *pdev, const char *devname,
                           const char *vdev)
{
    g_autofree char *k = qvscsi_be_key(f, "vscsi-devs/dev-%d/p-devname", n);

    qxs_write(tool, k, devname);
    ts_write_lun(tool, f, n, pdev, vdev, NULL);
}

static void suse_online(struct xs_handle *tool, QVscsiFront *f)
{
    ts_write(tool, f, "online", "1");
    ts_write(tool, f, "state", "1");
}

static void suse_front(QVscsiFront *f, QXen *x, unsigned int devid)
{
    qvscsi_init(f, x, devid);
    g_free(f->be);
    f->be = g_strdup_printf("/local/domain/0/backend/vscsi/%u/%u", x->domid,
                            devid);
}

/*
 * Backend type vscsi is Linux's xen-scsiback's: QEMU leaves it alone, but
 * serves it where -global xen-pvscsi-vscsi.enable=on asks for it.  A SUSE
 * libxl host: a LUN on a block node works, hot add and remove as libxl
 * does them work, an H:C:T:L that does not exist and a LIO name get their
 * reason; feature-host = 1 and a devid in use are refused with theirs; the
 * toolstack's teardown removes the host.
 */
static void test_toolstack_vscsi(void)
{
    QXen *x;
    QVscsiFront f, q, fh, clash;
    QVscsiCmd c;
    struct xs_handle *tool;
    uint8_t buf[4096];
    unsigned int added, removed;
    g_autofree char *err = NULL;
    QDict *h, *rsp;

    make_images();

    /* Not asked for: a qvscsi host is made, the vscsi one is not. */
    x = qxen_start(DOMID, "-blockdev driver=file,node-name=f0,filename=%s "
                   "-blockdev driver=raw,node-name=d0,file=f0", img[0]);
    tool = x->xs_priv;
    suse_front(&f, x, 0);
    suse_write_host(tool, &f, "0");
    suse_write_lun(tool, &f, 0, "d0", "d0", "0:0:0:0");
    suse_online(tool, &f);
    qvscsi_init(&q, x, 1);
    qxs_mkdir(tool, q.be);
    ts_write(tool, &q, "frontend", q.fe);
    ts_write(tool, &q, "frontend-id", "1");
    ts_write(tool, &q, "online", "1");
    ts_write(tool, &q, "state", "1");
    {
        g_autofree char *k = qvscsi_be_key(&q, "state");
        g_autofree char *v = qvscsi_be_key(&f, "state");

        /* xen-bus enumerates every type at each change under backend/ */
        qxs_wait_state(x, tool, k, 2);
        g_assert_cmpint(qxs_read_int(tool, v, -1), ==, 1);
    }
    g_assert_false(host_exists(x, 0));
    h = query_host(x, 1);
    g_assert_nonnull(h);
    qobject_unref(h);
    qvscsi_free(&f);
    qvscsi_free(&q);
    qxen_stop(x);

    x = qxen_start(DOMID, "-global xen-pvscsi-vscsi.enable=on "
                   "-blockdev driver=file,node-name=f0,filename=%s "
                   "-blockdev driver=raw,node-name=d0,file=f0 "
                   "-blockdev driver=file,node-name=f1,filename=%s "
                   "-blockdev driver=raw,node-name=d1,file=f1 "
                   "-device xen-pvscsi,id=vscsi2,devid=2",
                   img[0], img[1]);
    tool = x->xs_priv;
    /* Made for a toolstack's backend only */
    rsp = qtest_qmp(x->qts, "{'execute': 'device_add', 'arguments': "
                    "{'driver': 'xen-pvscsi-vscsi', 'devid': 5}}");
    g_assert_true(qdict_haskey(rsp, "error"));
    qobject_unref(rsp);

    suse_front(&f, x, 0);
    suse_write_host(tool, &f, "0");
    /* A block node: what this host without SCSI devices can serve */
    suse_write_lun(tool, &f, 0, "d0", "d0", "0:0:0:0");
    suse_write_lun(tool, &f, 1, "7:0:1:0", "/dev/sdz", "0:0:1:0");
    suse_write_lun(tool, &f, 2, "naa.6001405c0ffee001:3", "/dev/sdy",
                   "0:0:2:0");
    suse_write_lun(tool, &f, 4, "36001405aabbccdd0011223344556677",
                   "/dev/sdx", "0:0:4:0");
    suse_write_lun(tool, &f, 5, "naa.60014051", "/dev/sdw", "0:0:5:0");
    suse_online(tool, &f);
    {
        g_autofree char *k = qvscsi_be_key(&f, "state");

        qxs_wait_state(x, x->xs, k, 2);
    }
    g_assert_cmpint(lun_state(&f, 0), ==, 1);
    for (int n = 1; n <= 5; n++) {
        g_assert_cmpint(lun_state(&f, n), ==, n == 3 ? -1 : 6);
    }
    err = lun_error(&f, 1);
    g_assert_cmpstr(err, ==, "p-dev '7:0:1:0': no such SCSI device on this "
                    "host");
    g_free(err);
    /* Searched for among the host's SCSI devices, as xen-vscsi does */
    err = lun_error(&f, 2);
    g_assert_cmpstr(err, ==, "p-dev 'naa.6001405c0ffee001:3': no SCSI "
                    "device of this host has that NAA designator (0 devices "
                    "searched)");
    g_free(err);
    err = lun_error(&f, 4);
    g_assert_cmpstr(err, ==, "p-dev '36001405aabbccdd0011223344556677': no "
                    "SCSI device of this host has that WWID (0 devices "
                    "searched)");
    g_free(err);
    err = lun_error(&f, 5);
    g_assert_cmpstr(err, ==, "p-dev 'naa.60014051': naa. wants 16 or 32 hex "
                    "digits");
    g_free(err);
    err = NULL;

    qvscsi_connect(&f);
    g_assert_cmpint(lun_state(&f, 0), ==, 4);
    clear_ua(&f, 0, 0, 0);
    read10(&f, 0, 0, 33, buf, sizeof(buf), &c);
    check_read(&c, 0, 33);
    h = query_host(x, 0);
    g_assert_cmpstr(qdict_get_str(h, "backend"), ==,
                    "/local/domain/0/backend/vscsi/1/0");
    g_assert_cmpstr(qdict_get_str(h, "frontend"), ==,
                    "/local/domain/1/device/vscsi/0");
    g_assert_cmpint(qlist_size(qdict_get_qlist(h, "luns")), ==, 1);
    qobject_unref(h);

    /* xl scsi-attach: dev-3 in state 1, then the backend's 7 */
    suse_write_lun(tool, &f, 3, "d1", "d1", "0:0:3:1");
    ts_write(tool, &f, "state", "7");
    qvscsi_reconfigure(&f, &added, &removed);
    g_assert_cmpuint(added, ==, 1);
    g_assert_cmpint(lun_state(&f, 3), ==, 4);
    clear_ua(&f, 0, 3, 1);
    read10(&f, 3, 1, 5, buf, sizeof(buf), &c);
    check_read(&c, 1, 5);
    /* xl scsi-detach: dev-0 in state 5, then 7; libxl wants 6 */
    {
        g_autofree char *k = qvscsi_be_key(&f, "vscsi-devs/dev-0/state");

        qxs_write(tool, k, "5");
    }
    ts_write(tool, &f, "state", "7");
    qvscsi_reconfigure(&f, &added, &removed);
    g_assert_cmpuint(removed, ==, 1);
    g_assert_cmpint(lun_state(&f, 0), ==, 6);
    g_assert_cmphex(qvscsi_tur(&f, 0, 0, 0), ==, RSLT_NO_CONNECT);
    qobject_unref(qtest_qmp_eventwait_ref(x->qts, "DEVICE_DELETED"));

    /* feature-host = 1: refused, with the reason for the toolstack */
    suse_front(&fh, x, 3);
    suse_write_host(tool, &fh, "1");
    suse_write_lun(tool, &fh, 0, "d1", "d1", "3:0:0:0");
    suse_online(tool, &fh);
    {
        g_autofree char *k = qvscsi_be_key(&fh, "state");
        g_autofree char *e = qvscsi_be_key(&fh, "error");

        qxs_wait_state(x, x->xs, k, 6);
        err = qxs_read(x->xs, e);
        g_assert_nonnull(strstr(err, "feature-host = '1' is not supported"));
        g_free(err);
        err = NULL;
    }
    g_assert_false(host_exists(x, 3));

    /* devid 2 is the command line's qvscsi host: one frontend each */
    suse_front(&clash, x, 2);
    qxs_mkdir(tool, clash.be);
    ts_write(tool, &clash, "frontend", clash.fe);
    ts_write(tool, &clash, "frontend-id", "1");
    ts_write(tool, &clash, "feature-host", "0");
    suse_online(tool, &clash);
    {
        g_autofree char *k = qvscsi_be_key(&clash, "state");
        g_autofree char *e = qvscsi_be_key(&clash, "error");

        qxs_wait_state(x, tool, k, 6);
        err = qxs_read(tool, e);
        g_assert_nonnull(strstr(err, "devid 2 is in use"));
    }
    h = query_host(x, 2);
    g_assert_cmpstr(qdict_get_str(h, "backend"), ==,
                    "/local/domain/0/backend/qvscsi/1/2");
    qobject_unref(h);

    /* Teardown as libxl does it */
    ts_write(tool, &f, "online", "0");
    ts_write(tool, &f, "state", "5");
    {
        g_autofree char *k = qvscsi_be_key(&f, "state");
        g_autofree char *fe = g_strdup_printf("%s/state", f.fe);

        qxs_wait_state(x, x->xs, k, 5);
        qxs_write(x->xs, fe, "6");
    }
    for (int i = 0; qxs_exists(tool, f.be) && i < 500; i++) {
        g_usleep(10 * 1000);
    }
    g_assert_false(qxs_exists(tool, f.be));
    qvscsi_release(&f);
    g_assert_false(host_exists(x, 0));
    g_assert_false(qom_exists(x, "/objects/xen-pvscsi0-iothread"));
    qvscsi_free(&f);
    qvscsi_free(&fh);
    qvscsi_free(&clash);
    qxen_stop(x);
}

/*
 * xl save / xl restore (and the destination of xl migrate): libxl stops the
 * device model, saves its device state with xen-save-devices-state, and
 * hands it to a new QEMU, started with the same arguments and -incoming,
 * for the restored domain, which has a new domid.  The stream must not name the
 * old domid (patches/0004): the load succeeds, and the SCSI devices' own
 * state comes across (the unit attentions cleared before the save stay
 * cleared; the CD's, never cleared, is still there).  Two writes are in
 * flight on the throttled LUN when the state is saved: the save's drain
 * runs them to completion and they are answered on the old ring; the new
 * QEMU's ring is a new one, which carries only its own answers, and the
 * data of every write is on the disks.
 */
static void test_save_restore_other_domid(void)
{
    g_autofree char *state = NULL;
    g_autofree char *incoming = NULL;
    g_autofree uint8_t *w1 = g_malloc(64 * KiB);
    g_autofree uint8_t *w2 = g_malloc(8 * KiB);
    g_autofree uint8_t *w3 = g_malloc(8 * KiB);
    g_autofree uint8_t *r = g_malloc(64 * KiB);
    uint8_t cdb[10] = { 0x2a };
    QVscsiCmd c2, c3;
    QVscsiFront f;
    QDict *rsp;
    QXen *x;
    int32_t rslt;

    state = qxen_state_file();
    for (size_t i = 0; i < 64 * KiB; i++) {
        w1[i] = i * 13 + 1;
    }
    for (size_t i = 0; i < 8 * KiB; i++) {
        w2[i] = i * 5 + 2;
        w3[i] = i * 3 + 7;
    }

    /* Domain 1: a write that completes, two left in flight */
    x = start_dom(DOMID, true, true, QXEN_MIGRATION_GLOBALS);
    connect_throttled(x, &f);
    rw10(&f, 2, 3, true, 40, w1, 64 * KiB, true, &rslt);
    g_assert_cmphex(rslt, ==, 0);
    stl_be_p(cdb + 2, 200);
    stw_be_p(cdb + 7, 8 * KiB / 512);
    qvscsi_cmd_init(&c2, 0, 0, 0, cdb, 10, VSCSIIF_DMA_TO_DEVICE, w2, 8 * KiB);
    qvscsi_cmd_start(&f, &c2);
    stl_be_p(cdb + 2, 300);
    qvscsi_cmd_init(&c3, 0, 0, 0, cdb, 10, VSCSIIF_DMA_TO_DEVICE, w3, 8 * KiB);
    qvscsi_cmd_start(&f, &c3);
    qvscsi_push(&f);
    g_assert_true(qxen_ring_wait_consumed(x, &f.ring, QXEN_TIMEOUT_MS));
    assert_no_response(x, &f);

    /* What libxl does: stop, then save the device state */
    rsp = qxen_save_devices_state(x, state);
    g_assert_true(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
    qvscsi_cmd_wait(&f, &c2);
    qvscsi_cmd_wait(&f, &c3);
    g_assert_cmphex(c2.rslt, ==, 0);
    g_assert_cmphex(c3.rslt, ==, 0);
    g_assert_cmpuint(f.nr_pending, ==, 0);
    check_image(1, 40 * 512, w1, 64 * KiB);
    check_image(0, 200 * 512, w2, 8 * KiB);
    check_image(0, 300 * 512, w3, 8 * KiB);
    qvscsi_free(&f);
    qxen_stop(x);

    /*
     * The restored domain, 2: a new QEMU on the same disks loads it as
     * libxl's restore gives it, on -incoming (the stream is the device
     * state alone), and runs.
     */
    incoming = g_strdup_printf("%s -incoming file:%s",
                               QXEN_MIGRATION_GLOBALS, state);
    x = start_dom(DOMID + 1, false, false, incoming);
    qxen_wait_incoming(x);

    qvscsi_init(&f, x, 0);
    qvscsi_connect(&f);
    /* The disks' state came across: no new power-on unit attention ... */
    g_assert_cmphex(qvscsi_tur(&f, 0, 0, 0), ==, 0);
    g_assert_cmphex(qvscsi_tur(&f, 0, 2, 3), ==, 0);
    /* ... while the CD's pending one did too */
    clear_ua(&f, 1, 1, 0);
    rw10(&f, 2, 3, false, 40, r, 64 * KiB, true, &rslt);
    g_assert_cmphex(rslt, ==, 0);
    g_assert_cmpmem(r, 64 * KiB, w1, 64 * KiB);
    rw10(&f, 0, 0, false, 200, r, 8 * KiB, false, &rslt);
    g_assert_cmphex(rslt, ==, 0);
    g_assert_cmpmem(r, 8 * KiB, w2, 8 * KiB);
    rw10(&f, 0, 0, false, 300, r, 8 * KiB, false, &rslt);
    g_assert_cmphex(rslt, ==, 0);
    g_assert_cmpmem(r, 8 * KiB, w3, 8 * KiB);
    /* and it writes */
    rw10(&f, 0, 0, true, 400, w1, 64 * KiB, true, &rslt);
    g_assert_cmphex(rslt, ==, 0);
    check_image(0, 400 * 512, w1, 64 * KiB);
    g_assert_cmpuint(f.nr_pending, ==, 0);
    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
    unlink(state);
}

/*
 * xl save of a device model that must not migrate (patches/0005): with a
 * migration blocker (here ivshmem's peer mode; the HBA's own, for a local
 * passthrough LUN, needs a host SCSI device and is tested end to end), the
 * device state save fails with the blocker's message and writes nothing;
 * libxl then resumes the domain: the guest's ring goes on working, and a
 * write in flight at the save is answered once.  migrate-passthrough can
 * be changed at run time.
 */
static void test_save_blocked(void)
{
    g_autofree char *state = NULL;
    g_autofree char *extra = g_strdup_printf(
        "%s -object memory-backend-ram,id=shm,size=1M,share=on"
        " -device ivshmem-plain,memdev=shm", QXEN_MIGRATION_GLOBALS);
    g_autofree uint8_t *w = g_malloc(8 * KiB);
    g_autofree uint8_t *r = g_malloc(8 * KiB);
    uint8_t cdb[10] = { 0x2a };
    struct stat st;
    QVscsiCmd c;
    QVscsiFront f;
    QDict *rsp;
    QXen *x;
    int32_t rslt;

    state = qxen_state_file();
    for (size_t i = 0; i < 8 * KiB; i++) {
        w[i] = i * 7 + 3;
    }
    x = start_dom(DOMID, true, true, extra);
    connect_throttled(x, &f);
    stl_be_p(cdb + 2, 500);
    stw_be_p(cdb + 7, 8 * KiB / 512);
    qvscsi_cmd_init(&c, 0, 0, 0, cdb, 10, VSCSIIF_DMA_TO_DEVICE, w, 8 * KiB);
    qvscsi_cmd_start(&f, &c);
    qvscsi_push(&f);
    g_assert_true(qxen_ring_wait_consumed(x, &f.ring, QXEN_TIMEOUT_MS));

    rsp = qxen_save_devices_state(x, state);
    g_assert_true(qdict_haskey(rsp, "error"));
    g_assert_nonnull(strstr(qdict_get_str(qdict_get_qdict(rsp, "error"),
                                          "desc"), "ivshmem"));
    qobject_unref(rsp);
    g_assert_cmpint(stat(state, &st), ==, 0);
    g_assert_cmpint(st.st_size, ==, 0);
    rsp = qtest_qmp(x->qts, "{'execute': 'cont'}");
    g_assert_true(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);

    qvscsi_cmd_wait(&f, &c);
    g_assert_cmphex(c.rslt, ==, 0);
    check_image(0, 500 * 512, w, 8 * KiB);
    rw10(&f, 2, 3, false, 0, r, 8 * KiB, false, &rslt);
    g_assert_cmphex(rslt, ==, 0);
    g_assert_cmpuint(f.nr_pending, ==, 0);

    /* No local passthrough LUN here: the property changes, nothing else */
    g_assert_false(qtest_qom_get_bool(x->qts, "/machine/peripheral/vscsi0",
                                      "migrate-passthrough"));
    rsp = qtest_qmp(x->qts, "{'execute': 'qom-set', 'arguments': {"
                    "'path': 'vscsi0', 'property': 'migrate-passthrough',"
                    "'value': true}}");
    g_assert_true(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
    g_assert_true(qtest_qom_get_bool(x->qts, "/machine/peripheral/vscsi0",
                                     "migrate-passthrough"));
    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
    unlink(state);
}

/*
 * Wait for the watch @token to fire on @path (a write, even of the same
 * value); false after a timeout
 */
static bool wait_watch_event(struct xs_handle *h, const char *path,
                             const char *token, int timeout_ms)
{
    gint64 end = g_get_monotonic_time() + timeout_ms * 1000;

    while (g_get_monotonic_time() < end) {
        GPollFD pfd = { .fd = xs_fileno(h), .events = G_IO_IN };
        char **ev;

        g_poll(&pfd, 1, 50);
        while ((ev = xs_check_watch(h))) {
            bool hit = !strcmp(ev[XS_WATCH_PATH], path) &&
                       !strcmp(ev[XS_WATCH_TOKEN], token);

            free(ev);
            if (hit) {
                return true;
            }
        }
    }
    return false;
}

/*
 * xl save -c (a checkpoint), or a migration that fails: libxl asks the
 * guest to suspend (control/shutdown "suspend"), saves it, then resumes
 * the domain here.  Linux's xen-scsifront paused its host on suspend and
 * unpauses only on seeing the backend enter Connected; the HBA writes
 * Connected again when the suspend is asked for (the guest sees it after
 * its suspend; the guest's acknowledgement too, since the backend may read
 * the node only after it), and goes on serving the same ring.
 */
static void test_checkpoint(void)
{
    g_autofree char *path = NULL;
    g_autofree char *ctl = g_strdup_printf("/local/domain/%u/control/shutdown",
                                           DOMID);
    g_autofree uint8_t *w = g_malloc(8 * KiB);
    g_autofree uint8_t *r = g_malloc(8 * KiB);
    struct xs_handle *h;
    QVscsiFront f;
    QXen *x;
    int32_t rslt;

    for (size_t i = 0; i < 8 * KiB; i++) {
        w[i] = i * 11 + 5;
    }
    x = start_dom(DOMID, true, false, "");
    qvscsi_init(&f, x, 0);
    qvscsi_connect(&f);
    clear_ua(&f, 0, 0, 0);
    path = g_strdup_printf("%s/state", f.be);
    h = x->xs;
    g_assert_true(xs_watch(h, path, "ckpt"));
    /* the watch fires once when it is set */
    g_assert_true(wait_watch_event(h, path, "ckpt", QXEN_TIMEOUT_MS));

    /* libxl asks for the suspend ... */
    qxs_write(x->xs_priv, ctl, "suspend");
    g_assert_true(wait_watch_event(h, path, "ckpt", QXEN_TIMEOUT_MS));
    g_assert_cmpint(qxs_read_int(h, path, -1), ==, 4);
    /* ... and the guest acknowledges: the backend may see only this one */
    qxs_write(x->xs_priv, ctl, "");
    g_assert_true(wait_watch_event(h, path, "ckpt", QXEN_TIMEOUT_MS));
    g_assert_cmpint(qxs_read_int(h, path, -1), ==, 4);

    /* The same ring goes on */
    rw10(&f, 0, 0, true, 600, w, 8 * KiB, false, &rslt);
    g_assert_cmphex(rslt, ==, 0);
    rw10(&f, 0, 0, false, 600, r, 8 * KiB, false, &rslt);
    g_assert_cmphex(rslt, ==, 0);
    g_assert_cmpmem(r, 8 * KiB, w, 8 * KiB);
    check_image(0, 600 * 512, w, 8 * KiB);
    xs_unwatch(h, path, "ckpt");
    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/*
 * While a READ waits on the throttled LUN, its grants are in use (mapped)
 * from grant-map-threshold up, and untouched below it (copied at the end);
 * at the response none is (the frontend checks it) and the data is there.
 */
static void do_test_inflight_grants(bool map)
{
    QXen *x = start_with(true, map ?
                         " -global xen-pvscsi.grant-map-threshold=4k" : "");
    QVscsiFront f;
    QVscsiCmd c;
    uint8_t buf[8192];

    connect_throttled(x, &f);
    read_start(&f, &c, 0, 0, 40, buf, sizeof(buf));
    qvscsi_push(&f);
    g_assert_true(qxen_ring_wait_consumed(x, &f.ring, QXEN_TIMEOUT_MS));
    assert_no_response(x, &f);
    g_assert_cmpint(qxen_grant_in_use(x, c.grefs[0]), ==, map);
    g_assert_cmpint(qxen_grant_in_use(x, c.grefs[1]), ==, map);
    run_clock_until_idle(x, &f);
    check_read(&c, 0, 40);
    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

static void test_map_inflight(void)
{
    do_test_inflight_grants(true);
}

static void test_copy_inflight(void)
{
    do_test_inflight_grants(false);
}

static const QXenTestCase cases[] = {
    { "connect", test_connect },
    { "inquiry-capacity", test_inquiry_capacity },
    { "capacity16", test_capacity16 },
    { "report-luns", test_report_luns },
    { "cd-no-medium", test_cd_no_medium },
    { "rw/6-10-16", test_rw_6_10_16 },
    { "rw/4k", test_rw_small },
    { "migrate/save-restore-other-domid", test_save_restore_other_domid },
    { "migrate/save-blocked", test_save_blocked },
    { "migrate/checkpoint", test_checkpoint },
    { "rw/104k-direct", test_rw_direct_max },
    { "rw/256k-sg-grant", test_rw_sg_grant },
    { "rw/512k-sg-grant", test_rw_sg_grant_512k },
    { "rw/256k-io-uring", test_rw_io_uring },
    { "rw/512k-map", test_rw_map_512k },
    { "rw/8k-map", test_rw_map_8k },
    { "rw/map-inflight", test_map_inflight },
    { "rw/copy-inflight", test_copy_inflight },
    { "hostile/map-bad-grant", test_map_bad_grant },
    { "cdrom-read-write-protect", test_cdrom_write_protect },
    { "bad-requests", test_bad_requests },
    { "direction-unspecified", test_direction_unspecified },
    { "tmf-idle", test_tmf_idle },
    { "ring-overflow", test_ring_overflow },
    { "ring-full", test_ring_full },
    { "abort-inflight", test_abort_inflight },
    { "reset-inflight", test_reset_inflight },
    { "close-inflight", test_close_inflight },
    { "reconnect", test_reconnect },
    { "rebind", test_rebind },
    { "hba-unplug", test_hba_unplug },
    { "drain", test_drain },
    { "hotplug/idle", test_hotplug_idle },
    { "hotplug/remove-inflight", test_hotplug_remove_inflight },
    { "hotplug/before-connect", test_hotplug_before_connect },
    { "hotplug/after-resume", test_hotplug_after_resume },
    { "hotplug/several", test_hotplug_several },
    { "hotplug/no-ack", test_hotplug_no_ack },
    { "hotplug/unanswered", test_hotplug_unanswered },
    { "query", test_query },
    { "request-timeout", test_request_timeout },
    { "hostile/ring-backwards", test_ring_backwards },
    { "hostile/watch-many", test_watch_many },
    { "hostile/reconnect-abandoned", test_reconnect_abandoned },
    { "hostile/timeout-abandoned", test_timeout_abandoned },
    { "hostile/abort-wrong-lun", test_abort_wrong_lun },
    { "toolstack/create", test_toolstack_create },
    { "toolstack/hotplug", test_toolstack_hotplug },
};

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    qxen_add_tests_twice("xen-pvscsi", cases, ARRAY_SIZE(cases), &use_iothread);
    qxen_add_test("/xen-pvscsi/toolstack/vscsi", test_toolstack_vscsi);
    ret = g_test_run();
    for (int n = 0; n < 2; n++) {
        if (img[n]) {
            unlink(img[n]);
            g_free(img[n]);
        }
    }
    return ret;
}
