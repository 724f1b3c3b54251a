//! Finished results are verified wherever they are read: one small finished store is built
//! once, then random edits of its files (a flipped byte, a truncation, a deleted or
//! duplicated line, an edited number, a deleted file) are fed to what `shears runs show`,
//! `shears report` and a rerun read. Every edit must be detected (an error naming the
//! edited file) or provably harmless (the same output as the unedited store).
//!
//! Cases: `SHEARS_FUZZ_CASES` (default 64).

use proptest::prelude::*;
use shears_core::results::StepRow;
use shears_experiment::run_experiment;
use shears_experiment::store::read_experiment;
use shears_experiment::sweep::{GridOptions, Manifest, SweepConfig, run_cells};
use shears_nn::Device;
use shears_nn::train::Devices;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn cases() -> u32 {
    std::env::var("SHEARS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
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

fn sweep() -> SweepConfig {
    SweepConfig::from_toml(SWEEP, "integrity.toml").unwrap()
}

fn devices() -> Devices {
    Devices::new(Device::flex())
}

/// What the readers return, with the wall-clock columns (the only ones a recomputation may
/// change) zeroed; an error as its message.
type Seen<T> = Result<T, String>;

fn timeless(mut rows: Vec<StepRow>) -> Vec<StepRow> {
    for r in &mut rows {
        r.wall_s = 0.0;
        r.cum_wall_s = 0.0;
    }
    rows
}

/// `runs show` of every experiment: its config text and committed rows.
fn show(dir: &Path) -> Seen<Vec<(String, Vec<StepRow>)>> {
    let m = Manifest::<serde_json::Value>::read(dir).map_err(|e| e.to_string())?;
    m.experiments
        .iter()
        .map(|id| {
            let e = read_experiment(&dir.join("runs").join(id)).map_err(|e| e.to_string())?;
            let rows = e.seeds.into_iter().flat_map(|s| s.rows).collect();
            Ok((e.config_text, rows))
        })
        .collect()
}

/// What `report` reads; runs it would report as missing count as an error (it refuses).
fn report(dir: &Path) -> Seen<(Vec<StepRow>, usize)> {
    let m = Manifest::<serde_json::Value>::read(dir).map_err(|e| e.to_string())?;
    let o = m
        .results(dir, &dir.join("runs"))
        .map_err(|e| e.to_string())?;
    if !o.missing.is_empty() {
        return Err(o.missing.join("; "));
    }
    Ok((o.rows, o.failed.len()))
}

/// A rerun of every experiment of the grid.
fn rerun(dir: &Path) -> Seen<Vec<StepRow>> {
    let mut rows = Vec::new();
    for cell in sweep().cells().unwrap() {
        let r = run_experiment(&cell.config, &dir.join("runs"), &devices(), &mut |_| {})
            .map_err(|e| e.to_string())?;
        rows.extend(timeless(r.rows));
    }
    Ok(rows)
}

struct Baseline {
    dir: PathBuf,
    /// Every file of the store, relative to `dir`.
    files: Vec<PathBuf>,
    show: Vec<(String, Vec<StepRow>)>,
    report: (Vec<StepRow>, usize),
    rerun: Vec<StepRow>,
}

fn files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files(root, &p, out);
        } else {
            out.push(p.strip_prefix(root).unwrap().to_path_buf());
        }
    }
}

fn baseline() -> &'static Baseline {
    static B: OnceLock<Baseline> = OnceLock::new();
    B.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("integrity-{}-baseline", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let sweep = sweep();
        let cells = sweep.cells().unwrap();
        let grid = GridOptions {
            jobs: 1,
            retry_failed: false,
            recompute_damaged: false,
        };
        run_cells(&cells, &dir.join("runs"), &grid, &devices(), &|_| {}).unwrap();
        Manifest::new(sweep, &cells, serde_json::json!({}))
            .write(&dir)
            .unwrap();
        let mut all = Vec::new();
        files(&dir, &dir.join("runs"), &mut all);
        all.sort();
        Baseline {
            files: all,
            show: show(&dir).unwrap(),
            report: report(&dir).unwrap(),
            rerun: rerun(&dir).unwrap(),
            dir,
        }
    })
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

#[derive(Debug, Clone)]
enum Edit {
    FlipBit { at: usize, bit: u8 },
    Truncate { at: usize },
    DeleteLine { line: usize },
    DuplicateLine { line: usize },
    ChangeDigit { nth: usize, by: u8 },
    Delete,
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Edit::FlipBit { at, bit }),
        any::<usize>().prop_map(|at| Edit::Truncate { at }),
        any::<usize>().prop_map(|line| Edit::DeleteLine { line }),
        any::<usize>().prop_map(|line| Edit::DuplicateLine { line }),
        (any::<usize>(), 1u8..10).prop_map(|(nth, by)| Edit::ChangeDigit { nth, by }),
        Just(Edit::Delete),
    ]
}

/// Line `k` (modulo the count) of `b` as a byte range, its newline included.
fn line_range(b: &[u8], k: usize) -> std::ops::Range<usize> {
    let mut starts = vec![0];
    starts.extend(
        b.iter()
            .enumerate()
            .filter(|(i, c)| **c == b'\n' && i + 1 < b.len())
            .map(|(i, _)| i + 1),
    );
    let s = starts[k % starts.len()];
    let e = b[s..]
        .iter()
        .position(|c| *c == b'\n')
        .map_or(b.len(), |p| s + p + 1);
    s..e
}

/// Applies `edit` to `path`; false if the file is left as it was.
fn apply(path: &Path, edit: &Edit) -> bool {
    let before = std::fs::read(path).unwrap();
    let mut b = before.clone();
    match *edit {
        Edit::Delete => {
            std::fs::remove_file(path).unwrap();
            return true;
        }
        _ if b.is_empty() => return false,
        Edit::FlipBit { at, bit } => {
            let n = b.len();
            b[at % n] ^= 1 << bit;
        }
        Edit::Truncate { at } => b.truncate(at % b.len()),
        Edit::DeleteLine { line } => {
            b.drain(line_range(&before, line));
        }
        Edit::DuplicateLine { line } => {
            let r = line_range(&before, line);
            let mut l = before[r.clone()].to_vec();
            if l.last() != Some(&b'\n') {
                l.insert(0, b'\n');
            }
            b.splice(r.end..r.end, l);
        }
        Edit::ChangeDigit { nth, by } => {
            let digits: Vec<usize> = (0..b.len()).filter(|&i| b[i].is_ascii_digit()).collect();
            if digits.is_empty() {
                return false;
            }
            let i = digits[nth % digits.len()];
            b[i] = b'0' + (b[i] - b'0' + by) % 10;
        }
    }
    std::fs::write(path, &b).unwrap();
    b != before
}

/// `got` is the baseline's `want`, or an error naming `file`.
fn detected_or_harmless<T: PartialEq + std::fmt::Debug>(
    what: &str,
    got: Seen<T>,
    want: &T,
    file: &Path,
) -> Result<(), TestCaseError> {
    match got {
        Ok(v) => prop_assert!(
            v == *want,
            "{what}: edit of {} not detected and the output changed",
            file.display()
        ),
        Err(e) => prop_assert!(
            e.contains(&file.display().to_string()),
            "{what}: error does not name {}: {e}",
            file.display()
        ),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn every_edit_of_a_finished_store_is_detected_or_harmless(
        pick in any::<usize>(),
        edit in edit(),
    ) {
        let b = baseline();
        let rel = &b.files[pick % b.files.len()];
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("integrity-{}-case", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        copy_dir(&b.dir, &dir);
        let file = dir.join(rel);
        if apply(&file, &edit) {
            detected_or_harmless("runs show", show(&dir), &b.show, &file)?;
            detected_or_harmless("report", report(&dir), &b.report, &file)?;
            // Last: a rerun may write (recompute a run whose state is gone).
            detected_or_harmless("rerun", rerun(&dir), &b.rerun, &file)?;
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// The edits the issue found passing silently, each detected by every reader.
#[test]
fn the_edits_that_used_to_pass_are_errors_naming_the_file() {
    let b = baseline();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("integrity-{}-known", std::process::id()));
    let seed = |d: &Path| {
        let id = &Manifest::<serde_json::Value>::read(d).unwrap().experiments[0];
        d.join("runs").join(id).join("seed-1")
    };
    // What to damage in a seed directory; returns the damaged file.
    type Damage = Box<dyn Fn(&Path) -> PathBuf>;
    let cases: Vec<(&str, Damage)> = vec![
        (
            "emptied steps.csv",
            Box::new(|s: &Path| {
                std::fs::write(s.join("steps.csv"), "").unwrap();
                s.join("steps.csv")
            }),
        ),
        (
            "duplicated row",
            Box::new(|s: &Path| {
                apply(&s.join("steps.jsonl"), &Edit::DuplicateLine { line: 1 });
                s.join("steps.jsonl")
            }),
        ),
        (
            "edited accuracy",
            Box::new(|s: &Path| {
                let p = s.join("steps.jsonl");
                let t = std::fs::read_to_string(&p).unwrap();
                std::fs::write(&p, t.replacen("\"test_top1\":0.", "\"test_top1\":0.9", 1)).unwrap();
                p
            }),
        ),
        (
            "corrupted final checkpoint",
            Box::new(|s: &Path| {
                let p = s.join("step-1.ckpt");
                apply(
                    &p,
                    &Edit::FlipBit {
                        at: 1 << 30,
                        bit: 3,
                    },
                );
                p
            }),
        ),
        (
            "edited config target",
            Box::new(|s: &Path| {
                let p = s.parent().unwrap().join("config.toml");
                let t = std::fs::read_to_string(&p).unwrap();
                std::fs::write(&p, t.replace("target = 0.5", "target = 0.9")).unwrap();
                p
            }),
        ),
    ];
    for (what, damage) in cases {
        let _ = std::fs::remove_dir_all(&dir);
        copy_dir(&b.dir, &dir);
        let file = damage(&seed(&dir));
        let name = file.display().to_string();
        for (reader, got) in [
            ("show", show(&dir).err()),
            ("report", report(&dir).err()),
            ("rerun", rerun(&dir).err()),
        ] {
            let e = got.unwrap_or_else(|| panic!("{what}: {reader} passed it"));
            assert!(
                e.contains(&name) && e.contains("damaged"),
                "{what}: {reader}: {e}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
