/*
 * xen-vscsi: from an xl.cfg vscsi entry to QEMU's configuration
 *
 * "pdev,vdev[,options]" becomes a -blockdev for the physical device and a
 * SCSI device on the bus of the xen-pvscsi whose devid is the virtual
 * host number: scsi-block for a disk or CD (the guest sees the device's
 * own INQUIRY, VPD and sense; I/O through QEMU's block layer),
 * scsi-generic for a tape, changer or any other type (every command
 * passed through), scsi-hd or scsi-cd when asked.
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#include <stdarg.h>
#include <string.h>
#include <iscsi/iscsi.h>
#include "xen-vscsi.h"
#include "lun.h"
#include "source.h"
#include "hw/scsi/xen-pvscsi-hostdev.h"

static void opt_free(gpointer p)
{
    XvsOpt *o = p;

    g_free(o->key);
    g_free(o->value);
    g_free(o);
}

GPtrArray *xvs_opts_new(void)
{
    return g_ptr_array_new_with_free_func(opt_free);
}

void xvs_opt_add(GPtrArray *opts, const char *key, XvsOptKind kind,
                 const char *fmt, ...)
{
    XvsOpt *o = g_new0(XvsOpt, 1);
    va_list ap;

    va_start(ap, fmt);
    o->key = g_strdup(key);
    o->value = g_strdup_vprintf(fmt, ap);
    o->kind = kind;
    va_end(ap);
    g_ptr_array_add(opts, o);
}

char *xvs_opts_cmdline(const char *first, GPtrArray *opts)
{
    GString *s = g_string_new(first);

    for (unsigned int i = 0; i < opts->len; i++) {
        const XvsOpt *o = g_ptr_array_index(opts, i);

        if (s->len) {
            g_string_append_c(s, ',');
        }
        g_string_append_printf(s, "%s=", o->key);
        for (const char *p = o->value; *p; p++) {
            if (*p == ',') {
                g_string_append_c(s, ',');
            }
            g_string_append_c(s, *p);
        }
    }
    return g_string_free(s, false);
}

JsonNode *xvs_opts_qmp(GPtrArray *opts)
{
    JsonNode *root = xvs_json_object();

    for (unsigned int i = 0; i < opts->len; i++) {
        const XvsOpt *o = g_ptr_array_index(opts, i);
        g_auto(GStrv) parts = g_strsplit(o->key, ".", -1);
        JsonNode *obj = root;
        JsonNode *v;
        int n = g_strv_length(parts);

        for (int k = 0; k < n - 1; k++) {
            JsonNode *sub = xvs_json_get(obj, parts[k]);

            if (!sub) {
                sub = xvs_json_object();
                xvs_json_set(obj, parts[k], sub);
            }
            obj = sub;
        }
        switch (o->kind) {
        case XVS_OPT_BOOL:
            v = xvs_json_bool(!strcmp(o->value, "on"));
            break;
        case XVS_OPT_INT:
            v = xvs_json_int(g_ascii_strtoll(o->value, NULL, 10));
            break;
        default:
            v = xvs_json_string(o->value);
        }
        xvs_json_set(obj, parts[n - 1], v);
    }
    return root;
}

/* ------------------------------------------------------------------ */
/* Names                                                               */

char *xvs_hba_id(unsigned int devid)
{
    return g_strdup_printf("vscsi%u", devid);
}

char *xvs_iothread_id(unsigned int devid)
{
    return g_strdup_printf("vscsi%u-iothread", devid);
}

char *xvs_lun_id(const unsigned int v[4])
{
    return g_strdup_printf("vscsi%u-%u-%u-%u", v[0], v[1], v[2], v[3]);
}

char *xvs_lun_node(const unsigned int v[4])
{
    return g_strdup_printf("vscsi%u-%u-%u-%u-blk", v[0], v[1], v[2], v[3]);
}

GPtrArray *xvs_hba_opts(unsigned int devid, const XvsPlanOpts *o)
{
    GPtrArray *opts = xvs_opts_new();
    g_autofree char *id = xvs_hba_id(devid);

    xvs_opt_add(opts, "id", XVS_OPT_STR, "%s", id);
    xvs_opt_add(opts, "devid", XVS_OPT_INT, "%u", devid);
    if (o->iothread) {
        g_autofree char *io = xvs_iothread_id(devid);

        xvs_opt_add(opts, "iothread", XVS_OPT_STR, "%s", io);
    }
    return opts;
}

/* ------------------------------------------------------------------ */
/* Specs                                                               */

void xvs_lun_spec_clear(XvsLunSpec *s)
{
    g_free(s->text);
    g_free(s->pdev);
    g_free(s->model);
    memset(s, 0, sizeof(*s));
}

bool xvs_lun_spec_parse(const char *text, XvsLunSpec *out, GError **errp)
{
    g_auto(GStrv) f = g_strsplit(text, ",", -1);
    unsigned int *v = out->vdev;

    memset(out, 0, sizeof(*out));
    out->text = g_strdup(text);
    if (g_strv_length(f) < 2) {
        g_set_error(errp, XVS_ERROR, XVS_ERROR_INVALID,
                    "'%s': expected 'pdev,vdev[,options]'", text);
        return false;
    }
    out->pdev = g_strstrip(g_strdup(f[0]));
    g_strstrip(f[1]);
    if (!xvs_parse_hctl(f[1], v)) {
        g_set_error(errp, XVS_ERROR, XVS_ERROR_INVALID,
                    "'%s': vdev '%s' is not H:C:T:L", text, f[1]);
        return false;
    }
    if (v[1] > XVS_MAX_CHANNEL || v[2] > XVS_MAX_TARGET ||
        v[3] > XVS_MAX_LUN || v[0] > G_MAXUINT16) {
        g_set_error(errp, XVS_ERROR, XVS_ERROR_INVALID,
                    "'%s': vdev %s out of range (host 0..65535, channel "
                    "0..%d, target 0..%d, LUN 0..%d)", text, f[1],
                    XVS_MAX_CHANNEL, XVS_MAX_TARGET, XVS_MAX_LUN);
        return false;
    }
    for (int i = 2; f[i]; i++) {
        const char *o = g_strstrip(f[i]);

        if (g_str_has_prefix(o, "qemu-device=")) {
            const char *m = o + strlen("qemu-device=");

            if (!xen_pvscsi_model_known(m)) {
                g_set_error(errp, XVS_ERROR, XVS_ERROR_INVALID,
                            "'%s': qemu-device must be scsi-block, "
                            "scsi-generic, scsi-hd or scsi-cd", text);
                return false;
            }
            g_free(out->model);
            out->model = g_strdup(m);
        } else if (!strcmp(o, "ro")) {
            out->ro = true;
        } else if (!strcmp(o, "feature-host")) {
            g_set_error(errp, XVS_ERROR, XVS_ERROR_INVALID,
                        "'%s': feature-host (raw commands to the host "
                        "adapter) is a xen-scsiback mode; xen-pvscsi "
                        "passes commands through with scsi-generic instead "
                        "(qemu-device=scsi-generic)", text);
            return false;
        } else {
            g_set_error(errp, XVS_ERROR, XVS_ERROR_INVALID,
                        "'%s': unknown option '%s' (known: "
                        "qemu-device=MODEL, ro)", text, o);
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* Plans                                                               */

void xvs_lun_plan_clear(XvsLunPlan *p)
{
    xvs_lun_spec_clear(&p->spec);
    xvs_pdev_clear(&p->pdev);
    g_free(p->node);
    g_free(p->id);
    if (p->blockdev) {
        g_ptr_array_free(p->blockdev, true);
    }
    if (p->device) {
        g_ptr_array_free(p->device, true);
    }
    if (p->secret) {
        g_ptr_array_free(p->secret, true);
    }
    memset(p, 0, sizeof(*p));
}

static bool plan_host_scsi(XvsHost *h, XvsLunPlan *p, const XvsPlanOpts *o,
                           GError **errp)
{
    XvsDev *d = p->pdev.dev;
    const char *m = p->spec.model;
    const char *node;
    g_autofree char *path = NULL;

    p->pdt = d->type;
    if (!m) {
        m = xen_pvscsi_host_model(d->type, d->block != NULL);
    }
    p->model = m;
    if (xen_pvscsi_model_uses_sg(m)) {
        if (!d->sg) {
            g_set_error(errp, XVS_ERROR, XVS_ERROR_FAILED,
                        "'%s': %s has no /dev/sg node (is the sg module "
                        "loaded?)", p->spec.text, d->hctl_str);
            return false;
        }
        node = d->sg;
    } else {
        if (!d->block) {
            g_set_error(errp, XVS_ERROR, XVS_ERROR_FAILED,
                        "'%s': %s (a %s) has no block node for %s",
                        p->spec.text, d->hctl_str, xvs_pdt_name(d->type),
                        m);
            return false;
        }
        node = d->block;
    }
    /*
     * The arguments go into a domain's configuration: a name that keeps
     * naming this LUN when the host's SCSI numbering changes (a reboot, a
     * hot-plug), where udev made one: the admin's own if it names the
     * node QEMU opens, else the best there is.
     */
    path = xvs_dev_link_of(h, p->spec.pdev, node);
    if (!path) {
        path = xvs_dev_stable_path(h, node);
    }
    if (!path) {
        path = g_strconcat("/dev/", node, NULL);
        g_printerr("xen-vscsi: warning: '%s': %s has no stable name under "
                   "/dev/disk or /dev/tape; %s may name another device "
                   "once the host's SCSI numbering changes\n",
                   p->spec.text, path, path);
    }
    xvs_opt_add(p->blockdev, "driver", XVS_OPT_STR, "host_device");
    xvs_opt_add(p->blockdev, "node-name", XVS_OPT_STR, "%s", p->node);
    xvs_opt_add(p->blockdev, "filename", XVS_OPT_STR, "%s", path);
    if (!xen_pvscsi_model_uses_sg(m)) {
        xvs_opt_add(p->blockdev, "cache.direct", XVS_OPT_BOOL, "on");
    }
    /*
     * Persistent reservations of a passed-through LUN through
     * qemu-pr-helper (privileged, and on every path of a multipath
     * device); an emulated LUN (scsi-hd) answers them itself.
     */
    if (o->pr_helper && (!strcmp(m, "scsi-block") ||
                         !strcmp(m, "scsi-generic"))) {
        xvs_opt_add(p->blockdev, "pr-manager", XVS_OPT_STR,
                    XVS_PR_MANAGER_ID);
    }
    return true;
}

/*
 * A dm-multipath device: scsi-block on it (Linux passes SG_IO on a
 * multipath device to its current path), so that the guest sees one LUN
 * with the LU's own identity and the host's multipathing carries on below
 * it; scsi-hd if asked.  scsi-generic needs an sg node, which a multipath
 * device has none of.
 */
static bool plan_mpath(XvsHost *h, XvsLunPlan *p, const XvsPlanOpts *o,
                       GError **errp)
{
    XvsDev *d = p->pdev.dev;
    const char *m = p->spec.model;
    g_autofree char *path = xvs_dev_link_of(h, p->spec.pdev,
                                            p->pdev.other + 5);

    p->pdt = d->type;
    if (!m) {
        m = xen_pvscsi_host_blockish(d->type) ? "scsi-block" : NULL;
    }
    if (!m || xen_pvscsi_model_uses_sg(m) || !strcmp(m, "scsi-cd")) {
        g_set_error(errp, XVS_ERROR, XVS_ERROR_INVALID,
                    "'%s': %s is a multipath %s (paths %s): only scsi-block "
                    "or scsi-hd can serve it; give one path as H:C:T:L for "
                    "%s", p->spec.text, p->pdev.other, xvs_pdt_name(d->type),
                    p->pdev.paths,
                    m ?: xen_pvscsi_host_model(d->type, false));
        return false;
    }
    p->model = m;
    if (!path) {
        path = xvs_dev_stable_path(h, p->pdev.other + 5);
    }
    if (!path) {
        path = g_strdup(p->pdev.other);
    }
    xvs_opt_add(p->blockdev, "driver", XVS_OPT_STR, "host_device");
    xvs_opt_add(p->blockdev, "node-name", XVS_OPT_STR, "%s", p->node);
    xvs_opt_add(p->blockdev, "filename", XVS_OPT_STR, "%s", path);
    xvs_opt_add(p->blockdev, "cache.direct", XVS_OPT_BOOL, "on");
    if (o->pr_helper && !strcmp(m, "scsi-block")) {
        xvs_opt_add(p->blockdev, "pr-manager", XVS_OPT_STR,
                    XVS_PR_MANAGER_ID);
    }
    return true;
}

static bool plan_iscsi(XvsLunPlan *p, const XvsPlanOpts *o, GError **errp)
{
    const char *url = p->pdev.other;
    struct iscsi_context *ctx = iscsi_create_context(o->tool_initiator);
    struct iscsi_url *u = ctx ? iscsi_parse_full_url(ctx, url) : NULL;
    bool ok = false;

    if (!u) {
        g_set_error(errp, XVS_ERROR, XVS_ERROR_INVALID, "'%s': %s",
                    p->spec.text,
                    ctx ? iscsi_get_error(ctx) : "no iSCSI context");
        goto out;
    }
    p->model = p->spec.model;
    if (!p->model) {
        /* The LUN's type decides, as for a host device */
        g_autoptr(GError) err = NULL;
        XvsIscsi *s = xvs_iscsi_open(url, o->tool_initiator, &err);
        g_autoptr(GBytes) inq = NULL;
        XvsInquiry q;
        bool absent;

        inq = s ? xvs_iscsi_inquiry(s, XVS_PAGE_STD, &absent, &err) : NULL;
        xvs_iscsi_close(s);
        if (!inq || !xvs_decode_inquiry(g_bytes_get_data(inq, NULL),
                                        g_bytes_get_size(inq), &q, &err)) {
            g_set_error(errp, XVS_ERROR, XVS_ERROR_FAILED,
                        "'%s': %s (or give qemu-device=)", p->spec.text,
                        err ? err->message : "no INQUIRY data");
            goto out;
        }
        if (q.qualifier != 0) {
            g_set_error(errp, XVS_ERROR, XVS_ERROR_NOT_FOUND,
                        "'%s': the target has no device at that LUN",
                        p->spec.text);
            goto out;
        }
        p->pdt = q.pdt;
        /* As the device model does once QEMU's iscsi driver opened it */
        p->model = xen_pvscsi_host_model(q.pdt,
                                         xen_pvscsi_iscsi_block_node(q.pdt));
    }
    xvs_opt_add(p->blockdev, "driver", XVS_OPT_STR, "iscsi");
    xvs_opt_add(p->blockdev, "node-name", XVS_OPT_STR, "%s", p->node);
    xvs_opt_add(p->blockdev, "transport", XVS_OPT_STR, "tcp");
    xvs_opt_add(p->blockdev, "portal", XVS_OPT_STR, "%s", u->portal);
    xvs_opt_add(p->blockdev, "target", XVS_OPT_STR, "%s", u->target);
    xvs_opt_add(p->blockdev, "lun", XVS_OPT_INT, "%d", u->lun);
    if (u->user[0]) {
        g_autofree char *sid = g_strdup_printf("%s-secret", p->node);

        xvs_opt_add(p->blockdev, "user", XVS_OPT_STR, "%s", u->user);
        xvs_opt_add(p->blockdev, "password-secret", XVS_OPT_STR, "%s", sid);
        p->secret = xvs_opts_new();
        xvs_opt_add(p->secret, "id", XVS_OPT_STR, "%s", sid);
        xvs_opt_add(p->secret, "data", XVS_OPT_STR, "%s", u->passwd);
    }
    if (o->initiator) {
        xvs_opt_add(p->blockdev, "initiator-name", XVS_OPT_STR, "%s",
                    o->initiator);
    }
    ok = true;

out:
    if (u) {
        iscsi_destroy_url(u);
    }
    if (ctx) {
        iscsi_destroy_context(ctx);
    }
    return ok;
}

bool xvs_lun_plan(XvsHost *h, const char *text, const XvsPlanOpts *o,
                  XvsLunPlan *p, GError **errp)
{
    g_autofree char *hba = NULL;

    memset(p, 0, sizeof(*p));
    p->pdt = -1;
    if (!xvs_lun_spec_parse(text, &p->spec, errp)) {
        return false;
    }
    if (!xvs_pdev_resolve(h, p->spec.pdev, false, &p->pdev, errp)) {
        g_prefix_error(errp, "'%s': ", text);
        return false;
    }
    p->node = xvs_lun_node(p->spec.vdev);
    p->id = xvs_lun_id(p->spec.vdev);
    p->blockdev = xvs_opts_new();
    p->device = xvs_opts_new();

    switch (p->pdev.kind) {
    case XVS_PDEV_SCSI:
        if (!plan_host_scsi(h, p, o, errp)) {
            return false;
        }
        break;
    case XVS_PDEV_MPATH:
        if (!plan_mpath(h, p, o, errp)) {
            return false;
        }
        break;
    case XVS_PDEV_ISCSI:
        if (!plan_iscsi(p, o, errp)) {
            return false;
        }
        break;
    case XVS_PDEV_FILE:
        /* An image: raw, never probed (the guest writes it) */
        p->model = p->spec.model ?: "scsi-hd";
        xvs_opt_add(p->blockdev, "driver", XVS_OPT_STR, "raw");
        xvs_opt_add(p->blockdev, "node-name", XVS_OPT_STR, "%s", p->node);
        xvs_opt_add(p->blockdev, "file.driver", XVS_OPT_STR, "file");
        xvs_opt_add(p->blockdev, "file.filename", XVS_OPT_STR, "%s",
                    p->pdev.other);
        break;
    case XVS_PDEV_BLOCK: {
        /* a kernel name (/dev/vda, /dev/dm-3) by its udev link, if any */
        const char *k = p->pdev.other;
        g_autofree char *stable = NULL;

        if (g_str_has_prefix(k, "/dev/") && !strchr(k + 5, '/')) {
            stable = xvs_dev_stable_path(h, k + 5);
        }
        p->model = p->spec.model ?: "scsi-hd";
        xvs_opt_add(p->blockdev, "driver", XVS_OPT_STR, "host_device");
        xvs_opt_add(p->blockdev, "node-name", XVS_OPT_STR, "%s", p->node);
        xvs_opt_add(p->blockdev, "filename", XVS_OPT_STR, "%s", stable ?: k);
        xvs_opt_add(p->blockdev, "cache.direct", XVS_OPT_BOOL, "on");
        break;
    }
    }
    if ((p->pdev.kind == XVS_PDEV_FILE || p->pdev.kind == XVS_PDEV_BLOCK) &&
        (!strcmp(p->model, "scsi-block") ||
         !strcmp(p->model, "scsi-generic"))) {
        g_set_error(errp, XVS_ERROR, XVS_ERROR_INVALID,
                    "'%s': %s needs a SCSI device, and %s is not one",
                    text, p->model, p->spec.pdev);
        return false;
    }
    if (p->spec.ro || !strcmp(p->model, "scsi-cd")) {
        xvs_opt_add(p->blockdev, "read-only", XVS_OPT_BOOL, "on");
        if (p->pdev.kind == XVS_PDEV_FILE) {
            xvs_opt_add(p->blockdev, "file.read-only", XVS_OPT_BOOL, "on");
        }
    } else if (p->pdev.kind == XVS_PDEV_SCSI ||
               p->pdev.kind == XVS_PDEV_BLOCK ||
               p->pdev.kind == XVS_PDEV_MPATH) {
        /* A CD drive or a write-protected LUN only opens read-only */
        xvs_opt_add(p->blockdev, "auto-read-only", XVS_OPT_BOOL, "on");
    }

    hba = xvs_hba_id(p->spec.vdev[0]);
    xvs_opt_add(p->device, "id", XVS_OPT_STR, "%s", p->id);
    xvs_opt_add(p->device, "bus", XVS_OPT_STR, "%s.0", hba);
    xvs_opt_add(p->device, "channel", XVS_OPT_INT, "%u", p->spec.vdev[1]);
    xvs_opt_add(p->device, "scsi-id", XVS_OPT_INT, "%u", p->spec.vdev[2]);
    xvs_opt_add(p->device, "lun", XVS_OPT_INT, "%u", p->spec.vdev[3]);
    xvs_opt_add(p->device, "drive", XVS_OPT_STR, "%s", p->node);
    return true;
}

/* ------------------------------------------------------------------ */
/* The command line                                                    */

static int plan_cmp(gconstpointer a, gconstpointer b)
{
    const XvsLunPlan *x = *(XvsLunPlan *const *)a;
    const XvsLunPlan *y = *(XvsLunPlan *const *)b;

    for (int i = 0; i < 4; i++) {
        if (x->spec.vdev[i] != y->spec.vdev[i]) {
            return x->spec.vdev[i] < y->spec.vdev[i] ? -1 : 1;
        }
    }
    return 0;
}

static void add_arg(GPtrArray *args, const char *opt, char *val)
{
    g_ptr_array_add(args, g_strdup(opt));
    g_ptr_array_add(args, val);
}

bool xvs_plan_uses_pr(const XvsLunPlan *p)
{
    for (unsigned int i = 0; p->blockdev && i < p->blockdev->len; i++) {
        const XvsOpt *opt = g_ptr_array_index(p->blockdev, i);

        if (!strcmp(opt->key, "pr-manager")) {
            return true;
        }
    }
    return false;
}

GPtrArray *xvs_args_build(GPtrArray *plans, const XvsPlanOpts *o)
{
    GPtrArray *args = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) sorted = g_ptr_array_new();
    long host = -1;

    /* (g_ptr_array_copy would copy the free function too) */
    for (unsigned int i = 0; i < plans->len; i++) {
        g_ptr_array_add(sorted, g_ptr_array_index(plans, i));
    }
    g_ptr_array_sort(sorted, plan_cmp);
    for (unsigned int i = 0; i < sorted->len; i++) {
        if (xvs_plan_uses_pr(g_ptr_array_index(sorted, i))) {
            add_arg(args, "-object",
                    g_strdup_printf("pr-manager-helper,id=%s,path=%s",
                                    XVS_PR_MANAGER_ID, o->pr_helper));
            break;
        }
    }
    for (unsigned int i = 0; i < sorted->len; i++) {
        XvsLunPlan *p = g_ptr_array_index(sorted, i);

        if (p->spec.vdev[0] != host) {
            g_autoptr(GPtrArray) hba = NULL;
            g_autofree char *dev = NULL;
            g_autofree char *own_io = NULL;
            const char *extra, *cur_io;

            host = p->spec.vdev[0];
            cur_io = o->hba_iothread ?
                g_hash_table_lookup(o->hba_iothread, GUINT_TO_POINTER(host)) :
                NULL;
            own_io = xvs_iothread_id(host);
            /* The tool's own IOThreads are defined here; others are not */
            if (o->iothread || !g_strcmp0(cur_io, own_io)) {
                add_arg(args, "-object",
                        g_strdup_printf("iothread,id=%s", own_io));
            }
            hba = xvs_hba_opts(host, o);
            extra = o->hba_extra ?
                g_hash_table_lookup(o->hba_extra, GUINT_TO_POINTER(host)) :
                NULL;
            dev = xvs_opts_cmdline("xen-pvscsi", hba);
            add_arg(args, "-device",
                    extra ? g_strconcat(dev, ",", extra, NULL) :
                    g_strdup(dev));
        }
        if (p->secret) {
            add_arg(args, "-object", xvs_opts_cmdline("secret", p->secret));
        }
        add_arg(args, "-blockdev", xvs_opts_cmdline("", p->blockdev));
        add_arg(args, "-device", xvs_opts_cmdline(p->model, p->device));
    }
    return args;
}
