# shellcheck shell=sh
# Codex's own verdict on the host after `login --forward`; common.sh comes before it
# (for find_codex): `codex login status`, both streams, and its exit status.
find_codex ;
if [ -z "$codex" ]; then exit 127 ; fi ;
PATH=${codex%/*}:$PATH ; export PATH ;
exec "$codex" login status 2>&1 </dev/null
