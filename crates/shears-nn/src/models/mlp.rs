//! LeNet-300-100 (LeCun et al. 1998; Han et al. 2015): the classic fully connected pruning benchmark.

use super::layer::LayerInfo;
use super::probe::{LayerInput, Probe, see};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

#[derive(Module, Debug)]
pub struct Mlp {
    pub fc1: Linear,
    pub fc2: Linear,
    pub fc3: Linear,
}

impl Mlp {
    pub fn new(input: [usize; 3], classes: usize, device: &Device) -> Self {
        let d_in = input.iter().product();
        Self {
            fc1: LinearConfig::new(d_in, 300).init(device),
            fc2: LinearConfig::new(300, 100).init(device),
            fc3: LinearConfig::new(100, classes).init(device),
        }
    }

    pub fn forward(&self, x: Tensor<4>, mut probe: Option<&mut dyn Probe>) -> Tensor<2> {
        let x: Tensor<2> = x.flatten(1, 3);
        see(&mut probe, || "fc1".into(), LayerInput::Linear(&x));
        let x = relu(self.fc1.forward(x));
        see(&mut probe, || "fc2".into(), LayerInput::Linear(&x));
        let x = relu(self.fc2.forward(x));
        see(&mut probe, || "fc3".into(), LayerInput::Linear(&x));
        self.fc3.forward(x)
    }

    pub fn layers(input: [usize; 3], classes: usize) -> Vec<LayerInfo> {
        let d_in = input.iter().product();
        vec![
            LayerInfo::linear("fc1", d_in, 300, true),
            LayerInfo::linear("fc2", 300, 100, true),
            LayerInfo::linear("fc3", 100, classes, true),
        ]
    }
}
