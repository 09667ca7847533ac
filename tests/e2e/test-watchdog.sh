#!/bin/bash
# Host test of the e2e dom0 watchdog (tests/e2e/dom0/watchdog.sh), with a
# 1-second tick: it must leave a helper alone while the script beats, kill
# a helper spinning on the CPU and one stuck in a futex once the beats stop,
# and give up on (kill) a script stuck in anything else, all without running
# any program itself (it gets no PATH).  TAP output.
#
# SPDX-License-Identifier: GPL-2.0-or-later
set -u
WD=$(cd "$(dirname "$0")" && pwd)/dom0/watchdog.sh
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
echo "1..6"
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }

# The "check script": beats while one spinning sed runs, then stops
# beating while a second spins, then sits in a futex (python3 acquiring a
# lock it holds), then waits on a sleep that is no helper.
cat > "$T/script.sh" <<'EOF'
WD_TICK=1; . "$1"
# The watchdog must run no program (they are what the fault hangs): it
# has to do its work with no PATH at all.
PATH=/nonexistent wd_start $$
echo $WATCHDOG > "$WD_HB.pids"
printf 'a\nb\nc\n' > "$WD_HB.in"
( while :; do alive; sleep 0.3; done ) & beat=$!
timeout 4 sed ':a;ba' "$WD_HB.in"; echo "phase1 rc=$?"
kill $beat; wait $beat 2>/dev/null
sed ':a;ba' "$WD_HB.in"; echo "phase2 rc=$?"
python3 -c 'import threading; l = threading.Lock(); l.acquire(); l.acquire()'; echo "phase3 rc=$?"
sleep 600 & echo $! >> "$WD_HB.pids"; wait $!; echo "phase4 rc=$?"
EOF
# a decoy: a spinning sed that is not the script's
printf 'x\n' > "$T/decoy.in"
sed ':a;ba' "$T/decoy.in" & decoy=$!
start=$SECONDS
WD_HB=$T/hb WD_OUT=$T/wd.log timeout -s KILL 60 bash "$T/script.sh" "$WD" > "$T/out.log" 2>&1 &
wait $!; rc=$?
sleep 3                       # the watchdog's own exit after giving up
# still running (an exited one may stay a zombie a while: its parent was
# killed, and whoever adopts it reaps when it does)
left=$(ps -o stat= -p "$(paste -sd, "$T/hb.pids")" | grep -cv '^Z')
kill -0 $decoy 2>/dev/null; decoy_alive=$?
kill -9 $decoy; wait $decoy 2>/dev/null
kill -9 $(cat "$T/hb.pids") 2>/dev/null
took=$((SECONDS - start))
sed 's/^/# script: /' "$T/out.log"
grep -v 'ps| ' "$T/wd.log" | sed 's/^/# watchdog: /'

grep -qx 'phase1 rc=124' "$T/out.log"
ok $? "a spinning helper is left alone while the script beats (timeout ended it)"
grep -qx 'phase2 rc=137' "$T/out.log" && grep -q 'watchdog: killed hung helper .* R.* sed$' "$T/wd.log"
ok $? "a helper spinning on the CPU with no beat is killed"
grep -qx 'phase3 rc=137' "$T/out.log" && grep -q 'watchdog: killed hung helper .* python3$' "$T/wd.log"
ok $? "a helper stuck in a futex with no beat is killed"
[ $rc = 137 ] && ! grep -q '^phase4' "$T/out.log" && grep -q 'watchdog: gave up' "$T/wd.log"
ok $? "a script stuck in a non-helper is killed after 6 ticks (rc=$rc, ${took}s)"
ok $decoy_alive "a spinning helper that is not the script's descendant is left alone"
[ $took -lt 40 ] && [ "$left" = 1 ]
ok $? "it ends in bounded time (${took}s); only the stuck sleep is left behind, not the watchdog"
