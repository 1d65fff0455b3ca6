//! Where Codex keeps a login: `cli_auth_credentials_store` in a Codex home's config.toml
//! (`file`, the default; `keyring`; `auto`; `ephemeral`), read the way Codex reads it.

/// The credential store a Codex home selects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum CredentialStore {
    #[default]
    File,
    Keyring,
    Auto,
    Ephemeral,
}

impl CredentialStore {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CredentialStore::File => "file",
            CredentialStore::Keyring => "keyring",
            CredentialStore::Auto => "auto",
            CredentialStore::Ephemeral => "ephemeral",
        }
    }

    /// The store named by a word as the target scripts report it.
    pub(crate) fn from_word(word: &str) -> Option<CredentialStore> {
        [
            CredentialStore::File,
            CredentialStore::Keyring,
            CredentialStore::Auto,
            CredentialStore::Ephemeral,
        ]
        .into_iter()
        .find(|s| s.as_str() == word)
    }

    /// Codex there ignores auth.json (`keyring`) or may prefer a keyring entry over it
    /// (`auto`): a file written there may not be the login Codex uses.
    pub(crate) fn may_ignore_file(self) -> bool {
        matches!(self, CredentialStore::Keyring | CredentialStore::Auto)
    }

    /// The store a `config.toml` selects (top-level key only).
    pub(crate) fn from_config(config_toml: &str) -> CredentialStore {
        for raw in config_toml.lines() {
            let line = raw.trim_start();
            if line.starts_with('[') {
                break;
            }
            let Some(rest) = line.strip_prefix("cli_auth_credentials_store") else {
                continue;
            };
            let Some(value) = rest.trim_start().strip_prefix('=') else {
                continue;
            };
            let value = value.split('#').next().unwrap_or("");
            for store in [
                CredentialStore::Keyring,
                CredentialStore::Auto,
                CredentialStore::Ephemeral,
                CredentialStore::File,
            ] {
                if value.contains(store.as_str()) {
                    return store;
                }
            }
        }
        CredentialStore::File
    }
}

impl std::fmt::Display for CredentialStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_the_top_level_key() {
        let store = CredentialStore::from_config;
        assert_eq!(store("model = \"x\"\n"), CredentialStore::File);
        assert_eq!(
            store("cli_auth_credentials_store = \"keyring\"\n"),
            CredentialStore::Keyring
        );
        assert_eq!(
            store("cli_auth_credentials_store='auto' # not keyring\n"),
            CredentialStore::Auto
        );
        assert_eq!(
            store("# cli_auth_credentials_store = \"keyring\"\n"),
            CredentialStore::File
        );
        assert_eq!(
            store("[profiles.a]\ncli_auth_credentials_store = \"keyring\"\n"),
            CredentialStore::File
        );
        assert_eq!(
            CredentialStore::from_word("ephemeral"),
            Some(CredentialStore::Ephemeral)
        );
        assert_eq!(CredentialStore::from_word("bogus"), None);
    }
}
