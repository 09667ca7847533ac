/*
 * xen-pvscsi: Xen paravirtual SCSI (vscsiif) backend on QEMU's SCSI bus
 *
 * A XenDevice serving one vscsiif ring (one virtual SCSI host in the guest)
 * to a guest's xen-scsifront.  The LUNs are QEMU SCSI devices (scsi-hd,
 * scsi-cd, scsi-generic, scsi-block) on the device's SCSI bus; each one is
 * published under the backend's vscsi-devs/dev-N so that the frontend adds
 * it at connect.
 *
 * This file is the device: properties, the xenstore side (backend state,
 * the LUNs under vscsi-devs/) and the SCSI bus.  The ring and the requests
 * are in xen-pvscsi-dataplane.c.
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qemu/cutils.h"
#include "qemu/rcu.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-qom.h"
#include "qapi/qapi-commands-xen-pvscsi.h"
#include "qapi/qapi-events-qdev.h"
#include "qapi/qapi-visit-qom.h"
#include "qapi/visitor.h"
#include "qobject/qdict.h"
#include "qom/object_interfaces.h"
#include "hw/hotplug.h"
#include "migration/blocker.h"
#include "hw/qdev-properties.h"
#include "hw/xen/xen-pvscsi.h"
#include "hw/xen/xen-backend.h"
#include "hw/xen/xen-bus-helper.h"
#include "scsi/constants.h"
#include "system/block-backend.h"
#include "block/block.h"
#include "block/qapi.h"
#include "hw/scsi/xen-pvscsi-hostdev.h"
#include "xen-pvscsi-dataplane.h"
#include "xen-pvscsi-pdev.h"
#include "trace.h"

#ifdef CONFIG_LINUX
#include <scsi/sg.h>
#endif

static const struct SCSIBusInfo xen_pvscsi_scsi_info;
static XenPVSCSIState xen_pvscsi_qapi_state(enum xenbus_state state);

/* ---------------------------------------------------------------------- */
/* LUNs in xenstore                                                        */

#ifdef CONFIG_LINUX
/* A passthrough LUN's INQUIRY, sent when it was plugged (see identify) */
typedef struct XenPVSCSIInquiry {
    XenPVSCSI *s;               /* both referenced until the answer is in */
    SCSIDevice *d;
    BlockBackend *blk;
    struct XenPVSCSILun *lun;   /* NULL once the LUN's record is gone */
    sg_io_hdr_t hdr;
    uint8_t cdb[6];
    uint8_t buf[36];
    uint8_t sense[SCSI_SENSE_BUF_SIZE];
    int ret;
} XenPVSCSIInquiry;

#endif

/* A LUN published under vscsi-devs/dev-<index> */
typedef struct XenPVSCSILun {
    unsigned int index;
    enum xenbus_state state;    /* what dev-<index>/state says */
    bool unplug_requested;      /* device_del: the guest must let go */
    enum xenbus_state unplug_from;  /* its state before that */
    bool offer_unanswered;      /* offered in a round that timed out */
    bool reoffered;             /* offered again after a resume (below) */
    char *pdev;                 /* dev-<index>/p-dev */
    bool toolstack;             /* created for the toolstack's dev-<index> */
    char *node;                 /* the block node made for its p-dev */
    /* From the standard INQUIRY data, asked when the LUN was plugged */
    struct XenPVSCSIInquiry *inquiry;   /* asked, not yet answered */
    uint8_t peripheral_type;
    uint8_t scsi_level;
    char *vendor;               /* NULL: not (yet) known */
    char *model;
    char *revision;
} XenPVSCSILun;

static void xen_pvscsi_lun_free(gpointer data)
{
    XenPVSCSILun *lun = data;

#ifdef CONFIG_LINUX
    if (lun->inquiry) {
        lun->inquiry->lun = NULL;    /* its answer is dropped */
    }
#endif
    g_free(lun->vendor);
    g_free(lun->model);
    g_free(lun->revision);
    g_free(lun->pdev);
    g_free(lun->node);
    g_free(lun);
}

static XenPVSCSILun *xen_pvscsi_lun_by_index(XenPVSCSI *s, unsigned int index,
                                             SCSIDevice **dev)
{
    GHashTableIter iter;
    gpointer key, value;

    g_hash_table_iter_init(&iter, s->luns);
    while (g_hash_table_iter_next(&iter, &key, &value)) {
        XenPVSCSILun *lun = value;

        if (lun->index == index) {
            *dev = key;
            return lun;
        }
    }
    return NULL;
}

static bool xen_pvscsi_frontend_attached(XenPVSCSI *s)
{
    enum xenbus_state state = xen_device_backend_get_state(&s->xendev);

    return state == XenbusStateConnected ||
           state == XenbusStateReconfiguring ||
           state == XenbusStateReconfigured;
}

static XenPVSCSILun *xen_pvscsi_lun(XenPVSCSI *s, SCSIDevice *d)
{
    return g_hash_table_lookup(s->luns, d);
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
    XenPVSCSILun *lun = xen_pvscsi_lun(s, d);
    g_autofree char *key = g_strdup_printf("vscsi-devs/dev-%u/state",
                                           lun->index);

    trace_xen_pvscsi_lun_state(s->devid, d->channel, d->id, d->lun, state);
    lun->state = state;
    xen_device_backend_printf(&s->xendev, key, "%u", state);
}

/* Whether vscsi-devs/dev-<index> exists in xenstore */
static bool xen_pvscsi_index_used(XenPVSCSI *s, unsigned int index)
{
    XenDevice *xendev = &s->xendev;
    g_autofree char *v = xs_node_read(xendev->xsh, XBT_NULL, NULL, NULL,
                                      "%s/vscsi-devs/dev-%u",
                                      xendev->backend_path, index);

    return v != NULL;
}

/*
 * Publish a LUN that was just plugged, in state Initialising.  One created
 * from the toolstack's vscsi-devs/dev-N has its record already, with that
 * index and those nodes; one added by device_add gets the next free index.
 */
static void xen_pvscsi_lun_publish(XenPVSCSI *s, SCSIDevice *d,
                                   XenPVSCSILun *lun)
{
    g_autofree char *base = NULL;

    if (!lun->toolstack) {
        g_autofree char *pdev_key = NULL;
        g_autofree char *vdev_key = NULL;

        while (xen_pvscsi_index_used(s, s->next_dev)) {
            s->next_dev++;
        }
        lun->index = s->next_dev++;
        lun->pdev = xen_pvscsi_describe(d);
        g_hash_table_insert(s->luns, d, lun);
        base = g_strdup_printf("vscsi-devs/dev-%u", lun->index);
        pdev_key = g_strdup_printf("%s/p-dev", base);
        vdev_key = g_strdup_printf("%s/v-dev", base);
        xen_device_backend_printf(&s->xendev, pdev_key, "%s", lun->pdev);
        xen_device_backend_printf(&s->xendev, vdev_key, "%u:%u:%u:%u",
                                  s->devid, d->channel, d->id, d->lun);
    }
    xen_pvscsi_lun_set_state(s, d, XenbusStateInitialising);
}

/*
 * What the LUN reports in its standard INQUIRY data.  The emulated devices
 * answer from their properties.  A passthrough device is asked, without
 * blocking the main loop (an iSCSI target may be slow or gone): until it
 * answers, or if it fails, the LUN has no vendor, model and revision.
 */
#ifdef CONFIG_LINUX
/* In the main loop: record the answer if the LUN is still there */
static void xen_pvscsi_inquiry_bh(void *opaque)
{
    XenPVSCSIInquiry *iq = opaque;
    XenPVSCSILun *lun = iq->lun;
    bool ok = iq->ret == 0 && !iq->hdr.status && !iq->hdr.host_status &&
              !iq->hdr.driver_status;

    trace_xen_pvscsi_lun_inquiry(iq->s->devid, iq->d->channel, iq->d->id,
                                 iq->d->lun, iq->ret, iq->hdr.status,
                                 iq->hdr.host_status, lun != NULL);
    if (lun) {
        lun->inquiry = NULL;
        if (ok) {
            lun->peripheral_type = iq->buf[0] & 0x1f;
            lun->scsi_level = iq->buf[2];
            lun->vendor = g_strchomp(g_strndup((char *)&iq->buf[8], 8));
            lun->model = g_strchomp(g_strndup((char *)&iq->buf[16], 16));
            lun->revision = g_strchomp(g_strndup((char *)&iq->buf[32], 4));
        }
    }
    blk_unref(iq->blk);
    object_unref(OBJECT(iq->d));
    object_unref(OBJECT(iq->s));
    g_free(iq);
}

/* In the LUN's AioContext, which may be the data plane's iothread */
static void xen_pvscsi_inquiry_done(void *opaque, int ret)
{
    XenPVSCSIInquiry *iq = opaque;

    iq->ret = ret;
    aio_bh_schedule_oneshot(qemu_get_aio_context(), xen_pvscsi_inquiry_bh,
                            iq);
}

static void xen_pvscsi_lun_inquire(XenPVSCSI *s, SCSIDevice *d,
                                   XenPVSCSILun *lun)
{
    XenPVSCSIInquiry *iq = g_new0(XenPVSCSIInquiry, 1);

    iq->s = XEN_PVSCSI(object_ref(OBJECT(s)));
    iq->d = SCSI_DEVICE(object_ref(OBJECT(d)));
    iq->blk = d->conf.blk;
    blk_ref(iq->blk);
    iq->lun = lun;
    lun->inquiry = iq;
    iq->cdb[0] = INQUIRY;
    iq->cdb[4] = sizeof(iq->buf);
    iq->hdr.interface_id = 'S';
    iq->hdr.dxfer_direction = SG_DXFER_FROM_DEV;
    iq->hdr.dxferp = iq->buf;
    iq->hdr.dxfer_len = sizeof(iq->buf);
    iq->hdr.cmdp = iq->cdb;
    iq->hdr.cmd_len = sizeof(iq->cdb);
    iq->hdr.sbp = iq->sense;
    iq->hdr.mx_sb_len = sizeof(iq->sense);
    iq->hdr.timeout = d->io_timeout * 1000;
    blk_aio_ioctl(iq->blk, SG_IO, &iq->hdr, xen_pvscsi_inquiry_done, iq);
}
#endif

static void xen_pvscsi_lun_identify(XenPVSCSI *s, SCSIDevice *d,
                                    XenPVSCSILun *lun)
{
    lun->peripheral_type = d->type;
    lun->scsi_level = d->scsi_version;
    if (object_dynamic_cast(OBJECT(d), "scsi-generic") ||
        object_dynamic_cast(OBJECT(d), "scsi-block")) {
#ifdef CONFIG_LINUX
        if (d->conf.blk) {
            xen_pvscsi_lun_inquire(s, d, lun);
        }
#endif
    } else if (object_property_find(OBJECT(d), "vendor")) {
        lun->scsi_level = d->default_scsi_version;
        lun->vendor = object_property_get_str(OBJECT(d), "vendor", NULL);
        lun->model = object_property_get_str(OBJECT(d), "product", NULL);
        lun->revision = object_property_get_str(OBJECT(d), "ver", NULL);
    }
}

/* Move every LUN in state @from to @to. */
static void xen_pvscsi_luns_advance(XenPVSCSI *s, enum xenbus_state from,
                                    enum xenbus_state to)
{
    BusChild *kid;

    QTAILQ_FOREACH(kid, &s->bus.qbus.children, sibling) {
        SCSIDevice *d = SCSI_DEVICE(kid->child);
        XenPVSCSILun *lun = xen_pvscsi_lun(s, d);

        if (lun && lun->state == from) {
            xen_pvscsi_lun_set_state(s, d, to);
        }
    }
}

/*
 * Take a LUN off the bus for good.  Its requests still in flight are let
 * finish first (blk_drain), so that they complete normally rather than
 * being cancelled by the device's unrealize.
 */
static void xen_pvscsi_lun_remove(XenPVSCSI *s, SCSIDevice *d)
{
    XenPVSCSILun *lun = xen_pvscsi_lun(s, d);
    char *node = lun ? g_steal_pointer(&lun->node) : NULL;

    trace_xen_pvscsi_lun_remove(s->devid, d->channel, d->id, d->lun);
    if (d->conf.blk) {
        blk_drain(d->conf.blk);
    }
    hotplug_handler_unplug(HOTPLUG_HANDLER(s), DEVICE(d), &error_abort);
    object_unparent(OBJECT(d));
    /* Its node, if one was made for it, once the device let go of it */
    xen_pvscsi_pdev_node_del(node);
}

/* Perform every requested removal now (no frontend to ask). */
static void xen_pvscsi_luns_remove_pending(XenPVSCSI *s)
{
    BusChild *kid, *next;

    QTAILQ_FOREACH_SAFE(kid, &s->bus.qbus.children, sibling, next) {
        SCSIDevice *d = SCSI_DEVICE(kid->child);
        XenPVSCSILun *lun = xen_pvscsi_lun(s, d);

        if (lun && lun->unplug_requested) {
            xen_pvscsi_lun_remove(s, d);
        }
    }
}

/* ---------------------------------------------------------------------- */
/* LUNs from the toolstack (vscsi-devs written into xenstore)              */

static void G_GNUC_PRINTF(3, 4)
xen_pvscsi_lun_error(XenPVSCSI *s, unsigned int index, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    g_autofree char *key = g_strdup_printf("vscsi-devs/dev-%u/state", index);
    g_autofree char *err_key = g_strdup_printf("vscsi-devs/dev-%u/error",
                                               index);
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    error_report("xen-pvscsi %u: dev-%u: %s", s->devid, index, msg);
    /* The LUN's own reason, and the last one in the backend's error */
    xen_device_backend_printf(&s->xendev, err_key, "%s", msg);
    xen_device_backend_printf(&s->xendev, "error", "dev-%u: %s", index, msg);
    xen_device_backend_printf(&s->xendev, key, "%u", XenbusStateClosed);
}

static char *xen_pvscsi_dev_read(XenPVSCSI *s, unsigned int index,
                                 const char *node)
{
    XenDevice *xendev = &s->xendev;

    return xs_node_read(xendev->xsh, XBT_NULL, NULL, NULL,
                        "%s/vscsi-devs/dev-%u/%s", xendev->backend_path,
                        index, node);
}


/* Create the SCSI device for the toolstack's vscsi-devs/dev-<index>. */
static void xen_pvscsi_lun_create(XenPVSCSI *s, unsigned int index)
{
    g_autofree char *pdev = xen_pvscsi_dev_read(s, index, "p-dev");
    g_autofree char *vdev = xen_pvscsi_dev_read(s, index, "v-dev");
    g_autofree char *model = xen_pvscsi_dev_read(s, index, "qemu-device");
    g_autofree char *node_name = NULL;
    g_autofree char *child = NULL;
    unsigned int hctl[4];
    XenPVSCSIPdev p;
    XenPVSCSILun *lun;
    DeviceState *dev;
    Error *local_err = NULL;
    bool ok;

    trace_xen_pvscsi_lun_create(s->devid, index, pdev ?: "", vdev ?: "");
    if (!pdev || !vdev) {
        xen_pvscsi_lun_error(s, index, "p-dev or v-dev missing");
        return;
    }
    /* H, the guest's host number, is the toolstack's business */
    if (!xen_pvscsi_parse_hctl(vdev, hctl) ||
        hctl[1] > XEN_PVSCSI_MAX_CHANNEL || hctl[2] > XEN_PVSCSI_MAX_TARGET ||
        hctl[3] > XEN_PVSCSI_MAX_LUN) {
        xen_pvscsi_lun_error(s, index, "v-dev '%s' is not H:C:T:L with C <= "
                             "%u, T <= %u and L <= %u", vdev,
                             XEN_PVSCSI_MAX_CHANNEL, XEN_PVSCSI_MAX_TARGET,
                             XEN_PVSCSI_MAX_LUN);
        return;
    }
    if (model) {
        if (!xen_pvscsi_model_known(model)) {
            xen_pvscsi_lun_error(s, index, "qemu-device '%s' is not one of "
                                 "scsi-hd, scsi-cd, scsi-block, scsi-generic",
                                 model);
            return;
        }
    }

    node_name = g_strdup_printf("xen-pvscsi%u-dev%u", s->devid, index);
    if (!xen_pvscsi_pdev_resolve(pdev, model, node_name, &p, &local_err)) {
        xen_pvscsi_lun_error(s, index, "%s", error_get_pretty(local_err));
        error_free(local_err);
        return;
    }

    dev = qdev_new(p.model);
    child = g_strdup_printf("dev-%u", index);
    if (!object_property_try_add_child(OBJECT(s), child, OBJECT(dev),
                                       &local_err)) {
        object_unref(OBJECT(dev));
        xen_pvscsi_pdev_release(&p);
        xen_pvscsi_lun_error(s, index, "%s", error_get_pretty(local_err));
        error_free(local_err);
        return;
    }
    ok = object_property_set_str(OBJECT(dev), "drive", p.drive, &local_err) &&
         object_property_set_uint(OBJECT(dev), "channel", hctl[1],
                                  &local_err) &&
         object_property_set_uint(OBJECT(dev), "scsi-id", hctl[2],
                                  &local_err) &&
         object_property_set_uint(OBJECT(dev), "lun", hctl[3], &local_err);
    if (ok) {
        /* Its record, which the plug handler publishes */
        lun = g_new0(XenPVSCSILun, 1);
        lun->index = index;
        lun->toolstack = true;
        lun->pdev = g_strdup(pdev);
        g_hash_table_insert(s->luns, dev, lun);
        ok = qdev_realize_and_unref(dev, BUS(&s->bus), &local_err);
        if (ok) {
            /* The node goes with the LUN now */
            lun->node = g_steal_pointer(&p.node);
        } else {
            g_hash_table_remove(s->luns, dev);
        }
    } else {
        object_unref(OBJECT(dev));
    }
    if (!ok) {
        object_unparent(OBJECT(dev));
        xen_pvscsi_lun_error(s, index, "%s", error_get_pretty(local_err));
        error_free(local_err);
    }
    /* A node not handed over is deleted once the device let go of it */
    xen_pvscsi_pdev_release(&p);
}

/*
 * Pick up what the toolstack wrote under vscsi-devs: dev-N in state
 * Initialising that we do not have yet are created, and ours that it
 * set to Closing are removed.  Called at creation, at connect and when the
 * frontend answered a Reconfiguring the toolstack asked for.
 */
static void xen_pvscsi_scan(XenPVSCSI *s)
{
    XenDevice *xendev = &s->xendev;
    g_autofree char *path = g_strdup_printf("%s/vscsi-devs",
                                            xendev->backend_path);
    char **names;
    unsigned int n;

    names = qemu_xen_xs_directory(xendev->xsh, XBT_NULL, path, &n);
    if (!names) {
        return;
    }
    for (unsigned int i = 0; i < n; i++) {
        g_autofree char *key = NULL;
        unsigned int index, state;
        XenPVSCSILun *lun;
        SCSIDevice *d;

        if (!g_str_has_prefix(names[i], "dev-") ||
            qemu_strtoui(names[i] + 4, NULL, 10, &index) < 0 ||
            index >= INT_MAX) {
            continue;
        }
        s->next_dev = MAX(s->next_dev, index + 1);
        key = g_strdup_printf("vscsi-devs/dev-%u/state", index);
        if (xs_node_scanf(xendev->xsh, XBT_NULL, xendev->backend_path, key,
                          NULL, "%u", &state) != 1) {
            continue;
        }
        lun = xen_pvscsi_lun_by_index(s, index, &d);
        if (!lun) {
            if (state == XenbusStateInitialising) {
                xen_pvscsi_lun_create(s, index);
            }
        } else if (state == XenbusStateClosing && !lun->unplug_requested) {
            trace_xen_pvscsi_lun_unplug_request(s->devid, d->channel, d->id,
                                                d->lun);
            if (xen_pvscsi_frontend_attached(s)) {
                lun->unplug_requested = true;
                lun->unplug_from = lun->state;
                lun->state = XenbusStateClosing;
            } else {
                xen_pvscsi_lun_remove(s, d);
            }
        }
    }
    free(names);
}

/*
 * Start a reconfiguration (backend Reconfiguring) if LUNs are waiting to be
 * added or removed and none is in progress.  Only one runs at a time: what
 * is requested meanwhile waits for the next one.
 */
static void xen_pvscsi_reconfigure(XenPVSCSI *s)
{
    XenDevice *xendev = &s->xendev;
    bool work = false;
    BusChild *kid;

    if (xen_device_backend_get_state(xendev) != XenbusStateConnected ||
        xendev->frontend_state != XenbusStateConnected) {
        return;
    }
    QTAILQ_FOREACH(kid, &s->bus.qbus.children, sibling) {
        SCSIDevice *d = SCSI_DEVICE(kid->child);
        XenPVSCSILun *lun = xen_pvscsi_lun(s, d);

        if (!lun) {
            continue;
        }
        if (lun->unplug_requested) {
            if (lun->state != XenbusStateClosing) {
                lun->unplug_from = lun->state;
                xen_pvscsi_lun_set_state(s, d, XenbusStateClosing);
            }
            work = true;
        } else if (lun->state == XenbusStateInitialising &&
                   !lun->offer_unanswered) {
            work = true;
        }
    }
    if (work) {
        trace_xen_pvscsi_reconfigure(s->devid);
        s->reconfigure_timed_out = false;
        xen_device_backend_set_state(xendev, XenbusStateReconfiguring);
        if (s->reconfigure_timeout) {
            timer_mod(s->reconfigure_timer,
                      qemu_clock_get_ms(QEMU_CLOCK_REALTIME) +
                      s->reconfigure_timeout * 1000LL);
        }
    }
}

/*
 * The frontend did not answer a Reconfiguring in reconfigure-timeout
 * seconds (Windows' GPLPV xenscsi never does): the hot-plug requests of
 * that round are not carried out, so that they hold up neither the next
 * ones nor the host.  A LUN being removed stays, as it was, and
 * DEVICE_UNPLUG_GUEST_ERROR says so (device_del may be tried again); a
 * LUN being added stays offered, for the frontend's next connect or the
 * next reconfiguration, without starting one by itself.  A late answer is
 * still taken (xen_pvscsi_frontend_changed).
 */
static void xen_pvscsi_reconfigure_expired(void *opaque)
{
    XenPVSCSI *s = opaque;
    XenDevice *xendev = &s->xendev;
    BusChild *kid;

    if (xen_device_backend_get_state(xendev) != XenbusStateReconfiguring) {
        return;
    }
    qemu_log_mask(LOG_GUEST_ERROR,
                  "xen-pvscsi %u: the frontend did not answer Reconfiguring "
                  "in %u s: LUN changes cancelled\n", s->devid,
                  s->reconfigure_timeout);
    trace_xen_pvscsi_reconfigure_timeout(s->devid, s->reconfigure_timeout);
    s->reconfigure_timed_out = true;
    QTAILQ_FOREACH(kid, &s->bus.qbus.children, sibling) {
        SCSIDevice *d = SCSI_DEVICE(kid->child);
        DeviceState *dev = DEVICE(d);
        XenPVSCSILun *lun = xen_pvscsi_lun(s, d);

        if (!lun) {
            continue;
        }
        if (lun->unplug_requested) {
            g_autofree char *path = object_get_canonical_path(OBJECT(dev));

            lun->unplug_requested = false;
            dev->pending_deleted_event = false;
            xen_pvscsi_lun_set_state(s, d, lun->unplug_from);
            qapi_event_send_device_unplug_guest_error(dev->id, path);
        } else if (lun->state == XenbusStateInitialising) {
            lun->offer_unanswered = true;
        }
    }
    xen_device_backend_set_state(xendev, XenbusStateConnected);
}

/* The frontend acknowledged Reconfiguring: apply the changes. */
static void xen_pvscsi_reconfigured(XenPVSCSI *s)
{
    BusChild *kid, *next;

    timer_del(s->reconfigure_timer);
    s->reconfigure_timed_out = false;
    /* What the toolstack asked for, if it started this one */
    xen_pvscsi_scan(s);

    /* Removals: the frontend let go of every LUN in state Closing. */
    QTAILQ_FOREACH_SAFE(kid, &s->bus.qbus.children, sibling, next) {
        SCSIDevice *d = SCSI_DEVICE(kid->child);
        XenPVSCSILun *lun = xen_pvscsi_lun(s, d);

        if (lun && lun->state == XenbusStateClosing) {
            xen_pvscsi_lun_remove(s, d);
        }
    }
    /* Additions: offered now, added by the frontend on Reconfigured. */
    xen_pvscsi_luns_advance(s, XenbusStateInitialising,
                            XenbusStateInitialised);
    xen_device_backend_set_state(&s->xendev, XenbusStateReconfigured);
}

/* ---------------------------------------------------------------------- */
/* Migration                                                               */

/*
 * The file name of the LUN's block node, as query-named-block-nodes gives
 * it: a host device's path, an image's, an iSCSI node's json: name...
 */
static char *xen_pvscsi_lun_filename(SCSIDevice *d)
{
    BlockDriverState *bs = d->conf.blk ? blk_bs(d->conf.blk) : NULL;
    g_autoptr(BlockDeviceInfo) info = NULL;

    if (!bs) {
        return NULL;
    }
    GRAPH_RDLOCK_GUARD_MAINLOOP();
    info = bdrv_block_device_info(NULL, bs, true, NULL);
    return info ? g_strdup(info->file) : NULL;
}

/*
 * A LUN passed through from a SCSI device of this host (scsi-generic or
 * scsi-block on a host_device or host_cdrom node: /dev/sg3, /dev/sdb) is a
 * physical device with state of its own (a tape's position, reservations):
 * it does not go with the guest, and the destination's node of that name
 * may be another device or none.  Returns the node's file name, or NULL
 * for any other LUN (emulated disks on any storage; passthrough over the
 * network, iSCSI, which the destination reaches too).
 */
static char *xen_pvscsi_lun_local_device(SCSIDevice *d)
{
    g_autofree char *file = NULL;
    struct stat st;

    if (!object_dynamic_cast(OBJECT(d), "scsi-generic") &&
        !object_dynamic_cast(OBJECT(d), "scsi-block")) {
        return NULL;
    }
    file = xen_pvscsi_lun_filename(d);
    if (!file || file[0] != '/' || stat(file, &st) < 0 ||
        (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))) {
        return NULL;
    }
    return g_steal_pointer(&file);
}

/* Append @d to @luns if it is a local passthrough LUN */
static void xen_pvscsi_describe_local(XenPVSCSI *s, SCSIDevice *d,
                                      GString *luns)
{
    g_autofree char *file = xen_pvscsi_lun_local_device(d);

    if (file) {
        g_string_append_printf(luns, "%s%u:%u:%u:%u (%s on %s)",
                               luns->len ? ", " : "", s->devid, d->channel,
                               d->id, d->lun, object_get_typename(OBJECT(d)),
                               file);
    }
}

/*
 * While the host has such LUNs, a migration blocker names them (it also
 * stops xl save: patches/0005), unless migrate-passthrough says the
 * destination has the same devices under the same names.  Recomputed when
 * a LUN comes (@adding, not on the bus yet) or goes (@removing, still on
 * it) and when the property changes.
 */
static bool xen_pvscsi_update_blocker(XenPVSCSI *s, SCSIDevice *adding,
                                      SCSIDevice *removing, Error **errp)
{
    g_autoptr(GString) luns = g_string_new("");
    Error *blocker = NULL;
    BusChild *kid;

    if (!s->migrate_passthrough) {
        QTAILQ_FOREACH(kid, &s->bus.qbus.children, sibling) {
            SCSIDevice *d = SCSI_DEVICE(kid->child);

            if (d != removing && d != adding) {
                xen_pvscsi_describe_local(s, d, luns);
            }
        }
        if (adding) {
            xen_pvscsi_describe_local(s, adding, luns);
        }
    }
    if (!g_strcmp0(s->blocked_luns, luns->str) ||
        (!s->blocked_luns && !luns->len)) {
        return true;
    }
    if (luns->len) {
        error_setg(&blocker, "xen-pvscsi %u passes through this host's SCSI "
                   "devices: %s; set its migrate-passthrough property if "
                   "the destination has the same devices at the same paths",
                   s->devid, luns->str);
        if (migrate_add_blocker(&blocker, errp) < 0) {
            return false;
        }
    }
    trace_xen_pvscsi_migration_blocker(s->devid, luns->str);
    migrate_del_blocker(&s->migration_blocker);
    s->migration_blocker = blocker;
    g_free(s->blocked_luns);
    s->blocked_luns = luns->len ? g_strdup(luns->str) : NULL;
    return true;
}

static bool xen_pvscsi_get_migrate_passthrough(Object *obj, Error **errp)
{
    return XEN_PVSCSI(obj)->migrate_passthrough;
}

static void xen_pvscsi_set_migrate_passthrough(Object *obj, bool value,
                                               Error **errp)
{
    XenPVSCSI *s = XEN_PVSCSI(obj);
    bool old = s->migrate_passthrough;

    s->migrate_passthrough = value;
    if (DEVICE(obj)->realized &&
        !xen_pvscsi_update_blocker(s, NULL, NULL, errp)) {
        s->migrate_passthrough = old;
    }
}

/*
 * Suspend: Linux's xen-scsifront pauses its host when the guest suspends
 * (no new commands) and unpauses it only when it sees the backend enter
 * Connected after the resume.  A suspend that is cancelled (xl save -c, a
 * checkpoint; a refused save or a failed migration, after which the domain
 * runs on here) resumes nothing, so the host would stay paused and every
 * later command and hot-plug would hang.  So the backend writes its
 * Connected state again whenever the guest's control/shutdown changes:
 * the toolstack's "suspend" request and the guest's acknowledgement (by
 * the time this runs the node may already hold the latter, so its value
 * is not looked at; for other requests it is a harmless repetition).  The
 * guest handles the request, and suspends, in its xenstore watch thread,
 * so it sees the new state only after its suspend: on the resume after a
 * cancelled one.  A guest restored elsewhere has a new backend and
 * ignores it.
 */
static void xen_pvscsi_control_changed(void *opaque, const char *path)
{
    XenPVSCSI *s = opaque;

    if (xen_device_backend_get_state(&s->xendev) == XenbusStateConnected) {
        trace_xen_pvscsi_suspend(s->devid);
        xen_device_backend_printf(&s->xendev, "state", "%u",
                                  XenbusStateConnected);
    }
}

/*
 * The frontend is Connected after we offered LUNs in state Initialised.
 * Linux's xen-scsifront adds them on a first connect, writing Connected
 * into its own vscsi-devs/dev-N/state for each one it added.  Reconnecting
 * after a resume (xl restore, a migration) it adds none: it keeps the SCSI
 * devices it had and only acknowledges again those we list as Connected.
 * A LUN hot-plugged into the destination before the guest reconnected
 * would never reach it; such a LUN, if the frontend did not acknowledge
 * it, is offered once more through a reconfiguration (which adds it, and
 * is harmless for a LUN the guest has).
 */
static void xen_pvscsi_luns_acknowledged(XenPVSCSI *s)
{
    BusChild *kid;

    QTAILQ_FOREACH(kid, &s->bus.qbus.children, sibling) {
        SCSIDevice *d = SCSI_DEVICE(kid->child);
        XenPVSCSILun *lun = xen_pvscsi_lun(s, d);
        g_autofree char *key = NULL;
        unsigned int fe_state = XenbusStateUnknown;

        if (!lun || lun->state != XenbusStateInitialised) {
            continue;
        }
        key = g_strdup_printf("vscsi-devs/dev-%u/state", lun->index);
        if (DEVICE(d)->hotplugged && !lun->reoffered &&
            (xen_device_frontend_scanf(&s->xendev, key, "%u",
                                       &fe_state) != 1 ||
             fe_state != XenbusStateConnected)) {
            trace_xen_pvscsi_lun_reoffer(s->devid, d->channel, d->id,
                                         d->lun);
            lun->reoffered = true;
            xen_pvscsi_lun_set_state(s, d, XenbusStateInitialising);
        } else {
            xen_pvscsi_lun_set_state(s, d, XenbusStateConnected);
        }
    }
}

static void xen_pvscsi_pre_plug(HotplugHandler *hotplug_dev, DeviceState *dev,
                                Error **errp)
{
    SCSIDevice *d = SCSI_DEVICE(dev);

    /* Every LUN runs in the data plane's AioContext (see plug). */
    d->hba_supports_iothread = true;
}

static void xen_pvscsi_plug(HotplugHandler *hotplug_dev, DeviceState *dev,
                            Error **errp)
{
    XenPVSCSI *s = XEN_PVSCSI(hotplug_dev);
    SCSIDevice *d = SCSI_DEVICE(dev);
    AioContext *ctx = xen_pvscsi_dataplane_get_aio_context(s->dataplane);
    XenPVSCSILun *lun;

    /*
     * The data plane serves all LUNs from one AioContext, so a LUN whose
     * BlockBackend cannot move there (another user holds it elsewhere) is
     * refused.
     */
    if (d->conf.blk && ctx != qemu_get_aio_context() &&
        blk_set_aio_context(d->conf.blk, ctx, errp) < 0) {
        error_prepend(errp, "xen-pvscsi %u: cannot move LUN %u:%u:%u to the "
                      "iothread: ", s->devid, d->channel, d->id, d->lun);
        return;
    }
    if (!xen_pvscsi_update_blocker(s, d, NULL, errp)) {
        return;
    }
    /* The toolstack's LUN has its record (xen_pvscsi_lun_create) */
    lun = xen_pvscsi_lun(s, d) ?: g_new0(XenPVSCSILun, 1);
    xen_pvscsi_lun_identify(s, d, lun);
    /*
     * Published in state Initialising: offered at the next connect, or
     * now through a reconfiguration if the guest is connected.
     */
    xen_pvscsi_lun_publish(s, d, lun);
    xen_pvscsi_reconfigure(s);
}

/*
 * device_del of a LUN.  With a frontend connected, the guest is asked to
 * let go first (LUN Closing, backend Reconfiguring) and the LUN is removed
 * when it acknowledged; otherwise at once.  A guest that never acknowledges
 * keeps the LUN (and can keep using it), like a PCIe slot whose guest
 * ignores the attention button; the removal completes when the frontend
 * disconnects.
 */
static void xen_pvscsi_unplug_request(HotplugHandler *hotplug_dev,
                                      DeviceState *dev, Error **errp)
{
    XenPVSCSI *s = XEN_PVSCSI(hotplug_dev);
    SCSIDevice *d = SCSI_DEVICE(dev);
    XenPVSCSILun *lun = xen_pvscsi_lun(s, d);

    if (!lun || !xen_pvscsi_frontend_attached(s)) {
        xen_pvscsi_lun_remove(s, d);
        return;
    }
    trace_xen_pvscsi_lun_unplug_request(s->devid, d->channel, d->id, d->lun);
    dev->pending_deleted_event = true;
    lun->unplug_requested = true;
    xen_pvscsi_reconfigure(s);
}

static void xen_pvscsi_unplug(HotplugHandler *hotplug_dev, DeviceState *dev,
                              Error **errp)
{
    XenPVSCSI *s = XEN_PVSCSI(hotplug_dev);
    SCSIDevice *d = SCSI_DEVICE(dev);

    if (xen_pvscsi_lun(s, d)) {
        xen_pvscsi_lun_set_state(s, d, XenbusStateClosed);
        g_hash_table_remove(s->luns, d);
    }
    /*
     * Drops the LUN from the blocker.  A new blocker cannot be added while
     * a migration runs (the guest may let go of a LUN then); the old one,
     * which blocks for more LUNs, stays in that case.
     */
    xen_pvscsi_update_blocker(s, NULL, d, NULL);
    qdev_simple_device_unplug_cb(hotplug_dev, dev, errp);
}

/* ---------------------------------------------------------------------- */
/* Connection                                                              */

static void xen_pvscsi_connect(XenPVSCSI *s, Error **errp)
{
    XenDevice *xendev = &s->xendev;
    unsigned int ring_ref, port;

    if (xen_device_frontend_scanf(xendev, "ring-ref", "%u", &ring_ref) != 1) {
        error_setg(errp, "failed to read ring-ref");
        return;
    }
    if (xen_device_frontend_scanf(xendev, "event-channel", "%u",
                                  &port) != 1) {
        error_setg(errp, "failed to read event-channel");
        return;
    }
    xen_pvscsi_dataplane_start(s->dataplane, ring_ref, port, errp);
}

static void xen_pvscsi_disconnect(XenPVSCSI *s)
{
    timer_del(s->reconfigure_timer);
    s->reconfigure_timed_out = false;
    xen_pvscsi_dataplane_stop(s->dataplane);
    /* No frontend to ask any more: removals happen now. */
    xen_pvscsi_luns_remove_pending(s);
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
        if (backend_state == XenbusStateReconfiguring) {
            break;      /* the frontend has not seen it yet */
        }
        if (backend_state == XenbusStateConnected ||
            backend_state == XenbusStateReconfigured) {
            if (frontend_state == XenbusStateConnected) {
                /* The frontend added the LUNs we offered. */
                xen_pvscsi_luns_acknowledged(s);
                xen_device_backend_set_state(xendev, XenbusStateConnected);
                /* Changes requested meanwhile */
                xen_pvscsi_reconfigure(s);
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
        /* LUNs the toolstack added or removed meanwhile */
        xen_pvscsi_scan(s);
        /* Offer the LUNs, then report Connected. */
        xen_pvscsi_luns_advance(s, XenbusStateInitialising,
                                XenbusStateInitialised);
        xen_pvscsi_luns_advance(s, XenbusStateConnected,
                                XenbusStateInitialised);
        xen_device_backend_set_state(xendev, XenbusStateConnected);
        if (frontend_state == XenbusStateConnected) {
            xen_pvscsi_luns_acknowledged(s);
            xen_pvscsi_reconfigure(s);
        }
        break;

    case XenbusStateReconfiguring:
        /* (or the late answer to one that timed out) */
        if (backend_state == XenbusStateReconfiguring ||
            (backend_state == XenbusStateConnected &&
             s->reconfigure_timed_out)) {
            xen_pvscsi_reconfigured(s);
        }
        break;

    case XenbusStateClosing:
        xen_device_backend_set_state(xendev, XenbusStateClosing);
        break;

    case XenbusStateClosed:
    case XenbusStateUnknown:
        xen_pvscsi_disconnect(s);
        xen_device_backend_set_state(xendev, XenbusStateClosed);
        /*
         * Still online: be ready for the next frontend at once.  Linux's
         * xen-scsifront, bound again (rmmod/modprobe), goes from Closed
         * straight to Initialised and only then watches our state: were it
         * to find us Closed, it would take that for a disconnect and close
         * again.
         */
        if (xendev->backend_online) {
            xen_device_backend_set_state(xendev, XenbusStateInitWait);
        }
        break;

    default:
        break;
    }
}

/* ---------------------------------------------------------------------- */
/* Device                                                                  */

/*
 * The devid names the frontend's device/vscsi/<devid>, whatever the
 * backend type: one host per devid on the bus.
 */
static char *xen_pvscsi_get_name(XenDevice *xendev, Error **errp)
{
    XenPVSCSI *s = XEN_PVSCSI(xendev);
    BusState *bus = qdev_get_parent_bus(DEVICE(xendev));
    BusChild *kid;

    QTAILQ_FOREACH(kid, &bus->children, sibling) {
        Object *other = OBJECT(kid->child);

        if (other != OBJECT(s) && kid->child->realized &&
            object_dynamic_cast(other, TYPE_XEN_PVSCSI) &&
            XEN_PVSCSI(other)->devid == s->devid) {
            error_setg(errp, "devid %u is in use by another %s",
                       s->devid, TYPE_XEN_PVSCSI);
            return NULL;
        }
    }
    return g_strdup_printf("%u", s->devid);
}

static void xen_pvscsi_realize(XenDevice *xendev, Error **errp)
{
    XenPVSCSI *s = XEN_PVSCSI(xendev);
    g_autofree char *control = NULL;

    if (s->max_sg_grant &&
        (s->max_sg_grant < VSCSIIF_SG_TABLESIZE ||
         s->max_sg_grant > XEN_PVSCSI_MAX_SG_GRANT)) {
        error_setg(errp, "max-sg-grant must be 0 or between %u and %u",
                   VSCSIIF_SG_TABLESIZE, (unsigned)XEN_PVSCSI_MAX_SG_GRANT);
        return;
    }
    if (s->request_timeout > XEN_PVSCSI_MAX_REQUEST_TIMEOUT) {
        error_setg(errp, "request-timeout must be at most %u seconds",
                   XEN_PVSCSI_MAX_REQUEST_TIMEOUT);
        return;
    }

    if (s->reconfigure_timeout > XEN_PVSCSI_MAX_REQUEST_TIMEOUT) {
        error_setg(errp, "reconfigure-timeout must be at most %u seconds",
                   XEN_PVSCSI_MAX_REQUEST_TIMEOUT);
        return;
    }

    s->reconfigure_timer = timer_new_ms(QEMU_CLOCK_REALTIME,
                                        xen_pvscsi_reconfigure_expired, s);
    s->luns = g_hash_table_new_full(NULL, NULL, NULL, xen_pvscsi_lun_free);
    s->dataplane = xen_pvscsi_dataplane_create(xendev, &s->bus, s->devid,
                                               s->max_sg_grant,
                                               s->request_timeout,
                                               s->grant_map_threshold,
                                               s->iothread);

    scsi_bus_init(&s->bus, sizeof(s->bus), DEVICE(s), &xen_pvscsi_scsi_info);
    qbus_set_hotplug_handler(BUS(&s->bus), OBJECT(s));

    if (s->max_sg_grant) {
        xen_device_backend_printf(xendev, "feature-sg-grant", "%u",
                                  s->max_sg_grant);
    }

    control = g_strdup_printf("/local/domain/%u/control", xendev->frontend_id);
    s->control_watch = xs_node_watch(xendev->xsh, control, "shutdown",
                                     xen_pvscsi_control_changed, s, errp);
}

static void xen_pvscsi_unrealize(XenDevice *xendev)
{
    XenPVSCSI *s = XEN_PVSCSI(xendev);
    BusChild *kid, *next;

    if (s->control_watch) {
        xs_node_unwatch(xendev->xsh, s->control_watch);
        s->control_watch = NULL;
    }
    if (s->reconfigure_timer) {
        timer_free(s->reconfigure_timer);
        s->reconfigure_timer = NULL;
    }
    migrate_del_blocker(&s->migration_blocker);
    g_free(s->blocked_luns);
    s->blocked_luns = NULL;
    xen_pvscsi_dataplane_destroy(s->dataplane);
    s->dataplane = NULL;
    /* The toolstack's LUNs go with the host, and the nodes made for them */
    QTAILQ_FOREACH_SAFE(kid, &s->bus.qbus.children, sibling, next) {
        SCSIDevice *d = SCSI_DEVICE(kid->child);
        XenPVSCSILun *lun = s->luns ? xen_pvscsi_lun(s, d) : NULL;

        if (lun && lun->node) {
            char *node = g_steal_pointer(&lun->node);

            object_unparent(OBJECT(d));
            xen_pvscsi_pdev_node_del(node);
        }
    }
    if (s->luns) {
        g_hash_table_destroy(s->luns);
        s->luns = NULL;
    }
}

static void xen_pvscsi_instance_finalize(Object *obj)
{
    XenPVSCSI *s = XEN_PVSCSI(obj);

    g_free(s->auto_iothread_id);
}

static void xen_pvscsi_drained_begin(SCSIBus *bus)
{
    XenPVSCSI *s = container_of(bus, XenPVSCSI, bus);

    xen_pvscsi_dataplane_drained_begin(s->dataplane);
}

static void xen_pvscsi_drained_end(SCSIBus *bus)
{
    XenPVSCSI *s = container_of(bus, XenPVSCSI, bus);

    xen_pvscsi_dataplane_drained_end(s->dataplane);
}

static const struct SCSIBusInfo xen_pvscsi_scsi_info = {
    .tcq = true,
    .max_channel = XEN_PVSCSI_MAX_CHANNEL,
    .max_target = XEN_PVSCSI_MAX_TARGET,
    .max_lun = XEN_PVSCSI_MAX_LUN,

    .parse_cdb = xen_pvscsi_parse_cdb,
    .transfer_data = xen_pvscsi_transfer_data,
    .get_host_iov = xen_pvscsi_get_host_iov,
    .complete = xen_pvscsi_complete,
    .fail = xen_pvscsi_fail,
    .cancel = xen_pvscsi_cancel,
    .drained_begin = xen_pvscsi_drained_begin,
    .drained_end = xen_pvscsi_drained_end,
};

static const Property xen_pvscsi_props[] = {
    DEFINE_PROP_UINT32("devid", XenPVSCSI, devid, 0),
    DEFINE_PROP_UINT32("max-sg-grant", XenPVSCSI, max_sg_grant,
                       XEN_PVSCSI_DEFAULT_SG_GRANT),
    DEFINE_PROP_LINK("iothread", XenPVSCSI, iothread, TYPE_IOTHREAD,
                     IOThread *),
    DEFINE_PROP_UINT32("request-timeout", XenPVSCSI, request_timeout, 0),
    DEFINE_PROP_UINT32("reconfigure-timeout", XenPVSCSI, reconfigure_timeout,
                       XEN_PVSCSI_DEFAULT_RECONFIGURE_TIMEOUT),
    DEFINE_PROP_SIZE("grant-map-threshold", XenPVSCSI, grant_map_threshold,
                     XEN_PVSCSI_DEFAULT_MAP_THRESHOLD),
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
    hc->unplug_request = xen_pvscsi_unplug_request;
    hc->unplug = xen_pvscsi_unplug;

    dev_class->desc = "Xen paravirtual SCSI host (vscsiif backend)";
    set_bit(DEVICE_CATEGORY_STORAGE, dev_class->categories);
    device_class_set_props(dev_class, xen_pvscsi_props);
    /* Not a qdev property: an admin may change it at run time (qom-set) */
    object_class_property_add_bool(class, "migrate-passthrough",
                                   xen_pvscsi_get_migrate_passthrough,
                                   xen_pvscsi_set_migrate_passthrough);
    object_class_property_set_description(class, "migrate-passthrough",
        "Allow migration while this host's SCSI devices (/dev/sg*, /dev/sd*) "
        "are passed through: the destination has the same devices "
        "(default off: they block migration)");
}

static const TypeInfo xen_pvscsi_type_info = {
    .name = TYPE_XEN_PVSCSI,
    .parent = TYPE_XEN_DEVICE,
    .instance_size = sizeof(XenPVSCSI),
    .instance_finalize = xen_pvscsi_instance_finalize,
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

/* ---------------------------------------------------------------------- */
/* Introspection                                                           */

static XenPVSCSIState xen_pvscsi_qapi_state(enum xenbus_state state)
{
    QEMU_BUILD_BUG_ON(XEN_PVSCSI_STATE_RECONFIGURED !=
                      (int)XenbusStateReconfigured);
    return (unsigned int)state < XEN_PVSCSI_STATE__MAX ?
           (XenPVSCSIState)state : XEN_PVSCSI_STATE_UNKNOWN;
}

static XenPVSCSILunInfo *xen_pvscsi_lun_info(XenPVSCSI *s, SCSIDevice *d,
                                             XenPVSCSILun *lun,
                                             GHashTable *inflight)
{
    XenPVSCSILunInfo *info = g_new0(XenPVSCSILunInfo, 1);
    DeviceState *dev = DEVICE(d);
    BlockDriverState *bs = d->conf.blk ? blk_bs(d->conf.blk) : NULL;

    info->vdev = g_strdup_printf("%u:%u:%u:%u", s->devid, d->channel, d->id,
                                 d->lun);
    info->channel = d->channel;
    info->target = d->id;
    info->lun = d->lun;
    info->index = lun->index;
    info->state = xen_pvscsi_qapi_state(lun->state);
    info->pdev = g_strdup(lun->pdev);
    info->qdev = object_get_canonical_path(OBJECT(d));
    info->id = g_strdup(dev->id);
    info->type = g_strdup(object_get_typename(OBJECT(d)));
    if (bs) {
        info->node_name = g_strdup(bdrv_get_node_name(bs));
        info->filename = xen_pvscsi_lun_filename(d);
    }
    info->peripheral_type = lun->peripheral_type;
    info->scsi_level = lun->scsi_level;
    info->vendor = g_strdup(lun->vendor);
    info->model = g_strdup(lun->model);
    info->revision = g_strdup(lun->revision);
    info->in_flight = GPOINTER_TO_UINT(g_hash_table_lookup(inflight, d));
    return info;
}

static XenPVSCSIInfo *xen_pvscsi_info(XenPVSCSI *s)
{
    XenDevice *xendev = &s->xendev;
    XenPVSCSIInfo *info = g_new0(XenPVSCSIInfo, 1);
    g_autoptr(GHashTable) inflight = g_hash_table_new(NULL, NULL);
    XenPVSCSILunInfoList **tail = &info->luns;
    BusChild *kid;

    info->qdev = object_get_canonical_path(OBJECT(s));
    info->id = g_strdup(DEVICE(s)->id);
    info->devid = s->devid;
    info->frontend_id = xendev->frontend_id;
    info->backend = g_strdup(xendev->backend_path);
    info->frontend = g_strdup(xendev->frontend_path);
    info->state = xen_pvscsi_qapi_state(
        xen_device_backend_get_state(xendev));
    info->frontend_state = xen_pvscsi_qapi_state(xendev->frontend_state);
    info->max_sg_grant = s->max_sg_grant;
    if (s->iothread) {
        info->iothread = g_strdup(object_get_canonical_path_component(
            OBJECT(s->iothread)));
    }
    info->request_timeout = s->request_timeout;
    info->in_flight = xen_pvscsi_dataplane_count_inflight(s->dataplane,
                                                          inflight,
                                                          &info->abandoned);
    QTAILQ_FOREACH(kid, &s->bus.qbus.children, sibling) {
        SCSIDevice *d = SCSI_DEVICE(kid->child);
        XenPVSCSILun *lun = xen_pvscsi_lun(s, d);

        if (lun) {
            QAPI_LIST_APPEND(tail, xen_pvscsi_lun_info(s, d, lun, inflight));
        }
    }
    return info;
}

static gint xen_pvscsi_cmp_devid(gconstpointer a, gconstpointer b)
{
    const XenPVSCSI *sa = *(XenPVSCSI * const *)a;
    const XenPVSCSI *sb = *(XenPVSCSI * const *)b;

    return sa->devid < sb->devid ? -1 : sa->devid > sb->devid;
}

/* The hosts on the Xen bus, by devid */
XenPVSCSIInfoList *qmp_query_xen_pvscsi(Error **errp)
{
    XenPVSCSIInfoList *list = NULL;
    XenPVSCSIInfoList **tail = &list;
    g_autoptr(GPtrArray) hosts = g_ptr_array_new();
    BusState *bus = BUS(object_resolve_path_type("", TYPE_XEN_BUS, NULL));
    BusChild *kid;

    if (bus) {
        QTAILQ_FOREACH(kid, &bus->children, sibling) {
            if (object_dynamic_cast(OBJECT(kid->child), TYPE_XEN_PVSCSI) &&
                kid->child->realized) {
                g_ptr_array_add(hosts, kid->child);
            }
        }
    }
    g_ptr_array_sort(hosts, xen_pvscsi_cmp_devid);
    for (guint i = 0; i < hosts->len; i++) {
        QAPI_LIST_APPEND(tail, xen_pvscsi_info(g_ptr_array_index(hosts, i)));
    }
    return list;
}

/* ---------------------------------------------------------------------- */
/* Backends created by a toolstack                                         */

/*
 * What a toolstack may ask for in the backend's directory that xen-pvscsi
 * does not do.  feature-host = 1 (SUSE's libxl, "vscsi = [ '...,
 * feature-host' ]") asks the kernel backend to pass every command through
 * to the host's devices, its emulation (REPORT LUNS, ...) off; QEMU's SCSI
 * bus always answers REPORT LUNS itself, so that cannot be honoured.
 */
static bool xen_pvscsi_backend_check(QDict *opts, Error **errp)
{
    const char *host = qdict_get_try_str(opts, "feature-host");

    if (host && strcmp(host, "0")) {
        error_setg(errp, "feature-host = '%s' is not supported: xen-pvscsi "
                   "serves LUNs, not whole hosts; remove feature-host", host);
        return false;
    }
    return true;
}

/*
 * A toolstack that writes backend/qvscsi/<domid>/<devid> (or, opted in,
 * backend/vscsi/...) with online = 1 and state = 1 makes xen-bus call this:
 * the HBA is created with an IOThread of its own (as xen-block does for
 * qdisk), then every LUN of vscsi-devs in state 1.  A LUN that cannot be
 * created is set to state 6 with the reason in the backend's error node;
 * the others still work.  A host that cannot be created is set to state 6
 * with the reason in its error node (and QEMU's log, by xen-bus).
 */
static void xen_pvscsi_backend_create(XenBackendInstance *backend,
                                      const char *type, const char *be_type,
                                      QDict *opts, Error **errp)
{
    ERRP_GUARD();
    XenBus *xenbus = xen_backend_get_bus(backend);
    const char *name = xen_backend_get_name(backend);
    g_autofree char *iothread_id = NULL;
    g_autofree char *path = NULL;
    ObjectOptions *oopts;
    XenDevice *xendev;
    XenPVSCSI *s;
    unsigned int devid;

    if (qemu_strtoui(name, NULL, 10, &devid) < 0) {
        error_setg(errp, "failed to parse device id '%s'", name);
        return;
    }

    xendev = XEN_DEVICE(qdev_new(type));
    s = XEN_PVSCSI(xendev);
    if (!strcmp(type, TYPE_XEN_PVSCSI_VSCSI) && !s->vscsi_enabled) {
        /* Not ours: Linux's xen-scsiback may serve it */
        trace_xen_pvscsi_backend_ignored(devid, be_type);
        object_unref(OBJECT(xendev));
        return;
    }
    trace_xen_pvscsi_backend_create(devid, be_type);
    if (!xen_pvscsi_backend_check(opts, errp)) {
        object_unref(OBJECT(xendev));
        goto refused;
    }

    iothread_id = g_strdup_printf("xen-pvscsi%u-iothread", devid);
    oopts = g_new(ObjectOptions, 1);
    *oopts = (ObjectOptions) {
        .qom_type = OBJECT_TYPE_IOTHREAD,
        .id = g_strdup(iothread_id),
    };
    qmp_object_add(oopts, errp);
    qapi_free_ObjectOptions(oopts);
    if (*errp) {
        error_prepend(errp, "failed to create iothread: ");
        object_unref(OBJECT(xendev));
        goto refused;
    }

    if (!object_property_set_uint(OBJECT(xendev), "devid", devid, errp) ||
        !object_property_set_str(OBJECT(xendev), "iothread", iothread_id,
                                 errp)) {
        object_unref(OBJECT(xendev));
        goto fail;
    }
    s->auto_iothread_id = g_strdup(iothread_id);
    if (!qdev_realize_and_unref(DEVICE(xendev), BUS(xenbus), errp)) {
        object_unparent(OBJECT(xendev));
        drain_call_rcu();
        goto fail;
    }
    xen_backend_set_device(backend, xendev);
    xen_pvscsi_scan(s);
    return;

fail:
    qmp_object_del(iothread_id, NULL);
refused:
    /* Tell the toolstack too: state Closed, the reason in error */
    path = g_strdup_printf("backend/%s/%u/%s", be_type, xen_domid, name);
    xs_node_printf(xenbus->xsh, XBT_NULL, path, "error", NULL, "%s",
                   error_get_pretty(*errp));
    xs_node_printf(xenbus->xsh, XBT_NULL, path, "state", NULL, "%u",
                   XenbusStateClosed);
}

static void xen_pvscsi_backend_destroy(XenBackendInstance *backend,
                                       Error **errp)
{
    XenDevice *xendev = xen_backend_get_device(backend);
    g_autofree char *iothread_id = NULL;

    if (!xendev) {
        return;
    }
    trace_xen_pvscsi_backend_destroy(XEN_PVSCSI(xendev)->devid);
    iothread_id = g_strdup(XEN_PVSCSI(xendev)->auto_iothread_id);
    object_unparent(OBJECT(xendev));
    if (iothread_id) {
        /* The device lets go of its IOThread link when it is freed. */
        drain_call_rcu();
        qmp_object_del(iothread_id, errp);
    }
}

static void xen_pvscsi_qvscsi_create(XenBackendInstance *backend,
                                     QDict *opts, Error **errp)
{
    xen_pvscsi_backend_create(backend, TYPE_XEN_PVSCSI, XEN_PVSCSI_BACKEND,
                              opts, errp);
}

static void xen_pvscsi_vscsi_create(XenBackendInstance *backend,
                                    QDict *opts, Error **errp)
{
    xen_pvscsi_backend_create(backend, TYPE_XEN_PVSCSI_VSCSI,
                              XEN_PVSCSI_BACKEND_VSCSI, opts, errp);
}

static const XenBackendInfo xen_pvscsi_backend_info = {
    .type = XEN_PVSCSI_BACKEND,
    .create = xen_pvscsi_qvscsi_create,
    .destroy = xen_pvscsi_backend_destroy,
};

static const XenBackendInfo xen_pvscsi_vscsi_backend_info = {
    .type = XEN_PVSCSI_BACKEND_VSCSI,
    .create = xen_pvscsi_vscsi_create,
    .destroy = xen_pvscsi_backend_destroy,
};

static void xen_pvscsi_register_backend(void)
{
    xen_backend_register(&xen_pvscsi_backend_info);
    xen_backend_register(&xen_pvscsi_vscsi_backend_info);
}

xen_backend_init(xen_pvscsi_register_backend);

/*
 * Backend type "vscsi" is Linux's xen-scsiback's: a host is made for it
 * only where the admin asked for it with -global xen-pvscsi-vscsi.enable=on
 * (a QEMU started without it leaves those backends to the kernel).
 */
static const Property xen_pvscsi_vscsi_props[] = {
    DEFINE_PROP_BOOL("enable", XenPVSCSI, vscsi_enabled, false),
};

static void xen_pvscsi_vscsi_class_init(ObjectClass *class, void *data)
{
    DeviceClass *dev_class = DEVICE_CLASS(class);
    XenDeviceClass *xendev_class = XEN_DEVICE_CLASS(class);

    xendev_class->backend = XEN_PVSCSI_BACKEND_VSCSI;
    dev_class->desc = "Xen paravirtual SCSI host that a toolstack created "
                      "under backend type vscsi";
    /* Made by xen-bus for a toolstack's backend, never by the user */
    dev_class->user_creatable = false;
    device_class_set_props(dev_class, xen_pvscsi_vscsi_props);
}

static const TypeInfo xen_pvscsi_vscsi_type_info = {
    .name = TYPE_XEN_PVSCSI_VSCSI,
    .parent = TYPE_XEN_PVSCSI,
    .class_init = xen_pvscsi_vscsi_class_init,
};

static void xen_pvscsi_vscsi_register_types(void)
{
    type_register_static(&xen_pvscsi_vscsi_type_info);
}

type_init(xen_pvscsi_vscsi_register_types)
