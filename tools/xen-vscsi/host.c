/*
 * xen-vscsi: the host's SCSI devices, as sysfs shows them
 *
 * The same lookups as the device model's own p-dev resolution
 * (hw/scsi/xen-pvscsi-pdev.c): a device node through
 * /sys/dev/{char,block}/M:m/device, a host address through
 * /sys/bus/scsi/devices/H:C:T:L, partitions refused.  On top, a WWID or a
 * naa. name is matched against every device's VPD 0x83 designators.
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include "xen-vscsi.h"
#include "host.h"
#include "source.h"
#include "hw/scsi/xen-pvscsi-hostdev.h"
#include "hw/scsi/xen-pvscsi-ident.h"

#define SYSFS_SCSI_DEVICES  "/sys/bus/scsi/devices"

void xvs_dev_free(XvsDev *d)
{
    if (!d) {
        return;
    }
    g_free(d->hctl_str);
    g_free(d->sysdir);
    g_free(d->sg);
    g_free(d->block);
    g_free(d->tape);
    g_free(d->ntape);
    xvs_ident_clear(&d->ident);
    g_free(d);
}

void xvs_pdev_clear(XvsPdev *p)
{
    xvs_dev_free(p->dev);
    g_free(p->other);
    g_free(p->paths);
    memset(p, 0, sizeof(*p));
}

char *xvs_host_path(const XvsHost *h, const char *path)
{
    if (h->sysfs_root && (g_str_has_prefix(path, "/sys/") ||
                          !strcmp(path, "/sys"))) {
        return g_strconcat(h->sysfs_root, path + 4, NULL);
    }
    if (h->dev_root && (g_str_has_prefix(path, "/dev/") ||
                        !strcmp(path, "/dev"))) {
        return g_strconcat(h->dev_root, path + 4, NULL);
    }
    return g_strdup(path);
}

/*
 * udev's links to a device node, best first: a by-id name from the LU's
 * world-wide name (wwn-, or scsi-3 for an NAA designator of VPD page
 * 0x83) follows the LU to whichever host, bus or path it appears on; then
 * the other by-id names (the serial number of page 0x80, a transport's
 * own id); then by-path, stable while the HBA keeps its slot and the LUN
 * its address.  A medium changer's sg node has links under /dev/tape
 * (udev's 60-persistent-storage-tape.rules); a tape drive's sg node,
 * like any other sg node, has none.
 */
static const struct {
    const char *dir;
    const char *prefix;
} stable_dirs[] = {
    { "/dev/disk/by-id", "wwn-" },
    { "/dev/disk/by-id", "scsi-3" },
    { "/dev/disk/by-id", "scsi-" },
    { "/dev/disk/by-id", "" },
    { "/dev/tape/by-id", "scsi-" },
    { "/dev/tape/by-id", "" },
    { "/dev/disk/by-path", "" },
    { "/dev/tape/by-path", "" },
};

static bool same_node(const XvsHost *h, const char *a, const char *b)
{
    g_autofree char *ma = xvs_host_path(h, a);
    g_autofree char *mb = xvs_host_path(h, b);
    g_autofree char *ra = realpath(ma, NULL);
    g_autofree char *rb = realpath(mb, NULL);

    return ra && rb && !strcmp(ra, rb);
}

char *xvs_dev_link_of(const XvsHost *h, const char *path, const char *node)
{
    g_autofree char *dev = g_strconcat("/dev/", node, NULL);

    for (size_t i = 0; i < G_N_ELEMENTS(stable_dirs); i++) {
        g_autofree char *dir = g_strconcat(stable_dirs[i].dir, "/", NULL);

        if (g_str_has_prefix(path, dir) && !strchr(path + strlen(dir), '/') &&
            same_node(h, path, dev)) {
            return g_strdup(path);
        }
    }
    return NULL;
}

static gint name_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *xvs_dev_stable_path(const XvsHost *h, const char *node)
{
    g_autofree char *dev = g_strconcat("/dev/", node, NULL);

    for (size_t i = 0; i < G_N_ELEMENTS(stable_dirs); i++) {
        g_autofree char *dir = xvs_host_path(h, stable_dirs[i].dir);
        g_autoptr(GDir) gd = g_dir_open(dir, 0, NULL);
        g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
        const char *n;

        while (gd && (n = g_dir_read_name(gd))) {
            if (g_str_has_prefix(n, stable_dirs[i].prefix)) {
                g_ptr_array_add(names, g_strdup(n));
            }
        }
        /* the same answer on every run */
        g_ptr_array_sort(names, name_cmp);
        for (guint j = 0; j < names->len; j++) {
            const char *name = g_ptr_array_index(names, j);
            g_autofree char *l = g_build_filename(stable_dirs[i].dir, name,
                                                  NULL);

            if (same_node(h, l, dev)) {
                return g_steal_pointer(&l);
            }
        }
    }
    return NULL;
}

static char *read_attr(const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    char *s;

    if (!g_file_get_contents(path, &s, NULL, NULL)) {
        return NULL;
    }
    return g_strstrip(s);
}

/* The entry of @dir/@sub whose name is @prefix followed by digits only */
static char *class_entry(const char *dir, const char *sub, const char *prefix)
{
    g_autofree char *path = g_build_filename(dir, sub, NULL);
    g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
    const char *name;
    size_t pl = strlen(prefix);

    while (d && (name = g_dir_read_name(d))) {
        if (!strncmp(name, prefix, pl) && name[pl] &&
            strspn(name + pl, "0123456789") == strlen(name + pl)) {
            return g_strdup(name);
        }
    }
    return NULL;
}

/* The first entry of @dir/@sub (block devices have one: sda, sr0, ...) */
static char *first_entry(const char *dir, const char *sub)
{
    g_autofree char *path = g_build_filename(dir, sub, NULL);
    g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
    const char *name = d ? g_dir_read_name(d) : NULL;

    return name ? g_strdup(name) : NULL;
}

static bool is_scsi_device_dir(const char *dir)
{
    g_autofree char *type = g_build_filename(dir, "type", NULL);
    g_autofree char *sd = g_build_filename(dir, "scsi_device", NULL);

    return g_file_test(type, G_FILE_TEST_EXISTS) &&
           g_file_test(sd, G_FILE_TEST_IS_DIR);
}

static XvsDev *dev_from_sysdir(const char *sysdir, GError **errp)
{
    g_autoptr(XvsDev) d = g_new0(XvsDev, 1);
    g_autofree char *base = g_path_get_basename(sysdir);
    g_autofree char *type = NULL;
    char *end = NULL;
    gint64 t;

    xvs_ident_init(&d->ident);
    if (!xvs_parse_hctl(base, d->hctl)) {
        g_set_error(errp, XVS_ERROR, XVS_ERROR_FAILED,
                    "%s: not a SCSI device directory", sysdir);
        return NULL;
    }
    d->hctl_str = g_strdup(base);
    d->sysdir = g_strdup(sysdir);
    type = read_attr(sysdir, "type");
    t = type ? g_ascii_strtoll(type, &end, 10) : -1;
    if (!type || *end || t < 0 || t > 0x1f) {
        g_set_error(errp, XVS_ERROR, XVS_ERROR_FAILED,
                    "%s: cannot read the SCSI type of %s", base, sysdir);
        return NULL;
    }
    d->type = t;
    d->sg = class_entry(sysdir, "scsi_generic", "sg");
    d->block = first_entry(sysdir, "block");
    d->tape = class_entry(sysdir, "scsi_tape", "st");
    d->ntape = class_entry(sysdir, "scsi_tape", "nst");
    return g_steal_pointer(&d);
}

XvsDev *xvs_dev_by_hctl(XvsHost *h, const unsigned int hctl[4],
                        GError **errp)
{
    g_autofree char *rel = g_strdup_printf(SYSFS_SCSI_DEVICES "/%u:%u:%u:%u",
                                           hctl[0], hctl[1], hctl[2],
                                           hctl[3]);
    g_autofree char *path = xvs_host_path(h, rel);
    g_autofree char *real = realpath(path, NULL);

    if (!real || !is_scsi_device_dir(real)) {
        g_set_error(errp, XVS_ERROR, XVS_ERROR_NOT_FOUND,
                    "no SCSI device %u:%u:%u:%u on this host", hctl[0],
                    hctl[1], hctl[2], hctl[3]);
        return NULL;
    }
    return dev_from_sysdir(real, errp);
}

static int dev_cmp(gconstpointer a, gconstpointer b)
{
    const XvsDev *x = *(XvsDev *const *)a;
    const XvsDev *y = *(XvsDev *const *)b;

    for (int i = 0; i < 4; i++) {
        if (x->hctl[i] != y->hctl[i]) {
            return x->hctl[i] < y->hctl[i] ? -1 : 1;
        }
    }
    return 0;
}

GPtrArray *xvs_dev_scan(XvsHost *h, GError **errp)
{
    g_autofree char *path = xvs_host_path(h, SYSFS_SCSI_DEVICES);
    g_autoptr(GPtrArray) devs =
        g_ptr_array_new_with_free_func((GDestroyNotify)xvs_dev_free);
    g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
    const char *name;

    /* No SCSI bus at all (no SCSI driver loaded): no devices. */
    while (dir && (name = g_dir_read_name(dir))) {
        unsigned int hctl[4];
        g_autoptr(GError) err = NULL;
        XvsDev *d;

        if (!xvs_parse_hctl(name, hctl)) {
            continue;               /* host0, target0:0:0, ... */
        }
        d = xvs_dev_by_hctl(h, hctl, &err);
        if (!d) {
            g_printerr("xen-vscsi: warning: %s (skipped)\n", err->message);
            continue;
        }
        g_ptr_array_add(devs, d);
    }
    g_ptr_array_sort(devs, dev_cmp);
    (void)errp;
    return g_steal_pointer(&devs);
}

bool xvs_dev_read_ident(XvsHost *h, XvsDev *d, GError **errp)
{
    bool ok;

    if (d->have_ident) {
        return true;
    }
    if (h->source == XVS_SOURCE_SYSFS) {
        ok = xvs_ident_read(xvs_sysfs_inquiry, d->sysdir, &d->ident, errp);
    } else {
        const char *node = d->sg ?: d->block ?: d->tape;
        g_autofree char *dev = NULL;
        g_autofree char *path = NULL;

        if (!node) {
            g_set_error(errp, XVS_ERROR, XVS_ERROR_FAILED,
                        "%s has no /dev/sg node (is the sg module loaded?)",
                        d->hctl_str);
            return false;
        }
        dev = g_strconcat("/dev/", node, NULL);
        path = xvs_host_path(h, dev);
        ok = xvs_ident_read(xvs_sg_inquiry, path, &d->ident, errp);
    }
    if (!ok) {
        g_prefix_error(errp, "%s: ", d->hctl_str);
        return false;
    }
    d->have_ident = true;
    return true;
}

/* ------------------------------------------------------------------ */
/* Device nodes                                                        */

/*
 * The device number of node @real: from the node itself, or in a
 * recorded /dev tree from a regular file holding "block M:m" or
 * "char M:m".  Returns false for a regular file that is neither (an
 * image).
 */
static bool node_rdev(XvsHost *h, const char *real, const struct stat *st,
                      bool *blk, unsigned int *maj, unsigned int *min)
{
    g_autofree char *s = NULL;
    char kind[8];

    if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
        *blk = S_ISBLK(st->st_mode);
        *maj = major(st->st_rdev);
        *min = minor(st->st_rdev);
        return true;
    }
    if (!h->recorded_dev || !S_ISREG(st->st_mode) || st->st_size > 64 ||
        !g_file_get_contents(real, &s, NULL, NULL)) {
        return false;
    }
    if (sscanf(s, "%7s %u:%u", kind, maj, min) != 3) {
        return false;
    }
    *blk = !strcmp(kind, "block");
    return *blk || !strcmp(kind, "char");
}

static char *dev_label(const XvsDev *d)
{
    const char *node = d->block ?: d->tape ?: d->sg;

    return node ? g_strdup_printf("%s (%s)", d->hctl_str, node)
                : g_strdup(d->hctl_str);
}

static char *dev_list(GPtrArray *devs)
{
    g_autoptr(GPtrArray) labels = g_ptr_array_new_with_free_func(g_free);

    for (unsigned int i = 0; i < devs->len; i++) {
        g_ptr_array_add(labels, dev_label(g_ptr_array_index(devs, i)));
    }
    g_ptr_array_add(labels, NULL);
    return g_strjoinv(", ", (char **)labels->pdata);
}

/* @dir (a block device's sysfs directory) is a dm-multipath device's */
static bool is_multipath_dir(const char *dir)
{
    g_autofree char *path = g_build_filename(dir, "dm", "uuid", NULL);
    g_autofree char *uuid = NULL;

    return g_file_get_contents(path, &uuid, NULL, NULL) &&
           xen_pvscsi_dm_is_multipath(uuid);
}

/*
 * A dm-multipath device given by its node (/dev/mapper/NAME, /dev/dm-N,
 * a by-id link): true if @sysdev (/sys/dev/block/M:m) is one, with @out
 * filled in (or @out->dev NULL and @errp set if its paths cannot be read).
 */
static bool resolve_mpath_node(XvsHost *h, const char *sysdev, XvsPdev *out,
                               GError **errp)
{
    g_autofree char *mdir = xvs_host_path(h, sysdev);
    g_autofree char *real = realpath(mdir, NULL);
    g_autofree char *slaves = NULL;
    g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(
        (GDestroyNotify)xvs_dev_free);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GDir) gd = NULL;
    const char *n;

    if (!real || !is_multipath_dir(real)) {
        return false;
    }
    out->kind = XVS_PDEV_MPATH;
    {
        g_autofree char *dm = g_path_get_basename(real);

        out->other = g_strconcat("/dev/", dm, NULL);
    }
    slaves = g_build_filename(real, "slaves", NULL);
    gd = g_dir_open(slaves, 0, NULL);
    while (gd && (n = g_dir_read_name(gd))) {
        g_ptr_array_add(names, g_strdup(n));
    }
    g_ptr_array_sort(names, name_cmp);
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *l = g_build_filename(slaves,
                                              g_ptr_array_index(names, i),
                                              "device", NULL);
        g_autofree char *scsidev = realpath(l, NULL);
        XvsDev *d = scsidev && is_scsi_device_dir(scsidev) ?
                    dev_from_sysdir(scsidev, NULL) : NULL;

        if (d) {
            g_ptr_array_add(paths, d);
        }
    }
    if (!paths->len) {
        g_set_error(errp, XVS_ERROR, XVS_ERROR_NOT_FOUND,
                    "%s: a multipath device without SCSI paths", out->other);
        return true;
    }
    out->paths = dev_list(paths);
    out->dev = g_ptr_array_steal_index(paths, 0);
    return true;
}

static bool resolve_path(XvsHost *h, const char *pdev, XvsPdev *out,
                         GError **errp)
{
    g_autofree char *mapped = xvs_host_path(h, pdev);
    g_autofree char *real = realpath(mapped, NULL);
    g_autofree char *sysdev = NULL;
    g_autofree char *part = NULL;
    g_autofree char *link = NULL;
    g_autofree char *scsidev = NULL;
    struct stat st;
    unsigned int maj, min;
    bool blk;

    if (!real || stat(real, &st) < 0) {
        g_set_error(errp, XVS_ERROR, XVS_ERROR_NOT_FOUND, "%s: %s", pdev,
                    g_strerror(errno));
        return false;
    }
    if (!node_rdev(h, real, &st, &blk, &maj, &min)) {
        if (S_ISREG(st.st_mode)) {
            out->kind = XVS_PDEV_FILE;
            out->other = g_strdup(pdev);
            return true;
        }
        g_set_error(errp, XVS_ERROR, XVS_ERROR_INVALID,
                    "%s: neither a device node nor an image file", pdev);
        return false;
    }
    sysdev = g_strdup_printf("/sys/dev/%s/%u:%u", blk ? "block" : "char",
                             maj, min);
    part = g_strdup_printf("%s/partition", sysdev);
    link = g_strdup_printf("%s/device", sysdev);
    {
        g_autofree char *p = xvs_host_path(h, part);
        g_autofree char *l = xvs_host_path(h, link);

        if (blk && g_file_test(p, G_FILE_TEST_EXISTS)) {
            g_set_error(errp, XVS_ERROR, XVS_ERROR_INVALID,
                        "%s is a partition; give the whole disk", pdev);
            return false;
        }
        scsidev = realpath(l, NULL);
    }
    if (scsidev && is_scsi_device_dir(scsidev)) {
        out->kind = XVS_PDEV_SCSI;
        out->dev = dev_from_sysdir(scsidev, errp);
        return out->dev != NULL;
    }
    if (blk && resolve_mpath_node(h, sysdev, out, errp)) {
        return out->dev != NULL;
    }
    if (blk) {
        out->kind = XVS_PDEV_BLOCK;
        out->other = g_strdup(pdev);
        return true;
    }
    g_set_error(errp, XVS_ERROR, XVS_ERROR_INVALID,
                "%s (char %u:%u) is not a SCSI device", pdev, maj, min);
    return false;
}

/* ------------------------------------------------------------------ */
/* WWID and naa. names                                                 */

/*
 * The dm-multipath device ("dm-3") that holds every one of @devs (the
 * paths to one LU that a WWID matched) and nothing else, or NULL: the
 * block device of each path has that one holder, whose dm/uuid is
 * dm-multipath's ("mpath-<WWID>"), and whose slaves are those paths.
 */
static char *multipath_of(XvsHost *h, GPtrArray *devs)
{
    g_autofree char *dm = NULL;
    unsigned int nslaves = 0;

    for (unsigned int i = 0; i < devs->len; i++) {
        XvsDev *d = g_ptr_array_index(devs, i);
        g_autofree char *dir = NULL;
        g_autoptr(GDir) gd = NULL;
        const char *n, *holder = NULL;
        unsigned int nh = 0;

        if (!d->block) {
            return NULL;
        }
        dir = g_build_filename(d->sysdir, "block", d->block, "holders",
                               NULL);
        gd = g_dir_open(dir, 0, NULL);
        while (gd && (n = g_dir_read_name(gd))) {
            holder = n;
            nh++;
            if (nh == 1 && !dm) {
                dm = g_strdup(n);
            }
        }
        if (nh != 1 || strcmp(holder, dm)) {
            return NULL;
        }
    }
    if (!dm) {
        return NULL;
    }
    {
        g_autofree char *base = g_strdup_printf("/sys/class/block/%s", dm);
        g_autofree char *mbase = xvs_host_path(h, base);
        g_autofree char *slaves = g_build_filename(mbase, "slaves", NULL);
        g_autoptr(GDir) gd = g_dir_open(slaves, 0, NULL);

        if (!is_multipath_dir(mbase)) {
            return NULL;
        }
        while (gd && g_dir_read_name(gd)) {
            nslaves++;
        }
    }
    return nslaves == devs->len ? g_steal_pointer(&dm) : NULL;
}

/*
 * Every device whose designators match: @naa (with @lun, or -1) or else
 * @wwid.  Several paths to one LU under dm-multipath name its multipath
 * device.
 */
static bool resolve_ident(XvsHost *h, const char *pdev, const char *wwid,
                          const char *naa, long lun, XvsPdev *out,
                          GError **errp)
{
    g_autoptr(GPtrArray) all = xvs_dev_scan(h, errp);
    g_autoptr(GPtrArray) hits = g_ptr_array_new();
    g_autoptr(GPtrArray) other_lun = g_ptr_array_new();
    g_autofree char *dm = NULL;
    unsigned int unreadable = 0;

    for (unsigned int i = 0; i < all->len; i++) {
        XvsDev *d = g_ptr_array_index(all, i);
        g_autoptr(GError) err = NULL;
        unsigned int assoc;

        if (!xvs_dev_read_ident(h, d, &err)) {
            g_printerr("xen-vscsi: warning: %s (skipped)\n", err->message);
            unreadable++;
            continue;
        }
        if (naa) {
            if (!xvs_ident_match_naa(&d->ident, naa, &assoc)) {
                continue;
            }
            if (lun >= 0 && d->hctl[3] != lun) {
                g_ptr_array_add(other_lun, d);
                continue;
            }
            if (lun < 0 && assoc != XVS_ASSOC_LU) {
                g_ptr_array_add(other_lun, d);
                continue;
            }
            g_ptr_array_add(hits, d);
        } else if (xvs_ident_match_wwid(&d->ident, wwid)) {
            g_ptr_array_add(hits, d);
        }
    }
    if (hits->len == 1) {
        XvsDev *d = g_ptr_array_index(hits, 0);
        guint idx;

        g_ptr_array_find(all, d, &idx);
        out->kind = XVS_PDEV_SCSI;
        out->dev = g_ptr_array_steal_index(all, idx);
        return true;
    }
    if (hits->len > 1) {
        dm = multipath_of(h, hits);
    }
    if (dm) {
        XvsDev *d = g_ptr_array_index(hits, 0);
        guint idx;

        g_ptr_array_find(all, d, &idx);
        out->kind = XVS_PDEV_MPATH;
        out->other = g_strconcat("/dev/", dm, NULL);
        out->paths = dev_list(hits);
        out->dev = g_ptr_array_steal_index(all, idx);
        return true;
    }
    if (hits->len > 1) {
        g_autofree char *list = dev_list(hits);

        g_set_error(errp, XVS_ERROR, XVS_ERROR_AMBIGUOUS,
                    "%s is ambiguous: it matches %s (several paths to one "
                    "device?); give one of them as H:C:T:L", pdev, list);
        return false;
    }
    if (other_lun->len) {
        g_autofree char *list = dev_list(other_lun);

        g_set_error(errp, XVS_ERROR, XVS_ERROR_NOT_FOUND,
                    "%s: no such LUN; that NAA designator belongs to %s",
                    pdev, list);
        return false;
    }
    g_set_error(errp, XVS_ERROR, XVS_ERROR_NOT_FOUND,
                "%s: no SCSI device of this host has that %s (%u devices "
                "searched%s)", pdev, naa ? "NAA designator" : "WWID",
                all->len - unreadable,
                unreadable ? ", some unreadable: see the warnings" : "");
    return false;
}

bool xvs_pdev_resolve(XvsHost *h, const char *pdev, bool scsi_only,
                      XvsPdev *out, GError **errp)
{
    unsigned int hctl[4];

    memset(out, 0, sizeof(*out));
    if (!*pdev) {
        g_set_error(errp, XVS_ERROR, XVS_ERROR_INVALID, "empty p-dev");
        return false;
    }
    if (g_str_has_prefix(pdev, "iscsi://")) {
        out->kind = XVS_PDEV_ISCSI;
        out->other = g_strdup(pdev);
        return true;
    }
    if (pdev[0] == '/') {
        if (!resolve_path(h, pdev, out, errp)) {
            return false;
        }
        if (scsi_only && out->kind != XVS_PDEV_SCSI &&
            out->kind != XVS_PDEV_MPATH) {
            g_set_error(errp, XVS_ERROR, XVS_ERROR_INVALID,
                        "%s is not a SCSI device", pdev);
            xvs_pdev_clear(out);
            return false;
        }
        return true;
    }
    if (xvs_parse_hctl(pdev, hctl)) {
        out->kind = XVS_PDEV_SCSI;
        out->dev = xvs_dev_by_hctl(h, hctl, errp);
        return out->dev != NULL;
    }
    if (strchr(pdev, ':') && strspn(pdev, "0123456789:") == strlen(pdev)) {
        g_set_error(errp, XVS_ERROR, XVS_ERROR_INVALID,
                    "%s is not H:C:T:L", pdev);
        return false;
    }
    if (!g_ascii_strncasecmp(pdev, "naa.", 4)) {
        g_autofree char *naa = NULL;
        const char *why;
        long lun;

        if (!xen_pvscsi_ident_parse_naa(pdev, &naa, &lun, &why)) {
            g_set_error(errp, XVS_ERROR, XVS_ERROR_INVALID, "%s: %s", pdev,
                        why);
            return false;
        }
        return resolve_ident(h, pdev, NULL, naa, lun, out, errp);
    }
    if (xen_pvscsi_ident_is_wwid(pdev)) {
        return resolve_ident(h, pdev, pdev, NULL, -1, out, errp);
    }
    g_set_error(errp, XVS_ERROR, XVS_ERROR_INVALID,
                "%s: not a p-dev (a /dev path, H:C:T:L, a scsi_id WWID, "
                "naa.<hex>:<lun> or an iscsi:// URL)", pdev);
    return false;
}
