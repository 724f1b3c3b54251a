//! A [`Plan`](super::Plan) as Slurm jobs: a job array of dense tasks, a job array of pruning
//! tasks after it, and a report job after that, each task an ordinary `shears sweep-task`
//! against the shared store (docs/cluster.md).

use super::{ClusterError, Queue, QueueState, Selection, TaskKind};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// How the jobs are submitted (`sbatch` options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlurmOptions {
    pub partition: Option<String>,
    /// `HH:MM:SS` (or any form `--time` takes).
    pub time: Option<String>,
    /// CPUs of each task; also its thread count (`RAYON_NUM_THREADS`).
    pub cpus_per_task: usize,
    pub gpus_per_task: Option<usize>,
    pub mem: Option<String>,
    /// Most tasks of one array running at once (`--array=...%K`).
    pub array_limit: Option<usize>,
    /// Further `#SBATCH` lines, as given (`--account=lab`, `--qos=low`).
    pub sbatch_args: Vec<String>,
    /// The shears binary the tasks run (on a path every node sees).
    pub exe: PathBuf,
    /// Options passed on to every `sweep-task` (`--device cuda`).
    pub task_args: Vec<String>,
}

/// One job to submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub kind: TaskKind,
    /// The batch script.
    pub script: String,
    /// Runs after the job of this kind in the same submission ends, whatever its state.
    pub after: Option<TaskKind>,
}

/// A submission as recorded in `DIR/cluster/submissions.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    pub dense_job: Option<String>,
    pub prune_job: Option<String>,
    pub report_job: Option<String>,
    /// Indices of the runs and dense models submitted.
    pub runs: Vec<usize>,
    pub dense: Vec<usize>,
}

/// `0-3,5,7-9`: the array indices of `indices` (sorted, distinct).
pub fn array_spec(indices: &[usize]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < indices.len() {
        let mut j = i;
        while j + 1 < indices.len() && indices[j + 1] == indices[j] + 1 {
            j += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        match j - i {
            0 => write!(out, "{}", indices[i]),
            _ => write!(out, "{}-{}", indices[i], indices[j]),
        }
        .expect("a string takes writes");
        i = j + 1;
    }
    out
}

/// A word for a POSIX shell, single-quoted.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The job name of `kind` for the report directory `dir`: unique per directory, so the queue
/// can be read for one grid by name.
pub fn job_name(dir: &Path, kind: TaskKind) -> String {
    let tag = crate::store::sha256_hex(dir.to_string_lossy().as_bytes());
    format!("shears-{}-{}", kind.name(), &tag[..10])
}

/// The jobs that run `selection` of the grid in `dir` (an absolute path every node sees).
pub fn jobs(dir: &Path, selection: &Selection, o: &SlurmOptions) -> Vec<Job> {
    let mut jobs = Vec::new();
    let array = |indices: &[usize]| {
        let limit = o.array_limit.map(|k| format!("%{k}")).unwrap_or_default();
        format!("{}{limit}", array_spec(indices))
    };
    if !selection.dense.is_empty() {
        jobs.push(Job {
            kind: TaskKind::Dense,
            script: script(dir, TaskKind::Dense, Some(&array(&selection.dense)), o),
            after: None,
        });
    }
    if !selection.runs.is_empty() {
        jobs.push(Job {
            kind: TaskKind::Run,
            script: script(dir, TaskKind::Run, Some(&array(&selection.runs)), o),
            after: (!selection.dense.is_empty()).then_some(TaskKind::Dense),
        });
        jobs.push(Job {
            kind: TaskKind::Report,
            script: script(dir, TaskKind::Report, None, o),
            after: Some(TaskKind::Run),
        });
    }
    jobs
}

fn script(dir: &Path, kind: TaskKind, array: Option<&str>, o: &SlurmOptions) -> String {
    let logs = dir.join("cluster").join("logs");
    let mut s = String::from("#!/bin/bash\n");
    let mut line = |l: String| writeln!(s, "#SBATCH {l}").expect("a string takes writes");
    line(format!("--job-name={}", job_name(dir, kind)));
    let log = match array {
        Some(a) => {
            line(format!("--array={a}"));
            format!("{}-%A_%a.out", kind.name())
        }
        None => format!("{}-%j.out", kind.name()),
    };
    line(format!("--output={}", logs.join(log).display()));
    // The report is a light single-threaded job; the tasks get what was asked for.
    let report = kind == TaskKind::Report;
    line(format!(
        "--cpus-per-task={}",
        if report { 1 } else { o.cpus_per_task }
    ));
    if let Some(p) = &o.partition {
        line(format!("--partition={p}"));
    }
    if let Some(t) = &o.time {
        line(format!("--time={t}"));
    }
    if let (Some(g), false) = (o.gpus_per_task, report) {
        line(format!("--gpus-per-task={g}"));
    }
    if let Some(m) = &o.mem {
        line(format!("--mem={m}"));
    }
    for a in &o.sbatch_args {
        line(a.clone());
    }
    let mut cmd = vec![
        quote(&o.exe.to_string_lossy()),
        "sweep-task".into(),
        quote(&dir.to_string_lossy()),
        kind.name().into(),
    ];
    if array.is_some() {
        cmd.push("\"$SLURM_ARRAY_TASK_ID\"".into());
    }
    if !report {
        cmd.extend(o.task_args.iter().map(|a| quote(a)));
    }
    s += "# Results depend on the thread count (docs/determinism.md): one per CPU of the task.\n";
    s += "export RAYON_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"\n";
    s += &format!("exec {}\n", cmd.join(" "));
    s
}

/// Submits `jobs` with `sbatch` (each after the one it depends on, `afterany`: a failed
/// task's dependants still run, and the report lists it as failed), writing each script to
/// `dir/cluster/<kind>.sbatch` and the submission to `dir/cluster/submissions.jsonl`.
pub fn submit(dir: &Path, jobs: &[Job], selection: &Selection) -> Result<Submission, ClusterError> {
    let cluster = dir.join("cluster");
    std::fs::create_dir_all(cluster.join("logs")).map_err(|e| super::io_error(&cluster, e))?;
    let mut sub = Submission {
        dense_job: None,
        prune_job: None,
        report_job: None,
        runs: selection.runs.clone(),
        dense: selection.dense.clone(),
    };
    let mut failed = None;
    for job in jobs {
        let after = job.after.and_then(|k| match k {
            TaskKind::Dense => sub.dense_job.clone(),
            TaskKind::Run => sub.prune_job.clone(),
            TaskKind::Report => sub.report_job.clone(),
        });
        let id = match sbatch(&cluster, job, after.as_deref()) {
            Ok(id) => id,
            Err(e) => {
                failed = Some(e);
                break;
            }
        };
        match job.kind {
            TaskKind::Dense => sub.dense_job = Some(id),
            TaskKind::Run => sub.prune_job = Some(id),
            TaskKind::Report => sub.report_job = Some(id),
        }
    }
    // What went in is recorded even when a later sbatch failed: those jobs run, and the
    // queue keeps the next submission from doubling them.
    let submitted = [&sub.dense_job, &sub.prune_job, &sub.report_job]
        .iter()
        .any(|j| j.is_some());
    if submitted {
        let log = cluster.join("submissions.jsonl");
        let mut text = std::fs::read_to_string(&log).unwrap_or_default();
        text += &serde_json::to_string(&sub).expect("a submission serialises");
        text.push('\n');
        crate::store::write(&log, text.as_bytes())?;
    }
    match failed {
        None => Ok(sub),
        Some(e) if submitted => Err(ClusterError::Scheduler(format!(
            "{e}; the jobs submitted before it ({}) stay queued; the same command submits the rest",
            [&sub.dense_job, &sub.prune_job, &sub.report_job]
                .iter()
                .filter_map(|j| j.as_deref())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        Some(e) => Err(e),
    }
}

/// Writes `job`'s script to `cluster/<kind>.sbatch` and submits it (after job `after`, if
/// any); its job id.
fn sbatch(cluster: &Path, job: &Job, after: Option<&str>) -> Result<String, ClusterError> {
    let path = cluster.join(format!("{}.sbatch", job.kind.name()));
    crate::store::write(&path, job.script.as_bytes())?;
    let mut c = Command::new("sbatch");
    c.arg("--parsable");
    if let Some(id) = after {
        c.arg(format!("--dependency=afterany:{id}"));
    }
    let id = run(c.arg(&path), "sbatch")?;
    let id = id.split(';').next().unwrap_or("").trim().to_string();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ClusterError::Scheduler(format!(
            "sbatch {}: expected a job id, got '{id}'",
            path.display()
        )));
    }
    Ok(id)
}

/// The grid's tasks in Slurm's queue (`squeue`, by job name); `None` where `squeue` is not
/// available (a machine outside the cluster).
pub fn queue(dir: &Path) -> Result<Option<Queue>, ClusterError> {
    let names: Vec<String> = [TaskKind::Dense, TaskKind::Run, TaskKind::Report]
        .iter()
        .map(|&k| job_name(dir, k))
        .collect();
    let mut c = Command::new("squeue");
    c.args(["-h", "-r", "-o", "%j|%K|%T", "-n", &names.join(",")]);
    let text = match c.output() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        result => output(result, "squeue")?,
    };
    Ok(Some(parse_queue(&text, &names)))
}

/// Reads `squeue -h -r -o '%j|%K|%T'` lines of the jobs named in `names` (dense, prune,
/// report, in [`TaskKind`] order).
pub fn parse_queue(text: &str, names: &[String]) -> Queue {
    let kinds = [TaskKind::Dense, TaskKind::Run, TaskKind::Report];
    let mut q = Queue::default();
    for line in text.lines() {
        let mut f = line.trim().split('|');
        let (Some(name), Some(task), Some(state)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let Some(kind) = names.iter().position(|n| n == name).map(|i| kinds[i]) else {
            continue;
        };
        let index = task.parse().unwrap_or(0);
        let state = match state {
            "RUNNING" | "COMPLETING" | "CONFIGURING" | "SIGNALING" | "STAGE_OUT" => {
                QueueState::Running
            }
            "PENDING" | "REQUEUED" | "REQUEUE_HOLD" | "REQUEUE_FED" | "RESIZING" | "SUSPENDED" => {
                QueueState::Waiting
            }
            _ => continue,
        };
        q.tasks.insert((kind, index), state);
    }
    q
}

/// Runs a scheduler command; its stdout, or an error with its stderr.
fn run(c: &mut Command, what: &str) -> Result<String, ClusterError> {
    output(c.output(), what)
}

fn output(
    result: std::io::Result<std::process::Output>,
    what: &str,
) -> Result<String, ClusterError> {
    let out = result.map_err(|e| {
        ClusterError::Scheduler(format!(
            "{what}: cannot run it ({e}); is this a Slurm login node?"
        ))
    })?;
    if !out.status.success() {
        return Err(ClusterError::Scheduler(format!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
