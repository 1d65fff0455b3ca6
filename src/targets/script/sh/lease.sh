# shellcheck shell=sh
# lease.sh: a private Codex home on this place for one command (codex-auth run), kept
# while the client holds our stdin open and removed when it says the command ended or
# when it goes away (EOF: a cut connection, a killed client); common.sh comes first.
#
# The request (targets/script/request.rs, Lease): the Codex home and whose it is (see
# locate), lines and sum (the login: that many lines after the request, its sha256),
# file_config (the line that makes Codex keep its login in a file), find_codex (the
# command is codex: say the directory of the codex its user would run, as install finds
# it, for the command's PATH),
# full (send the login back at the end when the command changed it). The lease is a
# new directory of unpredictable name (mktemp -d, 0700) in .codex-auth-run of the Codex
# home (which check_home_safe found private; not in TMPDIR, where Codex 0.171 refuses to
# make its helper binaries), holding the login and a link to every other entry of the
# Codex home (config.toml, AGENTS.md, sessions, ...),
# so the command sees the place's own Codex setup and nothing is copied (but a
# config.toml that keeps logins in the keyring, or auto: the lease gets a copy that keeps
# them in files, its first line file_config from the request). The first
# report says where (lease) and ends; then control lines are read: int, term, hup or kill
# signal the command (whose wrapper wrote its PID to .command in the lease), end says it
# ended. Then the lease is removed and a second report says so (removed; with full and
# a changed login: changed and auth_len, and the login behind a framed body line).
# A lease whose keeper is gone (killed) is removed by the next run or status here.

read_request codex-auth-lease-1
locate
check_home_safe
umask 077
made_home=
if ! [ -d "$dir" ]; then
    made_home=1
fi
make_private_dir
lease_root=$dir/.codex-auth-run
clean_leases
# (twice: a run ending beside this one may remove the empty directory in between)
for attempt in 1 2; do
    if ! [ -d "$lease_root" ]; then
        mkdir "$lease_root" 2>/dev/null
    fi
    if [ -L "$lease_root" ] || ! [ -O "$lease_root" ]; then
        fail write "$lease_root is not a directory of this user"
    fi
    if lease=$(mktemp -d "$lease_root/XXXXXXXXXX" 2>&1); then
        break
    elif [ "$attempt" = 2 ]; then
        fail write "create a lease: $lease"
    fi
done
trap drop_lease HUP INT TERM PIPE
keeper_start
echo "$$ $keeper_start" >"$lease/.keeper"
set -C
line_count=0
while [ "$line_count" -lt "$req_lines" ] && IFS= read -r login_line; do
    printf "%s" "$login_line"
    echo
    line_count=$((line_count + 1))
done >"$lease/auth.json"
set +C
if [ "$line_count" != "$req_lines" ]; then
    rm -rf "$lease"
    fail torn "$line_count of $req_lines"
fi
sum_of "$lease/auth.json"
if [ -n "$sum" ] && [ "$sum" != "$req_sum" ]; then
    rm -rf "$lease"
    fail torn sum
fi
if [ "$store" = keyring ] || [ "$store" = auto ]; then
    file_store_config
fi
set +f
for home_entry in "$dir"/* "$dir"/.*; do
    entry_name=${home_entry##*/}
    case $entry_name in
        . | .. | auth.json | auth.json.lock | auth.lock | .auth* | .codex-auth-run) continue ;;
    esac
    if [ "$entry_name" = config.toml ] && [ -e "$lease/config.toml" ]; then
        continue
    fi
    if [ -e "$home_entry" ] || [ -L "$home_entry" ]; then
        ln -s "$home_entry" "$lease/$entry_name" 2>/dev/null
    fi
done
set -f
if [ "$req_find_codex" = 1 ]; then
    find_codex
    if [ -n "$codex" ]; then
        say codex_dir "${codex%/*}"
    fi
fi
say lease "$lease"
say end 1
ended=
while IFS= read -r control; do
    case $control in
        int | term | hup | kill) signal_command "$control" ;;
        end)
            ended=1
            break
            ;;
    esac
done
trap "" HUP INT TERM PIPE
if [ -z "$ended" ]; then
    signal_command term
fi
changed=
if [ "$req_full" = 1 ] && [ -n "$ended" ] && [ -f "$lease/auth.json" ] && ! [ -L "$lease/auth.json" ]; then
    sum_of "$lease/auth.json"
    if [ "$sum" != "$req_sum" ]; then
        length_of "$lease/auth.json"
        changed=$(cat "$lease/auth.json" && echo x)
        changed=${changed%x}
    fi
fi
removed=0
if rm -rf "$lease" 2>/dev/null && ! [ -e "$lease" ]; then
    removed=1
fi
drop_empty_home
say removed "$removed"
if [ -n "$changed" ]; then
    say changed 1
    say auth_len "$length"
    say end 1
    printf "%s body" "$nonce"
    echo
    printf "%s" "$changed"
    exit 0
fi
say end 1
