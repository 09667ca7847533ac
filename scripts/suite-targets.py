#!/usr/bin/env python3
"""Print the ninja targets (test executables) of one meson test suite.

Usage: meson introspect --tests | suite-targets.py SUITE BUILDDIR

QEMU's "meson test" would first build all of QEMU's own tests; building only
ours and then running "meson test --no-rebuild" saves most of that.

SPDX-License-Identifier: GPL-2.0-or-later
"""

import json
import os
import sys


def main():
    suite, builddir = sys.argv[1], os.path.realpath(sys.argv[2])
    targets = set()
    for test in json.load(sys.stdin):
        suites = [s.split(':', 1)[-1] for s in test.get('suite', [])]
        if suite not in suites:
            continue
        # the executable, or for a script run by an interpreter, the
        # executables of the build it is given
        for arg in test['cmd']:
            if not os.path.isabs(arg):
                continue
            path = os.path.realpath(arg)
            if path.startswith(builddir + os.sep):
                targets.add(os.path.relpath(path, builddir))
    print(' '.join(sorted(targets)))


if __name__ == '__main__':
    main()
