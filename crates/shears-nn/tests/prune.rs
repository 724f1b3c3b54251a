//! Unstructured pruning on real models: exact counts, zeros that stay zero through
//! fine-tuning, gradient plumbing for the Taylor/Hessian criteria, and the plan check.

use shears_core::masks::{Scope, StepAmount, removal_count};
use shears_data::DatasetId;
use shears_nn::Device;
use shears_nn::models::{ModelKind, ModelSpec};
use shears_nn::prune::{self, Criterion, MaskSet};
use shears_nn::train::{Devices, LrClock, evaluate, train_epoch};
use shears_nn::train::{Prepared, TrainRecipe, fit};

fn setup(epochs: usize) -> (Prepared, ModelSpec, Devices, shears_nn::models::Network) {
    let splits = shears_data::load(DatasetId::FashionMnistMini, None).unwrap();
    let data = Prepared::new(DatasetId::FashionMnistMini, splits, 0.1, 0, false).unwrap();
    let spec = ModelSpec {
        kind: ModelKind::LeNet300,
        input: [1, 28, 28],
        classes: 10,
        shape: None,
    };
    let devices = Devices::new(Device::flex());
    let recipe = TrainRecipe {
        epochs,
        ..TrainRecipe::default()
    };
    let (model, _) = fit(&spec, &data, &recipe, &devices, &mut |_| {}).unwrap();
    (data, spec, devices, model)
}

fn zeros(model: &shears_nn::models::Network, masks: &MaskSet) -> usize {
    prune::read(model, &masks.params)
        .unwrap()
        .iter()
        .map(|v| v.iter().filter(|x| **x == 0.0).count())
        .sum()
}

#[test]
fn one_shot_global_magnitude_90_is_exact_and_survives_fine_tuning() {
    let (data, spec, devices, model) = setup(3);
    let mut masks = MaskSet::dense(prune::prunable(&spec, true));
    let n: usize = masks.params.iter().map(|p| p.len()).sum();
    assert_eq!(n, 266_610);
    let model = prune::prune_step(
        model,
        &mut masks,
        Criterion::Magnitude,
        None,
        &StepAmount::Uniform(0.9),
        &Scope::global(),
        0,
        0,
    )
    .unwrap();
    let expected = removal_count(n, 0.9);
    assert_eq!(expected, 239_949); // floor(0.9 * 266,610)
    assert_eq!(masks.report().pruned(), expected);
    assert_eq!(zeros(&model, &masks), expected);
    let pruned_acc = evaluate(
        &model,
        &data.test,
        "test",
        &data.eval_batches(),
        &devices.base,
    )
    .unwrap()
    .top1;

    // One fine-tuning epoch with a fresh optimizer and the mask hook: still exactly 90%.
    let recipe = TrainRecipe::default();
    let mut optim = recipe.optimizer.build();
    let clock = LrClock {
        base_lr: 0.01,
        policy: Default::default(),
        total_epochs: 1,
    };
    let batches = data.train_batches(128, 0);
    let (model, _) = train_epoch(
        model,
        &mut optim,
        &data.train,
        &batches,
        None,
        0,
        &clock,
        &devices,
        &mut masks,
    )
    .unwrap();
    prune::verify_applied(&model, &masks).unwrap();
    assert_eq!(zeros(&model, &masks), expected);
    let tuned_acc = evaluate(
        &model,
        &data.test,
        "test",
        &data.eval_batches(),
        &devices.base,
    )
    .unwrap()
    .top1;
    assert!(
        tuned_acc > pruned_acc,
        "fine-tuning should recover accuracy: {pruned_acc} -> {tuned_acc}"
    );

    // Without the hook, momentum and weight decay would move pruned weights: the check sees it.
    let mut optim = recipe.optimizer.build();
    let (drifted, _) = train_epoch(
        model,
        &mut optim,
        &data.train,
        &batches,
        None,
        1,
        &clock,
        &devices,
        &mut (),
    )
    .unwrap();
    let err = prune::verify_applied(&drifted, &masks).unwrap_err();
    assert!(err.contains(".weight") || err.contains(".bias"), "{err}");
}

#[test]
fn iterative_steps_are_cumulative_and_layer_wise_prunes_every_tensor_equally() {
    let (_, spec, _, model) = setup(1);
    let mut masks = MaskSet::dense(prune::prunable(&spec, false));
    let sizes: Vec<usize> = masks.params.iter().map(|p| p.len()).collect();
    let mut model = model;
    for step in 0..3 {
        let before: Vec<_> = masks.masks.clone();
        model = prune::prune_step(
            model,
            &mut masks,
            Criterion::Magnitude,
            None,
            &StepAmount::Uniform(0.2),
            &Scope::LayerWise,
            0,
            step,
        )
        .unwrap();
        for (old, new) in before.iter().zip(&masks.masks) {
            assert!(new.is_subset_of(old), "pruned weights never return");
        }
    }
    for (m, n) in masks.masks.iter().zip(&sizes) {
        assert_eq!(m.pruned(), 3 * removal_count(*n, 0.2));
    }
}

#[test]
fn taylor_and_hessian_scores_use_the_model_gradients() {
    let (data, spec, devices, model) = setup(1);
    let params = prune::prunable(&spec, true);
    let values = prune::read(&model, &params).unwrap();
    let cfg = data.train_batches(64, 0);
    let stats = prune::gradient_stats(&model, &params, &data.train, &cfg, 2, &devices).unwrap();
    assert_eq!(stats.batches, 2);
    let taylor = prune::scores(Criterion::Taylor, &values, Some(&stats), 0, 0).unwrap();
    let hessian = prune::scores(Criterion::Hessian, &values, Some(&stats), 0, 0).unwrap();
    // Gradients are real: scores are non-trivial and differ from magnitude ranking.
    for (t, h) in taylor.iter().zip(&hessian) {
        assert!(t.iter().any(|x| *x > 0.0) && h.iter().any(|x| *x > 0.0));
    }
    // Hessian/OBD = 1/2 w^2 sum g^2 and Taylor = |w sum g|: both vanish where w = 0.
    let i = params.iter().position(|p| p.path == "fc3.weight").unwrap();
    let fisher = stats.fisher[i].fisher_diag();
    for ((w, h), f) in values[i].iter().zip(&hessian[i]).zip(&fisher) {
        assert!((h - 0.5 * w * w * f).abs() <= 1e-6 * (1.0 + h.abs()));
    }
    assert!(prune::scores(Criterion::Taylor, &values, None, 0, 0).is_err());
}

#[test]
fn include_and_exclude_select_layers_by_path() {
    let spec = ModelSpec {
        kind: ModelKind::ResNet20,
        input: [3, 32, 32],
        classes: 10,
        shape: None,
    };
    let all = prune::prunable(&spec, true);
    let no_fc = prune::prunable_filtered(&spec, true, &[], &["fc".into()]).unwrap();
    assert_eq!(no_fc.len(), all.len() - 2, "fc weight and bias excluded");
    assert!(no_fc.iter().all(|p| p.layer != "fc"));
    let stem_and_blocks =
        prune::prunable_filtered(&spec, true, &["blocks.0.*".into()], &[]).unwrap();
    assert!(!stem_and_blocks.is_empty());
    assert!(
        stem_and_blocks
            .iter()
            .all(|p| p.layer.starts_with("blocks.0."))
    );
    let err = prune::prunable_filtered(&spec, true, &[], &["fc9".into()]).unwrap_err();
    assert!(err.contains("fc9") && err.contains("stem.conv"), "{err}");
    assert!(prune::prunable_filtered(&spec, true, &[], &["*".into()]).is_err());
}
