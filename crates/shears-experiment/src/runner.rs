//! Runs an experiment: for every seed, the shared dense model, then per schedule step
//! score → prune → fresh optimizer → fine-tune → record, committing each step to the store
//! so a killed run resumes where it stopped and produces the same rows.

use crate::config::{ExperimentConfig, FinetuneMode, ScopeName};
use crate::finetune::{StepLength, finetune};
use crate::store::{Lock, RunDir, RunState, StoreError, remove_stale_temps, sha256_hex, write};
use crate::structured::{self, Widths};
use burn::module::Module;
use shears_core::budget::split_budget;
use shears_core::results::{FailedRun, SCHEMA_VERSION, StepRow};
use shears_core::schedule::{Compat, Plan};
use shears_core::select::{Mask, Scope, StepAmount, removal_count};
use shears_data::{Splits, epoch_seed};
use shears_nn::checkpoint::{self, CheckpointMeta, FORMAT_VERSION};
use shears_nn::fit::{Prepared, fit};
use shears_nn::metrics::Metrics;
use shears_nn::models::{ModelSpec, Network};
use shears_nn::prune::{self, MaskSet, Prunable, SparsityTable};
use shears_nn::structured::{Footprint, footprint};
use shears_nn::train::{AfterStep, Devices, TrainError, evaluate};
use std::path::{Path, PathBuf};
use std::time::Instant;

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
        "not enough free disk space in {dir}: a run of this experiment keeps up to {needed_mb} MB of \
         checkpoints, {available_mb} MB are free; nothing was trained — free space (or use another \
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

    /// A failure of this run alone (its training diverged): recorded, and the caller's other
    /// runs go on. Everything else (I/O, damaged files, bad configs) stops the caller.
    pub fn is_run_failure(&self) -> bool {
        matches!(self, RunError::Train(TrainError::Diverged { .. }))
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
    /// A stored dense model does not match its recorded SHA-256: it is trained again (same
    /// seed, same result) and replaced.
    DenseDamaged {
        seed: u64,
        path: PathBuf,
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

/// The tensors `config` prunes in a model of `spec`.
fn prunable(config: &ExperimentConfig, spec: &ModelSpec) -> Result<Vec<Prunable>, RunError> {
    prune::prunable_filtered(
        spec,
        config.prune.include_bias,
        &config.prune.include,
        &config.prune.exclude,
    )
    .map_err(|e| RunError::Invalid(format!("prune: {e}")))
}

/// Bytes one seed of `config` may hold on disk at once: its dense model and up to three step
/// checkpoints (the committed step, the previous one kept for recovery, the one being
/// written), each the model's f32 parameters plus metadata, and 1 MiB for masks and records;
/// 10% on top for what the layer table leaves out (batch-norm parameters).
fn space_needed(config: &ExperimentConfig) -> u64 {
    let spec = ModelSpec {
        kind: config.model.kind,
        input: config.data.dataset.sample_shape(),
        classes: config.data.dataset.num_classes(),
    };
    let params: u64 = spec.layers().iter().map(|l| l.params()).sum();
    let checkpoint = params * 4 + (64 << 10);
    (4 * checkpoint + (1 << 20)) * 11 / 10
}

/// Refuses to start a seed that could not store its checkpoints, before any training (a full
/// disk is still caught at the failing write; this saves the work that would precede it).
fn check_free_space(dir: &Path, needed: u64) -> Result<(), RunError> {
    match free_bytes(dir) {
        Some(available) if available < needed => Err(RunError::NoSpace {
            dir: dir.to_path_buf(),
            needed_mb: needed.div_ceil(1 << 20),
            available_mb: available >> 20,
        }),
        _ => Ok(()),
    }
}

/// Bytes available to this (unprivileged) user on the filesystem holding `dir`.
#[cfg(unix)]
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a valid NUL-terminated string and `st` a writable statvfs.
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some(st.f_bavail as u64 * st.f_frsize as u64)
}

#[cfg(not(unix))]
fn free_bytes(_dir: &Path) -> Option<u64> {
    None
}

/// Checks a manual per-layer schedule against the model's prunable tensors, before anything
/// is written or trained.
fn check_per_layer(config: &ExperimentConfig) -> Result<(), RunError> {
    let Some(manual) = config.manual() else {
        return Ok(());
    };
    let spec = ModelSpec {
        kind: config.model.kind,
        input: config.data.dataset.sample_shape(),
        classes: config.data.dataset.num_classes(),
    };
    let params = prunable(config, &spec)?;
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

/// Runs (or resumes, or returns the stored result of) `config` under `out`.
pub fn run_experiment(
    config: &ExperimentConfig,
    out: &Path,
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
    // The stored config lists every seed ever run under this id (the id excludes seeds).
    let mut resolved = config.clone();
    if let Ok(text) = std::fs::read_to_string(dir.join("config.toml"))
        && let Ok(old) = ExperimentConfig::parse_stored(&text)
    {
        for s in old.seeds {
            if !resolved.seeds.contains(&s) {
                resolved.seeds.push(s);
            }
        }
    }
    resolved.seeds.sort_unstable();
    write(&dir.join("config.toml"), resolved.to_toml().as_bytes())?;

    let mut splits: Option<Splits> = None;
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for (repeat, &seed) in config.seeds.iter().enumerate() {
        check_interrupt()?;
        let run = RunDir::new(&dir, seed);
        if let Some(state) = run.read_state()?
            && state.finished
        {
            Lock::clear_stale(&run.dir);
            rows.extend(run.read_rows(state.completed_step)?);
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
        check_free_space(&run.dir, space_needed(config))?;
        let _lock = Lock::acquire(&run.dir)?;
        remove_stale_temps(&run.dir);
        if splits.is_none() {
            let dir = (!config.data.dir.is_empty()).then(|| PathBuf::from(&config.data.dir));
            splits = Some(
                shears_data::load(config.data.dataset, dir.as_deref()).map_err(TrainError::from)?,
            );
        }
        let data = Prepared::new(
            config.data.dataset,
            splits.clone().expect("loaded above"),
            config.data.val_fraction,
            seed,
            config.dense_recipe(seed).augment,
        )?;
        match run_seed(
            config, &id, repeat, seed, &data, out, &run, devices, on_event,
        ) {
            Ok(seed_rows) => {
                on_event(Event::SeedDone {
                    seed,
                    cached: false,
                });
                rows.extend(seed_rows);
            }
            Err(e) if e.is_run_failure() => {
                let f = FailedRun {
                    experiment: id.clone(),
                    regime: config.regime().to_string(),
                    target: config.schedule.target,
                    seed,
                    completed_step: run.read_state()?.map_or(0, |s| s.completed_step),
                    reason: e.to_string(),
                };
                run.write_failure(&f)?;
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

/// The dense model of `seed`: loaded from `dense.checkpoint`, reused from the store, or
/// trained and stored for every other experiment with the same model, data and recipe.
fn dense_model(
    config: &ExperimentConfig,
    spec: &ModelSpec,
    seed: u64,
    data: &Prepared,
    out: &Path,
    devices: &Devices,
    on_event: &mut dyn FnMut(Event),
) -> Result<Network, RunError> {
    if !config.dense.checkpoint.is_empty() {
        let path = PathBuf::from(&config.dense.checkpoint);
        let (model, _) = checkpoint::load(&path, Some(spec), &devices.train)?;
        return Ok(model);
    }
    let dir = out.join("dense").join(config.dense_key(seed));
    let path = dir.join("model.ckpt");
    if let Some(model) = stored_dense(&path, spec, seed, devices, on_event)? {
        return Ok(model);
    }
    // Another job or process training the same dense model: wait for it, then reuse it.
    let _lock = Lock::acquire_waiting(&dir, |_| !shears_nn::interrupt::requested())?;
    check_interrupt()?;
    remove_stale_temps(&dir);
    // Another process may have trained it while we waited for the lock.
    if let Some(model) = stored_dense(&path, spec, seed, devices, &mut |_| {})? {
        return Ok(model);
    }
    let recipe = config.dense_recipe(seed);
    on_event(Event::DenseTraining {
        seed,
        epochs: recipe.epochs,
    });
    let (model, report) = fit(spec, data, &recipe, devices, &mut |_| {})?;
    let meta = CheckpointMeta {
        format_version: FORMAT_VERSION,
        model: *spec,
        dataset: config.data.dataset.to_string(),
        seed,
        epoch: recipe.epochs,
        test: Some(report.test),
        sparsity: 0.0,
    };
    checkpoint::save(&path, &model, &meta)?;
    // Checked on reuse: a header-valid file with flipped weight bytes would otherwise load.
    let bytes = std::fs::read(&path).map_err(|e| StoreError::Io {
        path: path.clone(),
        detail: e.to_string(),
    })?;
    write(&checksum_path(&path), sha256_hex(&bytes).as_bytes())?;
    write(
        &dir.join("report.json"),
        serde_json::to_string_pretty(&report)
            .expect("report serialises")
            .as_bytes(),
    )?;
    Ok(model)
}

fn checksum_path(model: &Path) -> PathBuf {
    model.with_extension("sha256")
}

/// The stored dense model at `path`, if there is one whose bytes match its recorded SHA-256.
/// A mismatch is reported and treated as absent, so the model is trained again and replaced.
/// (A model without a checksum file, from an older store, is loaded as before: its header and
/// shapes are still checked.)
fn stored_dense(
    path: &Path,
    spec: &ModelSpec,
    seed: u64,
    devices: &Devices,
    on_event: &mut dyn FnMut(Event),
) -> Result<Option<Network>, RunError> {
    if !path.exists() {
        return Ok(None);
    }
    if let Ok(expected) = std::fs::read_to_string(checksum_path(path)) {
        let bytes = std::fs::read(path).map_err(|e| StoreError::Io {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        if sha256_hex(&bytes) != expected.trim() {
            on_event(Event::DenseDamaged {
                seed,
                path: path.to_path_buf(),
            });
            return Ok(None);
        }
    }
    if let Some(dir) = path.parent() {
        Lock::clear_stale(dir);
    }
    on_event(Event::DenseReused {
        seed,
        path: path.to_path_buf(),
    });
    let (model, _) = checkpoint::load(path, Some(spec), &devices.train)?;
    Ok(Some(model))
}

/// Per-step shuffling seed: distinct for every (run seed, step), fixed across resumes.
fn step_seed(seed: u64, step: usize) -> u64 {
    epoch_seed(seed, 1_000_000 + step as u64)
}

/// What has been removed so far: cumulative masks (unstructured) or the channel widths of the
/// physically shrunk network (structured).
enum Pruned {
    Masks(MaskSet),
    Widths {
        widths: Widths,
        /// Footprint of the dense network, the denominator of structured sparsity.
        dense: Footprint,
        /// Fine-tuning a shrunk network needs no after-step hook.
        no_hook: (),
    },
}

impl Pruned {
    fn hook(&mut self) -> &mut dyn AfterStep {
        match self {
            Pruned::Masks(m) => m,
            Pruned::Widths { no_hook, .. } => no_hook,
        }
    }

    fn to_json(&self) -> String {
        match self {
            Pruned::Masks(m) => serde_json::to_string(&m.masks),
            Pruned::Widths { widths, .. } => serde_json::to_string(widths),
        }
        .expect("pruning state serialises")
    }
}

/// Size and cost of the current network, for a result row.
struct Accounting {
    sparsity: f64,
    model_sparsity: f64,
    remaining_params: u64,
    flops_dense: u64,
    flops_effective: u64,
}

fn account(model: &Network, spec: &ModelSpec, pruned: &Pruned) -> Result<Accounting, RunError> {
    match pruned {
        Pruned::Masks(masks) => {
            let t = SparsityTable::new(spec, masks, prune::total_params(model));
            Ok(Accounting {
                sparsity: t.sparsity,
                model_sparsity: t.model_sparsity,
                remaining_params: t.model_params - (t.prunable - t.kept),
                flops_dense: t.flops_dense,
                flops_effective: t.flops_effective,
            })
        }
        Pruned::Widths { dense, .. } => {
            let now =
                footprint(&model.valid(), spec).map_err(|e| RunError::Invalid(e.to_string()))?;
            Ok(Accounting {
                sparsity: 1.0 - now.layer_params as f64 / dense.layer_params as f64,
                model_sparsity: 1.0 - now.trainable_params as f64 / dense.trainable_params as f64,
                remaining_params: now.trainable_params,
                flops_dense: dense.flops,
                flops_effective: now.flops,
            })
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn run_seed(
    config: &ExperimentConfig,
    id: &str,
    repeat: usize,
    seed: u64,
    data: &Prepared,
    out: &Path,
    run: &RunDir,
    devices: &Devices,
    on_event: &mut dyn FnMut(Event),
) -> Result<Vec<StepRow>, RunError> {
    let spec = ModelSpec {
        kind: config.model.kind,
        input: data.input(),
        classes: data.classes(),
    };
    spec.validate().map_err(RunError::Invalid)?;
    let structured = config.prune.structured;
    let params = prunable(config, &spec)?;
    let n_prunable: u64 = params.iter().map(|p| p.len() as u64).sum();
    let sizes: Vec<usize> = params.iter().map(|p| p.len()).collect();
    let manual = config.manual();
    let plan = match &manual {
        // Per-step fractions of all prunable entries, for the rows and the fine-tuning plan.
        Some(m) => Plan {
            steps: (0..m.len())
                .map(|i| {
                    planned_zeros_per_tensor(&m.per_layer(i, sizes.len()), &sizes) as f64
                        / n_prunable as f64
                })
                .collect(),
        },
        None => config
            .schedule
            .plan()
            .map_err(|e| RunError::Invalid(format!("schedule: {e}")))?,
    };
    if !structured && manual.is_none() {
        plan.check_resolvable(n_prunable)
            .map_err(|e| RunError::Invalid(format!("schedule: {e}")))?;
    }
    let cumulative = plan.cumulative();
    let budget = match config.finetune.mode {
        FinetuneMode::Budget => Some(
            split_budget(config.finetune.budget, &plan.steps, config.finetune.split)
                .map_err(|e| RunError::Invalid(format!("finetune.budget: {e}")))?,
        ),
        _ => None,
    };
    let scope = match config.prune.scope {
        ScopeName::Global => Scope::Global {
            min_density: config.prune.min_density,
        },
        ScopeName::LayerWise => Scope::LayerWise,
    };
    // Entries each step removes. Exact schedules under global scope convert the cumulative
    // sparsity, so the run ends at exactly floor(N·target) zeros; the reference converts each
    // step independently (floor(N·v) per step, losing up to one entry per step), and so does
    // layer-wise scope, per tensor.
    let global_counts: Vec<u64> = match config.compat() {
        Compat::Exact => plan.cumulative_counts(n_prunable),
        Compat::Reference => plan.step_counts(n_prunable),
    };
    // Structured: the groups and footprint of the dense architecture (not built otherwise).
    let (original, dense_fp) = if structured {
        let skeleton = spec.init(&devices.base);
        let fp = footprint(&skeleton, &spec).map_err(|e| RunError::Invalid(e.to_string()))?;
        (structured::original_groups(&skeleton), Some(fp))
    } else {
        (Vec::new(), None)
    };
    let widths_state = |widths: Widths| Pruned::Widths {
        widths,
        dense: dense_fp.expect("structured runs have a dense footprint"),
        no_hook: (),
    };

    let (mut model, mut pruned, mut rows, start) =
        match resume(run, &spec, &params, structured, devices)? {
            Some((m, state, r, step)) => {
                on_event(Event::Resumed { seed, step });
                let state = match state {
                    Resumed::Masks(k) => Pruned::Masks(k),
                    Resumed::Widths(w) => widths_state(w),
                };
                (m, state, r, step + 1)
            }
            None => {
                let model = dense_model(config, &spec, seed, data, out, devices, on_event)?;
                let pruned = if structured {
                    widths_state(structured::widths(&model.valid()))
                } else {
                    Pruned::Masks(MaskSet::dense(params.clone()))
                };
                let base = baseline_row(
                    config, id, repeat, seed, &model, &pruned, &spec, data, devices,
                )?;
                let rows = vec![base];
                commit(
                    run,
                    0,
                    plan.len(),
                    &model,
                    &pruned,
                    &rows,
                    &spec,
                    config,
                    seed,
                )?;
                (model, pruned, rows, 1)
            }
        };
    for step in start..=plan.len() {
        check_interrupt()?;
        let t0 = Instant::now();
        let v = plan.steps[step - 1];
        match &mut pruned {
            Pruned::Masks(masks) => {
                // As a fraction, v_eff = (count + 1/2)/N makes floor(N·v_eff) = count exactly.
                let amount = match (&manual, config.prune.scope) {
                    (Some(m), _) => StepAmount::PerLayer(m.per_layer(step - 1, sizes.len())),
                    (None, ScopeName::Global) => StepAmount::Uniform(
                        (global_counts[step - 1] as f64 + 0.5) / n_prunable as f64,
                    ),
                    (None, ScopeName::LayerWise) => StepAmount::Uniform(v),
                };
                let grads = if config.prune.criterion.needs_gradients() {
                    let values = prune::read(&model, &masks.params).map_err(RunError::Invalid)?;
                    Some(prune::gradient_stats(
                        &model,
                        &masks.params,
                        &values,
                        &data.train,
                        &data.train_batches(config.finetune.batch_size, step_seed(seed, step)),
                        config.prune.score_batches,
                        devices,
                    )?)
                } else {
                    None
                };
                model = prune::prune_step(
                    model,
                    masks,
                    config.prune.criterion,
                    grads.as_ref(),
                    &amount,
                    &scope,
                    seed,
                    step as u64,
                )
                .map_err(|e| RunError::Invalid(format!("step {step}: {e}")))?;
                let zeros = masks.report().pruned();
                let planned = match (&manual, config.prune.scope) {
                    (Some(m), _) => (0..step)
                        .map(|i| planned_zeros_per_tensor(&m.per_layer(i, sizes.len()), &sizes))
                        .sum(),
                    (None, ScopeName::Global) => global_counts[..step].iter().sum::<u64>() as usize,
                    (None, ScopeName::LayerWise) => {
                        planned_zeros_layerwise(&plan.steps[..step], &sizes)
                    }
                };
                if zeros != planned {
                    let per_tensor = masks
                        .params
                        .iter()
                        .zip(&masks.masks)
                        .map(|(p, m)| format!("{} {}/{}", p.path, m.pruned(), m.len()))
                        .collect::<Vec<_>>()
                        .join(", ");
                    return Err(RunError::Invalid(format!(
                        "step {step}: realised {zeros} zeros, planned {planned} ({per_tensor})"
                    )));
                }
            }
            Pruned::Widths { widths, .. } => {
                let target = structured::planned_widths(&original, &plan.steps[..step]);
                model = structured::prune_to(&model, &target)
                    .map_err(|e| RunError::Invalid(format!("step {step}: {e}")))?;
                *widths = target;
            }
        }
        let length = StepLength::for_step(&config.finetune, step, budget.as_deref());
        let tuned = finetune(
            model,
            pruned.hook(),
            &config.finetune,
            length,
            data,
            step_seed(seed, step),
            devices,
            &mut |epoch, val| {
                on_event(Event::Epoch {
                    seed,
                    step,
                    epoch,
                    val_top1: val.top1,
                })
            },
        )?;
        model = tuned.model;
        if let Pruned::Masks(masks) = &pruned {
            prune::verify_applied(&model, masks).map_err(RunError::Invalid)?;
        }
        let test = evaluate(&model, &data.test, &data.eval_batches(), &devices.base)?;
        let a = account(&model, &spec, &pruned)?;
        let prev = rows.last().expect("baseline row").clone();
        let wall = t0.elapsed().as_secs_f64();
        let row = StepRow {
            step,
            fraction_removed: v,
            planned_sparsity: cumulative[step - 1],
            sparsity: a.sparsity,
            model_sparsity: a.model_sparsity,
            remaining_params: a.remaining_params,
            flops_effective: a.flops_effective,
            epochs: tuned.epochs,
            cum_epochs: prev.cum_epochs + tuned.epochs,
            best_epoch: tuned.best_epoch,
            cum_train_flops: prev.cum_train_flops
                + 3.0 * a.flops_effective as f64 * tuned.samples as f64,
            wall_s: wall,
            cum_wall_s: prev.cum_wall_s + wall,
            ..metrics_row(prev, &tuned.val, &test)
        };
        rows.push(row);
        commit(
            run,
            step,
            plan.len(),
            &model,
            &pruned,
            &rows,
            &spec,
            config,
            seed,
        )?;
        // Reported once committed: a step that was shown survives a kill.
        on_event(Event::Step(Box::new(
            rows.last().expect("just pushed").clone(),
        )));
    }
    Ok(rows)
}

/// Entries one step with per-tensor fractions `values` removes.
fn planned_zeros_per_tensor(values: &[f64], sizes: &[usize]) -> usize {
    values
        .iter()
        .zip(sizes)
        .map(|(&v, &n)| removal_count(n, v))
        .sum()
}

fn planned_zeros_layerwise(steps: &[f64], sizes: &[usize]) -> usize {
    steps
        .iter()
        .map(|&v| sizes.iter().map(|&n| removal_count(n, v)).sum::<usize>())
        .sum()
}

fn metrics_row(prev: StepRow, val: &Metrics, test: &Metrics) -> StepRow {
    StepRow {
        val_top1: val.top1,
        val_top5: val.top5,
        val_loss: val.loss,
        test_top1: test.top1,
        test_top5: test.top5,
        test_loss: test.loss,
        ..prev
    }
}

#[allow(clippy::too_many_arguments)]
fn baseline_row(
    config: &ExperimentConfig,
    id: &str,
    repeat: usize,
    seed: u64,
    model: &Network,
    pruned: &Pruned,
    spec: &ModelSpec,
    data: &Prepared,
    devices: &Devices,
) -> Result<StepRow, RunError> {
    let eval = data.eval_batches();
    let val = evaluate(model, &data.val, &eval, &devices.base)?;
    let test = evaluate(model, &data.test, &eval, &devices.base)?;
    let a = account(model, spec, pruned)?;
    let row = StepRow {
        experiment: id.to_string(),
        regime: config.regime().to_string(),
        target: config.schedule.target,
        repeat,
        seed,
        step: 0,
        fraction_removed: 0.0,
        planned_sparsity: 0.0,
        sparsity: a.sparsity,
        model_sparsity: a.model_sparsity,
        remaining_params: a.remaining_params,
        flops_dense: a.flops_dense,
        flops_effective: a.flops_effective,
        epochs: 0,
        cum_epochs: 0,
        best_epoch: 0,
        cum_train_flops: 0.0,
        wall_s: 0.0,
        cum_wall_s: 0.0,
        val_top1: 0.0,
        val_top5: 0.0,
        val_loss: 0.0,
        test_top1: 0.0,
        test_top5: 0.0,
        test_loss: 0.0,
    };
    Ok(metrics_row(row, &val, &test))
}

/// Writes step `step`'s weights, masks (or widths) and rows, then the state that makes them
/// current.
#[allow(clippy::too_many_arguments)]
fn commit(
    run: &RunDir,
    step: usize,
    total: usize,
    model: &Network,
    pruned: &Pruned,
    rows: &[StepRow],
    spec: &ModelSpec,
    config: &ExperimentConfig,
    seed: u64,
) -> Result<(), RunError> {
    let last = rows.last().expect("rows");
    let meta = CheckpointMeta {
        format_version: FORMAT_VERSION,
        model: *spec,
        dataset: config.data.dataset.to_string(),
        seed,
        epoch: last.cum_epochs,
        test: Some(Metrics {
            top1: last.test_top1,
            top5: last.test_top5,
            loss: last.test_loss,
            n: 0,
        }),
        sparsity: last.sparsity,
    };
    // Checksums of the previous step's files (kept for recovery) and of this step's.
    let mut checksums = match run.read_state() {
        Ok(Some(old)) if step > 0 => old.checksums,
        _ => Default::default(),
    };
    let previous = [
        run.checkpoint(step.wrapping_sub(1)),
        run.masks(step.wrapping_sub(1)),
    ];
    checksums.retain(|name, _| previous.iter().any(|p| p.ends_with(name)));
    let path = run.checkpoint(step);
    let bytes = checkpoint::to_bytes(model, &meta).map_err(|detail| {
        checkpoint::CheckpointError::Format {
            path: path.clone(),
            detail,
        }
    })?;
    run.write_checked(&path, &bytes, &mut checksums)?;
    run.write_checked(
        &run.masks(step),
        pruned.to_json().as_bytes(),
        &mut checksums,
    )?;
    run.write_rows(rows)?;
    run.write_state(&RunState {
        schema_version: SCHEMA_VERSION,
        completed_step: step,
        total_steps: total,
        finished: step == total,
        checksums,
    })?;
    // Keep the previous step so a corrupted newest checkpoint can be recovered from.
    run.prune_old(step.saturating_sub(1));
    Ok(())
}

/// A committed step's pruning state as read back from the store.
enum Resumed {
    Masks(MaskSet),
    Widths(Widths),
}

/// Loads the newest committed step; if its files are unreadable, falls back to the one
/// before (whose files are kept for exactly this), never to garbage.
#[allow(clippy::type_complexity)]
fn resume(
    run: &RunDir,
    spec: &ModelSpec,
    params: &[prune::Prunable],
    structured: bool,
    devices: &Devices,
) -> Result<Option<(Network, Resumed, Vec<StepRow>, usize)>, RunError> {
    let Some(state) = run.read_state()? else {
        return Ok(None);
    };
    let mut first_error = None;
    for step in [state.completed_step, state.completed_step.wrapping_sub(1)] {
        if step > state.completed_step {
            break;
        }
        match load_step(run, &state, spec, params, structured, devices, step) {
            Ok((model, pruned)) => {
                let rows = run.read_rows(step)?;
                if rows.len() != step + 1 {
                    return Err(RunError::Invalid(format!(
                        "{}: has {} rows for committed step {step}",
                        run.rows_path().display(),
                        rows.len()
                    )));
                }
                if step != state.completed_step {
                    eprintln!(
                        "warning: {}: step {} is unreadable ({}); resuming from step {step}",
                        run.dir.display(),
                        state.completed_step,
                        first_error
                            .as_ref()
                            .map(|e: &RunError| e.to_string())
                            .unwrap_or_default()
                    );
                }
                return Ok(Some((model, pruned, rows, step)));
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.expect("at least one attempt"))
}

fn load_step(
    run: &RunDir,
    state: &RunState,
    spec: &ModelSpec,
    params: &[prune::Prunable],
    structured: bool,
    devices: &Devices,
    step: usize,
) -> Result<(Network, Resumed), RunError> {
    run.verify(state, &run.checkpoint(step))?;
    run.verify(state, &run.masks(step))?;
    let path = run.masks(step);
    let text = std::fs::read_to_string(&path).map_err(|e| StoreError::Io {
        path: path.clone(),
        detail: e.to_string(),
    })?;
    let corrupted = |e: serde_json::Error| StoreError::Io {
        path: path.clone(),
        detail: format!("corrupted pruning state: {e}"),
    };
    if structured {
        let widths: Widths = serde_json::from_str(&text).map_err(corrupted)?;
        let skeleton =
            structured::skeleton(spec, &widths, &devices.train).map_err(RunError::Invalid)?;
        let (model, _) = checkpoint::load_with(&run.checkpoint(step), Some(spec), |_| skeleton)?;
        return Ok((model, Resumed::Widths(widths)));
    }
    let (model, _) = checkpoint::load(&run.checkpoint(step), Some(spec), &devices.train)?;
    let masks: Vec<Mask> = serde_json::from_str(&text).map_err(corrupted)?;
    if masks.len() != params.len() || masks.iter().zip(params).any(|(m, p)| m.len() != p.len()) {
        return Err(RunError::Invalid(format!(
            "{}: masks do not match the model's prunable tensors",
            path.display()
        )));
    }
    let set = MaskSet::new(params.to_vec(), masks);
    prune::verify_applied(&model, &set)
        .map_err(|e| RunError::Invalid(format!("{}: {e}", run.checkpoint(step).display())))?;
    Ok((model, Resumed::Masks(set)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_space_is_read_and_a_shortfall_names_the_directory_and_sizes() {
        let dir = std::env::temp_dir();
        let free = free_bytes(&dir).expect("statvfs works on the temp dir");
        assert!(free > 0);
        assert!(check_free_space(&dir, 1).is_ok());
        let err = check_free_space(&dir, free + (10 << 30)).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("not enough free disk space")
                && msg.contains(&dir.display().to_string())
                && msg.contains(&format!("{} MB are free", free >> 20)),
            "{msg}"
        );
        assert!(!err.is_run_failure() && !err.is_interrupted());
    }

    #[test]
    fn the_estimate_covers_four_checkpoints_of_the_model() {
        let config = ExperimentConfig::default();
        // LeNet-300-100 on Fashion-MNIST: 266,610 parameters, 1.07 MB per checkpoint.
        let need = space_needed(&config);
        assert!(need > 4 * 266_610 * 4 && need < 8 << 20, "{need}");
    }
}
