#!/usr/bin/env bash
# One ChatGPT sign-in for this machine and a few hosts, kept alive for months.
#
# This machine keeps the session (its refresh token); each host gets an access-only copy
# (the access token alone: Codex there works, and can never rotate or revoke the
# session). A systemd user timer runs `codex-auth sync` every day: it refreshes the
# session here when its access token has under 3 days left, and writes the new access
# token to every host. A host that is down catches up on the next run.
#
#   ./setup.sh devbox build-1 build-2
#
# SSH_CONFIG names an ssh config file (-F) for the hosts; the timer uses it too.
# EVERY changes the schedule (default 1d). Undo: codex-auth sync --uninstall-timer
set -euo pipefail
CODEX_AUTH=${CODEX_AUTH:-codex-auth}
[ $# -gt 0 ] || { echo "usage: $0 HOST..." >&2; exit 2; }
ssh_flags=()
if [ -n "${SSH_CONFIG:-}" ]; then
    ssh_flags=(-F "$SSH_CONFIG")
fi
places=()
for host in "$@"; do
    places+=(--ssh "$host")
done

"$CODEX_AUTH" push "${places[@]}" "${ssh_flags[@]}" --access-only
"$CODEX_AUTH" sync "${ssh_flags[@]}"
# Without a user session bus (a plain ssh login), the units are written and this says
# what to run: keep going, the first sync above already ran.
"$CODEX_AUTH" sync --install-timer --every "${EVERY:-1d}" "${ssh_flags[@]}" ||
    echo "setup.sh: enable the timer as shown above" >&2
"$CODEX_AUTH" status "${places[@]}" "${ssh_flags[@]}"
