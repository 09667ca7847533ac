/*
 * xen-pvscsi: how a SCSI device of the host is served
 *
 * One rule for the device model (a toolstack's p-dev,
 * hw/scsi/xen-pvscsi-pdev.c) and for tools/xen-vscsi, which writes the
 * same LUNs as QEMU options, the way scsi/utils.c is shared with
 * qemu-pr-helper.  Plain C: nothing but scsi/constants.h.
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_SCSI_XEN_PVSCSI_HOSTDEV_H
#define HW_SCSI_XEN_PVSCSI_HOSTDEV_H

#include "scsi/constants.h"

/* Peripheral types with a block command set that scsi-block serves */
static inline bool xen_pvscsi_host_blockish(int type)
{
    return type == TYPE_DISK || type == TYPE_ROM || type == TYPE_MOD ||
           type == TYPE_RBC;
}

/*
 * Whether QEMU's iscsi driver gives a LUN of @type a block node: disks and
 * CDs only, any other type is an SG-only node (block/iscsi.c).
 */
static inline bool xen_pvscsi_iscsi_block_node(int type)
{
    return type == TYPE_DISK || type == TYPE_ROM;
}

/*
 * The device model for a host LUN of peripheral @type (-1 where only its
 * node tells, as for an opened iSCSI node) with a block node
 * (@block_node) or only an SG one: scsi-block, whose I/O goes through
 * QEMU's block layer, where it can serve the LUN; scsi-generic, every
 * command passed through on the SG node, otherwise.
 */
static inline const char *xen_pvscsi_host_model(int type, bool block_node)
{
    return block_node && (type < 0 || xen_pvscsi_host_blockish(type)) ?
           "scsi-block" : "scsi-generic";
}

/*
 * Whether a device-mapper device with dm/uuid @uuid is a dm-multipath
 * device: served by scsi-block on its node (Linux passes SG_IO on it to
 * the current path), the paths beneath it being dom0's business.
 */
static inline bool xen_pvscsi_dm_is_multipath(const char *uuid)
{
    return !strncmp(uuid, "mpath-", 6);
}

/* scsi-generic opens the LUN's SG node, the others its block node */
static inline bool xen_pvscsi_model_uses_sg(const char *model)
{
    return !strcmp(model, "scsi-generic");
}

/* The device models a LUN can be given (the toolstack's qemu-device) */
static inline bool xen_pvscsi_model_known(const char *model)
{
    static const char *const models[] = {
        "scsi-hd", "scsi-cd", "scsi-block", "scsi-generic",
    };

    for (unsigned int i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
        if (!strcmp(model, models[i])) {
            return true;
        }
    }
    return false;
}

#endif
