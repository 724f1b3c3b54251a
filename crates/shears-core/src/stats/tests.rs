use super::*;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn mean_std_and_degenerate_inputs() {
    assert_eq!(mean(&[]), None);
    assert_eq!(mean(&[1.0, 2.0, 6.0]), Some(3.0));
    // Data 2, 4, 4, 4, 5, 5, 7, 9: mean 5, sum of squared deviations 32, sample var 32/7.
    let xs = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
    assert!(close(
        sample_std(&xs).unwrap(),
        (32.0f64 / 7.0).sqrt(),
        1e-12
    ));
    assert_eq!(sample_std(&[3.0]), None);
    assert_eq!(sample_std(&[3.0, 3.0]), Some(0.0));
    assert_eq!(mean(&[1.0, f64::NAN]), None);
    assert_eq!(sample_std(&[1.0, f64::INFINITY]), None);
}

#[test]
fn t_quantiles_match_table_values() {
    // Standard two-sided 95% table (t_{0.975, df}) and one-sided 80% (t_{0.8, df}).
    for (df, q975, q80) in [
        (1.0, 12.7062, 1.3764),
        (2.0, 4.3027, 1.0607),
        (3.0, 3.1824, 0.9785),
        (4.0, 2.7764, 0.9410),
        (9.0, 2.2622, 0.8834),
        (10.0, 2.2281, 0.8791),
        (30.0, 2.0423, 0.8538),
    ] {
        let a = t_quantile(0.975, df).unwrap();
        let b = t_quantile(0.8, df).unwrap();
        assert!(close(a, q975, 1e-4), "df {df}: {a} vs {q975}");
        assert!(close(b, q80, 1e-4), "df {df}: {b} vs {q80}");
    }
    // Closed forms: df = 1 is Cauchy, tan(π(p − ½)); df = 2: (2p−1)/√(2p(1−p)).
    assert!(close(
        t_quantile(0.8, 1.0).unwrap(),
        (std::f64::consts::PI * 0.3).tan(),
        1e-9
    ));
    let p: f64 = 0.9;
    assert!(close(
        t_quantile(p, 2.0).unwrap(),
        (2.0 * p - 1.0) / (2.0 * p * (1.0 - p)).sqrt(),
        1e-9
    ));
    assert!(close(t_quantile(0.025, 4.0).unwrap(), -2.7764, 1e-4));
    assert_eq!(t_quantile(0.5, 5.0), Some(0.0));
    assert_eq!(t_quantile(1.0, 5.0), None);
    assert_eq!(t_quantile(0.9, 0.0), None);
    // CDF: df = 2 closed form ½ + t / (2√(2 + t²)).
    let t: f64 = 1.3;
    assert!(close(
        t_cdf(t, 2.0).unwrap(),
        0.5 + t / (2.0 * (2.0 + t * t).sqrt()),
        1e-12
    ));
}

#[test]
fn ci_half_width_by_hand() {
    // 0.70, 0.72, 0.74: mean 0.72, s = 0.02, half-width = 4.302653 · 0.02 / √3.
    let xs = [0.70, 0.72, 0.74];
    let h = ci95_half_width(&xs).unwrap();
    assert!(close(h, 4.302_652_7 * 0.02 / 3f64.sqrt(), 1e-8), "{h}");
    assert!(close(h, 0.049_683, 1e-6));
    assert_eq!(ci95_half_width(&[0.7]), None);
    assert_eq!(ci95_half_width(&[0.7, 0.7, 0.7]), Some(0.0));
    let d = describe(&xs).unwrap();
    assert_eq!(d.n, 3);
    assert!(close(d.mean, 0.72, 1e-12));
    assert!(close(d.std.unwrap(), 0.02, 1e-12));
    assert_eq!(describe(&[]), None);
}

#[test]
fn paired_t_test_by_hand() {
    // d = 0.02, 0.01, 0.04: mean 0.07/3, s² = 0.0014/6, so t² = 3·mean²/s² = 7 exactly.
    // With df = 2 the two-sided p is 1 − t/√(2 + t²) = 1 − √7/3.
    let a = [0.90, 0.92, 0.94];
    let b = [0.88, 0.91, 0.90];
    let r = paired_t_test(&a, &b).unwrap();
    assert_eq!(r.n, 3);
    assert_eq!(r.df, Some(2));
    assert!(close(r.mean_diff, 0.07 / 3.0, 1e-12));
    assert!(close(r.std_diff.unwrap(), (0.0014f64 / 6.0).sqrt(), 1e-12));
    assert!(close(r.t.unwrap(), 7f64.sqrt(), 1e-9));
    let p = r.p_value.unwrap();
    assert!(close(p, 1.0 - 7f64.sqrt() / 3.0, 1e-9), "{p}");
    assert!(close(p, 0.118_083, 1e-6));
    assert!(!r.significant(ALPHA));
    // MDD = (t_{.975,2} + t_{.8,2}) · s_d / √3 = (4.302653 + 1.060660) · 0.0152753 / √3.
    let mdd = r.min_detectable_difference.unwrap();
    assert!(
        close(
            mdd,
            (4.302_652_7 + 1.060_660_2) * (0.0014f64 / 6.0).sqrt() / 3f64.sqrt(),
            1e-7
        ),
        "{mdd}"
    );
    assert!(close(mdd, 0.047_300, 1e-5));
    // Swapping the samples flips the sign only.
    let s = paired_t_test(&b, &a).unwrap();
    assert!(close(s.t.unwrap(), -7f64.sqrt(), 1e-9));
    assert!(close(s.p_value.unwrap(), p, 1e-12));
}

#[test]
fn paired_t_test_cauchy_case_and_significance() {
    // n = 2, df = 1: p = 1 − (2/π)·atan|t|. d = 0.1, 0.3 → mean 0.2, s = √0.02, t = 0.2/(s/√2) = 2.
    let r = paired_t_test(&[0.6, 0.8], &[0.5, 0.5]).unwrap();
    assert!(close(r.t.unwrap(), 2.0, 1e-9));
    assert!(close(
        r.p_value.unwrap(),
        1.0 - 2.0 / std::f64::consts::PI * 2f64.atan(),
        1e-9
    ));
    // A large, consistent difference is significant.
    let r = paired_t_test(&[0.80, 0.81, 0.79, 0.80], &[0.70, 0.70, 0.70, 0.71]).unwrap();
    assert!(r.significant(ALPHA), "{r:?}");
    assert!(r.p_value.unwrap() < 1e-3);
}

#[test]
fn paired_t_test_degenerate_cases_give_none_not_nan() {
    let one = paired_t_test(&[0.8], &[0.7]).unwrap();
    assert!(close(one.mean_diff, 0.1, 1e-12));
    assert_eq!(
        (
            one.std_diff,
            one.ci95,
            one.t,
            one.p_value,
            one.min_detectable_difference
        ),
        (None, None, None, None, None)
    );
    assert!(one.note.is_some());
    assert!(!one.significant(ALPHA));

    let same = paired_t_test(&[0.5, 0.5, 0.5], &[0.5, 0.5, 0.5]).unwrap();
    assert_eq!(same.std_diff, Some(0.0));
    assert_eq!(same.ci95, Some(0.0));
    assert_eq!(
        (same.t, same.p_value, same.min_detectable_difference),
        (None, None, None)
    );
    let json = serde_json::to_string(&same).unwrap();
    assert!(
        !json.contains("NaN") && json.contains("\"p_value\":null"),
        "{json}"
    );

    assert_eq!(
        paired_t_test(&[1.0], &[1.0, 2.0]),
        Err(StatsError::LengthMismatch(1, 2))
    );
    assert_eq!(paired_t_test(&[], &[]), Err(StatsError::Empty));
    assert_eq!(
        paired_t_test(&[f64::NAN], &[1.0]),
        Err(StatsError::NonFinite)
    );
    assert_eq!(min_detectable_difference(0.01, 1, ALPHA, POWER), None);
    assert_eq!(min_detectable_difference(0.0, 5, ALPHA, POWER), None);
}

fn curve(ds: &[(f64, f64)], h: Option<f64>) -> Vec<DiffPoint> {
    ds.iter()
        .map(|&(x, d)| DiffPoint::with_half_width(x, d, h))
        .collect()
}

#[test]
fn crossings_none() {
    let c = curve(&[(0.5, -0.02), (0.7, -0.01), (0.9, -0.001)], Some(0.005));
    assert!(crossings(&c).is_empty());
    let c = curve(&[(0.5, 0.02), (0.9, 0.01)], None);
    assert!(crossings(&c).is_empty());
    assert!(crossings(&[]).is_empty());
    assert!(crossings(&curve(&[(0.5, -1.0)], None)).is_empty());
    // Zero counts as "≤ 0": touching zero from below is not a crossing.
    assert!(crossings(&curve(&[(0.5, -0.01), (0.7, 0.0)], None)).is_empty());
}

#[test]
fn crossing_one_with_interval_by_hand() {
    // d: −0.02 at 0.7, +0.02 at 0.9 → zero at 0.8. Half-width 0.01 everywhere:
    // lo = d − 0.01 crosses 0 at 0.7 + 0.2·(0.03/0.04) = 0.85; hi = d + 0.01 at 0.75.
    // Unordered input is sorted first.
    let c = curve(&[(0.9, 0.02), (0.5, -0.03), (0.7, -0.02)], Some(0.01));
    let x = crossings(&c);
    assert_eq!(x.len(), 1);
    assert_eq!(x[0].direction, CrossDirection::Up);
    assert!(close(x[0].estimate, 0.8, 1e-12));
    assert_eq!(x[0].between, [0.7, 0.9]);
    let [lo, hi] = x[0].interval.unwrap();
    assert!(
        close(lo, 0.75, 1e-12) && close(hi, 0.85, 1e-12),
        "{lo} {hi}"
    );
    assert!(!x[0].lower_open && !x[0].upper_open);
    // Without CIs there is an estimate but no interval.
    let x = crossings(&curve(&[(0.7, -0.02), (0.9, 0.02)], None));
    assert!(close(x[0].estimate, 0.8, 1e-12));
    assert_eq!(x[0].interval, None);
}

#[test]
fn crossing_interval_spans_segments_and_can_be_open() {
    // Wide band: the band contains 0 from 0.5 through 0.8 (lo(0.8) = 0.01 − 0.03 < 0, and
    // lo reaches 0 at 0.9 where d − h = 0.04 − 0.03 > 0 → between 0.8 and 0.9:
    // lo goes −0.02 → 0.01 so zero at 0.8 + 0.1·(2/3)).
    let c = curve(
        &[
            (0.5, -0.02),
            (0.6, -0.01),
            (0.7, -0.005),
            (0.8, 0.01),
            (0.9, 0.04),
        ],
        Some(0.03),
    );
    let x = crossings(&c);
    assert_eq!(x.len(), 1);
    assert!(close(x[0].estimate, 0.7 + 0.1 * (0.005 / 0.015), 1e-12));
    let [lo, hi] = x[0].interval.unwrap();
    assert!(close(lo, 0.5, 1e-12), "{lo}");
    assert!(close(hi, 0.8 + 0.1 * (2.0 / 3.0), 1e-12), "{hi}");
    assert!(x[0].lower_open && !x[0].upper_open);
}

#[test]
fn several_crossings() {
    // + → − → + → −: three sign changes, down at 0.55, up at 0.75, down at 0.925.
    let c = curve(
        &[
            (0.5, 0.01),
            (0.6, -0.01),
            (0.7, -0.01),
            (0.8, 0.01),
            (0.9, 0.01),
            (0.95, -0.01),
        ],
        Some(0.001),
    );
    let x = crossings(&c);
    let dirs: Vec<CrossDirection> = x.iter().map(|c| c.direction).collect();
    assert_eq!(
        dirs,
        vec![
            CrossDirection::Down,
            CrossDirection::Up,
            CrossDirection::Down
        ]
    );
    for (c, e) in x.iter().zip([0.55, 0.75, 0.925]) {
        assert!(close(c.estimate, e, 1e-12), "{} vs {e}", c.estimate);
        let [lo, hi] = c.interval.unwrap();
        assert!(
            lo <= c.estimate && c.estimate <= hi && hi - lo < 0.02,
            "{lo} {hi}"
        );
    }
    // Exactly zero at a measured point between positive neighbours: down then up there.
    let x = crossings(&curve(&[(0.5, 0.01), (0.6, 0.0), (0.7, 0.01)], None));
    assert_eq!(x.len(), 2);
    assert!(close(x[0].estimate, 0.6, 1e-12) && close(x[1].estimate, 0.6, 1e-12));
}
