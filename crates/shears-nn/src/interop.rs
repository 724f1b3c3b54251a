//! Weights in and out in PyTorch's layout (docs/interop.md): a state dict whose names are
//! shears' parameter paths (`fc1.weight`, `blocks.0.attn.q.weight`, `layers.0.0.bn1.running_var`),
//! Linear weights `[out, in]` and norm parameters `weight`/`bias`, read from `.safetensors` or
//! PyTorch's `.pt`/`.pth` and written as `.safetensors` — the conversion is burn-store's
//! PyTorch adapters; every key is checked here, so a file that does not fit is an error naming
//! the key, never a partly loaded model.

use crate::checkpoint::CheckpointError;
use crate::models::Network;
use burn::module::Module;
use burn_store::{
    ApplyError, ApplyResult, BurnToPyTorchAdapter, ModuleSnapshot, ModuleStore,
    PyTorchToBurnAdapter, PytorchStore, SafetensorsStore,
};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// A weights file shears cannot use, with what is wrong in the file's own terms.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {detail}")]
pub struct InteropError {
    pub path: String,
    pub detail: String,
}

fn error(path: &Path, detail: impl Into<String>) -> InteropError {
    InteropError {
        path: path.display().to_string(),
        detail: detail.into(),
    }
}

/// The weight file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightsFormat {
    /// `.safetensors`.
    Safetensors,
    /// A pickled PyTorch state dict, `.pt` or `.pth`.
    Pytorch,
}

impl WeightsFormat {
    /// From the file's extension; anything else is an error naming it.
    pub fn of(path: &Path) -> Result<Self, InteropError> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("safetensors") => Ok(Self::Safetensors),
            Some("pt" | "pth") => Ok(Self::Pytorch),
            _ => Err(error(
                path,
                "unknown weights format (expected .safetensors, .pt or .pth)",
            )),
        }
    }
}

/// Buffers PyTorch keeps that shears' models have no counterpart for (BatchNorm's step count).
fn ignorable(key: &str) -> bool {
    key.ends_with(".num_batches_tracked")
}

/// `net` with every parameter read from the PyTorch-layout state dict at `path`. Every
/// parameter must be there with its shape, and every tensor of the file must be used (except
/// `num_batches_tracked`); the first problems are listed by key, shapes in the file's layout.
pub fn import_weights(net: Network, path: &Path) -> Result<Network, InteropError> {
    import_weights_with(net, path, false).map(|(net, _)| net)
}

/// [`import_weights`]; with `reset_head`, a classifier whose shapes differ from the model's
/// (another class count) keeps `net`'s fresh initialisation instead of being an error, for
/// fine-tuning to a new dataset. Returns whether the head was reset.
pub fn import_weights_with(
    net: Network,
    path: &Path,
    reset_head: bool,
) -> Result<(Network, bool), InteropError> {
    let head = reset_head.then(|| format!("{}.", net.head_path()));
    let expected = pytorch_shapes(&net).map_err(|e| error(path, e))?;
    match WeightsFormat::of(path)? {
        WeightsFormat::Safetensors => {
            let store = SafetensorsStore::from_file(path)
                .with_from_adapter(PyTorchToBurnAdapter)
                .skip_enum_variants(true)
                .allow_partial(true)
                .validate(false);
            load(
                net,
                store,
                &expected,
                head.as_deref(),
                path,
                "safetensors file",
            )
        }
        WeightsFormat::Pytorch => {
            let store = PytorchStore::from_file(path)
                .skip_enum_variants(true)
                .allow_partial(true)
                .validate(false);
            load(
                net,
                store,
                &expected,
                head.as_deref(),
                path,
                "PyTorch state dict",
            )
        }
    }
}

/// The names and shapes `net` has in PyTorch's layout.
fn pytorch_shapes(net: &Network) -> Result<BTreeMap<String, Vec<usize>>, String> {
    let bytes = to_safetensors(net, &[])?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| e.to_string())?;
    Ok(header
        .tensors()
        .into_iter()
        .map(|(k, v)| (k, v.shape.clone()))
        .collect())
}

fn load<S: ModuleStore>(
    mut net: Network,
    mut store: S,
    expected: &BTreeMap<String, Vec<usize>>,
    head: Option<&str>,
    path: &Path,
    what: &str,
) -> Result<(Network, bool), InteropError>
where
    S::Error: std::fmt::Display,
{
    let result = net
        .load_from(&mut store)
        .map_err(|e| error(path, format!("not a readable {what} ({e})")))?;
    let mut found = |key: &str| {
        store
            .get_tensor(key)
            .ok()
            .flatten()
            .map(|t| t.shape.as_slice().to_vec())
    };
    let reset = check(&result, expected, head, &mut found).map_err(|d| error(path, d))?;
    check_finite(&net, path)?;
    Ok((net, reset))
}

/// Refuses weights with a NaN or an infinity (named in the file's terms): such a model would
/// train or measure as garbage, or not at all.
fn check_finite(net: &Network, path: &Path) -> Result<(), InteropError> {
    let bytes = to_safetensors(net, &[]).map_err(|e| error(path, e))?;
    match crate::checkpoint::check_finite_bytes(path, &bytes) {
        Ok(()) => Ok(()),
        Err(CheckpointError::NonFinite {
            tensor,
            count,
            kind,
            first,
            ..
        }) => Err(error(
            path,
            format!("{tensor}: {count} {kind} value(s), the first at index {first}; not imported"),
        )),
        Err(e) => Err(error(path, e.to_string())),
    }
}

/// Every tensor applied and used, or the problems by key. Shape mismatches of parameters under
/// `head` (a prefix such as `fc.`) are tolerated and reported as `Ok(true)`: the head is reset.
fn check(
    r: &ApplyResult,
    expected: &BTreeMap<String, Vec<usize>>,
    head: Option<&str>,
    found: &mut dyn FnMut(&str) -> Option<Vec<usize>>,
) -> Result<bool, String> {
    const SHOWN: usize = 8;
    let in_head = |e: &ApplyError| match (e, head) {
        (ApplyError::ShapeMismatch { path, .. }, Some(h)) => path.starts_with(h),
        _ => false,
    };
    let reset = r.errors.iter().any(in_head);
    let mut problems: Vec<String> = r
        .errors
        .iter()
        .filter(|e| !in_head(e))
        .map(|e| match e {
            ApplyError::ShapeMismatch { path, .. } => format!(
                "{path}: expected {:?}, file has {:?}",
                expected.get(path).cloned().unwrap_or_default(),
                found(path).unwrap_or_default()
            ),
            other => other.to_string(),
        })
        .collect();
    problems.extend(
        r.missing
            .iter()
            .map(|(k, _)| format!("{k}: missing from the file")),
    );
    problems.extend(
        r.unused
            .iter()
            .filter(|k| !ignorable(k))
            .map(|k| format!("{k}: in the file but not in the model")),
    );
    if r.applied.is_empty() && problems.is_empty() {
        problems.push("no tensors in the file".into());
    }
    if problems.is_empty() {
        return Ok(reset);
    }
    let mut out = format!("{} problem(s) with the weights:", problems.len());
    for p in problems.iter().take(SHOWN) {
        let _ = write!(out, "\n  {p}");
    }
    if problems.len() > SHOWN {
        let _ = write!(out, "\n  … and {} more", problems.len() - SHOWN);
    }
    Err(out)
}

/// `net` as a PyTorch-layout state dict in safetensors bytes, with `metadata` (string pairs)
/// in the header.
pub fn to_safetensors(net: &Network, metadata: &[(&str, String)]) -> Result<Vec<u8>, String> {
    let net = net.valid();
    let mut store = SafetensorsStore::from_bytes(None)
        .with_to_adapter(BurnToPyTorchAdapter)
        .skip_enum_variants(true);
    for (k, v) in metadata {
        store = store.metadata(*k, v.clone());
    }
    net.save_into(&mut store).map_err(|e| e.to_string())?;
    store.get_bytes().map_err(|e| e.to_string())
}

/// [`to_safetensors`] written atomically to `path` (a reader never sees half a file).
pub fn export_safetensors(
    net: &Network,
    metadata: &[(&str, String)],
    path: &Path,
) -> Result<(), InteropError> {
    let bytes = to_safetensors(net, metadata).map_err(|e| error(path, e))?;
    crate::checkpoint::write_atomic(path, &bytes)
        .map_err(|e| error(path, format!("cannot write ({e})")))
}
