//! 2-D convolution (no groups, no dilation) as one GEMM per sample over its im2col matrix.
//!
//! Per sample, with `K = c_in * kh * kw` and `L = h_out * w_out`:
//! forward `Y (c_out x L) = W (c_out x K) * cols (K x L) + b`,
//! weight gradient `dW += dY * colsᵀ`, input gradient `dcols = Wᵀ * dY` folded back by col2im.

use crate::gemm::{View, matmul};
use crate::{ShapeError, blocks, check_len};
use rayon::prelude::*;

/// The geometry of one convolution call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dShape {
    pub batch: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub kh: usize,
    pub kw: usize,
    /// [vertical, horizontal]
    pub stride: [usize; 2],
    /// [top, left, bottom, right]
    pub pad: [usize; 4],
}

impl Conv2dShape {
    pub fn h_out(&self) -> usize {
        (self.h + self.pad[0] + self.pad[2] - self.kh) / self.stride[0] + 1
    }

    pub fn w_out(&self) -> usize {
        (self.w + self.pad[1] + self.pad[3] - self.kw) / self.stride[1] + 1
    }

    /// Rows of a sample's im2col matrix.
    pub fn k(&self) -> usize {
        self.c_in * self.kh * self.kw
    }

    /// Output positions per channel.
    pub fn l(&self) -> usize {
        self.h_out() * self.w_out()
    }

    pub fn input_len(&self) -> usize {
        self.batch * self.c_in * self.h * self.w
    }

    pub fn weight_len(&self) -> usize {
        self.c_out * self.k()
    }

    pub fn output_len(&self) -> usize {
        self.batch * self.c_out * self.l()
    }

    /// Rejects shapes the arithmetic above cannot handle.
    pub fn check(&self) -> Result<(), ShapeError> {
        if self.stride.contains(&0) {
            return Err(ShapeError(format!("stride {:?} has a zero", self.stride)));
        }
        if self.kh == 0 || self.kw == 0 || self.c_in == 0 || self.c_out == 0 {
            return Err(ShapeError(format!("empty kernel or channels in {self:?}")));
        }
        if self.h + self.pad[0] + self.pad[2] < self.kh
            || self.w + self.pad[1] + self.pad[3] < self.kw
        {
            return Err(ShapeError(format!(
                "kernel {}x{} larger than the padded {}x{} input",
                self.kh, self.kw, self.h, self.w
            )));
        }
        Ok(())
    }

    /// A 1x1, stride-1, unpadded convolution: the input already is the im2col matrix.
    fn pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.stride == [1, 1] && self.pad == [0; 4]
    }

    /// The output columns `ow` whose input column `ow * sw + kj - pl` lies inside `0..w`.
    fn valid_cols(&self, kj: usize) -> (usize, usize) {
        let sw = self.stride[1] as isize;
        let off = kj as isize - self.pad[1] as isize;
        let wo = self.w_out() as isize;
        let lo = if off >= 0 { 0 } else { (-off + sw - 1) / sw };
        let hi = if self.w as isize - off <= 0 {
            0
        } else {
            ((self.w as isize - off - 1) / sw + 1).min(wo)
        };
        (lo.min(wo) as usize, hi.max(lo.min(wo)) as usize)
    }
}

/// One contiguous run of an im2col row that reads the input: `len` values written at `dst` in
/// the column matrix, read from `src` in the sample's input with the horizontal stride.
/// Positions of the column matrix no run covers are padding and stay zero.
#[derive(Clone, Copy)]
struct Run {
    dst: usize,
    src: usize,
    len: usize,
}

/// The runs of a sample's im2col matrix, computed once per call and shared by every sample
/// (none for a pointwise convolution, which reads its input directly).
fn plan(s: &Conv2dShape) -> Vec<Run> {
    if s.pointwise() {
        return Vec::new();
    }
    let (ho, wo) = (s.h_out(), s.w_out());
    let mut runs = Vec::with_capacity(s.k() * ho);
    for c in 0..s.c_in {
        for ki in 0..s.kh {
            for kj in 0..s.kw {
                let row = (c * s.kh + ki) * s.kw + kj;
                let (lo, hi) = s.valid_cols(kj);
                for oh in 0..ho {
                    let ih = (oh * s.stride[0] + ki) as isize - s.pad[0] as isize;
                    if ih < 0 || ih >= s.h as isize || lo == hi {
                        continue;
                    }
                    runs.push(Run {
                        dst: row * ho * wo + oh * wo + lo,
                        src: c * s.h * s.w + ih as usize * s.w + lo * s.stride[1] + kj - s.pad[1],
                        len: hi - lo,
                    });
                }
            }
        }
    }
    runs
}

/// A zeroed buffer for one sample's im2col matrix (empty for a pointwise convolution). Its
/// padding positions stay zero for as long as it is reused.
fn cols_buffer(s: &Conv2dShape) -> Vec<f32> {
    if s.pointwise() {
        Vec::new()
    } else {
        vec![0.0; s.k() * s.l()]
    }
}

/// Fills the data positions of `cols`; its padding positions must already be zero (the buffers
/// are zeroed once when allocated and only data positions are ever written).
fn im2col(runs: &[Run], sw: usize, x: &[f32], cols: &mut [f32]) {
    for r in runs {
        let out = &mut cols[r.dst..r.dst + r.len];
        if sw == 1 {
            for (o, &v) in out.iter_mut().zip(&x[r.src..r.src + r.len]) {
                *o = v;
            }
        } else {
            for (i, o) in out.iter_mut().enumerate() {
                *o = x[r.src + i * sw];
            }
        }
    }
}

/// Adds each im2col entry back onto the input position it was read from.
fn col2im(runs: &[Run], sw: usize, cols: &[f32], dx: &mut [f32]) {
    for r in runs {
        let src = &cols[r.dst..r.dst + r.len];
        if sw == 1 {
            for (d, v) in dx[r.src..r.src + r.len].iter_mut().zip(src) {
                *d += v;
            }
        } else {
            for (i, v) in src.iter().enumerate() {
                dx[r.src + i * sw] += v;
            }
        }
    }
}

fn check_io(
    s: &Conv2dShape,
    x: (&str, usize, usize),
    w: usize,
    y: (&str, usize, usize),
) -> Result<(), ShapeError> {
    s.check()?;
    check_len(x.0, x.1, x.2)?;
    check_len("weight", w, s.weight_len())?;
    check_len(y.0, y.1, y.2)
}

/// `y = conv(x, weight) + bias`; `y` is overwritten.
pub fn conv2d_forward(
    s: &Conv2dShape,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
) -> Result<(), ShapeError> {
    check_io(
        s,
        ("input", x.len(), s.input_len()),
        weight.len(),
        ("output", y.len(), s.output_len()),
    )?;
    if let Some(b) = bias {
        check_len("bias", b.len(), s.c_out)?;
    }
    let (k, l) = (s.k(), s.l());
    let x_len = s.c_in * s.h * s.w;
    let pointwise = s.pointwise();
    let runs = plan(s);
    y.par_chunks_mut(s.c_out * l)
        .zip(x.par_chunks(x_len))
        .for_each_init(
            || cols_buffer(s),
            |cols, (y_n, x_n)| {
                let cols: &[f32] = if pointwise {
                    x_n
                } else {
                    im2col(&runs, s.stride[1], x_n, cols);
                    cols
                };
                if let Some(b) = bias {
                    for (row, &bv) in y_n.chunks_mut(l).zip(b) {
                        row.fill(bv);
                    }
                }
                matmul(
                    y_n,
                    View::new(weight, s.c_out, k),
                    View::new(cols, k, l),
                    bias.is_some(),
                );
            },
        );
    Ok(())
}

/// The weight gradient `dW = Σ_n dY_n * cols_nᵀ` (overwritten; per-block partial sums are kept
/// transposed and added in block order) and, when asked, the bias
/// gradient `db = Σ_n Σ_l dY_n` (overwritten).
pub fn conv2d_backward_weight(
    s: &Conv2dShape,
    x: &[f32],
    dy: &[f32],
    dweight: &mut [f32],
    dbias: Option<&mut [f32]>,
) -> Result<(), ShapeError> {
    check_io(
        s,
        ("input", x.len(), s.input_len()),
        dweight.len(),
        ("output gradient", dy.len(), s.output_len()),
    )?;
    if let Some(db) = &dbias {
        check_len("bias gradient", db.len(), s.c_out)?;
    }
    let (k, l) = (s.k(), s.l());
    let x_len = s.c_in * s.h * s.w;
    let y_len = s.c_out * l;
    let pointwise = s.pointwise();
    let runs = plan(s);
    let want_bias = dbias.is_some();
    let partials: Vec<(Vec<f32>, Vec<f32>)> = blocks(s.batch)
        .into_par_iter()
        .map(|range| {
            let mut dw = vec![0.0f32; s.c_out * k];
            let mut db = vec![0.0f32; s.c_out];
            let mut cols = cols_buffer(s);
            for n in range {
                let x_n = &x[n * x_len..(n + 1) * x_len];
                let dy_n = &dy[n * y_len..(n + 1) * y_len];
                let cols: &[f32] = if pointwise {
                    x_n
                } else {
                    im2col(&runs, s.stride[1], x_n, &mut cols);
                    &cols
                };
                // Accumulated transposed, dWᵀ (K x c_out) += cols * dYᵀ: with few output
                // channels the other orientation runs gemm's AVX-512 kernels 2-4x slower
                // (ResNet-20's 16-channel layer: 31 ms vs 8.4 ms per batch of 128).
                matmul(
                    &mut dw,
                    View::new(cols, k, l),
                    View::t(dy_n, s.c_out, l),
                    true,
                );
                if want_bias {
                    for (acc, row) in db.iter_mut().zip(dy_n.chunks(l)) {
                        *acc += crate::lane_sum(row) as f32;
                    }
                }
            }
            (dw, db)
        })
        .collect();
    dweight.fill(0.0);
    let mut db_total = vec![0.0f32; s.c_out];
    for (dw, db) in &partials {
        for co in 0..s.c_out {
            for kk in 0..k {
                dweight[co * k + kk] += dw[kk * s.c_out + co];
            }
        }
        for (acc, v) in db_total.iter_mut().zip(db) {
            *acc += v;
        }
    }
    if let Some(out) = dbias {
        out.copy_from_slice(&db_total);
    }
    Ok(())
}

/// The input gradient `dx = col2im(Wᵀ * dY)` (overwritten).
pub fn conv2d_backward_input(
    s: &Conv2dShape,
    weight: &[f32],
    dy: &[f32],
    dx: &mut [f32],
) -> Result<(), ShapeError> {
    check_io(
        s,
        ("input gradient", dx.len(), s.input_len()),
        weight.len(),
        ("output gradient", dy.len(), s.output_len()),
    )?;
    let (k, l) = (s.k(), s.l());
    let x_len = s.c_in * s.h * s.w;
    let pointwise = s.pointwise();
    let runs = plan(s);
    dx.par_chunks_mut(x_len)
        .zip(dy.par_chunks(s.c_out * l))
        .for_each_init(
            || cols_buffer(s),
            |dcols, (dx_n, dy_n)| {
                let wt = View::t(weight, s.c_out, k);
                if pointwise {
                    matmul(dx_n, wt, View::new(dy_n, s.c_out, l), false);
                } else {
                    matmul(dcols, wt, View::new(dy_n, s.c_out, l), false);
                    dx_n.fill(0.0);
                    col2im(&runs, s.stride[1], dcols, dx_n);
                }
            },
        );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(s: &Conv2dShape, x: &[f32], n: usize, c: usize, ih: isize, iw: isize) -> f32 {
        if ih < 0 || iw < 0 || ih >= s.h as isize || iw >= s.w as isize {
            0.0
        } else {
            x[((n * s.c_in + c) * s.h + ih as usize) * s.w + iw as usize]
        }
    }

    /// The definition, summed in f64.
    fn naive_forward(s: &Conv2dShape, x: &[f32], w: &[f32], b: Option<&[f32]>) -> Vec<f32> {
        let (ho, wo) = (s.h_out(), s.w_out());
        let mut y = vec![0.0; s.output_len()];
        for n in 0..s.batch {
            for co in 0..s.c_out {
                for oh in 0..ho {
                    for ow in 0..wo {
                        let mut acc = b.map_or(0.0, |b| b[co] as f64);
                        for c in 0..s.c_in {
                            for ki in 0..s.kh {
                                for kj in 0..s.kw {
                                    let ih = (oh * s.stride[0] + ki) as isize - s.pad[0] as isize;
                                    let iw = (ow * s.stride[1] + kj) as isize - s.pad[1] as isize;
                                    let wv = w[((co * s.c_in + c) * s.kh + ki) * s.kw + kj];
                                    acc += wv as f64 * at(s, x, n, c, ih, iw) as f64;
                                }
                            }
                        }
                        y[((n * s.c_out + co) * ho + oh) * wo + ow] = acc as f32;
                    }
                }
            }
        }
        y
    }

    /// Gradients of `sum(y * dy)` by the definition: each weight/input contributes linearly.
    fn naive_backward(
        s: &Conv2dShape,
        x: &[f32],
        w: &[f32],
        dy: &[f32],
    ) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let (ho, wo) = (s.h_out(), s.w_out());
        let mut dx = vec![0.0f64; s.input_len()];
        let mut dw = vec![0.0f64; s.weight_len()];
        let mut db = vec![0.0f64; s.c_out];
        for n in 0..s.batch {
            for co in 0..s.c_out {
                for oh in 0..ho {
                    for ow in 0..wo {
                        let g = dy[((n * s.c_out + co) * ho + oh) * wo + ow] as f64;
                        db[co] += g;
                        for c in 0..s.c_in {
                            for ki in 0..s.kh {
                                for kj in 0..s.kw {
                                    let ih = (oh * s.stride[0] + ki) as isize - s.pad[0] as isize;
                                    let iw = (ow * s.stride[1] + kj) as isize - s.pad[1] as isize;
                                    let wi = ((co * s.c_in + c) * s.kh + ki) * s.kw + kj;
                                    dw[wi] += g * at(s, x, n, c, ih, iw) as f64;
                                    if ih >= 0 && iw >= 0 && ih < s.h as isize && iw < s.w as isize
                                    {
                                        let xi = ((n * s.c_in + c) * s.h + ih as usize) * s.w
                                            + iw as usize;
                                        dx[xi] += g * w[wi] as f64;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let f = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect();
        (f(dx), f(dw), f(db))
    }

    fn values(len: usize, seed: u64) -> Vec<f32> {
        (0..len)
            .map(|i| (((i as u64 + 1) * 2654435761 + seed * 97) % 1000) as f32 / 500.0 - 1.0)
            .collect()
    }

    fn assert_close(what: &str, got: &[f32], want: &[f32]) {
        assert_eq!(got.len(), want.len(), "{what} length");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
                "{what}[{i}]: {g} vs {w}"
            );
        }
    }

    fn check_all(s: Conv2dShape, with_bias: bool) {
        let x = values(s.input_len(), 1);
        let w = values(s.weight_len(), 2);
        let b = values(s.c_out, 3);
        let dy = values(s.output_len(), 4);
        let bias = with_bias.then_some(&b[..]);

        let mut y = vec![f32::NAN; s.output_len()];
        conv2d_forward(&s, &x, &w, bias, &mut y).unwrap();
        assert_close("forward", &y, &naive_forward(&s, &x, &w, bias));

        let (want_dx, want_dw, want_db) = naive_backward(&s, &x, &w, &dy);
        let mut dx = vec![f32::NAN; s.input_len()];
        conv2d_backward_input(&s, &w, &dy, &mut dx).unwrap();
        assert_close("input gradient", &dx, &want_dx);
        let mut dw = vec![f32::NAN; s.weight_len()];
        let mut db = vec![f32::NAN; s.c_out];
        conv2d_backward_weight(&s, &x, &dy, &mut dw, Some(&mut db)).unwrap();
        assert_close("weight gradient", &dw, &want_dw);
        assert_close("bias gradient", &db, &want_db);
    }

    fn shape(
        batch: usize,
        c_in: usize,
        hw: [usize; 2],
        c_out: usize,
        k: [usize; 2],
        stride: [usize; 2],
        pad: [usize; 4],
    ) -> Conv2dShape {
        Conv2dShape {
            batch,
            c_in,
            h: hw[0],
            w: hw[1],
            c_out,
            kh: k[0],
            kw: k[1],
            stride,
            pad,
        }
    }

    #[test]
    fn the_layers_of_lenet5_and_resnet20_match_the_definition() {
        // LeNet-5 conv1 / conv2, ResNet stem, a 3x3 block, the stride-2 3x3 and 1x1 shortcut.
        check_all(shape(3, 1, [28, 28], 6, [5, 5], [1, 1], [2; 4]), true);
        check_all(shape(3, 6, [14, 14], 16, [5, 5], [1, 1], [0; 4]), true);
        check_all(shape(2, 3, [32, 32], 16, [3, 3], [1, 1], [1; 4]), false);
        check_all(shape(2, 16, [16, 16], 16, [3, 3], [1, 1], [1; 4]), false);
        check_all(shape(2, 16, [16, 16], 32, [3, 3], [2, 2], [1; 4]), false);
        check_all(shape(2, 16, [16, 16], 32, [1, 1], [2, 2], [0; 4]), false);
        check_all(shape(2, 8, [5, 7], 4, [1, 1], [1, 1], [0; 4]), true);
    }

    #[test]
    fn bad_lengths_and_shapes_are_errors_not_panics() {
        let s = shape(2, 3, [8, 8], 4, [3, 3], [1, 1], [1; 4]);
        let mut y = vec![0.0; s.output_len()];
        let err = conv2d_forward(&s, &[0.0; 5], &vec![0.0; s.weight_len()], None, &mut y);
        assert!(err.unwrap_err().0.contains("input has 5 elements"));
        let zero_stride = Conv2dShape {
            stride: [0, 1],
            ..s
        };
        assert!(zero_stride.check().is_err());
        let too_big = Conv2dShape { kh: 11, ..s };
        assert!(too_big.check().unwrap_err().0.contains("larger than"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn random_geometries_match_the_definition(
            batch in 1usize..4, c_in in 1usize..5, h in 1usize..10, w in 1usize..10,
            c_out in 1usize..5, kh in 1usize..5, kw in 1usize..5,
            sh in 1usize..4, sw in 1usize..4,
            pad in proptest::array::uniform4(0usize..3), bias: bool,
        ) {
            let s = shape(batch, c_in, [h, w], c_out, [kh, kw], [sh, sw], pad);
            prop_assume!(s.check().is_ok());
            check_all(s, bias);
        }
    }
}
