//! Targets: the places a login is installed. One trait, [`Target`], that both kinds (ssh
//! hosts and containers) implement; `ops` is written once against it and never names a
//! transport. The atomic install and the read-only inspection are POSIX sh scripts
//! shared by all kinds; containers without a shell use the archive API instead.

mod docker;
mod inspect;
pub(crate) mod install;
mod ssh_engine;

use std::sync::Arc;

pub use inspect::{InspectReport, InspectRequest};
pub use install::{InstallReport, InstallRequest, Outcome};

use crate::prompt::Prompter;
use crate::ssh;

/// A failure at one target, with a stable class for `--json` and a hint for people.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TargetError {
    pub class: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl TargetError {
    pub fn new(class: &'static str, message: impl Into<String>, hint: Option<&str>) -> Self {
        TargetError {
            class,
            message: message.into(),
            hint: hint.map(str::to_string),
        }
    }
}

impl From<ssh::SshError> for TargetError {
    fn from(e: ssh::SshError) -> Self {
        TargetError {
            class: e.class(),
            message: e.to_string(),
            hint: e.hint(),
        }
    }
}

/// What the user named on the command line.
#[derive(Clone, Debug)]
pub enum TargetSpec {
    Ssh(ssh::Destination),
    /// A container name or id.
    Docker(String),
}

impl TargetSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            TargetSpec::Ssh(_) => "ssh",
            TargetSpec::Docker(_) => "docker",
        }
    }
    /// The target as the user named it.
    pub fn label(&self) -> String {
        match self {
            TargetSpec::Ssh(d) => d.to_string(),
            TargetSpec::Docker(name) => name.clone(),
        }
    }
    /// The label with its kind where the kind is not obvious (tables, progress).
    pub fn display(&self) -> String {
        match self {
            TargetSpec::Ssh(d) => d.to_string(),
            TargetSpec::Docker(name) => format!("docker:{name}"),
        }
    }
}

/// Everything a connection needs besides the spec.
#[derive(Clone)]
pub struct ConnectContext {
    pub ssh: ssh::SshOptions,
    pub prompter: Arc<dyn Prompter>,
    /// `--docker-user`.
    pub docker_user: Option<String>,
    /// One engine connection shared by every container target of the run.
    pub docker_engine: Arc<tokio::sync::OnceCell<Result<crate::docker::Engine, TargetError>>>,
}

impl ConnectContext {
    pub fn new(
        ssh: ssh::SshOptions,
        prompter: Arc<dyn Prompter>,
        docker_user: Option<String>,
    ) -> Self {
        ConnectContext {
            ssh,
            prompter,
            docker_user,
            docker_engine: Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    async fn engine(&self) -> Result<crate::docker::Engine, TargetError> {
        self.docker_engine
            .get_or_init(|| async {
                let host = crate::docker::resolve_host();
                if host.starts_with("ssh://") {
                    return ssh_engine::connect(&host, &self.ssh, self.prompter.clone()).await;
                }
                crate::docker::Engine::connect_to(host)
                    .await
                    .map_err(TargetError::from)
            })
            .await
            .clone()
    }
}

/// Output of a command run on a target.
pub struct RunOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit_status: Option<u32>,
}

/// The one interface every target kind implements. `run_sh` runs a POSIX sh script as
/// the target user, with `stdin` (the only way secrets travel), in one round trip.
#[allow(async_fn_in_trait)]
pub trait Target {
    async fn run_sh(&self, script: &str, stdin: &[u8]) -> Result<RunOutput, TargetError>;

    /// Install auth.json atomically and verify it. Kinds that cannot run a shell
    /// override this.
    async fn install(&self, req: &InstallRequest<'_>) -> Result<InstallReport, TargetError> {
        install::run(self, req, install::HomeFrom::Environment).await
    }

    /// Read what login is installed, writing nothing.
    async fn inspect(&self, req: &InspectRequest<'_>) -> Result<InspectReport, TargetError> {
        inspect::run(self, req, install::HomeFrom::Environment).await
    }
}

/// A connected target of any kind.
pub enum Connected {
    Ssh(ssh::Session),
    Docker(docker::DockerTarget),
}

impl Connected {
    pub async fn connect(
        spec: &TargetSpec,
        ctx: &ConnectContext,
    ) -> Result<Connected, TargetError> {
        match spec {
            TargetSpec::Ssh(dest) => Ok(Connected::Ssh(
                ssh::Session::connect(dest, &ctx.ssh, ctx.prompter.clone()).await?,
            )),
            TargetSpec::Docker(name) => {
                let mut engine = ctx.engine().await?;
                let container = engine.container(name).await?;
                Ok(Connected::Docker(docker::DockerTarget {
                    engine,
                    container,
                    user: ctx.docker_user.clone(),
                }))
            }
        }
    }

    pub async fn close(self) {
        match self {
            Connected::Ssh(s) => s.close().await,
            Connected::Docker(_) => {}
        }
    }
}

impl Target for Connected {
    async fn install(&self, req: &InstallRequest<'_>) -> Result<InstallReport, TargetError> {
        match self {
            Connected::Ssh(_) => install::run(self, req, install::HomeFrom::Environment).await,
            Connected::Docker(d) => d.install(req).await,
        }
    }

    async fn inspect(&self, req: &InspectRequest<'_>) -> Result<InspectReport, TargetError> {
        match self {
            Connected::Ssh(_) => inspect::run(self, req, install::HomeFrom::Environment).await,
            Connected::Docker(d) => d.inspect(req).await,
        }
    }

    async fn run_sh(&self, script: &str, stdin: &[u8]) -> Result<RunOutput, TargetError> {
        match self {
            Connected::Docker(d) => d.run_sh(script, stdin).await,
            Connected::Ssh(s) => {
                // The login shell (bash, zsh, fish, csh...) parses this line; the script
                // is written so that single quotes protect it in all of them.
                let command = format!("sh -c '{script}'");
                let out = s.exec(&command, stdin).await?;
                Ok(RunOutput {
                    stdout: out.stdout,
                    stderr: out.stderr,
                    exit_status: out.exit_status,
                })
            }
        }
    }
}
