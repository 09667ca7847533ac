/*
 * vscsiif.h: the Xen paravirtual SCSI I/O interface (vscsiif)
 *
 * Written for qemu-xen-pvscsi from the protocol as the Linux frontend
 * (xen-scsifront) and backend (xen-scsiback) implement it and as Xen's
 * public header defines it; the layout and the values are ABI and must not
 * change.  Requests and responses are 252 bytes on every architecture, so
 * there is no 32/64-bit protocol split as with blkif.
 *
 * xenstore (backend directory, type "vscsi" for Linux's xen-scsiback):
 *   feature-sg-grant      number of data segments the backend accepts in
 *                         one request through indirect pages (>= 26), or
 *                         absent
 *   vscsi-devs/dev-N/     one directory per LUN:
 *       p-dev             physical device (backend's own naming)
 *       v-dev             virtual "host:channel:target:lun"
 *       state             XenbusState of this LUN: 1 to be added, 3 added
 *                         by the backend, 4 in use by the frontend, 5 to be
 *                         removed, 6 removed
 * frontend directory: ring-ref, event-channel, and per LUN
 *   vscsi-devs/dev-N/vdev the frontend's own name for the LUN
 *
 * A LUN is hot-plugged or unplugged while connected by setting the device
 * state to Reconfiguring (7); the frontend acts on the LUN states and
 * answers Reconfigured (8); the backend then returns to Connected (4).
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef XEN_PUBLIC_IO_VSCSIIF_H
#define XEN_PUBLIC_IO_VSCSIIF_H

#include "ring.h"
#include "../grant_table.h"

/* Request actions */
#define VSCSIIF_ACT_SCSI_CDB        1   /* SCSI command */
#define VSCSIIF_ACT_SCSI_ABORT      2   /* abort the task ref_rqid */
#define VSCSIIF_ACT_SCSI_RESET      3   /* reset the addressed LUN */
#define VSCSIIF_ACT_SCSI_SG_PRESET  4   /* obsolete, never to be used */

/* Direct segments per request; also the maximum of indirect pages. */
#define VSCSIIF_SG_TABLESIZE        26

#define VSCSIIF_MAX_COMMAND_SIZE    16
#define VSCSIIF_SENSE_BUFFERSIZE    96
#define VSCSIIF_PAGE_SIZE           4096

/* In nr_segments: seg[] describes pages holding vscsiif_request_segment[] */
#define VSCSIIF_SG_GRANT            0x80

struct scsiif_request_segment {
    grant_ref_t gref;
    uint16_t offset;
    uint16_t length;
};
typedef struct scsiif_request_segment vscsiif_segment_t;

#define VSCSIIF_SG_PER_PAGE \
    (VSCSIIF_PAGE_SIZE / sizeof(struct scsiif_request_segment))

/* sc_data_direction: Linux's enum dma_data_direction */
#define VSCSIIF_DMA_BIDIRECTIONAL   0
#define VSCSIIF_DMA_TO_DEVICE       1
#define VSCSIIF_DMA_FROM_DEVICE     2
#define VSCSIIF_DMA_NONE            3

struct vscsiif_request {
    uint16_t rqid;              /* echoed in the response */
    uint8_t act;                /* VSCSIIF_ACT_* */
    uint8_t cmd_len;            /* valid bytes in cmnd[] */
    uint8_t cmnd[VSCSIIF_MAX_COMMAND_SIZE];
    uint16_t timeout_per_command;   /* obsolete */
    uint16_t channel, id, lun;  /* virtual address of the LUN */
    uint16_t ref_rqid;          /* VSCSIIF_ACT_SCSI_ABORT: task to abort */
    uint8_t sc_data_direction;  /* VSCSIIF_DMA_* */
    uint8_t nr_segments;        /* count, possibly | VSCSIIF_SG_GRANT */
    struct scsiif_request_segment seg[VSCSIIF_SG_TABLESIZE];
    uint32_t reserved[3];
};
typedef struct vscsiif_request vscsiif_request_t;

struct vscsiif_response {
    uint16_t rqid;
    uint8_t padding;
    uint8_t sense_len;
    uint8_t sense_buffer[VSCSIIF_SENSE_BUFFERSIZE];
    int32_t rslt;
    uint32_t residual_len;      /* bytes not transferred */
    uint32_t reserved[36];
};
typedef struct vscsiif_response vscsiif_response_t;

/*
 * rslt: bits 0-7 SCSI status byte, bits 16-23 host status; the others are
 * zero.  Task management requests are answered with a whole-word value.
 */
#define XEN_VSCSIIF_RSLT_STATUS(x)  ((x) & 0x00ff)
#define XEN_VSCSIIF_RSLT_HOST(x)    (((x) & 0x00ff0000) >> 16)
#define XEN_VSCSIIF_RSLT_HOST_OK                    0
#define XEN_VSCSIIF_RSLT_HOST_NO_CONNECT            1
#define XEN_VSCSIIF_RSLT_HOST_BUS_BUSY              2
#define XEN_VSCSIIF_RSLT_HOST_TIME_OUT              3
#define XEN_VSCSIIF_RSLT_HOST_BAD_TARGET            4
#define XEN_VSCSIIF_RSLT_HOST_ABORT                 5
#define XEN_VSCSIIF_RSLT_HOST_PARITY                6
#define XEN_VSCSIIF_RSLT_HOST_ERROR                 7
#define XEN_VSCSIIF_RSLT_HOST_RESET                 8
#define XEN_VSCSIIF_RSLT_HOST_BAD_INTR              9
#define XEN_VSCSIIF_RSLT_HOST_PASSTHROUGH           10
#define XEN_VSCSIIF_RSLT_HOST_SOFT_ERROR            11
#define XEN_VSCSIIF_RSLT_HOST_IMM_RETRY             12
#define XEN_VSCSIIF_RSLT_HOST_REQUEUE               13
#define XEN_VSCSIIF_RSLT_HOST_TRANSPORT_DISRUPTED   14
#define XEN_VSCSIIF_RSLT_HOST_TRANSPORT_FAILFAST    15
#define XEN_VSCSIIF_RSLT_HOST_TARGET_FAILURE        16
#define XEN_VSCSIIF_RSLT_HOST_NEXUS_FAILURE         17
#define XEN_VSCSIIF_RSLT_HOST_ALLOC_FAILURE         18
#define XEN_VSCSIIF_RSLT_HOST_MEDIUM_ERROR          19
#define XEN_VSCSIIF_RSLT_HOST_TRANSPORT_MARGINAL    20
#define XEN_VSCSIIF_RSLT_HOST_LAST                  20

#define XEN_VSCSIIF_RSLT_RESET_SUCCESS  0x2002
#define XEN_VSCSIIF_RSLT_RESET_FAILED   0x2003

DEFINE_RING_TYPES(vscsiif, struct vscsiif_request, struct vscsiif_response);

#endif /* XEN_PUBLIC_IO_VSCSIIF_H */
