//! Integration tests: the built binary against real peers (sshd, dockerd, podman,
//! codex), one test binary, peers started once per run by scripts/test.sh.

mod bad_input;
mod harness;
mod push_docker;
mod push_ssh;
mod status;
