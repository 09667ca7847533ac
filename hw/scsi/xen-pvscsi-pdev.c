/*
 * xen-pvscsi: what a toolstack's p-dev names
 *
 * A toolstack that creates a xen-pvscsi backend in xenstore names each
 * LUN's physical device in vscsi-devs/dev-N/p-dev, the way xm and the libxl
 * pvscsi patches do for the kernel backend: a host SCSI device (by device
 * node or H:C:T:L), plus what only QEMU can serve: an iSCSI URL, an image
 * file, or a block node or drive already defined in QEMU.
 *
 * The p-dev comes from the toolstack (the backend directory is not
 * writable by the guest), but it is still checked: anything unexpected is
 * an error for that LUN only.
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/ctype.h"
#include "qemu/cutils.h"
#include "qapi/error.h"
#include "qobject/qdict.h"
#include "block/block.h"
#include "block/block-global-state.h"
#include "block/block-io.h"
#include "system/block-backend.h"
#include "scsi/constants.h"
#include "xen-pvscsi-pdev.h"
#include "trace.h"

#define SYSFS_SCSI_DEVICES      "/sys/bus/scsi/devices"

bool xen_pvscsi_parse_hctl(const char *s, unsigned int hctl[4])
{
    const char *p = s;

    for (int i = 0; i < 4; i++) {
        const char *end;
        unsigned int v;

        if (!qemu_isdigit(*p) || qemu_strtoui(p, &end, 10, &v) < 0) {
            return false;
        }
        if (*end != (i < 3 ? ':' : '\0')) {
            return false;
        }
        hctl[i] = v;
        p = end + 1;
    }
    return true;
}

/* The one entry of sysfs directory @dir/@sub (such as "scsi_generic"). */
static char *xen_pvscsi_sysfs_entry(const char *dir, const char *sub)
{
    g_autofree char *path = g_build_filename(dir, sub, NULL);
    g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
    const char *name;

    if (!d) {
        return NULL;
    }
    name = g_dir_read_name(d);
    return name ? g_strdup(name) : NULL;
}

static QDict *xen_pvscsi_host_device_opts(const char *path, bool direct)
{
    QDict *opts = qdict_new();

    qdict_put_str(opts, "driver", "host_device");
    qdict_put_str(opts, "filename", path);
    /* A CD drive or a write-protected LUN only opens read-only. */
    qdict_put_str(opts, BDRV_OPT_AUTO_READ_ONLY, "on");
    if (direct) {
        qdict_put_str(opts, BDRV_OPT_CACHE_DIRECT, "on");
    }
    return opts;
}

/*
 * A host SCSI device, by its sysfs directory @scsidev: scsi-block on its
 * block node for a disk or CD, scsi-generic on its sg node otherwise.
 * Fills in out->model and returns the options of the node to open.
 */
static QDict *xen_pvscsi_host_scsi(const char *pdev, const char *scsidev,
                                   const char *model, XenPVSCSIPdev *out,
                                   Error **errp)
{
    g_autofree char *type_path = g_build_filename(scsidev, "type", NULL);
    g_autofree char *type_str = NULL;
    g_autofree char *sg = xen_pvscsi_sysfs_entry(scsidev, "scsi_generic");
    g_autofree char *blk = xen_pvscsi_sysfs_entry(scsidev, "block");
    g_autofree char *dev = NULL;
    unsigned int type;

    if (!g_file_get_contents(type_path, &type_str, NULL, NULL) ||
        qemu_strtoui(g_strstrip(type_str), NULL, 10, &type) < 0) {
        error_setg(errp, "p-dev '%s': cannot read the SCSI type of %s",
                   pdev, scsidev);
        return NULL;
    }
    if (!model) {
        bool blockish = type == TYPE_DISK || type == TYPE_ROM ||
                        type == TYPE_MOD || type == TYPE_RBC;

        model = blockish && blk ? "scsi-block" : "scsi-generic";
    }
    out->model = model;
    if (!strcmp(model, "scsi-generic")) {
        if (!sg) {
            error_setg(errp, "p-dev '%s': the host device has no /dev/sg "
                       "node (is the sg module loaded?)", pdev);
            return NULL;
        }
        dev = g_strdup_printf("/dev/%s", sg);
        return xen_pvscsi_host_device_opts(dev, false);
    }
    if (!blk) {
        error_setg(errp, "p-dev '%s': the host device has no block node "
                   "for %s", pdev, model);
        return NULL;
    }
    dev = g_strdup_printf("/dev/%s", blk);
    return xen_pvscsi_host_device_opts(dev, true);
}

/* A path: a host device node (perhaps through a symlink) or an image. */
static QDict *xen_pvscsi_path(const char *pdev, const char *model,
                              XenPVSCSIPdev *out, Error **errp)
{
    g_autofree char *link = NULL;
    g_autofree char *scsidev = NULL;
    struct stat st;

    if (stat(pdev, &st) < 0) {
        error_setg_errno(errp, errno, "p-dev '%s'", pdev);
        return NULL;
    }
    if (S_ISREG(st.st_mode)) {
        QDict *opts = qdict_new();

        /* Never probe the format of an image the guest can write. */
        qdict_put_str(opts, "driver", "raw");
        qdict_put_str(opts, "file.driver", "file");
        qdict_put_str(opts, "file.filename", pdev);
        out->model = model ?: "scsi-hd";
        return opts;
    }
    if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) {
        error_setg(errp, "p-dev '%s': neither a device node nor an image "
                   "file", pdev);
        return NULL;
    }
    link = g_strdup_printf("/sys/dev/%s/%u:%u/device",
                           S_ISCHR(st.st_mode) ? "char" : "block",
                           major(st.st_rdev), minor(st.st_rdev));
    scsidev = realpath(link, NULL);
    if (scsidev) {
        g_autofree char *type = g_build_filename(scsidev, "type", NULL);
        g_autofree char *sd = g_build_filename(scsidev, "scsi_device", NULL);

        if (g_file_test(type, G_FILE_TEST_EXISTS) &&
            g_file_test(sd, G_FILE_TEST_IS_DIR)) {
            return xen_pvscsi_host_scsi(pdev, scsidev, model, out, errp);
        }
    }
    if (S_ISBLK(st.st_mode)) {
        g_autofree char *part = g_strdup_printf("/sys/dev/block/%u:%u/"
                                                "partition",
                                                major(st.st_rdev),
                                                minor(st.st_rdev));

        if (g_file_test(part, G_FILE_TEST_EXISTS) && !model) {
            error_setg(errp, "p-dev '%s' is a partition; give the whole "
                       "disk", pdev);
            return NULL;
        }
        /* Not SCSI (a logical volume, a virtio disk): emulated. */
        out->model = model ?: "scsi-hd";
        return xen_pvscsi_host_device_opts(pdev, true);
    }
    error_setg(errp, "p-dev '%s' is not a SCSI device", pdev);
    return NULL;
}

bool xen_pvscsi_pdev_resolve(const char *pdev, const char *model,
                             const char *node_name, XenPVSCSIPdev *out,
                             Error **errp)
{
    QDict *opts = NULL;
    unsigned int hctl[4];

    memset(out, 0, sizeof(*out));
    if (!*pdev) {
        error_setg(errp, "p-dev is empty");
        return false;
    }

    if (g_str_has_prefix(pdev, "iscsi://")) {
        opts = qdict_new();
        qdict_put_str(opts, "driver", "iscsi");
        /* Decided once the LUN's type is known */
        out->model = model;
    } else if (pdev[0] == '/') {
        opts = xen_pvscsi_path(pdev, model, out, errp);
        if (!opts) {
            return false;
        }
    } else if (xen_pvscsi_parse_hctl(pdev, hctl)) {
        g_autofree char *scsidev =
            g_strdup_printf(SYSFS_SCSI_DEVICES "/%u:%u:%u:%u",
                            hctl[0], hctl[1], hctl[2], hctl[3]);

        if (!g_file_test(scsidev, G_FILE_TEST_IS_DIR)) {
            error_setg(errp, "p-dev '%s': no such SCSI device on this host",
                       pdev);
            return false;
        }
        opts = xen_pvscsi_host_scsi(pdev, scsidev, model, out, errp);
        if (!opts) {
            return false;
        }
    } else {
        /* Something QEMU already has: a drive id or a node name. */
        BlockBackend *blk = blk_by_name(pdev);
        BlockDriverState *bs = blk ? blk_bs(blk) : bdrv_find_node(pdev);

        if (!blk && !bs) {
            error_setg(errp, "p-dev '%s' is neither a host device, an "
                       "H:C:T:L, an iscsi:// URL, a drive nor a block node",
                       pdev);
            return false;
        }
        out->model = model ?: (bs && bdrv_is_sg(bs) ? "scsi-generic"
                                                    : "scsi-hd");
        out->drive = g_strdup(pdev);
        return true;
    }

    qdict_put_str(opts, "node-name", node_name);
    trace_xen_pvscsi_pdev_open(pdev, node_name);
    out->bs = bdrv_open(g_str_has_prefix(pdev, "iscsi://") ? pdev : NULL,
                        NULL, opts, BDRV_O_RDWR, errp);
    if (!out->bs) {
        error_prepend(errp, "p-dev '%s': ", pdev);
        return false;
    }
    if (!out->model) {
        /* libiscsi marks a LUN that is not a disk or CD as SG only. */
        out->model = bdrv_is_sg(out->bs) ? "scsi-generic" : "scsi-block";
    }
    out->drive = g_strdup(node_name);
    return true;
}

void xen_pvscsi_pdev_release(XenPVSCSIPdev *p)
{
    if (p->bs) {
        bdrv_unref(p->bs);
        p->bs = NULL;
    }
    g_free(p->drive);
    p->drive = NULL;
}
