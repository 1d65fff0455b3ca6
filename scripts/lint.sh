#!/usr/bin/env bash
# The lint gates CI runs beside the test command: formatting, clippy with warnings
# denied, rustdoc with warnings denied, and shellcheck on every shell script, the
# scripts shipped to targets included (each checked as it runs there: after common.sh).
#   scripts/lint.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/packages.sh
source scripts/packages.sh

if ! command -v shellcheck >/dev/null 2>&1 || ! command -v busybox >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || { echo "lint: shellcheck or busybox is missing (apt-get install shellcheck busybox-static)" >&2; exit 1; }
    apt_ensure /tmp/codex-auth-lint-install.log shellcheck busybox-static
fi

echo "lint: cargo fmt --check"
cargo fmt --all -- --check
echo "lint: cargo clippy --all-targets -- -D warnings"
cargo clippy --quiet --all-targets -- -D warnings
echo "lint: cargo doc (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --quiet --no-deps --document-private-items
echo "lint: shellcheck"
shellcheck .ci/run scripts/*.sh docker/test-images/rootfs.sh examples/*/*.sh
# Every target script runs after common.sh, as one script. common.sh is a library: a
# script that calls only some of its functions leaves the others unreachable (SC2317).
# Each is parsed by the shells targets have too (their joined one-line forms are checked
# by the unit tests).
shipped=src/targets/script/sh
for script in "$shipped"/*.sh; do
    case $script in
        */common.sh) continue ;;
    esac
    cat "$shipped/common.sh" "$script" | shellcheck -s sh -e SC2317 -
    for parser in sh dash "busybox ash"; do
        # shellcheck disable=SC2086
        cat "$shipped/common.sh" "$script" | $parser -n || { echo "lint: $parser -n $script" >&2; exit 1; }
    done
done
echo "lint: clean"
