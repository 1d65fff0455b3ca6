//! One file per command: its plan (from `cli`) goes through its pipeline (in `ops`) to
//! its report, run by the one [`Runner`], which owns the reporter, the connection
//! context, the Ctrl-C race and the exit code.

pub(crate) mod completions;
pub(crate) mod login;
pub(crate) mod logout;
pub(crate) mod push;
pub(crate) mod status;

use std::future::Future;
use std::sync::Arc;

use crate::cli::{OutputArgs, TargetsPlan};
use crate::error::{exit, AppError};
use crate::report::{Reporter, Verbosity};
use crate::targets::ConnectContext;

/// What every command run shares: how it reports, and how it ends.
pub(crate) struct Runner {
    pub reporter: Arc<Reporter>,
    pub json: bool,
    pub verbosity: Verbosity,
}

impl Runner {
    /// A runner whose progress shows one line per label (no labels: no progress).
    pub(crate) fn new(output: &OutputArgs, labels: Vec<String>) -> Runner {
        let verbosity = output.verbosity();
        Runner {
            reporter: Arc::new(Reporter::new(labels, verbosity, output.json)),
            json: output.json,
            verbosity,
        }
    }

    /// Whether reports say which Codex version judged (`-v`, `--json`): it costs one
    /// more process at each place.
    pub(crate) fn wants_codex_version(&self) -> bool {
        self.json || self.verbosity == Verbosity::Verbose
    }

    /// A runner with one progress line per target of `scope`.
    pub(crate) fn for_targets(output: &OutputArgs, scope: &TargetsPlan) -> Runner {
        Runner::new(output, scope.targets.iter().map(|t| t.display()).collect())
    }

    /// How connections of this run reach their targets and ask their questions.
    pub(crate) fn context(&self, scope: &TargetsPlan) -> ConnectContext {
        ConnectContext {
            kinds: scope.kinds.clone(),
            prompter: self.reporter.clone(),
        }
    }

    /// Run a command's whole body on a new runtime, ended by Ctrl-C (exit 130) wherever
    /// it is: no path of a command is left to the default signal action.
    pub(crate) fn block_on<T>(
        &self,
        body: impl Future<Output = Result<T, AppError>>,
    ) -> Result<T, AppError> {
        block_on(async { self.until_interrupted(body).await? })
    }

    /// Ctrl-C, for a pipeline that ends its remote side itself when interrupted (a
    /// forwarded login cancels the host's `codex login`) instead of being dropped.
    pub(crate) fn interrupt(&self) -> impl Future<Output = ()> {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }

    /// Run `work` until it finishes or Ctrl-C arrives (exit 130); the progress display
    /// is cleared either way.
    pub(crate) async fn until_interrupted<T>(
        &self,
        work: impl Future<Output = T>,
    ) -> Result<T, AppError> {
        let result = tokio::select! {
            r = work => Ok(r),
            _ = tokio::signal::ctrl_c() => Err(AppError::interrupted()),
        };
        self.reporter.finish();
        result
    }
}

/// Exit 0 when every target is done, else 1.
pub(crate) fn exit_code(all_done: bool) -> u8 {
    if all_done {
        exit::OK
    } else {
        exit::TARGET_FAILED
    }
}

/// Run a command's async part on a runtime made for it.
pub(crate) fn block_on<T, F: Future<Output = Result<T, AppError>>>(f: F) -> Result<T, AppError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| AppError::failed(format!("cannot start the async runtime: {e}"), None))?;
    runtime.block_on(f)
}

/// The targets some kinds find when the run starts (the containers `--docker-filter`
/// names, asked of the engine once) join the targets, before the run (and its progress
/// display) starts.
pub(crate) fn resolve_filters(scope: &mut TargetsPlan) -> Result<(), AppError> {
    if !scope.kinds.finds_more() {
        return Ok(());
    }
    let quiet = OutputArgs {
        json: true,
        ..Default::default()
    };
    let ctx = Runner::new(&quiet, vec![]).context(scope);
    let found = block_on(scope.kinds.find(&ctx))?;
    for spec in found {
        if !scope.targets.iter().any(|t| t.display() == spec.display()) {
            scope.targets.push(spec);
        }
    }
    Ok(())
}
