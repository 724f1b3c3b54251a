//! The embedded `fashion-mnist-mini` set, so a fresh clone trains with zero downloads.
//!
//! The files under `data/fashion-mnist-mini/` are made by `examples/make_mini.rs` and go
//! through the same validating IDX parser as files on disk.

use std::path::Path;

use crate::{DataError, Splits, idx};

/// Seed of the stratified training-subset selection (see [`crate::stratified_subset_indices`]).
pub const MINI_SEED: u64 = 2017;
/// Training images kept per class.
pub const MINI_TRAIN_PER_CLASS: usize = 1000;

const TRAIN_IMAGES: &[u8] =
    include_bytes!("../../../data/fashion-mnist-mini/train-images-idx3-ubyte.gz");
const TRAIN_LABELS: &[u8] =
    include_bytes!("../../../data/fashion-mnist-mini/train-labels-idx1-ubyte.gz");
const TEST_IMAGES: &[u8] =
    include_bytes!("../../../data/fashion-mnist-mini/t10k-images-idx3-ubyte.gz");
const TEST_LABELS: &[u8] =
    include_bytes!("../../../data/fashion-mnist-mini/t10k-labels-idx1-ubyte.gz");

/// Decodes the embedded subset: 10,000 training images (1,000 per class, in original order)
/// and the official 10,000-image test set, 1×28×28, 10 classes.
pub fn load_fashion_mnist_mini() -> Result<Splits, DataError> {
    let p = |f: &str| Path::new("<embedded>/data/fashion-mnist-mini").join(f);
    Ok(Splits {
        train: idx::parse_dataset(
            &p("train-images-idx3-ubyte.gz"),
            TRAIN_IMAGES,
            &p("train-labels-idx1-ubyte.gz"),
            TRAIN_LABELS,
            10,
        )?,
        test: idx::parse_dataset(
            &p("t10k-images-idx3-ubyte.gz"),
            TEST_IMAGES,
            &p("t10k-labels-idx1-ubyte.gz"),
            TEST_LABELS,
            10,
        )?,
        normalization: None,
        skipped: Vec::new(),
    })
}
