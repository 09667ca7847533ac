/*
 * xen-vscsi: JSON values, through json-glib
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#include <string.h>
#include "json.h"
#include "xen-vscsi.h"

JsonNode *xvs_json_null(void)
{
    return json_node_new(JSON_NODE_NULL);
}

JsonNode *xvs_json_bool(bool b)
{
    return json_node_init_boolean(json_node_alloc(), b);
}

JsonNode *xvs_json_int(int64_t v)
{
    return json_node_init_int(json_node_alloc(), v);
}

JsonNode *xvs_json_string(const char *s)
{
    return s ? json_node_init_string(json_node_alloc(), s) : xvs_json_null();
}

JsonNode *xvs_json_array(void)
{
    g_autoptr(JsonArray) a = json_array_new();

    return json_node_init_array(json_node_alloc(), a);
}

JsonNode *xvs_json_object(void)
{
    g_autoptr(JsonObject) o = json_object_new();

    return json_node_init_object(json_node_alloc(), o);
}

void xvs_json_append(JsonNode *a, JsonNode *v)
{
    json_array_add_element(json_node_get_array(a), v);
}

void xvs_json_set(JsonNode *o, const char *key, JsonNode *v)
{
    json_object_set_member(json_node_get_object(o), key, v);
}

void xvs_json_set_str(JsonNode *o, const char *key, const char *s)
{
    xvs_json_set(o, key, xvs_json_string(s));
}

void xvs_json_set_int(JsonNode *o, const char *key, int64_t v)
{
    xvs_json_set(o, key, xvs_json_int(v));
}

void xvs_json_set_bool(JsonNode *o, const char *key, bool b)
{
    xvs_json_set(o, key, xvs_json_bool(b));
}

JsonNode *xvs_json_get(JsonNode *o, const char *key)
{
    if (!o || !JSON_NODE_HOLDS_OBJECT(o)) {
        return NULL;
    }
    return json_object_get_member(json_node_get_object(o), key);
}

const char *xvs_json_get_str(JsonNode *o, const char *key)
{
    JsonNode *n = xvs_json_get(o, key);

    if (!n || json_node_get_value_type(n) != G_TYPE_STRING) {
        return NULL;
    }
    return json_node_get_string(n);
}

bool xvs_json_number(JsonNode *v, double *d)
{
    if (!v || !JSON_NODE_HOLDS_VALUE(v)) {
        return false;
    }
    switch (json_node_get_value_type(v)) {
    case G_TYPE_INT64:
        *d = json_node_get_int(v);
        return true;
    case G_TYPE_DOUBLE:
        *d = json_node_get_double(v);
        return true;
    default:
        return false;
    }
}

bool xvs_json_get_int(JsonNode *o, const char *key, int64_t *v)
{
    JsonNode *n = xvs_json_get(o, key);
    double d;

    if (n && JSON_NODE_HOLDS_VALUE(n) &&
        json_node_get_value_type(n) == G_TYPE_INT64) {
        *v = json_node_get_int(n);
        return true;
    }
    if (!xvs_json_number(n, &d)) {
        return false;
    }
    *v = (int64_t)d;
    return true;
}

bool xvs_json_is_true(JsonNode *v)
{
    return v && JSON_NODE_HOLDS_VALUE(v) &&
           json_node_get_value_type(v) == G_TYPE_BOOLEAN &&
           json_node_get_boolean(v);
}

char *xvs_json_text(JsonNode *v)
{
    if (!v || !JSON_NODE_HOLDS_VALUE(v)) {
        return NULL;
    }
    switch (json_node_get_value_type(v)) {
    case G_TYPE_STRING:
        return json_node_dup_string(v);
    case G_TYPE_INT64:
        return g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(v));
    case G_TYPE_BOOLEAN:
        return g_strdup(json_node_get_boolean(v) ? "true" : "false");
    case G_TYPE_DOUBLE: {
        char buf[G_ASCII_DTOSTR_BUF_SIZE];

        return g_strdup(g_ascii_dtostr(buf, sizeof(buf),
                                       json_node_get_double(v)));
    }
    default:
        return NULL;
    }
}

unsigned int xvs_json_len(JsonNode *a)
{
    if (!a || !JSON_NODE_HOLDS_ARRAY(a)) {
        return 0;
    }
    return json_array_get_length(json_node_get_array(a));
}

JsonNode *xvs_json_at(JsonNode *a, unsigned int i)
{
    if (i >= xvs_json_len(a)) {
        return NULL;
    }
    return json_array_get_element(json_node_get_array(a), i);
}

JsonNode *xvs_json_parse(const char *text, size_t len, GError **errp)
{
    g_autoptr(JsonParser) p = json_parser_new_immutable();
    g_autoptr(GError) err = NULL;
    JsonNode *root;

    if (!json_parser_load_from_data(p, text, len, &err)) {
        g_set_error(errp, XVS_ERROR, XVS_ERROR_FAILED, "invalid JSON: %s",
                    err->message);
        return NULL;
    }
    root = json_parser_steal_root(p);
    if (!root) {
        /* blanks only */
        g_set_error(errp, XVS_ERROR, XVS_ERROR_FAILED,
                    "invalid JSON: no value");
    }
    return root;
}

char *xvs_json_to_string(JsonNode *j, bool pretty)
{
    g_autoptr(JsonGenerator) g = json_generator_new();

    json_generator_set_root(g, j);
    json_generator_set_pretty(g, pretty);
    json_generator_set_indent(g, 2);
    return json_generator_to_data(g, NULL);
}
