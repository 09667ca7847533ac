/*
 * xen-pvscsi: which SCSI device a WWID or an NAA name means
 *
 * A device's WWID as udev's "scsi_id --whitelisted --replace-whitespace"
 * derives it from the standard INQUIRY data and VPD pages 0x83 and 0x80,
 * and the designators of its VPD page 0x83.  One rule for the device model
 * (a toolstack's p-dev, hw/scsi/xen-pvscsi-pdev.c, which reads the pages
 * from sysfs) and for tools/xen-vscsi (SG_IO, libiscsi or sysfs), as
 * xen-pvscsi-hostdev.h is.  The bytes are the device's, untrusted: every
 * length is checked.  Plain C and glib.
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_SCSI_XEN_PVSCSI_IDENT_H
#define HW_SCSI_XEN_PVSCSI_IDENT_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Designator types (SPC-4 table 459) */
#define XEN_PVSCSI_DESIG_VENDOR     0
#define XEN_PVSCSI_DESIG_T10        1
#define XEN_PVSCSI_DESIG_EUI64      2
#define XEN_PVSCSI_DESIG_NAA        3
#define XEN_PVSCSI_DESIG_NAME       8

/* Associations */
#define XEN_PVSCSI_ASSOC_LU         0

/* Code sets */
#define XEN_PVSCSI_CODE_BINARY      1
#define XEN_PVSCSI_CODE_ASCII       2
#define XEN_PVSCSI_CODE_UTF8        3

/* Copy a fixed-size INQUIRY field; non-printable bytes become '?'. */
static inline void xen_pvscsi_ident_field(char *dst, const uint8_t *src,
                                          size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
    }
    dst[n] = '\0';
}

/*
 * udev's --replace-whitespace then its character filter: blanks trimmed
 * at both ends, every run of blanks inside becomes one '_', and anything
 * but [0-9A-Za-z#+-.:=@_] and valid UTF-8 beyond ASCII becomes '_'.
 */
static inline char *xen_pvscsi_udev_reformat(const char *raw)
{
    GString *s = g_string_new(NULL);
    const char *p = raw;
    const char *end = raw + strlen(raw);
    bool blank = false;

    while (end > p && g_ascii_isspace(end[-1])) {
        end--;
    }
    while (p < end && g_ascii_isspace(*p)) {
        p++;
    }
    while (p < end) {
        unsigned char c = *p;

        if (g_ascii_isspace(c)) {
            blank = true;
            p++;
            continue;
        }
        if (blank) {
            g_string_append_c(s, '_');
            blank = false;
        }
        if (c >= 0x80) {
            const char *next = g_utf8_find_next_char(p, end);
            size_t n = next ? (size_t)(next - p) : (size_t)(end - p);

            if (n > 1 && g_utf8_validate(p, n, NULL)) {
                g_string_append_len(s, p, n);
            } else {
                g_string_append_c(s, '_');
                n = 1;
            }
            p += n;
            continue;
        }
        if (g_ascii_isalnum(c) || strchr("#+-.:=@_", c)) {
            g_string_append_c(s, c);
        } else {
            g_string_append_c(s, '_');
        }
        p++;
    }
    return g_string_free(s, false);
}

/* Raw bytes as scsi_id copies them (ASCII ones byte for byte). */
static inline void xen_pvscsi_ident_append(GString *s, const uint8_t *p,
                                           size_t n, bool ascii)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        if (ascii) {
            /* a NUL would end scsi_id's C string there */
            if (!p[i]) {
                return;
            }
            g_string_append_c(s, p[i]);
        } else {
            g_string_append_c(s, hex[p[i] >> 4]);
            g_string_append_c(s, hex[p[i] & 0xf]);
        }
    }
}

/*
 * The designators of a VPD page 0x83 (@len bytes at @vpd83), in order:
 * each one's 4-byte header at *@dd, its identifier after it.  Start with
 * *@off = 0; false at the end of the page or at a designator that runs
 * past it.
 */
static inline bool xen_pvscsi_vpd83_next(const uint8_t *vpd83, size_t len,
                                         size_t *off, const uint8_t **dd)
{
    size_t n;

    if (!vpd83 || len < 4 || vpd83[1] != 0x83) {
        return false;
    }
    n = MIN(((size_t)vpd83[2] << 8) | vpd83[3], len - 4);
    if (*off + 4 > n || *off + 4 + vpd83[4 + *off + 3] > n) {
        return false;
    }
    *dd = vpd83 + 4 + *off;
    *off += 4 + (*dd)[3];
    return true;
}

/*
 * The WWID as "scsi_id --whitelisted --replace-whitespace" prints it, from
 * the raw pages (either may be NULL) and the standard INQUIRY data's vendor
 * (8 bytes) and product (16 bytes) fields as xen_pvscsi_ident_field() copies
 * them (NULL if the INQUIRY data has none); NULL if it has none.
 */
static inline char *xen_pvscsi_scsi_id_wwid(const char *vendor,
                                            const char *model,
                                            const uint8_t *vpd83,
                                            size_t len83,
                                            const uint8_t *vpd80,
                                            size_t len80)
{
    /* NAA values scsi_id prefers (scsi_serial.c's id_search_list) */
    enum { ANY = 0xff, IEEE_REG = 5, IEEE_REG_EXT = 6 };
    static const struct {
        uint8_t type;
        uint8_t naa;
        uint8_t code_set;
    } order[] = {
        { XEN_PVSCSI_DESIG_NAA, IEEE_REG_EXT, XEN_PVSCSI_CODE_BINARY },
        { XEN_PVSCSI_DESIG_NAA, IEEE_REG_EXT, XEN_PVSCSI_CODE_ASCII },
        { XEN_PVSCSI_DESIG_NAA, IEEE_REG, XEN_PVSCSI_CODE_BINARY },
        { XEN_PVSCSI_DESIG_NAA, IEEE_REG, XEN_PVSCSI_CODE_ASCII },
        { XEN_PVSCSI_DESIG_NAA, ANY, XEN_PVSCSI_CODE_BINARY },
        { XEN_PVSCSI_DESIG_NAA, ANY, XEN_PVSCSI_CODE_ASCII },
        { XEN_PVSCSI_DESIG_EUI64, ANY, XEN_PVSCSI_CODE_BINARY },
        { XEN_PVSCSI_DESIG_EUI64, ANY, XEN_PVSCSI_CODE_ASCII },
        { XEN_PVSCSI_DESIG_T10, ANY, XEN_PVSCSI_CODE_BINARY },
        { XEN_PVSCSI_DESIG_T10, ANY, XEN_PVSCSI_CODE_ASCII },
        { XEN_PVSCSI_DESIG_VENDOR, ANY, XEN_PVSCSI_CODE_BINARY },
        { XEN_PVSCSI_DESIG_VENDOR, ANY, XEN_PVSCSI_CODE_ASCII },
    };
    static const char hex[] = "0123456789abcdef";
    g_autoptr(GString) raw = g_string_new(NULL);

    if (vpd83 && len83 >= 8 && vpd83[1] == 0x83) {
        if (vpd83[6] != 0) {
            /*
             * A SCSI-2 page 0x83 (old EMC Symmetrix): the identifier
             * follows the header directly; scsi_id reads byte 3 as its
             * length.
             */
            size_t idl = MIN((size_t)vpd83[3], len83 - 4);

            g_string_append_c(raw, '3');
            xen_pvscsi_ident_append(raw, vpd83 + 4, idl, false);
            return xen_pvscsi_udev_reformat(raw->str);
        }
        for (size_t k = 0; k < G_N_ELEMENTS(order); k++) {
            const uint8_t *dd;
            size_t off = 0;

            while (xen_pvscsi_vpd83_next(vpd83, len83, &off, &dd)) {
                size_t dl = dd[3];

                if (((dd[1] >> 4) & 3) != XEN_PVSCSI_ASSOC_LU ||
                    (dd[1] & 0xf) != order[k].type ||
                    (dd[0] & 0xf) != order[k].code_set) {
                    continue;
                }
                if (order[k].naa != ANY &&
                    (dl < 1 || (dd[4] >> 4) != order[k].naa)) {
                    continue;
                }
                if (order[k].type == XEN_PVSCSI_DESIG_VENDOR && !vendor) {
                    continue;
                }
                g_string_append_c(raw, hex[order[k].type]);
                if (order[k].type == XEN_PVSCSI_DESIG_VENDOR) {
                    g_string_append(raw, vendor);
                    g_string_append(raw, model);
                }
                xen_pvscsi_ident_append(raw, dd + 4, dl,
                                        order[k].code_set ==
                                        XEN_PVSCSI_CODE_ASCII);
                return xen_pvscsi_udev_reformat(raw->str);
            }
        }
    }
    if (vpd80 && len80 >= 4 && vpd80[1] == 0x80 && vendor) {
        size_t n = MIN((size_t)vpd80[3], len80 - 4);

        g_string_append_c(raw, 'S');
        g_string_append(raw, vendor);
        g_string_append(raw, model);
        xen_pvscsi_ident_append(raw, vpd80 + 4, n, true);
        return xen_pvscsi_udev_reformat(raw->str);
    }
    return NULL;
}

/*
 * Does the logical unit identify itself by @wwid?  True for its scsi_id
 * WWID (@dev_wwid, perhaps NULL) and for any designator of its logical
 * unit in @vpd83 written the way scsi_id writes one: type digit then hex
 * (binary) or text ("8" for a SCSI name string).  Hex compares
 * case-insensitively.
 */
static inline bool xen_pvscsi_ident_match_wwid(const char *dev_wwid,
                                               const uint8_t *vpd83,
                                               size_t len83,
                                               const char *wwid)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *dd;
    size_t off = 0;

    if (dev_wwid && !g_ascii_strcasecmp(dev_wwid, wwid)) {
        return true;
    }
    while (xen_pvscsi_vpd83_next(vpd83, len83, &off, &dd)) {
        unsigned int type = dd[1] & 0xf;
        unsigned int code_set = dd[0] & 0xf;
        g_autoptr(GString) as = g_string_new(NULL);

        if (((dd[1] >> 4) & 3) != XEN_PVSCSI_ASSOC_LU) {
            continue;
        }
        if (type != XEN_PVSCSI_DESIG_NAA && type != XEN_PVSCSI_DESIG_EUI64 &&
            type != XEN_PVSCSI_DESIG_T10 && type != XEN_PVSCSI_DESIG_NAME) {
            continue;
        }
        g_string_append_c(as, hex[type]);
        if (code_set == XEN_PVSCSI_CODE_BINARY) {
            xen_pvscsi_ident_append(as, dd + 4, dd[3], false);
            if (!g_ascii_strcasecmp(as->str, wwid)) {
                return true;
            }
        } else {
            g_autofree char *udev = NULL;

            if (code_set == XEN_PVSCSI_CODE_ASCII ||
                code_set == XEN_PVSCSI_CODE_UTF8) {
                /* Text, perhaps NUL-padded (SCSI name strings are) */
                size_t tl = strnlen((const char *)dd + 4, dd[3]);
                g_autofree char *text = g_malloc(tl + 1);

                xen_pvscsi_ident_field(text, dd + 4, tl);
                g_strchomp(text);
                g_string_append(as, text);
            } else {
                xen_pvscsi_ident_append(as, dd + 4, dd[3], false);
            }
            udev = xen_pvscsi_udev_reformat(as->str);
            if (!strcmp(udev, wwid) || !strcmp(as->str, wwid)) {
                return true;
            }
        }
    }
    return false;
}

/*
 * Does @vpd83 have binary NAA designator @hex (any association)?
 * *@assoc is set to its association.
 */
static inline bool xen_pvscsi_ident_match_naa(const uint8_t *vpd83,
                                              size_t len83, const char *hex,
                                              unsigned int *assoc)
{
    const uint8_t *dd;
    size_t off = 0;

    while (xen_pvscsi_vpd83_next(vpd83, len83, &off, &dd)) {
        g_autoptr(GString) value = g_string_new(NULL);

        if ((dd[1] & 0xf) != XEN_PVSCSI_DESIG_NAA ||
            (dd[0] & 0xf) != XEN_PVSCSI_CODE_BINARY) {
            continue;
        }
        xen_pvscsi_ident_append(value, dd + 4, dd[3], false);
        if (!g_ascii_strcasecmp(value->str, hex)) {
            *assoc = (dd[1] >> 4) & 3;
            return true;
        }
    }
    return false;
}

/*
 * @pdev, which starts with "naa.", as naa.<16 or 32 hex digits>[:<lun>]:
 * the hex digits in *@hex (to free), the LUN or -1 in *@lun.  False, with
 * the reason in *@why, if it is not that.
 */
static inline bool xen_pvscsi_ident_parse_naa(const char *pdev, char **hex,
                                              long *lun, const char **why)
{
    const char *h = pdev + 4;
    const char *colon = strchr(h, ':');
    size_t n = colon ? (size_t)(colon - h) : strlen(h);
    guint64 l;

    *lun = -1;
    if ((n != 16 && n != 32) ||
        strspn(h, "0123456789abcdefABCDEF") != n) {
        *why = "naa. wants 16 or 32 hex digits";
        return false;
    }
    if (colon) {
        /* digits only: no sign, no blank */
        if (!g_ascii_string_to_unsigned(colon + 1, 10, 0, 0xffff, &l,
                                        NULL)) {
            *why = "bad LUN after the NAA name";
            return false;
        }
        *lun = l;
    }
    *hex = g_strndup(h, n);
    return true;
}

/*
 * Whether @pdev has the form of a WWID: scsi_id's, a designator type digit
 * (or 'S' for vendor, product and serial) then the identifier, with no
 * '/', blank or ','.
 */
static inline bool xen_pvscsi_ident_is_wwid(const char *pdev)
{
    return pdev[0] && strchr("0123S8", pdev[0]) && pdev[1] &&
           !strpbrk(pdev, "/ \t\n,");
}

#endif
