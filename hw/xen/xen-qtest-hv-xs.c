/*
 * Test-only Xen hypervisor emulation for qtest: xenstore
 *
 * QEMU's own xenstore implementation (xenstore_impl.c), behind its backend
 * ops for xen-bus, and served over the xenstored wire protocol on
 * chardev sockets, so that stock libxenstore (XENSTORED_PATH) talks to it.
 * The "xenstore" connection acts as the guest domain, "xenstore-priv" as
 * dom0 (the toolstack).  A malformed message closes that connection; QEMU
 * carries on.
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/main-loop.h"
#include "qemu/error-report.h"
#include "qemu/cutils.h"
#include "hw/xen/xen.h"
#include "hw/xen/interface/io/xs_wire.h"
#include "xen-qtest-hv.h"
#include "trace.h"

/* ---------------------------------------------------------------------- */
/* Xenstore: backend ops for QEMU itself (acting as dom0)                  */

/* The ops of xenstore_impl.c, on this device's xenstore */
static struct qemu_xs_handle *hv_xs_open(void)
{
    if (!xen_qtest_hv || !xen_qtest_hv->impl) {
        errno = ENOSYS;
        return NULL;
    }
    return xs_impl_be_open(xen_qtest_hv->impl);
}

static struct xenstore_backend_ops hv_xs_ops;

/* Node @path = @value, owned by @owner, with @perms for @domid */
static void hv_xs_put(XenstoreImplState *impl, const char *path,
                      const char *value, unsigned int owner,
                      unsigned int domid, unsigned int perms)
{
    g_autoptr(GByteArray) data = g_byte_array_new();
    GList *perms_list = NULL;

    g_byte_array_append(data, (const guint8 *)value, strlen(value));
    xs_impl_write(impl, HV_DOMID_BACKEND, XBT_NULL, path, data);
    perms_list = g_list_append(perms_list,
                               xs_perm_as_string(XS_PERM_NONE, owner));
    perms_list = g_list_append(perms_list, xs_perm_as_string(perms, domid));
    xs_impl_set_perms(impl, HV_DOMID_BACKEND, XBT_NULL, path, perms_list);
    g_list_free_full(perms_list, g_free);
}

/* ---------------------------------------------------------------------- */
/* Xenstore: wire protocol server on a chardev                             */

static void xsw_send(XsConn *c, uint32_t type, uint32_t req_id,
                     uint32_t tx_id, const void *data, uint32_t len)
{
    struct xsd_sockmsg hdr = {
        .type = type,
        .req_id = req_id,
        .tx_id = tx_id,
        .len = len,
    };

    qemu_chr_fe_write_all(&c->chr, (const uint8_t *)&hdr, sizeof(hdr));
    if (len) {
        qemu_chr_fe_write_all(&c->chr, data, len);
    }
}

static void xsw_send_str(XsConn *c, const struct xsd_sockmsg *h,
                         const char *str)
{
    xsw_send(c, h->type, h->req_id, h->tx_id, str, strlen(str) + 1);
}

static void xsw_error(XsConn *c, const struct xsd_sockmsg *h, int err)
{
    const char *str = "EINVAL";

    for (int i = 0; i < ARRAY_SIZE(xsd_errors); i++) {
        if (xsd_errors[i].errnum == err) {
            str = xsd_errors[i].errstring;
            break;
        }
    }
    xsw_send(c, XS_ERROR, h->req_id, h->tx_id, str, strlen(str) + 1);
}

static void xsw_out_bh(void *opaque)
{
    XsConn *c = opaque;
    GByteArray *msg;

    if (c->closing) {
        qemu_chr_fe_disconnect(&c->chr);
        return;
    }
    while ((msg = g_queue_pop_head(&c->out))) {
        qemu_chr_fe_write_all(&c->chr, msg->data, msg->len);
        g_byte_array_unref(msg);
    }
}

/*
 * Drop the client of this connection.  The disconnect itself happens from
 * a BH: this may be called from inside xenstore_impl (a watch firing).
 */
static void xsw_close(XsConn *c, const char *why)
{
    if (!c->closing) {
        trace_xen_qtest_hv_xs_protocol_error(c->name, why);
        warn_report("xen-qtest-hv: closing xenstore connection '%s': %s",
                    c->name, why);
        c->closing = true;
        qemu_bh_schedule(c->out_bh);
    }
}

static void xsw_watch_cb(void *opaque, const char *path, const char *token)
{
    XsConn *c = opaque;
    size_t plen = strlen(path) + 1, tlen = strlen(token) + 1;
    struct xsd_sockmsg hdr = {
        .type = XS_WATCH_EVENT,
        .len = plen + tlen,
    };
    GByteArray *msg;

    if (c->closing) {
        return;
    }
    if (g_queue_get_length(&c->out) >= HV_XS_MAX_QUEUED) {
        /* The client does not read its events; give up on it. */
        xsw_close(c, "too many undelivered watch events");
        return;
    }
    msg = g_byte_array_sized_new(sizeof(hdr) + hdr.len);
    g_byte_array_append(msg, (const guint8 *)&hdr, sizeof(hdr));
    g_byte_array_append(msg, (const guint8 *)path, plen);
    g_byte_array_append(msg, (const guint8 *)token, tlen);
    g_queue_push_tail(&c->out, msg);
    /* Sent after the reply to the request that triggered it. */
    qemu_bh_schedule(c->out_bh);
}

/*
 * Split a payload into exactly @n NUL-terminated strings (the last one may
 * be followed by more data when @rest is non-NULL).  Returns false if the
 * payload is not of that form.
 */
static bool xsw_args(const uint8_t *p, uint32_t len, const char **v, int n,
                     uint32_t *rest)
{
    uint32_t i = 0;

    for (int k = 0; k < n; k++) {
        const uint8_t *e = memchr(p + i, 0, len - i);

        if (!e) {
            return false;
        }
        v[k] = (const char *)p + i;
        i = e - p + 1;
    }
    if (rest) {
        *rest = i;
        return true;
    }
    return i == len;
}

static bool xsw_owns_tx(XsConn *c, uint32_t tx_id)
{
    return g_list_find(c->transactions, GUINT_TO_POINTER(tx_id)) != NULL;
}

/* Parse "[nrwb]<domid>"; returns false if malformed. */
static bool xsw_perm_ok(const char *perm)
{
    unsigned long domid;
    const char *end;

    if (!strchr("nrwb", perm[0]) || !perm[0] || !perm[1]) {
        return false;
    }
    return !qemu_strtoul(perm + 1, &end, 10, &domid) && !*end &&
           domid < DOMID_FIRST_RESERVED;
}

/*
 * One request from a client, its payload split into the NUL-terminated
 * arguments its type takes, and what follows them
 */
typedef struct XswReq {
    XsConn *c;
    const struct xsd_sockmsg *h;
    const char *arg[2];
    const uint8_t *data;
    uint32_t data_len;
} XswReq;

/*
 * A request's handler sends the reply and returns 0, or returns the
 * negative errno to answer, or XSW_MALFORMED to close the connection.
 */
#define XSW_MALFORMED   1

static int xsw_read_node(XswReq *r)
{
    g_autoptr(GByteArray) d = g_byte_array_new();
    int err;

    err = xs_impl_read(r->c->hv->impl, r->c->dom, r->h->tx_id, r->arg[0], d);
    if (!err) {
        xsw_send(r->c, r->h->type, r->h->req_id, r->h->tx_id, d->data,
                 d->len);
    }
    return -err;
}

static int xsw_write_node(XswReq *r)
{
    g_autoptr(GByteArray) d = g_byte_array_new();
    int err;

    g_byte_array_append(d, r->data, r->data_len);
    err = xs_impl_write(r->c->hv->impl, r->c->dom, r->h->tx_id, r->arg[0], d);
    if (!err) {
        xsw_send_str(r->c, r->h, "OK");
    }
    return -err;
}

static int xsw_mkdir(XswReq *r)
{
    XenstoreImplState *impl = r->c->hv->impl;
    g_autoptr(GByteArray) d = g_byte_array_new();
    int err;

    err = xs_impl_read(impl, r->c->dom, r->h->tx_id, r->arg[0], d);
    if (err == ENOENT) {
        g_byte_array_set_size(d, 0);
        err = xs_impl_write(impl, r->c->dom, r->h->tx_id, r->arg[0], d);
    }
    if (!err) {
        xsw_send_str(r->c, r->h, "OK");
    }
    return -err;
}

static int xsw_rm(XswReq *r)
{
    int err = xs_impl_rm(r->c->hv->impl, r->c->dom, r->h->tx_id, r->arg[0]);

    if (!err) {
        xsw_send_str(r->c, r->h, "OK");
    }
    return -err;
}

/* XS_DIRECTORY and XS_GET_PERMS: a list of strings */
static int xsw_list(XswReq *r)
{
    XenstoreImplState *impl = r->c->hv->impl;
    g_autoptr(GByteArray) d = g_byte_array_new();
    GList *items = NULL;
    int err;

    if (r->h->type == XS_DIRECTORY) {
        err = xs_impl_directory(impl, r->c->dom, r->h->tx_id, r->arg[0],
                                NULL, &items);
    } else {
        err = xs_impl_get_perms(impl, r->c->dom, r->h->tx_id, r->arg[0],
                                &items);
    }
    for (GList *l = items; l; l = l->next) {
        g_byte_array_append(d, l->data, strlen(l->data) + 1);
    }
    g_list_free_full(items, g_free);
    if (!err && d->len > XENSTORE_PAYLOAD_MAX) {
        err = E2BIG;
    }
    if (!err) {
        xsw_send(r->c, r->h->type, r->h->req_id, r->h->tx_id, d->data,
                 d->len);
    }
    return -err;
}

static int xsw_set_perms(XswReq *r)
{
    GList *perms = NULL;
    int err;

    if (!r->data_len || r->data[r->data_len - 1] != 0) {
        return XSW_MALFORMED;
    }
    for (uint32_t i = 0; i < r->data_len;
         i += strlen((const char *)r->data + i) + 1) {
        if (!xsw_perm_ok((const char *)r->data + i)) {
            g_list_free_full(perms, g_free);
            return -EINVAL;
        }
        perms = g_list_append(perms, g_strdup((const char *)r->data + i));
    }
    err = xs_impl_set_perms(r->c->hv->impl, r->c->dom, r->h->tx_id,
                            r->arg[0], perms);
    g_list_free_full(perms, g_free);
    if (!err) {
        xsw_send_str(r->c, r->h, "OK");
    }
    return -err;
}

static int xsw_watch(XswReq *r)
{
    XsConn *c = r->c;
    int err = xs_impl_watch(c->hv->impl, c->dom, r->arg[0], r->arg[1],
                            xsw_watch_cb, c);

    if (!err) {
        c->watches = g_list_prepend(c->watches,
                                    g_strdup_printf("%s%c%s", r->arg[0], 0,
                                                    r->arg[1]));
        xsw_send_str(c, r->h, "OK");
    }
    return -err;
}

static int xsw_unwatch(XswReq *r)
{
    XsConn *c = r->c;
    int err = xs_impl_unwatch(c->hv->impl, c->dom, r->arg[0], r->arg[1],
                              xsw_watch_cb, c);

    if (err) {
        return -err;
    }
    for (GList *l = c->watches; l; l = l->next) {
        const char *wp = l->data;

        if (!strcmp(wp, r->arg[0]) && !strcmp(wp + strlen(wp) + 1,
                                              r->arg[1])) {
            g_free(l->data);
            c->watches = g_list_delete_link(c->watches, l);
            break;
        }
    }
    xsw_send_str(c, r->h, "OK");
    return 0;
}

static int xsw_transaction_start(XswReq *r)
{
    xs_transaction_t tx = XBT_NULL;
    char buf[16];
    int err;

    if (r->h->tx_id != XBT_NULL) {
        return -EINVAL;
    }
    err = xs_impl_transaction_start(r->c->hv->impl, r->c->dom, &tx);
    if (!err) {
        r->c->transactions = g_list_prepend(r->c->transactions,
                                            GUINT_TO_POINTER(tx));
        snprintf(buf, sizeof(buf), "%u", tx);
        xsw_send_str(r->c, r->h, buf);
    }
    return -err;
}

static int xsw_transaction_end(XswReq *r)
{
    int err;

    if (r->h->tx_id == XBT_NULL ||
        (strcmp(r->arg[0], "T") && strcmp(r->arg[0], "F"))) {
        return -EINVAL;
    }
    r->c->transactions = g_list_remove(r->c->transactions,
                                       GUINT_TO_POINTER(r->h->tx_id));
    err = xs_impl_transaction_end(r->c->hv->impl, r->c->dom, r->h->tx_id,
                                  r->arg[0][0] == 'T');
    if (!err) {
        xsw_send_str(r->c, r->h, "OK");
    }
    return -err;
}

static int xsw_get_domain_path(XswReq *r)
{
    g_autofree char *path = NULL;
    unsigned long domid;
    const char *end;

    if (qemu_strtoul(r->arg[0], &end, 10, &domid) || *end ||
        domid >= DOMID_FIRST_RESERVED) {
        return -EINVAL;
    }
    path = g_strdup_printf("/local/domain/%lu", domid);
    xsw_send_str(r->c, r->h, path);
    return 0;
}

/* Drop the watches of this connection (@c), or of its client going away */
static void xsw_drop_watches(XsConn *c)
{
    while (c->watches) {
        const char *wp = c->watches->data;

        xs_impl_unwatch(c->hv->impl, c->dom, wp, wp + strlen(wp) + 1,
                        xsw_watch_cb, c);
        g_free(c->watches->data);
        c->watches = g_list_delete_link(c->watches, c->watches);
    }
}

static int xsw_reset_watches(XswReq *r)
{
    /* Only this connection's: dom0 also owns xen-bus's watches. */
    xsw_drop_watches(r->c);
    xsw_send_str(r->c, r->h, "OK");
    return 0;
}

/*
 * The requests served, with the number of NUL-terminated arguments that
 * make up the payload, or that start it when the handler takes the rest
 * as data.  Any other type is answered ENOSYS.
 */
static const struct {
    int (*fn)(XswReq *r);
    uint8_t nargs;
    bool data;
} xsw_handlers[] = {
    [XS_READ] = { xsw_read_node, 1 },
    [XS_WRITE] = { xsw_write_node, 1, true },
    [XS_MKDIR] = { xsw_mkdir, 1 },
    [XS_RM] = { xsw_rm, 1 },
    [XS_DIRECTORY] = { xsw_list, 1 },
    [XS_GET_PERMS] = { xsw_list, 1 },
    [XS_SET_PERMS] = { xsw_set_perms, 1, true },
    [XS_WATCH] = { xsw_watch, 2 },
    [XS_UNWATCH] = { xsw_unwatch, 2 },
    [XS_TRANSACTION_START] = { xsw_transaction_start, 0, true },
    [XS_TRANSACTION_END] = { xsw_transaction_end, 1 },
    [XS_GET_DOMAIN_PATH] = { xsw_get_domain_path, 1 },
    [XS_RESET_WATCHES] = { xsw_reset_watches, 0, true },
};

/*
 * Handle one complete message.  Returns false if the message is malformed,
 * in which case the connection is closed.
 */
static bool xsw_process(XsConn *c, const struct xsd_sockmsg *h,
                        const uint8_t *p)
{
    XswReq r = { .c = c, .h = h };
    uint32_t rest = 0;
    int err;

    trace_xen_qtest_hv_xs_msg(c->name, h->type, h->req_id, h->tx_id, h->len);

    if (h->tx_id != XBT_NULL && !xsw_owns_tx(c, h->tx_id)) {
        xsw_error(c, h, ENOENT);
        return true;
    }
    if (h->type >= ARRAY_SIZE(xsw_handlers) || !xsw_handlers[h->type].fn) {
        xsw_error(c, h, ENOSYS);
        return true;
    }
    if (!xsw_args(p, h->len, r.arg, xsw_handlers[h->type].nargs,
                  xsw_handlers[h->type].data ? &rest : NULL)) {
        return false;
    }
    r.data = p + rest;
    r.data_len = h->len - rest;
    err = xsw_handlers[h->type].fn(&r);
    if (err == XSW_MALFORMED) {
        return false;
    }
    if (err) {
        xsw_error(c, h, -err);
    }
    return true;
}

static int xsw_can_read(void *opaque)
{
    XsConn *c = opaque;

    return c->closing ? 0 : XENSTORE_PAYLOAD_MAX;
}

static void xsw_read(void *opaque, const uint8_t *buf, int size)
{
    XsConn *c = opaque;
    struct xsd_sockmsg h;

    if (c->closing) {
        return;
    }
    g_byte_array_append(c->in, buf, size);
    while (c->in->len >= sizeof(h)) {
        memcpy(&h, c->in->data, sizeof(h));
        if (h.len > XENSTORE_PAYLOAD_MAX) {
            xsw_close(c, "message longer than XENSTORE_PAYLOAD_MAX");
            return;
        }
        if (c->in->len < sizeof(h) + h.len) {
            break;
        }
        if (!xsw_process(c, &h, c->in->data + sizeof(h))) {
            xsw_close(c, "malformed message");
            return;
        }
        g_byte_array_remove_range(c->in, 0, sizeof(h) + h.len);
    }
}

/* Forget everything about the current client of this connection. */
static void xsw_reset(XsConn *c)
{
    GByteArray *msg;

    xsw_drop_watches(c);
    while (c->transactions) {
        xs_impl_transaction_end(c->hv->impl, c->dom,
                                GPOINTER_TO_UINT(c->transactions->data),
                                false);
        c->transactions = g_list_delete_link(c->transactions,
                                             c->transactions);
    }
    while ((msg = g_queue_pop_head(&c->out))) {
        g_byte_array_unref(msg);
    }
    g_byte_array_set_size(c->in, 0);
}

static void xsw_event(void *opaque, QEMUChrEvent event)
{
    XsConn *c = opaque;

    switch (event) {
    case CHR_EVENT_OPENED:
        trace_xen_qtest_hv_xs_conn(c->name, "opened");
        xsw_reset(c);
        c->closing = false;
        break;
    case CHR_EVENT_CLOSED:
        trace_xen_qtest_hv_xs_conn(c->name, "closed");
        xsw_reset(c);
        c->closing = false;
        break;
    default:
        break;
    }
}

static void xsw_init(XenQtestHV *s, XsConn *c, const char *name,
                     unsigned int dom)
{
    c->hv = s;
    c->name = name;
    c->dom = dom;
    c->in = g_byte_array_new();
    g_queue_init(&c->out);
    c->out_bh = qemu_bh_new(xsw_out_bh, c);
    qemu_chr_fe_set_handlers(&c->chr, xsw_can_read, xsw_read, xsw_event,
                             NULL, c, NULL, true);
}

/* ---------------------------------------------------------------------- */

static void hv_xs_populate(XenQtestHV *s)
{
    static const char *const guest_dirs[] = {
        "device", "data", "control", "attr", "drivers", "error", "feature",
    };
    g_autofree char *dom_path = g_strdup_printf("/local/domain/%u", s->domid);
    g_autofree char *domid_str = g_strdup_printf("%u", s->domid);
    g_autofree char *name = g_strdup_printf("qtest-guest-%u", s->domid);
    const struct {
        const char *node;
        const char *value;
    } dom0_owned[] = {
        { "", "" },
        { "/domid", domid_str },
        { "/name", name },
    };

    /* Nodes owned by dom0, readable by the guest, as the toolstack does. */
    for (int i = 0; i < ARRAY_SIZE(dom0_owned); i++) {
        g_autofree char *path = g_strconcat(dom_path, dom0_owned[i].node,
                                            NULL);

        hv_xs_put(s->impl, path, dom0_owned[i].value, HV_DOMID_BACKEND,
                  s->domid, XS_PERM_READ);
    }
    /* Subdirectories the guest owns. */
    for (int i = 0; i < ARRAY_SIZE(guest_dirs); i++) {
        g_autofree char *path = g_strdup_printf("%s/%s", dom_path,
                                                guest_dirs[i]);

        hv_xs_put(s->impl, path, "", s->domid, HV_DOMID_BACKEND,
                  XS_PERM_NONE);
    }
}

void xen_qtest_hv_xs_init(XenQtestHV *s)
{
    s->impl = xs_impl_create(s->domid);
    hv_xs_populate(s);
    xsw_init(s, &s->xs_guest, "xenstore", s->domid);
    if (qemu_chr_fe_backend_connected(&s->xs_priv.chr)) {
        xsw_init(s, &s->xs_priv, "xenstore-priv", HV_DOMID_BACKEND);
    }
    xs_impl_be_ops_init(&hv_xs_ops, hv_xs_open);
    xen_xenstore_ops = &hv_xs_ops;
}
