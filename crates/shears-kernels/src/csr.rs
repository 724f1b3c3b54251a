//! Compressed sparse row (CSR) matrices for inference with unstructured-pruned Linear layers,
//! so a model at high sparsity costs in proportion to the weights it keeps.
//!
//! Layout, chosen for speed on CPU:
//! - The matrix is stored by **output** row: row `o` lists the inputs that feed output `o`. A
//!   Burn `Linear` weight is `[in, out]` (`y = x W`), so it is built with
//!   [`Csr::from_dense_transposed`]; a PyTorch-layout `[out, in]` weight with [`Csr::from_dense`].
//! - Activations are **feature-major** (`[features][batch]`), so the inner loop of
//!   [`Csr::matmul_feature_major`] is an axpy `acc[..] += w · x[j][..]` over a contiguous run
//!   of the batch. Runs of 64 (then 16, then single) samples are accumulated in fixed-size
//!   arrays the compiler keeps in vector registers; on x86-64 the kernel is compiled for AVX2
//!   and AVX-512 as well and picked at run time.
//! - Output rows are split across rayon's global pool; small products run on the calling thread.
//!
//! [`SparseChain`] strings layers (CSR weight + bias + optional ReLU) into an MLP forward pass
//! taking and returning the usual batch-major `[batch][features]` data.

use rayon::prelude::*;
use thiserror::Error;

/// Why a sparse matrix or chain could not be built or applied.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SparseError {
    #[error("{what}: {got} values for a {rows}x{cols} matrix")]
    Shape {
        what: &'static str,
        rows: usize,
        cols: usize,
        got: usize,
    },
    #[error("{rows}x{cols} matrix is too large for 32-bit column indices")]
    TooLarge { rows: usize, cols: usize },
    #[error("layer {layer}: bias has {got} entries for {outputs} outputs")]
    Bias {
        layer: usize,
        outputs: usize,
        got: usize,
    },
    #[error("layer {layer}: takes {got} inputs but the previous layer gives {expected}")]
    Chain {
        layer: usize,
        expected: usize,
        got: usize,
    },
    #[error("a sparse chain needs at least one layer")]
    Empty,
}

/// A `rows x cols` sparse matrix in CSR form (column indices ascending within each row).
#[derive(Debug, Clone, PartialEq)]
pub struct Csr {
    rows: usize,
    cols: usize,
    /// `row_ptr[r]..row_ptr[r + 1]` indexes row `r`'s entries; `rows + 1` long.
    row_ptr: Vec<usize>,
    col_idx: Vec<u32>,
    values: Vec<f32>,
}

fn check_mask(
    mask: Option<&[bool]>,
    n: usize,
    rows: usize,
    cols: usize,
) -> Result<(), SparseError> {
    match mask {
        Some(m) if m.len() != n => Err(SparseError::Shape {
            what: "keep mask",
            rows,
            cols,
            got: m.len(),
        }),
        _ => Ok(()),
    }
}

impl Csr {
    /// CSR of the row-major `rows x cols` matrix `w` (row `r` is `w[r*cols..(r+1)*cols]`).
    /// With `keep` (one flag per entry of `w`, `true` = kept), exactly the kept entries are
    /// stored (the mask is the structure); without, the non-zero entries.
    pub fn from_dense(
        w: &[f32],
        rows: usize,
        cols: usize,
        keep: Option<&[bool]>,
    ) -> Result<Self, SparseError> {
        Self::build(w, rows, cols, keep, false)
    }

    /// CSR of the **transpose** of the row-major `w_rows x w_cols` matrix `w`: a
    /// `w_cols x w_rows` matrix whose row `o` is column `o` of `w`. For a Burn `Linear` weight
    /// `[in, out]` this gives one row per output, as [`Csr::matmul_feature_major`] wants.
    /// `keep` indexes `w` in its own (untransposed) row-major order, as a pruning mask of the
    /// weight does.
    pub fn from_dense_transposed(
        w: &[f32],
        w_rows: usize,
        w_cols: usize,
        keep: Option<&[bool]>,
    ) -> Result<Self, SparseError> {
        Self::build(w, w_rows, w_cols, keep, true)
    }

    fn build(
        w: &[f32],
        w_rows: usize,
        w_cols: usize,
        keep: Option<&[bool]>,
        transpose: bool,
    ) -> Result<Self, SparseError> {
        let n = w_rows.checked_mul(w_cols).ok_or(SparseError::TooLarge {
            rows: w_rows,
            cols: w_cols,
        })?;
        if w.len() != n {
            return Err(SparseError::Shape {
                what: "weight",
                rows: w_rows,
                cols: w_cols,
                got: w.len(),
            });
        }
        check_mask(keep, n, w_rows, w_cols)?;
        let (rows, cols) = if transpose {
            (w_cols, w_rows)
        } else {
            (w_rows, w_cols)
        };
        if u32::try_from(cols).is_err() {
            return Err(SparseError::TooLarge { rows, cols });
        }
        let stored = |k: usize| keep.map_or(w[k] != 0.0, |m| m[k]);
        let mut row_ptr = Vec::with_capacity(rows + 1);
        row_ptr.push(0);
        let mut col_idx = Vec::new();
        let mut values = Vec::new();
        if transpose {
            // Count per output row in one pass over `w` (sequential reads), then fill.
            let mut counts = vec![0usize; rows];
            for k in (0..n).filter(|&k| stored(k)) {
                counts[k % w_cols] += 1;
            }
            let nnz: usize = counts.iter().sum();
            for c in &counts {
                row_ptr.push(row_ptr.last().copied().unwrap_or(0) + c);
            }
            col_idx = vec![0u32; nnz];
            values = vec![0f32; nnz];
            let mut next = row_ptr[..rows].to_vec();
            for i in 0..w_rows {
                for (o, slot) in next.iter_mut().enumerate() {
                    let k = i * w_cols + o;
                    if stored(k) {
                        col_idx[*slot] = i as u32;
                        values[*slot] = w[k];
                        *slot += 1;
                    }
                }
            }
        } else {
            for r in 0..rows {
                for c in 0..cols {
                    let k = r * w_cols + c;
                    if stored(k) {
                        col_idx.push(c as u32);
                        values.push(w[k]);
                    }
                }
                row_ptr.push(values.len());
            }
        }
        Ok(Self {
            rows,
            cols,
            row_ptr,
            col_idx,
            values,
        })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Stored entries.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// Stored entries over `rows · cols` (1 for an empty shape).
    pub fn density(&self) -> f64 {
        let n = self.rows * self.cols;
        if n == 0 {
            1.0
        } else {
            self.nnz() as f64 / n as f64
        }
    }

    /// Column indices and values of row `r`.
    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let span = self.row_ptr[r]..self.row_ptr[r + 1];
        (&self.col_idx[span.clone()], &self.values[span])
    }

    /// The dense row-major `rows x cols` matrix.
    pub fn to_dense(&self) -> Vec<f32> {
        let mut out = vec![0.0; self.rows * self.cols];
        for r in 0..self.rows {
            let (idx, val) = self.row(r);
            for (&c, &v) in idx.iter().zip(val) {
                out[r * self.cols + c as usize] = v;
            }
        }
        out
    }

    /// `y = act(A x + bias)` on feature-major data: `x` is `[cols][batch]`, `y` is
    /// `[rows][batch]` (overwritten), `bias` has `rows` entries, `act` is ReLU when `relu`.
    /// Panics if a length does not match (the checked entry point is [`SparseChain`]).
    pub fn matmul_feature_major(
        &self,
        x: &[f32],
        batch: usize,
        bias: Option<&[f32]>,
        relu: bool,
        y: &mut [f32],
    ) {
        assert_eq!(x.len(), self.cols * batch, "x must be [cols][batch]");
        assert_eq!(y.len(), self.rows * batch, "y must be [rows][batch]");
        if let Some(b) = bias {
            assert_eq!(b.len(), self.rows, "one bias per row");
        }
        if batch == 0 || self.rows == 0 {
            return;
        }
        let work = self.nnz().max(self.rows) * batch;
        let threads = rayon::current_num_threads();
        if work < PAR_MIN_WORK || threads < 2 {
            kernel(self, x, batch, bias, relu, 0, y);
            return;
        }
        // Several tasks per thread so work-stealing evens out rows of unequal length.
        let rows_per_task = self.rows.div_ceil(threads * 4).max(1);
        y.par_chunks_mut(rows_per_task * batch)
            .enumerate()
            .for_each(|(t, chunk)| kernel(self, x, batch, bias, relu, t * rows_per_task, chunk));
    }

    /// `x W^T`-style product on batch-major data, where this matrix is `W`: `x` is
    /// `[batch][cols]`, the result `[batch][rows]`. Transposes in and out around
    /// [`Csr::matmul_feature_major`].
    pub fn matmul_batch_major(&self, x: &[f32], batch: usize, bias: Option<&[f32]>) -> Vec<f32> {
        let xt = transpose(x, batch, self.cols);
        let mut yt = vec![0.0; self.rows * batch];
        self.matmul_feature_major(&xt, batch, bias, false, &mut yt);
        transpose(&yt, self.rows, batch)
    }
}

/// Below this many multiply-adds (~30 µs on one core) a product runs on the calling thread:
/// waking the pool costs more than it saves, especially on a busy machine.
const PAR_MIN_WORK: usize = 1 << 20;

/// Rows `first..` of the product into `y` (whole rows of `batch` outputs each).
fn kernel(
    a: &Csr,
    x: &[f32],
    batch: usize,
    bias: Option<&[f32]>,
    relu: bool,
    first: usize,
    y: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F (checked just above).
            unsafe { kernel_avx512(a, x, batch, bias, relu, first, y) };
            return;
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            unsafe { kernel_avx2(a, x, batch, bias, relu, first, y) };
            return;
        }
    }
    kernel_generic(a, x, batch, bias, relu, first, y);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn kernel_avx512(
    a: &Csr,
    x: &[f32],
    batch: usize,
    bias: Option<&[f32]>,
    relu: bool,
    first: usize,
    y: &mut [f32],
) {
    kernel_generic(a, x, batch, bias, relu, first, y);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn kernel_avx2(
    a: &Csr,
    x: &[f32],
    batch: usize,
    bias: Option<&[f32]>,
    relu: bool,
    first: usize,
    y: &mut [f32],
) {
    kernel_generic(a, x, batch, bias, relu, first, y);
}

#[inline(always)]
fn kernel_generic(
    a: &Csr,
    x: &[f32],
    batch: usize,
    bias: Option<&[f32]>,
    relu: bool,
    first: usize,
    y: &mut [f32],
) {
    for (k, out) in y.chunks_exact_mut(batch).enumerate() {
        let r = first + k;
        let (idx, val) = a.row(r);
        let b = bias.map_or(0.0, |b| b[r]);
        let mut s = 0;
        while s + 64 <= batch {
            block::<64>(idx, val, x, batch, s, b, relu, &mut out[s..s + 64]);
            s += 64;
        }
        while s + 16 <= batch {
            block::<16>(idx, val, x, batch, s, b, relu, &mut out[s..s + 16]);
            s += 16;
        }
        while s < batch {
            block::<1>(idx, val, x, batch, s, b, relu, &mut out[s..s + 1]);
            s += 1;
        }
    }
}

/// `B` consecutive samples `s..s+B` of one output row, accumulated in registers.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn block<const B: usize>(
    idx: &[u32],
    val: &[f32],
    x: &[f32],
    batch: usize,
    s: usize,
    bias: f32,
    relu: bool,
    out: &mut [f32],
) {
    let mut acc = [bias; B];
    for (&j, &w) in idx.iter().zip(val) {
        let start = j as usize * batch + s;
        let xs: &[f32; B] = x[start..start + B].try_into().expect("B values");
        for (a, &v) in acc.iter_mut().zip(xs) {
            *a += w * v;
        }
    }
    if relu {
        for a in &mut acc {
            *a = a.max(0.0);
        }
    }
    out.copy_from_slice(&acc);
}

/// Row-major `rows x cols` → row-major `cols x rows` (batch-major ↔ feature-major).
pub fn transpose(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    assert_eq!(m.len(), rows * cols, "matrix length");
    let mut out = vec![0.0; m.len()];
    if rows == 0 || cols == 0 {
        return out;
    }
    // Output rows (input columns) in bands of C, each filled from 8 input rows at a time: 8
    // sequential read streams, one contiguous 8-value write per output row.
    const C: usize = 64;
    for (band, dst) in out.chunks_mut(C * rows).enumerate() {
        let c0 = band * C;
        let nc = dst.len() / rows;
        let mut r0 = 0;
        while r0 + 8 <= rows {
            let src: [&[f32]; 8] = std::array::from_fn(|k| &m[(r0 + k) * cols + c0..][..nc]);
            for (c, d) in dst.chunks_exact_mut(rows).enumerate() {
                let d: &mut [f32; 8] = (&mut d[r0..r0 + 8]).try_into().expect("8 values");
                for (k, v) in d.iter_mut().enumerate() {
                    *v = src[k][c];
                }
            }
            r0 += 8;
        }
        for r in r0..rows {
            let src = &m[r * cols + c0..][..nc];
            for (d, &v) in dst.chunks_exact_mut(rows).zip(src) {
                d[r] = v;
            }
        }
    }
    out
}

/// One layer of a [`SparseChain`]: `y = act(W x + bias)` with `W` stored by output row.
#[derive(Debug, Clone, PartialEq)]
pub struct SparseLayer {
    pub weight: Csr,
    pub bias: Option<Vec<f32>>,
    pub relu: bool,
}

/// A feed-forward chain of sparse layers (an MLP): batch-major in, batch-major out, with the
/// activations kept feature-major in between.
#[derive(Debug, Clone, PartialEq)]
pub struct SparseChain {
    layers: Vec<SparseLayer>,
}

impl SparseChain {
    /// Checks that biases match their layers and that each layer takes what the last gives.
    pub fn new(layers: Vec<SparseLayer>) -> Result<Self, SparseError> {
        if layers.is_empty() {
            return Err(SparseError::Empty);
        }
        for (i, l) in layers.iter().enumerate() {
            if let Some(b) = &l.bias
                && b.len() != l.weight.rows()
            {
                return Err(SparseError::Bias {
                    layer: i,
                    outputs: l.weight.rows(),
                    got: b.len(),
                });
            }
            if i > 0 && layers[i - 1].weight.rows() != l.weight.cols() {
                return Err(SparseError::Chain {
                    layer: i,
                    expected: layers[i - 1].weight.rows(),
                    got: l.weight.cols(),
                });
            }
        }
        Ok(Self { layers })
    }

    pub fn layers(&self) -> &[SparseLayer] {
        &self.layers
    }

    pub fn inputs(&self) -> usize {
        self.layers[0].weight.cols()
    }

    pub fn outputs(&self) -> usize {
        self.layers[self.layers.len() - 1].weight.rows()
    }

    /// Stored weights over all layers.
    pub fn nnz(&self) -> usize {
        self.layers.iter().map(|l| l.weight.nnz()).sum()
    }

    /// Forward pass of `x` (`[batch][inputs]`, `batch = x.len() / inputs`) to
    /// `[batch][outputs]`.
    pub fn forward(&self, x: &[f32]) -> Result<Vec<f32>, SparseError> {
        let d_in = self.inputs();
        if d_in == 0 || !x.len().is_multiple_of(d_in) {
            return Err(SparseError::Shape {
                what: "input batch",
                rows: x.len().checked_div(d_in).unwrap_or(0),
                cols: d_in,
                got: x.len(),
            });
        }
        let batch = x.len() / d_in;
        let mut h = transpose(x, batch, d_in);
        for l in &self.layers {
            let mut next = vec![0.0; l.weight.rows() * batch];
            l.weight
                .matmul_feature_major(&h, batch, l.bias.as_deref(), l.relu, &mut next);
            h = next;
        }
        Ok(transpose(&h, self.outputs(), batch))
    }
}

#[cfg(test)]
mod tests;
