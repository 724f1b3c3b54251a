//! Models in and out: a PyTorch-layout state dict imported as a shears checkpoint (measured on
//! the dataset's test split on the way in), and any shears checkpoint — a file or a run's last
//! committed step — exported as a PyTorch-layout safetensors file or an ONNX graph
//! (docs/interop.md).

use crate::runner::RunError;
use crate::store::{RunDir, seed_record, seed_runs};
use shears_data::DatasetId;
use shears_nn::checkpoint::{self, CheckpointMeta, FORMAT_VERSION};
use shears_nn::interop::{ImportOptions, Layout, export_safetensors_as, import_weights_with};
use shears_nn::metrics::Metrics;
use shears_nn::models::{ModelKind, ModelSpec};
use shears_nn::onnx::to_onnx;
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
    /// How an image folder is read (its image side: the model's input).
    pub folder: shears_data::FolderRead,
    /// Where the shears checkpoint goes.
    pub out: PathBuf,
    /// A classifier for another class count is re-initialised (for fine-tuning to `data`)
    /// instead of refused.
    pub reset_head: bool,
    /// Whose parameter names the file uses.
    pub layout: Layout,
}

/// What `import` measured, and whether the classifier was re-initialised.
#[derive(Debug, Clone, Copy)]
pub struct Imported {
    pub test: Metrics,
    pub head_reset: bool,
}

/// Reads the weights into the model `o.model` sized for `o.data`, measures it on the test
/// split and saves it as a dense shears checkpoint.
pub fn import(o: &Import, devices: &Devices) -> Result<Imported, RunError> {
    checkpoint::check_writable(&o.out)?;
    let source = Source::load_with(o.data, o.data_dir.as_deref(), o.folder)?;
    let data = Prepared::from_source(o.data, source, 0.0, 0, false, o.model.default_context())?;
    let spec = ModelSpec {
        kind: o.model,
        input: data.input(),
        classes: data.classes(),
        shape: None,
    };
    data.check_model(&spec).map_err(RunError::Invalid)?;
    spec.validate().map_err(RunError::Invalid)?;
    let options = ImportOptions {
        reset_head: o.reset_head,
        layout: o.layout,
    };
    let (net, head_reset) = import_weights_with(spec.init(&devices.base), &o.from, &options)
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
        widths: None,
    };
    checkpoint::save(&o.out, &net, &meta)?;
    Ok(Imported { test, head_reset })
}

/// The formats `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// A PyTorch-layout state dict.
    Safetensors,
    /// The model's inference graph with its weights (opset [`shears_nn::onnx::OPSET`]).
    Onnx,
}

impl ExportFormat {
    /// The format `name` names, or (without a name) the one `out`'s extension names.
    pub fn choose(name: Option<&str>, out: &Path) -> Result<Self, RunError> {
        let ext = out.extension().and_then(|e| e.to_str());
        match name.or(ext) {
            Some("safetensors") => Ok(Self::Safetensors),
            Some("onnx") => Ok(Self::Onnx),
            Some(other) if name.is_some() => Err(RunError::Invalid(format!(
                "unknown export format '{other}' (expected safetensors or onnx)"
            ))),
            _ => Err(RunError::Invalid(format!(
                "{}: cannot tell the format from the name; end it in .safetensors or .onnx, \
                 or give --format",
                out.display()
            ))),
        }
    }
}

/// The checkpoint `from` stands for: a checkpoint file as it is, or a seed's run directory
/// (`runs/ID/seed-0`), whose last committed step's checkpoint is taken once the run's state
/// and checksums vouch for it.
pub fn resolve_checkpoint(from: &Path) -> Result<PathBuf, RunError> {
    if !from.is_dir() {
        return Ok(from.to_path_buf());
    }
    let run = RunDir {
        dir: from.to_path_buf(),
    };
    if let Some(record) = seed_record(&run)? {
        let path = run.checkpoint(record.state.completed_step);
        // A finished run's files were verified by `seed_record`; an unfinished one's are not.
        if !record.state.finished {
            run.verify(&record.state, &path)?;
        }
        return Ok(path);
    }
    let seeds: Vec<String> = seed_runs(from)
        .iter()
        .filter_map(|r| r.dir.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    Err(RunError::Invalid(if seeds.is_empty() {
        format!(
            "{}: is a directory but not a run (no committed state.json); expected a \
             checkpoint file or a seed's run directory such as runs/ID/seed-0",
            from.display()
        )
    } else {
        format!(
            "{}: is an experiment directory; name one of its runs ({})",
            from.display(),
            seeds.join(", ")
        )
    }))
}

/// Writes the checkpoint `from` stands for ([`resolve_checkpoint`]; dense, masked or shrunk)
/// to `out` in `format` (safetensors under `layout`'s names), with the checkpoint's record
/// (model, dataset, test metrics, sparsity, channel widths) as the file's `shears` metadata;
/// returns the checkpoint used.
pub fn export(
    from: &Path,
    format: ExportFormat,
    layout: Layout,
    out: &Path,
    devices: &Devices,
) -> Result<PathBuf, RunError> {
    if format == ExportFormat::Onnx && layout != Layout::Shears {
        return Err(RunError::Invalid(format!(
            "--layout {layout} names a state dict's tensors; an ONNX graph keeps shears' names"
        )));
    }
    let checkpoint = resolve_checkpoint(from)?;
    let (net, meta) = checkpoint::load(&checkpoint, None, &devices.base)?;
    let record = serde_json::to_string(&meta)
        .map_err(|e| RunError::Invalid(format!("{}: {e}", checkpoint.display())))?;
    let invalid = |e: String| RunError::Invalid(format!("{}: {e}", out.display()));
    match format {
        ExportFormat::Safetensors => {
            export_safetensors_as(&net, &[("shears", record)], layout, out)
                .map_err(|e| RunError::Invalid(e.to_string()))?
        }
        ExportFormat::Onnx => {
            let bytes = to_onnx(&net, &meta.model, &[("shears", record)]).map_err(invalid)?;
            checkpoint::write_atomic(out, &bytes)
                .map_err(|e| invalid(format!("cannot write ({e})")))?;
        }
    }
    Ok(checkpoint)
}
