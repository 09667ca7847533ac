#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# xen-qtest-watchdog-test.sh XEN_QTEST_HV_TEST
#
# Test of the case watchdog of libqos/xen-qtest.c: runs the hidden
# /xen-qtest-hv/watchdog-selftest case of xen-qtest-hv-test (QEMU stopped
# with SIGSTOP, a watched "daemon" that is no child of the program) with a
# 2-second deadline, and checks that the program ends, says why, reports
# where QEMU and the daemon are, and leaves neither of them behind.  TAP.
#
# Copyright (c) 2026 The qemu-xen-pvscsi authors
#
# This work is licensed under the terms of the GNU GPL, version 2 or later.
# See the COPYING file in the top-level directory.

prog=$1
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
echo "1..5"
n=0
ok() {
    n=$((n + 1))
    if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}

# qtest paths start with the architecture
path=$(QXEN_WATCHDOG_SELFTEST=1 "$prog" -l | grep '/watchdog-selftest$')
start=$(date +%s)
QXEN_WATCHDOG_SELFTEST=1 QXEN_CASE_TIMEOUT=2 \
    timeout -s KILL 100 "$prog" --tap -p "$path" >"$t/out" 2>"$t/err"
rc=$?
took=$(($(date +%s) - start))
sed 's/^/# stdout: /' "$t/out"
sed 's/^/# stderr: /' "$t/err"

pids='s/.*qemu pid \([0-9]*\), daemon pid \([0-9]*\).*/'
qemu=$(sed -n "$pids"'\1/p' "$t/out")
daemon=$(sed -n "$pids"'\2/p' "$t/out")
[ -n "$qemu" ] && [ -n "$daemon" ]
ok $? "the case started QEMU ($qemu) and the daemon ($daemon)"

bail='has not ended after 2 s'
[ "$rc" -ne 0 ] && [ "$rc" -ne 137 ] && [ "$took" -lt 60 ] &&
    grep -q "^Bail out! watchdog: .*/watchdog-selftest $bail" "$t/out"
ok $? "the program bailed out on its own (status $rc, ${took} s)"

grep -q "^hang-report: *$qemu T.*qemu-system" "$t/err" &&
    grep -q "^hang-report:   [0-9]* threads* T in " "$t/err" &&
    grep -q "^hang-report:   bt ([0-9]*):.* main$" "$t/err"
ok $? "the report shows QEMU stopped, its threads and their stacks"

grep -q "^hang-report: *$daemon .*sleep 300" "$t/err"
ok $? "the report shows the watched daemon"

sleep 0.5
left=0
for p in $qemu $daemon; do
    if [ -r "/proc/$p/stat" ] &&
       [ "$(cut -d' ' -f3 "/proc/$p/stat")" != Z ]; then
        left=1
        kill -KILL "$p"
    fi
done
ok $left "neither QEMU nor the daemon is left running"
