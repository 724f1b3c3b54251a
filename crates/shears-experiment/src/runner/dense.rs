//! The dense model a seed starts from: loaded from `dense.checkpoint`, reused from the store
//! (verified against its SHA-256), or trained once and stored for every experiment with the
//! same model, data, recipe and seed — which is what makes regime comparisons paired.

use super::{Event, RunError, check_interrupt};
use crate::config::ExperimentConfig;
use crate::store::{Lock, StoreError, remove_stale_temps, sha256_hex, write};
use shears_nn::checkpoint::{self, CheckpointMeta, FORMAT_VERSION};
use shears_nn::interop::import_weights;
use shears_nn::models::{ModelSpec, Network};
use shears_nn::train::Devices;
use shears_nn::train::{Prepared, fit};
use std::path::{Path, PathBuf};

/// The model `dense.checkpoint` names: a shears checkpoint, or a PyTorch-layout state dict
/// (`.pt`, `.pth`, or a `.safetensors` without shears' record) imported with every key checked
/// (docs/interop.md).
fn given(path: &Path, spec: &ModelSpec, devices: &Devices) -> Result<Network, RunError> {
    let state_dict = |path: &Path| {
        import_weights(spec.init(&devices.train), path)
            .map_err(|e| RunError::Invalid(format!("dense.checkpoint: {e}")))
    };
    match path.extension().and_then(|e| e.to_str()) {
        Some("pt" | "pth") => state_dict(path),
        Some("safetensors") => match checkpoint::load(path, Some(spec), &devices.train) {
            Ok((model, _)) => Ok(model),
            Err(checkpoint::CheckpointError::Format { .. }) => state_dict(path),
            Err(e) => Err(e.into()),
        },
        _ => Ok(checkpoint::load(path, Some(spec), &devices.train)?.0),
    }
}

/// Ties an experiment directory to the content of its `dense.checkpoint`: the file's SHA-256
/// is recorded beside the runs on first use and compared on every later one, so results made
/// from one model are never served for a file that has since been replaced (the experiment id
/// hashes the path, not the content).
pub(super) fn check_given_unchanged(config: &ExperimentConfig, dir: &Path) -> Result<(), RunError> {
    if config.dense.checkpoint.is_empty() {
        return Ok(());
    }
    let path = Path::new(&config.dense.checkpoint);
    let io =
        |e: std::io::Error| RunError::Invalid(format!("dense.checkpoint {}: {e}", path.display()));
    shears_core::files::require_regular_file(path).map_err(io)?;
    let now = sha256_hex(&std::fs::read(path).map_err(io)?);
    let record = dir.join("dense-checkpoint.sha256");
    match std::fs::read_to_string(&record) {
        Ok(then) if then.trim() == now => Ok(()),
        Ok(then) => Err(RunError::Invalid(format!(
            "dense.checkpoint {} has changed since the runs in {} were made (SHA-256 {} then, \
             {now} now): their results are not this file's; restore the file, or use another \
             store",
            path.display(),
            dir.display(),
            then.trim()
        ))),
        Err(_) => Ok(write(&record, format!("{now}\n").as_bytes())?),
    }
}

/// The dense model of `seed` (see the module docs).
pub(super) fn dense_model(
    config: &ExperimentConfig,
    spec: &ModelSpec,
    seed: u64,
    data: &Prepared,
    out: &Path,
    devices: &Devices,
    on_event: &mut dyn FnMut(Event),
) -> Result<Network, RunError> {
    if !config.dense.checkpoint.is_empty() {
        return given(Path::new(&config.dense.checkpoint), spec, devices);
    }
    let path = stored_path(config, seed, out);
    let dir = path.parent().expect("in its directory").to_path_buf();
    // Without the lock, only a model that checks out is taken: one without its checksum yet
    // may be another job's, still being written.
    if let Trust::Trusted = trust(&path)? {
        return reuse(&path, spec, seed, devices, on_event);
    }
    // Another job or process training the same dense model: wait for it, then reuse it.
    let _lock = Lock::acquire_waiting(&dir, |_| !shears_nn::interrupt::requested())?;
    check_interrupt()?;
    remove_stale_temps(&dir);
    // Another process may have trained it while we waited for the lock.
    match trust(&path)? {
        Trust::Trusted => return reuse(&path, spec, seed, devices, on_event),
        Trust::Absent => {}
        Trust::Untrusted(reason) => on_event(Event::DenseDamaged {
            seed,
            path: path.clone(),
            reason,
        }),
    }
    let recipe = config.dense_recipe(seed);
    on_event(Event::DenseTraining {
        seed,
        epochs: recipe.epochs,
    });
    let (model, report) = fit(spec, data, &recipe, devices, &mut |_| {})?;
    let meta = CheckpointMeta {
        format_version: FORMAT_VERSION,
        model: *spec,
        dataset: config.data.dataset.to_string(),
        seed,
        epoch: recipe.epochs,
        test: Some(report.test),
        sparsity: 0.0,
        vocab: data.vocab.clone(),
        widths: None,
    };
    checkpoint::save(&path, &model, &meta)?;
    // Checked on reuse: a header-valid file with flipped weight bytes would otherwise load.
    let bytes = std::fs::read(&path).map_err(|e| StoreError::Io {
        path: path.clone(),
        detail: e.to_string(),
    })?;
    write(&checksum_path(&path), sha256_hex(&bytes).as_bytes())?;
    write(
        &dir.join("report.json"),
        serde_json::to_string_pretty(&report)
            .expect("report serialises")
            .as_bytes(),
    )?;
    Ok(model)
}

/// Where the dense model of `seed` is stored under the store `out`.
pub(super) fn stored_path(config: &ExperimentConfig, seed: u64, out: &Path) -> PathBuf {
    out.join("dense")
        .join(config.dense_key(seed))
        .join("model.ckpt")
}

fn checksum_path(model: &Path) -> PathBuf {
    model.with_extension("sha256")
}

/// Whether a stored dense model may be used.
enum Trust {
    Absent,
    Trusted,
    /// Present but not to be used: why.
    Untrusted(String),
}

/// A stored dense model is trusted only if its bytes match the SHA-256 recorded beside it. A
/// model without a checksum file (a process killed between the two writes, a file lost, an
/// older store) is not: a flipped weight parses fine and would otherwise be fine-tuned from
/// and later blamed on the learning rate. Either way it is trained again (deterministically)
/// and replaced.
fn trust(path: &Path) -> Result<Trust, RunError> {
    if !path.exists() {
        return Ok(Trust::Absent);
    }
    let sums = checksum_path(path);
    let expected = match std::fs::read_to_string(&sums) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Trust::Untrusted(format!(
                "it has no recorded checksum ({} is missing)",
                sums.display()
            )));
        }
        Err(e) => return Ok(Trust::Untrusted(format!("{}: {e}", sums.display()))),
    };
    let bytes = std::fs::read(path).map_err(|e| StoreError::Io {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    if sha256_hex(&bytes) != expected.trim() {
        return Ok(Trust::Untrusted(format!(
            "it does not match its recorded checksum ({})",
            sums.display()
        )));
    }
    Ok(Trust::Trusted)
}

/// Loads the trusted dense model at `path`.
fn reuse(
    path: &Path,
    spec: &ModelSpec,
    seed: u64,
    devices: &Devices,
    on_event: &mut dyn FnMut(Event),
) -> Result<Network, RunError> {
    if let Some(dir) = path.parent() {
        Lock::clear_stale(dir);
    }
    on_event(Event::DenseReused {
        seed,
        path: path.to_path_buf(),
    });
    let (model, _) = checkpoint::load(path, Some(spec), &devices.train)?;
    Ok(model)
}

/// Whether the dense model `config`'s `seed` starts from is ready: given by
/// `dense.checkpoint`, or stored under `out` and matching its checksum.
pub fn dense_ready(config: &ExperimentConfig, seed: u64, out: &Path) -> bool {
    !config.dense.checkpoint.is_empty()
        || matches!(trust(&stored_path(config, seed, out)), Ok(Trust::Trusted))
}

/// The store's name of the dense model `config`'s `seed` starts from (shared by every
/// experiment with the same model, data, recipe and seed), relative to the store; `None`
/// when `dense.checkpoint` gives it.
pub fn dense_name(config: &ExperimentConfig, seed: u64) -> Option<String> {
    config
        .dense
        .checkpoint
        .is_empty()
        .then(|| format!("dense/{}", config.dense_key(seed)))
}
