//! Where a login comes from when it is not made here: an auth.json file, an API key on
//! stdin, or this machine's own Codex login. Everything is validated before any target
//! is touched; every failure here is bad input.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use super::{AuthError, AuthFile};

/// Largest input we accept on stdin or from a file; a real auth.json is a few KiB.
const MAX_INPUT: u64 = 1 << 20;

/// Why a login could not be read. Each is bad input (exit 2) with a hint.
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
    #[error("cannot find the home directory for the local login")]
    NoLocalHome,
    #[error("no local Codex login: {0}")]
    NoLocalLogin(String),
    #[error("cannot read the local login: {0}")]
    LocalUnreadable(super::local::LocalReadError),
    #[error("{place} does not hold a Codex login: {error}")]
    NotACodexLogin { place: String, error: AuthError },
}

impl SourceError {
    pub(crate) fn hint(&self) -> Option<&'static str> {
        Some(match self {
            SourceError::Unreadable { .. } => "check the path given to --from",
            SourceError::Invalid { .. } => "pass a Codex auth.json (as `codex login` writes it)",
            SourceError::KeyFromTerminal("--access-token-stdin")
            | SourceError::BadKey("--access-token-stdin", _) => {
                "pipe it in, as with `codex login --with-access-token`: ... | codex-auth push ... --access-token-stdin"
            }
            SourceError::KeyFromTerminal(_) | SourceError::BadKey(..) => {
                "printenv OPENAI_API_KEY | codex-auth push ... --api-key-stdin"
            }
            SourceError::NoLocalHome => "set CODEX_HOME or pass --from FILE",
            SourceError::NoLocalLogin(_) => {
                "run `codex login` or `codex-auth login` here first, or pass --from FILE or --api-key-stdin"
            }
            SourceError::LocalUnreadable(super::local::LocalReadError::Keyring(e)) => e.hint(),
            SourceError::NotACodexLogin { .. } => {
                "log in again here (`codex login` or `codex-auth login`), or pass --from FILE"
            }
            SourceError::StdinUnreadable(_) | SourceError::LocalUnreadable(_) => return None,
        })
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

/// This machine's login, read where its Codex reads it (auth.json or the OS keyring).
pub(crate) struct LocalSource {
    pub auth: AuthFile,
    pub place: super::local::LocalPlace,
    /// Why `auto` read the file: the keyring could not be used.
    pub fell_back: Option<super::os_keyring::KeyringError>,
}

/// This machine's login: where the local config.toml says Codex keeps it.
pub(crate) fn local_login() -> Result<LocalSource, SourceError> {
    use super::local::{read_login, LocalHome, LocalRead};
    let home = LocalHome::resolve().ok_or(SourceError::NoLocalHome)?;
    match read_login(&home).map_err(SourceError::LocalUnreadable)? {
        LocalRead::Found {
            bytes,
            place,
            fell_back,
        } => match match &place {
            // Kept as compact JSON there; a target gets the file Codex would write.
            super::local::LocalPlace::Keyring { .. } => {
                AuthFile::from_keyring_value(&String::from_utf8_lossy(bytes.expose()))
            }
            super::local::LocalPlace::File(_) => AuthFile::parse(bytes.expose()),
        } {
            Ok(auth) => Ok(LocalSource {
                auth,
                place,
                fell_back,
            }),
            Err(error) => Err(SourceError::NotACodexLogin {
                place: place.to_string(),
                error,
            }),
        },
        LocalRead::Missing(why) => Err(SourceError::NoLocalLogin(why)),
    }
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
