//! `status`: what login is installed where (this machine and any targets), read-only,
//! and which places share one ChatGPT session (a refresh on one signs the others out).

use std::sync::Arc;
use std::time::Duration;

use super::{fan_out, ProgressSink, TargetOutcome};
use crate::auth::verdict::CodexSeen;
use crate::auth::{self, AuthFile};
use crate::targets::{
    ConnectContext, ErrorClass, FileKind, HomeSource, InspectReport, InspectRequest, Location,
    TargetError, TargetSpec,
};

pub(crate) struct StatusPlan {
    pub targets: Vec<TargetSpec>,
    pub codex_home: Option<String>,
    pub jobs: usize,
    /// Report which Codex version judged each place (`-v`, `--json`).
    pub codex_version: bool,
    /// How long one target may take (`--target-timeout`).
    pub target_timeout: Duration,
}

/// The login a place holds.
#[derive(Debug)]
pub(crate) enum LoginState {
    NotLoggedIn,
    /// There is a file, but Codex could not use it (the reason, one line).
    Invalid(String),
    LoggedIn(Box<AuthFile>),
}

#[derive(Debug)]
pub(crate) struct PlaceStatus {
    pub report: InspectReport,
    pub state: LoginState,
    /// Other places (by display name) holding the same ChatGPT session.
    pub shared_with: Vec<String>,
    /// Why Codex there refuses the login it holds (its config.toml's forced settings).
    pub refused: Option<String>,
    /// This copy's session was refreshed at another place (named): its refresh token
    /// was used there, so this copy is signed out.
    pub stale: Option<String>,
}

impl PlaceStatus {
    /// The login held there, if any.
    pub(crate) fn login(&self) -> Option<&AuthFile> {
        match &self.state {
            LoginState::LoggedIn(a) => Some(a),
            _ => None,
        }
    }
}

pub(crate) struct PlaceResult {
    /// `None` for this machine.
    pub spec: Option<TargetSpec>,
    pub result: Result<PlaceStatus, TargetError>,
}

impl PlaceResult {
    pub(crate) fn display(&self) -> String {
        self.spec
            .as_ref()
            .map_or_else(|| "local".to_string(), TargetSpec::display)
    }
}

impl TargetOutcome for PlaceResult {
    fn lost(spec: TargetSpec) -> Self {
        PlaceResult {
            spec: Some(spec),
            result: Err(TargetError::worker_lost()),
        }
    }

    fn timed_out(spec: TargetSpec, stage: &'static str, after: Duration) -> Self {
        PlaceResult {
            spec: Some(spec),
            result: Err(TargetError::timed_out(
                stage,
                after,
                "reading changes nothing",
            )),
        }
    }

    fn summary(&self) -> (bool, String) {
        match &self.result {
            Ok(p) => (true, describe(&p.state)),
            Err(e) => (false, e.message.clone()),
        }
    }
}

fn decode(report: InspectReport) -> PlaceStatus {
    let state = match (&report.content, report.kind) {
        (Some(bytes), _) => match AuthFile::parse(bytes.expose()) {
            Ok(a) => LoginState::LoggedIn(Box::new(a)),
            Err(e) => LoginState::Invalid(e.to_string()),
        },
        (None, FileKind::None) => LoginState::NotLoggedIn,
        (None, _) if report.unreadable => {
            LoginState::Invalid("auth.json is not readable by the login user".into())
        }
        (None, kind) => LoginState::Invalid(format!(
            "auth.json is a {}, not a file",
            serde_json::to_value(kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        )),
    };
    let refused = match &state {
        LoginState::LoggedIn(a) => report.forced.refuses(a),
        _ => None,
    };
    PlaceStatus {
        report,
        state,
        shared_with: Vec::new(),
        refused,
        stale: None,
    }
}

/// This machine's login, read where its Codex reads it (auth.json, or the OS keyring
/// as config.toml says), with Codex's verdict when `codex` is on PATH (and its version
/// when asked).
pub(crate) async fn local(codex_version: bool) -> Result<PlaceStatus, TargetError> {
    let home = auth::local::LocalHome::resolve().ok_or_else(|| {
        TargetError::new(
            ErrorClass::NoHome,
            "cannot find the home directory",
            Some("set CODEX_HOME"),
        )
    })?;
    let path = home.auth_path();
    let (content, keyring_account, mut notes) = match auth::local::read_login(&home) {
        Ok(auth::local::LocalRead::Found {
            bytes,
            place,
            fell_back,
        }) => {
            let notes: Vec<String> = fell_back
                .map(|e| format!("{e}: Codex reads auth.json instead (auto)"))
                .into_iter()
                .collect();
            match place {
                auth::local::LocalPlace::Keyring { account } => (Some(bytes), Some(account), notes),
                auth::local::LocalPlace::File(_) => (Some(bytes), None, notes),
            }
        }
        Ok(auth::local::LocalRead::Missing(why)) => (None, None, vec![why]),
        Err(auth::local::LocalReadError::Keyring(e)) => {
            return Err(TargetError::new(
                ErrorClass::Keyring,
                format!("config.toml sets cli_auth_credentials_store = \"keyring\", and {e}"),
                Some(e.hint()),
            ))
        }
        Err(e) => return Err(TargetError::new(ErrorClass::Io, e.to_string(), None)),
    };
    let in_file = keyring_account.is_none();
    let meta = std::fs::symlink_metadata(&path).ok();
    let kind = match (&meta, &content) {
        (_, Some(_)) if !in_file => FileKind::File,
        (None, _) => FileKind::None,
        (Some(m), _) if m.file_type().is_symlink() => FileKind::Symlink,
        (Some(m), _) if m.is_dir() => FileKind::Dir,
        (Some(_), _) => FileKind::File,
    };
    if content.is_none() && meta.is_none() {
        // Nothing to read: a plain "not logged in", which the state says already.
        notes.retain(|n| !n.ends_with("does not exist"));
    }
    let (codex_status, codex) = local_codex_verdict(&home, codex_version).await.unzip();
    Ok(decode(InspectReport {
        location: Location {
            dir: home.dir.display().to_string(),
            home_from: if auth::local::codex_home_from_env() {
                HomeSource::Env
            } else {
                HomeSource::Default
            },
            user: std::env::var("USER").unwrap_or_default(),
            store: home.store(),
        },
        kind,
        file_mode: if in_file {
            local_file_mode(&path)
        } else {
            None
        },
        codex_status,
        codex,
        forced: home.config.forced.clone(),
        notes,
        unreadable: false,
        content,
        keyring_account,
    }))
}

#[cfg(unix)]
fn local_file_mode(path: &std::path::Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| format!("{:o}", m.permissions().mode() & 0o777))
}

#[cfg(not(unix))]
fn local_file_mode(_: &std::path::Path) -> Option<String> {
    None
}

/// Make `name` in `scratch` point at the real file (a copy where links are not allowed).
fn link_into(real: &std::path::Path, scratch: &std::path::Path) {
    let Some(name) = real.file_name() else {
        return;
    };
    #[cfg(unix)]
    let _ = std::os::unix::fs::symlink(real, scratch.join(name));
    #[cfg(not(unix))]
    let _ = std::fs::copy(real, scratch.join(name));
}

/// Where `codex` is on this machine's PATH.
fn local_codex() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(if cfg!(windows) { "codex.exe" } else { "codex" }))
        .find(|p| p.is_file())
}

/// `codex login status` for the login of `home`, run in a scratch home that links to
/// its auth.json and config.toml (Codex writes helper files into whatever home it runs
/// in); a home whose Codex may read the keyring is asked as it is, since the keyring
/// entry is named after the home's own path.
async fn local_codex_verdict(
    home: &auth::local::LocalHome,
    codex_version: bool,
) -> Option<(String, CodexSeen)> {
    let codex = local_codex()?;
    let scratch = tempfile::Builder::new()
        .prefix("codex-auth-status")
        .tempdir()
        .ok()?;
    let run_in = if home.store().may_ignore_file() {
        home.dir.clone()
    } else {
        for name in ["auth.json", "config.toml"] {
            let real = home.dir.join(name);
            if real.exists() {
                link_into(&real, scratch.path());
            }
        }
        scratch.path().to_path_buf()
    };
    let run = |args: &'static [&'static str]| {
        tokio::process::Command::new(&codex)
            .args(args)
            .env("CODEX_HOME", &run_in)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output()
    };
    let out = run(&["login", "status"]).await.ok()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let (verdict, line) = auth::verdict::judge(out.status.code().map(i64::from), text.lines());
    let version = match codex_version {
        true => run(&["--version"])
            .await
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|v| !v.is_empty()),
        false => None,
    };
    Some((
        line,
        CodexSeen {
            verdict,
            path: Some(codex.display().to_string()),
            version,
        },
    ))
}

/// Local first, then every target in the order given.
pub(crate) async fn status(
    plan: StatusPlan,
    ctx: ConnectContext,
    sink: Arc<dyn ProgressSink>,
) -> Vec<PlaceResult> {
    let codex_home = Arc::new(plan.codex_home.clone());
    let codex_version = plan.codex_version;
    let targets = fan_out(
        &plan.targets,
        plan.jobs,
        plan.target_timeout,
        sink,
        move |spec, progress| {
            let (ctx, codex_home) = (ctx.clone(), codex_home.clone());
            async move {
                progress.stage("connecting");
                let result = async {
                    let target = spec.connect(&ctx).await?;
                    progress.stage("reading");
                    let req = InspectRequest {
                        codex_home: codex_home.as_deref(),
                        codex_version,
                    };
                    let r = target.inspect(&req).await;
                    target.close().await;
                    r.map(decode)
                }
                .await;
                PlaceResult {
                    spec: Some(spec),
                    result,
                }
            }
        },
    );
    let (local, targets) = tokio::join!(local(codex_version), targets);
    let mut all = vec![PlaceResult {
        spec: None,
        result: local,
    }];
    all.extend(targets);
    mark_shared(&mut all);
    mark_stale(&mut all);
    all
}

fn describe(state: &LoginState) -> String {
    match state {
        LoginState::NotLoggedIn => "not logged in".into(),
        LoginState::Invalid(r) => format!("invalid: {r}"),
        LoginState::LoggedIn(a) => a.summary.mode.clone(),
    }
}

/// Mark copies of one sign-in whose session was refreshed elsewhere: same lineage
/// (`login_owner_id`, which refreshes keep), another refresh token, an older
/// `last_refresh`. The copy refreshed last is the live one.
fn mark_stale(places: &mut [PlaceResult]) {
    /// A copy's lineage, session and last refresh.
    type Copy = (String, String, String);
    let seen: Vec<(String, Option<Copy>)> = places
        .iter()
        .map(|p| {
            let key = p
                .result
                .as_ref()
                .ok()
                .and_then(PlaceStatus::login)
                .and_then(|a| {
                    Some((
                        a.lineage.clone()?,
                        a.session_id.clone()?,
                        a.summary.last_refresh.clone().unwrap_or_default(),
                    ))
                });
            (p.display(), key)
        })
        .collect();
    for (i, p) in places.iter_mut().enumerate() {
        let Some((lineage, session, refreshed)) = &seen[i].1 else {
            continue;
        };
        let newer = seen
            .iter()
            .filter_map(|(name, k)| k.as_ref().map(|k| (name, k)))
            .filter(|(_, (l, s, r))| l == lineage && s != session && r > refreshed)
            .max_by(|a, b| a.1 .2.cmp(&b.1 .2));
        if let (Some((name, _)), Ok(status)) = (newer, &mut p.result) {
            status.stale = Some(name.clone());
        }
    }
}

/// Fill `shared_with` from equal refresh-token hashes (the hash itself is never shown).
fn mark_shared(places: &mut [PlaceResult]) {
    let ids: Vec<(String, Option<String>)> = places
        .iter()
        .map(|p| {
            let id = p
                .result
                .as_ref()
                .ok()
                .and_then(PlaceStatus::login)
                .and_then(|a| a.session_id.clone());
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
