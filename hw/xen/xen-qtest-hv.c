/*
 * Test-only Xen hypervisor emulation for qtest
 *
 * Lets xen-bus and XenDevice backends (xen-block, xen-pvscsi) run under
 * "-accel qtest" without Xen or KVM, with a qtest program playing the guest
 * frontend:
 *
 *  - xenstore: QEMU's own xenstore implementation (xenstore_impl.c), served
 *    over the xenstored wire protocol on chardev sockets, so that stock
 *    libxenstore (XENSTORED_PATH) talks to it.  The "xenstore" connection
 *    acts as the guest domain, "xenstore-priv" as dom0 (the toolstack).
 *  - grant table: v1 entries in a RAM region at "gnttab-base"; frames are
 *    guest-physical page numbers of guest RAM.
 *  - event channels: guest ports 1..63 are implicitly "unbound, remote dom0".
 *    The guest kicks the backend by writing a port number to the SEND
 *    register; a backend notification sets the port's bit in the PENDING
 *    registers (write 1 to clear) and raises the named GPIO "upcall".
 *
 * Each part has a file of its own: xen-qtest-hv-xs.c, -gnttab.c and
 * -evtchn.c; this one is the device.  Like pc-testdev, it is an ISA device
 * whose registers (and grant table) are MMIO in the ISA memory space.
 *
 * The guest is not trusted: every grant reference, frame number, offset,
 * length and xenstore message is validated.  A malformed xenstore message
 * closes that connection; QEMU carries on.
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */


#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/qdev-properties.h"
#include "hw/qdev-properties-system.h"
#include "migration/vmstate.h"
#include "system/qtest.h"
#include "hw/xen/xen.h"
#include "hw/xen/xen-bus.h"
#include "xen-qtest-hv.h"

XenQtestHV *xen_qtest_hv;

static void hv_realize(DeviceState *dev, Error **errp)
{
    XenQtestHV *s = XEN_QTEST_HV(dev);
    uint64_t gnt_size = (uint64_t)s->gnttab_frames * XEN_PAGE_SIZE;

    if (!qtest_enabled()) {
        error_setg(errp, "%s is a test device; it only works with "
                   "-accel qtest", TYPE_XEN_QTEST_HV);
        return;
    }
    if (xen_qtest_hv) {
        error_setg(errp, "only one %s device is allowed", TYPE_XEN_QTEST_HV);
        return;
    }
    if (xen_mode != XEN_DISABLED || xen_xenstore_ops || xen_gnttab_ops ||
        xen_evtchn_ops) {
        error_setg(errp, "Xen backend operations are already provided "
                   "(real Xen or Xen emulation)");
        return;
    }
    if (s->domid == 0 || s->domid >= DOMID_FIRST_RESERVED) {
        error_setg(errp, "domid must be between 1 and %u",
                   DOMID_FIRST_RESERVED - 1);
        return;
    }
    if (s->gnttab_frames == 0 || s->gnttab_frames > HV_MAX_GNTTAB_FRAMES) {
        error_setg(errp, "gnttab-frames must be between 1 and %u",
                   HV_MAX_GNTTAB_FRAMES);
        return;
    }
    if (!QEMU_IS_ALIGNED(s->gnttab_base, XEN_PAGE_SIZE) ||
        !QEMU_IS_ALIGNED(s->mmio_base, XEN_PAGE_SIZE)) {
        error_setg(errp, "gnttab-base and mmio-base must be page aligned");
        return;
    }
    if (ranges_overlap(s->gnttab_base, gnt_size, s->mmio_base,
                       HV_REG_SIZE)) {
        error_setg(errp, "the grant table and the registers overlap");
        return;
    }
    if (!qemu_chr_fe_backend_connected(&s->xs_guest.chr)) {
        error_setg(errp, "property 'xenstore' (a chardev) is required");
        return;
    }

    xen_qtest_hv = s;
    xen_domid = s->domid;

    xen_qtest_hv_gnttab_init(s);
    xen_qtest_hv_evtchn_init(s);
    xen_qtest_hv_xs_init(s);

    /* What pc.c does for the KVM Xen emulation: bridge plus xen-bus. */
    xen_bus_init();
}

static const Property hv_props[] = {
    DEFINE_PROP_UINT32("domid", XenQtestHV, domid, 1),
    DEFINE_PROP_UINT64("gnttab-base", XenQtestHV, gnttab_base, 0xfeff0000),
    DEFINE_PROP_UINT32("gnttab-frames", XenQtestHV, gnttab_frames, 4),
    DEFINE_PROP_UINT64("mmio-base", XenQtestHV, mmio_base, 0xfeffc000),
    DEFINE_PROP_CHR("xenstore", XenQtestHV, xs_guest.chr),
    DEFINE_PROP_CHR("xenstore-priv", XenQtestHV, xs_priv.chr),
};

/*
 * The hypervisor's state (grants, event channels, xenstore) is not part of
 * a device model's state under real Xen either (the toolstack moves the
 * domain): the section is empty, so that a test can save a device model's
 * state with xen-save-devices-state, as libxl does, and load it into a
 * second QEMU that has hypervisor state of its own.
 */
static const VMStateDescription hv_vmstate = {
    .name = TYPE_XEN_QTEST_HV,
    .fields = (const VMStateField[]) {
        VMSTATE_END_OF_LIST()
    },
};

static void hv_class_init(ObjectClass *oc, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);

    dc->desc = "Test-only Xen hypervisor emulation for qtest";
    dc->realize = hv_realize;
    dc->vmsd = &hv_vmstate;
    dc->hotpluggable = false;
    dc->user_creatable = true;
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    device_class_set_props(dc, hv_props);
}

static const TypeInfo hv_info = {
    .name = TYPE_XEN_QTEST_HV,
    .parent = TYPE_ISA_DEVICE,
    .instance_size = sizeof(XenQtestHV),
    .class_init = hv_class_init,
};

static void hv_register_types(void)
{
    type_register_static(&hv_info);
}

type_init(hv_register_types)
