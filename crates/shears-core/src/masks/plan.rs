//! What each pruning step removes, as integer counts computed once from the schedule, and
//! the ledger every realised mask set is checked against (docs/design.md#floor-rounding, #cumulative-conversion, #realised-sparsity-check).
//!
//! A schedule speaks in fractions of the original prunable entries; selection removes whole
//! entries. The conversion happens here and nowhere else: global scope converts the
//! cumulative sparsity (`exact`) or each step on its own (`reference`), layer-wise scope each
//! tensor's size, a manual per-layer schedule each tensor's own value.

use super::{Mask, Scope, SelectError, StepAmount, check_fraction, removal_for};
use crate::schedule::{Compat, ManualSchedule, Plan, ScheduleError};
use serde::{Deserialize, Serialize};

/// Why a plan cannot be built: the schedule does not fit the tensors, or the scope is invalid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error(transparent)]
    Scope(#[from] SelectError),
}

/// What one step removes from the entries still kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Removal {
    /// This many entries under one threshold across all tensors (a floor may cap tensors).
    Global(usize),
    /// This many entries of each tensor, in tensor order.
    PerTensor(Vec<usize>),
}

impl Removal {
    /// Entries removed in total.
    pub fn total(&self) -> usize {
        match self {
            Removal::Global(k) => *k,
            Removal::PerTensor(ks) => ks.iter().sum(),
        }
    }
}

/// The removal counts of every step of a run, and the fractions they stand for.
///
/// Built once per run; a [`RemovalPlan`] is what a pruner executes and what its masks are
/// checked against after every step ([`RemovalPlan::verify`]).
///
/// ```
/// use shears_core::masks::{Mask, RemovalPlan, Scope};
/// use shears_core::schedule::{Compat, ScheduleKind, ScheduleSpec};
///
/// let plan = ScheduleSpec::new(ScheduleKind::Geometric, 0.9).with_steps(3).plan().unwrap();
/// let counts = RemovalPlan::new(&plan, vec![600, 400], &Scope::global(), Compat::Exact).unwrap();
/// // The exact conversion ends at floor(1000 · 0.9) pruned entries.
/// assert_eq!(counts.pruned_after(3), 900);
/// assert_eq!(counts.len(), 3);
/// // Dense masks satisfy the plan before the first step, not after it.
/// let dense = vec![Mask::dense(600), Mask::dense(400)];
/// assert!(counts.verify(0, &dense).is_ok());
/// assert!(counts.verify(1, &dense).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemovalPlan {
    sizes: Vec<usize>,
    /// Per step: the fraction of all original prunable entries removed (for records).
    fractions: Plan,
    steps: Vec<Removal>,
    min_density: f64,
}

impl RemovalPlan {
    /// Counts for a schedule `plan` over tensors of `sizes` entries. Every step must remove at
    /// least one entry (a step that rounds to zero would fine-tune an unchanged network).
    pub fn new(
        plan: &Plan,
        sizes: Vec<usize>,
        scope: &Scope,
        compat: Compat,
    ) -> Result<Self, PlanError> {
        let n: usize = sizes.iter().sum();
        plan.check_resolvable(n as u64)?;
        let steps = match scope {
            // Exact schedules convert the cumulative sparsity, so a run ends at exactly
            // floor(N·target); the reference converts each step on its own.
            Scope::Global { min_density } => {
                check_fraction("min_density", None, *min_density)?;
                let counts = match compat {
                    Compat::Exact => plan.cumulative_counts(n as u64),
                    Compat::Reference => plan.step_counts(n as u64),
                };
                counts
                    .into_iter()
                    .map(|k| Removal::Global(k as usize))
                    .collect()
            }
            // Layer-wise and exact: each tensor's cumulative count, so each ends at exactly
            // floor(N_l·target) (what an N:M pattern's last step needs); the reference, and
            // per-layer ratios, convert each step on its own.
            Scope::LayerWise if compat == Compat::Exact => {
                let per: Vec<Vec<u64>> = sizes
                    .iter()
                    .map(|&n| plan.cumulative_counts(n as u64))
                    .collect();
                (0..plan.steps.len())
                    .map(|i| Removal::PerTensor(per.iter().map(|c| c[i] as usize).collect()))
                    .collect()
            }
            _ => plan
                .steps
                .iter()
                .map(|&v| removal_for(&sizes, &StepAmount::Uniform(v), scope))
                .collect::<Result<_, _>>()?,
        };
        Ok(Self {
            sizes,
            fractions: plan.clone(),
            steps,
            min_density: scope.min_density(),
        })
    }

    /// Counts for a manual per-layer schedule: step `i` removes `floor(len_l · v_il)` of
    /// tensor `l`. The recorded fraction of a step is its total over all prunable entries.
    pub fn manual(manual: &ManualSchedule, sizes: Vec<usize>) -> Result<Self, PlanError> {
        manual.validate(sizes.len())?;
        let n: usize = sizes.iter().sum();
        let steps: Vec<Removal> = (0..manual.len())
            .map(|i| {
                let values = StepAmount::PerLayer(manual.per_layer(i, sizes.len()));
                removal_for(&sizes, &values, &Scope::LayerWise)
            })
            .collect::<Result<_, _>>()?;
        let fractions = Plan {
            steps: steps.iter().map(|r| r.total() as f64 / n as f64).collect(),
        };
        Ok(Self {
            sizes,
            fractions,
            steps,
            min_density: 0.0,
        })
    }

    /// Number of steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// True for a plan without steps (never built by the constructors).
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Original sizes of the tensors, in order.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// The schedule's fractions of the original prunable entries, per step.
    pub fn fractions(&self) -> &Plan {
        &self.fractions
    }

    /// What step `step` (1-based) removes.
    ///
    /// # Panics
    /// If `step` is 0 or beyond the last step.
    pub fn removal(&self, step: usize) -> &Removal {
        &self.steps[step - 1]
    }

    /// The per-tensor floor of a global step (0 elsewhere).
    pub fn min_density(&self) -> f64 {
        self.min_density
    }

    /// Entries pruned once the first `t` steps are taken.
    pub fn pruned_after(&self, t: usize) -> usize {
        self.steps[..t.min(self.steps.len())]
            .iter()
            .map(Removal::total)
            .sum()
    }

    /// Entries of each tensor pruned after `t` steps, when every step fixed them per tensor
    /// (a global step fixes only the total).
    pub fn pruned_per_tensor_after(&self, t: usize) -> Option<Vec<usize>> {
        let mut acc = vec![0; self.sizes.len()];
        for r in &self.steps[..t.min(self.steps.len())] {
            let Removal::PerTensor(ks) = r else {
                return None;
            };
            acc.iter_mut().zip(ks).for_each(|(a, k)| *a += k);
        }
        Some(acc)
    }

    /// Checks `masks` against the plan after `t` steps: shapes, the total pruned and, where
    /// fixed, each tensor's. Returns the realised sparsity on success.
    pub fn verify(&self, t: usize, masks: &[Mask]) -> Result<SparsityReport, SelectError> {
        if masks.len() != self.sizes.len() {
            return Err(SelectError::ValueCount {
                what: "masks",
                expected: self.sizes.len(),
                got: masks.len(),
            });
        }
        for (tensor, (m, &n)) in masks.iter().zip(&self.sizes).enumerate() {
            if m.len() != n {
                return Err(SelectError::LengthMismatch {
                    tensor,
                    scores: n,
                    mask: m.len(),
                });
            }
        }
        if let Some(expected) = self.pruned_per_tensor_after(t) {
            for (tensor, (m, &e)) in masks.iter().zip(&expected).enumerate() {
                if m.pruned() != e {
                    return Err(SelectError::SparsityMismatch {
                        tensor: Some(tensor),
                        expected_pruned: e,
                        actual_pruned: m.pruned(),
                        total: m.len(),
                    });
                }
            }
        }
        let report = SparsityReport::from_masks(masks);
        let expected = self.pruned_after(t);
        if report.pruned() != expected {
            return Err(SelectError::SparsityMismatch {
                tensor: None,
                expected_pruned: expected,
                actual_pruned: report.pruned(),
                total: report.total,
            });
        }
        Ok(report)
    }
}

/// Realised sparsity of a set of masks (per tensor too, since global ranking can collapse
/// single layers).
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
