//! Finished results on the command line: a damaged file is an error naming it in `runs show`,
//! `runs list` and `report`; `--recompute-damaged` computes the run again to the same rows; a
//! report over fewer seeds than declared refuses unless `--allow-missing`, which warns; a
//! dense model without its checksum is trained again, not reused.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn shears(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shears"))
        .args(args)
        .output()
        .expect("run shears")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh directory, removed when it drops after a passing test.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn scratch(name: &str) -> Scratch {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("integrity-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

/// Two seeds of a one-step experiment, as small as a real run gets.
const SWEEP: &str = r#"
targets = [0.5]
seeds = [0, 1]
[base.dense]
epochs = 1
[base.finetune]
mode = "epochs"
epochs = 1
[regimes]
one-shot = ["schedule.kind=one-shot"]
"#;

/// Runs the sweep into `dir/out` and returns the report directory and its experiment dir.
fn swept(dir: &Path, extra: &[&str]) -> (PathBuf, PathBuf, Output) {
    let config = dir.join("sweep.toml");
    std::fs::write(&config, SWEEP).unwrap();
    let out = dir.join("out");
    let args = [
        &["sweep", "--config", config.to_str().unwrap()][..],
        &["--out", out.to_str().unwrap()],
        extra,
    ]
    .concat();
    let o = shears(&args);
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    let id = manifest["experiments"][0].as_str().unwrap().to_string();
    let exp = out.join("runs").join(id);
    (out, exp, o)
}

/// A seed's rows without the wall-clock columns (the only ones a recomputation changes).
fn rows(seed: &Path) -> Vec<Value> {
    std::fs::read_to_string(seed.join("steps.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            let o = v.as_object_mut().unwrap();
            o.remove("wall_s");
            o.remove("cum_wall_s");
            v
        })
        .collect()
}

#[test]
fn an_edited_steps_csv_is_an_error_naming_it_and_recompute_repairs_it() {
    let dir = scratch("csv");
    let (out, exp, o) = swept(&dir.0, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let seed = exp.join("seed-1");
    let before = rows(&seed);
    // An accuracy edited in the CSV export.
    let csv = seed.join("steps.csv");
    let t = std::fs::read_to_string(&csv).unwrap();
    let last = t.lines().last().unwrap().to_string();
    let edited = last.replacen(",0.", ",0.9", 1);
    std::fs::write(&csv, t.replace(&last, &edited)).unwrap();
    let name = csv.display().to_string();

    let id = exp.file_name().unwrap().to_str().unwrap();
    let store = out.join("runs");
    let show = shears(&["runs", "show", id, "--store", store.to_str().unwrap()]);
    let err = text(&show.stderr);
    assert!(!show.status.success(), "runs show passed it");
    assert!(
        err.contains(&name) && err.contains("--recompute-damaged"),
        "{err}"
    );
    let list = shears(&["runs", "list", "--store", store.to_str().unwrap()]);
    let listed = text(&list.stdout);
    assert!(
        listed.contains("seeds finished 1/2")
            && listed.contains("DAMAGED")
            && listed.contains(&name),
        "{listed}"
    );
    let report = shears(&["report", out.to_str().unwrap()]);
    assert!(!report.status.success(), "report passed it");
    assert!(
        text(&report.stderr).contains(&name),
        "{}",
        text(&report.stderr)
    );
    // A rerun refuses it too; with --recompute-damaged it moves the run aside and computes
    // it again, to the same rows.
    let (_, _, again) = swept(&dir.0, &[]);
    assert!(!again.status.success() && text(&again.stderr).contains(&name));
    let (_, _, fixed) = swept(&dir.0, &["--recompute-damaged"]);
    assert!(fixed.status.success(), "{}", text(&fixed.stderr));
    assert!(
        text(&fixed.stderr).contains("computing it again"),
        "{}",
        text(&fixed.stderr)
    );
    assert_eq!(rows(&seed), before);
    assert!(exp.join("damaged-seed-1").is_dir());
    let report = shears(&["report", out.to_str().unwrap()]);
    assert!(report.status.success(), "{}", text(&report.stderr));
}

#[test]
fn a_report_over_a_deleted_seed_refuses_unless_allowed_and_then_warns() {
    let dir = scratch("missing");
    let (out, exp, o) = swept(&dir.0, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let summary = out.join("summary.json");
    let before = std::fs::read(&summary).unwrap();
    std::fs::remove_dir_all(exp.join("seed-1")).unwrap();

    let report = shears(&["report", out.to_str().unwrap()]);
    let err = text(&report.stderr);
    assert!(!report.status.success(), "report passed: {err}");
    assert!(
        err.contains("seed-1") && err.contains("--allow-missing"),
        "{err}"
    );
    assert_eq!(std::fs::read(&summary).unwrap(), before, "rewritten");

    let report = shears(&["report", out.to_str().unwrap(), "--allow-missing"]);
    let err = text(&report.stderr);
    assert!(report.status.success(), "{err}");
    assert!(err.contains("warning") && err.contains("seed-1"), "{err}");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let top: String = md.lines().take(4).collect();
    assert!(top.contains("INCOMPLETE") && top.contains("seed-1"), "{md}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("INCOMPLETE"), "report.html has no warning");
    let v: Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    let warnings = v["warnings"].as_array().unwrap();
    assert!(
        warnings[0].as_str().unwrap().contains("INCOMPLETE"),
        "{warnings:?}"
    );
}

#[test]
fn a_dense_model_without_its_checksum_is_trained_again_not_reused() {
    let dir = scratch("dense");
    let (out, exp, o) = swept(&dir.0, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let seeds = ["seed-0", "seed-1"];
    let before: Vec<_> = seeds.iter().map(|s| rows(&exp.join(s))).collect();
    let models: Vec<PathBuf> = std::fs::read_dir(out.join("runs/dense"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("model.ckpt"))
        .collect();
    assert_eq!(models.len(), 2);
    // A perturbed weight and no checksum: reusing them would give other rows.
    let mut perturbed = Vec::new();
    for m in &models {
        let mut b = std::fs::read(m).unwrap();
        let at = b.len() - 1000;
        b[at] ^= 0x40;
        std::fs::write(m, &b).unwrap();
        std::fs::remove_file(m.with_extension("sha256")).unwrap();
        perturbed.push(b);
    }
    std::fs::remove_dir_all(&exp).unwrap();

    let (_, exp, again) = swept(&dir.0, &[]);
    let err = text(&again.stderr);
    assert!(again.status.success(), "{err}");
    assert!(
        err.contains("is not trusted")
            && err.contains("no recorded checksum")
            && err.contains("training the dense model"),
        "{err}"
    );
    for (m, b) in models.iter().zip(&perturbed) {
        assert!(m.with_extension("sha256").exists(), "checksum not written");
        assert_ne!(std::fs::read(m).unwrap(), *b, "not replaced");
    }
    let after: Vec<_> = seeds.iter().map(|s| rows(&exp.join(s))).collect();
    assert_eq!(after, before);
}
