//! Everything the user sees, and the only module that prints: progress (indicatif on a
//! terminal, plain lines otherwise), terminal prompts that pause the progress display,
//! the tables and `--json` documents of each command ([`push`], [`status`], [`login`]),
//! and the one error line. Everything a target printed is scrubbed of every secret of
//! the run before it is shown.

pub(crate) mod login;
pub(crate) mod logout;
pub(crate) mod push;
pub(crate) mod run;
pub(crate) mod saved;
pub(crate) mod status;
pub(crate) mod sync;

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::auth::AuthFile;
use crate::error::AppError;
use crate::ops::ProgressSink;
use crate::prompt::{self, Prompter};
use crate::secret::Secret;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// How a run is reported: a document for people (at a verbosity), or `--json`'s.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Output {
    pub json: bool,
    pub verbosity: Verbosity,
    /// `-vv`: the transports' detail too (round trips per connection).
    pub trace: bool,
}

/// The progress display of one fan-out: one line per place.
struct Display {
    labels: Vec<String>,
    /// On a terminal: the bars (none with `--json` or `-q`: plain lines, or nothing).
    bars: Option<(MultiProgress, Vec<ProgressBar>)>,
}

pub(crate) struct Reporter {
    verbosity: Verbosity,
    /// `-vv`: the transports' detail is shown.
    trace: bool,
    /// Progress is drawn on a terminal (not with `--json` or `-q`).
    interactive: bool,
    display: std::sync::RwLock<Display>,
    tty: bool,
    lock: Mutex<()>,
    started: std::time::Instant,
    /// The device-code URL was shown (it is shown once for many targets).
    device_url_shown: std::sync::atomic::AtomicBool,
}

impl Reporter {
    pub(crate) fn new(verbosity: Verbosity, json: bool, trace: bool) -> Reporter {
        Reporter {
            verbosity,
            trace,
            interactive: std::io::stderr().is_terminal() && !json && verbosity != Verbosity::Quiet,
            display: std::sync::RwLock::new(Display {
                labels: Vec::new(),
                bars: None,
            }),
            tty: prompt::tty_available(),
            lock: Mutex::new(()),
            started: std::time::Instant::now(),
            device_url_shown: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// A line of human text on stderr that does not tear the progress display.
    fn line(&self, line: &str) {
        let line = &*terminal_safe(line);
        if let Ok(display) = self.display.read() {
            if let Some((multi, _)) = &display.bars {
                let _ = multi.println(line);
                return;
            }
        }
        let _g = self.lock.lock();
        let _ = writeln!(std::io::stderr(), "{line}");
    }

    pub(crate) fn finish(&self) {
        if let Ok(display) = self.display.read() {
            if let Some((multi, bars)) = &display.bars {
                for b in bars {
                    b.finish();
                }
                let _ = multi.clear();
            }
        }
    }

    fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match self.display.read() {
            Ok(display) => match &display.bars {
                Some((multi, _)) => multi.suspend(f),
                None => f(),
            },
            Err(_) => f(),
        }
    }

    /// The label of place `index`.
    fn label(&self, index: usize) -> String {
        self.display
            .read()
            .ok()
            .and_then(|d| d.labels.get(index).cloned())
            .unwrap_or_default()
    }
}

/// `text` with every control character but newline and tab written out as `\u{XXXX}`
/// (DEL and the C1 range too: some terminals take U+009B for ESC [). The same form is
/// the JSON escape, so a `--json` document stays valid JSON: serde_json escapes C0
/// already, and C1 and DEL occur only inside its strings.
pub(crate) fn terminal_safe(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.contains(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The result document of a command, on stdout.
pub(crate) fn print_stdout(text: &str) {
    let text = &*terminal_safe(text);
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = out.write_all(b"\n");
    }
    let _ = out.flush();
}

/// The one line a failed command ends with, on stderr.
pub(crate) fn print_error(e: &AppError) {
    let _ = writeln!(
        std::io::stderr(),
        "codex-auth: {}",
        terminal_safe(&e.to_string())
    );
}

/// A command-line parsing error (or `--help`/`--version`), as clap formats it; returns
/// the exit code clap gives it (2 for errors, 0 for help and version).
pub(crate) fn print_clap(e: &clap::Error) -> u8 {
    let _ = e.print();
    u8::try_from(e.exit_code()).unwrap_or(2)
}

/// Replace every secret of every login involved found in `text` by a mask: the last
/// line of defence for anything a target or Codex printed.
pub(crate) fn scrub<'a>(text: String, logins: impl IntoIterator<Item = &'a AuthFile>) -> String {
    logins.into_iter().fold(text, |t, a| a.scrub(&t))
}

impl ProgressSink for Reporter {
    fn begin(&self, labels: &[String]) {
        let bars = self.interactive.then(|| {
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
        self.finish();
        if let Ok(mut display) = self.display.write() {
            *display = Display {
                labels: labels.to_vec(),
                bars,
            };
        }
    }

    fn stage(&self, index: usize, stage: &'static str) {
        let Ok(display) = self.display.read() else {
            return;
        };
        match &display.bars {
            Some((_, bars)) => {
                if let Some(bar) = bars.get(index) {
                    bar.set_message(stage);
                }
            }
            None if self.verbosity == Verbosity::Verbose => {
                drop(display);
                self.line(&format!(
                    "{}: {stage} (+{} ms)",
                    self.label(index),
                    self.started.elapsed().as_millis()
                ))
            }
            None => {}
        }
    }

    fn finished(&self, index: usize, ok: bool, summary: &str) {
        let Ok(display) = self.display.read() else {
            return;
        };
        match &display.bars {
            Some((_, bars)) => {
                let mark = if ok { "✓" } else { "✗" };
                if let Some(bar) = bars.get(index) {
                    bar.finish_with_message(format!("{mark} {}", terminal_safe(summary)));
                }
            }
            None if self.verbosity == Verbosity::Quiet && ok => {}
            None => {
                drop(display);
                self.line(&format!("{}: {summary}", self.label(index)))
            }
        }
    }

    fn note(&self, line: &str) {
        if self.verbosity != Verbosity::Quiet {
            self.line(line);
        }
    }

    fn warn(&self, line: &str) {
        self.line(line);
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
    fn secret(&self, p: &str) -> Option<Secret> {
        if !self.tty {
            return None;
        }
        self.suspend(|| prompt::tty_secret(p))
    }
    fn trace(&self, line: &str) {
        if self.trace {
            self.line(line);
        }
    }
}

impl Reporter {
    /// A note (left out with `-q`).
    pub(crate) fn note(&self, line: &str) {
        ProgressSink::note(self, line)
    }

    /// A warning (always shown).
    pub(crate) fn warn(&self, line: &str) {
        ProgressSink::warn(self, line)
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
        self.line(&format!("Sign in to ChatGPT{whom}: {how}:\n\n  {url}\n"));
    }

    fn device_code(&self, for_target: Option<&str>, url: &str, code: &str) {
        let Some(target) = for_target else {
            self.line(&format!(
                "Sign in to ChatGPT: on any device, open\n\n  {url}\n\nand enter the code  {code}  (valid for 15 minutes).\n"
            ));
            return;
        };
        // Many targets ask at once: the URL once, then one line per target.
        let first = !self
            .device_url_shown
            .swap(true, std::sync::atomic::Ordering::SeqCst);
        if first {
            self.line(&format!(
                "Sign in to ChatGPT once per target: on any device, open\n\n  {url}\n\nand enter each code (valid for 15 minutes; each target gets its login as soon as its code is approved):"
            ));
        }
        self.line(&format!("  {code}  {target}"));
    }
}

impl crate::targets::ForwardUi for Reporter {
    fn host_device_code(&self, host: &str, url: &str, code: &str) {
        crate::login::LoginUi::device_code(self, Some(host), url, code);
    }

    fn remote_output(&self, text: &str) {
        // Codex colours its output even into a pipe: its colours go, the rest is shown
        // as text.
        let plain = crate::encoding::strip_csi(text).replace("\r\n", "\n");
        let text = terminal_safe(&plain);
        let _g = self.lock.lock();
        let mut err = std::io::stderr();
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
    }

    fn tunnel_ready(&self, port: u16) {
        self.line(&format!(
            "codex-auth: forwarding 127.0.0.1:{port} here to 127.0.0.1:{port} on the host"
        ));
    }

    fn open_url(&self, url: &str, browser_started: bool) {
        let how = if browser_started {
            "a browser was opened here; if it did not show the page, open this URL here"
        } else {
            "open this URL in a browser on this machine"
        };
        self.line(&format!("codex-auth: {how}:\n\n  {url}\n"));
    }

    fn forwarded(&self, port: u16, request_line: &str) {
        self.line(&format!("codex-auth: {port} -> host: {request_line}"));
    }
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
                let pad = widths[c] - cell.chars().count();
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// One JSON document, pretty, as every `--json` prints it.
fn json_text(doc: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(doc).unwrap_or_default()
}

/// Everything that can be shown about a login in one line: the masked key, or the
/// account, plan, expiry and last refresh of a ChatGPT login.
fn login_detail(a: &AuthFile) -> String {
    let s = &a.summary;
    match a.mode {
        crate::auth::AuthMode::ApiKey => s.api_key.clone().unwrap_or_default(),
        crate::auth::AuthMode::AccessToken => {
            format!(
                "access token {}",
                s.access_token.as_deref().unwrap_or("***")
            )
        }
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
                let when = crate::timestamp::utc(exp);
                let left = exp - crate::timestamp::now_unix();
                parts.push(match (s.access_only, left < 0) {
                    (true, true) => format!(
                        "access-only, expired {when} (it cannot refresh: `codex-auth sync` renews it)"
                    ),
                    (true, false) => format!(
                        "access-only, expires in {} ({when})",
                        crate::timestamp::human(left)
                    ),
                    (false, true) => {
                        format!("access token expired {when} (refreshes on next use)")
                    }
                    (false, false) => format!("access token until {when}"),
                });
            } else if s.access_only {
                parts.push("access-only".into());
            }
            if let Some(r) = &s.last_refresh {
                parts.push(format!("refreshed {r}"));
            }
            parts.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_targets_control_sequences_are_written_out_not_sent_to_the_terminal() {
        // OSC 52 (write the clipboard), erase line, CSI as one C1 character, DEL.
        let hostile = "Logged in\u{1b}]52;c;ZXZpbA==\u{7}\u{1b}[2K\r\u{9b}1A\u{7f}x";
        let safe = terminal_safe(hostile);
        assert!(!safe.chars().any(char::is_control), "{safe:?}");
        assert_eq!(
            safe,
            "Logged in\\u001b]52;c;ZXZpbA==\\u0007\\u001b[2K\\u000d\\u009b1A\\u007fx"
        );
        assert_eq!(terminal_safe("a\tb\nc ✓"), "a\tb\nc ✓");
        // In a JSON document the escape is JSON's own: still valid, same string.
        let doc = serde_json::to_string(&serde_json::json!({ "s": hostile })).unwrap();
        let back: serde_json::Value = serde_json::from_str(&terminal_safe(&doc)).unwrap();
        assert_eq!(back["s"], hostile);
    }

    #[test]
    fn table_pads_by_characters_not_bytes() {
        let rows = vec![
            vec!["A".to_string(), "B".into(), "C".into()],
            vec!["✓✓".to_string(), "x".into(), "last".into()],
        ];
        assert_eq!(render_table(&rows), "A   B  C\n✓✓  x  last\n");
    }
}
