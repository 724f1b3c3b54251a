//! `shears-kernels`' convolution, max-pooling and training batch norm (+ReLU) wired into Burn as
//! a backend extension for Burn-flex, with hand-written backward passes under autodiff.
//!
//! Burn-flex's own convolution gradients are the largest loss in a CPU training step (profile in
//! `docs/benchmarks.md`); these kernels compute each product as one cache-sized GEMM per sample.
//! Only `f32` tensors on the Flex device take this path ([`usable`]); everything else stays on
//! Burn's ops, so other backends (wgpu, cuda) are untouched.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::{ActivationOps, FloatTensorOps};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use shears_kernels::{Conv2dShape, NormShape, Pool2dShape};
use std::sync::Arc;

/// Stride and padding of a convolution (the rest of the shape comes from the tensors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    /// [vertical, horizontal]
    pub stride: [usize; 2],
    /// [top, left, bottom, right]
    pub pad: [usize; 4],
}

/// Kernel size, stride and symmetric padding of a max-pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolGeometry {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub pad: [usize; 2],
}

#[backend_extension(Flex, Autodiff)]
pub trait KernelOps: Backend {
    fn shears_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        geometry: ConvGeometry,
    ) -> FloatTensor<Self>;

    // A separate operation because the extension macro does not route `Option` tensors.
    fn shears_conv2d_no_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        geometry: ConvGeometry,
    ) -> FloatTensor<Self>;

    fn shears_max_pool2d(x: FloatTensor<Self>, geometry: PoolGeometry) -> FloatTensor<Self>;

    /// Training-mode batch norm (then ReLU when `relu`): (output, batch mean, biased variance);
    /// only the output carries gradients.
    fn shears_batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// `x * scale[c] + shift[c]` per channel (then ReLU): inference batch norm.
    fn shears_channel_affine(
        x: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        shift: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self>;
}

/// Whether `x` can take the kernels: an `f32` tensor on the Flex device (with or without
/// autodiff).
pub fn usable(x: &Tensor<4>) -> bool {
    x.dtype() == DType::F32 && x.device().inner() == Device::flex()
}

/// `conv2d(x, weight) + bias` through the kernels; the caller checked [`usable`] and that the
/// shapes agree (`weight` is `[c_out, c_in, kh, kw]` with `c_in` = `x`'s channels).
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    geometry: ConvGeometry,
) -> Tensor<4> {
    let (x, weight) = (x.into_dispatch(), weight.into_dispatch());
    let out = match bias {
        Some(b) => <Dispatch as KernelOps>::shears_conv2d(x, weight, b.into_dispatch(), geometry),
        None => <Dispatch as KernelOps>::shears_conv2d_no_bias(x, weight, geometry),
    };
    Tensor::from_dispatch(out)
}

/// Max-pooling through the kernels; the caller checked [`usable`].
pub fn max_pool2d(x: Tensor<4>, geometry: PoolGeometry) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as KernelOps>::shears_max_pool2d(
        x.into_dispatch(),
        geometry,
    ))
}

/// Training-mode batch norm of a `[batch, channels, ...]` tensor, fused with a following ReLU
/// when `relu`: (output, batch mean, biased batch variance). The caller checked [`usable`] and
/// that `gamma` and `beta` have one value per channel.
pub fn batch_norm_train(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
    relu: bool,
) -> (Tensor<4>, Tensor<1>, Tensor<1>) {
    let (y, mean, var) = <Dispatch as KernelOps>::shears_batch_norm_train(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        epsilon,
        relu,
    );
    (
        Tensor::from_dispatch(y),
        Tensor::from_dispatch(mean),
        Tensor::from_dispatch(var),
    )
}

/// Inference batch norm (then ReLU when `relu`) with the statistics folded in:
/// `x * scale[c] + shift[c]`. The caller checked [`usable`] and the lengths.
pub fn channel_affine(x: Tensor<4>, scale: Tensor<1>, shift: Tensor<1>, relu: bool) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as KernelOps>::shears_channel_affine(
        x.into_dispatch(),
        scale.into_dispatch(),
        shift.into_dispatch(),
        relu,
    ))
}

fn contiguous_f32(t: &FlexTensor) -> FlexTensor {
    let t = t.to_contiguous();
    assert!(
        t.dtype() == DType::F32 && t.as_slice::<f32>().is_some(),
        "shears kernels take contiguous f32 tensors (checked by kernels::usable)"
    );
    t
}

fn slice(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>()
        .expect("contiguous f32 (contiguous_f32)")
}

fn dims4(t: &FlexTensor) -> [usize; 4] {
    let s = t.layout().shape();
    assert_eq!(s.num_dims(), 4, "4-d tensor expected, got {s:?}");
    [s[0], s[1], s[2], s[3]]
}

fn tensor(data: Vec<f32>, shape: &[usize]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(data, shape.to_vec()))
}

fn conv_shape(x: &FlexTensor, w: &FlexTensor, g: ConvGeometry) -> Conv2dShape {
    let [batch, c_in, h, width] = dims4(x);
    let [c_out, w_in, kh, kw] = dims4(w);
    assert_eq!(c_in, w_in, "input channels {c_in} vs weight {w_in}");
    let s = Conv2dShape {
        batch,
        c_in,
        h,
        w: width,
        c_out,
        kh,
        kw,
        stride: g.stride,
        pad: g.pad,
    };
    s.check().expect("convolution shape checked by the caller");
    s
}

fn pool_shape(x: &FlexTensor, g: PoolGeometry) -> Pool2dShape {
    let [batch, channels, h, w] = dims4(x);
    let s = Pool2dShape {
        batch,
        channels,
        h,
        w,
        kh: g.kernel[0],
        kw: g.kernel[1],
        stride: g.stride,
        pad: g.pad,
    };
    s.check().expect("pooling shape checked by the caller");
    s
}

fn conv_forward(
    x: &FlexTensor,
    w: &FlexTensor,
    b: Option<&FlexTensor>,
    g: ConvGeometry,
) -> FlexTensor {
    let (x, w) = (contiguous_f32(x), contiguous_f32(w));
    let b = b.map(contiguous_f32);
    let s = conv_shape(&x, &w, g);
    let mut y = vec![0.0f32; s.output_len()];
    shears_kernels::conv2d_forward(&s, slice(&x), slice(&w), b.as_ref().map(slice), &mut y)
        .expect("lengths follow the shape");
    tensor(y, &[s.batch, s.c_out, s.h_out(), s.w_out()])
}

fn pool_forward(x: &FlexTensor, g: PoolGeometry) -> (FlexTensor, Vec<u32>, Pool2dShape) {
    let x = contiguous_f32(x);
    let s = pool_shape(&x, g);
    let mut y = vec![0.0f32; s.output_len()];
    let mut argmax = vec![0u32; s.output_len()];
    shears_kernels::max_pool2d_forward(&s, slice(&x), &mut y, &mut argmax)
        .expect("lengths follow the shape");
    let out = tensor(y, &[s.batch, s.channels, s.h_out(), s.w_out()]);
    (out, argmax, s)
}

fn norm_shape(x: &FlexTensor) -> NormShape {
    let [batch, channels, h, w] = dims4(x);
    NormShape {
        batch,
        channels,
        spatial: h * w,
    }
}

/// (output, mean, variance) as tensors, plus the statistics as vectors for the backward.
fn norm_forward(
    x: &FlexTensor,
    gamma: &FlexTensor,
    beta: &FlexTensor,
    epsilon: f64,
    relu: bool,
) -> (FlexTensor, Vec<f32>, Vec<f32>) {
    let (x, gamma, beta) = (
        contiguous_f32(x),
        contiguous_f32(gamma),
        contiguous_f32(beta),
    );
    let s = norm_shape(&x);
    let mut y = vec![0.0f32; s.len()];
    let mut mean = vec![0.0f32; s.channels];
    let mut var = vec![0.0f32; s.channels];
    shears_kernels::batch_norm_train_forward(
        &s,
        slice(&x),
        slice(&gamma),
        slice(&beta),
        epsilon,
        relu,
        &mut y,
        &mut mean,
        &mut var,
    )
    .expect("lengths follow the shape");
    (tensor(y, &dims4(&x)), mean, var)
}

impl KernelOps for Flex {
    fn shears_channel_affine(
        x: FlexTensor,
        scale: FlexTensor,
        shift: FlexTensor,
        relu: bool,
    ) -> FlexTensor {
        let (x, scale, shift) = (
            contiguous_f32(&x),
            contiguous_f32(&scale),
            contiguous_f32(&shift),
        );
        let s = norm_shape(&x);
        let mut y = vec![0.0f32; s.len()];
        shears_kernels::channel_affine(&s, slice(&x), slice(&scale), slice(&shift), relu, &mut y)
            .expect("lengths checked by the caller");
        tensor(y, &dims4(&x))
    }

    fn shears_batch_norm_train(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f64,
        relu: bool,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let (y, mean, var) = norm_forward(&x, &gamma, &beta, epsilon, relu);
        let c = mean.len();
        (y, tensor(mean, &[c]), tensor(var, &[c]))
    }

    fn shears_conv2d(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        geometry: ConvGeometry,
    ) -> FlexTensor {
        conv_forward(&x, &weight, Some(&bias), geometry)
    }

    fn shears_conv2d_no_bias(
        x: FlexTensor,
        weight: FlexTensor,
        geometry: ConvGeometry,
    ) -> FlexTensor {
        conv_forward(&x, &weight, None, geometry)
    }

    fn shears_max_pool2d(x: FlexTensor, geometry: PoolGeometry) -> FlexTensor {
        pool_forward(&x, geometry).0
    }
}

/// What the convolution's backward needs: its inputs (shared buffers, no copies).
#[derive(Clone, Debug)]
struct ConvState {
    x: FlexTensor,
    weight: FlexTensor,
    geometry: ConvGeometry,
}

impl ConvState {
    fn new(x: &AdTensor, weight: &AdTensor, geometry: ConvGeometry) -> Self {
        Self {
            x: x.primitive().clone(),
            weight: weight.primitive().clone(),
            geometry,
        }
    }

    /// Registers the gradients of the tracked parents among (x, weight, bias).
    fn backward(self, parents: [Option<NodeId>; 3], grads: &mut Gradients, dy: FlexTensor) {
        let dy = contiguous_f32(&dy);
        let (x, w) = (contiguous_f32(&self.x), contiguous_f32(&self.weight));
        let s = conv_shape(&x, &w, self.geometry);
        let [px, pw, pb] = parents;
        if let Some(id) = px {
            let mut dx = vec![0.0f32; s.input_len()];
            shears_kernels::conv2d_backward_input(&s, slice(&w), slice(&dy), &mut dx)
                .expect("lengths follow the shape");
            grads.register::<Flex>(id, tensor(dx, &[s.batch, s.c_in, s.h, s.w]));
        }
        if pw.is_some() || pb.is_some() {
            let mut dw = vec![0.0f32; s.weight_len()];
            let mut db = vec![0.0f32; s.c_out];
            shears_kernels::conv2d_backward_weight(
                &s,
                slice(&x),
                slice(&dy),
                &mut dw,
                pb.is_some().then_some(&mut db[..]),
            )
            .expect("lengths follow the shape");
            if let Some(id) = pw {
                grads.register::<Flex>(id, tensor(dw, &[s.c_out, s.c_in, s.kh, s.kw]));
            }
            if let Some(id) = pb {
                grads.register::<Flex>(id, tensor(db, &[s.c_out]));
            }
        }
    }
}

#[derive(Debug)]
struct ConvWithBias;

impl Backward<Flex, 3> for ConvWithBias {
    type State = ConvState;

    fn backward(self, ops: Ops<ConvState, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node);
        let parents = ops.parents.map(|p| p.map(|node| node.id));
        ops.state.backward(parents, grads, dy);
    }
}

#[derive(Debug)]
struct ConvNoBias;

impl Backward<Flex, 2> for ConvNoBias {
    type State = ConvState;

    fn backward(self, ops: Ops<ConvState, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node);
        let [px, pw] = ops.parents.map(|p| p.map(|node| node.id));
        ops.state.backward([px, pw, None], grads, dy);
    }
}

#[derive(Debug)]
struct MaxPoolBackward;

impl Backward<Flex, 1> for MaxPoolBackward {
    type State = (Arc<Vec<u32>>, Pool2dShape);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = contiguous_f32(&grads.consume::<Flex>(&ops.node));
        let (argmax, s) = ops.state;
        if let [Some(node)] = ops.parents {
            let mut dx = vec![0.0f32; s.input_len()];
            shears_kernels::max_pool2d_backward(&s, &argmax, slice(&dy), &mut dx)
                .expect("lengths follow the shape");
            grads.register::<Flex>(node.id, tensor(dx, &[s.batch, s.channels, s.h, s.w]));
        }
    }
}

/// What the batch norm's backward needs: its inputs and the batch statistics.
#[derive(Clone, Debug)]
struct NormState {
    x: FlexTensor,
    gamma: FlexTensor,
    beta: FlexTensor,
    mean: Vec<f32>,
    var: Vec<f32>,
    epsilon: f64,
    relu: bool,
}

#[derive(Debug)]
struct NormBackward;

impl Backward<Flex, 3> for NormBackward {
    type State = NormState;

    fn backward(self, ops: Ops<NormState, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = contiguous_f32(&grads.consume::<Flex>(&ops.node));
        let st = ops.state;
        let (x, gamma, beta) = (
            contiguous_f32(&st.x),
            contiguous_f32(&st.gamma),
            contiguous_f32(&st.beta),
        );
        let s = norm_shape(&x);
        let mut dx = vec![0.0f32; s.len()];
        let mut dgamma = vec![0.0f32; s.channels];
        let mut dbeta = vec![0.0f32; s.channels];
        shears_kernels::batch_norm_train_backward(
            &s,
            slice(&x),
            slice(&gamma),
            slice(&beta),
            &st.mean,
            &st.var,
            st.epsilon,
            st.relu,
            slice(&dy),
            &mut dx,
            &mut dgamma,
            &mut dbeta,
        )
        .expect("lengths follow the shape");
        let [px, pg, pb] = ops.parents;
        if let Some(node) = px {
            grads.register::<Flex>(node.id, tensor(dx, &dims4(&x)));
        }
        if let Some(node) = pg {
            grads.register::<Flex>(node.id, tensor(dgamma, &[s.channels]));
        }
        if let Some(node) = pb {
            grads.register::<Flex>(node.id, tensor(dbeta, &[s.channels]));
        }
    }
}

type AdTensor = FloatTensor<Autodiff<Flex>>;

impl<C: CheckpointStrategy> KernelOps for Autodiff<Flex, C> {
    /// Not routed here by `ops` (inference uses a device without autodiff); composed from
    /// Burn's differentiable ops so that it is still correct if called.
    fn shears_channel_affine(
        x: AdTensor,
        scale: AdTensor,
        shift: AdTensor,
        relu: bool,
    ) -> AdTensor {
        let c = scale.primitive().layout().shape()[0];
        let per_channel = Shape::new([1, c, 1, 1]);
        let y = Self::float_add(
            Self::float_mul(x, Self::float_reshape(scale, per_channel.clone())),
            Self::float_reshape(shift, per_channel),
        );
        if relu { Self::relu(y) } else { y }
    }

    fn shears_conv2d(
        x: AdTensor,
        weight: AdTensor,
        bias: AdTensor,
        geometry: ConvGeometry,
    ) -> AdTensor {
        let out = conv_forward(
            x.primitive(),
            weight.primitive(),
            Some(bias.primitive()),
            geometry,
        );
        match ConvWithBias
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(ConvState::new(&x, &weight, geometry), out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        }
    }

    fn shears_conv2d_no_bias(x: AdTensor, weight: AdTensor, geometry: ConvGeometry) -> AdTensor {
        let out = conv_forward(x.primitive(), weight.primitive(), None, geometry);
        match ConvNoBias
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(ConvState::new(&x, &weight, geometry), out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        }
    }

    fn shears_batch_norm_train(
        x: AdTensor,
        gamma: AdTensor,
        beta: AdTensor,
        epsilon: f64,
        relu: bool,
    ) -> (AdTensor, AdTensor, AdTensor) {
        let (y, mean, var) = norm_forward(
            x.primitive(),
            gamma.primitive(),
            beta.primitive(),
            epsilon,
            relu,
        );
        let c = mean.len();
        let m = AdTensor::new(tensor(mean.clone(), &[c]));
        let v = AdTensor::new(tensor(var.clone(), &[c]));
        match NormBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let state = NormState {
                    x: x.primitive().clone(),
                    gamma: gamma.primitive().clone(),
                    beta: beta.primitive().clone(),
                    mean,
                    var,
                    epsilon,
                    relu,
                };
                (prep.finish(state, y), m, v)
            }
            OpsKind::UnTracked(prep) => (prep.finish(y), m, v),
        }
    }

    fn shears_max_pool2d(x: AdTensor, geometry: PoolGeometry) -> AdTensor {
        match MaxPoolBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (out, argmax, s) = pool_forward(x.primitive(), geometry);
                prep.finish((Arc::new(argmax), s), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(pool_forward(x.primitive(), geometry).0),
        }
    }
}
