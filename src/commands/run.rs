//! `codex-auth run`: one command on a place with a lent login (see `ops::run`); the
//! command's exit status is ours.

use crate::cli::{Given, RunArgs};
use crate::error::AppError;
use crate::report;

use super::{block_on, Runner};

/// The exit status when the place was lost before the command's end was seen (as ssh).
const PLACE_LOST: u8 = 255;

pub(crate) fn run(args: RunArgs, given: &Given) -> Result<u8, AppError> {
    let mut opts = args.options(given)?;
    let kinds = args.scope.contexts()?;
    let runner = Runner::new(&args.output);
    // Not the runner's block_on: Ctrl-C is the command's, passed on by the run itself.
    block_on(async {
        let run = runner.run(kinds);
        let places = args.scope.selection(None)?.resolve(&run.ctx).await?;
        if let Some(place) = places.into_iter().next() {
            opts.place = place;
        }
        let place = opts.place.display();
        let outcome = crate::ops::run::run(opts, &run).await;
        runner.reporter.finish();
        let outcome = outcome?;
        report::run::print(&outcome, &place, &runner.output);
        Ok(match outcome.status {
            Some(status) => (status & 0xff) as u8,
            None => PLACE_LOST,
        })
    })
}
