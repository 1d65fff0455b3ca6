//! `codex-auth logout`: take the login off the places named (see `ops::logout`),
//! revoke with `--revoke`, report, remember.

use crate::cli::{Given, LogoutArgs};
use crate::error::AppError;
use crate::report;

use super::{exit_code, Runner};

pub(crate) fn run(args: LogoutArgs, given: &Given) -> Result<u8, AppError> {
    let opts = args.options(given)?;
    let kinds = args.scope.contexts()?;
    let runner = Runner::new(&args.output);
    runner.block_on(async {
        let run = runner.run(kinds);
        let mut results = crate::ops::logout::run(opts, &run).await?;
        runner.reporter.finish();
        runner.remember(std::mem::take(&mut results.ledger));
        report::logout::print(&results, &runner.output);
        Ok(exit_code(results.all_done()))
    })
}
