# Report what login a POSIX target holds, in one round trip, touching nothing. Codex
# writes helper files into its home whenever it runs, so its verdict is taken in a
# scratch home that links to the real auth.json and config.toml.
# Read by `target::inspect`. Same quoting rules as install.sh: no single quotes,
# backslashes, exclamation marks or backquotes; every line ends where a space may
# join it to the next.
#
# stdin: three header lines (magic, codex home or empty, take HOME from /etc/passwd
# 0/1). stdout: key=value lines; the file itself (when there is one) follows a line
# auth_begin, exactly auth_len bytes long.
say() { printf "%s=%s" "$1" "$2"; echo; } ;
fail() { say error "$1"; say detail "$2"; exit 3; } ;
set -f ;
IFS= read -r magic || fail protocol "no request on stdin" ;
IFS= read -r dir ; IFS= read -r passwd_home ;
if [ "$magic" = codex-auth-inspect-1 ]; then :; else fail protocol "unexpected request" ; fi ;
uid=$(id -u) ;
if [ "$passwd_home" = 1 ]; then
  pw=$(grep "^[^:]*:[^:]*:$uid:" /etc/passwd 2>/dev/null | head -n 1) ;
  if [ -z "$pw" ]; then HOME= ; else HOME=$(echo "$pw" | cut -d: -f6) ; fi ;
fi ;
if [ -n "$dir" ]; then
  case $dir in "~") dir=$HOME ;; "~/"*) dir=$HOME/${dir#"~/"} ;; esac ;
  say home_from flag ;
elif [ -n "$CODEX_HOME" ]; then
  dir=$CODEX_HOME ; say home_from env ;
else
  if [ -z "$HOME" ] || [ "$HOME" = / ]; then fail no-home "uid $uid has no home directory (no passwd entry, or HOME is empty or /)" ; fi ;
  dir=$HOME/.codex ; say home_from default ;
fi ;
case $dir in /*) ;; *) dir=$(pwd)/$dir ;; esac ;
f=$dir/auth.json ;
login=${USER:-$LOGNAME} ; if [ -z "$login" ]; then login=$(id -un 2>/dev/null) ; fi ;
say dir "$dir" ; say uid "$uid" ; say login "$login" ;
store=file ;
if [ -f "$dir/config.toml" ]; then
  line=$(sed -n -e "/^[[:space:]]*[[]/q" -e "/^[[:space:]]*cli_auth_credentials_store[[:space:]]*=/p" "$dir/config.toml" 2>/dev/null | head -n 1) ;
  v=${line#*=} ; v=${v%%#*} ;
  case $v in *keyring*) store=keyring ;; *auto*) store=auto ;; *ephemeral*) store=ephemeral ;; esac ;
fi ;
say store "$store" ;
if command -v codex >/dev/null 2>&1; then
  t=$(mktemp -d 2>/dev/null) ;
  if [ -n "$t" ]; then
    if [ -e "$f" ]; then ln -s "$f" "$t/auth.json" ; fi ;
    if [ -e "$dir/config.toml" ]; then ln -s "$dir/config.toml" "$t/config.toml" ; fi ;
    st=$(CODEX_HOME="$t" codex login status 2>&1 < /dev/null) ; rc=$? ; rm -rf "$t" ;
  else
    st=$(CODEX_HOME="$dir" codex login status 2>&1 < /dev/null) ; rc=$? ;
  fi ;
  say codex_rc "$rc" ;
  say codex_status "$(echo "$st" | grep -E "Logged in|Not logged in|rror" | head -n 1)" ;
else
  say codex_rc none ;
fi ;
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
