//! This machine's Codex home: where `$CODEX_HOME/auth.json` is, and writing a new login
//! there as carefully as on targets (0700/0600, temp file then rename, never through a
//! symlink, another account's login kept as auth.json.bak, under Codex's own locks).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::AuthFile;

/// `$CODEX_HOME` if set and non-empty, else `~/.codex`.
pub(crate) fn codex_home() -> Option<PathBuf> {
    match std::env::var_os("CODEX_HOME") {
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => dirs::home_dir().map(|h| h.join(".codex")),
    }
}

/// Whether the local Codex home comes from `$CODEX_HOME`.
pub(crate) fn codex_home_from_env() -> bool {
    std::env::var_os("CODEX_HOME").is_some_and(|v| !v.is_empty())
}

pub(crate) fn auth_path() -> Option<PathBuf> {
    codex_home().map(|h| h.join("auth.json"))
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LocalOutcome {
    Created,
    Replaced { backup: Option<PathBuf> },
    Unchanged,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum LocalWriteError {
    #[error("cannot find the home directory for the local login")]
    NoHome,
    #[error("{path} holds a login of another account ({now})")]
    OtherAccount { path: String, now: String },
    #[error("cannot write {path}: {detail}")]
    Io { path: String, detail: String },
    #[error("{path} stayed locked for {secs} s: a Codex here is committing a refresh")]
    Busy { path: String, secs: u64 },
}

/// Who a login belongs to, in words that show no secret.
pub(crate) fn describe_account(a: &AuthFile) -> String {
    let s = &a.summary;
    match (&s.email, &s.api_key, &s.access_token) {
        (Some(e), _, _) => format!("ChatGPT account {e}"),
        (None, _, Some(t)) => format!("access token {t}"),
        (None, Some(k), None) => format!("API key {k}"),
        _ => format!("{} login", s.mode),
    }
}

/// Write `$CODEX_HOME/auth.json` as on targets: directory 0700, file 0600, temp file in
/// the same directory then rename (a symlink at the path is replaced, not followed).
/// A login of another account is only replaced with `force` (and then kept as .bak).
pub(crate) fn write_login(
    new: &AuthFile,
    force: bool,
    lock_wait: std::time::Duration,
) -> Result<(PathBuf, LocalOutcome), LocalWriteError> {
    let dir = codex_home().ok_or(LocalWriteError::NoHome)?;
    write_login_in(&dir, new, force, lock_wait)
}

pub(crate) fn write_login_in(
    dir: &Path,
    new: &AuthFile,
    force: bool,
    lock_wait: std::time::Duration,
) -> Result<(PathBuf, LocalOutcome), LocalWriteError> {
    let path = dir.join("auth.json");
    let io = |e: std::io::Error| LocalWriteError::Io {
        path: path.display().to_string(),
        detail: e.to_string(),
    };
    private_dir(dir).map_err(io)?;
    let _locks = codex_locks(dir, lock_wait).map_err(|e| match e {
        LockError::Busy(lock) => LocalWriteError::Busy {
            path: lock.display().to_string(),
            secs: lock_wait.as_secs(),
        },
        LockError::Io(e) => io(e),
    })?;
    let existing = match std::fs::symlink_metadata(&path) {
        Ok(m) if m.file_type().is_file() => std::fs::read(&path).ok(),
        _ => None,
    };
    let mut backup = None;
    if let Some(old) = &existing {
        if old.as_slice() == new.bytes().expose() {
            return Ok((path, LocalOutcome::Unchanged));
        }
        if let Ok(old_auth) = AuthFile::parse(old) {
            if !old_auth.same_account(new) {
                if !force {
                    return Err(LocalWriteError::OtherAccount {
                        path: path.display().to_string(),
                        now: describe_account(&old_auth),
                    });
                }
                let bak = dir.join("auth.json.bak");
                replace_atomically(dir, &bak, old).map_err(io)?;
                backup = Some(bak);
            }
        }
    }
    replace_atomically(dir, &path, new.bytes().expose()).map_err(io)?;
    let outcome = if existing.is_some() {
        LocalOutcome::Replaced { backup }
    } else {
        LocalOutcome::Created
    };
    Ok((path, outcome))
}

enum LockError {
    Busy(PathBuf),
    Io(std::io::Error),
}

/// Codex's own locks on a Codex home, taken as Codex 0.171 takes them around its commit
/// (`auth.lock`, then `auth.json.lock`) and held until dropped, so a refresh Codex
/// commits meanwhile and this write never interleave.
#[cfg(unix)]
fn codex_locks(dir: &Path, wait: std::time::Duration) -> Result<Vec<std::fs::File>, LockError> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let mut held = Vec::new();
    for name in ["auth.lock", "auth.json.lock"] {
        let path = dir.join(name);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .map_err(LockError::Io)?;
        let deadline = std::time::Instant::now() + wait;
        loop {
            // SAFETY: flock on a file descriptor this function owns.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                break;
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::WouldBlock {
                return Err(LockError::Io(err));
            }
            if std::time::Instant::now() > deadline {
                return Err(LockError::Busy(path));
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        held.push(file);
    }
    Ok(held)
}

/// Codex takes no file locks on Windows.
#[cfg(not(unix))]
fn codex_locks(_dir: &Path, _wait: std::time::Duration) -> Result<Vec<std::fs::File>, LockError> {
    Ok(Vec::new())
}

/// Create `dir` (and parents) 0700, or tighten an existing one that others can read.
#[cfg(unix)]
fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if !dir.exists() {
        return std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir);
    }
    if let Ok(m) = std::fs::metadata(dir) {
        if m.permissions().mode() & 0o077 != 0 {
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
    }
    Ok(())
}

/// Windows: the profile directory's ACL already keeps other users out.
#[cfg(not(unix))]
fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// A new file only this user can read, failing if the name exists.
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

fn replace_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let suffix = crate::encoding::random_b64url(9).map_err(std::io::Error::other)?;
    let tmp = dir.join(format!(".auth.json.{suffix}"));
    let result = (|| {
        let mut f = create_private(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    const WAIT: std::time::Duration = std::time::Duration::from_secs(10);

    #[test]
    fn local_write_is_private_atomic_and_guards_other_accounts() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("codex");
        let a = AuthFile::from_api_key("sk-test-local-a-000000000000000").unwrap();
        let b = AuthFile::from_api_key("sk-test-local-b-000000000000000").unwrap();
        let (path, out) = write_login_in(&dir, &a, false, WAIT).unwrap();
        assert_eq!(out, LocalOutcome::Created);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(
            write_login_in(&dir, &a, false, WAIT).unwrap().1,
            LocalOutcome::Unchanged
        );
        let err = write_login_in(&dir, &b, false, WAIT).unwrap_err();
        assert!(
            err.to_string().contains("API key sk-test-***00000"),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), a.bytes().expose());
        let (_, out) = write_login_in(&dir, &b, true, WAIT).unwrap();
        assert!(matches!(out, LocalOutcome::Replaced { backup: Some(_) }));
        assert_eq!(
            std::fs::read(dir.join("auth.json.bak")).unwrap(),
            a.bytes().expose()
        );
        // The write waits for Codex's locks, and gives up after a while.
        let holder = std::fs::File::open(dir.join("auth.json.lock")).unwrap();
        use std::os::fd::AsRawFd;
        assert_eq!(unsafe { libc::flock(holder.as_raw_fd(), libc::LOCK_EX) }, 0);
        let started = std::time::Instant::now();
        let waiter = std::thread::spawn({
            let (dir, a) = (dir.clone(), a.clone());
            move || write_login_in(&dir, &a, true, WAIT)
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        drop(holder);
        let (_, out) = waiter.join().unwrap().unwrap();
        assert!(matches!(out, LocalOutcome::Replaced { .. }));
        assert!(started.elapsed() >= std::time::Duration::from_millis(300));
        // A symlink at the path is replaced, its target untouched.
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        write_login_in(&dir, &a, false, WAIT).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert!(std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_file());
    }
}
