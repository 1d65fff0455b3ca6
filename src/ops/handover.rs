//! A session handed over from one place to another (`push --from PLACE --move`): the
//! session moves, it is not copied. One connection to each place for the whole move:
//! the source is read, the destination read and written with the compare-and-swap
//! precondition that it still holds what was read there, and the source's login then
//! removed with the precondition that it still holds what was handed over. When either
//! changed in between (a Codex there refreshing), both are read again and the hand-over
//! repeated, a bounded number of times: never an older copy over a newer one, never the
//! only live copy removed.

use std::sync::Arc;

use std::time::Duration;

use super::install::{self, Plan, TargetResult};
use super::source::{self, LoginFrom, PlaceLogin};
use super::{fan_out, Progress, Run, TargetOutcome};
use crate::auth::AuthFile;
use crate::error::AppError;
use crate::ledger::Change;
use crate::targets::{
    ConnectContext, ErrorClass, InspectRequest, InstallReport, Outcome, RemoveRequest, Target,
    TargetError, TargetSpec,
};

/// How many times a hand-over is tried when a place changes under it.
const ROUNDS: usize = 3;

/// The outcome of `--move` at its source: its name, or its name and why it kept its
/// login.
pub(crate) type Moved = Result<String, (String, TargetError)>;

/// How a hand-over goes (from `push --move`'s options).
pub(crate) struct HandoverOptions {
    /// `--codex-home`, for the destination.
    pub codex_home: Option<String>,
    pub plan: Plan,
    pub target_timeout: Duration,
}

/// What a hand-over did: the destination's result, the source's, the login handed
/// over last, where it was read (this machine), and what the ledger learns.
pub(crate) struct Handed {
    pub result: TargetResult,
    pub moved: Option<Moved>,
    pub login: Option<AuthFile>,
    pub from: Option<LoginFrom>,
    pub ledger: Vec<Change>,
}

impl TargetOutcome for Handed {
    fn lost(spec: TargetSpec) -> Self {
        Handed::of(TargetResult::lost(spec))
    }

    fn timed_out(spec: TargetSpec, stage: &'static str, after: Duration) -> Self {
        Handed::of(TargetResult::timed_out(spec, stage, after))
    }

    fn summary(&self) -> (bool, String) {
        self.result.summary()
    }
}

impl Handed {
    /// A hand-over that ended with `result` at the destination, and nothing else known.
    fn of(result: TargetResult) -> Handed {
        Handed {
            result,
            moved: None,
            login: None,
            from: None,
            ledger: Vec::new(),
        }
    }
}

/// Move the session `from` holds to the one place of `places`.
pub(crate) async fn run(
    from: &TargetSpec,
    places: &[TargetSpec],
    opts: HandoverOptions,
    run: &Run,
) -> Result<Handed, AppError> {
    let [dest] = places else {
        return Err(AppError::usage(
            format!(
                "--move takes a session to one destination, and {} are named",
                places.len()
            ),
            Some("move to one place; give the others logins of their own (push --login)"),
        ));
    };
    let source_target = from
        .connect(&run.ctx)
        .await
        .map_err(|e| source::unreadable(from, e))?;
    let seen = source_target.inspect(&InspectRequest::content(None)).await;
    let first = match seen
        .map_err(|e| source::unreadable(from, e))
        .and_then(|seen| source::login_in(from, seen))
    {
        Ok(first) => first,
        Err(e) => {
            source_target.close().await;
            return Err(e.into());
        }
    };
    source::say_where_read(from, &first, run);
    let login_from = (!from.kind().remote()).then(|| source::login_from(&first));
    install::say_where_else(&first.auth, places, &[from.display()], run);

    let deadline = opts.target_timeout + opts.plan.lock_wait * 2;
    let dry_run = opts.plan.dry_run;
    let source_target = Arc::new(source_target);
    let handing = Arc::new(Handing {
        source: source_target.clone(),
        from: from.clone(),
        first,
        codex_home: opts.codex_home,
        plan: opts.plan,
        ctx: run.ctx.clone(),
    });
    let mut handed = fan_out(
        places,
        1,
        deadline,
        run.sink.clone(),
        move |spec, progress| {
            let handing = handing.clone();
            async move { hand_over(&handing, spec, &progress).await }
        },
    )
    .await;
    drop_connection(source_target).await;
    let mut handed = handed.pop().unwrap_or_else(|| Handed::lost(dest.clone()));
    handed.from = login_from;
    if !dry_run {
        if let Some(login) = &handed.login {
            handed.ledger =
                install::remember(std::slice::from_ref(&handed.result), Some(login), "move");
        }
        if let Some(Ok(_)) = &handed.moved {
            handed.ledger.push(Change::empty(from));
        }
    }
    Ok(handed)
}

/// Say goodbye to the source, once the hand-over is done with it.
async fn drop_connection(target: Arc<Box<dyn Target>>) {
    if let Ok(target) = Arc::try_unwrap(target) {
        target.close().await;
    }
}

/// What the worker of a hand-over is given.
struct Handing {
    /// The source, connected once for the whole move.
    source: Arc<Box<dyn Target>>,
    from: TargetSpec,
    /// What the source held when it was first read.
    first: PlaceLogin,
    codex_home: Option<String>,
    plan: Plan,
    ctx: ConnectContext,
}

async fn hand_over(handing: &Handing, dest_spec: TargetSpec, progress: &Progress) -> Handed {
    let Handing {
        source,
        from,
        first,
        codex_home,
        plan,
        ctx,
    } = handing;
    let (source, codex_home) = (source.as_ref().as_ref(), codex_home.as_deref());
    let mut login = first.clone();
    progress.stage("connecting");
    let dest = match dest_spec.connect(ctx).await {
        Ok(t) => t,
        Err(e) => {
            let mut handed = Handed::of(TargetResult {
                spec: dest_spec,
                result: Err(install::nothing_changed(e)),
                auth: None,
            });
            handed.moved = Some(Err((
                from.display(),
                kept("the destination could not be reached"),
            )));
            handed.login = Some(login.auth);
            return handed;
        }
    };
    let (result, moved) = rounds(
        source,
        from,
        &mut login,
        dest.as_ref(),
        codex_home,
        plan,
        progress,
    )
    .await;
    dest.close().await;
    let mut handed = Handed::of(TargetResult {
        spec: dest_spec,
        result,
        auth: None,
    });
    handed.moved = moved;
    handed.login = Some(login.auth);
    handed
}

/// Why the source keeps its login.
fn kept(why: &str) -> TargetError {
    TargetError::new(
        ErrorClass::Verify,
        format!("{why}, so the source keeps its login"),
        None,
    )
}

async fn rounds(
    source: &dyn Target,
    from: &TargetSpec,
    login: &mut PlaceLogin,
    dest: &dyn Target,
    codex_home: Option<&str>,
    plan: &Plan,
    progress: &Progress,
) -> (Result<InstallReport, TargetError>, Option<Moved>) {
    let not_moved = |e: TargetError| Some(Err((from.display(), e)));
    let mut last = None;
    for round in 1..=ROUNDS {
        // What the destination holds now: the write below happens only if it still does.
        progress.stage("reading");
        let there = match dest.inspect(&InspectRequest::content(codex_home)).await {
            Ok(there) => there,
            Err(e) => return (Err(e), not_moved(kept("the destination could not be read"))),
        };
        let installed = install::install(
            plan,
            codex_home,
            dest,
            &login.auth,
            there.expect_unchanged(),
            progress,
        )
        .await;
        let report = match installed {
            Err(e) if e.class == ErrorClass::Changed && round < ROUNDS => continue,
            Err(e) => {
                return (
                    Err(e),
                    not_moved(kept("the destination did not take the login")),
                )
            }
            Ok(report) => report,
        };
        if plan.dry_run {
            return (Ok(report), None);
        }
        if !(matches!(report.outcome, Outcome::Installed | Outcome::Unchanged) && report.verified) {
            return (
                Ok(report),
                not_moved(kept("the destination did not take the login")),
            );
        }
        // The source gives its login up only if it still holds what was handed over.
        progress.stage("removing from the source");
        let removal = source
            .remove(&RemoveRequest {
                codex_home: None,
                keep_backup: true,
                dry_run: false,
                lock_wait: plan.lock_wait,
                codex_version: false,
                expect: login.seen.expect_unchanged(),
                send_login: false,
            })
            .await;
        match removal {
            Ok(_) => return (Ok(report), Some(Ok(from.display()))),
            Err(e) if e.class == ErrorClass::Changed && round < ROUNDS => {
                // A Codex there refreshed since it was read: the copy just handed over is
                // spent. Read the source again, and hand that over.
                progress.stage("reading the source again");
                let again = source
                    .inspect(&InspectRequest::content(None))
                    .await
                    .map_err(|e| source::unreadable(from, e))
                    .and_then(|seen| source::login_in(from, seen));
                match again {
                    Ok(fresh) => *login = fresh,
                    Err(e) => {
                        let e = TargetError::new(ErrorClass::Changed, e.to_string(), None);
                        return (Ok(report), not_moved(e));
                    }
                }
                last = Some(report);
            }
            Err(e) => return (Ok(report), not_moved(e)),
        }
    }
    let e = TargetError::new(
        ErrorClass::Changed,
        format!("{} kept changing while its login was moved ({ROUNDS} tries), so it keeps its login; the destination may hold an older copy", from.display()),
        Some("stop what refreshes the login there (a running Codex), then move again"),
    );
    match last {
        Some(report) => (Ok(report), not_moved(e)),
        None => (Err(e.clone()), not_moved(e)),
    }
}
