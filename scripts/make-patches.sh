#!/bin/sh
# make patches / make check-patches: the project as a git format-patch
# series against the pinned QEMU release, for qemu-devel.
#
# usage: scripts/make-patches.sh BUILD [check]
#
# The series is patches/*.patch (our fixes to QEMU itself), then one commit
# per file of scripts/series/ (NN-name, in order): a commit message, a line
# "---", then directives, one per line:
#   file PATH                  add our PATH to the tree as it is
#   append OVERLAY TARGET      append our OVERLAY (an overlay/ file that
#                              configure appends to TARGET) to TARGET, less
#                              the parts between "out-of-tree begin" and
#                              "out-of-tree end" comment lines
#   qapi-module NAME           list qapi/NAME.json in qapi/meson.build and
#                              include it in qapi/qapi-schema.json
#   toctree INDEX AFTER ENTRY  add ENTRY to the toctree of INDEX, after the
#                              line AFTER
#   maintainers PATTERN        an F: line in the series' MAINTAINERS section
# scripts/series/00-cover is the cover letter: a subject line, a blank line,
# the text.
#
# Written to BUILD/patches (emptied first); the tree it was made in is
# BUILD/patches-work/qemu-src, a git repository whose first commit is the
# pinned release as configure builds on it (Debian's source of it).
#
# With "check", the series is also verified the way a maintainer would
# take it: git am onto a fresh pristine tree, QEMU's checkpatch.pl on every
# patch (0 errors and 0 warnings required), that tree configured as
# configure configures ours, built, and our qtest suite run in it.
#
# SPDX-License-Identifier: GPL-2.0-or-later
set -eu

BUILD=$(cd "$1" && pwd)
MODE=${2:-}
SRC=$(cd "$(dirname "$0")/.." && pwd)
SERIES=$SRC/scripts/series
OUT=$BUILD/patches
W=$BUILD/patches-work
say() { echo "make-patches: $*"; }
die() { echo "make-patches: error: $*" >&2; exit 1; }

version=$(sed -n 's/^QEMU_UPSTREAM_VERSION=//p' "$SRC/configure")
debver=$(sed -n 's/^QEMU_DEB_VERSION=//p' "$SRC/configure")
orig=$(ls "$BUILD"/qemu_"$version"*.orig.tar.* 2>/dev/null | head -1)
[ -n "$orig" ] || die "no orig tarball of QEMU $version in $BUILD (run ./configure)"
[ -f "$BUILD/qemu-src/debian/patches/series" ] ||
    die "no Debian patches in $BUILD/qemu-src (run ./configure)"
command -v git >/dev/null || die "git missing"

name=$(git -C "$SRC" config user.name || echo "qemu-xen-pvscsi")
email=$(git -C "$SRC" config user.email || echo "qemu-xen-pvscsi@localhost")
export GIT_AUTHOR_NAME="$name" GIT_AUTHOR_EMAIL="$email"
export GIT_COMMITTER_NAME="$name" GIT_COMMITTER_EMAIL="$email"
export GIT_CONFIG_NOSYSTEM=1 HOME="$W/home"

# pristine DIR: the pinned source as configure builds on it, committed:
# Debian's orig tarball of the release with Debian's own patches
# (debian/patches/series, as dpkg-source applies them: they make the
# tarball, which lacks the firmware blobs, build, and touch nothing of
# ours), and without the debian/ directory
deb_patches=$BUILD/qemu-src/debian/patches
pristine() {
    rm -rf "$1"
    mkdir -p "$1"
    tar -xf "$orig" -C "$1" --strip-components=1
    grep -v '^#' "$deb_patches/series" | while read -r dp _; do
        [ -n "$dp" ] || continue
        patch -d "$1" -p1 -s -f --no-backup-if-mismatch \
            < "$deb_patches/$dp" || die "Debian's $dp does not apply"
    done
    git -C "$1" init -q -b master
    git -C "$1" config user.name "$name"
    git -C "$1" config user.email "$email"
    git -C "$1" config core.autocrlf false
    git -C "$1" add -A
    git -C "$1" commit -q -m "QEMU $version ($debver)" --no-verify
}

# strip_out_of_tree FILE: FILE less its out-of-tree begin/end blocks
strip_out_of_tree() {
    awk '/^[ \t]*# out-of-tree begin/ { skip = 1 }
         !skip { print }
         /^[ \t]*# out-of-tree end/ { skip = 0 }' "$1"
}

section="Xen paravirtual SCSI backend (xen-pvscsi)"
# maintainers PATTERN: add "F: PATTERN" to our section (made on first use,
# after the X86 Xen CPUs section)
maintainers() {
    t=$T/MAINTAINERS
    if ! grep -qxF "$section" "$t"; then
        awk -v s="$section" -v m="M: $name <$email>" '
            { print }
            /^X86 Xen CPUs$/ { inxen = 1 }
            inxen && /^$/ && !done {
                print s; print m
                print "L: xen-devel@lists.xenproject.org"
                print "S: Maintained"; print ""
                done = 1; inxen = 0
            }' "$t" > "$t.new"
        mv "$t.new" "$t"
        grep -qxF "$section" "$t" || die "no X86 Xen CPUs section in MAINTAINERS"
    fi
    awk -v s="$section" -v f="F: $1" '
        $0 == s { in_s = 1 }
        in_s && /^$/ { print f; in_s = 0 }
        { print }' "$t" > "$t.new"
    mv "$t.new" "$t"
}

# qapi_module NAME: NAME in qapi_all_modules (before 'yank') and its
# include in the schema (after the last one)
qapi_module() {
    m=$T/qapi/meson.build
    grep -q "^  'yank',\$" "$m" || die "qapi/meson.build: no 'yank' entry"
    sed -i "s/^  'yank',\$/  '$1',\n  'yank',/" "$m"
    s=$T/qapi/qapi-schema.json
    last=$(grep -n "^{ 'include': " "$s" | tail -1 | cut -d: -f1)
    sed -i "${last}a { 'include': '$1.json' }" "$s"
}

# toctree INDEX AFTER ENTRY
toctree() {
    grep -q "^   $2\$" "$T/$1" || die "$1: no toctree line '$2'"
    sed -i "s|^   $2\$|   $2\n   $3|" "$T/$1"
}

# step FILE: apply one step of scripts/series and commit it
step() {
    msg=$W/msg
    sed '/^---$/,$d' "$1" > "$msg"
    sed '1,/^---$/d' "$1" | while read -r op a b c; do
        case $op in
        file)
            mkdir -p "$T/$(dirname "$a")"
            [ ! -e "$T/$a" ] || die "$a exists in QEMU's tree"
            cp "$SRC/$a" "$T/$a" ;;
        append)
            [ -f "$T/$b" ] || die "$b is not in QEMU's tree"
            strip_out_of_tree "$SRC/$a" >> "$T/$b" ;;
        qapi-module) qapi_module "$a" ;;
        toctree) toctree "$a" "$b" "$c" ;;
        maintainers) maintainers "$a" ;;
        '') ;;
        *) die "$1: unknown directive '$op'" ;;
        esac
    done
    git -C "$T" add -A
    git -C "$T" commit -q -s -F "$msg" --no-verify
}

# ---------------------------------------------------------------- the series
rm -rf "$OUT" "$W"
mkdir -p "$OUT" "$W/home"
T=$W/qemu-src
say "pristine QEMU $version: $(basename "$orig") and Debian's patches"
pristine "$T"
base=$(git -C "$T" rev-parse HEAD)
for p in "$SRC"/patches/*.patch; do
    git -C "$T" am -q --keep-cr "$p" || die "$(basename "$p") does not apply"
done
for s in "$SERIES"/[1-9]*; do
    step "$s"
done
git -C "$T" format-patch -q --no-signature --cover-letter -o "$OUT" "$base"..HEAD
# The cover letter's subject and text
cover=$(ls "$OUT"/0000-cover-letter.patch)
subj=$(head -1 "$SERIES/00-cover")
sed '1,2d' "$SERIES/00-cover" > "$W/blurb"
sed -i -e "s|\*\*\* SUBJECT HERE \*\*\*|$subj|" \
    -e "/\*\*\* BLURB HERE \*\*\*/{
r $W/blurb
d
}" "$cover"
n=$(ls "$OUT" | grep -c -v '^0000-')
say "$n patches and a cover letter in $OUT"

[ "$MODE" = check ] || exit 0

# ---------------------------------------------------------------- the check
C=$W/check
V=$C/qemu-src
say "check: git am onto a pristine tree"
mkdir -p "$C"
pristine "$V"
for p in "$OUT"/0*.patch; do
    case $p in */0000-cover-letter.patch) continue ;; esac
    git -C "$V" am -q --keep-cr "$p" || die "$(basename "$p") does not apply"
done
[ -z "$(git -C "$V" diff HEAD --stat)" ] || die "git am left changes"
[ "$(git -C "$V" rev-parse 'HEAD^{tree}')" = \
  "$(git -C "$T" rev-parse 'HEAD^{tree}')" ] ||
    die "the applied series differs from the tree it was made in"

say "check: checkpatch.pl on every patch"
bad=0
for p in "$OUT"/0*.patch; do
    case $p in */0000-cover-letter.patch) continue ;; esac
    r=$(cd "$V" && perl scripts/checkpatch.pl "$p" 2>&1 | tail -3) || true
    total=$(echo "$r" | grep '^total:' || true)
    echo "  $(basename "$p"): ${total:-no verdict}"
    case $total in
    "total: 0 errors, 0 warnings,"*) ;;
    *) bad=1; (cd "$V" && perl scripts/checkpatch.pl "$p" 2>&1 | head -60) ;;
    esac
done
[ $bad = 0 ] || die "checkpatch.pl found errors or warnings"

say "check: configure and build the series tree"
B=$C/qemu
mkdir -p "$B"
# QEMU's configure arguments as our configure gives them (first line: the
# source tree), with ccache's paths made relative to the check directory
args=$BUILD/qemu/.qemu-xen-pvscsi-configure-args
[ -f "$args" ] || die "$args missing (run ./configure)"
export CCACHE_BASEDIR="$C"
(
    cd "$B"
    sed 1d "$args" | tr '\n' '\0' | xargs -0 "$V/configure" > "$C/configure.log" 2>&1
) || { tail -30 "$C/configure.log"; die "configure of the series tree failed"; }
ninja -C "$B" qemu-system-i386 qemu-img > "$C/build.log" 2>&1 ||
    { tail -40 "$C/build.log"; die "the series tree does not build"; }
# Firmware for build-tree runs (-M pc needs SeaBIOS), as our Makefile's
# "all" links it: Debian's packages, under the build's qemu-bundle
fw=$(sed -n 's/^FIRMWARE_DIRS := //p' "$BUILD/config.mak")
for d in $fw; do
    [ -d "$d" ] || continue
    mkdir -p "$B/qemu-bundle$(dirname "$d")"
    ln -sfn "$d" "$B/qemu-bundle$d"
done
tests=$(cd "$B" && meson introspect --tests |
        python3 "$SRC/scripts/suite-targets.py" xen-pvscsi .)
# shellcheck disable=SC2086
ninja -C "$B" $tests >> "$C/build.log" 2>&1 ||
    { tail -40 "$C/build.log"; die "the series tree's tests do not build"; }
say "check: our qtest suite in the series tree"
(cd "$B" && meson test --no-rebuild --suite xen-pvscsi --num-processes 1 \
     --print-errorlogs > "$C/test.log" 2>&1) || true
python3 "$SRC/scripts/test-summary.py" "$B/meson-logs/testlog.json" > "$C/summary.txt" ||
    { tail -40 "$C/summary.txt"; die "tests failed in the series tree"; }
tail -1 "$C/summary.txt"
say "check: passed ($n patches: apply, checkpatch 0/0, build, qtests)"
