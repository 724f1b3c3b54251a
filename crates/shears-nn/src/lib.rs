//! Models, training and checkpoints for shears, on Burn.

pub mod checkpoint;
pub mod csr_inference;
pub mod fit;
pub mod interrupt;
pub mod kernels;
pub mod metrics;
pub mod models;
pub mod ops;
pub mod optim;
pub mod params;
pub mod prune;
pub mod structured;
pub mod train;

pub use burn::tensor::Device;
