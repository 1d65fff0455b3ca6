# shellcheck shell=sh
# inspect.sh: report what login a target holds, in one round trip, touching nothing
# (common.sh comes first).
#
# The request (targets/script/request.rs, Inspect): the Codex home and whose it is (see
# locate), judge (ask Codex there), codex_version and digest_only. The file itself, when
# there is one to read, is sent after the end of the report, behind a framed body line,
# auth_len bytes long; with digest_only, only its sha256 is said (sum), and no body.

read_request codex-auth-inspect-4
locate
if [ "$store" = auto ]; then
    keyring_reach
fi
codex_running
report_leftovers
clean_leases
if [ "$req_judge" = 1 ]; then
    codex_verdict
fi
kind=none
if [ -L "$auth_file" ]; then
    kind=symlink
elif [ -d "$auth_file" ]; then
    kind=dir
elif [ -e "$auth_file" ]; then
    kind="file"
fi
say kind "$kind"
if [ "$req_digest_only" = 1 ] && [ -f "$auth_file" ] && [ -r "$auth_file" ]; then
    sum_of "$auth_file"
    say sum "$sum"
    finish
fi
if [ -f "$auth_file" ] && [ -r "$auth_file" ]; then
    # shellcheck disable=SC2046
    set -- $(ls -lnL "$auth_file")
    say file_mode "$1"
    length_of "$auth_file"
    say auth_len "$length"
    say end 1
    printf "%s body" "$nonce"
    echo
    cat "$auth_file"
    exit 0
elif [ -e "$auth_file" ]; then
    say unreadable 1
fi
finish
