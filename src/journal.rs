//! The refresh journal: every refresh token this machine has sent to an issuer, by its
//! hash (the session key: 64 bits of its sha256), written to disk (and synced) before
//! the request leaves. A refresh token
//! rotates on use, and the issuer ends the whole session when one is sent twice; a run
//! cut off after sending cannot know whether the issuer took it. So a token found here
//! is never sent again, whatever happened: the entry only records how it ended
//! (`stored` once the new tokens are kept here). Beside it, the lock that makes two
//! `sync` runs take turns. Both live beside the ledger (0600 in a 0700 directory), and
//! hold no secret.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How a sent refresh ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Ending {
    /// Sent, and nothing known since (the run was cut off, or is still going).
    Sent,
    /// The new tokens are stored here.
    Stored,
    /// The issuer refused the token.
    Refused,
    /// Sent, and no usable answer came.
    Unknown,
}

/// One refresh token sent.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Spent {
    /// The refresh token's hash (`AuthFile::session_id`).
    pub token: String,
    /// The session's lineage, when the login has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage: Option<String>,
    /// Unix time it was sent.
    pub at: i64,
    pub ending: Ending,
}

#[derive(Default, Serialize, Deserialize)]
struct Document {
    version: u32,
    spent: Vec<Spent>,
}

/// Entries older than this are dropped: a refresh token is long dead by then.
const KEEP_SECS: i64 = 400 * 86_400;

#[derive(Clone)]
pub(crate) struct Journal {
    path: PathBuf,
}

impl Journal {
    /// The journal beside this user's ledger.
    pub(crate) fn open() -> Option<Journal> {
        let ledger = crate::ledger::Ledger::open()?;
        let dir = ledger.path().parent()?.to_path_buf();
        Some(Journal {
            path: dir.join("refresh-journal.json"),
        })
    }

    pub(crate) fn path(&self) -> &std::path::Path {
        &self.path
    }

    fn dir(&self) -> PathBuf {
        self.path
            .parent()
            .map_or_else(|| PathBuf::from("."), std::path::Path::to_path_buf)
    }

    /// Wait for any other `sync` of this user, then hold the turn until the file is
    /// dropped.
    pub(crate) fn take_turn(&self) -> std::io::Result<std::fs::File> {
        let dir = self.dir();
        crate::ledger::private_dir(&dir)?;
        crate::ledger::lock(&dir.join("sync.lock"))
    }

    fn read(&self) -> std::io::Result<Document> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                std::io::Error::other(format!(
                    "the refresh journal {} is damaged ({e}); no refresh is sent until it is repaired or removed",
                    self.path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Document::default()),
            Err(e) => Err(e),
        }
    }

    fn write(&self, mut doc: Document) -> std::io::Result<()> {
        let dir = self.dir();
        crate::ledger::private_dir(&dir)?;
        let now = crate::timestamp::now_unix();
        doc.spent.retain(|s| now - s.at < KEEP_SECS);
        doc.version = 1;
        let text = serde_json::to_vec_pretty(&doc).map_err(std::io::Error::other)?;
        crate::ledger::write_private(&dir, &self.path, &text)
    }

    /// The entry of a token (by its sha256), if it was ever sent.
    pub(crate) fn spent(&self, token: &str) -> std::io::Result<Option<Spent>> {
        Ok(self.read()?.spent.into_iter().find(|s| s.token == token))
    }

    /// Record that `token` is about to be sent; on disk when this returns. An error
    /// means it must not be sent.
    pub(crate) fn record_sent(&self, token: &str, lineage: Option<&str>) -> std::io::Result<()> {
        let mut doc = self.read()?;
        if doc.spent.iter().any(|s| s.token == token) {
            return Err(std::io::Error::other("this refresh token was sent before"));
        }
        doc.spent.push(Spent {
            token: token.to_string(),
            lineage: lineage.map(str::to_string),
            at: crate::timestamp::now_unix(),
            ending: Ending::Sent,
        });
        self.write(doc)
    }

    /// Take back the record of a token whose request never left this machine (no
    /// connection was made): it is unspent, and may be sent by a later run.
    pub(crate) fn forget_unsent(&self, token: &str) -> std::io::Result<()> {
        let mut doc = self.read()?;
        doc.spent
            .retain(|s| !(s.token == token && s.ending == Ending::Sent));
        self.write(doc)
    }

    /// Record how the refresh of `token` ended.
    pub(crate) fn settle(&self, token: &str, ending: Ending) -> std::io::Result<()> {
        let mut doc = self.read()?;
        for s in doc.spent.iter_mut().filter(|s| s.token == token) {
            s.ending = ending;
        }
        self.write(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_recorded_once_and_never_again() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal {
            path: dir.path().join("state/refresh-journal.json"),
        };
        assert!(j.spent("aa").unwrap().is_none());
        j.record_sent("aa", Some("lin")).unwrap();
        assert_eq!(j.spent("aa").unwrap().unwrap().ending, Ending::Sent);
        assert!(j.record_sent("aa", None).is_err(), "a token is sent once");
        j.settle("aa", Ending::Stored).unwrap();
        assert_eq!(j.spent("aa").unwrap().unwrap().ending, Ending::Stored);
        std::fs::write(j.path(), "{").unwrap();
        assert!(j.spent("aa").is_err(), "a damaged journal stops refreshes");
        assert!(j.record_sent("bb", None).is_err());
        let _turn = j.take_turn().unwrap();
    }
}
