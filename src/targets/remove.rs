//! Taking a login off a place (`logout`, the source of a `--move`): what is asked
//! ([`RemoveRequest`]) and what every kind of place answers ([`RemoveReport`]).

use serde::Serialize;

use super::{Expect, HomeSource};
use crate::auth::store::CredentialStore;
use crate::auth::verdict::CodexSeen;

pub(crate) struct RemoveRequest<'a> {
    /// `--codex-home`, verbatim.
    pub codex_home: Option<&'a str>,
    /// Keep auth.json.bak (`--keep-backup`).
    pub keep_backup: bool,
    pub dry_run: bool,
    /// How long to wait for Codex's locks.
    pub lock_wait: std::time::Duration,
    /// Report which Codex version judged (`-v`, `--json`).
    pub codex_version: bool,
    /// What the place must still hold (compare-and-swap); `None`: anything.
    pub expect: Option<Expect>,
    /// Send the removed login here (to revoke it). Otherwise only its sha256 travels.
    pub send_login: bool,
}

/// What a removal did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RemoveOutcome {
    Removed,
    /// Nothing was there: already logged out.
    Absent,
    WouldRemove,
}

impl RemoveOutcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RemoveOutcome::Removed => "removed",
            RemoveOutcome::Absent => "already logged out",
            RemoveOutcome::WouldRemove => "would remove",
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct RemoveReport {
    pub outcome: RemoveOutcome,
    pub path: String,
    pub home_from: HomeSource,
    pub user: String,
    pub credential_store: CredentialStore,
    /// auth.json.bak removed too (or would be, on a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// The login that was removed (on a dry run: that would be), when it was asked for
    /// or is here anyway (this machine). Never serialized.
    #[serde(skip)]
    pub removed: Option<crate::secret::SecretBytes>,
    /// Its sha256, whenever the place could say it.
    #[serde(skip)]
    pub removed_sum: Option<super::Fingerprint>,
    /// What Codex there says now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codex_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codex: Option<CodexSeen>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}
