//! The command line: clap types, and their conversion into a validated plan. No I/O here,
//! so a bad flag never costs a connection.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::error::AppError;
use crate::ssh::{Destination, SshOptions};
use crate::target::TargetSpec;

#[derive(Parser, Debug)]
#[command(
    name = "codex-auth",
    version,
    about = "Install a Codex CLI login on SSH hosts and containers, safely",
    after_help = "Exit codes: 0 all targets done, 1 a target failed, 2 bad usage or input (nothing touched), 130 interrupted."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Install a login on targets: atomic write, 0700/0600, verified, backed up.
    Push(PushArgs),
    /// Show what login is installed here and on targets (reads only).
    Status(StatusArgs),
    /// Log in here (browser, device code or API key) and write $CODEX_HOME/auth.json.
    Login(LoginArgs),
}

/// How a fresh login is made (shared by `login` and `push --login`).
#[derive(Args, Debug, Clone)]
pub struct LoginFlowArgs {
    /// Use the device-code flow: a code and a URL to open on any device.
    #[arg(long)]
    pub device_auth: bool,
    /// Print the sign-in URL only; do not start a browser.
    #[arg(long)]
    pub no_browser: bool,
    /// OAuth issuer (for gateways and tests).
    #[arg(long, value_name = "URL", env = "CODEX_AUTH_ISSUER", default_value = crate::login::DEFAULT_ISSUER)]
    pub issuer: String,
    /// OAuth client id.
    #[arg(long, value_name = "ID", env = "CODEX_AUTH_CLIENT_ID", default_value = crate::login::DEFAULT_CLIENT_ID)]
    pub client_id: String,
    /// Seconds the browser login waits for the sign-in to finish.
    #[arg(long, value_name = "SECS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout: u64,
}

#[derive(Args, Debug)]
pub struct LoginArgs {
    #[command(flatten)]
    pub flow: LoginFlowArgs,
    /// Read an API key from stdin instead of signing in.
    #[arg(long, conflicts_with_all = ["device_auth", "no_browser"])]
    pub api_key_stdin: bool,
    /// Run `codex login` on this SSH host and tunnel its callback here (browser here).
    #[arg(long, value_name = "DEST", conflicts_with_all = ["api_key_stdin", "device_auth"])]
    pub forward: Option<String>,
    /// With --forward: only hold the tunnel (ports 1455 and 1457); run `codex login` yourself.
    #[arg(long, requires = "forward")]
    pub no_run: bool,
    #[command(flatten)]
    pub ssh_args: SshArgs,
    /// Replace a login of another account.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

impl LoginFlowArgs {
    pub fn validate(&self) -> Result<crate::login::LoginOptions, AppError> {
        let base = self.issuer.trim_end_matches('/').to_string();
        if !(base.starts_with("https://") || base.starts_with("http://"))
            || base.contains(char::is_whitespace)
        {
            return Err(AppError::usage(
                format!("bad --issuer {:?}", self.issuer),
                Some("give the issuer's base URL, like https://auth.openai.com"),
            ));
        }
        if self.client_id.is_empty()
            || self
                .client_id
                .contains(|c: char| c.is_whitespace() || c == '&')
        {
            return Err(AppError::usage(
                format!("bad --client-id {:?}", self.client_id),
                None,
            ));
        }
        Ok(crate::login::LoginOptions {
            issuer: crate::login::Issuer {
                base,
                client_id: self.client_id.clone(),
            },
            device: self.device_auth,
            no_browser: self.no_browser,
            timeout: std::time::Duration::from_secs(self.timeout),
        })
    }
}

#[derive(Args, Debug, Clone, Default)]
pub struct SshArgs {
    /// ssh config file, as `ssh -F`.
    #[arg(short = 'F', value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// ssh option, as `ssh -o` (repeatable).
    #[arg(short = 'o', value_name = "KEY=VALUE")]
    pub options: Vec<String>,
    /// Identity file, as `ssh -i`.
    #[arg(short = 'i', value_name = "FILE")]
    pub identity: Option<PathBuf>,
}

impl SshArgs {
    pub fn validate(self) -> Result<SshOptions, AppError> {
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
            default_keepalive: None,
        })
    }
}

#[derive(Args, Debug, Clone, Default)]
pub struct OutputArgs {
    /// One JSON document on stdout; human text goes to stderr.
    #[arg(long)]
    pub json: bool,
    /// More detail (never secrets).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors and the summary.
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,
}

/// Where to act: targets and how to reach them (shared by push and status).
#[derive(Args, Debug, Clone, Default)]
pub struct TargetArgs {
    /// SSH destination: alias, user@host, host:port, [v6]:port, ssh://user@host:port (repeatable).
    #[arg(long = "ssh", value_name = "DEST")]
    pub ssh: Vec<String>,
    /// Docker container name or id (repeatable); the engine is found as the docker CLI finds it.
    #[arg(long = "docker", value_name = "CONTAINER")]
    pub docker: Vec<String>,
    /// Whose home inside containers (default: the container's configured user, else root).
    #[arg(long, value_name = "USER")]
    pub docker_user: Option<String>,
    #[command(flatten)]
    pub ssh_args: SshArgs,
    /// The target's CODEX_HOME (default: its $CODEX_HOME, else ~/.codex of the login user).
    #[arg(long, value_name = "PATH")]
    pub codex_home: Option<String>,
    /// Targets handled at once.
    #[arg(short = 'j', long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,
}

#[derive(Args, Debug)]
pub struct PushArgs {
    #[command(flatten)]
    pub scope: TargetArgs,
    /// Push this auth.json instead of the local login.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["api_key_stdin", "login"])]
    pub from: Option<PathBuf>,
    /// A fresh, separate login for each target, installed directly (never stored here).
    #[arg(long, conflicts_with = "api_key_stdin")]
    pub login: bool,
    #[command(flatten)]
    pub flow: LoginFlowArgs,
    /// Read an API key from stdin and push an API-key login.
    #[arg(long)]
    pub api_key_stdin: bool,
    /// Allow one ChatGPT login on several targets (they will share one session).
    #[arg(long)]
    pub share: bool,
    /// Push even where config.toml selects the keyring credential store.
    #[arg(long)]
    pub force: bool,
    /// Connect and report what would happen; write nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub scope: TargetArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Where the credentials for a push come from.
#[derive(Debug, Clone)]
pub enum Source {
    File(PathBuf),
    ApiKeyStdin,
    /// One login per target (`push --login`).
    FreshLogin(crate::login::LoginOptions),
    LocalLogin,
}

/// Validated targets and connection options.
#[derive(Debug)]
pub struct TargetsPlan {
    pub targets: Vec<TargetSpec>,
    pub ssh: SshOptions,
    pub docker_user: Option<String>,
    pub codex_home: Option<String>,
    pub jobs: usize,
}

#[derive(Debug)]
pub struct PushPlanArgs {
    pub scope: TargetsPlan,
    pub source: Source,
    pub share: bool,
    pub force: bool,
    pub dry_run: bool,
    pub output: OutputArgs,
}

impl TargetArgs {
    pub fn validate(self) -> Result<TargetsPlan, AppError> {
        let mut targets = Vec::new();
        for raw in &self.ssh {
            let d = Destination::parse(raw).map_err(|e| {
                AppError::usage(
                    e.to_string(),
                    Some("use alias, user@host, host:port or ssh://user@host:port"),
                )
            })?;
            targets.push(TargetSpec::Ssh(d));
        }
        for name in &self.docker {
            let valid = !name.is_empty()
                && !name.starts_with('-')
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            if !valid {
                return Err(AppError::usage(
                    format!("bad container name {name:?}"),
                    Some("give a container name or id as `docker ps` shows it"),
                ));
            }
            targets.push(TargetSpec::Docker(name.clone()));
        }
        if let Some(u) = &self.docker_user {
            if u.is_empty() || u.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(AppError::usage(
                    format!("bad --docker-user {u:?}"),
                    Some("use a user name or uid[:gid] of the image"),
                ));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for t in &targets {
            if !seen.insert(t.display()) {
                return Err(AppError::usage(
                    format!("target {} is named twice", t.display()),
                    Some("name each target once"),
                ));
            }
        }
        if let Some(h) = &self.codex_home {
            if h.is_empty() || h.contains('\n') || h.contains('\0') {
                return Err(AppError::usage(
                    "--codex-home must be a non-empty path on one line",
                    None,
                ));
            }
        }
        Ok(TargetsPlan {
            targets,
            ssh: self.ssh_args.validate()?,
            docker_user: self.docker_user,
            codex_home: self.codex_home,
            jobs: self.jobs as usize,
        })
    }
}

impl PushArgs {
    pub fn validate(self) -> Result<PushPlanArgs, AppError> {
        if self.scope.ssh.is_empty() && self.scope.docker.is_empty() {
            return Err(AppError::usage(
                "no targets: name at least one",
                Some("codex-auth push --ssh user@host, or --docker CONTAINER"),
            ));
        }
        let scope = self.scope.validate()?;
        let source = match (&self.from, self.api_key_stdin, self.login) {
            (Some(f), _, _) => Source::File(f.clone()),
            (None, true, _) => Source::ApiKeyStdin,
            (None, false, true) => Source::FreshLogin(self.flow.validate()?),
            (None, false, false) => Source::LocalLogin,
        };
        Ok(PushPlanArgs {
            scope,
            source,
            share: self.share,
            force: self.force,
            dry_run: self.dry_run,
            output: self.output,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<PushPlanArgs, AppError> {
        let cli = Cli::try_parse_from(args).map_err(|e| AppError::usage(e.to_string(), None))?;
        match cli.command {
            Command::Push(p) => p.validate(),
            _ => panic!("not a push"),
        }
    }

    #[test]
    fn push_needs_a_target_and_valid_destinations() {
        assert!(parse(&["codex-auth", "push"]).is_err());
        assert!(parse(&["codex-auth", "push", "--ssh", "h:0"]).is_err());
        assert!(parse(&["codex-auth", "push", "--ssh", "a", "--ssh", "a"]).is_err());
        assert!(parse(&["codex-auth", "push", "--ssh", "a", "-o", "Bogus"]).is_err());
        let p = parse(&[
            "codex-auth",
            "push",
            "--ssh",
            "a",
            "--ssh",
            "u@b:2222",
            "-o",
            "Port=1",
        ])
        .unwrap();
        assert_eq!(p.scope.targets.len(), 2);
        assert!(matches!(p.source, Source::LocalLogin));
    }

    #[test]
    fn from_and_api_key_stdin_conflict() {
        assert!(parse(&[
            "codex-auth",
            "push",
            "--ssh",
            "a",
            "--from",
            "x",
            "--api-key-stdin"
        ])
        .is_err());
    }
}
