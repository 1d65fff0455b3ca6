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
# second round trip. It is renamed aside under the locks and deleted once sent; a run
# cut off meanwhile leaves it as .auth.json.PID, which the next push or logout removes.

umask 077
read_request codex-auth-remove-2
locate
if [ -d "$auth_file" ] && ! [ -L "$auth_file" ]; then
    fail not-a-file "$auth_file"
fi
backup_file=$dir/auth.json.bak

# send_login FILE: the end of the report, then FILE behind it.
send_login() {
    length_of "$1"
    say auth_len "$length"
    say end 1
    printf "%s body" "$nonce"
    echo
    cat "$1"
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
    if [ -f "$auth_file" ] && ! [ -L "$auth_file" ] && [ -r "$auth_file" ]; then
        send_login "$auth_file"
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
if [ -L "$auth_file" ]; then
    rm_said=$(rm -f "$auth_file" 2>&1) || fail write "remove $auth_file: $rm_said"
    say outcome removed
elif [ -e "$auth_file" ]; then
    removed_file=$dir/.auth.json.$$
    mv_said=$(mv -f "$auth_file" "$removed_file" 2>&1) || fail write "remove $auth_file: $mv_said"
    # (a failure from here on removes it with the temp file: the login is gone either way)
    temp_file=$removed_file
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
if [ -n "$removed_file" ]; then
    send_login "$removed_file"
    rm -f "$removed_file"
    exit 0
fi
finish
