//! `shears prune`: run one experiment from a TOML config, resumably, into a results store.

use super::common::{DeviceArgs, plural, row_header, row_line, skipped, target_pct};
use crate::progress;
use anyhow::{Context, Result, bail};
use clap::Args;
use shears_experiment::{Event, ExperimentConfig, RunOptions, clear_failures, run_experiment_with};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Experiment TOML (see examples/); omitted = all defaults.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override a config key, e.g. -s finetune.patience=10 -s schedule.target=0.9 (repeatable).
    #[arg(short = 's', long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Results store; each experiment gets a directory named by its config hash.
    #[arg(long, alias = "out", value_name = "DIR", default_value = "runs")]
    pub store: PathBuf,
    /// Print the resolved config and exit.
    #[arg(long)]
    pub print_config: bool,
    /// Retry seeds recorded as failed (diverged) instead of reporting the stored failure.
    #[arg(long)]
    pub retry_failed: bool,
    /// Seeds whose stored files are damaged (checksum mismatch) are moved aside and computed
    /// again (deterministically, to the same result) instead of stopping with the error.
    #[arg(long)]
    pub recompute_damaged: bool,
    #[command(flatten)]
    pub device: DeviceArgs,
}

pub fn run(a: PruneArgs) -> Result<()> {
    let config = ExperimentConfig::load(a.config.as_deref(), &a.set)?;
    if a.print_config {
        print!("{}", config.to_toml());
        return Ok(());
    }
    let devices = a.device.devices()?;
    let steps = config.steps()?;
    let pb = progress::bar((steps * config.seeds.len()) as u64, "steps");
    println!(
        "experiment {} ({} {} -> {} sparsity, {})",
        config.id(),
        config.regime(),
        config.model.kind,
        target_pct(config.schedule.target),
        plural(config.seeds.len(), "seed")
    );
    println!("{}", row_header());
    if a.retry_failed {
        clear_failures(&config, &a.store)?;
    }
    let options = RunOptions {
        recompute_damaged: a.recompute_damaged,
        ..RunOptions::default()
    };
    let result = run_experiment_with(&config, &a.store, &options, &devices, &mut |e| match e {
        Event::Step(row) => {
            pb.inc(1);
            pb.suspend(|| println!("{}", row_line(&row)));
        }
        Event::DenseTraining { seed, epochs } => pb.suspend(|| {
            eprintln!(
                "seed {seed}: training the dense model ({})",
                plural(epochs, "epoch")
            )
        }),
        Event::DenseReused { seed, path } => {
            pb.suspend(|| eprintln!("seed {seed}: reusing dense model {}", path.display()))
        }
        Event::DenseDamaged { seed, path, reason } => pb.suspend(|| {
            eprintln!(
                "seed {seed}: warning: dense model {} is not trusted: {reason}; training it again",
                path.display()
            )
        }),
        Event::Recomputing { detail } => pb.suspend(|| eprintln!("warning: {detail}")),
        Event::ImagesSkipped { files } => pb.suspend(|| eprintln!("{}", skipped(&files))),
        Event::Resumed { seed, step } => {
            pb.inc(step as u64);
            pb.suspend(|| eprintln!("seed {seed}: resuming after step {step}"))
        }
        Event::SeedDone { seed, cached: true } => {
            pb.inc(steps as u64);
            pb.suspend(|| eprintln!("seed {seed}: already finished (stored result)"))
        }
        Event::SeedFailed {
            seed,
            reason,
            cached,
        } => {
            pb.inc(steps as u64);
            let when = if cached {
                "failed earlier (stored; --retry-failed to run it again)"
            } else {
                "failed"
            };
            pb.suspend(|| eprintln!("seed {seed}: {when}: {reason}"))
        }
        _ => {}
    })
    // No blanket "rerun to resume": it helps only where the error says so (a full disk), not
    // for a held lock, a damaged state file or a missing dataset.
    .context("experiment stopped; every finished step is kept")?;
    pb.finish_and_clear();
    for r in result.rows.iter().filter(|r| r.step == steps) {
        println!("final seed {}: {}", r.seed, row_line(r));
    }
    for (seed, path) in result.final_checkpoints(steps) {
        println!("pruned model seed {seed}: {}", path.display());
    }
    // The experiment directory stays the last line, for scripts.
    println!("{}", result.dir.display());
    if !result.failed.is_empty() {
        let seeds: Vec<String> = result.failed.iter().map(|f| f.seed.to_string()).collect();
        let which = if seeds.len() == 1 { "seed" } else { "seeds" };
        bail!(
            "{} of {} failed ({which} {}); each failure is recorded in its seed directory's failed.json",
            result.failed.len(),
            plural(config.seeds.len(), "seed"),
            seeds.join(", ")
        );
    }
    Ok(())
}
