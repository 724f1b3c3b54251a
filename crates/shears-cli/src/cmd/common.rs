//! Argument groups and helpers shared by several subcommands.

use anyhow::{Context, Result};
use clap::Args;
use shears_data::{DatasetId, FolderRead};
use shears_nn::Device;
use shears_nn::train::{Devices, Source};
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// Dataset: fashion-mnist-mini (embedded), fashion-mnist, mnist, cifar10, cifar100, folder
    /// (your images, in --data-dir); text corpora: kjv-mini (embedded), text (a UTF-8 file or
    /// folder given by --data-dir).
    #[arg(long, default_value = "fashion-mnist-mini")]
    pub data: DatasetId,
    /// Directory holding the dataset files (default: auto-detect); for `text`, the corpus;
    /// for `folder`, one sub-directory of PNG/JPEG images per class (optionally under train/
    /// and test/).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// `folder` only: images become squares of this side (default 32).
    #[arg(long)]
    pub image_size: Option<usize>,
    /// `folder` only: leave out image files that do not decode (counted and warned about)
    /// instead of stopping at the first.
    #[arg(long)]
    pub skip_corrupt: bool,
}

/// The warning for image files left out as undecodable.
pub fn skipped(files: &[PathBuf]) -> String {
    let first: Vec<String> = files
        .iter()
        .take(3)
        .map(|f| f.display().to_string())
        .collect();
    format!(
        "warning: {} left out: {}{}",
        plural(files.len(), "image file that does not decode"),
        first.join(", "),
        if files.len() > 3 { ", ..." } else { "" }
    )
}

impl DataArgs {
    /// How the folder is read, for the library's options.
    pub fn folder_read(&self) -> Result<FolderRead> {
        if (self.image_size.is_some() || self.skip_corrupt) && self.data != DatasetId::Folder {
            anyhow::bail!("--image-size and --skip-corrupt: only for --data folder");
        }
        Ok(FolderRead {
            size: self.image_size,
            skip_corrupt: self.skip_corrupt,
        })
    }

    pub fn load(&self) -> Result<Source> {
        let source = Source::load_with(self.data, self.data_dir.as_deref(), self.folder_read()?)
            .with_context(|| format!("loading dataset '{}'", self.data))?;
        if let Source::Images(s) = &source
            && !s.skipped.is_empty()
        {
            eprintln!("{}", skipped(&s.skipped));
        }
        Ok(source)
    }
}

#[derive(Args, Debug, Clone)]
pub struct DeviceArgs {
    /// Compute device: cpu (Burn flex backend; default), or cuda / wgpu when built with that feature.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

impl DeviceArgs {
    pub fn devices(&self) -> Result<Devices> {
        let base = match self.device.as_str() {
            "cpu" | "flex" => Device::flex(),
            #[cfg(feature = "cuda")]
            "cuda" => Device::cuda(0),
            #[cfg(feature = "wgpu")]
            "wgpu" => Device::wgpu(Default::default()),
            other => anyhow::bail!(
                "--device {other}: not available in this build (cpu always; cuda/wgpu need the cargo feature of that name)"
            ),
        };
        Ok(Devices::new(base))
    }
}

/// Prints exactly one JSON object on stdout.
pub fn print_json(value: &serde_json::Value) -> Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}

/// `1 epoch`, `3 epochs`.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// A fraction as a percentage with `decimals` decimals: `0.8512` → `85.12%`.
pub fn pct(fraction: f64, decimals: usize) -> String {
    format!("{:.*}%", decimals, fraction * 100.0)
}

/// A target sparsity as a percentage, as short as it is exact: `0.9` → `90%`, `0.955` → `95.5%`.
pub fn target_pct(target: f64) -> String {
    format!("{}%", (target * 100.0 * 1e6).round() / 1e6)
}

/// Header of the per-step result lines of `shears prune` and `shears runs show`.
pub fn row_header() -> String {
    format!(
        "{:>5} {:>4} {:>9} {:>9} {:>7} {:>7} {:>9} {:>9} {:>8}",
        "seed",
        "step",
        "removed",
        "sparsity",
        "epochs",
        "cum_ep",
        "val_top1",
        "test_top1",
        "wall_s"
    )
}

/// One step's result line: fractions removed, sparsity and accuracies as percentages.
pub fn row_line(r: &shears_core::results::StepRow) -> String {
    format!(
        "{:>5} {:>4} {:>9} {:>9} {:>7} {:>7} {:>9} {:>9} {:>8.1}",
        r.seed,
        r.step,
        pct(r.fraction_removed, 3),
        pct(r.sparsity, 3),
        r.epochs,
        r.cum_epochs,
        pct(r.val_top1, 2),
        pct(r.test_top1, 2),
        r.wall_s
    )
}

pub use super::values::{RecommendFor, SeedArg, fraction, margin, max_seeds, seeds};
