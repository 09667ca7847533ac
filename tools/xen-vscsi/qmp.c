/*
 * xen-vscsi: a small QMP client over a unix socket
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "xen-vscsi.h"
#include "qmp.h"

/* A message longer than this is refused. */
#define QMP_MAX_LINE    (16 * 1024 * 1024)

struct XvsQmp {
    int fd;
    char *path;
    int timeout_ms;
    GString *buf;               /* received, not yet parsed */
    GQueue events;              /* of JsonNode */
};

void xvs_qmp_close(XvsQmp *q)
{
    if (!q) {
        return;
    }
    if (q->fd >= 0) {
        close(q->fd);
    }
    g_queue_clear_full(&q->events, (GDestroyNotify)json_node_unref);
    g_string_free(q->buf, true);
    g_free(q->path);
    g_free(q);
}

/* The next message; NULL on error or when @deadline (monotonic) passed. */
static JsonNode *qmp_read(XvsQmp *q, gint64 deadline, GError **errp)
{
    for (;;) {
        char *nl = memchr(q->buf->str, '\n', q->buf->len);
        char chunk[4096];
        struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
        gint64 left;
        ssize_t n;
        int r;

        if (nl) {
            size_t len = nl - q->buf->str;
            JsonNode *j;

            j = xvs_json_parse(q->buf->str, len, errp);
            g_string_erase(q->buf, 0, len + 1);
            if (j && !JSON_NODE_HOLDS_OBJECT(j)) {
                json_node_unref(j);
                g_set_error(errp, XVS_ERROR, XVS_ERROR_FAILED,
                            "%s: QMP message is not an object", q->path);
                return NULL;
            }
            if (!j) {
                g_prefix_error(errp, "%s: ", q->path);
            }
            return j;
        }
        if (q->buf->len > QMP_MAX_LINE) {
            g_set_error(errp, XVS_ERROR, XVS_ERROR_FAILED,
                        "%s: QMP message too long", q->path);
            return NULL;
        }
        left = (deadline - g_get_monotonic_time()) / 1000;
        if (left <= 0) {
            g_set_error(errp, XVS_ERROR, XVS_ERROR_FAILED,
                        "%s: QMP timed out", q->path);
            return NULL;
        }
        r = poll(&pfd, 1, left);
        if (r < 0 && errno != EINTR) {
            g_set_error(errp, XVS_ERROR, XVS_ERROR_FAILED, "%s: poll: %s",
                        q->path, g_strerror(errno));
            return NULL;
        }
        if (r <= 0) {
            continue;
        }
        n = read(q->fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            g_set_error(errp, XVS_ERROR, XVS_ERROR_FAILED,
                        "%s: QEMU closed the QMP connection", q->path);
            return NULL;
        }
        g_string_append_len(q->buf, chunk, n);
    }
}

static bool qmp_send(XvsQmp *q, JsonNode *msg, GError **errp)
{
    g_autofree char *s = xvs_json_to_string(msg, false);
    g_autofree char *line = g_strconcat(s, "\n", NULL);
    size_t len = strlen(line), off = 0;

    while (off < len) {
        ssize_t n = write(q->fd, line + off, len - off);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            g_set_error(errp, XVS_ERROR, XVS_ERROR_FAILED, "%s: write: %s",
                        q->path, g_strerror(errno));
            return false;
        }
        off += n;
    }
    return true;
}

XvsQmp *xvs_qmp_connect(const char *path, int timeout_ms, GError **errp)
{
    XvsQmp *q = g_new0(XvsQmp, 1);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    g_autoptr(JsonNode) greeting = NULL;
    g_autoptr(JsonNode) ret = NULL;

    q->path = g_strdup(path);
    q->timeout_ms = timeout_ms;
    q->buf = g_string_new(NULL);
    g_queue_init(&q->events);
    q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (strlen(path) >= sizeof(addr.sun_path)) {
        g_set_error(errp, XVS_ERROR, XVS_ERROR_INVALID,
                    "%s: socket path too long", path);
        goto fail;
    }
    strcpy(addr.sun_path, path);
    if (q->fd < 0 ||
        connect(q->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        g_set_error(errp, XVS_ERROR, XVS_ERROR_FAILED, "%s: %s", path,
                    g_strerror(errno));
        goto fail;
    }
    greeting = qmp_read(q, g_get_monotonic_time() + timeout_ms * 1000LL,
                        errp);
    if (!greeting) {
        goto fail;
    }
    if (!xvs_json_get(greeting, "QMP")) {
        g_set_error(errp, XVS_ERROR, XVS_ERROR_FAILED,
                    "%s: not a QMP monitor (no greeting)", path);
        goto fail;
    }
    ret = xvs_qmp_cmd(q, "qmp_capabilities", NULL, errp);
    if (!ret) {
        goto fail;
    }
    return q;

fail:
    xvs_qmp_close(q);
    return NULL;
}

JsonNode *xvs_qmp_cmd(XvsQmp *q, const char *cmd, JsonNode *args,
                     GError **errp)
{
    g_autoptr(JsonNode) msg = xvs_json_object();
    gint64 deadline = g_get_monotonic_time() + q->timeout_ms * 1000LL;

    xvs_json_set_str(msg, "execute", cmd);
    if (args) {
        xvs_json_set(msg, "arguments", args);
    }
    if (!qmp_send(q, msg, errp)) {
        return NULL;
    }
    for (;;) {
        g_autoptr(JsonNode) r = qmp_read(q, deadline, errp);
        JsonNode *v;

        if (!r) {
            return NULL;
        }
        if (xvs_json_get(r, "event")) {
            g_queue_push_tail(&q->events, g_steal_pointer(&r));
            continue;
        }
        v = xvs_json_get(r, "error");
        if (v) {
            const char *desc = xvs_json_get_str(v, "desc");

            g_set_error(errp, XVS_ERROR, XVS_ERROR_FAILED, "%s: %s", cmd,
                        desc ? desc : "failed");
            return NULL;
        }
        v = xvs_json_get(r, "return");
        if (v) {
            /* it outlives @r */
            return json_node_ref(v);
        }
        /* anything else (there is nothing else in QMP) is ignored */
    }
}

bool xvs_qmp_wait_event(XvsQmp *q, const char *name, XvsQmpMatch match,
                        gpointer opaque, int timeout_ms, GError **errp)
{
    gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000LL;

    for (;;) {
        g_autoptr(JsonNode) e = g_queue_pop_head(&q->events);

        if (!e) {
            e = qmp_read(q, deadline, errp);
            if (!e) {
                return false;
            }
        }
        if (!g_strcmp0(xvs_json_get_str(e, "event"), name) &&
            (!match || match(xvs_json_get(e, "data"), opaque))) {
            return true;
        }
    }
}
