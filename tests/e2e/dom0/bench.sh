#!/bin/bash
# bench-e2e, dom0 side (/mnt/payload/test.sh): one PV guest, three disks of
# SIZE_MB, each on a fully allocated file in dom0's tmpfs:
#   (a) our QEMU: xen-pvscsi + scsi-hd          (/dev/shm/pvscsi.img)
#   (b) the same QEMU process: xen-disk (qdisk) (/dev/shm/qdisk.img)
#   (c) Linux xen-scsiback + LIO fileio         (/dev/shm/lio.img; the one
#       place where xen-scsiback is loaded, vscsi nodes written by hand:
#       libxl 4.17 has no vscsi)
# The guest (guest/init-bench.sh) runs fio and prints BENCH-RES lines; this
# script copies them to the console as "BENCH-LINE:" for the host's table.
#
# SPDX-License-Identifier: GPL-2.0-or-later
P=/mnt/payload
Q=$P/qemu/bin/qemu-system-i386
SIZE_MB=128
up() { cut -d' ' -f1 /proc/uptime; }
info() { echo "E2E-INFO: [$(up)] $*"; }
ARGS=$(cat $P/bench.args 2>/dev/null)
xl list >/dev/null || { info "xl not working"; exit 1; }
for f in pvscsi qdisk lio; do dd if=/dev/zero of=/dev/shm/$f.img bs=1M count=$SIZE_MB status=none; done
df -h /dev/shm | sed 's/^/E2E-INFO:   /'

info "LIO fileio on /dev/shm/lio.img for xen-scsiback"
WWN=naa.5001405000000001; NEXUS=naa.5001405000000002
modprobe xen-scsiback || exit 1         # blacklisted for autoload; explicit here
modprobe target_core_file || exit 1
mountpoint -q /sys/kernel/config || mount -t configfs configfs /sys/kernel/config
CF=/sys/kernel/config/target
mkdir -p $CF/core/fileio_0/lun0
echo "fd_dev_name=/dev/shm/lio.img,fd_dev_size=$((SIZE_MB * 1024 * 1024))" > $CF/core/fileio_0/lun0/control
echo 1 > $CF/core/fileio_0/lun0/enable || exit 1
mkdir -p $CF/xen-pvscsi/$WWN/tpgt_1/lun/lun_0 || exit 1
ln -s $CF/core/fileio_0/lun0 $CF/xen-pvscsi/$WWN/tpgt_1/lun/lun_0/lun0 || exit 1
echo $NEXUS > $CF/xen-pvscsi/$WWN/tpgt_1/nexus || exit 1

cat > /tmp/bench.cfg <<CFG
name = "bench"
type = "pv"
kernel = "$P/vmlinuz"
ramdisk = "$P/guest-initrd.cpio.gz"
extra = "console=hvc0 panic=-1 loglevel=4 $ARGS"
memory = 640
vcpus = 1
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "destroy"
CFG
xl create -p /tmp/bench.cfg || exit 1
D=$(xl domid bench)
# (c) kernel backend at vscsi devid 1 (our QEMU's xen-pvscsi is devid 0)
FE=/local/domain/$D/device/vscsi/1
BE=/local/domain/0/backend/vscsi/$D/1
xenstore-write $FE/backend $BE $FE/backend-id 0 \
  $BE/frontend $FE $BE/frontend-id $D $BE/online 1 $BE/feature-host 0 \
  $BE/vscsi-devs/dev-0/p-dev "$WWN:0" $BE/vscsi-devs/dev-0/v-dev "1:0:0:0" \
  $BE/vscsi-devs/dev-0/state 1
xenstore-chmod -r $FE n$D r0
xenstore-chmod -r $BE n0 r$D
xenstore-write $FE/state 1
xenstore-write $BE/state 1
# (a) and (b): our QEMU
timeout -k 5 1500 $Q -machine xenpv -xen-domid $D -xen-attach -nodefaults -display none \
  -monitor none -serial none -parallel none \
  -blockdev driver=file,node-name=fa,filename=/dev/shm/pvscsi.img,cache.direct=off \
  -blockdev driver=raw,node-name=a,file=fa \
  -drive file=/dev/shm/qdisk.img,if=none,id=b,format=raw,cache=writeback \
  -device xen-pvscsi,id=h0,devid=0 \
  -device scsi-hd,bus=h0.0,channel=0,scsi-id=0,lun=0,drive=a \
  -device xen-disk,vdev=xvda,drive=b > /tmp/bench-qemu.log 2>&1 &
QPID=$!
for i in $(seq 1 60); do
  [ "$(xenstore-read /local/domain/0/backend/qvscsi/$D/0/state 2>/dev/null)" = 2 ] &&
    xenstore-exists /local/domain/0/backend/qdisk/$D 2>/dev/null && break
  sleep 0.5
done
info "domain $D: backends ready; unpause"
xl unpause bench
CL=/var/log/xen/console/guest-bench.log
fails=0; n=0
for i in $(seq 1 600); do
  if [ -f $CL ]; then
    m=$(tr -d '\r' < $CL | grep -a -c '^BENCH-')
    [ "$m" -gt $n ] && { tr -d '\r' < $CL | grep -a '^BENCH-' | sed -n "$((n + 1)),${m}p" | sed 's/^/E2E-INFO:   guest| /'; n=$m; }
  fi
  grep -aq BENCH-DONE $CL 2>/dev/null && break
  xl list bench >/dev/null 2>&1 && fails=0 || fails=$((fails + 1))
  [ $fails -ge 3 ] && break
  kill -0 $QPID 2>/dev/null || { info "QEMU died"; cat /tmp/bench-qemu.log; break; }
  sleep 3
done
sleep 2
xl list bench >/dev/null 2>&1 && xl destroy bench
kill $QPID 2>/dev/null; wait $QPID 2>/dev/null
sed 's/^/E2E-INFO:   qemu| /' /tmp/bench-qemu.log
tr -d '\r' < $CL | grep -a '^BENCH-RES ' | sed 's/^/BENCH-LINE: /'
grep -aq 'BENCH-DONE rc=0' $CL && { echo "E2E-RESULT: bench done"; exit 0; }
tr -d '\r' < $CL | tail -40 | sed 's/^/E2E-INFO:   /'
exit 1
