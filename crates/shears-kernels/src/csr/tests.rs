use super::*;
use proptest::prelude::*;

/// Naive `y[b][o] = Σ_i x[b][i] · w[i][o] + bias[o]` with `w` `[d_in, d_out]` (Burn Linear).
fn dense_linear(x: &[f32], w: &[f32], bias: Option<&[f32]>, d_in: usize, d_out: usize) -> Vec<f32> {
    let batch = x.len() / d_in;
    let mut y = vec![0.0; batch * d_out];
    for b in 0..batch {
        for o in 0..d_out {
            let mut s = bias.map_or(0.0, |b| b[o]);
            for i in 0..d_in {
                s += x[b * d_in + i] * w[i * d_out + o];
            }
            y[b * d_out + o] = s;
        }
    }
    y
}

/// Deterministic pseudo-random values in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn close(a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-4 * (1.0 + y.abs()),
            "entry {i}: {x} vs {y}"
        );
    }
}

/// Masked copy of `w` and its mask: entry `k` kept when `keep(k)`.
fn masked(w: &[f32], keep: impl Fn(usize) -> bool) -> (Vec<f32>, Vec<bool>) {
    let flags: Vec<bool> = (0..w.len()).map(keep).collect();
    let wm = w
        .iter()
        .zip(&flags)
        .map(|(v, &k)| if k { *v } else { 0.0 })
        .collect();
    (wm, flags)
}

fn check_linear(d_in: usize, d_out: usize, batch: usize, keep: impl Fn(usize) -> bool) {
    let w = values(d_in * d_out, 1);
    let (wm, mask) = masked(&w, keep);
    let bias = values(d_out, 2);
    let x = values(batch * d_in, 3);
    let want = dense_linear(&x, &wm, Some(&bias), d_in, d_out);
    let a = Csr::from_dense_transposed(&w, d_in, d_out, Some(&mask[..])).unwrap();
    assert_eq!(a.nnz(), mask.iter().filter(|&&k| k).count());
    close(&a.matmul_batch_major(&x, batch, Some(&bias)), &want);
    // Dropping zeros of the masked weight gives the same matrix.
    let b = Csr::from_dense_transposed(&wm, d_in, d_out, None).unwrap();
    assert_eq!(a, b);
}

#[test]
fn sparse_matches_dense_at_90_percent() {
    for batch in [1, 7, 16, 64, 100, 128, 200] {
        check_linear(97, 45, batch, |k| k % 10 == 3);
    }
}

#[test]
fn sparse_fully_dense_and_all_pruned() {
    check_linear(33, 21, 70, |_| true);
    check_linear(33, 21, 70, |_| false);
    let a = Csr::from_dense(&[0.0; 12], 3, 4, None).unwrap();
    assert_eq!(a.nnz(), 0);
    // All pruned: the output is the bias, through ReLU.
    let mut y = vec![9.0; 3 * 5];
    a.matmul_feature_major(&[1.0; 4 * 5], 5, Some(&[1.0, -2.0, 0.5]), true, &mut y);
    assert_eq!(&y[..5], &[1.0; 5]);
    assert_eq!(&y[5..10], &[0.0; 5]);
    assert_eq!(&y[10..], &[0.5; 5]);
}

#[test]
fn sparse_empty_rows_and_batch_one() {
    // Outputs 0 and 4 have no inputs at all (whole columns of the [in, out] weight pruned).
    let (d_in, d_out) = (20, 6);
    check_linear(d_in, d_out, 1, |k| {
        k % d_out != 0 && k % d_out != 4 && k % 3 == 0
    });
    let w = values(d_in * d_out, 5);
    let (_, mask) = masked(&w, |k| k % d_out != 0);
    let a = Csr::from_dense_transposed(&w, d_in, d_out, Some(&mask[..])).unwrap();
    assert_eq!(a.row(0).0.len(), 0);
    assert_eq!(a.row(1).0.len(), d_in);
}

#[test]
fn sparse_large_product_runs_in_parallel_and_matches() {
    // Large enough to take the rayon path (nnz · batch above PAR_MIN_WORK).
    check_linear(784, 300, 128, |k| (k * 7919) % 10 == 0);
}

#[test]
fn sparse_from_dense_layouts_agree() {
    let (r, c) = (5, 7);
    let w = values(r * c, 9);
    let (wm, mask) = masked(&w, |k| k % 4 != 1);
    let a = Csr::from_dense(&w, r, c, Some(&mask[..])).unwrap();
    assert_eq!(a.to_dense(), wm);
    let t = Csr::from_dense_transposed(&w, r, c, Some(&mask[..])).unwrap();
    assert_eq!((t.rows(), t.cols()), (c, r));
    assert_eq!(t.to_dense(), transpose(&wm, r, c));
    assert!((a.density() - mask.iter().filter(|&&k| k).count() as f64 / 35.0).abs() < 1e-12);
}

#[test]
fn sparse_transpose_round_trips() {
    for (r, c) in [(0, 5), (1, 1), (3, 70), (8, 64), (13, 129), (128, 784)] {
        let m = values(r * c, 4);
        let t = transpose(&m, r, c);
        for i in 0..r {
            for j in 0..c {
                assert_eq!(t[j * r + i], m[i * c + j]);
            }
        }
        assert_eq!(transpose(&t, c, r), m);
    }
}

#[test]
fn sparse_rejects_bad_shapes() {
    assert!(matches!(
        Csr::from_dense(&[1.0; 5], 2, 3, None),
        Err(SparseError::Shape { .. })
    ));
    let m = [true; 5];
    assert!(Csr::from_dense(&[1.0; 6], 2, 3, Some(&m[..])).is_err());
    let l = |r, c| SparseLayer {
        weight: Csr::from_dense(&vec![1.0; r * c], r, c, None).unwrap(),
        bias: None,
        relu: true,
    };
    assert_eq!(SparseChain::new(vec![]), Err(SparseError::Empty));
    assert!(matches!(
        SparseChain::new(vec![l(4, 3), l(2, 5)]),
        Err(SparseError::Chain { layer: 1, .. })
    ));
    let chain = SparseChain::new(vec![l(4, 3), l(2, 4)]).unwrap();
    assert!(chain.forward(&[1.0; 7]).is_err());
    let mut bad = l(4, 3);
    bad.bias = Some(vec![0.0; 3]);
    assert!(matches!(
        SparseChain::new(vec![bad]),
        Err(SparseError::Bias { .. })
    ));
}

#[test]
fn sparse_chain_matches_dense_mlp() {
    let dims = [50, 30, 20, 10];
    let batch = 33;
    let x = values(batch * dims[0], 11);
    let mut layers = Vec::new();
    let mut h = x.clone();
    for (l, pair) in dims.windows(2).enumerate() {
        let (d_in, d_out) = (pair[0], pair[1]);
        let w = values(d_in * d_out, 20 + l as u64);
        let (wm, mask) = masked(&w, |k| (k + l) % 5 == 0);
        let bias = values(d_out, 30 + l as u64);
        let relu = l + 2 < dims.len();
        h = dense_linear(&h, &wm, Some(&bias), d_in, d_out);
        if relu {
            h.iter_mut().for_each(|v| *v = v.max(0.0));
        }
        layers.push(SparseLayer {
            weight: Csr::from_dense_transposed(&w, d_in, d_out, Some(&mask[..])).unwrap(),
            bias: Some(bias),
            relu,
        });
    }
    let chain = SparseChain::new(layers).unwrap();
    assert_eq!((chain.inputs(), chain.outputs()), (50, 10));
    close(&chain.forward(&x).unwrap(), &h);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sparse_product_matches_naive_dense(
        d_in in 1usize..40,
        d_out in 1usize..40,
        batch in 1usize..150,
        keep_pct in 0u32..=100,
        seed in 0u64..1000,
    ) {
        let w = values(d_in * d_out, seed);
        let coin = values(d_in * d_out, seed + 1);
        let (wm, mask) = masked(&w, |k| (coin[k] + 1.0) * 50.0 < keep_pct as f32);
        let bias = values(d_out, seed + 2);
        let x = values(batch * d_in, seed + 3);
        let a = Csr::from_dense_transposed(&w, d_in, d_out, Some(&mask[..])).unwrap();
        let got = a.matmul_batch_major(&x, batch, Some(&bias));
        let want = dense_linear(&x, &wm, Some(&bias), d_in, d_out);
        for (g, e) in got.iter().zip(&want) {
            prop_assert!((g - e).abs() <= 1e-4 * (1.0 + e.abs()));
        }
    }
}
