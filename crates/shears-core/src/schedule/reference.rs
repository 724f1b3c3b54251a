//! The reference code's schedulers (`pruning/architecture/pruning_methods/schedulers.py`
//! on branch `main`, after the 2024-06-10 "fix start" commit), replayed operation by
//! operation: Python `round` for step counts, `round(x, 8)` in the iterative loop and
//! `round(x, 3)` in the logarithmic one, numpy `geomspace` and `sum` for the latter.

use super::{Count, MAX_STEPS, Resolved, ScheduleError, ScheduleKind, py_round, py_round_ndigits};

/// Stopping tolerance of `IterativeStepScheduler`: stop once within 0.1 % of the target.
const ITERATIVE_TOLERANCE: f64 = 0.001;

pub(super) fn plan(kind: ScheduleKind, end: f64, r: &Resolved) -> Result<Vec<f64>, ScheduleError> {
    let start = r.start;
    let step = match r.count {
        Count::Step(s) => s,
        // One-shot is the only kind that resolves to a step count under Reference.
        Count::Steps(_) => 0.0,
    };
    match kind {
        ScheduleKind::OneShot => Ok(vec![end]),
        ScheduleKind::Constant => constant(start, end, step),
        ScheduleKind::Geometric | ScheduleKind::Hybrid => iterative(kind, start, end, step),
        ScheduleKind::Logarithmic => logarithmic(start, end, step),
        ScheduleKind::Polynomial => Err(ScheduleError::NoReference { kind }),
    }
}

/// `round((end - start) / step)` as a step count, refusing zero or absurd counts.
fn step_count(kind: ScheduleKind, start: f64, end: f64, step: f64) -> Result<usize, ScheduleError> {
    let n = py_round((end - start) / step);
    if n < 1.0 {
        return Err(ScheduleError::Unreachable {
            kind,
            target: end,
            reason: format!(
                "round((target - start) / step) = round(({end} - {start}) / {step}) = 0 steps"
            ),
        });
    }
    if n > MAX_STEPS as f64 {
        return Err(ScheduleError::TooManySteps {
            kind,
            needed: format!("{n}"),
            max: MAX_STEPS,
        });
    }
    Ok(n as usize)
}

/// `ConstantStepScheduler`: `[start]` if `start != 0`, then `step` repeated
/// `round((end - start) / step)` times (banker's rounding: 0.9/0.2 gives 4 steps, total 0.8).
fn constant(start: f64, end: f64, step: f64) -> Result<Vec<f64>, ScheduleError> {
    let n = step_count(ScheduleKind::Constant, start, end, step)?;
    let mut out = Vec::with_capacity(n + 1);
    if start != 0.0 {
        out.push(start);
    }
    out.extend(std::iter::repeat_n(step, n));
    Ok(out)
}

/// `IterativeStepScheduler`. With `start == 0` each step is `round(step · remaining, 8)`;
/// with `start != 0` (hybrid) the first step is `start` and then `step · d` where `d` is a
/// separate "dummy_one" remainder starting at 1, i.e. geometric as if on a fresh network
/// (`docs/design.md#hybrid`). The loop stops once within 0.001 of `end`, without clipping the
/// last step.
fn iterative(
    kind: ScheduleKind,
    start: f64,
    end: f64,
    step: f64,
) -> Result<Vec<f64>, ScheduleError> {
    let r8 = |x: f64| py_round_ndigits(x, 8);
    let mut out = Vec::new();
    let mut remaining = 1.0_f64;
    let mut dummy_one = 1.0_f64;
    let hybrid = start != 0.0;
    if hybrid {
        out.push(start);
        remaining -= r8(start * remaining);
    }
    while remaining - (1.0 - end) > ITERATIVE_TOLERANCE {
        let current = if hybrid {
            let s = r8(step * dummy_one);
            dummy_one = r8(dummy_one - s);
            s
        } else {
            r8(step * remaining)
        };
        remaining = r8(remaining - current);
        if current <= 0.0 {
            // The reference asserts "The pruning step is too small."
            return Err(ScheduleError::Unreachable {
                kind,
                target: end,
                reason: format!(
                    "step {} rounds to 0 at 8 decimals (step {step} too small)",
                    out.len()
                ),
            });
        }
        out.push(current);
        if out.len() > MAX_STEPS {
            return Err(ScheduleError::TooManySteps {
                kind,
                needed: format!("more than {MAX_STEPS}"),
                max: MAX_STEPS,
            });
        }
    }
    Ok(out)
}

/// `LogarithmicStepScheduler`: `[start]` if `start != 0`, then `n = round((end-start)/step)`
/// values `geomspace(1, n, n)` scaled to sum `end - start`, largest first, each
/// `round(v, 3)`.
fn logarithmic(start: f64, end: f64, step: f64) -> Result<Vec<f64>, ScheduleError> {
    let n = step_count(ScheduleKind::Logarithmic, start, end, step)?;
    let total = end - start;
    let mut values = geomspace_1_to_n(n);
    let factor = total / numpy_sum(&values);
    for v in &mut values {
        *v *= factor;
    }
    let mut out = Vec::with_capacity(n + 1);
    if start != 0.0 {
        out.push(start);
    }
    out.extend(values.iter().rev().map(|&v| py_round_ndigits(v, 3)));
    Ok(out)
}

/// `numpy.geomspace(1, n, num=n)`: `10 ** linspace(log10(1), log10(n), n)` with both
/// endpoints then set exactly (`[1]` for `n = 1`, empty for `n = 0`).
pub(super) fn geomspace_1_to_n(n: usize) -> Vec<f64> {
    match n {
        0 => Vec::new(),
        1 => vec![1.0],
        _ => {
            let log_stop = (n as f64).log10();
            let delta = log_stop / (n - 1) as f64;
            let mut v: Vec<f64> = (0..n).map(|i| 10f64.powf(i as f64 * delta)).collect();
            v[0] = 1.0;
            v[n - 1] = n as f64;
            v
        }
    }
}

/// numpy's pairwise summation (`np.sum` on a contiguous float64 array): a plain loop below
/// 8 elements, eight interleaved accumulators up to 128, recursive halving above.
pub(super) fn numpy_sum(a: &[f64]) -> f64 {
    const BLOCK: usize = 128;
    let n = a.len();
    if n < 8 {
        a.iter().fold(-0.0, |acc, &x| acc + x)
    } else if n <= BLOCK {
        let mut r = [0.0_f64; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - n % 8 {
            for (j, acc) in r.iter_mut().enumerate() {
                *acc += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &a[i..] {
            res += x;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        numpy_sum(&a[..n2]) + numpy_sum(&a[n2..])
    }
}
