//! A faster lowering of [`Conv2d`] for the small-channel convolutions of LeNet-5 and the CIFAR
//! ResNets on the CPU backend.
//!
//! Burn-flex's own `conv2d` builds an NHWC copy and a transposed weight on every call, and its
//! backward goes through `conv_transpose2d` (input gradient) and a convolution whose "kernel"
//! is the whole output gradient (weight gradient), which are slow for these shapes. Here the
//! convolution is written as plain tensor ops, so autodiff derives a cheap backward:
//!
//! * im2col is one `select` along the flattened spatial axis of `[n * c, h * w (+1)]` (the
//!   extra column is zero and stands for the padding); its backward is one `select_add`;
//! * the product is one batched matmul `[1, c_out, c_in * kh * kw] x [n, c_in * kh * kw, L]`,
//!   whose backward is two batched matmuls.
//!
//! The module keeps Burn's [`Conv2d`] (same parameters, so checkpoints, pruning and structured
//! surgery are untouched); only the forward computation differs. Grouped, dilated and `Same`
//! padded convolutions fall back to `Conv2d::forward`.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::TensorData;
use std::sync::atomic::{AtomicBool, Ordering};

/// Largest column matrix (`n * c_in * kh * kw * h_out * w_out` floats), in bytes, that the
/// lowering builds; bigger convolutions go to `Conv2d::forward`.
pub const COLS_BYTES: usize = 20 << 20;

static FAST: AtomicBool = AtomicBool::new(true);

/// Switches the im2col lowering on (the default) or off process-wide; off sends every call to
/// `Conv2d::forward` (`shears bench --burn-conv` measures both).
///
/// The lowering wins only when the allocator keeps freed memory: with glibc's defaults its
/// 8-20 MiB temporaries go back to the OS and are faulted in again on every step (measured, 1
/// thread, batch 128: LeNet-5 step 28.0 ms lowered vs 18.0 ms Burn; with the thresholds raised
/// 14.6 ms vs 17.7 ms). The `shears` binary raises them at start-up (`mallopt`); a library
/// user on glibc should do the same or switch the lowering off.
pub fn set_fast_conv(on: bool) {
    FAST.store(on, Ordering::Relaxed);
}

pub fn fast_conv() -> bool {
    FAST.load(Ordering::Relaxed)
}

/// Largest `c_in * kh * kw` the switched-on path lowers: measured faster for LeNet-5's 5x5
/// convolutions (25 and 150) and ResNet's 3-channel stem (27); Burn-flex's kernels are as
/// fast or faster for the wider 3x3 layers (144 and up).
pub const MAX_LOWERED_K: usize = 150;

/// `conv.forward(x)`, lowered by [`conv2d_lowered`] when [`set_fast_conv`] switched it on,
/// the layer is being trained (its weight tracks gradients: the lowering's gain is in the
/// backward; Burn's inference kernel is faster) and its kernel is small.
pub fn conv2d_forward(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [_, ci, kh, kw] = conv.weight.dims();
    if fast_conv() && ci * kh * kw <= MAX_LOWERED_K && conv.weight.val().is_require_grad() {
        conv2d_lowered(conv, x)
    } else {
        conv.forward(x)
    }
}

/// Same result as `conv.forward(x)`, computed as im2col + batched matmul (falls back to
/// `conv.forward` for grouped, dilated, `Same`-padded or too big convolutions).
pub fn conv2d_lowered(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let (pt, pl, pb, pr) = match conv.padding {
        PaddingConfig2d::Valid => (0, 0, 0, 0),
        PaddingConfig2d::Explicit(t, l, b, r) => (t, l, b, r),
        PaddingConfig2d::Same => return conv.forward(x),
    };
    if conv.groups != 1 || conv.dilation != [1, 1] {
        return conv.forward(x);
    }
    let [n, c, h, w] = x.dims();
    let [co, ci, kh, kw] = conv.weight.dims();
    let [sh, sw] = conv.stride;
    if ci != c || h + pt + pb < kh || w + pl + pr < kw {
        return conv.forward(x);
    }
    let ho = (h + pt + pb - kh) / sh + 1;
    let wo = (w + pl + pr - kw) / sw + 1;
    let (l, k) = (ho * wo, c * kh * kw);
    // Big column matrices lose: above glibc's largest mmap threshold (32 MiB) every call maps
    // and unmaps fresh pages, and the page faults plus the extra memory traffic cost more than
    // Burn-flex's tiled im2col saves (ResNet-20's 16x32x32 and 32x16x16 layers at batch 128).
    if n * k * l * 4 > COLS_BYTES {
        return conv.forward(x);
    }
    let device = x.device();

    let weight = conv.weight.val();
    let out = if kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt + pl + pb + pr == 0 {
        weight.reshape([1, co, k]).matmul(x.reshape([n, c, h * w]))
    } else {
        let (idx, padded) = im2col_index(h, w, kh, kw, sh, sw, pt, pl, ho, wo);
        let rows: Tensor<2> = x.reshape([n * c, h * w]);
        let rows = if padded {
            Tensor::cat(vec![rows, Tensor::zeros([n * c, 1], &device)], 1)
        } else {
            rows
        };
        let len = idx.len();
        let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [len]), &device);
        let cols = rows.select(1, idx).reshape([n, k, l]);
        weight.reshape([1, co, k]).matmul(cols)
    };
    let out = match &conv.bias {
        Some(b) => out + b.val().reshape([1, co, 1]),
        None => out,
    };
    out.reshape([n, co, ho, wo])
}

/// Column index into a row of `h * w` pixels (plus one zero column at `h * w` when any tap
/// falls in the padding) for every `(kernel tap, output pixel)`, taps major.
#[allow(clippy::too_many_arguments)]
fn im2col_index(
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    pt: usize,
    pl: usize,
    ho: usize,
    wo: usize,
) -> (Vec<i64>, bool) {
    let zero = (h * w) as i64;
    let mut idx = Vec::with_capacity(kh * kw * ho * wo);
    let mut padded = false;
    for i in 0..kh {
        for j in 0..kw {
            for oy in 0..ho {
                let iy = (oy * sh + i) as isize - pt as isize;
                for ox in 0..wo {
                    let ix = (ox * sw + j) as isize - pl as isize;
                    if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                        padded = true;
                        idx.push(zero);
                    } else {
                        idx.push(iy as i64 * w as i64 + ix as i64);
                    }
                }
            }
        }
    }
    (idx, padded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Param;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::Distribution;

    /// Largest difference, relative to the reference's largest magnitude when that is above 1
    /// (weight gradients sum over the batch and every output pixel).
    fn max_diff(reference: Tensor<1>, b: Tensor<1>) -> f32 {
        let scale = reference.clone().abs().max().into_scalar::<f32>().max(1.0);
        (reference - b).abs().max().into_scalar::<f32>() / scale
    }

    fn flat<const D: usize>(t: Tensor<D>) -> Tensor<1> {
        let n = t.shape().num_elements();
        t.reshape([n])
    }

    /// Forward and the weight, bias and input gradients of the lowering against Burn's.
    fn check(n: usize, c: usize, co: usize, hw: usize, k: usize, stride: usize, pad: usize) {
        let device = Device::flex().autodiff();
        for bias in [true, false] {
            let conv = Conv2dConfig::new([c, co], [k, k])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .with_bias(bias)
                .init(&device);
            let x = Tensor::<4>::random([n, c, hw, hw], Distribution::Default, &device);
            let g = Tensor::<4>::random(
                conv.forward(x.clone()).dims(),
                Distribution::Default,
                &device,
            );
            let run = |fast: bool| {
                let conv = Conv2d {
                    weight: Param::from_tensor(conv.weight.val().detach()),
                    bias: conv
                        .bias
                        .as_ref()
                        .map(|b| Param::from_tensor(b.val().detach())),
                    ..conv.clone()
                };
                let x = x.clone().detach().require_grad();
                let y = if fast {
                    conv2d_lowered(&conv, x.clone())
                } else {
                    conv.forward(x.clone())
                };
                let grads = (y.clone() * g.clone()).sum().backward();
                let gw = conv.weight.val().grad(&grads).unwrap();
                let gb = conv.bias.as_ref().map(|b| b.val().grad(&grads).unwrap());
                let gx = x.grad(&grads).unwrap();
                (flat(y), flat(gw), gb, flat(gx))
            };
            let (y0, w0, b0, x0) = run(false);
            let (y1, w1, b1, x1) = run(true);
            let what = format!("n{n} c{c} co{co} hw{hw} k{k} s{stride} p{pad} bias {bias}");
            assert!(max_diff(y0, y1) < 1e-4, "forward {what}");
            assert!(max_diff(w0, w1) < 1e-4, "weight grad {what}");
            assert!(max_diff(x0, x1) < 1e-4, "input grad {what}");
            if let (Some(b0), Some(b1)) = (b0, b1) {
                assert!(max_diff(b0, b1) < 1e-4, "bias grad {what}");
            }
        }
    }

    #[test]
    fn lenet5_shapes_match_burn() {
        check(4, 1, 6, 28, 5, 1, 2);
        check(4, 6, 16, 14, 5, 1, 0);
    }

    #[test]
    fn resnet_shapes_match_burn() {
        check(3, 3, 16, 32, 3, 1, 1);
        check(3, 16, 16, 32, 3, 1, 1);
        check(3, 16, 32, 32, 3, 2, 1);
        check(3, 16, 32, 32, 1, 2, 0);
        check(3, 32, 64, 16, 1, 1, 0);
        check(2, 5, 7, 9, 3, 2, 0);
    }
}
