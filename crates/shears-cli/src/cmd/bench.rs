//! `shears bench`: throughput of training and inference, and the cost of one pruning step
//! (the benchmark itself is `shears_experiment::bench`).

use super::common::{DeviceArgs, print_json};
use anyhow::Result;
use clap::Args;
use shears_experiment::bench::{self, BenchOptions};
use shears_nn::models::ModelKind;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Models to time training and inference of, space- or comma-separated. `gpt-tiny` runs
    /// batches of `--batch-size` sequences of 128 tokens (vocabulary 64) and reports tokens/s;
    /// the others report samples/s.
    #[arg(long, num_args = 1.., value_delimiter = ',', default_values_t = [ModelKind::LeNet300, ModelKind::LeNet5, ModelKind::ResNet20])]
    pub models: Vec<ModelKind>,
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Timed iterations per repeat (after 2 warm-up iterations).
    #[arg(long, default_value_t = 10)]
    pub iters: usize,
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Skip the ResNet-18 pruning-step timing.
    #[arg(long)]
    pub no_prune: bool,
    /// Skip the pruned-inference rows: CSR vs dense-masked LeNet-300-100 at 50-98%
    /// sparsity, and physically shrunk conv nets at 50/75% channel sparsity (the
    /// transformers have none).
    #[arg(long)]
    pub no_sparse: bool,
    /// Skip the whole-epoch rows: a dense training epoch of LeNet-300-100 on the embedded data
    /// against a masked fine-tuning epoch at 0% and 95% sparsity.
    #[arg(long)]
    pub no_epochs: bool,
    /// Run convolutions and max-pools on Burn's own kernels instead of shears' (`shears-kernels`:
    /// one cache-sized GEMM per sample, hand-written backward; the default on the CPU).
    #[arg(long)]
    pub burn_conv: bool,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub device: DeviceArgs,
}

pub fn run(a: BenchArgs) -> Result<()> {
    let devices = a.device.devices()?;
    let options = BenchOptions {
        models: a.models.clone(),
        batch_size: a.batch_size,
        iters: a.iters,
        repeats: a.repeats,
        prune_step: !a.no_prune,
        pruned_inference: !a.no_sparse,
        burn_conv: a.burn_conv,
        epochs: !a.no_epochs,
    };
    let rows = bench::run(&options, &devices)?;
    let threads = bench::threads();
    // Trainable parameters per model, which `bench/side-by-side.py` checks against PyTorch's.
    let params: serde_json::Map<String, serde_json::Value> = a
        .models
        .iter()
        .map(|&k| {
            (
                k.to_string(),
                bench::trainable_params(k, &devices.base).into(),
            )
        })
        .collect();
    if a.json {
        return print_json(&serde_json::json!({
            "threads": threads,
            "device": a.device.device,
            "params": params,
            "results": rows,
        }));
    }
    println!("{threads} threads, device {}", a.device.device);
    for r in &rows {
        println!("{:<100} {:>12.3} {}", r.workload, r.value, r.unit);
    }
    Ok(())
}
