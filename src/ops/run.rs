//! `run`: a login that exists on a place only while one command runs there. The login
//! (this machine's, a saved one, a file's, another place's) is lent to a private
//! temporary Codex home on the place (a lease, `targets::Lease`), the command runs there
//! with `CODEX_HOME` pointing at it (on a terminal when this one is), its output and exit
//! status relayed as they come, signals passed on, and the lease is removed afterwards,
//! whatever happens. The copy is access-only unless `full`: then the login the command
//! leaves is written back to its source, never over a newer one.
//!
//! The command's own stdout and stderr are this process's (relayed here byte for byte);
//! everything `run` says goes through the sink, to stderr.

use std::time::Duration;

use std::io::Write;

use super::source::{self, Source};
use super::Run;
use crate::auth::local::{self, LocalHome, WriteOptions};
use crate::auth::AuthFile;
use crate::error::AppError;
use crate::ledger::{Change, LeaseEntry, Ledger};
use crate::targets::{
    Event, Expect, Lease, LeaseSignal, Spawn, TargetError, TargetSpec, Tty, LEASE_COMMAND_LINE,
};

/// What `run` was asked.
#[derive(Debug)]
pub(crate) struct RunOptions {
    /// Where (this machine when it is `local`).
    pub place: TargetSpec,
    pub source: Source,
    /// Lend the whole login (refresh token included), and write back what it becomes.
    pub full: bool,
    pub codex_home: Option<String>,
    /// The command and its arguments.
    pub command: Vec<String>,
    pub target_timeout: Duration,
    pub lock_wait: Duration,
}

/// How the run went.
pub(crate) struct RunOutcome {
    /// The private Codex home the login was lent to.
    pub lease: String,
    /// The command's exit status (128 + N for signal N); `None`: the place was lost
    /// before the command's end was seen.
    pub status: Option<i32>,
    /// Whether the place said the lease was removed (or why it could not be told).
    pub removed: Result<bool, TargetError>,
    /// With `full`: what happened to the login the command left, when it changed.
    pub written_back: Option<Result<String, String>>,
}

/// Where a `--full` run's login goes back to.
enum Back {
    Saved(String),
    ThisMachine(Option<Expect>),
}

/// Run the command with a lent login, and take the login away after.
pub(crate) async fn run(opts: RunOptions, run: &Run) -> Result<RunOutcome, AppError> {
    let here = !opts.place.kind().remote();
    let (login, back) = read_source(&opts, run).await?;
    let lent = lent_copy(&login, opts.full, run)?;
    let display = opts.place.display();
    let timeout = opts.target_timeout;
    let unreachable = |e: TargetError| {
        let hint = e.hint.clone();
        AppError::failed(
            format!("{display}: {}", e.message),
            hint.or(Some("nothing was left there".into())),
        )
    };
    let target = match tokio::time::timeout(timeout, opts.place.connect(&run.ctx)).await {
        Ok(t) => t.map_err(unreachable)?,
        Err(_) => {
            return Err(unreachable(TargetError::timed_out(
                "connecting",
                timeout,
                "nothing was sent",
            )))
        }
    };
    let codex_home = if here {
        None
    } else {
        opts.codex_home.as_deref()
    };
    let opened = tokio::time::timeout(
        timeout,
        Lease::open(
            target.as_ref(),
            lent.bytes().expose(),
            opts.full,
            codex_home,
            opts.command.first().is_some_and(|c| c == "codex"),
        ),
    )
    .await;
    let mut lease = match opened {
        Ok(l) => l.map_err(unreachable)?,
        Err(_) => {
            return Err(unreachable(TargetError::timed_out(
                "making the lease",
                timeout,
                "its keeper removes whatever it made once this side is gone",
            )))
        }
    };

    let record = LeaseRecord::made(
        LeaseEntry::of_this_run(display.clone(), lease.path.clone(), &lent),
        run,
    );

    let terminal = crate::console::stdin_is_terminal();
    let tty = (terminal && !here).then(|| {
        let (term, cols, rows) = crate::console::terminal();
        Tty { term, cols, rows }
    });
    let mut args = vec![
        lease.path.clone(),
        lease.codex_dir.clone().unwrap_or_default(),
    ];
    args.extend(opts.command.iter().cloned());
    let spawned = target
        .spawn(&Spawn {
            line: LEASE_COMMAND_LINE,
            args: &args,
            tty,
            inherit: here,
        })
        .await;
    let mut command = match spawned {
        Ok(c) => c,
        Err(e) => {
            let _ = lease.end(false, Duration::from_secs(10)).await;
            drop(record);
            return Err(unreachable(e));
        }
    };

    let raw = if terminal && !here {
        crate::console::RawMode::enter()
    } else {
        None
    };
    let mut stdin = (!here).then(crate::console::read_stdin);
    let mut signals = Signals::new()?;
    // (written as it comes: a command's output is small, and a pipe that stops reading
    // stops the command as it would with ssh)
    let mut stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    let mut status = None;
    // Ctrl-C three times (or TERM after a Ctrl-C) kills a command that will not stop.
    let mut interrupts = 0;
    loop {
        tokio::select! {
            event = command.next() => match event {
                Event::Stdout(b) => {
                    let _ = stdout.write_all(&b);
                    let _ = stdout.flush();
                }
                Event::Stderr(b) => {
                    let _ = stderr.write_all(&b);
                    let _ = stderr.flush();
                }
                Event::Exit(code) => status = Some(code),
                Event::Closed => break,
            },
            chunk = next_chunk(&mut stdin) => match chunk {
                Some(data) => {
                    let _ = command.write(&data).await;
                }
                None => {
                    command.close_stdin().await;
                    stdin = None;
                }
            },
            signal = signals.next() => match signal {
                // On a terminal here the command shares it, and Ctrl-C reached it already.
                Caught::Int if here && terminal => {}
                Caught::Int => {
                    interrupts += 1;
                    let signal = if interrupts >= 3 { LeaseSignal::Kill } else { LeaseSignal::Int };
                    lease.signal(signal).await
                }
                Caught::Term => lease.signal(LeaseSignal::Term).await,
                Caught::Hup => lease.signal(LeaseSignal::Hup).await,
                Caught::Winch => {
                    if let Some((cols, rows)) = crate::console::size() {
                        command.resize(cols, rows).await;
                    }
                }
            },
        }
    }
    drop(raw);
    drop(command);
    let lease_path = lease.path.clone();
    let ended = lease.end(status.is_some(), Duration::from_secs(15)).await;
    drop(record);
    target.close().await;
    let (removed, changed) = match ended {
        Ok(end) => (Ok(end.removed), end.changed),
        Err(e) => (Err(e), None),
    };
    let written_back = match (changed, &back) {
        (Some(bytes), Some(back)) => Some(write_back(&lent, bytes.expose(), back, opts.lock_wait)),
        _ => None,
    };
    Ok(RunOutcome {
        lease: lease_path,
        status,
        removed,
        written_back,
    })
}

/// The lease in the ledger while it lives: recorded when made, dropped when this value
/// is (on every way out of `run`), so that a sync does not refresh a session lent whole
/// under the command, and status names it. A failure to write is a warning.
struct LeaseRecord {
    ledger: Option<Ledger>,
    place: String,
    lease: String,
    sink: std::sync::Arc<dyn super::ProgressSink>,
}

impl LeaseRecord {
    fn made(entry: LeaseEntry, run: &Run) -> LeaseRecord {
        let record = LeaseRecord {
            ledger: Ledger::open(),
            place: entry.place.clone(),
            lease: entry.lease.clone(),
            sink: run.sink.clone(),
        };
        record.apply(Change::LeaseMade(Box::new(entry)));
        record
    }

    fn apply(&self, change: Change) {
        if let Some(w) = self.ledger.as_ref().and_then(|l| l.update(vec![change])) {
            self.sink.warn(&w);
        }
    }
}

impl Drop for LeaseRecord {
    fn drop(&mut self) {
        let ended = Change::LeaseEnded {
            place: std::mem::take(&mut self.place),
            lease: std::mem::take(&mut self.lease),
        };
        self.apply(ended);
    }
}

/// The login to lend, and (with `full`) where what it becomes goes back to.
async fn read_source(opts: &RunOptions, run: &Run) -> Result<(AuthFile, Option<Back>), AppError> {
    let refuse_full = |what: &str| {
        AppError::usage(
            format!("--full writes the login the command leaves back to its source, and {what} cannot be written back"),
            Some("lend this machine's login or a saved one (--from saved:NAME), or drop --full (an access-only copy cannot rotate the session)"),
        )
    };
    match &opts.source {
        Source::File(path) => {
            if opts.full {
                return Err(refuse_full(&format!("a file ({})", path.display())));
            }
            Ok((source::from_file(path)?, None))
        }
        Source::Saved(name) => Ok((source::from_saved(name)?, Some(Back::Saved(name.clone())))),
        Source::Place(spec) => {
            if opts.full && spec.kind().remote() {
                return Err(refuse_full(&format!("another place ({})", spec.display())));
            }
            let read = source::read_place(spec, &run.ctx).await?;
            let back =
                (!spec.kind().remote()).then(|| Back::ThisMachine(read.seen.expect_unchanged()));
            Ok((read.auth, back))
        }
        Source::ApiKeyStdin | Source::AccessTokenStdin | Source::FreshLogin(_) => {
            Err(AppError::usage(
                "run lends a login that exists already; stdin is the command's",
                Some("save the key as a login first, or pass --from FILE"),
            ))
        }
    }
}

/// The copy the place gets: without the refresh token unless `full` (a ChatGPT login);
/// an API key or access token as it is (neither rotates).
fn lent_copy(login: &AuthFile, full: bool, run: &Run) -> Result<AuthFile, AppError> {
    if full || !login.is_rotating_session() {
        return Ok(login.clone());
    }
    let copy = login.access_only_copy().ok_or_else(|| {
        AppError::failed(
            "the login cannot be made access-only",
            Some("pass --full to lend the whole login".into()),
        )
    })?;
    if let Some(exp) = login.summary.access_expires {
        let left = exp - crate::timestamp::now_unix();
        if left < 15 * 60 {
            run.sink.warn(&format!(
                "the access token {}: the command cannot refresh an access-only copy; run `codex-auth sync` first, or pass --full",
                if left <= 0 {
                    "has expired".to_string()
                } else {
                    format!("expires in {}", crate::timestamp::human(left))
                }
            ));
        }
    }
    Ok(copy)
}

/// The login a `--full` command left (refreshed there), back to its source: only the
/// same sign-in, only newer than what the source holds, only where the source still
/// holds what was read.
fn write_back(
    lent: &AuthFile,
    changed: &[u8],
    back: &Back,
    lock_wait: Duration,
) -> Result<String, String> {
    let after = AuthFile::parse(changed).map_err(|e| {
        format!("the command left no login Codex reads ({e}); the source keeps its own")
    })?;
    if !after.same_sign_in(lent) {
        return Err(format!(
            "the command left another login ({}); the source keeps its own",
            local::describe_account(&after)
        ));
    }
    if after.generation() <= lent.generation() {
        return Ok("unchanged".into());
    }
    match back {
        Back::Saved(name) => {
            let saved = crate::saved::SavedLogins::open().ok_or("no state directory")?;
            if let Some(now) = saved.load(name)? {
                if now.same_sign_in(&after) && now.generation() >= after.generation() {
                    return Ok(format!("saved login {name} is newer already"));
                }
            }
            saved.store(name, &after)?;
            Ok(format!("saved login {name}"))
        }
        Back::ThisMachine(expect) => {
            let home = LocalHome::resolve().ok_or("no home directory for Codex")?;
            let opts = WriteOptions {
                force: true,
                lock_wait,
                expect: expect.as_ref(),
                dry_run: false,
            };
            local::save_login(&home, &after, &opts)
                .map(|saved| format!("this machine's login ({})", saved.place))
                .map_err(|e| e.to_string())
        }
    }
}

/// The next chunk of stdin (`None` at its end); never, once it ended.
async fn next_chunk(
    stdin: &mut Option<tokio::sync::mpsc::Receiver<Option<Vec<u8>>>>,
) -> Option<Vec<u8>> {
    match stdin {
        Some(rx) => rx.recv().await.flatten(),
        None => std::future::pending().await,
    }
}

/// The signals `run` passes on.
enum Caught {
    Int,
    Term,
    Hup,
    Winch,
}

struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    winch: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Signals, AppError> {
        use tokio::signal::unix::{signal, SignalKind};
        let listen = |kind| {
            signal(kind)
                .map_err(|e| AppError::failed(format!("cannot listen for signals: {e}"), None))
        };
        Ok(Signals {
            int: listen(SignalKind::interrupt())?,
            term: listen(SignalKind::terminate())?,
            hup: listen(SignalKind::hangup())?,
            winch: listen(SignalKind::window_change())?,
        })
    }

    async fn next(&mut self) -> Caught {
        tokio::select! {
            _ = self.int.recv() => Caught::Int,
            _ = self.term.recv() => Caught::Term,
            _ = self.hup.recv() => Caught::Hup,
            _ = self.winch.recv() => Caught::Winch,
        }
    }
}
