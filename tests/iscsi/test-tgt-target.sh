#!/bin/sh
# Host test of tests/iscsi/tgt-target.sh: a tgtd whose exec comes late
# (a "tgtd" first in PATH that runs the real one after 0.5 s, under another
# name meanwhile) must be waited for, not taken for dead.  The script used
# to mistake the child it had just forked, still running under the
# script's own command line, for a tgtd that had died, and then waited
# for it for ever: CI's xen-pvscsi-iscsi-test "TIMEOUT after 0 cases".
# Skipped without tgt (root and tgtd, tgtadm, tgtimg).  TAP output.
#
# SPDX-License-Identifier: GPL-2.0-or-later
script=$(cd "$(dirname "$0")" && pwd)/tgt-target.sh
PATH=$PATH:/usr/sbin:/sbin
real=$(command -v tgtd)
if [ "$(id -u)" != 0 ] || [ -z "$real" ] || ! command -v tgtadm >/dev/null ||
    ! command -v bash >/dev/null; then
    echo "1..0 # SKIP needs root, bash and tgt"
    exit 0
fi
t=$(mktemp -d)
trap 'sh "$script" stop "$t/tgt" >/dev/null 2>&1; rm -rf "$t"' EXIT
mkdir "$t/bin" "$t/tgt"
cat > "$t/bin/tgtd" <<EOS
#!/bin/bash
exec -a slowstart bash -c 'sleep 0.5; exec $real "\$@"' slowstart "\$@"
EOS
chmod +x "$t/bin/tgtd"
echo "1..2"

start=$(date +%s)
out=$(PATH=$t/bin:$PATH timeout -s KILL 30 sh "$script" start "$t/tgt" \
    "disk:$t/tgt/disk.img:8" 2>"$t/err")
rc=$?
took=$(($(date +%s) - start))
sed 's/^/# /' "$t/err"
case $out in
127.0.0.1:*" iqn."*) ok=yes ;;
*) ok=no ;;
esac
if [ $rc = 0 ] && [ $ok = yes ]; then
    echo "ok 1 - start waits for a tgtd that execs late ($took s): $out"
else
    echo "not ok 1 - start waits for a tgtd that execs late" \
        "(rc $rc after $took s)"
    tail -n 8 "$t/tgt/tgtd.log" 2>/dev/null | sed 's/^/# tgtd.log: /'
fi

# ... and the one it started is the real tgtd, which answers
pid=$(sed -n 's/^TGT_PID=//p' "$t/tgt/env" 2>/dev/null)
ctl=$(sed -n 's/^TGT_CTL=//p' "$t/tgt/env" 2>/dev/null)
if [ -n "$pid" ] && grep -q "tgtd" "/proc/$pid/cmdline" 2>/dev/null &&
    tgtadm -C "$ctl" --mode target --op show 2>/dev/null |
    grep -q "LUN: 1"; then
    echo "ok 2 - that tgtd (pid $pid) serves the target with its LUN"
else
    echo "not ok 2 - that tgtd (pid ${pid:-none}) serves the target" \
        "with its LUN"
fi
