/*
 * qtest for the xen-qtest-hv emulation, proven on QEMU's own xen-disk
 *
 * The test plays a Xen blkfront: xenstore handshake through libxenstore,
 * a granted ring page, grant-copied data and event channels both ways.  It
 * also feeds the emulation bad input (malformed xenstore messages, bad
 * grant references) and checks that QEMU survives and stays usable.
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/socket.h>
#include <sys/un.h>
#include "qemu/units.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "libqos/xen-qtest.h"
#include "libqos/xen-blkif.h"

#define DOMID           1
#define IMG_SIZE        (1 * MiB)

typedef struct BlkFront {
    QXen *x;
    char *fe;                   /* frontend path */
    char *be;                   /* backend path */
    QXenRing ring;
    uint32_t port;
    uint64_t data_gpa;
    uint32_t data_ref;
} BlkFront;

static char *img_path;

static void make_image(void)
{
    g_autofree char *buf = g_malloc0(IMG_SIZE);
    int fd;

    if (!img_path) {
        fd = g_file_open_tmp("xen-qtest-hv-XXXXXX.img", &img_path, NULL);
        g_assert_cmpint(fd, >=, 0);
        close(fd);
    }
    for (size_t i = 0; i < IMG_SIZE; i++) {
        buf[i] = i / 512;       /* every sector holds its own number */
    }
    g_assert_true(g_file_set_contents(img_path, buf, IMG_SIZE, NULL));
}

static void blkfront_init(BlkFront *f, QXen *x, const char *backend_type,
                          unsigned int vdev)
{
    f->x = x;
    f->fe = g_strdup_printf("/local/domain/%u/device/vbd/%u", x->domid, vdev);
    f->be = g_strdup_printf("/local/domain/0/backend/%s/%u/%u", backend_type,
                            x->domid, vdev);
}

static void blkfront_free(BlkFront *f)
{
    g_free(f->fe);
    g_free(f->be);
}

static char *fe_key(BlkFront *f, const char *key)
{
    return g_strdup_printf("%s/%s", f->fe, key);
}

static char *be_key(BlkFront *f, const char *key)
{
    return g_strdup_printf("%s/%s", f->be, key);
}

static void fe_write(BlkFront *f, const char *key, const char *val)
{
    g_autofree char *path = fe_key(f, key);

    qxs_write(f->x->xs, path, val);
}

static void be_wait_state(BlkFront *f, int state)
{
    g_autofree char *path = be_key(f, "state");

    qxs_wait_state(f->x, f->x->xs, path, state);
}

/* The frontend side of the connection handshake, up to Connected. */
static void blkfront_connect(BlkFront *f)
{
    QXen *x = f->x;
    g_autofree char *path = be_key(f, "state");
    char val[16];

    g_assert_cmpint(qxs_read_int(x->xs, path, -1), ==, 2);  /* InitWait */
    qxen_ring_init(x, &f->ring, 112);
    g_assert_cmpuint(f->ring.nr_ents, ==, 32);
    f->port = qxen_evtchn_alloc(x);
    f->data_gpa = qxen_alloc_pages(x, 1);
    f->data_ref = qxen_grant(x, f->data_gpa, false);

    snprintf(val, sizeof(val), "%u", f->ring.ref);
    fe_write(f, "ring-ref", val);
    snprintf(val, sizeof(val), "%u", f->port);
    fe_write(f, "event-channel", val);
    fe_write(f, "protocol", "x86_64-abi");
    fe_write(f, "state", "3");                      /* Initialised */
    be_wait_state(f, 4);                            /* Connected */
    fe_write(f, "state", "4");
}

/* Frontend closes: Closing, wait for the backend, Closed. */
static void blkfront_close(BlkFront *f)
{
    fe_write(f, "state", "5");
    be_wait_state(f, 5);
    fe_write(f, "state", "6");
    be_wait_state(f, 6);
}

static void blkfront_release(BlkFront *f)
{
    /* The backend has let go of every grant: nothing is still mapped. */
    qxen_ring_destroy(f->x, &f->ring);
    qxen_ungrant(f->x, f->data_ref);
    qxen_evtchn_free(f->x, f->port);
}

static int16_t blkfront_rw(BlkFront *f, uint8_t op, uint64_t sector,
                           uint32_t gref, uint8_t first, uint8_t last)
{
    static uint64_t next_id = 0x1000;
    QXen *x = f->x;
    BlkifRequest req = {
        .operation = op,
        .nr_segments = 1,
        .id = ++next_id,
        .sector_number = sector,
        .seg[0] = { .gref = gref, .first_sect = first, .last_sect = last },
    };
    BlkifResponse rsp;

    qxen_ring_put_request(x, &f->ring, &req, sizeof(req));
    if (qxen_ring_push_requests(x, &f->ring)) {
        qxen_evtchn_kick(x, f->port);
    }
    g_assert_true(qxen_ring_wait_responses(x, &f->ring, 1, QXEN_TIMEOUT_MS));
    qxen_ring_get_response(x, &f->ring, &rsp, sizeof(rsp));
    g_assert_cmphex(rsp.id, ==, req.id);
    g_assert_cmpuint(rsp.operation, ==, op);
    return rsp.status;
}

static void check_sector_in_image(uint64_t sector, const void *data)
{
    g_autofree char *contents = NULL;
    gsize len;

    g_assert_true(g_file_get_contents(img_path, &contents, &len, NULL));
    g_assert_cmpuint(len, ==, IMG_SIZE);
    g_assert_cmpmem(contents + sector * 512, 512, data, 512);
}

static QXen *start_with_disk(const char *extra)
{
    make_image();
    return qxen_start(DOMID,
                      "-blockdev driver=file,node-name=f0,filename=%s "
                      "-blockdev driver=raw,node-name=d0,file=f0 "
                      "-device xen-disk,id=xvda,vdev=xvda,drive=d0%s",
                      img_path, extra);
}

static void do_test_rw(const char *extra)
{
    QXen *x = start_with_disk(extra);
    BlkFront f;
    uint8_t buf[512], expect[512];
    uint32_t notifies;

    blkfront_init(&f, x, "qdisk", VDEV_XVDA);
    blkfront_connect(&f);

    /* READ sector 3 into the granted page */
    notifies = qxen_notify_count(x);
    g_assert_cmpint(blkfront_rw(&f, BLKIF_OP_READ, 3, f.data_ref, 0, 0), ==,
                    BLKIF_RSP_OKAY);
    qtest_memread(x->qts, f.data_gpa, buf, sizeof(buf));
    memset(expect, 3, sizeof(expect));
    g_assert_cmpmem(buf, sizeof(buf), expect, sizeof(expect));

    /* The response came with an event on our port and the upcall line. */
    g_assert_true(qxen_evtchn_wait(x, f.port, QXEN_TIMEOUT_MS));
    g_assert_cmpuint(qxen_notify_count(x), >, notifies);
    g_assert_true(qxen_upcall_level(x));
    qxen_evtchn_ack(x, f.port);
    g_assert_false(qxen_evtchn_pending(x, f.port));
    g_assert_false(qxen_upcall_level(x));

    /* WRITE a pattern to sector 7, from the second half of the page */
    for (int i = 0; i < 512; i++) {
        buf[i] = 0xa5 ^ i;
    }
    qtest_memwrite(x->qts, f.data_gpa + 2048, buf, sizeof(buf));
    g_assert_cmpint(blkfront_rw(&f, BLKIF_OP_WRITE, 7, f.data_ref, 4, 4), ==,
                    BLKIF_RSP_OKAY);
    check_sector_in_image(7, buf);
    /* ... and read it back into the first half */
    qtest_memset(x->qts, f.data_gpa, 0, 512);
    g_assert_cmpint(blkfront_rw(&f, BLKIF_OP_READ, 7, f.data_ref, 0, 0), ==,
                    BLKIF_RSP_OKAY);
    qtest_memread(x->qts, f.data_gpa, expect, sizeof(expect));
    g_assert_cmpmem(expect, sizeof(expect), buf, sizeof(buf));

    blkfront_close(&f);
    blkfront_release(&f);
    blkfront_free(&f);
    qxen_stop(x);
}

static void test_rw(void)
{
    do_test_rw("");
}

static void test_rw_iothread(void)
{
    do_test_rw(",iothread=io0 -object iothread,id=io0");
}

/* QMP device_del with the frontend's close sequence, then device_add. */
static void test_unplug_replug(void)
{
    QXen *x = start_with_disk("");
    BlkFront f, g;
    g_autofree char *be_path = NULL;
    uint8_t buf[512];

    blkfront_init(&f, x, "qdisk", VDEV_XVDA);
    blkfront_connect(&f);
    g_assert_cmpint(blkfront_rw(&f, BLKIF_OP_READ, 1, f.data_ref, 0, 0), ==,
                    BLKIF_RSP_OKAY);

    qtest_qmp_device_del_send(x->qts, "xvda");
    be_wait_state(&f, 5);                           /* Closing */
    /* Not deleted until the frontend has closed. */
    g_assert_true(qxs_exists(x->xs, f.be));
    fe_write(&f, "state", "5");
    fe_write(&f, "state", "6");
    qtest_qmp_eventwait(x->qts, "DEVICE_DELETED");
    g_assert_true(qxs_wait_value(x, x->xs, f.be, NULL, QXEN_TIMEOUT_MS));
    blkfront_release(&f);

    /* A new disk on the same drive, under another vdev. */
    qtest_qmp_device_add(x->qts, "xen-disk", "xvdb",
                         "{'vdev': 'xvdb', 'drive': 'd0'}");
    blkfront_init(&g, x, "qdisk", VDEV_XVDB);
    be_path = be_key(&g, "state");
    qxs_wait_state(x, x->xs, be_path, 2);
    blkfront_connect(&g);
    g_assert_cmpint(blkfront_rw(&g, BLKIF_OP_READ, 5, g.data_ref, 0, 0), ==,
                    BLKIF_RSP_OKAY);
    qtest_memread(x->qts, g.data_gpa, buf, sizeof(buf));
    g_assert_cmpuint(buf[0], ==, 5);
    g_assert_cmpuint(buf[511], ==, 5);
    blkfront_close(&g);
    blkfront_release(&g);

    blkfront_free(&f);
    blkfront_free(&g);
    qxen_stop(x);
}

/* A backend created by the "toolstack" writing xenstore as dom0. */
static void test_toolstack(void)
{
    QXen *x;
    BlkFront f;
    struct xs_handle *tool;
    g_autofree char *fe_state = NULL;
    static const struct {
        const char *key;
        const char *val;
    } keys[] = {
        { "frontend-id", "1" },
        { "dev", "xvdc" },
        { "device-type", "disk" },
        { "mode", "w" },
        { "state", "1" },
        { "online", "1" },
    };
    uint8_t buf[512];

    make_image();
    x = qxen_start(DOMID, "%s", "");
    tool = x->xs_priv;
    blkfront_init(&f, x, "qdisk", VDEV_XVDC);

    /* The guest cannot create backends. */
    g_assert_false(qxs_try_write(x->xs, "/local/domain/0/backend/qdisk/1/1",
                                 "x"));

    /*
     * Like libxl: the backend directory first, readable by the guest, so
     * that the nodes written into it inherit that.
     */
    qxs_mkdir(tool, f.be);
    {
        unsigned int readers[] = { DOMID };
        qxs_set_perms(tool, f.be, 0, readers, 1);
    }
    {
        g_autofree char *k = be_key(&f, "frontend");
        qxs_write(tool, k, f.fe);
    }
    {
        g_autofree char *k = be_key(&f, "params");
        qxs_write(tool, k, img_path);
    }
    for (int i = 0; i < ARRAY_SIZE(keys); i++) {
        g_autofree char *k = be_key(&f, keys[i].key);
        qxs_write(tool, k, keys[i].val);
    }
    {
        g_autofree char *k = be_key(&f, "state");
        qxs_wait_state(x, tool, k, 2);
    }
    fe_state = fe_key(&f, "state");
    g_assert_cmpint(qxs_read_int(x->xs, fe_state, -1), ==, 1);

    blkfront_connect(&f);
    g_assert_cmpint(blkfront_rw(&f, BLKIF_OP_READ, 9, f.data_ref, 0, 0), ==,
                    BLKIF_RSP_OKAY);
    qtest_memread(x->qts, f.data_gpa, buf, sizeof(buf));
    g_assert_cmpuint(buf[100], ==, 9);
    blkfront_close(&f);
    blkfront_release(&f);
    blkfront_free(&f);
    qxen_stop(x);
}

/* xenstore semantics seen by the two connections. */
static void test_xenstore(void)
{
    QXen *x = qxen_start(DOMID, "%s", "");
    g_autofree char *dom0_secret = NULL;
    unsigned int n, readers[] = { DOMID };
    char **dir;

    /* The guest's home: readable domid, writable device/ */
    g_assert_cmpint(qxs_read_int(x->xs, "/local/domain/1/domid", -1), ==, 1);
    g_assert_true(qxs_try_write(x->xs, "/local/domain/1/data/k", "v"));
    /* relative paths are relative to the guest's home */
    dom0_secret = qxs_read(x->xs, "data/k");
    g_assert_cmpstr(dom0_secret, ==, "v");
    g_clear_pointer(&dom0_secret, g_free);
    g_assert_false(qxs_try_write(x->xs, "/local/domain/1/domid", "7"));

    /* dom0's private node: invisible to the guest until permitted */
    qxs_write(x->xs_priv, "/tool/secret", "42");
    g_assert_null(qxs_read(x->xs, "/tool/secret"));
    g_assert_cmpint(errno, ==, EACCES);
    qxs_set_perms(x->xs_priv, "/tool/secret", 0, readers, 1);
    dom0_secret = qxs_read(x->xs, "/tool/secret");
    g_assert_cmpstr(dom0_secret, ==, "42");
    g_assert_false(qxs_try_write(x->xs, "/tool/secret", "43"));

    /* mkdir, directory, rm */
    qxs_mkdir(x->xs_priv, "/tool/dir/a");
    qxs_mkdir(x->xs_priv, "/tool/dir/b");
    dir = qxs_directory(x->xs_priv, "/tool/dir", &n);
    g_assert_cmpuint(n, ==, 2);
    g_strfreev(dir);
    qxs_rm(x->xs_priv, "/tool/dir");
    g_assert_false(qxs_exists(x->xs_priv, "/tool/dir/a"));

    /* A watch set by one connection fires for a write by the other. */
    qxs_write(x->xs, "/local/domain/1/data/w", "0");
    {
        unsigned int r2[] = { 0 };
        qxs_set_perms(x->xs, "/local/domain/1/data/w", DOMID, r2, 1);
    }
    qxs_write(x->xs_priv, "/local/domain/1/data/w", "1");
    g_assert_true(qxs_wait_value(x, x->xs, "/local/domain/1/data/w", "1",
                                 QXEN_TIMEOUT_MS));

    /* A transaction is only visible when committed. */
    {
        xs_transaction_t t = xs_transaction_start(x->xs_priv);
        g_autofree char *v = NULL;

        g_assert_cmpuint(t, !=, XBT_NULL);
        g_assert_true(xs_write(x->xs_priv, t, "/tool/tx", "1", 1));
        g_assert_null(qxs_read(x->xs_priv, "/tool/tx"));
        g_assert_true(xs_transaction_end(x->xs_priv, t, false));
        v = qxs_read(x->xs_priv, "/tool/tx");
        g_assert_cmpstr(v, ==, "1");
    }
    qxen_stop(x);
}

/* Raw wire messages: what a broken or hostile client could send. */
static int raw_connect(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpuint(strlen(path), <, sizeof(addr.sun_path));
    strcpy(addr.sun_path, path);
    g_assert_cmpint(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), ==,
                    0);
    return fd;
}

static void raw_send(int fd, uint32_t type, uint32_t len, const void *data,
                     size_t data_len)
{
    uint32_t hdr[4] = { type, 0x77, 0, len };

    g_assert_cmpint(write(fd, hdr, sizeof(hdr)), ==, sizeof(hdr));
    if (data_len) {
        g_assert_cmpint(write(fd, data, data_len), ==, data_len);
    }
}

/* Returns the reply's type and payload, or -1 if the peer closed. */
static int raw_reply(int fd, char *payload, size_t size)
{
    uint32_t hdr[4];
    struct timeval tv = { .tv_sec = 10 };
    ssize_t n;

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    n = recv(fd, hdr, sizeof(hdr), MSG_WAITALL);
    if (n <= 0) {
        return -1;
    }
    g_assert_cmpint(n, ==, sizeof(hdr));
    g_assert_cmpuint(hdr[1], ==, 0x77);
    g_assert_cmpuint(hdr[3], <, size);
    n = recv(fd, payload, hdr[3], MSG_WAITALL);
    g_assert_cmpint(n, ==, hdr[3]);
    payload[n] = 0;
    return hdr[0];
}

static void assert_qemu_alive(QXen *x)
{
    QDict *rsp = qtest_qmp(x->qts, "{'execute': 'query-status'}");

    g_assert_true(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
}

static void test_malformed_xenstore(void)
{
    QXen *x = qxen_start(DOMID, "%s", "");
    char payload[4200];
    int fd;

    /* The guest connection is busy with libxenstore: use the second one. */
    xs_close(x->xs_priv);
    x->xs_priv = NULL;

    /* An unknown message type gets an error reply; the connection stays. */
    fd = raw_connect(x->xs_priv_path);
    raw_send(fd, 1234, 2, "/", 2);
    g_assert_cmpint(raw_reply(fd, payload, sizeof(payload)), ==, 16);
    g_assert_cmpstr(payload, ==, "ENOSYS");
    /* A path that is not NUL-terminated: connection closed. */
    raw_send(fd, 2 /* XS_READ */, 4, "/abc", 4);
    g_assert_cmpint(raw_reply(fd, payload, sizeof(payload)), ==, -1);
    close(fd);
    assert_qemu_alive(x);

    /* Longer than XENSTORE_PAYLOAD_MAX: closed before reading it. */
    fd = raw_connect(x->xs_priv_path);
    raw_send(fd, 2, 0x7fffffff, NULL, 0);
    g_assert_cmpint(raw_reply(fd, payload, sizeof(payload)), ==, -1);
    close(fd);
    assert_qemu_alive(x);

    /* Bad permissions and transaction ids are answered, not fatal. */
    fd = raw_connect(x->xs_priv_path);
    raw_send(fd, 4 /* XS_WATCH */, 0, NULL, 0);
    g_assert_cmpint(raw_reply(fd, payload, sizeof(payload)), ==, -1);
    close(fd);
    fd = raw_connect(x->xs_priv_path);
    {
        static const char set_perms[] = "/tool\0q5";
        uint32_t hdr[4] = { 14 /* XS_SET_PERMS */, 0x77, 0,
                            sizeof(set_perms) };

        g_assert_cmpint(write(fd, hdr, sizeof(hdr)), ==, sizeof(hdr));
        g_assert_cmpint(write(fd, set_perms, sizeof(set_perms)), ==,
                        sizeof(set_perms));
        g_assert_cmpint(raw_reply(fd, payload, sizeof(payload)), ==, 16);
        g_assert_cmpstr(payload, ==, "EINVAL");
    }
    {
        /* XS_READ in a transaction this connection never started */
        uint32_t hdr[4] = { 2, 0x77, 4242, 2 };

        g_assert_cmpint(write(fd, hdr, sizeof(hdr)), ==, sizeof(hdr));
        g_assert_cmpint(write(fd, "/", 2), ==, 2);
        g_assert_cmpint(raw_reply(fd, payload, sizeof(payload)), ==, 16);
        g_assert_cmpstr(payload, ==, "ENOENT");
    }
    close(fd);

    /* After all that, libxenstore works on both connections. */
    x->xs_priv = qxen_xs_open(x, true);
    qxs_write(x->xs_priv, "/tool/ok", "yes");
    g_assert_cmpint(qxs_read_int(x->xs, "/local/domain/1/domid", -1), ==, 1);
    assert_qemu_alive(x);
    qxen_stop(x);
}

/* Grant references that the backend must refuse without harm. */
static void test_bad_grants(void)
{
    QXen *x = start_with_disk("");
    BlkFront f;
    uint32_t ro_ref, mmio_ref;
    uint8_t zero[512] = { 0 }, buf[512];

    blkfront_init(&f, x, "qdisk", VDEV_XVDA);
    blkfront_connect(&f);

    /* Out of the table */
    g_assert_cmpint(blkfront_rw(&f, BLKIF_OP_READ, 1, 100000, 0, 0), ==,
                    BLKIF_RSP_ERROR);
    /* Never granted */
    g_assert_cmpint(blkfront_rw(&f, BLKIF_OP_READ, 1, 2000, 0, 0), ==,
                    BLKIF_RSP_ERROR);
    /* Read-only grant for a READ, which writes guest memory */
    ro_ref = qxen_grant(x, f.data_gpa, true);
    qtest_memset(x->qts, f.data_gpa, 0, 512);
    g_assert_cmpint(blkfront_rw(&f, BLKIF_OP_READ, 1, ro_ref, 0, 0), ==,
                    BLKIF_RSP_ERROR);
    qtest_memread(x->qts, f.data_gpa, buf, sizeof(buf));
    g_assert_cmpmem(buf, sizeof(buf), zero, sizeof(zero));
    /* ... but fine for a WRITE */
    g_assert_cmpint(blkfront_rw(&f, BLKIF_OP_WRITE, 2, ro_ref, 0, 0), ==,
                    BLKIF_RSP_OKAY);
    check_sector_in_image(2, zero);
    qxen_ungrant(x, ro_ref);
    /* A frame that is not RAM: the emulation's own registers */
    mmio_ref = qxen_grant(x, QXEN_MMIO_BASE, false);
    g_assert_cmpint(blkfront_rw(&f, BLKIF_OP_READ, 1, mmio_ref, 0, 0), ==,
                    BLKIF_RSP_ERROR);
    qxen_ungrant(x, mmio_ref);
    /* The grant table page itself */
    mmio_ref = qxen_grant(x, QXEN_GNTTAB_BASE, false);
    g_assert_cmpint(blkfront_rw(&f, BLKIF_OP_READ, 1, mmio_ref, 0, 0), ==,
                    BLKIF_RSP_ERROR);
    qxen_ungrant(x, mmio_ref);

    /* Kicks to ports nobody bound are ignored. */
    qxen_evtchn_kick(x, 0);
    qxen_evtchn_kick(x, 63);
    qxen_evtchn_kick(x, 1000);

    /* Still working */
    g_assert_cmpint(blkfront_rw(&f, BLKIF_OP_READ, 4, f.data_ref, 0, 0), ==,
                    BLKIF_RSP_OKAY);
    blkfront_close(&f);
    blkfront_release(&f);
    blkfront_free(&f);
    qxen_stop(x);
}

/* A ring reference the backend cannot map: it must not connect. */
static void test_bad_ring_ref(void)
{
    QXen *x = start_with_disk("");
    BlkFront f;
    g_autofree char *be_state = NULL;

    blkfront_init(&f, x, "qdisk", VDEV_XVDA);
    be_state = be_key(&f, "state");
    fe_write(&f, "ring-ref", "99999");
    fe_write(&f, "event-channel", "3");
    fe_write(&f, "protocol", "x86_64-abi");
    fe_write(&f, "state", "3");
    /* The backend gives up on the connection: never Connected. */
    g_assert_false(qxs_wait_value(x, x->xs, be_state, "4", 500));
    assert_qemu_alive(x);

    /* The frontend retries properly and gets there. */
    fe_write(&f, "state", "6");
    qxs_wait_state(x, x->xs, be_state, 6);
    fe_write(&f, "state", "1");
    qxs_wait_state(x, x->xs, be_state, 2);
    blkfront_connect(&f);
    g_assert_cmpint(blkfront_rw(&f, BLKIF_OP_READ, 4, f.data_ref, 0, 0), ==,
                    BLKIF_RSP_OKAY);
    blkfront_close(&f);
    blkfront_release(&f);
    blkfront_free(&f);
    qxen_stop(x);
}

/*
 * Start QEMU with @args and expect it to refuse them with an error that
 * contains @msg.
 */
static void expect_startup_error(const char *args, const char *msg)
{
    g_autofree char *cmd = g_strdup_printf("%s -M pc -nodefaults -display none "
                                           "%s", g_getenv("QTEST_QEMU_BINARY"),
                                           args);
    g_autofree char *err = NULL;
    g_auto(GStrv) argv = NULL;
    int status;

    g_assert_true(g_shell_parse_argv(cmd, NULL, &argv, NULL));
    g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL,
                               NULL, NULL, NULL, &err, &status, NULL));
    g_assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (!strstr(err, msg)) {
        g_error("expected \"%s\" in QEMU's error output, got: %s", msg, err);
    }
}

static void test_bad_properties(void)
{
    expect_startup_error("-accel tcg -chardev null,id=c "
                         "-device xen-qtest-hv,xenstore=c",
                         "only works with -accel qtest");
    expect_startup_error("-accel qtest -qtest null -chardev null,id=c "
                         "-device xen-qtest-hv,xenstore=c,domid=0",
                         "domid must be between 1 and");
    expect_startup_error("-accel qtest -qtest null -chardev null,id=c "
                         "-device xen-qtest-hv,xenstore=c,gnttab-frames=33",
                         "gnttab-frames must be between 1 and 32");
    expect_startup_error("-accel qtest -qtest null -chardev null,id=c "
                         "-device xen-qtest-hv,xenstore=c,gnttab-frames=16",
                         "overlap");
    expect_startup_error("-accel qtest -qtest null "
                         "-device xen-qtest-hv",
                         "property 'xenstore' (a chardev) is required");
    expect_startup_error("-accel qtest -qtest null -chardev null,id=c "
                         "-chardev null,id=d "
                         "-device xen-qtest-hv,xenstore=c "
                         "-device xen-qtest-hv,xenstore=d",
                         "only one xen-qtest-hv device is allowed");
}

/*
 * The case watchdog's own test, registered only for
 * tests/qtest/xen-qtest-watchdog-test.sh (QXEN_WATCHDOG_SELFTEST=1, with a
 * short QXEN_CASE_TIMEOUT): QEMU stopped with SIGSTOP never answers the
 * qtest command, so the watchdog must end the program, report on QEMU and
 * on a watched process that is no child of ours, and kill both.
 */
static void test_watchdog_selftest(void)
{
    QXen *x = qxen_start(DOMID, "%s", "");
    g_autofree char *out = NULL;
    pid_t qemu = qtest_pid(x->qts);
    int daemon, status;

    /* a "daemon": its shell has exited, init or a subreaper adopts it */
    g_assert_true(g_spawn_command_line_sync(
                      "sh -c 'sleep 300 </dev/null >/dev/null 2>&1 & "
                      "echo $!'", &out, NULL, &status, NULL));
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    daemon = atoi(out);
    g_assert_cmpint(daemon, >, 1);
    qxen_watchdog_watch_pid(daemon);
    g_test_message("qemu pid %d, daemon pid %d", (int)qemu, daemon);
    g_assert_cmpint(kill(qemu, SIGSTOP), ==, 0);
    qtest_readl(x->qts, QXEN_MMIO_BASE + QXEN_REG_DOMID);
    g_assert_not_reached();
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    qxen_add_test("/xen-qtest-hv/xen-disk/rw", test_rw);
    qxen_add_test("/xen-qtest-hv/xen-disk/rw-iothread", test_rw_iothread);
    qxen_add_test("/xen-qtest-hv/xen-disk/unplug-replug",
                  test_unplug_replug);
    qxen_add_test("/xen-qtest-hv/xen-disk/toolstack", test_toolstack);
    qxen_add_test("/xen-qtest-hv/xen-disk/bad-grants", test_bad_grants);
    qxen_add_test("/xen-qtest-hv/xen-disk/bad-ring-ref", test_bad_ring_ref);
    qxen_add_test("/xen-qtest-hv/xenstore/semantics", test_xenstore);
    qxen_add_test("/xen-qtest-hv/xenstore/malformed",
                  test_malformed_xenstore);
    qxen_add_test("/xen-qtest-hv/device/bad-properties",
                  test_bad_properties);
    if (g_getenv("QXEN_WATCHDOG_SELFTEST")) {
        qxen_add_test("/xen-qtest-hv/watchdog-selftest",
                      test_watchdog_selftest);
    }
    ret = g_test_run();
    if (img_path) {
        unlink(img_path);
        g_free(img_path);
    }
    return ret;
}
