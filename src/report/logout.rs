//! What `logout` shows: one row per place, the sessions revoked (or not), and what could
//! not be revoked; or one JSON document.

use serde::Serialize;

use super::push::JsonSummary;
use super::{json_text, render_table, scrub, Verbosity};
use crate::auth::AuthSummary;
use crate::ops::logout::LogoutResults;
use crate::targets::{RemoveOutcome, TargetError};

/// Every login removed, for scrubbing.
fn logins(results: &LogoutResults) -> impl Iterator<Item = &crate::auth::AuthFile> {
    results
        .places
        .iter()
        .filter_map(|p| p.result.as_ref().ok().and_then(|o| o.login.as_ref()))
}

const NOT_REVOCABLE: &str = "API keys and access tokens are removed, never revoked: revoke an API key at platform.openai.com/api-keys, an access token where it was issued";

/// The logout's result document on stdout: the table, or `--json`'s document.
pub(crate) fn print(results: &LogoutResults, output: &super::Output) {
    super::print_stdout(&if output.json {
        json(results)
    } else {
        table(results, output.verbosity)
    });
}

fn table(results: &LogoutResults, verbosity: Verbosity) -> String {
    let mut rows = vec![vec![
        "PLACE".to_string(),
        "RESULT".into(),
        "PATH".into(),
        "NOTE".into(),
    ]];
    for p in &results.places {
        if verbosity == Verbosity::Quiet && p.result.is_ok() {
            continue;
        }
        rows.push(match &p.result {
            Ok(o) => {
                let mut notes = Vec::new();
                match (&o.known_as, &o.removed) {
                    (Some(s), _) => {
                        notes.push(format!("was {}", crate::auth::local::describe_summary(s)))
                    }
                    (None, Some(sum)) => {
                        notes.push(format!("was a login with sha256 {}", &sum.as_str()[..16]))
                    }
                    (None, None) => {}
                }
                if let Some(b) = &o.backup {
                    notes.push(format!("{b} too"));
                }
                notes.extend(o.notes.iter().cloned());
                if let Some(s) = &o.codex_status {
                    notes.push(format!("codex: {s}"));
                }
                vec![
                    p.spec.display(),
                    o.outcome.as_str().to_string(),
                    o.path.clone(),
                    notes.join("; "),
                ]
            }
            Err(e) => vec![p.spec.display(), "FAILED".into(), "-".into(), e.line()],
        });
    }
    if rows.len() == 1 {
        rows.clear();
    }
    let mut out = render_table(&rows);
    for r in &results.revocations {
        let line = match &r.result {
            None => format!(
                "would revoke the ChatGPT session of {} at {}",
                r.account, r.issuer
            ),
            Some(Ok(())) => format!(
                "revoked the ChatGPT session of {} at {}",
                r.account, r.issuer
            ),
            Some(Err(e)) => format!(
                "FAILED to revoke the ChatGPT session of {} at {}: {e}",
                r.account, r.issuer
            ),
        };
        out.push_str(&line);
        if !r.also_signed_out.is_empty() {
            out.push_str(&format!(
                " (also signs out: {})",
                r.also_signed_out.join(", ")
            ));
        }
        out.push('\n');
    }
    if !results.not_revocable.is_empty() {
        out.push_str(&format!(
            "not revoked: {} ({NOT_REVOCABLE})\n",
            results.not_revocable.join(", ")
        ));
    }
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for p in &results.places {
        let k = match &p.result {
            Ok(o) => o.outcome.as_str(),
            Err(_) => "failed",
        };
        match counts.iter_mut().find(|(n, _)| *n == k) {
            Some((_, c)) => *c += 1,
            None => counts.push((k, 1)),
        }
    }
    let parts: Vec<String> = counts.iter().map(|(k, c)| format!("{c} {k}")).collect();
    let n = results.places.len();
    out.push_str(&format!(
        "{n} place{}: {}\n",
        if n == 1 { "" } else { "s" },
        parts.join(", ")
    ));
    scrub(out, logins(results))
}

#[derive(Serialize)]
struct JsonPlace<'a> {
    target: String,
    kind: &'static str,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<RemoveOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    removed_login: Option<RemovedLogin<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    backup: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    codex_status: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notes: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a TargetError>,
}

/// What a place removed: its fingerprint, and what is known of it (from the login when it
/// came here, else from the ledger).
#[derive(Serialize)]
struct RemovedLogin<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    fingerprint: Option<&'a str>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    summary: Option<&'a AuthSummary>,
}

#[derive(Serialize)]
struct JsonRevocation<'a> {
    account: &'a str,
    issuer: &'a str,
    removed_from: &'a [String],
    also_signed_out: &'a [String],
    /// `revoked`, `failed` or `would-revoke`.
    result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonLogout<'a> {
    command: &'static str,
    dry_run: bool,
    places: Vec<JsonPlace<'a>>,
    revocations: Vec<JsonRevocation<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    not_revoked: &'a [String],
    summary: JsonSummary,
}

fn json(results: &LogoutResults) -> String {
    let places: Vec<JsonPlace> = results
        .places
        .iter()
        .map(|p| match &p.result {
            Ok(o) => JsonPlace {
                target: p.spec.label(),
                kind: p.spec.kind().as_str(),
                ok: true,
                outcome: Some(o.outcome),
                path: Some(&o.path),
                removed_login: (o.removed.is_some() || o.known_as.is_some()).then(|| {
                    RemovedLogin {
                        fingerprint: o.removed.as_ref().map(|f| f.as_str()),
                        summary: o.known_as.as_ref(),
                    }
                }),
                backup: o.backup.as_deref(),
                codex_status: o.codex_status.as_deref(),
                notes: o.notes.iter().map(String::as_str).collect(),
                error: None,
            },
            Err(e) => JsonPlace {
                target: p.spec.label(),
                kind: p.spec.kind().as_str(),
                ok: false,
                outcome: None,
                path: None,
                removed_login: None,
                backup: None,
                codex_status: None,
                notes: Vec::new(),
                error: Some(e),
            },
        })
        .collect();
    let revocations = results
        .revocations
        .iter()
        .map(|r| JsonRevocation {
            account: &r.account,
            issuer: &r.issuer,
            removed_from: &r.removed_from,
            also_signed_out: &r.also_signed_out,
            result: match &r.result {
                None => "would-revoke",
                Some(Ok(())) => "revoked",
                Some(Err(_)) => "failed",
            },
            error: r
                .result
                .as_ref()
                .and_then(|x| x.as_ref().err())
                .map(String::as_str),
        })
        .collect();
    let ok = places.iter().filter(|p| p.ok).count();
    let doc = JsonLogout {
        command: "logout",
        dry_run: results.dry_run,
        summary: JsonSummary {
            total: places.len(),
            ok,
            failed: places.len() - ok,
        },
        places,
        revocations,
        not_revoked: &results.not_revocable,
    };
    scrub(json_text(&doc), logins(results))
}
