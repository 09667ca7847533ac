/*
 * xen-vscsi: decoding a SCSI device's identity
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#include <stdio.h>
#include <string.h>
#include <scsi/sg_lib.h>
#include "xen-vscsi.h"
#include "scsi-id.h"
#include "hw/scsi/xen-pvscsi-ident.h"

static const char hex_digits[] = "0123456789abcdef";

static void desig_free(gpointer p)
{
    XvsDesignator *d = p;

    g_free(d->value);
    g_free(d->desc);
    g_free(d);
}

void xvs_ident_init(XvsIdent *id)
{
    memset(id, 0, sizeof(*id));
    id->desigs = g_ptr_array_new_with_free_func(desig_free);
}

void xvs_ident_clear(XvsIdent *id)
{
    g_free(id->serial);
    g_free(id->wwid);
    if (id->desigs) {
        g_ptr_array_free(id->desigs, true);
    }
    if (id->vpd80_raw) {
        g_bytes_unref(id->vpd80_raw);
    }
    if (id->vpd83_raw) {
        g_bytes_unref(id->vpd83_raw);
    }
    memset(id, 0, sizeof(*id));
}

/* Copy a fixed-size INQUIRY field; non-printable bytes become '?'. */
static void copy_field(char *dst, const uint8_t *src, size_t n)
{
    xen_pvscsi_ident_field(dst, src, n);
}

static void rtrim(char *s)
{
    size_t n = strlen(s);

    while (n && s[n - 1] == ' ') {
        s[--n] = '\0';
    }
}

bool xvs_decode_inquiry(const uint8_t *buf, size_t len, XvsInquiry *out,
                        GError **errp)
{
    size_t avail;

    memset(out, 0, sizeof(*out));
    if (len < 5) {
        g_set_error(errp, XVS_ERROR, XVS_ERROR_FAILED,
                    "standard INQUIRY data too short (%zu bytes)", len);
        return false;
    }
    /* ADDITIONAL LENGTH: the device may send less than it claims. */
    avail = MIN(len, (size_t)buf[4] + 5);
    out->qualifier = buf[0] >> 5;
    out->pdt = buf[0] & 0x1f;
    out->removable = buf[1] & 0x80;
    out->version = buf[2];
    if (avail >= 36) {
        copy_field(out->vendor_raw, buf + 8, 8);
        copy_field(out->model_raw, buf + 16, 16);
        copy_field(out->revision, buf + 32, 4);
        strcpy(out->vendor, out->vendor_raw);
        strcpy(out->model, out->model_raw);
        rtrim(out->vendor);
        rtrim(out->model);
        rtrim(out->revision);
        out->have_ids = true;
    }
    return true;
}

/* The page's payload: bytes 4.. up to PAGE LENGTH, within @len. */
static bool vpd_payload(const uint8_t *buf, size_t len, uint8_t page,
                        size_t *n, GError **errp)
{
    size_t page_len;

    if (len < 4) {
        g_set_error(errp, XVS_ERROR, XVS_ERROR_FAILED,
                    "VPD page 0x%02x too short (%zu bytes)", page, len);
        return false;
    }
    if (buf[1] != page) {
        g_set_error(errp, XVS_ERROR, XVS_ERROR_FAILED,
                    "VPD page 0x%02x expected, got 0x%02x", page, buf[1]);
        return false;
    }
    page_len = ((size_t)buf[2] << 8) | buf[3];
    *n = MIN(page_len, len - 4);
    return true;
}

char *xvs_decode_vpd80(const uint8_t *buf, size_t len, GError **errp)
{
    size_t n;
    char *s;

    if (!vpd_payload(buf, len, 0x80, &n, errp)) {
        return NULL;
    }
    s = g_malloc(n + 1);
    copy_field(s, buf + 4, n);
    g_strstrip(s);
    return s;
}

static char *hex_string(const uint8_t *p, size_t n)
{
    char *s = g_malloc(n * 2 + 1);

    for (size_t i = 0; i < n; i++) {
        s[2 * i] = hex_digits[p[i] >> 4];
        s[2 * i + 1] = hex_digits[p[i] & 0xf];
    }
    s[n * 2] = '\0';
    return s;
}

/* libsgutils2's description of a designator, on one line. */
static char *desig_describe(const uint8_t *dd, int dd_len)
{
    char buf[1024];
    g_auto(GStrv) lines = NULL;
    g_autoptr(GPtrArray) parts = g_ptr_array_new();

    buf[0] = '\0';
    sg_get_designation_descriptor_str(NULL, dd, dd_len, true, false,
                                      sizeof(buf), buf);
    lines = g_strsplit(buf, "\n", -1);
    for (int i = 0; lines[i]; i++) {
        g_strstrip(lines[i]);
        if (*lines[i]) {
            g_ptr_array_add(parts, lines[i]);
        }
    }
    g_ptr_array_add(parts, NULL);
    return g_strjoinv("; ", (char **)parts->pdata);
}

bool xvs_decode_vpd83(const uint8_t *buf, size_t len, GPtrArray *out,
                      GError **errp)
{
    const uint8_t *descs = buf + 4;
    size_t n;
    int off = -1;
    int rc;

    if (!vpd_payload(buf, len, 0x83, &n, errp)) {
        return false;
    }
    while ((rc = sg_vpd_dev_id_iter(descs, n, &off, -1, -1, -1)) == 0) {
        const uint8_t *dd = descs + off;
        XvsDesignator *d;

        /* sg_vpd_dev_id_iter checks this too; do not depend on it. */
        if ((size_t)off + 4 > n || (size_t)off + 4 + dd[3] > n) {
            rc = -2;
            break;
        }
        d = g_new0(XvsDesignator, 1);
        d->code_set = dd[0] & 0xf;
        d->proto = dd[0] >> 4;
        d->piv = dd[1] & 0x80;
        d->assoc = (dd[1] >> 4) & 3;
        d->type = dd[1] & 0xf;
        d->len = dd[3];
        memcpy(d->data, dd + 4, d->len);
        if (d->code_set == XVS_CODE_ASCII || d->code_set == XVS_CODE_UTF8) {
            /* Text, perhaps NUL-padded (SCSI name strings are) */
            size_t tl = strnlen((const char *)d->data, d->len);

            d->value = g_malloc(tl + 1);
            copy_field(d->value, d->data, tl);
            g_strchomp(d->value);
        } else {
            d->value = hex_string(d->data, d->len);
        }
        d->desc = desig_describe(dd, 4 + d->len);
        g_ptr_array_add(out, d);
    }
    if (rc == -1 && off >= 0 && (size_t)off < n &&
        ((size_t)off + 4 > n || (size_t)off + 4 + descs[off + 3] > n)) {
        rc = -2;
    }
    if (rc == -2) {
        g_set_error(errp, XVS_ERROR, XVS_ERROR_FAILED,
                    "VPD page 0x83: a designator runs past the page");
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* scsi_id's WWID                                                      */

char *xvs_scsi_id_wwid(const XvsInquiry *inq, const uint8_t *vpd83,
                       size_t len83, const uint8_t *vpd80, size_t len80)
{
    /* include/hw/scsi/xen-pvscsi-ident.h: the device model's rule too */
    return xen_pvscsi_scsi_id_wwid(inq->have_ids ? inq->vendor_raw : NULL,
                                   inq->have_ids ? inq->model_raw : NULL,
                                   vpd83, len83, vpd80, len80);
}

bool xvs_ident_decode(XvsIdent *id, GBytes *inq, GBytes *vpd80,
                      GBytes *vpd83, GError **errp)
{
    const uint8_t *p;
    const uint8_t *p80 = NULL;
    const uint8_t *p83 = NULL;
    size_t n, n80 = 0, n83 = 0;

    p = g_bytes_get_data(inq, &n);
    if (!xvs_decode_inquiry(p, n, &id->inq, errp)) {
        return false;
    }
    if (vpd80) {
        p80 = g_bytes_get_data(vpd80, &n80);
        id->serial = xvs_decode_vpd80(p80, n80, errp);
        if (!id->serial) {
            return false;
        }
        id->have_vpd80 = true;
        id->vpd80_raw = g_bytes_ref(vpd80);
    }
    if (vpd83) {
        p83 = g_bytes_get_data(vpd83, &n83);
        if (!xvs_decode_vpd83(p83, n83, id->desigs, errp)) {
            return false;
        }
        id->have_vpd83 = true;
        id->vpd83_raw = g_bytes_ref(vpd83);
    }
    id->wwid = xvs_scsi_id_wwid(&id->inq, p83, n83, p80, n80);
    return true;
}

/* ------------------------------------------------------------------ */
/* Names and matching                                                  */

const char *xvs_pdt_name(unsigned int pdt)
{
    static const char *const names[] = {
        [0x00] = "disk", [0x01] = "tape", [0x02] = "printer",
        [0x03] = "processor", [0x04] = "worm", [0x05] = "cd/dvd",
        [0x06] = "scanner", [0x07] = "optical", [0x08] = "changer",
        [0x09] = "comms", [0x0c] = "raid", [0x0d] = "enclosure",
        [0x0e] = "rbc", [0x0f] = "card-reader", [0x11] = "osd",
        [0x12] = "adc", [0x13] = "security", [0x14] = "zbc",
        [0x1e] = "well-known-lu", [0x1f] = "no-device",
    };

    return pdt < G_N_ELEMENTS(names) && names[pdt] ? names[pdt] : "other";
}

const char *xvs_desig_type_name(unsigned int type)
{
    static const char *const names[] = {
        "vendor-specific", "t10-vendor-id", "eui-64", "naa",
        "relative-target-port", "target-port-group",
        "logical-unit-group", "md5", "scsi-name-string",
        "protocol-specific-port", "uuid",
    };

    return type < G_N_ELEMENTS(names) ? names[type] : "reserved";
}

const char *xvs_assoc_name(unsigned int assoc)
{
    static const char *const names[] = {
        "lu", "target-port", "target-device", "reserved",
    };

    return names[assoc & 3];
}

const char *xvs_code_set_name(unsigned int code_set)
{
    switch (code_set) {
    case XVS_CODE_BINARY:
        return "binary";
    case XVS_CODE_ASCII:
        return "ascii";
    case XVS_CODE_UTF8:
        return "utf-8";
    default:
        return "reserved";
    }
}

/* The raw VPD page 0x83, or NULL */
static const uint8_t *ident_vpd83(const XvsIdent *id, size_t *len)
{
    *len = 0;
    return id->vpd83_raw ? g_bytes_get_data(id->vpd83_raw, len) : NULL;
}

bool xvs_ident_match_wwid(const XvsIdent *id, const char *wwid)
{
    size_t n;
    const uint8_t *p = ident_vpd83(id, &n);

    return xen_pvscsi_ident_match_wwid(id->wwid, p, n, wwid);
}

bool xvs_ident_match_naa(const XvsIdent *id, const char *hex,
                         unsigned int *assoc)
{
    size_t n;
    const uint8_t *p = ident_vpd83(id, &n);

    return xen_pvscsi_ident_match_naa(p, n, hex, assoc);
}
