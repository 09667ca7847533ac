#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# tgt-target.sh - a private tgtd (Linux SCSI target, Debian package "tgt")
# on 127.0.0.1 for automated tests
#
# Copyright (c) 2026 The qemu-xen-pvscsi authors
#
# This work is licensed under the terms of the GNU GPL, version 2 or later.
# See the COPYING file in the top-level directory.
#
# Needs root and: tgtd, tgtadm, tgtimg (apt-get install tgt).  The Debian
# tgt service is neither used nor needed (nor is systemd): every instance
# is a standalone "tgtd -f" with its own iSCSI port and its own management
# ("control") port, so several instances and a system tgtd can coexist.
#
# Usage:
#   tgt-target.sh start DIR LUNSPEC...
#       Create DIR if needed, pick a free TCP port on 127.0.0.1 and a free
#       tgtd control port (tgtd -C / tgtadm -C; the socket is
#       /var/run/tgtd/socket.CTL), start tgtd in the background, create
#       target iqn.2026-11.org.qemu-xen-pvscsi:test (tid 1) with the LUNs
#       in order from LUN 1 (LUN 0 is tgtd's controller), then let every
#       initiator name log in, from 127.0.0.1 only.  Prints
#       "127.0.0.1:PORT IQN" on stdout (and nothing else) and writes
#       DIR/env, lines of KEY=VALUE (no quoting, no spaces):
#           TGT_PORT=  TGT_CTL=  TGT_PID=  TGT_IQN=  TGT_PORTAL=127.0.0.1:PORT
#           TGT_LUN_<n>=<kind>:<path>   (kind: disk, tape or changer)
#           TGT_LOG=DIR/tgtd.log
#       and, with a changer, its element addresses (see below):
#           TGT_SMC_LUN=  TGT_SMC_TRANSPORT=1  TGT_SMC_FIRST_SLOT=1000
#           TGT_SMC_NSLOTS=  TGT_SMC_DRIVE=500  TGT_SMC_DRIVE_LUN=
#       The LUNSPECs are saved, as absolute paths, in DIR/luns.  tgtd's
#       output and the script's tgtadm/tgtimg output go to DIR/tgtd.log.
#       On any failure: a message on stderr, tgtd killed, exit status 1.
#   tgt-target.sh stop DIR
#       Stop that instance (tgtadm target delete --force, then system
#       delete: tgtd ignores SIGTERM), wait for it to exit, SIGKILL it if it
#       is still there after 5 s.  Idempotent; DIR and its files stay.
#   tgt-target.sh kill DIR
#       SIGKILL tgtd at once (fault tests); DIR/env stays.  Idempotent.
#   tgt-target.sh restart DIR
#       Start tgtd again, on the same port and control port, with the LUNs
#       of DIR/luns (stopping it first if it still runs); media files are
#       kept, so data written survives.  Rewrites DIR/env (new TGT_PID) and
#       prints the same line as start.
#   tgt-target.sh refuse DIR
#       Unbind 127.0.0.1: new logins are rejected (login status 0x0203,
#       "target not found"); sessions already logged in go on working.
#   tgt-target.sh accept DIR
#       Undo refuse.
#
# LUNSPECs (paths relative to the current directory; they must not contain
# ':' ',' or blanks):
#   disk:FILE:SIZE_MB
#       A disk (type 0, bstype rdwr, 512-byte blocks) on FILE, created
#       sparse with SIZE_MB MiB if missing (an existing FILE is used as is).
#   tape:FILE[:SIZE_MB]
#       An SSC tape drive (type 1, bstype ssc).  FILE is a tgt tape medium,
#       created with tgtimg if missing (capacity SIZE_MB, default 32; the
#       file only grows as data is written).  Alone, the drive holds that
#       medium.  When a changer follows, the drive is its data transfer
#       element and starts EMPTY (offline: NOT READY, 3A/00) until a MOVE
#       MEDIUM puts a cartridge in it.
#   changer:DIR:NSLOTS
#       An SMC medium changer (type 8, bstype smc; at most one), whose
#       media live in DIR (tgt's media_home): NSLOTS (1..64) data
#       cartridges DIR/PVS001L5, DIR/PVS002L5, ... (file name = barcode =
#       volume tag; created with tgtimg, 32 MB, if missing), loaded in
#       storage slots 1000, 1001, ...  Medium transport element: 1.  Data
#       transfer element: 500, the last tape LUN given before the changer
#       (none if there is none).  No import/export elements.  Its state is
#       tgtd's memory only: a restart puts every cartridge back in its slot.
#
# Example:
#   tgt-target.sh start /tmp/t disk:/tmp/t/disk.img:64 tape:/tmp/t/tape0 \
#       changer:/tmp/t:4
#   iscsi-inq iscsi://127.0.0.1:PORT/iqn.2026-11.org.qemu-xen-pvscsi:test/1
#   tgt-target.sh stop /tmp/t
#
# tgtd stays in the caller's process group, so a signal to the group (a
# test harness's timeout, ^C) reaches it too.  Its stdin, stdout and
# stderr are not the caller's, so g_spawn_*_sync() capturing output
# returns once the script is done.

IQN=iqn.2026-11.org.qemu-xen-pvscsi:test
TID=1
SMC_TRANSPORT=1
SMC_DRIVE=500
SMC_FIRST_SLOT=1000
TAPE_MB=32
PROG=tgt-target.sh
PATH=$PATH:/usr/sbin:/sbin
export PATH

# started tgtd not yet handed over (killed if the script fails or dies)
STARTED_PID=

msg() {
    printf '%s: %s\n' "$PROG" "$*" >&2
}

die() {
    msg "error: $*"
    if [ -n "$STARTED_PID" ]; then
        kill -KILL "$STARTED_PID" 2>/dev/null
        wait_gone "$STARTED_PID" 20
        STARTED_PID=
        [ -n "${CTL:-}" ] && remove_stale_ctl "$CTL"
        if [ -n "${LOG:-}" ] && [ -f "$LOG" ]; then
            msg "last lines of $LOG:"
            tail -n 15 "$LOG" >&2
        fi
    fi
    exit 1
}

usage() {
    cat >&2 <<EOF
usage: $PROG start DIR LUNSPEC...
       $PROG stop|kill|restart|refuse|accept DIR
LUNSPEC: disk:FILE:SIZE_MB | tape:FILE[:SIZE_MB] | changer:DIR:NSLOTS
EOF
    exit 2
}

need() {
    for n in "$@"; do
        command -v "$n" >/dev/null 2>&1 ||
            die "$n not found (apt-get install tgt)"
    done
}

is_uint() {
    case $1 in
    '' | *[!0-9]*) return 1 ;;
    esac
    return 0
}

# Paths go into tgtadm --params (split at ',') and into DIR/env and
# DIR/luns (split at ':' and read without quoting).
check_path() {
    case $1 in
    *[!A-Za-z0-9_./+@%-]*) die "unsupported character in path: '$1'" ;;
    esac
}

# absolute path of FILE, creating its directory if needed
abs_file() {
    _d=$(dirname -- "$1") && _b=$(basename -- "$1") || return 1
    mkdir -p -- "$_d" || return 1
    _d=$(cd -- "$_d" && pwd -P) || return 1
    if [ "$_d" = / ]; then
        printf '/%s\n' "$_b"
    else
        printf '%s/%s\n' "$_d" "$_b"
    fi
}

abs_dir() {
    mkdir -p -- "$1" || return 1
    (cd -- "$1" && pwd -P)
}

rand() {
    # a random number in [$1, $2]
    _r=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
    echo $(($1 + _r % ($2 - $1 + 1)))
}

port_hex() {
    printf '%04X' "$1"
}

# any TCP socket, in any state, with local port $1
port_in_use() {
    _h=$(port_hex "$1")
    awk -v h=":$_h" 'FNR > 1 && substr($2, length($2) - 4) == h { f = 1 }
        END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# inodes of listening TCP sockets on local port $1
listen_inodes() {
    _h=$(port_hex "$1")
    awk -v h=":$_h" 'FNR > 1 && $4 == "0A" &&
        substr($2, length($2) - 4) == h { print $10 }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

pid_has_socket() {
    for _fd in /proc/"$1"/fd/*; do
        [ "$(readlink "$_fd" 2>/dev/null)" = "socket:[$2]" ] && return 0
    done
    return 1
}

ctl_socket() {
    echo "${TGT_IPC_SOCKET:-/var/run/tgtd/socket}.$1"
}

# a tgtd answers on control port $1
ctl_alive() {
    tgtadm -C "$1" --mode system --op show >/dev/null 2>&1
}

ctl_in_use() {
    [ -e "$(ctl_socket "$1")" ] && ctl_alive "$1"
}

# PID $1 is our tgtd (-C $2, port $3) and not a zombie
tgtd_alive() {
    [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] || return 1
    _c=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null)
    case $_c in
    *"tgtd -f -C $2 --iscsi portal=127.0.0.1:$3 "*) return 0 ;;
    esac
    return 1
}

# PID $1 exists and is not a zombie.  From its stat, not its cmdline: the
# cmdline reads empty while the process is in execve(), and a tgtd being
# exec'd was once taken for a dead one that way.
proc_live() {
    read -r _l 2>/dev/null <"/proc/$1/stat" || return 1
    _l=${_l##*) }
    [ "${_l%% *}" != Z ]
}

# wait up to $2 tenths of a second for PID $1 to be gone (or a zombie)
wait_gone() {
    _n=0
    while proc_live "$1"; do
        [ "$_n" -lt "$2" ] || return 1
        sleep 0.1
        _n=$((_n + 1))
    done
    return 0
}

# ---------------------------------------------------------------------------
# DIR/env and DIR/luns

load_env() {
    ENVF=$DIR/env
    [ -f "$ENVF" ] || return 1
    TGT_PORT='' TGT_CTL='' TGT_PID=''
    while IFS='=' read -r _k _v; do
        case $_k in
        TGT_PORT) TGT_PORT=$_v ;;
        TGT_CTL) TGT_CTL=$_v ;;
        TGT_PID) TGT_PID=$_v ;;
        esac
    done <"$ENVF"
    if ! is_uint "$TGT_PORT" || ! is_uint "$TGT_CTL"; then
        die "$ENVF: no TGT_PORT or TGT_CTL"
    fi
    return 0
}

running() {
    tgtd_alive "$TGT_PID" "$TGT_CTL" "$TGT_PORT"
}

# normalise one LUNSPEC to kind:ABSPATH[:NUMBER] on stdout
norm_spec() {
    _kind=${1%%:*}
    _rest=${1#*:}
    [ "$_kind" != "$1" ] || die "bad LUNSPEC '$1'"
    case $_kind in
    disk)
        _path=${_rest%%:*}
        _num=${_rest#*:}
        if [ "$_num" = "$_rest" ] || ! is_uint "$_num" ||
            [ "$_num" -eq 0 ]; then
            die "bad LUNSPEC '$1' (disk:FILE:SIZE_MB)"
        fi
        ;;
    tape)
        _path=${_rest%%:*}
        _num=${_rest#*:}
        [ "$_num" != "$_rest" ] || _num=$TAPE_MB
        if ! is_uint "$_num" || [ "$_num" -eq 0 ]; then
            die "bad LUNSPEC '$1' (tape:FILE[:SIZE_MB])"
        fi
        ;;
    changer)
        _path=${_rest%%:*}
        _num=${_rest#*:}
        if [ "$_num" = "$_rest" ] || ! is_uint "$_num" ||
            [ "$_num" -lt 1 ] || [ "$_num" -gt 64 ]; then
            die "bad LUNSPEC '$1' (changer:DIR:NSLOTS, 1..64 slots)"
        fi
        ;;
    *)
        die "bad LUNSPEC '$1': unknown kind '$_kind'"
        ;;
    esac
    [ -n "$_path" ] || die "bad LUNSPEC '$1': empty path"
    check_path "$_path"
    if [ "$_kind" = changer ]; then
        _path=$(abs_dir "$_path") || die "cannot create directory $_path"
        # tgtd loads "media_home/barcode" into a char[128]
        [ "${#_path}" -le 110 ] || die "changer directory path too long: $_path"
    else
        _path=$(abs_file "$_path") || die "cannot create directory for $_path"
    fi
    check_path "$_path"
    echo "$_kind:$_path:$_num"
}

barcode() {
    printf 'PVS%03dL5' "$1"
}

# create missing media for the LUNs of DIR/luns
prepare_media() {
    while IFS=: read -r _kind _path _num; do
        case $_kind in
        disk)
            if [ ! -e "$_path" ]; then
                truncate -s "${_num}M" "$_path" ||
                    die "cannot create $_path"
            fi
            ;;
        tape)
            if [ ! -e "$_path" ]; then
                tgtimg --op new --device-type tape --barcode PVS000L5 \
                    --size "$_num" --type data --file "$_path" \
                    </dev/null >>"$LOG" 2>&1 ||
                    die "tgtimg failed to create $_path"
            fi
            ;;
        changer)
            [ -e "$_path/changer.smc" ] ||
                dd if=/dev/zero of="$_path/changer.smc" bs=1024 count=1 \
                    2>/dev/null || die "cannot create $_path/changer.smc"
            _i=1
            while [ "$_i" -le "$_num" ]; do
                _m=$_path/$(barcode "$_i")
                if [ ! -e "$_m" ]; then
                    tgtimg --op new --device-type tape \
                        --barcode "$(barcode "$_i")" --size "$TAPE_MB" \
                        --type data --file "$_m" </dev/null >>"$LOG" 2>&1 ||
                        die "tgtimg failed to create $_m"
                fi
                _i=$((_i + 1))
            done
            ;;
        esac
    done <"$DIR/luns"
}

# ---------------------------------------------------------------------------
# tgtd

# Start tgtd on $1/$2 (port/control port).  0: up and ours; 1: died or
# timed out (see the log); 2: the port or control port is taken.
launch() {
    printf '=== %s: tgtd -f -C %s --iscsi portal=127.0.0.1:%s\n' \
        "$(date '+%F %T')" "$2" "$1" >>"$LOG"
    _l0=$(wc -l <"$LOG")
    tgtd -f -C "$2" --iscsi "portal=127.0.0.1:$1" </dev/null >>"$LOG" 2>&1 &
    STARTED_PID=$!
    _n=0
    while [ "$_n" -lt 100 ]; do
        # lock of the control socket taken, or bind() of the portal failed
        # (tgtd then goes on without it)
        if tail -n "+$((_l0 + 1))" "$LOG" |
            grep -q -e 'another tgtd is using' -e 'failed to create/bind'; then
            kill -KILL "$STARTED_PID" 2>/dev/null
            wait "$STARTED_PID" 2>/dev/null
            STARTED_PID=
            return 2
        fi
        # Gone or a zombie: it died.  (Not tgtd_alive: until the child
        # has exec'd tgtd, its cmdline is still this script's, and taking
        # that for a death made us wait for a tgtd that runs for ever.
        # proc_live reads the state, which execve() does not hide.)
        # The kill makes sure that the wait cannot block, whatever the test
        # got wrong.
        if ! proc_live "$STARTED_PID"; then
            kill -KILL "$STARTED_PID" 2>/dev/null
            wait "$STARTED_PID" 2>/dev/null
            STARTED_PID=
            return 1
        fi
        _mine='' _other=''
        for _ino in $(listen_inodes "$1"); do
            if pid_has_socket "$STARTED_PID" "$_ino"; then
                _mine=1
            else
                _other=1
            fi
        done
        if [ -n "$_mine" ]; then
            # listening means it is past the control socket's lock
            ctl_alive "$2" && return 0
        elif [ -n "$_other" ]; then
            kill -KILL "$STARTED_PID" 2>/dev/null
            wait "$STARTED_PID" 2>/dev/null
            STARTED_PID=
            return 2
        fi
        sleep 0.1
        _n=$((_n + 1))
    done
    msg "tgtd did not come up on port $1 / control port $2 in 10 s"
    kill -KILL "$STARTED_PID" 2>/dev/null
    wait "$STARTED_PID" 2>/dev/null
    STARTED_PID=
    return 1
}

adm() {
    printf '+ tgtadm -C %s %s\n' "$CTL" "$*" >>"$LOG"
    _out=$(tgtadm -C "$CTL" "$@" </dev/null 2>&1)
    _rc=$?
    [ -n "$_out" ] && printf '%s\n' "$_out" >>"$LOG"
    [ "$_rc" -eq 0 ] && return 0
    die "tgtadm $*: ${_out:-exit status $_rc}"
}

lu_new() {
    adm --lld iscsi --mode logicalunit --op new --tid "$TID" --lun "$1" \
        --device-type "$2" --bstype "$3" --backing-store "$4"
}

lu_params() {
    adm --lld iscsi --mode logicalunit --op update --tid "$TID" --lun "$1" \
        --params "$2"
}

# target, LUNs and ACL of the tgtd on control port $CTL; writes $ENV_EXTRA
configure() {
    adm --lld iscsi --mode target --op new --tid "$TID" --targetname "$IQN"
    _lun=0
    _tape=
    ENV_EXTRA=
    while IFS=: read -r _kind _path _num; do
        _lun=$((_lun + 1))
        ENV_EXTRA="${ENV_EXTRA}TGT_LUN_$_lun=$_kind:$_path
"
        case $_kind in
        disk)
            lu_new "$_lun" disk rdwr "$_path"
            ;;
        tape)
            lu_new "$_lun" tape ssc "$_path"
            _tape=$_lun
            ;;
        changer)
            lu_new "$_lun" changer smc "$_path/changer.smc"
            # Insertion order matters to tgtd's READ ELEMENT STATUS
            # "first element address" (see the notes in the report):
            # transport, slots, drive.
            _e="start_address=$SMC_TRANSPORT,quantity=1"
            lu_params "$_lun" "media_home=$_path,element_type=1,$_e"
            _e="start_address=$SMC_FIRST_SLOT,quantity=$_num"
            lu_params "$_lun" "element_type=2,$_e"
            ENV_EXTRA="${ENV_EXTRA}TGT_SMC_LUN=$_lun
TGT_SMC_TRANSPORT=$SMC_TRANSPORT
TGT_SMC_FIRST_SLOT=$SMC_FIRST_SLOT
TGT_SMC_NSLOTS=$_num
"
            if [ -n "$_tape" ]; then
                _e="start_address=$SMC_DRIVE,quantity=1"
                lu_params "$_lun" "element_type=4,$_e"
                _e="address=$SMC_DRIVE,tid=$TID,lun=$_tape"
                lu_params "$_lun" "element_type=4,$_e"
                # the drive starts empty, as the changer reports it
                lu_params "$_tape" "online=0"
                ENV_EXTRA="${ENV_EXTRA}TGT_SMC_DRIVE=$SMC_DRIVE
TGT_SMC_DRIVE_LUN=$_tape
"
            fi
            _i=1
            while [ "$_i" -le "$_num" ]; do
                _e="address=$((SMC_FIRST_SLOT + _i - 1))"
                _e="$_e,barcode=$(barcode "$_i"),sides=1"
                lu_params "$_lun" "element_type=2,$_e"
                _i=$((_i + 1))
            done
            ;;
        esac
    done <"$DIR/luns"
    # logins only once every LUN is there
    adm --lld iscsi --mode target --op bind --tid "$TID" \
        --initiator-address 127.0.0.1
}

write_env() {
    {
        echo "TGT_PORT=$PORT"
        echo "TGT_CTL=$CTL"
        echo "TGT_PID=$1"
        echo "TGT_IQN=$IQN"
        echo "TGT_PORTAL=127.0.0.1:$PORT"
        printf '%s' "$ENV_EXTRA"
        echo "TGT_LOG=$LOG"
    } >"$DIR/env.tmp" || die "cannot write $DIR/env.tmp"
    mv -f "$DIR/env.tmp" "$DIR/env" || die "cannot write $DIR/env"
}

# configure the tgtd just launched, hand it over, report
finish_start() {
    configure
    write_env "$STARTED_PID"
    STARTED_PID=
    echo "127.0.0.1:$PORT $IQN"
}

remove_stale_ctl() {
    ctl_alive "$1" && return
    rm -f "$(ctl_socket "$1")" "$(ctl_socket "$1").lock"
}

# ---------------------------------------------------------------------------
# commands

cmd_start() {
    [ $# -ge 1 ] || die "no LUNSPEC given"
    need tgtd tgtadm tgtimg
    if load_env && running; then
        die "tgtd (pid $TGT_PID) already runs for $DIR; stop it first"
    fi
    : >"$DIR/luns.tmp" || die "cannot write $DIR/luns.tmp"
    _nchanger=0
    for _spec; do
        _s=$(norm_spec "$_spec") || exit 1
        case $_s in
        changer:*) _nchanger=$((_nchanger + 1)) ;;
        esac
        echo "$_s" >>"$DIR/luns.tmp"
    done
    [ "$_nchanger" -le 1 ] || die "at most one changer"
    mv -f "$DIR/luns.tmp" "$DIR/luns" || die "cannot write $DIR/luns"
    prepare_media
    _try=0
    while :; do
        _try=$((_try + 1))
        [ "$_try" -le 20 ] || die "no free port / control port found"
        PORT=$(rand 20000 32767)
        CTL=$(rand 1000 32767)
        port_in_use "$PORT" && continue
        ctl_in_use "$CTL" && continue
        launch "$PORT" "$CTL"
        case $? in
        0) break ;;
        2) continue ;;
        *) die "tgtd failed to start" ;;
        esac
    done
    finish_start
}

# graceful stop of a running instance
stop_running() {
    # "system delete" only works once no target is left, and a target
    # whose LUNs have commands in flight cannot be deleted even with
    # --force: try again every second.
    _n=0
    while proc_live "$TGT_PID" && [ "$_n" -lt 50 ]; do
        if [ $((_n % 10)) -eq 0 ]; then
            {
                echo "+ stop: target delete --force, system delete"
                tgtadm -C "$TGT_CTL" --lld iscsi --mode target --op delete \
                    --force --tid "$TID"
                tgtadm -C "$TGT_CTL" --mode system --op delete
            } </dev/null >>"$LOG" 2>&1
        fi
        sleep 0.1
        _n=$((_n + 1))
    done
    if proc_live "$TGT_PID"; then
        msg "tgtd (pid $TGT_PID) still there after 5 s: SIGKILL"
        kill -KILL "$TGT_PID" 2>/dev/null
        wait_gone "$TGT_PID" 50 || die "tgtd (pid $TGT_PID) does not die"
    fi
}

cmd_stop() {
    load_env || return 0
    if running; then
        stop_running
    fi
    remove_stale_ctl "$TGT_CTL"
}

cmd_kill() {
    load_env || die "no $DIR/env"
    if running; then
        kill -KILL "$TGT_PID" 2>/dev/null
        wait_gone "$TGT_PID" 50 || die "tgtd (pid $TGT_PID) does not die"
    fi
}

cmd_restart() {
    need tgtd tgtadm tgtimg
    load_env || die "no $DIR/env"
    [ -f "$DIR/luns" ] || die "no $DIR/luns"
    if running; then
        stop_running
    fi
    PORT=$TGT_PORT
    CTL=$TGT_CTL
    prepare_media
    # the old tgtd's port and lock may take a moment to be released
    _try=0
    while :; do
        _try=$((_try + 1))
        launch "$PORT" "$CTL"
        case $? in
        0) break ;;
        2) [ "$_try" -lt 25 ] ||
            die "port $PORT or control port $CTL stays taken" ;;
        *) die "tgtd failed to start" ;;
        esac
        sleep 0.2
    done
    finish_start
}

acl_bound() {
    tgtadm -C "$TGT_CTL" --lld iscsi --mode target --op show 2>/dev/null |
        awk '/ACL information:/ { a = 1; next }
             a && /^[^ ]/ { a = 0 }
             a && $1 == "127.0.0.1" { f = 1 }
             END { exit !f }'
}

cmd_refuse() {
    load_env || die "no $DIR/env"
    running || die "tgtd for $DIR is not running"
    CTL=$TGT_CTL
    acl_bound || return 0
    adm --lld iscsi --mode target --op unbind --tid "$TID" \
        --initiator-address 127.0.0.1
}

cmd_accept() {
    load_env || die "no $DIR/env"
    running || die "tgtd for $DIR is not running"
    CTL=$TGT_CTL
    acl_bound && return 0
    adm --lld iscsi --mode target --op bind --tid "$TID" \
        --initiator-address 127.0.0.1
}

# ---------------------------------------------------------------------------

[ $# -ge 2 ] || usage
OP=$1
DIR=$2
shift 2
check_path "$DIR"

case $OP in
start)
    DIR=$(abs_dir "$DIR") || die "cannot create $DIR"
    ;;
stop | kill | restart | refuse | accept)
    [ $# -eq 0 ] || usage
    if [ ! -d "$DIR" ]; then
        [ "$OP" = stop ] && exit 0
        die "no directory $DIR"
    fi
    DIR=$(cd -- "$DIR" && pwd -P) || die "cannot enter $DIR"
    ;;
*)
    usage
    ;;
esac
check_path "$DIR"
LOG=$DIR/tgtd.log

trap 'die "interrupted"' HUP INT TERM

case $OP in
start) cmd_start "$@" ;;
stop) cmd_stop ;;
kill) cmd_kill ;;
restart) cmd_restart ;;
refuse) cmd_refuse ;;
accept) cmd_accept ;;
esac
exit 0
