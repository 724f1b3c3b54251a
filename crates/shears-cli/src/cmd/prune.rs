//! `shears prune`: run one experiment from a TOML config; `shears runs`: inspect the store.

use super::common::DeviceArgs;
use crate::progress;
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use shears_core::results::StepRow;
use shears_experiment::{Event, ExperimentConfig, clear_failures, run_experiment};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Experiment TOML (see examples/); omitted = all defaults.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override a config key, e.g. -s finetune.patience=10 -s schedule.target=0.9 (repeatable).
    #[arg(short = 's', long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Results store; each experiment gets a directory named by its config hash.
    #[arg(long, default_value = "runs")]
    pub out: PathBuf,
    /// Print the resolved config and exit.
    #[arg(long)]
    pub print_config: bool,
    /// Retry seeds recorded as failed (diverged) instead of reporting the stored failure.
    #[arg(long)]
    pub retry_failed: bool,
    #[command(flatten)]
    pub device: DeviceArgs,
}

pub fn header() -> String {
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

pub fn row_line(r: &StepRow) -> String {
    format!(
        "{:>5} {:>4} {:>9.5} {:>9.5} {:>7} {:>7} {:>9.4} {:>9.4} {:>8.1}",
        r.seed,
        r.step,
        r.fraction_removed,
        r.sparsity,
        r.epochs,
        r.cum_epochs,
        r.val_top1,
        r.test_top1,
        r.wall_s
    )
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
        "experiment {} ({} {} -> {}, {} seed(s))",
        config.id(),
        config.regime(),
        config.model.kind,
        config.schedule.target,
        config.seeds.len()
    );
    println!("{}", header());
    if a.retry_failed {
        clear_failures(&config, &a.out)?;
    }
    let result = run_experiment(&config, &a.out, &devices, &mut |e| match e {
        Event::Step(row) => {
            pb.inc(1);
            pb.suspend(|| println!("{}", row_line(&row)));
        }
        Event::DenseTraining { seed, epochs } => {
            pb.suspend(|| eprintln!("seed {seed}: training the dense model ({epochs} epochs)"))
        }
        Event::DenseReused { seed, path } => {
            pb.suspend(|| eprintln!("seed {seed}: reusing dense model {}", path.display()))
        }
        Event::DenseDamaged { seed, path } => pb.suspend(|| {
            eprintln!(
                "seed {seed}: warning: dense model {} does not match its recorded checksum; \
                 training it again",
                path.display()
            )
        }),
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
    .context("experiment failed; finished steps are kept, rerun the same command to resume")?;
    pb.finish_and_clear();
    for r in result.rows.iter().filter(|r| r.step == steps) {
        println!("final seed {}: {}", r.seed, row_line(r));
    }
    println!("{}", result.dir.display());
    if !result.failed.is_empty() {
        let seeds: Vec<String> = result.failed.iter().map(|f| f.seed.to_string()).collect();
        bail!(
            "{} of {} seeds failed (seeds {}); each failure is recorded in its seed directory's failed.json",
            result.failed.len(),
            config.seeds.len(),
            seeds.join(", ")
        );
    }
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum RunsCommand {
    /// List stored experiments.
    List {
        #[arg(long, default_value = "runs")]
        out: PathBuf,
    },
    /// Show an experiment's config and rows.
    Show {
        id: String,
        #[arg(long, default_value = "runs")]
        out: PathBuf,
    },
}

fn seeds_of(dir: &Path) -> Vec<(String, Option<shears_experiment::store::RunState>)> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("seed-") {
                let run = shears_experiment::store::RunDir { dir: e.path() };
                out.push((name, run.read_state().ok().flatten()));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

pub fn runs(cmd: RunsCommand) -> Result<()> {
    match cmd {
        RunsCommand::List { out } => {
            let mut ids: Vec<_> = std::fs::read_dir(&out)
                .with_context(|| format!("{}: cannot read results store", out.display()))?
                .flatten()
                .filter(|e| e.path().join("config.toml").exists())
                .collect();
            ids.sort_by_key(|e| e.file_name());
            for e in ids {
                let cfg = std::fs::read_to_string(e.path().join("config.toml"))
                    .map_err(|e| e.to_string())
                    .and_then(|t| ExperimentConfig::parse_stored(&t));
                let what = cfg
                    .map(|c| {
                        format!(
                            "{} {} -> {} ({})",
                            c.model.kind,
                            c.regime(),
                            c.schedule.target,
                            c.prune.criterion
                        )
                    })
                    .unwrap_or_else(|err| format!("unreadable config: {err}"));
                let seeds = seeds_of(&e.path());
                let done = seeds
                    .iter()
                    .filter(|(_, s)| s.as_ref().is_some_and(|s| s.finished))
                    .count();
                println!(
                    "{}  {what}  seeds finished {done}/{}",
                    e.file_name().to_string_lossy(),
                    seeds.len()
                );
            }
            Ok(())
        }
        RunsCommand::Show { id, out } => {
            let dir = out.join(&id);
            let cfg = std::fs::read_to_string(dir.join("config.toml"))
                .with_context(|| format!("{}: no such experiment", dir.display()))?;
            println!("{cfg}");
            println!("{}", header());
            for (name, _) in seeds_of(&dir) {
                let run = shears_experiment::store::RunDir {
                    dir: dir.join(&name),
                };
                // A damaged state or rows file is an error, not a shorter run.
                let state = run.read_state()?;
                let upto = state.as_ref().map_or(0, |s| s.completed_step);
                let rows = run.read_rows(upto)?;
                if state.is_some() && rows.len() != upto + 1 {
                    anyhow::bail!(
                        "{}: has {} rows for committed step {upto}",
                        run.rows_path().display(),
                        rows.len()
                    );
                }
                for r in rows {
                    println!("{}", row_line(&r));
                }
            }
            Ok(())
        }
    }
}
