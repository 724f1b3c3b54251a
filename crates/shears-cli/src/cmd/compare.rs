//! `shears compare`: the built-in one-shot vs iterative comparison (or the grid of a sweep
//! file) over seeds, and its report.

use super::common::{
    DeviceArgs, RecommendFor, SeedArg, fraction, margin, max_seeds, plural, seeds,
};
use crate::grid;
use anyhow::Result;
use clap::Args;
use shears_core::masks::Pattern;
use shears_data::DatasetId;
use shears_experiment::sweep::{
    AUTO_START, Comparison, DEFAULT_SEEDS, GridOptions, Regime, SweepConfig,
};
use shears_nn::models::ModelKind;
use shears_nn::prune::Criterion;
use shears_report::AnalysisOptions;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// lenet300, lenet5, lenet-cifar, vgg11, resnet20, resnet18, resnet18-imagenet, vit-tiny, gpt-tiny.
    #[arg(long, default_value = "lenet300")]
    pub model: ModelKind,
    /// Dataset [default: fashion-mnist-mini; kjv-mini for gpt-tiny].
    #[arg(long)]
    pub data: Option<DatasetId>,
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// `--data folder` only: images become squares of this side (default 32).
    #[arg(long)]
    pub image_size: Option<usize>,
    /// Target sparsities (fractions), space- or comma-separated [default: 0.5 0.7 0.8 0.9
    /// 0.95 0.98; vit-tiny 0.5 0.8 0.9; gpt-tiny 0.1 0.3 0.5].
    #[arg(long, num_args = 1.., value_delimiter = ',', value_parser = fraction)]
    pub targets: Option<Vec<f64>>,
    /// Regimes (one-shot, geometric, constant, hybrid), space- or comma-separated [default:
    /// all; one-shot, geometric and hybrid for the transformers].
    #[arg(long, num_args = 1.., value_delimiter = ',')]
    pub regimes: Option<Vec<Regime>>,
    /// Seeds, space- or comma-separated; or `auto`: 3 seeds, then one more at a time for the
    /// targets whose answer is still open, up to --max-seeds (a group-sequential design,
    /// docs/statistics.md).
    #[arg(long, num_args = 1.., value_delimiter = ',',
          default_values_t = DEFAULT_SEEDS.map(SeedArg::Seed))]
    pub seeds: Vec<SeedArg>,
    /// With `--seeds auto`: the most seeds any target gets [default: 12].
    #[arg(long, value_parser = max_seeds)]
    pub max_seeds: Option<usize>,
    #[arg(long, default_value = "magnitude")]
    pub criterion: Criterion,
    /// N:M semi-structured pattern of the weights, e.g. 2:4 (at most N kept in every M
    /// consecutive inputs of an output row); the target is then (M − N)/M [default targets:
    /// that one].
    #[arg(long)]
    pub pattern: Option<Pattern>,
    /// Structured (channel) pruning instead of unstructured.
    #[arg(long)]
    pub structured: bool,
    /// Equal-compute mode: every regime gets this many fine-tuning epochs in total.
    #[arg(long)]
    pub budget: Option<usize>,
    /// A sweep TOML replacing the built-in grid (see examples/sweep.toml). It describes the
    /// whole grid, so the grid options above are refused beside it rather than ignored.
    #[arg(long, conflicts_with_all = [
        "model", "data", "data_dir", "image_size", "targets", "regimes", "seeds", "max_seeds", "criterion",
        "pattern", "structured", "budget",
    ])]
    pub config: Option<PathBuf>,
    /// Experiments run in parallel.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Retry runs recorded as failed (diverged) instead of reporting the stored failure.
    #[arg(long)]
    pub retry_failed: bool,
    /// Runs whose stored files are damaged (checksum mismatch) are moved aside and computed
    /// again (deterministically, to the same result) instead of stopping with the error.
    #[arg(long)]
    pub recompute_damaged: bool,
    /// Report directory; the results store is its `runs/` sub-directory.
    #[arg(long, default_value = "results/compare")]
    pub out: PathBuf,
    /// Print summary.json on stdout (one JSON object) instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Target sparsity to recommend a regime for, optionally with the fine-tuning epochs it may
    /// use: `0.9` or `0.9,20`.
    #[arg(long, value_name = "TARGET[,EPOCHS]")]
    pub recommend: Option<RecommendFor>,
    /// Equivalence margin: regimes whose mean difference is shown to lie within ± this (TOST)
    /// are "equivalent", and a cheaper one is then preferred. For accuracy a fraction of
    /// accuracy [default: 0.005 = 0.5 pp]; for a language model's perplexity a fraction of the
    /// best mean perplexity at each target [default: 0.01 = 1%].
    #[arg(long, value_parser = margin)]
    pub margin: Option<f64>,
    #[command(flatten)]
    pub device: DeviceArgs,
}

impl CompareArgs {
    fn comparison(&self) -> Result<Comparison> {
        let base = Comparison::for_model(self.model);
        Ok(Comparison {
            data: self.data.unwrap_or(base.data),
            data_dir: self.data_dir.clone(),
            image_size: self.image_size,
            criterion: self.criterion,
            pattern: self.pattern,
            structured: self.structured,
            budget: self.budget,
            regimes: self.regimes.clone().unwrap_or(base.regimes.clone()),
            targets: match (&self.targets, self.pattern) {
                (Some(t), _) => t.clone(),
                (None, Some(p)) => vec![p.sparsity()],
                (None, None) => base.targets.clone(),
            },
            seeds: seeds(&self.seeds, self.max_seeds)?,
            max_seeds: self.max_seeds,
            ..base
        })
    }
}

pub fn run(a: CompareArgs) -> Result<()> {
    let sweep = match &a.config {
        Some(p) => SweepConfig::load(p)?,
        None => a.comparison()?.sweep(),
    };
    let cells = sweep.cells()?;
    let devices = a.device.devices()?;
    let started = Instant::now();
    if !a.json {
        eprintln!(
            "comparing {} x {} x {} ({}, about {}) -> {}",
            plural(sweep.regimes.len(), "regime"),
            plural(sweep.targets.len(), "target"),
            match sweep.auto_max() {
                Some(max) => format!("{AUTO_START} to {max} seeds (auto)"),
                None => plural(cells[0].config.seeds.len(), "seed"),
            },
            plural(cells.len(), "experiment"),
            plural(
                cells.iter().map(|c| c.estimated_epochs()).sum(),
                "fine-tuning epoch"
            ),
            a.out.display()
        );
    }
    let measure = grid::measure(&cells);
    let options = AnalysisOptions {
        recommend_target: a.recommend.map(|r| r.target),
        epoch_budget: a.recommend.and_then(|r| r.epoch_budget),
        margin: a.margin.unwrap_or(measure.default_margin()),
        ..AnalysisOptions::with_measure(measure)
    };
    let grid = GridOptions {
        jobs: a.jobs,
        retry_failed: a.retry_failed,
        recompute_damaged: a.recompute_damaged,
    };
    grid::run_and_report(sweep, &a.out, &grid, &devices, options, a.json)?;
    if !a.json {
        eprintln!("finished in {:.0} s", started.elapsed().as_secs_f64());
    }
    Ok(())
}
