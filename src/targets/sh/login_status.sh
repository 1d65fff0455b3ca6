# shellcheck shell=sh
# Codex's own verdict on the host after `login --forward` (same quoting rules as
# common.sh): `codex login status`, both streams.
codex login status 2>&1 </dev/null
