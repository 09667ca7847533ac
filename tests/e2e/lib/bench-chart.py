#!/usr/bin/env python3
# The chart of a bench-e2e table: IOPS per workload for xen-pvscsi, QEMU's
# xen-disk (qdisk) and the kernel's xen-scsiback, as grouped bars, drawn by
# gnuplot (Debian's gnuplot-nox) into an SVG file (or PNG: OUT.png).
#
# usage: bench-chart.py TABLE.md OUT.svg|OUT.png [TITLE]
#
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import subprocess
import sys
import tempfile


def rows(md):
    """The first table's rows: (workload, pvscsi, qdisk, scsiback) IOPS."""
    out = []
    with open(md) as f:
        for line in f:
            cells = [c.strip() for c in line.strip().strip('|').split('|')]
            if len(cells) < 7 or not cells[1].replace('.', '').isdigit():
                if out:
                    break
                continue
            out.append((cells[0], cells[1], cells[3], cells[5]))
    return out


def main():
    if len(sys.argv) < 3:
        sys.exit('usage: bench-chart.py TABLE.md OUT.svg [TITLE]')
    md, svg = sys.argv[1], sys.argv[2]
    title = sys.argv[3] if len(sys.argv) > 3 else os.path.basename(md)
    data = rows(md)
    if not data:
        sys.exit('bench-chart: no table rows in ' + md)
    with tempfile.NamedTemporaryFile('w', suffix='.dat', delete=False) as d:
        for w, a, b, c in data:
            # "1-randrw-8k-j1" -> "randrw 8k j1"
            label = w.split('-', 1)[-1].replace('-', ' ')
            d.write('"%s" %s %s %s\n' % (label, a, b, c))
        dat = d.name
    if svg.endswith('.png'):
        term = 'pngcairo size 900,420 font "sans,10" background "white"'
    else:
        term = 'svg size 900,420 dynamic font "sans,11" background "white"'
    script = '''
set terminal %s
set output "%s"
set title "%s"
set style data histograms
set datafile missing "-"
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set ylabel "IOPS"
set yrange [0:*]
set grid ytics
set key top right
set xtics rotate by -20 nomirror
plot "%s" using 2:xtic(1) title "xen-pvscsi (our QEMU)" lc rgb "#1f77b4", \\
     "" using 3 title "qdisk (QEMU xen-disk)" lc rgb "#ff7f0e", \\
     "" using 4 title "xen-scsiback (kernel)" lc rgb "#2ca02c"
''' % (term, svg, title.replace('"', "'"), dat)
    try:
        subprocess.run(['gnuplot'], input=script, text=True, check=True)
    finally:
        os.unlink(dat)
    if svg.endswith('.svg'):
        # a chart that may go into docs/: no trailing blanks, and the
        # licence identifier QEMU's checkpatch.pl asks of every new file
        with open(svg) as f:
            lines = [line.rstrip() for line in f]
        while lines and not lines[-1]:
            lines.pop()
        if lines and lines[0].startswith('<?xml'):
            lines[1:1] = ['<!--', '  SPDX-License-Identifier: GPL-2.0-or-later',
                          '-->']
        with open(svg, 'w') as f:
            f.write('\n'.join(lines) + '\n')
    print(svg)


if __name__ == '__main__':
    main()
