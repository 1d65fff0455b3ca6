//! `status`: what login is installed where (this machine and any targets), read-only,
//! and which places share one ChatGPT session (a refresh on one signs the others out).

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::ProgressSink;
use crate::auth::{self, AuthFile};
use crate::target::{
    ConnectContext, Connected, InspectReport, InspectRequest, Target, TargetError, TargetSpec,
};

pub struct StatusPlan {
    pub targets: Vec<TargetSpec>,
    pub codex_home: Option<String>,
    pub jobs: usize,
}

/// The login a place holds.
#[derive(Debug)]
pub enum LoginState {
    NotLoggedIn,
    /// There is a file, but Codex could not use it (the reason, one line).
    Invalid(String),
    LoggedIn(Box<AuthFile>),
}

#[derive(Debug)]
pub struct PlaceStatus {
    pub report: InspectReport,
    pub state: LoginState,
    /// Other places (by display name) holding the same ChatGPT session.
    pub shared_with: Vec<String>,
}

pub struct PlaceResult {
    /// `None` for this machine.
    pub spec: Option<TargetSpec>,
    pub result: Result<PlaceStatus, TargetError>,
}

impl PlaceResult {
    pub fn display(&self) -> String {
        self.spec
            .as_ref()
            .map_or_else(|| "local".to_string(), TargetSpec::display)
    }
}

fn decode(report: InspectReport) -> PlaceStatus {
    let state = match (&report.content, report.kind.as_str()) {
        (Some(bytes), _) => match AuthFile::parse(bytes.expose()) {
            Ok(a) => LoginState::LoggedIn(Box::new(a)),
            Err(e) => LoginState::Invalid(e.to_string()),
        },
        (None, "none") => LoginState::NotLoggedIn,
        (None, _) if report.unreadable => {
            LoginState::Invalid("auth.json is not readable by the login user".into())
        }
        (None, kind) => LoginState::Invalid(format!("auth.json is a {kind}, not a file")),
    };
    PlaceStatus {
        report,
        state,
        shared_with: Vec::new(),
    }
}

/// This machine's login: `$CODEX_HOME/auth.json`, its config.toml, and Codex's verdict
/// when `codex` is on PATH.
pub async fn local() -> Result<PlaceStatus, TargetError> {
    let dir = auth::local::codex_home().ok_or_else(|| {
        TargetError::new(
            "no-home",
            "cannot find the home directory",
            Some("set CODEX_HOME"),
        )
    })?;
    let path = dir.join("auth.json");
    let meta = std::fs::symlink_metadata(&path).ok();
    let kind = match &meta {
        None => "none",
        Some(m) if m.file_type().is_symlink() => "symlink",
        Some(m) if m.is_dir() => "dir",
        Some(_) => "file",
    };
    let content = match std::fs::read(&path) {
        Ok(b) => Some(auth::SecretBytes::new(b)),
        Err(_) => None,
    };
    let store = std::fs::read_to_string(dir.join("config.toml"))
        .map(|t| auth::credential_store(&t))
        .unwrap_or("file");
    let codex_status = local_codex_verdict(&dir).await;
    let file_mode = std::fs::metadata(&path).ok().map(|m| {
        use std::os::unix::fs::PermissionsExt;
        format!("{:o}", m.permissions().mode() & 0o777)
    });
    Ok(decode(InspectReport {
        path: path.display().to_string(),
        home_from: if std::env::var_os("CODEX_HOME").is_some_and(|v| !v.is_empty()) {
            "env".into()
        } else {
            "default".into()
        },
        user: std::env::var("USER").unwrap_or_default(),
        credential_store: store.to_string(),
        kind: kind.to_string(),
        file_mode,
        codex_status,
        unreadable: kind == "file" && content.is_none(),
        content,
    }))
}

/// `codex login status` for the login in `dir`, run in a scratch home that links to its
/// auth.json and config.toml (Codex writes helper files into whatever home it runs in).
async fn local_codex_verdict(dir: &std::path::Path) -> Option<String> {
    let scratch = tempfile::Builder::new()
        .prefix("codex-auth-status")
        .tempdir()
        .ok()?;
    for name in ["auth.json", "config.toml"] {
        let real = dir.join(name);
        if real.exists() {
            let _ = std::os::unix::fs::symlink(&real, scratch.path().join(name));
        }
    }
    let out = tokio::process::Command::new("codex")
        .args(["login", "status"])
        .env("CODEX_HOME", scratch.path())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .ok()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        text.lines()
            .find(|l| l.contains("Logged in") || l.contains("Not logged in") || l.contains("rror"))
            .unwrap_or("")
            .to_string(),
    )
}

/// Local first, then every target in the order given.
pub async fn status(
    plan: StatusPlan,
    ctx: ConnectContext,
    sink: Arc<dyn ProgressSink>,
) -> Vec<PlaceResult> {
    let plan = Arc::new(plan);
    let pool = Arc::new(Semaphore::new(plan.jobs.max(1)));
    let mut set = JoinSet::new();
    for (index, spec) in plan.targets.iter().cloned().enumerate() {
        let (plan, ctx, sink, pool) = (plan.clone(), ctx.clone(), sink.clone(), pool.clone());
        set.spawn(async move {
            let _slot = pool.acquire_owned().await.ok();
            sink.stage(index, "connecting");
            let result = async {
                let target = Connected::connect(&spec, &ctx).await?;
                sink.stage(index, "reading");
                let req = InspectRequest {
                    codex_home: plan.codex_home.as_deref(),
                };
                let r = target.inspect(&req).await;
                target.close().await;
                r.map(decode)
            }
            .await;
            let line = match &result {
                Ok(p) => describe(&p.state),
                Err(e) => e.message.clone(),
            };
            sink.finished(index, result.is_ok(), &line);
            (
                index,
                PlaceResult {
                    spec: Some(spec),
                    result,
                },
            )
        });
    }
    let local = local().await;
    let mut results: Vec<Option<PlaceResult>> = (0..plan.targets.len()).map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        if let Ok((i, r)) = joined {
            results[i] = Some(r);
        }
    }
    let mut all = vec![PlaceResult {
        spec: None,
        result: local,
    }];
    for (r, spec) in results.into_iter().zip(plan.targets.iter()) {
        all.push(r.unwrap_or_else(|| PlaceResult {
            spec: Some(spec.clone()),
            result: Err(TargetError::new(
                "internal",
                "the worker for this target stopped",
                None,
            )),
        }));
    }
    mark_shared(&mut all);
    all
}

fn describe(state: &LoginState) -> String {
    match state {
        LoginState::NotLoggedIn => "not logged in".into(),
        LoginState::Invalid(r) => format!("invalid: {r}"),
        LoginState::LoggedIn(a) => a.summary.mode.clone(),
    }
}

/// Fill `shared_with` from equal refresh-token hashes (the hash itself is never shown).
fn mark_shared(places: &mut [PlaceResult]) {
    let ids: Vec<(String, Option<String>)> = places
        .iter()
        .map(|p| {
            let id = match &p.result {
                Ok(PlaceStatus {
                    state: LoginState::LoggedIn(a),
                    ..
                }) => a.session_id.clone(),
                _ => None,
            };
            (p.display(), id)
        })
        .collect();
    for (i, p) in places.iter_mut().enumerate() {
        let Some(mine) = &ids[i].1 else { continue };
        if let Ok(status) = &mut p.result {
            status.shared_with = ids
                .iter()
                .enumerate()
                .filter(|(j, (_, id))| *j != i && id.as_ref() == Some(mine))
                .map(|(_, (name, _))| name.clone())
                .collect();
        }
    }
}
