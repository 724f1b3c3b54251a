//! Sending a grid to Slurm: record it in its report directory, find what is left to run, and
//! submit only that; run again, the same call submits what is missing (and, on request, what
//! failed), never what is done, running or queued.

use super::slurm::{self, Job, SlurmOptions, Submission};
use super::{ClusterError, Plan, Queue, RunStatus, Selection, status};
use crate::store::RunDir;
use crate::sweep::Manifest;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// What [`launch`] found and did.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The report directory, absolute (the path the jobs use).
    pub dir: PathBuf,
    pub plan: Plan,
    /// Each run's state before submitting.
    pub states: Vec<RunStatus>,
    pub selection: Selection,
    pub jobs: Vec<Job>,
    /// `None` for a dry run, or when nothing was left to run.
    pub submission: Option<Submission>,
}

/// Records `manifest` in `dir` and submits the runs of its grid that are left to run (see
/// the module docs); with `dry_run`, writes and submits nothing and returns the jobs it would
/// submit.
pub fn launch<O: Serialize + DeserializeOwned>(
    dir: &Path,
    manifest: &Manifest<O>,
    slurm: &SlurmOptions,
    retry_failed: bool,
    dry_run: bool,
) -> Result<Launch, ClusterError> {
    if manifest.sweep.seeds.is_auto() {
        return Err(ClusterError::Scheduler(
            "seeds = \"auto\" adds seeds after looking at the results, which a batch of jobs \
             submitted at once cannot; give a list of seeds to run on a cluster"
                .into(),
        ));
    }
    let cells = manifest.sweep.cells()?;
    let plan = Plan::new(&cells);
    let dir = absolute(dir)?;
    let queue = match slurm::queue(&dir)? {
        Some(q) => q,
        None if dry_run => Queue::default(),
        None => {
            return Err(ClusterError::Scheduler(
                "squeue not found: submit from a machine with Slurm's client commands".into(),
            ));
        }
    };
    if !dry_run {
        super::filesystem::check_shared_locks(&dir).map_err(ClusterError::Scheduler)?;
        check_same_grid(&dir, manifest, &queue)?;
        std::fs::create_dir_all(&dir).map_err(|e| super::io_error(&dir, e))?;
        manifest.write(&dir)?;
    }
    let states = status(&dir, &plan, &queue);
    let selection = Selection::new(&dir, &plan, &states, &queue, retry_failed)
        .map_err(ClusterError::Scheduler)?;
    let jobs = slurm::jobs(&dir, &selection, slurm);
    let mut submission = None;
    if !dry_run && !jobs.is_empty() {
        for &i in &selection.retried {
            let t = &plan.runs[i];
            RunDir::new(&super::store_of(&dir).join(&t.experiment), t.seed).clear_failure()?;
        }
        submission = Some(slurm::submit(&dir, &jobs, &selection)?);
    }
    Ok(Launch {
        dir,
        plan,
        states,
        selection,
        jobs,
        submission,
    })
}

/// Task indices are positions in the grid recorded in `compare.json`: while tasks of `dir`
/// are queued or running, it must not change under them.
fn check_same_grid<O: Serialize + DeserializeOwned>(
    dir: &Path,
    manifest: &Manifest<O>,
    queue: &Queue,
) -> Result<(), ClusterError> {
    if queue.is_empty() {
        return Ok(());
    }
    match Manifest::<serde_json::Value>::read(dir) {
        Ok(old) if old.experiments == manifest.experiments => Ok(()),
        Ok(_) => Err(ClusterError::Scheduler(format!(
            "{}: its grid has changed while its jobs are still queued or running (their task \
             numbers index the recorded grid); wait for them or scancel them, or use another --out",
            dir.display()
        ))),
        Err(_) => Ok(()),
    }
}

/// `dir` as an absolute path (it need not exist yet).
fn absolute(dir: &Path) -> Result<PathBuf, ClusterError> {
    std::path::absolute(dir).map_err(|e| super::io_error(dir, e))
}
