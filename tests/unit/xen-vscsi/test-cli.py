#!/usr/bin/env python3
#
# test-cli.py XEN_VSCSI - xen-vscsi against a recorded host (mktree.py)
#
# Every p-dev form, the errors (missing, ambiguous, partitions, not SCSI,
# malformed VPD) and "args" in both output syntaxes.  Prints TAP.
#
# Copyright (c) 2026 The qemu-xen-pvscsi authors
#
# This work is licensed under the terms of the GNU GPL, version 2 or later.
# See the COPYING file in the top-level directory.

import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mktree  # noqa: E402

TOOL = sys.argv[1]
ROOT = tempfile.mkdtemp(prefix='xen-vscsi-test-')
mktree.build(ROOT)
HOST = ['--sysfs-root', os.path.join(ROOT, 'sys'),
        '--dev-root', os.path.join(ROOT, 'dev')]

results = []


def run(*args, host=True):
    cmd = [TOOL] + list(args) + (HOST if host else [])
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def case(name):
    def wrap(fn):
        try:
            fn()
            results.append((True, name, None))
        except AssertionError as e:
            results.append((False, name, str(e)))
        except Exception as e:   # noqa: B902 -- a crash is a failure too
            results.append((False, name, '%s: %s' % (type(e).__name__, e)))
        return fn
    return wrap


def eq(got, want, what=''):
    assert got == want, '%s: got %r, want %r' % (what, got, want)


def resolve(pdev):
    rc, out, err = run('resolve', '--json', pdev)
    eq(rc, 0, 'exit status of resolve %s (stderr %r)' % (pdev, err))
    return json.loads(out)


def fails(want_rc, want_msg, *args):
    rc, out, err = run(*args)
    eq(rc, want_rc, 'exit status of %s (stderr %r)' % (args, err))
    eq(out, '', 'stdout of %s' % (args,))
    assert want_msg in err, '%r not in stderr %r' % (want_msg, err)
    return err


SDA = dict(hctl='0:0:0:0', sg='/dev/sg0', block='/dev/sda', tape=None,
           type='disk', vendor='ATA', model='ST1000DM003-1CH1',
           revision='CC47', serial='Z1D5ABCD', wwid='35000c500a1b2c3d4')
TAPE = dict(hctl='1:0:0:0', sg='/dev/sg1', block=None, tape='/dev/st0',
            type='tape', vendor='IBM', model='ULT3580-HH7',
            serial='10WT012345', wwid='1IBM_ULT3580-HH7_10WT012345')
CHANGER = dict(hctl='1:0:0:1', sg='/dev/sg2', block=None, tape=None,
               type='changer', model='3573-TL', wwid='2001b2c3d4e5f6071')
CD = dict(hctl='3:0:0:0', sg='/dev/sg5', block='/dev/sr0', type='cd/dvd',
          wwid='SHL-DT-STDVDRAM_GH24NSD1_K1234567')
SAN = dict(hctl='4:0:2:7', block='/dev/sdd',
           wwid='36000b5d0006a0000006a025700400000')
NAMED = dict(hctl='4:0:2:8', block='/dev/sde',
             wwid='SLIO-ORG_block8_c0ffee0008')

FORMS = [
    ('/dev/sda', SDA), ('/dev/sg0', SDA),
    ('/dev/disk/by-id/wwn-0x5000c500a1b2c3d4', SDA),
    ('/dev/disk/by-id/ata-ST1000DM003-1CH162_Z1D5ABCD', SDA),
    ('/dev/disk/by-path/pci-0000:00:1f.2-ata-1', SDA),
    ('0:0:0:0', SDA), ('35000c500a1b2c3d4', SDA),
    ('35000C500A1B2C3D4', SDA), ('naa.5000c500a1b2c3d4', SDA),
    ('naa.5000C500A1B2C3D4:0', SDA),
    ('/dev/st0', TAPE), ('/dev/nst0', TAPE), ('/dev/st0l', TAPE),
    ('/dev/sg1', TAPE), ('/dev/tape/by-id/scsi-1IBM_ULT3580-HH7_10WT012345'
                         '-nst', TAPE),
    ('1IBM_ULT3580-HH7_10WT012345', TAPE), ('naa.5000e11156304002:0', TAPE),
    ('/dev/sg2', CHANGER), ('1:0:0:1', CHANGER),
    ('2001b2c3d4e5f6071', CHANGER), ('naa.5000e11156304002:1', CHANGER),
    ('/dev/sr0', CD), ('/dev/cdrom', CD), ('/dev/sg5', CD),
    ('SHL-DT-STDVDRAM_GH24NSD1_K1234567', CD),
    ('36000b5d0006a0000006a025700400000', SAN),
    ('/dev/disk/by-id/scsi-36000b5d0006a0000006a025700400000', SAN),
    ('4:0:2:7', SAN),
    ('8eui.0123456789ABCDEF', NAMED), ('SLIO-ORG_block8_c0ffee0008', NAMED),
    ('/dev/sde', NAMED),
]

for pdev, want in FORMS:
    @case('resolve %s -> %s' % (pdev, want['hctl']))
    def _(pdev=pdev, want=want):
        rec = resolve(pdev)
        eq(rec['pdev'], pdev, 'pdev')
        eq(rec['source'], 'sysfs', 'source')
        for k, v in want.items():
            eq(rec[k], v, k)


@case('resolve: the record in full (disk, designators, qemu-device)')
def _():
    rec = resolve('/dev/sda')
    eq((rec['host'], rec['channel'], rec['target'], rec['lun']),
       (0, 0, 0, 0), 'address')
    eq(rec['peripheral-type'], 0, 'peripheral-type')
    eq(rec['scsi-level'], 6, 'scsi-level')
    eq(rec['qemu-device'], 'scsi-block', 'qemu-device')
    assert rec['sysfs'].endswith(
        '/sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/'
        '0:0:0:0'), rec['sysfs']
    eq([(d['association'], d['designator-type'], d['code-set'], d['value'])
        for d in rec['designators']],
       [('lu', 'naa', 'binary', '5000c500a1b2c3d4'),
        ('lu', 't10-vendor-id', 'ascii',
         'ATA     ST1000DM003-1CH162                  Z1D5ABCD')],
       'designators')


@case('resolve: tape record (target port designators, scsi-generic)')
def _():
    rec = resolve('/dev/nst0')
    eq(rec['tape-norewind'], '/dev/nst0', 'tape-norewind')
    eq(rec['qemu-device'], 'scsi-generic', 'qemu-device')
    eq([(d['association'], d['designator-type'], d['value'])
        for d in rec['designators']],
       [('lu', 't10-vendor-id', 'IBM     ULT3580-HH7     10WT012345'),
        ('target-port', 'naa', '5000e11156304002'),
        ('target-port', 'relative-target-port', '00000001')],
       'designators')
    assert 'Serial Attached SCSI' in rec['designators'][1]['description']


@case('resolve: text output')
def _():
    rc, out, err = run('resolve', '2001b2c3d4e5f6071')
    eq(rc, 0, 'exit status')
    lines = out.splitlines()
    assert 'hctl:         1:0:0:1' in lines, out
    assert 'type:         changer (0x08)' in lines, out
    assert 'wwid:         2001b2c3d4e5f6071' in lines, out
    assert 'designator:   lu eui-64 binary 001b2c3d4e5f6071' in lines, out


@case('resolve: a WWID walk warns about an unreadable device, still finds')
def _():
    rc, out, err = run('resolve', '--json', '36000b5d0006a0000006a025700400000')
    eq(rc, 0, 'exit status')
    eq(json.loads(out)['hctl'], '4:0:2:7', 'hctl')
    assert ('warning: 5:0:0:0: VPD page 0x83: a designator runs past the '
            'page (skipped)') in err, err


ERRORS = [
    (2, '/dev/sda1 is a partition; give the whole disk', '/dev/sda1'),
    (2, 'is a partition', '/dev/disk/by-id/ata-ST1000DM003-1CH162_Z1D5ABCD'
                          '-part1'),
    (2, 'is a partition', '/dev/disk/by-path/pci-0000:00:1f.2-ata-1-part2'),
    (3, '/dev/sdz: No such file or directory', '/dev/sdz'),
    (3, 'no SCSI device 9:0:0:0 on this host', '9:0:0:0'),
    (3, 'no SCSI device of this host has that WWID (10 devices searched, '
        'some unreadable', '3600000000000000000000000000000ff'),
    (4, '35000c5005678abcd is ambiguous: it matches 1:0:1:0 (sdb), 2:0:0:0 '
        '(sdc)', '35000c5005678abcd'),
    (4, 'ambiguous', 'naa.5000c5005678abcd'),
    (3, 'naa.5000e11156304002:5: no such LUN; that NAA designator belongs '
        'to 1:0:0:0 (st0), 1:0:0:1 (sg2)', 'naa.5000e11156304002:5'),
    (3, 'no SCSI device of this host has that NAA designator',
        'naa.5000000000000bad:0'),
    (2, 'naa. wants 16 or 32 hex digits', 'naa.50zz'),
    (2, 'bad LUN', 'naa.5000e11156304002:x'),
    (1, '5:0:0:0: VPD page 0x83: a designator runs past the page',
        '5:0:0:0'),
    (2, '/dev/vda is not a SCSI device', '/dev/vda'),
    (2, '/dev/null (char 1:3) is not a SCSI device', '/dev/null'),
    (2, 'not a p-dev', 'sda'),
    (2, '0:0:0 is not H:C:T:L', '0:0:0'),
    (2, '1:2:3:4:5 is not H:C:T:L', '1:2:3:4:5'),
]

for rc, msg, pdev in ERRORS:
    @case('resolve %s fails (%d): %s' % (pdev, rc, msg[:40]))
    def _(rc=rc, msg=msg, pdev=pdev):
        fails(rc, msg, 'resolve', pdev)


@case('resolve --source sg reads through SG_IO (a recorded node refuses)')
def _():
    err = fails(1, '0:0:0:0: ', 'resolve', '--source', 'sg', '/dev/sda')
    assert 'INQUIRY failed' in err or 'sg0' in err, err


@case('scan --json lists every device in H:C:T:L order')
def _():
    rc, out, err = run('scan', '--json')
    eq(rc, 1, 'exit status (one device is unreadable)')
    recs = json.loads(out)
    eq([r['hctl'] for r in recs],
       ['0:0:0:0', '1:0:0:0', '1:0:0:1', '1:0:1:0', '2:0:0:0', '3:0:0:0',
        '4:0:2:7', '4:0:2:8', '5:0:0:0', '6:0:0:1', '7:0:0:1'], 'hctls')
    eq(recs[2]['wwid'], '2001b2c3d4e5f6071', 'changer wwid')


# ---------------------------------------------------------------------
# args

MIX = ['/dev/sda,0:0:0:0', '/dev/nst0,0:0:1:0', 'naa.5000e11156304002:1,'
       '0:0:1:1', '/dev/cdrom,1:0:0:0',
       '36000b5d0006a0000006a025700400000,0:0:2:0,qemu-device=scsi-hd']
MIX_ARGS = [
    '-device', 'xen-pvscsi,id=vscsi0,devid=0',
    '-blockdev', 'driver=host_device,node-name=vscsi0-0-0-0-blk,'
                 'filename=/dev/disk/by-id/wwn-0x5000c500a1b2c3d4,'
                 'cache.direct=on,auto-read-only=on',
    '-device', 'scsi-block,id=vscsi0-0-0-0,bus=vscsi0.0,channel=0,'
               'scsi-id=0,lun=0,drive=vscsi0-0-0-0-blk',
    '-blockdev', 'driver=host_device,node-name=vscsi0-0-1-0-blk,'
                 'filename=/dev/sg1,auto-read-only=on',
    '-device', 'scsi-generic,id=vscsi0-0-1-0,bus=vscsi0.0,channel=0,'
               'scsi-id=1,lun=0,drive=vscsi0-0-1-0-blk',
    '-blockdev', 'driver=host_device,node-name=vscsi0-0-1-1-blk,'
                 'filename=/dev/tape/by-id/scsi-2001b2c3d4e5f6071,'
                 'auto-read-only=on',
    '-device', 'scsi-generic,id=vscsi0-0-1-1,bus=vscsi0.0,channel=0,'
               'scsi-id=1,lun=1,drive=vscsi0-0-1-1-blk',
    '-blockdev', 'driver=host_device,node-name=vscsi0-0-2-0-blk,'
                 'filename=/dev/disk/by-id/'
                 'scsi-36000b5d0006a0000006a025700400000,'
                 'cache.direct=on,auto-read-only=on',
    '-device', 'scsi-hd,id=vscsi0-0-2-0,bus=vscsi0.0,channel=0,'
               'scsi-id=2,lun=0,drive=vscsi0-0-2-0-blk',
    '-device', 'xen-pvscsi,id=vscsi1,devid=1',
    '-blockdev', 'driver=host_device,node-name=vscsi1-0-0-0-blk,'
                 'filename=/dev/sr0,cache.direct=on,auto-read-only=on',
    '-device', 'scsi-block,id=vscsi1-0-0-0,bus=vscsi1.0,channel=0,'
               'scsi-id=0,lun=0,drive=vscsi1-0-0-0-blk',
]


@case('args --json: disk, tape, changer, CD, scsi-hd on two hosts')
def _():
    rc, out, err = run('args', '--json', *MIX)
    eq(rc, 0, 'exit status (%s)' % err)
    eq(json.loads(out), MIX_ARGS, 'arguments')


@case('args: xl.cfg syntax')
def _():
    rc, out, err = run('args', *MIX)
    eq(rc, 0, 'exit status (%s)' % err)
    want = 'device_model_args_hvm = [\n' + ''.join(
        '    "%s", "%s",\n' % (MIX_ARGS[i], MIX_ARGS[i + 1])
        for i in range(0, len(MIX_ARGS), 2)) + ']\n'
    eq(out, want, 'output')


@case('args: stable names (udev links) for the nodes QEMU opens')
def _():
    def filename(pdev):
        rc, out, err = run('args', '--json', pdev + ',0:0:0:0')
        eq(rc, 0, 'exit status of args %s (%s)' % (pdev, err))
        return json.loads(out)[3].split('filename=')[1].split(',')[0], err

    # a kernel name, an H:C:T:L, a WWID: the LU's world-wide name first
    for pdev in ('/dev/sda', '0:0:0:0', '35000c500a1b2c3d4'):
        f, err = filename(pdev)
        eq(f, '/dev/disk/by-id/wwn-0x5000c500a1b2c3d4', pdev)
        # (a WWID scans every device: the malformed one warns)
        assert 'no stable name' not in err, '%s: %s' % (pdev, err)
    # the admin's own link to that node is kept
    for pdev in ('/dev/disk/by-path/pci-0000:00:1f.2-ata-1',
                 '/dev/disk/by-id/ata-ST1000DM003-1CH162_Z1D5ABCD'):
        f, err = filename(pdev)
        eq(f, pdev, 'a link given')
    # a VPD 0x83 NAA name (scsi-3...) when there is no wwn- link
    f, err = filename('4:0:2:7')
    eq(f, '/dev/disk/by-id/scsi-36000b5d0006a0000006a025700400000',
       'scsi-3 link')
    # a medium changer's sg node: udev's link under /dev/tape
    f, err = filename('1:0:0:1')
    eq(f, '/dev/tape/by-id/scsi-2001b2c3d4e5f6071', 'changer')
    # a tape drive's sg node has no link: its kernel name, and a warning
    f, err = filename('/dev/tape/by-id/scsi-1IBM_ULT3580-HH7_10WT012345-nst')
    eq(f, '/dev/sg1', 'tape drive')
    assert 'warning' in err and '/dev/sg1 has no stable name' in err, err
    # a block device that is not SCSI, by its kernel name
    f, err = filename('/dev/vda')
    eq(f, '/dev/disk/by-id/virtio-vol0', 'virtio disk')


@case('args --pr-manager: passed-through host LUNs use qemu-pr-helper')
def _():
    img = os.path.join(ROOT, 'pr.img')
    with open(img, 'wb') as f:
        f.truncate(1 << 20)
    rc, out, err = run('args', '--json', '--pr-manager',
                       '/run/qemu-pr-helper.sock', '/dev/sda,0:0:0:0',
                       '/dev/nst0,0:0:1:0', img + ',0:0:2:0',
                       '/dev/sda,1:0:0:0,qemu-device=scsi-hd')
    eq(rc, 2, 'the same device twice is refused (%s)' % err)
    rc, out, err = run('args', '--json', '--pr-manager',
                       '/run/qemu-pr-helper.sock', '/dev/sda,0:0:0:0',
                       '/dev/nst0,0:0:1:0', img + ',0:0:2:0',
                       '/dev/sdd,1:0:0:0,qemu-device=scsi-hd')
    eq(rc, 0, 'exit status (%s)' % err)
    a = json.loads(out)
    eq(a[0:2], ['-object', 'pr-manager-helper,id=vscsi-pr,'
                'path=/run/qemu-pr-helper.sock'], 'the object, first')
    eq(sum(1 for x in a if x.startswith('pr-manager-helper')), 1, 'once')
    bd = [x for x in a if x.startswith('driver=')]
    eq([('pr-manager=vscsi-pr' in x) for x in bd],
       [True, True, False, False],
       'scsi-block and scsi-generic nodes only (not an image, not scsi-hd)')
    fails(2, 'absolute path', 'args', '--pr-manager', 'pr.sock',
          '/dev/sda,0:0:0:0')


MPATH_WWID = '36001405aabbccdd00112233445566778'


@case('multipath: a WWID with two paths, or the dm device, is that device')
def _():
    for pdev in (MPATH_WWID, '/dev/mapper/mpatha', '/dev/dm-0',
                 '/dev/disk/by-id/dm-uuid-mpath-' + MPATH_WWID):
        r = resolve(pdev)
        eq(r['multipath'], '/dev/dm-0', pdev)
        eq(r['paths'], '6:0:0:1 (sdg), 7:0:0:1 (sdh)', pdev)
        eq(r['qemu-device'], 'scsi-block', pdev)
        eq(r['wwid'], MPATH_WWID, pdev)
    # one path alone is a plain SCSI device
    r = resolve('7:0:0:1')
    eq(r['multipath'], None, 'a path')
    eq(r['block'], '/dev/sdh', 'a path')
    # args: scsi-block on the dm device, by its WWID link
    rc, out, err = run('args', '--json', '/dev/mapper/mpatha,0:0:0:0')
    eq(rc, 0, 'exit status (%s)' % err)
    a = json.loads(out)
    eq(a[3], 'driver=host_device,node-name=vscsi0-0-0-0-blk,'
       'filename=/dev/disk/by-id/scsi-3%s,cache.direct=on,'
       'auto-read-only=on' % MPATH_WWID[1:], 'blockdev')
    eq(a[5].split(',')[0], 'scsi-block', 'device')
    rc, out, err = run('args', '--json', MPATH_WWID + ',0:0:0:0,'
                       'qemu-device=scsi-hd')
    eq(rc, 0, 'exit status (%s)' % err)
    eq(json.loads(out)[5].split(',')[0], 'scsi-hd', 'scsi-hd asked for')
    fails(2, 'only scsi-block or scsi-hd', 'args',
          MPATH_WWID + ',0:0:0:0,qemu-device=scsi-generic')
    fails(2, 'are the same device', 'args', '/dev/mapper/mpatha,0:0:0:0',
          '6:0:0:1,0:0:0:1')


@case('args --iothread, ro, an image file (quotes escaped in xl.cfg)')
def _():
    img = os.path.join(ROOT, 'a"b.img')
    with open(img, 'wb') as f:
        f.truncate(1 << 20)
    rc, out, err = run('args', '--json', '--iothread', '3:0:0:0,2:1:2:3,ro',
                       img + ',2:0:0:0')
    eq(rc, 0, 'exit status (%s)' % err)
    eq(json.loads(out), [
        '-object', 'iothread,id=vscsi2-iothread',
        '-device', 'xen-pvscsi,id=vscsi2,devid=2,iothread=vscsi2-iothread',
        '-blockdev', 'driver=raw,node-name=vscsi2-0-0-0-blk,file.driver=file,'
                     'file.filename=%s' % img,
        '-device', 'scsi-hd,id=vscsi2-0-0-0,bus=vscsi2.0,channel=0,'
                   'scsi-id=0,lun=0,drive=vscsi2-0-0-0-blk',
        '-blockdev', 'driver=host_device,node-name=vscsi2-1-2-3-blk,'
                     'filename=/dev/sr0,cache.direct=on,read-only=on',
        '-device', 'scsi-block,id=vscsi2-1-2-3,bus=vscsi2.0,channel=1,'
                   'scsi-id=2,lun=3,drive=vscsi2-1-2-3-blk'], 'arguments')
    rc, out, err = run('args', img + ',2:0:0:0')
    assert 'file.filename=%s\\"b.img"' % os.path.join(ROOT, 'a') in out, \
        out


@case('args: a block device that is not SCSI is served by scsi-hd')
def _():
    rc, out, err = run('args', '--json', '/dev/vda,0:0:0:0')
    eq(rc, 0, 'exit status (%s)' % err)
    eq(json.loads(out)[3], 'driver=host_device,node-name=vscsi0-0-0-0-blk,'
       'filename=/dev/disk/by-id/virtio-vol0,cache.direct=on,'
       'auto-read-only=on', 'blockdev')
    eq(json.loads(out)[5].split(',')[0], 'scsi-hd', 'device')


ARGS_ERRORS = [
    (2, "use the same vdev", ['/dev/sda,0:0:0:0', '/dev/sg1,0:0:0:0']),
    (2, "are the same device (0:0:0:0)",
     ['/dev/sda,0:0:0:0', '35000c500a1b2c3d4,0:0:0:1']),
    (2, "vdev 0:8:0:0 out of range", ['/dev/sda,0:8:0:0']),
    (2, "vdev 0:0:64:0 out of range", ['/dev/sda,0:0:64:0']),
    (2, "vdev 'x' is not H:C:T:L", ['/dev/sda,x']),
    (2, "expected 'pdev,vdev[,options]'", ['/dev/sda']),
    (2, "feature-host", ['/dev/sda,0:0:0:0,feature-host']),
    (2, "unknown option 'bogus'", ['/dev/sda,0:0:0:0,bogus']),
    (2, "qemu-device must be", ['/dev/sda,0:0:0:0,qemu-device=scsi-tape']),
    (2, "scsi-generic needs a SCSI device",
     ['/dev/vda,0:0:0:0,qemu-device=scsi-generic']),
    (1, "has no block node for scsi-hd",
     ['/dev/st0,0:0:0:0,qemu-device=scsi-hd']),
    (2, "is a partition", ['/dev/sda1,0:0:0:0']),
    (4, "ambiguous", ['35000c5005678abcd,0:0:0:0']),
    (3, "no SCSI device 7:0:0:0", ['7:0:0:0,0:0:0:0']),
]

for rc, msg, specs in ARGS_ERRORS:
    @case('args %s fails (%d): %s' % (' '.join(specs), rc, msg[:40]))
    def _(rc=rc, msg=msg, specs=specs):
        fails(rc, msg, 'args', *specs)


@case('usage errors: no command, unknown command, QMP without --qmp')
def _():
    fails(2, 'no command')
    fails(2, 'unknown command', 'frobnicate')
    fails(2, 'this command needs --qmp SOCKET', 'list')
    fails(2, 'resolve takes one PDEV', 'resolve')


shutil.rmtree(ROOT)
print('1..%d' % len(results))
for i, (ok, name, why) in enumerate(results, 1):
    print('%s %d - %s' % ('ok' if ok else 'not ok', i, name))
    if why:
        for line in why.splitlines():
            print('# ' + line)
sys.exit(0)
