#!/usr/bin/env bash
# Shows that a test run left the machine as it found it (CI runs it around scripts/test.sh).
#
#   scripts/host-check.sh snapshot DIR [NAME]   record the machine's state in DIR/NAME
#                                               (NAME: before, the default, or installed)
#   scripts/host-check.sh compare DIR           compare the machine with DIR; fails (exit 1)
#                                               on any difference, then removes DIR
#
# What is recorded: the accounts (/etc/passwd, /etc/group, /etc/shadow, /etc/gshadow),
# the list of /home, the listening TCP and UDP sockets (ss -ltnup, without the queue
# sizes and processes), the network namespaces (ip netns list), the network interfaces,
# the mount points, the cgroups of test runs and of dockerd and podman
# (codex-auth-test.*, docker/*, libpod_parent/*), and the processes (PID and start time).
#
# scripts/test.sh takes the snapshot "installed" after its package installs when
# CODEX_AUTH_HOST_CHECK=DIR is set: those are the run's only lasting change, and `compare`
# shows them, then compares the machine with that snapshot. A difference in anything but
# the accounts between "before" and "installed" (an install that left a daemon, a
# socket, an interface) fails too.
#
# Processes, robustly on a shared machine: no process started by this run after the
# snapshot "before" may still be alive (this checker and its ancestors aside). "Started by
# this run": it carries CODEX_AUTH_HOST_CHECK=DIR in its environment (everything test.sh
# starts does, unless it clears it) or descends from the script that runs this check.
# Other new processes (someone else's) are listed, and fail the check only with
# HOST_CHECK_STRICT=1 (for a machine where nothing else runs).
#
# The cgroups of an earlier run that was killed (SIGKILL leaves them, empty) are removed
# by the next scripts/test.sh: such a removal is listed, and is not a failure.
set -euo pipefail

say() { printf 'host-check: %s\n' "$*"; }
die() { printf 'host-check: ERROR: %s\n' "$*" >&2; exit 2; }
usage() { echo "usage: $0 snapshot DIR [before|installed] | compare DIR" >&2; exit 2; }

ITEMS=(passwd group shadow gshadow home listening netns interfaces mounts cgroups)
ACCOUNTS=(passwd group shadow gshadow)

# item NAME: that part of the machine's state, one sorted line per thing.
item() {
    case $1 in
        passwd | group | shadow | gshadow)
            if [ -e "/etc/$1" ]; then LC_ALL=C sort "/etc/$1"; fi ;;
        home) find /home -mindepth 1 -maxdepth 1 -printf '%f %u %m\n' 2>/dev/null | LC_ALL=C sort ;;
        listening)
            # Netid State Recv-Q Send-Q Local Peer [Process]: the queues vary, the
            # process column is in the details of a difference.
            ss -Hltnu | awk '{print $1, $2, $5, $6}' | LC_ALL=C sort -u ;;
        netns) { ip netns list 2>/dev/null || true; } | awk '{print $1}' | LC_ALL=C sort ;;
        interfaces) ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | LC_ALL=C sort ;;
        mounts) awk '{print $5, $(NF-2)}' /proc/self/mountinfo | LC_ALL=C sort ;;
        cgroups)
            # (the cgroup of a test run still going is its own: it goes with it)
            find /sys/fs/cgroup -mindepth 2 -maxdepth 6 -type d \
                \( -name 'codex-auth-test*' -o -path '*/docker/*' -o -path '*/libpod_parent/*' \) \
                -prune -print 2>/dev/null | LC_ALL=C sort | while IFS= read -r d; do
                    run_alive "$d" || printf '%s\n' "$d"
                done ;;
        *) die "no such item: $1" ;;
    esac
}

# True if $1 is the cgroup of a scripts/test.sh still running (codex-auth-test.PID.START).
run_alive() {
    local id=${1##*/codex-auth-test.} stat rest
    [[ $id =~ ^([0-9]+)\.([0-9]+)$ ]] || return 1
    stat=$(cat "/proc/${BASH_REMATCH[1]}/stat" 2>/dev/null) || return 1
    rest=${stat##*) }
    # shellcheck disable=SC2086
    set -- $rest
    [ "${20}" = "${BASH_REMATCH[2]}" ]
}

# "PID START" of every process (START: clock ticks after boot), kernel threads left out.
processes() {
    local st rest pid
    for st in /proc/[0-9]*/stat; do
        rest=$(cat "$st" 2>/dev/null) || continue
        pid=${rest%% *}
        rest=${rest##*) }
        # shellcheck disable=SC2086
        set -- $rest
        # field 4 (PPID) is $2; kthreadd (2) and its children are kernel threads
        [ "$pid" = 2 ] || [ "$2" = 2 ] && continue
        printf '%s %s\n' "$pid" "${20}"
    done
}

snapshot() {
    local dir=$1 name=${2:-before} i
    case $name in before | installed) ;; *) usage ;; esac
    # several test runs under one check: the first one's installs are the ones shown
    if [ "$name" = installed ] && [ -d "$dir/$name" ]; then return 0; fi
    mkdir -p "$dir/$name"
    for i in "${ITEMS[@]}"; do item "$i" >"$dir/$name/$i"; done
    processes >"$dir/$name/processes"
    say "snapshot $name: $(wc -l <"$dir/$name/passwd") accounts, $(wc -l <"$dir/$name/home") in /home, $(wc -l <"$dir/$name/listening") listening sockets, $(wc -l <"$dir/$name/netns") network namespaces, $(wc -l <"$dir/$name/interfaces") interfaces, $(wc -l <"$dir/$name/processes") processes"
}

# diff_item OLD NEW: + and - lines, nothing when equal.
diff_item() {
    { diff "$1" "$2" || true; } | sed -n 's/^> /  + /p; s/^< /  - /p'
}

# The PIDs of this checker and all its ancestors.
ancestors() {
    local pid=$$ ppid
    while [ -n "$pid" ] && [ "$pid" != 0 ]; do
        echo "$pid"
        ppid=$(awk '/^PPid:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || break
        pid=$ppid
    done
}

# A line describing PID.
describe() {
    local cmd
    cmd=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | cut -c1-160)
    printf 'pid %s (ppid %s): %s\n' "$1" "$(awk '/^PPid:/ {print $2}' "/proc/$1/status" 2>/dev/null)" "${cmd:-[$(cat "/proc/$1/comm" 2>/dev/null)]}"
}

compare() {
    local dir=$1 base failed=0 i d
    [ -d "$dir/before" ] || die "no snapshot in $dir (run: $0 snapshot $dir)"
    base=$dir/before
    if [ -d "$dir/installed" ]; then
        base=$dir/installed
        for i in "${ITEMS[@]}"; do
            d=$(diff_item "$dir/before/$i" "$dir/installed/$i")
            [ -n "$d" ] || continue
            if [[ " ${ACCOUNTS[*]} " == *" $i "* ]]; then
                say "$i: changed by the package installs (lasting, expected):"
            else
                say "$i: changed by the package installs: FAIL (an install may only add packages and their accounts)"
                failed=1
            fi
            printf '%s\n' "$d"
        done
    fi
    for i in "${ITEMS[@]}"; do
        d=$(diff_item "$base/$i" <(item "$i"))
        if [ "$i" = cgroups ] && [ -n "$d" ] && ! grep -qv "^  - .*/codex-auth-test\.[0-9]*\.[0-9]*\$" <<<"$d"; then
            say "cgroups: as before, but for empty ones of an earlier, killed run, removed:"
            printf '%s\n' "$d"
        elif [ -z "$d" ]; then
            say "$i: as before ($(wc -l <"$base/$i") lines)"
        else
            say "$i: DIFFERS from before the run: FAIL"
            printf '%s\n' "$d"
            if [ "$i" = listening ]; then ss -Hltnup | sed 's/^/  now: /'; fi
            failed=1
        fi
    done

    # processes started since the snapshot and still alive
    local -A known=() mine=() parent=()
    local pid start ppid p anc new=() ours=() others=() token="CODEX_AUTH_HOST_CHECK=$dir"
    while read -r pid start; do known["$pid $start"]=1; done <"$dir/before/processes"
    while read -r anc; do mine[$anc]=1; done < <(ancestors)
    while read -r pid start; do
        [ -n "${known["$pid $start"]-}" ] && continue
        [ -n "${mine[$pid]-}" ] && continue
        grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null && continue   # a zombie: gone
        ppid=$(awk '/^PPid:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || continue
        parent[$pid]=$ppid
        new+=("$pid")
    done < <(processes)
    local caller=$PPID below
    for pid in "${new[@]+"${new[@]}"}"; do
        # this checker's own helpers (its children) are not the run's
        [ "${parent[$pid]}" = $$ ] && continue
        [ -e "/proc/$pid" ] || continue
        # below the script that runs this check?
        below=0
        p=${parent[$pid]}
        while [ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != 1 ]; do
            if [ "$p" = "$caller" ]; then below=1; break; fi
            p=$(awk '/^PPid:/ {print $2}' "/proc/$p/status" 2>/dev/null) || break
        done
        if [ $below = 1 ] || [ "${HOST_CHECK_STRICT:-0}" = 1 ] ||
            tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF "$token"; then
            ours+=("$pid")
        else
            others+=("$pid")
        fi
    done
    if [ ${#ours[@]} -eq 0 ]; then
        say "processes: none of this run is left ($((${#ours[@]} + ${#others[@]})) started since the snapshot and alive, none from this run)"
    else
        say "processes: ${#ours[@]} started by this run still alive: FAIL"
        for pid in "${ours[@]}"; do printf '  %s\n' "$(describe "$pid")"; done
        failed=1
    fi
    if [ ${#others[@]} -gt 0 ]; then
        say "note: ${#others[@]} other process(es) started meanwhile, not by this run (ignored):"
        for pid in "${others[@]}"; do printf '  %s\n' "$(describe "$pid")"; done
    fi

    if [ $failed = 0 ]; then
        say "the machine is as it was before the run (but for the package installs)"
        rm -rf "$dir"
    else
        say "FAILED: the run changed the machine (snapshot kept in $dir)"
    fi
    return $failed
}

case ${1:-} in
    snapshot)
        if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi
        snapshot "$2" "${3:-before}" ;;
    compare) [ $# -eq 2 ] || usage; compare "$2" ;;
    *) usage ;;
esac
