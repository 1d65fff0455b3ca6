#!/usr/bin/env bash
# Give every web host of the inventory a ChatGPT session of its own, all at once: each
# host gets a device code, shown together here; enter them on your phone in any order,
# and each host is logged in as soon as its code is approved. Then replace the app
# container and carry its session over to the new one (moved, not copied: the old one
# no longer holds it, so the two never sign each other out).
#
#   ./rollout.sh                 # OLD and NEW name the containers (default app-v1, app-v2)
#
# LOGIN_FLAGS adds flags to the sign-in (the tests point it at their own issuer), and
# SSH_FLAGS ssh options (the tests give their own known_hosts).
set -euo pipefail
cd "$(dirname "$0")"
CODEX_AUTH=${CODEX_AUTH:-codex-auth}
OLD=${OLD:-app-v1}
NEW=${NEW:-app-v2}
read -r -a LOGIN <<<"${LOGIN_FLAGS:-}"
read -r -a SSH <<<"${SSH_FLAGS:-}"

"$CODEX_AUTH" push --inventory inventory.ini --limit web "${SSH[@]}" --login --device-auth "${LOGIN[@]}"
"$CODEX_AUTH" status --inventory inventory.ini --limit web "${SSH[@]}"

"$CODEX_AUTH" push --docker "$NEW" --from "docker:$OLD" --move
"$CODEX_AUTH" status --known "${SSH[@]}"
