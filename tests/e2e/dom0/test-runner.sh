#!/bin/bash
# Runs in dom0 as systemd unit e2e-test.service (only with "e2etest" on the
# dom0 kernel command line): mounts the payload disk /dev/vdb on
# /mnt/payload, runs its test.sh, prints "E2E-RUNNER: exit code N",
# destroys any domU left and powers off (unless "e2ekeep" is on the
# command line).
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
# A test script that died leaves its domUs behind, and stopping
# xendomains would wait minutes for them.
for d in $(timeout 20 xl list 2>/dev/null | awk 'NR > 1 && $2 != 0 { print $2 }'); do
  echo "E2E-RUNNER: destroying leftover domain $d"
  timeout 30 xl destroy "$d"
done
echo "E2E-RUNNER: powering off, uptime $(cut -d' ' -f1 /proc/uptime)s"
sync
systemctl poweroff --no-block
# Normally systemd stops this unit (and this sleep) on the way down.  The
# nested machine's faults have hit systemd itself (journald: "Failed to
# send WATCHDOG=1 notification message"), and then nothing powers off
# until E2E_TIMEOUT: the kernel does it instead (dom0's disk is a
# -snapshot, nothing of it needs saving).
sleep 120
echo "E2E-RUNNER: still up 120 s after poweroff; powering off through sysrq"
sync
echo 1 > /proc/sys/kernel/sysrq
echo o > /proc/sysrq-trigger
