//! `login`: sign in here (browser or device code) or take an API key, and save the
//! login where this machine's Codex reads it (the one local write, `auth::local`), with
//! Codex's verdict; or run the login on ssh hosts with `--forward` (the mechanics are
//! the ssh kind's), saying first which other places would be signed out by it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::source;
use super::{fan_out, Run, TargetOutcome};
use crate::auth::local::{self, LocalHome, Saved, WriteOptions};
use crate::auth::store::CredentialStore;
use crate::auth::{os_keyring, AuthFile};
use crate::error::AppError;
use crate::ledger::{self, Ledger};
use crate::login::{Flow, LoginUi};
use crate::ssh::{Destination, SshOptions};
use crate::targets::{
    ForwardError, ForwardReport, ForwardUi, HostLogin, InspectRequest, TargetError, TargetSpec,
};

/// A validated `login` (from `cli`).
pub(crate) enum LoginOptions {
    /// Sign in here (browser or device code), or take an API key from stdin, and save
    /// the login here.
    Here(HereOptions),
    /// The host's own `codex login`, tunnelled.
    Forward(ForwardOptions),
    /// The hosts' own `codex login --device-auth`, all at once.
    ForwardDevice(DeviceOptions),
}

/// Where the login saved here comes from, and how it is saved.
pub(crate) struct HereOptions {
    /// A sign-in; `None`: an API key from stdin.
    pub flow: Option<Flow>,
    /// Keep the new login under this name instead (`--save`), the current one untouched.
    pub save: Option<String>,
    /// Replace a login of another account.
    pub force: bool,
    pub lock_wait: Duration,
    /// Ask which Codex version judges (`-v`, `--json`).
    pub codex_version: bool,
}

pub(crate) struct ForwardOptions {
    pub dest: Destination,
    pub ssh: SshOptions,
    /// Only hold the tunnel (`--no-run`).
    pub no_run: bool,
    pub no_browser: bool,
    /// The issuer whose sign-in URL the host's Codex may print (no other is opened).
    pub issuer: crate::login::Issuer,
}

pub(crate) struct DeviceOptions {
    pub dests: Vec<Destination>,
    pub ssh: SshOptions,
    /// The issuer for Codex's hidden `--experimental_issuer` (tests only).
    pub issuer: Option<String>,
}

/// Sign in (or read the key) and keep the login under `name`, this machine's current
/// login untouched.
pub(crate) async fn into_saved(
    opts: HereOptions,
    name: &str,
    ui: &dyn LoginUi,
) -> Result<super::saved::SaveResult, AppError> {
    // A bad state directory, or a name that holds another sign-in, is said before
    // anyone signs in (the --force check is repeated with what the sign-in gives).
    super::saved::check_store(name)?;
    let auth = match &opts.flow {
        Some(flow) => crate::login::login(flow, ui, None).await?,
        None => source::api_key_from_stdin()?,
    };
    super::saved::save_as(name, auth, opts.force)
}

/// A login saved here.
pub(crate) struct LoggedIn {
    pub auth: AuthFile,
    pub saved: Saved,
    /// What this machine's Codex says of it now.
    pub codex_status: Option<String>,
}

/// The local Codex home, checked before anyone signs in: a store that can keep no
/// login (`ephemeral`), or a `keyring` store whose keyring cannot be used, is refused
/// now (exit 2), with nothing touched, rather than after the sign-in.
fn where_to_save() -> Result<LocalHome, AppError> {
    let home = LocalHome::resolve().ok_or_else(|| {
        AppError::usage(
            "cannot find the home directory for the local login",
            Some("set CODEX_HOME"),
        )
    })?;
    let refuse = |e: local::LocalWriteError| AppError::usage(e.to_string(), e.hint().as_deref());
    match home.store() {
        CredentialStore::Ephemeral => Err(refuse(local::LocalWriteError::Ephemeral)),
        CredentialStore::Keyring => match os_keyring::get(&home.account()) {
            Ok(_) => Ok(home),
            Err(e) => Err(refuse(local::LocalWriteError::Keyring(e))),
        },
        _ => Ok(home),
    }
}

/// Sign in (or read the key), save the login where this machine's Codex reads it, and
/// ask that Codex.
pub(crate) async fn here(
    opts: HereOptions,
    run: &Run,
    ui: &dyn LoginUi,
) -> Result<LoggedIn, AppError> {
    let home = where_to_save()?;
    let auth = match &opts.flow {
        Some(flow) => crate::login::login(flow, ui, None).await?,
        None => source::api_key_from_stdin()?,
    };
    let write = WriteOptions {
        force: opts.force,
        lock_wait: opts.lock_wait,
        expect: None,
        dry_run: false,
    };
    let saved = local::save_login(&home, &auth, &write)?;
    let here = TargetSpec::this_machine().connect(&run.ctx).await;
    let codex_status = match here {
        Ok(target) => target
            .inspect(&InspectRequest {
                judge: true,
                codex_home: None,
                codex_version: opts.codex_version,
                digest_only: false,
            })
            .await
            .ok()
            .and_then(|r| r.codex_status),
        Err(_) => None,
    };
    Ok(LoggedIn {
        auth,
        saved,
        codex_status,
    })
}

/// `login --forward HOST`: the host's own browser login (or, with `--no-run`, only the
/// tunnel), after saying who else would be signed out by it.
pub(crate) async fn forward(
    opts: ForwardOptions,
    run: &Run,
    ui: Arc<dyn ForwardUi>,
    interrupt: impl Future<Output = ()>,
) -> Result<ForwardReport, ForwardError> {
    let host = HostLogin::connect(&opts.dest, &opts.ssh, run.ctx.prompter.clone()).await?;
    host.check_forwarding().await?;
    if opts.no_run {
        return host.hold_tunnel(ui, interrupt).await;
    }
    let spec = TargetSpec::Ssh(opts.dest.clone());
    warn_if_shared(&host, &spec.display(), &[spec.display()], run).await;
    host.browser_login(opts.no_browser, &opts.issuer, ui, interrupt)
        .await
}

/// One host's device-code login.
pub(crate) struct DeviceOutcome {
    pub spec: TargetSpec,
    pub result: Result<ForwardReport, TargetError>,
}

impl TargetOutcome for DeviceOutcome {
    fn lost(spec: TargetSpec) -> Self {
        DeviceOutcome {
            spec,
            result: Err(TargetError::worker_lost()),
        }
    }
    fn timed_out(spec: TargetSpec, stage: &'static str, after: Duration) -> Self {
        DeviceOutcome {
            spec,
            result: Err(TargetError::timed_out(
                stage,
                after,
                "Codex there keeps the login it had",
            )),
        }
    }
    fn summary(&self) -> (bool, String) {
        match &self.result {
            Ok(r) if r.exit_status == Some(0) => (true, "logged in".into()),
            Ok(_) => (false, "not logged in".into()),
            Err(e) => (false, e.message.clone()),
        }
    }
}

/// How long one host's device-code login may take: Codex's code expires after 15
/// minutes; connecting and the checks around it get the rest.
const DEVICE_LOGIN_DEADLINE: Duration = Duration::from_secs(20 * 60);

/// `login --forward HOST... --device-auth`: every host's own `codex login
/// --device-auth`, all at once, each on its own connection. No tunnel: Codex there asks
/// the issuer for its code and polls it itself, so this works where the server forbids
/// forwarding. Each host's code is shown as soon as Codex prints it.
pub(crate) async fn forward_devices(
    opts: DeviceOptions,
    run: &Run,
    ui: Arc<dyn ForwardUi>,
) -> Vec<DeviceOutcome> {
    let specs: Vec<TargetSpec> = opts.dests.iter().cloned().map(TargetSpec::Ssh).collect();
    let everyone: Vec<String> = specs.iter().map(TargetSpec::display).collect();
    let shared = Arc::new((opts, run.clone(), ui, everyone));
    // Every host at once: each code must be on screen while the others wait.
    let jobs = specs.len().max(1);
    fan_out(
        &specs,
        jobs,
        DEVICE_LOGIN_DEADLINE,
        run.sink.clone(),
        move |spec, progress| {
            let shared = shared.clone();
            async move {
                let (opts, run, ui, everyone) = shared.as_ref();
                let label = spec.display();
                let result = async {
                    let TargetSpec::Ssh(dest) = &spec else {
                        return Err(TargetError::worker_lost());
                    };
                    progress.stage("connecting");
                    let host = HostLogin::connect(dest, &opts.ssh, run.ctx.prompter.clone())
                        .await
                        .map_err(failed)?;
                    warn_if_shared(&host, &label, everyone, run).await;
                    progress.stage("waiting for sign-in");
                    host.device_login(opts.issuer.as_deref(), ui.as_ref(), &label)
                        .await
                        .map_err(failed)
                }
                .await;
                DeviceOutcome { spec, result }
            }
        },
    )
    .await
}

/// A device login is not interrupted on its own (the run's Ctrl-C ends them all).
fn failed(e: ForwardError) -> TargetError {
    match e {
        ForwardError::Failed(e) => e,
        ForwardError::Interrupted => TargetError::worker_lost(),
    }
}

/// A new `codex login` on a host first revokes the ChatGPT session it holds there;
/// every other place holding the same session is signed out with it. Say so before it
/// happens, naming the places this run knows: this machine (read now) and the places
/// the ledger remembers, except the hosts of this run (each gets a login of its own).
/// Best effort: a host that cannot be read is not a reason to stop.
async fn warn_if_shared(host: &HostLogin, name: &str, run_hosts: &[String], run: &Run) {
    // Only the host's sha256 travels: the session is known when those exact bytes are
    // this machine's login, or what the ledger recorded for a place.
    let Some(there) = host.current_digest().await else {
        return;
    };
    let here_spec = TargetSpec::this_machine();
    let here = crate::targets::this_machines_login();
    let mut others = Vec::new();
    let mut session = None;
    if let Some(h) = here.as_ref().filter(|h| h.sha256_hex() == there) {
        if h.is_rotating_session() {
            others.push("this machine".to_string());
            session = Some(ledger::session_key(h));
        } else {
            return;
        }
    }
    if let Some(ledger) = Ledger::open() {
        let (entries, _) = ledger.entries();
        if session.is_none() {
            session = entries
                .iter()
                .find(|e| e.kind == "chatgpt" && e.content.as_deref() == Some(there.as_str()))
                .map(|e| e.session.clone());
        }
        if let Some(session) = &session {
            // This machine was read just now: the ledger's word on it may be old.
            let mut except = run_hosts.to_vec();
            except.push(here_spec.display());
            others.extend(
                ledger::holders(&entries, session, &except)
                    .into_iter()
                    .map(ledger::describe),
            );
        }
    }
    if !others.is_empty() {
        run.sink.warn(&format!(
            "codex-auth: warning: {name} holds the same ChatGPT session as {}; the new `codex login` there revokes it first, which signs {} out too ({} a new login afterwards)",
            others.join(", "),
            if others.len() == 1 { "it" } else { "them" },
            if others.len() == 1 { "it needs" } else { "each needs" }
        ));
    }
}
