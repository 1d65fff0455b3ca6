# shellcheck shell=sh
# Shared by the install and inspect scripts: prepended to each before both are joined
# into one line (see script.rs). Rules for every line here and in the scripts: no single
# quotes, backslashes, exclamation marks or backquotes; every line ends where a space
# may join it to the next (after ; then do else { in ;; | && ||).
# (Every process forked costs the Docker engine or sshd CPU per target, so the scripts
# use builtins where they can: read loops instead of grep, sed and cut.)
#
# read_request MAGIC  read the request's first lines (magic, nonce) from stdin
# say KEY VALUE       one report line, framed by the nonce: only lines carrying it are
#                     read, so start-up files that print cannot be mistaken for us
# finish              end the report (the client knows then that nothing was cut
#                     short) and exit
# fail CLASS DETAIL   report an error and stop (draining stdin first, removing $tmp,
#                     the temp file being written, if any); the detail is terse (the
#                     client words the message); class write means a command failed
#                     and its stderr says why
# locate              from $dir (--codex-home or empty), $passwd_home and $passwd_user
#                     (whom the exec runs as, when the client knows): set $dir, $f
#                     (auth.json), $uid, and report them; then read_config
# read_config         the top-level keys of config.toml that decide whether Codex there
#                     uses auth.json: $store, $forced_method, $forced_ws (comma list)
# find_codex          $codex: codex on PATH, else in the usual per-user install places
#                     (~/.local/bin, ~/bin, npm prefixes, nvm, volta, bun, ...), else
#                     where the login shell finds it
# codex_verdict       Codex's own `codex login status` (its version too when asked), in a
#                     scratch home linked to the real files (Codex writes helper files
#                     into whatever home it runs in); the client reads the lines
# codex_running       how many codex processes of this user run here now
# lock_codex          take Codex's locks on $dir (auth.lock, then auth.json.lock, for
#                     $lock_wait seconds each; class busy when they stay held), as Codex
#                     0.171 takes them when it commits a login; unlock_codex drops them
# clean_stale         remove the temp files of runs that died (.auth.json.PID whose PID
#                     is gone), reporting each
# sum_of FILE         $sum: its sha256 (empty without a hash tool)
# keyring_reach       whether Codex here can reach an OS keyring ($keyring reachable or
#                     unreachable, reported with how it was decided): Codex itself, asked
#                     for a login in the keyring of an empty scratch home, says "Not
#                     logged in" when it reached one and names the keyring error when
#                     not; without codex, a D-Bus session bus (the Secret Service lives
#                     on one) counts as reachable
nonce= ; passwd_user= ; passwd_home= ; want_version= ; tmp= ; lock_wait=10 ; found_= ; probed_path= ; lpf_= ;
say() { printf "%s %s=%s" "$nonce" "$1" "$2"; echo; } ;
finish() { say end 1 ; exit 0 ; } ;
fail() { if [ -n "$tmp" ]; then rm -f "$tmp" ; fi ; say error "$1"; say detail "$2"; say end 1 ; cat >/dev/null 2>&1; exit 3; } ;
read_request() {
  IFS= read -r magic || fail protocol "no request" ;
  IFS= read -r nonce ;
  if [ "$magic" = "$1" ]; then :; else fail protocol "unexpected request" ; fi ;
} ;
locate() {
  who=$passwd_user ;
  if [ -z "$who" ]; then who=${USER:-$LOGNAME} ; fi ;
  who=${who%%:*} ; uid= ; login= ; pw_home= ; pw_shell= ;
  if [ -n "$who" ]; then
    while IFS=: read -r pw_name _ pw_uid _ _ pw_dir pw_sh ; do
      if [ "$pw_name" = "$who" ] || [ "$pw_uid" = "$who" ]; then login=$pw_name ; uid=$pw_uid ; pw_home=$pw_dir ; pw_shell=$pw_sh ; break ; fi ;
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
    if [ -z "$HOME" ] || [ "$HOME" = / ]; then fail no-home "$uid" ; fi ;
    dir=$HOME/.codex ; say home_from default ;
  fi ;
  case $dir in /*) ;; *) dir=$(pwd)/$dir ;; esac ;
  f=$dir/auth.json ;
  say dir "$dir" ; say uid "$uid" ; say login "$login" ;
  read_config ;
} ;
# shellcheck disable=SC2086
first_word() { set -- $1 ; w=${1:-} ; } ;
clean_value() {
  v=${1%%#*} ; r= ;
  while [ -n "$v" ]; do c=${v%"${v#?}"} ; v=${v#?} ; case $c in [[:alnum:]]|-|_|.|,) r=$r$c ;; esac ; done ;
} ;
# Only the top-level keys codex-auth needs, before the first table; comments are cut
# from every line (the values read hold no #), also inside a list over several lines.
read_config() {
  store="file" ; forced_method= ; forced_ws= ; key= ; val= ; open= ;
  if [ -f "$dir/config.toml" ] && [ -r "$dir/config.toml" ]; then
    # read without IFS= strips leading and trailing blanks
    while read -r line || [ -n "$line" ]; do
      line=${line%%#*} ;
      if [ -n "$open" ]; then
        val="$val$line" ; case $line in *]*) open= ; clean_value "$val" ; forced_ws=$r ;; esac ; continue ;
      fi ;
      case $line in "["*) break ;; "") continue ;; esac ;
      first_word "${line%%=*}" ; val=${line#*=} ;
      # A quoted key ("forced_login_method" = ...) is the same key.
      case $w in [[:alnum:]_-]*) key=$w ;; *) clean_value "$w" ; key=$r ;; esac ;
      case $key in
        cli_auth_credentials_store) clean_value "$val" ; store=$r ;;
        forced_login_method) clean_value "$val" ; forced_method=$r ;;
        forced_chatgpt_workspace_id) case $val in *[*) case $val in *]*) ;; *) open=1 ; continue ;; esac ;; esac ; clean_value "$val" ; forced_ws=$r ;;
      esac ;
    done < "$dir/config.toml" ;
  fi ;
  case $store in keyring|auto|ephemeral|file) ;; *) store="file" ;; esac ;
  say store "$store" ;
  if [ -n "$forced_method" ]; then say forced_login_method "$forced_method" ; fi ;
  if [ -n "$forced_ws" ]; then say forced_workspace "$forced_ws" ; fi ;
} ;
# nvm_codex: codex in nvm's default version (its alias/default: 20, v20.1, 20.1.0), else
# in the newest version that has one; versions compared as numbers, so v20 beats v9.
nvm_codex() {
  nvm_d=${NVM_DIR:-$HOME/.nvm} ; want_= ;
  if [ -r "$nvm_d/alias/default" ]; then read -r want_ < "$nvm_d/alias/default" ; want_=${want_#v} ; fi ;
  set +f ;
  for pass_ in ${want_:+1} 2 ; do
    best_=-1 ;
    for c in "$nvm_d/versions/node"/v*/bin ; do
      v_=${c%/bin} ; v_=${v_##*/v} ;
      # (no arithmetic on what would fail it: leading zeros, letters, huge numbers)
      case $v_ in ""|*[[:alpha:]_-]*|*..*|.*|*.|0[0-9]*|*.0[0-9]*|*[0-9][0-9][0-9][0-9][0-9][0-9]*) continue ;; esac ;
      if [ "$pass_" = 1 ]; then case $v_ in "$want_"|"$want_".*) ;; *) continue ;; esac ; fi ;
      if [ -x "$c/codex" ] && [ -f "$c/codex" ]; then
        a_=${v_%%.*} ; r_=${v_#"$a_"} ; r_=${r_#.} ; b_=${r_%%.*} ; r_=${r_#"$b_"} ; r_=${r_#.} ; c_=${r_%%.*} ;
        n_=$(( ${a_:-0} * 1000000 + ${b_:-0} * 1000 + ${c_:-0} )) ;
        if [ "$n_" -gt "$best_" ]; then best_=$n_ ; codex=$c/codex ; fi ;
      fi ;
    done ;
    if [ -n "$codex" ]; then break ; fi ;
  done ;
  set -f ;
} ;
# login_files_older FILE: FILE is newer than every start-up file a login shell reads
# (of any shell: sh, bash, zsh, csh, fish; directories too, for files added to them).
login_files_older() {
  for f_ in /etc/profile /etc/profile.d /etc/bash.bashrc /etc/zsh /etc/zshenv /etc/zprofile /etc/zlogin /etc/csh.login /etc/csh.cshrc /etc/fish "$HOME/.profile" "$HOME/.bash_profile" "$HOME/.bash_login" "$HOME/.bashrc" "$HOME/.zshenv" "$HOME/.zprofile" "$HOME/.zlogin" "$HOME/.zshrc" "$HOME/.login" "$HOME/.cshrc" "$HOME/.tcshrc" "$HOME/.config/fish" "$HOME/.config/fish/config.fish" "$HOME/.config/fish/conf.d" ; do
    # -nt is not POSIX, but dash, bash, ksh, zsh and busybox sh all have it; where a
    # shell lacks it the test fails, and the login shell is asked again.
    # shellcheck disable=SC3013
    if [ -e "$f_" ]; then [ "$1" -nt "$f_" ] || return 1 ; fi ;
  done ;
} ;
# keep_login_path: an install keeps the PATH its probe found (not secret) in the user's
# cache directory, so the next run on this target need not start the login shell again.
keep_login_path() {
  if [ -n "$probed_path" ] && [ -n "$lpf_" ] && mkdir -p "${lpf_%/*}" 2>/dev/null; then
    # Whole or not at all (runs side by side write it too): a temp file, renamed.
    { printf "%s" "$sh_" ; echo ; printf "%s" "$probed_path" ; echo ; } > "$lpf_.$$" 2>/dev/null &&
      mv -f "$lpf_.$$" "$lpf_" 2>/dev/null ;
    rm -f "$lpf_.$$" 2>/dev/null ;
  fi ;
} ;
# find_codex: codex as its user would run it: on PATH, else in the per-user install
# places (pip/pipx/uv, ~/bin, npm's prefix from NPM_CONFIG_PREFIX or ~/.npmrc, volta,
# bun, nvm), else system places, else on the login shell's PATH.
find_codex() {
  # Once a run (the keyring check and the verdict both ask).
  if [ -n "$found_" ]; then return ; fi ;
  found_=1 ;
  # On PATH, as `command -v` finds it, with builtins only (no subshell to start).
  codex= ; o_=$IFS ; IFS=: ;
  for c in $PATH ; do
    if [ -f "${c:-.}/codex" ] && [ -x "${c:-.}/codex" ]; then codex=${c:-.}/codex ; break ; fi ;
  done ;
  IFS=$o_ ;
  case $codex in /*) return ;; "") ;; *) codex=$(pwd)/$codex ; return ;; esac ;
  npm_p=${NPM_CONFIG_PREFIX:-${npm_config_prefix:-}} ;
  if [ -z "$npm_p" ] && [ -f "$HOME/.npmrc" ] && [ -r "$HOME/.npmrc" ]; then
    while read -r l_ || [ -n "$l_" ]; do
      first_word "${l_%%=*}" ;
      case $w:$l_ in prefix:*=*) first_word "${l_#*=}" ; npm_p=$w ;; esac ;
    done < "$HOME/.npmrc" ;
  fi ;
  # shellcheck disable=SC2088
  case $npm_p in "~/"*) npm_p=$HOME/${npm_p#"~/"} ;; "~") npm_p=$HOME ;; esac ;
  for c in "$HOME/.local/bin" "$HOME/bin" ${npm_p:+"$npm_p/bin"} "$HOME/.npm-global/bin" "$HOME/.volta/bin" "$HOME/.bun/bin" ; do
    if [ -x "$c/codex" ] && [ -f "$c/codex" ]; then codex=$c/codex ; return ; fi ;
  done ;
  nvm_codex ;
  if [ -n "$codex" ]; then return ; fi ;
  for c in /usr/local/bin /opt/homebrew/bin ; do
    if [ -x "$c/codex" ] && [ -f "$c/codex" ]; then codex=$c/codex ; return ; fi ;
  done ;
  sh_=${pw_shell:-$SHELL} ;
  # A POSIX login shell with no profile to read has our PATH, searched above: no probe.
  case $sh_ in
    */sh|*/ksh|*/dash|*/ash) [ -e /etc/profile ] || [ -e "$HOME/.profile" ] || return ;;
    */bash) [ -e /etc/profile ] || [ -e "$HOME/.profile" ] || [ -e "$HOME/.bash_profile" ] || [ -e "$HOME/.bash_login" ] || return ;;
  esac ;
  # The login shell's PATH: as an install kept it, while none of the shell's start-up
  # files changed since; else asked of the login shell itself.
  lp_= ; c_sh_= ; lpf_= ;
  case ${XDG_CACHE_HOME:-$HOME/.cache} in /?*) lpf_=${XDG_CACHE_HOME:-$HOME/.cache}/codex-auth/login-path ;; esac ;
  if [ -n "$lpf_" ] && [ -f "$lpf_" ] && login_files_older "$lpf_" ; then
    { read -r c_sh_ && read -r lp_ ; } < "$lpf_" 2>/dev/null ;
    if [ "$c_sh_" = "$sh_" ]; then :; else lp_= ; fi ;
  fi ;
  if [ -z "$lp_" ]; then
    if command -v timeout >/dev/null 2>&1; then t_="timeout 5" ; else t_= ; fi ;
    # csh takes -l only alone: it is asked to read its login file itself.
    case $sh_ in
      */csh|*/tcsh) probe="$t_ $sh_ -c" ; cmd="if ( -r ~/.login ) source ~/.login >& /dev/null ; printenv PATH" ;;
      */sh|*/bash|*/zsh|*/ksh|*/dash|*/ash|*/fish) probe="$t_ $sh_ -l -c" ; cmd="printenv PATH" ;;
      *) return ;;
    esac ;
    # (what a noisy start-up file prints first is passed over: the PATH is the last line)
    for l in $($probe "$cmd" </dev/null 2>/dev/null) ; do
      case $l in /*) lp_=$l ;; esac ;
    done ;
    probed_path=$lp_ ;
  fi ;
  o_=$IFS ; IFS=: ;
  for c in $lp_ ; do
    case $c in /*) if [ -f "$c/codex" ] && [ -x "$c/codex" ]; then codex=$c/codex ; break ; fi ;; esac ;
  done ;
  IFS=$o_ ;
} ;
keyring_reach() {
  keyring=unreachable ;
  find_codex ;
  if [ -n "$codex" ]; then
    t=$(mktemp -d 2>/dev/null) ;
    if [ -n "$t" ]; then
      st=$(CODEX_HOME="$t" PATH=${codex%/*}:$PATH "$codex" -c cli_auth_credentials_store=keyring login status 2>&1 < /dev/null) ;
      rm -rf "$t" ;
      case $st in *"Not logged in"*) keyring=reachable ;; esac ;
      if [ "$keyring" = unreachable ]; then
        printf "%s" "$st" | while IFS= read -r l || [ -n "$l" ] ; do case $l in *keyring*) say keyring_why "$l" ;; esac ; done ;
      fi ;
      say keyring_by codex ; say keyring "$keyring" ; return ;
    fi ;
  fi ;
  bus=${XDG_RUNTIME_DIR:-/run/user/$uid}/bus ;
  if [ -n "$DBUS_SESSION_BUS_ADDRESS" ] || [ -S "$bus" ]; then keyring=reachable ; fi ;
  say keyring_by bus ; say keyring "$keyring" ;
} ;
codex_verdict() {
  find_codex ;
  if [ -z "$codex" ]; then say codex_rc none ; return ; fi ;
  say codex_path "$codex" ;
  cpath=${codex%/*}:$PATH ;
  t=$(mktemp -d 2>/dev/null) ;
  if [ -n "$t" ]; then
    if [ -e "$f" ]; then ln -s "$f" "$t/auth.json" ; fi ;
    if [ -e "$dir/config.toml" ]; then ln -s "$dir/config.toml" "$t/config.toml" ; fi ;
    if [ "$want_version" = 1 ]; then say codex_version "$(CODEX_HOME="$t" PATH=$cpath "$codex" --version 2>/dev/null < /dev/null)" ; fi ;
    st=$(CODEX_HOME="$t" PATH=$cpath "$codex" login status 2>&1 < /dev/null) ; rc=$? ; rm -rf "$t" ;
  else
    st=$(CODEX_HOME="$dir" PATH=$cpath "$codex" login status 2>&1 < /dev/null) ; rc=$? ;
  fi ;
  say codex_rc "$rc" ;
  n=0 ;
  printf "%s" "$st" | while IFS= read -r l || [ -n "$l" ] ; do
    n=$((n + 1)) ; if [ "$n" -le 8 ]; then say codex_line "$l" ; fi ;
  done ;
} ;
codex_running() {
  n=0 ;
  set +f ;
  for p in /proc/[0-9]* ; do
    if [ -O "$p" ] && read -r comm 2>/dev/null < "$p/comm" && [ "$comm" = codex ]; then n=$((n + 1)) ; fi ;
  done 2>/dev/null ;
  set -f ;
  say codex_running "$n" ;
} ;
set -f ;
# --- writing under Codex's locks (install and remove) ---
hash_tool= ;
for h in sha256sum shasum openssl sha256 ; do if command -v $h >/dev/null 2>&1; then hash_tool=$h ; break ; fi ; done ;
sum_of() { case $hash_tool in sha256sum) sum=$(sha256sum < "$1") ;; shasum) sum=$(shasum -a 256 < "$1") ;; openssl) sum=$(openssl dgst -sha256 -r < "$1") ;; sha256) sum=$(sha256 -q < "$1") ;; *) sum= ;; esac ; sum=${sum%% *} ; } ;
# shellcheck disable=SC2086
len_of() { len=$(wc -c < "$1") ; set -- $len ; len=$1 ; } ;
# shellcheck disable=SC2046
modes() { set -- $(cd "$dir" && LC_ALL=C ls -lnd . auth.json) ; say dir_mode "$1" ; say dir_uid "$3" ; shift 9 ; say file_mode "$1" ; say file_uid "$3" ; say len "$5" ; } ;
# take_lock FD: an exclusive flock on FD within lock_wait seconds. Free at once is the
# usual case; else flock -w waits, and where flock has no -w (busybox) it is polled.
take_lock() {
  if flock -n "$1" 2>/dev/null; then return 0 ; fi ;
  if [ -z "$poll_lock" ]; then
    lk_=$(flock -w "$lock_wait" "$1" 2>&1) && return 0 ;
    case $lk_ in *ption*|*sage*) poll_lock=1 ;; *) return 1 ;; esac ;
  fi ;
  i_=0 ;
  while [ "$i_" -lt $((lock_wait * 10)) ]; do
    if sleep 0.1 2>/dev/null; then i_=$((i_ + 1)) ; else sleep 1 ; i_=$((i_ + 10)) ; fi ;
    if flock -n "$1" 2>/dev/null; then return 0 ; fi ;
  done ;
  return 1 ;
} ;
lock_codex() {
  if command -v flock >/dev/null 2>&1; then :; else say lock none ; return ; fi ;
  poll_lock= ;
  # `command` keeps a failed redirection from ending the shell (exec is special); the
  # reason is then read from a second try in a subshell.
  command exec 7>>"$dir/auth.lock" || { e=$( : 2>&1 >>"$dir/auth.lock" ) ; fail write "open $dir/auth.lock: $e" ; } ;
  take_lock 7 || fail busy "auth.lock $lock_wait" ;
  command exec 8>>"$dir/auth.json.lock" || { e=$( : 2>&1 >>"$dir/auth.json.lock" ) ; fail write "open $dir/auth.json.lock: $e" ; } ;
  take_lock 8 || fail busy "auth.json.lock $lock_wait" ;
  say lock held ;
} ;
unlock_codex() { exec 7>&- 8>&- ; } ;
# A process that exited but was not reaped (a zombie, where nothing reaps) is dead too.
alive() {
  kill -0 "$1" 2>/dev/null || return 1 ;
  if [ -r "/proc/$1/stat" ]; then :; else return 0 ; fi ;
  st=$(cat "/proc/$1/stat" 2>/dev/null) ; st=${st##*) } ;
  case $st in Z*|X*) return 1 ;; esac ;
} ;
clean_stale() {
  set +f ;
  for t in "$dir"/.auth.json.[0-9]* "$dir"/.auth.json.bak.[0-9]* ; do
    if [ -e "$t" ]; then :; else continue ; fi ;
    p=${t##*.} ;
    if [ "$p" -ge 0 ] 2>/dev/null; then :; else continue ; fi ;
    if [ "$p" = "$$" ] || alive "$p"; then :; else rm -f "$t" && say cleaned "$t" ; fi ;
  done ;
  set -f ;
} ;
