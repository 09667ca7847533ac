/*
 * xen-vscsi: common helpers
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#include <errno.h>
#include <stdlib.h>
#include "xen-vscsi.h"

GQuark xvs_error_quark(void)
{
    return g_quark_from_static_string("xen-vscsi-error-quark");
}

bool xvs_parse_hctl(const char *s, unsigned int hctl[4])
{
    const char *p = s;

    for (int i = 0; i < 4; i++) {
        guint64 v;
        char *end;

        if (!g_ascii_isdigit(*p)) {
            return false;
        }
        errno = 0;
        v = g_ascii_strtoull(p, &end, 10);
        if (errno || v > G_MAXINT32 || *end != (i < 3 ? ':' : '\0')) {
            return false;
        }
        hctl[i] = v;
        p = end + 1;
    }
    return true;
}
