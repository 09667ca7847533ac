#!/bin/bash
# Build a busybox initramfs.
# usage: mk-initrd.sh OUT.cpio.gz INIT_SCRIPT [module ...]
#   INIT_SCRIPT becomes /init; the modules and their dependencies
#   (modprobe --show-depends) go to /lib/modules/<kver>, depmod'ed, so that
#   busybox modprobe works.
# env: C (cache dir: images/KVER, kernel/, inputs/bb/busybox)
#      EXTRA="src:dst ..."  more files (dst relative to the initramfs root)
#      BINS="path ..."      executables from ROOT (default $C/rootfs), copied
#                           with every shared library ldd finds for them
#
# SPDX-License-Identifier: GPL-2.0-or-later
set -euo pipefail
OUT=$(readlink -f "$1"); INIT=$2; shift 2
C=${C:?cache directory}
KVER=${KVER:-$(cat "$C/images/KVER")}
KROOT=$C/kernel
BUSYBOX=$C/inputs/bb/busybox
ROOT=${ROOT:-$C/rootfs}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T"/{bin,sbin,etc,proc,sys,dev,tmp,root,mnt,usr/bin,usr/sbin,lib/modules/$KVER,lib64,lib/x86_64-linux-gnu}
cp "$BUSYBOX" "$T/bin/busybox"
for a in $("$BUSYBOX" --list); do
  [ "$a" = busybox ] || ln -sf busybox "$T/bin/$a"
done
cp "$INIT" "$T/init"; chmod +x "$T/init"
ln -sf ../bin/busybox "$T/sbin/modprobe"
MD=$KROOT/lib/modules/$KVER
for m in "$@"; do
  modprobe -d "$KROOT" -S "$KVER" --show-depends "$m" | awk '$1=="insmod"{print $2}' |
  while read -r f; do
    rel=${f#"$MD"/}
    mkdir -p "$T/lib/modules/$KVER/$(dirname "$rel")"
    cp "$f" "$T/lib/modules/$KVER/$rel"
  done
done
cp "$MD"/modules.order "$MD"/modules.builtin "$T/lib/modules/$KVER/" 2>/dev/null || true
if [ $# -gt 0 ]; then depmod -b "$T" "$KVER" 2>&1 | grep -v modules.builtin.modinfo || true; fi
for e in ${EXTRA:-}; do
  src=${e%%:*}; dst=${e#*:}
  mkdir -p "$T/$(dirname "$dst")"; cp -L "$src" "$T/$dst"
done
# executables of the rootfs with their libraries, resolved inside the rootfs
LP=$ROOT/lib/x86_64-linux-gnu:$ROOT/usr/lib/x86_64-linux-gnu
for b in ${BINS:-}; do
  mkdir -p "$T/$(dirname "${b#/}")"; cp -L "$ROOT$b" "$T${b}"
  out=$(LD_LIBRARY_PATH=$LP ldd "$ROOT$b")
  if echo "$out" | grep -q 'not found'; then echo "mk-initrd: $b: $out" >&2; exit 1; fi
  echo "$out" | awk '$2=="=>" && $3 ~ /^\// {print $3}' | while read -r l; do
    n=$(basename "$l"); [ -e "$T/lib/x86_64-linux-gnu/$n" ] || cp -L "$l" "$T/lib/x86_64-linux-gnu/$n"
  done
done
[ -e "$T/lib64/ld-linux-x86-64.so.2" ] || cp -L "$ROOT/lib64/ld-linux-x86-64.so.2" "$T/lib64/"
(cd "$T" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) > "$OUT"
echo "mk-initrd: $OUT ($(du -h "$OUT" | cut -f1))"
