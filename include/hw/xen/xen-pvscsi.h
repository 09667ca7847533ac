/*
 * xen-pvscsi: Xen paravirtual SCSI (vscsiif) backend on QEMU's SCSI bus
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_XEN_PVSCSI_H
#define HW_XEN_PVSCSI_H

#include "qemu/units.h"
#include "qemu/timer.h"
#include "hw/xen/xen-bus.h"
#include "hw/scsi/scsi.h"
#include "system/iothread.h"
#include "hw/xen/interface/io/vscsiif.h"

#define TYPE_XEN_PVSCSI "xen-pvscsi"
OBJECT_DECLARE_SIMPLE_TYPE(XenPVSCSI, XEN_PVSCSI)

/* xenstore backend type; "vscsi" belongs to Linux's xen-scsiback */
#define XEN_PVSCSI_BACKEND      "qvscsi"
#define XEN_PVSCSI_DEVICE       "vscsi"

/*
 * A host that a toolstack created under backend type "vscsi" (what xm and
 * SUSE's libxl write for the kernel's backend), made only where
 * -global xen-pvscsi-vscsi.enable=on asked for it.
 */
#define TYPE_XEN_PVSCSI_VSCSI   "xen-pvscsi-vscsi"
#define XEN_PVSCSI_BACKEND_VSCSI "vscsi"

/* Linux's xen-scsiback advertises 128 (SG_ALL); see the docs. */
#define XEN_PVSCSI_DEFAULT_SG_GRANT 128
/* 26 indirect pages of 512 descriptors */
#define XEN_PVSCSI_MAX_SG_GRANT \
    (VSCSIIF_SG_TABLESIZE * VSCSIIF_SG_PER_PAGE)

#define XEN_PVSCSI_RING_SIZE    __CONST_RING_SIZE(vscsiif, XEN_PAGE_SIZE)
/*
 * Requests answered (timed out) or of an older ring that the SCSI layer has
 * not ended yet: while this many are kept, the ring is not read.
 */
#define XEN_PVSCSI_MAX_ABANDONED XEN_PVSCSI_RING_SIZE

/* Virtual addressing limits (Linux xen-scsifront: max_id 64, max_lun 255) */
#define XEN_PVSCSI_MAX_CHANNEL  7
#define XEN_PVSCSI_MAX_TARGET   63
#define XEN_PVSCSI_MAX_LUN      255

/*
 * grant-map-threshold: transfers this large are done in the guest's pages,
 * mapped, rather than copied (see xen_pvscsi_map_data).  Off by default:
 * in a PV dom0 mapping measured slower than copying at every size up to
 * 512 KiB (docs/system/devices/xen-pvscsi.rst, Performance).
 */
#define XEN_PVSCSI_DEFAULT_MAP_THRESHOLD    0

/* request-timeout: at most a day, in seconds */
#define XEN_PVSCSI_MAX_REQUEST_TIMEOUT  86400
#define XEN_PVSCSI_DEFAULT_RECONFIGURE_TIMEOUT  60

typedef struct XenPVSCSIDataPlane XenPVSCSIDataPlane;

struct XenPVSCSI {
    XenDevice xendev;

    /* properties */
    uint32_t devid;
    uint32_t max_sg_grant;
    IOThread *iothread;
    uint32_t request_timeout;   /* seconds, 0: none */
    uint64_t grant_map_threshold;   /* bytes, 0: always copy */
    bool migrate_passthrough;   /* local passthrough LUNs exist there too */
    uint32_t reconfigure_timeout;   /* seconds, 0: wait for ever */
    bool vscsi_enabled;         /* xen-pvscsi-vscsi's "enable" */

    SCSIBus bus;
    GHashTable *luns;           /* SCSIDevice * -> XenPVSCSILun * */
    unsigned int next_dev;
    /* Created by the toolstack: the IOThread made for it */
    char *auto_iothread_id;

    /*
     * A reconfiguration the frontend did not answer in time: cancelled,
     * but the frontend's late answer is still taken
     */
    QEMUTimer *reconfigure_timer;
    bool reconfigure_timed_out;

    XenPVSCSIDataPlane *dataplane;
    /* The guest's control/shutdown (see xen_pvscsi_control_changed) */
    struct qemu_xs_watch *control_watch;
    /* Local passthrough LUNs that block migration, and the blocker */
    char *blocked_luns;
    Error *migration_blocker;
};

#endif
