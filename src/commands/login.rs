//! `codex-auth login`: sign in here (browser or device code) or take an API key, write
//! the local login, and ask the local Codex about it; or, with `--forward`, run the
//! host's own `codex login` with its callback tunnelled here.

use crate::auth::store::CredentialStore;
use crate::auth::{local, os_keyring, source};
use crate::cli::{LoginArgs, LoginPlan};
use crate::error::{exit, AppError};
use crate::report;

use super::{block_on, Runner};

pub(crate) fn run(args: LoginArgs) -> Result<u8, AppError> {
    let plan = args.plan()?;
    // Several hosts' device logins are a fan-out: one progress line per host.
    let labels = match &plan {
        LoginPlan::ForwardDevice(p) => p
            .dests
            .iter()
            .map(|d| crate::targets::TargetSpec::Ssh(d.clone()).display())
            .collect(),
        _ => vec![],
    };
    let runner = Runner::new(&args.output, labels);
    match plan {
        // A forwarded login takes Ctrl-C itself: it cancels the host's `codex login`.
        LoginPlan::Forward(forward) => block_on(run_forward(forward, &runner)),
        LoginPlan::ForwardDevice(plan) => runner.block_on(run_forward_device(plan, &runner)),
        LoginPlan::ApiKey => {
            let home = where_to_save()?;
            let auth = source::api_key_from_stdin()?;
            runner.block_on(save(&home, auth, &args, &runner))
        }
        LoginPlan::SignIn(opts) => {
            let home = where_to_save()?;
            runner.block_on(async {
                let auth = runner
                    .until_interrupted(crate::login::login(&opts, runner.reporter.as_ref(), None))
                    .await??;
                save(&home, auth, &args, &runner).await
            })
        }
    }
}

/// The local Codex home, checked before anyone signs in: a store that can keep no
/// login (`ephemeral`), or a `keyring` store whose keyring cannot be used, is refused
/// now (exit 2), with nothing touched, rather than after the sign-in.
fn where_to_save() -> Result<local::LocalHome, AppError> {
    let home = local::LocalHome::resolve().ok_or_else(|| {
        AppError::usage(
            "cannot find the home directory for the local login",
            Some("set CODEX_HOME"),
        )
    })?;
    let refuse = |e: local::LocalWriteError| AppError::usage(e.to_string(), e.hint().as_deref());
    match home.store() {
        CredentialStore::Ephemeral => Err(refuse(local::LocalWriteError::Ephemeral)),
        CredentialStore::Keyring => match os_keyring::get(&home.account()) {
            Ok(_) => Ok(home),
            Err(e) => Err(refuse(local::LocalWriteError::Keyring(e))),
        },
        _ => Ok(home),
    }
}

/// Save the new login where the local Codex reads it, and report what Codex says.
async fn save(
    home: &local::LocalHome,
    auth: crate::auth::AuthFile,
    args: &LoginArgs,
    runner: &Runner,
) -> Result<u8, AppError> {
    let saved = local::save_login(home, &auth, args.force, crate::cli::lock_wait()?)?;
    let verdict = crate::ops::status::local(runner.wants_codex_version())
        .await
        .ok()
        .and_then(|p| p.report.codex_status);
    report::print_stdout(&if runner.json {
        report::login::json(&auth, &saved, verdict.as_deref())
    } else {
        report::login::text(&auth, &saved, verdict.as_deref())
    });
    Ok(exit::OK)
}

async fn run_forward(
    plan: crate::ops::forward::ForwardPlan,
    runner: &Runner,
) -> Result<u8, AppError> {
    let no_run = plan.no_run;
    let interrupt = runner.interrupt();
    let rep = crate::ops::forward::forward_login(
        plan,
        runner.reporter.clone(),
        runner.reporter.clone(),
        interrupt,
    )
    .await?;
    if no_run {
        runner.reporter.note("tunnel closed");
        return Ok(exit::OK);
    }
    report::print_stdout(&report::login::forward(&rep, runner.json));
    Ok(super::exit_code(rep.exit_status == Some(0)))
}

/// Several hosts' own device-code logins at once; exit 0 when every one succeeded.
async fn run_forward_device(
    plan: crate::ops::forward::DevicePlan,
    runner: &Runner,
) -> Result<u8, AppError> {
    let outcomes = runner
        .until_interrupted(crate::ops::forward::forward_device_logins(
            plan,
            runner.reporter.clone(),
            runner.reporter.clone(),
            runner.reporter.clone(),
        ))
        .await?;
    report::print_stdout(&report::login::forward_device(&outcomes, runner.json));
    Ok(super::exit_code(outcomes.iter().all(
        |o| matches!(&o.result, Ok(r) if r.exit_status == Some(0)),
    )))
}
