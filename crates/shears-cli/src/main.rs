//! `shears`: one-shot vs iterative pruning, measured. A thin command layer over the library
//! crates; every subcommand lives in `cmd/`.

mod cmd;
mod progress;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "shears",
    version,
    about = "Neural-network pruning toolkit and benchmark: one-shot vs iterative, measured"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// One-shot vs iterative vs hybrid on your model and targets, over seeds, with a report
    /// (the default runs the built-in comparison on the embedded data).
    Compare(cmd::compare::CompareArgs),
    /// Run a grid of experiments from a sweep TOML (skips runs already stored).
    Sweep(cmd::compare::SweepArgs),
    /// Regenerate the report of a compare/sweep directory from its stored results.
    Report(cmd::compare::ReportArgs),
    /// Benchmark training/inference throughput and the cost of a pruning step.
    Bench(cmd::bench::BenchArgs),
    /// Train a dense model and save a checkpoint.
    Train(cmd::train::TrainArgs),
    /// Evaluate a checkpoint on a dataset's test split.
    Eval(cmd::eval::EvalArgs),
    /// Print a pruning schedule: per-step fractions and cumulative sparsity.
    Schedule(cmd::schedule::ScheduleArgs),
    /// Prune a checkpoint once (no fine-tuning) and print per-layer sparsity, parameters, FLOPs.
    PruneOnce(cmd::prune_once::PruneOnceArgs),
    /// Print per-layer sparsity, parameters and FLOPs of any checkpoint.
    Inspect(cmd::prune_once::InspectArgs),
    /// Run a prune -> fine-tune experiment from a TOML config (resumable; prints its directory last).
    Prune(cmd::prune::PruneArgs),
    /// Inspect the results store.
    #[command(subcommand)]
    Runs(cmd::prune::RunsCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // No subcommand: the main job, the built-in one-shot vs iterative comparison.
    let command =
        cli.command
            .unwrap_or_else(|| match Cli::parse_from(["shears", "compare"]).command {
                Some(c) => c,
                None => unreachable!("parsed a subcommand"),
            });
    let result = match command {
        Command::Compare(a) => cmd::compare::compare(a),
        Command::Sweep(a) => cmd::compare::sweep(a),
        Command::Report(a) => cmd::compare::report(a),
        Command::Bench(a) => cmd::bench::run(a),
        Command::Train(a) => cmd::train::run(a),
        Command::Eval(a) => cmd::eval::run(a),
        Command::Schedule(a) => cmd::schedule::run(a),
        Command::PruneOnce(a) => cmd::prune_once::run(a),
        Command::Inspect(a) => cmd::prune_once::inspect(a),
        Command::Prune(a) => cmd::prune::run(a),
        Command::Runs(c) => cmd::prune::runs(c),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
