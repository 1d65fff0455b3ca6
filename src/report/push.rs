//! What `push` shows: one table row per target and a count line, or one JSON document.

use serde::Serialize;

use super::{json_text, render_table, scrub, Verbosity};
use crate::auth::{AuthFile, AuthSummary};
use crate::ops::handover::Moved;
use crate::ops::install::TargetResult;
use crate::ops::push::PushResults;
use crate::ops::source::LoginFrom;
use crate::targets::{InstallReport, Outcome, Previous, TargetError};

#[derive(Serialize)]
struct JsonTarget<'a> {
    target: String,
    kind: &'static str,
    ok: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    report: Option<&'a InstallReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a TargetError>,
}

#[derive(Serialize)]
pub(super) struct JsonSummary {
    pub total: usize,
    pub ok: usize,
    pub failed: usize,
}

#[derive(Serialize)]
struct JsonPush<'a> {
    command: &'static str,
    dry_run: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    login: Option<&'a AuthSummary>,
    /// Where the pushed login was read, when it was this machine's.
    #[serde(skip_serializing_if = "Option::is_none")]
    login_from: Option<JsonFrom<'a>>,
    /// `--move`: whether the source gave its login up.
    #[serde(skip_serializing_if = "Option::is_none")]
    moved_from: Option<JsonMoved<'a>>,
    targets: Vec<JsonTarget<'a>>,
    summary: JsonSummary,
}

/// Every login of the run: the one pushed, and those made per target.
fn logins<'a>(
    shared: Option<&'a AuthFile>,
    results: &'a [TargetResult],
) -> impl Iterator<Item = &'a AuthFile> {
    shared
        .into_iter()
        .chain(results.iter().filter_map(|r| r.auth.as_ref()))
}

#[derive(Serialize)]
struct JsonMoved<'a> {
    place: &'a str,
    removed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a TargetError>,
}

impl<'a> JsonMoved<'a> {
    fn of(m: &'a Moved) -> JsonMoved<'a> {
        match m {
            Ok(place) => JsonMoved {
                place,
                removed: true,
                error: None,
            },
            Err((place, e)) => JsonMoved {
                place,
                removed: false,
                error: Some(e),
            },
        }
    }
}

#[derive(Serialize)]
struct JsonFrom<'a> {
    store: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keyring_account: Option<&'a str>,
}

impl<'a> JsonFrom<'a> {
    fn of(from: &'a LoginFrom) -> JsonFrom<'a> {
        JsonFrom {
            store: from.store,
            path: from.path.as_deref(),
            keyring_account: from.keyring_account.as_deref(),
        }
    }
}

/// The push's result document on stdout: the table, or `--json`'s document.
pub(crate) fn print(pushed: &PushResults, output: &super::Output) {
    super::print_stdout(&if output.json {
        json(pushed)
    } else {
        table(pushed, output.verbosity)
    });
}

fn json(pushed: &PushResults) -> String {
    let results = &pushed.results;
    let shared = pushed.login.as_ref();
    let targets: Vec<JsonTarget> = results
        .iter()
        .map(|r| JsonTarget {
            target: r.spec.label(),
            kind: r.spec.kind().as_str(),
            ok: r.done(),
            report: r.result.as_ref().ok(),
            error: r.result.as_ref().err(),
        })
        .collect();
    let ok = targets.iter().filter(|t| t.ok).count();
    let doc = JsonPush {
        command: "push",
        dry_run: pushed.dry_run,
        login: shared.map(|a| &a.summary),
        login_from: pushed.from.as_ref().map(JsonFrom::of),
        moved_from: pushed.moved.as_ref().map(JsonMoved::of),
        summary: JsonSummary {
            total: targets.len(),
            ok,
            failed: targets.len() - ok,
        },
        targets,
    };
    scrub(json_text(&doc), logins(shared, results))
}

fn notes(rep: &InstallReport, verbosity: Verbosity) -> String {
    let mut notes = Vec::new();
    if rep.outcome == Outcome::Skipped {
        // The reason is among the report's notes.
    } else if rep.credential_store != crate::auth::store::CredentialStore::File {
        notes.push(format!("credential store: {}", rep.credential_store));
    }
    if rep.backup.is_some() {
        notes.push("previous login kept as auth.json.bak".into());
    }
    if rep.previous == Previous::Symlink && rep.outcome == Outcome::Installed {
        notes.push("replaced a symlink (not followed)".into());
    }
    notes.extend(rep.notes.iter().cloned());
    if let Some(l) = &rep.login {
        notes.push(format!(
            "new login: {}",
            l.email
                .as_deref()
                .or(l.api_key.as_deref())
                .unwrap_or(&l.mode)
        ));
    }
    if let Some(s) = &rep.codex_status {
        notes.push(format!("codex: {}", if s.is_empty() { "?" } else { s }));
    }
    if verbosity == Verbosity::Verbose {
        if let Some(c) = &rep.codex {
            notes.push(format!("judged by {}", codex_name(c)));
        }
        let home_from = serde_json::to_value(rep.home_from)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        notes.push(format!(
            "user {}, home from {home_from}, {} {}",
            rep.user,
            rep.dir_mode.as_deref().unwrap_or("-"),
            rep.file_mode.as_deref().unwrap_or("-")
        ));
    }
    notes.join("; ")
}

/// Which Codex judged: its version and path, as far as known.
pub(super) fn codex_name(c: &crate::auth::verdict::CodexSeen) -> String {
    match (&c.version, &c.path) {
        (Some(v), Some(p)) => format!("{v} at {p}"),
        (None, Some(p)) => p.clone(),
        (Some(v), None) => v.clone(),
        (None, None) => "codex".into(),
    }
}

/// The summary table, one row per target, plus a closing count.
fn table(pushed: &PushResults, verbosity: Verbosity) -> String {
    let (results, shared, moved) = (
        &pushed.results,
        pushed.login.as_ref(),
        pushed.moved.as_ref(),
    );
    let mut rows: Vec<Vec<String>> = vec![vec![
        "TARGET".into(),
        "RESULT".into(),
        "PATH".into(),
        "NOTE".into(),
    ]];
    for r in results {
        // Quiet: only what needs attention, then the count line.
        if verbosity == Verbosity::Quiet && r.done() {
            continue;
        }
        rows.push(match &r.result {
            Ok(rep) => vec![
                r.spec.display(),
                rep.outcome.as_str().to_string(),
                rep.path.clone(),
                notes(rep, verbosity),
            ],
            Err(e) => vec![r.spec.display(), "FAILED".into(), "-".into(), e.line()],
        });
    }
    if rows.len() == 1 {
        rows.clear();
    }
    let mut out = render_table(&rows);
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for r in results {
        let k = match &r.result {
            Ok(rep) => rep.outcome.as_str(),
            Err(_) => "failed",
        };
        match counts.iter_mut().find(|(n, _)| *n == k) {
            Some((_, c)) => *c += 1,
            None => counts.push((k, 1)),
        }
    }
    match moved {
        Some(Ok(place)) => out.push_str(&format!(
            "moved: the login was taken off {place} once its destination verified it\n"
        )),
        Some(Err((place, e))) => out.push_str(&format!(
            "NOT moved: {place} keeps its login ({})\n",
            e.line()
        )),
        None => {}
    }
    let parts: Vec<String> = counts.iter().map(|(k, c)| format!("{c} {k}")).collect();
    out.push_str(&format!(
        "{} target{}: {}\n",
        results.len(),
        if results.len() == 1 { "" } else { "s" },
        parts.join(", ")
    ));
    scrub(out, logins(shared, results))
}
