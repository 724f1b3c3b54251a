//! Weights in and out in PyTorch's layout (docs/interop.md): a state dict whose names are
//! shears' parameter paths (`fc1.weight`, `blocks.0.attn.q.weight`, `layers.0.0.bn1.running_var`),
//! Linear weights `[out, in]` and norm parameters `weight`/`bias`, read from `.safetensors` or
//! PyTorch's `.pt`/`.pth` and written as `.safetensors` — the conversion is burn-store's
//! PyTorch adapters; every key is checked here, so a file that does not fit is an error naming
//! the key, never a partly loaded model.

mod layout;

pub use layout::Layout;
use layout::{inverse, patterns, rename};

use crate::checkpoint::CheckpointError;
use crate::models::Network;
use burn::module::Module;
use burn_store::{
    ApplyError, ApplyResult, BurnToPyTorchAdapter, KeyRemapper, ModuleSnapshot, ModuleStore,
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
    import_weights_with(net, path, &ImportOptions::default()).map(|(net, _)| net)
}

/// How a state dict is read.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// A classifier whose shapes differ from the model's (another class count) keeps the
    /// model's fresh initialisation instead of being an error, for fine-tuning to a new
    /// dataset.
    pub reset_head: bool,
    /// Whose parameter names the file uses.
    pub layout: Layout,
}

/// [`import_weights`] with options; returns whether the head was reset.
pub fn import_weights_with(
    net: Network,
    path: &Path,
    o: &ImportOptions,
) -> Result<(Network, bool), InteropError> {
    let head = o.reset_head.then(|| format!("{}.", net.head_path()));
    let expected = pytorch_shapes(&net).map_err(|e| error(path, e))?;
    let names = o.layout.prefixes(&net).map_err(|e| error(path, e))?;
    let remap = remapper(&inverse(&names)).map_err(|e| error(path, e))?;
    let ctx = |what| Ctx {
        expected: &expected,
        head: head.as_deref(),
        names: &names,
        path,
        what,
    };
    match WeightsFormat::of(path)? {
        WeightsFormat::Safetensors => load(
            net,
            SafetensorsStore::from_file(path)
                .with_from_adapter(PyTorchToBurnAdapter)
                .skip_enum_variants(true)
                .allow_partial(true)
                .validate(false)
                .remap(remap),
            &ctx("safetensors file"),
        ),
        WeightsFormat::Pytorch => load(
            net,
            PytorchStore::from_file(path)
                .skip_enum_variants(true)
                .allow_partial(true)
                .validate(false)
                .remap(remap),
            &ctx("PyTorch state dict"),
        ),
    }
}

/// burn-store's remapper for `(from prefix, to prefix)` pairs.
fn remapper(pairs: &[(String, String)]) -> Result<KeyRemapper, String> {
    KeyRemapper::from_patterns(patterns(pairs)).map_err(|e| e.to_string())
}

/// What a load is checked against, and how its problems are named.
struct Ctx<'a> {
    /// The model's shapes in PyTorch's layout, by shears' names.
    expected: &'a BTreeMap<String, Vec<usize>>,
    head: Option<&'a str>,
    /// shears' name prefixes → the file's (empty for shears' own names).
    names: &'a [(String, String)],
    path: &'a Path,
    what: &'a str,
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
    ctx: &Ctx,
) -> Result<(Network, bool), InteropError>
where
    S::Error: std::fmt::Display,
{
    let path = ctx.path;
    let result = net
        .load_from(&mut store)
        .map_err(|e| error(path, format!("not a readable {} ({e})", ctx.what)))?;
    let mut found = |key: &str| {
        store
            .get_tensor(key)
            .ok()
            .flatten()
            .map(|t| t.shape.as_slice().to_vec())
    };
    let reset = check(&result, ctx, &mut found).map_err(|d| error(path, d))?;
    check_finite(&net, ctx)?;
    Ok((net, reset))
}

/// Refuses weights with a NaN or an infinity (named in the file's terms): such a model would
/// train or measure as garbage, or not at all.
fn check_finite(net: &Network, ctx: &Ctx) -> Result<(), InteropError> {
    let path = ctx.path;
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
            format!(
                "{}: {count} {kind} value(s), the first at index {first}; not imported",
                rename(&tensor, ctx.names)
            ),
        )),
        Err(e) => Err(error(path, e.to_string())),
    }
}

/// Every tensor applied and used, or the problems by key in the file's names. Shape
/// mismatches under the head prefix (`fc.`; with `reset_head`) are tolerated and reported as
/// `Ok(true)`: the head is reset.
fn check(
    r: &ApplyResult,
    ctx: &Ctx,
    found: &mut dyn FnMut(&str) -> Option<Vec<usize>>,
) -> Result<bool, String> {
    const SHOWN: usize = 8;
    let name = |k: &str| rename(k, ctx.names);
    let in_head = |e: &ApplyError| match (e, ctx.head) {
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
                "{}: expected {:?}, file has {:?}",
                name(path),
                ctx.expected.get(path).cloned().unwrap_or_default(),
                found(path).unwrap_or_default()
            ),
            other => other.to_string(),
        })
        .collect();
    problems.extend(
        r.missing
            .iter()
            .map(|(k, _)| format!("{}: missing from the file", name(k))),
    );
    problems.extend(
        r.unused
            .iter()
            .filter(|k| !ignorable(k))
            .map(|k| format!("{}: in the file but not in the model", name(k))),
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
    to_safetensors_as(net, metadata, Layout::Shears)
}

/// [`to_safetensors`] under `layout`'s names.
pub fn to_safetensors_as(
    net: &Network,
    metadata: &[(&str, String)],
    layout: Layout,
) -> Result<Vec<u8>, String> {
    let remap = remapper(&layout.prefixes(net)?)?;
    let net = net.valid();
    let mut store = SafetensorsStore::from_bytes(None)
        .with_to_adapter(BurnToPyTorchAdapter)
        .skip_enum_variants(true)
        .remap(remap);
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
    export_safetensors_as(net, metadata, Layout::Shears, path)
}

/// [`export_safetensors`] under `layout`'s names.
pub fn export_safetensors_as(
    net: &Network,
    metadata: &[(&str, String)],
    layout: Layout,
    path: &Path,
) -> Result<(), InteropError> {
    let bytes = to_safetensors_as(net, metadata, layout).map_err(|e| error(path, e))?;
    crate::checkpoint::write_atomic(path, &bytes)
        .map_err(|e| error(path, format!("cannot write ({e})")))
}
