#!/bin/bash
# Host test of tests/e2e/lib/rerun.sh, which decides whether a failed
# check-e2e run is rerun (E2E_RETRY): consoles cut down from real runs'
# logs (2026-11-21; the domain_crash lines are Xen's words, as Xen prints
# them).  Our QEMU's death is never excused (nor rerun) unless its HVM
# guest triple-faulted or check.sh saw it end with its domain; the nested
# machine's own faults are found and rerun; a plain failure shows neither
# and is not rerun.  TAP output.
#
# SPDX-License-Identifier: GPL-2.0-or-later
set -u
E2E=$(cd "$(dirname "$0")" && pwd)
. "$E2E/lib/rerun.sh"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
echo "1..11"
n=0
is() { # GOT WANT NAME
  n=$((n + 1))
  if [ "$1" = "$2" ]; then echo "ok $n - $3"; else
    echo "not ok $n - $3"; echo "#   got:  [$1]"; echo "#   want: [$2]"; fi
}
P='e2e-test-runner[312]:'
# rerun_verdict's decision, as the run.sh loop takes it
verdict() { if rerun_verdict "$1" > /dev/null; then echo rerun; else echo "no rerun"; fi; }
# our PV QEMU aborted on a corrupt heap; its log (dumped later) says so
printf '%s\r\n' \
  "[  117.098880] $P /mnt/payload/test.sh: line 1:   657 Aborted                 timeout -k 5 1200 \$Q -machine xenpv" \
  "[  117.239237] $P E2E-INFO: [117.22] pv: QEMU (pid 657) died" \
  "[  190.258861] e2e-test-runner[797]: E2E-INFO:   malloc(): corrupted top size" \
  "[  190.3] $P E2E-TAP: not ok 7 - pv: LUNs at their H:C:T:L" > "$T/pv-abort"
is "$(qemu_deaths "$T/pv-abort")/$(verdict "$T/pv-abort")" "pv: QEMU (pid 657) died/no rerun" \
   "a PV QEMU that died is ours, not rerun, though its heap abort looks like the machine's"
# the HVM guest triple-faulted: Xen shut it down, and its QEMU with it
printf '%s\n' \
  "(XEN) d2v0 Triple fault - invoking HVM shutdown action 1" \
  "[  254.882001] $P E2E-INFO: [254.83] hvm: QEMU (pid 1006) died" \
  "[  255.0] $P E2E-TAP: not ok 20 - hvm: sg_inq/sg_luns/sg_readcap" > "$T/hvm-triple"
is "$(qemu_deaths "$T/hvm-triple")/$(glitches "$T/hvm-triple")/$(verdict "$T/hvm-triple")" "/1 Triple fault/rerun" \
   "an HVM QEMU that went with its triple-faulted guest is not counted; the fault is, and reruns"
# both: the PV death stays ours
cat "$T/pv-abort" "$T/hvm-triple" > "$T/both"
is "$(qemu_deaths "$T/both")/$(verdict "$T/both")" "pv: QEMU (pid 657) died/no rerun" \
   "a PV QEMU's death is ours, not rerun, even when the HVM guest triple-faulted"
# the machine's own faults in dom0 tools
printf '%s\n' \
  "[  167.112406] e2e-test-runner[307]: /usr/local/sbin/e2e-test-runner: line 16:   313 Segmentation fault      bash /mnt/payload/test.sh" \
  "[  212.867995] $P /mnt/payload/test.sh: line 116:   400 Segmentation fault      xl list bench > /dev/null 2>&1" \
  "[  144.866283] e2e-test-runner[517]: malloc(): unsorted double linked list corrupted" \
  "[  160.0] $P watchdog: killed hung helper 812 (xenstore-ls)" > "$T/machine"
is "$(qemu_deaths "$T/machine")/$(glitches "$T/machine")/$(verdict "$T/machine")" \
   "/1 Segmentation fault bash ,1 Segmentation fault xl ,1 malloc(): unsorted double linked list corrupted,1 watchdog: killed hung helper/rerun" \
   "segfaults of bash and xl, a heap abort, a killed helper: the machine's, rerun"
# xl under timeout(1): timeout re-raises the signal, bash names timeout
# (the HVM boot's xl migrate, CI 2026-12-02: xl status 139)
printf '%s\n' \
  "[  301.5] $P /mnt/payload/test.sh: line 279:  1290 Segmentation fault      timeout 900 xl migrate -C \$cfg -s \"\" \$name \"xl migrate-receive\" > \$log 2>&1" \
  "[  420.0] $P E2E-TAP: not ok 16 - hvm: migrate (migrate) # xl=139 dom=1->1 qmp=0" > "$T/xl-timeout"
is "$(qemu_deaths "$T/xl-timeout")/$(glitches "$T/xl-timeout")/$(verdict "$T/xl-timeout")" \
   "/1 Segmentation fault timeout 900 xl /rerun" \
   "a segfault of xl run under timeout: the machine's, rerun"
# a segfault of our QEMU is no machine fault
printf '%s\n' \
  "[  109.409335] $P /mnt/payload/test.sh: line 1:   663 Segmentation fault      timeout -k 5 1200 \$Q -machine xenpv -xen-domid 1" \
  "[  110.0] $P E2E-INFO: [110.0] pv: QEMU (pid 663) died" > "$T/qemu-segv"
is "$(qemu_deaths "$T/qemu-segv")/$(glitches "$T/qemu-segv")/$(verdict "$T/qemu-segv")" "pv: QEMU (pid 663) died//no rerun" \
   "a segfault of our QEMU: its death, no machine fault, not rerun"
# a plain failure of a case
printf '%s\n' \
  "[  152.0] $P E2E-TAP: not ok 13 - pv: hotplug device_add # qmp rc=0" \
  "[  166.0] $P E2E-TAP: ok 16 - pv: guest powered off after all steps, QEMU never died" > "$T/plain"
is "$(qemu_deaths "$T/plain")/$(glitches "$T/plain")/$(verdict "$T/plain")" "//no rerun" \
   "a failed case alone: neither, not rerun; 'QEMU never died' is no death"
# Xen crashed the HVM domain; libxl took its QEMU with it (check.sh's line)
printf '%s\n' \
  "(XEN) d1v0 Unexpected vmexit: reason 3" \
  "(XEN) domain_crash called from vmx.c:4304" \
  "[  130.0] $P E2E-INFO: [130.0] hvm: QEMU (pid 691) ended with its domain (xl list: state gone); Xen's log:" \
  "[  131.0] $P E2E-TAP: not ok 7 - hvm: xen-scsifront connects # guest: nothing" > "$T/hvm-crashed"
is "$(qemu_deaths "$T/hvm-crashed")/$(glitches "$T/hvm-crashed")/$(verdict "$T/hvm-crashed")" "/1 domain_crash called from/rerun" \
   "Xen crashed the HVM domain and its QEMU ended with it: the machine's, rerun"
# the guest panicked (panic=-1: it asks for its own end); no fault of Xen's
printf '%s\n' \
  "[  120.0] $P E2E-INFO:   guest| Kernel panic - not syncing: Attempted to kill init!" \
  "[  121.0] $P E2E-INFO: [121.0] hvm: QEMU (pid 691) ended with its domain (xl list: state --ps-d); Xen's log:" > "$T/hvm-panic"
is "$(qemu_deaths "$T/hvm-panic")/$(glitches "$T/hvm-panic")/$(verdict "$T/hvm-panic")" "//no rerun" \
   "a guest that panicked took QEMU with it: no death, but no machine fault either, not rerun"
# our QEMU went while its domain ran on; then Xen crashed the domain, whose
# I/O went unanswered: ours, with the fault check.sh found
printf '%s\n' \
  "[  140.0] $P E2E-INFO: [140.0] hvm: QEMU (pid 691) died (its domain: -b----); its fault: qemu-system-i38[691]: segfault at 8 ip 00005 sp 00007 error 4" \
  "(XEN) d1v0 Weird PIO status 1, port 0xb004 read 0xffff" \
  "(XEN) domain_crash called from io.c:178" > "$T/hvm-died"
is "$(qemu_deaths "$T/hvm-died")/$(glitches "$T/hvm-died")/$(verdict "$T/hvm-died")" \
   "hvm: QEMU (pid 691) died (its domain: -b----); its fault: qemu-system-i38[691]: segfault at 8 ip 00005 sp 00007 error 4//no rerun" \
   "an HVM QEMU that died while its domain ran: ours with its fault, and the domain crash after it is no machine fault"
# the HVM guest's domain powered off in early boot, before its init
printf '%s\n' \
  "[  100.0] $P E2E-INFO: [100.0] hvm: QEMU (pid 691) ended with its domain (xl list: state gone); Xen's log:" \
  "[  100.5] $P E2E-INFO: [100.5] hvm: the guest's domain ended before its init ran (reason code 0)" > "$T/hvm-early"
is "$(qemu_deaths "$T/hvm-early")/$(glitches "$T/hvm-early")/$(verdict "$T/hvm-early")" "/1 domain ended before its init ran/rerun" \
   "an HVM domain that ended before the guest's init ran: the machine's, rerun"
