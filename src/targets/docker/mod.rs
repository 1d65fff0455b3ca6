//! Containers as targets: the `--docker` flags, the engine connection every container
//! target of a run shares, and the container's [`Target`]: a running container with a
//! shell gets the script through docker exec (the fast, common path: the [`Shell`] here);
//! a stopped or shell-less one the archive API ([`archive`]).

mod archive;
mod over_ssh;

use std::sync::Arc;

use clap::Args;
use futures_util::future::BoxFuture;

use super::install::{InstallReport, InstallRequest};
use super::script::{self, HomeFrom, Invocation, RunOutput, Shell};
use super::{
    ConnectContext, ErrorClass, Event, InspectReport, InspectRequest, Process, RemoveReport,
    RemoveRequest, Spawn, Target, TargetError, TargetKind,
};
use crate::docker::{Container, ContainerState, DockerError, Endpoint, Engine};
use crate::error::AppError;

/// The container targets of a command.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct DockerTargetArgs {
    /// Docker container name or id (repeatable); the engine is found as the docker CLI
    /// finds it.
    ///
    /// $DOCKER_HOST (unix://, tcp://, ssh://user@host), else the current docker
    /// context, else the default socket; podman's Docker-compatible socket works too.
    /// tcp:// speaks TLS as the docker CLI does: DOCKER_TLS_VERIFY with ca.pem, cert.pem
    /// and key.pem from DOCKER_CERT_PATH (else $DOCKER_CONFIG, else ~/.docker), or a
    /// context's TLS material; the engine's certificate is checked against that CA only.
    /// A
    /// running container with a shell is written through docker exec; a stopped or
    /// shell-less one through the archive API (no locks there). `@FILE` reads one name per
    /// line.
    /// Example: --docker devcontainer --docker api-1
    #[arg(long = "docker", value_name = "CONTAINER")]
    pub docker: Vec<String>,
    /// Whose home inside containers (default: the container's configured user, else
    /// root).
    ///
    /// A user name or `uid[:gid]` of the image, as `docker exec --user` takes it; the home
    /// comes from the container's /etc/passwd, never from a HOME the image sets.
    #[arg(long, value_name = "USER")]
    pub docker_user: Option<String>,
    /// Every container matching, as docker ps --filter (repeatable):
    /// label=com.docker.compose.project=web, name=api, status=running.
    ///
    /// The engine is asked once, when the run starts; no match is exit 2. Several
    /// values of one key match any; several keys must all match.
    #[arg(long, value_name = "KEY=VALUE")]
    pub docker_filter: Vec<String>,
    /// Allow a plain-TCP engine on another machine: the login crosses the network
    /// unencrypted.
    ///
    /// Without it, a tcp:// DOCKER_HOST or context without TLS material is refused
    /// (exit 2) unless it is this machine's loopback (localhost, 127.0.0.0/8, ::1). TLS
    /// that does not check the engine's certificate (DOCKER_TLS without
    /// DOCKER_TLS_VERIFY, a context with SkipTLSVerify) is refused either way.
    #[arg(long)]
    pub docker_plaintext: bool,
}

/// A container name or id as `docker ps` shows it.
fn container_name(name: &str) -> Result<String, AppError> {
    let valid = !name.is_empty()
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if valid {
        Ok(name.to_string())
    } else {
        Err(AppError::usage(
            format!("bad container name {name:?}"),
            Some("give a container name or id as `docker ps` shows it"),
        ))
    }
}

/// Containers, as a kind of target.
pub(crate) struct DockerKind;

impl TargetKind for DockerKind {
    const NAME: &'static str = "docker";
    const EXAMPLE: &'static str = "--docker CONTAINER";
    const ADDRESS: &'static str = "CONTAINER";
    /// A container name or id.
    type Spec = String;
    type Args = DockerTargetArgs;
    type Context = DockerContext;

    fn named(args: &DockerTargetArgs) -> Result<Vec<String>, AppError> {
        super::fleet::named(&args.docker)
            .map(container_name)
            .collect()
    }

    fn stdin_reader(args: &DockerTargetArgs) -> Option<String> {
        super::fleet::stdin_reader(&args.docker, "--docker")
    }

    fn context(args: &DockerTargetArgs) -> Result<DockerContext, AppError> {
        args.context()
    }

    fn naming_flag(args: &DockerTargetArgs) -> Option<&'static str> {
        if !args.docker.is_empty() {
            Some("--docker")
        } else if !args.docker_filter.is_empty() {
            Some("--docker-filter")
        } else {
            None
        }
    }

    fn option_flag(args: &DockerTargetArgs) -> Option<&'static str> {
        if args.docker_user.is_some() {
            Some("--docker-user")
        } else {
            args.docker_plaintext.then_some("--docker-plaintext")
        }
    }

    /// The containers named (lists read), then those the filters match (the engine
    /// asked, once).
    fn find<'a>(
        args: &'a DockerTargetArgs,
        context: &'a DockerContext,
        ctx: &'a ConnectContext,
    ) -> BoxFuture<'a, Result<Vec<String>, AppError>> {
        Box::pin(async move {
            let mut names: Vec<String> = super::fleet::expand(&args.docker, "--docker")?
                .iter()
                .map(|name| container_name(name))
                .collect::<Result<_, _>>()?;
            if !context.filters.is_empty() {
                for name in matching(&context.filters, ctx).await? {
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
            }
            Ok(names)
        })
    }

    fn label(name: &String) -> String {
        name.clone()
    }

    fn address(name: &String) -> String {
        name.clone()
    }

    fn parse(rest: &str) -> Result<String, AppError> {
        container_name(rest)
    }

    fn connect<'a>(
        name: &'a String,
        ctx: &'a ConnectContext,
    ) -> BoxFuture<'a, Result<Box<dyn Target>, TargetError>> {
        Box::pin(connect(name, ctx))
    }
}

impl DockerTargetArgs {
    fn context(&self) -> Result<DockerContext, AppError> {
        if let Some(u) = &self.docker_user {
            if u.is_empty() || u.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(AppError::usage(
                    format!("bad --docker-user {u:?}"),
                    Some("use a user name or uid[:gid] of the image"),
                ));
            }
            if self.docker.is_empty() && self.docker_filter.is_empty() {
                return Err(AppError::usage(
                    "--docker-user only applies to --docker targets",
                    Some("name a container with --docker, or drop --docker-user"),
                ));
            }
        }
        // The engine's address and TLS are bad input when containers are named (a
        // source alone, `--from docker:C`, finds out when it connects).
        let endpoint = if self.docker.is_empty() && self.docker_filter.is_empty() {
            None
        } else {
            let endpoint = Endpoint::resolve(self.docker_plaintext).map_err(|e| {
                let e = TargetError::from(e);
                AppError::usage(e.message, e.hint.as_deref())
            })?;
            Some(endpoint)
        };
        Ok(DockerContext {
            user: self.docker_user.clone(),
            filters: super::fleet::filters(&self.docker_filter)?,
            plaintext: self.docker_plaintext,
            endpoint,
            engine: Arc::new(tokio::sync::OnceCell::new()),
        })
    }
}

/// What every container target of a run shares: `--docker-user`, the
/// `--docker-filter`s (their containers join the run when it starts), and one engine
/// connection, made when the first container target needs it.
#[derive(Clone, Default)]
pub(crate) struct DockerContext {
    user: Option<String>,
    filters: Vec<(String, String)>,
    /// `--docker-plaintext`.
    plaintext: bool,
    /// Where the engine is and how to speak to it, when resolved with the flags.
    endpoint: Option<Endpoint>,
    engine: Arc<tokio::sync::OnceCell<Result<Engine, TargetError>>>,
}

impl DockerContext {
    async fn engine(&self, ctx: &ConnectContext) -> Result<Engine, TargetError> {
        self.engine
            .get_or_init(|| async {
                let endpoint = match &self.endpoint {
                    Some(e) => e.clone(),
                    None => Endpoint::resolve(self.plaintext)?,
                };
                if endpoint.host.starts_with("ssh://") {
                    return over_ssh::connect(&endpoint.host, &ctx.kinds.ssh, ctx.prompter.clone())
                        .await;
                }
                Engine::connect(&endpoint).await.map_err(TargetError::from)
            })
            .await
            .clone()
    }
}

/// The containers matching `--docker-filter`s, as targets; none is a usage error.
async fn matching(
    filters: &[(String, String)],
    ctx: &ConnectContext,
) -> Result<Vec<String>, AppError> {
    let shown: Vec<String> = filters.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let engine = ctx.kinds.docker.engine(ctx).await.map_err(|e| {
        AppError::failed(
            format!("--docker-filter {}: {}", shown.join(" "), e.message),
            e.hint,
        )
    })?;
    let names = engine.matching(filters).await.map_err(|e| {
        let e = TargetError::from(e);
        AppError::failed(format!("--docker-filter: {}", e.message), e.hint)
    })?;
    if names.is_empty() {
        return Err(AppError::usage(
            format!("no container matches --docker-filter {}", shown.join(" ")),
            Some("check with `docker ps -a --filter KEY=VALUE`"),
        ));
    }
    Ok(names)
}

async fn connect(name: &str, ctx: &ConnectContext) -> Result<Box<dyn Target>, TargetError> {
    let docker = &ctx.kinds.docker;
    let mut engine = docker.engine(ctx).await?;
    let container = engine.container(name).await?;
    Ok(Box::new(DockerTarget {
        engine,
        container,
        user: docker.user.clone(),
    }))
}

struct DockerTarget {
    engine: Engine,
    container: Container,
    /// `--docker-user`; `None` means the container's configured user.
    user: Option<String>,
}

impl From<DockerError> for TargetError {
    fn from(e: DockerError) -> Self {
        let message = e.to_string();
        match e {
            DockerError::Unreachable { .. } | DockerError::Transport(_) => TargetError::new(
                ErrorClass::DockerUnreachable,
                message,
                Some("is the Docker engine running? check DOCKER_HOST or `docker context ls`"),
            ),
            DockerError::TlsMaterial { ref context, .. } => {
                let hint = match context {
                    Some(name) => format!("`docker context inspect {name}` shows its TLS material; give it ca.pem (and cert.pem with key.pem) with `docker context update {name} --docker ca=...,cert=...,key=...`"),
                    None => "put the engine's CA as ca.pem, and a client certificate as cert.pem with key.pem, in DOCKER_CERT_PATH (else $DOCKER_CONFIG, else ~/.docker), as for the docker CLI".into(),
                };
                TargetError {
                    class: ErrorClass::Config,
                    message,
                    hint: Some(hint),
                }
            }
            DockerError::Unverified { .. } => TargetError::new(
                ErrorClass::Config,
                message,
                Some("set DOCKER_TLS_VERIFY=1 with the engine's CA as ca.pem in DOCKER_CERT_PATH (or a context with ca=): a login goes only to an engine whose certificate was checked"),
            ),
            DockerError::Plaintext { .. } => TargetError::new(
                ErrorClass::Config,
                message,
                Some("set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem) as for the docker CLI, or pass --docker-plaintext to send it unencrypted anyway"),
            ),
            DockerError::TlsExpected { .. } => TargetError::new(
                ErrorClass::Config,
                message,
                Some("set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem) as for the docker CLI; nothing of the login was sent"),
            ),
            DockerError::Tls { .. } => TargetError::new(
                ErrorClass::DockerUnreachable,
                message,
                Some("ca.pem must be the CA that signed the engine's certificate (for the address in DOCKER_HOST), and cert.pem/key.pem a client certificate the engine accepts; `docker version` with the same settings tells"),
            ),
            DockerError::UnsupportedHost { .. } => TargetError::new(
                ErrorClass::Config,
                message,
                Some("use a unix:// or tcp:// DOCKER_HOST (for an engine on another host, push over --ssh to that host)"),
            ),
            DockerError::NoSuchContainer { similar, .. } => {
                let hint = if similar.is_empty() {
                    "`docker ps -a` lists the containers".to_string()
                } else {
                    format!("did you mean {}?", similar.join(", "))
                };
                TargetError {
                    class: ErrorClass::NoContainer,
                    message,
                    hint: Some(hint),
                }
            }
            DockerError::NoSuchUser { .. } => TargetError::new(
                ErrorClass::NoUser,
                message,
                Some("pass --docker-user with a user of the image, or --codex-home"),
            ),
            DockerError::Api { message: ref m, .. } => {
                let lower = m.to_ascii_lowercase();
                if lower.contains("read-only") {
                    TargetError::new(
                        ErrorClass::ReadOnly,
                        message,
                        Some("the container's file system is read-only there; pass --codex-home on a writable volume"),
                    )
                } else if lower.contains("unable to find user") || lower.contains("no matching entries in passwd") {
                    TargetError::new(
                        ErrorClass::NoUser,
                        message,
                        Some("pass --docker-user with a user of the image"),
                    )
                } else {
                    TargetError::new(ErrorClass::DockerApi, message, None)
                }
            }
        }
    }
}

impl DockerTarget {
    /// The container's state once it settles: a killed container still reads as running
    /// for a moment after its processes are gone, so a running one is asked again for up
    /// to two seconds.
    async fn settled_state(&self) -> Result<ContainerState, DockerError> {
        let mut state = self.engine.state(&self.container).await?;
        for _ in 0..20 {
            if state != ContainerState::Running {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            state = self.engine.state(&self.container).await?;
        }
        Ok(state)
    }
}

impl Shell for DockerTarget {
    fn run<'a>(
        &'a self,
        invocation: &'a Invocation,
    ) -> BoxFuture<'a, Result<RunOutput, TargetError>> {
        Box::pin(async move {
            let cmd = vec![
                "sh".to_string(),
                "-c".to_string(),
                invocation.line()?.to_string(),
            ];
            let out = self
                .engine
                .exec(
                    &self.container,
                    cmd,
                    self.user.as_deref(),
                    invocation.stdin(),
                )
                .await?;
            let mut lost = out.lost.map(TargetError::from);
            // A report cut short with the engine still there: the container went away.
            if lost.is_none() && !invocation.finished(&out.stdout) {
                let name = &self.container.name;
                lost = match self.settled_state().await {
                    Ok(ContainerState::Gone) => Some(TargetError::new(
                        ErrorClass::ContainerGone,
                        format!("container {name} was removed during the push"),
                        Some("push again to a container that runs"),
                    )),
                    Ok(ContainerState::Stopped) => Some(TargetError::new(
                        ErrorClass::ContainerGone,
                        format!("container {name} stopped during the push"),
                        Some("start it and push again"),
                    )),
                    Ok(ContainerState::Restarted) => Some(TargetError::new(
                        ErrorClass::ContainerGone,
                        format!("container {name} restarted during the push"),
                        Some("push again"),
                    )),
                    Ok(ContainerState::Running) => None,
                    // The stream ended early and the engine is gone with it (a restart).
                    Err(DockerError::Unreachable { detail, .. } | DockerError::Transport(detail)) => {
                        Some(
                            DockerError::Transport(format!(
                                "the command's output ended early and the engine no longer answers ({detail})"
                            ))
                            .into(),
                        )
                    }
                    Err(e) => Some(e.into()),
                };
            }
            // The scripts always report; only when they did not is the exit code worth a
            // round trip (a missing shell, or a user the image does not have).
            // The exit code also tells how a script that stopped short ended (137: killed).
            let spoke = invocation.reported(&out.stdout);
            let exit_code = if lost.is_some() || (spoke && invocation.finished(&out.stdout)) {
                None
            } else {
                self.engine.exit_code(&out.exec_id).await?
            };
            if !spoke && lost.is_none() && matches!(exit_code, Some(126) | Some(127)) {
                let all = format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                if all.contains("unable to find user")
                    || all.contains("no matching entries in passwd")
                {
                    return Err(TargetError::new(
                        ErrorClass::NoUser,
                        format!(
                            "user {:?} does not exist in container {}",
                            self.user.as_deref().unwrap_or(&self.container.user),
                            self.container.name
                        ),
                        Some("pass --docker-user with a user of the image"),
                    ));
                }
                return Err(TargetError::new(
                    ErrorClass::NoShell,
                    "no sh in the container",
                    None,
                ));
            }
            Ok(RunOutput {
                stdout: out.stdout,
                stderr: out.stderr,
                exit_status: exit_code.map(|c| c as u32),
                delivered: out.delivered,
                lost,
            })
        })
    }

    fn home_from(&self) -> HomeFrom {
        HomeFrom::Passwd(self.exec_user())
    }
}

/// A command in the container, through docker exec.
struct DockerProcess {
    process: crate::docker::ExecProcess,
}

impl Process for DockerProcess {
    fn next(&mut self) -> BoxFuture<'_, Event> {
        Box::pin(async move {
            match self.process.next().await {
                crate::docker::ExecEvent::Stdout(b) => Event::Stdout(b),
                crate::docker::ExecEvent::Stderr(b) => Event::Stderr(b),
                crate::docker::ExecEvent::Exit(code) => Event::Exit(code as i32),
                crate::docker::ExecEvent::Closed => Event::Closed,
            }
        })
    }

    fn write<'a>(&'a mut self, data: &'a [u8]) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(async move {
            self.process
                .write_stdin(data)
                .await
                .map_err(TargetError::from)
        })
    }

    fn close_stdin(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(self.process.close_stdin())
    }

    fn resize(&mut self, cols: u16, rows: u16) -> BoxFuture<'_, ()> {
        Box::pin(self.process.resize(cols, rows))
    }
}

/// A running container with a shell gets the script, through docker exec; a stopped or
/// shell-less one the archive API.
impl Target for DockerTarget {
    fn spawn<'a>(
        &'a self,
        spawn: &'a Spawn<'a>,
    ) -> BoxFuture<'a, Result<Box<dyn Process>, TargetError>> {
        Box::pin(async move {
            let name = &self.container.name;
            if !self.container.running {
                return Err(TargetError::new(
                    ErrorClass::NotRunning,
                    format!("container {name} is not running: a command runs only in a running container"),
                    Some("start it (`docker start`) and run again"),
                ));
            }
            let mut cmd = vec![
                "sh".to_string(),
                "-c".to_string(),
                spawn.line.to_string(),
                "sh".to_string(),
            ];
            cmd.extend(spawn.args.iter().cloned());
            let tty = spawn
                .tty
                .as_ref()
                .map(|t| (t.term.as_str(), t.cols, t.rows));
            let process = self
                .engine
                .spawn(&self.container, cmd, self.user.as_deref(), tty)
                .await?;
            Ok(Box::new(DockerProcess { process }) as Box<dyn Process>)
        })
    }

    fn lease_whom(&self) -> (HomeFrom, Option<String>) {
        (HomeFrom::Passwd(self.exec_user()), None)
    }

    fn install<'a>(
        &'a self,
        req: &'a InstallRequest<'_>,
    ) -> BoxFuture<'a, Result<InstallReport, TargetError>> {
        Box::pin(async move {
            let why_direct = if self.container.running {
                match script::install(self, req).await {
                    Err(e) if e.class == ErrorClass::NoShell => "the container has no shell",
                    Ok(mut report) => {
                        if let Some(m) = self.container.tmpfs_under(&report.path) {
                            report.notes.push(format!(
                                "{m} is a tmpfs mount: the login is lost when the container restarts"
                            ));
                        }
                        return Ok(report);
                    }
                    Err(e) => return Err(e),
                }
            } else {
                "the container is not running"
            };
            self.archive().install(req, why_direct).await
        })
    }

    fn remove<'a>(
        &'a self,
        req: &'a RemoveRequest<'_>,
    ) -> BoxFuture<'a, Result<RemoveReport, TargetError>> {
        Box::pin(async move {
            let name = &self.container.name;
            if !self.container.running {
                return Err(TargetError::new(
                    ErrorClass::NotRunning,
                    format!(
                        "container {name} is not running: the Docker API can add files to a stopped container, not remove them"
                    ),
                    Some("start it (`docker start`) and run the logout again, or remove the container"),
                ));
            }
            match script::remove(self, req).await {
                Err(e) if e.class == ErrorClass::NoShell => Err(TargetError::new(
                    ErrorClass::NoShell,
                    format!("container {name} has no shell to remove the login with"),
                    Some("remove the container, or rebuild it without the login"),
                )),
                other => other,
            }
        })
    }

    fn inspect<'a>(
        &'a self,
        req: &'a InspectRequest<'_>,
    ) -> BoxFuture<'a, Result<InspectReport, TargetError>> {
        Box::pin(async move {
            if self.container.running {
                match script::inspect(self, req).await {
                    Err(e) if e.class == ErrorClass::NoShell => {}
                    other => return other,
                }
            }
            self.archive().inspect(req).await
        })
    }
}

impl DockerTarget {
    /// Whom an exec runs as: `--docker-user`, else the container's user, else root.
    fn exec_user(&self) -> String {
        match self.user.as_deref().unwrap_or(&self.container.user) {
            "" => "root".to_string(),
            u => u.to_string(),
        }
    }

    /// The container as the archive API reaches it.
    fn archive(&self) -> archive::Archive<'_> {
        archive::Archive {
            engine: &self.engine,
            container: &self.container,
            user: self.user.as_deref(),
        }
    }
}
