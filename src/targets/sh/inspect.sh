# shellcheck shell=sh
# Report what login a POSIX target holds, in one round trip, touching nothing;
# common.sh comes before it.
#
# stdin: magic and nonce (read_request), then four header lines (codex home or empty,
# take HOME from /etc/passwd 0/1, the user the command runs as if the client knows it,
# report Codex's version 0/1). The file itself (when there is one) follows a framed body
# line, auth_len bytes long, after the end of the report.
read_request codex-auth-inspect-3 ;
IFS= read -r dir ; IFS= read -r passwd_home ; IFS= read -r passwd_user ; IFS= read -r want_version ;
locate ;
if [ "$store" = auto ]; then keyring_reach ; fi ;
codex_running ;
codex_verdict ;
kind=none ;
if [ -L "$f" ]; then kind=symlink ; elif [ -d "$f" ]; then kind=dir ; elif [ -e "$f" ]; then kind="file" ; fi ;
say kind "$kind" ;
if [ -f "$f" ] && [ -r "$f" ]; then
  # shellcheck disable=SC2046
  set -- $(ls -lnL "$f") ; say file_mode "$1" ; say file_uid "$3" ;
  # shellcheck disable=SC2046
  set -- $(wc -c < "$f") ; say auth_len "$1" ;
  say end 1 ; printf "%s body" "$nonce" ; echo ; cat "$f" ; exit 0 ;
elif [ -e "$f" ]; then
  say unreadable 1 ;
fi ;
finish ;
