/*
 * Test-only Xen hypervisor emulation for qtest: what its parts share
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_XEN_XEN_QTEST_HV_H
#define HW_XEN_XEN_QTEST_HV_H

#include "qemu/thread.h"
#include "chardev/char-fe.h"
#include "exec/memory.h"
#include "hw/isa/isa.h"
#include "hw/xen/xen_backend_ops.h"
#include "hw/xen/interface/grant_table.h"
#include "hw/i386/kvm/xenstore_impl.h"

#define TYPE_XEN_QTEST_HV "xen-qtest-hv"
OBJECT_DECLARE_SIMPLE_TYPE(XenQtestHV, XEN_QTEST_HV)

#define HV_DOMID_BACKEND    0       /* QEMU plays dom0 */
#define HV_NR_PORTS         64
/* The local (backend) port differs from the guest's to catch mix-ups. */
#define HV_BE_PORT_OFFSET   100
#define HV_MAX_GNTTAB_FRAMES 32

/* Register block (32-bit little-endian registers) */
#define HV_REG_EVTCHN_SEND  0x00    /* W: guest port to kick the backend */
#define HV_REG_PENDING_LO   0x08    /* R/W1C: ports 0..31 pending */
#define HV_REG_PENDING_HI   0x0c    /* R/W1C: ports 32..63 pending */
#define HV_REG_NOTIFY_CNT   0x10    /* R: backend notifications so far */
#define HV_REG_DOMID        0x14    /* R: guest domid */
#define HV_REG_GNT_FRAMES   0x18    /* R: grant table frames */
#define HV_REG_SIZE         0x1000

#define HV_GNT_PER_FRAME    (XEN_PAGE_SIZE / sizeof(grant_entry_v1_t))

/* Watch events queued on one connection before it is considered stuck. */
#define HV_XS_MAX_QUEUED    4096

typedef struct XsConn XsConn;

struct XsConn {
    XenQtestHV *hv;
    const char *name;
    CharBackend chr;
    unsigned int dom;           /* domain this connection acts as */
    GByteArray *in;             /* partial message */
    GQueue out;                 /* queued XS_WATCH_EVENT messages */
    QEMUBH *out_bh;
    GList *watches;             /* "path\0token" registered here */
    GList *transactions;        /* transaction ids started here */
    bool closing;
};

struct XenQtestHV {
    ISADevice parent_obj;

    /* properties */
    uint32_t domid;
    uint64_t gnttab_base;
    uint32_t gnttab_frames;
    uint64_t mmio_base;
    XsConn xs_guest;
    XsConn xs_priv;

    /* grant table */
    MemoryRegion gnt_mr;
    grant_entry_v1_t *gnt;
    uint32_t nr_grants;
    uint32_t *map_count;        /* active mappings per ref, all handles */
    QemuMutex gnt_lock;

    /* event channels */
    QemuMutex port_lock;
    struct xenevtchn_handle *ports[HV_NR_PORTS];
    uint64_t pending;
    uint32_t notify_cnt;
    MemoryRegion regs;
    qemu_irq upcall;
    QEMUBH *irq_bh;

    /* xenstore */
    XenstoreImplState *impl;
};


/* The backend-ops tables are global, so is the device behind them. */
extern XenQtestHV *xen_qtest_hv;

/* xen-qtest-hv-evtchn.c: event channels and the register block */
void xen_qtest_hv_evtchn_init(XenQtestHV *s);

/* xen-qtest-hv-gnttab.c: the grant table */
void xen_qtest_hv_gnttab_init(XenQtestHV *s);

/* xen-qtest-hv-xs.c: xenstore, for QEMU and on the chardev connections */
void xen_qtest_hv_xs_init(XenQtestHV *s);

#endif
