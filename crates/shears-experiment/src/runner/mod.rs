//! Runs an experiment: for every seed, the shared dense model, then per schedule step
//! score → prune → fresh optimizer → fine-tune → record, committing each step to the store
//! so a killed run resumes where it stopped and produces the same rows.

mod commit;
mod dense;
pub use dense::{dense_name, dense_ready};
mod pruning;
mod seed;
mod space;

use crate::config::ExperimentConfig;
use crate::store::{
    Lock, RunDir, StoreError, config_text, move_aside, remove_stale_temps, seed_record, seed_runs,
    verified_config, write,
};
use shears_core::results::{FailedRun, StepRow};
use shears_nn::checkpoint;
use shears_nn::train::{Devices, TrainError};
use shears_nn::train::{Prepared, Source};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Checkpoint(#[from] checkpoint::CheckpointError),
    #[error("{0}")]
    Invalid(String),
    #[error(
        "not enough free disk space in {dir}: this run still has {needed_mb} MB of checkpoints to \
         write, {available_mb} MB are free; nothing was trained — free space (or use another \
         --out) and run the same command again"
    )]
    NoSpace {
        dir: PathBuf,
        needed_mb: u64,
        available_mb: u64,
    },
}

impl RunError {
    /// A requested stop (Ctrl-C, SIGTERM), not a failure of the run.
    pub fn is_interrupted(&self) -> bool {
        matches!(self, RunError::Train(TrainError::Interrupted))
    }

    /// A failure of this run alone (its training diverged, or its model's outputs became
    /// NaN/inf): recorded, and the caller's other runs go on. Everything else (I/O, damaged
    /// files, bad configs, degenerate data) stops the caller.
    pub fn is_run_failure(&self) -> bool {
        matches!(
            self,
            RunError::Train(TrainError::Diverged { .. } | TrainError::NonFinite { .. })
        )
    }
}

/// Stops between units of work once a stop has been requested.
fn check_interrupt() -> Result<(), RunError> {
    if shears_nn::interrupt::requested() {
        return Err(TrainError::Interrupted.into());
    }
    Ok(())
}

/// Progress events for a caller's display.
#[derive(Debug, Clone)]
pub enum Event {
    DenseTraining {
        seed: u64,
        epochs: usize,
    },
    DenseReused {
        seed: u64,
        path: PathBuf,
    },
    /// A stored dense model does not match its recorded SHA-256, or has none (`reason`
    /// says which): it is not trusted, but trained again (same seed, same result) and
    /// replaced.
    DenseDamaged {
        seed: u64,
        path: PathBuf,
        reason: String,
    },
    /// Image files that do not decode were left out of the data (`data.skip_corrupt`).
    ImagesSkipped {
        files: Vec<PathBuf>,
    },
    /// A damaged stored file was found and, as asked (`--recompute-damaged`), is being
    /// repaired: `detail` names it and says what is done.
    Recomputing {
        detail: String,
    },
    Resumed {
        seed: u64,
        step: usize,
    },
    Epoch {
        seed: u64,
        step: usize,
        epoch: usize,
        val_top1: f64,
    },
    Step(Box<StepRow>),
    SeedDone {
        seed: u64,
        cached: bool,
    },
    /// The seed's run failed (or had failed before: `cached`); the other seeds go on.
    SeedFailed {
        seed: u64,
        reason: String,
        cached: bool,
    },
}

/// Outcome of [`run_experiment`].
#[derive(Debug, Clone)]
pub struct ExperimentResult {
    pub id: String,
    pub dir: PathBuf,
    pub rows: Vec<StepRow>,
    /// Seeds whose run failed (now or in an earlier invocation), with the reason.
    pub failed: Vec<FailedRun>,
}

impl ExperimentResult {
    /// The last committed checkpoint of each seed that reached the final step (`steps`): the
    /// pruned model, for `shears export` or `eval`.
    pub fn final_checkpoints(&self, steps: usize) -> Vec<(u64, PathBuf)> {
        self.rows
            .iter()
            .filter(|r| r.step == steps)
            .map(|r| (r.seed, RunDir::new(&self.dir, r.seed).checkpoint(steps)))
            .collect()
    }
}

/// Checks a manual per-layer schedule against the model's prunable tensors, before anything
/// is written or trained.
fn check_per_layer(config: &ExperimentConfig) -> Result<(), RunError> {
    let Some(manual) = config.manual() else {
        return Ok(());
    };
    let spec = config.model.planning_spec(config.data.dataset);
    let params = pruning::prunable(config, &spec)?;
    manual.validate(params.len()).map_err(|e| {
        let names: Vec<&str> = params.iter().map(|p| p.path.as_str()).collect();
        RunError::Invalid(format!(
            "prune.per_layer: {e}; {} has {} prunable tensors: {}",
            config.model.kind,
            params.len(),
            names.join(", ")
        ))
    })
}

/// Forgets the recorded failures of `config`'s seeds under `out`, so the next
/// [`run_experiment`] retries them from their last committed step.
pub fn clear_failures(config: &ExperimentConfig, out: &Path) -> Result<(), RunError> {
    let dir = out.join(config.id());
    for &seed in &config.seeds {
        RunDir::new(&dir, seed).clear_failure()?;
    }
    Ok(())
}

/// Makes the dense model of `config`'s `seed` ready under `out` (trained and stored, or found
/// there verified), as the seed's run would before its first step: run ahead of the
/// experiments that share it (a cluster's dense tasks), it is trained once, not by each.
pub fn prepare_dense(
    config: &ExperimentConfig,
    seed: u64,
    out: &Path,
    devices: &Devices,
    on_event: &mut dyn FnMut(Event),
) -> Result<(), RunError> {
    config
        .validate()
        .map_err(|e| RunError::Invalid(e.to_string()))?;
    if !config.dense.checkpoint.is_empty() {
        return Ok(());
    }
    let data = prepare_data(config, &mut None, seed)?;
    let spec = config.model.spec(data.input(), data.classes());
    spec.validate().map_err(RunError::Invalid)?;
    dense::dense_model(config, &spec, seed, &data, out, devices, on_event)?;
    Ok(())
}

/// How [`run_experiment_with`] treats what it finds in the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// A seed run (or the config) whose stored files are damaged is moved aside (rewritten)
    /// and computed again, to the same result since runs are deterministic, instead of
    /// stopping with the error naming the file.
    pub recompute_damaged: bool,
    /// Run only this one of the config's seeds (a cluster task: one seed per process); its
    /// rows keep their place (`repeat`) in the full seed list.
    pub only_seed: Option<u64>,
}

/// Runs (or resumes, or returns the stored result of) `config` under `out`.
pub fn run_experiment(
    config: &ExperimentConfig,
    out: &Path,
    devices: &Devices,
    on_event: &mut dyn FnMut(Event),
) -> Result<ExperimentResult, RunError> {
    run_experiment_with(config, out, &RunOptions::default(), devices, on_event)
}

/// [`run_experiment`] with options. A stored result is used only once verified (see
/// [`crate::store::seed_record`]).
pub fn run_experiment_with(
    config: &ExperimentConfig,
    out: &Path,
    options: &RunOptions,
    devices: &Devices,
    on_event: &mut dyn FnMut(Event),
) -> Result<ExperimentResult, RunError> {
    config
        .validate()
        .map_err(|e| RunError::Invalid(e.to_string()))?;
    check_per_layer(config)?;
    let id = config.id();
    let dir = out.join(&id);
    std::fs::create_dir_all(&dir).map_err(|e| StoreError::Io {
        path: dir.clone(),
        detail: e.to_string(),
    })?;
    remove_stale_temps(&dir);
    {
        // Seeds of one experiment may run as separate processes (a cluster's array tasks),
        // each merging its seed into config.toml: one at a time, or one's seed is lost.
        let _lock = Lock::acquire_waiting(&dir, |_| !shears_nn::interrupt::requested())?;
        record_config(config, &dir, options, on_event)?;
    }
    dense::check_given_unchanged(config, &dir)?;

    let mut source: Option<Source> = None;
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for (repeat, &seed) in config.seeds.iter().enumerate() {
        if options.only_seed.is_some_and(|s| s != seed) {
            continue;
        }
        check_interrupt()?;
        let run = RunDir::new(&dir, seed);
        if let Some(stored) = stored_seed(&run, options, on_event)? {
            Lock::clear_stale(&run.dir);
            rows.extend(stored);
            on_event(Event::SeedDone { seed, cached: true });
            continue;
        }
        if let Some(f) = run.read_failure()? {
            Lock::clear_stale(&run.dir);
            on_event(Event::SeedFailed {
                seed,
                reason: f.reason.clone(),
                cached: true,
            });
            failed.push(f);
            continue;
        }
        let dense = config
            .dense
            .checkpoint
            .is_empty()
            .then(|| dense::stored_path(config, seed, out));
        space::check_free_space(
            &run.dir,
            space::space_needed(config, &run, dense.as_deref()),
        )?;
        let _lock = Lock::acquire(&run.dir)?;
        remove_stale_temps(&run.dir);
        let data = seed_data(config, &mut source, seed, on_event)?;
        let context = seed::Seed {
            config,
            id: &id,
            repeat,
            seed,
            data: &data,
            out,
            run: &run,
            devices,
        };
        match seed::run_seed(&context, on_event) {
            Ok(seed_rows) => {
                on_event(Event::SeedDone {
                    seed,
                    cached: false,
                });
                rows.extend(seed_rows);
            }
            Err(e) if e.is_run_failure() => {
                let f = record_failure(config, &id, &run, seed, &e)?;
                on_event(Event::SeedFailed {
                    seed,
                    reason: f.reason.clone(),
                    cached: false,
                });
                failed.push(f);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(ExperimentResult {
        id,
        dir,
        rows,
        failed,
    })
}

/// [`prepare_data`], saying once, when the dataset is read, which image files it left out.
fn seed_data(
    config: &ExperimentConfig,
    source: &mut Option<Source>,
    seed: u64,
    on_event: &mut dyn FnMut(Event),
) -> Result<Prepared, RunError> {
    let fresh = source.is_none();
    let data = prepare_data(config, source, seed)?;
    if fresh
        && let Some(Source::Images(s)) = source.as_ref()
        && !s.skipped.is_empty()
    {
        on_event(Event::ImagesSkipped {
            files: s.skipped.clone(),
        });
    }
    Ok(data)
}

/// The seed's data (the dataset loaded once per experiment), checked against the fine-tuning
/// batch before any training: a batch larger than the data is refused here, not after the
/// dense model (dense training checks its own batch size).
fn prepare_data(
    config: &ExperimentConfig,
    source: &mut Option<Source>,
    seed: u64,
) -> Result<Prepared, RunError> {
    if source.is_none() {
        let dir = (!config.data.dir.is_empty()).then(|| PathBuf::from(&config.data.dir));
        *source = Some(
            Source::load_with(
                config.data.dataset,
                dir.as_deref(),
                config.data.folder_read(),
            )
            .map_err(TrainError::from)?,
        );
    }
    let data = Prepared::from_source(
        config.data.dataset,
        source.clone().expect("loaded above"),
        config.data.val_fraction,
        seed,
        config.dense_recipe(seed).augment,
        config.model.context(),
    )?;
    data.check_batch(config.finetune.batch_size, "finetune.batch_size")?;
    Ok(data)
}

/// The verified rows of `run` if it finished; `None` if it has to run (or resume). A damaged
/// run is an error naming the file, or with `recompute_damaged` is moved aside to run again.
fn stored_seed(
    run: &RunDir,
    options: &RunOptions,
    on_event: &mut dyn FnMut(Event),
) -> Result<Option<Vec<StepRow>>, RunError> {
    match seed_record(run) {
        Ok(Some(r)) if r.state.finished => Ok(Some(r.rows)),
        Ok(_) => Ok(None),
        Err(e) if e.is_damaged() && options.recompute_damaged => {
            let to = move_aside(run)?;
            on_event(Event::Recomputing {
                detail: format!("{e}; moved to {} and computing it again", to.display()),
            });
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Writes the experiment's `config.toml` (with its checksum line), listing every seed ever
/// run under this id (the id excludes seeds). A stored one that is damaged is an error, or
/// with `recompute_damaged` is written again (its seeds read from the seed directories).
fn record_config(
    config: &ExperimentConfig,
    dir: &Path,
    options: &RunOptions,
    on_event: &mut dyn FnMut(Event),
) -> Result<(), RunError> {
    let mut resolved = config.clone();
    let stored_seeds = match verified_config(dir) {
        Ok((old, _)) => old.seeds,
        Err(StoreError::Io { .. }) if !dir.join("config.toml").exists() => Vec::new(),
        Err(e) if e.is_damaged() && options.recompute_damaged => {
            on_event(Event::Recomputing {
                detail: format!("{e}; writing it again"),
            });
            seed_runs(dir)
                .iter()
                .filter_map(|r| {
                    r.dir
                        .file_name()?
                        .to_str()?
                        .strip_prefix("seed-")?
                        .parse()
                        .ok()
                })
                .collect()
        }
        Err(e) => return Err(e.into()),
    };
    for s in stored_seeds {
        if !resolved.seeds.contains(&s) {
            resolved.seeds.push(s);
        }
    }
    resolved.seeds.sort_unstable();
    write(&dir.join("config.toml"), config_text(&resolved).as_bytes())?;
    Ok(())
}

/// Records that `seed`'s run failed on its own (diverged), so a rerun reports it.
fn record_failure(
    config: &ExperimentConfig,
    id: &str,
    run: &RunDir,
    seed: u64,
    e: &RunError,
) -> Result<FailedRun, RunError> {
    let f = FailedRun {
        experiment: id.to_string(),
        regime: config.regime().to_string(),
        target: config.schedule.target,
        seed,
        completed_step: run
            .read_state()
            .ok()
            .flatten()
            .map_or(0, |s| s.completed_step),
        reason: e.to_string(),
    };
    run.write_failure(&f)?;
    Ok(f)
}
