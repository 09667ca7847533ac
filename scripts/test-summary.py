#!/usr/bin/env python3
"""Print every test case of meson test logs and a closing summary line.

Reads meson's testlog.json files (one JSON object per test executable).
TAP executables contribute one line per 'ok'/'not ok' case; an executable
that failed without reporting a failing case (a crash, a timeout) counts as
one failure of its own.  For each executable that failed, the last lines
of its stderr follow the list (CI keeps only the tail of the output).
Exit status: 0 when nothing failed.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import json
import re
import sys

TAP = re.compile(r'^(not ok|ok)\b\s*(\d+)?\s*-?\s*(.*?)(\s+#\s*(SKIP|TODO)\b.*)?$',
                 re.IGNORECASE)
TAIL_LINES = 15


def main(paths):
    passed = failed = skipped = 0
    seen_log = False
    tails = []
    for path in paths:
        try:
            with open(path, encoding='utf-8') as f:
                lines = f.readlines()
        except FileNotFoundError:
            # A suite that did not get as far as running (its build failed)
            # must not pass silently.
            print(f'FAIL  no test log {path}: the suite did not run')
            failed += 1
            continue
        seen_log = True
        for line in lines:
            entry = json.loads(line)
            name = entry.get('name', '?')
            result = entry.get('result', 'ERROR')
            out = entry.get('stdout') or entry.get('stdo') or ''
            cases_failed = 0
            cases = 0
            bail = ''
            for tline in out.splitlines():
                if tline.startswith('Bail out!'):
                    bail = f' ({tline.strip()[:200]})'
                    continue
                m = TAP.match(tline.strip())
                if not m:
                    continue
                cases += 1
                ok = m.group(1).lower() == 'ok'
                label = m.group(3) or f'case {m.group(2)}'
                if m.group(5) and m.group(5).upper() == 'SKIP':
                    skipped += 1
                    print(f'SKIP  {name}: {label}')
                elif ok:
                    passed += 1
                    print(f'ok    {name}: {label}')
                else:
                    failed += 1
                    cases_failed += 1
                    print(f'FAIL  {name}: {label}')
            if result not in ('OK', 'SKIP', 'EXPECTEDFAIL') and not cases_failed:
                failed += 1
                print(f'FAIL  {name}: {result} after {cases} cases{bail}')
            if result not in ('OK', 'SKIP', 'EXPECTEDFAIL'):
                err = [l for l in (entry.get('stderr') or '').splitlines()
                       if l.strip()]
                tails.append((name, result, err[-TAIL_LINES:]))
            elif result == 'SKIP' and not cases:
                skipped += 1
                print(f'SKIP  {name}')
    if not seen_log:
        print('no test log found', file=sys.stderr)
        failed += 1
    for name, result, err in tails:
        print(f'---- {name} ({result}): last {len(err)} lines of its stderr')
        for line in err:
            print(f'  {line[:300]}')
    summary = f'{passed} passed, {failed} failed'
    if skipped:
        summary += f', {skipped} skipped'
    print(summary)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
