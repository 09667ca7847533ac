/*
 * libqos helpers for Xen frontends under the xen-qtest-hv emulation
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <poll.h>
#include "qemu/bitmap.h"
#include "qemu/cutils.h"
#include "xen-qtest.h"
#include "malloc-pc.h"

static struct xs_handle *xs_connect(const char *path)
{
    struct xs_handle *h;

    /*
     * libxenstore finds the daemon's socket through XENSTORED_PATH.  (Not
     * g_setenv(), which complains once the case watchdog's thread exists:
     * that thread reads the environment only when it ends the program.)
     */
    setenv("XENSTORED_PATH", path, 1);
    h = xs_open(XS_OPEN_SOCKETONLY);
    unsetenv("XENSTORED_PATH");
    g_assert_nonnull(h);
    return h;
}

struct xs_handle *qxen_xs_open(QXen *x, bool priv)
{
    return xs_connect(priv ? x->xs_priv_path : x->xs_path);
}

char *qxen_state_file(void)
{
    char *name = NULL;
    int fd = g_file_open_tmp("xen-pvscsi-XXXXXX.state", &name, NULL);

    g_assert_cmpint(fd, >=, 0);
    close(fd);
    return name;
}

QDict *qxen_save_devices_state(QXen *x, const char *file)
{
    QDict *rsp = qtest_qmp(x->qts, "{'execute': 'stop'}");

    g_assert_true(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
    return qtest_qmp(x->qts, "{'execute': 'xen-save-devices-state', "
                     "'arguments': {'filename': %s, 'live': false}}", file);
}

void qxen_wait_incoming(QXen *x)
{
    for (int i = 0; ; i++) {
        QDict *rsp = qtest_qmp(x->qts, "{'execute': 'query-status'}");
        const char *st = qdict_get_str(qdict_get_qdict(rsp, "return"),
                                       "status");

        if (!strcmp(st, "running")) {
            qobject_unref(rsp);
            return;
        }
        g_assert_cmpstr(st, ==, "inmigrate");
        qobject_unref(rsp);
        g_assert_cmpint(i, <, QXEN_TIMEOUT_MS / 10);
        g_usleep(10 * 1000);
    }
}

QXen *qxen_start(unsigned int domid, const char *extra_fmt, ...)
{
    QXen *x = g_new0(QXen, 1);
    g_autofree char *extra = NULL;
    va_list ap;

    va_start(ap, extra_fmt);
    extra = g_strdup_vprintf(extra_fmt, ap);
    va_end(ap);

    x->domid = domid;
    x->tmpdir = g_dir_make_tmp("qxen-XXXXXX", NULL);
    g_assert_nonnull(x->tmpdir);
    x->xs_path = g_build_filename(x->tmpdir, "xs.sock", NULL);
    x->xs_priv_path = g_build_filename(x->tmpdir, "xs-priv.sock", NULL);

    /*
     * Guest RAM in a memfd, so that xen-qtest-hv can map several grants
     * at a time (aliases of the guest's pages, as under Xen)
     */
    x->qts = qtest_initf("-object memory-backend-memfd,id=qxen-ram,"
                         "size=256M -M pc,memory-backend=qxen-ram -m 256M "
                         "-nodefaults "
                         "-chardev socket,id=qxs,path=%s,server=on,wait=off "
                         "-chardev socket,id=qxsp,path=%s,server=on,wait=off "
                         "-device xen-qtest-hv,id=xenhv,domid=%u,"
                         "xenstore=qxs,xenstore-priv=qxsp %s",
                         x->xs_path, x->xs_priv_path, domid, extra);
    qtest_irq_intercept_out_named(x->qts, "/machine/peripheral/xenhv",
                                  "upcall");
    pc_alloc_init(&x->alloc, x->qts, ALLOC_NO_FLAGS);

    g_assert_cmpuint(qtest_readl(x->qts, QXEN_MMIO_BASE + QXEN_REG_DOMID),
                     ==, domid);
    x->nr_grefs = qtest_readl(x->qts, QXEN_MMIO_BASE + QXEN_REG_GNT_FRAMES) *
                  (QXEN_PAGE_SIZE / 8);
    g_assert_cmpuint(x->nr_grefs, >, QXEN_FIRST_FREE_GREF);
    x->gref_used = bitmap_new(x->nr_grefs);
    bitmap_set(x->gref_used, 0, QXEN_FIRST_FREE_GREF);
    x->ports_used = 1;          /* port 0 is never valid */

    x->xs = xs_connect(x->xs_path);
    x->xs_priv = xs_connect(x->xs_priv_path);
    return x;
}

void qxen_stop(QXen *x)
{
    if (x->xs) {
        xs_close(x->xs);
    }
    if (x->xs_priv) {
        xs_close(x->xs_priv);
    }
    alloc_destroy(&x->alloc);
    qtest_quit(x->qts);
    unlink(x->xs_path);
    unlink(x->xs_priv_path);
    rmdir(x->tmpdir);
    g_free(x->xs_path);
    g_free(x->xs_priv_path);
    g_free(x->tmpdir);
    g_free(x->gref_used);
    g_free(x);
}

/* ---------------------------------------------------------------------- */
/* Case watchdog                                                           */

static struct {
    GMutex lock;
    GCond cond;
    GThread *thread;
    gint64 deadline;            /* monotonic; 0 while disarmed */
    char *what;
    int seconds;
    void (*hook)(void);
    pid_t pid;
    const char *script;         /* $QXEN_HANG_REPORT */
} wd;

static G_NORETURN void wd_expire(const char *what, int seconds,
                                 void (*hook)(void), pid_t watched,
                                 const char *script)
{
    fprintf(stderr, "qxen watchdog: %s has not ended after %d s\n",
            what, seconds);
    if (hook) {
        hook();
    }
    /*
     * First the verdict: once the report kills QEMU, the main thread may
     * wake up and abort the program before we get to say it.
     */
    printf("Bail out! watchdog: %s has not ended after %d s\n", what,
           seconds);
    fflush(NULL);
    if (script) {
        g_autofree char *pid = g_strdup_printf("%d", (int)getpid());
        g_autofree char *other = g_strdup_printf("%d", (int)watched);
        char *argv[] = { (char *)"sh", (char *)script, pid,
                         watched > 0 ? other : NULL, NULL };
        g_autoptr(GError) err = NULL;

        if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                          NULL, NULL, NULL, &err)) {
            fprintf(stderr, "qxen watchdog: %s: %s\n", script, err->message);
        }
    } else {
        fprintf(stderr, "qxen watchdog: no QXEN_HANG_REPORT script, "
                "child processes left as they are\n");
    }
    /*
     * Not abort(): libqtest's SIGABRT hooks would wait for QEMU processes
     * that the report has reaped or killed, with the main thread perhaps
     * inside libqtest itself.
     */
    fflush(NULL);
    _exit(1);
}

static gpointer wd_thread(gpointer opaque)
{
    g_mutex_lock(&wd.lock);
    for (;;) {
        if (!wd.deadline) {
            g_cond_wait(&wd.cond, &wd.lock);
        } else if (g_get_monotonic_time() >= wd.deadline) {
            break;
        } else {
            g_cond_wait_until(&wd.cond, &wd.lock, wd.deadline);
        }
    }
    /* Nothing else takes the lock for long: keep it, and the state. */
    wd_expire(wd.what, wd.seconds, wd.hook, wd.pid, wd.script);
}

void qxen_watchdog_arm(const char *what, int seconds)
{
    if (seconds <= 0) {
        return;
    }
    g_mutex_lock(&wd.lock);
    if (!wd.thread) {
        wd.script = g_getenv("QXEN_HANG_REPORT");
        wd.thread = g_thread_new("qxen-watchdog", wd_thread, NULL);
    }
    g_free(wd.what);
    wd.what = g_strdup(what);
    wd.seconds = seconds;
    wd.deadline = g_get_monotonic_time() + seconds * G_TIME_SPAN_SECOND;
    g_cond_signal(&wd.cond);
    g_mutex_unlock(&wd.lock);
}

void qxen_watchdog_disarm(void)
{
    g_mutex_lock(&wd.lock);
    wd.deadline = 0;
    g_cond_signal(&wd.cond);
    g_mutex_unlock(&wd.lock);
}

void qxen_watchdog_set_hook(void (*hook)(void))
{
    g_mutex_lock(&wd.lock);
    wd.hook = hook;
    g_mutex_unlock(&wd.lock);
}

void qxen_watchdog_watch_pid(pid_t pid)
{
    g_mutex_lock(&wd.lock);
    wd.pid = pid;
    g_mutex_unlock(&wd.lock);
}

int qxen_case_timeout(void)
{
    const char *env = g_getenv("QXEN_CASE_TIMEOUT");
    int64_t v;

    if (env && !qemu_strtoi64(env, NULL, 10, &v) && v >= 0 && v <= 86400) {
        return v;
    }
    return QXEN_CASE_TIMEOUT_S;
}

typedef struct QXenCase {
    char *path;
    void (*fn)(void);
} QXenCase;

static void run_watched(const void *opaque)
{
    const QXenCase *c = opaque;

    qxen_watchdog_arm(c->path, qxen_case_timeout());
    c->fn();
    qxen_watchdog_disarm();
}

void qxen_add_test(const char *path, void (*fn)(void))
{
    /* lives as long as the program */
    QXenCase *c = g_new(QXenCase, 1);

    c->path = g_strdup(path);
    c->fn = fn;
    qtest_add_data_func(path, c, run_watched);
}

typedef struct QXenTwice {
    const QXenTestCase *tc;
    char *what;                 /* the watchdog's name of the run */
    bool *use_iothread;
    bool iothread;
} QXenTwice;

static void run_twice(const void *opaque)
{
    const QXenTwice *t = opaque;

    *t->use_iothread = t->iothread;
    qxen_watchdog_arm(t->what, qxen_case_timeout());
    t->tc->fn();
    qxen_watchdog_disarm();
}

void qxen_add_tests_twice(const char *prefix, const QXenTestCase *cases,
                          size_t n, bool *use_iothread)
{
    for (size_t i = 0; i < n; i++) {
        for (int io = 0; io < 2; io++) {
            /* lives as long as the program */
            QXenTwice *t = g_new(QXenTwice, 1);
            g_autofree char *path = NULL;

            t->tc = &cases[i];
            t->what = g_strdup_printf("%s%s", io ? "iothread/" : "",
                                      cases[i].name);
            t->use_iothread = use_iothread;
            t->iothread = io;
            path = g_strdup_printf("/%s/%s", prefix, t->what);
            qtest_add_data_func(path, t, run_twice);
        }
    }
}

uint64_t qxen_alloc_pages(QXen *x, unsigned int n)
{
    uint64_t gpa = guest_alloc(&x->alloc, (size_t)n * QXEN_PAGE_SIZE);

    g_assert_cmpuint(gpa, !=, 0);
    g_assert_cmpuint(gpa % QXEN_PAGE_SIZE, ==, 0);
    qtest_memset(x->qts, gpa, 0, (size_t)n * QXEN_PAGE_SIZE);
    return gpa;
}

/* ---------------------------------------------------------------------- */
/* xenstore                                                                */

char *qxs_read(struct xs_handle *h, const char *path)
{
    unsigned int len;
    char *v = xs_read(h, XBT_NULL, path, &len);
    char *ret;

    if (!v) {
        return NULL;
    }
    ret = g_strndup(v, len);
    free(v);
    return ret;
}

int qxs_read_int(struct xs_handle *h, const char *path, int dflt)
{
    g_autofree char *v = qxs_read(h, path);
    int val;

    if (!v || qemu_strtoi(v, NULL, 10, &val)) {
        return dflt;
    }
    return val;
}

bool qxs_try_write(struct xs_handle *h, const char *path, const char *val)
{
    return xs_write(h, XBT_NULL, path, val, strlen(val));
}

void qxs_write(struct xs_handle *h, const char *path, const char *val)
{
    if (!qxs_try_write(h, path, val)) {
        g_error("xenstore write %s = \"%s\" failed: %s", path, val,
                strerror(errno));
    }
}

void qxs_printf(struct xs_handle *h, const char *path, const char *fmt, ...)
{
    g_autofree char *val = NULL;
    va_list ap;

    va_start(ap, fmt);
    val = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    qxs_write(h, path, val);
}

void qxs_mkdir(struct xs_handle *h, const char *path)
{
    g_assert_true(xs_mkdir(h, XBT_NULL, path));
}

void qxs_rm(struct xs_handle *h, const char *path)
{
    g_assert_true(xs_rm(h, XBT_NULL, path));
}

bool qxs_exists(struct xs_handle *h, const char *path)
{
    g_autofree char *v = qxs_read(h, path);

    return v != NULL;
}

char **qxs_directory(struct xs_handle *h, const char *path, unsigned int *n)
{
    char **list = xs_directory(h, XBT_NULL, path, n);
    char **ret;

    if (!list) {
        *n = 0;
        return NULL;
    }
    /* libxenstore returns one malloc() block; hand out a GStrv. */
    ret = g_new0(char *, *n + 1);
    for (unsigned int i = 0; i < *n; i++) {
        ret[i] = g_strdup(list[i]);
    }
    free(list);
    return ret;
}

void qxs_set_perms(struct xs_handle *h, const char *path, unsigned int owner,
                   const unsigned int *readers, unsigned int nr_readers)
{
    g_autofree struct xs_permissions *perms =
        g_new0(struct xs_permissions, nr_readers + 1);

    perms[0].id = owner;
    perms[0].perms = XS_PERM_NONE;
    for (unsigned int i = 0; i < nr_readers; i++) {
        perms[i + 1].id = readers[i];
        perms[i + 1].perms = XS_PERM_READ;
    }
    g_assert_true(xs_set_permissions(h, XBT_NULL, path, perms,
                                     nr_readers + 1));
}

static bool value_matches(struct xs_handle *h, const char *path,
                          const char *want)
{
    g_autofree char *v = qxs_read(h, path);

    return want ? (v && !strcmp(v, want)) : !v;
}

bool qxs_wait_value(QXen *x, struct xs_handle *h, const char *path,
                    const char *want, int timeout_ms)
{
    g_autofree char *token = g_strdup_printf("qxen-wait-%u", ++x->watch_seq);
    gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000LL;
    bool ok;

    g_assert_true(xs_watch(h, path, token));
    for (;;) {
        struct pollfd pfd = { .fd = xs_fileno(h), .events = POLLIN };
        gint64 left;
        char **ev;

        ok = value_matches(h, path, want);
        left = deadline - g_get_monotonic_time();
        if (ok || left <= 0) {
            break;
        }
        /* Sleep until some watch fires (or 100 ms, as a safety net). */
        poll(&pfd, 1, MIN(left / 1000 + 1, 100));
        while ((ev = xs_check_watch(h))) {
            free(ev);
        }
    }
    xs_unwatch(h, path, token);
    return ok;
}

void qxs_wait_state(QXen *x, struct xs_handle *h, const char *path,
                    int state)
{
    g_autofree char *want = g_strdup_printf("%d", state);

    if (!qxs_wait_value(x, h, path, want, QXEN_TIMEOUT_MS)) {
        g_autofree char *v = qxs_read(h, path);

        g_error("%s: expected state %d, found %s", path, state,
                v ? v : "(missing)");
    }
}

/* ---------------------------------------------------------------------- */
/* Grant table                                                             */

static uint64_t gref_addr(uint32_t ref)
{
    return QXEN_GNTTAB_BASE + (uint64_t)ref * 8;
}

void qxen_grant_at(QXen *x, uint32_t ref, uint64_t gpa, bool readonly)
{
    uint16_t flags = QXEN_GTF_permit_access |
                     (readonly ? QXEN_GTF_readonly : 0);

    /* As a guest does: frame and domid first, then flags. */
    qtest_writel(x->qts, gref_addr(ref) + 4, gpa / QXEN_PAGE_SIZE);
    qtest_writew(x->qts, gref_addr(ref) + 2, 0);
    qtest_writew(x->qts, gref_addr(ref), flags);
    if (ref < x->nr_grefs) {
        set_bit(ref, x->gref_used);
    }
}

uint32_t qxen_grant(QXen *x, uint64_t gpa, bool readonly)
{
    unsigned long ref = find_first_zero_bit(x->gref_used, x->nr_grefs);

    g_assert_cmpuint(ref, <, x->nr_grefs);
    qxen_grant_at(x, ref, gpa, readonly);
    return ref;
}

uint16_t qxen_grant_flags(QXen *x, uint32_t ref)
{
    return qtest_readw(x->qts, gref_addr(ref));
}

bool qxen_grant_in_use(QXen *x, uint32_t ref)
{
    return qxen_grant_flags(x, ref) & (QXEN_GTF_reading | QXEN_GTF_writing);
}

void qxen_ungrant(QXen *x, uint32_t ref)
{
    g_assert_cmpuint(ref, <, x->nr_grefs);
    if (qxen_grant_in_use(x, ref)) {
        g_error("grant %u is still mapped by the backend", ref);
    }
    qtest_writew(x->qts, gref_addr(ref), 0);
    clear_bit(ref, x->gref_used);
}

/* ---------------------------------------------------------------------- */
/* Event channels                                                          */

uint32_t qxen_evtchn_alloc(QXen *x)
{
    for (uint32_t port = 1; port < QXEN_NR_PORTS; port++) {
        if (!(x->ports_used & (1ULL << port))) {
            x->ports_used |= 1ULL << port;
            return port;
        }
    }
    g_assert_not_reached();
}

void qxen_evtchn_free(QXen *x, uint32_t port)
{
    x->ports_used &= ~(1ULL << port);
}

void qxen_evtchn_kick(QXen *x, uint32_t port)
{
    qtest_writel(x->qts, QXEN_MMIO_BASE + QXEN_REG_EVTCHN_SEND, port);
}

bool qxen_evtchn_pending(QXen *x, uint32_t port)
{
    uint64_t reg = port < 32 ? QXEN_REG_PENDING_LO : QXEN_REG_PENDING_HI;

    return qtest_readl(x->qts, QXEN_MMIO_BASE + reg) & (1U << (port % 32));
}

void qxen_evtchn_ack(QXen *x, uint32_t port)
{
    uint64_t reg = port < 32 ? QXEN_REG_PENDING_LO : QXEN_REG_PENDING_HI;

    qtest_writel(x->qts, QXEN_MMIO_BASE + reg, 1U << (port % 32));
}

bool qxen_evtchn_wait(QXen *x, uint32_t port, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000LL;

    while (!qxen_evtchn_pending(x, port)) {
        if (g_get_monotonic_time() > deadline) {
            return false;
        }
        g_usleep(100);
    }
    return true;
}

uint32_t qxen_notify_count(QXen *x)
{
    return qtest_readl(x->qts, QXEN_MMIO_BASE + QXEN_REG_NOTIFY_CNT);
}

bool qxen_upcall_level(QXen *x)
{
    return qtest_get_irq(x->qts, 0);
}

/* ---------------------------------------------------------------------- */
/* Shared rings                                                            */

void qxen_ring_init(QXen *x, QXenRing *r, size_t entry_size)
{
    uint32_t n = (QXEN_PAGE_SIZE - QXEN_RING_HDR_SIZE) / entry_size;

    memset(r, 0, sizeof(*r));
    r->entry_size = entry_size;
    r->nr_ents = pow2floor(n);
    r->gpa = qxen_alloc_pages(x, 1);
    /* SHARED_RING_INIT and FRONT_RING_INIT */
    qtest_writel(x->qts, r->gpa + QXEN_RING_REQ_EVENT, 1);
    qtest_writel(x->qts, r->gpa + QXEN_RING_RSP_EVENT, 1);
    r->ref = qxen_grant(x, r->gpa, false);
}

uint64_t qxen_ring_slot(QXenRing *r, uint32_t idx)
{
    return r->gpa + QXEN_RING_HDR_SIZE +
           (uint64_t)(idx & (r->nr_ents - 1)) * r->entry_size;
}

void qxen_ring_put_request(QXen *x, QXenRing *r, const void *req, size_t len)
{
    g_assert_cmpuint(len, <=, r->entry_size);
    qtest_memwrite(x->qts, qxen_ring_slot(r, r->req_prod_pvt), req, len);
    r->req_prod_pvt++;
}

bool qxen_ring_push_requests(QXen *x, QXenRing *r)
{
    uint32_t old = qtest_readl(x->qts, r->gpa + QXEN_RING_REQ_PROD);
    uint32_t event;

    qtest_writel(x->qts, r->gpa + QXEN_RING_REQ_PROD, r->req_prod_pvt);
    event = qtest_readl(x->qts, r->gpa + QXEN_RING_REQ_EVENT);
    /* RING_PUSH_REQUESTS_AND_CHECK_NOTIFY */
    return (uint32_t)(r->req_prod_pvt - event) <
           (uint32_t)(r->req_prod_pvt - old);
}

uint32_t qxen_ring_req_event(QXen *x, QXenRing *r)
{
    return qtest_readl(x->qts, r->gpa + QXEN_RING_REQ_EVENT);
}

bool qxen_ring_wait_consumed(QXen *x, QXenRing *r, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000LL;

    /* RING_FINAL_CHECK_FOR_REQUESTS sets req_event = req_cons + 1 */
    while (qxen_ring_req_event(x, r) != r->req_prod_pvt + 1) {
        if (g_get_monotonic_time() > deadline) {
            return false;
        }
        g_usleep(100);
    }
    return true;
}

uint32_t qxen_ring_rsp_prod(QXen *x, QXenRing *r)
{
    return qtest_readl(x->qts, r->gpa + QXEN_RING_RSP_PROD);
}

bool qxen_ring_wait_responses(QXen *x, QXenRing *r, uint32_t n,
                              int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000LL;

    while ((uint32_t)(qxen_ring_rsp_prod(x, r) - r->rsp_cons) < n) {
        if (g_get_monotonic_time() > deadline) {
            return false;
        }
        g_usleep(100);
    }
    return true;
}

void qxen_ring_get_response(QXen *x, QXenRing *r, void *rsp, size_t len)
{
    g_assert_cmpuint(len, <=, r->entry_size);
    g_assert_cmpuint(qxen_ring_rsp_prod(x, r) - r->rsp_cons, >, 0);
    qtest_memread(x->qts, qxen_ring_slot(r, r->rsp_cons), rsp, len);
    r->rsp_cons++;
    /* RING_FINAL_CHECK_FOR_RESPONSES: ask for a kick on the next one */
    qtest_writel(x->qts, r->gpa + QXEN_RING_RSP_EVENT, r->rsp_cons + 1);
}

void qxen_ring_destroy(QXen *x, QXenRing *r)
{
    qxen_ungrant(x, r->ref);
    guest_free(&x->alloc, r->gpa);
}
