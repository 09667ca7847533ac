#!/bin/bash
# make bench: a deterministic microbenchmark of the data path, xen-pvscsi
# against QEMU's xen-disk (backend type qdisk), under the test-only Xen
# emulation (qtest, no hypervisor).  See docs/devel/testing/xen-pvscsi-bench.rst.
#
# For each cell (storage x I/O size x queue depth) and each device it runs
# tests/qtest/xen-pvscsi-bench under callgrind (QEMU's instructions and
# allocation calls per I/O, by difference of two windows), then
# BENCH_REPEAT times under perf stat (syscalls and minor page faults per
# I/O over a window) and plain (I/Os per second).  It prints two tables
# (all of QEMU; the device's own work) and one run's top functions; it
# asserts nothing about speed.
#
#   BENCH_QUICK=1        three cells only
#   BENCH_CELLS="null:64k:1 file:4k:16"   the cells (storage:size:qd)
#   BENCH_CG_N=250,500   the two callgrind windows, in I/Os
#   BENCH_PERF_N=2000    the perf window
#   BENCH_IOPS_N=3000    the timed window at QD 1 (x8 at higher QD)
#   BENCH_REPEAT=3       perf and timed runs per cell (the median is shown)
#   BENCH_PROFILE=null:64k:1:pvscsi   the run whose top functions to show
#   BENCH_OUT=DIR        where the runs' outputs stay (default build/bench)
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -u

srcdir=$(cd "$(dirname "$0")/.." && pwd)
qemu_build=${QEMU_BUILD:-$srcdir/build/qemu}
arch=${QEMU_ARCH:-i386}
qemu=$qemu_build/qemu-system-$arch
bench=$qemu_build/tests/qtest/xen-pvscsi-bench
out=${BENCH_OUT:-$srcdir/build/bench}
cg_n=${BENCH_CG_N:-250,500}
perf_n=${BENCH_PERF_N:-2000}
iops_n=${BENCH_IOPS_N:-3000}
repeat=${BENCH_REPEAT:-3}
profile=${BENCH_PROFILE:-null:64k:1:pvscsi}

die() { echo "bench: $*" >&2; exit 1; }

[ -x "$qemu" ] || die "$qemu: not built (make)"
[ -x "$bench" ] || die "$bench: not built"
for t in valgrind callgrind_control perf python3; do
    command -v $t >/dev/null || die "$t is needed (apt-get install valgrind linux-perf)"
done
perf stat -e raw_syscalls:sys_enter -e minor-faults -x, -o /dev/null true 2>/dev/null ||
    die "perf stat cannot count raw_syscalls:sys_enter here (run as root?)"

if [ -n "${BENCH_CELLS:-}" ]; then
    read -ra cells <<< "$BENCH_CELLS"
elif [ "${BENCH_QUICK:-0}" != 0 ]; then
    cells=(null:4k:1 null:64k:1 file:64k:16)
else
    cells=()
    for st in null file; do
        for sz in 4k 64k 512k; do
            for qd in 1 16; do
                cells+=("$st:$sz:$qd")
            done
        done
    done
fi

rm -rf "$out"
mkdir -p "$out" || die "cannot create $out"
# Snapshots of the two programs: a build running meanwhile must not change
# them under the runs.  QEMU finds its firmware through qemu-bundle next to
# the executable.
if ! { cp "$qemu" "$out/qemu-system-$arch" &&
       cp "$bench" "$out/xen-pvscsi-bench" &&
       ln -s "$qemu_build/qemu-bundle" "$out/qemu-bundle"; }; then
    die "cannot copy the programs to $out"
fi
qemu=$out/qemu-system-$arch
bench=$out/xen-pvscsi-bench

# QTEST_QEMU_BINARY.  libqtest passes "-qtest-log /dev/null", which has
# QEMU format every qtest command into it: "none" turns that off.  Then
# QEMU runs as BENCH_WRAP says.  Under callgrind, glibc's memset and
# memcpy use their vector loops rather than "rep stosb/movsb" (which
# valgrind counts as one instruction per byte).
cat > "$out/qemu.sh" <<'EOF'
#!/bin/sh
prev=
for a; do
    shift
    [ "$prev" = -qtest-log ] && a=none
    set -- "$@" "$a"
    prev=$a
done
case $BENCH_WRAP in
callgrind)
    GLIBC_TUNABLES=glibc.cpu.x86_rep_stosb_threshold=0x7fffffff:glibc.cpu.x86_rep_movsb_threshold=0x7fffffff
    export GLIBC_TUNABLES
    exec valgrind --tool=callgrind --instr-atstart=no --compress-strings=no \
        --compress-pos=no --callgrind-out-file="$BENCH_RUN/cg.out" \
        --log-file="$BENCH_RUN/valgrind.log" "$BENCH_QEMU" "$@" ;;
perf)
    exec perf stat -x, -o "$BENCH_RUN/perf.out" \
        --control "fifo:$BENCH_RUN/ctl,$BENCH_RUN/ack" -D -1 \
        -e raw_syscalls:sys_enter -e minor-faults -- "$BENCH_QEMU" "$@" ;;
*)
    exec "$BENCH_QEMU" "$@" ;;
esac
EOF

# BENCH_MARK_CMD: at each window boundary (QEMU idle).  Callgrind:
# instrumentation on before the first window, a dump after each.  perf:
# counting on before the first window, off after the last.
cat > "$out/mark.sh" <<'EOF'
#!/bin/sh
case $BENCH_WRAP in
callgrind)
    if [ "$BENCH_MARK" = 0 ]; then
        r=$(callgrind_control -i on "$BENCH_PID" 2>&1)
    else
        r=$(callgrind_control -d "$BENCH_PID" 2>&1)
    fi
    case $r in *OK*) ;; *) echo "$r" >&2; exit 1 ;; esac ;;
perf)
    if [ "$BENCH_MARK" = 0 ]; then
        echo enable > "$BENCH_RUN/ctl"
    elif [ "$BENCH_MARK" = $((BENCH_MARKS - 1)) ]; then
        echo disable > "$BENCH_RUN/ctl"
    else
        exit 0
    fi
    read -r ack < "$BENCH_RUN/ack"
    [ "$ack" = ack ] ;;
esac
EOF
chmod +x "$out/qemu.sh" "$out/mark.sh"

# run NAME WRAP ARGS...: one bench run, its outputs in $out/NAME.  WRAP:
# callgrind, perf or plain.
run() {
    local name=$1 dir=$out/$1 wrap=$2 qpid
    shift 2
    mkdir -p "$dir"
    [ "$wrap" = perf ] && mkfifo "$dir/ctl" "$dir/ack"
    if ! BENCH_WRAP=$wrap BENCH_RUN=$dir BENCH_QEMU=$qemu \
         QTEST_QEMU_BINARY=$out/qemu.sh BENCH_MARK_CMD=$out/mark.sh \
         "$bench" "$@" > "$dir/out" 2> "$dir/err"; then
        # a QEMU left behind (its pid is on the first line)
        qpid=$(sed -n 's/^bench: pid=[0-9]* qemu_pid=\([0-9]*\)$/\1/p' "$dir/out")
        [ -n "$qpid" ] && kill -9 "$qpid" 2>/dev/null
        echo "bench: $name failed: $*" >&2
        tail -n 20 "$dir/err" >&2
        exit 1
    fi
}

load_before=$(uptime)
echo "bench: load before: $load_before"
load1=$(cut -d' ' -f1 /proc/loadavg)
if awk "BEGIN { exit !($load1 > 0.5) }"; then
    echo "bench: WARNING: the 1-minute load is $load1 (> 0.5): something else is" \
         "running; instructions, allocations, syscalls and faults barely move" \
         "with it, but the I/Os per second mean little"
fi
t0=$(date +%s)

# What a qtest command (readl) costs QEMU, to tell the frontend's share
echo "bench: calibration (qtest commands alone)"
for i in $(seq "$repeat"); do
    run "calib-perf$i" perf device=pvscsi calib=1 n="$perf_n"
done

for cell in "${cells[@]}"; do
    IFS=: read -r st sz qd <<< "$cell"
    name=$st-$sz-qd$qd
    for dev in pvscsi qdisk; do
        args=(device="$dev" storage="$st" size="$sz" qd="$qd")
        ts=$(date +%s)
        run "$name-$dev-cg" callgrind "${args[@]}" wait=idle n="$cg_n"
        if [ "$qd" = 1 ]; then
            n=$iops_n
        else
            n=$((iops_n * 8))
        fi
        for i in $(seq "$repeat"); do
            run "$name-$dev-perf$i" perf "${args[@]}" wait=idle n="$perf_n"
            run "$name-$dev-iops$i" plain "${args[@]}" wait=poll n="$n"
        done
        echo "bench: $name $dev done ($(($(date +%s) - ts)) s)"
    done
done

elapsed=$(($(date +%s) - t0))
load_after=$(uptime)

# The tables, also kept in $out/report.txt
python3 - "$out" "$cg_n" "$perf_n" "$iops_n" "$repeat" "$profile" \
        "${cells[@]}" <<'EOF' | tee "$out/report.txt"
import os
import re
import statistics
import sys

out, cg_n, perf_n, iops_n, repeat, profile = sys.argv[1:7]
repeat = int(repeat)
cells = sys.argv[7:]
ALLOC = {'malloc', 'calloc', 'realloc', 'posix_memalign', 'memalign',
         'aligned_alloc', 'valloc', 'pvalloc'}
# Where the work is done.  qtest: the qtest socket's read handler, which
# parses a command, executes it and writes the answer.  The device: the
# main AioContext's dispatch (event channel handlers, bottom halves,
# coroutines, completions) and the threads QEMU starts (the thread pool).
# Left out of both: the glib main loop itself (poll, prepare, check).
ROOTS = {'qtest': {'tcp_chr_read'},
         'dev': {'aio_ctx_dispatch', 'qemu_thread_start'},
         'gnt': {'hv_gnttab_copy'}}


def windows(run):
    """The bench's window lines: [{key: value}]"""
    res = []
    with open(os.path.join(out, run, 'out')) as f:
        for line in f:
            if line.startswith('bench: window='):
                res.append(dict(kv.split('=', 1) for kv in line.split()[1:]))
    return res


def callgrind(path):
    """Ir and allocation calls in all, and under each set of ROOTS

    Ir under a root is its inclusive cost.  Callgrind counts calls per
    caller and callee only, so the allocations made under a root are found
    by propagation: the share of a function's calls made under the root is
    that of the calls it gets (exact for functions that behave the same
    whoever calls them, as allocation wrappers do).
    """
    res = {'ir': 0}
    incl = {k: 0 for k in ROOTS}
    fn_incl = {}
    fn = cfn = None
    call = False
    summary = None
    edges = {}
    with open(path) as f:
        for line in f:
            c = line[0]
            if c.isdigit() or c in '+-*':
                parts = line.split()
                cost = int(parts[1]) if len(parts) > 1 else 0
                if not call:
                    res['ir'] += cost
                if not (call and cfn == fn):
                    fn_incl[fn] = fn_incl.get(fn, 0) + cost
                for k, roots in ROOTS.items():
                    if fn in roots and not (call and cfn in roots):
                        incl[k] += cost
                call = False
            elif line.startswith('fn='):
                fn = line[3:].strip().split("'")[0]
            elif line.startswith('cfn='):
                cfn = line[4:].strip().split("'")[0]
            elif line.startswith('calls='):
                call = True
                key = (fn, cfn)
                edges[key] = edges.get(key, 0) + int(line[6:].split()[0])
            elif line.startswith('summary:'):
                summary = int(line.split()[1])
    assert summary == res['ir'], (path, summary, res['ir'])
    callers = {}
    for (a, b), n in edges.items():
        if a != b:
            callers.setdefault(b, []).append((a, n))
    # realloc(NULL, n) calls malloc: count the outer call only
    allocs = [(a, n) for (a, b), n in edges.items()
              if b in ALLOC and a not in ALLOC]
    res['allocs'] = sum(n for _, n in allocs)
    for k, roots in ROOTS.items():
        share = dict.fromkeys(roots, 1.0)
        for _ in range(100):
            changed = False
            for f, cs in callers.items():
                total = sum(n for _, n in cs)
                if f in roots or not total:
                    continue
                v = sum(n * share.get(a, 0.0) for a, n in cs) / total
                if abs(v - share.get(f, 0.0)) > 1e-9:
                    share[f] = v
                    changed = True
            if not changed:
                break
        res[k + '_ir'] = incl[k]
        res[k + '_allocs'] = sum(n * share.get(a, 0.0) for a, n in allocs)
        if k == 'dev':
            # each function's inclusive Ir made under the device's roots
            res['_dev_fn'] = {f: v * share.get(f, 0.0)
                              for f, v in fn_incl.items()}
    return res


def cg_run(run):
    """per I/O, by difference of the two windows"""
    w = windows(run)
    d = int(w[1]['ios']) - int(w[0]['ios'])
    a = callgrind(os.path.join(out, run, 'cg.out.1'))
    b = callgrind(os.path.join(out, run, 'cg.out.2'))
    res = {k: (b[k] - a[k]) / d for k in a if not k.startswith('_')}
    res['_dev_fn'] = {f: (v - a['_dev_fn'].get(f, 0)) / d
                      for f, v in b['_dev_fn'].items()}
    res['cmds'] = (int(w[1]['fe_cmds']) - int(w[0]['fe_cmds'])) / d
    return res


def perf_run(run, per='ios'):
    """per I/O (or command): syscalls, minor faults, qtest commands"""
    w = windows(run)[-1]
    n = int(w[per])
    counts = {}
    with open(os.path.join(out, run, 'perf.out')) as f:
        for line in f:
            m = re.match(r'(\d+),[^,]*,(raw_syscalls:sys_enter|minor-faults),',
                         line)
            if m:
                counts[m.group(2)] = int(m.group(1))
    return (counts['raw_syscalls:sys_enter'] / n, counts['minor-faults'] / n,
            int(w['fe_cmds']) / n)


def iops_run(run):
    return float(windows(run)[-1]['iops'])


def median_runs(fn, run):
    """the median of each figure over the repeated runs"""
    res = [fn('%s%d' % (run, i)) for i in range(1, repeat + 1)]
    if not isinstance(res[0], tuple):
        return statistics.median(res)
    return tuple(statistics.median(x) for x in zip(*res))


cal_sys = median_runs(lambda r: perf_run(r, 'fe_cmds'), 'calib-perf')[0]
rows = []
top = None
qtest_ir = qtest_allocs = qtest_cmds = 0
for cell in cells:
    st, sz, qd = cell.split(':')
    name = '%s-%s-qd%s' % (st, sz, qd)
    r = {'cell': '%-4s %4s %2s' % (st, sz, qd)}
    for dev in ('pvscsi', 'qdisk'):
        cg = cg_run('%s-%s-cg' % (name, dev))
        sysc, flt, pcmds = median_runs(perf_run, '%s-%s-perf' % (name, dev))
        qtest_ir += cg['qtest_ir']
        qtest_allocs += cg['qtest_allocs']
        qtest_cmds += cg['cmds']
        if '%s:%s' % (cell, dev) == profile:
            top = cg['_dev_fn']
        r[dev] = {
            'ir': cg['ir'] / 1000, 'allocs': cg['allocs'], 'sys': sysc,
            'flt': flt, 'iops': median_runs(iops_run, '%s-%s-iops' % (name, dev)),
            'cmds': cg['cmds'], 'qtest_ir': cg['qtest_ir'] / 1000,
            'dev_ir': cg['dev_ir'] / 1000, 'gnt_ir': cg['gnt_ir'] / 1000,
            'dev_allocs': cg['dev_allocs'],
            'net_sys': sysc - pcmds * cal_sys,
        }
    rows.append(r)


def ratio(a, b):
    # no ratio to a count that is next to nothing
    if abs(b) < 0.05:
        return '     -'
    return '%6.2f' % (a / b)


def table(cols):
    head = '%-12s' % 'cell'
    sub = '%-12s' % 'st  size qd'
    for title, _, _ in cols:
        head += ' | %-22s' % title
        sub += ' | %7s %7s %6s' % ('pvscsi', 'qdisk', 'ratio')
    print(head)
    print(sub)
    print('-' * len(sub))
    for r in rows:
        line = '%-12s' % r['cell']
        for _, key, fmt in cols:
            p, q = r['pvscsi'][key], r['qdisk'][key]
            line += ' | %7s %7s %s' % (fmt % p, fmt % q, ratio(p, q))
        print(line)


print()
print('make bench: xen-pvscsi (scsi-hd) vs xen-disk (qdisk) under qtest and')
print('xen-qtest-hv (no hypervisor); random reads and writes 50/50, per I/O (a')
print('guest read or write: qdisk splits more than 44 KiB into ring requests')
print('of 11 segments, pvscsi uses indirect segments above 26 pages).')
print('  kIr     QEMU instructions, thousands (callgrind, all threads;')
print('          (Ir(N2)-Ir(N1))/(N2-N1), N = %s I/Os)' % cg_n)
print('  allocs  malloc/calloc/realloc/posix_memalign/memalign calls (callgrind)')
print('  sys     syscalls (perf stat raw_syscalls:sys_enter, %s I/Os;'
      % perf_n)
print('          the median of %d runs)' % repeat)
print('  minflt  minor page faults (perf stat minor-faults, same runs)')
print('  IOPS    I/Os per second, no valgrind/perf, QD kept full, %s I/Os' %
      iops_n)
print('          at QD 1 (x8 above), median of %d runs; noisy, and bound by' %
      repeat)
print('          the qtest round trips')
print('  null = null-co 256 MiB read-zeroes=on; file = raw file of 64 MiB on')
print('  /dev/shm; ratio = pvscsi / qdisk')
print()
table([('kIr/IO', 'ir', '%7.1f'), ('allocs/IO', 'allocs', '%7.1f'),
       ('sys/IO', 'sys', '%7.1f'), ('minflt/IO', 'flt', '%7.2f'),
       ('IOPS', 'iops', '%7.0f')])
print()
print('Most of the above at QD 1 is the qtest frontend: it drives the rings')
print('with qtest commands that QEMU parses and answers on a socket, %.1f kIr'
      % (qtest_ir / qtest_cmds / 1000))
print('and %.1f allocs a command in qtest\'s handler, plus the main loop\'s'
      % (qtest_allocs / qtest_cmds))
print('wake-ups.  The device\'s own work, without the frontend (as under real')
print('Xen, where the frontend costs QEMU nothing):')
print('  dev kIr     Ir inclusive in the main AioContext\'s dispatch (event')
print('              channel handlers, bottom halves, coroutines, completions)')
print('              and QEMU\'s threads (thread pool); not the glib main loop')
print('  gnt kIr     of it, the emulated grant copy (hv_gnttab_copy: Xen\'s')
print('              work under real Xen, an ioctl for QEMU)')
print('  dev allocs  allocation calls made there (by propagation along the')
print('              call graph)')
print('  net sys     syscalls less %.2f per qtest command (calib=1: readl in'
      % cal_sys)
print('              groups of 4 and 3 as at QD 1, median of %d runs): an'
      % repeat)
print('              estimate, to a syscall or two at QD 1')
print()
table([('qtest cmds/IO', 'cmds', '%7.2f'), ('dev kIr/IO', 'dev_ir', '%7.1f'),
       ('gnt kIr/IO', 'gnt_ir', '%7.1f'),
       ('dev allocs/IO', 'dev_allocs', '%7.1f'),
       ('net sys/IO', 'net_sys', '%7.1f')])
if top:
    st, sz, qd, dev = profile.split(':')
    print()
    print('Where the work of %s goes (%s %s, QD %s): the functions with the'
          % (dev, st, sz, qd))
    print('most Ir per I/O made under the device\'s roots, inclusive (a')
    print('function\'s callees included; by propagation for functions that')
    print('the frontend also calls), from %s/%s-%s-qd%s-%s-cg'
          % (out, st, sz, qd, dev))
    print()
    print('  kIr/IO  function')
    for f, v in sorted(top.items(), key=lambda kv: -kv[1])[:25]:
        print('%8.2f  %s' % (v / 1000, f))
EOF
rc=${PIPESTATUS[0]}
echo
echo "bench: load before: $load_before"
echo "bench: load after:  $load_after"
if awk "BEGIN { exit !($load1 > 0.5) }"; then
    echo "bench: WARNING: the 1-minute load was $load1 (> 0.5) before the" \
         "run: the IOPS column is not to be trusted"
fi
echo "bench: $elapsed s; outputs in $out, the tables in $out/report.txt" \
     "(callgrind_annotate --inclusive=yes $out/<cell>-<device>-cg/cg.out.2)"
exit "$rc"
