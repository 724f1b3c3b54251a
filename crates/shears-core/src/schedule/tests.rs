use super::*;
use proptest::prelude::*;

use ScheduleKind::*;

const TOL: f64 = 1e-6;

fn reference(kind: ScheduleKind, start: f64, end: f64, step: f64) -> ScheduleSpec {
    let mut s = ScheduleSpec::new(kind, end).with_compat(Compat::Reference);
    if kind != OneShot {
        s = s.with_step(step);
    }
    if start != 0.0 {
        s = s.with_start(start);
    }
    s
}

fn assert_close(got: &[f64], want: &[f64], what: &str) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() < TOL,
            "{what}: step {i}: got {g}, want {w}\n{got:?}"
        );
    }
}

// ---------------------------------------------------------------- Python rounding

#[test]
fn py_round_is_half_even() {
    assert_eq!(py_round(4.5), 4.0);
    assert_eq!(py_round(5.5), 6.0);
    assert_eq!(py_round(0.5), 0.0);
    assert_eq!(py_round(1.5), 2.0);
    assert_eq!(py_round(-2.5), -2.0);
    assert_eq!(py_round(2.4999999), 2.0);
    // The case that decides the reference constant step count: 0.9 / 0.2 = 4.5 exactly.
    assert_eq!(py_round(0.9 / 0.2), 4.0);
}

#[test]
fn py_round_ndigits_matches_cpython() {
    // Exact binary ties go to even.
    assert_eq!(py_round_ndigits(0.125, 2), 0.12);
    assert_eq!(py_round_ndigits(0.375, 2), 0.38);
    assert_eq!(py_round_ndigits(0.25, 1), 0.2);
    // Not ties: decided by the exact binary value.
    assert_eq!(py_round_ndigits(2.675, 2), 2.67);
    assert_eq!(py_round_ndigits(0.35, 1), 0.3);
    assert_eq!(py_round_ndigits(0.1 * 3.0, 8), 0.3);
    assert_eq!(py_round_ndigits(0.2 * 0.8, 8), 0.16);
    assert_eq!(py_round_ndigits(0.123456785, 8), 0.12345678);
    assert_eq!(py_round_ndigits(1.0, 3), 1.0);
    assert!(py_round_ndigits(f64::NAN, 3).is_nan());
    assert_eq!(py_round_ndigits(f64::INFINITY, 3), f64::INFINITY);
    assert_eq!(py_round_ndigits(0.3, 400), 0.3);
}

// ---------------------------------------------------------------- reference examples

struct Row {
    name: &'static str,
    spec: ScheduleSpec,
    len: usize,
    /// Leading values (the whole sequence when `prefix.len() == len`).
    prefix: &'static [f64],
    last: Option<f64>,
    total: f64,
}

/// Every worked example of `docs/design.md#reference-arithmetic`.
fn worked_example_rows() -> Vec<Row> {
    vec![
        Row {
            name: "one-shot end .9",
            spec: reference(OneShot, 0.0, 0.9, 0.0),
            len: 1,
            prefix: &[0.9],
            last: None,
            total: 0.9,
        },
        Row {
            name: "constant end .9 step .2 (round(4.5) = 4)",
            spec: reference(Constant, 0.0, 0.9, 0.2),
            len: 4,
            prefix: &[0.2, 0.2, 0.2, 0.2],
            last: None,
            total: 0.8,
        },
        Row {
            name: "constant end .9 step .1",
            spec: reference(Constant, 0.0, 0.9, 0.1),
            len: 9,
            prefix: &[0.1; 9],
            last: None,
            total: 0.9,
        },
        Row {
            name: "iterative end .9 step .2",
            spec: reference(Geometric, 0.0, 0.9, 0.2),
            len: 11,
            prefix: &[
                0.2, 0.16, 0.128, 0.1024, 0.08192, 0.065536, 0.0524288, 0.04194304, 0.03355443,
                0.02684355, 0.02147484,
            ],
            last: None,
            total: 0.914101,
        },
        Row {
            name: "iterative end .9 step .1",
            spec: reference(Geometric, 0.0, 0.9, 0.1),
            len: 22,
            prefix: &[
                0.1, 0.09, 0.081, 0.0729, 0.06561, 0.059049, 0.0531441, 0.04782969, 0.04304672,
                0.03874205, 0.03486784, 0.03138106, 0.02824295, 0.02541866, 0.02287679, 0.02058911,
                0.0185302, 0.01667718, 0.01500946, 0.01350852, 0.01215767, 0.0109419,
            ],
            last: None,
            total: 0.901523,
        },
        Row {
            name: "iterative end .8 step .2",
            spec: reference(Geometric, 0.0, 0.8, 0.2),
            len: 8,
            prefix: &[
                0.2, 0.16, 0.128, 0.1024, 0.08192, 0.065536, 0.0524288, 0.04194304,
            ],
            last: Some(0.04194304),
            total: 0.832228,
        },
        Row {
            name: "iterative end .7 step .1",
            spec: reference(Geometric, 0.0, 0.7, 0.1),
            len: 12,
            prefix: &[0.1, 0.09, 0.081],
            last: Some(0.03138106),
            total: 0.71757,
        },
        Row {
            name: "logarithmic end .9 step .2",
            spec: reference(Logarithmic, 0.0, 0.9, 0.2),
            len: 4,
            prefix: &[0.395, 0.249, 0.157, 0.099],
            last: None,
            total: 0.9,
        },
        Row {
            name: "logarithmic end .9 step .1",
            spec: reference(Logarithmic, 0.0, 0.9, 0.1),
            len: 9,
            prefix: &[0.236, 0.179, 0.136, 0.104, 0.079, 0.06, 0.045, 0.035, 0.026],
            last: None,
            total: 0.9,
        },
        Row {
            name: "constant start .5 end .9 step .1",
            spec: reference(Constant, 0.5, 0.9, 0.1),
            len: 5,
            prefix: &[0.5, 0.1, 0.1, 0.1, 0.1],
            last: None,
            total: 0.9,
        },
        Row {
            name: "logarithmic start .5 end .9 step .1",
            spec: reference(Logarithmic, 0.5, 0.9, 0.1),
            len: 5,
            prefix: &[0.5, 0.176, 0.111, 0.07, 0.044],
            last: None,
            total: 0.901,
        },
        Row {
            name: "hybrid start .5 end .9 step .1",
            spec: reference(Hybrid, 0.5, 0.9, 0.1),
            len: 6,
            prefix: &[0.5, 0.1, 0.09, 0.081, 0.0729, 0.06561],
            last: None,
            total: 0.90951,
        },
        Row {
            name: "hybrid start .8 end .99 step .1",
            spec: reference(Hybrid, 0.8, 0.99, 0.1),
            len: 3,
            prefix: &[0.8, 0.1, 0.09],
            last: None,
            total: 0.99,
        },
        Row {
            name: "hybrid start .5 end .7 step .01842 (design.md, Hybrid)",
            spec: reference(Hybrid, 0.5, 0.7, 0.01842),
            len: 13,
            prefix: &[0.5, 0.01842, 0.0180807, 0.01774766],
            last: None,
            total: 0.699966,
        },
    ]
}

#[test]
fn reference_matches_the_worked_examples() {
    for row in worked_example_rows() {
        let plan = row
            .spec
            .plan()
            .unwrap_or_else(|e| panic!("{}: {e}", row.name));
        assert_eq!(
            plan.len(),
            row.len,
            "{}: length of {:?}",
            row.name,
            plan.steps
        );
        assert_close(&plan.steps, row.prefix, row.name);
        if let Some(last) = row.last {
            assert!(
                (plan.steps[row.len - 1] - last).abs() < TOL,
                "{}: last",
                row.name
            );
        }
        assert!(
            (plan.total() - row.total).abs() < TOL,
            "{}: total {} want {}",
            row.name,
            plan.total(),
            row.total
        );
    }
}

#[test]
fn reference_pre_fix_hybrid_variant_is_not_what_we_replay() {
    // The pre-2024-06-10 variant would give 17 steps (0.5, 0.05, 0.045, ...); we replay the fix.
    let plan = reference(Hybrid, 0.5, 0.9, 0.1).plan().unwrap();
    assert_eq!(plan.steps[1], 0.1);
    assert_ne!(plan.len(), 17);
}

/// The paper's Tables 3–4 (`docs/design.md#hybrid`): (target, p_k, [(s, n if stated)]).
type HybridRow = (f64, f64, [(f64, Option<usize>); 3]);
const HYBRID_TABLE: [HybridRow; 21] = [
    (
        0.7,
        0.5,
        [(0.01842, Some(12)), (0.04365, Some(5)), (0.07168, Some(3))],
    ),
    (
        0.7,
        0.6,
        [(0.01741, Some(6)), (0.03451, Some(3)), (0.1, Some(1))],
    ),
    (
        0.8,
        0.5,
        [(0.01962, Some(18)), (0.04968, None), (0.08531, None)],
    ),
    (
        0.8,
        0.6,
        [(0.01842, None), (0.04365, None), (0.07168, None)],
    ),
    (
        0.8,
        0.7,
        [(0.01741, None), (0.03451, None), (0.05132, Some(2))],
    ),
    (
        0.88,
        0.5,
        [(0.01972, Some(24)), (0.04668, None), (0.09118, None)],
    ),
    (
        0.88,
        0.6,
        [(0.01914, None), (0.04585, None), (0.07884, Some(4))],
    ),
    (
        0.88,
        0.7,
        [(0.01965, Some(10)), (0.0484, None), (0.09446, None)],
    ),
    (
        0.88,
        0.8,
        [(0.01654, Some(5)), (0.04083, None), (0.08, Some(1))],
    ),
    (
        0.92,
        0.5,
        [(0.01997, Some(27)), (0.04831, None), (0.08679, None)],
    ),
    (
        0.92,
        0.6,
        [(0.0191, None), (0.04706, None), (0.09191, None)],
    ),
    (
        0.92,
        0.7,
        [(0.01893, None), (0.04848, None), (0.07948, None)],
    ),
    (
        0.92,
        0.8,
        [(0.0181, None), (0.04172, None), (0.06192, Some(2))],
    ),
    (
        0.96,
        0.5,
        [(0.01968, None), (0.04629, None), (0.0976, Some(6))],
    ),
    (
        0.96,
        0.6,
        [(0.01922, None), (0.04838, None), (0.08539, None)],
    ),
    (
        0.96,
        0.7,
        [(0.01987, None), (0.04895, None), (0.0955, None)],
    ),
    (
        0.96,
        0.8,
        [(0.01919, None), (0.04265, None), (0.08348, None)],
    ),
    (
        0.99,
        0.5,
        [(0.01961, Some(34)), (0.04696, None), (0.09171, None)],
    ),
    (
        0.99,
        0.6,
        [(0.01958, None), (0.04823, None), (0.09413, None)],
    ),
    (
        0.99,
        0.7,
        [(0.01994, None), (0.04775, None), (0.08206, None)],
    ),
    (
        0.99,
        0.8,
        [(0.01897, Some(11)), (0.04127, None), (0.1, Some(2))],
    ),
];

#[test]
fn reference_hybrid_reproduces_tables_3_and_4() {
    for (target, pk, cells) in HYBRID_TABLE {
        for (s, n) in cells {
            let plan = reference(Hybrid, pk, target, s).plan().unwrap();
            let geometric = plan.len() - 1;
            if let Some(n) = n {
                assert_eq!(geometric, n, "p={target} p_k={pk} s={s}");
            }
            assert_eq!(plan.steps[0], pk);
            assert_eq!(plan.steps[1], s);
            assert!(
                (plan.total() - target).abs() <= 0.001,
                "p={target} p_k={pk} s={s}: total {}",
                plan.total()
            );
        }
    }
}

#[test]
fn exact_hybrid_with_reference_step_count_recovers_table_rates() {
    // The table rates are s = 1 − (1 − (p − p_k))^(1/n) rounded to 5 decimals
    // (`docs/design.md#hybrid`), with n the reference loop's step count.
    for (target, pk, cells) in HYBRID_TABLE {
        for (s, _) in cells {
            let n = reference(Hybrid, pk, target, s).plan().unwrap().len() - 1;
            let plan = ScheduleSpec::new(Hybrid, target)
                .with_start(pk)
                .with_steps(n)
                .plan()
                .unwrap();
            assert_eq!(plan.len(), n + 1);
            assert!(
                (py_round_ndigits(plan.steps[1], 5) - s).abs() < 1e-12,
                "p={target} p_k={pk}: first geometric step {} vs table {s}",
                plan.steps[1]
            );
            assert!((plan.total() - target).abs() < 1e-12);
        }
    }
}

#[test]
fn exact_hybrid_with_table_rate_as_step_may_take_one_more_step() {
    // Table rates are already adjusted and rounded to 5 decimals, so 1 − (1 − s)^n can fall
    // just short of p − p_k; the exact rule (smallest n within 1e-9) then adds a step
    // (27 of the 63 cells). Pass `steps = n` to replay the tables under Exact.
    let plan = ScheduleSpec::new(Hybrid, 0.7)
        .with_start(0.5)
        .with_step(0.01842)
        .plan()
        .unwrap();
    assert_eq!(plan.len(), 1 + 13);
    assert!((plan.steps[1] - (1.0 - 0.8f64.powf(1.0 / 13.0))).abs() < 1e-15);
}

#[test]
fn exact_hybrid_worked_example() {
    // p_k = 0.5, p = 0.7, 12 steps: 0.5, 0.01842…, s(1−s), … summing to exactly 0.7.
    let plan = ScheduleSpec::new(Hybrid, 0.7)
        .with_start(0.5)
        .with_steps(12)
        .plan()
        .unwrap();
    assert_eq!(plan.len(), 13);
    assert_close(&plan.steps, &[0.5, 0.0184234, 0.0180840], "exact hybrid");
    assert!((plan.total() - 0.7).abs() < 1e-12);
}

#[test]
fn exact_geometric_reproduces_the_adjusted_rate_table() {
    // (target, [(steps, adjusted rate)] for nominal rates 0.02, 0.05, 0.10).
    let table: [(f64, [(usize, f64); 3]); 6] = [
        (0.70, [(60, 0.01987), (24, 0.04893), (12, 0.09546)]),
        (0.80, [(80, 0.01992), (32, 0.04905), (16, 0.0957)]),
        (0.88, [(105, 0.01999), (42, 0.04923), (21, 0.09604)]),
        (0.92, [(126, 0.01985), (50, 0.04926), (24, 0.09989)]),
        (0.96, [(160, 0.01992), (63, 0.04981), (31, 0.09863)]),
        (0.99, [(228, 0.02), (90, 0.04988), (44, 0.09937)]),
    ];
    for (target, cells) in table {
        for (nominal, (n, rate)) in [0.02, 0.05, 0.10].into_iter().zip(cells) {
            let plan = ScheduleSpec::new(Geometric, target)
                .with_step(nominal)
                .plan()
                .unwrap();
            assert_eq!(plan.len(), n, "p={target} r={nominal}");
            assert!(
                (py_round_ndigits(plan.steps[0], 5) - rate).abs() < 1e-12,
                "p={target} r={nominal}: rate {}",
                plan.steps[0]
            );
            assert!((plan.total() - target).abs() < 1e-12);
        }
    }
}

#[test]
fn reference_logarithmic_extra_cases_match_numpy() {
    // Produced by the reference scheduler with numpy 2.4.
    let plan = reference(Logarithmic, 0.3, 0.97, 0.05).plan().unwrap();
    assert_eq!(plan.len(), 14);
    assert_close(
        &plan.steps,
        &[0.3, 0.137, 0.111, 0.09, 0.072, 0.058],
        "log .3/.97/.05",
    );
    assert!((plan.total() - 0.969).abs() < TOL);
    // Many steps: the tail rounds to zero, faithfully (check_resolvable then rejects it).
    let plan = reference(Logarithmic, 0.0, 0.99, 0.01).plan().unwrap();
    assert_eq!(plan.len(), 99);
    assert_close(&plan.steps[..3], &[0.046, 0.044, 0.042], "log .99/.01");
    assert_eq!(plan.steps[98], 0.0);
    assert!((plan.total() - 0.995).abs() < TOL);
    assert!(matches!(
        plan.check_resolvable(1_000_000),
        Err(ScheduleError::Unresolvable { index: 97, .. })
    ));
}

#[test]
fn reference_one_shot_ignores_step_and_start() {
    let spec = ScheduleSpec::new(OneShot, 0.9)
        .with_step(0.0)
        .with_start(0.3)
        .with_compat(Compat::Reference);
    assert_eq!(spec.plan().unwrap().steps, vec![0.9]);
}

#[test]
fn numpy_helpers() {
    assert_eq!(reference::geomspace_1_to_n(0), Vec::<f64>::new());
    assert_eq!(reference::geomspace_1_to_n(1), vec![1.0]);
    let g = reference::geomspace_1_to_n(4);
    assert_eq!((g[0], g[3]), (1.0, 4.0));
    assert!((g[1] - 4f64.powf(1.0 / 3.0)).abs() < 1e-15);
    let v: Vec<f64> = (0..300).map(|i| 1.0 / (i as f64 + 1.0)).collect();
    let plain: f64 = v.iter().sum();
    assert!((reference::numpy_sum(&v) - plain).abs() < 1e-13);
}

// ---------------------------------------------------------------- exact semantics

#[test]
fn exact_simple_kinds() {
    let p = ScheduleSpec::new(OneShot, 0.8).plan().unwrap();
    assert_eq!(p.steps, vec![0.8]);

    let p = ScheduleSpec::new(Constant, 0.9)
        .with_step(0.2)
        .plan()
        .unwrap();
    assert_eq!(p.len(), 5); // ceil(4.5); 0.18 each
    assert_close(&p.steps, &[0.18; 5], "constant step .2");
    assert_eq!(p.total(), 0.9);

    let p = ScheduleSpec::new(Constant, 0.9)
        .with_step(0.1)
        .plan()
        .unwrap();
    assert_eq!(p.len(), 9); // 9.000000000000002 is 9 within tolerance

    let p = ScheduleSpec::new(Constant, 0.9)
        .with_steps(5)
        .with_start(0.4)
        .plan()
        .unwrap();
    assert_close(&p.steps, &[0.4, 0.1, 0.1, 0.1, 0.1, 0.1], "constant start");

    // The reference's `refactor` branch geometric (0.9, 5) example
    // (`docs/design.md#reference-arithmetic`).
    let p = ScheduleSpec::new(Geometric, 0.9)
        .with_steps(5)
        .plan()
        .unwrap();
    assert_close(
        &p.steps,
        &[0.36904266, 0.23285018, 0.14691853, 0.09269933, 0.05848932],
        "geometric 0.9/5",
    );
    assert_eq!(p.total(), 0.9);

    // The `refactor` branch few-shot (0.9, 3, one-shot 0.6) example.
    let p = ScheduleSpec::new(Hybrid, 0.9)
        .with_start(0.6)
        .with_steps(3)
        .plan()
        .unwrap();
    assert_close(
        &p.steps,
        &[0.6, 0.112096, 0.09953049, 0.08837352],
        "few-shot",
    );
}

#[test]
fn exact_logarithmic_is_unrounded_reference() {
    let p = ScheduleSpec::new(Logarithmic, 0.9)
        .with_steps(9)
        .plan()
        .unwrap();
    let r = reference(Logarithmic, 0.0, 0.9, 0.1).plan().unwrap();
    for (e, r) in p.steps.iter().zip(&r.steps) {
        assert!((e - r).abs() <= 0.0005 + 1e-12);
    }
    assert!((p.total() - 0.9).abs() < 1e-12);
    assert!(p.steps.windows(2).all(|w| w[0] > w[1]), "largest first");
}

#[test]
fn exact_polynomial_agp() {
    // s_t = 0.9 (1 − (1 − t/4)^3): 0.9·37/64, 0.9·(1/8 − ... ) ...
    let p = ScheduleSpec::new(Polynomial, 0.9)
        .with_steps(4)
        .plan()
        .unwrap();
    let level = |t: f64| 0.9 * (1.0 - (1.0 - t / 4.0).powi(3));
    let cum = p.cumulative();
    for t in 1..=4 {
        assert!((cum[t - 1] - level(t as f64)).abs() < 1e-12);
    }
    // With a start, the first step is the start itself, then AGP from it.
    let p = ScheduleSpec::new(Polynomial, 0.9)
        .with_start(0.5)
        .with_steps(2)
        .with_power(1.0)
        .plan()
        .unwrap();
    assert_close(&p.steps, &[0.5, 0.2, 0.2], "linear agp");
}

#[test]
fn plan_accessors() {
    let p = Plan {
        steps: vec![0.5, 0.25, 0.125],
    };
    assert_eq!(p.cumulative(), vec![0.5, 0.75, 0.875]);
    assert_eq!(p.total(), 0.875);
    assert_eq!(p.sparsity_at(0), 0.0);
    assert_eq!(p.sparsity_at(2), 0.75);
    assert_eq!(p.sparsity_at(99), 0.875);
    assert_eq!(p.step_counts(10), vec![5, 2, 1]);
    assert_eq!(p.cumulative_counts(10), vec![5, 2, 1]);
    let r = p.report();
    assert_eq!(r.cumulative, p.cumulative());
    assert_eq!(r.total, 0.875);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["total"], 0.875);
    assert_eq!(json["steps"].as_array().unwrap().len(), 3);
    assert_eq!(json["cumulative"][1], 0.75);
}

#[test]
fn cumulative_counts_reach_floor_of_total() {
    let p = Plan {
        steps: vec![0.1, 0.2],
    };
    assert_eq!(p.step_counts(10), vec![1, 2]);
    assert_eq!(p.cumulative_counts(10), vec![1, 2]); // 10 × 0.30000000000000004 → 3
    let p = ScheduleSpec::new(Constant, 0.9)
        .with_steps(7)
        .plan()
        .unwrap();
    let n = 1000;
    assert_eq!(p.cumulative_counts(n).iter().sum::<u64>(), 900);
    assert!(p.step_counts(n).iter().sum::<u64>() <= 900);
}

#[test]
fn check_resolvable_names_the_step() {
    let p = Plan {
        steps: vec![0.5, 0.01, 0.001],
    };
    assert!(p.check_resolvable(1000).is_ok());
    let err = p.check_resolvable(999).unwrap_err();
    assert_eq!(
        err,
        ScheduleError::Unresolvable {
            index: 2,
            value: 0.001,
            n_prunable: 999
        }
    );
    let msg = err.to_string();
    assert!(
        msg.contains("step 2") && msg.contains("0.001") && msg.contains("999"),
        "{msg}"
    );
    assert!(p.check_resolvable(0).is_err());
}

// ---------------------------------------------------------------- validation

#[test]
fn validation_errors() {
    use ScheduleError as E;
    let err = |s: ScheduleSpec| s.plan().unwrap_err();

    for t in [0.0, 1.0, 1.5, -0.1, f64::NAN] {
        assert!(
            matches!(err(ScheduleSpec::new(OneShot, t)), E::InvalidTarget { .. }),
            "{t}"
        );
    }
    for s in [0.0, 1.0, -0.2, f64::NAN] {
        let e = err(ScheduleSpec::new(Constant, 0.9).with_step(s));
        assert!(matches!(e, E::InvalidStep { .. }), "{s}: {e}");
        let e = err(reference(Geometric, 0.0, 0.9, s));
        assert!(matches!(e, E::InvalidStep { .. }), "{s}: {e}");
    }
    assert!(matches!(
        err(ScheduleSpec::new(Geometric, 0.9).with_steps(0)),
        E::InvalidSteps { value: 0, .. }
    ));
    assert!(matches!(
        err(ScheduleSpec::new(Geometric, 0.9).with_steps(MAX_STEPS + 1)),
        E::InvalidSteps { .. }
    ));
    for start in [-0.1, 0.9, 0.95, f64::NAN] {
        let e = err(ScheduleSpec::new(Constant, 0.9)
            .with_steps(2)
            .with_start(start));
        assert!(matches!(e, E::InvalidStart { .. }), "{start}: {e}");
    }
    assert!(matches!(
        err(ScheduleSpec::new(Hybrid, 0.9).with_steps(3)),
        E::MissingStart { value: None }
    ));
    assert!(matches!(
        err(ScheduleSpec::new(Hybrid, 0.9).with_steps(3).with_start(0.0)),
        E::MissingStart { .. }
    ));
    assert!(matches!(
        err(reference(Hybrid, 0.0, 0.9, 0.1)),
        E::MissingStart { .. }
    ));
    assert!(matches!(
        err(ScheduleSpec::new(Geometric, 0.9)
            .with_steps(3)
            .with_start(0.2)),
        E::StartNotSupported { .. }
    ));
    assert!(matches!(
        err(ScheduleSpec::new(OneShot, 0.9).with_start(0.2)),
        E::StartNotSupported { .. }
    ));
    assert!(matches!(
        err(ScheduleSpec::new(Constant, 0.9)),
        E::StepOrSteps { .. }
    ));
    assert!(matches!(
        err(ScheduleSpec::new(Constant, 0.9)
            .with_step(0.1)
            .with_steps(9)),
        E::StepOrSteps { .. }
    ));
    assert!(matches!(
        err(ScheduleSpec::new(OneShot, 0.9).with_steps(2)),
        E::OneShotSteps { steps: 2 }
    ));
    assert_eq!(
        ScheduleSpec::new(OneShot, 0.9)
            .with_steps(1)
            .plan()
            .unwrap()
            .steps,
        vec![0.9]
    );
    assert!(matches!(
        err(ScheduleSpec::new(Geometric, 0.9)
            .with_steps(9)
            .with_compat(Compat::Reference)),
        E::ReferenceNeedsStep { .. }
    ));
    let e = err(ScheduleSpec::new(Polynomial, 0.9)
        .with_step(0.1)
        .with_compat(Compat::Reference));
    assert_eq!(e, E::NoReference { kind: Polynomial });
    assert!(
        e.to_string()
            .contains("polynomial has no reference semantics")
    );
    for p in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            err(ScheduleSpec::new(Polynomial, 0.9)
                .with_steps(3)
                .with_power(p)),
            E::InvalidPower { .. }
        ));
    }
    // Unreachable / runaway plans.
    assert!(matches!(
        err(ScheduleSpec::new(Geometric, 0.99).with_step(1e-9)),
        E::TooManySteps { .. }
    ));
    assert!(matches!(
        err(reference(Geometric, 0.0, 0.9, 1e-9)),
        E::Unreachable { .. }
    ));
    assert!(matches!(
        err(reference(Constant, 0.0, 0.1, 0.3)),
        E::Unreachable { .. }
    ));
    assert!(matches!(
        err(reference(Logarithmic, 0.0, 0.1, 0.3)),
        E::Unreachable { .. }
    ));
}

#[test]
fn error_messages_name_field_and_value() {
    let msg = |s: ScheduleSpec| s.plan().unwrap_err().to_string();
    assert_eq!(
        msg(ScheduleSpec::new(OneShot, 1.2)),
        "target must be in (0, 1), got 1.2"
    );
    assert_eq!(
        msg(ScheduleSpec::new(Constant, 0.9).with_step(1.5)),
        "step must be in (0, 1), got 1.5"
    );
    assert!(msg(ScheduleSpec::new(Constant, 0.9).with_steps(0)).contains("steps"));
    assert!(
        msg(ScheduleSpec::new(Constant, 0.5)
            .with_steps(2)
            .with_start(0.6))
        .contains("0.6")
    );
    assert!(msg(ScheduleSpec::new(Hybrid, 0.5).with_steps(2)).contains("start"));
}

// ---------------------------------------------------------------- parsing and serde

#[test]
fn from_str_and_display() {
    for kind in ScheduleKind::ALL {
        assert_eq!(kind.to_string().parse::<ScheduleKind>().unwrap(), kind);
    }
    assert_eq!("ITERATIVE".parse::<ScheduleKind>().unwrap(), Geometric);
    assert_eq!("few_shot".parse::<ScheduleKind>().unwrap(), Hybrid);
    assert_eq!("one_shot".parse::<ScheduleKind>().unwrap(), OneShot);
    let e = "cubic".parse::<ScheduleKind>().unwrap_err();
    assert!(e.to_string().contains("`cubic`") && e.to_string().contains("one-shot"));
    assert_eq!("reference".parse::<Compat>().unwrap(), Compat::Reference);
    assert_eq!(" Exact ".parse::<Compat>().unwrap(), Compat::Exact);
    assert!(
        "python"
            .parse::<Compat>()
            .unwrap_err()
            .to_string()
            .contains("exact or reference")
    );
}

#[test]
fn serde_round_trip() {
    let specs = [
        ScheduleSpec::new(OneShot, 0.9),
        ScheduleSpec::new(Hybrid, 0.9)
            .with_start(0.6)
            .with_step(0.02)
            .with_compat(Compat::Reference),
        ScheduleSpec::new(Polynomial, 0.8)
            .with_steps(10)
            .with_power(2.0),
    ];
    for spec in specs {
        let json = serde_json::to_string(&spec).unwrap();
        let back: ScheduleSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, spec, "{json}");
    }
    let json = serde_json::to_value(ScheduleSpec::new(OneShot, 0.5)).unwrap();
    assert_eq!(json["kind"], "one-shot");
    assert_eq!(json["compat"], "exact");
    assert!(json.get("step").is_none());

    // Defaults and aliases when reading a config.
    let s: ScheduleSpec = serde_json::from_str(
        r#"{"kind":"iterative","target":0.9,"step":0.2,"compat":"reference"}"#,
    )
    .unwrap();
    assert_eq!(s.kind, Geometric);
    assert_eq!(s.power, 3.0);
    assert_eq!(s.plan().unwrap().len(), 11);
    assert!(
        serde_json::from_str::<ScheduleSpec>(r#"{"kind":"constant","target":0.9,"stpe":0.1}"#)
            .is_err()
    );
    for kind in ScheduleKind::ALL {
        let v = serde_json::to_value(kind).unwrap();
        assert_eq!(v, kind.name());
    }

    let plan = ScheduleSpec::new(Constant, 0.6)
        .with_steps(3)
        .plan()
        .unwrap();
    let back: Plan = serde_json::from_str(&serde_json::to_string(&plan).unwrap()).unwrap();
    // serde_json without its `float_roundtrip` feature may parse 1 ulp off.
    assert_eq!(back.len(), plan.len());
    assert_close(&back.steps, &plan.steps, "plan round trip");

    let manual = ManualSchedule::new(vec![vec![0.2], vec![0.1, 0.2, 0.3]]);
    let back: ManualSchedule =
        serde_json::from_str(&serde_json::to_string(&manual).unwrap()).unwrap();
    assert_eq!(back, manual);
}

// ---------------------------------------------------------------- manual

#[test]
fn manual_schedule() {
    use ScheduleError as E;
    let m = ManualSchedule::new(vec![vec![0.2], vec![0.1, 0.2, 0.0]]);
    assert!(m.validate(3).is_ok());
    assert_eq!(m.len(), 2);
    assert_eq!(m.per_layer(0, 3), vec![0.2, 0.2, 0.2]);
    assert_eq!(m.per_layer(1, 3), vec![0.1, 0.2, 0.0]);
    assert_close(
        &m.cumulative_at(2, 3),
        &[0.3, 0.4, 0.2],
        "manual cumulative",
    );
    assert_eq!(m.cumulative_at(0, 3), vec![0.0; 3]);

    assert_eq!(
        m.validate(4),
        Err(E::ManualLength {
            step: 1,
            len: 3,
            n_layers: 4
        })
    );
    assert_eq!(ManualSchedule::new(vec![]).validate(3), Err(E::ManualEmpty));
    assert_eq!(m.validate(0), Err(E::ManualNoLayers));
    assert!(matches!(
        ManualSchedule::new(vec![vec![0.1, -0.1]]).validate(2),
        Err(E::ManualValue {
            step: 0,
            layer: 1,
            ..
        })
    ));
    assert!(matches!(
        ManualSchedule::new(vec![vec![f64::NAN]]).validate(2),
        Err(E::ManualValue { .. })
    ));
    assert!(matches!(
        ManualSchedule::new(vec![vec![0.6], vec![0.1, 0.5]]).validate(2),
        Err(E::ManualLayerTotal { layer: 1, .. })
    ));
}

#[test]
#[should_panic(expected = "manual step 0 has 2 values for 3 layers")]
fn manual_per_layer_panics_on_bad_length() {
    ManualSchedule::new(vec![vec![0.1, 0.2]]).per_layer(0, 3);
}

// ---------------------------------------------------------------- properties

fn check_exact(spec: &ScheduleSpec) -> Result<(), TestCaseError> {
    let plan = spec
        .plan()
        .map_err(|e| TestCaseError::fail(format!("{spec:?}: {e}")))?;
    prop_assert!(!plan.is_empty());
    prop_assert!(plan.steps.iter().all(|&v| v > 0.0), "{:?}", plan.steps);
    let cum = plan.cumulative();
    prop_assert!(cum.windows(2).all(|w| w[1] > w[0]), "{:?}", cum);
    prop_assert!((cum[cum.len() - 1] - spec.target).abs() < 1e-9, "{:?}", cum);
    let sum: f64 = plan.steps.iter().sum();
    prop_assert!((sum - plan.total()).abs() < 1e-12);
    prop_assert!((plan.total() - spec.target).abs() < 1e-9);
    prop_assert_eq!(plan.sparsity_at(plan.len()), plan.total());
    Ok(())
}

proptest! {
    #[test]
    fn exact_plans_reach_target_with_steps(
        target in 0.01f64..0.995,
        steps in 1usize..200,
        start_frac in 0.0f64..0.95,
        power in 0.5f64..6.0,
    ) {
        let start = target * start_frac;
        for kind in ScheduleKind::ALL {
            let mut spec = ScheduleSpec::new(kind, target).with_power(power);
            if kind != OneShot {
                spec = spec.with_steps(steps);
            }
            if matches!(kind, Constant | Logarithmic | Hybrid | Polynomial) && start > 0.0 {
                spec = spec.with_start(start);
            }
            if kind == Hybrid && start <= 0.0 {
                spec = spec.with_start(target / 2.0);
            }
            check_exact(&spec)?;
            if kind != OneShot {
                let n_extra = usize::from(spec.start_or_zero() > 0.0);
                prop_assert_eq!(spec.plan().unwrap().len(), steps + n_extra);
            }
        }
    }

    #[test]
    fn exact_plans_reach_target_with_step_rate(
        target in 0.01f64..0.995,
        step in 0.005f64..0.99,
        start_frac in 0.0f64..0.95,
    ) {
        let start = target * start_frac;
        for kind in [Constant, Geometric, Logarithmic, Hybrid, Polynomial] {
            let mut spec = ScheduleSpec::new(kind, target).with_step(step);
            if kind == Hybrid {
                spec = spec.with_start(start.max(target / 2.0));
            } else if kind != Geometric && start > 0.0 {
                spec = spec.with_start(start);
            }
            check_exact(&spec)?;
        }
        // Geometric step count is the smallest n with 1 − (1 − step)^n ≥ target.
        let n = ScheduleSpec::new(Geometric, target).with_step(step).plan().unwrap().len();
        let reached = |n: usize| 1.0 - (1.0 - step).powi(n as i32);
        prop_assert!(reached(n) >= target - 1e-9);
        prop_assert!(n == 1 || reached(n - 1) < target - 1e-9);
    }

    #[test]
    fn reference_plans_are_well_formed(
        target in 0.05f64..0.99,
        step in 0.01f64..0.5,
        start_frac in 0.05f64..0.9,
    ) {
        let start = py_round_ndigits(target * start_frac, 2).max(0.01);
        prop_assume!(start < target);
        // Geometric/hybrid stop within 0.001 of the target, overshooting by < one step.
        for spec in [reference(Geometric, 0.0, target, step), reference(Hybrid, start, target, step)] {
            let plan = spec.plan().unwrap();
            let total = plan.total();
            prop_assert!(total >= target - 0.001 - 1e-9);
            prop_assert!(total - plan.steps[plan.len() - 1] < target - 0.001 + 1e-9 || plan.len() == 1);
            prop_assert!(plan.steps.iter().all(|&v| v > 0.0));
        }
    }
}
