//! Training-mode batch normalisation over `[batch, channels, spatial]`, optionally fused with the
//! ReLU that follows it in the ResNets.
//!
//! Burn's default computes the statistics through transposed copies of the whole activation and
//! differentiates a dozen elementwise passes; here the forward is two read passes per channel
//! (mean, then variance about the mean) plus one write pass, and the backward one read pass per
//! channel plus one write pass. Per-channel sums accumulate in eight f32 lanes per sample row
//! and in f64 across rows, so the result does not depend on the thread count.

use crate::{ShapeError, check_len};
use rayon::prelude::*;

/// `x` viewed as `[batch, channels, spatial]` (spatial = height * width for images).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NormShape {
    pub batch: usize,
    pub channels: usize,
    pub spatial: usize,
}

impl NormShape {
    pub fn len(&self) -> usize {
        self.batch * self.channels * self.spatial
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn count(&self) -> f64 {
        (self.batch * self.spatial) as f64
    }

    fn check(&self) -> Result<(), ShapeError> {
        if self.batch * self.spatial == 0 || self.channels == 0 {
            return Err(ShapeError(format!("no values to normalise in {self:?}")));
        }
        Ok(())
    }

    /// The `spatial`-long rows of channel `c`, one per sample.
    fn rows<'a>(&self, t: &'a [f32], c: usize) -> impl Iterator<Item = &'a [f32]> + 'a {
        let (cs, sp) = (self.channels * self.spatial, self.spatial);
        (0..self.batch).map(move |n| &t[n * cs + c * sp..n * cs + (c + 1) * sp])
    }
}

/// Σ (x - m)² over a row, like [`crate::lane_sum`].
#[inline]
fn row_sq_dev(r: &[f32], m: f32) -> f64 {
    let mut acc = [0.0f32; 8];
    let chunks = r.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().map(|&v| (v - m) * (v - m)).sum();
    for c in chunks {
        for j in 0..8 {
            acc[j] += (c[j] - m) * (c[j] - m);
        }
    }
    acc.iter().map(|&a| a as f64).sum::<f64>() + tail as f64
}

/// Per-channel constants of the backward.
#[derive(Clone, Copy)]
struct Chan {
    mean: f32,
    inv_std: f32,
    gamma: f32,
    beta: f32,
}

impl Chan {
    /// The output gradient that reaches the batch norm: zero where the fused ReLU was off.
    #[inline(always)]
    fn grad(&self, relu: bool, x: f32, g: f32) -> (f32, f32) {
        let xhat = (x - self.mean) * self.inv_std;
        let off = relu & (xhat * self.gamma + self.beta <= 0.0);
        (if off { 0.0 } else { g }, xhat)
    }
}

/// `(Σ g, Σ g * xhat)` over a row pair, `g` the gradient after the fused ReLU.
#[inline(never)]
fn row_grad_sums(ch: Chan, relu: bool, xr: &[f32], gr: &[f32]) -> (f64, f64) {
    let (mut a, mut b) = ([0.0f32; 8], [0.0f32; 8]);
    let (xc, gc) = (xr.chunks_exact(8), gr.chunks_exact(8));
    let (mut ta, mut tb) = (0.0f32, 0.0f32);
    for (&x, &g) in xc.remainder().iter().zip(gc.remainder()) {
        let (g, xhat) = ch.grad(relu, x, g);
        ta += g;
        tb += g * xhat;
    }
    for (x8, g8) in xc.zip(gc) {
        for j in 0..8 {
            let (g, xhat) = ch.grad(relu, x8[j], g8[j]);
            a[j] += g;
            b[j] += g * xhat;
        }
    }
    let total = |v: [f32; 8], t: f32| v.iter().map(|&x| x as f64).sum::<f64>() + t as f64;
    (total(a, ta), total(b, tb))
}

/// `y = max(x * a + b, 0)` (or without the max). Not inlined, and written without branches, so
/// it vectorises and shows up by name in a profile.
#[inline(never)]
fn affine_row(y: &mut [f32], x: &[f32], a: f32, b: f32, relu: bool) {
    if relu {
        for (o, &v) in y.iter_mut().zip(x) {
            let t = v * a + b;
            // NaN passes through (a diverging run must stay visible).
            *o = if t < 0.0 { 0.0 } else { t };
        }
    } else {
        for (o, &v) in y.iter_mut().zip(x) {
            *o = v * a + b;
        }
    }
}

/// `dx = gamma * inv_std * (g - mean(g) - xhat * mean(g * xhat))` over one row.
#[inline(never)]
fn backward_row(dx: &mut [f32], x: &[f32], dy: &[f32], ch: Chan, relu: bool, md: f32, mdx: f32) {
    let k = ch.gamma * ch.inv_std;
    for ((d, &xv), &g) in dx.iter_mut().zip(x).zip(dy) {
        let (g, xhat) = ch.grad(relu, xv, g);
        *d = k * (g - md - xhat * mdx);
    }
}

/// Checks the shape, then each (name, length, expected length).
fn check_params(s: &NormShape, lens: &[(&str, usize, usize)]) -> Result<(), ShapeError> {
    s.check()?;
    lens.iter()
        .try_for_each(|&(what, got, want)| check_len(what, got, want))
}

/// `y = gamma * (x - mean) / sqrt(var + eps) + beta` (then `max(y, 0)` when `relu`), with the
/// batch mean and biased variance per channel written to `mean` and `var`.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_train_forward(
    s: &NormShape,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    epsilon: f64,
    relu: bool,
    y: &mut [f32],
    mean: &mut [f32],
    var: &mut [f32],
) -> Result<(), ShapeError> {
    check_params(
        s,
        &[
            ("x", x.len(), s.len()),
            ("output", y.len(), s.len()),
            ("gamma", gamma.len(), s.channels),
            ("beta", beta.len(), s.channels),
            ("mean", mean.len(), s.channels),
            ("variance", var.len(), s.channels),
        ],
    )?;
    let stats: Vec<(f64, f64)> = (0..s.channels)
        .into_par_iter()
        .map(|c| {
            let m = s.rows(x, c).map(crate::lane_sum).sum::<f64>() / s.count();
            let v = s.rows(x, c).map(|r| row_sq_dev(r, m as f32)).sum::<f64>() / s.count();
            (m, v)
        })
        .collect();
    let mut scale = vec![0.0f32; s.channels];
    let mut shift = vec![0.0f32; s.channels];
    for (c, &(m, v)) in stats.iter().enumerate() {
        mean[c] = m as f32;
        var[c] = v as f32;
        let inv_std = 1.0 / (v + epsilon).sqrt();
        scale[c] = (gamma[c] as f64 * inv_std) as f32;
        shift[c] = (beta[c] as f64 - m * gamma[c] as f64 * inv_std) as f32;
    }
    apply_affine(s, x, &scale, &shift, relu, y);
    Ok(())
}

/// `y = x * scale[c] + shift[c]` per channel (then `max(y, 0)` when `relu`): inference batch
/// norm with its running statistics folded into `scale` and `shift`.
pub fn channel_affine(
    s: &NormShape,
    x: &[f32],
    scale: &[f32],
    shift: &[f32],
    relu: bool,
    y: &mut [f32],
) -> Result<(), ShapeError> {
    check_params(
        s,
        &[
            ("x", x.len(), s.len()),
            ("output", y.len(), s.len()),
            ("scale", scale.len(), s.channels),
            ("shift", shift.len(), s.channels),
        ],
    )?;
    apply_affine(s, x, scale, shift, relu, y);
    Ok(())
}

fn apply_affine(s: &NormShape, x: &[f32], scale: &[f32], shift: &[f32], relu: bool, y: &mut [f32]) {
    let sample = s.channels * s.spatial;
    y.par_chunks_mut(sample)
        .zip(x.par_chunks(sample))
        .for_each(|(y_n, x_n)| {
            for (c, (yr, xr)) in y_n
                .chunks_mut(s.spatial)
                .zip(x_n.chunks(s.spatial))
                .enumerate()
            {
                affine_row(yr, xr, scale[c], shift[c], relu);
            }
        });
}

/// Gradients of [`batch_norm_train_forward`] with respect to `x` (written to `dx`), `gamma` and
/// `beta`, given the output gradient `dy` and the statistics the forward returned.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_train_backward(
    s: &NormShape,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    mean: &[f32],
    var: &[f32],
    epsilon: f64,
    relu: bool,
    dy: &[f32],
    dx: &mut [f32],
    dgamma: &mut [f32],
    dbeta: &mut [f32],
) -> Result<(), ShapeError> {
    check_params(
        s,
        &[
            ("x", x.len(), s.len()),
            ("output gradient", dy.len(), s.len()),
            ("input gradient", dx.len(), s.len()),
            ("gamma", gamma.len(), s.channels),
            ("beta", beta.len(), s.channels),
            ("mean", mean.len(), s.channels),
            ("variance", var.len(), s.channels),
            ("gamma gradient", dgamma.len(), s.channels),
            ("beta gradient", dbeta.len(), s.channels),
        ],
    )?;
    let inv_std: Vec<f32> = var
        .iter()
        .map(|&v| (1.0 / (v as f64 + epsilon).sqrt()) as f32)
        .collect();
    let chan = |c: usize| Chan {
        mean: mean[c],
        inv_std: inv_std[c],
        gamma: gamma[c],
        beta: beta[c],
    };
    let sums: Vec<(f64, f64)> = (0..s.channels)
        .into_par_iter()
        .map(|c| {
            s.rows(x, c)
                .zip(s.rows(dy, c))
                .map(|(xr, gr)| row_grad_sums(chan(c), relu, xr, gr))
                .fold((0.0, 0.0), |(a, b), (p, q)| (a + p, b + q))
        })
        .collect();
    let count = s.count();
    let mut mean_dy = vec![0.0f32; s.channels];
    let mut mean_dy_xhat = vec![0.0f32; s.channels];
    for (c, &(sd, sdx)) in sums.iter().enumerate() {
        dbeta[c] = sd as f32;
        dgamma[c] = sdx as f32;
        mean_dy[c] = (sd / count) as f32;
        mean_dy_xhat[c] = (sdx / count) as f32;
    }
    let sample = s.channels * s.spatial;
    dx.par_chunks_mut(sample)
        .zip(x.par_chunks(sample).zip(dy.par_chunks(sample)))
        .for_each(|(dx_n, (x_n, dy_n))| {
            for (c, (o, (xr, gr))) in dx_n
                .chunks_mut(s.spatial)
                .zip(x_n.chunks(s.spatial).zip(dy_n.chunks(s.spatial)))
                .enumerate()
            {
                backward_row(o, xr, gr, chan(c), relu, mean_dy[c], mean_dy_xhat[c]);
            }
        });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: u64) -> Vec<f32> {
        (0..len)
            .map(|i| (((i as u64 + 3) * 2654435761 + seed * 7919) % 2000) as f32 / 400.0 - 2.0)
            .collect()
    }

    /// Loss `sum(y * g)`; its gradient by central differences in f64 over the forward.
    fn loss(s: &NormShape, x: &[f32], gamma: &[f32], beta: &[f32], relu: bool, g: &[f32]) -> f64 {
        let mut y = vec![0.0; s.len()];
        let (mut m, mut v) = (vec![0.0; s.channels], vec![0.0; s.channels]);
        batch_norm_train_forward(s, x, gamma, beta, 1e-5, relu, &mut y, &mut m, &mut v).unwrap();
        y.iter().zip(g).map(|(&a, &b)| a as f64 * b as f64).sum()
    }

    #[test]
    fn forward_normalises_each_channel_and_matches_the_definition() {
        let s = NormShape {
            batch: 4,
            channels: 3,
            spatial: 10,
        };
        let x = values(s.len(), 1);
        let (gamma, beta) = (vec![1.5, -0.5, 2.0], vec![0.1, 0.2, -0.3]);
        let mut y = vec![0.0; s.len()];
        let (mut m, mut v) = (vec![0.0; 3], vec![0.0; 3]);
        batch_norm_train_forward(&s, &x, &gamma, &beta, 1e-5, false, &mut y, &mut m, &mut v)
            .unwrap();
        for c in 0..3 {
            let vals: Vec<f64> = s.rows(&x, c).flatten().map(|&v| v as f64).collect();
            let mean = vals.iter().sum::<f64>() / vals.len() as f64;
            let var = vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / vals.len() as f64;
            assert!((m[c] as f64 - mean).abs() < 1e-5 && (v[c] as f64 - var).abs() < 1e-4);
            for (yv, xv) in s.rows(&y, c).flatten().zip(&vals) {
                let want = gamma[c] as f64 * (xv - mean) / (var + 1e-5).sqrt() + beta[c] as f64;
                assert!((*yv as f64 - want).abs() < 1e-4, "{yv} vs {want}");
            }
        }
    }

    #[test]
    fn gradients_match_finite_differences_with_and_without_relu() {
        let s = NormShape {
            batch: 3,
            channels: 2,
            spatial: 7,
        };
        let x = values(s.len(), 2);
        let g = values(s.len(), 3);
        let (gamma, beta) = (vec![1.3, 0.7], vec![0.4, -0.2]);
        for relu in [false, true] {
            let mut y = vec![0.0; s.len()];
            let (mut m, mut v) = (vec![0.0; 2], vec![0.0; 2]);
            batch_norm_train_forward(&s, &x, &gamma, &beta, 1e-5, relu, &mut y, &mut m, &mut v)
                .unwrap();
            let (mut dx, mut dg, mut db) = (vec![0.0; s.len()], vec![0.0; 2], vec![0.0; 2]);
            batch_norm_train_backward(
                &s, &x, &gamma, &beta, &m, &v, 1e-5, relu, &g, &mut dx, &mut dg, &mut db,
            )
            .unwrap();
            let h = 1e-3f32;
            let numeric = |bump: &dyn Fn(f32) -> f64| (bump(h) - bump(-h)) / (2.0 * h as f64);
            for i in 0..s.len() {
                let d = numeric(&|e| {
                    let mut xp = x.clone();
                    xp[i] += e;
                    loss(&s, &xp, &gamma, &beta, relu, &g)
                });
                assert!(
                    (dx[i] as f64 - d).abs() < 2e-2,
                    "relu {relu} dx[{i}] {} vs {d}",
                    dx[i]
                );
            }
            for c in 0..2 {
                let d = numeric(&|e| {
                    let mut gp = gamma.clone();
                    gp[c] += e;
                    loss(&s, &x, &gp, &beta, relu, &g)
                });
                assert!(
                    (dg[c] as f64 - d).abs() < 2e-2,
                    "relu {relu} dgamma[{c}] {} vs {d}",
                    dg[c]
                );
                let d = numeric(&|e| {
                    let mut bp = beta.clone();
                    bp[c] += e;
                    loss(&s, &x, &gamma, &bp, relu, &g)
                });
                assert!(
                    (db[c] as f64 - d).abs() < 2e-2,
                    "relu {relu} dbeta[{c}] {} vs {d}",
                    db[c]
                );
            }
        }
    }

    #[test]
    fn channel_affine_scales_shifts_and_clamps_per_channel() {
        let s = NormShape {
            batch: 2,
            channels: 2,
            spatial: 3,
        };
        let x = [
            1.0,
            -2.0,
            3.0,
            0.5,
            0.0,
            -1.0,
            2.0,
            2.0,
            -4.0,
            1.0,
            f32::NAN,
            3.0,
        ];
        let mut y = [0.0; 12];
        channel_affine(&s, &x, &[2.0, -1.0], &[1.0, 0.5], true, &mut y).unwrap();
        let want = [
            3.0,
            0.0,
            7.0,
            0.0,
            0.5,
            1.5,
            5.0,
            5.0,
            0.0,
            0.0,
            f32::NAN,
            0.0,
        ];
        for (i, (a, b)) in y.iter().zip(&want).enumerate() {
            assert!(a == b || (a.is_nan() && b.is_nan()), "[{i}] {a} vs {b}");
        }
        channel_affine(&s, &x, &[2.0, -1.0], &[1.0, 0.5], false, &mut y).unwrap();
        assert_eq!(y[1], -3.0);
        assert!(channel_affine(&s, &x, &[2.0], &[1.0, 0.5], false, &mut y).is_err());
    }

    #[test]
    fn wrong_lengths_are_errors() {
        let s = NormShape {
            batch: 2,
            channels: 2,
            spatial: 3,
        };
        let mut y = vec![0.0; s.len()];
        let (mut m, mut v) = (vec![0.0; 2], vec![0.0; 2]);
        let err = batch_norm_train_forward(
            &s,
            &[0.0; 12],
            &[1.0],
            &[0.0; 2],
            1e-5,
            false,
            &mut y,
            &mut m,
            &mut v,
        )
        .unwrap_err();
        assert!(err.0.contains("gamma has 1 elements"), "{err}");
    }
}
