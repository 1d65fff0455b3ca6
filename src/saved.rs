//! Saved logins: logins of this machine kept by name (`codex-auth save NAME`), made the
//! current login again with `switch NAME`, dropped with `forget NAME`. One file per name
//! in the state directory (`logins/NAME.json` beside the ledger, 0600 in a 0700
//! directory), written atomically. A name is a word (letters, digits, `.`, `_`, `-`,
//! `@`; at most 64; not starting with `.`): never a path.

use std::path::PathBuf;

use crate::auth::AuthFile;

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

    /// The login saved as `name` (`Ok(None)`: no such name).
    pub(crate) fn load(&self, name: &str) -> Result<Option<AuthFile>, String> {
        check_name(name)?;
        let path = self.path(name);
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

    /// Keep `auth` as `name` (replacing what was saved under it).
    pub(crate) fn store(&self, name: &str, auth: &AuthFile) -> Result<PathBuf, String> {
        check_name(name)?;
        let path = self.path(name);
        let io = |e: std::io::Error| format!("{}: {e}", path.display());
        crate::ledger::private_dir(&self.dir).map_err(io)?;
        crate::ledger::write_private(&self.dir, &path, auth.bytes().expose()).map_err(io)?;
        Ok(path)
    }

    /// Drop `name`; whether it was there.
    pub(crate) fn remove(&self, name: &str) -> Result<bool, String> {
        check_name(name)?;
        let path = self.path(name);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Every saved name, sorted.
    pub(crate) fn names(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| {
                let name = e
                    .ok()?
                    .file_name()
                    .to_str()?
                    .strip_suffix(".json")?
                    .to_string();
                check_name(&name).ok().map(|()| name)
            })
            .collect();
        names.sort();
        names
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
        let path = saved.store("work", &a).unwrap();
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
