//! ResNets: ResNet-20 (He et al. 2016, 3 stages of 16/32/64 channels), the CIFAR ResNet-18
//! (the kuangliu variant the reference uses: 3x3 stem, no max-pool, 4 stages of 64..512), and
//! torchvision's ImageNet ResNet-18 (`resnet18-imagenet`: the same stages behind a 7x7
//! stride-2 stem and a 3x3 stride-2 max-pool), whose state dicts import by torchvision's names.
//!
//! Both use BasicBlocks with a 1x1 conv + BN projection shortcut when the shape changes
//! ("option B"); ResNet-20 in the original paper used a parameter-free zero-padding shortcut,
//! but a projection keeps every residual join an explicit, prunable channel group.

use super::layer::{LayerInfo, conv_out};
use super::probe::{LayerInput, Probe, see};
use super::vgg::ConvBn;
use crate::accel::max_pool2d_forward;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

#[derive(Module, Debug)]
pub struct BasicBlock {
    pub conv1: ConvBn,
    pub conv2: ConvBn,
    pub shortcut: Option<ConvBn>,
}

impl BasicBlock {
    fn new(c_in: usize, c_out: usize, stride: usize, device: &Device) -> Self {
        Self {
            conv1: ConvBn::new(c_in, c_out, 3, stride, device),
            conv2: ConvBn::new(c_out, c_out, 3, 1, device),
            shortcut: (stride != 1 || c_in != c_out)
                .then(|| ConvBn::new(c_in, c_out, 1, stride, device)),
        }
    }

    fn forward(&self, x: Tensor<4>, probe: &mut Option<&mut dyn Probe>, i: usize) -> Tensor<4> {
        let out = self
            .conv1
            .forward_relu(x.clone(), probe, || format!("blocks.{i}.conv1"));
        let out = self
            .conv2
            .forward(out, probe, || format!("blocks.{i}.conv2"));
        let skip = match &self.shortcut {
            Some(s) => s.forward(x, probe, || format!("blocks.{i}.shortcut")),
            None => x,
        };
        relu(out + skip)
    }
}

/// Stage widths, blocks per stage, and the stem of a ResNet.
#[derive(Debug, Clone, Copy)]
pub struct ResNetShape {
    pub widths: &'static [usize],
    pub blocks: &'static [usize],
    /// ImageNet stem (7x7 stride-2 convolution, then 3x3 stride-2 max-pool) instead of the
    /// CIFAR one (3x3 stride-1 convolution).
    pub imagenet_stem: bool,
}

pub const RESNET20: ResNetShape = ResNetShape {
    widths: &[16, 32, 64],
    blocks: &[3, 3, 3],
    imagenet_stem: false,
};
pub const RESNET18: ResNetShape = ResNetShape {
    widths: &[64, 128, 256, 512],
    blocks: &[2, 2, 2, 2],
    imagenet_stem: false,
};
pub const RESNET18_IMAGENET: ResNetShape = ResNetShape {
    imagenet_stem: true,
    ..RESNET18
};

impl ResNetShape {
    /// Stem convolution kernel and stride.
    fn stem(self) -> (usize, usize) {
        if self.imagenet_stem { (7, 2) } else { (3, 1) }
    }

    /// Feature-map size after the stem (and its max-pool).
    fn after_stem(self, hw: [usize; 2]) -> [usize; 2] {
        let (k, s) = self.stem();
        let hw = hw.map(|d| conv_out(d, k, s, k / 2));
        if self.imagenet_stem {
            hw.map(|d| conv_out(d, 3, 2, 1))
        } else {
            hw
        }
    }
}

#[derive(Module, Debug)]
pub struct ResNet {
    pub stem: ConvBn,
    /// The ImageNet stem's max-pool; `None` for the CIFAR networks.
    pub pool: Option<MaxPool2d>,
    pub blocks: Vec<BasicBlock>,
    pub fc: Linear,
}

impl ResNet {
    pub fn new(shape: ResNetShape, input: [usize; 3], classes: usize, device: &Device) -> Self {
        let mut blocks = Vec::new();
        let mut c = shape.widths[0];
        for (stage, (&w, &n)) in shape.widths.iter().zip(shape.blocks).enumerate() {
            for b in 0..n {
                let stride = if stage > 0 && b == 0 { 2 } else { 1 };
                blocks.push(BasicBlock::new(c, w, stride, device));
                c = w;
            }
        }
        let (k, stride) = shape.stem();
        Self {
            stem: ConvBn::new(input[0], shape.widths[0], k, stride, device),
            pool: shape.imagenet_stem.then(|| {
                MaxPool2dConfig::new([3, 3])
                    .with_strides([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init()
            }),
            blocks,
            fc: LinearConfig::new(c, classes).init(device),
        }
    }

    pub fn forward(&self, x: Tensor<4>, mut probe: Option<&mut dyn Probe>) -> Tensor<2> {
        let mut x = self.stem.forward_relu(x, &mut probe, || "stem".into());
        if let Some(pool) = &self.pool {
            x = max_pool2d_forward(pool, x);
        }
        for (i, block) in self.blocks.iter().enumerate() {
            x = block.forward(x, &mut probe, i);
        }
        let [n, c, _, _] = x.dims();
        let x = burn::tensor::module::adaptive_avg_pool2d(x, [1, 1]).reshape([n, c]);
        see(&mut probe, || "fc".into(), LayerInput::Linear(&x));
        self.fc.forward(x)
    }

    pub fn layers(shape: ResNetShape, input: [usize; 3], classes: usize) -> Vec<LayerInfo> {
        let (k, s) = shape.stem();
        let stem_hw = [input[1], input[2]].map(|d| conv_out(d, k, s, k / 2));
        let mut out = vec![LayerInfo::conv(
            "stem.conv",
            input[0],
            shape.widths[0],
            k,
            stem_hw,
            false,
        )];
        let mut hw = shape.after_stem([input[1], input[2]]);
        let mut c = shape.widths[0];
        let mut i = 0;
        for (stage, (&w, &n)) in shape.widths.iter().zip(shape.blocks).enumerate() {
            for b in 0..n {
                let stride = if stage > 0 && b == 0 { 2 } else { 1 };
                let next = [conv_out(hw[0], 3, stride, 1), conv_out(hw[1], 3, stride, 1)];
                out.push(LayerInfo::conv(
                    format!("blocks.{i}.conv1.conv"),
                    c,
                    w,
                    3,
                    next,
                    false,
                ));
                out.push(LayerInfo::conv(
                    format!("blocks.{i}.conv2.conv"),
                    w,
                    w,
                    3,
                    next,
                    false,
                ));
                if stride != 1 || c != w {
                    out.push(LayerInfo::conv(
                        format!("blocks.{i}.shortcut.conv"),
                        c,
                        w,
                        1,
                        next,
                        false,
                    ));
                }
                hw = next;
                c = w;
                i += 1;
            }
        }
        out.push(LayerInfo::linear("fc", c, classes, true));
        out
    }
}
