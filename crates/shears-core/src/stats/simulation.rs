//! Simulation tests: the error rates and power the statistics claim, measured on simulated
//! studies (seeded ChaCha, normal draws by Box–Muller), each beside a variant without the
//! safeguard to show that the assertion can fail.
//!
//! Tolerances are 3 binomial standard errors of the claimed rate at the replicate count
//! (√(p(1 − p)/R)): a correct method fails such a bound about once in 700 seeds, and the
//! seeds are fixed, so the tests are deterministic. `rates_for_the_docs` (ignored; run it
//! with `--ignored --nocapture`) prints the numbers docs/statistics.md quotes, with more
//! replicates.

use rand_chacha::ChaCha8Rng;

use super::tests_decisions::{normal, rng};
use super::*;

/// Replicates of the asserting tests.
const REPS: usize = 2000;

pub(super) fn tolerance(p: f64, reps: usize) -> f64 {
    3.0 * (p * (1.0 - p) / reps as f64).sqrt()
}

/// Final accuracies of two regimes over `n` shared seeds: a seed effect common to both (what
/// pairing cancels) plus independent noise with the paired differences' SD `sd_diff`.
pub(super) fn study(
    rng: &mut ChaCha8Rng,
    n: usize,
    delta: f64,
    sd_diff: f64,
) -> (Vec<f64>, Vec<f64>) {
    let noise = sd_diff / 2f64.sqrt();
    let mut a = Vec::with_capacity(n);
    let mut b = Vec::with_capacity(n);
    for _ in 0..n {
        let seed_effect = 0.01 * normal(rng);
        a.push(0.85 + delta + seed_effect + noise * normal(rng));
        b.push(0.85 + seed_effect + noise * normal(rng));
    }
    (a, b)
}

/// Family-wise "a winner is named" rate over a grid of `targets` null comparisons at 3 seeds:
/// (with Holm via [`judge_family`], with raw p < α).
fn null_grid_winner_rates(reps: usize, targets: usize, seed: u64) -> (f64, f64) {
    let mut rng = rng(seed);
    let (mut holm_hits, mut raw_hits) = (0usize, 0usize);
    for _ in 0..reps {
        let data: Vec<(Vec<f64>, Vec<f64>)> = (0..targets)
            .map(|_| study(&mut rng, 3, 0.0, 0.003))
            .collect();
        let pairs: Vec<(&[f64], &[f64])> = data.iter().map(|(a, b)| (&a[..], &b[..])).collect();
        let v = judge_family(&pairs, 0.005, ALPHA).unwrap();
        holm_hits += v
            .iter()
            .any(|p| matches!(p.verdict, Verdict::Better { .. })) as usize;
        raw_hits += v.iter().any(|p| p.test.significant(ALPHA)) as usize;
    }
    (
        holm_hits as f64 / reps as f64,
        raw_hits as f64 / reps as f64,
    )
}

#[test]
fn holm_keeps_the_family_wise_false_winner_rate_at_alpha() {
    let (holm, raw) = null_grid_winner_rates(REPS, 6, 12);
    assert!(holm <= ALPHA + tolerance(ALPHA, REPS), "with Holm: {holm}");
    // Without the correction one false winner in about 1 − 0.95⁶ ≈ 26% of studies.
    assert!(raw > 0.15, "without Holm: {raw}");
}

/// Rate at which a single comparison finds the better regime (with the right sign).
fn power_at(reps: usize, n: usize, delta: f64, sd_diff: f64, seed: u64) -> f64 {
    let mut rng = rng(seed);
    let hits = (0..reps)
        .filter(|_| {
            let (a, b) = study(&mut rng, n, delta, sd_diff);
            let v = judge_family(&[(&a, &b)], 0.005, ALPHA).unwrap();
            v[0].verdict == Verdict::Better { side: Side::A }
        })
        .count();
    hits as f64 / reps as f64
}

#[test]
fn seeds_needed_gives_the_promised_power() {
    // 1 pp true difference, paired SD 0.3 pp: the formula says 3 seeds.
    let n = seeds_needed(0.003, 0.01, ALPHA, POWER).unwrap();
    assert_eq!(n, 3);
    let p = power_at(REPS, n, 0.01, 0.003, 21);
    assert!(
        p >= POWER - tolerance(POWER, REPS),
        "power at {n} seeds: {p}"
    );
    // One seed fewer is clearly short: the formula's n is the smallest that works.
    let fewer = power_at(REPS, n - 1, 0.01, 0.003, 22);
    assert!(fewer < 0.6, "power at {} seeds: {fewer}", n - 1);
    // A larger count: 0.5 pp at SD 0.5 pp needs 10.
    let n = seeds_needed(0.005, 0.005, ALPHA, POWER).unwrap();
    let p = power_at(REPS, n, 0.005, 0.005, 23);
    assert!(
        p >= POWER - tolerance(POWER, REPS),
        "power at {n} seeds: {p}"
    );
}

/// How one sequential comparison ended and after how many seeds.
#[derive(Debug, Default, Clone, Copy)]
struct SeqRates {
    better_a: f64,
    better_b: f64,
    equivalent: f64,
    mean_seeds: f64,
}

/// Run `reps` sequential comparisons (3..=n_max seeds) of regimes `delta` apart; `naive`
/// tests at α at every look instead of the design's nominal levels.
fn sequential_rates(
    design: &SequentialDesign,
    reps: usize,
    delta: f64,
    sd_diff: f64,
    naive: bool,
    seed: u64,
) -> SeqRates {
    let mut rng = rng(seed);
    let mut r = SeqRates::default();
    for _ in 0..reps {
        let (a, b) = study(&mut rng, design.n_max, delta, sd_diff);
        for n in design.n_start..=design.n_max {
            let verdict = if naive {
                naive_decision(&a[..n], &b[..n], design)
            } else {
                match design.decide(&a[..n], &b[..n]).unwrap() {
                    SeqDecision::Continue => None,
                    SeqDecision::Stop { verdict } => Some(verdict),
                }
            };
            let Some(verdict) = verdict else { continue };
            match verdict {
                Verdict::Better { side: Side::A } => r.better_a += 1.0,
                Verdict::Better { side: Side::B } => r.better_b += 1.0,
                Verdict::Equivalent => r.equivalent += 1.0,
                Verdict::Inconclusive { .. } => {}
            }
            r.mean_seeds += n as f64;
            break;
        }
    }
    let k = reps as f64;
    SeqRates {
        better_a: r.better_a / k,
        better_b: r.better_b / k,
        equivalent: r.equivalent / k,
        mean_seeds: r.mean_seeds / k,
    }
}

/// Testing at the fixed α after every seed: what `--seeds auto` must not do.
fn naive_decision(a: &[f64], b: &[f64], d: &SequentialDesign) -> Option<Verdict> {
    let t = paired_t_test(a, b).unwrap();
    if t.significant(ALPHA) {
        let side = if t.mean_diff > 0.0 { Side::A } else { Side::B };
        return Some(Verdict::Better { side });
    }
    if tost_paired(a, b, d.margin).unwrap().equivalent(ALPHA) {
        return Some(Verdict::Equivalent);
    }
    (a.len() == d.n_max).then_some(Verdict::Inconclusive { seeds_needed: None })
}

fn designs() -> Vec<SequentialDesign> {
    [Spending::OBrienFleming, Spending::Pocock]
        .into_iter()
        .map(|s| SequentialDesign::new(ALPHA, 0.005, 3, 12, s).unwrap())
        .collect()
}

#[test]
fn sequential_design_keeps_the_false_winner_rate_at_alpha() {
    let tol = tolerance(ALPHA, REPS);
    for d in designs() {
        let r = sequential_rates(&d, REPS, 0.0, 0.004, false, 31);
        let wrong = r.better_a + r.better_b;
        assert!(wrong <= ALPHA + tol, "{:?}: {r:?}", d.spending);
    }
    // Testing at α after every seed from 3 to 12 names a false winner far more often.
    let naive = sequential_rates(&designs()[0], REPS, 0.0, 0.004, true, 31);
    assert!(naive.better_a + naive.better_b > 0.09, "naive: {naive:?}");
}

#[test]
fn sequential_design_keeps_the_false_equivalence_rate_at_alpha() {
    // A true difference of exactly the margin is *not* equivalent: claiming it is an error.
    let tol = tolerance(ALPHA, REPS);
    for d in designs() {
        let r = sequential_rates(&d, REPS, 0.005, 0.004, false, 41);
        assert!(r.equivalent <= ALPHA + tol, "{:?}: {r:?}", d.spending);
    }
    let naive = sequential_rates(&designs()[0], REPS, 0.005, 0.004, true, 41);
    assert!(naive.equivalent > ALPHA + tol, "naive: {naive:?}");
}

#[test]
fn sequential_design_has_power_and_stops_early() {
    // 0.5 pp at paired SD 0.4 pp: a fixed design needs seeds_needed seeds for 80%; the
    // sequential design with 12 at most should reach 80% too, using fewer on average.
    let n_fixed = seeds_needed(0.004, 0.005, ALPHA, POWER).unwrap();
    assert!(n_fixed <= 9, "{n_fixed}");
    for d in designs() {
        let r = sequential_rates(&d, REPS, 0.005, 0.004, false, 51);
        assert!(
            r.better_a >= POWER - tolerance(POWER, REPS),
            "{:?}: {r:?}",
            d.spending
        );
        assert!(r.mean_seeds < 12.0, "{:?}: {r:?}", d.spending);
        // Equivalent regimes (no difference, small spread) are recognised as such.
        let e = sequential_rates(&d, REPS, 0.0, 0.002, false, 52);
        assert!(
            e.equivalent >= POWER - tolerance(POWER, REPS),
            "{:?}: {e:?}",
            d.spending
        );
    }
}

/// The rates docs/statistics.md quotes, with 20,000 replicates:
/// `cargo test --workspace --lib stats::simulation::rates_for_the_docs -- --ignored --nocapture`
#[test]
#[ignore]
fn rates_for_the_docs() {
    let reps = 20_000;
    let (holm, raw) = null_grid_winner_rates(reps, 6, 112);
    println!("null 6-target grid, 3 seeds: false winner with Holm {holm:.4}, without {raw:.4}");
    for (n, delta, sd) in [(3, 0.01, 0.003), (2, 0.01, 0.003), (10, 0.005, 0.005)] {
        let p = power_at(reps, n, delta, sd, 121);
        println!("power, {delta} true difference, paired SD {sd}, {n} seeds: {p:.4}");
    }
    for d in designs() {
        println!("{:?} looks:", d.spending);
        for l in d.looks() {
            println!(
                "  n = {:2}  t = {:.3}  better p < {:.5}  equivalent p < {:.5}",
                l.n, l.information, l.better_level, l.equivalence_level
            );
        }
        for (what, delta, sd) in [
            ("null (0 pp, SD 0.4 pp)", 0.0, 0.004),
            ("0.5 pp = margin, SD 0.4 pp", 0.005, 0.004),
            ("1 pp, SD 0.3 pp", 0.01, 0.003),
            ("0 pp, SD 0.2 pp", 0.0, 0.002),
        ] {
            let r = sequential_rates(&d, reps, delta, sd, false, 131);
            println!("  {what}: {r:?}");
        }
    }
    let naive = sequential_rates(&designs()[0], reps, 0.0, 0.004, true, 131);
    println!("naive α at every look, null: {naive:?}");
    let naive = sequential_rates(&designs()[0], reps, 0.005, 0.004, true, 131);
    println!("naive α at every look, margin: {naive:?}");
}

/// The worked example of docs/statistics.md:
/// `cargo test --workspace --lib stats::simulation::worked_example -- --ignored --nocapture`
#[test]
#[ignore]
fn worked_example() {
    // Final test accuracy of one-shot and constant at one target, seeds 1..=12.
    let one_shot = [
        0.8551, 0.8530, 0.8533, 0.8547, 0.8519, 0.8541, 0.8528, 0.8556, 0.8537, 0.8525, 0.8549,
        0.8532,
    ];
    let constant = [
        0.8502, 0.8470, 0.8492, 0.8531, 0.8488, 0.8476, 0.8499, 0.8521, 0.8480, 0.8497, 0.8510,
        0.8486,
    ];
    let (a, b) = (&one_shot[..3], &constant[..3]);
    let t = paired_t_test(a, b).unwrap();
    let e = tost_paired(a, b, 0.005).unwrap();
    println!("3 seeds: {t:?}\n{e:?}");
    // In a report with 18 comparisons (6 targets × 3 pairs) the raw p is multiplied by up to 18.
    let mut family = vec![t.p_value.unwrap()];
    family.extend([
        0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9,
    ]);
    println!("Holm over 18: {:.4}", holm(&family).unwrap()[0]);
    let v = judge_family(&[(a, b)], 0.005, ALPHA).unwrap();
    println!("alone: {:?}", v[0].verdict);
    let s = t.std_diff.unwrap();
    for k in [1.0, 18.0] {
        let n = seeds_needed(s, 0.005, ALPHA / k, POWER);
        println!("seeds needed at α/{k}: {n:?}");
    }
    let d = SequentialDesign::new(ALPHA, 0.005, 3, 12, Spending::OBrienFleming).unwrap();
    for n in 3..=12 {
        let t = paired_t_test(&one_shot[..n], &constant[..n]).unwrap();
        let e = tost_paired(&one_shot[..n], &constant[..n], 0.005).unwrap();
        let dec = d.decide(&one_shot[..n], &constant[..n]).unwrap();
        println!(
            "n = {n:2}: diff {:.4} p {:.5} (level {:.5}) tost p {:.4} → {dec:?}",
            t.mean_diff,
            t.p_value.unwrap(),
            d.nominal_level(n).unwrap(),
            e.p_value.unwrap()
        );
        if dec != SeqDecision::Continue {
            break;
        }
    }
}
