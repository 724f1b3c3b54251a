//! The calibration that keeps a transformer's activations at the stage being measured
//! (`prune::run_network`) gives exactly what running the whole network for every layer gives:
//! the same Wanda and SparseGPT steps on both transformers, and fresh statistics after an
//! earlier layer changes.

use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;
use burn::tensor::Distribution;
use shears_core::masks::{RemovalPlan, Scope};
use shears_core::schedule::{Compat, ScheduleKind, ScheduleSpec};
use shears_nn::Device;
use shears_nn::models::{Input, ModelKind, ModelSpec, Network, Probe, TransformerShape};
use shears_nn::params::PathStack;
use shears_nn::prune::{Calibration, Collector, Criterion, Pruner, prunable, read};

fn small(kind: ModelKind) -> (ModelSpec, Network, Vec<Input>) {
    let device = Device::flex();
    let shape = TransformerShape {
        depth: 2,
        width: 16,
        heads: 2,
        mlp_ratio: 2,
    };
    let (input, classes) = match kind {
        ModelKind::GptTiny => ([1, 1, 12], 17),
        _ => ([1, 8, 8], 4),
    };
    let spec = ModelSpec {
        kind,
        input,
        classes,
        shape: Some(shape),
    };
    let batch = |_| match kind {
        ModelKind::GptTiny => Input::Tokens(
            Tensor::<2>::random([5, 12], Distribution::Uniform(0.0, 17.0), &device).int(),
        ),
        _ => Input::Images(Tensor::random(
            [5, 1, 8, 8],
            Distribution::Normal(0.0, 1.0),
            &device,
        )),
    };
    let net = spec.init(&device);
    (spec, net, (0..3).map(batch).collect())
}

fn whole(set: &[Input]) -> impl FnMut(&Network, &mut dyn Probe) -> Result<(), String> + '_ {
    move |net, probe| {
        for x in set {
            net.forward_probed(x.clone(), Some(&mut *probe));
        }
        Ok(())
    }
}

fn one_step(
    spec: &ModelSpec,
    net: &Network,
    criterion: Criterion,
    run: &mut dyn Calibration<Network>,
) -> Vec<Vec<f32>> {
    let plan = ScheduleSpec::new(ScheduleKind::OneShot, 0.5)
        .plan()
        .unwrap();
    let params = prunable(spec, false);
    let sizes = params.iter().map(|p| p.len()).collect();
    let counts = RemovalPlan::new(&plan, sizes, &Scope::LayerWise, Compat::Exact).unwrap();
    let mut pruner = Pruner::new(params, counts, criterion, 0).unwrap();
    let pruned = pruner.step_calibrated(net.clone(), None, run).unwrap();
    read(&pruned, &pruner.masks().params).unwrap()
}

#[test]
fn kept_activations_give_the_steps_of_whole_network_runs() {
    for kind in [ModelKind::GptTiny, ModelKind::VitTiny] {
        let (spec, net, set) = small(kind);
        for criterion in [Criterion::Wanda, Criterion::SparseGpt] {
            let reference = one_step(&spec, &net, criterion, &mut whole(&set));
            let staged = one_step(
                &spec,
                &net,
                criterion,
                &mut shears_nn::prune::run_network(&set),
            );
            assert_eq!(reference.len(), staged.len());
            for (a, b) in reference.iter().zip(&staged) {
                let diff = a
                    .iter()
                    .zip(b)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0.0, f32::max);
                assert!(
                    diff <= 1e-6,
                    "{kind:?} {criterion}: weights differ by {diff}"
                );
                let zeros = |v: &[f32]| v.iter().filter(|x| **x == 0.0).count();
                assert_eq!(zeros(a), zeros(b), "{kind:?} {criterion}: masks differ");
            }
        }
    }
}

/// Zeroes the parameter at `.0`.
struct Zero(&'static str, PathStack);

impl ModuleMapper for Zero {
    fn enter_module(&mut self, name: &str, container: &str) {
        self.1.enter(name, container);
    }
    fn exit_module(&mut self, _: &str, container: &str) {
        self.1.exit(container);
    }
    fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if self.1.path() == self.0 {
            p.map(|t| t.zeros_like())
        } else {
            p
        }
    }
}

fn sq_of(net: &Network, layer: &str, run: &mut dyn Calibration<Network>) -> Vec<f64> {
    let mut c = Collector::new(Some(layer), false);
    run.run(net, &mut c, Some(layer)).unwrap();
    assert!(c.error.is_none(), "{:?}", c.error);
    c.stats.remove(layer).unwrap().sq
}

#[test]
fn a_reported_change_before_the_kept_stage_is_not_served_stale() {
    let (_, net, set) = small(ModelKind::GptTiny);
    let later = "blocks.1.mlp.fc1";
    let mut staged = shears_nn::prune::run_network(&set);
    let before = sq_of(&net, later, &mut staged);
    assert_eq!(before, sq_of(&net, later, &mut whole(&set)));
    // An earlier layer changes (its output weights zeroed): the later layer's inputs change.
    let changed = net
        .clone()
        .map(&mut Zero("blocks.0.mlp.fc2.weight", PathStack::default()));
    let fresh = sq_of(&changed, later, &mut whole(&set));
    assert_ne!(
        fresh, before,
        "the change must reach the later layer for this test"
    );
    staged.changed("blocks.0.mlp.fc2");
    assert_eq!(sq_of(&changed, later, &mut staged), fresh);
}

#[test]
fn a_layer_the_network_never_shows_is_an_error_not_an_empty_statistic() {
    let (_, net, set) = small(ModelKind::VitTiny);
    let mut c = Collector::new(Some("no.such.layer"), false);
    shears_nn::prune::run_network(&set)
        .run(&net, &mut c, Some("no.such.layer"))
        .unwrap();
    assert!(c.stats.is_empty());
}

/// Wanda takes a step on every model kind and SparseGPT on every kind whose layers are small
/// enough for a test (the zoo's own shapes, small inputs; VGG-11's and the ResNet-18s' 4608-wide
/// Hessians take minutes in a debug build): each prunable tensor's mask removes exactly its
/// planned count, and every masked weight is zero (SparseGPT may zero more: the weights of
/// inputs the calibration never activates, as the reference implementation does).
#[test]
fn every_model_kind_takes_a_calibrated_step() {
    let device = Device::flex();
    for kind in ModelKind::ALL {
        let (input, classes) = match kind {
            ModelKind::GptTiny => ([1, 1, 8], 11),
            ModelKind::LeNet5 | ModelKind::LeNetCifar => ([1, 28, 28], 4),
            _ => ([1, 8, 8], 4),
        };
        let spec = ModelSpec {
            kind,
            input,
            classes,
            shape: kind.is_transformer().then_some(TransformerShape {
                depth: 1,
                width: 16,
                heads: 2,
                mlp_ratio: 2,
            }),
        };
        let net = spec.init(&device);
        let set: Vec<Input> = (0..2)
            .map(|_| match kind {
                ModelKind::GptTiny => Input::Tokens(
                    Tensor::<2>::random([3, 8], Distribution::Uniform(0.0, 11.0), &device).int(),
                ),
                _ => Input::Images(Tensor::random(
                    [3, 1, input[1], input[2]],
                    Distribution::Normal(0.0, 1.0),
                    &device,
                )),
            })
            .collect();
        let plan = ScheduleSpec::new(ScheduleKind::OneShot, 0.5)
            .plan()
            .unwrap();
        let big = matches!(
            kind,
            ModelKind::Vgg11 | ModelKind::ResNet18 | ModelKind::ResNet18ImageNet
        );
        let criteria: &[Criterion] = if big {
            &[Criterion::Wanda]
        } else {
            &[Criterion::Wanda, Criterion::SparseGpt]
        };
        for &criterion in criteria {
            let params = prunable(&spec, false);
            let sizes = params.iter().map(|p| p.len()).collect();
            let counts = RemovalPlan::new(&plan, sizes, &Scope::LayerWise, Compat::Exact).unwrap();
            let mut pruner = Pruner::new(params, counts, criterion, 0).unwrap();
            let mut run = shears_nn::prune::run_network(&set);
            let pruned = pruner.step_calibrated(net.clone(), None, &mut run).unwrap();
            let masks = pruner.masks();
            let weights = read(&pruned, &masks.params).unwrap();
            for ((p, m), w) in masks.params.iter().zip(&masks.masks).zip(&weights) {
                assert_eq!(m.pruned(), p.len() / 2, "{kind} {criterion}: {}", p.path);
                let zeros = w.iter().filter(|x| **x == 0.0).count();
                assert!(zeros >= m.pruned(), "{kind} {criterion}: {}", p.path);
            }
        }
    }
}
