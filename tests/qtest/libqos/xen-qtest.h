/*
 * libqos helpers for Xen frontends under the xen-qtest-hv emulation
 *
 * A qtest program plays a Xen guest: it talks to xenstore with stock
 * libxenstore (pointed at the emulation's sockets), grants its pages in the
 * emulated v1 grant table, and exchanges event-channel notifications through
 * the emulation's registers.
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef LIBQOS_XEN_QTEST_H
#define LIBQOS_XEN_QTEST_H

#include <xenstore.h>
#include "../libqtest.h"
#include "qobject/qdict.h"
#include "libqos-malloc.h"

#define QXEN_PAGE_SIZE          4096
#define QXEN_GNTTAB_BASE        0xfeff0000ULL
#define QXEN_MMIO_BASE          0xfeffc000ULL
#define QXEN_NR_PORTS           64
/* Like Linux, keep the first grant references for the toolstack. */
#define QXEN_FIRST_FREE_GREF    8

/* Registers of xen-qtest-hv */
#define QXEN_REG_EVTCHN_SEND    0x00
#define QXEN_REG_PENDING_LO     0x08
#define QXEN_REG_PENDING_HI     0x0c
#define QXEN_REG_NOTIFY_CNT     0x10
#define QXEN_REG_DOMID          0x14
#define QXEN_REG_GNT_FRAMES     0x18

/* Grant entry flags (xen/grant_table.h) */
#define QXEN_GTF_permit_access  (1U << 0)
#define QXEN_GTF_readonly       (1U << 2)
#define QXEN_GTF_reading        (1U << 3)
#define QXEN_GTF_writing        (1U << 4)

/* Default wait for anything the backend does, in milliseconds. */
#define QXEN_TIMEOUT_MS         10000

typedef struct QXen {
    QTestState *qts;
    QGuestAllocator alloc;
    unsigned int domid;
    char *tmpdir;
    char *xs_path;              /* guest xenstore socket */
    char *xs_priv_path;         /* dom0/toolstack xenstore socket */
    struct xs_handle *xs;       /* connection acting as the guest */
    struct xs_handle *xs_priv;  /* connection acting as dom0 */
    uint32_t nr_grefs;
    unsigned long *gref_used;
    uint64_t ports_used;
    unsigned int watch_seq;
} QXen;

/*
 * Start QEMU (-M pc, -accel qtest) with xen-qtest-hv for guest @domid,
 * followed by the extra arguments, and connect both xenstore connections.
 */
QXen *qxen_start(unsigned int domid, const char *extra_fmt, ...)
    G_GNUC_PRINTF(2, 3);
void qxen_stop(QXen *x);

/*
 * Save and restore as libxl does it.  QXEN_MIGRATION_GLOBALS are the
 * migration settings of QEMU under Xen (xen_accel_class_init's globals and
 * the xenfv machines' suppress-vmdesc), for both sides.
 */
#define QXEN_MIGRATION_GLOBALS \
    " -global migration.store-global-state=off" \
    " -global migration.send-configuration=off" \
    " -global migration.send-section-footer=off" \
    " -machine suppress-vmdesc=on "
/* An empty temporary file for a device state; the caller frees the name */
char *qxen_state_file(void);
/* QMP stop, then xen-save-devices-state into @file: its response */
QDict *qxen_save_devices_state(QXen *x, const char *file);
/* Wait for a QEMU started with -incoming to load its state and run */
void qxen_wait_incoming(QXen *x);

/*
 * Case watchdog.  A case that hangs (QEMU stuck in a drain, a target that
 * never answers, libqtest waiting for a reply that never comes) would run
 * into the harness's timeout with nothing to show for it.  While armed, a
 * thread waits for the deadline; when it passes, it prints on stderr what
 * was running, calls the hook (if any), runs the script named by
 * $QXEN_HANG_REPORT with the program's PID and the watched PID, if any
 * (tests/qtest/xen-qtest-hang-report.sh: where each of them and every
 * child process is stuck, then SIGKILL), prints a TAP "Bail out!" and
 * exits with status 1.
 *
 * The default deadline of a case is QXEN_CASE_TIMEOUT_S, or
 * $QXEN_CASE_TIMEOUT seconds (0 turns the watchdog off: for valgrind).
 */
#define QXEN_CASE_TIMEOUT_S     60

void qxen_watchdog_arm(const char *what, int seconds);
void qxen_watchdog_disarm(void);
void qxen_watchdog_set_hook(void (*hook)(void));
/* A process that is no child of ours (a daemon) to report on; 0: none */
void qxen_watchdog_watch_pid(pid_t pid);
int qxen_case_timeout(void);
/* qtest_add_func() under the watchdog, with the default deadline */
void qxen_add_test(const char *path, void (*fn)(void));

typedef struct QXenTestCase {
    const char *name;
    void (*fn)(void);
} QXenTestCase;

/*
 * Register each of the @n @cases twice under the case watchdog, as
 * /<prefix>/<name> and /<prefix>/iothread/<name>; *@use_iothread is set
 * to which of the two runs, for the case to start QEMU accordingly.
 */
void qxen_add_tests_twice(const char *prefix, const QXenTestCase *cases,
                          size_t n, bool *use_iothread);

/* Open one more connection (as the guest, or with @priv as dom0). */
struct xs_handle *qxen_xs_open(QXen *x, bool priv);

/* Guest pages */
uint64_t qxen_alloc_pages(QXen *x, unsigned int n);

/* xenstore, on either connection */
char *qxs_read(struct xs_handle *h, const char *path);
int qxs_read_int(struct xs_handle *h, const char *path, int dflt);
bool qxs_try_write(struct xs_handle *h, const char *path, const char *val);
void qxs_write(struct xs_handle *h, const char *path, const char *val);
void qxs_printf(struct xs_handle *h, const char *path, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
void qxs_mkdir(struct xs_handle *h, const char *path);
void qxs_rm(struct xs_handle *h, const char *path);
bool qxs_exists(struct xs_handle *h, const char *path);
char **qxs_directory(struct xs_handle *h, const char *path, unsigned int *n);
/* owner gets "n", every domain in @readers gets XS_PERM_READ */
void qxs_set_perms(struct xs_handle *h, const char *path, unsigned int owner,
                   const unsigned int *readers, unsigned int nr_readers);
/*
 * Wait, with a xenstore watch, until @path reads @want (NULL: until it is
 * gone).  Returns false on timeout.
 */
bool qxs_wait_value(QXen *x, struct xs_handle *h, const char *path,
                    const char *want, int timeout_ms);
/* Assert that @path reaches XenbusState @state. */
void qxs_wait_state(QXen *x, struct xs_handle *h, const char *path,
                    int state);

/* Grant table */
uint32_t qxen_grant(QXen *x, uint64_t gpa, bool readonly);
void qxen_grant_at(QXen *x, uint32_t ref, uint64_t gpa, bool readonly);
uint16_t qxen_grant_flags(QXen *x, uint32_t ref);
bool qxen_grant_in_use(QXen *x, uint32_t ref);
/* Revoke a grant; fails the test if the backend still has it mapped. */
void qxen_ungrant(QXen *x, uint32_t ref);

/* Event channels */
uint32_t qxen_evtchn_alloc(QXen *x);
void qxen_evtchn_free(QXen *x, uint32_t port);
void qxen_evtchn_kick(QXen *x, uint32_t port);
bool qxen_evtchn_pending(QXen *x, uint32_t port);
void qxen_evtchn_ack(QXen *x, uint32_t port);
bool qxen_evtchn_wait(QXen *x, uint32_t port, int timeout_ms);
uint32_t qxen_notify_count(QXen *x);
bool qxen_upcall_level(QXen *x);

/*
 * A shared ring page as in xen/io/ring.h: a 64-byte header (req_prod,
 * req_event, rsp_prod, rsp_event, padding) followed by entries of the size
 * of the request/response union.
 */
typedef struct QXenRing {
    uint64_t gpa;
    uint32_t ref;
    size_t entry_size;
    uint32_t nr_ents;
    uint32_t req_prod_pvt;
    uint32_t rsp_cons;
} QXenRing;

#define QXEN_RING_HDR_SIZE      64
/* Offsets of the header's fields */
#define QXEN_RING_REQ_PROD      0
#define QXEN_RING_REQ_EVENT     4
#define QXEN_RING_RSP_PROD      8
#define QXEN_RING_RSP_EVENT     12

void qxen_ring_init(QXen *x, QXenRing *r, size_t entry_size);
uint64_t qxen_ring_slot(QXenRing *r, uint32_t idx);
/* Copy a request into the next free slot (not yet visible). */
void qxen_ring_put_request(QXen *x, QXenRing *r, const void *req, size_t len);
/* Publish the requests; returns whether the backend asked to be kicked. */
bool qxen_ring_push_requests(QXen *x, QXenRing *r);
uint32_t qxen_ring_rsp_prod(QXen *x, QXenRing *r);
uint32_t qxen_ring_req_event(QXen *x, QXenRing *r);
/*
 * Wait until the backend consumed every pushed request and re-armed
 * req_event (its final check found the ring empty).
 */
bool qxen_ring_wait_consumed(QXen *x, QXenRing *r, int timeout_ms);
/* Wait until @n unconsumed responses are on the ring. */
bool qxen_ring_wait_responses(QXen *x, QXenRing *r, uint32_t n,
                              int timeout_ms);
/* Consume the next response. */
void qxen_ring_get_response(QXen *x, QXenRing *r, void *rsp, size_t len);
/* Revoke the ring's grant (asserts the backend unmapped it). */
void qxen_ring_destroy(QXen *x, QXenRing *r);

#endif
