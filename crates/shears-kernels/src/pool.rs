//! Max-pooling that records, for every output, the flat position of its maximum inside the
//! input plane, so the backward pass is one scatter instead of a second pooling sweep.

use crate::{ShapeError, check_len};
use rayon::prelude::*;

/// The geometry of one max-pooling call (no dilation; padding never wins the max).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pool2dShape {
    pub batch: usize,
    pub channels: usize,
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    /// [vertical, horizontal]
    pub stride: [usize; 2],
    /// [vertical, horizontal], symmetric as in Burn's `MaxPool2d`
    pub pad: [usize; 2],
}

impl Pool2dShape {
    pub fn h_out(&self) -> usize {
        (self.h + 2 * self.pad[0] - self.kh) / self.stride[0] + 1
    }

    pub fn w_out(&self) -> usize {
        (self.w + 2 * self.pad[1] - self.kw) / self.stride[1] + 1
    }

    pub fn input_len(&self) -> usize {
        self.batch * self.channels * self.h * self.w
    }

    pub fn output_len(&self) -> usize {
        self.batch * self.channels * self.h_out() * self.w_out()
    }

    pub fn check(&self) -> Result<(), ShapeError> {
        if self.stride.contains(&0) || self.kh == 0 || self.kw == 0 {
            return Err(ShapeError(format!("zero kernel or stride in {self:?}")));
        }
        // Every window must hold at least one real element, or its max would be undefined.
        if self.pad[0] >= self.kh || self.pad[1] >= self.kw {
            return Err(ShapeError(format!(
                "padding {:?} not smaller than the kernel {}x{}",
                self.pad, self.kh, self.kw
            )));
        }
        if self.h + 2 * self.pad[0] < self.kh || self.w + 2 * self.pad[1] < self.kw {
            return Err(ShapeError(format!(
                "kernel {}x{} larger than the padded {}x{} input",
                self.kh, self.kw, self.h, self.w
            )));
        }
        Ok(())
    }
}

/// `y` = window maxima, `argmax` = their flat index `ih * w + iw` within the input plane. The
/// first maximum wins a tie; a NaN in a window is its maximum (as in PyTorch).
pub fn max_pool2d_forward(
    s: &Pool2dShape,
    x: &[f32],
    y: &mut [f32],
    argmax: &mut [u32],
) -> Result<(), ShapeError> {
    s.check()?;
    check_len("input", x.len(), s.input_len())?;
    check_len("output", y.len(), s.output_len())?;
    check_len("argmax", argmax.len(), s.output_len())?;
    if s.h * s.w > u32::MAX as usize {
        return Err(ShapeError(format!("plane {}x{} too large", s.h, s.w)));
    }
    let (ho, wo) = (s.h_out(), s.w_out());
    let plane = s.h * s.w;
    let pair_pool = s.kh == 2 && s.kw == 2 && s.stride == [2, 2] && s.pad == [0, 0];
    y.par_chunks_mut(ho * wo)
        .zip(argmax.par_chunks_mut(ho * wo))
        .zip(x.par_chunks(plane))
        .for_each(|((y_p, a_p), x_p)| {
            if pair_pool {
                return pool_2x2(s.w, wo, ho, x_p, y_p, a_p);
            }
            for oh in 0..ho {
                let h0 = (oh * s.stride[0]) as isize - s.pad[0] as isize;
                let (ih_lo, ih_hi) = (h0.max(0) as usize, ((h0 + s.kh as isize) as usize).min(s.h));
                for ow in 0..wo {
                    let w0 = (ow * s.stride[1]) as isize - s.pad[1] as isize;
                    let (iw_lo, iw_hi) =
                        (w0.max(0) as usize, ((w0 + s.kw as isize) as usize).min(s.w));
                    let mut best = f32::NEG_INFINITY;
                    let mut at = ih_lo * s.w + iw_lo;
                    'window: for ih in ih_lo..ih_hi {
                        for iw in iw_lo..iw_hi {
                            let v = x_p[ih * s.w + iw];
                            if v > best || v.is_nan() {
                                best = v;
                                at = ih * s.w + iw;
                                if v.is_nan() {
                                    break 'window;
                                }
                            }
                        }
                    }
                    y_p[oh * wo + ow] = best;
                    a_p[oh * wo + ow] = at as u32;
                }
            }
        });
    Ok(())
}

/// The 2x2, stride-2, unpadded pooling of LeNet and VGG without per-element branches; a window
/// holding a NaN (rare: a diverging run) is redone by the general rule so the NaN wins.
#[inline(never)]
fn pool_2x2(w: usize, wo: usize, ho: usize, x: &[f32], y: &mut [f32], argmax: &mut [u32]) {
    for oh in 0..ho {
        let (r0, r1) = (2 * oh * w, (2 * oh + 1) * w);
        let pairs = x[r0..r0 + 2 * wo]
            .chunks_exact(2)
            .zip(x[r1..r1 + 2 * wo].chunks_exact(2));
        let outs = y[oh * wo..(oh + 1) * wo]
            .iter_mut()
            .zip(&mut argmax[oh * wo..(oh + 1) * wo]);
        for (ow, ((t, b), (yo, ao))) in pairs.zip(outs).enumerate() {
            // Raster order, the first maximum wins: top pair, bottom pair, then the two.
            let (mt, it) = if t[1] > t[0] { (t[1], 1) } else { (t[0], 0) };
            let (mb, ib) = if b[1] > b[0] {
                (b[1], w + 1)
            } else {
                (b[0], w)
            };
            let (mut m, mut i) = if mb > mt { (mb, ib) } else { (mt, it) };
            if (t[0] + t[1] + b[0] + b[1]).is_nan() {
                let v = [t[0], t[1], b[0], b[1]];
                if let Some(k) = v.iter().position(|x| x.is_nan()) {
                    (m, i) = (v[k], [0, 1, w, w + 1][k]);
                }
            }
            *yo = m;
            *ao = (r0 + 2 * ow + i) as u32;
        }
    }
}

/// `dx` (overwritten) = the output gradient scattered back onto each window's maximum.
pub fn max_pool2d_backward(
    s: &Pool2dShape,
    argmax: &[u32],
    dy: &[f32],
    dx: &mut [f32],
) -> Result<(), ShapeError> {
    s.check()?;
    check_len("output gradient", dy.len(), s.output_len())?;
    check_len("argmax", argmax.len(), s.output_len())?;
    check_len("input gradient", dx.len(), s.input_len())?;
    let out_plane = s.h_out() * s.w_out();
    let plane = s.h * s.w;
    if let Some(bad) = argmax.iter().find(|&&a| a as usize >= plane) {
        return Err(ShapeError(format!(
            "argmax {bad} outside the {}x{} plane",
            s.h, s.w
        )));
    }
    dx.par_chunks_mut(plane)
        .zip(dy.par_chunks(out_plane))
        .zip(argmax.par_chunks(out_plane))
        .for_each(|((dx_p, dy_p), a_p)| {
            dx_p.fill(0.0);
            for (&g, &a) in dy_p.iter().zip(a_p) {
                dx_p[a as usize] += g;
            }
        });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive(s: &Pool2dShape, x: &[f32], dy: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let (ho, wo) = (s.h_out(), s.w_out());
        let mut y = vec![0.0; s.output_len()];
        let mut dx = vec![0.0; s.input_len()];
        for p in 0..s.batch * s.channels {
            for oh in 0..ho {
                for ow in 0..wo {
                    let mut best: Option<(f32, usize)> = None;
                    for ki in 0..s.kh {
                        for kj in 0..s.kw {
                            let ih = (oh * s.stride[0] + ki) as isize - s.pad[0] as isize;
                            let iw = (ow * s.stride[1] + kj) as isize - s.pad[1] as isize;
                            if ih < 0 || iw < 0 || ih >= s.h as isize || iw >= s.w as isize {
                                continue;
                            }
                            let i = p * s.h * s.w + ih as usize * s.w + iw as usize;
                            if best.is_none_or(|(b, _)| x[i] > b) {
                                best = Some((x[i], i));
                            }
                        }
                    }
                    let (b, i) = best.unwrap();
                    let o = (p * ho + oh) * wo + ow;
                    y[o] = b;
                    dx[i] += dy[o];
                }
            }
        }
        (y, dx)
    }

    fn run(s: Pool2dShape, x: &[f32]) {
        let dy: Vec<f32> = (0..s.output_len()).map(|i| i as f32 * 0.5 - 3.0).collect();
        let (want_y, want_dx) = naive(&s, x, &dy);
        let mut y = vec![f32::NAN; s.output_len()];
        let mut a = vec![u32::MAX; s.output_len()];
        max_pool2d_forward(&s, x, &mut y, &mut a).unwrap();
        assert_eq!(y, want_y);
        let mut dx = vec![f32::NAN; s.input_len()];
        max_pool2d_backward(&s, &a, &dy, &mut dx).unwrap();
        assert_eq!(dx, want_dx);
    }

    fn shape(
        batch: usize,
        channels: usize,
        hw: [usize; 2],
        k: [usize; 2],
        stride: [usize; 2],
        pad: [usize; 2],
    ) -> Pool2dShape {
        Pool2dShape {
            batch,
            channels,
            h: hw[0],
            w: hw[1],
            kh: k[0],
            kw: k[1],
            stride,
            pad,
        }
    }

    #[test]
    fn lenet_pools_match_the_definition_with_ties_and_odd_sizes() {
        let s = shape(2, 3, [28, 28], [2, 2], [2, 2], [0, 0]);
        let x: Vec<f32> = (0..s.input_len())
            .map(|i| ((i * 7919) % 13) as f32)
            .collect();
        run(s, &x);
        let odd = shape(1, 2, [9, 7], [3, 2], [2, 3], [1, 1]);
        let x: Vec<f32> = (0..odd.input_len()).map(|i| -(i as f32)).collect();
        run(odd, &x);
    }

    #[test]
    fn nan_is_the_maximum_and_bad_argmax_is_an_error() {
        let s = shape(1, 1, [2, 2], [2, 2], [2, 2], [0, 0]);
        let (mut y, mut a) = (vec![0.0], vec![0]);
        max_pool2d_forward(&s, &[1.0, f32::NAN, 5.0, 2.0], &mut y, &mut a).unwrap();
        assert!(y[0].is_nan());
        assert_eq!(a, [1]);
        let mut dx = vec![0.0; 4];
        let err = max_pool2d_backward(&s, &[4], &[1.0], &mut dx).unwrap_err();
        assert!(err.0.contains("argmax 4 outside"), "{err}");
        assert!(shape(1, 1, [4, 4], [2, 2], [2, 2], [2, 0]).check().is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn random_geometries_match_the_definition(
            batch in 1usize..3, channels in 1usize..4, h in 1usize..9, w in 1usize..9,
            kh in 1usize..4, kw in 1usize..4, sh in 1usize..4, sw in 1usize..4,
            ph in 0usize..2, pw in 0usize..2, seed in 0u64..1000,
        ) {
            let s = shape(batch, channels, [h, w], [kh, kw], [sh, sw], [ph, pw]);
            prop_assume!(s.check().is_ok());
            let x: Vec<f32> = (0..s.input_len())
                .map(|i| (((i as u64 + seed) * 2654435761) % 17) as f32)
                .collect();
            run(s, &x);
        }
    }
}
