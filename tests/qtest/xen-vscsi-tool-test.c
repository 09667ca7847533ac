/*
 * qtest cases for the xen-vscsi admin tool against a running QEMU
 *
 * QEMU runs under the xen-qtest-hv emulation with an extra QMP monitor on
 * a unix socket (the one libxl gives the device model); the test plays
 * the guest's xen-scsifront and runs the built tool (path in $XEN_VSCSI):
 *
 *  - hotplug: "attach" creates the xen-pvscsi host and a LUN on an image
 *    file, the guest connects and sees it; a second "attach" with the
 *    guest connected goes through Reconfiguring; "list" shows both;
 *    "detach" waits for the guest to release the LUN, then removes the
 *    block node; errors for a busy vdev and a missing LUN.
 *  - iSCSI: LUNs of a real target (tgtd: a disk, a tape drive, a medium
 *    changer) given as iscsi:// p-devs to "args"; QEMU is started with
 *    exactly its output, and the guest finds each LUN at its H:C:T:L with
 *    the right type; "list" and "resolve" agree on the target's identity;
 *    the tape is detached and attached again at another address.
 *  - migrate-args: "args" with no entries prints a running QEMU's LUNs
 *    (one from the command line, one hot-plugged); a destination started
 *    with exactly that loads the saved device state and serves the data.
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/wait.h>
#include "qemu/bswap.h"
#include "libqtest.h"
#include "qapi/error.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qjson.h"
#include "qobject/qstring.h"
#include "libqos/xen-vscsifront.h"

#define DOMID           1
#define RSLT_NO_CONNECT (XEN_VSCSIIF_RSLT_HOST_NO_CONNECT << 16)

static const char *tool;

typedef struct ToolRun {
    GPid pid;
    int out_fd, err_fd;
    int status;
    char *out;
    char *err;
} ToolRun;

static void tool_start(ToolRun *r, const char *qmp, ...)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) err = NULL;
    va_list ap;
    const char *a;

    memset(r, 0, sizeof(*r));
    g_ptr_array_add(argv, (char *)tool);
    if (qmp) {
        g_ptr_array_add(argv, (char *)"--qmp");
        g_ptr_array_add(argv, (char *)qmp);
    }
    va_start(ap, qmp);
    while ((a = va_arg(ap, const char *))) {
        g_ptr_array_add(argv, (char *)a);
    }
    va_end(ap);
    g_ptr_array_add(argv, NULL);
    g_assert_true(g_spawn_async_with_pipes(NULL, (char **)argv->pdata, NULL,
                                           G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                           NULL, &r->pid, NULL, &r->out_fd,
                                           &r->err_fd, &err));
}

static char *read_all(int fd)
{
    GString *s = g_string_new(NULL);
    char buf[4096];
    ssize_t n;

    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        g_string_append_len(s, buf, n);
    }
    close(fd);
    return g_string_free(s, false);
}

/* Wait for the tool; returns its exit status. */
static int tool_wait(ToolRun *r)
{
    int st;

    /* Small outputs: read after exit would do, but do not risk a full pipe */
    r->out = read_all(r->out_fd);
    r->err = read_all(r->err_fd);
    g_assert_cmpint(waitpid(r->pid, &st, 0), ==, r->pid);
    g_spawn_close_pid(r->pid);
    g_assert_true(WIFEXITED(st));
    r->status = WEXITSTATUS(st);
    if (r->status) {
        g_test_message("xen-vscsi exit %d: %s", r->status, r->err);
    }
    return r->status;
}

static void tool_free(ToolRun *r)
{
    g_free(r->out);
    g_free(r->err);
}

#define TOOL(r, qmp, ...) \
    (tool_start(r, qmp, __VA_ARGS__, NULL), tool_wait(r))

static QList *json_list(const char *s)
{
    QObject *o = qobject_from_json(s, &error_abort);
    QList *l = qobject_to(QList, o);

    g_assert_nonnull(l);
    return l;
}

static QDict *list_find(QList *l, const char *vdev)
{
    for (const QListEntry *e = qlist_first(l); e; e = qlist_next(e)) {
        QDict *d = qobject_to(QDict, qlist_entry_obj(e));

        if (!g_strcmp0(qdict_get_try_str(d, "vdev"), vdev)) {
            return d;
        }
    }
    return NULL;
}

static bool node_exists(QXen *x, const char *node)
{
    QDict *rsp = qtest_qmp(x->qts,
                           "{'execute': 'query-named-block-nodes'}");
    QList *l = qdict_get_qlist(rsp, "return");
    bool found = false;

    for (const QListEntry *e = qlist_first(l); e; e = qlist_next(e)) {
        QDict *d = qobject_to(QDict, qlist_entry_obj(e));

        found |= !g_strcmp0(qdict_get_try_str(d, "node-name"), node);
    }
    qobject_unref(rsp);
    return found;
}

static void inquiry(QVscsiFront *f, QVscsiCmd *c, int channel, int id,
                    int lun, uint8_t *buf, size_t len)
{
    uint8_t cdb[6] = { 0x12, 0, 0, 0, len, 0 };

    qvscsi_cmd_init(c, channel, id, lun, cdb, 6, VSCSIIF_DMA_FROM_DEVICE,
                    buf, len);
    qvscsi_cmd(f, c);
}

static int lun_state(QVscsiFront *f, int n)
{
    g_autofree char *k = qvscsi_be_key(f, "vscsi-devs/dev-%d/state", n);

    return qxs_read_int(f->x->xs, k, -1);
}

/* ---------------------------------------------------------------------- */
/* Hotplug on image files                                                  */

static void test_hotplug(void)
{
    g_autofree char *dir = g_dir_make_tmp("xen-vscsi-XXXXXX", NULL);
    g_autofree char *qmp = g_build_filename(dir, "qmp.sock", NULL);
    g_autofree char *img = g_build_filename(dir, "lun.img", NULL);
    g_autofree char *spec1 = g_strdup_printf("%s,0:0:2:0", img);
    g_autofree char *img2 = g_build_filename(dir, "lun2.img", NULL);
    g_autofree char *spec2 = g_strdup_printf("%s,0:1:3:5,ro", img2);
    g_autofree char *buf = g_malloc0(1024 * 1024);
    QList *l;
    QDict *rec;
    QXen *x;
    QVscsiFront f;
    QVscsiCmd c;
    ToolRun r;
    uint8_t inq[96];
    unsigned int added, removed;

    g_assert_true(g_file_set_contents(img, buf, 1024 * 1024, NULL));
    g_assert_true(g_file_set_contents(img2, buf, 1024 * 1024, NULL));
    x = qxen_start(DOMID, "-qmp unix:%s,server=on,wait=off", qmp);

    /* No host yet: attach creates vscsi0 (devid 0), then the LUN */
    g_assert_cmpint(TOOL(&r, qmp, "attach", spec1), ==, 0);
    g_assert_nonnull(strstr(r.out, "created xen-pvscsi host 0 (vscsi0)"));
    g_assert_nonnull(strstr(r.out, "as 0:0:2:0 (scsi-hd vscsi0-0-2-0, "
                            "node vscsi0-0-2-0-blk)"));
    tool_free(&r);

    qvscsi_init(&f, x, 0);
    qvscsi_connect(&f);
    g_assert_cmpint(lun_state(&f, 0), ==, 4);
    inquiry(&f, &c, 0, 2, 0, inq, sizeof(inq));
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmphex(inq[0], ==, 0x00);
    g_assert_cmpmem(inq + 16, 13, "QEMU HARDDISK", 13);

    /* The same vdev again: refused before anything is created */
    g_assert_cmpint(TOOL(&r, qmp, "attach", spec1), ==, 2);
    g_assert_nonnull(strstr(r.err, "vdev 0:0:2:0 is in use"));
    tool_free(&r);

    /* With the guest connected: the Reconfiguring sequence */
    g_assert_cmpint(TOOL(&r, qmp, "attach", spec2), ==, 0);
    g_assert_null(strstr(r.out, "created"));
    tool_free(&r);
    qvscsi_reconfigure(&f, &added, &removed);
    g_assert_cmpuint(added, ==, 1);
    g_assert_cmpuint(removed, ==, 0);
    g_assert_cmphex(qvscsi_tur(&f, 1, 3, 5) & ~0xff, ==, 0);

    g_assert_cmpint(TOOL(&r, qmp, "list", "--json"), ==, 0);
    l = json_list(r.out);
    g_assert_cmpuint(qlist_size(l), ==, 2);
    rec = list_find(l, "0:0:2:0");
    g_assert_nonnull(rec);
    g_assert_cmpstr(qdict_get_str(rec, "state"), ==, "connected");
    g_assert_cmpstr(qdict_get_str(rec, "qemu-device"), ==, "scsi-hd");
    g_assert_cmpstr(qdict_get_str(rec, "id"), ==, "vscsi0-0-2-0");
    g_assert_cmpstr(qdict_get_str(rec, "type"), ==, "disk");
    g_assert_cmpstr(qdict_get_str(rec, "model"), ==, "QEMU HARDDISK");
    g_assert_cmpstr(qdict_get_str(rec, "node-name"), ==, "vscsi0-0-2-0-blk");
    rec = list_find(l, "0:1:3:5");
    g_assert_nonnull(rec);
    g_assert_cmpstr(qdict_get_str(rec, "state"), ==, "connected");
    qobject_unref(l);
    tool_free(&r);
    g_assert_cmpint(TOOL(&r, qmp, "list"), ==, 0);
    g_assert_nonnull(strstr(r.out, "0:1:3:5    connected     scsi-hd      "
                            "disk     QEMU     QEMU HARDDISK"));
    tool_free(&r);

    /* detach waits until the guest has let the LUN go */
    tool_start(&r, qmp, "detach", "0:0:2:0", NULL);
    qvscsi_reconfigure(&f, &added, &removed);
    g_assert_cmpuint(removed, ==, 1);
    g_assert_cmpint(tool_wait(&r), ==, 0);
    g_assert_nonnull(strstr(r.out, "detached 0:0:2:0 (vscsi0-0-2-0)"));
    tool_free(&r);
    g_assert_cmpint(lun_state(&f, 0), ==, 6);
    g_assert_cmphex(qvscsi_tur(&f, 0, 2, 0), ==, RSLT_NO_CONNECT);
    g_assert_false(node_exists(x, "vscsi0-0-2-0-blk"));
    g_assert_true(node_exists(x, "vscsi0-1-3-5-blk"));

    g_assert_cmpint(TOOL(&r, qmp, "detach", "0:0:2:0"), ==, 3);
    g_assert_nonnull(strstr(r.err, "no LUN 0:0:2:0"));
    tool_free(&r);
    g_assert_cmpint(TOOL(&r, qmp, "list", "--json"), ==, 0);
    l = json_list(r.out);
    g_assert_cmpuint(qlist_size(l), ==, 1);
    qobject_unref(l);
    tool_free(&r);

    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);
    unlink(img);
    unlink(img2);
    rmdir(dir);
}

/* ---------------------------------------------------------------------- */
/* A destination's arguments: "args" from a running QEMU                   */

static void read10(QVscsiFront *f, int id, int lun, uint32_t lba,
                   uint8_t *buf, size_t len)
{
    uint8_t cdb[10] = { 0x28 };
    QVscsiCmd c;

    stl_be_p(cdb + 2, lba);
    stw_be_p(cdb + 7, len / 512);
    /* the power-on unit attention first */
    for (int i = 0; i < 2; i++) {
        qvscsi_cmd_init(&c, 0, id, lun, cdb, 10, VSCSIIF_DMA_FROM_DEVICE,
                        buf, len);
        qvscsi_cmd(f, &c);
        if (!c.rslt) {
            return;
        }
    }
    g_assert_cmphex(c.rslt, ==, 0);
}

/*
 * The hot-plug caveat of xl save/migrate: a LUN attached since the domain
 * was created is not in its device_model_args, and a destination without
 * it refuses the stream.  "args" with --qmp and no entries prints the
 * running set (command-line LUNs with their own ids, hot-plugged ones,
 * the hosts' options); a destination started with exactly that loads the
 * saved state and serves the same data at the same addresses.
 */
static void test_migrate_args(void)
{
    g_autofree char *dir = g_dir_make_tmp("xen-vscsi-XXXXXX", NULL);
    g_autofree char *qmp = g_build_filename(dir, "qmp.sock", NULL);
    g_autofree char *img0 = g_build_filename(dir, "cmdline.img", NULL);
    g_autofree char *img1 = g_build_filename(dir, "hot.img", NULL);
    g_autofree char *spec = g_strdup_printf("%s,0:0:2:0", img1);
    g_autofree char *state = g_build_filename(dir, "state", NULL);
    g_autofree char *incoming = NULL;
    g_autofree uint8_t *a = g_malloc(64 * 1024);
    g_autofree uint8_t *b = g_malloc(64 * 1024);
    g_autofree uint8_t *r = g_malloc(64 * 1024);
    g_autoptr(GString) s = g_string_new("");
    QList *args;
    QDict *rsp, *h;
    QXen *x;
    QVscsiFront f;
    ToolRun t;

    for (size_t i = 0; i < 64 * 1024; i++) {
        a[i] = i * 7 + 1;
        b[i] = i * 13 + 2;
    }
    g_assert_true(g_file_set_contents(img0, (char *)a, 64 * 1024, NULL));
    g_assert_true(g_file_set_contents(img1, (char *)b, 64 * 1024, NULL));
    x = qxen_start(DOMID, QXEN_MIGRATION_GLOBALS
                   "-qmp unix:%s,server=on,wait=off "
                   "-blockdev driver=file,node-name=f0,filename=%s "
                   "-blockdev driver=raw,node-name=d0,file=f0 "
                   "-device xen-pvscsi,id=h0,devid=0,request-timeout=7,"
                   "grant-map-threshold=64k,reconfigure-timeout=5 "
                   "-device scsi-hd,id=l0,bus=h0.0,scsi-id=0,lun=3,drive=d0",
                   qmp, img0);
    qvscsi_init(&f, x, 0);
    qvscsi_connect(&f);
    g_assert_cmpint(TOOL(&t, qmp, "attach", spec), ==, 0);
    tool_free(&t);
    qvscsi_reconfigure(&f, NULL, NULL);

    g_assert_cmpint(TOOL(&t, qmp, "args", "--json"), ==, 0);
    args = json_list(t.out);
    tool_free(&t);
    for (const QListEntry *e = qlist_first(args); e; e = qlist_next(e)) {
        const char *v = qstring_get_str(qobject_to(QString,
                                                   qlist_entry_obj(e)));

        g_assert_null(strchr(v, ' '));
        g_string_append_printf(s, "%s ", v);
    }
    qobject_unref(args);
    g_test_message("args: %s", s->str);
    g_assert_nonnull(strstr(s->str, "-device xen-pvscsi,id=vscsi0,devid=0,"
                            "max-sg-grant=128,request-timeout=7,"
                            "grant-map-threshold=65536,"
                            "reconfigure-timeout=5 "));
    g_assert_nonnull(strstr(s->str, "-device scsi-hd,id=vscsi0-0-0-3,"));
    g_assert_nonnull(strstr(s->str, "-device scsi-hd,id=vscsi0-0-2-0,"));
    g_assert_nonnull(strstr(s->str, img0));
    g_assert_nonnull(strstr(s->str, img1));

    /* xl save: stop, save the device state; the source goes away */
    rsp = qxen_save_devices_state(x, state);
    g_assert_true(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
    qvscsi_free(&f);
    qxen_stop(x);

    /* The destination, for the restored domain: exactly the tool's output */
    incoming = g_strdup_printf("-incoming file:%s", state);
    x = qxen_start(DOMID + 1, QXEN_MIGRATION_GLOBALS "%s %s", s->str,
                   incoming);
    qxen_wait_incoming(x);
    rsp = qtest_qmp(x->qts, "{'execute': 'query-xen-pvscsi'}");
    h = qobject_to(QDict, qlist_peek(qdict_get_qlist(rsp, "return")));
    g_assert_cmpint(qdict_get_int(h, "request-timeout"), ==, 7);
    g_assert_cmpint(qlist_size(qdict_get_qlist(h, "luns")), ==, 2);
    qobject_unref(rsp);
    qvscsi_init(&f, x, 0);
    qvscsi_connect(&f);
    read10(&f, 0, 3, 0, r, 64 * 1024);
    g_assert_cmpmem(r, 64 * 1024, a, 64 * 1024);
    read10(&f, 2, 0, 0, r, 64 * 1024);
    g_assert_cmpmem(r, 64 * 1024, b, 64 * 1024);
    qvscsi_close(&f);
    qvscsi_free(&f);
    qxen_stop(x);

    /* A LUN the tool cannot write back is named, not dropped */
    x = qxen_start(DOMID, "-qmp unix:%s,server=on,wait=off "
                   "-blockdev driver=null-co,node-name=n0,size=1048576 "
                   "-device xen-pvscsi,id=h0,devid=0 "
                   "-device scsi-hd,bus=h0.0,scsi-id=1,drive=n0", qmp);
    g_assert_cmpint(TOOL(&t, qmp, "args"), ==, 2);
    g_assert_nonnull(strstr(t.err, "LUN 0:0:1:0 (scsi-hd): its block node "
                            "'n0' (driver null-co"));
    tool_free(&t);
    qxen_stop(x);
    unlink(img0);
    unlink(img1);
    unlink(state);
    unlink(qmp);
    rmdir(dir);
}

/* ---------------------------------------------------------------------- */
/* iSCSI LUNs through "args"                                               */

typedef struct Target {
    char *dir;
    char *portal;
    char *iqn;
} Target;

static Target tgt;

static void tgt_run(const char *op, const char *args)
{
    const char *script = getenv("XEN_PVSCSI_TGT_SCRIPT");
    g_autofree char *cmd = NULL;
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    int status;

    g_assert_nonnull(script);
    cmd = g_strdup_printf("sh %s %s %s %s", script, op, tgt.dir,
                          args ? args : "");
    g_assert_true(g_spawn_command_line_sync(cmd, &out, &err, &status, NULL));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        g_test_message("%s: %s%s", cmd, out, err);
        g_assert_not_reached();
    }
    if (!strcmp(op, "start")) {
        g_auto(GStrv) w = g_strsplit(g_strstrip(out), " ", 2);

        g_assert_cmpuint(g_strv_length(w), ==, 2);
        tgt.portal = g_strdup(w[0]);
        tgt.iqn = g_strdup(w[1]);
    }
}

static char *lun_url(int lun)
{
    return g_strdup_printf("iscsi://%s/%s/%d", tgt.portal, tgt.iqn, lun);
}

static void test_iscsi_args(void)
{
    g_autofree char *qmp = NULL;
    g_autofree char *tspec = NULL;
    g_autofree char *disk = NULL, *tape = NULL, *changer = NULL;
    g_autofree char *dspec = NULL, *cspec = NULL;
    g_autofree char *cmdline = NULL;
    g_autoptr(GString) s = g_string_new(NULL);
    QList *args, *l;
    QDict *rec, *res;
    QXen *x;
    QVscsiFront f0, f1;
    QVscsiCmd c;
    ToolRun r;
    uint8_t inq[96];
    unsigned int added, removed;

    tgt.dir = g_dir_make_tmp("xen-vscsi-tgt-XXXXXX", NULL);
    {
        g_autofree char *luns = g_strdup_printf(
            "disk:%s/disk.img:16 tape:%s/tape0 changer:%s:2",
            tgt.dir, tgt.dir, tgt.dir);

        tgt_run("start", luns);
    }
    qmp = g_build_filename(tgt.dir, "qmp.sock", NULL);
    disk = lun_url(1);
    tape = lun_url(2);
    changer = lun_url(3);
    dspec = g_strdup_printf("%s,0:0:0:0", disk);
    tspec = g_strdup_printf("%s,0:0:1:0", tape);
    cspec = g_strdup_printf("%s,1:0:4:0", changer);

    /* The xl.cfg entries, as the admin writes them */
    g_assert_cmpint(TOOL(&r, NULL, "args", "--json", dspec, tspec, cspec),
                    ==, 0);
    args = json_list(r.out);
    tool_free(&r);
    g_assert_cmpuint(qlist_size(args), ==, 16);
    for (const QListEntry *e = qlist_first(args); e; e = qlist_next(e)) {
        const char *a = qstring_get_str(qobject_to(QString,
                                                   qlist_entry_obj(e)));

        g_assert_null(strchr(a, ' '));
        g_string_append_printf(s, "%s ", a);
    }
    qobject_unref(args);
    g_assert_nonnull(strstr(s->str, "-device scsi-block,id=vscsi0-0-0-0,"));
    g_assert_nonnull(strstr(s->str, "-device scsi-generic,id=vscsi0-0-1-0,"));
    g_assert_nonnull(strstr(s->str, "-device scsi-generic,id=vscsi1-0-4-0,"));

    /* QEMU started with exactly that */
    x = qxen_start(DOMID, "-qmp unix:%s,server=on,wait=off %s", qmp,
                   s->str);
    qvscsi_init(&f0, x, 0);
    qvscsi_connect(&f0);
    qvscsi_init(&f1, x, 1);
    qvscsi_connect(&f1);
    inquiry(&f0, &c, 0, 0, 0, inq, sizeof(inq));
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmphex(inq[0], ==, 0x00);              /* disk */
    inquiry(&f0, &c, 0, 1, 0, inq, sizeof(inq));
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmphex(inq[0], ==, 0x01);              /* tape */
    inquiry(&f1, &c, 0, 4, 0, inq, sizeof(inq));
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmphex(inq[0], ==, 0x08);              /* changer */
    /* and nothing anywhere else */
    g_assert_cmphex(qvscsi_tur(&f1, 0, 0, 0), ==, RSLT_NO_CONNECT);

    /* list and resolve: the target's own identity, from both sides */
    g_assert_cmpint(TOOL(&r, qmp, "list", "--json"), ==, 0);
    l = json_list(r.out);
    tool_free(&r);
    g_assert_cmpuint(qlist_size(l), ==, 3);
    rec = list_find(l, "0:0:1:0");
    g_assert_nonnull(rec);
    g_assert_cmpstr(qdict_get_str(rec, "qemu-device"), ==, "scsi-generic");
    g_assert_cmpstr(qdict_get_str(rec, "type"), ==, "tape");
    g_assert_cmpstr(qdict_get_str(rec, "state"), ==, "connected");
    g_assert_cmpstr(qdict_get_str(rec, "node-name"), ==, "vscsi0-0-1-0-blk");
    rec = list_find(l, "1:0:4:0");
    g_assert_nonnull(rec);
    g_assert_cmpstr(qdict_get_str(rec, "type"), ==, "changer");

    g_assert_cmpint(TOOL(&r, NULL, "resolve", "--json", tape), ==, 0);
    res = qobject_to(QDict, qobject_from_json(r.out, &error_abort));
    tool_free(&r);
    g_assert_cmpstr(qdict_get_str(res, "type"), ==, "tape");
    g_assert_cmpstr(qdict_get_str(res, "source"), ==, "iscsi");
    g_assert_cmpstr(qdict_get_str(res, "qemu-device"), ==, "scsi-generic");
    rec = list_find(l, "0:0:1:0");
    g_assert_cmpstr(qdict_get_str(res, "vendor"), ==,
                    qdict_get_str(rec, "vendor"));
    g_assert_cmpstr(qdict_get_str(res, "model"), ==,
                    qdict_get_str(rec, "model"));
    g_assert_nonnull(qdict_get_try_str(res, "wwid"));
    g_assert_cmpuint(qlist_size(qdict_get_qlist(res, "designators")), >, 0);
    /* tgtd gives the LU a NAA name: scsi_id's WWID starts with 3 */
    g_assert_cmpint(qdict_get_str(res, "wwid")[0], ==, '3');
    if (qdict_get_try_str(rec, "scsi-id")) {
        g_assert_cmpstr(qdict_get_str(rec, "scsi-id"), ==,
                        qdict_get_str(res, "wwid"));
    }
    qobject_unref(res);
    qobject_unref(l);

    /* Move the tape: detach, then attach at 0:0:3:0 */
    tool_start(&r, qmp, "detach", "0:0:1:0", NULL);
    qvscsi_reconfigure(&f0, &added, &removed);
    g_assert_cmpuint(removed, ==, 1);
    g_assert_cmpint(tool_wait(&r), ==, 0);
    tool_free(&r);
    g_assert_false(node_exists(x, "vscsi0-0-1-0-blk"));
    g_free(tspec);
    tspec = g_strdup_printf("%s,0:0:3:0", tape);
    g_assert_cmpint(TOOL(&r, qmp, "attach", tspec), ==, 0);
    g_assert_nonnull(strstr(r.out, "(scsi-generic vscsi0-0-3-0"));
    tool_free(&r);
    qvscsi_reconfigure(&f0, &added, &removed);
    g_assert_cmpuint(added, ==, 1);
    inquiry(&f0, &c, 0, 3, 0, inq, sizeof(inq));
    g_assert_cmphex(c.rslt, ==, 0);
    g_assert_cmphex(inq[0], ==, 0x01);
    g_assert_cmphex(qvscsi_tur(&f0, 0, 1, 0), ==, RSLT_NO_CONNECT);

    qvscsi_close(&f0);
    qvscsi_free(&f0);
    qvscsi_close(&f1);
    qvscsi_free(&f1);
    qxen_stop(x);
    tgt_run("stop", NULL);
    {
        g_autofree char *rm = g_strdup_printf("rm -rf %s", tgt.dir);

        g_assert_cmpint(system(rm), ==, 0);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    tool = getenv("XEN_VSCSI");
    /* Built by our own meson project; its absence is a failure */
    g_assert_nonnull(tool);
    g_assert_true(g_file_test(tool, G_FILE_TEST_IS_EXECUTABLE));
    qxen_add_test("/xen-vscsi/hotplug", test_hotplug);
    qxen_add_test("/xen-vscsi/iscsi-args", test_iscsi_args);
    qxen_add_test("/xen-vscsi/migrate-args", test_migrate_args);
    return g_test_run();
}
