# Report what login a POSIX target holds, in one round trip, touching nothing;
# common.sh comes before it.
# Read by `target::inspect`. Same quoting rules as install.sh: no single quotes,
# backslashes, exclamation marks or backquotes; every line ends where a space may
# join it to the next.
#
# stdin: four header lines (magic, codex home or empty, take HOME from /etc/passwd
# 0/1, the user the command runs as if the client knows it). stdout: key=value lines; the file itself (when there is one) follows a line
# auth_begin, exactly auth_len bytes long.
IFS= read -r magic || fail protocol "no request on stdin" ;
IFS= read -r dir ; IFS= read -r passwd_home ; IFS= read -r passwd_user ;
if [ "$magic" = codex-auth-inspect-1 ]; then :; else fail protocol "unexpected request" ; fi ;
locate ;
codex_verdict ;
kind=none ;
if [ -L "$f" ]; then kind=symlink ; elif [ -d "$f" ]; then kind=dir ; elif [ -e "$f" ]; then kind=file ; fi ;
say kind "$kind" ;
if [ -f "$f" ] && [ -r "$f" ]; then
  set -- $(ls -lnL "$f") ; say file_mode "$1" ; say file_uid "$3" ;
  set -- $(wc -c < "$f") ; say auth_len "$1" ;
  echo auth_begin ; cat "$f" ;
elif [ -e "$f" ]; then
  say unreadable 1 ;
fi ;
exit 0 ;
