//! What `login` and `login --forward` show: where the new login went and what Codex
//! says of it, as text or one JSON document.

use serde::Serialize;

use super::{json_text, login_detail};
use crate::auth::local::{describe_account, LocalOutcome};
use crate::auth::{AuthFile, AuthSummary};
use crate::ops::forward::ForwardReport;

pub(crate) fn text(
    auth: &AuthFile,
    path: &std::path::Path,
    outcome: &LocalOutcome,
    codex: Option<&str>,
) -> String {
    let who = describe_account(auth);
    let mut out = match outcome {
        LocalOutcome::Created => format!("Logged in: {who}; wrote {} (0600)\n", path.display()),
        LocalOutcome::Replaced { backup: None } => {
            format!(
                "Logged in again: {who}; replaced {} (0600)\n",
                path.display()
            )
        }
        LocalOutcome::Replaced { backup: Some(b) } => format!(
            "Logged in: {who}; replaced {} (0600), the previous login is kept in {}\n",
            path.display(),
            b.display()
        ),
        LocalOutcome::Unchanged => format!("Already logged in: {who} ({})\n", path.display()),
    };
    if auth.summary.mode == "chatgpt" {
        out.push_str(&format!("  {}\n", login_detail(auth)));
    }
    if let Some(v) = codex {
        out.push_str(&format!("  codex: {v}\n"));
    }
    auth.scrub(&out)
}

#[derive(Serialize)]
struct JsonLogin<'a> {
    command: &'static str,
    path: String,
    outcome: &'static str,
    backup: Option<String>,
    login: &'a AuthSummary,
    codex_status: Option<&'a str>,
}

pub(crate) fn json(
    auth: &AuthFile,
    path: &std::path::Path,
    outcome: &LocalOutcome,
    codex: Option<&str>,
) -> String {
    let (name, backup) = match outcome {
        LocalOutcome::Created => ("created", None),
        LocalOutcome::Replaced { backup } => {
            ("replaced", backup.as_ref().map(|b| b.display().to_string()))
        }
        LocalOutcome::Unchanged => ("unchanged", None),
    };
    let doc = JsonLogin {
        command: "login",
        path: path.display().to_string(),
        outcome: name,
        backup,
        login: &auth.summary,
        codex_status: codex,
    };
    auth.scrub(&json_text(&doc))
}

#[derive(Serialize)]
struct JsonForward<'a> {
    command: &'static str,
    forward: bool,
    ok: bool,
    port: Option<u16>,
    remote_exit: Option<u32>,
    codex_status: Option<&'a str>,
}

/// The end of a forwarded login: whether the host's `codex login` succeeded, and what
/// Codex there says now.
pub(crate) fn forward(rep: &ForwardReport, json: bool) -> String {
    let ok = rep.exit_status == Some(0);
    if json {
        return json_text(&JsonForward {
            command: "login",
            forward: true,
            ok,
            port: rep.port,
            remote_exit: rep.exit_status,
            codex_status: rep.codex_status.as_deref(),
        });
    }
    let verdict = rep.codex_status.as_deref().unwrap_or("unknown");
    if ok {
        format!("Logged in on the host; codex there says: {verdict}")
    } else {
        format!(
            "The login on the host did not finish (codex login exited {}); codex there says: {verdict}",
            rep.exit_status.map_or("?".into(), |c| c.to_string())
        )
    }
}
