//! `push`: install a login on many targets concurrently, one connection per target, a
//! bounded pool, and a failure at one target never stopping the others. With
//! `--login`, each target gets its own fresh login, one after another (a person signs
//! in for each), installed directly: those tokens are never written on this machine.

use std::sync::Arc;
use std::time::Duration;

use super::{fan_out, Progress, ProgressSink, TargetOutcome};
use crate::auth::AuthFile;
use crate::login::{LoginOptions, LoginUi};
use crate::targets::{
    ConnectContext, ErrorClass, FileKind, InspectRequest, InstallReport, InstallRequest, Outcome,
    Target, TargetError, TargetSpec,
};

pub(crate) enum PushSource {
    /// One validated login for every target.
    Fixed(Box<AuthFile>),
    /// A separate login per target.
    FreshLogin(LoginOptions, Arc<dyn LoginUi>),
}

pub(crate) struct PushPlan {
    pub targets: Vec<TargetSpec>,
    pub source: PushSource,
    pub codex_home: Option<String>,
    pub force: bool,
    pub dry_run: bool,
    pub jobs: usize,
    /// Report which Codex version judged each target (`-v`, `--json`).
    pub codex_version: bool,
    /// How long to wait for Codex's locks on each target.
    pub lock_wait: Duration,
    /// How long one target may take (`--target-timeout`), besides waiting for the
    /// locks and for a sign-in.
    pub target_timeout: Duration,
}

pub(crate) struct TargetResult {
    /// `None`: this machine (`--local`).
    pub spec: Option<TargetSpec>,
    pub result: Result<InstallReport, TargetError>,
    /// What was installed there (for scrubbing output and for the per-target summary).
    pub auth: Option<AuthFile>,
}

impl TargetResult {
    /// The place as reports and the ledger name it.
    pub(crate) fn display(&self) -> String {
        self.spec
            .as_ref()
            .map_or_else(|| "local".to_string(), TargetSpec::display)
    }

    pub(crate) fn label(&self) -> String {
        self.spec
            .as_ref()
            .map_or_else(|| "local".to_string(), TargetSpec::label)
    }

    pub(crate) fn kind(&self) -> &'static str {
        self.spec.as_ref().map_or("local", |s| s.kind().as_str())
    }

    /// Whether the target counts as done for the exit code: a skipped target is not.
    pub(crate) fn done(&self) -> bool {
        matches!(&self.result, Ok(rep) if rep.outcome != Outcome::Skipped)
    }
}

impl TargetOutcome for TargetResult {
    fn lost(spec: TargetSpec) -> Self {
        TargetResult {
            spec: Some(spec),
            result: Err(TargetError::worker_lost()),
            auth: None,
        }
    }

    fn timed_out(spec: TargetSpec, stage: &'static str, after: Duration) -> Self {
        let consequence = match stage {
            "installing" => {
                "the target holds its old login or the new one, whole (`codex-auth status` shows which)"
            }
            _ => "nothing was changed there",
        };
        TargetResult {
            spec: Some(spec),
            result: Err(TargetError::timed_out(stage, after, consequence)),
            auth: None,
        }
    }

    fn summary(&self) -> (bool, String) {
        match &self.result {
            Ok(r) => (true, r.outcome.as_str().to_string()),
            Err(e) => (false, e.message.clone()),
        }
    }
}

/// Run the push on every target; results come back in the order the targets were given.
pub(crate) async fn push(
    plan: PushPlan,
    ctx: ConnectContext,
    sink: Arc<dyn ProgressSink>,
) -> Vec<TargetResult> {
    // Browser sign-ins take turns: Codex's callback port is fixed. Device codes do not
    // need one, so every target asks for its own at once, and each is installed as soon
    // as its code is approved.
    let jobs = match &plan.source {
        PushSource::FreshLogin(opts, _) if opts.device => plan.jobs,
        PushSource::FreshLogin(..) => 1,
        PushSource::Fixed(_) => plan.jobs,
    };
    let deadline = plan.target_timeout
        + plan.lock_wait
        + match &plan.source {
            PushSource::FreshLogin(opts, _) => opts.timeout,
            PushSource::Fixed(_) => Duration::ZERO,
        };
    let targets = plan.targets.clone();
    let plan = Arc::new(plan);
    fan_out(&targets, jobs, deadline, sink, move |spec, progress| {
        let (plan, ctx) = (plan.clone(), ctx.clone());
        async move {
            let (result, auth) = push_one(&plan, &spec, &ctx, &progress).await;
            TargetResult {
                spec: Some(spec),
                result,
                auth,
            }
        }
    })
    .await
}

async fn push_one(
    plan: &PushPlan,
    spec: &TargetSpec,
    ctx: &ConnectContext,
    progress: &Progress,
) -> (Result<InstallReport, TargetError>, Option<AuthFile>) {
    progress.stage("connecting");
    let target = match spec.connect(ctx).await {
        Ok(t) => t,
        Err(mut e) => {
            if e.class == ErrorClass::Disconnected {
                e.message.push_str(": nothing was changed there");
            }
            return (Err(e), None);
        }
    };
    let (result, auth) = match &plan.source {
        PushSource::Fixed(auth) => (install(plan, target.as_ref(), auth, progress).await, None),
        PushSource::FreshLogin(_, _) if plan.dry_run => {
            (would_log_in(plan, target.as_ref()).await, None)
        }
        PushSource::FreshLogin(opts, ui) => {
            progress.stage("waiting for sign-in");
            match crate::login::login(opts, ui.as_ref(), Some(&spec.display())).await {
                Ok(auth) => {
                    let mut r = install(plan, target.as_ref(), &auth, progress).await;
                    if let Ok(rep) = &mut r {
                        rep.login = Some(auth.summary.clone());
                    }
                    (r, Some(auth))
                }
                Err(e) => (Err(e.into()), None),
            }
        }
    };
    target.close().await;
    (result, auth)
}

async fn install(
    plan: &PushPlan,
    target: &dyn Target,
    auth: &AuthFile,
    progress: &Progress,
) -> Result<InstallReport, TargetError> {
    progress.stage(if plan.dry_run {
        "checking"
    } else {
        "installing"
    });
    let req = InstallRequest {
        auth,
        codex_home: plan.codex_home.as_deref(),
        force: plan.force,
        dry_run: plan.dry_run,
        codex_version: plan.codex_version,
        lock_wait: plan.lock_wait,
        expect: None,
    };
    // An error may quote what the target printed; it is shown in progress lines too,
    // before any renderer sees it, so it leaves here without this login's secrets.
    target.install(&req).await.map_err(|mut e| {
        e.message = auth.scrub(&e.message);
        e
    })
}

/// Dry run of `push --login`: where the login would go; no sign-in happens.
async fn would_log_in(plan: &PushPlan, target: &dyn Target) -> Result<InstallReport, TargetError> {
    let seen = target
        .inspect(&InspectRequest {
            codex_home: plan.codex_home.as_deref(),
            codex_version: plan.codex_version,
        })
        .await?;
    let skipped = seen.location.store.may_ignore_file() && !plan.force;
    Ok(InstallReport {
        outcome: if skipped {
            Outcome::Skipped
        } else {
            Outcome::WouldInstall
        },
        path: seen.path(),
        home_from: seen.location.home_from,
        user: seen.location.user.clone(),
        credential_store: seen.location.store,
        previous: match seen.kind {
            FileKind::None => crate::targets::Previous::None,
            FileKind::File => crate::targets::Previous::Different,
            FileKind::Symlink => crate::targets::Previous::Symlink,
            FileKind::Dir => crate::targets::Previous::Dir,
            FileKind::Other => crate::targets::Previous::Other,
        },
        backup: None,
        file_mode: seen.file_mode,
        dir_mode: None,
        verified: false,
        codex_status: seen.codex_status,
        codex: seen.codex,
        notes: vec!["a fresh sign-in would be made for this target".into()],
        login: None,
    })
}

/// A place a login is read from (`--from PLACE`) and, with `--move`, taken off.
#[derive(Clone, Debug)]
pub(crate) enum Place {
    /// This machine's Codex home (file or keyring).
    Local,
    Target(TargetSpec),
}

impl Place {
    pub(crate) fn display(&self) -> String {
        match self {
            Place::Local => "local".into(),
            Place::Target(t) => t.display(),
        }
    }

    pub(crate) fn spec(&self) -> Option<&TargetSpec> {
        match self {
            Place::Local => None,
            Place::Target(t) => Some(t),
        }
    }
}

/// Why a place's login could not be taken.
pub(crate) enum SourceError {
    /// The place was read, and holds no usable login (the reason, one line).
    NoLogin(String),
    /// The place could not be read.
    Failed(TargetError),
}

/// The login a target holds, read as `status` reads it (its Codex home by default).
pub(crate) async fn read_target(
    spec: &TargetSpec,
    ctx: &ConnectContext,
) -> Result<AuthFile, SourceError> {
    let target = spec.connect(ctx).await.map_err(SourceError::Failed)?;
    let seen = target
        .inspect(&InspectRequest {
            codex_home: None,
            codex_version: false,
        })
        .await;
    target.close().await;
    let seen = seen.map_err(SourceError::Failed)?;
    if seen.location.store == crate::auth::store::CredentialStore::Keyring {
        return Err(SourceError::NoLogin(format!(
            "Codex there keeps its login in the OS keyring (cli_auth_credentials_store = \"keyring\"), which codex-auth cannot read over a connection; {} is not what Codex there uses",
            seen.path()
        )));
    }
    match &seen.content {
        Some(bytes) => AuthFile::parse(bytes.expose()).map_err(|e| {
            SourceError::NoLogin(format!("{} does not hold a Codex login: {e}", seen.path()))
        }),
        None => Err(SourceError::NoLogin(format!(
            "{} holds no login ({} does not exist)",
            spec.display(),
            seen.path()
        ))),
    }
}

/// Take the login off the source of a move, now that the destination verified it; its
/// auth.json.bak (an older login) stays.
pub(crate) async fn remove_from(
    place: &Place,
    ctx: &ConnectContext,
    lock_wait: Duration,
) -> Result<(), TargetError> {
    match place {
        Place::Local => {
            let home = crate::auth::local::LocalHome::resolve().ok_or_else(|| {
                TargetError::new(ErrorClass::NoHome, "cannot find the home directory", None)
            })?;
            crate::auth::local::remove_login(&home, true, false, lock_wait)
                .map(|_| ())
                .map_err(|e| TargetError::new(ErrorClass::Io, e.to_string(), e.hint().as_deref()))
        }
        Place::Target(spec) => {
            let target = spec.connect(ctx).await?;
            let r = target
                .remove(&crate::targets::RemoveRequest {
                    codex_home: None,
                    keep_backup: true,
                    dry_run: false,
                    lock_wait,
                    codex_version: false,
                    expect: None,
                })
                .await;
            target.close().await;
            r.map(|_| ())
        }
    }
}

/// Install `auth` into this machine's Codex home (`--local`), where its Codex reads it.
pub(crate) async fn install_local(
    auth: &AuthFile,
    force: bool,
    dry_run: bool,
    lock_wait: Duration,
    codex_version: bool,
) -> TargetResult {
    use crate::auth::local::{self, LocalOutcome};
    let result = (|| {
        let home = local::LocalHome::resolve().ok_or_else(|| {
            TargetError::new(ErrorClass::NoHome, "cannot find the home directory", None)
        })?;
        let user = std::env::var("USER").unwrap_or_default();
        let home_from = if local::codex_home_from_env() {
            crate::targets::HomeSource::Env
        } else {
            crate::targets::HomeSource::Default
        };
        if dry_run {
            return Ok((
                InstallReport {
                    outcome: Outcome::WouldInstall,
                    path: home.auth_path().display().to_string(),
                    home_from,
                    user,
                    credential_store: home.store(),
                    previous: crate::targets::Previous::None,
                    backup: None,
                    file_mode: None,
                    dir_mode: None,
                    verified: false,
                    codex_status: None,
                    codex: None,
                    notes: Vec::new(),
                    login: None,
                },
                false,
            ));
        }
        let saved = local::save_login(&home, auth, force, lock_wait).map_err(|e| {
            let class = match e {
                local::LocalWriteError::Keyring(_) => ErrorClass::Keyring,
                local::LocalWriteError::Busy { .. } => ErrorClass::Busy,
                _ => ErrorClass::Io,
            };
            TargetError::new(class, e.to_string(), e.hint().as_deref())
        })?;
        let mut notes = Vec::new();
        if let Some(why) = &saved.fell_back {
            notes.push(format!("{why}: saved in the file instead (auto)"));
        }
        if let Some(p) = &saved.removed_file {
            notes.push(format!(
                "removed {} (the login is in the keyring)",
                p.display()
            ));
        }
        let (outcome, previous, backup) = match &saved.outcome {
            LocalOutcome::Created => (Outcome::Installed, crate::targets::Previous::None, None),
            LocalOutcome::Replaced { backup } => (
                Outcome::Installed,
                crate::targets::Previous::Different,
                backup.as_ref().map(|b| b.display().to_string()),
            ),
            LocalOutcome::Unchanged => (Outcome::Unchanged, crate::targets::Previous::Same, None),
        };
        Ok((
            InstallReport {
                outcome,
                path: saved.place.to_string(),
                home_from,
                user,
                credential_store: home.store(),
                previous,
                backup,
                file_mode: None,
                dir_mode: None,
                verified: true,
                codex_status: None,
                codex: None,
                notes,
                login: None,
            },
            true,
        ))
    })();
    let result = match result {
        Ok((mut rep, saved)) => {
            if saved {
                if let Ok(seen) = super::status::local(codex_version).await {
                    rep.codex_status = seen.report.codex_status;
                    rep.codex = seen.report.codex;
                }
            }
            Ok(rep)
        }
        Err(e) => Err(e),
    };
    TargetResult {
        spec: None,
        result,
        auth: None,
    }
}
