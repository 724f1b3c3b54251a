//! `shears schedule`: print a pruning plan without touching a model.

use super::common::print_json;
use anyhow::Result;
use clap::Args;
use shears_core::schedule::{Compat, ScheduleKind, ScheduleSpec};

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
    let plan = spec.plan()?;
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
        "total {:.8} in {} steps ({} compat)",
        report.total,
        report.steps.len(),
        a.compat
    );
    Ok(())
}
