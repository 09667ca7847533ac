/*
 * Test-only Xen hypervisor emulation for qtest: the grant table
 *
 * v1 entries in a RAM region at "gnttab-base"; frames are guest-physical
 * page numbers of guest RAM.  Every grant reference, frame number, offset
 * and length the guest gives is validated.
 *
 * Copyright (c) 2026 The qemu-xen-pvscsi authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/lockable.h"
#include "qemu/rcu.h"
#include "qapi/error.h"
#include "exec/address-spaces.h"
#include "exec/ramblock.h"
#include "hw/xen/xen.h"
#include "xen-qtest-hv.h"
#include "trace.h"

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
    XenQtestHV *s = xen_qtest_hv;
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
    XenQtestHV *s = xen_qtest_hv;
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
    XenQtestHV *s = xen_qtest_hv;
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
    XenQtestHV *s = xen_qtest_hv;

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

void xen_qtest_hv_gnttab_init(XenQtestHV *s)
{
    uint64_t gnt_size = (uint64_t)s->gnttab_frames * XEN_PAGE_SIZE;
    uint64_t fd_offset;

    qemu_mutex_init(&s->gnt_lock);
    /* Grant table frames, in guest-physical memory for the guest to fill. */
    memory_region_init_ram(&s->gnt_mr, OBJECT(s), "xen-qtest-hv.gnttab",
                           gnt_size, &error_fatal);
    s->gnt = memory_region_get_ram_ptr(&s->gnt_mr);
    memset(s->gnt, 0, gnt_size);
    s->nr_grants = s->gnttab_frames * HV_GNT_PER_FRAME;
    s->map_count = g_new0(uint32_t, s->nr_grants);
    memory_region_add_subregion_overlap(isa_address_space(ISA_DEVICE(s)),
                                        s->gnttab_base, &s->gnt_mr, 1);
    /*
     * Grants mapped several at a time need guest RAM in a file that can be
     * mapped shared (memory-backend-memfd): offered only then.
     */
    hv_gnttab_ops.features = 0;
    if (hv_gnt_page_fd(0, PROT_READ | PROT_WRITE, &fd_offset) >= 0) {
        hv_gnttab_ops.features |= XEN_GNTTAB_OP_FEATURE_MAP_MULTIPLE;
    }
    xen_gnttab_ops = &hv_gnttab_ops;
}
