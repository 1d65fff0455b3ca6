//! `codex-auth status`: read what every place holds (this machine first), with
//! `--known` also every place the ledger remembers; report, and update the ledger with
//! what was seen. `--forget PLACE` drops one place from the ledger.

use crate::cli::StatusArgs;
use crate::error::AppError;
use crate::ledger::{self, Change, Ledger};
use crate::ops::status::{LoginState, PlaceResult, StatusPlan};
use crate::report;

use super::{exit_code, resolve_filters, Runner};

pub(crate) fn run(args: StatusArgs) -> Result<u8, AppError> {
    let mut scope = args.plan()?;
    if let Some(place) = &args.forget {
        return forget(place);
    }
    resolve_filters(&mut scope)?;
    let ledger = Ledger::open();
    let (known, damaged) = ledger.as_ref().map(Ledger::entries).unwrap_or_default();
    if args.known {
        for entry in &known {
            let Some(spec) = entry.target() else { continue };
            if !scope.targets.iter().any(|t| t.display() == spec.display()) {
                scope.targets.push(spec);
            }
        }
    }
    let runner = Runner::for_targets(&args.output, &scope);
    if let Some(w) = damaged {
        runner.reporter.note(&w);
    }
    let ctx = runner.context(&scope);
    let plan = StatusPlan {
        targets: scope.targets,
        codex_home: scope.codex_home,
        jobs: scope.jobs,
        codex_version: runner.wants_codex_version(),
        target_timeout: scope.target_timeout,
    };
    let sink = runner.reporter.clone();
    runner.block_on(async {
        let mut places = runner
            .until_interrupted(crate::ops::status::status(plan, ctx, sink))
            .await?;
        if args.known {
            mark_known(&mut places, &known);
        }
        if let Some(ledger) = &ledger {
            if let Some(w) = ledger.update(changes(&places)) {
                runner.reporter.note(&w);
            }
        }
        report::print_stdout(&if runner.json {
            report::status::json(&places)
        } else {
            report::status::table(&places, runner.verbosity)
        });
        Ok(exit_code(places.iter().all(|p| p.result.is_ok())))
    })
}

fn forget(place: &str) -> Result<u8, AppError> {
    let ledger = Ledger::open()
        .ok_or_else(|| AppError::usage("no state directory for the ledger", Some("set HOME")))?;
    match ledger.forget(place) {
        Ok(true) => {
            report::print_stdout(&format!(
                "forgot {place} (ledger {})\n",
                ledger.path().display()
            ));
            Ok(crate::error::exit::OK)
        }
        Ok(false) => Err(AppError::usage(
            format!("the ledger has no place {place:?}"),
            Some("`codex-auth status --known` lists the places it remembers"),
        )),
        Err(w) => Err(AppError::failed(w, None)),
    }
}

/// What a status run teaches the ledger: who holds what now, who holds nothing.
fn changes(places: &[PlaceResult]) -> Vec<Change> {
    places
        .iter()
        .filter_map(|p| {
            let st = p.result.as_ref().ok()?;
            Some(match &st.state {
                LoginState::LoggedIn(a) => Change::holds(
                    p.spec.as_ref(),
                    format!("{} {}", st.report.location.user, st.report.path()),
                    a,
                    "status",
                ),
                LoginState::NotLoggedIn => Change::empty(p.spec.as_ref()),
                LoginState::Invalid(_) => return None,
            })
        })
        .collect()
}

/// Note, at every remembered place, whether it still holds what the ledger recorded.
fn mark_known(places: &mut [PlaceResult], known: &[ledger::Entry]) {
    for p in places.iter_mut() {
        let name = p.display();
        let Some(entry) = known.iter().find(|e| e.place == name) else {
            continue;
        };
        let Ok(st) = &mut p.result else { continue };
        let now = st.login().map(ledger::fingerprint);
        let note = match now {
            Some(fp) if fp == entry.fingerprint => continue,
            Some(_) => format!(
                "LEDGER: holds another login than the {} login it had ({})",
                entry.kind,
                ledger::describe(entry)
            ),
            None => format!(
                "LEDGER: no longer holds the {} login it had ({})",
                entry.kind,
                ledger::describe(entry)
            ),
        };
        st.report.notes.push(note);
    }
}
