//! This machine's Codex home: where `$CODEX_HOME/auth.json` is, and writing a new login
//! there as carefully as on targets (0700/0600, temp file then rename, never through a
//! symlink, another account's login kept as auth.json.bak).

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
}

/// Who a login belongs to, in words that show no secret.
pub(crate) fn describe_account(a: &AuthFile) -> String {
    let s = &a.summary;
    match (&s.email, &s.api_key) {
        (Some(e), _) => format!("ChatGPT account {e}"),
        (None, Some(k)) => format!("API key {k}"),
        _ => format!("{} login", s.mode),
    }
}

/// Write `$CODEX_HOME/auth.json` as on targets: directory 0700, file 0600, temp file in
/// the same directory then rename (a symlink at the path is replaced, not followed).
/// A login of another account is only replaced with `force` (and then kept as .bak).
pub(crate) fn write_login(
    new: &AuthFile,
    force: bool,
) -> Result<(PathBuf, LocalOutcome), LocalWriteError> {
    let dir = codex_home().ok_or(LocalWriteError::NoHome)?;
    write_login_in(&dir, new, force)
}

pub(crate) fn write_login_in(
    dir: &Path,
    new: &AuthFile,
    force: bool,
) -> Result<(PathBuf, LocalOutcome), LocalWriteError> {
    let path = dir.join("auth.json");
    let io = |e: std::io::Error| LocalWriteError::Io {
        path: path.display().to_string(),
        detail: e.to_string(),
    };
    private_dir(dir).map_err(io)?;
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

    #[test]
    fn local_write_is_private_atomic_and_guards_other_accounts() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("codex");
        let a = AuthFile::from_api_key("sk-test-local-a-000000000000000").unwrap();
        let b = AuthFile::from_api_key("sk-test-local-b-000000000000000").unwrap();
        let (path, out) = write_login_in(&dir, &a, false).unwrap();
        assert_eq!(out, LocalOutcome::Created);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(
            write_login_in(&dir, &a, false).unwrap().1,
            LocalOutcome::Unchanged
        );
        let err = write_login_in(&dir, &b, false).unwrap_err();
        assert!(
            err.to_string().contains("API key sk-test-***00000"),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), a.bytes().expose());
        let (_, out) = write_login_in(&dir, &b, true).unwrap();
        assert!(matches!(out, LocalOutcome::Replaced { backup: Some(_) }));
        assert_eq!(
            std::fs::read(dir.join("auth.json.bak")).unwrap(),
            a.bytes().expose()
        );
        // A symlink at the path is replaced, its target untouched.
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        write_login_in(&dir, &a, false).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert!(std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_file());
    }
}
