//! Targets: the places a login is installed. One trait, [`Target`], that every kind (ssh
//! now, docker next) implements; `ops` is written once against it and never names a
//! transport. The atomic install itself is a POSIX sh script shared by all kinds.

mod install;

use std::sync::Arc;

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
}

impl TargetSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            TargetSpec::Ssh(_) => "ssh",
        }
    }
    pub fn label(&self) -> String {
        match self {
            TargetSpec::Ssh(d) => d.to_string(),
        }
    }
}

/// Everything a connection needs besides the spec.
#[derive(Clone)]
pub struct ConnectContext {
    pub ssh: ssh::SshOptions,
    pub prompter: Arc<dyn Prompter>,
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
        install::run(self, req).await
    }
}

/// A connected target of any kind.
pub enum Connected {
    Ssh(ssh::Session),
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
        }
    }

    pub async fn close(self) {
        match self {
            Connected::Ssh(s) => s.close().await,
        }
    }
}

impl Target for Connected {
    async fn run_sh(&self, script: &str, stdin: &[u8]) -> Result<RunOutput, TargetError> {
        match self {
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
