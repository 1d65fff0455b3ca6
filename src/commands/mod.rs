//! One file per command: its options (from `cli`, checked before anything is read) go
//! through its pipeline (`ops::<command>::run`) to one report call, and the ledger
//! changes the pipeline returns are applied. The one [`Runner`] owns the reporter, the
//! connection context, the Ctrl-C race and the exit code.

pub(crate) mod completions;
pub(crate) mod login;
pub(crate) mod logout;
pub(crate) mod push;
pub(crate) mod run;
pub(crate) mod saved;
pub(crate) mod status;
pub(crate) mod sync;

use std::future::Future;
use std::sync::Arc;

use crate::cli::OutputArgs;
use crate::error::{exit, AppError};
use crate::ledger::{Change, Ledger};
use crate::ops::Run;
use crate::report::Output;
use crate::report::Reporter;
use crate::targets::{ConnectContext, KindContexts};

/// What every command run shares: how it reports, and how it ends.
pub(crate) struct Runner {
    pub reporter: Arc<Reporter>,
    pub output: Output,
}

impl Runner {
    pub(crate) fn new(output: &OutputArgs) -> Runner {
        let output = output.output();
        Runner {
            reporter: Arc::new(Reporter::new(output.verbosity, output.json, output.trace)),
            output,
        }
    }

    /// What the pipelines of this run share: connections made with `kinds` (from the
    /// flags), questions and progress through the reporter.
    pub(crate) fn run(&self, kinds: KindContexts) -> Run {
        Run {
            ctx: ConnectContext {
                kinds,
                prompter: self.reporter.clone(),
            },
            sink: self.reporter.clone(),
        }
    }

    /// Apply what the ledger learned; a failure to write it is a warning, never an error
    /// (the ledger only remembers).
    pub(crate) fn remember(&self, changes: Vec<Change>) {
        let Some(ledger) = Ledger::open() else { return };
        if let Some(w) = ledger.update(changes) {
            self.reporter.warn(&w);
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

/// Exit 0 when every place is done, else 1.
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
