//! Tests of the cluster plan and the Slurm job text (the real scheduler is exercised by
//! crates/shears-cli/tests/slurm.rs).

use super::slurm::{SlurmOptions, array_spec, job_name, jobs, parse_queue};
use super::*;
use crate::sweep::SweepConfig;

fn grid() -> Vec<Cell> {
    SweepConfig::from_toml(
        r#"
        targets = [0.5, 0.8]
        seeds = [0, 1]
        [base.model]
        kind = "lenet300"
        [regimes]
        one-shot = ["schedule.kind=one-shot"]
        same-again = ["schedule.kind=one-shot"]
        geometric = ["schedule.kind=geometric", "schedule.steps=2"]
        "#,
        "t",
    )
    .unwrap()
    .cells()
    .unwrap()
}

#[test]
fn a_plan_runs_each_experiment_seed_once_and_trains_each_dense_model_once() {
    let plan = Plan::new(&grid());
    // "same-again" is one-shot spelled alike: 2 distinct regimes × 2 targets × 2 seeds.
    assert_eq!(plan.runs.len(), 8);
    // Every run shares one of the two seeds' dense models.
    assert_eq!(plan.dense.len(), 2);
    for d in &plan.dense {
        let users = plan
            .runs
            .iter()
            .filter(|r| r.dense.as_deref() == Some(d.name.as_str()))
            .count();
        assert_eq!(users, 4, "{}", d.name);
        assert_eq!(plan.runs[d.run].dense.as_deref(), Some(d.name.as_str()));
    }
    let mut pairs: Vec<_> = plan
        .runs
        .iter()
        .map(|r| (r.experiment.clone(), r.seed))
        .collect();
    pairs.sort();
    pairs.dedup();
    assert_eq!(pairs.len(), 8);
    assert_eq!(plan.config(3).id(), plan.runs[3].experiment);
}

#[test]
fn array_indices_are_written_as_ranges() {
    assert_eq!(array_spec(&[0, 1, 2, 3, 5, 7, 8, 9]), "0-3,5,7-9");
    assert_eq!(array_spec(&[4]), "4");
    assert_eq!(array_spec(&[]), "");
}

fn options() -> SlurmOptions {
    SlurmOptions {
        partition: Some("gpu".into()),
        time: Some("01:00:00".into()),
        cpus_per_task: 4,
        gpus_per_task: Some(1),
        mem: None,
        array_limit: Some(3),
        sbatch_args: vec!["--account=lab".into()],
        exe: "/opt/it's/shears".into(),
        task_args: vec!["--device".into(), "cuda".into()],
    }
}

#[test]
fn the_jobs_chain_dense_then_runs_then_the_report() {
    let dir = Path::new("/shared/sweep");
    let selection = Selection {
        runs: vec![0, 1, 2, 5],
        dense: vec![1],
        retried: vec![],
    };
    let j = jobs(dir, &selection, &options());
    let kinds: Vec<_> = j.iter().map(|j| (j.kind, j.after)).collect();
    assert_eq!(
        kinds,
        [
            (TaskKind::Dense, None),
            (TaskKind::Run, Some(TaskKind::Dense)),
            (TaskKind::Report, Some(TaskKind::Run)),
        ]
    );
    let prune = &j[1].script;
    assert!(prune.starts_with("#!/bin/bash\n"), "{prune}");
    for line in [
        "#SBATCH --array=0-2,5%3",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --partition=gpu",
        "#SBATCH --time=01:00:00",
        "#SBATCH --gpus-per-task=1",
        "#SBATCH --account=lab",
        "#SBATCH --output=/shared/sweep/cluster/logs/prune-%A_%a.out",
        "export RAYON_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"",
        "exec '/opt/it'\\''s/shears' sweep-task '/shared/sweep' prune \"$SLURM_ARRAY_TASK_ID\" '--device' 'cuda'",
    ] {
        assert!(prune.lines().any(|l| l == line), "{line} not in\n{prune}");
    }
    assert!(prune.contains(&format!("--job-name={}", job_name(dir, TaskKind::Run))));
    let report = &j[2].script;
    assert!(report.contains("--cpus-per-task=1\n"), "{report}");
    assert!(!report.contains("--gpus-per-task"), "{report}");
    assert!(!report.contains("--array"), "{report}");
    assert!(
        report.contains("sweep-task '/shared/sweep' report\n"),
        "{report}"
    );

    // Nothing to run: nothing submitted; no dense model missing: no dense job.
    assert!(jobs(dir, &Selection::default(), &options()).is_empty());
    let no_dense = Selection {
        runs: vec![3],
        ..Selection::default()
    };
    let j = jobs(dir, &no_dense, &options());
    assert_eq!(j.len(), 2);
    assert_eq!(j[0].after, None);
}

#[test]
fn the_queue_is_read_per_task_and_other_jobs_are_ignored() {
    let dir = Path::new("/shared/sweep");
    let names: Vec<String> = [TaskKind::Dense, TaskKind::Run, TaskKind::Report]
        .iter()
        .map(|&k| job_name(dir, k))
        .collect();
    let text = format!(
        "{d}|0|COMPLETING\n{p}|3|RUNNING\n{p}|4|PENDING\n{p}|5|CANCELLED\nother|1|RUNNING\n{r}|N/A|PENDING\ngarbage\n",
        d = names[0],
        p = names[1],
        r = names[2]
    );
    let q = parse_queue(&text, &names);
    assert_eq!(q.tasks.len(), 4);
    assert_eq!(q.tasks[&(TaskKind::Dense, 0)], QueueState::Running);
    assert_eq!(q.tasks[&(TaskKind::Run, 3)], QueueState::Running);
    assert_eq!(q.tasks[&(TaskKind::Run, 4)], QueueState::Waiting);
    assert!(!q.tasks.contains_key(&(TaskKind::Run, 5)));
    assert_eq!(q.tasks[&(TaskKind::Report, 0)], QueueState::Waiting);
    // Another directory's jobs have other names.
    assert_ne!(
        names[1],
        job_name(Path::new("/shared/other"), TaskKind::Run)
    );
}

#[test]
fn temp_files_of_another_host_are_left_alone() {
    let dir = std::env::temp_dir().join(format!("shears-temps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // pid 1 is alive; a pid far above pid_max is not.
    let here = shears_core::files::host_tag();
    let dead = 4_000_000_000u32;
    let names = [
        format!(".a.0.{here}.{dead}.tmp"),
        format!(".b.0.h00000000.{dead}.tmp"),
        format!(".c.0.{dead}.tmp"),
        format!(".d.0.{here}.1.tmp"),
    ];
    for n in &names {
        std::fs::write(dir.join(n), b"x").unwrap();
    }
    crate::store::remove_stale_temps(&dir);
    let left: Vec<bool> = names.iter().map(|n| dir.join(n).exists()).collect();
    let _ = std::fs::remove_dir_all(&dir);
    if Path::new("/proc/self").exists() {
        // Ours and dead, an older build's and dead: removed; another host's, a live one's: kept.
        assert_eq!(left, [false, true, false, true]);
    }
}

#[test]
fn mounts_with_node_local_locks_are_refused_by_name() {
    use super::filesystem::{lock_problem, mount_of};
    let mounts = "\
/dev/vda1 / ext4 rw,relatime 0 0
srv:/export /shared nfs4 rw,vers=4.2,local_lock=none,addr=10.0.0.1 0 0
srv:/old /shared/old nfs rw,vers=3,nolock 0 0
mgs@tcp:/lfs /lustre lustre rw,flock 0 0
mgs@tcp:/scratch /scratch lustre rw,localflock 0 0
mgs@tcp:/tmp /lustre-plain lustre rw 0 0
//srv/share /smb\\040share cifs rw,nobrl 0 0
";
    let problem = |p: &str| {
        let (t, o, _) = mount_of(mounts, Path::new(p)).unwrap();
        lock_problem(t, o)
    };
    assert_eq!(problem("/home/me/store"), None);
    assert_eq!(problem("/shared/sweep/runs"), None);
    assert!(problem("/shared/old/sweep").unwrap().contains("nolock"));
    // The longest mount point wins, by path components (not by string prefix).
    assert_eq!(problem("/shared/older"), None);
    assert_eq!(problem("/lustre/sweep"), None);
    assert!(problem("/scratch/sweep").unwrap().contains("localflock"));
    assert!(
        problem("/lustre-plain/x")
            .unwrap()
            .contains("without `flock`")
    );
    assert!(problem("/smb share/x").unwrap().contains("nobrl"));
    assert!(
        lock_problem("nfs4", "rw,local_lock=flock")
            .unwrap()
            .contains("local")
    );
}
