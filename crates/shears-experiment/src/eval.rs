//! Measuring a checkpoint on a test split (`shears eval`), optionally with every sample's
//! prediction written out, so that shears can be compared with another framework sample by
//! sample (docs/interop.md).

use crate::interop::resolve_checkpoint;
use crate::runner::RunError;
use shears_data::DatasetId;
use shears_nn::checkpoint::{self, CheckpointMeta};
use shears_nn::metrics::Metrics;
use shears_nn::train::{Devices, Prepared, Source, evaluate_with};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What to evaluate.
#[derive(Debug, Clone)]
pub struct Eval {
    /// A checkpoint file or a seed's run directory (its last committed step).
    pub checkpoint: PathBuf,
    /// The dataset (default: the one the checkpoint records).
    pub data: Option<DatasetId>,
    pub data_dir: Option<PathBuf>,
    /// An image folder: leave out files that do not decode (as its training did).
    pub skip_corrupt: bool,
    /// Where to write the per-sample CSV (see [`PredictionsCsv`]), if anywhere.
    pub predictions: Option<PathBuf>,
}

/// What was measured, and on what.
#[derive(Debug, Clone)]
pub struct Evaluated {
    pub checkpoint: PathBuf,
    pub meta: CheckpointMeta,
    pub dataset: DatasetId,
    pub test: Metrics,
    /// Whether the rows are tokens of a language model (report perplexity).
    pub language_model: bool,
}

/// Loads the checkpoint, measures it on the test split, and writes the predictions file (only
/// once every row is in: a failed evaluation leaves no partial file).
pub fn evaluate_checkpoint(o: &Eval, devices: &Devices) -> Result<Evaluated, RunError> {
    let path = resolve_checkpoint(&o.checkpoint)?;
    let (model, meta) = checkpoint::load(&path, None, &devices.base)?;
    let dataset = match o.data {
        Some(d) => d,
        None => meta.dataset.parse().map_err(|e| {
            RunError::Invalid(format!(
                "{}: recorded dataset: {e}; pass --data",
                path.display()
            ))
        })?,
    };
    // An image folder is read at the model's input size.
    let folder = shears_data::FolderRead {
        size: Some(meta.model.input[1]),
        skip_corrupt: o.skip_corrupt,
    };
    let source = Source::load_with(dataset, o.data_dir.as_deref(), folder)?;
    let data = Prepared::for_model(dataset, source, 0.0, 0, &meta.model, meta.vocab.as_ref())?;
    data.check_model(&meta.model)
        .map_err(|e| RunError::Invalid(format!("{}: {e}", path.display())))?;
    let mut csv = o.predictions.as_ref().map(|_| PredictionsCsv::default());
    let test = evaluate_with(
        &model,
        &data.test,
        "test",
        &data.eval_batches(),
        &devices.base,
        &mut |label, logits| {
            if let Some(csv) = csv.as_mut() {
                csv.row(label, logits);
            }
            Ok(())
        },
    )?;
    if let (Some(out), Some(csv)) = (&o.predictions, csv) {
        csv.write(out)?;
    }
    Ok(Evaluated {
        checkpoint: path,
        language_model: data.vocab.is_some(),
        meta,
        dataset,
        test,
    })
}

/// Per-sample predictions as CSV: `sample,label,predicted,correct,logit_0,…`, one row per
/// test sample (per predicted token for a language model) in the split's order. `predicted`
/// is the first largest logit; `correct` is 1 where the sample counts for top-1 as shears
/// counts it (no class strictly above the label's), so its mean is the reported top-1.
/// Logits are written in Rust's shortest round-trip form: read back, they are the same f32.
#[derive(Debug, Default)]
pub struct PredictionsCsv {
    text: String,
    rows: u64,
}

impl PredictionsCsv {
    pub fn row(&mut self, label: i64, logits: &[f32]) {
        if self.rows == 0 {
            self.text.push_str("sample,label,predicted,correct");
            for c in 0..logits.len() {
                let _ = write!(self.text, ",logit_{c}");
            }
            self.text.push('\n');
        }
        let predicted = logits
            .iter()
            .enumerate()
            .fold(0, |best, (i, &v)| if v > logits[best] { i } else { best });
        let target = usize::try_from(label).ok().and_then(|l| logits.get(l));
        let correct = target.is_some_and(|&t| !logits.iter().any(|&v| v > t));
        let _ = write!(
            self.text,
            "{},{label},{predicted},{}",
            self.rows,
            u8::from(correct)
        );
        for v in logits {
            let _ = write!(self.text, ",{v}");
        }
        self.text.push('\n');
        self.rows += 1;
    }

    /// Writes the file atomically.
    pub fn write(&self, path: &Path) -> Result<(), RunError> {
        checkpoint::write_atomic(path, self.text.as_bytes())
            .map_err(|e| RunError::Invalid(format!("{}: cannot write ({e})", path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_name_the_prediction_and_count_ties_as_top1_does() {
        let mut csv = PredictionsCsv::default();
        csv.row(1, &[0.5, 2.0, -1.0]);
        csv.row(0, &[3.0, 3.0, 1.0]); // a tie at the top: predicted 0, and correct
        csv.row(2, &[0.0, 1.5, 1.0]);
        let lines: Vec<&str> = csv.text.lines().collect();
        assert_eq!(
            lines,
            [
                "sample,label,predicted,correct,logit_0,logit_1,logit_2",
                "0,1,1,1,0.5,2,-1",
                "1,0,0,1,3,3,1",
                "2,2,1,0,0,1.5,1",
            ]
        );
    }
}
