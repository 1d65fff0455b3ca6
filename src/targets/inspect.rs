//! Reading what login a place holds, writing nothing: what is asked
//! ([`InspectRequest`]) and what every kind of place answers ([`InspectReport`]; the
//! raw auth.json is kept secret, and `ops::status` decodes it).

use super::{Expect, FileKind, Fingerprint, Forced, Location};
use crate::auth::verdict::CodexSeen;
use crate::secret::SecretBytes;

pub(crate) struct InspectRequest<'a> {
    /// `--codex-home`, verbatim.
    pub codex_home: Option<&'a str>,
    /// Ask Codex there what it makes of the login (`codex login status`: one process
    /// there); a read for its content alone (a source, a move) does not.
    pub judge: bool,
    /// Report which Codex version judged (`-v`, `--json`): one more process there.
    pub codex_version: bool,
    /// Only the login's sha256 is wanted, not the login (scripted places; the others
    /// read it where they are).
    pub digest_only: bool,
}

impl<'a> InspectRequest<'a> {
    /// A read for the login's content alone (a source, a move, a forwarded login's
    /// check): Codex there is not asked.
    pub fn content(codex_home: Option<&'a str>) -> Self {
        InspectRequest {
            codex_home,
            judge: false,
            codex_version: false,
            digest_only: false,
        }
    }

    /// A read for the login's sha256 alone: the login itself stays where it is.
    pub fn digest(codex_home: Option<&'a str>) -> Self {
        InspectRequest {
            digest_only: true,
            ..InspectRequest::content(codex_home)
        }
    }
}

/// What a target holds. `content` is the raw auth.json and never printed.
#[derive(Clone, Debug, Default)]
pub(crate) struct InspectReport {
    pub location: Location,
    pub kind: FileKind,
    pub file_mode: Option<String>,
    /// What `codex login status` says there (its line), and which Codex said it.
    pub codex_status: Option<String>,
    pub codex: Option<CodexSeen>,
    pub forced: Forced,
    /// Things worth knowing (Codex running there).
    pub notes: Vec<String>,
    /// (Shared by the clones of the report: one copy in memory.)
    pub content: Option<std::sync::Arc<SecretBytes>>,
    /// The login's sha256, when only that was asked for (`digest_only`).
    pub sum: Option<String>,
    pub unreadable: bool,
    /// The keyring account the login was read from (this machine, keyring-held logins).
    pub keyring_account: Option<String>,
}

impl InspectReport {
    /// Where the login is: the auth.json path, or the keyring entry.
    pub(crate) fn path(&self) -> String {
        match &self.keyring_account {
            Some(account) => format!("keyring:{}/{account}", crate::auth::os_keyring::SERVICE),
            None => self.location.auth_path(),
        }
    }

    /// The precondition that this place still holds what was read here, when it can be
    /// said: no login, or the login read (`None` for a directory or an unreadable file).
    pub(crate) fn expect_unchanged(&self) -> Option<Expect> {
        match (&self.content, self.kind) {
            (Some(bytes), _) => Some(Expect::Holds(Fingerprint::of(bytes.expose()))),
            (None, FileKind::None) => Some(Expect::Nothing),
            (None, _) => None,
        }
    }
}
