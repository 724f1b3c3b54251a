//! Unit tests of the decision layer: Holm, TOST, verdicts, seeds needed, spending boundaries,
//! the sequential design and crossover resolution (the simulations are in `simulation.rs`).

use super::*;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn holm_by_hand_and_input_order() {
    // Sorted 0.005, 0.01, 0.03, 0.04 → ×4, ×3, ×2, ×1 = 0.02, 0.03, 0.06, 0.04 → max 0.06.
    let adj = holm(&[0.03, 0.04, 0.01, 0.005]).unwrap();
    for (got, want) in adj.iter().zip([0.06, 0.06, 0.03, 0.02]) {
        assert!(close(*got, want, 1e-12), "{adj:?}");
    }
    assert_eq!(holm(&[]).unwrap(), Vec::<f64>::new());
    assert_eq!(holm(&[0.3]).unwrap(), vec![0.3]); // a family of one is unadjusted
    assert_eq!(holm(&[0.4, 0.6]).unwrap(), vec![0.8, 0.8]);
    let e = holm(&[0.1, f64::NAN]).unwrap_err();
    assert!(matches!(e, StatsError::InvalidPValue { index: 1, value } if value.is_nan()));
    let msg = holm(&[0.1, -0.2]).unwrap_err().to_string();
    assert!(msg.contains("#1") && msg.contains("-0.2"), "{msg}");
}

#[test]
fn holm_is_monotone_bounded_and_matches_the_definition() {
    let mut rng = rng(7);
    for _ in 0..200 {
        let m = 1 + (uniform(&mut rng) * 8.0) as usize;
        let p: Vec<f64> = (0..m).map(|_| uniform(&mut rng)).collect();
        let adj = holm(&p).unwrap();
        for i in 0..m {
            assert!(adj[i] >= p[i] && adj[i] <= 1.0);
            // Definition: max over every p_j ≤ p_i (j earlier in the sorted order) of
            // (m − rank_j)·p_j, capped at 1.
            let mut sorted: Vec<f64> = p.clone();
            sorted.sort_by(f64::total_cmp);
            let rank = sorted.iter().position(|&v| v == p[i]).unwrap();
            let want = (0..=rank)
                .map(|r| ((m - r) as f64 * sorted[r]).min(1.0))
                .fold(0.0, f64::max);
            assert!(close(adj[i], want, 1e-12), "{p:?} {adj:?}");
            for j in 0..m {
                if p[j] < p[i] {
                    assert!(adj[j] <= adj[i]);
                }
            }
        }
    }
}

#[test]
fn tost_by_hand_df2() {
    // Differences 0.2, 0.4, 0.3 pp: mean 0.3 pp, s = 0.1 pp, se = 0.1/√3 pp; m = 0.5 pp.
    let a = [0.802, 0.804, 0.803];
    let b = [0.8; 3];
    let t = tost_paired(&a, &b, 0.005).unwrap();
    let se = 0.001 / 3f64.sqrt();
    // df = 2 CDF: ½ + t / (2√(2 + t²)).
    let cdf2 = |t: f64| 0.5 + t / (2.0 * (2.0 + t * t).sqrt());
    let p_lower = 1.0 - cdf2((0.003 + 0.005) / se);
    let p_upper = cdf2((0.003 - 0.005) / se);
    assert!(close(t.p_lower.unwrap(), p_lower, 1e-9));
    assert!(close(t.p_upper.unwrap(), p_upper, 1e-9));
    assert!(close(t.p_value.unwrap(), p_upper, 1e-9) && close(p_upper, 0.0371, 1e-4));
    assert!(t.equivalent(0.05) && !t.equivalent(0.03));
    let [lo, hi] = t.ci90.unwrap();
    assert!(close(hi, 0.003 + 2.919_986 * se, 1e-8) && close(lo, 0.003 - 2.919_986 * se, 1e-8));
}

#[test]
fn tost_passes_exactly_when_the_90_ci_is_inside_the_margin() {
    let mut rng = rng(11);
    let mut both = [0usize; 2];
    for _ in 0..500 {
        let n = 2 + (uniform(&mut rng) * 8.0) as usize;
        let a: Vec<f64> = (0..n).map(|_| 0.8 + 0.004 * normal(&mut rng)).collect();
        let b: Vec<f64> = (0..n).map(|_| 0.8 + 0.004 * normal(&mut rng)).collect();
        let t = tost_paired(&a, &b, 0.005).unwrap();
        let [lo, hi] = t.ci90.unwrap();
        let inside = -0.005 < lo && hi < 0.005;
        assert_eq!(t.equivalent(0.05), inside, "{t:?}");
        both[inside as usize] += 1;
    }
    assert!(both[0] > 50 && both[1] > 50, "{both:?}"); // both outcomes exercised
}

#[test]
fn tost_degenerate_inputs() {
    let one = tost_paired(&[0.9], &[0.9], 0.005).unwrap();
    assert!(one.p_value.is_none() && one.ci90.is_none() && one.note.is_some());
    let flat = tost_paired(&[0.9, 0.9], &[0.9, 0.9], 0.005).unwrap();
    assert!(flat.p_value.is_none() && flat.ci90 == Some([0.0, 0.0]) && flat.note.is_some());
    for m in [0.0, -0.01, f64::NAN, f64::INFINITY] {
        let e = tost_paired(&[0.9, 0.8], &[0.9, 0.8], m).unwrap_err();
        assert!(e.to_string().contains("margin"), "{e}");
    }
    assert_eq!(
        tost_paired(&[0.9], &[0.9, 0.8], 0.005),
        Err(StatsError::LengthMismatch(1, 2))
    );
}

#[test]
fn seeds_needed_is_the_smallest_n_whose_mdd_reaches_the_margin() {
    assert_eq!(seeds_needed(0.003, 0.01, 0.05, 0.8), Some(3));
    for (s, m) in [
        (0.001, 0.005),
        (0.003, 0.005),
        (0.005, 0.005),
        (0.02, 0.005),
        (0.004, 0.002),
    ] {
        let n = seeds_needed(s, m, 0.05, 0.8).unwrap();
        assert!(min_detectable_difference(s, n, 0.05, 0.8).unwrap() <= m);
        if n > 2 {
            assert!(min_detectable_difference(s, n - 1, 0.05, 0.8).unwrap() > m);
        }
    }
    // More spread or a smaller margin never needs fewer seeds.
    assert!(seeds_needed(0.006, 0.005, 0.05, 0.8) > seeds_needed(0.005, 0.005, 0.05, 0.8));
    assert!(seeds_needed(0.005, 0.002, 0.05, 0.8) > seeds_needed(0.005, 0.005, 0.05, 0.8));
    // Tiny spread: the t-test needs at least 2 seeds; absurd spread: beyond the search.
    assert_eq!(seeds_needed(1e-9, 0.005, 0.05, 0.8), Some(2));
    assert_eq!(seeds_needed(1e3, 1e-6, 0.05, 0.8), None);
    assert_eq!(seeds_needed(0.005, 0.005, 1.0, 0.8), None);
    assert_eq!(seeds_needed(f64::NAN, 0.005, 0.05, 0.8), None);
}

fn pt(mean_diff: f64, std: f64, p: Option<f64>) -> PairedTest {
    PairedTest {
        n: 3,
        mean_diff,
        std_diff: Some(std),
        ci95: None,
        t: None,
        df: Some(2),
        p_value: p,
        min_detectable_difference: None,
        note: None,
    }
}

fn tost_of(margin: f64, p: Option<f64>) -> Tost {
    Tost {
        n: 3,
        margin,
        mean_diff: 0.0,
        std_diff: None,
        df: Some(2),
        p_lower: None,
        p_upper: None,
        p_value: p,
        ci90: None,
        note: None,
    }
}

#[test]
fn judge_three_ways_with_better_first() {
    let t = tost_of(0.005, Some(0.01));
    let v = judge(
        &pt(-0.002, 0.001, None),
        Some(0.01),
        &t,
        Some(0.01),
        0.05,
        1,
    );
    assert_eq!(v, Verdict::Better { side: Side::B });
    let v = judge(&pt(0.002, 0.001, None), Some(0.5), &t, Some(0.01), 0.05, 1);
    assert_eq!(v, Verdict::Equivalent);
    let v = judge(&pt(0.002, 0.005, None), Some(0.5), &t, Some(0.2), 0.05, 1);
    let ten = Verdict::Inconclusive {
        seeds_needed: Some(10),
    };
    assert_eq!(v, ten);
    // In a family of 6 the seeds are planned at α/6: more of them.
    let v = judge(&pt(0.002, 0.005, None), Some(0.5), &t, Some(0.2), 0.05, 6);
    let at_sixth = seeds_needed(0.005, 0.005, 0.05 / 6.0, POWER);
    assert!(at_sixth > Some(10));
    assert_eq!(
        v,
        Verdict::Inconclusive {
            seeds_needed: at_sixth
        }
    );
    // Raw p passing does not count: only the adjusted p decides.
    let v = judge(&pt(0.002, 0.005, Some(0.01)), Some(0.06), &t, None, 0.05, 1);
    assert!(matches!(v, Verdict::Inconclusive { .. }));
}

#[test]
fn judge_family_applies_holm_to_both_families() {
    // Differences 1.0, 1.5, 0.5, 1.2 pp: t ≈ 5.0 with 3 df, raw p ≈ 0.015.
    let a = [0.810, 0.815, 0.805, 0.812];
    let b = [0.800; 4];
    let alone = judge_family(&[(&a, &b)], 0.005, 0.05).unwrap();
    let raw = alone[0].test.p_value.unwrap();
    assert!(raw < 0.05, "raw p {raw}");
    assert_eq!(alone[0].verdict, Verdict::Better { side: Side::A });
    assert_eq!(alone[0].p_adjusted, Some(raw));
    // The same pair among five null pairs: Holm multiplies its p by 6 and it is no longer a
    // winner; the five nulls are not equivalent either (3 noisy seeds).
    let null_a = [0.80, 0.81, 0.79, 0.80];
    let null_b = [0.81, 0.79, 0.80, 0.80];
    let mut pairs: Vec<(&[f64], &[f64])> = vec![(&a, &b)];
    pairs.extend(std::iter::repeat_n((&null_a[..], &null_b[..]), 5));
    let v = judge_family(&pairs, 0.005, 0.05).unwrap();
    assert!(close(v[0].p_adjusted.unwrap(), (6.0 * raw).min(1.0), 1e-12));
    assert!(
        matches!(v[0].verdict, Verdict::Inconclusive { .. }),
        "{:?}",
        v[0].verdict
    );
    assert!(v.iter().all(|p| !matches!(p.verdict, Verdict::Equivalent)));
    assert!(judge_family(&pairs, 0.005, 0.7).is_err());
    assert!(judge_family(&pairs, -1.0, 0.05).is_err());
}

#[test]
fn judge_family_flags_a_real_but_negligible_difference() {
    // 0.1 pp every seed, tiny spread: significant, and inside ±0.5 pp.
    let a = [0.8010, 0.8011, 0.8009, 0.8010];
    let b = [0.8; 4];
    let v = &judge_family(&[(&a, &b)], 0.005, 0.05).unwrap()[0];
    assert_eq!(v.verdict, Verdict::Better { side: Side::A });
    assert!(v.within_margin);
}

#[test]
fn spending_boundaries_single_look_and_published_values() {
    let c = one_sided_boundaries(&[1.0], 0.025, Spending::Pocock).unwrap();
    assert!(close(c[0], 1.959_964, 1e-5), "{c:?}");
    let c = one_sided_boundaries(&[0.5, 1.0], 0.025, Spending::OBrienFleming).unwrap();
    assert!(
        close(c[0], 2.963, 2e-3) && close(c[1], 1.969, 2e-3),
        "{c:?}"
    );
    for bad in [&[][..], &[0.5][..], &[0.5, 0.4, 1.0][..], &[0.0, 1.0][..]] {
        let e = one_sided_boundaries(bad, 0.025, Spending::Pocock).unwrap_err();
        assert!(e.to_string().contains("information fractions"), "{e}");
    }
    assert!(one_sided_boundaries(&[1.0], 0.5, Spending::Pocock).is_err());
}

#[test]
fn spending_boundaries_spend_alpha_by_monte_carlo() {
    // Brownian motion observed at n / 12 for n = 3..12: first crossings at each look should
    // occur at the spent increments, and in total at α.
    let fractions: Vec<f64> = (3..=12).map(|n| n as f64 / 12.0).collect();
    let alpha = 0.025;
    let reps = 40_000;
    for spending in [Spending::OBrienFleming, Spending::Pocock] {
        let c = one_sided_boundaries(&fractions, alpha, spending).unwrap();
        let mut rng = rng(3);
        let mut crossed = 0usize;
        for _ in 0..reps {
            let (mut s, mut t_prev) = (0.0, 0.0);
            for (k, &t) in fractions.iter().enumerate() {
                s += (t - t_prev).sqrt() * normal(&mut rng);
                t_prev = t;
                if s / t.sqrt() >= c[k] {
                    crossed += 1;
                    break;
                }
            }
        }
        let rate = crossed as f64 / reps as f64;
        let se = (alpha * (1.0 - alpha) / reps as f64).sqrt();
        assert!(
            (rate - alpha).abs() < 3.0 * se,
            "{spending:?}: {rate} vs {alpha}, {c:?}"
        );
        // Fixed-α boundaries at every look would cross far more often.
        let naive = -Normal::new(0.0, 1.0).unwrap().inverse_cdf(alpha);
        assert!(c.iter().all(|&b| b > naive));
    }
}

#[test]
fn sequential_design_levels_and_decisions() {
    let d = SequentialDesign::new(0.05, 0.005, 3, 12, Spending::OBrienFleming).unwrap();
    let levels: Vec<f64> = d.looks().iter().map(|l| l.better_level).collect();
    assert_eq!(d.looks().len(), 10);
    assert!(levels.windows(2).all(|w| w[0] < w[1]), "{levels:?}");
    assert!(levels[9] < 0.05 && levels[9] > 0.03, "{levels:?}");
    assert!(d.nominal_equivalence_level(12).unwrap() > levels[9] / 2.0);
    assert_eq!(d.nominal_level(2), None);
    // Inconclusive at the maximum: stop, with a seed count for the report.
    let a: Vec<f64> = (0..12)
        .map(|i| 0.80 + 0.01 * ((i % 3) as f64 - 1.0))
        .collect();
    let b: Vec<f64> = (0..12)
        .map(|i| 0.80 + 0.01 * (((i + 1) % 3) as f64 - 1.0))
        .collect();
    assert_eq!(d.decide(&a[..11], &b[..11]).unwrap(), SeqDecision::Continue);
    match d.decide(&a, &b).unwrap() {
        SeqDecision::Stop {
            verdict: Verdict::Inconclusive {
                seeds_needed: Some(n),
            },
        } => assert!(n > 12, "{n}"),
        other => panic!("{other:?}"),
    }
    let more = [0.8; 13];
    let e = d.decide(&more, &more).unwrap_err().to_string();
    assert!(e.contains("13 pairs") && e.contains("12"), "{e}");
    for (s, m) in [(1, 12), (5, 4)] {
        assert!(SequentialDesign::new(0.05, 0.005, s, m, Spending::Pocock).is_err());
    }
    assert!(SequentialDesign::new(0.05, 0.0, 3, 12, Spending::Pocock).is_err());
}

#[test]
fn sequential_design_stops_equivalent() {
    let d = SequentialDesign::new(0.05, 0.005, 3, 12, Spending::Pocock).unwrap();
    let a = [0.8001, 0.7999, 0.8002, 0.7998, 0.8000];
    let b = [0.8; 5];
    let v = d.decide(&a, &b).unwrap();
    assert_eq!(
        v,
        SeqDecision::Stop {
            verdict: Verdict::Equivalent
        }
    );
}

fn sd(x: f64, d: f64, p: Option<f64>) -> SignedDiff {
    SignedDiff {
        x,
        d,
        p_adjusted: p,
    }
}

#[test]
fn crossover_noise_like_the_issue_is_not_resolved() {
    // Five sign changes over six targets, none significant (the report of issue 12).
    let pts = [
        sd(0.5, -0.002, Some(0.9)),
        sd(0.7, 0.001, Some(0.9)),
        sd(0.8, -0.001, Some(0.8)),
        sd(0.9, 0.002, Some(0.7)),
        sd(0.95, -0.003, Some(0.6)),
        sd(0.98, 0.004, None),
    ];
    let r = resolve_crossover(&pts, 0.05, "geometric − one-shot");
    assert!(!r.resolved && r.crossings.is_empty());
    assert_eq!(r.warnings.len(), 1);
    let w = &r.warnings[0];
    assert!(
        w.contains("between 50% and 98%") && w.contains("98% (no test)"),
        "{w}"
    );
    assert!(w.contains("change sign"), "{w}");
}

#[test]
fn crossover_located_and_partial() {
    // Unsorted input; significant −, −, + : one located crossing between 70% and 90%.
    let pts = [
        sd(0.9, 0.01, Some(0.001)),
        sd(0.5, -0.01, Some(0.01)),
        sd(0.7, -0.02, Some(0.001)),
    ];
    let r = resolve_crossover(&pts, 0.05, "d");
    assert!(r.resolved && r.warnings.is_empty());
    assert_eq!(r.crossings.len(), 1);
    assert_eq!(r.crossings[0].between, [0.7, 0.9]);
    assert_eq!(r.crossings[0].direction, CrossDirection::Up);
    // Same sign everywhere and significant: resolved, no crossing.
    let r = resolve_crossover(
        &[sd(0.5, 0.01, Some(0.01)), sd(0.9, 0.02, Some(0.01))],
        0.05,
        "d",
    );
    assert!(r.resolved && r.crossings.is_empty());
    // A located crossing plus an unresolved end: not resolved, the crossing only in words.
    let mut more = pts.to_vec();
    more.push(sd(0.98, -0.001, Some(0.5)));
    let r = resolve_crossover(&more, 0.05, "d");
    assert!(!r.resolved && r.crossings.is_empty());
    assert!(
        r.warnings[0].contains("between 90% and 98%"),
        "{:?}",
        r.warnings
    );
    assert!(
        r.warnings[1].contains("located between 70% and 90%"),
        "{:?}",
        r.warnings
    );
    // Raw significance at a point does not count: it is the adjusted p the caller passes.
    let r = resolve_crossover(
        &[sd(0.5, -0.01, Some(0.06)), sd(0.9, 0.01, Some(0.001))],
        0.05,
        "d",
    );
    assert!(!r.resolved);
    let r = resolve_crossover(&[sd(0.5, -0.01, Some(0.01))], 0.05, "d");
    assert!(!r.resolved && r.warnings[0].contains("not assessable"));
}

// --- helpers shared with simulation.rs ---

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use statrs::distribution::{ContinuousCDF, Normal};

pub(super) fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

pub(super) fn uniform(rng: &mut ChaCha8Rng) -> f64 {
    rng.random::<f64>()
}

/// A standard normal draw by Box–Muller (no `rand_distr` dependency).
pub(super) fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1 = 1.0 - uniform(rng); // (0, 1]: ln is finite
    let u2 = uniform(rng);
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}
