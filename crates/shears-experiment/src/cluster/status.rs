//! Where each run of a grid stands: from the store (finished, failed, partly committed, locked
//! by a live process) and from the scheduler's queue (waiting, running); and from that, what a
//! new submission has to run.

use super::{Plan, TaskKind, store_of};
use crate::runner::dense_ready;
use crate::store::{Lock, RunDir, committed_rows};
use std::collections::HashMap;
use std::path::Path;

/// A run's state.
#[derive(Debug, Clone, PartialEq)]
pub enum RunStatus {
    /// Finished (its state and rows verified).
    Done,
    /// Failed on its own (diverged); the reason.
    Failed(String),
    /// A process has its lock, or the scheduler runs its task.
    Running,
    /// Waiting in the scheduler's queue.
    Queued,
    /// Committed up to `step` of `steps`, nothing running it (cancelled, preempted, timed out).
    Partial { step: usize, steps: usize },
    /// Nothing done yet.
    Pending,
    /// Its stored files fail verification; the error.
    Damaged(String),
}

impl RunStatus {
    /// One word for the state (`done`, `failed`, `running`, `queued`, `stopped`, `pending`,
    /// `damaged`), as `sweep --status` counts and `--json` writes it.
    pub fn kind(&self) -> &'static str {
        match self {
            RunStatus::Done => "done",
            RunStatus::Failed(_) => "failed",
            RunStatus::Running => "running",
            RunStatus::Queued => "queued",
            RunStatus::Partial { .. } => "stopped",
            RunStatus::Pending => "pending",
            RunStatus::Damaged(_) => "damaged",
        }
    }

    /// The state for people: the kind, with a failure's reason, the step a stopped run
    /// reached, or what is damaged.
    pub fn label(&self) -> String {
        match self {
            RunStatus::Done => "done".into(),
            RunStatus::Failed(reason) => format!("failed: {reason}"),
            RunStatus::Running => "running".into(),
            RunStatus::Queued => "queued".into(),
            RunStatus::Partial { step, steps } => format!("stopped at step {step}/{steps}"),
            RunStatus::Pending => "pending".into(),
            RunStatus::Damaged(e) => format!("damaged: {e}"),
        }
    }
}

/// A task's state in the scheduler's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueState {
    Waiting,
    Running,
}

/// The scheduler's queue, as far as it concerns one grid: task → state. Tasks it no longer
/// lists (finished, cancelled, never submitted) are absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Queue {
    pub tasks: HashMap<(TaskKind, usize), QueueState>,
}

impl Queue {
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    fn get(&self, kind: TaskKind, index: usize) -> Option<QueueState> {
        self.tasks.get(&(kind, index)).copied()
    }
}

/// The state of every run of `plan` (in plan order), the grid's report directory being `dir`.
pub fn status(dir: &Path, plan: &Plan, queue: &Queue) -> Vec<RunStatus> {
    let store = store_of(dir);
    plan.runs
        .iter()
        .enumerate()
        .map(|(i, task)| {
            let run = RunDir::new(&store.join(&task.experiment), task.seed);
            let steps = plan.config(i).steps().unwrap_or(0);
            // The state and rows are verified here; the weights (tens of megabytes a run at
            // paper scale) by whatever reads them: a resumed run, the report.
            let committed = match run
                .read_state()
                .and_then(|s| s.map(|s| committed_rows(&run, &s).map(|_| s)).transpose())
            {
                Ok(Some(s)) if s.finished => return RunStatus::Done,
                Ok(s) => s.map(|s| s.completed_step),
                Err(e) => return RunStatus::Damaged(e.to_string()),
            };
            if let Ok(Some(f)) = run.read_failure() {
                return RunStatus::Failed(f.reason);
            }
            let queued = queue.get(TaskKind::Run, i);
            if queued == Some(QueueState::Running) || (run.dir.exists() && Lock::is_held(&run.dir))
            {
                return RunStatus::Running;
            }
            if queued == Some(QueueState::Waiting) {
                return RunStatus::Queued;
            }
            match committed {
                Some(step) => RunStatus::Partial { step, steps },
                None => RunStatus::Pending,
            }
        })
        .collect()
}

/// What a submission runs: the runs not done, not failed (unless retried), not running or
/// queued already; and the dense models they need that are not ready.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    pub runs: Vec<usize>,
    pub dense: Vec<usize>,
    /// Runs recorded as failed that are selected again (their failures are to be cleared).
    pub retried: Vec<usize>,
}

impl Selection {
    /// The selection from the runs' states and the queue (a dense task still queued or
    /// running is not submitted twice); damaged runs are an error listing them (they are never
    /// run over: docs/cluster.md).
    pub fn new(
        dir: &Path,
        plan: &Plan,
        states: &[RunStatus],
        queue: &Queue,
        retry_failed: bool,
    ) -> Result<Self, String> {
        let damaged: Vec<String> = states
            .iter()
            .zip(&plan.runs)
            .filter_map(|(s, t)| match s {
                RunStatus::Damaged(e) => Some(format!("{} seed {}: {e}", t.experiment, t.seed)),
                _ => None,
            })
            .collect();
        if !damaged.is_empty() {
            return Err(format!(
                "{} stored runs fail verification; run `shears sweep --recompute-damaged` on them \
                 or remove them first: {}",
                damaged.len(),
                damaged.join("; ")
            ));
        }
        let mut s = Selection::default();
        for (i, state) in states.iter().enumerate() {
            match state {
                RunStatus::Pending | RunStatus::Partial { .. } => s.runs.push(i),
                RunStatus::Failed(_) if retry_failed => {
                    s.runs.push(i);
                    s.retried.push(i);
                }
                _ => {}
            }
        }
        let store = store_of(dir);
        for (d, task) in plan.dense.iter().enumerate() {
            let needed = s
                .runs
                .iter()
                .any(|&i| plan.runs[i].dense.as_deref() == Some(task.name.as_str()));
            let run = &plan.runs[task.run];
            let queued = queue.get(TaskKind::Dense, d).is_some();
            if needed && !queued && !dense_ready(plan.config(task.run), run.seed, &store) {
                s.dense.push(d);
            }
        }
        Ok(s)
    }

    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }
}
