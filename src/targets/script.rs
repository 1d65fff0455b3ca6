//! The remote-script protocol every shell-capable kind speaks. The POSIX sh scripts in
//! `sh/` (each after `sh/common.sh`) are joined into one line that bash, zsh, fish and
//! csh all pass through unchanged inside single quotes; the request travels on stdin
//! (never in argv, which `ps` shows); the script answers with `key=value` lines, each
//! framed by a random nonce sent on stdin, so whatever a login shell's start-up files
//! print can never be read as part of the report.

use std::sync::OnceLock;

use super::{ErrorClass, FileKind, Forced, HomeSource, Location, RunOutput, TargetError};
use crate::auth::store::CredentialStore;
use crate::auth::verdict::CodexSeen;

const COMMON: &str = include_str!("sh/common.sh");

/// A script shipped to targets (each runs after `sh/common.sh`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Script {
    /// Install auth.json atomically, verify it, ask Codex.
    Install,
    /// Report what login a target holds, touching nothing.
    Inspect,
    /// Remove the login (logout), under Codex's locks.
    Remove,
    /// The host's own `codex login` (`login --forward`); its output streams back as is.
    ForwardLogin,
    /// `codex login status` on a host, as is.
    LoginStatus,
    /// The host's own `codex login --device-auth` (`login --forward --device-auth`).
    ForwardDeviceLogin,
}

impl Script {
    fn source(self) -> &'static str {
        match self {
            Script::Install => include_str!("sh/install.sh"),
            Script::Inspect => include_str!("sh/inspect.sh"),
            Script::Remove => include_str!("sh/remove.sh"),
            Script::ForwardLogin => include_str!("sh/forward_login.sh"),
            Script::LoginStatus => include_str!("sh/login_status.sh"),
            Script::ForwardDeviceLogin => include_str!("sh/forward_device.sh"),
        }
    }

    /// The first line of every request, which the script checks.
    fn magic(self) -> &'static str {
        match self {
            Script::Install => "codex-auth-install-3",
            Script::Inspect => "codex-auth-inspect-3",
            Script::Remove => "codex-auth-remove-1",
            Script::ForwardLogin | Script::LoginStatus | Script::ForwardDeviceLogin => "",
        }
    }

    /// `common.sh` and this script, joined into one line (built once).
    pub(crate) fn line(self) -> &'static str {
        static INSTALL: OnceLock<String> = OnceLock::new();
        static INSPECT: OnceLock<String> = OnceLock::new();
        static REMOVE: OnceLock<String> = OnceLock::new();
        static FORWARD_LOGIN: OnceLock<String> = OnceLock::new();
        static LOGIN_STATUS: OnceLock<String> = OnceLock::new();
        static FORWARD_DEVICE: OnceLock<String> = OnceLock::new();
        let cell = match self {
            Script::Install => &INSTALL,
            Script::Inspect => &INSPECT,
            Script::Remove => &REMOVE,
            Script::ForwardLogin => &FORWARD_LOGIN,
            Script::LoginStatus => &LOGIN_STATUS,
            Script::ForwardDeviceLogin => &FORWARD_DEVICE,
        };
        cell.get_or_init(|| join(&format!("{COMMON}\n{}", self.source())))
    }
}

/// Comments and blank lines dropped, the rest joined into one line: the scripts are
/// written so that every line ends where a space may join it to the next. A line's
/// closing ` ;` loses its space, and a line ending in `;`, `|` or `&` needs none after it.
fn join(source: &str) -> String {
    let mut out = String::new();
    for line in source
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let line = match line.strip_suffix(" ;") {
            Some(head) => format!("{head};"),
            None => line.to_string(),
        };
        if !out.is_empty() && !out.ends_with([';', '|', '&']) {
            out.push(' ');
        }
        out.push_str(&line);
    }
    out
}

/// The longest single-quoted word a script is sent in: bsd-csh refuses words longer
/// than 8185 characters.
const WORD: usize = 4000;

/// The script cut into words of at most [`WORD`] characters, at spaces.
fn words(line: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut rest = line;
    while rest.len() > WORD {
        let cut = rest[..WORD].rfind(' ').filter(|c| *c > 0).unwrap_or(WORD);
        words.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    words.push(rest);
    words
}

/// A command line for the user's login shell, whatever it is: `sh -c '<line>'`, or for
/// a long script `sh -c 'eval "$1$2"' sh '<part 1>' '<part 2>'`, so no word exceeds
/// csh's limit. The scripts contain no character any of these shells treats specially
/// inside single quotes.
pub(crate) fn sh_c(line: &str) -> String {
    let parts = words(line);
    if parts.len() == 1 {
        return format!("sh -c '{line}'");
    }
    let params: String = (1..=parts.len()).map(|i| format!("${i}")).collect();
    let quoted: Vec<String> = parts.iter().map(|p| format!("'{p}'")).collect();
    format!("sh -c 'eval \"{params}\"' sh {}", quoted.join(" "))
}

/// The host's own `codex login` for `login --forward`, as a login-shell command line:
/// codex found as [`Script::Inspect`] finds it; a watcher on stdin stops the process
/// group when the connection goes away (sshd then closes stdin), so no login server is
/// left behind. It exits [`FORWARD_LOGIN_NOT_FOUND`] when there is no `codex` to run.
pub(crate) fn forward_login_command() -> String {
    sh_c(Script::ForwardLogin.line())
}

/// `codex login status` on a host (codex found as for the login), as a login-shell
/// command line.
pub(crate) fn login_status_command() -> String {
    sh_c(Script::LoginStatus.line())
}

/// The host's own `codex login --device-auth`, as a login-shell command line; its first
/// line of stdin is the issuer for Codex's `--experimental_issuer`, or empty.
pub(crate) fn forward_device_login_command() -> String {
    sh_c(Script::ForwardDeviceLogin.line())
}

/// Exit status of the forwarded login when codex is not installed there.
pub(crate) const FORWARD_LOGIN_NOT_FOUND: u32 = 127;

/// One run of a script: its line, its stdin (the request header, then any payload), and
/// the nonce that frames its report.
pub(crate) struct Invocation {
    script: Script,
    stdin: Vec<u8>,
    nonce: String,
}

impl Invocation {
    /// A run of `script` with these header lines (no newlines in them) and payload.
    pub(crate) fn new(
        script: Script,
        header: &[&str],
        payload: &[u8],
    ) -> Result<Invocation, TargetError> {
        let nonce = crate::encoding::random_bytes(12)
            .map(|b| crate::encoding::hex(&b))
            .map_err(|e| TargetError::new(ErrorClass::Internal, e.to_string(), None))?;
        let mut stdin = format!("{}\n{nonce}\n", script.magic()).into_bytes();
        for h in header {
            stdin.extend_from_slice(h.as_bytes());
            stdin.push(b'\n');
        }
        stdin.extend_from_slice(payload);
        Ok(Invocation {
            script,
            stdin,
            nonce,
        })
    }

    /// The script as one line (for `sh -c`).
    pub(crate) fn line(&self) -> &'static str {
        self.script.line()
    }

    pub(crate) fn stdin(&self) -> &[u8] {
        &self.stdin
    }

    /// The nonce that frames the report, for tests that forge one.
    #[cfg(test)]
    pub(crate) fn nonce(&self) -> &str {
        &self.nonce
    }

    /// Cut the request short, as a dropped connection would.
    #[cfg(test)]
    pub(crate) fn truncate_stdin(&mut self, len: usize) {
        self.stdin.truncate(len);
    }

    /// Whether `stdout` holds anything the script itself reported.
    pub(crate) fn reported(&self, stdout: &[u8]) -> bool {
        let marker = format!("{} ", self.nonce);
        String::from_utf8_lossy(stdout)
            .lines()
            .any(|l| l.starts_with(&marker))
    }

    /// Whether the script's report in `stdout` came to its end (nothing cut it short).
    pub(crate) fn finished(&self, stdout: &[u8]) -> bool {
        let end = format!("{} end=1", self.nonce);
        String::from_utf8_lossy(stdout).lines().any(|l| l == end)
    }

    /// The script's report in what the target printed: only lines carrying the nonce
    /// count; a body follows the `body` line, exactly `auth_len` bytes long.
    pub(crate) fn parse(&self, out: RunOutput) -> Report {
        let marker = format!("{} ", self.nonce);
        let body_line = format!("{}body\n", marker);
        let (head, rest) = match find(&out.stdout, body_line.as_bytes()) {
            Some(i) => (&out.stdout[..i], Some(&out.stdout[i + body_line.len()..])),
            None => (&out.stdout[..], None),
        };
        let pairs: Vec<(String, String)> = String::from_utf8_lossy(head)
            .lines()
            .filter_map(|l| l.strip_prefix(&marker))
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let body = rest.map(<[u8]>::to_vec);
        let finished = self.finished(head);
        Report {
            pairs,
            body,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            exit_status: out.exit_status,
            delivered: out.delivered,
            lost: out.lost,
            finished,
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// What a script reported.
pub(crate) struct Report {
    pairs: Vec<(String, String)>,
    /// Everything after the `body` line (the report's `auth_len` says how much is the file).
    body: Option<Vec<u8>>,
    pub stderr: String,
    pub exit_status: Option<u32>,
    /// All of the request was handed over.
    pub delivered: bool,
    /// The target went away before the report ended.
    pub lost: Option<TargetError>,
    /// The report came to its end.
    pub finished: bool,
}

impl Report {
    /// The first value reported for `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value reported for `key`, in order.
    fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `error=CLASS` and its `detail`, when the script failed on purpose.
    pub(crate) fn error(&self) -> Option<(&str, &str)> {
        self.get("error")
            .map(|class| (class, self.get("detail").unwrap_or("")))
    }

    /// The script's failure, if it reported one, worded here from its terse detail,
    /// with the class's hint.
    pub(crate) fn failure(&self) -> Option<TargetError> {
        let (word, detail) = self.error()?;
        let class = ErrorClass::from_script(word).unwrap_or(ErrorClass::Remote);
        let dir = self.get("dir").unwrap_or("the Codex home");
        let message = match class {
            ErrorClass::NoHome => format!(
                "uid {detail} has no home directory (no passwd entry, or HOME is empty or /)"
            ),
            ErrorClass::NotAFile => format!("{detail} is a directory"),
            ErrorClass::Torn if detail == "sum" => "the received content does not match what was sent (connection cut short?); nothing was replaced".to_string(),
            ErrorClass::Torn => format!("received {detail} bytes; nothing was replaced"),
            ErrorClass::Busy => {
                let (lock, secs) = detail.split_once(' ').unwrap_or((detail, "?"));
                format!(
                    "{dir}/{lock} stayed locked for {secs} s: a Codex there is committing a refresh, or another push is writing"
                )
            }
            ErrorClass::ForcedLogin => format!(
                "{dir}/config.toml sets forced_login_method = \"{detail}\": Codex there would refuse this login (not installed)"
            ),
            ErrorClass::ForcedWorkspace => format!(
                "{dir}/config.toml sets forced_chatgpt_workspace_id = [{}]: Codex there would refuse this login of another workspace (not installed)",
                detail.replace(',', ", ")
            ),
            ErrorClass::Protocol => format!("the target script says: {detail}"),
            _ => detail.to_string(),
        };
        Some(TargetError::new(class, message, class.default_hint()))
    }

    /// The first non-empty line the target printed on stderr.
    pub(crate) fn first_stderr_line(&self) -> &str {
        self.stderr
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("")
    }

    /// The script did not get to its report: why, as far as the target said.
    pub(crate) fn unfinished(&self, what: &str, hint: &str) -> TargetError {
        TargetError::new(
            ErrorClass::Remote,
            match (self.exit_status, self.first_stderr_line()) {
                (Some(status), "") => format!("the {what} script did not finish (exit {status})"),
                (None, "") => format!("the {what} script did not finish"),
                (Some(status), line) => {
                    format!("the {what} script did not finish (exit {status}): {line}")
                }
                (None, line) => format!("the {what} script did not finish: {line}"),
            },
            Some(hint),
        )
    }

    /// Where the login lives, as every script reports it (`locate` in common.sh).
    pub(crate) fn location(&self) -> Location {
        Location {
            dir: self.get("dir").unwrap_or_default().to_string(),
            home_from: HomeSource::from_word(self.get("home_from").unwrap_or("")),
            user: self
                .get("login")
                .filter(|s| !s.is_empty())
                .or(self.get("uid"))
                .unwrap_or_default()
                .to_string(),
            store: self
                .get("store")
                .and_then(CredentialStore::from_word)
                .unwrap_or_default(),
        }
    }

    /// Codex's verdict there (its line, and which Codex said it), `None` when no codex
    /// was found there.
    pub(crate) fn codex(&self) -> Option<(String, CodexSeen)> {
        let rc = match self.get("codex_rc") {
            None | Some("none") => return None,
            Some(rc) => rc.parse::<i64>().ok(),
        };
        let (verdict, line) = crate::auth::verdict::judge(rc, self.all("codex_line"));
        Some((
            line,
            CodexSeen {
                verdict,
                path: self.get("codex_path").map(str::to_string),
                version: self
                    .get("codex_version")
                    .filter(|v| !v.is_empty())
                    .map(str::to_string),
            },
        ))
    }

    /// The target's `forced_login_method` and `forced_chatgpt_workspace_id` (as a list).
    pub(crate) fn forced(&self) -> Forced {
        Forced {
            login_method: self.get("forced_login_method").map(str::to_string),
            workspaces: self
                .get("forced_workspace")
                .map(|w| {
                    w.split(',')
                        .filter(|x| !x.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// Notes every script may report: Codex processes running there, no way to lock.
    pub(crate) fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some(n) = self.get("codex_running").filter(|n| *n != "0") {
            let (noun, verb) = if n == "1" {
                ("process", "is")
            } else {
                ("processes", "are")
            };
            notes.push(format!(
                "{n} Codex {noun} of this user {verb} running there: an older Codex (0.147) may still merge a refreshed session into the new file"
            ));
        }
        if self.get("lock") == Some("none") {
            notes.push(
                "no flock there: the write could not take Codex's locks (auth.lock, auth.json.lock)"
                    .to_string(),
            );
        }
        match (self.get("keyring"), self.get("keyring_by")) {
            (Some("reachable"), Some("codex")) => notes.push(
                "Codex there reaches an OS keyring: with cli_auth_credentials_store = \"auto\", a login kept there wins over auth.json".into(),
            ),
            (Some("reachable"), _) => notes.push(
                "a D-Bus session runs there, so Codex may reach an OS keyring: with cli_auth_credentials_store = \"auto\", a login kept there would win over auth.json".into(),
            ),
            (Some("unreachable"), by) => {
                let why = self
                    .get("keyring_why")
                    .map(|w| {
                        let w = w.rsplit("keyring: ").next().unwrap_or(w);
                        format!(" ({})", w.split(": ").next().unwrap_or(w))
                    })
                    .unwrap_or_default();
                let who = if by == Some("codex") { "Codex there finds" } else { "there is" };
                notes.push(format!(
                    "{who} no OS keyring{why}: with cli_auth_credentials_store = \"auto\", Codex reads auth.json"
                ));
            }
            _ => {}
        }
        for t in self.all("cleaned") {
            notes.push(format!("removed {t}, left by a run that died"));
        }
        notes
    }

    /// What is at the auth.json path (`kind=`).
    pub(crate) fn file_kind(&self) -> Option<FileKind> {
        self.get("kind").map(FileKind::from_word)
    }

    /// The auth.json content that followed the report, when the script sent it whole.
    pub(crate) fn body(&self) -> Result<Option<Vec<u8>>, TargetError> {
        let (Some(body), Some(len)) = (
            &self.body,
            self.get("auth_len").and_then(|l| l.parse::<usize>().ok()),
        ) else {
            return Ok(None);
        };
        if body.len() < len {
            return Err(TargetError::new(
                ErrorClass::Remote,
                "auth.json changed while it was read; run again",
                None,
            ));
        }
        Ok(Some(body[..len].to_vec()))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// What every script sent to a login shell must satisfy: no character that bash,
    /// zsh, fish or csh would treat specially inside single quotes, one line, sent in
    /// words within bsd-csh's 8185-character limit, and valid POSIX sh.
    pub(crate) fn assert_portable(s: &str) {
        for bad in ['\'', '\\', '!', '`', '\n'] {
            assert!(!s.contains(bad), "a target script must not contain {bad:?}");
        }
        assert!(words(s).iter().all(|w| w.len() <= WORD && !w.is_empty()));
        assert_eq!(words(s).concat(), s);
        let out = std::process::Command::new("sh")
            .arg("-n")
            .arg("-c")
            .arg(s)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn every_script_survives_every_login_shell_quoting() {
        for script in [
            Script::Install,
            Script::Inspect,
            Script::Remove,
            Script::ForwardLogin,
            Script::LoginStatus,
            Script::ForwardDeviceLogin,
        ] {
            assert_portable(script.line());
        }
    }

    fn output(stdout: &str) -> RunOutput {
        RunOutput {
            stdout: stdout.as_bytes().to_vec(),
            stderr: Vec::new(),
            exit_status: Some(0),
            delivered: true,
            lost: None,
        }
    }

    #[test]
    fn a_long_script_is_sent_in_words_and_runs_whole() {
        let line: String = (0..1500).map(|i| format!("echo {i};")).collect();
        let command = sh_c(&line);
        assert!(
            command.starts_with("sh -c 'eval \"$1$2$3$4\"' sh '"),
            "{}",
            &command[..40]
        );
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&command)
            .output()
            .unwrap();
        let printed = String::from_utf8_lossy(&out.stdout);
        assert_eq!(printed.lines().count(), 1500);
        assert_eq!(printed.lines().last(), Some("1499"));
        assert_eq!(sh_c("echo x"), "sh -c 'echo x'");
    }

    #[test]
    fn only_framed_lines_count() {
        let inv = Invocation::new(Script::Inspect, &[], b"").unwrap();
        let n = &inv.nonce;
        let printed = format!(
            "outcome=installed\nerror=forged\nbanner from .bashrc\n{n} kind=file\n{n} auth_len=2\n{n} end=1\n{n} body\n{{}}trailing noise"
        );
        assert!(inv.reported(printed.as_bytes()));
        assert!(!inv.reported(b"outcome=installed\n"));
        let r = inv.parse(output(&printed));
        assert_eq!(r.get("outcome"), None);
        assert!(r.codex().is_none());
        assert!(r.error().is_none());
        assert_eq!(r.file_kind(), Some(FileKind::File));
        assert_eq!(r.body().unwrap().unwrap(), b"{}");
        assert!(r.finished);
        assert!(!inv.parse(output(&format!("{n} kind=file\n"))).finished);
    }

    #[test]
    fn request_header_is_magic_nonce_then_lines() {
        let inv = Invocation::new(Script::Install, &["a", ""], b"PAYLOAD").unwrap();
        let text = String::from_utf8(inv.stdin().to_vec()).unwrap();
        let lines: Vec<&str> = text.split('\n').collect();
        assert_eq!(lines[0], "codex-auth-install-3");
        assert_eq!(lines[1].len(), 24);
        assert_eq!(&lines[2..], ["a", "", "PAYLOAD"]);
    }
}
