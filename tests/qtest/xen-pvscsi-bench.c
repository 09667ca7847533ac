/*
 * make bench: a deterministic microbenchmark of the data path
 *
 * Starts one QEMU with one backend under the xen-qtest-hv emulation,
 * xen-pvscsi (a scsi-hd behind it) or QEMU's xen-disk (backend type qdisk),
 * on a null-co node or on a raw file on tmpfs, connects a frontend and runs
 * random reads and writes (50/50, aligned, seeded PRNG) with a fixed size
 * and queue depth.  It prints figures and asserts nothing about speed:
 * scripts/bench.sh measures QEMU's instructions, allocations, syscalls and
 * page faults around its windows of I/Os.
 *
 * The frontend stays cheap: every data page and indirect page is granted
 * once, descriptors are written once, and a batch of requests is one
 * qtest write.  vscsiif requests are READ(10)/WRITE(10) with direct
 * segments up to 26 pages and VSCSIIF_SG_GRANT indirect segments above;
 * blkif requests carry at most 11 segments (44 KiB), so a bigger I/O is
 * split into several ring requests as Linux's blkfront does.  An I/O is
 * what the guest asked for, not a ring request.  The data path is checked
 * once before the measurement (a write, then a read back into cleared
 * pages), and every response's status is checked.
 *
 * Parameters, as key=value arguments or BENCH_<KEY> in the environment:
 *   device=pvscsi|qdisk   storage=null|file   size=4k|64k|512k (any
 *   multiple of 4k up to 512k)   qd=1..16   n=N[,N...] (the I/Os of each
 *   measured window)   warmup=N (I/Os before the first window; 32)
 *   seed=S (1)   wait=idle|poll   file=PATH (default /dev/shm/...)
 *   calib=1 (each window is n times 7 qtest readl commands and no I/O:
 *   what the frontend's commands cost QEMU)
 *
 * wait=poll keeps qd I/Os outstanding all the time: a new one is queued as
 * soon as a response is seen, which is what a guest does (the requests/s
 * figure).  wait=idle waits, after each kick, until no thread of QEMU is
 * runnable (read from /proc, which costs QEMU nothing; twice in a row, with
 * nothing scheduled in between) and then takes every response at once:
 * QEMU then does the same work in the same batches from run to run, and
 * the frontend's qtest commands per I/O are fixed.
 *
 * At each window boundary (QEMU idle, nothing in flight) the command in
 * $BENCH_MARK_CMD, if set, is run by the shell with BENCH_MARK (0 before
 * the first window, i after window i), BENCH_MARKS (windows + 1) and
 * BENCH_PID (the process QTEST_QEMU_BINARY became) in its environment.
 *
 * Output: "bench: pid=P qemu_pid=Q" once QEMU runs, "bench: data checked",
 * then one line per window:
 *   bench: window=1 device=pvscsi storage=null size=65536 qd=1 ios=400
 *     seconds=0.1234 iops=3241.5 ring_requests=400 fe_cmds=2800
 *     extra_polls=0 pid=1234
 * (fe_cmds: the frontend's qtest commands; extra_polls: reads of the
 * response producer that found too few responses.)
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/units.h"
#include "qemu/cutils.h"
#include "libqtest.h"
#include "libqos/xen-vscsifront.h"
#include "libqos/xen-blkif.h"

#define DOMID           1
#define MAX_QD          16
#define MAX_PAGES       128     /* 512 KiB: xen-pvscsi's default max-sg-grant */
#define NULL_SIZE       (256 * MiB)
#define FILE_SIZE       (64 * MiB)
#define WAIT_S          60      /* no progress for that long: give up */
#define GNT_FRAMES      8       /* 4096 references: 16 x 128 data pages */

QEMU_BUILD_BUG_ON(sizeof(vscsiif_request_t) != sizeof(vscsiif_response_t));

/* One I/O per slot; each slot owns its data pages (and indirect page). */
typedef struct Slot {
    uint64_t gpa;               /* MAX_PAGES contiguous pages */
    uint32_t ref[MAX_PAGES];
    uint64_t ind_gpa;
    uint32_t ind_ref;
    bool busy;
    bool write;
    uint64_t offset;
    unsigned int parts_left;    /* ring requests not answered yet */
} Slot;

/* A ring request waiting for a free ring entry (blkif only) */
typedef struct Part {
    unsigned int slot, index;
} Part;

typedef struct Bench {
    /* parameters */
    bool pvscsi;
    bool file;
    uint32_t size;
    unsigned int qd;
    uint64_t *windows;
    unsigned int nr_windows;
    uint64_t warmup;
    uint64_t seed;
    bool idle_wait;
    bool calib;
    char *path;

    QXen *x;
    QVscsiFront vf;             /* pvscsi: the libqos frontend's handshake */
    QXenRing ring;              /* qdisk */
    uint32_t port;              /* qdisk */
    QXenRing *r;                /* the ring in use */
    size_t entry;
    size_t rsp_used;            /* bytes of a response we look at */
    uint32_t nr_ents;
    uint64_t capacity;
    unsigned int npages;
    unsigned int parts;         /* ring requests per I/O */
    Slot slot[MAX_QD];
    Part queue[MAX_QD * (MAX_PAGES / BLKIF_SEGS + 1)];
    unsigned int q_head, q_len;
    uint64_t rng;
    pid_t *watch;               /* libqtest's child, its descendants */
    unsigned int nr_watch;

    /* counts */
    uint64_t fe_cmds;
    uint64_t ring_reqs;
    uint64_t extra_polls;
} Bench;

/* for die(): what to clean up */
static Bench *the_bench;

/*
 * Fail.  libqtest's safety net (SIGKILL when we die) reaches only the
 * process it forked: with perf stat as QTEST_QEMU_BINARY, QEMU is that
 * one's child.  Kill every watched process, QEMU first.
 */
G_GNUC_PRINTF(1, 2) G_NORETURN
static void die(const char *fmt, ...)
{
    Bench *b = the_bench;
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    for (unsigned int i = b ? b->nr_watch : 0; i > 0; i--) {
        kill(b->watch[i - 1], SIGKILL);
    }
    if (b && b->file && b->path) {
        unlink(b->path);
    }
    if (b && b->x) {
        unlink(b->x->xs_path);
        unlink(b->x->xs_priv_path);
        rmdir(b->x->tmpdir);
    }
    exit(1);
}

/* ---------------------------------------------------------------------- */
/* The frontend's qtest commands, counted                                 */

/* base64 costs QEMU less than the hex of qtest_memwrite/qtest_memread */
static void fe_memwrite(Bench *b, uint64_t gpa, const void *buf, size_t len)
{
    qtest_bufwrite(b->x->qts, gpa, buf, len);
    b->fe_cmds++;
}

static void fe_memread(Bench *b, uint64_t gpa, void *buf, size_t len)
{
    qtest_bufread(b->x->qts, gpa, buf, len);
    b->fe_cmds++;
}

static void fe_writel(Bench *b, uint64_t gpa, uint32_t val)
{
    qtest_writel(b->x->qts, gpa, val);
    b->fe_cmds++;
}

static uint32_t fe_readl(Bench *b, uint64_t gpa)
{
    b->fe_cmds++;
    return qtest_readl(b->x->qts, gpa);
}

/* ---------------------------------------------------------------------- */
/* Is QEMU busy?                                                           */

static pid_t parent_of(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)pid);
    g_autofree char *text = NULL;
    char *p;
    int ppid;

    if (!g_file_get_contents(path, &text, NULL, NULL)) {
        return -1;
    }
    p = strrchr(text, ')');
    if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1) {
        return -1;
    }
    return ppid;
}

/*
 * QTEST_QEMU_BINARY may be a wrapper (perf stat forks QEMU; valgrind and
 * a script that execs stay one process): watch that process and its
 * descendants (in /proc order, so QEMU comes last).
 */
static void find_qemu(Bench *b)
{
    pid_t top = qtest_pid(b->x->qts);
    g_autoptr(GArray) pids = g_array_new(false, false, sizeof(pid_t));
    GDir *d = g_dir_open("/proc", 0, NULL);
    const char *name;

    g_assert_nonnull(d);
    g_array_append_val(pids, top);
    while ((name = g_dir_read_name(d))) {
        int pid;

        if (qemu_strtoi(name, NULL, 10, &pid) || pid == top) {
            continue;
        }
        for (pid_t p = parent_of(pid); p > 1; p = parent_of(p)) {
            if (p == top) {
                g_array_append_val(pids, pid);
                break;
            }
        }
    }
    g_dir_close(d);
    b->nr_watch = pids->len;
    b->watch = (pid_t *)g_array_free(g_steal_pointer(&pids), false);
}

/*
 * Does a thread of a watched process run or wait for a CPU?  @sig gets,
 * per thread, how many times it got a CPU so far (schedstat), so that two
 * looks tell whether anything ran in between.
 */
static bool qemu_busy(Bench *b, GString *sig)
{
    g_string_truncate(sig, 0);
    for (unsigned int i = 0; i < b->nr_watch; i++) {
        g_autofree char *dir = g_strdup_printf("/proc/%d/task",
                                               (int)b->watch[i]);
        GDir *d = g_dir_open(dir, 0, NULL);
        const char *tid;
        bool busy = false;

        if (!d) {
            continue;
        }
        while (!busy && (tid = g_dir_read_name(d))) {
            char buf[512], *p;
            char path[128];
            ssize_t len;
            int fd;

            snprintf(path, sizeof(path), "%s/%s/stat", dir, tid);
            fd = open(path, O_RDONLY);
            if (fd < 0) {
                continue;
            }
            len = read(fd, buf, sizeof(buf) - 1);
            close(fd);
            if (len <= 0) {
                continue;
            }
            buf[len] = 0;
            p = strrchr(buf, ')');
            busy = p && (p[2] == 'R' || p[2] == 'D');

            snprintf(path, sizeof(path), "%s/%s/schedstat", dir, tid);
            fd = open(path, O_RDONLY);
            if (fd >= 0) {
                len = read(fd, buf, sizeof(buf) - 1);
                close(fd);
                if (len > 0) {
                    buf[len] = 0;
                    /* the third figure: times it got a CPU */
                    p = strrchr(g_strchomp(buf), ' ');
                    g_string_append_printf(sig, "%s:%s,", tid, p ? p : buf);
                }
            }
        }
        g_dir_close(d);
        if (busy) {
            return true;
        }
    }
    return false;
}

/* Until no thread of QEMU runs, twice in a row with nothing run between. */
static void wait_idle(Bench *b)
{
    gint64 deadline = g_get_monotonic_time() + WAIT_S * G_TIME_SPAN_SECOND;
    g_autoptr(GString) sig = g_string_new("");
    g_autoptr(GString) last = g_string_new("");
    bool idle_before = false;

    for (;;) {
        bool idle = !qemu_busy(b, sig);

        if (idle && idle_before && g_string_equal(sig, last)) {
            return;
        }
        idle_before = idle;
        g_string_assign(last, sig->str);
        if (g_get_monotonic_time() > deadline) {
            die("QEMU still busy after %d s", WAIT_S);
        }
        g_usleep(20);
    }
}

/* ---------------------------------------------------------------------- */
/* Requests                                                                */

/* splitmix64 */
static uint64_t next_rand(Bench *b)
{
    uint64_t z = (b->rng += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Start an I/O on a free slot: queue its ring request(s). */
static void start_io(Bench *b, unsigned int s, bool write, uint64_t offset)
{
    Slot *sl = &b->slot[s];

    g_assert_false(sl->busy);
    sl->busy = true;
    sl->write = write;
    sl->offset = offset;
    sl->parts_left = b->parts;
    for (unsigned int i = 0; i < b->parts; i++) {
        Part *p = &b->queue[(b->q_head + b->q_len++) % ARRAY_SIZE(b->queue)];

        g_assert_cmpuint(b->q_len, <=, ARRAY_SIZE(b->queue));
        p->slot = s;
        p->index = i;
    }
}

static void start_random_io(Bench *b, unsigned int s)
{
    uint64_t r = next_rand(b);

    start_io(b, s, r & 1, (r >> 1) % (b->capacity / b->size) * b->size);
}

/* Each returns the bytes of the request that matter (the rest is unread). */
static size_t make_vscsi(Bench *b, const Part *p, vscsiif_request_t *rq)
{
    Slot *sl = &b->slot[p->slot];
    uint32_t blocks = b->size / 512;

    memset(rq, 0, sizeof(*rq));
    rq->rqid = p->slot;
    rq->act = VSCSIIF_ACT_SCSI_CDB;
    rq->cmd_len = 10;
    rq->cmnd[0] = sl->write ? 0x2a : 0x28;      /* WRITE (10), READ (10) */
    stl_be_p(rq->cmnd + 2, sl->offset / 512);
    stw_be_p(rq->cmnd + 7, blocks);
    rq->sc_data_direction = sl->write ? VSCSIIF_DMA_TO_DEVICE :
                                        VSCSIIF_DMA_FROM_DEVICE;
    if (b->npages <= VSCSIIF_SG_TABLESIZE) {
        rq->nr_segments = b->npages;
        for (unsigned int i = 0; i < b->npages; i++) {
            rq->seg[i].gref = sl->ref[i];
            rq->seg[i].offset = 0;
            rq->seg[i].length = QXEN_PAGE_SIZE;
        }
        return offsetof(vscsiif_request_t, seg[b->npages]);
    } else {
        /* the descriptors were written to the slot's indirect page */
        rq->nr_segments = VSCSIIF_SG_GRANT | 1;
        rq->seg[0].gref = sl->ind_ref;
        rq->seg[0].offset = 0;
        rq->seg[0].length = b->npages * sizeof(vscsiif_segment_t);
        return offsetof(vscsiif_request_t, seg[1]);
    }
}

static size_t make_blkif(Bench *b, const Part *p, BlkifRequest *rq)
{
    Slot *sl = &b->slot[p->slot];
    unsigned int first = p->index * BLKIF_SEGS;
    unsigned int n = MIN(BLKIF_SEGS, b->npages - first);

    memset(rq, 0, sizeof(*rq));
    rq->operation = sl->write ? BLKIF_OP_WRITE : BLKIF_OP_READ;
    rq->nr_segments = n;
    rq->id = p->slot * 256 + p->index;
    rq->sector_number = (sl->offset + (uint64_t)first * QXEN_PAGE_SIZE) / 512;
    for (unsigned int i = 0; i < n; i++) {
        rq->seg[i].gref = sl->ref[first + i];
        rq->seg[i].first_sect = 0;
        rq->seg[i].last_sect = QXEN_PAGE_SIZE / 512 - 1;
    }
    return offsetof(BlkifRequest, seg[n]);
}

/*
 * Put the queued ring requests that fit on the ring, in one or two qtest
 * writes (each up to the last byte that matters), publish them and kick
 * if the backend asks for it.
 */
static void submit(Bench *b)
{
    QXenRing *r = b->r;
    uint32_t n = MIN(b->q_len, b->nr_ents - (r->req_prod_pvt - r->rsp_cons));
    g_autofree uint8_t *buf = NULL;
    uint32_t first, n1, event;
    size_t used[BLKIF_RING];

    if (!n) {
        return;
    }
    g_assert_cmpuint(n, <=, ARRAY_SIZE(used));
    buf = g_malloc(n * b->entry);
    for (uint32_t i = 0; i < n; i++) {
        Part *p = &b->queue[b->q_head];

        if (b->pvscsi) {
            used[i] = make_vscsi(b, p,
                                 (vscsiif_request_t *)(buf + i * b->entry));
        } else {
            used[i] = make_blkif(b, p, (BlkifRequest *)(buf + i * b->entry));
        }
        b->q_head = (b->q_head + 1) % ARRAY_SIZE(b->queue);
        b->q_len--;
    }
    first = r->req_prod_pvt % b->nr_ents;
    n1 = MIN(n, b->nr_ents - first);
    fe_memwrite(b, qxen_ring_slot(r, r->req_prod_pvt), buf,
                (n1 - 1) * b->entry + used[n1 - 1]);
    if (n > n1) {
        fe_memwrite(b, qxen_ring_slot(r, 0), buf + n1 * b->entry,
                    (n - n1 - 1) * b->entry + used[n - 1]);
    }
    /* RING_PUSH_REQUESTS_AND_CHECK_NOTIFY; we know the old producer */
    fe_writel(b, r->gpa + QXEN_RING_REQ_PROD, r->req_prod_pvt + n);
    event = fe_readl(b, r->gpa + QXEN_RING_REQ_EVENT);
    r->req_prod_pvt += n;
    b->ring_reqs += n;
    if ((uint32_t)(r->req_prod_pvt - event) < n) {
        fe_writel(b, QXEN_MMIO_BASE + QXEN_REG_EVTCHN_SEND, b->port);
    }
}

/* One response: check it, account for it; returns whether an I/O ended. */
static bool complete(Bench *b, const uint8_t *ent)
{
    Slot *sl;

    if (b->pvscsi) {
        const vscsiif_response_t *rsp = (const vscsiif_response_t *)ent;

        if (rsp->rqid >= b->qd || !b->slot[rsp->rqid].busy) {
            die("response for rqid %u, which is not pending", rsp->rqid);
        }
        sl = &b->slot[rsp->rqid];
        if (rsp->rslt || rsp->residual_len || rsp->sense_len) {
            die("%s at %" PRIu64 ": rslt 0x%x, residual %u, sense %u "
                "(key %x asc %02x)", sl->write ? "WRITE" : "READ",
                sl->offset, rsp->rslt, rsp->residual_len, rsp->sense_len,
                rsp->sense_buffer[2] & 0xf, rsp->sense_buffer[12]);
        }
    } else {
        const BlkifResponse *rsp = (const BlkifResponse *)ent;
        unsigned int s = rsp->id / 256;

        if (s >= b->qd || !b->slot[s].busy || !b->slot[s].parts_left) {
            die("response for id 0x%" PRIx64 ", which is not pending",
                rsp->id);
        }
        sl = &b->slot[s];
        if (rsp->status != BLKIF_RSP_OKAY ||
            rsp->operation != (sl->write ? BLKIF_OP_WRITE : BLKIF_OP_READ)) {
            die("%s at %" PRIu64 ": status %d, operation %u",
                sl->write ? "write" : "read", sl->offset, rsp->status,
                rsp->operation);
        }
    }
    if (--sl->parts_left) {
        return false;
    }
    sl->busy = false;
    return true;
}

/*
 * Wait for responses (all that are due, with wait=idle; at least one
 * otherwise), consume them and return how many I/Os ended.
 */
static unsigned int collect(Bench *b)
{
    QXenRing *r = b->r;
    gint64 deadline = g_get_monotonic_time() + WAIT_S * G_TIME_SPAN_SECOND;
    uint32_t due = r->req_prod_pvt - r->rsp_cons;
    g_autofree uint8_t *buf = NULL;
    uint32_t prod, n, first, n1;
    unsigned int ended = 0;

    if (!due) {
        return 0;
    }
    if (b->idle_wait) {
        wait_idle(b);
    }
    for (int polls = 0;; polls++) {
        prod = fe_readl(b, r->gpa + QXEN_RING_RSP_PROD);
        n = prod - r->rsp_cons;
        if (n > due) {
            die("response producer %u runs %u ahead", prod, n);
        }
        if (n == due || (n && !b->idle_wait)) {
            break;
        }
        b->extra_polls++;
        if (g_get_monotonic_time() > deadline) {
            die("%u responses missing after %d s", due - n, WAIT_S);
        }
        if (b->idle_wait || polls > 4) {
            g_usleep(20);
        }
    }
    /* the responses, up to the last byte we look at */
    buf = g_malloc0(n * b->entry);
    first = r->rsp_cons % b->nr_ents;
    n1 = MIN(n, b->nr_ents - first);
    fe_memread(b, qxen_ring_slot(r, r->rsp_cons), buf,
               (n1 - 1) * b->entry + b->rsp_used);
    if (n > n1) {
        fe_memread(b, qxen_ring_slot(r, 0), buf + n1 * b->entry,
                   (n - n1 - 1) * b->entry + b->rsp_used);
    }
    r->rsp_cons = prod;
    /* RING_FINAL_CHECK_FOR_RESPONSES: we want an event for the next one */
    fe_writel(b, r->gpa + QXEN_RING_RSP_EVENT, prod + 1);
    for (uint32_t i = 0; i < n; i++) {
        ended += complete(b, buf + i * b->entry);
    }
    return ended;
}

/* @n random I/Os with b->qd of them outstanding; ends with none. */
static void run_ios(Bench *b, uint64_t n)
{
    uint64_t started = 0, ended = 0;

    while (ended < n) {
        for (unsigned int s = 0; s < b->qd && started < n; s++) {
            if (!b->slot[s].busy) {
                start_random_io(b, s);
                started++;
            }
        }
        submit(b);
        ended += collect(b);
    }
}

/*
 * Calibration: qtest commands and nothing else, to tell what one costs
 * QEMU.  The cheapest (readl), grouped as at QD 1 with wait=idle: four
 * back to back (the requests, the producer, req_event, the kick), QEMU
 * idle, three (rsp_prod, the responses, rsp_event), QEMU idle; @n times.
 */
static void run_calib(Bench *b, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        for (int k = 0; k < 7; k++) {
            fe_readl(b, b->r->gpa + QXEN_RING_RSP_PROD);
            if (k == 3 || k == 6) {
                wait_idle(b);
            }
        }
    }
}

/* One I/O on slot @s, waited for. */
static void one_io(Bench *b, unsigned int s, bool write, uint64_t offset)
{
    start_io(b, s, write, offset);
    while (b->slot[s].busy) {
        submit(b);
        collect(b);
    }
}

/* ---------------------------------------------------------------------- */
/* Setup                                                                   */

static void make_file(Bench *b)
{
    g_autofree uint8_t *buf = g_malloc(MiB);
    int fd = open(b->path, O_RDWR | O_CREAT | O_TRUNC, 0600);

    if (fd < 0) {
        die("%s: %s", b->path, strerror(errno));
    }
    /* real pages, not holes: every sector holds a pattern */
    for (size_t i = 0; i < MiB; i++) {
        buf[i] = (i / 512) ^ 0x3c;
    }
    for (uint64_t off = 0; off < FILE_SIZE; off += MiB) {
        g_assert_cmpint(pwrite(fd, buf, MiB, off), ==, MiB);
    }
    close(fd);
}

static void grant_slots(Bench *b)
{
    QXen *x = b->x;
    vscsiif_segment_t segs[MAX_PAGES];

    for (unsigned int s = 0; s < b->qd; s++) {
        Slot *sl = &b->slot[s];

        sl->gpa = qxen_alloc_pages(x, b->npages);
        for (unsigned int i = 0; i < b->npages; i++) {
            sl->ref[i] = qxen_grant(x, sl->gpa + i * QXEN_PAGE_SIZE, false);
            segs[i].gref = sl->ref[i];
            segs[i].offset = 0;
            segs[i].length = QXEN_PAGE_SIZE;
        }
        if (b->pvscsi && b->npages > VSCSIIF_SG_TABLESIZE) {
            sl->ind_gpa = qxen_alloc_pages(x, 1);
            qtest_memwrite(x->qts, sl->ind_gpa, segs,
                           b->npages * sizeof(segs[0]));
            sl->ind_ref = qxen_grant(x, sl->ind_gpa, true);
        }
    }
}

static void blkfront_connect(Bench *b)
{
    QXen *x = b->x;
    g_autofree char *fe = g_strdup_printf("/local/domain/%u/device/vbd/%u",
                                          x->domid, VDEV_XVDA);
    g_autofree char *be_state = g_strdup_printf(
        "/local/domain/0/backend/qdisk/%u/%u/state", x->domid, VDEV_XVDA);
    g_autofree char *k_ring = g_strdup_printf("%s/ring-ref", fe);
    g_autofree char *k_port = g_strdup_printf("%s/event-channel", fe);
    g_autofree char *k_proto = g_strdup_printf("%s/protocol", fe);
    g_autofree char *k_state = g_strdup_printf("%s/state", fe);

    qxs_wait_state(x, x->xs, be_state, 2);          /* InitWait */
    qxen_ring_init(x, &b->ring, BLKIF_ENTRY);
    g_assert_cmpuint(b->ring.nr_ents, ==, BLKIF_RING);
    b->port = qxen_evtchn_alloc(x);
    qxs_printf(x->xs, k_ring, "%u", b->ring.ref);
    qxs_printf(x->xs, k_port, "%u", b->port);
    qxs_write(x->xs, k_proto, "x86_64-abi");
    qxs_write(x->xs, k_state, "3");                 /* Initialised */
    qxs_wait_state(x, x->xs, be_state, 4);          /* Connected */
    qxs_write(x->xs, k_state, "4");
}

static void start(Bench *b)
{
    g_autofree char *drive = NULL;

    if (b->file) {
        make_file(b);
        drive = g_strdup_printf(
            "-blockdev driver=file,node-name=f0,filename=%s,locking=off "
            "-blockdev driver=raw,node-name=d0,file=f0", b->path);
    } else {
        drive = g_strdup_printf(
            "-blockdev driver=null-co,node-name=d0,size=%" PRIu64
            ",read-zeroes=on", b->capacity);
    }
    b->x = qxen_start(DOMID,
                      "-global xen-qtest-hv.gnttab-frames=%u %s %s",
                      GNT_FRAMES, drive,
                      b->pvscsi ?
                      "-device xen-pvscsi,id=vscsi0,devid=0 "
                      "-device scsi-hd,bus=vscsi0.0,channel=0,scsi-id=0,"
                      "lun=0,drive=d0" :
                      "-device xen-disk,id=xvda,vdev=xvda,drive=d0");
    find_qemu(b);
    printf("bench: pid=%d qemu_pid=%d\n", (int)qtest_pid(b->x->qts),
           (int)b->watch[b->nr_watch - 1]);
    fflush(stdout);
    grant_slots(b);
    if (b->pvscsi) {
        qvscsi_init(&b->vf, b->x, 0);
        qvscsi_connect(&b->vf);
        /* As an initiator does: take the power-on unit attention. */
        for (int i = 0; qvscsi_tur(&b->vf, 0, 0, 0); i++) {
            g_assert_cmpint(i, <, 3);
        }
        b->r = &b->vf.ring;
        b->port = b->vf.port;
        b->entry = sizeof(vscsiif_request_t);
        b->rsp_used = offsetof(vscsiif_response_t, reserved);
    } else {
        blkfront_connect(b);
        b->r = &b->ring;
        b->entry = BLKIF_ENTRY;
        b->rsp_used = sizeof(BlkifResponse);
    }
    b->nr_ents = b->r->nr_ents;
}

/*
 * A write of a pattern from the first and the last slot, then a read back
 * into cleared pages: the pattern again (file), or zeroes (null-co).  The
 * file must hold the pattern too.
 */
static void verify(Bench *b)
{
    g_autofree uint8_t *pat = g_malloc(b->size);
    g_autofree uint8_t *got = g_malloc(b->size);
    g_autofree uint8_t *zero = g_malloc0(b->size);
    unsigned int slots[2] = { 0, b->qd - 1 };

    for (unsigned int k = 0; k < (b->qd > 1 ? 2 : 1); k++) {
        unsigned int s = slots[k];
        uint64_t off = (b->capacity / 2 / b->size + k) * b->size;

        for (size_t i = 0; i < b->size; i++) {
            pat[i] = (i * 7 + s * 13 + (i >> 9)) | 1;
        }
        qtest_memwrite(b->x->qts, b->slot[s].gpa, pat, b->size);
        one_io(b, s, true, off);
        qtest_memset(b->x->qts, b->slot[s].gpa, 0x5a, b->size);
        one_io(b, s, false, off);
        qtest_memread(b->x->qts, b->slot[s].gpa, got, b->size);
        if (memcmp(got, b->file ? pat : zero, b->size)) {
            die("data read back from %" PRIu64 " into slot %u differ", off,
                s);
        }
        if (b->file) {
            int fd = open(b->path, O_RDONLY);

            g_assert_cmpint(fd, >=, 0);
            g_assert_cmpint(pread(fd, got, b->size, off), ==, b->size);
            close(fd);
            if (memcmp(got, pat, b->size)) {
                die("data written at %" PRIu64 " are not in %s", off,
                    b->path);
            }
        }
    }
    printf("bench: data checked\n");
}

static void mark(Bench *b, unsigned int i)
{
    const char *cmd = getenv("BENCH_MARK_CMD");
    char val[32];
    int status;

    if (!cmd || !*cmd) {
        return;
    }
    if (b->idle_wait) {
        wait_idle(b);
    }
    fflush(stdout);
    snprintf(val, sizeof(val), "%u", i);
    setenv("BENCH_MARK", val, 1);
    snprintf(val, sizeof(val), "%u", b->nr_windows + 1);
    setenv("BENCH_MARKS", val, 1);
    snprintf(val, sizeof(val), "%d", (int)qtest_pid(b->x->qts));
    setenv("BENCH_PID", val, 1);
    status = system(cmd);
    if (status != 0) {
        die("BENCH_MARK_CMD failed (status 0x%x) at mark %u", status, i);
    }
}

/* Ask QEMU to quit, and wait for it (and a wrapper) to exit by itself. */
static void stop(Bench *b)
{
    gint64 deadline = g_get_monotonic_time() + WAIT_S * G_TIME_SPAN_SECOND;

    qtest_qmp_send(b->x->qts, "{'execute': 'quit'}");
    while (qtest_probe_child(b->x->qts)) {
        if (g_get_monotonic_time() > deadline) {
            die("QEMU did not exit after quit");
        }
        g_usleep(10 * 1000);
    }
    qxen_stop(b->x);
    b->x = NULL;
    if (b->file) {
        unlink(b->path);
    }
}

/* ---------------------------------------------------------------------- */
/* Parameters                                                              */

static const char *param(int argc, char **argv, const char *key)
{
    g_autofree char *env = g_ascii_strup(key, -1);
    g_autofree char *name = g_strdup_printf("BENCH_%s", env);
    size_t len = strlen(key);

    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], key, len) && argv[i][len] == '=') {
            return argv[i] + len + 1;
        }
    }
    return getenv(name);
}

static uint64_t parse_size(const char *key, const char *v, uint64_t dflt)
{
    uint64_t val;

    if (!v || !*v) {
        return dflt;
    }
    if (qemu_strtosz(v, NULL, &val)) {
        die("%s=%s: not a number", key, v);
    }
    return val;
}

static void parse(Bench *b, int argc, char **argv)
{
    const char *dev = param(argc, argv, "device") ?: "pvscsi";
    const char *sto = param(argc, argv, "storage") ?: "null";
    const char *wait = param(argc, argv, "wait") ?: "idle";
    const char *n = param(argc, argv, "n") ?: "1000";
    g_auto(GStrv) ns = g_strsplit(n, ",", 0);

    for (int i = 1; i < argc; i++) {
        if (!strchr(argv[i], '=')) {
            die("unknown argument %s (want key=value)", argv[i]);
        }
    }
    if (!strcmp(dev, "pvscsi") || !strcmp(dev, "qdisk")) {
        b->pvscsi = !strcmp(dev, "pvscsi");
    } else {
        die("device=%s: want pvscsi or qdisk", dev);
    }
    if (!strcmp(sto, "null") || !strcmp(sto, "file")) {
        b->file = !strcmp(sto, "file");
    } else {
        die("storage=%s: want null or file", sto);
    }
    if (!strcmp(wait, "idle") || !strcmp(wait, "poll")) {
        b->idle_wait = !strcmp(wait, "idle");
    } else {
        die("wait=%s: want idle or poll", wait);
    }
    b->size = parse_size("size", param(argc, argv, "size"), 64 * KiB);
    if (!b->size || b->size % QXEN_PAGE_SIZE ||
        b->size > MAX_PAGES * QXEN_PAGE_SIZE) {
        die("size=%u: want a multiple of 4k up to 512k", b->size);
    }
    b->qd = parse_size("qd", param(argc, argv, "qd"), 1);
    if (!b->qd || b->qd > MAX_QD) {
        die("qd=%u: want 1 to %u", b->qd, MAX_QD);
    }
    b->warmup = parse_size("warmup", param(argc, argv, "warmup"), 32);
    b->seed = parse_size("seed", param(argc, argv, "seed"), 1);
    b->calib = parse_size("calib", param(argc, argv, "calib"), 0);
    b->nr_windows = g_strv_length(ns);
    if (!b->nr_windows) {
        die("n: want N[,N...]");
    }
    b->windows = g_new(uint64_t, b->nr_windows);
    for (unsigned int i = 0; i < b->nr_windows; i++) {
        b->windows[i] = parse_size("n", ns[i], 0);
        if (!b->windows[i]) {
            die("n=%s: want counts above 0", n);
        }
    }
    b->path = g_strdup(param(argc, argv, "file"));
    if (!b->path || !*b->path) {
        g_free(b->path);
        b->path = g_strdup_printf("/dev/shm/xen-pvscsi-bench-%d.img",
                                  (int)getpid());
    }
    b->capacity = b->file ? FILE_SIZE : NULL_SIZE;
    b->npages = b->size / QXEN_PAGE_SIZE;
    b->parts = b->pvscsi ? 1 : DIV_ROUND_UP(b->npages, BLKIF_SEGS);
    b->rng = b->seed;
}

int main(int argc, char **argv)
{
    g_autofree Bench *b = g_new0(Bench, 1);

    g_test_init(&argc, &argv, NULL);
    the_bench = b;
    parse(b, argc, argv);
    start(b);
    verify(b);
    run_ios(b, b->warmup);
    mark(b, 0);
    for (unsigned int w = 0; w < b->nr_windows; w++) {
        uint64_t cmds = b->fe_cmds, reqs = b->ring_reqs;
        uint64_t polls = b->extra_polls;
        gint64 t0 = g_get_monotonic_time();
        double secs;

        if (b->calib) {
            run_calib(b, b->windows[w]);
        } else {
            run_ios(b, b->windows[w]);
        }
        secs = (g_get_monotonic_time() - t0) / 1e6;
        mark(b, w + 1);
        printf("bench: window=%u device=%s storage=%s size=%u qd=%u "
               "ios=%" PRIu64 " seconds=%.4f iops=%.1f ring_requests=%"
               PRIu64 " fe_cmds=%" PRIu64 " extra_polls=%" PRIu64
               " pid=%d\n", w + 1, b->pvscsi ? "pvscsi" : "qdisk",
               b->file ? "file" : "null", b->size, b->qd, b->windows[w],
               secs, b->windows[w] / secs, b->ring_reqs - reqs,
               b->fe_cmds - cmds, b->extra_polls - polls,
               (int)qtest_pid(b->x->qts));
        fflush(stdout);
    }
    stop(b);
    g_free(b->windows);
    g_free(b->watch);
    g_free(b->path);
    return 0;
}
