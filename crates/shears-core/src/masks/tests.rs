use super::*;
use proptest::prelude::*;

fn dense(sizes: &[usize]) -> Vec<Mask> {
    sizes.iter().map(|&n| Mask::dense(n)).collect()
}

fn keeps(masks: &[Mask]) -> Vec<Vec<bool>> {
    masks.iter().map(|m| m.as_slice().to_vec()).collect()
}

const T: bool = true;
const F: bool = false;

#[test]
fn mask_basics_and_serde() {
    let m = Mask::from_keep(vec![T, F, T, T]);
    assert_eq!((m.len(), m.kept(), m.pruned()), (4, 3, 1));
    assert_eq!(m.density(), 0.75);
    assert_eq!(m.to_f32(), vec![1.0, 0.0, 1.0, 1.0]);
    let mut w = vec![1.0, 2.0, 3.0, 4.0];
    m.apply(&mut w);
    assert_eq!(w, vec![1.0, 0.0, 3.0, 4.0]);
    assert!(m.is_subset_of(&Mask::dense(4)));
    assert!(!Mask::dense(4).is_subset_of(&m));
    assert_eq!(Mask::dense(0).density(), 1.0);

    for n in [0usize, 1, 63, 64, 65, 130] {
        let m = Mask::from_keep((0..n).map(|i| i % 3 != 1).collect());
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<Mask>(&json).unwrap(), m);
    }
    assert_eq!(
        serde_json::to_string(&Mask::from_keep(vec![T, F, T])).unwrap(),
        r#"{"len":3,"words":[5]}"#
    );
    assert!(serde_json::from_str::<Mask>(r#"{"len":3,"words":[13]}"#).is_err());
    assert!(serde_json::from_str::<Mask>(r#"{"len":65,"words":[1]}"#).is_err());
}

#[test]
fn mask_from_channels() {
    // shape [2, 3] along dim 1: keep channels 0 and 2 in each row.
    let m = Mask::from_channels(&[T, F, T], &[2, 3], 1).unwrap();
    assert_eq!(m.as_slice(), &[T, F, T, T, F, T]);
    // shape [2, 2, 2] along dim 0.
    let m = Mask::from_channels(&[F, T], &[2, 2, 2], 0).unwrap();
    assert_eq!(m.as_slice(), &[F, F, F, F, T, T, T, T]);
    assert!(Mask::from_channels(&[T, F], &[2, 3], 1).is_err());
    assert!(Mask::from_channels(&[T, F], &[2, 3], 2).is_err());
}

#[test]
fn removal_count_is_python_int() {
    assert_eq!(removal_count(10, 0.25), 2);
    assert_eq!(removal_count(10, 0.2), 2);
    assert_eq!(removal_count(11_164_362, 0.5), 5_582_181);
    assert_eq!(removal_count(7, 1.0), 7);
    assert_eq!(removal_count(7, 0.0), 0);
}

// Tensor A is small-valued, tensor B large-valued: global pruning empties A first, layer-wise
// takes the same fraction from each.
fn two_tensors() -> (Vec<Vec<f32>>, Vec<Mask>) {
    (
        vec![vec![0.1, 0.4, 0.2, 0.3], vec![5.0, 1.0, 3.0, 2.0]],
        dense(&[4, 4]),
    )
}

#[test]
fn global_vs_layerwise_differ() {
    let (s, m) = two_tensors();
    let g = prune_step(&s, &m, &StepAmount::Uniform(0.5), &Scope::global()).unwrap();
    assert_eq!(keeps(&g), vec![vec![F, F, F, F], vec![T, T, T, T]]);
    let l = prune_step(&s, &m, &StepAmount::Uniform(0.5), &Scope::LayerWise).unwrap();
    assert_eq!(keeps(&l), vec![vec![F, T, F, T], vec![T, F, T, F]]);
}

#[test]
fn per_layer_amounts_and_ratios() {
    let (s, m) = two_tensors();
    let l = prune_step(
        &s,
        &m,
        &StepAmount::PerLayer(vec![0.25, 0.75]),
        &Scope::LayerWise,
    )
    .unwrap();
    assert_eq!(keeps(&l), vec![vec![F, T, T, T], vec![T, F, F, F]]);
    // ratios [0.5, 1.0] × v = 0.5 → floor(4·0.25) = 1, floor(4·0.5) = 2.
    let scope = Scope::PerLayer {
        ratios: vec![0.5, 1.0],
    };
    let p = prune_step(&s, &m, &StepAmount::Uniform(0.5), &scope).unwrap();
    assert_eq!(keeps(&p), vec![vec![F, T, T, T], vec![T, F, T, F]]);
    // second step of the same schedule reaches the ratios exactly.
    let p2 = prune_step(&s, &p, &StepAmount::Uniform(0.5), &scope).unwrap();
    assert_eq!(
        p2.iter().map(Mask::sparsity).collect::<Vec<_>>(),
        vec![0.5, 1.0]
    );
    assert_eq!(
        prune_step(
            &s,
            &m,
            &StepAmount::PerLayer(vec![0.5, 0.5]),
            &Scope::global()
        ),
        Err(SelectError::GlobalNeedsUniform)
    );
    assert!(matches!(
        prune_step(&s, &m, &StepAmount::PerLayer(vec![0.5]), &Scope::LayerWise),
        Err(SelectError::ValueCount { .. })
    ));
}

#[test]
fn cumulative_masks_never_regrow() {
    let (mut s, m) = two_tensors();
    let m1 = prune_step(&s, &m, &StepAmount::Uniform(0.25), &Scope::global()).unwrap();
    assert_eq!(keeps(&m1), vec![vec![F, T, F, T], vec![T, T, T, T]]);
    // Scores of pruned entries are now the largest: they must still not come back, and
    // the next 2 lowest *kept* entries go.
    s[0][0] = 100.0;
    s[0][2] = 100.0;
    let m2 = prune_step(&s, &m1, &StepAmount::Uniform(0.25), &Scope::global()).unwrap();
    assert_eq!(keeps(&m2), vec![vec![F, F, F, F], vec![T, T, T, T]]);
    assert!(m2.iter().zip(&m1).all(|(n, o)| n.is_subset_of(o)));
}

#[test]
fn min_density_floor_prevents_collapse() {
    let (s, m) = two_tensors();
    // floor: ceil(4·0.5) = 2 kept in A, so A loses 2 and B loses 2 (its lowest: 1.0, 2.0).
    let g = prune_step(
        &s,
        &m,
        &StepAmount::Uniform(0.5),
        &Scope::Global { min_density: 0.5 },
    )
    .unwrap();
    assert_eq!(keeps(&g), vec![vec![F, T, F, T], vec![T, F, T, F]]);
    // Any positive floor keeps at least one entry.
    let g = prune_step(
        &s,
        &m,
        &StepAmount::Uniform(0.5),
        &Scope::Global { min_density: 1e-9 },
    )
    .unwrap();
    assert_eq!(keeps(&g), vec![vec![F, T, F, F], vec![T, F, T, T]]);
    // Floors that cannot be honoured are an error, not a silent shortfall.
    assert!(matches!(
        prune_step(
            &s,
            &m,
            &StepAmount::Uniform(0.75),
            &Scope::Global { min_density: 0.5 }
        ),
        Err(SelectError::FloorConflict {
            requested: 6,
            removable: 4,
            ..
        })
    ));
}

#[test]
fn floor_saturation_cascades() {
    // Three tensors; the lowest scores are all in A, then B. A floor of 50% makes A and
    // then B saturate, pushing the rest into C.
    let s = vec![vec![0.0; 4], vec![1.0; 4], vec![2.0, 3.0, 4.0, 5.0]];
    let g = prune_step(
        &s,
        &dense(&[4, 4, 4]),
        &StepAmount::Uniform(0.5),
        &Scope::Global { min_density: 0.5 },
    )
    .unwrap();
    assert_eq!(
        keeps(&g),
        vec![vec![F, F, T, T], vec![F, F, T, T], vec![F, F, T, T]]
    );
}

#[test]
fn ties_break_by_tensor_then_index() {
    let s = vec![vec![1.0; 3], vec![1.0; 3]];
    let g = prune_step(
        &s,
        &dense(&[3, 3]),
        &StepAmount::Uniform(0.5),
        &Scope::global(),
    )
    .unwrap();
    assert_eq!(keeps(&g), vec![vec![F, F, F], vec![T, T, T]]);
    let g = remove_lowest(&s, &dense(&[3, 3]), 4).unwrap();
    assert_eq!(keeps(&g), vec![vec![F, F, F], vec![F, T, T]]);
    // -0.0 and 0.0 tie; index decides.
    let g = remove_lowest(&[vec![0.0, -0.0]], &dense(&[2]), 1).unwrap();
    assert_eq!(keeps(&g), vec![vec![F, T]]);
    // Negative and infinite scores order correctly.
    let g = remove_lowest(
        &[vec![f32::INFINITY, -3.0, 2.0, -f32::INFINITY]],
        &dense(&[4]),
        2,
    )
    .unwrap();
    assert_eq!(keeps(&g), vec![vec![T, F, T, F]]);
}

#[test]
fn errors_name_the_tensor() {
    let s = vec![vec![1.0, 2.0], vec![f32::NAN, 1.0]];
    assert_eq!(
        remove_lowest(&s, &dense(&[2, 2]), 1),
        Err(SelectError::NanScore {
            tensor: 1,
            index: 0
        })
    );
    // NaN on an already-pruned entry is ignored.
    let masks = vec![Mask::dense(2), Mask::from_keep(vec![F, T])];
    assert!(remove_lowest(&s, &masks, 1).is_ok());
    assert_eq!(
        remove_lowest(&[vec![1.0, 2.0], vec![1.0]], &dense(&[2, 2]), 1),
        Err(SelectError::LengthMismatch {
            tensor: 1,
            scores: 1,
            mask: 2
        })
    );
    assert!(matches!(
        remove_lowest(&[vec![1.0]], &dense(&[1, 1]), 1),
        Err(SelectError::TensorCount { .. })
    ));
    assert_eq!(
        remove_lowest(&[vec![1.0, 2.0]], &[Mask::from_keep(vec![F, T])], 2),
        Err(SelectError::TooMany {
            tensor: None,
            requested: 2,
            alive: 1
        })
    );
    let m = vec![Mask::dense(2), Mask::from_keep(vec![F, T])];
    assert_eq!(
        prune_step(
            &[vec![1.0, 2.0], vec![1.0, 2.0]],
            &m,
            &StepAmount::Uniform(1.0),
            &Scope::LayerWise
        ),
        Err(SelectError::TooMany {
            tensor: Some(1),
            requested: 2,
            alive: 1
        })
    );
    let e = prune_step(
        &[vec![1.0]],
        &dense(&[1]),
        &StepAmount::Uniform(1.5),
        &Scope::LayerWise,
    )
    .unwrap_err();
    assert!(matches!(e, SelectError::BadFraction { .. }));
    assert!(e.to_string().contains("1.5"));
    assert!(
        prune_step(
            &[vec![1.0]],
            &dense(&[1]),
            &StepAmount::Uniform(f64::NAN),
            &Scope::global()
        )
        .is_err()
    );
    assert_eq!(
        SelectError::NanScore {
            tensor: 3,
            index: 7
        }
        .to_string(),
        "tensor 3: NaN score at element 7"
    );
}

#[test]
fn plan_counts_are_what_selection_removes() {
    use crate::schedule::{Compat, Plan};
    let sizes = [7usize, 13, 101];
    let n: usize = sizes.iter().sum();
    let s: Vec<Vec<f32>> = sizes
        .iter()
        .enumerate()
        .map(|(t, &k)| (0..k).map(|i| ((i * 37 + t * 11) % 17) as f32).collect())
        .collect();
    let plan = Plan {
        steps: vec![0.3, 0.15, 0.1, 0.07, 0.2],
    };
    for compat in [Compat::Exact, Compat::Reference] {
        let counts = RemovalPlan::new(&plan, sizes.to_vec(), &Scope::global(), compat).unwrap();
        let mut masks = dense(&sizes);
        for t in 1..=counts.len() {
            masks = remove(&s, &masks, counts.removal(t), 0.0).unwrap();
            let report = counts.verify(t, &masks).unwrap();
            assert_eq!(report.pruned(), counts.pruned_after(t));
        }
        let expected = match compat {
            // floor(121 · 0.82) = 99: the cumulative target, exactly.
            Compat::Exact => (n as f64 * 0.82).floor() as usize,
            // The reference floors every step on its own and loses up to one per step.
            Compat::Reference => plan.steps.iter().map(|&v| removal_count(n, v)).sum(),
        };
        assert_eq!(counts.pruned_after(counts.len()), expected, "{compat}");
        // The masks of the last step are not what step 2 planned: reported with numbers.
        let err = counts.verify(2, &masks).unwrap_err();
        assert!(
            matches!(err, SelectError::SparsityMismatch { tensor: None, .. }),
            "{err}"
        );
    }
    assert_eq!(
        RemovalPlan::new(&plan, sizes.to_vec(), &Scope::global(), Compat::Exact)
            .unwrap()
            .pruned_after(5),
        99
    );
    // A step that removes nothing out of these 121 entries is refused.
    let tiny = Plan {
        steps: vec![0.5, 0.001],
    };
    assert!(RemovalPlan::new(&tiny, sizes.to_vec(), &Scope::global(), Compat::Exact).is_err());
}

#[test]
fn plan_ledger_checks_per_tensor() {
    use crate::schedule::{Compat, ManualSchedule, Plan};
    let (s, m) = two_tensors();
    let plan = Plan {
        steps: vec![0.25, 0.25],
    };
    let counts = RemovalPlan::new(&plan, vec![4, 4], &Scope::LayerWise, Compat::Exact).unwrap();
    assert_eq!(counts.removal(1), &Removal::PerTensor(vec![1, 1]));
    let m1 = remove(&s, &m, counts.removal(1), 0.0).unwrap();
    assert_eq!(
        counts.verify(1, &m1).unwrap().per_tensor,
        vec![(3, 4), (3, 4)]
    );
    // Same total, wrong distribution → names tensor 0.
    let wrong = vec![
        Mask::from_keep(vec![F, F, T, T]),
        Mask::from_keep(vec![T, T, T, T]),
    ];
    assert!(matches!(
        counts.verify(1, &wrong),
        Err(SelectError::SparsityMismatch {
            tensor: Some(0),
            ..
        })
    ));
    // Per-layer ratios scale each tensor's count; a manual schedule gives its own.
    let ratios = Scope::PerLayer {
        ratios: vec![0.5, 1.0],
    };
    let one = Plan { steps: vec![1.0] };
    let scaled = RemovalPlan::new(&one, vec![4, 4], &ratios, Compat::Exact).unwrap();
    assert_eq!(scaled.removal(1), &Removal::PerTensor(vec![2, 4]));
    let manual = ManualSchedule::new(vec![vec![0.25, 0.5], vec![0.25]]);
    let by_hand = RemovalPlan::manual(&manual, vec![4, 4]).unwrap();
    assert_eq!(by_hand.pruned_per_tensor_after(2), Some(vec![2, 3]));
    assert_eq!(by_hand.fractions().steps, vec![3.0 / 8.0, 2.0 / 8.0]);
    // A global step fixes only the total.
    let global = RemovalPlan::new(&plan, vec![4, 4], &Scope::global(), Compat::Exact).unwrap();
    assert_eq!(global.pruned_per_tensor_after(1), None);
    let m2 = remove(&s, &m, global.removal(1), 0.0).unwrap();
    assert_eq!(global.verify(1, &m2).unwrap().pruned(), 2);
}

#[test]
fn report_numbers() {
    let r =
        SparsityReport::from_masks(&[Mask::from_keep(vec![T, F]), Mask::from_keep(vec![F, F, T])]);
    assert_eq!((r.kept, r.total, r.pruned()), (2, 5, 3));
    assert!((r.sparsity - 0.6).abs() < 1e-12);
    assert!((r.sparsity_of(10) - 0.3).abs() < 1e-12);
}

#[test]
fn channel_selection() {
    let scores = [3.0, 1.0, 2.0, 1.0, 5.0];
    let alive = [T, T, T, F, T];
    assert_eq!(
        select_channels(&scores, &alive, 2).unwrap(),
        vec![T, F, F, F, T]
    );
    // floor(5 · 0.5) = 2 more channels.
    assert_eq!(
        prune_channels(&scores, &alive, 0.5).unwrap(),
        vec![T, F, F, F, T]
    );
    assert_eq!(
        prune_channels(&scores, &alive, 0.1).unwrap(),
        alive.to_vec()
    );
    assert!(matches!(
        select_channels(&scores, &alive, 5),
        Err(SelectError::TooMany { .. })
    ));
    assert!(select_channels(&scores, &alive[..4], 1).is_err());
}

#[test]
fn scope_and_amount_serde() {
    let g: Scope = serde_json::from_str(r#"{"kind":"global"}"#).unwrap();
    assert_eq!(g, Scope::global());
    let g: Scope = serde_json::from_str(r#"{"kind":"global","min_density":0.01}"#).unwrap();
    assert_eq!(g, Scope::Global { min_density: 0.01 });
    let l: Scope = serde_json::from_str(r#"{"kind":"layer-wise"}"#).unwrap();
    assert_eq!(l, Scope::LayerWise);
    let p: Scope = serde_json::from_str(r#"{"kind":"per-layer","ratios":[0.2,0.5]}"#).unwrap();
    assert_eq!(
        p,
        Scope::PerLayer {
            ratios: vec![0.2, 0.5]
        }
    );
    assert!(serde_json::from_str::<Scope>(r#"{"kind":"global","min_desnity":0.01}"#).is_err());
    assert_eq!(
        serde_json::from_str::<StepAmount>("0.2").unwrap(),
        StepAmount::Uniform(0.2)
    );
    assert_eq!(
        serde_json::from_str::<StepAmount>("[0.1,0.3]").unwrap(),
        StepAmount::PerLayer(vec![0.1, 0.3])
    );
}

#[test]
fn quick_100k_global_step() {
    // Two tensors of 60k + 40k with pseudo-random scores; just correctness at scale.
    let mut state = 0x1234_5678u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32
    };
    let s: Vec<Vec<f32>> = vec![
        (0..60_000).map(|_| next()).collect(),
        (0..40_000).map(|_| next()).collect(),
    ];
    let mut masks = dense(&[60_000, 40_000]);
    for v in [0.5, 0.25, 0.125] {
        let new = prune_step(&s, &masks, &StepAmount::Uniform(v), &Scope::global()).unwrap();
        assert!(new.iter().zip(&masks).all(|(n, o)| n.is_subset_of(o)));
        masks = new;
    }
    let steps = crate::schedule::Plan {
        steps: vec![0.5, 0.25, 0.125],
    };
    let plan = RemovalPlan::new(
        &steps,
        vec![60_000, 40_000],
        &Scope::global(),
        crate::schedule::Compat::Reference,
    )
    .unwrap();
    let r = plan.verify(3, &masks).unwrap();
    assert_eq!(r.pruned(), 87_500);
    // Every kept score >= every pruned score (one global threshold).
    let max_pruned = s
        .iter()
        .zip(&masks)
        .flat_map(|(s, m)| s.iter().zip(m.iter()).filter(|p| !p.1).map(|p| *p.0))
        .fold(f32::MIN, f32::max);
    let min_kept = s
        .iter()
        .zip(&masks)
        .flat_map(|(s, m)| s.iter().zip(m.iter()).filter(|p| p.1).map(|p| *p.0))
        .fold(f32::MAX, f32::min);
    assert!(max_pruned <= min_kept);
}

/// Brute-force reference: sort all kept (score, tensor, index) and take the lowest k.
fn brute_global(scores: &[Vec<f32>], masks: &[Mask], k: usize) -> Vec<Vec<bool>> {
    let caps: Vec<usize> = masks.iter().map(Mask::kept).collect();
    brute_capped(scores, masks, k, &caps)
}

/// Greedy in ascending (score, tensor, index) order, skipping tensors at their cap.
fn brute_capped(scores: &[Vec<f32>], masks: &[Mask], k: usize, caps: &[usize]) -> Vec<Vec<bool>> {
    let mut all: Vec<(f32, usize, usize)> = Vec::new();
    for (t, (s, m)) in scores.iter().zip(masks).enumerate() {
        all.extend(
            s.iter()
                .zip(m.iter())
                .enumerate()
                .filter(|(_, (_, k))| *k)
                .map(|(i, (&x, _))| (x, t, i)),
        );
    }
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut out = keeps(masks);
    let mut taken = vec![0usize; masks.len()];
    for &(_, t, i) in all
        .iter()
        .filter(|&&(_, t, _)| {
            let ok = taken[t] < caps[t];
            taken[t] += usize::from(ok);
            ok
        })
        .take(k)
    {
        out[t][i] = false;
    }
    out
}

proptest! {
    #[test]
    fn prop_global_steps_match_plan(
        scores in prop::collection::vec(prop::collection::vec(0u8..20, 1..40), 1..5),
        steps in prop::collection::vec(0.0f64..0.3, 1..5),
    ) {
        // Coarse integer-valued scores force many ties.
        let scores: Vec<Vec<f32>> =
            scores.into_iter().map(|s| s.into_iter().map(f32::from).collect()).collect();
        let sizes: Vec<usize> = scores.iter().map(Vec::len).collect();
        let n: usize = sizes.iter().sum();
        let mut masks = dense(&sizes);
        for (i, &v) in steps.iter().enumerate() {
            let expected: usize = steps[..=i].iter().map(|&v| removal_count(n, v)).sum();
            let result = prune_step(&scores, &masks, &StepAmount::Uniform(v), &Scope::global());
            if expected > n {
                // Steps may sum past 1: asking for more than is left is an error.
                let is_too_many =
                    matches!(result, Err(SelectError::TooMany { tensor: None, .. }));
                prop_assert!(is_too_many);
                break;
            }
            let new = result.unwrap();
            prop_assert_eq!(keeps(&new), brute_global(&scores, &masks, removal_count(n, v)));
            prop_assert!(new.iter().zip(&masks).all(|(a, b)| a.is_subset_of(b)));
            masks = new;
            prop_assert_eq!(SparsityReport::from_masks(&masks).pruned(), expected);
            // The plan of the same steps (where every step removes something) agrees.
            let so_far = crate::schedule::Plan { steps: steps[..=i].to_vec() };
            let scope = Scope::global();
            let reference = crate::schedule::Compat::Reference;
            if let Ok(plan) = RemovalPlan::new(&so_far, sizes.clone(), &scope, reference) {
                prop_assert!(plan.verify(i + 1, &masks).is_ok());
            }
        }
    }

    #[test]
    fn prop_layerwise_and_floor(
        scores in prop::collection::vec(prop::collection::vec(-5.0f32..5.0, 1..30), 1..5),
        steps in prop::collection::vec(0.0f64..0.25, 1..4),
        min_density in 0.0f64..0.5,
    ) {
        let sizes: Vec<usize> = scores.iter().map(Vec::len).collect();
        let mut lw = dense(&sizes);
        let mut gl = dense(&sizes);
        let floor_scope = Scope::Global { min_density };
        for (i, &v) in steps.iter().enumerate() {
            let amount = StepAmount::Uniform(v);
            let new = prune_step(&scores, &lw, &amount, &Scope::LayerWise).unwrap();
            prop_assert!(new.iter().zip(&lw).all(|(a, b)| a.is_subset_of(b)));
            lw = new;
            let so_far = crate::schedule::Plan { steps: steps[..=i].to_vec() };
            // Step by step, as the reference converts layer-wise steps.
            let reference = crate::schedule::Compat::Reference;
            if let Ok(plan) = RemovalPlan::new(&so_far, sizes.clone(), &Scope::LayerWise, reference) {
                prop_assert!(plan.verify(i + 1, &lw).is_ok());
            }
            // Exact: each tensor's cumulative count, floor(N_l · Σ steps) after the last step.
            let exact = crate::schedule::Compat::Exact;
            if let Ok(plan) = RemovalPlan::new(&so_far, sizes.clone(), &Scope::LayerWise, exact) {
                let cum: Vec<u64> = sizes
                    .iter()
                    .map(|&n| so_far.cumulative_counts(n as u64).iter().sum())
                    .collect();
                let total: f64 = steps[..=i].iter().sum();
                for (&n, &c) in sizes.iter().zip(&cum) {
                    let want = (n as f64 * total * (1.0 + 1e-12)).floor() as u64;
                    prop_assert!(c == want || c + 1 == want || c == want + 1, "{n}: {c} vs {want}");
                }
                let planned: usize = (1..=i + 1).map(|s| plan.removal(s).total()).sum();
                prop_assert_eq!(planned as u64, cum.iter().sum::<u64>());
            }
            match prune_step(&scores, &gl, &amount, &floor_scope) {
                Ok(new) => {
                    let k = removal_count(sizes.iter().sum(), v);
                    let floor = |m: &Mask| (m.len() as f64 * min_density).ceil() as usize;
                    let caps: Vec<usize> =
                        gl.iter().map(|m| m.kept().saturating_sub(floor(m))).collect();
                    prop_assert_eq!(keeps(&new), brute_capped(&scores, &gl, k, &caps));
                    prop_assert!(new.iter().zip(&gl).all(|(a, b)| a.is_subset_of(b)));
                    let before = SparsityReport::from_masks(&gl).pruned();
                    prop_assert_eq!(SparsityReport::from_masks(&new).pruned() - before, k);
                    gl = new;
                }
                Err(e) => prop_assert!(matches!(e, SelectError::FloorConflict { .. }), "{e}"),
            }
        }
    }
}
