//! `codex-auth sync`: keep one ChatGPT session fresh on every place holding it (see
//! `ops::sync`), report, remember; with `--every`, again and again until SIGTERM or
//! Ctrl-C. An interrupt while a refresh is in flight waits for it to be stored (a
//! second or so): a token sent and never stored would be lost.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::cli::{Given, SyncArgs};
use crate::error::{exit, AppError};
use crate::ops::sync::SyncOptions;
use crate::report;

use super::{exit_code, Runner};

/// How a pass ended.
enum Pass {
    Done(bool),
    /// A signal came (after a refresh in flight was stored): stop.
    Stopped,
}

pub(crate) fn run(args: SyncArgs, given: &Given) -> Result<u8, AppError> {
    if args.install_timer || args.uninstall_timer {
        return timer(&args, given);
    }
    let every = args.every;
    let runner = Runner::new(&args.output);
    super::block_on(async {
        let mut stop = Signals::new()?;
        let mut failures = 0u32;
        loop {
            let opts = args.options(given)?;
            let kinds = args.scope.contexts()?;
            let ok = match pass(&runner, opts, kinds, &mut stop).await? {
                Pass::Done(ok) => ok,
                Pass::Stopped if every.is_some() => return Ok(exit::OK),
                Pass::Stopped => return Err(AppError::interrupted()),
            };
            let Some(every) = every else {
                return Ok(exit_code(ok));
            };
            failures = if ok { 0 } else { failures.saturating_add(1) };
            let wait = next_wait(every, failures);
            runner.reporter.note(&format!(
                "next sync in {}",
                crate::timestamp::human(wait.as_secs() as i64)
            ));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.recv() => return Ok(exit::OK),
            }
        }
    })
}

/// `--install-timer` / `--uninstall-timer`: the schedule on this machine.
fn timer(args: &SyncArgs, given: &Given) -> Result<u8, AppError> {
    let output = args.output.output();
    let done = if args.uninstall_timer {
        if let Some(flag) = given.first_except(&["uninstall_timer", "json", "quiet", "verbose"]) {
            return Err(crate::cli::not_with(
                &flag,
                "sync --uninstall-timer",
                "run --uninstall-timer on its own",
            ));
        }
        crate::schedule::uninstall().map_err(|e| AppError::failed(e, None))?
    } else {
        if let Some(flag) = args.scope.kinds.naming_flag() {
            return Err(crate::cli::not_with(
                flag,
                "sync --install-timer (the timer syncs the places the ledger knows)",
                "push to a place (or sync it once by name) and the ledger remembers it",
            ));
        }
        args.options(given)?;
        let abs = |p: &std::path::Path| {
            std::path::absolute(p)
                .unwrap_or_else(|_| p.to_path_buf())
                .display()
                .to_string()
        };
        let mut words = vec![
            "sync".to_string(),
            "--refresh-within".into(),
            format!("{}s", args.refresh_within.as_secs()),
        ];
        let ssh = &args.scope.kinds.ssh.connect;
        if let Some(f) = &ssh.config_file {
            words.extend(["-F".into(), abs(f)]);
        }
        for o in &ssh.options {
            words.extend(["-o".into(), o.clone()]);
        }
        if let Some(i) = &ssh.identity {
            words.extend(["-i".into(), abs(i)]);
        }
        if let Some(h) = &args.scope.codex_home {
            words.extend(["--codex-home".into(), h.clone()]);
        }
        for (id, flag, value) in [
            ("issuer", "--issuer", &args.issuer),
            ("client_id", "--client-id", &args.client_id),
        ] {
            if given.typed(id) {
                words.extend([flag.to_string(), value.clone()]);
            }
        }
        // Where this machine's login and the ledger are, as this run sees them.
        let env: Vec<(String, String)> = [
            "CODEX_HOME",
            "CODEX_AUTH_LEDGER",
            "XDG_STATE_HOME",
            "DOCKER_HOST",
            "DOCKER_CONTEXT",
            "DOCKER_TLS_VERIFY",
            "DOCKER_CERT_PATH",
            "CODEX_AUTH_ISSUER",
            "CODEX_AUTH_CLIENT_ID",
        ]
        .iter()
        .filter_map(|k| {
            let v = std::env::var(k).ok().filter(|v| !v.is_empty())?;
            let v = if k.ends_with("HOME") || k.ends_with("LEDGER") || k.ends_with("PATH") {
                abs(std::path::Path::new(&v))
            } else {
                v
            };
            Some((k.to_string(), v))
        })
        .collect();
        let program = std::env::current_exe().map_err(|e| {
            AppError::failed(format!("cannot tell where this program is: {e}"), None)
        })?;
        let every = args.every.unwrap_or(Duration::from_secs(86_400));
        crate::schedule::install(&program, &words, every, &env)
            .map_err(|e| AppError::failed(e, None))?
    };
    report::sync::print_schedule(&done, args.uninstall_timer, &output);
    Ok(exit_code(done.done))
}

/// The wait before the next pass: `every` with up to 10% jitter (many machines on one
/// schedule do not all call at once), or after failures 1, 2, 4, ... minutes, never
/// more than `every`.
fn next_wait(every: Duration, failures: u32) -> Duration {
    let base = if failures == 0 {
        every
    } else {
        Duration::from_secs(60u64.saturating_mul(1 << failures.min(16).saturating_sub(1)))
            .min(every)
    };
    let jitter = crate::encoding::random_bytes(2)
        .map(|b| u64::from(u16::from_le_bytes([b[0], b[1]])))
        .unwrap_or(0);
    base + base.mul_f64(jitter as f64 / f64::from(u16::MAX) / 10.0)
}

/// SIGINT and SIGTERM, as one stream (SIGTERM only where there is one).
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Signals, AppError> {
        Ok(Signals {
            #[cfg(unix)]
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .map_err(|e| AppError::failed(format!("cannot watch for SIGTERM: {e}"), None))?,
        })
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = self.term.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// One sync, reported and remembered.
async fn pass(
    runner: &Runner,
    opts: SyncOptions,
    kinds: crate::targets::KindContexts,
    stop: &mut Signals,
) -> Result<Pass, AppError> {
    let critical = Arc::new(AtomicBool::new(false));
    let run = runner.run(kinds);
    let work = crate::ops::sync::run(opts, &run, critical.clone());
    tokio::pin!(work);
    let (results, stopped) = tokio::select! {
        r = &mut work => (r, false),
        _ = stop.recv() => {
            if critical.load(Ordering::SeqCst) {
                runner.reporter.warn("stopping: finishing the refresh in flight first");
                ((&mut work).await, true)
            } else {
                runner.reporter.finish();
                return Ok(Pass::Stopped);
            }
        }
    };
    runner.reporter.finish();
    let mut results = results?;
    if !results.dry_run {
        runner.remember(std::mem::take(&mut results.ledger));
    }
    report::sync::print(&results, &runner.output);
    Ok(if stopped {
        Pass::Stopped
    } else {
        Pass::Done(results.all_done())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_jitter_and_back_off() {
        let day = Duration::from_secs(86_400);
        for _ in 0..20 {
            let w = next_wait(day, 0);
            assert!(w >= day && w <= day + day / 10, "{w:?}");
        }
        let first = next_wait(day, 1);
        assert!(first >= Duration::from_secs(60) && first <= Duration::from_secs(66));
        let third = next_wait(day, 3);
        assert!(third >= Duration::from_secs(240) && third <= Duration::from_secs(264));
        let hour = Duration::from_secs(3600);
        assert!(next_wait(hour, 30) <= hour + hour / 10);
    }
}
