//! Running a grid's cells: dense models first, then the other experiments in parallel jobs,
//! each experiment once. A run that diverges is recorded as failed and the others go on;
//! any other error stops the grid.

use super::Cell;
use crate::config::ConfigError;
use crate::runner::{Event, RunError, RunOptions, clear_failures, run_experiment_with};
use shears_core::results::{FailedRun, StepRow};
use shears_nn::train::Devices;
use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Rows of finished runs and the runs that failed on their own (diverged).
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub rows: Vec<StepRow>,
    pub failed: Vec<FailedRun>,
    /// Runs the grid declares that have no finished result (read from a store whose runs
    /// were deleted or not completed; never after running the grid), described.
    pub missing: Vec<String>,
    /// Finished runs of an older store, read without checksums to verify them by.
    pub unverified: Vec<String>,
}

impl Outcome {
    fn add(&mut self, other: Outcome) {
        self.rows.extend(other.rows);
        self.failed.extend(other.failed);
        self.missing.extend(other.missing);
        self.unverified.extend(other.unverified);
    }
}

/// How to run a grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GridOptions {
    /// Experiments run in parallel.
    pub jobs: usize,
    /// Run again the runs recorded as failed instead of serving the stored failure.
    pub retry_failed: bool,
    /// Move runs whose stored files are damaged aside and compute them again (they are
    /// deterministic) instead of stopping with the error.
    pub recompute_damaged: bool,
}

/// What happens while a grid runs, for a caller's display. Sent from the worker threads.
#[derive(Debug)]
pub enum GridEvent<'a> {
    /// The grid has this many pruning steps in all (distinct experiments × seeds × steps).
    Started { steps: u64 },
    /// This many more steps are done: run, resumed from or served by the store.
    Progress(u64),
    /// A run's final row, freshly computed or from the store.
    Finished { cell: &'a Cell, row: &'a StepRow },
    /// A run failed now, or had failed before (`stored`).
    Failed {
        cell: &'a Cell,
        seed: u64,
        reason: &'a str,
        stored: bool,
    },
    /// Any other event of a cell's experiment (dense training, a damaged dense model, ...).
    Run { cell: &'a Cell, event: &'a Event },
}

#[derive(Debug, thiserror::Error)]
pub enum GridError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Run(#[from] RunError),
    /// A cell's experiment stopped (interrupted, or an error that is not its own failure).
    #[error("regime '{regime}', target {target}")]
    Cell {
        regime: String,
        target: f64,
        #[source]
        source: RunError,
    },
}

/// Runs every cell in `store`: the first alone (it trains the dense models the others share),
/// the rest in `options.jobs` parallel jobs. Cells that resolve to the same experiment (two
/// regimes spelled alike) run once, and their rows are counted once.
pub fn run_cells(
    cells: &[Cell],
    store: &Path,
    options: &GridOptions,
    devices: &Devices,
    on_event: &(dyn Fn(GridEvent<'_>) + Sync),
) -> Result<Outcome, GridError> {
    let mut seen = HashSet::new();
    let cells: Vec<&Cell> = cells
        .iter()
        .filter(|c| seen.insert(c.config.id()))
        .collect();
    if options.retry_failed {
        for c in &cells {
            clear_failures(&c.config, store)?;
        }
    }
    let steps: usize = cells
        .iter()
        .map(|c| c.config.steps().unwrap_or(0) * c.config.seeds.len())
        .sum();
    on_event(GridEvent::Started {
        steps: steps as u64,
    });
    let mut outcome = Outcome::default();
    let Some((first, rest)) = cells.split_first() else {
        return Ok(outcome);
    };
    let run_options = RunOptions {
        recompute_damaged: options.recompute_damaged,
        only_seed: None,
    };
    let run_options = &run_options;
    outcome.add(run_cell(first, store, run_options, devices, on_event)?);
    if options.jobs <= 1 {
        for c in rest {
            outcome.add(run_cell(c, store, run_options, devices, on_event)?);
        }
        return Ok(outcome);
    }
    let next = AtomicUsize::new(0);
    let mut results: Vec<(usize, Result<Outcome, GridError>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..options.jobs)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(c) = rest.get(i) else { break };
                        out.push((i, run_cell(c, store, run_options, devices, on_event)));
                    }
                    out
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("worker"))
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    for (_, r) in results {
        outcome.add(r?);
    }
    Ok(outcome)
}

/// One cell's experiment, its events translated for the grid.
fn run_cell(
    cell: &Cell,
    store: &Path,
    options: &RunOptions,
    devices: &Devices,
    on_event: &(dyn Fn(GridEvent<'_>) + Sync),
) -> Result<Outcome, GridError> {
    let steps = cell.config.steps()?;
    let mut cached = Vec::new();
    let result = run_experiment_with(&cell.config, store, options, devices, &mut |e| match &e {
        Event::Step(row) => {
            on_event(GridEvent::Progress(1));
            if row.step == steps {
                on_event(GridEvent::Finished { cell, row });
            }
        }
        Event::Resumed { step, .. } => on_event(GridEvent::Progress(*step as u64)),
        Event::SeedDone { seed, cached: true } => {
            on_event(GridEvent::Progress(steps as u64));
            cached.push(*seed);
        }
        Event::SeedFailed {
            seed,
            reason,
            cached,
        } => {
            on_event(GridEvent::Progress(steps as u64));
            on_event(GridEvent::Failed {
                cell,
                seed: *seed,
                reason,
                stored: *cached,
            });
        }
        _ => on_event(GridEvent::Run { cell, event: &e }),
    })
    .map_err(|source| GridError::Cell {
        regime: cell.regime.clone(),
        target: cell.target,
        source,
    })?;
    // Runs served from the store report their stored final row too.
    for row in result
        .rows
        .iter()
        .filter(|r| r.step == steps && cached.contains(&r.seed))
    {
        on_event(GridEvent::Finished { cell, row });
    }
    Ok(Outcome {
        rows: result.rows,
        failed: result.failed,
        ..Outcome::default()
    })
}
