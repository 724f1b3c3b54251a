//! `shears train`: train a dense model and save it.

use super::common::{DataArgs, DeviceArgs, pct, plural, print_json};
use crate::progress;
use anyhow::{Context, Result};
use clap::Args;
use clap::builder::RangedU64ValueParser;
use serde_json::json;
use shears_nn::checkpoint::{self, CheckpointMeta, FORMAT_VERSION};
use shears_nn::models::{ModelKind, ModelSpec};
use shears_nn::train::{MAX_EPOCHS, Prepared, TrainRecipe, fit};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Architecture: lenet300, lenet5, lenet-cifar, vgg11, resnet20, resnet18.
    #[arg(long, default_value = "lenet300")]
    pub model: ModelKind,
    #[command(flatten)]
    pub data: DataArgs,
    /// Training epochs (cosine-decayed learning rate over these), 1 to 100000.
    #[arg(long, default_value_t = TrainRecipe::default().epochs,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=MAX_EPOCHS as u64))]
    pub epochs: usize,
    /// Peak learning rate (SGD, momentum 0.9, weight decay 5e-4).
    #[arg(long, default_value_t = TrainRecipe::default().lr)]
    pub lr: f64,
    #[arg(long, default_value_t = TrainRecipe::default().batch_size)]
    pub batch_size: usize,
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
    let recipe = TrainRecipe {
        epochs: a.epochs,
        lr: a.lr,
        batch_size: a.batch_size,
        seed: a.seed,
        augment: a
            .augment
            .unwrap_or_else(|| a.data.data.default_augment().is_some()),
        ..TrainRecipe::default()
    };
    recipe.validate().map_err(anyhow::Error::msg)?;
    let splits = a.data.load()?;
    let data = Prepared::new(
        a.data.data,
        splits,
        recipe.val_fraction,
        recipe.seed,
        recipe.augment,
    )?;
    let spec = ModelSpec {
        kind: a.model,
        input: data.input(),
        classes: data.classes(),
    };
    spec.validate().map_err(anyhow::Error::msg)?;
    eprintln!(
        "training {} on {} ({} train / {} val / {} test), {}",
        spec.kind,
        a.data.data,
        data.train.len(),
        data.val.len(),
        data.test.len(),
        plural(recipe.epochs, "epoch")
    );
    let pb = progress::bar(recipe.epochs as u64, "epochs");
    let json = a.json;
    let (model, report) = fit(&spec, &data, &recipe, &devices, &mut |r| {
        pb.inc(1);
        pb.suspend(|| {
            if !json {
                eprintln!(
                    "epoch {:>3}  train_loss {:.4}  val_top1 {}  val_loss {:.4}  {:.1}s",
                    r.epoch,
                    r.train_loss,
                    pct(r.val.top1, 2),
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
    };
    checkpoint::save(&a.out, &model, &meta)
        .with_context(|| format!("saving checkpoint to {}", a.out.display()))?;
    let t = report.test;
    if a.json {
        print_json(&json!({
            "test_top1": t.top1, "test_top5": t.top5, "test_loss": t.loss, "epochs": report.epochs,
            "val_top1": report.history.last().map(|r| r.val.top1),
            "train_seconds": report.seconds, "checkpoint": a.out,
        }))?;
    } else {
        println!(
            "test_top1 {}  test_top5 {}  test_loss {:.4}  ({}, {:.1}s training)",
            pct(t.top1, 2),
            pct(t.top5, 2),
            t.loss,
            plural(report.epochs, "epoch"),
            report.seconds
        );
        println!("saved {}", a.out.display());
    }
    Ok(())
}
