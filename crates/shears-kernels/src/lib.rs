//! CPU kernels for the operations that dominate shears' training time on small networks:
//! 2-D convolution (forward and both gradients), max-pooling (forward with argmax, and its
//! gradient) and batch normalisation (training mode with its backward, and inference as one
//! multiply-add; both optionally fused with a ReLU), and the sparse (CSR) matrix product that
//! runs inference of unstructured-pruned fully connected layers ([`csr`]).
//!
//! Burn-flex computes a convolution's weight gradient as a convolution whose kernel is the whole
//! output gradient and converts layouts on every call, which leaves the small-channel layers of
//! LeNet-5 and the CIFAR ResNets far below the CPU's matmul speed (profile in
//! `docs/benchmarks.md`). Here every product is one cache-sized GEMM per sample: the sample's
//! im2col matrix (at most a few hundred KiB for these layers) is built, multiplied and dropped
//! while it is still in cache. All tensors are contiguous NCHW `f32` slices; `shears-nn` wires
//! the kernels into Burn's autodiff as a backend extension.
//!
//! Results do not depend on scheduling: the batch is split into one contiguous block per
//! worker thread and per-block weight-gradient partial sums are added in block order, so the
//! same thread count gives bit-identical results.

mod conv;
pub mod csr;
mod gemm;
mod norm;
mod pool;

pub use conv::{Conv2dShape, conv2d_backward_input, conv2d_backward_weight, conv2d_forward};
pub use norm::{NormShape, batch_norm_train_backward, batch_norm_train_forward, channel_affine};
pub use pool::{Pool2dShape, max_pool2d_backward, max_pool2d_forward};

/// A shape or buffer length that does not fit the operation: names the offending value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError(pub String);

impl std::fmt::Display for ShapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ShapeError {}

fn check_len(what: &str, got: usize, want: usize) -> Result<(), ShapeError> {
    if got == want {
        Ok(())
    } else {
        Err(ShapeError(format!(
            "{what} has {got} elements, the shape needs {want}"
        )))
    }
}

/// Worker threads the kernels (and Burn's flex backend, on the same rayon pool) split work
/// over: `RAYON_NUM_THREADS`, else one per core. Results depend on it (docs/determinism.md).
pub fn threads() -> usize {
    rayon::current_num_threads()
}

/// Contiguous blocks of `0..n`, one per worker thread (at most `n`), so work split and
/// reduction order depend only on the thread count.
fn blocks(n: usize) -> Vec<std::ops::Range<usize>> {
    let parts = threads().clamp(1, n.max(1));
    (0..parts)
        .map(|i| (i * n / parts)..((i + 1) * n / parts))
        .filter(|r| !r.is_empty())
        .collect()
}

/// Σ r in eight f32 lanes (vectorised, fixed order), returned as f64.
#[inline]
fn lane_sum(r: &[f32]) -> f64 {
    let mut acc = [0.0f32; 8];
    let chunks = r.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for j in 0..8 {
            acc[j] += c[j];
        }
    }
    acc.iter().map(|&a| a as f64).sum::<f64>() + tail as f64
}
