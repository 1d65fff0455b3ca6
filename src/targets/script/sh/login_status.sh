# shellcheck shell=sh
# login_status.sh: Codex's own verdict on a host after `login --forward` (common.sh comes
# first, for find_codex): `codex login status`, both streams, and its exit status. Exit
# 127: no codex to run.

find_codex
if [ -z "$codex" ]; then
    exit 127
fi
PATH=${codex%/*}:$PATH
export PATH
exec "$codex" login status 2>&1 </dev/null
