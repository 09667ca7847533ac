/*
 * qtest cases for xen-pvscsi against a real iSCSI target (tgtd)
 *
 * The program starts its own tgtd on 127.0.0.1 (tests/iscsi/tgt-target.sh)
 * with a file-backed disk, an SSC tape drive and an SMC medium changer,
 * and plays xen-scsifront against xen-pvscsi LUNs that reach them through
 * QEMU's libiscsi driver: scsi-block and scsi-hd for the disk,
 * scsi-generic for the tape and the changer.
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
#define DISK_MB         64
#define DISK_LUN        1
#define TAPE_LUN        2
#define CHANGER_LUN     3
#define SLOTS           4

#define RSLT_NO_CONNECT (XEN_VSCSIIF_RSLT_HOST_NO_CONNECT << 16)

typedef struct Target {
    char *dir;
    char *portal;
    char *iqn;
    char *disk;                 /* the disk's backing file */
    pid_t pid;                  /* tgtd, while we believe it runs */
} Target;

static Target tgt;
static const char *script;

static char *tgt_env(const char *key)
{
    g_autofree char *path = g_build_filename(tgt.dir, "env", NULL);
    g_autofree char *contents = NULL;
    g_auto(GStrv) lines = NULL;
    size_t len = strlen(key);

    g_assert_true(g_file_get_contents(path, &contents, NULL, NULL));
    lines = g_strsplit(contents, "\n", -1);
    for (int i = 0; lines[i]; i++) {
        if (!strncmp(lines[i], key, len) && lines[i][len] == '=') {
            return g_strdup(lines[i] + len + 1);
        }
    }
    g_assert_not_reached();
}

/* Run tgt-target.sh @op on our target; assert success. */
static void tgt_run(const char *op, const char *args)
{
    g_autofree char *cmd = g_strdup_printf("sh %s %s %s %s", script, op,
                                           tgt.dir, args ? args : "");
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autoptr(GError) gerr = NULL;
    int status;

    g_assert_true(g_spawn_command_line_sync(cmd, &out, &err, &status,
                                            &gerr));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        g_test_message("%s: %s%s", cmd, out, err);
        g_assert_not_reached();
    }
    if (!strcmp(op, "kill") || !strcmp(op, "stop")) {
        tgt.pid = 0;
        qxen_watchdog_watch_pid(0);
    } else if (!strcmp(op, "start") || !strcmp(op, "restart")) {
        g_autofree char *pid = tgt_env("TGT_PID");

        tgt.pid = atoi(pid);
        g_assert_cmpint(tgt.pid, >, 1);
        qxen_watchdog_watch_pid(tgt.pid);
    }
}

/*
 * tgtd is no child of ours (its script has exited): kill it when the
 * program aborts, so that a failed case does not leave it behind.
 */
static void tgt_abort_hook(void *opaque)
{
    if (tgt.pid > 0) {
        kill(tgt.pid, SIGKILL);
    }
}

/* For the case watchdog: what tgtd said last */
static void tgt_hang_hook(void)
{
    g_autofree char *path = NULL;
    g_autofree char *log = NULL;
    g_auto(GStrv) lines = NULL;
    int n;

    if (!tgt.dir) {
        return;
    }
    path = g_build_filename(tgt.dir, "tgtd.log", NULL);
    if (!g_file_get_contents(path, &log, NULL, NULL)) {
        return;
    }
    lines = g_strsplit(log, "\n", -1);
    n = g_strv_length(lines);
    for (int i = MAX(n - 12, 0); i < n; i++) {
        if (*lines[i]) {
            fprintf(stderr, "tgtd.log: %s\n", lines[i]);
        }
    }
}

static void tgt_start(void)
{
    g_autofree char *args = NULL;

    tgt.dir = g_dir_make_tmp("xen-pvscsi-tgt-XXXXXX", NULL);
    g_assert_nonnull(tgt.dir);
    tgt.disk = g_build_filename(tgt.dir, "disk.img", NULL);
    args = g_strdup_printf("disk:%s:%d tape:%s/tape0 changer:%s:%d",
                           tgt.disk, DISK_MB, tgt.dir, tgt.dir, SLOTS);
    tgt_run("start", args);
    tgt.portal = tgt_env("TGT_PORTAL");
    tgt.iqn = tgt_env("TGT_IQN");
}

static void tgt_stop(void)
{
    tgt_run("stop", NULL);
    /* The script and tgtd leave their files there; remove all of it. */
    {
        g_autofree char *cmd = g_strdup_printf("rm -rf %s", tgt.dir);

        g_assert_cmpint(system(cmd), ==, 0);
    }
}

/* -blockdev for LUN @lun of the target, with its own iSCSI session */
static char *iscsi_blockdev(const char *node, int lun)
{
    return g_strdup_printf("-blockdev driver=iscsi,node-name=%s,"
                           "transport=tcp,portal=%s,target=%s,lun=%d,"
                           "initiator-name=iqn.2026-11.org.qemu-xen-pvscsi:"
                           "%s ", node, tgt.portal, tgt.iqn, lun, node);
}

/* ---------------------------------------------------------------------- */
/* Commands                                                                */

static void cmd(QVscsiFront *f, QVscsiCmd *c, int channel, int id,
                const uint8_t *cdb, int cdb_len, int dir, void *data,
                size_t len)
{
    qvscsi_cmd_init(c, channel, id, 0, cdb, cdb_len, dir, data, len);
    qvscsi_cmd(f, c);
}

/* Sense key, ASC and ASCQ of a CHECK CONDITION in fixed format */
static void assert_sense(QVscsiCmd *c, int key, int asc, int ascq)
{
    g_assert_cmphex(c->rslt, ==, 0x02);
    g_assert_cmpuint(c->sense_len, >=, 14);
    g_assert_cmphex(c->sense[0] & 0x7f, ==, 0x70);
    g_assert_cmphex(c->sense[2] & 0xf, ==, key);
    g_assert_cmphex(c->sense[12], ==, asc);
    g_assert_cmphex(c->sense[13], ==, ascq);
}

/* TEST UNIT READY until the unit attentions of a new nexus are gone */
static void clear_ua(QVscsiFront *f, int channel, int id)
{
    static const uint8_t tur[6] = { 0x00 };
    QVscsiCmd c;

    for (int i = 0; i < 5; i++) {
        cmd(f, &c, channel, id, tur, 6, VSCSIIF_DMA_NONE, NULL, 0);
        if (c.rslt == 0) {
            return;
        }
        g_assert_cmphex(c.rslt, ==, 0x02);
        g_assert_cmphex(c.sense[2] & 0xf, ==, 0x6);
    }
    g_assert_not_reached();
}

static void inquiry(QVscsiFront *f, QVscsiCmd *c, int channel, int id,
                    int evpd_page, uint8_t *buf, size_t len)
{
    uint8_t cdb[6] = { 0x12 };

    if (evpd_page >= 0) {
        cdb[1] = 1;
        cdb[2] = evpd_page;
    }
    stw_be_p(cdb + 3, len);
    cmd(f, c, channel, id, cdb, 6, VSCSIIF_DMA_FROM_DEVICE, buf, len);
}

static void rw10(QVscsiFront *f, QVscsiCmd *c, int channel, int id,
                 bool write, uint32_t lba, void *buf, size_t len)
{
    uint8_t cdb[10] = { write ? 0x2a : 0x28 };

    stl_be_p(cdb + 2, lba);
    stw_be_p(cdb + 7, len / 512);
    cmd(f, c, channel, id, cdb, 10,
        write ? VSCSIIF_DMA_TO_DEVICE : VSCSIIF_DMA_FROM_DEVICE, buf, len);
}

static void fill(uint8_t *buf, size_t len, unsigned int seed)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = (i * 7 + seed + i / 4096) & 0xff;
    }
}

static void check_disk_file(uint64_t off, const void *data, size_t len)
{
    g_autofree char *contents = NULL;
    gsize size;

    g_assert_true(g_file_get_contents(tgt.disk, &contents, &size, NULL));
    g_assert_cmpuint(size, ==, DISK_MB * MiB);
    g_assert_cmpmem(contents + off, len, data, len);
}

/* ---------------------------------------------------------------------- */
/* Disk                                                                    */

/*
 * One iSCSI disk LUN three times: through scsi-block at 0:0:0 (the target's
 * own identity and sense), through scsi-hd at 0:1:0 (QEMU's emulation) and
 * through scsi-generic at 0:2:0.
 */
static void test_disk(void)
{
    g_autofree char *ib = iscsi_blockdev("ib", DISK_LUN);
    g_autofree char *ih = iscsi_blockdev("ih", DISK_LUN);
    g_autofree char *ig = iscsi_blockdev("ig", DISK_LUN);
    QXen *x = qxen_start(DOMID,
        "%s%s%s-device xen-pvscsi,id=vscsi0,devid=0,max-sg-grant=256 "
        "-device scsi-block,bus=vscsi0.0,scsi-id=0,drive=ib "
        "-device scsi-hd,bus=vscsi0.0,scsi-id=1,drive=ih "
        "-device scsi-generic,bus=vscsi0.0,scsi-id=2,drive=ig", ib, ih, ig);
    QVscsiFront f;
    QVscsiCmd c;
    uint8_t buf[256];
    g_autofree uint8_t *wbuf = g_malloc(1 * MiB);
    g_autofree uint8_t *rbuf = g_malloc(1 * MiB);
    static const size_t sizes[] = { 512, 4096, 100 * KiB, 256 * KiB,
                                    1 * MiB };

    qvscsi_init(&f, x, 0);
    qvscsi_connect(&f);
    clear_ua(&f, 0, 0);
    clear_ua(&f, 0, 1);
    clear_ua(&f, 0, 2);

    /* scsi-block: the target's INQUIRY data and VPD pages */
    inquiry(&f, &c, 0, 0, -1, buf, 96);
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmphex(buf[0], ==, 0x00);
    g_assert_cmpmem(buf + 8, 8, "IET     ", 8);
    g_assert_cmpmem(buf + 16, 16, "VIRTUAL-DISK    ", 16);
    inquiry(&f, &c, 0, 0, 0x80, buf, sizeof(buf));
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmphex(buf[1], ==, 0x80);
    g_assert_cmpuint(buf[3], >, 0);
    g_assert_nonnull(g_strstr_len((char *)buf + 4, buf[3], "beaf1"));
    inquiry(&f, &c, 0, 0, 0x83, buf, sizeof(buf));
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmphex(buf[1], ==, 0x83);
    {
        /* At least one NAA designator (type 3) */
        size_t end = 4 + lduw_be_p(buf + 2);
        bool naa = false;

        for (size_t i = 4; i + 4 <= end && i + 4 <= sizeof(buf);
             i += 4 + buf[i + 3]) {
            naa |= (buf[i + 1] & 0xf) == 3;
        }
        g_assert_true(naa);
    }
    /* scsi-hd: QEMU's */
    inquiry(&f, &c, 0, 1, -1, buf, 96);
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmpmem(buf + 8, 8, "QEMU    ", 8);

    /* READ CAPACITY (10), both ways */
    for (int id = 0; id < 2; id++) {
        static const uint8_t rc10[10] = { 0x25 };

        cmd(&f, &c, 0, id, rc10, 10, VSCSIIF_DMA_FROM_DEVICE, buf, 8);
        g_assert_cmphex(c.rslt, ==, 0);
        g_assert_cmpuint(ldl_be_p(buf), ==, DISK_MB * MiB / 512 - 1);
        g_assert_cmpuint(ldl_be_p(buf + 4), ==, 512);
    }

    /*
     * Writes of every size up to the sg-grant maximum, through each LUN,
     * read back through the next one and found in tgtd's backing file.
     */
    for (int i = 0; i < ARRAY_SIZE(sizes); i++) {
        for (int id = 0; id < 3; id++) {
            uint32_t lba = 4096 + i * 4096 + id * 1024;

            fill(wbuf, sizes[i], i * 3 + id);
            rw10(&f, &c, 0, id, true, lba, wbuf, sizes[i]);
            g_assert_cmphex(c.rslt, ==, 0);
            g_assert_cmpuint(c.residual, ==, 0);
            memset(rbuf, 0, sizes[i]);
            rw10(&f, &c, 0, (id + 1) % 3, false, lba, rbuf, sizes[i]);
            g_assert_cmphex(c.rslt, ==, 0);
            g_assert_cmpuint(c.residual, ==, 0);
            g_assert_cmpmem(rbuf, sizes[i], wbuf, sizes[i]);
            check_disk_file((uint64_t)lba * 512, wbuf, sizes[i]);
        }
    }

    /* SYNCHRONIZE CACHE (10) */
    for (int id = 0; id < 2; id++) {
        static const uint8_t sync10[10] = { 0x35 };

        cmd(&f, &c, 0, id, sync10, 10, VSCSIIF_DMA_NONE, NULL, 0);
        g_assert_cmphex(c.rslt, ==, 0);
    }

    /*
     * A vendor-specific opcode QEMU cannot size: passed through with the
     * guest's length, and the target's refusal comes back.
     */
    {
        uint8_t cdb[10] = { 0xc5 };

        stw_be_p(cdb + 7, 512);
        cmd(&f, &c, 0, 0, cdb, 10, VSCSIIF_DMA_FROM_DEVICE, buf, 128);
        assert_sense(&c, 0x5, 0x20, 0x00);
    }

    /* The target's sense for a failing command, unchanged */
    inquiry(&f, &c, 0, 0, 0xc7, buf, sizeof(buf));
    assert_sense(&c, 0x5, 0x24, 0x00);

    /*
     * Direction 0 (GPLPV's unspecified direction) through scsi-block: the
     * CDB's direction, a WRITE lands in the target's file and a READ
     * brings it back; a vendor opcode cannot be sized, so it is refused.
     */
    for (int id = 0; id < 2; id++) {
        uint8_t cdb[10] = { 0x2a };
        uint32_t lba = 8192 + id * 16;

        fill(wbuf, 4096, 0x40 + id);
        stl_be_p(cdb + 2, lba);
        stw_be_p(cdb + 7, 8);
        cmd(&f, &c, 0, id, cdb, 10, VSCSIIF_DMA_BIDIRECTIONAL, wbuf, 4096);
        g_assert_cmphex(c.rslt, ==, 0);
        check_disk_file((uint64_t)lba * 512, wbuf, 4096);
        cdb[0] = 0x28;
        memset(rbuf, 0, 4096);
        cmd(&f, &c, 0, id, cdb, 10, VSCSIIF_DMA_BIDIRECTIONAL, rbuf, 4096);
        g_assert_cmphex(c.rslt, ==, 0);
        g_assert_cmpmem(rbuf, 4096, wbuf, 4096);
    }
    {
        uint8_t cdb[10] = { 0xc5 };

        cmd(&f, &c, 0, 0, cdb, 10, VSCSIIF_DMA_BIDIRECTIONAL, buf, 128);
        g_assert_cmphex(c.rslt, ==, XEN_VSCSIIF_RSLT_HOST_ERROR << 16);
    }

    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/* ---------------------------------------------------------------------- */
/* Tape drive and medium changer                                           */

#define SMC_TRANSPORT   1
#define SMC_SLOT0       1000
#define SMC_DRIVE       500

static int32_t tur(QVscsiFront *f, QVscsiCmd *c, int channel, int id)
{
    static const uint8_t cdb[6] = { 0x00 };

    cmd(f, c, channel, id, cdb, 6, VSCSIIF_DMA_NONE, NULL, 0);
    return c->rslt;
}

/* TEST UNIT READY past the session's unit attention: NOT READY or GOOD */
static void tur_settled(QVscsiFront *f, QVscsiCmd *c, int channel, int id)
{
    for (int i = 0; i < 5; i++) {
        if (tur(f, c, channel, id) != 0x02 || (c->sense[2] & 0xf) != 0x6) {
            return;
        }
    }
    g_assert_not_reached();
}

static void move_medium(QVscsiFront *f, int id, int from, int to)
{
    uint8_t cdb[12] = { 0xa5 };
    QVscsiCmd c;

    stw_be_p(cdb + 2, SMC_TRANSPORT);
    stw_be_p(cdb + 4, from);
    stw_be_p(cdb + 6, to);
    cmd(f, &c, 0, id, cdb, 12, VSCSIIF_DMA_NONE, NULL, 0);
    g_assert_cmphex(c.rslt, ==, 0);
}

/*
 * READ ELEMENT STATUS of one element type (tgtd mishandles "all types")
 * with volume tags; checks the element at @addr: full or not, and if full,
 * its volume tag and (for the drive) where it came from.
 */
static void check_element(QVscsiFront *f, int id, int type, int addr,
                          int nr, bool full, const char *tag, int source)
{
    uint8_t cdb[12] = { 0xb8, 0x10 | type };
    uint8_t buf[1024];
    QVscsiCmd c;
    const uint8_t *d;
    size_t len;

    memset(buf, 0, sizeof(buf));
    stw_be_p(cdb + 2, addr);
    stw_be_p(cdb + 4, nr);
    cdb[7] = 0;
    cdb[8] = sizeof(buf) >> 8;
    cdb[9] = sizeof(buf) & 0xff;
    cmd(f, &c, 0, id, cdb, 12, VSCSIIF_DMA_FROM_DEVICE, buf, sizeof(buf));
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmpuint(lduw_be_p(buf + 2), ==, nr);
    g_assert_cmphex(buf[8], ==, type);          /* element type code */
    g_assert_cmphex(buf[9] & 0x80, ==, 0x80);   /* PVolTag */
    len = lduw_be_p(buf + 10);
    g_assert_cmpuint(len, ==, 52);
    d = buf + 16;
    g_assert_cmpuint(lduw_be_p(d), ==, addr);
    g_assert_cmphex(d[2] & 0x01, ==, full);
    if (full) {
        g_assert_cmpmem(d + 12, strlen(tag), tag, strlen(tag));
        if (source >= 0) {
            g_assert_cmphex(d[9] & 0x80, ==, 0x80);     /* SValid */
            g_assert_cmpuint(lduw_be_p(d + 10), ==, source);
        }
    }
}

static void tape_simple(QVscsiFront *f, int id, uint8_t op, uint8_t b1,
                        uint32_t count)
{
    uint8_t cdb[6] = { op, b1, count >> 16, count >> 8, count };
    QVscsiCmd c;

    cmd(f, &c, 0, id, cdb, 6, VSCSIIF_DMA_NONE, NULL, 0);
    g_assert_cmphex(c.rslt, ==, 0);
}

/* Variable-length READ(6)/WRITE(6): one block of @len bytes */
static void tape_rw(QVscsiFront *f, QVscsiCmd *c, int id, bool write,
                    void *buf, uint32_t len)
{
    uint8_t cdb[6] = { write ? 0x0a : 0x08, 0, len >> 16, len >> 8, len };

    cmd(f, c, 0, id, cdb, 6,
        write ? VSCSIIF_DMA_TO_DEVICE : VSCSIIF_DMA_FROM_DEVICE, buf, len);
}

/*
 * HBA 0: the disk (scsi-block) at 0:0:0, the tape drive at 0:1:0 and the
 * changer at 0:2:0 (scsi-generic); HBA 1: the disk again (scsi-hd).  The
 * changer loads a cartridge into the drive; the guest writes variable-size
 * blocks and filemarks, reads them back with the target's sense for
 * filemarks, short blocks and end of data, spaces over a filemark, and the
 * changer swaps cartridges.
 */
static void test_tape_changer(void)
{
    g_autofree char *ib = iscsi_blockdev("ib", DISK_LUN);
    g_autofree char *ih = iscsi_blockdev("ih", DISK_LUN);
    g_autofree char *it = iscsi_blockdev("it", TAPE_LUN);
    g_autofree char *ic = iscsi_blockdev("ic", CHANGER_LUN);
    QXen *x = qxen_start(DOMID,
        "%s%s%s%s"
        "-device xen-pvscsi,id=vscsi0,devid=0 "
        "-device scsi-block,bus=vscsi0.0,scsi-id=0,drive=ib "
        "-device scsi-generic,bus=vscsi0.0,scsi-id=1,drive=it "
        "-device scsi-generic,bus=vscsi0.0,scsi-id=2,drive=ic "
        "-device xen-pvscsi,id=vscsi1,devid=1 "
        "-device scsi-hd,bus=vscsi1.0,scsi-id=0,drive=ih",
        ib, ih, it, ic);
    static const uint32_t sizes[] = { 512, 1000, 4096, 65536, 262144 };
    QVscsiFront f, g;
    QVscsiCmd c;
    uint8_t buf[96];
    g_autofree uint8_t *wbuf = g_malloc(262144);
    g_autofree uint8_t *rbuf = g_malloc(262144 + 4096);

    qvscsi_init(&f, x, 0);
    qvscsi_connect(&f);
    qvscsi_init(&g, x, 1);
    qvscsi_connect(&g);

    /* Two hosts, one disk: written through one, read through the other */
    clear_ua(&f, 0, 0);
    clear_ua(&g, 0, 0);
    fill(wbuf, 65536, 77);
    rw10(&g, &c, 0, 0, true, 30000, wbuf, 65536);
    g_assert_cmphex(c.rslt, ==, 0);
    rw10(&f, &c, 0, 0, false, 30000, rbuf, 65536);
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmpmem(rbuf, 65536, wbuf, 65536);

    /* The changer and the (empty) drive as the target describes them */
    inquiry(&f, &c, 0, 2, -1, buf, 96);
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmphex(buf[0], ==, 0x08);
    g_assert_cmpmem(buf + 16, 16, "VIRTUAL-CHANGER ", 16);
    inquiry(&f, &c, 0, 1, -1, buf, 96);
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmphex(buf[0], ==, 0x01);
    g_assert_cmpmem(buf + 16, 16, "VIRTUAL-TAPE    ", 16);
    tur_settled(&f, &c, 0, 1);
    assert_sense(&c, 0x2, 0x3a, 0x00);
    tur_settled(&f, &c, 0, 2);
    for (int i = 0; i < SLOTS; i++) {
        g_autofree char *tag = g_strdup_printf("PVS%03dL5", i + 1);

        check_element(&f, 2, 2, SMC_SLOT0 + i, SLOTS - i, true, tag, -1);
    }
    check_element(&f, 2, 4, SMC_DRIVE, 1, false, NULL, -1);

    /* Slot -> drive: the drive has the medium */
    move_medium(&f, 2, SMC_SLOT0, SMC_DRIVE);
    check_element(&f, 2, 4, SMC_DRIVE, 1, true, "PVS001L5", SMC_SLOT0);
    check_element(&f, 2, 2, SMC_SLOT0, SLOTS, false, NULL, -1);
    g_assert_cmphex(tur(&f, &c, 0, 1), ==, 0);

    /* READ BLOCK LIMITS: 4 bytes to 1 MiB */
    {
        static const uint8_t rbl[6] = { 0x05 };

        cmd(&f, &c, 0, 1, rbl, 6, VSCSIIF_DMA_FROM_DEVICE, buf, 6);
        g_assert_cmphex(c.rslt, ==, 0);
        g_assert_cmpuint(ldl_be_p(buf) & 0xffffff, ==, 1 * MiB);
        g_assert_cmpuint(lduw_be_p(buf + 4), ==, 4);
    }
    /* MODE SELECT a fixed block size, then variable (0) again */
    for (int i = 0; i < 2; i++) {
        uint32_t blksz = i ? 0 : 512;
        uint8_t sel[12] = { 0, 0, 0x10, 8 };
        uint8_t sel_cdb[6] = { 0x15, 0x10, 0, 0, sizeof(sel), 0 };
        static const uint8_t sense_cdb[6] = { 0x1a, 0, 0, 0, 12, 0 };

        sel[9] = blksz >> 16;
        sel[10] = blksz >> 8;
        sel[11] = blksz;
        cmd(&f, &c, 0, 1, sel_cdb, 6, VSCSIIF_DMA_TO_DEVICE, sel,
            sizeof(sel));
        g_assert_cmphex(c.rslt, ==, 0);
        cmd(&f, &c, 0, 1, sense_cdb, 6, VSCSIIF_DMA_FROM_DEVICE, buf, 12);
        g_assert_cmphex(c.rslt, ==, 0);
        g_assert_cmpuint(buf[3], ==, 8);
        g_assert_cmpuint(ldl_be_p(buf + 8) & 0xffffff, ==, blksz);
    }

    /* Blocks of every size, one per command, a filemark, one more, FM */
    tape_simple(&f, 1, 0x01, 0, 0);                     /* REWIND */
    for (int i = 0; i < ARRAY_SIZE(sizes); i++) {
        fill(wbuf, sizes[i], i);
        tape_rw(&f, &c, 1, true, wbuf, sizes[i]);
        g_assert_cmphex(c.rslt, ==, 0);
    }
    tape_simple(&f, 1, 0x10, 0, 1);                     /* WRITE FILEMARKS */
    fill(wbuf, 2048, 99);
    tape_rw(&f, &c, 1, true, wbuf, 2048);
    g_assert_cmphex(c.rslt, ==, 0);
    tape_simple(&f, 1, 0x10, 0, 1);
    {
        /* READ POSITION (short form) is answered (tgtd does not track it) */
        static const uint8_t rp[10] = { 0x34 };

        cmd(&f, &c, 0, 1, rp, 10, VSCSIIF_DMA_FROM_DEVICE, buf, 20);
        g_assert_cmphex(c.rslt, ==, 0);
    }

    /* Read back: every block whole, with its own length */
    tape_simple(&f, 1, 0x01, 0, 0);
    for (int i = 0; i < ARRAY_SIZE(sizes); i++) {
        fill(wbuf, sizes[i], i);
        tape_rw(&f, &c, 1, false, rbuf, sizes[i]);
        g_assert_cmphex(c.rslt, ==, 0);
        g_assert_cmpmem(rbuf, sizes[i], wbuf, sizes[i]);
    }
    /* The filemark: FILEMARK bit, 00/01, information = requested length */
    tape_rw(&f, &c, 1, false, rbuf, 4096);
    assert_sense(&c, 0x0, 0x00, 0x01);
    g_assert_cmphex(c.sense[2] & 0x80, ==, 0x80);
    g_assert_cmpuint(ldl_be_p(c.sense + 3), ==, 4096);
    /* A 2048-byte block into 4096 bytes: ILI, information = 2048 */
    tape_rw(&f, &c, 1, false, rbuf, 4096);
    assert_sense(&c, 0x0, 0x00, 0x00);
    g_assert_cmphex(c.sense[0] & 0x80, ==, 0x80);       /* VALID */
    g_assert_cmphex(c.sense[2] & 0x20, ==, 0x20);       /* ILI */
    g_assert_cmpuint(ldl_be_p(c.sense + 3), ==, 4096 - 2048);
    fill(wbuf, 2048, 99);
    g_assert_cmpmem(rbuf, 2048, wbuf, 2048);
    g_test_message("residual of the short read: %u", c.residual);
    /* Second filemark, then end of data: BLANK CHECK with EOM */
    tape_rw(&f, &c, 1, false, rbuf, 4096);
    assert_sense(&c, 0x0, 0x00, 0x01);
    tape_rw(&f, &c, 1, false, rbuf, 4096);
    g_assert_cmphex(c.rslt, ==, 0x02);
    g_assert_cmphex(c.sense[2] & 0xf, ==, 0x8);
    g_assert_cmphex(c.sense[2] & 0x40, ==, 0x40);

    /* SPACE one filemark from the start: at the 2048-byte block */
    tape_simple(&f, 1, 0x01, 0, 0);
    tape_simple(&f, 1, 0x11, 0x01, 1);
    tape_rw(&f, &c, 1, false, rbuf, 2048);
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmpmem(rbuf, 2048, wbuf, 2048);
    /* SPACE to end of data, LOAD/UNLOAD (accepted) */
    tape_simple(&f, 1, 0x11, 0x03, 0);
    tape_simple(&f, 1, 0x1b, 0, 0);
    {
        uint8_t load[6] = { 0x1b, 0, 0, 0, 0x01, 0 };

        cmd(&f, &c, 0, 1, load, 6, VSCSIIF_DMA_NONE, NULL, 0);
        g_assert_cmphex(c.rslt, ==, 0);
    }

    /* Drive -> slot: no medium; another cartridge: blank */
    move_medium(&f, 2, SMC_DRIVE, SMC_SLOT0);
    g_assert_cmphex(tur(&f, &c, 0, 1), ==, 0x02);
    assert_sense(&c, 0x2, 0x3a, 0x00);
    move_medium(&f, 2, SMC_SLOT0 + 1, SMC_DRIVE);
    check_element(&f, 2, 4, SMC_DRIVE, 1, true, "PVS002L5", SMC_SLOT0 + 1);
    g_assert_cmphex(tur(&f, &c, 0, 1), ==, 0);
    tape_simple(&f, 1, 0x01, 0, 0);
    tape_rw(&f, &c, 1, false, rbuf, 512);
    g_assert_cmphex(c.sense[2] & 0xf, ==, 0x8);         /* BLANK CHECK */
    /* The first one again: its data came with it */
    move_medium(&f, 2, SMC_DRIVE, SMC_SLOT0 + 1);
    move_medium(&f, 2, SMC_SLOT0, SMC_DRIVE);
    tape_simple(&f, 1, 0x01, 0, 0);
    fill(wbuf, sizes[0], 0);
    tape_rw(&f, &c, 1, false, rbuf, sizes[0]);
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmpmem(rbuf, sizes[0], wbuf, sizes[0]);
    move_medium(&f, 2, SMC_DRIVE, SMC_SLOT0);

    qvscsi_close(&f);
    qvscsi_free(&f);
    qvscsi_close(&g);
    qvscsi_free(&g);
    qxen_stop(x);
}

/* ---------------------------------------------------------------------- */
/* Faults                                                                  */

/*
 * The host of the crash cases: the iSCSI disk through scsi-block (target 0)
 * and scsi-hd (target 1), and a null-co disk (target 2), connected and with
 * their unit attentions consumed.
 */
static QXen *start_crash_host(QVscsiFront *f, const char *extra,
                              const char *hba_opts)
{
    g_autofree char *ib = iscsi_blockdev("ib", DISK_LUN);
    g_autofree char *ih = iscsi_blockdev("ih", DISK_LUN);
    QXen *x;

    x = qxen_start(DOMID,
        "%s%s%s-blockdev driver=null-co,node-name=null0,size=1048576,"
        "read-zeroes=on "
        "-device xen-pvscsi,id=vscsi0,devid=0%s "
        "-device scsi-block,bus=vscsi0.0,scsi-id=0,drive=ib "
        "-device scsi-hd,bus=vscsi0.0,scsi-id=1,drive=ih "
        "-device scsi-hd,bus=vscsi0.0,scsi-id=2,drive=null0",
        extra, ib, ih, hba_opts);
    qvscsi_init(f, x, 0);
    qvscsi_connect(f);
    clear_ua(f, 0, 0);
    clear_ua(f, 0, 1);
    clear_ua(f, 0, 2);
    return x;
}

/*
 * Eight 512 KiB writes at LBA 60000 + i * 1024, through targets 0 and 1 in
 * turn, started and consumed by the host.
 */
static void start_crash_writes(QXen *x, QVscsiFront *f, QVscsiCmd *b,
                               uint8_t *bbuf)
{
    for (int i = 0; i < 8; i++) {
        uint8_t cdb[10] = { 0x2a };

        fill(bbuf + i * 512 * KiB, 512 * KiB, 10 + i);
        stl_be_p(cdb + 2, 60000 + i * 1024);
        stw_be_p(cdb + 7, 1024);
        qvscsi_cmd_init(&b[i], 0, i & 1, 0, cdb, 10, VSCSIIF_DMA_TO_DEVICE,
                        bbuf + i * 512 * KiB, 512 * KiB);
        qvscsi_cmd_start(f, &b[i]);
    }
    qvscsi_push(f);
    g_assert_true(qxen_ring_wait_consumed(x, &f->ring, QXEN_TIMEOUT_MS));
}

/*
 * tgtd killed with large writes in flight and restarted on the same port.
 * QEMU's iSCSI driver keeps the requests while it reconnects (libiscsi
 * retries the login for as long as it takes; its command timeout does not
 * run without a connection): they stay in flight, the host goes on serving
 * its other LUNs, and once the target is back every request completes and
 * every write is on disk.  (With request-timeout, the next case, they are
 * failed to the guest after that time instead.)
 */
static void test_target_killed(void)
{
    QXen *x;
    QVscsiFront f;
    QVscsiCmd a, b[8], c;
    g_autofree uint8_t *abuf = g_malloc(512 * KiB);
    g_autofree uint8_t *bbuf = g_malloc(8 * 512 * KiB);
    gint64 deadline;

    x = start_crash_host(&f, "", "");

    fill(abuf, 512 * KiB, 1);
    rw10(&f, &a, 0, 1, true, 50000, abuf, 512 * KiB);
    g_assert_cmphex(a.rslt, ==, 0);

    /* Eight 512 KiB writes, half through each device, then the crash */
    tgt_run("kill", NULL);
    start_crash_writes(x, &f, b, bbuf);
    g_usleep(2 * G_USEC_PER_SEC);
    g_assert_cmpuint(qxen_ring_rsp_prod(x, &f.ring), ==, f.ring.rsp_cons);

    /* The host still serves its other LUN */
    rw10(&f, &c, 0, 2, false, 0, abuf, 4096);
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmpuint(f.nr_pending, ==, 8);

    tgt_run("restart", NULL);
    deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
    while (f.nr_pending && g_get_monotonic_time() < deadline) {
        qvscsi_poll(&f, 100);
    }
    g_assert_cmpuint(f.nr_pending, ==, 0);
    for (int i = 0; i < 8; i++) {
        g_test_message("write %d: rslt 0x%x sense key %x", i, b[i].rslt,
                       b[i].rslt == 0x02 ? b[i].sense[2] & 0xf : 0);
        if (b[i].rslt == 0x02 && (b[i].sense[2] & 0xf) == 0x6) {
            /*
             * Retried into the new session, it met its unit attention:
             * the guest retries it, as Linux does.
             */
            QVscsiCmd *r = &b[i];
            uint8_t cdb[10];

            memcpy(cdb, r->cdb, sizeof(cdb));
            qvscsi_cmd_init(r, 0, i & 1, 0, cdb, 10,
                            VSCSIIF_DMA_TO_DEVICE, bbuf + i * 512 * KiB,
                            512 * KiB);
            qvscsi_cmd(&f, r);
        }
        g_assert_cmphex(b[i].rslt, ==, 0);
        check_disk_file((60000 + i * 1024) * 512ULL, bbuf + i * 512 * KiB,
                        512 * KiB);
    }
    fill(abuf, 512 * KiB, 1);
    check_disk_file(50000 * 512ULL, abuf, 512 * KiB);

    /* And new requests work */
    for (int id = 0; id < 2; id++) {
        fill(abuf, 64 * KiB, 3 + id);
        rw10(&f, &c, 0, id, true, 70000 + id * 128, abuf, 64 * KiB);
        if (c.rslt == 0x02 && (c.sense[2] & 0xf) == 0x6) {
            /* the new session's unit attention */
            rw10(&f, &c, 0, id, true, 70000 + id * 128, abuf, 64 * KiB);
        }
        g_assert_cmphex(c.rslt, ==, 0);
        check_disk_file((70000 + id * 128) * 512ULL, abuf, 64 * KiB);
    }

    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/* query-xen-pvscsi's numbers for host @devid */
static void query_counts(QXen *x, unsigned int devid, int64_t *in_flight,
                         int64_t *abandoned, int64_t *timeout)
{
    QDict *rsp = qtest_qmp(x->qts, "{'execute': 'query-xen-pvscsi'}");
    QListEntry *e;
    bool found = false;

    g_assert_true(qdict_haskey(rsp, "return"));
    QLIST_FOREACH_ENTRY(qdict_get_qlist(rsp, "return"), e) {
        QDict *host = qobject_to(QDict, qlist_entry_obj(e));

        if (qdict_get_int(host, "devid") == devid) {
            *in_flight = qdict_get_int(host, "in-flight");
            *abandoned = qdict_get_int(host, "abandoned");
            *timeout = qdict_get_int(host, "request-timeout");
            found = true;
        }
    }
    g_assert_true(found);
    qobject_unref(rsp);
}

/* Wait up to 60 s for the LUNs to end every abandoned request. */
static void wait_abandoned_gone(QXen *x)
{
    gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
    int64_t in_flight, abandoned, timeout;

    do {
        query_counts(x, 0, &in_flight, &abandoned, &timeout);
        if (!abandoned) {
            break;
        }
        g_usleep(100 * 1000);
    } while (g_get_monotonic_time() < deadline);
    g_assert_cmpint(abandoned, ==, 0);
}

/* A command that may meet the new session's unit attention(s) first */
static void rw10_after_ua(QVscsiFront *f, QVscsiCmd *c, int id, bool write,
                          uint32_t lba, uint8_t *buf, size_t len)
{
    for (int i = 0; i < 4; i++) {
        rw10(f, c, 0, id, write, lba, buf, len);
        if (c->rslt != 0x02 || (c->sense[2] & 0xf) != 0x6) {
            break;
        }
    }
    g_assert_cmphex(c->rslt, ==, 0);
}

/*
 * The same crash with request-timeout=3: the requests the target took
 * down are failed to the guest with host status TRANSPORT_FAILFAST (what
 * Linux fails a command with when its iSCSI session stays down), so the
 * guest is never left waiting.  The LUN keeps them until the target is
 * back (query-xen-pvscsi counts them as abandoned); a LUN RESET meanwhile
 * fails after the timeout too, without blocking QEMU's main loop; and
 * once the target is back, everything acknowledged is on disk and new
 * I/O works.
 */
static void test_target_killed_timeout(void)
{
    QXen *x;
    QVscsiFront f;
    QVscsiCmd a, b[8], c, w, r;
    g_autofree uint8_t *abuf = g_malloc(512 * KiB);
    g_autofree uint8_t *bbuf = g_malloc(8 * 512 * KiB);
    int64_t in_flight, abandoned, timeout;
    gint64 start, deadline;
    QDict *rsp;

    /* In an IOThread: the timer runs there */
    x = start_crash_host(&f, "-object iothread,id=io0 ",
                         ",iothread=io0,request-timeout=3");
    query_counts(x, 0, &in_flight, &abandoned, &timeout);
    g_assert_cmpint(timeout, ==, 3);

    /* Acknowledged before the crash: must survive it */
    fill(abuf, 512 * KiB, 1);
    rw10(&f, &a, 0, 0, true, 50000, abuf, 512 * KiB);
    g_assert_cmphex(a.rslt, ==, 0);

    tgt_run("kill", NULL);
    start = g_get_monotonic_time();
    start_crash_writes(x, &f, b, bbuf);
    /* They wait for the target first */
    query_counts(x, 0, &in_flight, &abandoned, &timeout);
    g_assert_cmpint(in_flight, ==, 8);
    g_assert_cmpint(abandoned, ==, 0);

    /* Then they are failed; the test gives up waiting after 60 s */
    deadline = start + 60 * G_USEC_PER_SEC;
    while (f.nr_pending && g_get_monotonic_time() < deadline) {
        qvscsi_poll(&f, 100);
    }
    g_assert_cmpuint(f.nr_pending, ==, 0);
    g_test_message("8 writes failed after %.1f s",
                   (g_get_monotonic_time() - start) / 1e6);
    for (int i = 0; i < 8; i++) {
        g_assert_cmphex(b[i].rslt, ==,
                        XEN_VSCSIIF_RSLT_HOST_TRANSPORT_FAILFAST << 16);
        g_assert_cmpuint(b[i].sense_len, ==, 0);
    }
    query_counts(x, 0, &in_flight, &abandoned, &timeout);
    g_assert_cmpint(in_flight, ==, 0);
    g_test_message("abandoned, still with the LUNs: %" PRId64, abandoned);
    g_assert_cmpint(abandoned, <=, 8);

    /* The host still serves its other LUN, and the ring's slots are free */
    rw10(&f, &c, 0, 2, false, 0, abuf, 4096);
    g_assert_cmphex(c.rslt, ==, 0);

    /*
     * The guest's error handling: a LUN RESET with a command in flight.
     * Both end after the timeout (the command failed, the reset FAILED),
     * and meanwhile QEMU's main loop answers (QMP, the other LUN) and a
     * new command to the LUN being reset is told to retry.
     */
    {
        uint8_t cdb[10] = { 0x28 };

        stl_be_p(cdb + 2, 50000);
        stw_be_p(cdb + 7, 8);
        qvscsi_cmd_init(&w, 0, 0, 0, cdb, 10, VSCSIIF_DMA_FROM_DEVICE,
                        abuf, 4096);
        qvscsi_cmd_start(&f, &w);
        qvscsi_cmd_init(&r, 0, 0, 0, cdb, 0, VSCSIIF_DMA_NONE, NULL, 0);
        r.act = VSCSIIF_ACT_SCSI_RESET;
        qvscsi_cmd_start(&f, &r);
        qvscsi_push(&f);
    }
    g_assert_true(qxen_ring_wait_consumed(x, &f.ring, QXEN_TIMEOUT_MS));
    rsp = qtest_qmp(x->qts, "{'execute': 'query-status'}");
    g_assert_true(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
    rw10(&f, &c, 0, 2, false, 0, abuf, 4096);
    g_assert_cmphex(c.rslt, ==, 0);
    rw10(&f, &c, 0, 0, false, 0, abuf, 4096);
    g_assert_cmphex(c.rslt, ==, XEN_VSCSIIF_RSLT_HOST_BUS_BUSY << 16);
    g_assert_false(w.done);
    g_assert_false(r.done);
    qvscsi_cmd_wait(&f, &r);
    qvscsi_cmd_wait(&f, &w);
    g_assert_cmphex(r.rslt, ==, XEN_VSCSIIF_RSLT_RESET_FAILED);
    /*
     * The reset cancelled the command: its answer is host RESET if the
     * iSCSI driver could drop it, else it timed out like the writes.
     */
    g_test_message("command under the reset: rslt 0x%x", w.rslt);
    g_assert_true(w.rslt == XEN_VSCSIIF_RSLT_HOST_RESET << 16 ||
                  w.rslt == XEN_VSCSIIF_RSLT_HOST_TRANSPORT_FAILFAST << 16);

    /* The target comes back: the LUNs end what they kept, then the reset */
    tgt_run("restart", NULL);
    wait_abandoned_gone(x);

    /* Everything acknowledged is there, and new requests work */
    fill(abuf, 512 * KiB, 1);
    check_disk_file(50000 * 512ULL, abuf, 512 * KiB);
    for (int id = 0; id < 2; id++) {
        fill(abuf, 64 * KiB, 3 + id);
        rw10_after_ua(&f, &c, id, true, 70000 + id * 128, abuf, 64 * KiB);
        check_disk_file((70000 + id * 128) * 512ULL, abuf, 64 * KiB);
        memset(abuf, 0, 64 * KiB);
        rw10_after_ua(&f, &c, id, false, 70000 + id * 128, abuf, 64 * KiB);
        check_disk_file((70000 + id * 128) * 512ULL, abuf, 64 * KiB);
    }

    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/* A target that refuses the login: QEMU does not start, and says why. */
static void test_login_refused(void)
{
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    g_autofree char *node = iscsi_blockdev("ib", DISK_LUN);
    g_autofree char *cmdline = NULL;
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    int status;

    tgt_run("refuse", NULL);
    cmdline = g_strdup_printf("%s -M none -nodefaults -display none %s",
                              qemu, node);
    g_assert_true(g_spawn_command_line_sync(cmdline, &out, &err, &status,
                                            NULL));
    tgt_run("accept", NULL);
    g_test_message("%s", err);
    g_assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    g_assert_nonnull(strstr(err, "iSCSI"));
    g_assert_nonnull(strstr(err, "Failed to connect"));
}

/* ---------------------------------------------------------------------- */
/* Unknown and garbage CDBs                                                */

/*
 * Unassigned service actions of SERVICE ACTION IN/OUT (16) and
 * MAINTENANCE IN/OUT (12), an obsolete group 5 opcode and a VARIABLE
 * LENGTH CDB with a garbage service action, sent as a guest would (with
 * a buffer of their allocation or parameter list length), to scsi-block
 * and scsi-generic (the target's answer) and scsi-hd and scsi-cd (QEMU's
 * emulation).  Each gets a SCSI answer: CHECK CONDITION with ILLEGAL
 * REQUEST (invalid opcode or invalid field), never a host error.
 */
static void test_garbage_cdb(void)
{
    g_autofree char *ib = iscsi_blockdev("ib", DISK_LUN);
    g_autofree char *it = iscsi_blockdev("it", TAPE_LUN);
    g_autofree char *ih = iscsi_blockdev("ih", DISK_LUN);
    QXen *x = qxen_start(DOMID,
        "%s%s%s-blockdev driver=null-co,node-name=n0,size=1048576,"
        "read-only=on "
        "-device xen-pvscsi,id=vscsi0,devid=0 "
        "-device scsi-block,bus=vscsi0.0,scsi-id=0,drive=ib "
        "-device scsi-generic,bus=vscsi0.0,scsi-id=1,drive=it "
        "-device scsi-hd,bus=vscsi0.0,scsi-id=2,drive=ih "
        "-device scsi-cd,bus=vscsi0.0,scsi-id=3,drive=n0", ib, it, ih);
    static const struct {
        uint8_t cdb[16];
        int len;
        int dir;
    } cdbs[] = {
        /* SERVICE ACTION IN/OUT (16), service action 0x1f */
        { { 0x9e, 0x1f, [13] = 32 }, 16, VSCSIIF_DMA_FROM_DEVICE },
        { { 0x9f, 0x1f }, 16, VSCSIIF_DMA_NONE },
        { { 0x9f, 0x1f, [13] = 32 }, 16, VSCSIIF_DMA_TO_DEVICE },
        /* MAINTENANCE IN/OUT (12), service action 0x1f */
        { { 0xa3, 0x1f, [9] = 32 }, 12, VSCSIIF_DMA_FROM_DEVICE },
        { { 0xa4, 0x1f }, 12, VSCSIIF_DMA_NONE },
        { { 0xa4, 0x1f, [9] = 32 }, 12, VSCSIIF_DMA_TO_DEVICE },
        /* SET LIMITS (12), obsolete */
        { { 0xb3 }, 12, VSCSIIF_DMA_NONE },
        /* VARIABLE LENGTH, service action 0xffff */
        { { 0x7f, [7] = 8, [8] = 0xff, [9] = 0xff }, 16, VSCSIIF_DMA_NONE },
    };
    static const uint8_t tur[6] = { 0x00 };
    QVscsiFront f;
    QVscsiCmd c;
    uint8_t buf[32];

    qvscsi_init(&f, x, 0);
    qvscsi_connect(&f);
    for (int id = 0; id < 4; id++) {
        /* Past the power-on unit attention (the tape has no medium) */
        for (int i = 0; i < 5; i++) {
            cmd(&f, &c, 0, id, tur, 6, VSCSIIF_DMA_NONE, NULL, 0);
            if (c.rslt != 0x02 || (c.sense[2] & 0xf) != 0x6) {
                break;
            }
        }
        for (int i = 0; i < ARRAY_SIZE(cdbs); i++) {
            bool data = cdbs[i].dir != VSCSIIF_DMA_NONE;

            memset(buf, 0, sizeof(buf));
            cmd(&f, &c, 0, id, cdbs[i].cdb, cdbs[i].len, cdbs[i].dir,
                data ? buf : NULL, data ? sizeof(buf) : 0);
            g_test_message("target %d, opcode 0x%02x, dir %d: rslt 0x%x, "
                           "sense %x/%02x/%02x", id, cdbs[i].cdb[0],
                           cdbs[i].dir, c.rslt, c.sense[2] & 0xf,
                           c.sense[12], c.sense[13]);
            g_assert_cmphex(c.rslt, ==, 0x02);
            g_assert_cmpuint(c.sense_len, >=, 14);
            g_assert_cmphex(c.sense[0] & 0x7f, ==, 0x70);
            g_assert_cmphex(c.sense[2] & 0xf, ==, 0x5);
            g_assert_true(c.sense[12] == 0x20 || c.sense[12] == 0x24);
        }
    }

    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

/* ---------------------------------------------------------------------- */
/* Persistent reservations                                                 */

#define RESERVATION_CONFLICT    0x18
#define PR_WRITE_EXCLUSIVE      0x1

/* PERSISTENT RESERVE OUT: service action @sa, keys @key and @sa_key */
static void pr_out(QVscsiFront *f, QVscsiCmd *c, int id, int sa, int type,
                   uint64_t key, uint64_t sa_key)
{
    uint8_t cdb[10] = { 0x5f, sa, type };
    uint8_t param[24] = { 0 };

    stq_be_p(param, key);
    stq_be_p(param + 8, sa_key);
    stl_be_p(cdb + 5, sizeof(param));
    cmd(f, c, 0, id, cdb, 10, VSCSIIF_DMA_TO_DEVICE, param, sizeof(param));
    if (c->rslt == 0x02 && c->sense_len >= 14) {
        g_test_message("PERSISTENT RESERVE OUT sa 0x%x type 0x%x: sense "
                       "%x/%02x/%02x", sa, type, c->sense[2] & 0xf,
                       c->sense[12], c->sense[13]);
    }
}

/* PERSISTENT RESERVE IN: READ KEYS (sa 0) or READ RESERVATION (sa 1) */
static void pr_in(QVscsiFront *f, QVscsiCmd *c, int id, int sa,
                  uint8_t *buf, size_t len)
{
    uint8_t cdb[10] = { 0x5e, sa };

    memset(buf, 0xee, len);
    stw_be_p(cdb + 7, len);
    cmd(f, c, 0, id, cdb, 10, VSCSIIF_DMA_FROM_DEVICE, buf, len);
    g_assert_cmphex(c->rslt, ==, 0);
}

/* The registered keys, as READ KEYS lists them */
static unsigned int pr_keys(QVscsiFront *f, int id, uint64_t *keys,
                            unsigned int max)
{
    uint8_t buf[8 + 8 * 8];
    QVscsiCmd c;
    unsigned int n;

    pr_in(f, &c, id, 0, buf, sizeof(buf));
    n = ldl_be_p(buf + 4) / 8;
    g_assert_cmpuint(n, <=, max);
    for (unsigned int i = 0; i < n; i++) {
        keys[i] = ldq_be_p(buf + 8 + 8 * i);
    }
    return n;
}

/*
 * One iSCSI disk LUN shared by two HBAs, as by two guests: each LUN's
 * scsi-block has its own iSCSI session and initiator name, so the target
 * sees two initiators (I_T nexuses).  PERSISTENT RESERVE OUT and IN go
 * through xen-pvscsi and scsi-block to the target as the guest sent them,
 * and the target's RESERVATION CONFLICT comes back to the guest as its
 * SCSI status: register, reserve (write exclusive), a conflicting write
 * and reserve from the other initiator, preempt, release, clear.  (A
 * pr-manager is a host_device option, for local LUNs; an iSCSI LUN's
 * reservations are its sessions'.)
 */
static void reservations(QXen *x,
                         void (*check)(uint64_t, const void *, size_t))
{
    const uint64_t ka = 0xa1a2a3a4a5a6a7a8ULL, kb = 0xb1b2b3b4b5b6b7b8ULL;
    const uint32_t lba = 4096;      /* 2 MiB into the disk */
    QVscsiFront a, b;
    QVscsiCmd c;
    uint8_t buf[64];
    uint64_t keys[8];
    g_autofree uint8_t *wa = g_malloc(4096);
    g_autofree uint8_t *wb = g_malloc(4096);
    g_autofree uint8_t *rd = g_malloc(4096);

    fill(wa, 4096, 0x11);
    fill(wb, 4096, 0x22);
    qvscsi_init(&a, x, 0);
    qvscsi_init(&b, x, 1);
    qvscsi_connect(&a);
    qvscsi_connect(&b);
    clear_ua(&a, 0, 0);
    clear_ua(&b, 0, 0);

    /*
     * What an earlier failed run left: A registers whatever the key
     * (REGISTER AND IGNORE EXISTING KEY) and clears every registration.
     */
    pr_out(&a, &c, 0, 0x06, 0, 0, ka);
    g_assert_cmphex(c.rslt, ==, 0);
    pr_out(&a, &c, 0, 0x03, 0, ka, 0);
    g_assert_cmphex(c.rslt, ==, 0);
    clear_ua(&b, 0, 0);             /* CLEAR told B: RESERVATIONS PREEMPTED */
    g_assert_cmpuint(pr_keys(&a, 0, keys, 8), ==, 0);

    /* both register; either one sees both keys */
    pr_out(&a, &c, 0, 0x00, 0, 0, ka);
    g_assert_cmphex(c.rslt, ==, 0);
    pr_out(&b, &c, 0, 0x00, 0, 0, kb);
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmpuint(pr_keys(&b, 0, keys, 8), ==, 2);
    g_assert_true((keys[0] == ka && keys[1] == kb) ||
                  (keys[0] == kb && keys[1] == ka));

    /* A reserves, write exclusive: READ RESERVATION names A's key */
    pr_out(&a, &c, 0, 0x01, PR_WRITE_EXCLUSIVE, ka, 0);
    g_assert_cmphex(c.rslt, ==, 0);
    pr_in(&b, &c, 0, 1, buf, sizeof(buf));
    g_assert_cmpuint(ldl_be_p(buf + 4), ==, 16);
    g_assert_cmphex(ldq_be_p(buf + 8), ==, ka);
    g_assert_cmphex(buf[21] & 0xf, ==, PR_WRITE_EXCLUSIVE);

    /* B may read, not write, nor reserve; A writes */
    rw10(&b, &c, 0, 0, true, lba, wb, 4096);
    g_assert_cmphex(c.rslt, ==, RESERVATION_CONFLICT);
    rw10(&b, &c, 0, 0, false, lba, rd, 4096);
    g_assert_cmphex(c.rslt, ==, 0);
    pr_out(&b, &c, 0, 0x01, PR_WRITE_EXCLUSIVE, kb, 0);
    g_assert_cmphex(c.rslt, ==, RESERVATION_CONFLICT);
    rw10(&a, &c, 0, 0, true, lba, wa, 4096);
    g_assert_cmphex(c.rslt, ==, 0);
    check((uint64_t)lba * 512, wa, 4096);

    /* B preempts A: B holds the reservation, A's key is gone */
    pr_out(&b, &c, 0, 0x04, PR_WRITE_EXCLUSIVE, kb, ka);
    g_assert_cmphex(c.rslt, ==, 0);
    clear_ua(&a, 0, 0);             /* REGISTRATIONS PREEMPTED */
    g_assert_cmpuint(pr_keys(&a, 0, keys, 8), ==, 1);
    g_assert_cmphex(keys[0], ==, kb);
    rw10(&a, &c, 0, 0, true, lba, wa, 4096);
    g_assert_cmphex(c.rslt, ==, RESERVATION_CONFLICT);
    rw10(&b, &c, 0, 0, true, lba, wb, 4096);
    g_assert_cmphex(c.rslt, ==, 0);
    check((uint64_t)lba * 512, wb, 4096);

    /* B releases: anyone writes again */
    pr_out(&b, &c, 0, 0x02, PR_WRITE_EXCLUSIVE, kb, 0);
    g_assert_cmphex(c.rslt, ==, 0);
    clear_ua(&a, 0, 0);
    pr_in(&a, &c, 0, 1, buf, sizeof(buf));
    g_assert_cmpuint(ldl_be_p(buf + 4), ==, 0);
    rw10(&a, &c, 0, 0, true, lba, wa, 4096);
    g_assert_cmphex(c.rslt, ==, 0);
    check((uint64_t)lba * 512, wa, 4096);

    /* B clears every registration, for the other cases on this LUN */
    pr_out(&b, &c, 0, 0x03, 0, kb, 0);
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmpuint(pr_keys(&b, 0, keys, 8), ==, 0);

    qvscsi_close(&a);
    qvscsi_close(&b);
    qvscsi_free(&a);
    qvscsi_free(&b);
}

static void test_reservations(void)
{
    g_autofree char *pa = iscsi_blockdev("pra", DISK_LUN);
    g_autofree char *pb = iscsi_blockdev("prb", DISK_LUN);
    QXen *x = qxen_start(DOMID,
        "%s%s-device xen-pvscsi,id=vscsi0,devid=0 "
        "-device xen-pvscsi,id=vscsi1,devid=1 "
        "-device scsi-block,bus=vscsi0.0,scsi-id=0,drive=pra "
        "-device scsi-block,bus=vscsi1.0,scsi-id=0,drive=prb", pa, pb);

    reservations(x, check_disk_file);
    qxen_stop(x);
}

/*
 * The same on a local LUN (scsi-block on host_device nodes), which needs a
 * machine with SCSI devices: the e2e suite runs it in its dom0 on LIO's
 * tcm_loop, two paths to one fileio LU with their own initiator ports
 * (XEN_PVSCSI_PR_LUNS="/dev/sdX,/dev/sdY", the LU's file in
 * XEN_PVSCSI_PR_FILE), once through QEMU's pr-manager-helper object and
 * qemu-pr-helper listening on XEN_PVSCSI_PR_HELPER, once without (QEMU
 * sends PERSISTENT RESERVE OUT itself, which Linux allows a process with
 * CAP_SYS_RAWIO).  Skipped where those are not set (make check).
 */
static const char *local_file;

static void check_local_file(uint64_t off, const void *data, size_t len)
{
    g_autofree char *contents = NULL;
    gsize size;

    g_assert_true(g_file_get_contents(local_file, &contents, &size, NULL));
    g_assert_cmpuint(size, >=, off + len);
    g_assert_cmpmem(contents + off, len, data, len);
}

static void test_local_reservations(void)
{
    const char *luns = g_getenv("XEN_PVSCSI_PR_LUNS");
    const char *helper = g_getenv("XEN_PVSCSI_PR_HELPER");
    g_auto(GStrv) dev = NULL;
    g_autofree char *pm = NULL;
    g_autofree char *trace = NULL;
    g_autofree char *log = NULL;
    const char *opt = helper ? ",pr-manager=pr0" : "";
    int fd;
    QXen *x;

    local_file = g_getenv("XEN_PVSCSI_PR_FILE");
    if (!luns || !local_file) {
        g_test_skip("no local LUN with persistent reservations "
                    "(XEN_PVSCSI_PR_LUNS, XEN_PVSCSI_PR_FILE: the e2e "
                    "suite sets them)");
        return;
    }
    dev = g_strsplit(luns, ",", 2);
    g_assert_nonnull(dev[0]);
    g_assert_nonnull(dev[1]);
    pm = helper ? g_strdup_printf("-object pr-manager-helper,id=pr0,"
                                  "path=%s ", helper) : g_strdup("");
    /* QEMU's trace of each PERSISTENT RESERVE command a pr-manager runs */
    fd = g_file_open_tmp("xen-pvscsi-pr-XXXXXX.log", &trace, NULL);
    g_assert_cmpint(fd, >=, 0);
    close(fd);
    x = qxen_start(DOMID,
        "-trace enable=pr_manager_run,file=%s "
        "%s-blockdev driver=host_device,node-name=pra,filename=%s,"
        "cache.direct=on%s "
        "-blockdev driver=host_device,node-name=prb,filename=%s,"
        "cache.direct=on%s "
        "-device xen-pvscsi,id=vscsi0,devid=0 "
        "-device xen-pvscsi,id=vscsi1,devid=1 "
        "-device scsi-block,bus=vscsi0.0,scsi-id=0,drive=pra "
        "-device scsi-block,bus=vscsi1.0,scsi-id=0,drive=prb",
        trace, pm, dev[0], opt, dev[1], opt);

    reservations(x, check_local_file);
    if (helper) {
        QDict *rsp = qtest_qmp(x->qts, "{'execute': 'query-pr-managers'}");
        QDict *m = qobject_to(QDict, qlist_peek(qdict_get_qlist(rsp,
                                                                "return")));

        g_assert_nonnull(m);
        g_assert_cmpstr(qdict_get_str(m, "id"), ==, "pr0");
        g_assert_true(qdict_get_bool(m, "connected"));
        qobject_unref(rsp);
    }
    qxen_stop(x);
    /*
     * With the helper, every PERSISTENT RESERVE OUT (0x5f) went through
     * it: register, register and ignore, clear, reserve, conflicting
     * reserve, preempt, release, clear; without, none did.
     */
    g_assert_true(g_file_get_contents(trace, &log, NULL, NULL));
    {
        unsigned int n = 0;

        for (const char *p = log; (p = strstr(p, "cmd=0x5f")); p++) {
            n++;
        }
        if (helper) {
            g_assert_cmpuint(n, >=, 8);
        } else {
            g_assert_cmpuint(n, ==, 0);
        }
    }
    unlink(trace);
}

/* ---------------------------------------------------------------------- */
/* iscsi:// URLs as a toolstack's p-dev                                    */

/*
 * query-xen-pvscsi once every LUN of host @devid has its INQUIRY identity
 * (asked without waiting when a passthrough LUN is plugged).  Returns the
 * response; *host is its entry for @devid.
 */
static QDict *query_identified(QXen *x, unsigned int devid, QDict **host)
{
    for (int tries = 0; ; tries++) {
        QDict *rsp = qtest_qmp(x->qts, "{'execute': 'query-xen-pvscsi'}");
        bool all = true;
        QListEntry *e;

        *host = NULL;
        QLIST_FOREACH_ENTRY(qdict_get_qlist(rsp, "return"), e) {
            QDict *h = qobject_to(QDict, qlist_entry_obj(e));

            if (qdict_get_int(h, "devid") == devid) {
                *host = h;
            }
        }
        g_assert_nonnull(*host);
        QLIST_FOREACH_ENTRY(qdict_get_qlist(*host, "luns"), e) {
            all &= qdict_haskey(qobject_to(QDict, qlist_entry_obj(e)),
                                "vendor");
        }
        if (all) {
            return rsp;
        }
        g_assert_cmpint(tries, <, 1000);
        qobject_unref(rsp);
        g_usleep(10 * 1000);
    }
}

/*
 * The identity of a passthrough LUN in query-xen-pvscsi comes from an
 * INQUIRY the HBA sends when the LUN is plugged, without waiting for its
 * answer (it arrives in the data plane's iothread here).  A LUN removed
 * right after its plug goes cleanly: its removal waits for its I/O, the
 * INQUIRY included.
 */
static void test_identity(void)
{
    g_autofree char *ib = iscsi_blockdev("ib", DISK_LUN);
    g_autofree char *it = iscsi_blockdev("it", TAPE_LUN);
    QXen *x = qxen_start(DOMID,
        "%s%s-object iothread,id=io0 "
        "-device xen-pvscsi,id=vscsi0,devid=0,iothread=io0", ib, it);
    QDict *rsp, *host, *l;
    QListEntry *e;

    /*
     * Plugged and unplugged back to back (no frontend: removed at once),
     * a few times, the removal sent before the add is answered
     */
    for (int i = 0; i < 5; i++) {
        QDict *r;

        qtest_qmp_send(x->qts, "{'execute': 'device_add', 'arguments': "
                       "{'driver': 'scsi-block', 'id': 'gone', "
                       "'bus': 'vscsi0.0', 'scsi-id': 0, 'drive': 'ib'}}");
        qtest_qmp_send(x->qts, "{'execute': 'device_del', 'arguments': "
                       "{'id': 'gone'}}");
        for (int answers = 0; answers < 2; ) {
            r = qtest_qmp_receive(x->qts);
            g_assert_false(qdict_haskey(r, "error"));
            answers += qdict_haskey(r, "return");
            qobject_unref(r);
        }
        qtest_qmp_eventwait(x->qts, "DEVICE_DELETED");
    }
    rsp = query_identified(x, 0, &host);
    g_assert_cmpint(qlist_size(qdict_get_qlist(host, "luns")), ==, 0);
    qobject_unref(rsp);

    /* Kept: the answer arrives in the iothread, recorded in the main loop */
    qtest_qmp_device_add(x->qts, "scsi-block", "d0",
                         "{'bus': 'vscsi0.0', 'scsi-id': 0, "
                         "'drive': 'ib'}");
    qtest_qmp_device_add(x->qts, "scsi-generic", "t0",
                         "{'bus': 'vscsi0.0', 'scsi-id': 1, "
                         "'drive': 'it'}");
    rsp = query_identified(x, 0, &host);
    g_assert_cmpstr(qdict_get_str(host, "iothread"), ==, "io0");
    g_assert_cmpint(qlist_size(qdict_get_qlist(host, "luns")), ==, 2);
    QLIST_FOREACH_ENTRY(qdict_get_qlist(host, "luns"), e) {
        bool disk;

        l = qobject_to(QDict, qlist_entry_obj(e));
        disk = qdict_get_int(l, "target") == 0;
        g_assert_cmpstr(qdict_get_str(l, "vendor"), ==, "IET");
        g_assert_cmpstr(qdict_get_str(l, "model"), ==,
                        disk ? "VIRTUAL-DISK" : "VIRTUAL-TAPE");
        g_assert_cmpint(qdict_get_int(l, "peripheral-type"), ==,
                        disk ? 0 : 1);
    }
    qobject_unref(rsp);
    qxen_stop(x);
}

static void test_toolstack_url(void)
{
    QXen *x = qxen_start(DOMID, "%s", "");
    struct xs_handle *tool = x->xs_priv;
    QVscsiFront f;
    QVscsiCmd c;
    uint8_t buf[96];
    unsigned int readers[] = { DOMID };
    QDict *rsp, *host, *l;
    QListEntry *e;
    const struct {
        int lun;
        const char *vdev;
    } luns[] = { { DISK_LUN, "2:0:0:0" }, { CHANGER_LUN, "2:0:2:0" },
                 { 9, "2:0:3:0" } };

    qvscsi_init(&f, x, 2);
    qxs_mkdir(tool, f.be);
    qxs_set_perms(tool, f.be, 0, readers, 1);
    for (int i = 0; i < ARRAY_SIZE(luns); i++) {
        g_autofree char *kp = qvscsi_be_key(&f, "vscsi-devs/dev-%d/p-dev", i);
        g_autofree char *kv = qvscsi_be_key(&f, "vscsi-devs/dev-%d/v-dev", i);
        g_autofree char *ks = qvscsi_be_key(&f, "vscsi-devs/dev-%d/state", i);
        g_autofree char *url = g_strdup_printf("iscsi://%s/%s/%d",
                                               tgt.portal, tgt.iqn,
                                               luns[i].lun);

        qxs_write(tool, kp, url);
        qxs_write(tool, kv, luns[i].vdev);
        qxs_write(tool, ks, "1");
    }
    {
        g_autofree char *k1 = qvscsi_be_key(&f, "frontend");
        g_autofree char *k2 = qvscsi_be_key(&f, "frontend-id");
        g_autofree char *k3 = qvscsi_be_key(&f, "online");
        g_autofree char *k4 = qvscsi_be_key(&f, "state");

        qxs_write(tool, k1, f.fe);
        qxs_write(tool, k2, "1");
        qxs_write(tool, k3, "1");
        qxs_write(tool, k4, "1");
        qxs_wait_state(x, x->xs, k4, 2);
    }
    qvscsi_connect(&f);
    {
        g_autofree char *k0 = qvscsi_be_key(&f, "vscsi-devs/dev-0/state");
        g_autofree char *k1 = qvscsi_be_key(&f, "vscsi-devs/dev-1/state");
        g_autofree char *k2 = qvscsi_be_key(&f, "vscsi-devs/dev-2/state");
        g_autofree char *e2 = qvscsi_be_key(&f, "vscsi-devs/dev-2/error");
        g_autofree char *msg = NULL;

        g_assert_cmpint(qxs_read_int(x->xs, k0, -1), ==, 4);
        g_assert_cmpint(qxs_read_int(x->xs, k1, -1), ==, 4);
        g_assert_cmpint(qxs_read_int(x->xs, k2, -1), ==, 6);
        msg = qxs_read(x->xs, e2);
        g_test_message("dev-2: %s", msg);
        g_assert_true(g_str_has_prefix(msg, "p-dev 'iscsi://"));
    }

    clear_ua(&f, 0, 0);
    inquiry(&f, &c, 0, 0, -1, buf, 96);
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmpmem(buf + 16, 16, "VIRTUAL-DISK    ", 16);
    inquiry(&f, &c, 0, 2, -1, buf, 96);
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmphex(buf[0], ==, 0x08);

    rsp = query_identified(x, 2, &host);
    g_assert_cmpint(qlist_size(qdict_get_qlist(host, "luns")), ==, 2);
    QLIST_FOREACH_ENTRY(qdict_get_qlist(host, "luns"), e) {
        g_autofree char *url = NULL;
        bool disk;

        l = qobject_to(QDict, qlist_entry_obj(e));
        disk = qdict_get_int(l, "target") == 0;
        url = g_strdup_printf("iscsi://%s/%s/%d", tgt.portal, tgt.iqn,
                              disk ? DISK_LUN : CHANGER_LUN);
        g_assert_cmpstr(qdict_get_str(l, "pdev"), ==, url);
        g_assert_cmpstr(qdict_get_str(l, "type"), ==,
                        disk ? "scsi-block" : "scsi-generic");
        g_assert_cmpstr(qdict_get_str(l, "vendor"), ==, "IET");
        g_assert_cmpstr(qdict_get_str(l, "model"), ==,
                        disk ? "VIRTUAL-DISK" : "VIRTUAL-CHANGER");
        g_assert_cmpstr(qdict_get_str(l, "revision"), ==, "0001");
        g_assert_cmpint(qdict_get_int(l, "peripheral-type"), ==,
                        disk ? 0 : 8);
        g_assert_nonnull(strstr(qdict_get_str(l, "filename"),
                                "\"driver\": \"iscsi\""));
    }
    qobject_unref(rsp);

    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    script = g_getenv("XEN_PVSCSI_TGT_SCRIPT");
    g_assert_nonnull(script);
    qtest_add_abrt_handler(tgt_abort_hook, NULL);
    qxen_watchdog_set_hook(tgt_hang_hook);
    qxen_watchdog_arm("tgt-target.sh start", qxen_case_timeout());
    tgt_start();
    qxen_watchdog_disarm();
    qxen_add_test("/xen-pvscsi/iscsi/disk", test_disk);
    qxen_add_test("/xen-pvscsi/iscsi/tape-changer", test_tape_changer);
    qxen_add_test("/xen-pvscsi/iscsi/garbage-cdb", test_garbage_cdb);
    qxen_add_test("/xen-pvscsi/iscsi/reservations", test_reservations);
    qxen_add_test("/xen-pvscsi/local/reservations", test_local_reservations);
    qxen_add_test("/xen-pvscsi/iscsi/toolstack-url", test_toolstack_url);
    qxen_add_test("/xen-pvscsi/iscsi/identity", test_identity);
    qxen_add_test("/xen-pvscsi/iscsi/login-refused", test_login_refused);
    qxen_add_test("/xen-pvscsi/iscsi/target-killed", test_target_killed);
    qxen_add_test("/xen-pvscsi/iscsi/target-killed-timeout",
                  test_target_killed_timeout);
    ret = g_test_run();
    qxen_watchdog_arm("tgt-target.sh stop", qxen_case_timeout());
    tgt_stop();
    qxen_watchdog_disarm();
    return ret;
}
