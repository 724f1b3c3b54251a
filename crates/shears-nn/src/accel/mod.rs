//! Where the models' convolutions, max-pools and batch norms are computed: by `shears-kernels`
//! (through the backend extension in [`extension`]) for `f32` tensors on the Flex device,
//! by Burn otherwise.
//!
//! The modules stay Burn's [`Conv2d`], [`MaxPool2d`] and [`BatchNorm`] (same parameters and
//! running statistics, so checkpoints, pruning and structured surgery are untouched); only the
//! computation differs. Grouped, dilated, `Same`-padded and ceil-mode operations fall back to
//! Burn, and so does a frozen batch norm on a training device.

pub mod extension;

use burn::nn::conv::Conv2d;
use burn::nn::pool::MaxPool2d;
use burn::nn::{BatchNorm, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation;
use extension::{self as kernels, ConvGeometry, PoolGeometry};
use std::sync::atomic::{AtomicBool, Ordering};

static FAST: AtomicBool = AtomicBool::new(true);

/// Switches the `shears-kernels` path on (the default) or off process-wide; off sends every
/// call to Burn (`shears bench --burn-conv` measures both).
///
/// The kernels allocate their outputs and per-thread im2col buffers on every call (up to a few
/// MiB); the `shears` binary raises glibc's mmap/trim thresholds at start-up so those pages are
/// reused instead of being returned to the OS and faulted in again. A library user on glibc
/// should do the same.
pub fn set_fast_conv(on: bool) {
    FAST.store(on, Ordering::Relaxed);
}

pub fn fast_conv() -> bool {
    FAST.load(Ordering::Relaxed)
}

/// `conv.forward(x)`, computed by the `shears-kernels` convolution when [`set_fast_conv`]
/// switched it on (the default) and `x` is an `f32` tensor on the Flex device; otherwise by
/// Burn.
pub fn conv2d_forward(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    if fast_conv()
        && kernels::usable(&x)
        && conv.weight.dtype() == x.dtype()
        && let Some(geometry) = kernel_geometry(conv, &x)
    {
        let bias = conv.bias.as_ref().map(|b| b.val());
        return kernels::conv2d(x, conv.weight.val(), bias, geometry);
    }
    conv.forward(x)
}

/// The kernels' geometry for `conv` on `x`, or `None` for what they do not cover (groups,
/// dilation, `Same` padding, mismatched channels, a kernel larger than the padded input).
fn kernel_geometry(conv: &Conv2d, x: &Tensor<4>) -> Option<ConvGeometry> {
    let pad = match conv.padding {
        PaddingConfig2d::Valid => [0; 4],
        PaddingConfig2d::Explicit(t, l, b, r) => [t, l, b, r],
        PaddingConfig2d::Same => return None,
    };
    let [_, c, h, w] = x.dims();
    let [_, ci, kh, kw] = conv.weight.dims();
    let fits = h + pad[0] + pad[2] >= kh && w + pad[1] + pad[3] >= kw;
    (conv.groups == 1 && conv.dilation == [1, 1] && ci == c && fits && !conv.stride.contains(&0))
        .then_some(ConvGeometry {
            stride: conv.stride,
            pad,
        })
}

/// `pool.forward(x)`, computed by the `shears-kernels` max-pooling (argmax kept for a one-pass
/// backward) under the same conditions as [`conv2d_forward`].
pub fn max_pool2d_forward(pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    let pad = match pool.padding {
        PaddingConfig2d::Valid => Some([0, 0]),
        PaddingConfig2d::Explicit(t, l, b, r) if t == b && l == r => Some([t, l]),
        _ => None,
    };
    let k = pool.kernel_size;
    if fast_conv()
        && kernels::usable(&x)
        && pool.dilation == [1, 1]
        && !pool.ceil_mode
        && !pool.stride.contains(&0)
        && let Some(pad) = pad
        && pad[0] < k[0]
        && pad[1] < k[1]
        && h + 2 * pad[0] >= k[0]
        && w + 2 * pad[1] >= k[1]
    {
        return kernels::max_pool2d(
            x,
            PoolGeometry {
                kernel: k,
                stride: pool.stride,
                pad,
            },
        );
    }
    pool.forward(x)
}

/// `bn.forward(x)`, followed by a ReLU when `relu`. On the kernels' path both are one fused
/// operation: in training (autodiff device, layer not frozen) with the batch statistics, the
/// running statistics updated exactly as Burn's `BatchNorm` does (momentum, biased batch
/// variance); in inference (device without autodiff) with the running statistics.
pub fn batch_norm_forward(bn: &BatchNorm, x: Tensor<4>, relu: bool) -> Tensor<4> {
    let [_, c, _, _] = x.dims();
    let kernels_apply = fast_conv()
        && kernels::usable(&x)
        && bn.gamma.dims() == [c]
        && bn.gamma.dtype() == x.dtype()
        && bn.beta.dtype() == x.dtype();
    let autodiff = x.device().is_autodiff();
    if kernels_apply && autodiff && bn.training.is_enabled() {
        let device = x.device();
        let (y, mean, var) =
            kernels::batch_norm_train(x, bn.gamma.val(), bn.beta.val(), bn.epsilon, relu);
        let m = bn.momentum;
        let running_mean = bn.running_mean.value_sync().to_device(&device);
        let running_var = bn.running_var.value_sync().to_device(&device);
        bn.running_mean
            .update((running_mean * (1.0 - m) + mean.detach() * m).detach());
        bn.running_var
            .update((running_var * (1.0 - m) + var.detach() * m).detach());
        return y;
    }
    if kernels_apply && !autodiff {
        // y = gamma * (x - mean) / sqrt(var + eps) + beta, folded into one multiply-add.
        let device = x.device();
        let mean = bn.running_mean.value().to_device(&device);
        let var = bn.running_var.value().to_device(&device);
        let scale = bn.gamma.val() / (var + bn.epsilon).sqrt();
        let shift = bn.beta.val() - mean * scale.clone();
        return kernels::channel_affine(x, scale, shift, relu);
    }
    let y = bn.forward(x);
    if relu { activation::relu(y) } else { y }
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

    /// Forward and the weight, bias and input gradients of the kernels against Burn's.
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
                    conv2d_forward(&conv, x.clone())
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

    #[test]
    fn the_kernels_run_under_autodiff_and_without_it() {
        let conv = Conv2dConfig::new([2, 3], [3, 3]).init(&Device::flex());
        let x = Tensor::<4>::random([2, 2, 6, 6], Distribution::Default, &Device::flex());
        assert!(
            kernels::usable(&x)
                && kernels::usable(&x.clone().to_device(&Device::flex().autodiff()))
        );
        let d = max_diff(
            flat(conv.forward(x.clone())),
            flat(conv2d_forward(&conv, x)),
        );
        assert!(d < 1e-5, "inference forward differs by {d}");
    }

    #[test]
    fn max_pool_matches_burn_forward_and_backward() {
        use burn::nn::pool::MaxPool2dConfig;
        let device = Device::flex().autodiff();
        for (k, stride, pad, hw) in [(2, 2, 0, 28), (2, 2, 0, 9), (3, 2, 1, 8), (3, 1, 1, 5)] {
            let pool = MaxPool2dConfig::new([k, k])
                .with_strides([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .init();
            let x = Tensor::<4>::random([3, 4, hw, hw], Distribution::Default, &device);
            let run = |fast: bool| {
                let x = x.clone().detach().require_grad();
                let y = if fast {
                    max_pool2d_forward(&pool, x.clone())
                } else {
                    pool.forward(x.clone())
                };
                let g = Tensor::<4>::ones(y.dims(), &device);
                let grads = (y.clone() * g).sum().backward();
                (flat(y), flat(x.grad(&grads).unwrap()))
            };
            let (y0, g0) = run(false);
            let (y1, g1) = run(true);
            let what = format!("k{k} s{stride} p{pad} hw{hw}");
            assert!(max_diff(y0, y1) < 1e-6, "forward {what}");
            assert!(max_diff(g0, g1) < 1e-6, "gradient {what}");
        }
    }

    #[test]
    fn batch_norm_matches_burn_in_output_gradients_and_running_statistics() {
        use burn::nn::BatchNormConfig;
        let device = Device::flex().autodiff();
        for relu in [false, true] {
            let gamma = Tensor::<1>::random([5], Distribution::Default, &device);
            let beta = Tensor::<1>::random([5], Distribution::Default, &device);
            let x = Tensor::<4>::random([4, 5, 6, 7], Distribution::Normal(1.0, 2.0), &device);
            let g = Tensor::<4>::random([4, 5, 6, 7], Distribution::Default, &device);
            let run = |fast: bool| {
                // A fresh layer each time: clones share their running statistics.
                let bn = BatchNorm {
                    gamma: Param::from_tensor(gamma.clone()),
                    beta: Param::from_tensor(beta.clone()),
                    ..BatchNormConfig::new(5).init(&device)
                };
                let x = x.clone().detach().require_grad();
                let y = if fast {
                    batch_norm_forward(&bn, x.clone(), relu)
                } else {
                    let y = bn.forward(x.clone());
                    if relu { activation::relu(y) } else { y }
                };
                let grads = (y.clone() * g.clone()).sum().backward();
                let dx = flat(x.grad(&grads).unwrap());
                let dg = bn.gamma.val().grad(&grads).unwrap();
                let db = bn.beta.val().grad(&grads).unwrap();
                let (rm, rv) = (bn.running_mean.value(), bn.running_var.value());
                [flat(y), dx, dg, db, rm, rv]
            };
            let burn = run(false);
            let ours = run(true);
            let names = [
                "output",
                "input grad",
                "gamma grad",
                "beta grad",
                "running mean",
                "running var",
            ];
            for ((name, a), b) in names.iter().zip(burn).zip(ours) {
                let d = max_diff(a, b);
                assert!(d < 1e-4, "{name} differs by {d} (relu {relu})");
            }
        }
    }

    #[test]
    fn inference_batch_norm_matches_burn() {
        use burn::nn::BatchNormConfig;
        let device = Device::flex();
        let bn = BatchNorm {
            gamma: Param::from_tensor(Tensor::random([5], Distribution::Default, &device)),
            beta: Param::from_tensor(Tensor::random([5], Distribution::Default, &device)),
            ..BatchNormConfig::new(5).init(&device)
        };
        bn.running_mean
            .update(Tensor::random([5], Distribution::Default, &device));
        bn.running_var.update(Tensor::random(
            [5],
            Distribution::Uniform(0.5, 2.0),
            &device,
        ));
        let x = Tensor::<4>::random([3, 5, 4, 6], Distribution::Normal(0.0, 2.0), &device);
        for relu in [false, true] {
            let burn = bn.forward(x.clone());
            let burn = if relu { activation::relu(burn) } else { burn };
            let d = max_diff(flat(burn), flat(batch_norm_forward(&bn, x.clone(), relu)));
            assert!(d < 1e-5, "relu {relu}: differs by {d}");
        }
    }

    #[test]
    fn channel_affine_under_autodiff_gives_the_same_output_and_a_gradient() {
        let ad = Device::flex().autodiff();
        let plain = Device::flex();
        let xa = Tensor::<4>::random([2, 3, 4, 4], Distribution::Default, &ad)
            .detach()
            .require_grad();
        let params = |v: [f32; 3], d: &Device| Tensor::<1>::from_floats(v, d);
        let (s, b) = ([2.0, -1.0, 0.5], [0.1, 0.2, -0.3]);
        let ya = kernels::channel_affine(xa.clone(), params(s, &ad), params(b, &ad), true);
        let x = Tensor::<4>::from_data(xa.to_data(), &plain);
        let y = kernels::channel_affine(x, params(s, &plain), params(b, &plain), true);
        let back = |t: Tensor<4>| Tensor::<4>::from_data(t.into_data(), &plain);
        assert!(max_diff(flat(y.clone()), flat(back(ya.clone()))) < 1e-6);
        let grads = ya.sum().backward();
        let g = xa.grad(&grads).expect("input gradient");
        // d/dx relu(x * s + b) = s where the output is positive, else 0.
        let want = y.greater_elem(0.0).float() * params(s, &plain).reshape([1, 3, 1, 1]);
        assert!(max_diff(flat(want), flat(back(g))) < 1e-6);
    }
}
