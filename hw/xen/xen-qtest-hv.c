/*
 * Test-only Xen hypervisor emulation for qtest
 *
 * Lets xen-bus and XenDevice backends (xen-block, xen-pvscsi) run under
 * "-accel qtest" without Xen or KVM, with a qtest program playing the guest
 * frontend:
 *
 *  - xenstore: QEMU's own xenstore implementation (xenstore_impl.c), served
 *    over the xenstored wire protocol on chardev sockets, so that stock
 *    libxenstore (XENSTORED_PATH) talks to it.  The "xenstore" connection
 *    acts as the guest domain, "xenstore-priv" as dom0 (the toolstack).
 *  - grant table: v1 entries in a RAM region at "gnttab-base"; frames are
 *    guest-physical page numbers of guest RAM.
 *  - event channels: guest ports 1..63 are implicitly "unbound, remote dom0".
 *    The guest kicks the backend by writing a port number to the SEND
 *    register; a backend notification sets the port's bit in the PENDING
 *    registers (write 1 to clear) and raises the named GPIO "upcall".
 *
 * The guest is not trusted: every grant reference, frame number, offset,
 * length and xenstore message is validated.  A malformed xenstore message
 * closes that connection; QEMU carries on.
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/eventfd.h>
#include "qemu/main-loop.h"
#include "qemu/error-report.h"
#include "qemu/lockable.h"
#include "qemu/cutils.h"
#include "qemu/log.h"
#include "qapi/error.h"
#include "hw/qdev-core.h"
#include "hw/qdev-properties.h"
#include "hw/qdev-properties-system.h"
#include "hw/irq.h"
#include "chardev/char-fe.h"
#include "exec/memory.h"
#include "exec/address-spaces.h"
#include "exec/ramblock.h"
#include "migration/vmstate.h"
#include "system/qtest.h"
#include "hw/xen/xen.h"
#include "hw/xen/xen-bus.h"
#include "hw/xen/xen_backend_ops.h"
#include "hw/xen/interface/grant_table.h"
#include "hw/xen/interface/io/xs_wire.h"
#include "hw/i386/kvm/xenstore_impl.h"
#include "trace.h"

#define TYPE_XEN_QTEST_HV "xen-qtest-hv"
OBJECT_DECLARE_SIMPLE_TYPE(XenQtestHV, XEN_QTEST_HV)

#define HV_DOMID_BACKEND    0       /* QEMU plays dom0 */
#define HV_NR_PORTS         64
/* The local (backend) port differs from the guest's to catch mix-ups. */
#define HV_BE_PORT_OFFSET   100
#define HV_MAX_GNTTAB_FRAMES 32

/* Register block (32-bit little-endian registers) */
#define HV_REG_EVTCHN_SEND  0x00    /* W: guest port to kick the backend */
#define HV_REG_PENDING_LO   0x08    /* R/W1C: ports 0..31 pending */
#define HV_REG_PENDING_HI   0x0c    /* R/W1C: ports 32..63 pending */
#define HV_REG_NOTIFY_CNT   0x10    /* R: backend notifications so far */
#define HV_REG_DOMID        0x14    /* R: guest domid */
#define HV_REG_GNT_FRAMES   0x18    /* R: grant table frames */
#define HV_REG_SIZE         0x1000

#define HV_GNT_PER_FRAME    (XEN_PAGE_SIZE / sizeof(grant_entry_v1_t))

/* Watch events queued on one connection before it is considered stuck. */
#define HV_XS_MAX_QUEUED    4096

typedef struct XsConn XsConn;

struct XsConn {
    XenQtestHV *hv;
    const char *name;
    CharBackend chr;
    unsigned int dom;           /* domain this connection acts as */
    GByteArray *in;             /* partial message */
    GQueue out;                 /* queued XS_WATCH_EVENT messages */
    QEMUBH *out_bh;
    GList *watches;             /* "path\0token" registered here */
    GList *transactions;        /* transaction ids started here */
    bool closing;
};

struct XenQtestHV {
    DeviceState parent_obj;

    /* properties */
    uint32_t domid;
    uint64_t gnttab_base;
    uint32_t gnttab_frames;
    uint64_t mmio_base;
    XsConn xs_guest;
    XsConn xs_priv;

    /* grant table */
    MemoryRegion gnt_mr;
    grant_entry_v1_t *gnt;
    uint32_t nr_grants;
    uint32_t *map_count;        /* active mappings per ref, all handles */
    QemuMutex gnt_lock;

    /* event channels */
    QemuMutex port_lock;
    struct xenevtchn_handle *ports[HV_NR_PORTS];
    uint64_t pending;
    uint32_t notify_cnt;
    MemoryRegion regs;
    qemu_irq upcall;
    QEMUBH *irq_bh;

    /* xenstore */
    XenstoreImplState *impl;
};

/* The backend-ops tables are global, so is the device behind them. */
static XenQtestHV *hv_singleton;

/* ---------------------------------------------------------------------- */
/* Event channels                                                          */

struct xenevtchn_handle {
    evtchn_port_t be_port;
    evtchn_port_t guest_port;   /* 0: unbound */
    int fd;
};

static void hv_update_irq(void *opaque)
{
    XenQtestHV *s = opaque;

    qemu_set_irq(s->upcall, qatomic_read(&s->pending) != 0);
}

static xenevtchn_handle *hv_evtchn_open(void)
{
    xenevtchn_handle *xc = g_new0(xenevtchn_handle, 1);

    xc->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (xc->fd < 0) {
        g_free(xc);
        return NULL;
    }
    return xc;
}

static int hv_evtchn_bind_interdomain(xenevtchn_handle *xc, uint32_t domid,
                                      evtchn_port_t guest_port)
{
    XenQtestHV *s = hv_singleton;

    if (domid != xen_domid) {
        return -ESRCH;
    }
    if (guest_port == 0 || guest_port >= HV_NR_PORTS) {
        return -EINVAL;
    }
    QEMU_LOCK_GUARD(&s->port_lock);
    if (xc->guest_port) {
        return -EBUSY;          /* one port per handle */
    }
    if (s->ports[guest_port]) {
        return -EBUSY;
    }
    s->ports[guest_port] = xc;
    xc->guest_port = guest_port;
    xc->be_port = guest_port + HV_BE_PORT_OFFSET;
    trace_xen_qtest_hv_evtchn_bind(guest_port, xc->be_port);
    return xc->be_port;
}

static int hv_evtchn_unbind(xenevtchn_handle *xc, evtchn_port_t port)
{
    XenQtestHV *s = hv_singleton;

    QEMU_LOCK_GUARD(&s->port_lock);
    if (!xc->guest_port || (port && port != xc->be_port)) {
        return -EINVAL;
    }
    trace_xen_qtest_hv_evtchn_unbind(xc->guest_port, xc->be_port);
    s->ports[xc->guest_port] = NULL;
    xc->guest_port = 0;
    xc->be_port = 0;
    return 0;
}

static int hv_evtchn_close(xenevtchn_handle *xc)
{
    if (xc->guest_port) {
        hv_evtchn_unbind(xc, 0);
    }
    close(xc->fd);
    g_free(xc);
    return 0;
}

static int hv_evtchn_fd(xenevtchn_handle *xc)
{
    return xc->fd;
}

/* Backend -> guest.  May be called from an IOThread. */
static int hv_evtchn_notify(xenevtchn_handle *xc, evtchn_port_t port)
{
    XenQtestHV *s = hv_singleton;
    evtchn_port_t guest_port;

    WITH_QEMU_LOCK_GUARD(&s->port_lock) {
        if (!xc->guest_port || port != xc->be_port) {
            return -EINVAL;
        }
        guest_port = xc->guest_port;
    }
    qatomic_or(&s->pending, 1ULL << guest_port);
    qatomic_inc(&s->notify_cnt);
    trace_xen_qtest_hv_evtchn_notify(guest_port);
    /* qemu_set_irq() only from the main loop */
    qemu_bh_schedule(s->irq_bh);
    return 0;
}

static int hv_evtchn_pending(xenevtchn_handle *xc)
{
    eventfd_t val;

    if (eventfd_read(xc->fd, &val) < 0 || !val || !xc->be_port) {
        return 0;
    }
    return xc->be_port;
}

static int hv_evtchn_unmask(xenevtchn_handle *xc, evtchn_port_t port)
{
    return 0;                   /* the event was consumed by pending() */
}

static struct evtchn_backend_ops hv_evtchn_ops = {
    .open = hv_evtchn_open,
    .bind_interdomain = hv_evtchn_bind_interdomain,
    .unbind = hv_evtchn_unbind,
    .close = hv_evtchn_close,
    .get_fd = hv_evtchn_fd,
    .notify = hv_evtchn_notify,
    .unmask = hv_evtchn_unmask,
    .pending = hv_evtchn_pending,
};

static uint64_t hv_regs_read(void *opaque, hwaddr addr, unsigned size)
{
    XenQtestHV *s = opaque;

    switch (addr) {
    case HV_REG_PENDING_LO:
        return (uint32_t)qatomic_read(&s->pending);
    case HV_REG_PENDING_HI:
        return (uint32_t)(qatomic_read(&s->pending) >> 32);
    case HV_REG_NOTIFY_CNT:
        return qatomic_read(&s->notify_cnt);
    case HV_REG_DOMID:
        return xen_domid;
    case HV_REG_GNT_FRAMES:
        return s->gnttab_frames;
    default:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "xen-qtest-hv: read of unknown register 0x%" HWADDR_PRIx
                      "\n", addr);
        return 0;
    }
}

static void hv_regs_write(void *opaque, hwaddr addr, uint64_t val,
                          unsigned size)
{
    XenQtestHV *s = opaque;

    switch (addr) {
    case HV_REG_EVTCHN_SEND:
        if (val == 0 || val >= HV_NR_PORTS) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "xen-qtest-hv: send to invalid port %" PRIu64 "\n",
                          val);
            break;
        }
        WITH_QEMU_LOCK_GUARD(&s->port_lock) {
            if (s->ports[val]) {
                trace_xen_qtest_hv_evtchn_send(val);
                eventfd_write(s->ports[val]->fd, 1);
            }
        }
        break;
    case HV_REG_PENDING_LO:
        qatomic_and(&s->pending, ~(uint64_t)(uint32_t)val);
        hv_update_irq(s);
        break;
    case HV_REG_PENDING_HI:
        qatomic_and(&s->pending, ~((uint64_t)(uint32_t)val << 32));
        hv_update_irq(s);
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR,
                      "xen-qtest-hv: write to unknown register 0x%" HWADDR_PRIx
                      "\n", addr);
        break;
    }
}

static const MemoryRegionOps hv_regs_ops = {
    .read = hv_regs_read,
    .write = hv_regs_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 4,
        .max_access_size = 4,
    },
};

/* ---------------------------------------------------------------------- */
/* Grant table: v1 entries in a RAM region owned by this device            */

static struct gnttab_backend_ops hv_gnttab_ops;

struct xengntdev_handle {
    GHashTable *active;         /* ref -> HvGrantMap */
    GHashTable *multi;          /* address -> HvGrantMulti */
};

typedef struct HvGrantMap {
    void *ptr;
    hwaddr len;
    int prot;
    unsigned int refcnt;
} HvGrantMap;

/*
 * Several grants mapped by one call, contiguous as libxengnttab maps them:
 * each page an alias of the guest's page (a MAP_SHARED mapping of the file
 * behind guest RAM, so that both sides see every store as it happens).
 */
typedef struct HvGrantMulti {
    void *ptr;
    uint32_t count;
    uint32_t *refs;
} HvGrantMulti;

/*
 * Check that guest page @frame is plain guest RAM (not MMIO, not the grant
 * table itself) and return its guest-physical address, or -1.
 */
static hwaddr hv_gnt_frame_gpa(XenQtestHV *s, uint64_t frame)
{
    hwaddr gpa = frame << XEN_PAGE_SHIFT;
    MemoryRegionSection sec;
    bool ok;

    sec = memory_region_find(get_system_memory(), gpa, XEN_PAGE_SIZE);
    if (!sec.mr) {
        return -1;
    }
    ok = memory_region_is_ram(sec.mr) && !memory_region_is_rom(sec.mr) &&
         sec.mr != &s->gnt_mr &&
         int128_eq(sec.size, int128_make64(XEN_PAGE_SIZE));
    memory_region_unref(sec.mr);
    return ok ? gpa : -1;
}

/*
 * Validate grant @ref for an access with @prot by the backend domain and
 * return the guest-physical address of the granted page, or -1.  Called with
 * gnt_lock held.  With @track, GTF_reading/GTF_writing are set as Xen does
 * while the grant is mapped.
 */
static hwaddr hv_gnt_check(XenQtestHV *s, grant_ref_t ref, int prot,
                           bool track)
{
    uint16_t mask = GTF_type_mask | GTF_sub_page;
    grant_entry_v1_t *p;
    hwaddr gpa;

    if (ref >= s->nr_grants) {
        trace_xen_qtest_hv_gnt_bad_ref(ref, "out of range");
        return -1;
    }
    if (prot & PROT_WRITE) {
        mask |= GTF_readonly;
    }
    p = &s->gnt[ref];
    for (int retries = 0; retries < 8; retries++) {
        uint16_t flags = qatomic_read(&p->flags);
        uint16_t domid = qatomic_read(&p->domid);
        uint32_t frame = qatomic_read(&p->frame);
        uint16_t nflags;

        if ((flags & mask) != GTF_permit_access) {
            trace_xen_qtest_hv_gnt_bad_ref(ref, "no access of that kind");
            return -1;
        }
        if (domid != HV_DOMID_BACKEND) {
            trace_xen_qtest_hv_gnt_bad_ref(ref, "granted to another domain");
            return -1;
        }
        gpa = hv_gnt_frame_gpa(s, frame);
        if (gpa == (hwaddr)-1) {
            trace_xen_qtest_hv_gnt_bad_ref(ref, "frame is not guest RAM");
            return -1;
        }
        if (!track) {
            return gpa;
        }
        nflags = flags | GTF_reading | ((prot & PROT_WRITE) ? GTF_writing : 0);
        if (qatomic_cmpxchg(&p->flags, flags, nflags) == flags) {
            /* The guest may have changed the frame before we set the flags. */
            if (qatomic_read(&p->frame) == frame) {
                return gpa;
            }
            qatomic_and(&p->flags, (uint16_t)~(GTF_reading | GTF_writing));
        }
    }
    trace_xen_qtest_hv_gnt_bad_ref(ref, "entry keeps changing");
    return -1;
}

/* A map that failed after hv_gnt_check(): undo its GTF_reading/writing */
static void hv_gnt_check_undo(XenQtestHV *s, grant_ref_t ref)
{
    if (!s->map_count[ref]) {
        qatomic_and(&s->gnt[ref].flags,
                    (uint16_t)~(GTF_reading | GTF_writing));
    }
}

static void hv_gnt_untrack(XenQtestHV *s, grant_ref_t ref)
{
    assert(s->map_count[ref]);
    if (--s->map_count[ref] == 0) {
        qatomic_and(&s->gnt[ref].flags,
                    (uint16_t)~(GTF_reading | GTF_writing));
    }
}

static xengnttab_handle *hv_gnttab_open(void)
{
    xengnttab_handle *h = g_new0(xengnttab_handle, 1);

    h->active = g_hash_table_new(g_direct_hash, g_direct_equal);
    h->multi = g_hash_table_new(g_direct_hash, g_direct_equal);
    return h;
}

/*
 * The file and offset of guest page @gpa, if guest RAM is backed by a file
 * that can be mapped shared (memory-backend-memfd, memory-backend-file
 * with share=on); the fd or -1.
 */
static int hv_gnt_page_fd(hwaddr gpa, int prot, uint64_t *fd_offset)
{
    MemoryRegion *mr;
    hwaddr xlat, len = XEN_PAGE_SIZE;
    RAMBlock *rb;
    int fd;

    RCU_READ_LOCK_GUARD();
    mr = address_space_translate(&address_space_memory, gpa, &xlat, &len,
                                 !!(prot & PROT_WRITE),
                                 MEMTXATTRS_UNSPECIFIED);
    if (!memory_region_is_ram(mr) || len < XEN_PAGE_SIZE) {
        return -1;
    }
    rb = mr->ram_block;
    fd = rb ? qemu_ram_get_fd(rb) : -1;
    if (fd < 0 || !qemu_ram_is_shared(rb) ||
        (xlat & (XEN_PAGE_SIZE - 1))) {
        return -1;
    }
    *fd_offset = rb->fd_offset + xlat;
    return fd;
}

static void hv_gnt_multi_free(XenQtestHV *s, HvGrantMulti *m, uint32_t n)
{
    /* The first @n of its pages are mapped and tracked */
    munmap(m->ptr, (size_t)m->count * XEN_PAGE_SIZE);
    for (uint32_t i = 0; i < n; i++) {
        hv_gnt_untrack(s, m->refs[i]);
        trace_xen_qtest_hv_gnt_unmap(m->refs[i]);
    }
    g_free(m->refs);
    g_free(m);
}

/* XEN_GNTTAB_OP_FEATURE_MAP_MULTIPLE: @count grants, contiguous (gnt_lock) */
static void *hv_gnt_map_multi(XenQtestHV *s, xengnttab_handle *h,
                              uint32_t count, uint32_t *refs, int prot)
{
    HvGrantMulti *m;
    size_t size;
    void *area;
    uint32_t i;

    if (count > s->nr_grants) {
        errno = EINVAL;
        return NULL;
    }
    size = (size_t)count * XEN_PAGE_SIZE;
    area = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED) {
        return NULL;
    }
    m = g_new0(HvGrantMulti, 1);
    m->ptr = area;
    m->count = count;
    m->refs = g_memdup2(refs, count * sizeof(*refs));
    for (i = 0; i < count; i++) {
        uint8_t *page = (uint8_t *)area + (size_t)i * XEN_PAGE_SIZE;
        uint64_t off;
        hwaddr gpa;
        int fd;

        if (refs[i] < s->nr_grants && s->map_count[refs[i]] == UINT32_MAX) {
            errno = ENOSPC;
            break;
        }
        gpa = hv_gnt_check(s, refs[i], prot, true);
        if (gpa == (hwaddr)-1) {
            errno = EINVAL;
            break;
        }
        fd = hv_gnt_page_fd(gpa, prot, &off);
        if (fd < 0 ||
            mmap(page, XEN_PAGE_SIZE, prot, MAP_SHARED | MAP_FIXED, fd,
                 off) == MAP_FAILED) {
            hv_gnt_check_undo(s, refs[i]);
            errno = EINVAL;
            break;
        }
        s->map_count[refs[i]]++;
        trace_xen_qtest_hv_gnt_map(refs[i], prot);
    }
    if (i < count) {
        int err = errno;

        hv_gnt_multi_free(s, m, i);
        errno = err;
        return NULL;
    }
    g_hash_table_insert(h->multi, area, m);
    return area;
}

static void *hv_gnttab_map_refs(xengnttab_handle *h, uint32_t count,
                                uint32_t domid, uint32_t *refs, int prot)
{
    XenQtestHV *s = hv_singleton;
    HvGrantMap *m;
    hwaddr gpa;

    if (domid != xen_domid || !count ||
        (count > 1 && !(hv_gnttab_ops.features &
                        XEN_GNTTAB_OP_FEATURE_MAP_MULTIPLE))) {
        errno = EINVAL;
        return NULL;
    }
    QEMU_LOCK_GUARD(&s->gnt_lock);
    if (count > 1) {
        return hv_gnt_map_multi(s, h, count, refs, prot);
    }
    m = g_hash_table_lookup(h->active, GUINT_TO_POINTER(refs[0]));
    if (m) {
        if ((prot & PROT_WRITE) && !(m->prot & PROT_WRITE)) {
            errno = EACCES;
            return NULL;
        }
        m->refcnt++;
        return m->ptr;
    }
    if (refs[0] < s->nr_grants && s->map_count[refs[0]] == UINT32_MAX) {
        errno = ENOSPC;
        return NULL;
    }
    gpa = hv_gnt_check(s, refs[0], prot, true);
    if (gpa == (hwaddr)-1) {
        errno = EINVAL;
        return NULL;
    }
    m = g_new0(HvGrantMap, 1);
    m->len = XEN_PAGE_SIZE;
    m->prot = prot;
    m->refcnt = 1;
    m->ptr = address_space_map(&address_space_memory, gpa, &m->len,
                               !!(prot & PROT_WRITE), MEMTXATTRS_UNSPECIFIED);
    if (!m->ptr || m->len != XEN_PAGE_SIZE) {
        if (m->ptr) {
            address_space_unmap(&address_space_memory, m->ptr, m->len,
                                false, 0);
        }
        g_free(m);
        hv_gnt_check_undo(s, refs[0]);
        errno = EINVAL;
        return NULL;
    }
    s->map_count[refs[0]]++;
    g_hash_table_insert(h->active, GUINT_TO_POINTER(refs[0]), m);
    trace_xen_qtest_hv_gnt_map(refs[0], prot);
    return m->ptr;
}

static void hv_gnt_do_unmap(XenQtestHV *s, grant_ref_t ref, HvGrantMap *m)
{
    bool is_write = !!(m->prot & PROT_WRITE);

    address_space_unmap(&address_space_memory, m->ptr, m->len, is_write,
                        is_write ? m->len : 0);
    hv_gnt_untrack(s, ref);
    trace_xen_qtest_hv_gnt_unmap(ref);
    g_free(m);
}

static int hv_gnttab_unmap(xengnttab_handle *h, void *start, uint32_t *refs,
                           uint32_t count)
{
    XenQtestHV *s = hv_singleton;
    HvGrantMap *m;

    if (!count) {
        return -EINVAL;
    }
    QEMU_LOCK_GUARD(&s->gnt_lock);
    if (count > 1) {
        HvGrantMulti *mm = g_hash_table_lookup(h->multi, start);

        if (!mm || mm->count != count ||
            memcmp(mm->refs, refs, count * sizeof(*refs))) {
            return -EINVAL;
        }
        g_hash_table_remove(h->multi, start);
        hv_gnt_multi_free(s, mm, count);
        return 0;
    }
    m = g_hash_table_lookup(h->active, GUINT_TO_POINTER(refs[0]));
    if (!m || m->ptr != start) {
        return -EINVAL;
    }
    if (--m->refcnt == 0) {
        g_hash_table_remove(h->active, GUINT_TO_POINTER(refs[0]));
        hv_gnt_do_unmap(s, refs[0], m);
    }
    return 0;
}

static int hv_gnttab_copy(xengnttab_handle *h, bool to_domain, uint32_t domid,
                          XenGrantCopySegment *segs, uint32_t nr_segs,
                          Error **errp)
{
    XenQtestHV *s = hv_singleton;
    int prot = to_domain ? PROT_WRITE : PROT_READ;

    if (domid != xen_domid) {
        error_setg(errp, "grant copy: domain %u is not the guest", domid);
        return -EINVAL;
    }
    for (uint32_t i = 0; i < nr_segs; i++) {
        XenGrantCopySegment *seg = &segs[i];
        uint32_t ref = to_domain ? seg->dest.foreign.ref :
                                   seg->source.foreign.ref;
        off_t off = to_domain ? seg->dest.foreign.offset :
                                seg->source.foreign.offset;
        MemTxResult res;
        hwaddr gpa;

        if (off < 0 || off >= XEN_PAGE_SIZE ||
            seg->len > XEN_PAGE_SIZE - off) {
            error_setg(errp, "grant copy: segment %u (offset %jd, length %zu)"
                       " is not within one page", i, (intmax_t)off, seg->len);
            return -EINVAL;
        }
        WITH_QEMU_LOCK_GUARD(&s->gnt_lock) {
            gpa = hv_gnt_check(s, ref, prot, false);
        }
        if (gpa == (hwaddr)-1) {
            error_setg(errp, "grant copy: bad grant reference %u", ref);
            return -EINVAL;
        }
        if (to_domain) {
            res = address_space_write(&address_space_memory, gpa + off,
                                      MEMTXATTRS_UNSPECIFIED,
                                      seg->source.virt, seg->len);
        } else {
            res = address_space_read(&address_space_memory, gpa + off,
                                     MEMTXATTRS_UNSPECIFIED,
                                     seg->dest.virt, seg->len);
        }
        if (res != MEMTX_OK) {
            error_setg(errp, "grant copy: memory access failed for ref %u",
                       ref);
            return -EIO;
        }
    }
    trace_xen_qtest_hv_gnt_copy(to_domain, nr_segs);
    return 0;
}

static int hv_gnttab_set_max_grants(xengnttab_handle *h, uint32_t n)
{
    return 0;
}

static gboolean hv_gnt_unmap_one(gpointer key, gpointer value, gpointer opaque)
{
    /* libxengnttab also unmaps whatever is left when a handle is closed. */
    trace_xen_qtest_hv_gnt_leaked(GPOINTER_TO_UINT(key));
    hv_gnt_do_unmap(opaque, GPOINTER_TO_UINT(key), value);
    return TRUE;
}

static gboolean hv_gnt_unmap_multi(gpointer key, gpointer value,
                                   gpointer opaque)
{
    HvGrantMulti *m = value;

    for (uint32_t i = 0; i < m->count; i++) {
        trace_xen_qtest_hv_gnt_leaked(m->refs[i]);
    }
    hv_gnt_multi_free(opaque, m, m->count);
    return TRUE;
}

static int hv_gnttab_close(xengnttab_handle *h)
{
    XenQtestHV *s = hv_singleton;

    WITH_QEMU_LOCK_GUARD(&s->gnt_lock) {
        g_hash_table_foreach_remove(h->active, hv_gnt_unmap_one, s);
        g_hash_table_foreach_remove(h->multi, hv_gnt_unmap_multi, s);
    }
    g_hash_table_destroy(h->active);
    g_hash_table_destroy(h->multi);
    g_free(h);
    return 0;
}

static struct gnttab_backend_ops hv_gnttab_ops = {
    .features = 0,
    .open = hv_gnttab_open,
    .close = hv_gnttab_close,
    .grant_copy = hv_gnttab_copy,
    .set_max_grants = hv_gnttab_set_max_grants,
    .map_refs = hv_gnttab_map_refs,
    .unmap = hv_gnttab_unmap,
};

/* ---------------------------------------------------------------------- */
/* Xenstore: backend ops for QEMU itself (acting as dom0)                  */

struct qemu_xs_handle {
    XenstoreImplState *impl;
    GList *watches;
    GQueue events;              /* HvXsEvent, delivered from a BH */
    QEMUBH *watch_bh;
};

struct qemu_xs_watch {
    struct qemu_xs_handle *h;
    char *path;
    xs_watch_fn fn;
    void *opaque;
};

typedef struct HvXsEvent {
    struct qemu_xs_watch *w;
    char *path;
} HvXsEvent;

static void hv_xs_event_free(HvXsEvent *ev)
{
    g_free(ev->path);
    g_free(ev);
}

/*
 * xenstore_impl fires watches synchronously, from inside the operation that
 * triggered them (and on registration).  xen-bus callbacks re-enter xenstore,
 * so deliver them later, one at a time, from a BH.
 */
static void hv_xs_watch_bh(void *opaque)
{
    struct qemu_xs_handle *h = opaque;
    HvXsEvent *ev;

    /* A callback may add or remove watches, or close nothing else. */
    while ((ev = g_queue_pop_head(&h->events))) {
        ev->w->fn(ev->w->opaque, ev->path);
        hv_xs_event_free(ev);
    }
}

static void hv_xs_watch_cb(void *opaque, const char *path, const char *token)
{
    struct qemu_xs_watch *w = opaque;
    HvXsEvent *ev = g_new0(HvXsEvent, 1);

    ev->w = w;
    ev->path = g_strdup(path);
    g_queue_push_tail(&w->h->events, ev);
    qemu_bh_schedule(w->h->watch_bh);
}

static struct qemu_xs_handle *hv_xs_open(void)
{
    struct qemu_xs_handle *h;

    if (!hv_singleton || !hv_singleton->impl) {
        errno = ENOSYS;
        return NULL;
    }
    h = g_new0(struct qemu_xs_handle, 1);
    h->impl = hv_singleton->impl;
    g_queue_init(&h->events);
    h->watch_bh = aio_bh_new(qemu_get_aio_context(), hv_xs_watch_bh, h);
    return h;
}

static void hv_xs_unwatch(struct qemu_xs_handle *h, struct qemu_xs_watch *w)
{
    GList *l, *next;

    xs_impl_unwatch(h->impl, HV_DOMID_BACKEND, w->path, NULL,
                    hv_xs_watch_cb, w);
    h->watches = g_list_remove(h->watches, w);
    /* Drop undelivered events of this watch. */
    for (l = h->events.head; l; l = next) {
        HvXsEvent *ev = l->data;

        next = l->next;
        if (ev->w == w) {
            hv_xs_event_free(ev);
            g_queue_delete_link(&h->events, l);
        }
    }
    g_free(w->path);
    g_free(w);
}

static void hv_xs_close(struct qemu_xs_handle *h)
{
    while (h->watches) {
        hv_xs_unwatch(h, h->watches->data);
    }
    g_queue_clear_full(&h->events, (GDestroyNotify)hv_xs_event_free);
    qemu_bh_delete(h->watch_bh);
    g_free(h);
}

static char *hv_xs_get_domain_path(struct qemu_xs_handle *h,
                                   unsigned int domid)
{
    return g_strdup_printf("/local/domain/%u", domid);
}

static char **hv_xs_directory(struct qemu_xs_handle *h, xs_transaction_t t,
                              const char *path, unsigned int *num)
{
    GList *items = NULL, *l;
    unsigned int i = 0;
    size_t size = 0;
    char **ret, *p;
    int err;

    err = xs_impl_directory(h->impl, HV_DOMID_BACKEND, t, path, NULL, &items);
    if (err) {
        errno = err;
        return NULL;
    }
    /*
     * One block, as libxenstore returns it: xen-bus frees only the array.
     * The pointers first, then the names they point to.
     */
    for (l = items; l; l = l->next) {
        size += sizeof(char *) + strlen(l->data) + 1;
        i++;
    }
    ret = g_malloc0(size + sizeof(char *));
    p = (char *)&ret[i + 1];
    i = 0;
    for (l = items; l; l = l->next) {
        size_t len = strlen(l->data) + 1;

        memcpy(p, l->data, len);
        ret[i++] = p;
        p += len;
    }
    *num = i;
    g_list_free_full(items, g_free);
    return ret;
}

static void *hv_xs_read(struct qemu_xs_handle *h, xs_transaction_t t,
                        const char *path, unsigned int *len)
{
    GByteArray *data = g_byte_array_new();
    int err = xs_impl_read(h->impl, HV_DOMID_BACKEND, t, path, data);

    if (err) {
        g_byte_array_free(data, TRUE);
        errno = err;
        return NULL;
    }
    if (len) {
        *len = data->len;
    }
    /* Callers parse the value as a string. */
    g_byte_array_append(data, (const guint8 *)"", 1);
    return g_byte_array_free(data, FALSE);
}

static bool hv_xs_write(struct qemu_xs_handle *h, xs_transaction_t t,
                        const char *path, const void *data, unsigned int len)
{
    g_autoptr(GByteArray) gdata = g_byte_array_new();
    int err;

    g_byte_array_append(gdata, data, len);
    err = xs_impl_write(h->impl, HV_DOMID_BACKEND, t, path, gdata);
    if (err) {
        errno = err;
        return false;
    }
    return true;
}

static int hv_xs_set_perms2(XenstoreImplState *impl, xs_transaction_t t,
                            const char *path, unsigned int owner,
                            unsigned int domid, unsigned int perms)
{
    GList *perms_list = NULL;
    int err;

    perms_list = g_list_append(perms_list,
                               xs_perm_as_string(XS_PERM_NONE, owner));
    perms_list = g_list_append(perms_list, xs_perm_as_string(perms, domid));
    err = xs_impl_set_perms(impl, HV_DOMID_BACKEND, t, path, perms_list);
    g_list_free_full(perms_list, g_free);
    return err;
}

static bool hv_xs_create(struct qemu_xs_handle *h, xs_transaction_t t,
                         unsigned int owner, unsigned int domid,
                         unsigned int perms, const char *path)
{
    g_autoptr(GByteArray) data = g_byte_array_new();
    int err = xs_impl_read(h->impl, HV_DOMID_BACKEND, t, path, data);

    if (err == ENOENT) {
        err = xs_impl_write(h->impl, HV_DOMID_BACKEND, t, path, data);
    }
    if (!err) {
        err = hv_xs_set_perms2(h->impl, t, path, owner, domid, perms);
    }
    if (err) {
        errno = err;
        return false;
    }
    return true;
}

static bool hv_xs_destroy(struct qemu_xs_handle *h, xs_transaction_t t,
                          const char *path)
{
    int err = xs_impl_rm(h->impl, HV_DOMID_BACKEND, t, path);

    if (err) {
        errno = err;
        return false;
    }
    return true;
}

static struct qemu_xs_watch *hv_xs_watch(struct qemu_xs_handle *h,
                                         const char *path, xs_watch_fn fn,
                                         void *opaque)
{
    struct qemu_xs_watch *w = g_new0(struct qemu_xs_watch, 1);
    int err;

    w->h = h;
    w->fn = fn;
    w->opaque = opaque;
    w->path = g_strdup(path);
    h->watches = g_list_append(h->watches, w);
    err = xs_impl_watch(h->impl, HV_DOMID_BACKEND, path, NULL,
                        hv_xs_watch_cb, w);
    if (err) {
        hv_xs_unwatch(h, w);
        errno = err;
        return NULL;
    }
    return w;
}

static xs_transaction_t hv_xs_transaction_start(struct qemu_xs_handle *h)
{
    xs_transaction_t tx = XBT_NULL;
    int err = xs_impl_transaction_start(h->impl, HV_DOMID_BACKEND, &tx);

    if (err) {
        errno = err;
        return XBT_NULL;
    }
    return tx;
}

static bool hv_xs_transaction_end(struct qemu_xs_handle *h, xs_transaction_t t,
                                  bool abort)
{
    int err = xs_impl_transaction_end(h->impl, HV_DOMID_BACKEND, t, !abort);

    if (err) {
        errno = err;
        return false;
    }
    return true;
}

static struct xenstore_backend_ops hv_xs_ops = {
    .open = hv_xs_open,
    .close = hv_xs_close,
    .get_domain_path = hv_xs_get_domain_path,
    .directory = hv_xs_directory,
    .read = hv_xs_read,
    .write = hv_xs_write,
    .create = hv_xs_create,
    .destroy = hv_xs_destroy,
    .watch = hv_xs_watch,
    .unwatch = hv_xs_unwatch,
    .transaction_start = hv_xs_transaction_start,
    .transaction_end = hv_xs_transaction_end,
};

/* ---------------------------------------------------------------------- */
/* Xenstore: wire protocol server on a chardev                             */

static void xsw_send(XsConn *c, uint32_t type, uint32_t req_id,
                     uint32_t tx_id, const void *data, uint32_t len)
{
    struct xsd_sockmsg hdr = {
        .type = type,
        .req_id = req_id,
        .tx_id = tx_id,
        .len = len,
    };

    qemu_chr_fe_write_all(&c->chr, (const uint8_t *)&hdr, sizeof(hdr));
    if (len) {
        qemu_chr_fe_write_all(&c->chr, data, len);
    }
}

static void xsw_send_str(XsConn *c, const struct xsd_sockmsg *h,
                         const char *str)
{
    xsw_send(c, h->type, h->req_id, h->tx_id, str, strlen(str) + 1);
}

static void xsw_error(XsConn *c, const struct xsd_sockmsg *h, int err)
{
    const char *str = "EINVAL";

    for (int i = 0; i < ARRAY_SIZE(xsd_errors); i++) {
        if (xsd_errors[i].errnum == err) {
            str = xsd_errors[i].errstring;
            break;
        }
    }
    xsw_send(c, XS_ERROR, h->req_id, h->tx_id, str, strlen(str) + 1);
}

static void xsw_out_bh(void *opaque)
{
    XsConn *c = opaque;
    GByteArray *msg;

    if (c->closing) {
        qemu_chr_fe_disconnect(&c->chr);
        return;
    }
    while ((msg = g_queue_pop_head(&c->out))) {
        qemu_chr_fe_write_all(&c->chr, msg->data, msg->len);
        g_byte_array_unref(msg);
    }
}

/*
 * Drop the client of this connection.  The disconnect itself happens from
 * a BH: this may be called from inside xenstore_impl (a watch firing).
 */
static void xsw_close(XsConn *c, const char *why)
{
    if (!c->closing) {
        trace_xen_qtest_hv_xs_protocol_error(c->name, why);
        warn_report("xen-qtest-hv: closing xenstore connection '%s': %s",
                    c->name, why);
        c->closing = true;
        qemu_bh_schedule(c->out_bh);
    }
}

static void xsw_watch_cb(void *opaque, const char *path, const char *token)
{
    XsConn *c = opaque;
    size_t plen = strlen(path) + 1, tlen = strlen(token) + 1;
    struct xsd_sockmsg hdr = {
        .type = XS_WATCH_EVENT,
        .len = plen + tlen,
    };
    GByteArray *msg;

    if (c->closing) {
        return;
    }
    if (g_queue_get_length(&c->out) >= HV_XS_MAX_QUEUED) {
        /* The client does not read its events; give up on it. */
        xsw_close(c, "too many undelivered watch events");
        return;
    }
    msg = g_byte_array_sized_new(sizeof(hdr) + hdr.len);
    g_byte_array_append(msg, (const guint8 *)&hdr, sizeof(hdr));
    g_byte_array_append(msg, (const guint8 *)path, plen);
    g_byte_array_append(msg, (const guint8 *)token, tlen);
    g_queue_push_tail(&c->out, msg);
    /* Sent after the reply to the request that triggered it. */
    qemu_bh_schedule(c->out_bh);
}

/*
 * Split a payload into exactly @n NUL-terminated strings (the last one may
 * be followed by more data when @rest is non-NULL).  Returns false if the
 * payload is not of that form.
 */
static bool xsw_args(const uint8_t *p, uint32_t len, const char **v, int n,
                     uint32_t *rest)
{
    uint32_t i = 0;

    for (int k = 0; k < n; k++) {
        const uint8_t *e = memchr(p + i, 0, len - i);

        if (!e) {
            return false;
        }
        v[k] = (const char *)p + i;
        i = e - p + 1;
    }
    if (rest) {
        *rest = i;
        return true;
    }
    return i == len;
}

static bool xsw_owns_tx(XsConn *c, uint32_t tx_id)
{
    return g_list_find(c->transactions, GUINT_TO_POINTER(tx_id)) != NULL;
}

/* Parse "[nrwb]<domid>"; returns false if malformed. */
static bool xsw_perm_ok(const char *perm)
{
    unsigned long domid;
    const char *end;

    if (!strchr("nrwb", perm[0]) || !perm[0] || !perm[1]) {
        return false;
    }
    return !qemu_strtoul(perm + 1, &end, 10, &domid) && !*end &&
           domid < DOMID_FIRST_RESERVED;
}

/*
 * Handle one complete message.  Returns false if the message is malformed,
 * in which case the connection is closed.
 */
static bool xsw_process(XsConn *c, const struct xsd_sockmsg *h,
                        const uint8_t *p)
{
    XenstoreImplState *impl = c->hv->impl;
    unsigned int dom = c->dom;
    const char *v[2];
    uint32_t rest;
    int err = 0;

    trace_xen_qtest_hv_xs_msg(c->name, h->type, h->req_id, h->tx_id, h->len);

    if (h->tx_id != XBT_NULL && !xsw_owns_tx(c, h->tx_id)) {
        xsw_error(c, h, ENOENT);
        return true;
    }

    switch (h->type) {
    case XS_READ: {
        g_autoptr(GByteArray) d = g_byte_array_new();

        if (!xsw_args(p, h->len, v, 1, NULL)) {
            return false;
        }
        err = xs_impl_read(impl, dom, h->tx_id, v[0], d);
        if (!err) {
            xsw_send(c, h->type, h->req_id, h->tx_id, d->data, d->len);
        }
        break;
    }
    case XS_WRITE: {
        g_autoptr(GByteArray) d = g_byte_array_new();

        if (!xsw_args(p, h->len, v, 1, &rest)) {
            return false;
        }
        g_byte_array_append(d, p + rest, h->len - rest);
        err = xs_impl_write(impl, dom, h->tx_id, v[0], d);
        if (!err) {
            xsw_send_str(c, h, "OK");
        }
        break;
    }
    case XS_MKDIR: {
        g_autoptr(GByteArray) d = g_byte_array_new();

        if (!xsw_args(p, h->len, v, 1, NULL)) {
            return false;
        }
        err = xs_impl_read(impl, dom, h->tx_id, v[0], d);
        if (err == ENOENT) {
            g_byte_array_set_size(d, 0);
            err = xs_impl_write(impl, dom, h->tx_id, v[0], d);
        }
        if (!err) {
            xsw_send_str(c, h, "OK");
        }
        break;
    }
    case XS_RM:
        if (!xsw_args(p, h->len, v, 1, NULL)) {
            return false;
        }
        err = xs_impl_rm(impl, dom, h->tx_id, v[0]);
        if (!err) {
            xsw_send_str(c, h, "OK");
        }
        break;
    case XS_DIRECTORY:
    case XS_GET_PERMS: {
        g_autoptr(GByteArray) d = g_byte_array_new();
        GList *items = NULL;

        if (!xsw_args(p, h->len, v, 1, NULL)) {
            return false;
        }
        if (h->type == XS_DIRECTORY) {
            err = xs_impl_directory(impl, dom, h->tx_id, v[0], NULL, &items);
        } else {
            err = xs_impl_get_perms(impl, dom, h->tx_id, v[0], &items);
        }
        for (GList *l = items; l; l = l->next) {
            g_byte_array_append(d, l->data, strlen(l->data) + 1);
        }
        g_list_free_full(items, g_free);
        if (!err && d->len > XENSTORE_PAYLOAD_MAX) {
            err = E2BIG;
        }
        if (!err) {
            xsw_send(c, h->type, h->req_id, h->tx_id, d->data, d->len);
        }
        break;
    }
    case XS_SET_PERMS: {
        GList *perms = NULL;
        uint32_t i;

        if (!xsw_args(p, h->len, v, 1, &rest) || rest == h->len ||
            p[h->len - 1] != 0) {
            return false;
        }
        for (i = rest; i < h->len; i += strlen((const char *)p + i) + 1) {
            if (!xsw_perm_ok((const char *)p + i)) {
                g_list_free_full(perms, g_free);
                xsw_error(c, h, EINVAL);
                return true;
            }
            perms = g_list_append(perms, g_strdup((const char *)p + i));
        }
        err = xs_impl_set_perms(impl, dom, h->tx_id, v[0], perms);
        g_list_free_full(perms, g_free);
        if (!err) {
            xsw_send_str(c, h, "OK");
        }
        break;
    }
    case XS_WATCH:
    case XS_UNWATCH:
        if (!xsw_args(p, h->len, v, 2, NULL)) {
            return false;
        }
        if (h->type == XS_WATCH) {
            err = xs_impl_watch(impl, dom, v[0], v[1], xsw_watch_cb, c);
            if (!err) {
                c->watches = g_list_prepend(c->watches,
                                            g_strdup_printf("%s%c%s", v[0],
                                                            0, v[1]));
            }
        } else {
            err = xs_impl_unwatch(impl, dom, v[0], v[1], xsw_watch_cb, c);
            for (GList *l = c->watches; !err && l; l = l->next) {
                const char *wp = l->data;

                if (!strcmp(wp, v[0]) && !strcmp(wp + strlen(wp) + 1, v[1])) {
                    g_free(l->data);
                    c->watches = g_list_delete_link(c->watches, l);
                    break;
                }
            }
        }
        if (!err) {
            xsw_send_str(c, h, "OK");
        }
        break;
    case XS_TRANSACTION_START: {
        xs_transaction_t tx = XBT_NULL;
        char buf[16];

        if (h->tx_id != XBT_NULL) {
            err = EINVAL;
            break;
        }
        err = xs_impl_transaction_start(impl, dom, &tx);
        if (!err) {
            c->transactions = g_list_prepend(c->transactions,
                                             GUINT_TO_POINTER(tx));
            snprintf(buf, sizeof(buf), "%u", tx);
            xsw_send_str(c, h, buf);
        }
        break;
    }
    case XS_TRANSACTION_END:
        if (!xsw_args(p, h->len, v, 1, NULL)) {
            return false;
        }
        if (h->tx_id == XBT_NULL ||
            (strcmp(v[0], "T") && strcmp(v[0], "F"))) {
            err = EINVAL;
            break;
        }
        c->transactions = g_list_remove(c->transactions,
                                        GUINT_TO_POINTER(h->tx_id));
        err = xs_impl_transaction_end(impl, dom, h->tx_id, v[0][0] == 'T');
        if (!err) {
            xsw_send_str(c, h, "OK");
        }
        break;
    case XS_GET_DOMAIN_PATH: {
        g_autofree char *path = NULL;
        unsigned long domid;
        const char *end;

        if (!xsw_args(p, h->len, v, 1, NULL)) {
            return false;
        }
        if (qemu_strtoul(v[0], &end, 10, &domid) || *end ||
            domid >= DOMID_FIRST_RESERVED) {
            err = EINVAL;
            break;
        }
        path = g_strdup_printf("/local/domain/%lu", domid);
        xsw_send_str(c, h, path);
        break;
    }
    case XS_RESET_WATCHES:
        /* Only this connection's: dom0 also owns xen-bus's watches. */
        while (c->watches) {
            const char *wp = c->watches->data;

            xs_impl_unwatch(impl, dom, wp, wp + strlen(wp) + 1,
                            xsw_watch_cb, c);
            g_free(c->watches->data);
            c->watches = g_list_delete_link(c->watches, c->watches);
        }
        xsw_send_str(c, h, "OK");
        break;
    default:
        err = ENOSYS;
        break;
    }
    if (err) {
        xsw_error(c, h, err);
    }
    return true;
}

static int xsw_can_read(void *opaque)
{
    XsConn *c = opaque;

    return c->closing ? 0 : XENSTORE_PAYLOAD_MAX;
}

static void xsw_read(void *opaque, const uint8_t *buf, int size)
{
    XsConn *c = opaque;
    struct xsd_sockmsg h;

    if (c->closing) {
        return;
    }
    g_byte_array_append(c->in, buf, size);
    while (c->in->len >= sizeof(h)) {
        memcpy(&h, c->in->data, sizeof(h));
        if (h.len > XENSTORE_PAYLOAD_MAX) {
            xsw_close(c, "message longer than XENSTORE_PAYLOAD_MAX");
            return;
        }
        if (c->in->len < sizeof(h) + h.len) {
            break;
        }
        if (!xsw_process(c, &h, c->in->data + sizeof(h))) {
            xsw_close(c, "malformed message");
            return;
        }
        g_byte_array_remove_range(c->in, 0, sizeof(h) + h.len);
    }
}

/* Forget everything about the current client of this connection. */
static void xsw_reset(XsConn *c)
{
    GByteArray *msg;

    while (c->watches) {
        const char *wp = c->watches->data;

        xs_impl_unwatch(c->hv->impl, c->dom, wp, wp + strlen(wp) + 1,
                        xsw_watch_cb, c);
        g_free(c->watches->data);
        c->watches = g_list_delete_link(c->watches, c->watches);
    }
    while (c->transactions) {
        xs_impl_transaction_end(c->hv->impl, c->dom,
                                GPOINTER_TO_UINT(c->transactions->data),
                                false);
        c->transactions = g_list_delete_link(c->transactions,
                                             c->transactions);
    }
    while ((msg = g_queue_pop_head(&c->out))) {
        g_byte_array_unref(msg);
    }
    g_byte_array_set_size(c->in, 0);
}

static void xsw_event(void *opaque, QEMUChrEvent event)
{
    XsConn *c = opaque;

    switch (event) {
    case CHR_EVENT_OPENED:
        trace_xen_qtest_hv_xs_conn(c->name, "opened");
        xsw_reset(c);
        c->closing = false;
        break;
    case CHR_EVENT_CLOSED:
        trace_xen_qtest_hv_xs_conn(c->name, "closed");
        xsw_reset(c);
        c->closing = false;
        break;
    default:
        break;
    }
}

static void xsw_init(XenQtestHV *s, XsConn *c, const char *name,
                     unsigned int dom)
{
    c->hv = s;
    c->name = name;
    c->dom = dom;
    c->in = g_byte_array_new();
    g_queue_init(&c->out);
    c->out_bh = qemu_bh_new(xsw_out_bh, c);
    qemu_chr_fe_set_handlers(&c->chr, xsw_can_read, xsw_read, xsw_event,
                             NULL, c, NULL, true);
}

/* ---------------------------------------------------------------------- */

static void hv_xs_populate(XenQtestHV *s)
{
    static const char *const guest_dirs[] = {
        "device", "data", "control", "attr", "drivers", "error", "feature",
    };
    struct qemu_xs_handle h = { .impl = s->impl };
    g_autofree char *dom_path = g_strdup_printf("/local/domain/%u", s->domid);
    g_autofree char *domid_str = g_strdup_printf("%u", s->domid);
    g_autofree char *name = g_strdup_printf("qtest-guest-%u", s->domid);
    const struct {
        const char *node;
        const char *value;
    } dom0_owned[] = {
        { "", "" },
        { "/domid", domid_str },
        { "/name", name },
    };

    /* Nodes owned by dom0, readable by the guest, as the toolstack does. */
    for (int i = 0; i < ARRAY_SIZE(dom0_owned); i++) {
        g_autofree char *path = g_strconcat(dom_path, dom0_owned[i].node,
                                            NULL);

        hv_xs_write(&h, XBT_NULL, path, dom0_owned[i].value,
                    strlen(dom0_owned[i].value));
        hv_xs_set_perms2(s->impl, XBT_NULL, path, HV_DOMID_BACKEND, s->domid,
                         XS_PERM_READ);
    }
    /* Subdirectories the guest owns. */
    for (int i = 0; i < ARRAY_SIZE(guest_dirs); i++) {
        g_autofree char *path = g_strdup_printf("%s/%s", dom_path,
                                                guest_dirs[i]);

        hv_xs_write(&h, XBT_NULL, path, "", 0);
        hv_xs_set_perms2(s->impl, XBT_NULL, path, s->domid, HV_DOMID_BACKEND,
                         XS_PERM_NONE);
    }
}

static void hv_realize(DeviceState *dev, Error **errp)
{
    XenQtestHV *s = XEN_QTEST_HV(dev);
    uint64_t gnt_size = (uint64_t)s->gnttab_frames * XEN_PAGE_SIZE;
    uint64_t fd_offset;

    if (!qtest_enabled()) {
        error_setg(errp, "%s is a test device; it only works with "
                   "-accel qtest", TYPE_XEN_QTEST_HV);
        return;
    }
    if (hv_singleton) {
        error_setg(errp, "only one %s device is allowed", TYPE_XEN_QTEST_HV);
        return;
    }
    if (xen_mode != XEN_DISABLED || xen_xenstore_ops || xen_gnttab_ops ||
        xen_evtchn_ops) {
        error_setg(errp, "Xen backend operations are already provided "
                   "(real Xen or Xen emulation)");
        return;
    }
    if (s->domid == 0 || s->domid >= DOMID_FIRST_RESERVED) {
        error_setg(errp, "domid must be between 1 and %u",
                   DOMID_FIRST_RESERVED - 1);
        return;
    }
    if (s->gnttab_frames == 0 || s->gnttab_frames > HV_MAX_GNTTAB_FRAMES) {
        error_setg(errp, "gnttab-frames must be between 1 and %u",
                   HV_MAX_GNTTAB_FRAMES);
        return;
    }
    if (!QEMU_IS_ALIGNED(s->gnttab_base, XEN_PAGE_SIZE) ||
        !QEMU_IS_ALIGNED(s->mmio_base, XEN_PAGE_SIZE)) {
        error_setg(errp, "gnttab-base and mmio-base must be page aligned");
        return;
    }
    if (ranges_overlap(s->gnttab_base, gnt_size, s->mmio_base,
                       HV_REG_SIZE)) {
        error_setg(errp, "the grant table and the registers overlap");
        return;
    }
    if (!qemu_chr_fe_backend_connected(&s->xs_guest.chr)) {
        error_setg(errp, "property 'xenstore' (a chardev) is required");
        return;
    }

    hv_singleton = s;
    xen_domid = s->domid;

    qemu_mutex_init(&s->gnt_lock);
    qemu_mutex_init(&s->port_lock);

    /* Grant table frames, in guest-physical memory for the guest to fill. */
    memory_region_init_ram(&s->gnt_mr, OBJECT(dev), "xen-qtest-hv.gnttab",
                           gnt_size, &error_fatal);
    s->gnt = memory_region_get_ram_ptr(&s->gnt_mr);
    memset(s->gnt, 0, gnt_size);
    s->nr_grants = s->gnttab_frames * HV_GNT_PER_FRAME;
    s->map_count = g_new0(uint32_t, s->nr_grants);
    memory_region_add_subregion_overlap(get_system_memory(), s->gnttab_base,
                                        &s->gnt_mr, 1);

    /* Registers and the upcall line. */
    memory_region_init_io(&s->regs, OBJECT(dev), &hv_regs_ops, s,
                          "xen-qtest-hv.regs", HV_REG_SIZE);
    memory_region_add_subregion_overlap(get_system_memory(), s->mmio_base,
                                        &s->regs, 1);
    qdev_init_gpio_out_named(dev, &s->upcall, "upcall", 1);
    s->irq_bh = qemu_bh_new(hv_update_irq, s);

    /* Xenstore and its two connections. */
    s->impl = xs_impl_create(s->domid);
    hv_xs_populate(s);
    xsw_init(s, &s->xs_guest, "xenstore", s->domid);
    if (qemu_chr_fe_backend_connected(&s->xs_priv.chr)) {
        xsw_init(s, &s->xs_priv, "xenstore-priv", HV_DOMID_BACKEND);
    }

    /* xen_be_init() (from xen-bus realize) insists on all three. */
    xen_xenstore_ops = &hv_xs_ops;
    /*
     * Grants mapped several at a time need guest RAM in a file that can be
     * mapped shared (memory-backend-memfd): offered only then.
     */
    hv_gnttab_ops.features = 0;
    if (hv_gnt_page_fd(0, PROT_READ | PROT_WRITE, &fd_offset) >= 0) {
        hv_gnttab_ops.features |= XEN_GNTTAB_OP_FEATURE_MAP_MULTIPLE;
    }
    xen_gnttab_ops = &hv_gnttab_ops;
    xen_evtchn_ops = &hv_evtchn_ops;

    /* What pc.c does for the KVM Xen emulation: bridge plus xen-bus. */
    xen_bus_init();
}

static const Property hv_props[] = {
    DEFINE_PROP_UINT32("domid", XenQtestHV, domid, 1),
    DEFINE_PROP_UINT64("gnttab-base", XenQtestHV, gnttab_base, 0xfeff0000),
    DEFINE_PROP_UINT32("gnttab-frames", XenQtestHV, gnttab_frames, 4),
    DEFINE_PROP_UINT64("mmio-base", XenQtestHV, mmio_base, 0xfeffc000),
    DEFINE_PROP_CHR("xenstore", XenQtestHV, xs_guest.chr),
    DEFINE_PROP_CHR("xenstore-priv", XenQtestHV, xs_priv.chr),
};

/*
 * The hypervisor's state (grants, event channels, xenstore) is not part of
 * a device model's state under real Xen either (the toolstack moves the
 * domain): the section is empty, so that a test can save a device model's
 * state with xen-save-devices-state, as libxl does, and load it into a
 * second QEMU that has hypervisor state of its own.
 */
static const VMStateDescription hv_vmstate = {
    .name = TYPE_XEN_QTEST_HV,
    .fields = (const VMStateField[]) {
        VMSTATE_END_OF_LIST()
    },
};

static void hv_class_init(ObjectClass *oc, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);

    dc->desc = "Test-only Xen hypervisor emulation for qtest";
    dc->realize = hv_realize;
    dc->vmsd = &hv_vmstate;
    dc->hotpluggable = false;
    dc->user_creatable = true;
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    device_class_set_props(dc, hv_props);
}

static const TypeInfo hv_info = {
    .name = TYPE_XEN_QTEST_HV,
    .parent = TYPE_DEVICE,
    .instance_size = sizeof(XenQtestHV),
    .class_init = hv_class_init,
};

static void hv_register_types(void)
{
    type_register_static(&hv_info);
}

type_init(hv_register_types)
