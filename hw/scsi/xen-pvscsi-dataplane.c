/*
 * xen-pvscsi data plane: the vscsiif ring and its requests
 *
 * Every request is copied out of the shared ring once and validated before
 * use.  A request that fails validation is answered with host status ERROR
 * (or NO_CONNECT for an address without a device); every request gets
 * exactly one response, pushed only after the grant copies for it are done
 * (nothing of the guest stays mapped except the ring page).
 *
 * Threading: the ring, the request lists and every SCSIBusInfo callback
 * belong to the data plane's AioContext.  The main loop starts and stops the
 * ring (with the context quiet: aio_wait_bh_oneshot) and performs LUN resets
 * (device_cold_reset needs the BQL), handing the result back through a BH.
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/defer-call.h"
#include "qemu/units.h"
#include "qemu/memalign.h"
#include "qemu/error-report.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "block/aio-wait.h"
#include "hw/xen/xen-bus-helper.h"
#include "hw/xen/xen_backend_ops.h"
#include "hw/xen/interface/io/vscsiif.h"
#include "hw/xen/xen-pvscsi.h"
#include "scsi/constants.h"
#include "scsi/utils.h"
#include "xen-pvscsi-dataplane.h"
#include "trace.h"

#define RSLT_HOST(h)    ((int32_t)(h) << 16)

typedef struct XenPVSCSIReq XenPVSCSIReq;

/*
 * What a request waits for, and so what ends it and what it is answered.
 * Every request is answered exactly once, when it ends, unless it was
 * abandoned before (XenPVSCSIReq.abandoned).
 */
typedef enum XenPVSCSIReqState {
    /* Read from the ring, being checked: answered if it goes no further */
    XEN_PVSCSI_REQ_NEW,
    /* A CDB the SCSI layer runs: answered as the SCSI layer ends it */
    XEN_PVSCSI_REQ_SCSI,
    /* A CDB whose cancellation was asked: answered XenPVSCSIReq.rslt */
    XEN_PVSCSI_REQ_CANCELLED,
    /* An ABORT waiting for its victim's cancellation: answered SUCCESS */
    XEN_PVSCSI_REQ_ABORT,
    /* A RESET waiting for its LUN's commands to end */
    XEN_PVSCSI_REQ_RESET_WAIT,
    /* A RESET the main loop runs: answered SUCCESS */
    XEN_PVSCSI_REQ_RESET,
} XenPVSCSIReqState;

/* What a request keeps when it goes back to the pool */
typedef struct XenPVSCSIReqBufs {
    /*
     * The data, between the guest's pages and the SCSI device: one grant
     * copy per request each way.
     */
    uint8_t *buf;
    size_t size;
    vscsiif_segment_t *ind_segs;    /* indirect descriptors */
    uint32_t ind_cap;
    uint32_t *map_refs;             /* map_cap entries */
    struct iovec *map_iov;          /* map_cap entries */
    uint32_t map_cap;
} XenPVSCSIReqBufs;

struct XenPVSCSIReq {
    XenPVSCSIDataPlane *dp;
    vscsiif_request_t rq;       /* private copy of the ring request */
    XenPVSCSIReqState state;
    /*
     * Answered already (request-timeout) or its ring gone: it ends as its
     * state says, but its answer goes nowhere.  It holds no ring slot.
     */
    bool abandoned;
    int32_t rslt;               /* CANCELLED: the answer decided then */
    SCSIRequest *sreq;          /* a CDB, from scsi_req_new() on */
    SCSIDevice *reset_lun;      /* RESET_WAIT, RESET: referenced */
    Notifier abort_done;        /* ABORT: the victim's cancel ended */
    uint32_t nr_segs;
    vscsiif_segment_t *segs;    /* data segments (direct or indirect) */
    uint64_t buflen;            /* sum of the segment lengths */
    uint64_t done;              /* bytes transferred so far */
    struct iovec iov;
    QEMUIOVector qiov;          /* the SCSI layer's host_iov, if in use */
    bool host_iov;
    /*
     * Or, for a transfer of at least grant-map-threshold bytes, the guest's
     * pages themselves, mapped for the request's life (one call each way)
     */
    void *map;
    uint32_t map_nr;
    int64_t start_ns;           /* QEMU_CLOCK_REALTIME, when read */
    QTAILQ_ENTRY(XenPVSCSIReq) next;
    QSLIST_ENTRY(XenPVSCSIReq) free_next;
    XenPVSCSIReqBufs bufs;      /* kept with the pooled object */
};

/* Request objects kept for reuse, at most a ring's worth */
#define XEN_PVSCSI_POOL_SIZE    XEN_PVSCSI_RING_SIZE
/* Data buffers are allocated in steps of this (and kept, up to a limit) */
#define XEN_PVSCSI_BUF_STEP     (64 * KiB)
#define XEN_PVSCSI_BUF_KEEP     (512 * KiB)

struct XenPVSCSIDataPlane {
    XenDevice *xendev;
    SCSIBus *bus;
    unsigned int devid;
    unsigned int max_sg_grant;
    int64_t timeout_ns;         /* request-timeout, 0: none */
    uint64_t map_threshold;     /* map transfers this large, 0: never */
    IOThread *iothread;
    AioContext *ctx;

    /* Main loop only */
    unsigned int ring_ref;
    void *sring;
    XenEventChannel *event_channel;
    bool attached;              /* event channel handled in ctx */
    bool drained;
    QEMUBH *error_bh;           /* main loop: report a broken ring */

    /* ctx only (or main loop while ctx is quiet) */
    vscsiif_back_ring_t ring;
    bool running;               /* ring mapped and being served */
    bool ring_broken;
    bool batching;              /* responses are pushed at the end */
    bool rsp_pending;
    bool stalled;               /* requests wait for a free slot */
    QEMUBH *bh;
    /* Every request not ended yet, in arrival order */
    QTAILQ_HEAD(, XenPVSCSIReq) reqs;
    unsigned int nr_inflight;       /* of which hold a ring slot */
    unsigned int nr_abandoned;      /* of which were abandoned */
    unsigned int resets;            /* RESETs not ended yet */
    QEMUTimer *timer;           /* request-timeout */
    bool timeout_warned;
    bool abandoned_warned;

    /* TMF work handed to another context and not back yet */
    unsigned int pending_bhs;   /* atomic */

    /* ctx only: free request objects, and the grant-copy scratch array */
    QSLIST_HEAD(, XenPVSCSIReq) pool;
    unsigned int pool_size;
    XenDeviceGrantCopySegment *copy;
    unsigned int copy_cap;
};

/* ---------------------------------------------------------------------- */
/* Responses                                                               */

static void xen_pvscsi_flush_responses(XenPVSCSIDataPlane *dp)
{
    bool notify;

    dp->rsp_pending = false;
    RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&dp->ring, notify);
    if (notify) {
        Error *local_err = NULL;

        xen_device_notify_event_channel(dp->xendev, dp->event_channel,
                                        &local_err);
        if (local_err) {
            error_report_err(local_err);
        }
    }
}

/*
 * Responses of requests that end together (in one completion BH of the
 * block layer's thread pool, Linux AIO or io_uring) are pushed with one
 * notification: defer_call() runs this at the end of that section, or at
 * once outside one.
 */
static void xen_pvscsi_flush_deferred(void *opaque)
{
    XenPVSCSIDataPlane *dp = opaque;

    if (dp->rsp_pending && dp->running && !dp->ring_broken) {
        xen_pvscsi_flush_responses(dp);
    }
}

static void xen_pvscsi_push_response(XenPVSCSIDataPlane *dp, uint16_t rqid,
                                     int32_t rslt, uint32_t residual,
                                     const uint8_t *sense, uint8_t sense_len)
{
    vscsiif_response_t *rsp;

    if (!dp->running || dp->ring_broken) {
        return;
    }
    rsp = RING_GET_RESPONSE(&dp->ring, dp->ring.rsp_prod_pvt);
    memset(rsp, 0, sizeof(*rsp));
    rsp->rqid = rqid;
    rsp->rslt = rslt;
    rsp->residual_len = residual;
    sense_len = MIN(sense_len, VSCSIIF_SENSE_BUFFERSIZE);
    if (sense_len) {
        memcpy(rsp->sense_buffer, sense, sense_len);
    }
    rsp->sense_len = sense_len;
    dp->ring.rsp_prod_pvt++;
    trace_xen_pvscsi_response(dp->devid, rqid, rslt, residual, sense_len);

    /* While the ring is being read, notify once for the whole batch. */
    dp->rsp_pending = true;
    if (!dp->batching) {
        defer_call(xen_pvscsi_flush_deferred, dp);
    }
}

static XenPVSCSIReq *xen_pvscsi_req_new(XenPVSCSIDataPlane *dp)
{
    XenPVSCSIReq *req = QSLIST_FIRST(&dp->pool);
    XenPVSCSIReqBufs bufs = {};

    if (req) {
        QSLIST_REMOVE_HEAD(&dp->pool, free_next);
        dp->pool_size--;
        bufs = req->bufs;
    } else {
        req = g_new(XenPVSCSIReq, 1);
    }
    *req = (XenPVSCSIReq) {
        .dp = dp,
        .state = XEN_PVSCSI_REQ_NEW,
        .bufs = bufs,
    };
    return req;
}

static void xen_pvscsi_req_destroy(XenPVSCSIReq *req)
{
    qemu_vfree(req->bufs.buf);
    g_free(req->bufs.ind_segs);
    g_free(req->bufs.map_refs);
    g_free(req->bufs.map_iov);
    g_free(req);
}

static void xen_pvscsi_req_free(XenPVSCSIReq *req)
{
    XenPVSCSIDataPlane *dp = req->dp;

    if (dp->pool_size >= XEN_PVSCSI_POOL_SIZE) {
        xen_pvscsi_req_destroy(req);
        return;
    }
    if (req->bufs.size > XEN_PVSCSI_BUF_KEEP) {
        qemu_vfree(req->bufs.buf);
        req->bufs.buf = NULL;
        req->bufs.size = 0;
    }
    QSLIST_INSERT_HEAD(&dp->pool, req, free_next);
    dp->pool_size++;
}

/* The grant-copy scratch array, for @n segments (ctx only) */
static XenDeviceGrantCopySegment *xen_pvscsi_copy_segs(XenPVSCSIDataPlane *dp,
                                                       unsigned int n)
{
    if (n > dp->copy_cap) {
        dp->copy_cap = n;
        dp->copy = g_renew(XenDeviceGrantCopySegment, dp->copy, n);
    }
    return dp->copy;
}

/*
 * Copy @len bytes between @buf and the guest's segments, starting at byte
 * @skip of the guest's buffer: one grant-copy call.
 */
static bool xen_pvscsi_copy_data(XenPVSCSIReq *req, bool to_domain,
                                 uint8_t *buf, uint64_t skip, uint64_t len)
{
    XenPVSCSIDataPlane *dp = req->dp;
    XenDeviceGrantCopySegment *copy;
    uint64_t left = len;
    unsigned int n = 0;
    Error *local_err = NULL;

    if (!len) {
        return true;
    }
    copy = xen_pvscsi_copy_segs(dp, req->nr_segs);
    for (uint32_t i = 0; i < req->nr_segs && left; i++) {
        vscsiif_segment_t *seg = &req->segs[i];
        uint64_t chunk;

        if (skip >= seg->length) {
            skip -= seg->length;
            continue;
        }
        chunk = MIN(seg->length - skip, left);
        memset(&copy[n], 0, sizeof(copy[n]));
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

    xen_device_copy_grant_refs(dp->xendev, to_domain, copy, n, &local_err);
    if (local_err) {
        qemu_log_mask(LOG_GUEST_ERROR, "xen-pvscsi %u: request %u: %s\n",
                      dp->devid, req->rq.rqid, error_get_pretty(local_err));
        error_free(local_err);
        return false;
    }
    return true;
}

/*
 * Map the guest's pages that hold the first @len bytes of its buffer, for
 * the SCSI device to move the data in place: one grant-map call, undone
 * (one unmap call) when the request ends, before its response.
 */
static bool xen_pvscsi_map_data(XenPVSCSIReq *req, bool to_domain,
                                uint64_t len)
{
    XenPVSCSIDataPlane *dp = req->dp;
    uint64_t left = len;
    uint32_t n = 0;
    Error *local_err = NULL;

    while (left) {
        assert(n < req->nr_segs);
        left -= MIN(left, req->segs[n].length);
        n++;
    }
    if (n > req->bufs.map_cap) {
        req->bufs.map_cap = n;
        req->bufs.map_refs = g_renew(uint32_t, req->bufs.map_refs, n);
        req->bufs.map_iov = g_renew(struct iovec, req->bufs.map_iov, n);
    }
    for (uint32_t i = 0; i < n; i++) {
        req->bufs.map_refs[i] = req->segs[i].gref;
    }
    req->map = xen_device_map_grant_refs(dp->xendev, req->bufs.map_refs, n,
                                         to_domain ? PROT_WRITE : PROT_READ,
                                         &local_err);
    if (!req->map) {
        qemu_log_mask(LOG_GUEST_ERROR, "xen-pvscsi %u: request %u: %s\n",
                      dp->devid, req->rq.rqid, error_get_pretty(local_err));
        error_free(local_err);
        return false;
    }
    req->map_nr = n;
    left = len;
    for (uint32_t i = 0; i < n; i++) {
        vscsiif_segment_t *seg = &req->segs[i];

        req->bufs.map_iov[i].iov_base = (uint8_t *)req->map +
                                        (size_t)i * XEN_PAGE_SIZE +
                                        seg->offset;
        req->bufs.map_iov[i].iov_len = MIN(left, seg->length);
        left -= req->bufs.map_iov[i].iov_len;
    }
    qemu_iovec_init_external(&req->qiov, req->bufs.map_iov, n);
    trace_xen_pvscsi_map(dp->devid, req->rq.rqid, n, to_domain);
    return true;
}

static void xen_pvscsi_unmap_data(XenPVSCSIReq *req)
{
    Error *local_err = NULL;

    if (!req->map) {
        return;
    }
    xen_device_unmap_grant_refs(req->dp->xendev, req->map, req->bufs.map_refs,
                                req->map_nr, &local_err);
    if (local_err) {
        /* libxengnttab has let go of the mapping all the same */
        error_report_err(local_err);
    }
    req->map = NULL;
}

static void xen_pvscsi_start_resets(XenPVSCSIDataPlane *dp);

/*
 * A ring slot, or a place among the abandoned requests, was freed:
 * requests may be waiting for one.
 */
static void xen_pvscsi_slot_freed(XenPVSCSIDataPlane *dp)
{
    if (dp->stalled && dp->running && !dp->ring_broken) {
        dp->stalled = false;
        qemu_bh_schedule(dp->bh);
    }
}

/*
 * Ask the SCSI layer to cancel @req's CDB, which is then answered @rslt
 * (unless the command completes after all); a CDB being cancelled keeps
 * the answer decided first.  @done, if given, is notified when the CDB
 * has ended.  The cancellation may end @req at once.
 */
static void xen_pvscsi_req_cancel(XenPVSCSIReq *req, int32_t rslt,
                                  Notifier *done)
{
    if (req->state == XEN_PVSCSI_REQ_SCSI) {
        req->state = XEN_PVSCSI_REQ_CANCELLED;
        req->rslt = rslt;
    } else if (req->state != XEN_PVSCSI_REQ_CANCELLED || !done) {
        return;
    }
    scsi_req_cancel_async(req->sreq, done);
}

/* The LUN that runs @req's CDB, or NULL */
static SCSIDevice *xen_pvscsi_req_lun(XenPVSCSIReq *req)
{
    return req->state == XEN_PVSCSI_REQ_SCSI ||
           req->state == XEN_PVSCSI_REQ_CANCELLED ? req->sreq->dev : NULL;
}

/*
 * @req is answered already or will never be: it frees its ring slot and
 * rqid, and ends as its state says, answering nothing.  Its CDB, if the
 * SCSI layer still runs it, is cancelled (which may end it at once).
 */
static void xen_pvscsi_req_abandon(XenPVSCSIReq *req)
{
    XenPVSCSIDataPlane *dp = req->dp;

    assert(!req->abandoned);
    req->abandoned = true;
    dp->nr_inflight--;
    dp->nr_abandoned++;
    xen_pvscsi_slot_freed(dp);
    xen_pvscsi_req_cancel(req, 0, NULL);
}

/*
 * @req has ended: answer it (unless it was abandoned), take it off the
 * list and free it.  Its SCSIRequest, if any, is detached and released.
 */
static void xen_pvscsi_req_done(XenPVSCSIReq *req, int32_t rslt,
                                uint32_t residual, const uint8_t *sense,
                                uint8_t sense_len)
{
    XenPVSCSIDataPlane *dp = req->dp;
    bool on_lun = xen_pvscsi_req_lun(req) != NULL;
    bool abandoned = req->abandoned;

    /* The SCSI layer is done with the data: nothing of it stays mapped. */
    xen_pvscsi_unmap_data(req);
    QTAILQ_REMOVE(&dp->reqs, req, next);
    if (abandoned) {
        dp->nr_abandoned--;
        trace_xen_pvscsi_abandoned_done(dp->devid, req->rq.rqid);
    } else {
        dp->nr_inflight--;
        xen_pvscsi_push_response(dp, req->rq.rqid, rslt, residual, sense,
                                 sense_len);
    }
    if (req->sreq) {
        SCSIRequest *sreq = req->sreq;

        req->sreq = NULL;
        /* The SCSI layer's later callbacks must not find this request. */
        sreq->hba_private = NULL;
        scsi_req_unref(sreq);
    }
    xen_pvscsi_req_free(req);
    /* Its ring slot, or its place among the abandoned ones, is free. */
    xen_pvscsi_slot_freed(dp);
    /* A LUN's command ended: a reset may have waited for it. */
    if (on_lun && dp->resets) {
        xen_pvscsi_start_resets(dp);
    }
}

/*
 * Answer a request that the SCSI layer did not run (its SCSIRequest, if
 * one was made, was never enqueued) with host status @host.
 */
static void xen_pvscsi_reject(XenPVSCSIReq *req, int host, const char *why)
{
    trace_xen_pvscsi_reject(req->dp->devid, req->rq.rqid, req->rq.act, why);
    qemu_log_mask(LOG_GUEST_ERROR, "xen-pvscsi %u: request %u rejected: %s\n",
                  req->dp->devid, req->rq.rqid, why);
    xen_pvscsi_req_done(req, RSLT_HOST(host), 0, NULL, 0);
}

/*
 * Answer a command the SCSI device never ran with CHECK CONDITION and
 * @sense, nothing transferred.
 */
static void xen_pvscsi_check_condition(XenPVSCSIReq *req, SCSISense sense,
                                       const char *why)
{
    uint8_t buf[SCSI_SENSE_BUF_SIZE];
    int len = scsi_build_sense_buf(buf, sizeof(buf), sense, true);

    trace_xen_pvscsi_reject(req->dp->devid, req->rq.rqid, req->rq.act, why);
    qemu_log_mask(LOG_GUEST_ERROR, "xen-pvscsi %u: request %u: %s\n",
                  req->dp->devid, req->rq.rqid, why);
    xen_pvscsi_req_done(req, CHECK_CONDITION, req->buflen, buf, len);
}

/* ---------------------------------------------------------------------- */
/* SCSI bus callbacks (in ctx)                                             */

/* The ring's ABI: 252-byte requests and responses on every architecture */
QEMU_BUILD_BUG_ON(sizeof(vscsiif_request_t) != 252);
QEMU_BUILD_BUG_ON(sizeof(vscsiif_response_t) != 252);
QEMU_BUILD_BUG_ON(sizeof(vscsiif_segment_t) != 8);
QEMU_BUILD_BUG_ON(XEN_PVSCSI_RING_SIZE != 16);

/*
 * A failed request's host status: QEMU's SCSI_HOST_* values, or for
 * passthrough the host byte Linux's SG_IO returned.  Both, and vscsiif's
 * XEN_VSCSIIF_RSLT_HOST_*, use Linux's DID_* numbering; the names QEMU has
 * are checked here.
 */
QEMU_BUILD_BUG_ON(SCSI_HOST_OK != XEN_VSCSIIF_RSLT_HOST_OK);
QEMU_BUILD_BUG_ON(SCSI_HOST_NO_LUN != XEN_VSCSIIF_RSLT_HOST_NO_CONNECT);
QEMU_BUILD_BUG_ON(SCSI_HOST_BUSY != XEN_VSCSIIF_RSLT_HOST_BUS_BUSY);
QEMU_BUILD_BUG_ON(SCSI_HOST_TIME_OUT != XEN_VSCSIIF_RSLT_HOST_TIME_OUT);
QEMU_BUILD_BUG_ON(SCSI_HOST_BAD_RESPONSE != XEN_VSCSIIF_RSLT_HOST_BAD_TARGET);
QEMU_BUILD_BUG_ON(SCSI_HOST_ABORTED != XEN_VSCSIIF_RSLT_HOST_ABORT);
QEMU_BUILD_BUG_ON(SCSI_HOST_ERROR != XEN_VSCSIIF_RSLT_HOST_ERROR);
QEMU_BUILD_BUG_ON(SCSI_HOST_RESET != XEN_VSCSIIF_RSLT_HOST_RESET);
QEMU_BUILD_BUG_ON(SCSI_HOST_TRANSPORT_DISRUPTED !=
                  XEN_VSCSIIF_RSLT_HOST_TRANSPORT_DISRUPTED);
QEMU_BUILD_BUG_ON(SCSI_HOST_TARGET_FAILURE !=
                  XEN_VSCSIIF_RSLT_HOST_TARGET_FAILURE);
QEMU_BUILD_BUG_ON(SCSI_HOST_RESERVATION_ERROR !=
                  XEN_VSCSIIF_RSLT_HOST_NEXUS_FAILURE);
QEMU_BUILD_BUG_ON(SCSI_HOST_ALLOCATION_FAILURE !=
                  XEN_VSCSIIF_RSLT_HOST_ALLOC_FAILURE);
QEMU_BUILD_BUG_ON(SCSI_HOST_MEDIUM_ERROR != XEN_VSCSIIF_RSLT_HOST_MEDIUM_ERROR);

static int xen_pvscsi_host_status(int host_status)
{
    if (host_status < 0 || host_status > XEN_VSCSIIF_RSLT_HOST_LAST) {
        return XEN_VSCSIIF_RSLT_HOST_ERROR;
    }
    return host_status;
}

/*
 * Only for a data transfer without a host I/O vector (see
 * xen_pvscsi_get_host_iov): the SCSI device's buffer, piece by piece.
 */
void xen_pvscsi_transfer_data(SCSIRequest *sreq, uint32_t len)
{
    XenPVSCSIReq *req = sreq->hba_private;
    XenPVSCSIDataPlane *dp;
    bool to_domain;

    /*
     * A CDB being cancelled (abandoned ones included) ends through the
     * cancel path: never touch the guest for it.
     */
    if (!req || req->state != XEN_PVSCSI_REQ_SCSI) {
        return;
    }
    dp = req->dp;
    to_domain = sreq->cmd.mode == SCSI_XFER_FROM_DEV;
    trace_xen_pvscsi_transfer(dp->devid, req->rq.rqid, len, to_domain);

    if (len > req->buflen - req->done ||
        !xen_pvscsi_copy_data(req, to_domain, scsi_req_get_buf(sreq),
                              req->done, len)) {
        /* The device wants more than the guest gave, or a bad grant */
        xen_pvscsi_req_cancel(req, RSLT_HOST(XEN_VSCSIIF_RSLT_HOST_ERROR),
                              NULL);
        return;
    }
    req->done += len;
    scsi_req_continue(sreq);
}

QEMUIOVector *xen_pvscsi_get_host_iov(SCSIRequest *sreq)
{
    XenPVSCSIReq *req = sreq->hba_private;

    return req && req->host_iov ? &req->qiov : NULL;
}

void xen_pvscsi_complete(SCSIRequest *sreq, size_t resid)
{
    XenPVSCSIReq *req = sreq->hba_private;
    uint8_t sense[SCSI_SENSE_BUF_SIZE];
    int sense_len = 0;

    if (!req) {
        return;
    }
    if (req->host_iov) {
        /* What the device moved; data from it goes to the guest now. */
        req->done = sreq->cmd.xfer - MIN(resid, sreq->cmd.xfer);
        if (sreq->cmd.mode == SCSI_XFER_FROM_DEV && !req->abandoned &&
            !req->map) {
            trace_xen_pvscsi_transfer(req->dp->devid, req->rq.rqid,
                                      req->done, true);
            if (!xen_pvscsi_copy_data(req, true, req->bufs.buf, 0,
                                      req->done)) {
                xen_pvscsi_req_done(req,
                                    RSLT_HOST(XEN_VSCSIIF_RSLT_HOST_ERROR),
                                    req->buflen, NULL, 0);
                return;
            }
        }
    }
    if (sreq->status == CHECK_CONDITION) {
        sense_len = scsi_req_get_sense(sreq, sense, sizeof(sense));
    }
    xen_pvscsi_req_done(req, sreq->status, req->buflen - req->done, sense,
                        MAX(sense_len, 0));
}

void xen_pvscsi_fail(SCSIRequest *sreq)
{
    XenPVSCSIReq *req = sreq->hba_private;

    if (!req) {
        return;
    }
    xen_pvscsi_req_done(req,
                        RSLT_HOST(xen_pvscsi_host_status(sreq->host_status)),
                        req->buflen - req->done, NULL, 0);
}

void xen_pvscsi_cancel(SCSIRequest *sreq)
{
    XenPVSCSIReq *req = sreq->hba_private;
    int32_t rslt;

    if (!req) {
        return;
    }
    /* Or the SCSI layer dropped it on its own (an unplug): ABORT */
    rslt = req->state == XEN_PVSCSI_REQ_CANCELLED ?
        req->rslt : RSLT_HOST(XEN_VSCSIIF_RSLT_HOST_ABORT);
    trace_xen_pvscsi_cancelled(req->dp->devid, req->rq.rqid, rslt);
    xen_pvscsi_req_done(req, rslt, req->buflen - req->done, NULL, 0);
}

/*
 * Passthrough devices (scsi-generic, scsi-block) cannot size every CDB:
 * the transfer length is the guest's buffer and the direction the guest's.
 */
int xen_pvscsi_parse_cdb(SCSIDevice *dev, SCSICommand *cmd, uint8_t *buf,
                         size_t buf_len, void *hba_private)
{
    XenPVSCSIReq *req = hba_private;

    if (req->rq.sc_data_direction == VSCSIIF_DMA_BIDIRECTIONAL) {
        /*
         * Unspecified: the CDB's own, as scsi_req_parse_cdb() gave them;
         * a CDB it could not parse gets the SCSI layer's INVALID OPCODE.
         */
        return cmd->len ? 0 : -1;
    }
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

/* ---------------------------------------------------------------------- */
/* Request parsing                                                         */

/*
 * Fetch the data segments of @req: the direct ones, or the descriptors in
 * the indirect pages (copied out of the guest once).  Returns an error text
 * or NULL.
 */
static const char *xen_pvscsi_get_segments(XenPVSCSIReq *req)
{
    XenPVSCSIDataPlane *dp = req->dp;
    vscsiif_request_t *rq = &req->rq;
    unsigned int n = rq->nr_segments & ~VSCSIIF_SG_GRANT;

    if (!(rq->nr_segments & VSCSIIF_SG_GRANT)) {
        if (n > VSCSIIF_SG_TABLESIZE) {
            return "too many segments";
        }
        req->segs = rq->seg;    /* in our copy of the request */
        req->nr_segs = n;
    } else {
        XenDeviceGrantCopySegment copy[VSCSIIF_SG_TABLESIZE];
        uint32_t total = 0;
        uint8_t *dst;
        Error *local_err = NULL;

        if (!dp->max_sg_grant) {
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
        if (total > dp->max_sg_grant) {
            return "more segments than feature-sg-grant";
        }
        if (total > req->bufs.ind_cap) {
            g_free(req->bufs.ind_segs);
            req->bufs.ind_segs = g_new(vscsiif_segment_t, total);
            req->bufs.ind_cap = total;
        }
        req->segs = req->bufs.ind_segs;
        req->nr_segs = total;
        dst = (uint8_t *)req->segs;
        for (unsigned int i = 0; i < n; i++) {
            copy[i].source.foreign.ref = rq->seg[i].gref;
            copy[i].source.foreign.offset = rq->seg[i].offset;
            copy[i].dest.virt = dst;
            copy[i].len = rq->seg[i].length;
            dst += rq->seg[i].length;
        }
        xen_device_copy_grant_refs(dp->xendev, false, copy, n, &local_err);
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

static XenPVSCSIReq *xen_pvscsi_find_inflight(XenPVSCSIDataPlane *dp,
                                              uint16_t rqid)
{
    XenPVSCSIReq *req;

    QTAILQ_FOREACH(req, &dp->reqs, next) {
        if (!req->abandoned && req->rq.rqid == rqid) {
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

    /*
     * vscsiif's DMA_BIDIRECTIONAL (0) cannot be a transfer both ways (the
     * ring has no second buffer): Windows' GPLPV xenscsi sends it for a
     * request of unspecified direction (SRB_FLAGS_UNSPECIFIED_DIRECTION,
     * both data flags).  The CDB then gives the direction and length, as
     * QEMU's SCSI layer parses them; a CDB it cannot size cannot run.
     */
    if (dir == VSCSIIF_DMA_BIDIRECTIONAL && rq->cmd_len &&
        (scsi_cdb_length(rq->cmnd) < 0 ||
         scsi_cdb_length(rq->cmnd) > rq->cmd_len)) {
        xen_pvscsi_reject(req, XEN_VSCSIIF_RSLT_HOST_ERROR,
                          "no data direction for a CDB of unknown length");
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
    /* buflen <= max-sg-grant pages (54 MiB at most): fits the SCSI layer */
    sreq = scsi_req_new(d, rq->rqid, rq->lun, rq->cmnd, rq->cmd_len, req);
    req->sreq = sreq;

    /* The CDB's own transfer must match what the guest set up. */
    if (sreq->cmd.mode != SCSI_XFER_NONE && dir != VSCSIIF_DMA_NONE &&
        dir != VSCSIIF_DMA_BIDIRECTIONAL &&
        (sreq->cmd.mode == SCSI_XFER_FROM_DEV) !=
        (dir == VSCSIIF_DMA_FROM_DEVICE)) {
        xen_pvscsi_reject(req, XEN_VSCSIIF_RSLT_HOST_ERROR,
                          "data direction does not match the CDB");
        return;
    }
    if (sreq->cmd.mode != SCSI_XFER_NONE && sreq->cmd.xfer > req->buflen) {
        /*
         * A buffer smaller than the CDB's transfer (none at all included)
         * is a SCSI error, answered as Linux's LIO-based backend answers a
         * WRITE of the wrong size: INVALID FIELD IN CDB, for both
         * directions.  (Passthrough LUNs take the length from the buffer.)
         */
        xen_pvscsi_check_condition(req, SENSE_CODE(INVALID_FIELD),
                                   "data buffer smaller than the CDB's "
                                   "transfer");
        return;
    }

    /*
     * The whole transfer goes through one buffer of ours, handed to the
     * SCSI device as its host I/O vector: data to the device is copied in
     * from the guest now, data from it out to the guest at completion.
     * From grant-map-threshold up, the buffer is the guest's own pages,
     * mapped now and unmapped when the request ends.
     */
    if (sreq->cmd.mode != SCSI_XFER_NONE && sreq->cmd.xfer &&
        req->dp->map_threshold && sreq->cmd.xfer >= req->dp->map_threshold) {
        /* Or, for a large one, straight in the guest's pages */
        if (!xen_pvscsi_map_data(req, sreq->cmd.mode == SCSI_XFER_FROM_DEV,
                                 sreq->cmd.xfer)) {
            xen_pvscsi_reject(req, XEN_VSCSIIF_RSLT_HOST_ERROR,
                              "cannot map the data");
            return;
        }
        req->host_iov = true;
    } else if (sreq->cmd.mode != SCSI_XFER_NONE && sreq->cmd.xfer) {
        size_t need = sreq->cmd.xfer;

        if (need > req->bufs.size) {
            /*
             * Up to max-sg-grant pages (54 MiB at most): the guest chooses
             * the size, so a failed allocation fails the request, not QEMU.
             */
            qemu_vfree(req->bufs.buf);
            req->bufs.size = ROUND_UP(need, XEN_PVSCSI_BUF_STEP);
            req->bufs.buf = qemu_try_memalign(XEN_PAGE_SIZE, req->bufs.size);
            if (!req->bufs.buf) {
                req->bufs.size = 0;
                xen_pvscsi_reject(req, XEN_VSCSIIF_RSLT_HOST_ERROR,
                                  "no memory for the data buffer");
                return;
            }
        }
        if (sreq->cmd.mode == SCSI_XFER_TO_DEV &&
            !xen_pvscsi_copy_data(req, false, req->bufs.buf, 0, need)) {
            xen_pvscsi_reject(req, XEN_VSCSIIF_RSLT_HOST_ERROR,
                              "cannot read the data");
            return;
        }
        req->iov.iov_base = req->bufs.buf;
        req->iov.iov_len = need;
        qemu_iovec_init_external(&req->qiov, &req->iov, 1);
        req->host_iov = true;
    }

    trace_xen_pvscsi_cdb(req->dp->devid, rq->rqid, rq->channel, rq->id,
                         rq->lun, rq->cmnd[0], req->buflen, dir);
    req->state = XEN_PVSCSI_REQ_SCSI;
    if (scsi_req_enqueue(sreq)) {
        scsi_req_continue(sreq);
    }
}

static void xen_pvscsi_abort_done(Notifier *notifier, void *data)
{
    XenPVSCSIReq *req = container_of(notifier, XenPVSCSIReq, abort_done);

    xen_pvscsi_req_done(req, XEN_VSCSIIF_RSLT_RESET_SUCCESS, 0, NULL, 0);
}

static void xen_pvscsi_do_abort(XenPVSCSIReq *req)
{
    XenPVSCSIDataPlane *dp = req->dp;
    XenPVSCSIReq *victim = xen_pvscsi_find_inflight(dp, req->rq.ref_rqid);

    if (victim && !xen_pvscsi_req_lun(victim)) {
        victim = NULL;          /* a TMF is not abortable */
    }
    if (victim && (victim->rq.channel != req->rq.channel ||
                   victim->rq.id != req->rq.id ||
                   victim->rq.lun != req->rq.lun)) {
        victim = NULL;          /* no such task on the addressed LUN */
    }
    trace_xen_pvscsi_abort(dp->devid, req->rq.rqid, req->rq.ref_rqid,
                           victim != NULL);
    if (!victim) {
        /* Like LIO: no such task is FAILED (the guest escalates). */
        xen_pvscsi_req_done(req, XEN_VSCSIIF_RSLT_RESET_FAILED, 0, NULL, 0);
        return;
    }
    /*
     * The victim is answered (host ABORT, unless it was being cancelled
     * already) when its cancellation ends, and then this ABORT, SUCCESS.
     */
    req->state = XEN_PVSCSI_REQ_ABORT;
    req->abort_done.notify = xen_pvscsi_abort_done;
    xen_pvscsi_req_cancel(victim, RSLT_HOST(XEN_VSCSIIF_RSLT_HOST_ABORT),
                          &req->abort_done);
}

static void xen_pvscsi_reset_done_bh(void *opaque)
{
    XenPVSCSIReq *req = opaque;
    XenPVSCSIDataPlane *dp = req->dp;

    trace_xen_pvscsi_reset_done(dp->devid, req->rq.rqid);
    req->reset_lun = NULL;
    dp->resets--;
    xen_pvscsi_req_done(req, XEN_VSCSIIF_RSLT_RESET_SUCCESS, 0, NULL, 0);
    qatomic_dec(&dp->pending_bhs);
    aio_wait_kick();
}

/* Main loop: reset the LUN, then answer the TMF back in ctx. */
static void xen_pvscsi_reset_bh(void *opaque)
{
    XenPVSCSIReq *req = opaque;
    SCSIDevice *d = req->reset_lun;

    /* The LUN may have been unplugged meanwhile. */
    if (qdev_is_realized(DEVICE(d))) {
        device_cold_reset(DEVICE(d));
    }
    object_unref(OBJECT(d));
    aio_bh_schedule_oneshot(req->dp->ctx, xen_pvscsi_reset_done_bh, req);
}

/*
 * Hand the RESETs to the main loop whose LUN runs none of our commands any
 * more: device_cold_reset() drains the LUN with the BQL held, and must not
 * wait there for I/O that may never end (a dead iSCSI target).
 */
static void xen_pvscsi_start_resets(XenPVSCSIDataPlane *dp)
{
    XenPVSCSIReq *reset, *r;

    QTAILQ_FOREACH(reset, &dp->reqs, next) {
        bool busy = false;

        if (reset->state != XEN_PVSCSI_REQ_RESET_WAIT) {
            continue;
        }
        QTAILQ_FOREACH(r, &dp->reqs, next) {
            if (xen_pvscsi_req_lun(r) == reset->reset_lun) {
                busy = true;
                break;
            }
        }
        if (!busy) {
            reset->state = XEN_PVSCSI_REQ_RESET;
            qatomic_inc(&dp->pending_bhs);
            aio_bh_schedule_oneshot(qemu_get_aio_context(),
                                    xen_pvscsi_reset_bh, reset);
        }
    }
}

/* Is a RESET of @d under way? */
static bool xen_pvscsi_lun_resetting(XenPVSCSIDataPlane *dp, SCSIDevice *d)
{
    XenPVSCSIReq *r;

    if (!dp->resets) {
        return false;
    }
    QTAILQ_FOREACH(r, &dp->reqs, next) {
        if (r->reset_lun == d) {
            return true;
        }
    }
    return false;
}

static void xen_pvscsi_do_reset(XenPVSCSIReq *req, SCSIDevice *d)
{
    XenPVSCSIDataPlane *dp = req->dp;
    XenPVSCSIReq *r;

    trace_xen_pvscsi_reset(dp->devid, req->rq.rqid, req->rq.channel,
                           req->rq.id, req->rq.lun);
    /*
     * Every command in flight on the LUN now is swept by the reset and
     * answered with host RESET.  A cancel may end requests at once (an
     * ABORT waiting for one too), so look again from the start.
     */
restart:
    QTAILQ_FOREACH(r, &dp->reqs, next) {
        if (r->state == XEN_PVSCSI_REQ_SCSI && r->sreq->dev == d) {
            xen_pvscsi_req_cancel(r, RSLT_HOST(XEN_VSCSIIF_RSLT_HOST_RESET),
                                  NULL);
            goto restart;
        }
    }
    /*
     * The reset itself waits until the cancelled commands have ended (the
     * SCSI layer cannot stop one that the block layer still runs), so the
     * guest gets exactly the answers above, and the main loop never waits.
     */
    object_ref(OBJECT(d));
    req->reset_lun = d;
    req->state = XEN_PVSCSI_REQ_RESET_WAIT;
    dp->resets++;
    xen_pvscsi_start_resets(dp);
}

static void xen_pvscsi_handle_request(XenPVSCSIReq *req)
{
    XenPVSCSIDataPlane *dp = req->dp;
    vscsiif_request_t *rq = &req->rq;
    g_autoptr(SCSIDevice) d = NULL;
    int dir = rq->sc_data_direction;

    if (rq->act != VSCSIIF_ACT_SCSI_CDB && rq->act != VSCSIIF_ACT_SCSI_ABORT &&
        rq->act != VSCSIIF_ACT_SCSI_RESET) {
        xen_pvscsi_reject(req, XEN_VSCSIIF_RSLT_HOST_ERROR, "unknown act");
        return;
    }
    /* rqid is the frontend's handle: two requests must not share one. */
    if (xen_pvscsi_find_inflight(dp, rq->rqid) != req) {
        xen_pvscsi_reject(req, XEN_VSCSIIF_RSLT_HOST_ERROR,
                          "rqid already in flight");
        return;
    }
    /* Checked for every act, as Linux's xen-scsiback does. */
    if (rq->cmd_len > VSCSIIF_MAX_COMMAND_SIZE) {
        xen_pvscsi_reject(req, XEN_VSCSIIF_RSLT_HOST_ERROR, "cmd_len > 16");
        return;
    }
    if (dir > VSCSIIF_DMA_NONE) {
        xen_pvscsi_reject(req, XEN_VSCSIIF_RSLT_HOST_ERROR,
                          "bad data direction");
        return;
    }
    d = scsi_device_get(dp->bus, rq->channel, rq->id, rq->lun);
    if (!d) {
        xen_pvscsi_reject(req, XEN_VSCSIIF_RSLT_HOST_NO_CONNECT,
                          "no such target");
        return;
    }
    switch (rq->act) {
    case VSCSIIF_ACT_SCSI_CDB:
        if (xen_pvscsi_lun_resetting(dp, d)) {
            /* The reset would sweep it: the guest retries it after. */
            trace_xen_pvscsi_reject(dp->devid, rq->rqid, rq->act,
                                    "LUN reset under way");
            xen_pvscsi_req_done(req, RSLT_HOST(XEN_VSCSIIF_RSLT_HOST_BUS_BUSY),
                                0, NULL, 0);
            break;
        }
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
/* The ring (in ctx)                                                       */

static void xen_pvscsi_error_bh(void *opaque)
{
    XenPVSCSIDataPlane *dp = opaque;

    /* Closing: the frontend tears down, then the ring is let go. */
    xen_device_backend_set_state(dp->xendev, XenbusStateClosing);
}

static void xen_pvscsi_ring_error(XenPVSCSIDataPlane *dp, const char *why)
{
    error_report("xen-pvscsi %u: %s; disconnecting this device",
                 dp->devid, why);
    trace_xen_pvscsi_ring_broken(dp->devid, why);
    dp->ring_broken = true;
    qemu_bh_schedule(dp->error_bh);
}

/*
 * request-timeout: answer a request that has waited too long, as a
 * transport failure (the guest fails it at once, as Linux does a command
 * of a session gone for longer than the iSCSI replacement_timeout; a TMF
 * failed), and abandon it: it frees its ring slot and rqid, but keeps its
 * memory until the SCSI layer ends it.  Data of a READ is not copied to the
 * guest any more; a WRITE may still reach the medium.
 */
static void xen_pvscsi_time_out(XenPVSCSIReq *req)
{
    XenPVSCSIDataPlane *dp = req->dp;
    int32_t rslt = req->rq.act == VSCSIIF_ACT_SCSI_CDB ?
        RSLT_HOST(XEN_VSCSIIF_RSLT_HOST_TRANSPORT_FAILFAST) :
        XEN_VSCSIIF_RSLT_RESET_FAILED;

    trace_xen_pvscsi_timeout(dp->devid, req->rq.rqid, req->rq.act, rslt);
    warn_report_once_cond(&dp->timeout_warned,
                          "xen-pvscsi %u: requests time out after %u s; "
                          "failing them to the guest", dp->devid,
                          (unsigned int)(dp->timeout_ns /
                                         NANOSECONDS_PER_SECOND));
    xen_pvscsi_push_response(dp, req->rq.rqid, rslt, req->buflen - req->done,
                             NULL, 0);
    xen_pvscsi_req_abandon(req);
}

/* The oldest request that holds a ring slot */
static XenPVSCSIReq *xen_pvscsi_oldest(XenPVSCSIDataPlane *dp)
{
    XenPVSCSIReq *req;

    QTAILQ_FOREACH(req, &dp->reqs, next) {
        if (!req->abandoned) {
            return req;
        }
    }
    return NULL;
}

static void xen_pvscsi_timer_arm(XenPVSCSIDataPlane *dp)
{
    XenPVSCSIReq *oldest = xen_pvscsi_oldest(dp);

    if (oldest) {
        timer_mod(dp->timer, oldest->start_ns + dp->timeout_ns);
    } else {
        timer_del(dp->timer);
    }
}

static void xen_pvscsi_timer_cb(void *opaque)
{
    XenPVSCSIDataPlane *dp = opaque;
    int64_t now = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    XenPVSCSIReq *req;

    if (!dp->running || dp->ring_broken) {
        return;
    }
    dp->batching = true;
    while ((req = xen_pvscsi_oldest(dp)) &&
           now - req->start_ns >= dp->timeout_ns) {
        xen_pvscsi_time_out(req);
    }
    dp->batching = false;
    if (dp->rsp_pending) {
        xen_pvscsi_flush_responses(dp);
    }
    xen_pvscsi_timer_arm(dp);
}

/*
 * Read and start the requests on the ring.  The work per call is bounded:
 * at most a ring's worth of requests is read (the rest is left to the BH,
 * so that other handlers of the context run in between); a request
 * producer index that runs more than a ring ahead of the responses, or
 * back behind what was read already, is a broken ring.  Requests are not
 * read while the ring's slots are all in use, nor while a ring's worth of
 * abandoned requests (answered, or of an older ring, that the SCSI layer
 * has not ended yet) is kept: that bounds what a guest makes QEMU keep.
 */
static bool xen_pvscsi_handle_requests(XenPVSCSIDataPlane *dp)
{
    RING_IDX rc, rp;
    unsigned int budget = XEN_PVSCSI_RING_SIZE;
    bool progress = false;
    bool more_work = false;
    int more;

    if (!dp->running || dp->ring_broken) {
        return false;
    }
    dp->batching = true;
    defer_call_begin();
    do {
        rc = dp->ring.req_cons;
        rp = dp->ring.sring->req_prod;
        xen_rmb();          /* see the requests up to rp */

        if (RING_REQUEST_PROD_OVERFLOW(&dp->ring, rp)) {
            xen_pvscsi_ring_error(dp, "frontend's request producer "
                                  "overflows the ring");
            break;
        }
        if (rp - rc > XEN_PVSCSI_RING_SIZE) {
            /* Neither overflowing nor ahead: rp is behind req_cons */
            xen_pvscsi_ring_error(dp, "frontend's request producer "
                                  "runs backwards");
            break;
        }
        while (rc != rp && !dp->ring_broken) {
            XenPVSCSIReq *req;

            if (RING_REQUEST_CONS_OVERFLOW(&dp->ring, rc) ||
                dp->nr_inflight >= XEN_PVSCSI_RING_SIZE) {
                break;      /* wait for responses to free slots */
            }
            if (dp->nr_abandoned >= XEN_PVSCSI_MAX_ABANDONED) {
                warn_report_once_cond(&dp->abandoned_warned,
                                      "xen-pvscsi %u: %u abandoned requests "
                                      "have not ended; reading no more "
                                      "until they do", dp->devid,
                                      dp->nr_abandoned);
                trace_xen_pvscsi_abandoned_full(dp->devid, dp->nr_abandoned);
                break;
            }
            if (!budget) {
                more_work = true;
                break;
            }
            budget--;
            req = xen_pvscsi_req_new(dp);
            if (dp->timer) {
                req->start_ns = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
            }
            RING_COPY_REQUEST(&dp->ring, rc, &req->rq);
            dp->ring.req_cons = ++rc;
            QTAILQ_INSERT_TAIL(&dp->reqs, req, next);
            dp->nr_inflight++;
            trace_xen_pvscsi_request(dp->devid, req->rq.rqid, req->rq.act);
            xen_pvscsi_handle_request(req);
            progress = true;
        }
        if (dp->ring_broken || more_work) {
            break;
        }
        RING_FINAL_CHECK_FOR_REQUESTS(&dp->ring, more);
    } while (more && dp->ring.req_cons != dp->ring.sring->req_prod &&
             !RING_REQUEST_CONS_OVERFLOW(&dp->ring, dp->ring.req_cons) &&
             dp->nr_inflight < XEN_PVSCSI_RING_SIZE &&
             dp->nr_abandoned < XEN_PVSCSI_MAX_ABANDONED);
    defer_call_end();
    dp->batching = false;
    if (dp->timer && !timer_pending(dp->timer)) {
        xen_pvscsi_timer_arm(dp);
    }
    if (more_work && !dp->ring_broken) {
        /* The budget is spent: go on after the context's other work. */
        dp->stalled = false;
        trace_xen_pvscsi_budget_spent(dp->devid, dp->ring.req_cons);
        qemu_bh_schedule(dp->bh);
    } else {
        dp->stalled = !dp->ring_broken &&
                      dp->ring.req_cons != dp->ring.sring->req_prod;
    }
    if (dp->rsp_pending) {
        xen_pvscsi_flush_responses(dp);
    }
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
/* Start and stop (main loop)                                              */

static void xen_pvscsi_attach(XenPVSCSIDataPlane *dp)
{
    if (dp->event_channel && !dp->attached && !dp->drained) {
        /* Only reason for failure is a NULL channel */
        xen_device_set_event_channel_context(dp->xendev, dp->event_channel,
                                             dp->ctx, &error_abort);
        dp->attached = true;
        qemu_bh_schedule(dp->bh);   /* requests may be waiting */
    }
}

static void xen_pvscsi_detach(XenPVSCSIDataPlane *dp)
{
    if (dp->event_channel && dp->attached) {
        xen_device_set_event_channel_context(dp->xendev, dp->event_channel,
                                             NULL, &error_abort);
        dp->attached = false;
    }
}

void xen_pvscsi_dataplane_start(XenPVSCSIDataPlane *dp, unsigned int ring_ref,
                                unsigned int port, Error **errp)
{
    ERRP_GUARD();
    XenDevice *xendev = dp->xendev;

    assert(!dp->sring && !dp->event_channel && !dp->running);

    /* The ring, and the data of every request that may be mapped at once */
    xen_device_set_max_grant_refs(xendev, 1 + (dp->map_threshold ?
        (XEN_PVSCSI_RING_SIZE + XEN_PVSCSI_MAX_ABANDONED) *
        MAX(dp->max_sg_grant, VSCSIIF_SG_TABLESIZE) : 0), errp);
    if (*errp) {
        return;
    }
    dp->ring_ref = ring_ref;
    dp->sring = xen_device_map_grant_refs(xendev, &dp->ring_ref, 1,
                                          PROT_READ | PROT_WRITE, errp);
    if (*errp) {
        dp->sring = NULL;
        return;
    }
    BACK_RING_INIT(&dp->ring, (vscsiif_sring_t *)dp->sring, XEN_PAGE_SIZE);

    dp->event_channel = xen_device_bind_event_channel(xendev, port,
                                                      xen_pvscsi_event, dp,
                                                      errp);
    if (*errp) {
        Error *local_err = NULL;

        dp->event_channel = NULL;
        xen_device_unmap_grant_refs(xendev, dp->sring, &dp->ring_ref, 1,
                                    &local_err);
        error_free(local_err);
        dp->sring = NULL;
        return;
    }
    /* Bound in the main loop: it moves to ctx in attach (unless drained). */
    xen_device_set_event_channel_context(xendev, dp->event_channel, NULL,
                                         &error_abort);
    dp->attached = false;

    dp->ring_broken = false;
    dp->rsp_pending = false;
    dp->running = true;
    trace_xen_pvscsi_connect(dp->devid, ring_ref, port);
    xen_pvscsi_attach(dp);
}

/* In ctx: stop serving and cut every request loose from the ring. */
static void xen_pvscsi_stop_bh(void *opaque)
{
    XenPVSCSIDataPlane *dp = opaque;
    XenPVSCSIReq *req;

    trace_xen_pvscsi_disconnect(dp->devid, dp->nr_inflight);
    dp->running = false;
    qemu_bh_cancel(dp->bh);

    if (dp->timer) {
        timer_del(dp->timer);
    }
    /*
     * Abandon every request: the CDBs the SCSI layer runs are cancelled.  A
     * cancel may end requests at once (an ABORT waiting for one too), so
     * look again from the start after each one.
     */
restart:
    QTAILQ_FOREACH(req, &dp->reqs, next) {
        if (!req->abandoned) {
            xen_pvscsi_req_abandon(req);
            goto restart;
        }
    }
    /*
     * What is left finishes on its own: cancelled requests through the
     * SCSI layer, RESETs through their BHs.
     */
}

void xen_pvscsi_dataplane_stop(XenPVSCSIDataPlane *dp)
{
    XenDevice *xendev = dp->xendev;
    Error *local_err = NULL;

    if (!dp->sring && !dp->event_channel) {
        return;
    }
    /* No more events in ctx, then quiesce ctx's side. */
    xen_pvscsi_detach(dp);
    aio_wait_bh_oneshot(dp->ctx, xen_pvscsi_stop_bh, dp);

    if (dp->event_channel) {
        xen_device_unbind_event_channel(xendev, dp->event_channel,
                                        &local_err);
        dp->event_channel = NULL;
        if (local_err) {
            error_report_err(local_err);
            local_err = NULL;
        }
    }
    if (dp->sring) {
        xen_device_unmap_grant_refs(xendev, dp->sring, &dp->ring_ref, 1,
                                    &local_err);
        dp->sring = NULL;
        if (local_err) {
            error_report_err(local_err);
        }
    }
    qemu_bh_cancel(dp->error_bh);
}

typedef struct XenPVSCSICount {
    XenPVSCSIDataPlane *dp;
    GHashTable *per_lun;
    unsigned int total;
    unsigned int abandoned;
} XenPVSCSICount;

/* In ctx, or in the main loop with ctx quiet */
static void xen_pvscsi_count_bh(void *opaque)
{
    XenPVSCSICount *count = opaque;
    XenPVSCSIReq *req;

    QTAILQ_FOREACH(req, &count->dp->reqs, next) {
        SCSIDevice *d = xen_pvscsi_req_lun(req);
        unsigned int n;

        if (!d || req->abandoned) {
            continue;           /* a TMF, or not the guest's any more */
        }
        n = GPOINTER_TO_UINT(g_hash_table_lookup(count->per_lun, d));
        g_hash_table_insert(count->per_lun, d, GUINT_TO_POINTER(n + 1));
        count->total++;
    }
    count->abandoned = count->dp->nr_abandoned;
}

unsigned int xen_pvscsi_dataplane_count_inflight(XenPVSCSIDataPlane *dp,
                                                 GHashTable *per_lun,
                                                 uint32_t *abandoned)
{
    XenPVSCSICount count = { .dp = dp, .per_lun = per_lun };

    if (dp->ctx == qemu_get_aio_context()) {
        xen_pvscsi_count_bh(&count);
    } else {
        aio_wait_bh_oneshot(dp->ctx, xen_pvscsi_count_bh, &count);
    }
    *abandoned = count.abandoned;
    return count.total;
}

void xen_pvscsi_dataplane_drained_begin(XenPVSCSIDataPlane *dp)
{
    trace_xen_pvscsi_drained(dp->devid, true);
    dp->drained = true;
    xen_pvscsi_detach(dp);
}

void xen_pvscsi_dataplane_drained_end(XenPVSCSIDataPlane *dp)
{
    trace_xen_pvscsi_drained(dp->devid, false);
    dp->drained = false;
    xen_pvscsi_attach(dp);
}

/* ---------------------------------------------------------------------- */
/* Life cycle                                                              */

XenPVSCSIDataPlane *xen_pvscsi_dataplane_create(XenDevice *xendev,
                                                SCSIBus *bus,
                                                unsigned int devid,
                                                unsigned int max_sg_grant,
                                                unsigned int request_timeout,
                                                uint64_t map_threshold,
                                                IOThread *iothread)
{
    XenPVSCSIDataPlane *dp = g_new0(XenPVSCSIDataPlane, 1);

    dp->xendev = xendev;
    dp->bus = bus;
    dp->devid = devid;
    dp->max_sg_grant = max_sg_grant;
    /*
     * Mapping needs several grants mapped by one call; and a request that
     * times out is answered while the SCSI layer still has its buffer, so
     * with request-timeout the data is always copied.
     */
    if (qemu_xen_gnttab_can_map_multi() && !request_timeout) {
        dp->map_threshold = map_threshold;
    }
    QTAILQ_INIT(&dp->reqs);
    QSLIST_INIT(&dp->pool);
    if (iothread) {
        dp->iothread = iothread;
        object_ref(OBJECT(iothread));
        dp->ctx = iothread_get_aio_context(iothread);
    } else {
        dp->ctx = qemu_get_aio_context();
    }
    dp->bh = aio_bh_new_guarded(dp->ctx, xen_pvscsi_bh, dp,
                                &DEVICE(xendev)->mem_reentrancy_guard);
    dp->error_bh = qemu_bh_new_guarded(xen_pvscsi_error_bh, dp,
                                       &DEVICE(xendev)->mem_reentrancy_guard);
    if (request_timeout) {
        dp->timeout_ns = request_timeout * NANOSECONDS_PER_SECOND;
        dp->timer = aio_timer_new(dp->ctx, QEMU_CLOCK_REALTIME, SCALE_NS,
                                  xen_pvscsi_timer_cb, dp);
    }
    return dp;
}

AioContext *xen_pvscsi_dataplane_get_aio_context(XenPVSCSIDataPlane *dp)
{
    return dp->ctx;
}

void xen_pvscsi_dataplane_destroy(XenPVSCSIDataPlane *dp)
{
    if (!dp) {
        return;
    }
    xen_pvscsi_dataplane_stop(dp);
    /* LUN resets on their way between the main loop and ctx */
    AIO_WAIT_WHILE_UNLOCKED(NULL, qatomic_read(&dp->pending_bhs) > 0);
    /*
     * Abandoned requests live until the SCSI layer ends them; the LUNs are
     * gone by now (the bus is unrealized before its HBA), so there are none.
     */
    assert(QTAILQ_EMPTY(&dp->reqs));
    while (!QSLIST_EMPTY(&dp->pool)) {
        XenPVSCSIReq *req = QSLIST_FIRST(&dp->pool);

        QSLIST_REMOVE_HEAD(&dp->pool, free_next);
        xen_pvscsi_req_destroy(req);
    }
    g_free(dp->copy);
    qemu_bh_delete(dp->bh);
    qemu_bh_delete(dp->error_bh);
    if (dp->timer) {
        timer_free(dp->timer);
    }
    if (dp->iothread) {
        object_unref(OBJECT(dp->iothread));
    }
    g_free(dp);
}
