//! Training through shears' kernels follows training through Burn's own ops, step for step, on
//! whole models (the op-level tests are in `src/ops.rs`; this checks the models' wiring: fused
//! batch norm + ReLU, pooling, every parameter receiving its gradient).
//!
//! One test in its own binary: `set_fast_conv` is process-wide.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Distribution, Int, Tensor, TensorData};
use shears_nn::Device;
use shears_nn::accel::set_fast_conv;
use shears_nn::models::{ModelKind, ModelSpec, Network};
use shears_nn::optim::OptimizerConfig;
use shears_nn::train::cross_entropy;

/// Losses of `steps` SGD steps from `model`, and the final parameters flattened.
fn train(
    model: Network,
    fast: bool,
    x: &Tensor<4>,
    y: &Tensor<1, Int>,
    steps: usize,
) -> (Vec<f32>, Vec<f32>) {
    set_fast_conv(fast);
    let mut optim = OptimizerConfig::default().build();
    let mut model = model;
    let mut losses = Vec::new();
    for _ in 0..steps {
        let loss = cross_entropy(model.forward(x.clone()), y.clone());
        losses.push(loss.clone().into_scalar::<f32>());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(0.05, model, grads);
    }
    let mut params = Vec::new();
    model.visit(&mut Flatten(&mut params));
    (losses, params)
}

struct Flatten<'a>(&'a mut Vec<f32>);

impl burn::module::ModuleVisitor for Flatten<'_> {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        let data = param.val().into_data().convert::<f32>();
        self.0.extend(data.as_slice::<f32>().unwrap());
    }
}

#[test]
fn kernels_and_burn_ops_train_lenet5_and_resnet20_alike() {
    let device = Device::flex().autodiff();
    for (kind, input) in [
        (ModelKind::LeNet5, [1, 28, 28]),
        (ModelKind::ResNet20, [3, 16, 16]),
    ] {
        let spec = ModelSpec {
            kind,
            input,
            classes: 10,
            shape: None,
        };
        let [c, h, w] = input;
        let x = Tensor::<4>::random([8, c, h, w], Distribution::Normal(0.0, 1.0), &device);
        let labels: Vec<i64> = (0..8).map(|i| i % 10).collect();
        let y = Tensor::<1, Int>::from_data(TensorData::new(labels, [8]), &device);

        // Two models from the same seed (a clone would share the batch norms' running
        // statistics, which both runs update).
        let init = || {
            device.seed(7);
            spec.init(&device)
        };
        let (loss_burn, p_burn) = train(init(), false, &x, &y, 4);
        let (loss_fast, p_fast) = train(init(), true, &x, &y, 4);

        for (step, (a, b)) in loss_burn.iter().zip(&loss_fast).enumerate() {
            assert!(
                (a - b).abs() < 1e-3 * a.abs().max(1.0),
                "{kind}: step {step} loss {a} (Burn) vs {b} (kernels)"
            );
        }
        // The loss moved, so the comparison is not between two untrained models.
        assert!(
            (loss_fast[0] - loss_fast[3]).abs() > 1e-3,
            "{kind}: {loss_fast:?}"
        );
        assert_eq!(p_burn.len(), p_fast.len());
        let worst = p_burn
            .iter()
            .zip(&p_fast)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst < 1e-3,
            "{kind}: parameters differ by up to {worst} after 4 steps"
        );
    }
    set_fast_conv(true);
}
