//! `codex-auth push`: install a login on places (see `ops::push`), report, remember.

use crate::cli::{Given, PushArgs};
use crate::error::AppError;
use crate::report;

use super::{exit_code, Runner};

pub(crate) fn run(args: PushArgs, given: &Given) -> Result<u8, AppError> {
    let opts = args.options(given)?;
    let kinds = args.scope.contexts()?;
    let runner = Runner::new(&args.output);
    runner.block_on(async {
        let run = runner.run(kinds);
        let mut results = crate::ops::push::run(opts, &run, runner.reporter.clone()).await?;
        runner.reporter.finish();
        runner.remember(std::mem::take(&mut results.ledger));
        report::push::print(&results, &runner.output);
        Ok(exit_code(results.all_done()))
    })
}
