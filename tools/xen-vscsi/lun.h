/*
 * xen-vscsi: from an xl.cfg vscsi entry to QEMU's configuration
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#ifndef XEN_VSCSI_LUN_H
#define XEN_VSCSI_LUN_H

#include <glib.h>
#include <stdbool.h>
#include "host.h"
#include "json.h"

/* Limits of Linux's xen-scsifront, which the device enforces too */
#define XVS_MAX_CHANNEL     7
#define XVS_MAX_TARGET      63
#define XVS_MAX_LUN         255

typedef enum XvsOptKind {
    XVS_OPT_STR,
    XVS_OPT_BOOL,
    XVS_OPT_INT,
} XvsOptKind;

/* One option of a -blockdev/-device/-object, "key=value" */
typedef struct XvsOpt {
    char *key;                  /* dotted for nested ones: cache.direct */
    char *value;                /* "on"/"off" for a bool */
    XvsOptKind kind;
} XvsOpt;

typedef struct XvsLunSpec {
    char *text;                 /* as given */
    char *pdev;
    unsigned int vdev[4];       /* H:C:T:L, H = xen-pvscsi devid */
    char *model;                /* qemu-device=, or NULL */
    bool ro;
} XvsLunSpec;

typedef struct XvsLunPlan {
    XvsLunSpec spec;
    XvsPdev pdev;
    int pdt;                    /* peripheral type, -1 if unknown */
    const char *model;          /* scsi-block, scsi-generic, ... */
    char *node;                 /* -blockdev node-name */
    char *id;                   /* -device id */
    GPtrArray *blockdev;        /* XvsOpt */
    GPtrArray *device;          /* XvsOpt, without the driver */
    GPtrArray *secret;          /* -object secret for a CHAP password */
} XvsLunPlan;

typedef struct XvsPlanOpts {
    const char *initiator;      /* iSCSI initiator name, or NULL */
    const char *tool_initiator; /* the tool's own iSCSI sessions */
    bool iothread;
    /* qemu-pr-helper's socket: SCSI passthrough of host devices through it */
    const char *pr_helper;
    /* devid -> more "key=value,..." options of its -device xen-pvscsi */
    GHashTable *hba_extra;
    /* devid -> the id of its IOThread (in hba_extra already), if any */
    GHashTable *hba_iothread;
} XvsPlanOpts;

/* The id of the pr-manager-helper object that --pr-manager adds */
#define XVS_PR_MANAGER_ID   "vscsi-pr"

bool xvs_lun_spec_parse(const char *text, XvsLunSpec *out, GError **errp);
void xvs_lun_spec_clear(XvsLunSpec *s);
bool xvs_lun_plan(XvsHost *h, const char *text, const XvsPlanOpts *o,
                  XvsLunPlan *out, GError **errp);
void xvs_lun_plan_clear(XvsLunPlan *p);

/* Names derived from the virtual address, so detach can find them */
char *xvs_hba_id(unsigned int devid);
char *xvs_iothread_id(unsigned int devid);
char *xvs_lun_id(const unsigned int vdev[4]);
char *xvs_lun_node(const unsigned int vdev[4]);

/* -device xen-pvscsi options for host @devid */
GPtrArray *xvs_hba_opts(unsigned int devid, const XvsPlanOpts *o);

/* "driver=...,key=value,..." with commas in values doubled */
char *xvs_opts_cmdline(const char *first, GPtrArray *opts);
/* A QMP arguments object; dotted keys become nested objects. */
JsonNode *xvs_opts_qmp(GPtrArray *opts);
void xvs_opt_add(GPtrArray *opts, const char *key, XvsOptKind kind,
                 const char *fmt, ...) G_GNUC_PRINTF(4, 5);
GPtrArray *xvs_opts_new(void);

/* The whole command line for @plans (sorted by virtual address) */
/* The LUN's node goes through the pr-manager (--pr-manager) */
bool xvs_plan_uses_pr(const XvsLunPlan *p);
GPtrArray *xvs_args_build(GPtrArray *plans, const XvsPlanOpts *o);

#endif
