//! What `sync` shows: one row per place (what was done there and the copy it holds
//! now), the session's line, and a count; or one JSON document.

use serde::Serialize;

use super::push::JsonSummary;
use super::{json_text, render_table, scrub, Verbosity};
use crate::auth::AuthFile;
use crate::ops::sync::{Action, SyncResults};
use crate::targets::TargetError;

/// The sync's result document on stdout: the table, or `--json`'s document.
pub(crate) fn print(results: &SyncResults, output: &super::Output) {
    super::print_stdout(&if output.json {
        json(results)
    } else {
        table(results, output.verbosity)
    });
}

/// "full, access token for 9d 23h" / "access-only, expires in 2d 4h".
fn copy_line(a: &AuthFile) -> String {
    let kind = if a.summary.access_only {
        "access-only"
    } else {
        "full"
    };
    match a.summary.access_expires {
        Some(exp) => {
            let left = exp - crate::timestamp::now_unix();
            if left < 0 {
                format!("{kind}, access token expired")
            } else {
                format!(
                    "{kind}, access token expires in {}",
                    crate::timestamp::human(left)
                )
            }
        }
        None => kind.to_string(),
    }
}

fn table(results: &SyncResults, verbosity: Verbosity) -> String {
    let mut rows = vec![vec![
        "PLACE".to_string(),
        "SYNC".into(),
        "COPY".into(),
        "NOTE".into(),
    ]];
    for p in &results.places {
        if verbosity == Verbosity::Quiet && p.action.ok() {
            continue;
        }
        let action = match (results.dry_run, p.action) {
            (true, Action::Updated) => "would update".to_string(),
            (true, Action::Adopted) => "would adopt".to_string(),
            (_, a) => a.as_str().to_string(),
        };
        let mut notes = p.notes.clone();
        if let Some(e) = &p.error {
            notes.insert(0, e.line());
        }
        rows.push(vec![
            p.shown.clone().unwrap_or_else(|| p.spec.display()),
            action,
            p.copy.as_ref().map(copy_line).unwrap_or_else(|| "-".into()),
            notes.join("; "),
        ]);
    }
    if rows.len() == 1 {
        rows.clear();
    }
    let mut out = render_table(&rows);
    if let Some(s) = &results.session {
        match &s.needs_sign_in {
            Some(why) => out.push_str(&format!("{}: NEEDS SIGN-IN: {why}\n", s.account)),
            None => {
                let newest = s.newest.as_ref().map(copy_line).unwrap_or_default();
                out.push_str(&format!(
                    "{}: {}{newest}\n",
                    s.account,
                    if s.refreshed { "refreshed now; " } else { "" }
                ));
            }
        }
    }
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for p in &results.places {
        let k = p.action.as_str();
        match counts.iter_mut().find(|(n, _)| *n == k) {
            Some((_, c)) => *c += 1,
            None => counts.push((k, 1)),
        }
    }
    let parts: Vec<String> = counts.iter().map(|(k, c)| format!("{c} {k}")).collect();
    let n = results.places.len();
    out.push_str(&format!(
        "{n} place{}{}: {}\n",
        if n == 1 { "" } else { "s" },
        if results.dry_run { " (dry run)" } else { "" },
        parts.join(", ")
    ));
    for (name, pass) in &results.saved {
        out.push_str(&format!("\nsaved login {name}:\n"));
        out.push_str(&table(pass, verbosity));
    }
    scrub(out, results.logins())
}

#[derive(Serialize)]
struct JsonPlace<'a> {
    target: String,
    kind: &'static str,
    ok: bool,
    action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_only: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_expires: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fingerprint: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notes: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a TargetError>,
}

#[derive(Serialize)]
struct JsonSession<'a> {
    account: &'a str,
    refreshed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_expires: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_refresh: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    needs_sign_in: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonSync<'a> {
    command: &'static str,
    dry_run: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<JsonSession<'a>>,
    places: Vec<JsonPlace<'a>>,
    summary: JsonSummary,
    /// The pass of each saved login of another sign-in.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    saved: Vec<JsonSavedPass<'a>>,
}

#[derive(Serialize)]
struct JsonSavedPass<'a> {
    name: &'a str,
    #[serde(flatten)]
    sync: JsonSync<'a>,
}

fn json(results: &SyncResults) -> String {
    scrub(json_text(&doc(results)), results.logins())
}

fn doc(results: &SyncResults) -> JsonSync<'_> {
    let places: Vec<JsonPlace> = results
        .places
        .iter()
        .map(|p| JsonPlace {
            target: p.shown.clone().unwrap_or_else(|| p.spec.label()),
            kind: if p.shown.is_some() {
                "saved"
            } else {
                p.spec.kind().as_str()
            },
            ok: p.action.ok(),
            action: p.action,
            access_only: p.copy.as_ref().map(|c| c.summary.access_only),
            access_expires: p.copy.as_ref().and_then(|c| c.summary.access_expires),
            fingerprint: p.copy.as_ref().map(AuthFile::sha256_hex),
            notes: p.notes.iter().map(String::as_str).collect(),
            error: p.error.as_ref(),
        })
        .collect();
    let ok = places.iter().filter(|p| p.ok).count();
    JsonSync {
        command: "sync",
        dry_run: results.dry_run,
        session: results.session.as_ref().map(|s| JsonSession {
            account: &s.account,
            refreshed: s.refreshed,
            access_expires: s.newest.as_ref().and_then(|n| n.summary.access_expires),
            last_refresh: s
                .newest
                .as_ref()
                .and_then(|n| n.summary.last_refresh.as_deref()),
            needs_sign_in: s.needs_sign_in.as_deref(),
        }),
        summary: JsonSummary {
            total: places.len(),
            ok,
            failed: places.len() - ok,
        },
        places,
        saved: results
            .saved
            .iter()
            .map(|(name, pass)| JsonSavedPass {
                name,
                sync: doc(pass),
            })
            .collect(),
    }
}

#[derive(Serialize)]
struct JsonSchedule<'a> {
    command: &'static str,
    timer: &'static str,
    files: Vec<String>,
    done: bool,
    notes: &'a [String],
}

/// What `--install-timer` / `--uninstall-timer` did.
pub(crate) fn print_schedule(
    s: &crate::schedule::Scheduled,
    removed: bool,
    output: &super::Output,
) {
    let files: Vec<String> = s.files.iter().map(|f| f.display().to_string()).collect();
    super::print_stdout(&if output.json {
        json_text(&JsonSchedule {
            command: "sync",
            timer: if removed { "uninstall" } else { "install" },
            files,
            done: s.done,
            notes: &s.lines,
        })
    } else {
        let verb = if removed { "removed" } else { "wrote" };
        let mut out: String = files.iter().map(|f| format!("{verb} {f}\n")).collect();
        for l in &s.lines {
            out.push_str(l);
            out.push('\n');
        }
        out
    });
}
