//! Containers as targets: the `--docker` flags, the engine connection every container
//! target of a run shares, and the container adapter. A running container with a shell
//! gets the same atomic install script as an ssh host, in one exec (the fast, common
//! path). A stopped or shell-less container is written through the archive API: a tar
//! built in memory with the target user's numeric ids and modes in its headers, then
//! read back and checked.

use std::sync::Arc;

use clap::Args;
use futures_util::future::BoxFuture;

use super::install::{InstallReport, InstallRequest, Outcome, Previous};
use super::script::{self, HomeFrom, Invocation, RunOutput, Shell};
use super::{
    ConnectContext, ErrorClass, FileKind, HomeSource, InspectReport, InspectRequest, Location,
    RemoveReport, RemoveRequest, Target, TargetError, TargetKind,
};
use crate::auth::store::{CodexConfig, CredentialStore};
use crate::docker::passwd::{self, Unresolved};
use crate::docker::{Container, ContainerState, DockerError, Engine, Entry};
use crate::error::AppError;
use crate::secret::SecretBytes;

/// The container targets of a command.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct DockerTargetArgs {
    /// Docker container name or id (repeatable); the engine is found as the docker CLI finds it.
    #[arg(long = "docker", value_name = "CONTAINER")]
    pub docker: Vec<String>,
    /// Whose home inside containers (default: the container's configured user, else root).
    #[arg(long, value_name = "USER")]
    pub docker_user: Option<String>,
    /// Every container matching, as docker ps --filter (repeatable): label=com.docker.compose.project=web, name=api, status=running.
    #[arg(long, value_name = "KEY=VALUE")]
    pub docker_filter: Vec<String>,
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

    fn specs(args: &DockerTargetArgs, stdin: &mut Option<String>) -> Result<Vec<String>, AppError> {
        super::fleet::expand(&args.docker, "--docker", stdin)?
            .iter()
            .map(|name| container_name(name))
            .collect()
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
        args.docker_user.is_some().then_some("--docker-user")
    }

    fn finds_more(context: &DockerContext) -> bool {
        !context.filters.is_empty()
    }

    fn find<'a>(
        context: &'a DockerContext,
        ctx: &'a ConnectContext,
    ) -> BoxFuture<'a, Result<Vec<String>, AppError>> {
        Box::pin(matching(&context.filters, ctx))
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
        Ok(DockerContext {
            user: self.docker_user.clone(),
            filters: super::fleet::filters(&self.docker_filter)?,
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
    engine: Arc<tokio::sync::OnceCell<Result<Engine, TargetError>>>,
}

impl DockerContext {
    async fn engine(&self, ctx: &ConnectContext) -> Result<Engine, TargetError> {
        self.engine
            .get_or_init(|| async {
                let host = crate::docker::resolve_host();
                if host.starts_with("ssh://") {
                    return super::docker_over_ssh::connect(
                        &host,
                        &ctx.kinds.ssh,
                        ctx.prompter.clone(),
                    )
                    .await;
                }
                Engine::connect_to(host).await.map_err(TargetError::from)
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

/// A running container with a shell gets the script, through docker exec; a stopped or
/// shell-less one the archive API.
impl Target for DockerTarget {
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
            self.install_by_archive(req, why_direct).await
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
            self.inspect_by_archive(req).await
        })
    }
}

struct Place {
    who: Who,
    dir: String,
    home_from: HomeSource,
    config: CodexConfig,
}

struct Who {
    uid: u32,
    gid: u32,
    name: String,
    home: Option<String>,
}

impl DockerTarget {
    /// Whom an exec runs as: `--docker-user`, else the container's user, else root.
    fn exec_user(&self) -> String {
        match self.user.as_deref().unwrap_or(&self.container.user) {
            "" => "root".to_string(),
            u => u.to_string(),
        }
    }

    fn err_no_home(&self, who: &Who, why: &str) -> TargetError {
        TargetError::new(
            ErrorClass::NoHome,
            format!(
                "user {} in container {} {why}; refusing to guess where Codex looks",
                who.name, self.container.name
            ),
            Some("pass --codex-home PATH"),
        )
    }

    async fn who(&self) -> Result<Who, TargetError> {
        let spec = self
            .user
            .clone()
            .unwrap_or_else(|| self.container.user.clone());
        let text = match self.engine.read(&self.container, "/etc/passwd").await? {
            Some(Entry::File { content, .. }) => String::from_utf8_lossy(&content).into_owned(),
            _ => String::new(),
        };
        match passwd::resolve(&passwd::parse(&text), &spec) {
            Ok(e) => Ok(Who {
                uid: e.uid,
                gid: e.gid,
                name: e.name,
                home: Some(e.home),
            }),
            Err(Unresolved::NumericWithoutEntry { uid, gid }) => Ok(Who {
                uid,
                gid,
                name: uid.to_string(),
                home: None,
            }),
            Err(Unresolved::NoSuchUser(u)) => Err(DockerError::NoSuchUser {
                user: u,
                container: self.container.name.clone(),
            }
            .into()),
        }
    }

    /// The directory to install into and where that choice came from.
    fn codex_dir(
        &self,
        who: &Who,
        codex_home: Option<&str>,
    ) -> Result<(String, HomeSource), TargetError> {
        let home = || -> Result<String, TargetError> {
            match who.home.as_deref() {
                None => Err(self.err_no_home(who, "has no entry in /etc/passwd")),
                Some("") | Some("/") => {
                    Err(self.err_no_home(who, "has / (or nothing) as home directory"))
                }
                Some(h) => Ok(h.trim_end_matches('/').to_string()),
            }
        };
        let (dir, from) = match codex_home {
            Some("~") => (home()?, HomeSource::Flag),
            Some(h) if h.starts_with("~/") => {
                (format!("{}/{}", home()?, &h[2..]), HomeSource::Flag)
            }
            Some(h) if h.starts_with('/') => (h.to_string(), HomeSource::Flag),
            Some(h) => (format!("{}/{h}", home()?), HomeSource::Flag),
            None => match self
                .container
                .env_var("CODEX_HOME")
                .filter(|v| !v.is_empty())
            {
                Some(v) if v.starts_with('/') => (v.to_string(), HomeSource::Env),
                Some(v) => (format!("{}/{v}", home()?), HomeSource::Env),
                None => (format!("{}/.codex", home()?), HomeSource::Default),
            },
        };
        let dir = dir.trim_end_matches('/').to_string();
        if dir.is_empty() {
            return Err(self.err_no_home(who, "would get / as CODEX_HOME"));
        }
        Ok((dir, from))
    }

    /// Whose home, which directory, and its config: what `locate` in common.sh finds,
    /// read through the archive API instead.
    async fn locate(&self, codex_home: Option<&str>) -> Result<Place, TargetError> {
        let who = self.who().await?;
        let (dir, home_from) = self.codex_dir(&who, codex_home)?;
        let config = match self
            .engine
            .read(&self.container, &format!("{dir}/config.toml"))
            .await?
        {
            Some(Entry::File { content, .. }) => {
                CodexConfig::parse(&String::from_utf8_lossy(&content))
            }
            _ => CodexConfig::default(),
        };
        Ok(Place {
            who,
            dir,
            home_from,
            config,
        })
    }

    async fn install_by_archive(
        &self,
        req: &InstallRequest<'_>,
        why_direct: &str,
    ) -> Result<InstallReport, TargetError> {
        let Place {
            who,
            dir,
            home_from,
            config,
        } = self.locate(req.codex_home).await?;
        let store = config.store;
        let path = format!("{dir}/auth.json");
        if let Some(why) = config.forced.refuses(req.auth) {
            let class = if why.starts_with("forced_login_method") {
                ErrorClass::ForcedLogin
            } else {
                ErrorClass::ForcedWorkspace
            };
            return Err(TargetError::new(
                class,
                format!("{dir}/config.toml: {why}; Codex there would refuse it"),
                class.default_hint(),
            ));
        }
        if let Some(m) = self.container.tmpfs_under(&dir) {
            return Err(TargetError::new(
                ErrorClass::Tmpfs,
                format!(
                    "{dir} is on a tmpfs mounted at {m}, and {why_direct}: the Docker API would write below the mount, where nothing in the container sees it"
                ),
                Some("start the container (with a shell) or pass --codex-home on a persistent path"),
            ));
        }
        let mut report = InstallReport {
            outcome: Outcome::WouldInstall,
            path: path.clone(),
            home_from,
            user: who.name.clone(),
            credential_store: store,
            previous: Previous::None,
            backup: None,
            file_mode: None,
            dir_mode: None,
            verified: false,
            codex_status: None,
            codex: None,
            notes: vec![],
            login: None,
        };
        // As on running targets (install.sh): keyring and ephemeral are skipped; auto is
        // written, since no shell runs a D-Bus session here for Codex to reach a keyring on.
        match store {
            CredentialStore::Keyring | CredentialStore::Ephemeral if !req.force => {
                report.outcome = Outcome::Skipped;
                report.notes.push(super::install::skip_reason(store));
                return Ok(report);
            }
            CredentialStore::Auto => report.notes.push(format!(
                "no D-Bus session runs in the container ({why_direct}), so no OS keyring: with cli_auth_credentials_store = \"auto\", Codex reads auth.json"
            )),
            _ => {}
        }

        let want = req.auth.bytes().expose();
        let existing = self.engine.read(&self.container, &path).await?;
        let mut old_content = None;
        let mut in_place = false;
        match &existing {
            None => {}
            Some(Entry::Symlink) => report.previous = Previous::Symlink,
            Some(Entry::File {
                content, mode, uid, ..
            }) => {
                if content.as_slice() == want {
                    report.previous = Previous::Same;
                    in_place = *mode == 0o600 && *uid == u64::from(who.uid);
                } else {
                    report.previous = Previous::Different;
                    old_content = Some(content.clone());
                }
            }
            Some(Entry::Dir) | Some(Entry::Other) => {
                return Err(TargetError::new(
                    ErrorClass::NotAFile,
                    format!("{path} is not a regular file"),
                    Some("move it out of the way"),
                ))
            }
        }
        if req.dry_run {
            report.outcome = if report.previous == Previous::Same {
                Outcome::Unchanged
            } else {
                Outcome::WouldInstall
            };
            return Ok(report);
        }
        if in_place {
            report.outcome = Outcome::Unchanged;
        } else {
            self.upload_tree(&dir, &who, want, old_content.as_deref())
                .await?;
            if old_content.is_some() {
                report.backup = Some(format!("{dir}/auth.json.bak"));
            }
            report.outcome = if report.previous == Previous::Same {
                report.notes.push("modes and owner fixed".into());
                Outcome::Unchanged
            } else {
                Outcome::Installed
            };
            report.notes.push(format!(
                "written directly through the Docker API ({why_direct}), not by rename and without Codex's locks (auth.lock, auth.json.lock): nothing there can run flock"
            ));
        }

        // Read back: content, mode, owner.
        match self.engine.read(&self.container, &path).await? {
            Some(Entry::File {
                content, mode, uid, ..
            }) => {
                let same = crate::encoding::sha256_hex(&content) == req.auth.sha256_hex();
                if !same || mode != 0o600 || uid != u64::from(who.uid) {
                    return Err(TargetError::new(
                        ErrorClass::Verify,
                        format!("{path} does not hold what was written (mode {mode:o}, uid {uid})"),
                        None,
                    ));
                }
                report.file_mode = Some("-rw-------".into());
                report.verified = true;
            }
            _ => {
                return Err(TargetError::new(
                    ErrorClass::Verify,
                    format!("{path} is missing after writing"),
                    None,
                ))
            }
        }
        Ok(report)
    }

    async fn inspect_by_archive(
        &self,
        req: &InspectRequest<'_>,
    ) -> Result<InspectReport, TargetError> {
        let Place {
            who,
            dir,
            home_from,
            config,
        } = self.locate(req.codex_home).await?;
        let mut report = InspectReport {
            location: Location {
                dir,
                home_from,
                user: who.name.clone(),
                store: config.store,
            },
            forced: config.forced,
            ..Default::default()
        };
        match self.engine.read(&self.container, &report.path()).await? {
            None => {}
            Some(Entry::File { content, mode, .. }) => {
                report.kind = FileKind::File;
                report.file_mode = Some(mode_string(mode));
                report.content = Some(SecretBytes::new(content));
            }
            Some(Entry::Symlink) => report.kind = FileKind::Symlink,
            Some(Entry::Dir) => report.kind = FileKind::Dir,
            Some(Entry::Other) => report.kind = FileKind::Other,
        }
        Ok(report)
    }

    /// Upload `dir/auth.json` (and `auth.json.bak`) as one tar, rooted at the deepest
    /// existing ancestor so existing directories above `dir` keep their modes.
    async fn upload_tree(
        &self,
        dir: &str,
        who: &Who,
        content: &[u8],
        backup: Option<&[u8]>,
    ) -> Result<(), TargetError> {
        let components: Vec<&str> = dir.split('/').filter(|c| !c.is_empty()).collect();
        // Try with the parent of `dir` as root, then one level up at a time.
        for created in 1..=components.len() {
            let root_parts = &components[..components.len() - created];
            let root = format!("/{}", root_parts.join("/"));
            let new_dirs = &components[components.len() - created..];
            let tar = build_tar(new_dirs, who, content, backup).map_err(|e| {
                TargetError::new(
                    ErrorClass::Io,
                    format!("cannot build the archive: {e}"),
                    None,
                )
            })?;
            match self.engine.upload(&self.container, &root, tar).await {
                Ok(()) => return Ok(()),
                Err(DockerError::Api { status: 404, .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(TargetError::new(
            ErrorClass::Io,
            format!("cannot create {dir} in the container"),
            None,
        ))
    }
}

/// `ls -l` style permissions of a regular file.
fn mode_string(mode: u32) -> String {
    let mut s = String::from("-");
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}

/// A tar with `new_dirs` (the last is the Codex home: 0700; those above: 0755), the file
/// (0600) and optionally the backup (0600), all owned by the target user's numeric ids.
fn build_tar(
    new_dirs: &[&str],
    who: &Who,
    content: &[u8],
    backup: Option<&[u8]>,
) -> std::io::Result<Vec<u8>> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut builder = tar::Builder::new(Vec::new());
    let header =
        |kind: tar::EntryType, path: &str, mode: u32, size: u64| -> std::io::Result<tar::Header> {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_path(path)?;
            h.set_mode(mode);
            h.set_uid(u64::from(who.uid));
            h.set_gid(u64::from(who.gid));
            h.set_size(size);
            h.set_mtime(now);
            h.set_cksum();
            Ok(h)
        };
    let mut path = String::new();
    for (i, d) in new_dirs.iter().enumerate() {
        if !path.is_empty() {
            path.push('/');
        }
        path.push_str(d);
        let mode = if i + 1 == new_dirs.len() {
            0o700
        } else {
            0o755
        };
        builder.append(
            &header(tar::EntryType::Directory, &format!("{path}/"), mode, 0)?,
            std::io::empty(),
        )?;
    }
    let files = backup
        .map(|old| ("auth.json.bak", old))
        .into_iter()
        .chain([("auth.json", content)]);
    for (name, bytes) in files {
        let h = header(
            tar::EntryType::Regular,
            &format!("{path}/{name}"),
            0o600,
            bytes.len() as u64,
        )?;
        builder.append(&h, bytes)?;
    }
    builder.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_carries_numeric_owner_and_modes() {
        let who = Who {
            uid: 1000,
            gid: 1001,
            name: "app".into(),
            home: Some("/home/app".into()),
        };
        let tar = build_tar(&["srv", "codex"], &who, b"{}", Some(b"old")).unwrap();
        let mut a = tar::Archive::new(tar.as_slice());
        let got: Vec<(String, u32, u64, u64)> = a
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().display().to_string(),
                    h.mode().unwrap(),
                    h.uid().unwrap(),
                    h.gid().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("srv/".into(), 0o755, 1000, 1001),
                ("srv/codex/".into(), 0o700, 1000, 1001),
                ("srv/codex/auth.json.bak".into(), 0o600, 1000, 1001),
                ("srv/codex/auth.json".into(), 0o600, 1000, 1001),
            ]
        );
    }
}
