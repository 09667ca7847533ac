/*
 * xen-pvscsi data plane: the vscsiif ring and its requests
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_SCSI_XEN_PVSCSI_DATAPLANE_H
#define HW_SCSI_XEN_PVSCSI_DATAPLANE_H

#include "hw/xen/xen-bus.h"
#include "hw/scsi/scsi.h"
#include "system/iothread.h"

typedef struct XenPVSCSIDataPlane XenPVSCSIDataPlane;

/*
 * The data plane serves one ring in the AioContext of @iothread (or the
 * main loop's).  Its LUNs' BlockBackends must live in that context too, so
 * that every SCSIBusInfo callback below runs there.
 *
 * create, destroy, start, stop and drained_begin/end run in the main loop
 * with the BQL held.
 */
XenPVSCSIDataPlane *xen_pvscsi_dataplane_create(XenDevice *xendev,
                                                SCSIBus *bus,
                                                unsigned int devid,
                                                unsigned int max_sg_grant,
                                                unsigned int request_timeout,
                                                uint64_t map_threshold,
                                                IOThread *iothread);
void xen_pvscsi_dataplane_destroy(XenPVSCSIDataPlane *dp);
AioContext *xen_pvscsi_dataplane_get_aio_context(XenPVSCSIDataPlane *dp);

/* Map the ring, bind the event channel and serve requests. */
void xen_pvscsi_dataplane_start(XenPVSCSIDataPlane *dp, unsigned int ring_ref,
                                unsigned int port, Error **errp);
/*
 * Stop serving the ring and let go of it without waiting for I/O: requests
 * still in the SCSI layer are cancelled and never answered.
 */
void xen_pvscsi_dataplane_stop(XenPVSCSIDataPlane *dp);

/*
 * Count the guest's requests in progress: in total (returned) and per LUN
 * (@per_lun: SCSIDevice * -> count, as GUINT_TO_POINTER); and in
 * @abandoned, those the guest was answered for (or whose ring is gone)
 * that the SCSI layer has not ended yet.
 */
unsigned int xen_pvscsi_dataplane_count_inflight(XenPVSCSIDataPlane *dp,
                                                 GHashTable *per_lun,
                                                 uint32_t *abandoned);

void xen_pvscsi_dataplane_drained_begin(XenPVSCSIDataPlane *dp);
void xen_pvscsi_dataplane_drained_end(XenPVSCSIDataPlane *dp);

/* SCSIBusInfo callbacks */
void xen_pvscsi_transfer_data(SCSIRequest *sreq, uint32_t len);
void xen_pvscsi_complete(SCSIRequest *sreq, size_t resid);
void xen_pvscsi_fail(SCSIRequest *sreq);
void xen_pvscsi_cancel(SCSIRequest *sreq);
QEMUIOVector *xen_pvscsi_get_host_iov(SCSIRequest *sreq);
int xen_pvscsi_parse_cdb(SCSIDevice *dev, SCSICommand *cmd, uint8_t *buf,
                         size_t buf_len, void *hba_private);

#endif
