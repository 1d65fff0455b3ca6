# Install auth.json on a POSIX target in one round trip; common.sh comes before it.
#
# stdin: magic and nonce (read_request), then the header lines: codex home or empty,
# force 0/1, dry-run 0/1, sha256 of the payload, payload length, take HOME from
# /etc/passwd 0/1, the user the command runs as if the client knows it, the login's
# method for forced_login_method (api, chatgpt or -), its workspace for
# forced_chatgpt_workspace_id (or empty), report Codex's version 0/1, seconds to wait
# for Codex's locks; then the payload itself. Nothing secret is ever in the command line.
#
# The payload lands in a temp file first and is checked; the replace then happens
# under Codex's own locks (auth.lock, then auth.json.lock, as Codex 0.171 takes them),
# and what is read back is read before they are released.
umask 077 ;
read_request codex-auth-install-3 ;
IFS= read -r dir ; IFS= read -r force ; IFS= read -r dry ; IFS= read -r want_sum ; IFS= read -r want_len ; IFS= read -r passwd_home ; IFS= read -r passwd_user ;
IFS= read -r want_method ; IFS= read -r want_ws ; IFS= read -r want_version ; IFS= read -r lock_wait ;
locate ;
# Codex there would refuse a login its forced settings exclude (and its exec would
# delete the file): not installed.
case $want_method in api|chatgpt) if [ -z "$forced_method" ] || [ "$forced_method" = "$want_method" ]; then :; else fail forced-login "$forced_method" ; fi ;; esac ;
if [ -n "$forced_ws" ] && [ "$want_method" = chatgpt ] && [ -n "$want_ws" ]; then
  case ",$forced_ws," in *",$want_ws,"*) ;; *) fail forced-workspace "$forced_ws" ;; esac ;
fi ;
# Codex there would not read the file: keyring (reads only the keyring), ephemeral
# (keeps logins in memory), auto with a keyring it can reach (an entry there wins).
# auto without one (the usual case over ssh and in containers) falls back to the file.
case $store in
  keyring|ephemeral) if [ "$force" = 1 ]; then :; else say outcome skipped ; cat >/dev/null 2>&1 ; finish ; fi ;;
  auto) keyring_reach ; if [ "$keyring" = unreachable ] || [ "$force" = 1 ]; then :; else say outcome skipped ; cat >/dev/null 2>&1 ; finish ; fi ;;
esac ;
# What is there now (told on dry runs; decided again under the locks).
look() {
  existing=none ;
  if [ -L "$f" ]; then existing=symlink ;
  elif [ -d "$f" ]; then fail not-a-file "$f" ;
  elif [ -e "$f" ]; then
    existing=different ;
    if [ -r "$f" ]; then sum_of "$f" ; if [ -n "$sum" ] && [ "$sum" = "$want_sum" ]; then existing=same ; fi ; fi ;
  fi ;
} ;
if [ "$dry" = 1 ]; then
  look ; say existing "$existing" ;
  if [ "$existing" = same ]; then say outcome unchanged ; else say outcome would-install ; fi ;
  cat >/dev/null 2>&1 ; finish ;
fi ;
if [ -d "$dir" ]; then chmod 700 "$dir" 2>/dev/null ; else e=$(mkdir -p "$dir" 2>&1) || fail write "create $dir: $e" ; fi ;
# The payload lands in a temp file created with O_EXCL (noclobber) in a directory only
# we can write: nothing planted at its name is followed. Its name carries our PID, so a
# run that died can be told from one still writing (clean_stale). A command's own error
# output is captured into the report: what the shell's start-up files print is not.
tmp=$dir/.auth.json.$$ ; set -C ;
e=$(cat 2>&1 > "$tmp") || fail write "write $tmp: $e" ;
set +C ;
sum_of "$tmp" ; got_sum=$sum ;
if [ -z "$sum" ]; then
  len_of "$tmp" ;
  if [ "$len" = "$want_len" ]; then :; else fail torn "$len of $want_len" ; fi ;
elif [ "$sum" = "$want_sum" ]; then :;
else fail torn sum ; fi ;
say received 1 ;
lock_codex ;
clean_stale ;
look ; say existing "$existing" ;
if [ "$existing" = same ]; then
  rm -f "$tmp" ; tmp= ;
  chmod 700 "$dir" 2>/dev/null ; chmod 600 "$f" 2>/dev/null ;
  say outcome unchanged ; say sum "$want_sum" ;
else
  if [ "$existing" = different ] && [ -r "$f" ]; then
    bak=$dir/.auth.json.bak.$$ ; set -C ;
    cat "$f" > "$bak" && set +C && mv -f "$bak" "$dir/auth.json.bak" && say backup "$dir/auth.json.bak" ;
    set +C ; rm -f "$bak" ;
  fi ;
  if [ -L "$f" ]; then rm -f "$f" ; fi ;
  # The commit point: a client that is gone by now makes this write fail (SIGPIPE),
  # and the rename does not happen.
  say committing 1 ;
  e=$(mv -f "$tmp" "$f" 2>&1) || fail write "replace $f: $e" ;
  tmp= ;
  say outcome installed ; say sum "$got_sum" ;
fi ;
# (Under the locks nothing else writes: the length ls reads back is of our file.)
modes ;
unlock_codex ;
codex_running ;
codex_verdict ;
keep_login_path ;
finish ;
