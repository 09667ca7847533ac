/*
 * libqos: a vscsiif frontend (what xen-scsifront does) for qtest
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef LIBQOS_XEN_VSCSIFRONT_H
#define LIBQOS_XEN_VSCSIFRONT_H

#include "xen-qtest.h"
#include "hw/xen/interface/io/vscsiif.h"

/* 16 requests in a 4 KiB ring, as in Linux's xen-scsifront */
#define QVSCSI_RING_SIZE        __CONST_RING_SIZE(vscsiif, QXEN_PAGE_SIZE)

typedef struct QVscsiCmd QVscsiCmd;

typedef struct QVscsiFront {
    QXen *x;
    unsigned int devid;
    char *fe;                   /* /local/domain/<domid>/device/vscsi/<devid> */
    char *be;                   /* .../backend/qvscsi/<domid>/<devid> */
    QXenRing ring;
    uint32_t port;
    uint16_t next_rqid;
    bool connected;
    /*
     * Behave as Windows' GPLPV xenscsi: at most VSCSIIF_SG_TABLESIZE
     * direct segments, never indirect ones, no ABORT or RESET, direction 0
     * for a request of unspecified direction (the caller's), and no part
     * in hot-plug: it never answers Reconfiguring (qvscsi_reconfigure()
     * asserts).
     */
    bool gplpv;
    QVscsiCmd *pending[QVSCSI_RING_SIZE];   /* by rqid */
    unsigned int nr_pending;
    unsigned int next_seq;
} QVscsiFront;

/* One SCSI command (or TMF) and its outcome. */
struct QVscsiCmd {
    uint8_t act;                /* 0 means VSCSIIF_ACT_SCSI_CDB */
    uint16_t ref_rqid;          /* ABORT: the victim */
    uint16_t channel, id, lun;
    uint8_t cdb[VSCSIIF_MAX_COMMAND_SIZE];
    uint8_t cdb_len;
    int dir;                    /* VSCSIIF_DMA_* */
    void *data;                 /* data out, or buffer for data in */
    size_t len;
    bool indirect;              /* use VSCSIIF_SG_GRANT even if small */
    /* set when started */
    uint16_t rqid;
    /* results */
    bool done;
    unsigned int seq;           /* order of completion on this frontend */
    int32_t rslt;
    uint32_t residual;
    uint8_t sense[VSCSIIF_SENSE_BUFFERSIZE];
    uint8_t sense_len;
    /* private */
    size_t npages, nind;
    uint64_t data_gpa, ind_gpa;
    uint32_t *grefs;
    uint32_t ind_refs[VSCSIIF_SG_TABLESIZE];
};

void qvscsi_init(QVscsiFront *f, QXen *x, unsigned int devid);
/* Fill in a SCSI command (a CDB request) to LUN channel:id:lun. */
void qvscsi_cmd_init(QVscsiCmd *c, int channel, int id, int lun,
                     const uint8_t *cdb, int cdb_len, int dir, void *data,
                     size_t len);
void qvscsi_free(QVscsiFront *f);
char *qvscsi_be_key(QVscsiFront *f, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Initialised -> wait for backend Connected -> Connected */
void qvscsi_connect(QVscsiFront *f);
/* Linux's reconnect after a resume: it adds no LUN (see the .c) */
void qvscsi_connect_resumed(QVscsiFront *f);
/*
 * Closing -> wait for backend Closing -> Closed -> wait for Closed.
 * Commands still pending are forgotten (their grants revoked: the backend
 * must have released them).
 */
void qvscsi_close(QVscsiFront *f);
/*
 * After the frontend's Closed: wait for the backend to be Closed, or
 * already InitWait again (an online backend, ready for a new frontend).
 */
void qvscsi_wait_closed(QVscsiFront *f);
/*
 * After the backend is gone or closed: forget pending commands and free the
 * ring, asserting that the backend released every grant.
 */
void qvscsi_release(QVscsiFront *f);

/*
 * Put a command on the ring with a free rqid (asserts there is one) and
 * its buffers granted; qvscsi_push() publishes it.
 */
void qvscsi_cmd_start(QVscsiFront *f, QVscsiCmd *c);
/*
 * Consume one response and complete its command: results copied, data in
 * read back, every grant checked released and revoked.  Asserts that the
 * response is for a pending command.  Returns false on timeout.
 */
bool qvscsi_poll(QVscsiFront *f, int timeout_ms);
/* Poll until @c is done (asserts it gets done in QXEN_TIMEOUT_MS). */
void qvscsi_cmd_wait(QVscsiFront *f, QVscsiCmd *c);
/*
 * Send a command, wait for its response, and assert that no other response
 * arrived with it.
 */
void qvscsi_cmd(QVscsiFront *f, QVscsiCmd *c);
/* TEST UNIT READY to channel:id:lun; returns the response's rslt. */
int32_t qvscsi_tur(QVscsiFront *f, int channel, int id, int lun);

/*
 * One hotplug round as xen-scsifront does it: wait for the backend's
 * Reconfiguring, let go of the LUNs in backend state Closing (our
 * dev-N/state 6), answer Reconfiguring, wait for Reconfigured, add the LUNs
 * in backend state Initialised (our dev-N/state 4), answer Connected, wait
 * for the backend's Connected (or its next Reconfiguring).  Reports how
 * many were added and removed.
 */
void qvscsi_reconfigure(QVscsiFront *f, unsigned int *added,
                        unsigned int *removed);
/*
 * The same round as a late answer: to a Reconfiguring that the backend
 * gave up on (reconfigure-timeout) and left for Connected.
 */
void qvscsi_reconfigure_late(QVscsiFront *f, unsigned int *added,
                             unsigned int *removed);

/* Put a raw request on the ring (rqid as given) without waiting. */
void qvscsi_put_raw(QVscsiFront *f, const vscsiif_request_t *rq);
void qvscsi_push(QVscsiFront *f);
/* Wait for and consume the next response. */
bool qvscsi_get_response(QVscsiFront *f, vscsiif_response_t *rsp,
                         int timeout_ms);

#endif
