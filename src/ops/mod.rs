//! The pipelines (push now; status and forward later), written once against
//! `target::Target`. They return results and emit progress events; they never print.

pub mod forward;
pub mod push;
pub mod status;

/// Where a pipeline reports progress. `report` implements it.
pub trait ProgressSink: Send + Sync {
    /// Target `index` entered a stage ("connecting", "installing", ...).
    fn stage(&self, index: usize, stage: &'static str);
    /// Target `index` finished; `ok` tells success, `summary` is one short line.
    fn finished(&self, index: usize, ok: bool, summary: &str);
}
