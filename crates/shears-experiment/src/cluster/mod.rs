//! A grid run as independent tasks against one store, so that a cluster scheduler can spread
//! it over nodes (docs/cluster.md). The grid of a report directory (its `compare.json`) is
//! split into:
//!
//! - dense tasks: one per distinct dense model, trained before the runs that share it;
//! - pruning tasks: one per run (experiment × seed);
//! - the report, once the runs are done.
//!
//! A task is an index into the [`Plan`], which is derived from `compare.json` alone, so every
//! process computes the same one. Each task is an ordinary resumable run: the store's locks,
//! atomic commits and verified reads make a cancelled or preempted task resume from its last
//! committed step when it is submitted again.
//!
//! - [`Plan`]: the tasks of a grid; [`run_task`]: runs one.
//! - [`status`]: each run's state, from the store and the scheduler's queue.
//! - [`slurm`]: the job arrays that run a plan on Slurm.

pub mod filesystem;
mod launch;
pub mod slurm;
mod status;

pub use launch::{Launch, launch};
pub use status::{Queue, QueueState, RunStatus, Selection, status};

use crate::config::ExperimentConfig;
use crate::runner::{Event, RunError, RunOptions, dense_name, prepare_dense, run_experiment_with};
use crate::sweep::{Cell, Manifest, ManifestError};
use shears_core::results::{FailedRun, StepRow};
use shears_nn::train::Devices;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// One pruning task: one seed of one experiment of the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct RunTask {
    pub experiment: String,
    pub regime: String,
    pub target: f64,
    pub seed: u64,
    /// The store's name of the dense model it starts from (see [`dense_name`]).
    pub dense: Option<String>,
}

/// One dense task: a dense model some runs start from.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseTask {
    /// Its name in the store (`dense/<key>`).
    pub name: String,
    /// The first run that starts from it (whose config trains it).
    pub run: usize,
}

/// The tasks of a grid, in a fixed order: the grid's distinct experiments in cell order,
/// each over its seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub runs: Vec<RunTask>,
    pub dense: Vec<DenseTask>,
    configs: Vec<ExperimentConfig>,
}

/// What a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskKind {
    Dense,
    Run,
    Report,
}

impl TaskKind {
    pub fn name(self) -> &'static str {
        match self {
            TaskKind::Dense => "dense",
            TaskKind::Run => "prune",
            TaskKind::Report => "report",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("{} task {index}: the grid in {} has {count} (indices 0..{count})", kind.name(), dir.display())]
    NoSuchTask {
        kind: TaskKind,
        index: usize,
        count: usize,
        dir: PathBuf,
    },
    #[error("{0}")]
    Scheduler(String),
    #[error("{}: {detail}", path.display())]
    Io { path: PathBuf, detail: String },
}

/// What a pruning task left: its rows, or its run's recorded failure.
#[derive(Debug, Clone)]
pub enum TaskOutcome {
    Finished(Vec<StepRow>),
    Failed(FailedRun),
    /// A dense task's model is ready.
    DenseReady,
}

impl Plan {
    /// The plan of `cells` (duplicates of one experiment run once, as in a local sweep).
    pub fn new(cells: &[Cell]) -> Self {
        let mut seen = HashSet::new();
        let mut runs = Vec::new();
        let mut configs = Vec::new();
        let mut dense: Vec<DenseTask> = Vec::new();
        for c in cells.iter().filter(|c| seen.insert(c.config.id())) {
            for &seed in &c.config.seeds {
                let name = dense_name(&c.config, seed);
                if let Some(n) = &name
                    && !dense.iter().any(|d| &d.name == n)
                {
                    dense.push(DenseTask {
                        name: n.clone(),
                        run: runs.len(),
                    });
                }
                runs.push(RunTask {
                    experiment: c.config.id(),
                    regime: c.regime.clone(),
                    target: c.target,
                    seed,
                    dense: name,
                });
                configs.push(c.config.clone());
            }
        }
        Self {
            runs,
            dense,
            configs,
        }
    }

    /// The plan of the grid recorded in the report directory `dir`.
    pub fn read(dir: &Path) -> Result<Self, ClusterError> {
        let manifest = Manifest::<serde_json::Value>::read(dir)?;
        let cells = manifest.sweep.cells().map_err(|e| ManifestError::Grid {
            path: dir.join(Manifest::<serde_json::Value>::FILE),
            detail: e.to_string(),
        })?;
        Ok(Self::new(&cells))
    }

    /// The experiment config of run `index`.
    pub fn config(&self, index: usize) -> &ExperimentConfig {
        &self.configs[index]
    }

    fn count(&self, kind: TaskKind) -> usize {
        match kind {
            TaskKind::Dense => self.dense.len(),
            TaskKind::Run => self.runs.len(),
            TaskKind::Report => 1,
        }
    }
}

fn io_error(path: &Path, e: impl std::fmt::Display) -> ClusterError {
    ClusterError::Io {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

/// Where a grid stands (see [`grid_status`]).
#[derive(Debug, Clone)]
pub struct GridStatus {
    pub plan: Plan,
    /// Each run's state, in plan order.
    pub states: Vec<RunStatus>,
    /// The scheduler's queue: `Ok(None)` where there is no `squeue`, `Err` with its message
    /// where it failed (no controller reachable); the states then come from the store alone.
    pub queue: Result<Option<Queue>, String>,
}

/// The grid recorded in `dir`, each run's state, and the scheduler's queue. Only showing the
/// states, a queue that cannot be read is reported, not an error (submitting refuses then).
pub fn grid_status(dir: &Path) -> Result<GridStatus, ClusterError> {
    let plan = Plan::read(dir)?;
    let dir = std::path::absolute(dir).map_err(|e| io_error(dir, e))?;
    let queue = slurm::queue(&dir).map_err(|e| e.to_string());
    let empty = Queue::default();
    let seen = match &queue {
        Ok(Some(q)) => q,
        _ => &empty,
    };
    let states = status(&dir, &plan, seen);
    Ok(GridStatus {
        plan,
        states,
        queue,
    })
}

/// The results store of a report directory.
pub fn store_of(dir: &Path) -> PathBuf {
    dir.join("runs")
}

/// Runs task `index` of `kind` (dense or pruning) of the grid recorded in `dir`, against its
/// store. A pruning task whose dense model is not ready trains it itself (under the dense
/// model's lock, so never twice at once).
pub fn run_task(
    dir: &Path,
    kind: TaskKind,
    index: usize,
    devices: &Devices,
    on_event: &mut dyn FnMut(Event),
) -> Result<TaskOutcome, ClusterError> {
    let plan = Plan::read(dir)?;
    let count = plan.count(kind);
    if index >= count || kind == TaskKind::Report {
        return Err(ClusterError::NoSuchTask {
            kind,
            index,
            count,
            dir: dir.to_path_buf(),
        });
    }
    let store = store_of(dir);
    filesystem::check_shared_locks(&store).map_err(ClusterError::Scheduler)?;
    if kind == TaskKind::Dense {
        let d = &plan.dense[index];
        let seed = plan.runs[d.run].seed;
        prepare_dense(plan.config(d.run), seed, &store, devices, on_event)?;
        return Ok(TaskOutcome::DenseReady);
    }
    let task = &plan.runs[index];
    let options = RunOptions {
        only_seed: Some(task.seed),
        ..RunOptions::default()
    };
    let result = run_experiment_with(plan.config(index), &store, &options, devices, on_event)?;
    Ok(match result.failed.into_iter().next() {
        Some(f) => TaskOutcome::Failed(f),
        None => TaskOutcome::Finished(result.rows),
    })
}

#[cfg(test)]
mod tests;
