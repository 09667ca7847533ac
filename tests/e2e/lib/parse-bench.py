#!/usr/bin/env python3
"""bench-e2e: table from the "BENCH-RES <workload> <a|b|c|d> <fio terse v3>"
lines of a run log (as dom0 mirrored them; a partial run gives a partial table).  IOPS and MB/s are read + write totals
(terse v3: read bw KiB/s = field 7, read IOPS = 8, write bw = 48, IOPS = 49;
MB = 10^6 B).  A second table gives our QEMU's cost per I/O from the
"BENCH-QEMU <workload> <side> tck=N start=F,T,V,N end=F,T,V,N" lines dom0
samples (F minor faults, T CPU ticks, V/N voluntary/involuntary context
switches of the QEMU process serving a and b, sampled to within 1 s).
Workloads ending in "-pt" are the passthrough rows (scsi_debug in dom0
through scsi-generic and through LIO pscsi): sides a and c only."""
import re, sys
res = {}
qemu = {}
for line in open(sys.argv[1], errors="replace"):
    q = re.search(r"BENCH-QEMU (\S+) ([abcd]) tck=(\d+) start=([\d,]+) end=([\d,]+)", line)
    if q:
        s0 = [int(x) for x in q.group(4).split(",")]
        s1 = [int(x) for x in q.group(5).split(",")]
        qemu[(q.group(1), q.group(2))] = (int(q.group(3)), [b - a for a, b in zip(s0, s1)])
        continue
    m = re.search(r"BENCH-RES (\S+) ([abcd]) (3;.*)$", line.replace("\r", ""))
    if not m:
        continue
    f = m.group(3).split(";")
    try:
        iops = float(f[7]) + float(f[48])
        mbs = (float(f[6]) + float(f[47])) * 1024 / 1e6
    except (IndexError, ValueError):
        continue
    # I/Os done: KiB moved / block size (the workload name holds the bs)
    bs = re.search(r"-(\d+)k-", m.group(1))
    nio = (float(f[5]) + float(f[46])) / int(bs.group(1)) if bs else 0
    res[(m.group(1), m.group(2))] = (iops, mbs, nio)
# by the workload's number ("10-..." after "9-...")
names = sorted({k[0] for k in res},
               key=lambda n: (int(n.split("-")[0]) if n.split("-")[0].isdigit() else 0, n))
# (d), with E2E_BENCH_D=PROPS: a second xen-pvscsi host with those properties
copy = any(k[1] == "d" for k in res)
print("| workload | pvscsi IOPS | pvscsi MB/s | qdisk IOPS | qdisk MB/s | scsiback IOPS | scsiback MB/s | pvscsi/qdisk | pvscsi/scsiback |"
      + (" pvscsi-d IOPS | pvscsi-d/pvscsi |" if copy else ""))
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if copy else ""))
ok = bool(names)
for n in names:
    a, b, c, d = (res.get((n, s)) for s in "abcd")
    def v(x, i, fmt):
        return fmt.format(x[i]) if x else "-"
    def r(x, y):
        return f"{x[0] / y[0]:.2f}" if x and y and y[0] else "-"
    pt = n.endswith("-pt")
    if not (a and c) or (not pt and (not b or (copy and not d))):
        ok = False
    print(f"| {n} | {v(a,0,'{:.0f}')} | {v(a,1,'{:.2f}')} | {v(b,0,'{:.0f}')} | {v(b,1,'{:.2f}')} | "
          f"{v(c,0,'{:.0f}')} | {v(c,1,'{:.2f}')} | {r(a,b)} | {r(a,c)} |"
          + (f" {v(d,0,'{:.0f}')} | {r(d,a)} |" if copy else ""))
if qemu:
    print()
    print("Our QEMU process (serves a, b and d; c shows it idle), per I/O of the workload:")
    print()
    print("| workload | side | I/Os | QEMU CPU µs/IO | minor faults/IO | voluntary ctxsw/IO | involuntary/IO |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for n in names:
        for side in "abcd":
            x, r_ = qemu.get((n, side)), res.get((n, side))
            if not x or not r_ or not r_[2]:
                continue
            tck, d = x
            nio = r_[2]
            print(f"| {n} | {side} | {nio:.0f} | {d[1] * 1e6 / tck / nio:.0f} | {d[0] / nio:.2f} | "
                  f"{d[2] / nio:.2f} | {d[3] / nio:.2f} |")
sys.exit(0 if ok else 1)
