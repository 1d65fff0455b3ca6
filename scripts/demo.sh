#!/usr/bin/env bash
# A self-contained demo of the main job, no remote machine needed: start a throwaway
# sshd on 127.0.0.1 (as you, on a free port, with its own host key), push a test
# API-key login into a scratch CODEX_HOME through it, show the result, push again
# (unchanged), then stop the sshd. Your own ~/.codex is never touched.
#
#   scripts/demo.sh
#
# The codex-auth it runs: $CODEX_AUTH if set; else the one on PATH when it is this
# checkout's version (after `cargo install --path .`, no second build); else this
# checkout's release build, made once (and again only when a source is newer).
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
if ! need sshd || ! need ssh-keygen; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "demo: installing openssh-server..."
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server openssh-client >/dev/null
    else
        echo "demo: needs OpenSSH's sshd and ssh-keygen (Debian/Ubuntu: sudo apt-get install openssh-server)" >&2
        exit 1
    fi
fi
SSHD=$(command -v sshd || echo /usr/sbin/sshd)

# The version this checkout builds (the [package] version of Cargo.toml).
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
same_version() { [ "$("$1" --version 2>/dev/null)" = "codex-auth $version" ]; }
# Whether the release build is newer than every source it is built from.
release_current() {
    local bin=target/release/codex-auth
    [ -x "$bin" ] && same_version "$bin" &&
        [ -z "$(find src Cargo.toml Cargo.lock -newer "$bin" -print -quit 2>/dev/null)" ]
}
if [ -n "${CODEX_AUTH:-}" ]; then
    BIN=$CODEX_AUTH
elif installed=$(command -v codex-auth) && same_version "$installed"; then
    BIN=$installed
else
    if ! release_current; then
        echo "demo: building codex-auth $version (release, once)..."
        cargo build --release -q
    fi
    BIN=$PWD/target/release/codex-auth
fi
echo "demo: using $BIN ($("$BIN" --version))"

work=$(mktemp -d "${TMPDIR:-/tmp}/codex-auth-demo.XXXXXX")
sshd_pid=
cleanup() {
    if [ -n "$sshd_pid" ]; then kill "$sshd_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 22999)
me=$(id -un)
ssh-keygen -q -N '' -t ed25519 -f "$work/host_key"
ssh-keygen -q -N '' -t ed25519 -f "$work/client_key"
cp "$work/client_key.pub" "$work/authorized_keys"
mkdir -p /run/sshd 2>/dev/null || true
cat >"$work/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $work/host_key
PidFile $work/sshd.pid
AuthorizedKeysFile $work/authorized_keys
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
EOF
"$SSHD" -D -e -f "$work/sshd_config" 2>"$work/sshd.log" &
sshd_pid=$!
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done

echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$work/host_key.pub")" >"$work/known_hosts"
cat >"$work/ssh_config" <<EOF
Host demo-host
  HostName 127.0.0.1
  Port $port
  User $me
  IdentityFile $work/client_key
  IdentitiesOnly yes
  UserKnownHostsFile $work/known_hosts
  StrictHostKeyChecking yes
EOF

remote_home="$work/remote/.codex"
echo
echo "demo: a throwaway sshd is listening on 127.0.0.1:$port; pushing a test API key to it:"
echo "  \$ printf 'sk-demo-...' | codex-auth push --ssh demo-host -F ssh_config --codex-home $remote_home --api-key-stdin"
echo
printf 'sk-demo-0000000000000000000000000000demo1\n' |
    "$BIN" push --ssh demo-host -F "$work/ssh_config" --codex-home "$remote_home" --api-key-stdin
echo
echo "demo: what the target now has (directory 0700, file 0600, written atomically):"
ls -la "$remote_home"
echo
echo "demo: pushing the same login again changes nothing:"
printf 'sk-demo-0000000000000000000000000000demo1\n' |
    "$BIN" push --ssh demo-host -F "$work/ssh_config" --codex-home "$remote_home" --api-key-stdin
echo
echo "demo: and as JSON, for scripts:"
printf 'sk-demo-0000000000000000000000000000demo2\n' |
    "$BIN" push --ssh demo-host -F "$work/ssh_config" --codex-home "$remote_home" --api-key-stdin --json -q
echo
echo "demo: done (the sshd and every file of the demo are removed now)."
