//! A lease: a private Codex home on a place that holds a login for one command (`run`).
//! Its keeper (`sh/lease.sh`) runs beside the command on the same connection, holding
//! the lease for as long as this side holds the keeper's stdin open; the lease goes when
//! the command ended and this side says so, when this side goes away (a killed `run`, a
//! cut connection: the keeper's stdin closes and it stops the command and removes the
//! lease), or, were the keeper killed too, at the next `run` or `status` there.

use std::time::Duration;

use super::script::{self, LeaseReader};
use super::{Event, Process, Spawn, Target, TargetError};

pub(crate) use super::script::LeaseEnd;
use crate::targets::ErrorClass;

/// How the command starts inside a lease: `sh -c LINE sh LEASE CODEX_DIR CMD ARGS...`;
/// CODEX_DIR (the codex its user would run, when CMD is codex) first on PATH; its PID
/// where the keeper finds it (to pass signals on), then CMD in its place.
pub(crate) const COMMAND_LINE: &str = "CODEX_HOME=$1; export CODEX_HOME; \
    if [ -n \"$2\" ]; then PATH=$2:$PATH; export PATH; fi; shift 2; \
    echo $$ >\"$CODEX_HOME/.command\"; exec \"$@\"";

/// A lease held on a place.
pub(crate) struct Lease {
    keeper: Box<dyn Process>,
    reader: LeaseReader,
    /// The private Codex home there.
    pub path: String,
    /// The directory of the codex the place's user would run (asked for a codex command).
    pub codex_dir: Option<String>,
}

/// Which signal the command gets.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Signal {
    Int,
    Term,
    Hup,
    Kill,
}

impl Lease {
    /// Make a lease on `target` holding `login` (beside `codex_home`, or the place's own
    /// Codex home); with `full`, the login the command leaves is sent back at the end
    /// when it changed.
    pub(crate) async fn open(
        target: &dyn Target,
        login: &[u8],
        full: bool,
        codex_home: Option<&str>,
        find_codex: bool,
    ) -> Result<Lease, TargetError> {
        let (home_from, default_home) = target.lease_whom();
        let home = codex_home.map(str::to_string).or(default_home);
        let (invocation, _sum) =
            script::lease_invocation(&home_from, home.as_deref(), login, full, find_codex)?;
        let line = invocation.line()?;
        let mut keeper = target
            .spawn(&Spawn {
                line,
                args: &[],
                tty: None,
                inherit: false,
            })
            .await
            .map_err(|e| e.not_started("lease"))?;
        keeper.write(invocation.stdin()).await?;
        let mut reader = LeaseReader::new(invocation);
        let mut exit = None;
        loop {
            match keeper.next().await {
                Event::Stdout(b) => {
                    reader.stdout(&b);
                    match reader.started() {
                        None => {}
                        Some(Ok((path, codex_dir))) => {
                            return Ok(Lease {
                                keeper,
                                reader,
                                path,
                                codex_dir,
                            })
                        }
                        Some(Err(e)) => {
                            keeper.close_stdin().await;
                            return Err(e);
                        }
                    }
                }
                Event::Stderr(b) => reader.stderr(&b),
                Event::Exit(code) => exit = Some(code as u32),
                Event::Closed => return Err(reader.unfinished(exit)),
            }
        }
    }

    /// Pass `signal` on to the command (through the keeper, which knows its PID).
    pub(crate) async fn signal(&mut self, signal: Signal) {
        let word: &[u8] = match signal {
            Signal::Int => b"int\n",
            Signal::Term => b"term\n",
            Signal::Hup => b"hup\n",
            Signal::Kill => b"kill\n",
        };
        let _ = self.keeper.write(word).await;
    }

    /// Remove the lease: `ended` says the command ended (else the keeper stops it
    /// first). Waits up to `wait` for the keeper to say so.
    pub(crate) async fn end(
        mut self,
        ended: bool,
        wait: Duration,
    ) -> Result<LeaseEnd, TargetError> {
        if ended {
            let _ = self.keeper.write(b"end\n").await;
        }
        self.keeper.close_stdin().await;
        let reader = &mut self.reader;
        let keeper = &mut self.keeper;
        let read = async {
            loop {
                if let Some(end) = reader.ended() {
                    return end;
                }
                match keeper.next().await {
                    Event::Stdout(b) => reader.stdout(&b),
                    Event::Stderr(b) => reader.stderr(&b),
                    Event::Exit(_) => {}
                    Event::Closed => {
                        return reader.ended().unwrap_or_else(|| {
                            Err(TargetError::new(
                                ErrorClass::Disconnected,
                                "the lease's keeper ended before saying that the lease was removed",
                                None,
                            ))
                        })
                    }
                }
            }
        };
        match tokio::time::timeout(wait, read).await {
            Ok(r) => r,
            Err(_) => Err(TargetError::new(
                ErrorClass::Timeout,
                format!(
                    "the lease's keeper did not say within {} s that the lease was removed",
                    wait.as_secs()
                ),
                None,
            )),
        }
    }
}
