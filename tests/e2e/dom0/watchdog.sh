# Sourced by the dom0 check script (/mnt/payload/watchdog.sh): a watchdog
# for the corrupt-memory fault of the nested dom0
# (docs/devel/testing/xen-pvscsi-e2e.rst), which now and then strikes a
# freshly forked helper.  Caught so far: a "timeout" for a xenstore-read
# stuck in a futex before it ever ran its command (so "timeout" itself
# never fires), and a "sed" over a 3-line file spinning on the CPU for 16
# minutes.  Tested on the host by tests/e2e/test-watchdog.sh.
#
# The script beats with "alive" (every info line, every turn of a wait
# loop).  When it has not beaten for two ticks, the watchdog prints what
# every process waits on, and kills hung helpers among the script's
# descendants: short-lived
# single-threaded tools sitting in a futex for over a tick or running for
# over 1.5 ticks (nothing they do here takes that long; python3 is qmp.py,
# whose socket has a 30 s timeout); the step that ran them sees an empty
# answer.  When no beat comes for 6 ticks all the same, it gives up and
# kills the script, so the run ends there rather than at E2E_TIMEOUT.
# Every action is printed with a "watchdog: " prefix: run.sh's glitches()
# counts "killed hung helper" and "gave up" as faults of the nested machine.
#
#   WD_HB   heartbeat file (default /tmp/e2e-heartbeat)
#   WD_TICK seconds (default 60)
#   WD_OUT  where it writes (default /dev/console: the journal may be
#           what hangs)
#
# SPDX-License-Identifier: GPL-2.0-or-later

WD_HB=${WD_HB:-/tmp/e2e-heartbeat}
WD_HELPERS='timeout|xenstore-.*|tr|grep|sed|cut|awk|wc|head|tail|cat|md5sum|dd|seq|python3'

# a beat: bash's SECONDS, which a forked subshell keeps counting
alive() { echo "$SECONDS" > "$WD_HB"; }

# wd_start PID: watch the script PID (the caller); sets WATCHDOG
wd_start() {
  local target=$1 tick=${WD_TICK:-60}
  alive
  ( exec > "${WD_OUT:-/dev/console}" 2>&1
    stuck=0
    while sleep "$tick"; do
      b=0; read -r b < "$WD_HB" 2>/dev/null
      (( SECONDS - b < 2 * tick )) && { stuck=0; continue; }
      stuck=$((stuck + 1))
      echo "E2E-INFO: watchdog: no progress for $((SECONDS - b)) s; processes:"
      ps -eo pid,ppid,stat,wchan:24,etime,args --sort=pid | tail -50 | cut -c1-200 | sed 's/^/E2E-INFO:   ps| /'
      killed=0
      for p in $(ps -eo pid=,ppid=,etimes=,stat=,wchan:32=,comm= |
                 awk -v top="$target" -v t="$tick" -v re="^($WD_HELPERS)\$" '
                   { pp[$1] = $2
                     if ($6 ~ re && (($3 > t && $5 ~ /^futex_/) || ($3 > 1.5 * t && $4 ~ /^R/)))
                       c[$1] = 1 }
                   END { for (p in c) {      # descendants of the script only
                           for (a = pp[p]; a > 1 && a != top; a = pp[a]) ;
                           if (a == top) print p } }'); do
        echo "E2E-INFO: watchdog: killed hung helper $(ps -o pid=,stat=,etime=,comm= -p "$p")"
        kill -9 "$p"; killed=1
      done
      if [ $killed = 1 ]; then
        stuck=0; alive
      elif [ $stuck -ge 5 ]; then
        echo "E2E-INFO: watchdog: gave up: no progress for $((SECONDS - b)) s and no hung helper to kill; ending the script"
        kill -9 "$target"
        exit
      fi
    done ) &
  WATCHDOG=$!
}
