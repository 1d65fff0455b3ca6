# Remove the login from a POSIX target in one round trip; common.sh comes before it.
#
# stdin: magic and nonce (read_request), then the header lines: codex home or empty,
# take HOME from /etc/passwd 0/1, the user the command runs as if the client knows it,
# keep auth.json.bak 0/1, dry-run 0/1, seconds to wait for Codex's locks, report
# Codex's version 0/1. Nothing else: a logout sends no secret.
#
# Under Codex's own locks, as an install: a symlink at the path is removed, never
# followed; a directory there is refused; auth.json.bak goes too unless kept. Then
# Codex itself is asked what it sees now. The login removed (or, on a dry run, the one
# there) follows the report as a framed body, auth_len bytes long, so the client knows
# what it took away (to report it, and to revoke exactly that session) without a second
# round trip. It is renamed aside under the locks and deleted once sent; a run cut off
# meanwhile leaves it as .auth.json.PID, which the next push or logout removes.
umask 077 ;
read_request codex-auth-remove-1 ;
IFS= read -r dir ; IFS= read -r passwd_home ; IFS= read -r passwd_user ; IFS= read -r keep_backup ; IFS= read -r dry ; IFS= read -r lock_wait ; IFS= read -r want_version ;
locate ;
if [ -L "$f" ]; then :; elif [ -d "$f" ]; then fail not-a-file "$f" ; fi ;
bak=$dir/auth.json.bak ;
# The report ends, then the login follows it.
send_login() {
  len_of "$1" ; say auth_len "$len" ; say end 1 ;
  printf "%s body" "$nonce" ; echo ; cat "$1" ;
} ;
if [ "$dry" = 1 ]; then
  if [ -e "$f" ] || [ -L "$f" ]; then say outcome would-remove ; else say outcome absent ; fi ;
  if [ "$keep_backup" = 1 ]; then :; elif [ -e "$bak" ]; then say backup "$bak" ; fi ;
  if [ -L "$f" ]; then finish ; fi ;
  if [ -f "$f" ] && [ -r "$f" ]; then send_login "$f" ; exit 0 ; fi ;
  finish ;
fi ;
if [ -d "$dir" ]; then :; else say outcome absent ; codex_verdict ; finish ; fi ;
lock_codex ;
clean_stale ;
if [ -L "$f" ]; then
  e=$(rm -f "$f" 2>&1) || fail write "remove $f: $e" ; say previous symlink ; say outcome removed ;
elif [ -e "$f" ]; then
  tmp=$dir/.auth.json.$$ ;
  e=$(mv -f "$f" "$tmp" 2>&1) || fail write "remove $f: $e" ; say previous file ; say outcome removed ;
else
  say outcome absent ;
fi ;
if [ "$keep_backup" = 1 ]; then :; elif [ -e "$bak" ] || [ -L "$bak" ]; then
  e=$(rm -f "$bak" 2>&1) || fail write "remove $bak: $e" ; say backup "$bak" ;
fi ;
unlock_codex ;
codex_running ;
codex_verdict ;
if [ -n "$tmp" ]; then send_login "$tmp" ; rm -f "$tmp" ; exit 0 ; fi ;
finish ;
