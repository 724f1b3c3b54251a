//! `shears import` and `shears export`: PyTorch-layout weights in and out (docs/interop.md).

use super::common::{DataArgs, DeviceArgs, pct, print_json};
use anyhow::Result;
use clap::Args;
use serde_json::json;
use shears_experiment::interop::{self, ExportFormat, Import};
use shears_nn::interop::Layout;
use shears_nn::models::ModelKind;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// A PyTorch-layout state dict: `.safetensors`, `.pt` or `.pth` (names as in
    /// docs/interop.md).
    #[arg(long)]
    pub from: PathBuf,
    /// The architecture the weights are for (lenet300, lenet5, lenet-cifar, vgg11, resnet20,
    /// resnet18, resnet18-imagenet, vit-tiny, gpt-tiny).
    #[arg(long)]
    pub model: ModelKind,
    /// The dataset the model is for (input shape and classes); the imported model is measured
    /// on its test split.
    #[command(flatten)]
    pub data: DataArgs,
    /// Where to write the shears checkpoint (a dense model for `prune`, `compare --config`).
    #[arg(long)]
    pub out: PathBuf,
    /// Re-initialise the classifier if the file's has another class count than `--data`
    /// (to fine-tune the model on a new dataset) instead of refusing the file.
    #[arg(long)]
    pub reset_head: bool,
    /// Whose names the file uses: shears (default), or for the ResNets `reference` (the
    /// paper's code: conv1, layer1.0.conv1, shortcut.0, linear) or `torchvision`.
    #[arg(long, default_value = "shears")]
    pub layout: Layout,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub device: DeviceArgs,
}

pub fn import(a: ImportArgs) -> Result<()> {
    let devices = a.device.devices()?;
    let o = Import {
        from: a.from.clone(),
        model: a.model,
        data: a.data.data,
        data_dir: a.data.data_dir.clone(),
        folder: a.data.folder_read()?,
        out: a.out.clone(),
        reset_head: a.reset_head,
        layout: a.layout,
    };
    // The library's errors name the file and the key.
    let imported = interop::import(&o, &devices)?;
    let t = imported.test;
    if a.json {
        return print_json(&json!({
            "test_top1": t.top1, "test_top5": t.top5, "test_loss": t.loss, "checkpoint": a.out,
            "head_reset": imported.head_reset,
        }));
    }
    if imported.head_reset {
        println!(
            "classifier re-initialised for the classes of {}",
            a.data.data
        );
    }
    println!(
        "test_top1 {}  test_loss {:.4}  on {}",
        pct(t.top1, 2),
        t.loss,
        a.data.data
    );
    println!("saved {}", a.out.display());
    Ok(())
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// A shears checkpoint (dense, masked or shrunk), or a run directory (`runs/ID/seed-0`):
    /// its last committed step.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// `safetensors` (PyTorch layout) or `onnx`; by default the one `--out`'s extension names.
    #[arg(long, value_parser = ["safetensors", "onnx"])]
    pub format: Option<String>,
    /// Where to write the file.
    #[arg(long)]
    pub out: PathBuf,
    /// The safetensors file's names: shears (default), or for the ResNets `reference` or
    /// `torchvision` (as `import --layout`).
    #[arg(long, default_value = "shears")]
    pub layout: Layout,
    #[command(flatten)]
    pub device: DeviceArgs,
}

pub fn export(a: ExportArgs) -> Result<()> {
    let format = ExportFormat::choose(a.format.as_deref(), &a.out)?;
    let devices = a.device.devices()?;
    let used = interop::export(&a.checkpoint, format, a.layout, &a.out, &devices)?;
    if used != a.checkpoint {
        println!("checkpoint {}", used.display());
    }
    println!("saved {}", a.out.display());
    Ok(())
}
