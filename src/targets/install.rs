//! Installing a login on a place: what is asked ([`InstallRequest`]) and what every
//! kind of place answers ([`InstallReport`], made by one builder), whatever the
//! transport (the script, the Docker archive API, this machine's own files or keyring).

use super::{Expect, HomeSource, Location};
use crate::auth::store::CredentialStore;
use crate::auth::verdict::CodexSeen;
use crate::auth::{AuthFile, AuthSummary};

pub(crate) struct InstallRequest<'a> {
    pub auth: &'a AuthFile,
    /// `--codex-home`, verbatim (a leading `~/` is the target user's home).
    pub codex_home: Option<&'a str>,
    pub force: bool,
    pub dry_run: bool,
    /// Report which Codex version judged (`-v`, `--json`): one more process there.
    pub codex_version: bool,
    /// How long to wait for each of Codex's locks there before giving up (`busy`).
    pub lock_wait: std::time::Duration,
    /// What the place must still hold (compare-and-swap); `None`: anything.
    pub expect: Option<Expect>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Outcome {
    Installed,
    Unchanged,
    WouldInstall,
    /// The credential store there is keyring/auto: Codex would not use the file.
    Skipped,
}

impl Outcome {
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            Outcome::Installed => "installed",
            Outcome::Unchanged => "unchanged",
            Outcome::WouldInstall => "would install",
            Outcome::Skipped => "skipped",
        }
    }
}

/// What was at the path before an install.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Previous {
    #[default]
    None,
    /// The same bytes.
    Same,
    /// Another file (kept as auth.json.bak).
    Different,
    Symlink,
    Dir,
    #[serde(other)]
    Other,
}

#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct InstallReport {
    pub outcome: Outcome,
    pub path: String,
    pub home_from: HomeSource,
    pub user: String,
    pub credential_store: CredentialStore,
    pub previous: Previous,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir_mode: Option<String>,
    /// Whether the content read back matched (sha256, or length where no hash tool exists).
    pub verified: bool,
    /// What `codex login status` says there (its line); None when there is no codex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codex_status: Option<String>,
    /// Which Codex said it, and its verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codex: Option<CodexSeen>,
    /// Things worth knowing that are not failures (tmpfs, direct write, fixed modes).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The login installed here, when it was made for this target (`push --login`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login: Option<AuthSummary>,
}

impl InstallReport {
    /// The report of an install with `outcome` at `location` (its auth.json), nothing
    /// else known yet: every kind of place starts its report here.
    pub(crate) fn new(outcome: Outcome, location: &Location) -> InstallReport {
        InstallReport {
            outcome,
            path: location.auth_path(),
            home_from: location.home_from,
            user: location.user.clone(),
            credential_store: location.store,
            previous: Previous::None,
            backup: None,
            file_mode: None,
            dir_mode: None,
            verified: false,
            codex_status: None,
            codex: None,
            notes: Vec::new(),
            login: None,
        }
    }
}

/// Why a target whose Codex keeps its login elsewhere was skipped.
pub(crate) fn skip_reason(store: CredentialStore) -> String {
    match store {
        CredentialStore::Ephemeral => "skipped: Codex there keeps its login in memory only (cli_auth_credentials_store = \"ephemeral\") and reads no auth.json (--force writes it anyway)",
        CredentialStore::Auto => "skipped: Codex there can reach an OS keyring (cli_auth_credentials_store = \"auto\"), and a login kept there wins over auth.json (--force writes the file anyway)",
        _ => "skipped: Codex there reads its login from the OS keyring only (cli_auth_credentials_store = \"keyring\") and would ignore auth.json (--force writes the file anyway)",
    }
    .to_string()
}
