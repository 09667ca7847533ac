/*
 * xen-vscsi: a small JSON value tree, parser and printer
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#include <stdlib.h>
#include <string.h>
#include "json.h"
#include "xen-vscsi.h"

/* Nesting deeper than this is refused (QMP never comes close). */
#define JSON_MAX_DEPTH  64

static XvsJson *json_new(XvsJsonType type)
{
    XvsJson *j = g_new0(XvsJson, 1);

    j->type = type;
    if (type == XVS_JSON_ARRAY || type == XVS_JSON_OBJECT) {
        j->items = g_ptr_array_new_with_free_func(
            (GDestroyNotify)xvs_json_free);
    }
    if (type == XVS_JSON_OBJECT) {
        j->keys = g_ptr_array_new_with_free_func(g_free);
    }
    return j;
}

XvsJson *xvs_json_null(void)
{
    return json_new(XVS_JSON_NULL);
}

XvsJson *xvs_json_bool(bool b)
{
    XvsJson *j = json_new(XVS_JSON_BOOL);

    j->b = b;
    return j;
}

XvsJson *xvs_json_int(int64_t v)
{
    XvsJson *j = json_new(XVS_JSON_NUMBER);

    j->num = v;
    j->str = g_strdup_printf("%" G_GINT64_FORMAT, (gint64)v);
    return j;
}

XvsJson *xvs_json_string(const char *s)
{
    XvsJson *j;

    if (!s) {
        return xvs_json_null();
    }
    j = json_new(XVS_JSON_STRING);
    j->str = g_strdup(s);
    return j;
}

XvsJson *xvs_json_array(void)
{
    return json_new(XVS_JSON_ARRAY);
}

XvsJson *xvs_json_object(void)
{
    return json_new(XVS_JSON_OBJECT);
}

void xvs_json_free(XvsJson *j)
{
    if (!j) {
        return;
    }
    g_free(j->str);
    if (j->items) {
        g_ptr_array_free(j->items, true);
    }
    if (j->keys) {
        g_ptr_array_free(j->keys, true);
    }
    g_free(j);
}

void xvs_json_append(XvsJson *a, XvsJson *v)
{
    g_assert(a->type == XVS_JSON_ARRAY);
    g_ptr_array_add(a->items, v);
}

void xvs_json_set(XvsJson *o, const char *key, XvsJson *v)
{
    g_assert(o->type == XVS_JSON_OBJECT);
    for (unsigned int i = 0; i < o->keys->len; i++) {
        if (!strcmp(g_ptr_array_index(o->keys, i), key)) {
            xvs_json_free(g_ptr_array_index(o->items, i));
            g_ptr_array_index(o->items, i) = v;
            return;
        }
    }
    g_ptr_array_add(o->keys, g_strdup(key));
    g_ptr_array_add(o->items, v);
}

void xvs_json_set_str(XvsJson *o, const char *key, const char *s)
{
    xvs_json_set(o, key, xvs_json_string(s));
}

void xvs_json_set_int(XvsJson *o, const char *key, int64_t v)
{
    xvs_json_set(o, key, xvs_json_int(v));
}

void xvs_json_set_bool(XvsJson *o, const char *key, bool b)
{
    xvs_json_set(o, key, xvs_json_bool(b));
}

XvsJson *xvs_json_get(const XvsJson *o, const char *key)
{
    if (!o || o->type != XVS_JSON_OBJECT) {
        return NULL;
    }
    for (unsigned int i = 0; i < o->keys->len; i++) {
        if (!strcmp(g_ptr_array_index(o->keys, i), key)) {
            return g_ptr_array_index(o->items, i);
        }
    }
    return NULL;
}

const char *xvs_json_get_str(const XvsJson *o, const char *key)
{
    XvsJson *v = xvs_json_get(o, key);

    return v && v->type == XVS_JSON_STRING ? v->str : NULL;
}

bool xvs_json_get_int(const XvsJson *o, const char *key, int64_t *v)
{
    XvsJson *n = xvs_json_get(o, key);

    if (!n || n->type != XVS_JSON_NUMBER) {
        return false;
    }
    *v = (int64_t)n->num;
    return true;
}

unsigned int xvs_json_len(const XvsJson *a)
{
    return a && a->type == XVS_JSON_ARRAY ? a->items->len : 0;
}

XvsJson *xvs_json_at(const XvsJson *a, unsigned int i)
{
    return i < xvs_json_len(a) ? g_ptr_array_index(a->items, i) : NULL;
}

/* ------------------------------------------------------------------ */
/* Parser                                                              */

typedef struct JsonParser {
    const char *p;
    const char *end;
    GError **errp;
} JsonParser;

static bool json_fail(JsonParser *jp, const char *what)
{
    if (jp->errp && !*jp->errp) {
        g_set_error(jp->errp, XVS_ERROR, XVS_ERROR_FAILED,
                    "invalid JSON: %s", what);
    }
    return false;
}

static void json_skip_ws(JsonParser *jp)
{
    while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\t' ||
                               *jp->p == '\n' || *jp->p == '\r')) {
        jp->p++;
    }
}

static bool json_literal(JsonParser *jp, const char *lit)
{
    size_t n = strlen(lit);

    if ((size_t)(jp->end - jp->p) < n || memcmp(jp->p, lit, n)) {
        return json_fail(jp, "unexpected token");
    }
    jp->p += n;
    return true;
}

static int json_hex4(const char *p)
{
    int v = 0;

    for (int i = 0; i < 4; i++) {
        int d = g_ascii_xdigit_value(p[i]);

        if (d < 0) {
            return -1;
        }
        v = v * 16 + d;
    }
    return v;
}

static char *json_parse_string(JsonParser *jp)
{
    g_autoptr(GString) s = g_string_new(NULL);

    jp->p++;                            /* the opening quote */
    while (jp->p < jp->end) {
        unsigned char c = *jp->p++;

        if (c == '"') {
            if (!g_utf8_validate(s->str, s->len, NULL)) {
                json_fail(jp, "string is not UTF-8");
                return NULL;
            }
            return g_string_free(g_steal_pointer(&s), false);
        }
        if (c < 0x20) {
            json_fail(jp, "control character in string");
            return NULL;
        }
        if (c != '\\') {
            g_string_append_c(s, c);
            continue;
        }
        if (jp->p >= jp->end) {
            break;
        }
        c = *jp->p++;
        switch (c) {
        case '"':
        case '\\':
        case '/':
            g_string_append_c(s, c);
            break;
        case 'b':
            g_string_append_c(s, '\b');
            break;
        case 'f':
            g_string_append_c(s, '\f');
            break;
        case 'n':
            g_string_append_c(s, '\n');
            break;
        case 'r':
            g_string_append_c(s, '\r');
            break;
        case 't':
            g_string_append_c(s, '\t');
            break;
        case 'u': {
            int cp = jp->end - jp->p < 4 ? -1 : json_hex4(jp->p);

            if (cp < 0) {
                json_fail(jp, "bad \\u escape");
                return NULL;
            }
            jp->p += 4;
            if (cp >= 0xd800 && cp < 0xdc00) {
                int lo = -1;

                if (jp->end - jp->p >= 6 && jp->p[0] == '\\' &&
                    jp->p[1] == 'u') {
                    lo = json_hex4(jp->p + 2);
                }
                if (lo < 0xdc00 || lo > 0xdfff) {
                    json_fail(jp, "bad surrogate pair");
                    return NULL;
                }
                jp->p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                json_fail(jp, "bad surrogate pair");
                return NULL;
            }
            if (cp == 0) {
                json_fail(jp, "NUL in string");
                return NULL;
            }
            g_string_append_unichar(s, cp);
            break;
        }
        default:
            json_fail(jp, "bad escape");
            return NULL;
        }
    }
    json_fail(jp, "unterminated string");
    return NULL;
}

static XvsJson *json_parse_value(JsonParser *jp, int depth);

static XvsJson *json_parse_number(JsonParser *jp)
{
    const char *start = jp->p;
    g_autofree char *text = NULL;
    XvsJson *j;
    char *end;

    if (jp->p < jp->end && *jp->p == '-') {
        jp->p++;
    }
    if (jp->p >= jp->end || !g_ascii_isdigit(*jp->p)) {
        json_fail(jp, "bad number");
        return NULL;
    }
    while (jp->p < jp->end && (g_ascii_isdigit(*jp->p) || *jp->p == '.' ||
                               *jp->p == 'e' || *jp->p == 'E' ||
                               *jp->p == '+' || *jp->p == '-')) {
        jp->p++;
    }
    text = g_strndup(start, jp->p - start);
    j = json_new(XVS_JSON_NUMBER);
    j->num = g_ascii_strtod(text, &end);
    if (*end) {
        xvs_json_free(j);
        json_fail(jp, "bad number");
        return NULL;
    }
    j->str = g_steal_pointer(&text);
    return j;
}

static XvsJson *json_parse_container(JsonParser *jp, int depth)
{
    bool obj = *jp->p == '{';
    char close = obj ? '}' : ']';
    g_autoptr(XvsJson) j = obj ? xvs_json_object() : xvs_json_array();

    jp->p++;
    json_skip_ws(jp);
    if (jp->p < jp->end && *jp->p == close) {
        jp->p++;
        return g_steal_pointer(&j);
    }
    for (;;) {
        g_autofree char *key = NULL;
        XvsJson *v;

        json_skip_ws(jp);
        if (obj) {
            if (jp->p >= jp->end || *jp->p != '"') {
                json_fail(jp, "expected a key");
                return NULL;
            }
            key = json_parse_string(jp);
            if (!key) {
                return NULL;
            }
            json_skip_ws(jp);
            if (jp->p >= jp->end || *jp->p != ':') {
                json_fail(jp, "expected ':'");
                return NULL;
            }
            jp->p++;
        }
        v = json_parse_value(jp, depth + 1);
        if (!v) {
            return NULL;
        }
        if (obj) {
            xvs_json_set(j, key, v);
        } else {
            xvs_json_append(j, v);
        }
        json_skip_ws(jp);
        if (jp->p < jp->end && *jp->p == ',') {
            jp->p++;
            continue;
        }
        if (jp->p < jp->end && *jp->p == close) {
            jp->p++;
            return g_steal_pointer(&j);
        }
        json_fail(jp, obj ? "expected ',' or '}'" : "expected ',' or ']'");
        return NULL;
    }
}

static XvsJson *json_parse_value(JsonParser *jp, int depth)
{
    if (depth > JSON_MAX_DEPTH) {
        json_fail(jp, "nested too deeply");
        return NULL;
    }
    json_skip_ws(jp);
    if (jp->p >= jp->end) {
        json_fail(jp, "unexpected end");
        return NULL;
    }
    switch (*jp->p) {
    case '{':
    case '[':
        return json_parse_container(jp, depth);
    case '"': {
        char *s = json_parse_string(jp);
        XvsJson *j;

        if (!s) {
            return NULL;
        }
        j = json_new(XVS_JSON_STRING);
        j->str = s;
        return j;
    }
    case 't':
        return json_literal(jp, "true") ? xvs_json_bool(true) : NULL;
    case 'f':
        return json_literal(jp, "false") ? xvs_json_bool(false) : NULL;
    case 'n':
        return json_literal(jp, "null") ? xvs_json_null() : NULL;
    default:
        return json_parse_number(jp);
    }
}

XvsJson *xvs_json_parse(const char *text, size_t len, GError **errp)
{
    JsonParser jp = { .p = text, .end = text + len, .errp = errp };
    g_autoptr(XvsJson) j = json_parse_value(&jp, 0);

    if (!j) {
        return NULL;
    }
    json_skip_ws(&jp);
    if (jp.p != jp.end) {
        json_fail(&jp, "trailing characters");
        return NULL;
    }
    return g_steal_pointer(&j);
}

/* ------------------------------------------------------------------ */
/* Printer                                                             */

void xvs_json_quote(GString *out, const char *s)
{
    g_string_append_c(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            g_string_append(out, "\\\"");
            break;
        case '\\':
            g_string_append(out, "\\\\");
            break;
        case '\n':
            g_string_append(out, "\\n");
            break;
        case '\r':
            g_string_append(out, "\\r");
            break;
        case '\t':
            g_string_append(out, "\\t");
            break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                g_string_append_printf(out, "\\u%04x", *p);
            } else {
                g_string_append_c(out, *p);
            }
        }
    }
    g_string_append_c(out, '"');
}

static void json_indent(GString *out, bool pretty, int level)
{
    if (pretty) {
        g_string_append_c(out, '\n');
        for (int i = 0; i < level; i++) {
            g_string_append(out, "  ");
        }
    }
}

static void json_print(GString *out, const XvsJson *j, bool pretty,
                       int level)
{
    switch (j->type) {
    case XVS_JSON_NULL:
        g_string_append(out, "null");
        break;
    case XVS_JSON_BOOL:
        g_string_append(out, j->b ? "true" : "false");
        break;
    case XVS_JSON_NUMBER:
        g_string_append(out, j->str);
        break;
    case XVS_JSON_STRING:
        xvs_json_quote(out, j->str);
        break;
    case XVS_JSON_ARRAY:
    case XVS_JSON_OBJECT: {
        bool obj = j->type == XVS_JSON_OBJECT;

        g_string_append_c(out, obj ? '{' : '[');
        for (unsigned int i = 0; i < j->items->len; i++) {
            if (i) {
                g_string_append(out, pretty ? "," : ", ");
            }
            json_indent(out, pretty, level + 1);
            if (obj) {
                xvs_json_quote(out, g_ptr_array_index(j->keys, i));
                g_string_append(out, ": ");
            }
            json_print(out, g_ptr_array_index(j->items, i), pretty,
                       level + 1);
        }
        if (j->items->len) {
            json_indent(out, pretty, level);
        }
        g_string_append_c(out, obj ? '}' : ']');
        break;
    }
    }
}

char *xvs_json_to_string(const XvsJson *j, bool pretty)
{
    GString *out = g_string_new(NULL);

    json_print(out, j, pretty, 0);
    return g_string_free(out, false);
}
