//! Tests of the SparseGPT reconstruction (`sparsegpt.rs`).

use super::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SAMPLES: usize = 512;

/// A random layer with calibration inputs X = Z·A + noise (SAMPLES × cols): a random mixing A
/// of cols/4 latent features makes the inputs correlated, as real activations are.
struct Case {
    w: Vec<f32>,
    x: Vec<f64>,
    h: Vec<f64>,
    cols: usize,
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let (u1, u2): (f64, f64) = (rng.random(), rng.random());
    (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn case(rows: usize, cols: usize, seed: u64, dead: Option<usize>) -> Case {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let latent = cols.div_ceil(4);
    let mut draw =
        |n: usize, scale: f64| -> Vec<f64> { (0..n).map(|_| scale * normal(&mut rng)).collect() };
    let (z, a) = (draw(SAMPLES * latent, 1.0), draw(latent * cols, 1.0));
    let mut x = draw(SAMPLES * cols, 0.1);
    let w = draw(rows * cols, 1.0)
        .into_iter()
        .map(|v| v as f32)
        .collect();
    for (s, xs) in x.chunks_exact_mut(cols).enumerate() {
        for (k, ak) in a.chunks_exact(cols).enumerate() {
            axpy(z[s * latent + k], ak, xs);
        }
        if let Some(d) = dead {
            xs[d] = 0.0;
        }
    }
    let mut h = vec![0.0; cols * cols];
    for (i, hi) in h.chunks_exact_mut(cols).enumerate() {
        x.chunks_exact(cols)
            .for_each(|xs| axpy(2.0 / SAMPLES as f64 * xs[i], xs, hi));
    }
    Case { w, x, h, cols }
}

fn opts(block: usize) -> SparseGptOptions {
    let damp = 0.01;
    SparseGptOptions { block, damp }
}

fn damped(h: &[f64], n: usize) -> Vec<f64> {
    let mean = (0..n).map(|j| h[j * n + j]).sum::<f64>() / n as f64;
    let mut d = h.to_vec();
    (0..n).for_each(|j| d[j * n + j] += 0.01 * mean);
    d
}

/// The square submatrix of `a` (n × n) on indices `from..n`.
fn tail(a: &[f64], n: usize, from: usize) -> Vec<f64> {
    let f = n - from;
    (0..f * f)
        .map(|i| a[(from + i / f) * n + from + i % f])
        .collect()
}

/// Plain Gauss–Jordan inverse with partial pivoting, independent of the Cholesky path.
fn invert(a: &[f64], n: usize) -> Vec<f64> {
    let mut m = a.to_vec();
    let mut inv: Vec<f64> = (0..n * n).map(|i| f64::from(i / n == i % n)).collect();
    for c in 0..n {
        let p = (c..n).max_by(|&x, &y| m[x * n + c].abs().total_cmp(&m[y * n + c].abs()));
        for k in 0..n {
            m.swap(c * n + k, p.unwrap() * n + k);
            inv.swap(c * n + k, p.unwrap() * n + k);
        }
        let d = m[c * n + c];
        for k in 0..n {
            m[c * n + k] /= d;
            inv[c * n + k] /= d;
        }
        for r in (0..n).filter(|&r| r != c) {
            let f = m[r * n + c];
            for k in 0..n {
                m[r * n + k] -= f * m[c * n + k];
                inv[r * n + k] -= f * inv[c * n + k];
            }
        }
    }
    inv
}

/// Sequential OBS without blocks or Cholesky: at column j the free weights are j..cols, and
/// pruning w_j moves them by −w_j / [H_FF⁻¹]_00 · H_FF⁻¹[·, 0], H_FF⁻¹ a full inverse.
fn reference_obs(w: &mut [f64], cols: usize, h: &[f64], keep: &[bool]) {
    for j in 0..cols {
        let inv = invert(&tail(h, cols, j), cols - j);
        let column: Vec<f64> = inv.iter().step_by(cols - j).copied().collect();
        for (row, _) in w
            .chunks_exact_mut(cols)
            .zip(keep.chunks_exact(cols))
            .filter(|(_, k)| !k[j])
        {
            let e = row[j] / column[0];
            axpy(-e, &column, &mut row[j..]);
            row[j] = 0.0;
        }
    }
}

/// The f64 core with the test's damping, for comparisons at f64 precision.
fn core(
    c: &Case,
    w: &mut [f64],
    keep: &mut [bool],
    target: usize,
    pattern: Option<(usize, usize)>,
    block: usize,
) {
    let (rows, cols) = (w.len() / c.cols, c.cols);
    let layer = Layer {
        w,
        keep,
        rows,
        cols,
    };
    prune_layer(layer, &c.h, target, pattern, &opts(block)).unwrap();
}

/// ‖(W − Ŵ) Xᵀ‖².
fn output_error(c: &Case, w: &[f32]) -> f64 {
    let diff: Vec<f64> = c.w.iter().zip(w).map(|(&a, &b)| f64::from(a - b)).collect();
    let rows = diff.chunks_exact(c.cols);
    c.x.chunks_exact(c.cols)
        .flat_map(|s| rows.clone().map(move |r| dot(r, s).powi(2)))
        .sum()
}

fn pruned(keep: &[bool]) -> usize {
    keep.iter().filter(|&&k| !k).count()
}

/// Pruned entries per (row, group of m columns).
fn groups(keep: &[bool], m: usize) -> Vec<usize> {
    keep.chunks_exact(m).map(pruned).collect()
}

/// The public entry point, checking the exact count and that pruned entries are zero.
fn run(
    c: &Case,
    w: &mut [f32],
    keep: &mut [bool],
    target: usize,
    pattern: Option<(usize, usize)>,
    block: usize,
) -> SparseGptReport {
    let rows = w.len() / c.cols;
    let report = sparsegpt(w, rows, c.cols, &c.h, keep, target, pattern, &opts(block)).unwrap();
    assert_eq!(pruned(keep), target);
    assert!(
        w.iter()
            .zip(keep.iter())
            .all(|(&x, &k)| x.is_finite() && (k || x == 0.0))
    );
    report
}

#[test]
fn blocked_sweep_matches_a_dense_sequential_obs_reference() {
    let c = case(6, 24, 1, None);
    let mut keep0 = vec![true; 144];
    let mut w0: Vec<f64> = c.w.iter().map(|&x| f64::from(x)).collect();
    for i in (0..144).step_by(5) {
        (keep0[i], w0[i]) = (false, 0.0); // pruned earlier: compensated like the new ones
    }
    for (block, pattern, target) in [
        (8, None, 72),
        (5, None, 72),
        (24, None, 100),
        (6, Some((2, 4)), 72),
    ] {
        let (mut w, mut keep) = (w0.clone(), keep0.clone());
        core(&c, &mut w, &mut keep, target, pattern, block);
        assert_eq!(pruned(&keep), target);
        let mut expect = w0.clone();
        reference_obs(&mut expect, 24, &damped(&c.h, 24), &keep);
        for (a, b) in w.iter().zip(&expect) {
            assert!(
                (a - b).abs() <= 1e-9 * (1.0 + b.abs()),
                "block {block}: {a} vs {b}"
            );
        }
    }
}

#[test]
fn one_row_in_one_block_reaches_the_closed_form_optimum() {
    // Small weights first, so that the pruned P = 0..p precede the kept K: the sequential
    // updates are then the joint optimum ŵ_K = w_K + H_KK⁻¹ H_KP w_P.
    let (cols, p) = (20, 8);
    let c = case(1, cols, 2, None);
    let w0: Vec<f64> = (0..cols)
        .map(|j| if j < p { 1e-3 } else { 1.0 } * (j + 1) as f64)
        .collect();
    let (mut w, mut keep) = (w0.clone(), vec![true; cols]);
    core(&c, &mut w, &mut keep, p, None, cols);
    assert!(keep.iter().enumerate().all(|(j, &k)| k == (j >= p)));
    let h = damped(&c.h, cols);
    let inv = invert(&tail(&h, cols, p), cols - p);
    let rhs: Vec<f64> = (p..cols)
        .map(|a| (0..p).map(|q| h[a * cols + q] * w0[q]).sum())
        .collect();
    for (a, inv_a) in inv.chunks_exact(cols - p).enumerate() {
        let expect = w0[p + a] + dot(inv_a, &rhs);
        let got = w[p + a];
        assert!(
            (got - expect).abs() <= 1e-9 * (1.0 + expect.abs()),
            "{a}: {got} vs {expect}"
        );
        assert!((got - w0[p + a]).abs() > 1e-6, "the update is not trivial");
    }
    assert!(w[..p].iter().all(|&x| x == 0.0));
}

#[test]
fn beats_magnitude_pruning_on_correlated_inputs() {
    for seed in 0..3 {
        let c = case(16, 64, 10 + seed, None);
        let (mut w, mut keep) = (c.w.clone(), vec![true; 1024]);
        run(&c, &mut w, &mut keep, 512, None, 128);
        let mut order: Vec<usize> = (0..1024).collect();
        order.sort_by(|&a, &b| c.w[a].abs().total_cmp(&c.w[b].abs()));
        let mut magnitude = c.w.clone();
        order[..512].iter().for_each(|&i| magnitude[i] = 0.0);
        let (ours, theirs) = (output_error(&c, &w), output_error(&c, &magnitude));
        assert!(
            ours < 0.7 * theirs,
            "seed {seed}: {ours} vs magnitude {theirs}"
        );
    }
}

#[test]
fn prunes_exactly_the_target() {
    let c = case(16, 64, 3, None);
    for (block, target) in [
        (128, 0),
        (128, 1),
        (16, 37),
        (24, 512),
        (7, 1023),
        (64, 1024),
    ] {
        let (mut w, mut keep) = (c.w.clone(), vec![true; 1024]);
        let report = run(&c, &mut w, &mut keep, target, None, block);
        assert_eq!((report.pruned, report.dead_inputs), (target, 0));
    }
    // Cols 0..16 (block 0) fully pruned before, far beyond its share of a 30% target.
    let mut keep: Vec<bool> = (0..1024).map(|i| i % 64 >= 16).collect();
    let mut w: Vec<f32> =
        c.w.iter()
            .zip(&keep)
            .map(|(&x, &k)| if k { x } else { 0.0 })
            .collect();
    assert_eq!(run(&c, &mut w, &mut keep, 307, None, 16).pruned, 51);
    // A target equal to the pruned count changes nothing at all.
    let (w0, keep0) = (w.clone(), keep.clone());
    assert_eq!(run(&c, &mut w, &mut keep, 307, None, 128).pruned, 0);
    assert_eq!((w, keep), (w0, keep0));
}

#[test]
fn iterative_steps_keep_earlier_pruning_and_zeros() {
    let c = case(16, 64, 5, None);
    let (mut w, mut keep) = (c.w.clone(), vec![true; 1024]);
    for target in [204, 512, 819] {
        let before = keep.clone();
        run(&c, &mut w, &mut keep, target, None, 24);
        assert!(
            before.iter().zip(&keep).all(|(&b, &k)| b || !k),
            "a pruned entry came back"
        );
    }
}

#[test]
fn n_m_patterns_fill_every_group_at_the_final_target() {
    for (n, m) in [(2, 4), (1, 4)] {
        let c = case(8, 32, 6, None);
        let (mut w, mut keep) = (c.w.clone(), vec![true; 256]);
        run(&c, &mut w, &mut keep, 256 * (m - n) / m, Some((n, m)), 128);
        assert!(groups(&keep, m).iter().all(|&g| g == m - n), "{n}:{m}");
    }
}

#[test]
fn n_m_intermediate_targets_respect_the_cap() {
    let c = case(16, 64, 7, None);
    let (mut w, mut keep) = (c.w.clone(), vec![true; 1024]);
    for (target, block) in [(307, 6), (512, 128)] {
        let before = keep.clone();
        run(&c, &mut w, &mut keep, target, Some((2, 4)), block);
        assert!(groups(&keep, 4).iter().all(|&g| g <= 2), "target {target}");
        assert!(before.iter().zip(&keep).all(|(&b, &k)| b || !k));
    }
    assert!(groups(&keep, 4).iter().all(|&g| g == 2));
    // A group pruned beyond m − n beforehand raises the reachable maximum by its excess.
    let (mut w, mut keep) = (c.w.clone(), vec![true; 1024]);
    keep[..3].fill(false);
    w[..3].fill(0.0);
    run(&c, &mut w, &mut keep, 513, Some((2, 4)), 128);
    assert!(groups(&keep, 4)[1..].iter().all(|&g| g == 2));
}

/// The inputs of one failing call; each error case changes one thing of a valid base.
#[derive(Clone)]
struct Call {
    w: Vec<f32>,
    cols: usize,
    h: Vec<f64>,
    keep: Vec<bool>,
    target: usize,
    pattern: Option<(usize, usize)>,
    opts: SparseGptOptions,
}

type Change = fn(&mut Call);

#[test]
fn errors_name_the_problem() {
    let c = case(2, 8, 8, None);
    let (w, h, keep) = (c.w.clone(), c.h.clone(), vec![true; 16]);
    let (target, pattern, opts) = (4, None, opts(128));
    let base = Call {
        w,
        cols: 8,
        h,
        keep,
        target,
        pattern,
        opts,
    };
    let cases: [(Change, &str); 13] = [
        (
            |a| a.w.truncate(15),
            "ShapeMismatch: w has 15 entries, expected 16 (rows × cols)",
        ),
        (
            |a| a.keep.truncate(12),
            "ShapeMismatch: keep has 12 entries, expected 16",
        ),
        (
            |a| a.h.truncate(63),
            "ShapeMismatch: h has 63 entries, expected 64 (cols × cols)",
        ),
        (
            |a| a.w[10] = f32::NAN,
            "NonFinite: w at row 1, col 2 is NaN",
        ),
        (
            |a| a.h[9] = f64::INFINITY,
            "NonFinite: H at row 1, col 1 is inf",
        ),
        (
            |a| a.pattern = Some((2, 3)),
            "PatternCols: divisible by m = 3, got cols = 8",
        ),
        (
            |a| (a.pattern, a.target) = (Some((2, 4)), 9),
            "PatternInfeasible: 2:4 allows at most 8",
        ),
        (|a| a.target = 17, "TargetOutOfRange: at most all 16"),
        (
            |a| a.keep[..5].fill(false),
            "TargetOutOfRange: at least the 5 already pruned",
        ),
        (
            |a| a.pattern = Some((3, 2)),
            "InvalidPattern: 3:2 is invalid",
        ),
        (|a| a.opts.block = 0, "InvalidOptions: block must be > 0"),
        (
            |a| a.opts.damp = f64::NAN,
            "InvalidOptions: damp must be finite",
        ),
        (
            |a| a.h.iter_mut().for_each(|x| *x = -*x),
            "NotPositiveDefinite: not positive",
        ),
    ];
    for (change, want) in cases {
        let mut call = base.clone();
        change(&mut call);
        let Call {
            mut w,
            cols,
            h,
            mut keep,
            target,
            pattern,
            opts,
        } = call.clone();
        let e = sparsegpt(&mut w, 2, cols, &h, &mut keep, target, pattern, &opts).unwrap_err();
        let (variant, message) = want.split_once(": ").unwrap();
        assert!(
            format!("{e:?}").starts_with(variant),
            "{e:?} is not {variant}"
        );
        assert!(e.to_string().contains(message), "{e} lacks {message:?}");
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert!(
            bits(&w) == bits(&call.w) && keep == call.keep,
            "modified on error: {e}"
        );
    }
}

#[test]
fn saliency_weighs_weights_by_their_input_energy() {
    // H diagonal ⇒ U_jj² = 1/H_jj (up to damping): equal weights on quieter inputs go first;
    // with equal H too, ties go to the lower index.
    for (diag, expect) in [
        ([4.0, 1.0, 3.0, 2.0], [true, false, true, false]),
        ([1.0; 4], [false, false, true, true]),
    ] {
        let h: Vec<f64> = (0..16)
            .map(|i| if i % 5 == 0 { diag[i / 4] } else { 0.0 })
            .collect();
        let (mut w, mut keep) = (vec![1.0f32; 4], vec![true; 4]);
        sparsegpt(&mut w, 1, 4, &h, &mut keep, 2, None, &opts(4)).unwrap();
        assert_eq!(keep, expect, "H diagonal {diag:?}");
    }
}

#[test]
fn dead_inputs_are_zeroed_without_nan() {
    let c = case(16, 64, 9, Some(5));
    for damp in [0.01, 0.0] {
        let (mut w, mut keep) = (c.w.clone(), vec![true; 1024]);
        let o = SparseGptOptions { block: 16, damp };
        let report = sparsegpt(&mut w, 16, 64, &c.h, &mut keep, 512, None, &o).unwrap();
        assert_eq!((report.dead_inputs, pruned(&keep)), (1, 512));
        assert!(w.iter().all(|x| x.is_finite()) && (0..16).all(|r| w[r * 64 + 5] == 0.0));
    }
}

#[test]
fn inverse_factor_is_the_upper_cholesky_factor_of_the_inverse() {
    let n = 12;
    let c = case(1, n, 11, None);
    let (u, _) = inverse_factor(&c.h, n, 0.01).unwrap();
    let h = damped(&c.h, n);
    for i in 0..n {
        assert!(u[i * n + i] > 0.0 && (0..i).all(|j| u[i * n + j] == 0.0));
        for j in 0..n {
            let uu = |k: usize| (0..n).map(|l| u[l * n + i] * u[l * n + k]).sum::<f64>();
            let v: f64 = (0..n).map(|k| uu(k) * h[k * n + j]).sum(); // (UᵀU H)_ij = δ_ij
            assert!((v - f64::from(i == j)).abs() < 1e-9, "({i}, {j}): {v}");
        }
    }
}
