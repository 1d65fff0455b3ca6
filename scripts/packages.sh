# shellcheck shell=bash
# Sourced by the peer, lint and bench scripts: install Debian packages that are missing,
# waiting for the package manager when another apt-get or dpkg holds its lock (up to
# APT_LOCK_WAIT seconds, 600 by default) instead of failing at once.
#
#   apt_ensure LOG PACKAGE...   install what is missing; output appended to LOG

APT_LOCK_WAIT=${APT_LOCK_WAIT:-600}

# The packages among the arguments that are not installed.
apt_missing() {
    local p
    for p in "$@"; do
        if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
            printf '%s\n' "$p"
        fi
    done
}

# apt-get ARGS..., retried while another process holds apt's or dpkg's lock.
apt_run() {
    local log=$1 deadline=$((SECONDS + APT_LOCK_WAIT)) mark
    shift
    while :; do
        mark=$({ wc -l <"$log"; } 2>/dev/null || echo 0)
        if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout="$APT_LOCK_WAIT" "$@" >>"$log" 2>&1; then
            return 0
        fi
        if tail -n "+$((mark + 1))" "$log" | grep -qE 'Could not get lock|Unable to acquire|is another process using it'; then
            if [ "$SECONDS" -lt "$deadline" ]; then
                printf 'waiting for another package manager (apt lock held)\n' >&2
                sleep 3
                continue
            fi
        fi
        return 1
    done
}

apt_ensure() {
    local log=$1 missing
    shift
    mapfile -t missing < <(apt_missing "$@")
    [ ${#missing[@]} -gt 0 ] || return 0
    printf 'apt-get install %s\n' "${missing[*]}" >&2
    apt_run "$log" update || { tail -n 30 "$log" >&2; return 1; }
    apt_run "$log" install -y --no-install-recommends "${missing[@]}" || { tail -n 30 "$log" >&2; return 1; }
}
