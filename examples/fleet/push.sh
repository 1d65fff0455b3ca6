#!/usr/bin/env bash
# Give every build host the team's API key (one connection each, through the bastion,
# all at once), then show what each of them now holds and what its Codex says.
#
#   OPENAI_API_KEY=sk-... ./push.sh
#
# An API key may sit on many machines. For ChatGPT logins, give each host its own
# session instead: `codex-auth push ... --login --device-auth`.
set -euo pipefail
cd "$(dirname "$0")"
CODEX_AUTH=${CODEX_AUTH:-codex-auth}
HOSTS=(--ssh build-1 --ssh build-2)

# The key comes from the environment (a CI secret, a password manager), on stdin only.
printenv OPENAI_API_KEY | "$CODEX_AUTH" push -F ssh_config "${HOSTS[@]}" --api-key-stdin
"$CODEX_AUTH" status -F ssh_config "${HOSTS[@]}"
