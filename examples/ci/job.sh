#!/usr/bin/env bash
# One CI job that uses a ChatGPT login without ever holding the session itself.
#
# The login lives in one private Codex home on the runner, the store (CODEX_HOME; make it
# once with `CODEX_HOME=/srv/codex-ci/login codex-auth login --device-auth`). Each run:
#   1. `codex-auth sync` refreshes the store's session when its access token expires
#      within --refresh-within (3 days by default; each refresh token is sent once, ever,
#      and syncs take turns);
#   2. starts the job's container;
#   3. runs the job there with `codex-auth run`: the login is lent to the job's command
#      as an access-only copy (the access token without the refresh token, so the job can
#      use the session for days and can never rotate, revoke or outlive it), in a private
#      Codex home that exists only while the command runs; the command's exit status is
#      the job's;
#   4. removes the container.
# Runs may overlap, on one runner or many: no run can spend the session of another, and
# no copy outlives its run (not even a run that is killed: the copy goes with it).
#
#   CODEX_HOME=/srv/codex-ci/login JOB_IMAGE=ghcr.io/acme/ci:latest \
#     ./job.sh codex exec --full-auto "Review the changes and write review.md"
#
# JOB_IMAGE is the job's image (it needs codex and a sh); DOCKER_RUN_FLAGS adds
# `docker run` options (a network, environment for the job); SYNC_FLAGS adds `sync`
# options (say, --refresh-within 1d for jobs that run for days).
set -euo pipefail
: "${CODEX_HOME:?set CODEX_HOME to the login store of this job stream}"
CODEX_AUTH=${CODEX_AUTH:-codex-auth}
IMAGE=${JOB_IMAGE:-node:22-bookworm}
read -r -a RUN_FLAGS <<<"${DOCKER_RUN_FLAGS:-}"
read -r -a SYNC <<<"${SYNC_FLAGS:-}"

# A run whose sync cannot bring every place up to date still runs: the store's own copy
# is what counts, and the sync says what it could not reach.
"$CODEX_AUTH" sync -q "${SYNC[@]}" || echo "job.sh: sync left a place behind (see above)" >&2

job=codex-job-$$-$RANDOM
docker run -d --rm --name "$job" "${RUN_FLAGS[@]}" -v "$PWD:/work" -w /work \
    "$IMAGE" sleep infinity >/dev/null
trap 'docker rm -f "$job" >/dev/null 2>&1 || true' EXIT

status=0
"$CODEX_AUTH" run --docker "$job" -- "$@" || status=$?
exit "$status"
