//! `codex-auth logout`: take the login off the places named (this machine by default),
//! revoke its session with `--revoke`, update the ledger, report.

use crate::cli::LogoutArgs;
use crate::error::AppError;
use crate::ledger::{Change, Ledger};
use crate::ops::logout::{LogoutPlan, LogoutResults};
use crate::report;
use crate::targets::RemoveOutcome;

use super::{exit_code, resolve_filters, Runner};

pub(crate) fn run(args: LogoutArgs) -> Result<u8, AppError> {
    let mut plan = args.plan()?;
    resolve_filters(&mut plan.scope)?;
    let mut labels: Vec<String> = plan.scope.targets.iter().map(|t| t.display()).collect();
    if plan.local && !plan.scope.targets.is_empty() {
        labels.insert(0, "local".into());
    }
    let runner = Runner::new(&args.output, labels);
    let ctx = runner.context(&plan.scope);
    let pipeline = LogoutPlan {
        targets: plan.scope.targets,
        local: plan.local,
        codex_home: plan.scope.codex_home,
        keep_backup: args.keep_backup,
        dry_run: args.dry_run,
        revoke: plan.revoke,
        jobs: plan.scope.jobs,
        codex_version: runner.wants_codex_version(),
        lock_wait: crate::cli::lock_wait()?,
        target_timeout: plan.scope.target_timeout,
    };
    let sink = runner.reporter.clone();
    let reporter = runner.reporter.clone();
    let announce = move |line: &str| reporter.note(line);
    runner.block_on(async {
        let results = runner
            .until_interrupted(crate::ops::logout::logout(pipeline, ctx, sink, &announce))
            .await?;
        if !args.dry_run {
            remember(&results, &runner);
        }
        report::print_stdout(&if runner.json {
            report::logout::json(&results, args.dry_run)
        } else {
            report::logout::table(&results, runner.verbosity)
        });
        Ok(exit_code(results.all_done()))
    })
}

/// The places logged out hold nothing now.
fn remember(results: &LogoutResults, runner: &Runner) {
    let Some(ledger) = Ledger::open() else { return };
    let changes = results
        .places
        .iter()
        .filter(|p| {
            matches!(&p.result, Ok(o) if matches!(o.outcome, RemoveOutcome::Removed | RemoveOutcome::Absent))
        })
        .map(|p| Change::Empty { place: p.display() })
        .collect();
    if let Some(w) = ledger.update(changes) {
        runner.reporter.note(&w);
    }
}
