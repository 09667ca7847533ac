#!/bin/sh
# /init of the bench-e2e guest (PV): fio against three disks of the same
# size, all backed by files in dom0's tmpfs, interleaved per workload:
#   a  xen-pvscsi + scsi-hd (our QEMU)      -> sd with vendor QEMU
#   b  xen-disk (qdisk, same QEMU process)  -> xvda
#   c  xen-scsiback + LIO fileio (kernel)   -> sd with vendor LIO-ORG
#   d  (E2E_BENCH_D=PROPS) xen-pvscsi with those properties
#                                           -> sd with product PVSCSI-D
# and the passthrough rows (workloads ending in -pt), against dom0's
# scsi_debug disks, a and c only:
#   a  scsi-generic on xen-pvscsi's host    -> sd Linux/scsi_debug there
#   c  LIO pscsi on xen-scsiback's host     -> sd Linux/scsi_debug there
# Prints "BENCH-RES <workload> <a|b|c> <fio terse v3 line>", then BENCH-DONE.
# Kernel args: bench.rt=SECONDS (default 15) bench.size=SIZE (default 128M)
#              bench.d=1 (side d is there)
#
# SPDX-License-Identifier: GPL-2.0-or-later
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
up() { cut -d' ' -f1 /proc/uptime; }
RT=15; SIZE=128M; NSD=4; PTSIZE=64M
for a in $(cat /proc/cmdline); do
  case $a in bench.rt=*) RT=${a#*=};; bench.size=*) SIZE=${a#*=};; bench.d=1) NSD=5;; esac
done
echo "BENCH-INFO init up=$(up) rt=$RT size=$SIZE $(fio --version)"
modprobe xen-scsifront; modprobe sd_mod; modprobe xen-blkfront
i=0
while [ $(ls -d /sys/block/sd* 2>/dev/null | wc -l) -lt $NSD ] || [ ! -b /dev/xvda ]; do
  [ $i -lt 600 ] || break; sleep 0.1; i=$((i + 1))
done
sleep 1
A=; C=; D=; HA=; HC=; PTS=
host() { h=$(readlink -f "$1/device"); h=${h##*/}; echo "${h%%:*}"; }
for s in /sys/block/sd*; do
  v=$(sed 's/ *$//' "$s/device/vendor")
  m=$(sed 's/ *$//' "$s/device/model")
  case $v:$m in
    QEMU:PVSCSI-D) D=/dev/${s##*/};;
    QEMU:*) A=/dev/${s##*/}; HA=$(host $s);;
    LIO-ORG:*) C=/dev/${s##*/}; HC=$(host $s);;
    Linux:scsi_debug) PTS="$PTS $s";;
  esac
done
A_PT=; C_PT=
for s in $PTS; do
  case $(host $s) in "$HA") A_PT=/dev/${s##*/};; "$HC") C_PT=/dev/${s##*/};; esac
done
B=/dev/xvda
for d in $A $B $C $D $A_PT $C_PT; do
  n=${d#/dev/}
  echo "BENCH-INFO dev $d size=$(cat /sys/block/$n/size) max_sectors_kb=$(cat /sys/block/$n/queue/max_sectors_kb) nr_requests=$(cat /sys/block/$n/queue/nr_requests) sched=$(cat /sys/block/$n/queue/scheduler)"
done
rc=0
[ -b "$A" ] && [ -b "$B" ] && [ -b "$C" ] && [ -b "$A_PT" ] && [ -b "$C_PT" ] ||
  { echo "BENCH-INFO missing a device: a=$A b=$B c=$C a-pt=$A_PT c-pt=$C_PT"; rc=1; }
WLS="1-randrw-8k-j1:randrw:8k:1 2-randrw-128k-j1:randrw:128k:1 3-randrw-8k-j5:randrw:8k:5 4-randrw-128k-j5:randrw:128k:5 5-seqread-128k-j1:read:128k:1 6-seqwrite-128k-j1:write:128k:1 7-seqread-512k-j1:read:512k:1 8-seqwrite-512k-j1:write:512k:1 9-seqread-256k-pt:read:256k:1 10-seqwrite-256k-pt:write:256k:1"
[ $rc = 0 ] && for wl in $WLS; do
  name=${wl%%:*}; r=${wl#*:}; rw=${r%%:*}; r=${r#*:}; bs=${r%%:*}; nj=${r#*:}
  sides="a b c ${D:+d}"; size=$SIZE
  case $name in *-pt) sides="a c"; size=$PTSIZE;; esac
  for side in $sides; do
    case $name:$side in
      *-pt:a) dev=$A_PT;; *-pt:c) dev=$C_PT;;
      *:a) dev=$A;; *:b) dev=$B;; *:c) dev=$C;; *:d) dev=$D;;
    esac
    # A fio that gives no result (this nested machine now and then hands a
    # new process corrupt memory) says why and runs once more.
    for try in 1 2; do
      echo "BENCH-START $name $side"
      out=$(fio --name=$name-$side --filename=$dev --direct=1 --ioengine=libaio --iodepth=1 \
          --rw=$rw --rwmixread=50 --bs=$bs --numjobs=$nj --thread --group_reporting \
          --size=$size --runtime=$RT --time_based --randrepeat=0 --norandommap --minimal 2>&1)
      frc=$?
      res=$(echo "$out" | grep '^3;' | tail -1)
      [ $frc = 0 ] && [ -n "$res" ] && break
      echo "BENCH-INFO $name $side: fio rc=$frc, no result (try $try): $(echo "$out" | head -3 | tr '\n' ' ')"
    done
    [ -n "$res" ] || rc=1
    echo "BENCH-RES $name $side $res"
  done
done
echo "BENCH-DONE rc=$rc up=$(up)"
sync
poweroff -f
