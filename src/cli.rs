//! The command line: clap types, and their conversion into validated plans. No I/O
//! here, so a bad flag never costs a connection; a flag that does not apply to the
//! chosen mode is refused (exit 2), never ignored. Completions and the man page are
//! generated from these same definitions.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::error::AppError;
use crate::login::{Issuer, LoginOptions, DEFAULT_CLIENT_ID, DEFAULT_ISSUER};
use crate::report::Verbosity;
use crate::targets::{Kind, KindArgs, KindContexts, SshConnectArgs, TargetSpec};

#[derive(Parser, Debug)]
#[command(
    name = "codex-auth",
    version,
    about = "Install a Codex CLI login on SSH hosts and containers, safely",
    after_help = "Exit codes: 0 all targets done, 1 a target failed, 2 bad usage or input (nothing touched), 130 interrupted."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Install a login on targets: atomic write, 0700/0600, verified, backed up.
    Push(PushArgs),
    /// Show what login is installed here and on targets (reads only).
    Status(StatusArgs),
    /// Log in here (browser, device code or API key) and save it where Codex reads it.
    Login(LoginArgs),
    /// Take the login off this machine or targets only; --revoke ends its session everywhere.
    Logout(LogoutArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print the manual page (roff), for `man -l -` or a man directory; with COMMAND, that command's page (every flag).
    Man(ManArgs),
}

#[derive(Args, Debug)]
pub(crate) struct ManArgs {
    /// A command: its own page, codex-auth-COMMAND(1), with all its flags.
    #[arg(value_parser = ["push", "status", "login", "logout", "completions", "man"])]
    pub command: Option<String>,
}

#[derive(Args, Debug)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// How a fresh login is made (shared by `login` and `push --login`).
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct LoginFlowArgs {
    /// Use the device-code flow: a code and a URL to open on any device.
    #[arg(long)]
    pub device_auth: bool,
    /// Print the sign-in URL only; do not start a browser.
    #[arg(long)]
    pub no_browser: bool,
    #[arg(
        long,
        value_name = "URL",
        help = "OAuth issuer, for gateways and tests [env: CODEX_AUTH_ISSUER] [default: https://auth.openai.com]"
    )]
    pub issuer: Option<String>,
    /// OAuth client id [env: CODEX_AUTH_CLIENT_ID] [default: Codex's].
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// Seconds the browser login waits for the sign-in to finish [default: 600].
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout: Option<u64>,
}

impl LoginFlowArgs {
    /// The first of these flags given on the command line, if any.
    fn given(&self) -> Option<&'static str> {
        [
            (self.device_auth, "--device-auth"),
            (self.no_browser, "--no-browser"),
            (self.issuer.is_some(), "--issuer"),
            (self.client_id.is_some(), "--client-id"),
            (self.timeout.is_some(), "--timeout"),
        ]
        .into_iter()
        .find_map(|(given, flag)| given.then_some(flag))
    }

    /// The issuer's side of a sign-in: flag, else environment, else Codex's defaults.
    fn issuer(&self) -> Result<Issuer, AppError> {
        let from_env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let raw = self
            .issuer
            .clone()
            .or_else(|| from_env("CODEX_AUTH_ISSUER"))
            .unwrap_or_else(|| DEFAULT_ISSUER.to_string());
        let base = raw.trim_end_matches('/').to_string();
        if !(base.starts_with("https://") || base.starts_with("http://"))
            || base.contains(char::is_whitespace)
        {
            return Err(AppError::usage(
                format!("bad --issuer {raw:?}"),
                Some("give the issuer's base URL, like https://auth.openai.com"),
            ));
        }
        let client_id = self
            .client_id
            .clone()
            .or_else(|| from_env("CODEX_AUTH_CLIENT_ID"))
            .unwrap_or_else(|| DEFAULT_CLIENT_ID.to_string());
        if client_id.is_empty() || client_id.contains(|c: char| c.is_whitespace() || c == '&') {
            return Err(AppError::usage(
                format!("bad --client-id {client_id:?}"),
                Some("give the OAuth client id the issuer registered"),
            ));
        }
        Ok(Issuer { base, client_id })
    }

    pub(crate) fn options(&self) -> Result<LoginOptions, AppError> {
        if self.device_auth {
            if let Some(flag) = [
                (self.timeout.is_some(), "--timeout"),
                (self.no_browser, "--no-browser"),
            ]
            .into_iter()
            .find_map(|(given, flag)| given.then_some(flag))
            {
                return Err(not_with(
                    flag,
                    "--device-auth (no browser is started, and the issuer's code expiry bounds the wait)",
                    "drop it",
                ));
            }
        }
        Ok(LoginOptions {
            issuer: self.issuer()?,
            device: self.device_auth,
            no_browser: self.no_browser,
            timeout: Duration::from_secs(self.timeout.unwrap_or(600)),
        })
    }
}

#[derive(Args, Debug)]
pub(crate) struct LoginArgs {
    #[command(flatten)]
    pub flow: LoginFlowArgs,
    /// Read an API key from stdin instead of signing in.
    #[arg(long, conflicts_with_all = ["device_auth", "no_browser"])]
    pub api_key_stdin: bool,
    /// Run `codex login` on this SSH host and tunnel its callback here (browser here); with --device-auth, its device-code login (no tunnel; repeatable: several hosts at once).
    #[arg(long, value_name = "DEST", conflicts_with = "api_key_stdin")]
    pub forward: Vec<String>,
    /// With --forward: only hold the tunnel (ports 1455 and 1457); run `codex login` yourself.
    #[arg(long, requires = "forward")]
    pub no_run: bool,
    #[command(flatten)]
    pub ssh: SshConnectArgs,
    /// Replace a login of another account.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// What `login` is asked to do.
pub(crate) enum LoginPlan {
    /// Sign in here (browser or device code).
    SignIn(LoginOptions),
    /// An API key from stdin.
    ApiKey,
    /// The host's own `codex login`, tunnelled.
    Forward(crate::ops::forward::ForwardPlan),
    /// The hosts' own `codex login --device-auth`, all at once.
    ForwardDevice(crate::ops::forward::DevicePlan),
}

fn not_with(flag: &str, mode: &str, hint: &str) -> AppError {
    AppError::usage(format!("{flag} does not apply to {mode}"), Some(hint))
}

impl LoginArgs {
    pub(crate) fn plan(&self) -> Result<LoginPlan, AppError> {
        if self.flow.device_auth && !self.forward.is_empty() {
            if let Some(flag) = [
                (self.flow.client_id.is_some(), "--client-id"),
                (self.flow.timeout.is_some(), "--timeout"),
                (self.flow.no_browser, "--no-browser"),
                (self.no_run, "--no-run"),
                (self.force, "--force"),
            ]
            .into_iter()
            .find_map(|(given, flag)| given.then_some(flag))
            {
                return Err(not_with(
                    flag,
                    "login --forward --device-auth (the hosts' own codex login signs in)",
                    "drop it",
                ));
            }
            let mut seen = std::collections::HashSet::new();
            let mut dests = Vec::new();
            for raw in &self.forward {
                if !seen.insert(raw.clone()) {
                    return Err(AppError::usage(
                        format!("--forward {raw} is named twice"),
                        Some("name each host once"),
                    ));
                }
                dests.push(crate::targets::ssh_destination(raw)?);
            }
            // For tests against a local issuer only: Codex takes it from a hidden flag.
            let issuer = match &self.flow.issuer {
                Some(_) => Some(self.flow.issuer()?.base),
                None => None,
            };
            return Ok(LoginPlan::ForwardDevice(crate::ops::forward::DevicePlan {
                dests,
                ssh: self.ssh.clone().options()?,
                issuer,
            }));
        }
        if self.forward.len() > 1 {
            return Err(AppError::usage(
                format!(
                    "{} --forward hosts, and the browser login goes to one host at a time (its callback port is fixed)",
                    self.forward.len()
                ),
                Some("add --device-auth to sign in on several hosts at once"),
            ));
        }
        if let Some(raw) = self.forward.first() {
            if let Some(flag) = [
                (self.flow.issuer.is_some(), "--issuer"),
                (self.flow.client_id.is_some(), "--client-id"),
                (self.flow.timeout.is_some(), "--timeout"),
                (self.force, "--force"),
            ]
            .into_iter()
            .find_map(|(given, flag)| given.then_some(flag))
            {
                return Err(not_with(
                    flag,
                    "login --forward (the host's own codex login signs in)",
                    "drop it, or configure the issuer in the host's Codex",
                ));
            }
            if self.no_run && self.output.json {
                return Err(not_with(
                    "--json",
                    "login --forward --no-run (only the tunnel is held; there is nothing to report)",
                    "drop --json",
                ));
            }
            return Ok(LoginPlan::Forward(crate::ops::forward::ForwardPlan {
                dest: crate::targets::ssh_destination(raw)?,
                ssh: self.ssh.clone().options()?,
                no_run: self.no_run,
                no_browser: self.flow.no_browser,
            }));
        }
        if let Some(flag) = self.ssh.given() {
            return Err(not_with(
                flag,
                "a login on this machine",
                "ssh options go with --forward HOST (or with push --ssh)",
            ));
        }
        if self.api_key_stdin {
            if let Some(flag) = self.flow.given() {
                return Err(not_with(
                    flag,
                    "--api-key-stdin",
                    "an API key needs no sign-in; drop the sign-in flags",
                ));
            }
            return Ok(LoginPlan::ApiKey);
        }
        Ok(LoginPlan::SignIn(self.flow.options()?))
    }
}

#[derive(Args, Debug, Clone, Default)]
pub(crate) struct OutputArgs {
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

impl OutputArgs {
    pub(crate) fn verbosity(&self) -> Verbosity {
        if self.quiet {
            Verbosity::Quiet
        } else if self.verbose > 0 {
            Verbosity::Verbose
        } else {
            Verbosity::Normal
        }
    }
}

/// Where to act: targets of every kind and how to reach them (shared by push and status).
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct TargetArgs {
    #[command(flatten)]
    pub kinds: KindArgs,
    /// The target's CODEX_HOME (default: its $CODEX_HOME, else ~/.codex of the login user).
    #[arg(long, value_name = "PATH")]
    pub codex_home: Option<String>,
    /// Targets handled at once [default: 16].
    #[arg(short = 'j', long, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: Option<u16>,
    /// Seconds one target may take before it is given up (waits for Codex's locks and a sign-in come on top) [default: 300].
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub target_timeout: Option<u64>,
}

/// Validated targets and connection options.
pub(crate) struct TargetsPlan {
    pub targets: Vec<TargetSpec>,
    /// Each kind's context; some also name targets found when the run starts
    /// (`--docker-filter`), which join `targets` then.
    pub kinds: KindContexts,
    pub codex_home: Option<String>,
    pub jobs: usize,
    pub target_timeout: Duration,
}

impl TargetsPlan {
    /// Whether any target is named, or will be found when the run starts.
    pub(crate) fn names_targets(&self) -> bool {
        !self.targets.is_empty() || self.kinds.finds_more()
    }
}

impl TargetArgs {
    pub(crate) fn plan(&self) -> Result<TargetsPlan, AppError> {
        self.plan_reading_stdin(None)
    }

    /// As [`TargetArgs::plan`], when `stdin` (a flag's name) already reads stdin: a
    /// `--ssh @-` then is refused before anything is read.
    pub(crate) fn plan_reading_stdin(
        &self,
        stdin: Option<String>,
    ) -> Result<TargetsPlan, AppError> {
        let mut stdin = stdin;
        let targets = self.kinds.specs(&mut stdin)?;
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
                    Some("give the Codex home as a path on the target, like ~/.codex"),
                ));
            }
        }
        Ok(TargetsPlan {
            targets,
            kinds: self.kinds.contexts()?,
            codex_home: self.codex_home.clone(),
            jobs: usize::from(self.jobs.unwrap_or(16)),
            target_timeout: Duration::from_secs(self.target_timeout.unwrap_or(300)),
        })
    }

    /// The first flag given that only means something for targets (`--codex-home`,
    /// `-j`, `--target-timeout`, and how each kind is reached, like ssh's `-F`/`-o`/`-i`,
    /// except for the kind `source` is of: a source of that kind still uses them).
    fn target_only_flag(&self, source: Option<Kind>) -> Option<&'static str> {
        [
            (self.codex_home.is_some(), "--codex-home"),
            (self.jobs.is_some(), "-j"),
            (self.target_timeout.is_some(), "--target-timeout"),
        ]
        .into_iter()
        .find_map(|(given, flag)| given.then_some(flag))
        .or_else(|| self.kinds.option_flag(source))
    }

    /// A run on this machine alone takes none of the target-only flags: each is refused
    /// (exit 2) rather than silently ignored.
    pub(crate) fn refuse_target_flags_without_targets(
        &self,
        plan: &TargetsPlan,
        source: Option<Kind>,
        mode: &str,
    ) -> Result<(), AppError> {
        if plan.names_targets() {
            return Ok(());
        }
        match self.target_only_flag(source) {
            Some(flag) => {
                let kinds: Vec<&str> = crate::targets::kind_examples()
                    .iter()
                    .filter_map(|e| e.split(' ').next())
                    .collect();
                Err(not_with(
                    flag,
                    mode,
                    &format!(
                        "it applies to {} targets; drop it, or name a target",
                        kinds.join(" and ")
                    ),
                ))
            }
            None => Ok(()),
        }
    }

    /// The first target or target flag given at all.
    pub(crate) fn given(&self) -> Option<&'static str> {
        self.kinds
            .naming_flag()
            .or_else(|| self.target_only_flag(None))
    }
}

#[derive(Args, Debug)]
pub(crate) struct PushArgs {
    #[command(flatten)]
    pub scope: TargetArgs,
    /// Push this auth.json, or the login a place holds (ssh:DEST, docker:CONTAINER, local), instead of the local login.
    #[arg(long, value_name = "FILE|PLACE", conflicts_with_all = ["api_key_stdin", "access_token_stdin", "login"])]
    pub from: Option<String>,
    /// With --from PLACE: take the login off the source once the destination verified it (one destination).
    #[arg(long = "move", requires = "from")]
    pub move_: bool,
    /// Install into this machine's Codex home too (file or keyring, as its config.toml says).
    #[arg(long)]
    pub local: bool,
    /// A fresh, separate login for each target, installed directly (never stored here).
    #[arg(long, conflicts_with_all = ["api_key_stdin", "access_token_stdin"])]
    pub login: bool,
    #[command(flatten)]
    pub flow: LoginFlowArgs,
    /// Read an API key from stdin and push an API-key login.
    #[arg(long, conflicts_with = "access_token_stdin")]
    pub api_key_stdin: bool,
    /// Read a Business/Enterprise access token from stdin and push it (as `codex login --with-access-token` stores it).
    #[arg(long)]
    pub access_token_stdin: bool,
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

/// Where the credentials for a push come from.
#[derive(Debug)]
pub(crate) enum Source {
    File(PathBuf),
    /// The login a place holds (`--from ssh:DEST`, `docker:NAME`, `local`).
    Place(crate::ops::push::Place),
    ApiKeyStdin,
    AccessTokenStdin,
    /// One login per target (`push --login`).
    FreshLogin(LoginOptions),
    LocalLogin,
}

/// A validated push.
pub(crate) struct PushPlan {
    pub scope: TargetsPlan,
    pub source: Source,
    /// Install into this machine too (`--local`).
    pub local: bool,
    /// Take the login off the source afterwards (`--move`).
    pub move_source: bool,
}

/// `--from` as given: a place (`KIND:ADDRESS`, like `ssh:DEST` or `docker:NAME`, or
/// `local`) or a file path.
fn parse_from(raw: &str) -> Result<Source, AppError> {
    use crate::ops::push::Place;
    if raw == "local" {
        return Ok(Source::Place(Place::Local));
    }
    if let Some((kind, _)) = raw.split_once(':') {
        // `KIND:REST` names a place; a path with a colon is written ./a:b (and a
        // one-letter kind is a Windows drive).
        let word = kind.len() > 1 && kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if word {
            return match TargetSpec::parse_address(raw)? {
                Some(spec) => Ok(Source::Place(Place::Target(spec))),
                None => {
                    let places = crate::targets::kind_addresses();
                    Err(AppError::usage(
                        format!("unknown place kind {kind:?} in --from {raw}"),
                        Some(&format!(
                            "--from takes {}, local, or a file (a path with a colon: ./name:x)",
                            places.join(", ")
                        )),
                    ))
                }
            };
        }
    }
    Ok(Source::File(PathBuf::from(raw)))
}

impl PushArgs {
    pub(crate) fn plan(&self) -> Result<PushPlan, AppError> {
        let reader = if self.api_key_stdin {
            Some("--api-key-stdin".to_string())
        } else if self.access_token_stdin {
            Some("--access-token-stdin".to_string())
        } else {
            None
        };
        let scope = self.scope.plan_reading_stdin(reader)?;
        if !scope.names_targets() && !self.local {
            let mut ways = crate::targets::kind_examples();
            ways.push("--local");
            return Err(AppError::usage(
                "no targets: name at least one",
                Some(&format!("codex-auth push {}", ways.join(", or "))),
            ));
        }
        if self.login && self.local {
            return Err(not_with(
                "--local",
                "push --login (a fresh sign-in per target)",
                "sign in here with `codex-auth login`",
            ));
        }
        if self.share && (self.login || self.move_) {
            return Err(not_with(
                "--share",
                if self.login {
                    "push --login (every target gets a session of its own)"
                } else {
                    "push --move (the session moves, it is not shared)"
                },
                "drop --share",
            ));
        }
        if !self.login {
            if let Some(flag) = self.flow.given() {
                return Err(not_with(
                    flag,
                    "a push without --login",
                    "add --login for a fresh sign-in per target, or drop the flag",
                ));
            }
        }
        let source = if let Some(f) = &self.from {
            parse_from(f)?
        } else if self.api_key_stdin {
            Source::ApiKeyStdin
        } else if self.access_token_stdin {
            Source::AccessTokenStdin
        } else if self.login {
            Source::FreshLogin(self.flow.options()?)
        } else {
            Source::LocalLogin
        };
        let source_kind = match &source {
            Source::Place(p) => p.spec().map(TargetSpec::kind),
            _ => None,
        };
        self.scope.refuse_target_flags_without_targets(
            &scope,
            source_kind,
            "a push to this machine only (--local)",
        )?;
        if let Source::Place(place) = &source {
            let same = match place.spec() {
                None => self.local,
                Some(spec) => scope.targets.iter().any(|t| t.display() == spec.display()),
            };
            if same {
                return Err(AppError::usage(
                    format!("{} is both the source and a destination", place.display()),
                    Some(
                        "name the place to copy from with --from, and other places as destinations",
                    ),
                ));
            }
        }
        if self.move_ {
            if !matches!(source, Source::Place(_)) {
                return Err(AppError::usage(
                    "--move takes a login off a place: it needs --from ssh:DEST, docker:CONTAINER or local",
                    Some("to copy a file, drop --move"),
                ));
            }
            let n = scope.targets.len() + usize::from(self.local);
            if n > 1 || scope.kinds.finds_more() {
                return Err(AppError::usage(
                    format!("--move takes a session to one destination, and {n} are named"),
                    Some("move to one place; give the others logins of their own (push --login)"),
                ));
            }
        }
        Ok(PushPlan {
            scope,
            source,
            local: self.local,
            move_source: self.move_,
        })
    }
}

/// How long a write waits for each of Codex's locks (`CODEX_AUTH_LOCK_WAIT` seconds,
/// default 10) before it gives up as busy.
pub(crate) fn lock_wait() -> Result<Duration, AppError> {
    match std::env::var("CODEX_AUTH_LOCK_WAIT") {
        Err(_) => Ok(Duration::from_secs(10)),
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(secs) if (1..=3600).contains(&secs) => Ok(Duration::from_secs(secs)),
            _ => Err(AppError::usage(
                format!("bad CODEX_AUTH_LOCK_WAIT {v:?}"),
                Some("give whole seconds from 1 to 3600"),
            )),
        },
    }
}

#[derive(Args, Debug)]
pub(crate) struct LogoutArgs {
    #[command(flatten)]
    pub scope: TargetArgs,
    /// This machine too, besides the targets named (alone, a logout is this machine's).
    #[arg(long)]
    pub local: bool,
    /// Also revoke each ChatGPT session removed, at its issuer: every place holding it is signed out.
    #[arg(long)]
    pub revoke: bool,
    /// Keep auth.json.bak (removed with the login by default).
    #[arg(long)]
    pub keep_backup: bool,
    /// Connect and report what would be removed (and revoked); change nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    #[arg(
        long,
        value_name = "URL",
        help = "Issuer for --revoke when a login does not name its own [env: CODEX_AUTH_ISSUER] [default: https://auth.openai.com]"
    )]
    pub issuer: Option<String>,
    /// OAuth client id for --revoke when a login does not name its own [env: CODEX_AUTH_CLIENT_ID].
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub(crate) struct LogoutCliPlan {
    pub scope: TargetsPlan,
    pub local: bool,
    pub revoke: Option<crate::login::Issuer>,
}

impl LogoutArgs {
    pub(crate) fn plan(&self) -> Result<LogoutCliPlan, AppError> {
        let scope = self.scope.plan()?;
        self.scope.refuse_target_flags_without_targets(
            &scope,
            None,
            "a logout of this machine only",
        )?;
        if !self.revoke {
            if let Some(flag) = [
                (self.issuer.is_some(), "--issuer"),
                (self.client_id.is_some(), "--client-id"),
            ]
            .into_iter()
            .find_map(|(given, flag)| given.then_some(flag))
            {
                return Err(not_with(
                    flag,
                    "a logout without --revoke",
                    "add --revoke to end the session at the issuer, or drop the flag",
                ));
            }
        }
        let revoke = if self.revoke {
            let flow = LoginFlowArgs {
                issuer: self.issuer.clone(),
                client_id: self.client_id.clone(),
                ..Default::default()
            };
            Some(flow.issuer()?)
        } else {
            None
        };
        let local = self.local || !scope.names_targets();
        Ok(LogoutCliPlan {
            scope,
            local,
            revoke,
        })
    }
}

#[derive(Args, Debug)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    pub scope: TargetArgs,
    /// Also every place the ledger remembers, marking those that no longer hold what it recorded.
    #[arg(long)]
    pub known: bool,
    /// Drop PLACE from the ledger (as status names it: local, an ssh destination, docker:NAME) and exit.
    #[arg(long, value_name = "PLACE", conflicts_with = "known")]
    pub forget: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

impl StatusArgs {
    /// The places to read: the targets named (the ledger's join them with `--known`).
    /// `--forget` edits the ledger and reads nothing, so it takes no other flag.
    pub(crate) fn plan(&self) -> Result<TargetsPlan, AppError> {
        if self.forget.is_some() {
            let output = [
                (self.output.json, "--json"),
                (self.output.verbose > 0, "-v"),
                (self.output.quiet, "-q"),
            ]
            .into_iter()
            .find_map(|(given, flag)| given.then_some(flag));
            if let Some(flag) = self.scope.given().or(output) {
                return Err(not_with(
                    flag,
                    "status --forget (it only drops a place from the ledger)",
                    "run --forget on its own",
                ));
            }
        }
        let scope = self.scope.plan()?;
        if !self.known {
            self.scope.refuse_target_flags_without_targets(
                &scope,
                None,
                "a status of this machine only",
            )?;
        }
        Ok(scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(args: &[&str]) -> Result<PushPlan, String> {
        let mut argv = vec!["codex-auth", "push"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).map_err(|e| e.kind().to_string())?;
        match cli.command {
            Command::Push(p) => p.plan().map_err(|e| e.message),
            _ => unreachable!("parsed as push"),
        }
    }

    fn login(args: &[&str]) -> Result<LoginPlan, String> {
        let mut argv = vec!["codex-auth", "login"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).map_err(|e| e.kind().to_string())?;
        match cli.command {
            Command::Login(l) => l.plan().map_err(|e| e.message),
            _ => unreachable!("parsed as login"),
        }
    }

    fn err<T>(r: Result<T, String>) -> String {
        match r {
            Ok(_) => panic!("expected an error"),
            Err(e) => e,
        }
    }

    #[test]
    fn push_needs_a_target_and_valid_destinations() {
        assert_eq!(err(push(&[])), "no targets: name at least one");
        assert!(err(push(&["--ssh", "h:0"])).contains("bad port"));
        assert_eq!(
            err(push(&["--ssh", "a", "--ssh", "a"])),
            "target a is named twice"
        );
        assert_eq!(
            err(push(&["--ssh", "a", "-o", "Bogus"])),
            "bad -o option \"Bogus\""
        );
        assert_eq!(
            err(push(&["--docker", "a b"])),
            "bad container name \"a b\""
        );
        let p = push(&["--ssh", "a", "--ssh", "u@b:2222", "-o", "Port=1"]).unwrap();
        assert_eq!(p.scope.targets.len(), 2);
        assert!(matches!(p.source, Source::LocalLogin));
    }

    #[test]
    fn from_and_api_key_stdin_conflict() {
        assert_eq!(
            err(push(&["--ssh", "a", "--from", "x", "--api-key-stdin"])),
            "an argument cannot be used with one or more of the other specified arguments"
        );
    }

    #[test]
    fn flags_that_do_not_apply_are_refused() {
        assert_eq!(
            err(push(&["--ssh", "a", "--device-auth"])),
            "--device-auth does not apply to a push without --login"
        );
        assert_eq!(
            err(push(&["--ssh", "a", "--issuer", "https://x"])),
            "--issuer does not apply to a push without --login"
        );
        assert!(push(&["--ssh", "a", "--login", "--device-auth"]).is_ok());
        assert_eq!(
            err(push(&["--ssh", "a", "--docker-user", "app"])),
            "--docker-user only applies to --docker targets"
        );
        assert_eq!(
            err(login(&["-F", "cfg"])),
            "-F does not apply to a login on this machine"
        );
        assert_eq!(
            err(login(&["--api-key-stdin", "--timeout", "5"])),
            "--timeout does not apply to --api-key-stdin"
        );
        assert_eq!(
            err(login(&["--forward", "h", "--force"])),
            "--force does not apply to login --forward (the host's own codex login signs in)"
        );
        assert!(matches!(
            login(&["--forward", "h", "-F", "cfg"]),
            Ok(LoginPlan::Forward(_))
        ));
    }

    fn status(args: &[&str]) -> Result<TargetsPlan, String> {
        let mut argv = vec!["codex-auth", "status"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).map_err(|e| e.kind().to_string())?;
        match cli.command {
            Command::Status(s) => s.plan().map_err(|e| e.message),
            _ => unreachable!("parsed as status"),
        }
    }

    fn logout(args: &[&str]) -> Result<LogoutCliPlan, String> {
        let mut argv = vec!["codex-auth", "logout"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).map_err(|e| e.kind().to_string())?;
        match cli.command {
            Command::Logout(l) => l.plan().map_err(|e| e.message),
            _ => unreachable!("parsed as logout"),
        }
    }

    #[test]
    fn browser_flags_are_refused_with_device_codes() {
        for args in [
            &["--device-auth", "--timeout", "5"][..],
            &["--device-auth", "--no-browser"][..],
        ] {
            let e = err(login(args));
            assert!(e.ends_with("does not apply to --device-auth (no browser is started, and the issuer's code expiry bounds the wait)"), "{e}");
            let mut push_args = vec!["--ssh", "a", "--login"];
            push_args.extend_from_slice(args);
            assert_eq!(err(push(&push_args)), e);
        }
        assert!(login(&["--timeout", "5", "--no-browser"]).is_ok());
        assert_eq!(
            err(login(&["--forward", "h", "--no-run", "--json"])),
            "--json does not apply to login --forward --no-run (only the tunnel is held; there is nothing to report)"
        );
    }

    #[test]
    fn share_is_refused_where_no_session_is_shared() {
        assert_eq!(
            err(push(&["--ssh", "a", "--ssh", "b", "--login", "--share"])),
            "--share does not apply to push --login (every target gets a session of its own)"
        );
        assert_eq!(
            err(push(&[
                "--ssh", "a", "--from", "docker:c", "--move", "--share"
            ])),
            "--share does not apply to push --move (the session moves, it is not shared)"
        );
        assert!(push(&["--ssh", "a", "--ssh", "b", "--share"]).is_ok());
    }

    #[test]
    fn target_flags_are_refused_when_only_this_machine_is_named() {
        for flag in [
            &["--codex-home", "/x"][..],
            &["-j", "4"][..],
            &["--target-timeout", "9"][..],
            &["-F", "cfg"][..],
            &["-i", "key"][..],
        ] {
            let name = flag[0];
            let mut args = vec!["--local"];
            args.extend_from_slice(flag);
            assert_eq!(
                err(push(&args)),
                format!("{name} does not apply to a push to this machine only (--local)")
            );
            assert_eq!(
                err(logout(flag)),
                format!("{name} does not apply to a logout of this machine only")
            );
            assert_eq!(
                err(status(flag)),
                format!("{name} does not apply to a status of this machine only")
            );
            let mut with_target = vec!["--ssh", "a"];
            with_target.extend_from_slice(flag);
            assert!(status(&with_target).is_ok(), "{flag:?}");
        }
        // An ssh source still connects with -F.
        assert!(push(&["--local", "--from", "ssh:h", "-F", "cfg"]).is_ok());
        assert!(status(&["--known", "-j", "4"]).is_ok());
        assert!(push(&["--docker-filter", "name=x", "--docker-user", "app"]).is_ok());
    }

    #[test]
    fn forget_takes_no_other_flag() {
        for (flag, args) in [
            ("--ssh", &["--ssh", "a"][..]),
            ("--json", &["--json"][..]),
            ("-j", &["-j", "2"][..]),
            ("-v", &["-v"][..]),
        ] {
            let mut argv = vec!["--forget", "local"];
            argv.extend_from_slice(args);
            assert_eq!(
                err(status(&argv)),
                format!("{flag} does not apply to status --forget (it only drops a place from the ledger)")
            );
        }
        assert!(status(&["--forget", "local"]).is_ok());
    }
}
