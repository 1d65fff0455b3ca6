//! `push`: install a login on many targets concurrently, one connection per target, a
//! bounded pool, and a failure at one target never stopping the others. With
//! `--login`, each target gets its own fresh login, one after another (a person signs
//! in for each), installed directly: those tokens are never written on this machine.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::ProgressSink;
use crate::auth::AuthFile;
use crate::login::{LoginOptions, LoginUi};
use crate::target::{
    ConnectContext, Connected, InspectRequest, InstallReport, InstallRequest, Outcome, Target,
    TargetError, TargetSpec,
};

pub enum PushSource {
    /// One validated login for every target.
    Fixed(AuthFile),
    /// A separate login per target.
    FreshLogin(LoginOptions, Arc<dyn LoginUi>),
}

pub struct PushPlan {
    pub targets: Vec<TargetSpec>,
    pub source: PushSource,
    pub codex_home: Option<String>,
    pub force: bool,
    pub dry_run: bool,
    pub jobs: usize,
}

pub struct TargetResult {
    pub spec: TargetSpec,
    pub result: Result<InstallReport, TargetError>,
    /// What was installed there (for scrubbing output and for the per-target summary).
    pub auth: Option<AuthFile>,
}

/// Run the push on every target; results come back in the order the targets were given.
pub async fn push(
    plan: PushPlan,
    ctx: ConnectContext,
    sink: Arc<dyn ProgressSink>,
) -> Vec<TargetResult> {
    // Fresh logins are interactive: one target at a time.
    let jobs = match plan.source {
        PushSource::FreshLogin(..) => 1,
        PushSource::Fixed(_) => plan.jobs.max(1),
    };
    let plan = Arc::new(plan);
    let pool = Arc::new(Semaphore::new(jobs));
    let mut set = JoinSet::new();
    for (index, spec) in plan.targets.iter().cloned().enumerate() {
        let (plan, ctx, sink, pool) = (plan.clone(), ctx.clone(), sink.clone(), pool.clone());
        set.spawn(async move {
            let _slot = pool.acquire_owned().await.ok();
            let (result, auth) = push_one(&plan, &spec, &ctx, index, sink.as_ref()).await;
            let (ok, line) = match &result {
                Ok(r) => (true, r.outcome.as_str().to_string()),
                Err(e) => (false, e.message.clone()),
            };
            sink.finished(index, ok, &line);
            (index, TargetResult { spec, result, auth })
        });
    }
    let mut results: Vec<Option<TargetResult>> = (0..plan.targets.len()).map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        if let Ok((i, r)) = joined {
            results[i] = Some(r);
        }
    }
    results
        .into_iter()
        .zip(plan.targets.iter())
        .map(|(r, spec)| {
            r.unwrap_or_else(|| TargetResult {
                spec: spec.clone(),
                result: Err(TargetError::new(
                    "internal",
                    "the worker for this target stopped",
                    None,
                )),
                auth: None,
            })
        })
        .collect()
}

async fn push_one(
    plan: &PushPlan,
    spec: &TargetSpec,
    ctx: &ConnectContext,
    index: usize,
    sink: &dyn ProgressSink,
) -> (Result<InstallReport, TargetError>, Option<AuthFile>) {
    sink.stage(index, "connecting");
    let target = match Connected::connect(spec, ctx).await {
        Ok(t) => t,
        Err(e) => return (Err(e), None),
    };
    let (result, auth) = match &plan.source {
        PushSource::Fixed(auth) => (install(plan, &target, auth, index, sink).await, None),
        PushSource::FreshLogin(_, _) if plan.dry_run => (would_log_in(plan, &target).await, None),
        PushSource::FreshLogin(opts, ui) => {
            sink.stage(index, "waiting for sign-in");
            match crate::login::login(opts, ui.as_ref(), Some(&spec.display())).await {
                Ok(auth) => {
                    let mut r = install(plan, &target, &auth, index, sink).await;
                    if let Ok(rep) = &mut r {
                        rep.login = Some(auth.summary.clone());
                    }
                    (r, Some(auth))
                }
                Err(e) => {
                    let hint = e.hint().map(str::to_string);
                    (
                        Err(TargetError {
                            class: "login",
                            message: e.to_string(),
                            hint,
                        }),
                        None,
                    )
                }
            }
        }
    };
    target.close().await;
    (result, auth)
}

async fn install(
    plan: &PushPlan,
    target: &Connected,
    auth: &AuthFile,
    index: usize,
    sink: &dyn ProgressSink,
) -> Result<InstallReport, TargetError> {
    sink.stage(
        index,
        if plan.dry_run {
            "checking"
        } else {
            "installing"
        },
    );
    let req = InstallRequest {
        auth,
        codex_home: plan.codex_home.as_deref(),
        force: plan.force,
        dry_run: plan.dry_run,
    };
    target.install(&req).await
}

/// Dry run of `push --login`: where the login would go; no sign-in happens.
async fn would_log_in(plan: &PushPlan, target: &Connected) -> Result<InstallReport, TargetError> {
    let seen = target
        .inspect(&InspectRequest {
            codex_home: plan.codex_home.as_deref(),
        })
        .await?;
    let skipped = matches!(seen.credential_store.as_str(), "keyring" | "auto") && !plan.force;
    Ok(InstallReport {
        outcome: if skipped {
            Outcome::Skipped
        } else {
            Outcome::WouldInstall
        },
        path: seen.path,
        home_from: seen.home_from,
        user: seen.user,
        credential_store: seen.credential_store,
        previous: if seen.kind == "file" {
            "different".into()
        } else {
            seen.kind
        },
        backup: None,
        file_mode: seen.file_mode,
        dir_mode: None,
        verified: false,
        codex_status: seen.codex_status,
        notes: vec!["a fresh sign-in would be made for this target".into()],
        login: None,
    })
}
