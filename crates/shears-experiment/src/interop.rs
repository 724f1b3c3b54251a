//! Models in and out: a PyTorch-layout state dict imported as a shears checkpoint (measured on
//! the dataset's test split on the way in), and any shears checkpoint exported as a
//! PyTorch-layout safetensors file (docs/interop.md).

use crate::runner::RunError;
use shears_data::DatasetId;
use shears_nn::checkpoint::{self, CheckpointMeta, FORMAT_VERSION};
use shears_nn::interop::{export_safetensors, import_weights};
use shears_nn::metrics::Metrics;
use shears_nn::models::{ModelKind, ModelSpec};
use shears_nn::train::{Devices, Prepared, Source, evaluate};
use std::path::{Path, PathBuf};

/// What to import.
#[derive(Debug, Clone)]
pub struct Import {
    /// A `.safetensors`, `.pt` or `.pth` state dict in PyTorch's layout.
    pub from: PathBuf,
    pub model: ModelKind,
    /// The dataset the model is for: it fixes the input shape and classes (for a language
    /// model, the vocabulary) and is where the imported model is measured.
    pub data: DatasetId,
    pub data_dir: Option<PathBuf>,
    /// Where the shears checkpoint goes.
    pub out: PathBuf,
}

/// Reads the weights into the model `o.model` sized for `o.data`, measures it on the test
/// split and saves it as a dense shears checkpoint; returns the test metrics.
pub fn import(o: &Import, devices: &Devices) -> Result<Metrics, RunError> {
    checkpoint::check_writable(&o.out)?;
    let source = Source::load(o.data, o.data_dir.as_deref())?;
    let data = Prepared::from_source(o.data, source, 0.0, 0, false, o.model.default_context())?;
    let spec = ModelSpec {
        kind: o.model,
        input: data.input(),
        classes: data.classes(),
        shape: None,
    };
    data.check_model(&spec).map_err(RunError::Invalid)?;
    spec.validate().map_err(RunError::Invalid)?;
    let net = import_weights(spec.init(&devices.base), &o.from)
        .map_err(|e| RunError::Invalid(e.to_string()))?;
    let test = evaluate(
        &net,
        &data.test,
        "test",
        &data.eval_batches(),
        &devices.base,
    )?;
    let meta = CheckpointMeta {
        format_version: FORMAT_VERSION,
        model: spec,
        dataset: o.data.to_string(),
        seed: 0,
        epoch: 0,
        test: Some(test),
        sparsity: 0.0,
        vocab: data.vocab.clone(),
    };
    checkpoint::save(&o.out, &net, &meta)?;
    Ok(test)
}

/// Writes the checkpoint at `checkpoint` (dense or masked) as a PyTorch-layout safetensors
/// file at `out`; the header's `shears` entry is the checkpoint's own record (model, dataset,
/// test metrics, sparsity).
pub fn export(checkpoint: &Path, out: &Path, devices: &Devices) -> Result<(), RunError> {
    let (net, meta) = checkpoint::load(checkpoint, None, &devices.base)?;
    let record = serde_json::to_string(&meta)
        .map_err(|e| RunError::Invalid(format!("{}: {e}", checkpoint.display())))?;
    export_safetensors(&net, &[("shears", record)], out)
        .map_err(|e| RunError::Invalid(e.to_string()))
}
