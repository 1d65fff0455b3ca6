//! What a Codex home's config.toml decides about logins: where Codex keeps one
//! (`cli_auth_credentials_store`: `file`, the default; `keyring`; `auto`; `ephemeral`) and
//! which ones it accepts (`forced_login_method`, `forced_chatgpt_workspace_id`). Only
//! top-level keys count, as for Codex.

/// The credential store a Codex home selects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
}

/// The settings of a config.toml that make Codex refuse some logins.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Forced {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_method: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub workspaces: Vec<String>,
}

impl Forced {
    /// Why Codex would refuse `auth` under these settings (`codex login status` then
    /// says "Not logged in", and `codex exec` deletes the file), if it would.
    pub(crate) fn refuses(&self, auth: &super::AuthFile) -> Option<String> {
        let method = auth.mode.login_method()?;
        if let Some(forced) = &self.login_method {
            if forced != method {
                return Some(format!(
                    "forced_login_method = \"{forced}\" there, and this is {} {method} login",
                    if method == "api" { "an" } else { "a" }
                ));
            }
        }
        match &auth.workspace {
            Some(ws)
                if method == "chatgpt"
                    && !self.workspaces.is_empty()
                    && !self.workspaces.contains(ws) =>
            {
                Some(format!(
                    "forced_chatgpt_workspace_id = [{}] there, and this login's workspace is {ws}",
                    self.workspaces.join(", ")
                ))
            }
            _ => None,
        }
    }
}

/// The top-level keys of a config.toml that matter for logins.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CodexConfig {
    pub store: CredentialStore,
    pub forced: Forced,
}

impl CodexConfig {
    /// Read the keys that matter; a file Codex could not parse decides nothing here
    /// (Codex itself then refuses to start, which its verdict says).
    pub(crate) fn parse(config_toml: &str) -> CodexConfig {
        let Ok(table) = config_toml.parse::<toml::Table>() else {
            return CodexConfig::default();
        };
        let word = |k: &str| table.get(k).and_then(toml::Value::as_str);
        let workspaces = match table.get("forced_chatgpt_workspace_id") {
            Some(toml::Value::String(s)) => vec![s.clone()],
            Some(toml::Value::Array(a)) => a
                .iter()
                .filter_map(toml::Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        };
        CodexConfig {
            store: word("cli_auth_credentials_store")
                .and_then(CredentialStore::from_word)
                .unwrap_or_default(),
            forced: Forced {
                login_method: word("forced_login_method").map(str::to_string),
                workspaces,
            },
        }
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
    fn forced_settings_are_strings_or_lists() {
        let c = CodexConfig::parse(
            "forced_login_method = 'api'\nforced_chatgpt_workspace_id = [\n \"a\",\n \"b\" ]\n[x]\nforced_login_method = \"chatgpt\"\n",
        );
        assert_eq!(c.forced.login_method.as_deref(), Some("api"));
        assert_eq!(c.forced.workspaces, ["a", "b"]);
        let c = CodexConfig::parse("forced_chatgpt_workspace_id = \"ws\"\n");
        assert_eq!(c.forced.workspaces, ["ws"]);
        assert_eq!(
            CodexConfig::parse("not toml = = =").forced,
            Forced::default()
        );
    }

    #[test]
    fn reads_only_the_top_level_key() {
        let store = |t: &str| CodexConfig::parse(t).store;
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

    #[test]
    fn config_toml_takes_the_odd_inputs() {
        for (_, text) in crate::test_inputs::odd_texts() {
            let _ = CodexConfig::parse(&text);
        }
    }

    proptest::proptest! {
        #![proptest_config(crate::test_inputs::config())]
        #[test]
        fn config_toml_never_panics(
            text in crate::test_inputs::text_from(
                &["cli_auth_credentials_store", "forced_login_method", "forced_chatgpt_workspace_id", " = ", "\"", "'", "[", "]", "{", "}", ",", "\n", "keyring", "api", "#", "[profiles.x]", "1"],
                40,
            )
        ) {
            let _ = CodexConfig::parse(&text);
        }
    }
}
