//! `shears prune-once`: one pruning step on a checkpoint, no fine-tuning.

use super::common::{DeviceArgs, print_json};
use anyhow::{Result, bail};
use clap::Args;
use serde_json::json;
use shears_core::masks::{Pattern, ScopeKind};
use shears_experiment::config::DEFAULT_CALIBRATION_SAMPLES;
use shears_experiment::prune_once::{PruneOnce, prune_once};
use shears_nn::prune::{Criterion, SparsityTable};
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct PruneOnceArgs {
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// magnitude, random, taylor, hessian, wanda or sparsegpt.
    #[arg(long, default_value = "magnitude")]
    pub criterion: Criterion,
    /// global (one threshold across all prunable tensors, the paper's setting) or layer-wise
    /// (the same fraction of every tensor) [default: global; layer-wise for wanda, sparsegpt
    /// and --pattern, which choose within each output row].
    #[arg(long)]
    pub scope: Option<ScopeKind>,
    /// N:M semi-structured pattern of the weights, e.g. 2:4 (at most 2 kept in every 4
    /// consecutive inputs of an output row); --sparsity must then be (M − N)/M.
    #[arg(long)]
    pub pattern: Option<Pattern>,
    /// Wanda compares weights within each output row (true, its defining choice); false: its
    /// scores compete under --scope like any criterion's (within each layer, or globally).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub wanda_rows: bool,
    /// Training samples wanda/sparsegpt measure layer inputs on.
    #[arg(long, default_value_t = DEFAULT_CALIBRATION_SAMPLES)]
    pub calibration_samples: usize,
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
    /// An image folder: leave out files that do not decode.
    #[arg(long)]
    pub skip_corrupt: bool,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub device: DeviceArgs,
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
    if a.calibration_samples == 0 {
        bail!("--calibration-samples must be at least 1");
    }
    if !(0.0..1.0).contains(&a.min_density) {
        bail!("--min-density {} must be in [0, 1)", a.min_density);
    }
    let devices = a.device.devices()?;
    let job = PruneOnce {
        checkpoint: a.checkpoint,
        criterion: a.criterion,
        scope: a
            .scope
            .unwrap_or(if a.criterion.in_rows(a.wanda_rows, a.pattern) {
                ScopeKind::LayerWise
            } else {
                ScopeKind::Global
            }),
        pattern: a.pattern,
        calibration_samples: a.calibration_samples,
        wanda_rows: a.wanda_rows,
        sparsity: a.sparsity,
        min_density: a.min_density,
        include_bias: !a.weights_only,
        exclude: a.exclude,
        seed: a.seed,
        score_batches: a.score_batches,
        data_dir: a.data_dir,
        skip_corrupt: a.skip_corrupt,
        out: a.out,
    };
    let after = prune_once(&job, &devices)?;
    if !a.json {
        eprintln!("saved {}", job.out.display());
    }
    print_table(
        &after,
        a.json,
        json!({"checkpoint": job.out, "criterion": job.criterion}),
    )
}
