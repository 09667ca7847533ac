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
# Every action is printed with a "watchdog: " prefix: glitches() (lib/rerun.sh)
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

# One pass over /proc with bash builtins only: the nested machine's fault
# strikes freshly forked processes, the watchdog's own helpers included (a
# CI run stalled because its "ps | awk" hung after the first report, and the
# watchdog then did nothing for 12 minutes).  So it forks nothing but the
# one subshell it runs in.  Fills, by PID: WD_PP (parent), WD_ST (state),
# WD_AGE (seconds since the process started), WD_WCH (kernel wait channel),
# WD_COMM (name).
wd_scan() {
  local f p line w up
  local -a a
  WD_PP=() WD_ST=() WD_AGE=() WD_WCH=() WD_COMM=()
  read -r up _ < /proc/uptime; up=${up%.*}
  for f in /proc/[0-9]*; do
    p=${f#/proc/}
    read -r line < "$f/stat" 2>/dev/null || continue
    w=${line#*\(}; WD_COMM[p]=${w%)*}
    a=(${line##*) })            # state ppid ... starttime (field 22)
    WD_ST[p]=${a[0]}; WD_PP[p]=${a[1]}
    WD_AGE[p]=$(( up - a[19] / 100 ))   # USER_HZ is 100 on x86
    w=-; read -r w < "$f/wchan" 2>/dev/null; WD_WCH[p]=${w:--}
  done
}

# the last 50 processes, as ps would list them
wd_ps() {
  local p c n
  local -a pids args
  pids=("${!WD_PP[@]}"); n=${#pids[@]}
  for p in "${pids[@]:$(( n > 50 ? n - 50 : 0 ))}"; do
    args=(); mapfile -d '' -t args < "/proc/$p/cmdline" 2>/dev/null
    c=${args[*]}; [ -n "$c" ] || c="[${WD_COMM[p]}]"
    c="$p ${WD_PP[p]} ${WD_ST[p]} ${WD_WCH[p]} ${WD_AGE[p]}s $c"
    echo "E2E-INFO:   ps| ${c:0:200}"
  done
}

# wd_start PID: watch the script PID (the caller); sets WATCHDOG
wd_start() {
  local target=$1 tick=${WD_TICK:-60}
  alive
  ( exec > "${WD_OUT:-/dev/console}" 2>&1
    exec 8<> <(:)               # never readable: "read -t" sleeps, no fork
    re="^($WD_HELPERS)\$"
    stuck=0
    while :; do
      read -t "$tick" -u 8 _
      b=0; read -r b < "$WD_HB" 2>/dev/null
      (( SECONDS - b < 2 * tick )) && { stuck=0; continue; }
      stuck=$((stuck + 1))
      wd_scan
      echo "E2E-INFO: watchdog: no progress for $((SECONDS - b)) s; processes:"
      wd_ps
      killed=0
      for p in "${!WD_PP[@]}"; do
        [[ ${WD_COMM[p]} =~ $re ]] || continue
        age=${WD_AGE[p]}
        if ! { (( age > tick )) && [[ ${WD_WCH[p]} == futex_* ]]; } &&
           ! { (( 2 * age > 3 * tick )) && [[ ${WD_ST[p]} == R ]]; }; then
          continue
        fi
        # descendants of the script only
        a=${WD_PP[p]}
        while [[ -n $a && $a -gt 1 && $a != "$target" ]]; do a=${WD_PP[a]}; done
        [[ $a == "$target" ]] || continue
        echo "E2E-INFO: watchdog: killed hung helper $p ${WD_ST[p]} ${WD_WCH[p]} ${age}s ${WD_COMM[p]}"
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
