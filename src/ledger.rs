//! The ledger: where this machine's runs put which login, so that a logout or a fresh
//! sign-in can name every place a ChatGPT session was copied to. One small JSON file in
//! the user's state directory (`$XDG_STATE_HOME/codex-auth/ledger.json`, 0600 in a 0700
//! directory), with no secret in it: per place, the place as the user named it and as
//! it resolved, the session key (the hash `status` compares: a short hash of
//! the refresh token, or of an API key), the kind of login, when, and which command.
//!
//! Updated by push, move, logout and status, under a lock file, written atomically. A
//! damaged or missing ledger is never fatal: it starts again from what the next runs
//! see, and the run says so once.
//!
//! It also holds the leases of `run`s that have not ended (a login lent to a place
//! while one command runs there): recorded when the lease is made, dropped when it is
//! removed, and treated as gone once the `run` that made it is (a SIGKILLed run leaves
//! its record; the next reader sees its process is gone). `sync` reads them: a session
//! lent whole to a running command is not refreshed under it.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::auth::AuthFile;

/// One place and the login it was last seen or left holding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// The place as reports name it: `local`, an ssh destination as typed (or its
    /// inventory name), or `docker:NAME`.
    pub place: String,
    /// How to reach it again: `local`, `ssh:DEST`, `docker:NAME`.
    pub address: String,
    /// The key for this host alone, if it has one (from an inventory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// Where that resolved: the login user and the auth.json path (or keyring entry).
    pub resolved: String,
    /// The session's key (see [`session_key`]): equal values are one session.
    #[serde(rename = "fingerprint")]
    pub session: String,
    /// `chatgpt`, `apikey`, ...
    pub kind: String,
    /// sha256 of the bytes that place held when the entry was made: a place that still
    /// holds exactly those is known to hold this session without sending its login here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// The sign-in it belongs to across refreshes (a hash of `tokens.login_owner_id`):
    /// `sync` finds the places of a session by it after the refresh token rotated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage: Option<String>,
    /// The place holds an access-only copy (refresh token withheld).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub access_only: bool,
    /// What can be shown of that login (account, plan, masked key; no secret): a logout
    /// that receives only a fingerprint names what it removed from this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<crate::auth::AuthSummary>,
    /// Unix time of the last update.
    pub at: i64,
    /// The command that made the entry: `push`, `move`, `status`, `login`.
    pub by: String,
}

/// A login lent to a place by a `run` that has not ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LeaseEntry {
    /// The place as reports name it (as [`Entry::place`]).
    pub place: String,
    /// The lease's private Codex home there.
    pub lease: String,
    /// The session's key (see [`session_key`]).
    pub session: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage: Option<String>,
    /// The copy lent has no refresh token (the default of `run`).
    pub access_only: bool,
    /// The account, as `status` shows it (no secret).
    pub account: String,
    /// The `run` process on this machine, and its start time (so that a reused PID is
    /// not taken for it).
    pub pid: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_start: Option<u64>,
    /// Unix time the lease was made.
    pub at: i64,
}

impl LeaseEntry {
    /// A record of a lease this process made of `auth` at `place`.
    pub(crate) fn of_this_run(place: String, lease: String, auth: &AuthFile) -> LeaseEntry {
        let pid = std::process::id();
        LeaseEntry {
            place,
            lease,
            session: session_key(auth),
            lineage: auth.lineage.clone(),
            access_only: auth.summary.access_only || auth.refresh_token().is_none(),
            account: crate::auth::local::describe_account(auth),
            pid,
            pid_start: crate::liveness::process_start(pid),
            at: crate::timestamp::now_unix(),
        }
    }

    /// Whether the `run` that made the lease still runs.
    pub(crate) fn live(&self) -> bool {
        crate::liveness::process_alive(self.pid, self.pid_start)
    }
}

#[derive(Default, Serialize, Deserialize)]
struct Document {
    version: u32,
    entries: Vec<Entry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    leases: Vec<LeaseEntry>,
}

/// Which session a login is: its session id for ChatGPT logins, else a short hash of
/// the credential itself (never the credential). Equal keys: one session.
pub(crate) fn session_key(auth: &AuthFile) -> String {
    auth.session_id
        .clone()
        .unwrap_or_else(|| auth.sha256_hex()[..16].to_string())
}

/// What a ledger update changes.
pub(crate) enum Change {
    /// `place` holds `auth` (resolved as given), seen or left by `by`.
    Holds {
        place: String,
        address: String,
        identity: Option<String>,
        resolved: String,
        auth: Box<AuthFile>,
        by: &'static str,
    },
    /// `place` holds nothing any more (logged out, or found empty).
    Empty { place: String },
    /// A `run` lent a login to a place.
    LeaseMade(Box<LeaseEntry>),
    /// That lease ended (removed, or left to its keeper there).
    LeaseEnded { place: String, lease: String },
}

pub(crate) struct Ledger {
    path: PathBuf,
}

impl Ledger {
    /// The ledger of this user (`CODEX_AUTH_LEDGER` names another file, for tests and
    /// for keeping one per project).
    pub(crate) fn open() -> Option<Ledger> {
        if let Some(p) = std::env::var_os("CODEX_AUTH_LEDGER").filter(|p| !p.is_empty()) {
            return Some(Ledger { path: p.into() });
        }
        let dir = dirs::state_dir().or_else(dirs::data_local_dir)?;
        Some(Ledger {
            path: dir.join("codex-auth").join("ledger.json"),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Every entry; a damaged file reads as empty, with a warning to show.
    pub(crate) fn entries(&self) -> (Vec<Entry>, Option<String>) {
        let (doc, warning) = self.document();
        (doc.entries, warning)
    }

    /// The leases of `run`s that still run (a damaged ledger has none).
    pub(crate) fn live_leases(&self) -> Vec<LeaseEntry> {
        let (doc, _) = self.document();
        doc.leases.into_iter().filter(LeaseEntry::live).collect()
    }

    fn document(&self) -> (Document, Option<String>) {
        match std::fs::read(&self.path) {
            Err(_) => (Document::default(), None),
            Ok(bytes) => match serde_json::from_slice::<Document>(&bytes) {
                Ok(doc) => (doc, None),
                Err(e) => (
                    Document::default(),
                    Some(format!(
                        "warning: the ledger {} is damaged ({e}); it starts again from what this run sees",
                        self.path.display()
                    )),
                ),
            },
        }
    }

    /// Apply `changes` under the ledger's lock. A failure to write is returned as a
    /// warning to show, never as an error: the ledger only remembers.
    pub(crate) fn update(&self, changes: Vec<Change>) -> Option<String> {
        if changes.is_empty() {
            return None;
        }
        let result = (|| -> std::io::Result<()> {
            let dir = self.path.parent().unwrap_or(Path::new("."));
            private_dir(dir)?;
            let _lock = lock(&dir.join("ledger.lock"))?;
            let (doc, _) = self.document();
            let mut entries = doc.entries;
            // (the leases of runs that are gone go with any update)
            let mut leases: Vec<LeaseEntry> =
                doc.leases.into_iter().filter(LeaseEntry::live).collect();
            let now = crate::timestamp::now_unix();
            for change in changes {
                match change {
                    Change::LeaseMade(lease) => {
                        leases.retain(|l| !(l.place == lease.place && l.lease == lease.lease));
                        leases.push(*lease);
                    }
                    Change::LeaseEnded { place, lease } => {
                        leases.retain(|l| !(l.place == place && l.lease == lease))
                    }
                    Change::Holds {
                        place,
                        address,
                        identity,
                        resolved,
                        auth,
                        by,
                    } => {
                        // A status that finds the same session keeps when and how it
                        // got there.
                        let fp = session_key(&auth);
                        // What status finds at a place given an access-only copy does not
                        // make it a holder of the session's refresh token: only a push
                        // or a sync writing a full copy there does (sync trusts no other).
                        let kept_access_only = by == "status"
                            && entries.iter().any(|e| {
                                e.place == place
                                    && e.access_only
                                    && e.lineage.is_some()
                                    && e.lineage == auth.lineage
                            });
                        if by == "status" {
                            if let Some(e) = entries
                                .iter_mut()
                                .find(|e| e.place == place && e.session == fp)
                            {
                                e.resolved = resolved;
                                e.content = Some(auth.sha256_hex());
                                e.lineage = auth.lineage.clone();
                                e.access_only = auth.summary.access_only || kept_access_only;
                                e.summary = Some(auth.summary.clone());
                                continue;
                            }
                        }
                        entries.retain(|e| e.place != place);
                        entries.push(Entry {
                            place,
                            address,
                            identity,
                            resolved,
                            session: session_key(&auth),
                            kind: auth.summary.mode.clone(),
                            content: Some(auth.sha256_hex()),
                            lineage: auth.lineage.clone(),
                            access_only: auth.summary.access_only || kept_access_only,
                            summary: Some(auth.summary.clone()),
                            at: now,
                            by: by.to_string(),
                        });
                    }
                    Change::Empty { place } => entries.retain(|e| e.place != place),
                }
            }
            entries.sort_by(|a, b| a.place.cmp(&b.place));
            let doc = Document {
                version: 1,
                entries,
                leases,
            };
            let text = serde_json::to_string_pretty(&doc).map_err(std::io::Error::other)?;
            write_private(dir, &self.path, text.as_bytes())
        })();
        result.err().map(|e| {
            format!(
                "warning: cannot update the ledger {}: {e}",
                self.path.display()
            )
        })
    }

    /// Drop the entry of `place`; whether there was one.
    pub(crate) fn forget(&self, place: &str) -> Result<bool, String> {
        let (entries, _) = self.entries();
        if !entries.iter().any(|e| e.place == place) {
            return Ok(false);
        }
        match self.update(vec![Change::Empty {
            place: place.to_string(),
        }]) {
            None => Ok(true),
            Some(w) => Err(w),
        }
    }
}

impl Change {
    /// `spec` holds `auth`, at `resolved`.
    pub(crate) fn holds(
        spec: &crate::targets::TargetSpec,
        resolved: String,
        auth: &AuthFile,
        by: &'static str,
    ) -> Change {
        Change::Holds {
            place: spec.display(),
            address: spec.address(),
            identity: spec.identity(),
            resolved,
            auth: Box::new(auth.clone()),
            by,
        }
    }

    /// `spec` holds nothing now.
    pub(crate) fn empty(spec: &crate::targets::TargetSpec) -> Change {
        Change::Empty {
            place: spec.display(),
        }
    }
}

impl Entry {
    /// The place, to check it again (`None`: an address that no longer parses).
    pub(crate) fn target(&self) -> Option<crate::targets::TargetSpec> {
        crate::targets::TargetSpec::remembered(&self.address, &self.place, self.identity.as_deref())
    }
}

/// Other places the ledger remembers holding the session `session`, besides `except`.
pub(crate) fn holders<'a>(
    entries: &'a [Entry],
    session: &str,
    except: &[String],
) -> Vec<&'a Entry> {
    entries
        .iter()
        .filter(|e| e.session == session && !except.contains(&e.place))
        .collect()
}

/// The entry that remembers the login whose bytes have the sha256 `content`: the one of
/// `place` first, else any (the same bytes went to several places).
pub(crate) fn with_content<'a>(
    entries: &'a [Entry],
    place: &str,
    content: &str,
) -> Option<&'a Entry> {
    let same = |e: &&Entry| e.content.as_deref() == Some(content);
    entries
        .iter()
        .filter(same)
        .find(|e| e.place == place)
        .or_else(|| entries.iter().find(same))
}

/// "devbox (pushed 2026-11-30)".
pub(crate) fn describe(e: &Entry) -> String {
    let (y, m, d, ..) = crate::timestamp::civil(e.at);
    let verb = match e.by.as_str() {
        "push" => "pushed",
        "move" => "moved there",
        "login" => "logged in",
        _ => "seen",
    };
    format!("{} ({verb} {y:04}-{m:02}-{d:02})", e.place)
}

#[cfg(unix)]
pub(crate) fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
pub(crate) fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
pub(crate) fn lock(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    // SAFETY: flock on a descriptor this function owns; released when it is dropped.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(f)
}

#[cfg(not(unix))]
pub(crate) fn lock(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

pub(crate) fn write_private(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let suffix = crate::encoding::random_b64url(6).map_err(std::io::Error::other)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("state");
    let tmp = dir.join(format!(".{name}.{suffix}"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut f = options.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename itself on disk too (the journal relies on it before a refresh).
        #[cfg(unix)]
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn entries_per_place_no_secret_and_a_damaged_file_starts_again() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger {
            path: dir.path().join("state/codex-auth/ledger.json"),
        };
        let a = AuthFile::parse(crate::auth::testdata::chatgpt_json("rt-ledger-secret").as_bytes())
            .unwrap();
        let hold = |place: &str| Change::Holds {
            place: place.into(),
            address: format!("ssh:{place}"),
            identity: None,
            resolved: format!("{place}: /home/x/.codex/auth.json"),
            auth: Box::new(a.clone()),
            by: "push",
        };
        assert!(ledger
            .update(vec![hold("devbox"), hold("docker:app")])
            .is_none());
        let text = std::fs::read_to_string(ledger.path()).unwrap();
        assert!(!text.contains("rt-ledger-secret"));
        let mode = std::fs::metadata(ledger.path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let (entries, warning) = ledger.entries();
        assert!(warning.is_none());
        assert_eq!(entries.len(), 2);
        let others = holders(&entries, &session_key(&a), &["devbox".to_string()]);
        assert_eq!(others.len(), 1);
        assert!(describe(others[0]).starts_with("docker:app (pushed "));
        assert_eq!(ledger.forget("devbox"), Ok(true));
        assert_eq!(ledger.forget("devbox"), Ok(false));
        std::fs::write(ledger.path(), "{not json").unwrap();
        let (entries, warning) = ledger.entries();
        assert!(entries.is_empty());
        assert!(warning.unwrap().contains("damaged"));
        assert!(ledger.update(vec![hold("again")]).is_none());
        assert_eq!(ledger.entries().0.len(), 1);
    }

    #[test]
    fn a_lease_is_known_while_its_run_runs_and_not_after() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger {
            path: dir.path().join("ledger.json"),
        };
        let a = AuthFile::parse(crate::auth::testdata::chatgpt_json("rt-lease-secret").as_bytes())
            .unwrap();
        let mine =
            LeaseEntry::of_this_run("devbox".into(), "/h/.codex/.codex-auth-run/x".into(), &a);
        assert!(mine.live() && !mine.access_only);
        // The same PID started at another time is another process; a PID that does not
        // exist is gone.
        let reused = LeaseEntry {
            lease: "/h/.codex/.codex-auth-run/y".into(),
            pid_start: mine.pid_start.map(|s| s + 1),
            ..mine.clone()
        };
        let gone = LeaseEntry {
            lease: "/h/.codex/.codex-auth-run/z".into(),
            pid: i32::MAX as u32,
            ..mine.clone()
        };
        let made = |l: &LeaseEntry| Change::LeaseMade(Box::new(l.clone()));
        assert!(ledger
            .update(vec![made(&mine), made(&reused), made(&gone)])
            .is_none());
        let text = std::fs::read_to_string(ledger.path()).unwrap();
        assert!(!text.contains("rt-lease-secret"));
        if mine.pid_start.is_some() {
            assert_eq!(ledger.live_leases(), std::slice::from_ref(&mine));
        }
        // Any update drops the records of runs that are gone; the lease's end its own.
        assert!(ledger
            .update(vec![Change::LeaseEnded {
                place: "devbox".into(),
                lease: mine.lease.clone(),
            }])
            .is_none());
        assert!(ledger.live_leases().is_empty());
        let text = std::fs::read_to_string(ledger.path()).unwrap();
        assert!(!text.contains("leases"), "{text}");
        assert_eq!(ledger.entries().0.len(), 0);
    }
}
