//! Taking a login off a shell-capable target (`logout`): the request for
//! `sh/remove.sh`, and its report. The file goes under Codex's own locks, as an install
//! writes it; a symlink at the path is removed, never followed.

use serde::Serialize;

use super::script::{Invocation, Script};
use super::{HomeFrom, HomeSource, Target, TargetError};
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
}

/// What a removal did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
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
    /// The login that was removed (on a dry run: that would be). Never serialized.
    #[serde(skip)]
    pub removed: Option<crate::secret::SecretBytes>,
    /// What Codex there says now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codex_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codex: Option<CodexSeen>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

pub(crate) async fn run<T: Target + ?Sized>(
    target: &T,
    req: &RemoveRequest<'_>,
) -> Result<RemoveReport, TargetError> {
    let (passwd_home, passwd_user) = match target.home_from() {
        HomeFrom::Environment => ("0", String::new()),
        HomeFrom::Passwd(user) => ("1", user),
    };
    let lock_wait = req.lock_wait.as_secs().max(1).to_string();
    let invocation = Invocation::new(
        Script::Remove,
        &[
            req.codex_home.unwrap_or(""),
            passwd_home,
            &passwd_user,
            if req.keep_backup { "1" } else { "0" },
            if req.dry_run { "1" } else { "0" },
            &lock_wait,
            if req.codex_version { "1" } else { "0" },
        ],
        b"",
    )?;
    let out = target
        .run(&invocation)
        .await
        .map_err(|e| e.not_started("removal"))?;
    let report = invocation.parse(out);
    if let Some((class, detail)) = report.error() {
        if class == "write" {
            return Err(super::install::write_failure(detail));
        }
        return Err(report.failure().unwrap_or_else(TargetError::worker_lost));
    }
    let outcome = match report.get("outcome") {
        Some("removed") => RemoveOutcome::Removed,
        Some("absent") => RemoveOutcome::Absent,
        Some("would-remove") => RemoveOutcome::WouldRemove,
        _ => {
            if let Some(mut lost) = report.lost.clone() {
                lost.message
                    .push_str(", while removing: the login may be there or gone (`codex-auth status` shows which)");
                return Err(lost);
            }
            return Err(report.unfinished("remove", "the target needs a POSIX sh with rm"));
        }
    };
    let location = report.location();
    let (codex_status, codex) = report.codex().unzip();
    let mut notes = report.notes();
    // Cut off while the login was sent: it is gone there all the same, but unknown here.
    let removed = match report.body() {
        Ok(b) => b.map(crate::secret::SecretBytes::new),
        Err(_) => {
            notes.push("the removed login was not received whole (the connection ended)".into());
            None
        }
    };
    if let Some(lost) = &report.lost {
        notes.push(format!(
            "{}, after the removal (Codex there was not asked)",
            lost.message
        ));
    }
    Ok(RemoveReport {
        outcome,
        path: location.auth_path(),
        home_from: location.home_from,
        user: location.user,
        credential_store: location.store,
        backup: report.get("backup").map(str::to_string),
        removed,
        codex_status,
        codex,
        notes,
    })
}
