//! Pruned-inference rows of the benchmark: CSR against dense-masked inference of an
//! unstructured LeNet-300-100, and physically shrunk conv nets against their dense originals.

use super::{BenchError, BenchOptions, BenchRow, median, spec_of};
use burn::prelude::*;
use shears_core::masks::{Scope, StepAmount};
use shears_nn::models::{ModelKind, Network};
use shears_nn::prune::{self, Criterion, MaskSet};
use std::time::Instant;

/// Shortest timed round of a pruned-inference workload: a CSR forward of LeNet-300-100 takes
/// well under a millisecond, and ten of them would time the scheduler rather than the kernel.
const MIN_ROUND_S: f64 = 0.05;

/// Samples/s of each workload: a warm-up call each, which also sizes its round to
/// `max(a.iters, MIN_ROUND_S / call time)` calls; then `a.repeats` rounds in which every workload
/// runs its calls in turn (interleaved, so a noisy neighbour slows all of them alike); the
/// median round per workload.
fn throughputs(a: &BenchOptions, work: &mut [&mut dyn FnMut()]) -> Vec<f64> {
    let iters: Vec<usize> = work
        .iter_mut()
        .map(|f| {
            f();
            let t = Instant::now();
            f();
            let per_call = t.elapsed().as_secs_f64().max(1e-7);
            a.iters
                .max((MIN_ROUND_S / per_call).ceil().min(1e5) as usize)
        })
        .collect();
    let mut v = vec![Vec::new(); work.len()];
    for _ in 0..a.repeats {
        for ((f, v), &n) in work.iter_mut().zip(&mut v).zip(&iters) {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            v.push((n * a.batch_size) as f64 / t.elapsed().as_secs_f64());
        }
    }
    v.into_iter().map(median).collect()
}

fn pct(v: f64) -> String {
    format!("{:.0}", v * 100.0)
}

/// Unstructured LeNet-300-100 at 50/70/80/90/95/98% (one-shot global magnitude pruning of a random
/// init, weights and biases, as the ResNet-18 row): Burn's dense forward of the masked model
/// against the CSR chain of `shears_nn::csr_inference`, same batch.
pub(super) fn sparse_rows(
    a: &BenchOptions,
    device: &shears_nn::Device,
    rows: &mut Vec<BenchRow>,
) -> Result<(), BenchError> {
    use shears_nn::csr_inference::SparseMlp;
    let spec = spec_of(ModelKind::LeNet300);
    let [c, h, w] = spec.input;
    let n = a.batch_size;
    // From 50%, to find where CSR starts to pay (its break-even density).
    for sparsity in [0.5, 0.7, 0.8, 0.9, 0.95, 0.98] {
        device.seed(0);
        let model = spec.init(device);
        let mut masks = MaskSet::dense(prune::prunable(&spec, true));
        let model = prune::prune_step(
            model,
            &mut masks,
            Criterion::Magnitude,
            None,
            &StepAmount::Uniform(sparsity),
            &Scope::global(),
            0,
            0,
        )
        .map_err(BenchError::from)?;
        let eval = model.valid();
        let x = Tensor::<4>::random([n, c, h, w], burn::tensor::Distribution::Default, device);
        let xs = x
            .clone()
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| BenchError::from(format!("{e:?}")))?;
        let csr = SparseMlp::from_network(&eval, Some(&masks)).map_err(BenchError::from)?;
        let dense_logits = eval
            .forward(x.clone())
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| BenchError::from(format!("{e:?}")))?;
        let csr_logits = csr.forward(&xs).map_err(BenchError::from)?;
        let max_diff = dense_logits
            .iter()
            .zip(&csr_logits)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0f32, f32::max);
        let t = throughputs(
            a,
            &mut [
                &mut || {
                    let _ = eval.forward(x.clone()).into_data();
                },
                &mut || {
                    let _ = csr.forward(&xs);
                },
            ],
        );
        let (dense, sparse) = (t[0], t[1]);
        let p = pct(sparsity);
        let nnz = csr.chain().nnz();
        rows.push(BenchRow::new(
            format!("lenet300/infer-dense-masked@{p}"),
            format!(
                "lenet300 inference, {p}% global magnitude masked, dense Burn forward, batch {n}"
            ),
            dense,
            "samples/s",
        ));
        rows.push(BenchRow::new(format!("lenet300/infer-csr@{p}"), format!("lenet300 inference, {p}% masked, CSR ({nnz} weights, max |logit diff| {max_diff:.1e}), batch {n}"), sparse, "samples/s"));
        rows.push(BenchRow::new(
            format!("lenet300/csr-speedup@{p}"),
            format!("lenet300 {p}%: CSR / dense-masked inference throughput"),
            sparse / dense,
            "x",
        ));
    }
    Ok(())
}

/// Structured pruning realised by surgery: inference of a random-init conv net against copies
/// shrunk at 50% and 75% channel sparsity (uniform layer-wise ratio over every channel group,
/// group L2-norm importance), with the FLOP reduction from the modules' actual shapes. The
/// derived row is measured speed-up over FLOP reduction (1 = speed-up in full proportion).
pub(super) fn shrunk_rows(
    a: &BenchOptions,
    kind: ModelKind,
    device: &shears_nn::Device,
    rows: &mut Vec<BenchRow>,
) -> Result<(), BenchError> {
    use shears_nn::structured::{GroupRatios, Importance, StructuredPlan, footprint, shrink};
    let spec = spec_of(kind);
    let [c, h, w] = spec.input;
    let n = a.batch_size;
    device.seed(0);
    let eval = spec.init(device).valid();
    let x = Tensor::<4>::random([n, c, h, w], burn::tensor::Distribution::Default, device);
    let dense_flops = footprint(&eval, &spec).map_err(BenchError::from)?.flops;
    let ratios = [0.5, 0.75];
    let mut shrunk = Vec::new();
    for ratio in ratios {
        let plan = StructuredPlan::new(&eval, Importance::default(), &GroupRatios::uniform(ratio))
            .map_err(BenchError::from)?;
        let small = shrink(&eval, &plan.groups, &plan.keep).map_err(BenchError::from)?;
        let flops = footprint(&small, &spec).map_err(BenchError::from)?.flops;
        shrunk.push((small, flops));
    }
    let forward = |net: &Network| {
        let _ = net.forward(x.clone()).into_data();
    };
    let t = throughputs(
        a,
        &mut [
            &mut || forward(&eval),
            &mut || forward(&shrunk[0].0),
            &mut || forward(&shrunk[1].0),
        ],
    );
    let dense = t[0];
    rows.push(BenchRow::new(format!("{kind}/infer-dense"), format!(
            "{kind} inference, random init ({dense_flops} FLOPs/sample), baseline of the shrunk rows, batch {n}"
        ), dense, "samples/s"));
    for ((ratio, (_, flops)), speed) in ratios.iter().zip(&shrunk).zip(&t[1..]) {
        let p = pct(*ratio);
        let ideal = dense_flops as f64 / (*flops).max(1) as f64;
        let achieved = speed / dense;
        rows.push(BenchRow::new(format!("{kind}/infer-shrunk@{p}"), format!(
                "{kind} inference, shrunk at {p}% channel sparsity ({flops} FLOPs/sample), batch {n}"
            ), *speed, "samples/s"));
        rows.push(BenchRow::new(
            format!("{kind}/flops-ratio@{p}"),
            format!("{kind} {p}% shrunk: dense / shrunk FLOPs (ideal speed-up)"),
            ideal,
            "x",
        ));
        rows.push(BenchRow::new(
            format!("{kind}/speedup-shrunk@{p}"),
            format!("{kind} {p}% shrunk: shrunk / dense inference throughput"),
            achieved,
            "x",
        ));
        rows.push(BenchRow::new(
            format!("{kind}/shrunk-achieved/ideal@{p}"),
            format!("{kind} {p}% shrunk: measured speed-up / FLOP reduction"),
            achieved / ideal,
            "x",
        ));
    }
    Ok(())
}
