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
echo "E2E-RUNNER: powering off, uptime $(cut -d' ' -f1 /proc/uptime)s"
sync
systemctl poweroff --no-block
