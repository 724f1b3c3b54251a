//! The built-in regimes of `shears compare` as typed recipes: a schedule kind, a step count,
//! the hybrid's first jump as a factor of the target and the fine-tuning patience per step,
//! applied to an [`ExperimentConfig`]'s fields.

use crate::config::ExperimentConfig;
use shears_core::schedule::{ScheduleKind, ScheduleSpec};
use std::fmt;
use std::str::FromStr;

/// A built-in regime of the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Regime {
    OneShot,
    Geometric,
    Constant,
    Hybrid,
}

/// Patience of a long fine-tuning: one-shot's step and the hybrid's first jump.
const LONG_PATIENCE: usize = 5;
/// Patience of an iterative step.
const SHORT_PATIENCE: usize = 1;

impl Regime {
    pub const ALL: [Regime; 4] = [
        Regime::OneShot,
        Regime::Geometric,
        Regime::Constant,
        Regime::Hybrid,
    ];

    /// The regime's name in results and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Regime::OneShot => "one-shot",
            Regime::Geometric => "geometric",
            Regime::Constant => "constant",
            Regime::Hybrid => "hybrid",
        }
    }

    /// The built-in recipe: patience-based fine-tuning where one-shot and the hybrid's first
    /// step get a long patience and iterative steps a short one, as in the study the
    /// comparison reproduces; geometric and constant prune in 5 steps, the hybrid jumps to 70%
    /// of the target first, then takes 3 geometric steps.
    pub fn recipe(self) -> RegimeRecipe {
        let recipe = |kind, steps, start_factor, patience: &[usize]| RegimeRecipe {
            kind,
            steps,
            start_factor,
            patience: patience.to_vec(),
        };
        match self {
            Regime::OneShot => recipe(ScheduleKind::OneShot, None, None, &[LONG_PATIENCE]),
            Regime::Geometric => recipe(ScheduleKind::Geometric, Some(5), None, &[SHORT_PATIENCE]),
            Regime::Constant => recipe(ScheduleKind::Constant, Some(5), None, &[SHORT_PATIENCE]),
            Regime::Hybrid => recipe(
                ScheduleKind::Hybrid,
                Some(3),
                Some(0.7),
                &[LONG_PATIENCE, SHORT_PATIENCE],
            ),
        }
    }
}

impl fmt::Display for Regime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Regime {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Regime::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| format!("unknown regime '{s}' (one-shot, geometric, constant, hybrid)"))
    }
}

/// How a regime sets up an experiment at a target: its schedule and its patience.
#[derive(Debug, Clone, PartialEq)]
pub struct RegimeRecipe {
    pub kind: ScheduleKind,
    /// Pruning steps (after the hybrid's first jump); `None` for one-shot.
    pub steps: Option<usize>,
    /// The hybrid's first jump as a fraction of the target: `start = target × factor`,
    /// rounded by [`scaled_target`].
    pub start_factor: Option<f64>,
    /// Fine-tuning patience per step (step i uses element min(i, len−1)).
    pub patience: Vec<usize>,
}

impl RegimeRecipe {
    /// The regime's schedule at `target` (power and compat at their defaults).
    pub fn schedule(&self, target: f64) -> ScheduleSpec {
        ScheduleSpec {
            steps: self.steps,
            start: self.start_factor.map(|f| scaled_target(target, f)),
            ..ScheduleSpec::new(self.kind, target)
        }
    }

    /// Sets the schedule (target included) and the patience of `config`.
    pub fn apply(&self, config: &mut ExperimentConfig, target: f64) {
        config.schedule = self.schedule(target);
        config.finetune.patience = self.patience.clone();
    }

    /// The recipe as a sweep file writes it (`key=value` overrides, `{target*F}` for the
    /// start); what a report's `compare.json` records. Applied as overrides, they give the
    /// same experiments.
    pub fn overrides(&self) -> Vec<String> {
        let mut out = vec![format!("schedule.kind={}", self.kind.name())];
        if let Some(f) = self.start_factor {
            out.push(format!("schedule.start={{target*{f}}}"));
        }
        if let Some(n) = self.steps {
            out.push(format!("schedule.steps={n}"));
        }
        let patience: Vec<String> = self.patience.iter().map(usize::to_string).collect();
        out.push(format!("finetune.patience=[{}]", patience.join(",")));
        out
    }
}

/// `target × factor`, rounded to 6 decimals so the value is stable and readable in configs
/// (a sweep file's `{target*F}` placeholder gives the same).
pub fn scaled_target(target: f64, factor: f64) -> f64 {
    (target * factor * 1e6).round() / 1e6
}
