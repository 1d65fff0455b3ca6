//! The OS keyring as Codex keeps its login there (`cli_auth_credentials_store` =
//! `keyring`, or `auto`): the `keyring` crate, service `Codex Auth`, account `cli|` and
//! the first 16 hex digits of the SHA-256 of the canonical Codex home, the value the
//! compact JSON of auth.json's document. Secret Service on Linux, the Keychain on macOS,
//! the Credential Manager on Windows.
//!
//! Every call runs on a thread of its own and is given up after [`WAIT`]: a locked
//! keyring on a machine with a display asks for its password in a dialog, and the crate
//! waits for that dialog without end. The thread is left behind, never joined, so an
//! unanswered dialog cannot hold the process either.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use crate::encoding::sha256_hex;
use crate::secret::Secret;

/// The keyring service Codex files its login under.
pub(crate) const SERVICE: &str = "Codex Auth";

/// The keyring service codex-auth files saved logins under (account: the name), when
/// this machine's Codex keeps its own login in the keyring.
pub(crate) const SAVED_SERVICE: &str = "codex-auth saved login";

/// How long one keyring call may take (an unlock dialog nobody answers takes forever).
const WAIT: Duration = Duration::from_secs(10);

/// The account Codex uses for the login of the Codex home `home`: `cli|` and 16 hex
/// digits of the SHA-256 of its canonical path (the literal path if it cannot be
/// canonicalized), read as lossy UTF-8.
pub(crate) fn account(home: &Path) -> String {
    let canonical = std::fs::canonicalize(home).unwrap_or_else(|_| home.to_path_buf());
    let hash = sha256_hex(canonical.to_string_lossy().as_bytes());
    format!("cli|{}", &hash[..16])
}

/// Why the keyring could not be used. The messages carry no secret (the crate's errors
/// name the store's state, never an entry's value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum KeyringError {
    /// No Secret Service here: no session bus, or nothing on it providing one.
    #[error("no OS keyring is reachable here ({0})")]
    Unavailable(String),
    /// The keyring is locked and could not be unlocked (no one to answer a prompt).
    #[error("the OS keyring is locked ({0})")]
    Locked(String),
    /// The Secret Service runs but has no default keyring to keep logins in.
    #[error("the OS keyring has no default collection ({0})")]
    NoCollection(String),
    /// The call did not come back (an unlock dialog waiting for someone, say).
    #[error("the OS keyring did not answer within {0} s (an unlock prompt waiting?)")]
    NoAnswer(u64),
    #[error("the OS keyring failed: {0}")]
    Other(String),
}

impl KeyringError {
    pub(crate) fn hint(&self) -> &'static str {
        match self {
            KeyringError::Unavailable(_) => {
                "start a desktop session (or gnome-keyring-daemon in this session), or set cli_auth_credentials_store = \"file\" in config.toml"
            }
            KeyringError::Locked(_) | KeyringError::NoAnswer(_) => {
                "unlock the keyring (log in to the desktop, or answer its unlock prompt) and run again"
            }
            KeyringError::NoCollection(_) => {
                "create or unlock the login keyring (log in to the desktop once), or use the file store"
            }
            KeyringError::Other(_) => "check the keyring service, or use the file store",
        }
    }
}

fn classify(e: keyring::Error) -> KeyringError {
    let text = e.to_string();
    let detail = text
        .trim_start_matches("Platform secure storage failure: ")
        .trim_start_matches("Couldn't access platform secure storage: ")
        .to_string();
    match e {
        keyring::Error::PlatformFailure(_)
            if text.contains("no secret service provider or dbus session")
                || text.contains("ServiceUnknown") =>
        {
            KeyringError::Unavailable(detail)
        }
        keyring::Error::PlatformFailure(_) if text.contains("IsLocked") => {
            KeyringError::Locked(detail)
        }
        keyring::Error::NoStorageAccess(_) if text.contains("result not returned") => {
            KeyringError::NoCollection(detail)
        }
        keyring::Error::NoStorageAccess(_) => KeyringError::Locked(detail),
        _ => KeyringError::Other(detail),
    }
}

/// Run one keyring call on its own thread, waiting at most [`WAIT`].
fn bounded<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, keyring::Error> + Send + 'static,
) -> Result<T, KeyringError> {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("keyring".into())
        .spawn(move || {
            let _ = tx.send(call());
        });
    if let Err(e) = spawned {
        return Err(KeyringError::Other(format!("cannot start a thread: {e}")));
    }
    match rx.recv_timeout(WAIT) {
        Ok(result) => result.map_err(classify),
        Err(_) => Err(KeyringError::NoAnswer(WAIT.as_secs())),
    }
}

/// The value kept for `account`, `None` when there is none.
pub(crate) fn get(account: &str) -> Result<Option<Secret>, KeyringError> {
    get_in(SERVICE, account)
}

/// The value kept for `account` of `service`, `None` when there is none.
pub(crate) fn get_in(service: &'static str, account: &str) -> Result<Option<Secret>, KeyringError> {
    let account = account.to_string();
    bounded(
        move || match keyring::Entry::new(service, &account)?.get_password() {
            Ok(v) => Ok(Some(Secret::new(v))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(e),
        },
    )
}

/// Keep `value` for `account`, replacing what was there.
pub(crate) fn set(account: &str, value: &Secret) -> Result<(), KeyringError> {
    set_in(SERVICE, account, value)
}

/// Keep `value` for `account` of `service`, replacing what was there.
pub(crate) fn set_in(
    service: &'static str,
    account: &str,
    value: &Secret,
) -> Result<(), KeyringError> {
    // (A copy for the keyring's thread, zeroed with it.)
    let (account, value) = (account.to_string(), Secret::new(value.expose()));
    bounded(move || keyring::Entry::new(service, &account)?.set_password(value.expose()))
}

/// Remove what is kept for `account`; `false` when there was nothing.
pub(crate) fn delete(account: &str) -> Result<bool, KeyringError> {
    delete_in(SERVICE, account)
}

/// Remove what is kept for `account` of `service`; `false` when there was nothing.
pub(crate) fn delete_in(service: &'static str, account: &str) -> Result<bool, KeyringError> {
    let account = account.to_string();
    bounded(
        move || match keyring::Entry::new(service, &account)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(e),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_is_codexs() {
        // As seen in the Secret Service for a login Codex 0.171 saved (REFERENCE.md):
        // printf %s "$CODEX_HOME" | sha256sum | cut -c1-16.
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("codex");
        std::fs::create_dir(&home).unwrap();
        let canonical = std::fs::canonicalize(&home).unwrap();
        let want = format!(
            "cli|{}",
            &sha256_hex(canonical.to_string_lossy().as_bytes())[..16]
        );
        assert_eq!(account(&home), want);
        // A trailing slash, `./` and `..` name the same home.
        assert_eq!(account(&dir.path().join("codex/")), want);
        assert_eq!(account(&dir.path().join("codex/./../codex")), want);
        // A home that does not exist yet hashes as given.
        let missing = dir.path().join("nowhere");
        assert_eq!(
            account(&missing),
            format!(
                "cli|{}",
                &sha256_hex(missing.to_string_lossy().as_bytes())[..16]
            )
        );
    }
}
