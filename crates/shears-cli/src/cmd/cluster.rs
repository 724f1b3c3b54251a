//! A grid on a Slurm cluster: `sweep --launcher slurm` (submit) and `sweep --status` (where
//! each run stands); what each job runs is `sweep-task` (sweep_task.rs).

use super::common::{plural, print_json, target_pct};
use super::sweep::SweepArgs;
use anyhow::{Context, Result, bail};
use clap::Args;
use shears_experiment::cluster::slurm::SlurmOptions;
use shears_experiment::cluster::{GridStatus, Launch, RunStatus, TaskKind, grid_status, launch};
use shears_experiment::sweep::{Cell, Manifest, SweepConfig};
use shears_report::AnalysisOptions;
use std::path::Path;

/// `sbatch` options of `sweep --launcher slurm`.
#[derive(Args, Debug)]
pub struct SlurmArgs {
    #[arg(long, help_heading = "Slurm")]
    pub partition: Option<String>,
    /// Time limit of each task (HH:MM:SS); a task stopped by it resumes when resubmitted.
    #[arg(long, help_heading = "Slurm")]
    pub time: Option<String>,
    /// CPUs of each task, which is also its thread count (results depend on it).
    #[arg(long, default_value_t = 1, help_heading = "Slurm")]
    pub cpus_per_task: usize,
    #[arg(long, help_heading = "Slurm")]
    pub gpus_per_task: Option<usize>,
    #[arg(long, help_heading = "Slurm")]
    pub mem: Option<String>,
    /// Most tasks of one job array running at once.
    #[arg(long, help_heading = "Slurm")]
    pub array_limit: Option<usize>,
    /// Any further sbatch option, repeatable (`--sbatch-arg=--account=lab`).
    #[arg(long = "sbatch-arg", value_name = "ARG", help_heading = "Slurm")]
    pub sbatch_args: Vec<String>,
}

/// Records the grid in `a.out` and submits what is left of it (or prints the scripts).
pub fn submit(
    sweep: SweepConfig,
    cells: &[Cell],
    options: AnalysisOptions,
    a: &SweepArgs,
) -> Result<()> {
    if a.slurm.cpus_per_task == 0 {
        bail!("--cpus-per-task: must be at least 1");
    }
    let mut task_args = Vec::new();
    if a.device.device != "cpu" {
        task_args = vec!["--device".to_string(), a.device.device.clone()];
    }
    let slurm = SlurmOptions {
        partition: a.slurm.partition.clone(),
        time: a.slurm.time.clone(),
        cpus_per_task: a.slurm.cpus_per_task,
        gpus_per_task: a.slurm.gpus_per_task,
        mem: a.slurm.mem.clone(),
        array_limit: a.slurm.array_limit,
        sbatch_args: a.slurm.sbatch_args.clone(),
        exe: std::env::current_exe().context("the path of this shears binary")?,
        task_args,
    };
    let manifest = Manifest::new(sweep, cells, options);
    let l = launch(&a.out, &manifest, &slurm, a.retry_failed, a.dry_run)?;
    if a.dry_run {
        for job in &l.jobs {
            let after = job
                .after
                .map(|k| format!(" (sbatch --dependency=afterany:<{} job>)", k.name()))
                .unwrap_or_default();
            println!("# --- {}.sbatch{after} ---", job.kind.name());
            print!("{}", job.script);
        }
    }
    print_launch(&l);
    Ok(())
}

fn print_launch(l: &Launch) {
    let count = |f: fn(&RunStatus) -> bool| l.states.iter().filter(|s| f(s)).count();
    let done = count(|s| *s == RunStatus::Done);
    let failed = count(|s| matches!(s, RunStatus::Failed(_)));
    let busy = count(|s| matches!(s, RunStatus::Running | RunStatus::Queued));
    let left = l.selection.runs.len();
    println!(
        "{}: {done} done, {busy} running or queued, {failed} failed{}, {left} to run",
        plural(l.plan.runs.len(), "run"),
        if failed > 0 && l.selection.retried.is_empty() {
            " (--retry-failed runs them again)"
        } else {
            ""
        }
    );
    let Some(sub) = &l.submission else {
        if l.jobs.is_empty() {
            println!(
                "nothing to submit; the report: shears report {}",
                l.dir.display()
            );
        }
        return;
    };
    if let Some(id) = &sub.dense_job {
        println!(
            "dense models: job {id} ({})",
            plural(sub.dense.len(), "task")
        );
    }
    if let Some(id) = &sub.prune_job {
        println!(
            "pruning runs: job {id} ({})",
            plural(sub.runs.len(), "task")
        );
    }
    if let Some(id) = &sub.report_job {
        println!(
            "report: job {id}, writes {} when the runs end",
            l.dir.join("report.md").display()
        );
    }
    println!("progress: shears sweep --status {}", l.dir.display());
}

/// Prints each run of the grid in `dir` with its state, then the counts (`json`: one object
/// with the runs, the counts and the queue's state).
pub fn print_status(dir: &Path, json: bool) -> Result<()> {
    let GridStatus {
        plan,
        states,
        queue,
    } = grid_status(dir)?;
    let mut counts = std::collections::BTreeMap::new();
    for s in &states {
        *counts.entry(s.kind()).or_insert(0usize) += 1;
    }
    let queue_text = match &queue {
        Ok(None) => "no squeue here: states from the store only".to_string(),
        Err(e) => format!("the queue could not be read: {e}; states from the store only"),
        Ok(Some(q)) if q.tasks.contains_key(&(TaskKind::Report, 0)) => {
            "report job: in the queue".to_string()
        }
        Ok(Some(_)) => String::new(),
    };
    if json {
        let runs: Vec<serde_json::Value> = plan
            .runs
            .iter()
            .zip(&states)
            .enumerate()
            .map(|(i, (t, s))| {
                serde_json::json!({
                    "task": i, "experiment": t.experiment, "regime": t.regime,
                    "target": t.target, "seed": t.seed, "state": s.kind(), "detail": s.label(),
                })
            })
            .collect();
        return print_json(&serde_json::json!({
            "runs": runs, "counts": counts, "queue": queue_text,
        }));
    }
    println!(
        "{:>5} {:<10} {:>6} {:>5}  state",
        "task", "regime", "target", "seed"
    );
    for (i, (t, s)) in plan.runs.iter().zip(&states).enumerate() {
        println!(
            "{i:>5} {:<10} {:>6} {:>5}  {}",
            t.regime,
            target_pct(t.target),
            t.seed,
            s.label()
        );
    }
    let summary: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    println!("{}: {}", plural(plan.runs.len(), "run"), summary.join(", "));
    if !queue_text.is_empty() {
        println!("({queue_text})");
    }
    Ok(())
}
