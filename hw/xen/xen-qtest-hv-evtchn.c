/*
 * Test-only Xen hypervisor emulation for qtest: event channels
 *
 * Guest ports 1..63 are implicitly "unbound, remote dom0".  The guest kicks
 * the backend by writing a port number to the SEND register; a backend
 * notification sets the port's bit in the PENDING registers (write 1 to
 * clear) and raises the named GPIO "upcall".
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/eventfd.h>
#include "qemu/main-loop.h"
#include "qemu/lockable.h"
#include "qemu/log.h"
#include "hw/irq.h"
#include "hw/xen/xen.h"
#include "xen-qtest-hv.h"
#include "trace.h"

struct xenevtchn_handle {
    evtchn_port_t be_port;
    evtchn_port_t guest_port;   /* 0: unbound */
    int fd;
};

static void hv_update_irq(void *opaque)
{
    XenQtestHV *s = opaque;

    qemu_set_irq(s->upcall, qatomic_read(&s->pending) != 0);
}

static xenevtchn_handle *hv_evtchn_open(void)
{
    xenevtchn_handle *xc = g_new0(xenevtchn_handle, 1);

    xc->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (xc->fd < 0) {
        g_free(xc);
        return NULL;
    }
    return xc;
}

static int hv_evtchn_bind_interdomain(xenevtchn_handle *xc, uint32_t domid,
                                      evtchn_port_t guest_port)
{
    XenQtestHV *s = xen_qtest_hv;

    if (domid != xen_domid) {
        return -ESRCH;
    }
    if (guest_port == 0 || guest_port >= HV_NR_PORTS) {
        return -EINVAL;
    }
    QEMU_LOCK_GUARD(&s->port_lock);
    if (xc->guest_port) {
        return -EBUSY;          /* one port per handle */
    }
    if (s->ports[guest_port]) {
        return -EBUSY;
    }
    s->ports[guest_port] = xc;
    xc->guest_port = guest_port;
    xc->be_port = guest_port + HV_BE_PORT_OFFSET;
    trace_xen_qtest_hv_evtchn_bind(guest_port, xc->be_port);
    return xc->be_port;
}

static int hv_evtchn_unbind(xenevtchn_handle *xc, evtchn_port_t port)
{
    XenQtestHV *s = xen_qtest_hv;

    QEMU_LOCK_GUARD(&s->port_lock);
    if (!xc->guest_port || (port && port != xc->be_port)) {
        return -EINVAL;
    }
    trace_xen_qtest_hv_evtchn_unbind(xc->guest_port, xc->be_port);
    s->ports[xc->guest_port] = NULL;
    xc->guest_port = 0;
    xc->be_port = 0;
    return 0;
}

static int hv_evtchn_close(xenevtchn_handle *xc)
{
    if (xc->guest_port) {
        hv_evtchn_unbind(xc, 0);
    }
    close(xc->fd);
    g_free(xc);
    return 0;
}

static int hv_evtchn_fd(xenevtchn_handle *xc)
{
    return xc->fd;
}

/* Backend -> guest.  May be called from an IOThread. */
static int hv_evtchn_notify(xenevtchn_handle *xc, evtchn_port_t port)
{
    XenQtestHV *s = xen_qtest_hv;
    evtchn_port_t guest_port;

    WITH_QEMU_LOCK_GUARD(&s->port_lock) {
        if (!xc->guest_port || port != xc->be_port) {
            return -EINVAL;
        }
        guest_port = xc->guest_port;
    }
    qatomic_or(&s->pending, 1ULL << guest_port);
    qatomic_inc(&s->notify_cnt);
    trace_xen_qtest_hv_evtchn_notify(guest_port);
    /* qemu_set_irq() only from the main loop */
    qemu_bh_schedule(s->irq_bh);
    return 0;
}

static int hv_evtchn_pending(xenevtchn_handle *xc)
{
    eventfd_t val;

    if (eventfd_read(xc->fd, &val) < 0 || !val || !xc->be_port) {
        return 0;
    }
    return xc->be_port;
}

static int hv_evtchn_unmask(xenevtchn_handle *xc, evtchn_port_t port)
{
    return 0;                   /* the event was consumed by pending() */
}

static struct evtchn_backend_ops hv_evtchn_ops = {
    .open = hv_evtchn_open,
    .bind_interdomain = hv_evtchn_bind_interdomain,
    .unbind = hv_evtchn_unbind,
    .close = hv_evtchn_close,
    .get_fd = hv_evtchn_fd,
    .notify = hv_evtchn_notify,
    .unmask = hv_evtchn_unmask,
    .pending = hv_evtchn_pending,
};

static uint64_t hv_regs_read(void *opaque, hwaddr addr, unsigned size)
{
    XenQtestHV *s = opaque;

    switch (addr) {
    case HV_REG_PENDING_LO:
        return (uint32_t)qatomic_read(&s->pending);
    case HV_REG_PENDING_HI:
        return (uint32_t)(qatomic_read(&s->pending) >> 32);
    case HV_REG_NOTIFY_CNT:
        return qatomic_read(&s->notify_cnt);
    case HV_REG_DOMID:
        return xen_domid;
    case HV_REG_GNT_FRAMES:
        return s->gnttab_frames;
    default:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "xen-qtest-hv: read of unknown register 0x%" HWADDR_PRIx
                      "\n", addr);
        return 0;
    }
}

static void hv_regs_write(void *opaque, hwaddr addr, uint64_t val,
                          unsigned size)
{
    XenQtestHV *s = opaque;

    switch (addr) {
    case HV_REG_EVTCHN_SEND:
        if (val == 0 || val >= HV_NR_PORTS) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "xen-qtest-hv: send to invalid port %" PRIu64 "\n",
                          val);
            break;
        }
        WITH_QEMU_LOCK_GUARD(&s->port_lock) {
            if (s->ports[val]) {
                trace_xen_qtest_hv_evtchn_send(val);
                eventfd_write(s->ports[val]->fd, 1);
            }
        }
        break;
    case HV_REG_PENDING_LO:
        qatomic_and(&s->pending, ~(uint64_t)(uint32_t)val);
        hv_update_irq(s);
        break;
    case HV_REG_PENDING_HI:
        qatomic_and(&s->pending, ~((uint64_t)(uint32_t)val << 32));
        hv_update_irq(s);
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "xen-qtest-hv: write to unknown register 0x%" HWADDR_PRIx
                      "\n", addr);
        break;
    }
}

static const MemoryRegionOps hv_regs_ops = {
    .read = hv_regs_read,
    .write = hv_regs_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 4,
        .max_access_size = 4,
    },
};

void xen_qtest_hv_evtchn_init(XenQtestHV *s)
{
    qemu_mutex_init(&s->port_lock);
    memory_region_init_io(&s->regs, OBJECT(s), &hv_regs_ops, s,
                          "xen-qtest-hv.regs", HV_REG_SIZE);
    memory_region_add_subregion_overlap(isa_address_space(ISA_DEVICE(s)),
                                        s->mmio_base, &s->regs, 1);
    qdev_init_gpio_out_named(DEVICE(s), &s->upcall, "upcall", 1);
    s->irq_bh = qemu_bh_new(hv_update_irq, s);
    xen_evtchn_ops = &hv_evtchn_ops;
}
