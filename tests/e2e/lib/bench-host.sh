# bench-e2e, host side (sourced by run.sh with $D = payload dir, $C, $E2E).
# fio 3.33 from Debian: "apt-get install --download-only" into the cache
# (the host's apt sources; nothing is installed on the host), unpacked with
# dpkg -x; its libraries come from there first, then from the host.
# SPDX-License-Identifier: GPL-2.0-or-later
FR=$C/fioroot
if [ ! -x "$FR/usr/bin/fio" ]; then
  say "fetching fio for the guest"
  rm -rf "$C/fio-debs" "$FR"; mkdir -p "$C/fio-debs/partial" "$FR"
  apt-get install -y -q --download-only --no-install-recommends \
    -o Dir::Cache::archives="$C/fio-debs" fio > "$C/logs/fio-debs.log" 2>&1 ||
    { cat "$C/logs/fio-debs.log"; exit 1; }
  for d in "$C"/fio-debs/*.deb; do dpkg-deb -x "$d" "$FR"; done
fi
LP=$FR/usr/lib/x86_64-linux-gnu:$FR/usr/lib/x86_64-linux-gnu/ceph:$FR/lib/x86_64-linux-gnu
if LD_LIBRARY_PATH=$LP ldd "$FR/usr/bin/fio" | grep -q 'not found'; then say "fio: missing libraries"; exit 1; fi
X="$FR/usr/bin/fio:usr/bin/fio"
while read -r lib; do
  X="$X $lib:lib/x86_64-linux-gnu/$(basename "$lib")"
done < <(LD_LIBRARY_PATH=$LP ldd "$FR/usr/bin/fio" | awk '$2=="=>" && $3 ~ /^\// {print $3}')
stage_qemu "$D" || exit 1
# E2E_BENCH_STRACE=1: dom0 also gets the host's strace (same Debian release)
# to count our QEMU's system calls per I/O (a diagnosis, slows QEMU down)
if [ -n "${E2E_BENCH_STRACE:-}" ]; then
  command -v strace > /dev/null || { say "E2E_BENCH_STRACE needs strace on the host"; exit 1; }
  mkdir -p "$D/strace/lib"; cp "$(command -v strace)" "$D/strace/"
  ldd "$(command -v strace)" | awk '$2=="=>" && $3 ~ /^\// {print $3}' | xargs -r cp -t "$D/strace/lib/"
fi
EXTRA="$X" "$E2E/lib/mk-initrd.sh" "$D/guest-initrd.cpio.gz" "$E2E/guest/init-bench.sh" \
  xen-scsifront sd_mod xen-blkfront > "$C/logs/bench-initrd.log" 2>&1 || { cat "$C/logs/bench-initrd.log"; exit 1; }
cp "$C/images/vmlinuz" "$D/vmlinuz"
cp "$E2E/dom0/bench.sh" "$D/test.sh"; cp "$E2E/dom0/watchdog.sh" "$D/"
echo "${E2E_BENCH_ARGS:-bench.rt=15 bench.size=128M}${E2E_BENCH_D:+ bench.d=1}" > "$D/bench.args"
echo "${E2E_BENCH_QEMU_ENV:-}" > "$D/bench.qemu.env"
echo "${E2E_BENCH_IOTHREADS:-0}" > "$D/bench.iothreads"
echo "${E2E_BENCH_AIO:-}" > "$D/bench.aio"
echo "${E2E_BENCH_POLL_MAX_NS:-}" > "$D/bench.pollmax"
echo "${E2E_BENCH_D:-}" > "$D/bench.d"
mk_payload "$D" "$C/images/payload-bench.ext4" || exit 1
LOG=$C/logs/bench-$STAMP.log
# The benchmark's figures mean something only on an otherwise idle host
# (2 cores: a parallel build or another VM halves what the nested machine
# gets); say what the load was before and after.
# A load left by what just ended (a build, the previous run) decays within
# a minute or two: wait for it, up to two minutes, then take the reading.
for _ in $(seq 24); do
  awk '{ exit !($1 > 0.5) }' /proc/loadavg || break
  sleep 5
done
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
say "host load average before: $load_before"
say "booting Xen + dom0 for the benchmark ($(cat "$D/bench.args")); log $LOG"
run_xen "$C/images/payload-bench.ext4" "$LOG"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
python3 "$E2E/lib/parse-bench.py" "$LOG" | tee "$C/logs/bench-$STAMP.md"
rc=${PIPESTATUS[0]}
{
  echo
  echo "Host load average (1, 5, 15 min) before: $load_before; after: $load_after"
  if awk -v l="${load_before%% *}" 'BEGIN { exit !(l > 0.5) }'; then
    echo "WARNING: the host was not idle before the run (1-minute load ${load_before%% *} > 0.5): these figures are not comparable"
  fi
} | tee -a "$C/logs/bench-$STAMP.md"
# the chart of the table (IOPS per workload and side), beside it
if python3 "$E2E/lib/bench-chart.py" "$C/logs/bench-$STAMP.md" "$C/logs/bench-$STAMP.svg" \
     "make bench-e2e $STAMP: PV guest, load before $load_before" > /dev/null; then
  say "bench: chart in $C/logs/bench-$STAMP.svg"
else
  say "bench: no chart (gnuplot missing? scripts/install-e2e-deps.sh installs gnuplot-nox)"
fi
say "bench: total $(( $(date +%s) - T0 ))s; table also in $C/logs/bench-$STAMP.md"
exit $rc
