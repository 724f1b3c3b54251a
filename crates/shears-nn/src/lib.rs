//! Models, training and checkpoints for shears, on Burn.

pub mod fit;
pub mod metrics;
pub mod models;
pub mod optim;
pub mod train;

pub use burn::tensor::Device;
