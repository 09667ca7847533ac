/*
 * xen-vscsi: the host's SCSI devices, as sysfs shows them
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#ifndef XEN_VSCSI_HOST_H
#define XEN_VSCSI_HOST_H

#include <glib.h>
#include <stdbool.h>
#include "scsi-id.h"

typedef enum XvsSourceKind {
    XVS_SOURCE_SG,              /* SG_IO through libsgutils2 */
    XVS_SOURCE_SYSFS,           /* sysfs inquiry/vpd_pg* attributes */
} XvsSourceKind;

typedef struct XvsHost {
    char *sysfs_root;           /* stands for /sys */
    char *dev_root;             /* stands for /dev */
    bool recorded_dev;          /* @dev_root is a recorded tree */
    XvsSourceKind source;
} XvsHost;

typedef struct XvsDev {
    unsigned int hctl[4];
    char *hctl_str;
    char *sysdir;               /* the device's sysfs directory */
    char *sg;                   /* "sg0", or NULL */
    char *block;                /* "sda", "sr0", or NULL */
    char *tape;                 /* "st0", or NULL */
    char *ntape;                /* "nst0", or NULL */
    int type;                   /* sysfs "type" */
    bool have_ident;
    XvsIdent ident;
} XvsDev;

void xvs_dev_free(XvsDev *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(XvsDev, xvs_dev_free)

/* @path ("/sys/..." or "/dev/...") inside the host's trees. */
char *xvs_host_path(const XvsHost *h, const char *path);
/*
 * A udev link under /dev to device node @node ("sdb", "sg3"), as
 * /dev/...: the most stable one there is, or NULL if it has none.
 */
char *xvs_dev_stable_path(const XvsHost *h, const char *node);
/* @path if it is such a link (/dev/disk/by-id/NAME, ...) to @node */
char *xvs_dev_link_of(const XvsHost *h, const char *path, const char *node);

/*
 * What a p-dev names.  A host SCSI device gives @dev; an iscsi:// URL,
 * an image file or a block device that is not SCSI give @other (the URL or
 * the path) with @kind saying which.
 */
typedef enum XvsPdevKind {
    XVS_PDEV_SCSI,
    XVS_PDEV_ISCSI,
    XVS_PDEV_FILE,
    XVS_PDEV_BLOCK,
    /* a dm-multipath device: @other its node, @dev one path, @paths all */
    XVS_PDEV_MPATH,
} XvsPdevKind;

typedef struct XvsPdev {
    XvsPdevKind kind;
    XvsDev *dev;
    char *other;
    char *paths;                /* "H:C:T:L (sdX), ..." of a multipath one */
} XvsPdev;

void xvs_pdev_clear(XvsPdev *p);

/*
 * Resolve any p-dev form.  With @scsi_only, anything that is not a host
 * SCSI device is an error.
 */
bool xvs_pdev_resolve(XvsHost *h, const char *pdev, bool scsi_only,
                      XvsPdev *out, GError **errp);

/* The device at host address @hctl. */
XvsDev *xvs_dev_by_hctl(XvsHost *h, const unsigned int hctl[4],
                        GError **errp);
/* Every SCSI device of the host, in H:C:T:L order. */
GPtrArray *xvs_dev_scan(XvsHost *h, GError **errp);
/* Read INQUIRY/VPD through the host's source (once). */
bool xvs_dev_read_ident(XvsHost *h, XvsDev *d, GError **errp);

#endif
