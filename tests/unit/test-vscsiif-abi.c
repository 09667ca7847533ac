/*
 * The vscsiif ABI: sizes and offsets of include/hw/xen/interface/io/vscsiif.h
 * checked against the protocol (the Linux pair's wire format).
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#include "vscsiif.h"

#define CHECK_OFFSET(type, field, off) \
    g_assert_cmpuint(offsetof(type, field), ==, off)

static void test_segment(void)
{
    g_assert_cmpuint(sizeof(struct scsiif_request_segment), ==, 8);
    CHECK_OFFSET(struct scsiif_request_segment, gref, 0);
    CHECK_OFFSET(struct scsiif_request_segment, offset, 4);
    CHECK_OFFSET(struct scsiif_request_segment, length, 6);
    g_assert_cmpuint(VSCSIIF_SG_PER_PAGE, ==, 512);
}

static void test_request(void)
{
    g_assert_cmpuint(sizeof(struct vscsiif_request), ==, 252);
    CHECK_OFFSET(struct vscsiif_request, rqid, 0);
    CHECK_OFFSET(struct vscsiif_request, act, 2);
    CHECK_OFFSET(struct vscsiif_request, cmd_len, 3);
    CHECK_OFFSET(struct vscsiif_request, cmnd, 4);
    CHECK_OFFSET(struct vscsiif_request, timeout_per_command, 20);
    CHECK_OFFSET(struct vscsiif_request, channel, 22);
    CHECK_OFFSET(struct vscsiif_request, id, 24);
    CHECK_OFFSET(struct vscsiif_request, lun, 26);
    CHECK_OFFSET(struct vscsiif_request, ref_rqid, 28);
    CHECK_OFFSET(struct vscsiif_request, sc_data_direction, 30);
    CHECK_OFFSET(struct vscsiif_request, nr_segments, 31);
    CHECK_OFFSET(struct vscsiif_request, seg, 32);
    CHECK_OFFSET(struct vscsiif_request, reserved, 240);
}

static void test_response(void)
{
    g_assert_cmpuint(sizeof(struct vscsiif_response), ==, 252);
    CHECK_OFFSET(struct vscsiif_response, rqid, 0);
    CHECK_OFFSET(struct vscsiif_response, padding, 2);
    CHECK_OFFSET(struct vscsiif_response, sense_len, 3);
    CHECK_OFFSET(struct vscsiif_response, sense_buffer, 4);
    CHECK_OFFSET(struct vscsiif_response, rslt, 100);
    CHECK_OFFSET(struct vscsiif_response, residual_len, 104);
    CHECK_OFFSET(struct vscsiif_response, reserved, 108);
}

static void test_ring(void)
{
    /* 64-byte header, 16 entries of 252 bytes: the page exactly. */
    g_assert_cmpuint(offsetof(struct vscsiif_sring, ring), ==, 64);
    g_assert_cmpuint(__CONST_RING_SIZE(vscsiif, VSCSIIF_PAGE_SIZE), ==, 16);
    g_assert_cmpuint(sizeof(union vscsiif_sring_entry), ==, 252);
}

static void test_result_codes(void)
{
    int32_t rslt = (XEN_VSCSIIF_RSLT_HOST_NO_CONNECT << 16) | 0x02;

    g_assert_cmpint(XEN_VSCSIIF_RSLT_HOST(rslt), ==, 1);
    g_assert_cmpint(XEN_VSCSIIF_RSLT_STATUS(rslt), ==, 2);
    g_assert_cmpint(XEN_VSCSIIF_RSLT_RESET_SUCCESS, ==, 0x2002);
    g_assert_cmpint(XEN_VSCSIIF_RSLT_RESET_FAILED, ==, 0x2003);
    g_assert_cmpint(XEN_VSCSIIF_RSLT_HOST_TRANSPORT_MARGINAL, ==, 20);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vscsiif-abi/segment", test_segment);
    g_test_add_func("/vscsiif-abi/request", test_request);
    g_test_add_func("/vscsiif-abi/response", test_response);
    g_test_add_func("/vscsiif-abi/ring", test_ring);
    g_test_add_func("/vscsiif-abi/result-codes", test_result_codes);
    return g_test_run();
}
