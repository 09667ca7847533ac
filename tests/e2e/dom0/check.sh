#!/bin/bash
# check-e2e, dom0 side (/mnt/payload/test.sh).  Sets up the LUN sources
# (image files, scsi_debug, a private tgtd on 127.0.0.1), then for each
# guest kind in /mnt/payload/kinds (pv, hvm) starts a guest whose xen-pvscsi
# backend is our QEMU, drives the hotplug steps over QMP while the guest
# runs, and judges what the guest reported (guest/init-check.sh) against
# what dom0 knows: prints "E2E-TAP: ok N - name" / "not ok N - name".
#
# SPDX-License-Identifier: GPL-2.0-or-later
P=/mnt/payload
# our QEMU and xen-vscsi come from our Debian package (make deb), installed
# below as an admin would
Q=/usr/lib/qemu-xen-pvscsi/bin/qemu-system-i386
W=/root/e2e
KINDS=$(cat $P/kinds 2>/dev/null || echo "pv hvm")
# E2E_GUEST_DEBUG=1 (run.sh): a guest that powers off, reboots or crashes is kept
# paused, and its registers are printed before it is destroyed
# and the guest kernel prints everything (on ttyS0 from the start for HVM)
ONDIE=destroy DBGARGS= SERTAIL=30
[ -f $P/guest-debug ] && ONDIE=preserve DBGARGS=ignore_loglevel SERTAIL=200
mkdir -p $W /run/e2e
up() { cut -d' ' -f1 /proc/uptime; }
# the watchdog (watchdog.sh) and its heartbeat "alive"
. $P/watchdog.sh
info() { echo "E2E-INFO: [$(up)] $*"; alive; }
N=0; FAILED=0
tap() { # ok|"" NAME [why]
  N=$((N + 1)); alive
  if [ "$1" = ok ]; then echo "E2E-TAP: ok $N - $2"
  else echo "E2E-TAP: not ok $N - $2${3:+ # $3}"; FAILED=$((FAILED + 1)); fi
}
# value of key K in a "E2E-G ..." line
# (pure bash: every process costs in a PV dom0 under TCG)
kv() { local s=" $1 "; [[ $s == *" $2="* ]] || return 0; s=${s#*" $2="}; echo "${s%% *}"; }
# indent [FILE]: prefix each line with "E2E-INFO:   ", without a fork
indent() {
  local l
  while IFS= read -r l || [ -n "$l" ]; do echo "E2E-INFO:   $l"; done < "${1:-/dev/stdin}"
}
# qmp.py, run again (at most twice) when it died of a signal or of ld.so: the nested
# machine's processes segfault now and then (lib/rerun.sh), python3 most
# often, and a QMP call is cheaper to repeat than the boot.  What the run
# that died did already is not counted against the repeat (qmp.py --again).
qmp() { # SOCKET ARGS...
  local s=$1 r i; shift
  python3 $P/qmp.py $s "$@"; r=$?
  for i in 1 2; do
    # 127: ld.so's "Inconsistency detected" exit, the same machine's fault
    [ $r -ge 127 ] || break
    echo "E2E-INFO: qmp.py $1 died (status $r: the nested machine's fault); again"
    if [ "$1" = --pvscsi ]; then python3 $P/qmp.py $s "$@"
    else python3 $P/qmp.py $s --again "$@"; fi; r=$?
  done
  return $r
}
md5at() { # FILE OFFSET_MIB MIB [dd args]
  dd if="$1" bs=1M skip="$2" count="$3" status=none ${4:-} | md5sum | cut -d' ' -f1
}

# Every info and tap line and every turn of the guest loop beats; the
# watchdog kills helpers hung by the nested machine's faults and gives up
# on a script that makes no progress (watchdog.sh).
wd_start $$
trap 'kill $WATCHDOG 2>/dev/null' EXIT

# ------------------------------------------------------------------ setup
info "dom0 $(uname -r), $(nproc) vCPUs, $(xl info | sed -n 's/^xen_version *: //p'), payload kinds: $KINDS"
xl list >/dev/null || { tap "" "dom0: xl works"; exit 1; }
deb=$(ls $P/qemu-xen-pvscsi_*.deb 2>/dev/null | head -1)
timeout 300 dpkg -i "$deb" > /tmp/dpkg.log 2>&1; r=$?
[ $r = 0 ] || { info "dpkg -i ${deb##*/} failed ($r):"; indent /tmp/dpkg.log; }
v=$($Q -version 2>&1 | head -1)
[ $r = 0 ] && $Q -device help 2>/dev/null | grep -q '"xen-pvscsi"'; r=$?
[ $r = 0 ] && tap ok "dom0: our package installs (dpkg -i ${deb##*/}); its QEMU ($v) runs and has xen-pvscsi" ||
  { tap "" "dom0: our package installs and its QEMU runs" "$v"; $Q -version; ldd $Q | grep 'not found'; exit 1; }

# scsi-hd images: sizes differ so that READ CAPACITY tells them apart
declare -A IMG SIZE
for n in d0:64 d1:32 d2:48 d3:16 hot:8 s1:8 s2:8 s3:8 s4:8; do
  IMG[${n%:*}]=$W/${n%:*}.img; SIZE[${n%:*}]=${n#*:}
  rm -f $W/${n%:*}.img; truncate -s ${n#*:}M $W/${n%:*}.img
done

# scsi_debug: two disk hosts with a store each, then a tape host (ptype 1).
# ptype is global to scsi_debug (every LUN answers INQUIRY with the current
# value), so it goes back to 0 once the tape host is scanned: dom0 keeps its
# st device (for the xen-vscsi resolve checks), but only the disks are
# passed through (the tape passthrough is the iSCSI tape below).
SD=/sys/bus/pseudo/drivers/scsi_debug
XV_OK=""; [ -x /usr/bin/xen-vscsi ] && [ -f $P/resolve.sh ] && . $P/resolve.sh && XV_OK=1
modprobe scsi_debug dev_size_mb=16 num_tgts=1 max_luns=1 add_host=2 per_host_store=1 ptype=0 ||
  modprobe scsi_debug dev_size_mb=16 num_tgts=1 max_luns=1 add_host=2 ptype=0
udevadm settle -t 30
SDDISK=(); SDTAPE=
for s in /sys/bus/scsi/devices/*:*:*:*; do
  [ "$(cat $s/model 2>/dev/null | tr -d ' ')" = scsi_debug ] && [ "$(cat $s/type)" = 0 ] && SDDISK+=(${s##*/})
done
[ -n "$XV_OK" ] && resolve_forms disk ${SDDISK[0]}
echo 1 > $SD/ptype && echo 1 > $SD/add_host
udevadm settle -t 30
for s in /sys/bus/scsi/devices/*:*:*:*; do
  [ "$(cat $s/model 2>/dev/null | tr -d ' ')" = scsi_debug ] && [ "$(cat $s/type)" = 1 ] && SDTAPE=${s##*/}
done
[ -n "$XV_OK" ] && [ -n "$SDTAPE" ] && resolve_forms tape $SDTAPE
echo 0 > $SD/ptype
[ -n "$XV_OK" ] || info "no /usr/bin/xen-vscsi: resolve checks skipped"
sgof() { ls /sys/bus/scsi/devices/$1/scsi_generic 2>/dev/null | head -1; }
blkof() { ls /sys/bus/scsi/devices/$1/block 2>/dev/null | head -1; }
SDREV=$(cat /sys/bus/scsi/devices/${SDDISK[0]}/rev 2>/dev/null | tr -d ' ')
info "scsi_debug: disks ${SDDISK[*]} (/dev/$(blkof ${SDDISK[0]}), /dev/$(sgof ${SDDISK[1]})), tape $SDTAPE (/dev/$(sgof $SDTAPE)), rev $SDREV"
lsscsi -g | sed 's/^/E2E-INFO:   /'
[ ${#SDDISK[@]} = 2 ] && [ -n "$SDTAPE" ] && [ -n "$(sgof $SDTAPE)" ] &&
  tap ok "dom0: scsi_debug gives two disks and a tape (${SDDISK[*]} $SDTAPE)" ||
  tap "" "dom0: scsi_debug gives two disks and a tape" "disks=${SDDISK[*]} tape=$SDTAPE"
SDB=/dev/$(blkof ${SDDISK[0]}); SDG=/dev/$(sgof ${SDDISK[1]}); SDGB=/dev/$(blkof ${SDDISK[1]})
SDT=/dev/$(sgof $SDTAPE)

# tgtd: a disk (LUN 1) and a tape (LUN 2), on 127.0.0.1 only
TGT=$W/tgt
tl=$(sh $P/tgt-target.sh start $TGT disk:$TGT/disk.img:32 tape:$TGT/tape.img:32 2>&1); r=$?
. $TGT/env 2>/dev/null
[ $r = 0 ] && ss -ltn 2>/dev/null | grep -q "127.0.0.1:$TGT_PORT" &&
  tap ok "dom0: tgtd listens on 127.0.0.1:$TGT_PORT only ($TGT_IQN, disk + tape)" ||
  tap "" "dom0: tgtd on 127.0.0.1" "$tl"
ss -ltn | sed 's/^/E2E-INFO:   /'
TAPE0=$(stat -c %s $TGT/tape.img 2>/dev/null)
INI=iqn.2026-11.org.qemu-xen-pvscsi:e2e-dom0

# ------------------------------------------------------------------ QEMU's LUNs
# v-dev (devid:channel:target:lun) -> what the guest must see
# h1's scsi-block disk is opened by the stable name "xen-vscsi args" gives
# it (udev's wwn- link), as an admin's configuration would name it
SDBNAME=$SDB
if [ -n "$XV_OK" ]; then
  SDBNAME=$(/usr/bin/xen-vscsi args --json "${SDDISK[0]},1:0:0:0" 2>/dev/null | python3 -c '
import json, sys
print([x for x in json.load(sys.stdin) if "filename=" in x][0].split("filename=")[1].split(",")[0])' 2>/dev/null)
  [ -n "$SDBNAME" ] && [ "$(readlink -f "$SDBNAME")" = "$SDB" ] || SDBNAME=$SDB
fi
ARGS=()
for d in d0 d1 d2 d3; do
  ARGS+=(-blockdev "driver=file,node-name=f$d,filename=${IMG[$d]}" -blockdev "driver=raw,node-name=$d,file=f$d")
done
ARGS+=(-blockdev "driver=host_device,node-name=sdb,filename=$SDBNAME"
       -blockdev "driver=host_device,node-name=sdg,filename=$SDG"
       -blockdev "driver=iscsi,node-name=id,transport=tcp,portal=$TGT_PORTAL,target=$TGT_IQN,lun=1,initiator-name=$INI"
       -blockdev "driver=iscsi,node-name=it,transport=tcp,portal=$TGT_PORTAL,target=$TGT_IQN,lun=2,initiator-name=$INI"
       -device xen-pvscsi,id=h0,devid=0
       -device scsi-hd,id=l0000,bus=h0.0,channel=0,scsi-id=0,lun=0,drive=d0
       -device scsi-hd,id=l0003,bus=h0.0,channel=0,scsi-id=0,lun=3,drive=d1
       -device scsi-hd,id=l0050,bus=h0.0,channel=0,scsi-id=5,lun=0,drive=d2
       -device scsi-hd,id=l0123,bus=h0.0,channel=1,scsi-id=2,lun=3,drive=d3
       -device xen-pvscsi,id=h1,devid=1
       -device scsi-block,id=l1000,bus=h1.0,channel=0,scsi-id=0,lun=0,drive=sdb
       -device scsi-generic,id=l1010,bus=h1.0,channel=0,scsi-id=1,lun=0,drive=sdg
       -device scsi-block,id=l1030,bus=h1.0,channel=0,scsi-id=3,lun=0,drive=id
       -device scsi-generic,id=l1040,bus=h1.0,channel=0,scsi-id=4,lun=0,drive=it)
# the xenbus handshake in QEMU's log (reconnect diagnostics)
ARGS+=(-trace enable=xen_pvscsi_frontend_changed -trace enable=xen_pvscsi_connect
       -trace enable=xen_pvscsi_disconnect -trace enable=xen_device_backend_state
       -trace enable=xen_pvscsi_suspend -trace enable=xen_pvscsi_lun_reoffer
       -trace enable=xen_pvscsi_reconfigure -trace enable=xen_pvscsi_migration_blocker)
# vdev:type:what
EXPECT="0:0:0:0:0:d0 0:0:0:3:0:d1 0:0:5:0:0:d2 0:1:2:3:0:d3 1:0:0:0:0:sdb 1:0:1:0:0:sdg 1:0:3:0:0:id 1:0:4:0:1:it"
NLUNS=8
HOT=0:0:4:0
# Save, checkpoint and migration steps, each followed by the hot-plug of a
# LUN (image sN for the Nth step): OP@V.  blocked: xl save refused while
# h1 passes dom0's scsi_debug devices through (its migration blocker), then
# migrate-passthrough=on; ckpt: xl save -c; migrate: xl migrate to
# localhost; save: xl save + xl restore.  A PV guest's backend QEMU is not
# saved by xl, so it has no blocker, and it is the admin's, so xl migrate
# (which would need it started for the new domain) is left out.  A file
# pv-saveops or hvm-saveops in the payload replaces the list
# (E2E_SAVEOPS_PV/_HVM).
SAVEOPS_hvm=$(cat $P/hvm-saveops 2>/dev/null || echo "blocked@0:0:6:0 ckpt@0:0:7:0 migrate@0:0:8:0 save@0:0:9:0")
SAVEOPS_pv=$(cat $P/pv-saveops 2>/dev/null || echo "ckpt@0:0:6:0 save@0:0:7:0")
GARGS="e2e.luns=$NLUNS e2e.data=0:0:0:0@8,0:1:2:3@2,1:0:0:0@2,1:0:1:0@2,1:0:3:0@2 e2e.tape=1:0:4:0 e2e.hot=$HOT e2e.hba=1"
GARGS="$GARGS e2e.sgraw=0:0:0:0,1:0:0:0"

# HVM device model: libxl 4.17 always passes "-vnc none" (with vnc=0 and
# sdl=0).  A QEMU built without VNC rejects the option ("-vnc: invalid
# option") and xl create fails; then a wrapper drops it, and the case names
# say so.
DM=$Q; DMNOTE=""
if ! $Q -vnc none -machine none -S -display none -version >/dev/null 2>&1; then
  DM=/run/e2e/qemu-dm
  cat > $DM <<WRAP
#!/bin/sh
# drop libxl's "-vnc none": $Q has no VNC
n=\$#; skip=
for a in "\$@"; do
  if [ -n "\$skip" ]; then skip=; elif [ "\$a" = -vnc ]; then skip=1; else set -- "\$@" "\$a"; fi
done
shift \$n
exec $Q "\$@"
WRAP
  chmod +x $DM
  DMNOTE=" [our QEMU has no VNC: libxl's -vnc none dropped by a wrapper]"
  info "our QEMU rejects -vnc; HVM uses the wrapper $DM"
fi

# ------------------------------------------------------------------ one guest
# QMP on $QMPS (run_guest's): image IMG[N] as node N and scsi-hd lN at
# h0's target ID, LUN 0; the status of qmp.py.  With KEEP=1 the LUN's
# arguments are added to HOTARGS, for the next device model.
tid() { local x=${1#*:*:}; echo "${x%%:*}"; }    # target ID of an H:C:T:L v-dev
hot_add() { # N ID
  local r
  [ -z "${KEEP:-}" ] || HOTARGS+=(-blockdev "driver=file,node-name=f$1,filename=${IMG[$1]}"
                            -blockdev "driver=raw,node-name=$1,file=f$1"
                            -device "scsi-hd,id=l$1,bus=h0.0,channel=0,scsi-id=$2,lun=0,drive=$1")
  qmp $QMPS \
    "blockdev-add:{\"driver\":\"file\",\"node-name\":\"f$1\",\"filename\":\"${IMG[$1]}\"}" \
    "blockdev-add:{\"driver\":\"raw\",\"node-name\":\"$1\",\"file\":\"f$1\"}" \
    "device_add:{\"driver\":\"scsi-hd\",\"id\":\"l$1\",\"bus\":\"h0.0\",\"channel\":0,\"scsi-id\":$2,\"lun\":0,\"drive\":\"$1\"}" \
    > /tmp/$name-$1.log 2>&1; r=$?
  indent /tmp/$name-$1.log
  return $r
}

# Our QEMU as the PV guest's backend, for domain $1 (run_guest's
# variables: sets QPID); waits for host 1's backend to be in InitWait.
start_pv_qemu() { # DOMID
  local i
  timeout -k 5 1200 $Q -machine xenpv -xen-domid $1 -xen-attach -nodefaults -display none \
    -monitor none -serial none -parallel none -qmp unix:$QMPS,server=on,wait=off \
    "${ARGS[@]}" "${HOTARGS[@]}" >> /tmp/$name-qemu.log 2>&1 &
  QPID=$!
  for i in $(seq 1 60); do
    [ "$(xenstore-read /local/domain/0/backend/qvscsi/$1/1/state 2>/dev/null)" = 2 ] && break
    kill -0 $QPID 2>/dev/null || break; sleep 0.5
  done
}

# The guest's xl.cfg (run_guest's variables), with the device model's
# arguments for an HVM guest: ARGS, then the LUNs hot-plugged so far that a
# destination must have (HOTARGS), and h1 with migrate-passthrough=on once
# the admin has said the destination has the same devices (MIGPT=1).
write_cfg() { # FILE
  local dm="" a
  if [ $K = pv ]; then
    cat > $1 <<CFG
name = "$name"
type = "pv"
kernel = "$P/vmlinuz"
ramdisk = "$P/guest-initrd.cpio.gz"
extra = "console=hvc0 panic=-1 loglevel=4 e2e.kind=pv $GARGS e2e.save=${SAVEOPS// /,} $DBGARGS"
memory = 256
vcpus = 1
on_poweroff = "$ONDIE"
on_reboot = "$ONDIE"
on_crash = "$ONDIE"
CFG
    return
  fi
  for a in "${ARGS[@]}" "${HOTARGS[@]}"; do
    [ -n "${MIGPT:-}" ] && [ "$a" = xen-pvscsi,id=h1,devid=1 ] && a=$a,migrate-passthrough=on
    dm="$dm\"$a\", "
  done
  cat > $1 <<CFG
name = "$name"
type = "hvm"
kernel = "$P/vmlinuz"
ramdisk = "$P/guest-initrd.cpio.gz"
cmdline = "console=ttyS0,115200 console=hvc0 panic=-1 loglevel=4 e2e.kind=hvm $GARGS e2e.save=${SAVEOPS// /,} $(cat $P/guest-extra 2>/dev/null) $DBGARGS${DBGARGS:+ earlyprintk=ttyS0,115200}"
memory = 256
vcpus = 1
hap = 1
acpi = 1
xen_platform_pci = 1
vga = "none"
nographic = 1
vnc = 0
sdl = 0
serial = "file:/var/log/xen/$name-serial.log"
device_model_version = "qemu-xen"
device_model_override = "$DM"
device_model_args_hvm = [ ${dm%, } ]
# QEMU's TCG SVM: XSETBV is not intercepted, RDTSCP exits as RDTSC
cpuid = "$(cat $P/hvm-cpuid 2>/dev/null || echo host,xsave=0,rdtscp=0)"
on_poweroff = "$ONDIE"
on_reboot = "$ONDIE"
on_crash = "$ONDIE"
CFG
}

# One save step OP (run_guest's loop and variables): the domain may come
# back with a new domid, and a new device model for HVM, started by libxl
# with the configuration given to xl (write_cfg: with the LUNs hot-plugged
# so far); for PV we start the new backend QEMU, as an admin would.  Then
# image sN is hot-plugged at VDEV into host h0 of whichever QEMU serves
# the domain now.  Sets SRES[OP]: "xl=<status> dom=<old>-><new> qmp=<status>"
save_op() { # OP VDEV N
  local op=$1 t0 r D2 q i cfg=/tmp/$name-$1.cfg log=/tmp/$name-$1.log
  t0=$(date +%s.%N)
  write_cfg $cfg
  info "$K: $op: $name (domain $D) ..."
  case $op in
    blocked)
      timeout 600 xl save $name $W/$name.save > $log 2>&1; r=$?;;
    ckpt)
      timeout 600 xl save -c $name $W/$name.save > $log 2>&1; r=$?;;
    migrate)
      # -s "": xl runs the "host" argument as the receiving command
      timeout 900 xl migrate -C $cfg -s "" $name "xl migrate-receive" > $log 2>&1; r=$?;;
    save)
      timeout 600 xl save $name $W/$name.save > $log 2>&1; r=$?
      if [ $K = pv ] && [ $r = 0 ]; then
        # A PV guest's backend QEMU is the admin's, not libxl's: the saved
        # domain is gone, so is this QEMU's frontend; the restored domain
        # (paused) gets a new QEMU, same arguments, before it runs again.
        qmp $QMPS quit > /dev/null 2>&1
        for i in $(seq 1 20); do kill -0 $QPID 2>/dev/null || break; sleep 0.5; done
        kill $QPID 2>/dev/null
      fi
      if [ $r = 0 ]; then
        timeout 600 xl restore $([ $K = pv ] && echo -p) $cfg $W/$name.save >> $log 2>&1; r=$?
      fi;;
  esac
  rm -f $W/$name.save
  indent $log
  # (one xl call can fail transiently under nested TCG: a few tries)
  for i in 1 2 3 4 5; do D2=$(xl domid $name 2>/dev/null) && [ -n "$D2" ] && break; sleep 1; done
  # xenconsoled names a domain's console log after its name when it first
  # sees it: xl migrate-receive creates the domain as NAME--incoming, a
  # restore as NAME (appending to that log).  Follow the guest's lines
  # there, from where this loop left that file.
  local nl=/var/log/xen/console/guest-$name.log
  [ $op = migrate ] && [ -f /var/log/xen/console/guest-$name--incoming.log ] &&
    nl=/var/log/xen/console/guest-$name--incoming.log
  if [ -n "$D2" ] && [ "$D2" != "$D" ] && [ "$nl" != "$cl" ]; then
    CLPOS[$cl]=$n; cl=$nl; n=${CLPOS[$nl]:-0}
    [[ " ${CLS[*]} " == *" $cl "* ]] || CLS+=($cl)
    info "$K: $op: the guest's console log is now ${cl##*/}"
  fi
  if [ $K = pv ]; then
    [ -n "$D2" ] && [ "$D2" != "$D" ] && { start_pv_qemu $D2; xl unpause $name; }
    q=$QPID; kill -0 $q 2>/dev/null || q=
  else
    q=$(pgrep -f -- "-xen-domid $D2 .*xenfv" | head -1)
  fi
  info "$K: $op: xl status $r in $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}")s: domain $D -> ${D2:-none}, QEMU pid ${q:-none}"
  SRES[$op]="xl=$r dom=$D->${D2:-none}"
  # the LUN goes to whichever QEMU serves the domain now, so that the guest
  # gets to its end either way
  [ -n "$D2" ] && [ -n "$q" ] || { SRES[$op]+=" qmp=-1"; return; }
  D=$D2 QPID=$q
  [ $K = pv ] || QMPS=/var/run/xen/qmp-libxl-$D2
  if [ $op = blocked ]; then
    # the admin says the destination has dom0's scsi_debug devices too
    qmp $QMPS 'qom-set:{"path":"h1","property":"migrate-passthrough","value":true}' >> $log 2>&1
    SRES[$op]+=" qom-set=$?"; MIGPT=1
  fi
  KEEP=1 hot_add s$3 $(tid $2); SRES[$op]+=" qmp=$?"
}

# Our QEMU's process is gone (run_guest's variables).  libxl kills an HVM
# domain's device model when the domain ends (on_crash/on_poweroff/on_reboot
# = destroy): a QEMU that went while its domain was shut down, or gone, went
# with its domain, and Xen's log says why the domain ended.  A QEMU gone
# while its domain still runs, or whose domain cannot be read, died on its
# own: a failure of ours (lib/rerun.sh never excuses it), and so is any
# QEMU whose fault dom0's kernel or QEMU's own log shows.  The line says
# that fault, for CI's tail.
qemu_gone() {
  local st="" i l fault
  for i in 1 2 3; do
    l=$(timeout 30 xl list 2>/dev/null) && { st=$(echo "$l" | awk -v n=$name '$1 == n { print $5 }'); st=${st:-gone}; break; }
    sleep 1
  done
  fault=$(dmesg 2>/dev/null | grep -a -E 'qemu-system[^ ]*\[[0-9]+\]: (segfault|trap)|traps: qemu' | tail -1)
  # an abort leaves no kernel line: QEMU's stderr says it (assert,
  # g_assert, glib's or the heap's own abort)
  [ -n "$fault" ] || fault=$(cat /tmp/$name-qemu.log /var/log/xen/qemu-dm-$name.log \
                               /var/log/xen/qemu-dm-$name--incoming.log 2>/dev/null |
    grep -a -E 'Assertion|ERROR:|Bail out|malloc\(\)|double free|free\(\)|corrupted|Aborted|core dumped|Segmentation' | tail -1)
  if [ $K = hvm ] && [ -z "$fault" ] && [[ ${st:-r} == gone || ${st:-r} == *[scd]* ]]; then
    info "$K: QEMU (pid $QPID) ended with its domain (xl list: state $st); Xen's log:"
    timeout 30 xl dmesg 2>/dev/null | tail -25 | sed 's/^/xen| /' | indent
    # The guest loads xen-scsifront from its init, whose first line is
    # BOOT: a domain that ended before it never reached our device (the
    # nested machine's vCPU going down in early boot: the e2e doc).
    [ -n "${seen[BOOT]:-}" ] ||
      info "$K: the guest's domain ended before its init ran ($(grep -a -o -E 'reason code [0-9]+' /var/log/xen/xl-$name.log 2>/dev/null | tail -1))"
  else
    info "$K: QEMU (pid $QPID) died (its domain: ${st:-unreadable})${fault:+; its fault: $fault}"
  fi
}

run_guest() { # pv|hvm
  local K=$1 name=e2e-$1 D QPID= QMPS cl t0 t1 MIGPT= SAVEOPS
  local -A SRES=(); local -a HOTARGS=()
  eval "SAVEOPS=\$SAVEOPS_$K"
  cl=/var/log/xen/console/guest-$name.log
  rm -f $cl /var/log/xen/console/guest-$name--incoming.log /var/log/xen/qemu-dm-$name.log \
        /var/log/xen/qemu-dm-$name--incoming.log
  local -a CLS=($cl); local -A CLPOS=()
  info "===== $K guest ====="
  write_cfg /tmp/$name.cfg
  t0=$(date +%s.%N)
  if ! xl create -p /tmp/$name.cfg > /tmp/$name-create.log 2>&1; then
    cat /tmp/$name-create.log; cat /var/log/xen/qemu-dm-$name.log 2>/dev/null
    tap "" "$K: xl create$DMNOTE"; return 1
  fi
  D=$(xl domid $name)
  if [ $K = pv ]; then
    QMPS=/run/e2e/qmp-$name.sock
    rm -f /tmp/$name-qemu.log
    start_pv_qemu $D
  else
    QMPS=/var/run/xen/qmp-libxl-$D
    QPID=$(pgrep -f -- "-xen-domid $D .*xenfv" | head -1)
    local exe; exe=$(readlink /proc/$QPID/exe 2>/dev/null)
    qmp $QMPS --pvscsi > /tmp/$name-q0.log 2>&1
    [ "$exe" = "$(readlink -f $Q)" ] && grep -q '^HBA id=h1 ' /tmp/$name-q0.log &&
      tap ok "hvm: xl create starts our QEMU as device model (device_model_override, xen-pvscsi in device_model_args_hvm), QMP on libxl's socket$DMNOTE" ||
      tap "" "hvm: xl create starts our QEMU as device model" "exe=$exe; $(cat /tmp/$name-q0.log)"
  fi
  info "$K: domain $D created paused in $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}")s; QEMU pid $QPID; backends:"
  xenstore-ls -f /local/domain/0/backend/qvscsi/$D 2>&1 | grep -E '/(state|feature-sg-grant|v-dev|p-dev)' | sed 's/^/E2E-INFO:   /'
  local xs0; xs0=$(xenstore-read /local/domain/0/backend/qvscsi/$D/0/state /local/domain/0/backend/qvscsi/$D/1/state 2>&1 | tr '\n' ' ')
  t1=$(date +%s.%N)
  xl unpause $name
  # ---- follow the guest; drive hotplug when it asks
  local -a SOPS=($SAVEOPS); local sidx=0
  local step=0 conn="" hadd=-1 hq="" hdel=-1 bdel=-1 bq="" gone=0 l hpsnap=""
  # bash's SECONDS, not $(date): under nested TCG a command substitution
  # very rarely comes back empty, which would end the loop
  local deadline=$(( SECONDS + ${GUEST_TIMEOUT:-900} ))
  # The loop reads the console with builtins and forks only to act: under
  # load this nested dom0 now and then hands a new process corrupt memory
  # (docs/devel/testing/xen-pvscsi-e2e.rst), so fewer forks, fewer victims.
  local -A seen=(); local cons=() n=0 x iter=0
  exec 7<> <(:)                  # never readable: "read -t" sleeps
  while [ $SECONDS -lt $deadline ]; do
    cons=(); [ -f $cl ] && mapfile -t cons < $cl
    # a restored domain's console log may start again
    [ ${#cons[@]} -lt $n ] && n=0
    for (( ; n < ${#cons[@]}; n++ )); do
      x=${cons[n]%$'\r'}
      [[ $x == "E2E-G "* ]] || continue
      echo "E2E-INFO:   guest| $x"
      x=${x#E2E-G }; seen[${x%% *}]=1
    done
    if [ -z "$conn" ] && [ -n "${seen[CONNECT]:-}" ]; then
      conn=$(timeout 30 xenstore-read /local/domain/0/backend/qvscsi/$D/0/state /local/domain/0/backend/qvscsi/$D/1/state \
             /local/domain/$D/device/vscsi/0/state /local/domain/$D/device/vscsi/1/state \
             /local/domain/0/backend/qvscsi/$D/0/feature-sg-grant 2>&1 | tr '\n' ' ')
      info "$K: connected after $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t1}")s: states be0 be1 fe0 fe1 sg-grant = $conn"
    fi
    if [ $step = 0 ] && [ -n "${seen[READY]:-}" ]; then
      step=1
      hot_add hot $(tid $HOT); hadd=$?
    fi
    if [ $step = 1 ] && [ -n "${seen[HOTADD]:-}" ]; then
      step=2
      hpsnap=$(qmp $QMPS --pvscsi 2>&1 | grep "vdev=$HOT ")
      info "$K: while plugged: $hpsnap"
      qmp $QMPS 'device_del:{"id":"lhot"}' > /tmp/$name-del.log 2>&1; hdel=$?
      for i in $(seq 1 120); do
        qmp $QMPS --pvscsi > /tmp/$name-q.log 2>&1
        grep -q "vdev=$HOT " /tmp/$name-q.log || break; sleep 0.5
      done
      grep -q "vdev=$HOT " /tmp/$name-q.log && hq=still-there || hq=gone
      info "$K: device_del lhot: rc=$hdel, LUN $hq in query-xen-pvscsi; xenstore:" \
           $(xenstore-ls -f /local/domain/0/backend/qvscsi/$D/0/vscsi-devs 2>&1 | grep -E 'state|v-dev' | tr '\n' ' ')
    fi
    [ $step = 2 ] && [ -n "${seen[HOTDEL]:-}" ] && step=3
    # the save steps, one when the guest is ready for it; the HBA removal
    # once the guest has checked the LUNs after the last one
    if [ $step = 3 ] && [ $sidx -lt ${#SOPS[@]} ] && [ -n "${seen[SAVEREADY-${SOPS[sidx]%@*}]:-}" ]; then
      sidx=$((sidx + 1))
      save_op ${SOPS[sidx - 1]%@*} ${SOPS[sidx - 1]#*@} $sidx
    fi
    if [ $step = 3 ] && [ $sidx = ${#SOPS[@]} ] &&
       { [ $sidx = 0 ] || [ -n "${seen[RESTORED-${SOPS[sidx - 1]%@*}]:-}" ]; }; then
      step=4
      qmp $QMPS 'device_del:{"id":"h1"}' > /tmp/$name-hba.log 2>&1; bdel=$?
      for i in $(seq 1 120); do
        qmp $QMPS --pvscsi > /tmp/$name-q.log 2>&1
        grep -q '^HBA id=h1 ' /tmp/$name-q.log || break; sleep 0.5
      done
      grep -q '^HBA id=h1 ' /tmp/$name-q.log && bq=still-there || bq=gone
      xenstore-exists /local/domain/0/backend/qvscsi/$D/1 2>/dev/null && bq="$bq,xenstore-backend-left" || bq="$bq,xenstore-backend-removed"
      info "$K: device_del h1: rc=$bdel -> $bq"; indent /tmp/$name-q.log
    fi
    if [ $step = 4 ] && [ -n "${seen[RECONNECT]:-}" ]; then
      step=5
      info "$K: after the guest's driver reload: backend/frontend state of devid 0: $(timeout 30 xenstore-read /local/domain/0/backend/qvscsi/$D/0/state /local/domain/$D/device/vscsi/0/state 2>&1 | tr '\n' ' ')"
      qmp $QMPS --pvscsi 2>&1 | grep '^HBA' | indent
    fi
    [ -n "${seen[DONE]:-}" ] && break
    # a single "xl list" can fail transiently under load: 3 in a row mean gone
    if (( ++iter % 10 == 0 )); then
      if timeout 30 xl list $name > /dev/null 2>&1; then gone=0; else gone=$((gone + 1)); [ $gone -ge 3 ] && break; fi
      # a kept guest (E2E_GUEST_DEBUG) that has shut down: state "s" or "c"
      [ $ONDIE = preserve ] && [[ $(timeout 30 xl list $name 2>/dev/null | awk 'NR == 2 { print $5 }') == *[sc]* ]] && break
    fi
    [ -z "$QPID" ] || [ -d /proc/$QPID ] || { qemu_gone; break; }
    alive
    read -t 0.5 -u 7 _
  done
  info "$K: guest finished $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t1}")s after unpause"
  for i in $(seq 1 40); do xl list $name > /dev/null 2>&1 || break; sleep 0.5; done
  local qalive=no; [ -n "$QPID" ] && kill -0 $QPID 2>/dev/null && qalive=yes
  if [ $ONDIE = preserve ] && [ -z "${seen[DONE]:-}" ] && xl list $name > /dev/null 2>&1; then
    echo "E2E-INFO: ---- $K guest kept ($ONDIE): xl list, xenctx, xen-hvmctx"
    { xl list $name; /usr/lib/xen-4.17/bin/xenctx -a $D 0 2>&1
      [ $K = hvm ] && /usr/lib/xen-4.17/bin/xen-hvmctx $D 2>&1 | head -80; } | sed 's/^/E2E-INFO:   /'
  fi
  xl list $name > /dev/null 2>&1 && { info "$K: guest still there: destroy"; xl destroy $name; }
  cons=(); [ -f $cl ] && mapfile -t cons < $cl
  for (( ; n < ${#cons[@]}; n++ )); do
    x=${cons[n]%$'\r'}; [[ $x == "E2E-G "* ]] && echo "E2E-INFO:   guest| $x"
  done
  if [ $K = pv ] && [ -n "$QPID" ]; then
    qmp $QMPS quit > /dev/null 2>&1; sleep 1; kill $QPID 2>/dev/null; wait $QPID 2>/dev/null
  fi
  for i in $(seq 1 20); do [ -n "$QPID" ] && kill -0 $QPID 2>/dev/null || break; sleep 0.5; done
  local G; G=$(cat "${CLS[@]}" 2>/dev/null | tr -d '\r' | grep -a '^E2E-G ')
  if ! echo "$G" | grep -q '^E2E-G DONE'; then
    echo "E2E-INFO: ---- $K guest console (tail)"; cat "${CLS[@]}" 2>/dev/null | tr -d '\r' | tail -60 | sed 's/^/E2E-INFO:   /'
    [ $K = hvm ] && { tr -d '\r' < /var/log/xen/$name-serial.log | tail -$SERTAIL | sed 's/^/E2E-INFO:   serial| /'; }
    # a process killed by a signal leaves a line in the kernel's log
    # (below the console's loglevel): our QEMU's silent death shows there
    echo "E2E-INFO: ---- $K dom0 kernel: segfaults and traps"
    dmesg 2>/dev/null | grep -a -E 'segfault|traps:|general protection|invalid opcode' | tail -5 | sed 's/^/E2E-INFO:   /'
    # xl's own log says how the domain ended (shutdown reason code)
    echo "E2E-INFO: ---- $K xl log (tail)"
    tail -20 /var/log/xen/xl-$name.log 2>/dev/null | sed 's/^/E2E-INFO:   /'
  fi
  echo "E2E-INFO: ---- $K QEMU log (xenbus states of devid 0 and other messages)"
  { cat /tmp/$name-qemu.log /var/log/xen/qemu-dm-$name.log /var/log/xen/qemu-dm-$name--incoming.log 2>/dev/null; } |
    grep -v -E 'host 1:|name: 1 ->' | tail -80 | sed 's/^/E2E-INFO:   /'
  judge "$K" "$G" "$conn" "$hadd" "$hpsnap" "$hdel" "$hq" "$bdel" "$bq" "$qalive"
}

# ------------------------------------------------------------------ verdicts
judge() {
  local K=$1 G=$2 conn=$3 hadd=$4 hpsnap=$5 hdel=$6 hq=$7 bdel=$8 bq=$9 qalive=${10}
  local l why e v t what hctl h0 h1 ok
  local -a GL; mapfile -t GL <<< "$G"
  gline() { local x; for x in "${GL[@]}"; do [[ $x == "E2E-G $1 "* && $x == *"$2"* ]] && { echo "$x"; return; }; done; }
  # 1. connect
  l=$(gline CONNECT "")
  [ "$(kv "$l" luns)" = $NLUNS ] && [ "$conn" = "4 4 4 4 128 " ] &&
    tap ok "$K: xen-scsifront connects to both hosts, $NLUNS LUNs, feature-sg-grant=128" ||
    tap "" "$K: xen-scsifront connects" "guest: ${l:-nothing}; be/fe states, sg-grant: $conn"
  # 2. addresses
  h0=$(kv "$(gline HBA 'tag=start devid=0 ')" host); h1=$(kv "$(gline HBA 'tag=start devid=1 ')" host)
  why=""
  for e in $EXPECT; do
    v=${e%:*:*}; t=${e%:*}; t=${t##*:}
    l=$(gline LUN "tag=start vdev=$v ")
    [ -n "$l" ] || { why="$why $v:missing"; continue; }
    hctl=$(kv "$l" hctl)
    [ "$hctl" = "$([ ${v%%:*} = 0 ] && echo $h0 || echo $h1):${v#*:}" ] || why="$why $v:at-$hctl"
    [ "$(kv "$l" type)" = "$t" ] || why="$why $v:type-$(kv "$l" type)"
    echo "$G" | grep -q "^E2E-G LSSCSI \[$hctl\]" || why="$why $v:not-in-lsscsi"
  done
  [ "$(echo "$G" | grep -c '^E2E-G LUN tag=start ')" = $NLUNS ] || why="$why count=$(echo "$G" | grep -c '^E2E-G LUN tag=start ')"
  [ -z "$why" ] && [ -n "$h0" ] && [ "$h0" != "$h1" ] &&
    tap ok "$K: lsscsi shows every LUN at its H:C:T:L (channels 0/1, targets 0/2/5, LUNs 0/3; host $h0 and $h1)" ||
    tap "" "$K: LUNs at their H:C:T:L" "h0=$h0 h1=$h1$why"
  # 3. sg_inq / sg_luns / sg_readcap of QEMU's scsi-hd
  why=""
  hq0() { echo "$h0:${1#*:}"; }
  for e in 0:0:0:0:d0 0:0:0:3:d1 0:0:5:0:d2 0:1:2:3:d3; do
    v=${e%:*}; what=${e##*:}; hctl=$(hq0 $v)
    l=$(gline INQ "hctl=$hctl ")
    [ "$(kv "$l" rc)/$(kv "$l" vendor)/$(kv "$l" product)" = "0/QEMU/QEMU_HARDDISK" ] || why="$why inq($v):rc=$(kv "$l" rc)/$(kv "$l" vendor)/$(kv "$l" product)"
    l=$(gline CAP "hctl=$hctl ")
    [ "$(kv "$l" blocks)/$(kv "$l" bs)" = "$((SIZE[$what] * 2048))/512" ] || why="$why cap($v):$(kv "$l" blocks)/$(kv "$l" bs)"
  done
  l=$(gline LUNS "hctl=$(hq0 0:0:0:0) "); [ "$(kv "$l" list)" = "0000000000000000,0003000000000000," ] || why="$why luns(0:0:0):$(kv "$l" list)"
  l=$(gline LUNS "hctl=$(hq0 0:1:2:3) "); case $(kv "$l" list) in *0003000000000000,*) ;; *) why="$why luns(1:2:3):$(kv "$l" list)";; esac
  [ -z "$why" ] && tap ok "$K: sg_inq, sg_luns (target 0: LUNs 0 and 3), sg_readcap answer as QEMU's scsi-hd" ||
    tap "" "$K: sg_inq/sg_luns/sg_readcap" "$why"
  # data check helper: guest line vs dom0's view of the backing store
  datachk() { # VDEV FILE [dd-args]
    local l; l=$(gline DATA "vdev=$1 "); local m; m=$(kv "$l" mib)
    [ -n "$m" ] || { echo "$1:no-report"; return; }
    local f; f=$(md5at "$2" 1 "$m" "${3:-}")
    [ "$(kv "$l" wrc)" = 0 ] && [ "$(kv "$l" written)" = "$(kv "$l" readback)" ] && [ "$(kv "$l" written)" = "$f" ] ||
      echo "$1:md5(w=$(kv "$l" written),r=$(kv "$l" readback),dom0=$f)"
    local wi=$(kv "$l" wr_ios) wk=$(kv "$l" wr_kib) ri=$(kv "$l" rd_ios) rk=$(kv "$l" rd_kib)
    [ "${wi:-0}" -gt 0 ] && [ $((wk / wi)) -gt 100 ] && [ "${ri:-0}" -gt 0 ] && [ $((rk / ri)) -gt 100 ] ||
      echo "$1:small-requests(w=$wk/$wi,r=$rk/$ri KiB/ios)"
  }
  # 4. data through scsi-hd
  why="$(datachk 0:0:0:0 ${IMG[d0]})$(datachk 0:1:2:3 ${IMG[d3]})"
  l=$(gline DATA "vdev=0:0:0:0 ")
  [ -z "$why" ] && tap ok "$K: data: $(kv "$l" mib) MiB + 2 MiB random written and read back, md5 = dom0's image files, $(( $(kv "$l" wr_kib) / $(kv "$l" wr_ios) )) KiB per write command" ||
    tap "" "$K: data through scsi-hd" "$why"
  # 5. scsi_debug passthrough
  why="$(datachk 1:0:0:0 $SDB iflag=direct)$(datachk 1:0:1:0 $SDGB iflag=direct)"
  for v in 1:0:0:0 1:0:1:0; do
    l=$(gline INQ "hctl=$h1:${v#*:} ")
    [ "$(kv "$l" vendor)/$(kv "$l" product)/$(kv "$l" rev)" = "Linux/scsi_debug/$SDREV" ] || why="$why inq($v):$(kv "$l" vendor)/$(kv "$l" product)/$(kv "$l" rev)"
  done
  [ -n "$XV_OK" ] && [ "$SDBNAME" = "$SDB" ] && why="$why no-stable-name-for-$SDB"
  [ -z "$why" ] && tap ok "$K: passthrough of dom0's scsi_debug: scsi-block (opened by the stable name xen-vscsi args gives, $SDBNAME) and scsi-generic disks, INQUIRY Linux/scsi_debug/$SDREV" ||
    tap "" "$K: scsi_debug passthrough (scsi-block, scsi-generic)" "$why"
  # 5b. sg_raw through the real frontend: a SCSI answer, never a host error
  why=""
  l=$(gline SGRAW "vdev=0:0:0:0 ")
  [ "$(kv "$l" big)" = "Good/-/-/-" ] && [ "$(kv "$l" big_bytes)" = 512 ] || why="$why hd-big:$(kv "$l" big),$(kv "$l" big_bytes)B"
  [[ $(kv "$l" small) == Check_Condition/Illegal_Request/Invalid_field_in_cdb/- ]] || why="$why hd-small:$(kv "$l" small)"
  [[ $(kv "$l" garbage) == Check_Condition/Illegal_Request/*/- ]] || why="$why hd-garbage:$(kv "$l" garbage)"
  l=$(gline SGRAW "vdev=1:0:0:0 ")
  [ "$(kv "$l" big)" = "Good/-/-/-" ] && [ "$(kv "$l" big_bytes)" = 512 ] || why="$why block-big:$(kv "$l" big),$(kv "$l" big_bytes)B"
  [[ $(kv "$l" small) == Check_Condition/Illegal_Request/Invalid_field_in_cdb/- ]] || why="$why block-small:$(kv "$l" small)"
  [[ $(kv "$l" garbage) == Check_Condition/Illegal_Request/*/- ]] || why="$why block-garbage:$(kv "$l" garbage)"
  [ -z "$why" ] && tap ok "$K: sg_raw through xen-scsifront: READ(10) into a larger buffer gets its 512 bytes (residual), into a smaller one INVALID FIELD IN CDB, an unknown SERVICE ACTION IN(16) the LUN's ILLEGAL REQUEST (scsi-hd and scsi-block): SCSI answers, no host error" ||
    { tap "" "$K: sg_raw answers" "$why"; echo "$G" | grep '^E2E-G SGRAW' | sed 's/^/E2E-INFO:   /'; }
  # 6. iSCSI
  why="$(datachk 1:0:3:0 $TGT/disk.img)"
  l=$(gline INQ "hctl=$h1:0:3:0 "); [ "$(kv "$l" vendor)" = IET ] || why="$why disk-inq:$(kv "$l" vendor)/$(kv "$l" product)"
  l=$(gline INQ "hctl=$h1:0:4:0 "); [ "$(kv "$l" product)" = VIRTUAL-TAPE ] || why="$why tape-inq:$(kv "$l" vendor)/$(kv "$l" product)"
  l=$(gline TAPE "vdev=1:0:4:0 ")
  [ "$(kv "$l" rc)" = 0 ] && [ -n "$(kv "$l" w1)" ] && [ "$(kv "$l" w1)" = "$(kv "$l" r1)" ] && [ "$(kv "$l" w2)" = "$(kv "$l" r2)" ] ||
    why="$why tape:${l:-no-report}"
  local tsz; tsz=$(stat -c %s $TGT/tape.img)
  [ $((tsz - TAPE0)) -ge 1048576 ] || [ "$K" != pv ] || why="$why tape-file-grew:$((tsz - TAPE0))"
  [ -z "$why" ] && tap ok "$K: iSCSI from tgtd on 127.0.0.1: disk via scsi-block (md5 in tgt's file), tape via scsi-generic: mt-st + dd, 2 files, filemarks, read back" ||
    tap "" "$K: iSCSI disk and tape" "$why"
  # 7. reconnect
  l=$(gline RECONNECT "")
  [ "$(kv "$l" rmmod)/$(kv "$l" luns_left)/$(kv "$l" luns)/$(kv "$l" want)" = "0/0/$((4 + ${#SOPS[@]}))/$((4 + ${#SOPS[@]}))" ] && [ -n "$(kv "$l" reread)" ] &&
  [ "$(kv "$l" reread)" = "$(kv "$l" head)" ] && [ "$(kv "$l" written)" = "$(kv "$l" readback)" ] &&
  [ "$(kv "$l" written)" = "$(md5at ${IMG[d0]} 16 1)" ] &&
    tap ok "$K: reconnect: unbind + rmmod xen-scsifront drop all LUNs, modprobe brings h0's $((4 + ${#SOPS[@]})) back in $(kv "$l" after), old data read, new data written" ||
    tap "" "$K: reconnect (unbind, rmmod/modprobe xen-scsifront)" "${l:-no report} $(echo "$G" | grep -E '^E2E-G INFO (after modprobe|dmesg)' | tr '\n' ' ')"
  # 7b. save, checkpoint, migration: per step, what xl did, then the
  # guest's LUNs: h0's data and h1's iSCSI and passthrough disks as
  # written before, new data on h0 and on the LUN hot-plugged after it
  # An xl that died of a signal (the nested machine's segfaults, see
  # lib/rerun.sh) after the domain came out as it should counts as done:
  # what is ours, the device model and the guest's data, is checked all
  # the same, and the line says so.
  local k=0 op o r dom old new xok what xs sig; ok=$(md5at ${IMG[d0]} 1 1)
  for op in "${SOPS[@]}"; do
    o=${op%@*} k=$((k + 1)) r=${SRES[${op%@*}]:-not-run}
    l=$(gline RESTORED-$o ""); dom=$(kv " $r" dom); old=${dom%->*} new=${dom#*->}
    xs=$(kv " $r" xl) sig=
    [ "${xs:-0}" -ge 128 ] 2>/dev/null && [ $o != blocked ] &&
      sig=" (xl died of signal $((xs - 128)) once done: the nested machine's fault)" xs=0
    case $o in
      blocked) xok=$([ "$(kv " $r" xl)" != 0 ] && [ "$new" = "$old" ] && grep -q migrate-passthrough /tmp/e2e-$K-$o.log && [ "$(kv " $r" qom-set)" = 0 ] && echo y)
               what="xl save refused while h1 passes dom0's scsi_debug disks through (QEMU's migration blocker names them; patches/0005), the guest runs on; qom-set migrate-passthrough=on";;
      ckpt)    xok=$([ "$xs" = 0 ] && [ "$new" = "$old" ] && echo y)
               what="xl save -c (checkpoint): the domain runs on with the same QEMU";;
      migrate) xok=$([ "$xs" = 0 ] && [ "$new" != "$old" ] && [ "$new" != none ] && echo y)
               what="xl migrate to localhost (domain $old -> $new, a new device model started with -C: the LUNs hot-plugged before it in its arguments)";;
      save)    xok=$([ "$xs" = 0 ] && [ "$new" != "$old" ] && [ "$new" != none ] && echo y)
               what="xl save + xl restore (domain $old -> $new, a new $([ $K = pv ] && echo backend QEMU || echo device model))";;
    esac
    [ -n "$xok" ] && [ "$(kv " $r" qmp)" = 0 ] && [ "$(kv "$l" hctl)" = "$h0:${op#*@*:}" ] &&
    [ -n "$(kv "$l" reread)" ] && [ "$(kv "$l" reread)" = "$ok" ] &&
    [ "$(kv "$l" iscsi)" = "$(md5at $TGT/disk.img 1 1)" ] && [ "$(kv "$l" pt)" = "$(md5at $SDB 1 1 iflag=direct)" ] &&
    [ -n "$(kv "$l" written)" ] && [ "$(kv "$l" written)" = "$(kv "$l" readback)" ] &&
    [ "$(kv "$l" written)" = "$(kv "$l" readback0)" ] &&
    [ "$(kv "$l" written)" = "$(md5at ${IMG[d0]} $(kv "$l" at) 1)" ] && [ "$(kv "$l" written)" = "$(md5at ${IMG[s$k]} 1 1)" ] &&
      tap ok "$K: $o: $what$sig; then data written before read back on scsi-hd, iSCSI (scsi-block) and local passthrough (scsi-block) LUNs, new data written, a LUN hot-plugged after it works (md5 in dom0)" ||
      tap "" "$K: $o ($([ $o = save ] && echo save/restore || echo $o))" "$r guest: ${l:-nothing}"
  done
  # 8. hotplug add
  l=$(gline HOTADD "")
  [ "$hadd" = 0 ] && [ "$(kv "$l" vendor)" = QEMU ] && [ "$(kv "$l" hctl)" = "$h0:${HOT#*:}" ] &&
  [ -n "$(kv "$l" written)" ] && [ "$(kv "$l" written)" = "$(kv "$l" readback)" ] &&
  [ "$(kv "$l" written)" = "$(md5at ${IMG[hot]} 1 2)" ] && echo "$hpsnap" | grep -q 'state=connected' &&
    tap ok "$K: QMP device_add of a scsi-hd: the guest sees it at [$h0:${HOT#*:}] and moves data (md5 in dom0)" ||
    tap "" "$K: hotplug device_add" "qmp rc=$hadd; guest: ${l:-nothing}; query: $hpsnap"
  # 9. hotplug del
  l=$(gline HOTDEL "")
  [ "$hdel" = 0 ] && [ "$(kv "$l" gone)" = yes ] && [ "$hq" = gone ] &&
    tap ok "$K: QMP device_del: the LUN leaves the guest and query-xen-pvscsi" ||
    tap "" "$K: hotplug device_del" "qmp rc=$hdel query=$hq guest: ${l:-nothing}"
  # 10. HBA removal
  l=$(gline HBADEL "")
  [ "$bdel" = 0 ] && [ "$(kv "$l" gone)" = yes ] && [ "$bq" = gone,xenstore-backend-removed ] &&
  [ "$(kv "$l" luns_left)/$(kv "$l" turs_ok)" = $((4 + ${#SOPS[@]}))/$((4 + ${#SOPS[@]})) ] &&
    tap ok "$K: QMP device_del of HBA h1: its host leaves the guest, backend removed; h0's $((4 + ${#SOPS[@]})) LUNs still answer" ||
    tap "" "$K: HBA device_del" "qmp rc=$bdel dom0: $bq; guest: ${l:-nothing}"
  # 11. end
  echo "$G" | grep -q '^E2E-G DONE' && { [ $K = hvm ] || [ "$qalive" = yes ]; } &&
    tap ok "$K: guest powered off after all steps, QEMU never died" ||
    tap "" "$K: guest completes, QEMU alive" "qemu-alive=$qalive"
}

# ------------------------------------------------------------------ reservations
# A local LUN with SCSI-3 persistent reservations: LIO's tcm_loop gives dom0
# two SCSI devices that are two paths, with their own initiator ports, to
# one fileio LU (scsi_debug has no reservations).  The qtest case
# /xen-pvscsi/local/reservations (the iSCSI qtests' program, played by its
# own frontend under the test Xen emulation) puts one path behind each of
# two xen-pvscsi hosts, as two guests sharing the LU would be: register,
# reserve, the other's write and reserve in conflict, preempt, release,
# clear, the data checked in the LU's file; once through QEMU's
# pr-manager-helper and our qemu-pr-helper, once without (QEMU, root here,
# sends PERSISTENT RESERVE OUT itself).
pr_local() {
  local cf=/sys/kernel/config/target lu img=/dev/shm/pr.img i t before devs=() d hp=/run/e2e/pr.sock
  local helper=$(dirname $Q)/qemu-pr-helper mode r
  lu=$cf/core/fileio_7/prlu
  modprobe target_core_file && modprobe tcm_loop ||
    { tap "" "dom0: LIO tcm_loop for a local LUN with reservations" "modprobe failed"; return 1; }
  mountpoint -q /sys/kernel/config || mount -t configfs configfs /sys/kernel/config
  # LIO writes its APTPL file at every registration change (even with APTPL
  # off), and answers LOGICAL UNIT COMMUNICATION FAILURE where it cannot
  mkdir -p /var/target/pr
  truncate -s 16M $img
  mkdir -p $lu && echo "fd_dev_name=$img,fd_dev_size=$((16 * 1024 * 1024))" > $lu/control && echo 1 > $lu/enable
  before=" $(ls /sys/bus/scsi/devices | tr '\n' ' ') "
  # the nexus first: linking the LUN makes tcm_loop add its SCSI device
  for i in 1 2; do
    t=$cf/loopback/naa.5001405e2e00000$i/tpgt_1
    mkdir -p $t && echo naa.5001405e2e0000a$i > $t/nexus &&
      mkdir -p $t/lun/lun_0 && ln -s $lu $t/lun/lun_0/prlu
  done
  udevadm settle -t 30
  for d in /sys/bus/scsi/devices/*:*:*:*; do
    [[ $before == *" ${d##*/} "* ]] || [ -z "$(blkof ${d##*/})" ] || devs+=(/dev/$(blkof ${d##*/}))
  done
  info "pr: tcm_loop paths ${devs[*]} to one fileio LU ($img); $(ls $helper 2>&1)"
  if [ ${#devs[@]} != 2 ]; then
    tap "" "dom0: LIO tcm_loop: two paths to one LU" "found: ${devs[*]}"
    lsscsi -g | indent
  fi
  rm -f $hp
  $helper -k $hp -f /run/e2e/pr.pid -d > /tmp/pr-helper.log 2>&1
  for i in $(seq 1 20); do [ -S $hp ] && break; sleep 0.5; done
  for mode in helper direct; do
    [ ${#devs[@]} = 2 ] || break
    local -a ev=(QTEST_QEMU_BINARY=$Q XEN_PVSCSI_TGT_SCRIPT=$P/tgt-target.sh XEN_PVSCSI_PR_FILE=$img
                 XEN_PVSCSI_PR_LUNS="${devs[0]},${devs[1]}")
    [ $mode = helper ] && ev+=(XEN_PVSCSI_PR_HELPER=$hp)
    env "${ev[@]}" timeout -k 5 300 $P/xen-pvscsi-iscsi-test --tap -p /i386/xen-pvscsi/local/reservations \
      > /tmp/pr-$mode.log 2>&1
    r=$?
    if [ $r = 0 ] && grep -q '^ok 1 /i386/xen-pvscsi/local/reservations$' /tmp/pr-$mode.log; then
      [ $mode = helper ] &&
        tap ok "dom0: a local LUN's SCSI-3 reservations through two xen-pvscsi hosts (tcm_loop paths ${devs[*]}), QEMU's pr-manager-helper and qemu-pr-helper running each PERSISTENT RESERVE OUT: register, reserve, conflicts, preempt, release, clear (data in the LU's file)" ||
        tap ok "dom0: the same without a pr-manager (QEMU, root, sends PERSISTENT RESERVE OUT itself)"
    else
      tap "" "dom0: local LUN reservations ($mode)" "rc=$r $(grep -v '^#' /tmp/pr-$mode.log | tail -5 | tr '\n' ' ')"
      indent /tmp/pr-$mode.log
    fi
  done
  kill $(cat /run/e2e/pr.pid 2>/dev/null) 2>/dev/null
  for i in 1 2; do
    t=$cf/loopback/naa.5001405e2e00000$i/tpgt_1
    rm -f $t/lun/lun_0/prlu; rmdir $t/lun/lun_0 2>/dev/null; echo NULL > $t/nexus 2>/dev/null
    rmdir $t $cf/loopback/naa.5001405e2e00000$i 2>/dev/null
  done
  rmdir $lu $cf/core/fileio_7 2>/dev/null; rm -f $img
  udevadm settle -t 30
}
[[ " $KINDS " == *" pv "* ]] && pr_local

# ------------------------------------------------------------------ SUSE's xl
# Backends of type vscsi written exactly as SUSE's libxl writes them
# (libxl_vscsi.c: frontend-id, online, state, libxl_ctrl_index,
# feature-host; per LUN p-dev H:C:T:L, p-devname, v-dev, state; the
# frontend's backend, backend-id, state) for a PV domain kept paused, and
# our QEMU started for it with -global xen-pvscsi-vscsi.enable=on.  Host 7:
# dev-0 names dom0's first scsi_debug disk by its H:C:T:L, dev-1 an address
# with no device; host 8 asks for feature-host.  Checked in dom0: the host
# and its LUN made from sysfs (scsi-block, the disk's own INQUIRY), the
# states and reasons in xenstore, libxl's teardown.  The guest's side of a
# host is the same protocol as qvscsi's, which the guests below check.
suse_vscsi() {
  local name=e2e-suse D QPID QMPS=/run/e2e/qmp-e2e-suse.sock be fe be8 fe8 i s0 s1 e1 s8 e8 q gone
  local sid wwid naa x3 s2 s3
  # dev-2: the second disk by its WWID (scsi_id's); dev-3: a third disk,
  # added for this, by its NAA name (the kernel's wwid attribute)
  sid=$(ls /usr/lib/udev/scsi_id /lib/udev/scsi_id 2>/dev/null | head -1)
  wwid=$($sid -g -u -d $SDGB 2>/dev/null)
  echo 1 > $SD/add_host; udevadm settle -t 30
  for i in /sys/bus/scsi/devices/*:*:*:*; do
    [ "$(tr -d ' ' < $i/model 2>/dev/null)" = scsi_debug ] && [ "$(cat $i/type)" = 0 ] &&
      [[ " ${SDDISK[*]} " != *" ${i##*/} "* ]] && x3=${i##*/}
  done
  naa=$(cat /sys/bus/scsi/devices/$x3/wwid 2>/dev/null)
  info "suse: dev-2 by WWID $wwid (${SDDISK[1]}), dev-3 by $naa (a third disk, $x3)"
  # dev-4: two more disks that are two paths to one LU (scsi_debug's device
  # identifiers without the host number), under a dm-multipath device made
  # as multipathd would (dm uuid mpath-<WWID>), named by that WWID
  # (scsi_debug answers with the identifiers of the moment, the kernel
  # keeps those of the scan in sysfs: the WWID is taken, and xen-vscsi
  # reads the pages, while both agree)
  local mp=() mpw mpdm mpx mpsec
  echo 0 > $SD/vpd_use_hostno; echo 2 > $SD/add_host; udevadm settle -t 30
  for i in /sys/bus/scsi/devices/*:*:*:*; do
    [ "$(tr -d ' ' < $i/model 2>/dev/null)" = scsi_debug ] && [ "$(cat $i/type)" = 0 ] &&
      [[ " ${SDDISK[*]} $x3 " != *" ${i##*/} "* ]] && mp+=(${i##*/})
  done
  mpw=$($sid -g -u -d /dev/$(blkof ${mp[0]}) 2>/dev/null)
  echo 1 > $SD/vpd_use_hostno
  mpsec=$(cat /sys/class/block/$(blkof ${mp[0]})/size 2>/dev/null)
  modprobe dm-multipath; modprobe dm-round-robin
  dmsetup create e2e-mpath -u "mpath-$mpw" --table "0 $mpsec multipath 0 0 1 1 round-robin 0 2 1 $(cat /sys/class/block/$(blkof ${mp[0]})/dev) 1000 $(cat /sys/class/block/$(blkof ${mp[1]})/dev) 1000" > /tmp/$name-dm.log 2>&1
  udevadm settle -t 30
  mpdm=$(basename "$(readlink -f /dev/mapper/e2e-mpath)")
  info "suse: dev-4 by WWID $mpw: paths ${mp[*]} under /dev/$mpdm"
  indent /tmp/$name-dm.log
  [ -x /usr/bin/xen-vscsi ] && mpx=$(/usr/bin/xen-vscsi --source sysfs resolve --json "$mpw" 2>&1 | python3 -c '
import json, re, sys
d = json.load(sys.stdin)
print(d.get("multipath"), " ".join(sorted(re.findall(r"\d+:\d+:\d+:\d+", d.get("paths") or ""))), d.get("qemu-device"))' 2>&1)
  if [ -n "$mpw" ] && [ -n "$mpdm" ] && [ "$mpx" = "/dev/$mpdm $(printf '%s\n' "${mp[@]}" | sort | paste -sd' ') scsi-block" ]; then
    tap ok "dom0: xen-vscsi resolve --json of a WWID with two paths (${mp[*]}) names their dm-multipath device /dev/$mpdm (scsi-block)"
  else
    tap "" "dom0: xen-vscsi resolve of a multipath WWID" "wwid=$mpw dm=$mpdm got: $mpx"
  fi
  cat > /tmp/$name.cfg <<CFG
name = "$name"
type = "pv"
kernel = "$P/vmlinuz"
ramdisk = "$P/guest-initrd.cpio.gz"
extra = "console=hvc0"
memory = 128
vcpus = 1
on_poweroff = "destroy"
CFG
  if ! xl create -p /tmp/$name.cfg > /tmp/$name-create.log 2>&1; then
    indent /tmp/$name-create.log; tap "" "suse: xl create -p"; return 1
  fi
  D=$(xl domid $name)
  rm -f $QMPS
  timeout -k 5 600 $Q -machine xenpv -xen-domid $D -xen-attach -nodefaults -display none \
    -monitor none -serial none -parallel none -qmp unix:$QMPS,server=on,wait=off \
    -global xen-pvscsi-vscsi.enable=on -trace 'enable=xen_pvscsi_backend*' \
    > /tmp/$name-qemu.log 2>&1 &
  QPID=$!
  for i in $(seq 1 60); do [ -S $QMPS ] && break; sleep 0.5; done
  be=/local/domain/0/backend/vscsi/$D/7; fe=/local/domain/$D/device/vscsi/7
  be8=/local/domain/0/backend/vscsi/$D/8; fe8=/local/domain/$D/device/vscsi/8
  xenstore-write $fe/backend $be $fe/backend-id 0 $fe/state 1 \
    $be/frontend $fe $be/frontend-id $D $be/libxl_ctrl_index 7 $be/feature-host 0 \
    $be/vscsi-devs/dev-0/p-dev ${SDDISK[0]} $be/vscsi-devs/dev-0/p-devname $SDB \
    $be/vscsi-devs/dev-0/v-dev 7:0:0:0 $be/vscsi-devs/dev-0/state 1 \
    $be/vscsi-devs/dev-1/p-dev 9:9:9:9 $be/vscsi-devs/dev-1/p-devname /dev/sdz \
    $be/vscsi-devs/dev-1/v-dev 7:0:1:0 $be/vscsi-devs/dev-1/state 1 \
    $be/vscsi-devs/dev-2/p-dev "${wwid:-none}" $be/vscsi-devs/dev-2/p-devname $SDGB \
    $be/vscsi-devs/dev-2/v-dev 7:0:2:0 $be/vscsi-devs/dev-2/state 1 \
    $be/vscsi-devs/dev-3/p-dev "${naa:-none}" $be/vscsi-devs/dev-3/p-devname /dev/sdq \
    $be/vscsi-devs/dev-3/v-dev 7:0:3:0 $be/vscsi-devs/dev-3/state 1 \
    $be/vscsi-devs/dev-4/p-dev "${mpw:-none}" $be/vscsi-devs/dev-4/p-devname /dev/mapper/e2e-mpath \
    $be/vscsi-devs/dev-4/v-dev 7:0:4:0 $be/vscsi-devs/dev-4/state 1 \
    $be/online 1 $be/state 1
  xenstore-chmod $be n0 r$D; xenstore-chmod $fe n$D r0
  for i in $(seq 1 60); do [ "$(xenstore-read $be/state 2>/dev/null)" = 2 ] && break; sleep 0.5; done
  for i in $(seq 1 60); do
    qmp $QMPS --pvscsi > /tmp/$name-q.log 2>&1
    [ "$(grep -c 'vdev=7:0:[0234]:0 .*vendor=Linux' /tmp/$name-q.log)" = 4 ] && break; sleep 0.5
  done
  indent /tmp/$name-q.log
  s0=$(xenstore-read $be/vscsi-devs/dev-0/state 2>&1); s1=$(xenstore-read $be/vscsi-devs/dev-1/state 2>&1)
  e1=$(xenstore-read $be/vscsi-devs/dev-1/error 2>&1)
  info "suse: host 7 state $(xenstore-read $be/state 2>&1), dev-0 $s0, dev-1 $s1 ($e1)"
  [ "$(xenstore-read $be/state 2>/dev/null)" = 2 ] && [ "$s0" = 1 ] && [ "$s1" = 6 ] &&
  [ "$e1" = "p-dev '9:9:9:9': no such SCSI device on this host" ] &&
  grep -q '^HBA id=None devid=7 ' /tmp/$name-q.log &&
  grep -q '^LUN hba=None vdev=7:0:0:0 .*type=scsi-block vendor=Linux pdt=0' /tmp/$name-q.log &&
    tap ok "suse: a vscsi backend as SUSE's libxl writes it, served with -global xen-pvscsi-vscsi.enable=on: p-dev ${SDDISK[0]} (H:C:T:L) made a scsi-block LUN on dom0's scsi_debug disk (its INQUIRY), a missing H:C:T:L refused with its reason" ||
    tap "" "suse: vscsi backend with H:C:T:L LUNs" "state=$(xenstore-read $be/state 2>&1) dev-0=$s0 dev-1=$s1 ($e1)"
  s2=$(xenstore-read $be/vscsi-devs/dev-2/state 2>&1)\ $(xenstore-read $be/vscsi-devs/dev-2/error 2>/dev/null)
  s3=$(xenstore-read $be/vscsi-devs/dev-3/state 2>&1)\ $(xenstore-read $be/vscsi-devs/dev-3/error 2>/dev/null)
  [ -n "$wwid" ] && [[ $naa == naa.* ]] && [ "$s2" = "1 " ] && [ "$s3" = "1 " ] &&
  grep -q '^LUN hba=None vdev=7:0:2:0 .*type=scsi-block vendor=Linux pdt=0' /tmp/$name-q.log &&
  grep -q '^LUN hba=None vdev=7:0:3:0 .*type=scsi-block vendor=Linux pdt=0' /tmp/$name-q.log &&
    tap ok "suse: p-dev as a WWID ($wwid) and as a naa. name ($naa) found by QEMU among dom0's SCSI devices (their VPD page 0x83 in sysfs), as xen-vscsi resolves them: scsi-block LUNs on ${SDDISK[1]} and $x3" ||
    tap "" "suse: p-dev by WWID and naa. name" "wwid=$wwid naa=$naa dev-2=$s2 dev-3=$s3"
  local s4 n4
  s4=$(xenstore-read $be/vscsi-devs/dev-4/state 2>&1)\ $(xenstore-read $be/vscsi-devs/dev-4/error 2>/dev/null)
  n4=$(qmp $QMPS 'query-named-block-nodes:{"flat":true}' 2>&1 | python3 -c '
import json, sys
for l in sys.stdin:
    if " -> " in l:
        for n in json.loads(l.split(" -> ", 1)[1]).get("return", []):
            if n.get("node-name") == "xen-pvscsi7-dev4":
                print(n.get("file"))' 2>&1)
  info "suse: dev-4: $s4; its node: $n4"
  [ -n "$mpdm" ] && [ "$s4" = "1 " ] && [ "$n4" = "/dev/$mpdm" ] &&
  grep -q '^LUN hba=None vdev=7:0:4:0 .*type=scsi-block vendor=Linux pdt=0' /tmp/$name-q.log &&
    tap ok "suse: p-dev as the WWID of two paths under dm-multipath: QEMU serves their multipath device /dev/$mpdm (scsi-block), as xen-vscsi resolves it" ||
    tap "" "suse: p-dev WWID of a multipath LU" "wwid=$mpw dm=$mpdm dev-4=$s4 node=$n4"
  # feature-host = 1: refused, the reason for the toolstack
  xenstore-write $fe8/backend $be8 $fe8/backend-id 0 $fe8/state 1 \
    $be8/frontend $fe8 $be8/frontend-id $D $be8/libxl_ctrl_index 8 $be8/feature-host 1 \
    $be8/vscsi-devs/dev-0/p-dev ${SDDISK[0]} $be8/vscsi-devs/dev-0/p-devname $SDB \
    $be8/vscsi-devs/dev-0/v-dev 8:0:0:0 $be8/vscsi-devs/dev-0/state 1 \
    $be8/online 1 $be8/state 1
  for i in $(seq 1 60); do [ "$(xenstore-read $be8/state 2>/dev/null)" = 6 ] && break; sleep 0.5; done
  s8=$(xenstore-read $be8/state 2>&1); e8=$(xenstore-read $be8/error 2>&1)
  [ "$s8" = 6 ] && [[ $e8 == "feature-host = '1' is not supported"* ]] &&
    tap ok "suse: feature-host = 1 refused: backend state 6, the reason in its error node" ||
    tap "" "suse: feature-host = 1 refused" "state=$s8 error=$e8"
  # libxl's teardown: offline, Closing; the frontend never connected
  xenstore-write $be/online 0 $be/state 5
  gone=no
  for i in $(seq 1 60); do xenstore-exists $be 2>/dev/null || { gone=yes; break; }; sleep 0.5; done
  qmp $QMPS --pvscsi > /tmp/$name-q.log 2>&1
  q=$(grep -c '^HBA' /tmp/$name-q.log)
  [ $gone = yes ] && [ "$q" = 0 ] && kill -0 $QPID 2>/dev/null &&
    tap ok "suse: libxl's teardown (online 0, state 5) removes host 7 and its backend directory; QEMU alive" ||
    tap "" "suse: teardown of the vscsi host" "backend removed=$gone hosts left=$q"
  qmp $QMPS quit > /dev/null 2>&1; sleep 1; kill $QPID 2>/dev/null; wait $QPID 2>/dev/null
  xl destroy $name > /dev/null 2>&1
  xenstore-rm /local/domain/0/backend/vscsi/$D 2>/dev/null
  dmsetup remove e2e-mpath 2>/dev/null
  echo -3 > $SD/add_host; udevadm settle -t 30
  echo "E2E-INFO: ---- suse QEMU log"; indent /tmp/$name-qemu.log
}
[[ " $KINDS " == *" pv "* ]] && suse_vscsi

for k in $KINDS; do run_guest $k; done

# ------------------------------------------------------------------ the end
lsmod | grep -q '^xen_scsiback' && tap "" "dom0: xen-scsiback was never loaded" ||
  tap ok "dom0: xen-scsiback was never loaded (our QEMU was the only vscsi backend)"
sh $P/tgt-target.sh stop $TGT
echo "E2E-RESULT: $((N - FAILED)) passed, $FAILED failed"
[ $FAILED = 0 ]
