//! Where the login a command installs comes from: an auth.json file, an API key or an
//! access token on stdin, or the login a place holds (this machine's by default, read
//! where its Codex keeps it; any place with `--from PLACE`), or a fresh sign-in per
//! target. Files and stdin are read before any place is asked; each failure is bad
//! input (exit 2), except a place that cannot be reached (exit 1).

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use super::Run;
use crate::auth::{AuthError, AuthFile};
use crate::error::AppError;
use crate::login::Flow;
use crate::targets::{ConnectContext, InspectReport, InspectRequest, TargetError, TargetSpec};

/// Largest input accepted on stdin or from a file; a real auth.json is a few KiB.
const MAX_INPUT: u64 = 1 << 20;

/// Where the login to install comes from.
#[derive(Debug)]
pub(crate) enum Source {
    /// An auth.json (`--from FILE`).
    File(PathBuf),
    /// A login saved by name (`--from saved:NAME`).
    Saved(String),
    /// The login a place holds: this machine's by default, or `--from PLACE`.
    Place(TargetSpec),
    ApiKeyStdin,
    AccessTokenStdin,
    /// A fresh sign-in for each target (`push --login`), installed there directly.
    FreshLogin(Flow),
}

impl Source {
    /// The login of this machine, as its Codex reads it.
    pub(crate) fn this_machine() -> Source {
        Source::Place(TargetSpec::this_machine())
    }

    /// The flag that reads stdin, if this source does.
    pub(crate) fn stdin_reader(&self) -> Option<&'static str> {
        match self {
            Source::ApiKeyStdin => Some("--api-key-stdin"),
            Source::AccessTokenStdin => Some("--access-token-stdin"),
            _ => None,
        }
    }
}

/// Why the login to install could not be had.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SourceError {
    #[error("cannot read {path}: {detail}")]
    Unreadable { path: PathBuf, detail: String },
    #[error("{path}: {error}")]
    Invalid { path: PathBuf, error: AuthError },
    #[error("{0} reads from a pipe, and stdin is a terminal (what you type would echo)")]
    KeyFromTerminal(&'static str),
    #[error("cannot read stdin: {0}")]
    StdinUnreadable(String),
    #[error("{0}: {1}")]
    BadKey(&'static str, AuthError),
    /// This machine holds no login (where its Codex would look, why).
    #[error("no local Codex login: {0}")]
    NoLocalLogin(String),
    /// A place was read and holds no usable login.
    #[error("nothing to push from {place}: {why}")]
    NoLogin { place: String, why: String },
    /// What a place holds is not a login Codex would read.
    #[error("{path} does not hold a Codex login: {error}")]
    NotACodexLogin { path: String, error: AuthError },
    /// This machine's login cannot be read (its keyring, its file).
    #[error("cannot read the local login: {}", .0.message)]
    LocalUnreadable(TargetError),
    /// A place cannot be reached or read.
    #[error("cannot read the login from {place}: {}", .error.message)]
    Unreachable { place: String, error: TargetError },
    /// No login is saved under the name (the names that are).
    #[error("no saved login {0:?}")]
    NoSaved(String, Vec<String>),
    /// The saved login cannot be read.
    #[error("cannot read the saved login: {0}")]
    SavedUnreadable(String),
}

impl SourceError {
    pub(crate) fn hint(&self) -> Option<String> {
        Some(match self {
            SourceError::Unreadable { .. } => "check the path given to --from".into(),
            SourceError::Invalid { .. } => {
                "pass a Codex auth.json (as `codex login` writes it)".into()
            }
            SourceError::KeyFromTerminal("--access-token-stdin")
            | SourceError::BadKey("--access-token-stdin", _) => {
                "pipe it in, as with `codex login --with-access-token`: ... | codex-auth push ... --access-token-stdin".into()
            }
            SourceError::KeyFromTerminal(_) | SourceError::BadKey(..) => {
                "printenv OPENAI_API_KEY | codex-auth push ... --api-key-stdin".into()
            }
            SourceError::NoLocalLogin(_) => {
                "run `codex login` or `codex-auth login` here first, or pass --from FILE or --api-key-stdin".into()
            }
            SourceError::NoLogin { .. } => {
                "`codex-auth status --ssh ...` shows what a place holds".into()
            }
            SourceError::NotACodexLogin { .. } => {
                "log in again there (`codex login` or `codex-auth login`), or pass --from FILE".into()
            }
            SourceError::LocalUnreadable(e) | SourceError::Unreachable { error: e, .. } => {
                return e.hint.clone()
            }
            SourceError::NoSaved(_, names) if names.is_empty() => {
                "save one first: `codex-auth save NAME`".into()
            }
            SourceError::NoSaved(_, names) => format!("saved logins: {}", names.join(", ")),
            SourceError::SavedUnreadable(_) => {
                "`codex-auth status --saved` lists the saved logins".into()
            }
            SourceError::StdinUnreadable(_) => return None,
        })
    }
}

impl From<SourceError> for AppError {
    /// Bad input is exit 2 (nothing was touched); a place out of reach is exit 1.
    fn from(e: SourceError) -> AppError {
        let hint = e.hint();
        match e {
            SourceError::Unreachable { .. } => AppError::failed(e.to_string(), hint),
            e => AppError::usage(e.to_string(), hint.as_deref()),
        }
    }
}

/// An auth.json given by path (`--from FILE`).
pub(crate) fn from_file(path: &Path) -> Result<AuthFile, SourceError> {
    let bytes = read_limited(path).map_err(|e| SourceError::Unreadable {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    AuthFile::parse(&bytes).map_err(|error| SourceError::Invalid {
        path: path.to_path_buf(),
        error,
    })
}

/// The login saved as `name` (`--from saved:NAME`).
pub(crate) fn from_saved(name: &str) -> Result<AuthFile, SourceError> {
    crate::saved::check_name(name).map_err(SourceError::SavedUnreadable)?;
    let saved = crate::saved::SavedLogins::open()
        .ok_or_else(|| SourceError::SavedUnreadable("no state directory (set HOME)".into()))?;
    saved
        .load(name)
        .map_err(SourceError::SavedUnreadable)?
        .ok_or_else(|| SourceError::NoSaved(name.to_string(), saved.names()))
}

/// An API key piped on stdin, as `codex login --with-api-key` takes it.
pub(crate) fn api_key_from_stdin() -> Result<AuthFile, SourceError> {
    from_stdin("--api-key-stdin", AuthFile::from_api_key)
}

/// A Business/Enterprise access token piped on stdin, as `codex login
/// --with-access-token` takes it.
pub(crate) fn access_token_from_stdin() -> Result<AuthFile, SourceError> {
    from_stdin("--access-token-stdin", AuthFile::from_access_token)
}

fn from_stdin(
    flag: &'static str,
    build: fn(&str) -> Result<AuthFile, AuthError>,
) -> Result<AuthFile, SourceError> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(SourceError::KeyFromTerminal(flag));
    }
    let mut raw = String::new();
    stdin
        .lock()
        .take(MAX_INPUT)
        .read_to_string(&mut raw)
        .map_err(|e| SourceError::StdinUnreadable(e.to_string()))?;
    build(&raw).map_err(|e| SourceError::BadKey(flag, e))
}

fn read_limited(path: &Path) -> std::io::Result<Vec<u8>> {
    let f = std::fs::File::open(path)?;
    if f.metadata()?.is_dir() {
        return Err(std::io::Error::other("is a directory"));
    }
    let mut buf = Vec::new();
    f.take(MAX_INPUT).read_to_end(&mut buf)?;
    Ok(buf)
}

/// The login a place holds, read as `status` reads it, and what was read.
#[derive(Clone)]
pub(crate) struct PlaceLogin {
    pub auth: AuthFile,
    pub seen: InspectReport,
}

impl PlaceLogin {
    /// Where it was kept, in words: the file, or the keyring entry.
    pub(crate) fn kept_in(&self) -> String {
        kept_in(&self.seen)
    }
}

/// Where a place keeps what was read, in words.
fn kept_in(seen: &InspectReport) -> String {
    match &seen.keyring_account {
        Some(account) => format!(
            "the OS keyring ({}, {account})",
            crate::auth::os_keyring::SERVICE
        ),
        None => seen.location.auth_path(),
    }
}

/// What `seen` holds, as the login to install: a place whose Codex keeps its login in a
/// keyring we cannot read over a connection, or that holds nothing, gives none.
pub(crate) fn login_in(spec: &TargetSpec, seen: InspectReport) -> Result<PlaceLogin, SourceError> {
    let here = !spec.kind().remote();
    let path = seen.path();
    if !here && seen.location.store == crate::auth::store::CredentialStore::Keyring {
        return Err(SourceError::NoLogin {
            place: spec.display(),
            why: format!("Codex there keeps its login in the OS keyring (cli_auth_credentials_store = \"keyring\"), which codex-auth cannot read over a connection; {path} is not what Codex there uses"),
        });
    }
    let Some(bytes) = &seen.content else {
        // (this machine says why: a keyring without an entry, an ephemeral store)
        let why = seen
            .notes
            .first()
            .cloned()
            .unwrap_or_else(|| format!("{path} does not exist"));
        return Err(if here {
            SourceError::NoLocalLogin(why)
        } else {
            SourceError::NoLogin {
                place: spec.display(),
                why: format!("{} holds no login ({path} does not exist)", spec.display()),
            }
        });
    };
    let parsed = match seen.keyring_account {
        // Kept as compact JSON there; a target gets the file Codex would write.
        Some(_) => AuthFile::from_keyring_value(&String::from_utf8_lossy(bytes.expose())),
        None => AuthFile::parse(bytes.expose()),
    };
    let place = if here { kept_in(&seen) } else { path };
    match parsed {
        Ok(auth) => Ok(PlaceLogin { auth, seen }),
        Err(error) if here => Err(SourceError::NotACodexLogin { path: place, error }),
        Err(error) => Err(SourceError::NoLogin {
            place: spec.display(),
            why: format!("{place} does not hold a Codex login: {error}"),
        }),
    }
}

/// A failure to read `spec`, as the source of a command.
pub(crate) fn unreadable(spec: &TargetSpec, error: TargetError) -> SourceError {
    if spec.kind().remote() {
        SourceError::Unreachable {
            place: spec.display(),
            error,
        }
    } else {
        SourceError::LocalUnreadable(error)
    }
}

/// The login `spec` holds now (its Codex home by default), one connection.
pub(crate) async fn read_place(
    spec: &TargetSpec,
    ctx: &ConnectContext,
) -> Result<PlaceLogin, SourceError> {
    let target = spec.connect(ctx).await.map_err(|e| unreadable(spec, e))?;
    let seen = target.inspect(&InspectRequest::content(None)).await;
    target.close().await;
    login_in(spec, seen.map_err(|e| unreadable(spec, e))?)
}

/// Where the pushed login was read, when it was this machine's (`login_from`).
pub(crate) struct LoginFrom {
    /// `file` or `keyring`.
    pub store: &'static str,
    pub path: Option<String>,
    pub keyring_account: Option<String>,
}

/// Where this machine's login was read, for `--json`.
pub(crate) fn login_from(read: &PlaceLogin) -> LoginFrom {
    match &read.seen.keyring_account {
        Some(account) => LoginFrom {
            store: "keyring",
            path: None,
            keyring_account: Some(account.clone()),
        },
        None => LoginFrom {
            store: "file",
            path: Some(read.seen.location.auth_path()),
            keyring_account: None,
        },
    }
}

/// Say where the pushed login was read (and anything its place said about it).
pub(crate) fn say_where_read(spec: &TargetSpec, read: &PlaceLogin, run: &Run) {
    for n in &read.seen.notes {
        run.sink.note(&format!("note: {n}"));
    }
    if spec.kind().remote() {
        run.sink
            .note(&format!("pushing the login from {}", spec.display()));
    } else {
        run.sink
            .note(&format!("pushing the local login from {}", read.kept_in()));
    }
}
