//! Importance criteria as pure functions on flat slices.
//!
//! Convention everywhere: **higher score = more important = kept**; [`crate::masks`] removes the
//! lowest scores. Tensors are flat row-major slices plus, for structured criteria, a shape.
//! Accumulators sum in `f64` because gradient statistics are summed over hundreds of batches.
//!
//! Decisions (see `docs/design.md#criteria`):
//! - **Taylor** is `|w · Σ_b g_b|`, the first-order estimate of the change of the *whole-dataset*
//!   loss when `w` is zeroed. This is what Torch-Pruning's `GroupTaylorImportance` computes from
//!   `.grad` accumulated over `backward()` calls (the reference's refactor branch is built on
//!   Torch-Pruning). The accumulator keeps the *signed* sum `Σ_b w·g_b`, so the Molchanov 2019
//!   group score `(Σ_{s∈group} w_s g_s)²` is available through [`taylor_channels`].
//!   `Σ_b |w·g_b|` (Molchanov 2017) is deliberately not the default: it never cancels, so it
//!   also ranks weights whose gradient is pure mini-batch noise as important.
//! - **OBD / Fisher** is `½ · w² · Σ_b g_b²`, the empirical-Fisher diagonal as a Hessian proxy,
//!   matching the reference's prototype `second_derivative.py` (sum of squared gradients).
//!   Whether `g_b` is a per-batch or a per-sample gradient is the caller's choice.

mod wanda;
pub use wanda::wanda;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use thiserror::Error;

/// Invalid criterion inputs.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ScoreError {
    #[error("length mismatch: {what} has {got} entries, expected {expected}")]
    LengthMismatch {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("shape {shape:?} holds {product} entries but the tensor has {len}")]
    ShapeMismatch {
        shape: Vec<usize>,
        product: usize,
        len: usize,
    },
    #[error("dim {dim} out of range for a {rank}-d shape")]
    BadDim { dim: usize, rank: usize },
    #[error("norm order p must be > 0 (or +inf), got {0}")]
    BadNorm(f64),
    #[error("a group needs at least one part")]
    EmptyGroup,
}

fn check_len(what: &'static str, expected: usize, got: usize) -> Result<(), ScoreError> {
    if expected == got {
        Ok(())
    } else {
        Err(ScoreError::LengthMismatch {
            what,
            expected,
            got,
        })
    }
}

/// Magnitude criterion `|w|` (global L1 unstructured in the reference).
///
/// ```
/// assert_eq!(shears_core::score::magnitude(&[-2.0, 0.5, 1.0]), vec![2.0, 0.5, 1.0]);
/// ```
pub fn magnitude(w: &[f32]) -> Vec<f32> {
    w.iter().map(|x| x.abs()).collect()
}

/// First-order Taylor score `|w · g|` where `grad_acc = Σ_b g_b` is the gradient summed over
/// the scoring batches (see the module docs for why the sum is taken before the product).
///
/// ```
/// use shears_core::score::{TaylorAccumulator, taylor};
///
/// let w = [1.0, -2.0];
/// // Two batches whose gradients for the second weight cancel: noise, not importance.
/// let (g1, g2) = ([0.5, 1.0], [0.5, -1.0]);
/// let mut acc = TaylorAccumulator::new(2);
/// acc.add_batch(&w, &g1)?;
/// acc.add_batch(&w, &g2)?;
/// assert_eq!(acc.scores(), vec![1.0, 0.0]);
/// assert_eq!(taylor(&w, &[1.0, 0.0])?, vec![1.0, 0.0]); // the same from the summed gradient
/// # Ok::<(), shears_core::score::ScoreError>(())
/// ```
pub fn taylor(w: &[f32], grad_acc: &[f32]) -> Result<Vec<f32>, ScoreError> {
    check_len("grad_acc", w.len(), grad_acc.len())?;
    Ok(w.iter()
        .zip(grad_acc)
        .map(|(&w, &g)| (f64::from(w) * f64::from(g)).abs() as f32)
        .collect())
}

/// Accumulates the signed `Σ_b w·g_b` over batches for the Taylor criterion.
#[derive(Debug, Clone, PartialEq)]
pub struct TaylorAccumulator {
    sum: Vec<f64>,
    batches: usize,
}

impl TaylorAccumulator {
    pub fn new(len: usize) -> Self {
        Self {
            sum: vec![0.0; len],
            batches: 0,
        }
    }

    /// Adds one batch: `w` is the (masked) weight at scoring time, `g` that batch's gradient.
    /// Taking `w` per batch keeps the estimate right even if the caller updates weights.
    pub fn add_batch(&mut self, w: &[f32], g: &[f32]) -> Result<(), ScoreError> {
        check_len("w", self.sum.len(), w.len())?;
        check_len("g", self.sum.len(), g.len())?;
        for ((s, &w), &g) in self.sum.iter_mut().zip(w).zip(g) {
            *s += f64::from(w) * f64::from(g);
        }
        self.batches += 1;
        Ok(())
    }

    pub fn batches(&self) -> usize {
        self.batches
    }

    /// Signed per-entry contributions `Σ_b w·g_b`, for group scores ([`taylor_channels`]).
    pub fn contributions(&self) -> Vec<f32> {
        self.sum.iter().map(|&s| s as f32).collect()
    }

    /// Per-entry scores `|Σ_b w·g_b|`.
    pub fn scores(&self) -> Vec<f32> {
        self.sum.iter().map(|s| s.abs() as f32).collect()
    }
}

/// OBD / empirical-Fisher score `½ · w² · fisher_diag`, with `fisher_diag = Σ_b g_b²`.
///
/// ```
/// use shears_core::score::{FisherAccumulator, obd};
///
/// let w = [2.0, 1.0];
/// let mut fisher = FisherAccumulator::new(2);
/// fisher.add_batch(&[1.0, 3.0])?;
/// fisher.add_batch(&[-1.0, 1.0])?;
/// assert_eq!(fisher.fisher_diag(), vec![2.0, 10.0]);
/// assert_eq!(obd(&w, &fisher.fisher_diag())?, vec![4.0, 5.0]);
/// assert_eq!(fisher.scores(&w)?, vec![4.0, 5.0]);
/// # Ok::<(), shears_core::score::ScoreError>(())
/// ```
pub fn obd(w: &[f32], fisher_diag: &[f32]) -> Result<Vec<f32>, ScoreError> {
    check_len("fisher_diag", w.len(), fisher_diag.len())?;
    Ok(w.iter()
        .zip(fisher_diag)
        .map(|(&w, &f)| {
            let w = f64::from(w);
            (0.5 * w * w * f64::from(f)) as f32
        })
        .collect())
}

/// Accumulates the empirical-Fisher diagonal `Σ_b g_b²`.
#[derive(Debug, Clone, PartialEq)]
pub struct FisherAccumulator {
    sum_sq: Vec<f64>,
    batches: usize,
}

impl FisherAccumulator {
    pub fn new(len: usize) -> Self {
        Self {
            sum_sq: vec![0.0; len],
            batches: 0,
        }
    }

    pub fn add_batch(&mut self, g: &[f32]) -> Result<(), ScoreError> {
        check_len("g", self.sum_sq.len(), g.len())?;
        for (s, &g) in self.sum_sq.iter_mut().zip(g) {
            let g = f64::from(g);
            *s += g * g;
        }
        self.batches += 1;
        Ok(())
    }

    pub fn batches(&self) -> usize {
        self.batches
    }

    /// The accumulated diagonal `Σ_b g_b²`.
    pub fn fisher_diag(&self) -> Vec<f32> {
        self.sum_sq.iter().map(|&s| s as f32).collect()
    }

    /// OBD scores `½ · w² · Σ_b g_b²` for the weights `w` at scoring time.
    pub fn scores(&self, w: &[f32]) -> Result<Vec<f32>, ScoreError> {
        check_len("w", self.sum_sq.len(), w.len())?;
        Ok(w.iter()
            .zip(&self.sum_sq)
            .map(|(&w, &f)| {
                let w = f64::from(w);
                (0.5 * w * w * f) as f32
            })
            .collect())
    }
}

/// Uniform `[0, 1)` scores, reproducible from `(seed, salt)`: a ChaCha8 stream keyed by
/// `seed` with stream id `salt` (use the tensor index as salt so tensors get independent,
/// order-insensitive draws). Baseline criterion; not used in the paper.
///
/// ```
/// use shears_core::score::random;
///
/// assert_eq!(random(4, 7, 0), random(4, 7, 0)); // reproducible
/// assert_ne!(random(4, 7, 0), random(4, 7, 1)); // another tensor, another stream
/// assert!(random(100, 7, 0).iter().all(|&s| (0.0..1.0).contains(&s)));
/// ```
pub fn random(n: usize, seed: u64, salt: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(salt);
    (0..n).map(|_| rng.random::<f32>()).collect()
}

/// Splits `shape` around `dim` into (outer, channels, inner) for row-major indexing.
fn split_shape(
    len: usize,
    shape: &[usize],
    dim: usize,
) -> Result<(usize, usize, usize), ScoreError> {
    if dim >= shape.len() {
        return Err(ScoreError::BadDim {
            dim,
            rank: shape.len(),
        });
    }
    let product: usize = shape.iter().product();
    if product != len {
        return Err(ScoreError::ShapeMismatch {
            shape: shape.to_vec(),
            product,
            len,
        });
    }
    let outer = shape[..dim].iter().product();
    let inner = shape[dim + 1..].iter().product();
    Ok((outer, shape[dim], inner))
}

/// Sums `f(w)` over all axes except `dim`, one value per index along `dim`.
fn channel_reduce(
    w: &[f32],
    shape: &[usize],
    dim: usize,
    init: f64,
    f: impl Fn(f64, f64) -> f64,
) -> Result<Vec<f64>, ScoreError> {
    let (outer, channels, inner) = split_shape(w.len(), shape, dim)?;
    let mut acc = vec![init; channels];
    for o in 0..outer {
        for (c, a) in acc.iter_mut().enumerate() {
            let start = (o * channels + c) * inner;
            for &x in &w[start..start + inner] {
                *a = f(*a, f64::from(x));
            }
        }
    }
    Ok(acc)
}

fn check_p(p: f64) -> Result<(), ScoreError> {
    if p > 0.0 {
        Ok(())
    } else {
        Err(ScoreError::BadNorm(p))
    }
}

/// `Σ |w|^p` per channel along `dim` (or `max |w|` for `p = +inf`): the un-rooted Ln norm,
/// which is what adds up across the coupled tensors of a group ([`group_ln_norm`]).
pub fn ln_power_channels(
    w: &[f32],
    shape: &[usize],
    dim: usize,
    p: f64,
) -> Result<Vec<f64>, ScoreError> {
    check_p(p)?;
    if p == f64::INFINITY {
        channel_reduce(w, shape, dim, 0.0, |a, x| a.max(x.abs()))
    } else if p == 1.0 {
        channel_reduce(w, shape, dim, 0.0, |a, x| a + x.abs())
    } else if p == 2.0 {
        channel_reduce(w, shape, dim, 0.0, |a, x| a + x * x)
    } else {
        channel_reduce(w, shape, dim, 0.0, |a, x| a + x.abs().powf(p))
    }
}

fn root(power: f64, p: f64) -> f32 {
    if p == f64::INFINITY || p == 1.0 {
        power as f32
    } else if p == 2.0 {
        power.sqrt() as f32
    } else {
        power.powf(1.0 / p) as f32
    }
}

/// Ln-structured score: the p-norm over all axes except `dim`, one per index along `dim`
/// (PyTorch `ln_structured(n=p, dim)`; `dim = 0` = output filters of a `[out, in, kh, kw]`
/// conv or rows of a Linear). `p` may be any positive value or `f64::INFINITY`.
///
/// ```
/// use shears_core::score::ln_norm_channels;
///
/// // A 2 x 2 weight: the L2 norm of each row (dim 0) and of each column (dim 1).
/// let w = [3.0, 4.0, 0.0, 1.0];
/// assert_eq!(ln_norm_channels(&w, &[2, 2], 0, 2.0)?, vec![5.0, 1.0]);
/// assert_eq!(ln_norm_channels(&w, &[2, 2], 1, 1.0)?, vec![3.0, 5.0]);
/// # Ok::<(), shears_core::score::ScoreError>(())
/// ```
pub fn ln_norm_channels(
    w: &[f32],
    shape: &[usize],
    dim: usize,
    p: f64,
) -> Result<Vec<f32>, ScoreError> {
    Ok(ln_power_channels(w, shape, dim, p)?
        .into_iter()
        .map(|s| root(s, p))
        .collect())
}

/// Sums per-channel scores of coupled tensors (e.g. channels tied by a residual addition, a
/// conv and its BN), so the group is kept or removed as one. All parts need equal length.
pub fn group_scores<S: AsRef<[f32]>>(parts: &[S]) -> Result<Vec<f32>, ScoreError> {
    let first = parts.first().ok_or(ScoreError::EmptyGroup)?.as_ref();
    let mut acc: Vec<f64> = first.iter().map(|&x| f64::from(x)).collect();
    for part in &parts[1..] {
        let part = part.as_ref();
        check_len("group part", acc.len(), part.len())?;
        for (a, &x) in acc.iter_mut().zip(part) {
            *a += f64::from(x);
        }
    }
    Ok(acc.into_iter().map(|a| a as f32).collect())
}

/// One coupled tensor of a group: data, shape, and the axis that carries the shared channels.
#[derive(Debug, Clone, Copy)]
pub struct GroupPart<'a> {
    pub w: &'a [f32],
    pub shape: &'a [usize],
    pub dim: usize,
}

/// Exact group Ln norm: `(Σ_parts Σ |w|^p)^(1/p)` per shared channel, i.e. the norm of all
/// coupled entries taken together (Torch-Pruning `GroupNormImportance` without its
/// normaliser). Differs from [`group_scores`] of per-part norms, which adds roots.
///
/// ```
/// use shears_core::score::{GroupPart, group_ln_norm};
///
/// // Two output channels of a conv (`[2, 1]`) coupled with a bias (`[2]`).
/// let conv = GroupPart { w: &[3.0, 0.0], shape: &[2, 1], dim: 0 };
/// let bias = GroupPart { w: &[4.0, 2.0], shape: &[2], dim: 0 };
/// assert_eq!(group_ln_norm(&[conv, bias], 2.0)?, vec![5.0, 2.0]);
/// # Ok::<(), shears_core::score::ScoreError>(())
/// ```
pub fn group_ln_norm(parts: &[GroupPart<'_>], p: f64) -> Result<Vec<f32>, ScoreError> {
    check_p(p)?;
    let first = parts.first().ok_or(ScoreError::EmptyGroup)?;
    let mut acc = ln_power_channels(first.w, first.shape, first.dim, p)?;
    for part in &parts[1..] {
        let powers = ln_power_channels(part.w, part.shape, part.dim, p)?;
        check_len("group part channels", acc.len(), powers.len())?;
        for (a, x) in acc.iter_mut().zip(powers) {
            *a = if p == f64::INFINITY { a.max(x) } else { *a + x };
        }
    }
    Ok(acc.into_iter().map(|s| root(s, p)).collect())
}

/// Molchanov 2019 group Taylor score `(Σ_{s∈channel} w_s g_s)²` per index along `dim`, from the
/// signed contributions of [`TaylorAccumulator::contributions`].
pub fn taylor_channels(
    contributions: &[f32],
    shape: &[usize],
    dim: usize,
) -> Result<Vec<f32>, ScoreError> {
    Ok(
        channel_reduce(contributions, shape, dim, 0.0, |a, x| a + x)?
            .into_iter()
            .map(|s| (s * s) as f32)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-5 * y.abs().max(1.0), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn magnitude_is_abs() {
        assert_eq!(magnitude(&[-2.0, 0.5, 0.0, -0.0]), vec![2.0, 0.5, 0.0, 0.0]);
    }

    #[test]
    fn taylor_sums_gradients_before_abs() {
        // w = [2, -1]; batch grads [1, 1] and [-3, 1] => Σg = [-2, 2].
        // |w·Σg| = [4, 2]; Σ|w·g_b| would be [2+6, 1+1] = [8, 2].
        let w = [2.0, -1.0];
        let mut acc = TaylorAccumulator::new(2);
        acc.add_batch(&w, &[1.0, 1.0]).unwrap();
        acc.add_batch(&w, &[-3.0, 1.0]).unwrap();
        assert_eq!(acc.batches(), 2);
        close(&acc.scores(), &[4.0, 2.0]);
        close(&acc.contributions(), &[-4.0, -2.0]);
        close(&taylor(&w, &[-2.0, 2.0]).unwrap(), &[4.0, 2.0]);
        assert!(acc.add_batch(&w, &[1.0]).is_err());
    }

    #[test]
    fn obd_is_half_w2_sum_g2() {
        // w = [2, 3]; grads [1, 0], [1, 2] => Σg² = [2, 4]; ½w²Σg² = [4, 18].
        let w = [2.0, 3.0];
        let mut acc = FisherAccumulator::new(2);
        acc.add_batch(&[1.0, 0.0]).unwrap();
        acc.add_batch(&[1.0, 2.0]).unwrap();
        close(&acc.fisher_diag(), &[2.0, 4.0]);
        close(&acc.scores(&w).unwrap(), &[4.0, 18.0]);
        close(&obd(&w, &[2.0, 4.0]).unwrap(), &[4.0, 18.0]);
        assert!(obd(&w, &[1.0]).is_err());
    }

    #[test]
    fn random_is_deterministic_and_salted() {
        let a = random(100, 7, 0);
        assert_eq!(a, random(100, 7, 0));
        assert_ne!(a, random(100, 7, 1));
        assert_ne!(a, random(100, 8, 0));
        assert!(a.iter().all(|&x| (0.0..1.0).contains(&x)));
        // A longer draw extends a shorter one: scores don't depend on n.
        assert_eq!(&random(150, 7, 0)[..100], &a[..]);
    }

    // Shape [2, 3, 2] (out, in, k): w[o][i][k] = values below.
    const W: [f32; 12] = [
        1.0, -2.0, 0.0, 3.0, 4.0, 0.0, /* o=1 */ -1.0, 1.0, 2.0, -2.0, 0.0, 0.5,
    ];

    #[test]
    fn ln_norms_dim0() {
        let s = [2, 3, 2];
        close(&ln_norm_channels(&W, &s, 0, 1.0).unwrap(), &[10.0, 6.5]);
        // o=0: 1+4+9+16 = 30; o=1: 1+1+4+4+0.25 = 10.25
        close(
            &ln_norm_channels(&W, &s, 0, 2.0).unwrap(),
            &[30f32.sqrt(), 10.25f32.sqrt()],
        );
        close(
            &ln_norm_channels(&W, &s, 0, f64::INFINITY).unwrap(),
            &[4.0, 2.0],
        );
        // p = 3: o=0: 1+8+27+64 = 100; o=1: 1+1+8+8+0.125 = 18.125
        close(
            &ln_norm_channels(&W, &s, 0, 3.0).unwrap(),
            &[100f32.cbrt(), 18.125f32.cbrt()],
        );
        close(
            &ln_power_channels(&W, &s, 0, 2.0)
                .unwrap()
                .iter()
                .map(|&x| x as f32)
                .collect::<Vec<_>>(),
            &[30.0, 10.25],
        );
    }

    #[test]
    fn ln_norms_middle_and_last_dim() {
        let s = [2, 3, 2];
        // dim 1 (in): i=0: {1,-2,-1,1} -> L1 5; i=1: {0,3,2,-2} -> 7; i=2: {4,0,0,0.5} -> 4.5
        close(&ln_norm_channels(&W, &s, 1, 1.0).unwrap(), &[5.0, 7.0, 4.5]);
        // dim 2 (k): k=0: {1,0,4,-1,2,0} -> 8; k=1: {-2,3,0,1,-2,0.5} -> 8.5
        close(&ln_norm_channels(&W, &s, 2, 1.0).unwrap(), &[8.0, 8.5]);
    }

    #[test]
    fn ln_norm_errors() {
        assert!(matches!(
            ln_norm_channels(&W, &[2, 3, 2], 3, 2.0),
            Err(ScoreError::BadDim { .. })
        ));
        assert!(matches!(
            ln_norm_channels(&W, &[2, 3, 3], 0, 2.0),
            Err(ScoreError::ShapeMismatch { .. })
        ));
        assert!(matches!(
            ln_norm_channels(&W, &[2, 3, 2], 0, 0.0),
            Err(ScoreError::BadNorm(_))
        ));
        assert!(ln_norm_channels(&W, &[2, 3, 2], 0, f64::NAN).is_err());
    }

    #[test]
    fn group_sums_parts() {
        let g = group_scores(&[vec![1.0, 2.0], vec![0.5, 0.25], vec![0.0, 1.0]]).unwrap();
        close(&g, &[1.5, 3.25]);
        assert!(matches!(
            group_scores::<Vec<f32>>(&[]),
            Err(ScoreError::EmptyGroup)
        ));
        assert!(group_scores(&[&[1.0f32][..], &[1.0, 2.0][..]]).is_err());
    }

    #[test]
    fn group_ln_norm_is_norm_of_union() {
        // conv [2 out, 2 in] rows (3,0),(0,1); BN gamma [4, 0] along dim 0 of shape [2].
        let conv = [3.0, 0.0, 0.0, 1.0];
        let bn = [4.0, 0.0];
        let parts = [
            GroupPart {
                w: &conv,
                shape: &[2, 2],
                dim: 0,
            },
            GroupPart {
                w: &bn,
                shape: &[2],
                dim: 0,
            },
        ];
        close(&group_ln_norm(&parts, 2.0).unwrap(), &[5.0, 1.0]);
        close(&group_ln_norm(&parts, f64::INFINITY).unwrap(), &[4.0, 1.0]);
        let short = [
            GroupPart {
                w: &conv,
                shape: &[2, 2],
                dim: 0,
            },
            GroupPart {
                w: &[1.0; 3],
                shape: &[3],
                dim: 0,
            },
        ];
        assert!(group_ln_norm(&short, 2.0).is_err());
    }

    #[test]
    fn taylor_channel_group_squares_signed_sum() {
        // contributions [2 out, 2 in]: (1, -3), (2, 2) => (−2)² = 4, 4² = 16
        close(
            &taylor_channels(&[1.0, -3.0, 2.0, 2.0], &[2, 2], 0).unwrap(),
            &[4.0, 16.0],
        );
    }
}
