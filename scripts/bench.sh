#!/usr/bin/env bash
# The benchmark harness: scripts/bench.sh (as root, no arguments).
#
# Measures codex-auth against real OpenSSH peers on loopback (scripts/peers.sh):
#   a. one host without codex:  `codex-auth push --ssh w0`  vs  the ssh one-liner
#      `ssh w0 'mkdir -p ~/.codex && cat > ~/.codex/auth.json' < auth.json`      target ratio <= 0.4
#   b. the same against a host with codex on PATH (codex-auth also runs
#      `codex login status` there)                                                reported only
#   c. 32 hosts on the "wide" sshd (MaxStartups 200:30:400): one push to all 32
#      vs a shell loop of 32 one-liners                                           target ratio <= 0.1
#   d. the same on the sshd with OpenSSH's default MaxStartups 10:30:100, where
#      codex-auth must bound its handshakes per server and retry dropped ones;
#      every run must install on all 32 (exit 0)                                  reported only
#   e. peak RSS of one 32-host push (/usr/bin/time -v)                            target <= 30 MB
#   f. size of the release binary                                                 reported only
#
# Why ratios: absolute times on a shared 2-core machine are noise (other jobs, CPU
# frequency, neighbours). So each codex-auth command runs in the SAME hyperfine invocation
# as its baseline, under the same conditions, and the verdict is codex-auth/baseline.
# Every timed run writes for real: --prepare deletes the users' ~/.codex before each run
# (otherwise codex-auth would find the same file, report "unchanged" and skip the write).
#
# Setup: throwaway users cxab0..cxab32 (cxab32 has codex on its PATH), a client key, an ssh
# config (w0..w31 and wc on the wide sshd, d0..d31 on the default one) and a fake API-key
# auth.json; all removed again on exit. Results: a Markdown table on stdout and in
# target/bench/results.md, hyperfine's JSON next to it; progress goes to stderr.
# Exit status: 0 when the benchmark ran, even if a target was missed (that is a FAIL row);
# non-zero when setup or a correctness check failed (a push that did not exit 0, a file
# that was not installed as it should be).
#
# Isolation: `peers.sh up` tears down the (machine-global) network namespaces of any other
# peers instance. So after installing and building, the script re-executes itself in private
# network and mount namespaces with a private /run: its sshds, ports and namespaces are
# invisible to the rest of the machine and vice versa; all traffic stays on that loopback.
# BENCH_ISOLATE=0 skips this (the script then refuses to run while other peers are up).
#
# Knobs (environment): BENCH_RUNS=20 (single-host runs), BENCH_WARMUP=3,
# BENCH_RUNS_MANY=3 (paired 32-host runs: the ssh loop takes seconds per run),
# BENCH_RUNS_ALONE=10 (32-host runs of codex-auth alone), BENCH_ISOLATE=1.
# One bench at a time (lock: /tmp/codex-auth-bench.lock).
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$(pwd -P)
SELF=$REPO/scripts/$(basename "$0")
BIN=$REPO/target/release/codex-auth
OUT=$REPO/target/bench

RUNS=${BENCH_RUNS:-20}
WARMUP=${BENCH_WARMUP:-3}
RUNS_MANY=${BENCH_RUNS_MANY:-3}
RUNS_ALONE=${BENCH_RUNS_ALONE:-10}
NHOSTS=32                # cxab0..cxab31 (w*, d*); cxab32 is `wc`
USER_PREFIX=cxab

say() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (it creates users and starts sshd)"

# ------------------------------------------------------------ phase 1: install, build
# (needs the package registries, so it runs before entering the private network namespace)
if [ "${BENCH_PHASE:-}" != run ]; then
    BENCH_T0=$(date +%s.%N)
    exec 9>/tmp/codex-auth-bench.lock
    flock -n 9 || die "another scripts/bench.sh is running (lock /tmp/codex-auth-bench.lock)"

    bash scripts/peers.sh install >&2
    missing=()
    command -v hyperfine >/dev/null 2>&1 || missing+=(hyperfine)
    [ -x /usr/bin/time ] || missing+=(time)
    if [ ${#missing[@]} -gt 0 ]; then
        say "apt-get install ${missing[*]}"
        apt-get update >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
    fi
    say "cargo build --release"
    cargo build --release >&2
    [ -x "$BIN" ] || die "$BIN missing after cargo build --release"
    BENCH_REV=$(git describe --always --dirty 2>/dev/null || echo unknown)   # what was built

    export BENCH_PHASE=run BENCH_T0 BENCH_REV
    if [ "${BENCH_ISOLATE:-1}" = 1 ]; then
        unshare --mount --net --propagation private true 2>/dev/null ||
            die "cannot create private namespaces here (unshare); BENCH_ISOLATE=0 runs without (see header)"
        # shellcheck disable=SC2016  # $0 is expanded by the inner bash
        exec unshare --mount --net --propagation private -- \
            bash -c 'mount -t tmpfs -o mode=755 codex-auth-bench /run && ip link set lo up && exec bash "$0"' "$SELF"
    fi
    owner=$(cat /run/cxa-peers-netns.owner 2>/dev/null || true)
    if [ -n "$owner" ] && [ -f "$owner/peers.env" ]; then
        die "the peers of $owner are up, and peers.sh up would tear down their namespaces; stop them first or use BENCH_ISOLATE=1"
    fi
fi

# ------------------------------------------------------------ phase 2: peers, users, config
STATE=$(mktemp -d /tmp/codex-auth-bench-peers.XXXXXX)
WORK=$(mktemp -d /tmp/codex-auth-bench.XXXXXX)

remove_bench_users() {
    local u
    awk -F: -v p="^${USER_PREFIX}[0-9]+\$" '$1 ~ p {print $1}' /etc/passwd |
        while IFS= read -r u; do
            userdel -f -r "$u" >/dev/null 2>&1 || say "warning: userdel $u failed"
        done
}

cleanup() {
    local rc=$?
    set +e
    bash scripts/peers.sh down "$STATE" >&2
    remove_bench_users
    rm -rf "$STATE" "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

remove_bench_users   # leftovers of an interrupted run
mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT/results.md"

bash scripts/peers.sh up "$STATE" >&2
while IFS='=' read -r k v; do
    case $k in PEER_*) printf -v "$k" '%s' "$v" ;; esac
done <"$STATE/peers.env"
: "${PEER_SSH_PORT:?}" "${PEER_SSH_PORT_WIDE:?}" "${PEER_HOST_KEY_PUB:?}" "${PEER_CODEX_BIN_DIR:?}"

KEY=$WORK/client_ed25519
KNOWN=$WORK/known_hosts
CFG=$WORK/ssh_config
AUTH=$WORK/auth.json
RESET=$WORK/reset.sh

ssh-keygen -q -t ed25519 -N '' -C codex-auth-bench -f "$KEY"

say "creating users ${USER_PREFIX}0..${USER_PREFIX}${NHOSTS}"
HOMES=()
for i in $(seq 0 "$NHOSTS"); do
    u=$USER_PREFIX$i
    useradd -m -s /bin/bash "$u"
    usermod -p '*' "$u"   # no password, but not locked (sshd refuses locked accounts)
    home=$(getent passwd "$u" | cut -d: -f6)
    g=$(id -g "$u")
    install -d -o "$u" -g "$g" -m 700 "$home/.ssh"
    install -o "$u" -g "$g" -m 600 "$KEY.pub" "$home/.ssh/authorized_keys"
    HOMES+=("$home")
done
# the last one gets the real codex on its PATH for ssh sessions (PermitUserEnvironment yes)
u=$USER_PREFIX$NHOSTS
printf 'PATH=%s:/usr/local/bin:/usr/bin:/bin\n' "$PEER_CODEX_BIN_DIR" >"$WORK/environment"
install -o "$u" -g "$(id -g "$u")" -m 600 "$WORK/environment" "${HOMES[$NHOSTS]}/.ssh/environment"

read -r ktype kdata _ <"$PEER_HOST_KEY_PUB"
printf '[127.0.0.1]:%s %s %s\n' "$PEER_SSH_PORT" "$ktype" "$kdata" \
    "$PEER_SSH_PORT_WIDE" "$ktype" "$kdata" >"$KNOWN"

host_block() {   # alias port user
    printf 'Host %s\n    HostName 127.0.0.1\n    Port %s\n    User %s\n' "$1" "$2" "$3"
    printf '    IdentityFile %s\n    IdentitiesOnly yes\n' "$KEY"
    printf '    UserKnownHostsFile %s\n    StrictHostKeyChecking yes\n' "$KNOWN"
    printf '    BatchMode yes\n\n'   # never prompt: a broken setup fails instead of hanging
}
{
    echo "# generated by scripts/bench.sh"
    for i in $(seq 0 $((NHOSTS - 1))); do
        host_block "w$i" "$PEER_SSH_PORT_WIDE" "$USER_PREFIX$i"
        host_block "d$i" "$PEER_SSH_PORT" "$USER_PREFIX$i"
    done
    host_block wc "$PEER_SSH_PORT_WIDE" "$USER_PREFIX$NHOSTS"
} >"$CFG"

# a fake API-key login, pretty-printed as Codex writes it
printf '{\n  "auth_mode": "apikey",\n  "OPENAI_API_KEY": "sk-bench-%s"\n}' \
    "00000000000000000000000000000000000000000000abcde" >"$AUTH"

# --prepare: delete every bench user's ~/.codex, so each timed run writes for real
{
    echo '#!/bin/sh'
    printf 'exec rm -rf'
    for h in "${HOMES[@]}"; do printf ' %q' "$h/.codex"; done
    echo
} >"$RESET"
chmod 755 "$RESET"

unset SSH_AUTH_SOCK SSH_AGENT_PID

# ------------------------------------------------------------ commands (as hyperfine's sh runs them)
q() { printf '%q' "$1"; }
REMOTE="'mkdir -p ~/.codex && cat > ~/.codex/auth.json'"
W_HOSTS=() D_HOSTS=()
for i in $(seq 0 $((NHOSTS - 1))); do W_HOSTS+=("w$i"); D_HOSTS+=("d$i"); done

ca_cmd() {   # codex-auth push to the given aliases
    local args="" h
    for h in "$@"; do args+=" --ssh $h"; done
    printf '%s push%s -F %s --from %s -q' "$(q "$BIN")" "$args" "$(q "$CFG")" "$(q "$AUTH")"
}
ssh_cmd() {   # the one-liner to one alias
    printf 'ssh -F %s %s %s < %s' "$(q "$CFG")" "$1" "$REMOTE" "$(q "$AUTH")"
}
loop_cmd() {   # the one-liner to each alias in turn, stopping at the first failure
    # shellcheck disable=SC2016  # "$h" is for the benchmarked shell
    printf 'for h in %s; do ssh -F %s "$h" %s < %s || exit 1; done' \
        "$*" "$(q "$CFG")" "$REMOTE" "$(q "$AUTH")"
}

# ------------------------------------------------------------ helpers
cat >"$WORK/hf.py" <<'PY'
import json, sys

def load(path):
    with open(path) as f:
        return json.load(f)["results"]

def fmt(r):
    m, s = r["mean"], r["stddev"] or 0.0
    if m >= 1:
        return f"{m:.3f} s ± {s:.3f}"
    return f"{m * 1000:.1f} ms ± {s * 1000:.1f}"

def failed(r):
    return sum(1 for c in r.get("exit_codes", []) if c != 0)

cmd, path = sys.argv[1], sys.argv[2]
res = load(path) if cmd in ("pair", "alone", "check") else None
if cmd == "pair":          # pair JSON LABEL TARGET|-   (results[0] codex-auth, [1] baseline)
    label, target = sys.argv[3], sys.argv[4]
    ca, base = res[0], res[1]
    ratio = ca["mean"] / base["mean"]
    if failed(ca) or failed(base):
        verdict = "ERROR (runs exited non-zero)"
    elif target == "-":
        verdict = "report"
    else:
        verdict = "PASS" if ratio <= float(target) else "FAIL"
    tgt = "—" if target == "-" else f"≤ {target}"
    print(f"| {label} | {fmt(ca)} | {fmt(base)} | {ratio:.3f} | {tgt} | {verdict} |")
elif cmd == "alone":       # alone JSON LABEL
    ca = res[0]
    verdict = "ERROR (runs exited non-zero)" if failed(ca) else "report"
    print(f"| {sys.argv[3]} | {fmt(ca)} | — | — | — | {verdict} |")
elif cmd == "check":       # check JSON: one line per command whose runs did not all exit 0
    bad = 0
    for r in res:
        codes = r.get("exit_codes", [])
        n = failed(r)
        if n:
            bad += 1
            print(f"{r['command']}: {n} of {len(codes)} timed runs exited non-zero (exit codes {codes})")
    sys.exit(1 if bad else 0)
elif cmd == "precheck":    # precheck PUSH_JSON: w0/d1 without codex, wc with codex
    doc = json.load(open(path))
    errors = []
    for t in doc["targets"]:   # the install report's fields are flattened into each entry
        if not t.get("ok") or t.get("outcome") != "installed":
            errors.append(f"{t['target']}: not installed: {json.dumps(t)}")
        elif (t.get("codex_status") is not None) != (t["target"] == "wc"):
            errors.append(f"{t['target']}: codex_status={t.get('codex_status')!r}, "
                          f"expected codex on PATH only for wc")
        else:
            print(f"  {t['target']}: {t['outcome']}, codex: {t.get('codex_status', 'not on PATH')}")
    for e in errors:
        print("  " + e)
    sys.exit(1 if errors else 0)
PY
hf() { python3 "$WORK/hf.py" "$@"; }

# verify_installed N [strict]: user N's ~/.codex/auth.json is our auth.json; with `strict`,
# also owned by the user, file 0600 and dir 0700 (what codex-auth promises).
verify_installed() {
    local strict=${2:-} home=${HOMES[$1]} u=$USER_PREFIX$1
    local f=${HOMES[$1]}/.codex/auth.json
    if ! cmp -s "$AUTH" "$f"; then say "$u: $f missing or different"; return 1; fi
    [ "$strict" = strict ] || return 0
    local fm dm
    fm=$(stat -c '%a %U' "$f")
    dm=$(stat -c '%a %U' "$home/.codex")
    if [ "$fm" != "600 $u" ] || [ "$dm" != "700 $u" ]; then
        say "$u: file '$fm', dir '$dm' (want '600 $u', '700 $u')"
        return 1
    fi
}

FAILURES=()
note_failure() { FAILURES+=("$*"); say "FAILURE: $*"; }

# run_hf NAME RUNS WARMUP (NAME CMD)...: one hyperfine invocation; every timed run writes
run_hf() {
    local name=$1 runs=$2 warmup=$3; shift 3
    local args=()
    while [ $# -gt 0 ]; do args+=(-n "$1" "$2"); shift 2; done
    say "hyperfine $name: $runs runs, $warmup warmup"
    hyperfine --style basic --ignore-failure --runs "$runs" --warmup "$warmup" \
        --prepare "$RESET" --export-json "$OUT/$name.json" "${args[@]}" >&2
    local bad
    if ! bad=$(hf check "$OUT/$name.json"); then
        note_failure "$name: $bad"
    fi
}

# sshd logs "... N connections dropped" when it leaves MaxStartups throttling
maxstartups_drops() {
    { grep -o 'MaxStartups throttling after [^,]*, [0-9]* connections dropped' "$STATE/sshd_loopback.log" || true; } |
        awk '{ s += $(NF - 2) } END { print s + 0 }'
}

# ------------------------------------------------------------ correctness check (untimed)
say "checking the setup (untimed)"
"$RESET"
if ! out=$("$BIN" push --ssh w0 -F "$CFG" --from "$AUTH" 2>&1); then
    printf '%s\n' "$out" >&2
    die "codex-auth push --ssh w0 failed (above)"
fi
verify_installed 0 strict || die "codex-auth push --ssh w0 exited 0 but did not install correctly"

"$RESET"
if ! "$BIN" push --ssh w0 --ssh d1 --ssh wc -F "$CFG" --from "$AUTH" --json >"$WORK/pre.json" 2>"$WORK/pre.err"; then
    cat "$WORK/pre.err" "$WORK/pre.json" >&2
    die "codex-auth push --ssh w0 --ssh d1 --ssh wc failed (above)"
fi
hf precheck "$WORK/pre.json" >&2 || die "unexpected push report (above); see $WORK/pre.json"
for n in 0 1 "$NHOSTS"; do
    verify_installed "$n" strict || die "push to w0/d1/wc did not install correctly"
done

"$RESET"
for h in w0 d1 wc; do
    sh -c "$(ssh_cmd "$h")" || die "the ssh one-liner to $h failed"
done
for n in 0 1 "$NHOSTS"; do
    verify_installed "$n" || die "the ssh one-liner did not write auth.json"
done
"$RESET"

# ------------------------------------------------------------ benchmarks
ROWS=()

run_hf single "$RUNS" "$WARMUP" codex-auth "$(ca_cmd w0)" "ssh one-liner" "$(ssh_cmd w0)"
ROWS+=("$(hf pair "$OUT/single.json" "a. 1 host, no codex there (w0)" 0.4)")

run_hf single-codex "$RUNS" "$WARMUP" codex-auth "$(ca_cmd wc)" "ssh one-liner" "$(ssh_cmd wc)"
ROWS+=("$(hf pair "$OUT/single-codex.json" "b. 1 host, codex there (wc: + codex login status)" -)")

# 32 hosts: the loop takes seconds per run and hyperfine applies one --runs to all commands,
# so the paired invocation (the ratio) uses BENCH_RUNS_MANY runs for both; a second
# invocation with codex-auth alone (BENCH_RUNS_ALONE runs) gives its time more precisely
# and more runs for the "installs on all 32, every run" check. Its last run leaves the
# files that verify_installed then checks.
run_hf wide32 "$RUNS_MANY" 1 codex-auth "$(ca_cmd "${W_HOSTS[@]}")" "ssh loop" "$(loop_cmd "${W_HOSTS[@]}")"
ROWS+=("$(hf pair "$OUT/wide32.json" "c. 32 hosts, sshd MaxStartups 200:30:400" 0.1)")
run_hf wide32-alone "$RUNS_ALONE" 1 codex-auth "$(ca_cmd "${W_HOSTS[@]}")"
ROWS+=("$(hf alone "$OUT/wide32-alone.json" "c'. 32 hosts (wide), codex-auth alone, $RUNS_ALONE runs")")
for i in $(seq 0 $((NHOSTS - 1))); do
    verify_installed "$i" strict || note_failure "wide32: ${USER_PREFIX}$i not installed after the last push"
done

drops0=$(maxstartups_drops)
run_hf default32 "$RUNS_MANY" 1 codex-auth "$(ca_cmd "${D_HOSTS[@]}")" "ssh loop" "$(loop_cmd "${D_HOSTS[@]}")"
ROWS+=("$(hf pair "$OUT/default32.json" "d. 32 hosts, default sshd (MaxStartups 10:30:100)" -)")
run_hf default32-alone "$RUNS_ALONE" 1 codex-auth "$(ca_cmd "${D_HOSTS[@]}")"
ROWS+=("$(hf alone "$OUT/default32-alone.json" "d'. 32 hosts (default sshd), codex-auth alone, $RUNS_ALONE runs")")
for i in $(seq 0 $((NHOSTS - 1))); do
    verify_installed "$i" strict || note_failure "default32: ${USER_PREFIX}$i not installed after the last push"
done
sleep 1   # sshd logs the "exited MaxStartups throttling" line a moment later
DROPS=$(( $(maxstartups_drops) - drops0 ))

say "peak memory: one 32-host push (wide)"
"$RESET"
mem_rc=0
ssh_args=()
for h in "${W_HOSTS[@]}"; do ssh_args+=(--ssh "$h"); done
/usr/bin/time -v -o "$WORK/time.txt" "$BIN" push "${ssh_args[@]}" -F "$CFG" --from "$AUTH" -q >&2 || mem_rc=$?
[ "$mem_rc" = 0 ] || note_failure "memory run: codex-auth push to 32 hosts exited $mem_rc"
rss_kb=$(awk -F': *' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
[ -n "$rss_kb" ] || die "no 'Maximum resident set size' in /usr/bin/time -v output"
ROWS+=("$(awk -v kb="$rss_kb" 'BEGIN { mb = kb / 1024; printf "| e. peak RSS, 32-host push (wide) | %.1f MB | — | — | ≤ 30 MB | %s |", mb, (mb <= 30 ? "PASS" : "FAIL") }')")

size=$(stat -c %s "$BIN")
ROWS+=("$(awk -v b="$size" 'BEGIN { printf "| f. release binary size | %.2f MB | — | — | — | report |", b / 1048576 }')")

# ------------------------------------------------------------ report
elapsed=$(awk -v a="$BENCH_T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
{
    echo "## codex-auth benchmarks"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), built from ${BENCH_REV:-unknown},"\
        "$("$BIN" --version), $(ssh -V 2>&1 | cut -d, -f1), $(hyperfine --version), $(nproc) CPUs."
    echo "Means ± stddev over $RUNS runs (a, b; $WARMUP warmup), $RUNS_MANY runs (c, d; 1 warmup),"\
        "$RUNS_ALONE runs (c', d'). Every run wrote auth.json (each user's ~/.codex deleted before)."
    echo "Ratio = codex-auth / baseline, both measured in the same hyperfine invocation. MB = 2^20 bytes."
    echo
    echo "| benchmark | codex-auth | baseline | ratio | target | result |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "Default sshd: connections dropped past MaxStartups during d/d': $DROPS (codex-auth retries those)."
    if [ ${#FAILURES[@]} -gt 0 ]; then
        echo
        echo "**Correctness failures:**"
        printf -- '- %s\n' "${FAILURES[@]}"
    fi
    echo
    echo "Total runtime: ${elapsed} s."
} >"$OUT/results.md"
cat "$OUT/results.md"
say "results: $OUT/results.md (hyperfine JSON alongside)"

[ ${#FAILURES[@]} -eq 0 ] || exit 1
