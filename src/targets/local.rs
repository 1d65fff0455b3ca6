//! This machine as a kind of place: its Codex home (`$CODEX_HOME`, else `~/.codex`) and
//! its login where its Codex keeps it (auth.json or the OS keyring, as its config.toml
//! says), installed, inspected and removed through `auth::local` behind the same
//! [`Target`] as hosts and containers. `--codex-home` names the targets' homes, never
//! this machine's. The blocking work (locks, keyring calls) runs off the async threads.

use std::sync::Arc;

use clap::Args;
use futures_util::future::BoxFuture;

use super::{
    ConnectContext, ErrorClass, Event, FileKind, Fingerprint, InspectReport, InspectRequest,
    InstallReport, InstallRequest, Location, Outcome, Previous, Process, RemoveOutcome,
    RemoveReport, RemoveRequest, Spawn, Target, TargetError, TargetKind,
};
use crate::auth::local::{
    self, LocalHome, LocalOutcome, LocalPlace, LocalRead, LocalReadError, LocalWriteError,
    WriteOptions,
};
use crate::auth::store::CredentialStore;
use crate::auth::verdict::{self, CodexSeen};
use crate::auth::AuthFile;
use crate::error::AppError;

/// This machine, as a kind of place.
pub(crate) struct LocalKind;

/// The one place of this kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ThisMachine;

/// This machine takes no flags of its own: each command says how it is named
/// (`push --local`, `logout` alone, always for `status`).
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct NoArgs {}

impl TargetKind for LocalKind {
    const NAME: &'static str = "local";
    const EXAMPLE: &'static str = "--local";
    const ADDRESS: &'static str = "";
    const REMOTE: bool = false;
    type Spec = ThisMachine;
    type Args = NoArgs;
    type Context = ();

    fn named(_args: &NoArgs) -> Result<Vec<ThisMachine>, AppError> {
        Ok(Vec::new())
    }

    fn context(_args: &NoArgs) -> Result<(), AppError> {
        Ok(())
    }

    fn naming_flag(_args: &NoArgs) -> Option<&'static str> {
        None
    }

    fn option_flag(_args: &NoArgs) -> Option<&'static str> {
        None
    }

    fn label(_spec: &ThisMachine) -> String {
        Self::NAME.to_string()
    }

    fn display(_spec: &ThisMachine) -> String {
        Self::NAME.to_string()
    }

    fn address(_spec: &ThisMachine) -> String {
        String::new()
    }

    fn parse(rest: &str) -> Result<ThisMachine, AppError> {
        if rest.is_empty() {
            Ok(ThisMachine)
        } else {
            Err(AppError::usage(
                format!("{}:{rest} names nothing", Self::NAME),
                Some("this machine is `local`, with nothing after it"),
            ))
        }
    }

    fn connect<'a>(
        _spec: &'a ThisMachine,
        _ctx: &'a ConnectContext,
    ) -> BoxFuture<'a, Result<Box<dyn Target>, TargetError>> {
        Box::pin(async { Ok(Box::new(LocalTarget) as Box<dyn Target>) })
    }
}

/// This machine's Codex home and login.
pub(crate) struct LocalTarget;

fn no_home() -> TargetError {
    TargetError::new(
        ErrorClass::NoHome,
        "cannot find the home directory",
        Some("set CODEX_HOME"),
    )
}

/// Run blocking work (locks waited for, keyring calls) off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, TargetError> + Send + 'static,
) -> Result<T, TargetError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|_| Err(TargetError::worker_lost()))
}

/// Where this machine's login lives, for reports.
fn location(home: &LocalHome) -> Location {
    Location {
        dir: home.dir.display().to_string(),
        home_from: home.from,
        user: std::env::var("USER").unwrap_or_default(),
        store: home.store(),
    }
}

/// A failed write here, classed as on targets.
fn write_error(e: LocalWriteError) -> TargetError {
    let class = match &e {
        LocalWriteError::Keyring(_) | LocalWriteError::Current(LocalReadError::Keyring(_)) => {
            ErrorClass::Keyring
        }
        LocalWriteError::Busy { .. } => ErrorClass::Busy,
        LocalWriteError::Changed { .. } => ErrorClass::Changed,
        LocalWriteError::UnsafeHome { .. } => ErrorClass::UnsafeHome,
        _ => ErrorClass::Io,
    };
    let hint = e
        .hint()
        .or_else(|| class.default_hint().map(str::to_string));
    TargetError::new(class, e.to_string(), hint.as_deref())
}

/// A keyring this machine's config.toml insists on, and cannot use.
fn keyring_error(e: &crate::auth::os_keyring::KeyringError) -> TargetError {
    TargetError::new(
        ErrorClass::Keyring,
        format!("config.toml sets cli_auth_credentials_store = \"keyring\", and {e}"),
        Some(e.hint()),
    )
}

/// A child process here: the command on this process's own stdin, stdout and stderr,
/// or (the keeper of a lease) on pipes.
struct LocalProcess {
    child: tokio::process::Child,
    stdin: Option<tokio::process::ChildStdin>,
    output: Option<tokio::sync::mpsc::Receiver<Event>>,
    exited: bool,
}

impl LocalProcess {
    fn start(spawn: &Spawn<'_>) -> Result<LocalProcess, TargetError> {
        use std::process::Stdio;
        let mut command = tokio::process::Command::new("sh");
        command.arg("-c").arg(spawn.line).arg("sh").args(spawn.args);
        if !spawn.inherit {
            command
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
        }
        let mut child = command.spawn().map_err(|e| {
            TargetError::new(ErrorClass::Remote, format!("cannot start sh: {e}"), None)
        })?;
        let stdin = child.stdin.take();
        let output = match (child.stdout.take(), child.stderr.take()) {
            (Some(out), Some(err)) => {
                let (tx, rx) = tokio::sync::mpsc::channel(16);
                tokio::spawn(pump(out, tx.clone(), Event::Stdout));
                tokio::spawn(pump(err, tx, Event::Stderr));
                Some(rx)
            }
            _ => None,
        };
        Ok(LocalProcess {
            child,
            stdin,
            output,
            exited: false,
        })
    }
}

/// Everything `from` gives, as events, until its end.
async fn pump(
    mut from: impl tokio::io::AsyncRead + Unpin,
    to: tokio::sync::mpsc::Sender<Event>,
    event: fn(Vec<u8>) -> Event,
) {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 16 << 10];
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 || to.send(event(buf[..n].to_vec())).await.is_err() {
            break;
        }
    }
}

impl Process for LocalProcess {
    fn next(&mut self) -> BoxFuture<'_, Event> {
        Box::pin(async move {
            if let Some(output) = &mut self.output {
                if let Some(event) = output.recv().await {
                    return event;
                }
                self.output = None;
            }
            if self.exited {
                return Event::Closed;
            }
            self.exited = true;
            match self.child.wait().await {
                Ok(status) => {
                    use std::os::unix::process::ExitStatusExt;
                    Event::Exit(
                        status
                            .code()
                            .or(status.signal().map(|s| 128 + s))
                            .unwrap_or(255),
                    )
                }
                Err(_) => Event::Closed,
            }
        })
    }

    fn write<'a>(&'a mut self, data: &'a [u8]) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(async move {
            use tokio::io::AsyncWriteExt;
            match &mut self.stdin {
                Some(stdin) => stdin.write_all(data).await.map_err(|e| {
                    TargetError::new(
                        ErrorClass::Remote,
                        format!("the process's stdin closed: {e}"),
                        None,
                    )
                }),
                None => Ok(()),
            }
        })
    }

    fn close_stdin(&mut self) -> BoxFuture<'_, ()> {
        self.stdin = None;
        Box::pin(async {})
    }
}

impl Target for LocalTarget {
    fn spawn<'a>(
        &'a self,
        spawn: &'a Spawn<'a>,
    ) -> BoxFuture<'a, Result<Box<dyn Process>, TargetError>> {
        Box::pin(async move { LocalProcess::start(spawn).map(|p| Box::new(p) as Box<dyn Process>) })
    }

    fn lease_whom(&self) -> (super::ScriptHome, Option<String>) {
        (
            super::ScriptHome::Environment,
            LocalHome::resolve().map(|h| h.dir.display().to_string()),
        )
    }

    fn install<'a>(
        &'a self,
        req: &'a InstallRequest<'_>,
    ) -> BoxFuture<'a, Result<InstallReport, TargetError>> {
        let auth = req.auth.clone();
        let (force, dry_run, lock_wait) = (req.force, req.dry_run, req.lock_wait);
        let expect = req.expect.clone();
        let codex_version = req.codex_version;
        Box::pin(async move {
            let (home, saved) = blocking(move || {
                let home = LocalHome::resolve().ok_or_else(no_home)?;
                let opts = WriteOptions {
                    force,
                    lock_wait,
                    expect: expect.as_ref(),
                    dry_run,
                };
                let saved = local::save_login(&home, &auth, &opts).map_err(write_error)?;
                Ok((home, saved))
            })
            .await?;
            let (outcome, previous, backup) = match &saved.outcome {
                LocalOutcome::Created => (Outcome::Installed, Previous::None, None),
                LocalOutcome::Replaced { backup } => (
                    Outcome::Installed,
                    Previous::Different,
                    backup.as_ref().map(|b| b.display().to_string()),
                ),
                LocalOutcome::Unchanged => (Outcome::Unchanged, Previous::Same, None),
            };
            let outcome = match outcome {
                Outcome::Installed if dry_run => Outcome::WouldInstall,
                o => o,
            };
            let mut report = InstallReport::new(outcome, &location(&home));
            report.path = saved.place.to_string();
            report.previous = previous;
            report.backup = backup;
            report.verified = !dry_run;
            if let Some(why) = &saved.fell_back {
                report
                    .notes
                    .push(format!("{why}: saved in the file instead (auto)"));
            }
            if let Some(p) = &saved.removed_file {
                report.notes.push(format!(
                    "removed {} (the login is in the keyring)",
                    p.display()
                ));
            }
            if !dry_run {
                (report.codex_status, report.codex) =
                    codex_verdict(&home, codex_version).await.unzip();
            }
            Ok(report)
        })
    }

    fn inspect<'a>(
        &'a self,
        req: &'a InspectRequest<'_>,
    ) -> BoxFuture<'a, Result<InspectReport, TargetError>> {
        let (judge, codex_version) = (req.judge, req.codex_version);
        Box::pin(async move {
            let (home, read, cleaned) = blocking(|| {
                let home = LocalHome::resolve().ok_or_else(no_home)?;
                let read = local::read_login(&home);
                let cleaned = clean_dead_leases(&home.dir);
                Ok((home, read, cleaned))
            })
            .await?;
            let path = home.auth_path();
            let (content, keyring_account, mut notes) = match read {
                Ok(LocalRead::Found {
                    bytes,
                    place,
                    fell_back,
                }) => {
                    let notes: Vec<String> = fell_back
                        .map(|e| format!("{e}: Codex reads auth.json instead (auto)"))
                        .into_iter()
                        .collect();
                    match place {
                        LocalPlace::Keyring { account } => (Some(bytes), Some(account), notes),
                        LocalPlace::File(_) => (Some(bytes), None, notes),
                    }
                }
                Ok(LocalRead::Missing(why)) => (None, None, vec![why]),
                Err(LocalReadError::Keyring(e)) => return Err(keyring_error(&e)),
                Err(e) => return Err(TargetError::new(ErrorClass::Io, e.to_string(), None)),
            };
            let in_file = keyring_account.is_none();
            let meta = std::fs::symlink_metadata(&path).ok();
            let kind = match (&meta, &content) {
                (_, Some(_)) if !in_file => FileKind::File,
                (None, _) => FileKind::None,
                (Some(m), _) if m.file_type().is_symlink() => FileKind::Symlink,
                (Some(m), _) if m.is_dir() => FileKind::Dir,
                (Some(_), _) => FileKind::File,
            };
            if content.is_none() && meta.is_none() {
                // Nothing to read: a plain "not logged in", which the state says already.
                notes.retain(|n| !n.ends_with("does not exist"));
            }
            notes.extend(cleaned.iter().map(|l| super::script::cleaned_lease_note(l)));
            let (codex_status, codex) = match judge {
                true => codex_verdict(&home, codex_version).await.unzip(),
                false => (None, None),
            };
            Ok(InspectReport {
                location: location(&home),
                kind,
                file_mode: if in_file { file_mode(&path) } else { None },
                codex_status,
                codex,
                forced: home.config.forced.clone(),
                notes,
                unreadable: false,
                content: content.map(std::sync::Arc::new),
                keyring_account,
                sum: None,
            })
        })
    }

    fn remove<'a>(
        &'a self,
        req: &'a RemoveRequest<'_>,
    ) -> BoxFuture<'a, Result<RemoveReport, TargetError>> {
        let (keep_backup, dry_run, lock_wait) = (req.keep_backup, req.dry_run, req.lock_wait);
        let expect = req.expect.clone();
        Box::pin(blocking(move || {
            let home = LocalHome::resolve().ok_or_else(no_home)?;
            let opts = WriteOptions {
                force: false,
                lock_wait,
                expect: expect.as_ref(),
                dry_run,
            };
            let removed = local::remove_login(&home, keep_backup, &opts).map_err(|e| match e {
                LocalWriteError::Keyring(k)
                | LocalWriteError::Current(LocalReadError::Keyring(k)) => keyring_error(&k),
                LocalWriteError::Current(read) => {
                    TargetError::new(ErrorClass::Io, read.to_string(), None)
                }
                other => write_error(other),
            })?;
            let outcome = match (removed.places.is_empty(), dry_run) {
                (true, _) => RemoveOutcome::Absent,
                (false, true) => RemoveOutcome::WouldRemove,
                (false, false) => RemoveOutcome::Removed,
            };
            let path = removed
                .places
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" and ");
            let mut notes = Vec::new();
            if home.store() == CredentialStore::Ephemeral {
                notes.push(
                    "Codex here keeps its login in memory only (ephemeral): nothing is stored to remove"
                        .into(),
                );
            }
            let at = location(&home);
            Ok(RemoveReport {
                outcome,
                path: if path.is_empty() {
                    at.auth_path()
                } else {
                    path
                },
                home_from: at.home_from,
                user: at.user,
                credential_store: at.store,
                backup: removed.backup.map(|b| b.display().to_string()),
                removed_sum: removed
                    .login
                    .as_ref()
                    .filter(|_| outcome != RemoveOutcome::Absent)
                    .map(|l| Fingerprint::of(l.expose())),
                // This machine's own login is here anyway: it names what went.
                removed: removed.login.filter(|_| outcome != RemoveOutcome::Absent),
                codex_status: None,
                codex: None,
                notes,
            })
        }))
    }
}

/// The login this machine's Codex uses, decoded (`None`: none, or none that parses):
/// what a push from here sends, and what a forwarded login would replace.
pub(crate) fn current_login() -> Option<AuthFile> {
    current_login_as_read().map(|(auth, _)| auth)
}

/// This machine's login, and the fingerprint of what was read where it is kept (the
/// keyring's compact form, or the file): the precondition of a write that must find it
/// unchanged.
pub(crate) fn current_login_as_read() -> Option<(AuthFile, Fingerprint)> {
    let home = LocalHome::resolve()?;
    match local::read_login(&home).ok()? {
        LocalRead::Found { bytes, place, .. } => {
            let read = Fingerprint::of(bytes.expose());
            let auth = match place {
                // Kept as compact JSON there; a target gets the file Codex would write.
                LocalPlace::Keyring { .. } => {
                    AuthFile::from_keyring_value(&String::from_utf8_lossy(bytes.expose())).ok()
                }
                LocalPlace::File(_) => AuthFile::parse(bytes.expose()).ok(),
            }?;
            Some((auth, read))
        }
        LocalRead::Missing(_) => None,
    }
}

#[cfg(unix)]
fn file_mode(path: &std::path::Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| format!("{:o}", m.permissions().mode() & 0o777))
}

#[cfg(not(unix))]
fn file_mode(_: &std::path::Path) -> Option<String> {
    None
}

/// Make `name` in `scratch` point at the real file (a copy where links are not allowed).
fn link_into(real: &std::path::Path, scratch: &std::path::Path) {
    let Some(name) = real.file_name() else {
        return;
    };
    #[cfg(unix)]
    let _ = std::os::unix::fs::symlink(real, scratch.join(name));
    #[cfg(not(unix))]
    let _ = std::fs::copy(real, scratch.join(name));
}

/// Where `codex` is on this machine's PATH.
fn local_codex() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(if cfg!(windows) { "codex.exe" } else { "codex" }))
        .find(|p| p.is_file())
}

/// `codex login status` for the login of `home`, run in a scratch home that links to
/// its auth.json and config.toml (Codex writes helper files into whatever home it runs
/// in); a home whose Codex may read the keyring is asked as it is, since the keyring
/// entry is named after the home's own path.
async fn codex_verdict(home: &LocalHome, codex_version: bool) -> Option<(String, CodexSeen)> {
    let codex = local_codex()?;
    let mut scratch = tempfile::Builder::new();
    scratch.prefix("codex-auth-status");
    // Only we may enter it, whatever the umask: another user must not swap the links.
    #[cfg(unix)]
    scratch.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
    let scratch = scratch.tempdir().ok()?;
    let run_in = if home.store().may_ignore_file() {
        home.dir.clone()
    } else {
        for name in ["auth.json", "config.toml"] {
            let real = home.dir.join(name);
            if real.exists() {
                link_into(&real, scratch.path());
            }
        }
        scratch.path().to_path_buf()
    };
    let codex = Arc::new(codex);
    let run = |args: &'static [&'static str]| {
        tokio::process::Command::new(codex.as_ref())
            .args(args)
            .env("CODEX_HOME", &run_in)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output()
    };
    let out = run(&["login", "status"]).await.ok()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let (seen, line) = verdict::judge(out.status.code().map(i64::from), text.lines());
    let version = match codex_version {
        true => run(&["--version"])
            .await
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|v| !v.is_empty()),
        false => None,
    };
    Some((
        line,
        CodexSeen {
            verdict: seen,
            path: Some(codex.display().to_string()),
            version,
        },
    ))
}

/// Remove the leases of `run`s here whose keeper is gone (a SIGKILLed run whose keeper
/// was killed with it), as `clean_leases` of the scripts does at other places: only
/// this user's directories, never through a link; the paths removed.
#[cfg(unix)]
fn clean_dead_leases(codex_home: &std::path::Path) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(codex_home.join(".codex-auth-run")) else {
        return Vec::new();
    };
    // SAFETY: getuid has no preconditions and cannot fail.
    let me = unsafe { libc::getuid() };
    let mut cleaned = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != me {
            continue;
        }
        // (a lease still being made has no keeper file yet, and is left)
        let Ok(keeper) = std::fs::read_to_string(path.join(".keeper")) else {
            continue;
        };
        let mut words = keeper.split_whitespace();
        let Some(pid) = words.next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let start = words.next().and_then(|s| s.parse::<u64>().ok());
        if pid == 0 || crate::liveness::process_alive(pid, start) {
            continue;
        }
        if std::fs::remove_dir_all(&path).is_ok() {
            cleaned.push(path.display().to_string());
        }
    }
    cleaned
}

#[cfg(not(unix))]
fn clean_dead_leases(_codex_home: &std::path::Path) -> Vec<String> {
    Vec::new()
}
