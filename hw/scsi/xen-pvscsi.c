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
#include "hw/xen/xen-backend.h"
#include "hw/xen/xen-bus-helper.h"
#include "scsi/constants.h"
#include "system/block-backend.h"
#include "block/block.h"
#include "xen-pvscsi-dataplane.h"
#include "trace.h"

static const struct SCSIBusInfo xen_pvscsi_scsi_info;

/* ---------------------------------------------------------------------- */
/* LUNs in xenstore                                                        */

/* A LUN published under vscsi-devs/dev-<index> */
typedef struct XenPVSCSILun {
    unsigned int index;
    enum xenbus_state state;    /* what dev-<index>/state says */
    bool unplug_requested;      /* device_del: the guest must let go */
} XenPVSCSILun;

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

static void xen_pvscsi_lun_publish(XenPVSCSI *s, SCSIDevice *d)
{
    XenPVSCSILun *lun = g_new0(XenPVSCSILun, 1);
    g_autofree char *base = NULL;
    g_autofree char *pdev_key = NULL;
    g_autofree char *vdev_key = NULL;
    g_autofree char *pdev = xen_pvscsi_describe(d);

    lun->index = s->next_dev++;
    g_hash_table_insert(s->luns, d, lun);
    base = g_strdup_printf("vscsi-devs/dev-%u", lun->index);
    pdev_key = g_strdup_printf("%s/p-dev", base);
    vdev_key = g_strdup_printf("%s/v-dev", base);
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
    trace_xen_pvscsi_lun_remove(s->devid, d->channel, d->id, d->lun);
    if (d->conf.blk) {
        blk_drain(d->conf.blk);
    }
    hotplug_handler_unplug(HOTPLUG_HANDLER(s), DEVICE(d), &error_abort);
    object_unparent(OBJECT(d));
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
                xen_pvscsi_lun_set_state(s, d, XenbusStateClosing);
            }
            work = true;
        } else if (lun->state == XenbusStateInitialising) {
            work = true;
        }
    }
    if (work) {
        trace_xen_pvscsi_reconfigure(s->devid);
        xen_device_backend_set_state(xendev, XenbusStateReconfiguring);
    }
}

/* The frontend acknowledged Reconfiguring: apply the changes. */
static void xen_pvscsi_reconfigured(XenPVSCSI *s)
{
    BusChild *kid, *next;

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
    /*
     * Published in state Initialising: offered at the next connect, or
     * now through a reconfiguration if the guest is connected.
     */
    xen_pvscsi_lun_publish(s, d);
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
    enum xenbus_state state = xen_device_backend_get_state(&s->xendev);

    if (!lun ||
        (state != XenbusStateConnected &&
         state != XenbusStateReconfiguring &&
         state != XenbusStateReconfigured)) {
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
                xen_pvscsi_luns_advance(s, XenbusStateInitialised,
                                        XenbusStateConnected);
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
        /* Offer the LUNs, then report Connected. */
        xen_pvscsi_luns_advance(s, XenbusStateInitialising,
                                XenbusStateInitialised);
        xen_pvscsi_luns_advance(s, XenbusStateConnected,
                                XenbusStateInitialised);
        xen_device_backend_set_state(xendev, XenbusStateConnected);
        if (frontend_state == XenbusStateConnected) {
            xen_pvscsi_luns_advance(s, XenbusStateInitialised,
                                    XenbusStateConnected);
            xen_pvscsi_reconfigure(s);
        }
        break;

    case XenbusStateReconfiguring:
        if (backend_state == XenbusStateReconfiguring) {
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

    s->luns = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    s->dataplane = xen_pvscsi_dataplane_create(xendev, &s->bus, s->devid,
                                               s->max_sg_grant, s->iothread);

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

    xen_pvscsi_dataplane_destroy(s->dataplane);
    s->dataplane = NULL;
    if (s->luns) {
        g_hash_table_destroy(s->luns);
        s->luns = NULL;
    }

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

/*
 * Registering the backend type makes xen-bus watch backend/qvscsi: that is
 * how a device that was unplugged (device_del) gets cleaned up once its
 * frontend has closed.  Backends written into xenstore by a toolstack are
 * not created yet (see the device's documentation).
 */
static void xen_pvscsi_backend_create(XenBackendInstance *backend,
                                      QDict *opts, Error **errp)
{
    error_setg(errp, "backend/%s/%u/%s: toolstack-created xen-pvscsi "
               "backends are not supported yet; use -device xen-pvscsi",
               XEN_PVSCSI_BACKEND, xen_domid,
               xen_backend_get_name(backend));
}

static void xen_pvscsi_backend_destroy(XenBackendInstance *backend,
                                       Error **errp)
{
    XenDevice *xendev = xen_backend_get_device(backend);

    if (xendev) {
        object_unparent(OBJECT(xendev));
    }
}

static const XenBackendInfo xen_pvscsi_backend_info = {
    .type = XEN_PVSCSI_BACKEND,
    .create = xen_pvscsi_backend_create,
    .destroy = xen_pvscsi_backend_destroy,
};

static void xen_pvscsi_register_backend(void)
{
    xen_backend_register(&xen_pvscsi_backend_info);
}

xen_backend_init(xen_pvscsi_register_backend);
