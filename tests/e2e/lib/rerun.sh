# Sourced by tests/e2e/run.sh: is a failed check run rerun (E2E_RETRY)?
# Tested on the host by tests/e2e/test-rerun.sh.
#
# SPDX-License-Identifier: GPL-2.0-or-later

# Faults of the nested machine that no part of ours can cause in that
# process, as its console shows them: a dom0 or guest process aborting on a
# corrupt heap or a corrupt ld.so state, or a shell, xl or text tool dying
# of a segfault, run directly or under timeout(1), which re-raises the
# signal (seen under load, with and without our QEMU:
# docs/devel/testing/xen-pvscsi-e2e.rst; never our QEMU, which is not in
# the list), and the HVM guest's triple fault under TCG's emulated SVM, or
# Xen crashing the HVM domain itself ("domain_crash called from", Xen's
# own words for a fault it took in the domain; a guest that panics asks
# for its shutdown and Xen does not print that), unless Xen also says an
# I/O port's answer never came ("Weird PIO status": the device model went
# away under the guest, which may be ours); or an HVM domain that ended
# before the guest's init ran, so before the guest could load
# xen-scsifront (check.sh says so).  Prints what it found.
glitches() { # LOG
  local dm=cat
  grep -a -q 'Weird PIO status' "$1" && dm="grep -v domain_crash"
  tr -d '\r' < "$1" | grep -a -o -E 'malloc\(\): [a-z ]+|double free or corruption|Inconsistency detected by ld\.so|Triple fault|domain_crash called from|domain ended before its init ran|watchdog: killed hung helper|watchdog: gave up|Segmentation fault +(timeout (-k [0-9]+ )?[0-9]+ )?(bash|xl|xenstore-[a-z]+|sed|grep|awk|tr|cut|cat|head|tail|python3|fio|sh) ' | $dm |
    tr -s ' ' | sort | uniq -c | sed 's/^ *//' | paste -sd, -
}

# Deaths of our QEMU that a guest crash does not explain: they are ours,
# whatever else the console shows (a heap abort in our QEMU is no longer
# taken for the machine's since spec-ctrl=eager-fpu), with what dom0 said
# of them.  An HVM domain that ends takes its device model with it:
# check.sh says "ended with its domain" then, and older logs only show
# the triple fault.
qemu_deaths() { # LOG
  local d; d=$(tr -d '\r' < "$1" | grep -a -o -E '(pv|hvm): QEMU \(pid [0-9]+\) died.*' | tr -d ',')
  grep -a -q 'Triple fault' "$1" && d=$(echo "$d" | grep -v '^hvm')
  echo "$d" | sed '/^$/d' | paste -sd, -
}

# Whether a failed run may be rerun: prints the reason either way, and
# succeeds only for a run whose console shows the machine's own faults and
# no death of our QEMU (checked first: the machine's faults never excuse it).
rerun_verdict() { # LOG
  local q g
  q=$(qemu_deaths "$1")
  [ -z "$q" ] || { echo "our QEMU died ($q): a failure of ours, no rerun"; return 1; }
  g=$(glitches "$1")
  [ -n "$g" ] || { echo "no fault of the nested machine shows: a failure of ours, no rerun"; return 1; }
  echo "this run's console shows faults of the nested machine itself: $g"
}
