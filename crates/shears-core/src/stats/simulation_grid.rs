//! The `--seeds auto` loop simulated as the CLI runs it: a grid of targets starts at 3 seeds,
//! every target still inconclusive gets one more seed, the whole family is judged again, until
//! none is open or each has 12. Family-wise error rates measured for the group-sequential
//! family ([`judge_at_looks`], Bonferroni over the pairs) and, to show the assertion can fail,
//! for the fixed-sample Holm family re-judged after every added seed.

use super::sequential::judge_at_looks;
use super::simulation::{study, tolerance};
use super::tests_decisions::rng;
use super::*;

const REPS: usize = 1000;
const TARGETS: usize = 6;
const N_START: usize = 3;
const N_MAX: usize = 12;
const MARGIN: f64 = 0.005;

/// How a simulated grid ended: any false winner / false equivalence, and the seeds used.
#[derive(Debug, Default)]
pub(super) struct GridRates {
    pub any_winner: f64,
    pub any_equivalent: f64,
    pub mean_seeds: f64,
}

/// `reps` grids of `TARGETS` pairs `delta` apart (paired SD `sd`), run through the loop;
/// `sequential` false: Holm at α after every added seed (what the loop must not do).
pub(super) fn grid_rates(
    reps: usize,
    delta: f64,
    sd: f64,
    sequential: bool,
    spending: Spending,
    seed: u64,
) -> GridRates {
    let design =
        SequentialDesign::new(ALPHA / TARGETS as f64, MARGIN, N_START, N_MAX, spending).unwrap();
    let mut rng = rng(seed);
    let mut r = GridRates::default();
    for _ in 0..reps {
        let data: Vec<(Vec<f64>, Vec<f64>)> = (0..TARGETS)
            .map(|_| study(&mut rng, N_MAX, delta, sd))
            .collect();
        let mut n = [N_START; TARGETS];
        let verdicts = loop {
            let pairs: Vec<(&[f64], &[f64])> = data
                .iter()
                .zip(&n)
                .map(|((a, b), &n)| (&a[..n], &b[..n]))
                .collect();
            let v = if sequential {
                judge_at_looks(&design, ALPHA, &pairs).unwrap()
            } else {
                judge_family(&pairs, MARGIN, ALPHA).unwrap()
            };
            let mut open = false;
            for (p, n) in v.iter().zip(n.iter_mut()) {
                if matches!(p.verdict, Verdict::Inconclusive { .. }) && *n < N_MAX {
                    *n += 1;
                    open = true;
                }
            }
            if !open {
                break v;
            }
        };
        r.any_winner += verdicts
            .iter()
            .any(|p| matches!(p.verdict, Verdict::Better { .. })) as usize
            as f64;
        r.any_equivalent +=
            verdicts.iter().any(|p| p.verdict == Verdict::Equivalent) as usize as f64;
        r.mean_seeds += n.iter().sum::<usize>() as f64 / TARGETS as f64;
    }
    let k = reps as f64;
    GridRates {
        any_winner: r.any_winner / k,
        any_equivalent: r.any_equivalent / k,
        mean_seeds: r.mean_seeds / k,
    }
}

#[test]
fn the_auto_seeds_loop_keeps_the_family_wise_false_winner_rate_at_alpha() {
    let tol = tolerance(ALPHA, REPS);
    let r = grid_rates(REPS, 0.0, 0.004, true, Spending::OBrienFleming, 61);
    assert!(r.any_winner <= ALPHA + tol, "sequential: {r:?}");
    // Holm re-judged after every added seed: each look spends α again.
    let naive = grid_rates(REPS, 0.0, 0.004, false, Spending::OBrienFleming, 61);
    assert!(
        naive.any_winner > ALPHA + tol,
        "Holm at every look: {naive:?}"
    );
}

#[test]
fn the_auto_seeds_loop_keeps_the_family_wise_false_equivalence_rate_at_alpha() {
    // Every pair differs by exactly the margin: any "equivalent" is an error.
    let tol = tolerance(ALPHA, REPS);
    let r = grid_rates(REPS, MARGIN, 0.004, true, Spending::OBrienFleming, 71);
    assert!(r.any_equivalent <= ALPHA + tol, "sequential: {r:?}");
    let naive = grid_rates(REPS, MARGIN, 0.004, false, Spending::OBrienFleming, 71);
    assert!(
        naive.any_equivalent > ALPHA + tol,
        "Holm at every look: {naive:?}"
    );
}

#[test]
fn the_auto_seeds_loop_resolves_clear_differences_early() {
    // 1 pp at paired SD 0.3 pp: found at every target well before the maximum.
    let r = grid_rates(REPS, 0.01, 0.003, true, Spending::OBrienFleming, 81);
    assert!(r.any_winner > 0.99, "{r:?}");
    assert!(r.mean_seeds < 9.0, "{r:?}");
}

/// The loop's rates docs/statistics.md quotes, with 10,000 replicates:
/// `cargo test --workspace --lib stats::simulation_grid::loop_rates_for_the_docs -- --ignored --nocapture`
#[test]
#[ignore]
fn loop_rates_for_the_docs() {
    let reps = 10_000;
    for (what, delta, sd) in [
        ("null (0 pp, SD 0.4 pp)", 0.0, 0.004),
        ("every pair 0.5 pp = margin apart, SD 0.4 pp", MARGIN, 0.004),
        ("every pair 1 pp apart, SD 0.3 pp", 0.01, 0.003),
    ] {
        for s in [Spending::OBrienFleming, Spending::Pocock] {
            let r = grid_rates(reps, delta, sd, true, s, 161);
            println!("{what}, {s:?}: {r:?}");
        }
        let naive = grid_rates(reps, delta, sd, false, Spending::OBrienFleming, 161);
        println!("{what}, Holm at every look: {naive:?}");
    }
}
