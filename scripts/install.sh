#!/bin/sh
# Install qemu-xen-pvscsi from a configured and built tree ("make install",
# and "make deb" through scripts/mkdeb.sh).  Our QEMU goes into a directory of
# its own, beside and never over the distribution's QEMU:
#
#   PREFIX/lib/qemu-xen-pvscsi/bin/qemu-system-<arch>, qemu-img, qemu-io,
#                                   qemu-nbd, qemu-pr-helper
#   PREFIX/lib/qemu-xen-pvscsi/share/qemu/   trace-events-all, keymaps
#   PREFIX/bin/xen-vscsi
#   PREFIX/share/man/man1/xen-vscsi.1, man7/xen-pvscsi.7 (when sphinx-build
#                                   is there, or MAN=required)
#
# QEMU is built relocatable: it finds its data directory relative to its
# binary, so this layout works under any PREFIX.  Its firmware (SeaBIOS,
# iPXE, option ROMs) is the distribution's, found at the absolute
# --firmwarepath that configure set.
#
# usage: scripts/install.sh [build dir]; env DESTDIR, PREFIX (default: the
# prefix given to configure), STRIP=1 strip the binaries, MAN=required
#
# SPDX-License-Identifier: GPL-2.0-or-later
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build}
mak=$build/config.mak
[ -f "$mak" ] || { echo "install: run ./configure and make first" >&2; exit 1; }
val() { sed -n "s/^$1 := //p" "$mak"; }
qemu_build=$(val QEMU_BUILD)
ours_build=$(val OURS_BUILD)
targets=$(val TARGET_LIST | tr ',' ' ')
args=$qemu_build/.qemu-xen-pvscsi-configure-args
qprefix=$(tr ' ' '\n' < "$args" | sed -n 's/^--prefix=//p')
fwpath=$(tr ' ' '\n' < "$args" | sed -n 's/^--firmwarepath=//p')
PREFIX=${PREFIX:-$qprefix}
DESTDIR=${DESTDIR:-}

# A firmware directory under QEMU's configured prefix would be relocated
# with the binary (and then missed): refuse rather than install a QEMU
# that cannot find SeaBIOS's option ROMs.
for d in $(echo "$fwpath" | tr ':' ' '); do
    case $d/ in
    "$qprefix"/*)
        echo "install: firmware directory $d is under QEMU's prefix $qprefix;" \
             "configure with another --prefix" >&2
        exit 1;;
    esac
done

lib=$DESTDIR$PREFIX/lib/qemu-xen-pvscsi
bundle=$qemu_build/qemu-bundle$qprefix/share/qemu
install -d "$lib/bin" "$lib/share/qemu" "$DESTDIR$PREFIX/bin"

bins=
for t in $targets; do
    bins="$bins qemu-system-${t%-softmmu}"
done
for b in $bins qemu-img qemu-io qemu-nbd qemu-pr-helper; do
    [ -x "$qemu_build/$b" ] || { echo "install: $qemu_build/$b not built (make)" >&2; exit 1; }
    install -m 755 "$qemu_build/$b" "$lib/bin/$b"
done
install -m 755 "$ours_build/xen-vscsi" "$DESTDIR$PREFIX/bin/xen-vscsi"
if [ "${STRIP:-}" = 1 ]; then
    for f in "$lib"/bin/* "$DESTDIR$PREFIX/bin/xen-vscsi"; do
        strip --strip-unneeded --remove-section=.comment --remove-section=.note "$f"
    done
fi

# trace-events-all is what "-trace help" and "-trace enable=" read
install -m 644 "$(readlink -f "$bundle/trace-events-all")" "$lib/share/qemu/trace-events-all"
if [ -d "$bundle/keymaps" ]; then
    install -d "$lib/share/qemu/keymaps"
    for k in "$bundle"/keymaps/*; do
        install -m 644 "$(readlink -f "$k")" "$lib/share/qemu/keymaps/$(basename "$k")"
    done
fi

# man pages from the rST docs, as QEMU builds its own
if command -v sphinx-build > /dev/null 2>&1; then
    out=$build/man
    rm -rf "$out"
    sphinx-build -q -b man -c "$src/docs/man" "$src/docs" "$out"
    install -d "$DESTDIR$PREFIX/share/man/man1" "$DESTDIR$PREFIX/share/man/man7"
    install -m 644 "$out/xen-vscsi.1" "$DESTDIR$PREFIX/share/man/man1/"
    install -m 644 "$out/xen-pvscsi.7" "$DESTDIR$PREFIX/share/man/man7/"
elif [ "${MAN:-}" = required ]; then
    echo "install: sphinx-build (python3-sphinx) is needed for the man pages" >&2
    exit 1
else
    echo "install: no sphinx-build: man pages skipped (apt-get install python3-sphinx)" >&2
fi
echo "install: $lib/bin/qemu-system-${targets%%-softmmu*} and $DESTDIR$PREFIX/bin/xen-vscsi"
