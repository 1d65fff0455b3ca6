# shellcheck shell=sh
# forward_login.sh: the host's own `codex login`, for `login --forward` (common.sh
# comes first, for codex_until_hangup). Its output streams back as it comes; exit 127:
# no codex to run. The watcher codex_until_hangup starts stops the process group when
# the connection goes away, so no login server is left behind; `codex login` itself
# runs in the foreground.

codex_until_hangup
exec "$codex" login </dev/null 3<&-
