//! Argument groups and helpers shared by several subcommands.

use anyhow::{Context, Result};
use clap::Args;
use shears_data::DatasetId;
use shears_nn::Device;
use shears_nn::train::Devices;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// Dataset: fashion-mnist-mini (embedded), fashion-mnist, mnist, cifar10, cifar100.
    #[arg(long, default_value = "fashion-mnist-mini")]
    pub data: DatasetId,
    /// Directory holding the dataset files (default: auto-detect).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

impl DataArgs {
    pub fn load(&self) -> Result<shears_data::Splits> {
        shears_data::load(self.data, self.data_dir.as_deref())
            .with_context(|| format!("loading dataset '{}'", self.data))
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
