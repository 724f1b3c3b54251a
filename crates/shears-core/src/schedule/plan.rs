//! A planned schedule: the per-step fractions, their running sum, and their conversion to
//! numbers of entries.

use serde::{Deserialize, Serialize};

use super::ScheduleError;

/// A materialised schedule: `steps[i]` is the fraction of the ORIGINAL prunable count that
/// step `i` removes (in addition to what earlier steps removed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub steps: Vec<f64>,
}

/// What a CLI prints for a plan: `{"steps": [...], "cumulative": [...], "total": x}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanReport {
    pub steps: Vec<f64>,
    pub cumulative: Vec<f64>,
    pub total: f64,
}

impl Plan {
    /// Number of pruning steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// True for a plan with no steps (never produced by
    /// [`ScheduleSpec::plan`](super::ScheduleSpec::plan)).
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Running sum: entry `i` is the sparsity reached after step `i`.
    ///
    /// ```
    /// use shears_core::schedule::Plan;
    ///
    /// let plan = Plan { steps: vec![0.5, 0.25, 0.125] };
    /// assert_eq!(plan.cumulative(), vec![0.5, 0.75, 0.875]);
    /// ```
    pub fn cumulative(&self) -> Vec<f64> {
        self.steps
            .iter()
            .scan(0.0, |acc, &v| {
                *acc += v;
                Some(*acc)
            })
            .collect()
    }

    /// Final sparsity (the running sum of all steps).
    pub fn total(&self) -> f64 {
        self.steps.iter().fold(0.0, |acc, &v| acc + v)
    }

    /// Sparsity after `t` steps (JaxPruner's "sparsity at step t"): 0 at `t = 0` (dense),
    /// the total for `t >= len()`.
    ///
    /// ```
    /// use shears_core::schedule::Plan;
    ///
    /// let plan = Plan { steps: vec![0.5, 0.25, 0.125] };
    /// assert_eq!(plan.sparsity_at(0), 0.0);
    /// assert_eq!(plan.sparsity_at(2), 0.75);
    /// assert_eq!(plan.sparsity_at(10), 0.875);
    /// ```
    pub fn sparsity_at(&self, t: usize) -> f64 {
        self.steps[..t.min(self.steps.len())]
            .iter()
            .fold(0.0, |acc, &v| acc + v)
    }

    /// Entries removed at each step the way the reference converts fractions: `floor(n · v)`
    /// of the original count, independently per step (`docs/design.md#floor-rounding`).
    ///
    /// ```
    /// use shears_core::schedule::Plan;
    ///
    /// // 15% of 10 entries is 1.5: each step removes floor(1.5) = 1, two in total.
    /// let plan = Plan { steps: vec![0.15, 0.15] };
    /// assert_eq!(plan.step_counts(10), vec![1, 1]);
    /// ```
    pub fn step_counts(&self, n_prunable: u64) -> Vec<u64> {
        self.steps
            .iter()
            .map(|&v| (n_prunable as f64 * v).floor() as u64)
            .collect()
    }

    /// Entries removed at each step when the *cumulative* sparsity is converted instead:
    /// `floor(n · c_t) − floor(n · c_{t−1})`, so the total is `floor(n · total)` rather than
    /// losing up to one entry per step. Products within 1e-9 (relative) of an integer count
    /// as that integer, so `10 × (0.1 + 0.2)` gives 3.
    ///
    /// ```
    /// use shears_core::schedule::Plan;
    ///
    /// // The same plan reaches floor(10 · 0.3) = 3 entries.
    /// let plan = Plan { steps: vec![0.15, 0.15] };
    /// assert_eq!(plan.cumulative_counts(10), vec![1, 2]);
    /// ```
    pub fn cumulative_counts(&self, n_prunable: u64) -> Vec<u64> {
        let mut prev = 0u64;
        self.cumulative()
            .into_iter()
            .map(|c| {
                let cur = floor_tolerant(n_prunable as f64 * c).max(prev);
                let d = cur - prev;
                prev = cur;
                d
            })
            .collect()
    }

    /// Checks that every step removes at least one entry out of `n_prunable`
    /// (`floor(n · v) >= 1`); a step that rounds to zero would spend a fine-tuning phase on
    /// an unchanged network.
    pub fn check_resolvable(&self, n_prunable: u64) -> Result<(), ScheduleError> {
        for (index, (&value, count)) in self
            .steps
            .iter()
            .zip(self.step_counts(n_prunable))
            .enumerate()
        {
            if count == 0 {
                return Err(ScheduleError::Unresolvable {
                    index,
                    value,
                    n_prunable,
                });
            }
        }
        Ok(())
    }

    /// A serialisable summary (steps, cumulative, total) for printing.
    pub fn report(&self) -> PlanReport {
        PlanReport {
            steps: self.steps.clone(),
            cumulative: self.cumulative(),
            total: self.total(),
        }
    }
}

/// `floor(x)`, except that values within 1e-9 (relative) below an integer round up to it.
fn floor_tolerant(x: f64) -> u64 {
    let r = x.round();
    if (x - r).abs() <= 1e-9 * x.abs().max(1.0) {
        r as u64
    } else {
        x.floor() as u64
    }
}
