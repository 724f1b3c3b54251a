//! Pruning schedules: what fraction of the **original** prunable count to remove at each step.
//!
//! A [`ScheduleSpec`] is a small immutable description (kind, target, step or steps, start);
//! [`ScheduleSpec::plan`] materialises it into a [`Plan`], the list of per-step fractions.
//! Every value is a fraction of the *original* count, as in the reference code
//! (`docs/design.md#fractions-of-the-original-count`),
//! so a consumer removes `floor(n · v)` additional entries at a step.
//!
//! Two semantics are offered, picked by [`Compat`]:
//! - [`Compat::Exact`] (default): the cumulative sparsity hits `target` exactly and rises
//!   strictly, so comparisons between regimes are not blurred by rounding artefacts.
//! - [`Compat::Reference`]: bit-for-bit the schedulers of the reference code
//!   (`janumiko/pruning-benchmark`, branch `main`; `docs/design.md#reference-arithmetic`),
//!   Python rounding included, so published runs can be replayed (including their overshoot
//!   and undershoot).
//!
//! In every kind, `steps` counts the steps *after* an optional `start` jump: a plan with
//! `start > 0` has `steps + 1` entries, the first being `start` itself.
//!
//! ```
//! use shears_core::schedule::{Compat, ScheduleKind, ScheduleSpec};
//!
//! // The paper's hybrid: a 60% one-shot jump, then three geometric steps up to 90%.
//! let hybrid = ScheduleSpec::new(ScheduleKind::Hybrid, 0.9)
//!     .with_start(0.6)
//!     .with_steps(3)
//!     .plan()?;
//! assert_eq!(hybrid.len(), 4);
//! assert_eq!(hybrid.steps[0], 0.6);
//! assert!((hybrid.total() - 0.9).abs() < 1e-12);
//!
//! // The reference code's geometric scheduler stops within 0.001 of the target without
//! // clipping its last step, so it overshoots.
//! let reference = ScheduleSpec::new(ScheduleKind::Geometric, 0.9)
//!     .with_step(0.2)
//!     .with_compat(Compat::Reference)
//!     .plan()?;
//! assert_eq!(reference.len(), 11);
//! assert!((reference.total() - 0.914101).abs() < 1e-6);
//! # Ok::<(), shears_core::schedule::ScheduleError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

mod exact;
mod manual;
mod plan;
mod pyround;
mod reference;
#[cfg(test)]
mod tests;

pub use manual::ManualSchedule;
pub use plan::{Plan, PlanReport};
pub use pyround::{py_round, py_round_ndigits};

/// Upper bound on the number of steps a plan may have; guards against runaway step counts
/// (a tiny `step` rate would otherwise allocate millions of fine-tuning phases).
pub const MAX_STEPS: usize = 100_000;

/// Tolerance used when deriving a step count from a `step` size/rate in [`Compat::Exact`],
/// so that e.g. `0.9 / 0.1 = 9.000000000000002` still means 9 steps.
pub const STEP_COUNT_TOLERANCE: f64 = 1e-9;

/// Which arithmetic a schedule follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Compat {
    /// Hits the target exactly with strictly rising cumulative sparsity.
    #[default]
    Exact,
    /// Replicates the reference code's schedulers exactly (`docs/design.md#reference-arithmetic`).
    Reference,
}

/// The shape of a schedule (`docs/design.md#regimes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScheduleKind {
    /// One step removing `target` at once.
    #[serde(alias = "one_shot", alias = "oneshot")]
    OneShot,
    /// Equal steps, each a fixed fraction of the original count.
    Constant,
    /// Each step removes a fixed fraction of the *remaining* weights ("iterative" in the
    /// reference code).
    #[serde(alias = "iterative")]
    Geometric,
    /// Log-spaced steps, largest first (reference `LogarithmicStepScheduler`; not in the paper).
    Logarithmic,
    /// The paper's few-shot hybrid: one large step `start`, then geometric steps
    /// (`docs/design.md#hybrid`).
    #[serde(alias = "few-shot", alias = "few_shot")]
    Hybrid,
    /// Zhu & Gupta's gradual (AGP) cubic-style schedule; no reference form exists.
    #[serde(alias = "agp")]
    Polynomial,
}

impl ScheduleKind {
    /// All kinds, in documentation order.
    pub const ALL: [ScheduleKind; 6] = [
        ScheduleKind::OneShot,
        ScheduleKind::Constant,
        ScheduleKind::Geometric,
        ScheduleKind::Logarithmic,
        ScheduleKind::Hybrid,
        ScheduleKind::Polynomial,
    ];

    /// The canonical (serde / CLI) name.
    pub fn name(self) -> &'static str {
        match self {
            ScheduleKind::OneShot => "one-shot",
            ScheduleKind::Constant => "constant",
            ScheduleKind::Geometric => "geometric",
            ScheduleKind::Logarithmic => "logarithmic",
            ScheduleKind::Hybrid => "hybrid",
            ScheduleKind::Polynomial => "polynomial",
        }
    }
}

impl fmt::Display for ScheduleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ScheduleKind {
    type Err = ScheduleError;

    /// Case-insensitive; accepts the canonical names plus the reference-code aliases
    /// `iterative` (geometric), `few-shot`/`few_shot` (hybrid), `one_shot`/`oneshot` and `agp`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let kind = match lower.as_str() {
            "one-shot" | "one_shot" | "oneshot" => ScheduleKind::OneShot,
            "constant" => ScheduleKind::Constant,
            "geometric" | "iterative" => ScheduleKind::Geometric,
            "logarithmic" => ScheduleKind::Logarithmic,
            "hybrid" | "few-shot" | "few_shot" => ScheduleKind::Hybrid,
            "polynomial" | "agp" => ScheduleKind::Polynomial,
            _ => {
                return Err(ScheduleError::UnknownKind {
                    name: s.to_string(),
                });
            }
        };
        Ok(kind)
    }
}

impl Compat {
    /// The canonical (serde / CLI) name.
    pub fn name(self) -> &'static str {
        match self {
            Compat::Exact => "exact",
            Compat::Reference => "reference",
        }
    }
}

impl fmt::Display for Compat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Compat {
    type Err = ScheduleError;

    /// Case-insensitive `exact` or `reference`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "exact" => Ok(Compat::Exact),
            "reference" => Ok(Compat::Reference),
            _ => Err(ScheduleError::UnknownCompat {
                name: s.to_string(),
            }),
        }
    }
}

/// Everything that can be wrong with a schedule, reported before any pruning work starts.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// `target` outside (0, 1) or NaN.
    #[error("target must be in (0, 1), got {value}")]
    InvalidTarget { value: f64 },
    /// `step` outside (0, 1) or NaN.
    #[error("step must be in (0, 1), got {value}")]
    InvalidStep { value: f64 },
    /// `steps = 0`, or more than [`MAX_STEPS`].
    #[error("steps must be in 1..={max}, got {value}")]
    InvalidSteps { value: usize, max: usize },
    /// `start` negative, NaN, or not below `target`.
    #[error("start must be in [0, target) = [0, {target}), got {value}")]
    InvalidStart { value: f64, target: f64 },
    /// `power` (polynomial) not a positive finite number.
    #[error("power must be a positive finite number, got {value}")]
    InvalidPower { value: f64 },
    /// A hybrid schedule needs the one-shot fraction `start` (p_k).
    #[error("hybrid schedule requires start > 0 (the one-shot fraction p_k), got {value:?}")]
    MissingStart { value: Option<f64> },
    /// A kind that takes no `start` was given one.
    #[error("{kind} schedule takes no start (got {value}); use hybrid for a one-shot jump")]
    StartNotSupported { kind: ScheduleKind, value: f64 },
    /// Both or neither of `step` and `steps` for a multi-step kind.
    #[error(
        "{kind} schedule needs exactly one of `step` or `steps` (got step={step:?}, steps={steps:?})"
    )]
    StepOrSteps {
        kind: ScheduleKind,
        step: Option<f64>,
        steps: Option<usize>,
    },
    /// One-shot with `steps > 1`.
    #[error("one-shot schedule has exactly one step, got steps={steps}")]
    OneShotSteps { steps: usize },
    /// Reference semantics are defined by a per-step `step`, never by a step count.
    #[error(
        "reference {kind} schedule needs `step` and takes no `steps` (got step={step:?}, steps={steps:?})"
    )]
    ReferenceNeedsStep {
        kind: ScheduleKind,
        step: Option<f64>,
        steps: Option<usize>,
    },
    /// A kind with no reference-code counterpart was asked for `Compat::Reference`.
    #[error("{kind} has no reference semantics; use compat = exact")]
    NoReference { kind: ScheduleKind },
    /// The plan would need more than [`MAX_STEPS`] steps.
    #[error("{kind} schedule would need {needed} steps (more than {max}); use a larger step")]
    TooManySteps {
        kind: ScheduleKind,
        needed: String,
        max: usize,
    },
    /// The plan cannot reach the target (empty plan, vanishing or non-finite step).
    #[error("{kind} schedule cannot reach target {target}: {reason}")]
    Unreachable {
        kind: ScheduleKind,
        target: f64,
        reason: String,
    },
    /// A step removes less than one entry: `floor(n · v) == 0`.
    #[error(
        "step {index} removes fraction {value} of {n_prunable} prunable entries, i.e. floor({n_prunable} x {value}) = 0 entries"
    )]
    Unresolvable {
        index: usize,
        value: f64,
        n_prunable: u64,
    },
    /// A manual schedule with no steps.
    #[error("manual schedule has no steps")]
    ManualEmpty,
    /// A manual step list whose length is neither 1 nor the number of prunable layers.
    #[error(
        "manual step {step} has {len} values; expected 1 (broadcast) or {n_layers} (one per prunable layer)"
    )]
    ManualLength {
        step: usize,
        len: usize,
        n_layers: usize,
    },
    /// A manual value outside [0, 1) or NaN.
    #[error("manual step {step}, layer {layer}: value must be in [0, 1), got {value}")]
    ManualValue {
        step: usize,
        layer: usize,
        value: f64,
    },
    /// A layer whose manual fractions add up to 1 or more (it would lose every entry).
    #[error("manual schedule removes {total} of layer {layer} in total; must stay below 1")]
    ManualLayerTotal { layer: usize, total: f64 },
    /// Asked for `n_layers = 0`.
    #[error("manual schedule needs at least one prunable layer, got n_layers = 0")]
    ManualNoLayers,
    /// An unknown schedule kind name.
    #[error(
        "unknown schedule kind `{name}`; expected one of one-shot, constant, geometric, logarithmic, hybrid, polynomial"
    )]
    UnknownKind { name: String },
    /// An unknown compat name.
    #[error("unknown compat `{name}`; expected exact or reference")]
    UnknownCompat { name: String },
}

fn default_power() -> f64 {
    3.0
}

/// A schedule description, as embedded in a config file or built from CLI flags.
///
/// Field meaning per kind (see the module docs for the two semantics):
/// - `target`: final cumulative sparsity (fraction of the original count), in (0, 1).
/// - `step`: per-step fraction of the original (constant, logarithmic, polynomial) or
///   per-step rate of the remaining (geometric, hybrid); in (0, 1).
/// - `steps`: number of steps after `start` ([`Compat::Exact`] only; exclusive with `step`).
/// - `start`: size of a first one-shot jump (required for hybrid, optional for constant,
///   logarithmic and polynomial; `0` means none).
/// - `power`: exponent of the polynomial (AGP) schedule, default 3.
///
/// Under [`Compat::Exact`] a geometric/hybrid `step` rate gives the smallest `n` with
/// `1 − (1 − step)^n ≥ target − start` (within 1e-9), then the rate is re-derived from `n`
/// (the reference's `kamil` scripts, `docs/design.md#geometric-step-counts`). Feeding back an
/// already-adjusted, 5-decimal rate from the paper's Tables 3–4 can therefore give `n + 1`;
/// pass `steps = n` to replay those tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    pub kind: ScheduleKind,
    pub target: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<f64>,
    #[serde(default = "default_power")]
    pub power: f64,
    #[serde(default)]
    pub compat: Compat,
}

impl ScheduleSpec {
    /// A spec with only `kind` and `target` set (power 3, exact compat).
    pub fn new(kind: ScheduleKind, target: f64) -> Self {
        ScheduleSpec {
            kind,
            target,
            step: None,
            steps: None,
            start: None,
            power: default_power(),
            compat: Compat::Exact,
        }
    }

    /// Sets `step`.
    pub fn with_step(mut self, step: f64) -> Self {
        self.step = Some(step);
        self
    }

    /// Sets `steps`.
    pub fn with_steps(mut self, steps: usize) -> Self {
        self.steps = Some(steps);
        self
    }

    /// Sets `start`.
    pub fn with_start(mut self, start: f64) -> Self {
        self.start = Some(start);
        self
    }

    /// Sets the polynomial `power`.
    pub fn with_power(mut self, power: f64) -> Self {
        self.power = power;
        self
    }

    /// Sets the compat mode.
    pub fn with_compat(mut self, compat: Compat) -> Self {
        self.compat = compat;
        self
    }

    /// The `start` jump, with `None` read as 0 (the reference code's `start != 0` test).
    pub fn start_or_zero(&self) -> f64 {
        self.start.unwrap_or(0.0)
    }

    /// Checks every field for this kind and compat without building the plan, so a config
    /// can be rejected before any model is loaded.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        self.resolve().map(|_| ())
    }

    /// Materialises the per-step fractions.
    ///
    /// ```
    /// use shears_core::schedule::{ScheduleKind, ScheduleSpec};
    ///
    /// // Constant: equal steps of the original count; `step` 0.3 means ceil(0.9 / 0.3) = 3 steps.
    /// let plan = ScheduleSpec::new(ScheduleKind::Constant, 0.9).with_step(0.3).plan()?;
    /// assert_eq!(plan.len(), 3);
    /// assert!(plan.steps.iter().all(|&v| (v - 0.3).abs() < 1e-12));
    ///
    /// // Geometric: each step removes the same fraction of the weights still there.
    /// let plan = ScheduleSpec::new(ScheduleKind::Geometric, 0.875).with_steps(3).plan()?;
    /// let expected = [0.5, 0.25, 0.125]; // half of what remains, three times
    /// assert!(plan.steps.iter().zip(expected).all(|(v, e)| (v - e).abs() < 1e-12));
    ///
    /// // Invalid fields are reported before any work.
    /// assert!(ScheduleSpec::new(ScheduleKind::OneShot, 1.0).plan().is_err());
    /// # Ok::<(), shears_core::schedule::ScheduleError>(())
    /// ```
    pub fn plan(&self) -> Result<Plan, ScheduleError> {
        let resolved = self.resolve()?;
        let steps = match self.compat {
            Compat::Exact => exact::plan(self.kind, self.target, &resolved, self.power)?,
            Compat::Reference => reference::plan(self.kind, self.target, &resolved)?,
        };
        if steps.is_empty() {
            return Err(ScheduleError::Unreachable {
                kind: self.kind,
                target: self.target,
                reason: "the schedule has no steps".into(),
            });
        }
        Ok(Plan { steps })
    }

    /// Validates the fields and decides how the step count is given.
    fn resolve(&self) -> Result<Resolved, ScheduleError> {
        let kind = self.kind;
        let target = self.target;
        if !(target > 0.0 && target < 1.0) {
            return Err(ScheduleError::InvalidTarget { value: target });
        }
        if self.compat == Compat::Reference && kind == ScheduleKind::Polynomial {
            return Err(ScheduleError::NoReference { kind });
        }
        if kind == ScheduleKind::Polynomial && !(self.power > 0.0 && self.power.is_finite()) {
            return Err(ScheduleError::InvalidPower { value: self.power });
        }

        // start
        let start = match self.start {
            None => 0.0,
            Some(s) if s >= 0.0 && s < target => s,
            Some(s) => return Err(ScheduleError::InvalidStart { value: s, target }),
        };
        match kind {
            ScheduleKind::Hybrid if start <= 0.0 => {
                return Err(ScheduleError::MissingStart { value: self.start });
            }
            ScheduleKind::Geometric if start > 0.0 => {
                return Err(ScheduleError::StartNotSupported { kind, value: start });
            }
            // The reference one-shot ignores start; an exact one-shot with a start is a
            // mistake (the jump would be the whole plan), so reject it.
            ScheduleKind::OneShot if start > 0.0 && self.compat == Compat::Exact => {
                return Err(ScheduleError::StartNotSupported { kind, value: start });
            }
            _ => {}
        }

        // steps (validated whenever present)
        if let Some(n) = self.steps
            && (n == 0 || n > MAX_STEPS)
        {
            return Err(ScheduleError::InvalidSteps {
                value: n,
                max: MAX_STEPS,
            });
        }

        if kind == ScheduleKind::OneShot {
            // `step` is meaningless for one-shot (the reference config defaults it to 0.0).
            if let Some(n) = self.steps
                && n > 1
            {
                return Err(ScheduleError::OneShotSteps { steps: n });
            }
            return Ok(Resolved {
                start,
                count: Count::Steps(1),
            });
        }

        if let Some(s) = self.step
            && !(s > 0.0 && s < 1.0)
        {
            return Err(ScheduleError::InvalidStep { value: s });
        }
        let count = match (self.compat, self.step, self.steps) {
            (Compat::Reference, Some(s), None) => Count::Step(s),
            (Compat::Reference, step, steps) => {
                return Err(ScheduleError::ReferenceNeedsStep { kind, step, steps });
            }
            (Compat::Exact, Some(s), None) => Count::Step(s),
            (Compat::Exact, None, Some(n)) => Count::Steps(n),
            (Compat::Exact, step, steps) => {
                return Err(ScheduleError::StepOrSteps { kind, step, steps });
            }
        };
        Ok(Resolved { start, count })
    }
}

/// How the number of steps was specified.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Count {
    /// A per-step size (constant/logarithmic/polynomial) or rate (geometric/hybrid).
    Step(f64),
    /// An explicit number of steps after `start`.
    Steps(usize),
}

/// Validated inputs shared by both semantics.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Resolved {
    /// 0 when absent.
    start: f64,
    count: Count,
}
