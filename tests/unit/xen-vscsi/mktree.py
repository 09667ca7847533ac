#!/usr/bin/env python3
#
# mktree.py DIR - write a recorded host (DIR/sys, DIR/dev) for the
# xen-vscsi tests
#
# The host below is modelled on real machines: the sysfs layout of Linux
# 6.x (/sys/bus/scsi/devices/H:C:T:L -> ../../../devices/..., the SCSI
# device's type/vendor/model/rev/inquiry/vpd_pg80/vpd_pg83 attributes,
# scsi_device/, scsi_generic/sgN, block/sdX, scsi_tape/{st,nst}N*,
# /sys/dev/{block,char}/M:m links) and udev's /dev/disk/by-* links.  The
# INQUIRY and VPD responses are built byte by byte below, in the layouts
# SPC-4 gives, with what such devices report.  Device nodes are recorded
# as small files "block M:m" / "char M:m" (xen-vscsi --dev-root reads
# those), so no mknod is needed.
#
# Copyright (c) 2026 The qemu-xen-pvscsi authors
#
# This work is licensed under the terms of the GNU GPL, version 2 or later.
# See the COPYING file in the top-level directory.

import os
import sys


def std_inquiry(pdt, vendor, model, rev, version=6, rmb=False, extra=60):
    """Standard INQUIRY data: 36 bytes plus @extra (additional length)."""
    b = bytearray(36 + extra)
    b[0] = pdt & 0x1f
    b[1] = 0x80 if rmb else 0
    b[2] = version
    b[3] = 0x02                         # response data format 2
    b[4] = len(b) - 5
    b[7] = 0x02                         # CMDQUE
    b[8:16] = vendor.ljust(8).encode()
    b[16:32] = model.ljust(16).encode()
    b[32:36] = rev.ljust(4).encode()
    return bytes(b)


def vpd80(serial):
    s = serial.encode()
    return bytes([0, 0x80, 0, len(s)]) + s


def desig(dtype, value, assoc=0, code_set=None, proto=None):
    """One designation descriptor; @value is bytes, or str for text."""
    if isinstance(value, str):
        data = value.encode()
        cs = code_set or (3 if dtype == 8 else 2)
    else:
        data = value
        cs = code_set or 1
    b0 = cs | ((proto << 4) if proto is not None else 0)
    b1 = (0x80 if proto is not None else 0) | (assoc << 4) | dtype
    return bytes([b0, b1, 0, len(data)]) + data


def vpd83(*descs, pdt=0):
    body = b''.join(descs)
    return bytes([pdt, 0x83, len(body) >> 8, len(body) & 0xff]) + body


def naa(hexstr):
    return bytes.fromhex(hexstr)


# (H:C:T:L, sysfs path below /sys/devices, pdt, vendor, model, rev,
#  nodes, inquiry, vpd80, vpd83)
HBA_ATA = 'pci0000:00/0000:00:1f.2/ata1/host0'
HBA_SAS = 'pci0000:00/0000:00:03.0/0000:03:00.0/host1'
HBA_SAS2 = 'pci0000:00/0000:00:03.0/0000:03:00.1/host2'
HBA_USB = 'pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host3'
HBA_FC = 'pci0000:00/0000:00:02.0/0000:02:00.0/host4'
HBA_BAD = 'platform/host5'
# Two FC ports with a path each to one LUN under dm-multipath
HBA_FC_A = 'pci0000:00/0000:00:02.0/0000:05:00.0/host6'
HBA_FC_B = 'pci0000:00/0000:00:02.0/0000:05:00.1/host7'
MPATH_NAA = '6001405aabbccdd00112233445566778'

TAPE_PORT = naa('5000e11156304002')
SAS_LU = naa('5000c5005678abcd')

DEVICES = [
    # A SATA disk behind libata's SATL: NAA 5 and the ATA T10 identifier
    dict(hctl='0:0:0:0', hba=HBA_ATA, pdt=0, vendor='ATA',
         model='ST1000DM003-1CH1', rev='CC47',
         block=('sda', 8, 0, [('sda1', 1), ('sda2', 2)]), sg=0,
         vpd80=vpd80('            Z1D5ABCD'),
         vpd83=vpd83(desig(3, naa('5000c500a1b2c3d4')),
                     desig(1, 'ATA     ST1000DM003-1CH162      '
                              '            Z1D5ABCD'))),
    # An LTO drive: T10 vendor id for the LU, NAA for its target port
    dict(hctl='1:0:0:0', hba=HBA_SAS, pdt=1, vendor='IBM',
         model='ULT3580-HH7', rev='J4D1', tape=0, sg=1,
         vpd80=vpd80('10WT012345'),
         vpd83=vpd83(desig(1, 'IBM     ULT3580-HH7     10WT012345'),
                     desig(3, TAPE_PORT, assoc=1, proto=6),
                     desig(4, bytes([0, 0, 0, 1]), assoc=1, proto=6),
                     pdt=1)),
    # Its library's changer, LUN 1 behind the same port: EUI-64 LU name
    dict(hctl='1:0:0:1', hba=HBA_SAS, pdt=8, vendor='IBM', model='3573-TL',
         rev='G.50', sg=2, rmb=True,
         vpd80=vpd80('00L4U78A1234_LL0'),
         vpd83=vpd83(desig(2, naa('001b2c3d4e5f6071')),
                     desig(3, TAPE_PORT, assoc=1, proto=6),
                     pdt=8)),
    # A SAS disk with two paths (1:0:1:0 and 2:0:0:0): one LU name
    dict(hctl='1:0:1:0', hba=HBA_SAS, pdt=0, vendor='SEAGATE',
         model='ST600MM0006', rev='B001', block=('sdb', 8, 16, []), sg=3,
         vpd80=vpd80('S0M1ABCD'),
         vpd83=vpd83(desig(3, SAS_LU),
                     desig(3, naa('5000c5005678abce'), assoc=1, proto=6))),
    dict(hctl='2:0:0:0', hba=HBA_SAS2, pdt=0, vendor='SEAGATE',
         model='ST600MM0006', rev='B001', block=('sdc', 8, 32, []), sg=4,
         vpd80=vpd80('S0M1ABCD'),
         vpd83=vpd83(desig(3, SAS_LU),
                     desig(3, naa('5000c5005678abcf'), assoc=1, proto=6))),
    # A USB DVD writer: no VPD 0x83, so scsi_id uses the serial ('S')
    dict(hctl='3:0:0:0', hba=HBA_USB, pdt=5, vendor='HL-DT-ST',
         model='DVDRAM GH24NSD1', rev='LG00', block=('sr0', 11, 0, []),
         sg=5, rmb=True, version=5, vpd80=vpd80('K1234567')),
    # A SAN LUN (the xl docs' example WWID: NAA 6) and a LUN named only
    # by a SCSI name string
    dict(hctl='4:0:2:7', hba=HBA_FC, pdt=0, vendor='HITACHI',
         model='OPEN-V', rev='8001', block=('sdd', 8, 48, []), sg=6,
         vpd80=vpd80('50 0A1B2'),
         vpd83=vpd83(desig(3, naa('6000b5d0006a0000006a025700400000')),
                     desig(3, naa('50060e8007c3a810'), assoc=1,
                           proto=6))),
    dict(hctl='4:0:2:8', hba=HBA_FC, pdt=0, vendor='LIO-ORG',
         model='block8', rev='4.0', block=('sde', 8, 64, []), sg=7,
         vpd80=vpd80('c0ffee0008'),
         vpd83=vpd83(desig(8, 'eui.0123456789ABCDEF\0\0\0\0'))),
    # One LU, two paths (dm-multipath holds both: see build())
    dict(hctl='6:0:0:1', hba=HBA_FC_A, pdt=0, vendor='LIO-ORG',
         model='mpvol', rev='4.0', block=('sdg', 8, 96, []), sg=9,
         vpd80=vpd80('mpvol0001'), vpd83=vpd83(desig(3, naa(MPATH_NAA)))),
    dict(hctl='7:0:0:1', hba=HBA_FC_B, pdt=0, vendor='LIO-ORG',
         model='mpvol', rev='4.0', block=('sdh', 8, 112, []), sg=10,
         vpd80=vpd80('mpvol0001'), vpd83=vpd83(desig(3, naa(MPATH_NAA)))),
    # A device whose VPD 0x83 designator runs past the page
    dict(hctl='5:0:0:0', hba=HBA_BAD, pdt=0, vendor='BROKEN',
         model='VPD', rev='0001', block=('sdf', 8, 80, []), sg=8,
         vpd83=bytes([0, 0x83, 0, 16]) + desig(3, naa('5000000000000001'))
         + bytes([0x01, 0x03, 0x00, 0x40])),
]


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    mode = 'wb' if isinstance(data, bytes) else 'w'
    with open(path, mode) as f:
        f.write(data)


def link(path, target):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.lexists(path):
        os.unlink(path)
    os.symlink(target, path)


def rel(frm, to):
    return os.path.relpath(to, os.path.dirname(frm))


def build(root):
    sysd = os.path.join(root, 'sys')
    devd = os.path.join(root, 'dev')
    bus = os.path.join(sysd, 'bus/scsi/devices')
    os.makedirs(bus, exist_ok=True)
    os.makedirs(devd, exist_ok=True)

    def node(name, kind, maj, mnr, target):
        write(os.path.join(devd, name), '%s %d:%d\n' % (kind, maj, mnr))
        lk = os.path.join(sysd, 'dev', kind, '%d:%d' % (maj, mnr))
        link(lk, rel(lk, target))

    for d in DEVICES:
        h, c, t, l = d['hctl'].split(':')
        hostdir = os.path.join(sysd, 'devices', d['hba'])
        tgt = os.path.join(hostdir, 'target%s:%s:%s' % (h, c, t))
        sd = os.path.join(tgt, d['hctl'])
        for name, path in (('host' + h, hostdir),
                           ('target%s:%s:%s' % (h, c, t), tgt),
                           (d['hctl'], sd)):
            lk = os.path.join(bus, name)
            link(lk, rel(lk, path))
        write(os.path.join(sd, 'type'), '%d\n' % d['pdt'])
        write(os.path.join(sd, 'vendor'), d['vendor'].ljust(8) + '\n')
        write(os.path.join(sd, 'model'), d['model'].ljust(16) + '\n')
        write(os.path.join(sd, 'rev'), d['rev'].ljust(4) + '\n')
        write(os.path.join(sd, 'inquiry'),
              std_inquiry(d['pdt'], d['vendor'], d['model'], d['rev'],
                          version=d.get('version', 6),
                          rmb=d.get('rmb', False)))
        if d.get('vpd80') is not None:
            write(os.path.join(sd, 'vpd_pg80'), d['vpd80'])
        if d.get('vpd83') is not None:
            write(os.path.join(sd, 'vpd_pg83'), d['vpd83'])
        os.makedirs(os.path.join(sd, 'scsi_device', d['hctl']),
                    exist_ok=True)
        if 'sg' in d:
            sg = 'sg%d' % d['sg']
            cd = os.path.join(sd, 'scsi_generic', sg)
            write(os.path.join(cd, 'dev'), '21:%d\n' % d['sg'])
            link(os.path.join(cd, 'device'), '../../../' + d['hctl'])
            node(sg, 'char', 21, d['sg'], cd)
        if 'block' in d:
            name, maj, mnr, parts = d['block']
            bd = os.path.join(sd, 'block', name)
            write(os.path.join(bd, 'dev'), '%d:%d\n' % (maj, mnr))
            link(os.path.join(bd, 'device'), '../../../' + d['hctl'])
            node(name, 'block', maj, mnr, bd)
            for pname, pn in parts:
                pd = os.path.join(bd, pname)
                write(os.path.join(pd, 'dev'), '%d:%d\n' % (maj, mnr + pn))
                write(os.path.join(pd, 'partition'), '%d\n' % pn)
                node(pname, 'block', maj, mnr + pn, pd)
        if 'tape' in d:
            n = d['tape']
            for prefix, base in (('st', 0), ('nst', 128)):
                for suffix, off in (('', 0), ('l', 32), ('m', 64),
                                    ('a', 96)):
                    name = '%s%d%s' % (prefix, n, suffix)
                    td = os.path.join(sd, 'scsi_tape', name)
                    write(os.path.join(td, 'dev'),
                          '9:%d\n' % (base + off + n))
                    link(os.path.join(td, 'device'),
                         '../../../' + d['hctl'])
                    node(name, 'char', 9, base + off + n, td)

    # A virtio disk: a block device that is not SCSI
    vd = os.path.join(sysd, 'devices/pci0000:00/0000:00:05.0/virtio1')
    write(os.path.join(vd, 'vendor'), '0x1af4\n')
    bd = os.path.join(vd, 'block/vda')
    write(os.path.join(bd, 'dev'), '252:0\n')
    link(os.path.join(bd, 'device'), '../../../virtio1')
    node('vda', 'block', 252, 0, bd)
    # /dev/null: a character device that is not SCSI
    nd = os.path.join(sysd, 'devices/virtual/mem/null')
    write(os.path.join(nd, 'dev'), '1:3\n')
    node('null', 'char', 1, 3, nd)

    # dm-multipath's device over sdg and sdh (holders/slaves links, dm/)
    dm = os.path.join(sysd, 'devices/virtual/block/dm-0')
    write(os.path.join(dm, 'dev'), '253:0\n')
    write(os.path.join(dm, 'dm', 'uuid'), 'mpath-3%s\n' % MPATH_NAA)
    write(os.path.join(dm, 'dm', 'name'), 'mpatha\n')
    node('dm-0', 'block', 253, 0, dm)
    lk = os.path.join(sysd, 'class/block/dm-0')
    link(lk, rel(lk, dm))
    for d in DEVICES:
        if d['hctl'] in ('6:0:0:1', '7:0:0:1'):
            h, c, t, l = d['hctl'].split(':')
            bd = os.path.join(sysd, 'devices', d['hba'],
                              'target%s:%s:%s' % (h, c, t), d['hctl'],
                              'block', d['block'][0])
            lk = os.path.join(bd, 'holders', 'dm-0')
            link(lk, rel(lk, dm))
            lk = os.path.join(dm, 'slaves', d['block'][0])
            link(lk, rel(lk, bd))

    # udev's links
    for name, target in (
            ('disk/by-id/ata-ST1000DM003-1CH162_Z1D5ABCD', 'sda'),
            ('disk/by-id/ata-ST1000DM003-1CH162_Z1D5ABCD-part1', 'sda1'),
            ('disk/by-id/wwn-0x5000c500a1b2c3d4', 'sda'),
            ('disk/by-id/scsi-35000c5005678abcd', 'sdc'),
            ('disk/by-id/scsi-36000b5d0006a0000006a025700400000', 'sdd'),
            ('disk/by-path/pci-0000:00:1f.2-ata-1', 'sda'),
            ('disk/by-path/pci-0000:00:1f.2-ata-1-part2', 'sda2'),
            ('tape/by-id/scsi-1IBM_ULT3580-HH7_10WT012345-nst', 'nst0'),
            # a changer's sg node (udev's 60-persistent-storage-tape.rules)
            ('tape/by-id/scsi-2001b2c3d4e5f6071', 'sg2'),
            ('cdrom', 'sr0'),
            ('disk/by-id/virtio-vol0', 'vda'),
            # multipath's rules: the WWID's links name the dm device
            ('disk/by-id/scsi-3' + MPATH_NAA, 'dm-0'),
            ('disk/by-id/dm-uuid-mpath-3' + MPATH_NAA, 'dm-0'),
            ('disk/by-id/dm-name-mpatha', 'dm-0'),
            ('mapper/mpatha', 'dm-0')):
        lk = os.path.join(devd, name)
        link(lk, rel(lk, os.path.join(devd, target)))


if __name__ == '__main__':
    if len(sys.argv) != 2:
        sys.exit('usage: mktree.py DIR')
    build(sys.argv[1])
