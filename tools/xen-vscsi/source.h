/*
 * xen-vscsi: where a device's INQUIRY and VPD responses come from
 *
 * One seam, three implementations: SG_IO on the host device node through
 * libsgutils2 (real devices), the "inquiry", "vpd_pg80" and "vpd_pg83"
 * attributes of a (recorded) sysfs tree (tests), and libiscsi for an
 * iscsi:// URL.  Whatever the source, the bytes go through the same
 * decoder (scsi-id.c).
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#ifndef XEN_VSCSI_SOURCE_H
#define XEN_VSCSI_SOURCE_H

#include <glib.h>
#include <stdbool.h>
#include "scsi-id.h"

#define XVS_PAGE_STD    (-1)

/*
 * Read the standard INQUIRY data (@page XVS_PAGE_STD) or VPD page @page.
 * A page the device does not support gives NULL with *@absent set and no
 * error.
 */
typedef GBytes *(*XvsInquiryFn)(void *opaque, int page, bool *absent,
                                GError **errp);

/* Standard INQUIRY, VPD 0x80 and 0x83, decoded into @id. */
bool xvs_ident_read(XvsInquiryFn fn, void *opaque, XvsIdent *id,
                    GError **errp);

/* SG_IO through libsgutils2; @opaque is the device node's path. */
GBytes *xvs_sg_inquiry(void *opaque, int page, bool *absent, GError **errp);

/* A sysfs SCSI device directory; @opaque is its path. */
GBytes *xvs_sysfs_inquiry(void *opaque, int page, bool *absent,
                          GError **errp);

/* An iSCSI LUN through libiscsi. */
typedef struct XvsIscsi XvsIscsi;
XvsIscsi *xvs_iscsi_open(const char *url, const char *initiator,
                         GError **errp);
void xvs_iscsi_close(XvsIscsi *s);
GBytes *xvs_iscsi_inquiry(void *opaque, int page, bool *absent,
                          GError **errp);

#endif
