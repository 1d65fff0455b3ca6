# shellcheck shell=sh
# Install auth.json on a POSIX target in one round trip; common.sh comes before it.
#
# stdin: magic and nonce (read_request), then six header lines (codex home or empty,
# force 0/1, dry-run 0/1, sha256 of the payload, payload length, take HOME from
# /etc/passwd 0/1, the user the command runs as if the client knows it), then the
# payload itself. Nothing secret is ever in the command line.
hash_tool= ;
for h in sha256sum shasum openssl sha256 ; do if command -v $h >/dev/null 2>&1; then hash_tool=$h ; break ; fi ; done ;
sum_of() { case $hash_tool in sha256sum) sum=$(sha256sum < "$1") ;; shasum) sum=$(shasum -a 256 < "$1") ;; openssl) sum=$(openssl dgst -sha256 -r < "$1") ;; sha256) sum=$(sha256 -q < "$1") ;; *) sum= ;; esac ; sum=${sum%% *} ; } ;
# shellcheck disable=SC2086
len_of() { len=$(wc -c < "$1") ; set -- $len ; len=$1 ; } ;
# shellcheck disable=SC2046
modes() { set -- $(cd "$dir" && LC_ALL=C ls -lnd . auth.json) ; say dir_mode "$1" ; say dir_uid "$3" ; shift 9 ; say file_mode "$1" ; say file_uid "$3" ; say len "$5" ; } ;
umask 077 ;
read_request codex-auth-install-2 ;
IFS= read -r dir ; IFS= read -r force ; IFS= read -r dry ; IFS= read -r want_sum ; IFS= read -r want_len ; IFS= read -r passwd_home ; IFS= read -r passwd_user ;
locate ;
if [ "$store" = keyring ] || [ "$store" = auto ]; then
  if [ "$force" = 1 ]; then :; else say outcome skipped ; cat >/dev/null 2>&1 ; exit 0 ; fi ;
fi ;
existing=none ;
if [ -L "$f" ]; then existing=symlink ;
elif [ -d "$f" ]; then fail not-a-file "$f is a directory" ;
elif [ -e "$f" ]; then
  existing=different ;
  if [ -r "$f" ]; then sum_of "$f" ; if [ -n "$sum" ] && [ "$sum" = "$want_sum" ]; then existing=same ; fi ; fi ;
fi ;
say existing "$existing" ;
if [ "$dry" = 1 ]; then
  if [ "$existing" = same ]; then say outcome unchanged ; else say outcome would-install ; fi ;
  cat >/dev/null 2>&1 ; exit 0 ;
fi ;
if [ "$existing" = same ]; then
  cat >/dev/null 2>&1 ;
  chmod 700 "$dir" 2>/dev/null ; chmod 600 "$f" 2>/dev/null ;
  say outcome unchanged ; say sum "$want_sum" ;
else
  if [ -d "$dir" ]; then chmod 700 "$dir" 2>/dev/null ; else mkdir -p "$dir" || fail write "cannot create $dir" ; fi ;
  # The temp file is created with O_EXCL (noclobber) in a directory only we can write:
  # nothing planted at its name is followed.
  tmp=$dir/.auth.json.$$ ; set -C ;
  cat > "$tmp" || { rm -f "$tmp" ; fail write "cannot write $tmp" ; } ;
  set +C ;
  sum_of "$tmp" ;
  if [ -z "$sum" ]; then
    len_of "$tmp" ;
    if [ "$len" = "$want_len" ]; then :; else rm -f "$tmp" ; fail torn "received $len of $want_len bytes; nothing was replaced" ; fi ;
  elif [ "$sum" = "$want_sum" ]; then :;
  else rm -f "$tmp" ; fail torn "the received content does not match what was sent (connection cut short?); nothing was replaced" ; fi ;
  if [ "$existing" = different ] && [ -r "$f" ]; then
    bak=$(mktemp "$dir/.auth.json.bak.XXXXXX" 2>/dev/null) && cat "$f" > "$bak" && mv -f "$bak" "$dir/auth.json.bak" && say backup "$dir/auth.json.bak" ;
  fi ;
  if [ -L "$f" ]; then rm -f "$f" ; fi ;
  mv -f "$tmp" "$f" || { rm -f "$tmp" ; fail write "cannot replace $f" ; } ;
  say outcome installed ; say sum "$sum" ;
fi ;
modes ;
codex_verdict ;
exit 0 ;
