#!/usr/bin/env bash
# Assemble the root file systems of the codex-auth Docker test images.
#
#   docker/test-images/rootfs.sh base    OUT_DIR [DEB_DIR]   busybox rootfs (the `base` image)
#   docker/test-images/rootfs.sh noshell OUT_DIR             no shell, no coreutils: only /pause
#
# `base` is made from the Debian busybox-static package: the .deb is taken from
# DEB_DIR (or apt's archive cache) or fetched with `apt-get download`, and
# unpacked with `dpkg-deb -x`. If that fails (no mirror), the installed
# /bin/busybox of the same package is used instead, with a warning.
# `noshell` gets a static /pause built from docker/noshell/pause.c with gcc.
# OUT_DIR must not exist yet or be empty; ownership needs root (run as root).
# The caller turns OUT_DIR into an image (`tar -C OUT_DIR -c . | docker import`).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd -P)

# Applets linked into /bin: the basic tools codex-auth's remote script may use,
# plus a few that shells and humans commonly reach for. Not everything busybox
# has (no awk, base64, od, dd, ...): exec'ing those directly fails. Note that
# Debian's busybox-static is built with FEATURE_SH_STANDALONE, so inside `sh -c`
# every applet of busybox runs (and `command -v` finds it) regardless of links.
APPLETS=(sh ash cat chmod chown chgrp cp cut echo grep head tail id ls ln mkdir
    mktemp mv printf rm rmdir sed sha256sum sleep tr wc env true false test '['
    stat tar touch pwd uname whoami ps kill dirname basename readlink sync mount df)

say() { printf 'rootfs: %s\n' "$*" >&2; }
die() { printf 'rootfs: ERROR: %s\n' "$*" >&2; exit 1; }

# Common skeleton: users, groups, /root, /home/app, /tmp.
skeleton() {
    local r=$1
    mkdir -p "$r"/{etc,root,home/app,tmp}
    cat >"$r/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
node:x:1001:1001::/home/node:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
    cat >"$r/etc/group" <<'EOF'
root:x:0:
app:x:1000:
node:x:1001:
nogroup:x:65534:
EOF
    chmod 0644 "$r/etc/passwd" "$r/etc/group"
    chmod 0700 "$r/root"
    chmod 0755 "$r" "$r/etc" "$r/home" "$r/home/app"
    chown 1000:1000 "$r/home/app"
    chmod 1777 "$r/tmp"
}

# Path of the busybox-static .deb (downloaded into DEB_DIR when not cached).
busybox_deb() {
    local dir=$1 f
    for f in "$dir"/busybox-static_*.deb /var/cache/apt/archives/busybox-static_*.deb; do
        [ -f "$f" ] && { printf '%s\n' "$f"; return 0; }
    done
    mkdir -p "$dir"
    # apt-get download writes to the current directory; _apt cannot write
    # there when it is root-only, which only costs a warning.
    (cd "$dir" && apt-get download busybox-static) >&2 || return 1
    for f in "$dir"/busybox-static_*.deb; do
        [ -f "$f" ] && { printf '%s\n' "$f"; return 0; }
    done
    return 1
}

build_base() {
    local r=$1 debdir=${2:-$1.deb} deb a x
    skeleton "$r"
    # /srv exists (cxa-env's CODEX_HOME=/srv/codex is left absent); /proc, /sys,
    # /dev as mount points, as in any distribution image.
    mkdir -p "$r/home/node" "$r/srv" "$r/proc" "$r/sys" "$r/dev" \
        "$r/bin" "$r/usr/bin" "$r/usr/local/bin"
    chown 1001:1001 "$r/home/node"
    chmod 0755 "$r/home/node" "$r/srv"
    if deb=$(busybox_deb "$debdir"); then
        x=$(mktemp -d)
        dpkg-deb -x "$deb" "$x"
        cp "$x/bin/busybox" "$r/bin/busybox"
        rm -rf "$x"
        say "busybox from $(basename "$deb")"
    elif [ -x /bin/busybox ]; then
        say "WARNING: busybox-static .deb unavailable, copying the installed /bin/busybox"
        cp /bin/busybox "$r/bin/busybox"
    else
        die "no busybox-static .deb and no /bin/busybox (install busybox-static)"
    fi
    chmod 0755 "$r/bin/busybox"
    for a in "${APPLETS[@]}"; do
        ln -sf busybox "$r/bin/$a"
    done
    # busybox has no printenv applet: a tiny POSIX sh stand-in.
    cat >"$r/bin/printenv" <<'EOF'
#!/bin/sh
# printenv [NAME...]: busybox has no printenv applet.
[ $# -eq 0 ] && exec env
rc=0
for n in "$@"; do
    case $n in ''|[0-9]*|*[!A-Za-z0-9_]*) rc=1; continue ;; esac
    if eval "[ \"\${$n+set}\" = set ]"; then eval "printf '%s\n' \"\$$n\""; else rc=1; fi
done
exit $rc
EOF
    chmod 0755 "$r/bin/printenv"
}

build_noshell() {
    local r=$1
    skeleton "$r"   # and nothing else: no /bin, no /usr
    gcc -static -Os -s -o "$r/pause" "$HERE/noshell/pause.c"
    chmod 0755 "$r/pause"
}

main() {
    [ $# -ge 2 ] || { echo "usage: $0 base|noshell OUT_DIR [DEB_DIR]" >&2; exit 2; }
    local kind=$1 out=$2
    mkdir -p "$out"
    [ -z "$(ls -A "$out")" ] || die "$out is not empty"
    case $kind in
        base) build_base "$out" "${3:-}" ;;
        noshell) build_noshell "$out" ;;
        *) die "unknown rootfs kind: $kind" ;;
    esac
}

main "$@"
