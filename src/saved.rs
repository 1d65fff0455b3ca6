//! Saved logins: logins of this machine kept by name (`codex-auth save NAME`), made the
//! current login again with `switch NAME`, dropped with `forget NAME`. One file per name
//! in the state directory (`logins/NAME.json` beside the ledger, 0600 in a 0700
//! directory), written atomically; or, when this machine's Codex keeps its own login in
//! the OS keyring, the login in the keyring (service `codex-auth saved login`, account
//! NAME) and only a marker without secrets in the directory (`logins/NAME.keyring`), so
//! that the names can be listed. A name is a word (letters, digits, `.`, `_`, `-`, `@`;
//! at most 64; not starting with `.`): never a path.

use std::path::PathBuf;

use crate::auth::os_keyring::{self, SAVED_SERVICE};
use crate::auth::store::CredentialStore;
use crate::auth::AuthFile;
use crate::secret::Secret;

/// Why a name is refused, if it is.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a saved login's name is empty".into());
    }
    if name.len() > 64 {
        return Err(format!("the name {name:?} is longer than 64 characters"));
    }
    if name.starts_with('.') {
        return Err(format!("the name {name:?} starts with a dot"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@')))
    {
        return Err(format!(
            "the name {:?} has a {c:?} in it (a saved login is named by a word, not a path)",
            name.escape_default().to_string()
        ));
    }
    Ok(())
}

pub(crate) struct SavedLogins {
    dir: PathBuf,
}

impl SavedLogins {
    /// The saved logins beside this user's ledger.
    pub(crate) fn open() -> Option<SavedLogins> {
        let ledger = crate::ledger::Ledger::open()?;
        Some(SavedLogins {
            dir: ledger.path().parent()?.join("logins"),
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// The marker of a login kept in the keyring.
    fn marker(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.keyring"))
    }

    /// Whether new saved logins go to the OS keyring: when this machine's Codex keeps
    /// its own login there (`keyring`, or `auto` with a keyring that answers).
    fn in_keyring() -> bool {
        let Some(home) = crate::auth::local::LocalHome::resolve() else {
            return false;
        };
        match home.store() {
            CredentialStore::Keyring => true,
            CredentialStore::Auto => os_keyring::get(&home.account()).is_ok(),
            _ => false,
        }
    }

    /// The login saved as `name` (`Ok(None)`: no such name).
    pub(crate) fn load(&self, name: &str) -> Result<Option<AuthFile>, String> {
        check_name(name)?;
        let path = self.path(name);
        let marker = self.marker(name);
        if !path.exists() && marker.is_file() {
            let value = os_keyring::get_in(SAVED_SERVICE, name)
                .map_err(|e| {
                    format!(
                        "saved login {name} is kept in the OS keyring: {e} (hint: {})",
                        e.hint()
                    )
                })?
                .ok_or_else(|| {
                    format!("saved login {name} is kept in the OS keyring, and its entry is gone")
                })?;
            return AuthFile::parse(value.expose().as_bytes())
                .map(Some)
                .map_err(|e| format!("saved login {name} (OS keyring): {e}"));
        }
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", path.display())),
            Ok(m) if !m.file_type().is_file() => {
                return Err(format!("{} is not a regular file", path.display()))
            }
            Ok(_) => {}
        }
        let bytes = crate::secret::SecretBytes::new(
            std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?,
        );
        AuthFile::parse(bytes.expose())
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Keep `auth` as `name` (replacing what was saved under it): in the keyring when
    /// this machine's Codex keeps its login there, else in a file. Where it went, in
    /// words.
    pub(crate) fn store(&self, name: &str, auth: &AuthFile) -> Result<String, String> {
        check_name(name)?;
        let path = self.path(name);
        let marker = self.marker(name);
        let io = |p: &PathBuf| {
            let p = p.display().to_string();
            move |e: std::io::Error| format!("{p}: {e}")
        };
        crate::ledger::private_dir(&self.dir).map_err(io(&self.dir))?;
        if Self::in_keyring() {
            let value = Secret::new(String::from_utf8_lossy(auth.bytes().expose()).into_owned());
            os_keyring::set_in(SAVED_SERVICE, name, &value)
                .map_err(|e| format!("the OS keyring: {e} (hint: {})", e.hint()))?;
            crate::ledger::write_private(&self.dir, &marker, b"kept in the OS keyring\n")
                .map_err(io(&marker))?;
            remove_if_there(&path)?;
            return Ok(format!("the OS keyring ({SAVED_SERVICE}, {name})"));
        }
        crate::ledger::write_private(&self.dir, &path, auth.bytes().expose()).map_err(io(&path))?;
        if marker.exists() {
            let _ = os_keyring::delete_in(SAVED_SERVICE, name);
            remove_if_there(&marker)?;
        }
        Ok(path.display().to_string())
    }

    /// Drop `name` (its file, or its keyring entry and marker); whether it was there.
    pub(crate) fn remove(&self, name: &str) -> Result<bool, String> {
        check_name(name)?;
        let mut was = remove_if_there(&self.path(name))?;
        let marker = self.marker(name);
        if marker.exists() {
            os_keyring::delete_in(SAVED_SERVICE, name)
                .map_err(|e| format!("the OS keyring: {e} (hint: {})", e.hint()))?;
            was |= remove_if_there(&marker)?;
        }
        Ok(was)
    }

    /// Every saved name, sorted.
    pub(crate) fn names(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| {
                let file = e.ok()?.file_name();
                let file = file.to_str()?;
                let name = file
                    .strip_suffix(".json")
                    .or_else(|| file.strip_suffix(".keyring"))?
                    .to_string();
                check_name(&name).ok().map(|()| name)
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// Remove the file at `path`; whether it was there.
fn remove_if_there(path: &std::path::Path) -> Result<bool, String> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_words_never_paths() {
        for good in ["work", "personal", "me@example.com", "seat-2", "a.b_c"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "..",
            ".hidden",
            "a/b",
            "../x",
            "a b",
            "x\n",
            &"n".repeat(65),
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_login_is_kept_private_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let saved = SavedLogins {
            dir: dir.path().join("state/logins"),
        };
        let a = AuthFile::parse(crate::auth::testdata::chatgpt_json("rt-saved-one").as_bytes())
            .unwrap();
        saved.store("work", &a).unwrap();
        let path = saved.path("work");
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(&saved.dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(
            saved.load("work").unwrap().unwrap().bytes().expose(),
            a.bytes().expose()
        );
        assert!(saved.load("other").unwrap().is_none());
        assert_eq!(saved.names(), vec!["work".to_string()]);
        assert!(saved.remove("work").unwrap());
        assert!(!saved.remove("work").unwrap());
        assert!(saved.load("../ledger").is_err());
    }
}
