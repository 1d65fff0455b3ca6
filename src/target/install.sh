# Install auth.json on a POSIX target in one round trip; common.sh comes before it.
#
# It runs as `sh -c '<this script, joined into one line>'` under whatever login shell the
# user has (bash, zsh, fish, csh), so it must not contain single quotes, backslashes,
# exclamation marks or backquotes, and every line must end where a space may join it
# to the next (after ; then do else { in ;; | && ||). Unit tests check both.
#
# stdin: seven header lines (magic, codex home or empty, force 0/1, dry-run 0/1,
# sha256 of the payload, payload length, take HOME from /etc/passwd 0/1), then the
# payload itself. Nothing secret is
# ever in the command line. stdout: key=value lines for the client to parse.
classify() { case $2 in *"No space"*) fail disk-full "$1: no space left on device" ;; *"Read-only"*) fail read-only "$1: read-only file system" ;; *"ermission denied"*|*"Operation not permitted"*) fail permission-denied "$1: permission denied" ;; *) fail io "$1: $2" ;; esac; } ;
sum_of() { if command -v sha256sum >/dev/null 2>&1; then set -- $(sha256sum < "$1") ; elif command -v shasum >/dev/null 2>&1; then set -- $(shasum -a 256 < "$1") ; elif command -v openssl >/dev/null 2>&1; then set -- $(openssl dgst -sha256 -r < "$1") ; elif command -v sha256 >/dev/null 2>&1; then set -- $(sha256 -q < "$1") ; else set -- "" ; fi ; echo "$1" ; } ;
len_of() { set -- $(wc -c < "$1") ; echo "$1" ; } ;
umask 077 ;
IFS= read -r magic || fail protocol "no request on stdin" ;
IFS= read -r dir ; IFS= read -r force ; IFS= read -r dry ; IFS= read -r want_sum ; IFS= read -r want_len ; IFS= read -r passwd_home ;
if [ "$magic" = codex-auth-install-1 ]; then :; else fail protocol "unexpected request" ; fi ;
locate ;
if [ "$store" = keyring ] || [ "$store" = auto ]; then
  if [ "$force" = 1 ]; then :; else say outcome skipped ; cat >/dev/null 2>&1 ; exit 0 ; fi ;
fi ;
existing=none ;
if [ -L "$f" ]; then existing=symlink ;
elif [ -d "$f" ]; then fail not-a-file "$f is a directory" ;
elif [ -e "$f" ]; then
  existing=different ;
  if [ -r "$f" ] && [ "$(sum_of "$f")" = "$want_sum" ] && [ "$(len_of "$f")" = "$want_len" ]; then existing=same ; fi ;
fi ;
say existing "$existing" ;
if [ "$dry" = 1 ]; then
  if [ "$existing" = same ]; then say outcome unchanged ; else say outcome would-install ; fi ;
  cat >/dev/null 2>&1 ; exit 0 ;
fi ;
if [ "$existing" = same ]; then
  cat >/dev/null 2>&1 ;
  set -- $(ls -ln "$f") ; if [ "$1" = -rw------- ]; then :; else chmod 600 "$f" 2>/dev/null ; fi ;
  set -- $(ls -lnd "$dir") ; case $1 in drwx------*) ;; *) chmod 700 "$dir" 2>/dev/null ;; esac ;
  say outcome unchanged ; say sum "$want_sum" ;
else
  if [ -d "$dir" ]; then :; else err=$(mkdir -p "$dir" 2>&1) || classify "cannot create $dir" "$err" ; fi ;
  chmod 700 "$dir" 2>/dev/null ;
  if command -v mktemp >/dev/null 2>&1; then
    tmp=$(mktemp "$dir/.auth.json.XXXXXX" 2>&1) || classify "cannot write in $dir" "$tmp" ;
  else
    tmp=$dir/.auth.json.$$ ; err=$( { set -C ; : > "$tmp" ; } 2>&1 ) || classify "cannot write in $dir" "$err" ;
  fi ;
  err=$( { cat > "$tmp" ; } 2>&1 ) || { rm -f "$tmp" ; classify "cannot write $tmp" "$err" ; } ;
  got_sum=$(sum_of "$tmp") ;
  if [ -z "$got_sum" ]; then
    got_len=$(len_of "$tmp") ;
    if [ "$got_len" = "$want_len" ]; then :; else rm -f "$tmp" ; fail torn "received $got_len of $want_len bytes; nothing was replaced" ; fi ;
  elif [ "$got_sum" = "$want_sum" ]; then :;
  else rm -f "$tmp" ; fail torn "the received content does not match what was sent (connection cut short?); nothing was replaced" ; fi ;
  if [ "$existing" = different ] && [ -r "$f" ]; then
    bak=$(mktemp "$dir/.auth.json.bak.XXXXXX" 2>/dev/null) && cat "$f" > "$bak" && chmod 600 "$bak" && mv -f "$bak" "$dir/auth.json.bak" && say backup "$dir/auth.json.bak" ;
  fi ;
  if [ -L "$f" ]; then rm -f "$f" ; fi ;
  err=$(mv -f "$tmp" "$f" 2>&1) || { rm -f "$tmp" ; classify "cannot replace $f" "$err" ; } ;
  say outcome installed ; say sum "$got_sum" ;
fi ;
set -- $(ls -ln "$f") ; say file_mode "$1" ; say file_uid "$3" ; say len "$5" ;
set -- $(ls -lnd "$dir") ; say dir_mode "$1" ; say dir_uid "$3" ;
codex_verdict ;
exit 0 ;
