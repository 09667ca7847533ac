#!/bin/sh
# Install every Debian package that building qemu-xen-pvscsi and running its
# tests needs.  Debian 12 (bookworm); meson >= 1.5 comes from
# bookworm-backports, which is enabled through the mirror already configured
# in this machine's apt sources.  Safe to run any number of times.
#
# SPDX-License-Identifier: GPL-2.0-or-later
set -eu

here=$(cd "$(dirname "$0")" && pwd)
. "$here/apt-mirror.sh"

SUDO=
if [ "$(id -u)" != 0 ]; then
    SUDO=sudo
fi

# Packages: the QEMU build, Xen and iSCSI backends, firmware for -M pc and
# the tools the tests use (tgt: the iSCSI target the iSCSI cases start;
# procps: ps, for the e2e watchdog's host test and the qtest hang report).
PKGS="
build-essential pkgconf ninja-build python3 python3-venv flex bison
libglib2.0-dev zlib1g-dev libpixman-1-dev libfdt-dev libaio-dev
libxen-dev libiscsi-dev libsgutils2-dev liburing-dev libjson-glib-dev
seabios ipxe-qemu qemu-system-data
dpkg-dev xz-utils ccache perl patch
qemu-utils tgt procps valgrind linux-perf
python3-sphinx lintian
"

# Nothing to do when every package is there and meson is new enough:
# "make check" runs this each time, and needs no network then.
meson_ok() {
    command -v meson > /dev/null 2>&1 &&
        meson --version | awk -F. '{ exit !($1 > 1 || ($1 == 1 && $2 >= 5)) }'
}
missing=
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
        missing="$missing $p"
done
if [ -z "$missing" ] && meson_ok; then
    echo "install-deps: every package is installed (meson $(meson --version))"
    exit 0
fi

codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
bpo_list=/etc/apt/sources.list.d/qemu-xen-pvscsi-backports.list

if [ "$codename" = bookworm ]; then
    mirror=$(apt_debian_mirror)
    if [ -z "$mirror" ]; then
        echo "install-deps: no Debian mirror found in the apt configuration" >&2
        exit 1
    fi
    line="deb $mirror bookworm-backports main"
    if ! grep -qsF "$line" "$bpo_list"; then
        echo "$line" | $SUDO tee "$bpo_list" >/dev/null
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# tgt ships a system tgtd service; the tests run private instances and must
# not depend on whether a service manager would start (or fail to start)
# that one.  Without a policy already in place, forbid service starts for
# the time of the install.
policy=/usr/sbin/policy-rc.d
own_policy=
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# qemu-xen-pvscsi install-deps\nexit 101\n' |
        $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    own_policy=yes
fi
status=0
# shellcheck disable=SC2086
$SUDO apt-get install -q -y --no-install-recommends $PKGS || status=$?
if [ -n "$own_policy" ]; then
    $SUDO rm -f "$policy"
fi
[ "$status" = 0 ] || exit "$status"

if [ "$codename" = bookworm ]; then
    $SUDO apt-get install -q -y --no-install-recommends -t bookworm-backports meson
else
    $SUDO apt-get install -q -y --no-install-recommends meson
fi

if ! meson --version | awk -F. '{ exit !($1 > 1 || ($1 == 1 && $2 >= 5)) }'; then
    echo "install-deps: meson >= 1.5 is required, found $(meson --version)" >&2
    exit 1
fi
echo "install-deps: done (meson $(meson --version))"
