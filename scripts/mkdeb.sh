#!/bin/sh
# "make deb": a Debian binary package of the built tree, qemu-xen-pvscsi,
# laid out by scripts/install.sh under /usr (our QEMU in
# /usr/lib/qemu-xen-pvscsi, beside Debian's qemu-system-x86 and Xen
# packages, never over them; xen-vscsi in /usr/bin; man pages), with
# the library dependencies dpkg-shlibdeps finds, then checked by lintian.
#
# usage: scripts/mkdeb.sh [build dir]; writes build/deb/*.deb and prints
# its path.  env LINTIAN=0 skips lintian.
#
# SPDX-License-Identifier: GPL-2.0-or-later
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build}
out=$build/deb
pkg=qemu-xen-pvscsi
qemu_build=$(sed -n 's/^QEMU_BUILD := //p' "$build/config.mak")
qver=$("$qemu_build"/qemu-img --version | sed -n '1s/^qemu-img version \([0-9.]*\).*/\1/p')
# upstream version: the pinned QEMU release + our commit count and hash
if git -C "$src" rev-parse HEAD > /dev/null 2>&1; then
    n=$(git -C "$src" rev-list --count HEAD)
    h=$(git -C "$src" rev-parse --short=8 HEAD)
    date=$(git -C "$src" log -1 --format=%cD)
    maint="$(git -C "$src" log -1 --format='%an <%ae>')"
else
    n=0 h=unknown date=$(date -R) maint="qemu-xen-pvscsi <root@localhost>"
fi
ver=$qver+pvscsi$n.g$h-1
arch=$(dpkg --print-architecture)

work=$out/work
root=$work/root
rm -rf "$work"
mkdir -p "$root" "$work/debian"
DESTDIR=$root PREFIX=/usr STRIP=1 MAN=required sh "$src/scripts/install.sh" "$build"

doc=$root/usr/share/doc/$pkg
install -d "$doc"
install -m 644 "$src/README.rst" "$doc/README.rst"
gzip -9n "$doc/README.rst"
gzip -9n "$root"/usr/share/man/man*/*
cat > "$work/changelog" <<EOF
$pkg ($ver) unstable; urgency=medium

  * Built from commit $h of qemu-xen-pvscsi on QEMU $qver.

 -- $maint  $date
EOF
gzip -9n -c "$work/changelog" > "$doc/changelog.Debian.gz"
chmod 644 "$doc/changelog.Debian.gz"
cat > "$doc/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: qemu-xen-pvscsi
Comment: QEMU $qver (https://www.qemu.org, Debian's source of qemu
 1:$qver) built with the qemu-xen-pvscsi overlay and its patches/ series.

Files: *
Copyright: 2003-2025 Fabrice Bellard and the QEMU Project developers
           2026 the qemu-xen-pvscsi authors
License: GPL-2
 QEMU as a whole is released under the GNU General Public License,
 version 2; some of its parts are under compatible licences (see QEMU's
 LICENSE file).
 .
 On Debian systems, the complete text of the GNU General Public License
 version 2 can be found in /usr/share/common-licenses/GPL-2.
EOF
chmod 644 "$doc/copyright"

# dependencies: the shared libraries of the binaries, and the firmware
# (SeaBIOS, iPXE, option ROMs) that our QEMU loads from Debian's packages
cat > "$work/debian/control" <<EOF
Source: $pkg

Package: $pkg
Architecture: any
EOF
bins=$(find "$root/usr/lib/$pkg/bin" "$root/usr/bin" -type f)
# shellcheck disable=SC2086
shlibs=$(cd "$work" && dpkg-shlibdeps -O -e $bins 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
size=$(du -sk "$root" | cut -f1)
mkdir -p "$root/DEBIAN"
cat > "$root/DEBIAN/control" <<EOF
Package: $pkg
Version: $ver
Architecture: $arch
Maintainer: $maint
Installed-Size: $size
Depends: $shlibs, seabios, ipxe-qemu, qemu-system-data
Recommends: xen-utils-common
Section: admin
Priority: optional
Homepage: https://www.qemu.org
Description: QEMU with xen-pvscsi, a Xen paravirtual SCSI backend
 A build of QEMU $qver with the xen-pvscsi device: it serves Xen's
 paravirtual SCSI protocol (vscsiif) to the xen-scsifront driver of Xen
 guests, from QEMU's SCSI devices (scsi-hd and scsi-cd on any block
 backend; scsi-generic and scsi-block passthrough of local or iSCSI disks,
 tape drives and media changers).
 .
 The emulator is installed as /usr/lib/$pkg/bin/qemu-system-i386,
 beside Debian's own QEMU; an HVM guest's xl.cfg names it in
 device_model_override.  The xen-vscsi tool turns xl-style vscsi
 descriptions into QEMU arguments and hot-plugs LUNs over QMP;
 qemu-pr-helper, beside the emulator, runs persistent reservation
 commands for passthrough LUNs of an unprivileged QEMU.
EOF
(cd "$root" && find usr -type f -print0 | sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
chmod 644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"
find "$root" -type d -exec chmod 755 {} +

deb=$out/${pkg}_${ver}_$arch.deb
rm -f "$out"/*.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" > /dev/null
if [ "${LINTIAN:-1}" != 0 ]; then
    # tags we accept, with the reasons, are in scripts/lintian-overrides
    lintian --fail-on error,warning --suppress-tags-from-file \
        "$src/scripts/lintian-overrides" "$deb"
    echo "mkdeb: lintian: no errors or warnings"
fi
echo "mkdeb: $deb"
