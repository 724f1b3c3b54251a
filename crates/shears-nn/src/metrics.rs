//! Exact per-sample classification metrics.
//!
//! The reference averaged top-k and loss per batch, which over-weights the last partial batch;
//! here every sample counts once. Logits come back to the host: at evaluation sizes the copy is
//! negligible and the arithmetic (log-sum-exp in f64) is exact and backend-independent.

use serde::{Deserialize, Serialize};

/// Accumulates sums over samples; [`Metrics`] divides once at the end.
#[derive(Debug, Clone, Default)]
pub struct MetricSums {
    pub n: u64,
    pub top1: u64,
    pub top5: u64,
    pub loss: f64,
}

/// Accuracies as fractions in [0, 1], loss as mean cross-entropy per sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub top1: f64,
    pub top5: f64,
    pub loss: f64,
    pub n: u64,
}

impl MetricSums {
    /// Adds a batch of logits (`n × classes`, row-major) with their labels.
    ///
    /// A sample counts for top-k when fewer than k classes have a strictly larger logit
    /// (ties favour the true class, as `torch.topk` does for the first index in practice).
    ///
    /// A batch with a non-finite logit is refused whole (nothing added): `Err` holds the row of
    /// the first one. NaN is never "strictly larger", so such a row would count as correct.
    pub fn add(&mut self, logits: &[f32], labels: &[i64], classes: usize) -> Result<(), usize> {
        if let Some(row) = logits
            .chunks_exact(classes)
            .position(|r| r.iter().any(|v| !v.is_finite()))
        {
            return Err(row);
        }
        for (row, &label) in logits.chunks_exact(classes).zip(labels) {
            let label = label as usize;
            let target = row[label];
            let above = row.iter().filter(|&&v| v > target).count();
            self.top1 += u64::from(above < 1);
            self.top5 += u64::from(above < 5);
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
            let sum: f64 = row.iter().map(|&v| (v as f64 - max).exp()).sum();
            self.loss += max + sum.ln() - target as f64;
            self.n += 1;
        }
        Ok(())
    }

    pub fn finish(&self) -> Metrics {
        let n = self.n.max(1) as f64;
        Metrics {
            top1: self.top1 as f64 / n,
            top5: self.top5 as f64 / n,
            loss: self.loss / n,
            n: self.n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_sample_top1_top5_and_loss() {
        // Three samples, 6 classes.
        let logits = [
            5.0, 1.0, 0.0, 0.0, 0.0, 0.0, // label 0: top-1
            0.0, 1.0, 2.0, 3.0, 4.0, 5.0, // label 0: five larger -> miss top-5
            0.0, 1.0, 2.0, 3.0, 4.0, 5.0, // label 1: four larger -> top-5 hit
        ];
        let mut m = MetricSums::default();
        m.add(&logits, &[0, 0, 1], 6).unwrap();
        let r = m.finish();
        assert_eq!(r.n, 3);
        assert!((r.top1 - 1.0 / 3.0).abs() < 1e-12);
        assert!((r.top5 - 2.0 / 3.0).abs() < 1e-12);
        // Hand-computed cross-entropies.
        let ce = |row: &[f64], l: usize| {
            let s: f64 = row.iter().map(|v| v.exp()).sum();
            s.ln() - row[l]
        };
        let a = [5.0, 1.0, 0.0, 0.0, 0.0, 0.0];
        let b = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        let expected = (ce(&a, 0) + ce(&b, 0) + ce(&b, 1)) / 3.0;
        assert!(
            (r.loss - expected).abs() < 1e-9,
            "{} vs {}",
            r.loss,
            expected
        );
    }

    #[test]
    fn batches_are_weighted_by_samples_not_by_batch() {
        let mut m = MetricSums::default();
        m.add(&[1.0, 0.0, 1.0, 0.0, 1.0, 0.0], &[0, 0, 0], 2)
            .unwrap(); // 3 right
        m.add(&[1.0, 0.0], &[1], 2).unwrap(); // 1 wrong
        assert!((m.finish().top1 - 0.75).abs() < 1e-12); // per-batch mean would be 0.5
    }

    #[test]
    fn a_non_finite_logit_refuses_the_batch_instead_of_counting_it_correct() {
        let mut m = MetricSums::default();
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            assert_eq!(m.add(&[1.0, 0.0, bad, 0.0], &[0, 0], 2), Err(1));
        }
        assert_eq!(m.n, 0, "nothing of a refused batch is counted");
    }
}
