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
#include "qemu/error-report.h"
#include "qemu/rcu.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-block-core.h"
#include "qapi/qapi-visit-block-core.h"
#include "qapi/qobject-input-visitor.h"
#include "qobject/qdict.h"
#include "block/block-global-state.h"
#include "block/block-io.h"
#include "system/block-backend.h"
#include "hw/scsi/xen-pvscsi-hostdev.h"
#include "hw/scsi/xen-pvscsi-ident.h"
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
    qdict_put_bool(opts, "auto-read-only", true);
    if (direct) {
        QDict *cache = qdict_new();

        qdict_put_bool(cache, "direct", true);
        qdict_put(opts, "cache", cache);
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
        model = xen_pvscsi_host_model(type, blk != NULL);
    }
    out->model = model;
    if (xen_pvscsi_model_uses_sg(model)) {
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

/* Whether block device @maj:@min is a dm-multipath device */
static bool xen_pvscsi_is_multipath(unsigned int maj, unsigned int min)
{
    g_autofree char *path = g_strdup_printf("/sys/dev/block/%u:%u/dm/uuid",
                                            maj, min);
    g_autofree char *uuid = NULL;

    return g_file_get_contents(path, &uuid, NULL, NULL) &&
           xen_pvscsi_dm_is_multipath(uuid);
}

/*
 * The dm-multipath device ("dm-3") that holds every one of @hctls (the
 * paths to one LU that a WWID matched) and nothing else, or NULL: the
 * block device of each path has that one holder, which is a multipath
 * device whose slaves are those paths (as xen-vscsi decides it).
 */
static char *xen_pvscsi_multipath_of(GPtrArray *hctls)
{
    g_autofree char *dm = NULL;
    g_autofree char *slaves = NULL;
    g_autofree char *dev = NULL;
    g_autoptr(GDir) sd = NULL;
    unsigned int nslaves = 0;
    struct stat st;

    for (unsigned int i = 0; i < hctls->len; i++) {
        g_autofree char *scsidev = g_build_filename(SYSFS_SCSI_DEVICES,
            (char *)g_ptr_array_index(hctls, i), NULL);
        g_autofree char *blk = xen_pvscsi_sysfs_entry(scsidev, "block");
        g_autofree char *dir = NULL;
        g_autoptr(GDir) gd = NULL;
        const char *n;
        unsigned int nh = 0;

        if (!blk) {
            return NULL;
        }
        dir = g_strdup_printf("/sys/class/block/%s/holders", blk);
        gd = g_dir_open(dir, 0, NULL);
        while (gd && (n = g_dir_read_name(gd))) {
            if (++nh > 1 || (dm && strcmp(n, dm))) {
                return NULL;
            }
            if (!dm) {
                dm = g_strdup(n);
            }
        }
        if (nh != 1) {
            return NULL;
        }
    }
    if (!dm) {
        return NULL;
    }
    dev = g_strdup_printf("/dev/%s", dm);
    if (stat(dev, &st) < 0 || !S_ISBLK(st.st_mode) ||
        !xen_pvscsi_is_multipath(major(st.st_rdev), minor(st.st_rdev))) {
        return NULL;
    }
    slaves = g_strdup_printf("/sys/class/block/%s/slaves", dm);
    sd = g_dir_open(slaves, 0, NULL);
    while (sd && g_dir_read_name(sd)) {
        nslaves++;
    }
    return nslaves == hctls->len ? g_steal_pointer(&dev) : NULL;
}

/* ---------------------------------------------------------------------- */
/* WWIDs and naa. names                                                    */

/* A VPD page is at most 4 + 65535 bytes; the INQUIRY data 255 + 5. */
#define XEN_PVSCSI_SYSFS_ATTR_MAX   (4 + 65535)

/* sysfs attribute @name of SCSI device @dir (NULL if absent or too long) */
static uint8_t *xen_pvscsi_sysfs_attr(const char *dir, const char *name,
                                      size_t *len)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    char *data;
    gsize n;

    *len = 0;
    if (!g_file_get_contents(path, &data, &n, NULL)) {
        return NULL;
    }
    if (n > XEN_PVSCSI_SYSFS_ATTR_MAX) {
        g_free(data);
        return NULL;
    }
    *len = n;
    return (uint8_t *)data;
}

/*
 * Whether SCSI device @dir (a sysfs directory) identifies itself by
 * @wwid, as xen-vscsi decides it (include/hw/scsi/xen-pvscsi-ident.h),
 * from the pages the kernel read at its scan.
 */
static bool xen_pvscsi_sysfs_has_wwid(const char *dir, const char *wwid)
{
    size_t ninq, n80, n83;
    g_autofree uint8_t *inq = xen_pvscsi_sysfs_attr(dir, "inquiry", &ninq);
    g_autofree uint8_t *p80 = xen_pvscsi_sysfs_attr(dir, "vpd_pg80", &n80);
    g_autofree uint8_t *p83 = xen_pvscsi_sysfs_attr(dir, "vpd_pg83", &n83);
    g_autofree char *dev_wwid = NULL;
    char vendor[9], model[17];
    bool ids = inq && ninq >= 5 && MIN(ninq, (size_t)inq[4] + 5) >= 36;

    if (ids) {
        xen_pvscsi_ident_field(vendor, inq + 8, 8);
        xen_pvscsi_ident_field(model, inq + 16, 16);
    }
    dev_wwid = xen_pvscsi_scsi_id_wwid(ids ? vendor : NULL,
                                       ids ? model : NULL, p83, n83, p80,
                                       n80);
    return xen_pvscsi_ident_match_wwid(dev_wwid, p83, n83, wwid);
}

/*
 * The host SCSI device that @pdev names: a WWID (as scsi_id prints it,
 * or a designator of the logical unit written that way) or
 * naa.<hex>[:<lun>] (an NAA designator of the logical unit, or of a
 * target port or device with that LUN), exactly as xen-vscsi resolves
 * them.  Every SCSI device of the host is looked at; one must match, or
 * several that are the paths of one dm-multipath device.  Returns the
 * device's sysfs directory, or the multipath device's /dev node.
 */
static char *xen_pvscsi_ident_resolve(const char *pdev, Error **errp)
{
    g_autoptr(GDir) dir = g_dir_open(SYSFS_SCSI_DEVICES, 0, NULL);
    g_autoptr(GPtrArray) hits = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) other = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *naa = NULL;
    g_autofree char *list = NULL;
    unsigned int searched = 0;
    const char *why;
    long lun = -1;
    const char *name;

    if (!g_ascii_strncasecmp(pdev, "naa.", 4) &&
        !xen_pvscsi_ident_parse_naa(pdev, &naa, &lun, &why)) {
        error_setg(errp, "p-dev '%s': %s", pdev, why);
        return NULL;
    }

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *sd = NULL;
        unsigned int hctl[4];

        /* the bus also lists hosts and targets */
        if (!xen_pvscsi_parse_hctl(name, hctl)) {
            continue;
        }
        sd = g_build_filename(SYSFS_SCSI_DEVICES, name, NULL);
        searched++;
        if (naa) {
            size_t n83;
            g_autofree uint8_t *p83 = xen_pvscsi_sysfs_attr(sd, "vpd_pg83",
                                                            &n83);
            unsigned int assoc;

            if (!xen_pvscsi_ident_match_naa(p83, n83, naa, &assoc)) {
                continue;
            }
            if ((lun >= 0 && hctl[3] != lun) ||
                (lun < 0 && assoc != XEN_PVSCSI_ASSOC_LU)) {
                g_ptr_array_add(other, g_strdup(name));
                continue;
            }
        } else if (!xen_pvscsi_sysfs_has_wwid(sd, pdev)) {
            continue;
        }
        g_ptr_array_add(hits, g_strdup(name));
    }
    trace_xen_pvscsi_pdev_ident(pdev, searched, hits->len);

    if (hits->len == 1) {
        return g_build_filename(SYSFS_SCSI_DEVICES,
                                (char *)g_ptr_array_index(hits, 0), NULL);
    }
    if (hits->len > 1) {
        char *dm = xen_pvscsi_multipath_of(hits);

        if (dm) {
            return dm;
        }
        g_ptr_array_add(hits, NULL);
        list = g_strjoinv(", ", (char **)hits->pdata);

        error_setg(errp, "p-dev '%s' is ambiguous: it matches %s (several "
                   "paths to one device?); give its multipath device's "
                   "path, or one of them as H:C:T:L", pdev, list);
        return NULL;
    }
    if (other->len) {
        g_ptr_array_add(other, NULL);
        list = g_strjoinv(", ", (char **)other->pdata);

        error_setg(errp, "p-dev '%s': no such LUN; that NAA designator "
                   "belongs to %s", pdev, list);
        return NULL;
    }
    error_setg(errp, "p-dev '%s': no SCSI device of this host has that %s "
               "(%u devices searched)", pdev,
               naa ? "NAA designator" : "WWID", searched);
    return NULL;
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
        QDict *file = qdict_new();

        /* Never probe the format of an image the guest can write. */
        qdict_put_str(opts, "driver", "raw");
        qdict_put_str(file, "driver", "file");
        qdict_put_str(file, "filename", pdev);
        qdict_put(opts, "file", file);
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
        if (xen_pvscsi_is_multipath(major(st.st_rdev), minor(st.st_rdev))) {
            out->model = model ?: "scsi-block";
            return xen_pvscsi_host_device_opts(pdev, true);
        }
        /* Not SCSI (a logical volume, a virtio disk): emulated. */
        out->model = model ?: "scsi-hd";
        return xen_pvscsi_host_device_opts(pdev, true);
    }
    error_setg(errp, "p-dev '%s' is not a SCSI device", pdev);
    return NULL;
}

/*
 * iscsi://<host>[:<port>]/<target>/<lun>, libiscsi's URL form, as the
 * options of QEMU's iscsi driver.  Credentials are refused: every key of a
 * backend's directory is readable by its guest.
 */
static QDict *xen_pvscsi_iscsi(const char *pdev, Error **errp)
{
    const char *p = pdev + strlen("iscsi://");
    const char *slash = strchr(p, '/');
    const char *last = strrchr(p, '/');
    g_autofree char *portal = NULL;
    g_autofree char *target = NULL;
    unsigned int lun;
    QDict *opts;

    if (!slash || slash == p || last <= slash + 1 || last[1] == '\0' ||
        qemu_strtoui(last + 1, NULL, 10, &lun) < 0 || lun > 0x3fff ||
        !qemu_isdigit(last[1])) {
        error_setg(errp, "p-dev '%s' is not iscsi://<host>[:<port>]/"
                   "<target>/<lun>", pdev);
        return NULL;
    }
    portal = g_strndup(p, slash - p);
    target = g_strndup(slash + 1, last - slash - 1);
    if (strchr(portal, '@')) {
        error_setg(errp, "p-dev '%s': no credentials in p-dev (the guest "
                   "can read its backend's keys); give a block node with "
                   "user and password-secret as p-dev instead", pdev);
        return NULL;
    }
    opts = qdict_new();
    qdict_put_str(opts, "driver", "iscsi");
    qdict_put_str(opts, "transport", "tcp");
    qdict_put_str(opts, "portal", portal);
    qdict_put_str(opts, "target", target);
    qdict_put_int(opts, "lun", lun);
    return opts;
}

/* blockdev-add of @opts (consumed) as node @node_name */
static bool xen_pvscsi_node_add(QDict *opts, const char *node_name,
                                Error **errp)
{
    BlockdevOptions *options = NULL;
    Visitor *v;
    bool ok;

    qdict_put_str(opts, "node-name", node_name);
    v = qobject_input_visitor_new(QOBJECT(opts));
    ok = visit_type_BlockdevOptions(v, NULL, &options, errp);
    visit_free(v);
    qobject_unref(opts);
    if (!ok) {
        return false;
    }
    qmp_blockdev_add(options, errp);
    qapi_free_BlockdevOptions(options);
    return !*errp;
}

bool xen_pvscsi_pdev_resolve(const char *pdev, const char *model,
                             const char *node_name, XenPVSCSIPdev *out,
                             Error **errp)
{
    ERRP_GUARD();
    QDict *opts = NULL;
    unsigned int hctl[4];

    memset(out, 0, sizeof(*out));
    if (!*pdev) {
        error_setg(errp, "p-dev is empty");
        return false;
    }

    if (g_str_has_prefix(pdev, "iscsi://")) {
        opts = xen_pvscsi_iscsi(pdev, errp);
        if (!opts) {
            return false;
        }
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

        if (!blk && !bs && (!g_ascii_strncasecmp(pdev, "naa.", 4) ||
                            xen_pvscsi_ident_is_wwid(pdev))) {
            /* What SUSE's libxl writes for a LIO target gets here too. */
            g_autofree char *found = xen_pvscsi_ident_resolve(pdev, errp);

            if (found && g_str_has_prefix(found, "/dev/")) {
                opts = xen_pvscsi_path(found, model, out, errp);
            } else {
                opts = found ? xen_pvscsi_host_scsi(pdev, found, model, out,
                                                    errp) : NULL;
            }
            if (!opts) {
                return false;
            }
        } else if (!blk && !bs) {
            error_setg(errp, "p-dev '%s' is neither a host device, an "
                       "H:C:T:L, a WWID, a naa. name, an iscsi:// URL, a "
                       "drive nor a block node", pdev);
            return false;
        } else {
            if (!model && bs && !strcmp(bdrv_get_format_name(bs) ?: "",
                                        "iscsi")) {
                /* An iSCSI LUN defined in QEMU (with CHAP, say): as a URL */
                model = xen_pvscsi_host_model(-1, !bdrv_is_sg(bs));
            }
            out->model = model ?: (bs && bdrv_is_sg(bs) ? "scsi-generic"
                                                        : "scsi-hd");
            out->drive = g_strdup(pdev);
            return true;
        }
    }

    trace_xen_pvscsi_pdev_open(pdev, node_name);
    if (!xen_pvscsi_node_add(opts, node_name, errp)) {
        error_prepend(errp, "p-dev '%s': ", pdev);
        return false;
    }
    out->node = g_strdup(node_name);
    out->drive = g_strdup(node_name);
    if (!out->model) {
        /* QEMU's iscsi driver makes a LUN not a disk or CD SG only. */
        BlockDriverState *bs = bdrv_find_node(node_name);

        out->model = xen_pvscsi_host_model(-1, bs && !bdrv_is_sg(bs));
    }
    return true;
}

/*
 * A node is deleted once the LUN's device let go of it: the device is
 * freed in an RCU callback after its unparent (qdev's bus_remove_child),
 * which runs before this one, queued later.  A request still holding the
 * device keeps it a little longer: then it is tried again.
 */
#define XEN_PVSCSI_NODE_DEL_TRIES   100

typedef struct XenPVSCSINodeDel {
    struct rcu_head rcu;
    char *node;
    unsigned int tries;
} XenPVSCSINodeDel;

static void xen_pvscsi_node_del_rcu(XenPVSCSINodeDel *nd)
{
    Error *err = NULL;

    trace_xen_pvscsi_pdev_close(nd->node, nd->tries);
    qmp_blockdev_del(nd->node, &err);
    if (err && ++nd->tries < XEN_PVSCSI_NODE_DEL_TRIES) {
        error_free(err);
        call_rcu(nd, xen_pvscsi_node_del_rcu, rcu);
        return;
    }
    if (err) {
        warn_report_err(err);
    }
    g_free(nd->node);
    g_free(nd);
}

void xen_pvscsi_pdev_node_del(char *node)
{
    XenPVSCSINodeDel *nd;

    if (!node) {
        return;
    }
    nd = g_new0(XenPVSCSINodeDel, 1);
    nd->node = node;
    call_rcu(nd, xen_pvscsi_node_del_rcu, rcu);
}

void xen_pvscsi_pdev_release(XenPVSCSIPdev *p)
{
    xen_pvscsi_pdev_node_del(g_steal_pointer(&p->node));
    g_free(p->drive);
    p->drive = NULL;
}
