//! One pruning step on a checkpoint, without fine-tuning (`shears prune-once`), and the
//! per-layer sparsity of any checkpoint (`shears inspect`).

use crate::runner::RunError;
use shears_core::masks::{Pattern, ScopeKind};
use shears_nn::checkpoint::{self, CheckpointMeta};
use shears_nn::models::Network;
use shears_nn::prune::{self, Criterion, MaskSet, SparsityTable};
use shears_nn::train::{Devices, TrainError};
use shears_nn::train::{Prepared, Source};
use std::path::PathBuf;

/// What `shears prune-once` does.
#[derive(Debug, Clone)]
pub struct PruneOnce {
    pub checkpoint: PathBuf,
    pub criterion: Criterion,
    pub scope: ScopeKind,
    /// Fraction of the prunable entries that are zero afterwards.
    pub sparsity: f64,
    /// Global scope: keep at least this fraction of every tensor.
    pub min_density: f64,
    pub include_bias: bool,
    /// Layers never to prune.
    pub exclude: Vec<String>,
    /// Seed of the random criterion.
    pub seed: u64,
    /// Training batches the gradient criteria score over.
    pub score_batches: usize,
    /// N:M pattern of the weights (then `sparsity` must be its (M − N)/M).
    pub pattern: Option<Pattern>,
    /// Training samples Wanda/SparseGPT measure layer inputs on.
    pub calibration_samples: usize,
    /// Wanda within output rows (default) or, `false`, under `scope` like any criterion.
    pub wanda_rows: bool,
    pub data_dir: Option<PathBuf>,
    /// An image folder: leave out files that do not decode.
    pub skip_corrupt: bool,
    pub out: PathBuf,
}

/// The prunable tensors of a checkpoint's model with their zeros as masks, and its table.
pub fn sparsity_table(
    meta: &CheckpointMeta,
    model: &Network,
    include_bias: bool,
    exclude: &[String],
) -> Result<(MaskSet, SparsityTable), RunError> {
    let params = prune::prunable_filtered(&meta.model, include_bias, &[], exclude)
        .map_err(RunError::Invalid)?;
    let values = prune::read(model, &params).map_err(RunError::Invalid)?;
    let masks = MaskSet::from_zeros(params, &values);
    let t = SparsityTable::new(&meta.model, &masks, prune::total_params(model));
    Ok((masks, t))
}

/// Prunes the checkpoint once to the requested sparsity and saves the result; returns its
/// per-layer table.
pub fn prune_once(o: &PruneOnce, devices: &Devices) -> Result<SparsityTable, RunError> {
    if !o.wanda_rows && !o.criterion.may_leave_rows(o.pattern) {
        return Err(RunError::Invalid(format!(
            "--wanda-rows false is an option of --criterion wanda without --pattern, not of '{}'",
            o.criterion
        )));
    }
    let (model, mut meta) = checkpoint::load(&o.checkpoint, None, &devices.base)?;
    let (mut masks, before) = sparsity_table(&meta, &model, o.include_bias, &o.exclude)?;
    if o.sparsity <= before.sparsity {
        return Err(RunError::Invalid(format!(
            "{}: already {:.4} sparse; --sparsity {} removes nothing",
            o.checkpoint.display(),
            before.sparsity,
            o.sparsity
        )));
    }
    let data = if o.criterion.needs_gradients() || o.criterion.needs_calibration() {
        let dataset: shears_data::DatasetId = meta.dataset.parse()?;
        let folder = shears_data::FolderRead {
            size: Some(meta.model.input[1]),
            skip_corrupt: o.skip_corrupt,
        };
        let source = Source::load_with(dataset, o.data_dir.as_deref(), folder).map_err(|e| {
            RunError::Invalid(format!(
                "loading '{dataset}' to score '{}': {e}",
                o.criterion
            ))
        })?;
        let vocab = meta.vocab.as_ref();
        let data = Prepared::for_model(dataset, source, 0.1, meta.seed, &meta.model, vocab)?;
        data.check_model(&meta.model)
            .map_err(|e| RunError::Invalid(format!("{}: {e}", o.checkpoint.display())))?;
        Some(data)
    } else {
        None
    };
    let grads = if let Some(data) = data.as_ref().filter(|_| o.criterion.needs_gradients()) {
        Some(prune::gradient_stats(
            &model,
            &masks.params,
            &data.train,
            &data.train_batches(128, meta.seed),
            o.score_batches,
            devices,
        )?)
    } else {
        None
    };
    let scope = o.scope.with_floor(o.min_density);
    let rows = o.criterion.in_rows(o.wanda_rows, o.pattern);
    let model = if rows {
        grouped(o, model, &mut masks, grads.as_ref(), data.as_ref(), devices)?
    } else if o.criterion == Criterion::Wanda {
        let set = calibration(o, data.as_ref().expect("loaded for wanda"), devices)?;
        let scores = prune::wanda_scores(&model, &masks, &mut prune::run_network(&set))
            .map_err(RunError::Invalid)?;
        prune::prune_scored_to_sparsity(model, &mut masks, scores, o.sparsity, &scope)
            .map_err(RunError::Invalid)?
    } else {
        prune::prune_to_sparsity(
            model,
            &mut masks,
            o.criterion,
            grads.as_ref(),
            o.sparsity,
            &scope,
            o.seed,
        )
        .map_err(RunError::Invalid)?
    };
    let after = SparsityTable::new(&meta.model, &masks, prune::total_params(&model));
    meta.sparsity = after.sparsity;
    meta.test = None;
    checkpoint::save(&o.out, &model, &meta)?;
    Ok(after)
}

/// Prune-once within output rows (Wanda, SparseGPT, or any criterion under a pattern): each
/// tensor to `floor(N_l · sparsity)` zeros, layer by layer.
fn grouped(
    o: &PruneOnce,
    model: Network,
    masks: &mut MaskSet,
    grads: Option<&prune::GradientStats>,
    data: Option<&Prepared>,
    devices: &Devices,
) -> Result<Network, RunError> {
    if o.scope != ScopeKind::LayerWise {
        return Err(RunError::Invalid(format!(
            "{} chooses within each output row, which needs a count per layer: use --scope layer-wise",
            match o.pattern {
                Some(p) => format!("the {p} pattern"),
                None => format!("criterion '{}'", o.criterion),
            }
        )));
    }
    if let Some(p) = o.pattern {
        prune::pattern_fits(&masks.params, p).map_err(RunError::Invalid)?;
    }
    if let Some(p) = o.pattern
        && (o.sparsity - p.sparsity()).abs() > 1e-9
    {
        return Err(RunError::Invalid(format!(
            "the {p} pattern prunes exactly {} of the weights: use --sparsity {}",
            p.sparsity(),
            p.sparsity()
        )));
    }
    let counts: Vec<usize> = masks
        .params
        .iter()
        .zip(&masks.masks)
        .map(|(p, m)| {
            shears_core::masks::removal_count(p.len(), o.sparsity).saturating_sub(m.pruned())
        })
        .collect();
    let set = match data {
        Some(d) if o.criterion.needs_calibration() => Some(calibration(o, d, devices)?),
        _ => None,
    };
    let mut run = set.as_deref().map(prune::run_network);
    let how = prune::Grouped {
        criterion: o.criterion,
        grads,
        seed: o.seed,
        step: 0,
        pattern: o.pattern,
        path: shears_core::masks::PatternPath::Feasible,
        calibrate: run
            .as_mut()
            .map(|r| r as &mut prune::Calibrate<'_, Network>),
    };
    prune::remove_grouped(model, masks, &counts, how).map_err(RunError::Invalid)
}

/// The calibration samples of a prune-once (a seeded draw of training samples).
fn calibration(
    o: &PruneOnce,
    d: &Prepared,
    devices: &Devices,
) -> Result<Vec<shears_nn::models::Input>, RunError> {
    prune::calibration_set(
        &d.train,
        &d.normalization,
        o.calibration_samples,
        o.seed,
        &devices.base,
    )
    .map_err(RunError::Invalid)
}

impl From<shears_data::DataError> for RunError {
    fn from(e: shears_data::DataError) -> Self {
        RunError::Train(TrainError::Data(e))
    }
}
