/*
 * libqos: a vscsiif frontend (what xen-scsifront does) for qtest
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "xen-vscsifront.h"

void qvscsi_init(QVscsiFront *f, QXen *x, unsigned int devid)
{
    memset(f, 0, sizeof(*f));
    f->x = x;
    f->devid = devid;
    f->fe = g_strdup_printf("/local/domain/%u/device/vscsi/%u", x->domid,
                            devid);
    f->be = g_strdup_printf("/local/domain/0/backend/qvscsi/%u/%u", x->domid,
                            devid);
}

void qvscsi_cmd_init(QVscsiCmd *c, int channel, int id, int lun,
                     const uint8_t *cdb, int cdb_len, int dir, void *data,
                     size_t len)
{
    g_assert_cmpint(cdb_len, <=, sizeof(c->cdb));
    memset(c, 0, sizeof(*c));
    c->channel = channel;
    c->id = id;
    c->lun = lun;
    memcpy(c->cdb, cdb, cdb_len);
    c->cdb_len = cdb_len;
    c->dir = dir;
    c->data = data;
    c->len = len;
}

void qvscsi_free(QVscsiFront *f)
{
    g_free(f->fe);
    g_free(f->be);
}

char *qvscsi_be_key(QVscsiFront *f, const char *fmt, ...)
{
    g_autofree char *key = NULL;
    va_list ap;

    va_start(ap, fmt);
    key = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return g_strdup_printf("%s/%s", f->be, key);
}

static void cmd_release(QVscsiFront *f, QVscsiCmd *c);

static void fe_write(QVscsiFront *f, const char *key, const char *val)
{
    g_autofree char *path = g_strdup_printf("%s/%s", f->fe, key);

    qxs_write(f->x->xs, path, val);
}

static unsigned int for_each_dev(QVscsiFront *f, int state,
                                 void (*fn)(QVscsiFront *, const char *));
static void add_dev(QVscsiFront *f, const char *dev);

/*
 * As Linux's xen-scsifront: on the backend's Connected, add the LUNs it
 * offers (state 3, acknowledged in our own vscsi-devs/dev-N/state), unless
 * reconnecting after a resume (@resumed), when it keeps the LUNs it had
 * and adds none.
 */
static void connect_common(QVscsiFront *f, bool resumed)
{
    QXen *x = f->x;
    g_autofree char *state = qvscsi_be_key(f, "state");
    char val[16];

    qxen_ring_init(x, &f->ring, sizeof(vscsiif_request_t));
    g_assert_cmpuint(f->ring.nr_ents, ==, 16);
    f->port = qxen_evtchn_alloc(x);
    snprintf(val, sizeof(val), "%u", f->ring.ref);
    fe_write(f, "ring-ref", val);
    snprintf(val, sizeof(val), "%u", f->port);
    fe_write(f, "event-channel", val);
    fe_write(f, "state", "3");
    qxs_wait_state(x, x->xs, state, 4);
    if (!resumed) {
        for_each_dev(f, 3, add_dev);
    }
    fe_write(f, "state", "4");
    f->connected = true;
}

void qvscsi_connect(QVscsiFront *f)
{
    connect_common(f, false);
}

void qvscsi_connect_resumed(QVscsiFront *f)
{
    connect_common(f, true);
}

void qvscsi_wait_closed(QVscsiFront *f)
{
    g_autofree char *state = qvscsi_be_key(f, "state");
    gint64 deadline = g_get_monotonic_time() + QXEN_TIMEOUT_MS * 1000LL;
    int v;

    do {
        v = qxs_read_int(f->x->xs, state, -1);
        /* XenbusStateClosed, XenbusStateInitWait */
        if (v == 6 || v == 2) {
            return;
        }
        g_usleep(10 * 1000);
    } while (g_get_monotonic_time() < deadline);
    g_error("%s: expected state 6 or 2, found %d", state, v);
}

void qvscsi_close(QVscsiFront *f)
{
    QXen *x = f->x;
    g_autofree char *state = qvscsi_be_key(f, "state");

    fe_write(f, "state", "5");
    qxs_wait_state(x, x->xs, state, 5);
    fe_write(f, "state", "6");
    qvscsi_wait_closed(f);
    qvscsi_release(f);
}

void qvscsi_release(QVscsiFront *f)
{
    /* The backend let go of the ring and of every request's grants. */
    for (unsigned int i = 0; i < QVSCSI_RING_SIZE; i++) {
        if (f->pending[i]) {
            cmd_release(f, f->pending[i]);
            f->pending[i] = NULL;
        }
    }
    f->nr_pending = 0;
    qxen_ring_destroy(f->x, &f->ring);
    qxen_evtchn_free(f->x, f->port);
    f->connected = false;
}

void qvscsi_put_raw(QVscsiFront *f, const vscsiif_request_t *rq)
{
    qxen_ring_put_request(f->x, &f->ring, rq, sizeof(*rq));
}

void qvscsi_push(QVscsiFront *f)
{
    if (qxen_ring_push_requests(f->x, &f->ring)) {
        qxen_evtchn_kick(f->x, f->port);
    }
}

bool qvscsi_get_response(QVscsiFront *f, vscsiif_response_t *rsp,
                         int timeout_ms)
{
    if (!qxen_ring_wait_responses(f->x, &f->ring, 1, timeout_ms)) {
        return false;
    }
    qxen_ring_get_response(f->x, &f->ring, rsp, sizeof(*rsp));
    return true;
}

static void cmd_release(QVscsiFront *f, QVscsiCmd *c)
{
    QXen *x = f->x;

    /* Every grant must be free again by the time of the response. */
    for (size_t i = 0; i < c->npages; i++) {
        qxen_ungrant(x, c->grefs[i]);
    }
    for (size_t i = 0; i < c->nind; i++) {
        qxen_ungrant(x, c->ind_refs[i]);
    }
    if (c->npages) {
        guest_free(&x->alloc, c->data_gpa);
    }
    if (c->nind) {
        guest_free(&x->alloc, c->ind_gpa);
    }
    g_free(c->grefs);
    c->grefs = NULL;
    c->npages = c->nind = 0;
}

void qvscsi_cmd_start(QVscsiFront *f, QVscsiCmd *c)
{
    QXen *x = f->x;
    size_t npages = DIV_ROUND_UP(c->len, QXEN_PAGE_SIZE);
    bool readonly = c->dir == VSCSIIF_DMA_TO_DEVICE;
    vscsiif_request_t rq = { 0 };
    g_autofree vscsiif_segment_t *segs = g_new0(vscsiif_segment_t,
                                                npages + 1);
    unsigned int i;

    g_assert_cmpuint(f->nr_pending, <, QVSCSI_RING_SIZE);
    if (f->gplpv) {
        /* no indirect segments, no task management */
        g_assert_false(c->indirect);
        g_assert_cmpuint(npages, <=, VSCSIIF_SG_TABLESIZE);
        g_assert_true(!c->act || c->act == VSCSIIF_ACT_SCSI_CDB);
    }
    for (i = 0; i < QVSCSI_RING_SIZE; i++) {
        c->rqid = (f->next_rqid + i) % QVSCSI_RING_SIZE;
        if (!f->pending[c->rqid]) {
            break;
        }
    }
    f->next_rqid = c->rqid + 1;
    f->pending[c->rqid] = c;
    f->nr_pending++;
    c->done = false;

    c->npages = npages;
    c->nind = 0;
    c->grefs = g_new0(uint32_t, npages + 1);
    if (npages) {
        c->data_gpa = qxen_alloc_pages(x, npages);
        /* direction 0, as GPLPV sends it: the buffer serves both ways */
        if (c->dir == VSCSIIF_DMA_TO_DEVICE ||
            c->dir == VSCSIIF_DMA_BIDIRECTIONAL) {
            qtest_memwrite(x->qts, c->data_gpa, c->data, c->len);
        }
    }
    for (i = 0; i < npages; i++) {
        c->grefs[i] = qxen_grant(x, c->data_gpa + i * QXEN_PAGE_SIZE,
                                 readonly);
        segs[i].gref = c->grefs[i];
        segs[i].offset = 0;
        segs[i].length = MIN(QXEN_PAGE_SIZE, c->len - i * QXEN_PAGE_SIZE);
    }

    rq.rqid = c->rqid;
    rq.act = c->act ? c->act : VSCSIIF_ACT_SCSI_CDB;
    rq.ref_rqid = c->ref_rqid;
    rq.cmd_len = c->cdb_len;
    memcpy(rq.cmnd, c->cdb, sizeof(rq.cmnd));
    rq.channel = c->channel;
    rq.id = c->id;
    rq.lun = c->lun;
    rq.sc_data_direction = c->dir;
    if (npages <= VSCSIIF_SG_TABLESIZE && !c->indirect) {
        rq.nr_segments = npages;
        memcpy(rq.seg, segs, npages * sizeof(segs[0]));
    } else {
        /* Descriptor arrays in pages of their own, granted read-only. */
        size_t bytes = npages * sizeof(vscsiif_segment_t);

        c->nind = DIV_ROUND_UP(bytes, QXEN_PAGE_SIZE);
        g_assert_cmpuint(c->nind, <=, VSCSIIF_SG_TABLESIZE);
        c->ind_gpa = qxen_alloc_pages(x, c->nind);
        qtest_memwrite(x->qts, c->ind_gpa, segs, bytes);
        for (i = 0; i < c->nind; i++) {
            c->ind_refs[i] = qxen_grant(x, c->ind_gpa + i * QXEN_PAGE_SIZE,
                                        true);
            rq.seg[i].gref = c->ind_refs[i];
            rq.seg[i].offset = 0;
            rq.seg[i].length = MIN(QXEN_PAGE_SIZE,
                                   bytes - i * QXEN_PAGE_SIZE);
        }
        rq.nr_segments = VSCSIIF_SG_GRANT | c->nind;
    }
    qvscsi_put_raw(f, &rq);
}

bool qvscsi_poll(QVscsiFront *f, int timeout_ms)
{
    vscsiif_response_t rsp;
    QVscsiCmd *c;

    if (!qvscsi_get_response(f, &rsp, timeout_ms)) {
        return false;
    }
    g_assert_cmpuint(rsp.rqid, <, QVSCSI_RING_SIZE);
    c = f->pending[rsp.rqid];
    if (!c) {
        g_error("response for rqid %u, which is not pending", rsp.rqid);
    }
    f->pending[rsp.rqid] = NULL;
    f->nr_pending--;

    c->rslt = rsp.rslt;
    c->residual = rsp.residual_len;
    c->sense_len = rsp.sense_len;
    g_assert_cmpuint(c->sense_len, <=, VSCSIIF_SENSE_BUFFERSIZE);
    memcpy(c->sense, rsp.sense_buffer, sizeof(c->sense));
    if (c->npages && (c->dir == VSCSIIF_DMA_FROM_DEVICE ||
                      c->dir == VSCSIIF_DMA_BIDIRECTIONAL)) {
        qtest_memread(f->x->qts, c->data_gpa, c->data, c->len);
    }
    cmd_release(f, c);
    c->seq = f->next_seq++;
    c->done = true;
    return true;
}

void qvscsi_cmd_wait(QVscsiFront *f, QVscsiCmd *c)
{
    while (!c->done) {
        g_assert_true(qvscsi_poll(f, QXEN_TIMEOUT_MS));
    }
}

void qvscsi_cmd(QVscsiFront *f, QVscsiCmd *c)
{
    qvscsi_cmd_start(f, c);
    qvscsi_push(f);
    qvscsi_cmd_wait(f, c);
    /* Exactly one response: nothing else is on the ring. */
    g_assert_cmpuint(qxen_ring_rsp_prod(f->x, &f->ring), ==,
                     f->ring.rsp_cons);
}

int32_t qvscsi_tur(QVscsiFront *f, int channel, int id, int lun)
{
    static const uint8_t cdb[6] = { 0x00 };
    QVscsiCmd c;

    qvscsi_cmd_init(&c, channel, id, lun, cdb, 6, VSCSIIF_DMA_NONE, NULL, 0);
    qvscsi_cmd(f, &c);
    return c.rslt;
}

/* Our (the frontend's) per-LUN state, which the backend only reads. */
static void fe_dev_state(QVscsiFront *f, const char *dev, int state)
{
    g_autofree char *key = g_strdup_printf("vscsi-devs/%s/state", dev);
    char val[4];

    snprintf(val, sizeof(val), "%d", state);
    fe_write(f, key, val);
}

/* Apply @fn to each dev-N whose backend state is @state. */
static unsigned int for_each_dev(QVscsiFront *f, int state,
                                 void (*fn)(QVscsiFront *, const char *))
{
    g_autofree char *dir = qvscsi_be_key(f, "vscsi-devs");
    unsigned int n = 0, count = 0;
    g_auto(GStrv) devs = qxs_directory(f->x->xs, dir, &n);

    for (unsigned int i = 0; i < n; i++) {
        g_autofree char *key = qvscsi_be_key(f, "vscsi-devs/%s/state",
                                             devs[i]);

        if (qxs_read_int(f->x->xs, key, -1) == state) {
            fn(f, devs[i]);
            count++;
        }
    }
    return count;
}

static void remove_dev(QVscsiFront *f, const char *dev)
{
    fe_dev_state(f, dev, 6);
}

static void add_dev(QVscsiFront *f, const char *dev)
{
    fe_dev_state(f, dev, 4);
}

static void reconfigure(QVscsiFront *f, bool late, unsigned int *added,
                        unsigned int *removed)
{
    QXen *x = f->x;
    g_autofree char *state = qvscsi_be_key(f, "state");
    unsigned int n;

    g_assert_false(f->gplpv);       /* GPLPV takes no part in hot-plug */
    qxs_wait_state(x, x->xs, state, late ? 4 : 7);
    n = for_each_dev(f, 5, remove_dev);
    if (removed) {
        *removed = n;
    }
    fe_write(f, "state", "7");
    qxs_wait_state(x, x->xs, state, 8);
    n = for_each_dev(f, 3, add_dev);
    if (added) {
        *added = n;
    }
    fe_write(f, "state", "4");
    /*
     * Connected again; with more changes queued the backend may go on to
     * the next Reconfiguring at once.
     */
    for (int ms = 0; qxs_read_int(x->xs, state, -1) == 8; ms++) {
        g_assert_cmpint(ms, <, QXEN_TIMEOUT_MS);
        g_usleep(1000);
    }
    g_assert_true(qxs_read_int(x->xs, state, -1) == 4 ||
                  qxs_read_int(x->xs, state, -1) == 7);
}

void qvscsi_reconfigure(QVscsiFront *f, unsigned int *added,
                        unsigned int *removed)
{
    reconfigure(f, false, added, removed);
}

void qvscsi_reconfigure_late(QVscsiFront *f, unsigned int *added,
                             unsigned int *removed)
{
    reconfigure(f, true, added, removed);
}
