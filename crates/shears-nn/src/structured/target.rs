//! Structured steps that aim at a size (parameters or FLOPs) instead of a channel fraction:
//! the widths after step `t` follow from the remaining-size target `R_t` alone, never from a
//! sum of per-step roundings, so every regime ends at the same size for the same target
//! (docs/design.md#structured-size-measures).

use super::{SizeMeasure, SizeModel};

/// Widths of a layer-wise cut of fraction `f`: every group keeps `max(1, C − round(C·f))`.
fn cut(channels: &[usize], f: f64) -> Vec<usize> {
    channels
        .iter()
        .map(|&c| c.saturating_sub((c as f64 * f).round() as usize).max(1))
        .collect()
}

/// Layer-wise widths for a remaining size `remaining`: the single fraction `f` of every
/// group's original channels whose size is closest (ties: the smaller `f`). The size is a step
/// function of `f` that changes only at `(k + ½)/C_g`, so one `f` per interval between those
/// breakpoints covers every reachable size.
pub(super) fn layer_wise_widths(
    model: &SizeModel,
    measure: SizeMeasure,
    remaining: f64,
) -> Vec<usize> {
    let channels = model.channels();
    let mut cuts: Vec<f64> = channels
        .iter()
        .flat_map(|&c| (0..c).map(move |k| (k as f64 + 0.5) / c as f64))
        .collect();
    cuts.sort_by(f64::total_cmp);
    cuts.dedup();
    let mut fractions = vec![0.0];
    fractions.extend(cuts.windows(2).map(|w| (w[0] + w[1]) / 2.0));
    fractions.push(1.0);
    let distance = |w: &Vec<usize>| (model.size(measure, w) as f64 - remaining).abs();
    fractions
        .into_iter()
        .map(|f| cut(channels, f))
        .min_by(|a, b| distance(a).total_cmp(&distance(b)))
        .expect("at least two candidate fractions")
}

/// Widths, keep-flags and size of a global step in progress.
#[derive(Clone)]
struct Selection<'m> {
    model: &'m SizeModel,
    measure: SizeMeasure,
    widths: Vec<usize>,
    keep: Vec<Vec<bool>>,
    size: f64,
}

impl Selection<'_> {
    /// Size with one channel of group `g` more (`+1`) or less (`-1`).
    fn size_with(&self, g: usize, delta: isize) -> f64 {
        let mut w = self.widths.clone();
        w[g] = w[g].saturating_add_signed(delta);
        self.model.size(self.measure, &w) as f64
    }

    fn set(&mut self, (g, c): (usize, usize), kept: bool, size: f64) {
        self.keep[g][c] = kept;
        if kept {
            self.widths[g] += 1;
        } else {
            self.widths[g] -= 1;
        }
        self.size = size;
    }

    /// Removes channels of `order` while that keeps the size at or above `remaining`; the
    /// first that would cross it is returned (`None`: the target was met or nothing is left).
    fn remove_down_to(&mut self, order: &[(usize, usize)], remaining: f64) -> Option<usize> {
        for (i, &(g, c)) in order.iter().enumerate() {
            if self.size <= remaining {
                return None;
            }
            if !self.keep[g][c] || self.widths[g] <= 1 {
                continue;
            }
            let after = self.size_with(g, -1);
            if after < remaining {
                return Some(i);
            }
            self.set((g, c), false, after);
        }
        None
    }

    /// Removes every channel of `order` that keeps the size at or above `remaining`, passing
    /// over those that would cross it.
    fn fill_down_to(&mut self, mut order: &[(usize, usize)], remaining: f64) {
        while let Some(i) = self.remove_down_to(order, remaining) {
            order = &order[i + 1..];
        }
    }

    /// Puts back channels of `removed` (in the order given) while the size stays at or below
    /// `remaining`.
    fn restore_up_to(&mut self, removed: &[(usize, usize)], remaining: f64) {
        for &(g, c) in removed {
            let after = self.size_with(g, 1);
            if after <= remaining {
                self.set((g, c), true, after);
            }
        }
    }
}

/// Keep-flags of a global step from widths `now` (scores per group in the model's order, one
/// per current channel). Channels of all groups are removed lowest score first (ties: lower
/// group, then lower channel index), each group keeping one, until the next would take the
/// size below `remaining`. That crossing channel `c` is then either kept, and the lower-ranked
/// channels after it that still fit are removed, or removed, and the channels this step took
/// are put back (highest score first) while the size stays at or below `remaining` —
/// whichever lands closer (ties: kept). The size so ends about one light channel from the
/// target instead of up to half of a heavy channel, without emptying light layers to fill
/// the gap a heavy channel leaves.
pub(super) fn global_keep(
    model: &SizeModel,
    measure: SizeMeasure,
    now: &[usize],
    scores: &[Vec<f32>],
    remaining: f64,
) -> Vec<Vec<bool>> {
    let mut order: Vec<(usize, usize)> = scores
        .iter()
        .enumerate()
        .flat_map(|(g, s)| (0..s.len()).map(move |c| (g, c)))
        .collect();
    order.sort_by(|&(g1, c1), &(g2, c2)| {
        scores[g1][c1]
            .total_cmp(&scores[g2][c2])
            .then((g1, c1).cmp(&(g2, c2)))
    });
    let mut kept = Selection {
        model,
        measure,
        widths: now.to_vec(),
        keep: now.iter().map(|&n| vec![true; n]).collect(),
        size: model.size(measure, now) as f64,
    };
    let Some(i) = kept.remove_down_to(&order, remaining) else {
        return kept.keep;
    };
    let crossing = order[i];
    let mut removed = kept.clone();
    let taken: Vec<(usize, usize)> = order[..i]
        .iter()
        .rev()
        .filter(|&&(g, c)| !kept.keep[g][c])
        .copied()
        .collect();
    removed.set(crossing, false, removed.size_with(crossing.0, -1));
    removed.restore_up_to(&taken, remaining);
    kept.fill_down_to(&order[i + 1..], remaining);
    if (removed.size - remaining).abs() < (kept.size - remaining).abs() {
        removed.keep
    } else {
        kept.keep
    }
}
