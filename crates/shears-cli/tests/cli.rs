//! The `shears` binary end to end: JSON contracts, reference schedules, and clear failures.

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

fn shears(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shears"))
        .args(args)
        .output()
        .expect("run shears")
}

/// `shears` run in the directory `cwd`.
fn shears_in(cwd: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shears"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run shears")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(
        stdout.trim().lines().count(),
        1,
        "exactly one JSON object on stdout: {stdout}"
    );
    serde_json::from_str(&stdout).unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shears-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn train_then_eval_reports_the_same_test_metrics() {
    let ckpt = tmp("dense.ckpt");
    let c = ckpt.to_str().unwrap();
    let t = json(&shears(&[
        "train", "--model", "lenet300", "--epochs", "2", "--seed", "3", "--out", c, "--json",
    ]));
    for key in ["test_top1", "test_top5", "test_loss"] {
        let v = t[key].as_f64().unwrap();
        assert!(v.is_finite() && v >= 0.0, "{key} = {v}");
    }
    assert!((0.0..=1.0).contains(&t["test_top1"].as_f64().unwrap()));
    assert_eq!(t["epochs"], 2);
    let e = json(&shears(&["eval", "--checkpoint", c, "--json"]));
    assert_eq!(e["test_top1"], t["test_top1"]);
    assert_eq!(e["test_loss"], t["test_loss"]);
}

#[test]
fn reference_schedules_reproduce_the_worked_examples() {
    // (args, expected steps): the worked examples of docs/design.md#reference-arithmetic.
    let cases: &[(&[&str], &[f64])] = &[
        (
            &["constant", "--target", "0.9", "--step", "0.2"],
            &[0.2, 0.2, 0.2, 0.2],
        ),
        (
            &["logarithmic", "--target", "0.9", "--step", "0.2"],
            &[0.395, 0.249, 0.157, 0.099],
        ),
        (
            &[
                "hybrid", "--start", "0.5", "--target", "0.9", "--step", "0.1",
            ],
            &[0.5, 0.1, 0.09, 0.081, 0.0729, 0.06561],
        ),
        (
            &[
                "hybrid", "--start", "0.8", "--target", "0.99", "--step", "0.1",
            ],
            &[0.8, 0.1, 0.09],
        ),
        (&["one-shot", "--target", "0.9", "--step", "0.1"], &[0.9]),
    ];
    for (args, expected) in cases {
        let mut a = vec!["schedule"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["--compat", "reference", "--json"]);
        let v = json(&shears(&a));
        let steps = floats(&v["steps"]);
        assert_eq!(steps.len(), expected.len(), "{args:?}: {steps:?}");
        for (s, e) in steps.iter().zip(expected.iter()) {
            assert!((s - e).abs() < 1e-6, "{args:?}: {steps:?}");
        }
        let total: f64 = expected.iter().sum();
        assert!((v["total"].as_f64().unwrap() - total).abs() < 1e-6);
        assert_eq!(floats(&v["cumulative"]).len(), expected.len());
    }
    let v = json(&shears(&[
        "schedule",
        "geometric",
        "--target",
        "0.9",
        "--step",
        "0.2",
        "--compat",
        "reference",
        "--json",
    ]));
    assert_eq!(floats(&v["steps"]).len(), 11);
    assert!((v["total"].as_f64().unwrap() - 0.914101).abs() < 1e-6);
}

#[test]
fn exact_schedules_hit_the_target() {
    let v = json(&shears(&[
        "schedule",
        "geometric",
        "--target",
        "0.9",
        "--steps",
        "5",
        "--json",
    ]));
    let c = floats(&v["cumulative"]);
    assert_eq!(c.len(), 5);
    assert!((c[4] - 0.9).abs() < 1e-9);
    assert!(c.windows(2).all(|w| w[1] > w[0]));
}

fn fails_with(args: &[&str], needle: &str) {
    let out = shears(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(
        err.contains(needle),
        "{args:?}: stderr lacks '{needle}': {err}"
    );
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
}

#[test]
fn bad_input_is_a_clear_error() {
    fails_with(
        &["schedule", "geometric", "--target", "1.2", "--steps", "3"],
        "target",
    );
    fails_with(
        &["schedule", "constant", "--target", "0.9", "--step", "-0.1"],
        "step",
    );
    fails_with(
        &["schedule", "hybrid", "--target", "0.9", "--steps", "3"],
        "start",
    );
    fails_with(&["schedule", "zigzag", "--target", "0.9"], "zigzag");
    fails_with(&["train", "--model", "resnet-19"], "resnet-19");
    fails_with(
        &[
            "train",
            "--epochs",
            "0",
            "--out",
            tmp("x.ckpt").to_str().unwrap(),
        ],
        "epochs",
    );
    fails_with(
        &[
            "train",
            "--data",
            "cifar10",
            "--data-dir",
            "/nonexistent/dir",
        ],
        "/nonexistent/dir",
    );
    fails_with(
        &["eval", "--checkpoint", "/nonexistent/model.ckpt"],
        "/nonexistent/model.ckpt",
    );
    let garbage = tmp("garbage.ckpt");
    std::fs::write(&garbage, b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}").unwrap();
    fails_with(
        &["eval", "--checkpoint", garbage.to_str().unwrap()],
        garbage.to_str().unwrap(),
    );
}

#[test]
fn prune_once_leaves_the_planned_zeros_and_inspect_agrees() {
    let dense = tmp("pd.ckpt");
    let pruned = tmp("pp.ckpt");
    let (d, p) = (dense.to_str().unwrap(), pruned.to_str().unwrap());
    json(&shears(&["train", "--epochs", "1", "--out", d, "--json"]));
    let v = json(&shears(&[
        "prune-once",
        "--checkpoint",
        d,
        "--sparsity",
        "0.8",
        "--out",
        p,
        "--json",
    ]));
    let n = v["prunable"].as_u64().unwrap();
    assert_eq!(n, 266_610);
    assert_eq!(
        n - v["kept"].as_u64().unwrap(),
        (n as f64 * 0.8).floor() as u64
    );
    assert!(v["flops_effective"].as_u64().unwrap() < v["flops_dense"].as_u64().unwrap());
    let i = json(&shears(&["inspect", "--checkpoint", p, "--json"]));
    assert_eq!(i["kept"], v["kept"]);
    assert_eq!(i["layers"].as_array().unwrap().len(), 3);
    // Pruning to a sparsity the checkpoint already has is refused.
    fails_with(
        &[
            "prune-once",
            "--checkpoint",
            p,
            "--sparsity",
            "0.5",
            "--out",
            p,
        ],
        "already",
    );
    fails_with(
        &[
            "prune-once",
            "--checkpoint",
            d,
            "--sparsity",
            "1.0",
            "--out",
            p,
        ],
        "--sparsity",
    );
}

/// Every file of a report directory except the results store, by name.
fn report_files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn compare_writes_a_report_that_report_regenerates_byte_identically() {
    let out = tmp("compare");
    let o = out.to_str().unwrap();
    // Lists are taken comma- or space-separated.
    let grid = [
        "compare",
        "--targets",
        "0.5",
        "0.9",
        "--regimes",
        "one-shot,geometric",
        "--seeds",
        "0",
        "1",
        "--out",
        o,
    ];
    let v = json(&shears(&[&grid[..], &["--json"]].concat()));
    // Summary schema: per target and regime mean/std/ci95/n/epochs/train_flops; winner/significant.
    let targets = v["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2);
    for t in targets {
        for regime in ["one-shot", "geometric"] {
            let cell = &t["regimes"][regime];
            assert_eq!(cell["n"], 2, "{cell}");
            let mean = cell["mean"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&mean));
            assert!(cell["epochs"].as_f64().unwrap() >= 1.0);
            assert!(cell["train_flops"].as_f64().unwrap() > 0.0);
        }
        assert!(t["significant"].is_boolean());
        assert!(t.get("winner").is_some());
    }
    assert!(v["crossover"]["statement"].is_string());
    let before = report_files(&out);
    for name in [
        "summary.json",
        "report.md",
        "report.html",
        "results.csv",
        "fig-accuracy-vs-sparsity.svg",
        "fig-accuracy-vs-sparsity.png",
    ] {
        let f = before
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} missing"));
        assert!(f.1.len() > 100, "{name} is nearly empty");
    }
    // Regenerate from the stored results only.
    for (name, _) in &before {
        if name != "compare.json" {
            std::fs::remove_file(out.join(name)).unwrap();
        }
    }
    let r = shears(&["report", o]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(
        report_files(&out),
        before,
        "report must regenerate byte-identical files"
    );
    // Rerunning the comparison reuses the stored runs (no dense training on stderr).
    let again = shears(&grid);
    assert!(again.status.success());
    assert!(!String::from_utf8_lossy(&again.stderr).contains("training the dense model"));
    // Its per-run lines give the target, sparsity and accuracy as percentages.
    let stdout = text(&again.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("one-shot") && l.contains(" 90% "))
        .unwrap_or_else(|| panic!("no one-shot line at 90%: {stdout}"));
    let t: Vec<&str> = line.split_whitespace().collect();
    assert!(t[3] == "90.00%" && t[4].ends_with('%'), "{line}");
    let accuracy: f64 = t[4].trim_end_matches('%').parse().unwrap();
    assert!(accuracy > 1.0 && accuracy <= 100.0, "{line}");
    // The pruned models are named: one line per target and regime, each an existing file.
    let models: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("pruned models"))
        .skip(1)
        .collect();
    assert_eq!(models.len(), 4, "{stdout}");
    for l in models {
        let path = l.rsplit(": ").next().unwrap();
        assert!(std::path::Path::new(path).is_file(), "{l}");
    }
}

#[test]
fn a_diverging_run_is_recorded_as_failed_and_the_sweep_goes_on() {
    let out = tmp("diverge");
    let _ = std::fs::remove_dir_all(&out);
    let config = tmp("diverge.toml");
    // The geometric regime's fine-tuning learning rate overflows the weights at once.
    std::fs::write(
        &config,
        r#"
targets = [0.5]
seeds = [0, 1]
[base.model]
kind = "lenet300"
[base.dense]
epochs = 1
[base.finetune]
mode = "epochs"
epochs = 1
[regimes]
one-shot = ["schedule.kind=one-shot"]
geometric = ["schedule.kind=geometric", "schedule.steps=2", "finetune.lr=1e30"]
"#,
    )
    .unwrap();
    let (c, o) = (config.to_str().unwrap(), out.to_str().unwrap());
    let args = ["sweep", "--config", c, "--out", o];
    let first = shears(&args);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&first.stdout),
        String::from_utf8_lossy(&first.stderr),
    );
    assert_eq!(first.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("2 runs failed and are left out"),
        "{stderr}"
    );
    let failed_lines = stdout.lines().filter(|l| l.contains("FAILED")).count();
    assert_eq!(failed_lines, 2, "{stdout}");
    assert!(stdout.contains("training diverged"), "{stdout}");

    // The report has the healthy regime's statistics and lists the failures with their reason.
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["targets"][0]["regimes"]["one-shot"]["n"], 2);
    assert!(summary["targets"][0]["regimes"].get("geometric").is_none());
    let failed = summary["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 2);
    for (f, seed) in failed.iter().zip([0, 1]) {
        assert_eq!(
            (f["regime"].as_str(), f["seed"].as_u64()),
            (Some("geometric"), Some(seed))
        );
        assert!(f["reason"].as_str().unwrap().contains("diverged"), "{f}");
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("## Failed runs") && md.contains("training diverged"),
        "{md}"
    );

    // A rerun serves the stored failures (no training) and fails the same way; `report`
    // regenerates the same files from the store, failures included.
    let before = report_files(&out);
    let again = shears(&args);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&again.stdout),
        String::from_utf8_lossy(&again.stderr),
    );
    assert_eq!(again.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("training the dense model"), "{stderr}");
    assert_eq!(stdout.matches("FAILED (stored").count(), 2, "{stdout}");
    for (name, _) in &before {
        if name != "compare.json" {
            std::fs::remove_file(out.join(name)).unwrap();
        }
    }
    assert!(shears(&["report", o]).status.success());
    assert_eq!(report_files(&out), before);

    // --retry-failed runs them again (and, being deterministic, they diverge again).
    let retry = shears(&[&args[..], &["--retry-failed"]].concat());
    let stdout = String::from_utf8_lossy(&retry.stdout);
    assert_eq!(retry.status.code(), Some(2));
    assert_eq!(stdout.matches("FAILED:").count(), 2, "{stdout}");
}

#[test]
fn parallel_sweep_jobs_run_each_experiment_once_and_share_dense_models() {
    let out = tmp("jobs");
    let _ = std::fs::remove_dir_all(&out);
    let config = tmp("jobs.toml");
    // `a` and `b` are the same experiment; the grid needs a second dense model per seed
    // that two parallel jobs ask for at once.
    std::fs::write(
        &config,
        r#"
targets = [0.5]
seeds = [0, 1]
[base.model]
kind = "lenet300"
[base.finetune]
mode = "epochs"
epochs = 1
[regimes]
a = ["schedule.kind=one-shot"]
b = ["schedule.kind=one-shot"]
c = ["schedule.kind=constant", "schedule.steps=2"]
[grid]
"dense.epochs" = ["1", "2"]
"#,
    )
    .unwrap();
    let (c, o) = (config.to_str().unwrap(), out.to_str().unwrap());
    let run = shears(&["sweep", "--config", c, "--out", o, "--jobs", "3", "--json"]);
    let summary = json(&run);
    // 4 distinct experiments x 2 seeds, each run and counted once.
    assert_eq!(summary["runs"], 8, "{summary}");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    let ids = manifest["experiments"].as_array().unwrap();
    assert_eq!(ids.len(), 4, "{manifest}");
    let dense = std::fs::read_dir(out.join("runs/dense")).unwrap().count();
    assert_eq!(dense, 4, "2 dense recipes x 2 seeds");
    for id in ids {
        for seed in [0, 1] {
            let state = out.join(format!(
                "runs/{}/seed-{seed}/state.json",
                id.as_str().unwrap()
            ));
            let s: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
            assert_eq!(s["finished"], true, "{}", state.display());
        }
    }
}

#[test]
fn compare_structured_removes_channels_and_reports_them() {
    let out = tmp("compare-structured");
    let _ = std::fs::remove_dir_all(&out);
    let v = json(&shears(&[
        "compare",
        "--structured",
        "--targets",
        "0.5",
        "--regimes",
        "one-shot,geometric",
        "--seeds",
        "0",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]));
    let rows = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert!(rows.lines().count() > 1, "{rows}");
    for regime in ["one-shot", "geometric"] {
        let cell = &v["targets"][0]["regimes"][regime];
        assert_eq!(cell["n"], 1, "{cell}");
    }
    // Each run ends with about half the channels physically gone: fewer FLOPs per sample.
    let mut runs = 0;
    for e in std::fs::read_dir(out.join("runs")).unwrap().flatten() {
        let steps = e.path().join("seed-0/steps.jsonl");
        if !steps.exists() {
            continue;
        }
        runs += 1;
        let text = std::fs::read_to_string(&steps).unwrap();
        let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        let (eff, dense) = (
            last["flops_effective"].as_f64().unwrap(),
            last["flops_dense"].as_f64().unwrap(),
        );
        assert!(eff < 0.6 * dense, "{}: {eff} of {dense}", steps.display());
        let sparsity = last["sparsity"].as_f64().unwrap();
        assert!(sparsity > 0.45 && sparsity < 0.6, "{last}");
    }
    assert_eq!(runs, 2);
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    assert_eq!(cfg["sweep"]["base"]["prune"]["structured"], true, "{cfg}");
}

/// A fresh, empty working directory.
fn fresh_dir(name: &str) -> PathBuf {
    let dir = tmp(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_bare_shears_prints_help_and_runs_nothing() {
    let cwd = fresh_dir("bare");
    let out = shears_in(&cwd, &[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        stdout.contains("Usage") && stdout.contains("compare") && stdout.contains("runs"),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read_dir(&cwd).unwrap().count(),
        0,
        "wrote into the working directory"
    );
}

#[test]
fn list_flags_take_spaces_as_well_as_commas() {
    let dense = tmp("lists.ckpt");
    let pruned = tmp("lists-pruned.ckpt");
    let (d, p) = (dense.to_str().unwrap(), pruned.to_str().unwrap());
    json(&shears(&["train", "--epochs", "1", "--out", d, "--json"]));
    // Only fc1 (784 x 300 weights + 300 biases) is prunable when fc2 and fc3 are excluded.
    let v = json(&shears(&[
        "prune-once",
        "--checkpoint",
        d,
        "--sparsity",
        "0.5",
        "--exclude",
        "fc2",
        "fc3",
        "--out",
        p,
        "--json",
    ]));
    assert_eq!(v["prunable"], 784 * 300 + 300, "{v}");
    let v = json(&shears(&[
        "bench",
        "--models",
        "lenet300",
        "lenet5,lenet300",
        "--batch-size",
        "4",
        "--iters",
        "1",
        "--repeats",
        "1",
        "--no-prune",
        "--no-sparse",
        "--no-epochs",
        "--json",
    ]));
    let ids: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "lenet300/train",
            "lenet300/infer",
            "lenet5/train",
            "lenet5/infer",
            "lenet300/train",
            "lenet300/infer"
        ]
    );
}

/// Real experiment configs (one-shot to 61%..80%) and their ids, by target.
fn configs() -> Vec<(String, String)> {
    (61..=80)
        .map(|t| {
            let o = [format!("schedule.target=0.{t}")];
            let c = shears_experiment::ExperimentConfig::from_toml("", "test", &o).unwrap();
            (c.id(), shears_experiment::store::config_text(&c))
        })
        .collect()
}

/// A results store holding the given experiments (id, config text) and no runs.
fn fake_store(store: &std::path::Path, experiments: &[&(String, String)]) {
    for (id, config) in experiments {
        std::fs::create_dir_all(store.join(id)).unwrap();
        std::fs::write(store.join(id).join("config.toml"), config).unwrap();
    }
}

#[test]
fn runs_finds_the_stores_under_the_working_directory_and_takes_id_prefixes() {
    let cwd = fresh_dir("stores");
    let empty = shears_in(&cwd, &["runs", "list"]);
    assert!(empty.status.success());
    let stderr = text(&empty.stderr);
    assert!(
        stderr.contains("no results store") && stderr.contains("results/compare/runs"),
        "{stderr}"
    );
    // Two experiments whose ids start alike (20 ids over 16 first digits must have some).
    let all = configs();
    let (eighty, others) = all.split_last().unwrap();
    let (a, b) = others
        .iter()
        .enumerate()
        .find_map(|(i, a)| {
            let b = others[i + 1..].iter().find(|b| b.0[..1] == a.0[..1])?;
            Some((a, b))
        })
        .expect("two ids with the same first digit");
    let hidden = others.iter().find(|c| c.0 != a.0 && c.0 != b.0).unwrap();
    fake_store(&cwd.join("results/compare/runs"), &[a, b]);
    fake_store(&cwd.join("runs"), &[eighty]);
    fake_store(&cwd.join("target/debug/runs"), &[hidden]);
    let list = shears_in(&cwd, &["runs", "list"]);
    let stdout = text(&list.stdout);
    assert!(list.status.success(), "{}", text(&list.stderr));
    for needle in ["results/compare/runs:", &a.0, &b.0, "runs:", &eighty.0] {
        assert!(stdout.contains(needle), "lacks {needle}: {stdout}");
    }
    assert!(!stdout.contains(&hidden.0), "searched target/: {stdout}");
    assert!(stdout.contains("one-shot -> 80% sparsity"), "{stdout}");
    // The store flag names one store; --out is still understood.
    let one = shears_in(&cwd, &["runs", "list", "--store", "runs"]);
    assert_eq!(
        text(&one.stdout).lines().count(),
        1,
        "{}",
        text(&one.stdout)
    );
    let old = shears_in(&cwd, &["runs", "list", "--out", "runs"]);
    assert_eq!(old.stdout, one.stdout);
    // A unique prefix shows the experiment; an ambiguous one names the candidates.
    let show = shears_in(&cwd, &["runs", "show", &eighty.0[..12]]);
    assert!(show.status.success(), "{}", text(&show.stderr));
    assert!(text(&show.stdout).contains("[schedule]"));
    let show = shears_in(&cwd, &["runs", "show", &a.0[..15]]);
    assert!(show.status.success(), "{}", text(&show.stderr));
    let ambiguous = shears_in(&cwd, &["runs", "show", &a.0[..1]]);
    let stderr = text(&ambiguous.stderr);
    assert!(!ambiguous.status.success());
    assert!(
        stderr.contains(&a.0) && stderr.contains(&b.0) && stderr.contains("several"),
        "{stderr}"
    );
    fails_with(
        &[
            "runs",
            "show",
            "zz",
            "--store",
            cwd.join("runs").to_str().unwrap(),
        ],
        "no experiment 'zz'",
    );
    // A config edited after the fact (or copied under another id) is an error naming it.
    let config = cwd.join("runs").join(&eighty.0).join("config.toml");
    std::fs::write(&config, &a.1).unwrap();
    let show = shears_in(&cwd, &["runs", "show", &eighty.0]);
    let stderr = text(&show.stderr);
    assert!(!show.status.success(), "an edited config passed");
    assert!(
        stderr.contains(&format!("runs/{}/config.toml", eighty.0)) && stderr.contains("damaged"),
        "{stderr}"
    );
}

#[test]
fn a_mistyped_override_is_blamed_on_the_override_with_the_nearest_key() {
    let out = shears(&["prune", "-s", "finetune.patiance=3", "--print-config"]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("override 'finetune.patiance=3': unknown key 'patiance'"),
        "{stderr}"
    );
    assert!(
        stderr.contains("did you mean finetune.patience?"),
        "{stderr}"
    );
    assert!(!stderr.contains("<defaults>"), "{stderr}");
    fails_with(
        &["prune", "-s", "schedule.stpes=3", "--print-config"],
        "did you mean schedule.steps?",
    );
    fails_with(
        &["prune", "-s", "finetune.patience=abc", "--print-config"],
        "override 'finetune.patience=abc'",
    );
}

#[test]
fn a_schedule_missing_a_parameter_names_its_flag() {
    fails_with(
        &["schedule", "hybrid", "--target", "0.9", "--steps", "3"],
        "hybrid needs --start",
    );
    for kind in ["constant", "geometric", "logarithmic", "polynomial"] {
        fails_with(
            &["schedule", kind, "--target", "0.9"],
            "needs --step (the amount each step removes) or --steps",
        );
    }
    fails_with(
        &[
            "schedule",
            "geometric",
            "--target",
            "0.9",
            "--steps",
            "3",
            "--compat",
            "reference",
        ],
        "needs --step and takes no --steps",
    );
    fails_with(
        &["schedule", "geometric", "--target", "1.5", "--steps", "3"],
        "--target must be in (0, 1)",
    );
}

#[test]
fn counts_are_pluralised_and_fractions_are_labelled() {
    let one = shears(&["schedule", "one-shot", "--target", "0.9"]);
    let stdout = text(&one.stdout);
    assert!(stdout.contains("in 1 step ("), "{stdout}");
    assert!(stdout.contains("fractions of the original"), "{stdout}");
    let config = tmp("plural.toml");
    std::fs::write(
        &config,
        "targets = [0.5]\nseeds = [7]\n[regimes]\none-shot = [\"schedule.kind=one-shot\"]\n\
         [base.finetune]\nmode = \"epochs\"\nepochs = 1\n",
    )
    .unwrap();
    let dry = shears(&["sweep", "--config", config.to_str().unwrap(), "--dry-run"]);
    let stdout = text(&dry.stdout);
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    assert!(
        stdout.contains("target 50%")
            && stdout.contains(" 1 seed ")
            && stdout.contains("~1 epoch "),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 experiment, estimated 1 fine-tuning epoch\n"),
        "{stdout}"
    );
    let ckpt = tmp("plural.ckpt");
    let train = shears(&["train", "--epochs", "1", "--out", ckpt.to_str().unwrap()]);
    let (stdout, stderr) = (text(&train.stdout), text(&train.stderr));
    assert!(train.status.success(), "{stderr}");
    assert!(stderr.contains(", 1 epoch\n"), "{stderr}");
    assert!(stdout.contains("(1 epoch, "), "{stdout}");
    let top1 = stdout.split_whitespace().nth(1).unwrap();
    assert!(top1.ends_with('%'), "{stdout}");
    let eval = shears(&["eval", "--checkpoint", ckpt.to_str().unwrap()]);
    let stdout = text(&eval.stdout);
    assert!(
        stdout.contains("1 epoch trained)") && stdout.contains('%'),
        "{stdout}"
    );
}
