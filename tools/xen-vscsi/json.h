/*
 * xen-vscsi: a small JSON value tree, parser and printer
 *
 * Enough JSON for QMP (RFC 8259; numbers kept as text and as double)
 * and for the tool's own --json output.
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#ifndef XEN_VSCSI_JSON_H
#define XEN_VSCSI_JSON_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum XvsJsonType {
    XVS_JSON_NULL,
    XVS_JSON_BOOL,
    XVS_JSON_NUMBER,
    XVS_JSON_STRING,
    XVS_JSON_ARRAY,
    XVS_JSON_OBJECT,
} XvsJsonType;

typedef struct XvsJson XvsJson;

struct XvsJson {
    XvsJsonType type;
    bool b;
    double num;
    char *str;              /* string value, or a number's text */
    GPtrArray *items;       /* array elements, or object values */
    GPtrArray *keys;        /* object keys (char *), parallel to items */
};

XvsJson *xvs_json_null(void);
XvsJson *xvs_json_bool(bool b);
XvsJson *xvs_json_int(int64_t v);
XvsJson *xvs_json_string(const char *s);   /* NULL gives null */
XvsJson *xvs_json_array(void);
XvsJson *xvs_json_object(void);
void xvs_json_free(XvsJson *j);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(XvsJson, xvs_json_free)

/* Append @v (taking it) to array @a, or set @key of object @o. */
void xvs_json_append(XvsJson *a, XvsJson *v);
void xvs_json_set(XvsJson *o, const char *key, XvsJson *v);
void xvs_json_set_str(XvsJson *o, const char *key, const char *s);
void xvs_json_set_int(XvsJson *o, const char *key, int64_t v);
void xvs_json_set_bool(XvsJson *o, const char *key, bool b);

/* Lookups: NULL when absent or not of the asked type. */
XvsJson *xvs_json_get(const XvsJson *o, const char *key);
const char *xvs_json_get_str(const XvsJson *o, const char *key);
bool xvs_json_get_int(const XvsJson *o, const char *key, int64_t *v);
unsigned int xvs_json_len(const XvsJson *a);
XvsJson *xvs_json_at(const XvsJson *a, unsigned int i);

/* Parse exactly one value (surrounding blanks allowed). */
XvsJson *xvs_json_parse(const char *text, size_t len, GError **errp);
/* Serialize; @pretty indents by two spaces per level. */
char *xvs_json_to_string(const XvsJson *j, bool pretty);
/* Append @s to @out as a JSON string literal. */
void xvs_json_quote(GString *out, const char *s);

#endif
