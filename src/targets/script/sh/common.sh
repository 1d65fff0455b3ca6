# shellcheck shell=sh
# common.sh: what every script sent to a target shares. The script comes after it, and
# the two travel as one line (targets/script/transport.rs joins them), without the
# functions here that the script never reaches. A function is `name() {` at the start of
# a line and ends at a `}` alone at the start of a line.
#
# How these files are written, so that the join is exact and every login shell (sh,
# bash, zsh, fish, csh) passes the line on unchanged:
# - no single quote, backslash, exclamation mark or backquote anywhere;
# - comments on lines of their own; no line longer than 120 characters;
# - one command a line, or a line that opens a construct: if/then/else, while/for/do,
#   case (a pattern alone on its line, or pattern, command and ;; on one line), a
#   function body {, a pipe, && or || at the end, a command put in the background (&).
# Every process forked costs sshd or the Docker engine CPU per target, so builtins are
# used where they serve (read loops rather than grep, sed and cut).
#
# The protocol (targets/script/request.rs and reply.rs hold the Rust side of it):
# - stdin: the request's magic line, the nonce, then KEY=VALUE lines up to an empty
#   line (read_request keeps each as req_KEY), then the payload, if any;
# - stdout: the report, KEY=VALUE lines framed by the nonce (say), ended by end=1
#   (finish, or fail with an error class); an inspect or a removal sends the login
#   after the end, behind a framed body line.

# ---- the request and the report

# say KEY VALUE: one line of the report. Only lines that carry the nonce are read, so
# nothing a shell start-up file prints can be taken for the report.
say() {
    printf "%s %s=%s" "$nonce" "$1" "$2"
    echo
}

# finish: the end of the report (the client knows then that nothing cut it short).
finish() {
    say end 1
    exit 0
}

# fail CLASS DETAIL: report an error and stop. Stdin is drained (the client may still
# be writing), and the temp file being written, if any, removed. DETAIL is terse (the
# client words the message); class write means a command failed, DETAIL says what it
# said.
fail() {
    drop_temps
    say error "$1"
    say detail "$2"
    say end 1
    cat >/dev/null 2>&1
    exit 3
}

# guard_secrets: from here until the script ends, a hangup, an interrupt, a TERM or a
# write to a client that is gone (SIGPIPE: sshd or the engine closed our output) removes
# the temp file being written and ends the script, so that no copy of a login stays
# behind. (SIGKILL cannot be caught: clean_stale of the next run is the second line.)
guard_secrets() {
    trap abandon HUP INT TERM PIPE
}

# drop_temps: remove the temp files this run is writing, if any.
drop_temps() {
    # (set by the scripts that write them, unset in the others)
    # shellcheck disable=SC2154
    for temp_left in "$temp_file" "$backup_temp"; do
        if [ -n "$temp_left" ]; then
            rm -f "$temp_left"
        fi
    done
}

# abandon: the client is gone or we are told to stop: nothing is reported (there is no
# one to read it), the temp file goes, and the script ends.
abandon() {
    trap "" HUP INT TERM PIPE
    drop_temps
    exit 4
}

# read_request MAGIC: the request on stdin, up to its empty line, or (over ssh, when it
# has no payload and only plain characters) in codex_auth_request, set by the command
# line: MAGIC NONCE KEY=VALUE... as words. Each key it knows becomes req_KEY (a key it
# does not know is skipped).
read_request() {
    case ${codex_auth_request:-} in
        "$1 "*)
            request_ifs=$IFS
            IFS=" "
            set -f
            # shellcheck disable=SC2086
            set -- "$1" $codex_auth_request
            IFS=$request_ifs
            request_magic=$2
            nonce=$3
            shift 3
            for request_line in "$@"; do
                keep_request_line
            done
            return 0
            ;;
    esac
    IFS= read -r request_magic || fail protocol "no request"
    IFS= read -r nonce
    if [ "$request_magic" != "$1" ]; then
        fail protocol "unexpected request"
    fi
    while IFS= read -r request_line && [ -n "$request_line" ]; do
        keep_request_line
    done
}

# keep_request_line: request_line (KEY=VALUE) kept as req_KEY.
keep_request_line() {
    request_value=${request_line#*=}
    # (each script uses only the keys of its own request)
    # shellcheck disable=SC2034
    case ${request_line%%=*} in
        codex_home) req_codex_home=$request_value ;;
        passwd_user) req_passwd_user=$request_value ;;
        home_from_passwd) req_home_from_passwd=$request_value ;;
        codex_version) req_codex_version=$request_value ;;
        judge) req_judge=$request_value ;;
        lock_wait) req_lock_wait=$request_value ;;
        dry_run) req_dry_run=$request_value ;;
        force) req_force=$request_value ;;
        sum) req_sum=$request_value ;;
        len) req_len=$request_value ;;
        login_method) req_login_method=$request_value ;;
        workspace) req_workspace=$request_value ;;
        expect) req_expect=$request_value ;;
        keep_backup) req_keep_backup=$request_value ;;
        issuer) req_issuer=$request_value ;;
        digest_only) req_digest_only=$request_value ;;
        send_login) req_send_login=$request_value ;;
        lines) req_lines=$request_value ;;
        full) req_full=$request_value ;;
        file_config) req_file_config=$request_value ;;
        find_codex) req_find_codex=$request_value ;;
    esac
}

# ---- where the login lives

# locate: whose login this is and where it lives. The user is req_passwd_user (whom a
# docker exec runs as, when the client knows it), else $USER; with req_home_from_passwd
# the home comes from /etc/passwd (a docker exec may carry the image's HOME). The Codex
# home is req_codex_home (~ is the user's home), else $CODEX_HOME, else ~/.codex; a
# relative one is taken from the directory the command runs in. Reports dir, uid and
# login; sets auth_file (dir/auth.json) and login_shell; then reads config.toml.
locate() {
    user_name=$req_passwd_user
    if [ -z "$user_name" ]; then
        user_name=${USER:-$LOGNAME}
    fi
    user_name=${user_name%%:*}
    uid=
    login=
    passwd_home=
    login_shell=
    if [ -n "$user_name" ]; then
        while IFS=: read -r pw_name _ pw_uid _ _ pw_dir pw_shell; do
            if [ "$pw_name" = "$user_name" ] || [ "$pw_uid" = "$user_name" ]; then
                login=$pw_name
                uid=$pw_uid
                passwd_home=$pw_dir
                login_shell=$pw_shell
                break
            fi
        done </etc/passwd
    fi
    if [ -z "$uid" ]; then
        uid=$(id -u)
        login=$user_name
    fi
    if [ "$req_home_from_passwd" = 1 ]; then
        HOME=$passwd_home
    fi
    dir=$req_codex_home
    if [ -n "$dir" ]; then
        # shellcheck disable=SC2088
        case $dir in
            "~") dir=$HOME ;;
            "~/"*) dir=$HOME/${dir#"~/"} ;;
        esac
        say home_from flag
    elif [ -n "$CODEX_HOME" ]; then
        dir=$CODEX_HOME
        say home_from env
    else
        if [ -z "$HOME" ] || [ "$HOME" = / ]; then
            fail no-home "$uid"
        fi
        dir=$HOME/.codex
        say home_from default
    fi
    case $dir in
        /*) ;;
        *) dir=$(pwd)/$dir ;;
    esac
    auth_file=$dir/auth.json
    say dir "$dir"
    say uid "$uid"
    say login "$login"
    read_config
}

# first_word TEXT: $word, the first blank-separated word of TEXT.
first_word() {
    # shellcheck disable=SC2086
    set -- $1
    word=${1:-}
}

# clean_value TEXT: $clean, TEXT before any # with only the characters a store name or
# a workspace id list has (quotes, brackets and blanks dropped).
clean_value() {
    unread=${1%%#*}
    clean=
    while [ -n "$unread" ]; do
        char=${unread%"${unread#?}"}
        unread=${unread#?}
        case $char in
            [[:alnum:]] | - | _ | . | ,) clean=$clean$char ;;
        esac
    done
}

# read_config: the top-level keys of config.toml that decide whether Codex there uses
# auth.json, read as TOML reads them: a comment is cut from every line (the values read
# hold no #), a quoted key is the same key, a list may span lines; the first table ends
# the top level. Sets and reports store; reports forced_login_method and
# forced_workspace (a comma list) when set.
read_config() {
    store="file"
    forced_method=
    forced_workspaces=
    open_list=
    if [ -f "$dir/config.toml" ] && [ -r "$dir/config.toml" ]; then
        # (read without IFS= strips leading and trailing blanks)
        while read -r config_line || [ -n "$config_line" ]; do
            config_line=${config_line%%#*}
            if [ -n "$open_list" ]; then
                list_text="$list_text$config_line"
                case $config_line in
                    *]*)
                        open_list=
                        clean_value "$list_text"
                        forced_workspaces=$clean
                        ;;
                esac
                continue
            fi
            case $config_line in
                "["*) break ;;
                "") continue ;;
            esac
            first_word "${config_line%%=*}"
            config_value=${config_line#*=}
            case $word in
                [[:alnum:]_-]*) config_key=$word ;;
                *)
                    clean_value "$word"
                    config_key=$clean
                    ;;
            esac
            case $config_key in
                cli_auth_credentials_store)
                    clean_value "$config_value"
                    store=$clean
                    ;;
                forced_login_method)
                    clean_value "$config_value"
                    forced_method=$clean
                    ;;
                forced_chatgpt_workspace_id)
                    case $config_value in
                        *"["*)
                            case $config_value in
                                *]*) ;;
                                *)
                                    open_list=1
                                    list_text=$config_value
                                    continue
                                    ;;
                            esac
                            ;;
                    esac
                    clean_value "$config_value"
                    forced_workspaces=$clean
                    ;;
            esac
        done <"$dir/config.toml"
    fi
    case $store in
        keyring | auto | ephemeral | file) ;;
        *) store="file" ;;
    esac
    say store "$store"
    if [ -n "$forced_method" ]; then
        say forced_login_method "$forced_method"
    fi
    if [ -n "$forced_workspaces" ]; then
        say forced_workspace "$forced_workspaces"
    fi
}

# ---- where codex is

# is_program PATH: PATH is an executable file.
is_program() {
    [ -f "$1" ] && [ -x "$1" ]
}

# nvm_codex: codex in nvm's default version (its alias/default: 20, v20.1, 20.1.0),
# else in the newest version that has one; versions compared as numbers (v20 beats v9).
nvm_codex() {
    nvm_dir=${NVM_DIR:-$HOME/.nvm}
    wanted_version=
    if [ -r "$nvm_dir/alias/default" ]; then
        read -r wanted_version <"$nvm_dir/alias/default"
        wanted_version=${wanted_version#v}
    fi
    set +f
    for nvm_pass in ${wanted_version:+default} newest; do
        best_number=-1
        for node_bin in "$nvm_dir/versions/node"/v*/bin; do
            version=${node_bin%/bin}
            version=${version##*/v}
            # (no arithmetic on what would fail it: leading zeros, letters, huge numbers)
            case $version in
                "" | *[[:alpha:]_-]* | *..* | .* | *. | 0[0-9]* | *.0[0-9]*) continue ;;
                *[0-9][0-9][0-9][0-9][0-9][0-9]*) continue ;;
            esac
            if [ "$nvm_pass" = default ]; then
                case $version in
                    "$wanted_version" | "$wanted_version".*) ;;
                    *) continue ;;
                esac
            fi
            if is_program "$node_bin/codex"; then
                major=${version%%.*}
                rest=${version#"$major"}
                rest=${rest#.}
                minor=${rest%%.*}
                rest=${rest#"$minor"}
                rest=${rest#.}
                patch=${rest%%.*}
                number=$((${major:-0} * 1000000 + ${minor:-0} * 1000 + ${patch:-0}))
                if [ "$number" -gt "$best_number" ]; then
                    best_number=$number
                    codex=$node_bin/codex
                fi
            fi
        done
        if [ -n "$codex" ]; then
            break
        fi
    done
    set -f
}

# login_files_older FILE: FILE is newer than every start-up file a login shell reads
# (of any shell: sh, bash, zsh, csh, fish; directories too, for files added to them).
login_files_older() {
    newer_file=$1
    set -- /etc/profile /etc/profile.d /etc/bash.bashrc /etc/zsh /etc/zshenv /etc/zprofile
    set -- "$@" /etc/zlogin /etc/csh.login /etc/csh.cshrc /etc/fish
    set -- "$@" "$HOME/.profile" "$HOME/.bash_profile" "$HOME/.bash_login" "$HOME/.bashrc"
    set -- "$@" "$HOME/.zshenv" "$HOME/.zprofile" "$HOME/.zlogin" "$HOME/.zshrc"
    set -- "$@" "$HOME/.login" "$HOME/.cshrc" "$HOME/.tcshrc"
    set -- "$@" "$HOME/.config/fish" "$HOME/.config/fish/config.fish" "$HOME/.config/fish/conf.d"
    for startup_file in "$@"; do
        # -nt is not POSIX, but dash, bash, ksh, zsh and busybox sh all have it; where a
        # shell lacks it the test fails, and the login shell is asked again.
        # shellcheck disable=SC3013
        if [ -e "$startup_file" ] && ! [ "$newer_file" -nt "$startup_file" ]; then
            return 1
        fi
    done
}

# keep_login_path: an install keeps the PATH the login shell gave (not secret) in the
# user's cache directory, so the next run here need not start the login shell again.
keep_login_path() {
    if [ -z "$probed_path" ] || [ -z "$login_path_file" ]; then
        return
    fi
    if mkdir -p "${login_path_file%/*}" 2>/dev/null; then
        # Whole or not at all (runs side by side write it too): a temp file, renamed.
        {
            printf "%s" "$path_shell"
            echo
            printf "%s" "$probed_path"
            echo
        } >"$login_path_file.$$" 2>/dev/null &&
            mv -f "$login_path_file.$$" "$login_path_file" 2>/dev/null
        rm -f "$login_path_file.$$" 2>/dev/null
    fi
}

# search_path DIRS: codex in the first of the colon-separated DIRS that has it (only
# absolute ones with ABSOLUTE_ONLY set), with builtins (no subshell to start).
search_path() {
    saved_ifs=$IFS
    IFS=:
    for path_dir in $1; do
        case $path_dir in
            /*) ;;
            "") path_dir=. ;;
            *)
                if [ -n "$absolute_only" ]; then
                    continue
                fi
                ;;
        esac
        if is_program "$path_dir/codex"; then
            codex=$path_dir/codex
            break
        fi
    done
    IFS=$saved_ifs
}

# npm_prefix: $npm_prefix, npm's user prefix: NPM_CONFIG_PREFIX, else ~/.npmrc prefix=.
npm_prefix() {
    npm_prefix=${NPM_CONFIG_PREFIX:-${npm_config_prefix:-}}
    if [ -z "$npm_prefix" ] && [ -f "$HOME/.npmrc" ] && [ -r "$HOME/.npmrc" ]; then
        while read -r npmrc_line || [ -n "$npmrc_line" ]; do
            first_word "${npmrc_line%%=*}"
            case $word:$npmrc_line in
                prefix:*=*)
                    first_word "${npmrc_line#*=}"
                    npm_prefix=$word
                    ;;
            esac
        done <"$HOME/.npmrc"
    fi
    # shellcheck disable=SC2088
    case $npm_prefix in
        "~/"*) npm_prefix=$HOME/${npm_prefix#"~/"} ;;
        "~") npm_prefix=$HOME ;;
    esac
}

# login_shell_path: $login_path, the PATH of the user's login shell: as an install kept
# it, while none of the shell's start-up files changed since; else asked of the login
# shell itself ($probed_path then, for keep_login_path). Empty where there is nothing to
# ask: a POSIX login shell with no profile to read has our own PATH, searched already.
login_shell_path() {
    login_path=
    path_shell=${login_shell:-$SHELL}
    case $path_shell in
        */sh | */ksh | */dash | */ash)
            [ -e /etc/profile ] || [ -e "$HOME/.profile" ] || return 0
            ;;
        */bash)
            [ -e /etc/profile ] || [ -e "$HOME/.profile" ] || [ -e "$HOME/.bash_profile" ] ||
                [ -e "$HOME/.bash_login" ] || return 0
            ;;
    esac
    cache_dir=${XDG_CACHE_HOME:-$HOME/.cache}
    login_path_file=
    case $cache_dir in
        /?*) login_path_file=$cache_dir/codex-auth/login-path ;;
    esac
    if [ -n "$login_path_file" ] && [ -f "$login_path_file" ] && login_files_older "$login_path_file"; then
        {
            read -r cached_shell && read -r login_path
        } <"$login_path_file" 2>/dev/null
        if [ "$cached_shell" != "$path_shell" ]; then
            login_path=
        fi
    fi
    if [ -n "$login_path" ]; then
        return 0
    fi
    if command -v timeout >/dev/null 2>&1; then
        time_limit="timeout 5"
    else
        time_limit=
    fi
    # csh takes -l only alone: it is asked to read its login file itself.
    case $path_shell in
        */csh | */tcsh)
            probe="$time_limit $path_shell -c"
            probe_command="if ( -r ~/.login ) source ~/.login >& /dev/null ; printenv PATH"
            ;;
        */sh | */bash | */zsh | */ksh | */dash | */ash | */fish)
            probe="$time_limit $path_shell -l -c"
            probe_command="printenv PATH"
            ;;
        *) return 0 ;;
    esac
    # (what a noisy start-up file prints first is passed over: the PATH is the last line)
    for printed in $($probe "$probe_command" </dev/null 2>/dev/null); do
        case $printed in
            /*) login_path=$printed ;;
        esac
    done
    probed_path=$login_path
}

# find_codex: $codex, codex as its user would run it: on PATH, else in the per-user
# install places (pip, pipx and uv, ~/bin, npm's prefix, volta, bun, nvm), else the
# system places, else on the login shell's PATH. Once a run (several steps ask).
find_codex() {
    if [ -n "$codex_searched" ]; then
        return
    fi
    codex_searched=1
    codex=
    absolute_only=
    search_path "$PATH"
    case $codex in
        /*) return ;;
        "") ;;
        *)
            codex=$(pwd)/$codex
            return
            ;;
    esac
    npm_prefix
    set -- "$HOME/.local/bin" "$HOME/bin" ${npm_prefix:+"$npm_prefix/bin"}
    set -- "$@" "$HOME/.npm-global/bin" "$HOME/.volta/bin" "$HOME/.bun/bin"
    for install_dir in "$@"; do
        if is_program "$install_dir/codex"; then
            codex=$install_dir/codex
            return
        fi
    done
    nvm_codex
    if [ -n "$codex" ]; then
        return
    fi
    for install_dir in /usr/local/bin /opt/homebrew/bin; do
        if is_program "$install_dir/codex"; then
            codex=$install_dir/codex
            return
        fi
    done
    login_shell_path
    absolute_only=1
    search_path "$login_path"
}

# codex_until_hangup: for a login that runs on the target (login --forward): codex found
# (exit 127 when there is none) and first on PATH with its directory (npm's wrapper runs
# the node beside it), and a watcher that stops the process group when the connection
# goes away (sshd then closes stdin, kept as fd 3 for it), so no login server is left
# behind. Codex itself then runs with stdin from /dev/null and fd 3 closed.
codex_until_hangup() {
    exec 3<&0
    find_codex
    if [ -z "$codex" ]; then
        exit 127
    fi
    (
        cat <&3 >/dev/null 2>&1
        kill -TERM 0
    ) >/dev/null 2>&1 &
    PATH=${codex%/*}:$PATH
    export PATH
}

# ---- what Codex there says

# run_codex HOME ARGS...: codex with CODEX_HOME=HOME, nothing on stdin, and its own
# directory first on PATH (npm's wrapper runs the node beside it).
run_codex() {
    run_home=$1
    shift
    CODEX_HOME="$run_home" PATH=${codex%/*}:$PATH "$codex" "$@" </dev/null
}

# keyring_reach: whether Codex here can reach an OS keyring ($keyring: reachable or
# unreachable, reported with how it was decided). Codex itself, asked for a login in
# the keyring of an empty scratch home, says "Not logged in" when it reached one and
# names the keyring error when not; without codex, a D-Bus session bus (the Secret
# Service lives on one) counts as reachable.
keyring_reach() {
    keyring=unreachable
    find_codex
    scratch_home=
    if [ -n "$codex" ]; then
        scratch_home=$(mktemp -d 2>/dev/null)
    fi
    if [ -n "$scratch_home" ]; then
        keyring_said=$(run_codex "$scratch_home" -c cli_auth_credentials_store=keyring login status 2>&1)
        rm -rf "$scratch_home"
        case $keyring_said in
            *"Not logged in"*) keyring=reachable ;;
        esac
        if [ "$keyring" = unreachable ]; then
            printf "%s" "$keyring_said" | while IFS= read -r said_line || [ -n "$said_line" ]; do
                case $said_line in
                    *keyring*) say keyring_why "$said_line" ;;
                esac
            done
        fi
        say keyring_by codex
        say keyring "$keyring"
        return
    fi
    session_bus=${XDG_RUNTIME_DIR:-/run/user/$uid}/bus
    if [ -n "$DBUS_SESSION_BUS_ADDRESS" ] || [ -S "$session_bus" ]; then
        keyring=reachable
    fi
    say keyring_by bus
    say keyring "$keyring"
}

# codex_verdict: Codex's own `codex login status` of the login here (its version too
# when asked), run in a scratch home linked to the real files, since Codex writes
# helper files into whatever home it runs in. The client reads the lines.
codex_verdict() {
    find_codex
    if [ -z "$codex" ]; then
        say codex_rc none
        return
    fi
    say codex_path "$codex"
    scratch_home=$(mktemp -d 2>/dev/null)
    if [ -n "$scratch_home" ]; then
        if [ -e "$auth_file" ]; then
            ln -s "$auth_file" "$scratch_home/auth.json"
        fi
        if [ -e "$dir/config.toml" ]; then
            ln -s "$dir/config.toml" "$scratch_home/config.toml"
        fi
        judge_home=$scratch_home
    else
        judge_home=$dir
    fi
    if [ "$req_codex_version" = 1 ]; then
        say codex_version "$(run_codex "$judge_home" --version 2>/dev/null)"
    fi
    codex_said=$(run_codex "$judge_home" login status 2>&1)
    codex_status=$?
    if [ -n "$scratch_home" ]; then
        rm -rf "$scratch_home"
    fi
    say codex_rc "$codex_status"
    said_count=0
    printf "%s" "$codex_said" | while IFS= read -r said_line || [ -n "$said_line" ]; do
        said_count=$((said_count + 1))
        if [ "$said_count" -le 8 ]; then
            say codex_line "$said_line"
        fi
    done
}

# codex_running: how many codex processes of this user run here now.
codex_running() {
    running=0
    set +f
    for process in /proc/[0-9]*; do
        if [ -O "$process" ] && read -r command_name 2>/dev/null <"$process/comm" &&
            [ "$command_name" = codex ]; then
            running=$((running + 1))
        fi
    done 2>/dev/null
    set -f
    say codex_running "$running"
}

# ---- a Codex home only the user can write (install and remove)

# ls_fields PATH: $ls_mode and $ls_uid of PATH as `ls -ldn` shows them (empty if absent).
ls_fields() {
    ls_mode=
    ls_uid=
    # shellcheck disable=SC2046
    set -- $(LC_ALL=C ls -ldn "$1" 2>/dev/null)
    ls_mode=$1
    ls_uid=$3
}

# check_home_safe: refuse a Codex home that anyone but the user (and root) could write,
# as OpenSSH StrictModes refuses such a ~/.ssh: the deepest existing directory on the
# way to dir, and every directory above it up to the user home (or /), must be owned by
# the user or root and give no write to group or others (a sticky one, such as /tmp,
# may: nobody else can move what is ours in it). Whoever can write there could plant a
# link or a FIFO where the login goes. The path is resolved (cd -P) in this shell, and
# the directories are read by one stat (ls, one by one, where there is no such stat).
# Class unsafe-home, DETAIL: the path, its owner and its mode.
check_home_safe() {
    safe_walk=$dir
    while [ -n "$safe_walk" ] && ! [ -d "$safe_walk" ]; do
        safe_walk=${safe_walk%/*}
    done
    safe_back=$PWD
    cd -P "${safe_walk:-/}" 2>/dev/null || return 0
    safe_walk=$PWD
    safe_stop=/
    if [ -n "$HOME" ] && cd -P "$HOME" 2>/dev/null; then
        safe_stop=$PWD
    fi
    cd "$safe_back" 2>/dev/null || cd /
    set -- "$safe_walk"
    while [ "$safe_walk" != "$safe_stop" ] && [ -n "$safe_walk" ] && [ "$safe_walk" != / ]; do
        safe_walk=${safe_walk%/*}
        set -- "$@" "${safe_walk:-/}"
    done
    safe_list=$(LC_ALL=C stat -c "%u:%A" -- "$@" 2>/dev/null) || safe_list=
    if [ -z "$safe_list" ]; then
        for safe_path in "$@"; do
            ls_fields "$safe_path"
            safe_dir_ok "$safe_path" "$ls_uid" "$ls_mode"
        done
        return 0
    fi
    for safe_entry in $safe_list; do
        safe_dir_ok "$1" "${safe_entry%%:*}" "${safe_entry#*:}"
        shift
    done
}

# safe_dir_ok PATH UID MODE: the directory is the user alone (or root), or sticky.
safe_dir_ok() {
    if [ "$2" != "$uid" ] && [ "$2" != 0 ]; then
        fail unsafe-home "$1 $2 $3"
    fi
    case $3 in
        ?????????t* | ?????????T*) ;;
        ?????w* | ????????w*) fail unsafe-home "$1 $2 $3" ;;
    esac
}

# make_private_dir: dir, created (0700) if missing, else made 0700; a failed chmod of a
# directory that is not ours is no failure when nobody else may write it
# (check_home_safe came first).
make_private_dir() {
    if [ -d "$dir" ]; then
        chmod 700 "$dir" 2>/dev/null
    else
        mkdir_said=$(mkdir -p "$dir" 2>&1) || fail write "create $dir: $mkdir_said"
    fi
}

# new_temp NAME: $made_temp, the name of a new temp file dir/NAME.PID.NONCE, nothing
# there yet (not even a dangling link); the caller creates it with noclobber (set -C:
# O_EXCL), so nothing planted is opened. Its name cannot be guessed (the run nonce is
# random and travels on stdin), and its PID lets a run that died be told from one still
# writing (clean_stale). The directory is the user alone (check_home_safe came first).
new_temp() {
    made_temp=$dir/$1.$$.$nonce
    if [ -e "$made_temp" ] || [ -L "$made_temp" ]; then
        fail write "$made_temp exists"
    fi
}

# ---- writing under Codex's locks (install and remove)

# sum_of FILE: $sum, its sha256 (empty where there is no tool to compute it).
sum_of() {
    if [ -z "$hash_tool" ]; then
        hash_tool=none
        for tool in sha256sum shasum openssl sha256; do
            if command -v "$tool" >/dev/null 2>&1; then
                hash_tool=$tool
                break
            fi
        done
    fi
    case $hash_tool in
        sha256sum) sum=$(sha256sum <"$1") ;;
        shasum) sum=$(shasum -a 256 <"$1") ;;
        openssl) sum=$(openssl dgst -sha256 -r <"$1") ;;
        sha256) sum=$(sha256 -q <"$1") ;;
        *) sum= ;;
    esac
    sum=${sum%% *}
}

# length_of FILE: $length, its size in bytes.
length_of() {
    length=$(wc -c <"$1")
    # shellcheck disable=SC2086
    set -- $length
    length=$1
}

# report_modes: the modes of dir and auth_file and the owner and length of auth_file,
# as ls shows them.
report_modes() {
    # shellcheck disable=SC2046
    set -- $(cd "$dir" && LC_ALL=C ls -lnd . auth.json)
    say dir_mode "$1"
    say dir_uid "$3"
    shift 9
    say file_mode "$1"
    say file_uid "$3"
    say len "$5"
}

# take_lock FD: an exclusive flock on FD within req_lock_wait seconds. Free at once is
# the usual case; else flock -w waits, and where flock has no -w (busybox) it is polled.
take_lock() {
    if flock -n "$1" 2>/dev/null; then
        return 0
    fi
    if [ -z "$poll_lock" ]; then
        flock_said=$(flock -w "$req_lock_wait" "$1" 2>&1) && return 0
        case $flock_said in
            *ption* | *sage*) poll_lock=1 ;;
            *) return 1 ;;
        esac
    fi
    tenths=0
    while [ "$tenths" -lt $((req_lock_wait * 10)) ]; do
        if sleep 0.1 2>/dev/null; then
            tenths=$((tenths + 1))
        else
            sleep 1
            tenths=$((tenths + 10))
        fi
        if flock -n "$1" 2>/dev/null; then
            return 0
        fi
    done
    return 1
}

# open_lock FD NAME: FD opened on dir/NAME for appending (never through a link, nor on
# a FIFO or a device). `command` keeps a failed
# redirection from ending the shell (exec is special); its reason is then read from a
# second try in a subshell.
open_lock() {
    lock_path=$dir/$2
    if [ -L "$lock_path" ] || { [ -e "$lock_path" ] && ! [ -f "$lock_path" ]; }; then
        fail write "open $lock_path: not a regular file"
    fi
    case $1 in
        7) command exec 7>>"$lock_path" && return ;;
        8) command exec 8>>"$lock_path" && return ;;
    esac
    open_said=$( : 2>&1 >>"$lock_path")
    fail write "open $lock_path: $open_said"
}

# lock_codex: Codex's locks on dir, as Codex 0.171 takes them when it commits a login:
# auth.lock, then auth.json.lock, each waited for req_lock_wait seconds (class busy when
# one stays held). Without flock, reports lock=none and goes on.
lock_codex() {
    if ! command -v flock >/dev/null 2>&1; then
        say lock none
        return
    fi
    poll_lock=
    open_lock 7 auth.lock
    take_lock 7 || fail busy "auth.lock $req_lock_wait"
    open_lock 8 auth.json.lock
    take_lock 8 || fail busy "auth.json.lock $req_lock_wait"
    say lock held
}

unlock_codex() {
    exec 7>&- 8>&-
}

# check_expected: the compare-and-swap precondition, under the locks: req_expect is
# empty (none asked), none (no login may be there) or the sha256 of the login that must
# still be there. Class changed when it does not hold.
check_expected() {
    case $req_expect in
        "") return ;;
        none)
            if [ -e "$auth_file" ] || [ -L "$auth_file" ]; then
                fail changed present
            fi
            return
            ;;
    esac
    if ! [ -f "$auth_file" ]; then
        fail changed absent
    fi
    sum_of "$auth_file"
    if [ -z "$sum" ]; then
        fail unverifiable "$hash_tool"
    fi
    if [ "$sum" != "$req_expect" ]; then
        fail changed other
    fi
}

# alive PID: the process runs (one that exited but was not reaped, a zombie where
# nothing reaps, is dead too).
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    if ! [ -r "/proc/$1/stat" ]; then
        return 0
    fi
    process_stat=$(cat "/proc/$1/stat" 2>/dev/null)
    process_stat=${process_stat##*) }
    case $process_stat in
        Z* | X*) return 1 ;;
    esac
}

# report_leftovers: temp files beside the login, which may hold a copy of it (of a run
# that died, or of one still writing): status only reads, so it says what it found and
# leaves them to the next push or logout there (clean_stale).
report_leftovers() {
    set +f
    for left_file in "$dir"/.auth.json.[0-9]* "$dir"/.auth.json.bak.[0-9]*; do
        if [ -e "$left_file" ]; then
            say leftover "$left_file"
        fi
    done
    set -f
}

# clean_stale: remove the temp files of runs that died (.auth.json.PID[.RANDOM] and
# .auth.json.bak.PID[.RANDOM] whose PID is gone), reporting each.
clean_stale() {
    set +f
    for stale_file in "$dir"/.auth.json.[0-9]* "$dir"/.auth.json.bak.[0-9]*; do
        if ! [ -e "$stale_file" ]; then
            continue
        fi
        owner_pid=${stale_file##*/.auth.json.}
        owner_pid=${owner_pid#bak.}
        owner_pid=${owner_pid%%.*}
        if ! [ "$owner_pid" -ge 0 ] 2>/dev/null; then
            continue
        fi
        if [ "$owner_pid" != "$$" ] && ! alive "$owner_pid"; then
            rm -f "$stale_file" && say cleaned "$stale_file"
        fi
    done
    set -f
}


# ---- leases (run): private Codex homes for one command

# keeper_start: $keeper_start, when this shell started (/proc), so that a PID used again
# by another process is not taken for a live keeper (empty where there is no /proc).
keeper_start() {
    keeper_start=
    if read -r keeper_stat 2>/dev/null </proc/$$/stat; then
        # shellcheck disable=SC2086
        set -- ${keeper_stat##*) }
        if [ "$#" -ge 20 ]; then
            shift 19
            # (read by lease.sh)
            # shellcheck disable=SC2034
            keeper_start=$1
        fi
    fi
}

# keeper_alive PID START: the keeper that wrote a lease still runs.
keeper_alive() {
    alive "$1" || return 1
    if [ -z "$2" ] || ! read -r other_stat 2>/dev/null <"/proc/$1/stat"; then
        return 0
    fi
    # shellcheck disable=SC2086
    set -- "$2" ${other_stat##*) }
    if [ "$#" -ge 21 ]; then
        other_expected=$1
        shift 20
        [ "$1" = "$other_expected" ]
    fi
}

# clean_leases: remove this user's leases (in .codex-auth-run of the Codex home) whose
# keeper is gone, reporting each; one of another user, a link, or one still being made
# is left.
clean_leases() {
    set +f
    for old_lease in "$dir"/.codex-auth-run/*; do
        if [ -L "$old_lease" ] || ! [ -d "$old_lease" ] || ! [ -O "$old_lease" ]; then
            continue
        fi
        if read -r old_pid old_start 2>/dev/null <"$old_lease/.keeper" &&
            [ "$old_pid" -gt 0 ] 2>/dev/null && [ "$old_pid" != "$$" ] &&
            ! keeper_alive "$old_pid" "$old_start"; then
            rm -rf "$old_lease" && say cleaned_lease "$old_lease"
        fi
    done
    set -f
}

# file_store_config: the lease's own config.toml, for a place whose Codex keeps its
# login in the keyring (or auto): req_file_config first, then the place's config.toml
# without its top-level cli_auth_credentials_store, so that the command's Codex reads
# the lent auth.json and everything else of the place's setup applies.
file_store_config() {
    in_table=
    # (lease: set by lease.sh)
    # shellcheck disable=SC2154
    {
        printf "%s" "$req_file_config"
        echo
        if [ -f "$dir/config.toml" ] && [ -r "$dir/config.toml" ]; then
            while IFS= read -r config_line || [ -n "$config_line" ]; do
                if [ -z "$in_table" ]; then
                    first_word "${config_line%%=*}"
                    clean_value "$word"
                    case $word in
                        "["*) in_table=1 ;;
                        *)
                            if [ "$clean" = cli_auth_credentials_store ]; then
                                continue
                            fi
                            ;;
                    esac
                fi
                printf "%s" "$config_line"
                echo
            done <"$dir/config.toml"
        fi
    } >"$lease/config.toml"
}

# signal_command WORD: send the command of this lease SIGINT, SIGTERM, SIGHUP or SIGKILL.
signal_command() {
    # (set by lease.sh)
    # shellcheck disable=SC2154
    if read -r command_pid 2>/dev/null <"$lease/.command" && [ "$command_pid" -gt 0 ] 2>/dev/null; then
        case $1 in
            int) kill -INT "$command_pid" 2>/dev/null ;;
            term) kill -TERM "$command_pid" 2>/dev/null ;;
            hup) kill -HUP "$command_pid" 2>/dev/null ;;
            kill) kill -KILL "$command_pid" 2>/dev/null ;;
        esac
    fi
}

# drop_empty_home: the lease directory, and the Codex home this lease made, when
# nothing else is in them.
drop_empty_home() {
    rmdir "$dir/.codex-auth-run" 2>/dev/null
    if [ -n "$made_home" ]; then
        rmdir "$dir" 2>/dev/null
    fi
}

# drop_lease: the client is gone or we are told to stop: the command is stopped, the
# lease removed, and the script ends.
drop_lease() {
    trap "" HUP INT TERM PIPE
    signal_command term
    rm -rf "$lease"
    drop_empty_home
    exit 4
}

set -f
