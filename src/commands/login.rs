//! `codex-auth login`: sign in here and save the login where Codex reads it, or run the
//! login on ssh hosts with `--forward` (see `ops::login`); report.

use crate::cli::{Given, LoginArgs};
use crate::error::{exit, AppError};
use crate::ops::login::LoginOptions;
use crate::report;
use crate::targets::{ForwardError, KindContexts};

use super::{block_on, exit_code, Runner};

pub(crate) fn run(args: LoginArgs, given: &Given) -> Result<u8, AppError> {
    let opts = args.options(given)?;
    let runner = Runner::new(&args.output);
    let run = runner.run(KindContexts::default());
    match opts {
        LoginOptions::Here(here) if here.save.is_some() => runner.block_on(async {
            let name = here.save.clone().unwrap_or_default();
            let r = crate::ops::login::into_saved(here, &name, runner.reporter.as_ref()).await?;
            runner.reporter.finish();
            report::saved::saved(&r, &runner.output);
            Ok(exit::OK)
        }),
        LoginOptions::Here(here) => runner.block_on(async {
            let saved = crate::ops::login::here(here, &run, runner.reporter.as_ref()).await?;
            runner.reporter.finish();
            report::login::print(&saved, &runner.output);
            Ok(exit::OK)
        }),
        // A forwarded login takes Ctrl-C itself: it cancels the host's `codex login`.
        LoginOptions::Forward(forward) => block_on(async {
            let no_run = forward.no_run;
            let interrupt = runner.interrupt();
            let ui = runner.reporter.clone();
            let rep = crate::ops::login::forward(forward, &run, ui, interrupt)
                .await
                .map_err(|e| match e {
                    ForwardError::Interrupted => AppError::interrupted(),
                    ForwardError::Failed(e) => AppError::failed(e.message, e.hint),
                })?;
            if no_run {
                runner.reporter.note("tunnel closed");
                return Ok(exit::OK);
            }
            report::login::print_forward(&rep, &runner.output);
            Ok(exit_code(rep.exit_status == Some(0)))
        }),
        LoginOptions::ForwardDevice(devices) => runner.block_on(async {
            let ui = runner.reporter.clone();
            let outcomes = crate::ops::login::forward_devices(devices, &run, ui).await;
            runner.reporter.finish();
            report::login::print_devices(&outcomes, &runner.output);
            Ok(exit_code(outcomes.iter().all(
                |o| matches!(&o.result, Ok(r) if r.exit_status == Some(0)),
            )))
        }),
    }
}
