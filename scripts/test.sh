#!/usr/bin/env bash
# The one test command (README, CI): install what the peers need, start them once,
# run every test against them, and stop them again, whatever happens.
#   scripts/test.sh [cargo test args...]
# Peers: OpenSSH sshd on loopback plus a two-namespace ProxyJump chain (peers.sh),
# a private dockerd with locally built images and podman's API service
# (docker-peers.sh), GNOME Keyring on private session buses (keyring-peers.sh), and the
# real Codex CLI (npm 0.171 and PyPI 0.147) as the judge.
set -euo pipefail
cd "$(dirname "$0")/.."

remove_test_users() {
    # Users the integration tests create are named cxa<pid>x<n>; an interrupted run
    # can leave some behind.
    local u
    awk -F: '/^cxa[0-9]+x[0-9]+:/ {print $1}' /etc/passwd | while IFS= read -r u; do
        userdel -f -r "$u" >/dev/null 2>&1 || true
    done
}

bash scripts/peers.sh install
bash scripts/docker-peers.sh install
bash scripts/keyring-peers.sh install
ssh_state=$(mktemp -d /tmp/codex-auth-ssh.XXXXXX)
docker_state=$(mktemp -d /tmp/codex-auth-docker.XXXXXX)
keyring_state=$(mktemp -d /tmp/codex-auth-keyring.XXXXXX)
cleanup() {
    bash scripts/keyring-peers.sh down "$keyring_state" || true
    bash scripts/docker-peers.sh down "$docker_state" || true
    bash scripts/peers.sh down "$ssh_state" || true
    remove_test_users
    rm -rf "$ssh_state"
}
trap cleanup EXIT
remove_test_users
bash scripts/peers.sh up "$ssh_state"
bash scripts/docker-peers.sh up "$docker_state"
bash scripts/keyring-peers.sh up "$keyring_state"

export CODEX_AUTH_PEERS="$ssh_state/peers.env"
export CODEX_AUTH_DOCKER="$docker_state/docker.env"
export CODEX_AUTH_KEYRING="$keyring_state/keyring.env"
cargo test "$@"
