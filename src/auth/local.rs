//! This machine's Codex home and its login: where Codex keeps the login (auth.json, the
//! OS keyring, or both for `auto`, as its config.toml decides), reading it from there,
//! and writing a new login there as carefully as on targets (0700/0600, temp file then
//! rename, never through a symlink, another account's login kept as auth.json.bak, under
//! Codex's own locks).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::expect::Expect;
use super::home::{self, HomeInputs, HomeSource};
use super::os_keyring::{self, KeyringError};
use super::store::{CodexConfig, CredentialStore};
use super::AuthFile;
use crate::secret::SecretBytes;

/// This machine's Codex home and what its config.toml decides.
pub(crate) struct LocalHome {
    pub dir: PathBuf,
    /// Whether it is `$CODEX_HOME` or `~/.codex`.
    pub from: HomeSource,
    pub config: CodexConfig,
}

impl LocalHome {
    /// The Codex home (`$CODEX_HOME`, else `~/.codex`, as [`home::resolve`] decides it)
    /// and its config.toml (absent or unreadable: Codex's defaults). `None`: there is no
    /// home directory to put it in.
    pub(crate) fn resolve() -> Option<LocalHome> {
        let env = std::env::var("CODEX_HOME").ok();
        let user_home = dirs::home_dir().map(|h| h.to_string_lossy().into_owned());
        let start_dir = std::env::current_dir()
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "/".into());
        let (dir, from) = home::resolve(&HomeInputs {
            flag: None,
            env: env.as_deref(),
            user_home: user_home.as_deref(),
            start_dir: &start_dir,
        })
        .ok()?;
        let dir = PathBuf::from(dir);
        let config = std::fs::read_to_string(dir.join("config.toml"))
            .map(|t| CodexConfig::parse(&t))
            .unwrap_or_default();
        Some(LocalHome { dir, from, config })
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
    #[error("{path} is not what this run read ({now}); nothing was written")]
    Changed { path: String, now: &'static str },
    #[error("{path} (owner uid {owner}, mode {mode:o}) can be written by others than this user: nothing was written")]
    UnsafeHome { path: String, owner: u32, mode: u32 },
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
            LocalWriteError::UnsafeHome { .. } => Some(
                "make it yours alone (chmod go-w it and the directories above it), or set CODEX_HOME to a private directory".into(),
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

impl From<LocalWriteError> for crate::error::AppError {
    fn from(e: LocalWriteError) -> Self {
        let hint = e.hint();
        let message = match e {
            LocalWriteError::OtherAccount { .. } => format!("not saved: {e}"),
            other => other.to_string(),
        };
        crate::error::AppError::failed(message, hint)
    }
}

/// How a write of this machine's login goes.
pub(crate) struct WriteOptions<'a> {
    /// Replace a login of another account (a file login is kept as auth.json.bak).
    pub force: bool,
    /// How long to wait for each of Codex's locks.
    pub lock_wait: std::time::Duration,
    /// What must still be there when the write happens (compare-and-swap).
    pub expect: Option<&'a Expect>,
    /// Decide everything the write would do, and write nothing.
    pub dry_run: bool,
}

/// Where a new local login went, and how (on a dry run: would go).
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

/// Codex's locks on this home, for a write that is really made (a dry run takes none).
fn locks_for_write(
    home: &LocalHome,
    opts: &WriteOptions<'_>,
) -> Result<Option<Vec<std::fs::File>>, LocalWriteError> {
    check_home_safe(&home.dir)?;
    if opts.dry_run {
        return Ok(None);
    }
    private_dir(&home.dir).map_err(|e| LocalWriteError::Io {
        path: home.dir.display().to_string(),
        detail: e.to_string(),
    })?;
    codex_locks(&home.dir, opts.lock_wait).map(Some)
}

/// What the login read now is, for the precondition: `None` when there is none.
fn current_bytes(current: &LocalRead) -> Option<&[u8]> {
    match current {
        LocalRead::Found { bytes, .. } => Some(bytes.expose()),
        LocalRead::Missing(_) => None,
    }
}

/// The precondition, against the login read under the locks.
fn check_expected(
    home: &LocalHome,
    current: &LocalRead,
    expect: Option<&Expect>,
) -> Result<(), LocalWriteError> {
    let Some(expect) = expect else { return Ok(()) };
    let now = current_bytes(current);
    if expect.met_by(now) {
        return Ok(());
    }
    let path = match current {
        LocalRead::Found { place, .. } => place.to_string(),
        LocalRead::Missing(_) => home.auth_path().display().to_string(),
    };
    Err(LocalWriteError::Changed {
        path,
        now: match (expect, now) {
            (Expect::Nothing, _) => "a login is there now",
            (Expect::Holds(_), None) => "there is no login there any more",
            (Expect::Holds(_), Some(_)) => "it holds another login now",
        },
    })
}

/// Save a new login where this machine's Codex will read it: the file (`file`), the OS
/// keyring (`keyring`; a stale auth.json is then removed, as Codex does), the keyring
/// and else the file (`auto`, as Codex does it). Under Codex's locks, the login there
/// now is read, the precondition checked against it, and a login of another account
/// only replaced with `force`.
pub(crate) fn save_login(
    home: &LocalHome,
    new: &AuthFile,
    opts: &WriteOptions<'_>,
) -> Result<Saved, LocalWriteError> {
    let store = home.store();
    if store == CredentialStore::Ephemeral {
        return Err(LocalWriteError::Ephemeral);
    }
    let _locks = locks_for_write(home, opts)?;
    // The login Codex uses now, wherever it is kept: the precondition and the guard look
    // at that one.
    let current = read_login(home).map_err(LocalWriteError::Current)?;
    check_expected(home, &current, opts.expect)?;
    if let LocalRead::Found { bytes, place, .. } = &current {
        if let Ok(old) = AuthFile::parse(bytes.expose()) {
            if !old.same_account(new) && !opts.force {
                return Err(LocalWriteError::OtherAccount {
                    path: place.to_string(),
                    now: describe_account(&old),
                });
            }
        }
    }
    let to_file = |fell_back: Option<KeyringError>| -> Result<Saved, LocalWriteError> {
        let (path, outcome) = write_file(&home.dir, new, opts)?;
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
            save_to_keyring(home, new, &current, opts.dry_run).map_err(|e| match e {
                KeyringSave::Keyring(e) => LocalWriteError::Keyring(e),
                KeyringSave::Local(e) => e,
            })
        }
        CredentialStore::Auto => match save_to_keyring(home, new, &current, opts.dry_run) {
            Ok(saved) => Ok(saved),
            Err(KeyringSave::Keyring(e)) => to_file(Some(e)),
            Err(KeyringSave::Local(e)) => Err(e),
        },
    }
}

/// What a local logout took away (on a dry run: would take).
#[derive(Debug, Default)]
pub(crate) struct LocalRemoved {
    /// Where a login was: the keyring entry, auth.json.
    pub places: Vec<LocalPlace>,
    /// auth.json.bak, removed too (unless kept).
    pub backup: Option<PathBuf>,
    /// The login Codex used, as it was kept (read just before it was removed).
    pub login: Option<SecretBytes>,
}

/// Take this machine's login away, wherever its Codex keeps it: auth.json (and
/// auth.json.bak unless `keep_backup`) under Codex's locks, never through a symlink;
/// for `keyring` and `auto` the keyring entry too. Only this machine: nothing is
/// revoked here. `opts.force` means nothing here.
pub(crate) fn remove_login(
    home: &LocalHome,
    keep_backup: bool,
    opts: &WriteOptions<'_>,
) -> Result<LocalRemoved, LocalWriteError> {
    let mut removed = LocalRemoved::default();
    let path = home.auth_path();
    let bak = home.dir.join("auth.json.bak");
    let io = |p: &Path, e: std::io::Error| LocalWriteError::Io {
        path: p.display().to_string(),
        detail: e.to_string(),
    };
    // (A home that does not exist holds nothing to lock: it is not made for a logout.)
    let _locks = if home.dir.is_dir() {
        locks_for_write(home, opts)?
    } else {
        None
    };
    let current = read_login(home).map_err(LocalWriteError::Current)?;
    check_expected(home, &current, opts.expect)?;
    if let LocalRead::Found { bytes, .. } = &current {
        removed.login = Some(SecretBytes::new(bytes.expose().to_vec()));
    }
    let account = home.account();
    let keyring_too = home.store().may_ignore_file();
    if keyring_too {
        let result = if opts.dry_run {
            os_keyring::get(&account).map(|v| v.is_some())
        } else {
            os_keyring::delete(&account)
        };
        match result {
            Ok(true) => removed.places.push(LocalPlace::Keyring { account }),
            Ok(false) => {}
            // auto without a usable keyring kept nothing there.
            Err(e) if home.store() == CredentialStore::Keyring => {
                return Err(LocalWriteError::Keyring(e))
            }
            Err(_) => {}
        }
    }
    // remove_file takes a symlink away itself, never what it points to.
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.is_dir() => {
            return Err(io(
                &path,
                std::io::Error::other("is a directory, not a login"),
            ))
        }
        Ok(_) => {
            if !opts.dry_run {
                std::fs::remove_file(&path).map_err(|e| io(&path, e))?;
            }
            removed.places.push(LocalPlace::File(path));
        }
        Err(_) => {}
    }
    if !keep_backup && std::fs::symlink_metadata(&bak).is_ok_and(|m| !m.is_dir()) {
        if !opts.dry_run {
            std::fs::remove_file(&bak).map_err(|e| io(&bak, e))?;
        }
        removed.backup = Some(bak);
    }
    Ok(removed)
}

enum KeyringSave {
    Keyring(KeyringError),
    Local(LocalWriteError),
}

/// The keyring half of [`save_login`] (its caller holds Codex's locks): the compact
/// JSON into the keyring, then the stale auth.json out.
fn save_to_keyring(
    home: &LocalHome,
    new: &AuthFile,
    current: &LocalRead,
    dry_run: bool,
) -> Result<Saved, KeyringSave> {
    let path = home.auth_path();
    let io = |e: std::io::Error| {
        KeyringSave::Local(LocalWriteError::Io {
            path: home.dir.display().to_string(),
            detail: e.to_string(),
        })
    };
    let account = home.account();
    let compact = new.compact_json();
    let in_keyring = matches!(
        current,
        LocalRead::Found {
            place: LocalPlace::Keyring { .. },
            ..
        }
    );
    let same = in_keyring
        && current_bytes(current)
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
            .zip(serde_json::from_str::<serde_json::Value>(compact.expose()).ok())
            .is_some_and(|(a, b)| a == b);
    let outcome = if same {
        LocalOutcome::Unchanged
    } else {
        if dry_run {
            // The keyring must be usable for the save to go there (auto falls back).
            os_keyring::get(&account).map_err(KeyringSave::Keyring)?;
        } else {
            os_keyring::set(&account, &compact).map_err(KeyringSave::Keyring)?;
        }
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
            if !dry_run {
                std::fs::remove_file(&path).map_err(io)?;
            }
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
    describe_summary(&a.summary)
}

/// [`describe_account`] of a login known only by its summary.
pub(crate) fn describe_summary(s: &crate::auth::AuthSummary) -> String {
    match (&s.email, &s.api_key, &s.access_token) {
        (Some(e), _, _) => format!("ChatGPT account {e}"),
        (None, _, Some(t)) => format!("access token {t}"),
        (None, Some(k), None) => format!("API key {k}"),
        _ => format!("{} login", s.mode),
    }
}

/// Write `DIR/auth.json` (its caller holds Codex's locks): directory 0700, file 0600,
/// temp file in the same directory then rename (a symlink at the path is replaced, not
/// followed). A login of another account is only replaced with `force`, and kept as
/// auth.json.bak.
fn write_file(
    dir: &Path,
    new: &AuthFile,
    opts: &WriteOptions<'_>,
) -> Result<(PathBuf, LocalOutcome), LocalWriteError> {
    let path = dir.join("auth.json");
    let io = |e: std::io::Error| LocalWriteError::Io {
        path: path.display().to_string(),
        detail: e.to_string(),
    };
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
                if !opts.force {
                    return Err(LocalWriteError::OtherAccount {
                        path: path.display().to_string(),
                        now: describe_account(&old_auth),
                    });
                }
                let bak = dir.join("auth.json.bak");
                if !opts.dry_run {
                    replace_atomically(dir, &bak, old).map_err(io)?;
                }
                backup = Some(bak);
            }
        }
    }
    if !opts.dry_run {
        replace_atomically(dir, &path, new.bytes().expose()).map_err(io)?;
    }
    let outcome = if existing.is_some() {
        LocalOutcome::Replaced { backup }
    } else {
        LocalOutcome::Created
    };
    Ok((path, outcome))
}

/// Codex's own locks on a Codex home, taken as Codex 0.171 takes them around its commit
/// (`auth.lock`, then `auth.json.lock`) and held until dropped, so a refresh Codex
/// commits meanwhile and this write never interleave.
#[cfg(unix)]
fn codex_locks(
    dir: &Path,
    wait: std::time::Duration,
) -> Result<Vec<std::fs::File>, LocalWriteError> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let mut held = Vec::new();
    for name in ["auth.lock", "auth.json.lock"] {
        let path = dir.join(name);
        // Never through a link, nor on a FIFO or a device (it could block, or be read).
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path)
            .and_then(|f| match f.metadata() {
                Ok(m) if m.file_type().is_file() => Ok(f),
                Ok(_) => Err(std::io::Error::other("not a regular file")),
                Err(e) => Err(e),
            })
            .map_err(|e| LocalWriteError::Io {
                path: path.display().to_string(),
                detail: e.to_string(),
            })?;
        let deadline = std::time::Instant::now() + wait;
        loop {
            // SAFETY: flock on a file descriptor this function owns.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                break;
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::WouldBlock {
                return Err(LocalWriteError::Io {
                    path: path.display().to_string(),
                    detail: err.to_string(),
                });
            }
            if std::time::Instant::now() > deadline {
                return Err(LocalWriteError::Busy {
                    path: path.display().to_string(),
                    secs: wait.as_secs(),
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        held.push(file);
    }
    Ok(held)
}

/// Codex takes no file locks on Windows.
#[cfg(not(unix))]
fn codex_locks(
    _dir: &Path,
    _wait: std::time::Duration,
) -> Result<Vec<std::fs::File>, LocalWriteError> {
    Ok(Vec::new())
}

/// Refuse a Codex home that anyone but this user (and root) could write, as the scripts
/// do on targets (`check_home_safe` in common.sh) and OpenSSH's StrictModes does for
/// `~/.ssh`: the deepest existing directory on the way to `dir` and every one above it,
/// up to the home directory (or /), must be owned by this user or root and not writable
/// by group or others, unless sticky (/tmp: nobody else can move what is ours there).
#[cfg(unix)]
fn check_home_safe(dir: &Path) -> Result<(), LocalWriteError> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: getuid has no preconditions and cannot fail.
    let me = unsafe { libc::getuid() };
    let mut walk = dir.to_path_buf();
    while !walk.is_dir() {
        match walk.parent() {
            Some(p) => walk = p.to_path_buf(),
            None => return Ok(()),
        }
    }
    let Ok(walk) = walk.canonicalize() else {
        return Ok(());
    };
    let stop = dirs::home_dir().and_then(|h| h.canonicalize().ok());
    for at in walk.ancestors() {
        let Ok(m) = std::fs::metadata(at) else {
            return Ok(());
        };
        let (owner, mode) = (m.uid(), m.mode() & 0o7777);
        let sticky = mode & 0o1000 != 0;
        if (owner != me && owner != 0) || (mode & 0o022 != 0 && !sticky) {
            return Err(LocalWriteError::UnsafeHome {
                path: at.display().to_string(),
                owner,
                mode,
            });
        }
        if stop.as_deref() == Some(at) {
            break;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_home_safe(_dir: &Path) -> Result<(), LocalWriteError> {
    Ok(())
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
    use crate::auth::expect::Fingerprint;

    const WAIT: std::time::Duration = std::time::Duration::from_secs(10);

    fn opts(force: bool) -> WriteOptions<'static> {
        WriteOptions {
            force,
            lock_wait: WAIT,
            expect: None,
            dry_run: false,
        }
    }

    fn file_home(dir: &Path) -> LocalHome {
        LocalHome {
            dir: dir.to_path_buf(),
            from: HomeSource::Env,
            config: CodexConfig::default(),
        }
    }

    #[test]
    fn local_write_is_private_atomic_and_guards_other_accounts() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("codex");
        let home = file_home(&dir);
        let path = home.auth_path();
        let a = AuthFile::from_api_key("sk-test-local-a-000000000000000").unwrap();
        let b = AuthFile::from_api_key("sk-test-local-b-000000000000000").unwrap();
        let dry = WriteOptions {
            dry_run: true,
            ..opts(false)
        };
        assert_eq!(
            save_login(&home, &a, &dry).unwrap().outcome,
            LocalOutcome::Created
        );
        assert!(!dir.exists(), "a dry run writes nothing");
        assert_eq!(
            save_login(&home, &a, &opts(false)).unwrap().outcome,
            LocalOutcome::Created
        );
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(
            save_login(&home, &a, &opts(false)).unwrap().outcome,
            LocalOutcome::Unchanged
        );
        let err = save_login(&home, &b, &opts(false)).unwrap_err();
        assert!(
            err.to_string().contains("API key sk-test-***00000"),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), a.bytes().expose());
        let out = save_login(&home, &b, &opts(true)).unwrap().outcome;
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
            move || save_login(&file_home(&dir), &a, &opts(true)).map(|s| s.outcome)
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        drop(holder);
        let out = waiter.join().unwrap().unwrap();
        assert!(matches!(out, LocalOutcome::Replaced { .. }));
        assert!(started.elapsed() >= std::time::Duration::from_millis(300));
        // A symlink at the path is replaced, its target untouched.
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        save_login(&home, &a, &opts(false)).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert!(std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_file());
    }

    #[test]
    fn the_precondition_is_checked_under_the_locks_for_a_save_and_a_removal() {
        let tmp = tempfile::tempdir().unwrap();
        let home = file_home(&tmp.path().join("codex"));
        let a = AuthFile::from_api_key("sk-test-local-a-000000000000000").unwrap();
        let b = AuthFile::from_api_key("sk-test-local-b-000000000000000").unwrap();
        let holds = |auth: &AuthFile| Expect::Holds(Fingerprint::of(auth.bytes().expose()));
        fn with(expect: &Expect) -> WriteOptions<'_> {
            WriteOptions {
                expect: Some(expect),
                ..opts(true)
            }
        }
        save_login(&home, &a, &with(&Expect::Nothing)).unwrap();
        let e = save_login(&home, &b, &with(&Expect::Nothing)).unwrap_err();
        assert!(
            matches!(
                e,
                LocalWriteError::Changed {
                    now: "a login is there now",
                    ..
                }
            ),
            "{e}"
        );
        let e = save_login(&home, &b, &with(&holds(&b))).unwrap_err();
        assert!(e
            .to_string()
            .ends_with("(it holds another login now); nothing was written"));
        save_login(&home, &b, &with(&holds(&a))).unwrap();
        assert_eq!(std::fs::read(home.auth_path()).unwrap(), b.bytes().expose());
        let e = remove_login(&home, false, &with(&holds(&a))).unwrap_err();
        assert!(matches!(e, LocalWriteError::Changed { .. }));
        assert!(home.auth_path().exists());
        let removed = remove_login(&home, false, &with(&holds(&b))).unwrap();
        assert_eq!(removed.login.unwrap().expose(), b.bytes().expose());
        assert!(!home.auth_path().exists());
    }
}
