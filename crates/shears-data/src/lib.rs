//! Dataset plumbing for shears, free of any deep-learning framework: files in, plain
//! `Vec<u8>` / `Vec<f32>` buffers out. Another crate turns [`Batch`]es into tensors.
//!
//! - [`idx`] and [`cifar`] parse MNIST-style IDX files (raw or gzip) and CIFAR binaries,
//!   validating every size against the bytes present, so corrupt input is an error naming
//!   the file, never a panic or a huge allocation.
//! - [`load`] finds a [`DatasetId`] on disk; the default `fashion-mnist-mini` is embedded.
//! - [`split_validation`] holds out a stratified validation set, so pruning decisions never
//!   look at the test set.
//! - [`Batches`] shuffles, augments ([`Augment`]) and normalizes ([`Normalization`]) into
//!   batches, all seeded from `(seed, epoch)` for exact replay.
//! - [`text`] does the same for character-level language modelling: the embedded
//!   `kjv-mini` corpus or a user's UTF-8 text, a [`Vocab`], and [`TokenBatches`] of
//!   next-token windows.

mod augment;
mod batch;
pub mod cifar;
mod dataset;
mod error;
mod files;
mod folder;
pub mod idx;
mod mini;
mod normalize;
mod source;
mod split;
pub mod text;

pub use augment::{Augment, PadMode};
pub use batch::{Batch, BatchConfig, Batches, epoch_seed};
pub use dataset::{Dataset, Splits};
pub use error::DataError;
pub use files::MAX_FILE_BYTES;
pub use folder::{
    FOLDER_SPLIT_SEED, FOLDER_TEST_FRACTION, FolderData, FolderOptions, FolderRead, load_folder,
};
pub use mini::{MINI_SEED, MINI_TRAIN_PER_CLASS, load_fashion_mnist_mini};
pub use normalize::Normalization;
pub use source::{
    DATA_ENV, DEFAULT_IMAGE_SIZE, DatasetId, SYSTEM_FASHION_MNIST_DIR, load, load_corpus,
    load_idx_dir, locate, search_dirs,
};
pub use split::{DEFAULT_VALIDATION_FRACTION, split_validation, stratified_subset_indices};
pub use text::{
    TextCorpus, TextSplit, TokenBatch, TokenBatches, Vocab, Windows, bigram_perplexity,
    load_kjv_mini, load_text,
};
