/*
 * libqos: a vscsiif frontend (what xen-scsifront does) for qtest
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#ifndef LIBQOS_XEN_VSCSIFRONT_H
#define LIBQOS_XEN_VSCSIFRONT_H

#include "xen-qtest.h"
#include "hw/xen/interface/io/vscsiif.h"

typedef struct QVscsiFront {
    QXen *x;
    unsigned int devid;
    char *fe;                   /* /local/domain/<domid>/device/vscsi/<devid> */
    char *be;                   /* .../backend/qvscsi/<domid>/<devid> */
    QXenRing ring;
    uint32_t port;
    uint16_t next_rqid;
    bool connected;
} QVscsiFront;

/* One SCSI command and its outcome. */
typedef struct QVscsiCmd {
    uint16_t channel, id, lun;
    uint8_t cdb[VSCSIIF_MAX_COMMAND_SIZE];
    uint8_t cdb_len;
    int dir;                    /* VSCSIIF_DMA_* */
    void *data;                 /* data out, or buffer for data in */
    size_t len;
    bool indirect;              /* use VSCSIIF_SG_GRANT even if small */
    /* results */
    int32_t rslt;
    uint32_t residual;
    uint8_t sense[VSCSIIF_SENSE_BUFFERSIZE];
    uint8_t sense_len;
} QVscsiCmd;

void qvscsi_init(QVscsiFront *f, QXen *x, unsigned int devid);
void qvscsi_free(QVscsiFront *f);
char *qvscsi_be_key(QVscsiFront *f, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Initialised -> wait for backend Connected -> Connected */
void qvscsi_connect(QVscsiFront *f);
/* Closing -> wait for backend Closing -> Closed -> wait for Closed */
void qvscsi_close(QVscsiFront *f);

/* Send a command, wait for its response; data in is copied to c->data. */
void qvscsi_cmd(QVscsiFront *f, QVscsiCmd *c);
/* Put a raw request on the ring (rqid as given) without waiting. */
void qvscsi_put_raw(QVscsiFront *f, const vscsiif_request_t *rq);
void qvscsi_push(QVscsiFront *f);
/* Wait for and consume the next response. */
bool qvscsi_get_response(QVscsiFront *f, vscsiif_response_t *rsp,
                         int timeout_ms);

#endif
