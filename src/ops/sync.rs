//! `sync`: keep one ChatGPT sign-in alive on every place that holds it. This machine is
//! the hub: every copy of its session is read (the places named, else every place the
//! ledger says holds it), the newest becomes this machine's (never an older one over a
//! newer one), it is refreshed here when its access token expires within
//! `--refresh-within` (the refresh token recorded in the journal before it is sent, and
//! never sent twice), and the result is written to every place behind it with the
//! compare-and-swap precondition; a place that changed meanwhile is read again (three
//! rounds at most). Access-only copies get the new access token, never a refresh
//! token. Places holding another session, an API key or nothing are left alone.
//! Then every saved login holding another sign-in gets the same pass, the saved login
//! standing where this machine's login stood (its places from the ledger).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::{fan_out, Run, TargetOutcome};
use crate::auth::AuthFile;
use crate::error::AppError;
use crate::journal::{Ending, Journal};
use crate::ledger::{Change, Ledger};
use crate::login::{Issuer, RefreshError};
use crate::saved::SavedLogins;
use crate::targets::{
    ErrorClass, Expect, Fingerprint, InspectRequest, InstallRequest, NowHolds, Outcome, Selection,
    TargetError, TargetSpec,
};

/// A validated sync (from `cli`).
pub(crate) struct SyncOptions {
    /// The places named (this machine first); with none named, the ledger's.
    pub places: Selection,
    pub named: bool,
    pub codex_home: Option<String>,
    /// Refresh when the access token expires within this.
    pub refresh_within: Duration,
    /// The issuer this machine trusts with the refresh token.
    pub issuer: Issuer,
    pub dry_run: bool,
    pub jobs: usize,
    pub lock_wait: Duration,
    pub target_timeout: Duration,
}

/// What sync did at one place (`--json`'s `action`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Action {
    /// It holds the newest copy already.
    Current,
    /// The newest copy was written there (on a dry run: would be).
    Updated,
    /// Its copy was the newest, and this machine took it.
    Adopted,
    /// The session was refreshed here (this machine's row).
    Refreshed,
    /// It could not be read or written; the next sync tries again.
    Unreachable,
    /// Its copy and another are of the same age with different tokens: which one the
    /// issuer honours cannot be told, so neither is spread.
    Diverged,
    /// The session's newest refresh token was spent or refused: sign in again.
    NeedsSignIn,
    /// It holds another session, an API key or an access token: left alone.
    Other,
    /// It holds no login: left alone (`push` puts one there).
    Empty,
    /// A container the ledger remembered no longer exists: forgotten.
    Gone,
}

impl Action {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Action::Current => "current",
            Action::Updated => "updated",
            Action::Adopted => "adopted",
            Action::Refreshed => "refreshed",
            Action::Unreachable => "unreachable",
            Action::Diverged => "diverged",
            Action::NeedsSignIn => "needs sign-in",
            Action::Other => "left alone",
            Action::Empty => "no login",
            Action::Gone => "gone (forgotten)",
        }
    }

    /// Whether the place is up to date (or rightly left alone).
    pub(crate) fn ok(self) -> bool {
        !matches!(
            self,
            Action::Unreachable | Action::Diverged | Action::NeedsSignIn
        )
    }
}

/// One place's result.
pub(crate) struct PlaceSync {
    pub spec: TargetSpec,
    /// How the row is named when not by its place (`saved:NAME`: the saved login that
    /// stood where this machine's login stands).
    pub shown: Option<String>,
    pub action: Action,
    /// The copy it holds now (or would, on a dry run), when it is of this session.
    pub copy: Option<AuthFile>,
    pub error: Option<TargetError>,
    pub notes: Vec<String>,
}

/// The session synced, as reports show it.
pub(crate) struct SessionSync {
    pub account: String,
    /// The newest copy, now this machine's.
    pub newest: Option<AuthFile>,
    pub refreshed: bool,
    /// Why the session cannot go on (a refusal, a spent token): what to do.
    pub needs_sign_in: Option<String>,
}

pub(crate) struct SyncResults {
    pub places: Vec<PlaceSync>,
    pub session: Option<SessionSync>,
    pub dry_run: bool,
    pub ledger: Vec<Change>,
    /// The same for each saved login holding another sign-in, by name.
    pub saved: Vec<(String, SyncResults)>,
}

impl SyncResults {
    pub(crate) fn all_done(&self) -> bool {
        self.places.iter().all(|p| p.action.ok())
            && self
                .session
                .as_ref()
                .is_none_or(|s| s.needs_sign_in.is_none())
            && self.saved.iter().all(|(_, r)| r.all_done())
    }

    /// Every login seen, for scrubbing output.
    pub(crate) fn logins(&self) -> Vec<&AuthFile> {
        let mut all: Vec<&AuthFile> = self
            .places
            .iter()
            .filter_map(|p| p.copy.as_ref())
            .chain(self.session.iter().filter_map(|s| s.newest.as_ref()))
            .collect();
        for (_, r) in &self.saved {
            all.extend(r.logins());
        }
        all
    }
}

/// What one place holds, as read.
struct Read {
    spec: TargetSpec,
    /// `Err`: not reached or not read.
    held: Result<Held, TargetError>,
}

struct Held {
    /// The login there (`None`: nothing, or what Codex could not read).
    login: Option<AuthFile>,
    /// The precondition of a write there: it still holds what was read.
    expect: Option<Expect>,
    /// user and path, for the ledger.
    resolved: String,
}

impl TargetOutcome for Read {
    fn lost(spec: TargetSpec) -> Self {
        Read {
            spec,
            held: Err(TargetError::worker_lost()),
        }
    }
    fn timed_out(spec: TargetSpec, stage: &'static str, after: Duration) -> Self {
        Read {
            spec,
            held: Err(TargetError::timed_out(
                stage,
                after,
                "nothing was changed there",
            )),
        }
    }
    fn summary(&self) -> (bool, String) {
        match &self.held {
            Ok(_) => (true, "read".into()),
            Err(e) => (false, e.message.clone()),
        }
    }
}

struct Wrote {
    spec: TargetSpec,
    result: Result<Outcome, TargetError>,
}

impl TargetOutcome for Wrote {
    fn lost(spec: TargetSpec) -> Self {
        Wrote {
            spec,
            result: Err(TargetError::worker_lost()),
        }
    }
    fn timed_out(spec: TargetSpec, stage: &'static str, after: Duration) -> Self {
        Wrote {
            spec,
            result: Err(TargetError::timed_out(
                stage,
                after,
                "the place holds its old copy or the new one, whole",
            )),
        }
    }
    fn summary(&self) -> (bool, String) {
        match &self.result {
            Ok(o) => (true, o.as_str().to_string()),
            Err(e) => (false, e.message.clone()),
        }
    }
}

/// Whether `copy` is a copy of the session `of` (the same sign-in, at any generation).
fn same_session(copy: &AuthFile, of: &AuthFile) -> bool {
    copy.same_sign_in(of)
}

/// A full copy (one that carries the refresh token).
fn full(a: &AuthFile) -> bool {
    a.mode == crate::auth::AuthMode::ChatGpt && !a.summary.access_only
}

/// What `place`'s copy should be when `newest` is the session's: the same kind of copy
/// it holds (full, or access-only).
fn wanted_at(held: &AuthFile, newest: &AuthFile) -> Option<AuthFile> {
    if held.summary.access_only {
        newest.access_only_copy()
    } else {
        Some(newest.clone())
    }
}

/// Read `places` (all at once).
async fn read_all(places: &[TargetSpec], opts: &Arc<SyncOptions>, run: &Run) -> Vec<Read> {
    let (o, ctx) = (opts.clone(), run.ctx.clone());
    fan_out(
        places,
        opts.jobs,
        opts.target_timeout,
        run.sink.clone(),
        move |spec, progress| {
            let (opts, ctx) = (o.clone(), ctx.clone());
            async move {
                progress.stage("connecting");
                let held = async {
                    let target = spec.connect(&ctx).await?;
                    progress.stage("reading");
                    let home = if spec.kind().remote() {
                        opts.codex_home.as_deref()
                    } else {
                        None
                    };
                    let r = target.inspect(&InspectRequest::content(home)).await;
                    target.close().await;
                    let rep = r?;
                    // A login this machine keeps in the keyring is compact JSON there;
                    // places get the file Codex would write for it, as a push sends.
                    let login = rep
                        .content
                        .as_ref()
                        .and_then(|c| match &rep.keyring_account {
                            Some(_) => {
                                AuthFile::from_keyring_value(&String::from_utf8_lossy(c.expose()))
                                    .ok()
                            }
                            None => AuthFile::parse(c.expose()).ok(),
                        });
                    Ok(Held {
                        expect: rep.expect_unchanged(),
                        resolved: format!("{} {}", rep.location.user, rep.path()),
                        login,
                    })
                }
                .await;
                Read { spec, held }
            }
        },
    )
    .await
}

/// Write each `(place, copy, precondition)`.
async fn write_all(
    writes: Vec<(TargetSpec, AuthFile, Option<Expect>)>,
    opts: &Arc<SyncOptions>,
    run: &Run,
) -> Vec<Wrote> {
    let specs: Vec<TargetSpec> = writes.iter().map(|w| w.0.clone()).collect();
    let writes = Arc::new(writes);
    let (o, ctx) = (opts.clone(), run.ctx.clone());
    fan_out(
        &specs,
        opts.jobs,
        opts.target_timeout + opts.lock_wait,
        run.sink.clone(),
        move |spec, progress| {
            let (opts, ctx, writes) = (o.clone(), ctx.clone(), writes.clone());
            async move {
                progress.stage("connecting");
                let result = async {
                    let Some((_, auth, expect)) =
                        writes.iter().find(|w| w.0.display() == spec.display())
                    else {
                        return Err(TargetError::worker_lost());
                    };
                    let target = spec
                        .connect(&ctx)
                        .await
                        .map_err(super::install::nothing_changed)?;
                    progress.stage("writing");
                    let home = if spec.kind().remote() {
                        opts.codex_home.as_deref()
                    } else {
                        None
                    };
                    let r = target
                        .install(&InstallRequest {
                            auth,
                            codex_home: home,
                            force: false,
                            dry_run: false,
                            codex_version: false,
                            lock_wait: opts.lock_wait,
                            expect: expect.clone(),
                        })
                        .await
                        .map_err(|mut e| {
                            e.message = auth.scrub(&e.message);
                            e
                        });
                    target.close().await;
                    r.map(|rep| rep.outcome)
                }
                .await;
                Wrote { spec, result }
            }
        },
    )
    .await
}

/// The places to sync: those named, else this machine and every place the ledger says
/// holds this session (by its lineage, or its refresh token).
fn ledger_places(of: &AuthFile) -> Vec<TargetSpec> {
    let mut places = vec![TargetSpec::this_machine()];
    let Some(ledger) = Ledger::open() else {
        return places;
    };
    let (entries, _) = ledger.entries();
    let key = crate::ledger::session_key(of);
    for e in &entries {
        let ours = match (&e.lineage, &of.lineage) {
            (Some(a), Some(b)) => a == b,
            _ => e.session == key,
        };
        if !ours {
            continue;
        }
        if let Some(spec) = e.target() {
            if !places.iter().any(|p| p.display() == spec.display()) {
                places.push(spec);
            }
        }
    }
    places
}

/// Run the sync. `critical` is set while a refresh is in flight and not yet stored:
/// an interrupt then waits for it.
pub(crate) async fn run(
    opts: SyncOptions,
    run: &Run,
    critical: Arc<AtomicBool>,
) -> Result<SyncResults, AppError> {
    let journal = Journal::open().ok_or_else(|| {
        AppError::failed(
            "no state directory for the refresh journal",
            Some("set HOME (or XDG_STATE_HOME)".into()),
        )
    })?;
    let turn = {
        let j = journal.clone();
        tokio::task::spawn_blocking(move || j.take_turn())
            .await
            .map_err(|e| AppError::failed(e.to_string(), None))?
            .map_err(|e| {
                AppError::failed(
                    format!(
                        "cannot take the sync lock beside {}: {e}",
                        journal.path().display()
                    ),
                    None,
                )
            })?
    };
    let opts = Arc::new(opts);
    let named = if opts.named {
        Some(opts.places.resolve(&run.ctx).await?)
    } else {
        None
    };
    let mut results =
        sync_home(&Home::ThisMachine, &opts, run, &journal, &critical, &named).await?;
    // Then every saved login of another sign-in, in its own pass.
    let current = results.session.as_ref().and_then(|s| s.newest.clone());
    // (Places named on the command line are synced for this machine's session only.)
    if let Some(saved) = SavedLogins::open().filter(|_| named.is_none()) {
        for name in saved.names() {
            let Ok(Some(login)) = saved.load(&name) else {
                continue;
            };
            if !full(&login) || current.as_ref().is_some_and(|c| same_session(&login, c)) {
                continue;
            }
            let mut pass = sync_home(
                &Home::Saved(name.clone()),
                &opts,
                run,
                &journal,
                &critical,
                &named,
            )
            .await?;
            results.ledger.append(&mut pass.ledger);
            results.saved.push((name, pass));
        }
    }
    drop(turn);
    Ok(results)
}

/// Where the session of a pass lives on this machine: its Codex login, or a saved login.
#[derive(Clone, Debug)]
enum Home {
    ThisMachine,
    Saved(String),
}

/// Read what `home` holds.
async fn read_home(home: &Home, opts: &Arc<SyncOptions>, run: &Run) -> Result<Held, AppError> {
    let name = match home {
        Home::Saved(name) => name.clone(),
        Home::ThisMachine => {
            let here = TargetSpec::this_machine();
            let read = read_all(std::slice::from_ref(&here), opts, run).await;
            let read = read
                .into_iter()
                .next()
                .ok_or_else(|| AppError::failed("this machine's login could not be read", None))?;
            return read.held.map_err(|e| {
                AppError::failed(
                    format!("this machine's login could not be read: {}", e.message),
                    e.hint.clone(),
                )
            });
        }
    };
    let saved = SavedLogins::open()
        .ok_or_else(|| AppError::failed("no state directory for saved logins", None))?;
    let login = saved
        .load(&name)
        .map_err(|e| AppError::failed(format!("saved login {name}: {e}"), None))?;
    Ok(Held {
        expect: Some(match &login {
            Some(l) => Expect::Holds(Fingerprint::of(l.bytes().expose())),
            None => Expect::Nothing,
        }),
        resolved: format!("saved login {name}"),
        login,
    })
}

/// Write `login` to `home` if it still holds what `expect` says.
async fn write_home(
    home: &Home,
    login: AuthFile,
    expect: Option<Expect>,
    opts: &Arc<SyncOptions>,
    run: &Run,
) -> Result<Outcome, TargetError> {
    let name = match home {
        Home::ThisMachine => {
            return write_all(vec![(TargetSpec::this_machine(), login, expect)], opts, run)
                .await
                .into_iter()
                .next()
                .map(|w| w.result)
                .unwrap_or_else(|| Err(TargetError::worker_lost()))
        }
        Home::Saved(name) => name.clone(),
    };
    tokio::task::spawn_blocking(move || {
        let io = |e: String| TargetError::new(ErrorClass::Io, e, None);
        let saved = SavedLogins::open().ok_or_else(|| io("no state directory".into()))?;
        let now = saved.load(&name).map_err(io)?;
        let what = format!("saved login {name}");
        match (&expect, &now) {
            (Some(Expect::Holds(fp)), Some(n)) if Fingerprint::of(n.bytes().expose()) != *fp => {
                return Err(TargetError::changed(&what, NowHolds::Another))
            }
            (Some(Expect::Holds(_)), None) => {
                return Err(TargetError::changed(&what, NowHolds::Nothing))
            }
            (Some(Expect::Nothing), Some(_)) => {
                return Err(TargetError::changed(&what, NowHolds::Something))
            }
            _ => {}
        }
        if now.is_some_and(|n| n.bytes().expose() == login.bytes().expose()) {
            return Ok(Outcome::Unchanged);
        }
        saved.store(&name, &login).map_err(io)?;
        Ok(Outcome::Installed)
    })
    .await
    .unwrap_or_else(|_| Err(TargetError::worker_lost()))
}

/// One session's sync (rounds of read, order, refresh, write), its login at `home`.
async fn sync_home(
    home: &Home,
    opts: &Arc<SyncOptions>,
    run: &Run,
    journal: &Journal,
    critical: &Arc<AtomicBool>,
    named: &Option<Vec<TargetSpec>>,
) -> Result<SyncResults, AppError> {
    let here = TargetSpec::this_machine();
    let mut results = SyncResults {
        places: Vec::new(),
        session: None,
        dry_run: opts.dry_run,
        ledger: Vec::new(),
        saved: Vec::new(),
    };
    for round in 1..=3 {
        // This machine first (or the saved login): its login says which session this is.
        let local_held = read_home(home, opts, run).await?;
        let places: Vec<TargetSpec> = match (&named, &local_held.login) {
            (Some(n), _) => n
                .iter()
                .filter(|s| s.display() != here.display())
                .cloned()
                .collect(),
            (None, Some(l)) if full(l) => ledger_places(l).into_iter().skip(1).collect(),
            // (a saved login that is not a sign-in has no places)
            (None, _) => Vec::new(),
        };
        let reads = read_all(&places, opts, run).await;
        let mut outcome = sync_once(
            opts,
            run,
            journal,
            critical,
            (home, here.clone(), local_held),
            reads,
        )
        .await?;
        if let Home::Saved(name) = home {
            for p in &mut outcome.results.places {
                if p.spec.display() == here.display() {
                    p.shown = Some(format!("saved:{name}"));
                }
            }
        }
        let again = outcome.again && round < 3;
        results = outcome.results;
        let gone = results
            .places
            .iter()
            .filter(|p| p.action == Action::Gone)
            .map(|p| Change::empty(&p.spec))
            .collect::<Vec<_>>();
        results.ledger.extend(gone);
        if !again {
            break;
        }
        run.sink
            .note("note: a place changed while it was written; reading again");
    }
    Ok(results)
}

struct Once {
    results: SyncResults,
    /// A place changed under a write: read everything again.
    again: bool,
}

/// One round: order the copies, adopt, refresh, spread.
async fn sync_once(
    opts: &Arc<SyncOptions>,
    run: &Run,
    journal: &Journal,
    critical: &Arc<AtomicBool>,
    local: (&Home, TargetSpec, Held),
    reads: Vec<Read>,
) -> Result<Once, AppError> {
    let (home, here, local) = local;
    let mut rows: Vec<PlaceSync> = Vec::new();
    let mut held: Vec<(TargetSpec, Held)> = Vec::new();
    for r in reads {
        match r.held {
            Ok(h) => held.push((r.spec, h)),
            // A container the ledger named that no longer exists (a job's, say): the
            // ledger forgets it. A place named on the command line is reported.
            Err(e) if e.class == ErrorClass::NoContainer && !opts.named => {
                rows.push(PlaceSync {
                    spec: r.spec,
                    shown: None,
                    action: Action::Gone,
                    copy: None,
                    error: None,
                    notes: Vec::new(),
                });
            }
            Err(e) => rows.push(PlaceSync {
                spec: r.spec,
                shown: None,
                action: Action::Unreachable,
                copy: None,
                error: Some(e),
                notes: Vec::new(),
            }),
        }
    }
    let remembered = Ledger::open().map(|l| l.entries().0).unwrap_or_default();
    let trusted = opts.issuer.base.trim_end_matches('/').to_string();
    let suspect = |spec: &TargetSpec, l: &AuthFile| {
        untrusted_source(&spec.display(), l, &remembered, &trusted)
    };
    // The session: this machine's full login, else the newest full copy named.
    let session = match &local.login {
        Some(l) if full(l) => Some(l.clone()),
        _ => held
            .iter()
            .filter_map(|(spec, h)| h.login.as_ref().map(|l| (spec, l)))
            .filter(|(spec, l)| full(l) && suspect(spec, l).is_none())
            .map(|(_, l)| l)
            .max_by_key(|l| l.generation())
            .cloned(),
    };
    let Some(session) = session else {
        let mut places = vec![PlaceSync {
            spec: here.clone(),
            shown: None,
            action: if local.login.is_some() {
                Action::Other
            } else {
                Action::Empty
            },
            copy: None,
            error: None,
            notes: vec![
                "this machine holds no ChatGPT login with a refresh token: there is no session to keep fresh (sign in with `codex-auth login`)"
                    .into(),
            ],
        }];
        places.extend(held.into_iter().map(|(spec, h)| left_alone(spec, &h)));
        places.extend(rows);
        return Ok(Once {
            results: SyncResults {
                places,
                session: None,
                dry_run: opts.dry_run,
                ledger: Vec::new(),
                saved: Vec::new(),
            },
            again: false,
        });
    };
    // Every copy of the session, this machine's included.
    let mut copies: Vec<(TargetSpec, AuthFile, Option<Expect>, String)> = Vec::new();
    let mut others: Vec<PlaceSync> = Vec::new();
    let all = std::iter::once((here.clone(), local)).chain(held);
    for (spec, h) in all {
        match &h.login {
            Some(l) if same_session(l, &session) => {
                let why = (spec.display() != here.display() && full(l))
                    .then(|| suspect(&spec, l))
                    .flatten();
                match why {
                    // Never a source, never overwritten: a person looks at it.
                    Some(why) => others.push(PlaceSync {
                        spec,
                        shown: None,
                        action: Action::Diverged,
                        copy: None,
                        error: None,
                        notes: vec![why],
                    }),
                    None => copies.push((spec, l.clone(), h.expect.clone(), h.resolved.clone())),
                }
            }
            _ if spec.display() == here.display() => {}
            _ => others.push(left_alone(spec, &h)),
        }
    }
    let newest = copies
        .iter()
        .filter(|c| full(&c.1))
        .max_by_key(|c| c.1.generation())
        .map(|c| c.1.clone())
        .unwrap_or_else(|| session.clone());
    let account = crate::auth::local::describe_account(&newest);
    // Two copies of the newest age with different refresh tokens: neither is spread.
    let rivals: Vec<String> = copies
        .iter()
        .filter(|c| full(&c.1) && c.1.generation() == newest.generation())
        .filter(|c| c.1.session_id != newest.session_id)
        .map(|c| c.0.display())
        .collect();
    if !rivals.is_empty() {
        let mut places: Vec<PlaceSync> = copies
            .into_iter()
            .map(|(spec, copy, ..)| PlaceSync {
                spec,
                shown: None,
                action: Action::Diverged,
                copy: Some(copy),
                error: None,
                notes: vec![format!(
                    "copies of the same age with different refresh tokens (also at {}): nothing was written; run `codex-auth status` and sign in again if Codex is signed out",
                    rivals.join(", ")
                )],
            })
            .collect();
        places.extend(others);
        places.extend(rows);
        return Ok(Once {
            results: SyncResults {
                places,
                session: Some(SessionSync {
                    account,
                    newest: Some(newest),
                    refreshed: false,
                    needs_sign_in: None,
                }),
                dry_run: opts.dry_run,
                ledger: Vec::new(),
                saved: Vec::new(),
            },
            again: false,
        });
    }
    // A newest copy whose refresh token this machine already sent is spent.
    let spent = match &newest.session_id {
        Some(token) => journal
            .spent(token)
            .map_err(|e| AppError::failed(e.to_string(), None))?,
        None => None,
    };
    let mut needs_sign_in = spent.map(|s| match s.ending {
        Ending::Refused => "the issuer refused this session's newest refresh token: sign in again (`codex-auth login`) and push the new login".to_string(),
        _ => "this session's newest refresh token was sent to the issuer by a sync that did not finish, and is never sent twice: sign in again (`codex-auth login`) and push the new login".to_string(),
    });
    // The result: the newest copy, with a lineage, refreshed when due.
    let mut result = newest.clone();
    if needs_sign_in.is_none() {
        if let Some(stamped) = result.with_lineage() {
            result = stamped;
        }
    }
    let now = crate::timestamp::now_unix();
    let due = newest
        .summary
        .access_expires
        .is_none_or(|exp| exp - now < opts.refresh_within.as_secs() as i64);
    let mut refreshed = false;
    let local_row = copies.iter().position(|c| c.0.display() == here.display());
    let local_copy = local_row.map(|i| copies[i].1.clone());
    let local_expect = local_row
        .map(|i| copies[i].2.clone())
        .unwrap_or(Some(Expect::Nothing));
    let mut here_action = if local_copy
        .as_ref()
        .is_some_and(|l| l.bytes().expose() == newest.bytes().expose())
    {
        Action::Current
    } else {
        Action::Adopted
    };
    let mut here_notes = Vec::new();
    if here_action == Action::Adopted {
        if let Some(from) = copies
            .iter()
            .find(|c| c.1.bytes().expose() == newest.bytes().expose())
        {
            here_notes.push(format!("the newest copy was at {}", from.0.display()));
        }
    }
    let lent = (needs_sign_in.is_none() && due)
        .then(|| lent_whole(&newest))
        .flatten();
    if let Some(l) = lent {
        here_notes.push(format!(
            "not refreshed: a `codex-auth run --full` on {} (pid {}) lent this session whole to a command that may refresh it; the next sync tries again",
            l.place, l.pid
        ));
    } else if needs_sign_in.is_none() && due && !opts.dry_run {
        match refresh_here(opts, journal, critical, (home, &result), &local_expect, run).await {
            Ok(Refreshed::Stored(new)) => {
                result = *new;
                refreshed = true;
                here_action = Action::Refreshed;
            }
            Ok(Refreshed::NotSent(why)) => here_notes.push(format!(
                "not refreshed: {why}; the next sync tries again (the token was not sent)"
            )),
            Err(why) => needs_sign_in = Some(why),
        }
    } else if needs_sign_in.is_none() && due {
        here_notes.push("would refresh at the issuer (the access token expires soon)".into());
    }
    let mut ledger = Vec::new();
    let mut places = Vec::new();
    let mut again = false;
    if let Some(why) = &needs_sign_in {
        for (spec, copy, ..) in copies {
            places.push(PlaceSync {
                spec,
                shown: None,
                action: Action::NeedsSignIn,
                copy: Some(copy),
                error: None,
                notes: Vec::new(),
            });
        }
        run.sink.warn(&format!("warning: {account}: {why}"));
    } else {
        // This machine first (unless the refresh stored it already), then the others.
        let write_here = !refreshed
            && local_copy
                .as_ref()
                .is_none_or(|l| l.bytes().expose() != result.bytes().expose());
        if write_here {
            if !opts.dry_run {
                let wrote = write_home(home, result.clone(), local_expect.clone(), opts, run).await;
                {
                    if let Err(e) = wrote {
                        again |= e.class == ErrorClass::Changed;
                        places.push(PlaceSync {
                            spec: here.clone(),
                            shown: None,
                            action: Action::Unreachable,
                            copy: local_copy.clone(),
                            error: Some(e),
                            notes: here_notes.clone(),
                        });
                        // Nothing is spread from a copy this machine could not keep.
                        for (spec, copy, ..) in copies
                            .into_iter()
                            .filter(|c| c.0.display() != here.display())
                        {
                            places.push(PlaceSync {
                                spec,
                                shown: None,
                                action: Action::Unreachable,
                                copy: Some(copy),
                                error: None,
                                notes: vec![
                                    "not written: this machine could not keep the newest copy"
                                        .into(),
                                ],
                            });
                        }
                        places.extend(others);
                        places.extend(rows);
                        return Ok(Once {
                            results: SyncResults {
                                places,
                                session: Some(SessionSync {
                                    account,
                                    newest: Some(result),
                                    refreshed,
                                    needs_sign_in,
                                }),
                                dry_run: opts.dry_run,
                                ledger,
                                saved: Vec::new(),
                            },
                            again,
                        });
                    }
                }
            }
            if here_action == Action::Current {
                here_action = Action::Updated;
            }
        }
        if matches!(home, Home::ThisMachine) {
            ledger.push(Change::holds(&here, "this machine".into(), &result, "sync"));
        }
        places.push(PlaceSync {
            spec: here.clone(),
            shown: None,
            action: here_action,
            copy: Some(result.clone()),
            error: None,
            notes: here_notes,
        });
        // Every other copy: the newest, in the kind of copy it is.
        let mut writes = Vec::new();
        let mut pending = Vec::new();
        for (spec, copy, expect, resolved) in copies {
            if spec.display() == here.display() {
                continue;
            }
            let Some(want) = wanted_at(&copy, &result) else {
                continue;
            };
            if want.bytes().expose() == copy.bytes().expose() {
                ledger.push(Change::holds(&spec, resolved, &copy, "sync"));
                places.push(PlaceSync {
                    spec,
                    shown: None,
                    action: Action::Current,
                    copy: Some(copy),
                    error: None,
                    notes: Vec::new(),
                });
            } else if opts.dry_run {
                places.push(PlaceSync {
                    spec,
                    shown: None,
                    action: Action::Updated,
                    copy: Some(want),
                    error: None,
                    notes: Vec::new(),
                });
            } else {
                pending.push((spec.clone(), want.clone(), resolved));
                writes.push((spec, want, expect));
            }
        }
        for w in write_all(writes, opts, run).await {
            let Some(i) = pending
                .iter()
                .position(|p| p.0.display() == w.spec.display())
            else {
                continue;
            };
            let (spec, want, resolved) = pending.swap_remove(i);
            match w.result {
                Ok(Outcome::Installed | Outcome::Unchanged) => {
                    ledger.push(Change::holds(&spec, resolved, &want, "sync"));
                    places.push(PlaceSync {
                        spec,
                        shown: None,
                        action: Action::Updated,
                        copy: Some(want),
                        error: None,
                        notes: Vec::new(),
                    });
                }
                Ok(other) => places.push(PlaceSync {
                    spec,
                    shown: None,
                    action: Action::Unreachable,
                    copy: None,
                    error: Some(TargetError::new(
                        ErrorClass::Io,
                        format!("not written ({})", other.as_str()),
                        Some("see `codex-auth push` there for why"),
                    )),
                    notes: Vec::new(),
                }),
                Err(e) => {
                    again |= e.class == ErrorClass::Changed;
                    places.push(PlaceSync {
                        spec,
                        shown: None,
                        action: Action::Unreachable,
                        copy: None,
                        error: Some(e),
                        notes: Vec::new(),
                    });
                }
            }
        }
    }
    places.extend(others);
    places.extend(rows);
    Ok(Once {
        results: SyncResults {
            places,
            session: Some(SessionSync {
                account,
                newest: Some(result),
                refreshed,
                needs_sign_in,
            }),
            dry_run: opts.dry_run,
            ledger,
            saved: Vec::new(),
        },
        again,
    })
}

/// Why the full copy `copy` at `place` may not be adopted, if it may not: a place this
/// machine gave an access-only copy cannot have come by the refresh token honestly (a
/// planted copy with the sign-in's lineage would otherwise be taken and spread to every
/// place), and a copy naming another issuer than the trusted one would send every place's
/// Codex there.
fn untrusted_source(
    place: &str,
    copy: &AuthFile,
    remembered: &[crate::ledger::Entry],
    trusted: &str,
) -> Option<String> {
    if remembered.iter().any(|e| e.place == place && e.access_only) {
        return Some(
            "holds a full copy (a refresh token) where an access-only copy was put: not taken as the newest and not overwritten; check that place, then `codex-auth push --access-only` to it again"
                .into(),
        );
    }
    let (issuer, _) = copy.provenance();
    match issuer.as_deref().map(|i| i.trim_end_matches('/')) {
        Some(other) if other != trusted => Some(format!(
            "its copy names another issuer ({other}) than {trusted}: not taken as the newest and not overwritten"
        )),
        _ => None,
    }
}

/// A place that holds no copy of the session.
fn left_alone(spec: TargetSpec, h: &Held) -> PlaceSync {
    let (action, note) = match &h.login {
        None => (Action::Empty, None),
        Some(l) if full(l) || l.summary.access_only => (
            Action::Other,
            Some(format!(
                "another sign-in ({}): left alone",
                crate::auth::local::describe_account(l)
            )),
        ),
        Some(l) => (
            Action::Other,
            Some(format!(
                "{}: it does not rotate, left alone",
                crate::auth::local::describe_account(l)
            )),
        ),
    };
    PlaceSync {
        spec,
        shown: None,
        action,
        copy: None,
        error: None,
        notes: note.into_iter().collect(),
    }
}

enum Refreshed {
    Stored(Box<AuthFile>),
    /// The request never left: the token is unspent.
    NotSent(String),
}

/// A live `run --full` lease of `session` (its refresh token lent to a running command):
/// a refresh here would spend the token under it.
fn lent_whole(session: &AuthFile) -> Option<crate::ledger::LeaseEntry> {
    let key = crate::ledger::session_key(session);
    crate::ledger::Ledger::open()?
        .live_leases()
        .into_iter()
        .find(|l| {
            !l.access_only
                && (l.session == key || (l.lineage.is_some() && l.lineage == session.lineage))
        })
}

/// Clears the "refresh in flight" flag however the refresh ends.
struct InFlight<'a>(&'a AtomicBool);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// Refresh `login` at the trusted issuer and store the result here, with `expect` as
/// the precondition (this machine must still hold what was read, or nothing). The
/// journal records the token before it is sent; `Err` says why the session needs a new
/// sign-in.
async fn refresh_here(
    opts: &Arc<SyncOptions>,
    journal: &Journal,
    critical: &Arc<AtomicBool>,
    (home, login): (&Home, &AuthFile),
    expect: &Option<Expect>,
    run: &Run,
) -> Result<Refreshed, String> {
    const SIGN_IN: &str = "sign in again (`codex-auth login`) and push the new login";
    let (named_issuer, named_client) = login.provenance();
    let trusted = opts.issuer.base.trim_end_matches('/');
    if let Some(other) = named_issuer
        .as_deref()
        .map(|b| b.trim_end_matches('/'))
        .filter(|b| *b != trusted)
    {
        return Ok(Refreshed::NotSent(format!(
            "the login names another issuer ({other}) than {trusted}; if you trust it, run again with --issuer {other}"
        )));
    }
    let issuer = Issuer {
        base: trusted.to_string(),
        client_id: named_client.unwrap_or_else(|| opts.issuer.client_id.clone()),
    };
    let (Some(token), Some(key)) = (login.refresh_token(), login.session_id.clone()) else {
        return Ok(Refreshed::NotSent("the login has no refresh token".into()));
    };
    critical.store(true, Ordering::SeqCst);
    let _in_flight = InFlight(critical);
    if let Err(e) = journal.record_sent(&key, login.lineage.as_deref()) {
        return Ok(Refreshed::NotSent(format!(
            "the refresh journal could not be written ({e}), so nothing was sent"
        )));
    }
    let tokens = match crate::login::refresh(&issuer, &token).await {
        Ok(tokens) => tokens,
        Err(RefreshError::NotSent(why)) => {
            let _ = journal.forget_unsent(&key);
            return Ok(Refreshed::NotSent(why));
        }
        Err(RefreshError::Refused { refusal, detail }) => {
            let _ = journal.settle(&key, Ending::Refused);
            return Err(format!("{detail}: {}", refusal.what_to_do()));
        }
        Err(e @ RefreshError::Unknown(_)) => {
            let _ = journal.settle(&key, Ending::Unknown);
            return Err(format!("{e}; the token is never sent twice: {SIGN_IN}"));
        }
    };
    let new = match login.with_refreshed(
        tokens.id_token.as_ref().map(|t| t.expose()),
        tokens.access_token.expose(),
        tokens.refresh_token.as_ref().map(|t| t.expose()),
    ) {
        Ok(new) => new,
        Err(e) => {
            let _ = journal.settle(&key, Ending::Unknown);
            return Err(format!(
                "the issuer's new tokens do not make a login Codex reads ({e}): {SIGN_IN}"
            ));
        }
    };
    // Stored here before the journal lets go; a failure leaves the journal saying the
    // token was sent, and the session needing a new sign-in.
    let store = |expect: Option<Expect>| {
        let new = new.clone();
        async move { Some(write_home(home, new, expect, opts, run).await) }
    };
    let stored = match store(expect.clone()).await {
        // Changed meanwhile (a Codex here?): these tokens are the newest there are.
        Some(Err(e)) if e.class == ErrorClass::Changed => store(None).await,
        other => other,
    };
    match stored {
        Some(Ok(_)) => {
            let _ = journal.settle(&key, Ending::Stored);
            Ok(Refreshed::Stored(Box::new(new)))
        }
        Some(Err(e)) => Err(format!(
            "the session was refreshed but the new tokens could not be stored here ({}): {SIGN_IN}",
            new.scrub(&login.scrub(&e.message))
        )),
        None => Err(format!(
            "the new tokens could not be stored here: {SIGN_IN}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::testdata::chatgpt_json;

    #[test]
    fn copies_of_one_sign_in_are_told_from_other_sign_ins() {
        let a = AuthFile::parse(chatgpt_json("rt-sync-one").as_bytes()).unwrap();
        let stamped = a.with_lineage().unwrap();
        let refreshed = stamped
            .with_refreshed(None, "eyJ.e30.sig", Some("rt-sync-two"))
            .unwrap();
        assert!(same_session(&refreshed, &stamped), "one lineage");
        assert!(same_session(&a, &a), "the same token");
        let other = AuthFile::parse(chatgpt_json("rt-sync-three").as_bytes()).unwrap();
        assert!(!same_session(&other, &a));
        let access = refreshed.access_only_copy().unwrap();
        assert!(access.summary.access_only && access.refresh_token().is_none());
        assert!(same_session(&access, &stamped));
        assert!(!full(&access));
        assert_eq!(
            wanted_at(&access, &refreshed).unwrap().bytes().expose(),
            access.bytes().expose()
        );
    }
}
