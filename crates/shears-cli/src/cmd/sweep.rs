//! `shears sweep`: run the grid of a sweep file (skipping runs already stored) and its report,
//! here or as Slurm jobs; or show where a grid's runs stand.

use super::cluster::{self, SlurmArgs};
use super::common::{DeviceArgs, plural, target_pct};
use crate::grid;
use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use shears_experiment::sweep::{Cell, GridOptions, SweepConfig};
use shears_report::AnalysisOptions;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct SweepArgs {
    #[arg(long, required_unless_present = "status")]
    pub config: Option<PathBuf>,
    /// Report directory; the results store is its `runs/` sub-directory.
    #[arg(long, default_value = "results/sweep")]
    pub out: PathBuf,
    /// Print the grid and its estimated epoch count (and the Slurm scripts), run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print where each run of the grid in DIR stands (done, running, queued, failed, ...).
    #[arg(long, value_name = "DIR", conflicts_with = "config")]
    pub status: Option<PathBuf>,
    /// Where the runs happen: here, in `--jobs` parallel jobs, or as Slurm job arrays over
    /// the store (docs/cluster.md).
    #[arg(long, value_enum, default_value_t = Launcher::Local)]
    pub launcher: Launcher,
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Retry runs recorded as failed (diverged) instead of reporting the stored failure.
    #[arg(long)]
    pub retry_failed: bool,
    /// Runs whose stored files are damaged (checksum mismatch) are moved aside and computed
    /// again (deterministically, to the same result) instead of stopping with the error.
    #[arg(long)]
    pub recompute_damaged: bool,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub slurm: SlurmArgs,
    #[command(flatten)]
    pub device: DeviceArgs,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Launcher {
    Local,
    Slurm,
}

pub fn run(a: SweepArgs) -> Result<()> {
    if let Some(dir) = &a.status {
        return cluster::print_status(dir, a.json);
    }
    let config = a.config.as_ref().expect("clap requires --config");
    let sweep = SweepConfig::load(config)?;
    let cells = sweep.cells()?;
    if a.launcher == Launcher::Slurm {
        if a.recompute_damaged || a.jobs != 1 {
            bail!(
                "--launcher slurm: --jobs and --recompute-damaged are for the local launcher (the \
                 scheduler runs the tasks; recompute damaged runs locally first)"
            );
        }
        if a.dry_run {
            print_grid(&cells);
        }
        let mut options = AnalysisOptions::with_measure(grid::measure(&cells));
        grid::complete_options(&mut options, &sweep, &cells);
        return cluster::submit(sweep, &cells, options, &a);
    }
    if a.dry_run {
        print_grid(&cells);
        return Ok(());
    }
    let devices = a.device.devices()?;
    let grid = GridOptions {
        jobs: a.jobs,
        retry_failed: a.retry_failed,
        recompute_damaged: a.recompute_damaged,
    };
    grid::run_and_report(
        sweep,
        &a.out,
        &grid,
        &devices,
        AnalysisOptions::with_measure(grid::measure(&cells)),
        a.json,
    )
}

/// One line per experiment of the grid, and the estimated total.
fn print_grid(cells: &[Cell]) {
    let mut total = 0;
    for c in cells {
        let e = c.estimated_epochs();
        total += e;
        let axes: Vec<String> = c.axes.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "{}  {:<10} target {:<6} {}  ~{}  {}",
            c.config.id(),
            c.regime,
            target_pct(c.target),
            plural(c.config.seeds.len(), "seed"),
            plural(e, "epoch"),
            axes.join(" ")
        );
    }
    println!(
        "{}, estimated {}",
        plural(cells.len(), "experiment"),
        plural(total, "fine-tuning epoch")
    );
}
