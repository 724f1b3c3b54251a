//! The `Pruner`: a planned run of unstructured steps on a module, its state through a
//! checkpoint, and the plan it is checked against.

use burn::module::Module;
use shears_core::masks::{Mask, RemovalPlan, Scope};
use shears_core::schedule::{Compat, Plan, ScheduleKind, ScheduleSpec};
use shears_nn::Device;
use shears_nn::models::{ModelKind, ModelSpec, Network};
use shears_nn::prune::{self, Criterion, Pruner, PrunerState};

fn lenet5() -> (ModelSpec, Network) {
    let spec = ModelSpec {
        kind: ModelKind::LeNet5,
        input: [1, 28, 28],
        classes: 10,
        shape: None,
    };
    let model = spec.init(&Device::flex());
    (spec, model)
}

fn geometric(target: f64, steps: usize) -> Plan {
    ScheduleSpec::new(ScheduleKind::Geometric, target)
        .with_steps(steps)
        .plan()
        .unwrap()
}

#[test]
fn parameters_found_on_any_module_match_the_models_layer_table() {
    let (spec, model) = lenet5();
    for bias in [false, true] {
        let found = prune::prunable_params(&model, bias);
        assert_eq!(found, prune::prunable(&spec, bias), "include_bias = {bias}");
    }
}

#[test]
fn a_planned_run_removes_exactly_the_planned_counts_at_every_step() {
    let (_, mut model) = lenet5();
    let params = prune::prunable_params(&model, true);
    let sizes: Vec<usize> = params.iter().map(|p| p.len()).collect();
    let n: usize = sizes.iter().sum();
    let plan =
        RemovalPlan::new(&geometric(0.9, 4), sizes, &Scope::LayerWise, Compat::Exact).unwrap();
    let mut pruner = Pruner::new(params, plan.clone(), Criterion::Random, 3).unwrap();
    while !pruner.is_done() {
        model = pruner.step(model, None).unwrap();
        let t = pruner.completed();
        // Layer-wise: every tensor holds exactly its own planned count.
        let per_tensor = plan.pruned_per_tensor_after(t).unwrap();
        let got: Vec<usize> = pruner.masks().masks.iter().map(Mask::pruned).collect();
        assert_eq!(got, per_tensor, "step {t}");
        assert_eq!(
            pruner.verify(&model).unwrap().pruned(),
            plan.pruned_after(t)
        );
    }
    assert!(plan.pruned_after(4) <= n * 9 / 10);
    // A fifth step is refused rather than pruning past the target.
    assert!(pruner.step(model, None).is_err());
}

#[test]
fn a_restored_pruner_continues_exactly_like_the_original() {
    let (_, model) = lenet5();
    let plan = geometric(0.8, 3);
    let mut original =
        Pruner::for_module(&model, &plan, &Scope::global(), Criterion::Magnitude).unwrap();
    let after_one = original.step(model, None).unwrap();
    let state = original.state();
    // The state survives serialisation, as in a checkpoint.
    let text = serde_json::to_string(&state).unwrap();
    let stored: PrunerState = serde_json::from_str(&text).unwrap();
    let mut resumed =
        Pruner::for_module(&after_one, &plan, &Scope::global(), Criterion::Magnitude).unwrap();
    resumed.restore(stored).unwrap();
    let a = original.step(after_one.clone(), None).unwrap();
    let b = resumed.step(after_one, None).unwrap();
    assert_eq!(original.masks().masks, resumed.masks().masks);
    let values = |m: &Network, p: &Pruner| prune::read(m, &p.masks().params).unwrap();
    assert_eq!(values(&a, &original), values(&b, &resumed));
}

#[test]
fn a_state_that_is_not_the_plans_is_refused_with_the_step_and_tensor() {
    let (_, model) = lenet5();
    let plan = geometric(0.8, 3);
    let mut pruner =
        Pruner::for_module(&model, &plan, &Scope::LayerWise, Criterion::Magnitude).unwrap();
    let model = pruner.step(model, None).unwrap();
    let mut state = pruner.state();
    // One more pruned entry in the first tensor than step 1 planned.
    let first = &mut state.masks[0];
    let i = (0..first.len()).find(|&i| first.is_kept(i)).unwrap();
    let mut keep = first.as_slice().to_vec();
    keep[i] = false;
    *first = Mask::from_keep(keep);
    let err = pruner.restore(state).unwrap_err().to_string();
    let name = &pruner.masks().params[0].path;
    assert!(
        err.contains("step 1") && err.contains(name.as_str()),
        "{err}"
    );
    // A model whose pruned weights were revived fails verification.
    let revived = model.clone().map(&mut Revive);
    assert!(pruner.verify(&revived).is_err());
    assert!(pruner.verify(&model).is_ok());
}

/// Adds 1 to every float parameter: pruned entries are no longer zero.
struct Revive;

impl burn::module::ModuleMapper for Revive {
    fn map_float<const D: usize>(
        &mut self,
        param: burn::module::Param<burn::prelude::Tensor<D>>,
    ) -> burn::module::Param<burn::prelude::Tensor<D>> {
        param.map(|t| t + 1.0)
    }
}
