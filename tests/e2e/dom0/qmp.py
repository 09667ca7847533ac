#!/usr/bin/python3
# QMP from dom0's scripts, through QEMU's own client library (qemu.qmp,
# from the pinned QEMU source's python/qemu, which run.sh puts beside this
# script as qemu/; dom0's python3 has the standard library it needs).
#   qmp.py SOCKET CMD[:JSON-ARGS] ...   run the commands in order, print
#                                       "QMP <cmd> -> <reply>" per command,
#                                       then the events seen; exit 1 if
#                                       one of them failed
#   qmp.py SOCKET --again CMD...        the same, repeating a run that died
#                                       (see check.sh's qmp()): what the
#                                       first run may have done already (a
#                                       node or device that exists, one
#                                       deleted already) counts as done
#   qmp.py SOCKET --pvscsi              query-xen-pvscsi, one line per host
#                                       and per LUN:
#       HBA id=h0 devid=0 state=connected frontend-state=connected luns=4
#       LUN hba=h0 vdev=0:0:0:0 id=l0 state=connected type=scsi-hd vendor=QEMU
# libxl keeps no permanent connection to its QMP socket (it connects per
# operation), so the socket of an HVM domain's device model can be used too;
# connecting is retried while it is busy.
#
# SPDX-License-Identifier: GPL-2.0-or-later
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qemu.qmp import QMPError  # noqa: E402
from qemu.qmp.legacy import QEMUMonitorProtocol  # noqa: E402


def connect(path, tries=40):
    err = None
    for _ in range(tries):
        q = QEMUMonitorProtocol(path)
        try:
            q.connect()
            q.settimeout(60)
            return q
        except (OSError, QMPError) as e:
            err = e
            q.close()
            time.sleep(0.5)
    raise SystemExit(f"QMP connect {path}: {err}")


def close(q):
    # after "quit" QEMU is gone before the library hears it say goodbye
    try:
        q.close()
    except (EOFError, OSError, QMPError):
        pass


# Errors that a repeated command gets when its first run took effect
DONE_BEFORE = {
    "blockdev-add": ("Duplicate nodes with node-name=",),
    "device_add": ("Duplicate device ID", "Duplicate ID"),
    "device_del": ("not found",),
}


def main():
    path, cmds = sys.argv[1], sys.argv[2:]
    again = cmds[:1] == ["--again"]
    if again:
        cmds = cmds[1:]
    q = connect(path)
    try:
        return run(q, cmds, again)
    finally:
        close(q)


def run(q, cmds, again=False):
    if cmds == ["--pvscsi"]:
        r = q.cmd_raw("query-xen-pvscsi")
        if "error" in r:
            print("QMP error", json.dumps(r))
            return 1
        for h in r["return"]:
            print(f"HBA id={h.get('id')} devid={h['devid']} state={h['state']} "
                  f"frontend-state={h.get('frontend-state')} luns={len(h['luns'])} "
                  f"in-flight={h.get('in-flight')} max-sg-grant={h.get('max-sg-grant')}")
            for l in h["luns"]:
                v = (l.get("vendor") or "").replace(" ", "_")
                print(f"LUN hba={h.get('id')} vdev={l['vdev']} id={l.get('id')} "
                      f"state={l['state']} type={l.get('type')} vendor={v} "
                      f"pdt={l.get('peripheral-type')}")
        return 0
    rc = 0
    for c in cmds:
        name, _, a = c.partition(":")
        try:
            r = q.cmd_raw(name, json.loads(a) if a else None)
        except QMPError as e:
            # "quit": QEMU may close the socket before its answer is read
            r = {"error": {"desc": f"{type(e).__name__}: {e}"}}
        if "error" in r and again and any(
                m in r["error"].get("desc", "")
                for m in DONE_BEFORE.get(name, ())):
            print(f"QMP {name}: done by the run that died")
        elif "error" in r:
            rc = 1
        print(f"QMP {name} -> {json.dumps(r)}")
    for e in q.get_events():
        print(f"QMP event {json.dumps(e)}")
    return rc


sys.exit(main())
