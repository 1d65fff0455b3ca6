//! `logout`: take the login off the named places only (this machine, targets), never
//! signing out any other place; with `--revoke`, also end each ChatGPT session removed
//! at its issuer, once per session, after naming every other place known to hold it
//! (those are signed out too). API keys and access tokens are removed, never revoked.

use std::time::Duration;

use super::{fan_out, Run, TargetOutcome};
use crate::auth::{AuthFile, AuthSummary};
use crate::error::AppError;
use crate::ledger::Change;
use crate::login::Issuer;
use crate::targets::{
    Fingerprint, RemoveOutcome, RemoveRequest, Selection, TargetError, TargetSpec,
};

/// A validated logout (from `cli`).
pub(crate) struct LogoutOptions {
    /// The places, this machine first when it is one of them (the default when no
    /// target is named).
    pub places: Selection,
    pub codex_home: Option<String>,
    pub keep_backup: bool,
    pub dry_run: bool,
    /// Revoke the sessions removed; the issuer for logins that do not name theirs.
    pub revoke: Option<Issuer>,
    pub jobs: usize,
    pub codex_version: bool,
    pub lock_wait: Duration,
    pub target_timeout: Duration,
}

/// What one place's logout did.
pub(crate) struct LoggedOut {
    pub outcome: RemoveOutcome,
    /// The auth.json path, or the keyring entry (this machine).
    pub path: String,
    /// The login that was there (read just before it was removed), when it was sent
    /// here: to revoke it, or because it was here (this machine).
    pub login: Option<AuthFile>,
    /// What was removed, by its sha256 (every place that can compute one says it).
    pub removed: Option<Fingerprint>,
    /// What can be said of it: from the login, else from the ledger entry that remembers
    /// those bytes.
    pub known_as: Option<AuthSummary>,
    pub backup: Option<String>,
    /// What Codex there says now.
    pub codex_status: Option<String>,
    pub notes: Vec<String>,
}

pub(crate) struct PlaceLogout {
    pub spec: TargetSpec,
    pub result: Result<LoggedOut, TargetError>,
}

impl TargetOutcome for PlaceLogout {
    fn lost(spec: TargetSpec) -> Self {
        PlaceLogout {
            spec,
            result: Err(TargetError::worker_lost()),
        }
    }

    fn timed_out(spec: TargetSpec, stage: &'static str, after: Duration) -> Self {
        let consequence = match stage {
            "removing" => "the login may be there or gone (`codex-auth status` shows which)",
            _ => "nothing was changed there",
        };
        PlaceLogout {
            spec,
            result: Err(TargetError::timed_out(stage, after, consequence)),
        }
    }

    fn summary(&self) -> (bool, String) {
        match &self.result {
            Ok(r) => (true, r.outcome.as_str().to_string()),
            Err(e) => (false, e.message.clone()),
        }
    }
}

/// One ChatGPT session ended at its issuer (or that would be, on a dry run).
pub(crate) struct Revocation {
    /// Who it belonged to, in words with no secret.
    pub account: String,
    /// The places of this run it was removed from.
    pub removed_from: Vec<String>,
    /// Other places known to hold it (seen in this run, or remembered by the ledger):
    /// signed out by the revocation too.
    pub also_signed_out: Vec<String>,
    pub issuer: String,
    /// `None` on a dry run.
    pub result: Option<Result<(), String>>,
}

pub(crate) struct LogoutResults {
    pub places: Vec<PlaceLogout>,
    pub revocations: Vec<Revocation>,
    /// Logins removed that cannot be revoked here (API keys, access tokens).
    pub not_revocable: Vec<String>,
    pub dry_run: bool,
    /// What the ledger learns: the places logged out hold nothing now.
    pub ledger: Vec<Change>,
}

impl LogoutResults {
    pub(crate) fn all_done(&self) -> bool {
        self.places.iter().all(|p| p.result.is_ok())
            && self
                .revocations
                .iter()
                .all(|r| !matches!(r.result, Some(Err(_))))
    }
}

/// Log out every place, then revoke what `--revoke` asks for; before each revocation,
/// the places it signs out are named (as a warning: it always shows).
pub(crate) async fn run(opts: LogoutOptions, run: &Run) -> Result<LogoutResults, AppError> {
    let places = opts.places.resolve(&run.ctx).await?;
    let opts = std::sync::Arc::new(opts);
    let (o, ctx) = (opts.clone(), run.ctx.clone());
    let places = fan_out(
        &places,
        opts.jobs,
        opts.target_timeout + opts.lock_wait,
        run.sink.clone(),
        move |spec, progress| {
            let (opts, ctx) = (o.clone(), ctx.clone());
            async move {
                progress.stage("connecting");
                let result = async {
                    let target = spec
                        .connect(&ctx)
                        .await
                        .map_err(super::install::nothing_changed)?;
                    progress.stage("removing");
                    let removed = target
                        .remove(&RemoveRequest {
                            codex_home: opts.codex_home.as_deref(),
                            keep_backup: opts.keep_backup,
                            dry_run: opts.dry_run,
                            lock_wait: opts.lock_wait,
                            codex_version: opts.codex_version,
                            expect: None,
                            // The login itself travels only to be revoked.
                            send_login: opts.revoke.is_some(),
                        })
                        .await;
                    target.close().await;
                    let rep = removed?;
                    // What the place took away (a script sends it back), exactly that.
                    let login = rep
                        .removed
                        .as_ref()
                        .and_then(|c| AuthFile::parse(c.expose()).ok());
                    let mut notes = rep.notes;
                    if rep.credential_store.may_ignore_file()
                        && rep.outcome != RemoveOutcome::WouldRemove
                        && rep
                            .codex
                            .as_ref()
                            .is_some_and(|c| c.verdict == crate::auth::verdict::Verdict::Accepted)
                    {
                        notes.push(format!(
                            "Codex there still has a login: it keeps it in the OS keyring there (cli_auth_credentials_store = \"{}\"); run `codex logout` there to remove it",
                            rep.credential_store
                        ));
                    }
                    let gone = rep.outcome != RemoveOutcome::Absent;
                    let login = login.filter(|_| gone);
                    let removed = rep.removed_sum.filter(|_| gone);
                    let known_as = login.as_ref().map(|l| l.summary.clone());
                    Ok(LoggedOut {
                        outcome: rep.outcome,
                        path: rep.path,
                        login,
                        removed,
                        known_as,
                        backup: rep.backup,
                        codex_status: rep.codex_status,
                        notes,
                    })
                }
                .await;
                PlaceLogout { spec, result }
            }
        },
    )
    .await;
    let mut places = places;
    name_what_went(&mut places);
    let (revocations, not_revocable) = match &opts.revoke {
        Some(fallback) => revoke(&opts, fallback, &places, run).await,
        None => (Vec::new(), Vec::new()),
    };
    let ledger = if opts.dry_run {
        Vec::new()
    } else {
        places
            .iter()
            .filter(|p| {
                matches!(&p.result, Ok(o) if matches!(o.outcome, RemoveOutcome::Removed | RemoveOutcome::Absent))
            })
            .map(|p| Change::empty(&p.spec))
            .collect()
    };
    Ok(LogoutResults {
        places,
        revocations,
        not_revocable,
        dry_run: opts.dry_run,
        ledger,
    })
}

/// What a place removed, when only its fingerprint came back: the account the ledger
/// remembers for those bytes (a login this machine pushed or saw there).
fn name_what_went(places: &mut [PlaceLogout]) {
    let unnamed =
        |p: &PlaceLogout| matches!(&p.result, Ok(o) if o.known_as.is_none() && o.removed.is_some());
    if !places.iter().any(unnamed) {
        return;
    }
    let known = crate::ledger::Ledger::open()
        .map(|l| l.entries().0)
        .unwrap_or_default();
    for p in places.iter_mut() {
        let place = p.spec.display();
        if let Ok(o) = &mut p.result {
            if let (None, Some(sum)) = (&o.known_as, &o.removed) {
                o.known_as = crate::ledger::with_content(&known, &place, sum.as_str())
                    .and_then(|e| e.summary.clone());
            }
        }
    }
}

/// Revoke every ChatGPT session removed in this run, once each.
async fn revoke(
    opts: &LogoutOptions,
    fallback: &Issuer,
    places: &[PlaceLogout],
    run: &Run,
) -> (Vec<Revocation>, Vec<String>) {
    let mut revocations: Vec<(String, AuthFile, Vec<String>)> = Vec::new();
    let mut not_revocable = Vec::new();
    let run_places: Vec<String> = places.iter().map(|p| p.spec.display()).collect();
    for p in places {
        let Ok(out) = &p.result else { continue };
        let Some(login) = &out.login else { continue };
        match &login.session_id {
            Some(session) => match revocations.iter_mut().find(|(s, ..)| s == session) {
                Some((_, _, from)) => from.push(p.spec.display()),
                None => revocations.push((session.clone(), login.clone(), vec![p.spec.display()])),
            },
            None => not_revocable.push(format!(
                "{}: {}",
                p.spec.display(),
                crate::auth::local::describe_account(login)
            )),
        }
    }
    let known = crate::ledger::Ledger::open()
        .map(|l| l.entries().0)
        .unwrap_or_default();
    // This machine's own login, when it is not part of the logout: it may be a copy.
    let here = TargetSpec::this_machine();
    let local_copy = if run_places.contains(&here.display()) {
        None
    } else {
        crate::targets::this_machines_login()
    };
    let mut out = Vec::new();
    for (session, login, removed_from) in revocations {
        let mut also: Vec<String> = Vec::new();
        if local_copy
            .as_ref()
            .is_some_and(|l| l.session_id.as_deref() == Some(&session))
        {
            also.push(format!("{} (this machine's own login)", here.display()));
        }
        for p in places {
            if let Ok(o) = &p.result {
                let same = o
                    .login
                    .as_ref()
                    .is_some_and(|l| l.session_id.as_deref() == Some(&session));
                if same && !removed_from.contains(&p.spec.display()) {
                    also.push(p.spec.display());
                }
            }
        }
        for e in crate::ledger::holders(&known, &session, &run_places) {
            let named = crate::ledger::describe(e);
            if !also.iter().any(|a| a.starts_with(&e.place)) {
                also.push(format!("{named}, remembered"));
            }
        }
        // Only the issuer this machine trusts (the default, or --issuer) receives the
        // token: a target's file naming another one is reported, not obeyed.
        let (prov_issuer, prov_client) = login.provenance();
        let named = prov_issuer.map(|b| b.trim_end_matches('/').to_string());
        let foreign = named.as_ref().filter(|b| **b != fallback.base).cloned();
        let issuer = Issuer {
            base: fallback.base.clone(),
            client_id: match foreign {
                None => prov_client.unwrap_or_else(|| fallback.client_id.clone()),
                Some(_) => fallback.client_id.clone(),
            },
        };
        let account = crate::auth::local::describe_account(&login);
        let signs_out = if also.is_empty() {
            "no other place is known to hold it".to_string()
        } else {
            format!("this also signs out {}", also.join(", "))
        };
        if foreign.is_none() {
            run.sink.warn(&format!(
                "{} the ChatGPT session of {account} at {}: {signs_out}",
                if opts.dry_run {
                    "would revoke"
                } else {
                    "revoking"
                },
                issuer.base
            ));
        }
        let result = if let Some(other) = &foreign {
            Some(Err(format!(
                "not revoked: the login names another issuer ({other}) than {}; the session may still be alive (if you trust that issuer, run again with --issuer {other})",
                issuer.base
            )))
        } else if opts.dry_run {
            None
        } else {
            let r = match login.refresh_token() {
                Some(token) => crate::login::revoke_refresh_token(&issuer, &token)
                    .await
                    .map_err(|e| login.scrub(&e.to_string())),
                None => Err("the login has no refresh token to revoke".into()),
            };
            Some(r)
        };
        out.push(Revocation {
            account,
            removed_from,
            also_signed_out: also,
            issuer: issuer.base,
            result,
        });
    }
    (out, not_revocable)
}
