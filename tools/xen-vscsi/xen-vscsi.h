/*
 * xen-vscsi: common definitions
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#ifndef XEN_VSCSI_H
#define XEN_VSCSI_H

#include <glib.h>
#include <stdbool.h>

#define XVS_ERROR (xvs_error_quark())

typedef enum XvsError {
    XVS_ERROR_FAILED,
    XVS_ERROR_NOT_FOUND,        /* no such device */
    XVS_ERROR_AMBIGUOUS,        /* more than one device matches */
    XVS_ERROR_INVALID,          /* bad argument */
} XvsError;

GQuark xvs_error_quark(void);

/* Parse "H:C:T:L" (decimal, nothing else); true on success. */
bool xvs_parse_hctl(const char *s, unsigned int hctl[4]);

#endif
