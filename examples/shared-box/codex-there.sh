#!/usr/bin/env bash
# Use Codex on a shared box (a team's build host, a customer's VM) without leaving your
# login there.
#
#   ./codex-there.sh shared-box                  # the interactive Codex on shared-box
#   ./codex-there.sh shared-box exec "..."       # one `codex exec` there
#
# Your login is lent to that one Codex: an access-only copy (it can use your session
# until its access token expires, and can never rotate, revoke or outlive it) in a
# private Codex home on the box (0700, an unpredictable name) that also sees the box's
# own config.toml, AGENTS.md and sessions. When Codex exits, the copy is removed; when
# the connection drops or this script is killed, the box removes it itself. Before and
# after, `status` shows that no login of yours is installed there.
#
# HOST is any ssh destination: an alias of ~/.ssh/config, user@host, a ProxyJump chain.
# SSH_CONFIG names another ssh config (-F).
set -euo pipefail
host=${1:?usage: codex-there.sh HOST [codex arguments...]}
shift
CODEX_AUTH=${CODEX_AUTH:-codex-auth}
ssh_flags=()
if [ -n "${SSH_CONFIG:-}" ]; then
    ssh_flags=(-F "$SSH_CONFIG")
fi

"$CODEX_AUTH" status --ssh "$host" "${ssh_flags[@]}" -q >&2 || true
status=0
"$CODEX_AUTH" run --ssh "$host" "${ssh_flags[@]}" -- codex "$@" || status=$?
"$CODEX_AUTH" status --ssh "$host" "${ssh_flags[@]}" -q >&2 || true
exit "$status"
