# shellcheck shell=sh
# forward_login.sh: the host's own `codex login`, for `login --forward` (common.sh comes
# first, for find_codex). Its output streams back as it comes; exit 127: no codex to
# run. A watcher on stdin stops the process group when the connection goes away (sshd
# then closes stdin), so no login server is left behind; `codex login` itself runs in
# the foreground.

exec 3<&0
find_codex
if [ -z "$codex" ]; then
    exit 127
fi
(
    cat <&3 >/dev/null 2>&1
    kill -TERM 0
) >/dev/null 2>&1 &
PATH=${codex%/*}:$PATH
export PATH
exec "$codex" login </dev/null 3<&-
