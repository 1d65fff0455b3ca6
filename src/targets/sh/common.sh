# shellcheck shell=sh
# Shared by every target script: prepended to it before both are joined into one line
# (see script.rs). Rules for every line here and in the scripts: no single quotes,
# backslashes, exclamation marks or backquotes; every line ends where a space may join
# it to the next (after ; then do else { in ;; | && ||).
#
# read_request MAGIC    read the first two request lines (magic, nonce) from stdin
# say KEY VALUE         one report line, framed by the nonce: only lines carrying it are
#                       read, so start-up files that print cannot be mistaken for us
# fail CLASS DETAIL     report an error and stop (draining stdin first); class write
#                       means a command failed and its stderr says why
# (Every process forked costs the Docker engine or sshd CPU per target, so the
# scripts use builtins where they can: read loops instead of grep and cut.)
# locate                from $dir (--codex-home or empty), $passwd_home and
#                       $passwd_user (whom the exec runs as, when the client knows):
#                       set $dir, $f (auth.json), $uid, $store, and report them
# codex_verdict         Codex's own `codex login status`, when codex is on PATH, taken
#                       in a scratch home linked to the real files (Codex writes
#                       helper files into whatever home it runs in); its output lines
#                       are reported as codex_line, the client picks the verdict
nonce= ;
say() { printf "%s %s=%s" "$nonce" "$1" "$2"; echo; } ;
fail() { say error "$1"; say detail "$2"; cat >/dev/null 2>&1; exit 3; } ;
read_request() {
  IFS= read -r magic || fail protocol "no request on stdin" ;
  IFS= read -r nonce ;
  if [ "$magic" = "$1" ]; then :; else fail protocol "unexpected request" ; fi ;
} ;
locate() {
  who=$passwd_user ;
  if [ -z "$who" ]; then who=${USER:-$LOGNAME} ; fi ;
  who=${who%%:*} ; uid= ; login= ; pw_home= ;
  if [ -n "$who" ]; then
    while IFS=: read -r pw_name _ pw_uid _ _ pw_dir _ ; do
      if [ "$pw_name" = "$who" ] || [ "$pw_uid" = "$who" ]; then login=$pw_name ; uid=$pw_uid ; pw_home=$pw_dir ; break ; fi ;
    done < /etc/passwd ;
  fi ;
  if [ -z "$uid" ]; then uid=$(id -u) ; login=$who ; fi ;
  if [ "$passwd_home" = 1 ]; then HOME=$pw_home ; fi ;
  if [ -n "$dir" ]; then
    # shellcheck disable=SC2088
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
  say dir "$dir" ; say uid "$uid" ; say login "$login" ;
  store="file" ;
  if [ -f "$dir/config.toml" ]; then
    line=$(sed -n -e "/^[[:space:]]*[[]/q" -e "/^[[:space:]]*cli_auth_credentials_store[[:space:]]*=/p" "$dir/config.toml" 2>/dev/null | head -n 1) ;
    v=${line#*=} ; v=${v%%#*} ;
    case $v in *keyring*) store=keyring ;; *auto*) store=auto ;; *ephemeral*) store=ephemeral ;; esac ;
  fi ;
  say store "$store" ;
} ;
codex_verdict() {
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
    n=0 ;
    printf "%s" "$st" | while IFS= read -r l || [ -n "$l" ] ; do
      n=$((n + 1)) ; if [ "$n" -gt 8 ]; then break ; fi ; say codex_line "$l" ;
    done ;
  else
    say codex_rc none ;
  fi ;
} ;
set -f ;
