#!/bin/sh
# /init of the check-e2e guest (PV and HVM alike).  The guest reports facts
# as "E2E-G <KEY> key=value ..." lines on its console (hvc0, which dom0's
# xenconsoled logs); dom0 (dom0/check.sh) judges them.  Its actions:
# inventory (lsscsi, sg_inq, sg_luns, sg_readcap), data write/read-back,
# a tape round trip with mt-st and dd, then it waits for dom0's hotplug
# steps (a LUN added and removed, then an HBA removed), reconnects (unbind,
# rmmod/modprobe xen-scsifront) and powers off.
# Kernel arguments (addresses are vscsi v-dev "devid:channel:target:lun"):
#   e2e.kind=pv|hvm   e2e.luns=N (LUNs to wait for)
#   e2e.data=V@MiB,...  LUNs to write MiB of random data to, at 1 MiB
#   e2e.tape=V          tape LUN for the mt-st round trip
#   e2e.hot=V           address dom0 hot-plugs
#   e2e.hba=DEVID       the HBA dom0 removes at the end
#   e2e.save=OP@V,...   after the hotplug steps, dom0 runs each operation
#                       OP (blocked, ckpt, migrate, save: see below), then
#                       hot-plugs V: check the LUNs after it
#   e2e.sgraw=V,...     LUNs to send sg_raw's odd requests to
#
# SPDX-License-Identifier: GPL-2.0-or-later
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
up() { cut -d' ' -f1 /proc/uptime; }
g() { echo "E2E-G $*"; }
KIND=pv LUNS=1 DATA= TAPE= HOT= HBA= SAVE= SGRAW=
for a in $(cat /proc/cmdline); do
  case $a in
    e2e.kind=*) KIND=${a#*=};; e2e.luns=*) LUNS=${a#*=};; e2e.data=*) DATA=${a#*=};;
    e2e.tape=*) TAPE=${a#*=};; e2e.hot=*) HOT=${a#*=};; e2e.hba=*) HBA=${a#*=};;
    e2e.save=*) SAVE=${a#*=};; e2e.sgraw=*) SGRAW=${a#*=};;
  esac
done
g BOOT kind=$KIND uptime=$(up) kernel=$(uname -r) hyp=$(cat /sys/hypervisor/type 2>/dev/null)

# guest SCSI host number of vscsi device DEVID
hostof() { for h in /sys/bus/xen/devices/vscsi-$1/host*; do [ -e "$h" ] && echo "${h##*/host}"; done | head -1; }
# v-dev (devid:c:t:l) -> guest H:C:T:L, or nothing
hctl() {
  _d=${1%%:*}; _h=$(hostof "$_d"); [ -n "$_h" ] && echo "$_h:${1#*:}"
}
nluns() { ls -d /sys/bus/scsi/devices/*:*:*:* 2>/dev/null | wc -l; }
wait_luns() { # N SECONDS
  _i=0
  while [ "$(nluns)" -lt "$1" ] && [ $_i -lt $(($2 * 10)) ]; do sleep 0.1; _i=$((_i + 1)); done
  sleep 1          # let sd/sg/st bind
  udevadm settle 2>/dev/null
}
devof() { # H:C:T:L CLASS(block|scsi_generic|scsi_tape) -> first name
  ls "/sys/bus/scsi/devices/$1/$2" 2>/dev/null | head -1
}
trim() { sed 's/^ *//; s/ *$//; s/ /_/g'; }
# rs VAR 'command': VAR = the command's output; an empty result is retried
# (a command substitution here very rarely comes back empty, seen under TCG)
rs() { _n=0; while :; do _o=$(eval "$2"); [ -n "$_o" ] || [ $_n -ge 3 ] && break; _n=$((_n + 1)); sleep 0.2; done
       eval "$1=\$_o"; }
field() { sed -n "s/^ *$1: *//p" | trim; }

modprobe xen-scsifront && modprobe sd_mod && modprobe sg && modprobe st ||
  g ERROR "modprobe failed"
t=$(up)
wait_luns "$LUNS" 60
rs n nluns
g CONNECT luns=$n want=$LUNS after=$(awk "BEGIN{print $(up) - $t}")s uptime=$(up)

inventory() { # TAG
  for xd in /sys/bus/xen/devices/vscsi-*; do
    [ -e "$xd" ] || continue
    d=${xd##*/vscsi-}; rs h "hostof $d"
    g HBA tag=$1 devid=$d host=$h state=$(cat "$xd/state" 2>/dev/null)
    for s in /sys/bus/scsi/devices/$h:*:*:*; do
      [ -e "$s/type" ] || continue
      a=${s##*/}; v=$d:${a#*:}
      g LUN tag=$1 vdev=$v hctl=$a type=$(cat "$s/type") vendor=$(trim < "$s/vendor") \
        model=$(trim < "$s/model") rev=$(trim < "$s/rev") sg=$(devof "$a" scsi_generic) \
        blk=$(devof "$a" block) tape=$(ls "$s/scsi_tape" 2>/dev/null | grep '^nst[0-9]*$' | head -1)
    done
  done
}
inventory start
lsscsi -g | while read -r l; do g LSSCSI "$l"; done
for s in /sys/bus/scsi/devices/*:*:*:*; do
  [ -e "$s/type" ] || continue
  # (rs: seen once, devof came back empty here for a LUN whose sg0 the
  # inventory had just listed, and the LUN went unreported)
  a=${s##*/}; rs sg "devof $a scsi_generic"
  [ -n "$sg" ] || { g INQ hctl=$a rc=no-sg-device; continue; }
  # a first command may meet a unit attention (power on, inquiry data changed)
  sg_turs "/dev/$sg" >/dev/null 2>&1; sg_turs "/dev/$sg" >/dev/null 2>&1
  sg_inq "/dev/$sg" > /tmp/o 2>/dev/null; r=$?
  rs ve "field 'Vendor identification' < /tmp/o"; rs pr "field 'Product identification' < /tmp/o"
  rs re "field 'Product revision level' < /tmp/o"; rs pd "sed -n 's/.*Peripheral device type: *//p' /tmp/o | trim"
  g INQ hctl=$a rc=$r vendor=$ve product=$pr rev=$re pdt=$pd
  sg_luns "/dev/$sg" > /tmp/o 2>/dev/null; r=$?
  rs li "grep -E '^ +[0-9a-f]{16}\$' /tmp/o | trim | tr '\n' ','"
  g LUNS hctl=$a rc=$r list=$li
  if [ "$(cat "$s/type")" = 0 ]; then
    sg_readcap "/dev/$sg" > /tmp/o 2>/dev/null; r=$?
    rs bl "sed -n 's/.*Number of logical blocks=\([0-9]*\).*/\1/p' /tmp/o"
    rs bs "sed -n 's/.*Logical block length=\([0-9]*\).*/\1/p' /tmp/o"
    g CAP hctl=$a rc=$r blocks=$bl bs=$bs
  fi
done

# data: random pattern written with O_DIRECT 1 MiB writes at 1 MiB, read back
# with O_DIRECT; the block layer's counters give the request sizes.
stat2() { awk '{print $1, $3, $5, $7}' "/sys/block/$1/stat"; }
for e in $(echo "$DATA" | tr ',' ' '); do
  v=${e%@*}; mib=${e#*@}; rs a "hctl $v"; rs b "devof $a block"
  if [ -z "$b" ]; then g DATA vdev=$v error=no-block-device; continue; fi
  dd if=/dev/urandom of=/tmp/pat bs=1M count="$mib" 2>/dev/null
  [ -e /tmp/pat0 ] || dd if=/tmp/pat of=/tmp/pat0 bs=1M count=1 2>/dev/null
  set -- $(stat2 "$b"); r0=$1 rs0=$2 w0=$3 ws0=$4
  t=$(up)
  dd if=/tmp/pat of="/dev/$b" bs=1M seek=1 oflag=direct 2>/dev/null; wr=$?
  dd if="/dev/$b" of=/tmp/rb bs=1M skip=1 count="$mib" iflag=direct 2>/dev/null
  set -- $(stat2 "$b")
  rs rd "md5sum < /tmp/rb | cut -d' ' -f1"; rs wm "md5sum < /tmp/pat | cut -d' ' -f1"
  g DATA vdev=$v hctl=$a dev=$b mib=$mib wrc=$wr written=$wm readback=$rd \
    wr_ios=$(($3 - w0)) wr_kib=$((($4 - ws0) / 2)) rd_ios=$(($1 - r0)) rd_kib=$((($2 - rs0) / 2)) \
    max_sectors_kb=$(cat "/sys/block/$b/queue/max_sectors_kb") secs=$(awk "BEGIN{print $(up) - $t}")
done

# tape: two files (16 x 64 KiB, 8 x 32 KiB variable blocks), each ended by a filemark,
# rewind, read both back; mt-st from Debian's mt-st
if [ -n "$TAPE" ]; then
  rs a "hctl $TAPE"; rs n "ls /sys/bus/scsi/devices/$a/scsi_tape 2>/dev/null | grep '^nst[0-9]*\$' | head -1"
  if [ -z "$n" ]; then g TAPE vdev=$TAPE error=no-st-device; else
    T=/dev/$n; rc=0
    mt-st -f $T rewind || rc=1
    mt-st -f $T setblk 0 || rc=1
    dd if=/dev/urandom of=/tmp/t1 bs=64k count=16 2>/dev/null
    dd if=/dev/urandom of=/tmp/t2 bs=32k count=8 2>/dev/null
    # st writes a filemark when the device is closed after writing, so
    # each dd is one tape file (an explicit weof would add an empty file)
    dd if=/tmp/t1 of=$T bs=64k 2>/dev/null || rc=1
    dd if=/tmp/t2 of=$T bs=32k 2>/dev/null || rc=1
    mt-st -f $T rewind || rc=1
    dd if=$T of=/tmp/r1 bs=64k 2>/dev/null
    # closing after a read that hit the filemark leaves st (BSD semantics)
    # before it: position explicitly
    mt-st -f $T rewind || rc=1
    mt-st -f $T fsf 1 || rc=1
    dd if=$T of=/tmp/r2 bs=32k 2>/dev/null
    mt-st -f $T status > /tmp/o 2>&1
    mt-st -f $T rewind || rc=1
    rs st "grep -E 'File number' /tmp/o | trim"
    rs r1 "md5sum < /tmp/r1 | cut -d' ' -f1"; rs r2 "md5sum < /tmp/r2 | cut -d' ' -f1"
    rs w1 "md5sum < /tmp/t1 | cut -d' ' -f1"; rs w2 "md5sum < /tmp/t2 | cut -d' ' -f1"
    g TAPE vdev=$TAPE dev=$n rc=$rc w1=$w1 r1=$r1 w2=$w2 r2=$r2 status=$st
  fi
fi

# sg_raw: requests whose buffer and CDB disagree, and one the LUN does not
# know, through the real frontend: each gets a SCSI answer (status, sense
# key, additional sense; a host error would show as DID_*/host_status)
srstat() { # sg_raw's output file -> Status/SenseKey/ASC/HostError
  _s=$(sed -n 's/^ *SCSI Status: *//p' "$1" | head -1 | trim)
  _k=$(sed -n 's/.*Sense key: *\([A-Za-z ]*\).*/\1/p' "$1" | head -1 | trim)
  _c=$(sed -n 's/.*Additional sense: *\([A-Za-z ]*\).*/\1/p' "$1" | head -1 | trim)
  _h=$(grep -o -i -E 'DID_[A-Z_]+|host_status[=: ]*0x[0-9a-f]+|transport error' "$1" | head -1 | trim)
  echo "${_s:-none}/${_k:--}/${_c:--}/${_h:--}"
}
for v in $(echo "$SGRAW" | tr ',' ' '); do
  rs a "hctl $v"; rs sg "devof $a scsi_generic"
  [ -n "$sg" ] || { g SGRAW vdev=$v error=no-sg-device; continue; }
  # READ(10) of one block into 1024 bytes: the block, and 512 residual
  rm -f /tmp/sr; sg_raw -r 1024 -o /tmp/sr "/dev/$sg" 28 00 00 00 00 00 00 00 01 00 > /tmp/o1 2>&1; r1=$?
  # READ(10) of two blocks into 512 bytes
  sg_raw -r 512 -o /tmp/sr2 "/dev/$sg" 28 00 00 00 00 00 00 00 02 00 > /tmp/o2 2>&1; r2=$?
  # SERVICE ACTION IN (16) with an unassigned service action
  sg_raw -r 64 "/dev/$sg" 9e 1f 00 00 00 00 00 00 00 00 00 00 00 40 00 00 > /tmp/o3 2>&1; r3=$?
  g SGRAW vdev=$v hctl=$a big_rc=$r1 big_bytes=$(wc -c < /tmp/sr 2>/dev/null) big=$(srstat /tmp/o1) \
    small_rc=$r2 small=$(srstat /tmp/o2) garbage_rc=$r3 garbage=$(srstat /tmp/o3)
  for o in /tmp/o1 /tmp/o2 /tmp/o3; do head -c 300 $o | tr '\n' '|' | sed "s/^/E2E-G SGRAWOUT vdev=$v ${o##*/} /"; echo; done
done

# hotplug, driven by dom0: wait for the LUN, use it, wait for it to go
waitfor() { # COND-COMMAND SECONDS
  _i=0; while ! eval "$1" && [ $_i -lt $(($2 * 10)) ]; do sleep 0.1; _i=$((_i + 1)); done; eval "$1"
}
if [ -n "$HOT" ]; then
  g READY hotplug uptime=$(up)
  hp() { a=$(hctl "$HOT"); [ -n "$a" ] && [ -n "$(devof "$a" block)" ]; }
  if waitfor hp 240; then
    rs a "hctl $HOT"; rs b "devof $a block"; rs sg "devof $a scsi_generic"
    o=$(sg_inq "/dev/$sg" 2>&1)
    dd if=/dev/urandom of=/tmp/hp bs=1M count=2 2>/dev/null
    dd if=/tmp/hp of="/dev/$b" bs=1M seek=1 oflag=direct 2>/dev/null
    g HOTADD vdev=$HOT hctl=$a vendor=$(echo "$o" | field 'Vendor identification') \
      product=$(echo "$o" | field 'Product identification') written=$(md5sum < /tmp/hp | cut -d' ' -f1) \
      readback=$(dd if="/dev/$b" bs=1M skip=1 count=2 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)
    gone() { [ ! -e "/sys/bus/scsi/devices/$a" ]; }
    waitfor gone 240 && g HOTDEL vdev=$HOT gone=yes || g HOTDEL vdev=$HOT gone=no
  else
    g HOTADD vdev=$HOT error=not-seen
  fi
fi
# save, checkpoint, migration, driven by dom0: for each OP@V of e2e.save
# dom0 runs the operation (blocked: an xl save that QEMU refuses; ckpt: xl
# save -c; migrate: xl migrate to localhost; save: xl save + xl restore)
# and then hot-plugs V.  Once V is here: the data written before reads back
# (h0's scsi-hd, h1's iSCSI and local passthrough disks), and new data
# lands on h0's disk and on V.
md1() { dd if="/dev/$1" bs=1M skip="$2" count=1 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1; }
if [ -n "$SAVE" ]; then
  sv=$(echo "$DATA" | cut -d, -f1); sv=${sv%@*}     # h0's data LUN
  k=0
  for op in $(echo "$SAVE" | tr , ' '); do
    o=${op%@*} V=${op#*@} k=$((k + 1))
    g SAVEREADY-$o uptime=$(up)
    sp() { a=$(hctl "$V"); [ -n "$a" ] && [ -n "$(devof "$a" block)" ]; }
    if waitfor sp 150; then
      rs a0 "hctl $sv"; rs b0 "devof $a0 block"; rs a "hctl $V"; rs b "devof $a block"
      rs ai "hctl 1:0:3:0"; bi=$(devof "$ai" block); rs ap "hctl 1:0:0:0"; bp=$(devof "$ap" block)
      rr=; ri=; rp=; ws=; rs2=; r0=
      if [ -n "$b0" ] && [ -n "$b" ]; then
        rr=$(md1 "$b0" 1)
        [ -n "$bi" ] && ri=$(md1 "$bi" 1)
        [ -n "$bp" ] && rp=$(md1 "$bp" 1)
        dd if=/dev/urandom of=/tmp/sr bs=1M count=1 2>/dev/null
        dd if=/tmp/sr of="/dev/$b0" bs=1M seek=$((24 + k)) oflag=direct 2>/dev/null
        dd if=/tmp/sr of="/dev/$b" bs=1M seek=1 oflag=direct 2>/dev/null
        ws=$(md5sum < /tmp/sr | cut -d' ' -f1)
        r0=$(md1 "$b0" $((24 + k))); rs2=$(md1 "$b" 1)
      fi
      g RESTORED-$o vdev=$sv hctl0=$a0 reread=$rr iscsi=$ri pt=$rp hot=$V hctl=$a at=$((24 + k)) written=$ws readback0=$r0 readback=$rs2 luns=$(nluns) uptime=$(up)
    else
      g RESTORED-$o error=not-seen hot=$V luns=$(nluns) uptime=$(up)
      dmesg | grep -iE 'scsifront|vscsi|xenbus|suspend|scsi ' | tail -8 | while read -r x; do g INFO "dmesg: $x"; done
    fi
  done
fi
if [ -n "$HBA" ]; then
  rs h "hostof $HBA"
  hgone() { [ ! -e "/sys/class/scsi_host/host$h" ] && [ ! -e "/sys/bus/xen/devices/vscsi-$HBA" ]; }
  waitfor hgone 240 && x=yes || x=no
  ok=0; n=0
  for s in /sys/bus/scsi/devices/*:*:*:*; do
    [ -e "$s/type" ] || continue; n=$((n + 1))
    # twice: LUNs of a PV guest's new backend QEMU (after xl restore)
    # report their power-on unit attention once
    tu=/dev/$(devof "${s##*/}" scsi_generic)
    { sg_turs "$tu" || sg_turs "$tu"; } >/dev/null 2>&1 && ok=$((ok + 1))
  done
  g HBADEL devid=$HBA host=$h gone=$x luns_left=$n turs_ok=$ok xenbus=$(ls /sys/bus/xen/devices | tr '\n' ,)
fi
# reconnect (last, so that a failure cannot hide the other steps): unload
# the frontend (every LUN goes), load it again; the LUNs left after the
# HBA removal must come back
v=$(echo "$DATA" | cut -d, -f1); v=${v%@*}
rs before nluns
# xenbus takes a reference on the frontend module for every bound device
# (xenbus_dev_probe), so rmmod alone gets EAGAIN: unbind the vscsi devices
# from the driver first (the frontend closes), then unload and reload it.
g INFO "xen_scsifront refcnt=$(cat /sys/module/xen_scsifront/refcnt) devices=$(ls -d /sys/bus/xen/drivers/*/vscsi-* | tr '\n' ,)"
for x in /sys/bus/xen/drivers/*/vscsi-*; do
  [ -e "$x" ] && echo "${x##*/}" > "${x%/*}/unbind"
done
m=$(rmmod xen_scsifront 2>&1); r=$?
[ -z "$m" ] || g INFO "rmmod: $m refcnt=$(cat /sys/module/xen_scsifront/refcnt 2>&1)"
rs left nluns
modprobe xen-scsifront; t=$(up)
wait_luns "$before" 40
rs a "hctl $v"; rs b "devof $a block"
rb=; w=; rd=
if [ -n "$b" ]; then
  rb=$(dd if="/dev/$b" bs=1M skip=1 count=1 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)
  dd if=/dev/urandom of=/tmp/rc bs=1M count=1 2>/dev/null
  dd if=/tmp/rc of="/dev/$b" bs=1M seek=16 oflag=direct 2>/dev/null
  w=$(md5sum < /tmp/rc | cut -d' ' -f1)
  rd=$(dd if="/dev/$b" bs=1M skip=16 count=1 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)
fi
rs n nluns
[ "$n" = "$before" ] || { g INFO "after modprobe: $(for x in /sys/bus/xen/devices/vscsi-*; do echo "${x##*/}=$(cat $x/state) driver=$(basename "$(readlink $x/driver)")"; done | tr '\n' ' ')"
  dmesg | grep -iE 'scsifront|vscsi|xenbus' | tail -8 | while read -r x; do g INFO "dmesg: $x"; done; }
g RECONNECT rmmod=$r luns_left=$left luns=$n want=$before after=$(awk "BEGIN{print $(up) - $t}")s \
  vdev=$v reread=$rb head=$(md5sum < /tmp/pat0 | cut -d' ' -f1) written=$w readback=$rd
inventory reconnect

g DONE uptime=$(up)
sync
poweroff -f
