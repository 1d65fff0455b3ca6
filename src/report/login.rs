//! What `login` and `login --forward` show: where the new login went and what Codex
//! says of it, as text or one JSON document.

use serde::Serialize;

use super::{json_text, login_detail};
use crate::auth::local::{describe_account, LocalOutcome, LocalPlace};
use crate::auth::{AuthFile, AuthSummary};
use crate::ops::login::{DeviceOutcome, LoggedIn};
use crate::targets::{ForwardReport, TargetError};

/// Where the new login went and what Codex says of it, on stdout.
pub(crate) fn print(done: &LoggedIn, output: &super::Output) {
    let codex = done.codex_status.as_deref();
    super::print_stdout(&if output.json {
        json(&done.auth, &done.saved, codex)
    } else {
        text(&done.auth, &done.saved, codex)
    });
}

/// The end of a forwarded login, on stdout.
pub(crate) fn print_forward(rep: &ForwardReport, output: &super::Output) {
    super::print_stdout(&forward(rep, output.json));
}

/// The end of the hosts' device logins, on stdout.
pub(crate) fn print_devices(outcomes: &[DeviceOutcome], output: &super::Output) {
    super::print_stdout(&forward_device(outcomes, output.json));
}

fn text(auth: &AuthFile, saved: &crate::auth::local::Saved, codex: Option<&str>) -> String {
    let who = describe_account(auth);
    let place = &saved.place;
    let kept = match place {
        LocalPlace::File(_) => " (0600)",
        LocalPlace::Keyring { .. } => "",
    };
    let mut out = match &saved.outcome {
        LocalOutcome::Created => format!("Logged in: {who}; saved in {place}{kept}\n"),
        LocalOutcome::Replaced { backup: None } => {
            format!("Logged in again: {who}; replaced the login in {place}{kept}\n")
        }
        LocalOutcome::Replaced { backup: Some(b) } => format!(
            "Logged in: {who}; replaced the login in {place}{kept}, the previous login is kept in {}\n",
            b.display()
        ),
        LocalOutcome::Unchanged => format!("Already logged in: {who} ({place})\n"),
    };
    if let Some(why) = &saved.fell_back {
        out.push_str(&format!(
            "  {why}: saved in the file instead, as Codex does for cli_auth_credentials_store = \"auto\"\n"
        ));
    }
    if let Some(p) = &saved.removed_file {
        out.push_str(&format!(
            "  removed {}: Codex keeps this login in the keyring, as it does after its own login\n",
            p.display()
        ));
    }
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
    /// `file` or `keyring`.
    store: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keyring_account: Option<&'a str>,
    outcome: &'static str,
    backup: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    removed_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keyring_unavailable: Option<String>,
    login: &'a AuthSummary,
    codex_status: Option<&'a str>,
}

fn json(auth: &AuthFile, saved: &crate::auth::local::Saved, codex: Option<&str>) -> String {
    let (name, backup) = match &saved.outcome {
        LocalOutcome::Created => ("created", None),
        LocalOutcome::Replaced { backup } => {
            ("replaced", backup.as_ref().map(|b| b.display().to_string()))
        }
        LocalOutcome::Unchanged => ("unchanged", None),
    };
    let (path, keyring_account) = match &saved.place {
        LocalPlace::File(p) => (Some(p.display().to_string()), None),
        LocalPlace::Keyring { account } => (None, Some(account.as_str())),
    };
    let doc = JsonLogin {
        command: "login",
        store: saved.place.kind(),
        path,
        keyring_account,
        outcome: name,
        backup,
        removed_file: saved.removed_file.as_ref().map(|p| p.display().to_string()),
        keyring_unavailable: saved.fell_back.as_ref().map(ToString::to_string),
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
fn forward(rep: &ForwardReport, json: bool) -> String {
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

#[derive(Serialize)]
struct JsonDeviceHost<'a> {
    host: String,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    codex_status: Option<&'a str>,
    /// As every `--json` error: {class, message, hint}.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a TargetError>,
}

/// The end of `login --forward ... --device-auth`: one line per host.
fn forward_device(outcomes: &[DeviceOutcome], json: bool) -> String {
    if json {
        let hosts: Vec<JsonDeviceHost> = outcomes
            .iter()
            .map(|o| match &o.result {
                Ok(r) => JsonDeviceHost {
                    host: o.spec.display(),
                    ok: r.exit_status == Some(0),
                    codex_status: r.codex_status.as_deref(),
                    error: None,
                },
                Err(e) => JsonDeviceHost {
                    host: o.spec.display(),
                    ok: false,
                    codex_status: None,
                    error: Some(e),
                },
            })
            .collect();
        return json_text(&serde_json::json!({
            "command": "login",
            "forward": true,
            "device_auth": true,
            "hosts": hosts,
        }));
    }
    let mut out = String::new();
    for o in outcomes {
        let host = o.spec.display();
        out.push_str(&match &o.result {
            Ok(r) => format!(
                "{host}: logged in; codex there says: {}\n",
                r.codex_status.as_deref().unwrap_or("unknown")
            ),
            Err(e) => format!("{host}: FAILED: {}\n", e.line()),
        });
    }
    out
}
