# shellcheck shell=sh
# remove.sh: take the login off a target in one round trip (common.sh comes first).
#
# The request (targets/script/request.rs, Remove): the Codex home and whose it
# is (see locate), keep_backup, dry_run, lock_wait, codex_version, expect (the
# compare-and-swap precondition, as for an install) and send_login. A logout sends no
# secret.
#
# Under Codex's own locks, as an install: a symlink at the path is removed, never
# followed; a directory there is refused; auth.json.bak goes too unless kept. Then Codex
# itself is asked what it sees now. What was removed (on a dry run, what is there) is
# said as its sha256 (sum), which the client matches against what it remembers. Only
# with send_login (a logout that revokes) does the login itself follow the report,
# behind a framed body line, auth_len bytes long, so that the client revokes exactly that
# session without a second round trip. It is opened, then unlinked under the locks, and
# sent from the open descriptor: from the unlink on no copy of it is on disk, so a run
# cut off at any point leaves the login either where it was or nowhere.

umask 077
read_request codex-auth-remove-3
locate
guard_secrets
if [ -d "$auth_file" ] && ! [ -L "$auth_file" ]; then
    fail not-a-file "$auth_file"
fi
backup_file=$dir/auth.json.bak
check_home_safe

# say_sum: the sha256 of the login about to go, when it is not sent itself.
say_sum() {
    if [ "$req_send_login" != 1 ] && [ -f "$auth_file" ] && ! [ -L "$auth_file" ] &&
        [ -r "$auth_file" ]; then
        sum_of "$auth_file"
        if [ -n "$sum" ]; then
            say sum "$sum"
        fi
    fi
}

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
    say_sum
    if [ "$req_send_login" = 1 ] && [ -f "$auth_file" ] && ! [ -L "$auth_file" ] &&
        [ -r "$auth_file" ] && command exec 6<"$auth_file"; then
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
say_sum
if [ -f "$auth_file" ] && ! [ -L "$auth_file" ]; then
    if [ "$req_send_login" = 1 ] && [ -r "$auth_file" ] && command exec 6<"$auth_file"; then
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
