//! The runner as a library: the weights a step carries are really the epoch it records, and
//! a run directory is held by one runner at a time.

use shears_core::results::StepRow;
use shears_experiment::runner::RunError;
use shears_experiment::store::{Lock, RunDir, StoreError};
use shears_experiment::{Event, ExperimentConfig, run_experiment};
use shears_nn::Device;
use shears_nn::models::ModelSpec;
use shears_nn::train::Prepared;
use shears_nn::train::{Devices, evaluate};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Barrier, mpsc};

/// A fresh directory under the target's temp dir, removed when it drops after a passing test
/// (kept for inspection after a failure).
struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
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
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("experiment-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

fn devices() -> Devices {
    Devices::new(Device::flex())
}

/// One-shot to 90% with a high fine-tuning rate: validation accuracy is noisy, so the best
/// epoch is usually not the last one.
fn noisy(carry: &str) -> ExperimentConfig {
    let o: Vec<String> = [
        "schedule.kind=one-shot",
        "schedule.target=0.9",
        "dense.epochs=1",
        "finetune.mode=patience",
        "finetune.patience=2",
        "finetune.max_epochs=6",
        "finetune.lr=0.1",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("finetune.carry={carry}")])
    .collect();
    ExperimentConfig::from_toml("", "test", &o).unwrap()
}

/// Runs `config` and returns its rows and, per step, the validation top-1 of every epoch.
fn run_collecting(
    config: &ExperimentConfig,
    out: &std::path::Path,
) -> (PathBuf, Vec<StepRow>, BTreeMap<usize, Vec<f64>>) {
    let mut epochs: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    let result = run_experiment(config, out, &devices(), &mut |e| {
        if let Event::Epoch {
            step,
            epoch,
            val_top1,
            ..
        } = e
        {
            let v = epochs.entry(step).or_default();
            assert_eq!(v.len() + 1, epoch, "epochs of step {step} out of order");
            v.push(val_top1);
        }
    })
    .unwrap();
    (result.dir, result.rows, epochs)
}

/// Validation metrics of a stored step checkpoint, on the split rebuilt exactly as the runner
/// builds it.
fn stored_val(
    config: &ExperimentConfig,
    dir: &std::path::Path,
    seed: u64,
    step: usize,
) -> shears_nn::metrics::Metrics {
    let devices = devices();
    let splits = shears_data::load(config.data.dataset, None).unwrap();
    let data = Prepared::new(
        config.data.dataset,
        splits,
        config.data.val_fraction,
        seed,
        config.dense_recipe(seed).augment,
    )
    .unwrap();
    let spec = ModelSpec {
        kind: config.model.kind,
        input: data.input(),
        classes: data.classes(),
        shape: None,
    };
    let ckpt = RunDir::new(dir, seed).checkpoint(step);
    let (model, _) = shears_nn::checkpoint::load(&ckpt, Some(&spec), &devices.base).unwrap();
    evaluate(
        &model,
        &data.val,
        "validation",
        &data.eval_batches(),
        &devices.base,
    )
    .unwrap()
}

#[test]
fn carry_best_hands_on_the_best_epoch_weights_not_the_last() {
    let out = scratch("carry-best");
    let config = noisy("best");
    let (dir, rows, epochs) = run_collecting(&config, &out);
    let row = rows.last().unwrap();
    assert_eq!(row.step, 1);
    let history = &epochs[&1];
    assert_eq!(history.len(), row.epochs);
    assert!(
        row.best_epoch >= 1 && row.best_epoch < row.epochs,
        "the test needs a run whose last epoch is not the best: {history:?}, best {}",
        row.best_epoch
    );
    let best = history[row.best_epoch - 1];
    let last = *history.last().unwrap();
    // Ties go to the later epoch, so a best epoch before the last is strictly better.
    assert!(best > last, "{history:?}");
    assert_eq!(
        history.iter().cloned().fold(f64::MIN, f64::max),
        best,
        "{history:?}"
    );
    assert_eq!(row.val_top1.to_bits(), best.to_bits());
    // The stored weights are the best epoch's: evaluating them reproduces the recorded
    // validation metrics bit for bit (the last epoch's weights would give `last`).
    let val = stored_val(&config, &dir, 0, 1);
    assert_eq!(
        val.top1.to_bits(),
        row.val_top1.to_bits(),
        "{val:?} vs {row:?}"
    );
    assert_eq!(val.top5.to_bits(), row.val_top5.to_bits());
    assert_eq!(val.loss.to_bits(), row.val_loss.to_bits());
}

#[test]
fn carry_last_records_the_last_epoch() {
    let out = scratch("carry-last");
    let config = noisy("last");
    let (dir, rows, epochs) = run_collecting(&config, &out);
    assert_eq!(rows.len(), 2);
    for row in &rows[1..] {
        assert!(row.epochs >= 1);
        assert_eq!(row.best_epoch, row.epochs, "{row:?}");
        let history = &epochs[&row.step];
        assert_eq!(history.len(), row.epochs);
        assert_eq!(row.val_top1.to_bits(), history.last().unwrap().to_bits());
    }
    let row = rows.last().unwrap();
    let val = stored_val(&config, &dir, 0, row.step);
    assert_eq!(val.top1.to_bits(), row.val_top1.to_bits());
    assert_eq!(val.loss.to_bits(), row.val_loss.to_bits());
}

#[test]
fn a_run_directory_has_one_holder_even_under_contention() {
    // Threads of one process and lock files caught half-written must not both get the lock.
    let root = scratch("lock-contention");
    for round in 0..200 {
        let dir = root.join(format!("r{round}"));
        let n = 6;
        let barrier = Arc::new(Barrier::new(n));
        let (tx, rx) = mpsc::channel();
        let done = Arc::new(Barrier::new(n));
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let (dir, barrier, tx, done) =
                    (dir.clone(), barrier.clone(), tx.clone(), done.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    let lock = Lock::acquire(&dir);
                    tx.send(lock.as_ref().map(|_| ()).map_err(|e| e.to_string()))
                        .unwrap();
                    // Hold it until every thread has tried.
                    done.wait();
                    drop(lock);
                })
            })
            .collect();
        drop(tx);
        for h in handles {
            h.join().unwrap();
        }
        let results: Vec<_> = rx.iter().collect();
        let held = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(held, 1, "round {round}: {results:?}");
        for e in results.iter().filter_map(|r| r.as_ref().err()) {
            assert!(e.contains("locked"), "round {round}: {e}");
        }
        // Released: the next holder gets it.
        drop(Lock::acquire(&dir).unwrap());
    }
}

#[test]
fn a_second_runner_on_the_same_experiment_is_refused_and_the_store_stays_valid() {
    let out = scratch("two-runners");
    let config = ExperimentConfig::from_toml(
        "",
        "test",
        &[
            "schedule.kind=geometric",
            "schedule.target=0.8",
            "schedule.steps=2",
            "dense.epochs=1",
            "finetune.max_epochs=2",
            "finetune.patience=1",
        ]
        .map(String::from),
    )
    .unwrap();
    let (started_tx, started_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let first = {
        let (config, out) = (config.clone(), out.clone());
        std::thread::spawn(move || {
            run_experiment(&config, &out, &devices(), &mut |e| {
                if let Event::DenseTraining { .. } = e {
                    started_tx.send(()).unwrap();
                    // Hold the run until the second runner has tried.
                    go_rx.recv().unwrap();
                }
            })
        })
    };
    started_rx.recv().unwrap();
    let second = run_experiment(&config, &out, &devices(), &mut |_| {});
    go_tx.send(()).unwrap();
    let first = first.join().unwrap().expect("the first runner finishes");
    match second {
        Err(RunError::Store(e @ StoreError::Locked { .. })) => {
            assert!(e.to_string().contains("locked"), "{e}")
        }
        other => panic!("second runner: {other:?}"),
    }
    // The stored result is the first runner's, served without training.
    let mut trained = false;
    let again = run_experiment(&config, &out, &devices(), &mut |e| {
        trained |= matches!(e, Event::DenseTraining { .. } | Event::Epoch { .. })
    })
    .unwrap();
    assert!(!trained);
    assert_eq!(again.rows, first.rows);
    assert_eq!(first.rows.len(), 3);
}
