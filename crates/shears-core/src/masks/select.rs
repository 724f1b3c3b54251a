//! Selection: which kept entries a step removes, globally under one threshold (with an
//! optional per-tensor floor) or tensor by tensor, and the channel variant for structured
//! pruning.

use super::{Mask, Removal, SelectError, check_fraction, removal_count};
use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------------------------
// Scope and amounts

/// How a step's amount is distributed over tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Scope {
    /// One threshold across all tensors (the reference default for unstructured pruning):
    /// removes `floor(N_total·v)` entries. `min_density` keeps at least
    /// `ceil(N_layer·min_density)` entries per tensor (any value > 0 keeps at least one), so
    /// no layer collapses; the total removed is unchanged, the excess moves to other tensors.
    Global {
        #[serde(default)]
        min_density: f64,
    },
    /// The same fraction of each tensor: `floor(N_layer·v_layer)` per tensor.
    LayerWise,
    /// Per-tensor ratios multiplying the step value: tensor `l` removes `floor(N_l·v·r_l)`.
    /// With a schedule whose values sum to 1 (one-shot `[1.0]`, constant `[0.2; 5]`) each tensor
    /// ends at sparsity `r_l` up to floor rounding, e.g. the reference's per-stage ResNet-18
    /// ratios (Table 2) in Torch-Pruning's linear ramp. For non-linear per-layer schedules
    /// compute each layer's values and pass [`StepAmount::PerLayer`] under [`Scope::LayerWise`].
    PerLayer { ratios: Vec<f64> },
}

impl Scope {
    /// Global scope without a floor (exactly the reference).
    pub fn global() -> Self {
        Scope::Global { min_density: 0.0 }
    }
}

/// A scope as a config file or command line names it (the global floor is a setting of its
/// own): `global` or `layer-wise`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScopeKind {
    Global,
    LayerWise,
}

impl ScopeKind {
    pub fn name(self) -> &'static str {
        match self {
            ScopeKind::Global => "global",
            ScopeKind::LayerWise => "layer-wise",
        }
    }

    /// The scope, with `min_density` as the floor of a global one (ignored otherwise).
    pub fn with_floor(self, min_density: f64) -> Scope {
        match self {
            ScopeKind::Global => Scope::Global { min_density },
            ScopeKind::LayerWise => Scope::LayerWise,
        }
    }
}

impl std::fmt::Display for ScopeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ScopeKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "global" => Ok(ScopeKind::Global),
            "layer-wise" | "layerwise" => Ok(ScopeKind::LayerWise),
            other => Err(format!(
                "unknown scope '{other}' (expected global or layer-wise)"
            )),
        }
    }
}

/// One step's value(s), each a fraction of the original count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StepAmount {
    /// Same value for every tensor (broadcast); the only form valid under [`Scope::Global`].
    Uniform(f64),
    /// One value per tensor (e.g. the reference's `ManualStepScheduler`).
    PerLayer(Vec<f64>),
}

/// What a step of `amount` under `scope` removes from tensors of the original `sizes`:
/// `floor(N·v)` under one global threshold, `floor(N_l·v_l)` (times the ratio) per tensor.
pub fn removal_for(
    sizes: &[usize],
    amount: &StepAmount,
    scope: &Scope,
) -> Result<Removal, SelectError> {
    let values: Vec<f64> = match amount {
        StepAmount::Uniform(v) => {
            check_fraction("step value", None, *v)?;
            vec![*v; sizes.len()]
        }
        StepAmount::PerLayer(vs) => {
            if vs.len() != sizes.len() {
                return Err(SelectError::ValueCount {
                    what: "step amount",
                    expected: sizes.len(),
                    got: vs.len(),
                });
            }
            for (t, &v) in vs.iter().enumerate() {
                check_fraction("step value", Some(t), v)?;
            }
            vs.clone()
        }
    };
    match scope {
        Scope::Global { min_density } => {
            check_fraction("min_density", None, *min_density)?;
            match amount {
                StepAmount::Uniform(v) => {
                    Ok(Removal::Global(removal_count(sizes.iter().sum(), *v)))
                }
                StepAmount::PerLayer(_) => Err(SelectError::GlobalNeedsUniform),
            }
        }
        Scope::LayerWise => Ok(Removal::PerTensor(
            sizes
                .iter()
                .zip(&values)
                .map(|(&n, &v)| removal_count(n, v))
                .collect(),
        )),
        Scope::PerLayer { ratios } => {
            if ratios.len() != sizes.len() {
                return Err(SelectError::ValueCount {
                    what: "per-layer ratios",
                    expected: sizes.len(),
                    got: ratios.len(),
                });
            }
            for (t, &r) in ratios.iter().enumerate() {
                check_fraction("per-layer ratio", Some(t), r)?;
            }
            Ok(Removal::PerTensor(
                sizes
                    .iter()
                    .zip(values.iter().zip(ratios))
                    .map(|(&n, (&v, &r))| removal_count(n, v * r))
                    .collect(),
            ))
        }
    }
}

impl Scope {
    /// The per-tensor floor of a global scope (0 for the others).
    pub fn min_density(&self) -> f64 {
        match self {
            Scope::Global { min_density } => *min_density,
            _ => 0.0,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Core selection

/// Order-preserving map of a non-NaN `f32` to `u32` (`-0.0` and `0.0` compare equal).
fn ord_bits(x: f32) -> u32 {
    let x = if x == 0.0 { 0.0 } else { x };
    let b = x.to_bits();
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

/// Packed `(score, global index)` key: integer comparison gives score order, then index order.
trait Key: Ord + Copy {
    fn pack(bits: u32, index: u64) -> Self;
}

impl Key for u64 {
    fn pack(bits: u32, index: u64) -> Self {
        (u64::from(bits) << 32) | index
    }
}

impl Key for u128 {
    fn pack(bits: u32, index: u64) -> Self {
        (u128::from(bits) << 64) | u128::from(index)
    }
}

fn validate<S: AsRef<[f32]>>(scores: &[S], masks: &[Mask]) -> Result<(), SelectError> {
    if scores.len() != masks.len() {
        return Err(SelectError::TensorCount {
            scores: scores.len(),
            masks: masks.len(),
        });
    }
    for (t, (s, m)) in scores.iter().zip(masks).enumerate() {
        let s = s.as_ref();
        if s.len() != m.len() {
            return Err(SelectError::LengthMismatch {
                tensor: t,
                scores: s.len(),
                mask: m.len(),
            });
        }
        if let Some(index) = s.iter().zip(m.iter()).position(|(x, k)| k && x.is_nan()) {
            return Err(SelectError::NanScore { tensor: t, index });
        }
    }
    Ok(())
}

/// Keys of the kept entries of one tensor whose entries start at global index `base`.
fn kept_keys<'a, K: Key>(
    scores: &'a [f32],
    mask: &'a Mask,
    base: u64,
) -> impl Iterator<Item = (usize, K)> + 'a {
    scores
        .iter()
        .zip(mask.iter())
        .enumerate()
        .filter(|(_, (_, k))| *k)
        .map(move |(i, (&x, _))| (i, K::pack(ord_bits(x), base + i as u64)))
}

/// The `k`-th lowest key (`k >= 1`) among the kept entries of the `active` tensors; tensor `t`
/// spans global indices `offsets[t]..offsets[t + 1]`. Keys are unique, so exactly `k` kept
/// entries of the active tensors have a key `<=` the result.
fn kth_key<K: Key, S: AsRef<[f32]>>(
    scores: &[S],
    masks: &[Mask],
    active: &[bool],
    offsets: &[u64],
    k: usize,
) -> K {
    let alive: usize = masks
        .iter()
        .zip(active)
        .filter(|(_, a)| **a)
        .map(|(m, _)| m.kept())
        .sum();
    let mut keys: Vec<K> = Vec::with_capacity(alive);
    for (t, (s, m)) in scores.iter().zip(masks).enumerate() {
        if active[t] {
            keys.extend(kept_keys::<K>(s.as_ref(), m, offsets[t]).map(|(_, key)| key));
        }
    }
    *keys.select_nth_unstable(k - 1).1
}

/// Prunes the kept entries of one tensor whose key is `<= threshold`.
fn prune_up_to<K: Key>(scores: &[f32], mask: &mut Mask, base: u64, threshold: K) {
    let doomed: Vec<usize> = kept_keys::<K>(scores, mask, base)
        .filter(|&(_, key)| key <= threshold)
        .map(|(i, _)| i)
        .collect();
    for i in doomed {
        mask.prune(i);
    }
}

/// Global capped selection: removes the `k` kept entries with the lowest keys subject to each
/// tensor `t` losing at most `caps[t]` entries. Tensors that would exceed their cap are
/// saturated (lose exactly their `caps[t]` lowest) and the rest is re-selected among the others.
/// This converges in at most one round per tensor and equals the greedy "walk up the global
/// order, skipping tensors at their floor". Without binding caps it is one `select_nth` plus
/// one pass.
fn select_global<K: Key, S: AsRef<[f32]>>(
    scores: &[S],
    masks: &[Mask],
    k: usize,
    caps: &[usize],
) -> Vec<Mask> {
    let mut offsets = Vec::with_capacity(masks.len() + 1);
    offsets.push(0u64);
    for m in masks {
        offsets.push(offsets.last().unwrap() + m.len() as u64);
    }
    let mut out = masks.to_vec();
    let mut active: Vec<bool> = caps.iter().map(|&c| c > 0).collect();
    let mut k_left = k;
    while k_left > 0 {
        let threshold: K = kth_key(scores, masks, &active, &offsets, k_left);
        let may_bind = |t: usize| active[t] && caps[t] < masks[t].kept();
        let violators: Vec<usize> = (0..masks.len())
            .filter(|&t| may_bind(t))
            .filter(|&t| {
                let below = kept_keys::<K>(scores[t].as_ref(), &masks[t], offsets[t])
                    .filter(|&(_, key)| key <= threshold)
                    .count();
                below > caps[t]
            })
            .collect();
        if violators.is_empty() {
            for t in (0..masks.len()).filter(|&t| active[t]) {
                prune_up_to(scores[t].as_ref(), &mut out[t], offsets[t], threshold);
            }
            break;
        }
        for t in violators {
            let only: Vec<bool> = (0..masks.len()).map(|u| u == t).collect();
            let th: K = kth_key(scores, masks, &only, &offsets, caps[t]);
            prune_up_to(scores[t].as_ref(), &mut out[t], offsets[t], th);
            active[t] = false;
            k_left -= caps[t];
        }
    }
    out
}

fn fits_u64_keys(masks: &[Mask]) -> bool {
    masks.iter().map(Mask::len).sum::<usize>() as u64 <= u64::from(u32::MAX)
}

fn global_dispatch<S: AsRef<[f32]>>(
    scores: &[S],
    masks: &[Mask],
    k: usize,
    caps: &[usize],
) -> Vec<Mask> {
    if fits_u64_keys(masks) {
        select_global::<u64, S>(scores, masks, k, caps)
    } else {
        select_global::<u128, S>(scores, masks, k, caps)
    }
}

/// Removes the `k` lowest-scored kept entries across all tensors (one global threshold, no
/// floor). Errors on NaN scores of kept entries, length mismatches, or `k` > kept entries.
pub fn remove_lowest<S: AsRef<[f32]>>(
    scores: &[S],
    masks: &[Mask],
    k: usize,
) -> Result<Vec<Mask>, SelectError> {
    validate(scores, masks)?;
    let alive: usize = masks.iter().map(Mask::kept).sum();
    if k > alive {
        return Err(SelectError::TooMany {
            tensor: None,
            requested: k,
            alive,
        });
    }
    let caps: Vec<usize> = masks.iter().map(Mask::kept).collect();
    Ok(global_dispatch(scores, masks, k, &caps))
}

/// Removes the `k <= kept` lowest-scored kept entries of one tensor (ties → lower index).
fn remove_lowest_in(scores: &[f32], mask: &Mask, k: usize) -> Mask {
    let one = [mask.clone()];
    let caps = [mask.kept()]; // no binding cap: a single tensor is one global threshold
    global_dispatch(&[scores], &one, k, &caps).pop().unwrap()
}

/// One pruning step: `(scores, current masks, amount, scope) → new cumulative masks`.
///
/// Counts follow [`removal_count`] on original sizes; see [`Scope`] for the distribution.
/// Errors name the offending tensor: length mismatch, NaN score on a kept entry, a request
/// larger than the kept entries, or a global floor that cannot be honoured. A run converts
/// its whole schedule to counts once ([`super::RemovalPlan`]) and calls [`remove`] instead.
pub fn prune_step<S: AsRef<[f32]>>(
    scores: &[S],
    masks: &[Mask],
    amount: &StepAmount,
    scope: &Scope,
) -> Result<Vec<Mask>, SelectError> {
    validate(scores, masks)?;
    let sizes: Vec<usize> = masks.iter().map(Mask::len).collect();
    let removal = removal_for(&sizes, amount, scope)?;
    remove_checked(scores, masks, &removal, scope.min_density())
}

/// One pruning step by counts: removes what `removal` says among the kept entries, lowest
/// scores first. A global removal keeps at least `ceil(len·min_density)` entries of every
/// tensor (any `min_density > 0` keeps at least one); the total is unchanged, the excess moves
/// to other tensors. Errors as [`prune_step`].
pub fn remove<S: AsRef<[f32]>>(
    scores: &[S],
    masks: &[Mask],
    removal: &Removal,
    min_density: f64,
) -> Result<Vec<Mask>, SelectError> {
    validate(scores, masks)?;
    check_fraction("min_density", None, min_density)?;
    remove_checked(scores, masks, removal, min_density)
}

/// [`remove`] on inputs already validated.
fn remove_checked<S: AsRef<[f32]>>(
    scores: &[S],
    masks: &[Mask],
    removal: &Removal,
    min_density: f64,
) -> Result<Vec<Mask>, SelectError> {
    match removal {
        Removal::Global(k) => remove_global(scores, masks, *k, min_density),
        Removal::PerTensor(counts) => {
            if counts.len() != masks.len() {
                return Err(SelectError::ValueCount {
                    what: "removal counts",
                    expected: masks.len(),
                    got: counts.len(),
                });
            }
            for (t, (m, &k)) in masks.iter().zip(counts).enumerate() {
                if k > m.kept() {
                    return Err(SelectError::TooMany {
                        tensor: Some(t),
                        requested: k,
                        alive: m.kept(),
                    });
                }
            }
            Ok(scores
                .iter()
                .zip(masks)
                .zip(counts)
                .map(|((s, m), &k)| remove_lowest_in(s.as_ref(), m, k))
                .collect())
        }
    }
}

fn remove_global<S: AsRef<[f32]>>(
    scores: &[S],
    masks: &[Mask],
    k: usize,
    min_density: f64,
) -> Result<Vec<Mask>, SelectError> {
    let alive: usize = masks.iter().map(Mask::kept).sum();
    if k > alive {
        return Err(SelectError::TooMany {
            tensor: None,
            requested: k,
            alive,
        });
    }
    let caps: Vec<usize> = masks
        .iter()
        .map(|m| {
            m.kept()
                .saturating_sub((m.len() as f64 * min_density).ceil() as usize)
        })
        .collect();
    let removable: usize = caps.iter().sum();
    if k > removable {
        return Err(SelectError::FloorConflict {
            requested: k,
            removable,
            min_density,
        });
    }
    Ok(global_dispatch(scores, masks, k, &caps))
}

// ---------------------------------------------------------------------------------------------
// Structured channels

/// Removes `k` more channels with the lowest scores among the `alive` ones (ties → lower
/// channel index). Returns the new alive flags. Removing every channel is allowed here; a
/// caller that needs a working network must keep at least one.
pub fn select_channels(
    channel_scores: &[f32],
    alive: &[bool],
    k: usize,
) -> Result<Vec<bool>, SelectError> {
    let mask = [Mask::from_keep(alive.to_vec())];
    validate(&[channel_scores], &mask)?;
    if k > mask[0].kept() {
        return Err(SelectError::TooMany {
            tensor: None,
            requested: k,
            alive: mask[0].kept(),
        });
    }
    Ok(remove_lowest_in(channel_scores, &mask[0], k).into_vec())
}

/// Structured step for one layer: removes `floor(C_orig·v)` more channels, `C_orig = alive.len()`
/// (the reference's `int(C_orig * v)` in `ln_structured`).
pub fn prune_channels(
    channel_scores: &[f32],
    alive: &[bool],
    v: f64,
) -> Result<Vec<bool>, SelectError> {
    check_fraction("step value", None, v)?;
    select_channels(channel_scores, alive, removal_count(alive.len(), v))
}
