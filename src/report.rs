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
    login: &'a AuthSummary,
    targets: Vec<JsonTarget<'a>>,
    summary: JsonSummary,
}

/// Whether a target counts as done for the exit code: a skipped target is not.
pub fn target_ok(r: &TargetResult) -> bool {
    matches!(&r.result, Ok(rep) if rep.outcome != Outcome::Skipped)
}

pub fn push_json(results: &[TargetResult], auth: &AuthFile, dry_run: bool) -> String {
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
        login: &auth.summary,
        summary: JsonSummary {
            total: targets.len(),
            ok,
            failed: targets.len() - ok,
        },
        targets,
    };
    auth.scrub(&serde_json::to_string_pretty(&doc).unwrap_or_default())
}

/// The summary table, one row per target, plus a closing count.
pub fn push_table(results: &[TargetResult], verbosity: Verbosity) -> String {
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
    let widths: Vec<usize> = (0..3)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    if rows.len() == 1 {
        rows.clear();
    }
    for r in &rows {
        let line = format!(
            "{:w0$}  {:w1$}  {:w2$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
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
    out
}
