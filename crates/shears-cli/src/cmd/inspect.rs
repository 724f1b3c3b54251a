//! `shears inspect`: per-layer sparsity, parameters and FLOPs of any checkpoint.

use super::prune_once::print_table;
use anyhow::Result;
use clap::Args;
use serde_json::json;
use shears_experiment::prune_once::sparsity_table;
use shears_nn::checkpoint;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct InspectArgs {
    #[arg(long)]
    pub checkpoint: PathBuf,
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: InspectArgs) -> Result<()> {
    let (model, meta) = checkpoint::load(&a.checkpoint, None, &shears_nn::Device::flex())?;
    let (_, t) = sparsity_table(&meta, &model, true, &[])?;
    if !a.json {
        println!(
            "{}: {} for {:?} inputs, {} classes, trained on {} (seed {}, epoch {})",
            a.checkpoint.display(),
            meta.model.kind,
            meta.model.input,
            meta.model.classes,
            meta.dataset,
            meta.seed,
            meta.epoch
        );
    }
    print_table(
        &t,
        a.json,
        json!({"model": meta.model.kind, "dataset": meta.dataset}),
    )
}
