//! `codex-auth push`: validate the plan, read the login to push (unless each target
//! gets a fresh one), guard against spreading one ChatGPT session, install everywhere,
//! report.

use crate::auth::{source, AuthFile};
use crate::cli::{PushArgs, Source};
use crate::error::AppError;
use crate::ops::push::{PushPlan, PushSource};
use crate::report::{self, Verbosity};

use super::{block_on, exit_code, Runner};

pub(crate) fn run(args: PushArgs) -> Result<u8, AppError> {
    let plan = args.plan()?;
    let runner = Runner::for_targets(&args.output, &plan.scope);
    let mut from = None;
    let source = match plan.source {
        Source::FreshLogin(opts) => PushSource::FreshLogin(opts, runner.reporter.clone()),
        Source::File(path) => PushSource::Fixed(Box::new(source::from_file(&path)?)),
        Source::ApiKeyStdin => PushSource::Fixed(Box::new(source::api_key_from_stdin()?)),
        Source::AccessTokenStdin => PushSource::Fixed(Box::new(source::access_token_from_stdin()?)),
        Source::LocalLogin => {
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
            PushSource::Fixed(Box::new(local.auth))
        }
    };
    let shared_login = match &source {
        PushSource::Fixed(auth) => {
            guard_shared_session(auth, plan.scope.targets.len(), args.share)?;
            if auth.is_rotating_session() && !args.dry_run && runner.verbosity != Verbosity::Quiet {
                let what = if plan.scope.targets.len() > 1 {
                    "these targets and every other holder of this auth.json now share one ChatGPT session"
                } else {
                    "this target and every other holder of this auth.json (this machine, if it is your local login) now share one ChatGPT session"
                };
                runner.reporter.note(&format!(
                    "warning: {what}; a token refresh on one signs the others out"
                ));
            }
            Some(auth.as_ref().clone())
        }
        PushSource::FreshLogin(..) => None,
    };
    let ctx = runner.context(&plan.scope);
    let pipeline = PushPlan {
        targets: plan.scope.targets,
        source,
        codex_home: plan.scope.codex_home,
        force: args.force,
        dry_run: args.dry_run,
        jobs: plan.scope.jobs,
        codex_version: runner.wants_codex_version(),
        lock_wait: crate::cli::lock_wait()?,
        target_timeout: plan.scope.target_timeout,
    };
    let sink = runner.reporter.clone();
    let results = block_on(async {
        let results = runner
            .until_interrupted(crate::ops::push::push(pipeline, ctx, sink))
            .await?;
        let all_done = results.iter().all(|r| r.done());
        report::print_stdout(&if runner.json {
            report::push::json(&results, shared_login.as_ref(), from.as_ref(), args.dry_run)
        } else {
            report::push::table(&results, shared_login.as_ref(), runner.verbosity)
        });
        Ok(exit_code(all_done))
    })?;
    Ok(results)
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
