#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# xen-qtest-hang-report.sh ROOT_PID [PID]
#
# Run by the case watchdog of libqos/xen-qtest.c when a test case does not
# end: print, on stderr, where every descendant of the test program
# ROOT_PID and the process PID (a daemon the test started, such as tgtd)
# are: command line, state, each thread's kernel wait channel and, when gdb
# can attach, each thread's innermost user-space frames on one line.  Then
# SIGKILL them all.  Everything is bounded: gdb gets 20 s per process.
#
# Copyright (c) 2026 The qemu-xen-pvscsi authors
#
# This work is licensed under the terms of the GNU GPL, version 2 or later.
# See the COPYING file in the top-level directory.

exec 1>&2
root=$1
extra=${2:-}
case $root:$extra in
:* | *[!0-9:]*) echo "usage: $0 ROOT_PID [PID]"; exit 2 ;;
esac

# descendants of $root, leaving out this script and what it runs
pids=$(ps -eo pid=,ppid= | awk -v root="$root" -v me="$$" '
    { pp[$1] = $2 }
    END {
        for (p in pp) {
            if (p == me) continue
            for (a = pp[p]; a != "" && a > 1 && a != root && a != me;
                 a = pp[a]) ;
            if (a == root) print p
        }
    }' | sort -n)

# the daemon first, the test program's children (QEMU) last: a harness
# that keeps only the tail of the output keeps those
for p in $extra $pids; do
    [ -d "/proc/$p" ] || continue
    echo "hang-report: $(ps -o pid=,stat=,etime=,args= -p "$p" | cut -c1-300)"
    # threads alike are counted, not listed
    for t in /proc/"$p"/task/*; do
        echo "$(cut -d' ' -f3 "$t/stat" 2>/dev/null)" \
            "$(cat "$t/wchan" 2>/dev/null)"
    done | sort | uniq -c | sort -rn |
        awk '{ printf "hang-report:   %d thread%s %s in %s\n", $1,
                      ($1 > 1) ? "s" : "", $2, $3 }'
    if command -v gdb >/dev/null 2>&1; then
        timeout -s KILL 20 gdb -p "$p" -batch -nx -q \
            -ex 'set pagination off' -ex 'thread apply all bt 12' \
            </dev/null 2>/dev/null |
            awk '/^Thread / { if (line != "") print line; line = ""; next }
                 /^#[0-9]/ { line = line " " (($3 == "in") ? $4 : $2) }
                 END { if (line != "") print line }' |
            sort | uniq -c | sort -rn | cut -c1-400 |
            sed 's/^ *\([0-9]*\) /hang-report:   bt (\1):/'
    fi
done
# the daemon first: QEMU's death may end the test program at once
for p in $extra $pids; do
    kill -KILL "$p" 2>/dev/null
done
echo "hang-report: killed $(echo $extra $pids | wc -w) processes"
