//! Integration tests: the built binary against real peers (sshd, dockerd, podman,
//! codex) and a strict in-process OAuth issuer; one test binary, peers started once
//! per run by scripts/test.sh.

mod bad_input;
mod certificates;
mod codex171;
mod compare_and_swap;
mod examples;
mod faults;
mod fleet;
mod forward;
mod harness;
mod issuer;
mod keyring;
mod login;
mod manual;
mod push_docker;
mod push_ssh;
mod round_trips;
mod run;
mod saved;
mod scale;
mod status;
mod sync;
