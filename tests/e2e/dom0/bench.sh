#!/bin/bash
# bench-e2e, dom0 side (/mnt/payload/test.sh): one PV guest, three disks of
# SIZE_MB, each on a fully allocated file in dom0's tmpfs:
#   (a) our QEMU: xen-pvscsi + scsi-hd          (/dev/shm/pvscsi.img)
#   (b) the same QEMU process: xen-disk (qdisk) (/dev/shm/qdisk.img)
#   (c) Linux xen-scsiback + LIO fileio         (/dev/shm/lio.img; the one
#       place where xen-scsiback is loaded, vscsi nodes written by hand:
#       libxl 4.17 has no vscsi)
# and, for the passthrough rows, two scsi_debug disks in dom0 (a store
# each, no delay), one on each side:
#   (a) scsi-generic on the first one's sg node, on xen-pvscsi's host
#   (c) LIO pscsi on the second, a second LUN of xen-scsiback's host
# The guest (guest/init-bench.sh) runs fio and prints BENCH-RES lines; this
# script copies them to the console as "BENCH-LINE:" for the host's table.
#
# SPDX-License-Identifier: GPL-2.0-or-later
P=/mnt/payload
Q=/usr/lib/qemu-xen-pvscsi/bin/qemu-system-i386   # from our package
SIZE_MB=128
up() { cut -d' ' -f1 /proc/uptime; }
. $P/watchdog.sh                 # hung helpers of the nested dom0 (watchdog.sh)
info() { echo "E2E-INFO: [$(up)] $*"; alive; }
timeout 300 dpkg -i $P/qemu-xen-pvscsi_*.deb > /tmp/dpkg.log 2>&1 ||
  { info "dpkg -i of our package failed:"; sed 's/^/E2E-INFO:   /' /tmp/dpkg.log; exit 1; }
wd_start $$
trap 'kill $WATCHDOG 2>/dev/null' EXIT
ARGS=$(cat $P/bench.args 2>/dev/null)
xl list >/dev/null || { info "xl not working"; exit 1; }
for f in pvscsi qdisk lio pvscsi-d; do dd if=/dev/zero of=/dev/shm/$f.img bs=1M count=$SIZE_MB status=none; alive; done
df -h /dev/shm | sed 's/^/E2E-INFO:   /'

# Passthrough: scsi_debug disks, found by their INQUIRY model
PT_MB=64
modprobe scsi_debug dev_size_mb=$PT_MB num_tgts=1 max_luns=1 add_host=2 per_host_store=1 delay=0 ptype=0 ||
  modprobe scsi_debug dev_size_mb=$PT_MB num_tgts=1 max_luns=1 add_host=2 delay=0 ptype=0 ||
  { info "modprobe scsi_debug failed"; exit 1; }
udevadm settle -t 30 2>/dev/null
PT=()
for s in /sys/bus/scsi/devices/*:*:*:*; do
  [ "$(tr -d ' ' < $s/model 2>/dev/null)" = scsi_debug ] && [ "$(cat $s/type)" = 0 ] && PT+=(${s##*/})
done
[ ${#PT[@]} = 2 ] || { info "scsi_debug: want two disks, have: ${PT[*]}"; exit 1; }
PT_SG=/dev/$(ls /sys/bus/scsi/devices/${PT[0]}/scsi_generic)
PT_C=/dev/$(ls /sys/bus/scsi/devices/${PT[1]}/block)
info "scsi_debug: ${PT[0]} ($PT_SG) for xen-pvscsi's scsi-generic, ${PT[1]} ($PT_C) for LIO pscsi"

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
modprobe target_core_pscsi || exit 1
IFS=: read -r h c t l <<< "${PT[1]}"
mkdir -p $CF/core/pscsi_0/pt0
echo "scsi_host_id=$h,scsi_channel_id=$c,scsi_target_id=$t,scsi_lun_id=$l" > $CF/core/pscsi_0/pt0/control
echo "$PT_C" > $CF/core/pscsi_0/pt0/udev_path
echo 1 > $CF/core/pscsi_0/pt0/enable || { info "LIO pscsi on ${PT[1]} failed"; exit 1; }
mkdir -p $CF/xen-pvscsi/$WWN/tpgt_1/lun/lun_1 || exit 1
ln -s $CF/core/pscsi_0/pt0 $CF/xen-pvscsi/$WWN/tpgt_1/lun/lun_1/pt0 || exit 1
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
  $BE/vscsi-devs/dev-0/state 1 \
  $BE/vscsi-devs/dev-1/p-dev "$WWN:1" $BE/vscsi-devs/dev-1/v-dev "1:0:1:0" \
  $BE/vscsi-devs/dev-1/state 1
xenstore-chmod -r $FE n$D r0
xenstore-chmod -r $BE n0 r$D
xenstore-write $FE/state 1
xenstore-write $BE/state 1
# (a) and (b): our QEMU
# bench.qemu.env (E2E_BENCH_QEMU_ENV on the host): environment for QEMU,
# e.g. glibc's allocator tunables
QENV=$(cat $P/bench.qemu.env 2>/dev/null)
[ -n "$QENV" ] && info "QEMU runs with: $QENV"
# bench.aio (E2E_BENCH_AIO=threads|io_uring): the aio= of (a) and (b)
AIO=$(cat $P/bench.aio 2>/dev/null)
AIOA=; AIOB=
if [ -n "$AIO" ]; then
  AIOA=,aio=$AIO; AIOB=,aio=$AIO
  info "xen-pvscsi's and xen-disk's files use aio=$AIO"
fi
# bench.iothreads (E2E_BENCH_IOTHREADS=1): (a) and (b) each in an IOThread
IOT=(); IOA=; IOB=
# bench.pollmax (E2E_BENCH_POLL_MAX_NS): the IOThreads' poll-max-ns
if [ "$(cat $P/bench.iothreads 2>/dev/null)" = 1 ]; then
  PM=$(cat $P/bench.pollmax 2>/dev/null); PM=${PM:+,poll-max-ns=$PM}
  IOT=(-object iothread,id=ioa$PM -object iothread,id=iob$PM); IOA=,iothread=ioa; IOB=,iothread=iob
  info "xen-pvscsi and xen-disk each run in an IOThread${PM:+ ($PM)}"
fi
# bench.d (E2E_BENCH_D=PROPS): (d), a second xen-pvscsi host in the same
# QEMU with those properties (e.g. grant-map-threshold=64k), to compare a
# setting with the default in one boot; its LUN's INQUIRY product is
# PVSCSI-D
DEV_D=()
DPROPS=$(cat $P/bench.d 2>/dev/null)
if [ -n "$DPROPS" ]; then
  DEV_D=(-blockdev driver=file,node-name=fd,filename=/dev/shm/pvscsi-d.img,cache.direct=off$AIOA
         -blockdev driver=raw,node-name=d,file=fd
         -device xen-pvscsi,id=h2,devid=2,$DPROPS$IOA
         -device scsi-hd,bus=h2.0,channel=0,scsi-id=0,lun=0,drive=d,product=PVSCSI-D)
  info "(d): xen-pvscsi with $DPROPS"
fi
env $QENV timeout -k 5 1500 $Q -machine xenpv -xen-domid $D -xen-attach -nodefaults -display none \
  -monitor none -serial none -parallel none "${IOT[@]}" \
  -blockdev driver=file,node-name=fa,filename=/dev/shm/pvscsi.img,cache.direct=off$AIOA \
  -blockdev driver=raw,node-name=a,file=fa \
  -drive file=/dev/shm/qdisk.img,if=none,id=b,format=raw,cache=writeback$AIOB \
  -device xen-pvscsi,id=h0,devid=0$IOA \
  -device scsi-hd,bus=h0.0,channel=0,scsi-id=0,lun=0,drive=a \
  -blockdev driver=host_device,node-name=pt,filename=$PT_SG \
  -device scsi-generic,bus=h0.0,channel=0,scsi-id=1,lun=0,drive=pt \
  -device xen-disk,vdev=xvda,drive=b$IOB "${DEV_D[@]}" > /tmp/bench-qemu.log 2>&1 &
QPID=$!
for i in $(seq 1 60); do
  [ "$(xenstore-read /local/domain/0/backend/qvscsi/$D/0/state 2>/dev/null)" = 2 ] &&
    xenstore-exists /local/domain/0/backend/qdisk/$D 2>/dev/null && break
  sleep 0.5
done
# QEMU itself, the child of timeout: its statistics and strace
read -r QEMU_PID _ < /proc/$QPID/task/$QPID/children
QEMU_PID=${QEMU_PID:-$QPID}
info "domain $D: backends ready (QEMU pid $QEMU_PID); unpause"
xl unpause bench
CL=/var/log/xen/console/guest-bench.log
# The wait loop forks nothing but the occasional "xl list": under load, this
# nested dom0 sometimes hands a new process corrupt memory (malloc aborts,
# ld.so assertions, a "tr" that never ends; see docs/devel/testing/
# xen-pvscsi-e2e.rst), and one hung child used to hang the whole benchmark.
# So: bash builtins to read the console log, sample QEMU and sleep.
exec 7<> <(:)                    # an fd that never has data: read -t sleeps
# QEMU's resource use, sampled when the guest starts and ends a workload:
# "minflt,cpu-ticks,voluntary-switches,involuntary-switches" into $now
qstat() {
  local st v=0 nv=0 k val _
  now=
  read -r st < /proc/$QEMU_PID/stat 2>/dev/null || return
  set -- ${st##*) }
  while read -r k val _; do
    case $k in voluntary_ctxt_switches:) v=$val;; nonvoluntary_ctxt_switches:) nv=$val;; esac
  done < /proc/$QEMU_PID/status
  now="$8,$(( ${12} + ${13} )),$v,$nv"
}
TCK=$(getconf CLK_TCK)
declare -A QS
fails=0; n=0; done=
for i in $(seq 1 1800); do
  lines=()
  [ -f $CL ] && mapfile -t lines < $CL
  now=; sampled=
  for (( ; n < ${#lines[@]}; n++ )); do
    l=${lines[n]%$'\r'}
    case $l in BENCH-*) ;; *) continue;; esac
    echo "E2E-INFO:   guest| $l"
    read -r tag wl side _ <<< "$l"
    [ -n "$sampled" ] || { qstat; sampled=1; }
    case $tag in
      BENCH-START) QS[$wl-$side]=$now
        # with the host's strace in the payload: 8 s of system call
        # counts, then 1 s of timeline, in workloads 1 and 2 of a and b
        if [ -x $P/strace/strace ] && [ "$side" != c ] && [ "$side" != d ] && [ "${wl%%-*}" -le 2 ]; then
          ( sleep 2
            LD_LIBRARY_PATH=$P/strace/lib timeout -s INT 8 $P/strace/strace -f -c -p $QEMU_PID -o /tmp/st-c.txt
            LD_LIBRARY_PATH=$P/strace/lib timeout -s INT 1 $P/strace/strace -f -tt -T -p $QEMU_PID -o /tmp/st-t.txt
            sed "s/^/E2E-INFO:   strace-c $wl $side| /" /tmp/st-c.txt
            head -150 /tmp/st-t.txt | sed "s/^/E2E-INFO:   strace-t $wl $side| /" ) &
        fi;;
      BENCH-RES) [ -n "${QS[$wl-$side]:-}" ] && [ -n "$now" ] &&
        echo "BENCH-QEMU $wl $side tck=$TCK start=${QS[$wl-$side]} end=$now";;
      BENCH-DONE) done=1;;
    esac
  done
  [ -n "$done" ] && break
  [ -d /proc/$QPID ] || { info "QEMU died"; cat /tmp/bench-qemu.log; break; }
  if (( i % 15 == 0 )); then
    xl list bench >/dev/null 2>&1 && fails=0 || fails=$((fails + 1))
    [ $fails -ge 3 ] && { info "the guest is gone"; break; }
  fi
  alive
  read -t 1 -u 7 _
done
sleep 2
xl list bench >/dev/null 2>&1 && xl destroy bench
kill $QPID 2>/dev/null; wait $QPID 2>/dev/null
sed 's/^/E2E-INFO:   qemu| /' /tmp/bench-qemu.log
tr -d '\r' < $CL | grep -a '^BENCH-RES ' | sed 's/^/BENCH-LINE: /'
grep -aq 'BENCH-DONE rc=0' $CL && { echo "E2E-RESULT: bench done"; exit 0; }
tr -d '\r' < $CL | tail -40 | sed 's/^/E2E-INFO:   /'
exit 1
