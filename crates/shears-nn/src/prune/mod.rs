//! Unstructured pruning on a Burn model: which tensors are prunable, reading them to the host
//! for scoring, and keeping pruned entries at exactly zero while training.
//!
//! Scoring and selection are the framework-free functions of `shears_core::{score, select}`;
//! this module only moves tensors between Burn and plain slices.

mod criterion;
mod masks;
mod report;

pub use criterion::{Criterion, GradientStats, gradient_stats, scores};
pub use masks::MaskSet;
pub use report::{LayerRow, SparsityTable};

use crate::models::{ModelSpec, Network};
use crate::params::visit_floats;
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
pub fn read(model: &Network, params: &[Prunable]) -> Result<Vec<Vec<f32>>, String> {
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
pub fn total_params(model: &Network) -> u64 {
    let mut n = 0u64;
    visit_floats(model, |_, t| n += t.dims().iter().product::<usize>() as u64);
    n
}

/// One pruning step on `model`: score the surviving entries, select under `scope`, update the
/// cumulative masks and zero the newly pruned entries. Returns the pruned model; `masks` is
/// updated in place. The result is verified against the plan before it is returned.
#[allow(clippy::too_many_arguments)]
pub fn prune_step(
    model: Network,
    masks: &mut MaskSet,
    criterion: Criterion,
    grads: Option<&GradientStats>,
    amount: &shears_core::select::StepAmount,
    scope: &shears_core::select::Scope,
    seed: u64,
    step: u64,
) -> Result<Network, String> {
    let values = read(&model, &masks.params)?;
    let s = scores(criterion, &values, grads, seed, step)?;
    let before = masks.report().pruned();
    let expected = expected_removals(&masks.params, amount, scope)?;
    let new = shears_core::select::prune_step(&s, &masks.masks, amount, scope)
        .map_err(|e| e.to_string())?;
    let after: usize = new.iter().map(|m| m.pruned()).sum();
    if after - before != expected {
        return Err(format!(
            "realised sparsity does not match the plan: removed {} entries, planned {expected}",
            after - before
        ));
    }
    masks.set_masks(new);
    let model = masks.apply(model);
    verify_applied(&model, masks)?;
    Ok(model)
}

/// Entries a step removes: `floor(N_total·v)` globally, `Σ floor(N_l·v_l)` per layer.
fn expected_removals(
    params: &[Prunable],
    amount: &shears_core::select::StepAmount,
    scope: &shears_core::select::Scope,
) -> Result<usize, String> {
    use shears_core::select::{Scope, StepAmount, removal_count};
    let sizes: Vec<usize> = params.iter().map(Prunable::len).collect();
    let per = |i: usize| -> Result<f64, String> {
        match amount {
            StepAmount::Uniform(v) => Ok(*v),
            StepAmount::PerLayer(v) => v.get(i).copied().ok_or_else(|| {
                format!(
                    "step has {} per-layer values for {} tensors",
                    v.len(),
                    params.len()
                )
            }),
        }
    };
    Ok(match scope {
        Scope::Global { .. } => removal_count(sizes.iter().sum(), per(0)?),
        Scope::LayerWise => (0..sizes.len())
            .map(|i| per(i).map(|v| removal_count(sizes[i], v)))
            .sum::<Result<usize, String>>()?,
        Scope::PerLayer { ratios } => (0..sizes.len())
            .map(|i| {
                per(i).map(|v| removal_count(sizes[i], v * ratios.get(i).copied().unwrap_or(0.0)))
            })
            .sum::<Result<usize, String>>()?,
    })
}

/// Every masked entry of the model must be exactly zero; an error names the tensor.
pub fn verify_applied(model: &Network, masks: &MaskSet) -> Result<(), String> {
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
