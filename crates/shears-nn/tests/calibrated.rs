//! Calibrated criteria and N:M patterns on Burn modules: the input statistics of Linear and
//! convolution layers against hand computation, Wanda's per-row choice, a 2:4 run that stays
//! feasible and ends on the pattern, SparseGPT reconstructing better than magnitude pruning,
//! and errors that name the layer.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use shears_core::masks::{Pattern, PatternPath, RemovalPlan, RowLayout, Scope, check_pattern};
use shears_core::schedule::{Compat, ScheduleKind, ScheduleSpec};
use shears_nn::Device;
use shears_nn::models::{LayerInput, Probe, see};
use shears_nn::prune::{Collector, Criterion, Pruner, prunable_params, read};

fn dev() -> Device {
    Device::flex()
}

/// One Linear layer with set weights, calling the probe as a model of one's own would.
#[derive(Module, Debug)]
struct One {
    fc: Linear,
}

impl One {
    fn new(weights: &[f32], d_in: usize, d_out: usize) -> Self {
        let mut fc: Linear = LinearConfig::new(d_in, d_out).with_bias(false).init(&dev());
        let w = Tensor::<1>::from_floats(weights, &dev()).reshape([d_in, d_out]);
        fc.weight = Param::from_tensor(w);
        Self { fc }
    }

    fn forward(&self, x: Tensor<2>, mut probe: Option<&mut dyn Probe>) -> Tensor<2> {
        see(&mut probe, || "fc".into(), LayerInput::Linear(&x));
        self.fc.forward(x)
    }
}

fn inputs(rows: &[[f32; 4]]) -> Tensor<2> {
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    Tensor::<1>::from_floats(flat.as_slice(), &dev()).reshape([rows.len(), 4])
}

#[test]
fn linear_input_statistics_are_the_sums_of_squares_and_the_gram_matrix() {
    let m = One::new(&[0.0; 8], 4, 2);
    let x = inputs(&[[1.0, 2.0, 0.0, -1.0], [3.0, 0.0, 1.0, 1.0]]);
    let mut c = Collector::new(None, true);
    m.forward(x, Some(&mut c));
    let s = &c.stats["fc"];
    assert_eq!(s.rows, 2);
    assert_eq!(s.sq, vec![10.0, 4.0, 1.0, 2.0]);
    let g = s.gram.as_ref().unwrap();
    assert_eq!(&g[0..4], &[10.0, 2.0, 3.0, 2.0]); // row 0 of XᵀX
    assert_eq!(s.hessian().unwrap()[0], 10.0); // 2/n · 10 with n = 2
}

#[test]
fn convolution_inputs_are_their_im2col_columns_padding_included() {
    // 1 channel, 2x2 kernel, padding 1 on a 2x2 input: 3x3 output positions.
    let conv: Conv2d = Conv2dConfig::new([1, 1], [2, 2])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init(&dev());
    let x = Tensor::<1>::from_floats([1.0, 2.0, 3.0, 4.0], &dev()).reshape([1, 1, 2, 2]);
    let mut c = Collector::new(None, false);
    c.input("conv", LayerInput::Conv(&x, &conv));
    let s = &c.stats["conv"];
    assert_eq!(s.rows, 9);
    // Every kernel offset sees each pixel exactly once over the 9 positions (the rest is
    // padding): each column's sum of squares is 1 + 4 + 9 + 16.
    assert_eq!(s.sq, vec![30.0; 4]);
    // Without padding only the one position: the columns are the pixels themselves.
    let valid: Conv2d = Conv2dConfig::new([1, 1], [2, 2]).init(&dev());
    let mut c = Collector::new(None, false);
    c.input("v", LayerInput::Conv(&x, &valid));
    assert_eq!(c.stats["v"].sq, vec![1.0, 4.0, 9.0, 16.0]);
}

fn one_shot(target: f64, model: &impl Module, criterion: Criterion) -> Pruner {
    let plan = ScheduleSpec::new(ScheduleKind::OneShot, target)
        .plan()
        .unwrap();
    let params = prunable_params(model, false);
    let sizes = params.iter().map(|p| p.len()).collect();
    let counts = RemovalPlan::new(&plan, sizes, &Scope::LayerWise, Compat::Exact).unwrap();
    Pruner::new(params, counts, criterion, 0).unwrap()
}

#[test]
fn wanda_compares_within_each_output_row_by_weight_times_input_norm() {
    // Burn layout [in = 4, out = 2]: output 0 uses weights 0, 2, 4, 6; output 1 the others.
    let w = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 3.0];
    let m = One::new(&w, 4, 2);
    // Input norms: 1, 3, 0.5, 10 (a single calibration row).
    let x = inputs(&[[1.0, 3.0, 0.5, 10.0]]);
    let mut run = |model: &One, probe: &mut dyn Probe| {
        model.forward(x.clone(), Some(probe));
        Ok(())
    };
    let mut pruner = one_shot(0.5, &m, Criterion::Wanda);
    let m = pruner.step_calibrated(m, None, &mut run).unwrap();
    // Row 0 scores: 1·1, 1·3, 1·0.5, 0.5·10 → prune inputs 2 and 0; row 1: 1, 3, 0.5, 30 →
    // the same two. Magnitude alone would have pruned input 3 of row 0 (|0.5|).
    let v = read(&m, &pruner.masks().params).unwrap().remove(0);
    assert_eq!(v, vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.5, 3.0]);
    // Without calibration data it is an error, not a silent fallback.
    let m2 = One::new(&w, 4, 2);
    let e = one_shot(0.5, &m2, Criterion::Wanda)
        .step(m2, None)
        .unwrap_err();
    assert!(e.to_string().contains("needs calibration data"), "{e}");
}

#[test]
fn wanda_beyond_rows_compares_its_scores_across_the_whole_layer() {
    // Row 0 (output 0) has weights 1, row 1 weights 10; input norms 1, 2, 3, 4.
    let w = [1.0, 10.0, 1.0, 10.0, 1.0, 10.0, 1.0, 10.0];
    let x = inputs(&[[1.0, 2.0, 3.0, 4.0]]);
    let mut run = |model: &One, probe: &mut dyn Probe| {
        model.forward(x.clone(), Some(probe));
        Ok(())
    };
    for (scope, rows, expected) in [
        // Per row: each row loses its two least-fed inputs.
        (
            Scope::LayerWise,
            true,
            [0.0, 0.0, 0.0, 0.0, 1.0, 10.0, 1.0, 10.0],
        ),
        // One comparison over the layer (layer-wise or global, one tensor): row 0's scores
        // 1..4 are all below row 1's 10..40, so row 0 goes entirely.
        (
            Scope::LayerWise,
            false,
            [0.0, 10.0, 0.0, 10.0, 0.0, 10.0, 0.0, 10.0],
        ),
        (
            Scope::global(),
            false,
            [0.0, 10.0, 0.0, 10.0, 0.0, 10.0, 0.0, 10.0],
        ),
    ] {
        let m = One::new(&w, 4, 2);
        let plan = ScheduleSpec::new(ScheduleKind::OneShot, 0.5)
            .plan()
            .unwrap();
        let params = prunable_params(&m, false);
        let sizes = params.iter().map(|p| p.len()).collect();
        let counts = RemovalPlan::new(&plan, sizes, &scope, Compat::Exact).unwrap();
        let mut pruner = Pruner::new(params, counts, Criterion::Wanda, 0)
            .unwrap()
            .with_wanda_rows(rows)
            .unwrap();
        let m = pruner.step_calibrated(m, None, &mut run).unwrap();
        let v = read(&m, &pruner.masks().params).unwrap().remove(0);
        assert_eq!(v, expected, "scope {scope:?}, rows {rows}");
    }
    // Only Wanda has the option.
    let m = One::new(&w, 4, 2);
    let e = one_shot(0.5, &m, Criterion::SparseGpt)
        .with_wanda_rows(false)
        .unwrap_err();
    assert!(e.to_string().contains("sparsegpt"), "{e}");
}

#[test]
fn an_iterative_two_four_run_is_feasible_at_every_step_and_ends_on_the_pattern() {
    let w: Vec<f32> = (0..64).map(|i| ((i * 37) % 64) as f32 - 31.5).collect();
    let mut m = One::new(&w, 16, 4);
    let plan = ScheduleSpec::new(ScheduleKind::Geometric, 0.5)
        .with_steps(3)
        .plan()
        .unwrap();
    let params = prunable_params(&m, false);
    let sizes = params.iter().map(|p| p.len()).collect();
    let counts = RemovalPlan::new(&plan, sizes, &Scope::LayerWise, Compat::Exact).unwrap();
    let p: Pattern = "2:4".parse().unwrap();
    let mut pruner = Pruner::new(params, counts, Criterion::Magnitude, 0)
        .unwrap()
        .with_pattern(Some(p))
        .unwrap();
    let layout = RowLayout::for_shape(&[16, 4]);
    while !pruner.is_done() {
        m = pruner.step(m, None).unwrap();
        let mask = &pruner.masks().masks[0];
        for r in 0..4 {
            for g in 0..4 {
                let pruned = (g * 4..g * 4 + 4)
                    .filter(|&c| !mask.is_kept(layout.index(r, c)))
                    .count();
                assert!(
                    pruned <= 2,
                    "step {}: row {r} group {g}",
                    pruner.completed()
                );
            }
        }
    }
    check_pattern(&pruner.masks().masks[0], layout, p).unwrap();
    assert_eq!(pruner.report().pruned(), 32);
    // A layer the pattern does not divide is refused up front, by name.
    let odd = One::new(&[1.0; 12], 6, 2);
    let e = one_shot(0.5, &odd, Criterion::Magnitude)
        .with_pattern(Some(p))
        .unwrap_err();
    assert!(e.to_string().contains("fc.weight: rows of 6 inputs"), "{e}");
}

#[test]
fn the_projecting_path_prunes_freely_then_chooses_the_pattern_afresh() {
    // Weight (row r, input c) = c + 1: every row's smallest entries are its first group.
    let w: Vec<f32> = (0..64).map(|i| (i / 4 + 1) as f32).collect();
    let mut m = One::new(&w, 16, 4);
    let plan = ScheduleSpec::new(ScheduleKind::Geometric, 0.5)
        .with_steps(3)
        .plan()
        .unwrap();
    let params = prunable_params(&m, false);
    let sizes = params.iter().map(|p| p.len()).collect();
    let counts = RemovalPlan::new(&plan, sizes, &Scope::LayerWise, Compat::Exact).unwrap();
    let p: Pattern = "2:4".parse().unwrap();
    let mut pruner = Pruner::new(params, counts, Criterion::Magnitude, 0)
        .unwrap()
        .with_pattern(Some(p))
        .unwrap()
        .with_pattern_path(PatternPath::Project);
    let layout = RowLayout::for_shape(&[16, 4]);
    let first_group_pruned = |mask: &shears_core::masks::Mask, r: usize| {
        (0..4)
            .filter(|&c| !mask.is_kept(layout.index(r, c)))
            .count()
    };
    m = pruner.step(m, None).unwrap();
    // Unconstrained before the last step: the first group of every row is over the cap.
    let early = pruner.masks().masks[0].clone();
    assert!(
        (0..4).all(|r| first_group_pruned(&early, r) > 2),
        "{early:?}"
    );
    while !pruner.is_done() {
        m = pruner.step(m, None).unwrap();
    }
    let last = &pruner.masks().masks[0];
    check_pattern(last, layout, p).unwrap();
    assert_eq!(pruner.report().pruned(), 32);
    // Weights pruned early are kept again where the pattern needs them — at zero.
    let v = read(&m, &pruner.masks().params).unwrap().remove(0);
    let restored: Vec<usize> = (0..64)
        .filter(|&i| !early.is_kept(i) && last.is_kept(i))
        .collect();
    assert!(!restored.is_empty());
    assert!(restored.iter().all(|&i| v[i] == 0.0), "{restored:?}");
    pruner.verify(&m).unwrap();
}

#[test]
fn sparsegpt_reconstructs_the_layer_output_better_than_magnitude() {
    // Correlated inputs: 8 features mixed from 3 sources plus a little noise.
    let mut state = 7u64;
    let mut rnd = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
    };
    let w: Vec<f32> = (0..8 * 6).map(|_| rnd()).collect();
    let mix: Vec<f32> = (0..3 * 8).map(|_| rnd()).collect();
    let rows: Vec<f32> = (0..256)
        .flat_map(|_| {
            let z = [rnd(), rnd(), rnd()];
            let noise: Vec<f32> = (0..8).map(|_| 0.05 * rnd()).collect();
            (0..8)
                .map(|j| (0..3).map(|k| z[k] * mix[k * 8 + j]).sum::<f32>() + noise[j])
                .collect::<Vec<_>>()
        })
        .collect();
    let x = Tensor::<1>::from_floats(rows.as_slice(), &dev()).reshape([256, 8]);
    let dense = One::new(&w, 8, 6);
    let reference = dense.forward(x.clone(), None);
    let error = |criterion: Criterion| -> f32 {
        let m = One::new(&w, 8, 6);
        let mut run = |model: &One, probe: &mut dyn Probe| {
            model.forward(x.clone(), Some(probe));
            Ok(())
        };
        let mut pruner = one_shot(0.5, &m, criterion);
        let m = if criterion.needs_calibration() {
            pruner.step_calibrated(m, None, &mut run).unwrap()
        } else {
            pruner.step(m, None).unwrap()
        };
        assert_eq!(pruner.report().pruned(), 24);
        let out = m.forward(x.clone(), None);
        (out - reference.clone())
            .powf_scalar(2.0)
            .sum()
            .into_scalar()
    };
    let (magnitude, wanda, sparsegpt) = (
        error(Criterion::Magnitude),
        error(Criterion::Wanda),
        error(Criterion::SparseGpt),
    );
    assert!(
        sparsegpt < 0.7 * magnitude,
        "sparsegpt {sparsegpt} vs magnitude {magnitude}"
    );
    assert!(sparsegpt < wanda, "sparsegpt {sparsegpt} vs wanda {wanda}");
}
