# shellcheck shell=sh
# remove.sh: take the login off a target in one round trip (common.sh comes first).
#
# The request (targets/script/request.rs, Remove): the Codex home and whose it
# is (see locate), keep_backup, dry_run, lock_wait, codex_version, and expect (the
# compare-and-swap precondition, as for an install). A logout sends no secret.
#
# Under Codex's own locks, as an install: a symlink at the path is removed, never
# followed; a directory there is refused; auth.json.bak goes too unless kept. Then Codex
# itself is asked what it sees now. The login removed (on a dry run, the one there)
# follows the report behind a framed body line, auth_len bytes long, so that the client
# knows what it took away (to report it, and to revoke exactly that session) without a
# second round trip. It is opened, then unlinked under the locks, and sent from the open
# descriptor: from the unlink on no copy of it is on disk, so a run cut off at any point
# leaves the login either where it was or nowhere.

umask 077
read_request codex-auth-remove-2
locate
guard_secrets
if [ -d "$auth_file" ] && ! [ -L "$auth_file" ]; then
    fail not-a-file "$auth_file"
fi
backup_file=$dir/auth.json.bak
check_home_safe

# send_login: the end of the report, then the login (length bytes) behind it, from
# descriptor 6.
send_login() {
    say auth_len "$length"
    say end 1
    printf "%s body" "$nonce"
    echo
    cat <&6
}

# report_backup: auth.json.bak, when it goes too.
report_backup() {
    if [ "$req_keep_backup" != 1 ] && { [ -e "$backup_file" ] || [ -L "$backup_file" ]; }; then
        say backup "$backup_file"
    fi
}

if [ "$req_dry_run" = 1 ]; then
    check_expected
    if [ -e "$auth_file" ] || [ -L "$auth_file" ]; then
        say outcome would-remove
    else
        say outcome absent
    fi
    report_backup
    if [ -f "$auth_file" ] && ! [ -L "$auth_file" ] && [ -r "$auth_file" ] &&
        command exec 6<"$auth_file"; then
        length_of "$auth_file"
        send_login
        exit 0
    fi
    finish
fi

if ! [ -d "$dir" ]; then
    check_expected
    say outcome absent
    codex_verdict
    finish
fi
lock_codex
clean_stale
check_expected
if [ -f "$auth_file" ] && ! [ -L "$auth_file" ]; then
    if [ -r "$auth_file" ] && command exec 6<"$auth_file"; then
        length_of "$auth_file"
        sent=1
    fi
    rm_said=$(rm -f "$auth_file" 2>&1) || fail write "remove $auth_file: $rm_said"
    say outcome removed
elif [ -e "$auth_file" ] || [ -L "$auth_file" ]; then
    # (a link is removed, never followed; a FIFO or a device is never opened)
    rm_said=$(rm -f "$auth_file" 2>&1) || fail write "remove $auth_file: $rm_said"
    say outcome removed
else
    say outcome absent
fi
report_backup
if [ "$req_keep_backup" != 1 ] && { [ -e "$backup_file" ] || [ -L "$backup_file" ]; }; then
    rm_said=$(rm -f "$backup_file" 2>&1) || fail write "remove $backup_file: $rm_said"
fi
unlock_codex
codex_running
codex_verdict
if [ -n "$sent" ]; then
    send_login
    exit 0
fi
finish
