# Helpers shared by configure and install-deps.sh (POSIX sh, sourced).
#
# apt_debian_mirror: print the URI of the main Debian archive that this
# machine's apt configuration already uses (never a hard-coded host).
#
# SPDX-License-Identifier: GPL-2.0-or-later

apt_debian_mirror() {
    # deb822 .sources files: first URIs line of a stanza that serves the
    # plain "bookworm"/"trixie"/... suite (not -security).
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        awk '
            /^[ \t]*$/ { if (uri != "" && main) { print uri; exit }
                         uri = ""; main = 0; next }
            /^URIs:/   { uri = $2 }
            /^Suites:/ { for (i = 2; i <= NF; i++)
                             if ($i !~ /-/) main = 1 }
            END        { if (uri != "" && main) print uri }
        ' "$f" | grep -v -- '-security' | head -n 1
    done | head -n 1 | grep . && return 0
    # one-line format
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk '$1 == "deb" {
                 i = 2
                 if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                 if ($(i + 1) !~ /-/) { print $i; exit }
             }' | head -n 1
}
