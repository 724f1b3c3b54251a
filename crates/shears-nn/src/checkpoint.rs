//! Checkpoints: a safetensors file (readable from Python with `safetensors.safe_open`) whose
//! `__metadata__` carries a `shears` JSON header describing what the weights are.
//!
//! The header is read and checked *before* any weight is loaded, so a checkpoint of another
//! architecture, input shape or class count is a clear error instead of a shape panic. Writes
//! are atomic (temp file, fsync, rename): a crash never leaves a half-written checkpoint.

use crate::metrics::Metrics;
use crate::models::{ModelSpec, Network};
use crate::structured::{Widths, skeleton};
use burn::prelude::*;
use burn_store::{ModuleSnapshot, SafetensorsStore};
use serde::{Deserialize, Serialize};
use shears_data::text::Vocab;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Version of the metadata header; bumped on incompatible changes.
pub const FORMAT_VERSION: u32 = 1;
const META_KEY: &str = "shears";

/// What a checkpoint holds, stored in the file's safetensors metadata as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    pub format_version: u32,
    pub model: ModelSpec,
    pub dataset: String,
    pub seed: u64,
    pub epoch: usize,
    /// Test metrics of these weights, when known.
    pub test: Option<Metrics>,
    /// Fraction of prunable weights that are zero (0 for a dense model).
    #[serde(default)]
    pub sparsity: f64,
    /// A language model's vocabulary: which character each class (token id) is. Text to
    /// evaluate is encoded with it, whatever corpus it comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vocab: Option<Vocab>,
    /// The channel widths of a physically shrunk model (structured pruning), by channel group,
    /// so that the file alone rebuilds it; `None` for the spec's full shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub widths: Option<Widths>,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    // The io error is part of the message, not a chained source, so it prints once.
    #[error("{path}: {err}")]
    Io { path: PathBuf, err: std::io::Error },
    #[error("{path}: not a shears checkpoint: {detail}")]
    Format { path: PathBuf, detail: String },
    #[error(
        "{path}: written by a newer shears (checkpoint format {found}, this build reads up to {FORMAT_VERSION})"
    )]
    TooNew { path: PathBuf, found: u32 },
    #[error("{path}: checkpoint is for {found:?}, but {expected:?} was requested")]
    Mismatch {
        path: PathBuf,
        found: Box<ModelSpec>,
        expected: Box<ModelSpec>,
    },
    /// A NaN or infinite weight: such a model's outputs are not results (NaN logits once
    /// counted as correct answers), so it is refused before anything uses it.
    #[error("{path}: {tensor}: {count} non-finite {} ({kind}) at element {first}", values(.count))]
    NonFinite {
        path: PathBuf,
        tensor: String,
        count: usize,
        /// `NaN`, `inf` or `NaN/inf`.
        kind: &'static str,
        first: usize,
    },
    #[error("{path}: weights do not fit {model}: {detail}")]
    Weights {
        path: PathBuf,
        model: String,
        detail: String,
    },
}

fn values(count: &usize) -> &'static str {
    if *count == 1 { "value" } else { "values" }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |err| CheckpointError::Io {
        path: path.to_path_buf(),
        err,
    }
}

/// Writes `bytes` to `path` atomically: a sibling temp file is written, synced and renamed.
/// On failure the temp file is removed and `path` keeps its previous content; a full disk
/// (or a file-size limit) says so, with what to do.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_inner(path, bytes).map_err(|e| {
        use std::io::ErrorKind as K;
        match e.kind() {
            K::StorageFull | K::FileTooLarge | K::QuotaExceeded => std::io::Error::new(
                e.kind(),
                format!("{e}: out of disk space (or over a file-size limit); files already stored are intact — free space and run the same command again to resume"),
            ),
            _ => e,
        }
    })
}

fn write_atomic_inner(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    // Unique per call, so that two writers of one path in a process never share a temp file;
    // the host tag and pid stay last, where the store's stale-temp sweep reads them.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_file_name(format!(
        ".{name}.{n}.{}.{}.tmp",
        shears_core::files::host_tag(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = dir {
            // Persist the rename itself; best effort on platforms without directory fsync.
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Checks that [`save`] to `path` can succeed, before the work that produces the model: `path`
/// is not a directory or other non-regular file, and its directory can be created and
/// written (probed with a temp file, removed at once).
pub fn check_writable(path: &Path) -> Result<(), CheckpointError> {
    let err = |e: std::io::Error| CheckpointError::Io {
        path: path.to_path_buf(),
        err: e,
    };
    if let Ok(meta) = std::fs::metadata(path)
        && let Some(what) = shears_core::files::describe(meta.file_type())
    {
        return Err(err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{what}; give a file path for the checkpoint"),
        )));
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(err)?;
    let probe = dir.join(format!(".shears-probe.{}.tmp", std::process::id()));
    std::fs::File::create(&probe).map_err(err)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Serialises `model` with `meta` into safetensors bytes.
pub fn to_bytes(model: &Network, meta: &CheckpointMeta) -> Result<Vec<u8>, String> {
    let json = serde_json::to_string(meta).map_err(|e| e.to_string())?;
    let mut store = SafetensorsStore::from_bytes(None)
        .skip_enum_variants(true)
        .metadata(META_KEY, json);
    model
        .valid()
        .save_into(&mut store)
        .map_err(|e| e.to_string())?;
    store.get_bytes().map_err(|e| e.to_string())
}

pub fn save(path: &Path, model: &Network, meta: &CheckpointMeta) -> Result<(), CheckpointError> {
    let bytes = to_bytes(model, meta).map_err(|detail| CheckpointError::Format {
        path: path.to_path_buf(),
        detail,
    })?;
    write_atomic(path, &bytes).map_err(io(path))
}

/// Reads and checks only the metadata header.
pub fn read_meta(path: &Path, bytes: &[u8]) -> Result<CheckpointMeta, CheckpointError> {
    let format = |detail: String| CheckpointError::Format {
        path: path.to_path_buf(),
        detail,
    };
    let (_, header) = safetensors::SafeTensors::read_metadata(bytes)
        .map_err(|e| format(format!("unreadable safetensors header ({e})")))?;
    let map: HashMap<String, String> = header.metadata().clone().unwrap_or_default();
    let json = map
        .get(META_KEY)
        .ok_or_else(|| format("no 'shears' metadata entry".into()))?;
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format(format!("metadata is not JSON ({e})")))?;
    let version = value
        .get("format_version")
        .and_then(|v| v.as_u64())
        .ok_or_else(|| format("metadata has no format_version".into()))?;
    if version > FORMAT_VERSION as u64 {
        return Err(CheckpointError::TooNew {
            path: path.to_path_buf(),
            found: version as u32,
        });
    }
    serde_json::from_value(value).map_err(|e| format(format!("bad metadata ({e})")))
}

/// Loads a checkpoint into a freshly built model of the architecture it declares (shrunk to
/// its recorded channel widths, if any), on `device`. With `expected`, a checkpoint for a
/// different model/input/classes is refused.
pub fn load(
    path: &Path,
    expected: Option<&ModelSpec>,
    device: &Device,
) -> Result<(Network, CheckpointMeta), CheckpointError> {
    load_with(path, expected, |meta| match &meta.widths {
        None => Ok(meta.model.init(device)),
        Some(w) => skeleton(&meta.model, w, device)
            .map_err(|e| format!("its recorded channel widths do not fit the model ({e})")),
    })
}

/// Like [`load`], but the weights go into the model `skeleton` builds from the metadata — e.g.
/// a structurally shrunk architecture whose shapes differ from the dense one.
pub fn load_with(
    path: &Path,
    expected: Option<&ModelSpec>,
    skeleton: impl FnOnce(&CheckpointMeta) -> Result<Network, String>,
) -> Result<(Network, CheckpointMeta), CheckpointError> {
    // Checked before opening: a named pipe would block the read forever.
    shears_core::files::require_regular_file(path).map_err(io(path))?;
    let bytes = std::fs::read(path).map_err(io(path))?;
    load_bytes(path, bytes, expected, skeleton)
}

/// [`load_with`] on bytes already read from `path` (the name used in errors): every check
/// runs on untrusted bytes before any weight is copied, so damaged input is an error, never
/// a panic (fuzzed in `tests/fuzz.rs`).
pub fn load_bytes(
    path: &Path,
    bytes: Vec<u8>,
    expected: Option<&ModelSpec>,
    skeleton: impl FnOnce(&CheckpointMeta) -> Result<Network, String>,
) -> Result<(Network, CheckpointMeta), CheckpointError> {
    let meta = read_meta(path, &bytes)?;
    if let Some(expected) = expected
        && *expected != meta.model
    {
        return Err(CheckpointError::Mismatch {
            path: path.to_path_buf(),
            found: Box::new(meta.model),
            expected: Box::new(*expected),
        });
    }
    meta.model
        .validate()
        .map_err(|detail| CheckpointError::Format {
            path: path.to_path_buf(),
            detail,
        })?;
    let weights = |detail: String| CheckpointError::Weights {
        path: path.to_path_buf(),
        model: meta.model.kind.to_string(),
        detail,
    };
    // Full parse first: a truncated or corrupted tensor section is caught here.
    let tensors =
        safetensors::SafeTensors::deserialize(&bytes).map_err(|e| weights(e.to_string()))?;
    check_finite(path, &tensors)?;
    let mut model = skeleton(&meta).map_err(|detail| CheckpointError::Format {
        path: path.to_path_buf(),
        detail,
    })?;
    let mut store = SafetensorsStore::from_bytes(Some(bytes)).skip_enum_variants(true);
    let result = model
        .load_from(&mut store)
        .map_err(|e| weights(e.to_string()))?;
    if !result.errors.is_empty() || !result.missing.is_empty() || !result.unused.is_empty() {
        return Err(weights(format!(
            "{} errors, missing {:?}, unexpected {:?}",
            result.errors.len(),
            result.missing.iter().map(|m| &m.0).collect::<Vec<_>>(),
            result.unused
        )));
    }
    Ok((model, meta))
}

/// [`check_finite`] on safetensors `bytes` that `path` stands for (e.g. a model just imported,
/// serialised for the check).
pub(crate) fn check_finite_bytes(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    let tensors =
        safetensors::SafeTensors::deserialize(bytes).map_err(|e| CheckpointError::Format {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
    check_finite(path, &tensors)
}

/// Refuses the first tensor (in name order, so the message is stable) holding a NaN or an
/// infinity, with how many and where the first one is.
fn check_finite(path: &Path, tensors: &safetensors::SafeTensors) -> Result<(), CheckpointError> {
    let mut named = tensors.tensors();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, view) in named {
        let Some(found) = non_finite(view.dtype(), view.data()) else {
            continue;
        };
        return Err(CheckpointError::NonFinite {
            path: path.to_path_buf(),
            tensor: name,
            count: found.count,
            kind: match (found.nan, found.inf) {
                (true, false) => "NaN",
                (false, true) => "inf",
                _ => "NaN/inf",
            },
            first: found.first,
        });
    }
    Ok(())
}

struct NonFiniteFound {
    count: usize,
    first: usize,
    nan: bool,
    inf: bool,
}

/// Scans little-endian float data by exponent bits (all ones = NaN or infinity, the mantissa
/// tells which); integer and boolean tensors have no non-finite values.
fn non_finite(dtype: safetensors::Dtype, data: &[u8]) -> Option<NonFiniteFound> {
    use safetensors::Dtype;
    // (bytes per value, exponent mask, mantissa mask) of each IEEE float layout.
    let (width, exp, man): (usize, u64, u64) = match dtype {
        Dtype::F64 => (8, 0x7ff0_0000_0000_0000, 0x000f_ffff_ffff_ffff),
        Dtype::F32 => (4, 0x7f80_0000, 0x007f_ffff),
        Dtype::F16 => (2, 0x7c00, 0x03ff),
        Dtype::BF16 => (2, 0x7f80, 0x007f),
        _ => return None,
    };
    let mut found: Option<NonFiniteFound> = None;
    for (i, chunk) in data.chunks_exact(width).enumerate() {
        let mut le = [0u8; 8];
        le[..width].copy_from_slice(chunk);
        let bits = u64::from_le_bytes(le);
        if bits & exp != exp {
            continue;
        }
        let f = found.get_or_insert(NonFiniteFound {
            count: 0,
            first: i,
            nan: false,
            inf: false,
        });
        f.count += 1;
        if bits & man != 0 {
            f.nan = true;
        } else {
            f.inf = true;
        }
    }
    found
}
