#!/bin/sh
# make fuzz: build QEMU with AddressSanitizer and UndefinedBehaviorSanitizer
# next to the normal build (build/qemu-fuzz, from the same prepared source
# tree and QEMU configure arguments, plus the sanitizers), then run the
# xen-pvscsi fuzzer (tests/qtest/xen-pvscsi-fuzz.c) against it.
#
#   FUZZ_REQUESTS=N   requests in all (default 2000000: a few minutes)
#   FUZZ_SEED=S       base seed (default: 1); epoch E runs with seed S+E
#   FUZZ_EPOCH=E      run that epoch only (to reproduce a report)
#   FUZZ_OUT=DIR      where each failed epoch's log is kept
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -eu

srcdir=$(cd "$(dirname "$0")/.." && pwd)
build=$srcdir/build
args_file=$build/qemu/.qemu-xen-pvscsi-configure-args
fuzz_build=$build/qemu-fuzz
ninja=${NINJA:-ninja}

[ -f "$args_file" ] || { echo "fuzz: run ./configure and make first" >&2; exit 1; }

# The normal build's arguments: the source tree, then QEMU's configure
# arguments one per line.
qemu_src=$(head -n 1 "$args_file")
want=$(cat "$args_file"; echo --enable-asan; echo --enable-ubsan)
if [ ! -f "$fuzz_build/build.ninja" ] ||
   [ "$(cat "$fuzz_build/.qemu-xen-pvscsi-configure-args" 2>/dev/null)" != "$want" ]; then
    rm -rf "$fuzz_build"
    mkdir -p "$fuzz_build"
    echo "fuzz: configuring QEMU with ASan and UBSan in build/qemu-fuzz"
    # Word-split the argument lines, but keep "--cc=ccache cc" whole.
    (
        cd "$fuzz_build"
        set --
        while IFS= read -r a; do
            set -- "$@" "$a"
        done <<EOF
$(tail -n +2 "$args_file")
--enable-asan
--enable-ubsan
EOF
        "$qemu_src/configure" "$@" >configure.log 2>&1 ||
            { tail -20 configure.log >&2; echo "fuzz: QEMU's configure failed" >&2; exit 1; }
    )
    printf '%s\n' "$want" > "$fuzz_build/.qemu-xen-pvscsi-configure-args"
fi

# Firmware, as for the normal build (see configure)
for d in /usr/share/seabios /usr/lib/ipxe/qemu /usr/share/qemu; do
    [ -d "$d" ] || continue
    mkdir -p "$fuzz_build/qemu-bundle$(dirname "$d")"
    ln -sfn "$d" "$fuzz_build/qemu-bundle$d"
done

# QEMU with the sanitizers; the fuzzer itself from the normal build (it is
# the guest, not what is tested, and libxenstore's reader thread, with its
# 16 KiB stack, is no place for ASan's interceptors).
echo "fuzz: building"
"$ninja" -C "$fuzz_build" qemu-system-i386 >"$fuzz_build/ninja.log" 2>&1 ||
    { tail -30 "$fuzz_build/ninja.log" >&2; echo "fuzz: build failed" >&2; exit 1; }
"$ninja" -C "$build/qemu" tests/qtest/xen-pvscsi-fuzz >>"$fuzz_build/ninja.log" 2>&1 ||
    { tail -30 "$fuzz_build/ninja.log" >&2; echo "fuzz: build failed" >&2; exit 1; }

cd "$fuzz_build"
# Sanitizer reports end the process that has them (QEMU), with a report on
# its stderr, which the fuzzer keeps and counts.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:print_summary=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$srcdir/tests/qtest/xen-pvscsi-fuzz.lsan}"
export QTEST_QEMU_BINARY=./qemu-system-i386
exec "$build/qemu/tests/qtest/xen-pvscsi-fuzz"
