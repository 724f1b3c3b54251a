//! `shears train`: train a dense model and save it.

use super::common::{DataArgs, DeviceArgs, pct, plural, print_json};
use crate::progress;
use anyhow::{Context, Result};
use clap::Args;
use clap::builder::RangedU64ValueParser;
use serde_json::json;
use shears_nn::checkpoint::{self, CheckpointMeta, FORMAT_VERSION};
use shears_nn::models::{ModelKind, ModelSpec};
use shears_nn::train::{FitReport, MAX_EPOCHS, Prepared, TrainRecipe, fit};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Architecture: lenet300, lenet5, lenet-cifar, vgg11, resnet20, resnet18,
    /// resnet18-imagenet, vit-tiny, gpt-tiny (a language model: use it with --data kjv-mini or
    /// --data text).
    #[arg(long, default_value = "lenet300")]
    pub model: ModelKind,
    #[command(flatten)]
    pub data: DataArgs,
    /// Training epochs (cosine-decayed learning rate over these), 1 to 100000 (default: the
    /// model's recipe, 20 for the CNNs).
    #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(1..=MAX_EPOCHS as u64))]
    pub epochs: Option<usize>,
    /// Peak learning rate (default: the model's recipe; CNNs: 0.05 with SGD, momentum 0.9,
    /// weight decay 5e-4; transformers: AdamW with warm-up).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Batch size (images, or windows of text; default: the model's recipe).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Seeds initialisation, validation split, shuffling and augmentation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Random crop + flip augmentation (default: on for CIFAR, off otherwise).
    #[arg(long)]
    pub augment: Option<bool>,
    /// Where to save the trained model.
    #[arg(long, default_value = "runs/dense.ckpt")]
    pub out: PathBuf,
    /// Print one JSON object with the final metrics instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub device: DeviceArgs,
}

pub fn run(a: TrainArgs) -> Result<()> {
    // Before minutes of training, not after: the output must be writable.
    checkpoint::check_writable(&a.out).with_context(|| format!("--out {}", a.out.display()))?;
    let devices = a.device.devices()?;
    let base = TrainRecipe::for_model(a.model);
    let recipe = TrainRecipe {
        epochs: a.epochs.unwrap_or(base.epochs),
        lr: a.lr.unwrap_or(base.lr),
        batch_size: a.batch_size.unwrap_or(base.batch_size),
        seed: a.seed,
        augment: a
            .augment
            .unwrap_or_else(|| a.data.data.default_augment().is_some()),
        ..base
    };
    recipe.validate().map_err(anyhow::Error::msg)?;
    let data = Prepared::from_source(
        a.data.data,
        a.data.load()?,
        recipe.val_fraction,
        recipe.seed,
        recipe.augment,
        a.model.default_context(),
    )?;
    let spec = ModelSpec {
        kind: a.model,
        input: data.input(),
        classes: data.classes(),
        shape: None,
    };
    data.check_model(&spec).map_err(anyhow::Error::msg)?;
    spec.validate().map_err(anyhow::Error::msg)?;
    eprintln!(
        "training {} on {} ({} train / {} val / {} test {}), {}",
        spec.kind,
        a.data.data,
        data.train.len(),
        data.val.len(),
        data.test.len(),
        data.train.unit(),
        plural(recipe.epochs, "epoch")
    );
    let text = data.vocab.is_some();
    let pb = progress::bar(recipe.epochs as u64, "epochs");
    let json = a.json;
    let (model, report) = fit(&spec, &data, &recipe, &devices, &mut |r| {
        pb.inc(1);
        pb.suspend(|| {
            if !json {
                eprintln!(
                    "epoch {:>3}  train_loss {:.4}  val_{} {}  val_loss {:.4}  {:.1}s",
                    r.epoch,
                    r.train_loss,
                    if text { "ppl" } else { "top1" },
                    if text {
                        format!("{:.3}", r.val.loss.exp())
                    } else {
                        pct(r.val.top1, 2)
                    },
                    r.val.loss,
                    r.seconds
                )
            }
        });
    })?;
    pb.finish_and_clear();
    let meta = CheckpointMeta {
        format_version: FORMAT_VERSION,
        model: spec,
        dataset: a.data.data.to_string(),
        seed: a.seed,
        epoch: report.epochs,
        test: Some(report.test),
        sparsity: 0.0,
        vocab: data.vocab.clone(),
        widths: None,
    };
    checkpoint::save(&a.out, &model, &meta)
        .with_context(|| format!("saving checkpoint to {}", a.out.display()))?;
    print_result(&report, &a.out, text, a.json)
}

/// The final metrics: JSON, or one line (perplexity first for a language model, whose top-1
/// is next-token accuracy).
fn print_result(report: &FitReport, out: &Path, text: bool, json: bool) -> Result<()> {
    let t = report.test;
    if json {
        let mut value = json!({
            "test_top1": t.top1, "test_top5": t.top5, "test_loss": t.loss, "epochs": report.epochs,
            "val_top1": report.history.last().map(|r| r.val.top1),
            "train_seconds": report.seconds, "checkpoint": out,
        });
        if text {
            value["test_ppl"] = json!(t.loss.exp());
            value["val_ppl"] = json!(report.history.last().map(|r| r.val.loss.exp()));
        }
        return print_json(&value);
    }
    if text {
        println!(
            "test_ppl {:.3}  test_loss {:.4}  next-token top-1 {}  ({}, {:.1}s training)",
            t.loss.exp(),
            t.loss,
            pct(t.top1, 2),
            plural(report.epochs, "epoch"),
            report.seconds
        );
    } else {
        println!(
            "test_top1 {}  test_top5 {}  test_loss {:.4}  ({}, {:.1}s training)",
            pct(t.top1, 2),
            pct(t.top5, 2),
            t.loss,
            plural(report.epochs, "epoch"),
            report.seconds
        );
    }
    println!("saved {}", out.display());
    Ok(())
}
