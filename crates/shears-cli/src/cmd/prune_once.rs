//! `shears prune-once`: one pruning step on a checkpoint, no fine-tuning.

use super::common::{DeviceArgs, print_json};
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde_json::json;
use shears_core::select::{Scope, StepAmount};
use shears_nn::checkpoint::{self, CheckpointMeta};
use shears_nn::fit::Prepared;
use shears_nn::models::Network;
use shears_nn::prune::{self, Criterion, MaskSet, SparsityTable};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ScopeArg {
    /// One threshold across all prunable tensors (the paper's setting).
    Global,
    /// The same fraction of every tensor.
    LayerWise,
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct PruneOnceArgs {
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// magnitude, random, taylor or hessian.
    #[arg(long, default_value = "magnitude")]
    pub criterion: Criterion,
    #[arg(long, value_enum, default_value = "global")]
    pub scope: ScopeArg,
    /// Target fraction of prunable weights that are zero afterwards, in (0, 1).
    #[arg(long)]
    pub sparsity: f64,
    /// Global scope: keep at least this fraction of every tensor (prevents layer collapse).
    #[arg(long, default_value_t = 0.0)]
    pub min_density: f64,
    /// Prune weights only (the reference also prunes Conv/Linear biases).
    #[arg(long)]
    pub weights_only: bool,
    /// Layers never to prune (paths or prefixes ending in `*`), e.g. --exclude fc3.
    #[arg(long, num_args = 1.., value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// Seed of the random criterion.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Training batches the taylor/hessian criteria accumulate gradients over.
    #[arg(long, default_value_t = 10)]
    pub score_batches: usize,
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub device: DeviceArgs,
}

pub(crate) fn table(
    meta: &CheckpointMeta,
    model: &Network,
    include_bias: bool,
    exclude: &[String],
) -> Result<(MaskSet, SparsityTable)> {
    let params = prune::prunable_filtered(&meta.model, include_bias, &[], exclude)
        .map_err(anyhow::Error::msg)?;
    let values = prune::read(model, &params).map_err(anyhow::Error::msg)?;
    let masks = MaskSet::from_zeros(params, &values);
    let t = SparsityTable::new(&meta.model, &masks, prune::total_params(model));
    Ok((masks, t))
}

pub(crate) fn print_table(t: &SparsityTable, json: bool, extra: serde_json::Value) -> Result<()> {
    if json {
        let mut v = serde_json::to_value(t)?;
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        print_json(&v)
    } else {
        print!("{}", t.render());
        Ok(())
    }
}

pub fn run(a: PruneOnceArgs) -> Result<()> {
    if !(a.sparsity > 0.0 && a.sparsity < 1.0) {
        bail!("--sparsity {} must be in (0, 1)", a.sparsity);
    }
    if !(0.0..1.0).contains(&a.min_density) {
        bail!("--min-density {} must be in [0, 1)", a.min_density);
    }
    let devices = a.device.devices()?;
    let (model, mut meta) = checkpoint::load(&a.checkpoint, None, &devices.base)?;
    let (mut masks, before) = table(&meta, &model, !a.weights_only, &a.exclude)?;
    if a.sparsity <= before.sparsity {
        bail!(
            "{}: already {:.4} sparse; --sparsity {} removes nothing",
            a.checkpoint.display(),
            before.sparsity,
            a.sparsity
        );
    }
    // The step as a fraction of the original prunable count (the reference's convention).
    // Global: chosen so exactly floor(N·sparsity) entries are zero afterwards, whatever was
    // already zero. Layer-wise: each tensor loses floor(N_l·v) more.
    let n = before.prunable as f64;
    let v = match a.scope {
        ScopeArg::Global => {
            let target_zeros = (n * a.sparsity).floor();
            (target_zeros - (before.prunable - before.kept) as f64 + 0.5) / n
        }
        ScopeArg::LayerWise => a.sparsity - before.sparsity,
    };
    let scope = match a.scope {
        ScopeArg::Global => Scope::Global {
            min_density: a.min_density,
        },
        ScopeArg::LayerWise => Scope::LayerWise,
    };
    let grads = if a.criterion.needs_gradients() {
        let dataset = meta.dataset.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
        let splits = shears_data::load(dataset, a.data_dir.as_deref())
            .with_context(|| format!("loading '{dataset}' for gradient scores"))?;
        let data = Prepared::new(dataset, splits, 0.1, meta.seed, false)?;
        let values = prune::read(&model, &masks.params).map_err(anyhow::Error::msg)?;
        Some(prune::gradient_stats(
            &model,
            &masks.params,
            &values,
            &data.train,
            &data.train_batches(128, meta.seed),
            a.score_batches,
            &devices,
        )?)
    } else {
        None
    };
    let model = prune::prune_step(
        model,
        &mut masks,
        a.criterion,
        grads.as_ref(),
        &StepAmount::Uniform(v),
        &scope,
        a.seed,
        0,
    )
    .map_err(anyhow::Error::msg)?;
    let after = SparsityTable::new(&meta.model, &masks, prune::total_params(&model));
    meta.sparsity = after.sparsity;
    meta.test = None;
    checkpoint::save(&a.out, &model, &meta)
        .with_context(|| format!("saving {}", a.out.display()))?;
    if !a.json {
        eprintln!("saved {}", a.out.display());
    }
    print_table(
        &after,
        a.json,
        json!({"checkpoint": a.out, "criterion": a.criterion}),
    )
}
