//! Mini-batch iteration: order, augmentation and normalization into `f32` buffers.
//!
//! Everything random is derived from `(seed, epoch)`, so a run can be replayed exactly and
//! resumed at any epoch without replaying earlier ones.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::augment::PAD;
use crate::{Augment, DataError, Dataset, Normalization};

/// One mini-batch: `n` images as normalized `n × C × H × W` floats and their class indices
/// (`i64`, the integer type tensor libraries use for class targets).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    pub images: Vec<f32>,
    pub labels: Vec<i64>,
    pub n: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
}

impl Batch {
    /// `[n, channels, height, width]`.
    pub fn shape(&self) -> [usize; 4] {
        [self.n, self.channels, self.height, self.width]
    }
}

/// How to turn a dataset into batches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchConfig {
    pub batch_size: usize,
    /// Reshuffle every epoch (training); `false` keeps dataset order (evaluation).
    pub shuffle: bool,
    /// Root seed for shuffling and augmentation; combined with the epoch by [`epoch_seed`].
    pub seed: u64,
    pub augment: Option<Augment>,
    pub normalization: Normalization,
}

impl BatchConfig {
    /// Dataset order, no augmentation: for validation and test sets.
    pub fn eval(batch_size: usize, normalization: Normalization) -> Self {
        BatchConfig {
            batch_size,
            shuffle: false,
            seed: 0,
            augment: None,
            normalization,
        }
    }

    /// Shuffled every epoch, optionally augmented: for training.
    pub fn train(
        batch_size: usize,
        seed: u64,
        normalization: Normalization,
        augment: Option<Augment>,
    ) -> Self {
        BatchConfig {
            batch_size,
            shuffle: true,
            seed,
            augment,
            normalization,
        }
    }
}

/// SplitMix64 finalizer: a bijective mix, so distinct epochs give unrelated seeds.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed of one epoch: a hash of `(seed, epoch)`. Shuffling uses ChaCha8 stream 0 of it,
/// augmentation stream 1, so turning augmentation on does not change the batch order.
pub fn epoch_seed(seed: u64, epoch: u64) -> u64 {
    mix(seed ^ mix(epoch))
}

/// The order of `n` items in one epoch: shuffled with ChaCha8 stream 0 of
/// [`epoch_seed`]`(seed, epoch)`, or as they are without a seed. Image batches and token
/// windows share it, so both replay exactly from `(seed, epoch)`.
pub fn epoch_order(n: usize, seed: Option<u64>, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    if let Some(seed) = seed {
        let mut rng = ChaCha8Rng::seed_from_u64(epoch_seed(seed, epoch));
        rng.set_stream(0);
        order.shuffle(&mut rng);
    }
    order
}

/// Iterator over the batches of one epoch; the last, partial batch is kept so every item
/// is seen (evaluation accuracy must count all test images).
#[derive(Debug)]
pub struct Batches<'a> {
    data: &'a Dataset,
    order: Vec<usize>,
    pos: usize,
    batch_size: usize,
    writer: SampleWriter,
}

/// Per-epoch state for converting one image: tables, augmentation RNG and reusable
/// crop maps (no allocation per image).
#[derive(Debug)]
struct SampleWriter {
    height: usize,
    width: usize,
    luts: Vec<[f32; 256]>,
    augment: Option<(Augment, ChaCha8Rng)>,
    rows: Vec<usize>,
    cols: Vec<usize>,
}

impl<'a> Batches<'a> {
    /// Validates dataset and configuration, then fixes this epoch's order.
    pub fn new(data: &'a Dataset, config: &BatchConfig, epoch: u64) -> Result<Self, DataError> {
        if config.batch_size == 0 {
            return Err(DataError::InvalidArgument(
                "batch size must be positive".into(),
            ));
        }
        data.validate()?;
        if config.normalization.channels() != data.channels {
            return Err(DataError::Inconsistent {
                detail: format!(
                    "normalization has {} channel(s) but the images have {}",
                    config.normalization.channels(),
                    data.channels
                ),
            });
        }
        let luts = config.normalization.lookup_tables()?;
        let seed = epoch_seed(config.seed, epoch);
        let order = epoch_order(data.len(), config.shuffle.then_some(config.seed), epoch);
        let augment = match config.augment {
            Some(a) => {
                a.validate()?;
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(1);
                Some((a, rng))
            }
            None => None,
        };
        Ok(Batches {
            data,
            order,
            pos: 0,
            batch_size: config.batch_size,
            writer: SampleWriter {
                height: data.height,
                width: data.width,
                luts,
                augment,
                rows: Vec::with_capacity(data.height),
                cols: Vec::with_capacity(data.width),
            },
        })
    }

    /// Number of batches left.
    pub fn remaining(&self) -> usize {
        (self.order.len() - self.pos).div_ceil(self.batch_size)
    }

    /// Like [`Iterator::next`] but refills `batch`, reusing its buffers; returns `false` at
    /// the end of the epoch.
    pub fn next_into(&mut self, batch: &mut Batch) -> bool {
        let end = (self.pos + self.batch_size).min(self.order.len());
        if self.pos >= end {
            return false;
        }
        let d = self.data;
        let sample = d.sample_len();
        let n = end - self.pos;
        batch.n = n;
        batch.channels = d.channels;
        batch.height = d.height;
        batch.width = d.width;
        batch.images.clear();
        batch.images.resize(n * sample, 0.0);
        batch.labels.clear();
        for (k, &idx) in self.order[self.pos..end].iter().enumerate() {
            let src = &d.images[idx * sample..(idx + 1) * sample];
            let out = &mut batch.images[k * sample..(k + 1) * sample];
            self.writer.write(src, out);
            batch.labels.push(i64::from(d.labels[idx]));
        }
        self.pos = end;
        true
    }
}

impl SampleWriter {
    /// Normalizes (and, if configured, crops/flips) one `C × H × W` image into `out`.
    fn write(&mut self, src: &[u8], out: &mut [f32]) {
        let (h, w) = (self.height, self.width);
        let plane = h * w;
        let Some((aug, rng)) = &mut self.augment else {
            for ((o, s), lut) in out
                .chunks_exact_mut(plane)
                .zip(src.chunks_exact(plane))
                .zip(&self.luts)
            {
                for (o, &s) in o.iter_mut().zip(s) {
                    *o = lut[s as usize];
                }
            }
            return;
        };
        let max = 2 * aug.crop_padding;
        let dy = rng.random_range(0..=max);
        let dx = rng.random_range(0..=max);
        let flip = aug.hflip && rng.random_bool(0.5);
        aug.line_map(h, dy, false, &mut self.rows);
        aug.line_map(w, dx, flip, &mut self.cols);
        for ((o, s), lut) in out
            .chunks_exact_mut(plane)
            .zip(src.chunks_exact(plane))
            .zip(&self.luts)
        {
            for (orow, &r) in o.chunks_exact_mut(w).zip(&self.rows) {
                if r == PAD {
                    orow.fill(lut[0]);
                    continue;
                }
                let srow = &s[r * w..(r + 1) * w];
                for (o, &c) in orow.iter_mut().zip(&self.cols) {
                    *o = if c == PAD {
                        lut[0]
                    } else {
                        lut[srow[c] as usize]
                    };
                }
            }
        }
    }
}

impl Iterator for Batches<'_> {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        let mut b = Batch::default();
        self.next_into(&mut b).then_some(b)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let r = self.remaining();
        (r, Some(r))
    }
}

impl ExactSizeIterator for Batches<'_> {}
