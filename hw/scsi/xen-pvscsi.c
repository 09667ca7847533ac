/*
 * xen-pvscsi: Xen paravirtual SCSI (vscsiif) backend on QEMU's SCSI bus
 *
 * A XenDevice serving one vscsiif ring (one virtual SCSI host in the guest)
 * to a guest's xen-scsifront.  The LUNs are QEMU SCSI devices (scsi-hd,
 * scsi-cd, scsi-generic, scsi-block) on the device's SCSI bus; each one is
 * published under the backend's vscsi-devs/dev-N so that the frontend adds
 * it at connect.
 *
 * Data moves by grant copy through the SCSI layer's bounce buffer
 * (transfer_data); nothing of the guest stays mapped except the ring page.
 * Every request is copied out of the shared ring once and validated before
 * use; a request that fails validation is answered with host status ERROR
 * (or NO_CONNECT for an address without a device), and every request gets
 * exactly one response.
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "hw/hotplug.h"
#include "hw/qdev-properties.h"
#include "hw/xen/xen-pvscsi.h"
#include "hw/xen/xen-bus-helper.h"
#include "scsi/constants.h"
#include "system/block-backend.h"
#include "block/block.h"
#include "trace.h"

struct XenPVSCSIReq {
    XenPVSCSI *s;
    vscsiif_request_t rq;       /* private copy of the ring request */
    SCSIRequest *sreq;
    uint32_t nr_segs;
    vscsiif_segment_t *segs;    /* data segments (direct or indirect) */
    uint64_t buflen;            /* sum of the segment lengths */
    uint64_t done;              /* bytes transferred so far */
    int32_t cancel_rslt;        /* response for a cancelled request */
    bool no_response;           /* the ring is gone: answer nothing */
    bool responded;
    QTAILQ_ENTRY(XenPVSCSIReq) next;
    vscsiif_segment_t direct[VSCSIIF_SG_TABLESIZE];
};

#define RSLT_HOST(h)    ((int32_t)(h) << 16)

static void xen_pvscsi_disconnect(XenPVSCSI *s);

/* ---------------------------------------------------------------------- */
/* Responses                                                               */

static void xen_pvscsi_push_response(XenPVSCSI *s, uint16_t rqid,
                                     int32_t rslt, uint32_t residual,
                                     const uint8_t *sense, uint8_t sense_len)
{
    vscsiif_response_t *rsp;
    bool notify;

    if (!s->connected || s->ring_broken) {
        return;
    }
    rsp = RING_GET_RESPONSE(&s->ring, s->ring.rsp_prod_pvt);
    memset(rsp, 0, sizeof(*rsp));
    rsp->rqid = rqid;
    rsp->rslt = rslt;
    rsp->residual_len = residual;
    sense_len = MIN(sense_len, VSCSIIF_SENSE_BUFFERSIZE);
    if (sense_len) {
        memcpy(rsp->sense_buffer, sense, sense_len);
    }
    rsp->sense_len = sense_len;
    s->ring.rsp_prod_pvt++;

    RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&s->ring, notify);
    trace_xen_pvscsi_response(s->devid, rqid, rslt, residual, sense_len);
    if (notify) {
        Error *local_err = NULL;

        xen_device_notify_event_channel(&s->xendev, s->event_channel,
                                        &local_err);
        if (local_err) {
            error_report_err(local_err);
        }
    }
}

static void xen_pvscsi_req_free(XenPVSCSIReq *req)
{
    if (req->segs != req->direct) {
        g_free(req->segs);
    }
    g_free(req);
}

/*
 * Answer a request that is on the in-flight list and drop it from there;
 * the SCSIRequest (if any) is released by the caller or by free_request.
 */
static void xen_pvscsi_req_done(XenPVSCSIReq *req, int32_t rslt,
                                uint32_t residual, const uint8_t *sense,
                                uint8_t sense_len)
{
    XenPVSCSI *s = req->s;

    assert(!req->responded);
    req->responded = true;
    QTAILQ_REMOVE(&s->inflight, req, next);
    s->nr_inflight--;
    if (!req->no_response) {
        xen_pvscsi_push_response(s, req->rq.rqid, rslt, residual, sense,
                                 sense_len);
    }
    if (req->sreq) {
        SCSIRequest *sreq = req->sreq;

        req->sreq = NULL;
        /* free_request will not see this request again */
        sreq->hba_private = NULL;
        scsi_req_unref(sreq);
    }
    xen_pvscsi_req_free(req);
    /* A slot was freed: there may be requests waiting. */
    if (s->connected) {
        qemu_bh_schedule(s->bh);
    }
}

/* Reject a request before it reached the SCSI layer. */
static void xen_pvscsi_reject(XenPVSCSIReq *req, int host,
                              const char *why)
{
    trace_xen_pvscsi_reject(req->s->devid, req->rq.rqid, req->rq.act, why);
    qemu_log_mask(LOG_GUEST_ERROR, "xen-pvscsi %u: request %u rejected: %s\n",
                  req->s->devid, req->rq.rqid, why);
    xen_pvscsi_req_done(req, RSLT_HOST(host), 0, NULL, 0);
}

/* ---------------------------------------------------------------------- */
/* SCSI bus callbacks                                                      */

static int xen_pvscsi_host_status(int host_status)
{
    /* SCSI_HOST_* uses the numbering of XEN_VSCSIIF_RSLT_HOST_* */
    if (host_status < 0 || host_status > XEN_VSCSIIF_RSLT_HOST_LAST) {
        return XEN_VSCSIIF_RSLT_HOST_ERROR;
    }
    return host_status;
}

static void xen_pvscsi_transfer_data(SCSIRequest *sreq, uint32_t len)
{
    XenPVSCSIReq *req = sreq->hba_private;
    XenPVSCSI *s;
    g_autofree XenDeviceGrantCopySegment *copy = NULL;
    bool to_domain;
    uint8_t *buf = scsi_req_get_buf(sreq);
    uint64_t skip, left;
    unsigned int n = 0;
    Error *local_err = NULL;

    if (!req) {
        return;
    }
    s = req->s;
    to_domain = sreq->cmd.mode == SCSI_XFER_FROM_DEV;
    trace_xen_pvscsi_transfer(s->devid, req->rq.rqid, len, to_domain);

    if (len > req->buflen - req->done) {
        /* The device wants more than the guest gave: never overrun. */
        req->cancel_rslt = RSLT_HOST(XEN_VSCSIIF_RSLT_HOST_ERROR);
        scsi_req_cancel(sreq);
        return;
    }

    copy = g_new0(XenDeviceGrantCopySegment, req->nr_segs);
    skip = req->done;
    left = len;
    for (uint32_t i = 0; i < req->nr_segs && left; i++) {
        vscsiif_segment_t *seg = &req->segs[i];
        uint64_t chunk;

        if (skip >= seg->length) {
            skip -= seg->length;
            continue;
        }
        chunk = MIN(seg->length - skip, left);
        if (to_domain) {
            copy[n].source.virt = buf;
            copy[n].dest.foreign.ref = seg->gref;
            copy[n].dest.foreign.offset = seg->offset + skip;
        } else {
            copy[n].source.foreign.ref = seg->gref;
            copy[n].source.foreign.offset = seg->offset + skip;
            copy[n].dest.virt = buf;
        }
        copy[n].len = chunk;
        n++;
        buf += chunk;
        left -= chunk;
        skip = 0;
    }
    assert(left == 0);

    xen_device_copy_grant_refs(&s->xendev, to_domain, copy, n, &local_err);
    if (local_err) {
        qemu_log_mask(LOG_GUEST_ERROR, "xen-pvscsi %u: request %u: %s\n",
                      s->devid, req->rq.rqid, error_get_pretty(local_err));
        error_free(local_err);
        req->cancel_rslt = RSLT_HOST(XEN_VSCSIIF_RSLT_HOST_ERROR);
        scsi_req_cancel(sreq);
        return;
    }
    req->done += len;
    scsi_req_continue(sreq);
}

static void xen_pvscsi_complete(SCSIRequest *sreq, size_t resid)
{
    XenPVSCSIReq *req = sreq->hba_private;
    uint8_t sense[SCSI_SENSE_BUF_SIZE];
    int sense_len = 0;

    if (!req) {
        return;
    }
    if (sreq->status == CHECK_CONDITION) {
        sense_len = scsi_req_get_sense(sreq, sense, sizeof(sense));
    }
    xen_pvscsi_req_done(req, sreq->status, req->buflen - req->done, sense,
                        MAX(sense_len, 0));
}

static void xen_pvscsi_fail(SCSIRequest *sreq)
{
    XenPVSCSIReq *req = sreq->hba_private;

    if (!req) {
        return;
    }
    xen_pvscsi_req_done(req,
                        RSLT_HOST(xen_pvscsi_host_status(sreq->host_status)),
                        req->buflen - req->done, NULL, 0);
}

static void xen_pvscsi_cancel(SCSIRequest *sreq)
{
    XenPVSCSIReq *req = sreq->hba_private;

    if (!req) {
        return;
    }
    xen_pvscsi_req_done(req, req->cancel_rslt, req->buflen - req->done,
                        NULL, 0);
}

/*
 * Passthrough devices (scsi-generic, scsi-block) cannot size every CDB:
 * the transfer length is the guest's buffer and the direction the guest's.
 */
static int xen_pvscsi_parse_cdb(SCSIDevice *dev, SCSICommand *cmd,
                                uint8_t *buf, size_t buf_len,
                                void *hba_private)
{
    XenPVSCSIReq *req = hba_private;

    if (cmd->len == 0) {
        cmd->len = MIN(req->rq.cmd_len, SCSI_CMD_BUF_SIZE);
        memcpy(cmd->buf, buf, cmd->len);
    }
    cmd->xfer = req->buflen;
    switch (req->rq.sc_data_direction) {
    case VSCSIIF_DMA_TO_DEVICE:
        cmd->mode = SCSI_XFER_TO_DEV;
        break;
    case VSCSIIF_DMA_FROM_DEVICE:
        cmd->mode = SCSI_XFER_FROM_DEV;
        break;
    default:
        cmd->mode = SCSI_XFER_NONE;
        cmd->xfer = 0;
        break;
    }
    return 0;
}

static const struct SCSIBusInfo xen_pvscsi_scsi_info = {
    .tcq = true,
    .max_channel = XEN_PVSCSI_MAX_CHANNEL,
    .max_target = XEN_PVSCSI_MAX_TARGET,
    .max_lun = XEN_PVSCSI_MAX_LUN,

    .parse_cdb = xen_pvscsi_parse_cdb,
    .transfer_data = xen_pvscsi_transfer_data,
    .complete = xen_pvscsi_complete,
    .fail = xen_pvscsi_fail,
    .cancel = xen_pvscsi_cancel,
};

/* ---------------------------------------------------------------------- */
/* Request parsing                                                         */

/*
 * Fetch the data segments of @req: the direct ones, or the descriptors in
 * the indirect pages (copied out of the guest once).  Returns an error text
 * or NULL.
 */
static const char *xen_pvscsi_get_segments(XenPVSCSIReq *req)
{
    XenPVSCSI *s = req->s;
    vscsiif_request_t *rq = &req->rq;
    unsigned int n = rq->nr_segments & ~VSCSIIF_SG_GRANT;

    if (!(rq->nr_segments & VSCSIIF_SG_GRANT)) {
        if (n > VSCSIIF_SG_TABLESIZE) {
            return "too many segments";
        }
        memcpy(req->direct, rq->seg, n * sizeof(rq->seg[0]));
        req->segs = req->direct;
        req->nr_segs = n;
    } else {
        XenDeviceGrantCopySegment copy[VSCSIIF_SG_TABLESIZE];
        uint32_t total = 0;
        uint8_t *dst;
        Error *local_err = NULL;

        if (!s->max_sg_grant) {
            return "indirect segments not offered";
        }
        if (n == 0 || n > VSCSIIF_SG_TABLESIZE) {
            return "bad number of indirect pages";
        }
        for (unsigned int i = 0; i < n; i++) {
            vscsiif_segment_t *seg = &rq->seg[i];

            if (seg->length == 0 || seg->length % sizeof(vscsiif_segment_t) ||
                seg->offset >= XEN_PAGE_SIZE ||
                seg->length > XEN_PAGE_SIZE - seg->offset) {
                return "bad indirect segment";
            }
            total += seg->length / sizeof(vscsiif_segment_t);
        }
        if (total > s->max_sg_grant) {
            return "more segments than feature-sg-grant";
        }
        req->segs = g_new(vscsiif_segment_t, total);
        req->nr_segs = total;
        dst = (uint8_t *)req->segs;
        for (unsigned int i = 0; i < n; i++) {
            copy[i].source.foreign.ref = rq->seg[i].gref;
            copy[i].source.foreign.offset = rq->seg[i].offset;
            copy[i].dest.virt = dst;
            copy[i].len = rq->seg[i].length;
            dst += rq->seg[i].length;
        }
        xen_device_copy_grant_refs(&s->xendev, false, copy, n, &local_err);
        if (local_err) {
            error_free(local_err);
            return "cannot read indirect pages";
        }
    }

    req->buflen = 0;
    for (uint32_t i = 0; i < req->nr_segs; i++) {
        vscsiif_segment_t *seg = &req->segs[i];

        if (seg->offset >= XEN_PAGE_SIZE ||
            seg->length > XEN_PAGE_SIZE - seg->offset) {
            return "segment crosses its page";
        }
        req->buflen += seg->length;
    }
    return NULL;
}

static XenPVSCSIReq *xen_pvscsi_find_inflight(XenPVSCSI *s, uint16_t rqid)
{
    XenPVSCSIReq *req;

    QTAILQ_FOREACH(req, &s->inflight, next) {
        if (req->rq.rqid == rqid) {
            return req;
        }
    }
    return NULL;
}

static void xen_pvscsi_do_cdb(XenPVSCSIReq *req, SCSIDevice *d)
{
    vscsiif_request_t *rq = &req->rq;
    const char *err;
    SCSIRequest *sreq;
    int dir = rq->sc_data_direction;
    int32_t len;

    if (rq->cmd_len > VSCSIIF_MAX_COMMAND_SIZE) {
        xen_pvscsi_reject(req, XEN_VSCSIIF_RSLT_HOST_ERROR, "cmd_len > 16");
        return;
    }
    if (dir == VSCSIIF_DMA_BIDIRECTIONAL || dir > VSCSIIF_DMA_NONE) {
        xen_pvscsi_reject(req, XEN_VSCSIIF_RSLT_HOST_ERROR,
                          "unsupported data direction");
        return;
    }
    err = xen_pvscsi_get_segments(req);
    if (err) {
        xen_pvscsi_reject(req, XEN_VSCSIIF_RSLT_HOST_ERROR, err);
        return;
    }
    if (dir == VSCSIIF_DMA_NONE && req->buflen) {
        xen_pvscsi_reject(req, XEN_VSCSIIF_RSLT_HOST_ERROR,
                          "data segments without a data direction");
        return;
    }
    if (req->buflen > INT32_MAX) {
        xen_pvscsi_reject(req, XEN_VSCSIIF_RSLT_HOST_ERROR,
                          "transfer too large");
        return;
    }

    sreq = scsi_req_new(d, rq->rqid, rq->lun, rq->cmnd, rq->cmd_len, req);
    req->sreq = sreq;

    /* The CDB's own transfer must match what the guest set up. */
    if (sreq->cmd.mode != SCSI_XFER_NONE &&
        ((sreq->cmd.mode == SCSI_XFER_FROM_DEV) !=
         (dir == VSCSIIF_DMA_FROM_DEVICE) ||
         sreq->cmd.xfer > req->buflen)) {
        xen_pvscsi_reject(req, XEN_VSCSIIF_RSLT_HOST_ERROR,
                          "data direction or length does not match the CDB");
        return;
    }

    trace_xen_pvscsi_cdb(req->s->devid, rq->rqid, rq->channel, rq->id,
                         rq->lun, rq->cmnd[0], req->buflen, dir);
    len = scsi_req_enqueue(sreq);
    if (len) {
        scsi_req_continue(sreq);
    }
}

static void xen_pvscsi_do_abort(XenPVSCSIReq *req)
{
    XenPVSCSI *s = req->s;
    XenPVSCSIReq *victim = xen_pvscsi_find_inflight(s, req->rq.ref_rqid);

    trace_xen_pvscsi_abort(s->devid, req->rq.rqid, req->rq.ref_rqid,
                           victim != NULL);
    if (victim && victim != req && victim->sreq &&
        victim->rq.act == VSCSIIF_ACT_SCSI_CDB) {
        victim->cancel_rslt = RSLT_HOST(XEN_VSCSIIF_RSLT_HOST_ABORT);
        /* The aborted request is answered (ABORT) before the TMF. */
        scsi_req_cancel(victim->sreq);
    }
    /* Nothing left to abort is success (SAM: FUNCTION COMPLETE). */
    xen_pvscsi_req_done(req, XEN_VSCSIIF_RSLT_RESET_SUCCESS, 0, NULL, 0);
}

static void xen_pvscsi_do_reset(XenPVSCSIReq *req, SCSIDevice *d)
{
    XenPVSCSI *s = req->s;
    XenPVSCSIReq *r, *tmp;

    trace_xen_pvscsi_reset(s->devid, req->rq.rqid, req->rq.channel,
                           req->rq.id, req->rq.lun);
    /* Requests swept by the LUN reset are answered with RESET. */
    QTAILQ_FOREACH_SAFE(r, &s->inflight, next, tmp) {
        if (r->sreq && r->sreq->dev == d) {
            r->cancel_rslt = RSLT_HOST(XEN_VSCSIIF_RSLT_HOST_RESET);
        }
    }
    device_cold_reset(DEVICE(d));
    xen_pvscsi_req_done(req, XEN_VSCSIIF_RSLT_RESET_SUCCESS, 0, NULL, 0);
}

static void xen_pvscsi_handle_request(XenPVSCSIReq *req)
{
    XenPVSCSI *s = req->s;
    vscsiif_request_t *rq = &req->rq;
    SCSIDevice *d;

    if (rq->act != VSCSIIF_ACT_SCSI_CDB && rq->act != VSCSIIF_ACT_SCSI_ABORT &&
        rq->act != VSCSIIF_ACT_SCSI_RESET) {
        xen_pvscsi_reject(req, XEN_VSCSIIF_RSLT_HOST_ERROR, "unknown act");
        return;
    }
    /* rqid is the frontend's handle: two requests must not share one. */
    if (xen_pvscsi_find_inflight(s, rq->rqid) != req) {
        /*
         * The other request keeps the rqid; this one is answered without
         * going on the list's lookup path again.
         */
        xen_pvscsi_reject(req, XEN_VSCSIIF_RSLT_HOST_ERROR,
                          "rqid already in flight");
        return;
    }
    d = scsi_device_find(&s->bus, rq->channel, rq->id, rq->lun);
    if (!d) {
        xen_pvscsi_reject(req, XEN_VSCSIIF_RSLT_HOST_NO_CONNECT,
                          "no such target");
        return;
    }
    switch (rq->act) {
    case VSCSIIF_ACT_SCSI_CDB:
        xen_pvscsi_do_cdb(req, d);
        break;
    case VSCSIIF_ACT_SCSI_ABORT:
        xen_pvscsi_do_abort(req);
        break;
    case VSCSIIF_ACT_SCSI_RESET:
        if (d->lun != rq->lun) {
            xen_pvscsi_reject(req, XEN_VSCSIIF_RSLT_HOST_NO_CONNECT,
                              "no such LUN");
            break;
        }
        xen_pvscsi_do_reset(req, d);
        break;
    }
}

/* ---------------------------------------------------------------------- */
/* The ring                                                                */

static void xen_pvscsi_ring_error(XenPVSCSI *s, const char *why)
{
    error_report("xen-pvscsi %u: %s; disconnecting this device",
                 s->devid, why);
    trace_xen_pvscsi_ring_broken(s->devid, why);
    s->ring_broken = true;
    xen_device_backend_set_state(&s->xendev, XenbusStateClosing);
}

static bool xen_pvscsi_handle_requests(XenPVSCSI *s)
{
    RING_IDX rc, rp;
    bool progress = false;
    int more;

    if (!s->connected || s->ring_broken) {
        return false;
    }
    do {
        rc = s->ring.req_cons;
        rp = s->ring.sring->req_prod;
        xen_rmb();          /* see the requests up to rp */

        if (RING_REQUEST_PROD_OVERFLOW(&s->ring, rp)) {
            xen_pvscsi_ring_error(s, "frontend's request producer overflows "
                                  "the ring");
            return progress;
        }
        while (rc != rp && s->connected && !s->ring_broken) {
            XenPVSCSIReq *req;

            if (RING_REQUEST_CONS_OVERFLOW(&s->ring, rc) ||
                s->nr_inflight >= XEN_PVSCSI_RING_SIZE) {
                break;      /* wait for responses to free slots */
            }
            req = g_new0(XenPVSCSIReq, 1);
            req->s = s;
            req->cancel_rslt = RSLT_HOST(XEN_VSCSIIF_RSLT_HOST_ABORT);
            RING_COPY_REQUEST(&s->ring, rc, &req->rq);
            s->ring.req_cons = ++rc;
            QTAILQ_INSERT_TAIL(&s->inflight, req, next);
            s->nr_inflight++;
            trace_xen_pvscsi_request(s->devid, req->rq.rqid, req->rq.act);
            xen_pvscsi_handle_request(req);
            progress = true;
        }
        if (!s->connected || s->ring_broken) {
            break;
        }
        RING_FINAL_CHECK_FOR_REQUESTS(&s->ring, more);
    } while (more && s->ring.req_cons != s->ring.sring->req_prod &&
             s->nr_inflight < XEN_PVSCSI_RING_SIZE);
    return progress;
}

static bool xen_pvscsi_event(void *opaque)
{
    return xen_pvscsi_handle_requests(opaque);
}

static void xen_pvscsi_bh(void *opaque)
{
    xen_pvscsi_handle_requests(opaque);
}

/* ---------------------------------------------------------------------- */
/* LUNs in xenstore                                                        */

static unsigned int xen_pvscsi_lun_index(XenPVSCSI *s, SCSIDevice *d)
{
    gpointer v = g_hash_table_lookup(s->luns, d);

    return GPOINTER_TO_UINT(v) - 1;
}

static char *xen_pvscsi_describe(SCSIDevice *d)
{
    BlockBackend *blk = d->conf.blk;
    const char *what = "";

    if (blk) {
        what = blk_name(blk);
        if (!*what && blk_bs(blk)) {
            what = bdrv_get_node_name(blk_bs(blk));
        }
    }
    return g_strdup_printf("%s:%s", object_get_typename(OBJECT(d)), what);
}

static void xen_pvscsi_lun_set_state(XenPVSCSI *s, SCSIDevice *d,
                                     enum xenbus_state state)
{
    g_autofree char *key = g_strdup_printf("vscsi-devs/dev-%u/state",
                                           xen_pvscsi_lun_index(s, d));

    trace_xen_pvscsi_lun_state(s->devid, d->channel, d->id, d->lun, state);
    xen_device_backend_printf(&s->xendev, key, "%u", state);
}

static void xen_pvscsi_lun_publish(XenPVSCSI *s, SCSIDevice *d)
{
    unsigned int n = s->next_dev++;
    g_autofree char *base = g_strdup_printf("vscsi-devs/dev-%u", n);
    g_autofree char *pdev_key = g_strdup_printf("%s/p-dev", base);
    g_autofree char *vdev_key = g_strdup_printf("%s/v-dev", base);
    g_autofree char *pdev = xen_pvscsi_describe(d);

    g_hash_table_insert(s->luns, d, GUINT_TO_POINTER(n + 1));
    xen_device_backend_printf(&s->xendev, pdev_key, "%s", pdev);
    xen_device_backend_printf(&s->xendev, vdev_key, "%u:%u:%u:%u", s->devid,
                              d->channel, d->id, d->lun);
    xen_pvscsi_lun_set_state(s, d, XenbusStateInitialising);
}

/* Move every LUN in state @from to @to. */
static void xen_pvscsi_luns_advance(XenPVSCSI *s, enum xenbus_state from,
                                    enum xenbus_state to)
{
    BusChild *kid;

    QTAILQ_FOREACH(kid, &s->bus.qbus.children, sibling) {
        SCSIDevice *d = SCSI_DEVICE(kid->child);
        g_autofree char *key = NULL;
        unsigned int state;

        if (!g_hash_table_contains(s->luns, d)) {
            continue;
        }
        key = g_strdup_printf("vscsi-devs/dev-%u/state",
                              xen_pvscsi_lun_index(s, d));
        if (xs_node_scanf(s->xendev.xsh, XBT_NULL, s->xendev.backend_path,
                          key, NULL, "%u", &state) == 1 && state == from) {
            xen_pvscsi_lun_set_state(s, d, to);
        }
    }
}

static void xen_pvscsi_pre_plug(HotplugHandler *hotplug_dev, DeviceState *dev,
                                Error **errp)
{
    SCSIDevice *d = SCSI_DEVICE(dev);

    d->hba_supports_iothread = false;
}

static void xen_pvscsi_plug(HotplugHandler *hotplug_dev, DeviceState *dev,
                            Error **errp)
{
    XenPVSCSI *s = XEN_PVSCSI(hotplug_dev);
    SCSIDevice *d = SCSI_DEVICE(dev);

    if (s->connected) {
        /* LUN hotplug (Reconfiguring) comes with the hotplug work. */
        warn_report("xen-pvscsi %u: LUN %u:%u:%u added while connected; the "
                    "guest sees it after it reconnects", s->devid,
                    d->channel, d->id, d->lun);
    }
    xen_pvscsi_lun_publish(s, d);
}

static void xen_pvscsi_unplug(HotplugHandler *hotplug_dev, DeviceState *dev,
                              Error **errp)
{
    XenPVSCSI *s = XEN_PVSCSI(hotplug_dev);
    SCSIDevice *d = SCSI_DEVICE(dev);

    if (g_hash_table_contains(s->luns, d)) {
        xen_pvscsi_lun_set_state(s, d, XenbusStateClosed);
        g_hash_table_remove(s->luns, d);
    }
    qdev_simple_device_unplug_cb(hotplug_dev, dev, errp);
}

/* ---------------------------------------------------------------------- */
/* Connection                                                              */

static void xen_pvscsi_connect(XenPVSCSI *s, Error **errp)
{
    ERRP_GUARD();
    XenDevice *xendev = &s->xendev;
    unsigned int port;

    if (xen_device_frontend_scanf(xendev, "ring-ref", "%u",
                                  &s->ring_ref) != 1) {
        error_setg(errp, "failed to read ring-ref");
        return;
    }
    if (xen_device_frontend_scanf(xendev, "event-channel", "%u",
                                  &port) != 1) {
        error_setg(errp, "failed to read event-channel");
        return;
    }

    xen_device_set_max_grant_refs(xendev, 1, errp);
    if (*errp) {
        return;
    }
    s->sring = xen_device_map_grant_refs(xendev, &s->ring_ref, 1,
                                         PROT_READ | PROT_WRITE, errp);
    if (*errp) {
        s->sring = NULL;
        return;
    }
    BACK_RING_INIT(&s->ring, (vscsiif_sring_t *)s->sring, XEN_PAGE_SIZE);

    s->event_channel = xen_device_bind_event_channel(xendev, port,
                                                     xen_pvscsi_event, s,
                                                     errp);
    if (*errp) {
        Error *local_err = NULL;

        s->event_channel = NULL;
        xen_device_unmap_grant_refs(xendev, s->sring, &s->ring_ref, 1,
                                    &local_err);
        error_free(local_err);
        s->sring = NULL;
        return;
    }
    s->ring_broken = false;
    s->connected = true;
    trace_xen_pvscsi_connect(s->devid, s->ring_ref, port);
    /* Requests may already be waiting. */
    qemu_bh_schedule(s->bh);
}

static void xen_pvscsi_disconnect(XenPVSCSI *s)
{
    XenDevice *xendev = &s->xendev;
    XenPVSCSIReq *req, *tmp;
    Error *local_err = NULL;

    if (!s->sring && !s->event_channel) {
        return;
    }
    trace_xen_pvscsi_disconnect(s->devid, s->nr_inflight);

    /* Nothing from the old ring is ever answered into a new one. */
    QTAILQ_FOREACH(req, &s->inflight, next) {
        req->no_response = true;
    }
    QTAILQ_FOREACH_SAFE(req, &s->inflight, next, tmp) {
        if (req->sreq) {
            scsi_req_cancel(req->sreq);
        }
    }
    /*
     * Cancelling answered (silently) each of them; anything left over is
     * detached from its SCSI request, whose completion then finds no HBA
     * state.
     */
    while ((req = QTAILQ_FIRST(&s->inflight))) {
        xen_pvscsi_req_done(req, 0, 0, NULL, 0);
    }
    s->connected = false;
    qemu_bh_cancel(s->bh);

    if (s->event_channel) {
        xen_device_unbind_event_channel(xendev, s->event_channel,
                                        &local_err);
        s->event_channel = NULL;
        if (local_err) {
            error_report_err(local_err);
            local_err = NULL;
        }
    }
    if (s->sring) {
        xen_device_unmap_grant_refs(xendev, s->sring, &s->ring_ref, 1,
                                    &local_err);
        s->sring = NULL;
        if (local_err) {
            error_report_err(local_err);
        }
    }
}

static void xen_pvscsi_frontend_changed(XenDevice *xendev,
                                        enum xenbus_state frontend_state,
                                        Error **errp)
{
    ERRP_GUARD();
    XenPVSCSI *s = XEN_PVSCSI(xendev);
    enum xenbus_state backend_state = xen_device_backend_get_state(xendev);

    trace_xen_pvscsi_frontend_changed(s->devid, frontend_state,
                                      backend_state);
    switch (frontend_state) {
    case XenbusStateInitialised:
    case XenbusStateConnected:
        if (backend_state == XenbusStateConnected) {
            if (frontend_state == XenbusStateConnected) {
                /* The frontend added the LUNs we offered. */
                xen_pvscsi_luns_advance(s, XenbusStateInitialised,
                                        XenbusStateConnected);
            }
            break;
        }
        if (backend_state == XenbusStateClosing) {
            break;
        }
        xen_pvscsi_disconnect(s);
        xen_pvscsi_connect(s, errp);
        if (*errp) {
            break;
        }
        /* Offer the LUNs, then report Connected. */
        xen_pvscsi_luns_advance(s, XenbusStateInitialising,
                                XenbusStateInitialised);
        xen_pvscsi_luns_advance(s, XenbusStateConnected,
                                XenbusStateInitialised);
        xen_device_backend_set_state(xendev, XenbusStateConnected);
        if (frontend_state == XenbusStateConnected) {
            xen_pvscsi_luns_advance(s, XenbusStateInitialised,
                                    XenbusStateConnected);
        }
        break;

    case XenbusStateClosing:
        xen_device_backend_set_state(xendev, XenbusStateClosing);
        break;

    case XenbusStateClosed:
    case XenbusStateUnknown:
        xen_pvscsi_disconnect(s);
        xen_device_backend_set_state(xendev, XenbusStateClosed);
        break;

    default:
        break;
    }
}

/* ---------------------------------------------------------------------- */
/* Device                                                                  */

static char *xen_pvscsi_get_name(XenDevice *xendev, Error **errp)
{
    XenPVSCSI *s = XEN_PVSCSI(xendev);

    return g_strdup_printf("%u", s->devid);
}

static void xen_pvscsi_realize(XenDevice *xendev, Error **errp)
{
    XenPVSCSI *s = XEN_PVSCSI(xendev);

    if (s->max_sg_grant &&
        (s->max_sg_grant < VSCSIIF_SG_TABLESIZE ||
         s->max_sg_grant > XEN_PVSCSI_MAX_SG_GRANT)) {
        error_setg(errp, "max-sg-grant must be 0 or between %u and %u",
                   VSCSIIF_SG_TABLESIZE, (unsigned)XEN_PVSCSI_MAX_SG_GRANT);
        return;
    }

    QTAILQ_INIT(&s->inflight);
    s->luns = g_hash_table_new(NULL, NULL);
    s->bh = aio_bh_new_guarded(qemu_get_aio_context(), xen_pvscsi_bh, s,
                               &DEVICE(s)->mem_reentrancy_guard);

    scsi_bus_init(&s->bus, sizeof(s->bus), DEVICE(s), &xen_pvscsi_scsi_info);
    qbus_set_hotplug_handler(BUS(&s->bus), OBJECT(s));

    if (s->max_sg_grant) {
        xen_device_backend_printf(xendev, "feature-sg-grant", "%u",
                                  s->max_sg_grant);
    }
}

static void xen_pvscsi_unrealize(XenDevice *xendev)
{
    XenPVSCSI *s = XEN_PVSCSI(xendev);

    xen_pvscsi_disconnect(s);
    if (s->bh) {
        qemu_bh_delete(s->bh);
        s->bh = NULL;
    }
    if (s->luns) {
        g_hash_table_destroy(s->luns);
        s->luns = NULL;
    }
}

static const Property xen_pvscsi_props[] = {
    DEFINE_PROP_UINT32("devid", XenPVSCSI, devid, 0),
    DEFINE_PROP_UINT32("max-sg-grant", XenPVSCSI, max_sg_grant,
                       XEN_PVSCSI_DEFAULT_SG_GRANT),
};

static void xen_pvscsi_class_init(ObjectClass *class, void *data)
{
    DeviceClass *dev_class = DEVICE_CLASS(class);
    XenDeviceClass *xendev_class = XEN_DEVICE_CLASS(class);
    HotplugHandlerClass *hc = HOTPLUG_HANDLER_CLASS(class);

    xendev_class->backend = XEN_PVSCSI_BACKEND;
    xendev_class->device = XEN_PVSCSI_DEVICE;
    xendev_class->get_name = xen_pvscsi_get_name;
    xendev_class->realize = xen_pvscsi_realize;
    xendev_class->frontend_changed = xen_pvscsi_frontend_changed;
    xendev_class->unrealize = xen_pvscsi_unrealize;

    hc->pre_plug = xen_pvscsi_pre_plug;
    hc->plug = xen_pvscsi_plug;
    hc->unplug = xen_pvscsi_unplug;

    dev_class->desc = "Xen paravirtual SCSI host (vscsiif backend)";
    set_bit(DEVICE_CATEGORY_STORAGE, dev_class->categories);
    device_class_set_props(dev_class, xen_pvscsi_props);
}

static const TypeInfo xen_pvscsi_type_info = {
    .name = TYPE_XEN_PVSCSI,
    .parent = TYPE_XEN_DEVICE,
    .instance_size = sizeof(XenPVSCSI),
    .class_init = xen_pvscsi_class_init,
    .interfaces = (InterfaceInfo[]) {
        { TYPE_HOTPLUG_HANDLER },
        { }
    },
};

static void xen_pvscsi_register_types(void)
{
    type_register_static(&xen_pvscsi_type_info);
}

type_init(xen_pvscsi_register_types)
