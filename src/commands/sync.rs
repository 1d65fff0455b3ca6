//! `codex-auth sync`: keep one ChatGPT session fresh on every place holding it (see
//! `ops::sync`), report, remember. An interrupt while a refresh is in flight waits for
//! it to be stored (a second or so): a token sent and never stored would be lost.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::cli::{Given, SyncArgs};
use crate::error::AppError;
use crate::report;

use super::{exit_code, Runner};

pub(crate) fn run(args: SyncArgs, given: &Given) -> Result<u8, AppError> {
    let opts = args.options(given)?;
    let kinds = args.scope.contexts()?;
    let runner = Runner::new(&args.output);
    let critical = Arc::new(AtomicBool::new(false));
    super::block_on(async {
        let run = runner.run(kinds);
        let work = crate::ops::sync::run(opts, &run, critical.clone());
        tokio::pin!(work);
        let (results, interrupted) = tokio::select! {
            r = &mut work => (r, false),
            _ = tokio::signal::ctrl_c() => {
                if critical.load(Ordering::SeqCst) {
                    runner.reporter.warn("interrupted: finishing the refresh in flight first");
                    ((&mut work).await, true)
                } else {
                    runner.reporter.finish();
                    return Err(AppError::interrupted());
                }
            }
        };
        runner.reporter.finish();
        let mut results = results?;
        if !results.dry_run {
            runner.remember(std::mem::take(&mut results.ledger));
        }
        report::sync::print(&results, &runner.output);
        if interrupted {
            return Err(AppError::interrupted());
        }
        Ok(exit_code(results.all_done()))
    })
}
