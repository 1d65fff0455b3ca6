//! `status`: what login is installed where (this machine first, then the targets, and
//! with `--known` every place the ledger remembers), read-only, and which places share
//! one ChatGPT session (a refresh on one signs the others out); what the ledger learns
//! from it; `--forget`.

use std::time::Duration;

use super::{fan_out, Run, TargetOutcome};
use crate::auth::AuthFile;
use crate::error::AppError;
use crate::ledger::{self, Change, Ledger};
use crate::targets::{FileKind, InspectReport, InspectRequest, Selection, TargetError, TargetSpec};

/// A validated status (from `cli`).
pub(crate) struct StatusOptions {
    pub places: Selection,
    /// Also every place the ledger remembers.
    pub known: bool,
    pub codex_home: Option<String>,
    pub jobs: usize,
    /// Report which Codex version judged each place (`-v`, `--json`).
    pub codex_version: bool,
    /// How long one place may take (`--target-timeout`).
    pub target_timeout: Duration,
}

/// The login a place holds.
#[derive(Debug)]
pub(crate) enum LoginState {
    NotLoggedIn,
    /// There is a file, but Codex could not use it (the reason, one line).
    Invalid(String),
    LoggedIn(Box<AuthFile>),
}

#[derive(Debug)]
pub(crate) struct PlaceStatus {
    pub report: InspectReport,
    pub state: LoginState,
    /// Other places (by display name) holding the same ChatGPT session.
    pub shared_with: Vec<String>,
    /// Why Codex there refuses the login it holds (its config.toml's forced settings).
    pub refused: Option<String>,
    /// This copy's session was refreshed at another place (named): its refresh token
    /// was used there, so this copy is signed out.
    pub stale: Option<String>,
}

impl PlaceStatus {
    /// The login held there, if any.
    pub(crate) fn login(&self) -> Option<&AuthFile> {
        match &self.state {
            LoginState::LoggedIn(a) => Some(a),
            _ => None,
        }
    }
}

pub(crate) struct PlaceResult {
    pub spec: TargetSpec,
    pub result: Result<PlaceStatus, TargetError>,
}

/// What a status run saw, and what the ledger learns from it.
pub(crate) struct StatusResults {
    pub places: Vec<PlaceResult>,
    /// The ChatGPT sign-ins held at more than one place, or as access-only copies.
    pub sessions: Vec<SessionView>,
    pub ledger: Vec<Change>,
    /// Logins lent by `run`s of this machine that still run.
    pub leases: Vec<ledger::LeaseEntry>,
}

/// An access-only copy of a sign-in.
#[derive(Debug, serde::Serialize)]
pub(crate) struct AccessOnlyCopy {
    pub place: String,
    /// Unix time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_expires: Option<i64>,
}

/// One sign-in across the places read: where its newest copy is, which copies are
/// behind, the access-only copies and their expiry, and when `sync` last ran on it.
#[derive(Debug, serde::Serialize)]
pub(crate) struct SessionView {
    pub account: String,
    /// The place holding the newest full copy (or the newest copy).
    pub newest: String,
    /// Places holding a full copy (the refresh token).
    pub full: Vec<String>,
    /// Access-only places, with their access token's expiry.
    pub access_only: Vec<AccessOnlyCopy>,
    /// Places whose copy is older than the newest.
    pub behind: Vec<String>,
    /// When a sync last wrote or checked this sign-in (unix time, from the ledger).
    pub last_sync: Option<i64>,
}

impl StatusResults {
    pub(crate) fn all_read(&self) -> bool {
        self.places.iter().all(|p| p.result.is_ok())
    }
}

impl TargetOutcome for PlaceResult {
    fn lost(spec: TargetSpec) -> Self {
        PlaceResult {
            spec,
            result: Err(TargetError::worker_lost()),
        }
    }

    fn timed_out(spec: TargetSpec, stage: &'static str, after: Duration) -> Self {
        PlaceResult {
            spec,
            result: Err(TargetError::timed_out(
                stage,
                after,
                "reading changes nothing",
            )),
        }
    }

    fn summary(&self) -> (bool, String) {
        match &self.result {
            Ok(p) => (true, describe(&p.state)),
            Err(e) => (false, e.message.clone()),
        }
    }
}

/// Read every place (this machine first), mark shared and stale sessions and, with
/// `--known`, the places that no longer hold what the ledger recorded.
pub(crate) async fn run(opts: StatusOptions, run: &Run) -> Result<StatusResults, AppError> {
    let mut places = opts.places.resolve(&run.ctx).await?;
    let ledger = Ledger::open();
    let (known, damaged) = ledger.as_ref().map(Ledger::entries).unwrap_or_default();
    if let Some(w) = damaged {
        run.sink.warn(&w);
    }
    if opts.known {
        for entry in &known {
            let Some(spec) = entry.target() else { continue };
            if !places.iter().any(|t| t.display() == spec.display()) {
                places.push(spec);
            }
        }
    }
    let codex_home = std::sync::Arc::new(opts.codex_home.clone());
    let codex_version = opts.codex_version;
    let ctx = run.ctx.clone();
    let mut results = fan_out(
        &places,
        opts.jobs,
        opts.target_timeout,
        run.sink.clone(),
        move |spec, progress| {
            let (ctx, codex_home) = (ctx.clone(), codex_home.clone());
            async move {
                progress.stage("connecting");
                let result = async {
                    let target = spec.connect(&ctx).await?;
                    progress.stage("reading");
                    let req = InspectRequest {
                        judge: true,
                        codex_home: codex_home.as_deref(),
                        codex_version,
                        digest_only: false,
                    };
                    let r = target.inspect(&req).await;
                    target.close().await;
                    r.map(decode)
                }
                .await;
                PlaceResult { spec, result }
            }
        },
    )
    .await;
    mark_shared(&mut results);
    mark_stale(&mut results);
    if opts.known {
        mark_known(&mut results, &known);
    }
    let ledger = changes(&results);
    let sessions = sessions(&results, &known);
    let leases = Ledger::open().map(|l| l.live_leases()).unwrap_or_default();
    Ok(StatusResults {
        places: results,
        sessions,
        ledger,
        leases,
    })
}

/// `--forget PLACE`: drop one place from the ledger; whether it was there.
pub(crate) fn forget(place: &str) -> Result<(bool, std::path::PathBuf), AppError> {
    let ledger = Ledger::open()
        .ok_or_else(|| AppError::usage("no state directory for the ledger", Some("set HOME")))?;
    match ledger.forget(place) {
        Ok(known) => Ok((known, ledger.path().to_path_buf())),
        Err(w) => Err(AppError::failed(w, None)),
    }
}

/// What a status run teaches the ledger: who holds what now, who holds nothing.
fn changes(places: &[PlaceResult]) -> Vec<Change> {
    places
        .iter()
        .filter_map(|p| {
            let st = p.result.as_ref().ok()?;
            Some(match &st.state {
                LoginState::LoggedIn(a) => Change::holds(
                    &p.spec,
                    format!("{} {}", st.report.location.user, st.report.path()),
                    a,
                    "status",
                ),
                LoginState::NotLoggedIn => Change::empty(&p.spec),
                LoginState::Invalid(_) => return None,
            })
        })
        .collect()
}

/// Note, at every remembered place, whether it still holds what the ledger recorded.
fn mark_known(places: &mut [PlaceResult], known: &[ledger::Entry]) {
    for p in places.iter_mut() {
        let name = p.spec.display();
        let Some(entry) = known.iter().find(|e| e.place == name) else {
            continue;
        };
        let Ok(st) = &mut p.result else { continue };
        let now = st.login().map(ledger::session_key);
        let note = match now {
            Some(key) if key == entry.session => continue,
            Some(_) => format!(
                "LEDGER: holds another login than the {} login it had ({})",
                entry.kind,
                ledger::describe(entry)
            ),
            None => format!(
                "LEDGER: no longer holds the {} login it had ({})",
                entry.kind,
                ledger::describe(entry)
            ),
        };
        st.report.notes.push(note);
    }
}

fn decode(report: InspectReport) -> PlaceStatus {
    let state = match (&report.content, report.kind) {
        (Some(bytes), _) => match AuthFile::parse(bytes.expose()) {
            Ok(a) => LoginState::LoggedIn(Box::new(a)),
            Err(e) => LoginState::Invalid(e.to_string()),
        },
        (None, FileKind::None) => LoginState::NotLoggedIn,
        (None, _) if report.unreadable => {
            LoginState::Invalid("auth.json is not readable by the login user".into())
        }
        (None, kind) => LoginState::Invalid(format!(
            "auth.json is a {}, not a file",
            serde_json::to_value(kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        )),
    };
    let refused = match &state {
        LoginState::LoggedIn(a) => report.forced.refuses(a),
        _ => None,
    };
    PlaceStatus {
        report,
        state,
        shared_with: Vec::new(),
        refused,
        stale: None,
    }
}

fn describe(state: &LoginState) -> String {
    match state {
        LoginState::NotLoggedIn => "not logged in".into(),
        LoginState::Invalid(r) => format!("invalid: {r}"),
        LoginState::LoggedIn(a) => a.summary.mode.clone(),
    }
}

/// Mark copies of one sign-in whose session was refreshed elsewhere: same lineage
/// (`login_owner_id`, which refreshes keep), another refresh token, an older
/// `last_refresh`. The copy refreshed last is the live one.
fn mark_stale(places: &mut [PlaceResult]) {
    /// A copy's lineage, session and last refresh.
    type Copy = (String, String, String);
    let seen: Vec<(String, Option<Copy>)> = places
        .iter()
        .map(|p| {
            let key = p
                .result
                .as_ref()
                .ok()
                .and_then(PlaceStatus::login)
                .and_then(|a| {
                    Some((
                        a.lineage.clone()?,
                        a.session_id.clone()?,
                        a.summary.last_refresh.clone().unwrap_or_default(),
                    ))
                });
            (p.spec.display(), key)
        })
        .collect();
    for (i, p) in places.iter_mut().enumerate() {
        let Some((lineage, session, refreshed)) = &seen[i].1 else {
            continue;
        };
        let newer = seen
            .iter()
            .filter_map(|(name, k)| k.as_ref().map(|k| (name, k)))
            .filter(|(_, (l, s, r))| l == lineage && s != session && r > refreshed)
            .max_by(|a, b| a.1 .2.cmp(&b.1 .2));
        if let (Some((name, _)), Ok(status)) = (newer, &mut p.result) {
            status.stale = Some(name.clone());
        }
    }
}

/// The sign-ins held at several places, or as access-only copies.
fn sessions(places: &[PlaceResult], known: &[ledger::Entry]) -> Vec<SessionView> {
    let copies: Vec<(String, &AuthFile)> = places
        .iter()
        .filter_map(|p| {
            let a = p.result.as_ref().ok()?.login()?;
            (a.mode == crate::auth::AuthMode::ChatGpt).then(|| (p.spec.display(), a))
        })
        .collect();
    // One group per sign-in: by lineage, else by refresh token.
    let key = |a: &AuthFile| a.lineage.clone().or_else(|| a.session_id.clone());
    let mut keys: Vec<String> = Vec::new();
    for (_, a) in &copies {
        if let Some(k) = key(a) {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    let mut out = Vec::new();
    for k in keys {
        let group: Vec<&(String, &AuthFile)> = copies
            .iter()
            .filter(|(_, a)| key(a).as_deref() == Some(k.as_str()))
            .collect();
        let any_access_only = group.iter().any(|(_, a)| a.summary.access_only);
        if group.len() < 2 && !any_access_only {
            continue;
        }
        // (Reversed: of equal copies, the first place read, this machine first.)
        let Some((newest_at, newest)) = group
            .iter()
            .rev()
            .filter(|(_, a)| !a.summary.access_only)
            .max_by_key(|(_, a)| a.generation())
            .or_else(|| group.iter().rev().max_by_key(|(_, a)| a.generation()))
            .map(|c| (c.0.clone(), c.1))
        else {
            continue;
        };
        let last_sync = known
            .iter()
            .filter(|e| e.by == "sync" && e.lineage.as_deref() == newest.lineage.as_deref())
            .filter(|e| e.lineage.is_some())
            .map(|e| e.at)
            .max();
        out.push(SessionView {
            account: crate::auth::local::describe_account(newest),
            newest: newest_at,
            full: group
                .iter()
                .filter(|(_, a)| !a.summary.access_only)
                .map(|(p, _)| p.clone())
                .collect(),
            access_only: group
                .iter()
                .filter(|(_, a)| a.summary.access_only)
                .map(|(p, a)| AccessOnlyCopy {
                    place: p.clone(),
                    access_expires: a.summary.access_expires,
                })
                .collect(),
            behind: group
                .iter()
                .filter(|(_, a)| a.generation() < newest.generation())
                .map(|(p, _)| p.clone())
                .collect(),
            last_sync,
        });
    }
    out
}

/// Fill `shared_with` from equal refresh-token hashes (the hash itself is never shown).
fn mark_shared(places: &mut [PlaceResult]) {
    let ids: Vec<(String, Option<String>)> = places
        .iter()
        .map(|p| {
            let id = p
                .result
                .as_ref()
                .ok()
                .and_then(PlaceStatus::login)
                .and_then(|a| a.session_id.clone());
            (p.spec.display(), id)
        })
        .collect();
    for (i, p) in places.iter_mut().enumerate() {
        let Some(mine) = &ids[i].1 else { continue };
        if let Ok(status) = &mut p.result {
            status.shared_with = ids
                .iter()
                .enumerate()
                .filter(|(j, (_, id))| *j != i && id.as_ref() == Some(mine))
                .map(|(_, (name, _))| name.clone())
                .collect();
        }
    }
}
