/*
 * xen-vscsi: the admin's tool for xen-pvscsi
 *
 * Resolves the physical devices an xl.cfg "vscsi = [...]" entry names,
 * turns such entries into QEMU arguments for device_model_args_hvm, and
 * hot-plugs LUNs into a running device model over QMP.
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <scsi/sg_lib.h>
#include "xen-vscsi.h"
#include "json.h"
#include "host.h"
#include "lun.h"
#include "qmp.h"
#include "source.h"
#include "hw/scsi/xen-pvscsi-hostdev.h"

#define DEFAULT_INITIATOR   "iqn.2026-11.org.qemu-xen-pvscsi:xen-vscsi"

/* Exit statuses */
#define EXIT_ERROR          1
#define EXIT_USAGE          2
#define EXIT_NOT_FOUND      3
#define EXIT_AMBIGUOUS      4

static gboolean opt_json;
static char *opt_sysfs_root;
static char *opt_dev_root;
static char *opt_source;
static char *opt_qmp;
static gboolean opt_iothread;
static char *opt_initiator;
static char *opt_pr_helper;
static int opt_timeout = 30;
static gboolean opt_keep_node;

static GOptionEntry options[] = {
    { "json", 'j', 0, G_OPTION_ARG_NONE, &opt_json,
      "Print JSON", NULL },
    { "sysfs-root", 0, 0, G_OPTION_ARG_FILENAME, &opt_sysfs_root,
      "Use DIR as /sys (a recorded tree)", "DIR" },
    { "dev-root", 0, 0, G_OPTION_ARG_FILENAME, &opt_dev_root,
      "Use DIR as /dev (a recorded tree)", "DIR" },
    { "source", 0, 0, G_OPTION_ARG_STRING, &opt_source,
      "Read INQUIRY/VPD with SG_IO (sg, the default) or from sysfs "
      "attributes (sysfs, the default with --sysfs-root)", "sg|sysfs" },
    { "qmp", 'q', 0, G_OPTION_ARG_FILENAME, &opt_qmp,
      "QMP unix socket of the running device model", "SOCKET" },
    { "iothread", 0, 0, G_OPTION_ARG_NONE, &opt_iothread,
      "Give each new xen-pvscsi host an IOThread of its own", NULL },
    { "initiator-name", 0, 0, G_OPTION_ARG_STRING, &opt_initiator,
      "iSCSI initiator name QEMU uses for iscsi:// LUNs", "IQN" },
    { "pr-manager", 0, 0, G_OPTION_ARG_FILENAME, &opt_pr_helper,
      "Persistent reservations of passed-through host LUNs through "
      "qemu-pr-helper listening on SOCKET", "SOCKET" },
    { "timeout", 't', 0, G_OPTION_ARG_INT, &opt_timeout,
      "Seconds to wait for QEMU and the guest (default 30)", "S" },
    { "keep-node", 0, 0, G_OPTION_ARG_NONE, &opt_keep_node,
      "detach: leave the LUN's block node in QEMU", NULL },
    { NULL }
};

static const char summary[] =
    "Commands:\n"
    "  resolve PDEV          the host SCSI device PDEV names, with its\n"
    "                        INQUIRY data, VPD 0x80/0x83 and scsi_id WWID\n"
    "  scan                  every SCSI device of the host\n"
    "  args SPEC...          QEMU arguments for device_model_args_hvm\n"
    "  args                  the same for a running QEMU's LUNs (--qmp):\n"
    "                        a destination's arguments, with hot-plugged LUNs\n"
    "  attach SPEC           add a LUN to a running QEMU (--qmp)\n"
    "  detach VDEV           remove a LUN from a running QEMU (--qmp)\n"
    "  list                  the LUNs of a running QEMU (--qmp)\n"
    "\n"
    "SPEC is an xl.cfg vscsi entry, 'PDEV,VDEV[,OPTIONS]':\n"
    "  PDEV  /dev/sdX, /dev/srN, /dev/stN, /dev/nstN, /dev/sgN,\n"
    "        /dev/disk/by-*/..., H:C:T:L, a scsi_id WWID,\n"
    "        naa.<hex>:<lun>, iscsi://[user%pass@]host[:port]/iqn/lun,\n"
    "        an image file\n"
    "  VDEV  H:C:T:L as the guest sees it; H is the xen-pvscsi devid\n"
    "  OPTIONS  qemu-device=scsi-block|scsi-generic|scsi-hd|scsi-cd, ro\n"
    "\n"
    "Exit status: 0 done, 1 failed, 2 usage, 3 no such device,\n"
    "4 ambiguous PDEV.";

static int fail(GError *err)
{
    int status = EXIT_ERROR;

    g_printerr("xen-vscsi: %s\n", err->message);
    if (err->domain == XVS_ERROR) {
        switch (err->code) {
        case XVS_ERROR_NOT_FOUND:
            status = EXIT_NOT_FOUND;
            break;
        case XVS_ERROR_AMBIGUOUS:
            status = EXIT_AMBIGUOUS;
            break;
        case XVS_ERROR_INVALID:
            status = EXIT_USAGE;
            break;
        }
    }
    g_error_free(err);
    return status;
}

static int usage(const char *msg)
{
    g_printerr("xen-vscsi: %s (see xen-vscsi --help)\n", msg);
    return EXIT_USAGE;
}

static void print_json(JsonNode *j)
{
    g_autofree char *s = xvs_json_to_string(j, true);

    printf("%s\n", s);
}

static char *dev_node(const char *name)
{
    return name ? g_strconcat("/dev/", name, NULL) : NULL;
}

/* ------------------------------------------------------------------ */
/* Identity records                                                    */

static JsonNode *ident_json(const XvsIdent *id)
{
    JsonNode *o = xvs_json_object();
    JsonNode *ds = xvs_json_array();
    char buf[128];

    xvs_json_set_int(o, "peripheral-qualifier", id->inq.qualifier);
    xvs_json_set_int(o, "peripheral-type", id->inq.pdt);
    xvs_json_set_str(o, "type", xvs_pdt_name(id->inq.pdt));
    sg_get_pdt_str(id->inq.pdt, sizeof(buf), buf);
    xvs_json_set_str(o, "type-description", buf);
    xvs_json_set_int(o, "scsi-level", id->inq.version);
    xvs_json_set_bool(o, "removable", id->inq.removable);
    xvs_json_set_str(o, "vendor", id->inq.have_ids ? id->inq.vendor : NULL);
    xvs_json_set_str(o, "model", id->inq.have_ids ? id->inq.model : NULL);
    xvs_json_set_str(o, "revision",
                     id->inq.have_ids ? id->inq.revision : NULL);
    xvs_json_set_str(o, "serial", id->serial);
    xvs_json_set_str(o, "wwid", id->wwid);
    for (unsigned int i = 0; i < id->desigs->len; i++) {
        const XvsDesignator *d = g_ptr_array_index(id->desigs, i);
        JsonNode *dj = xvs_json_object();

        xvs_json_set_str(dj, "association", xvs_assoc_name(d->assoc));
        xvs_json_set_str(dj, "designator-type",
                         xvs_desig_type_name(d->type));
        xvs_json_set_str(dj, "code-set", xvs_code_set_name(d->code_set));
        xvs_json_set_str(dj, "value", d->value);
        xvs_json_set_str(dj, "description", d->desc);
        xvs_json_append(ds, dj);
    }
    xvs_json_set(o, "designators", ds);
    return o;
}

static JsonNode *dev_json(const char *pdev, const XvsDev *d,
                         const char *source)
{
    JsonNode *o = ident_json(&d->ident);
    g_autofree char *sg = dev_node(d->sg);
    g_autofree char *blk = dev_node(d->block);
    g_autofree char *st = dev_node(d->tape);
    g_autofree char *nst = dev_node(d->ntape);

    xvs_json_set_str(o, "pdev", pdev);
    xvs_json_set_str(o, "hctl", d->hctl_str);
    xvs_json_set_int(o, "host", d->hctl[0]);
    xvs_json_set_int(o, "channel", d->hctl[1]);
    xvs_json_set_int(o, "target", d->hctl[2]);
    xvs_json_set_int(o, "lun", d->hctl[3]);
    xvs_json_set_str(o, "sysfs", d->sysdir);
    xvs_json_set_str(o, "sg", sg);
    xvs_json_set_str(o, "block", blk);
    xvs_json_set_str(o, "tape", st);
    xvs_json_set_str(o, "tape-norewind", nst);
    xvs_json_set_str(o, "qemu-device",
                     xen_pvscsi_host_model(d->type, d->block != NULL));
    xvs_json_set_str(o, "source", source);
    return o;
}

static void print_record(JsonNode *rec)
{
    static const char *const keys[] = {
        "pdev", "url", "hctl", "type", "sg", "block", "tape",
        "tape-norewind", "vendor", "model", "revision", "scsi-level",
        "serial", "wwid", "multipath", "paths", "qemu-device", "source",
    };
    JsonNode *ds = xvs_json_get(rec, "designators");

    for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
        g_autofree char *v = xvs_json_text(xvs_json_get(rec, keys[i]));

        if (!v) {
            continue;
        }
        if (!strcmp(keys[i], "type")) {
            int64_t pdt = 0;

            xvs_json_get_int(rec, "peripheral-type", &pdt);
            printf("%-13s %s (0x%02x)\n", "type:", v, (int)pdt);
        } else {
            g_autofree char *k = g_strconcat(keys[i], ":", NULL);

            printf("%-13s %s\n", k, v);
        }
    }
    for (unsigned int i = 0; i < xvs_json_len(ds); i++) {
        JsonNode *d = xvs_json_at(ds, i);

        printf("%-13s %s %s %s %s\n", "designator:",
               xvs_json_get_str(d, "association"),
               xvs_json_get_str(d, "designator-type"),
               xvs_json_get_str(d, "code-set"),
               xvs_json_get_str(d, "value"));
    }
}

static const char *source_name(XvsHost *h)
{
    return h->source == XVS_SOURCE_SG ? "sg" : "sysfs";
}

/* The record of any p-dev that is a SCSI device (host or iSCSI). */
static JsonNode *resolve_record(XvsHost *h, const char *pdev, GError **errp)
{
    XvsPdev p;
    JsonNode *rec;

    if (!xvs_pdev_resolve(h, pdev, true, &p, errp)) {
        return NULL;
    }
    if (p.kind == XVS_PDEV_ISCSI) {
        g_autoptr(GError) err = NULL;
        const char *init = opt_initiator ?: DEFAULT_INITIATOR;
        XvsIscsi *s = xvs_iscsi_open(pdev, init, errp);
        XvsIdent id;
        bool ok;

        if (!s) {
            xvs_pdev_clear(&p);
            return NULL;
        }
        xvs_ident_init(&id);
        ok = xvs_ident_read(xvs_iscsi_inquiry, s, &id, errp);
        xvs_iscsi_close(s);
        if (!ok) {
            xvs_ident_clear(&id);
            xvs_pdev_clear(&p);
            return NULL;
        }
        rec = ident_json(&id);
        xvs_json_set_str(rec, "pdev", pdev);
        xvs_json_set_str(rec, "url", pdev);
        xvs_json_set_str(rec, "qemu-device",
                         xen_pvscsi_host_model(id.inq.pdt,
                             xen_pvscsi_iscsi_block_node(id.inq.pdt)));
        xvs_json_set_str(rec, "multipath", NULL);
        xvs_json_set_str(rec, "paths", NULL);
        xvs_json_set_str(rec, "source", "iscsi");
        xvs_ident_clear(&id);
        xvs_pdev_clear(&p);
        return rec;
    }
    if (!xvs_dev_read_ident(h, p.dev, errp)) {
        xvs_pdev_clear(&p);
        return NULL;
    }
    rec = dev_json(pdev, p.dev, source_name(h));
    if (p.kind == XVS_PDEV_MPATH) {
        /* the LU through its multipath device; the record is one path's */
        xvs_json_set_str(rec, "multipath", p.other);
        xvs_json_set_str(rec, "paths", p.paths);
        xvs_json_set_str(rec, "qemu-device", "scsi-block");
    } else {
        xvs_json_set_str(rec, "multipath", NULL);
        xvs_json_set_str(rec, "paths", NULL);
    }
    xvs_pdev_clear(&p);
    return rec;
}

static int cmd_resolve(XvsHost *h, int argc, char **argv)
{
    g_autoptr(JsonNode) rec = NULL;
    GError *err = NULL;

    if (argc != 1) {
        return usage("resolve takes one PDEV");
    }
    rec = resolve_record(h, argv[0], &err);
    if (!rec) {
        return fail(err);
    }
    if (opt_json) {
        print_json(rec);
    } else {
        print_record(rec);
    }
    return 0;
}

static int cmd_scan(XvsHost *h, int argc, char **argv)
{
    g_autoptr(GPtrArray) devs = NULL;
    g_autoptr(JsonNode) all = xvs_json_array();
    GError *err = NULL;
    int status = 0;

    (void)argv;
    if (argc != 0) {
        return usage("scan takes no arguments");
    }
    devs = xvs_dev_scan(h, &err);
    if (!devs) {
        return fail(err);
    }
    if (!opt_json) {
        printf("%-12s %-12s %-8s %-5s %-5s %-8s %-16s %s\n", "H:C:T:L",
               "TYPE", "BLOCK", "TAPE", "SG", "VENDOR", "MODEL", "WWID");
    }
    for (unsigned int i = 0; i < devs->len; i++) {
        XvsDev *d = g_ptr_array_index(devs, i);

        if (!xvs_dev_read_ident(h, d, &err)) {
            g_printerr("xen-vscsi: %s\n", err->message);
            g_clear_error(&err);
            status = EXIT_ERROR;
        }
        if (opt_json) {
            xvs_json_append(all, dev_json(d->hctl_str, d, source_name(h)));
            continue;
        }
        printf("%-12s %-12s %-8s %-5s %-5s %-8s %-16s %s\n", d->hctl_str,
               xvs_pdt_name(d->type), d->block ?: "-", d->tape ?: "-",
               d->sg ?: "-", d->have_ident ? d->ident.inq.vendor : "?",
               d->have_ident ? d->ident.inq.model : "?",
               d->ident.wwid ?: "-");
    }
    if (opt_json) {
        print_json(all);
    }
    return status;
}

/* ------------------------------------------------------------------ */
/* args                                                                */

static XvsPlanOpts plan_opts(void)
{
    return (XvsPlanOpts) {
        .initiator = opt_initiator,
        .tool_initiator = opt_initiator ?: DEFAULT_INITIATOR,
        .iothread = opt_iothread,
        .pr_helper = opt_pr_helper,
    };
}

static void plan_free(gpointer p)
{
    xvs_lun_plan_clear(p);
    g_free(p);
}

/* Two entries must not share a virtual address or a physical device. */
static bool plans_check(GPtrArray *plans, GError **errp)
{
    for (unsigned int i = 0; i < plans->len; i++) {
        XvsLunPlan *a = g_ptr_array_index(plans, i);

        for (unsigned int j = 0; j < i; j++) {
            XvsLunPlan *b = g_ptr_array_index(plans, j);

            if (!memcmp(a->spec.vdev, b->spec.vdev, sizeof(a->spec.vdev))) {
                g_set_error(errp, XVS_ERROR, XVS_ERROR_INVALID,
                            "'%s' and '%s' use the same vdev", b->spec.text,
                            a->spec.text);
                return false;
            }
            if (a->pdev.dev && b->pdev.dev &&
                !strcmp(a->pdev.dev->hctl_str, b->pdev.dev->hctl_str)) {
                g_set_error(errp, XVS_ERROR, XVS_ERROR_INVALID,
                            "'%s' and '%s' are the same device (%s)",
                            b->spec.text, a->spec.text,
                            a->pdev.dev->hctl_str);
                return false;
            }
        }
    }
    return true;
}

/* xl.cfg string: double quotes, backslash escapes */
static void xl_quote(GString *s, const char *v)
{
    g_string_append_c(s, '"');
    for (; *v; v++) {
        if (*v == '"' || *v == '\\') {
            g_string_append_c(s, '\\');
        }
        g_string_append_c(s, *v);
    }
    g_string_append_c(s, '"');
}

static XvsQmp *qmp_open(GError **errp);
static JsonNode *qmp_query_hosts(XvsQmp **qp, GError **errp);

/* The block node named @name in query-named-block-nodes' answer */
static JsonNode *find_node(JsonNode *nodes, const char *name)
{
    for (unsigned int i = 0; i < xvs_json_len(nodes); i++) {
        JsonNode *n = xvs_json_at(nodes, i);

        if (!g_strcmp0(xvs_json_get_str(n, "node-name"), name)) {
            return n;
        }
    }
    return NULL;
}

/*
 * args with --qmp and no entries: the running device model's LUNs as
 * entries ("FILE,VDEV,qemu-device=TYPE[,ro]"), and each host's options
 * into o->hba_extra, so that a destination (xl migrate -C, xl restore
 * CONFIG) can be started with the LUNs hot-plugged since the domain was
 * created.  A LUN whose block node is not a raw image, a host device or an
 * iSCSI LUN cannot be written back this way: an error names it.
 */
static GStrv current_entries(XvsPlanOpts *o, GError **errp)
{
    g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(JsonNode) hosts = NULL;
    g_autoptr(JsonNode) nodes = NULL;
    g_autoptr(JsonNode) flat = xvs_json_object();
    XvsQmp *q = NULL;

    hosts = qmp_query_hosts(&q, errp);
    if (hosts) {
        xvs_json_set_bool(flat, "flat", true);
        nodes = xvs_qmp_cmd(q, "query-named-block-nodes",
                            g_steal_pointer(&flat), errp);
    }
    if (!hosts || !nodes) {
        xvs_qmp_close(q);
        return NULL;
    }
    o->hba_extra = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    o->hba_iothread = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    for (unsigned int i = 0; i < xvs_json_len(hosts); i++) {
        JsonNode *hj = xvs_json_at(hosts, i);
        JsonNode *luns = xvs_json_get(hj, "luns");
        g_autoptr(GString) extra = g_string_new("");
        g_autoptr(JsonNode) qa = xvs_json_object();
        g_autoptr(JsonNode) mp = NULL;
        double gmt, rct;
        const char *io = xvs_json_get_str(hj, "iothread");
        int64_t devid = 0, sg = 0, rt = 0;

        xvs_json_get_int(hj, "devid", &devid);
        xvs_json_get_int(hj, "max-sg-grant", &sg);
        xvs_json_get_int(hj, "request-timeout", &rt);
        g_string_append_printf(extra, "max-sg-grant=%" G_GINT64_FORMAT,
                               (gint64)sg);
        if (rt) {
            g_string_append_printf(extra,
                                   ",request-timeout=%" G_GINT64_FORMAT,
                                   (gint64)rt);
        }
        xvs_json_set_str(qa, "path", xvs_json_get_str(hj, "qdev"));
        xvs_json_set_str(qa, "property", "migrate-passthrough");
        mp = xvs_qmp_cmd(q, "qom-get", g_steal_pointer(&qa), NULL);
        if (xvs_json_is_true(mp)) {
            g_string_append(extra, ",migrate-passthrough=on");
        }
        qa = xvs_json_object();
        xvs_json_set_str(qa, "path", xvs_json_get_str(hj, "qdev"));
        xvs_json_set_str(qa, "property", "grant-map-threshold");
        g_clear_pointer(&mp, json_node_unref);
        mp = xvs_qmp_cmd(q, "qom-get", g_steal_pointer(&qa), NULL);
        if (xvs_json_number(mp, &gmt) && gmt > 0) {
            g_string_append_printf(extra, ",grant-map-threshold=%.0f", gmt);
        }
        qa = xvs_json_object();
        xvs_json_set_str(qa, "path", xvs_json_get_str(hj, "qdev"));
        xvs_json_set_str(qa, "property", "reconfigure-timeout");
        g_clear_pointer(&mp, json_node_unref);
        mp = xvs_qmp_cmd(q, "qom-get", g_steal_pointer(&qa), NULL);
        /* 60: the device's default (XEN_PVSCSI_DEFAULT_RECONFIGURE_TIMEOUT) */
        if (xvs_json_number(mp, &rct) && rct != 60) {
            g_string_append_printf(extra, ",reconfigure-timeout=%.0f", rct);
        }
        if (io && !o->iothread) {       /* --iothread: the tool's own */
            g_autofree char *own = xvs_iothread_id(devid);

            g_string_append_printf(extra, ",iothread=%s", io);
            g_hash_table_insert(o->hba_iothread, GUINT_TO_POINTER(devid),
                                g_strdup(io));
            if (strcmp(io, own)) {
                g_printerr("xen-vscsi: host %" G_GINT64_FORMAT " runs in "
                           "IOThread '%s': the destination needs that "
                           "object too\n",
                           (gint64)devid, io);
            }
        }
        g_hash_table_insert(o->hba_extra, GUINT_TO_POINTER(devid),
                            g_string_free(g_steal_pointer(&extra), false));
        for (unsigned int k = 0; k < xvs_json_len(luns); k++) {
            JsonNode *l = xvs_json_at(luns, k);
            const char *file = xvs_json_get_str(l, "filename");
            const char *node = xvs_json_get_str(l, "node-name");
            const char *vdev = xvs_json_get_str(l, "vdev");
            JsonNode *n = node ? find_node(nodes, node) : NULL;
            const char *drv = n ? xvs_json_get_str(n, "drv") : NULL;
            JsonNode *ro = n ? xvs_json_get(n, "ro") : NULL;

            if (!g_strcmp0(xvs_json_get_str(l, "state"), "closed")) {
                continue;
            }
            if (!file || !drv ||
                (strcmp(drv, "raw") && strcmp(drv, "file") &&
                 strcmp(drv, "host_device") && strcmp(drv, "host_cdrom") &&
                 strcmp(drv, "iscsi")) || strchr(file, ',')) {
                g_set_error(errp, XVS_ERROR, XVS_ERROR_INVALID,
                            "LUN %s (%s): its block node '%s' (driver %s, "
                            "file %s) is not a raw image, host device or "
                            "iSCSI LUN; write its arguments by hand", vdev,
                            xvs_json_get_str(l, "type"), node ?: "-",
                            drv ?: "-", file ?: "-");
                xvs_qmp_close(q);
                return NULL;
            }
            g_ptr_array_add(out, g_strdup_printf(
                "%s,%s,qemu-device=%s%s", file, vdev,
                xvs_json_get_str(l, "type"),
                xvs_json_is_true(ro) &&
                strcmp(xvs_json_get_str(l, "type"), "scsi-cd") ? ",ro" : ""));
        }
    }
    xvs_qmp_close(q);
    g_ptr_array_add(out, NULL);
    return (GStrv)g_ptr_array_free(g_steal_pointer(&out), false);
}

static int cmd_args(XvsHost *h, int argc, char **argv)
{
    g_autoptr(GPtrArray) plans = g_ptr_array_new_with_free_func(plan_free);
    g_autoptr(GPtrArray) args = NULL;
    XvsPlanOpts o = plan_opts();
    g_auto(GStrv) current = NULL;
    GError *err = NULL;

    if (argc < 1 && opt_qmp) {
        current = current_entries(&o, &err);
        if (!current) {
            return fail(err);
        }
        argc = g_strv_length(current);
        argv = current;
        if (!argc) {
            g_set_error(&err, XVS_ERROR, XVS_ERROR_NOT_FOUND,
                        "the device model has no xen-pvscsi LUN");
            return fail(err);
        }
    } else if (argc < 1) {
        return usage("args needs at least one 'pdev,vdev[,options]'");
    }
    for (int i = 0; i < argc; i++) {
        XvsLunPlan *p = g_new0(XvsLunPlan, 1);

        g_ptr_array_add(plans, p);
        if (!xvs_lun_plan(h, argv[i], &o, p, &err)) {
            return fail(err);
        }
    }
    if (!plans_check(plans, &err)) {
        return fail(err);
    }
    args = xvs_args_build(plans, &o);
    g_clear_pointer(&o.hba_extra, g_hash_table_destroy);
    g_clear_pointer(&o.hba_iothread, g_hash_table_destroy);
    if (opt_json) {
        g_autoptr(JsonNode) a = xvs_json_array();

        for (unsigned int i = 0; i < args->len; i++) {
            xvs_json_append(a, xvs_json_string(g_ptr_array_index(args, i)));
        }
        print_json(a);
    } else {
        g_autoptr(GString) s = g_string_new("device_model_args_hvm = [\n");

        for (unsigned int i = 0; i < args->len; i += 2) {
            g_string_append(s, "    ");
            xl_quote(s, g_ptr_array_index(args, i));
            g_string_append(s, ", ");
            xl_quote(s, g_ptr_array_index(args, i + 1));
            g_string_append(s, ",\n");
        }
        g_string_append(s, "]\n");
        fputs(s->str, stdout);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* QMP commands                                                        */

static XvsQmp *qmp_open(GError **errp)
{
    if (!opt_qmp) {
        g_set_error(errp, XVS_ERROR, XVS_ERROR_INVALID,
                    "this command needs --qmp SOCKET");
        return NULL;
    }
    return xvs_qmp_connect(opt_qmp, opt_timeout * 1000, errp);
}

/* Connect to --qmp and return query-xen-pvscsi's answer; *qp stays open. */
static JsonNode *qmp_query_hosts(XvsQmp **qp, GError **errp)
{
    *qp = qmp_open(errp);
    return *qp ? xvs_qmp_cmd(*qp, "query-xen-pvscsi", NULL, errp) : NULL;
}

static JsonNode *find_host(JsonNode *hosts, unsigned int devid)
{
    for (unsigned int i = 0; i < xvs_json_len(hosts); i++) {
        JsonNode *hj = xvs_json_at(hosts, i);
        int64_t d;

        if (xvs_json_get_int(hj, "devid", &d) && d == devid) {
            return hj;
        }
    }
    return NULL;
}

static JsonNode *find_lun(JsonNode *host, const unsigned int v[4])
{
    JsonNode *luns = xvs_json_get(host, "luns");

    for (unsigned int i = 0; i < xvs_json_len(luns); i++) {
        JsonNode *l = xvs_json_at(luns, i);
        int64_t c, t, n;

        if (xvs_json_get_int(l, "channel", &c) && c == v[1] &&
            xvs_json_get_int(l, "target", &t) && t == v[2] &&
            xvs_json_get_int(l, "lun", &n) && n == v[3] &&
            g_strcmp0(xvs_json_get_str(l, "state"), "closed")) {
            return l;
        }
    }
    return NULL;
}

static bool qmp_do(XvsQmp *q, const char *cmd, JsonNode *args, GError **errp)
{
    g_autoptr(JsonNode) r = xvs_qmp_cmd(q, cmd, args, errp);

    return r != NULL;
}

/* /objects/@id exists in QEMU (a failed lookup answers no) */
static bool qmp_has_object(XvsQmp *q, const char *id)
{
    JsonNode *args = xvs_json_object();
    g_autoptr(JsonNode) l = NULL;

    xvs_json_set_str(args, "path", "/objects");
    l = xvs_qmp_cmd(q, "qom-list", args, NULL);
    for (unsigned int i = 0; i < xvs_json_len(l); i++) {
        if (!g_strcmp0(xvs_json_get_str(xvs_json_at(l, i), "name"), id)) {
            return true;
        }
    }
    return false;
}

static int cmd_attach(XvsHost *h, int argc, char **argv)
{
    g_autofree char *spec = NULL;
    XvsLunPlan p;
    XvsPlanOpts o = plan_opts();
    XvsQmp *q = NULL;
    g_autoptr(JsonNode) hosts = NULL;
    JsonNode *host, *args;
    g_autofree char *hba = NULL;
    unsigned int devid;
    GError *err = NULL;
    int status = 0;

    if (argc == 1) {
        spec = g_strdup(argv[0]);
    } else if (argc == 2) {
        spec = g_strdup_printf("%s,%s", argv[0], argv[1]);
    } else {
        return usage("attach takes 'pdev,vdev[,options]' (or PDEV VDEV)");
    }
    if (!xvs_lun_plan(h, spec, &o, &p, &err)) {
        xvs_lun_plan_clear(&p);
        return fail(err);
    }
    devid = p.spec.vdev[0];
    hosts = qmp_query_hosts(&q, &err);
    if (!hosts) {
        goto out;
    }
    host = find_host(hosts, devid);
    if (host) {
        const char *id = xvs_json_get_str(host, "id");
        JsonNode *l = find_lun(host, p.spec.vdev);

        if (!id) {
            g_set_error(&err, XVS_ERROR, XVS_ERROR_FAILED,
                        "xen-pvscsi host %u (%s) has no id, so its bus "
                        "cannot be named", devid,
                        xvs_json_get_str(host, "qdev"));
            goto out;
        }
        if (l) {
            g_set_error(&err, XVS_ERROR, XVS_ERROR_INVALID,
                        "vdev %u:%u:%u:%u is in use (%s, %s)", devid,
                        p.spec.vdev[1], p.spec.vdev[2], p.spec.vdev[3],
                        xvs_json_get_str(l, "qdev"),
                        xvs_json_get_str(l, "pdev"));
            goto out;
        }
        hba = g_strdup(id);
        /* The LUN goes on that host's bus, whatever its id */
        for (unsigned int i = 0; i < p.device->len; i++) {
            XvsOpt *bus = g_ptr_array_index(p.device, i);

            if (!strcmp(bus->key, "bus")) {
                g_free(bus->value);
                bus->value = g_strdup_printf("%s.0", hba);
            }
        }
    } else {
        g_autoptr(GPtrArray) hopts = xvs_hba_opts(devid, &o);

        if (o.iothread) {
            g_autofree char *io = xvs_iothread_id(devid);

            args = xvs_json_object();
            xvs_json_set_str(args, "qom-type", "iothread");
            xvs_json_set_str(args, "id", io);
            if (!qmp_do(q, "object-add", args, &err)) {
                goto out;
            }
        }
        args = xvs_opts_qmp(hopts);
        xvs_json_set_str(args, "driver", "xen-pvscsi");
        if (!qmp_do(q, "device_add", args, &err)) {
            goto out;
        }
        hba = xvs_hba_id(devid);
        printf("created xen-pvscsi host %u (%s)\n", devid, hba);
    }
    if (xvs_plan_uses_pr(&p) && !qmp_has_object(q, XVS_PR_MANAGER_ID)) {
        args = xvs_json_object();
        xvs_json_set_str(args, "qom-type", "pr-manager-helper");
        xvs_json_set_str(args, "id", XVS_PR_MANAGER_ID);
        xvs_json_set_str(args, "path", o.pr_helper);
        if (!qmp_do(q, "object-add", args, &err)) {
            goto out;
        }
    }
    if (p.secret) {
        args = xvs_opts_qmp(p.secret);
        xvs_json_set_str(args, "qom-type", "secret");
        if (!qmp_do(q, "object-add", args, &err)) {
            goto out;
        }
    }
    if (!qmp_do(q, "blockdev-add", xvs_opts_qmp(p.blockdev), &err)) {
        goto out;
    }
    args = xvs_opts_qmp(p.device);
    xvs_json_set_str(args, "driver", p.model);
    if (!qmp_do(q, "device_add", args, &err)) {
        GError *undo = NULL;

        args = xvs_json_object();
        xvs_json_set_str(args, "node-name", p.node);
        if (!qmp_do(q, "blockdev-del", args, &undo)) {
            g_printerr("xen-vscsi: %s\n", undo->message);
            g_error_free(undo);
        }
        goto out;
    }
    printf("attached %s as %u:%u:%u:%u (%s %s, node %s)\n", p.spec.pdev,
           devid, p.spec.vdev[1], p.spec.vdev[2], p.spec.vdev[3], p.model,
           p.id, p.node);

out:
    if (err) {
        status = fail(err);
    }
    xvs_qmp_close(q);
    xvs_lun_plan_clear(&p);
    return status;
}

typedef struct DeletedMatch {
    const char *id;
    const char *path;
} DeletedMatch;

static gboolean deleted_match(JsonNode *data, gpointer opaque)
{
    DeletedMatch *m = opaque;

    return (m->id && !g_strcmp0(xvs_json_get_str(data, "device"), m->id)) ||
           !g_strcmp0(xvs_json_get_str(data, "path"), m->path);
}

static int cmd_detach(XvsHost *h, int argc, char **argv)
{
    unsigned int v[4];
    XvsQmp *q = NULL;
    g_autoptr(JsonNode) hosts = NULL;
    JsonNode *host, *lun, *args;
    g_autofree char *our_node = NULL;
    g_autofree char *id = NULL;
    g_autofree char *path = NULL;
    g_autofree char *node = NULL;
    DeletedMatch m;
    GError *err = NULL;
    int status = 0;

    (void)h;
    if (argc != 1 || !xvs_parse_hctl(argv[0], v)) {
        return usage("detach takes the LUN's virtual H:C:T:L");
    }
    hosts = qmp_query_hosts(&q, &err);
    if (!hosts) {
        goto out;
    }
    host = find_host(hosts, v[0]);
    lun = host ? find_lun(host, v) : NULL;
    if (!lun) {
        g_set_error(&err, XVS_ERROR, XVS_ERROR_NOT_FOUND,
                    "no LUN %s in this device model", argv[0]);
        goto out;
    }
    id = g_strdup(xvs_json_get_str(lun, "id"));
    path = g_strdup(xvs_json_get_str(lun, "qdev"));
    node = g_strdup(xvs_json_get_str(lun, "node-name"));
    our_node = xvs_lun_node(v);

    args = xvs_json_object();
    xvs_json_set_str(args, "id", id ? id : path);
    if (!qmp_do(q, "device_del", args, &err)) {
        goto out;
    }
    m = (DeletedMatch) { .id = id, .path = path };
    if (!xvs_qmp_wait_event(q, "DEVICE_DELETED", deleted_match, &m,
                            opt_timeout * 1000, &err)) {
        g_prefix_error(&err, "LUN %s: removal requested, but the guest did "
                       "not release it within %d s (it goes when the guest "
                       "acknowledges or disconnects): ", argv[0],
                       opt_timeout);
        goto out;
    }
    if (node && !strcmp(node, our_node) && !opt_keep_node) {
        g_autofree char *sid = g_strdup_printf("%s-secret", node);
        GError *ignored = NULL;

        args = xvs_json_object();
        xvs_json_set_str(args, "node-name", node);
        if (!qmp_do(q, "blockdev-del", args, &err)) {
            goto out;
        }
        /* A CHAP secret of ours, if the LUN had one */
        args = xvs_json_object();
        xvs_json_set_str(args, "id", sid);
        if (!qmp_do(q, "object-del", args, &ignored)) {
            g_error_free(ignored);
        }
    }
    printf("detached %s (%s)\n", argv[0], id ? id : path);

out:
    if (err) {
        status = fail(err);
    }
    xvs_qmp_close(q);
    return status;
}

/* The host side of a LUN QEMU reports, when it is a SCSI device. */
static void list_physical(XvsHost *h, JsonNode *rec, const char *filename)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(JsonNode) phys = NULL;

    if (!filename || (!g_str_has_prefix(filename, "/dev/") &&
                      !g_str_has_prefix(filename, "iscsi://"))) {
        return;
    }
    phys = resolve_record(h, filename, &err);
    if (!phys) {
        g_printerr("xen-vscsi: warning: %s\n", err->message);
        return;
    }
    xvs_json_set_str(rec, "physical",
                     xvs_json_get_str(phys, "hctl") ?:
                     xvs_json_get_str(phys, "url"));
    xvs_json_set_str(rec, "sg", xvs_json_get_str(phys, "sg"));
    xvs_json_set_str(rec, "scsi-id", xvs_json_get_str(phys, "wwid"));
    xvs_json_set_str(rec, "serial", xvs_json_get_str(phys, "serial"));
}

static int cmd_list(XvsHost *h, int argc, char **argv)
{
    XvsQmp *q = NULL;
    g_autoptr(JsonNode) hosts = NULL;
    g_autoptr(JsonNode) out = xvs_json_array();
    GError *err = NULL;

    (void)argv;
    if (argc != 0) {
        return usage("list takes no arguments");
    }
    hosts = qmp_query_hosts(&q, &err);
    xvs_qmp_close(q);
    if (!hosts) {
        return fail(err);
    }
    for (unsigned int i = 0; i < xvs_json_len(hosts); i++) {
        JsonNode *hj = xvs_json_at(hosts, i);
        JsonNode *luns = xvs_json_get(hj, "luns");
        int64_t devid = 0;

        xvs_json_get_int(hj, "devid", &devid);
        for (unsigned int k = 0; k < xvs_json_len(luns); k++) {
            JsonNode *l = xvs_json_at(luns, k);
            JsonNode *rec = xvs_json_object();
            int64_t c = 0, t = 0, n = 0, pdt = 0;
            g_autofree char *vdev = NULL;

            xvs_json_get_int(l, "channel", &c);
            xvs_json_get_int(l, "target", &t);
            xvs_json_get_int(l, "lun", &n);
            xvs_json_get_int(l, "peripheral-type", &pdt);
            vdev = g_strdup_printf("%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT
                                   ":%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT,
                                   (gint64)devid, (gint64)c, (gint64)t,
                                   (gint64)n);
            xvs_json_set_str(rec, "vdev", vdev);
            xvs_json_set_str(rec, "host-id", xvs_json_get_str(hj, "id"));
            xvs_json_set_str(rec, "state", xvs_json_get_str(l, "state"));
            xvs_json_set_str(rec, "qemu-device", xvs_json_get_str(l, "type"));
            xvs_json_set_str(rec, "id", xvs_json_get_str(l, "id"));
            xvs_json_set_int(rec, "peripheral-type", pdt);
            xvs_json_set_str(rec, "type", xvs_pdt_name(pdt));
            xvs_json_set_str(rec, "vendor", xvs_json_get_str(l, "vendor"));
            xvs_json_set_str(rec, "model", xvs_json_get_str(l, "model"));
            xvs_json_set_str(rec, "revision",
                             xvs_json_get_str(l, "revision"));
            xvs_json_set_str(rec, "pdev", xvs_json_get_str(l, "pdev"));
            xvs_json_set_str(rec, "node-name",
                             xvs_json_get_str(l, "node-name"));
            xvs_json_set_str(rec, "filename",
                             xvs_json_get_str(l, "filename"));
            xvs_json_set(rec, "physical", xvs_json_null());
            xvs_json_set(rec, "sg", xvs_json_null());
            xvs_json_set(rec, "scsi-id", xvs_json_null());
            xvs_json_set(rec, "serial", xvs_json_null());
            list_physical(h, rec, xvs_json_get_str(l, "filename"));
            xvs_json_append(out, rec);
        }
    }
    if (opt_json) {
        print_json(out);
        return 0;
    }
    printf("%-10s %-13s %-12s %-8s %-8s %-16s %-4s %-10s %-5s %s\n",
           "VDEV", "STATE", "DEVICE", "TYPE", "VENDOR", "MODEL", "REV",
           "PHYSICAL", "SG", "SCSI_ID");
    for (unsigned int i = 0; i < xvs_json_len(out); i++) {
        JsonNode *r = xvs_json_at(out, i);
        const char *phys = xvs_json_get_str(r, "physical");

        printf("%-10s %-13s %-12s %-8s %-8s %-16s %-4s %-10s %-5s %s\n",
               xvs_json_get_str(r, "vdev"), xvs_json_get_str(r, "state"),
               xvs_json_get_str(r, "qemu-device"),
               xvs_json_get_str(r, "type"),
               xvs_json_get_str(r, "vendor") ?: "-",
               xvs_json_get_str(r, "model") ?: "-",
               xvs_json_get_str(r, "revision") ?: "-",
               phys && !g_str_has_prefix(phys, "iscsi://") ? phys :
               phys ? "iscsi" : "-",
               xvs_json_get_str(r, "sg") ?: "-",
               xvs_json_get_str(r, "scsi-id") ?: "-");
    }
    return 0;
}

/* ------------------------------------------------------------------ */

static const struct {
    const char *name;
    int (*fn)(XvsHost *h, int argc, char **argv);
} commands[] = {
    { "resolve", cmd_resolve },
    { "scan", cmd_scan },
    { "args", cmd_args },
    { "attach", cmd_attach },
    { "detach", cmd_detach },
    { "list", cmd_list },
};

int main(int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx =
        g_option_context_new("COMMAND [ARGUMENTS] - xen-pvscsi admin tool");
    g_autoptr(GError) err = NULL;
    XvsHost host = { 0 };
    int status = EXIT_USAGE;

    g_option_context_add_main_entries(ctx, options, NULL);
    g_option_context_set_description(ctx, summary);
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        return usage(err->message);
    }
    if (argc < 2) {
        return usage("no command");
    }
    if (opt_timeout <= 0) {
        return usage("--timeout must be positive");
    }
    if (opt_pr_helper && (!g_path_is_absolute(opt_pr_helper) ||
                          strchr(opt_pr_helper, ','))) {
        return usage("--pr-manager takes an absolute path without commas");
    }
    host.sysfs_root = opt_sysfs_root;
    host.dev_root = opt_dev_root;
    host.recorded_dev = opt_dev_root != NULL;
    host.source = opt_sysfs_root ? XVS_SOURCE_SYSFS : XVS_SOURCE_SG;
    if (opt_source) {
        if (!strcmp(opt_source, "sg")) {
            host.source = XVS_SOURCE_SG;
        } else if (!strcmp(opt_source, "sysfs")) {
            host.source = XVS_SOURCE_SYSFS;
        } else {
            return usage("--source is sg or sysfs");
        }
    }
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (!strcmp(argv[1], commands[i].name)) {
            status = commands[i].fn(&host, argc - 2, argv + 2);
            goto out;
        }
    }
    usage("unknown command");
out:
    fflush(stdout);
    return status;
}
