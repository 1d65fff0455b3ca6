//! Everything the user sees: progress (indicatif on a terminal, plain lines otherwise),
//! terminal prompts that pause the progress display, the summary table and `--json`.
//! The only module that prints, besides main's last-resort error line.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::auth::{AuthFile, AuthSummary};
use crate::ops::push::TargetResult;
use crate::ops::status::{LoginState, PlaceResult, PlaceStatus};
use crate::ops::ProgressSink;
use crate::prompt::{self, Prompter};
use crate::target::{InstallReport, Outcome, TargetError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

pub struct Reporter {
    labels: Vec<String>,
    verbosity: Verbosity,
    bars: Option<(MultiProgress, Vec<ProgressBar>)>,
    tty: bool,
    lock: Mutex<()>,
    started: std::time::Instant,
}

impl Reporter {
    pub fn new(labels: Vec<String>, verbosity: Verbosity, json: bool) -> Reporter {
        let interactive = std::io::stderr().is_terminal() && !json && verbosity != Verbosity::Quiet;
        let bars = interactive.then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template("{spinner} {prefix:.bold} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            let width = labels.iter().map(|l| l.len()).max().unwrap_or(0);
            let bars = labels
                .iter()
                .map(|l| {
                    let b = multi.add(ProgressBar::new_spinner());
                    b.set_style(style.clone());
                    b.set_prefix(format!("{l:width$}"));
                    b.set_message("waiting");
                    b.enable_steady_tick(Duration::from_millis(120));
                    b
                })
                .collect();
            (multi, bars)
        });
        Reporter {
            labels,
            verbosity,
            bars,
            tty: prompt::tty_available(),
            lock: Mutex::new(()),
            started: std::time::Instant::now(),
        }
    }

    /// A line of human text on stderr that does not tear the progress display.
    pub fn note(&self, line: &str) {
        match &self.bars {
            Some((multi, _)) => {
                let _ = multi.println(line);
            }
            None => {
                let _g = self.lock.lock();
                let _ = writeln!(std::io::stderr(), "{line}");
            }
        }
    }

    pub fn finish(&self) {
        if let Some((multi, bars)) = &self.bars {
            for b in bars {
                b.finish();
            }
            let _ = multi.clear();
        }
    }

    fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.bars {
            Some((multi, _)) => multi.suspend(f),
            None => f(),
        }
    }
}

impl ProgressSink for Reporter {
    fn stage(&self, index: usize, stage: &'static str) {
        match &self.bars {
            Some((_, bars)) => bars[index].set_message(stage),
            None if self.verbosity == Verbosity::Verbose => self.note(&format!(
                "{}: {stage} (+{} ms)",
                self.labels[index],
                self.started.elapsed().as_millis()
            )),
            None => {}
        }
    }

    fn finished(&self, index: usize, ok: bool, summary: &str) {
        match &self.bars {
            Some((_, bars)) => {
                let mark = if ok { "✓" } else { "✗" };
                bars[index].finish_with_message(format!("{mark} {summary}"));
            }
            None if self.verbosity == Verbosity::Quiet && ok => {}
            None => self.note(&format!("{}: {summary}", self.labels[index])),
        }
    }
}

impl Prompter for Reporter {
    fn available(&self) -> bool {
        self.tty
    }
    fn confirm(&self, question: &str) -> Option<bool> {
        if !self.tty {
            return None;
        }
        self.suspend(|| prompt::tty_confirm(question))
    }
    fn secret(&self, p: &str) -> Option<String> {
        if !self.tty {
            return None;
        }
        self.suspend(|| prompt::tty_secret(p))
    }
}

impl crate::login::LoginUi for Reporter {
    fn authorize_url(&self, for_target: Option<&str>, url: &str, browser_started: bool) {
        let whom = for_target.map_or(String::new(), |t| format!(" for {t}"));
        let how = if browser_started {
            "a browser was opened; if it did not show the page, open this URL"
        } else {
            "open this URL in a browser on this machine"
        };
        self.note(&format!("Sign in to ChatGPT{whom}: {how}:\n\n  {url}\n"));
    }

    fn device_code(&self, for_target: Option<&str>, url: &str, code: &str) {
        let whom = for_target.map_or(String::new(), |t| format!(" for {t}"));
        self.note(&format!(
            "Sign in to ChatGPT{whom}: on any device, open\n\n  {url}\n\nand enter the code  {code}  (valid for 15 minutes).\n"
        ));
    }
}

impl crate::ops::forward::ForwardUi for Reporter {
    fn remote_output(&self, text: &str) {
        let _g = self.lock.lock();
        let mut err = std::io::stderr();
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
    }

    fn tunnel_ready(&self, port: u16) {
        self.note(&format!(
            "codex-auth: forwarding 127.0.0.1:{port} here to 127.0.0.1:{port} on the host"
        ));
    }

    fn open_url(&self, url: &str, browser_started: bool) {
        let how = if browser_started {
            "a browser was opened here; if it did not show the page, open this URL here"
        } else {
            "open this URL in a browser on this machine"
        };
        self.note(&format!("codex-auth: {how}:\n\n  {url}\n"));
    }

    fn forwarded(&self, port: u16, request_line: &str) {
        self.note(&format!("codex-auth: {port} -> host: {request_line}"));
    }
}

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
struct JsonSummary {
    total: usize,
    ok: usize,
    failed: usize,
}

#[derive(Serialize)]
struct JsonPush<'a> {
    command: &'static str,
    dry_run: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    login: Option<&'a AuthSummary>,
    targets: Vec<JsonTarget<'a>>,
    summary: JsonSummary,
}

/// Whether a target counts as done for the exit code: a skipped target is not.
pub fn target_ok(r: &TargetResult) -> bool {
    matches!(&r.result, Ok(rep) if rep.outcome != Outcome::Skipped)
}

/// Scrub every secret of every login involved out of `text`.
fn scrub_all(text: String, shared: Option<&AuthFile>, results: &[TargetResult]) -> String {
    let text = match shared {
        Some(a) => a.scrub(&text),
        None => text,
    };
    results
        .iter()
        .filter_map(|r| r.auth.as_ref())
        .fold(text, |t, a| a.scrub(&t))
}

pub fn push_json(results: &[TargetResult], auth: Option<&AuthFile>, dry_run: bool) -> String {
    let targets: Vec<JsonTarget> = results
        .iter()
        .map(|r| JsonTarget {
            target: r.spec.label(),
            kind: r.spec.kind(),
            ok: target_ok(r),
            report: r.result.as_ref().ok(),
            error: r.result.as_ref().err(),
        })
        .collect();
    let ok = targets.iter().filter(|t| t.ok).count();
    let doc = JsonPush {
        command: "push",
        dry_run,
        login: auth.map(|a| &a.summary),
        summary: JsonSummary {
            total: targets.len(),
            ok,
            failed: targets.len() - ok,
        },
        targets,
    };
    scrub_all(
        serde_json::to_string_pretty(&doc).unwrap_or_default(),
        auth,
        results,
    )
}

/// The summary table, one row per target, plus a closing count.
pub fn push_table(
    results: &[TargetResult],
    auth: Option<&AuthFile>,
    verbosity: Verbosity,
) -> String {
    let mut rows: Vec<[String; 4]> = vec![[
        "TARGET".into(),
        "RESULT".into(),
        "PATH".into(),
        "NOTE".into(),
    ]];
    for r in results {
        // Quiet: only what needs attention, then the count line.
        if verbosity == Verbosity::Quiet && target_ok(r) {
            continue;
        }
        let row = match &r.result {
            Ok(rep) => {
                let mut notes = Vec::new();
                if rep.outcome == Outcome::Skipped {
                    notes.push(format!(
                        "credential store is {} there: Codex would not read the file (use --force to push anyway)",
                        rep.credential_store
                    ));
                } else if rep.credential_store != "file" {
                    notes.push(format!("credential store: {}", rep.credential_store));
                }
                if rep.backup.is_some() {
                    notes.push("previous login kept as auth.json.bak".into());
                }
                if rep.previous == "symlink" && rep.outcome == Outcome::Installed {
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
                    notes.push(format!(
                        "user {}, home from {}, {} {}",
                        rep.user,
                        rep.home_from,
                        rep.dir_mode.as_deref().unwrap_or("-"),
                        rep.file_mode.as_deref().unwrap_or("-")
                    ));
                }
                [
                    r.spec.display(),
                    rep.outcome.as_str().to_string(),
                    rep.path.clone(),
                    notes.join("; "),
                ]
            }
            Err(e) => [
                r.spec.display(),
                "FAILED".into(),
                "-".into(),
                match &e.hint {
                    Some(h) => format!("{} (hint: {h})", e.message),
                    None => e.message.clone(),
                },
            ],
        };
        rows.push(row);
    }
    if rows.len() == 1 {
        rows.clear();
    }
    let rows: Vec<Vec<String>> = rows.into_iter().map(|r| r.to_vec()).collect();
    let mut out = render_table(&rows);
    let mut counts: Vec<(String, usize)> = Vec::new();
    for r in results {
        let k = match &r.result {
            Ok(rep) => rep.outcome.as_str().to_string(),
            Err(_) => "failed".to_string(),
        };
        match counts.iter_mut().find(|(n, _)| *n == k) {
            Some((_, c)) => *c += 1,
            None => counts.push((k, 1)),
        }
    }
    let parts: Vec<String> = counts.iter().map(|(k, c)| format!("{c} {k}")).collect();
    out.push_str(&format!(
        "{} target{}: {}\n",
        results.len(),
        if results.len() == 1 { "" } else { "s" },
        parts.join(", ")
    ));
    scrub_all(out, auth, results)
}

/// Columns padded to their widest cell; the last column is not padded.
fn render_table(rows: &[Vec<String>]) -> String {
    let cols = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == cols {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:w$}  ", w = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `2026-11-27 10:00 UTC` for a unix time.
pub fn utc(ts: i64) -> String {
    let (y, m, d, h, mi, _) = crate::auth::civil(ts);
    format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02} UTC")
}

fn login_detail(a: &AuthFile) -> String {
    let s = &a.summary;
    match s.mode.as_str() {
        "apikey" => s.api_key.clone().unwrap_or_default(),
        _ => {
            let mut parts = Vec::new();
            if let Some(e) = &s.email {
                parts.push(match &s.plan {
                    Some(p) => format!("{e} ({p})"),
                    None => e.clone(),
                });
            }
            if let Some(acc) = &s.account {
                parts.push(format!("account {acc}"));
            }
            if let Some(exp) = s.access_expires {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0);
                let when = utc(exp);
                parts.push(if exp < now {
                    format!("access token expired {when} (refreshes on next use)")
                } else {
                    format!("access token until {when}")
                });
            }
            if let Some(r) = &s.last_refresh {
                parts.push(format!("refreshed {r}"));
            }
            parts.join(", ")
        }
    }
}

pub fn status_table(places: &[PlaceResult], verbosity: Verbosity) -> String {
    let mut rows = vec![vec![
        "PLACE".to_string(),
        "LOGIN".into(),
        "STORE".into(),
        "CODEX".into(),
        "DETAIL".into(),
    ]];
    let mut warnings = Vec::new();
    for p in places {
        let row = match &p.result {
            Ok(st) => {
                let (login, mut detail) = match &st.state {
                    LoginState::NotLoggedIn => ("none".to_string(), "not logged in".to_string()),
                    LoginState::Invalid(r) => ("invalid".to_string(), r.clone()),
                    LoginState::LoggedIn(a) => (a.summary.mode.clone(), login_detail(a)),
                };
                if verbosity == Verbosity::Verbose || !matches!(st.state, LoginState::LoggedIn(_)) {
                    detail = format!("{detail} [{}]", st.report.path);
                }
                if !st.shared_with.is_empty() {
                    detail.push_str(&format!("; SAME SESSION as {}", st.shared_with.join(", ")));
                }
                let store = st.report.credential_store.clone();
                if store == "keyring" || store == "auto" {
                    warnings.push(format!(
                        "note: {} uses the {store} credential store: Codex there {} auth.json",
                        p.display(),
                        if store == "keyring" {
                            "ignores"
                        } else {
                            "may prefer a keyring entry over"
                        }
                    ));
                }
                vec![
                    p.display(),
                    login,
                    store,
                    st.report.codex_status.clone().unwrap_or_else(|| "-".into()),
                    detail,
                ]
            }
            Err(e) => vec![
                p.display(),
                "FAILED".into(),
                "-".into(),
                "-".into(),
                match &e.hint {
                    Some(h) => format!("{} (hint: {h})", e.message),
                    None => e.message.clone(),
                },
            ],
        };
        rows.push(row);
    }
    let mut out = render_table(&rows);
    // One warning per group of places sharing a session.
    let mut seen: Vec<Vec<String>> = Vec::new();
    for p in places {
        if let Ok(st) = &p.result {
            if st.shared_with.is_empty() {
                continue;
            }
            let mut group = st.shared_with.clone();
            group.push(p.display());
            group.sort();
            if !seen.contains(&group) {
                warnings.push(format!(
                    "warning: {} hold one ChatGPT session: when one refreshes the token, the others are signed out (log in separately on each)",
                    group.join(", ")
                ));
                seen.push(group);
            }
        }
    }
    for w in warnings {
        out.push_str(&w);
        out.push('\n');
    }
    out
}

#[derive(Serialize, Default)]
struct JsonPlace<'a> {
    target: String,
    kind: &'static str,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    home_from: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    credential_store: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    login: Option<&'a AuthSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    invalid_reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_mode: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    codex_status: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shared_with: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a TargetError>,
}

pub fn status_json(places: &[PlaceResult]) -> String {
    let list: Vec<JsonPlace> = places
        .iter()
        .map(|p| {
            let kind = p.spec.as_ref().map_or("local", |s| s.kind());
            let target = p
                .spec
                .as_ref()
                .map_or_else(|| "local".to_string(), |s| s.label());
            match &p.result {
                Ok(st) => {
                    let (state, login, invalid) = match &st.state {
                        LoginState::NotLoggedIn => ("not-logged-in", None, None),
                        LoginState::Invalid(r) => ("invalid", None, Some(r.as_str())),
                        LoginState::LoggedIn(a) => ("logged-in", Some(&a.summary), None),
                    };
                    JsonPlace {
                        target,
                        kind,
                        ok: true,
                        path: Some(&st.report.path),
                        home_from: Some(&st.report.home_from),
                        user: Some(&st.report.user),
                        credential_store: Some(&st.report.credential_store),
                        state: Some(state),
                        login,
                        invalid_reason: invalid,
                        file_mode: st.report.file_mode.as_deref(),
                        codex_status: st.report.codex_status.as_deref(),
                        shared_with: (!st.shared_with.is_empty())
                            .then_some(st.shared_with.as_slice()),
                        error: None,
                    }
                }
                Err(e) => JsonPlace {
                    target,
                    kind,
                    error: Some(e),
                    ..Default::default()
                },
            }
        })
        .collect();
    let ok = list.iter().filter(|p| p.ok).count();
    let doc = serde_json::json!({
        "command": "status",
        "places": list,
        "summary": {"total": list.len(), "ok": ok, "failed": list.len() - ok},
    });
    let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    // Scrub every secret any place held, as a last line of defence.
    places.iter().fold(text, |t, p| match &p.result {
        Ok(PlaceStatus {
            state: LoginState::LoggedIn(a),
            ..
        }) => a.scrub(&t),
        _ => t,
    })
}

pub fn login_text(
    auth: &AuthFile,
    path: &std::path::Path,
    outcome: &crate::auth::local::LocalOutcome,
    codex: Option<&str>,
) -> String {
    use crate::auth::local::LocalOutcome;
    let who = crate::auth::local::describe_account(auth);
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

pub fn login_json(
    auth: &AuthFile,
    path: &std::path::Path,
    outcome: &crate::auth::local::LocalOutcome,
    codex: Option<&str>,
) -> String {
    use crate::auth::local::LocalOutcome;
    let (name, backup) = match outcome {
        LocalOutcome::Created => ("created", None),
        LocalOutcome::Replaced { backup } => {
            ("replaced", backup.as_ref().map(|b| b.display().to_string()))
        }
        LocalOutcome::Unchanged => ("unchanged", None),
    };
    let doc = serde_json::json!({
        "command": "login",
        "path": path.display().to_string(),
        "outcome": name,
        "backup": backup,
        "login": auth.summary,
        "codex_status": codex,
    });
    auth.scrub(&serde_json::to_string_pretty(&doc).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_900_000_000), "2030-03-17 17:46 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
    }
}
