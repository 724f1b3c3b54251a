//! `--seeds auto` end to end: seeds are added only where the answer is open, the grown grid is
//! recorded so `shears report` and a rerun retrace it, and bad settings stop before any work.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn shears(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shears"))
        .args(args)
        .output()
        .expect("run shears")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shears-seeds-auto-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Two regimes far apart at 98% (geometric with a random ranking against one-shot magnitude;
/// the report names regimes by schedule), closer at 30%; short training so the test is quick.
const SWEEP: &str = r#"
targets = [0.3, 0.98]
seeds = "auto"
max_seeds = 5
[base.model]
kind = "lenet300"
[base.dense]
epochs = 2
[base.finetune]
mode = "epochs"
epochs = 1
[regimes]
one-shot = ["schedule.kind=one-shot"]
geometric = ["schedule.kind=geometric", "schedule.steps=2", "prune.criterion=random"]
"#;

#[test]
fn seeds_auto_adds_seeds_only_to_open_targets_and_records_them() {
    let (config, out) = (tmp("auto.toml"), tmp("auto"));
    std::fs::write(&config, SWEEP).unwrap();
    let (c, o) = (config.to_str().unwrap(), out.to_str().unwrap());
    let args = ["compare", "--config", c, "--out", o];
    let first = shears(&args);
    let stderr = text(&first.stderr);
    assert!(first.status.success(), "{stderr}");
    assert!(stderr.contains("3 to 5 seeds (auto)"), "{stderr}");

    let summary = read_json(&out.join("summary.json"));
    let manifest = read_json(&out.join("compare.json"));
    assert_eq!(manifest["sweep"]["seeds"], "auto");
    assert_eq!(manifest["options"]["sequential"]["max"], 5);
    let mut rounds = 0;
    for t in summary["targets"].as_array().unwrap() {
        let target = t["target"].as_f64().unwrap();
        let n = t["regimes"]["one-shot"]["n"].as_u64().unwrap() as usize;
        assert_eq!(t["regimes"]["geometric"]["n"].as_u64().unwrap() as usize, n);
        assert!((3..=5).contains(&n), "{t}");
        // A target stops below the maximum only once resolved.
        if n < 5 {
            assert_ne!(t["verdict"], "inconclusive", "{t}");
        }
        // The manifest records exactly the seeds each target was given.
        let recorded = manifest["sweep"]["seeds_by_target"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| (r["target"].as_f64().unwrap() - target).abs() < 1e-9)
            .map_or(3, |r| r["seeds"].as_u64().unwrap() as usize);
        assert_eq!(recorded, n, "{target}");
        rounds = rounds.max(n - 3);
    }
    // Random pruning to 98% is far worse than magnitude pruning: resolved at the first look or soon
    // after, never run to the maximum.
    let t98 = &summary["targets"][1];
    assert_eq!(
        (t98["recommended"].as_str(), t98["verdict"].as_str()),
        (Some("one-shot"), Some("winner")),
        "{t98}"
    );
    assert!(
        t98["regimes"]["one-shot"]["n"].as_u64().unwrap() < 5,
        "{t98}"
    );
    assert_eq!(
        stderr.matches("seeds auto: not resolved yet").count(),
        rounds,
        "{stderr}"
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("Seeds were added sequentially"), "{md}");
    assert!(
        summary["multiplicity"]
            .as_str()
            .unwrap()
            .contains("group-sequential")
    );

    // The report regenerates from the manifest alone, byte for byte; a rerun trains nothing.
    let before = std::fs::read(out.join("summary.json")).unwrap();
    std::fs::remove_file(out.join("summary.json")).unwrap();
    let r = shears(&["report", o]);
    assert!(r.status.success(), "{}", text(&r.stderr));
    assert_eq!(std::fs::read(out.join("summary.json")).unwrap(), before);
    let again = shears(&args);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(!text(&again.stderr).contains("training the dense model"));
    assert_eq!(std::fs::read(out.join("summary.json")).unwrap(), before);
}

#[test]
fn bad_seed_settings_stop_before_any_work() {
    let out = tmp("bad");
    let o = out.to_str().unwrap();
    for (args, needle) in [
        (vec!["--seeds", "auto", "3"], "'auto' stands alone"),
        (vec!["--seeds", "auto,3"], "'auto' stands alone"),
        (vec!["--max-seeds", "6"], "only with --seeds auto"),
        (
            vec!["--seeds", "auto", "--max-seeds", "2"],
            "not a seed count in 3..=100",
        ),
        (vec!["--seeds", "many"], "neither a seed"),
    ] {
        let full: Vec<&str> = ["compare", "--out", o]
            .into_iter()
            .chain(args.clone())
            .collect();
        let r = shears(&full);
        let e = text(&r.stderr);
        assert!(!r.status.success() && e.contains(needle), "{args:?}: {e}");
        assert!(!out.exists(), "{args:?} wrote {o}");
    }
}
