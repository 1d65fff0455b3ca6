//! `logout`: take the login off the named places only (this machine, targets), never
//! signing out any other place; with `--revoke`, also end each ChatGPT session removed
//! at its issuer, once per session, after naming every other place known to hold it
//! (those are signed out too). API keys and access tokens are removed, never revoked.

use std::sync::Arc;
use std::time::Duration;

use super::{fan_out, ProgressSink, TargetOutcome};
use crate::auth::local::{self, LocalHome, LocalPlace, LocalRead};
use crate::auth::AuthFile;
use crate::login::Issuer;
use crate::targets::{
    ConnectContext, ErrorClass, RemoveOutcome, RemoveRequest, TargetError, TargetSpec,
};

pub(crate) struct LogoutPlan {
    pub targets: Vec<TargetSpec>,
    /// This machine too (the default when no target is named).
    pub local: bool,
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
    /// The login that was there (read just before it was removed).
    pub login: Option<AuthFile>,
    pub backup: Option<String>,
    /// What Codex there says now.
    pub codex_status: Option<String>,
    pub notes: Vec<String>,
}

pub(crate) struct PlaceLogout {
    /// `None` for this machine.
    pub spec: Option<TargetSpec>,
    pub result: Result<LoggedOut, TargetError>,
}

impl PlaceLogout {
    /// The place as the ledger and the reports name it.
    pub(crate) fn display(&self) -> String {
        self.spec
            .as_ref()
            .map_or_else(|| "local".to_string(), TargetSpec::display)
    }
}

impl TargetOutcome for PlaceLogout {
    fn lost(spec: TargetSpec) -> Self {
        PlaceLogout {
            spec: Some(spec),
            result: Err(TargetError::worker_lost()),
        }
    }

    fn timed_out(spec: TargetSpec, stage: &'static str, after: Duration) -> Self {
        let consequence = match stage {
            "removing" => "the login may be there or gone (`codex-auth status` shows which)",
            _ => "nothing was changed there",
        };
        PlaceLogout {
            spec: Some(spec),
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

/// Log out every place of the plan, then revoke what `--revoke` asks for. `announce`
/// is told, before each revocation, which places it signs out.
pub(crate) async fn logout(
    plan: LogoutPlan,
    ctx: ConnectContext,
    sink: Arc<dyn ProgressSink>,
    announce: &(dyn Fn(&str) + Send + Sync),
) -> LogoutResults {
    let plan = Arc::new(plan);
    let mut places = Vec::new();
    if plan.local {
        places.push(PlaceLogout {
            spec: None,
            result: logout_local(&plan),
        });
    }
    let p = plan.clone();
    let remote = fan_out(
        &plan.targets,
        plan.jobs,
        plan.target_timeout + plan.lock_wait,
        sink,
        move |spec, progress| {
            let (plan, ctx) = (p.clone(), ctx.clone());
            async move {
                progress.stage("connecting");
                let result = async {
                    let target = spec.connect(&ctx).await.map_err(|mut e| {
                        if e.class == ErrorClass::Disconnected {
                            e.message.push_str(": nothing was changed there");
                        }
                        e
                    })?;
                    progress.stage("removing");
                    let removed = target
                        .remove(&RemoveRequest {
                            codex_home: plan.codex_home.as_deref(),
                            keep_backup: plan.keep_backup,
                            dry_run: plan.dry_run,
                            lock_wait: plan.lock_wait,
                            codex_version: plan.codex_version,
                            expect: None,
                        })
                        .await;
                    target.close().await;
                    let rep = removed?;
                    // What the script took away (it sends it back), exactly that.
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
                    Ok(LoggedOut {
                        outcome: rep.outcome,
                        path: rep.path,
                        login: login.filter(|_| rep.outcome != RemoveOutcome::Absent),
                        backup: rep.backup,
                        codex_status: rep.codex_status,
                        notes,
                    })
                }
                .await;
                PlaceLogout {
                    spec: Some(spec),
                    result,
                }
            }
        },
    )
    .await;
    places.extend(remote);
    let (revocations, not_revocable) = match &plan.revoke {
        Some(fallback) => revoke(&plan, fallback, &places, announce).await,
        None => (Vec::new(), Vec::new()),
    };
    LogoutResults {
        places,
        revocations,
        not_revocable,
    }
}

fn logout_local(plan: &LogoutPlan) -> Result<LoggedOut, TargetError> {
    let home = LocalHome::resolve().ok_or_else(|| {
        TargetError::new(
            ErrorClass::NoHome,
            "cannot find the home directory",
            Some("set CODEX_HOME"),
        )
    })?;
    let keyring_error = |e: crate::auth::os_keyring::KeyringError| {
        TargetError::new(
            ErrorClass::Keyring,
            format!("config.toml sets cli_auth_credentials_store = \"keyring\", and {e}"),
            Some(e.hint()),
        )
    };
    let login = match local::read_login(&home) {
        Ok(LocalRead::Found { bytes, place, .. }) => match place {
            LocalPlace::Keyring { .. } => {
                AuthFile::from_keyring_value(&String::from_utf8_lossy(bytes.expose())).ok()
            }
            LocalPlace::File(_) => AuthFile::parse(bytes.expose()).ok(),
        },
        Ok(LocalRead::Missing(_)) => None,
        Err(local::LocalReadError::Keyring(e)) => return Err(keyring_error(e)),
        Err(e) => return Err(TargetError::new(ErrorClass::Io, e.to_string(), None)),
    };
    let removed = local::remove_login(&home, plan.keep_backup, plan.dry_run, plan.lock_wait)
        .map_err(|e| match e {
            local::LocalWriteError::Keyring(k) => keyring_error(k),
            local::LocalWriteError::Busy { .. } => {
                TargetError::new(ErrorClass::Busy, e.to_string(), None)
            }
            other => TargetError::new(ErrorClass::Io, other.to_string(), None),
        })?;
    let outcome = match (removed.places.is_empty(), plan.dry_run) {
        (true, _) => RemoveOutcome::Absent,
        (false, true) => RemoveOutcome::WouldRemove,
        (false, false) => RemoveOutcome::Removed,
    };
    let path = removed
        .places
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" and ");
    let mut notes = Vec::new();
    if home.store() == crate::auth::store::CredentialStore::Ephemeral {
        notes.push(
            "Codex here keeps its login in memory only (ephemeral): nothing is stored to remove"
                .into(),
        );
    }
    Ok(LoggedOut {
        outcome,
        path: if path.is_empty() {
            home.auth_path().display().to_string()
        } else {
            path
        },
        login: login.filter(|_| outcome != RemoveOutcome::Absent),
        backup: removed.backup.map(|b| b.display().to_string()),
        codex_status: None,
        notes,
    })
}

/// Revoke every ChatGPT session removed in this run, once each.
async fn revoke(
    plan: &LogoutPlan,
    fallback: &Issuer,
    places: &[PlaceLogout],
    announce: &(dyn Fn(&str) + Send + Sync),
) -> (Vec<Revocation>, Vec<String>) {
    let mut revocations: Vec<(String, AuthFile, Vec<String>)> = Vec::new();
    let mut not_revocable = Vec::new();
    let run_places: Vec<String> = places.iter().map(PlaceLogout::display).collect();
    for p in places {
        let Ok(out) = &p.result else { continue };
        let Some(login) = &out.login else { continue };
        match &login.session_id {
            Some(session) => match revocations.iter_mut().find(|(s, ..)| s == session) {
                Some((_, _, from)) => from.push(p.display()),
                None => revocations.push((session.clone(), login.clone(), vec![p.display()])),
            },
            None => not_revocable.push(format!(
                "{}: {}",
                p.display(),
                crate::auth::local::describe_account(login)
            )),
        }
    }
    let known = crate::ledger::Ledger::open()
        .map(|l| l.entries().0)
        .unwrap_or_default();
    // This machine's own login, when it is not part of the logout: it may be a copy.
    let local_copy = if plan.local {
        None
    } else {
        crate::auth::source::local_login().ok().map(|l| l.auth)
    };
    let mut out = Vec::new();
    for (session, login, removed_from) in revocations {
        let mut also: Vec<String> = Vec::new();
        if local_copy
            .as_ref()
            .is_some_and(|l| l.session_id.as_deref() == Some(&session))
        {
            also.push("local (this machine's own login)".into());
        }
        for p in places {
            if let Ok(o) = &p.result {
                let same = o
                    .login
                    .as_ref()
                    .is_some_and(|l| l.session_id.as_deref() == Some(&session));
                if same && !removed_from.contains(&p.display()) {
                    also.push(p.display());
                }
            }
        }
        for e in crate::ledger::holders(&known, &session, &run_places) {
            let named = crate::ledger::describe(e);
            if !also.iter().any(|a| a.starts_with(&e.place)) {
                also.push(format!("{named}, remembered"));
            }
        }
        let (prov_issuer, prov_client) = login.provenance();
        let issuer = Issuer {
            base: prov_issuer
                .map(|b| b.trim_end_matches('/').to_string())
                .unwrap_or_else(|| fallback.base.clone()),
            client_id: prov_client.unwrap_or_else(|| fallback.client_id.clone()),
        };
        let account = crate::auth::local::describe_account(&login);
        let signs_out = if also.is_empty() {
            "no other place is known to hold it".to_string()
        } else {
            format!("this also signs out {}", also.join(", "))
        };
        announce(&format!(
            "{} the ChatGPT session of {account} at {}: {signs_out}",
            if plan.dry_run {
                "would revoke"
            } else {
                "revoking"
            },
            issuer.base
        ));
        let result = if plan.dry_run {
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
