#!/usr/bin/env bash
# The one test command (README, CI): install what the peers need, start them once,
# run every test against them, and stop them again, whatever happens.
#   scripts/test.sh [cargo test args...]
set -euo pipefail
cd "$(dirname "$0")/.."

remove_test_users() {
    # Users the integration tests create are named cxa<pid>x<n>; an interrupted run
    # can leave some behind.
    local u
    for u in $(awk -F: '/^cxa[0-9]+x[0-9]+:/ {print $1}' /etc/passwd); do
        userdel -r "$u" >/dev/null 2>&1 || true
    done
}

bash scripts/peers.sh install
state=$(mktemp -d /tmp/codex-auth-peers.XXXXXX)
cleanup() {
    bash scripts/peers.sh down "$state" || true
    remove_test_users
    rm -rf "$state"
}
trap cleanup EXIT
remove_test_users
bash scripts/peers.sh up "$state"

export CODEX_AUTH_PEERS="$state/peers.env"
cargo test "$@"
