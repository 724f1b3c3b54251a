//! SparseGPT layer reconstruction (Frantar & Alistarh 2023, arXiv 2301.00774): one-shot pruning
//! of a linear layer that re-fits the surviving weights to the layer's calibration inputs.
//!
//! Pruning w_ij changes the layer's output; optimal brain surgeon (OBS) compensates by moving the
//! rest of row i along H⁻¹, H = (2/n) Σ x xᵀ the Hessian of the squared output error (shared by
//! all rows). SparseGPT visits columns left to right and updates only columns not yet visited:
//! row j of U, the upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU), is then the exact OBS update, so one
//! factorisation serves every row and column. Updates within a block of columns are applied at
//! once, those to the columns right of it once per block (same arithmetic, fewer passes).
//!
//! Entries pruned before the call count toward the target and stay pruned. Like the new ones
//! they are compensated when their column is reached: updates from earlier columns that reached
//! them are passed on to later columns, not dropped (dropping them would lose the OBS optimum).
//! All pruned entries are exactly `0.0` on return. Weights are a row-major `f32` slice (rows =
//! output units, cols = input features, PyTorch's layout); the arithmetic is `f64`.

use crate::masks::shares::{apportion, balance};
use std::ops::Range;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Options of [`sparsegpt`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SparseGptOptions {
    /// Columns per block (the reference's `blocksize`, 128). For a fixed mask only speed depends
    /// on it, but a block's mask is chosen at its start from the weights updated so far. With a
    /// pattern it is rounded up to a multiple of m so that no group straddles two blocks.
    pub block: usize,
    /// Added to H's diagonal as a fraction of its mean (the reference's `percdamp`, 0.01): keeps
    /// H invertible with few or collinear calibration inputs.
    pub damp: f64,
}

impl Default for SparseGptOptions {
    fn default() -> Self {
        Self {
            block: 128,
            damp: 0.01,
        }
    }
}

/// What a call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SparseGptReport {
    /// Entries newly pruned by this call: `target_pruned` minus those pruned on entry.
    pub pruned: usize,
    /// Inputs never active on the calibration data (H_jj = 0). Their weights are set to zero
    /// (nothing in the data says what they should be) but stay kept unless selected.
    pub dead_inputs: usize,
}

/// Why [`sparsegpt`] refused; `w` and `keep` are then untouched.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SparseGptError {
    #[error("{what} has {got} entries, expected {expected} ({shape})")]
    ShapeMismatch {
        what: &'static str,
        shape: &'static str,
        expected: usize,
        got: usize,
    },
    #[error(
        "target of {target} pruned entries is out of range: at least the {pruned} already pruned, at most all {total}"
    )]
    TargetOutOfRange {
        target: usize,
        pruned: usize,
        total: usize,
    },
    #[error("N:M pattern {n}:{m} is invalid: m must be > 0 and n <= m")]
    InvalidPattern { n: usize, m: usize },
    #[error("N:M pattern {n}:{m} needs cols divisible by m = {m}, got cols = {cols}")]
    PatternCols { n: usize, m: usize, cols: usize },
    #[error(
        "N:M pattern {n}:{m} allows at most {max} pruned entries in this tensor, target is {target}"
    )]
    PatternInfeasible {
        n: usize,
        m: usize,
        target: usize,
        max: usize,
    },
    #[error("{what} at row {row}, col {col} is {value}; it must be finite")]
    NonFinite {
        what: &'static str,
        row: usize,
        col: usize,
        value: f64,
    },
    #[error(
        "H is not positive definite even after damping (pivot of column {col} vanished); raise damp or add calibration samples"
    )]
    NotPositiveDefinite { col: usize },
    #[error("invalid options: {0}")]
    InvalidOptions(String),
}

/// Prunes `w` (rows × cols, row-major) to exactly `target_pruned` pruned entries and re-fits the
/// kept weights to the calibration Hessian `h` (cols × cols).
///
/// `keep` is the mask on entry (false entries stay pruned, and are zeroed) and on return. New
/// entries are the lowest w²/U_jj² of each block, the target shared between blocks in proportion
/// to their size so that no block runs ahead. With `pattern = Some((n, m))` selection happens per
/// group of m columns, and no row of a group ends with more than m − n pruned entries.
#[expect(
    clippy::too_many_arguments,
    reason = "mirrors the reference's inputs; a struct would only rename them"
)]
pub fn sparsegpt(
    w: &mut [f32],
    rows: usize,
    cols: usize,
    h: &[f64],
    keep: &mut [bool],
    target_pruned: usize,
    pattern: Option<(usize, usize)>,
    opts: &SparseGptOptions,
) -> Result<SparseGptReport, SparseGptError> {
    let (wide, square) = ("rows × cols", "cols × cols");
    let lens = [
        ("w", wide, rows * cols, w.len()),
        ("keep", wide, rows * cols, keep.len()),
    ];
    for (what, shape, expected, got) in
        lens.into_iter()
            .chain([("h", square, cols * cols, h.len())])
    {
        if expected != got {
            return Err(SparseGptError::ShapeMismatch {
                what,
                shape,
                expected,
                got,
            });
        }
    }
    let bad_w = w
        .iter()
        .position(|x| !x.is_finite())
        .map(|i| ("w", i, f64::from(w[i])));
    let bad_h = || {
        h.iter()
            .position(|x| !x.is_finite())
            .map(|i| ("H", i, h[i]))
    };
    if let Some((what, i, value)) = bad_w.or_else(bad_h) {
        let (row, col) = (i / cols, i % cols);
        return Err(SparseGptError::NonFinite {
            what,
            row,
            col,
            value,
        });
    }
    let before = keep.iter().filter(|&&k| !k).count();
    let mut w64: Vec<f64> = w.iter().map(|&x| f64::from(x)).collect();
    let layer = Layer {
        w: &mut w64,
        keep,
        rows,
        cols,
    };
    let dead_inputs = prune_layer(layer, h, target_pruned, pattern, opts)?;
    for (dst, &src) in w.iter_mut().zip(&w64) {
        *dst = src as f32;
    }
    let pruned = target_pruned - before;
    Ok(SparseGptReport {
        pruned,
        dead_inputs,
    })
}

/// The layer being pruned, in `f64`.
struct Layer<'a> {
    w: &'a mut [f64],
    keep: &'a mut [bool],
    rows: usize,
    cols: usize,
}

/// Everything after the shape and finiteness checks (the tests call it to compare at `f64`
/// precision). All remaining checks run before anything is written. Returns the dead inputs.
fn prune_layer(
    mut layer: Layer,
    h: &[f64],
    target: usize,
    pattern: Option<(usize, usize)>,
    opts: &SparseGptOptions,
) -> Result<usize, SparseGptError> {
    if opts.block == 0 {
        return Err(SparseGptError::InvalidOptions("block must be > 0".into()));
    }
    if !(opts.damp.is_finite() && opts.damp >= 0.0) {
        let msg = format!("damp must be finite and >= 0, got {}", opts.damp);
        return Err(SparseGptError::InvalidOptions(msg));
    }
    let needs = plan_needs(&layer, target, pattern, opts.block)?;
    let cols = layer.cols;
    if cols == 0 {
        return Ok(0);
    }
    let (u, dead) = inverse_factor(h, cols, opts.damp)?;
    for (x, &k) in layer.w.iter_mut().zip(layer.keep.iter()) {
        if !k {
            *x = 0.0;
        }
    }
    for row in layer.w.chunks_exact_mut(cols) {
        dead.iter().for_each(|&j| row[j] = 0.0);
    }
    let block = pattern.map_or(opts.block, |(_, m)| opts.block.div_ceil(m) * m);
    layer.sweep(&u, &needs, pattern, block);
    Ok(dead.len())
}

/// How many entries each selection unit (a block, or with a pattern an m-column group) must newly
/// prune. The target is shared in proportion to unit size so that every unit ends near the same
/// sparsity, then corrected so that the total is exact. Also validates `target` and `pattern`.
fn plan_needs(
    layer: &Layer,
    target: usize,
    pattern: Option<(usize, usize)>,
    block: usize,
) -> Result<Vec<usize>, SparseGptError> {
    let (rows, cols, total) = (layer.rows, layer.cols, layer.rows * layer.cols);
    let pruned = layer.keep.iter().filter(|&&k| !k).count();
    if target < pruned || target > total {
        return Err(SparseGptError::TargetOutOfRange {
            target,
            pruned,
            total,
        });
    }
    let (width, cap) = match pattern {
        None => (block, None),
        Some((n, m)) if m == 0 || n > m => return Err(SparseGptError::InvalidPattern { n, m }),
        Some((n, m)) if cols % m != 0 => return Err(SparseGptError::PatternCols { n, m, cols }),
        Some((n, m)) => (m, Some(m - n)),
    };
    let (mut sizes, mut already, mut room) = (vec![], vec![], vec![]);
    for start in (0..cols).step_by(width) {
        let unit = start..(start + width).min(cols);
        let (mut done, mut free) = (0, 0);
        for row in layer.keep.chunks_exact(cols) {
            let p = row[unit.clone()].iter().filter(|&&k| !k).count();
            done += p;
            free += cap.map_or(unit.len() - p, |c| c.saturating_sub(p));
        }
        sizes.push(rows * unit.len());
        already.push(done);
        room.push(free);
    }
    let max = pruned + room.iter().sum::<usize>();
    if let Some((n, m)) = pattern
        && target > max
    {
        return Err(SparseGptError::PatternInfeasible { n, m, target, max });
    }
    let shares = apportion(target, &sizes, total);
    let mut needs: Vec<usize> = (0..sizes.len())
        .map(|u| shares[u].saturating_sub(already[u]).min(room[u]))
        .collect();
    balance(&mut needs, &room, target - pruned);
    Ok(needs)
}

impl Layer<'_> {
    /// The column sweep: select, then zero each pruned entry of column j and push its error
    /// e = w_ij / U_jj onto the block's later columns along U[j, ·]; after the block, onto the
    /// columns right of it in one pass.
    fn sweep(&mut self, u: &[f64], needs: &[usize], pattern: Option<(usize, usize)>, block: usize) {
        let (rows, cols) = (self.rows, self.cols);
        let diag: Vec<f64> = (0..cols).map(|j| u[j * cols + j]).collect();
        let mut err = vec![0.0; rows * block];
        for (b, start) in (0..cols).step_by(block).enumerate() {
            let end = (start + block).min(cols);
            if pattern.is_none() {
                self.select(start..end, needs[b], None, &diag);
            }
            for j in start..end {
                if let Some((n, m)) = pattern
                    && j % m == 0
                {
                    self.select(j..j + m, needs[j / m], Some(m - n), &diag);
                }
                let u_row = &u[j * cols + j + 1..j * cols + end];
                for r in 0..rows {
                    let row = &mut self.w[r * cols..(r + 1) * cols];
                    let e = match self.keep[r * cols + j] {
                        true => 0.0,
                        false => std::mem::take(&mut row[j]) / diag[j],
                    };
                    if e != 0.0 {
                        axpy(-e, u_row, &mut row[j + 1..end]);
                    }
                    err[r * block + j - start] = e;
                }
            }
            for (r, errs) in err.chunks_exact(block).enumerate() {
                let rest = &mut self.w[r * cols + end..(r + 1) * cols];
                for (j, &e) in (start..end).zip(errs).filter(|(_, e)| **e != 0.0) {
                    axpy(-e, &u[j * cols + end..(j + 1) * cols], rest);
                }
            }
        }
    }

    /// Prunes the `need` kept entries of columns `range` with the lowest saliency w²/U_jj² (the
    /// OBS loss of pruning one entry with the columns left of it frozen); ties go to the lower
    /// row-major index. With `cap`, rows already holding `cap` pruned entries in the range are
    /// skipped; the greedy order stays optimal under such per-row limits (a partition matroid).
    fn select(&mut self, range: Range<usize>, need: usize, cap: Option<usize>, diag: &[f64]) {
        let cols = self.cols;
        let mut candidates = Vec::new();
        let mut count = vec![0usize; self.rows];
        for (r, count) in count.iter_mut().enumerate() {
            for (j, i) in range.clone().map(|j| (j, r * cols + j)) {
                if self.keep[i] {
                    candidates.push((self.w[i] * self.w[i] / (diag[j] * diag[j]), i));
                } else {
                    *count += 1;
                }
            }
        }
        candidates.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut left = need;
        for (_, i) in candidates {
            if left == 0 {
                break;
            }
            if cap.is_none_or(|c| count[i / cols] < c) {
                self.keep[i] = false;
                count[i / cols] += 1;
                left -= 1;
            }
        }
        assert_eq!(left, 0, "the plan gave a unit more than its room");
    }
}

/// y += a·x.
fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    y.iter_mut().zip(x).for_each(|(y, &x)| *y += a * x);
}

fn dot(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(x, y)| x * y).sum()
}

/// U, the upper Cholesky factor of the damped H⁻¹ (H⁻¹ = UᵀU), and the dead inputs (H_jj = 0,
/// set to 1 as in the reference so that H stays invertible).
///
/// One factorisation instead of the reference's three: with J the order-reversing permutation
/// and R Rᵀ = J H J (R lower), H⁻¹ = (J R⁻¹ J)ᵀ (J R⁻¹ J), and J R⁻¹ J is upper triangular with a
/// positive diagonal, hence the unique U.
fn inverse_factor(
    h: &[f64],
    n: usize,
    damp: f64,
) -> Result<(Vec<f64>, Vec<usize>), SparseGptError> {
    let mut a = h.to_vec();
    let dead: Vec<usize> = (0..n).filter(|&j| a[j * n + j] == 0.0).collect();
    dead.iter().for_each(|&j| a[j * n + j] = 1.0);
    let mean = (0..n).map(|j| a[j * n + j]).sum::<f64>() / n as f64;
    (0..n).for_each(|j| a[j * n + j] += damp * mean);
    let flip = |m: &[f64]| -> Vec<f64> { m.iter().rev().copied().collect() };
    let mut r = flip(&a);
    cholesky_lower(&mut r, n)
        .map_err(|k| SparseGptError::NotPositiveDefinite { col: n - 1 - k })?;
    Ok((flip(&invert_lower(&r, n)), dead))
}

/// In-place Cholesky A = L Lᵀ of a symmetric n × n matrix: reads the lower triangle, writes L
/// there and zeroes the upper one. Err(k) when pivot k is not positive beyond rounding.
fn cholesky_lower(a: &mut [f64], n: usize) -> Result<(), usize> {
    for i in 0..n {
        let (done, rest) = a.split_at_mut(i * n);
        let row_i = &mut rest[..n];
        for j in 0..=i {
            let row_j = if j == i {
                &row_i[..j]
            } else {
                &done[j * n..j * n + j]
            };
            let s = row_i[j] - dot(&row_i[..j], row_j);
            if j < i {
                row_i[j] = s / done[j * n + j];
            } else if s > f64::EPSILON * row_i[i].abs() && s.is_finite() {
                row_i[i] = s.sqrt();
            } else {
                return Err(i);
            }
        }
        row_i[i + 1..].fill(0.0);
    }
    Ok(())
}

/// L⁻¹ of a lower-triangular n × n L with a positive diagonal, by forward substitution.
fn invert_lower(l: &[f64], n: usize) -> Vec<f64> {
    let mut x = vec![0.0; n * n];
    for i in 0..n {
        let (done, row_x) = x.split_at_mut(i * n);
        for (k, &lik) in l[i * n..i * n + i].iter().enumerate() {
            axpy(lik, &done[k * n..k * n + k + 1], &mut row_x[..=k]);
        }
        let lii = l[i * n + i];
        row_x[..i].iter_mut().for_each(|v| *v = -*v / lii);
        row_x[i] = 1.0 / lii;
    }
    x
}

#[cfg(test)]
mod tests;
