//! `shears`: one-shot vs iterative pruning, measured. A thin command layer over the library
//! crates; every subcommand lives in `cmd/`.

mod cmd;
mod grid;
mod progress;

use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "shears",
    version,
    about = "Neural-network pruning toolkit and benchmark: one-shot vs iterative, measured",
    after_help = "Start with `shears compare`: the built-in one-shot vs iterative comparison on the \
                  embedded data (a few minutes), written to results/compare/."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// One-shot vs iterative vs hybrid on your model and targets, over seeds, with a report
    /// (without options: the built-in comparison on the embedded data).
    Compare(cmd::compare::CompareArgs),
    /// Run a grid of experiments from a sweep TOML (skips runs already stored).
    Sweep(cmd::sweep::SweepArgs),
    /// Run one task of a grid sent to a cluster (what `sweep --launcher slurm`'s jobs run).
    SweepTask(cmd::sweep_task::SweepTaskArgs),
    /// Regenerate the report of a compare/sweep directory from its stored results.
    Report(cmd::report::ReportArgs),
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
    /// Read PyTorch-layout weights (.safetensors, .pt, .pth) into a shears checkpoint.
    Import(cmd::interop::ImportArgs),
    /// Write a checkpoint as PyTorch-layout safetensors (loadable with `load_state_dict`).
    Export(cmd::interop::ExportArgs),
    /// Print per-layer sparsity, parameters and FLOPs of any checkpoint.
    Inspect(cmd::inspect::InspectArgs),
    /// Run a prune -> fine-tune experiment from a TOML config (resumable; prints its directory last).
    Prune(cmd::prune::PruneArgs),
    /// List or show the experiments of a results store.
    #[command(subcommand)]
    Runs(cmd::runs::RunsCommand),
}

fn main() -> ExitCode {
    keep_freed_memory();
    conventional_signals();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version are "errors" to clap; everything goes out bounded.
        Err(e) => {
            let text = bounded(&e.render().to_string());
            if e.use_stderr() {
                eprint!("{text}");
            } else {
                print!("{text}");
            }
            return ExitCode::from(e.exit_code() as u8);
        }
    };
    // No subcommand: help, not a multi-minute comparison started by accident.
    let Some(command) = cli.command else {
        println!("{}", Cli::command().render_help());
        return ExitCode::SUCCESS;
    };
    // Long, resumable commands stop at a safe point on Ctrl-C/SIGTERM; the rest keep the
    // default (immediate) behaviour, having nothing to lose.
    let resumable = matches!(
        command,
        Command::Compare(_) | Command::Sweep(_) | Command::SweepTask(_) | Command::Prune(_)
    );
    // `train` also stops cleanly, but it writes its checkpoint only at the end: nothing to resume.
    let restartable = matches!(command, Command::Train(_));
    if resumable || restartable {
        install_stop_handler();
    }
    let result = match command {
        Command::Compare(a) => cmd::compare::run(a),
        Command::Sweep(a) => cmd::sweep::run(a),
        Command::SweepTask(a) => cmd::sweep_task::run(a),
        Command::Report(a) => cmd::report::run(a),
        Command::Bench(a) => cmd::bench::run(a),
        Command::Train(a) => cmd::train::run(a),
        Command::Eval(a) => cmd::eval::run(a),
        Command::Schedule(a) => cmd::schedule::run(a),
        Command::PruneOnce(a) => cmd::prune_once::run(a),
        Command::Inspect(a) => cmd::inspect::run(a),
        Command::Import(a) => cmd::interop::import(a),
        Command::Export(a) => cmd::interop::export(a),
        Command::Prune(a) => cmd::prune::run(a),
        Command::Runs(c) => cmd::runs::run(c),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if (resumable || restartable) && is_interrupted(&e) => {
            let args: Vec<String> = std::env::args().collect();
            if resumable {
                eprintln!(
                    "interrupted: every finished step is kept; run the same command again to resume:\n  {}",
                    args.join(" ")
                );
            } else {
                eprintln!(
                    "interrupted: `shears train` writes its checkpoint only when training ends, so \
                     nothing was written; run the same command again to train from the start:\n  {}",
                    args.join(" ")
                );
            }
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("error: {}", bounded(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}

/// Longest line of an error message printed whole; longer ones (an echoed seeds list of
/// megabytes) keep their start and end.
const MAX_LINE: usize = 1000;
/// Most lines of an error message printed.
const MAX_LINES: usize = 60;

/// `message` with every over-long line cut in the middle and at most [`MAX_LINES`] lines, so
/// an error never echoes unbounded input back.
fn bounded(message: &str) -> String {
    let lines: Vec<&str> = message.split_inclusive('\n').collect();
    let mut out = String::new();
    for line in lines.iter().take(MAX_LINES) {
        let chars = line.chars().count();
        if chars <= MAX_LINE {
            out.push_str(line);
            continue;
        }
        let head: String = line.chars().take(MAX_LINE * 3 / 4).collect();
        let tail: String = line.chars().skip(chars - MAX_LINE / 4).collect();
        let cut = chars - MAX_LINE;
        out.push_str(&format!("{head} …[{cut} characters left out]… {tail}"));
    }
    if lines.len() > MAX_LINES {
        out.push_str(&format!(
            "…[{} more lines left out]\n",
            lines.len() - MAX_LINES
        ));
    }
    out
}

/// A closed pipe ends the process the conventional way (`shears runs show … | head`), not
/// with a panic inside `println!`: every store write is atomic, so nothing is left half
/// written. Over a file-size limit (`ulimit -f`) a write fails with EFBIG, reported as out of
/// disk space with its temp file removed, instead of the process dying silently (SIGXFSZ).
fn conventional_signals() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to a default/ignore constant, before any thread.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// First signal: ask training to stop at the next batch (work since the last committed step
/// is redone on resume). Second signal: exit now; the store is still consistent, since every
/// file in it is replaced atomically.
fn install_stop_handler() {
    let result = ctrlc::set_handler(|| {
        if shears_nn::interrupt::requested() {
            std::process::exit(130);
        }
        shears_nn::interrupt::request();
        eprintln!("\nstopping at the next safe point (press Ctrl-C again to stop at once)");
    });
    if let Err(e) = result {
        eprintln!("warning: cannot handle Ctrl-C/SIGTERM ({e}); an interrupted run still resumes");
    }
}

fn is_interrupted(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<shears_nn::train::TrainError>()
            .is_some_and(|t| matches!(t, shears_nn::train::TrainError::Interrupted))
            || c.downcast_ref::<shears_experiment::RunError>()
                .is_some_and(|r| r.is_interrupted())
    })
}

/// Training frees and reallocates the same multi-megabyte buffers every step. glibc's default
/// returns blocks above 128 KiB-32 MiB to the kernel and faults them back in, which measured
/// as up to 40% of a convolution's time; keeping them (up to 1 GiB of slack) removes that.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator thresholds; called before any other thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

#[cfg(test)]
mod tests {
    use super::bounded;

    #[test]
    fn long_lines_and_many_lines_are_cut() {
        let huge = format!("seeds: [{}] repeats a seed\n", "7, ".repeat(1_000_000));
        let out = bounded(&huge);
        assert!(out.len() < 2 * super::MAX_LINE * 4, "{}", out.len());
        assert!(out.starts_with("seeds: [7, 7,") && out.ends_with("] repeats a seed\n"));
        assert!(out.contains("characters left out"));
        let many = "x\n".repeat(10_000);
        let out = bounded(&many);
        assert_eq!(out.lines().count(), super::MAX_LINES + 1);
        assert!(out.ends_with("[9940 more lines left out]\n"), "{out}");
        assert_eq!(bounded("short\n"), "short\n");
    }
}
