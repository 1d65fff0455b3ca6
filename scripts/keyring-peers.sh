#!/usr/bin/env bash
# OS keyring test peers for codex-auth: GNOME Keyring's Secret Service on private D-Bus
# session buses, all on this machine, nothing shared with a desktop session.
#
#   scripts/keyring-peers.sh install          install what the peers need (only if missing)
#   scripts/keyring-peers.sh up STATE_DIR     start them, write STATE_DIR/keyring.env
#   scripts/keyring-peers.sh down STATE_DIR   stop them (by the PIDs recorded), remove STATE_DIR
#
# `up` starts two session buses (dbus-daemon --session, each on a socket in STATE_DIR)
# with a gnome-keyring-daemon (secrets component) on each:
#   unlocked  its login keyring unlocked with a password: Codex and codex-auth store
#             and read logins there, as on a desktop after login
#   locked    its login keyring locked, and nobody to answer the unlock prompt (no
#             display), holding one Codex entry: the one for the Codex home
#             STATE_DIR/locked-codex-home (whose config.toml selects the keyring), made
#             while it was unlocked; reading it fails as on a desktop whose keyring is
#             locked
# keyring.env (KEY=value lines): PEER_KEYRING_BUS, PEER_KEYRING_LOCKED_BUS,
# PEER_KEYRING_LOCKED_HOME (that Codex home), PEER_KEYRING_LOCKED_ACCOUNT.
#
# Processes are only stopped by the PIDs this script recorded (the dbus-daemons and
# the keyring daemons, found through the bus).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd -P)
INSTALL_LOG=${KEYRING_PEERS_INSTALL_LOG:-/tmp/cxa-keyring-peers-install.log}
APT_PACKAGES=(gnome-keyring libsecret-tools dbus-daemon dbus-bin)
PASSWORD=codex-auth-test
MARKER=.cxa-keyring-peers

say() { printf 'keyring-peers: %s\n' "$*"; }
die() { printf 'keyring-peers: ERROR: %s\n' "$*" >&2; exit 1; }

# apt_ensure
# shellcheck source=scripts/packages.sh
source "$REPO/scripts/packages.sh"

usage() {
    echo "usage: $0 install | up STATE_DIR | down STATE_DIR" >&2
    exit 2
}

install() {
    apt_ensure "$INSTALL_LOG" "${APT_PACKAGES[@]}" || die "apt-get failed (log: $INSTALL_LOG)"
    local t
    for t in dbus-daemon dbus-send gnome-keyring-daemon secret-tool; do
        command -v "$t" >/dev/null || die "$t missing after install"
    done
    say "installed: $(gnome-keyring-daemon --version 2>/dev/null | head -n1)"
}

# start_bus NAME: a session bus on STATE/NAME/bus, its own HOME and XDG_RUNTIME_DIR
# (where the keyring daemon keeps its files); records its PID.
start_bus() {
    local dir=$STATE/$1
    mkdir -p "$dir/home" "$dir/run"
    chmod 700 "$dir/run"
    HOME=$dir/home XDG_RUNTIME_DIR=$dir/run dbus-daemon --session --fork \
        --address="unix:path=$dir/bus" --print-pid=3 3>"$dir/dbus.pid" >/dev/null
    [ -S "$dir/bus" ] || die "no bus socket at $dir/bus"
}

# keyring NAME ARGS...: gnome-keyring-daemon on that bus, in its home.
keyring() {
    local dir=$STATE/$1
    shift
    HOME=$dir/home XDG_RUNTIME_DIR=$dir/run DBUS_SESSION_BUS_ADDRESS="unix:path=$dir/bus" \
        gnome-keyring-daemon "$@" --components=secrets >/dev/null 2>>"$dir/keyring.log"
}

# on NAME CMD...: a command on that bus.
on() {
    local dir=$STATE/$1
    shift
    HOME=$dir/home XDG_RUNTIME_DIR=$dir/run DBUS_SESSION_BUS_ADDRESS="unix:path=$dir/bus" "$@"
}

# keyring_pid NAME: the PID of the Secret Service on that bus (waits for it to register).
keyring_pid() {
    local out
    for _ in $(seq 1 100); do
        if out=$(on "$1" dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus / \
            org.freedesktop.DBus.GetConnectionUnixProcessID string:org.freedesktop.secrets 2>/dev/null); then
            # "   uint32 1234": the last word
            echo "${out##* }"
            return 0
        fi
        sleep 0.05
    done
    return 1
}

# The account Codex files the login of Codex home $1 under (see src/auth/os_keyring.rs).
account_of() {
    local real
    real=$(realpath "$1")
    printf 'cli|%s' "$(printf '%s' "$real" | sha256sum | cut -c1-16)"
}

up() {
    local t0 pid account
    t0=$(date +%s%N)
    mkdir -p "$STATE"
    touch "$STATE/$MARKER"

    start_bus unlocked
    printf '%s' "$PASSWORD" | keyring unlocked --unlock
    pid=$(keyring_pid unlocked) || die "the unlocked keyring did not come up ($STATE/unlocked/keyring.log)"
    echo "$pid" >"$STATE/unlocked/keyring.pid"
    printf 'x' | on unlocked secret-tool store --label=probe codex-auth-test probe ||
        die "cannot store in the unlocked keyring"

    # The locked one: unlocked first to make the login keyring and the entry, then the
    # daemon restarted without the password (the only headless way to lock it).
    start_bus locked
    printf '%s' "$PASSWORD" | keyring locked --unlock
    pid=$(keyring_pid locked) || die "the keyring on the locked bus did not come up"
    local home=$STATE/locked-codex-home
    mkdir -p "$home"
    printf 'cli_auth_credentials_store = "keyring"\n' >"$home/config.toml"
    account=$(account_of "$home")
    printf '{"auth_mode":"apikey","OPENAI_API_KEY":"sk-test-locked-keyring-0000000000"}' |
        on locked secret-tool store --label="$account@Codex Auth:default (keyring v3.6.3)" \
            application rust-keyring service "Codex Auth" target default username "$account" ||
        die "cannot store the entry for the locked keyring"
    kill "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    keyring locked --start --daemonize
    pid=$(keyring_pid locked) || die "the locked keyring did not come up"
    echo "$pid" >"$STATE/locked/keyring.pid"
    if on locked secret-tool lookup service "Codex Auth" username "$account" >/dev/null 2>&1; then
        die "the keyring on the locked bus is not locked"
    fi

    cat >"$STATE/keyring.env" <<EOF
PEER_KEYRING_BUS=unix:path=$STATE/unlocked/bus
PEER_KEYRING_LOCKED_BUS=unix:path=$STATE/locked/bus
PEER_KEYRING_LOCKED_HOME=$home
PEER_KEYRING_LOCKED_ACCOUNT=$account
EOF
    say "up in $((($(date +%s%N) - t0) / 1000000)) ms: unlocked and locked keyrings ($STATE/keyring.env)"
}

down() {
    [ -f "$STATE/$MARKER" ] || return 0
    local name f pid
    for name in unlocked locked; do
        for f in keyring.pid dbus.pid; do
            pid=$(cat "$STATE/$name/$f" 2>/dev/null || true)
            case $pid in '' | *[!0-9]*) continue ;; esac
            kill "$pid" 2>/dev/null || true
        done
    done
    rm -rf "$STATE"
    say "down"
}

[ $# -ge 1 ] || usage
case $1 in
    install) install ;;
    up)
        [ $# -eq 2 ] || usage
        STATE=$(realpath -m "$2")
        trap 'down' ERR
        up
        ;;
    down)
        [ $# -eq 2 ] || usage
        STATE=$(realpath -m "$2")
        down
        ;;
    *) usage ;;
esac
