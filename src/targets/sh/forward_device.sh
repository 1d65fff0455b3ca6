# shellcheck shell=sh
# The host's own `codex login --device-auth` for `login --forward --device-auth`;
# common.sh comes before it (for find_codex). Its first line of stdin is an issuer
# base URL for Codex's hidden --experimental_issuer (tests), or empty. Then a watcher
# on stdin stops the process group when the connection goes away, as for the browser
# login. No tunnel: Codex there talks to the issuer itself. Exit 127: no codex.
IFS= read -r issuer ;
exec 3<&0 ;
find_codex ;
if [ -z "$codex" ]; then exit 127 ; fi ;
( cat <&3 >/dev/null 2>&1 ; kill -TERM 0 ) >/dev/null 2>&1 &
PATH=${codex%/*}:$PATH ; export PATH ;
if [ -n "$issuer" ]; then exec "$codex" login --device-auth --experimental_issuer "$issuer" </dev/null 3<&- ; fi ;
exec "$codex" login --device-auth </dev/null 3<&-
