//! Per-step early stopping and best-epoch tracking (`docs/design.md#patience`,
//! `docs/design.md#best-epoch-and-carried-weights`).
//!
//! Follows the reference code (`EarlyStopper` on its `main` branch), not the paper's
//! Algorithm 1: any epoch that does not beat the best by more than `min_delta` counts towards
//! patience (Algorithm 1 lets values inside the band neither reset nor increment the counter).
//! A fresh stopper is built for every pruning step.

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum StoppingError {
    #[error("min_delta must be finite and >= 0, got {0}")]
    BadMinDelta(f64),
    #[error("a patience schedule needs at least one value")]
    EmptyPatience,
}

/// The monitored quantity's direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Monitor {
    /// Higher is better (top-1 / top-5 accuracy).
    Accuracy,
    /// Lower is better (validation loss).
    Loss,
}

impl Monitor {
    pub fn maximize(self) -> bool {
        matches!(self, Monitor::Accuracy)
    }

    /// The value every real observation beats.
    fn worst(self) -> f64 {
        if self.maximize() {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        }
    }

    /// `value` beats `best` by more than `min_delta` (false for NaN).
    fn improves(self, value: f64, best: f64, min_delta: f64) -> bool {
        if self.maximize() {
            value > best + min_delta
        } else {
            value < best - min_delta
        }
    }
}

/// Why fine-tuning stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    Patience,
    EpochCap,
}

/// Outcome of one observed epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Improved,
    NoImprovement,
    /// Stop after this epoch; `improved` says whether it was nonetheless a new best
    /// (always the case for the first epoch with patience 0).
    Stop {
        improved: bool,
        reason: StopReason,
    },
}

impl Decision {
    pub fn is_stop(self) -> bool {
        matches!(self, Decision::Stop { .. })
    }

    pub fn improved(self) -> bool {
        matches!(
            self,
            Decision::Improved | Decision::Stop { improved: true, .. }
        )
    }
}

/// Patience-based stopper. Improvement: `value > best + min_delta` (accuracy) or
/// `value < best − min_delta` (loss) → best = value, counter = 0; otherwise counter += 1.
/// Stop when `counter ≥ patience`. So **patience 0 stops after the first epoch** (as the
/// reference), and NaN never improves (a diverged loss counts towards patience).
///
/// ```
/// use shears_core::stopping::{Decision, EarlyStopper, Monitor};
///
/// let mut stopper = EarlyStopper::new(2, 0.0, Monitor::Accuracy)?;
/// assert_eq!(stopper.observe(0.80), Decision::Improved);
/// assert_eq!(stopper.observe(0.85), Decision::Improved);
/// assert_eq!(stopper.observe(0.85), Decision::NoImprovement); // a tie is no improvement
/// assert!(stopper.observe(0.84).is_stop()); // two epochs without improvement
/// assert_eq!((stopper.best(), stopper.best_epoch()), (0.85, Some(1)));
///
/// // Patience 0 stops after the first epoch, as in the reference.
/// let mut at_once = EarlyStopper::new(0, 0.0, Monitor::Loss)?;
/// assert!(at_once.observe(1.2).is_stop());
/// # Ok::<(), shears_core::stopping::StoppingError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct EarlyStopper {
    patience: usize,
    min_delta: f64,
    monitor: Monitor,
    max_epochs: Option<usize>,
    best: f64,
    best_epoch: Option<usize>,
    counter: usize,
    epochs: usize,
}

impl EarlyStopper {
    pub fn new(patience: usize, min_delta: f64, monitor: Monitor) -> Result<Self, StoppingError> {
        if !(min_delta.is_finite() && min_delta >= 0.0) {
            return Err(StoppingError::BadMinDelta(min_delta));
        }
        Ok(Self {
            patience,
            min_delta,
            monitor,
            max_epochs: None,
            best: monitor.worst(),
            best_epoch: None,
            counter: 0,
            epochs: 0,
        })
    }

    /// Measures improvement against a starting value (e.g. the freshly pruned model's
    /// accuracy, as the reference's refactor branch does) instead of ±∞; not an epoch.
    pub fn with_baseline(mut self, value: f64) -> Self {
        self.best = value;
        self
    }

    /// Also stop once `max_epochs` epochs were observed (the reference's `finetune_epochs`).
    pub fn with_max_epochs(mut self, max_epochs: usize) -> Self {
        self.max_epochs = Some(max_epochs);
        self
    }

    /// Records one epoch's monitored value.
    pub fn observe(&mut self, value: f64) -> Decision {
        let epoch = self.epochs;
        self.epochs += 1;
        let improved = self.monitor.improves(value, self.best, self.min_delta);
        if improved {
            self.best = value;
            self.best_epoch = Some(epoch);
            self.counter = 0;
        } else {
            self.counter += 1;
        }
        if self.counter >= self.patience {
            Decision::Stop {
                improved,
                reason: StopReason::Patience,
            }
        } else if self.max_epochs.is_some_and(|m| self.epochs >= m) {
            Decision::Stop {
                improved,
                reason: StopReason::EpochCap,
            }
        } else if improved {
            Decision::Improved
        } else {
            Decision::NoImprovement
        }
    }

    /// Best value so far (the baseline or ±∞ before any improvement).
    pub fn best(&self) -> f64 {
        self.best
    }

    /// 0-based epoch of the last improvement, if any.
    pub fn best_epoch(&self) -> Option<usize> {
        self.best_epoch
    }

    /// Epochs without improvement since the last one.
    pub fn counter(&self) -> usize {
        self.counter
    }

    pub fn epochs(&self) -> usize {
        self.epochs
    }

    pub fn patience(&self) -> usize {
        self.patience
    }
}

/// Patience per pruning step: step `i` uses `values[min(i, len − 1)]` (the reference's
/// `multi_patience` generator; fixes the refactor branch's off-by-one). A hybrid run is e.g.
/// `[200, 10]`: long patience for the one-shot step, short for the iterative ones.
///
/// ```
/// use shears_core::stopping::PatienceSchedule;
///
/// let patience = PatienceSchedule::new(vec![200, 10])?;
/// let per_step: Vec<usize> = (0..4).map(|step| patience.for_step(step)).collect();
/// assert_eq!(per_step, vec![200, 10, 10, 10]);
/// assert!(PatienceSchedule::new(vec![]).is_err());
/// # Ok::<(), shears_core::stopping::StoppingError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<usize>", into = "Vec<usize>")]
pub struct PatienceSchedule(Vec<usize>);

impl PatienceSchedule {
    pub fn new(values: Vec<usize>) -> Result<Self, StoppingError> {
        if values.is_empty() {
            Err(StoppingError::EmptyPatience)
        } else {
            Ok(Self(values))
        }
    }

    /// Patience for pruning step `step` (0-based).
    pub fn for_step(&self, step: usize) -> usize {
        self.0[step.min(self.0.len() - 1)]
    }

    pub fn values(&self) -> &[usize] {
        &self.0
    }
}

impl TryFrom<Vec<usize>> for PatienceSchedule {
    type Error = StoppingError;
    fn try_from(v: Vec<usize>) -> Result<Self, StoppingError> {
        Self::new(v)
    }
}

impl From<PatienceSchedule> for Vec<usize> {
    fn from(p: PatienceSchedule) -> Self {
        p.0
    }
}

/// Best-checkpoint rule, possibly on a different metric than the stopper: an epoch becomes
/// the best when it is not worse than the best so far, so **ties go to the later epoch**
/// (reference: `not (v < best)`). Unlike the reference, NaN is never best (in Python a NaN
/// would win and then every later epoch would too).
///
/// ```
/// use shears_core::stopping::{BestTracker, Monitor};
///
/// let mut best = BestTracker::new(Monitor::Accuracy);
/// assert!(best.observe(0.80));
/// assert!(!best.observe(0.70));
/// assert!(best.observe(0.80)); // a tie: the later epoch's weights are kept
/// assert_eq!((best.best(), best.best_epoch()), (Some(0.80), Some(2)));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BestTracker {
    monitor: Monitor,
    best: f64,
    best_epoch: Option<usize>,
    epochs: usize,
}

impl BestTracker {
    pub fn new(monitor: Monitor) -> Self {
        Self {
            monitor,
            best: monitor.worst(),
            best_epoch: None,
            epochs: 0,
        }
    }

    /// Records an epoch; returns true if it is the new best (so its state should be kept).
    pub fn observe(&mut self, value: f64) -> bool {
        let epoch = self.epochs;
        self.epochs += 1;
        let better = !value.is_nan()
            && if self.monitor.maximize() {
                value >= self.best
            } else {
                value <= self.best
            };
        if better {
            self.best = value;
            self.best_epoch = Some(epoch);
        }
        better
    }

    pub fn best(&self) -> Option<f64> {
        self.best_epoch.map(|_| self.best)
    }

    pub fn best_epoch(&self) -> Option<usize> {
        self.best_epoch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patience_counts_non_improving_epochs() {
        let mut s = EarlyStopper::new(2, 0.0, Monitor::Accuracy).unwrap();
        assert_eq!(s.observe(0.5), Decision::Improved);
        assert_eq!(s.observe(0.6), Decision::Improved);
        assert_eq!(s.observe(0.55), Decision::NoImprovement);
        assert_eq!(s.observe(0.7), Decision::Improved);
        assert_eq!(s.observe(0.7), Decision::NoImprovement); // tie is not an improvement
        assert_eq!(
            s.observe(0.6),
            Decision::Stop {
                improved: false,
                reason: StopReason::Patience
            }
        );
        assert_eq!((s.best(), s.best_epoch(), s.epochs()), (0.7, Some(3), 6));
    }

    #[test]
    fn patience_zero_stops_after_first_epoch() {
        let mut s = EarlyStopper::new(0, 0.0, Monitor::Loss).unwrap();
        let d = s.observe(1.0);
        assert_eq!(
            d,
            Decision::Stop {
                improved: true,
                reason: StopReason::Patience
            }
        );
        assert!(d.improved() && d.is_stop());
    }

    #[test]
    fn min_delta_band_counts_as_no_improvement() {
        let mut s = EarlyStopper::new(3, 0.1, Monitor::Loss).unwrap();
        assert_eq!(s.observe(1.0), Decision::Improved);
        assert_eq!(s.observe(0.95), Decision::NoImprovement); // inside [0.9, 1.0]
        assert_eq!(s.counter(), 1);
        assert_eq!(s.observe(0.85), Decision::Improved); // < 1.0 - 0.1
        assert_eq!(s.best(), 0.85);
        assert_eq!(s.observe(f64::NAN), Decision::NoImprovement);
        assert_eq!(s.observe(0.8), Decision::NoImprovement); // 0.8 > 0.85 - 0.1
        assert!(s.observe(0.76).is_stop());
    }

    #[test]
    fn baseline_and_epoch_cap() {
        // Improvement measured against the post-pruning accuracy 0.8.
        let mut s = EarlyStopper::new(5, 0.0, Monitor::Accuracy)
            .unwrap()
            .with_baseline(0.8)
            .with_max_epochs(3);
        assert_eq!(s.observe(0.7), Decision::NoImprovement);
        assert_eq!(s.best_epoch(), None);
        assert_eq!(s.observe(0.85), Decision::Improved);
        assert_eq!(
            s.observe(0.9),
            Decision::Stop {
                improved: true,
                reason: StopReason::EpochCap
            }
        );
        assert!(EarlyStopper::new(1, -0.1, Monitor::Loss).is_err());
        assert!(EarlyStopper::new(1, f64::NAN, Monitor::Loss).is_err());
    }

    #[test]
    fn patience_schedule_repeats_last() {
        let p = PatienceSchedule::new(vec![200, 10]).unwrap();
        assert_eq!(
            (0..4).map(|i| p.for_step(i)).collect::<Vec<_>>(),
            vec![200, 10, 10, 10]
        );
        assert_eq!(
            PatienceSchedule::new(vec![]),
            Err(StoppingError::EmptyPatience)
        );
        assert_eq!(
            serde_json::from_str::<PatienceSchedule>("[3]")
                .unwrap()
                .for_step(9),
            3
        );
        assert!(serde_json::from_str::<PatienceSchedule>("[]").is_err());
        assert_eq!(serde_json::to_string(&p).unwrap(), "[200,10]");
    }

    #[test]
    fn best_tracker_ties_go_later() {
        let mut b = BestTracker::new(Monitor::Accuracy);
        assert!(b.observe(0.5));
        assert!(b.observe(0.7));
        assert!(!b.observe(0.6));
        assert!(b.observe(0.7)); // tie → later epoch
        assert!(!b.observe(f64::NAN));
        assert_eq!((b.best(), b.best_epoch()), (Some(0.7), Some(3)));
        let mut l = BestTracker::new(Monitor::Loss);
        assert_eq!(l.best(), None);
        assert!(l.observe(2.0) && l.observe(2.0) && !l.observe(2.5));
        assert_eq!(l.best_epoch(), Some(1));
        assert_eq!(
            serde_json::to_string(&Monitor::Accuracy).unwrap(),
            "\"accuracy\""
        );
    }
}
