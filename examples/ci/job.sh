#!/usr/bin/env bash
# One CI job that uses a ChatGPT login, the way OpenAI's CI/CD guidance has it: one login
# per job stream, seeded into the job, and its refreshed form kept for the next run.
#
# The login lives in one private Codex home on the runner, the store (CODEX_HOME; make it
# once with `CODEX_HOME=/srv/codex-ci/login codex-auth login --device-auth`). Each run:
#   1. starts the job's container and gives it the stored login (0700/0600, checked);
#   2. runs the job in it (its Codex refreshes the session when it is due: the refresh
#      token it had is then spent, everywhere);
#   3. whatever the job did, moves the login back into the store (refreshed or not) and
#      removes the container, so the next run starts from the live session.
# Both writes are compare-and-swap: the job's container gets the login only if it holds
# none (`--if-holds none`: a job image that ships a login is refused, not overwritten),
# and the move back writes the store only if it still holds what the move read there,
# and takes the login out of the container only if it still holds what was handed back
# (a Codex still running in it and refreshing meanwhile makes the move read it again).
# Runs of one store take turns: a refresh token works once, so two runs at once would
# sign each other out. The workflow's concurrency group serialises runs across runners;
# the lock below serialises runs on one runner.
#
#   CODEX_HOME=/srv/codex-ci/login JOB_IMAGE=ghcr.io/acme/ci:latest \
#     ./job.sh codex exec --full-auto "Review the changes and write review.md"
#
# JOB_IMAGE is the job's image (it needs codex); DOCKER_RUN_FLAGS adds `docker run`
# options (a network, environment for the job).
set -euo pipefail
: "${CODEX_HOME:?set CODEX_HOME to the login store of this job stream}"
CODEX_AUTH=${CODEX_AUTH:-codex-auth}
IMAGE=${JOB_IMAGE:-node:22-bookworm}
read -r -a RUN_FLAGS <<<"${DOCKER_RUN_FLAGS:-}"

exec 9>>"$CODEX_HOME/ci-job.lock"
flock 9

job=codex-job-$$-$RANDOM
docker run -d --rm --name "$job" "${RUN_FLAGS[@]}" -v "$PWD:/work" -w /work \
    "$IMAGE" sleep infinity >/dev/null

persist() {
    local status=$?
    # The container keeps no copy: the session lives in exactly one place between runs.
    if ! "$CODEX_AUTH" push --from "docker:$job" --local --move -q; then
        echo "job.sh: the login could not be taken back from $job; the store keeps the login this run started with" >&2
        status=1
    fi
    docker rm -f "$job" >/dev/null 2>&1 || true
    exit "$status"
}
trap persist EXIT

"$CODEX_AUTH" push --docker "$job" --if-holds none -q
docker exec "$job" "$@"
