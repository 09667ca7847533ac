#!/bin/bash
# Runs in dom0 as systemd unit e2e-test.service (only with "e2etest" on the
# dom0 kernel command line): mounts the payload disk /dev/vdb on
# /mnt/payload, runs its test.sh, prints "E2E-RUNNER: exit code N" and
# powers off (unless "e2ekeep" is on the command line).
#
# SPDX-License-Identifier: GPL-2.0-or-later
echo "E2E-RUNNER: dom0 userspace up, uptime $(cut -d' ' -f1 /proc/uptime)s"
rc=1
mkdir -p /mnt/payload
if [ -b /dev/vdb ] && mount -o ro /dev/vdb /mnt/payload && [ -f /mnt/payload/test.sh ]; then
  bash /mnt/payload/test.sh; rc=$?
else
  echo "E2E-RUNNER: no payload"
fi
echo "E2E-RUNNER: exit code $rc"
grep -qw e2ekeep /proc/cmdline && exit 0
# Power off from the kernel, as the last step of "systemctl poweroff" would
# (dom0 enters ACPI S5 through Xen, which ends the machine, domUs and all).
# Not the orderly way: under the nested machine's faults it has taken 10
# minutes (xendomains waiting for the domU of a test script that died, a
# stop job stuck), and once systemd itself was hit and nothing powered off
# at all.  Nothing here needs saving: dom0's disk is a -snapshot, the
# payload read-only, the results are on the console.
echo "E2E-RUNNER: powering off, uptime $(cut -d' ' -f1 /proc/uptime)s"
sync
echo 1 > /proc/sys/kernel/sysrq
echo o > /proc/sysrq-trigger
