# shellcheck shell=sh
# The host's own `codex login` for `login --forward`, run by sh under the user's login
# shell (same quoting rules as common.sh). A watcher on stdin stops the process group
# when the connection goes away (sshd then closes stdin), so no login server is left
# behind; `codex login` itself runs in the foreground. Exit 127: no codex to run.
exec 3<&0 ;
command -v codex >/dev/null 2>&1 || exit 127 ;
( cat <&3 >/dev/null 2>&1 ; kill -TERM 0 ) >/dev/null 2>&1 &
exec codex login </dev/null 3<&-
