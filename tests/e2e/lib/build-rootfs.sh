#!/bin/bash
# Build the dom0 root filesystem (Debian bookworm, Xen 4.17 toolstack, the
# runtime libraries of our QEMU, SCSI tools, tgt) and pack it into
# $C/images/dom0.ext4.  Needs root (debootstrap, chroot).
#   in:  $C (cache directory, fetch-inputs.sh done), $E2E (tests/e2e)
#   out: $C/rootfs, $C/images/dom0.ext4
#
# SPDX-License-Identifier: GPL-2.0-or-later
set -euo pipefail
C=${C:?cache directory}; E2E=${E2E:?tests/e2e directory}
KVER=$(cat "$C/images/KVER")
. "$E2E/../../scripts/apt-mirror.sh"
MIRROR=${MIRROR:-$(apt_debian_mirror)}
MIRROR=${MIRROR%/}
[ -n "$MIRROR" ] || { echo "build-rootfs: no Debian mirror in the apt configuration" >&2; exit 1; }
SECMIRROR=${SECMIRROR:-$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
                         grep -m1 security || echo "${MIRROR}-security")}
R=$C/rootfs
t0=$(date +%s)
# dom0 packages:
#  - Xen toolstack (xl, xenstore tools, xenconsoled) from bookworm: 4.17, the
#    same as the hypervisor and as the libxen our QEMU is built against;
#  - the runtime libraries of our qemu-system-i386 (ldd is checked against
#    this rootfs every run, see run.sh) and its firmware (same paths as on
#    the build host: seabios, ipxe-qemu, qemu-system-data);
#  - those of xen-vscsi (json-glib; libsgutils2 comes with sg3-utils);
#  - sg3-utils, lsscsi (dom0 side checks), tgt (iSCSI case), python3 (QMP).
PKGS="xen-utils-4.17 xen-utils-common xenstore-utils
      libiscsi7 libaio1 liburing2 libglib2.0-0 libjson-glib-1.0-0 libfdt1 zlib1g libpixman-1-0
      seabios ipxe-qemu qemu-system-data
      sg3-utils lsscsi mt-st tgt python3 busybox-static iproute2 ${EXTRA_PKGS:-}"
rm -rf "$R"
debootstrap --variant=minbase \
  --include=kmod,udev,systemd-sysv,iproute2,procps,less,util-linux \
  bookworm "$R" "$MIRROR"
echo "build-rootfs: debootstrap done after $(( $(date +%s) - t0 ))s"
cat > "$R/etc/apt/sources.list" <<SRC
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECMIRROR bookworm-security main
SRC
# never start services inside the chroot
printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d"; chmod +x "$R/usr/sbin/policy-rc.d"
mount -t proc proc "$R/proc"
trap 'umount "$R/proc" 2>/dev/null || true' EXIT
chroot "$R" apt-get update -q
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive chroot "$R" apt-get install -y -q --no-install-recommends $PKGS
chroot "$R" apt-get clean
umount "$R/proc"; trap - EXIT
rm -f "$R/usr/sbin/policy-rc.d"
rm -rf "$R"/var/lib/apt/lists/* "$R"/usr/share/doc "$R"/usr/share/man "$R"/usr/share/locale
echo "build-rootfs: packages done after $(( $(date +%s) - t0 ))s"

# kernel modules of the kernel dom0 and the guests run
mkdir -p "$R/lib/modules"
cp -a "$C/kernel/lib/modules/$KVER" "$R/lib/modules/"
depmod -b "$R" "$KVER"

echo dom0 > "$R/etc/hostname"
sed -i 's/^root:[^:]*:/root::/' "$R/etc/shadow"       # passwordless root
echo '/dev/vda / ext4 rw,errors=remount-ro 0 1' > "$R/etc/fstab"
printf 'xen-gntdev\nxen-evtchn\nxenfs\nxen-privcmd\nxen-gntalloc\n' > "$R/etc/modules-load.d/xen.conf"
# Linux's pvscsi backend is never loaded by udev: only our QEMU serves
# vscsi frontends in check-e2e (its backend type is qvscsi, so xen-scsiback
# would not bind anyway, but the kernel backend must not even be there).
# bench-e2e loads it on purpose for its reference series.
echo 'blacklist xen-scsiback' > "$R/etc/modprobe.d/e2e.conf"
# every guest console goes to /var/log/xen/console/guest-<name>.log
grep -q '^XENCONSOLED_ARGS' "$R/etc/default/xen" ||
  echo 'XENCONSOLED_ARGS="--log=guest --log-dir=/var/log/xen/console"' >> "$R/etc/default/xen"
mkdir -p "$R/var/log/xen/console"
# tests start their own tgtd on 127.0.0.1; no system tgtd on 0.0.0.0:3260
chroot "$R" systemctl disable tgt.service 2>/dev/null || true
# interactive use (E2E_INTERACTIVE=1): root autologin on hvc0, never with e2etest
mkdir -p "$R/etc/systemd/system/serial-getty@hvc0.service.d"
cat > "$R/etc/systemd/system/serial-getty@hvc0.service.d/autologin.conf" <<'UNIT'
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --noclear --keep-baud 115200,38400,9600 %I $TERM
[Unit]
ConditionKernelCommandLine=!e2etest
UNIT
install -m 0755 "$E2E/dom0/test-runner.sh" "$R/usr/local/sbin/e2e-test-runner"
cat > "$R/etc/systemd/system/e2e-test.service" <<'UNIT'
[Unit]
Description=qemu-xen-pvscsi e2e test runner
After=xen.service xencommons.service xendomains.service systemd-modules-load.service systemd-udev-settle.service
Wants=xencommons.service
ConditionKernelCommandLine=e2etest

[Service]
Type=oneshot
StandardOutput=journal+console
StandardError=journal+console
ExecStart=/usr/local/sbin/e2e-test-runner
TimeoutStartSec=3000

[Install]
WantedBy=multi-user.target
UNIT
chroot "$R" systemctl enable e2e-test.service
for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer; do
  chroot "$R" systemctl disable "$u" 2>/dev/null || true
done
mb=$(du -sm "$R" | cut -f1)
rm -f "$C/images/dom0.ext4"
mkfs.ext4 -q -F -L dom0root -d "$R" "$C/images/dom0.ext4" "$(( mb + 768 ))M"
echo "build-rootfs: image $(( mb + 768 )) MiB (content $mb MiB), total $(( $(date +%s) - t0 ))s"
