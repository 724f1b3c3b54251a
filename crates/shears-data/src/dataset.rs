//! The in-memory dataset: raw bytes plus labels, framework-free.

use crate::{DataError, Normalization};

/// Images as raw bytes in `N × C × H × W` order (channel-major per image, as tensors expect)
/// with one class index per image.
///
/// Bytes rather than floats keep a 60,000-image set at 47 MB; conversion to normalized
/// floats happens per batch in [`crate::Batches`]. Fields are public for easy construction;
/// [`Dataset::validate`] (called by [`Dataset::new`] and [`crate::Batches::new`]) checks
/// they agree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataset {
    pub images: Vec<u8>,
    pub labels: Vec<u16>,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub num_classes: usize,
}

/// The official train and test partitions of a dataset.
#[derive(Clone, Debug, PartialEq)]
pub struct Splits {
    pub train: Dataset,
    pub test: Dataset,
    /// Per-channel statistics computed from this data's training split (an image folder);
    /// `None`: the dataset's standard ones ([`crate::DatasetId::normalization`]).
    pub normalization: Option<Normalization>,
    /// Files left out because they do not decode (an image folder read with
    /// `skip_corrupt`); empty otherwise.
    pub skipped: Vec<std::path::PathBuf>,
}

impl Dataset {
    /// Builds a dataset and checks that sizes and labels are consistent.
    pub fn new(
        images: Vec<u8>,
        labels: Vec<u16>,
        channels: usize,
        height: usize,
        width: usize,
        num_classes: usize,
    ) -> Result<Self, DataError> {
        let ds = Dataset {
            images,
            labels,
            channels,
            height,
            width,
            num_classes,
        };
        ds.validate()?;
        Ok(ds)
    }

    /// Checks `images.len() == len × C × H × W`, non-empty sample shape and label range.
    pub fn validate(&self) -> Result<(), DataError> {
        let bad = |detail: String| Err(DataError::Inconsistent { detail });
        let sample = self
            .channels
            .checked_mul(self.height)
            .and_then(|v| v.checked_mul(self.width));
        let Some(sample) = sample.filter(|&s| s > 0) else {
            return bad(format!(
                "sample shape {}x{}x{} is empty or overflows",
                self.channels, self.height, self.width
            ));
        };
        if self.labels.len().checked_mul(sample) != Some(self.images.len()) {
            return bad(format!(
                "{} image bytes do not make {} images of {}x{}x{}",
                self.images.len(),
                self.labels.len(),
                self.channels,
                self.height,
                self.width
            ));
        }
        if let Some((i, &l)) = self
            .labels
            .iter()
            .enumerate()
            .find(|&(_, &l)| l as usize >= self.num_classes)
        {
            return bad(format!(
                "label {l} of item {i} is out of range for {} classes",
                self.num_classes
            ));
        }
        Ok(())
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the dataset holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// `[channels, height, width]` of one image.
    pub fn sample_shape(&self) -> [usize; 3] {
        [self.channels, self.height, self.width]
    }

    /// Bytes per image (`C × H × W`).
    pub fn sample_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Image `i` as `C × H × W` bytes, or `None` when out of range.
    pub fn image(&self, i: usize) -> Option<&[u8]> {
        let s = self.sample_len();
        self.images
            .get(i.checked_mul(s)?..i.checked_add(1)?.checked_mul(s)?)
    }

    /// How many images each class has (index = class).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes];
        for &l in &self.labels {
            if let Some(c) = counts.get_mut(l as usize) {
                *c += 1;
            }
        }
        counts
    }

    /// A new dataset holding the given items in the given order (repeats allowed).
    ///
    /// Returns an error rather than panicking on an out-of-range index, since indices often
    /// come from files or configuration.
    pub fn subset(&self, indices: &[usize]) -> Result<Dataset, DataError> {
        let s = self.sample_len();
        let mut images = Vec::with_capacity(indices.len().saturating_mul(s));
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            let img = self.image(i).ok_or_else(|| {
                DataError::InvalidArgument(format!(
                    "subset index {i} out of range for a dataset of {} images",
                    self.len()
                ))
            })?;
            images.extend_from_slice(img);
            labels.push(self.labels[i]);
        }
        Ok(Dataset {
            images,
            labels,
            ..*self
        })
    }
}
