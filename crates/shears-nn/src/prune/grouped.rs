//! Steps whose removal is chosen within output rows — Wanda and SparseGPT always, any criterion
//! under an N:M pattern — layer by layer in forward order. The calibrated criteria take each
//! layer's input statistics with the layers before it already pruned in this step (what
//! SparseGPT does and Wanda's default does): a later layer sees the network it will be part
//! of. Pruned entries stay pruned: selection is among kept entries, and SparseGPT's weight
//! updates never write into masked positions (docs/design.md#rows-and-nm).

use super::calibrate::{Collector, InputStats};
use super::criterion::{Criterion, GradientStats, scores};
use super::staged::Calibrate;
use super::{MaskSet, read, verify_applied};
use crate::params::PathStack;
use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;
use shears_core::masks::{Mask, Pattern, PatternPath, RowLayout, check_pattern, remove_in_rows};
use shears_core::sparsegpt::{SparseGptOptions, sparsegpt};
use std::collections::BTreeMap;

/// How a grouped step chooses.
pub struct Grouped<'a, 'c, M> {
    pub criterion: Criterion,
    pub grads: Option<&'a GradientStats>,
    pub seed: u64,
    pub step: u64,
    pub pattern: Option<Pattern>,
    /// How the steps approach the pattern.
    pub path: PatternPath,
    /// Needed by the calibrated criteria (Wanda, SparseGPT).
    pub calibrate: Option<&'a mut Calibrate<'c, M>>,
}

/// Removes `counts[t]` more entries of every tensor `t` of `masks` within output rows (under
/// the pattern, for weights; biases are one row and never patterned), writing SparseGPT's
/// updated weights, and checks the counts, the zeros and — where a tensor's count reaches the
/// pattern's density — the pattern. Errors name the tensor.
pub fn remove_grouped<M: Module>(
    mut model: M,
    masks: &mut MaskSet,
    counts: &[usize],
    how: Grouped<'_, '_, M>,
) -> Result<M, String> {
    let Grouped {
        criterion,
        grads,
        seed,
        step,
        pattern,
        path,
        mut calibrate,
    } = how;
    if counts.len() != masks.params.len() {
        return Err(format!(
            "{} removal counts for {} tensors",
            counts.len(),
            masks.params.len()
        ));
    }
    // Statistics of layers that share an input with one already measured in this step.
    let mut measured = BTreeMap::new();
    let plain = if criterion.needs_calibration() {
        None
    } else {
        let values = read(&model, &masks.params)?;
        Some(scores(criterion, &values, grads, seed, step)?)
    };
    for t in 0..masks.params.len() {
        let p = masks.params[t].clone();
        let layout = RowLayout::for_shape(&p.shape);
        let named = |e: String| format!("{}: {e}", p.path);
        let (pattern, old, count) = toward_pattern(
            pattern.filter(|_| !p.is_bias),
            path,
            &masks.masks[t],
            counts[t],
        );
        let new = match (&plain, p.is_bias) {
            (Some(s), _) => select(&s[t], &old, count, layout, pattern),
            // A bias has no input statistics of its own: |b|, within its single row.
            (None, true) => {
                let v = read(&model, std::slice::from_ref(&p))?.remove(0);
                select(
                    &shears_core::score::magnitude(&v),
                    &old,
                    count,
                    layout,
                    pattern,
                )
            }
            (None, false) => {
                let run = calibrate
                    .as_deref_mut()
                    .ok_or_else(|| format!("criterion '{criterion}' needs calibration data"))?;
                let gram = criterion == Criterion::SparseGpt;
                let stats = match measured.remove(&p.layer) {
                    Some(s) => s,
                    None => {
                        layer_stats(&model, &p.layer, gram, run, &mut measured).map_err(named)?
                    }
                };
                match criterion {
                    Criterion::SparseGpt => {
                        let (mask, values) =
                            reconstruct(&model, &p, &old, count, pattern, &stats).map_err(named)?;
                        model = write(model, &p.path, values);
                        Ok(mask)
                    }
                    _ => {
                        let v = read(&model, std::slice::from_ref(&p))?.remove(0);
                        let s = shears_core::score::wanda(&v, layout, &stats.sq)
                            .map_err(|e| named(e.to_string()))?;
                        select(&s, &old, count, layout, pattern)
                    }
                }
            }
        }
        .map_err(named)?;
        if let Some(pt) = pattern
            && new.pruned() == (new.len() as f64 * pt.sparsity()).round() as usize
        {
            check_pattern(&new, layout, pt).map_err(|e| named(e.to_string()))?;
        }
        masks.set_mask(t, new);
        model = masks.apply(model);
        if let Some(run) = calibrate.as_deref_mut() {
            run.changed(&p.layer);
        }
    }
    verify_applied(&model, masks)?;
    Ok(model)
}

/// Wanda's scores of every tensor of `masks` from one calibration pass over `model` as it is
/// (biases, which have no inputs of their own, by |b|), for a selection beyond output rows.
pub fn wanda_scores<M: Module>(
    model: &M,
    masks: &MaskSet,
    run: &mut Calibrate<'_, M>,
) -> Result<Vec<Vec<f32>>, String> {
    let mut c = Collector::new(None, false);
    run.run(model, &mut c, None)?;
    if let Some(e) = c.error {
        return Err(e);
    }
    let values = read(model, &masks.params)?;
    masks
        .params
        .iter()
        .zip(&values)
        .map(|(p, v)| {
            if p.is_bias {
                return Ok(shears_core::score::magnitude(v));
            }
            let stats = c
                .stats
                .get(&p.layer)
                .filter(|s| s.rows > 0)
                .ok_or_else(|| {
                    format!("{}: the calibration pass never reached this layer", p.path)
                })?;
            shears_core::score::wanda(v, RowLayout::for_shape(&p.shape), &stats.sq)
                .map_err(|e| format!("{}: {e}", p.path))
        })
        .collect()
}

/// The pattern, starting mask and count of one tensor's step under `path`: the feasible path
/// as given; the projecting one without the pattern until the step that reaches its density,
/// which then chooses the whole pattern from a dense mask.
fn toward_pattern(
    pattern: Option<Pattern>,
    path: PatternPath,
    old: &Mask,
    count: usize,
) -> (Option<Pattern>, Mask, usize) {
    match pattern {
        Some(pt) if !path.is_feasible() => {
            let target = old.pruned() + count;
            if target == (old.len() as f64 * pt.sparsity()).round() as usize {
                (Some(pt), Mask::dense(old.len()), target)
            } else {
                (None, old.clone(), count)
            }
        }
        _ => (pattern, old.clone(), count),
    }
}

fn select(
    scores: &[f32],
    old: &Mask,
    k: usize,
    layout: RowLayout,
    pattern: Option<Pattern>,
) -> Result<Mask, String> {
    remove_in_rows(scores, old, k, layout, pattern).map_err(|e| e.to_string())
}

/// The input statistics of `layer` on the calibration data, with the model as it is now;
/// those of layers sharing its input go to `shared`.
fn layer_stats<M>(
    model: &M,
    layer: &str,
    gram: bool,
    run: &mut Calibrate<'_, M>,
    shared: &mut BTreeMap<String, InputStats>,
) -> Result<InputStats, String> {
    let mut c = Collector::new(Some(layer), gram);
    run.run(model, &mut c, Some(layer))?;
    if let Some(e) = c.error {
        return Err(e);
    }
    let own = c.stats.remove(layer).filter(|s| s.rows > 0).ok_or(
        "the calibration pass never reached this layer (does its forward call the probe?)",
    )?;
    shared.extend(c.stats);
    Ok(own)
}

/// SparseGPT on one weight: Burn layout → rows × cols, reconstruct, and back.
fn reconstruct<M: Module>(
    model: &M,
    p: &super::Prunable,
    old: &Mask,
    k: usize,
    pattern: Option<Pattern>,
    stats: &InputStats,
) -> Result<(Mask, Vec<f32>), String> {
    let layout = RowLayout::for_shape(&p.shape);
    let (rows, cols) = (layout.rows(), layout.cols());
    let values = read(model, std::slice::from_ref(p))?.remove(0);
    let mut w = vec![0.0f32; rows * cols];
    let mut keep = vec![false; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            w[r * cols + c] = values[layout.index(r, c)];
            keep[r * cols + c] = old.is_kept(layout.index(r, c));
        }
    }
    let h = stats.hessian().ok_or("no calibration rows")?;
    let target = old.pruned() + k;
    sparsegpt(
        &mut w,
        rows,
        cols,
        &h,
        &mut keep,
        target,
        pattern.map(|p| (p.n, p.m)),
        &SparseGptOptions::default(),
    )
    .map_err(|e| e.to_string())?;
    let mut out = vec![0.0f32; rows * cols];
    let mut flags = vec![false; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            out[layout.index(r, c)] = w[r * cols + c];
            flags[layout.index(r, c)] = keep[r * cols + c];
        }
    }
    Ok((Mask::from_keep(flags), out))
}

/// `model` with the parameter at `path` replaced by `values` (same shape; ids kept).
fn write<M: Module>(model: M, path: &str, values: Vec<f32>) -> M {
    struct W<'a> {
        stack: PathStack,
        path: &'a str,
        values: Option<Vec<f32>>,
    }
    impl ModuleMapper for W<'_> {
        fn enter_module(&mut self, name: &str, container_type: &str) {
            self.stack.enter(name, container_type);
        }
        fn exit_module(&mut self, _name: &str, container_type: &str) {
            self.stack.exit(container_type);
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            if self.stack.path() != self.path {
                return param;
            }
            let Some(v) = self.values.take() else {
                return param;
            };
            param.map(|t| {
                let grad = t.is_require_grad();
                let fresh = Tensor::<1>::from_floats(v.as_slice(), &t.device()).reshape(t.shape());
                if grad { fresh.require_grad() } else { fresh }
            })
        }
    }
    model.map(&mut W {
        stack: PathStack::default(),
        path,
        values: Some(values),
    })
}
