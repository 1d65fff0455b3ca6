# shellcheck shell=sh
# forward_device.sh: the host's own `codex login --device-auth`, for `login --forward
# --device-auth` (common.sh comes first, for codex_until_hangup). No tunnel: Codex there
# asks the issuer for its code and polls it itself; its output streams back as it
# comes. Exit 127: no codex to run.
#
# The request (targets/script/request.rs, ForwardDevice): issuer, a base URL
# for Codex's hidden --experimental_issuer (tests), or empty. After it, stdin stays
# open: a watcher stops the process group when the connection goes away, as for the
# browser login.

read_request codex-auth-forward-device-2
codex_until_hangup
if [ -n "$req_issuer" ]; then
    exec "$codex" login --device-auth --experimental_issuer "$req_issuer" </dev/null 3<&-
fi
exec "$codex" login --device-auth </dev/null 3<&-
