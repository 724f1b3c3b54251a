//! A grid of experiments on the terminal: a progress bar and a line per finished run while
//! it runs, then its report. The glue between shears-experiment (runs, manifest) and
//! shears-report (analysis, report files), which do not know each other.

use crate::cmd::common::{pct, plural, print_json, skipped, target_pct};
use crate::progress;
use anyhow::{Result, bail};
use shears_core::results::StepRow;
use shears_core::stats::Spending;
use shears_experiment::Event;
use shears_experiment::store::RunDir;
use shears_experiment::sweep::{
    AUTO_START, Cell, GridEvent, GridOptions, Manifest, Outcome, SweepConfig, run_cells,
};
use shears_nn::train::Devices;
use shears_report::{AnalysisOptions, Measure, SequentialOptions, analyze, write_report};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// Runs the cells of `sweep` into the store `dir/runs`, records the grid in
/// `dir/compare.json`, writes the report and prints it (`json`: `summary.json` instead of the
/// tables and no per-run lines). With `seeds = "auto"` the grid grows: after each round the
/// targets still unresolved get one more seed, until none is open or each has the maximum
/// (the report then judges every pair at its look of the group-sequential design). Runs that
/// failed on their own are listed in the report and make the result an error once it is
/// written.
/// What the grid's results are judged by: test perplexity when its data is a text corpus
/// (language models), test top-1 otherwise.
pub fn measure(cells: &[Cell]) -> Measure {
    if cells.iter().any(|c| c.config.data.dataset.is_text()) {
        Measure::Perplexity
    } else {
        Measure::Top1
    }
}

pub fn run_and_report(
    mut sweep: SweepConfig,
    dir: &Path,
    grid: &GridOptions,
    devices: &Devices,
    mut options: AnalysisOptions,
    json: bool,
) -> Result<()> {
    let mut cells = sweep.cells()?;
    complete_options(&mut options, &sweep, &cells);
    let outcome = loop {
        let outcome = run(&cells, &dir.join("runs"), grid, devices, json)?;
        if !add_seeds(&mut sweep, &outcome, &options, json) {
            break outcome;
        }
        cells = sweep.cells()?;
    };
    let manifest = Manifest::new(sweep, &cells, options);
    manifest.write(dir)?;
    render(dir, &manifest, &outcome, json)?;
    let failed = outcome.failed.len();
    if failed > 0 {
        bail!(
            "{} failed and {} left out of the report (listed under \"Failed runs\" in {}); the other runs are complete",
            plural(failed, "run"),
            if failed == 1 { "is" } else { "are" },
            dir.join("report.md").display()
        );
    }
    Ok(())
}

/// The analysis options a grid implies: structured regimes are compared at equal size only if
/// their sizes are reported; `seeds = "auto"` is judged at its looks.
pub fn complete_options(options: &mut AnalysisOptions, sweep: &SweepConfig, cells: &[Cell]) {
    if let Some(m) = cells.iter().find_map(|c| c.config.target_measure()) {
        options.size_measure = Some(m.name().to_string());
    }
    if let Some(max) = sweep.auto_max() {
        options.sequential = Some(SequentialOptions {
            start: AUTO_START,
            max,
            spending: Spending::default(),
        });
    }
}

/// Under `seeds = "auto"`: one more seed for every target whose answer the rows leave open
/// (below the maximum); false when nothing was added (always, for a list of seeds).
fn add_seeds(
    sweep: &mut SweepConfig,
    outcome: &Outcome,
    options: &AnalysisOptions,
    quiet: bool,
) -> bool {
    if sweep.auto_max().is_none() {
        return false;
    }
    let open = analyze(&outcome.rows, options).open_targets();
    let added: Vec<f64> = open.into_iter().filter(|&t| sweep.add_seed(t)).collect();
    if !added.is_empty() && !quiet {
        let list: Vec<String> = added
            .iter()
            .map(|&t| {
                format!(
                    "{} ({})",
                    target_pct(t),
                    plural(sweep.seeds_for(t).len(), "seed")
                )
            })
            .collect();
        eprintln!(
            "seeds auto: not resolved yet, one more seed at {}",
            list.join(", ")
        );
    }
    !added.is_empty()
}

/// Regenerates the report of a compare/sweep directory from its manifest and stored runs
/// (every run verified). Runs the grid declares but the store lacks make it an error unless
/// `allow_missing`; then they are warned about on stderr, at the top of the report and in
/// `summary.json`'s warnings. Returns the runs it was made from.
pub fn report(dir: &Path, allow_missing: bool) -> Result<Outcome> {
    let manifest = Manifest::<AnalysisOptions>::read(dir)?;
    let outcome = manifest.results(dir, &dir.join("runs"))?;
    if !outcome.missing.is_empty() && !allow_missing {
        bail!(
            "{}: {} of the grid's runs {} no finished result in the store, so a report would \
             rest on fewer seeds than declared: {}; rerun the command that made it (shears \
             compare or sweep) to compute them, or pass --allow-missing to report without them",
            dir.display(),
            plural(outcome.missing.len(), "run"),
            if outcome.missing.len() == 1 {
                "has"
            } else {
                "have"
            },
            outcome.missing.join("; ")
        );
    }
    render(dir, &manifest, &outcome, false)?;
    Ok(outcome)
}

/// Runs the cells with a progress bar and, unless `quiet`, a line per finished or failed run.
fn run(
    cells: &[Cell],
    store: &Path,
    grid: &GridOptions,
    devices: &Devices,
    quiet: bool,
) -> Result<Outcome> {
    let pb = progress::bar(0, "sweep");
    let started = Instant::now();
    let m = measure(cells);
    if !quiet {
        pb.suspend(|| {
            println!(
                "{:<10} {:>6} {:>5} {:>9} {:>9} {:>7} {:>8}",
                "regime",
                "target",
                "seed",
                "sparsity",
                format!("test_{}", m.column()),
                "epochs",
                "elapsed"
            )
        });
    }
    let on_event = |e: GridEvent<'_>| match e {
        GridEvent::Started { steps } => pb.set_length(steps),
        GridEvent::Progress(n) => pb.inc(n),
        GridEvent::Finished { cell, row } if !quiet => pb.suspend(|| {
            println!(
                "{:<10} {:>6} {:>5} {:>9} {:>9} {:>7} {:>7.0}s",
                cell.regime,
                target_pct(cell.target),
                row.seed,
                pct(row.sparsity, 2),
                m.fmt(m.test(row)),
                row.cum_epochs,
                started.elapsed().as_secs_f64()
            )
        }),
        GridEvent::Failed {
            cell,
            seed,
            reason,
            stored,
        } if !quiet => {
            let stored = if stored {
                " (stored; --retry-failed reruns it)"
            } else {
                ""
            };
            pb.suspend(|| {
                println!(
                    "{:<10} {:>6} {:>5} FAILED{stored}: {reason}",
                    cell.regime,
                    target_pct(cell.target),
                    seed
                )
            })
        }
        GridEvent::Run { event, .. } => match event {
            Event::DenseTraining { seed, epochs } if !quiet => pb.suspend(|| {
                eprintln!(
                    "seed {seed}: training the dense model ({})",
                    plural(*epochs, "epoch")
                )
            }),
            Event::DenseDamaged { seed, path, reason } => pb.suspend(|| {
                eprintln!(
                    "seed {seed}: warning: dense model {} is not trusted: {reason}; training \
                     it again",
                    path.display()
                )
            }),
            Event::Recomputing { detail } => pb.suspend(|| eprintln!("warning: {detail}")),
            Event::ImagesSkipped { files } => pb.suspend(|| eprintln!("{}", skipped(files))),
            _ => {}
        },
        _ => {}
    };
    let outcome = run_cells(cells, store, grid, devices, &on_event)?;
    pb.finish_and_clear();
    Ok(outcome)
}

/// Writes the report files and prints the report's tables (or `summary.json`).
fn render(
    dir: &Path,
    manifest: &Manifest<AnalysisOptions>,
    outcome: &Outcome,
    json: bool,
) -> Result<()> {
    let mut summary = analyze(&outcome.rows, &manifest.options);
    summary.failed = outcome.failed.clone();
    if !outcome.missing.is_empty() {
        let text = format!(
            "INCOMPLETE: {} declared by the experiments {} missing from the store and left out \
             of every statistic (fewer seeds than declared): {}",
            plural(outcome.missing.len(), "run"),
            if outcome.missing.len() == 1 {
                "is"
            } else {
                "are"
            },
            outcome.missing.join("; ")
        );
        eprintln!("warning: {text}");
        summary.warnings.insert(0, text.clone());
        summary.incomplete = Some(text);
    }
    for run in &outcome.unverified {
        let text = format!("{run}: from an older store, unverified (no checksums recorded)");
        eprintln!("warning: {text}");
        summary.warnings.push(text);
    }
    let config = serde_json::to_value(&manifest.sweep)?;
    write_report(dir, &outcome.rows, &summary, &config)?;
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
    print_pruned_models(dir, &outcome.rows);
    Ok(())
}

/// Where the pruned models are: each experiment's final checkpoint for its first seed (the
/// others sit beside it), ready for `shears export --checkpoint`.
fn print_pruned_models(dir: &Path, rows: &[StepRow]) {
    let mut last: BTreeMap<(u64, &str, &str), (u64, usize)> = BTreeMap::new();
    for r in rows {
        let key = (r.target.to_bits(), r.regime.as_str(), r.experiment.as_str());
        let e = last.entry(key).or_insert((r.seed, r.step));
        if (r.seed, std::cmp::Reverse(r.step)) < (e.0, std::cmp::Reverse(e.1)) {
            *e = (r.seed, r.step);
        }
    }
    if last.is_empty() {
        return;
    }
    println!("pruned models (first seed; `shears export --checkpoint PATH --out model.onnx`):");
    for ((target, regime, experiment), (seed, step)) in last {
        let run = RunDir::new(&dir.join("runs").join(experiment), seed);
        println!(
            "  {} {regime}: {}",
            target_pct(f64::from_bits(target)),
            run.checkpoint(step).display()
        );
    }
}
