/*
 * qtest fault cases for xen-pvscsi, playing xen-scsifront: I/O errors from
 * the storage under the rerror/werror policies, ENOSPC, and QEMU killed
 * after the guest flushed its writes
 *
 * The faults come from a blkdebug node between a LUN's raw format node and
 * its image file; what the guest gets (status and sense on the ring, or no
 * answer while the VM is stopped), what management gets (BLOCK_IO_ERROR,
 * STOP, RESUME, query-status, query-block) and what is in the image file
 * are checked.  Nothing is timed: a request held by a stopped VM is shown
 * held by the ring and query-xen-pvscsi, and by another LUN's request that
 * is answered alone.
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
#define QCOW2_SIZE      (16 * MiB)
/* BLOCK_IO_ERROR's rate limit (but for action "stop"), per device */
#define EVENT_RATE_NS   (1000 * 1000 * 1000LL)

#define CHECK_CONDITION 0x02
/* sense keys */
#define MEDIUM_ERROR    0x3
#define DATA_PROTECT    0x7
#define ABORTED_COMMAND 0xb

/* LUN 0:0:0 (lun0) is the one with faults; 0:1:0 (lun1) has none. */
#define LUN0_QOM_PATH   "/machine/peripheral/lun0"

static char *img[2];            /* raw images of lun0 and lun1 */
static char *qcow2_img;         /* the kill cases' image, and its copy */
static char *qcow2_raw;

/* Set per case: run the HBA (and so its LUNs) in an iothread. */
static bool use_iothread;

typedef struct Env {
    QXen *x;
    QVscsiFront f;
    GQueue events;              /* QMP events not looked at yet, in order */
    bool iostatus;              /* lun0 has an I/O status (see start()) */
} Env;

/* ---------------------------------------------------------------------- */
/* Images                                                                  */

static uint8_t pattern(int n, uint64_t off)
{
    return (off / 512) ^ (n << 7);
}

static char *tmp_file(const char *tmpl)
{
    char *path;
    int fd = g_file_open_tmp(tmpl, &path, NULL);

    g_assert_cmpint(fd, >=, 0);
    close(fd);
    return path;
}

static void make_images(void)
{
    g_autofree char *buf = g_malloc(IMG_SIZE);

    for (int n = 0; n < 2; n++) {
        if (!img[n]) {
            img[n] = tmp_file("xen-pvscsi-faults-XXXXXX.img");
        }
        for (size_t i = 0; i < IMG_SIZE; i++) {
            buf[i] = pattern(n, i);
        }
        g_assert_true(g_file_set_contents(img[n], buf, IMG_SIZE, NULL));
    }
}

static char *read_file(const char *path, size_t size)
{
    char *contents;
    gsize len;

    g_assert_true(g_file_get_contents(path, &contents, &len, NULL));
    g_assert_cmpuint(len, ==, size);
    return contents;
}

/* Image @n holds @data at @off. */
static void check_image(int n, uint64_t off, const void *data, size_t len)
{
    g_autofree char *contents = read_file(img[n], IMG_SIZE);

    g_assert_cmpmem(contents + off, len, data, len);
}

/* Image @n still holds its original pattern at @off. */
static void check_image_untouched(int n, uint64_t off, size_t len)
{
    g_autofree char *contents = read_file(img[n], IMG_SIZE);

    for (size_t i = 0; i < len; i++) {
        g_assert_cmpuint((uint8_t)contents[off + i], ==, pattern(n, off + i));
    }
}

static void random_fill(uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = g_test_rand_int();
    }
}

/* ---------------------------------------------------------------------- */
/* QEMU with a faulty LUN                                                  */

/*
 * blkdebug inject-error rule number @n: fail the @iotype requests that
 * reach the blkdebug node and cover 512-byte sector @sector (-1: any) with
 * errno @err, each time or only @once.  The rule is armed by @event, which
 * the raw node above blkdebug raises as it passes a request down: read_aio,
 * write_aio, flush_to_os.
 */
static char *rule(int n, const char *event, const char *iotype, int err,
                  int64_t sector, bool once)
{
    g_autofree char *at = sector < 0 ? g_strdup("") :
        g_strdup_printf(",inject-error.%d.sector=%" PRId64, n, sector);

    return g_strdup_printf(",inject-error.%d.event=%s"
                           ",inject-error.%d.iotype=%s"
                           ",inject-error.%d.errno=%d%s"
                           ",inject-error.%d.once=%s",
                           n, event, n, iotype, n, err, at, n,
                           once ? "on" : "off");
}

/* Every QMP event, also those that arrive with a command's response */
static bool stash_event(QTestState *qts, const char *name, QDict *event,
                        void *opaque)
{
    Env *e = opaque;

    g_queue_push_tail(&e->events, qobject_ref(event));
    return true;
}

/* TEST UNIT READY until the power-on unit attention is gone. */
static void clear_ua(QVscsiFront *f, int id)
{
    static const uint8_t tur[6] = { 0x00 };
    QVscsiCmd c;

    qvscsi_cmd_init(&c, 0, id, 0, tur, 6, VSCSIIF_DMA_NONE, NULL, 0);
    qvscsi_cmd(f, &c);
    g_assert_cmphex(c.rslt, ==, CHECK_CONDITION);
    g_assert_cmphex(c.sense[2] & 0xf, ==, 0x6);     /* UNIT ATTENTION */
    qvscsi_cmd(f, &c);
    g_assert_cmphex(c.rslt, ==, 0);
}

static void env_connect(Env *e)
{
    qtest_qmp_set_event_callback(e->x->qts, stash_event, e);
    qvscsi_init(&e->f, e->x, 0);
    qvscsi_connect(&e->f);
    clear_ua(&e->f, 0);
    clear_ua(&e->f, 1);
}

/*
 * Host 0 with lun0 at 0:0:0, a scsi-hd on raw node d0 over blkdebug node
 * dbg (with @rules) over file node f0 (image 0), and @lun0_opts appended to
 * its -device; lun1 at 0:1:0, a plain scsi-hd on image 1.
 */
static void start(Env *e, const char *lun0_opts, const char *rules)
{
    make_images();
    memset(e, 0, sizeof(*e));
    g_queue_init(&e->events);
    e->x = qxen_start(DOMID,
        "%s"
        "-blockdev driver=file,node-name=f0,filename=%s "
        "-blockdev driver=blkdebug,node-name=dbg,image=f0%s "
        "-blockdev driver=raw,node-name=d0,file=dbg "
        "-blockdev driver=file,node-name=f1,filename=%s "
        "-blockdev driver=raw,node-name=d1,file=f1 "
        "-device xen-pvscsi,id=vscsi0,devid=0%s "
        "-device scsi-hd,id=lun0,bus=vscsi0.0,channel=0,scsi-id=0,lun=0,"
        "drive=d0%s "
        "-device scsi-hd,id=lun1,bus=vscsi0.0,channel=0,scsi-id=1,lun=0,"
        "drive=d1",
        use_iothread ? "-object iothread,id=io0 " : "",
        img[0], rules, img[1],
        use_iothread ? ",iothread=io0" : "",
        lun0_opts);
    /*
     * The BlockBackend keeps an I/O status, in query-block and as
     * BLOCK_IO_ERROR's "nospace", when an error can stop the VM: werror
     * enospc (scsi-hd's default) or stop, or rerror=stop.
     */
    e->iostatus = !strstr(lun0_opts, "werror=report") ||
                  strstr(lun0_opts, "rerror=stop") != NULL;
    env_connect(e);
}

/* The next QMP event, whatever it is */
static QDict *next_event(Env *e)
{
    while (g_queue_is_empty(&e->events)) {
        QDict *rsp = qtest_qmp_receive_dict(e->x->qts);

        if (!qdict_haskey(rsp, "event")) {
            g_error("QMP response while waiting for an event");
        }
        g_queue_push_tail(&e->events, rsp);
    }
    return g_queue_pop_head(&e->events);
}

/* The next QMP event is @name. */
static QDict *expect_event(Env *e, const char *name)
{
    QDict *ev = next_event(e);

    g_assert_cmpstr(qdict_get_str(ev, "event"), ==, name);
    return ev;
}

/*
 * No QMP event came that was not looked at: a command's response comes
 * after every event emitted before it.
 */
static void expect_no_event(Env *e)
{
    qtest_qmp_assert_success(e->x->qts, "{'execute': 'query-status'}");
    if (!g_queue_is_empty(&e->events)) {
        QDict *ev = g_queue_peek_head(&e->events);

        g_error("unexpected QMP event %s", qdict_get_str(ev, "event"));
    }
}

/* The next event is BLOCK_IO_ERROR of lun0, as given. */
static void expect_io_error(Env *e, const char *operation, const char *action,
                            int err)
{
    g_autoptr(QDict) ev = expect_event(e, "BLOCK_IO_ERROR");
    QDict *d = qdict_get_qdict(ev, "data");

    g_assert_cmpstr(qdict_get_str(d, "qom-path"), ==, LUN0_QOM_PATH);
    g_assert_cmpstr(qdict_get_str(d, "node-name"), ==, "d0");
    g_assert_cmpstr(qdict_get_str(d, "operation"), ==, operation);
    g_assert_cmpstr(qdict_get_str(d, "action"), ==, action);
    g_assert_cmpint(qdict_haskey(d, "nospace"), ==, e->iostatus);
    if (e->iostatus) {
        g_assert_cmpint(qdict_get_bool(d, "nospace"), ==, err == ENOSPC);
    }
    g_assert_cmpstr(qdict_get_str(d, "reason"), ==, g_strerror(err));
}

static void check_status(Env *e, const char *status)
{
    g_autoptr(QDict) r = qtest_qmp_assert_success_ref(e->x->qts,
        "{'execute': 'query-status'}");

    g_assert_cmpstr(qdict_get_str(r, "status"), ==, status);
    g_assert_cmpint(qdict_get_bool(r, "running"), ==,
                    !strcmp(status, "running"));
}

/* query-block's io-status of lun0's BlockBackend (NULL: none) */
static void check_io_status(Env *e, const char *io_status)
{
    g_autoptr(QDict) rsp = qtest_qmp(e->x->qts,
                                     "{'execute': 'query-block'}");
    QListEntry *le;
    bool found = false;

    g_assert_true(qdict_haskey(rsp, "return"));
    QLIST_FOREACH_ENTRY(qdict_get_qlist(rsp, "return"), le) {
        QDict *b = qobject_to(QDict, qlist_entry_obj(le));

        if (!g_strcmp0(qdict_get_try_str(b, "qdev"), "lun0")) {
            g_assert_cmpstr(qdict_get_try_str(b, "io-status"), ==,
                            io_status);
            found = true;
        }
    }
    g_assert_true(found);
}

/* query-blockstats of lun0: its failed reads, writes, flushes */
static void check_failed_ops(Env *e, int64_t rd, int64_t wr, int64_t flush)
{
    g_autoptr(QDict) rsp = qtest_qmp(e->x->qts,
                                     "{'execute': 'query-blockstats'}");
    QListEntry *le;
    bool found = false;

    g_assert_true(qdict_haskey(rsp, "return"));
    QLIST_FOREACH_ENTRY(qdict_get_qlist(rsp, "return"), le) {
        QDict *b = qobject_to(QDict, qlist_entry_obj(le));
        QDict *s = qdict_get_qdict(b, "stats");

        if (g_strcmp0(qdict_get_try_str(b, "qdev"), "lun0")) {
            continue;
        }
        g_assert_cmpint(qdict_get_int(s, "failed_rd_operations"), ==, rd);
        g_assert_cmpint(qdict_get_int(s, "failed_wr_operations"), ==, wr);
        g_assert_cmpint(qdict_get_int(s, "failed_flush_operations"), ==,
                        flush);
        found = true;
    }
    g_assert_true(found);
}

/* query-xen-pvscsi: the requests in flight on host 0 and on lun0 */
static void check_in_flight(Env *e, int64_t n)
{
    g_autoptr(QDict) rsp = qtest_qmp(e->x->qts,
                                     "{'execute': 'query-xen-pvscsi'}");
    QList *hosts;
    QDict *h;
    QListEntry *le;
    bool found = false;

    g_assert_true(qdict_haskey(rsp, "return"));
    hosts = qdict_get_qlist(rsp, "return");
    g_assert_cmpuint(qlist_size(hosts), ==, 1);
    h = qobject_to(QDict, qlist_peek(hosts));
    g_assert_cmpint(qdict_get_int(h, "in-flight"), ==, n);
    g_assert_cmpint(qdict_get_int(h, "abandoned"), ==, 0);
    QLIST_FOREACH_ENTRY(qdict_get_qlist(h, "luns"), le) {
        QDict *l = qobject_to(QDict, qlist_entry_obj(le));

        if (!strcmp(qdict_get_str(l, "vdev"), "0:0:0:0")) {
            g_assert_cmpint(qdict_get_int(l, "in-flight"), ==, n);
            found = true;
        }
    }
    g_assert_true(found);
}

static void drop_events(Env *e)
{
    QDict *ev;

    while ((ev = g_queue_pop_head(&e->events))) {
        qobject_unref(ev);
    }
}

static void env_stop(Env *e)
{
    expect_no_event(e);
    check_in_flight(e, 0);
    qvscsi_close(&e->f);
    qvscsi_free(&e->f);
    drop_events(e);
    qxen_stop(e->x);
}

/* ---------------------------------------------------------------------- */
/* Commands                                                                */

static void rw10_init(QVscsiCmd *c, int id, bool write, uint32_t lba,
                      void *buf, size_t len)
{
    uint8_t cdb[10] = { write ? 0x2a : 0x28 };

    stl_be_p(cdb + 2, lba);
    stw_be_p(cdb + 7, len / 512);
    qvscsi_cmd_init(c, 0, id, 0, cdb, 10,
                    write ? VSCSIIF_DMA_TO_DEVICE : VSCSIIF_DMA_FROM_DEVICE,
                    buf, len);
}

/* READ(10) or WRITE(10) to 0:@id:0, answered alone */
static void rw10(Env *e, QVscsiCmd *c, int id, bool write, uint32_t lba,
                 void *buf, size_t len)
{
    rw10_init(c, id, write, lba, buf, len);
    qvscsi_cmd(&e->f, c);
}

/* Put @c on the ring, and do not wait for it. */
static void send_cmd(Env *e, QVscsiCmd *c)
{
    qvscsi_cmd_start(&e->f, c);
    qvscsi_push(&e->f);
}

static void sync_cache_init(QVscsiCmd *c, int id)
{
    static const uint8_t cdb[10] = { 0x35 };     /* SYNCHRONIZE CACHE(10) */

    qvscsi_cmd_init(c, 0, id, 0, cdb, 10, VSCSIIF_DMA_NONE, NULL, 0);
}

static void check_good(QVscsiCmd *c)
{
    g_assert_true(c->done);
    g_assert_cmphex(c->rslt, ==, 0);
    g_assert_cmpuint(c->sense_len, ==, 0);
    g_assert_cmpuint(c->residual, ==, 0);
}

/* CHECK CONDITION with fixed-format sense @key/@asc/@ascq */
static void check_sense(QVscsiCmd *c, int key, int asc, int ascq)
{
    g_assert_true(c->done);
    g_assert_cmphex(c->rslt, ==, CHECK_CONDITION);
    g_assert_cmpuint(c->sense_len, >=, 14);
    g_assert_cmphex(c->sense[0] & 0x7f, ==, 0x70);  /* fixed, current */
    g_assert_cmphex(c->sense[2] & 0xf, ==, key);
    g_assert_cmphex(c->sense[12], ==, asc);
    g_assert_cmphex(c->sense[13], ==, ascq);
}

/*
 * lun0's request @c failed under a stop policy: BLOCK_IO_ERROR, then STOP;
 * the VM is in io-error.  @c is held: no response for it on the ring, the
 * host counts it in flight, and the host goes on serving lun1, whose
 * response comes alone (a response to @c pushed before it would have been
 * seen first).
 */
static void check_held(Env *e, QVscsiCmd *c, const char *operation, int err)
{
    expect_io_error(e, operation, "stop", err);
    qobject_unref(expect_event(e, "STOP"));
    check_status(e, "io-error");
    check_io_status(e, err == ENOSPC ? "nospace" : "failed");

    g_assert_false(c->done);
    g_assert_cmpuint(qxen_ring_rsp_prod(e->x, &e->f.ring), ==,
                     e->f.ring.rsp_cons);
    check_in_flight(e, 1);
    g_assert_cmphex(qvscsi_tur(&e->f, 0, 1, 0), ==, 0);
    g_assert_false(c->done);
    expect_no_event(e);
}

static void cont(Env *e)
{
    qtest_qmp_assert_success(e->x->qts, "{'execute': 'cont'}");
    qobject_unref(expect_event(e, "RESUME"));
}

/*
 * After "cont" with the fault gone, @c is retried and answered GOOD, once:
 * nothing else comes on the ring, no new error, the VM runs on, and lun1's
 * next request is answered alone.
 */
static void check_resumed(Env *e, QVscsiCmd *c)
{
    qvscsi_cmd_wait(&e->f, c);
    check_good(c);
    g_assert_cmpuint(qxen_ring_rsp_prod(e->x, &e->f.ring), ==,
                     e->f.ring.rsp_cons);
    check_status(e, "running");
    /*
     * (query-block's io-status is not checked: "cont" resets it only on
     * BlockBackends the monitor owns, -drive ones, not a -device's own.)
     */
    check_in_flight(e, 0);
    g_assert_cmphex(qvscsi_tur(&e->f, 0, 1, 0), ==, 0);
    expect_no_event(e);
}

/* ---------------------------------------------------------------------- */
/* rerror/werror=report: the guest gets the error                          */

/*
 * Reads that fail with EIO are CHECK CONDITION, ABORTED COMMAND, I/O
 * PROCESS TERMINATED (00h/06h: scsi_sense_from_errno()'s default), with
 * nothing transferred; ENODATA is MEDIUM ERROR, UNRECOVERED READ ERROR
 * (11h/00h).  The rest of the disk reads fine, the VM runs on, and
 * BLOCK_IO_ERROR reports each (rate-limited per device to one a second of
 * the qtest clock).
 */
static void test_report_read(void)
{
    g_autofree char *r0 = rule(0, "read_aio", "read", EIO, 104, false);
    g_autofree char *r1 = rule(1, "read_aio", "read", ENODATA, 305, false);
    g_autofree char *rules = g_strconcat(r0, r1, NULL);
    uint8_t buf[4096];
    QVscsiCmd c;
    Env e;

    start(&e, "", rules);

    /*
     * LBA 100..107 covers sector 104.  Nothing reaches the guest's pages,
     * which the frontend zeroed (the image has no zero there).
     */
    rw10(&e, &c, 0, false, 100, buf, sizeof(buf));
    check_sense(&c, ABORTED_COMMAND, 0x00, 0x06);
    g_assert_cmpuint(c.residual, ==, sizeof(buf));
    for (size_t i = 0; i < sizeof(buf); i++) {
        g_assert_cmpuint(buf[i], ==, 0);
    }
    expect_io_error(&e, "read", "report", EIO);
    check_status(&e, "running");
    check_io_status(&e, "ok");

    /* Elsewhere the disk reads fine. */
    rw10(&e, &c, 0, false, 200, buf, sizeof(buf));
    check_good(&c);
    for (size_t i = 0; i < sizeof(buf); i++) {
        g_assert_cmpuint(buf[i], ==, pattern(0, 200 * 512 + i));
    }

    rw10(&e, &c, 0, false, 300, buf, sizeof(buf));
    check_sense(&c, MEDIUM_ERROR, 0x11, 0x00);
    g_assert_cmpuint(c.residual, ==, sizeof(buf));
    /* The second event waits for the rate limit's second to pass. */
    expect_no_event(&e);
    qtest_clock_step(e.x->qts, EVENT_RATE_NS);
    expect_io_error(&e, "read", "report", ENODATA);

    /* The fault stays: the guest's retry fails again. */
    rw10(&e, &c, 0, false, 100, buf, sizeof(buf));
    check_sense(&c, ABORTED_COMMAND, 0x00, 0x06);
    qtest_clock_step(e.x->qts, EVENT_RATE_NS);
    expect_io_error(&e, "read", "report", EIO);

    check_failed_ops(&e, 3, 0, 0);
    check_status(&e, "running");
    env_stop(&e);
}

/*
 * Writes that fail with EIO are CHECK CONDITION, ABORTED COMMAND, I/O
 * PROCESS TERMINATED; with ENOSPC, DATA PROTECT, SPACE ALLOCATION FAILED
 * WRITE PROTECT (27h/07h).  Neither reaches the image; other writes do.
 */
static void test_report_write(void)
{
    g_autofree char *r0 = rule(0, "write_aio", "write", EIO, 104, false);
    g_autofree char *r1 = rule(1, "write_aio", "write", ENOSPC, 304, false);
    g_autofree char *rules = g_strconcat(r0, r1, NULL);
    uint8_t buf[4096];
    QVscsiCmd c;
    Env e;

    start(&e, ",werror=report", rules);

    random_fill(buf, sizeof(buf));
    rw10(&e, &c, 0, true, 100, buf, sizeof(buf));
    check_sense(&c, ABORTED_COMMAND, 0x00, 0x06);
    expect_io_error(&e, "write", "report", EIO);
    check_image_untouched(0, 100 * 512, sizeof(buf));
    check_status(&e, "running");

    rw10(&e, &c, 0, true, 200, buf, sizeof(buf));
    check_good(&c);
    check_image(0, 200 * 512, buf, sizeof(buf));

    rw10(&e, &c, 0, true, 300, buf, sizeof(buf));
    check_sense(&c, DATA_PROTECT, 0x27, 0x07);
    check_image_untouched(0, 300 * 512, sizeof(buf));
    expect_no_event(&e);
    qtest_clock_step(e.x->qts, EVENT_RATE_NS);
    expect_io_error(&e, "write", "report", ENOSPC);

    check_failed_ops(&e, 0, 2, 0);
    check_status(&e, "running");
    /* with rerror and werror report, the LUN has no I/O status */
    check_io_status(&e, NULL);
    env_stop(&e);
}

/* ---------------------------------------------------------------------- */
/* rerror/werror=stop: the VM stops, the request waits, "cont" retries it  */

/*
 * A 4 KiB write, then a 256 KiB write whose second 128 KiB chunk (the
 * size scsi-disk writes at a time) fails: each stops the VM and is held;
 * the fault fires once, so after "cont" each is retried and answered GOOD
 * once, with all its data in the image.
 */
static void test_stop_write(void)
{
    g_autofree char *r0 = rule(0, "write_aio", "write", EIO, 104, true);
    g_autofree char *r1 = rule(1, "write_aio", "write", EIO, 1024 + 300,
                               true);
    g_autofree char *rules = g_strconcat(r0, r1, NULL);
    g_autofree uint8_t *big = g_malloc(256 * KiB);
    uint8_t buf[4096];
    QVscsiCmd c;
    Env e;

    start(&e, ",werror=stop", rules);

    random_fill(buf, sizeof(buf));
    rw10_init(&c, 0, true, 100, buf, sizeof(buf));
    send_cmd(&e, &c);
    check_held(&e, &c, "write", EIO);
    check_image_untouched(0, 100 * 512, sizeof(buf));
    cont(&e);
    check_resumed(&e, &c);
    check_image(0, 100 * 512, buf, sizeof(buf));

    random_fill(big, 256 * KiB);
    rw10_init(&c, 0, true, 1024, big, 256 * KiB);
    send_cmd(&e, &c);
    check_held(&e, &c, "write", EIO);
    check_image_untouched(0, (1024 + 256) * 512, 128 * KiB);
    cont(&e);
    check_resumed(&e, &c);
    check_image(0, 1024 * 512, big, 256 * KiB);

    env_stop(&e);
}

/*
 * rerror=stop: a 256 KiB read whose second chunk fails is held; after
 * "cont" the guest gets GOOD and all 256 KiB.
 */
static void test_stop_read(void)
{
    g_autofree char *rules = rule(0, "read_aio", "read", EIO, 1024 + 300,
                                  true);
    g_autofree uint8_t *big = g_malloc0(256 * KiB);
    QVscsiCmd c;
    Env e;

    start(&e, ",rerror=stop", rules);

    rw10_init(&c, 0, false, 1024, big, 256 * KiB);
    send_cmd(&e, &c);
    check_held(&e, &c, "read", EIO);
    cont(&e);
    check_resumed(&e, &c);
    for (size_t i = 0; i < 256 * KiB; i++) {
        g_assert_cmpuint(big[i], ==, pattern(0, 1024 * 512 + i));
    }
    env_stop(&e);
}

/*
 * werror=stop and a failing flush: SYNCHRONIZE CACHE is held (the error is
 * a "write" one for BLOCK_IO_ERROR), and after "cont" it is sent again and
 * answered GOOD once.
 */
static void test_stop_flush(void)
{
    g_autofree char *rules = rule(0, "flush_to_os", "flush", EIO, -1, true);
    uint8_t buf[4096];
    QVscsiCmd c;
    Env e;

    start(&e, ",werror=stop", rules);

    /*
     * Something to flush: the block layer passes a flush down to blkdebug
     * only if there was a write since the last one.
     */
    random_fill(buf, sizeof(buf));
    rw10(&e, &c, 0, true, 100, buf, sizeof(buf));
    check_good(&c);

    sync_cache_init(&c, 0);
    send_cmd(&e, &c);
    check_held(&e, &c, "write", EIO);
    cont(&e);
    check_resumed(&e, &c);
    check_image(0, 100 * 512, buf, sizeof(buf));
    env_stop(&e);
}

/* ---------------------------------------------------------------------- */
/* werror=enospc: stop on ENOSPC only                                      */

/*
 * With werror=enospc an EIO write is reported to the guest (ABORTED
 * COMMAND), an ENOSPC one stops the VM (io-status nospace) and is held.
 * "cont" with the storage still full retries it, and it stops the VM again,
 * still unanswered.  Once the space is there (the blkdebug node taken out
 * with blockdev-reopen of the raw node onto the file) "cont" completes it,
 * GOOD, once, with the data in the image.
 */
static void test_enospc(void)
{
    g_autofree char *r0 = rule(0, "write_aio", "write", EIO, 104, false);
    g_autofree char *r1 = rule(1, "write_aio", "write", ENOSPC, 304, false);
    g_autofree char *rules = g_strconcat(r0, r1, NULL);
    uint8_t buf[4096], buf2[4096];
    QVscsiCmd c;
    Env e;

    start(&e, ",werror=enospc", rules);

    random_fill(buf, sizeof(buf));
    rw10(&e, &c, 0, true, 100, buf, sizeof(buf));
    check_sense(&c, ABORTED_COMMAND, 0x00, 0x06);
    expect_io_error(&e, "write", "report", EIO);
    check_status(&e, "running");

    random_fill(buf2, sizeof(buf2));
    rw10_init(&c, 0, true, 300, buf2, sizeof(buf2));
    send_cmd(&e, &c);
    check_held(&e, &c, "write", ENOSPC);

    /* Still no space: the retry stops the VM again. */
    cont(&e);
    check_held(&e, &c, "write", ENOSPC);
    check_image_untouched(0, 300 * 512, sizeof(buf2));

    qtest_qmp_assert_success(e.x->qts,
        "{'execute': 'blockdev-reopen', 'arguments': {'options': ["
        "{'driver': 'raw', 'node-name': 'd0', 'file': 'f0'}]}}");
    check_status(&e, "io-error");
    cont(&e);
    check_resumed(&e, &c);
    check_image(0, 300 * 512, buf2, sizeof(buf2));

    /* Without blkdebug, the write that failed with EIO works too. */
    rw10(&e, &c, 0, true, 100, buf, sizeof(buf));
    check_good(&c);
    check_image(0, 100 * 512, buf, sizeof(buf));

    /* Each failed attempt counts: the reported one and both stops */
    check_failed_ops(&e, 0, 3, 0);
    env_stop(&e);
}

/* ---------------------------------------------------------------------- */
/* QEMU killed after the guest's flush                                     */

static const char *qemu_img(void)
{
    const char *p = g_getenv("QEMU_IMG");

    if (!p) {
        p = g_getenv("QTEST_QEMU_IMG");
    }
    if (!p) {
        p = access("./qemu-img", X_OK) ? "qemu-img" : "./qemu-img";
    }
    return p;
}

/* Run qemu-img with the arguments up to NULL; assert it exits with 0. */
static void G_GNUC_NULL_TERMINATED run_qemu_img(const char *cmd, ...)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) err = NULL;
    g_autofree char *out = NULL;
    g_autofree char *errout = NULL;
    const char *arg;
    va_list ap;
    int status;

    g_ptr_array_add(argv, (char *)qemu_img());
    g_ptr_array_add(argv, (char *)cmd);
    va_start(ap, cmd);
    while ((arg = va_arg(ap, const char *))) {
        g_ptr_array_add(argv, (char *)arg);
    }
    va_end(ap);
    g_ptr_array_add(argv, NULL);
    if (!g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_SEARCH_PATH,
                      NULL, NULL, &out, &errout, &status, &err)) {
        g_error("%s: %s", qemu_img(), err->message);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        g_error("qemu-img %s: wait status 0x%x\n%s%s", cmd, status, out,
                errout);
    }
}

/*
 * SIGKILL, as the OOM killer or a crash would end QEMU: no exit path, no
 * flush.  We reap QEMU ourselves: libqtest fails a QEMU that died of a
 * signal, but a child it finds already gone (qtest_probe_child()) it only
 * forgets, so that qxen_stop() then just closes up.
 */
static void kill_qemu(QXen *x)
{
    pid_t pid = qtest_pid(x->qts);
    int status;

    g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_true(WIFSIGNALED(status));
    g_assert_cmpint(WTERMSIG(status), ==, SIGKILL);
    g_assert_false(qtest_probe_child(x->qts));
}

static const struct {
    uint32_t lba;
    size_t len;
} kill_writes[] = {
    { 0, 64 * KiB },
    { 5 * MiB / 512, 256 * KiB },               /* indirect segments */
    { 9 * MiB / 512 + 1, 4 * KiB },             /* parts of two clusters */
    { 15 * MiB / 512, 128 * KiB },
};

/*
 * Writes to a fresh qcow2 image (4 KiB clusters: they allocate clusters,
 * L2 tables and refcount blocks all over the image), each acknowledged;
 * then, with @fua, nothing else (each write had FUA set), or else
 * SYNCHRONIZE CACHE, acknowledged.  QEMU is killed with SIGKILL: qemu-img
 * check finds the image clean (exit 0) and the data is all there, the rest
 * reading as zeroes.
 */
static void do_test_kill(bool fua)
{
    g_autofree uint8_t *expect = g_malloc0(QCOW2_SIZE);
    g_autofree char *raw = NULL;
    QVscsiCmd c;
    Env e;

    if (!qcow2_img) {
        qcow2_img = tmp_file("xen-pvscsi-faults-XXXXXX.qcow2");
        qcow2_raw = tmp_file("xen-pvscsi-faults-XXXXXX.raw");
    }
    run_qemu_img("create", "-q", "-f", "qcow2", "-o", "cluster_size=4096",
                 qcow2_img, "16M", NULL);

    memset(&e, 0, sizeof(e));
    g_queue_init(&e.events);
    e.x = qxen_start(DOMID,
        "%s"
        "-blockdev driver=file,node-name=qf,filename=%s "
        "-blockdev driver=qcow2,node-name=q0,file=qf "
        "-blockdev driver=null-co,node-name=n1,size=1048576 "
        "-device xen-pvscsi,id=vscsi0,devid=0%s "
        "-device scsi-hd,id=lun0,bus=vscsi0.0,channel=0,scsi-id=0,lun=0,"
        "drive=q0 "
        "-device scsi-hd,id=lun1,bus=vscsi0.0,channel=0,scsi-id=1,lun=0,"
        "drive=n1",
        use_iothread ? "-object iothread,id=io0 " : "",
        qcow2_img,
        use_iothread ? ",iothread=io0" : "");
    env_connect(&e);

    for (int i = 0; i < ARRAY_SIZE(kill_writes); i++) {
        uint8_t *data = expect + kill_writes[i].lba * 512;

        random_fill(data, kill_writes[i].len);
        rw10_init(&c, 0, true, kill_writes[i].lba, data, kill_writes[i].len);
        if (fua) {
            c.cdb[1] = 0x08;
        }
        qvscsi_cmd(&e.f, &c);
        check_good(&c);
    }
    if (!fua) {
        sync_cache_init(&c, 0);
        qvscsi_cmd(&e.f, &c);
        check_good(&c);
    }

    kill_qemu(e.x);
    qvscsi_free(&e.f);
    drop_events(&e);
    qxen_stop(e.x);

    /* exit status 0: no corruption, no leaked cluster */
    run_qemu_img("check", "-q", "-f", "qcow2", qcow2_img, NULL);
    run_qemu_img("convert", "-f", "qcow2", "-O", "raw", qcow2_img, qcow2_raw,
                 NULL);
    raw = read_file(qcow2_raw, QCOW2_SIZE);
    g_assert_cmpmem(raw, QCOW2_SIZE, expect, QCOW2_SIZE);
}

static void test_kill_sync_cache(void)
{
    do_test_kill(false);
}

static void test_kill_fua(void)
{
    do_test_kill(true);
}

/* ---------------------------------------------------------------------- */

static const QXenTestCase cases[] = {
    { "report/read", test_report_read },
    { "report/write", test_report_write },
    { "stop/write", test_stop_write },
    { "stop/read", test_stop_read },
    { "stop/flush", test_stop_flush },
    { "enospc", test_enospc },
    { "kill/sync-cache", test_kill_sync_cache },
    { "kill/fua", test_kill_fua },
};

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    qxen_add_tests_twice("xen-pvscsi-faults", cases, ARRAY_SIZE(cases),
                         &use_iothread);
    ret = g_test_run();
    for (int n = 0; n < 2; n++) {
        if (img[n]) {
            unlink(img[n]);
            g_free(img[n]);
        }
    }
    if (qcow2_img) {
        unlink(qcow2_img);
        unlink(qcow2_raw);
        g_free(qcow2_img);
        g_free(qcow2_raw);
    }
    return ret;
}
