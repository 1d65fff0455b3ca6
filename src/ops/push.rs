//! `push`: install a login on many places concurrently (this machine too with
//! `--local`), one connection per place, a bounded pool, and a failure at one place
//! never stopping the others. It reads its source first (files and stdin before any
//! place), resolves its places, refuses to spread one ChatGPT session unless asked, and
//! returns what the ledger learns. With `--login`, each target gets its own fresh login,
//! installed directly: those tokens are never written on this machine. With `--move`,
//! the session is handed over ([`super::handover`]).

use std::sync::Arc;
use std::time::Duration;

use super::handover::{self, HandoverOptions, Moved};
use super::install::{self, Plan, TargetResult};
use super::source::{self, LoginFrom, Source};
use super::{fan_out, Progress, Run};
use crate::auth::AuthFile;
use crate::error::AppError;
use crate::ledger::Change;
use crate::login::{Flow, LoginUi};
use crate::targets::{
    Expect, FileKind, InspectRequest, InstallReport, Outcome, Previous, Selection, Target,
    TargetError, TargetSpec,
};

/// A validated push (from `cli`): everything decided, nothing read yet.
pub(crate) struct PushOptions {
    pub places: Selection,
    pub source: Source,
    /// `--codex-home`, for the targets.
    pub codex_home: Option<String>,
    pub force: bool,
    pub dry_run: bool,
    /// Allow one ChatGPT session on several places.
    pub share: bool,
    /// Install a copy without the refresh token (`--access-only`).
    pub access_only: bool,
    /// Take the login off its source once the destination verified it (`--move`).
    pub move_source: bool,
    /// What each place must still hold (`--if-holds`).
    pub expect: Option<Expect>,
    pub jobs: usize,
    /// Report which Codex version judged each place (`-v`, `--json`).
    pub codex_version: bool,
    /// How long to wait for Codex's locks at each place.
    pub lock_wait: Duration,
    /// How long one place may take (`--target-timeout`), besides waiting for the locks
    /// and for a sign-in.
    pub target_timeout: Duration,
}

/// What a push did.
pub(crate) struct PushResults {
    pub results: Vec<TargetResult>,
    /// The one login pushed to every place (none with `--login`).
    pub login: Option<AuthFile>,
    pub from: Option<LoginFrom>,
    pub moved: Option<Moved>,
    pub dry_run: bool,
    /// What the ledger learns (empty on a dry run).
    pub ledger: Vec<Change>,
}

impl PushResults {
    /// Every place done, and the move (if any) made.
    pub(crate) fn all_done(&self) -> bool {
        self.results.iter().all(TargetResult::done) && !matches!(self.moved, Some(Err(_)))
    }
}

/// The source, once what is read before any place is asked has been read.
enum Pending {
    Ready(Box<AuthFile>),
    Place(TargetSpec),
    Fresh(Flow),
}

/// How the login of a push is had: one for every place, or one per target.
enum Login {
    Fixed(Box<AuthFile>),
    Fresh(Flow, Arc<dyn LoginUi>),
}

/// Run the push: source, places, guard, installs (or the move), and what the ledger
/// learns. Results come back in the order the places were given.
pub(crate) async fn run(
    opts: PushOptions,
    run: &Run,
    ui: Arc<dyn LoginUi>,
) -> Result<PushResults, AppError> {
    // Files and stdin first: a bad one costs no connection.
    let pending = match &opts.source {
        Source::File(path) => Pending::Ready(Box::new(source::from_file(path)?)),
        Source::Saved(name) => Pending::Ready(Box::new(source::from_saved(name)?)),
        Source::ApiKeyStdin => Pending::Ready(Box::new(source::api_key_from_stdin()?)),
        Source::AccessTokenStdin => Pending::Ready(Box::new(source::access_token_from_stdin()?)),
        Source::Place(spec) => Pending::Place(spec.clone()),
        Source::FreshLogin(flow) => Pending::Fresh(flow.clone()),
    };
    let places = opts.places.resolve(&run.ctx).await?;
    if let Pending::Place(from) = &pending {
        if places.iter().any(|p| p.display() == from.display()) {
            return Err(AppError::usage(
                format!("{} is both the source and a destination", from.display()),
                Some("name the place to copy from with --from, and other places as destinations"),
            ));
        }
        if opts.move_source {
            let handed = handover::run(
                from,
                &places,
                HandoverOptions {
                    codex_home: opts.codex_home.clone(),
                    plan: plan(&opts),
                    target_timeout: opts.target_timeout,
                },
                run,
            )
            .await?;
            return Ok(PushResults {
                results: vec![handed.result],
                login: handed.login,
                from: handed.from,
                moved: handed.moved,
                dry_run: opts.dry_run,
                ledger: handed.ledger,
            });
        }
    }
    let mut from = None;
    let pending = match pending {
        Pending::Ready(auth) if opts.access_only => Pending::Ready(Box::new(access_only(&auth)?)),
        other => other,
    };
    let login = match pending {
        Pending::Ready(auth) => Login::Fixed(auth),
        Pending::Fresh(flow) => {
            if !flow.device && places.len() > 1 {
                run.sink.note(
                    "note: browser sign-ins take turns, one target at a time (Codex's callback port is fixed); with --device-auth every target gets its code at once",
                );
            }
            Login::Fresh(flow, ui)
        }
        Pending::Place(spec) => {
            let read = source::read_place(&spec, &run.ctx).await?;
            source::say_where_read(&spec, &read, run);
            if !spec.kind().remote() {
                from = Some(source::login_from(&read));
            }
            if opts.access_only {
                Login::Fixed(Box::new(access_only(&read.auth)?))
            } else {
                Login::Fixed(Box::new(read.auth))
            }
        }
    };
    let shared = match &login {
        Login::Fixed(auth) => {
            install::say_where_else(auth, &places, &[], run);
            guard_shared_session(auth, places.len(), opts.share)?;
            if auth.is_rotating_session() && !opts.dry_run {
                let what = if places.len() > 1 {
                    "these targets and every other holder of this auth.json now share one ChatGPT session"
                } else {
                    "this target and every other holder of this auth.json (this machine, if it is your local login) now share one ChatGPT session"
                };
                run.sink.note(&format!(
                    "warning: {what}; a token refresh on one signs the others out"
                ));
            }
            Some(auth.as_ref().clone())
        }
        Login::Fresh(..) => None,
    };
    let results = install_all(&opts, &places, login, run).await;
    let ledger = if opts.dry_run {
        Vec::new()
    } else {
        install::remember(&results, shared.as_ref(), "push")
    };
    Ok(PushResults {
        results,
        login: shared,
        from,
        moved: None,
        dry_run: opts.dry_run,
        ledger,
    })
}

/// What every install of this push shares.
fn plan(opts: &PushOptions) -> Plan {
    Plan {
        force: opts.force,
        dry_run: opts.dry_run,
        codex_version: opts.codex_version,
        lock_wait: opts.lock_wait,
    }
}

/// Install on every place; results in the order given.
async fn install_all(
    opts: &PushOptions,
    places: &[TargetSpec],
    login: Login,
    run: &Run,
) -> Vec<TargetResult> {
    // Browser sign-ins take turns: Codex's callback port is fixed. Device codes do not
    // need one, so every target asks for its own at once, and each is installed as soon
    // as its code is approved.
    let (jobs, sign_in) = match &login {
        Login::Fresh(flow, _) if flow.device => (opts.jobs, flow.timeout),
        Login::Fresh(flow, _) => (1, flow.timeout),
        Login::Fixed(_) => (opts.jobs, Duration::ZERO),
    };
    let deadline = opts.target_timeout + opts.lock_wait + sign_in;
    let each = Arc::new(Each {
        login,
        codex_home: opts.codex_home.clone(),
        expect: opts.expect.clone(),
        plan: plan(opts),
        ctx: run.ctx.clone(),
    });
    fan_out(
        places,
        jobs,
        deadline,
        run.sink.clone(),
        move |spec, progress| {
            let each = each.clone();
            async move {
                let (result, auth) = async {
                    progress.stage("connecting");
                    let target = match spec.connect(&each.ctx).await {
                        Ok(t) => t,
                        Err(e) => return (Err(install::nothing_changed(e)), None),
                    };
                    let done = push_one(&each, &spec, target.as_ref(), &progress).await;
                    target.close().await;
                    done
                }
                .await;
                TargetResult { spec, result, auth }
            }
        },
    )
    .await
}

/// What every install of one push shares.
struct Each {
    login: Login,
    codex_home: Option<String>,
    expect: Option<Expect>,
    plan: Plan,
    ctx: crate::targets::ConnectContext,
}

async fn push_one(
    each: &Each,
    spec: &TargetSpec,
    target: &dyn Target,
    progress: &Progress,
) -> (Result<InstallReport, TargetError>, Option<AuthFile>) {
    let (plan, codex_home, expect) = (&each.plan, each.codex_home.as_deref(), &each.expect);
    match &each.login {
        Login::Fixed(auth) => (
            install::install(plan, codex_home, target, auth, expect.clone(), progress).await,
            None,
        ),
        Login::Fresh(..) if plan.dry_run => (would_log_in(plan, codex_home, target).await, None),
        Login::Fresh(flow, ui) => {
            progress.stage("waiting for sign-in");
            match crate::login::login(flow, ui.as_ref(), Some(&spec.display())).await {
                Ok(auth) => {
                    let mut r =
                        install::install(plan, codex_home, target, &auth, expect.clone(), progress)
                            .await;
                    if let Ok(rep) = &mut r {
                        rep.login = Some(auth.summary.clone());
                    }
                    (r, Some(auth))
                }
                Err(e) => (Err(e.into()), None),
            }
        }
    }
}

/// Dry run of `push --login`: where the login would go; no sign-in happens.
async fn would_log_in(
    plan: &Plan,
    codex_home: Option<&str>,
    target: &dyn Target,
) -> Result<InstallReport, TargetError> {
    let seen = target
        .inspect(&InspectRequest {
            judge: true,
            codex_home,
            codex_version: plan.codex_version,
            digest_only: false,
        })
        .await?;
    let skipped = seen.location.store.may_ignore_file() && !plan.force;
    let outcome = if skipped {
        Outcome::Skipped
    } else {
        Outcome::WouldInstall
    };
    let mut report = InstallReport::new(outcome, &seen.location);
    report.path = seen.path();
    report.previous = match seen.kind {
        FileKind::None => Previous::None,
        FileKind::File => Previous::Different,
        FileKind::Symlink => Previous::Symlink,
        FileKind::Dir => Previous::Dir,
        FileKind::Other => Previous::Other,
    };
    report.file_mode = seen.file_mode;
    report.codex_status = seen.codex_status;
    report.codex = seen.codex;
    report
        .notes
        .push("a fresh sign-in would be made for this target".into());
    Ok(report)
}

/// The access-only copy of `auth` (`--access-only`); a login with no refresh token to
/// withhold is a usage error.
fn access_only(auth: &AuthFile) -> Result<AuthFile, AppError> {
    auth.access_only_copy().ok_or_else(|| {
        AppError::usage(
            format!(
                "--access-only withholds a ChatGPT login's refresh token, and this is {}",
                crate::auth::local::describe_account(auth)
            ),
            Some("push it without --access-only (an API key or access token cannot rotate)"),
        )
    })
}

/// One ChatGPT login on several places is refused unless `--share`: its refresh token
/// rotates, so the first refresh anywhere signs the others out.
fn guard_shared_session(auth: &AuthFile, places: usize, share: bool) -> Result<(), AppError> {
    if auth.is_rotating_session() && places > 1 && !share {
        return Err(AppError::usage(
            format!(
                "refusing to push one ChatGPT login to {places} targets: its refresh token rotates, so the first refresh on any of them signs the others out"
            ),
            Some("use --login for one login per target, push an API key (--api-key-stdin), or pass --share to accept one shared session"),
        ));
    }
    Ok(())
}
