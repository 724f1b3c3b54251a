//! `shears eval`: evaluate a checkpoint on the test split of its dataset.

use super::common::{DeviceArgs, pct, plural, print_json};
use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;
use shears_data::DatasetId;
use shears_nn::checkpoint;
use shears_nn::train::evaluate;
use shears_nn::train::{Prepared, Source};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Checkpoint written by `shears train` (or a pruning command).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Dataset to evaluate on (default: the one recorded in the checkpoint).
    #[arg(long)]
    pub data: Option<DatasetId>,
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub device: DeviceArgs,
}

pub fn run(a: EvalArgs) -> Result<()> {
    let devices = a.device.devices()?;
    let (model, meta) = checkpoint::load(&a.checkpoint, None, &devices.base)?;
    let dataset = match a.data {
        Some(d) => d,
        None => meta.dataset.parse().map_err(|e| {
            anyhow::anyhow!(
                "{}: recorded dataset: {e}; pass --data",
                a.checkpoint.display()
            )
        })?,
    };
    let source = Source::load(dataset, a.data_dir.as_deref())
        .with_context(|| format!("loading dataset '{dataset}'"))?;
    let data = Prepared::for_model(dataset, source, 0.0, 0, &meta.model, meta.vocab.as_ref())?;
    data.check_model(&meta.model)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.checkpoint.display()))?;
    let t = evaluate(
        &model,
        &data.test,
        "test",
        &data.eval_batches(),
        &devices.base,
    )
    .with_context(|| format!("evaluating {}", a.checkpoint.display()))?;
    let text = data.vocab.is_some();
    if a.json {
        let mut out = json!({
            "test_top1": t.top1, "test_top5": t.top5, "test_loss": t.loss, "epochs": meta.epoch,
            "model": meta.model.kind, "dataset": dataset.to_string(), "samples": t.n,
        });
        if text {
            out["test_ppl"] = json!(t.loss.exp());
        }
        print_json(&out)
    } else if text {
        println!(
            "{} on {dataset}: test_ppl {:.3}  test_loss {:.4}  next-token top-1 {}  ({} predicted, {} trained)",
            meta.model.kind,
            t.loss.exp(),
            t.loss,
            pct(t.top1, 2),
            plural(t.n as usize, "token"),
            plural(meta.epoch, "epoch")
        );
        Ok(())
    } else {
        println!(
            "{} on {dataset}: test_top1 {}  test_top5 {}  test_loss {:.4}  ({}, {} trained)",
            meta.model.kind,
            pct(t.top1, 2),
            pct(t.top5, 2),
            t.loss,
            plural(t.n as usize, "sample"),
            plural(meta.epoch, "epoch")
        );
        Ok(())
    }
}
