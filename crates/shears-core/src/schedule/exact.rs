//! `Compat::Exact`: schedules whose cumulative sparsity reaches the target exactly.
//!
//! Each kind computes its ideal per-step fractions in closed form; the last step is then set
//! to `target − (sum of the others)` so the running sum ends on the target to within one
//! rounding of the final addition (drift is ~1e-16, far below one weight).

use super::reference::geomspace_1_to_n;
use super::{Count, MAX_STEPS, Resolved, STEP_COUNT_TOLERANCE, ScheduleError, ScheduleKind};

pub(super) fn plan(
    kind: ScheduleKind,
    target: f64,
    r: &Resolved,
    power: f64,
) -> Result<Vec<f64>, ScheduleError> {
    let start = r.start;
    let span = target - start;
    let mut out = Vec::new();
    if start > 0.0 {
        out.push(start);
    }
    match kind {
        ScheduleKind::OneShot => out.push(target),
        ScheduleKind::Constant => {
            let n = linear_count(kind, span, r.count)?;
            out.extend(std::iter::repeat_n(span / n as f64, n));
        }
        ScheduleKind::Logarithmic => {
            let n = linear_count(kind, span, r.count)?;
            let w = geomspace_1_to_n(n);
            let sum: f64 = w.iter().sum();
            out.extend(w.iter().rev().map(|&x| x * span / sum));
        }
        ScheduleKind::Geometric | ScheduleKind::Hybrid => {
            let n = geometric_count(kind, span, r.count)?;
            out.extend(geometric(span, n));
        }
        ScheduleKind::Polynomial => {
            let n = linear_count(kind, span, r.count)?;
            // Late AGP increments can be ~1e-16, so track the levels rather than summing
            // increments: each step is the next level minus the running sum.
            let mut acc = out.iter().fold(0.0, |a, &v| a + v);
            for level in polynomial_levels(start, target, n, power) {
                let step = level - acc;
                out.push(step);
                acc += step;
            }
        }
    }
    close_on_target(&mut out, target);
    check_strict(kind, target, &out)?;
    Ok(out)
}

/// Step count for kinds whose `step` is a fraction of the original: `ceil(span / step)`
/// (at least 1), with a small tolerance so 0.9 / 0.1 means 9.
fn linear_count(kind: ScheduleKind, span: f64, count: Count) -> Result<usize, ScheduleError> {
    match count {
        Count::Steps(n) => Ok(n),
        Count::Step(s) => {
            let x = (span / s - STEP_COUNT_TOLERANCE).ceil().max(1.0);
            to_count(kind, x)
        }
    }
}

/// Step count for geometric kinds whose `step` is a rate of the remaining: the smallest `n`
/// with `1 − (1 − step)^n >= span` (within 1e-9), as the reference's `kamil` scripts do
/// (`docs/design.md#geometric-step-counts`).
fn geometric_count(kind: ScheduleKind, span: f64, count: Count) -> Result<usize, ScheduleError> {
    let rate = match count {
        Count::Steps(n) => return Ok(n),
        Count::Step(s) => s,
    };
    let reached = |n: f64| -(n * (-rate).ln_1p()).exp_m1();
    let x = ((-span).ln_1p() / (-rate).ln_1p()).ceil().max(1.0);
    let mut n = to_count(kind, x)? as f64;
    while n > 1.0 && reached(n - 1.0) >= span - STEP_COUNT_TOLERANCE {
        n -= 1.0;
    }
    while reached(n) < span - STEP_COUNT_TOLERANCE {
        n += 1.0;
    }
    to_count(kind, n)
}

fn to_count(kind: ScheduleKind, x: f64) -> Result<usize, ScheduleError> {
    if x.is_finite() && x <= MAX_STEPS as f64 {
        Ok(x as usize)
    } else {
        Err(ScheduleError::TooManySteps {
            kind,
            needed: format!("{x}"),
            max: MAX_STEPS,
        })
    }
}

/// `n` steps removing `r(1 − r)^k` of the original, `r = 1 − (1 − span)^(1/n)`, so together
/// they remove `span` (as on a fresh network; `docs/design.md#hybrid`).
fn geometric(span: f64, n: usize) -> impl Iterator<Item = f64> {
    let log_keep = (-span).ln_1p() / n as f64; // ln(1 − r)
    let rate = -log_keep.exp_m1();
    (0..n).map(move |k| rate * (k as f64 * log_keep).exp())
}

/// Zhu & Gupta AGP sparsity levels `s_t = s_f + (s_i − s_f)(1 − t/n)^power`, `t = 1..=n`,
/// with `s_i = start` (a `start > 0` is its own first step, pushed by the caller) and
/// `s_n = s_f = target` exactly.
fn polynomial_levels(start: f64, target: f64, n: usize, power: f64) -> impl Iterator<Item = f64> {
    (1..=n).map(move |t| target + (start - target) * (1.0 - t as f64 / n as f64).powf(power))
}

/// Sets the last step so the running sum lands on `target`.
fn close_on_target(steps: &mut [f64], target: f64) {
    if let Some((last, rest)) = steps.split_last_mut() {
        let before = rest.iter().fold(0.0, |acc, &v| acc + v);
        *last = target - before;
    }
}

/// Every step positive and finite, cumulative strictly rising and ending on the target.
fn check_strict(kind: ScheduleKind, target: f64, steps: &[f64]) -> Result<(), ScheduleError> {
    let mut acc = 0.0_f64;
    for (i, &v) in steps.iter().enumerate() {
        let next = acc + v;
        if !(v.is_finite() && v > 0.0 && next > acc) {
            return Err(ScheduleError::Unreachable {
                kind,
                target,
                reason: format!("step {i} would remove {v} (not a positive fraction)"),
            });
        }
        acc = next;
    }
    if (acc - target).abs() > 1e-12 {
        return Err(ScheduleError::Unreachable {
            kind,
            target,
            reason: format!("steps add up to {acc}"),
        });
    }
    Ok(())
}
