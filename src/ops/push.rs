//! `push`: install one validated login on many targets concurrently, one connection
//! per target, a bounded pool, and a failure at one target never stopping the others.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::ProgressSink;
use crate::auth::AuthFile;
use crate::target::{
    ConnectContext, Connected, InstallReport, InstallRequest, Target, TargetError, TargetSpec,
};

pub struct PushPlan {
    pub targets: Vec<TargetSpec>,
    pub auth: AuthFile,
    pub codex_home: Option<String>,
    pub force: bool,
    pub dry_run: bool,
    pub jobs: usize,
}

pub struct TargetResult {
    pub spec: TargetSpec,
    pub result: Result<InstallReport, TargetError>,
}

/// Run the push on every target; results come back in the order the targets were given.
pub async fn push(
    plan: PushPlan,
    ctx: ConnectContext,
    sink: Arc<dyn ProgressSink>,
) -> Vec<TargetResult> {
    let plan = Arc::new(plan);
    let pool = Arc::new(Semaphore::new(plan.jobs.max(1)));
    let mut set = JoinSet::new();
    for (index, spec) in plan.targets.iter().cloned().enumerate() {
        let (plan, ctx, sink, pool) = (plan.clone(), ctx.clone(), sink.clone(), pool.clone());
        set.spawn(async move {
            let _slot = pool.acquire_owned().await.ok();
            let result = push_one(&plan, &spec, &ctx, index, sink.as_ref()).await;
            let (ok, line) = match &result {
                Ok(r) => (true, r.outcome.as_str().to_string()),
                Err(e) => (false, e.message.clone()),
            };
            sink.finished(index, ok, &line);
            (index, TargetResult { spec, result })
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
) -> Result<InstallReport, TargetError> {
    sink.stage(index, "connecting");
    let target = Connected::connect(spec, ctx).await?;
    sink.stage(
        index,
        if plan.dry_run {
            "checking"
        } else {
            "installing"
        },
    );
    let req = InstallRequest {
        auth: &plan.auth,
        codex_home: plan.codex_home.as_deref(),
        force: plan.force,
        dry_run: plan.dry_run,
    };
    let result = target.install(&req).await;
    target.close().await;
    result
}
