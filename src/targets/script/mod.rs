//! The script transport: install, inspect and remove on any place that runs a POSIX sh
//! for us (an ssh host, a container through docker exec), written once over the
//! [`Shell`] each such kind provides. The scripts in `sh/` are readable multi-line sh,
//! sent as one line ([`transport`]); the request travels on stdin as typed `key=value`
//! lines ([`request`]; never in argv, which `ps` shows), and the script answers with
//! `key=value` lines framed by a random nonce sent on stdin ([`reply`]), so whatever a
//! login shell's start-up files print can never be read as part of the report.

mod lease;
mod reply;
mod request;
mod transport;

pub(crate) use lease::{lease_invocation, LeaseEnd, LeaseReader};

use std::sync::OnceLock;

use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;

use super::{
    ErrorClass, Expect, Fingerprint, Forced, InspectReport, InspectRequest, InstallReport,
    InstallRequest, Location, NowHolds, Outcome, RemoveReport, RemoveRequest, TargetError,
};
use crate::auth::verdict::CodexSeen;
use crate::secret::SecretBytes;

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
    ForwardDevice,
    /// Keep a private Codex home for one command (`run`), and remove it after.
    Lease,
}

impl Script {
    pub(crate) const ALL: [Script; 7] = [
        Script::Install,
        Script::Inspect,
        Script::Remove,
        Script::ForwardLogin,
        Script::LoginStatus,
        Script::ForwardDevice,
        Script::Lease,
    ];

    fn source(self) -> &'static str {
        match self {
            Script::Install => include_str!("sh/install.sh"),
            Script::Inspect => include_str!("sh/inspect.sh"),
            Script::Remove => include_str!("sh/remove.sh"),
            Script::ForwardLogin => include_str!("sh/forward_login.sh"),
            Script::LoginStatus => include_str!("sh/login_status.sh"),
            Script::ForwardDevice => include_str!("sh/forward_device.sh"),
            Script::Lease => include_str!("sh/lease.sh"),
        }
    }

    /// The first line of its request, which the script checks (`read_request`).
    fn magic(self) -> &'static str {
        match self {
            Script::Install => "codex-auth-install-4",
            Script::Inspect => "codex-auth-inspect-4",
            Script::Remove => "codex-auth-remove-3",
            Script::ForwardDevice => "codex-auth-forward-device-2",
            Script::Lease => "codex-auth-lease-1",
            Script::ForwardLogin | Script::LoginStatus => "",
        }
    }

    /// `common.sh` (the functions this script reaches) and this script as one line,
    /// joined the first time a run needs it.
    pub(crate) fn line(self) -> Result<&'static str, TargetError> {
        static LINES: [OnceLock<Result<String, String>>; Script::ALL.len()] =
            [const { OnceLock::new() }; Script::ALL.len()];
        let index = Script::ALL.iter().position(|s| *s == self).unwrap_or(0);
        let line = LINES[index].get_or_init(|| {
            let common = transport::used_only(COMMON, self.source());
            transport::join(&[&common, self.source()])
                .map(|mut line| {
                    line.shrink_to_fit();
                    line
                })
                .map_err(|e| format!("the {self:?} script cannot be sent ({e})"))
        });
        match line {
            Ok(line) => Ok(line),
            Err(e) => Err(TargetError::new(ErrorClass::Internal, e.clone(), None)),
        }
    }

    /// The script as a command line for the user's login shell, whatever it is.
    pub(crate) fn command(self) -> Result<String, TargetError> {
        self.line().map(transport::sh_c)
    }
}

/// `sh -c LINE sh ARGS...` as a command line for the user's login shell (a LINE with
/// arguments is short and has no single quote: the command wrapper of `run`).
pub(crate) fn command_line(line: &str, args: &[String]) -> String {
    if args.is_empty() {
        return transport::sh_c(line);
    }
    let quoted: Vec<String> = args
        .iter()
        .map(|a| crate::targets::process::quote(a))
        .collect();
    format!("sh -c '{line}' sh {}", quoted.join(" "))
}

/// Exit status of the forwarded-login scripts when codex is not installed there.
pub(crate) const CODEX_NOT_FOUND: u32 = 127;

/// How the scripts find the login user's home when no Codex home is given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HomeFrom {
    /// `$HOME`, as the login session sets it (ssh).
    Environment,
    /// The /etc/passwd entry of this user (name or uid, as Docker takes it) whom the
    /// command runs as (docker exec, whose HOME may be the image's).
    Passwd(String),
}

/// Output of a command run on a target.
pub(crate) struct RunOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit_status: Option<u32>,
    /// All of stdin was handed over (whether it arrived, a lost target cannot tell).
    pub delivered: bool,
    /// The target went away (its connection, its container) before the script's
    /// report ended; what it printed until then is above.
    pub lost: Option<TargetError>,
}

/// A place that runs a script for us, as its user: an ssh host, a running container.
pub(crate) trait Shell: Send + Sync {
    /// Run one invocation: its line through `sh -c`, its stdin (the request, then any
    /// payload), in one round trip.
    fn run<'a>(
        &'a self,
        invocation: &'a Invocation,
    ) -> BoxFuture<'a, Result<RunOutput, TargetError>>;

    /// How the scripts find the home directory there.
    fn home_from(&self) -> HomeFrom {
        HomeFrom::Environment
    }
}

/// One run of a script: which one, its stdin (magic, nonce, request, then any payload),
/// and the nonce that frames its report.
pub(crate) struct Invocation {
    script: Script,
    stdin: Vec<u8>,
    nonce: String,
    /// Whether stdin holds a payload after the request.
    payload: bool,
}

/// The stdin of an install carries the login: zeroed when the run is over.
impl Drop for Invocation {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.stdin);
    }
}

impl Invocation {
    /// A run of `script` with `request` (sent as lines) and `payload` after it.
    pub(crate) fn new(
        script: Script,
        request: &impl serde::Serialize,
        payload: &[u8],
    ) -> Result<Invocation, TargetError> {
        let internal = |e: String| TargetError::new(ErrorClass::Internal, e, None);
        let nonce = crate::encoding::random_bytes(12)
            .map(|b| crate::encoding::hex(&b))
            .map_err(|e| internal(e.to_string()))?;
        let lines = request::to_lines(request).map_err(|e| internal(e.0))?;
        let mut stdin = format!("{}\n{nonce}\n{lines}\n", script.magic()).into_bytes();
        stdin.extend_from_slice(payload);
        Ok(Invocation {
            script,
            stdin,
            nonce,
            payload: !payload.is_empty(),
        })
    }

    /// The script as a command line that carries its request too, for a transport
    /// where waiting costs a round trip (ssh: sshd opens a session channel with an
    /// empty window, so stdin cannot go before the exec's answer; a request in the
    /// command needs no stdin). Only a request without payload (nothing secret: a
    /// request never holds one) and of plain characters, as words of one shell
    /// assignment (`codex_auth_request="MAGIC NONCE KEY=VALUE..."`, read by
    /// `read_request`); `None`: it goes on stdin.
    pub(crate) fn command_carrying_request(&self) -> Result<Option<String>, TargetError> {
        if self.payload {
            return Ok(None);
        }
        let plain = |c: char| c.is_ascii_alphanumeric() || "_./@:+,%=-".contains(c);
        let Ok(text) = std::str::from_utf8(&self.stdin) else {
            return Ok(None);
        };
        let words: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
        if !words.iter().all(|w| w.chars().all(plain)) {
            return Ok(None);
        }
        let line = self.script.line()?;
        Ok(Some(transport::sh_c(&format!(
            "codex_auth_request=\"{}\"; {line}",
            words.join(" ")
        ))))
    }

    /// The script as one line (for `sh -c`).
    pub(crate) fn line(&self) -> Result<&'static str, TargetError> {
        self.script.line()
    }

    /// The script as a command line for the user's login shell.
    pub(crate) fn command(&self) -> Result<String, TargetError> {
        self.script.command()
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
    /// count; a body follows the `body` line.
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
        Report {
            pairs,
            body: rest.map(<[u8]>::to_vec),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            exit_status: out.exit_status,
            delivered: out.delivered,
            lost: out.lost,
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// What a script reported, read into the typed replies on demand.
pub(crate) struct Report {
    pairs: Vec<(String, String)>,
    /// Everything after the `body` line (the reply's `auth_len` says how much is the file).
    body: Option<Vec<u8>>,
    pub stderr: String,
    pub exit_status: Option<u32>,
    /// All of the request was handed over.
    pub delivered: bool,
    /// The target went away before the report ended.
    pub lost: Option<TargetError>,
}

impl Report {
    /// The part of the report `T` describes; a report that does not parse is a protocol
    /// error (a target is not trusted to say what it should).
    pub(crate) fn read<T: DeserializeOwned>(&self) -> Result<T, TargetError> {
        reply::from_pairs(&self.pairs).map_err(|e| {
            TargetError::new(
                ErrorClass::Protocol,
                format!("the target's report does not parse ({e})"),
                Some("the target's sh or its tools answer in an unexpected way; run again with -v"),
            )
        })
    }

    /// The script's failure, if it reported one, worded here from its terse detail,
    /// with the class's hint.
    fn failure(&self, end: &reply::End, located: &reply::Located) -> Option<TargetError> {
        let failure = end.error?;
        let detail = end.detail.as_deref().unwrap_or("");
        let dir = located.dir.as_deref().unwrap_or("the Codex home");
        let auth = format!("{}/auth.json", dir.trim_end_matches('/'));
        use reply::Failure as F;
        let (class, message) = match failure {
            F::Write => return Some(write_failure(detail)),
            F::NoHome => (
                ErrorClass::NoHome,
                format!("uid {detail} has no home directory (no passwd entry, or HOME is empty or /)"),
            ),
            F::NotAFile => (ErrorClass::NotAFile, format!("{detail} is a directory")),
            F::UnsafeHome => {
                // DETAIL: the path (it may hold spaces), its owner's uid, its mode.
                let mut words = detail.rsplitn(3, ' ');
                let (mode, owner) = (words.next().unwrap_or("?"), words.next().unwrap_or("?"));
                let path = words.next().unwrap_or(dir);
                (
                    ErrorClass::UnsafeHome,
                    format!("{path} (owner uid {owner}, {mode}) can be written by others than the login user: nothing was written to {dir}"),
                )
            }
            F::Torn if detail == "sum" => (
                ErrorClass::Torn,
                "the received content does not match what was sent (connection cut short?); nothing was replaced".to_string(),
            ),
            F::Torn => (
                ErrorClass::Torn,
                format!("received {detail} bytes; nothing was replaced"),
            ),
            F::Busy => {
                let (lock, secs) = detail.split_once(' ').unwrap_or((detail, "?"));
                (
                    ErrorClass::Busy,
                    format!("{dir}/{lock} stayed locked for {secs} s: a Codex there is committing a refresh, or another push is writing"),
                )
            }
            F::ForcedLogin => (
                ErrorClass::ForcedLogin,
                format!("{dir}/config.toml sets forced_login_method = \"{detail}\": Codex there would refuse this login (not installed)"),
            ),
            F::ForcedWorkspace => (
                ErrorClass::ForcedWorkspace,
                format!(
                    "{dir}/config.toml sets forced_chatgpt_workspace_id = [{}]: Codex there would refuse this login of another workspace (not installed)",
                    detail.replace(',', ", ")
                ),
            ),
            F::Changed => {
                let now = match detail {
                    "present" => NowHolds::Something,
                    "absent" => NowHolds::Nothing,
                    _ => NowHolds::Another,
                };
                return Some(TargetError::changed(&auth, now));
            }
            F::Unverifiable => {
                return Some(TargetError::new(
                    ErrorClass::Remote,
                    format!("cannot check that {auth} still holds the login this run read: no sha256sum, shasum, openssl or sha256 there"),
                    Some("install one there (coreutils, or busybox's sha256sum)"),
                ))
            }
            F::Protocol => (
                ErrorClass::Protocol,
                format!("the target script says: {detail}"),
            ),
            F::Unknown => (
                ErrorClass::Remote,
                format!("the target script failed: {detail}"),
            ),
        };
        Some(TargetError::new(class, message, class.default_hint()))
    }

    /// The first non-empty line the target printed on stderr.
    fn first_stderr_line(&self) -> &str {
        self.stderr
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("")
    }

    /// The script did not get to its report: why, as far as the target said.
    fn unfinished(&self, what: &str, hint: &str) -> TargetError {
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

    /// The login that followed the report, when the script sent it whole.
    fn body(&self, len: Option<usize>) -> Result<Option<Vec<u8>>, TargetError> {
        let (Some(body), Some(len)) = (&self.body, len) else {
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

/// Where the login lives, as every locating script reports it.
fn location(located: &reply::Located) -> Location {
    Location {
        dir: located.dir.clone().unwrap_or_default(),
        home_from: located.home_from.unwrap_or_default(),
        user: located
            .login
            .clone()
            .filter(|s| !s.is_empty())
            .or_else(|| located.uid.clone())
            .unwrap_or_default(),
        store: located.store.unwrap_or_default(),
    }
}

/// The target's `forced_login_method` and `forced_chatgpt_workspace_id` (as a list).
fn forced(located: &reply::Located) -> Forced {
    Forced {
        login_method: located.forced_login_method.clone(),
        workspaces: located
            .forced_workspace
            .as_deref()
            .unwrap_or("")
            .split(',')
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect(),
    }
}

/// Codex's verdict there (its line, and which Codex said it), `None` when no codex was
/// found there.
fn codex(verdict: &reply::Verdict) -> Option<(String, CodexSeen)> {
    let rc = match verdict.codex_rc.as_deref() {
        None | Some("none") => return None,
        Some(rc) => rc.parse::<i64>().ok(),
    };
    let (seen, line) =
        crate::auth::verdict::judge(rc, verdict.codex_line.iter().map(String::as_str));
    Some((
        line,
        CodexSeen {
            verdict: seen,
            path: verdict.codex_path.clone(),
            version: verdict.codex_version.clone().filter(|v| !v.is_empty()),
        },
    ))
}

/// Notes every script may report: Codex processes running there, no way to lock, the
/// keyring, temp files cleaned.
fn notes(notes: &reply::Notes) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(n) = notes.codex_running.filter(|n| *n != 0) {
        let (noun, verb) = if n == 1 {
            ("process", "is")
        } else {
            ("processes", "are")
        };
        out.push(format!(
            "{n} Codex {noun} of this user {verb} running there: an older Codex (0.147) may still merge a refreshed session into the new file"
        ));
    }
    if notes.lock == Some(reply::Lock::None) {
        out.push(
            "no flock there: the write could not take Codex's locks (auth.lock, auth.json.lock)"
                .to_string(),
        );
    }
    use reply::{Keyring, KeyringBy};
    match (notes.keyring, notes.keyring_by) {
        (Some(Keyring::Reachable), Some(KeyringBy::Codex)) => out.push(
            "Codex there reaches an OS keyring: with cli_auth_credentials_store = \"auto\", a login kept there wins over auth.json".into(),
        ),
        (Some(Keyring::Reachable), _) => out.push(
            "a D-Bus session runs there, so Codex may reach an OS keyring: with cli_auth_credentials_store = \"auto\", a login kept there would win over auth.json".into(),
        ),
        (Some(Keyring::Unreachable), by) => {
            let why = notes
                .keyring_why
                .as_deref()
                .map(|w| {
                    let w = w.rsplit("keyring: ").next().unwrap_or(w);
                    format!(" ({})", w.split(": ").next().unwrap_or(w))
                })
                .unwrap_or_default();
            let who = if by == Some(KeyringBy::Codex) {
                "Codex there finds"
            } else {
                "there is"
            };
            out.push(format!(
                "{who} no OS keyring{why}: with cli_auth_credentials_store = \"auto\", Codex reads auth.json"
            ));
        }
        _ => {}
    }
    for t in &notes.cleaned {
        out.push(format!("removed {t}, left by a run that died"));
    }
    for l in &notes.cleaned_lease {
        out.push(cleaned_lease_note(l));
    }
    for t in &notes.leftover {
        out.push(format!(
            "{t} may hold a copy of a login (left by a run that died, or of one still writing); the next push or logout there removes it"
        ));
    }
    out
}

/// The note a status gives of a lease it removed because its keeper was gone.
pub(crate) fn cleaned_lease_note(lease: &str) -> String {
    format!("removed {lease}, the lease of a `codex-auth run` that died")
}

/// Whom and where, as the requests carry it.
fn whom(shell: &(impl Shell + ?Sized), codex_home: Option<&str>) -> request::Whom {
    let (home_from_passwd, passwd_user) = match shell.home_from() {
        HomeFrom::Environment => (false, String::new()),
        HomeFrom::Passwd(user) => (true, user),
    };
    request::Whom {
        codex_home: codex_home.unwrap_or("").to_string(),
        passwd_user,
        home_from_passwd,
    }
}

/// The precondition as the scripts take it: empty, `none`, or a sha256.
fn expect_word(expect: Option<&Expect>) -> String {
    match expect {
        None => String::new(),
        Some(Expect::Nothing) => "none".into(),
        Some(Expect::Holds(fp)) => fp.as_str().to_string(),
    }
}

/// Install a login through `shell`: written atomically under Codex's locks, verified.
pub(crate) async fn install(
    shell: &(impl Shell + ?Sized),
    req: &InstallRequest<'_>,
) -> Result<InstallReport, TargetError> {
    let bytes = req.auth.bytes().expose();
    let request = request::Install {
        whom: whom(shell, req.codex_home),
        force: req.force,
        dry_run: req.dry_run,
        sum: req.auth.sha256_hex(),
        len: bytes.len(),
        login_method: req.auth.mode.login_method().unwrap_or("-").to_string(),
        workspace: req.auth.workspace.clone().unwrap_or_default(),
        codex_version: req.codex_version,
        lock_wait: req.lock_wait.as_secs().max(1),
        expect: expect_word(req.expect.as_ref()),
    };
    let payload: &[u8] = if req.dry_run { b"" } else { bytes };
    let invocation = Invocation::new(Script::Install, &request, payload)?;
    // The request goes on stdin once the command runs: a run that could not start
    // sent nothing.
    let out = shell
        .run(&invocation)
        .await
        .map_err(|e| e.not_started("install"))?;
    let report = invocation.parse(out);
    let end: reply::End = report.read()?;
    let located: reply::Located = report.read()?;
    if let Some(failure) = report.failure(&end, &located) {
        return Err(failure);
    }
    let own: reply::Install = report.read()?;
    if let Some(lost) = report.lost.clone() {
        return Err(lost_while_installing(lost, &own, report.delivered));
    }
    if !end.end && located.dir.is_some() {
        // It started, and stopped before its end with the target still there (killed).
        let stopped = report.unfinished(
            "install",
            "something on the target stopped it; run again, or `codex-auth status`",
        );
        return Err(lost_while_installing(stopped, &own, report.delivered));
    }
    let Some(outcome) = own.outcome else {
        return Err(report.unfinished(
            "install",
            "the target needs a POSIX sh with mkdir, cat, mv, chmod and ls",
        ));
    };
    let verdict: reply::Verdict = report.read()?;
    let (codex_status, codex) = codex(&verdict).unzip();
    let mut install = InstallReport::new(outcome, &location(&located));
    install.previous = own.existing.unwrap_or_default();
    install.backup = own.backup.clone();
    install.file_mode = own.file_mode.clone();
    install.dir_mode = own.dir_mode.clone();
    install.codex_status = codex_status;
    install.codex = codex;
    install.notes = notes(&report.read()?);
    if matches!(outcome, Outcome::Installed | Outcome::Unchanged) {
        verify(&own, located.uid.as_deref(), req, &mut install)?;
    }
    if outcome == Outcome::Skipped {
        install
            .notes
            .insert(0, super::install::skip_reason(install.credential_store));
    }
    Ok(install)
}

/// Check what the script read back after writing: content, modes, owner.
fn verify(
    own: &reply::Install,
    uid: Option<&str>,
    req: &InstallRequest<'_>,
    install: &mut InstallReport,
) -> Result<(), TargetError> {
    let want_len = req.auth.bytes().len().to_string();
    let sum = own.sum.as_deref().unwrap_or("");
    if own.len.as_deref() != Some(want_len.as_str())
        || (!sum.is_empty() && sum != req.auth.sha256_hex())
    {
        return Err(TargetError::new(
            ErrorClass::Verify,
            format!("{} does not hold what was sent after writing", install.path),
            Some("another process may be writing the file; run again"),
        ));
    }
    // A trailing '.' marks an SELinux context, a '+' an ACL. Neither changes anything
    // here: with the group bits ---, the ACL mask is empty and no named user or group
    // may read the file.
    let mode = install
        .file_mode
        .as_deref()
        .map(|m| m.trim_end_matches(['.', '+']));
    if mode != Some("-rw-------") {
        return Err(TargetError::new(
            ErrorClass::Verify,
            format!(
                "{} has mode {} instead of -rw-------",
                install.path,
                install.file_mode.as_deref().unwrap_or("?")
            ),
            Some("check the file system's permission handling (ACLs, mount options)"),
        ));
    }
    if own.file_uid.as_deref() != uid {
        return Err(TargetError::new(
            ErrorClass::Verify,
            format!("{} is not owned by the login user", install.path),
            None,
        ));
    }
    // The directory too: nobody else may write where the login is.
    let dir_mode = install.dir_mode.as_deref().unwrap_or("?");
    let others_write =
        dir_mode.as_bytes().get(5) != Some(&b'-') || dir_mode.as_bytes().get(8) != Some(&b'-');
    let dir_owner_ok = own.dir_uid.as_deref() == uid || own.dir_uid.as_deref() == Some("0");
    if others_write || !dir_owner_ok {
        return Err(TargetError::new(
            ErrorClass::Verify,
            format!(
                "{} has mode {dir_mode}, owner uid {}: others than the login user can write there",
                install.path.trim_end_matches("/auth.json"),
                own.dir_uid.as_deref().unwrap_or("?")
            ),
            Some(ErrorClass::UnsafeHome.default_hint().unwrap_or_default()),
        ));
    }
    install.verified = true;
    Ok(())
}

/// What a lost target holds, as far as the report got: the message says it, and claims
/// nothing the report does not back.
fn lost_while_installing(
    mut lost: TargetError,
    own: &reply::Install,
    delivered: bool,
) -> TargetError {
    let state = match own.outcome {
        Some(Outcome::Installed) => {
            "while verifying: the new login was written there but not read back (`codex-auth status` shows it)"
        }
        Some(Outcome::Unchanged) => "while verifying: the target already held this login",
        _ if !delivered => "while sending the login: nothing was replaced there",
        _ if own.committing => {
            "while replacing auth.json: the target holds its old login or the new one, whole (`codex-auth status` shows which)"
        }
        _ => {
            "while installing: the target holds its old login or the new one, whole (`codex-auth status` shows which)"
        }
    };
    lost.message = format!("{}, {state}", lost.message);
    lost
}

/// Read what login a place holds, writing nothing.
pub(crate) async fn inspect(
    shell: &(impl Shell + ?Sized),
    req: &InspectRequest<'_>,
) -> Result<InspectReport, TargetError> {
    let request = request::Inspect {
        whom: whom(shell, req.codex_home),
        judge: req.judge,
        codex_version: req.codex_version,
        digest_only: req.digest_only,
    };
    let invocation = Invocation::new(Script::Inspect, &request, b"")?;
    let out = shell.run(&invocation).await?;
    let report = invocation.parse(out);
    let end: reply::End = report.read()?;
    let located: reply::Located = report.read()?;
    if let Some(failure) = report.failure(&end, &located) {
        return Err(failure);
    }
    if let Some(mut lost) = report.lost.clone() {
        lost.message = format!("{}, while reading (reading changes nothing)", lost.message);
        return Err(lost);
    }
    let own: reply::Inspect = report.read()?;
    let Some(kind) = own.kind else {
        return Err(report.unfinished("inspect", "the target needs a POSIX sh"));
    };
    let verdict: reply::Verdict = report.read()?;
    let (codex_status, codex) = codex(&verdict).unzip();
    Ok(InspectReport {
        location: location(&located),
        kind,
        file_mode: own.file_mode,
        codex_status,
        codex,
        forced: forced(&located),
        notes: notes(&report.read()?),
        content: report
            .body(own.auth_len)?
            .map(|b| std::sync::Arc::new(SecretBytes::new(b))),
        unreadable: own.unreadable,
        keyring_account: None,
        sum: own.sum.filter(|s| !s.is_empty()),
    })
}

/// Take the login off a place, under Codex's locks.
pub(crate) async fn remove(
    shell: &(impl Shell + ?Sized),
    req: &RemoveRequest<'_>,
) -> Result<RemoveReport, TargetError> {
    let request = request::Remove {
        whom: whom(shell, req.codex_home),
        keep_backup: req.keep_backup,
        dry_run: req.dry_run,
        lock_wait: req.lock_wait.as_secs().max(1),
        codex_version: req.codex_version,
        expect: expect_word(req.expect.as_ref()),
        send_login: req.send_login,
    };
    let invocation = Invocation::new(Script::Remove, &request, b"")?;
    let out = shell
        .run(&invocation)
        .await
        .map_err(|e| e.not_started("removal"))?;
    let report = invocation.parse(out);
    let end: reply::End = report.read()?;
    let located: reply::Located = report.read()?;
    if let Some(failure) = report.failure(&end, &located) {
        return Err(failure);
    }
    let own: reply::Remove = report.read()?;
    let Some(outcome) = own.outcome else {
        if let Some(mut lost) = report.lost.clone() {
            lost.message.push_str(
                ", while removing: the login may be there or gone (`codex-auth status` shows which)",
            );
            return Err(lost);
        }
        return Err(report.unfinished("remove", "the target needs a POSIX sh with rm"));
    };
    let verdict: reply::Verdict = report.read()?;
    let (codex_status, codex) = codex(&verdict).unzip();
    let mut notes = notes(&report.read()?);
    // Cut off while the login was sent: it is gone there all the same, but unknown here.
    let removed = match report.body(own.auth_len) {
        Ok(b) => b.map(SecretBytes::new),
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
    let location = location(&located);
    Ok(RemoveReport {
        outcome,
        path: location.auth_path(),
        home_from: location.home_from,
        user: location.user,
        credential_store: location.store,
        backup: own.backup,
        removed_sum: match &removed {
            Some(b) => Some(Fingerprint::of(b.expose())),
            None => own.sum.and_then(|s| s.parse().ok()),
        },
        removed,
        codex_status,
        codex,
        notes,
    })
}

/// The request of `sh/forward_device.sh`, as its stdin begins.
pub(crate) fn forward_device_invocation(issuer: Option<&str>) -> Result<Invocation, TargetError> {
    let request = request::ForwardDevice {
        issuer: issuer.unwrap_or("").to_string(),
    };
    Invocation::new(Script::ForwardDevice, &request, b"")
}

/// A write the script reported failed (`write DETAIL`): the command's own message,
/// captured into the report, says why.
fn write_failure(detail: &str) -> TargetError {
    let (class, detail) = classify_write(&format!("cannot {detail}"));
    TargetError::new(class, detail, class.default_hint())
}

/// Name a failed write by what the command said (`cannot write X: cat: ...: No space
/// left on device`): no space, read-only, permission.
fn classify_write(what: &str) -> (ErrorClass, String) {
    let (action, reason) = what.split_once(": ").unwrap_or((what, ""));
    let lower = reason.to_ascii_lowercase();
    if lower.contains("no space") {
        (
            ErrorClass::DiskFull,
            format!("{action}: no space left on device"),
        )
    } else if lower.contains("read-only") {
        (
            ErrorClass::ReadOnly,
            format!("{action}: read-only file system"),
        )
    } else if lower.contains("permission denied") || lower.contains("operation not permitted") {
        (
            ErrorClass::PermissionDenied,
            format!("{action}: permission denied"),
        )
    } else {
        (ErrorClass::Io, what.trim().to_string())
    }
}

#[cfg(all(test, unix))]
pub(crate) mod tests {
    use super::*;
    use crate::auth::AuthFile;
    use crate::targets::{FileKind, Fingerprint};

    /// The scripts run by the local `sh`, with HOME pointing at a scratch directory;
    /// `inline`: as ssh runs them, the request in the command when it can travel there.
    pub(crate) struct LocalSh {
        pub home: std::path::PathBuf,
        pub inline: bool,
    }

    impl Shell for LocalSh {
        fn run<'a>(
            &'a self,
            invocation: &'a Invocation,
        ) -> BoxFuture<'a, Result<RunOutput, TargetError>> {
            Box::pin(async move {
                use std::io::Write;
                let inline = match self.inline {
                    true => invocation.command_carrying_request()?,
                    false => None,
                };
                let (line, stdin) = match &inline {
                    // (the command is for a login shell: sh is one)
                    Some(command) => (command.as_str(), &[][..]),
                    None => (invocation.line()?, invocation.stdin()),
                };
                let mut child = std::process::Command::new("sh")
                    .arg("-c")
                    .arg(line)
                    .env_clear()
                    .env("PATH", "/usr/bin:/bin")
                    .env("HOME", &self.home)
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                let _ = child.stdin.take().unwrap().write_all(stdin);
                let out = child.wait_with_output().unwrap();
                Ok(RunOutput {
                    stdout: out.stdout,
                    stderr: out.stderr,
                    exit_status: out.status.code().map(|c| c as u32),
                    delivered: true,
                    lost: None,
                })
            })
        }
    }

    pub(crate) fn local() -> (tempfile::TempDir, LocalSh) {
        let dir = tempfile::tempdir().unwrap();
        let sh = LocalSh {
            home: dir.path().to_path_buf(),
            inline: false,
        };
        (dir, sh)
    }

    fn req(auth: &AuthFile) -> InstallRequest<'_> {
        InstallRequest {
            auth,
            codex_home: None,
            force: false,
            dry_run: false,
            codex_version: false,
            lock_wait: std::time::Duration::from_secs(10),
            expect: None,
        }
    }

    /// What every script sent to a login shell must satisfy: one line, sent in words
    /// within bsd-csh's limit, and valid sh for every sh there is here.
    #[test]
    fn every_script_joins_into_one_line_every_sh_parses() {
        for script in Script::ALL {
            let line = script.line().unwrap_or_else(|e| panic!("{e:?}"));
            assert!(!line.contains('\n'));
            for sh in ["sh", "dash", "bash", "busybox"] {
                let mut cmd = std::process::Command::new(sh);
                if sh == "busybox" {
                    cmd.arg("ash");
                }
                let out = match cmd.arg("-n").arg("-c").arg(line).output() {
                    Ok(out) => out,
                    // (busybox is installed by the test command; `cargo test` alone may lack it)
                    Err(e) if sh == "busybox" && e.kind() == std::io::ErrorKind::NotFound => {
                        continue
                    }
                    Err(e) => panic!("{sh}: {e}"),
                };
                assert!(
                    out.status.success(),
                    "{script:?} with {sh}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }

    /// Every key a script reads is a field of a request struct and every field is read;
    /// every key a script says is a field of a reply struct and every field is said;
    /// every class a script fails with is a [`reply::Failure`].
    #[test]
    fn the_scripts_and_the_protocol_structs_name_the_same_keys() {
        use std::collections::BTreeSet;
        let sources: Vec<&str> = std::iter::once(COMMON)
            .chain(Script::ALL.iter().map(|s| s.source()))
            .collect();
        let code: Vec<&str> = sources
            .iter()
            .flat_map(|s| s.lines())
            .map(str::trim)
            .filter(|l| !l.starts_with('#'))
            .collect();
        // The word after each `PREFIX` that starts a word (after a blank, `(`, `)` or `$`).
        let words_after = |prefix: &str| -> BTreeSet<String> {
            code.iter()
                .flat_map(|l| {
                    l.match_indices(prefix)
                        .filter(|(i, _)| *i == 0 || l[..*i].ends_with([' ', '(', ')', '$']))
                        .map(move |(i, _)| &l[i + prefix.len()..])
                })
                .map(|rest| {
                    rest.chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                        .collect::<String>()
                })
                .filter(|w| !w.is_empty())
                .collect()
        };
        let said = words_after("say ");
        let mut replied: BTreeSet<String> = BTreeSet::new();
        for fields in [
            reply::fields::<reply::End>(),
            reply::fields::<reply::Located>(),
            reply::fields::<reply::Verdict>(),
            reply::fields::<reply::Notes>(),
            reply::fields::<reply::Install>(),
            reply::fields::<reply::Inspect>(),
            reply::fields::<reply::Remove>(),
            reply::fields::<reply::Lease>(),
        ] {
            replied.extend(fields.iter().map(|f| f.to_string()));
        }
        assert_eq!(said, replied, "keys said by the scripts vs reply fields");

        let read = words_after("req_");
        let mut requested: BTreeSet<String> = BTreeSet::new();
        requested.extend(request::keys(&request::Install::default()));
        requested.extend(request::keys(&request::Inspect::default()));
        requested.extend(request::keys(&request::Remove::default()));
        requested.extend(request::keys(&request::ForwardDevice::default()));
        requested.extend(request::keys(&request::Lease::default()));
        assert_eq!(
            read, requested,
            "req_ keys used by the scripts vs request fields"
        );

        let failed = words_after("fail ");
        for class in &failed {
            let parsed: reply::Failure = reply::from_pairs(&[("error".to_string(), class.clone())])
                .map(|e: reply::End| e.error.unwrap_or(reply::Failure::Unknown))
                .unwrap();
            assert_ne!(parsed, reply::Failure::Unknown, "fail {class}");
        }
        assert!(failed.contains("changed") && failed.contains("write"));
    }

    #[test]
    fn no_source_line_is_longer_than_120_characters() {
        for source in std::iter::once(COMMON).chain(Script::ALL.iter().map(|s| s.source())) {
            for line in source.lines() {
                assert!(line.chars().count() <= transport::MAX_LINE, "{line}");
            }
        }
    }

    #[tokio::test]
    async fn short_payload_is_torn_and_leaves_the_old_file() {
        let (dir, sh) = local();
        let old = AuthFile::from_api_key("sk-test-old-00000000000000000").unwrap();
        install(&sh, &req(&old)).await.unwrap();
        let new = AuthFile::from_api_key("sk-test-new-00000000000000000").unwrap();
        // The connection "drops" after half the payload: the script sees EOF early.
        let request = request::Install {
            whom: whom(&sh, None),
            sum: new.sha256_hex(),
            len: new.bytes().len(),
            lock_wait: 10,
            ..Default::default()
        };
        let mut cut = Invocation::new(Script::Install, &request, new.bytes().expose()).unwrap();
        let keep = cut.stdin().len() - new.bytes().len() / 2;
        cut.truncate_stdin(keep);
        let report = cut.parse(sh.run(&cut).await.unwrap());
        let end: reply::End = report.read().unwrap();
        assert_eq!(end.error, Some(reply::Failure::Torn));
        let path = dir.path().join(".codex/auth.json");
        assert_eq!(std::fs::read(&path).unwrap(), old.bytes().expose());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join(".codex"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with('.')
            })
            .collect();
        assert!(leftovers.is_empty());
    }

    #[tokio::test]
    async fn the_precondition_is_checked_before_anything_is_written() {
        let (dir, sh) = local();
        let a = AuthFile::from_api_key("sk-test-cas-a-0000000000000000").unwrap();
        let b = AuthFile::from_api_key("sk-test-cas-b-0000000000000000").unwrap();
        let path = dir.path().join(".codex/auth.json");
        let with = |auth, expect| InstallRequest {
            expect: Some(expect),
            ..req(auth)
        };
        // Nothing there, as expected: written.
        install(&sh, &with(&a, Expect::Nothing)).await.unwrap();
        // It holds a now: "nothing" no longer holds, and b's fingerprint never did.
        let e = install(&sh, &with(&b, Expect::Nothing)).await.unwrap_err();
        assert_eq!(e.class, ErrorClass::Changed, "{e:?}");
        assert!(e
            .message
            .ends_with("(a login is there now); nothing was written"));
        let e = install(
            &sh,
            &with(&b, Expect::Holds(Fingerprint::of(b.bytes().expose()))),
        )
        .await
        .unwrap_err();
        assert_eq!(e.class, ErrorClass::Changed);
        assert_eq!(std::fs::read(&path).unwrap(), a.bytes().expose());
        // The dry run says the same.
        let mut dry = with(&b, Expect::Nothing);
        dry.dry_run = true;
        assert_eq!(
            install(&sh, &dry).await.unwrap_err().class,
            ErrorClass::Changed
        );
        // What it holds: replaced.
        let rep = install(
            &sh,
            &with(&b, Expect::Holds(Fingerprint::of(a.bytes().expose()))),
        )
        .await
        .unwrap();
        assert_eq!(rep.outcome, Outcome::Installed);
        assert_eq!(std::fs::read(&path).unwrap(), b.bytes().expose());
        // A removal takes the same precondition.
        let remove_req = |expect| RemoveRequest {
            codex_home: None,
            keep_backup: true,
            dry_run: false,
            lock_wait: std::time::Duration::from_secs(10),
            codex_version: false,
            expect: Some(expect),
            send_login: false,
        };
        let e = remove(
            &sh,
            &remove_req(Expect::Holds(Fingerprint::of(a.bytes().expose()))),
        )
        .await
        .unwrap_err();
        assert_eq!(e.class, ErrorClass::Changed);
        assert!(path.exists());
        // To be revoked, the login itself is sent back (a dry run: it stays).
        let dry = RemoveRequest {
            dry_run: true,
            send_login: true,
            ..remove_req(Expect::Holds(Fingerprint::of(b.bytes().expose())))
        };
        let rep = remove(&sh, &dry).await.unwrap();
        assert_eq!(rep.removed.unwrap().expose(), b.bytes().expose());
        assert!(path.exists());
        let rep = remove(
            &sh,
            &remove_req(Expect::Holds(Fingerprint::of(b.bytes().expose()))),
        )
        .await
        .unwrap();
        // Only the fingerprint of what went comes back, not the login.
        assert!(rep.removed.is_none());
        assert_eq!(rep.removed_sum, Some(Fingerprint::of(b.bytes().expose())));
        assert!(!path.exists());
    }

    #[tokio::test]
    async fn directory_at_auth_path_and_unwritable_home_are_classified() {
        let (dir, sh) = local();
        let auth = AuthFile::from_api_key("sk-test-dir-00000000000000000").unwrap();
        std::fs::create_dir_all(dir.path().join(".codex/auth.json")).unwrap();
        let e = install(&sh, &req(&auth)).await.unwrap_err();
        assert_eq!(e.class, ErrorClass::NotAFile);
        let mut r = req(&auth);
        // /proc does not let anyone create a directory, root included.
        r.codex_home = Some("/proc/codex-auth-test");
        let e = install(&sh, &r).await.unwrap_err();
        assert_eq!(e.class, ErrorClass::Io, "{e:?}");
        assert!(e
            .message
            .starts_with("cannot create /proc/codex-auth-test: mkdir"));
        assert!(e.message.contains("No such file or directory"), "{e:?}");
    }

    #[test]
    fn failed_writes_are_named_by_what_the_command_said() {
        let c = |said: &str| classify_write(&format!("cannot write x: {said}")).0;
        assert_eq!(
            c("cat: write error: No space left on device"),
            ErrorClass::DiskFull
        );
        assert_eq!(
            c("mkdir: cannot create: Read-only file system"),
            ErrorClass::ReadOnly
        );
        assert_eq!(c("sh: x: Permission denied"), ErrorClass::PermissionDenied);
        assert_eq!(c(""), ErrorClass::Io);
    }

    #[tokio::test]
    async fn loose_modes_are_tightened_on_unchanged_push() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, sh) = local();
        let auth = AuthFile::from_api_key("sk-test-modes-000000000000000").unwrap();
        let codex = dir.path().join(".codex");
        std::fs::create_dir_all(&codex).unwrap();
        std::fs::write(codex.join("auth.json"), auth.bytes().expose()).unwrap();
        std::fs::set_permissions(
            codex.join("auth.json"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        std::fs::set_permissions(&codex, std::fs::Permissions::from_mode(0o755)).unwrap();
        let rep = install(&sh, &req(&auth)).await.unwrap();
        assert_eq!(rep.outcome, Outcome::Unchanged);
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&codex.join("auth.json")), 0o600);
        assert_eq!(mode(&codex), 0o700);
    }

    #[test]
    fn dry_run_request_carries_no_payload() {
        let auth = AuthFile::from_api_key("sk-test-dryrun-0000000000000").unwrap();
        let request = request::Install {
            dry_run: true,
            sum: auth.sha256_hex(),
            ..Default::default()
        };
        let inv = Invocation::new(Script::Install, &request, b"").unwrap();
        let text = String::from_utf8_lossy(inv.stdin()).into_owned();
        assert!(!text.contains("sk-test"));
        assert!(text.starts_with("codex-auth-install-4\n"));
        assert!(text.ends_with("\n\n"));
    }

    #[tokio::test]
    async fn inspect_reads_back_exactly_the_file() {
        // (both ways a request travels: on stdin, and in the command as over ssh)
        for inline in [false, true] {
            let (dir, mut sh) = local();
            sh.inline = inline;
            inspect_reads_back_exactly_the_file_with(dir, sh).await;
        }
    }

    async fn inspect_reads_back_exactly_the_file_with(dir: tempfile::TempDir, sh: LocalSh) {
        let auth = AuthFile::from_api_key("sk-test-inspect-00000000000000").unwrap();
        std::fs::create_dir_all(dir.path().join(".codex")).unwrap();
        std::fs::write(dir.path().join(".codex/auth.json"), auth.bytes().expose()).unwrap();
        std::fs::write(
            dir.path().join(".codex/config.toml"),
            "model = \"o\"\n  forced_login_method = 'api' # comment\nforced_chatgpt_workspace_id = [\n  \"ws-1\",\n  \"ws-2\",\n]\ncli_auth_credentials_store = \"auto\"\n[profiles.x]\nforced_login_method = \"chatgpt\"\n",
        )
        .unwrap();
        let rep = inspect(
            &sh,
            &InspectRequest {
                judge: false,
                codex_home: None,
                codex_version: false,
                digest_only: false,
            },
        )
        .await
        .unwrap();
        assert_eq!(rep.forced.login_method.as_deref(), Some("api"));
        assert_eq!(rep.forced.workspaces, ["ws-1", "ws-2"]);
        assert_eq!(
            rep.location.store,
            crate::auth::store::CredentialStore::Auto
        );
        assert_eq!(rep.kind, FileKind::File);
        assert_eq!(rep.content.unwrap().expose(), auth.bytes().expose());
        assert_eq!(rep.location.dir, format!("{}/.codex", dir.path().display()));
    }

    #[test]
    fn a_request_travels_in_the_command_only_without_payload_and_in_plain_characters() {
        let plain = request::Inspect::default();
        let inv = Invocation::new(Script::Inspect, &plain, b"").unwrap();
        let command = inv.command_carrying_request().unwrap().unwrap();
        assert!(
            command.contains(&format!(
                "codex_auth_request=\"codex-auth-inspect-4 {} ",
                inv.nonce
            )),
            "{command}"
        );
        let spaced = request::Inspect {
            whom: request::Whom {
                codex_home: "/srv/my codex".into(),
                ..Default::default()
            },
            ..Default::default()
        };
        let inv = Invocation::new(Script::Inspect, &spaced, b"").unwrap();
        assert!(inv.command_carrying_request().unwrap().is_none());
        let inv = Invocation::new(Script::Inspect, &plain, b"payload").unwrap();
        assert!(inv.command_carrying_request().unwrap().is_none());
    }

    #[test]
    fn only_framed_lines_count() {
        let inv = Invocation::new(Script::Inspect, &request::Inspect::default(), b"").unwrap();
        let n = &inv.nonce;
        let printed = format!(
            "outcome=installed\nerror=forged\nbanner from .bashrc\n{n} kind=file\n{n} auth_len=2\n{n} end=1\n{n} body\n{{}}trailing noise"
        );
        assert!(inv.reported(printed.as_bytes()));
        assert!(!inv.reported(b"outcome=installed\n"));
        let output = |stdout: &str| RunOutput {
            stdout: stdout.as_bytes().to_vec(),
            stderr: Vec::new(),
            exit_status: Some(0),
            delivered: true,
            lost: None,
        };
        let r = inv.parse(output(&printed));
        let end: reply::End = r.read().unwrap();
        let own: reply::Inspect = r.read().unwrap();
        assert!(end.end && end.error.is_none());
        assert!(codex(&r.read().unwrap()).is_none());
        assert_eq!(own.kind, Some(FileKind::File));
        assert_eq!(r.body(own.auth_len).unwrap().unwrap(), b"{}");
        assert!(inv.finished(printed.as_bytes()));
        assert!(!inv.finished(format!("{n} kind=file\n").as_bytes()));
    }

    /// A target that answers every script with the same printed text, `@N@` in it
    /// replaced by the run's nonce (so the text can forge framed report lines).
    struct Canned {
        stdout: Vec<u8>,
        lost: bool,
    }

    impl Shell for Canned {
        fn run<'a>(
            &'a self,
            invocation: &'a Invocation,
        ) -> BoxFuture<'a, Result<RunOutput, TargetError>> {
            let nonce = invocation.nonce().as_bytes().to_vec();
            let mut stdout = Vec::with_capacity(self.stdout.len());
            let mut rest = &self.stdout[..];
            while let Some(i) = rest.windows(3).position(|w| w == b"@N@") {
                stdout.extend_from_slice(&rest[..i]);
                stdout.extend_from_slice(&nonce);
                rest = &rest[i + 3..];
            }
            stdout.extend_from_slice(rest);
            let lost = self
                .lost
                .then(|| TargetError::new(ErrorClass::Disconnected, "connection lost", None));
            Box::pin(async move {
                Ok(RunOutput {
                    stdout,
                    stderr: b"sh: 1: noise\n".to_vec(),
                    exit_status: Some(0),
                    delivered: true,
                    lost,
                })
            })
        }
    }

    const REPORT_WORDS: &[&str] = &[
        "@N@ ",
        "@N@ ",
        "@N@ ",
        "\n",
        "=",
        "kind=",
        "file",
        "dir",
        "symlink",
        "auth_len=",
        "5",
        "-1",
        "99999999999999999999",
        "@N@ body\n",
        "end=1",
        "codex_rc=",
        "0",
        "1",
        "none",
        "codex_line=",
        "Logged in using an API key",
        "error=",
        "detail=",
        "busy",
        "torn",
        "sum",
        "write",
        "changed",
        "forced-workspace",
        "outcome=",
        "installed",
        "unchanged",
        "skipped",
        "existing=",
        "different",
        "same",
        "home_from=",
        "env",
        "dir=",
        "/h/.codex",
        "uid=",
        "login=",
        "store=",
        "keyring",
        "forced_workspace=",
        ",",
        "codex_running=",
        "cleaned=",
        "leftover=",
        "lock=",
        "committing=1",
        "file_mode=",
        "-rw-------",
        "file_uid=",
        "len=",
        "sum=",
        "backup=",
        "{}",
        "\u{feff}",
        "\0",
        "\u{3000}",
    ];

    fn judge_canned(stdout: Vec<u8>, lost: bool) {
        let auth = AuthFile::from_api_key("sk-test-canned-0000000000000").unwrap();
        let target = Canned { stdout, lost };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            if let Ok(rep) = install(&target, &req(&auth)).await {
                // A success needs the whole report: an outcome and the script's end.
                assert!(matches!(
                    rep.outcome,
                    Outcome::Installed
                        | Outcome::Unchanged
                        | Outcome::Skipped
                        | Outcome::WouldInstall
                ));
                assert!(!lost, "a lost target reported as done");
            }
            let request = InspectRequest {
                judge: true,
                codex_home: None,
                codex_version: true,
                digest_only: false,
            };
            let _ = inspect(&target, &request).await;
            let removal = RemoveRequest {
                codex_home: None,
                keep_backup: false,
                dry_run: false,
                lock_wait: std::time::Duration::from_secs(1),
                codex_version: false,
                expect: None,
                send_login: true,
            };
            let _ = remove(&target, &removal).await;
        });
    }

    #[test]
    fn reports_take_the_odd_inputs() {
        for (_, bytes) in crate::test_inputs::odd_inputs() {
            judge_canned(bytes.clone(), false);
            let mut framed =
                b"@N@ kind=file\n@N@ auth_len=100000000\n@N@ end=1\n@N@ body\n".to_vec();
            framed.extend_from_slice(&bytes[..bytes.len().min(1 << 20)]);
            judge_canned(framed, true);
        }
    }

    proptest::proptest! {
        #![proptest_config(crate::test_inputs::config())]
        #[test]
        fn reports_never_panic(
            text in crate::test_inputs::text_from(REPORT_WORDS, 120),
            lost in proptest::bool::ANY,
        ) {
            judge_canned(text.into_bytes(), lost);
        }
    }
}
