//! Learning-rate schedules as pure functions of the training position, evaluated per iteration.
//!
//! The reference fine-tunes with a constant LR and a fresh optimizer per pruning step
//! (`docs/design.md#learning-rate-and-optimizer`); step decay, cosine and warm-up are here for
//! longer one-shot runs.
//! PyTorch equivalents (all stepped once per iteration, `N` = iterations per epoch):
//! - `Constant` — no scheduler.
//! - `Step { step_epochs, gamma }` — `StepLR(step_size=step_epochs, gamma)` stepped per
//!   *epoch* (the LR only changes at epoch boundaries).
//! - `Cosine { min_lr }` — `CosineAnnealingLR(T_max=total_epochs·N, eta_min=min_lr)`; at epoch
//!   boundaries this equals `T_max=total_epochs` stepped per epoch. Held at `min_lr` past the end
//!   (PyTorch would climb back up).
//! - warm-up — `SequentialLR([LinearLR(start_factor, end_factor=1, total_iters=W·N), main],
//!   milestones=[W·N])`: the main schedule's clock starts after the `W` warm-up epochs and runs
//!   over `total_epochs − W`.

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum LrError {
    #[error("step schedule needs step_epochs > 0")]
    ZeroStep,
    #[error("{what} must be {expected}, got {value}")]
    BadValue {
        what: &'static str,
        expected: &'static str,
        value: f64,
    },
}

/// The main schedule (after any warm-up).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum LrSchedule {
    Constant,
    /// Multiply by `gamma` every `step_epochs` epochs.
    Step {
        step_epochs: usize,
        gamma: f64,
    },
    /// Cosine annealing from the base LR to `min_lr` (absolute) over the run.
    Cosine {
        #[serde(default)]
        min_lr: f64,
    },
}

/// Linear warm-up from `start_factor·base_lr` to `base_lr` over `epochs` epochs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Warmup {
    pub epochs: usize,
    pub start_factor: f64,
}

/// A main schedule plus optional warm-up.
///
/// ```
/// use shears_core::lr::{LrPolicy, LrSchedule, Warmup};
///
/// // The reference's fine-tuning: a constant LR.
/// assert_eq!(LrPolicy::default().lr_at(0.01, 7, 3, 100, 10), 0.01);
///
/// // Two warm-up epochs from 10% of the base LR, then cosine to 0 over the remaining 8.
/// let policy = LrPolicy {
///     schedule: LrSchedule::Cosine { min_lr: 0.0 },
///     warmup: Some(Warmup { epochs: 2, start_factor: 0.1 }),
/// };
/// policy.validate()?;
/// let lr = |epoch, iter| policy.lr_at(0.1, epoch, iter, 100, 10);
/// assert!((lr(0, 0) - 0.01).abs() < 1e-12); // start of warm-up
/// assert!((lr(1, 0) - 0.055).abs() < 1e-12); // halfway through it
/// assert!((lr(2, 0) - 0.1).abs() < 1e-12); // cosine starts at the base LR
/// assert!((lr(6, 0) - 0.05).abs() < 1e-12); // half of the cosine's 8 epochs
/// # Ok::<(), shears_core::lr::LrError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LrPolicy {
    pub schedule: LrSchedule,
    #[serde(default)]
    pub warmup: Option<Warmup>,
}

impl Default for LrPolicy {
    /// Constant LR, no warm-up: the reference's fine-tuning setting.
    fn default() -> Self {
        Self {
            schedule: LrSchedule::Constant,
            warmup: None,
        }
    }
}

/// Fractional epoch `epoch + iter/ipe` (`ipe = 0` ignores the iteration).
fn position(epoch: usize, iter_in_epoch: usize, iters_per_epoch: usize) -> f64 {
    if iters_per_epoch == 0 {
        epoch as f64
    } else {
        epoch as f64 + iter_in_epoch as f64 / iters_per_epoch as f64
    }
}

fn check(what: &'static str, expected: &'static str, value: f64, ok: bool) -> Result<(), LrError> {
    if ok {
        Ok(())
    } else {
        Err(LrError::BadValue {
            what,
            expected,
            value,
        })
    }
}

impl LrSchedule {
    pub fn validate(&self) -> Result<(), LrError> {
        match *self {
            LrSchedule::Constant => Ok(()),
            LrSchedule::Step { step_epochs, gamma } => {
                if step_epochs == 0 {
                    return Err(LrError::ZeroStep);
                }
                check(
                    "gamma",
                    "finite and > 0",
                    gamma,
                    gamma.is_finite() && gamma > 0.0,
                )
            }
            LrSchedule::Cosine { min_lr } => check(
                "min_lr",
                "finite and >= 0",
                min_lr,
                min_lr.is_finite() && min_lr >= 0.0,
            ),
        }
    }

    /// LR at fractional epoch `t` of a run of `total_epochs` (no warm-up).
    fn at(&self, base_lr: f64, t: f64, total_epochs: f64) -> f64 {
        match *self {
            LrSchedule::Constant => base_lr,
            LrSchedule::Step { step_epochs, gamma } => {
                let decays = (t.floor() as usize) / step_epochs.max(1);
                base_lr * gamma.powi(decays.min(i32::MAX as usize) as i32)
            }
            LrSchedule::Cosine { min_lr } => {
                if total_epochs <= 0.0 {
                    return base_lr;
                }
                let progress = (t / total_epochs).min(1.0);
                min_lr + (base_lr - min_lr) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }

    /// LR at iteration `iter_in_epoch` of `epoch` (both 0-based), without warm-up.
    ///
    /// ```
    /// use shears_core::lr::LrSchedule;
    ///
    /// // ×0.1 every 2 epochs; the LR changes only at epoch boundaries.
    /// let step = LrSchedule::Step { step_epochs: 2, gamma: 0.1 };
    /// assert_eq!(step.lr_at(0.1, 1, 99, 100, 10), 0.1);
    /// assert!((step.lr_at(0.1, 2, 0, 100, 10) - 0.01).abs() < 1e-12);
    /// ```
    pub fn lr_at(
        &self,
        base_lr: f64,
        epoch: usize,
        iter_in_epoch: usize,
        iters_per_epoch: usize,
        total_epochs: usize,
    ) -> f64 {
        self.at(
            base_lr,
            position(epoch, iter_in_epoch, iters_per_epoch),
            total_epochs as f64,
        )
    }
}

impl LrPolicy {
    pub fn validate(&self) -> Result<(), LrError> {
        self.schedule.validate()?;
        if let Some(w) = &self.warmup {
            let s = w.start_factor;
            check("warm-up start_factor", "in (0, 1]", s, s > 0.0 && s <= 1.0)?;
        }
        Ok(())
    }

    /// LR at iteration `iter_in_epoch` of `epoch` (both 0-based) in a run of `total_epochs`.
    pub fn lr_at(
        &self,
        base_lr: f64,
        epoch: usize,
        iter_in_epoch: usize,
        iters_per_epoch: usize,
        total_epochs: usize,
    ) -> f64 {
        let t = position(epoch, iter_in_epoch, iters_per_epoch);
        let w = self.warmup.as_ref().map_or(0, |w| w.epochs);
        if let Some(warm) = self
            .warmup
            .as_ref()
            .filter(|w| w.epochs > 0 && t < w.epochs as f64)
        {
            let s = warm.start_factor;
            return base_lr * (s + (1.0 - s) * t / warm.epochs as f64);
        }
        self.schedule
            .at(base_lr, t - w as f64, total_epochs.saturating_sub(w) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }

    #[test]
    fn constant() {
        close(LrSchedule::Constant.lr_at(0.001, 7, 3, 10, 20), 0.001);
        close(LrPolicy::default().lr_at(0.01, 100, 0, 10, 5), 0.01);
    }

    #[test]
    fn step_decay_at_epoch_boundaries() {
        let s = LrSchedule::Step {
            step_epochs: 3,
            gamma: 0.1,
        };
        close(s.lr_at(1.0, 0, 0, 10, 9), 1.0);
        close(s.lr_at(1.0, 2, 9, 10, 9), 1.0);
        close(s.lr_at(1.0, 3, 0, 10, 9), 0.1);
        close(s.lr_at(1.0, 6, 5, 10, 9), 0.01);
    }

    #[test]
    fn cosine_hand_values() {
        let c = LrSchedule::Cosine { min_lr: 0.0 };
        close(c.lr_at(0.1, 0, 0, 2, 10), 0.1);
        close(c.lr_at(0.1, 5, 0, 2, 10), 0.05);
        // t = 2.5 of 10: 0.05·(1 + cos(π/4))
        close(
            c.lr_at(0.1, 2, 1, 2, 10),
            0.05 * (1.0 + std::f64::consts::FRAC_1_SQRT_2),
        );
        close(c.lr_at(0.1, 10, 0, 2, 10), 0.0);
        close(c.lr_at(0.1, 12, 0, 2, 10), 0.0); // held at min past the end
        let m = LrSchedule::Cosine { min_lr: 0.02 };
        close(m.lr_at(0.1, 5, 0, 2, 10), 0.06);
        close(m.lr_at(0.1, 0, 0, 2, 0), 0.1);
    }

    #[test]
    fn warmup_then_main() {
        let p = LrPolicy {
            schedule: LrSchedule::Cosine { min_lr: 0.0 },
            warmup: Some(Warmup {
                epochs: 2,
                start_factor: 0.1,
            }),
        };
        close(p.lr_at(1.0, 0, 0, 4, 12), 0.1);
        close(p.lr_at(1.0, 0, 2, 4, 12), 0.325); // t = 0.5: 0.1 + 0.9·0.25
        close(p.lr_at(1.0, 1, 0, 4, 12), 0.55);
        close(p.lr_at(1.0, 2, 0, 4, 12), 1.0); // cosine clock starts at 0
        close(p.lr_at(1.0, 7, 0, 4, 12), 0.5); // 5 of 10 cosine epochs
        close(p.lr_at(1.0, 12, 0, 4, 12), 0.0);
        let s = LrPolicy {
            schedule: LrSchedule::Step {
                step_epochs: 3,
                gamma: 0.5,
            },
            warmup: Some(Warmup {
                epochs: 1,
                start_factor: 0.5,
            }),
        };
        close(s.lr_at(2.0, 3, 0, 4, 10), 2.0); // 2 epochs after warm-up
        close(s.lr_at(2.0, 4, 0, 4, 10), 1.0);
    }

    #[test]
    fn validation_and_serde() {
        assert!(
            LrSchedule::Step {
                step_epochs: 0,
                gamma: 0.1
            }
            .validate()
            .is_err()
        );
        assert!(
            LrSchedule::Step {
                step_epochs: 1,
                gamma: 0.0
            }
            .validate()
            .is_err()
        );
        assert!(LrSchedule::Cosine { min_lr: -1.0 }.validate().is_err());
        let bad = LrPolicy {
            schedule: LrSchedule::Constant,
            warmup: Some(Warmup {
                epochs: 1,
                start_factor: 0.0,
            }),
        };
        assert!(bad.validate().is_err());
        assert!(LrPolicy::default().validate().is_ok());

        let p: LrPolicy = serde_json::from_str(
            r#"{"schedule":{"kind":"cosine","min_lr":1e-5},"warmup":{"epochs":5,"start_factor":0.01}}"#,
        )
        .unwrap();
        assert_eq!(p.schedule, LrSchedule::Cosine { min_lr: 1e-5 });
        let s: LrSchedule =
            serde_json::from_str(r#"{"kind":"step","step_epochs":30,"gamma":0.1}"#).unwrap();
        assert_eq!(
            s,
            LrSchedule::Step {
                step_epochs: 30,
                gamma: 0.1
            }
        );
        let c: LrPolicy = serde_json::from_str(r#"{"schedule":{"kind":"constant"}}"#).unwrap();
        assert_eq!(c, LrPolicy::default());
        assert_eq!(
            serde_json::to_string(&LrSchedule::Constant).unwrap(),
            r#"{"kind":"constant"}"#
        );
        assert!(serde_json::from_str::<LrSchedule>(r#"{"kind":"cosine","min-lr":0.1}"#).is_err());
        assert!(
            serde_json::from_str::<LrPolicy>(r#"{"schedule":{"kind":"constant"},"warmpu":null}"#)
                .is_err()
        );
    }
}
