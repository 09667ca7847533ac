#!/usr/bin/python3
# Minimal QMP client for dom0 (python3 is in the dom0 rootfs, socat is not).
#   qmp.py SOCKET CMD[:JSON-ARGS] ...   run the commands in order, print
#                                       "QMP <cmd> -> <reply>" per command;
#                                       exit 1 if one of them failed
#   qmp.py SOCKET --pvscsi              query-xen-pvscsi, one line per host
#                                       and per LUN:
#       HBA id=h0 devid=0 state=connected frontend-state=connected luns=4
#       LUN hba=h0 vdev=0:0:0:0 id=l0 state=connected type=scsi-hd vendor=QEMU
# libxl keeps no permanent connection to its QMP socket (it connects per
# operation), so the socket of an HVM domain's device model can be used too;
# connecting is retried while it is busy.
#
# SPDX-License-Identifier: GPL-2.0-or-later
import json, socket, sys, time


def connect(path, tries=40):
    err = None
    for _ in range(tries):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(30)
            s.connect(path)
            return s
        except OSError as e:
            err = e
            s.close()
            time.sleep(0.5)
    raise SystemExit(f"QMP connect {path}: {err}")


class QMP:
    def __init__(self, path):
        self.s = connect(path)
        self.f = self.s.makefile("rwb", buffering=0)
        self.events = []
        greet = self.recv()
        self.version = greet.get("QMP", {}).get("version")
        self.cmd("qmp_capabilities")

    def recv(self):
        while True:
            line = self.f.readline()
            if not line:
                raise SystemExit("QMP: connection closed")
            msg = json.loads(line)
            if "event" in msg:
                self.events.append(msg)
                continue
            return msg

    def cmd(self, name, args=None):
        m = {"execute": name}
        if args is not None:
            m["arguments"] = args
        self.f.write(json.dumps(m).encode() + b"\r\n")
        return self.recv()


def main():
    path, cmds = sys.argv[1], sys.argv[2:]
    q = QMP(path)
    if cmds == ["--pvscsi"]:
        r = q.cmd("query-xen-pvscsi")
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
        r = q.cmd(name, json.loads(a) if a else None)
        if "error" in r:
            rc = 1
        print(f"QMP {name} -> {json.dumps(r)}")
    for e in q.events:
        print(f"QMP event {json.dumps(e)}")
    return rc


sys.exit(main())
