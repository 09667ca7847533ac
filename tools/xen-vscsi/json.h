/*
 * xen-vscsi: JSON values, through json-glib
 *
 * json-glib parses, builds and prints.  On top, the few helpers the tool's
 * records and QMP messages want: constructors that give a JsonNode, and
 * lookups that answer NULL (or false) for a member that is absent or of
 * another type, so that whatever QEMU or a host sends never trips
 * json-glib's own precondition checks.
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#ifndef XEN_VSCSI_JSON_H
#define XEN_VSCSI_JSON_H

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <stdint.h>

JsonNode *xvs_json_null(void);
JsonNode *xvs_json_bool(bool b);
JsonNode *xvs_json_int(int64_t v);
JsonNode *xvs_json_string(const char *s);   /* NULL gives null */
JsonNode *xvs_json_array(void);
JsonNode *xvs_json_object(void);

/* Append @v (taking it) to array @a, or set @key of object @o. */
void xvs_json_append(JsonNode *a, JsonNode *v);
void xvs_json_set(JsonNode *o, const char *key, JsonNode *v);
void xvs_json_set_str(JsonNode *o, const char *key, const char *s);
void xvs_json_set_int(JsonNode *o, const char *key, int64_t v);
void xvs_json_set_bool(JsonNode *o, const char *key, bool b);

/* Lookups: NULL (false) when absent or not of the asked type. */
JsonNode *xvs_json_get(JsonNode *o, const char *key);
const char *xvs_json_get_str(JsonNode *o, const char *key);
bool xvs_json_get_int(JsonNode *o, const char *key, int64_t *v);
unsigned int xvs_json_len(JsonNode *a);
JsonNode *xvs_json_at(JsonNode *a, unsigned int i);
/* @v is a boolean true; a number (integer or not) in @d */
bool xvs_json_is_true(JsonNode *v);
bool xvs_json_number(JsonNode *v, double *d);
/* A string, number or boolean as text; NULL for anything else */
char *xvs_json_text(JsonNode *v);

/* Parse exactly one value (surrounding blanks allowed). */
JsonNode *xvs_json_parse(const char *text, size_t len, GError **errp);
/* Serialize; @pretty indents by two spaces per level. */
char *xvs_json_to_string(JsonNode *j, bool pretty);

#endif
