//! The command line: clap's types, one file per command's arguments, and their
//! conversion into each command's complete options (the types `ops` defines). Nothing
//! here reads a file, stdin or the network: lists, inventories, filters and logins are
//! read by the pipeline's resolve step, so a bad flag never costs a read or a
//! connection. A flag that does not apply to the chosen mode is refused (exit 2), never
//! ignored; "was it typed" is clap's own [`ValueSource`]. Completions and the manual
//! pages are generated from these same definitions.

mod login;
mod logout;
mod manual;
mod push;
mod run;
mod saved;
mod status;
mod sync;

use std::time::Duration;

use clap::builder::{PossibleValue, TypedValueParser};
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

pub(crate) use login::LoginArgs;
pub(crate) use logout::LogoutArgs;
pub(crate) use manual::{CompletionsArgs, ManArgs};
pub(crate) use push::PushArgs;
pub(crate) use run::RunArgs;
pub(crate) use saved::{ForgetArgs, SaveArgs, SwitchArgs};
pub(crate) use status::{StatusArgs, StatusAsk};
pub(crate) use sync::SyncArgs;

use crate::error::AppError;
use crate::login::{Issuer, DEFAULT_CLIENT_ID, DEFAULT_ISSUER};
use crate::report::{Output, Verbosity};
use crate::targets::{Kind, KindArgs, KindContexts, Selection};

#[derive(Parser, Debug)]
#[command(
    name = "codex-auth",
    version,
    about = "Install a Codex CLI login on SSH hosts and containers, safely",
    long_about = "Install a Codex CLI login on SSH hosts and containers, safely.\n\n\
        codex-auth logs in where the browser is (or tunnels a host's own login back to it), \
        installs the login on hosts and containers atomically (0700/0600, under Codex's \
        own locks, verified, judged by the Codex there), tells what is installed where, \
        and takes logins off again. `codex-auth man COMMAND` is each command's manual.",
    after_help = "Exit codes: 0 all targets done, 1 a target failed, 2 bad usage or input (nothing touched), 130 interrupted."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Install a login on targets: atomic write, 0700/0600, verified, backed up.
    ///
    /// The login is this machine's by default (read where its Codex keeps it: auth.json or
    /// the OS keyring), or --from a file or place, a key on stdin, or a fresh sign-in per
    /// target (--login). On each target it lands in $CODEX_HOME/auth.json (else ~/.codex of
    /// the login user) through a temp file that is checked and renamed under Codex's own
    /// locks; a symlink there is replaced, never followed; a different login is kept as
    /// auth.json.bak; Codex's own `codex login status` there judges the result. One ChatGPT
    /// login is not pushed to several places unless --share: its refresh token rotates, so
    /// the first refresh signs the others out.
    #[command(
        after_help = "Examples:\n  codex-auth push --ssh devbox\n  codex-auth push --ssh a --ssh b --docker c --login --device-auth\n  printenv OPENAI_API_KEY | codex-auth push --ssh @hosts.txt --api-key-stdin\n  codex-auth push --docker app-v2 --from docker:app-v1 --move"
    )]
    Push(PushArgs),
    /// Show what login is installed here and on targets (reads only).
    ///
    /// For each place: the file (or keyring entry), the kind of login; for a ChatGPT login
    /// the email, plan, account, access-token expiry and last refresh; for an API key or
    /// access token the masked key; the credential store configured there; Codex's own
    /// verdict where codex is installed; and which places hold the same ChatGPT session
    /// (compared by a hash of the refresh token, never shown). A login that the place's
    /// config.toml makes Codex refuse is REFUSED, a copy whose session was refreshed at
    /// another place STALE. "Not logged in" is a state, not a failure; a target that cannot
    /// be reached is exit 1. What is seen is remembered in the ledger.
    #[command(
        after_help = "Examples:\n  codex-auth status\n  codex-auth status --ssh a --ssh b --docker c --json\n  codex-auth status --known\n  codex-auth status --forget devbox"
    )]
    Status(StatusArgs),
    /// Log in here (browser, device code or API key) and save it where Codex reads it.
    ///
    /// The login is saved where this machine's Codex reads it: $CODEX_HOME/auth.json
    /// (0700/0600, atomically, under Codex's locks), or the OS keyring when its config.toml
    /// says so. The browser sign-in listens on 127.0.0.1 only (port 1455, else 1457) with
    /// PKCE, as `codex login` does. With --forward, the login runs on an ssh host instead
    /// (its own `codex login`), with its callback tunnelled here.
    #[command(
        after_help = "Examples:\n  codex-auth login\n  codex-auth login --device-auth\n  printenv OPENAI_API_KEY | codex-auth login --api-key-stdin\n  codex-auth login --forward devbox\n  codex-auth login --forward web1 --forward web2 --device-auth"
    )]
    Login(LoginArgs),
    /// Take the login off this machine or targets only; --revoke ends its session
    /// everywhere.
    ///
    /// Only the places named are logged out (this machine when none is named); no other
    /// place holding a copy is touched. The removal is as careful as an install: under
    /// Codex's locks, a symlink is removed and never followed, auth.json.bak goes too. On
    /// this machine the keyring entry goes when Codex keeps the login there. A stopped
    /// container is refused (the Docker API can add files, not remove them).
    #[command(
        after_help = "Examples:\n  codex-auth logout\n  codex-auth logout --ssh devbox --docker app --local\n  codex-auth logout --ssh devbox --revoke\n  codex-auth logout --ssh @hosts.txt --dry-run"
    )]
    Logout(LogoutArgs),
    /// Keep one ChatGPT sign-in alive on every place that holds it.
    ///
    /// Every copy of this machine's session is read (the places named, else every place
    /// the ledger says holds it); the newest becomes this machine's, never an older one
    /// over a newer one; it is refreshed here when its access token expires within
    /// --refresh-within (each refresh token is recorded before it is sent, and never sent
    /// twice); and the result is written to every place behind, under Codex's locks and
    /// only where the place still holds what was read. Access-only copies (push
    /// --access-only) get the new access token, never a refresh token. Places holding
    /// another sign-in, an API key or nothing are left alone. A place that cannot be
    /// reached is exit 1 and catches up next time.
    #[command(
        after_help = "Examples:\n  codex-auth sync\n  codex-auth sync --ssh devbox --docker app\n  codex-auth sync --dry-run --json\n  codex-auth push --ssh ci-1 --ssh ci-2 --access-only && codex-auth sync"
    )]
    Sync(SyncArgs),
    /// Keep this machine's current login under a name (several accounts here).
    ///
    /// Wherever the login lives (auth.json or the OS keyring), a copy goes to the state
    /// directory (logins/NAME.json, 0600 in a 0700 directory). `switch NAME` makes it
    /// the current login again; `status --saved` lists the names.
    #[command(
        after_help = "Examples:\n  codex-auth save work\n  codex-auth save personal --force"
    )]
    Save(SaveArgs),
    /// Make a saved login this machine's login.
    ///
    /// The outgoing login is first written back to its own name when Codex refreshed it
    /// meanwhile (a refresh is never lost); a login saved under no name is not
    /// replaced. Refused while a Codex runs with this Codex home (its PID is named), or
    /// waits for it with --wait. Written under Codex's locks, only if the current login
    /// is still what was read.
    #[command(
        after_help = "Examples:\n  codex-auth switch work\n  codex-auth switch personal --wait 300"
    )]
    Switch(SwitchArgs),
    /// Drop a saved login; --revoke also ends its session at the issuer.
    #[command(
        after_help = "Examples:\n  codex-auth forget old-seat\n  codex-auth forget old-seat --revoke"
    )]
    Forget(ForgetArgs),
    /// Run one command with a login that exists on the place only while it runs.
    ///
    /// The login (this machine's, --from saved:NAME, a file, a place's) is lent to a
    /// private temporary Codex home on the place (0700, an unpredictable name in its
    /// TMPDIR) that links the rest of the place's Codex home (config.toml, AGENTS.md,
    /// sessions, ...); CMD runs there with CODEX_HOME set to it, on a terminal when this
    /// one is (so `run --ssh box -- codex` is the interactive Codex there), its output
    /// streamed and its exit status ours; signals (Ctrl-C, TERM, HUP) are passed on.
    /// Afterwards the temporary home is removed, also when the connection is cut or run
    /// is killed (its keeper there sees the connection end), or else by the next run or
    /// status there. The copy is access-only (no refresh token) unless --full. With no
    /// place named, the command runs here.
    #[command(
        after_help = "Examples:\n  codex-auth run --ssh devbox -- codex\n  codex-auth run --docker ci-job -- codex exec \"fix the failing test\"\n  codex-auth run --from saved:work -- codex exec \"summarise the diff\"\n  codex-auth run --ssh box --full -- codex exec hello\n\nExit status: the command's (0-255); 255 when the place was lost before the command's end was seen; before the command starts, 1 (a place out of reach) or 2 (bad input)."
    )]
    Run(RunArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print the manual page (roff), for `man -l -` or a man directory; with COMMAND, that command's page (every flag).
    Man(ManArgs),
}

/// The command line as parsed: the command's arguments, and what was typed.
pub(crate) struct Parsed {
    pub command: Command,
    pub given: Given,
}

/// Parse `args` (the program name first); an error is clap's own (help and version
/// included).
pub(crate) fn parse<I, T>(args: I) -> Result<Parsed, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let definition = Cli::command();
    let matches = definition.clone().try_get_matches_from(args)?;
    let cli = Cli::from_arg_matches(&matches)?;
    let (name, sub) = matches
        .subcommand()
        .map(|(n, m)| (n.to_string(), m.clone()))
        .unwrap_or_default();
    let command = definition
        .find_subcommand(&name)
        .cloned()
        .unwrap_or(definition);
    Ok(Parsed {
        command: cli.command,
        given: Given {
            matches: sub,
            command,
        },
    })
}

/// What the user typed on the command line (not defaults, not the environment), read
/// from clap's [`ValueSource`]; flags named as the user writes them (`-j`, `--json`).
pub(crate) struct Given {
    matches: ArgMatches,
    command: clap::Command,
}

impl Given {
    /// Whether the flag with id `id` (its field's name) was typed.
    pub(crate) fn typed(&self, id: &str) -> bool {
        self.matches.value_source(id) == Some(ValueSource::CommandLine)
    }

    /// The flag with id `id`, as written: its short form where it has one.
    fn spelled(&self, id: &str) -> String {
        let arg = self.command.get_arguments().find(|a| a.get_id() == id);
        match arg {
            Some(a) => match (a.get_short(), a.get_long()) {
                (Some(s), _) => format!("-{s}"),
                (None, Some(l)) => format!("--{l}"),
                (None, None) => id.to_string(),
            },
            None => id.to_string(),
        }
    }

    /// The first of `ids` typed, as written.
    pub(crate) fn first(&self, ids: &[&str]) -> Option<String> {
        ids.iter()
            .find(|id| self.typed(id))
            .map(|id| self.spelled(id))
    }

    /// The first flag typed, in the command's order, other than `except`.
    pub(crate) fn first_except(&self, except: &[&str]) -> Option<String> {
        self.command
            .get_arguments()
            .map(|a| a.get_id().as_str())
            .filter(|id| !except.contains(id))
            .find(|id| self.typed(id))
            .map(|id| self.spelled(id))
    }

    /// Refuse the first of `ids` typed: it does not apply to `mode`.
    pub(crate) fn refuse(&self, ids: &[&str], mode: &str, hint: &str) -> Result<(), AppError> {
        match self.first(ids) {
            Some(flag) => Err(not_with(&flag, mode, hint)),
            None => Ok(()),
        }
    }
}

/// The usage error for a flag that does not apply to what was asked.
pub(crate) fn not_with(flag: &str, mode: &str, hint: &str) -> AppError {
    AppError::usage(format!("{flag} does not apply to {mode}"), Some(hint))
}

/// How the user wants to see the run (every command that reports takes these).
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct OutputArgs {
    /// One JSON document on stdout; human text goes to stderr.
    ///
    /// The document has the command, one entry per place (with `ok`, and `error`
    /// as {class, message, hint} when it failed) and a summary; no progress is drawn.
    /// The error classes are listed in docs/json.md.
    #[arg(long)]
    pub json: bool,
    /// More detail (never secrets).
    ///
    /// Each place's stages with their times, which Codex judged (its path and
    /// version: one more `codex --version` at each place), the user, the home's source
    /// and the modes read back. Twice (-vv): also each ssh connection's round trips.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors and the summary.
    ///
    /// Places that are done are left out of the table; notes are not shown;
    /// warnings are.
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

    /// How the run is reported.
    pub(crate) fn output(&self) -> Output {
        Output {
            json: self.json,
            trace: self.verbose > 1,
            verbosity: self.verbosity(),
        }
    }

    /// Whether reports say which Codex version judged (`-v`, `--json`): it costs one
    /// more process at each place.
    pub(crate) fn codex_version(&self) -> bool {
        self.json || self.verbose > 0
    }
}

/// Where to act: targets of every kind and how to reach them (push, status, logout).
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct TargetArgs {
    #[command(flatten)]
    pub kinds: KindArgs,
    /// The targets' CODEX_HOME.
    ///
    /// Default: $CODEX_HOME as the target's login session sets it (a container's
    /// configured environment), else ~/.codex of the login user. `~/` is that user's
    /// home; a relative path is taken from the directory a command there starts in.
    /// This machine's Codex home is always its own $CODEX_HOME, else ~/.codex.
    /// Example: --codex-home /srv/codex
    #[arg(long, value_name = "PATH")]
    pub codex_home: Option<String>,
    /// Targets handled at once.
    ///
    /// Each target has one connection for the whole run; a failing target never
    /// stops the others. Handshakes to one server are paced so sshd's MaxStartups
    /// does not drop any. Far-away hosts mostly wait for the network, so 32 at once
    /// hide the latency of a fleet behind that of one host.
    #[arg(short = 'j', long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,
    /// Seconds one target may take before it is given up.
    ///
    /// The wait for Codex's locks there (CODEX_AUTH_LOCK_WAIT) and a sign-in
    /// (push --login) come on top. A target given up is reported as `timeout`, saying
    /// in which stage and what that leaves there.
    #[arg(long, value_name = "SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub target_timeout: u64,
}

/// The ids of the flags that only mean something for targets.
const TARGET_ONLY: [&str; 3] = ["codex_home", "jobs", "target_timeout"];

impl TargetArgs {
    /// The places named, checked with nothing read, this machine where `this_machine`
    /// puts it.
    pub(crate) fn selection(
        &self,
        this_machine: Option<crate::targets::ThisMachine>,
    ) -> Result<Selection, AppError> {
        let selection = Selection {
            kinds: self.kinds.clone(),
            this_machine,
        };
        selection.check()?;
        self.contexts()?;
        if let Some(h) = &self.codex_home {
            if h.is_empty() || h.contains('\n') || h.contains('\0') {
                return Err(AppError::usage(
                    "--codex-home must be a non-empty path on one line",
                    Some("give the Codex home as a path on the target, like ~/.codex"),
                ));
            }
        }
        Ok(selection)
    }

    /// Each kind's context for the run (checked, not connected).
    pub(crate) fn contexts(&self) -> Result<KindContexts, AppError> {
        self.kinds.contexts()
    }

    pub(crate) fn jobs(&self) -> usize {
        usize::from(self.jobs)
    }

    pub(crate) fn target_timeout(&self) -> Duration {
        Duration::from_secs(self.target_timeout)
    }

    /// A run on this machine alone takes none of the target-only flags (`--codex-home`,
    /// `-j`, `--target-timeout`, and how each kind is reached, except the kind of
    /// `source`, which still uses them): each is refused rather than ignored.
    pub(crate) fn refuse_target_flags_alone(
        &self,
        given: &Given,
        source: Option<Kind>,
        mode: &str,
    ) -> Result<(), AppError> {
        if self.kinds.naming_flag().is_some() {
            return Ok(());
        }
        let flag = given
            .first(&TARGET_ONLY)
            .or_else(|| self.kinds.option_flag(source).map(str::to_string));
        match flag {
            Some(flag) => Err(not_with(
                &flag,
                mode,
                &format!(
                    "it applies to {} targets; drop it, or name a target",
                    crate::targets::remote_kind_flags().join(" and ")
                ),
            )),
            None => Ok(()),
        }
    }
}

/// How a fresh login is made (shared by `login` and `push --login`).
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct LoginFlowArgs {
    /// Use the device-code flow: a code and a URL to open on any device.
    ///
    /// No browser is started here and no port is opened: sign in on any device
    /// and enter the code shown (valid 15 minutes). The account must allow device-code
    /// login (ChatGPT: Settings > Security); the error says so when it does not.
    #[arg(long)]
    pub device_auth: bool,
    /// Print the sign-in URL only; do not start a browser.
    ///
    /// For a browser on another machine that can reach 127.0.0.1 here (an ssh -L
    /// tunnel, say). The URL is always printed, with or without this flag.
    #[arg(long)]
    pub no_browser: bool,
    /// The OAuth issuer, for gateways and tests.
    ///
    /// Its base URL (https://, or http:// for a test issuer on loopback). With
    /// `login --forward`, the issuer whose sign-in URL the host's Codex may print: any
    /// other URL it prints is refused, not opened.
    #[arg(long, value_name = "URL", env = "CODEX_AUTH_ISSUER", default_value = DEFAULT_ISSUER, value_parser = OrDefault(DEFAULT_ISSUER))]
    pub issuer: String,
    /// The OAuth client id the issuer registered (Codex's by default).
    #[arg(long, value_name = "ID", env = "CODEX_AUTH_CLIENT_ID", default_value = DEFAULT_CLIENT_ID, value_parser = OrDefault(DEFAULT_CLIENT_ID))]
    pub client_id: String,
    /// Seconds the browser sign-in waits for its callback.
    ///
    /// The callback server on 127.0.0.1 is stopped then, and its port released.
    #[arg(long, value_name = "SECS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout: u64,
}

/// The ids of the flags that say how to sign in.
const SIGN_IN: [&str; 5] = [
    "device_auth",
    "no_browser",
    "issuer",
    "client_id",
    "timeout",
];

impl LoginFlowArgs {
    /// The issuer's side of a sign-in, checked.
    pub(crate) fn issuer(&self) -> Result<Issuer, AppError> {
        issuer(&self.issuer, &self.client_id)
    }

    /// The sign-in asked for, checked: browser-only flags are refused with a device code.
    pub(crate) fn flow(&self, given: &Given) -> Result<crate::login::Flow, AppError> {
        if self.device_auth {
            given.refuse(
                &["timeout", "no_browser"],
                "--device-auth (no browser is started, and the issuer's code expiry bounds the wait)",
                "drop it",
            )?;
        }
        Ok(crate::login::Flow {
            issuer: self.issuer()?,
            device: self.device_auth,
            no_browser: self.no_browser,
            timeout: Duration::from_secs(self.timeout),
        })
    }
}

/// An issuer from its base URL and client id, checked: this machine sends tokens there,
/// so https, or http only to loopback (a test issuer).
pub(crate) fn issuer(raw: &str, client_id: &str) -> Result<Issuer, AppError> {
    let issuer = issuer_for_a_host(raw, client_id)?;
    if let Some(rest) = issuer.base.strip_prefix("http://") {
        let name = match rest.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => rest.split([':', '/']).next().unwrap_or(""),
        };
        if !matches!(name, "127.0.0.1" | "localhost" | "::1") {
            return Err(AppError::usage(
                format!("--issuer {raw:?} is plain http to another machine: tokens would cross the network in the clear"),
                Some("use its https:// URL (http:// is for a test issuer on 127.0.0.1)"),
            ));
        }
    }
    Ok(issuer)
}

/// An issuer named for a host's own Codex (`login --forward --device-auth`): this
/// machine sends it nothing, so only its form is checked.
pub(crate) fn issuer_for_a_host(raw: &str, client_id: &str) -> Result<Issuer, AppError> {
    let base = raw.trim_end_matches('/').to_string();
    if !(base.starts_with("https://") || base.starts_with("http://"))
        || base.contains(|c: char| c.is_whitespace() || c.is_control())
    {
        return Err(AppError::usage(
            format!("bad --issuer {raw:?}"),
            Some("give the issuer's base URL, like https://auth.openai.com"),
        ));
    }
    if client_id.is_empty() || client_id.contains(|c: char| c.is_whitespace() || c == '&') {
        return Err(AppError::usage(
            format!("bad --client-id {client_id:?}"),
            Some("give the OAuth client id the issuer registered"),
        ));
    }
    Ok(Issuer {
        base,
        client_id: client_id.to_string(),
    })
}

/// A value whose empty form (an environment variable set to nothing) means the default.
#[derive(Clone)]
struct OrDefault(&'static str);

impl TypedValueParser for OrDefault {
    type Value = String;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        let value = value.to_string_lossy();
        Ok(if value.is_empty() {
            self.0.to_string()
        } else {
            value.into_owned()
        })
    }
}

/// The names of the commands, for `man COMMAND` (from the definition itself).
#[derive(Clone)]
pub(crate) struct CommandName;

impl TypedValueParser for CommandName {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        let name = value.to_string_lossy().into_owned();
        if Cli::command().find_subcommand(&name).is_some() {
            return Ok(name);
        }
        let mut err = clap::Error::new(clap::error::ErrorKind::InvalidValue).with_cmd(cmd);
        if let Some(arg) = arg {
            err.insert(
                clap::error::ContextKind::InvalidArg,
                clap::error::ContextValue::String(arg.to_string()),
            );
        }
        err.insert(
            clap::error::ContextKind::InvalidValue,
            clap::error::ContextValue::String(name),
        );
        err.insert(
            clap::error::ContextKind::ValidValue,
            clap::error::ContextValue::Strings(command_names()),
        );
        Err(err)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            command_names().into_iter().map(PossibleValue::new),
        ))
    }
}

fn command_names() -> Vec<String> {
    Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .filter(|n| n != "help")
        .collect()
}

/// How long a write waits for each of Codex's locks: `CODEX_AUTH_LOCK_WAIT` seconds, 10
/// by default; checked with the flags, before anything is read.
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

/// Refuse a second reader of stdin: `readers` in the order they were decided.
pub(crate) fn one_stdin_reader(readers: &[String]) -> Result<(), AppError> {
    if let [first, second, ..] = readers {
        return Err(AppError::usage(
            format!("{second} and {first} both read stdin"),
            Some("give one of them a file instead"),
        ));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `codex-auth ARGS` parsed, or clap's error kind.
    pub(crate) fn parsed(args: &[&str]) -> Result<Parsed, String> {
        let mut argv = vec!["codex-auth"];
        argv.extend_from_slice(args);
        parse(argv).map_err(|e| e.kind().to_string())
    }

    pub(crate) fn err<T>(r: Result<T, String>) -> String {
        match r {
            Ok(_) => panic!("expected an error"),
            Err(e) => e,
        }
    }

    #[test]
    fn the_man_command_takes_the_commands_there_are() {
        assert!(parsed(&["man", "push"]).is_ok());
        assert!(parsed(&["man", "logout"]).is_ok());
        assert_eq!(
            err(parsed(&["man", "nope"])),
            "one of the values isn't valid for an argument"
        );
        assert_eq!(
            command_names(),
            [
                "push",
                "status",
                "login",
                "logout",
                "sync",
                "save",
                "switch",
                "forget",
                "run",
                "completions",
                "man"
            ]
        );
    }

    #[test]
    fn an_empty_environment_value_means_the_default() {
        let value = OrDefault("dflt")
            .parse_ref(&Cli::command(), None, std::ffi::OsStr::new(""))
            .unwrap();
        assert_eq!(value, "dflt");
    }
}
