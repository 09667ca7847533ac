# xen-vscsi resolve checks, sourced by dom0/check.sh when the admin tool is
# installed (/usr/bin/xen-vscsi, from our package).  resolve_forms
# KIND H:C:T:L runs "xen-vscsi resolve --json" on every p-dev form that
# names the scsi_debug device at H:C:T:L in dom0 and checks that each one
# resolves to that device: hctl, sg node, peripheral type, INQUIRY identity.
# (scsi_debug's ptype is global, so the disk forms are checked while it is
# 0 and the tape forms while it is 1: see check.sh.)  Then "xen-vscsi args"
# for H:C:T:L: the node its -blockdev opens is named by dom0's udev link
# (the disk's wwn- link), or by its kernel name with a warning where udev
# makes none (a tape drive's sg node).
#
# SPDX-License-Identifier: GPL-2.0-or-later
XV=/usr/bin/xen-vscsi
SCSI_ID=$(ls /usr/lib/udev/scsi_id /lib/udev/scsi_id 2>/dev/null | head -1)
resolve_forms() { # disk|tape H:C:T:L
  local kind=$1 a=$2 sg blk st nst forms f why="" n=0 wwid naa pt
  sg=/dev/$(ls /sys/bus/scsi/devices/$a/scsi_generic 2>/dev/null | head -1)
  forms="$sg $a"
  if [ $kind = disk ]; then
    pt=0; blk=/dev/$(ls /sys/bus/scsi/devices/$a/block 2>/dev/null | head -1)
    forms="$forms $blk"
    for f in /dev/disk/by-id/*; do [ "$(readlink -f $f)" = "$blk" ] && forms="$forms $f"; done
    [ -n "$SCSI_ID" ] && wwid=$($SCSI_ID -g -u -d $blk 2>/dev/null)
  else
    pt=1; st=$(ls /sys/bus/scsi/devices/$a/scsi_tape 2>/dev/null | grep '^st[0-9]*$' | head -1)
    nst=n$st; forms="$forms /dev/$st /dev/$nst"
    for f in /dev/tape/by-id/*; do [ "$(readlink -f $f)" = "/dev/$st" ] || [ "$(readlink -f $f)" = "/dev/$nst" ] && forms="$forms $f"; done
    [ -n "$SCSI_ID" ] && wwid=$($SCSI_ID -g -u -d $sg 2>/dev/null)
  fi
  [ -n "$wwid" ] && forms="$forms $wwid"
  # naa.<wwn>:<lun>: a target port / target device NAA designator plus LUN,
  # and the LU's own NAA designator (sysfs wwid "naa.<hex>")
  naa=$($XV resolve --json $sg 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
for x in d.get("designators") or []:
    if x.get("association") in ("target-port", "target-device") and str(x.get("designator-type", "")).startswith("naa"):
        print("naa." + x["value"].replace("0x", "").lower() + ":" + str(d["lun"])); break
' 2>/dev/null)
  [ -n "$naa" ] && forms="$forms $naa"
  f=$(cat /sys/bus/scsi/devices/$a/wwid 2>/dev/null); case $f in naa.*) forms="$forms $f";; esac
  for f in $forms; do
    n=$((n + 1))
    $XV resolve --json "$f" > /tmp/xv.json 2>/tmp/xv.err
    r=$(python3 - "$a" "$sg" "$pt" 2>&1 <<'PY'
import json, sys
a, sg, pt = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    d = json.load(open("/tmp/xv.json"))
except Exception:
    print("-"); print("bad-json"); sys.exit()
print(d.get("hctl"), d.get("sg"), d.get("type"), d.get("wwid"), d.get("qemu-device"))
want = (("hctl", a), ("sg", sg), ("peripheral-type", pt), ("vendor", "Linux"), ("model", "scsi_debug"))
print(",".join(f"{k}={d.get(k)}" for k, v in want if d.get(k) != v))
PY
)
    info "xen-vscsi resolve --json $f -> ${r%%$'\n'*}"
    # second line: the mismatches ($(...) drops it when it is empty)
    case $r in *$'\n'*) r=${r#*$'\n'};; *) r=;; esac
    [ -z "$r" ] || why="$why $f:{${r}$(head -c 100 /tmp/xv.err)}"
  done
  [ -z "$why" ] && tap ok "dom0: xen-vscsi resolve --json: $n p-dev forms of the scsi_debug $kind ($(echo $forms | sed 's/ /, /g')) all name $a" ||
    tap "" "dom0: xen-vscsi resolve --json on the scsi_debug $kind $a" "$why"
  # args: the stable name of the node QEMU opens
  local fn want wl
  $XV args --json "$a,0:0:0:0" > /tmp/xv.json 2>/tmp/xv.err
  fn=$(python3 -c 'import json; print([x for x in json.load(open("/tmp/xv.json")) if "filename=" in x][0].split("filename=")[1].split(",")[0])' 2>&1)
  if [ $kind = disk ]; then
    wl=$(ls -d /dev/disk/by-id/wwn-* 2>/dev/null | while read -r f; do [ "$(readlink -f $f)" = "$blk" ] && echo $f; done | sort | head -1)
    [ -n "$wl" ] && [ "$fn" = "$wl" ] && [ ! -s /tmp/xv.err ] &&
      tap ok "dom0: xen-vscsi args names the scsi_debug disk $a by udev's $fn (not $blk)" ||
      tap "" "dom0: xen-vscsi args: a stable name for the disk $a" "filename=$fn want=${wl:-no-wwn-link} stderr=$(head -c 200 /tmp/xv.err)"
  else
    [ "$fn" = "$sg" ] && grep -q "$sg has no stable name" /tmp/xv.err &&
      tap ok "dom0: xen-vscsi args names the scsi_debug tape $a's sg node $sg (no udev link to it) and warns" ||
      tap "" "dom0: xen-vscsi args for the tape $a" "filename=$fn want=$sg stderr=$(head -c 200 /tmp/xv.err)"
  fi
}
