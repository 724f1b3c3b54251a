//! Optimizer steps against values computed by hand with PyTorch's update rules.

use burn::module::Param;
use burn::nn::Linear;
use burn::optim::GradientsParams;
use burn::prelude::*;
use shears_nn::optim::OptimizerConfig;

/// A 1->1 linear layer without bias; loss = w * x, so dL/dw = x.
fn layer(w: f32, device: &Device) -> Linear {
    Linear {
        weight: Param::from_tensor(Tensor::<2>::from_floats([[w]], device)),
        bias: None,
    }
}

fn run(config: &OptimizerConfig, x: f32, lr: f64, steps: usize) -> Vec<f32> {
    let device = Device::flex().autodiff();
    let mut model = layer(1.0, &device);
    let mut optim = config.build();
    let mut out = Vec::new();
    for _ in 0..steps {
        let input = Tensor::<2>::from_floats([[x]], &device);
        let loss = model.forward(input).sum();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(lr, model, grads);
        out.push(model.weight.val().into_scalar::<f32>());
    }
    out
}

#[test]
fn sgd_momentum_has_no_dampening_and_decay_is_added_to_the_gradient() {
    let sgd = OptimizerConfig::Sgd {
        momentum: 0.9,
        nesterov: false,
        weight_decay: 0.01,
    };
    let w = run(&sgd, 2.0, 0.1, 2);
    // step 1: g = 2 + 0.01*1 = 2.01, v = g, w = 1 - 0.1*2.01
    // step 2: g = 2 + 0.01*0.799 = 2.00799, v = 0.9*2.01 + g = 3.81699, w = 0.799 - 0.381699
    assert!((w[0] - 0.799).abs() < 1e-6, "{w:?}");
    assert!((w[1] - 0.417_301).abs() < 1e-6, "{w:?}");
}

#[test]
fn nesterov_uses_the_lookahead_gradient() {
    let sgd = OptimizerConfig::Sgd {
        momentum: 0.9,
        nesterov: true,
        weight_decay: 0.0,
    };
    let w = run(&sgd, 1.0, 0.1, 2);
    // step 1: v = 1, update = g + 0.9 v = 1.9 -> w = 0.81
    // step 2: v = 0.9 + 1 = 1.9, update = 1 + 0.9*1.9 = 2.71 -> w = 0.81 - 0.271
    assert!((w[0] - 0.81).abs() < 1e-6, "{w:?}");
    assert!((w[1] - 0.539).abs() < 1e-6, "{w:?}");
}

#[test]
fn adam_uses_pytorch_epsilon() {
    let adam = OptimizerConfig::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.0,
    };
    // With a tiny gradient, eps matters: update = lr * g / (|g| + eps).
    let g = 1e-4f64;
    let w = run(&adam, g as f32, 0.1, 1);
    let expected = 1.0 - 0.1 * g / (g + 1e-8);
    assert!(
        (w[0] as f64 - expected).abs() < 1e-6,
        "{} vs {expected}",
        w[0]
    );
}

#[test]
fn adamw_decay_is_decoupled() {
    let adamw = OptimizerConfig::AdamW {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.1,
    };
    let w = run(&adamw, 1.0, 0.1, 1);
    // PyTorch AdamW: w *= 1 - lr*wd, then w -= lr * m_hat/(sqrt(v_hat)+eps) = lr * 1.
    let expected = 1.0 * (1.0 - 0.1 * 0.1) - 0.1;
    assert!(
        (w[0] as f64 - expected).abs() < 1e-6,
        "{} vs {expected}",
        w[0]
    );
}

#[test]
fn bad_hyper_parameters_name_the_field() {
    let e = OptimizerConfig::Sgd {
        momentum: 1.5,
        nesterov: false,
        weight_decay: 0.0,
    }
    .validate()
    .unwrap_err();
    assert!(e.contains("optimizer.momentum"), "{e}");
}
