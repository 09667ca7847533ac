/*
 * xen-vscsi: where a device's INQUIRY and VPD responses come from
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#include <errno.h>
#include <string.h>
#include <scsi/sg_lib.h>
#include <scsi/sg_cmds_basic.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
#include "xen-vscsi.h"
#include "source.h"

/* Allocation lengths: what sg_inq asks first, and the CDB's limit */
#define STD_INQ_LEN     96
#define VPD_FIRST_LEN   252
#define VPD_MAX_LEN     0xffff
#define SG_TIMEOUT_S    20

bool xvs_ident_read(XvsInquiryFn fn, void *opaque, XvsIdent *id,
                    GError **errp)
{
    g_autoptr(GBytes) inq = NULL;
    g_autoptr(GBytes) vpd80 = NULL;
    g_autoptr(GBytes) vpd83 = NULL;
    bool absent = false;

    inq = fn(opaque, XVS_PAGE_STD, &absent, errp);
    if (!inq) {
        if (absent) {
            g_set_error(errp, XVS_ERROR, XVS_ERROR_FAILED,
                        "no standard INQUIRY data");
        }
        return false;
    }
    vpd80 = fn(opaque, 0x80, &absent, errp);
    if (!vpd80 && !absent) {
        return false;
    }
    vpd83 = fn(opaque, 0x83, &absent, errp);
    if (!vpd83 && !absent) {
        return false;
    }
    return xvs_ident_decode(id, inq, vpd80, vpd83, errp);
}

/* ------------------------------------------------------------------ */
/* SG_IO                                                               */

static int sg_inquiry_once(int fd, int page, uint8_t *buf, int len,
                           int *got)
{
    int resid = 0;
    int ret;

    memset(buf, 0, len);
    ret = sg_ll_inquiry_v2(fd, page != XVS_PAGE_STD,
                           page == XVS_PAGE_STD ? 0 : page, buf, len,
                           SG_TIMEOUT_S, &resid, false, 0);
    if (ret == 0) {
        *got = resid >= 0 && resid <= len ? len - resid : len;
    }
    return ret;
}

GBytes *xvs_sg_inquiry(void *opaque, int page, bool *absent, GError **errp)
{
    const char *path = opaque;
    g_autofree uint8_t *buf = g_malloc(VPD_MAX_LEN);
    int len = page == XVS_PAGE_STD ? STD_INQ_LEN : VPD_FIRST_LEN;
    int got = 0;
    int fd, ret;

    *absent = false;
    fd = sg_cmds_open_device(path, true, 0);
    if (fd < 0) {
        g_set_error(errp, XVS_ERROR, XVS_ERROR_FAILED, "%s: %s", path,
                    safe_strerror(-fd));
        return NULL;
    }
    ret = sg_inquiry_once(fd, page, buf, len, &got);
    if (ret == 0 && page != XVS_PAGE_STD && got >= 4) {
        int need = 4 + ((buf[2] << 8) | buf[3]);

        if (need > len) {
            len = MIN(need, VPD_MAX_LEN);
            ret = sg_inquiry_once(fd, page, buf, len, &got);
        }
    }
    sg_cmds_close_device(fd);
    if (ret == SG_LIB_CAT_ILLEGAL_REQ && page != XVS_PAGE_STD) {
        *absent = true;
        return NULL;
    }
    if (ret != 0) {
        char cat[128];

        if (ret < 0) {
            g_strlcpy(cat, safe_strerror(-ret), sizeof(cat));
        } else {
            sg_get_category_sense_str(ret, sizeof(cat), cat, 0);
        }
        if (page == XVS_PAGE_STD) {
            g_set_error(errp, XVS_ERROR, XVS_ERROR_FAILED,
                        "%s: INQUIRY failed: %s", path, cat);
        } else {
            g_set_error(errp, XVS_ERROR, XVS_ERROR_FAILED,
                        "%s: INQUIRY VPD page 0x%02x failed: %s", path,
                        page, cat);
        }
        return NULL;
    }
    return g_bytes_new(buf, got);
}

/* ------------------------------------------------------------------ */
/* sysfs attributes                                                    */

GBytes *xvs_sysfs_inquiry(void *opaque, int page, bool *absent,
                          GError **errp)
{
    const char *dir = opaque;
    g_autofree char *name = page == XVS_PAGE_STD ? g_strdup("inquiry") :
                            g_strdup_printf("vpd_pg%02x", page);
    g_autofree char *path = g_build_filename(dir, name, NULL);
    char *data;
    gsize len;

    *absent = false;
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        *absent = true;
        return NULL;
    }
    if (!g_file_get_contents(path, &data, &len, errp)) {
        return NULL;
    }
    if (len > VPD_MAX_LEN) {
        g_free(data);
        g_set_error(errp, XVS_ERROR, XVS_ERROR_FAILED, "%s: too long",
                    path);
        return NULL;
    }
    return g_bytes_new_take(data, len);
}

/* ------------------------------------------------------------------ */
/* libiscsi                                                            */

struct XvsIscsi {
    struct iscsi_context *iscsi;
    struct iscsi_url *url;
    char *name;
};

void xvs_iscsi_close(XvsIscsi *s)
{
    if (!s) {
        return;
    }
    if (s->iscsi) {
        if (iscsi_is_logged_in(s->iscsi)) {
            iscsi_logout_sync(s->iscsi);
        }
        if (s->url) {
            iscsi_destroy_url(s->url);
        }
        iscsi_destroy_context(s->iscsi);
    }
    g_free(s->name);
    g_free(s);
}

XvsIscsi *xvs_iscsi_open(const char *url, const char *initiator,
                         GError **errp)
{
    XvsIscsi *s = g_new0(XvsIscsi, 1);

    s->name = g_strdup(url);
    s->iscsi = iscsi_create_context(initiator);
    if (!s->iscsi) {
        g_set_error(errp, XVS_ERROR, XVS_ERROR_FAILED,
                    "%s: cannot create an iSCSI context", url);
        goto fail;
    }
    s->url = iscsi_parse_full_url(s->iscsi, url);
    if (!s->url) {
        g_set_error(errp, XVS_ERROR, XVS_ERROR_INVALID, "%s: %s", url,
                    iscsi_get_error(s->iscsi));
        goto fail;
    }
    iscsi_set_targetname(s->iscsi, s->url->target);
    iscsi_set_session_type(s->iscsi, ISCSI_SESSION_NORMAL);
    iscsi_set_header_digest(s->iscsi, ISCSI_HEADER_DIGEST_NONE_CRC32C);
    iscsi_set_timeout(s->iscsi, SG_TIMEOUT_S);
    if (s->url->user[0]) {
        iscsi_set_initiator_username_pwd(s->iscsi, s->url->user,
                                         s->url->passwd);
    }
    if (iscsi_full_connect_sync(s->iscsi, s->url->portal,
                                s->url->lun) != 0) {
        g_set_error(errp, XVS_ERROR, XVS_ERROR_NOT_FOUND,
                    "%s: login failed: %s", url, iscsi_get_error(s->iscsi));
        goto fail;
    }
    return s;

fail:
    xvs_iscsi_close(s);
    return NULL;
}

GBytes *xvs_iscsi_inquiry(void *opaque, int page, bool *absent,
                          GError **errp)
{
    XvsIscsi *s = opaque;
    struct scsi_task *task;
    int len = page == XVS_PAGE_STD ? STD_INQ_LEN : VPD_MAX_LEN;
    GBytes *b;

    *absent = false;
    task = iscsi_inquiry_sync(s->iscsi, s->url->lun, page != XVS_PAGE_STD,
                              page == XVS_PAGE_STD ? 0 : page, len);
    if (!task) {
        g_set_error(errp, XVS_ERROR, XVS_ERROR_FAILED, "%s: INQUIRY: %s",
                    s->name, iscsi_get_error(s->iscsi));
        return NULL;
    }
    if (task->status == SCSI_STATUS_CHECK_CONDITION &&
        task->sense.key == SCSI_SENSE_ILLEGAL_REQUEST &&
        page != XVS_PAGE_STD) {
        scsi_free_scsi_task(task);
        *absent = true;
        return NULL;
    }
    if (task->status != SCSI_STATUS_GOOD) {
        g_set_error(errp, XVS_ERROR, XVS_ERROR_FAILED,
                    "%s: INQUIRY failed: %s", s->name,
                    iscsi_get_error(s->iscsi));
        scsi_free_scsi_task(task);
        return NULL;
    }
    b = g_bytes_new(task->datain.data,
                    MAX(0, MIN(task->datain.size, len)));
    scsi_free_scsi_task(task);
    return b;
}
