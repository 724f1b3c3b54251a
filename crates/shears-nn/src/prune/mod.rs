//! Unstructured pruning of any Burn module: which tensors are prunable, reading them to the
//! host for scoring, the [`Pruner`] that owns a run's steps, and keeping pruned entries at
//! exactly zero while training.
//!
//! Scoring and selection are the framework-free functions of `shears_core::{score, masks}`;
//! this module moves tensors between Burn and plain slices and owns the step.

mod calibrate;
mod criterion;
mod grouped;
mod masks;
mod pruner;
mod report;
mod staged;

pub use calibrate::{Collector, InputStats, calibration_set};
pub use criterion::{Criterion, GradientStats, gradient_stats, gradient_stats_with, scores};
pub use grouped::{Grouped, remove_grouped, wanda_scores};
pub use masks::MaskSet;
pub use pruner::{PruneError, Pruner, PrunerState};
pub use report::{LayerRow, SparsityTable};
pub use staged::{Calibrate, Calibration, NetworkCalibration, run_network};

use crate::models::ModelSpec;
use crate::params::visit_floats;
use burn::module::Module;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One prunable tensor, by parameter path (`fc1.weight`, `fc1.bias`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prunable {
    pub path: String,
    /// Path of the Conv/Linear layer it belongs to.
    pub layer: String,
    pub shape: Vec<usize>,
    pub is_bias: bool,
}

impl Prunable {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The reference's prunable set: weights and biases of every Conv and Linear layer (classifier
/// included), BatchNorm excluded. `include_bias = false` prunes weights only.
pub fn prunable(spec: &ModelSpec, include_bias: bool) -> Vec<Prunable> {
    let mut out = Vec::new();
    for layer in spec.layers() {
        out.push(Prunable {
            path: format!("{}.weight", layer.path),
            layer: layer.path.clone(),
            shape: layer.weight_shape.clone(),
            is_bias: false,
        });
        if include_bias && layer.has_bias {
            out.push(Prunable {
                path: format!("{}.bias", layer.path),
                layer: layer.path.clone(),
                shape: vec![layer.out_channels()],
                is_bias: true,
            });
        }
    }
    out
}

/// The prunable tensors of any module, found from its parameters: every weight of rank ≥ 2
/// (Linear, Conv, Embedding; a norm layer's weight has rank 1) and, with `include_bias`, the
/// bias beside it, in declaration order. Restrict the list with ordinary iterator filters.
pub fn prunable_params<M: Module>(model: &M, include_bias: bool) -> Vec<Prunable> {
    let mut out: Vec<Prunable> = Vec::new();
    let mut layers = std::collections::HashSet::new();
    visit_floats(model, |path, t| {
        let (layer, name) = path.rsplit_once('.').unwrap_or(("", path));
        let shape = t.dims();
        let is_bias = name == "bias" && layers.contains(layer);
        if (name == "weight" && shape.len() >= 2) || (include_bias && is_bias) {
            layers.insert(layer.to_string());
            out.push(Prunable {
                path: path.to_string(),
                layer: layer.to_string(),
                shape,
                is_bias,
            });
        }
    });
    out
}

/// Whether `pattern` names `layer`: an exact layer path, or a prefix ending in `*`
/// (`blocks.*`, `fc*`).
fn matches(pattern: &str, layer: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => layer.starts_with(prefix),
        None => pattern == layer,
    }
}

/// [`prunable`] restricted by layer path: `include` (empty = every layer) minus `exclude`.
/// A pattern that names no layer is an error listing the layers, so a typo cannot silently
/// prune (or protect) the wrong thing.
pub fn prunable_filtered(
    spec: &ModelSpec,
    include_bias: bool,
    include: &[String],
    exclude: &[String],
) -> Result<Vec<Prunable>, String> {
    let all = prunable(spec, include_bias);
    let names: Vec<String> = spec.layers().into_iter().map(|l| l.path).collect();
    for p in include.iter().chain(exclude) {
        if !names.iter().any(|n| matches(p, n)) {
            return Err(format!(
                "layer pattern '{p}' matches no layer of {} (layers: {})",
                spec.kind,
                names.join(", ")
            ));
        }
    }
    let out: Vec<Prunable> = all
        .into_iter()
        .filter(|p| include.is_empty() || include.iter().any(|i| matches(i, &p.layer)))
        .filter(|p| !exclude.iter().any(|e| matches(e, &p.layer)))
        .collect();
    if out.is_empty() {
        return Err(format!(
            "no prunable layer of {} is left after include/exclude",
            spec.kind
        ));
    }
    Ok(out)
}

/// Host copies of the prunable tensors, in `params` order.
pub fn read<M: Module>(model: &M, params: &[Prunable]) -> Result<Vec<Vec<f32>>, String> {
    let index: HashMap<&str, usize> = params
        .iter()
        .enumerate()
        .map(|(i, p)| (p.path.as_str(), i))
        .collect();
    let mut out = vec![Vec::new(); params.len()];
    let mut found = vec![false; params.len()];
    visit_floats(model, |path, t| {
        if let Some(&i) = index.get(path) {
            out[i] = t.to_vec();
            found[i] = true;
        }
    });
    for (p, (values, ok)) in params.iter().zip(out.iter().zip(&found)) {
        if !ok {
            return Err(format!("model has no parameter '{}'", p.path));
        }
        if values.len() != p.len() {
            return Err(format!(
                "parameter '{}' has {} values, expected {:?}",
                p.path,
                values.len(),
                p.shape
            ));
        }
    }
    Ok(out)
}

/// Number of float parameters in the whole model (BatchNorm included): the denominator of
/// "sparsity of the whole model".
pub fn total_params<M: Module>(model: &M) -> u64 {
    let mut n = 0u64;
    visit_floats(model, |_, t| n += t.dims().iter().product::<usize>() as u64);
    n
}

/// A single pruning step on `model` outside a planned run (benchmarks, one-off pruning):
/// score the surviving entries, remove what `amount` under `scope` stands for, zero them.
/// `masks` is updated in place; the removed count and the model's zeros are checked. A run
/// of several steps uses a [`Pruner`], which converts its whole schedule once.
#[allow(clippy::too_many_arguments)]
pub fn prune_step<M: Module>(
    model: M,
    masks: &mut MaskSet,
    criterion: Criterion,
    grads: Option<&GradientStats>,
    amount: &shears_core::masks::StepAmount,
    scope: &shears_core::masks::Scope,
    seed: u64,
    step: u64,
) -> Result<M, String> {
    let sizes: Vec<usize> = masks.params.iter().map(Prunable::len).collect();
    let removal =
        shears_core::masks::removal_for(&sizes, amount, scope).map_err(|e| e.to_string())?;
    let how = (criterion, grads, seed, step);
    remove_and_apply(model, masks, how, &removal, scope.min_density())
}

/// Prunes `model` once, to `sparsity` of the prunable entries of `masks` (entries already
/// zero count as pruned): globally, exactly `floor(N·sparsity)` entries are zero afterwards;
/// layer-wise, each tensor loses `floor(N_l·(sparsity − current))` more. `masks` is updated
/// in place and the result checked.
pub fn prune_to_sparsity<M: Module>(
    model: M,
    masks: &mut MaskSet,
    criterion: Criterion,
    grads: Option<&GradientStats>,
    sparsity: f64,
    scope: &shears_core::masks::Scope,
    seed: u64,
) -> Result<M, String> {
    let removal = removal_to_sparsity(masks, sparsity, scope)?;
    let how = (criterion, grads, seed, 0);
    remove_and_apply(model, masks, how, &removal, scope.min_density())
}

/// [`prune_to_sparsity`] with scores already computed (one per entry of every tensor of
/// `masks`), e.g. [`wanda_scores`] compared beyond output rows.
pub fn prune_scored_to_sparsity<M: Module>(
    model: M,
    masks: &mut MaskSet,
    scores: Vec<Vec<f32>>,
    sparsity: f64,
    scope: &shears_core::masks::Scope,
) -> Result<M, String> {
    let removal = removal_to_sparsity(masks, sparsity, scope)?;
    remove_scored(model, masks, scores, &removal, scope.min_density())
}

/// What brings `masks` to `sparsity` under `scope`.
fn removal_to_sparsity(
    masks: &MaskSet,
    sparsity: f64,
    scope: &shears_core::masks::Scope,
) -> Result<shears_core::masks::Removal, String> {
    use shears_core::masks::{Removal, Scope, StepAmount, removal_count, removal_for};
    let report = masks.report();
    let sizes: Vec<usize> = masks.params.iter().map(Prunable::len).collect();
    let removal = match scope {
        Scope::Global { .. } => {
            let target = removal_count(report.total, sparsity);
            Removal::Global(target.checked_sub(report.pruned()).ok_or_else(|| {
                format!(
                    "already {} of {} entries pruned, more than {sparsity}",
                    report.pruned(),
                    report.total
                )
            })?)
        }
        _ => removal_for(
            &sizes,
            &StepAmount::Uniform(sparsity - report.sparsity),
            scope,
        )
        .map_err(|e| e.to_string())?,
    };
    Ok(removal)
}

/// Scores the surviving entries (criterion, gradients, seed and step of the random
/// criterion), removes `removal` of them, zeroes them in `model` and checks both.
pub(crate) fn remove_and_apply<M: Module>(
    model: M,
    masks: &mut MaskSet,
    (criterion, grads, seed, step): (Criterion, Option<&GradientStats>, u64, u64),
    removal: &shears_core::masks::Removal,
    min_density: f64,
) -> Result<M, String> {
    let values = read(&model, &masks.params)?;
    let s = scores(criterion, &values, grads, seed, step)?;
    remove_scored(model, masks, s, removal, min_density)
}

/// [`remove_and_apply`] with the scores already computed.
pub(crate) fn remove_scored<M: Module>(
    model: M,
    masks: &mut MaskSet,
    s: Vec<Vec<f32>>,
    removal: &shears_core::masks::Removal,
    min_density: f64,
) -> Result<M, String> {
    let before = masks.report().pruned();
    let new = shears_core::masks::remove(&s, &masks.masks, removal, min_density)
        .map_err(|e| e.to_string())?;
    let removed = new.iter().map(|m| m.pruned()).sum::<usize>() - before;
    if removed != removal.total() {
        return Err(format!(
            "realised sparsity does not match the plan: removed {removed} entries, planned {}",
            removal.total()
        ));
    }
    masks.set_masks(new);
    let model = masks.apply(model);
    verify_applied(&model, masks)?;
    Ok(model)
}

/// Whether every weight of `params` has rows the N:M pattern divides; an error names the
/// first that does not and says to leave it out (biases are pruned without the pattern).
pub fn pattern_fits(params: &[Prunable], p: shears_core::masks::Pattern) -> Result<(), String> {
    for t in params.iter().filter(|t| !t.is_bias) {
        let cols = shears_core::masks::RowLayout::for_shape(&t.shape).cols();
        if !cols.is_multiple_of(p.m) {
            return Err(format!(
                "{}: rows of {cols} inputs cannot be split into groups of {} for the pattern {p}; exclude the layer",
                t.path, p.m
            ));
        }
    }
    Ok(())
}

/// Every masked entry of the model must be exactly zero; an error names the tensor.
pub fn verify_applied<M: Module>(model: &M, masks: &MaskSet) -> Result<(), String> {
    let values = read(model, &masks.params)?;
    for ((p, m), v) in masks.params.iter().zip(&masks.masks).zip(&values) {
        let bad = v
            .iter()
            .enumerate()
            .filter(|(i, x)| !m.is_kept(*i) && **x != 0.0)
            .count();
        if bad > 0 {
            return Err(format!("{}: {bad} pruned entries are not zero", p.path));
        }
    }
    Ok(())
}
