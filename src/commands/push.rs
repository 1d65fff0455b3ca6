//! `codex-auth push`: validate the plan, take the login to push (a file, stdin, a place,
//! this machine's, or a fresh one per target), guard against spreading one ChatGPT
//! session (saying where the ledger has seen it), install everywhere (this machine too
//! with `--local`), take it off the source after a verified `--move`, remember where it
//! went, report.

use crate::auth::{source, AuthFile};
use crate::cli::{PushArgs, Source};
use crate::error::AppError;
use crate::ledger::{self, Change, Ledger};
use crate::ops::push::{Place, PushPlan, PushSource, SourceError, TargetResult};
use crate::report::{self, Verbosity};
use crate::targets::Outcome;

use super::{exit_code, resolve_filters, Runner};

pub(crate) fn run(args: PushArgs) -> Result<u8, AppError> {
    let mut plan = args.plan()?;
    // (A --move with a --docker-filter is refused by the plan: its count is unknown.)
    resolve_filters(&mut plan.scope)?;
    let mut labels: Vec<String> = plan.scope.targets.iter().map(|t| t.display()).collect();
    if plan.local {
        labels.push("local".into());
    }
    let runner = Runner::new(&args.output, labels);
    let ctx = runner.context(&plan.scope);
    let destinations = plan.scope.targets.len() + usize::from(plan.local);
    runner.block_on(async {
        let mut from = None;
        let mut source_place = None;
        let source = match std::mem::replace(&mut plan.source, Source::LocalLogin) {
            Source::FreshLogin(opts) => {
                if !opts.device && destinations > 1 && runner.verbosity != Verbosity::Quiet {
                    runner.reporter.note(
                        "note: browser sign-ins take turns, one target at a time (Codex's callback port is fixed); with --device-auth every target gets its code at once",
                    );
                }
                PushSource::FreshLogin(opts, runner.reporter.clone())
            }
            Source::File(path) => PushSource::Fixed(Box::new(source::from_file(&path)?)),
            Source::ApiKeyStdin => PushSource::Fixed(Box::new(source::api_key_from_stdin()?)),
            Source::AccessTokenStdin => {
                PushSource::Fixed(Box::new(source::access_token_from_stdin()?))
            }
            Source::LocalLogin | Source::Place(Place::Local) => {
                let local = source::local_login()?;
                if runner.verbosity != Verbosity::Quiet {
                    if let Some(why) = &local.fell_back {
                        runner.reporter.note(&format!(
                            "note: {why}; the local Codex (cli_auth_credentials_store = \"auto\") then reads {}, and so does this push",
                            local.place
                        ));
                    }
                    runner
                        .reporter
                        .note(&format!("pushing the local login from {}", local.place));
                }
                from = Some(local.place);
                source_place = Some(Place::Local);
                PushSource::Fixed(Box::new(local.auth))
            }
            Source::Place(Place::Target(spec)) => {
                let auth = match crate::ops::push::read_target(&spec, &ctx).await {
                    Ok(a) => a,
                    Err(SourceError::NoLogin(why)) => {
                        return Err(AppError::usage(
                            format!("nothing to push from {}: {why}", spec.display()),
                            Some("`codex-auth status --ssh ...` shows what a place holds"),
                        ))
                    }
                    Err(SourceError::Failed(e)) => {
                        return Err(AppError::failed(
                            format!(
                                "cannot read the login from {}: {}",
                                spec.display(),
                                e.message
                            ),
                            e.hint,
                        ))
                    }
                };
                if runner.verbosity != Verbosity::Quiet {
                    runner
                        .reporter
                        .note(&format!("pushing the login from {}", spec.display()));
                }
                source_place = Some(Place::Target(spec));
                PushSource::Fixed(Box::new(auth))
            }
        };
        let shared_login = match &source {
            PushSource::Fixed(auth) => {
                say_where_else(auth, &plan, source_place.as_ref(), &runner);
                // A moved session stays one session: nothing is shared.
                if !plan.move_source {
                    guard_shared_session(auth, destinations, args.share)?;
                    if auth.is_rotating_session()
                        && !args.dry_run
                        && runner.verbosity != Verbosity::Quiet
                    {
                        let what = if destinations > 1 {
                            "these targets and every other holder of this auth.json now share one ChatGPT session"
                        } else {
                            "this target and every other holder of this auth.json (this machine, if it is your local login) now share one ChatGPT session"
                        };
                        runner.reporter.note(&format!(
                            "warning: {what}; a token refresh on one signs the others out"
                        ));
                    }
                }
                Some(auth.as_ref().clone())
            }
            PushSource::FreshLogin(..) => None,
        };
        let lock_wait = crate::cli::lock_wait()?;
        let pipeline = PushPlan {
            targets: plan.scope.targets.clone(),
            source,
            codex_home: plan.scope.codex_home.clone(),
            force: args.force,
            dry_run: args.dry_run,
            jobs: plan.scope.jobs,
            codex_version: runner.wants_codex_version(),
            lock_wait,
            target_timeout: plan.scope.target_timeout,
        };
        let sink = runner.reporter.clone();
        let mut results = if plan.scope.targets.is_empty() {
            Vec::new()
        } else {
            runner
                .until_interrupted(crate::ops::push::push(pipeline, ctx.clone(), sink))
                .await?
        };
        if plan.local {
            if let Some(auth) = &shared_login {
                let r = crate::ops::push::install_local(
                    auth,
                    args.force,
                    args.dry_run,
                    lock_wait,
                    runner.wants_codex_version(),
                )
                .await;
                results.push(r);
            }
        }
        runner.reporter.finish();
        let all_done = results.iter().all(TargetResult::done);
        let mut moved = None;
        if plan.move_source && !args.dry_run {
            if let Some(place) = &source_place {
                moved = Some(if all_done && verified(&results) {
                    crate::ops::push::remove_from(place, &ctx, lock_wait)
                        .await
                        .map(|()| place.display())
                        .map_err(|e| (place.display(), e))
                } else {
                    Err((
                        place.display(),
                        crate::targets::TargetError::new(
                            crate::targets::ErrorClass::Verify,
                            "the destination did not take the login, so the source keeps it",
                            None,
                        ),
                    ))
                });
            }
        }
        if !args.dry_run {
            remember(&results, shared_login.as_ref(), &moved, &plan, &runner);
        }
        let move_ok = !matches!(moved, Some(Err(_)));
        report::print_stdout(&if runner.json {
            report::push::json(
                &results,
                shared_login.as_ref(),
                from.as_ref(),
                moved.as_ref(),
                args.dry_run,
            )
        } else {
            report::push::table(
                &results,
                shared_login.as_ref(),
                moved.as_ref(),
                runner.verbosity,
            )
        });
        Ok(exit_code(all_done && move_ok))
    })
}

/// Every destination installed (or already held) the login, and checked it.
fn verified(results: &[TargetResult]) -> bool {
    results.iter().all(|r| {
        matches!(&r.result, Ok(rep) if matches!(rep.outcome, Outcome::Installed | Outcome::Unchanged) && rep.verified)
    })
}

/// Where else the ledger has seen this ChatGPT session, said before the guard decides.
fn say_where_else(
    auth: &AuthFile,
    plan: &crate::cli::PushPlan,
    source: Option<&Place>,
    runner: &Runner,
) {
    if !auth.is_rotating_session() || runner.verbosity == Verbosity::Quiet {
        return;
    }
    let Some(l) = Ledger::open() else { return };
    let (entries, _) = l.entries();
    let mut except: Vec<String> = plan.scope.targets.iter().map(|t| t.display()).collect();
    if plan.local {
        except.push("local".into());
    }
    if let Some(p) = source {
        if plan.move_source {
            except.push(p.display());
        }
    }
    let others: Vec<String> = ledger::holders(&entries, &ledger::fingerprint(auth), &except)
        .into_iter()
        .map(ledger::describe)
        .collect();
    if !others.is_empty() {
        runner.reporter.note(&format!(
            "note: this ChatGPT session is also on {}",
            others.join(", ")
        ));
    }
}

/// What the ledger learns from a push: each destination done holds its login; the source
/// of a move holds nothing.
fn remember(
    results: &[TargetResult],
    shared: Option<&AuthFile>,
    moved: &Option<Result<String, (String, crate::targets::TargetError)>>,
    plan: &crate::cli::PushPlan,
    runner: &Runner,
) {
    let Some(ledger) = Ledger::open() else { return };
    let by = if plan.move_source { "move" } else { "push" };
    let mut changes: Vec<Change> = results
        .iter()
        .filter_map(|r| {
            let rep = r.result.as_ref().ok()?;
            if !matches!(rep.outcome, Outcome::Installed | Outcome::Unchanged) {
                return None;
            }
            let auth = r.auth.as_ref().or(shared)?;
            Some(Change::holds(
                r.spec.as_ref(),
                format!("{} {}", rep.user, rep.path),
                auth,
                by,
            ))
        })
        .collect();
    if let Some(Ok(place)) = moved {
        changes.push(Change::Empty {
            place: place.clone(),
        });
    }
    if let Some(w) = ledger.update(changes) {
        runner.reporter.note(&w);
    }
}

/// One ChatGPT login on several targets is refused unless `--share`: its refresh token
/// rotates, so the first refresh anywhere signs the others out.
fn guard_shared_session(auth: &AuthFile, targets: usize, share: bool) -> Result<(), AppError> {
    if auth.is_rotating_session() && targets > 1 && !share {
        return Err(AppError::usage(
            format!(
                "refusing to push one ChatGPT login to {targets} targets: its refresh token rotates, so the first refresh on any of them signs the others out"
            ),
            Some("use --login for one login per target, push an API key (--api-key-stdin), or pass --share to accept one shared session"),
        ));
    }
    Ok(())
}
