//! SSH hosts as targets: the `--ssh` flags and the connection options (`-F`, `-o`, `-i`,
//! shared with `login --forward`), the [`Target`] implementation, which runs every
//! script through the user's login shell as `sh -c '…'` on one connection, and the
//! forwarded login ([`forward`]), which only ssh hosts have.

mod forward;

pub(crate) use forward::{ForwardError, ForwardReport, ForwardUi, HostLogin};

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use futures_util::future::BoxFuture;

use super::process::signal_status;
use super::script::{self, Invocation, RunOutput, Shell};
use super::{
    ConnectContext, ErrorClass, Event, InspectReport, InspectRequest, InstallReport,
    InstallRequest, Process, RemoveReport, RemoveRequest, Spawn, Target, TargetError, TargetKind,
};
use crate::error::AppError;
use crate::ssh::{Destination, ProcessEvent, Session, SshOptions};

/// How to reach SSH hosts, as `ssh` takes it.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct SshConnectArgs {
    /// ssh config file, as `ssh -F`.
    ///
    /// Read instead of ~/.ssh/config, resolved as ssh resolves it (Include, Match,
    /// ProxyJump, IdentityFile, ...): through `ssh -G` when OpenSSH's ssh is installed,
    /// else a built-in parser without Match.
    #[arg(short = 'F', value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// ssh option, as `ssh -o` (repeatable).
    ///
    /// Applied to every host, before the config file's settings, as ssh does.
    /// Example: -o Port=2222 -o StrictHostKeyChecking=accept-new
    #[arg(short = 'o', value_name = "KEY=VALUE")]
    pub options: Vec<String>,
    /// Identity file, as `ssh -i`.
    ///
    /// Tried before the agent's keys and the config's IdentityFile; a passphrase is
    /// asked on the terminal (never read from elsewhere).
    #[arg(short = 'i', value_name = "FILE")]
    pub identity: Option<PathBuf>,
}

impl SshConnectArgs {
    /// Whether any of these flags was given.
    pub(crate) fn given(&self) -> Option<&'static str> {
        if self.config_file.is_some() {
            Some("-F")
        } else if !self.options.is_empty() {
            Some("-o")
        } else if self.identity.is_some() {
            Some("-i")
        } else {
            None
        }
    }

    pub(crate) fn options(self) -> Result<SshOptions, AppError> {
        for o in &self.options {
            if !o.contains('=') && !o.trim().contains(' ') {
                return Err(AppError::usage(
                    format!("bad -o option {o:?}"),
                    Some("use -o Key=Value, as with ssh"),
                ));
            }
        }
        Ok(SshOptions {
            config_file: self.config_file,
            options: self.options,
            identity: self.identity,
        })
    }
}

/// The SSH targets of a command.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct SshTargetArgs {
    /// SSH destination: `alias`, `user@host`, `host:port`, `[v6]:port`, `ssh://user@host:port`
    /// (repeatable).
    ///
    /// As `ssh` takes it, plus host:port. `@FILE` reads one destination per line from
    /// FILE (`#` starts a comment; `@-` is stdin), when the run starts. Each host gets one
    /// connection, through its config's ProxyJump hops, its host key checked against
    /// known_hosts.
    /// Example: --ssh devbox --ssh alice@10.0.0.5:2222 --ssh @hosts.txt
    #[arg(long = "ssh", value_name = "DEST")]
    pub ssh: Vec<String>,
    /// Hosts of an Ansible inventory (read with ansible-inventory; ansible_host,
    /// ansible_user, ansible_port, ansible_ssh_private_key_file honoured).
    ///
    /// Ansible's own `ansible-inventory -i FILE --list` reads it (any format it reads:
    /// INI, YAML, scripts), when the run starts; it must be on PATH. Each host keeps its
    /// inventory name in reports and the ledger.
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
    /// Only the inventory hosts matching this Ansible pattern (as ansible --limit).
    #[arg(long, value_name = "PATTERN", requires = "inventory")]
    pub limit: Option<String>,
    #[command(flatten)]
    pub connect: SshConnectArgs,
}

impl SshTargetArgs {
    /// Every ssh target named: `--ssh` values (with `@FILE` lists read), then the
    /// inventory's hosts (Ansible run).
    fn read(&self) -> Result<Vec<Destination>, AppError> {
        let mut specs: Vec<Destination> = super::fleet::expand(&self.ssh, "--ssh")?
            .iter()
            .map(|raw| destination(raw))
            .collect::<Result<_, _>>()?;
        if let Some(file) = &self.inventory {
            specs.extend(super::fleet::inventory(file, self.limit.as_deref())?);
        }
        Ok(specs)
    }
}

/// A destination as the user typed it, or the usage error that explains the forms.
pub(crate) fn destination(raw: &str) -> Result<Destination, AppError> {
    Destination::parse(raw).map_err(|e| {
        AppError::usage(
            e.to_string(),
            Some("use alias, user@host, host:port or ssh://user@host:port"),
        )
    })
}

struct SshTarget {
    session: Arc<Session>,
}

/// SSH hosts, as a kind of target.
pub(crate) struct SshKind;

impl TargetKind for SshKind {
    const NAME: &'static str = "ssh";
    const EXAMPLE: &'static str = "--ssh user@host";
    const ADDRESS: &'static str = "DEST";
    type Spec = Destination;
    type Args = SshTargetArgs;
    type Context = SshOptions;

    fn named(args: &SshTargetArgs) -> Result<Vec<Destination>, AppError> {
        super::fleet::named(&args.ssh).map(destination).collect()
    }

    fn stdin_reader(args: &SshTargetArgs) -> Option<String> {
        super::fleet::stdin_reader(&args.ssh, "--ssh")
    }

    fn find<'a>(
        args: &'a SshTargetArgs,
        _context: &'a SshOptions,
        _ctx: &'a ConnectContext,
    ) -> BoxFuture<'a, Result<Vec<Destination>, AppError>> {
        Box::pin(async move { args.read() })
    }

    fn context(args: &SshTargetArgs) -> Result<SshOptions, AppError> {
        args.connect.clone().options()
    }

    fn naming_flag(args: &SshTargetArgs) -> Option<&'static str> {
        if !args.ssh.is_empty() {
            Some("--ssh")
        } else if args.inventory.is_some() {
            Some("--inventory")
        } else {
            None
        }
    }

    fn option_flag(args: &SshTargetArgs) -> Option<&'static str> {
        args.connect.given()
    }

    fn label(dest: &Destination) -> String {
        dest.name.clone().unwrap_or_else(|| dest.to_string())
    }

    /// An ssh destination stands alone in tables and the ledger.
    fn display(dest: &Destination) -> String {
        Self::label(dest)
    }

    fn address(dest: &Destination) -> String {
        dest.to_string()
    }

    fn parse(rest: &str) -> Result<Destination, AppError> {
        destination(rest)
    }

    fn identity(dest: &Destination) -> Option<String> {
        dest.identity.as_ref().map(|p| p.display().to_string())
    }

    fn remembered(dest: &mut Destination, place: &str, identity: Option<&str>) {
        dest.identity = identity.map(PathBuf::from);
        if place != dest.to_string() {
            dest.name = Some(place.to_string());
        }
    }

    fn connect<'a>(
        dest: &'a Destination,
        ctx: &'a ConnectContext,
    ) -> BoxFuture<'a, Result<Box<dyn Target>, TargetError>> {
        Box::pin(async move {
            let session = Session::connect(dest, &ctx.kinds.ssh, ctx.prompter.clone()).await?;
            Ok(Box::new(SshTarget {
                session: Arc::new(session),
            }) as Box<dyn Target>)
        })
    }
}

impl Shell for SshTarget {
    fn run<'a>(
        &'a self,
        invocation: &'a Invocation,
    ) -> BoxFuture<'a, Result<RunOutput, TargetError>> {
        Box::pin(async move {
            // (a request that can travel in the command saves the wait for the
            // channel's window: one round trip)
            let out = match invocation.command_carrying_request()? {
                Some(command) => self.session.exec(&command, &[]).await?,
                None => {
                    self.session
                        .exec(&invocation.command()?, invocation.stdin())
                        .await?
                }
            };
            Ok(RunOutput {
                stdout: out.stdout,
                stderr: out.stderr,
                exit_status: out.exit_status,
                delivered: out.delivered,
                lost: out.lost.map(TargetError::from),
            })
        })
    }
}

/// A command on the host, on a channel of the target's connection.
struct SshProcess {
    session: Arc<Session>,
    process: crate::ssh::RemoteProcess,
    /// The connection is gone or the channel closed: nothing more will come.
    over: bool,
}

impl Process for SshProcess {
    fn next(&mut self) -> BoxFuture<'_, Event> {
        Box::pin(async move {
            if self.over {
                return Event::Closed;
            }
            let event = tokio::select! {
                e = self.process.next() => e,
                _ = self.session.gone() => ProcessEvent::Closed,
            };
            match event {
                ProcessEvent::Stdout(b) => Event::Stdout(b),
                ProcessEvent::Stderr(b) => Event::Stderr(b),
                ProcessEvent::Exit(code) => Event::Exit(code as i32),
                ProcessEvent::Signal(name) => Event::Exit(signal_status(&name)),
                ProcessEvent::Closed => {
                    self.over = true;
                    Event::Closed
                }
            }
        })
    }

    fn write<'a>(&'a mut self, data: &'a [u8]) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(async move {
            tokio::select! {
                r = self.process.write_stdin(data) => r.map_err(TargetError::from),
                _ = self.session.gone() => Err(TargetError::new(
                    ErrorClass::Disconnected,
                    "the connection was lost",
                    None,
                )),
            }
        })
    }

    fn close_stdin(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            tokio::select! {
                _ = self.process.close_stdin() => {}
                _ = self.session.gone() => {}
            }
        })
    }

    fn resize(&mut self, cols: u16, rows: u16) -> BoxFuture<'_, ()> {
        Box::pin(self.process.resize(cols.into(), rows.into()))
    }
}

/// Every step runs the script through the login shell, on the one connection.
impl Target for SshTarget {
    fn spawn<'a>(
        &'a self,
        spawn: &'a Spawn<'a>,
    ) -> BoxFuture<'a, Result<Box<dyn Process>, TargetError>> {
        Box::pin(async move {
            let command = script::command_line(spawn.line, spawn.args);
            let process = match &spawn.tty {
                Some(t) => {
                    self.session
                        .spawn_with_pty(&command, &t.term, t.cols.into(), t.rows.into())
                        .await?
                }
                None => self.session.spawn(&command).await?,
            };
            Ok(Box::new(SshProcess {
                session: self.session.clone(),
                process,
                over: false,
            }) as Box<dyn Process>)
        })
    }

    fn install<'a>(
        &'a self,
        req: &'a InstallRequest<'_>,
    ) -> BoxFuture<'a, Result<InstallReport, TargetError>> {
        Box::pin(script::install(self, req))
    }

    fn inspect<'a>(
        &'a self,
        req: &'a InspectRequest<'_>,
    ) -> BoxFuture<'a, Result<InspectReport, TargetError>> {
        Box::pin(script::inspect(self, req))
    }

    fn remove<'a>(
        &'a self,
        req: &'a RemoveRequest<'_>,
    ) -> BoxFuture<'a, Result<RemoveReport, TargetError>> {
        Box::pin(script::remove(self, req))
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            if let Ok(session) = Arc::try_unwrap(self.session) {
                session.close().await;
            }
        })
    }
}
