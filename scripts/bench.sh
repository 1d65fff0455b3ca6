#!/usr/bin/env bash
# The benchmark harness: scripts/bench.sh (as root, no arguments).
#
# SSH part: codex-auth against real OpenSSH peers on loopback (scripts/peers.sh):
#   a. one host without codex:  `codex-auth push --ssh w0`  vs  the ssh one-liner
#      `ssh w0 'mkdir -p ~/.codex && cat > ~/.codex/auth.json' < auth.json`      target ratio <= 0.4
#   b. the same against a host with Codex 0.171 (npm) in ~/.local/bin (codex-auth finds
#      it and also runs `codex login status` there)                               reported only
#   c. 32 hosts on the "wide" sshd (MaxStartups 200:30:400): one push to all 32
#      vs a shell loop of 32 one-liners                                           target ratio <= 0.1
#   d. the same on the sshd with OpenSSH's default MaxStartups 10:30:100, where
#      codex-auth must bound its handshakes per server and retry dropped ones;
#      every run must install on all 32 (exit 0)                                  reported only
#   e. peak RSS of a 32-host push (/usr/bin/time -v, median of 5)               target <= 30 MB
#   f. size of the release binary                                                 reported only
#   l. scale: one push to 256 hosts vs one push to the first 32, per host, on the wide
#      sshd and on the default one (MaxStartups 10:30:100)                        target ratio <= 1.2
#   m. the same for status (wide sshd)                                            target ratio <= 1.2
#   n. peak RSS of one 256-host push (default sshd)                               target <= 30 MB
#   q. `codex-auth sync` of 256 places that all hold the newest copy (access-only copies
#      pushed to w0..w255, the places from the ledger) vs a 256-place `status` (both read
#      every place; sync must write nothing: checked)                          target ratio <= 1.2
#      then one sync whose session is due: one request to the issuer (a loopback stand-in
#      that rotates refresh tokens), whatever the number of places (checked)
#   r. peak RSS of the 256-place sync (median of 3)                              target <= 30 MB
#   o. `codex-auth run --ssh w0 -- true` (a login lent to one command and taken away)
#      side by side with `codex-auth push --ssh w0` and a bare `ssh w0 true`
#                                                     target: run - ssh true <= push
#   Far away: the same sshd (wide) behind scripts/latency-proxy.py, which delays every
#   chunk 25 ms each way (50 ms round trip; aliases s0..s31 for users cxab0..cxab31):
#   s. one host: `codex-auth push --ssh s0` vs the one-liner through the rig  target <= 0.6
#   t. one host: `codex-auth status --ssh s0` vs `ssh s0 cat ~/.codex/auth.json`
#                                                                              target <= 0.6
#   u. 32 hosts: one push to s0..s31 vs one push to s0           target ratio <= 1.5
#      (all 32 sshds share this machine's 2 cores, so a 32-host push is bound by their
#      CPU even on loopback; so in the same runs, the pushes to w0..w31 and w0 without
#      the delay, and u'. what the delay adds to the 32-host push over what it adds to
#      the 1-host push: the latency the fan-out did not hide           reported)
#   v. 32 hosts behind one jump host at 50 ms (ProxyJump through s0's endpoint to the wide
#      sshd's own port, users cxab0..cxab31) vs the same 32 reached directly (s0..s31);
#      codex-auth shares one connection to the jump host among them (the 32 behind it
#      are one sshd here, one endpoint, so its bound of 8 handshakes at once per
#      endpoint applies to them, as it does not to s0..s31's 32 endpoints)  reported
#   and below the table, the round trips of s and t as -vv counts them and as the proxy
#   saw them on the wire (not counting the TCP handshake)            target <= 7
#
# Docker part: codex-auth against a private dockerd (scripts/docker-peers.sh), in
# containers of the busybox-root image (root, home /root) started for the benchmark:
#   g. one running container: `codex-auth push --docker C` (one exec) vs the documented
#      recipe as three docker CLI commands:
#      H=$(docker exec C sh -c 'echo $HOME'); docker exec C mkdir -p "$H/.codex";
#      docker cp auth.json C:"$H/.codex/auth.json"                                target ratio <= 0.35
#      (joined with && here, so that a failing step fails the run)
#   h. 16 running containers: one push with 16 --docker flags vs a shell loop of
#      that recipe over the same 16                                                target ratio <= 0.15
#      (h'. the 16-container push alone, more runs; and below the table, where the
#      time of one such push goes: its own CPU vs the engine's, per exec)
#   i. one stopped container (codex-auth's archive path: reads, a tar upload, a read
#      back) vs the recipe's `docker cp` alone, which works on stopped containers; for
#      it, --prepare leaves an empty /root/.codex (0700) there, as the recipe's mkdir
#      would have (`docker exec` cannot run in a stopped container)             reported only
#   p. `codex-auth run --docker C -- true` side by side with `codex-auth push --docker C`
#      and a bare `docker exec C true`                target: run - docker exec true <= push
# The parts run one after the other (the ssh peers are stopped before dockerd starts);
# BENCH_ONLY=ssh or BENCH_ONLY=docker runs one of them; BENCH_ONLY=far only s, t and u.
#
# Why ratios: absolute times on a shared 2-core machine are noise (other jobs, CPU
# frequency, neighbours). So each codex-auth command runs in the SAME hyperfine invocation
# as its baseline, under the same conditions, and the verdict is codex-auth/baseline.
# Every timed run writes for real: --prepare deletes the users' ~/.codex (the containers'
# /root/.codex) before each run of either command (otherwise codex-auth would find the
# same file, report "unchanged" and skip the write).
#
# Setup (ssh): throwaway users cxab0..cxab256 (cxab256 has codex on its PATH), a client key,
# an ssh config (w0..w255 and wc on the wide sshd, d0..d255 on the default one). Setup
# (docker): scripts/docker-peers.sh up (without podman) in a mktemp dir; DOCKER_HOST is
# exported as its unix socket, so both the docker CLI and codex-auth talk to that daemon
# only (checked: `docker info` must report its data root); containers cxab-c0..cxab-c15
# (running) and cxab-stopped (created, never started), all --network none. Both: a fake
# API-key auth.json. Everything is removed again on exit (docker-peers.sh down stops the
# daemon and the containers by the PIDs it recorded). Results: a Markdown table on stdout
# and in target/bench/results.md, hyperfine's JSON next to it; progress goes to stderr.
# Exit status: 0 when the benchmark ran, even if a target was missed (that is a FAIL row);
# non-zero when setup or a correctness check failed (a push that did not exit 0, a file
# that was not installed as it should be).
#
# Isolation: `peers.sh up` tears down the (machine-global) network namespaces of any other
# peers instance. So after installing and building, the script re-executes itself in private
# network and mount namespaces with a private /run: its sshds, ports and namespaces are
# invisible to the rest of the machine and vice versa; all traffic stays on that loopback.
# The private dockerd runs in there too, and works: it needs no network (--bridge=none,
# --iptables=false, containers on --network none) and talks to the docker CLI and
# codex-auth over a unix socket in its state dir; its /run/docker and containerd's
# /run/containerd land in the private /run, the containers' overlay mounts in the private
# mount namespace, so neither the machine nor a concurrent scripts/test.sh (whose own
# dockerd lives in its own mktemp dir) sees them.
# BENCH_ISOLATE=0 skips this (the script then refuses to run the ssh part while other
# peers are up).
#
# Before and after: BENCH_BEFORE=REV also builds that git revision (in a scratch copy,
# its own target dir) and runs it as a third command in every hyperfine invocation that
# times codex-auth (a..j except k), so a change is judged against the code before it in
# the same run; the table gains the columns "before" and "now/before".
#
# Knobs (environment): BENCH_ONLY=ssh|far|docker (default: all), BENCH_RUNS=20 (single-host
# and single-container runs: a, b, g), BENCH_WARMUP=3, BENCH_RUNS_MANY=3 (paired 32-host
# runs: the ssh loop takes seconds per run), BENCH_RUNS_ALONE=10 (32-host and 16-container
# runs of codex-auth alone: c', d', h'), BENCH_RUNS_DOCKER_MANY=5 (paired 16-container
# runs: h), BENCH_RUNS_STOPPED=10 (i), BENCH_RUNS_SCALE=5 (l, m), BENCH_RUNS_RSS=5 (e: the
# median of that many runs of each build), BENCH_ISOLATE=1.
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
RUNS_DOCKER_MANY=${BENCH_RUNS_DOCKER_MANY:-5}
RUNS_STOPPED=${BENCH_RUNS_STOPPED:-10}
RUNS_SCALE=${BENCH_RUNS_SCALE:-5}
BENCH_RUNS_RSS=${BENCH_RUNS_RSS:-5}
NHOSTS=32                # the 32-host runs use w0..w31 / d0..d31
FLEET=256                # users cxab0..cxab255 (w*, d*); cxab256 is `wc`
USER_PREFIX=cxab
NCONT=16                 # running containers cxab-c0..cxab-c15
CONT_PREFIX=cxab-c
STOPPED=cxab-stopped

say() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: ERROR: %s\n' "$*" >&2; exit 1; }

case ${BENCH_ONLY:-} in
    "" | all) DO_SSH=1 DO_DOCKER=1 ;;
    ssh | far) DO_SSH=1 DO_DOCKER=0 ;;
    docker) DO_SSH=0 DO_DOCKER=1 ;;
    *) die "BENCH_ONLY must be ssh, far or docker (or unset for all), not '$BENCH_ONLY'" ;;
esac

[ "$(id -u)" = 0 ] || die "must run as root (it creates users and starts sshd and dockerd)"

# ------------------------------------------------------------ phase 1: install, build
# (needs the package registries, so it runs before entering the private network namespace)
if [ "${BENCH_PHASE:-}" != run ]; then
    BENCH_T0=$(date +%s.%N)
    exec 9>/tmp/codex-auth-bench.lock
    flock -n 9 || die "another scripts/bench.sh is running (lock /tmp/codex-auth-bench.lock)"

    [ "$DO_SSH" = 0 ] || bash scripts/peers.sh install >&2
    [ "$DO_DOCKER" = 0 ] || bash scripts/docker-peers.sh install >&2
    # shellcheck source=scripts/packages.sh
    source scripts/packages.sh
    apt_ensure /tmp/codex-auth-bench-install.log hyperfine time ||
        die "apt-get failed (log: /tmp/codex-auth-bench-install.log)"
    say "cargo build --release"
    cargo build --release >&2
    [ -x "$BIN" ] || die "$BIN missing after cargo build --release"
    BENCH_REV=$(git describe --always --dirty 2>/dev/null || echo unknown)   # what was built
    BIN_BEFORE=""
    if [ -n "${BENCH_BEFORE:-}" ]; then
        rev=$(git rev-parse --short "$BENCH_BEFORE^{commit}") || die "BENCH_BEFORE=$BENCH_BEFORE is not a commit"
        src=$REPO/target/bench-before/src-$rev
        if [ ! -d "$src" ]; then
            mkdir -p "$src"
            git archive "$rev" | tar -x -C "$src"
        fi
        say "cargo build --release of $rev (BENCH_BEFORE)"
        (cd "$src" && CARGO_TARGET_DIR=$REPO/target/bench-before/target cargo build --release >&2)
        BIN_BEFORE=$REPO/target/bench-before/target/release/codex-auth
        [ -x "$BIN_BEFORE" ] || die "$BIN_BEFORE missing after the build of $rev"
        BENCH_BEFORE_REV=$rev
    fi

    export BENCH_PHASE=run BENCH_T0 BENCH_REV BIN_BEFORE BENCH_BEFORE_REV
    if [ "${BENCH_ISOLATE:-1}" = 1 ]; then
        unshare --mount --net --propagation private true 2>/dev/null ||
            die "cannot create private namespaces here (unshare); BENCH_ISOLATE=0 runs without (see header)"
        # shellcheck disable=SC2016  # $0 is expanded by the inner bash
        exec unshare --mount --net --propagation private -- \
            bash -c 'mount -t tmpfs -o mode=755 codex-auth-bench /run && ip link set lo up && exec bash "$0"' "$SELF"
    fi
    owner=$(cat /run/cxa-peers-netns.owner 2>/dev/null || true)
    if [ "$DO_SSH" = 1 ] && [ -n "$owner" ] && [ -f "$owner/peers.env" ]; then
        die "the peers of $owner are up, and peers.sh up would tear down their namespaces; stop them first or use BENCH_ISOLATE=1"
    fi
fi

# ------------------------------------------------------------ phase 2: common setup
STATE=""    # ssh peers (set while they are up)
DSTATE=""   # docker peers (set while they are up)
WORK=$(mktemp -d /tmp/codex-auth-bench.XXXXXX)

remove_bench_users() {
    local u
    awk -F: -v p="^${USER_PREFIX}[0-9]+\$" '$1 ~ p {print $1}' /etc/passwd |
        while IFS= read -r u; do
            userdel -f -r "$u" >/dev/null 2>&1 || say "warning: userdel $u failed"
        done
}

ssh_down() {
    [ -n "$STATE" ] || return 0
    bash scripts/peers.sh down "$STATE" >&2
    remove_bench_users
    rm -rf "$STATE"
    STATE=""
}

docker_down() {
    [ -n "$DSTATE" ] || return 0
    bash scripts/docker-peers.sh down "$DSTATE" >&2   # removes DSTATE too
    DSTATE=""
}

cleanup() {
    local rc=$?
    set +e
    [ -z "${SYNC_ISSUER_PID:-}" ] || kill "$SYNC_ISSUER_PID" 2>/dev/null
    [ -z "${LATENCY_PROXY_PID:-}" ] || kill "$LATENCY_PROXY_PID" 2>/dev/null
    docker_down
    ssh_down
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT/results.md"

AUTH=$WORK/auth.json
# a fake API-key login, pretty-printed as Codex writes it
printf '{\n  "auth_mode": "apikey",\n  "OPENAI_API_KEY": "sk-bench-%s"\n}' \
    "00000000000000000000000000000000000000000000abcde" >"$AUTH"

q() { printf '%q' "$1"; }

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

def before(ca, rest):
    """The before-and-after columns, when the run also timed the code before the change."""
    named = [r for r in rest if r["command"] == "codex-auth before"]
    if not named:
        return ""
    b = named[0]
    mark = " (runs exited non-zero)" if failed(b) else ""
    return f" {fmt(b)}{mark} | {ca['mean'] / b['mean']:.3f} |"

cmd, path = sys.argv[1], sys.argv[2]
res = load(path) if cmd in ("pair", "triple", "alone", "check", "perhost", "latency") else None
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
    print(f"| {label} | {fmt(ca)} | {fmt(base)} | {ratio:.3f} | {tgt} | {verdict} |{before(ca, res[2:])}")
elif cmd == "triple":      # triple JSON LABEL: [0] run, [1] push, [2] the bare command
    label = sys.argv[3]
    run, push, bare = res[0], res[1], res[2]
    over = run["mean"] - bare["mean"]
    if failed(run) or failed(push) or failed(bare):
        verdict = "ERROR (runs exited non-zero)"
    else:
        verdict = "PASS" if over <= push["mean"] else "FAIL"
    print(f"| {label} | {fmt(run)} | {fmt(bare)} | {run['mean'] / bare['mean']:.3f} | "
          f"run − bare ({over * 1000:.1f} ms) ≤ push ({fmt(push)}) | {verdict} |")
elif cmd == "latency":     # latency JSON LABEL: [0] 32 far, [1] 1 far, [2] 32 near, [3] 1 near
    far32, far1, near32, near1 = res[0], res[1], res[2], res[3]
    added32, added1 = far32["mean"] - near32["mean"], far1["mean"] - near1["mean"]
    bad = any(failed(r) for r in res[:4])
    verdict = "ERROR (runs exited non-zero)" if bad else "report"
    print(f"| {sys.argv[3]} | +{added32 * 1000:.0f} ms (32: {fmt(near32)} near) | "
          f"+{added1 * 1000:.0f} ms (1: {fmt(near1)} near) | {added32 / added1:.3f} | — | {verdict} |")
elif cmd == "alone":       # alone JSON LABEL
    ca = res[0]
    verdict = "ERROR (runs exited non-zero)" if failed(ca) else "report"
    print(f"| {sys.argv[3]} | {fmt(ca)} | — | — | — | {verdict} |{before(ca, res[1:])}")
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
elif cmd == "dprecheck":   # dprecheck PUSH_JSON N exec|archive: N containers, installed by that path
    doc = json.load(open(path))
    n, how = int(sys.argv[3]), sys.argv[4]
    errors = []
    if len(doc["targets"]) != n:
        errors.append(f"{len(doc['targets'])} targets in the report, expected {n}")
    for t in doc["targets"]:
        archive = any("through the Docker API" in x for x in t.get("notes", []))
        if not t.get("ok") or t.get("outcome") != "installed" or not t.get("verified"):
            errors.append(f"{t['target']}: not installed: {json.dumps(t)}")
        elif t.get("path") != "/root/.codex/auth.json" or t.get("file_mode") != "-rw-------":
            errors.append(f"{t['target']}: path {t.get('path')}, mode {t.get('file_mode')}")
        elif archive != (how == "archive"):
            errors.append(f"{t['target']}: expected the {how} path, notes: {t.get('notes')}")
    print(f"  {len(doc['targets'])} container(s): "
          + ("; ".join(errors) if errors else f"all installed ({how} path), verified, -rw-------"))
    sys.exit(1 if errors else 0)
elif cmd == "perhost":     # perhost JSON LABEL N_BIG N_SMALL TARGET: [0] BIG hosts, [1] SMALL hosts
    label, big, small, target = sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
    a, b = res[0], res[1]
    per_a, per_b = a["mean"] / big, b["mean"] / small
    ratio = per_a / per_b
    if failed(a) or failed(b):
        verdict = "ERROR (runs exited non-zero)"
    else:
        verdict = "PASS" if ratio <= float(target) else "FAIL"
    print(f"| {label} | {per_a * 1000:.2f} ms/host ({fmt(a)}) | {per_b * 1000:.2f} ms/host ({fmt(b)}) | {ratio:.3f} | ≤ {target} | {verdict} |")
elif cmd == "sync-check":  # sync-check SYNC_JSON N ACTION: N places besides local, all ACTION
    doc = json.load(open(path))
    n, want = int(sys.argv[3]), sys.argv[4]
    places = [p for p in doc["places"] if p["target"] != "local"]
    good = [p for p in places if p.get("action") == want]
    print(f"  sync: {len(good)} of {len(places)} places {want}")
    sys.exit(0 if len(good) == n == len(places) else 1)
elif cmd == "status-check":  # status-check STATUS_JSON N: local + N places, all logged in
    doc = json.load(open(path))
    n = int(sys.argv[3])
    places = doc["places"][1:]
    good = [p for p in places if p.get("state") == "logged-in"]
    print(f"  status: {len(good)} of {len(places)} hosts logged in")
    sys.exit(0 if len(good) == n == len(places) else 1)
PY
hf() { python3 "$WORK/hf.py" "$@"; }

# A loopback stand-in for the OAuth issuer (sync's refresh): rotates the refresh token,
# logs each request; writes its port to $1, its log to $2.
cat >"$WORK/issuer.py" <<'PY'
import http.server, json, sys, time, base64
port_file, log_file = sys.argv[1], sys.argv[2]
n = [0]
def jwt(claims):
    b = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b'=').decode()
    return b({"alg": "none"}) + "." + b(claims) + ".sig"
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with open(log_file, "a") as f:
            f.write(f"POST {self.path}\n")
        n[0] += 1
        body = json.dumps({"access_token": jwt({"exp": int(time.time()) + 864000,
                           "https://api.openai.com/auth": {"chatgpt_account_id": "acct-bench"}}),
                           "refresh_token": f"rt-bench-{n[0]}", "token_type": "Bearer"}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(port_file, "w").write(str(s.server_address[1]))
s.serve_forever()
PY

# A ChatGPT login as Codex 0.171 writes it, naming the issuer $1: its access token
# lives 10 years (a sync finds nothing due unless told to).
cat >"$WORK/login.py" <<'PY'
import json, sys, base64
def jwt(claims):
    b = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b'=').decode()
    return b({"alg": "none"}) + "." + b(claims) + ".sig"
auth = {"chatgpt_account_id": "acct-bench", "chatgpt_plan_type": "plus", "chatgpt_user_id": "user-bench"}
print(json.dumps({"auth_mode": "chatgpt", "OPENAI_API_KEY": None, "tokens": {
    "id_token": jwt({"email": "bench@example.test", "exp": 4102444800, "https://api.openai.com/auth": auth}),
    "access_token": jwt({"exp": 4102444800, "https://api.openai.com/auth": auth}),
    "refresh_token": "rt-bench-0", "account_id": "acct-bench",
    "oauth_provenance": {"issuer": sys.argv[1], "client_id": "app_bench"},
    "login_owner_id": "owner-bench-0123456789abcdef"},
    "last_refresh": "2026-12-01T00:00:00.000000Z"}, indent=2))
PY

FAILURES=()
note_failure() { FAILURES+=("$*"); say "FAILURE: $*"; }
# median N...: the middle of the numbers (the upper middle of an even count).
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int(NR / 2) + 1] }'; }

# run_hf NAME PREPARE RUNS WARMUP (NAME CMD)...: one hyperfine invocation; PREPARE runs
# before every run (warmup too) of every command, so every timed run writes
run_hf() {
    local name=$1 prepare=$2 runs=$3 warmup=$4; shift 4
    local args=() before=""
    # With BENCH_BEFORE, the code before the change runs the codex-auth command too.
    # (not for run and sync, which the code before may not have)
    if [ -n "${BIN_BEFORE:-}" ] && [ "$1" = codex-auth ] && [ "$name" != tunnel ] &&
        [ "${name#run}" = "$name" ] && [ "${name#sync}" = "$name" ]; then
        before=${2//$(q "$BIN")/$(q "$BIN_BEFORE")}
    fi
    while [ $# -gt 0 ]; do args+=(-n "$1" "$2"); shift 2; done
    [ -z "$before" ] || args+=(-n "codex-auth before" "$before")
    say "hyperfine $name: $runs runs, $warmup warmup"
    hyperfine --style basic --ignore-failure --runs "$runs" --warmup "$warmup" \
        --prepare "$prepare" --export-json "$OUT/$name.json" "${args[@]}" >&2
    local bad
    if ! bad=$(hf check "$OUT/$name.json"); then
        note_failure "$name: $bad"
    fi
}

ROWS=()
NOTES=()   # lines under the table

# ============================================================ SSH part
ssh_part() {
    STATE=$(mktemp -d /tmp/codex-auth-bench-peers.XXXXXX)
    remove_bench_users   # leftovers of an interrupted run
    bash scripts/peers.sh up "$STATE" >&2
    local k v
    while IFS='=' read -r k v; do
        case $k in PEER_*) printf -v "$k" '%s' "$v" ;; esac
    done <"$STATE/peers.env"
    : "${PEER_SSH_PORT:?}" "${PEER_SSH_PORT_WIDE:?}" "${PEER_HOST_KEY_PUB:?}" "${PEER_CODEX171_BIN_DIR:?}"

    KEY=$WORK/client_ed25519
    KNOWN=$WORK/known_hosts
    CFG=$WORK/ssh_config
    RESET=$WORK/reset.sh

    ssh-keygen -q -t ed25519 -N '' -C codex-auth-bench -f "$KEY"

    say "creating users ${USER_PREFIX}0..${USER_PREFIX}${FLEET}"
    HOMES=()
    local i u home g
    for i in $(seq 0 "$FLEET"); do
        u=$USER_PREFIX$i
        useradd -m -s /bin/bash "$u"
        usermod -p '*' "$u"   # no password, but not locked (sshd refuses locked accounts)
        home=$(getent passwd "$u" | cut -d: -f6)
        g=$(id -g "$u")
        install -d -o "$u" -g "$g" -m 700 "$home/.ssh"
        install -o "$u" -g "$g" -m 600 "$KEY.pub" "$home/.ssh/authorized_keys"
        HOMES+=("$home")
    done
    # the last one has Codex 0.171 (npm) in ~/.local/bin, where codex-auth finds it
    u=$USER_PREFIX$FLEET
    install -d -o "$u" -g "$(id -g "$u")" -m 755 "${HOMES[$FLEET]}/.local" "${HOMES[$FLEET]}/.local/bin"
    ln -s "$PEER_CODEX171_BIN_DIR/codex" "${HOMES[$FLEET]}/.local/bin/codex"

    local ktype kdata
    read -r ktype kdata _ <"$PEER_HOST_KEY_PUB"
    printf '[127.0.0.1]:%s %s %s\n' "$PEER_SSH_PORT" "$ktype" "$kdata" \
        "$PEER_SSH_PORT_WIDE" "$ktype" "$kdata" >"$KNOWN"

    {
        echo "# generated by scripts/bench.sh"
        for i in $(seq 0 $((FLEET - 1))); do
            host_block "w$i" "$PEER_SSH_PORT_WIDE" "$USER_PREFIX$i"
            host_block "d$i" "$PEER_SSH_PORT" "$USER_PREFIX$i"
        done
        host_block wc "$PEER_SSH_PORT_WIDE" "$USER_PREFIX$FLEET"
    } >"$CFG"

    # --prepare: delete every bench user's ~/.codex, so each timed run writes for real
    {
        echo '#!/bin/sh'
        printf 'exec rm -rf'
        for home in "${HOMES[@]}"; do printf ' %q' "$home/.codex"; done
        echo
    } >"$RESET"
    chmod 755 "$RESET"

    unset SSH_AUTH_SOCK SSH_AGENT_PID

    REMOTE="'mkdir -p ~/.codex && cat > ~/.codex/auth.json'"
    W_HOSTS=() D_HOSTS=()
    for i in $(seq 0 $((NHOSTS - 1))); do W_HOSTS+=("w$i"); D_HOSTS+=("d$i"); done
    W_FLEET=() D_FLEET=()
    for i in $(seq 0 $((FLEET - 1))); do W_FLEET+=("w$i"); D_FLEET+=("d$i"); done

    ssh_check
    ssh_bench
    ssh_down   # before the docker part: no idle sshds while it measures
}

host_block() {   # alias port user
    printf 'Host %s\n    HostName 127.0.0.1\n    Port %s\n    User %s\n' "$1" "$2" "$3"
    printf '    IdentityFile %s\n    IdentitiesOnly yes\n' "$KEY"
    printf '    UserKnownHostsFile %s\n    StrictHostKeyChecking yes\n' "$KNOWN"
    printf '    BatchMode yes\n\n'   # never prompt: a broken setup fails instead of hanging
}

# commands (as hyperfine's sh runs them)
ca_cmd() {   # codex-auth push to the given aliases
    local flags="" h
    for h in "$@"; do flags+=" --ssh $h"; done
    printf '%s push%s -F %s --from %s -q' "$(q "$BIN")" "$flags" "$(q "$CFG")" "$(q "$AUTH")"
}
run_cmd() {   # codex-auth run -- true on one alias
    printf '%s run --ssh %s -F %s --from %s -- true' "$(q "$BIN")" "$1" "$(q "$CFG")" "$(q "$AUTH")"
}
ssh_cmd() {   # the one-liner to one alias
    printf 'ssh -F %s %s %s < %s' "$(q "$CFG")" "$1" "$REMOTE" "$(q "$AUTH")"
}
loop_cmd() {   # the one-liner to each alias in turn, stopping at the first failure
    # shellcheck disable=SC2016  # "$h" is for the benchmarked shell
    printf 'for h in %s; do ssh -F %s "$h" %s < %s || exit 1; done' \
        "$*" "$(q "$CFG")" "$REMOTE" "$(q "$AUTH")"
}

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

# sshd logs "... N connections dropped" when it leaves MaxStartups throttling
maxstartups_drops() {
    { grep -o 'MaxStartups throttling after [^,]*, [0-9]* connections dropped' "$STATE/sshd_loopback.log" || true; } |
        awk '{ s += $(NF - 2) } END { print s + 0 }'
}

ssh_check() {   # untimed
    say "checking the ssh setup (untimed)"
    local out n h
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
    for n in 0 1 "$FLEET"; do
        verify_installed "$n" strict || die "push to w0/d1/wc did not install correctly"
    done

    "$RESET"
    for h in w0 d1 wc; do
        sh -c "$(ssh_cmd "$h")" || die "the ssh one-liner to $h failed"
    done
    for n in 0 1 "$FLEET"; do
        verify_installed "$n" || die "the ssh one-liner did not write auth.json"
    done
    "$RESET"
}

ssh_bench() {
    local i
    if [ "${BENCH_ONLY:-}" = far ]; then
        latency_bench
        return
    fi
    run_hf single "$RESET" "$RUNS" "$WARMUP" codex-auth "$(ca_cmd w0)" "ssh one-liner" "$(ssh_cmd w0)"
    ROWS+=("$(hf pair "$OUT/single.json" "a. 1 host, no codex there (w0)" 0.4)")

    run_hf single-codex "$RESET" "$RUNS" "$WARMUP" codex-auth "$(ca_cmd wc)" "ssh one-liner" "$(ssh_cmd wc)"
    ROWS+=("$(hf pair "$OUT/single-codex.json" "b. 1 host, Codex 0.171 there (wc: + codex login status)" -)")

    run_hf run-ssh "$RESET" "$RUNS" "$WARMUP" codex-auth "$(run_cmd w0)" push "$(ca_cmd w0)" \
        "ssh true" "ssh -F $(q "$CFG") w0 true"
    ROWS+=("$(hf triple "$OUT/run-ssh.json" "o. run -- true on 1 host, vs ssh HOST true (push alongside)")")

    # 32 hosts: the loop takes seconds per run and hyperfine applies one --runs to all
    # commands, so the paired invocation (the ratio) uses BENCH_RUNS_MANY runs for both; a
    # second invocation with codex-auth alone (BENCH_RUNS_ALONE runs) gives its time more
    # precisely and more runs for the "installs on all 32, every run" check. Its last run
    # leaves the files that verify_installed then checks.
    run_hf wide32 "$RESET" "$RUNS_MANY" 1 codex-auth "$(ca_cmd "${W_HOSTS[@]}")" "ssh loop" "$(loop_cmd "${W_HOSTS[@]}")"
    ROWS+=("$(hf pair "$OUT/wide32.json" "c. 32 hosts, sshd MaxStartups 200:30:400" 0.1)")
    run_hf wide32-alone "$RESET" "$RUNS_ALONE" 1 codex-auth "$(ca_cmd "${W_HOSTS[@]}")"
    ROWS+=("$(hf alone "$OUT/wide32-alone.json" "c'. 32 hosts (wide), codex-auth alone, $RUNS_ALONE runs")")
    for i in $(seq 0 $((NHOSTS - 1))); do
        verify_installed "$i" strict || note_failure "wide32: ${USER_PREFIX}$i not installed after the last push"
    done

    local drops0 drops
    drops0=$(maxstartups_drops)
    run_hf default32 "$RESET" "$RUNS_MANY" 1 codex-auth "$(ca_cmd "${D_HOSTS[@]}")" "ssh loop" "$(loop_cmd "${D_HOSTS[@]}")"
    ROWS+=("$(hf pair "$OUT/default32.json" "d. 32 hosts, default sshd (MaxStartups 10:30:100)" -)")
    run_hf default32-alone "$RESET" "$RUNS_ALONE" 1 codex-auth "$(ca_cmd "${D_HOSTS[@]}")"
    ROWS+=("$(hf alone "$OUT/default32-alone.json" "d'. 32 hosts (default sshd), codex-auth alone, $RUNS_ALONE runs")")
    for i in $(seq 0 $((NHOSTS - 1))); do
        verify_installed "$i" strict || note_failure "default32: ${USER_PREFIX}$i not installed after the last push"
    done
    sleep 1   # sshd logs the "exited MaxStartups throttling" line a moment later
    drops=$(($(maxstartups_drops) - drops0))
    NOTES+=("Default sshd: connections dropped past MaxStartups during d/d': $drops (codex-auth retries those).")

    say "peak memory: 32-host pushes (wide), median of $BENCH_RUNS_RSS"
    # One sample is noise (how many handshakes overlap varies from run to run): the median
    # of several, the builds taking turns.
    local mem_rc=0 ssh_args=() h rss_kb size run now_kbs=() before_kbs=()
    for h in "${W_HOSTS[@]}"; do ssh_args+=(--ssh "$h"); done
    for ((run = 0; run < BENCH_RUNS_RSS; run++)); do
        "$RESET"
        /usr/bin/time -v -o "$WORK/time.txt" "$BIN" push "${ssh_args[@]}" -F "$CFG" --from "$AUTH" -q >&2 || mem_rc=$?
        [ "$mem_rc" = 0 ] || note_failure "memory run: codex-auth push to 32 hosts exited $mem_rc"
        rss_kb=$(awk -F': *' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
        [ -n "$rss_kb" ] || die "no 'Maximum resident set size' in /usr/bin/time -v output"
        now_kbs+=("$rss_kb")
        if [ -n "${BIN_BEFORE:-}" ]; then
            "$RESET"
            /usr/bin/time -v -o "$WORK/time-before.txt" "$BIN_BEFORE" push "${ssh_args[@]}" -F "$CFG" --from "$AUTH" -q >&2 || true
            before_kbs+=("$(awk -F': *' '/Maximum resident set size/ {print $2}' "$WORK/time-before.txt")")
        fi
    done
    rss_kb=$(median "${now_kbs[@]}")
    ROWS+=("$(awk -v kb="$rss_kb" 'BEGIN { mb = kb / 1024; printf "| e. peak RSS, 32-host push (wide) | %.1f MB | — | — | ≤ 30 MB | %s |", mb, (mb <= 30 ? "PASS" : "FAIL") }')")
    if [ -n "${BIN_BEFORE:-}" ]; then
        local before_kb
        before_kb=$(median "${before_kbs[@]}")
        ROWS[-1]+=$(awk -v kb="$rss_kb" -v b="$before_kb" 'BEGIN { printf " %.1f MB | %.3f |", b / 1024, kb / b }')
    fi
    NOTES+=("Peak RSS of the 32-host push, each run (kB): now ${now_kbs[*]}${BIN_BEFORE:+; before ${before_kbs[*]}}.")

    size=$(stat -c %s "$BIN")
    ROWS+=("$(awk -v b="$size" 'BEGIN { printf "| f. release binary size | %.2f MB | — | — | — | report |", b / 1048576 }')")
    if [ -n "${BIN_BEFORE:-}" ]; then
        ROWS[-1]+=$(awk -v b="$size" -v o="$(stat -c %s "$BIN_BEFORE")" 'BEGIN { printf " %.2f MB | %.3f |", o / 1048576, b / o }')
    fi

    status_bench
    scale_bench
    sync_bench
    tunnel_bench
    latency_bench
}

# s, t, u. Far away: every chunk delayed 25 ms each way by scripts/latency-proxy.py in
# front of the wide sshd; aliases s0..s31 go through it.
latency_bench() {
    local ports=() i ktype kdata lcfg=$WORK/ssh_config_far log=$WORK/latency.log
    # one endpoint per host, as 32 far-away hosts are
    python3 scripts/latency-proxy.py 0 127.0.0.1 "$PEER_SSH_PORT_WIDE" 25 --log "$log" \
        --count "$NHOSTS" --ready "$WORK/latency.ports" &
    LATENCY_PROXY_PID=$!
    for i in $(seq 100); do [ -s "$WORK/latency.ports" ] && break; sleep 0.1; done
    mapfile -t ports <"$WORK/latency.ports"
    [ "${#ports[@]}" = "$NHOSTS" ] || die "the latency proxy did not start ($WORK/latency.ports)"
    read -r ktype kdata _ <"$PEER_HOST_KEY_PUB"
    cp "$CFG" "$lcfg"
    for i in $(seq 0 $((NHOSTS - 1))); do
        printf '[127.0.0.1]:%s %s %s\n' "${ports[$i]}" "$ktype" "$kdata" >>"$KNOWN"
        host_block "s$i" "${ports[$i]}" "$USER_PREFIX$i" >>"$lcfg"
    done
    # v0..v31: the same users behind a jump host, sj, reached through s0's endpoint
    host_block sj "${ports[0]}" "${USER_PREFIX}0" >>"$lcfg"
    for i in $(seq 0 $((NHOSTS - 1))); do
        host_block "v$i" "$PEER_SSH_PORT_WIDE" "$USER_PREFIX$i" >>"$lcfg"
        printf '    ProxyJump sj\n\n' >>"$lcfg"
    done
    local far=() h one thirtytwo jumped flags="" vflags=""
    for i in $(seq 0 $((NHOSTS - 1))); do far+=("s$i"); flags+=" --ssh s$i"; vflags+=" --ssh v$i"; done
    one=$(printf '%s push --ssh s0 -F %s --from %s -q' "$(q "$BIN")" "$(q "$lcfg")" "$(q "$AUTH")")
    thirtytwo=$(printf '%s push%s -F %s --from %s -q' "$(q "$BIN")" "$flags" "$(q "$lcfg")" "$(q "$AUTH")")
    jumped=$(printf '%s push%s -F %s --from %s -q' "$(q "$BIN")" "$vflags" "$(q "$lcfg")" "$(q "$AUTH")")

    # The round trips, untimed: -vv's count and the proxy's view of the same connection.
    local counted seen
    "$RESET"
    : >"$log"
    counted=$("$BIN" push --ssh s0 -F "$lcfg" --from "$AUTH" -vv 2>&1 | sed -n 's/.*: \([0-9]*\) round trips.*/\1/p')
    sleep 0.5
    seen=$(sed -n 's/^turns=\([0-9]*\).*/\1/p' "$log" | head -1)
    verify_installed 0 strict || note_failure "latency: push --ssh s0 did not install"
    NOTES+=("s. Round trips of one push at 50 ms: ${counted:-?} by -vv's count (TCP handshake included), ${seen:-?} on the wire after the handshake (target <= 7).")
    : >"$log"
    counted=$("$BIN" status --ssh s0 -F "$lcfg" -vv 2>&1 | sed -n 's/.*: \([0-9]*\) round trips.*/\1/p')
    sleep 0.5
    seen=$(sed -n 's/^turns=\([0-9]*\).*/\1/p' "$log" | head -1)
    NOTES+=("t. Round trips of one status at 50 ms: ${counted:-?} by -vv's count, ${seen:-?} on the wire after the handshake (target <= 7).")

    run_hf far-push "$RESET" "$RUNS_MANY" 1 codex-auth "$one" \
        "ssh one-liner" "ssh -F $(q "$lcfg") s0 $REMOTE < $(q "$AUTH")"
    ROWS+=("$(hf pair "$OUT/far-push.json" "s. 1 host at 50 ms RTT: push vs the one-liner" 0.6)")
    "$BIN" push --ssh s0 -F "$lcfg" --from "$AUTH" -q >&2 || note_failure "latency: push before status failed"
    run_hf far-status true "$RUNS_MANY" 1 \
        codex-auth "$(q "$BIN") status --ssh s0 -F $(q "$lcfg") -q" \
        "ssh cat" "ssh -F $(q "$lcfg") s0 cat .codex/auth.json >/dev/null"
    ROWS+=("$(hf pair "$OUT/far-status.json" "t. 1 host at 50 ms RTT: status vs ssh HOST cat auth.json" 0.6)")
    run_hf far-32 "$RESET" "$RUNS_MANY" 1 "codex-auth 32" "$thirtytwo" "codex-auth 1" "$one" \
        "codex-auth 32 near" "$(ca_cmd "${W_HOSTS[@]}")" "codex-auth 1 near" "$(ca_cmd w0)"
    ROWS+=("$(hf pair "$OUT/far-32.json" "u. 32 hosts at 50 ms RTT: one push to 32 vs one push to 1" 1.5)")
    ROWS+=("$(hf latency "$OUT/far-32.json" "u'. what 50 ms RTT adds: to a push to 32 vs to a push to 1")")
    "$RESET"
    sh -c "$thirtytwo" || note_failure "latency: the push to s0..s31 exited non-zero"
    for i in $(seq 0 $((NHOSTS - 1))); do
        verify_installed "$i" strict || note_failure "latency: ${USER_PREFIX}$i not installed by the push to 32"
    done
    run_hf far-jump "$RESET" "$RUNS_MANY" 1 codex-auth "$jumped" "codex-auth direct" "$thirtytwo"
    ROWS+=("$(hf pair "$OUT/far-jump.json" "v. 32 hosts behind one jump host at 50 ms RTT vs the 32 reached directly" -)")
    "$RESET"
    sh -c "$jumped" || note_failure "latency: the push to v0..v31 (through sj) exited non-zero"
    for i in $(seq 0 $((NHOSTS - 1))); do
        verify_installed "$i" strict || note_failure "latency: ${USER_PREFIX}$i not installed by the push through the jump host"
    done
    kill "$LATENCY_PROXY_PID" 2>/dev/null || true
    wait "$LATENCY_PROXY_PID" 2>/dev/null || true
    LATENCY_PROXY_PID=""
}

# q, r. sync over 256 places that are all current, against a 256-place status; one
# refresh per session per run; peak RSS. Its own Codex home, state directory and issuer.
sync_bench() {
    local sd=$WORK/sync h port i rc=0 flags="" env_prefix
    mkdir -p "$sd/home" "$sd/state"
    python3 "$WORK/issuer.py" "$sd/issuer.port" "$sd/issuer.log" &
    SYNC_ISSUER_PID=$!
    for i in $(seq 50); do [ -s "$sd/issuer.port" ] && break; sleep 0.1; done
    port=$(cat "$sd/issuer.port")
    python3 "$WORK/login.py" "http://127.0.0.1:$port" >"$sd/home/auth.json"
    env_prefix="env CODEX_HOME=$(q "$sd/home") XDG_STATE_HOME=$(q "$sd/state") CODEX_AUTH_ISSUER=http://127.0.0.1:$port"
    local run_env=(env "CODEX_HOME=$sd/home" "XDG_STATE_HOME=$sd/state" "CODEX_AUTH_ISSUER=http://127.0.0.1:$port")
    "$RESET"
    local push_args=()
    for h in "${W_FLEET[@]}"; do push_args+=(--ssh "$h"); flags+=" --ssh $h"; done
    "${run_env[@]}" "$BIN" push "${push_args[@]}" -F "$CFG" --access-only -q >&2 || rc=$?
    [ "$rc" = 0 ] || note_failure "sync: the access-only push to 256 hosts exited $rc"
    "${run_env[@]}" "$BIN" sync -F "$CFG" --json >"$WORK/sync-check.json" || note_failure "sync: the untimed sync exited non-zero"
    hf sync-check "$WORK/sync-check.json" "$FLEET" current || note_failure "sync: not every place was current"
    local before after
    before=$(for h in "${HOMES[@]:0:$FLEET}"; do sha256sum "$h/.codex/auth.json"; done | sha256sum)
    run_hf sync256 true "$RUNS_SCALE" 1 \
        codex-auth "$env_prefix $(q "$BIN") sync -F $(q "$CFG") -q" \
        "codex-auth status" "$env_prefix $(q "$BIN") status$flags -F $(q "$CFG") -q"
    ROWS+=("$(hf pair "$OUT/sync256.json" "q. sync of 256 current places vs status of the same 256" 1.2)")
    after=$(for h in "${HOMES[@]:0:$FLEET}"; do sha256sum "$h/.codex/auth.json"; done | sha256sum)
    [ "$before" = "$after" ] || note_failure "sync: a sync of current places changed a place"
    NOTES+=("q. The 256 places' auth.json were the same before and after the timed syncs (sha256 of all: $([ "$before" = "$after" ] && echo same || echo CHANGED)).")

    say "peak memory: one 256-place sync"
    local kbs=()
    for i in 1 2 3; do
        /usr/bin/time -v -o "$WORK/time-sync.txt" "${run_env[@]}" "$BIN" sync -F "$CFG" -q >&2 ||
            note_failure "memory run: sync exited non-zero"
        kbs+=("$(awk -F': *' '/Maximum resident set size/ {print $2}' "$WORK/time-sync.txt")")
    done
    ROWS+=("$(awk -v kb="$(median "${kbs[@]}")" 'BEGIN { mb = kb / 1024; printf "| r. peak RSS, sync of 256 places | %.1f MB | — | — | ≤ 30 MB | %s |", mb, (mb <= 30 ? "PASS" : "FAIL") }')")

    # One sync whose session is due: one refresh, 256 places updated.
    : >"$sd/issuer.log"
    "${run_env[@]}" "$BIN" sync -F "$CFG" --refresh-within 36500d --json >"$WORK/sync-refresh.json" ||
        note_failure "sync: the refreshing sync exited non-zero"
    hf sync-check "$WORK/sync-refresh.json" "$FLEET" updated || note_failure "sync: the refresh did not reach every place"
    local posts
    posts=$(grep -c 'POST /oauth/token' "$sd/issuer.log" || true)
    [ "$posts" = 1 ] || note_failure "sync: $posts refresh requests in one sync (expected 1)"
    NOTES+=("q. One sync of a due session over 256 places sent $posts refresh request(s) to the issuer and updated every place.")
    kill "$SYNC_ISSUER_PID" 2>/dev/null || true
    wait "$SYNC_ISSUER_PID" 2>/dev/null || true
    SYNC_ISSUER_PID=""
}

# l, m. Scale: push and status to all 256 hosts vs to the first 32, in one hyperfine
# invocation each; the figure is the time per host at 256 over the time per host at 32
# (target <= 1.2), on the wide sshd and on the default one. n. peak RSS of a 256-host push.
scale_bench() {
    local kind label hosts32 hosts256 flags
    for kind in w d; do
        if [ "$kind" = w ]; then
            label="wide sshd"; hosts32=("${W_HOSTS[@]}"); hosts256=("${W_FLEET[@]}")
        else
            label="default sshd"; hosts32=("${D_HOSTS[@]}"); hosts256=("${D_FLEET[@]}")
        fi
        run_hf "scale-push-$kind" "$RESET" "$RUNS_SCALE" 1 \
            "codex-auth 256" "$(ca_cmd "${hosts256[@]}")" "codex-auth 32" "$(ca_cmd "${hosts32[@]}")"
        ROWS+=("$(hf perhost "$OUT/scale-push-$kind.json" "l. push: per host at 256 hosts vs at 32 ($label)" "$FLEET" "$NHOSTS" 1.2)")
    done
    local ours256 ours32 h
    flags=""; for h in "${W_FLEET[@]}"; do flags+=" --ssh $h"; done
    ours256=$(printf '%s status%s -F %s -q' "$(q "$BIN")" "$flags" "$(q "$CFG")")
    flags=""; for h in "${W_HOSTS[@]}"; do flags+=" --ssh $h"; done
    ours32=$(printf '%s status%s -F %s -q' "$(q "$BIN")" "$flags" "$(q "$CFG")")
    run_hf scale-status true "$RUNS_SCALE" 1 "codex-auth 256" "$ours256" "codex-auth 32" "$ours32"
    ROWS+=("$(hf perhost "$OUT/scale-status.json" "m. status: per host at 256 hosts vs at 32 (wide sshd)" "$FLEET" "$NHOSTS" 1.2)")

    say "peak memory: one 256-host push (default sshd)"
    "$RESET"
    local mem_rc=0 ssh_args=() rss_kb
    for h in "${D_FLEET[@]}"; do ssh_args+=(--ssh "$h"); done
    /usr/bin/time -v -o "$WORK/time256.txt" "$BIN" push "${ssh_args[@]}" -F "$CFG" --from "$AUTH" -q >&2 || mem_rc=$?
    [ "$mem_rc" = 0 ] || note_failure "memory run: codex-auth push to 256 hosts exited $mem_rc"
    rss_kb=$(awk -F': *' '/Maximum resident set size/ {print $2}' "$WORK/time256.txt")
    # (After the timed runs the last command was the 32-host one: this push is the one
    # that must have reached all 256.)
    for i in $(seq 0 $((FLEET - 1))); do
        verify_installed "$i" strict || note_failure "scale: ${USER_PREFIX}$i not installed after a 256-host push"
    done
    ROWS+=("$(awk -v kb="$rss_kb" 'BEGIN { mb = kb / 1024; printf "| n. peak RSS, 256-host push (default sshd) | %.1f MB | — | — | ≤ 30 MB | %s |", mb, (mb <= 30 ? "PASS" : "FAIL") }')")
}

# j. `status` on 32 hosts (each holding a login: the last push left them) vs a loop of
# `ssh HOST cat ~/.codex/auth.json` over the same hosts. Nothing to reset: both read.
status_bench() {
    local flags="" h
    for h in "${W_HOSTS[@]}"; do flags+=" --ssh $h"; done
    local ours base
    ours=$(printf '%s status%s -F %s -q' "$(q "$BIN")" "$flags" "$(q "$CFG")")
    # shellcheck disable=SC2016  # "$h" is for the benchmarked shell
    base=$(printf 'for h in %s; do ssh -F %s "$h" cat .codex/auth.json >/dev/null || exit 1; done' \
        "${W_HOSTS[*]}" "$(q "$CFG")")
    # shellcheck disable=SC2086  # $flags is the list of --ssh flags, split on purpose
    "$BIN" status $flags -F "$CFG" --json >"$WORK/status.json" || note_failure "status on 32 hosts exited non-zero"
    hf status-check "$WORK/status.json" "$NHOSTS" || note_failure "status did not see 32 logins"
    run_hf status32 true "$RUNS_MANY" 1 codex-auth "$ours" "ssh cat loop" "$base"
    ROWS+=("$(hf pair "$OUT/status32.json" "j. status on 32 hosts vs a loop of ssh HOST cat auth.json" 0.15)")
}

# k. latency of HTTP requests through `login --forward --no-run`'s tunnel vs through
# `ssh -L`, to a server on the jump host's own 127.0.0.1:1455 (a separate network
# namespace). Each run makes 40 requests on fresh connections, as a browser's callback
# does; both tunnels stay up for the whole measurement.
tunnel_bench() {
    if [ "${PEER_NETNS:-0}" != 1 ]; then
        NOTES+=("k. tunnel latency: skipped (no network namespaces for the jump host).")
        return
    fi
    local jhost=$PEER_JUMP_HOST ktype kdata
    read -r ktype kdata _ <"$PEER_HOST_KEY_PUB"
    printf '%s %s %s\n' "$jhost" "$ktype" "$kdata" >>"$KNOWN"
    {
        printf 'Host wj\n    HostName %s\n    Port 22\n    User %s0\n' "$jhost" "$USER_PREFIX"
        printf '    IdentityFile %s\n    IdentitiesOnly yes\n    UserKnownHostsFile %s\n' "$KEY" "$KNOWN"
        printf '    StrictHostKeyChecking yes\n    BatchMode yes\n\n'
    } >>"$CFG"
    cat >"$WORK/http_server.py" <<'PY'
import http.server
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_GET(self):
        b = b"ok"
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b)
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 1455), H)
print("ready", flush=True)
s.serve_forever()
PY
    cat >"$WORK/http_client.py" <<'PY'
import socket, sys
port = int(sys.argv[1])
for _ in range(40):
    c = socket.create_connection(("127.0.0.1", port))
    c.sendall(b"GET /auth/callback?code=x&state=y HTTP/1.0\r\nHost: localhost\r\n\r\n")
    data = b""
    while True:
        chunk = c.recv(4096)
        if not chunk: break
        data += chunk
    c.close()
    assert data.startswith(b"HTTP/1.0 200"), data
PY
    ip netns exec "$PEER_JUMP_NETNS" python3 "$WORK/http_server.py" >"$WORK/http_server.out" 2>&1 &
    local server=$!
    "$BIN" login --forward wj -F "$CFG" --no-run >"$WORK/forward.out" 2>&1 &
    local ours=$!
    ssh -F "$CFG" -N -o ExitOnForwardFailure=yes -L 1456:127.0.0.1:1455 wj &
    local theirs=$!
    local up=0 i
    for i in $(seq 100); do
        if python3 "$WORK/http_client.py" 1455 2>/dev/null && python3 "$WORK/http_client.py" 1456 2>/dev/null; then up=1; break; fi
        sleep 0.1
    done
    if [ "$up" = 1 ]; then
        run_hf tunnel true "$RUNS" "$WARMUP" codex-auth "python3 $(q "$WORK/http_client.py") 1455" "ssh -L" "python3 $(q "$WORK/http_client.py") 1456"
        ROWS+=("$(hf pair "$OUT/tunnel.json" "k. 40 HTTP requests through login --forward's tunnel vs ssh -L" 1.1)")
    else
        note_failure "tunnel benchmark: the tunnels did not come up (see $WORK/forward.out)"
    fi
    kill -INT "$ours" 2>/dev/null || true
    kill "$theirs" "$server" 2>/dev/null || true
    wait "$ours" "$theirs" "$server" 2>/dev/null || true
}

# ============================================================ Docker part
docker_part() {
    DSTATE=$(mktemp -d /tmp/codex-auth-bench-docker.XXXXXX)
    say "starting a private dockerd (scripts/docker-peers.sh up, no podman)"
    DOCKER_PEERS_PODMAN=0 bash scripts/docker-peers.sh up "$DSTATE" >&2
    local k v
    while IFS='=' read -r k v; do
        case $k in DOCKER_TEST_HOST | IMAGE_BUSYBOX_ROOT) printf -v "$k" '%s' "$v" ;; esac
    done <"$DSTATE/docker.env"
    : "${DOCKER_TEST_HOST:?}" "${IMAGE_BUSYBOX_ROOT:?}"

    # Both the docker CLI and codex-auth (in hyperfine's shells too) find the engine
    # through DOCKER_HOST; nothing else may redirect them.
    unset DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH
    export DOCKER_HOST=$DOCKER_TEST_HOST
    local root
    root=$(docker info --format '{{.DockerRootDir}}')
    [ "$root" = "$(cd "$DSTATE" && pwd -P)/data" ] ||
        die "DOCKER_HOST=$DOCKER_HOST reports data root '$root', not the private daemon's ($DSTATE/data)"
    DOCKER_VERSIONS="Docker Engine $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'), docker CLI $(docker version --format '{{.Client.Version}}')"

    CONTS=()
    local i
    for i in $(seq 0 $((NCONT - 1))); do CONTS+=("$CONT_PREFIX$i"); done
    say "starting containers ${CONTS[0]}..${CONTS[NCONT - 1]} and creating $STOPPED ($IMAGE_BUSYBOX_ROOT)"
    for i in "${CONTS[@]}"; do
        docker run -d --network none --name "$i" "$IMAGE_BUSYBOX_ROOT" >/dev/null
    done
    for i in "${CONTS[@]}"; do
        [ "$(docker inspect -f '{{.State.Status}}' "$i")" = running ] || die "container $i is not running"
    done

    # --prepare scripts (their docker calls cost time outside the measurement)
    DRESET1=$WORK/dreset1.sh
    DRESET16=$WORK/dreset16.sh
    DRESET_STOPPED=$WORK/dreset-stopped.sh
    printf '#!/bin/sh\nexec docker exec %s rm -rf /root/.codex\n' "${CONTS[0]}" >"$DRESET1"
    {
        echo '#!/bin/sh'
        echo '# in parallel; fails if any of them failed'
        echo 'pids='
        # shellcheck disable=SC2016  # for the prepare script's sh
        printf 'for c in %s; do docker exec "$c" rm -rf /root/.codex & pids="$pids $!"; done\n' "${CONTS[*]}"
        # shellcheck disable=SC2016
        echo 'rc=0; for p in $pids; do wait "$p" || rc=1; done; exit $rc'
    } >"$DRESET16"
    # The stopped container is re-created (a stopped container cannot exec `rm`), with an
    # empty /root/.codex (0700) copied in: the recipe's `docker cp` alone needs the
    # directory (its mkdir step is a `docker exec`, impossible there).
    mkdir "$WORK/empty"
    mkdir -m 700 "$WORK/empty/.codex"
    {
        echo '#!/bin/sh'
        printf 'docker rm -f %s >/dev/null &&\n' "$STOPPED"
        printf '    docker create --network none --name %s %s >/dev/null &&\n' "$STOPPED" "$IMAGE_BUSYBOX_ROOT"
        printf '    docker cp %s %s:/root/.codex\n' "$(q "$WORK/empty/.codex")" "$STOPPED"
    } >"$DRESET_STOPPED"
    chmod 755 "$DRESET1" "$DRESET16" "$DRESET_STOPPED"
    docker create --network none --name "$STOPPED" "$IMAGE_BUSYBOX_ROOT" >/dev/null

    docker_check
    docker_bench
    docker_profile
    docker_down
}

# commands (as hyperfine's sh runs them)
dca_cmd() {   # codex-auth push into the given containers
    local flags="" c
    for c in "$@"; do flags+=" --docker $c"; done
    printf '%s push%s --from %s -q' "$(q "$BIN")" "$flags" "$(q "$AUTH")"
}
drun_cmd() {   # codex-auth run -- true in one container
    printf '%s run --docker %s --from %s -- true' "$(q "$BIN")" "$1" "$(q "$AUTH")"
}
recipe_cmd() {   # the documented recipe for one container: three docker CLI calls
    # shellcheck disable=SC2016  # $HOME and $H are for the container's / benchmarked shell
    printf 'H=$(docker exec %s sh -c '\''echo $HOME'\'') && docker exec %s mkdir -p "$H/.codex" && docker cp %s %s:"$H/.codex/auth.json"' \
        "$1" "$1" "$(q "$AUTH")" "$1"
}
recipe_loop_cmd() {   # the recipe for each container in turn, stopping at the first failure
    # shellcheck disable=SC2016
    printf 'for c in %s; do H=$(docker exec "$c" sh -c '\''echo $HOME'\'') && docker exec "$c" mkdir -p "$H/.codex" && docker cp %s "$c":"$H/.codex/auth.json" || exit 1; done' \
        "$*" "$(q "$AUTH")"
}
cp_cmd() {   # the recipe's last step alone (/root/.codex exists: see DRESET_STOPPED)
    printf 'docker cp %s %s:/root/.codex/auth.json' "$(q "$AUTH")" "$1"
}

# verify_container C [strict]: C's /root/.codex/auth.json is our auth.json; with `strict`,
# also file 0600 and dir 0700, owned by root (uid 0), as codex-auth promises.
verify_container() {
    local c=$1 strict=${2:-} fm dm
    if ! docker exec "$c" cat /root/.codex/auth.json 2>/dev/null | cmp -s - "$AUTH"; then
        say "$c: /root/.codex/auth.json missing or different"
        return 1
    fi
    [ "$strict" = strict ] || return 0
    fm=$(docker exec "$c" stat -c '%a %u' /root/.codex/auth.json)
    dm=$(docker exec "$c" stat -c '%a %u' /root/.codex)
    if [ "$fm" != "600 0" ] || [ "$dm" != "700 0" ]; then
        say "$c: file '$fm', dir '$dm' (want '600 0', '700 0')"
        return 1
    fi
}

# verify_stopped [strict]: the same for the stopped container, read through `docker cp`
# (tar on stdout); it must still not be running.
verify_stopped() {
    local strict=${1:-} st listing
    st=$(docker inspect -f '{{.State.Status}}' "$STOPPED")
    [ "$st" != running ] || { say "$STOPPED is running"; return 1; }
    docker cp "$STOPPED:/root/.codex" - >"$WORK/stopped.tar" || { say "$STOPPED: no /root/.codex"; return 1; }
    if ! tar -xOf "$WORK/stopped.tar" .codex/auth.json 2>/dev/null | cmp -s - "$AUTH"; then
        say "$STOPPED: /root/.codex/auth.json missing or different"
        return 1
    fi
    [ "$strict" = strict ] || return 0
    listing=$(tar --numeric-owner -tvf "$WORK/stopped.tar" | awk '{print $1, $2, $NF}' | sort)
    if [ "$listing" != "$(printf '%s\n' '-rw------- 0/0 .codex/auth.json' 'drwx------ 0/0 .codex/' | sort)" ]; then
        say "$STOPPED: unexpected /root/.codex: $(echo "$listing" | tr '\n' ';')"
        return 1
    fi
}

docker_check() {   # untimed
    say "checking the docker setup (untimed)"
    local out c rc=0
    "$DRESET1"
    if ! out=$("$BIN" push --docker "${CONTS[0]}" --from "$AUTH" 2>&1); then
        printf '%s\n' "$out" >&2
        die "codex-auth push --docker ${CONTS[0]} failed (above)"
    fi
    verify_container "${CONTS[0]}" strict || die "codex-auth push --docker ${CONTS[0]} exited 0 but did not install correctly"

    "$DRESET16"
    local push_args=()
    for c in "${CONTS[@]}"; do push_args+=(--docker "$c"); done
    "$BIN" push "${push_args[@]}" --from "$AUTH" --json >"$WORK/dpre.json" 2>"$WORK/dpre.err" || rc=$?
    if [ "$rc" != 0 ]; then
        cat "$WORK/dpre.err" "$WORK/dpre.json" >&2
        die "codex-auth push into $NCONT containers exited $rc (above)"
    fi
    hf dprecheck "$WORK/dpre.json" "$NCONT" exec >&2 || die "unexpected push report (above); see $WORK/dpre.json"
    for c in "${CONTS[@]}"; do
        verify_container "$c" strict || die "the push into $NCONT containers did not install in $c"
    done

    "$DRESET16"
    sh -c "$(recipe_loop_cmd "${CONTS[@]}")" || die "the docker CLI recipe failed"
    for c in "${CONTS[@]}"; do
        verify_container "$c" || die "the docker CLI recipe did not write auth.json in $c"
    done
    RECIPE_MODES="file $(docker exec "${CONTS[0]}" stat -c '%a' /root/.codex/auth.json), dir $(docker exec "${CONTS[0]}" stat -c '%a' /root/.codex)"

    "$DRESET_STOPPED"
    rc=0
    "$BIN" push --docker "$STOPPED" --from "$AUTH" --json >"$WORK/dpre-stopped.json" 2>"$WORK/dpre.err" || rc=$?
    if [ "$rc" != 0 ]; then
        cat "$WORK/dpre.err" "$WORK/dpre-stopped.json" >&2
        die "codex-auth push --docker $STOPPED exited $rc (above)"
    fi
    hf dprecheck "$WORK/dpre-stopped.json" 1 archive >&2 || die "unexpected push report (above)"
    verify_stopped strict || die "codex-auth push --docker $STOPPED exited 0 but did not install correctly"
    "$DRESET_STOPPED"
    sh -c "$(cp_cmd "$STOPPED")" || die "docker cp into $STOPPED failed"
    verify_stopped || die "docker cp did not write auth.json in $STOPPED"
}

docker_bench() {
    local c
    run_hf docker1 "$DRESET1" "$RUNS" "$WARMUP" \
        codex-auth "$(dca_cmd "${CONTS[0]}")" "docker CLI recipe" "$(recipe_cmd "${CONTS[0]}")"
    ROWS+=("$(hf pair "$OUT/docker1.json" "g. 1 running container (exec) vs the 3-command docker recipe" 0.35)")

    run_hf run-docker "$DRESET1" "$RUNS" "$WARMUP" codex-auth "$(drun_cmd "${CONTS[0]}")" \
        push "$(dca_cmd "${CONTS[0]}")" "docker exec true" "docker exec ${CONTS[0]} true"
    ROWS+=("$(hf triple "$OUT/run-docker.json" "p. run -- true in 1 container, vs docker exec C true (push alongside)")")

    run_hf docker16 "$DRESET16" "$RUNS_DOCKER_MANY" 1 \
        codex-auth "$(dca_cmd "${CONTS[@]}")" "docker CLI loop" "$(recipe_loop_cmd "${CONTS[@]}")"
    ROWS+=("$(hf pair "$OUT/docker16.json" "h. $NCONT running containers vs a loop of the recipe" 0.15)")
    run_hf docker16-alone "$DRESET16" "$RUNS_ALONE" 1 codex-auth "$(dca_cmd "${CONTS[@]}")"
    ROWS+=("$(hf alone "$OUT/docker16-alone.json" "h'. $NCONT running containers, codex-auth alone, $RUNS_ALONE runs")")
    for c in "${CONTS[@]}"; do
        verify_container "$c" strict || note_failure "docker16: $c not installed after the last push"
    done

    run_hf docker-stopped "$DRESET_STOPPED" "$RUNS_STOPPED" 2 \
        codex-auth "$(dca_cmd "$STOPPED")" "docker cp alone" "$(cp_cmd "$STOPPED")"
    ROWS+=("$(hf pair "$OUT/docker-stopped.json" "i. 1 stopped container (archive path) vs docker cp alone" -)")
}

# CPU time (ms, user + system, with reaped children) of the private engine's processes:
# dockerd, its containerd, and the containers' shims (found by their containerd socket
# in DSTATE; read from /proc, never signalled). `runc exec` and the exec'd processes
# are reaped by the shims, docker's archive helpers by dockerd: their CPU counts here.
engine_cpu_ms() {
    local pids=() p f
    p=$(tr -dc 0-9 <"$DSTATE/dockerd.pid" 2>/dev/null) && pids+=("$p")
    p=$(tr -dc 0-9 <"$DSTATE/exec/containerd/containerd.pid" 2>/dev/null) && pids+=("$p")
    for f in /proc/[0-9]*/cmdline; do
        if tr '\0' ' ' 2>/dev/null <"$f" | grep -q "^[^ ]*containerd-shim.* $DSTATE/exec/containerd/containerd.sock"; then
            p=${f#/proc/}; pids+=("${p%/cmdline}")
        fi
    done
    for p in "${pids[@]}"; do
        # fields after "pid (comm)": utime stime cutime cstime are the 12th..15th
        sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null || true
    done | awk -v hz="$(getconf CLK_TCK)" '{ t += $12 + $13 + $14 + $15 } END { printf "%d\n", t * 1000 / hz }'
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Where the time of one 16-container push goes (3 samples, means): its wall time, the CPU
# codex-auth itself used, the CPU the engine used meanwhile (dockerd, containerd, shims,
# one `runc exec` per exec, the install script), how much of the machine that was, and
# when the last target reached "installing" (-v timings: engine connection and inspects
# done). Then the same for 16 bare `docker exec C true` from the docker CLI (in parallel,
# and one after another): the engine's cost per exec whoever asks, plus the CLI's.
docker_profile() {
    say "profiling one $NCONT-container push (outside hyperfine)"
    local n push_args=() c t0 t1 e0 e1 u s last rc TIMEFORMAT='%3U %3S'
    local sw=0 sca=0 seng=0 slast=0 pw=0 pcli=0 peng=0 sq=0
    for c in "${CONTS[@]}"; do push_args+=(--docker "$c"); done
    for n in 1 2 3; do
        "$DRESET16"
        sleep 0.5
        e0=$(engine_cpu_ms)
        t0=$(now_ms)
        rc=0
        { time "$BIN" push "${push_args[@]}" --from "$AUTH" -v >/dev/null 2>"$WORK/prof.err"; } \
            2>"$WORK/prof.time" || rc=$?
        t1=$(now_ms)
        e1=$(engine_cpu_ms)
        [ "$rc" = 0 ] || { note_failure "profile run: codex-auth push into $NCONT containers exited $rc"; return 0; }
        read -r u s <"$WORK/prof.time"
        last=$(grep -o 'installing (+[0-9]* ms)' "$WORK/prof.err" | tr -dc '0-9\n' | sort -n | tail -n 1)
        sw=$((sw + t1 - t0)); seng=$((seng + e1 - e0)); slast=$((slast + ${last:-0}))
        sca=$((sca + $(awk -v u="$u" -v s="$s" 'BEGIN { printf "%d", (u + s) * 1000 }')))
    done
    for n in 1 2 3; do
        sleep 0.5
        e0=$(engine_cpu_ms)
        t0=$(now_ms)
        { time (for c in "${CONTS[@]}"; do docker exec "$c" true & done; wait); } 2>"$WORK/prof.time"
        t1=$(now_ms)
        e1=$(engine_cpu_ms)
        read -r u s <"$WORK/prof.time"
        pw=$((pw + t1 - t0)); peng=$((peng + e1 - e0))
        pcli=$((pcli + $(awk -v u="$u" -v s="$s" 'BEGIN { printf "%d", (u + s) * 1000 }')))
        t0=$(now_ms)
        for c in "${CONTS[@]}"; do docker exec "$c" true; done
        t1=$(now_ms)
        sq=$((sq + t1 - t0))
    done
    local ncpu
    ncpu=$(nproc)
    NOTES+=("Where one $NCONT-container push goes (means of 3, outside hyperfine): wall $((sw / 3)) ms;
all $NCONT targets were at \"installing\" (engine connected, containers inspected) by +$((slast / 3)) ms,
the rest is the $NCONT execs. codex-auth itself used $((sca / 3)) ms CPU; the engine (dockerd, containerd,
shims, runc, the install script) $((seng / 3)) ms, ~$((seng / 3 / NCONT)) ms per container, i.e. $((seng * 100 / (sw * ncpu))) % of
all $ncpu CPUs for the whole push. $NCONT bare \`docker exec C true\` from the docker CLI: in parallel
$((pw / 3)) ms wall, engine $((peng / 3)) ms CPU (~$((peng / 3 / NCONT)) ms per exec) + CLI $((pcli / 3)) ms CPU; one after another $((sq / 3)) ms ($((sq / 3 / NCONT)) ms each).")
}

# ============================================================ run
[ "$DO_SSH" = 0 ] || ssh_part
[ "$DO_DOCKER" = 0 ] || docker_part

# ------------------------------------------------------------ report
elapsed=$(awk -v a="$BENCH_T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
{
    echo "## codex-auth benchmarks"
    echo
    line="$(date -u '+%Y-%m-%d %H:%M UTC'), built from ${BENCH_REV:-unknown}, $("$BIN" --version)"
    [ "$DO_SSH" = 0 ] || line+=", $(ssh -V 2>&1 | cut -d, -f1)"
    [ "$DO_DOCKER" = 0 ] || line+=", ${DOCKER_VERSIONS:-docker ?}"
    echo "$line, $(hyperfine --version), $(nproc) CPUs."
    line="Means ± stddev over"
    [ "$DO_SSH" = 0 ] || line+=" $RUNS runs (a, b, k; $WARMUP warmup), $RUNS_MANY runs (c, d, j; 1 warmup), $RUNS_ALONE runs (c', d');"
    [ "$DO_DOCKER" = 0 ] || line+=" $RUNS runs (g; $WARMUP warmup), $RUNS_DOCKER_MANY runs (h; 1 warmup), $RUNS_ALONE runs (h'), $RUNS_STOPPED runs (i; 2 warmup);"
    echo "${line%;}."
    line="Every run wrote auth.json ("
    [ "$DO_SSH" = 0 ] || line+="each user's ~/.codex deleted before"
    [ "$DO_SSH" = 0 ] || [ "$DO_DOCKER" = 0 ] || line+="; "
    [ "$DO_DOCKER" = 0 ] || line+="each container's /root/.codex deleted before; i: the stopped container re-created with an empty /root/.codex"
    echo "$line)."
    echo "Ratio = codex-auth / baseline, both measured in the same hyperfine invocation. MB = 2^20 bytes."
    echo
    if [ -n "${BIN_BEFORE:-}" ]; then
        echo "\"before\" is the same command built from $BENCH_BEFORE_REV, timed in the same hyperfine invocation."
        echo
        echo "| benchmark | codex-auth | baseline | ratio | target | result | before ($BENCH_BEFORE_REV) | now/before |"
        echo "|---|---|---|---|---|---|---|---|"
    else
        echo "| benchmark | codex-auth | baseline | ratio | target | result |"
        echo "|---|---|---|---|---|---|"
    fi
    printf '%s\n' "${ROWS[@]}"
    for line in ${NOTES[@]+"${NOTES[@]}"}; do
        echo
        echo "$line"
    done
    if [ "$DO_DOCKER" = 1 ]; then
        echo
        echo "The docker recipe left auth.json with modes ${RECIPE_MODES:-?} (codex-auth: 600, 700)."
    fi
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
