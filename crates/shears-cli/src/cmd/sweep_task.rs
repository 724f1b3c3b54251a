//! `shears sweep-task`: one task of a grid sent to a cluster (what the jobs of
//! `sweep --launcher slurm` run): a dense model, a pruning run, or the report.

use super::common::{DeviceArgs, pct, plural};
use crate::grid;
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use shears_experiment::Event;
use shears_experiment::cluster::{TaskKind, TaskOutcome, run_task};
use std::path::PathBuf;

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Dense,
    Prune,
    Report,
}

#[derive(Args, Debug)]
pub struct SweepTaskArgs {
    /// The report directory of a grid submitted with `sweep --launcher slurm`.
    pub dir: PathBuf,
    pub kind: Kind,
    /// Task number (default: $SLURM_ARRAY_TASK_ID).
    pub index: Option<usize>,
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// One task of a submitted grid: a dense model, a pruning run, or the report (written even
/// with runs missing, which it then names; an error if any run failed or is missing).
pub fn run(a: SweepTaskArgs) -> Result<()> {
    let kind = match a.kind {
        Kind::Dense => TaskKind::Dense,
        Kind::Prune => TaskKind::Run,
        Kind::Report => {
            let outcome = grid::report(&a.dir, true)?;
            let (failed, missing) = (outcome.failed.len(), outcome.missing.len());
            if failed + missing > 0 {
                bail!(
                    "{} failed, {} missing (listed in {}); `shears sweep --status {}` shows them",
                    plural(failed, "run"),
                    plural(missing, "run"),
                    a.dir.join("report.md").display(),
                    a.dir.display()
                );
            }
            return Ok(());
        }
    };
    let index = match a.index {
        Some(i) => i,
        None => std::env::var("SLURM_ARRAY_TASK_ID")
            .ok()
            .and_then(|v| v.parse().ok())
            .context("no task number given and no SLURM_ARRAY_TASK_ID set")?,
    };
    let devices = a.device.devices()?;
    let mut on_event = |e: Event| match e {
        Event::Step(row) => eprintln!(
            "step {}: sparsity {}, test {:.4}, {} epochs",
            row.step,
            pct(row.sparsity, 2),
            row.test_top1,
            row.epochs
        ),
        Event::DenseTraining { seed, epochs } => {
            eprintln!("seed {seed}: training the dense model ({epochs} epochs)")
        }
        _ => {}
    };
    match run_task(&a.dir, kind, index, &devices, &mut on_event)? {
        TaskOutcome::Failed(f) => bail!("the run failed: {}", f.reason),
        TaskOutcome::Finished(_) | TaskOutcome::DenseReady => Ok(()),
    }
}
