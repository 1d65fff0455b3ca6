//! `codex-auth status`: read what every place holds (this machine first), report.

use crate::cli::StatusArgs;
use crate::error::AppError;
use crate::ops::status::StatusPlan;
use crate::report;

use super::{block_on, exit_code, Runner};

pub(crate) fn run(args: StatusArgs) -> Result<u8, AppError> {
    let scope = args.scope.plan()?;
    let runner = Runner::for_targets(&args.output, &scope);
    let ctx = runner.context(&scope);
    let plan = StatusPlan {
        targets: scope.targets,
        codex_home: scope.codex_home,
        jobs: scope.jobs,
        codex_version: runner.wants_codex_version(),
        target_timeout: scope.target_timeout,
    };
    let sink = runner.reporter.clone();
    block_on(async {
        let places = runner
            .until_interrupted(crate::ops::status::status(plan, ctx, sink))
            .await?;
        report::print_stdout(&if runner.json {
            report::status::json(&places)
        } else {
            report::status::table(&places, runner.verbosity)
        });
        Ok(exit_code(places.iter().all(|p| p.result.is_ok())))
    })
}
