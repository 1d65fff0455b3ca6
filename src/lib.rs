//! codex-auth: get a working Codex CLI login onto machines without a browser.
//! `run` wires the layers: cli -> auth -> ops (over target/ssh) -> report.

pub mod auth;
pub mod cli;
pub mod docker;
pub mod error;
pub mod login;
pub mod ops;
pub mod prompt;
pub mod report;
pub mod ssh;
pub mod target;

use std::io::{IsTerminal, Read};
use std::sync::Arc;

use clap::Parser;

use auth::AuthFile;
use cli::{Cli, Command, OutputArgs, PushPlanArgs, Source};
use error::{exit, AppError};
use report::{Reporter, Verbosity};

/// Largest input we accept on stdin or from --from; a real auth.json is a few KiB.
const MAX_INPUT: u64 = 1 << 20;

pub fn run() -> Result<u8, AppError> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| AppError::failed(format!("cannot start the async runtime: {e}")))?;
    match cli.command {
        Command::Push(args) => {
            let plan = args.validate()?;
            runtime.block_on(run_push(plan))
        }
        Command::Login(args) if args.forward.is_some() => {
            let plan = forward_plan(&args)?;
            runtime.block_on(run_forward(plan, args.output))
        }
        Command::Login(args) => {
            let opts = args.flow.validate()?;
            runtime.block_on(run_login(args, opts))
        }
        Command::Status(args) => {
            let scope = args.scope.validate()?;
            runtime.block_on(run_status(scope, args.output))
        }
    }
}

fn verbosity(output: &OutputArgs) -> Verbosity {
    if output.quiet {
        Verbosity::Quiet
    } else if output.verbose > 0 {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    }
}

async fn run_status(scope: cli::TargetsPlan, output: OutputArgs) -> Result<u8, AppError> {
    let verbosity = verbosity(&output);
    let labels = scope.targets.iter().map(|t| t.display()).collect();
    let reporter = Arc::new(Reporter::new(labels, verbosity, output.json));
    let ctx = target::ConnectContext::new(
        scope.ssh.clone(),
        reporter.clone(),
        scope.docker_user.clone(),
    );
    let plan = ops::status::StatusPlan {
        targets: scope.targets.clone(),
        codex_home: scope.codex_home.clone(),
        jobs: scope.jobs,
    };
    let places = tokio::select! {
        r = ops::status::status(plan, ctx, reporter.clone()) => r,
        _ = tokio::signal::ctrl_c() => {
            reporter.finish();
            return Err(AppError::interrupted());
        }
    };
    reporter.finish();
    if output.json {
        println!("{}", report::status_json(&places));
    } else {
        print!("{}", report::status_table(&places, verbosity));
    }
    let all_ok = places.iter().all(|p| p.result.is_ok());
    Ok(if all_ok {
        exit::OK
    } else {
        exit::TARGET_FAILED
    })
}

async fn run_push(args: PushPlanArgs) -> Result<u8, AppError> {
    let json = args.output.json;
    let verbosity = verbosity(&args.output);
    let scope = &args.scope;
    let labels = scope.targets.iter().map(|t| t.display()).collect();
    let reporter = Arc::new(Reporter::new(labels, verbosity, json));

    let source = match &args.source {
        Source::FreshLogin(opts) => {
            ops::push::PushSource::FreshLogin(opts.clone(), reporter.clone())
        }
        other => {
            let auth = load_credentials(other)?;
            guard_shared_session(&auth, scope.targets.len(), args.share)?;
            if auth.is_rotating_session() && !args.dry_run && verbosity != Verbosity::Quiet {
                let what = if scope.targets.len() > 1 {
                    "these targets and every other holder of this auth.json now share one ChatGPT session"
                } else {
                    "this target and every other holder of this auth.json (this machine, if it is your local login) now share one ChatGPT session"
                };
                reporter.note(&format!(
                    "warning: {what}; a token refresh on one signs the others out"
                ));
            }
            ops::push::PushSource::Fixed(auth)
        }
    };
    let shared_login = match &source {
        ops::push::PushSource::Fixed(a) => Some(a.clone()),
        ops::push::PushSource::FreshLogin(..) => None,
    };

    let ctx = target::ConnectContext::new(
        scope.ssh.clone(),
        reporter.clone(),
        scope.docker_user.clone(),
    );
    let plan = ops::push::PushPlan {
        targets: scope.targets.clone(),
        source,
        codex_home: scope.codex_home.clone(),
        force: args.force,
        dry_run: args.dry_run,
        jobs: scope.jobs,
    };
    let results = tokio::select! {
        r = ops::push::push(plan, ctx, reporter.clone()) => r,
        _ = tokio::signal::ctrl_c() => {
            reporter.finish();
            return Err(AppError::interrupted());
        }
    };
    reporter.finish();

    if json {
        println!(
            "{}",
            report::push_json(&results, shared_login.as_ref(), args.dry_run)
        );
    } else {
        print!(
            "{}",
            report::push_table(&results, shared_login.as_ref(), verbosity)
        );
    }
    let all_ok = results.iter().all(report::target_ok);
    Ok(if all_ok {
        exit::OK
    } else {
        exit::TARGET_FAILED
    })
}

/// One ChatGPT login on several targets is refused unless `--share`: its refresh token
/// rotates, so the first refresh anywhere signs the others out.
fn guard_shared_session(auth: &AuthFile, targets: usize, share: bool) -> Result<(), AppError> {
    if auth.is_rotating_session() && targets > 1 && !share {
        return Err(AppError::usage(
            format!(
                "refusing to push one ChatGPT login to {targets} targets: its refresh token rotates, so the first refresh on any of them signs the others out"
            ),
            Some("use --login for one login per target, push an API key (--api-key-stdin), or pass --share to accept one shared session"),
        ));
    }
    Ok(())
}

fn forward_plan(args: &cli::LoginArgs) -> Result<ops::forward::ForwardPlan, AppError> {
    let raw = args.forward.as_deref().unwrap_or("");
    let dest = ssh::Destination::parse(raw).map_err(|e| {
        AppError::usage(
            e.to_string(),
            Some("use alias, user@host, host:port or ssh://user@host:port"),
        )
    })?;
    Ok(ops::forward::ForwardPlan {
        dest,
        ssh: args.ssh_args.clone().validate()?,
        no_run: args.no_run,
        no_browser: args.flow.no_browser,
    })
}

async fn run_forward(plan: ops::forward::ForwardPlan, output: OutputArgs) -> Result<u8, AppError> {
    let reporter = Arc::new(Reporter::new(vec![], verbosity(&output), output.json));
    let no_run = plan.no_run;
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let result =
        ops::forward::forward_login(plan, reporter.clone(), reporter.clone(), interrupt).await;
    match result {
        Ok(_) if no_run => {
            reporter.note("tunnel closed");
            Ok(exit::OK)
        }
        Ok(rep) => {
            let ok = rep.exit_status == Some(0);
            let verdict = rep.codex_status.as_deref().unwrap_or("unknown");
            if output.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "command": "login",
                        "forward": true,
                        "ok": ok,
                        "port": rep.port,
                        "remote_exit": rep.exit_status,
                        "codex_status": rep.codex_status,
                    }))
                    .unwrap_or_default()
                );
            } else if ok {
                println!("Logged in on the host; codex there says: {verdict}");
            } else {
                println!(
                    "The login on the host did not finish (codex login exited {}); codex there says: {verdict}",
                    rep.exit_status.map_or("?".into(), |c| c.to_string())
                );
            }
            Ok(if ok { exit::OK } else { exit::TARGET_FAILED })
        }
        Err(ops::forward::ForwardError::Interrupted) => Err(AppError::interrupted()),
        Err(e) => Err(AppError {
            code: exit::TARGET_FAILED,
            hint: e.hint(),
            message: e.to_string(),
        }),
    }
}

async fn run_login(args: cli::LoginArgs, opts: login::LoginOptions) -> Result<u8, AppError> {
    let verbosity = verbosity(&args.output);
    let reporter = Arc::new(Reporter::new(vec![], verbosity, args.output.json));
    let auth = if args.api_key_stdin {
        load_credentials(&Source::ApiKeyStdin)?
    } else {
        let signing_in = login::login(&opts, reporter.as_ref(), None);
        tokio::select! {
            r = signing_in => r.map_err(|e| {
                let hint = e.hint();
                AppError { code: exit::TARGET_FAILED, message: e.to_string(), hint: hint.map(str::to_string) }
            })?,
            _ = tokio::signal::ctrl_c() => return Err(AppError::interrupted()),
        }
    };
    let (path, outcome) = auth::local::write_login(&auth, args.force).map_err(|e| match e {
        auth::local::LocalWriteError::OtherAccount { .. } => AppError {
            code: exit::TARGET_FAILED,
            message: format!("not saved: {e}"),
            hint: Some(
                "pass --force to replace it (the old login is kept as auth.json.bak)".into(),
            ),
        },
        other => AppError::failed(other.to_string()),
    })?;
    let verdict = ops::status::local()
        .await
        .ok()
        .and_then(|p| p.report.codex_status);
    if args.output.json {
        println!(
            "{}",
            report::login_json(&auth, &path, &outcome, verdict.as_deref())
        );
    } else {
        print!(
            "{}",
            report::login_text(&auth, &path, &outcome, verdict.as_deref())
        );
    }
    Ok(exit::OK)
}

fn load_credentials(source: &Source) -> Result<AuthFile, AppError> {
    let bad_file = |path: &std::path::Path, e: auth::AuthError| {
        AppError::usage(
            format!("{}: {e}", path.display()),
            Some("pass a Codex auth.json (as `codex login` writes it)"),
        )
    };
    match source {
        Source::File(path) => {
            let bytes = read_limited(path).map_err(|e| {
                AppError::usage(
                    format!("cannot read {}: {e}", path.display()),
                    Some("check the path given to --from"),
                )
            })?;
            AuthFile::parse(&bytes).map_err(|e| bad_file(path, e))
        }
        Source::ApiKeyStdin => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Err(AppError::usage(
                    "--api-key-stdin reads the key from a pipe, and stdin is a terminal (the key would echo)",
                    Some("printenv OPENAI_API_KEY | codex-auth push ... --api-key-stdin"),
                ));
            }
            let mut raw = String::new();
            stdin
                .lock()
                .take(MAX_INPUT)
                .read_to_string(&mut raw)
                .map_err(|e| {
                    AppError::usage(format!("cannot read the key from stdin: {e}"), None)
                })?;
            AuthFile::from_api_key(&raw).map_err(|e| {
                AppError::usage(
                    format!("--api-key-stdin: {e}"),
                    Some("printenv OPENAI_API_KEY | codex-auth push ... --api-key-stdin"),
                )
            })
        }
        Source::FreshLogin(_) => Err(AppError::usage("a fresh login is made per target", None)),
        Source::LocalLogin => {
            let path = auth::local::auth_path().ok_or_else(|| {
                AppError::usage(
                    "cannot find the home directory for the local login",
                    Some("set CODEX_HOME or pass --from FILE"),
                )
            })?;
            let bytes = match read_limited(&path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(AppError::usage(
                        format!("no local Codex login: {} does not exist", path.display()),
                        Some(
                            "run `codex login` here first, or pass --from FILE or --api-key-stdin",
                        ),
                    ))
                }
                Err(e) => {
                    return Err(AppError::usage(
                        format!("cannot read {}: {e}", path.display()),
                        None,
                    ))
                }
            };
            AuthFile::parse(&bytes).map_err(|e| bad_file(&path, e))
        }
    }
}

fn read_limited(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    let f = std::fs::File::open(path)?;
    if f.metadata()?.is_dir() {
        return Err(std::io::Error::other("is a directory"));
    }
    let mut buf = Vec::new();
    f.take(MAX_INPUT).read_to_end(&mut buf)?;
    Ok(buf)
}
