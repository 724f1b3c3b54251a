//! Per-channel normalization `(x / 255 − mean) / std`, applied through lookup tables.

use serde::{Deserialize, Serialize};

use crate::DataError;

/// Per-channel mean and standard deviation of pixel values scaled to `[0, 1]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl Normalization {
    /// Checked constructor: equal lengths, finite means, finite positive stds.
    pub fn new(mean: Vec<f32>, std: Vec<f32>) -> Result<Self, DataError> {
        let n = Normalization { mean, std };
        n.validate()?;
        Ok(n)
    }

    /// Just scales to `[0, 1]` (mean 0, std 1); handy for tests and raw-value inspection.
    pub fn identity(channels: usize) -> Self {
        Normalization {
            mean: vec![0.0; channels],
            std: vec![1.0; channels],
        }
    }

    /// Fashion-MNIST training-set statistics.
    pub fn fashion_mnist() -> Self {
        Normalization {
            mean: vec![0.2860],
            std: vec![0.3530],
        }
    }

    /// MNIST training-set statistics.
    pub fn mnist() -> Self {
        Normalization {
            mean: vec![0.1307],
            std: vec![0.3081],
        }
    }

    /// CIFAR-10 statistics (RGB), as used by the reference implementation.
    pub fn cifar10() -> Self {
        Normalization {
            mean: vec![0.4914, 0.4822, 0.4465],
            std: vec![0.247, 0.243, 0.261],
        }
    }

    /// CIFAR-100 statistics (RGB).
    pub fn cifar100() -> Self {
        Normalization {
            mean: vec![0.5071, 0.4867, 0.4408],
            std: vec![0.2675, 0.2565, 0.2761],
        }
    }

    /// Number of channels described.
    pub fn channels(&self) -> usize {
        self.mean.len()
    }

    /// Checks the statistics are usable (a zero std would produce infinities silently).
    pub fn validate(&self) -> Result<(), DataError> {
        if self.mean.len() != self.std.len() || self.mean.is_empty() {
            return Err(DataError::InvalidArgument(format!(
                "normalization needs one mean and one std per channel, got {} means and {} stds",
                self.mean.len(),
                self.std.len()
            )));
        }
        if self.mean.iter().any(|m| !m.is_finite())
            || self.std.iter().any(|s| !(s.is_finite() && *s > 0.0))
        {
            return Err(DataError::InvalidArgument(format!(
                "normalization means must be finite and stds finite and positive, got mean \
                 {:?} std {:?}",
                self.mean, self.std
            )));
        }
        Ok(())
    }

    /// Normalized value of byte `value` in `channel` (channel out of range: `None`).
    pub fn apply(&self, channel: usize, value: u8) -> Option<f32> {
        let (m, s) = (self.mean.get(channel)?, self.std.get(channel)?);
        Some((value as f32 / 255.0 - m) / s)
    }

    /// One 256-entry table per channel: the batch loop becomes a table lookup per pixel
    /// instead of a subtract and a divide.
    pub fn lookup_tables(&self) -> Result<Vec<[f32; 256]>, DataError> {
        self.validate()?;
        Ok((0..self.channels())
            .map(|c| {
                let mut t = [0.0f32; 256];
                for (v, slot) in t.iter_mut().enumerate() {
                    *slot = (v as f32 / 255.0 - self.mean[c]) / self.std[c];
                }
                t
            })
            .collect())
    }
}
