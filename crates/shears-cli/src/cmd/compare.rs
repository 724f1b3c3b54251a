//! `shears compare` (the main job), `shears sweep` and `shears report`: run a grid of
//! experiments, analyse it over seeds and write the report.

use super::common::{DeviceArgs, print_json};
use crate::progress;
use anyhow::{Context, Result, bail};
use clap::Args;
use serde::{Deserialize, Serialize};
use shears_core::results::{FailedRun, StepRow};
use shears_data::DatasetId;
use shears_experiment::store::RunDir;
use shears_experiment::sweep::{Cell, SweepConfig};
use shears_experiment::{Event, clear_failures, run_experiment};
use shears_nn::models::ModelKind;
use shears_nn::prune::Criterion;
use shears_nn::train::Devices;
use shears_report::{AnalysisOptions, analyze, write_report};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The default comparison's settings, recorded in every report.
pub const DEFAULT_TARGETS: [f64; 6] = [0.5, 0.7, 0.8, 0.9, 0.95, 0.98];

#[derive(Args, Debug)]
pub struct CompareArgs {
    #[arg(long, default_value = "lenet300")]
    pub model: ModelKind,
    #[arg(long, default_value = "fashion-mnist-mini")]
    pub data: DatasetId,
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Target sparsities, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = DEFAULT_TARGETS)]
    pub targets: Vec<f64>,
    /// Regimes, comma-separated: one-shot, geometric, constant, hybrid.
    #[arg(long, value_delimiter = ',', default_values_t = ["one-shot".to_string(), "geometric".into(), "constant".into(), "hybrid".into()])]
    pub regimes: Vec<String>,
    #[arg(long, value_delimiter = ',', default_values_t = [0u64, 1, 2])]
    pub seeds: Vec<u64>,
    #[arg(long, default_value = "magnitude")]
    pub criterion: Criterion,
    /// Structured (channel) pruning instead of unstructured.
    #[arg(long)]
    pub structured: bool,
    /// Equal-compute mode: every regime gets this many fine-tuning epochs in total.
    #[arg(long)]
    pub budget: Option<usize>,
    /// A sweep TOML replacing the built-in grid (see examples/sweep.toml).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Experiments run in parallel.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Retry runs recorded as failed (diverged) instead of reporting the stored failure.
    #[arg(long)]
    pub retry_failed: bool,
    /// Report directory; the results store is its `runs/` sub-directory.
    #[arg(long, default_value = "results/compare")]
    pub out: PathBuf,
    /// Print summary.json on stdout (one JSON object) instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Target (and optional epoch budget) to recommend a regime for.
    #[arg(long)]
    pub recommend: Option<f64>,
    #[command(flatten)]
    pub device: DeviceArgs,
}

#[derive(Args, Debug)]
pub struct SweepArgs {
    #[arg(long)]
    pub config: PathBuf,
    #[arg(long, default_value = "results/sweep")]
    pub out: PathBuf,
    /// Print the grid and its estimated epoch count, run nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Retry runs recorded as failed (diverged) instead of reporting the stored failure.
    #[arg(long)]
    pub retry_failed: bool,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub device: DeviceArgs,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// A directory written by `shears compare` or `shears sweep`.
    pub dir: PathBuf,
}

/// What a report directory was made from; `shears report` regenerates from it.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    sweep: SweepConfig,
    experiments: Vec<String>,
    options: AnalysisOptions,
}

/// The built-in grid: patience-based fine-tuning where one-shot and the hybrid's first step
/// get a long patience and iterative steps a short one (paper §4.3, §5.2), scaled to finish
/// in minutes on 2 CPU cores.
pub fn default_sweep(a: &CompareArgs) -> Result<SweepConfig> {
    let mut base = toml::Table::new();
    let set = |t: &mut toml::Table, section: &str, key: &str, v: toml::Value| {
        t.entry(section.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .expect("section")
            .insert(key.to_string(), v);
    };
    set(&mut base, "model", "kind", a.model.name().into());
    set(&mut base, "data", "dataset", a.data.name().into());
    if let Some(d) = &a.data_dir {
        set(&mut base, "data", "dir", d.display().to_string().into());
    }
    set(&mut base, "prune", "criterion", a.criterion.name().into());
    set(&mut base, "finetune", "max_epochs", 20.into());
    set(&mut base, "finetune", "lr", 0.01.into());
    if let Some(b) = a.budget {
        set(&mut base, "finetune", "mode", "budget".into());
        set(&mut base, "finetune", "budget", (b as i64).into());
    }
    if a.structured {
        set(&mut base, "prune", "structured", true.into());
    }
    let long = "finetune.patience=[5]";
    let short = "finetune.patience=[1]";
    let mut regimes = std::collections::BTreeMap::new();
    for r in &a.regimes {
        let o: Vec<&str> = match r.as_str() {
            "one-shot" => vec!["schedule.kind=one-shot", long],
            "geometric" => vec!["schedule.kind=geometric", "schedule.steps=5", short],
            "constant" => vec!["schedule.kind=constant", "schedule.steps=5", short],
            "hybrid" => vec![
                "schedule.kind=hybrid",
                "schedule.start={target*0.7}",
                "schedule.steps=3",
                "finetune.patience=[5,1]",
            ],
            other => {
                bail!("--regimes: unknown regime '{other}' (one-shot, geometric, constant, hybrid)")
            }
        };
        regimes.insert(r.clone(), o.into_iter().map(String::from).collect());
    }
    Ok(SweepConfig {
        base,
        regimes,
        targets: a.targets.clone(),
        seeds: a.seeds.clone(),
        grid: Default::default(),
    })
}

fn load_sweep(path: &Path) -> Result<SweepConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    Ok(SweepConfig::from_toml(&text, &path.display().to_string())?)
}

/// Estimated fine-tuning epochs of a cell (patience: about patience+2 per step).
fn estimate_epochs(c: &Cell) -> usize {
    let steps = c.config.steps().unwrap_or(0);
    let f = &c.config.finetune;
    let per = |i: usize| match f.mode {
        shears_experiment::config::FinetuneMode::Epochs => f.epochs,
        shears_experiment::config::FinetuneMode::Budget => f.budget / steps.max(1),
        shears_experiment::config::FinetuneMode::Patience => {
            (f.patience[i.min(f.patience.len() - 1)] + 2).min(f.max_epochs)
        }
    };
    (0..steps).map(per).sum::<usize>() * c.config.seeds.len()
}

/// Rows of finished runs and the runs that failed on their own (diverged).
type Outcome = (Vec<StepRow>, Vec<FailedRun>);

/// Runs every cell (dense models first, shared), printing a line per finished run. A run
/// that diverges is recorded as failed and the others go on; any other error stops the sweep.
fn run_cells(
    cells: &[Cell],
    store: &Path,
    jobs: usize,
    retry_failed: bool,
    devices: &Devices,
    quiet: bool,
) -> Result<Outcome> {
    // Cells that resolve to the same experiment (e.g. two regimes spelled alike) run once:
    // parallel jobs never work on one run, and its rows are counted once.
    let mut seen = std::collections::HashSet::new();
    let cells: Vec<&Cell> = cells
        .iter()
        .filter(|c| seen.insert(c.config.id()))
        .collect();
    if retry_failed {
        for c in &cells {
            clear_failures(&c.config, store)?;
        }
    }
    let total: usize = cells
        .iter()
        .map(|c| c.config.steps().unwrap_or(0) * c.config.seeds.len())
        .sum();
    let pb = progress::bar(total as u64, "sweep");
    let started = Instant::now();
    if !quiet {
        pb.suspend(|| {
            println!(
                "{:<10} {:>6} {:>5} {:>9} {:>9} {:>7} {:>8}",
                "regime", "target", "seed", "sparsity", "test_top1", "epochs", "elapsed"
            )
        });
    }
    let print_final = |cell: &Cell, r: &StepRow| {
        if !quiet {
            pb.suspend(|| {
                println!(
                    "{:<10} {:>6} {:>5} {:>9.4} {:>9.4} {:>7} {:>7.0}s",
                    cell.regime,
                    cell.target,
                    r.seed,
                    r.sparsity,
                    r.test_top1,
                    r.cum_epochs,
                    started.elapsed().as_secs_f64()
                )
            });
        }
    };
    let run_one = |cell: &Cell, devices: &Devices| -> Result<Outcome> {
        let steps = cell.config.steps()?;
        let mut cached = Vec::new();
        let result = run_experiment(&cell.config, store, devices, &mut |e| match e {
            Event::Step(row) => {
                pb.inc(1);
                if row.step == steps {
                    print_final(cell, &row);
                }
            }
            Event::Resumed { step, .. } => pb.inc(step as u64),
            Event::SeedDone { seed, cached: true } => {
                pb.inc(steps as u64);
                cached.push(seed);
            }
            Event::SeedFailed {
                seed,
                reason,
                cached,
            } => {
                pb.inc(steps as u64);
                if !quiet {
                    let stored = if cached {
                        " (stored; --retry-failed reruns it)"
                    } else {
                        ""
                    };
                    pb.suspend(|| {
                        println!(
                            "{:<10} {:>6} {:>5} FAILED{stored}: {reason}",
                            cell.regime, cell.target, seed
                        )
                    });
                }
            }
            Event::DenseTraining { seed, epochs } if !quiet => {
                pb.suspend(|| eprintln!("seed {seed}: training the dense model ({epochs} epochs)"))
            }
            Event::DenseDamaged { seed, path } => pb.suspend(|| {
                eprintln!(
                    "seed {seed}: warning: dense model {} does not match its recorded \
                     checksum; training it again",
                    path.display()
                )
            }),
            _ => {}
        })
        .with_context(|| format!("regime '{}', target {}", cell.regime, cell.target))?;
        // Runs served from the store print their stored final row too.
        for r in result
            .rows
            .iter()
            .filter(|r| r.step == steps && cached.contains(&r.seed))
        {
            print_final(cell, r);
        }
        Ok((result.rows, result.failed))
    };
    // Dense models first, one experiment per seed set, so parallel jobs only reuse them.
    let (mut rows, mut failed) = (Vec::new(), Vec::new());
    let mut add = |(r, f): Outcome| {
        rows.extend(r);
        failed.extend(f);
    };
    let (first, rest) = cells.split_first().expect("at least one cell");
    add(run_one(first, devices)?);
    if jobs <= 1 {
        for c in rest {
            add(run_one(c, devices)?);
        }
    } else {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let results: Vec<Result<Outcome>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..jobs)
                .map(|_| {
                    s.spawn(|| {
                        let mut out = Vec::new();
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            let Some(c) = rest.get(i) else { break };
                            out.push((i, run_one(c, devices)));
                        }
                        out
                    })
                })
                .collect();
            let mut all: Vec<(usize, Result<Outcome>)> = handles
                .into_iter()
                .flat_map(|h| h.join().expect("worker"))
                .collect();
            all.sort_by_key(|(i, _)| *i);
            all.into_iter().map(|(_, r)| r).collect()
        });
        for r in results {
            add(r?);
        }
    }
    pb.finish_and_clear();
    Ok((rows, failed))
}

fn store_rows(store: &Path, ids: &[String]) -> Result<Outcome> {
    let (mut rows, mut failed) = (Vec::new(), Vec::new());
    for id in ids {
        let dir = store.join(id);
        let mut seeds: Vec<_> = std::fs::read_dir(&dir)
            .with_context(|| format!("{}: missing experiment", dir.display()))?
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("seed-"))
            .map(|e| e.path())
            .collect();
        seeds.sort();
        for s in seeds {
            let run = RunDir { dir: s };
            if let Some(f) = run.read_failure()? {
                failed.push(f);
            } else if let Some(state) = run.read_state()? {
                rows.extend(run.read_rows(state.completed_step)?);
            }
        }
    }
    Ok((rows, failed))
}

fn finish(
    dir: &Path,
    sweep: SweepConfig,
    cells: &[Cell],
    (rows, failed): &Outcome,
    options: AnalysisOptions,
    json: bool,
) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    let ids: Vec<String> = cells
        .iter()
        .map(|c| c.config.id())
        .filter(|id| seen.insert(id.clone()))
        .collect();
    let manifest = Manifest {
        sweep,
        experiments: ids,
        options,
    };
    let text = serde_json::to_string_pretty(&manifest)?;
    shears_experiment::store::write(&dir.join("compare.json"), text.as_bytes())?;
    render(dir, &manifest, rows, failed, json)?;
    if !failed.is_empty() {
        bail!(
            "{} run(s) failed and are left out of the report (listed under \"Failed runs\" in {}); the other runs are complete",
            failed.len(),
            dir.join("report.md").display()
        );
    }
    Ok(())
}

fn render(
    dir: &Path,
    manifest: &Manifest,
    rows: &[StepRow],
    failed: &[FailedRun],
    json: bool,
) -> Result<()> {
    let mut summary = analyze(rows, &manifest.options);
    summary.failed = failed.to_vec();
    let config = serde_json::to_value(&manifest.sweep)?;
    write_report(dir, rows, &summary, &config)?;
    if json {
        let text = std::fs::read_to_string(dir.join("summary.json"))?;
        let v: serde_json::Value = serde_json::from_str(&text)?;
        return print_json(&v);
    }
    let md = std::fs::read_to_string(dir.join("report.md"))?;
    // The tables and statements of the report; figures and configuration are in the files.
    for line in md.lines().take_while(|l| !l.starts_with("## Figures")) {
        println!("{line}");
    }
    println!("\nreport: {}", dir.join("report.md").display());
    Ok(())
}

pub fn compare(a: CompareArgs) -> Result<()> {
    let sweep = match &a.config {
        Some(p) => load_sweep(p)?,
        None => default_sweep(&a)?,
    };
    let cells = sweep.cells()?;
    let devices = a.device.devices()?;
    let store = a.out.join("runs");
    let started = Instant::now();
    if !a.json {
        eprintln!(
            "comparing {} regimes x {} targets x {} seeds ({} experiments, about {} fine-tuning epochs) -> {}",
            sweep.regimes.len(),
            sweep.targets.len(),
            sweep.seeds.len(),
            cells.len(),
            cells.iter().map(estimate_epochs).sum::<usize>(),
            a.out.display()
        );
    }
    let outcome = run_cells(&cells, &store, a.jobs, a.retry_failed, &devices, a.json)?;
    let options = AnalysisOptions {
        recommend_target: a.recommend,
        epoch_budget: None,
        ..AnalysisOptions::default()
    };
    finish(&a.out, sweep, &cells, &outcome, options, a.json)?;
    if !a.json {
        eprintln!("finished in {:.0} s", started.elapsed().as_secs_f64());
    }
    Ok(())
}

pub fn sweep(a: SweepArgs) -> Result<()> {
    let sweep = load_sweep(&a.config)?;
    let cells = sweep.cells()?;
    if a.dry_run {
        let mut total = 0;
        for c in &cells {
            let e = estimate_epochs(c);
            total += e;
            let axes: Vec<String> = c.axes.iter().map(|(k, v)| format!("{k}={v}")).collect();
            println!(
                "{}  {:<10} target {:<6} {} seeds  ~{e} epochs  {}",
                c.config.id(),
                c.regime,
                c.target,
                c.config.seeds.len(),
                axes.join(" ")
            );
        }
        println!(
            "{} experiments, estimated {total} fine-tuning epochs",
            cells.len()
        );
        return Ok(());
    }
    let devices = a.device.devices()?;
    let outcome = run_cells(
        &cells,
        &a.out.join("runs"),
        a.jobs,
        a.retry_failed,
        &devices,
        a.json,
    )?;
    finish(
        &a.out,
        sweep,
        &cells,
        &outcome,
        AnalysisOptions::default(),
        a.json,
    )
}

pub fn report(a: ReportArgs) -> Result<()> {
    let path = a.dir.join("compare.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("{}: not a compare/sweep output directory", path.display()))?;
    let manifest: Manifest = serde_json::from_str(&text)
        .with_context(|| format!("{}: unreadable manifest", path.display()))?;
    let (rows, failed) = store_rows(&a.dir.join("runs"), &manifest.experiments)?;
    render(&a.dir, &manifest, &rows, &failed, false)
}
