//! LeNet-5 style convolutional nets.
//!
//! `LeNet5` is the classic 6-16-120-84 layout with ReLU and max-pooling (28x28 inputs padded so
//! the first convolution keeps the size); `lenet-cifar` is the reference code's variant with
//! average pooling (`conv 3->6 k5 pad2, avgpool, conv 6->16 k5, avgpool, fc 576->120->84`).
//! Both adapt their first fully connected layer to the input size.

use super::layer::{LayerInfo, conv_out};
use super::probe::{LayerInput, Probe, see};
use crate::accel::{conv2d_forward, max_pool2d_forward};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

/// Which pooling the net uses between its two convolutions.
#[derive(Module, Debug)]
pub enum Pool {
    Max(MaxPool2d),
    Avg(AvgPool2d),
}

impl Pool {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Pool::Max(p) => max_pool2d_forward(p, x),
            Pool::Avg(p) => p.forward(x),
        }
    }
}

#[derive(Module, Debug)]
pub struct LeNet {
    pub conv1: Conv2d,
    pub conv2: Conv2d,
    pub fc1: Linear,
    pub fc2: Linear,
    pub fc3: Linear,
    pub pool: Pool,
}

fn flat_features(input: [usize; 3]) -> ([usize; 2], [usize; 2], usize) {
    let h1 = [conv_out(input[1], 5, 1, 2), conv_out(input[2], 5, 1, 2)];
    let p1 = [h1[0] / 2, h1[1] / 2];
    let h2 = [conv_out(p1[0], 5, 1, 0), conv_out(p1[1], 5, 1, 0)];
    let p2 = [h2[0] / 2, h2[1] / 2];
    (h1, h2, 16 * p2[0] * p2[1])
}

impl LeNet {
    /// `average_pool` selects the reference `lenet-cifar` flavour.
    pub fn new(input: [usize; 3], classes: usize, average_pool: bool, device: &Device) -> Self {
        let (_, _, flat) = flat_features(input);
        let pool = if average_pool {
            Pool::Avg(AvgPool2dConfig::new([2, 2]).init())
        } else {
            Pool::Max(MaxPool2dConfig::new([2, 2]).init())
        };
        Self {
            conv1: Conv2dConfig::new([input[0], 6], [5, 5])
                .with_padding(PaddingConfig2d::Explicit(2, 2, 2, 2))
                .init(device),
            conv2: Conv2dConfig::new([6, 16], [5, 5]).init(device),
            fc1: LinearConfig::new(flat, 120).init(device),
            fc2: LinearConfig::new(120, 84).init(device),
            fc3: LinearConfig::new(84, classes).init(device),
            pool,
        }
    }

    pub fn forward(&self, x: Tensor<4>, mut probe: Option<&mut dyn Probe>) -> Tensor<2> {
        see(
            &mut probe,
            || "conv1".into(),
            LayerInput::Conv(&x, &self.conv1),
        );
        let x = self.pool.forward(relu(conv2d_forward(&self.conv1, x)));
        see(
            &mut probe,
            || "conv2".into(),
            LayerInput::Conv(&x, &self.conv2),
        );
        let x = self.pool.forward(relu(conv2d_forward(&self.conv2, x)));
        let x: Tensor<2> = x.flatten(1, 3);
        see(&mut probe, || "fc1".into(), LayerInput::Linear(&x));
        let x = relu(self.fc1.forward(x));
        see(&mut probe, || "fc2".into(), LayerInput::Linear(&x));
        let x = relu(self.fc2.forward(x));
        see(&mut probe, || "fc3".into(), LayerInput::Linear(&x));
        self.fc3.forward(x)
    }

    pub fn layers(input: [usize; 3], classes: usize) -> Vec<LayerInfo> {
        let (h1, h2, flat) = flat_features(input);
        vec![
            LayerInfo::conv("conv1", input[0], 6, 5, h1, true),
            LayerInfo::conv("conv2", 6, 16, 5, h2, true),
            LayerInfo::linear("fc1", flat, 120, true),
            LayerInfo::linear("fc2", 120, 84, true),
            LayerInfo::linear("fc3", 84, classes, true),
        ]
    }

    /// Smallest input side the two 5x5 convolutions and pools accept.
    pub const MIN_SIDE: usize = 12;
}
