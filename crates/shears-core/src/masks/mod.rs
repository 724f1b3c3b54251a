//! Masks over prunable tensors and how a step chooses them: the pure
//! `(scores, masks, removal) → masks` step of JaxPruner / OpenLTH, plus the plan of removal
//! counts it executes (docs/design.md#floor-rounding, #cumulative-masks, #global-and-layer-wise-scope).
//!
//! - A step value `v` is a fraction of the **original** count; the number of **additional**
//!   entries a step removes is `floor(N·v)` ([`removal_count`], Python's `int(N * v)`), `N`
//!   being the original total (global scope) or the tensor's original size (otherwise).
//!   [`RemovalPlan`] does this conversion once per run.
//! - Removal is among still-kept entries only; masks are cumulative (pruned entries never return).
//! - Ties are broken deterministically: equal scores → lower `(tensor, element)` index pruned
//!   first, so runs are reproducible regardless of the selection algorithm.
//!
//! ```
//! use shears_core::masks::{Mask, Removal, remove};
//!
//! let scores = vec![vec![0.5f32, 3.0, 0.1], vec![2.0, 0.2]];
//! let dense = vec![Mask::dense(3), Mask::dense(2)];
//! // Two entries under one global threshold (magnitude scores are |w|, here given directly).
//! let masks = remove(&scores, &dense, &Removal::Global(2), 0.0).unwrap();
//! assert_eq!(masks[0].as_slice(), &[true, true, false]);
//! assert_eq!(masks[1].as_slice(), &[true, false]);
//! ```
//!
//! Global selection uses `select_nth_unstable` on packed integer keys (score bits + index), never
//! a full sort, so pruning ~11M weights takes a fraction of a second.

mod plan;
mod rows;
mod select;
pub(crate) mod shares;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_rows;

pub use plan::{PlanError, Removal, RemovalPlan, SparsityReport};
pub use rows::{
    Pattern, PatternError, PatternOrSelect, PatternPath, RowLayout, check_pattern, remove_in_rows,
};
pub use select::{
    Scope, ScopeKind, StepAmount, prune_channels, prune_step, removal_for, remove, remove_lowest,
    select_channels,
};

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

pub(crate) fn check_fraction(
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

    pub(super) fn prune(&mut self, i: usize) {
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
