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
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qemu/bswap.h"
#include "libqtest.h"
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
} Target;

static Target tgt;
static const char *script;

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
}

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
 * One iSCSI disk LUN twice: through scsi-block at 0:0:0 (the target's own
 * identity and sense) and through scsi-hd at 0:1:0 (QEMU's emulation).
 */
static void test_disk(void)
{
    g_autofree char *ib = iscsi_blockdev("ib", DISK_LUN);
    g_autofree char *ih = iscsi_blockdev("ih", DISK_LUN);
    QXen *x = qxen_start(DOMID,
        "%s%s-device xen-pvscsi,id=vscsi0,devid=0,max-sg-grant=256 "
        "-device scsi-block,bus=vscsi0.0,scsi-id=0,drive=ib "
        "-device scsi-hd,bus=vscsi0.0,scsi-id=1,drive=ih", ib, ih);
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
     * Writes of every size up to the sg-grant maximum, each way, read
     * back the other way and found in tgtd's backing file.
     */
    for (int i = 0; i < ARRAY_SIZE(sizes); i++) {
        for (int id = 0; id < 2; id++) {
            uint32_t lba = 4096 + i * 4096 + id * 2048;

            fill(wbuf, sizes[i], i * 2 + id);
            rw10(&f, &c, 0, id, true, lba, wbuf, sizes[i]);
            g_assert_cmphex(c.rslt, ==, 0);
            memset(rbuf, 0, sizes[i]);
            rw10(&f, &c, 0, !id, false, lba, rbuf, sizes[i]);
            g_assert_cmphex(c.rslt, ==, 0);
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
    tgt_start();
    qtest_add_func("/xen-pvscsi/iscsi/disk", test_disk);
    ret = g_test_run();
    tgt_stop();
    return ret;
}
