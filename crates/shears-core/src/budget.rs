//! Fine-tuning budgets: splitting a fixed epoch budget over pruning steps (equal-compute
//! comparisons of one-shot vs iterative, `docs/design.md#budgets`) and converting
//! epochs ↔ iterations.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum BudgetError {
    #[error("no pruning steps to split the budget over")]
    NoSteps,
    #[error(
        "{total} epochs cannot give each of {steps} steps one fine-tuning epoch; a step without fine-tuning is not a step (use fewer steps or a larger budget)"
    )]
    TooFewEpochs { total: usize, steps: usize },
    #[error("step {step}: weight must be finite and >= 0, got {value}")]
    BadWeight { step: usize, value: f64 },
    #[error("proportional split needs at least one positive step fraction")]
    ZeroWeights,
    #[error("batch size must be > 0")]
    ZeroBatch,
    #[error("cannot parse training length {0:?}: expected e.g. \"10ep\" or \"500it\"")]
    BadLength(String),
}

/// How a total epoch budget is shared between pruning steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SplitPolicy {
    /// Same share for every step.
    Even,
    /// Share ∝ the step's value (fraction of weights removed at that step), so the large
    /// first step of a geometric or hybrid schedule gets the longest fine-tuning.
    Proportional,
}

/// Integer epochs per step summing exactly to `total_epochs`.
///
/// Every step gets at least one epoch (steps whose share would be below one are fixed at one
/// and the rest is re-shared among the others); the remainder is apportioned by largest
/// remainder (Hamilton), ties to the earlier step. Errors if `total_epochs < steps`.
///
/// ```
/// use shears_core::budget::{SplitPolicy, split_budget};
///
/// // 10 epochs over 3 steps: 3.33 each, the spare epoch to the first step.
/// assert_eq!(split_budget(10, &[0.6, 0.2, 0.1], SplitPolicy::Even)?, vec![4, 3, 3]);
/// // In proportion to the fraction each step removes.
/// assert_eq!(split_budget(10, &[0.6, 0.2, 0.2], SplitPolicy::Proportional)?, vec![6, 2, 2]);
/// // Every step fine-tunes at least one epoch.
/// assert_eq!(split_budget(5, &[0.9, 0.05, 0.05], SplitPolicy::Proportional)?, vec![3, 1, 1]);
/// assert!(split_budget(2, &[0.5, 0.2, 0.1], SplitPolicy::Even).is_err());
/// # Ok::<(), shears_core::budget::BudgetError>(())
/// ```
pub fn split_budget(
    total_epochs: usize,
    step_fractions: &[f64],
    policy: SplitPolicy,
) -> Result<Vec<usize>, BudgetError> {
    let n = step_fractions.len();
    if n == 0 {
        return Err(BudgetError::NoSteps);
    }
    if total_epochs < n {
        return Err(BudgetError::TooFewEpochs {
            total: total_epochs,
            steps: n,
        });
    }
    let weights: Vec<f64> = match policy {
        SplitPolicy::Even => vec![1.0; n],
        SplitPolicy::Proportional => {
            for (step, &value) in step_fractions.iter().enumerate() {
                if !(value.is_finite() && value >= 0.0) {
                    return Err(BudgetError::BadWeight { step, value });
                }
            }
            if step_fractions.iter().all(|&w| w == 0.0) {
                return Err(BudgetError::ZeroWeights);
            }
            step_fractions.to_vec()
        }
    };

    let mut out: Vec<Option<usize>> = vec![None; n];
    let mut remaining = total_epochs;
    // Fix steps whose quota is below one epoch at exactly one, until all free quotas are >= 1.
    // Some free step always keeps a quota >= 1 because remaining >= number of free steps.
    let quotas = loop {
        let wsum: f64 = (0..n)
            .filter(|&i| out[i].is_none())
            .map(|i| weights[i])
            .sum();
        let quotas: Vec<(usize, f64)> = (0..n)
            .filter(|&i| out[i].is_none())
            .map(|i| (i, remaining as f64 * weights[i] / wsum))
            .collect();
        let small: Vec<usize> = quotas.iter().filter(|q| q.1 < 1.0).map(|q| q.0).collect();
        if small.is_empty() {
            break quotas;
        }
        for i in small {
            out[i] = Some(1);
            remaining -= 1;
        }
    };

    // Largest remainder over the free steps.
    let mut floors: Vec<(usize, usize, f64)> = quotas
        .iter()
        .map(|&(i, q)| (i, q.floor() as usize, q - q.floor()))
        .collect();
    let mut assigned: usize = floors.iter().map(|f| f.1).sum();
    // Guard against float error pushing the floors above the budget.
    while assigned > remaining {
        let f = floors
            .iter_mut()
            .filter(|f| f.1 > 1)
            .min_by(|a, b| a.2.total_cmp(&b.2))
            .expect("quota >= 1");
        f.1 -= 1;
        f.2 += 1.0;
        assigned -= 1;
    }
    let mut order: Vec<usize> = (0..floors.len()).collect();
    order.sort_by(|&a, &b| {
        floors[b]
            .2
            .total_cmp(&floors[a].2)
            .then(floors[a].0.cmp(&floors[b].0))
    });
    for &j in order.iter().cycle().take(remaining - assigned) {
        floors[j].1 += 1;
    }
    for (i, e, _) in floors {
        out[i] = Some(e);
    }
    Ok(out
        .into_iter()
        .map(|e| e.expect("every step assigned"))
        .collect())
}

/// Iterations in one epoch: `ceil(n_samples / batch_size)` (the last partial batch is kept,
/// like a PyTorch `DataLoader` with `drop_last=False`).
///
/// ```
/// assert_eq!(shears_core::budget::iterations_per_epoch(1000, 128), Ok(8));
/// ```
pub fn iterations_per_epoch(n_samples: usize, batch_size: usize) -> Result<usize, BudgetError> {
    if batch_size == 0 {
        return Err(BudgetError::ZeroBatch);
    }
    Ok(n_samples.div_ceil(batch_size))
}

/// A training length in epochs or iterations, convertible given the iterations per epoch
/// (OpenLTH's step type). Serialized as `"10ep"` / `"500it"`.
///
/// ```
/// use shears_core::budget::TrainingLength;
///
/// let length: TrainingLength = "500it".parse()?;
/// assert_eq!(length, TrainingLength::Iterations(500));
/// assert_eq!(length.epochs_started(200), 3); // two full epochs and a partial one
/// assert_eq!(TrainingLength::Epochs(2).iterations(200), 400);
/// assert_eq!(TrainingLength::Epochs(2).to_string(), "2ep");
/// # Ok::<(), shears_core::budget::BudgetError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum TrainingLength {
    Epochs(usize),
    Iterations(usize),
}

impl TrainingLength {
    /// Total iterations.
    pub fn iterations(self, iters_per_epoch: usize) -> usize {
        match self {
            TrainingLength::Epochs(e) => e * iters_per_epoch,
            TrainingLength::Iterations(i) => i,
        }
    }

    /// Epochs started, counting a final partial epoch (what the budget counter charges).
    pub fn epochs_started(self, iters_per_epoch: usize) -> usize {
        match self {
            TrainingLength::Epochs(e) => e,
            TrainingLength::Iterations(i) => i.div_ceil(iters_per_epoch.max(1)),
        }
    }

    /// `(epoch, iteration within epoch)` of a global iteration index.
    pub fn position(iteration: usize, iters_per_epoch: usize) -> (usize, usize) {
        let ipe = iters_per_epoch.max(1);
        (iteration / ipe, iteration % ipe)
    }
}

impl fmt::Display for TrainingLength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainingLength::Epochs(e) => write!(f, "{e}ep"),
            TrainingLength::Iterations(i) => write!(f, "{i}it"),
        }
    }
}

impl FromStr for TrainingLength {
    type Err = BudgetError;
    fn from_str(s: &str) -> Result<Self, BudgetError> {
        let bad = || BudgetError::BadLength(s.to_string());
        let t = s.trim();
        if let Some(n) = t.strip_suffix("ep") {
            n.trim()
                .parse()
                .map(TrainingLength::Epochs)
                .map_err(|_| bad())
        } else if let Some(n) = t.strip_suffix("it") {
            n.trim()
                .parse()
                .map(TrainingLength::Iterations)
                .map_err(|_| bad())
        } else {
            Err(bad())
        }
    }
}

impl TryFrom<String> for TrainingLength {
    type Error = BudgetError;
    fn try_from(s: String) -> Result<Self, BudgetError> {
        s.parse()
    }
}

impl From<TrainingLength> for String {
    fn from(t: TrainingLength) -> Self {
        t.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_split_largest_remainder() {
        assert_eq!(
            split_budget(10, &[0.2; 3], SplitPolicy::Even).unwrap(),
            vec![4, 3, 3]
        );
        assert_eq!(
            split_budget(9, &[0.1; 3], SplitPolicy::Even).unwrap(),
            vec![3, 3, 3]
        );
        assert_eq!(
            split_budget(100, &[0.5], SplitPolicy::Even).unwrap(),
            vec![100]
        );
        assert_eq!(
            split_budget(3, &[0.0; 3], SplitPolicy::Even).unwrap(),
            vec![1, 1, 1]
        );
    }

    #[test]
    fn proportional_split() {
        // quotas 10·(0.5, 0.3, 0.2) = 5, 3, 2 exactly.
        assert_eq!(
            split_budget(10, &[0.5, 0.3, 0.2], SplitPolicy::Proportional).unwrap(),
            vec![5, 3, 2]
        );
        // quotas 7·(0.5, 0.25, 0.25) = 3.5, 1.75, 1.75 → floors 3, 1, 1; two left go to the
        // largest remainders (0.75, 0.75 beat 0.5; tie → earlier).
        assert_eq!(
            split_budget(7, &[0.5, 0.25, 0.25], SplitPolicy::Proportional).unwrap(),
            vec![3, 2, 2]
        );
        // Hybrid: quotas 10·(0.9, 0.05, 0.05) = 9, 0.5, 0.5 → the small steps are fixed at 1
        // and the remaining 8 go to the big step.
        assert_eq!(
            split_budget(10, &[0.9, 0.05, 0.05], SplitPolicy::Proportional).unwrap(),
            vec![8, 1, 1]
        );
        assert_eq!(
            split_budget(5, &[1.0, 0.0], SplitPolicy::Proportional).unwrap(),
            vec![4, 1]
        );
    }

    #[test]
    fn split_sums_to_total() {
        let fr = [0.5, 0.01842, 0.0180807, 0.01774766, 0.0174, 0.017];
        for total in 6..200 {
            for policy in [SplitPolicy::Even, SplitPolicy::Proportional] {
                let s = split_budget(total, &fr, policy).unwrap();
                assert_eq!(s.iter().sum::<usize>(), total);
                assert!(s.iter().all(|&e| e >= 1));
            }
        }
    }

    #[test]
    fn split_errors() {
        assert_eq!(
            split_budget(2, &[0.1; 3], SplitPolicy::Even),
            Err(BudgetError::TooFewEpochs { total: 2, steps: 3 })
        );
        assert_eq!(
            split_budget(2, &[], SplitPolicy::Even),
            Err(BudgetError::NoSteps)
        );
        assert_eq!(
            split_budget(5, &[0.0, 0.0], SplitPolicy::Proportional),
            Err(BudgetError::ZeroWeights)
        );
        assert!(matches!(
            split_budget(5, &[0.1, -1.0], SplitPolicy::Proportional),
            Err(BudgetError::BadWeight { step: 1, .. })
        ));
        assert!(split_budget(5, &[0.1, f64::NAN], SplitPolicy::Proportional).is_err());
    }

    #[test]
    fn epochs_and_iterations() {
        // CIFAR-10 train set, batch 128 → 390 full batches + 1 partial.
        let ipe = iterations_per_epoch(50_000, 128).unwrap();
        assert_eq!(ipe, 391);
        assert_eq!(iterations_per_epoch(50_000, 500).unwrap(), 100);
        assert_eq!(iterations_per_epoch(10, 0), Err(BudgetError::ZeroBatch));
        assert_eq!(TrainingLength::Epochs(2).iterations(ipe), 782);
        assert_eq!(TrainingLength::Iterations(783).epochs_started(ipe), 3);
        assert_eq!(TrainingLength::Iterations(782).epochs_started(ipe), 2);
        assert_eq!(TrainingLength::position(782, ipe), (2, 0));
        assert_eq!(TrainingLength::position(390, ipe), (0, 390));
    }

    #[test]
    fn training_length_strings() {
        assert_eq!(
            "10ep".parse::<TrainingLength>().unwrap(),
            TrainingLength::Epochs(10)
        );
        assert_eq!(
            " 500it ".parse::<TrainingLength>().unwrap(),
            TrainingLength::Iterations(500)
        );
        assert!("10".parse::<TrainingLength>().is_err());
        assert!("xep".parse::<TrainingLength>().is_err());
        assert_eq!(
            serde_json::to_string(&TrainingLength::Epochs(3)).unwrap(),
            "\"3ep\""
        );
        assert_eq!(
            serde_json::from_str::<TrainingLength>("\"7it\"").unwrap(),
            TrainingLength::Iterations(7)
        );
        assert_eq!(
            serde_json::to_string(&SplitPolicy::Proportional).unwrap(),
            "\"proportional\""
        );
    }
}
