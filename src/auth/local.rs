//! This machine's Codex home and its login: where Codex keeps the login (auth.json, the
//! OS keyring, or both for `auto`, as its config.toml decides), reading it from there,
//! and writing a new login there as carefully as on targets (0700/0600, temp file then
//! rename, never through a symlink, another account's login kept as auth.json.bak, under
//! Codex's own locks).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::os_keyring::{self, KeyringError};
use super::store::{CodexConfig, CredentialStore};
use super::AuthFile;
use crate::secret::SecretBytes;

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

/// This machine's Codex home and what its config.toml decides.
pub(crate) struct LocalHome {
    pub dir: PathBuf,
    pub config: CodexConfig,
}

impl LocalHome {
    /// The Codex home and its config.toml (absent or unreadable: Codex's defaults).
    pub(crate) fn resolve() -> Option<LocalHome> {
        let dir = codex_home()?;
        let config = std::fs::read_to_string(dir.join("config.toml"))
            .map(|t| CodexConfig::parse(&t))
            .unwrap_or_default();
        Some(LocalHome { dir, config })
    }

    pub(crate) fn store(&self) -> CredentialStore {
        self.config.store
    }

    pub(crate) fn auth_path(&self) -> PathBuf {
        self.dir.join("auth.json")
    }

    /// The keyring account Codex files this home's login under.
    pub(crate) fn account(&self) -> String {
        os_keyring::account(&self.dir)
    }
}

/// Where a local login is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LocalPlace {
    File(PathBuf),
    Keyring { account: String },
}

impl LocalPlace {
    /// `file` or `keyring`, for `--json`.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            LocalPlace::File(_) => "file",
            LocalPlace::Keyring { .. } => "keyring",
        }
    }
}

impl std::fmt::Display for LocalPlace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LocalPlace::File(p) => write!(f, "{}", p.display()),
            LocalPlace::Keyring { account } => {
                write!(f, "the OS keyring ({}, {account})", os_keyring::SERVICE)
            }
        }
    }
}

/// What this machine's Codex would read as its login.
pub(crate) enum LocalRead {
    Found {
        bytes: SecretBytes,
        place: LocalPlace,
        /// Why `auto` read the file (the keyring could not be used), if it did.
        fell_back: Option<KeyringError>,
    },
    /// Nothing there; says where Codex would look.
    Missing(String),
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum LocalReadError {
    #[error("config.toml sets cli_auth_credentials_store = \"keyring\", and {0}")]
    Keyring(KeyringError),
    #[error("cannot read {path}: {detail}")]
    Unreadable { path: PathBuf, detail: String },
}

/// Largest auth.json read; a real one is a few KiB.
const MAX_AUTH: u64 = 1 << 20;

fn read_file(path: &Path) -> Result<Option<Vec<u8>>, LocalReadError> {
    use std::io::Read;
    let unreadable = |e: std::io::Error| LocalReadError::Unreadable {
        path: path.to_path_buf(),
        detail: e.to_string(),
    };
    match std::fs::File::open(path) {
        Ok(f) => {
            if f.metadata().map_err(unreadable)?.is_dir() {
                return Err(unreadable(std::io::Error::other("is a directory")));
            }
            let mut buf = Vec::new();
            f.take(MAX_AUTH).read_to_end(&mut buf).map_err(unreadable)?;
            Ok(Some(buf))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(unreadable(e)),
    }
}

/// The login this machine's Codex would use, read where Codex reads it: `file`, the
/// file; `keyring`, the keyring only (an error there is Codex's error too); `auto`, the
/// keyring first and the file when the keyring has none or cannot be used; `ephemeral`,
/// nowhere (Codex keeps it in memory).
pub(crate) fn read_login(home: &LocalHome) -> Result<LocalRead, LocalReadError> {
    let path = home.auth_path();
    let from_file = |fell_back: Option<KeyringError>| -> Result<LocalRead, LocalReadError> {
        Ok(match read_file(&path)? {
            Some(bytes) => LocalRead::Found {
                bytes: SecretBytes::new(bytes),
                place: LocalPlace::File(path.clone()),
                fell_back,
            },
            None => LocalRead::Missing(format!("{} does not exist", path.display())),
        })
    };
    match home.store() {
        CredentialStore::File => from_file(None),
        CredentialStore::Ephemeral => Ok(LocalRead::Missing(
            "config.toml sets cli_auth_credentials_store = \"ephemeral\": Codex here keeps its login in memory only".into(),
        )),
        CredentialStore::Keyring => {
            let account = home.account();
            match os_keyring::get(&account).map_err(LocalReadError::Keyring)? {
                Some(value) => Ok(LocalRead::Found {
                    bytes: SecretBytes::new(value.expose().as_bytes().to_vec()),
                    place: LocalPlace::Keyring { account },
                    fell_back: None,
                }),
                None => Ok(LocalRead::Missing(format!(
                    "config.toml sets cli_auth_credentials_store = \"keyring\", and the OS keyring has no login for this Codex home ({}, {account})",
                    os_keyring::SERVICE
                ))),
            }
        }
        CredentialStore::Auto => {
            let account = home.account();
            match os_keyring::get(&account) {
                Ok(Some(value)) => Ok(LocalRead::Found {
                    bytes: SecretBytes::new(value.expose().as_bytes().to_vec()),
                    place: LocalPlace::Keyring { account },
                    fell_back: None,
                }),
                Ok(None) => from_file(None),
                Err(e) => from_file(Some(e)),
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LocalOutcome {
    Created,
    Replaced { backup: Option<PathBuf> },
    Unchanged,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum LocalWriteError {
    #[error("{path} holds a login of another account ({now})")]
    OtherAccount { path: String, now: String },
    #[error("cannot write {path}: {detail}")]
    Io { path: String, detail: String },
    #[error("{path} stayed locked for {secs} s: a Codex here is committing a refresh")]
    Busy { path: String, secs: u64 },
    #[error("not saved: config.toml sets cli_auth_credentials_store = \"ephemeral\", so Codex here keeps no login on disk or in a keyring")]
    Ephemeral,
    #[error("not saved: config.toml sets cli_auth_credentials_store = \"keyring\", and {0}")]
    Keyring(KeyringError),
    #[error("not saved: {0}")]
    Current(LocalReadError),
}

impl LocalWriteError {
    pub(crate) fn hint(&self) -> Option<String> {
        match self {
            LocalWriteError::OtherAccount { .. } => Some(
                "pass --force to replace it (a file login is kept as auth.json.bak)".into(),
            ),
            LocalWriteError::Ephemeral => Some(
                "set cli_auth_credentials_store to \"file\", \"keyring\" or \"auto\" in config.toml".into(),
            ),
            LocalWriteError::Keyring(e) | LocalWriteError::Current(LocalReadError::Keyring(e)) => {
                Some(e.hint().into())
            }
            _ => None,
        }
    }
}

/// Where a new local login went, and how.
#[derive(Debug)]
pub(crate) struct Saved {
    pub place: LocalPlace,
    pub outcome: LocalOutcome,
    /// An auth.json that Codex would no longer read, removed after a keyring save (as
    /// Codex removes it).
    pub removed_file: Option<PathBuf>,
    /// Why `auto` wrote the file: the keyring could not be used.
    pub fell_back: Option<KeyringError>,
}

/// Save a new login where this machine's Codex will read it: the file (`file`), the OS
/// keyring (`keyring`; a stale auth.json is then removed, as Codex does), the keyring
/// and else the file (`auto`, as Codex does it). A login of another account there is
/// only replaced with `force`.
pub(crate) fn save_login(
    home: &LocalHome,
    new: &AuthFile,
    force: bool,
    lock_wait: std::time::Duration,
) -> Result<Saved, LocalWriteError> {
    let store = home.store();
    if store == CredentialStore::Ephemeral {
        return Err(LocalWriteError::Ephemeral);
    }
    // The login Codex uses now, wherever it is kept: the guard looks at that one.
    let current = read_login(home).map_err(LocalWriteError::Current)?;
    let (current_bytes, current_place) = match &current {
        LocalRead::Found { bytes, place, .. } => {
            (Some(bytes.expose().to_vec()), Some(place.clone()))
        }
        LocalRead::Missing(_) => (None, None),
    };
    if let (Some(bytes), Some(place)) = (&current_bytes, &current_place) {
        if let Ok(old) = AuthFile::parse(bytes) {
            if !old.same_account(new) && !force {
                return Err(LocalWriteError::OtherAccount {
                    path: place.to_string(),
                    now: describe_account(&old),
                });
            }
        }
    }
    let to_file = |fell_back: Option<KeyringError>| -> Result<Saved, LocalWriteError> {
        let (path, outcome) = write_login_in(&home.dir, new, force, lock_wait)?;
        Ok(Saved {
            place: LocalPlace::File(path),
            outcome,
            removed_file: None,
            fell_back,
        })
    };
    match store {
        CredentialStore::File | CredentialStore::Ephemeral => to_file(None),
        CredentialStore::Keyring => {
            save_to_keyring(home, new, &current_place, current_bytes, lock_wait).map_err(
                |e| match e {
                    KeyringSave::Keyring(e) => LocalWriteError::Keyring(e),
                    KeyringSave::Local(e) => e,
                },
            )
        }
        CredentialStore::Auto => {
            match save_to_keyring(home, new, &current_place, current_bytes, lock_wait) {
                Ok(saved) => Ok(saved),
                Err(KeyringSave::Keyring(e)) => to_file(Some(e)),
                Err(KeyringSave::Local(e)) => Err(e),
            }
        }
    }
}

/// What a local logout took away.
#[derive(Debug, Default)]
pub(crate) struct LocalRemoved {
    /// Where a login was (or, on a dry run, is): the keyring entry, auth.json.
    pub places: Vec<LocalPlace>,
    /// auth.json.bak, removed too (unless kept).
    pub backup: Option<PathBuf>,
}

/// Take this machine's login away, wherever its Codex keeps it: auth.json (and
/// auth.json.bak unless `keep_backup`) under Codex's locks, never through a symlink;
/// for `keyring` and `auto` the keyring entry too. Only this machine: nothing is
/// revoked here.
pub(crate) fn remove_login(
    home: &LocalHome,
    keep_backup: bool,
    dry_run: bool,
    lock_wait: std::time::Duration,
) -> Result<LocalRemoved, LocalWriteError> {
    let mut removed = LocalRemoved::default();
    let path = home.auth_path();
    let bak = home.dir.join("auth.json.bak");
    let io = |p: &Path, e: std::io::Error| LocalWriteError::Io {
        path: p.display().to_string(),
        detail: e.to_string(),
    };
    let account = home.account();
    let keyring_too = home.store().may_ignore_file();
    if dry_run {
        if keyring_too {
            match os_keyring::get(&account) {
                Ok(Some(_)) => removed.places.push(LocalPlace::Keyring { account }),
                Ok(None) => {}
                Err(e) if home.store() == CredentialStore::Keyring => {
                    return Err(LocalWriteError::Keyring(e))
                }
                Err(_) => {}
            }
        }
        if std::fs::symlink_metadata(&path).is_ok() {
            removed.places.push(LocalPlace::File(path));
        }
        if !keep_backup && std::fs::symlink_metadata(&bak).is_ok() {
            removed.backup = Some(bak);
        }
        return Ok(removed);
    }
    if keyring_too {
        match os_keyring::delete(&account) {
            Ok(true) => removed.places.push(LocalPlace::Keyring { account }),
            Ok(false) => {}
            // auto without a usable keyring kept nothing there.
            Err(e) if home.store() == CredentialStore::Keyring => {
                return Err(LocalWriteError::Keyring(e))
            }
            Err(_) => {}
        }
    }
    if !home.dir.is_dir() {
        return Ok(removed);
    }
    let _locks = codex_locks(&home.dir, lock_wait).map_err(|e| match e {
        LockError::Busy(lock) => LocalWriteError::Busy {
            path: lock.display().to_string(),
            secs: lock_wait.as_secs(),
        },
        LockError::Io(e) => io(&home.dir, e),
    })?;
    // remove_file takes a symlink away itself, never what it points to.
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.is_dir() => {
            return Err(io(
                &path,
                std::io::Error::other("is a directory, not a login"),
            ))
        }
        Ok(_) => {
            std::fs::remove_file(&path).map_err(|e| io(&path, e))?;
            removed.places.push(LocalPlace::File(path));
        }
        Err(_) => {}
    }
    if !keep_backup && std::fs::symlink_metadata(&bak).is_ok_and(|m| !m.is_dir()) {
        std::fs::remove_file(&bak).map_err(|e| io(&bak, e))?;
        removed.backup = Some(bak);
    }
    Ok(removed)
}

enum KeyringSave {
    Keyring(KeyringError),
    Local(LocalWriteError),
}

/// The keyring half of [`save_login`]: under Codex's locks, the compact JSON into the
/// keyring, then the stale auth.json out.
fn save_to_keyring(
    home: &LocalHome,
    new: &AuthFile,
    current_place: &Option<LocalPlace>,
    current_bytes: Option<Vec<u8>>,
    lock_wait: std::time::Duration,
) -> Result<Saved, KeyringSave> {
    let path = home.auth_path();
    let io = |e: std::io::Error| {
        KeyringSave::Local(LocalWriteError::Io {
            path: home.dir.display().to_string(),
            detail: e.to_string(),
        })
    };
    private_dir(&home.dir).map_err(io)?;
    let _locks = codex_locks(&home.dir, lock_wait).map_err(|e| match e {
        LockError::Busy(lock) => KeyringSave::Local(LocalWriteError::Busy {
            path: lock.display().to_string(),
            secs: lock_wait.as_secs(),
        }),
        LockError::Io(e) => io(e),
    })?;
    let account = home.account();
    let compact = new.compact_json();
    let in_keyring = matches!(current_place, Some(LocalPlace::Keyring { .. }));
    let same = in_keyring
        && current_bytes
            .as_deref()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
            .zip(serde_json::from_str::<serde_json::Value>(compact.expose()).ok())
            .is_some_and(|(a, b)| a == b);
    let outcome = if same {
        LocalOutcome::Unchanged
    } else {
        os_keyring::set(&account, &compact).map_err(KeyringSave::Keyring)?;
        if in_keyring {
            LocalOutcome::Replaced { backup: None }
        } else {
            LocalOutcome::Created
        }
    };
    // Codex deletes auth.json once its login is in the keyring: left there, it would be
    // a stale copy of some login, and the one an `auto` Codex falls back to.
    let removed_file = match std::fs::symlink_metadata(&path) {
        Ok(_) => {
            std::fs::remove_file(&path).map_err(io)?;
            Some(path)
        }
        Err(_) => None,
    };
    Ok(Saved {
        place: LocalPlace::Keyring { account },
        outcome,
        removed_file,
        fell_back: None,
    })
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

/// Write `DIR/auth.json` as on targets: directory 0700, file 0600, temp file in the same
/// directory then rename (a symlink at the path is replaced, not followed). A login of
/// another account is only replaced with `force` (and then kept as .bak).
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
