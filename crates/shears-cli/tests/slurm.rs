//! `shears sweep --launcher slurm` against a real single-node Slurm cluster, started (and
//! stopped) by scripts/slurm-test-cluster.sh: every run finishes, the report is the local
//! launcher's, a cancelled task resumes to identical rows when the same command is run again,
//! and a diverging run is reported as failed by the report job.
//!
//! Without Slurm installed the test says so and passes, unless SHEARS_REQUIRE_SLURM is set
//! (as `.ci/run` does, after installing the packages): then a missing cluster is a failure.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../scripts/slurm-test-cluster.sh"
);

/// A running test cluster; stopped, with every job cancelled, when dropped.
struct Cluster {
    state: PathBuf,
    conf: String,
}

impl Cluster {
    fn start() -> Option<Self> {
        let installed = Command::new("sh")
            .args(["-c", "command -v slurmctld && command -v munged"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !installed {
            assert!(
                std::env::var_os("SHEARS_REQUIRE_SLURM").is_none(),
                "SHEARS_REQUIRE_SLURM is set but slurmctld/munged are not installed"
            );
            eprintln!("skipped: Slurm is not installed (apt-get install slurm-wlm munge)");
            return None;
        }
        let state = std::env::temp_dir().join(format!("shears-slurm-{}", std::process::id()));
        let out = Command::new("bash")
            .args([SCRIPT, "start"])
            .arg(&state)
            .output()
            .expect("run the cluster script");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let cluster = Self {
            conf: stdout
                .lines()
                .find_map(|l| l.strip_prefix("SLURM_CONF="))
                .unwrap_or("")
                .to_string(),
            state,
        };
        assert!(
            out.status.success() && !cluster.conf.is_empty(),
            "the test cluster did not start: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(cluster)
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", &self.conf)
            .env("RAYON_NUM_THREADS", "1");
        c
    }

    fn shears(&self, args: &[&str]) -> Output {
        self.command(env!("CARGO_BIN_EXE_shears"))
            .args(args)
            .output()
            .expect("run shears")
    }

    /// Waits until the cluster's queue is empty.
    fn wait_idle(&self, what: &str) {
        let started = Instant::now();
        loop {
            let out = self.command("squeue").args(["-h"]).output().unwrap();
            if out.status.success() && out.stdout.is_empty() {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(600),
                "{what}: jobs still queued after 10 minutes:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.command("scancel").args(["--user", "root"]).output();
        let _ = Command::new("bash")
            .args([SCRIPT, "stop"])
            .arg(&self.state)
            .output();
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every stored step row of `dir`'s store by (experiment, seed, step), wall-clock fields out.
fn rows(dir: &Path) -> BTreeMap<(String, u64, u64), Value> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir.join("runs")).unwrap().flatten() {
        for s in std::fs::read_dir(e.path()).unwrap().flatten() {
            let path = s.path().join("steps.jsonl");
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            for line in text.lines() {
                let mut v: Value = serde_json::from_str(line).unwrap();
                let m = v.as_object_mut().unwrap();
                m.remove("wall_s");
                m.remove("cum_wall_s");
                let key = (
                    m["experiment"].as_str().unwrap().to_string(),
                    m["seed"].as_u64().unwrap(),
                    m["step"].as_u64().unwrap(),
                );
                out.insert(key, v);
            }
        }
    }
    out
}

/// `report.md` with its one wall-clock column ("fine-tuning s") blanked.
fn report(dir: &Path) -> String {
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    let mut wall = None;
    md.lines()
        .map(|l| {
            let mut cells: Vec<&str> = l.split('|').collect();
            if let Some(i) = cells.iter().position(|c| c.trim() == "fine-tuning s") {
                wall = Some(i);
            } else if !l.starts_with('|') {
                wall = None;
            } else if let Some(i) = wall.filter(|&i| i < cells.len() && !l.contains("---")) {
                cells[i] = " s ";
            }
            cells.join("|")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn status(c: &Cluster, dir: &Path) -> String {
    let o = c.shears(&["sweep", "--status", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    text(&o)
}

const SWEEP: &str = r#"
targets = [0.8]
seeds = [0, 1]
[base.model]
kind = "lenet300"
[base.dense]
epochs = 1
[base.finetune]
mode = "epochs"
epochs = 2
[regimes]
one-shot = ["schedule.kind=one-shot"]
geometric = ["schedule.kind=geometric", "schedule.steps=4"]
diverging = ["schedule.kind=one-shot", "finetune.lr=1e30"]
"#;

#[test]
fn a_grid_on_slurm_matches_the_local_run_resumes_after_scancel_and_reports_failures() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let root = cluster.state.join("work");
    std::fs::create_dir_all(&root).unwrap();
    let config = root.join("sweep.toml");
    std::fs::write(&config, SWEEP).unwrap();
    let dir = |name: &str| root.join(name);
    let submit = |out: &Path| {
        cluster.shears(&[
            "sweep",
            "--config",
            config.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--launcher",
            "slurm",
            "--cpus-per-task",
            "1",
        ])
    };

    // 1. The whole grid through the scheduler: 2 dense tasks, 6 runs, the report.
    let o = submit(&dir("slurm"));
    assert!(o.status.success(), "{}", text(&o));
    let said = text(&o);
    assert!(said.contains("dense models: job"), "{said}");
    assert!(said.contains("pruning runs: job"), "{said}");
    assert!(said.contains("(6 tasks)"), "{said}");
    cluster.wait_idle("first submission");
    let st = status(&cluster, &dir("slurm"));
    assert!(st.contains("6 runs: 4 done, 2 failed"), "{st}");

    // The report job wrote the report, listed the diverging runs as failed and said so.
    let md = std::fs::read_to_string(dir("slurm").join("report.md")).unwrap();
    assert!(md.contains("## Failed runs"), "{md}");
    assert!(md.contains("training diverged"), "{md}");
    let logs = dir("slurm").join("cluster").join("logs");
    let report_log = std::fs::read_dir(&logs)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("report-"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .expect("a report job log");
    assert!(report_log.contains("2 runs failed"), "{report_log}");
    // Every run records the thread count it ran with (--cpus-per-task 1).
    let slurm_rows = rows(&dir("slurm"));
    assert!(!slurm_rows.is_empty());
    assert!(slurm_rows.values().all(|r| r["threads"] == 1));

    // 2. The local launcher with the same thread count: the same rows and report.
    let local = dir("local");
    let o = cluster.shears(&[
        "sweep",
        "--config",
        config.to_str().unwrap(),
        "--out",
        local.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(rows(&local), slurm_rows, "local and Slurm rows differ");
    assert_eq!(report(&local), report(&dir("slurm")));

    // 3. A run cancelled mid-way resumes when the same command is run again.
    let again = dir("cancelled");
    let o = submit(&again);
    assert!(o.status.success(), "{}", text(&o));
    let state = |seed: u64| {
        let id = slurm_rows
            .keys()
            .find(|(_, s, step)| *s == seed && *step == 4)
            .map(|k| k.0.clone())
            .expect("the geometric run's id");
        again
            .join("runs")
            .join(id)
            .join(format!("seed-{seed}"))
            .join("state.json")
    };
    let started = Instant::now();
    let committed = loop {
        let step = std::fs::read_to_string(state(0))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v["completed_step"].as_u64());
        if step.is_some_and(|s| s >= 1) {
            break step.unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no step committed"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        committed < 4,
        "the run finished before it could be cancelled"
    );
    let task = status(&cluster, &again)
        .lines()
        .find(|l| l.contains("geometric") && l.split_whitespace().nth(3) == Some("0"))
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .expect("the geometric seed-0 task");
    let job = std::fs::read_to_string(again.join("cluster").join("submissions.jsonl")).unwrap();
    let job: Value = serde_json::from_str(job.lines().next().unwrap()).unwrap();
    let job = job["prune_job"].as_str().unwrap().to_string();
    let o = cluster
        .command("scancel")
        .arg(format!("{job}_{task}"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    cluster.wait_idle("cancelled submission");
    let st = status(&cluster, &again);
    assert!(st.contains("stopped at step"), "{st}");
    assert!(!again.join("report.md").exists() || report(&again).contains("INCOMPLETE"));

    let o = submit(&again);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("1 to run"), "{}", text(&o));
    assert!(text(&o).contains("(1 task)"), "{}", text(&o));
    cluster.wait_idle("resubmission");
    assert_eq!(rows(&again), slurm_rows, "resumed rows differ");
    assert_eq!(report(&again), report(&dir("slurm")));

    // 4. Nothing left: the same command submits nothing.
    let o = submit(&again);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("nothing to submit"), "{}", text(&o));
}

/// `sweep --status` needs no cluster: on a local sweep's directory it reads every run's state
/// from the store, and a run whose rows were edited is shown as damaged, not as done.
#[test]
fn status_reads_the_store_and_names_a_damaged_run() {
    let root = std::env::temp_dir().join(format!("shears-status-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let config = root.join("sweep.toml");
    std::fs::write(
        &config,
        SWEEP.replace(
            "diverging = [\"schedule.kind=one-shot\", \"finetune.lr=1e30\"]\n",
            "",
        ),
    )
    .unwrap();
    let out = root.join("local");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_shears"))
            .args(args)
            .env("RAYON_NUM_THREADS", "1")
            .output()
            .unwrap()
    };
    let o = run(&[
        "sweep",
        "--config",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let status = || {
        let o = run(&["sweep", "--status", out.to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let st = status();
    assert!(st.contains("4 runs: 4 done"), "{st}");
    assert_eq!(
        st.lines().filter(|l| l.ends_with("  done")).count(),
        4,
        "{st}"
    );
    // --json: one object, the same states.
    let o = run(&["sweep", "--status", out.to_str().unwrap(), "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    assert_eq!(v["counts"]["done"], 4, "{v}");
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4);
    assert!(
        runs.iter()
            .all(|r| r["state"] == "done" && r["seed"].is_u64()),
        "{v}"
    );

    // Edit one committed row: that run is damaged, named with the file; the others stay done.
    let rows = rows(&out);
    let (id, seed, _) = rows.keys().next().unwrap().clone();
    let path = out
        .join("runs")
        .join(&id)
        .join(format!("seed-{seed}"))
        .join("steps.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replacen("\"test_top1\":0.", "\"test_top1\":0.9", 1),
    )
    .unwrap();
    let st = status();
    assert!(st.contains("3 done") && st.contains("1 damaged"), "{st}");
    assert!(
        st.contains("damaged: ") && st.contains("steps.jsonl"),
        "{st}"
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// With stand-in `sbatch` and `squeue` on the PATH (no cluster needed): an sbatch that fails
/// after the dense job went in leaves that job recorded and says so; the next submission,
/// while the dense tasks are still in the queue, submits the runs and the report but not the
/// dense tasks again.
#[cfg(unix)]
#[test]
fn a_partly_failed_submission_is_recorded_and_not_doubled() {
    use std::os::unix::fs::PermissionsExt;
    let root = std::env::temp_dir().join(format!("shears-fake-slurm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = |name: &str, body: &str| {
        let p = bin.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    let calls = root.join("calls");
    let queue = root.join("queue");
    std::fs::write(&queue, "").unwrap();
    // The second sbatch call fails; every other succeeds with job id 100 + call number.
    script(
        "sbatch",
        &format!(
            "n=$(( $(cat {c} 2>/dev/null || echo 0) + 1 )); echo $n > {c}\n\
             if [ $n = 2 ]; then echo 'sbatch: error: invalid partition' >&2; exit 1; fi\n\
             echo $((100 + n))",
            c = calls.display()
        ),
    );
    script("squeue", &format!("cat {}", queue.display()));
    let config = root.join("sweep.toml");
    std::fs::write(&config, SWEEP).unwrap();
    let out = root.join("sweep");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let submit = || {
        Command::new(env!("CARGO_BIN_EXE_shears"))
            .args(["sweep", "--config", config.to_str().unwrap()])
            .args(["--out", out.to_str().unwrap(), "--launcher", "slurm"])
            .env("PATH", &path)
            .output()
            .unwrap()
    };
    let o = submit();
    assert!(!o.status.success());
    let said = text(&o);
    assert!(said.contains("invalid partition"), "{said}");
    assert!(said.contains("(101) stay queued"), "{said}");
    let log = || std::fs::read_to_string(out.join("cluster").join("submissions.jsonl")).unwrap();
    let first: Value = serde_json::from_str(log().lines().next().unwrap()).unwrap();
    assert_eq!(first["dense_job"], "101");
    assert!(first["prune_job"].is_null());

    // Both dense tasks are still running: the next submission leaves them alone.
    let name = std::fs::read_to_string(out.join("cluster").join("dense.sbatch"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("#SBATCH --job-name=").map(str::to_string))
        .unwrap();
    std::fs::write(&queue, format!("{name}|0|RUNNING\n{name}|1|PENDING\n")).unwrap();
    let o = submit();
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains("dense models: job"), "{}", text(&o));
    let second: Value = serde_json::from_str(log().lines().nth(1).unwrap()).unwrap();
    assert!(second["dense_job"].is_null(), "{second}");
    assert_eq!(second["dense"].as_array().unwrap().len(), 0);
    assert_eq!(second["prune_job"], "103");
    assert_eq!(second["report_job"], "104");
    assert_eq!(second["runs"].as_array().unwrap().len(), 6);
    let _ = std::fs::remove_dir_all(&root);
}
