//! Targets: the places a login is installed. One module per kind ([`ssh`] hosts,
//! [`docker`] containers), each owning its command-line flags, its connection context and
//! its [`Target`] implementation; one [`Target`] trait that `ops` is written against, so
//! `ops` never names a transport; and the remote-script protocol ([`script`]) every
//! shell-capable kind speaks. Adding a kind: a [`TargetSpec`] variant, an args/context
//! pair in its module, and the module.

mod docker;
mod docker_over_ssh;
mod error;
mod fleet;
mod inspect;
mod install;
mod remove;
mod script;
mod ssh;

use std::sync::Arc;

use futures_util::future::BoxFuture;

pub(crate) use docker::{matching as docker_matching, DockerContext, DockerTargetArgs};
pub(crate) use error::{ErrorClass, TargetError};
pub(crate) use fleet::filters as docker_filters;
pub(crate) use inspect::{InspectReport, InspectRequest};
pub(crate) use install::{InstallReport, InstallRequest, Outcome, Previous};
pub(crate) use remove::{RemoveOutcome, RemoveReport, RemoveRequest};
pub(crate) use script::{
    forward_device_login_command, forward_login_command, login_status_command,
    FORWARD_LOGIN_NOT_FOUND,
};
pub(crate) use ssh::{
    destination as ssh_destination, over_session as ssh_over_session, SshConnectArgs, SshTargetArgs,
};

use crate::auth::store::CredentialStore;
pub(crate) use crate::auth::store::Forced;
use crate::prompt::Prompter;
use crate::ssh::SshOptions;

/// The kinds of target, as `--json` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Ssh,
    Docker,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Ssh => "ssh",
            Kind::Docker => "docker",
        }
    }
}

/// One target as the user named it.
#[derive(Clone, Debug)]
pub(crate) enum TargetSpec {
    Ssh(crate::ssh::Destination),
    /// A container name or id.
    Docker(String),
}

impl TargetSpec {
    pub(crate) fn kind(&self) -> Kind {
        match self {
            TargetSpec::Ssh(_) => Kind::Ssh,
            TargetSpec::Docker(_) => Kind::Docker,
        }
    }

    /// The target as the user named it.
    pub(crate) fn label(&self) -> String {
        match self {
            TargetSpec::Ssh(d) => d.name.clone().unwrap_or_else(|| d.to_string()),
            TargetSpec::Docker(name) => name.clone(),
        }
    }

    /// How to reach it again (the ledger keeps this): `ssh:DEST`, `docker:NAME`.
    pub(crate) fn address(&self) -> String {
        match self {
            TargetSpec::Ssh(d) => format!("ssh:{d}"),
            TargetSpec::Docker(name) => format!("docker:{name}"),
        }
    }

    /// The key for this target alone (an inventory's), as a path.
    pub(crate) fn identity(&self) -> Option<String> {
        match self {
            TargetSpec::Ssh(d) => d.identity.as_ref().map(|p| p.display().to_string()),
            TargetSpec::Docker(_) => None,
        }
    }

    /// A place as `--from` and the ledger write it: `ssh:DEST` or `docker:NAME`
    /// (`None`: not a target's address).
    pub(crate) fn from_address(address: &str) -> Option<TargetSpec> {
        let (kind, rest) = address.split_once(':')?;
        match kind {
            "ssh" => crate::ssh::Destination::parse(rest)
                .ok()
                .map(TargetSpec::Ssh),
            "docker" if !rest.is_empty() => Some(TargetSpec::Docker(rest.to_string())),
            _ => None,
        }
    }

    /// The label with its kind where the kind is not obvious (tables, progress): ssh
    /// destinations stand alone, everything else is `kind:label`.
    pub(crate) fn display(&self) -> String {
        match self.kind() {
            Kind::Ssh => self.label(),
            kind => format!("{}:{}", kind.as_str(), self.label()),
        }
    }

    /// Connect to the target: the one place a spec meets its kind's transport.
    pub(crate) async fn connect(
        &self,
        ctx: &ConnectContext,
    ) -> Result<Box<dyn Target>, TargetError> {
        match self {
            TargetSpec::Ssh(dest) => ssh::connect(dest, ctx).await,
            TargetSpec::Docker(name) => docker::connect(name, ctx).await,
        }
    }
}

/// Everything a connection needs besides the spec: each kind's context, and where to
/// ask the person at the terminal.
#[derive(Clone)]
pub(crate) struct ConnectContext {
    pub ssh: SshOptions,
    pub docker: DockerContext,
    pub prompter: Arc<dyn Prompter>,
}

/// Where the Codex home of a target came from: `--codex-home`, `$CODEX_HOME` there, or
/// `~/.codex` of the login user.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum HomeSource {
    Flag,
    Env,
    #[default]
    Default,
}

impl HomeSource {
    fn from_word(word: &str) -> HomeSource {
        match word {
            "flag" => HomeSource::Flag,
            "env" => HomeSource::Env,
            _ => HomeSource::Default,
        }
    }
}

/// Where a target's login lives and whose it is, as the target itself reported it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Location {
    /// The Codex home directory.
    pub dir: String,
    pub home_from: HomeSource,
    /// The login user's name (or uid when it has no passwd entry).
    pub user: String,
    pub store: CredentialStore,
}

impl Location {
    pub(crate) fn auth_path(&self) -> String {
        format!("{}/auth.json", self.dir.trim_end_matches('/'))
    }
}

/// What is at the auth.json path of a target.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum FileKind {
    #[default]
    None,
    File,
    Symlink,
    Dir,
    Other,
}

impl FileKind {
    fn from_word(word: &str) -> FileKind {
        match word {
            "file" => FileKind::File,
            "symlink" => FileKind::Symlink,
            "dir" => FileKind::Dir,
            "none" => FileKind::None,
            _ => FileKind::Other,
        }
    }
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

/// How the scripts find the login user's home when no Codex home is given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HomeFrom {
    /// `$HOME`, as the login session sets it (ssh).
    Environment,
    /// The /etc/passwd entry of this user (name or uid, as Docker takes it) whom the
    /// command runs as (docker exec, whose HOME may be the image's).
    Passwd(String),
}

/// The one interface every kind implements. `run` runs one script invocation as the
/// target user, its request and payload on stdin (the only way secrets travel), in one
/// round trip; install and inspect are written once on top of it, and kinds that
/// cannot always run a shell override them.
pub(crate) trait Target: Send + Sync {
    fn run<'a>(
        &'a self,
        invocation: &'a script::Invocation,
    ) -> BoxFuture<'a, Result<RunOutput, TargetError>>;

    /// How the scripts find the home directory on this kind.
    fn home_from(&self) -> HomeFrom {
        HomeFrom::Environment
    }

    /// Install auth.json atomically and verify it.
    fn install<'a>(
        &'a self,
        req: &'a InstallRequest<'_>,
    ) -> BoxFuture<'a, Result<InstallReport, TargetError>> {
        Box::pin(install::run(self, req))
    }

    /// Read what login is installed, writing nothing.
    fn inspect<'a>(
        &'a self,
        req: &'a InspectRequest<'_>,
    ) -> BoxFuture<'a, Result<InspectReport, TargetError>> {
        Box::pin(inspect::run(self, req))
    }

    /// Remove the login (logout), under Codex's locks.
    fn remove<'a>(
        &'a self,
        req: &'a RemoveRequest<'_>,
    ) -> BoxFuture<'a, Result<RemoveReport, TargetError>> {
        Box::pin(remove::run(self, req))
    }

    /// End the connection politely (the drop would end it too).
    fn close(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}
