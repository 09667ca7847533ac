#!/bin/sh
# /init of dom0's initramfs: load virtio + ext4 (crc32c_generic is only a
# soft dependency of ext4, modprobe --show-depends misses it), mount
# /dev/vda, switch_root to systemd.  No fallback shell: it would hang.
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in virtio_pci virtio_blk crc32c_generic crc32c_intel ext4; do modprobe $m || echo "modprobe $m failed"; done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
mkdir -p /newroot
if ! mount -t ext4 -o rw /dev/vda /newroot; then
  echo "initramfs: cannot mount /dev/vda"; ls /dev; poweroff -f
fi
umount /sys /proc
mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/init
