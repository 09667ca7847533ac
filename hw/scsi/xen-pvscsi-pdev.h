/*
 * xen-pvscsi: what a toolstack's p-dev names
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_SCSI_XEN_PVSCSI_PDEV_H
#define HW_SCSI_XEN_PVSCSI_PDEV_H

/* A p-dev, resolved to a SCSI device model and the drive to give it. */
typedef struct XenPVSCSIPdev {
    const char *model;          /* scsi-hd, scsi-cd, scsi-block, ... */
    char *drive;                /* its drive property: node or drive id */
    char *node;                 /* the node made for it (blockdev-add) */
} XenPVSCSIPdev;

/* Parse "H:C:T:L" (four decimal numbers, nothing else). */
bool xen_pvscsi_parse_hctl(const char *s, unsigned int hctl[4]);

/*
 * Resolve @pdev:
 *  - iscsi://...: a LUN through libiscsi (scsi-block, or scsi-generic for
 *    a LUN that is not a disk or CD);
 *  - /dev/sgN, /dev/sdX, /dev/stN, /dev/srN, /dev/disk/by-.../...: the host
 *    SCSI device (scsi-block for a disk or CD with a block node, otherwise
 *    scsi-generic on its sg node); a block device that is not SCSI gets
 *    scsi-hd; a regular file is a raw image for scsi-hd;
 *  - H:C:T:L: the host SCSI device at that address, found through sysfs;
 *  - otherwise the id of a -drive or the name of a block node (scsi-hd, or
 *    scsi-generic for an SG node).
 * @model, if not NULL, overrides the device model chosen.  A node made
 * here (as blockdev-add would, so query-named-block-nodes lists it) is
 * named @node_name; the LUN's device then takes it.  Credentials in an
 * iscsi:// URL are refused: a LUN with CHAP is a node defined in QEMU.
 */
bool xen_pvscsi_pdev_resolve(const char *pdev, const char *model,
                             const char *node_name, XenPVSCSIPdev *out,
                             Error **errp);
/* Drop what resolve made: a node still in p->node is deleted (below). */
void xen_pvscsi_pdev_release(XenPVSCSIPdev *p);
/*
 * Delete block node @node (taken; NULL does nothing) once the device it
 * was made for let go of it: after that device's unparent.
 */
void xen_pvscsi_pdev_node_del(char *node);

#endif
