//! `codex-auth status`: read every place (see `ops::status`), report, remember; or
//! `--forget PLACE`.

use crate::cli::{Given, StatusArgs, StatusAsk};
use crate::error::{exit, AppError};
use crate::report;

use super::{exit_code, Runner};

pub(crate) fn run(args: StatusArgs, given: &Given) -> Result<u8, AppError> {
    let opts = match args.options(given)? {
        StatusAsk::Forget(place) => return forget(&place),
        StatusAsk::Saved => {
            let views = crate::ops::saved::list()?;
            report::saved::list(&views, &args.output.output());
            return Ok(crate::error::exit::OK);
        }
        StatusAsk::Read(opts) => opts,
    };
    let kinds = args.scope.contexts()?;
    let runner = Runner::new(&args.output);
    runner.block_on(async {
        let run = runner.run(kinds);
        let mut results = crate::ops::status::run(*opts, &run).await?;
        runner.reporter.finish();
        runner.remember(std::mem::take(&mut results.ledger));
        report::status::print(&results, &runner.output);
        Ok(exit_code(results.all_read()))
    })
}

fn forget(place: &str) -> Result<u8, AppError> {
    match crate::ops::status::forget(place)? {
        (true, ledger) => {
            report::print_stdout(&format!("forgot {place} (ledger {})\n", ledger.display()));
            Ok(exit::OK)
        }
        (false, _) => Err(AppError::usage(
            format!("the ledger has no place {place:?}"),
            Some("`codex-auth status --known` lists the places it remembers"),
        )),
    }
}
