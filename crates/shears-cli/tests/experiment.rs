//! `shears prune` when things go wrong: killed (SIGKILL) at any moment, files damaged on disk,
//! two processes on one experiment, a finished experiment asked again. Every case must end
//! with the rows of an uninterrupted run, or with a clear error naming the file — never with
//! a silently different result.
//!
//! The experiment is the geometric example shrunk for speed (LeNet-300-100 on the embedded
//! data, 2 dense epochs, 4 steps to 80%, at most 3 fine-tuning epochs per step).

use serde_json::Value;
use shears_experiment::store::{RunDir, RunState};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Prunable entries of LeNet-300-100 (weights and biases).
const N: u64 = 266_610;
const STEPS: usize = 4;
const FAST: &[&str] = &[
    "-s",
    "dense.epochs=2",
    "-s",
    "finetune.max_epochs=3",
    "-s",
    "finetune.patience=1",
    "-s",
    "schedule.step=0.4",
];

/// A fresh directory under the target's temp dir, removed when it drops after a passing test
/// (kept for inspection after a failure).
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("experiment-cli-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn scratch(name: &str) -> Scratch {
    Scratch::new(name)
}

/// Stops (SIGSTOP) or continues (SIGCONT) a process: a stopped run holds its lock.
fn signal(child: &Child, sig: libc::c_int) {
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, sig) };
    assert_eq!(rc, 0, "kill({}, {sig})", child.id());
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

/// `shears prune` of the small geometric experiment into `out`, with `extra` arguments.
fn prune_args(out: &Path, extra: &[&str]) -> Vec<String> {
    let mut a = vec![
        "prune".into(),
        "--config".into(),
        example("geometric-80.toml"),
    ];
    a.extend(FAST.iter().chain(extra).map(|s| s.to_string()));
    a.extend(["--store".into(), out.to_str().unwrap().to_string()]);
    a
}

#[derive(Debug)]
enum Line {
    Out(String),
    Err(String),
}

impl Line {
    /// The step of a result line (`seed step removed sparsity ...`), if it is one.
    fn step(&self) -> Option<usize> {
        let Line::Out(s) = self else { return None };
        let t: Vec<&str> = s.split_whitespace().collect();
        (t.len() == 9 && t[0].parse::<u64>().is_ok())
            .then(|| t[1].parse().ok())
            .flatten()
    }

    fn err_contains(&self, needle: &str) -> bool {
        matches!(self, Line::Err(s) if s.contains(needle))
    }
}

/// A `shears` process whose stdout and stderr are read line by line as they come.
struct Running {
    child: Child,
    rx: Receiver<Line>,
    log: Vec<Line>,
}

fn spawn(args: &[String]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shears"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start shears");
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(Line::Out(l));
        }
    });
    std::thread::spawn(move || {
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx2.send(Line::Err(l));
        }
    });
    Running {
        child,
        rx,
        log: Vec::new(),
    }
}

impl Running {
    /// Reads output until a line satisfies `hit` (true) or the process closes its output
    /// (false).
    fn wait_for(&mut self, hit: impl Fn(&Line) -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            match self
                .rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(l) => {
                    let found = hit(&l);
                    self.log.push(l);
                    if found {
                        return true;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return false,
                Err(RecvTimeoutError::Timeout) => panic!("no progress: {:?}", self.log),
            }
        }
    }

    /// SIGKILL (what `Child::kill` sends on Unix); the process must still have been running.
    fn kill(mut self) -> Vec<Line> {
        assert!(
            self.child.try_wait().unwrap().is_none(),
            "finished before it could be killed: {:?}",
            self.log
        );
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.log.extend(self.rx.iter());
        self.log
    }

    fn finish(mut self) -> Finished {
        self.log.extend(self.rx.iter());
        let status = self.child.wait().unwrap();
        let text = |out: bool| {
            self.log
                .iter()
                .filter_map(|l| match (l, out) {
                    (Line::Out(s), true) | (Line::Err(s), false) => Some(format!("{s}\n")),
                    _ => None,
                })
                .collect::<String>()
        };
        Finished {
            status,
            stdout: text(true),
            stderr: text(false),
        }
    }
}

struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Finished {
    /// The experiment directory: the last stdout line of a successful run.
    fn dir(&self) -> PathBuf {
        assert!(self.status.success(), "{}\n{}", self.stdout, self.stderr);
        PathBuf::from(self.stdout.lines().last().expect("stdout"))
    }

    /// A clear failure: non-zero exit, `needle` in the message, no panic.
    fn fails_with(&self, needle: &str) {
        assert!(!self.status.success(), "succeeded: {}", self.stdout);
        assert!(
            self.stderr.contains(needle),
            "stderr lacks '{needle}': {}",
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
    }
}

fn run(args: &[String]) -> Finished {
    spawn(args).finish()
}

/// The uninterrupted run every other one is compared with (made once per test binary).
fn reference() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // Kept: every test compares with it.
        let out = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("experiment-cli-{}-reference", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let f = run(&prune_args(&out, &[]));
        let dir = f.dir();
        assert!(
            f.stderr.contains("training the dense model"),
            "{}",
            f.stderr
        );
        assert_eq!(steps_printed(&f.stdout), (1..=STEPS).collect::<Vec<_>>());
        dir
    })
}

fn steps_printed(stdout: &str) -> Vec<usize> {
    stdout
        .lines()
        .filter_map(|l| Line::Out(l.to_string()).step())
        .collect()
}

fn seed_dir(exp: &Path) -> PathBuf {
    exp.join("seed-0")
}

fn rows(exp: &Path) -> Vec<Value> {
    let path = seed_dir(exp).join("steps.jsonl");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn state(exp: &Path) -> RunState {
    let text = std::fs::read_to_string(seed_dir(exp).join("state.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

const WALL: [&str; 2] = ["wall_s", "cum_wall_s"];

/// Same rows except the wall-clock fields; numbers compared bit for bit.
fn assert_same_rows(expected: &[Value], got: &[Value], what: &str) {
    assert_eq!(expected.len(), got.len(), "{what}: row count");
    for (e, g) in expected.iter().zip(got) {
        let (e, g) = (e.as_object().unwrap(), g.as_object().unwrap());
        assert_eq!(
            e.keys().collect::<Vec<_>>(),
            g.keys().collect::<Vec<_>>(),
            "{what}"
        );
        for (k, ev) in e {
            let gv = &g[k];
            if WALL.contains(&k.as_str()) {
                assert!(gv.as_f64().is_some_and(|w| w >= 0.0), "{what}: {k} = {gv}");
            } else if let (Some(a), Some(b)) = (ev.as_f64(), gv.as_f64()) {
                assert_eq!(
                    (a.to_bits(), ev.is_f64()),
                    (b.to_bits(), gv.is_f64()),
                    "{what}: step {} {k}: {ev} vs {gv}",
                    e["step"]
                );
            } else {
                assert_eq!(ev, gv, "{what}: step {} {k}", e["step"]);
            }
        }
    }
}

/// The weights of a stored checkpoint, with its header.
fn weights(path: &Path) -> (shears_nn::checkpoint::CheckpointMeta, Vec<Vec<u32>>) {
    let (model, meta) =
        shears_nn::checkpoint::load(path, None, &shears_nn::Device::flex()).unwrap();
    let params = shears_nn::prune::prunable(&meta.model, true);
    let values = shears_nn::prune::read(&model, &params).unwrap();
    let bits = values
        .into_iter()
        .map(|v| v.into_iter().map(f32::to_bits).collect())
        .collect();
    (meta, bits)
}

/// Rows, final weights and final masks equal to the reference run's.
fn assert_same_as_reference(exp: &Path, what: &str) {
    let a = reference();
    assert_eq!(a.file_name(), exp.file_name(), "{what}: experiment id");
    assert_same_rows(&rows(a), &rows(exp), what);
    let s = state(exp);
    assert!(s.finished && s.completed_step == STEPS, "{what}: {s:?}");
    let last = format!("step-{STEPS}");
    assert!(
        weights(&seed_dir(a).join(format!("{last}.ckpt")))
            == weights(&seed_dir(exp).join(format!("{last}.ckpt"))),
        "{what}: final weights differ"
    );
    assert_eq!(
        std::fs::read(seed_dir(a).join(format!("{last}.masks.json"))).unwrap(),
        std::fs::read(seed_dir(exp).join(format!("{last}.masks.json"))).unwrap(),
        "{what}: final masks differ"
    );
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// No temp file or lock left behind, and every JSON file of the store parses.
fn assert_clean_store(out: &Path) {
    for p in files(out) {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "left behind: {}", p.display());
        assert!(name != ".lock", "lock left behind: {}", p.display());
        let text = || std::fs::read_to_string(&p).unwrap();
        if name.ends_with(".json") {
            serde_json::from_str::<Value>(&text())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        } else if name.ends_with(".jsonl") {
            for l in text().lines() {
                serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            }
        } else if name == "config.toml" {
            shears_experiment::ExperimentConfig::parse_stored(&text())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        }
    }
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

/// Kills a fresh run in `out` once step `k` has been reported, and returns the experiment
/// directory with the step it had committed.
fn interrupted(out: &Path, k: usize) -> (PathBuf, usize) {
    let mut p = spawn(&prune_args(out, &[]));
    assert!(p.wait_for(|l| l.step().is_some_and(|s| s >= k)));
    let log = p.kill();
    let id = log
        .iter()
        .find_map(|l| match l {
            Line::Out(s) => s.strip_prefix("experiment ")?.split_whitespace().next(),
            _ => None,
        })
        .expect("experiment id line")
        .to_string();
    let exp = out.join(id);
    let c = state(&exp).completed_step;
    assert!(c >= k && c < STEPS, "committed {c}");
    (exp, c)
}

/// Makes the weights of a checkpoint garbage while it still parses: flips an exponent bit of
/// non-zero values (zeros would be caught as "pruned entries are not zero").
fn flip_weights(path: &Path) {
    let mut b = std::fs::read(path).unwrap();
    let header = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
    let start = 8 + header;
    let mut flipped = 0;
    let mut off = start + (b.len() - start) / 2 / 4 * 4;
    while flipped < 20 && off + 4 <= b.len() {
        if f32::from_le_bytes(b[off..off + 4].try_into().unwrap()) != 0.0 {
            b[off + 3] ^= 0x08;
            flipped += 1;
        }
        off += 4;
    }
    assert_eq!(flipped, 20);
    std::fs::write(path, b).unwrap();
}

#[test]
fn sigkill_at_any_moment_then_rerun_gives_the_uninterrupted_rows() {
    let out = scratch("sigkill");
    let args = prune_args(&out, &[]);

    // Moments inside long phases, as fractions of how long the reference run took there.
    let a = reference();
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(
            files(a.parent().unwrap())
                .into_iter()
                .find(|p| p.ends_with("report.json"))
                .unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let dense_s = report["seconds"].as_f64().unwrap();
    let step_s = rows(a)[2]["wall_s"].as_f64().unwrap();

    // 1. During dense training.
    let mut p = spawn(&args);
    assert!(p.wait_for(|l| l.err_contains("training the dense model")));
    std::thread::sleep(Duration::from_secs_f64(dense_s * 0.15));
    p.kill();
    let dense: Vec<_> = files(&out)
        .into_iter()
        .filter(|p| p.ends_with("model.ckpt"))
        .collect();
    assert!(dense.is_empty(), "dense model already stored: {dense:?}");

    // 2. As soon as step 1 is reported: a reported step is a committed step.
    let exp = out.join(a.file_name().unwrap());
    let mut p = spawn(&args);
    assert!(p.wait_for(|l| l.step().is_some()));
    let log = p.kill();
    assert!(
        log.iter()
            .any(|l| l.err_contains("training the dense model")),
        "the killed dense training is redone: {log:?}"
    );
    let s = state(&exp);
    assert!(!s.finished && s.completed_step >= 1, "{s:?}");

    // 3. In the middle of a step, with three steps to go.
    let mut p = spawn(&args);
    assert!(p.wait_for(|l| l.err_contains("resuming after step")));
    std::thread::sleep(Duration::from_secs_f64(step_s * 0.4));
    p.kill();
    assert!(!state(&exp).finished);

    // 4-5. As soon as the next step, and then step 3, are reported.
    for k in [0, 3] {
        let c = state(&exp).completed_step;
        let k = k.max(c + 1);
        if k >= STEPS {
            continue;
        }
        let mut p = spawn(&args);
        assert!(p.wait_for(|l| l.step().is_some_and(|s| s >= k)), "k={k}");
        p.kill();
        let s = state(&exp);
        assert!(!s.finished && s.completed_step >= k, "k={k}: {s:?}");
    }

    // 6. To the end.
    let f = run(&args);
    assert_eq!(f.dir(), exp);
    assert!(f.stderr.contains("resuming after step"), "{}", f.stderr);
    assert!(
        !f.stderr.contains("training the dense model"),
        "{}",
        f.stderr
    );
    assert_same_as_reference(&exp, "killed 4 or 5 times");
    assert_clean_store(&out);
}

#[test]
fn a_damaged_newest_checkpoint_is_recovered_from_the_step_before() {
    let out = scratch("damaged");
    let (exp, c) = interrupted(&out, 2);
    // Three copies of the interrupted store, each damaged differently.
    let cases = ["flipped", "truncated", "masks"];
    let mut dirs = Vec::new();
    for case in cases {
        let copy = scratch(&format!("damaged-{case}"));
        copy_dir(&out, &copy);
        let exp = copy.join(exp.file_name().unwrap());
        let seed = seed_dir(&exp);
        let ckpt = seed.join(format!("step-{c}.ckpt"));
        match case {
            "flipped" => flip_weights(&ckpt),
            "truncated" => {
                let b = std::fs::read(&ckpt).unwrap();
                std::fs::write(&ckpt, &b[..b.len() / 2]).unwrap();
            }
            _ => std::fs::write(seed.join(format!("step-{c}.masks.json")), b"[{\"x\":").unwrap(),
        }
        dirs.push((case, copy, exp));
    }
    for (case, copy, exp) in dirs {
        let f = run(&prune_args(&copy, &[]));
        assert_eq!(f.dir(), exp, "{case}");
        let damaged = if case == "masks" {
            format!("step-{c}.masks.json")
        } else {
            format!("step-{c}.ckpt")
        };
        assert!(
            f.stderr.contains(&damaged)
                && f.stderr.contains(&format!("resuming from step {}", c - 1)),
            "{case}: {}",
            f.stderr
        );
        assert_same_as_reference(&exp, case);
        assert_clean_store(&copy);
    }

    // Both kept steps damaged: nothing to recover from, so a clear error and no change.
    let seed = seed_dir(&exp);
    flip_weights(&seed.join(format!("step-{c}.ckpt")));
    flip_weights(&seed.join(format!("step-{}.ckpt", c - 1)));
    let before = std::fs::read(seed.join("state.json")).unwrap();
    let f = run(&prune_args(&out, &[]));
    f.fails_with(&seed.join(format!("step-{c}.ckpt")).display().to_string());
    assert_eq!(std::fs::read(seed.join("state.json")).unwrap(), before);
}

#[test]
fn garbage_state_or_rows_is_a_clear_error_naming_the_file() {
    let a = reference();
    // (file, content, finished run?)
    let cases: &[(&str, &[u8], bool)] = &[
        (
            "state.json",
            b"{\"schema_version\": 1, \"completed_st",
            true,
        ),
        ("state.json", b"not json at all", false),
        (
            "state.json",
            b"{\"schema_version\": 1, \"completed_step\": \"x\"}",
            true,
        ),
        ("steps.jsonl", b"{\"experiment\": 12}\n", true),
        ("steps.jsonl", b"garbage\n", false),
        ("steps.jsonl", b"", false),
    ];
    for (i, (file, content, finished)) in cases.iter().enumerate() {
        let out = scratch(&format!("garbage-{i}"));
        copy_dir(a.parent().unwrap(), &out);
        let exp = out.join(a.file_name().unwrap());
        let seed = seed_dir(&exp);
        if !finished {
            // An unfinished run: the state of the step before the last (its files are kept).
            let mut s = state(&exp);
            s.completed_step = STEPS - 1;
            s.finished = false;
            // Written as the runner writes it (with its digest), so it is a valid state.
            RunDir { dir: seed.clone() }.write_state(&s).unwrap();
        }
        let path = seed.join(file);
        std::fs::write(&path, content).unwrap();
        let what = format!("{file} = {:?}", String::from_utf8_lossy(content));
        let f = run(&prune_args(&out, &[]));
        f.fails_with(&path.display().to_string());
        assert!(
            !f.stderr.contains("training") && steps_printed(&f.stdout).is_empty(),
            "{what}: {}",
            f.stderr
        );
        assert_eq!(std::fs::read(&path).unwrap(), *content, "{what}: rewritten");
        // `runs show` does not pass a damaged run off as a short one either.
        let id = exp.file_name().unwrap().to_str().unwrap();
        let show = Command::new(env!("CARGO_BIN_EXE_shears"))
            .args(["runs", "show", id, "--out", out.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&show.stderr);
        assert!(!show.status.success(), "{what}: runs show succeeded");
        assert!(
            stderr.contains(&path.display().to_string()) && !stderr.contains("panicked"),
            "{what}: {stderr}"
        );
    }
}

#[test]
fn a_finished_experiment_is_served_from_the_store_without_training() {
    let a = reference();
    let out = scratch("cached");
    copy_dir(a.parent().unwrap(), &out);
    let exp = out.join(a.file_name().unwrap());
    let rows_path = seed_dir(&exp).join("steps.jsonl");
    let before = std::fs::read(&rows_path).unwrap();
    let modified = std::fs::metadata(&rows_path).unwrap().modified().unwrap();
    // The same experiment spelled differently: 0.80, repeated and reordered overrides.
    let args = prune_args(
        &out,
        &[
            "-s",
            "schedule.target=0.80",
            "-s",
            "finetune.patience=[1]",
            "-s",
            "finetune.carry=best",
        ],
    );
    let t0 = Instant::now();
    let f = run(&args);
    let took = t0.elapsed();
    assert_eq!(f.dir(), exp);
    assert!(
        f.stderr.contains("already finished (stored result)"),
        "{}",
        f.stderr
    );
    for word in ["training the dense model", "reusing dense", "resuming"] {
        assert!(!f.stderr.contains(word), "{}", f.stderr);
    }
    assert!(steps_printed(&f.stdout).is_empty(), "{}", f.stdout);
    let last = rows(a).pop().unwrap();
    let top1 = format!("{:.2}%", last["test_top1"].as_f64().unwrap() * 100.0);
    assert!(
        f.stdout.contains("final seed 0:") && f.stdout.contains(&top1),
        "{}",
        f.stdout
    );
    assert_eq!(std::fs::read(&rows_path).unwrap(), before);
    assert_eq!(
        std::fs::metadata(&rows_path).unwrap().modified().unwrap(),
        modified
    );
    assert!(took < Duration::from_secs(20), "{took:?}");
    assert_clean_store(&out);

    // Another target is another experiment (killed once it has said which).
    let mut p = spawn(&prune_args(&out, &["-s", "schedule.target=0.7"]));
    assert!(p.wait_for(|l| matches!(l, Line::Out(s) if s.starts_with("experiment "))));
    let log = p.kill();
    let Line::Out(first) = &log[0] else {
        panic!("{log:?}")
    };
    let id = a.file_name().unwrap().to_str().unwrap();
    assert!(!first.contains(id), "{first} vs {id}");
}

#[test]
fn a_second_process_on_a_running_experiment_is_refused_and_harmless() {
    let out = scratch("two");
    let args = prune_args(&out, &[]);
    let mut first = spawn(&args);
    // While the first trains the dense model, and again while it prunes; it is stopped
    // (SIGSTOP) meanwhile, so it cannot finish first however fast the machine.
    assert!(first.wait_for(|l| l.err_contains("training the dense model")));
    signal(&first.child, libc::SIGSTOP);
    run(&args).fails_with("locked");
    signal(&first.child, libc::SIGCONT);
    assert!(first.wait_for(|l| l.step() == Some(1)));
    signal(&first.child, libc::SIGSTOP);
    run(&args).fails_with("locked");
    signal(&first.child, libc::SIGCONT);
    let f = first.finish();
    let exp = f.dir();
    assert_same_as_reference(&exp, "with intruders");
    assert_clean_store(&out);
    // Once it is done, the next one gets the stored result.
    let again = run(&args);
    assert_eq!(again.dir(), exp);
    assert!(
        again.stderr.contains("already finished"),
        "{}",
        again.stderr
    );
}

#[test]
fn each_step_reaches_its_planned_sparsity_and_the_last_the_exact_target() {
    // The geometric example as written (8 steps of 20%), fine-tuning cut to one epoch.
    let out = scratch("sparsity");
    let mut args = vec![
        "prune".to_string(),
        "--config".into(),
        example("geometric-80.toml"),
    ];
    for s in ["dense.epochs=1", "finetune.max_epochs=1"] {
        args.extend(["-s".to_string(), s.to_string()]);
    }
    args.extend(["--out".into(), out.to_str().unwrap().into()]);
    let exp = run(&args).dir();
    let rows = rows(&exp);
    // The plan the schedule command prints.
    let plan = Command::new(env!("CARGO_BIN_EXE_shears"))
        .args([
            "schedule",
            "geometric",
            "--target",
            "0.8",
            "--step",
            "0.2",
            "--json",
        ])
        .output()
        .unwrap();
    let plan: Value = serde_json::from_slice(&plan.stdout).unwrap();
    let cumulative: Vec<f64> = plan["cumulative"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(cumulative.len(), 8);
    assert_eq!(rows.len(), 9);
    let mut zeros_before = 0;
    for (i, row) in rows.iter().enumerate() {
        let f = |k: &str| row[k].as_f64().unwrap();
        assert_eq!(row["step"].as_u64().unwrap() as usize, i);
        let planned = if i == 0 { 0.0 } else { cumulative[i - 1] };
        assert_eq!(
            f("planned_sparsity").to_bits(),
            planned.to_bits(),
            "step {i}"
        );
        let sparsity = f("sparsity");
        assert!(
            (sparsity - planned).abs() <= 1.0 / N as f64,
            "step {i}: {sparsity} vs planned {planned}"
        );
        // A whole number of zeros, growing every step; LeNet-300-100 is all prunable.
        let zeros = (sparsity * N as f64).round() as u64;
        assert!((sparsity * N as f64 - zeros as f64).abs() < 1e-6);
        assert_eq!(row["remaining_params"].as_u64().unwrap(), N - zeros);
        assert!(i == 0 || zeros > zeros_before, "step {i}");
        zeros_before = zeros;
    }
    let target_zeros = (0.8 * N as f64).floor();
    assert_eq!(
        rows[8]["sparsity"].as_f64().unwrap().to_bits(),
        (target_zeros / N as f64).to_bits()
    );
}

#[test]
fn config_mistakes_stop_before_anything_is_written() {
    let out = scratch("config-errors");
    let store = out.join("store");
    let store_arg = store.to_str().unwrap();
    let geometric = example("geometric-80.toml");
    let cases: &[(&[&str], &str)] = &[
        (&["-s", "finetune.patiense=3"], "finetune.patiense"),
        (&["-s", "schedule.target=1.2"], "schedule.target"),
        (&["-s", "finetune.min_delta=-1"], "finetune.min_delta"),
        (&["-s", "finetune.patience=-2"], "finetune.patience"),
        (&["-s", "seeds=[]"], "seeds"),
        (&["-s", "finetune.patience"], "finetune.patience"),
        (
            &["-s", "schedule.kind=constant", "-s", "schedule.steps=0"],
            "schedule.steps must be in 1..=100000, got 0",
        ),
        // A schedule that cannot reach its target in a bounded number of steps.
        (
            &["-s", "schedule.step=0.0000001"],
            "geometric schedule would need",
        ),
        // A manual per-layer schedule with 4 values for LeNet-300-100's 6 prunable tensors.
        (
            &[
                "-s",
                "prune.scope=layer-wise",
                "-s",
                "prune.per_layer=[[0.5, 0.2, 0.1, 0.1]]",
            ],
            "prune.per_layer: manual step 0 has 4 values; expected 1 (broadcast) or 6",
        ),
        (
            &["-s", "prune.per_layer=[[0.5]]"],
            "prune.per_layer: a per-layer schedule fixes each tensor's amount",
        ),
        (
            &[
                "-s",
                "prune.scope=layer-wise",
                "-s",
                "prune.per_layer=[[0.6], [0.5]]",
            ],
            "prune.per_layer: ",
        ),
    ];
    let missing: &[&str] = &["--config", "/nonexistent/x.toml"];
    let cases = cases
        .iter()
        .map(|(extra, needle)| {
            let mut a = vec!["prune", "--config", geometric.as_str()];
            a.extend_from_slice(extra);
            (a, *needle)
        })
        .chain([([&["prune"][..], missing].concat(), "/nonexistent/x.toml")]);
    for (mut args, needle) in cases {
        let extra = args.clone();
        args.extend_from_slice(&["--out", store_arg]);
        let out = Command::new(env!("CARGO_BIN_EXE_shears"))
            .args(&args)
            .output()
            .unwrap();
        let f = Finished {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        };
        f.fails_with(needle);
        assert_eq!(f.status.code(), Some(2));
        assert!(!store.exists(), "{extra:?} wrote {}", store.display());
    }
    // The good spellings of patience work (printing the resolved config).
    for p in ["finetune.patience=10", "finetune.patience=[20,2]"] {
        let out = Command::new(env!("CARGO_BIN_EXE_shears"))
            .args(["prune", "-s", p, "--print-config", "--out", store_arg])
            .output()
            .unwrap();
        assert!(out.status.success(), "{p}");
        let text = String::from_utf8(out.stdout).unwrap();
        let c = shears_experiment::ExperimentConfig::parse_stored(&text).unwrap();
        let want: Vec<usize> = if p.ends_with("10") {
            vec![10]
        } else {
            vec![20, 2]
        };
        assert_eq!(c.finetune.patience, want);
    }
}

#[test]
fn sigint_or_sigterm_stops_at_a_safe_point_and_says_how_to_resume() {
    let out = scratch("sigint");
    let args = prune_args(&out, &[]);
    let exp = out.join(reference().file_name().unwrap());
    for (sig, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM")] {
        let mut p = spawn(&args);
        // In the middle of fine-tuning the step after the first one reported.
        assert!(p.wait_for(|l| l.step().is_some()), "{name}");
        signal(&p.child, sig);
        let f = p.finish();
        assert_eq!(f.status.code(), Some(130), "{name}: {}", f.stderr);
        assert!(
            f.stderr.contains("run the same command again to resume")
                && f.stderr.contains("geometric-80.toml"),
            "{name}: {}",
            f.stderr
        );
        assert!(!f.stderr.contains("panicked"), "{}", f.stderr);
        let s = state(&exp);
        assert!(!s.finished && s.completed_step >= 1, "{name}: {s:?}");
        assert_clean_store(&out);
    }
    let f = run(&args);
    assert_eq!(f.dir(), exp);
    assert!(f.stderr.contains("resuming after step"), "{}", f.stderr);
    assert_same_as_reference(&exp, "stopped by SIGINT, then by SIGTERM");
}

#[test]
fn sigint_during_train_stops_cleanly_and_says_nothing_was_written() {
    let out = scratch("train-int").join("dense.ckpt");
    let args: Vec<String> = [
        "train",
        "--model",
        "lenet5",
        "--data",
        "fashion-mnist-mini",
        "--epochs",
        "50",
        "--out",
    ]
    .into_iter()
    .map(String::from)
    .chain([out.to_str().unwrap().to_string()])
    .collect();
    let mut p = spawn(&args);
    assert!(p.wait_for(|l| l.err_contains("epoch   1")), "{:?}", p.log);
    signal(&p.child, libc::SIGINT);
    let f = p.finish();
    assert_eq!(f.status.code(), Some(130), "{}", f.stderr);
    assert!(
        f.stderr.contains("nothing was written")
            && f.stderr.contains("train from the start")
            && !f.stderr.contains("resume"),
        "{}",
        f.stderr
    );
    assert!(!f.stderr.contains("panicked"), "{}", f.stderr);
    assert!(!out.exists(), "a checkpoint was written");
    let left = std::fs::read_dir(out.parent().unwrap()).map_or(0, |d| d.count());
    assert_eq!(left, 0, "files left beside the checkpoint path");
}

#[test]
fn a_damaged_dense_model_fails_its_checksum_and_is_trained_again_to_the_same_result() {
    let out = scratch("dense-damaged");
    let args = prune_args(&out, &[]);
    let f = run(&args);
    let exp = f.dir();
    let model = files(&out)
        .into_iter()
        .find(|p| p.ends_with("model.ckpt"))
        .expect("a stored dense model");
    assert!(
        model.with_extension("sha256").exists(),
        "no checksum stored"
    );
    // Flip one byte deep in the weights (the header stays valid), and start the experiment
    // over so it needs the dense model again.
    let mut bytes = std::fs::read(&model).unwrap();
    let at = bytes.len() - 1000;
    bytes[at] ^= 0x40;
    std::fs::write(&model, &bytes).unwrap();
    std::fs::remove_dir_all(&exp).unwrap();

    let f = run(&args);
    assert!(f.status.success(), "{}", f.stderr);
    assert!(
        f.stderr.contains("does not match its recorded checksum")
            && f.stderr.contains("training the dense model"),
        "{}",
        f.stderr
    );
    assert_ne!(std::fs::read(&model).unwrap(), bytes, "not replaced");
    assert_same_as_reference(&f.dir(), "after retraining a damaged dense model");
    assert_clean_store(&out);
}

#[test]
fn locks_left_by_a_killed_process_on_finished_work_are_cleared_on_rerun() {
    let out = scratch("stale-lock");
    let args = prune_args(&out, &[]);
    let exp = run(&args).dir();
    // What a process killed between its last write and releasing its locks leaves behind.
    let model = files(&out)
        .into_iter()
        .find(|p| p.ends_with("model.ckpt"))
        .expect("a stored dense model");
    for dir in [seed_dir(&exp), model.parent().unwrap().to_path_buf()] {
        std::fs::write(dir.join(".lock"), "999999").unwrap();
    }
    let f = run(&args);
    assert!(f.status.success(), "{}", f.stderr);
    assert!(f.stderr.contains("already finished"), "{}", f.stderr);
    assert!(!seed_dir(&exp).join(".lock").exists(), "run lock left");
    // The dense model is not needed for a finished run; a new experiment with the same dense
    // recipe reuses it and clears its lock.
    let f = run(&prune_args(&out, &["-s", "schedule.target=0.7"]));
    assert!(f.stderr.contains("reusing dense model"), "{}", f.stderr);
    assert_clean_store(&out);
}

#[test]
fn a_full_disk_is_a_clear_error_and_the_store_stays_consistent() {
    use std::os::unix::process::CommandExt;
    let out = scratch("full-disk");
    let args = prune_args(&out, &[]);
    // A file-size limit makes every write past 200 kB fail as a full disk would (EFBIG
    // instead of ENOSPC): the first checkpoint (1 MB) cannot be stored.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shears"));
    cmd.args(&args);
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 200_000,
                rlim_max: 200_000,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    let o = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("out of disk space") && stderr.contains("model.ckpt"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        !files(&out).iter().any(|p| p.ends_with("model.ckpt")),
        "a checkpoint was stored"
    );
    assert_clean_store(&out);
    // With room again, the same command gives the uninterrupted result.
    let f = run(&args);
    assert_same_as_reference(&f.dir(), "after a full disk");
    assert_clean_store(&out);
}

#[test]
fn an_unwritable_output_directory_is_refused_before_any_work() {
    let base = scratch("unwritable");
    let file = base.join("not-a-directory");
    std::fs::write(&file, "x").unwrap();
    let f = run(&prune_args(&file.join("runs"), &[]));
    f.fails_with("not-a-directory");
    assert!(
        !f.stderr.contains("training the dense model"),
        "{}",
        f.stderr
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}

#[test]
fn a_manual_per_layer_schedule_removes_each_tensors_planned_share() {
    let out = scratch("manual");
    let steps: [[f64; 6]; 2] = [
        [0.5, 0.5, 0.3, 0.3, 0.1, 0.0],
        [0.2, 0.0, 0.2, 0.0, 0.1, 0.0],
    ];
    let per_layer = format!("prune.per_layer={steps:?}");
    let f = run(&prune_args(
        &out,
        &["-s", "prune.scope=layer-wise", "-s", &per_layer],
    ));
    let exp = f.dir();
    let spec = shears_nn::models::ModelSpec {
        kind: shears_nn::models::ModelKind::LeNet300,
        input: [1, 28, 28],
        classes: 10,
        shape: None,
    };
    let sizes: Vec<usize> = shears_nn::prune::prunable(&spec, true)
        .iter()
        .map(|p| p.shape.iter().product())
        .collect();
    assert_eq!(sizes.len(), 6);
    let rows = rows(&exp);
    assert_eq!(rows.len(), 3, "baseline + 2 manual steps");
    let mut zeros = 0;
    for (i, step) in steps.iter().enumerate() {
        zeros += step
            .iter()
            .zip(&sizes)
            .map(|(&v, &n)| shears_core::masks::removal_count(n, v))
            .sum::<usize>();
        let r = &rows[i + 1];
        assert_eq!(r["regime"], "manual");
        let sparsity = r["sparsity"].as_f64().unwrap();
        assert_eq!(sparsity, zeros as f64 / N as f64, "step {}", i + 1);
    }
    // The last weights: every tensor has exactly its planned zeros.
    let (_, bits) = weights(&seed_dir(&exp).join("step-2.ckpt"));
    for (l, (b, &n)) in bits.iter().zip(&sizes).enumerate() {
        let planned: usize = steps
            .iter()
            .map(|s| shears_core::masks::removal_count(n, s[l]))
            .sum();
        let z = b.iter().filter(|&&x| f32::from_bits(x) == 0.0).count();
        assert_eq!(z, planned, "tensor {l}");
    }
}

#[test]
fn two_fresh_runs_with_the_same_seed_give_bit_identical_results() {
    // Same machine, same thread count (inherited), a store of its own: nothing is reused.
    let out = scratch("twice");
    let f = run(&prune_args(&out, &[]));
    assert!(
        f.stderr.contains("training the dense model"),
        "{}",
        f.stderr
    );
    assert_same_as_reference(&f.dir(), "a second fresh run");
}

#[test]
fn a_diverging_prune_run_is_recorded_and_reported_on_rerun() {
    let out = scratch("diverge");
    let args = prune_args(&out, &["-s", "finetune.lr=1e30"]);
    let f = run(&args);
    f.fails_with("1 of 1 seed failed (seed 0)");
    assert_eq!(f.status.code(), Some(2));
    assert!(
        f.stderr.contains("seed 0: failed: training diverged"),
        "{}",
        f.stderr
    );
    // The run directory is still printed, and holds the failure with its reason.
    let exp = PathBuf::from(f.stdout.lines().last().unwrap());
    let failure: Value =
        serde_json::from_str(&std::fs::read_to_string(seed_dir(&exp).join("failed.json")).unwrap())
            .unwrap();
    assert_eq!(failure["completed_step"], 0, "{failure}");
    assert!(failure["reason"].as_str().unwrap().contains("diverged"));
    assert_clean_store(&out);
    // A rerun reports the stored failure without training again.
    let again = run(&args);
    again.fails_with("failed earlier (stored; --retry-failed to run it again)");
    assert!(
        !again.stderr.contains("training the dense model"),
        "{}",
        again.stderr
    );
}

/// A small sweep: 2 regimes x 2 targets, one seed, short dense training and fine-tuning.
const SWEEP: &str = r#"
targets = [0.5, 0.8]
seeds = [0]
[base.model]
kind = "lenet300"
[base.dense]
epochs = 3
[base.finetune]
mode = "epochs"
epochs = 2
[regimes]
one-shot = ["schedule.kind=one-shot"]
geometric = ["schedule.kind=geometric", "schedule.steps=3"]
"#;

fn sweep_args(config: &Path, out: &Path) -> Vec<String> {
    ["sweep", "--config", config.to_str().unwrap()]
        .into_iter()
        .map(String::from)
        .chain(["--out".into(), out.to_str().unwrap().to_string()])
        .collect()
}

/// Removes the measured wall-clock fields of a summary, recursively.
fn strip_wall(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.retain(|k, _| !WALL.contains(&k.as_str()) && k != "wall_s");
            o.values_mut().for_each(strip_wall);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_wall),
        _ => {}
    }
}

fn is_result_line(l: &Line) -> bool {
    matches!(l, Line::Out(s) if s.starts_with("one-shot") || s.starts_with("geometric"))
}

#[test]
fn sigkill_during_a_sweep_then_rerun_gives_the_uninterrupted_report() {
    let dir = scratch("sweep-kill");
    let config = dir.join("sweep.toml");
    std::fs::write(&config, SWEEP).unwrap();
    let (reference, killed) = (dir.join("reference"), dir.join("killed"));
    let f = run(&sweep_args(&config, &reference));
    assert!(f.status.success(), "{}", f.stderr);
    assert_eq!(
        f.stdout
            .lines()
            .filter(|l| is_result_line(&Line::Out(l.to_string())))
            .count(),
        4
    );

    let args = sweep_args(&config, &killed);
    // 1. During dense training.
    let mut p = spawn(&args);
    assert!(p.wait_for(|l| l.err_contains("training the dense model")));
    std::thread::sleep(Duration::from_millis(300));
    p.kill();
    // 2-3. As soon as the first, then the next, finished run is printed.
    for _ in 0..2 {
        let mut p = spawn(&args);
        assert!(p.wait_for(is_result_line), "{:?}", p.log);
        p.kill();
        assert_store_parses(&killed);
    }
    // 4. To the end.
    let f = run(&args);
    assert!(f.status.success(), "{}", f.stderr);

    // Every run's rows equal the uninterrupted sweep's, and so does the report's summary.
    let ids = experiment_ids(&reference);
    assert_eq!(ids.len(), 4);
    assert_same_runs(&reference, &killed, &ids, "after SIGKILLs");
    // Measured wall time aside (a clock, not a result), the summaries are identical.
    let summary = |d: &Path| {
        let mut v: Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("summary.json")).unwrap())
                .unwrap();
        strip_wall(&mut v);
        v
    };
    assert_eq!(summary(&reference), summary(&killed));
    assert_clean_store(&killed);
}

#[test]
fn sigint_or_sigterm_during_a_sweep_or_compare_stops_safely_and_resumes() {
    let dir = scratch("sweep-int");
    let config = dir.join("sweep.toml");
    std::fs::write(&config, SWEEP).unwrap();
    let reference = dir.join("reference");
    let f = run(&sweep_args(&config, &reference));
    assert!(f.status.success(), "{}", f.stderr);
    let ids = experiment_ids(&reference);
    assert_eq!(ids.len(), 4);

    for (command, sig, name) in [
        ("sweep", libc::SIGINT, "SIGINT"),
        ("compare", libc::SIGTERM, "SIGTERM"),
    ] {
        let out = dir.join(command);
        let mut args = sweep_args(&config, &out);
        args[0] = command.into();
        // After the first finished run, i.e. in the middle of the next one.
        let mut p = spawn(&args);
        assert!(p.wait_for(is_result_line), "{command}: {:?}", p.log);
        signal(&p.child, sig);
        let f = p.finish();
        assert_eq!(f.status.code(), Some(130), "{command} {name}: {}", f.stderr);
        assert!(
            f.stderr.contains("run the same command again to resume") && f.stderr.contains(command),
            "{command} {name}: {}",
            f.stderr
        );
        assert!(!f.stderr.contains("panicked"), "{}", f.stderr);
        assert_store_parses(&out);
        assert_clean_store(&out);

        let f = run(&args);
        assert!(f.status.success(), "{command}: {}", f.stderr);
        assert_same_runs(&reference, &out, &ids, command);
        assert_clean_store(&out);
    }
}

/// The experiment ids stored under `<out>/runs` (the dense models' folder excluded).
fn experiment_ids(out: &Path) -> Vec<std::ffi::OsString> {
    std::fs::read_dir(out.join("runs"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != "dense")
        .collect()
}

/// Every listed experiment's rows in `other` equal those in `reference`.
fn assert_same_runs(reference: &Path, other: &Path, ids: &[std::ffi::OsString], what: &str) {
    for id in ids {
        let (a, b) = (reference.join("runs").join(id), other.join("runs").join(id));
        assert_same_rows(&rows(&a), &rows(&b), &format!("{what} {id:?}"));
    }
}

/// Every JSON file of the store parses after a kill (stranded temp files and the dead
/// process's lock may remain; the next run removes and takes them over).
fn assert_store_parses(out: &Path) {
    for p in files(out) {
        if p.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&p).unwrap();
            serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        }
    }
}
