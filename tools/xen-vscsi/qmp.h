/*
 * xen-vscsi: a small QMP client over a unix socket
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#ifndef XEN_VSCSI_QMP_H
#define XEN_VSCSI_QMP_H

#include <glib.h>
#include "json.h"

typedef struct XvsQmp XvsQmp;

/* Connect, read the greeting, negotiate capabilities. */
XvsQmp *xvs_qmp_connect(const char *path, int timeout_ms, GError **errp);
void xvs_qmp_close(XvsQmp *q);

/*
 * Run @cmd with @args (taken; may be NULL).  Returns the "return" value
 * (owned by the caller), or NULL with the QMP error's description.
 */
JsonNode *xvs_qmp_cmd(XvsQmp *q, const char *cmd, JsonNode *args,
                     GError **errp);

/*
 * Wait for event @name whose data satisfies @match (NULL: any), events
 * already received included.
 */
typedef gboolean (*XvsQmpMatch)(JsonNode *data, gpointer opaque);
bool xvs_qmp_wait_event(XvsQmp *q, const char *name, XvsQmpMatch match,
                        gpointer opaque, int timeout_ms, GError **errp);

#endif
