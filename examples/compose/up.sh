#!/usr/bin/env bash
# Start the stack, then give its app container a ChatGPT session of its own: you sign
# in once (the browser opens here), the login goes straight into the container as its
# own user (node), 0700/0600, checked and judged by the Codex inside, and is never
# written on this machine. Your own login keeps working: the two never share a
# session, so a refresh in the container cannot sign you out.
#
#   ./up.sh
#   LOGIN_FLAGS=--device-auth ./up.sh      # sign in with a code on any device instead
#
# COMPOSE chooses the Compose command (default `docker compose`).
set -euo pipefail
cd "$(dirname "$0")"
CODEX_AUTH=${CODEX_AUTH:-codex-auth}
read -r -a COMPOSE <<<"${COMPOSE:-docker compose}"

read -r -a LOGIN <<<"${LOGIN_FLAGS:-}"

"${COMPOSE[@]}" up -d
"$CODEX_AUTH" push --docker "$("${COMPOSE[@]}" ps -q app)" --login "${LOGIN[@]}"
