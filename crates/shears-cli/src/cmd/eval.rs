//! `shears eval`: evaluate a checkpoint on the test split of its dataset.

use super::common::{DeviceArgs, pct, plural, print_json};
use anyhow::Result;
use clap::Args;
use serde_json::json;
use shears_data::DatasetId;
use shears_experiment::eval::{Eval, evaluate_checkpoint};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Checkpoint written by `shears train` (or a pruning command), or a run directory
    /// (`runs/ID/seed-0`: its last committed step).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Dataset to evaluate on (default: the one recorded in the checkpoint).
    #[arg(long)]
    pub data: Option<DatasetId>,
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// An image folder: leave out files that do not decode (as its training did).
    #[arg(long)]
    pub skip_corrupt: bool,
    /// Also write every test sample's label, predicted class and logits to this CSV.
    #[arg(long, value_name = "FILE.csv")]
    pub predictions: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub device: DeviceArgs,
}

pub fn run(a: EvalArgs) -> Result<()> {
    let devices = a.device.devices()?;
    let e = evaluate_checkpoint(
        &Eval {
            checkpoint: a.checkpoint.clone(),
            data: a.data,
            data_dir: a.data_dir.clone(),
            skip_corrupt: a.skip_corrupt,
            predictions: a.predictions.clone(),
        },
        &devices,
    )?;
    let (t, meta, dataset) = (e.test, &e.meta, e.dataset);
    let text = e.language_model;
    if a.json {
        let mut out = json!({
            "test_top1": t.top1, "test_top5": t.top5, "test_loss": t.loss, "epochs": meta.epoch,
            "model": meta.model.kind, "dataset": dataset.to_string(), "samples": t.n,
        });
        if text {
            out["test_ppl"] = json!(t.loss.exp());
        }
        return print_json(&out);
    }
    if text {
        println!(
            "{} on {dataset}: test_ppl {:.3}  test_loss {:.4}  next-token top-1 {}  ({} predicted, {} trained)",
            meta.model.kind,
            t.loss.exp(),
            t.loss,
            pct(t.top1, 2),
            plural(t.n as usize, "token"),
            plural(meta.epoch, "epoch")
        );
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
    }
    if let Some(p) = &a.predictions {
        println!("predictions {}", p.display());
    }
    Ok(())
}
