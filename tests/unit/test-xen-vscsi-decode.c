/*
 * Unit tests of xen-vscsi's decoders: INQUIRY, VPD 0x80/0x83, the
 * scsi_id WWID, and the JSON parser, on crafted and malformed input.
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#include <string.h>
#include <glib.h>
#include "xen-vscsi.h"
#include "scsi-id.h"
#include "json.h"

static void std_inq(uint8_t *b, size_t len, uint8_t addl)
{
    memset(b, 0, len);
    b[0] = 0x01;
    b[2] = 0x06;
    b[4] = addl;
    memcpy(b + 8, "IBM     ULT3580-HH7     J4D1", 28);
}

static void test_inquiry(void)
{
    uint8_t b[96];
    XvsInquiry q;
    g_autoptr(GError) err = NULL;

    std_inq(b, sizeof(b), 91);
    g_assert_true(xvs_decode_inquiry(b, sizeof(b), &q, &err));
    g_assert_cmpint(q.pdt, ==, 1);
    g_assert_cmpint(q.version, ==, 6);
    g_assert_true(q.have_ids);
    g_assert_cmpstr(q.vendor, ==, "IBM");
    g_assert_cmpstr(q.vendor_raw, ==, "IBM     ");
    g_assert_cmpstr(q.model, ==, "ULT3580-HH7");
    g_assert_cmpstr(q.revision, ==, "J4D1");

    /* The device says it sent fewer bytes than the identification */
    std_inq(b, sizeof(b), 20);
    g_assert_true(xvs_decode_inquiry(b, sizeof(b), &q, &err));
    g_assert_false(q.have_ids);
    /* The buffer is shorter than the claimed length */
    std_inq(b, sizeof(b), 91);
    g_assert_true(xvs_decode_inquiry(b, 35, &q, &err));
    g_assert_false(q.have_ids);
    /* Non-printable bytes */
    std_inq(b, sizeof(b), 91);
    b[9] = 0x07;
    g_assert_true(xvs_decode_inquiry(b, sizeof(b), &q, &err));
    g_assert_cmpstr(q.vendor, ==, "I?M");
    /* Too short to hold even the type */
    g_assert_false(xvs_decode_inquiry(b, 4, &q, &err));
    g_assert_nonnull(strstr(err->message, "too short (4 bytes)"));
}

static void test_vpd80(void)
{
    static const uint8_t ok[] = { 0, 0x80, 0, 8, ' ', ' ', 'A', 'B', 'C',
                                  ' ', ' ', ' ' };
    static const uint8_t wrong[] = { 0, 0x83, 0, 0 };
    static const uint8_t claims[] = { 0, 0x80, 0x01, 0x00, 'X', 'Y' };
    g_autoptr(GError) err = NULL;
    g_autofree char *s = xvs_decode_vpd80(ok, sizeof(ok), &err);
    g_autofree char *t = NULL;

    g_assert_cmpstr(s, ==, "ABC");
    t = xvs_decode_vpd80(claims, sizeof(claims), &err);
    g_assert_cmpstr(t, ==, "XY");
    g_assert_null(xvs_decode_vpd80(wrong, sizeof(wrong), &err));
    g_assert_nonnull(strstr(err->message, "expected, got 0x83"));
    g_clear_error(&err);
    g_assert_null(xvs_decode_vpd80(ok, 3, &err));
}

static GByteArray *page83(void)
{
    GByteArray *p = g_byte_array_new();
    static const uint8_t hdr[4] = { 0, 0x83, 0, 0 };

    g_byte_array_append(p, hdr, 4);
    return p;
}

static void add_desig(GByteArray *p, uint8_t code_set, uint8_t assoc,
                      uint8_t type, const void *data, uint8_t len)
{
    uint8_t h[4] = { code_set, (assoc << 4) | type, 0, len };
    size_t n;

    g_byte_array_append(p, h, 4);
    g_byte_array_append(p, data, len);
    n = p->len - 4;
    p->data[2] = n >> 8;
    p->data[3] = n & 0xff;
}

static const uint8_t naa3[8] = { 0x33, 0x33, 0x33, 0x30, 0, 0, 0x07, 0xd0 };
static const uint8_t naa5[8] = { 0x50, 0x00, 0xc5, 0x00, 0xa1, 0xb2, 0xc3,
                                 0xd4 };
static const uint8_t naa6[16] = { 0x60, 0x01, 0x40, 0x5a, 0xbc, 0xde, 0xf0,
                                  0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde,
                                  0xf0, 0x12 };
static const uint8_t eui[8] = { 0x00, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f, 0x60,
                                0x71 };

static char *wwid_of(GByteArray *p83, const XvsInquiry *q)
{
    return xvs_scsi_id_wwid(q, p83->data, p83->len, NULL, 0);
}

static void test_wwid_order(void)
{
    XvsInquiry q;
    uint8_t inq[96];
    g_autoptr(GError) err = NULL;

    std_inq(inq, sizeof(inq), 91);
    g_assert_true(xvs_decode_inquiry(inq, sizeof(inq), &q, &err));
    {
        /* NAA 5 (IEEE registered) beats NAA 3 (local), whatever the order */
        g_autoptr(GByteArray) p = page83();
        g_autofree char *w = NULL;

        add_desig(p, 1, 0, 3, naa3, 8);
        add_desig(p, 1, 0, 3, naa5, 8);
        w = wwid_of(p, &q);
        g_assert_cmpstr(w, ==, "35000c500a1b2c3d4");
    }
    {
        /* NAA 6 beats NAA 5; a target port's NAA is never the LU's */
        g_autoptr(GByteArray) p = page83();
        g_autofree char *w = NULL;

        add_desig(p, 1, 1, 3, naa6, 16);
        add_desig(p, 1, 0, 3, naa5, 8);
        w = wwid_of(p, &q);
        g_assert_cmpstr(w, ==, "35000c500a1b2c3d4");
        add_desig(p, 1, 0, 3, naa6, 16);
        g_free(w);
        w = wwid_of(p, &q);
        g_assert_cmpstr(w, ==, "36001405abcdef0123456789abcdef012");
    }
    {
        /* EUI-64 beats a T10 vendor id; NAA local beats both */
        g_autoptr(GByteArray) p = page83();
        g_autofree char *w = NULL;

        add_desig(p, 2, 0, 1, "IBM     ULT3580   X1", 20);
        add_desig(p, 1, 0, 2, eui, 8);
        w = wwid_of(p, &q);
        g_assert_cmpstr(w, ==, "2001b2c3d4e5f6071");
        add_desig(p, 1, 0, 3, naa3, 8);
        g_free(w);
        w = wwid_of(p, &q);
        g_assert_cmpstr(w, ==, "333333330000007d0");
    }
    {
        /* T10 text: blanks (after the type digit too) collapsed to one _ */
        g_autoptr(GByteArray) p = page83();
        g_autofree char *w = NULL;

        add_desig(p, 2, 0, 1, "  IBM     ULT3580*HH7   X1  ", 28);
        w = wwid_of(p, &q);
        g_assert_cmpstr(w, ==, "1_IBM_ULT3580_HH7_X1");
    }
    {
        /* Vendor specific: prefixed with the INQUIRY vendor and model */
        g_autoptr(GByteArray) p = page83();
        static const uint8_t vs[2] = { 0xab, 0xcd };
        g_autofree char *w = NULL;

        add_desig(p, 1, 0, 0, vs, 2);
        w = wwid_of(p, &q);
        g_assert_cmpstr(w, ==, "0IBM_ULT3580-HH7_abcd");
    }
    {
        /* Nothing usable in 0x83: the serial number, 'S' */
        g_autoptr(GByteArray) p = page83();
        static const uint8_t p80[] = { 0, 0x80, 0, 4, 'S', 'N', '0', '1' };
        g_autofree char *w = NULL;
        g_autofree char *none = NULL;

        add_desig(p, 3, 0, 8, "eui.0011", 8);
        w = xvs_scsi_id_wwid(&q, p->data, p->len, p80, sizeof(p80));
        g_assert_cmpstr(w, ==, "SIBM_ULT3580-HH7_SN01");
        none = wwid_of(p, &q);
        g_assert_null(none);
    }
    {
        /*
         * Without INQUIRY vendor/model, a vendor-specific designator is
         * skipped, and leaves nothing behind in the next one's WWID.
         */
        g_autoptr(GByteArray) p = page83();
        static const uint8_t vs[2] = { 0xab, 0xcd };
        XvsInquiry bare = q;
        g_autofree char *w = NULL;

        bare.have_ids = false;
        add_desig(p, 1, 0, 0, vs, 2);
        add_desig(p, 2, 0, 1, "IBM     ULT3580   X1", 20);
        w = wwid_of(p, &bare);
        g_assert_cmpstr(w, ==, "1IBM_ULT3580_X1");
    }
    {
        /* A SCSI-2 page (old EMC): the identifier right after the header */
        static const uint8_t emc[] = { 0, 0x83, 0, 4, 0x60, 0x06, 0x48,
                                       0x01 };
        g_autofree char *w = xvs_scsi_id_wwid(&q, emc, sizeof(emc), NULL, 0);

        g_assert_cmpstr(w, ==, "360064801");
    }
}

static void test_vpd83_bounds(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) d = g_ptr_array_new();
    g_autoptr(GByteArray) p = page83();
    g_autofree char *w = NULL;
    XvsInquiry q = { 0 };

    add_desig(p, 1, 0, 3, naa5, 8);
    add_desig(p, 3, 0, 8, "naa.5000C500A1B2C3D4\0\0\0\0", 24);
    g_assert_true(xvs_decode_vpd83(p->data, p->len, d, &err));
    g_assert_cmpuint(d->len, ==, 2);
    g_assert_cmpstr(((XvsDesignator *)d->pdata[0])->value, ==,
                    "5000c500a1b2c3d4");
    g_assert_cmpstr(((XvsDesignator *)d->pdata[1])->value, ==,
                    "naa.5000C500A1B2C3D4");

    /* The buffer ends inside the second designator */
    g_ptr_array_set_size(d, 0);
    g_assert_false(xvs_decode_vpd83(p->data, p->len - 5, d, &err));
    g_assert_nonnull(strstr(err->message, "runs past the page"));
    g_clear_error(&err);
    /* ... and scsi_id's walk stops there too */
    w = xvs_scsi_id_wwid(&q, p->data, 4 + 12 + 2, NULL, 0);
    g_assert_cmpstr(w, ==, "35000c500a1b2c3d4");
    /* A header cut short */
    g_assert_false(xvs_decode_vpd83(p->data, 3, d, &err));
    g_clear_error(&err);
    /* The page length says less than the buffer holds: the rest ignored */
    p->data[3] = 12;
    g_ptr_array_set_size(d, 0);
    g_assert_true(xvs_decode_vpd83(p->data, p->len, d, &err));
    g_assert_cmpuint(d->len, ==, 1);
    /* A designator header that claims 255 bytes in a 20-byte page */
    p->data[3] = 16;
    p->data[4 + 12 + 3] = 255;
    g_assert_false(xvs_decode_vpd83(p->data, p->len, d, &err));
    for (unsigned int i = 0; i < d->len; i++) {
        XvsDesignator *x = d->pdata[i];

        g_free(x->value);
        g_free(x->desc);
        g_free(x);
    }
}

static void test_json(void)
{
    static const char text[] = "{\"return\": [1, -2.5e1, \"\\u00e9"
                               "\\ud83d\\ude00\\\"\", true, null, {}], "
                               "\"k\": 42, \"s\": \"x\"} ";
    static const char *const bad[] = {
        "", "  ", "{", "[1,]", "{\"a\" 1}", "tru", "{\"a\":1}}", "1 2", "-",
        "\"\\ud800\"",
    };
    g_autoptr(GError) err = NULL;
    g_autoptr(JsonNode) j = NULL;
    g_autoptr(JsonNode) again = NULL;
    g_autofree char *s = NULL;
    g_autofree char *one = NULL;
    JsonNode *r;
    int64_t v;
    double d;

    j = xvs_json_parse(text, strlen(text), &err);
    g_assert_no_error(err);
    g_assert_true(xvs_json_get_int(j, "k", &v));
    g_assert_cmpint(v, ==, 42);
    /* a lookup of another type, or of nothing, answers NULL or false */
    g_assert_false(xvs_json_get_int(j, "s", &v));
    g_assert_null(xvs_json_get_str(j, "k"));
    g_assert_null(xvs_json_get_str(j, "absent"));
    g_assert_cmpstr(xvs_json_get_str(j, "s"), ==, "x");
    r = xvs_json_get(j, "return");
    g_assert_null(xvs_json_get(r, "k"));
    g_assert_cmpuint(xvs_json_len(r), ==, 6);
    g_assert_cmpuint(xvs_json_len(j), ==, 0);
    g_assert_null(xvs_json_at(r, 6));
    one = xvs_json_text(xvs_json_at(r, 0));
    g_assert_cmpstr(one, ==, "1");
    g_assert_true(xvs_json_number(xvs_json_at(r, 1), &d));
    g_assert_cmpfloat(d, ==, -25.0);
    g_assert_cmpstr(json_node_get_string(xvs_json_at(r, 2)), ==,
                    "\xc3\xa9\xf0\x9f\x98\x80\"");
    g_assert_true(xvs_json_is_true(xvs_json_at(r, 3)));
    g_assert_false(xvs_json_is_true(xvs_json_at(r, 4)));
    g_assert_null(xvs_json_text(xvs_json_at(r, 4)));
    g_assert_null(xvs_json_text(xvs_json_at(r, 5)));
    /* what it prints parses back to the same values */
    s = xvs_json_to_string(j, false);
    again = xvs_json_parse(s, strlen(s), &err);
    g_assert_no_error(err);
    g_assert_true(json_node_equal(j, again));
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        JsonNode *x = xvs_json_parse(bad[i], strlen(bad[i]), &err);

        g_assert_null(x);
        g_assert_nonnull(err);
        g_clear_error(&err);
    }
}

static void test_hctl(void)
{
    unsigned int h[4];

    g_assert_true(xvs_parse_hctl("1:0:63:255", h));
    g_assert_cmpuint(h[2], ==, 63);
    g_assert_false(xvs_parse_hctl("1:0:0", h));
    g_assert_false(xvs_parse_hctl("1:0:0:0:", h));
    g_assert_false(xvs_parse_hctl("1:-1:0:0", h));
    g_assert_false(xvs_parse_hctl("1:0:0:99999999999", h));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/xen-vscsi/inquiry", test_inquiry);
    g_test_add_func("/xen-vscsi/vpd80", test_vpd80);
    g_test_add_func("/xen-vscsi/wwid-order", test_wwid_order);
    g_test_add_func("/xen-vscsi/vpd83-bounds", test_vpd83_bounds);
    g_test_add_func("/xen-vscsi/json", test_json);
    g_test_add_func("/xen-vscsi/hctl", test_hctl);
    return g_test_run();
}
