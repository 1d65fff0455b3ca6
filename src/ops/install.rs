//! One login onto one place, as `push` and the hand-over of `--move` both do it: the
//! request (with its compare-and-swap precondition), the error scrubbed of the login's
//! secrets, each place's result, and what the ledger learns from the places done.

use std::time::Duration;

use super::{Progress, Run, TargetOutcome};
use crate::auth::AuthFile;
use crate::ledger::{self, Change, Ledger};
use crate::targets::{
    ErrorClass, Expect, InstallReport, InstallRequest, Outcome, Target, TargetError, TargetSpec,
};

/// What happened at one place.
pub(crate) struct TargetResult {
    pub spec: TargetSpec,
    pub result: Result<InstallReport, TargetError>,
    /// What was installed there when it was made for it (`--login`), for scrubbing
    /// output and for the per-target summary.
    pub auth: Option<AuthFile>,
}

impl TargetResult {
    /// Whether the place counts as done for the exit code: a skipped place is not.
    pub(crate) fn done(&self) -> bool {
        matches!(&self.result, Ok(rep) if rep.outcome != Outcome::Skipped)
    }
}

impl TargetOutcome for TargetResult {
    fn lost(spec: TargetSpec) -> Self {
        TargetResult {
            spec,
            result: Err(TargetError::worker_lost()),
            auth: None,
        }
    }

    fn timed_out(spec: TargetSpec, stage: &'static str, after: Duration) -> Self {
        let consequence = match stage {
            "installing" => {
                "the target holds its old login or the new one, whole (`codex-auth status` shows which)"
            }
            _ => "nothing was changed there",
        };
        TargetResult {
            spec,
            result: Err(TargetError::timed_out(stage, after, consequence)),
            auth: None,
        }
    }

    fn summary(&self) -> (bool, String) {
        match &self.result {
            Ok(r) => (true, r.outcome.as_str().to_string()),
            Err(e) => (false, e.message.clone()),
        }
    }
}

/// What every install of one push shares.
pub(crate) struct Plan {
    pub force: bool,
    pub dry_run: bool,
    pub codex_version: bool,
    pub lock_wait: Duration,
}

/// A connection lost while it was made changed nothing.
pub(crate) fn nothing_changed(mut e: TargetError) -> TargetError {
    if e.class == ErrorClass::Disconnected {
        e.message.push_str(": nothing was changed there");
    }
    e
}

/// Install `auth` at `target`, with `expect` as its precondition.
pub(crate) async fn install(
    plan: &Plan,
    codex_home: Option<&str>,
    target: &dyn Target,
    auth: &AuthFile,
    expect: Option<Expect>,
    progress: &Progress,
) -> Result<InstallReport, TargetError> {
    progress.stage(if plan.dry_run {
        "checking"
    } else {
        "installing"
    });
    let req = InstallRequest {
        auth,
        codex_home,
        force: plan.force,
        dry_run: plan.dry_run,
        codex_version: plan.codex_version,
        lock_wait: plan.lock_wait,
        expect,
    };
    // An error may quote what the target printed; it is shown in progress lines too,
    // before any renderer sees it, so it leaves here without this login's secrets.
    target.install(&req).await.map_err(|mut e| {
        e.message = auth.scrub(&e.message);
        e
    })
}

/// Where else the ledger has seen this ChatGPT session, said before the guard decides;
/// `except` names more places that do not count (the source of a move).
pub(crate) fn say_where_else(auth: &AuthFile, places: &[TargetSpec], except: &[String], run: &Run) {
    if !auth.is_rotating_session() {
        return;
    }
    let Some(l) = Ledger::open() else { return };
    let (entries, _) = l.entries();
    let mut skip: Vec<String> = places.iter().map(TargetSpec::display).collect();
    skip.extend_from_slice(except);
    let others: Vec<String> = ledger::holders(&entries, &ledger::session_key(auth), &skip)
        .into_iter()
        .map(ledger::describe)
        .collect();
    if !others.is_empty() {
        run.sink.note(&format!(
            "note: this ChatGPT session is also on {}",
            others.join(", ")
        ));
    }
}

/// What the ledger learns from a push: each place done holds its login.
pub(crate) fn remember(
    results: &[TargetResult],
    shared: Option<&AuthFile>,
    by: &'static str,
) -> Vec<Change> {
    results
        .iter()
        .filter_map(|r| {
            let rep = r.result.as_ref().ok()?;
            if !matches!(rep.outcome, Outcome::Installed | Outcome::Unchanged) {
                return None;
            }
            let auth = r.auth.as_ref().or(shared)?;
            Some(Change::holds(
                &r.spec,
                format!("{} {}", rep.user, rep.path),
                auth,
                by,
            ))
        })
        .collect()
}
