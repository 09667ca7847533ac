# Sphinx configuration for the man pages of qemu-xen-pvscsi (as QEMU builds
# its man pages from rST): xen-vscsi(1) and xen-pvscsi(7).  Used by
# scripts/install.sh: sphinx-build -b man -c docs/man docs OUTDIR
#
# SPDX-License-Identifier: GPL-2.0-or-later

project = 'qemu-xen-pvscsi'
copyright = 'the qemu-xen-pvscsi authors'
root_doc = 'tools/xen-vscsi'
include_patterns = ['tools/xen-vscsi.rst', 'system/devices/xen-pvscsi.rst']
exclude_patterns = ['man', 'devel']
man_pages = [
    ('tools/xen-vscsi', 'xen-vscsi',
     'describe, attach and detach SCSI LUNs of xen-pvscsi hosts', [], 1),
    ('system/devices/xen-pvscsi', 'xen-pvscsi',
     'Xen paravirtual SCSI (vscsiif) backend in QEMU', [], 7),
]
man_show_urls = True
