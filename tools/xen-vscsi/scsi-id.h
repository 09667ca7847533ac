/*
 * xen-vscsi: decoding a SCSI device's identity
 *
 * Standard INQUIRY data, the Unit Serial Number VPD page (0x80) and the
 * Device Identification VPD page (0x83), and the WWID that udev's
 * "scsi_id -gu" derives from them.  The bytes come from the device
 * (SG_IO through libsgutils2, or libiscsi) or from a recorded sysfs tree;
 * they are untrusted and every length is checked.
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#ifndef XEN_VSCSI_SCSI_ID_H
#define XEN_VSCSI_SCSI_ID_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

/* Designator types (SPC-4 table 459) */
#define XVS_DESIG_VENDOR        0
#define XVS_DESIG_T10           1
#define XVS_DESIG_EUI64         2
#define XVS_DESIG_NAA           3
#define XVS_DESIG_REL_PORT      4
#define XVS_DESIG_TPG           5
#define XVS_DESIG_LU_GROUP      6
#define XVS_DESIG_MD5           7
#define XVS_DESIG_NAME          8
#define XVS_DESIG_PORT_ID       9
#define XVS_DESIG_UUID          0xa

/* Associations */
#define XVS_ASSOC_LU            0
#define XVS_ASSOC_PORT          1
#define XVS_ASSOC_TARGET        2

/* Code sets */
#define XVS_CODE_BINARY         1
#define XVS_CODE_ASCII          2
#define XVS_CODE_UTF8           3

typedef struct XvsDesignator {
    uint8_t assoc;
    uint8_t type;
    uint8_t code_set;
    uint8_t proto;              /* protocol identifier, valid if piv */
    bool piv;
    uint8_t len;
    uint8_t data[255];
    char *value;                /* lower-case hex (binary), else text */
    char *desc;                 /* libsgutils2's description */
} XvsDesignator;

typedef struct XvsInquiry {
    uint8_t qualifier;          /* peripheral qualifier */
    uint8_t pdt;                /* peripheral device type */
    uint8_t version;
    bool removable;
    bool have_ids;              /* vendor/model/revision present */
    char vendor_raw[9];         /* as the device sent them (padded) */
    char model_raw[17];
    char vendor[9];             /* trailing blanks removed */
    char model[17];
    char revision[5];
} XvsInquiry;

typedef struct XvsIdent {
    XvsInquiry inq;
    bool have_vpd80;
    char *serial;               /* VPD 0x80, blanks trimmed */
    bool have_vpd83;
    GPtrArray *desigs;          /* of XvsDesignator */
    char *wwid;                 /* scsi_id -gu format, NULL if none */
    GBytes *vpd80_raw;
    GBytes *vpd83_raw;
} XvsIdent;

void xvs_ident_init(XvsIdent *id);
void xvs_ident_clear(XvsIdent *id);

bool xvs_decode_inquiry(const uint8_t *buf, size_t len, XvsInquiry *out,
                        GError **errp);
/* Returns the serial (blanks trimmed) or NULL with @errp set. */
char *xvs_decode_vpd80(const uint8_t *buf, size_t len, GError **errp);
/* Appends the designators of a VPD 0x83 page to @out. */
bool xvs_decode_vpd83(const uint8_t *buf, size_t len, GPtrArray *out,
                      GError **errp);
/*
 * The WWID as "scsi_id --whitelisted --replace-whitespace" prints it,
 * from the raw pages (either may be NULL); NULL if it has none.
 */
char *xvs_scsi_id_wwid(const XvsInquiry *inq, const uint8_t *vpd83,
                       size_t len83, const uint8_t *vpd80, size_t len80);

/*
 * Fill @id from raw responses; a NULL page is absent.  The standard
 * INQUIRY data is required.
 */
bool xvs_ident_decode(XvsIdent *id, GBytes *inq, GBytes *vpd80,
                      GBytes *vpd83, GError **errp);

/* "disk", "tape", "changer", ... and the peripheral type for a name. */
const char *xvs_pdt_name(unsigned int pdt);
const char *xvs_desig_type_name(unsigned int type);
const char *xvs_assoc_name(unsigned int assoc);
const char *xvs_code_set_name(unsigned int code_set);

/*
 * Does the device identify itself by @wwid?  True for its scsi_id WWID
 * and for any designator of its logical unit written the way scsi_id
 * writes one: type digit then hex (binary) or text ("8" for a SCSI name
 * string).  Hex compares case-insensitively.
 */
bool xvs_ident_match_wwid(const XvsIdent *id, const char *wwid);
/* Does it have NAA designator @hex (any association)?  *@assoc is set. */
bool xvs_ident_match_naa(const XvsIdent *id, const char *hex,
                         unsigned int *assoc);

#endif
