//! The pipelines (push, status, logout, login, the move of a session), written once
//! against `targets` and never naming a transport. Each takes its command's options,
//! resolves its places (the one step that reads lists, inventories and engines), runs,
//! and returns its results and the ledger changes they teach; they emit progress and
//! notes, and never print. Every pipeline over many places runs them through one
//! bounded [`fan_out`].

pub(crate) mod handover;
pub(crate) mod install;
pub(crate) mod login;
pub(crate) mod logout;
pub(crate) mod push;
pub(crate) mod run;
pub(crate) mod saved;
pub(crate) mod source;
pub(crate) mod status;
pub(crate) mod sync;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::targets::{ConnectContext, TargetSpec};

/// Where a pipeline reports progress and says what a person should know. `report`
/// implements it.
pub(crate) trait ProgressSink: Send + Sync {
    /// The places of a fan-out, by the names progress shows them by, before it starts.
    fn begin(&self, places: &[String]);
    /// Place `index` entered a stage ("connecting", "installing", ...).
    fn stage(&self, index: usize, stage: &'static str);
    /// Place `index` finished; `ok` tells success, `summary` is one short line.
    fn finished(&self, index: usize, ok: bool, summary: &str);
    /// Something worth knowing (left out with `-q`).
    fn note(&self, line: &str);
    /// Something that must be seen (a warning, always shown).
    fn warn(&self, line: &str);
}

/// What every pipeline of a run shares: how connections reach their places and ask
/// their questions, and where progress and notes go.
#[derive(Clone)]
pub(crate) struct Run {
    pub ctx: ConnectContext,
    pub sink: Arc<dyn ProgressSink>,
}

/// A sink that shows nothing: progress for a run of this machine alone, which needs no
/// display (its result is the whole report).
struct Silent(Arc<dyn ProgressSink>);

impl ProgressSink for Silent {
    fn begin(&self, _: &[String]) {}
    fn stage(&self, _: usize, _: &'static str) {}
    fn finished(&self, _: usize, _: bool, _: &str) {}
    fn note(&self, line: &str) {
        self.0.note(line)
    }
    fn warn(&self, line: &str) {
        self.0.warn(line)
    }
}

/// One target's progress, handed to its worker.
#[derive(Clone)]
pub(crate) struct Progress {
    index: usize,
    sink: Arc<dyn ProgressSink>,
    /// The stage the worker is in, for a worker stopped at its deadline.
    current: Arc<Mutex<&'static str>>,
}

impl Progress {
    pub(crate) fn stage(&self, stage: &'static str) {
        if let Ok(mut current) = self.current.lock() {
            *current = stage;
        }
        self.sink.stage(self.index, stage);
    }

    fn current(&self) -> &'static str {
        self.current.lock().map_or("working", |s| *s)
    }
}

/// What a worker returns for its target.
pub(crate) trait TargetOutcome: Send + 'static {
    /// The result of a worker that stopped without one (it panicked, or was cancelled).
    fn lost(spec: TargetSpec) -> Self;
    /// The result of a worker stopped at its deadline, `after` it started, in `stage`.
    fn timed_out(spec: TargetSpec, stage: &'static str, after: Duration) -> Self;
    /// Whether the target is done, and one line saying how it went (for progress).
    fn summary(&self) -> (bool, String);
}

/// Run `work` for every place on a pool of at most `jobs` at once; results come back
/// in the order the places were given, and a worker that panics or is cancelled
/// becomes that place's failure without disturbing the others. A worker still going
/// `deadline` after it started is stopped (its connection dropped with it) and reported
/// as timed out: one stuck place never holds up the run. Progress shows one line per
/// place, unless this machine is the only one.
pub(crate) async fn fan_out<R, F, Fut>(
    targets: &[TargetSpec],
    jobs: usize,
    deadline: Duration,
    sink: Arc<dyn ProgressSink>,
    work: F,
) -> Vec<R>
where
    R: TargetOutcome,
    F: Fn(TargetSpec, Progress) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
{
    let sink: Arc<dyn ProgressSink> = if targets.iter().any(|t| t.kind().remote()) {
        sink
    } else {
        Arc::new(Silent(sink))
    };
    sink.begin(&targets.iter().map(TargetSpec::display).collect::<Vec<_>>());
    let work = Arc::new(work);
    let pool = Arc::new(Semaphore::new(jobs.max(1)));
    let mut set = JoinSet::new();
    let mut ids = std::collections::HashMap::new();
    for (index, spec) in targets.iter().cloned().enumerate() {
        let (work, pool) = (work.clone(), pool.clone());
        let progress = Progress {
            index,
            sink: sink.clone(),
            current: Arc::new(Mutex::new("waiting")),
        };
        let handle = set.spawn(async move {
            let _slot = pool.acquire_owned().await.ok();
            let watch = progress.clone();
            match tokio::time::timeout(deadline, work(spec.clone(), progress)).await {
                Ok(result) => result,
                Err(_) => R::timed_out(spec, watch.current(), deadline),
            }
        });
        ids.insert(handle.id(), index);
    }
    let mut results: Vec<Option<R>> = (0..targets.len()).map(|_| None).collect();
    while let Some(joined) = set.join_next_with_id().await {
        let (index, result) = match joined {
            Ok((id, r)) => (ids[&id], r),
            Err(e) => {
                let index = ids[&e.id()];
                (index, R::lost(targets[index].clone()))
            }
        };
        let (ok, line) = result.summary();
        sink.finished(index, ok, &line);
        results[index] = Some(result);
    }
    results
        .into_iter()
        .zip(targets)
        .map(|(r, spec)| r.unwrap_or_else(|| R::lost(spec.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Record(Mutex<Vec<(usize, bool, String)>>);
    impl ProgressSink for Record {
        fn begin(&self, _: &[String]) {}
        fn note(&self, _: &str) {}
        fn warn(&self, _: &str) {}
        fn stage(&self, _: usize, _: &'static str) {}
        fn finished(&self, index: usize, ok: bool, summary: &str) {
            self.0
                .lock()
                .unwrap()
                .push((index, ok, summary.to_string()));
        }
    }

    struct Done(Result<usize, String>);
    impl TargetOutcome for Done {
        fn lost(_: TargetSpec) -> Self {
            Done(Err("lost".into()))
        }
        fn timed_out(_: TargetSpec, stage: &'static str, _: Duration) -> Self {
            Done(Err(format!("timed out {stage}")))
        }
        fn summary(&self) -> (bool, String) {
            (self.0.is_ok(), format!("{:?}", self.0))
        }
    }

    #[tokio::test]
    async fn ordered_results_bounded_pool_and_a_panic_is_one_targets_failure() {
        let specs: Vec<TargetSpec> = (0..6)
            .map(|i| TargetSpec::Docker(format!("c{i}")))
            .collect();
        let running = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let record = Arc::new(Record::default());
        let (r, p) = (running.clone(), peak.clone());
        let out = fan_out(
            &specs,
            2,
            Duration::from_secs(60),
            record.clone(),
            move |spec, _| {
                let (running, peak) = (r.clone(), p.clone());
                async move {
                    let now = running.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    peak.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                    let n: usize = spec.label()[1..].parse().unwrap();
                    // Later targets finish first.
                    tokio::time::sleep(std::time::Duration::from_millis(30 - 5 * n as u64)).await;
                    running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    if n == 3 {
                        panic!("worker 3 fails");
                    }
                    Done(Ok(n))
                }
            },
        )
        .await;
        let got: Vec<Result<usize, String>> = out.into_iter().map(|d| d.0).collect();
        assert_eq!(
            got,
            vec![Ok(0), Ok(1), Ok(2), Err("lost".into()), Ok(4), Ok(5)]
        );
        assert_eq!(peak.load(std::sync::atomic::Ordering::SeqCst), 2);
        let finished = record.0.lock().unwrap();
        assert_eq!(finished.len(), 6);
        assert!(finished.contains(&(3, false, "Err(\"lost\")".into())));
    }

    #[tokio::test]
    async fn a_worker_past_its_deadline_is_stopped_in_its_stage_and_the_others_finish() {
        let specs: Vec<TargetSpec> = (0..3)
            .map(|i| TargetSpec::Docker(format!("c{i}")))
            .collect();
        let record = Arc::new(Record::default());
        let out = fan_out(
            &specs,
            3,
            Duration::from_millis(200),
            record.clone(),
            |spec, progress| async move {
                progress.stage("installing");
                if spec.label() == "c1" {
                    std::future::pending::<()>().await;
                }
                Done(Ok(0))
            },
        )
        .await;
        let got: Vec<Result<usize, String>> = out.into_iter().map(|d| d.0).collect();
        assert_eq!(got, vec![Ok(0), Err("timed out installing".into()), Ok(0)]);
    }
}
