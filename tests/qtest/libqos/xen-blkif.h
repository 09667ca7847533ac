/*
 * libqos: the blkif protocol (Xen's block device rings) for qtest frontends
 *
 * The x86_64 ABI, the one a frontend announces with protocol=x86_64-abi.
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef LIBQOS_XEN_BLKIF_H
#define LIBQOS_XEN_BLKIF_H

#define BLKIF_OP_READ   0
#define BLKIF_OP_WRITE  1
#define BLKIF_RSP_OKAY  0
#define BLKIF_RSP_ERROR (-1)
/* Segments per request (BLKIF_MAX_SEGMENTS_PER_REQUEST) */
#define BLKIF_SEGS      11
/* Ring entries: the size of the request/response union, and per page */
#define BLKIF_ENTRY     112
#define BLKIF_RING      32

#define VDEV_XVDA       51712   /* (202 << 8) | (0 << 4) */
#define VDEV_XVDB       51728
#define VDEV_XVDC       51744

typedef struct QEMU_PACKED BlkifSeg {
    uint32_t gref;
    uint8_t first_sect;
    uint8_t last_sect;
    uint16_t pad;
} BlkifSeg;

typedef struct QEMU_PACKED BlkifRequest {
    uint8_t operation;
    uint8_t nr_segments;
    uint16_t handle;
    uint32_t pad;
    uint64_t id;
    uint64_t sector_number;
    BlkifSeg seg[BLKIF_SEGS];
} BlkifRequest;

typedef struct QEMU_PACKED BlkifResponse {
    uint64_t id;
    uint8_t operation;
    uint8_t pad;
    int16_t status;
} BlkifResponse;

QEMU_BUILD_BUG_ON(sizeof(BlkifRequest) != BLKIF_ENTRY);

#endif
