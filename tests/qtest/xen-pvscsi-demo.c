/*
 * xen-pvscsi demo: what a Xen guest's xen-scsifront sees
 *
 * Starts QEMU with xen-pvscsi under the test-only Xen emulation
 * (xen-qtest-hv) with a scsi-hd on a qcow2 image, a scsi-hd on a raw image
 * and a scsi-cd, plays the guest's frontend through xenstore and the
 * vscsiif ring, and prints what the guest would find: the LUNs offered in
 * xenstore, REPORT LUNS per target, INQUIRY and capacity per LUN.  Then it
 * writes to the qcow2 disk, reads the data back, and checks it in the image
 * after QEMU has exited.  Any failure aborts with a message; exit status 0
 * means everything worked.
 *
 * Environment: QTEST_QEMU_BINARY (the emulator), QEMU_IMG (qemu-img).
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qemu/bswap.h"
#include "libqtest.h"
#include "libqos/xen-vscsifront.h"

#define DOMID           1
#define DISK_SIZE       (64 * MiB)
#define RAW_SIZE        (8 * MiB)
#define CD_SIZE         (4 * MiB)
#define IO_LBA          4096
#define IO_LEN          (256 * KiB)

static const char *const states[] = {
    "Unknown", "Initialising", "InitWait", "Initialised", "Connected",
    "Closing", "Closed", "Reconfiguring", "Reconfigured",
};

static const char *state_name(int s)
{
    return s >= 0 && s < ARRAY_SIZE(states) ? states[s] : "?";
}

static void run(const char *const argv[])
{
    g_autoptr(GError) err = NULL;
    g_autofree char *out = NULL;
    int status;

    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL,
                      NULL, NULL, &out, NULL, &status, &err) ||
        !g_spawn_check_exit_status(status, &err)) {
        g_error("%s failed: %s", argv[0], err ? err->message : "?");
    }
}

static void cmd(QVscsiFront *f, QVscsiCmd *c, int channel, int id, int lun,
                const uint8_t *cdb, int cdb_len, int dir, void *buf,
                size_t len)
{
    qvscsi_cmd_init(c, channel, id, lun, cdb, cdb_len, dir, buf, len);
    qvscsi_cmd(f, c);
}

/* TEST UNIT READY until the LUN's power-on unit attention is reported. */
static void tur(QVscsiFront *f, int channel, int id, int lun)
{
    static const uint8_t cdb[6] = { 0 };
    QVscsiCmd c;

    for (int i = 0; i < 3; i++) {
        cmd(f, &c, channel, id, lun, cdb, 6, VSCSIIF_DMA_NONE, NULL, 0);
        if (c.rslt == 0) {
            return;
        }
    }
    g_error("LUN %d:%d:%d does not become ready (rslt 0x%x)", channel, id,
            lun, c.rslt);
}

static void report_luns(QVscsiFront *f, int channel, int id)
{
    uint8_t cdb[12] = { 0xa0 };
    uint8_t buf[256];
    uint32_t n;
    QVscsiCmd c;

    stl_be_p(cdb + 6, sizeof(buf));
    cmd(f, &c, channel, id, 0, cdb, 12, VSCSIIF_DMA_FROM_DEVICE, buf,
        sizeof(buf));
    g_assert_cmphex(c.rslt, ==, 0);
    n = ldl_be_p(buf) / 8;
    printf("  REPORT LUNS to %u:%d:%d:0 -> %u LUN%s:", f->devid, channel, id,
           n, n == 1 ? "" : "s");
    for (uint32_t i = 0; i < n && 8 + 8 * i < sizeof(buf); i++) {
        printf(" %u", lduw_be_p(buf + 8 + 8 * i) & 0x3fff);
    }
    printf("\n");
}

static uint64_t inquiry_capacity(QVscsiFront *f, int channel, int id,
                                 int lun)
{
    static const char *const types[] = {
        [0x00] = "disk", [0x01] = "tape", [0x05] = "cd/dvd",
        [0x08] = "changer",
    };
    uint8_t inq[6] = { 0x12, 0, 0, 0, 96, 0 };
    uint8_t cap[10] = { 0x25 };
    uint8_t buf[96];
    uint8_t type;
    uint64_t blocks;
    uint32_t bs;
    QVscsiCmd c;

    cmd(f, &c, channel, id, lun, inq, 6, VSCSIIF_DMA_FROM_DEVICE, buf, 96);
    g_assert_cmphex(c.rslt, ==, 0);
    type = buf[0] & 0x1f;
    tur(f, channel, id, lun);
    cmd(f, &c, channel, id, lun, cap, 10, VSCSIIF_DMA_FROM_DEVICE, buf, 8);
    g_assert_cmphex(c.rslt, ==, 0);
    blocks = (uint64_t)ldl_be_p(buf) + 1;
    bs = ldl_be_p(buf + 4);
    printf("  %u:%d:%d:%d  %-7s  vendor '%.8s'  product '%.16s'  rev '%.4s'"
           "  %" PRIu64 " blocks of %u bytes (%" PRIu64 " MiB)\n",
           f->devid, channel, id, lun,
           type < ARRAY_SIZE(types) && types[type] ? types[type] : "other",
           (char *)buf + 8, (char *)buf + 16, (char *)buf + 32,
           blocks, bs, blocks * bs / MiB);
    return blocks * bs;
}

int main(int argc, char **argv)
{
    const char *qemu_img = getenv("QEMU_IMG") ?: "qemu-img";
    g_autofree char *dir = g_dir_make_tmp("xen-pvscsi-demo-XXXXXX", NULL);
    g_autofree char *qcow2 = g_build_filename(dir, "disk.qcow2", NULL);
    g_autofree char *raw = g_build_filename(dir, "data.raw", NULL);
    g_autofree char *iso = g_build_filename(dir, "cd.iso", NULL);
    g_autofree char *check = g_build_filename(dir, "check.raw", NULL);
    g_autofree char *size = g_strdup_printf("%llu", (unsigned long long)
                                            DISK_SIZE);
    g_autofree uint8_t *cd_data = g_malloc(CD_SIZE);
    g_autofree uint8_t *wbuf = g_malloc(IO_LEN);
    g_autofree uint8_t *rbuf = g_malloc0(IO_LEN);
    g_autofree char *contents = NULL;
    g_autofree char *be_state = NULL;
    unsigned int ndev = 0;
    g_auto(GStrv) devs = NULL;
    gsize len;
    QVscsiFront f;
    QVscsiCmd c;
    uint8_t cdb[10];
    QXen *x;
    const char *const create[] = { qemu_img, "create", "-q", "-f", "qcow2",
                                   qcow2, size, NULL };
    const char *const convert[] = { qemu_img, "convert", "-f", "qcow2", "-O",
                                    "raw", qcow2, check, NULL };

    g_assert_nonnull(dir);
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* Host side: a qcow2 disk, a raw disk, a CD image */
    run(create);
    g_assert_true(g_file_set_contents(raw, "", 0, NULL));
    g_assert_cmpint(truncate(raw, RAW_SIZE), ==, 0);
    for (size_t i = 0; i < CD_SIZE; i++) {
        cd_data[i] = i / 2048 + i % 7;
    }
    g_assert_true(g_file_set_contents(iso, (char *)cd_data, CD_SIZE, NULL));

    printf("Starting QEMU with xen-pvscsi under the emulated Xen "
           "(guest domain %d):\n"
           "  -device xen-pvscsi,id=vscsi0,devid=0\n"
           "  -device scsi-hd,bus=vscsi0.0,scsi-id=0,lun=0,drive=disk0   "
           "(qcow2, 64 MiB)\n"
           "  -device scsi-hd,bus=vscsi0.0,scsi-id=0,lun=1,drive=disk1   "
           "(raw, 8 MiB)\n"
           "  -device scsi-cd,bus=vscsi0.0,scsi-id=1,lun=0,drive=cd0     "
           "(read-only image, 4 MiB)\n", DOMID);
    x = qxen_start(DOMID,
        "-blockdev driver=file,node-name=disk0-file,filename=%s "
        "-blockdev driver=qcow2,node-name=disk0,file=disk0-file "
        "-blockdev driver=file,node-name=disk1-file,filename=%s "
        "-blockdev driver=raw,node-name=disk1,file=disk1-file "
        "-blockdev driver=file,node-name=cd0-file,filename=%s,read-only=on "
        "-blockdev driver=raw,node-name=cd0,file=cd0-file,read-only=on "
        "-device xen-pvscsi,id=vscsi0,devid=0 "
        "-device scsi-hd,bus=vscsi0.0,scsi-id=0,lun=0,drive=disk0 "
        "-device scsi-hd,bus=vscsi0.0,scsi-id=0,lun=1,drive=disk1 "
        "-device scsi-cd,bus=vscsi0.0,scsi-id=1,lun=0,drive=cd0",
        qcow2, raw, iso);

    /* The guest's view: xenstore, then the ring */
    qvscsi_init(&f, x, 0);
    be_state = qvscsi_be_key(&f, "state");
    qxs_wait_state(x, x->xs, be_state, 2);
    {
        g_autofree char *sg_key = qvscsi_be_key(&f, "feature-sg-grant");
        g_autofree char *sg = qxs_read(x->xs, sg_key);
        g_autofree char *devs_key = qvscsi_be_key(&f, "vscsi-devs");

        printf("\nBackend %s\n  state %d (InitWait), feature-sg-grant %s\n",
               f.be, qxs_read_int(x->xs, be_state, -1), sg ? sg : "-");
        devs = qxs_directory(x->xs, devs_key, &ndev);
        g_assert_cmpuint(ndev, ==, 3);
    }

    qvscsi_connect(&f);
    printf("\nFrontend connected (ring-ref %u, event channel %u); "
           "backend state %d (Connected)\n", f.ring.ref, f.port,
           qxs_read_int(x->xs, be_state, -1));
    printf("LUNs offered in xenstore:\n");
    for (unsigned int i = 0; i < ndev; i++) {
        g_autofree char *vk = qvscsi_be_key(&f, "vscsi-devs/%s/v-dev",
                                            devs[i]);
        g_autofree char *pk = qvscsi_be_key(&f, "vscsi-devs/%s/p-dev",
                                            devs[i]);
        g_autofree char *sk = qvscsi_be_key(&f, "vscsi-devs/%s/state",
                                            devs[i]);
        g_autofree char *v = qxs_read(x->xs, vk);
        g_autofree char *p = qxs_read(x->xs, pk);
        int st;

        g_assert_true(qxs_wait_value(x, x->xs, sk, "4", QXEN_TIMEOUT_MS));
        st = qxs_read_int(x->xs, sk, -1);
        printf("  %-6s v-dev %-8s p-dev %-16s state %d (%s)\n", devs[i], v,
               p, st, state_name(st));
    }

    printf("\nWhat the guest finds:\n");
    report_luns(&f, 0, 0);
    report_luns(&f, 0, 1);
    g_assert_cmpuint(inquiry_capacity(&f, 0, 0, 0), ==, DISK_SIZE);
    g_assert_cmpuint(inquiry_capacity(&f, 0, 0, 1), ==, RAW_SIZE);
    g_assert_cmpuint(inquiry_capacity(&f, 0, 1, 0), ==, CD_SIZE);

    /* A verified write and read on the qcow2 disk (indirect segments) */
    for (size_t i = 0; i < IO_LEN; i++) {
        wbuf[i] = g_random_int();
    }
    memset(cdb, 0, sizeof(cdb));
    cdb[0] = 0x2a;
    stl_be_p(cdb + 2, IO_LBA);
    stw_be_p(cdb + 7, IO_LEN / 512);
    cmd(&f, &c, 0, 0, 0, cdb, 10, VSCSIIF_DMA_TO_DEVICE, wbuf, IO_LEN);
    g_assert_cmphex(c.rslt, ==, 0);
    cdb[0] = 0x28;
    cmd(&f, &c, 0, 0, 0, cdb, 10, VSCSIIF_DMA_FROM_DEVICE, rbuf, IO_LEN);
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmpmem(rbuf, IO_LEN, wbuf, IO_LEN);
    printf("\nWRITE(10) then READ(10) of %u KiB at LBA %u of 0:0:0:0: "
           "data read back identical\n", (unsigned)(IO_LEN / KiB), IO_LBA);

    /* The CD: a read gives the image's bytes, a write is refused */
    cdb[0] = 0x28;
    stl_be_p(cdb + 2, 3);
    stw_be_p(cdb + 7, 2);
    cmd(&f, &c, 0, 1, 0, cdb, 10, VSCSIIF_DMA_FROM_DEVICE, rbuf, 4096);
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmpmem(rbuf, 4096, cd_data + 3 * 2048, 4096);
    cdb[0] = 0x2a;
    cmd(&f, &c, 0, 1, 0, cdb, 10, VSCSIIF_DMA_TO_DEVICE, rbuf, 4096);
    g_assert_cmphex(c.rslt, ==, 0x02);
    g_assert_cmphex(c.sense[2] & 0xf, ==, 0x07);
    printf("READ(10) of the CD matches its image; WRITE(10) to it: CHECK "
           "CONDITION, DATA PROTECT\n");

    qvscsi_close(&f);
    printf("\nFrontend closed; backend state %d (Closed)\n",
           qxs_read_int(x->xs, be_state, -1));
    qvscsi_free(&f);
    qxen_stop(x);

    /* The written data, read out of the qcow2 image by qemu-img */
    run(convert);
    g_assert_true(g_file_get_contents(check, &contents, &len, NULL));
    g_assert_cmpuint(len, ==, DISK_SIZE);
    g_assert_cmpmem(contents + (uint64_t)IO_LBA * 512, IO_LEN, wbuf, IO_LEN);
    printf("qemu-img convert of the qcow2 image: the written %u KiB are "
           "there\n\ndemo: all checks passed\n", (unsigned)(IO_LEN / KiB));

    unlink(qcow2);
    unlink(raw);
    unlink(iso);
    unlink(check);
    rmdir(dir);
    return 0;
}
