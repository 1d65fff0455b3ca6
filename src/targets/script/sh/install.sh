# shellcheck shell=sh
# install.sh: install auth.json on a target in one round trip (common.sh comes first).
#
# The request (targets/script/request.rs, Install): the Codex home and whose it
# is (see locate), force, dry_run, the payload's sum (sha256) and len, the login's
# method (api, chatgpt or -) and workspace for config.toml's forced settings,
# codex_version, lock_wait, and expect (the compare-and-swap precondition: empty, none,
# or the sha256 of the login that must still be there). The payload, the login itself,
# follows the request on stdin; nothing secret is ever on the command line.
#
# The payload lands in a temp file first and is checked; the replace then happens under
# Codex's own locks (auth.lock, then auth.json.lock, as Codex 0.171 takes them), where
# the precondition is checked too, and what is read back is read before they go.

umask 077
read_request codex-auth-install-4
locate
guard_secrets

# refuse_forced: Codex there would refuse a login its forced settings exclude (and its
# exec would delete the file): not installed.
refuse_forced() {
    case $req_login_method in
        api | chatgpt)
            if [ -n "$forced_method" ] && [ "$forced_method" != "$req_login_method" ]; then
                fail forced-login "$forced_method"
            fi
            ;;
    esac
    if [ -n "$forced_workspaces" ] && [ "$req_login_method" = chatgpt ] && [ -n "$req_workspace" ]; then
        case ",$forced_workspaces," in
            *",$req_workspace,"*) ;;
            *) fail forced-workspace "$forced_workspaces" ;;
        esac
    fi
}

# skip: say why nothing is written (Codex there reads no auth.json), and end.
skip() {
    say outcome skipped
    cat >/dev/null 2>&1
    finish
}

# skip_unread: Codex there would not read the file: keyring (reads only the keyring),
# ephemeral (keeps logins in memory), auto with a keyring it can reach (an entry there
# wins). auto without one, the usual case over ssh and in containers, reads the file.
skip_unread() {
    case $store in
        keyring | ephemeral) ;;
        auto)
            keyring_reach
            if [ "$keyring" = unreachable ]; then
                return
            fi
            ;;
        *) return ;;
    esac
    if [ "$req_force" != 1 ]; then
        skip
    fi
}

# look: $existing, what is at the path now: none, symlink, same (these bytes), or
# different (told on dry runs; decided again under the locks).
look() {
    existing=none
    if [ -L "$auth_file" ]; then
        existing=symlink
    elif [ -d "$auth_file" ]; then
        fail not-a-file "$auth_file"
    elif [ -e "$auth_file" ]; then
        existing=different
        if [ -r "$auth_file" ]; then
            sum_of "$auth_file"
            if [ -n "$sum" ] && [ "$sum" = "$req_sum" ]; then
                existing=same
            fi
        fi
    fi
}

# receive: the payload into a new temp file (new_temp, created with O_EXCL) in a
# directory only the user can write (check_home_safe). A command's own error output is captured into the report
# (what the shell's start-up files print is not). The temp file is then checked against
# the sum (or, without a hash tool, the length) the request gave: a cut connection
# leaves nothing replaced, and nothing behind (guard_secrets).
receive() {
    make_private_dir
    new_temp .auth.json
    temp_file=$made_temp
    set -C
    cat_said=$(cat 2>&1 >"$temp_file") || fail write "write $temp_file: $cat_said"
    set +C
    sum_of "$temp_file"
    received_sum=$sum
    if [ -z "$sum" ]; then
        length_of "$temp_file"
        if [ "$length" != "$req_len" ]; then
            fail torn "$length of $req_len"
        fi
    elif [ "$sum" != "$req_sum" ]; then
        fail torn sum
    fi
}

# back_up_existing: a different login that is there is kept once as auth.json.bak (0600,
# written whole before it replaces an older one).
back_up_existing() {
    if [ "$existing" = different ] && [ -f "$auth_file" ] && [ -r "$auth_file" ]; then
        new_temp .auth.json.bak
        backup_temp=$made_temp
        set -C
        cat "$auth_file" >"$backup_temp" && mv -f "$backup_temp" "$dir/auth.json.bak" &&
            say backup "$dir/auth.json.bak"
        set +C
        rm -f "$backup_temp"
        backup_temp=
    fi
}

# commit: the temp file renamed over auth.json. Saying committing first is the commit
# point: a client that is gone by now makes that write fail (SIGPIPE, or EPIPE where
# SIGPIPE is ignored), and the rename does not happen (abandon).
commit() {
    back_up_existing
    if [ -L "$auth_file" ]; then
        rm -f "$auth_file"
    fi
    say committing 1 || abandon
    mv_said=$(mv -f "$temp_file" "$auth_file" 2>&1) || fail write "replace $auth_file: $mv_said"
    temp_file=
    say outcome installed
    say sum "$received_sum"
}

refuse_forced
skip_unread
check_home_safe

if [ "$req_dry_run" = 1 ]; then
    look
    check_expected
    say existing "$existing"
    if [ "$existing" = same ]; then
        say outcome unchanged
    else
        say outcome would-install
    fi
    cat >/dev/null 2>&1
    finish
fi

receive
lock_codex
clean_stale
check_expected
look
say existing "$existing"
if [ "$existing" = same ]; then
    rm -f "$temp_file"
    temp_file=
    chmod 700 "$dir" 2>/dev/null
    chmod 600 "$auth_file" 2>/dev/null
    say outcome unchanged
    say sum "$req_sum"
else
    commit
fi
# (Under the locks nothing else writes: the length ls reads back is of our file.)
report_modes
unlock_codex
codex_running
codex_verdict
keep_login_path
finish
