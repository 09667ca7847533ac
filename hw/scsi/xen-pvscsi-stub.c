/*
 * xen-pvscsi: QMP when the device is not built in
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-xen-pvscsi.h"

XenPVSCSIInfoList *qmp_query_xen_pvscsi(Error **errp)
{
    error_setg(errp, "xen-pvscsi is not available in this QEMU");
    return NULL;
}
