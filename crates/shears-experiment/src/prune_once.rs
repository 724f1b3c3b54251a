//! One pruning step on a checkpoint, without fine-tuning (`shears prune-once`), and the
//! per-layer sparsity of any checkpoint (`shears inspect`).

use crate::runner::RunError;
use shears_core::masks::ScopeKind;
use shears_nn::checkpoint::{self, CheckpointMeta};
use shears_nn::models::Network;
use shears_nn::prune::{self, Criterion, MaskSet, SparsityTable};
use shears_nn::train::Prepared;
use shears_nn::train::{Devices, TrainError};
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
    pub data_dir: Option<PathBuf>,
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
    let grads = if o.criterion.needs_gradients() {
        let dataset: shears_data::DatasetId = meta.dataset.parse()?;
        let splits = shears_data::load(dataset, o.data_dir.as_deref()).map_err(|e| {
            RunError::Invalid(format!("loading '{dataset}' for gradient scores: {e}"))
        })?;
        let data = Prepared::new(dataset, splits, 0.1, meta.seed, false)?;
        data.check_model(&meta.model)
            .map_err(|e| RunError::Invalid(format!("{}: {e}", o.checkpoint.display())))?;
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
    let model = prune::prune_to_sparsity(
        model,
        &mut masks,
        o.criterion,
        grads.as_ref(),
        o.sparsity,
        &scope,
        o.seed,
    )
    .map_err(RunError::Invalid)?;
    let after = SparsityTable::new(&meta.model, &masks, prune::total_params(&model));
    meta.sparsity = after.sparsity;
    meta.test = None;
    checkpoint::save(&o.out, &model, &meta)?;
    Ok(after)
}

impl From<shears_data::DataError> for RunError {
    fn from(e: shears_data::DataError) -> Self {
        RunError::Train(TrainError::Data(e))
    }
}
