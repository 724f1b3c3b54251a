//! Model fixtures shared by the interop and ONNX tests: a small spec per kind, random inputs,
//! networks with moved BatchNorm statistics, and their logits.

use burn::prelude::*;
use burn::tensor::Distribution;
use shears_nn::models::{Input, ModelKind, ModelSpec, Network};

pub fn spec(kind: ModelKind) -> ModelSpec {
    let (input, classes) = match kind {
        ModelKind::GptTiny => ([1, 1, 16], 23),
        ModelKind::LeNetCifar | ModelKind::Vgg11 | ModelKind::ResNet18 => ([3, 32, 32], 10),
        ModelKind::ResNet18ImageNet => ([3, 64, 64], 10),
        _ => ([1, 28, 28], 10),
    };
    ModelSpec {
        kind,
        input,
        classes,
        shape: None,
    }
}

/// Two images, or two sequences of `tokens` ids.
pub fn input(spec: &ModelSpec, tokens: usize, device: &Device) -> Input {
    if spec.kind.is_language_model() {
        let ids = Tensor::<2>::random([2, tokens], Distribution::Uniform(0.0, 23.0), device);
        Input::Tokens(ids.int())
    } else {
        let [c, h, w] = spec.input;
        Input::Images(Tensor::random(
            [2, c, h, w],
            Distribution::Normal(0.0, 1.0),
            device,
        ))
    }
}

/// A network whose BatchNorm running statistics have moved from their initial values (a few
/// training-mode forwards), so an export that ignored them would show.
pub fn trained_like(spec: &ModelSpec, device: &Device) -> Network {
    let ad = device.clone().autodiff();
    let net = spec.init(&ad);
    let x = input(spec, 16, &ad);
    for _ in 0..2 {
        let _ = net.forward(x.clone());
    }
    net.valid()
}

pub fn logits(net: &Network, x: &Input) -> Vec<f32> {
    net.valid()
        .forward(x.clone())
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()
}
