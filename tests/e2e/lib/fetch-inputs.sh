#!/bin/bash
# Fetch and unpack what the nested Xen machine boots: the Debian kernel (used
# for dom0 and for the guests), the Xen 4.17 hypervisor and a static busybox.
# Only apt (apt-get download, the host's own apt sources).
#   in:  $C (cache directory), KVER (default: what linux-image-amd64 depends on)
#   out: $C/images/{vmlinuz,xen-4.17,KVER}, $C/kernel/lib/modules/$KVER (depmod'ed),
#        $C/inputs/root/bin/busybox
#
# SPDX-License-Identifier: GPL-2.0-or-later
set -euo pipefail
C=${C:?cache directory}
mkdir -p "$C/images" "$C/inputs/debs" "$C/kernel/lib/modules"
if [ -z "${KVER:-}" ]; then
  KVER=$(apt-cache depends linux-image-amd64 |
         sed -n 's/.*Depends: linux-image-\([0-9].*-amd64\)$/\1/p' | head -1)
fi
[ -n "$KVER" ] || { echo "fetch-inputs: cannot tell the kernel version (apt-get update?)" >&2; exit 1; }
echo "fetch-inputs: kernel $KVER"
ROOT=$C/inputs/root
rm -rf "$ROOT" "$C/inputs/debs"; mkdir -p "$ROOT" "$C/inputs/debs"
(cd "$C/inputs/debs" && apt-get download -q "linux-image-$KVER" xen-hypervisor-4.17-amd64 busybox-static)
for d in "$C"/inputs/debs/*.deb; do dpkg-deb -x "$d" "$ROOT"; done
cp "$ROOT/boot/vmlinuz-$KVER" "$C/images/vmlinuz"
# QEMU's multiboot loader wants Xen's uncompressed 32-bit ELF
zcat "$ROOT"/boot/xen-4.17-amd64.gz > "$C/images/xen-4.17"
rm -rf "$C/kernel/lib/modules/$KVER"
cp -a "$ROOT/lib/modules/$KVER" "$C/kernel/lib/modules/"
depmod -b "$C/kernel" "$KVER"
echo "$KVER" > "$C/images/KVER"
# the unpacked kernel image tree is not needed any more (keep busybox)
mkdir -p "$C/inputs/bb"; cp "$ROOT/bin/busybox" "$C/inputs/bb/busybox"
rm -rf "$ROOT/lib/modules" "$ROOT/usr/lib/debug"
ls -la "$C/images"
