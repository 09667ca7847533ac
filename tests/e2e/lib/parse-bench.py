#!/usr/bin/env python3
"""bench-e2e: table from the "BENCH-RES <workload> <a|b|c> <fio terse v3>"
lines of a run log (as dom0 mirrored them; a partial run gives a partial table).  IOPS and MB/s are read + write totals
(terse v3: read bw KiB/s = field 7, read IOPS = 8, write bw = 48, IOPS = 49;
MB = 10^6 B)."""
import re, sys
res = {}
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r"BENCH-RES (\S+) ([abc]) (3;.*)$", line.replace("\r", ""))
    if not m:
        continue
    f = m.group(3).split(";")
    try:
        iops = float(f[7]) + float(f[48])
        mbs = (float(f[6]) + float(f[47])) * 1024 / 1e6
    except (IndexError, ValueError):
        continue
    res[(m.group(1), m.group(2))] = (iops, mbs)
names = sorted({k[0] for k in res})
print("| workload | pvscsi IOPS | pvscsi MB/s | qdisk IOPS | qdisk MB/s | scsiback IOPS | scsiback MB/s | pvscsi/qdisk | pvscsi/scsiback |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
ok = bool(names)
for n in names:
    a, b, c = (res.get((n, s)) for s in "abc")
    def v(x, i, fmt):
        return fmt.format(x[i]) if x else "-"
    def r(x, y):
        return f"{x[0] / y[0]:.2f}" if x and y and y[0] else "-"
    if not (a and b and c):
        ok = False
    print(f"| {n} | {v(a,0,'{:.0f}')} | {v(a,1,'{:.2f}')} | {v(b,0,'{:.0f}')} | {v(b,1,'{:.2f}')} | "
          f"{v(c,0,'{:.0f}')} | {v(c,1,'{:.2f}')} | {r(a,b)} | {r(a,c)} |")
sys.exit(0 if ok else 1)
