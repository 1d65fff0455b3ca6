//! What `run` says of its own, on stderr (its stdout is the command's): nothing when the
//! lease went as it should (a line with -v), a warning when the place was lost or could
//! not say that the lease was removed, and where a --full login went back to.

use crate::ops::run::RunOutcome;

pub(crate) fn print(outcome: &RunOutcome, place: &str, output: &super::Output) {
    let verbose = output.verbosity == super::Verbosity::Verbose;
    let quiet = output.verbosity == super::Verbosity::Quiet;
    let mut lines: Vec<String> = Vec::new();
    if outcome.status.is_none() {
        lines.push(format!(
            "codex-auth: {place} was lost before the command ended (its status is unknown)"
        ));
    }
    match &outcome.removed {
        Ok(true) if verbose => lines.push(format!(
            "codex-auth: the login lent to {} on {place} was removed",
            outcome.lease
        )),
        Ok(true) => {}
        Ok(false) => lines.push(format!(
            "codex-auth: warning: {place} could not remove the lent login's directory; the next run or status there tries again"
        )),
        Err(e) => lines.push(format!(
            "codex-auth: warning: {place} did not confirm that the lent login was removed ({}); its keeper removes it when it sees this side gone, else the next run or status there does",
            e.message
        )),
    }
    match &outcome.written_back {
        Some(Ok(to)) if !quiet => lines.push(format!(
            "codex-auth: the refreshed login was written back to {to}"
        )),
        Some(Err(e)) => lines.push(format!(
            "codex-auth: warning: the login the command left was not written back: {e}"
        )),
        _ => {}
    }
    for line in lines {
        eprintln!("{}", super::terminal_safe(&line));
    }
}
