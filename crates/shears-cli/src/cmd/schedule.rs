//! `shears schedule`: print a pruning plan without touching a model.

use super::common::{plural, print_json};
use anyhow::Result;
use clap::Args;
use shears_core::schedule::{Compat, ScheduleError, ScheduleKind, ScheduleSpec};

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct ScheduleArgs {
    /// one-shot, constant, geometric, logarithmic, hybrid or polynomial.
    pub kind: ScheduleKind,
    /// Final sparsity (fraction of the original prunable weights), in (0, 1).
    #[arg(long)]
    pub target: f64,
    /// Per-step amount: constant = fraction of the original removed per step; geometric /
    /// hybrid = fraction of the remaining removed per step.
    #[arg(long, conflicts_with = "steps")]
    pub step: Option<f64>,
    /// Number of pruning steps (after the hybrid's first jump).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Sparsity of the first, one-shot jump (hybrid: required).
    #[arg(long)]
    pub start: Option<f64>,
    /// Exponent of the polynomial (AGP) schedule.
    #[arg(long, default_value_t = 3.0)]
    pub power: f64,
    /// `exact` (hits the target exactly) or `reference` (the paper's code, rounding included).
    #[arg(long, default_value = "exact")]
    pub compat: Compat,
    /// Check that every step removes at least one of this many weights.
    #[arg(long)]
    pub weights: Option<u64>,
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: ScheduleArgs) -> Result<()> {
    let spec = ScheduleSpec {
        kind: a.kind,
        target: a.target,
        step: a.step,
        steps: a.steps,
        start: a.start,
        power: a.power,
        compat: a.compat,
    };
    let plan = spec.plan().map_err(flag_error)?;
    if let Some(n) = a.weights {
        plan.check_resolvable(n)?;
    }
    let report = plan.report();
    if a.json {
        return print_json(&serde_json::to_value(&report)?);
    }
    println!("{:>5}  {:>12}  {:>12}", "step", "removed", "cumulative");
    for (i, (s, c)) in report.steps.iter().zip(&report.cumulative).enumerate() {
        println!("{:>5}  {:>12.8}  {:>12.8}", i + 1, s, c);
    }
    println!(
        "total {:.8} in {} ({} compat; fractions of the original prunable weights)",
        report.total,
        plural(report.steps.len(), "step"),
        a.compat
    );
    Ok(())
}

/// A schedule error in terms of this command's flags: a missing parameter names its flag.
fn flag_error(e: ScheduleError) -> anyhow::Error {
    use ScheduleError as E;
    let message = match &e {
        E::MissingStart { value: None } => {
            "hybrid needs --start: the sparsity of its first, one-shot jump, in (0, --target) \
             (e.g. --start 0.5)"
                .to_string()
        }
        E::MissingStart { value: Some(v) } => {
            format!("hybrid needs --start > 0 (its first, one-shot jump), got {v}")
        }
        E::StepOrSteps {
            kind,
            step: None,
            steps: None,
        } => format!(
            "{kind} needs --step (the amount each step removes) or --steps (the number of steps)"
        ),
        E::ReferenceNeedsStep { kind, .. } => {
            format!("--compat reference: {kind} needs --step and takes no --steps")
        }
        E::OneShotSteps { steps } => {
            format!("one-shot has exactly one step; drop --steps {steps}")
        }
        E::StartNotSupported { kind, value } => {
            format!("{kind} takes no --start (got {value}); use hybrid for a one-shot jump")
        }
        E::NoReference { kind } => {
            format!("{kind} has no reference semantics; use --compat exact")
        }
        // These start with the name of the field, which is the flag's.
        E::InvalidTarget { .. }
        | E::InvalidStep { .. }
        | E::InvalidSteps { .. }
        | E::InvalidStart { .. }
        | E::InvalidPower { .. } => format!("--{e}"),
        _ => e.to_string(),
    };
    anyhow::anyhow!(message)
}
