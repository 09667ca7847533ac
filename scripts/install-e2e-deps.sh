#!/bin/sh
# Host packages the real-Xen end-to-end suite (tests/e2e, "make check-e2e",
# "make bench-e2e") needs on top of scripts/install-deps.sh: the L0 QEMU
# that runs Xen + dom0 under TCG, and the tools that build the dom0 image
# and the guest initramfs.  Debian 12.  Safe to run any number of times;
# installs nothing when everything is there already.
#
# SPDX-License-Identifier: GPL-2.0-or-later
set -eu

SUDO=
if [ "$(id -u)" != 0 ]; then
    SUDO=sudo
fi

# command:package
NEED="
qemu-system-x86_64:qemu-system-x86
debootstrap:debootstrap
mkfs.ext4:e2fsprogs
cpio:cpio
depmod:kmod
bc:bc
gzip:gzip
python3:python3
timeout:coreutils
dpkg-deb:dpkg
gnuplot:gnuplot-nox
sphinx-build:python3-sphinx
"
pkgs=
for c in $NEED; do
    command -v "${c%%:*}" >/dev/null 2>&1 || pkgs="$pkgs ${c#*:}"
done
# qemu-system-x86 pulls in its firmware (seabios etc.); the L0 QEMU boots
# Xen with -kernel, so no more is needed.
if [ -n "$pkgs" ]; then
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    # shellcheck disable=SC2086
    $SUDO apt-get install -q -y --no-install-recommends $pkgs
fi
echo "install-e2e-deps: done"
