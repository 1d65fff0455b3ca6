//! The SSH transport on russh: resolve a destination like `ssh` does, connect (through
//! ProxyJump hops), verify the host key against known_hosts, authenticate (agent, key
//! files, password), run commands with stdin, and forward ports. Never prints; asks only
//! via `Prompter`; hands out plain async streams, never russh types.

mod config;
mod dest;
mod forward;
mod known_hosts;
mod proxy_command;
mod quickack;
mod session_auth;
mod turns;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use russh::client;
use russh::keys::PublicKey;
use tokio::sync::Semaphore;

pub(crate) use config::{expand_tilde, preflight, SshOptions};
use config::{AddressFamily, HostConfig, StrictHostKeys};
pub(crate) use dest::Destination;
pub(crate) use forward::serve_forward;
use known_hosts::HostKeyStatus;

use crate::prompt::Prompter;

/// How long to wait for TCP and the SSH handshake when the config sets no ConnectTimeout.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Unauthenticated connections in flight per server endpoint. OpenSSH's default
/// `MaxStartups 10:30:100` starts dropping new connections beyond 10.
const HANDSHAKES_PER_ENDPOINT: usize = 8;
/// Attempts for a handshake that the server dropped before it completed.
const HANDSHAKE_ATTEMPTS: u32 = 6;

#[derive(Clone, Debug, thiserror::Error)]
pub(crate) enum SshError {
    #[error("ssh config: {0}")]
    Config(String),
    #[error("cannot resolve host name {host:?}")]
    Resolve { host: String },
    #[error("connection refused by {addr}")]
    Refused { addr: String },
    #[error("timed out connecting to {addr}")]
    Timeout { addr: String },
    #[error("cannot reach {addr}: {detail}")]
    Unreachable { addr: String, detail: String },
    #[error("host key for {host} is not known ({fingerprint})")]
    HostKeyUnknown {
        host: String,
        fingerprint: String,
        why: &'static str,
    },
    #[error("HOST KEY FOR {host} HAS CHANGED: the server now offers {fingerprint} ({file}:{line} has another key)")]
    HostKeyChanged {
        host: String,
        fingerprint: String,
        file: String,
        line: usize,
    },
    #[error("host key for {host} is marked @revoked in {file}:{line}")]
    HostKeyRevoked {
        host: String,
        file: String,
        line: usize,
    },
    #[error("the host certificate of {host} is refused: {why}")]
    HostCertificateInvalid { host: String, why: String },
    #[error("authentication failed for {user}@{host}: {detail}")]
    Auth {
        user: String,
        host: String,
        detail: String,
        no_terminal: bool,
    },
    #[error("connection to {addr} lost: {detail}")]
    Disconnected { addr: String, detail: String },
    #[error("jump host {jump} could not open a connection to {target}")]
    JumpFailed { jump: String, target: String },
    #[error("cannot reach {addr}: {detail}")]
    ProxyCommand { addr: String, detail: String },
    #[error("ssh config for {host}: {keyword} is not supported ({setting})")]
    Unsupported {
        host: String,
        keyword: &'static str,
        setting: String,
        instead: &'static str,
    },
    #[error("ssh protocol error with {addr}: {detail}")]
    Protocol { addr: String, detail: String },
    #[error("{addr} refuses port forwarding (AllowTcpForwarding)")]
    ForwardingRefused { addr: String },
    #[error("nothing listens on {port} on {addr}")]
    RemotePortClosed { addr: String, port: u16 },
}

impl SshError {
    pub(crate) fn hint(&self) -> Option<String> {
        Some(match self {
            SshError::Config(_) => "check the destination and your ssh config (-F)".into(),
            SshError::Resolve { .. } => "check the host name, or add a HostName for it in ~/.ssh/config".into(),
            SshError::Refused { .. } => "is sshd running on that port? (ssh_config Port, or host:port)".into(),
            SshError::Timeout { .. } => "the host did not answer; check the address, firewall, or raise -o ConnectTimeout=N".into(),
            SshError::Unreachable { .. } => "check the network path to the host".into(),
            SshError::JumpFailed { .. } => "check the target's address as the jump host sees it".into(),
            SshError::Unsupported { instead, .. } => (*instead).into(),
            SshError::ProxyCommand { .. } => {
                "run the ProxyCommand of the ssh config by hand (ssh -v HOST shows it) and check what it needs (a login, a tunnel, a tool on PATH)".into()
            }
            SshError::HostKeyUnknown { host, why, .. } => format!(
                "{why}; connect once with `ssh {host}` to check and record the key, or pass -o StrictHostKeyChecking=accept-new"
            ),
            SshError::HostKeyChanged { host, file, .. } => format!(
                "if the host was really reinstalled, remove the old key with `ssh-keygen -R {host} -f {file}`; otherwise someone may be intercepting the connection"
            ),
            SshError::HostKeyRevoked { .. } => "the key was revoked on purpose; do not connect".into(),
            SshError::HostCertificateInvalid { .. } => {
                "the host's certificate must be renewed (or its principals fixed) by whoever runs its CA; do not connect meanwhile".into()
            }
            SshError::Auth { no_terminal: true, .. } => {
                "no terminal to ask for a password or passphrase: load the key into ssh-agent, or pass -i KEY".into()
            }
            SshError::Auth { .. } => "check the user name and that your key is in the host's authorized_keys (-i KEY, ssh-agent)".into(),
            SshError::Disconnected { .. } => "the server closed the connection; check its logs (MaxStartups, AllowUsers)".into(),
            SshError::ForwardingRefused { .. } => {
                "the server's sshd_config sets AllowTcpForwarding no (or a Match block does); `login --forward HOST --device-auth` needs no tunnel, or use `codex-auth push`".into()
            }
            SshError::Protocol { .. } | SshError::RemotePortClosed { .. } => return None,
        })
    }
}

/// What the handler saw of the server's key, for the caller to explain a refusal.
#[derive(Default)]
struct KeyVerdict {
    key: Option<PublicKey>,
    status: Option<HostKeyStatus>,
}

struct Verifier {
    name: String,
    /// What a host certificate must be for: HostKeyAlias, else the host name.
    principal: String,
    files: Vec<PathBuf>,
    learn_to: Option<PathBuf>,
    hash: bool,
    strict: StrictHostKeys,
    verdict: Arc<Mutex<KeyVerdict>>,
}

impl client::Handler for Verifier {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let (key, status) = match server_key {
            russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } => (
                key.clone(),
                known_hosts::check(&self.files, &self.name, key),
            ),
            russh::keys::PublicKeyOrCertificate::Certificate(c) => (
                PublicKey::new(c.public_key().clone(), ""),
                known_hosts::check_certificate(&self.files, &self.name, &self.principal, c),
            ),
        };
        let accept = match &status {
            HostKeyStatus::Known => true,
            HostKeyStatus::Unknown => match self.strict {
                StrictHostKeys::AcceptNew | StrictHostKeys::No => match &self.learn_to {
                    Some(f) => known_hosts::learn(f, &self.name, &key, self.hash).is_ok(),
                    None => false,
                },
                StrictHostKeys::Yes | StrictHostKeys::Ask => false,
            },
            HostKeyStatus::Changed { .. }
            | HostKeyStatus::Revoked { .. }
            | HostKeyStatus::CertificateInvalid { .. } => false,
        };
        if let Ok(mut v) = self.verdict.lock() {
            v.key = Some(key);
            v.status = Some(status);
        }
        Ok(accept)
    }
}

type Handle = client::Handle<Verifier>;

/// An authenticated connection to one target (and the jump hosts it goes through).
pub(crate) struct Session {
    handle: Handle,
    /// The jump hosts' connections, first hop first (shared with the run's other
    /// targets behind them).
    jumps: Vec<Arc<Hop>>,
    addr: String,
    /// SendEnv and SetEnv of the config, asked for before each command.
    env: Vec<(String, String)>,
    /// The ProxyCommand the connection goes through, if any (without jump hosts; else
    /// the first hop's): it lives (and is killed) with the session.
    _proxy: Option<proxy_command::Proxy>,
    /// The round trips of the connection to the target (for `-vv`).
    turns: turns::Turns,
    /// The round trips this target waited for before its own connection began: each
    /// jump host's handshake it waited for (none for a connection another target had
    /// already made), and the channel each hop opened to the next.
    jump_turns: u32,
    prompter: Arc<dyn Prompter>,
}

/// A byte stream over the connection (a forwarded port, or a command's stdin/stdout).
pub(crate) trait Stream:
    tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin
{
}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Stream for T {}

/// A command running on the server.
pub(crate) struct RemoteProcess {
    channel: russh::Channel<russh::client::Msg>,
}

/// What a running command did next.
#[derive(Debug)]
pub(crate) enum ProcessEvent {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    Exit(u32),
    /// It was killed by this signal (as `kill -l` names it, without SIG).
    Signal(String),
    /// The channel (or the connection) closed.
    Closed,
}

impl RemoteProcess {
    pub(crate) async fn next(&mut self) -> ProcessEvent {
        loop {
            match self.channel.wait().await {
                Some(russh::ChannelMsg::Data { data }) => {
                    return ProcessEvent::Stdout(data.to_vec())
                }
                Some(russh::ChannelMsg::ExtendedData { data, .. }) => {
                    return ProcessEvent::Stderr(data.to_vec())
                }
                Some(russh::ChannelMsg::ExitStatus { exit_status }) => {
                    return ProcessEvent::Exit(exit_status)
                }
                Some(russh::ChannelMsg::ExitSignal { signal_name, .. }) => {
                    return ProcessEvent::Signal(signal_name_of(&signal_name))
                }
                Some(_) => continue,
                None => return ProcessEvent::Closed,
            }
        }
    }

    /// Send `data` to the command's stdin.
    pub(crate) async fn write_stdin(&self, data: &[u8]) -> Result<(), SshError> {
        self.channel
            .data(data)
            .await
            .map_err(|e| SshError::Disconnected {
                addr: "the host".into(),
                detail: e.to_string(),
            })
    }

    /// End of input: the command sees EOF on stdin.
    pub(crate) async fn close_stdin(&self) {
        let _ = self.channel.eof().await;
    }

    pub(crate) async fn close(&self) {
        let _ = self.channel.close().await;
    }

    /// The terminal it runs on was resized.
    pub(crate) async fn resize(&self, cols: u32, rows: u32) {
        let _ = self.channel.window_change(cols, rows, 0, 0).await;
    }
}

/// A signal as the protocol names it (RFC 4254 6.10: without SIG).
fn signal_name_of(sig: &russh::Sig) -> String {
    match sig {
        russh::Sig::ABRT => "ABRT",
        russh::Sig::ALRM => "ALRM",
        russh::Sig::FPE => "FPE",
        russh::Sig::HUP => "HUP",
        russh::Sig::ILL => "ILL",
        russh::Sig::INT => "INT",
        russh::Sig::KILL => "KILL",
        russh::Sig::PIPE => "PIPE",
        russh::Sig::QUIT => "QUIT",
        russh::Sig::SEGV => "SEGV",
        russh::Sig::TERM => "TERM",
        russh::Sig::USR1 => "USR1",
        russh::Sig::Custom(name) => name.as_str(),
    }
    .to_string()
}

/// What a remote command printed and how it ended.
#[derive(Debug)]
pub(crate) struct ExecOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit_status: Option<u32>,
    /// All of stdin was handed to the connection (whether it arrived, a lost
    /// connection cannot tell).
    pub delivered: bool,
    /// The connection was lost before the command finished: what it printed until then
    /// is above.
    pub lost: Option<SshError>,
}

/// The most a remote command may print; a target that prints more is cut off.
const MAX_OUTPUT: usize = 4 << 20;

/// A process-wide registry of shared things by name: `name`'s, made by `make` the first
/// time it is asked for.
type Registry<T> = OnceLock<Mutex<HashMap<String, Arc<T>>>>;

fn registered<T>(registry: &'static Registry<T>, name: &str, make: impl FnOnce() -> T) -> Arc<T> {
    let mut map = match registry.get_or_init(Default::default).lock() {
        Ok(m) => m,
        Err(poisoned) => poisoned.into_inner(),
    };
    map.entry(name.to_string())
        .or_insert_with(|| Arc::new(make()))
        .clone()
}

fn endpoint_gate(endpoint: &str) -> Arc<Semaphore> {
    static GATES: Registry<Semaphore> = OnceLock::new();
    registered(&GATES, endpoint, || Semaphore::new(HANDSHAKES_PER_ENDPOINT))
}

/// Serializes questions to the terminal across concurrently connecting targets.
fn prompt_lock() -> &'static tokio::sync::Mutex<()> {
    static LOCK: OnceLock<tokio::sync::Mutex<()>> = OnceLock::new();
    LOCK.get_or_init(|| tokio::sync::Mutex::new(()))
}

fn addr_label(hc: &HostConfig) -> String {
    known_hosts::host_entry_name(&hc.hostname, hc.port)
        .replace("[", "")
        .replace("]", "")
}

impl Session {
    /// Resolve, connect through any ProxyJump hops, verify and authenticate.
    pub(crate) async fn connect(
        dest: &Destination,
        opts: &SshOptions,
        prompter: Arc<dyn Prompter>,
    ) -> Result<Session, SshError> {
        let target = config::resolve(dest, opts, true).await?;
        let mut hops = Vec::new();
        for hop in &target.proxy_jump {
            hops.push(config::resolve(hop, opts, false).await?);
        }
        let mut jumps: Vec<Arc<Hop>> = Vec::new();
        let mut jump_turns = 0;
        let mut chain = String::new();
        for hop in &hops {
            chain.push_str(&format!("{hop:?}\n"));
            let (shared, turns_waited) = shared_hop(&chain, hop, jumps.last(), &prompter).await?;
            // (and one for the channel it opens to the next hop)
            jump_turns += turns_waited + 1;
            jumps.push(shared);
        }
        let via = jumps.last().map(|j| &**j);
        let (handle, proxy, turns) = connect_hop(&target, via, &prompter).await?;
        Ok(Session {
            handle,
            jumps,
            addr: addr_label(&target),
            env: target.env.clone(),
            _proxy: proxy,
            turns,
            jump_turns,
            prompter,
        })
    }

    /// Resolves when the connection is gone (reset, closed, keepalives unanswered):
    /// every wait on the connection races it, so a lost transport ends them all.
    async fn closed(&self) {
        while !self.handle.is_closed() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn lost(&self, detail: impl Into<String>) -> SshError {
        SshError::Disconnected {
            addr: self.addr.clone(),
            detail: detail.into(),
        }
    }

    /// `fut`, unless the connection goes first.
    async fn unless_closed<T>(
        &self,
        fut: impl std::future::Future<Output = Result<T, russh::Error>>,
    ) -> Result<T, SshError> {
        tokio::select! {
            r = fut => r.map_err(|e| self.lost(e.to_string())),
            _ = self.closed() => Err(self.lost("the connection closed")),
        }
    }

    /// Run `command` (a string for the remote login shell), feed it `stdin`, collect
    /// output. An error means the command did not start; a connection lost after that
    /// is reported in [`ExecOutput::lost`], with what it printed until then.
    pub(crate) async fn exec(&self, command: &str, stdin: &[u8]) -> Result<ExecOutput, SshError> {
        let mut channel = self.start(command).await?;
        let mut out = ExecOutput {
            stdout: Vec::new(),
            stderr: Vec::new(),
            exit_status: None,
            delivered: false,
            lost: None,
        };
        let sent = async {
            if !stdin.is_empty() {
                self.unless_closed(channel.data(stdin)).await?;
            }
            self.unless_closed(channel.eof()).await
        };
        if let Err(e) = sent.await {
            out.lost = Some(e);
            return Ok(out);
        }
        out.delivered = true;
        loop {
            let msg = tokio::select! {
                m = channel.wait() => m,
                _ = self.closed() => {
                    out.lost = Some(self.lost("the connection closed"));
                    break;
                }
            };
            match msg {
                Some(russh::ChannelMsg::Data { data }) => out.stdout.extend_from_slice(&data),
                Some(russh::ChannelMsg::ExtendedData { data, .. }) => {
                    out.stderr.extend_from_slice(&data)
                }
                Some(russh::ChannelMsg::ExitStatus { exit_status }) => {
                    // (what follows, the channel's close, is not waited for)
                    self.turns.answered();
                    out.exit_status = Some(exit_status)
                }
                Some(_) => {}
                None => break,
            }
            if out.stdout.len() + out.stderr.len() > MAX_OUTPUT {
                out.lost = Some(SshError::Protocol {
                    addr: self.addr.clone(),
                    detail: format!("the command printed more than {} MiB", MAX_OUTPUT >> 20),
                });
                let _ = channel.close().await;
                break;
            }
        }
        if out.lost.is_none() && out.exit_status.is_none() && self.handle.is_closed() {
            out.lost = Some(self.lost("closed before the command finished"));
        }
        if out.exit_status.is_none() {
            self.turns.answered();
        }
        Ok(out)
    }

    /// Start `command` and return it running, for output as it comes.
    pub(crate) async fn spawn(&self, command: &str) -> Result<RemoteProcess, SshError> {
        let channel = self.start(command).await?;
        Ok(RemoteProcess { channel })
    }

    /// Start `command` on a terminal of type `term` and size `cols` x `rows` (as `ssh -t`).
    pub(crate) async fn spawn_with_pty(
        &self,
        command: &str,
        term: &str,
        cols: u32,
        rows: u32,
    ) -> Result<RemoteProcess, SshError> {
        let channel = self.start_on(command, Some((term, cols, rows))).await?;
        Ok(RemoteProcess { channel })
    }

    /// Resolves when the connection is gone.
    pub(crate) async fn gone(&self) {
        self.closed().await
    }

    /// Start `command` and use its stdin and stdout as one byte stream (stderr and the
    /// exit status are dropped), as `docker system dial-stdio` is used over ssh.
    pub(crate) async fn spawn_stream(&self, command: &str) -> Result<impl Stream, SshError> {
        let channel = self.start(command).await?;
        Ok(channel.into_stream())
    }

    /// A session channel running `command`, the config's environment asked for first
    /// (as ssh does; the server sets only what its AcceptEnv allows, and says nothing).
    async fn start(&self, command: &str) -> Result<russh::Channel<client::Msg>, SshError> {
        self.start_on(command, None).await
    }

    /// [`Session::start`], on a terminal (type, columns, rows) when one is given.
    async fn start_on(
        &self,
        command: &str,
        pty: Option<(&str, u32, u32)>,
    ) -> Result<russh::Channel<client::Msg>, SshError> {
        let channel = self
            .unless_closed(self.handle.channel_open_session())
            .await?;
        for (name, value) in &self.env {
            self.unless_closed(channel.set_env(false, name.as_str(), value.as_str()))
                .await?;
        }
        if let Some((term, cols, rows)) = pty {
            self.unless_closed(channel.request_pty(true, term, cols, rows, 0, 0, &[]))
                .await?;
        }
        self.unless_closed(channel.exec(true, command)).await?;
        Ok(channel)
    }

    /// A TCP connection from the server to `host:port` (as `ssh -L` makes).
    pub(crate) async fn direct_tcpip(
        &self,
        host: &str,
        port: u16,
    ) -> Result<impl Stream, SshError> {
        let opening =
            self.handle
                .channel_open_direct_tcpip(host.to_string(), port as u32, "127.0.0.1", 0);
        let opened = tokio::select! {
            r = opening => r,
            _ = self.closed() => return Err(self.lost("the connection closed")),
        };
        match opened {
            Ok(ch) => Ok(ch.into_stream()),
            Err(russh::Error::ChannelOpenFailure(
                russh::ChannelOpenFailure::AdministrativelyProhibited,
            )) => Err(SshError::ForwardingRefused {
                addr: self.addr.clone(),
            }),
            Err(russh::Error::ChannelOpenFailure(_)) => Err(SshError::RemotePortClosed {
                addr: self.addr.clone(),
                port,
            }),
            Err(e) => Err(SshError::Disconnected {
                addr: self.addr.clone(),
                detail: e.to_string(),
            }),
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    /// Say goodbye to the server (and the jump hosts); a connection that does not
    /// answer within a second is simply dropped.
    pub(crate) async fn close(self) {
        let own = self.turns.until_answered();
        self.prompter.trace(&match self.jumps.len() {
            0 => format!("ssh {}: {own} round trips", self.addr),
            n => format!(
                "ssh {addr}: {} round trips through {n} jump host{} ({own} on the connection to {addr} itself)",
                self.jump_turns + own,
                if n == 1 { "" } else { "s" },
                addr = self.addr,
            ),
        });
        let goodbye = async {
            let _ = self
                .handle
                .disconnect(russh::Disconnect::ByApplication, "", "en")
                .await;
            // A jump host's connection ends with its last target (another target
            // behind it may still be using it). Two closing at once may each see the
            // other: it then ends when the last of them drops it, without a goodbye.
            for j in self.jumps.iter().rev() {
                if Arc::strong_count(j) == 1 {
                    let _ = j
                        .handle
                        .disconnect(russh::Disconnect::ByApplication, "", "en")
                        .await;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), goodbye).await;
    }
}

/// A jump host's connection.
struct Hop {
    handle: Handle,
    /// Its address, as reports name it.
    addr: String,
    /// Its round trips when it was ready (its handshake and authentication).
    handshake_turns: u32,
    /// When it was ready: a target that asked for it before waited for its handshake.
    ready_at: std::time::Instant,
    _proxy: Option<proxy_command::Proxy>,
}

/// What became of the connection to a jump host, by the chain of hops that leads to it.
enum HopState {
    Untried,
    /// Made; alive while a target behind it holds it.
    Up(std::sync::Weak<Hop>),
    /// Could not be made: every target behind it fails with this, not trying again.
    Failed(SshError),
}

/// The connection to jump host `hc` at the end of `chain` (the hops up to it, as
/// resolved), through `via`: shared by the run's targets behind it while any of them
/// holds it, as `ssh -J` with a ControlMaster does, so a fleet behind a bastion costs the bastion
/// one handshake instead of one per target (which its MaxStartups would also queue,
/// HANDSHAKES_PER_ENDPOINT at a time). With the round trips this target waited for its
/// handshake: none if it was ready before it asked.
async fn shared_hop(
    chain: &str,
    hc: &HostConfig,
    via: Option<&Arc<Hop>>,
    prompter: &Arc<dyn Prompter>,
) -> Result<(Arc<Hop>, u32), SshError> {
    static SLOTS: Registry<tokio::sync::Mutex<HopState>> = OnceLock::new();
    let slot = registered(&SLOTS, chain, || tokio::sync::Mutex::new(HopState::Untried));
    let asked_at = std::time::Instant::now();
    let mut state = slot.lock().await;
    match &*state {
        HopState::Up(hop) => {
            if let Some(hop) = hop.upgrade().filter(|h| !h.handle.is_closed()) {
                let turns_waited = if hop.ready_at > asked_at {
                    hop.handshake_turns
                } else {
                    0
                };
                return Ok((hop, turns_waited));
            }
        }
        HopState::Failed(e) => return Err(e.clone()),
        HopState::Untried => {}
    }
    match connect_hop(hc, via.map(|h| &**h), prompter).await {
        Ok((handle, proxy, turns)) => {
            let hop = Arc::new(Hop {
                handle,
                addr: addr_label(hc),
                handshake_turns: turns.get(),
                ready_at: std::time::Instant::now(),
                _proxy: proxy,
            });
            *state = HopState::Up(Arc::downgrade(&hop));
            let turns = hop.handshake_turns;
            Ok((hop, turns))
        }
        Err(e) => {
            *state = HopState::Failed(e.clone());
            Err(e)
        }
    }
}

/// Why jump host `jump` opened no channel to `target` (`error`): it refused (the target
/// is not reachable from there, or it forwards nothing), or the connection to it was
/// lost meanwhile, which is not the jump host's answer and changed nothing anywhere.
fn jump_refused_or_lost(error: &russh::Error, jump: &Hop, target: &str) -> SshError {
    match error {
        russh::Error::ChannelOpenFailure(_) => SshError::JumpFailed {
            jump: jump.addr.clone(),
            target: target.to_string(),
        },
        _ => SshError::Disconnected {
            addr: jump.addr.clone(),
            detail: format!("lost before it opened a channel to {target}"),
        },
    }
}

/// One hop: TCP, the ProxyCommand's stdio (the first hop only, as ssh runs it) or a
/// channel through the previous hop; handshake, host key, auth. The ProxyCommand, if
/// one runs, comes back with the connection that depends on it.
async fn connect_hop(
    hc: &HostConfig,
    via: Option<&Hop>,
    prompter: &Arc<dyn Prompter>,
) -> Result<(Handle, Option<proxy_command::Proxy>, turns::Turns), SshError> {
    let addr = addr_label(hc);
    // As OpenSSH: a HostKeyAlias is looked up as it is, without the port.
    let kh_name = match &hc.host_key_alias {
        Some(alias) => alias.clone(),
        None => known_hosts::host_entry_name(&hc.hostname, hc.port),
    };
    let mut files = hc.user_known_hosts.clone();
    files.extend(hc.global_known_hosts.iter().cloned());
    let timeout = hc.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT);
    let mut strict = hc.strict;
    let gate = endpoint_gate(&addr);
    let mut attempt = 0;
    // A handshake the server dropped, kept so that a retry that cannot even connect
    // does not hide that the first attempt reached the server.
    let mut dropped: Option<SshError> = None;
    loop {
        attempt += 1;
        let permit = gate.clone().acquire_owned().await.ok();
        let verdict = Arc::new(Mutex::new(KeyVerdict::default()));
        let verifier = Verifier {
            name: kh_name.clone(),
            principal: hc
                .host_key_alias
                .clone()
                .unwrap_or_else(|| hc.hostname.clone()),
            files: files.clone(),
            learn_to: hc.user_known_hosts.first().cloned(),
            hash: hc.hash_known_hosts,
            strict,
            verdict: verdict.clone(),
        };
        let cfg = Arc::new(client_config(hc, &files, &kh_name)?);
        let mut proxy = None;
        let turns = turns::Turns::default();
        let proxied = match (&hc.proxy_command, via) {
            (Some(command), None) => {
                let command = proxy_command::expand(
                    command,
                    &proxy_command::Tokens {
                        host: &hc.hostname,
                        port: hc.port,
                        user: &hc.user,
                        original: &hc.original_host,
                    },
                )?;
                let (p, stream) = proxy_command::spawn(command)?;
                proxy = Some(p);
                Some(stream)
            }
            _ => None,
        };
        let connecting = async {
            match via {
                None if proxied.is_some() => {
                    let Some(stream) = proxied else {
                        return Err(SshError::Config("ProxyCommand: no stream".into()));
                    };
                    let stream = turns::Counted::new(stream, turns.clone());
                    client::connect_stream(cfg, stream, verifier)
                        .await
                        .map_err(|e| map_handshake_error(e, &addr))
                }
                None => {
                    let tcp = tcp_connect(hc, &addr, timeout).await?;
                    turns.add_one();
                    let stream =
                        turns::Counted::new(quickack::QuickAckStream::new(tcp), turns.clone());
                    client::connect_stream(cfg, stream, verifier)
                        .await
                        .map_err(|e| (e, true))
                        .map_err(|(e, _)| map_handshake_error(e, &addr))
                }
                Some(jump) => {
                    let ch = jump
                        .handle
                        .channel_open_direct_tcpip(
                            hc.hostname.clone(),
                            hc.port as u32,
                            "127.0.0.1",
                            0,
                        )
                        .await
                        .map_err(|e| jump_refused_or_lost(&e, jump, &addr))?;
                    let stream = turns::Counted::new(ch.into_stream(), turns.clone());
                    client::connect_stream(cfg, stream, verifier)
                        .await
                        .map_err(|e| map_handshake_error(e, &addr))
                }
            }
        };
        let result = match tokio::time::timeout(timeout, connecting).await {
            Ok(r) => r,
            Err(_) => Err(SshError::Timeout { addr: addr.clone() }),
        };
        // Through a ProxyCommand, a failure says how the command ended and what it said.
        let result = match (result, proxy.as_mut()) {
            (
                Err(
                    e @ (SshError::Disconnected { .. }
                    | SshError::Timeout { .. }
                    | SshError::Protocol { .. }),
                ),
                Some(p),
            ) => Err(p.failure(&addr, e).await),
            (result, _) => result,
        };
        let mut handle = match result {
            Ok(h) => h,
            Err(err) => {
                let seen = verdict
                    .lock()
                    .map(|mut v| (v.key.take(), v.status.take()))
                    .unwrap_or((None, None));
                match seen {
                    (Some(key), Some(status)) if status != HostKeyStatus::Known => {
                        let fp = known_hosts::fingerprint(&key);
                        match status {
                            HostKeyStatus::Changed { file, line } => {
                                return Err(SshError::HostKeyChanged {
                                    host: kh_name.clone(),
                                    fingerprint: fp,
                                    file: file.display().to_string(),
                                    line,
                                })
                            }
                            HostKeyStatus::Revoked { file, line } => {
                                return Err(SshError::HostKeyRevoked {
                                    host: kh_name.clone(),
                                    file: file.display().to_string(),
                                    line,
                                })
                            }
                            HostKeyStatus::CertificateInvalid { why } => {
                                return Err(SshError::HostCertificateInvalid {
                                    host: kh_name.clone(),
                                    why,
                                })
                            }
                            _ => {}
                        }
                        drop(permit);
                        if strict == StrictHostKeys::Ask && !hc.batch_mode && prompter.available() {
                            let _guard = prompt_lock().lock().await;
                            // Another target may have recorded it while we waited.
                            if known_hosts::check(&files, &kh_name, &key) == HostKeyStatus::Known {
                                continue;
                            }
                            let q = format!(
                                "The authenticity of host '{kh_name}' can't be established.\n{} key fingerprint is {fp}.\nThis key is not known by any other names.\nAre you sure you want to continue connecting",
                                key.algorithm()
                            );
                            let p = prompter.clone();
                            let yes = tokio::task::spawn_blocking(move || p.confirm(&q))
                                .await
                                .ok()
                                .flatten()
                                .unwrap_or(false);
                            if yes {
                                strict = StrictHostKeys::AcceptNew;
                                continue;
                            }
                            return Err(SshError::HostKeyUnknown {
                                host: kh_name.clone(),
                                fingerprint: fp,
                                why: "you declined the key",
                            });
                        }
                        let why = match strict {
                            StrictHostKeys::Yes => "StrictHostKeyChecking is yes",
                            StrictHostKeys::Ask if hc.batch_mode => {
                                "BatchMode is on, so nobody can confirm it"
                            }
                            StrictHostKeys::Ask => "there is no terminal to confirm it on",
                            _ => "it could not be recorded in known_hosts",
                        };
                        return Err(SshError::HostKeyUnknown {
                            host: kh_name.clone(),
                            fingerprint: fp,
                            why,
                        });
                    }
                    _ => {}
                }
                // (A ProxyCommand that died is not run again: it said why. Nor is a
                // jump host whose connection is gone: it cannot carry a new attempt.)
                let retryable = matches!(err, SshError::Disconnected { .. })
                    && via.is_none_or(|jump| !jump.handle.is_closed());
                if retryable && attempt < HANDSHAKE_ATTEMPTS {
                    drop(permit);
                    dropped = Some(err);
                    let backoff = 50u64 * (1 << attempt.min(5)) + jitter_ms();
                    tokio::time::sleep(Duration::from_millis(backoff)).await;
                    continue;
                }
                return Err(match (dropped, err) {
                    (Some(SshError::Disconnected { addr, detail }), again) if !retryable => {
                        SshError::Disconnected {
                            addr,
                            detail: format!("{detail} (a new attempt: {again})"),
                        }
                    }
                    (_, err) => err,
                });
            }
        };
        let auth = session_auth::authenticate(&mut handle, hc, prompter, &addr).await;
        drop(permit);
        auth?;
        return Ok((handle, proxy, turns));
    }
}

/// Spreads retries apart; without a random source they are merely less spread.
fn jitter_ms() -> u64 {
    crate::encoding::random_bytes(1).map_or(0, |b| u64::from(b[0]))
}

/// The client's settings for `hc`; a config whose algorithm lists leave none of ours
/// is refused here, naming the list, instead of a handshake that fails without a word.
fn client_config(
    hc: &HostConfig,
    files: &[PathBuf],
    kh_name: &str,
) -> Result<client::Config, SshError> {
    let mut preferred = russh::Preferred::default();
    // Ask for the key types already recorded for this host first, as OpenSSH does.
    let known = known_hosts::known_algorithms(files, kh_name);
    if !known.is_empty() {
        let mut order: Vec<russh::keys::Algorithm> = Vec::new();
        for k in &known {
            for a in preferred.key.iter() {
                let same_family = std::mem::discriminant(a) == std::mem::discriminant(k)
                    && (a.clone().is_rsa() || a == k);
                if same_family && !order.contains(a) {
                    order.push(a.clone());
                }
            }
        }
        for a in preferred.key.iter() {
            if !order.contains(a) {
                order.push(a.clone());
            }
        }
        preferred.key = order.into();
    }
    // Host certificates are asked for where a CA is known for the host, as ssh orders
    // its host key algorithms; a certificate then proves the host instead of its key.
    if known_hosts::has_authorities(files, kh_name) {
        use russh::keys::{Algorithm, EcdsaCurve, HashAlg};
        preferred.host_key_certificates = vec![
            Algorithm::Ed25519,
            Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP256,
            },
            Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP384,
            },
            Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP521,
            },
            Algorithm::Rsa {
                hash: Some(HashAlg::Sha512),
            },
            Algorithm::Rsa {
                hash: Some(HashAlg::Sha256),
            },
        ]
        .into();
    }
    if let Some(list) = narrow(&mut preferred, &hc.algorithms) {
        return Err(SshError::Config(format!(
            "none of the {list} the ssh config allows for {} is one codex-auth speaks",
            hc.hostname
        )));
    }
    Ok(client::Config {
        preferred,
        nodelay: true,
        inactivity_timeout: None,
        keepalive_interval: Some(hc.server_alive_interval),
        keepalive_max: hc.server_alive_count_max,
        // The first userauth request goes out with the service request (one round trip
        // fewer; a server that refused the service would disconnect before reading it).
        pipeline_userauth: true,
        ..Default::default()
    })
}

/// Keep the algorithms of `preferred` that the config's lists allow, in our order (the
/// server's and ours decide, as with ssh); the protocol's extension names stay. The
/// name of a list that leaves nothing to negotiate, if one does.
fn narrow(preferred: &mut russh::Preferred, lists: &config::Algorithms) -> Option<&'static str> {
    fn allowed(list: &Option<Vec<String>>, name: &str) -> bool {
        list.as_ref().is_none_or(|l| l.iter().any(|a| a == name))
    }
    fn keep<T: Clone>(list: &[T], keep: impl Fn(&T) -> bool) -> std::borrow::Cow<'static, [T]> {
        list.iter()
            .filter(|a| keep(a))
            .cloned()
            .collect::<Vec<_>>()
            .into()
    }
    let extension = |n: &str| n.starts_with("ext-info-") || n.starts_with("kex-strict-");
    preferred.kex = keep(&preferred.kex, |k| {
        extension(k.as_ref()) || allowed(&lists.kex, k.as_ref())
    });
    preferred.cipher = keep(&preferred.cipher, |c| allowed(&lists.ciphers, c.as_ref()));
    preferred.mac = keep(&preferred.mac, |m| allowed(&lists.macs, m.as_ref()));
    preferred.key = keep(&preferred.key, |k| allowed(&lists.host_keys, k.as_str()));
    preferred.host_key_certificates = keep(&preferred.host_key_certificates, |k| {
        allowed(&lists.host_keys, &k.to_certificate_type())
    });
    let only_extensions = preferred.kex.iter().all(|k| extension(k.as_ref()));
    [
        ("KexAlgorithms", only_extensions),
        ("Ciphers", preferred.cipher.is_empty()),
        ("MACs", preferred.mac.is_empty()),
        (
            "HostKeyAlgorithms",
            preferred.key.is_empty() && preferred.host_key_certificates.is_empty(),
        ),
    ]
    .into_iter()
    .find_map(|(list, empty)| empty.then_some(list))
}

async fn tcp_connect(
    hc: &HostConfig,
    addr: &str,
    timeout: Duration,
) -> Result<tokio::net::TcpStream, SshError> {
    let addrs: Vec<std::net::SocketAddr> =
        match tokio::net::lookup_host((hc.hostname.as_str(), hc.port)).await {
            Ok(a) => a
                .filter(|a| match hc.address_family {
                    AddressFamily::Any => true,
                    AddressFamily::Inet => a.is_ipv4(),
                    AddressFamily::Inet6 => a.is_ipv6(),
                })
                .collect(),
            Err(_) => {
                return Err(SshError::Resolve {
                    host: hc.hostname.clone(),
                })
            }
        };
    if addrs.is_empty() {
        return Err(SshError::Resolve {
            host: hc.hostname.clone(),
        });
    }
    let mut last = SshError::Unreachable {
        addr: addr.to_string(),
        detail: "no address".into(),
    };
    for a in addrs {
        match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(a)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);

                return Ok(s);
            }
            Ok(Err(e)) => {
                last = match e.kind() {
                    std::io::ErrorKind::ConnectionRefused => SshError::Refused {
                        addr: addr.to_string(),
                    },
                    std::io::ErrorKind::TimedOut => SshError::Timeout {
                        addr: addr.to_string(),
                    },
                    _ => SshError::Unreachable {
                        addr: addr.to_string(),
                        detail: e.to_string(),
                    },
                }
            }
            Err(_) => {
                last = SshError::Timeout {
                    addr: addr.to_string(),
                }
            }
        }
    }
    Err(last)
}

fn map_handshake_error(e: russh::Error, addr: &str) -> SshError {
    match e {
        russh::Error::IO(_)
        | russh::Error::Disconnect
        | russh::Error::HUP
        | russh::Error::Version
        | russh::Error::RecvError
        | russh::Error::SendError => SshError::Disconnected {
            addr: addr.to_string(),
            detail: "closed while connecting".into(),
        },
        other => SshError::Protocol {
            addr: addr.to_string(),
            detail: other.to_string(),
        },
    }
}
