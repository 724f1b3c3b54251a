//! Scores → cumulative masks under a scope: a pure `(scores, masks, amount) → masks` step, as in
//! JaxPruner / OpenLTH.
//!
//! Reference semantics (digest §7.4, §9):
//! - A step value `v` is a fraction of the **original** count. The number of **additional**
//!   entries removed is `floor(N·v)` ([`removal_count`], Python's `int(N * v)`), with `N` the
//!   original total for [`Scope::Global`] and the tensor's original size otherwise.
//! - Removal is among still-kept entries only; masks are cumulative (pruned entries never return).
//! - Ties are broken deterministically: equal scores → lower `(tensor, element)` index pruned
//!   first, so runs are reproducible regardless of the selection algorithm.
//!
//! Global selection uses `select_nth_unstable` on packed integer keys (score bits + index), never
//! a full sort, so pruning ~11M weights takes a fraction of a second.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// Why a selection step or a sparsity check failed; tensors are named by their index.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SelectError {
    #[error("{scores} score tensors but {masks} masks")]
    TensorCount { scores: usize, masks: usize },
    #[error("tensor {tensor}: {scores} scores but mask has {mask} entries")]
    LengthMismatch {
        tensor: usize,
        scores: usize,
        mask: usize,
    },
    #[error("tensor {tensor}: NaN score at element {index}")]
    NanScore { tensor: usize, index: usize },
    #[error("{}asked to remove {requested} entries but only {alive} are still kept", tensor_prefix(.tensor))]
    TooMany {
        tensor: Option<usize>,
        requested: usize,
        alive: usize,
    },
    #[error(
        "cannot remove {requested} entries while keeping min_density {min_density} per tensor: only {removable} are removable"
    )]
    FloorConflict {
        requested: usize,
        removable: usize,
        min_density: f64,
    },
    #[error("{}{what} must be a finite fraction in [0, 1], got {value}", tensor_prefix(.tensor))]
    BadFraction {
        what: &'static str,
        tensor: Option<usize>,
        value: f64,
    },
    #[error("{what} has {got} per-tensor values for {expected} tensors")]
    ValueCount {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("global scope needs a uniform step amount (one threshold across tensors)")]
    GlobalNeedsUniform,
    #[error(
        "{}realised sparsity differs from plan: expected {expected_pruned} pruned of {total}, found {actual_pruned}",
        tensor_prefix(.tensor)
    )]
    SparsityMismatch {
        tensor: Option<usize>,
        expected_pruned: usize,
        actual_pruned: usize,
        total: usize,
    },
    #[error("shape {shape:?} (dim {dim}) does not fit {channels} channels / {len} entries")]
    ShapeMismatch {
        shape: Vec<usize>,
        dim: usize,
        channels: usize,
        len: usize,
    },
    #[error("invalid serialized mask: {0}")]
    BadEncoding(String),
}

fn tensor_prefix(tensor: &Option<usize>) -> String {
    tensor.map(|t| format!("tensor {t}: ")).unwrap_or_default()
}

/// Number of additional entries a step of value `v` removes from `n` original entries:
/// `floor(n·v)`, computed in `f64` exactly like the reference's `int(n * v)`.
pub fn removal_count(n: usize, v: f64) -> usize {
    (n as f64 * v).floor() as usize
}

fn check_fraction(
    what: &'static str,
    tensor: Option<usize>,
    value: f64,
) -> Result<(), SelectError> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(SelectError::BadFraction {
            what,
            tensor,
            value,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Mask

/// Keep-flags of one tensor (`true` = kept). Stored as `Vec<bool>` for O(1) access and cheap
/// conversion to a framework tensor; serialized compactly as `{len, words}` with bit `i` of
/// `words[i / 64]` = entry `i` (little-endian bit order), ~1.4 MB for 11M entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    keep: Vec<bool>,
    kept: usize,
}

impl Mask {
    /// All `n` entries kept.
    pub fn dense(n: usize) -> Self {
        Self {
            keep: vec![true; n],
            kept: n,
        }
    }

    pub fn from_keep(keep: Vec<bool>) -> Self {
        let kept = keep.iter().filter(|&&k| k).count();
        Self { keep, kept }
    }

    /// Expands per-channel keep-flags along `dim` of `shape` (row-major) to an element mask.
    pub fn from_channels(
        keep_channels: &[bool],
        shape: &[usize],
        dim: usize,
    ) -> Result<Self, SelectError> {
        let len: usize = shape.iter().product();
        let bad = || SelectError::ShapeMismatch {
            shape: shape.to_vec(),
            dim,
            channels: keep_channels.len(),
            len,
        };
        if dim >= shape.len() || shape[dim] != keep_channels.len() {
            return Err(bad());
        }
        let outer: usize = shape[..dim].iter().product();
        let inner: usize = shape[dim + 1..].iter().product();
        let mut keep = Vec::with_capacity(len);
        for _ in 0..outer {
            for &k in keep_channels {
                keep.extend(std::iter::repeat_n(k, inner));
            }
        }
        Ok(Self::from_keep(keep))
    }

    pub fn len(&self) -> usize {
        self.keep.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keep.is_empty()
    }

    pub fn kept(&self) -> usize {
        self.kept
    }

    pub fn pruned(&self) -> usize {
        self.keep.len() - self.kept
    }

    /// Kept fraction; an empty mask counts as fully dense (nothing was pruned).
    pub fn density(&self) -> f64 {
        if self.keep.is_empty() {
            1.0
        } else {
            self.kept as f64 / self.keep.len() as f64
        }
    }

    pub fn sparsity(&self) -> f64 {
        1.0 - self.density()
    }

    pub fn is_kept(&self, i: usize) -> bool {
        self.keep[i]
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = bool> + '_ {
        self.keep.iter().copied()
    }

    pub fn as_slice(&self) -> &[bool] {
        &self.keep
    }

    pub fn into_vec(self) -> Vec<bool> {
        self.keep
    }

    /// `1.0` / `0.0` per entry, ready to multiply into a weight tensor.
    pub fn to_f32(&self) -> Vec<f32> {
        self.keep
            .iter()
            .map(|&k| if k { 1.0 } else { 0.0 })
            .collect()
    }

    /// Zeroes pruned entries of `w` in place.
    pub fn apply(&self, w: &mut [f32]) {
        assert_eq!(w.len(), self.keep.len(), "mask/weight length mismatch");
        for (x, &k) in w.iter_mut().zip(&self.keep) {
            if !k {
                *x = 0.0;
            }
        }
    }

    /// True when every entry kept here is kept in `older` (cumulative masks only shrink).
    pub fn is_subset_of(&self, older: &Mask) -> bool {
        self.keep.len() == older.keep.len()
            && self
                .keep
                .iter()
                .zip(&older.keep)
                .all(|(&new, &old)| old || !new)
    }

    fn prune(&mut self, i: usize) {
        debug_assert!(self.keep[i], "pruning an already pruned entry");
        self.keep[i] = false;
        self.kept -= 1;
    }
}

#[derive(Serialize, Deserialize)]
struct MaskRepr {
    len: usize,
    words: Vec<u64>,
}

impl Serialize for Mask {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut words = vec![0u64; self.keep.len().div_ceil(64)];
        for (i, _) in self.keep.iter().enumerate().filter(|(_, k)| **k) {
            words[i / 64] |= 1 << (i % 64);
        }
        MaskRepr {
            len: self.keep.len(),
            words,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Mask {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = MaskRepr::deserialize(d)?;
        Mask::try_from(r).map_err(serde::de::Error::custom)
    }
}

impl TryFrom<MaskRepr> for Mask {
    type Error = SelectError;

    fn try_from(r: MaskRepr) -> Result<Self, SelectError> {
        if r.words.len() != r.len.div_ceil(64) {
            return Err(SelectError::BadEncoding(format!(
                "{} words for {} entries",
                r.words.len(),
                r.len
            )));
        }
        if !r.len.is_multiple_of(64) && r.words.last().is_some_and(|w| w >> (r.len % 64) != 0) {
            return Err(SelectError::BadEncoding("bits set past len".into()));
        }
        Ok(Mask::from_keep(
            (0..r.len)
                .map(|i| r.words[i / 64] >> (i % 64) & 1 == 1)
                .collect(),
        ))
    }
}

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

/// One step's value(s), each a fraction of the original count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StepAmount {
    /// Same value for every tensor (broadcast); the only form valid under [`Scope::Global`].
    Uniform(f64),
    /// One value per tensor (e.g. the reference's `ManualStepScheduler`).
    PerLayer(Vec<f64>),
}

/// Per-tensor removal counts for one step (global: `None`, since only the total is fixed).
fn per_tensor_counts(
    sizes: &[usize],
    amount: &StepAmount,
    scope: &Scope,
) -> Result<Option<Vec<usize>>, SelectError> {
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
                StepAmount::Uniform(_) => Ok(None),
                StepAmount::PerLayer(_) => Err(SelectError::GlobalNeedsUniform),
            }
        }
        Scope::LayerWise => Ok(Some(
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
            Ok(Some(
                sizes
                    .iter()
                    .zip(values.iter().zip(ratios))
                    .map(|(&n, (&v, &r))| removal_count(n, v * r))
                    .collect(),
            ))
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
/// larger than the kept entries, or a global floor that cannot be honoured.
pub fn prune_step<S: AsRef<[f32]>>(
    scores: &[S],
    masks: &[Mask],
    amount: &StepAmount,
    scope: &Scope,
) -> Result<Vec<Mask>, SelectError> {
    validate(scores, masks)?;
    let sizes: Vec<usize> = masks.iter().map(Mask::len).collect();
    match per_tensor_counts(&sizes, amount, scope)? {
        None => {
            let (StepAmount::Uniform(v), Scope::Global { min_density }) = (amount, scope) else {
                unreachable!("per_tensor_counts returns None only for global + uniform");
            };
            let k = removal_count(sizes.iter().sum(), *v);
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
                    min_density: *min_density,
                });
            }
            Ok(global_dispatch(scores, masks, k, &caps))
        }
        Some(counts) => {
            for (t, (m, &k)) in masks.iter().zip(&counts).enumerate() {
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
                .map(|((s, m), k)| remove_lowest_in(s.as_ref(), m, k))
                .collect())
        }
    }
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

// ---------------------------------------------------------------------------------------------
// Realised-sparsity bookkeeping

/// Realised sparsity of a set of masks (report per tensor too, since global ranking can
/// collapse single layers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SparsityReport {
    /// `(kept, total)` per tensor.
    pub per_tensor: Vec<(usize, usize)>,
    pub kept: usize,
    pub total: usize,
    /// Pruned fraction of the masked entries (the reference's `pruned_precent / 100`).
    pub sparsity: f64,
}

impl SparsityReport {
    pub fn from_masks(masks: &[Mask]) -> Self {
        let per_tensor: Vec<(usize, usize)> = masks.iter().map(|m| (m.kept(), m.len())).collect();
        let kept = per_tensor.iter().map(|p| p.0).sum();
        let total = per_tensor.iter().map(|p| p.1).sum();
        let sparsity = if total == 0 {
            0.0
        } else {
            (total - kept) as f64 / total as f64
        };
        Self {
            per_tensor,
            kept,
            total,
            sparsity,
        }
    }

    pub fn pruned(&self) -> usize {
        self.total - self.kept
    }

    /// Pruned fraction of a larger parameter count (the reference's `model_pruned_precent`,
    /// counting unmasked parameters such as BatchNorm as dense).
    pub fn sparsity_of(&self, n_params: usize) -> f64 {
        if n_params == 0 {
            0.0
        } else {
            self.pruned() as f64 / n_params as f64
        }
    }
}

/// Ledger of what the steps taken so far should have removed, checked against the masks after
/// every step (prior-art pain point: realised ≠ requested sparsity). Per-tensor counts are
/// checked while all recorded steps were per-tensor; once a global step is recorded only the
/// total is fixed (a floor may move entries between tensors).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SparsityPlan {
    sizes: Vec<usize>,
    expected_total: usize,
    expected_per_tensor: Option<Vec<usize>>,
}

impl SparsityPlan {
    /// A plan starting from dense tensors of the given original sizes.
    pub fn new(sizes: Vec<usize>) -> Self {
        let expected_per_tensor = Some(vec![0; sizes.len()]);
        Self {
            sizes,
            expected_total: 0,
            expected_per_tensor,
        }
    }

    /// Adds one step's expected removals (same validation as [`prune_step`]).
    pub fn record(&mut self, amount: &StepAmount, scope: &Scope) -> Result<(), SelectError> {
        match per_tensor_counts(&self.sizes, amount, scope)? {
            None => {
                let StepAmount::Uniform(v) = amount else {
                    unreachable!("global needs uniform")
                };
                self.expected_total += removal_count(self.sizes.iter().sum(), *v);
                self.expected_per_tensor = None;
            }
            Some(counts) => {
                self.expected_total += counts.iter().sum::<usize>();
                if let Some(e) = &mut self.expected_per_tensor {
                    e.iter_mut().zip(counts).for_each(|(e, c)| *e += c);
                }
            }
        }
        Ok(())
    }

    /// Expected number of pruned entries in total.
    pub fn expected_pruned(&self) -> usize {
        self.expected_total
    }

    /// Checks the masks against the plan exactly; returns the realised report on success.
    pub fn verify(&self, masks: &[Mask]) -> Result<SparsityReport, SelectError> {
        if masks.len() != self.sizes.len() {
            return Err(SelectError::ValueCount {
                what: "masks",
                expected: self.sizes.len(),
                got: masks.len(),
            });
        }
        for (t, (m, &n)) in masks.iter().zip(&self.sizes).enumerate() {
            if m.len() != n {
                return Err(SelectError::LengthMismatch {
                    tensor: t,
                    scores: n,
                    mask: m.len(),
                });
            }
        }
        if let Some(expected) = &self.expected_per_tensor {
            for (t, (m, &e)) in masks.iter().zip(expected).enumerate() {
                if m.pruned() != e {
                    return Err(SelectError::SparsityMismatch {
                        tensor: Some(t),
                        expected_pruned: e,
                        actual_pruned: m.pruned(),
                        total: m.len(),
                    });
                }
            }
        }
        let report = SparsityReport::from_masks(masks);
        if report.pruned() != self.expected_total {
            return Err(SelectError::SparsityMismatch {
                tensor: None,
                expected_pruned: self.expected_total,
                actual_pruned: report.pruned(),
                total: report.total,
            });
        }
        Ok(report)
    }
}

/// Exact check for global unstructured pruning after the steps `step_values`: the number of
/// pruned entries must be `Σ_i floor(N_total·v_i)`. (Stricter than the reference's
/// `|pruned% − Σv·100| < 0.01`, which the floor rounding makes approximate.)
pub fn verify_plan(step_values: &[f64], masks: &[Mask]) -> Result<SparsityReport, SelectError> {
    let mut plan = SparsityPlan::new(masks.iter().map(Mask::len).collect());
    for &v in step_values {
        plan.record(&StepAmount::Uniform(v), &Scope::global())?;
    }
    plan.verify(masks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dense(sizes: &[usize]) -> Vec<Mask> {
        sizes.iter().map(|&n| Mask::dense(n)).collect()
    }

    fn keeps(masks: &[Mask]) -> Vec<Vec<bool>> {
        masks.iter().map(|m| m.as_slice().to_vec()).collect()
    }

    const T: bool = true;
    const F: bool = false;

    #[test]
    fn mask_basics_and_serde() {
        let m = Mask::from_keep(vec![T, F, T, T]);
        assert_eq!((m.len(), m.kept(), m.pruned()), (4, 3, 1));
        assert_eq!(m.density(), 0.75);
        assert_eq!(m.to_f32(), vec![1.0, 0.0, 1.0, 1.0]);
        let mut w = vec![1.0, 2.0, 3.0, 4.0];
        m.apply(&mut w);
        assert_eq!(w, vec![1.0, 0.0, 3.0, 4.0]);
        assert!(m.is_subset_of(&Mask::dense(4)));
        assert!(!Mask::dense(4).is_subset_of(&m));
        assert_eq!(Mask::dense(0).density(), 1.0);

        for n in [0usize, 1, 63, 64, 65, 130] {
            let m = Mask::from_keep((0..n).map(|i| i % 3 != 1).collect());
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(serde_json::from_str::<Mask>(&json).unwrap(), m);
        }
        assert_eq!(
            serde_json::to_string(&Mask::from_keep(vec![T, F, T])).unwrap(),
            r#"{"len":3,"words":[5]}"#
        );
        assert!(serde_json::from_str::<Mask>(r#"{"len":3,"words":[13]}"#).is_err());
        assert!(serde_json::from_str::<Mask>(r#"{"len":65,"words":[1]}"#).is_err());
    }

    #[test]
    fn mask_from_channels() {
        // shape [2, 3] along dim 1: keep channels 0 and 2 in each row.
        let m = Mask::from_channels(&[T, F, T], &[2, 3], 1).unwrap();
        assert_eq!(m.as_slice(), &[T, F, T, T, F, T]);
        // shape [2, 2, 2] along dim 0.
        let m = Mask::from_channels(&[F, T], &[2, 2, 2], 0).unwrap();
        assert_eq!(m.as_slice(), &[F, F, F, F, T, T, T, T]);
        assert!(Mask::from_channels(&[T, F], &[2, 3], 1).is_err());
        assert!(Mask::from_channels(&[T, F], &[2, 3], 2).is_err());
    }

    #[test]
    fn removal_count_is_python_int() {
        assert_eq!(removal_count(10, 0.25), 2);
        assert_eq!(removal_count(10, 0.2), 2);
        assert_eq!(removal_count(11_164_362, 0.5), 5_582_181);
        assert_eq!(removal_count(7, 1.0), 7);
        assert_eq!(removal_count(7, 0.0), 0);
    }

    // Tensor A is small-valued, tensor B large-valued: global pruning empties A first, layer-wise
    // takes the same fraction from each.
    fn two_tensors() -> (Vec<Vec<f32>>, Vec<Mask>) {
        (
            vec![vec![0.1, 0.4, 0.2, 0.3], vec![5.0, 1.0, 3.0, 2.0]],
            dense(&[4, 4]),
        )
    }

    #[test]
    fn global_vs_layerwise_differ() {
        let (s, m) = two_tensors();
        let g = prune_step(&s, &m, &StepAmount::Uniform(0.5), &Scope::global()).unwrap();
        assert_eq!(keeps(&g), vec![vec![F, F, F, F], vec![T, T, T, T]]);
        let l = prune_step(&s, &m, &StepAmount::Uniform(0.5), &Scope::LayerWise).unwrap();
        assert_eq!(keeps(&l), vec![vec![F, T, F, T], vec![T, F, T, F]]);
    }

    #[test]
    fn per_layer_amounts_and_ratios() {
        let (s, m) = two_tensors();
        let l = prune_step(
            &s,
            &m,
            &StepAmount::PerLayer(vec![0.25, 0.75]),
            &Scope::LayerWise,
        )
        .unwrap();
        assert_eq!(keeps(&l), vec![vec![F, T, T, T], vec![T, F, F, F]]);
        // ratios [0.5, 1.0] × v = 0.5 → floor(4·0.25) = 1, floor(4·0.5) = 2.
        let scope = Scope::PerLayer {
            ratios: vec![0.5, 1.0],
        };
        let p = prune_step(&s, &m, &StepAmount::Uniform(0.5), &scope).unwrap();
        assert_eq!(keeps(&p), vec![vec![F, T, T, T], vec![T, F, T, F]]);
        // second step of the same schedule reaches the ratios exactly.
        let p2 = prune_step(&s, &p, &StepAmount::Uniform(0.5), &scope).unwrap();
        assert_eq!(
            p2.iter().map(Mask::sparsity).collect::<Vec<_>>(),
            vec![0.5, 1.0]
        );
        assert_eq!(
            prune_step(
                &s,
                &m,
                &StepAmount::PerLayer(vec![0.5, 0.5]),
                &Scope::global()
            ),
            Err(SelectError::GlobalNeedsUniform)
        );
        assert!(matches!(
            prune_step(&s, &m, &StepAmount::PerLayer(vec![0.5]), &Scope::LayerWise),
            Err(SelectError::ValueCount { .. })
        ));
    }

    #[test]
    fn cumulative_masks_never_regrow() {
        let (mut s, m) = two_tensors();
        let m1 = prune_step(&s, &m, &StepAmount::Uniform(0.25), &Scope::global()).unwrap();
        assert_eq!(keeps(&m1), vec![vec![F, T, F, T], vec![T, T, T, T]]);
        // Scores of pruned entries are now the largest: they must still not come back, and
        // the next 2 lowest *kept* entries go.
        s[0][0] = 100.0;
        s[0][2] = 100.0;
        let m2 = prune_step(&s, &m1, &StepAmount::Uniform(0.25), &Scope::global()).unwrap();
        assert_eq!(keeps(&m2), vec![vec![F, F, F, F], vec![T, T, T, T]]);
        assert!(m2.iter().zip(&m1).all(|(n, o)| n.is_subset_of(o)));
    }

    #[test]
    fn min_density_floor_prevents_collapse() {
        let (s, m) = two_tensors();
        // floor: ceil(4·0.5) = 2 kept in A, so A loses 2 and B loses 2 (its lowest: 1.0, 2.0).
        let g = prune_step(
            &s,
            &m,
            &StepAmount::Uniform(0.5),
            &Scope::Global { min_density: 0.5 },
        )
        .unwrap();
        assert_eq!(keeps(&g), vec![vec![F, T, F, T], vec![T, F, T, F]]);
        // Any positive floor keeps at least one entry.
        let g = prune_step(
            &s,
            &m,
            &StepAmount::Uniform(0.5),
            &Scope::Global { min_density: 1e-9 },
        )
        .unwrap();
        assert_eq!(keeps(&g), vec![vec![F, T, F, F], vec![T, F, T, T]]);
        // Floors that cannot be honoured are an error, not a silent shortfall.
        assert!(matches!(
            prune_step(
                &s,
                &m,
                &StepAmount::Uniform(0.75),
                &Scope::Global { min_density: 0.5 }
            ),
            Err(SelectError::FloorConflict {
                requested: 6,
                removable: 4,
                ..
            })
        ));
    }

    #[test]
    fn floor_saturation_cascades() {
        // Three tensors; the lowest scores are all in A, then B. A floor of 50% makes A and
        // then B saturate, pushing the rest into C.
        let s = vec![vec![0.0; 4], vec![1.0; 4], vec![2.0, 3.0, 4.0, 5.0]];
        let g = prune_step(
            &s,
            &dense(&[4, 4, 4]),
            &StepAmount::Uniform(0.5),
            &Scope::Global { min_density: 0.5 },
        )
        .unwrap();
        assert_eq!(
            keeps(&g),
            vec![vec![F, F, T, T], vec![F, F, T, T], vec![F, F, T, T]]
        );
    }

    #[test]
    fn ties_break_by_tensor_then_index() {
        let s = vec![vec![1.0; 3], vec![1.0; 3]];
        let g = prune_step(
            &s,
            &dense(&[3, 3]),
            &StepAmount::Uniform(0.5),
            &Scope::global(),
        )
        .unwrap();
        assert_eq!(keeps(&g), vec![vec![F, F, F], vec![T, T, T]]);
        let g = remove_lowest(&s, &dense(&[3, 3]), 4).unwrap();
        assert_eq!(keeps(&g), vec![vec![F, F, F], vec![F, T, T]]);
        // -0.0 and 0.0 tie; index decides.
        let g = remove_lowest(&[vec![0.0, -0.0]], &dense(&[2]), 1).unwrap();
        assert_eq!(keeps(&g), vec![vec![F, T]]);
        // Negative and infinite scores order correctly.
        let g = remove_lowest(
            &[vec![f32::INFINITY, -3.0, 2.0, -f32::INFINITY]],
            &dense(&[4]),
            2,
        )
        .unwrap();
        assert_eq!(keeps(&g), vec![vec![T, F, T, F]]);
    }

    #[test]
    fn errors_name_the_tensor() {
        let s = vec![vec![1.0, 2.0], vec![f32::NAN, 1.0]];
        assert_eq!(
            remove_lowest(&s, &dense(&[2, 2]), 1),
            Err(SelectError::NanScore {
                tensor: 1,
                index: 0
            })
        );
        // NaN on an already-pruned entry is ignored.
        let masks = vec![Mask::dense(2), Mask::from_keep(vec![F, T])];
        assert!(remove_lowest(&s, &masks, 1).is_ok());
        assert_eq!(
            remove_lowest(&[vec![1.0, 2.0], vec![1.0]], &dense(&[2, 2]), 1),
            Err(SelectError::LengthMismatch {
                tensor: 1,
                scores: 1,
                mask: 2
            })
        );
        assert!(matches!(
            remove_lowest(&[vec![1.0]], &dense(&[1, 1]), 1),
            Err(SelectError::TensorCount { .. })
        ));
        assert_eq!(
            remove_lowest(&[vec![1.0, 2.0]], &[Mask::from_keep(vec![F, T])], 2),
            Err(SelectError::TooMany {
                tensor: None,
                requested: 2,
                alive: 1
            })
        );
        let m = vec![Mask::dense(2), Mask::from_keep(vec![F, T])];
        assert_eq!(
            prune_step(
                &[vec![1.0, 2.0], vec![1.0, 2.0]],
                &m,
                &StepAmount::Uniform(1.0),
                &Scope::LayerWise
            ),
            Err(SelectError::TooMany {
                tensor: Some(1),
                requested: 2,
                alive: 1
            })
        );
        let e = prune_step(
            &[vec![1.0]],
            &dense(&[1]),
            &StepAmount::Uniform(1.5),
            &Scope::LayerWise,
        )
        .unwrap_err();
        assert!(matches!(e, SelectError::BadFraction { .. }));
        assert!(e.to_string().contains("1.5"));
        assert!(
            prune_step(
                &[vec![1.0]],
                &dense(&[1]),
                &StepAmount::Uniform(f64::NAN),
                &Scope::global()
            )
            .is_err()
        );
        assert_eq!(
            SelectError::NanScore {
                tensor: 3,
                index: 7
            }
            .to_string(),
            "tensor 3: NaN score at element 7"
        );
    }

    #[test]
    fn exact_floor_counts_over_steps() {
        let sizes = [7usize, 13, 101];
        let n: usize = sizes.iter().sum();
        let s: Vec<Vec<f32>> = sizes
            .iter()
            .enumerate()
            .map(|(t, &k)| (0..k).map(|i| ((i * 37 + t * 11) % 17) as f32).collect())
            .collect();
        let steps = [0.3, 0.15, 0.1, 0.07, 0.0, 0.2];
        let mut masks = dense(&sizes);
        let mut expected = 0;
        for (i, &v) in steps.iter().enumerate() {
            masks = prune_step(&s, &masks, &StepAmount::Uniform(v), &Scope::global()).unwrap();
            expected += removal_count(n, v);
            let report = verify_plan(&steps[..=i], &masks).unwrap();
            assert_eq!(report.pruned(), expected);
        }
        // A wrong plan is reported with the numbers.
        let err = verify_plan(&steps[..2], &masks).unwrap_err();
        assert!(
            matches!(err, SelectError::SparsityMismatch { tensor: None, .. }),
            "{err}"
        );
    }

    #[test]
    fn plan_ledger_checks_per_tensor() {
        let (s, m) = two_tensors();
        let mut plan = SparsityPlan::new(vec![4, 4]);
        let amount = StepAmount::PerLayer(vec![0.25, 0.5]);
        let m1 = prune_step(&s, &m, &amount, &Scope::LayerWise).unwrap();
        plan.record(&amount, &Scope::LayerWise).unwrap();
        assert_eq!(plan.verify(&m1).unwrap().per_tensor, vec![(3, 4), (2, 4)]);
        // Same total, wrong distribution → names tensor 0.
        let wrong = vec![
            Mask::from_keep(vec![F, F, T, T]),
            Mask::from_keep(vec![T, T, T, F]),
        ];
        assert!(matches!(
            plan.verify(&wrong),
            Err(SelectError::SparsityMismatch {
                tensor: Some(0),
                ..
            })
        ));
        // After a global step only the total is checked.
        plan.record(&StepAmount::Uniform(0.25), &Scope::global())
            .unwrap();
        let m2 = prune_step(&s, &m1, &StepAmount::Uniform(0.25), &Scope::global()).unwrap();
        assert_eq!(plan.verify(&m2).unwrap().pruned(), 5);
        assert_eq!(plan.expected_pruned(), 5);
    }

    #[test]
    fn report_numbers() {
        let r = SparsityReport::from_masks(&[
            Mask::from_keep(vec![T, F]),
            Mask::from_keep(vec![F, F, T]),
        ]);
        assert_eq!((r.kept, r.total, r.pruned()), (2, 5, 3));
        assert!((r.sparsity - 0.6).abs() < 1e-12);
        assert!((r.sparsity_of(10) - 0.3).abs() < 1e-12);
    }

    #[test]
    fn channel_selection() {
        let scores = [3.0, 1.0, 2.0, 1.0, 5.0];
        let alive = [T, T, T, F, T];
        assert_eq!(
            select_channels(&scores, &alive, 2).unwrap(),
            vec![T, F, F, F, T]
        );
        // floor(5 · 0.5) = 2 more channels.
        assert_eq!(
            prune_channels(&scores, &alive, 0.5).unwrap(),
            vec![T, F, F, F, T]
        );
        assert_eq!(
            prune_channels(&scores, &alive, 0.1).unwrap(),
            alive.to_vec()
        );
        assert!(matches!(
            select_channels(&scores, &alive, 5),
            Err(SelectError::TooMany { .. })
        ));
        assert!(select_channels(&scores, &alive[..4], 1).is_err());
    }

    #[test]
    fn scope_and_amount_serde() {
        let g: Scope = serde_json::from_str(r#"{"kind":"global"}"#).unwrap();
        assert_eq!(g, Scope::global());
        let g: Scope = serde_json::from_str(r#"{"kind":"global","min_density":0.01}"#).unwrap();
        assert_eq!(g, Scope::Global { min_density: 0.01 });
        let l: Scope = serde_json::from_str(r#"{"kind":"layer-wise"}"#).unwrap();
        assert_eq!(l, Scope::LayerWise);
        let p: Scope = serde_json::from_str(r#"{"kind":"per-layer","ratios":[0.2,0.5]}"#).unwrap();
        assert_eq!(
            p,
            Scope::PerLayer {
                ratios: vec![0.2, 0.5]
            }
        );
        assert!(serde_json::from_str::<Scope>(r#"{"kind":"global","min_desnity":0.01}"#).is_err());
        assert_eq!(
            serde_json::from_str::<StepAmount>("0.2").unwrap(),
            StepAmount::Uniform(0.2)
        );
        assert_eq!(
            serde_json::from_str::<StepAmount>("[0.1,0.3]").unwrap(),
            StepAmount::PerLayer(vec![0.1, 0.3])
        );
    }

    #[test]
    fn quick_100k_global_step() {
        // Two tensors of 60k + 40k with pseudo-random scores; just correctness at scale.
        let mut state = 0x1234_5678u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32
        };
        let s: Vec<Vec<f32>> = vec![
            (0..60_000).map(|_| next()).collect(),
            (0..40_000).map(|_| next()).collect(),
        ];
        let mut masks = dense(&[60_000, 40_000]);
        for v in [0.5, 0.25, 0.125] {
            let new = prune_step(&s, &masks, &StepAmount::Uniform(v), &Scope::global()).unwrap();
            assert!(new.iter().zip(&masks).all(|(n, o)| n.is_subset_of(o)));
            masks = new;
        }
        let r = verify_plan(&[0.5, 0.25, 0.125], &masks).unwrap();
        assert_eq!(r.pruned(), 87_500);
        // Every kept score >= every pruned score (one global threshold).
        let max_pruned = s
            .iter()
            .zip(&masks)
            .flat_map(|(s, m)| s.iter().zip(m.iter()).filter(|p| !p.1).map(|p| *p.0))
            .fold(f32::MIN, f32::max);
        let min_kept = s
            .iter()
            .zip(&masks)
            .flat_map(|(s, m)| s.iter().zip(m.iter()).filter(|p| p.1).map(|p| *p.0))
            .fold(f32::MAX, f32::min);
        assert!(max_pruned <= min_kept);
    }

    /// Brute-force reference: sort all kept (score, tensor, index) and take the lowest k.
    fn brute_global(scores: &[Vec<f32>], masks: &[Mask], k: usize) -> Vec<Vec<bool>> {
        let caps: Vec<usize> = masks.iter().map(Mask::kept).collect();
        brute_capped(scores, masks, k, &caps)
    }

    /// Greedy in ascending (score, tensor, index) order, skipping tensors at their cap.
    fn brute_capped(
        scores: &[Vec<f32>],
        masks: &[Mask],
        k: usize,
        caps: &[usize],
    ) -> Vec<Vec<bool>> {
        let mut all: Vec<(f32, usize, usize)> = Vec::new();
        for (t, (s, m)) in scores.iter().zip(masks).enumerate() {
            all.extend(
                s.iter()
                    .zip(m.iter())
                    .enumerate()
                    .filter(|(_, (_, k))| *k)
                    .map(|(i, (&x, _))| (x, t, i)),
            );
        }
        all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let mut out = keeps(masks);
        let mut taken = vec![0usize; masks.len()];
        for &(_, t, i) in all
            .iter()
            .filter(|&&(_, t, _)| {
                let ok = taken[t] < caps[t];
                taken[t] += usize::from(ok);
                ok
            })
            .take(k)
        {
            out[t][i] = false;
        }
        out
    }

    proptest! {
        #[test]
        fn prop_global_steps_match_plan(
            scores in prop::collection::vec(prop::collection::vec(0u8..20, 1..40), 1..5),
            steps in prop::collection::vec(0.0f64..0.3, 1..5),
        ) {
            // Coarse integer-valued scores force many ties.
            let scores: Vec<Vec<f32>> =
                scores.into_iter().map(|s| s.into_iter().map(f32::from).collect()).collect();
            let sizes: Vec<usize> = scores.iter().map(Vec::len).collect();
            let n: usize = sizes.iter().sum();
            let mut masks = dense(&sizes);
            for (i, &v) in steps.iter().enumerate() {
                let expected: usize = steps[..=i].iter().map(|&v| removal_count(n, v)).sum();
                let result = prune_step(&scores, &masks, &StepAmount::Uniform(v), &Scope::global());
                if expected > n {
                    // Steps may sum past 1: asking for more than is left is an error.
                    let is_too_many =
                        matches!(result, Err(SelectError::TooMany { tensor: None, .. }));
                    prop_assert!(is_too_many);
                    break;
                }
                let new = result.unwrap();
                prop_assert_eq!(keeps(&new), brute_global(&scores, &masks, removal_count(n, v)));
                prop_assert!(new.iter().zip(&masks).all(|(a, b)| a.is_subset_of(b)));
                masks = new;
                prop_assert_eq!(SparsityReport::from_masks(&masks).pruned(), expected);
                prop_assert!(verify_plan(&steps[..=i], &masks).is_ok());
            }
        }

        #[test]
        fn prop_layerwise_and_floor(
            scores in prop::collection::vec(prop::collection::vec(-5.0f32..5.0, 1..30), 1..5),
            steps in prop::collection::vec(0.0f64..0.25, 1..4),
            min_density in 0.0f64..0.5,
        ) {
            let sizes: Vec<usize> = scores.iter().map(Vec::len).collect();
            let mut lw = dense(&sizes);
            let mut gl = dense(&sizes);
            let mut plan = SparsityPlan::new(sizes.clone());
            let floor_scope = Scope::Global { min_density };
            for &v in &steps {
                let amount = StepAmount::Uniform(v);
                let new = prune_step(&scores, &lw, &amount, &Scope::LayerWise).unwrap();
                prop_assert!(new.iter().zip(&lw).all(|(a, b)| a.is_subset_of(b)));
                lw = new;
                plan.record(&amount, &Scope::LayerWise).unwrap();
                prop_assert!(plan.verify(&lw).is_ok());
                match prune_step(&scores, &gl, &amount, &floor_scope) {
                    Ok(new) => {
                        let k = removal_count(sizes.iter().sum(), v);
                        let floor = |m: &Mask| (m.len() as f64 * min_density).ceil() as usize;
                        let caps: Vec<usize> =
                            gl.iter().map(|m| m.kept().saturating_sub(floor(m))).collect();
                        prop_assert_eq!(keeps(&new), brute_capped(&scores, &gl, k, &caps));
                        prop_assert!(new.iter().zip(&gl).all(|(a, b)| a.is_subset_of(b)));
                        let before = SparsityReport::from_masks(&gl).pruned();
                        prop_assert_eq!(SparsityReport::from_masks(&new).pruned() - before, k);
                        gl = new;
                    }
                    Err(e) => prop_assert!(matches!(e, SelectError::FloorConflict { .. }), "{e}"),
                }
            }
        }
    }
}
