#!/bin/bash
# qemu-xen-pvscsi end-to-end tests on a real Xen: boots Xen 4.17 with a
# Debian dom0 under QEMU (TCG), runs our qemu-system-i386 in dom0 as the
# xen-pvscsi backend of real Linux guests (PV and HVM), and reports.
#
# usage: tests/e2e/run.sh check      the test suite (make check-e2e)
#        tests/e2e/run.sh bench      the fio benchmark (make bench-e2e)
#        tests/e2e/run.sh cache      only build (or reuse) the cache
#        tests/e2e/run.sh shell      dom0 shell on the console (Ctrl-t x quits)
# env:   E2E_CACHE   cache directory (default ${XDG_CACHE_HOME:-$HOME/.cache}/qemu-xen-pvscsi-e2e)
#        QEMU_BUILD  our QEMU build directory (default <repo>/build/qemu)
#        E2E_TIMEOUT seconds for the whole nested machine (default 1200)
#        E2E_GUESTS  check: "pv hvm" (default), "pv" or "hvm"; a boot each
#        E2E_BENCH_ARGS bench: guest args (default "bench.rt=15 bench.size=128M")
#        E2E_BENCH_QEMU_ENV, E2E_BENCH_STRACE, E2E_BENCH_IOTHREADS,
#        E2E_BENCH_AIO, E2E_BENCH_POLL_MAX_NS, E2E_BENCH_D: bench
#                    knobs (docs/devel/testing/xen-pvscsi-e2e.rst)
#        E2E_RETRY   check: how many times to rerun a boot when a failed
#                    run's console shows the nested machine's own faults
#                    (see lib/rerun.sh; default 0)
#        E2E_BUDGET  check: seconds since the start within which a rerun
#                    must fit (at E2E_TIMEOUT each); none is started that
#                    might end later (default: no limit)
#        E2E_TCG_THREAD TCG of the nested machine: "multi" (default) or "single"
#        E2E_XEN_ARGS extra words for Xen's command line (after xen_fpu's)
#        E2E_L0_CPU  -cpu of the nested machine (default max,-smap)
#        E2E_GUEST_DEBUG=1 check: a guest that powers off, reboots or crashes is kept
#                    and its state printed (xl on_poweroff/reboot/crash=preserve)
#        E2E_HVM_CPUID check: the HVM guest's xl cpuid= (default
#                    "host,xsave=0,rdtscp=0")
#        E2E_GUEST_EXTRA check: more words for the HVM guest kernel's cmdline
#        E2E_SAVEOPS_PV, E2E_SAVEOPS_HVM check: the save steps, "OP@H:C:T:L ..." with
#                    OP blocked|ckpt|migrate|save (defaults: dom0/check.sh)
#        E2E_L0_QEMU the L0 QEMU binary (default qemu-system-x86_64 on PATH)
#        E2E_L0_ARGS extra words for it (e.g. "-L DIR" for its firmware)
# Needs root (debootstrap, chroot) and the packages of
# scripts/install-e2e-deps.sh.  Every QEMU runs under timeout.
#
# SPDX-License-Identifier: GPL-2.0-or-later
set -uo pipefail
E2E=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$E2E/../.." && pwd)
export E2E
export C=${E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/qemu-xen-pvscsi-e2e}
QEMU_BUILD=${QEMU_BUILD:-$SRC/build/qemu}
QEMU_SRC_DIR=${QEMU_SRC_DIR:-$SRC/build/qemu-src}
MODE=${1:-check}
T0=$(date +%s)
mkdir -p "$C/logs" "$C/images"
say() { echo "e2e: [$(( $(date +%s) - T0 ))s] $*"; }

# ---------------------------------------------------------------- cache
# The cache (kernel, Xen, busybox, dom0 rootfs and image, dom0 initramfs) is
# rebuilt when the scripts that build it change: its stamp is a hash of them.
cache_hash() {
  cat "$E2E/lib/fetch-inputs.sh" "$E2E/lib/build-rootfs.sh" "$E2E/lib/mk-initrd.sh" \
      "$E2E/lib/init-dom0.sh" "$E2E/dom0/test-runner.sh" "$SRC/scripts/apt-mirror.sh" |
    { cat; echo "EXTRA_PKGS=${EXTRA_PKGS:-}"; } | sha256sum | cut -c1-16
}
build_cache() {
  local h; h=$(cache_hash)
  if [ "$(cat "$C/stamp" 2>/dev/null)" = "$h" ] && [ -f "$C/images/dom0.ext4" ] &&
     [ -f "$C/images/dom0-initrd.cpio.gz" ]; then
    say "cache $C is up to date ($h)"; return 0
  fi
  say "building the cache in $C (stamp $h; ~2 min)"
  rm -f "$C/stamp"
  local t=$(date +%s)
  "$E2E/lib/fetch-inputs.sh" > "$C/logs/fetch-inputs.log" 2>&1 ||
    { tail -20 "$C/logs/fetch-inputs.log"; say "fetch-inputs failed"; return 1; }
  say "inputs fetched ($(( $(date +%s) - t ))s): kernel $(cat "$C/images/KVER")"
  "$E2E/lib/build-rootfs.sh" > "$C/logs/build-rootfs.log" 2>&1 ||
    { tail -30 "$C/logs/build-rootfs.log"; say "build-rootfs failed"; return 1; }
  say "dom0 rootfs and image built ($(( $(date +%s) - t ))s)"
  "$E2E/lib/mk-initrd.sh" "$C/images/dom0-initrd.cpio.gz" "$E2E/lib/init-dom0.sh" \
    virtio_pci virtio_blk crc32c_generic crc32c_intel ext4 > "$C/logs/dom0-initrd.log" 2>&1 ||
    { cat "$C/logs/dom0-initrd.log"; return 1; }
  echo "$h" > "$C/stamp"
  say "cache built in $(( $(date +%s) - t ))s"
}

# ---------------------------------------------------------------- our QEMU
# Copy qemu-system-i386 out of the build (under the build lock), strip it,
# and check that dom0's rootfs has every library it needs.
stage_qemu() { # DESTDIR
  # our QEMU and xen-vscsi as our Debian package (scripts/mkdeb.sh; lintian
  # is "make deb"'s), which dom0 installs with dpkg -i
  local d=$1
  [ -x "$QEMU_BUILD/qemu-system-i386" ] || { say "no $QEMU_BUILD/qemu-system-i386 (run make)"; return 1; }
  mkdir -p "$SRC/build"
  LINTIAN=0 flock "$SRC/build/.lock" sh "$SRC/scripts/mkdeb.sh" "$SRC/build" > "$C/logs/mkdeb.log" 2>&1 ||
    { tail -20 "$C/logs/mkdeb.log"; say "mkdeb failed"; return 1; }
  cp "$SRC"/build/deb/qemu-xen-pvscsi_*.deb "$d/" || return 1
  local LP=$C/rootfs/lib/x86_64-linux-gnu:$C/rootfs/usr/lib/x86_64-linux-gnu
  local b miss
  for b in "$QEMU_BUILD/qemu-system-i386" "$SRC/build/ours/xen-vscsi"; do
    miss=$(LD_LIBRARY_PATH=$LP ldd "$b" | grep 'not found')
    if [ -n "$miss" ]; then
      say "dom0 rootfs lacks libraries of ${b##*/} (add their packages to build-rootfs.sh):"
      echo "$miss"; return 1
    fi
  done
}

# ---------------------------------------------------------------- nested Xen
# Xen's FPU switching for a boot whose domU is of kind pv or hvm.  With
# its lazy default (CR0.TS + #NM on a vCPU switch), processes in dom0 and
# in PV domUs had their state corrupted under the L0 TCG: glibc heap aborts
# ("malloc(): corrupted top size"), segfaults of bash, xl, fio, python3,
# systemd and our QEMU, helpers hung in a futex, empty command
# substitutions; 6 of 9 benchmark boots and about one check run in 3.
# spec-ctrl=eager-fpu (state switched at every context switch) ended that
# for PV, but the HVM guest then triple-faults in 3 boots of 4 (1 in 9
# lazily).  So PV boots are eager and HVM boots lazy
# (docs/devel/testing/xen-pvscsi-e2e.rst, Caveats).
xen_fpu() { # pv|hvm
  case $1 in hvm) echo spec-ctrl=no-eager-fpu;; *) echo spec-ctrl=eager-fpu;; esac
}

# Boot Xen + dom0 with PAYLOAD as /dev/vdb; dom0 runs its test.sh and powers
# off.  Console (Xen + dom0 hvc0) -> $LOG; the filter prints our result lines.
run_xen() { # PAYLOAD LOG [dom0 args]; GUEST_KIND=pv|hvm (default pv)
  local payload=$1 log=$2; shift 2
  local to=${E2E_TIMEOUT:-1200}
  # TCG, "max" CPU without SMAP: with SMAP the PV dom0 dies at its first
  # stack access under QEMU 7.2 TCG + Xen 4.17.  (KVM here is PVM and cannot
  # run Xen; see docs/devel/xen-pvscsi-e2e.rst.)
  local xen="console=com1 com1=115200,8n1 dom0_mem=1536M,max:1536M dom0_max_vcpus=2 loglvl=all guest_loglvl=all $(xen_fpu "${GUEST_KIND:-pv}") ${E2E_XEN_ARGS:-}"
  local dom0="console=hvc0 earlyprintk=xen panic=-1 loglevel=4 $*"
  local stdin=/dev/null; local tty=()
  if [ -n "${E2E_INTERACTIVE:-}" ]; then stdin=/dev/stdin; tty=(-echr 0x14); else dom0="$dom0 e2etest"; fi
  local drives=(-drive "file=$C/images/dom0.ext4,if=virtio,format=raw,cache=unsafe")
  [ -n "$payload" ] && drives+=(-drive "file=$payload,if=virtio,format=raw,readonly=on")
  # -snapshot: the cached dom0 image is never written
  # shellcheck disable=SC2086
  timeout --foreground -k 10 "$to" "${E2E_L0_QEMU:-qemu-system-x86_64}" ${E2E_L0_ARGS:-} \
    -accel tcg,thread=${E2E_TCG_THREAD:-multi},tb-size=512 -cpu "${E2E_L0_CPU:-max,-smap}" -m 3072 -smp 2 \
    -nographic -no-reboot -snapshot \
    -kernel "$C/images/xen-4.17" -append "$xen" \
    -initrd "$C/images/vmlinuz $dom0,$C/images/dom0-initrd.cpio.gz" \
    "${drives[@]}" -nic none "${tty[@]}" < $stdin > "$log" 2>&1 &
  local qpid=$!
  if [ -n "${E2E_INTERACTIVE:-}" ]; then wait $qpid; return; fi
  # live view: our lines, without the console prefix "[ 12.3] e2e-test-runner[300]: "
  tail -n +1 --pid=$qpid -F "$log" 2>/dev/null |
    if [ -n "${E2E_VERBOSE:-}" ]; then
      sed -u -n -e 's/\r$//' -e 's/^.*E2E-TAP: //p' -e 's/^.*E2E-INFO: /# /p' -e 's/^.*E2E-RUNNER: /# dom0: /p'
    else
      sed -u -n -e 's/\r$//' -e 's/^.*E2E-TAP: //p' -e 's/^.*guest| BENCH-RES \([^ ]* [abc]\) .*/# fio done: \1/p'
    fi &
  local tpid=$!
  wait $qpid; local rc=$?
  sleep 1; kill $tpid 2>/dev/null; wait $tpid 2>/dev/null
  return $rc
}

mk_payload() { # DIR OUT
  local mb; mb=$(du -sm "$1" | cut -f1)
  rm -f "$2"
  mkfs.ext4 -q -F -L payload -d "$1" "$2" "$(( mb + 32 ))M" > /dev/null
}

guest_initrd() { # OUT INIT [more BINS]
  local out=$1 init=$2; shift 2
  BINS="/usr/bin/lsscsi /usr/bin/sg_inq /usr/bin/sg_luns /usr/bin/sg_readcap /usr/bin/sg_turs /usr/bin/sg_raw /usr/bin/mt-st $*" \
    "$E2E/lib/mk-initrd.sh" "$out" "$init" xen-scsifront sd_mod sg st xen-blkfront
}

# ---------------------------------------------------------------- main
# Results: dom0 prints "E2E-TAP: ok N - name" lines and "E2E-RESULT: N passed,
# N failed"; a run that dies early (dom0 crash, timeout) is a failure.
report() { # LOG
  local log=$1 ok nok res
  ok=$(tr -d '\r' < "$log" | grep -ac 'E2E-TAP: ok ')
  nok=$(tr -d '\r' < "$log" | grep -ac 'E2E-TAP: not ok ')
  if ! grep -aq 'E2E-RESULT: ' "$log"; then
    say "dom0 did not finish its test script (crash or timeout): see $log"
    nok=$((nok + 1))
  fi
  echo "$ok passed, $nok failed"
  say "log: $log; total $(( $(date +%s) - T0 ))s"
  LAST_OK=$ok LAST_NOK=$nok
  [ "$nok" = 0 ]
}

. "$E2E/lib/rerun.sh"       # rerun_verdict()

# The check suite for one guest kind in a boot of its own; a failed run
# showing the nested machine's faults is rerun (E2E_RETRY, E2E_BUDGET).
check_boot() { # pv|hvm
  local kind=$1 try LOG v r
  echo "$kind" > "$D/kinds"
  rm -f "$D/guest-debug"; [ -z "${E2E_GUEST_DEBUG:-}" ] || touch "$D/guest-debug"
  [ -z "${E2E_HVM_CPUID:-}" ] || echo "$E2E_HVM_CPUID" > "$D/hvm-cpuid"
  [ -z "${E2E_GUEST_EXTRA:-}" ] || echo "$E2E_GUEST_EXTRA" > "$D/guest-extra"
  rm -f "$D/pv-saveops" "$D/hvm-saveops"
  [ -z "${E2E_SAVEOPS_PV+x}" ] || echo "$E2E_SAVEOPS_PV" > "$D/pv-saveops"
  [ -z "${E2E_SAVEOPS_HVM+x}" ] || echo "$E2E_SAVEOPS_HVM" > "$D/hvm-saveops"
  mk_payload "$D" "$C/images/payload-check.ext4" || return 1
  LOG=$C/logs/check-$STAMP-$kind.log
  say "booting Xen ($(xen_fpu "$kind")) + dom0 for the $kind guest; log $LOG"
  GUEST_KIND=$kind run_xen "$C/images/payload-check.ext4" "$LOG"
  for (( try = 1; ; try++ )); do
    report "$LOG" && return 0
    v=$(rerun_verdict "$LOG"); r=$?
    say "$v"
    [ $r = 0 ] || return 1
    [ "$try" -le "${E2E_RETRY:-0}" ] || return 1
    if [ -n "${E2E_BUDGET:-}" ] &&
       (( $(date +%s) - T0 + ${E2E_TIMEOUT:-1200} > E2E_BUDGET )); then
      say "no rerun: one more might end after E2E_BUDGET=${E2E_BUDGET}s"; return 1
    fi
    LOG=$C/logs/check-$STAMP-$kind-rerun$try.log
    say "E2E_RETRY=${E2E_RETRY}: rerun $try of the $kind boot; log $LOG"
    GUEST_KIND=$kind run_xen "$C/images/payload-check.ext4" "$LOG"
  done
}

case $MODE in
  cache) build_cache; exit;;
  check|bench|shell) ;;
  *) sed -n '2,38p' "$0"; exit 2;;
esac
[ "$(id -u)" = 0 ] || { echo "e2e: needs root (debootstrap, chroot, mkfs)" >&2; exit 1; }
exec 9> "$C/.lock"
flock -n 9 || { say "waiting for another run using $C"; flock 9; }
build_cache || exit 1
STAMP=$(date +%Y%m%d-%H%M%S)
D=$C/payload-$MODE
rm -rf "$D"; mkdir -p "$D"
case $MODE in
  shell)
    E2E_INTERACTIVE=1 run_xen "" /dev/null; exit;;
  check)
    stage_qemu "$D" || exit 1
    guest_initrd "$D/guest-initrd.cpio.gz" "$E2E/guest/init-check.sh" /usr/bin/sg_dd > "$C/logs/guest-initrd.log" 2>&1 ||
      { cat "$C/logs/guest-initrd.log"; exit 1; }
    cp "$C/images/vmlinuz" "$D/vmlinuz"
    cp "$E2E/dom0/check.sh" "$D/test.sh"
    cp "$E2E/dom0/qmp.py" "$E2E/dom0/watchdog.sh" "$SRC/tests/iscsi/tgt-target.sh" "$D/"
    # qmp.py's QMP client: QEMU's own (python/qemu/qmp of the pinned source)
    mkdir -p "$D/qemu" && cp -r "$QEMU_SRC_DIR/python/qemu/qmp" "$D/qemu/" || exit 1
    [ -f "$E2E/dom0/resolve.sh" ] && cp "$E2E/dom0/resolve.sh" "$D/"
    # the iSCSI qtests' program, for its case on a local LUN with
    # reservations (LIO's tcm_loop in dom0: dom0/check.sh's pr_local)
    cp "$QEMU_BUILD/tests/qtest/xen-pvscsi-iscsi-test" "$D/" || exit 1
    # one boot per guest kind, each with its own Xen FPU mode (run_xen)
    rc=0; total_ok=0; total_nok=0
    for kind in ${E2E_GUESTS:-pv hvm}; do
      LAST_OK=0 LAST_NOK=1              # report() sets them: its last run counts
      check_boot "$kind" || rc=1
      total_ok=$((total_ok + LAST_OK)) total_nok=$((total_nok + LAST_NOK))
    done
    say "all boots: $total_ok passed, $total_nok failed"
    exit $rc;;
  bench)
    . "$E2E/lib/bench-host.sh";;
esac
