//! VGG-11 with BatchNorm for CIFAR-sized inputs (the common `cfg A` + BN, one Linear head).
//!
//! Each of the five max-pools halves the feature map; a pool is skipped once the map is a
//! single pixel so 28x28 inputs work too, and the head averages whatever spatial size remains.

use super::layer::{LayerInfo, conv_out};
use super::probe::{LayerInput, Probe, see};
use crate::accel::{batch_norm_forward, conv2d_forward, max_pool2d_forward};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;

/// Output channels per conv; `None` marks a max-pool.
const CFG: [Option<usize>; 13] = [
    Some(64),
    None,
    Some(128),
    None,
    Some(256),
    Some(256),
    None,
    Some(512),
    Some(512),
    None,
    Some(512),
    Some(512),
    None,
];

#[derive(Module, Debug)]
pub struct ConvBn {
    pub conv: Conv2d,
    pub bn: BatchNorm,
}

impl ConvBn {
    pub fn new(c_in: usize, c_out: usize, k: usize, stride: usize, device: &Device) -> Self {
        let pad = k / 2;
        Self {
            conv: Conv2dConfig::new([c_in, c_out], [k, k])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .with_bias(false)
                .init(device),
            bn: BatchNormConfig::new(c_out).init(device),
        }
    }

    /// The block's output; `path` names it for the probe (its conv is `{path}.conv`).
    pub fn forward(
        &self,
        x: Tensor<4>,
        probe: &mut Option<&mut dyn Probe>,
        path: impl FnOnce() -> String,
    ) -> Tensor<4> {
        see(
            probe,
            || format!("{}.conv", path()),
            LayerInput::Conv(&x, &self.conv),
        );
        batch_norm_forward(&self.bn, conv2d_forward(&self.conv, x), false)
    }

    /// `relu(self.forward(x))`, fused where the kernels allow.
    pub fn forward_relu(
        &self,
        x: Tensor<4>,
        probe: &mut Option<&mut dyn Probe>,
        path: impl FnOnce() -> String,
    ) -> Tensor<4> {
        see(
            probe,
            || format!("{}.conv", path()),
            LayerInput::Conv(&x, &self.conv),
        );
        batch_norm_forward(&self.bn, conv2d_forward(&self.conv, x), true)
    }
}

#[derive(Module, Debug)]
pub struct Vgg {
    pub features: Vec<ConvBn>,
    /// After which conv (index into `features`) a max-pool follows.
    #[module(skip)]
    pub pool_after: Vec<usize>,
    pub pool: MaxPool2d,
    pub classifier: Linear,
}

/// `(c_in, c_out, input [h, w])` of one convolution.
type ConvPlan = (usize, usize, [usize; 2]);

/// Walks the config once, so construction, forward and FLOP counting agree on the pools.
fn plan(input: [usize; 3]) -> (Vec<ConvPlan>, Vec<usize>) {
    let mut convs = Vec::new();
    let mut pools = Vec::new();
    let (mut c, mut hw) = (input[0], [input[1], input[2]]);
    for item in CFG {
        match item {
            Some(out) => {
                convs.push((c, out, hw));
                c = out;
            }
            None => {
                if hw[0] >= 2 && hw[1] >= 2 {
                    pools.push(convs.len() - 1);
                    hw = [conv_out(hw[0], 2, 2, 0), conv_out(hw[1], 2, 2, 0)];
                }
            }
        }
    }
    (convs, pools)
}

impl Vgg {
    pub fn new(input: [usize; 3], classes: usize, device: &Device) -> Self {
        let (convs, pool_after) = plan(input);
        Self {
            features: convs
                .iter()
                .map(|&(i, o, _)| ConvBn::new(i, o, 3, 1, device))
                .collect(),
            pool_after,
            pool: MaxPool2dConfig::new([2, 2]).init(),
            classifier: LinearConfig::new(512, classes).init(device),
        }
    }

    pub fn forward(&self, mut x: Tensor<4>, mut probe: Option<&mut dyn Probe>) -> Tensor<2> {
        for (i, layer) in self.features.iter().enumerate() {
            x = layer.forward_relu(x, &mut probe, || format!("features.{i}"));
            if self.pool_after.contains(&i) {
                x = max_pool2d_forward(&self.pool, x);
            }
        }
        let [n, c, _, _] = x.dims();
        let x = burn::tensor::module::adaptive_avg_pool2d(x, [1, 1]).reshape([n, c]);
        see(&mut probe, || "classifier".into(), LayerInput::Linear(&x));
        self.classifier.forward(x)
    }

    pub fn layers(input: [usize; 3], classes: usize) -> Vec<LayerInfo> {
        let (convs, _) = plan(input);
        let mut out: Vec<LayerInfo> = convs
            .iter()
            .enumerate()
            .map(|(i, &(ci, co, hw))| {
                LayerInfo::conv(format!("features.{i}.conv"), ci, co, 3, hw, false)
            })
            .collect();
        out.push(LayerInfo::linear("classifier", 512, classes, true));
        out
    }
}
