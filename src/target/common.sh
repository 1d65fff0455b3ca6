# Shared by install.sh and inspect.sh: prepended to each before it is joined into one
# line. Same rules: no single quotes, backslashes, exclamation marks or backquotes;
# every line ends where a space may join it to the next.
#
# say KEY VALUE           one key=value line of the report
# fail CLASS DETAIL       report an error and stop (draining stdin first); class
#                         write means a command failed and its stderr says why
# (Every process forked costs the Docker engine or sshd CPU per target, so the
# scripts use builtins where they can: read loops instead of grep and cut.)
# locate                  from $dir (--codex-home or empty), $passwd_home and
#                         $passwd_user (whom the exec runs as, when the client knows):
#                         set $dir, $f (auth.json), $uid, $store, and report them
# codex_verdict           Codex's own `codex login status`, when codex is on PATH, taken
#                         in a scratch home linked to the real files (Codex writes
#                         helper files into whatever home it runs in)
say() { printf "%s=%s" "$1" "$2"; echo; } ;
fail() { say error "$1"; say detail "$2"; cat >/dev/null 2>&1; exit 3; } ;
locate() {
  who=$passwd_user ;
  if [ -z "$who" ]; then who=${USER:-$LOGNAME} ; fi ;
  who=${who%%:*} ; uid= ; login= ; pw_home= ;
  if [ -n "$who" ]; then
    while IFS=: read -r pw_name pw_x pw_uid pw_gid pw_gecos pw_dir pw_shell ; do
      if [ "$pw_name" = "$who" ] || [ "$pw_uid" = "$who" ]; then login=$pw_name ; uid=$pw_uid ; pw_home=$pw_dir ; break ; fi ;
    done < /etc/passwd ;
  fi ;
  if [ -z "$uid" ]; then uid=$(id -u) ; login=$who ; fi ;
  if [ "$passwd_home" = 1 ]; then HOME=$pw_home ; fi ;
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
  say dir "$dir" ; say uid "$uid" ; say login "$login" ;
  store=file ;
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
    say codex_status "$(echo "$st" | grep -E "Logged in|Not logged in|rror" | head -n 1)" ;
  else
    say codex_rc none ;
  fi ;
} ;
set -f ;
